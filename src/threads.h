// threads.h: a persistent pool of worker threads. The caller is thread 0;
// pool_run hands fn to every thread and returns when all have finished, so
// each call is one parallel step with a barrier at its end. Workers spin
// briefly between steps (a decode step is a few dozen microseconds) and then
// sleep, so an idle pool costs nothing.
#ifndef GPT_THREADS_H
#define GPT_THREADS_H

typedef struct thread_pool thread_pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

thread_pool *pool_new(int n_threads);
void pool_free(thread_pool *p);
int pool_size(const thread_pool *p);
void pool_run(thread_pool *p, pool_fn fn, void *arg);

// The share [*lo, *hi) of n items that thread ith of nth takes, in multiples
// of step (the last share takes the rest).
void pool_split(int n, int ith, int nth, int step, int *lo, int *hi);

#endif
