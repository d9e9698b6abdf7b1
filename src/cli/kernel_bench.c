// kernel_bench.c: `gpt bench --kernels` (see kernel_bench.h).
//
// Three figures for each kernel, row length and thread count:
//   - from memory: one decode product (one token) over 256 MiB of rows,
//     far beyond any cache, split in equal shares of rows between the
//     threads, as the decode steps are;
//   - plain read: membw_read over the same 256 MiB with the same threads,
//     the fastest these threads read those bytes at all;
//   - from cache: the same kernel over 192 KiB of rows per thread, read
//     again and again: the rows stay in the core's L2, so this is the
//     kernel's arithmetic alone.
// A kernel whose from-cache speed is below the plain read cannot reach the
// memory's speed whatever the memory does.
#include "kernel_bench.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli.h"
#include "gpt.h"
#include "kernels/kernels.h"
#include "membw.h"
#include "threads.h"
#include "util.h"

#define BIG_BYTES ((size_t)256 << 20)
#define CACHE_BYTES ((size_t)192 << 10)  // per thread: inside a 256 KiB or larger L2
#define MAX_REPS 1000

typedef struct {
    const kernel_table *k;
    uint32_t type;
    int K, rows, passes;
    size_t row_bytes;
    const uint8_t *w;           // (rows, row_bytes)
    float *out;                 // (rows)
    const float *x;             // (K) the token's activations
    const block_q8_0 *xq;       // (K / 32) the same, quantized for Q8_0 and Q4_0 rows
} kernel_job;

// This thread's equal share of the rows, passes times over.
static void kernel_worker(void *arg, int ith, int nth) {
    const kernel_job *j = arg;
    int n0, n1;
    pool_split(j->rows, ith, nth, 16, &n0, &n1);
    for (int p = 0; p < j->passes; p++)
        KERNEL(j->k, matmul[j->type])(j->out, j->rows, j->x, j->K, j->xq, j->w, j->row_bytes, 1, j->K, n0, n1);
}

// bytes of a row of K weights of the type, ggml's block sizes (gguf.h)
static size_t row_bytes_of(uint32_t type, int K) {
    return (size_t)K / ggml_type_block_elems(type) * ggml_type_block_bytes(type);
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static float random_weight(void) {  // uniform in [-1, 1)
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}

// Fills bytes of w with rows of random weights of the type: 64 distinct
// rows, quantized as gpt convert would, repeated (the values do not change
// the speed; finite scales keep the arithmetic ordinary).
static int fill_rows(uint8_t *w, size_t bytes, uint32_t type, int K) {
    size_t rs = row_bytes_of(type, K);
    float *x = malloc((size_t)K * sizeof(float));
    uint8_t *tile = malloc(64 * rs);
    if (!x || !tile) {
        free(x), free(tile);
        return 1;
    }
    for (int r = 0; r < 64; r++) {
        for (int i = 0; i < K; i++) x[i] = random_weight();
        quantize_row(type, x, tile + (size_t)r * rs, K);
    }
    for (size_t o = 0; o + rs <= bytes; o += rs) memcpy(w + o, tile + (o / rs % 64) * rs, rs);
    free(x), free(tile);
    return 0;
}

// GB/s of one timed pool step of the job: bytes = rows x row_bytes x passes
static double time_job(thread_pool *pool, kernel_job *j) {
    double t0 = now_ms();
    pool_run(pool, kernel_worker, j);
    double ms = now_ms() - t0;
    return ms > 0 ? (double)j->rows * j->row_bytes * j->passes / (ms * 1e6) : 0;
}

typedef struct {
    double memory, read, cache;  // GB/s, medians
} kernel_figures;

static kernel_figures measure(const kernel_table *k, thread_pool *pool, int nth, uint8_t *big, uint32_t type, int K,
                              const float *x, const block_q8_0 *xq, float *out, int reps) {
    kernel_figures f = {0, 0, 0};
    double g[MAX_REPS];
    size_t rs = row_bytes_of(type, K);
    kernel_job j = {k, type, K, (int)(BIG_BYTES / rs), 1, rs, big, out, x, xq};
    time_job(pool, &j);  // warm-up: TLB, page tables
    for (int r = 0; r < reps; r++) g[r] = time_job(pool, &j);
    f.memory = median(g, reps);
    membw_range all = {big, (size_t)j.rows * rs};
    for (int r = 0; r < reps; r++) g[r] = membw_read(&all, 1, nth);
    f.read = median(g, reps);
    // each thread's share of the small set is its own CACHE_BYTES of rows
    j.rows = (int)(CACHE_BYTES / rs) / 16 * 16 * nth;
    j.passes = (int)(BIG_BYTES / ((size_t)j.rows * rs));
    time_job(pool, &j);
    for (int r = 0; r < reps; r++) g[r] = time_job(pool, &j);
    f.cache = median(g, reps);
    return f;
}

int bench_kernels(const long *threads, int n_threads, int reps) {
    static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
    static const char *type_names[] = {"F32", "F16", "Q8_0", "Q4_0"};
    static const int row_lengths[] = {768, 3072};
    if (reps > MAX_REPS) reps = MAX_REPS;
    const kernel_table *k = kernels_select();
    int maxK = row_lengths[1];
    uint8_t *big = mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED) return cli_error("bench: cannot map %zu MiB for the kernel measurement", BIG_BYTES >> 20);
#ifdef MADV_HUGEPAGE
    madvise(big, BIG_BYTES, MADV_HUGEPAGE);  // as the model's weights are mapped
#endif
    size_t max_rows = BIG_BYTES / row_bytes_of(GGML_TYPE_Q4_0, row_lengths[0]);  // the shortest rows
    float *x = malloc((size_t)maxK * sizeof(float)), *out = malloc(max_rows * sizeof(float));
    block_q8_0 *xq = malloc((size_t)maxK / QK * sizeof(block_q8_0));
    if (!x || !out || !xq) {
        munmap(big, BIG_BYTES), free(x), free(out), free(xq);
        return cli_error("out of memory");
    }
    for (int i = 0; i < maxK; i++) x[i] = 4 * random_weight();
    printf("gpt %s, kernels %s (decode row-wise: %s): decode products, GB/s of weight rows, medians of %d\n"
           "passes; from memory: %zu MiB of rows; plain read: the same bytes, the same threads; from\n"
           "cache: %zu KiB of rows per thread, again and again\n\n",
           GPT_VERSION, k->name, kernels_decode_rowwise() ? "yes" : "no", reps, BIG_BYTES >> 20, CACHE_BYTES >> 10);
    printf("| type | K | threads | kernel from memory | plain read | kernel / read | kernel from cache |\n"
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    int rc = 0;
    for (int ti = 0; ti < 4 && rc == 0; ti++)
        for (int ki = 0; ki < 2 && rc == 0; ki++) {
            int K = row_lengths[ki];
            fprintf(stderr, "gpt bench: %s rows of %d ...\n", type_names[ti], K);
            if (fill_rows(big, BIG_BYTES, types[ti], K)) {
                rc = cli_error("out of memory");
                break;
            }
            k->quantize_row_q8_0(x, xq, K);
            if (ti == 0 && ki == 0) fprintf(stderr, "gpt bench: rows in 2 MiB pages: %.0f%%\n", 100 * membw_huge_share(big));
            for (int t = 0; t < n_threads; t++) {
                thread_pool *pool = pool_new((int)threads[t]);
                if (!pool) {
                    rc = cli_error("bench: cannot start %ld threads", threads[t]);
                    break;
                }
                kernel_figures f = measure(k, pool, pool_size(pool), big, types[ti], K, x, xq, out, reps);
                pool_free(pool);
                printf("| %s | %d | %d | %.1f | %.1f | %.0f%% | %.1f |\n", type_names[ti], K, (int)threads[t], f.memory,
                       f.read, f.read > 0 ? 100 * f.memory / f.read : 0.0, f.cache);
                fflush(stdout);
            }
        }
    munmap(big, BIG_BYTES);
    free(x), free(out), free(xq);
    return rc;
}
