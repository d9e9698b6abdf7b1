// membw.c: the memory read bandwidth (see membw.h).
#include "membw.h"

#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

// ---- the readers ----------------------------------------------------------------

// 32-byte vectors of integers, OR-ed together so that the loop is bound by
// its loads. Compiled for any CPU and, on x86-64, again for AVX2, whose
// 32-byte loads read measurably faster (about 34 against 25 GB/s on a 2-core
// Zen 3: more bytes in flight for the same number of instructions).
typedef uint64_t v4u64 __attribute__((vector_size(32)));

#define PREFETCH_AHEAD 8192  // bytes, as the decode kernels do

typedef struct {
    const membw_range *ranges;
    int n_ranges;
    size_t begin, end;  // this thread's share: bytes of the ranges' concatenation
    size_t bytes_read;
    uint64_t sink;
} reader_part;

// Reads the part's share in 128-byte steps from 64-byte aligned addresses;
// the few bytes at the ends of each piece that do not fill a step are left
// out (and not counted).
#define READER_BODY(PREFETCH)                                                                        \
    reader_part *rp = arg;                                                                           \
    v4u64 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                                    \
    size_t off = 0;                                                                                  \
    for (int r = 0; r < rp->n_ranges; off += rp->ranges[r].bytes, r++) {                             \
        size_t lo = rp->begin > off ? rp->begin - off : 0, len = rp->ranges[r].bytes;                \
        size_t hi = rp->end - off < len ? rp->end - off : len;                                       \
        if (rp->end <= off || lo >= hi) continue;                                                    \
        uintptr_t p = ((uintptr_t)rp->ranges[r].p + lo + 63) & ~(uintptr_t)63;                      \
        uintptr_t e = (uintptr_t)rp->ranges[r].p + hi;                                               \
        for (; p + 128 <= e; p += 128) {                                                             \
            if (PREFETCH) {                                                                          \
                __builtin_prefetch((const void *)(p + PREFETCH_AHEAD), 0, 2);                        \
                __builtin_prefetch((const void *)(p + PREFETCH_AHEAD + 64), 0, 2);                   \
            }                                                                                        \
            const v4u64 *v = (const v4u64 *)p;                                                       \
            a0 |= v[0], a1 |= v[1], a2 |= v[2], a3 |= v[3];                                          \
            rp->bytes_read += 128;                                                                   \
        }                                                                                            \
    }                                                                                                \
    v4u64 s = a0 | a1 | a2 | a3;                                                                     \
    rp->sink = s[0] | s[1] | s[2] | s[3];                                                            \
    return NULL;

static void *reader_generic(void *arg) { READER_BODY(0) }
static void *reader_generic_pf(void *arg) { READER_BODY(1) }
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void *reader_avx2(void *arg) { READER_BODY(0) }
__attribute__((target("avx2"))) static void *reader_avx2_pf(void *arg) { READER_BODY(1) }
#endif

typedef void *(*reader_fn)(void *);

static void pick_readers(reader_fn r[2]) {
    r[0] = reader_generic, r[1] = reader_generic_pf;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) r[0] = reader_avx2, r[1] = reader_avx2_pf;
#endif
}

// fn over n parts at once, part 0 in this thread; GB/s, 0 if a thread failed
static double run_parts(reader_fn fn, reader_part *parts, int n) {
    pthread_t th[64];
    int started = 1;
    double t0 = now_ms();
    for (int i = 1; i < n && pthread_create(&th[i], NULL, fn, &parts[i]) == 0; i++) started++;
    fn(&parts[0]);
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
    double ms = now_ms() - t0;
    if (started < n || ms <= 0) return 0;
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += parts[i].bytes_read;
    return (double)bytes / (ms * 1e6);
}

double membw_read(const membw_range *ranges, int n_ranges, int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    size_t total = 0;
    for (int i = 0; i < n_ranges; i++) total += ranges[i].bytes;
    reader_fn readers[2];
    pick_readers(readers);
    double best = 0;
    for (int k = 0; k < 2; k++) {
        reader_part parts[64];
        for (int i = 0; i < n_threads; i++)
            parts[i] = (reader_part){ranges, n_ranges, total / n_threads * i,
                                     i + 1 == n_threads ? total : total / n_threads * (i + 1), 0, 0};
        double gbs = run_parts(readers[k], parts, n_threads);
        if (gbs > best) best = gbs;
    }
    return best;
}

// ---- the probe process -----------------------------------------------------------

struct membw_probe {
    pid_t pid;
    int to, from;  // pipes: pass counts to the child, results back
};

// The child: touch the buffer once, then answer requests until the parent
// closes its end of the pipe (or exits).
static void probe_child(int in, int out, int n_threads) {
    uint8_t *buf = mmap(NULL, MEMBW_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = buf != MAP_FAILED;
#ifdef MADV_HUGEPAGE
    if (ok) madvise(buf, MEMBW_BYTES, MADV_HUGEPAGE);
#endif
    if (ok)
        for (size_t i = 0; i < MEMBW_BYTES; i += 64) buf[i] = (uint8_t)i;
    if (write(out, &ok, sizeof ok) != (ssize_t)sizeof ok || !ok) _exit(1);
    membw_range all = {buf, MEMBW_BYTES};
    for (int n; read(in, &n, sizeof n) == (ssize_t)sizeof n;) {
        for (int i = 0; i < n; i++) {
            double gbs = membw_read(&all, 1, n_threads);
            if (write(out, &gbs, sizeof gbs) != (ssize_t)sizeof gbs) _exit(1);
        }
    }
    _exit(0);
}

membw_probe *membw_probe_start(int n_threads) {
    int to[2], from[2];
    if (pipe(to)) return NULL;
    if (pipe(from)) {
        close(to[0]), close(to[1]);
        return NULL;
    }
    membw_probe *p = calloc(1, sizeof *p);
    pid_t pid = p ? (fflush(NULL), fork()) : -1;
    if (pid == 0) {
        close(to[1]), close(from[0]);
        probe_child(to[0], from[1], n_threads);
    }
    close(to[0]), close(from[1]);
    int ok = 0;
    if (pid < 0 || read(from[0], &ok, sizeof ok) != (ssize_t)sizeof ok || !ok) {
        close(to[1]), close(from[0]);
        if (pid > 0) waitpid(pid, NULL, 0);
        free(p);
        return NULL;
    }
    *p = (membw_probe){pid, to[1], from[0]};
    return p;
}

int membw_probe_passes(membw_probe *p, int n, double *gbs) {
    if (!p || n <= 0) return 0;
    // a child that died must not take this process with it: SIGPIPE is
    // ignored for the write, which then fails with EPIPE
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    ssize_t wr = write(p->to, &n, sizeof n);
    sigaction(SIGPIPE, &old, NULL);
    if (wr != (ssize_t)sizeof n) return 0;
    int got = 0;
    while (got < n && read(p->from, &gbs[got], sizeof gbs[got]) == (ssize_t)sizeof gbs[got]) got++;
    return got;
}

void membw_probe_stop(membw_probe *p) {
    if (!p) return;
    close(p->to);  // the child's read returns 0: it exits
    close(p->from);
    waitpid(p->pid, NULL, 0);
    free(p);
}

// ---- page sizes ---------------------------------------------------------------

double membw_huge_share(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0;
    unsigned long long rss = 0, huge = 0, v;
    bool seen_rss = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        // a mapping's header ("lo-hi perms ...") starts the next block
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            if (in) break;
            in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            continue;
        }
        if (!in) continue;
        if (sscanf(line, "Rss: %llu kB", &v) == 1) rss = v, seen_rss = true;
        else if (sscanf(line, "FilePmdMapped: %llu kB", &v) == 1 || sscanf(line, "AnonHugePages: %llu kB", &v) == 1)
            huge += v;
    }
    fclose(f);
    return seen_rss && rss ? (double)huge / (double)rss : -1;
}
