// kernels.h: the hot loops of gpt. Matrix products per weight type (F32,
// F16, Q8_0, Q4_0) and per instruction set (scalar, AVX2+FMA+F16C, AVX-512, NEON),
// chosen once at start-up through a table; plus the row-wise operations of
// the transformer (LayerNorm, GELU, softmax, attention).
//
// Weight matrices are stored as ggml does: W (N, K) row-major, N outputs of K
// inputs each (ne = {K, N}); a row of a quantized type is K/32 blocks.
// The scalar kernels are the definition; SIMD kernels are tested against them.
#ifndef GPT_KERNELS_H
#define GPT_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

// Q8_0 and Q4_0 blocks, exactly ggml's layouts: 32 weights share one half
// precision scale d. Q8_0: w = d * qs[j]. Q4_0: byte j holds weight j in its
// low nibble and weight j + 16 in its high nibble, w = d * (nibble - 8).
#define QK 32
typedef struct {
    uint16_t d;
    int8_t qs[QK];
} block_q8_0;
typedef struct {
    uint16_t d;
    uint8_t qs[QK / 2];
} block_q4_0;

// out (T, ldo) [t][n] = sum_k x[t][k] * W[n][k] for n in [n0, n1), t < T.
// x (T, ldx) is F32; for quantized W the product reads xq instead: x
// quantized to Q8_0 blocks by quantize_row_q8_0, (T, K/32) blocks.
typedef void (*matmul_fn)(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                          size_t w_row_bytes, int T, int K, int n0, int n1);

typedef struct {
    const char *name;                // "scalar", "avx2", "avx512", "neon"
    matmul_fn matmul[GGML_TYPE_BF16 + 1];  // indexed by ggml type; NULL if unsupported
    // out (m, ldo) [i][d] = sum_{p < npos} s[i][p] v[p][d] for d < n; s (m, lds),
    // v (npos, n) contiguous rows. Attention's S V: one head's weights for m
    // queries times its cached values, read as the cache holds them.
    void (*weighted_rows_f32)(float *out, int ldo, const float *s, int lds, const float *v, int m, int npos, int n);
    // the same over a cache of F16 values (v (npos, n) halves)
    void (*weighted_rows_f16)(float *out, int ldo, const float *s, int lds, const uint16_t *v, int m, int npos,
                              int n);
    // y (n) = x rounded to IEEE half, to nearest even (fp32_to_fp16, bit for
    // bit on every non-NaN input): keys and values appended to an F16 cache
    void (*f32_to_f16_row)(const float *x, uint16_t *y, int n);
    // quantize one row of n (multiple of 32) floats to Q8_0 blocks
    void (*quantize_row_q8_0)(const float *x, block_q8_0 *y, int n);
    // x (n) = GELU(x), GPT-2's tanh approximation, as the equal
    // x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))).
    void (*gelu_tanh_f32)(float *x, int n);
    // x (n) = softmax(scale * x): exp(scale x_i - max) / sum, one query's
    // attention weights.
    void (*softmax_f32)(float *x, int n, float scale);
    // A SIMD table may leave any of these NULL: callers then take
    // kernels_scalar's, which has them all (KERNEL() below).
} kernel_table;

extern const kernel_table kernels_scalar;
// Entry e of table k, or the scalar table's when k has none
#define KERNEL(k, e) ((k)->e ? (k)->e : kernels_scalar.e)
#if defined(__x86_64__)
extern const kernel_table kernels_avx2;
// AVX-512 (F, BW, VL and VNNI, with AVX2, FMA and F16C): its own prefill
// GEMMs for every weight type (kernels_avx512.c, kernels_avx512_quant.c), a
// VNNI Q4_0 decode kernel, the AVX2 kernels for everything else
extern const kernel_table kernels_avx512;
void avx512_matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1);
void avx512_matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1);
// The entries of kernels_avx2, by name, so that kernels_avx512 can share them.
// kernels_avx2.c:
void avx2_matmul_f32(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                     size_t w_row_bytes, int T, int K, int n0, int n1);
void avx2_matmul_f16(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                     size_t w_row_bytes, int T, int K, int n0, int n1);
void avx2_weighted_rows_f32(float *out, int ldo, const float *s, int lds, const float *v, int m, int npos, int n);
void avx2_weighted_rows_f16(float *out, int ldo, const float *s, int lds, const uint16_t *v, int m, int npos, int n);
void avx2_f32_to_f16_row(const float *x, uint16_t *y, int n);
void avx2_gelu_tanh_f32(float *x, int n);
void avx2_softmax_f32(float *x, int n, float scale);
// kernels_avx2_quant.c: quantized weights x Q8_0 activations, and a SIMD
// quantize_row_q8_0 bit-identical to the scalar one
void avx2_matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                      size_t w_row_bytes, int T, int K, int n0, int n1);
void avx2_matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                      size_t w_row_bytes, int T, int K, int n0, int n1);
void avx2_quantize_row_q8_0(const float *x, block_q8_0 *y, int n);
// ... and for the avx512 table (CPUs with AVX-512 F, VL, BW and VNNI): Q4_0
// for T < 4 as avx2_matmul_q4_0, with a VNNI row-by-row decode kernel
void avx512_matmul_q4_0_few(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                            size_t w_row_bytes, int T, int K, int n0, int n1);
// Decode (matrix-vector) reads each thread's weight rows one after another,
// as AMD's hardware prefetchers follow best: the F32 loop without software
// prefetches, Q8_0 and Q4_0 one row at a time instead of 8 interleaved rows. 0 by
// default (tuned on an Intel Xeon); kernels_select() sets it once for the CPU.
extern int avx2_decode_rowwise;
#endif
#if defined(__aarch64__)
extern const kernel_table kernels_neon;
#endif

// The table the CPU supports best, or the scalar one when the environment
// variable GPT_KERNELS=scalar is set (tests use it to exercise the fallback).
// On x86-64 it also sets avx2_decode_rowwise, once per process: on AMD CPUs,
// or as GPT_DECODE_ROWWISE=0|1 says.
const kernel_table *kernels_select(void);
// What kernels_select() chose for avx2_decode_rowwise (0 where there is no such choice)
int kernels_decode_rowwise(void);
// A table by name ("scalar", "avx2", "avx512", "neon"), if this CPU can run it.
const kernel_table *kernels_by_name(const char *name);

// Dequantize / convert one row of a weight matrix of the given type to F32.
void dequantize_row(uint32_t type, const void *row, float *out, int n);
// Quantize one F32 row to a weight type (F32, F16, Q8_0, Q4_0), ggml's
// reference rounding. out must hold the row's bytes.
void quantize_row(uint32_t type, const float *x, void *out, int n);

// ---- row operations (scalar C; the compiler vectorises them) ----------------

// out (C) = (x - mean) / sqrt(var + eps) * w + b; b may be NULL
void layernorm_row(float *out, const float *x, const float *w, const float *b, int C, float eps);
// x (n) = GELU(x), the exact erf form 0.5 x (1 + erf(x / sqrt 2)) of models
// trained with it (the tanh form is the kernel tables' gelu_tanh_f32)
void gelu_erf_row(float *x, int n);
// x (n) = x + b (b may be NULL)
void add_bias_row(float *x, const float *b, int n);
// out (C) = x / sqrt(mean(x^2) + eps) * w (out may be x)
void rmsnorm_row(float *out, const float *x, const float *w, int C, float eps);
// Rotate n_heads heads of hd floats each (x: (n_heads, hd)) by the angles
// whose cosines and sines cs holds ((hd / 2) pairs cos, sin: pair i turns by
// pos * base^(-2i / hd)). adjacent: pair i is (2i, 2i + 1) (Meta's layout,
// llama.cpp's llama); otherwise (i, i + hd / 2) (Hugging Face's rotate_half).
void rope_rows(float *x, int n_heads, int hd, const float *cs, bool adjacent);
// The angles of one position for rope_rows: cs (hd / 2 pairs); freq_div
// (hd / 2, or NULL) divides pair i's frequency (Llama 3.1's rope_freqs).
void rope_angles(float *cs, int pos, int hd, float base, const float *freq_div);
// g (n) = SiLU(g) * u = g / (1 + exp(-g)) * u
void swiglu_row(float *g, const float *u, int n);

#endif
