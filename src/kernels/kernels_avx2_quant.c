// kernels_avx2_quant.c: AVX2 products of quantized weights (Q8_0, Q4_0) with
// activations quantized to Q8_0, and the activation quantizer. Compiled
// with -mavx2 -mfma -mf16c (CMake gives every kernels_avx2*.c these flags).
//
// Integer dot products. AVX2 multiplies bytes with _mm256_maddubs_epi16,
// which takes one unsigned and one signed operand and sums adjacent pairs
// into int16; _mm256_madd_epi16 with ones then sums pairs of those into
// int32, so one 32-byte block gives 8 int32 lanes of 4 products each.
//   Q4_0: the nibbles are unsigned (0..15), so they go in as they are and the
//         offset comes off afterwards: sum (q - 8) a = sum q a - 8 sum a.
//         A pair is at most 2 * 15 * 127, far from int16 saturation.
//   Q8_0: both signed; the weight's sign moves onto the activation:
//         w a = |w| * (a * sign w). |w| <= 128 and |a| <= 127 (activations
//         never hold -128), so a pair is at most 2 * 128 * 127 = 32512.
// Each block's integer sum is exact; it is scaled by d_w * d_x in float.
//
// Instead of reducing each block's 8 lanes on its own, 8 such vectors (8
// rows of one token in decode, one row and 8 tokens in prefill) are reduced
// together by hsum8x8 into one vector of 8 sums, which is then scaled by 8
// scales at once: one conversion and one FMA per 8 dot products. Q4_0 packs
// two rows (decode, q4_two_rows) or two tokens (prefill, pack_pairs) into
// each vector, which halves the reduction.
//
//   decode (T < 4):  8 rows x 1 token per step, the activation block shared;
//                    weights stream from memory exactly once, the next 8
//                    rows prefetched in software.
//   prefill (T >= 4): 1 row x 8 tokens per step, chunks of 64 rows so a
//                    chunk's weights stay in L2 while every token group
//                    passes; groups short of 8 tokens repeat their last one.
// Scales and (Q4_0) activation sums are unpacked once per token and segment
// of at most SEG blocks into small stack arrays.
#include "kernels.h"

#include <immintrin.h>

#define SEG 256      // blocks per segment: K up to 8192 is one segment
#define CHUNK 64     // rows per prefill chunk
#define TG 8         // tokens per prefill group

static inline float f16(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i load32(const int8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

// 8 int32 lanes, each the sum of 4 products u * s (u unsigned, s signed bytes)
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// signed w . a as |w| . (a with w's sign)
static inline __m256i dot_s8s8(__m256i w, __m256i a) {
    return dot_u8s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// The 32 weights of a Q4_0 block as unsigned bytes 0..15 in element order:
// bytes 0..15 are the low nibbles (elements 0..15), 16..31 the high ones.
// The 16 bytes are loaded into both halves at once (a broadcast load costs
// no shuffle), the upper half shifted right by 4, then both masked.
static inline __m256i q4_nibbles(const uint8_t *qs) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// [a0+a1, b0+b1, a2+a3, b2+b3, ...]: adjacent lanes of a and b summed, a's
// sums in the even lanes. Blends run on every vector pipe; only the one
// in-lane shuffle competes with other shuffles (vphaddd is several times slower).
static inline __m256i sum_pairs32(__m256i a, __m256i b) {
    __m256i t = _mm256_blend_epi32(a, b, 0xAA);                           // a0 b1 a2 b3 ...
    __m256i u = _mm256_shuffle_epi32(_mm256_blend_epi32(b, a, 0xAA), 0xB1);  // a1 b0 a3 b2 ...
    return _mm256_add_epi32(t, u);
}

// The same one level up: 64-bit halves of each 128-bit lane summed, a's
// sums in lanes 0-1 (and 4-5), b's in 2-3 (and 6-7).
static inline __m256i sum_pairs64(__m256i a, __m256i b) {
    __m256i t = _mm256_blend_epi32(a, b, 0xCC);
    __m256i u = _mm256_shuffle_epi32(_mm256_blend_epi32(b, a, 0xCC), 0x4E);
    return _mm256_add_epi32(t, u);
}

// [sum(q0), sum(q1), ..., sum(q7)]: the 8 lanes of each vector summed
static inline __m256i hsum8x8(__m256i q0, __m256i q1, __m256i q2, __m256i q3, __m256i q4, __m256i q5,
                              __m256i q6, __m256i q7) {
    __m256i a = sum_pairs64(sum_pairs32(q0, q1), sum_pairs32(q2, q3));  // [q0..q3 lanes 0-3 | q0..q3 lanes 4-7]
    __m256i c = sum_pairs64(sum_pairs32(q4, q5), sum_pairs32(q6, q7));
    return _mm256_add_epi32(_mm256_blend_epi32(a, c, 0xF0), _mm256_permute2x128_si256(a, c, 0x21));
}


// Two rows' Q4_0 blocks against one activation block in one pair of
// maddubs: each vector holds 16 weights of row a in its low half and 16 of
// row b in its high half, against the activation half they meet (alo: a[0..15]
// twice, ahi: a[16..31] twice). Each int16 lane sums 4 products (at most
// 4 * 15 * 127 = 7620, no saturation). Returns 8 int32: 4 partial sums of row
// a, then 4 of row b.
static inline __m256i q4_two_rows(const uint8_t *qa, const uint8_t *qb, __m256i alo, __m256i ahi) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i w = _mm256_loadu2_m128i((const __m128i *)qb, (const __m128i *)qa);  // [qa | qb]
    __m256i lo = _mm256_and_si256(w, m), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m);
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// 8 half-precision scales from 8 places
static inline __m256 load8_f16(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3, uint16_t h4, uint16_t h5,
                               uint16_t h6, uint16_t h7) {
    return _mm256_cvtph_ps(_mm_set_epi16((short)h7, (short)h6, (short)h5, (short)h4, (short)h3, (short)h2,
                                         (short)h1, (short)h0));
}

// 8 * (sum of the 32 activations of a block)
// the sum of the 8 int32 lanes
static inline int hsum_epi32(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return _mm_cvtsi128_si32(h);
}

static inline int sum8_q8(const int8_t *qs) { return hsum_epi32(dot_u8s8(_mm256_set1_epi8(8), load32(qs))); }

// ---- decode: one token, 8 rows at a time --------------------------------------

// The 8 rows of a group are read 8 interleaved streams at once, a pattern the
// hardware prefetchers follow badly: measured on this machine's kind, decode
// ran latency-bound at a third of the memory bandwidth. So while a group is
// computed, the next group's rows (contiguous, 8 * rs bytes) are prefetched
// in equal parts per block: LINES lines per block of the group, enough to
// cover it (a Q8_0 block is 34 bytes: 8 * 34 / 64 = 4.25 lines, Q4_0 2.25).
// Q8_0 fetches the group after next, into L2: +6..9% tok/s against the next
// group into L1 (124M, 2 threads, 25 interleaved rounds on a Xeon, twice);
// Q4_0, whose decode is bound by its arithmetic there, gained nothing.
#define PF_LINES_Q8 5
#define PF_LINES_Q4 3
#define PF_GROUPS_Q8 2
#define PF_GROUPS_Q4 1

// Where the prefetches of the group `ahead` groups on start, or NULL when
// the rows are cut into segments (then a group's blocks are not contiguous).
// That group may lie past n1: the rows that follow are usually the next work
// item of this or the other thread, and a prefetch never faults, even past
// the end.
static inline const uint8_t *next_group(const uint8_t *w, size_t rs, int n, int nb, int nb_row, int ahead) {
    return nb == nb_row ? w + (size_t)(n + 8 * ahead) * rs : NULL;
}

static inline void prefetch_lines_l1(const uint8_t *p, int lines) {
    for (int i = 0; i < lines; i++) _mm_prefetch((const char *)p + 64 * i, _MM_HINT_T0);
}

static inline void prefetch_lines_l2(const uint8_t *p, int lines) {
    for (int i = 0; i < lines; i++) _mm_prefetch((const char *)p + 64 * i, _MM_HINT_T1);
}

// Per-block data of one token's activations for blocks [b0, b0 + nb): the
// scale, and for Q4_0 8 times the sum of the quants.
static void unpack_token(const block_q8_0 *x, int b0, int nb, int with_sums, float *d, int *s8) {
    for (int b = 0; b < nb; b++) {
        d[b] = f16(x[b0 + b].d);
        if (with_sums) s8[b] = sum8_q8(x[b0 + b].qs);
    }
}

// out[n] (+)= row n . x over blocks [b0, b0 + nb) for n in [n0, n1); acc = 0
// on the first segment.
static void gemv_q8_0(float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int b0, int nb, int n0,
                      int n1, int first) {
    int nb_row = (int)(rs / sizeof(block_q8_0));
    float d[SEG];
    unpack_token(x, b0, nb, 0, d, NULL);
    x += b0;
    int n = n0;
    for (; n + 8 <= n1; n += 8) {
        const block_q8_0 *r0 = (const block_q8_0 *)(w + (size_t)n * rs) + b0;
        const uint8_t *pf = next_group(w, rs, n, nb, nb_row, PF_GROUPS_Q8);
        const block_q8_0 *r1 = (const block_q8_0 *)((const uint8_t *)r0 + rs);
        const block_q8_0 *r2 = (const block_q8_0 *)((const uint8_t *)r1 + rs);
        const block_q8_0 *r3 = (const block_q8_0 *)((const uint8_t *)r2 + rs);
        const block_q8_0 *r4 = (const block_q8_0 *)((const uint8_t *)r3 + rs);
        const block_q8_0 *r5 = (const block_q8_0 *)((const uint8_t *)r4 + rs);
        const block_q8_0 *r6 = (const block_q8_0 *)((const uint8_t *)r5 + rs);
        const block_q8_0 *r7 = (const block_q8_0 *)((const uint8_t *)r6 + rs);
        __m256 acc = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + n);
        for (int b = 0; b < nb; b++) {
            if (pf) prefetch_lines_l2(pf + (size_t)b * (64 * PF_LINES_Q8), PF_LINES_Q8);
            __m256i a = load32(x[b].qs);
            __m256i s = hsum8x8(dot_s8s8(load32(r0[b].qs), a), dot_s8s8(load32(r1[b].qs), a),
                                dot_s8s8(load32(r2[b].qs), a), dot_s8s8(load32(r3[b].qs), a),
                                dot_s8s8(load32(r4[b].qs), a), dot_s8s8(load32(r5[b].qs), a),
                                dot_s8s8(load32(r6[b].qs), a), dot_s8s8(load32(r7[b].qs), a));
            __m256 dw = load8_f16(r0[b].d, r1[b].d, r2[b].d, r3[b].d, r4[b].d, r5[b].d, r6[b].d, r7[b].d);
            acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d[b])), _mm256_cvtepi32_ps(s), acc);
        }
        _mm256_storeu_ps(out + n, acc);
    }
    for (; n < n1; n++) {
        const block_q8_0 *r = (const block_q8_0 *)(w + (size_t)n * rs) + b0;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i q = dot_s8s8(load32(r[b].qs), load32(x[b].qs));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(r[b].d) * d[b]), _mm256_cvtepi32_ps(q), acc);
        }
        out[n] = (first ? 0.0f : out[n]) + hsum_ps(acc);
    }
}

static void gemv_q4_0(float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int b0, int nb, int n0,
                      int n1, int first) {
    int nb_row = (int)(rs / sizeof(block_q4_0));
    float d[SEG];
    int s8[SEG];
    unpack_token(x, b0, nb, 1, d, s8);
    x += b0;
    int n = n0;
    for (; n + 8 <= n1; n += 8) {
        const block_q4_0 *r0 = (const block_q4_0 *)(w + (size_t)n * rs) + b0;
        const uint8_t *pf = next_group(w, rs, n, nb, nb_row, PF_GROUPS_Q4);
        const block_q4_0 *r1 = (const block_q4_0 *)((const uint8_t *)r0 + rs);
        const block_q4_0 *r2 = (const block_q4_0 *)((const uint8_t *)r1 + rs);
        const block_q4_0 *r3 = (const block_q4_0 *)((const uint8_t *)r2 + rs);
        const block_q4_0 *r4 = (const block_q4_0 *)((const uint8_t *)r3 + rs);
        const block_q4_0 *r5 = (const block_q4_0 *)((const uint8_t *)r4 + rs);
        const block_q4_0 *r6 = (const block_q4_0 *)((const uint8_t *)r5 + rs);
        const block_q4_0 *r7 = (const block_q4_0 *)((const uint8_t *)r6 + rs);
        // lanes in the order rows 0 2 4 6 1 3 5 7 (see q4_two_rows), restored at the store
        const __m256i to_lanes = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        const __m256i to_rows = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        __m256 acc = first ? _mm256_setzero_ps() : _mm256_permutevar8x32_ps(_mm256_loadu_ps(out + n), to_lanes);
        for (int b = 0; b < nb; b++) {
            if (pf) prefetch_lines_l1(pf + (size_t)b * (64 * PF_LINES_Q4), PF_LINES_Q4);
            __m256i alo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x[b].qs));
            __m256i ahi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[b].qs + 16)));
            __m256i s = sum_pairs64(sum_pairs32(q4_two_rows(r0[b].qs, r1[b].qs, alo, ahi),
                                                q4_two_rows(r2[b].qs, r3[b].qs, alo, ahi)),
                                    sum_pairs32(q4_two_rows(r4[b].qs, r5[b].qs, alo, ahi),
                                                q4_two_rows(r6[b].qs, r7[b].qs, alo, ahi)));
            s = _mm256_sub_epi32(s, _mm256_set1_epi32(s8[b]));
            __m256 dw = load8_f16(r0[b].d, r2[b].d, r4[b].d, r6[b].d, r1[b].d, r3[b].d, r5[b].d, r7[b].d);
            acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d[b])), _mm256_cvtepi32_ps(s), acc);
        }
        _mm256_storeu_ps(out + n, _mm256_permutevar8x32_ps(acc, to_rows));
    }
    for (; n < n1; n++) {
        const block_q4_0 *r = (const block_q4_0 *)(w + (size_t)n * rs) + b0;
        float s = 0.0f;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            float sc = f16(r[b].d) * d[b];
            __m256i q = dot_u8s8(q4_nibbles(r[b].qs), load32(x[b].qs));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(sc), _mm256_cvtepi32_ps(q), acc);
            s -= sc * (float)s8[b];
        }
        out[n] = (first ? 0.0f : out[n]) + hsum_ps(acc) + s;
    }
}

// ---- decode, row by row (AMD): 8 blocks of one row at a time -----------------

// The arithmetic above with rows and blocks swapped: hsum8x8 reduces 8
// consecutive blocks of one row instead of one block of 8 rows, and those
// blocks' 8 weight scales meet their 8 activation scales (contiguous in d[])
// in one multiply. A thread then reads its rows one after another, one
// sequential stream, prefetched RPF bytes ahead into L2. On AMD Zen 3 (2-core
// EPYC, KVM), 124M decode against the 8-row kernels, medians of 7 paired
// interleaved rounds: Q8_0 2 threads +10%, +18%, +15%, +4%, +12%, 1 thread
// -8% (5 rounds); Q4_0 2 threads +12%, +6%, -1%, +5%, 1 thread +11% (5).
// Kept for both, as the default thread count is the cores. It costs more per
// block when the weights come from cache (one horizontal sum per row: Q8_0
// 13% and Q4_0 21% slower on rows of 8 blocks, K = 256), so rows of fewer
// than ROWWISE_MIN_BLOCKS blocks keep the 8-row kernels.
#define RPF 8192
#define RPF_LINES_Q8 5  // lines per step of 8 blocks: Q8_0 272 bytes
#define RPF_LINES_Q4 3  // Q4_0 144 bytes
#define ROWWISE_MIN_BLOCKS 16

static void gemv_rows_q8_0(float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int b0, int nb, int n0,
                           int n1, int first) {
    _Alignas(32) float d[SEG];
    unpack_token(x, b0, nb, 0, d, NULL);
    x += b0;
    for (int n = n0; n < n1; n++) {
        const block_q8_0 *r = (const block_q8_0 *)(w + (size_t)n * rs) + b0;
        __m256 acc = _mm256_setzero_ps();
        int b = 0;
        for (; b + 8 <= nb; b += 8) {
            for (int l = 0; l < RPF_LINES_Q8; l++) _mm_prefetch((const char *)(r + b) + RPF + 64 * l, _MM_HINT_T1);
            __m256i s = hsum8x8(dot_s8s8(load32(r[b].qs), load32(x[b].qs)),
                                dot_s8s8(load32(r[b + 1].qs), load32(x[b + 1].qs)),
                                dot_s8s8(load32(r[b + 2].qs), load32(x[b + 2].qs)),
                                dot_s8s8(load32(r[b + 3].qs), load32(x[b + 3].qs)),
                                dot_s8s8(load32(r[b + 4].qs), load32(x[b + 4].qs)),
                                dot_s8s8(load32(r[b + 5].qs), load32(x[b + 5].qs)),
                                dot_s8s8(load32(r[b + 6].qs), load32(x[b + 6].qs)),
                                dot_s8s8(load32(r[b + 7].qs), load32(x[b + 7].qs)));
            __m256 dw = load8_f16(r[b].d, r[b + 1].d, r[b + 2].d, r[b + 3].d, r[b + 4].d, r[b + 5].d, r[b + 6].d,
                                  r[b + 7].d);
            acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_load_ps(d + b)), _mm256_cvtepi32_ps(s), acc);
        }
        float sum = hsum_ps(acc);
        for (; b < nb; b++) sum += f16(r[b].d) * d[b] * (float)hsum_epi32(dot_s8s8(load32(r[b].qs), load32(x[b].qs)));
        out[n] = (first ? 0.0f : out[n]) + sum;
    }
}

// The activations of a row kernel's blocks [0, nb) (x already at b0), once
// per call: pk[i] = blocks 2i and 2i+1 as q4_two_rows meets them; their
// scales d and sums s8 (8 x the sum of the block) in the lane order 0 2 4 6
// 1 3 5 7 of each 8, the tail's blocks (past the last 8) in plain order.
static inline void pack_q4_row_acts(const block_q8_0 *x, int nb, __m256i (*pk)[2], float *d, int *s8) {
    static const int lane_block[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    int nb8 = nb / 8 * 8;
    for (int b = 0; b < nb8; b += 2) {
        pk[b / 2][0] = _mm256_loadu2_m128i((const __m128i *)x[b + 1].qs, (const __m128i *)x[b].qs);
        pk[b / 2][1] = _mm256_loadu2_m128i((const __m128i *)(x[b + 1].qs + 16), (const __m128i *)(x[b].qs + 16));
    }
    for (int b = 0; b < nb; b++) {
        int src = b < nb8 ? b / 8 * 8 + lane_block[b % 8] : b;
        d[b] = f16(x[src].d);
        s8[b] = sum8_q8(x[src].qs);
    }
}

// 8 weight scales of blocks b..b+7 in the lane order 0 2 4 6 1 3 5 7
static inline __m256 q4_scales(const block_q4_0 *r) {
    return load8_f16(r[0].d, r[2].d, r[4].d, r[6].d, r[1].d, r[3].d, r[5].d, r[7].d);
}

// Q4_0 row by row: two blocks of the row per vector (q4_two_rows' halves)
// against the activations packed once per call in the same pairs, pk[i] =
// blocks 2i and 2i+1: [x(2i)[0..15] | x(2i+1)[0..15]] and the same for
// [16..31]. The lanes come out in the block order 0 2 4 6 1 3 5 7, so the
// activation scales and sums are stored in that order, 8 per 8 blocks.
// The kernel is written once for AVX2 and (further down) for AVX-512 VNNI:
// TWO(qa, qb, alo, ahi) is q4_two_rows or its VNNI twin, SCALES(r)
// q4_scales or its twin.
#define DEFINE_Q4_ROWS(NAME, ATTR, TWO, SCALES)                                                         \
    ATTR static void NAME(float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int b0, int nb, int n0, \
                          int n1, int first) {                                                          \
        _Alignas(32) __m256i pk[SEG / 2][2];                                                            \
        _Alignas(32) float d[SEG];                                                                      \
        _Alignas(32) int s8[SEG];                                                                       \
        int nb8 = nb / 8 * 8;                                                                           \
        x += b0;                                                                                        \
        pack_q4_row_acts(x, nb, pk, d, s8);                                                             \
        for (int n = n0; n < n1; n++) {                                                                 \
            const block_q4_0 *r = (const block_q4_0 *)(w + (size_t)n * rs) + b0;                        \
            __m256 acc = _mm256_setzero_ps();                                                           \
            int b = 0;                                                                                  \
            for (; b < nb8; b += 8) {                                                                   \
                for (int l = 0; l < RPF_LINES_Q4; l++)                                                  \
                    _mm_prefetch((const char *)(r + b) + RPF + 64 * l, _MM_HINT_T1);                    \
                __m256i(*p)[2] = pk + b / 2;                                                            \
                __m256i s = sum_pairs64(sum_pairs32(TWO(r[b].qs, r[b + 1].qs, p[0][0], p[0][1]),        \
                                                    TWO(r[b + 2].qs, r[b + 3].qs, p[1][0], p[1][1])),   \
                                        sum_pairs32(TWO(r[b + 4].qs, r[b + 5].qs, p[2][0], p[2][1]),    \
                                                    TWO(r[b + 6].qs, r[b + 7].qs, p[3][0], p[3][1])));  \
                s = _mm256_sub_epi32(s, _mm256_load_si256((const __m256i *)(s8 + b)));                  \
                acc = _mm256_fmadd_ps(_mm256_mul_ps(SCALES(r + b), _mm256_load_ps(d + b)), _mm256_cvtepi32_ps(s), \
                                      acc);                                                             \
            }                                                                                           \
            float sum = hsum_ps(acc);                                                                   \
            for (; b < nb; b++)                                                                         \
                sum += f16(r[b].d) * d[b] *                                                             \
                       (float)(hsum_epi32(dot_u8s8(q4_nibbles(r[b].qs), load32(x[b].qs))) - s8[b]);     \
            out[n] = (first ? 0.0f : out[n]) + sum;                                                     \
        }                                                                                               \
    }

DEFINE_Q4_ROWS(gemv_rows_q4_0, , q4_two_rows, q4_scales)

// ---- decode row by row with AVX-512 VNNI (the avx512 table's) --------------------

// gemv_rows_q4_0 for CPUs with AVX-512 F, VL, BW and VNNI, compiled for them
// by a target attribute (so that it shares this file's helpers); only the
// avx512 table, which kernels_select() hands out on such CPUs, calls it.
// Two changes, each fewer instructions per block where decode is bound by
// them (one Zen 4 core streams Q4_0 rows at about 22 GB/s from L2):
// vpdpbusd sums 4 products into an int32 lane, as maddubs + madd did (the
// same exact integers); and the 8 weight scales of a step, 18 bytes apart,
// come out of the step's first 128 bytes with one word permute (vpermt2w)
// instead of 8 loads and 7 inserts. The same two changes to the Q8_0 row
// kernel gained 5% from L2 and nothing end to end (one core streams Q8_0
// rows at about the speed of memory already): not kept. Nor were 512-bit
// steps of 16 blocks (4 per vector): one core, rows in L2, no faster at
// K = 3072 and 11% slower at K = 768 (the 512-bit operations take two of
// Zen 4's 256-bit pipes, so fewer instructions did not mean less work).
#define VNNI_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni")))
VNNI_TARGET static inline __m256i q4_two_rows_vnni(const uint8_t *qa, const uint8_t *qb, __m256i alo, __m256i ahi) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    __m256i w = _mm256_loadu2_m128i((const __m128i *)qb, (const __m128i *)qa);  // [qa | qb]
    __m256i lo = _mm256_and_si256(w, m), hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m);
    return _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, alo), hi, ahi);
}
// the 8 scales of blocks b..b+7, 18 bytes apart, from their first 128 bytes:
// words 9k hold block k's, taken in the lane order 0 2 4 6 1 3 5 7
VNNI_TARGET static inline __m256 q4_scales_vnni(const block_q4_0 *r) {
    const __m512i idx = _mm512_zextsi128_si512(_mm_setr_epi16(0, 18, 36, 54, 9, 27, 45, 63));
    const uint8_t *p = (const uint8_t *)r;
    __m512i sc = _mm512_permutex2var_epi16(_mm512_loadu_si512(p), idx, _mm512_loadu_si512(p + 64));
    return _mm256_cvtph_ps(_mm512_castsi512_si128(sc));
}

DEFINE_Q4_ROWS(gemv_rows_q4_0_vnni, VNNI_TARGET, q4_two_rows_vnni, q4_scales_vnni)
typedef void (*gemv_fn)(float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int b0, int nb, int n0,
                        int n1, int first);

static void gemv_all(gemv_fn fn, float *out, const block_q8_0 *x, const uint8_t *w, size_t rs, int K, int n0,
                     int n1) {
    int nb = K / QK;
    if (nb <= SEG) {
        // the first two groups of rows, all at once (up to 16 KiB): a work
        // item otherwise starts with rows of cache misses; later groups are
        // prefetched while the groups before them are computed
        const uint8_t *p = w + (size_t)n0 * rs;
        size_t bytes = (size_t)(n1 - n0 < 16 ? n1 - n0 : 16) * rs;
        for (size_t o = 0; o < bytes && o < 16384; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
    }
    for (int b0 = 0; b0 < nb; b0 += SEG) fn(out, x, w, rs, b0, nb - b0 < SEG ? nb - b0 : SEG, n0, n1, b0 == 0);
}

// ---- prefill: one row, 8 tokens at a time -------------------------------------

// Per-block data of a group of 8 tokens, blocks [b0, b0 + nb): d[b][j] the
// scale of token j, s8[b][j] 8 times its sum (Q4_0).
static void unpack_group(const block_q8_0 *const *xt, int b0, int nb, int with_sums, float (*d)[TG],
                         int (*s8)[TG]) {
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < TG; j++) {
            d[b][j] = f16(xt[j][b0 + b].d);
            if (with_sums) s8[b][j] = sum8_q8(xt[j][b0 + b].qs);
        }
}

// The 8 values of acc into out[t][n] for the g real tokens of the group.
static inline void store_group(float *out, int ldo, int t0, int g, int n, __m256 acc, int first) {
    float v[TG];
    _mm256_storeu_ps(v, acc);
    for (int j = 0; j < g; j++) {
        float *o = out + (size_t)(t0 + j) * ldo + n;
        *o = first ? v[j] : *o + v[j];
    }
}

static void group_q8_0(float *out, int ldo, const block_q8_0 *const *xt, int t0, int g, const uint8_t *w,
                       size_t rs, int b0, int nb, int n0, int n1) {
    float d[SEG][TG];
    unpack_group(xt, b0, nb, 0, d, NULL);
    const block_q8_0 *x0 = xt[0] + b0, *x1 = xt[1] + b0, *x2 = xt[2] + b0, *x3 = xt[3] + b0;
    const block_q8_0 *x4 = xt[4] + b0, *x5 = xt[5] + b0, *x6 = xt[6] + b0, *x7 = xt[7] + b0;
    for (int n = n0; n < n1; n++) {
        const block_q8_0 *r = (const block_q8_0 *)(w + (size_t)n * rs) + b0;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i wv = load32(r[b].qs), aw = _mm256_sign_epi8(wv, wv);
#define PAIR(xj) dot_u8s8(aw, _mm256_sign_epi8(load32(xj[b].qs), wv))
            __m256i s = hsum8x8(PAIR(x0), PAIR(x1), PAIR(x2), PAIR(x3), PAIR(x4), PAIR(x5), PAIR(x6), PAIR(x7));
#undef PAIR
            __m256 sc = _mm256_mul_ps(_mm256_set1_ps(f16(r[b].d)), _mm256_loadu_ps(d[b]));
            acc = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(s), acc);
        }
        store_group(out, ldo, t0, g, n, acc, b0 == 0);
    }
}

// Q4_0 prefill packs two tokens into each vector, as decode packs two rows:
// for tokens 2p and 2p+1 of the group, lo = [a_2p[0..15] | a_2p+1[0..15]]
// and hi = [a_2p[16..31] | a_2p+1[16..31]], met by the row's low nibbles
// (elements 0..15) and high nibbles (16..31) in both halves. The packed
// activations of PSEG blocks (16 KiB) are built once per token group and
// segment and shared by every row of the chunk. Lanes come out in the token
// order 0 2 4 6 1 3 5 7 (scales and sums are unpacked in that order).
#define PSEG 64

static void pack_pairs(const block_q8_0 *const *xt, int b0, int nb, __m256i (*pk)[4][2], float (*d)[TG],
                       int (*s8)[TG]) {
    static const int lane_token[TG] = {0, 2, 4, 6, 1, 3, 5, 7};
    for (int b = 0; b < nb; b++) {
        for (int p = 0; p < 4; p++) {
            const int8_t *qa = xt[2 * p][b0 + b].qs, *qb = xt[2 * p + 1][b0 + b].qs;
            pk[b][p][0] = _mm256_loadu2_m128i((const __m128i *)qb, (const __m128i *)qa);
            pk[b][p][1] = _mm256_loadu2_m128i((const __m128i *)(qb + 16), (const __m128i *)(qa + 16));
        }
        for (int j = 0; j < TG; j++) {
            const block_q8_0 *xb = &xt[lane_token[j]][b0 + b];
            d[b][j] = f16(xb->d);
            s8[b][j] = sum8_q8(xb->qs);
        }
    }
}

static void group_q4_0(float *out, int ldo, const block_q8_0 *const *xt, int t0, int g, const uint8_t *w,
                       size_t rs, int b0, int nb, int n0, int n1) {
    _Alignas(32) __m256i pk[PSEG][4][2];
    float d[PSEG][TG];
    int s8[PSEG][TG];
    const __m256i m = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i to_tokens = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int s0 = 0; s0 < nb; s0 += PSEG) {
        int ns = nb - s0 < PSEG ? nb - s0 : PSEG;
        pack_pairs(xt, b0 + s0, ns, pk, d, s8);
        for (int n = n0; n < n1; n++) {
            const block_q4_0 *r = (const block_q4_0 *)(w + (size_t)n * rs) + b0 + s0;
            __m256 acc = _mm256_setzero_ps();
            for (int b = 0; b < ns; b++) {
                __m256i wb = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)r[b].qs));
                __m256i wlo = _mm256_and_si256(wb, m), whi = _mm256_and_si256(_mm256_srli_epi16(wb, 4), m);
#define PAIR(p)                                                                                       \
    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(wlo, pk[b][p][0]),                        \
                                       _mm256_maddubs_epi16(whi, pk[b][p][1])),                       \
                      ones)
                __m256i s = sum_pairs64(sum_pairs32(PAIR(0), PAIR(1)), sum_pairs32(PAIR(2), PAIR(3)));
#undef PAIR
                s = _mm256_sub_epi32(s, _mm256_loadu_si256((const __m256i *)s8[b]));
                __m256 sc = _mm256_mul_ps(_mm256_set1_ps(f16(r[b].d)), _mm256_loadu_ps(d[b]));
                acc = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(s), acc);
            }
            store_group(out, ldo, t0, g, n, _mm256_permutevar8x32_ps(acc, to_tokens), b0 == 0 && s0 == 0);
        }
    }
}

typedef void (*group_fn)(float *out, int ldo, const block_q8_0 *const *xt, int t0, int g, const uint8_t *w,
                         size_t rs, int b0, int nb, int n0, int n1);

// ---- the table entries ----------------------------------------------------------

// gemv_rows: the row-by-row decode kernel used instead of gemv where
// avx2_decode_rowwise says so
static void matmul_quant(gemv_fn gemv, gemv_fn gemv_rows, group_fn group, float *out, int ldo, const void *xq, const void *wv,
                         size_t rs, int T, int K, int n0, int n1) {
    const uint8_t *w = wv;
    const block_q8_0 *x = xq;
    int nb = K / QK;
    if (T == 1) {
        gemv_all(avx2_decode_rowwise && nb >= ROWWISE_MIN_BLOCKS ? gemv_rows : gemv, out, x, w, rs, K, n0, n1);
        return;
    }
    for (int c0 = n0; c0 < n1; c0 += CHUNK) {
        int c1 = c0 + CHUNK < n1 ? c0 + CHUNK : n1;
        if (T < 4) {  // a few tokens: the matrix-vector path once per token, weights from cache
            for (int t = 0; t < T; t++) gemv_all(gemv, out + (size_t)t * ldo, x + (size_t)t * nb, w, rs, K, c0, c1);
            continue;
        }
        for (int t0 = 0; t0 < T; t0 += TG) {
            int g = T - t0 < TG ? T - t0 : TG;
            const block_q8_0 *xt[TG];
            for (int j = 0; j < TG; j++) xt[j] = x + (size_t)(t0 + (j < g ? j : g - 1)) * nb;
            for (int b0 = 0; b0 < nb; b0 += SEG) group(out, ldo, xt, t0, g, w, rs, b0, nb - b0 < SEG ? nb - b0 : SEG, c0, c1);
        }
    }
}

void avx2_matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                      size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    matmul_quant(gemv_q8_0, gemv_rows_q8_0, group_q8_0, out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

void avx2_matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                      size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    matmul_quant(gemv_q4_0, gemv_rows_q4_0, group_q4_0, out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

// The same with the AVX-512 VNNI row-by-row decode kernel: the avx512 table's
// Q4_0 product for fewer than 4 tokens
void avx512_matmul_q4_0_few(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                            size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    matmul_quant(gemv_q4_0, gemv_rows_q4_0_vnni, group_q4_0, out, ldo, xq, w, w_row_bytes, T, K, n0, n1);
}

// ---- activation quantizer ---------------------------------------------------------

// roundf(): to nearest, halves away from zero (_mm256_round_ps's nearest mode
// rounds halves to even, which is not what ggml's reference does). v - trunc(v)
// is exact, so comparing it with 0.5 decides the way exactly.
static inline __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));  // +-1 with v's sign
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// The same arithmetic as the scalar reference, d = amax / 127 and
// q = roundf(x * (1 / d)), so the bytes are identical.
void avx2_quantize_row_q8_0(const float *x, block_q8_0 *y, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < n / QK; b++, x += QK) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        __m256 mul = _mm256_set1_ps(id);
        __m256i i0 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v0, mul)));
        __m256i i1 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v1, mul)));
        __m256i i2 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v2, mul)));
        __m256i i3 = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v3, mul)));
        // packs work within 128-bit halves: the bytes come out as 32-bit groups
        // 0 2 4 6 1 3 5 7, which the permutation puts back in order
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
    }
}
