// threads.h: a persistent pool of worker threads. The caller is thread 0;
// pool_run hands fn to every thread and returns when all have finished, so
// each call is one parallel step with a barrier at its end. Waiting threads
// spin briefly (a decode step is a few dozen microseconds), yield, then
// sleep, so an idle pool costs nothing.
#ifndef GPT_THREADS_H
#define GPT_THREADS_H

typedef struct thread_pool thread_pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

thread_pool *pool_new(int n_threads);
void pool_free(thread_pool *p);
int pool_size(const thread_pool *p);
void pool_run(thread_pool *p, pool_fn fn, void *arg);

// Like pool_run, for a step whose fn takes its work from a shared counter,
// so that any subset of the threads completes it. The caller always runs
// fn; a worker that has not joined the step when the caller's fn returns
// skips it, and only the workers that joined are waited for. On a busy
// machine a descheduled or sleeping worker then costs nothing instead of a
// time slice; on a quiet one every worker joins at once.
void pool_run_shared(thread_pool *p, pool_fn fn, void *arg);

// The share [*lo, *hi) of n items that thread ith of nth takes, in multiples
// of step (the last share takes the rest).
void pool_split(int n, int ith, int nth, int step, int *lo, int *hi);

#endif
