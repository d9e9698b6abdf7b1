// kernels_avx2.c: x86-64 kernels for CPUs with AVX2, FMA and F16C. This file
// alone is compiled with -mavx2 -mfma -mf16c; kernels_select() only hands
// its table out when the CPU reports all three.
//
// A product out (T, N) = x (T, K) W^T takes one of three paths by T:
//   T = 1 (decode): matrix-vector. Memory-bound: every weight is read once,
//     row after row in address order with 8 accumulators, so each thread is
//     one sequential stream (4 interleaved rows measured up to 40% slower
//     on short rows: the prefetchers follow one stream best).
//   2 <= T < PACK_MIN_T: tiles of RB weight rows x TB tokens in registers,
//     vectors along K, one horizontal sum per output at the end.
//   T >= PACK_MIN_T (prefill): a cache-blocked GEMM. The weights are copied
//     in panels of NR rows x KC inputs into a small stack buffer, transposed
//     so that one vector holds 8 rows at one input (F16 converted to F32
//     here, once, instead of once per token). A panel (24 KiB) stays in L1
//     while every group of MR tokens passes through the register kernel:
//     MR x NR outputs in 12 accumulators, each weight vector used MR times
//     and each broadcast activation NV times, no horizontal sums. Blocks of
//     KC inputs keep the activations the tokens share (T x KC floats) in L2.
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

static inline __m256 load_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline float scalar_f32(const float *p) { return *p; }
static inline float scalar_f16(const uint16_t *p) { return fp16_to_fp32(*p); }

// ---- the packed GEMM (prefill) ----------------------------------------------------

#ifndef NV
#define NV 3              // vectors of 8 weight rows in a panel
#endif
#define NR (8 * NV)       // 24 weight rows per panel
#ifndef MR
#define MR 4              // tokens per register tile: MR*NV = 12 accumulators + NV weights + 1 broadcast
#endif
#ifndef KC
#define KC 256            // inputs per panel: KC * NR * 4 bytes = 24 KiB
#endif
#define PACK_MIN_T 8      // fewer tokens do not repay the packing

// r[i] (8 rows of 8) becomes column i: r[i][j] = old r[j][i]
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// out (m, NR) [i][r] (+)= sum_k x[i][k] * p[k][r] for a panel p (kc, NR), m <= MR
// tokens. Always inlined with a constant m, so the tile lives in registers.
static inline __attribute__((always_inline)) void tile_packed(int m, float *out, int ldo, const float *x, int ldx,
                                                               const float *p, int kc, int accumulate) {
    __m256 c[MR][NV];
    const float *xr[MR];
    for (int i = 0; i < m; i++) {
        xr[i] = x + (size_t)i * ldx;
        for (int v = 0; v < NV; v++)
            c[i][v] = accumulate ? _mm256_loadu_ps(out + (size_t)i * ldo + 8 * v) : _mm256_setzero_ps();
    }
    for (int k = 0; k < kc; k++, p += NR) {
        __m256 b[NV];
        for (int v = 0; v < NV; v++) b[v] = _mm256_load_ps(p + 8 * v);
        for (int i = 0; i < m; i++) {
            __m256 a = _mm256_broadcast_ss(xr[i] + k);
            for (int v = 0; v < NV; v++) c[i][v] = _mm256_fmadd_ps(a, b[v], c[i][v]);
        }
    }
    for (int i = 0; i < m; i++)
        for (int v = 0; v < NV; v++) _mm256_storeu_ps(out + (size_t)i * ldo + 8 * v, c[i][v]);
}

static void tile_packed_m(int m, float *out, int ldo, const float *x, int ldx, const float *p, int kc, int acc) {
    switch (m) {
#if MR > 5
    case 6: tile_packed(6, out, ldo, x, ldx, p, kc, acc); break;
#endif
#if MR > 4
    case 5: tile_packed(5, out, ldo, x, ldx, p, kc, acc); break;
#endif
    case 4: tile_packed(4, out, ldo, x, ldx, p, kc, acc); break;
    case 3: tile_packed(3, out, ldo, x, ldx, p, kc, acc); break;
    case 2: tile_packed(2, out, ldo, x, ldx, p, kc, acc); break;
    default: tile_packed(1, out, ldo, x, ldx, p, kc, acc); break;
    }
}

#ifndef PACK_PF
#define PACK_PF 1
#endif

// The weights the next panel will pack: rows of row_len bytes, rs apart.
// They come from memory (a prompt reads every weight once), so they are
// fetched into L2 a few lines per register tile while this panel computes,
// and packing finds them there.
typedef struct {
    const uint8_t *rows;
    size_t rs;
    int n_rows, row_lines;
} next_panel;

static inline void prefetch_lines(const next_panel *np, int from, int to) {
    for (int i = from; i < to; i++)
        _mm_prefetch((const char *)np->rows + (size_t)(i / np->row_lines) * np->rs + (size_t)(i % np->row_lines) * 64,
                     _MM_HINT_T1);
}

// Every token against one packed panel of nr <= NR rows: out (T, nr) with
// row stride ldo; x (T, kc) with stride ldx.
static void panel_times_tokens(float *out, int ldo, const float *x, int ldx, const float *panel, int T, int kc, int nr,
                               int accumulate, const next_panel *np) {
    int t = 0;
    if (nr == NR) {
        int lines = PACK_PF && np ? np->n_rows * np->row_lines : 0, tiles = T / MR, done = 0;
        for (; t + MR <= T; t += MR) {
            if (lines) {  // this tile's share of the next panel's lines
                int upto = (int)((long)lines * (t / MR + 1) / tiles);
                prefetch_lines(np, done, upto);
                done = upto;
            }
            tile_packed(MR, out + (size_t)t * ldo, ldo, x + (size_t)t * ldx, ldx, panel, kc, accumulate);
        }
        if (t < T) tile_packed_m(T - t, out + (size_t)t * ldo, ldo, x + (size_t)t * ldx, ldx, panel, kc, accumulate);
        return;
    }
    // a last panel short of NR rows (its missing rows are packed as zeros):
    // the tile goes through a buffer so nothing beyond nr is written
    _Alignas(32) float tmp[MR * NR];
    for (; t < T; t += MR) {
        int m = T - t < MR ? T - t : MR;
        for (int i = 0; i < m; i++)
            for (int r = 0; r < NR; r++) tmp[i * NR + r] = accumulate && r < nr ? out[(size_t)(t + i) * ldo + r] : 0.0f;
        tile_packed_m(m, tmp, NR, x + (size_t)t * ldx, ldx, panel, kc, 1);
        for (int i = 0; i < m; i++)
            for (int r = 0; r < nr; r++) out[(size_t)(t + i) * ldo + r] = tmp[i * NR + r];
    }
}

// One family of kernels per weight element type WT, with LOADV loading 8
// weights as floats and LOADS one.
#define RB 3  // dot-form tiles: weight rows per tile
#define TB 4  // tokens per tile: RB*TB accumulators + RB weights + 1 activation = 16 registers

// Decode reads F16 weights 1 KiB ahead of use: a step of the matrix-vector
// loop covers only 128 bytes of F16, so the out-of-order window alone keeps
// too few cache misses in flight (measured: +5-12% bandwidth; F32 steps
// cover 256 bytes and gain nothing, so PF_LINES is 0 for them). Reading
// past a row is reading the next row: rows follow each other in memory.
#define GEMV_PF 1024

#define DEFINE_MATMUL(SUFFIX, WT, LOADV, LOADS, PF_LINES)                                               \
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
    /* matrix-vector: one row at a time, 64 inputs per step in 8 accumulators, \
       so that the weights stream through memory in order, one sequential     \
       stream per thread, as the hardware prefetchers like best */            \
    static inline float dot8_##SUFFIX(const WT *w, const float *x, int K) {                            \
        __m256 a[8];                                                                                   \
        for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();                                        \
        int k = 0;                                                                                     \
        for (; k + 64 <= K; k += 64) {                                                                 \
            for (int l = 0; l < PF_LINES; l++) /* the weights 1 KiB ahead, see GEMV_PF */                \
                _mm_prefetch((const char *)(w + k) + GEMV_PF + 64 * l, _MM_HINT_T0);                   \
            for (int i = 0; i < 8; i++) a[i] = _mm256_fmadd_ps(LOADV(w + k + 8 * i), load_f32(x + k + 8 * i), a[i]); \
        }                                                                                              \
        for (int i = 0; k + 8 <= K; k += 8, i++) a[i] = _mm256_fmadd_ps(LOADV(w + k), load_f32(x + k), a[i]); \
        __m256 s8 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),  \
                                  _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7]))); \
        float s = hsum(s8);                                                                            \
        for (; k < K; k++) s += LOADS(w + k) * x[k];                                                   \
        return s;                                                                                      \
    }                                                                                                  \
    static void gemv_##SUFFIX(float *out, const float *x, const uint8_t *w, size_t rs, int K, int n0,  \
                              int n1) {                                                                \
        for (int n = n0; n < n1; n++) out[n] = dot8_##SUFFIX((const WT *)(w + (size_t)n * rs), x, K);  \
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
    /* panel p (kc, NR) [k][r] = W[n + r][k0 + k], rows beyond nr zero */                              \
    static void pack_##SUFFIX(float *p, const uint8_t *w, size_t rs, int n, int nr, int k0, int kc) {  \
        for (int r0 = 0; r0 < NR; r0 += 8) {                                                           \
            if (r0 + 8 <= nr) {                                                                        \
                const WT *rows[8];                                                                     \
                for (int i = 0; i < 8; i++) rows[i] = (const WT *)(w + (size_t)(n + r0 + i) * rs) + k0; \
                int k = 0;                                                                             \
                for (; k + 8 <= kc; k += 8) {                                                          \
                    __m256 r[8];                                                                       \
                    for (int i = 0; i < 8; i++) r[i] = LOADV(rows[i] + k);                             \
                    transpose8(r);                                                                     \
                    for (int i = 0; i < 8; i++) _mm256_store_ps(p + (size_t)(k + i) * NR + r0, r[i]);  \
                }                                                                                      \
                for (; k < kc; k++)                                                                    \
                    for (int i = 0; i < 8; i++) p[(size_t)k * NR + r0 + i] = LOADS(rows[i] + k);       \
            } else {                                                                                   \
                for (int i = 0; i < 8; i++) {                                                          \
                    int r = r0 + i;                                                                    \
                    const WT *row = r < nr ? (const WT *)(w + (size_t)(n + r) * rs) + k0 : NULL;       \
                    for (int k = 0; k < kc; k++) p[(size_t)k * NR + r] = row ? LOADS(row + k) : 0.0f;  \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    static void gemm_##SUFFIX(float *out, int ldo, const float *x, int ldx, const uint8_t *w, size_t rs, \
                              int T, int K, int n0, int n1) {                                          \
        _Alignas(32) float panel[KC * NR];                                                             \
        for (int k0 = 0; k0 < K; k0 += KC) {                                                           \
            int kc = K - k0 < KC ? K - k0 : KC;                                                        \
            for (int n = n0; n < n1; n += NR) {                                                        \
                int nr = n1 - n < NR ? n1 - n : NR;                                                    \
                /* the panel after this one: the next rows, or the next block of inputs */             \
                int nn = n + NR < n1 ? n + NR : n0, nk = n + NR < n1 ? k0 : k0 + KC;                   \
                next_panel np = {w + (size_t)nn * rs + (size_t)nk * sizeof(WT), rs,                    \
                                 n1 - nn < NR ? n1 - nn : NR,                                          \
                                 (int)(((K - nk < KC ? K - nk : KC) * sizeof(WT) + 63) / 64)};         \
                pack_##SUFFIX(panel, w, rs, n, nr, k0, kc);                                            \
                panel_times_tokens(out + n, ldo, x + k0, ldx, panel, T, kc, nr, k0 > 0,                \
                                   nk < K ? &np : NULL);                                               \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    static void matmul_##SUFFIX(float *out, int ldo, const float *x, int ldx, const void *xq,          \
                                const void *wv, size_t rs, int T, int K, int n0, int n1) {             \
        (void)xq;                                                                                      \
        const uint8_t *w = wv;                                                                         \
        if (T >= PACK_MIN_T) gemm_##SUFFIX(out, ldo, x, ldx, w, rs, T, K, n0, n1);                     \
        else if (T >= TB) tiles_##SUFFIX(out, ldo, x, ldx, w, rs, T, K, n0, n1);                       \
        else                                                                                           \
            for (int t = 0; t < T; t++) gemv_##SUFFIX(out + (size_t)t * ldo, x + (size_t)t * ldx, w, rs, K, n0, n1); \
    }

DEFINE_MATMUL(f32, float, load_f32, scalar_f32, 0)
DEFINE_MATMUL(f16, uint16_t, load_f16, scalar_f16, 2)

static float dot_f32(const float *a, const float *b, int n) { return dot1_f32(a, b, n); }

static void axpy_f32(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, load_f32(x + i), load_f32(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
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
static void gelu_tanh_f32(float *x, int n) {
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
static void softmax_f32(float *x, int n, float scale) {
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
    .matmul = {[GGML_TYPE_F32] = matmul_f32, [GGML_TYPE_F16] = matmul_f16,
               [GGML_TYPE_Q8_0] = avx2_matmul_q8_0, [GGML_TYPE_Q4_0] = avx2_matmul_q4_0},
    .dot_f32 = dot_f32,
    .axpy_f32 = axpy_f32,
    .quantize_row_q8_0 = avx2_quantize_row_q8_0,
    .gelu_tanh_f32 = gelu_tanh_f32,
    .softmax_f32 = softmax_f32,
};
