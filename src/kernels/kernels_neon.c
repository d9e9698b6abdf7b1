// kernels_neon.c: aarch64 kernels on Advanced SIMD (NEON). Every ARMv8-A CPU
// has NEON, including the half <-> single conversions used for F16 weights,
// so kernels_select() hands this table out without a run-time check. CMake
// compiles this file only for aarch64.
//
// Float products (F32, F16 weights) follow the AVX2 kernels with 4-lane
// vectors: a tile of RB weight rows x TB tokens keeps RB*TB accumulators in
// registers (aarch64 has 32 vector registers), and decode (T = 1) streams 4
// rows at once with two accumulators each.
//
// Quantized products (Q8_0, Q4_0 weights against Q8_0 activations) compute
// each block's integer dot product exactly -- SDOT when the compiler targets
// the dot-product extension (-march=armv8.2-a+dotprod and later), else
// widening multiplies (SMULL) with pairwise accumulation (SADALP), both exact
// for every int8 value -- then scale and accumulate it per output exactly as
// the scalar kernel does, (dw * dx) * acc added block by block, so with the
// project's flags (-std=c11: no FMA contraction) the results equal the
// scalar kernel's bit for bit.
#include "kernels.h"
#include "util.h"

#include <arm_neon.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

// ---- helpers -----------------------------------------------------------------------

static ALWAYS_INLINE float32x4_t load_f32(const float *p) { return vld1q_f32(p); }
// 4 halves to floats (FCVTL: exact, like fp16_to_fp32)
static ALWAYS_INLINE float32x4_t load_f16(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}
static ALWAYS_INLINE float scalar_f32(const float *p) { return *p; }
static ALWAYS_INLINE float scalar_f16(const uint16_t *p) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(*p))), 0);
}

// ---- F32 and F16 weights -------------------------------------------------------------

#define RB 4  // weight rows per tile
#define TB 4  // tokens per tile: 16 accumulators + 4 weights + 1 activation of 32 registers

// One family of kernels per weight element type WT, with LOADV loading 4
// weights as floats and LOADS one.
#define DEFINE_MATMUL(SUFFIX, WT, LOADV, LOADS)                                                         \
    /* out[t][n] for one weight row and one token, any K */                                            \
    static inline float dot1_##SUFFIX(const WT *w, const float *x, int K) {                            \
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;                                 \
        int k = 0;                                                                                     \
        for (; k + 16 <= K; k += 16) {                                                                 \
            a0 = vfmaq_f32(a0, LOADV(w + k), load_f32(x + k));                                         \
            a1 = vfmaq_f32(a1, LOADV(w + k + 4), load_f32(x + k + 4));                                 \
            a2 = vfmaq_f32(a2, LOADV(w + k + 8), load_f32(x + k + 8));                                 \
            a3 = vfmaq_f32(a3, LOADV(w + k + 12), load_f32(x + k + 12));                               \
        }                                                                                              \
        for (; k + 4 <= K; k += 4) a0 = vfmaq_f32(a0, LOADV(w + k), load_f32(x + k));                   \
        float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));                         \
        for (; k < K; k++) s += LOADS(w + k) * x[k];                                                   \
        return s;                                                                                      \
    }                                                                                                  \
    /* matrix-vector: 4 rows at a time against one token (out indexed by n) */                         \
    static void gemv_##SUFFIX(float *out, const float *x, const uint8_t *w, size_t rs, int K, int n0,  \
                              int n1) {                                                                \
        int n = n0;                                                                                    \
        for (; n + 4 <= n1; n += 4) {                                                                  \
            const WT *w0 = (const WT *)(w + (size_t)n * rs), *w1 = (const WT *)((const uint8_t *)w0 + rs); \
            const WT *w2 = (const WT *)((const uint8_t *)w1 + rs), *w3 = (const WT *)((const uint8_t *)w2 + rs); \
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;                              \
            float32x4_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                            \
            int k = 0;                                                                                 \
            for (; k + 8 <= K; k += 8) {                                                               \
                float32x4_t xa = load_f32(x + k), xb = load_f32(x + k + 4);                            \
                a0 = vfmaq_f32(a0, LOADV(w0 + k), xa);                                                 \
                a1 = vfmaq_f32(a1, LOADV(w1 + k), xa);                                                 \
                a2 = vfmaq_f32(a2, LOADV(w2 + k), xa);                                                 \
                a3 = vfmaq_f32(a3, LOADV(w3 + k), xa);                                                 \
                b0 = vfmaq_f32(b0, LOADV(w0 + k + 4), xb);                                             \
                b1 = vfmaq_f32(b1, LOADV(w1 + k + 4), xb);                                             \
                b2 = vfmaq_f32(b2, LOADV(w2 + k + 4), xb);                                             \
                b3 = vfmaq_f32(b3, LOADV(w3 + k + 4), xb);                                             \
            }                                                                                          \
            for (; k + 4 <= K; k += 4) {                                                               \
                float32x4_t xa = load_f32(x + k);                                                      \
                a0 = vfmaq_f32(a0, LOADV(w0 + k), xa);                                                 \
                a1 = vfmaq_f32(a1, LOADV(w1 + k), xa);                                                 \
                a2 = vfmaq_f32(a2, LOADV(w2 + k), xa);                                                 \
                a3 = vfmaq_f32(a3, LOADV(w3 + k), xa);                                                 \
            }                                                                                          \
            float s0 = vaddvq_f32(vaddq_f32(a0, b0)), s1 = vaddvq_f32(vaddq_f32(a1, b1));              \
            float s2 = vaddvq_f32(vaddq_f32(a2, b2)), s3 = vaddvq_f32(vaddq_f32(a3, b3));              \
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
        float32x4_t acc[RB][TB];                                                                       \
        for (int r = 0; r < RB; r++)                                                                   \
            for (int j = 0; j < TB; j++) acc[r][j] = vdupq_n_f32(0.0f);                                \
        const WT *wr[RB];                                                                              \
        for (int r = 0; r < RB; r++) wr[r] = (const WT *)(w + (size_t)(n + r) * rs);                   \
        const float *xr[TB];                                                                           \
        for (int j = 0; j < TB; j++) xr[j] = x + (size_t)(t + j) * ldx;                                \
        int k = 0;                                                                                     \
        for (; k + 4 <= K; k += 4) {                                                                   \
            float32x4_t wv[RB];                                                                        \
            for (int r = 0; r < RB; r++) wv[r] = LOADV(wr[r] + k);                                     \
            for (int j = 0; j < TB; j++) {                                                             \
                float32x4_t xv = load_f32(xr[j] + k);                                                  \
                for (int r = 0; r < RB; r++) acc[r][j] = vfmaq_f32(acc[r][j], wv[r], xv);              \
            }                                                                                          \
        }                                                                                              \
        for (int r = 0; r < RB; r++)                                                                   \
            for (int j = 0; j < TB; j++) {                                                             \
                float s = vaddvq_f32(acc[r][j]);                                                       \
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

// ---- Q8_0 and Q4_0 weights against Q8_0 activations ------------------------------------

// Block b of a weight row as two int8 vectors (weights 0-15 and 16-31) and
// its fp16 scale. type is a constant at every call, so each caller is
// specialised to one weight type.
static ALWAYS_INLINE void load_wblock(uint32_t type, const uint8_t *row, int b, int8x16_t *lo, int8x16_t *hi,
                                      uint16_t *d) {
    if (type == GGML_TYPE_Q8_0) {
        const block_q8_0 *blk = (const block_q8_0 *)row + b;
        *lo = vld1q_s8(blk->qs);
        *hi = vld1q_s8(blk->qs + 16);
        *d = blk->d;
    } else {  // Q4_0: byte j = weight j (low nibble) | weight j + 16 (high nibble), stored + 8
        const block_q4_0 *blk = (const block_q4_0 *)row + b;
        uint8x16_t v = vld1q_u8(blk->qs);
        *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), vdupq_n_s8(8));
        *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), vdupq_n_s8(8));
        *d = blk->d;
    }
}

// 4 lanes whose sum is the exact dot product of 32 int8 weights and 32 int8
// activations (|sum| <= 32 * 128 * 128, far inside int32).
static ALWAYS_INLINE int32x4_t idot32(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
#else
    // each int16 product is at most 128 * 128 = 16384: no overflow before SADALP widens
    int32x4_t a = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    int32x4_t b = vpaddlq_s16(vmull_high_s8(w0, x0));
    a = vpadalq_s16(a, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    b = vpadalq_s16(b, vmull_high_s8(w1, x1));
    return vaddq_s32(a, b);
#endif
}

#define RQ 4  // weight rows per quantized tile (one float lane each)
#define TQ 4  // tokens per quantized tile

// out[t + j][n + r] for r < nrows (1..RQ), j < tt (1..TQ), over nb blocks.
// Rows past nrows repeat the last valid row (reads stay in bounds, results
// are dropped), so every tile runs full-width. For each block and token the
// RQ integer sums are reduced into one vector, lane r = row r, and scaled:
// s[j] += (dw * dx) * acc, the scalar kernel's arithmetic, lane by lane.
static ALWAYS_INLINE void qtile(uint32_t type, float *out, int ldo, const block_q8_0 *xq, int nb,
                                const uint8_t *w, size_t rs, int n, int nrows, int t, int tt) {
    const uint8_t *wr[RQ];
    for (int r = 0; r < RQ; r++) wr[r] = w + (size_t)(n + (r < nrows ? r : nrows - 1)) * rs;
    const block_q8_0 *xr[TQ];
    for (int j = 0; j < tt; j++) xr[j] = xq + (size_t)(t + j) * nb;
    float32x4_t s[TQ];
    for (int j = 0; j < tt; j++) s[j] = vdupq_n_f32(0.0f);
    for (int b = 0; b < nb; b++) {
        int8x16_t wl[RQ], wh[RQ];
        uint16_t wd[RQ];
        for (int r = 0; r < RQ; r++) load_wblock(type, wr[r], b, &wl[r], &wh[r], &wd[r]);
        float32x4_t dw = load_f16(wd);
        for (int j = 0; j < tt; j++) {
            const block_q8_0 *xb = xr[j] + b;
            int8x16_t xl = vld1q_s8(xb->qs), xh = vld1q_s8(xb->qs + 16);
            int32x4_t a0 = idot32(wl[0], wh[0], xl, xh), a1 = idot32(wl[1], wh[1], xl, xh);
            int32x4_t a2 = idot32(wl[2], wh[2], xl, xh), a3 = idot32(wl[3], wh[3], xl, xh);
            int32x4_t acc = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));  // lane r = row r
            float32x4_t scale = vmulq_n_f32(dw, scalar_f16(&xb->d));
            s[j] = vaddq_f32(s[j], vmulq_f32(scale, vcvtq_f32_s32(acc)));
        }
    }
    for (int j = 0; j < tt; j++) {
        float *o = out + (size_t)(t + j) * ldo + n;
        if (nrows == RQ) {
            vst1q_f32(o, s[j]);
        } else {
            float tmp[RQ];
            vst1q_f32(tmp, s[j]);
            for (int r = 0; r < nrows; r++) o[r] = tmp[r];
        }
    }
}

// All RQ-row tiles of rows [n0, n1) for tokens t..t+tt-1.
static ALWAYS_INLINE void qrows(uint32_t type, float *out, int ldo, const block_q8_0 *xq, int nb,
                                const uint8_t *w, size_t rs, int n0, int n1, int t, int tt) {
    for (int n = n0; n < n1; n += RQ) qtile(type, out, ldo, xq, nb, w, rs, n, n1 - n < RQ ? n1 - n : RQ, t, tt);
}

// The token count of a tile as a constant, so each count gets its own
// unrolled code.
static ALWAYS_INLINE void qrows_any(uint32_t type, float *out, int ldo, const block_q8_0 *xq, int nb,
                                    const uint8_t *w, size_t rs, int n0, int n1, int t, int tt) {
    switch (tt) {
    case 1: qrows(type, out, ldo, xq, nb, w, rs, n0, n1, t, 1); break;
    case 2: qrows(type, out, ldo, xq, nb, w, rs, n0, n1, t, 2); break;
    case 3: qrows(type, out, ldo, xq, nb, w, rs, n0, n1, t, 3); break;
    default: qrows(type, out, ldo, xq, nb, w, rs, n0, n1, t, 4); break;
    }
}

static ALWAYS_INLINE void matmul_quant(uint32_t type, float *out, int ldo, const void *xqv, const void *wv,
                                       size_t rs, int T, int K, int n0, int n1) {
    const block_q8_0 *xq = xqv;
    const uint8_t *w = wv;
    int nb = K / QK;
    // blocks of 48 rows keep their weights in L1/L2 while every token passes
    for (int nb0 = n0; nb0 < n1; nb0 += 48) {
        int ne = nb0 + 48 < n1 ? nb0 + 48 : n1;
        for (int t = 0; t < T; t += TQ) qrows_any(type, out, ldo, xq, nb, w, rs, nb0, ne, t, T - t < TQ ? T - t : TQ);
    }
}

static void matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    matmul_quant(GGML_TYPE_Q8_0, out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

static void matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    matmul_quant(GGML_TYPE_Q4_0, out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

// ---- vector helpers and activation quantization ------------------------------------

// Attention's S V over the cache's element type (F32 or F16 rows, read
// through LOAD4/LOAD1 as in the matrix-vector kernels): weighted_rows_<T>.
// weighted_rows1_<T>: o[d] = sum_p s[p] v[p][d] for one query from channel
// d0 on, blocks of 64 channels in 16 accumulators, the value rows read once,
// in order (decode). weighted_rows4_<T>: four queries x 16 channels per tile
// (prefill), 16 accumulators, each value vector used by the four queries.
#define DEFINE_WEIGHTED_ROWS(T, VT, LOAD4, LOAD1)                                                                     \
    static void weighted_rows1_##T(float *o, const float *s, const VT *v, int npos, int n, int d0) {               \
        int d = d0;                                                                                                  \
        for (; d + 64 <= n; d += 64) {                                                                               \
            float32x4_t acc[16];                                                                                     \
            for (int j = 0; j < 16; j++) acc[j] = vdupq_n_f32(0.0f);                                                 \
            for (int p = 0; p < npos; p++) {                                                                         \
                const VT *vp = v + (size_t)p * n + d;                                                                \
                for (int j = 0; j < 16; j++) acc[j] = vfmaq_n_f32(acc[j], LOAD4(vp + 4 * j), s[p]);                  \
            }                                                                                                        \
            for (int j = 0; j < 16; j++) vst1q_f32(o + d + 4 * j, acc[j]);                                           \
        }                                                                                                            \
        for (; d + 4 <= n; d += 4) {                                                                                 \
            float32x4_t acc = vdupq_n_f32(0.0f);                                                                     \
            for (int p = 0; p < npos; p++) acc = vfmaq_n_f32(acc, LOAD4(v + (size_t)p * n + d), s[p]);               \
            vst1q_f32(o + d, acc);                                                                                   \
        }                                                                                                            \
        for (; d < n; d++) {                                                                                         \
            float a = 0.0f;                                                                                          \
            for (int p = 0; p < npos; p++) a += s[p] * LOAD1(v + (size_t)p * n + d);                                 \
            o[d] = a;                                                                                                \
        }                                                                                                            \
    }                                                                                                                \
    static void weighted_rows4_##T(float *out, int ldo, const float *s, int lds, const VT *v, int npos, int n) {     \
        int d = 0;                                                                                                   \
        for (; d + 16 <= n; d += 16) {                                                                               \
            float32x4_t acc[4][4];                                                                                   \
            for (int i = 0; i < 4; i++)                                                                              \
                for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_f32(0.0f);                                           \
            for (int p = 0; p < npos; p++) {                                                                         \
                const VT *vp = v + (size_t)p * n + d;                                                                \
                float32x4_t vv[4];                                                                                   \
                for (int j = 0; j < 4; j++) vv[j] = LOAD4(vp + 4 * j);                                               \
                for (int i = 0; i < 4; i++) {                                                                        \
                    float w = s[(size_t)i * lds + p];                                                                \
                    for (int j = 0; j < 4; j++) acc[i][j] = vfmaq_n_f32(acc[i][j], vv[j], w);                        \
                }                                                                                                    \
            }                                                                                                        \
            for (int i = 0; i < 4; i++)                                                                              \
                for (int j = 0; j < 4; j++) vst1q_f32(out + (size_t)i * ldo + d + 4 * j, acc[i][j]);                 \
        }                                                                                                            \
        if (d < n)                                                                                                   \
            for (int i = 0; i < 4; i++) weighted_rows1_##T(out + (size_t)i * ldo, s + (size_t)i * lds, v, npos, n, d); \
    }                                                                                                                \
    static void weighted_rows_##T(float *out, int ldo, const float *s, int lds, const VT *v, int m, int npos, int n) { \
        int i = 0;                                                                                                   \
        for (; i + 4 <= m; i += 4)                                                                                   \
            weighted_rows4_##T(out + (size_t)i * ldo, ldo, s + (size_t)i * lds, lds, v, npos, n);                    \
        for (; i < m; i++) weighted_rows1_##T(out + (size_t)i * ldo, s + (size_t)i * lds, v, npos, n, 0);            \
    }

DEFINE_WEIGHTED_ROWS(f32, float, load_f32, scalar_f32)
DEFINE_WEIGHTED_ROWS(f16, uint16_t, load_f16, scalar_f16)

// 4 at a time by FCVTN (round to nearest even, FPCR's default mode), the rest
// one by one
static void f32_to_f16_row(const float *x, uint16_t *y, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// The scalar kernel's rounding, exactly: amax by FMAXNM (ignores NaN like
// fmaxf), d = amax / 127 stored through fp32_to_fp16, q = round half away
// from zero (FCVTAS, like roundf) of x * (1 / d).
static void quantize_row_q8_0(const float *x, block_q8_0 *y, int n) {
    for (int b = 0; b < n / QK; b++) {
        const float *xb = x + (size_t)b * QK;
        float32x4_t v[8];
        for (int i = 0; i < 8; i++) v[i] = load_f32(xb + 4 * i);
        float32x4_t m = vabsq_f32(v[0]);
        for (int i = 1; i < 8; i++) m = vmaxnmq_f32(m, vabsq_f32(v[i]));
        float amax = vmaxnmvq_f32(vmaxnmq_f32(m, vdupq_n_f32(0.0f)));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        int16x8_t q16[4];
        for (int i = 0; i < 4; i++) {
            int32x4_t q0 = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i], id));
            int32x4_t q1 = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i + 1], id));
            q16[i] = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
        }
        vst1q_s8(y[b].qs, vcombine_s8(vmovn_s16(q16[0]), vmovn_s16(q16[1])));
        vst1q_s8(y[b].qs + 16, vcombine_s8(vmovn_s16(q16[2]), vmovn_s16(q16[3])));
    }
}

const kernel_table kernels_neon = {
    .name = "neon",
    .matmul = {[GGML_TYPE_F32] = matmul_f32, [GGML_TYPE_F16] = matmul_f16,
               [GGML_TYPE_Q8_0] = matmul_q8_0, [GGML_TYPE_Q4_0] = matmul_q4_0},
    .weighted_rows_f32 = weighted_rows_f32,
    .weighted_rows_f16 = weighted_rows_f16,
    .f32_to_f16_row = f32_to_f16_row,
    .quantize_row_q8_0 = quantize_row_q8_0,
};
