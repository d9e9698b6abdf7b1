// test_neon.c: the aarch64 NEON kernel table against the scalar kernels,
// which define what every kernel computes (kernels_scalar.c). Odd sizes
// everywhere: K not a multiple of the vector width for float weights, N not
// a multiple of the row tile, T around the token tile, row ranges that start
// mid-matrix, padded strides; cells outside the written range must stay
// untouched.
//
// Tolerances: float products may sum in a different order, so
// |neon - scalar| <= 1e-5 * sum_k |w_k x_k|. Quantized products compute each
// block's integer dot product exactly and differ at most in float rounding
// across blocks (1e-6 of sum_b |dw dx acc_b|); with unit scales every term is
// an integer and the results must be identical. Activation quantization must
// match byte for byte.
//
// Built natively on aarch64 (ctest), and on x86-64 by
// scripts/test_neon_qemu.sh with a cross compiler, run under qemu-aarch64.
#include "kernels/kernels.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__aarch64__)
#error "test_neon.c tests the aarch64 NEON kernels: build it for aarch64 (scripts/test_neon_qemu.sh)"
#endif

static int failures = 0;

#define CHECK(cond, ...)                        \
    do {                                        \
        if (!(cond)) {                          \
            if (failures < 20) {                \
                fprintf(stderr, "FAIL: ");      \
                fprintf(stderr, __VA_ARGS__);   \
                fprintf(stderr, "\n");          \
            }                                   \
            failures++;                         \
        }                                       \
    } while (0)

// ---- deterministic random numbers ---------------------------------------------------

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd_u32(void) {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}
static float rnd_unit(void) { return (float)((rnd_u32() >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1, 1)
static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = rnd_unit() * scale;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static const kernel_table *ref = &kernels_scalar, *neon = &kernels_neon;

// ---- activation quantization ------------------------------------------------------

static void check_quantize_rows(const float *x, int n, const char *what) {
    int nb = n / QK;
    block_q8_0 *a = xmalloc((size_t)nb * sizeof *a), *b = xmalloc((size_t)nb * sizeof *b);
    memset(a, 0x5A, (size_t)nb * sizeof *a);
    memset(b, 0xA5, (size_t)nb * sizeof *b);
    ref->quantize_row_q8_0(x, a, n);
    neon->quantize_row_q8_0(x, b, n);
    for (int i = 0; i < nb; i++) {
        CHECK(a[i].d == b[i].d, "quantize_row_q8_0 %s block %d: d %04x (scalar) vs %04x (neon)", what, i, a[i].d, b[i].d);
        for (int j = 0; j < QK; j++)
            CHECK(a[i].qs[j] == b[i].qs[j], "quantize_row_q8_0 %s block %d q[%d]: %d (scalar) vs %d (neon)", what, i,
                  j, a[i].qs[j], b[i].qs[j]);
    }
    free(a);
    free(b);
}

static void test_quantize(void) {
    enum { N = 12 * QK };
    float x[N];
    fill(x, N, 3.0f);
    // block 1: all zero (d = 0, id = 0)
    for (int j = 0; j < QK; j++) x[QK + j] = 0.0f;
    // block 2: amax 127 -> d = 1 exactly, values at .5 ties: roundf goes away from zero
    for (int j = 0; j < QK; j++) x[2 * QK + j] = (float)(j - 16) + 0.5f;
    x[2 * QK + 31] = -127.0f;
    // block 3: tiny values (d is a subnormal half, or rounds to zero)
    for (int j = 0; j < QK; j++) x[3 * QK + j] = rnd_unit() * 1e-6f;
    // block 4: huge values (d overflows the half range; q still from float d)
    for (int j = 0; j < QK; j++) x[4 * QK + j] = rnd_unit() * 1e7f;
    // block 5: one large outlier among small values, negative
    for (int j = 0; j < QK; j++) x[5 * QK + j] = rnd_unit() * 0.01f;
    x[5 * QK + 7] = -50.0f;
    // block 6: amax 63.5 -> d = 0.5, ties at .25 * 2 = .5 on the q grid
    for (int j = 0; j < QK; j++) x[6 * QK + j] = ((float)(j - 16) + 0.5f) * 0.5f;
    x[6 * QK + 0] = 63.5f;
    // block 7: all equal: every q is round(amax * (1 / (amax / 127)))
    for (int j = 0; j < QK; j++) x[7 * QK + j] = 0.3f;
    // block 8: negative zeros and a single value
    for (int j = 0; j < QK; j++) x[8 * QK + j] = -0.0f;
    x[8 * QK + 13] = 0.75f;
    check_quantize_rows(x, N, "crafted");
    for (int r = 0; r < 50; r++) {
        float y[25 * QK];
        fill(y, 25 * QK, (float)(1 + r % 7) * 0.37f);
        check_quantize_rows(y, 25 * QK, "random");
    }
}

// ---- F32 rows to half -------------------------------------------------------

// bit for bit fp32_to_fp16 (checked against _Float16 in test_quant) on every
// 997th bit pattern and next to every half's rounding tie, rows of 1001; NaN
// stays NaN
static void test_f16_row(void) {
    enum { ROW = 1001 };
    float x[ROW];
    uint16_t y[ROW];
    int bad = 0, n = 0;
    for (uint64_t u = 0;; u += 997) {
        bool more = u <= 0xFFFFFFFFull;
        if (more) {
            uint32_t bits = (uint32_t)u;
            memcpy(&x[n++], &bits, 4);
        }
        if (n == ROW || (!more && n)) {
            neon->f32_to_f16_row(x, y, n);
            for (int i = 0; i < n; i++)
                bad += isnan(x[i]) ? !((y[i] & 0x7C00) == 0x7C00 && (y[i] & 0x3FF)) : y[i] != fp32_to_fp16(x[i]);
            n = 0;
        }
        if (!more) break;
    }
    for (uint32_t m = 0; m < 0x7BFF; m++) {
        float a = fp16_to_fp32((uint16_t)m), b = fp16_to_fp32((uint16_t)(m + 1));
        float mid = (float)(((double)a + (double)b) / 2);
        uint32_t bits;
        memcpy(&bits, &mid, 4);
        for (int d = 0; d < 3; d++) {
            uint32_t t = bits + (uint32_t)(d - 1);
            memcpy(&x[d], &t, 4);
            x[d + 3] = -x[d];
        }
        neon->f32_to_f16_row(x, y, 6);  // below the vector width for the last two
        for (int i = 0; i < 6; i++) bad += y[i] != fp32_to_fp16(x[i]);
    }
    CHECK(bad == 0, "f32_to_f16_row: %d values differ from fp32_to_fp16", bad);
}

// ---- attention's S V ---------------------------------------------------------

// out[i][d] = sum_p s[i][p] v[p][d] for one query and blocks of queries, channel
// counts on and off the 4, 16 and 64 blocks, against the sum in double; over
// an F32 cache and over an F16 one (the reference reads the halves' values)
static void test_weighted_rows(void) {
    static const int ms[] = {1, 3, 4, 9}, nposs[] = {1, 7, 130}, ns[] = {3, 4, 16, 20, 64, 100};
    for (int half = 0; half < 2; half++)
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 6; c++) {
                    int m = ms[a], npos = nposs[b], n = ns[c], lds = npos + 1, ldo = n + 2;
                    float *s = xmalloc((size_t)m * lds * 4), *v = xmalloc((size_t)npos * n * 4);
                    uint16_t *vh = xmalloc((size_t)npos * n * 2);
                    float *out = xmalloc((size_t)m * ldo * 4);
                    fill(s, (size_t)m * lds, 1.0f);
                    fill(v, (size_t)npos * n, 3.0f);
                    for (int k = 0; k < npos * n; k++) {
                        vh[k] = fp32_to_fp16(v[k]);
                        if (half) v[k] = fp16_to_fp32(vh[k]);
                    }
                    for (int k = 0; k < m * ldo; k++) out[k] = -7.0f;
                    if (half) neon->weighted_rows_f16(out, ldo, s, lds, vh, m, npos, n);
                    else neon->weighted_rows_f32(out, ldo, s, lds, v, m, npos, n);
                    int bad = 0;
                    for (int i = 0; i < m; i++)
                        for (int d = 0; d < ldo; d++) {
                            float got = out[(size_t)i * ldo + d];
                            double r = 0, mag = 0;
                            for (int p = 0; p < npos && d < n; p++) {
                                double t = (double)s[(size_t)i * lds + p] * v[(size_t)p * n + d];
                                r += t, mag += fabs(t);
                            }
                            bad += d < n ? !(fabs(got - r) <= 1e-6 * mag + 1e-30) : got != -7.0f;
                        }
                    CHECK(bad == 0, "weighted_rows_%s m=%d npos=%d n=%d: %d values off or written outside",
                          half ? "f16" : "f32", m, npos, n, bad);
                    free(s);
                    free(v);
                    free(vh);
                    free(out);
                }
}

// ---- matrix products -----------------------------------------------------------------

#define SENTINEL 1234567.0f

// One product of a (N, K) weight matrix W of `type` (rows `rs` bytes apart)
// with T tokens of x (ldx apart) or their quantization xq, rows [n0, n1),
// output ldo apart. mag[t][n] is the scale of the allowed error; exact
// demands bitwise equality.
static void compare_matmul(uint32_t type, const void *w, size_t rs, const float *x, int ldx, const block_q8_0 *xq,
                           int T, int K, int N, int n0, int n1, const double *mag, double rtol, int exact,
                           const char *what) {
    int ldo = N + 3;
    size_t cells = (size_t)T * ldo;
    float *o0 = xmalloc(cells * 4), *o1 = xmalloc(cells * 4);
    for (size_t i = 0; i < cells; i++) o0[i] = o1[i] = SENTINEL;
    ref->matmul[type](o0, ldo, x, ldx, xq, w, rs, T, K, n0, n1);
    neon->matmul[type](o1, ldo, x, ldx, xq, w, rs, T, K, n0, n1);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < ldo; n++) {
            float a = o0[(size_t)t * ldo + n], b = o1[(size_t)t * ldo + n];
            if (n < n0 || n >= n1) {
                CHECK(b == SENTINEL, "%s T=%d K=%d N=%d rows [%d,%d): wrote outside the range at t=%d n=%d", what, T, K,
                      N, n0, n1, t, n);
                continue;
            }
            double tol = exact ? 0.0 : rtol * mag[(size_t)t * N + n];
            CHECK(fabs((double)a - b) <= tol && b == b,
                  "%s T=%d K=%d N=%d rows [%d,%d) t=%d n=%d: %.9g (scalar) vs %.9g (neon), tol %.3g", what, T, K, N, n0,
                  n1, t, n, a, b, tol);
        }
    free(o0);
    free(o1);
}

// F32 and F16 weights for K = 1, 7, 33, 768, T = 1, 3, 17.
static void test_float_matmul(void) {
    static const int Ks[] = {1, 7, 33, 768}, Ts[] = {1, 3, 4, 17};
    const int N = 101;  // crosses a 48-row block, leaves a row tail of every size
    for (size_t ik = 0; ik < sizeof Ks / sizeof *Ks; ik++)
        for (size_t it = 0; it < sizeof Ts / sizeof *Ts; it++)
            for (int ti = 0; ti < 2; ti++) {
                int K = Ks[ik], T = Ts[it];
                uint32_t type = ti ? GGML_TYPE_F16 : GGML_TYPE_F32;
                size_t esz = ti ? 2 : 4, rs = (size_t)K * esz + (it & 1) * 3 * esz;  // padded rows half the time
                int ldx = K + (int)(it & 1) * 5;
                uint8_t *w = xmalloc(rs * N);
                float *wf = xmalloc((size_t)K * N * 4), *x = xmalloc((size_t)T * ldx * 4);
                double *mag = xmalloc((size_t)T * N * sizeof *mag);
                fill(wf, (size_t)K * N, 0.5f);
                fill(x, (size_t)T * ldx, 2.0f);
                for (int n = 0; n < N; n++) {
                    quantize_row(type, wf + (size_t)n * K, w + (size_t)n * rs, K);
                    dequantize_row(type, w + (size_t)n * rs, wf + (size_t)n * K, K);  // the weights as used
                }
                for (int t = 0; t < T; t++)
                    for (int n = 0; n < N; n++) {
                        double m = 0.0;
                        for (int k = 0; k < K; k++) m += fabs((double)wf[(size_t)n * K + k] * x[(size_t)t * ldx + k]);
                        mag[(size_t)t * N + n] = m;
                    }
                const char *what = ti ? "matmul F16" : "matmul F32";
                compare_matmul(type, w, rs, x, ldx, NULL, T, K, N, 0, N, mag, 1e-5, 0, what);
                compare_matmul(type, w, rs, x, ldx, NULL, T, K, N, 5, 98, mag, 1e-5, 0, what);
                compare_matmul(type, w, rs, x, ldx, NULL, T, K, N, 48, 51, mag, 1e-5, 0, what);
                free(w);
                free(wf);
                free(x);
                free(mag);
            }
}

// Q8_0 and Q4_0 weights for K = 32, 64, 96, 800, T = 1, 3, 17.
//   mode 0: weights quantized from random floats, activations by the NEON
//           quantize_row_q8_0 (already checked equal to the scalar one);
//   mode 1: raw random blocks (every int8 including -128, every nibble) with
//           unit scales: every term is an integer, results must be identical.
static void test_quant_matmul(void) {
    static const int Ks[] = {32, 64, 96, 800}, Ts[] = {1, 3, 4, 5, 17};
    const int N = 103;
    for (size_t ik = 0; ik < sizeof Ks / sizeof *Ks; ik++)
        for (size_t it = 0; it < sizeof Ts / sizeof *Ts; it++)
            for (int ti = 0; ti < 2; ti++)
                for (int mode = 0; mode < 2; mode++) {
                    int K = Ks[ik], T = Ts[it], nb = K / QK;
                    uint32_t type = ti ? GGML_TYPE_Q4_0 : GGML_TYPE_Q8_0;
                    size_t bsz = ti ? sizeof(block_q4_0) : sizeof(block_q8_0);
                    size_t rs = (size_t)nb * bsz + (it & 1) * 6;  // padded rows half the time
                    uint8_t *w = xmalloc(rs * N);
                    float *x = xmalloc((size_t)T * K * 4), *wf = xmalloc((size_t)K * 4);
                    block_q8_0 *xq = xmalloc((size_t)T * nb * sizeof *xq);
                    if (mode == 0) {
                        for (int n = 0; n < N; n++) {
                            fill(wf, (size_t)K, 0.1f + 0.02f * (float)(n % 5));
                            quantize_row(type, wf, w + (size_t)n * rs, K);
                        }
                        fill(x, (size_t)T * K, 3.0f);
                        for (int t = 0; t < T; t++) neon->quantize_row_q8_0(x + (size_t)t * K, xq + (size_t)t * nb, K);
                    } else {
                        for (size_t i = 0; i < rs * N; i++) w[i] = (uint8_t)rnd_u32();
                        for (int n = 0; n < N; n++)
                            for (int b = 0; b < nb; b++) {
                                uint8_t *blk = w + (size_t)n * rs + (size_t)b * bsz;
                                uint16_t one = 0x3C00;  // 1.0 in half precision
                                memcpy(blk, &one, 2);
                            }
                        for (int t = 0; t < T; t++)
                            for (int b = 0; b < nb; b++) {
                                block_q8_0 *q = xq + (size_t)t * nb + b;
                                q->d = 0x3C00;
                                for (int j = 0; j < QK; j++) q->qs[j] = (int8_t)rnd_u32();
                            }
                        // first block of token 0: all -128 against row 0's first block
                        for (int j = 0; j < QK; j++) xq[0].qs[j] = -128;
                        if (!ti) memset(w + sizeof(uint16_t), 0x80, QK);  // row 0 block 0 weights: -128
                    }
                    // error scale: sum over blocks of |dw * dx * acc|, recomputed here in double
                    double *mag = xmalloc((size_t)T * N * sizeof *mag);
                    float *wrow = xmalloc((size_t)K * 4), *xrow = xmalloc((size_t)K * 4);
                    for (int t = 0; t < T; t++) {
                        dequantize_row(GGML_TYPE_Q8_0, xq + (size_t)t * nb, xrow, K);
                        for (int n = 0; n < N; n++) {
                            dequantize_row(type, w + (size_t)n * rs, wrow, K);
                            double m = 0.0;
                            for (int b = 0; b < nb; b++) {
                                double s = 0.0;
                                for (int j = 0; j < QK; j++) s += (double)wrow[b * QK + j] * xrow[b * QK + j];
                                m += fabs(s);
                            }
                            mag[(size_t)t * N + n] = m;
                        }
                    }
                    char what[64];
                    snprintf(what, sizeof what, "matmul %s (%s)", ti ? "Q4_0" : "Q8_0",
                             mode ? "raw blocks, unit scales" : "quantized");
                    compare_matmul(type, w, rs, x, K, xq, T, K, N, 0, N, mag, 1e-6, mode, what);
                    compare_matmul(type, w, rs, x, K, xq, T, K, N, 7, 98, mag, 1e-6, mode, what);
                    compare_matmul(type, w, rs, x, K, xq, T, K, N, 96, 97, mag, 1e-6, mode, what);
                    free(w);
                    free(x);
                    free(wf);
                    free(xq);
                    free(mag);
                    free(wrow);
                    free(xrow);
                }
}

int main(void) {
    CHECK(strcmp(neon->name, "neon") == 0, "table name '%s'", neon->name);
    static const uint32_t types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
    for (int i = 0; i < 4; i++) CHECK(neon->matmul[types[i]] != NULL, "no NEON matmul for type %u", types[i]);
    CHECK(neon->weighted_rows_f32 && neon->weighted_rows_f16 && neon->f32_to_f16_row && neon->quantize_row_q8_0,
          "NULL entries in the NEON table");
    if (failures) return 1;
    CHECK(kernels_by_name("neon") == neon, "kernels_by_name(\"neon\") is not the NEON table");
    const char *env = getenv("GPT_KERNELS");
    if (!env || !*env) CHECK(kernels_select() == neon, "kernels_select() is '%s', not neon", kernels_select()->name);

    test_quantize();
    test_f16_row();
    test_weighted_rows();
    test_float_matmul();
    test_quant_matmul();
#if defined(__ARM_FEATURE_DOTPROD)
    const char *path = "SDOT (dotprod)";
#else
    const char *path = "SMULL/SADALP (ARMv8.0)";
#endif
    if (failures) {
        fprintf(stderr, "test_neon: %d failures (integer path: %s)\n", failures, path);
        return 1;
    }
    printf("test_neon: NEON kernels match the scalar kernels (integer path: %s)\n", path);
    return 0;
}
