// threads.h: a persistent pool of worker threads. The caller is thread 0;
// pool_run hands fn to every thread and returns when all have finished, so
// each call is one parallel step with a barrier at its end. Waiting threads
// spin briefly (a decode step is a few dozen microseconds), yield, then
// sleep, so an idle pool costs nothing.
#ifndef GPT_THREADS_H
#define GPT_THREADS_H

#include <stdbool.h>
#include <stdint.h>

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

// Ranges of items that one thread owns and others may help with: a step
// splits the items into one range per thread (pool_ranges_split), then each
// thread runs pool_ranges_work: its own range from the front, a third of
// what is left at a time (one memory stream, in order), and, when that is
// empty, the back half of what the others have left. Every item is taken
// exactly once, by whichever threads run, so it suits pool_run_shared; every
// item starts at a multiple of grain and ends at one or at n. A range is
// [lo, hi) in one atomic word, on a cache line of its own.
typedef struct {
    _Alignas(64) _Atomic uint64_t span;
} pool_range;

// ranges[0..nth) = pool_split of n items in multiples of grain.
void pool_ranges_split(pool_range *ranges, int nth, int n, int grain);
// Thread ith's part of a step over ranges[0..nth): fn(arg, ith, lo, hi) on
// the items of its own range, front to back, then on what it takes from the
// back of the others'.
typedef void (*pool_items_fn)(void *arg, int ith, int lo, int hi);
void pool_ranges_work(pool_range *ranges, int ith, int nth, int grain, pool_items_fn fn, void *arg);

#endif
