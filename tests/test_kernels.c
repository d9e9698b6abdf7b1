// test_kernels.c: every kernel of every SIMD table this machine can run
// (AVX2 on x86-64, NEON on aarch64) against the scalar table, which is the
// definition. Sizes are chosen to hit every edge of the tiled code: K not a
// multiple of 8 (or of 32 blocks for quantized types), T = 1, 2, 3, 5, 17 and
// more than one packed block of tokens, N not a multiple of the register
// tile, row ranges [n0, n1) that start and end off the tile grid, and strides
// (ldx, ldo) wider than the rows. Entries outside [n0, n1) must stay untouched.
//
// With an argument, `test_kernels --expect NAME` also checks that
// kernels_select() picked the table NAME (ctest runs it with
// GPT_KERNELS=scalar to prove the fallback switch works).
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util.h"

static int failures = 0, checks = 0;
#define CHECK(cond, ...)                                \
    do {                                                \
        checks++;                                       \
        if (!(cond)) {                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
            failures++;                                 \
        }                                               \
    } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {  // uniform in [-1, 1)
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static const char *type_name(int type) {
    switch (type) {
    case GGML_TYPE_F32: return "F32";
    case GGML_TYPE_F16: return "F16";
    case GGML_TYPE_Q8_0: return "Q8_0";
    case GGML_TYPE_Q4_0: return "Q4_0";
    default: return "?";
    }
}

static size_t row_bytes(int type, int K) {
    switch (type) {
    case GGML_TYPE_F32: return (size_t)K * 4;
    case GGML_TYPE_F16: return (size_t)K * 2;
    case GGML_TYPE_Q8_0: return (size_t)(K / QK) * sizeof(block_q8_0);
    case GGML_TYPE_Q4_0: return (size_t)(K / QK) * sizeof(block_q4_0);
    default: return 0;
    }
}

static int is_quant(int type) { return type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0; }

#define SENTINEL 12345.0f

// One product: table k's matmul of type against the scalar one over rows
// [n0, n1) of an N x K matrix, T tokens. The error bound for each output is
// relative to sum_k |w x|, the size of the terms being added, since SIMD code
// adds them in another order.
static void check_matmul(const kernel_table *k, int type, int T, int K, int N, int n0, int n1) {
    int ldx = K + 3, ldo = N + 5;
    size_t rb = row_bytes(type, K);
    float *wf = malloc((size_t)N * K * sizeof(float));
    uint8_t *w = malloc((size_t)N * rb + 64);
    float *x = malloc((size_t)T * ldx * sizeof(float));
    float *ref = malloc((size_t)T * ldo * sizeof(float));
    float *got = malloc((size_t)T * ldo * sizeof(float));
    float *mag = malloc((size_t)T * ldo * sizeof(float));
    block_q8_0 *xq = malloc((size_t)T * (K / QK + 1) * sizeof(block_q8_0));
    float *wd = malloc((size_t)K * sizeof(float)), *xd = malloc((size_t)K * sizeof(float));
    for (size_t i = 0; i < (size_t)N * K; i++) wf[i] = frand();
    for (int n = 0; n < N; n++) quantize_row(type, wf + (size_t)n * K, w + (size_t)n * rb, K);
    for (size_t i = 0; i < (size_t)T * ldx; i++) x[i] = frand() * 2.0f;
    if (is_quant(type))
        for (int t = 0; t < T; t++) kernels_scalar.quantize_row_q8_0(x + (size_t)t * ldx, xq + (size_t)t * (K / QK), K);
    for (size_t i = 0; i < (size_t)T * ldo; i++) ref[i] = got[i] = SENTINEL;

    kernels_scalar.matmul[type](ref, ldo, x, ldx, xq, w, rb, T, K, n0, n1);
    k->matmul[type](got, ldo, x, ldx, xq, w, rb, T, K, n0, n1);

    // magnitudes from the values the kernels actually multiply
    for (int n = n0; n < n1; n++) {
        dequantize_row(type, w + (size_t)n * rb, wd, K);
        for (int t = 0; t < T; t++) {
            if (is_quant(type)) dequantize_row(GGML_TYPE_Q8_0, xq + (size_t)t * (K / QK), xd, K);
            else memcpy(xd, x + (size_t)t * ldx, (size_t)K * sizeof(float));
            double m = 0;
            for (int i = 0; i < K; i++) m += fabs((double)wd[i] * xd[i]);
            mag[(size_t)t * ldo + n] = (float)m;
        }
    }
    int bad = 0;
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)t * ldo + n;
            if (n < n0 || n >= n1) {
                if (got[i] != SENTINEL && bad++ < 3)
                    printf("  %s %s: wrote outside [n0, n1) at t=%d n=%d\n", k->name, type_name(type), t, n);
                continue;
            }
            double e = fabs((double)got[i] - ref[i]) / (mag[i] + 1e-30);
            if (e > worst) worst = e;
            if (!(e <= 2e-6) && bad++ < 3)
                printf("  %s %s: t=%d n=%d got %.9g want %.9g (|terms| %.3g)\n", k->name, type_name(type), t, n,
                       got[i], ref[i], mag[i]);
        }
    CHECK(bad == 0, "%s matmul %s T=%d K=%d N=%d rows [%d, %d): %d bad outputs, worst relative error %.3g", k->name,
          type_name(type), T, K, N, n0, n1, bad, worst);
    free(wf), free(w), free(x), free(ref), free(got), free(mag), free(xq), free(wd), free(xd);
}

static void check_matmuls(const kernel_table *k) {
    static const int Ts[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 33, 70};
    for (int type = 0; type <= GGML_TYPE_BF16; type++) {
        if (!k->matmul[type]) continue;
        if (!kernels_scalar.matmul[type]) {
            CHECK(0, "%s has a %s matmul but the scalar table has none to check it against", k->name, type_name(type));
            continue;
        }
        // K: below one vector, odd, several cache blocks plus a tail; quantized: whole blocks only
        static const int Kf[] = {1, 7, 8, 13, 64, 100, 777};
        static const int Kq[] = {32, 96, 512, 800};
        const int *Ks = is_quant(type) ? Kq : Kf;
        int nK = is_quant(type) ? (int)(sizeof Kq / sizeof Kq[0]) : (int)(sizeof Kf / sizeof Kf[0]);
        for (int ki = 0; ki < nK; ki++)
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                int K = Ks[ki], T = Ts[ti];
                if ((double)K * T > 30000 && K != Ks[nK - 1]) continue;  // keep the run short
                check_matmul(k, type, T, K, 1, 0, 1);
                check_matmul(k, type, T, K, 37, 0, 37);
                check_matmul(k, type, T, K, 203, 5, 198);
            }
        // many rows: more than one block of packed weight rows per thread
        check_matmul(k, type, 40, is_quant(type) ? 256 : 300, 700, 3, 699);
        // a long prompt over long rows: the packed GEMM cuts the inputs into blocks
        // of at most 512 KiB of activations (512 inputs for 256 tokens), so K = 1100
        // makes two whole blocks and a tail on any machine
        if (!is_quant(type)) check_matmul(k, type, 256, 1100, 60, 2, 57);
        // quantized prefill packs at most 128 tokens x 16 blocks at a time: more of both
        if (is_quant(type)) check_matmul(k, type, 140, 544, 21, 1, 20);
    }
}

static void check_quantize_row(const kernel_table *k) {
    if (k->quantize_row_q8_0 && kernels_scalar.quantize_row_q8_0) {
        int n = 32 * 37;
        float *x = malloc((size_t)n * sizeof(float));
        block_q8_0 *r = malloc((size_t)(n / QK) * sizeof(block_q8_0)), *g = malloc((size_t)(n / QK) * sizeof(block_q8_0));
        for (int j = 0; j < n; j++) x[j] = frand() * (j < 32 ? 0.0f : 3.0f);  // first block all zero
        x[40] = 0.5f / 127.0f * 2.0f;                                         // a value on a rounding tie
        kernels_scalar.quantize_row_q8_0(x, r, n);
        k->quantize_row_q8_0(x, g, n);
        int bad = 0;
        for (int b = 0; b < n / QK; b++) {
            if (r[b].d != g[b].d) bad++;
            for (int j = 0; j < QK; j++) bad += abs((int)r[b].qs[j] - g[b].qs[j]) > 1;  // ties may round either way
        }
        CHECK(bad == 0, "%s quantize_row_q8_0: %d scales or values differ", k->name, bad);
        free(x), free(r), free(g);
    }
}

// F32 rows to IEEE half (keys and values into an F16 cache): bit for bit
// what fp32_to_fp16 gives (itself checked against the compiler's _Float16 in
// test_quant) for every 997th bit pattern and the patterns at and next to
// every half's rounding tie, in rows of 1003 (the SIMD loop and its tail);
// a NaN must stay a NaN (F16C keeps its payload's top bits, the scalar code
// a fixed quiet NaN).
static void check_f16_row(const kernel_table *k) {
    if (!k->f32_to_f16_row) return;
    enum { ROW = 1003 };
    float x[ROW];
    uint16_t y[ROW + 1];
    int n = 0, bad = 0, rows = 0;
    uint64_t u = 0;
    uint32_t m = 0;
    int dlt = -1, sign = 0;
    for (;;) {
        // the next input: the sweep first, then the ties
        bool more = true;
        float f = 0;
        if (u <= 0xFFFFFFFFull) {
            uint32_t bits = (uint32_t)u;
            memcpy(&f, &bits, 4);
            u += 997;
        } else if (m < 0x7BFF) {
            float a = fp16_to_fp32((uint16_t)m), b = fp16_to_fp32((uint16_t)(m + 1));
            float mid = (float)(((double)a + (double)b) / 2);
            uint32_t bits;
            memcpy(&bits, &mid, 4);
            bits += (uint32_t)dlt;
            memcpy(&f, &bits, 4);
            if (sign) f = -f;
            if (++sign == 2) sign = 0, dlt++;
            if (dlt == 2) dlt = -1, m++;
        } else {
            more = false;
        }
        if (more) x[n++] = f;
        if (n == ROW || (!more && n)) {
            y[n] = 0xABCD;
            k->f32_to_f16_row(x, y, n);
            for (int i = 0; i < n; i++) {
                uint16_t want = fp32_to_fp16(x[i]);
                bool nan_in = isnan(x[i]), nan_out = (y[i] & 0x7C00) == 0x7C00 && (y[i] & 0x3FF);
                if ((nan_in ? !nan_out : y[i] != want) && bad++ < 3)
                    printf("  %s f32_to_f16_row(%a) = 0x%04x, want 0x%04x\n", k->name, x[i], y[i], want);
            }
            if (y[n] != 0xABCD && bad++ < 3) printf("  %s f32_to_f16_row wrote past the row\n", k->name);
            rows++;
            n = 0;
        }
        if (!more) break;
    }
    CHECK(bad == 0, "%s f32_to_f16_row: %d of %d rows' values differ from fp32_to_fp16", k->name, bad, rows);
}

// Attention's S V, out[i][d] = sum_p s[i][p] v[p][d], against the same sum in
// double precision: one query (decode) and blocks of queries (prefill) not a
// multiple of the tile, channel counts below, at and off the vector blocks,
// strides wider than the rows (the gaps must stay untouched); over an F32
// cache and over an F16 one.
static void check_weighted_rows(const kernel_table *k) {
    static const int ms[] = {1, 2, 4, 5, 11, 32}, nposs[] = {1, 2, 9, 64, 301}, ns[] = {1, 5, 8, 16, 20, 40, 64, 72, 100};
    for (int half = 0; half < 2; half++) {  // the F32 cache, then the F16 one
        if (half ? !k->weighted_rows_f16 : !k->weighted_rows_f32) continue;
        const char *name = half ? "weighted_rows_f16" : "weighted_rows_f32";
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < sizeof nposs / sizeof nposs[0]; b++)
                for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
                    int m = ms[a], npos = nposs[b], n = ns[c], lds = npos + 3, ldo = n + 5, bad = 0;
                    float *s = malloc((size_t)m * lds * sizeof(float)), *v = malloc((size_t)npos * n * sizeof(float));
                    uint16_t *vh = malloc((size_t)npos * n * sizeof(uint16_t));
                    float *out = malloc((size_t)m * ldo * sizeof(float));
                    for (int j = 0; j < m * lds; j++) s[j] = frand() * 0.5f + 0.5f;  // weights in [0, 1)
                    for (int j = 0; j < npos * n; j++) {
                        v[j] = frand() * 4.0f;
                        // the F16 cache holds v rounded to half: the reference
                        // takes the rounded values (fp32_to_fp16 is tested in test_quant)
                        vh[j] = fp32_to_fp16(v[j]);
                        if (half) v[j] = fp16_to_fp32(vh[j]);
                    }
                    for (int j = 0; j < m * ldo; j++) out[j] = SENTINEL;
                    if (half) k->weighted_rows_f16(out, ldo, s, lds, vh, m, npos, n);
                    else k->weighted_rows_f32(out, ldo, s, lds, v, m, npos, n);
                    for (int i = 0; i < m; i++)
                        for (int d = 0; d < ldo; d++) {
                            float got = out[(size_t)i * ldo + d];
                            if (d >= n) {
                                if (got != SENTINEL && bad++ < 3)
                                    printf("  %s %s: wrote out[%d][%d]\n", k->name, name, i, d);
                                continue;
                            }
                            double ref = 0, mag = 0;
                            for (int p = 0; p < npos; p++) {
                                double t = (double)s[(size_t)i * lds + p] * v[(size_t)p * n + d];
                                ref += t, mag += fabs(t);
                            }
                            if (!(fabs(got - ref) <= 1e-6 * mag + 1e-30) && bad++ < 3)
                                printf("  %s %s m=%d npos=%d n=%d [%d][%d]: %.9g, want %.9g\n", k->name, name, m, npos,
                                       n, i, d, got, ref);
                        }
                    CHECK(bad == 0, "%s %s m=%d npos=%d n=%d: %d values off", k->name, name, m, npos, n, bad);
                    free(s), free(v), free(vh), free(out);
                }
    }
}

// GELU (tanh approximation) against the same function in double precision,
// written as v / (1 + exp(-2u)) since 0.5 v (1 + tanh u) cancels in the
// negative tail even in double. Float evaluation of u alone costs a few
// ulps of exp(-2u) where |u| is large, hence 2e-5.
static void check_gelu(const kernel_table *k) {
    if (!k->gelu_tanh_f32) return;
    static const int ns[] = {1, 5, 8, 13, 64, 3001};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int n = ns[i], bad = 0;
        float *x = malloc((size_t)(n + 1) * sizeof(float)), *in = malloc((size_t)n * sizeof(float));
        for (int j = 0; j < n; j++) in[j] = x[j] = n > 100 ? (j - n / 2) * (24.0f / n) : frand() * 6.0f;
        x[n] = SENTINEL;
        k->gelu_tanh_f32(x, n);
        for (int j = 0; j < n; j++) {
            double v = in[j], u = 0.79788456080286536 * (v + 0.044715 * v * v * v), ref = v / (1 + exp(-2 * u));
            if (!(fabs(x[j] - ref) <= 2e-5 * fabs(ref) + 1e-37) && bad++ < 3)
                printf("  %s gelu(%.7g) = %.9g, want %.9g\n", k->name, in[j], x[j], ref);
        }
        CHECK(bad == 0 && x[n] == SENTINEL, "%s gelu_tanh_f32 n=%d: %d values off%s", k->name, n, bad,
              x[n] == SENTINEL ? "" : ", wrote past the end");
        free(x), free(in);
    }
}

// softmax(scale x) against double precision: the weights of one query.
static void check_softmax(const kernel_table *k) {
    if (!k->softmax_f32) return;
    static const int ns[] = {1, 2, 7, 8, 9, 63, 64, 100, 1000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int n = ns[i], bad = 0;
        float *x = malloc((size_t)(n + 1) * sizeof(float)), *in = malloc((size_t)n * sizeof(float));
        for (int j = 0; j < n; j++) in[j] = x[j] = frand() * 40.0f;  // scaled: spreads of about +-5
        x[n] = SENTINEL;
        float scale = 0.125f;
        k->softmax_f32(x, n, scale);
        double max = -INFINITY, sum = 0;
        for (int j = 0; j < n; j++) max = fmax(max, (double)in[j] * scale);
        for (int j = 0; j < n; j++) sum += exp((double)in[j] * scale - max);
        for (int j = 0; j < n; j++) {
            double ref = exp((double)in[j] * scale - max) / sum;
            if (!(fabs(x[j] - ref) <= 2e-6 * ref + 1e-12) && bad++ < 3)
                printf("  %s softmax n=%d [%d]: %.9g, want %.9g\n", k->name, n, j, x[j], ref);
        }
        CHECK(bad == 0 && x[n] == SENTINEL, "%s softmax_f32 n=%d: %d values off%s", k->name, n, bad,
              x[n] == SENTINEL ? "" : ", wrote past the end");
        free(x), free(in);
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--expect") == 0) {
        const kernel_table *k = kernels_select();
        CHECK(strcmp(k->name, argv[2]) == 0, "kernels_select() chose '%s', expected '%s' (GPT_KERNELS=%s)", k->name,
              argv[2], getenv("GPT_KERNELS") ? getenv("GPT_KERNELS") : "");
    }
    CHECK(kernels_by_name("scalar") == &kernels_scalar, "the scalar table is always available");
    static const char *names[] = {"avx2", "avx512", "neon"};
    int tested = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const kernel_table *k = kernels_by_name(names[i]);
        if (!k) {
            printf("not checked: the %s kernels (this CPU or build cannot run them)\n", names[i]);
            continue;
        }
        printf("checking the %s kernels against the scalar ones\n", k->name);
        check_matmuls(k);
#if defined(__x86_64__)
        {  // the decode kernels of the other avx2_decode_rowwise setting too
            int chosen = avx2_decode_rowwise;
            avx2_decode_rowwise = !chosen;
            printf("checking the %s matrix products with avx2_decode_rowwise = %d\n", k->name, !chosen);
            check_matmuls(k);
            avx2_decode_rowwise = chosen;
        }
#endif
        check_quantize_row(k);
        check_f16_row(k);
        check_weighted_rows(k);
        check_gelu(k);
        check_softmax(k);
        tested++;
    }
    // the scalar table's own row operations, against double precision too
    printf("checking the scalar row operations\n");
    check_weighted_rows(&kernels_scalar);
    check_gelu(&kernels_scalar);
    check_softmax(&kernels_scalar);
    if (!tested) printf("no SIMD kernel table runs on this CPU: only the scalar one was checked\n");
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
