// kernels.c: choosing a kernel table for this CPU, type conversions of whole
// rows, and the row-wise operations of the transformer.
#include "kernels.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
// AVX2 (leaf 7 EBX bit 5), FMA (leaf 1 ECX bit 12), F16C (leaf 1 ECX bit 29),
// and the OS saving YMM state (OSXSAVE, XCR0 bits 1-2). Read with cpuid
// directly: clang's __builtin_cpu_supports does not know "f16c".
static int cpu_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1, osxsave = (c >> 27) & 1;
    if (!fma || !f16c || !osxsave) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1;
}

// AVX-512 F, BW, VL and VNNI (leaf 7 EBX bits 16, 30, 31, ECX bit 11) and the
// OS saving the opmask and all 32 512-bit registers (XCR0 bits 5-7), on top
// of the AVX2 set. Every CPU with VNNI has BW and VL.
static int cpu_has_avx512(void) {
    if (!cpu_has_avx2_fma_f16c()) return 0;
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 16) & 1) || !((b >> 30) & 1) || !((b >> 31) & 1) || !((c >> 11) & 1)) return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xE6) == 0xE6;
}

static int cpu_is_amd(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    char v[13];
    memcpy(v, &b, 4), memcpy(v + 4, &d, 4), memcpy(v + 8, &c, 4), v[12] = 0;
    return strcmp(v, "AuthenticAMD") == 0;
}

static pthread_once_t rowwise_once = PTHREAD_ONCE_INIT;

static void choose_decode_rowwise(void) {
    const char *env = getenv("GPT_DECODE_ROWWISE");
    if (env && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0)) avx2_decode_rowwise = env[0] == '1';
    else avx2_decode_rowwise = cpu_is_amd();
}
#endif

int kernels_decode_rowwise(void) {
#if defined(__x86_64__)
    pthread_once(&rowwise_once, choose_decode_rowwise);
    return avx2_decode_rowwise;
#else
    return 0;
#endif
}

const kernel_table *kernels_by_name(const char *name) {
    if (strcmp(name, "scalar") == 0) return &kernels_scalar;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0 && cpu_has_avx2_fma_f16c()) return &kernels_avx2;
    if (strcmp(name, "avx512") == 0 && cpu_has_avx512()) return &kernels_avx512;
#endif
#if defined(__aarch64__)
    if (strcmp(name, "neon") == 0) return &kernels_neon;
#endif
    return NULL;
}

const kernel_table *kernels_select(void) {
    kernels_decode_rowwise();
    const char *env = getenv("GPT_KERNELS");
    if (env && *env) {
        const kernel_table *k = kernels_by_name(env);
        if (k) return k;
    }
#if defined(__x86_64__)
    if (cpu_has_avx512()) return &kernels_avx512;
    if (cpu_has_avx2_fma_f16c()) return &kernels_avx2;
#endif
#if defined(__aarch64__)
    return &kernels_neon;
#endif
    return &kernels_scalar;
}

void dequantize_row(uint32_t type, const void *row, float *out, int n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(out, row, (size_t)n * sizeof(float)); break;
    case GGML_TYPE_F16:
        for (int i = 0; i < n; i++) out[i] = fp16_to_fp32(((const uint16_t *)row)[i]);
        break;
    case GGML_TYPE_BF16:
        for (int i = 0; i < n; i++) out[i] = bf16_to_fp32(((const uint16_t *)row)[i]);
        break;
    case GGML_TYPE_Q8_0: {
        const block_q8_0 *b = row;
        for (int i = 0; i < n / QK; i++) {
            float d = fp16_to_fp32(b[i].d);
            for (int j = 0; j < QK; j++) out[i * QK + j] = d * (float)b[i].qs[j];
        }
        break;
    }
    case GGML_TYPE_Q4_0: {
        const block_q4_0 *b = row;
        for (int i = 0; i < n / QK; i++) {
            float d = fp16_to_fp32(b[i].d);
            for (int j = 0; j < QK / 2; j++) {
                out[i * QK + j] = d * (float)((int)(b[i].qs[j] & 0x0F) - 8);
                out[i * QK + j + QK / 2] = d * (float)((int)(b[i].qs[j] >> 4) - 8);
            }
        }
        break;
    }
    }
}

// ggml's reference Q4_0 rounding: d = max / -8 where max is the value of
// largest magnitude (sign kept), q = min(15, (int8_t)(x / d + 8.5)).
static void quantize_row_q4_0(const float *x, block_q4_0 *y, int n) {
    for (int b = 0; b < n / QK; b++) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {
            float v = x[b * QK + j];
            if (amax < fabsf(v)) amax = fabsf(v), max = v;
        }
        float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK / 2; j++) {
            int q0 = (int8_t)(x[b * QK + j] * id + 8.5f);
            int q1 = (int8_t)(x[b * QK + QK / 2 + j] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void quantize_row(uint32_t type, const float *x, void *out, int n) {
    switch (type) {
    case GGML_TYPE_F32: memcpy(out, x, (size_t)n * sizeof(float)); break;
    case GGML_TYPE_F16:
        for (int i = 0; i < n; i++) ((uint16_t *)out)[i] = fp32_to_fp16(x[i]);
        break;
    case GGML_TYPE_Q8_0: kernels_scalar.quantize_row_q8_0(x, out, n); break;
    case GGML_TYPE_Q4_0: quantize_row_q4_0(x, out, n); break;
    }
}

// LayerNorm sums in double (the row sum of 1600 activations is where float
// loses the most), in LN_LANES independent partial sums: as one chain of
// dependent double additions they took 1.15 us per 768-wide row on Zen 5,
// 0.40 us now (25 rows per token of a 124M model: 2% of a Q4_0 decode step).
#define LN_LANES 8

// sum of x[i]
static double row_sum(const float *x, int C) {
    double s[LN_LANES] = {0}, t = 0.0;
    int i = 0;
    for (; i + LN_LANES <= C; i += LN_LANES)
        for (int j = 0; j < LN_LANES; j++) s[j] += x[i + j];
    for (; i < C; i++) t += x[i];
    for (int j = 0; j < LN_LANES; j++) t += s[j];
    return t;
}

// sum of (x[i] - mean)^2
static double row_sq_dev(const float *x, int C, double mean) {
    double s[LN_LANES] = {0}, t = 0.0;
    int i = 0;
    for (; i + LN_LANES <= C; i += LN_LANES)
        for (int j = 0; j < LN_LANES; j++) s[j] += (x[i + j] - mean) * (x[i + j] - mean);
    for (; i < C; i++) t += (x[i] - mean) * (x[i] - mean);
    for (int j = 0; j < LN_LANES; j++) t += s[j];
    return t;
}

void layernorm_row(float *out, const float *x, const float *w, const float *b, int C, float eps) {
    double mean = row_sum(x, C) / C, var = row_sq_dev(x, C, mean) / C;
    float rstd = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
    for (int i = 0; i < C; i++) {
        float v = (x[i] - m) * rstd * w[i];
        out[i] = b ? v + b[i] : v;
    }
}

void gelu_erf_row(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void rmsnorm_row(float *out, const float *x, const float *w, int C, float eps) {
    double ss = 0;
    for (int i = 0; i < C; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / C + eps));
    for (int i = 0; i < C; i++) out[i] = x[i] * r * w[i];
}

void rope_angles(float *cs, int pos, int hd, float base, const float *freq_div) {
    for (int i = 0; i < hd / 2; i++) {
        double theta = pos * pow((double)base, -2.0 * i / hd) / (freq_div ? freq_div[i] : 1.0);
        cs[2 * i] = (float)cos(theta);
        cs[2 * i + 1] = (float)sin(theta);
    }
}

void rope_rows(float *x, int n_heads, int hd, const float *cs, bool adjacent) {
    int half = hd / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            float *a = adjacent ? v + 2 * i : v + i, *b = adjacent ? v + 2 * i + 1 : v + i + half;
            float c = cs[2 * i], s = cs[2 * i + 1], x0 = *a, x1 = *b;
            *a = x0 * c - x1 * s;
            *b = x0 * s + x1 * c;
        }
    }
}

void swiglu_row(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void add_bias_row(float *x, const float *b, int n) {
    if (!b) return;
    for (int i = 0; i < n; i++) x[i] += b[i];
}
