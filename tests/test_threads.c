// test_threads.c: the worker pool. Every step runs fn exactly once on every
// thread with the right (ith, nth), including steps that start after the
// workers have gone to sleep (the wake-up path) and steps back to back (the
// spinning path); a shared step (pool_run_shared) gets all its items done
// exactly once by whichever threads join, and is over when it returns;
// pool_split partitions [0, n) in order, in multiples of step; owned ranges
// (pool_ranges_*) give every item to exactly one thread, the owner's in
// order, whichever threads join a shared step, cut at multiples of the grain.
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

// pool_run_shared: items taken from a counter by whoever joins. After each
// step every item was done exactly once, nobody is still inside fn, and no
// ith ran twice in one step.
#define ITEMS 97

typedef struct {
    atomic_int next, active, bad;
    atomic_int done[ITEMS];
    atomic_int ith_seen;  // bit per ith
    int nth;
} shared_state;

static void shared_fn(void *arg, int ith, int nth) {
    shared_state *s = arg;
    atomic_fetch_add(&s->active, 1);
    if (nth != s->nth || (atomic_fetch_or(&s->ith_seen, 1 << ith) & (1 << ith))) atomic_fetch_add(&s->bad, 1);
    for (int i; (i = atomic_fetch_add(&s->next, 1)) < ITEMS;) atomic_fetch_add(&s->done[i], 1);
    atomic_fetch_sub(&s->active, 1);
}

static void check_shared(int n) {
    thread_pool *p = pool_new(n);
    if (!p) {
        CHECK(0, "pool_new(%d) failed", n);
        return;
    }
    shared_state *s = calloc(1, sizeof *s);
    int steps = 1500, bad_steps = 0;
    for (int step = 0; step < steps; step++) {
        atomic_store(&s->next, 0);
        atomic_store(&s->ith_seen, 0);
        for (int i = 0; i < ITEMS; i++) atomic_store(&s->done[i], 0);
        s->nth = n;
        pool_run_shared(p, shared_fn, s);
        int ok = atomic_load(&s->active) == 0 && atomic_load(&s->bad) == 0;
        for (int i = 0; i < ITEMS; i++) ok &= atomic_load(&s->done[i]) == 1;
        if (!ok && bad_steps++ < 3) CHECK(0, "%d threads, shared step %d: an item done twice or not at all, or fn still running", n, step);
        if (step % 300 == 299) sleep_ms(60);  // workers asleep: the caller may do the next steps alone
    }
    CHECK(bad_steps == 0, "%d threads: %d shared steps went wrong", n, bad_steps);
    // static and shared steps mixed, as forward.c does
    step_state st = {.nth = n};
    long want = 0;
    for (int i = 0; i < 500; i++) {
        st.step = 1;
        want += n;
        pool_run(p, step_fn, &st);
        atomic_store(&s->next, 0);
        pool_run_shared(p, shared_fn, s);
    }
    CHECK(atomic_load(&st.sum) == want, "%d threads: mixed steps: static sum %ld, want %ld", n, atomic_load(&st.sum), want);
    free(s);
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

// Owned ranges: each thread empties its own range from the front (its items
// must come in order, each starting where the last ended), then helps with
// the others' from the back. Checked in shared steps (some threads may not
// join) and with the caller alone (the others never run).
#define RITEMS 1000

typedef struct {
    pool_range r[MAX_T];
    atomic_int done[RITEMS];
    atomic_int bad;
    int grain, n;
    int own_start[MAX_T], own_end[MAX_T], own_next[MAX_T];  // each thread's own range, and its next item
} range_state;

static void take(range_state *s, int lo, int hi) {
    // items cut at multiples of the grain (or the end) wherever they are taken
    if (lo < 0 || hi > s->n || lo >= hi || lo % s->grain || (hi % s->grain && hi != s->n)) atomic_fetch_add(&s->bad, 1);
    for (int i = lo; i < hi && i >= 0 && i < RITEMS; i++) atomic_fetch_add(&s->done[i], 1);
}

// Each thread's items: first its own range's, consecutive from its start
// (own[ith] is where the next must begin, until one comes from elsewhere).
static void range_items(void *arg, int ith, int lo, int hi) {
    range_state *s = arg;
    if (s->own_next[ith] >= 0) {
        if (lo == s->own_next[ith] && hi <= s->own_end[ith]) s->own_next[ith] = hi == s->own_end[ith] ? -1 : hi;
        else if (lo >= s->own_start[ith] && lo < s->own_end[ith]) atomic_fetch_add(&s->bad, 1);  // own, out of order
        else s->own_next[ith] = -1;  // helping: the owner's front is done or taken
    }
    take(s, lo, hi);
}

static void range_fn(void *arg, int ith, int nth) {
    pool_ranges_work(((range_state *)arg)->r, ith, nth, ((range_state *)arg)->grain, range_items, arg);
}

static int run_ranges(thread_pool *p, range_state *s, int nth, int n, int grain, int caller_only) {
    s->n = n, s->grain = grain;
    atomic_store(&s->bad, 0);
    for (int i = 0; i < n; i++) atomic_store(&s->done[i], 0);
    pool_ranges_split(s->r, nth, n, grain);
    for (int i = 0; i < nth; i++) {
        pool_split(n, i, nth, grain, &s->own_start[i], &s->own_end[i]);
        s->own_next[i] = s->own_start[i] < s->own_end[i] ? s->own_start[i] : -1;
    }
    if (caller_only) range_fn(s, 0, nth);
    else pool_run_shared(p, range_fn, s);
    int ok = atomic_load(&s->bad) == 0;
    for (int i = 0; i < n; i++) ok &= atomic_load(&s->done[i]) == 1;
    return ok;
}

static void check_ranges(int nth) {
    thread_pool *p = pool_new(nth);
    range_state *s = calloc(1, sizeof *s);
    if (!p || !s) {
        CHECK(0, "pool_new(%d) failed", nth);
        free(s), pool_free(p);
        return;
    }
    int bad = 0;
    for (int step = 0; step < 3000; step++) {
        int n = step * 7919 % RITEMS + 1, grain = 1 + step % 37, alone = step % 5 == 4;
        if (!run_ranges(p, s, nth, n, grain, alone) && bad++ < 3)
            CHECK(0, "%d threads, ranges of %d items, grain %d%s: an item taken twice or never, out of order or "
                  "not cut at a multiple of the grain", nth, n, grain, alone ? ", caller alone" : "");
        if (step % 1000 == 999) sleep_ms(60);
    }
    CHECK(bad == 0, "%d threads: %d range steps went wrong", nth, bad);
    free(s);
    pool_free(p);
}

int main(void) {
    for (int n = 1; n <= 5; n++) check_pool(n);
    for (int n = 1; n <= 5; n++) check_shared(n);
    check_split();
    for (int n = 1; n <= 5; n++) check_ranges(n);
    printf("%s\n", failures ? "thread pool checks FAILED" : "all thread pool checks passed");
    return failures ? 1 : 0;
}
