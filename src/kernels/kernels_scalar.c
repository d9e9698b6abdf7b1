// kernels_scalar.c: the reference kernels, plain C. They define what every
// SIMD kernel must compute and run on any CPU.
#include "kernels.h"
#include "util.h"

#include <math.h>

static void matmul_f32(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                       size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)xq;
    for (int n = n0; n < n1; n++) {
        const float *wr = (const float *)((const uint8_t *)w + (size_t)n * w_row_bytes);
        for (int t = 0; t < T; t++) {
            const float *xr = x + (size_t)t * ldx;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += wr[k] * xr[k];
            out[(size_t)t * ldo + n] = s;
        }
    }
}

static void matmul_f16(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                       size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)xq;
    for (int n = n0; n < n1; n++) {
        const uint16_t *wr = (const uint16_t *)((const uint8_t *)w + (size_t)n * w_row_bytes);
        for (int t = 0; t < T; t++) {
            const float *xr = x + (size_t)t * ldx;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += fp16_to_fp32(wr[k]) * xr[k];
            out[(size_t)t * ldo + n] = s;
        }
    }
}

// Quantized weights meet activations quantized to Q8_0: each block's integer
// dot product is scaled by both blocks' scales, as ggml does.
static void matmul_q8_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    int nb = K / QK;
    for (int n = n0; n < n1; n++) {
        const block_q8_0 *wr = (const block_q8_0 *)((const uint8_t *)w + (size_t)n * w_row_bytes);
        for (int t = 0; t < T; t++) {
            const block_q8_0 *xr = (const block_q8_0 *)xq + (size_t)t * nb;
            float s = 0.0f;
            for (int b = 0; b < nb; b++) {
                int32_t acc = 0;
                for (int j = 0; j < QK; j++) acc += (int32_t)wr[b].qs[j] * xr[b].qs[j];
                s += fp16_to_fp32(wr[b].d) * fp16_to_fp32(xr[b].d) * (float)acc;
            }
            out[(size_t)t * ldo + n] = s;
        }
    }
}

static void matmul_q4_0(float *out, int ldo, const float *x, int ldx, const void *xq, const void *w,
                        size_t w_row_bytes, int T, int K, int n0, int n1) {
    (void)x;
    (void)ldx;
    int nb = K / QK;
    for (int n = n0; n < n1; n++) {
        const block_q4_0 *wr = (const block_q4_0 *)((const uint8_t *)w + (size_t)n * w_row_bytes);
        for (int t = 0; t < T; t++) {
            const block_q8_0 *xr = (const block_q8_0 *)xq + (size_t)t * nb;
            float s = 0.0f;
            for (int b = 0; b < nb; b++) {
                int32_t acc = 0;
                for (int j = 0; j < QK / 2; j++) {
                    acc += ((int32_t)(wr[b].qs[j] & 0x0F) - 8) * xr[b].qs[j];
                    acc += ((int32_t)(wr[b].qs[j] >> 4) - 8) * xr[b].qs[j + QK / 2];
                }
                s += fp16_to_fp32(wr[b].d) * fp16_to_fp32(xr[b].d) * (float)acc;
            }
            out[(size_t)t * ldo + n] = s;
        }
    }
}

static void weighted_rows_f32(float *out, int ldo, const float *s, int lds, const float *v, int m, int npos, int n) {
    for (int i = 0; i < m; i++) {
        float *o = out + (size_t)i * ldo;
        const float *si = s + (size_t)i * lds;
        for (int d = 0; d < n; d++) o[d] = 0.0f;
        for (int p = 0; p < npos; p++)
            for (int d = 0; d < n; d++) o[d] += si[p] * v[(size_t)p * n + d];
    }
}

static void weighted_rows_f16(float *out, int ldo, const float *s, int lds, const uint16_t *v, int m, int npos,
                              int n) {
    for (int i = 0; i < m; i++) {
        float *o = out + (size_t)i * ldo;
        const float *si = s + (size_t)i * lds;
        for (int d = 0; d < n; d++) o[d] = 0.0f;
        for (int p = 0; p < npos; p++)
            for (int d = 0; d < n; d++) o[d] += si[p] * fp16_to_fp32(v[(size_t)p * n + d]);
    }
}

static void f32_to_f16_row(const float *x, uint16_t *y, int n) {
    for (int i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// GPT-2's tanh GELU as v / (1 + exp(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3):
// equal to 0.5 v (1 + tanh u), a fraction of tanhf's cost (glibc's tanhf goes
// through expm1f: it was a fifth of a 124M prefill), and more accurate where
// v < 0: 1 + tanh(u) cancels there, 1 + exp(-2u) never does.
static void gelu_tanh_f32(float *x, int n) {
    const float s2 = 2.0f * 0.79788456080286536f;  // 2 sqrt(2 / pi)
    for (int i = 0; i < n; i++) {
        float v = x[i];
        x[i] = v / (1.0f + expf(-s2 * (v + 0.044715f * v * v * v)));
    }
}

static void softmax_f32(float *x, int n, float scale) {
    float max = -INFINITY;
    for (int p = 0; p < n; p++) {
        x[p] *= scale;
        if (x[p] > max) max = x[p];
    }
    float sum = 0.0f;
    for (int p = 0; p < n; p++) {
        x[p] = expf(x[p] - max);
        sum += x[p];
    }
    float inv = 1.0f / sum;
    for (int p = 0; p < n; p++) x[p] *= inv;
}

// ggml's reference Q8_0 rounding: d = amax / 127, q = round(x / d).
static void quantize_row_q8_0_scalar(const float *x, block_q8_0 *y, int n) {
    for (int b = 0; b < n / QK; b++) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[b * QK + j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK; j++) y[b].qs[j] = (int8_t)roundf(x[b * QK + j] * id);
    }
}

const kernel_table kernels_scalar = {
    .name = "scalar",
    .matmul = {[GGML_TYPE_F32] = matmul_f32, [GGML_TYPE_F16] = matmul_f16,
               [GGML_TYPE_Q8_0] = matmul_q8_0, [GGML_TYPE_Q4_0] = matmul_q4_0},
    .weighted_rows_f32 = weighted_rows_f32,
    .weighted_rows_f16 = weighted_rows_f16,
    .f32_to_f16_row = f32_to_f16_row,
    .quantize_row_q8_0 = quantize_row_q8_0_scalar,
    .gelu_tanh_f32 = gelu_tanh_f32,
    .softmax_f32 = softmax_f32,
};
