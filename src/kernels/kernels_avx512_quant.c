// kernels_avx512_quant.c: prefill with quantized weights (Q8_0, Q4_0) on
// CPUs with AVX-512 VNNI (Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4):
// an integer GEMM over blocks of 32, as the AVX2 kernels compute it (the
// activations quantized to Q8_0 by the caller, one scale per block on each
// side), with 16 tokens in the 16 lanes of a vector. Decode (one to three
// tokens) stays with the AVX2 matrix-vector kernels, but for Q4_0's
// row-by-row one, which has a VNNI version (kernels_avx2_quant.c).
//
// vpdpbusd multiplies 4 unsigned bytes of one operand with 4 signed bytes of
// the other and adds the 4 products to an int32 lane, and its signed operand
// can be one 32-bit word of memory broadcast to every lane. So:
//   - the activations are packed once per call, per block and per group of
//     16 tokens, into 8 vectors: vector j, lane t = bytes 4j..4j+3 of token
//     t's block, made unsigned by adding 128 (a flipped top bit);
//   - a weight row's block is 8 such words, each broadcast straight from
//     the file (Q8_0) or from the row's nibbles widened to bytes q - 8 once
//     per call (Q4_0), against the 8 activation vectors: 8 instructions for
//     32 weights x 16 tokens, exact int32 sums;
//   - adding 128 to the activations added 128 x (sum of the row's block) to
//     every lane: that is subtracted, then the lane is scaled by the two
//     scales in float and accumulated.
// A register tile is 8 rows x 16 tokens. The work per row and block (its
// scale, its sum, Q4_0's widening) is done once per TMAX tokens (once per
// call in prefill of up to 128 tokens), shared by every group of tokens;
// the activations of SEGB blocks of up to TMAX tokens are packed into a
// stack buffer (64 KiB) that stays in L2.
#include "kernels.h"
#include "util.h"

#include <immintrin.h>
#include <string.h>

#define TV 16     // tokens per vector
#define TMAX 128  // tokens per packed pass: 8 vectors
#define SEGB 16   // blocks per packed segment (512 inputs)
#define RB 8      // weight rows per register tile

// ---- packing the activations -----------------------------------------------------

// Transposes 16 rows x 8 int32 (z[p] = [row p | row p + 8], rows in the low
// and high 256 bits) into 8 vectors of 16: out[j] lane t = row t's word j.
// Three rounds; round k swaps bit k of the vector index with bit k of the
// lane index (a 2-source permutation per pair of vectors, whose indices are
// made once per call by transpose_indices).
typedef struct {
    __m512i a[3], b[3];  // round k: where the lower and the upper vector of a pair take their lanes from
} transpose_idx;

static transpose_idx transpose_indices(void) {
    transpose_idx ti;
    for (int k = 0; k < 3; k++) {
        int bit = 1 << k, ia[16], ib[16];
        for (int l = 0; l < 16; l++) {
            ia[l] = (l & bit) ? 16 + (l & ~bit) : l;
            ib[l] = (l & bit) ? 16 + l : (l | bit);
        }
        ti.a[k] = _mm512_loadu_si512(ia), ti.b[k] = _mm512_loadu_si512(ib);
    }
    return ti;
}

static inline void transpose16x8(const transpose_idx *ti, __m512i z[8]) {
    for (int k = 0; k < 3; k++) {
        int bit = 1 << k;
        for (int p = 0; p < 8; p++) {
            if (p & bit) continue;
            __m512i a = z[p], b = z[p | bit];
            z[p] = _mm512_permutex2var_epi32(a, ti->a[k], b);
            z[p | bit] = _mm512_permutex2var_epi32(a, ti->b[k], b);
        }
    }
}

typedef struct {
    __m512i q[TMAX / TV][SEGB][8];  // u8 activations + 128, per group of 16 tokens, block, word
    __m512 d[TMAX / TV][SEGB];      // the activations' scales (0 for lanes past the last token)
} act_pack;

// Tokens [t0, t0 + nt) and blocks [b0, b0 + nb) of x (T rows of nbr blocks).
static void pack_acts(act_pack *ap, const block_q8_0 *x, int nbr, int t0, int nt, int b0, int nb) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const transpose_idx ti = transpose_indices();
    for (int g = 0; g * TV < nt; g++)
        for (int b = 0; b < nb; b++) {
            __m256i r[16];
            float d[16];
            for (int t = 0; t < 16; t++) {
                int tt = g * TV + t;
                const block_q8_0 *blk = x + (size_t)(t0 + tt) * nbr + b0 + b;
                r[t] = _mm256_xor_si256(tt < nt ? _mm256_loadu_si256((const __m256i *)blk->qs) : _mm256_setzero_si256(),
                                        flip);
                d[t] = tt < nt ? _cvtsh_ss(blk->d) : 0.0f;
            }
            __m512i z[8];
            for (int p = 0; p < 8; p++) z[p] = _mm512_inserti64x4(_mm512_castsi256_si512(r[p]), r[p + 8], 1);
            transpose16x8(&ti, z);
            for (int j = 0; j < 8; j++) ap->q[g][b][j] = z[j];
            ap->d[g][b] = _mm512_loadu_ps(d);
        }
}

// ---- the weight rows of a tile -----------------------------------------------------

typedef struct {
    float d[RB][SEGB];                  // scales
    int32_t corr[RB][SEGB];             // 128 x the block's sum of (signed) weights
    _Alignas(32) int8_t q[RB][SEGB][32];  // Q4_0: the weights widened to q - 8 (Q8_0 reads the file)
    const int8_t *qs[RB][SEGB];         // where each block's 32 signed weights are
} row_pack;

// sum of 32 unsigned bytes
static inline int sum_u8(__m256i v) {
    __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
}

static void pack_rows_q8(row_pack *rp, const uint8_t *w, size_t rs, int n, int n1, int b0, int nb) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int r = 0; r < RB; r++) {
        int row = n + r < n1 ? n + r : n1 - 1;  // rows past the end repeat the last; they are not stored
        const block_q8_0 *blk = (const block_q8_0 *)(w + (size_t)row * rs) + b0;
        for (int b = 0; b < nb; b++) {
            rp->d[r][b] = _cvtsh_ss(blk[b].d);
            __m256i q = _mm256_loadu_si256((const __m256i *)blk[b].qs);
            rp->corr[r][b] = 128 * (sum_u8(_mm256_xor_si256(q, flip)) - 32 * 128);
            rp->qs[r][b] = blk[b].qs;
        }
    }
}

static void pack_rows_q4(row_pack *rp, const uint8_t *w, size_t rs, int n, int n1, int b0, int nb) {
    const __m128i m = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (int r = 0; r < RB; r++) {
        int row = n + r < n1 ? n + r : n1 - 1;
        const block_q4_0 *blk = (const block_q4_0 *)(w + (size_t)row * rs) + b0;
        for (int b = 0; b < nb; b++) {
            rp->d[r][b] = _cvtsh_ss(blk[b].d);
            __m128i v = _mm_loadu_si128((const __m128i *)blk[b].qs);
            __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
            int sum = sum_u8(_mm256_set_m128i(hi, lo)) - 32 * 8;  // sum of q - 8
            _mm_store_si128((__m128i *)rp->q[r][b], _mm_sub_epi8(lo, eight));
            _mm_store_si128((__m128i *)(rp->q[r][b] + 16), _mm_sub_epi8(hi, eight));
            rp->corr[r][b] = 128 * sum;
            rp->qs[r][b] = rp->q[r][b];
        }
    }
}

// ---- the tile ----------------------------------------------------------------------

// out rows [n, n + nr) x tokens [t, t + nt) (+)= the segment's products.
static void tile(float *out, int ldo, const act_pack *ap, int g, const row_pack *rp, int nb, int n, int nr, int t,
                 int nt, int accumulate) {
    __m512 acc[RB];
    for (int r = 0; r < RB; r++) acc[r] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const __m512i *a = ap->q[g][b];
        __m512 da = ap->d[g][b];
        for (int r = 0; r < RB; r++) {
            const int8_t *wq = rp->qs[r][b];
            __m512i s = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                int32_t w4;  // 4 weights as one word (the file's blocks are 2 bytes off alignment)
                memcpy(&w4, wq + 4 * j, sizeof w4);
                s = _mm512_dpbusd_epi32(s, a[j], _mm512_set1_epi32(w4));
            }
            s = _mm512_sub_epi32(s, _mm512_set1_epi32(rp->corr[r][b]));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(da, _mm512_set1_ps(rp->d[r][b])), _mm512_cvtepi32_ps(s), acc[r]);
        }
    }
    float v[RB][TV];
    for (int r = 0; r < RB; r++) _mm512_storeu_ps(v[r], acc[r]);
    for (int i = 0; i < nt; i++)
        for (int r = 0; r < nr; r++) {
            float *o = out + (size_t)(t + i) * ldo + n + r;
            *o = accumulate ? *o + v[r][i] : v[r][i];
        }
}

typedef void (*pack_rows_fn)(row_pack *rp, const uint8_t *w, size_t rs, int n, int n1, int b0, int nb);

// The next tile's rows [n, n1) of the segment, into L2 while this tile
// computes: packing them would otherwise wait on memory (a tenth of Q8_0
// prefill was spent on the first load of each row's block).
static void prefetch_rows(const uint8_t *w, size_t rs, int n, int n1, size_t from, size_t to) {
    for (int r = n; r < n1; r++)
        for (size_t o = from & ~(size_t)63; o < to; o += 64) _mm_prefetch((const char *)w + (size_t)r * rs + o, _MM_HINT_T1);
}

static void gemm_quant(pack_rows_fn pack_rows, size_t block_bytes, float *out, int ldo, const block_q8_0 *x,
                       const uint8_t *w, size_t rs, int T, int K, int n0, int n1) {
    int nbr = K / QK;
    act_pack ap;
    row_pack rp;
    for (int t0 = 0; t0 < T; t0 += TMAX) {
        int nt = T - t0 < TMAX ? T - t0 : TMAX;
        for (int b0 = 0; b0 < nbr; b0 += SEGB) {
            int nb = nbr - b0 < SEGB ? nbr - b0 : SEGB;
            pack_acts(&ap, x, nbr, t0, nt, b0, nb);
            for (int n = n0; n < n1; n += RB) {
                int nr = n1 - n < RB ? n1 - n : RB;
                pack_rows(&rp, w, rs, n, n1, b0, nb);
                prefetch_rows(w, rs, n + RB, n + 2 * RB < n1 ? n + 2 * RB : n1, b0 * block_bytes, (b0 + nb) * block_bytes);
                for (int g = 0; g * TV < nt; g++)
                    tile(out, ldo, &ap, g, &rp, nb, n, nr, t0 + g * TV, nt - g * TV < TV ? nt - g * TV : TV, b0 > 0);
            }
        }
    }
}

// ---- the table entries ----------------------------------------------------------------

void avx512_matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    if (T < 4) avx2_matmul_q8_0(out, ldo, x, ldx, xq, w, w_row_bytes, T, K, n0, n1);
    else gemm_quant(pack_rows_q8, sizeof(block_q8_0), out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

void avx512_matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    if (T < 4) avx512_matmul_q4_0_few(out, ldo, x, ldx, xq, w, w_row_bytes, T, K, n0, n1);
    else gemm_quant(pack_rows_q4, sizeof(block_q4_0), out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}
