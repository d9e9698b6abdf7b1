// kernels_avx2.c: x86-64 kernels for CPUs with AVX2, FMA and F16C. This file
// alone is compiled with -mavx2 -mfma -mf16c; kernels_select() only hands
// its table out when the CPU reports all three.
//
// A product out (T, N) = x (T, K) W^T takes one of three paths by T:
//   T = 1 (decode): matrix-vector. Memory-bound: every weight is read once,
//     row after row in address order with 8 accumulators, so each thread is
//     one sequential stream (4 interleaved rows measured up to 40% slower
//     on short rows: the prefetchers follow one stream best), fetched 8 KiB
//     ahead in software.
//   2 <= T < PACK_MIN_T: tiles of RB weight rows x TB tokens in registers,
//     vectors along K, one horizontal sum per output at the end.
//   T >= PACK_MIN_T (prefill): the cache-blocked GEMM of gemm_x86.h, here
//     with panels of 24 rows x 256 inputs (24 KiB) and tiles of 4 tokens x
//     24 rows (12 accumulators).
#include "kernels.h"
#include "util.h"

#include <immintrin.h>
#include <math.h>

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---- the packed GEMM (prefill): gemm_x86.h over 8-float vectors -------------------

#define VEC __m256
#define VW 8
#define VLOAD(p) _mm256_load_ps(p)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VZERO() _mm256_setzero_ps()
#define VSET1(f) _mm256_set1_ps(f)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define NV 3              // vectors of 8 weight rows in a panel: 24 rows
#define MR 4              // tokens per register tile: MR*NV = 12 accumulators + NV weights + 1 broadcast
#define KC 256            // inputs per panel: KC * NR * 4 bytes = 24 KiB
#include "gemm_x86.h"

DEFINE_GEMM(f32, float, load8_f32, load1_f32)
DEFINE_GEMM(f16, uint16_t, load8_f16, load1_f16)

// ---- matrix-vector products and small batches -------------------------------------

// One family of kernels per weight element type WT, with LOADV loading 8
// weights as floats and LOADS one.
#define RB 3  // dot-form tiles: weight rows per tile
#define TB 4  // tokens per tile: RB*TB accumulators + RB weights + 1 activation = 16 registers

// Decode reads the weights GEMV_PF bytes ahead of use with prefetches into
// L2, PF_LINES cache lines per step of the matrix-vector loop (a step covers
// 256 bytes of F32, 128 of F16). The out-of-order window alone keeps too few
// cache misses in flight, and the hardware prefetchers stop at every 4 KiB
// page. Measured on a 2-core Xeon (KVM), 124M decode with 2 threads, the
// same binary with the distance changed at run time, 15 interleaved rounds:
// against no F32 prefetch and F16 1 KiB ahead into L1, F32 +20% (8 KiB,
// into L2), +10% (4 KiB, into L1), +12% (2 KiB); F16 +18% (8 KiB), +7%
// (2 KiB); prefetches that skip the caches (NTA) lost 30%. Reading past a
// row is reading the next row: rows follow each other in memory, and a
// prefetch past the end of the mapping does not fault.
//
// F32 is the exception on AMD Zen 3 (2-core EPYC, KVM): there its hardware
// prefetchers keep up with the one stream alone, and the software
// prefetches cost time: 124M F32 decode, 2 threads, the same binary with and
// without them, interleaved rounds (median of the paired ratios): +18% (7
// rounds), +10% (9) and +8% (7) without, 1 thread +13% (5); F16 was 4%
// slower without (7). So with avx2_decode_rowwise (kernels.h: set on AMD
// CPUs) the F32 loop does not prefetch.
#define GEMV_PF 8192
int avx2_decode_rowwise = 0;

#define DEFINE_MATMUL(SUFFIX, WT, LOADV, LOADS, PF_LINES, PF_ON)                                               \
    /* out[t][n] for one weight row and one token, any K */                                            \
    static inline float dot1_##SUFFIX(const WT *w, const float *x, int K) {                            \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                     \
        int k = 0;                                                                                     \
        for (; k + 16 <= K; k += 16) {                                                                 \
            a0 = _mm256_fmadd_ps(LOADV(w + k), load8_f32(x + k), a0);                                   \
            a1 = _mm256_fmadd_ps(LOADV(w + k + 8), load8_f32(x + k + 8), a1);                           \
        }                                                                                              \
        for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(LOADV(w + k), load8_f32(x + k), a0);             \
        float s = hsum(_mm256_add_ps(a0, a1));                                                         \
        for (; k < K; k++) s += LOADS(w + k) * x[k];                                                   \
        return s;                                                                                      \
    }                                                                                                  \
    /* matrix-vector: one row at a time, 64 inputs per step in 8 accumulators, \
       so that the weights stream through memory in order, one sequential     \
       stream per thread, as the hardware prefetchers like best */            \
    static inline float dot8_##SUFFIX(const WT *w, const float *x, int K, int pf_lines) {              \
        __m256 a[8];                                                                                   \
        for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();                                        \
        int k = 0;                                                                                     \
        for (; k + 64 <= K; k += 64) {                                                                 \
            for (int l = 0; l < pf_lines; l++) /* the weights 8 KiB ahead, see GEMV_PF */                \
                _mm_prefetch((const char *)(w + k) + GEMV_PF + 64 * l, _MM_HINT_T1);                   \
            for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(LOADV(w + k + 8 * i), load8_f32(x + k + 8 * i), a[i]); \
        }                                                                                              \
        for (int i = 0; k + 8 <= K; k += 8, i++) a[i] = _mm256_fmadd_ps(LOADV(w + k), load8_f32(x + k), a[i]); \
        __m256 s8 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),  \
                                  _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7]))); \
        float s = hsum(s8);                                                                            \
        for (; k < K; k++) s += LOADS(w + k) * x[k];                                                   \
        return s;                                                                                      \
    }                                                                                                  \
    static void gemv_##SUFFIX(float *out, const float *x, const uint8_t *w, size_t rs, int K, int n0,  \
                              int n1) {                                                                \
        if (PF_ON) /* two loops, so that each inlines dot8 with a constant line count */                \
            for (int n = n0; n < n1; n++) out[n] = dot8_##SUFFIX((const WT *)(w + (size_t)n * rs), x, K, PF_LINES); \
        else                                                                                           \
            for (int n = n0; n < n1; n++) out[n] = dot8_##SUFFIX((const WT *)(w + (size_t)n * rs), x, K, 0); \
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
                __m256 xv = load8_f32(xr[j] + k);                                                       \
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
    /* a few tokens: RB x TB tiles over blocks of 48 rows that stay in L1/L2 */                        \
    static void tiles_##SUFFIX(float *out, int ldo, const float *x, int ldx, const uint8_t *w, size_t rs, \
                               int T, int K, int n0, int n1) {                                         \
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
    }                                                                                                  \
    void avx2_matmul_##SUFFIX(float *out, int ldo, const float *x, int ldx, const void *xq,            \
                              const void *wv, size_t rs, int T, int K, int n0, int n1) {               \
        (void)xq;                                                                                      \
        const uint8_t *w = wv;                                                                         \
        if (T >= PACK_MIN_T) gemm_##SUFFIX(out, ldo, x, ldx, w, rs, T, K, n0, n1);                     \
        else if (T >= TB) tiles_##SUFFIX(out, ldo, x, ldx, w, rs, T, K, n0, n1);                       \
        else                                                                                           \
            for (int t = 0; t < T; t++) gemv_##SUFFIX(out + (size_t)t * ldo, x + (size_t)t * ldx, w, rs, K, n0, n1); \
    }

DEFINE_MATMUL(f32, float, load8_f32, load1_f32, 4, !avx2_decode_rowwise)
DEFINE_MATMUL(f16, uint16_t, load8_f16, load1_f16, 2, 1)

// ---- attention's S V ---------------------------------------------------------------

// Written once over the cache's element type (F32 or F16 rows, read through
// LOAD8/LOAD1 as in the matrix-vector kernels): weighted_rows_<T>.
//
// weighted_rows1_<T>: one query, channels d0 .. n-1: o[d] = sum_p s[p] v[p][d].
// Blocks of 64 channels keep 8 accumulators, what two FMA units of 4 cycles'
// latency need in flight; the value rows are read once, in order (decode's
// whole use).
//
// weighted_rows_tile_<T>: WQ queries x 16 channels per tile (prefill): 2 * WQ
// accumulators, 2 value vectors and a broadcast weight in registers; at each
// position 2 + WQ loads feed 2 * WQ FMAs. A tile of 4 x 32 needs 16
// accumulators + 4 values + 1 broadcast, more than AVX2's 16 registers:
// spilled, it ran at half the speed of this one (54 against 94-105 GFLOP/s on
// one Zen 4 core, npos 128 and 512, F32). 4, 5 and 6 queries measured alike; 4
// divides attention's blocks of 32.
#define WQ 4
#define DEFINE_WEIGHTED_ROWS(T, VT, LOAD8, LOAD1)                                                                     \
    static void weighted_rows1_##T(float *o, const float *s, const VT *v, int npos, int n, int d0) {               \
        int d = d0;                                                                                                  \
        for (; d + 64 <= n; d += 64) {                                                                               \
            __m256 acc[8];                                                                                           \
            for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();                                                \
            for (int p = 0; p < npos; p++) {                                                                         \
                const VT *vp = v + (size_t)p * n + d;                                                                \
                __m256 w = _mm256_set1_ps(s[p]);                                                                     \
                for (int j = 0; j < 8; j++) acc[j] = _mm256_fmadd_ps(w, LOAD8(vp + 8 * j), acc[j]);                  \
            }                                                                                                        \
            for (int j = 0; j < 8; j++) _mm256_storeu_ps(o + d + 8 * j, acc[j]);                                     \
        }                                                                                                            \
        for (; d + 8 <= n; d += 8) {                                                                                 \
            __m256 acc = _mm256_setzero_ps();                                                                        \
            for (int p = 0; p < npos; p++)                                                                           \
                acc = _mm256_fmadd_ps(_mm256_set1_ps(s[p]), LOAD8(v + (size_t)p * n + d), acc);                      \
            _mm256_storeu_ps(o + d, acc);                                                                            \
        }                                                                                                            \
        for (; d < n; d++) {                                                                                         \
            float a = 0.0f;                                                                                          \
            for (int p = 0; p < npos; p++) a += s[p] * LOAD1(v + (size_t)p * n + d);                                 \
            o[d] = a;                                                                                                \
        }                                                                                                            \
    }                                                                                                                \
    static void weighted_rows_tile_##T(float *out, int ldo, const float *s, int lds, const VT *v, int npos, int n) { \
        int d = 0;                                                                                                   \
        for (; d + 16 <= n; d += 16) {                                                                               \
            __m256 acc[WQ][2];                                                                                       \
            for (int i = 0; i < WQ; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();                                \
            for (int p = 0; p < npos; p++) {                                                                         \
                const VT *vp = v + (size_t)p * n + d;                                                                \
                __m256 v0 = LOAD8(vp), v1 = LOAD8(vp + 8);                                                           \
                for (int i = 0; i < WQ; i++) {                                                                       \
                    __m256 w = _mm256_set1_ps(s[(size_t)i * lds + p]);                                               \
                    acc[i][0] = _mm256_fmadd_ps(w, v0, acc[i][0]);                                                   \
                    acc[i][1] = _mm256_fmadd_ps(w, v1, acc[i][1]);                                                   \
                }                                                                                                    \
            }                                                                                                        \
            for (int i = 0; i < WQ; i++) {                                                                           \
                _mm256_storeu_ps(out + (size_t)i * ldo + d, acc[i][0]);                                              \
                _mm256_storeu_ps(out + (size_t)i * ldo + d + 8, acc[i][1]);                                          \
            }                                                                                                        \
        }                                                                                                            \
        if (d < n)                                                                                                   \
            for (int i = 0; i < WQ; i++)                                                                             \
                weighted_rows1_##T(out + (size_t)i * ldo, s + (size_t)i * lds, v, npos, n, d);                      \
    }                                                                                                                \
    void avx2_weighted_rows_##T(float *out, int ldo, const float *s, int lds, const VT *v, int m, int npos, int n) {  \
        int i = 0;                                                                                                   \
        for (; i + WQ <= m; i += WQ)                                                                                 \
            weighted_rows_tile_##T(out + (size_t)i * ldo, ldo, s + (size_t)i * lds, lds, v, npos, n);                \
        for (; i < m; i++) weighted_rows1_##T(out + (size_t)i * ldo, s + (size_t)i * lds, v, npos, n, 0);            \
    }

DEFINE_WEIGHTED_ROWS(f32, float, load8_f32, load1_f32)
DEFINE_WEIGHTED_ROWS(f16, uint16_t, load8_f16, load1_f16)

// 8 at a time by F16C (VCVTPS2PH, round to nearest even as the immediate
// says, whatever MXCSR holds), the rest one by one
void avx2_f32_to_f16_row(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// ---- GELU --------------------------------------------------------------------------

// e^x for 8 floats, about 1 ulp: e^x = 2^n e^r with n = round(x / ln 2) and
// r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 in two parts, so r is exact), e^r
// by Cephes' degree-7 polynomial. x is clamped to [-87.3, 88.3] so 2^n stays
// a normal float: e^x is then at most 2.4e38 and at least 1.2e-38.
static inline __m256 exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 gelu_ps(__m256 v) {
    const __m256 c = _mm256_set1_ps(-2.0f * 0.79788456080286536f), a = _mm256_set1_ps(0.044715f);
    __m256 z = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(a, v), _mm256_mul_ps(v, v), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(z)));
}

// The tail of fewer than 8 goes through the same vector code under a mask,
// so every element of a row is computed alike.
void avx2_gelu_tanh_f32(float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu_ps(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(x + i, mask, gelu_ps(_mm256_maskload_ps(x + i, mask)));  // lanes i < n
    }
}

// ---- softmax -----------------------------------------------------------------------

static inline __m256i tail_mask(int left) {  // lanes i < left
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Three passes as the C version: scale and find the maximum, exponentiate
// and sum, normalise. Tails go through the vector code under a mask.
void avx2_softmax_f32(float *x, int n, float scale) {
    const __m256 sc = _mm256_set1_ps(scale);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sc);
        _mm256_storeu_ps(x + i, v);
        mx = _mm256_max_ps(mx, v);
    }
    __m256i m = tail_mask(n - i);
    if (i < n) {
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), sc);
        _mm256_maskstore_ps(x + i, m, v);
        mx = _mm256_max_ps(mx, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(m)));
    }
    const __m256 max = _mm256_set1_ps(hmax(mx));
    __m256 sum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (i < n) {
        __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), max)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(sum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (i < n) _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv));
}

const kernel_table kernels_avx2 = {
    .name = "avx2",
    .matmul = {[GGML_TYPE_F32] = avx2_matmul_f32, [GGML_TYPE_F16] = avx2_matmul_f16,
               [GGML_TYPE_Q8_0] = avx2_matmul_q8_0, [GGML_TYPE_Q4_0] = avx2_matmul_q4_0},
    .weighted_rows_f32 = avx2_weighted_rows_f32,
    .weighted_rows_f16 = avx2_weighted_rows_f16,
    .f32_to_f16_row = avx2_f32_to_f16_row,
    .quantize_row_q8_0 = avx2_quantize_row_q8_0,
    .gelu_tanh_f32 = avx2_gelu_tanh_f32,
    .softmax_f32 = avx2_softmax_f32,
};
