// gemm_x86.h: the packed GEMM of prefill, written once over a vector type
// and included by kernels_avx2.c (8 floats per vector) and kernels_avx512.c
// (16). Not a header of its own API: every function here is static, so each
// including file gets its own copy compiled for its instruction set.
//
//   out (T, N) [t][n] = sum_k x[t][k] W[n][k], T >= PACK_MIN_T tokens
//
// The weights are copied in panels of NR = NV * VW rows x KC inputs into a
// small stack buffer, transposed so that one vector holds VW rows at one
// input (F16 converted to F32 here, once, instead of once per token). A
// panel stays in L1 while every group of MR tokens passes through the
// register kernel: MR x NV vectors of outputs in accumulators, each weight
// vector used MR times and each broadcast activation NV times, no
// horizontal sums. Blocks of KB inputs (input_block) keep the activations
// the tokens share (T x KB floats) in L2 while every panel of rows passes
// through them. The next panel's weights are fetched into cache while this one
// computes.
//
// The including file defines, before including this:
//   VEC, VW                 the vector type and its width in floats
//   VLOAD(p), VLOADU(p)     aligned and unaligned loads of VW floats
//   VSTOREU(p, v), VZERO(), VSET1(f), VFMA(a, b, c) = a * b + c
//   NV, MR, KC              vectors of rows per panel, tokens per tile, inputs per panel
// and gets pack_<T> and gemm_<T> from DEFINE_GEMM(T, WT, LOAD8, LOAD1), where
// LOAD8(p) reads 8 weights of type WT as a __m256 and LOAD1(p) one as a float.
#ifndef GPT_GEMM_X86_H
#define GPT_GEMM_X86_H

#include <immintrin.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "util.h"

// 8 weights as floats, and one: what DEFINE_GEMM packs with (and the AVX2
// matrix-vector kernels read with)
static inline __m256 load8_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 load8_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline float load1_f32(const float *p) { return *p; }
static inline float load1_f16(const uint16_t *p) { return fp16_to_fp32(*p); }

#define NR (VW * NV)      // weight rows per panel
#define PACK_MIN_T 8      // fewer tokens do not repay the packing
#if MR < 4 || MR > 8
#error "tile_packed_m handles tiles of 4 to 8 tokens"
#endif

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
    // the loops over i and v are unrolled even at -O2, so that c stays in
    // registers (GCC 12 at -O2 keeps it on the stack: 2.5x slower)
    VEC c[MR][NV];
    const float *xr[MR];
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) {
        xr[i] = x + (size_t)i * ldx;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) c[i][v] = accumulate ? VLOADU(out + (size_t)i * ldo + VW * v) : VZERO();
    }
    for (int k = 0; k < kc; k++, p += NR) {
        VEC b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = VLOAD(p + VW * v);
#pragma GCC unroll 8
        for (int i = 0; i < m; i++) {
            VEC a = VSET1(xr[i][k]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) c[i][v] = VFMA(a, b[v], c[i][v]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < m; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) VSTOREU(out + (size_t)i * ldo + VW * v, c[i][v]);
}

// A group of m <= MR tokens, with the tile size a constant again.
static void tile_packed_m(int m, float *out, int ldo, const float *x, int ldx, const float *p, int kc, int acc) {
    switch (m) {
#if MR >= 8
    case 8: tile_packed(8, out, ldo, x, ldx, p, kc, acc); break;
#endif
#if MR >= 7
    case 7: tile_packed(7, out, ldo, x, ldx, p, kc, acc); break;
#endif
#if MR >= 6
    case 6: tile_packed(6, out, ldo, x, ldx, p, kc, acc); break;
#endif
#if MR >= 5
    case 5: tile_packed(5, out, ldo, x, ldx, p, kc, acc); break;
#endif
    case 4: tile_packed(4, out, ldo, x, ldx, p, kc, acc); break;
    case 3: tile_packed(3, out, ldo, x, ldx, p, kc, acc); break;
    case 2: tile_packed(2, out, ldo, x, ldx, p, kc, acc); break;
    default: tile_packed(1, out, ldo, x, ldx, p, kc, acc); break;
    }
}

// The weights the next panel will pack: n_rows rows of row_lines cache lines,
// rs bytes apart. They come from memory (a prompt reads every weight once),
// so they are fetched a few lines per register tile while this panel
// computes, and packing finds them in cache. The position advances line
// by line: no division per prefetch (two of them per line cost a tenth of
// the GEMM's time).
//
// PANEL_PF_HINT is the cache level they go to: L2 unless the including file
// says otherwise (kernels_avx512.c asks for L1).
#ifndef PANEL_PF_HINT
#define PANEL_PF_HINT _MM_HINT_T1
#endif
typedef struct {
    const uint8_t *rows;
    size_t rs;
    int n_rows, row_lines;
    int row, line;  // the next line to fetch
} next_panel;

static inline void prefetch_panel_lines(next_panel *np, int count) {
    for (; count > 0 && np->row < np->n_rows; count--) {
        _mm_prefetch((const char *)np->rows + (size_t)np->row * np->rs + (size_t)np->line * 64, PANEL_PF_HINT);
        if (++np->line == np->row_lines) np->line = 0, np->row++;
    }
}

// Every token against one packed panel of nr <= NR rows: out (T, nr) with
// row stride ldo; x (T, kc) with stride ldx.
static void panel_times_tokens(float *out, int ldo, const float *x, int ldx, const float *panel, int T, int kc, int nr,
                               int accumulate, next_panel *np) {
    int t = 0;
    if (nr == NR) {
        int tiles = T / MR, per_tile = np ? (np->n_rows * np->row_lines + tiles - 1) / tiles : 0;
        for (; t + MR <= T; t += MR) {
            if (per_tile) prefetch_panel_lines(np, per_tile);  // this tile's share of the next panel
            tile_packed(MR, out + (size_t)t * ldo, ldo, x + (size_t)t * ldx, ldx, panel, kc, accumulate);
        }
        if (t < T) tile_packed_m(T - t, out + (size_t)t * ldo, ldo, x + (size_t)t * ldx, ldx, panel, kc, accumulate);
        return;
    }
    // a last panel short of NR rows (its missing rows are packed as zeros):
    // the tile goes through a buffer so nothing beyond nr is written
    _Alignas(64) float tmp[MR * NR];
    for (; t < T; t += MR) {
        int m = T - t < MR ? T - t : MR;
        for (int i = 0; i < m; i++)
            for (int r = 0; r < NR; r++) tmp[i * NR + r] = accumulate && r < nr ? out[(size_t)(t + i) * ldo + r] : 0.0f;
        tile_packed_m(m, tmp, NR, x + (size_t)t * ldx, ldx, panel, kc, 1);
        for (int i = 0; i < m; i++)
            for (int r = 0; r < nr; r++) out[(size_t)(t + i) * ldo + r] = tmp[i * NR + r];
    }
}

// Inputs per block: a block's activations (T x KB floats) are read once per
// panel of rows, so they must stay in L2, and the weights are read KB inputs
// at a time from each row. Panel after panel over a block (rather than one
// KC slice of every row, then the next slice) reads each row's KB inputs in
// one go where the hardware prefetchers follow it; measured on a Xeon with
// the weights in DRAM (124M shapes, T = 128): 89 -> 111 GFLOP/s (F32) and
// 91 -> 123 (F16) on one core. The budget is half the L2 cache, between
// 128 and 512 KiB (sysconf's figure, read once).
static int input_block(int T) {
    static _Atomic long budget;
    long b = atomic_load_explicit(&budget, memory_order_relaxed);
    if (!b) {
        long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
        b = l2 > 0 ? l2 / 2 : 256 << 10;
        b = b < (128 << 10) ? 128 << 10 : b > (512 << 10) ? 512 << 10 : b;
        atomic_store_explicit(&budget, b, memory_order_relaxed);
    }
    int kb = (int)(b / ((long)T * (long)sizeof(float))) / KC * KC;
    return kb > KC ? kb : KC;
}

#define DEFINE_GEMM(SUFFIX, WT, LOAD8, LOAD1)                                                          \
    /* panel p (kc, NR) [k][r] = W[n + r][k0 + k], rows beyond nr zero */                              \
    static void pack_##SUFFIX(float *p, const uint8_t *w, size_t rs, int n, int nr, int k0, int kc) {  \
        for (int r0 = 0; r0 < NR; r0 += 8) {                                                           \
            if (r0 + 8 <= nr) {                                                                        \
                const WT *rows[8];                                                                     \
                for (int i = 0; i < 8; i++) rows[i] = (const WT *)(w + (size_t)(n + r0 + i) * rs) + k0; \
                int k = 0;                                                                             \
                for (; k + 8 <= kc; k += 8) {                                                          \
                    __m256 r[8];                                                                       \
                    for (int i = 0; i < 8; i++) r[i] = LOAD8(rows[i] + k);                             \
                    transpose8(r);                                                                     \
                    for (int i = 0; i < 8; i++) _mm256_store_ps(p + (size_t)(k + i) * NR + r0, r[i]);  \
                }                                                                                      \
                for (; k < kc; k++)                                                                    \
                    for (int i = 0; i < 8; i++) p[(size_t)k * NR + r0 + i] = LOAD1(rows[i] + k);       \
            } else {                                                                                   \
                for (int i = 0; i < 8; i++) {                                                          \
                    int r = r0 + i;                                                                    \
                    const WT *row = r < nr ? (const WT *)(w + (size_t)(n + r) * rs) + k0 : NULL;       \
                    for (int k = 0; k < kc; k++) p[(size_t)k * NR + r] = row ? LOAD1(row + k) : 0.0f;  \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    /* out (T, ldo) rows [n0, n1) for T >= PACK_MIN_T tokens: blocks of KB inputs, within a   \
       block panel after panel of rows, each panel through its KC-wide slices in turn */        \
    static void gemm_##SUFFIX(float *out, int ldo, const float *x, int ldx, const uint8_t *w, size_t rs, \
                              int T, int K, int n0, int n1) {                                          \
        _Alignas(64) float panel[KC * NR];                                                             \
        int KB = input_block(T);                                                                       \
        for (int kb = 0; kb < K; kb += KB) {                                                           \
            int ke = kb + KB < K ? kb + KB : K;                                                        \
            for (int n = n0; n < n1; n += NR) {                                                        \
                int nr = n1 - n < NR ? n1 - n : NR;                                                    \
                for (int k0 = kb; k0 < ke; k0 += KC) {                                                 \
                    int kc = ke - k0 < KC ? ke - k0 : KC;                                              \
                    /* the panel after this one: the next slice, or the next rows' first */            \
                    int more = k0 + KC < ke, nn = more ? n : n + NR, nk = more ? k0 + KC : kb;         \
                    next_panel np = {w + (size_t)nn * rs + (size_t)nk * sizeof(WT), rs,                \
                                     n1 - nn < NR ? n1 - nn : NR,                                      \
                                     (int)(((ke - nk < KC ? ke - nk : KC) * sizeof(WT) + 63) / 64), 0, 0}; \
                    pack_##SUFFIX(panel, w, rs, n, nr, k0, kc);                                        \
                    panel_times_tokens(out + n, ldo, x + k0, ldx, panel, T, kc, nr, k0 > 0,            \
                                       nn < n1 ? &np : NULL);                                          \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

#endif
