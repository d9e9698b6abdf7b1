// kernels_avx512.c: x86-64 kernels for CPUs with AVX-512 F, BW, VL and VNNI besides
// AVX2, FMA and F16C (Cascade Lake, Ice Lake, Sapphire Rapids, Zen 4). The
// kernels_avx512*.c files (and, by a target attribute, one decode kernel in
// kernels_avx2_quant.c) alone are compiled with those flags;
// kernels_select() only hands this table out when the CPU reports them and
// the OS saves the 512-bit registers.
//
// Prefill changes, for every weight type: quantized weights in
// kernels_avx512_quant.c, F32 and F16 here. Their GEMM (gemm_x86.h) is bound by the FMA units, and
// 16-float vectors do twice the work per instruction. Panels are 48 rows x
// 128 inputs (24 KiB, in L1) and tiles 8 tokens x 48 rows: 24 accumulators,
// 3 weight vectors and a broadcast of the 32 registers, 24 FMAs for 11
// loads per input. Decode is bound by memory, and the AVX2 matrix-vector
// kernels mostly stream at its speed (a 512-bit F16 version measured the
// same, on a Xeon an AVX-512 VNNI Q4_0/Q8_0 one no faster); they and the
// row operations are the AVX2 table's, but for the row-by-row Q4_0 decode
// kernel of AMD CPUs, which has a VNNI version (avx512_matmul_q4_0_few).
#include "kernels.h"
#include "util.h"

#include <immintrin.h>

#define VEC __m512
#define VW 16
#define VLOAD(p) _mm512_load_ps(p)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VZERO() _mm512_setzero_ps()
#define VSET1(f) _mm512_set1_ps(f)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define NV 3              // vectors of 16 weight rows in a panel: 48 rows
#define MR 8              // tokens per register tile: 24 accumulators + 3 weights + 1 broadcast
#define KC 128            // inputs per panel: KC * NR * 4 bytes = 24 KiB
// The next panel's weights are prefetched into L1, not L2: packing then
// finds its loads there instead of stalling on them (it fell from a tenth
// to a twentieth of F16 prefill's time). Measured on AMD Zen 4 (2-core
// EPYC, KVM), 124M, 2 threads, the same build with the hint switched at run
// time, medians of paired interleaved rounds of the hint over L2: pp128 F16
// +1.9% (15 rounds), F32 +3.5% (15); pp512 F16 +6.9% (9), F32 +0.7% (9); the
// 4x256 model F16 pp128 +4.0% (9). The AVX2 GEMM keeps L2 (tuned on Zen 3
// and a Xeon, not measured with L1 here).
#define PANEL_PF_HINT _MM_HINT_T0
#include "gemm_x86.h"

DEFINE_GEMM(f32, float, load8_f32, load1_f32)
DEFINE_GEMM(f16, uint16_t, load8_f16, load1_f16)

static void matmul_f32(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w, size_t rs, int T,
                       int K, int n0, int n1) {
    if (T >= PACK_MIN_T) gemm_f32(out, ldo, x, ldx, w, rs, T, K, n0, n1);
    else avx2_matmul_f32(out, ldo, x, ldx, xq, w, rs, T, K, n0, n1);
}

static void matmul_f16(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w, size_t rs, int T,
                       int K, int n0, int n1) {
    if (T >= PACK_MIN_T) gemm_f16(out, ldo, x, ldx, w, rs, T, K, n0, n1);
    else avx2_matmul_f16(out, ldo, x, ldx, xq, w, rs, T, K, n0, n1);
}

const kernel_table kernels_avx512 = {
    .name = "avx512",
    .matmul = {[GGML_TYPE_F32] = matmul_f32, [GGML_TYPE_F16] = matmul_f16,
               [GGML_TYPE_Q8_0] = avx512_matmul_q8_0, [GGML_TYPE_Q4_0] = avx512_matmul_q4_0},
    .weighted_rows_f32 = avx2_weighted_rows_f32,
    .weighted_rows_f16 = avx2_weighted_rows_f16,
    .f32_to_f16_row = avx2_f32_to_f16_row,
    .quantize_row_q8_0 = avx2_quantize_row_q8_0,
    .gelu_tanh_f32 = avx2_gelu_tanh_f32,
    .softmax_f32 = avx2_softmax_f32,
};
