// kernels_avx2.c: x86-64 kernels for CPUs with AVX2, FMA and F16C. This file
// alone is compiled with -mavx2 -mfma -mf16c; kernels_select() only hands
// its table out when the CPU reports all three.
//
// Matrix products are tiled: a tile of RB weight rows x TB tokens keeps
// RB*TB accumulators in registers, so every weight vector loaded is used TB
// times and every activation vector RB times. Decode (T = 1) takes a
// matrix-vector path that streams 4 rows at once with two accumulators each,
// enough independent FMAs to keep the units busy while memory streams in.
#include "kernels.h"
#include "util.h"

#include <immintrin.h>

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline float scalar_f32(const float *p) { return *p; }
static inline float scalar_f16(const uint16_t *p) { return fp16_to_fp32(*p); }

#define RB 3  // weight rows per tile
#define TB 4  // tokens per tile: RB*TB accumulators + RB weights + 1 activation = 16 registers

// One family of kernels per weight element type WT, with LOADV loading 8
// weights as floats and LOADS one.
#define DEFINE_MATMUL(SUFFIX, WT, LOADV, LOADS)                                                         \
    /* out[t][n] for one weight row and one token, any K */                                            \
    static inline float dot1_##SUFFIX(const WT *w, const float *x, int K) {                            \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                     \
        int k = 0;                                                                                     \
        for (; k + 16 <= K; k += 16) {                                                                 \
            a0 = _mm256_fmadd_ps(LOADV(w + k), load_f32(x + k), a0);                                   \
            a1 = _mm256_fmadd_ps(LOADV(w + k + 8), load_f32(x + k + 8), a1);                           \
        }                                                                                              \
        for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(LOADV(w + k), load_f32(x + k), a0);             \
        float s = hsum(_mm256_add_ps(a0, a1));                                                         \
        for (; k < K; k++) s += LOADS(w + k) * x[k];                                                   \
        return s;                                                                                      \
    }                                                                                                  \
    /* matrix-vector: 4 rows at a time against one token */                                            \
    static void gemv_##SUFFIX(float *out, const float *x, const uint8_t *w, size_t rs, int K, int n0,  \
                              int n1) {                                                                \
        int n = n0;                                                                                    \
        for (; n + 4 <= n1; n += 4) {                                                                  \
            const WT *w0 = (const WT *)(w + (size_t)n * rs), *w1 = (const WT *)((const uint8_t *)w0 + rs); \
            const WT *w2 = (const WT *)((const uint8_t *)w1 + rs), *w3 = (const WT *)((const uint8_t *)w2 + rs); \
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();        \
            __m256 a3 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();        \
            __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();                                  \
            int k = 0;                                                                                 \
            for (; k + 16 <= K; k += 16) {                                                             \
                __m256 xa = load_f32(x + k), xb = load_f32(x + k + 8);                                 \
                a0 = _mm256_fmadd_ps(LOADV(w0 + k), xa, a0);                                           \
                a1 = _mm256_fmadd_ps(LOADV(w1 + k), xa, a1);                                           \
                a2 = _mm256_fmadd_ps(LOADV(w2 + k), xa, a2);                                           \
                a3 = _mm256_fmadd_ps(LOADV(w3 + k), xa, a3);                                           \
                b0 = _mm256_fmadd_ps(LOADV(w0 + k + 8), xb, b0);                                       \
                b1 = _mm256_fmadd_ps(LOADV(w1 + k + 8), xb, b1);                                       \
                b2 = _mm256_fmadd_ps(LOADV(w2 + k + 8), xb, b2);                                       \
                b3 = _mm256_fmadd_ps(LOADV(w3 + k + 8), xb, b3);                                       \
            }                                                                                          \
            for (; k + 8 <= K; k += 8) {                                                               \
                __m256 xa = load_f32(x + k);                                                           \
                a0 = _mm256_fmadd_ps(LOADV(w0 + k), xa, a0);                                           \
                a1 = _mm256_fmadd_ps(LOADV(w1 + k), xa, a1);                                           \
                a2 = _mm256_fmadd_ps(LOADV(w2 + k), xa, a2);                                           \
                a3 = _mm256_fmadd_ps(LOADV(w3 + k), xa, a3);                                           \
            }                                                                                          \
            float s0 = hsum(_mm256_add_ps(a0, b0)), s1 = hsum(_mm256_add_ps(a1, b1));                  \
            float s2 = hsum(_mm256_add_ps(a2, b2)), s3 = hsum(_mm256_add_ps(a3, b3));                  \
            for (; k < K; k++) {                                                                       \
                s0 += LOADS(w0 + k) * x[k];                                                            \
                s1 += LOADS(w1 + k) * x[k];                                                            \
                s2 += LOADS(w2 + k) * x[k];                                                            \
                s3 += LOADS(w3 + k) * x[k];                                                            \
            }                                                                                          \
            out[n] = s0, out[n + 1] = s1, out[n + 2] = s2, out[n + 3] = s3;                            \
        }                                                                                              \
        for (; n < n1; n++) out[n] = dot1_##SUFFIX((const WT *)(w + (size_t)n * rs), x, K);           \
    }                                                                                                  \
    /* one RB x TB tile: rows n..n+RB-1, tokens t..t+TB-1 */                                           \
    static inline void tile_##SUFFIX(float *out, int ldo, const float *x, int ldx, const uint8_t *w,   \
                                     size_t rs, int K, int n, int t) {                                 \
        __m256 acc[RB][TB];                                                                            \
        for (int r = 0; r < RB; r++)                                                                   \
            for (int j = 0; j < TB; j++) acc[r][j] = _mm256_setzero_ps();                              \
        const WT *wr[RB];                                                                              \
        for (int r = 0; r < RB; r++) wr[r] = (const WT *)(w + (size_t)(n + r) * rs);                   \
        const float *xr[TB];                                                                           \
        for (int j = 0; j < TB; j++) xr[j] = x + (size_t)(t + j) * ldx;                                \
        int k = 0;                                                                                     \
        for (; k + 8 <= K; k += 8) {                                                                   \
            __m256 wv[RB];                                                                             \
            for (int r = 0; r < RB; r++) wv[r] = LOADV(wr[r] + k);                                     \
            for (int j = 0; j < TB; j++) {                                                             \
                __m256 xv = load_f32(xr[j] + k);                                                       \
                for (int r = 0; r < RB; r++) acc[r][j] = _mm256_fmadd_ps(wv[r], xv, acc[r][j]);        \
            }                                                                                          \
        }                                                                                              \
        for (int r = 0; r < RB; r++)                                                                   \
            for (int j = 0; j < TB; j++) {                                                             \
                float s = hsum(acc[r][j]);                                                             \
                for (int kk = k; kk < K; kk++) s += LOADS(wr[r] + kk) * xr[j][kk];                     \
                out[(size_t)(t + j) * ldo + n + r] = s;                                                \
            }                                                                                          \
    }                                                                                                  \
    static void matmul_##SUFFIX(float *out, int ldo, const float *x, int ldx, const void *xq,          \
                                const void *wv, size_t rs, int T, int K, int n0, int n1) {             \
        (void)xq;                                                                                      \
        const uint8_t *w = wv;                                                                         \
        if (T < TB) {                                                                                  \
            for (int t = 0; t < T; t++) gemv_##SUFFIX(out + (size_t)t * ldo, x + (size_t)t * ldx, w, rs, K, n0, n1); \
            return;                                                                                    \
        }                                                                                              \
        /* blocks of 48 rows keep their weights in L1/L2 while every token passes */                  \
        for (int nb = n0; nb < n1; nb += 48) {                                                         \
            int ne = nb + 48 < n1 ? nb + 48 : n1;                                                      \
            int t = 0;                                                                                 \
            for (; t + TB <= T; t += TB) {                                                             \
                int n = nb;                                                                            \
                for (; n + RB <= ne; n += RB) tile_##SUFFIX(out, ldo, x, ldx, w, rs, K, n, t);         \
                for (; n < ne; n++)                                                                    \
                    for (int j = 0; j < TB; j++)                                                       \
                        out[(size_t)(t + j) * ldo + n] =                                               \
                            dot1_##SUFFIX((const WT *)(w + (size_t)n * rs), x + (size_t)(t + j) * ldx, K); \
            }                                                                                          \
            for (; t < T; t++) gemv_##SUFFIX(out + (size_t)t * ldo, x + (size_t)t * ldx, w, rs, K, nb, ne); \
        }                                                                                              \
    }

DEFINE_MATMUL(f32, float, load_f32, scalar_f32)
DEFINE_MATMUL(f16, uint16_t, load_f16, scalar_f16)

static float dot_f32(const float *a, const float *b, int n) { return dot1_f32(a, b, n); }

static void axpy_f32(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, load_f32(x + i), load_f32(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

const kernel_table kernels_avx2 = {
    .name = "avx2",
    .matmul = {[GGML_TYPE_F32] = matmul_f32, [GGML_TYPE_F16] = matmul_f16,
               [GGML_TYPE_Q8_0] = avx2_matmul_q8_0, [GGML_TYPE_Q4_0] = avx2_matmul_q4_0},
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .quantize_row_q8_0 = avx2_quantize_row_q8_0,
};
