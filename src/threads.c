// threads.c: the persistent worker pool (see threads.h).
//
// Each step has a number (generation) and a state word: the step number in
// its high 32 bits, the count of workers that joined it in the low 31, and
// a CLOSED bit. The caller publishes fn and arg, resets the state to the
// new step with no one joined, then bumps generation. A worker that sees
// the new generation joins by incrementing the count (compare-and-swap, so
// it never joins a step that is closed or already over), runs fn, and
// counts itself in `finished`. pool_run waits until every worker finished;
// pool_run_shared closes the step when the caller's own share is done and
// waits only for the workers that joined before that.
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

// Waiting is in three stages, for a new step (workers) and for the end of
// one (the caller): spin (a decode step's gap is microseconds; 2048 pauses
// are about 60 us on Zen 3), then yield the core a few times (when other
// processes share the machine, the thread we wait for may be queued behind
// us on this very core), then sleep until woken. A waiter that never sleeps
// keeps spinning on the core its descheduled partner needs.
#define SPIN_ROUNDS 2048
#define YIELD_ROUNDS 64

#define CLOSED ((uint64_t)1 << 31)
#define JOINED_MASK (CLOSED - 1)

static void backoff(int round) {
    if (round < SPIN_ROUNDS) cpu_relax();
    else sched_yield();
}

struct thread_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;          // workers sleep here until the next step
    pthread_cond_t done_cv;     // the caller sleeps here until the step is done
    atomic_uint generation;     // the current step's number
    _Atomic uint64_t state;     // step number << 32 | CLOSED | workers joined
    atomic_int finished;        // workers done with the current step
    atomic_int sleepers;        // workers blocked on cv: only then does a step need the mutex
    atomic_int caller_sleeps;   // the caller is blocked on done_cv
    atomic_int stop;
    pool_fn fn;
    void *arg;
};

typedef struct {
    thread_pool *p;
    int ith;
} worker_arg;

// Wait until generation differs from seen; returns the new one.
static unsigned wait_for_step(thread_pool *p, unsigned seen) {
    unsigned g;
    for (int spins = 0; (g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen; spins++) {
        if (spins < SPIN_ROUNDS + YIELD_ROUNDS) {
            backoff(spins);
            continue;
        }
        // announce the sleep before the last look at generation; wake()
        // bumps generation before it looks at sleepers (both sequentially
        // consistent), so one of the two always sees the other
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->sleepers, 1);
        while (atomic_load(&p->generation) == seen) pthread_cond_wait(&p->cv, &p->mu);
        atomic_fetch_sub(&p->sleepers, 1);
        pthread_mutex_unlock(&p->mu);
    }
    return g;
}

// Join step g unless it is closed or over.
static int join_step(thread_pool *p, unsigned g) {
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    while ((uint32_t)(s >> 32) == g && !(s & CLOSED))
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
            return 1;
    return 0;
}

static void *worker(void *a) {
    worker_arg wa = *(worker_arg *)a;
    free(a);
    thread_pool *p = wa.p;
    unsigned seen = 0;
    for (;;) {
        unsigned g = wait_for_step(p, seen);
        seen = g;
        if (atomic_load(&p->stop)) return NULL;
        if (!join_step(p, g)) continue;  // the caller did the whole step without us
        p->fn(p->arg, wa.ith, p->n);
        // finishing before looking at caller_sleeps, which the caller sets
        // before its last look at finished: one of the two sees the other
        atomic_fetch_add(&p->finished, 1);
        if (atomic_load(&p->caller_sleeps)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

thread_pool *pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    thread_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->p = p, wa->ith = i, pthread_create(&p->threads[i], NULL, worker, wa) != 0)) {
            free(wa);
            p->n = i;  // run with the threads that did start
            break;
        }
    }
    return p;
}

// Start step g. Spinning workers see the new generation by themselves; the
// mutex and the broadcast are only for those asleep.
static void wake(thread_pool *p, unsigned g) {
    atomic_store(&p->generation, g);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

void pool_free(thread_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    wake(p, atomic_load(&p->generation) + 1);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->threads);
    free(p);
}

int pool_size(const thread_pool *p) { return p->n; }

// Wait until `want` workers have finished the step.
static void wait_finished(thread_pool *p, int want) {
    for (int round = 0; atomic_load_explicit(&p->finished, memory_order_acquire) < want; round++) {
        if (round < SPIN_ROUNDS + YIELD_ROUNDS) {
            backoff(round);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeps, 1);
        while (atomic_load(&p->finished) < want) pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->caller_sleeps, 0);
        pthread_mutex_unlock(&p->mu);
        return;
    }
}

static void run(thread_pool *p, pool_fn fn, void *arg, int shared) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    unsigned g = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    // fn and arg are published with the state (release), the state with
    // the generation
    atomic_store_explicit(&p->state, (uint64_t)g << 32, memory_order_release);
    wake(p, g);
    fn(arg, 0, p->n);
    if (shared) {
        // close the step: workers that have not joined yet skip it
        uint64_t s = atomic_fetch_or(&p->state, CLOSED);
        wait_finished(p, (int)(s & JOINED_MASK));
    } else {
        wait_finished(p, p->n - 1);
    }
}

void pool_run(thread_pool *p, pool_fn fn, void *arg) { run(p, fn, arg, 0); }

void pool_run_shared(thread_pool *p, pool_fn fn, void *arg) { run(p, fn, arg, 1); }

void pool_split(int n, int ith, int nth, int step, int *lo, int *hi) {
    int chunks = (n + step - 1) / step;
    int per = chunks / nth, extra = chunks % nth;
    int c0 = ith * per + (ith < extra ? ith : extra);
    int c1 = c0 + per + (ith < extra ? 1 : 0);
    *lo = c0 * step < n ? c0 * step : n;
    *hi = c1 * step < n ? c1 * step : n;
}

// ---- ranges of items with an owner ------------------------------------------

static inline uint64_t span_of(uint32_t lo, uint32_t hi) { return lo | (uint64_t)hi << 32; }

static void range_set(pool_range *r, int lo, int hi) {
    atomic_store_explicit(&r->span, span_of((uint32_t)lo, (uint32_t)hi), memory_order_relaxed);
}

// Whole grains, at least one, at most what is left: (left + d - 1) / d of them.
static inline uint32_t share(uint32_t left, uint32_t grain, uint32_t d) {
    uint32_t take = ((left + d - 1) / d + grain - 1) / grain * grain;
    return take < left ? take : left;
}

// The owner takes a third of what is left, so that while it works on one
// item two thirds stay to be shared, and it still calls its work function
// only a few times (every call costs a restart of the kernel).
static bool range_front(pool_range *r, int grain, int *lo, int *hi) {
    uint64_t s = atomic_load_explicit(&r->span, memory_order_relaxed);
    for (;;) {
        uint32_t a = (uint32_t)s, b = (uint32_t)(s >> 32);
        if (a >= b) return false;
        uint32_t end = a + share(b - a, (uint32_t)grain, 3);
        if (atomic_compare_exchange_weak_explicit(&r->span, &s, span_of(end, b), memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *lo = (int)a, *hi = (int)end;
            return true;
        }
    }
}

// A helper takes the back half, so that it and a working owner then finish
// at about the same time, and a thread that never joined is emptied in a
// few large items. Its first item starts at a multiple of grain, as every
// item does (the end of the last range need not be one): where the items
// are cut must not depend on which thread takes them.
static bool range_back(pool_range *r, int grain, int *lo, int *hi) {
    uint64_t s = atomic_load_explicit(&r->span, memory_order_relaxed);
    for (;;) {
        uint32_t a = (uint32_t)s, b = (uint32_t)(s >> 32);
        if (a >= b) return false;
        uint32_t start = (b - share(b - a, (uint32_t)grain, 2)) / (uint32_t)grain * (uint32_t)grain;
        if (start < a) start = a;
        if (atomic_compare_exchange_weak_explicit(&r->span, &s, span_of(a, start), memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *lo = (int)start, *hi = (int)b;
            return true;
        }
    }
}

void pool_ranges_split(pool_range *ranges, int nth, int n, int grain) {
    for (int i = 0; i < nth; i++) {
        int lo, hi;
        pool_split(n, i, nth, grain, &lo, &hi);
        range_set(&ranges[i], lo, hi);
    }
}

void pool_ranges_work(pool_range *ranges, int ith, int nth, int grain, pool_items_fn fn, void *arg) {
    int lo, hi;
    while (range_front(&ranges[ith], grain, &lo, &hi)) fn(arg, ith, lo, hi);
    for (int i = 1; i < nth; i++)
        while (range_back(&ranges[(ith + i) % nth], grain, &lo, &hi)) fn(arg, ith, lo, hi);
}
