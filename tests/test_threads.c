// test_threads.c: the worker pool. Every step runs fn exactly once on every
// thread with the right (ith, nth), including steps that start after the
// workers have gone to sleep (the wake-up path) and steps back to back (the
// spinning path); pool_split partitions [0, n) in order, in multiples of
// step.
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "threads.h"

#include "check.h"

#define MAX_T 8

typedef struct {
    atomic_int calls[MAX_T];
    atomic_int bad_nth;
    int nth;
    long step;
    atomic_long sum;  // every thread adds step: nth * step per step
} step_state;

static void step_fn(void *arg, int ith, int nth) {
    step_state *s = arg;
    if (nth != s->nth || ith < 0 || ith >= nth) atomic_fetch_add(&s->bad_nth, 1);
    else atomic_fetch_add(&s->calls[ith], 1);
    atomic_fetch_add(&s->sum, s->step);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void check_pool(int n) {
    thread_pool *p = pool_new(n);
    CHECK(p && pool_size(p) == n, "pool_new(%d) gave %d threads", n, p ? pool_size(p) : -1);
    if (!p) return;
    step_state s = {.nth = n};
    long want = 0;
    int steps = 1500;
    for (int i = 0; i < steps; i++) {
        s.step = i + 1;
        want += (long)n * (i + 1);
        pool_run(p, step_fn, &s);
        // after pool_run returns, this step is complete on every thread
        long got = atomic_load(&s.sum);
        if (got != want) {
            CHECK(0, "%d threads, step %d: sum %ld, want %ld (a thread ran late or twice)", n, i, got, want);
            break;
        }
        if (i % 300 == 299) sleep_ms(60);  // long enough for the workers to go to sleep
    }
    for (int i = 0; i < n; i++)
        CHECK(atomic_load(&s.calls[i]) == steps, "%d threads: thread %d ran %d of %d steps", n, i,
              atomic_load(&s.calls[i]), steps);
    CHECK(atomic_load(&s.bad_nth) == 0, "%d threads: fn saw a wrong (ith, nth)", n);
    pool_free(p);
}

static void check_split(void) {
    for (int n = 0; n <= 100; n++)
        for (int nth = 1; nth <= 5; nth++)
            for (int step = 1; step <= 7; step++) {
                int next = 0, ok = 1;
                for (int ith = 0; ith < nth; ith++) {
                    int lo, hi;
                    pool_split(n, ith, nth, step, &lo, &hi);
                    if (lo != next || hi < lo || (lo % step && lo != n) || (hi % step && hi != n)) ok = 0;
                    next = hi;
                }
                if (next != n) ok = 0;
                CHECK(ok, "pool_split(n=%d, nth=%d, step=%d) does not partition [0, n) in steps", n, nth, step);
            }
}

int main(void) {
    for (int n = 1; n <= 5; n++) check_pool(n);
    check_split();
    printf("%s\n", failures ? "thread pool checks FAILED" : "all thread pool checks passed");
    return failures ? 1 : 0;
}
