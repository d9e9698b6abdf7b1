// threads.c: the persistent worker pool (see threads.h).
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

// Waiting is in three stages: spin (a decode step's gap is microseconds),
// then yield the core (when other processes share the machine, a spinning
// thread must not hold the core its partner needs), then sleep.
#define SPIN_ROUNDS 4096
#define YIELD_ROUNDS 2000

static void backoff(int round) {
    if (round < SPIN_ROUNDS) cpu_relax();
    else sched_yield();
}

struct thread_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int generation;  // bumped for each step
    atomic_int pending;     // workers still running the current step
    atomic_int sleepers;    // workers blocked on cv: only then does a step need the mutex
    atomic_int stop;
    pool_fn fn;
    void *arg;
};

typedef struct {
    thread_pool *p;
    int ith;
} worker_arg;

static void *worker(void *a) {
    worker_arg wa = *(worker_arg *)a;
    free(a);
    thread_pool *p = wa.p;
    int seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            if (++spins < SPIN_ROUNDS + YIELD_ROUNDS) {
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
        seen = atomic_load(&p->generation);
        if (atomic_load(&p->stop)) return NULL;
        p->fn(p->arg, wa.ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

thread_pool *pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    thread_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
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

// Start a step. Spinning workers see the new generation by themselves; the
// mutex and the broadcast are only for those asleep.
static void wake(thread_pool *p) {
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

void pool_free(thread_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    wake(p);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int pool_size(const thread_pool *p) { return p->n; }

void pool_run(thread_pool *p, pool_fn fn, void *arg) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    wake(p);
    fn(arg, 0, p->n);
    for (int round = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; round++) backoff(round);
}

void pool_split(int n, int ith, int nth, int step, int *lo, int *hi) {
    int chunks = (n + step - 1) / step;
    int per = chunks / nth, extra = chunks % nth;
    int c0 = ith * per + (ith < extra ? ith : extra);
    int c1 = c0 + per + (ith < extra ? 1 : 0);
    *lo = c0 * step < n ? c0 * step : n;
    *hi = c1 * step < n ? c1 * step : n;
}
