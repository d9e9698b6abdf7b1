// test_quant.c: Q8_0 and Q4_0, checked against independent references.
//   1. fp32 -> fp16 rounding against the compiler's own _Float16 conversion
//      (round to nearest even, libgcc), over a sweep of bit patterns.
//   2. quantize_row: ggml block bytes computed by hand for rows where the
//      rounding rule decides (x / d exactly k + 0.5, a scale that is an fp16
//      tie, negative and positive maxima for Q4_0, the clamp to 15, zeros);
//      hashes of the bytes ggml's own quantize_row_q8_0_ref / q4_0_ref give
//      for pseudo-random rows; round trips within half a step.
//   3. every SIMD table's quantize_row_q8_0 is byte-identical to the scalar
//      one, and its Q8_0 / Q4_0 matmuls agree with the scalar ones and with
//      a double-precision product of the dequantized blocks, for odd row
//      counts and ranges, T = 1, 2, 3, 4, 17, and K that spans segments.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util.h"

static int failures;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
            fprintf(stderr, __VA_ARGS__);                                                                         \
            fputc('\n', stderr);                                                                                  \
            failures++;                                                                                           \
        }                                                                                                         \
    } while (0)

static uint32_t lcg_state;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}

static uint64_t fnv1a(const void *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= ((const uint8_t *)p)[i];
        h *= 1099511628211ull;
    }
    return h;
}

// ---- 1. fp16 rounding -------------------------------------------------------------

static void test_fp16(void) {
#if defined(__FLT16_MAX__)
    int bad = 0;
    // every 997th pattern, plus the patterns next to every fp16 halfway point
    for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 997) {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f)) continue;
        _Float16 h = (_Float16)f;
        uint16_t want;
        memcpy(&want, &h, 2);
        if (fp32_to_fp16(f) != want && bad++ < 5) CHECK(0, "fp32_to_fp16(%a) = 0x%04x, want 0x%04x", f, fp32_to_fp16(f), want);
    }
    for (uint32_t m = 0; m < 0x8000; m++) {  // fp16 magnitudes: the ties between m and m + 1
        uint16_t lo = (uint16_t)m;
        float a = fp16_to_fp32(lo), b = fp16_to_fp32((uint16_t)(m + 1));
        if (isinf(b) || isnan(b) || isnan(a)) continue;
        float mid = (float)(((double)a + (double)b) / 2);  // exact: one more bit than fp16 has
        for (int dlt = -1; dlt <= 1; dlt++) {
            uint32_t bits;
            memcpy(&bits, &mid, 4);
            bits += (uint32_t)dlt;
            float f;
            memcpy(&f, &bits, 4);
            for (int s = 0; s < 2; s++, f = -f) {
                _Float16 h = (_Float16)f;
                uint16_t want;
                memcpy(&want, &h, 2);
                if (fp32_to_fp16(f) != want && bad++ < 10)
                    CHECK(0, "fp32_to_fp16(%a) = 0x%04x, want 0x%04x", f, fp32_to_fp16(f), want);
            }
        }
    }
    CHECK(bad == 0, "%d fp16 conversions differ from _Float16", bad);
#else
    printf("SKIP fp16 sweep: the compiler has no _Float16\n");
#endif
}

// ---- 2. quantize_row against ggml ---------------------------------------------------

static void expect_bytes(const char *what, const void *got, const uint8_t *want, size_t n) {
    if (memcmp(got, want, n) == 0) return;
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)got)[i] != want[i]) {
            CHECK(0, "%s: byte %zu is 0x%02x, ggml's layout gives 0x%02x", what, i, ((const uint8_t *)got)[i], want[i]);
            return;
        }
}

static void test_q8_0_hand(void) {
    // amax 127: d = 1 exactly, id = 1, so q = roundf(x): halves go away from
    // zero (63.5 -> 64, 0.5 -> 1, 2.5 -> 3; round-to-even would give 2 for 2.5)
    float x[32] = {127, 63.5f, -63.5f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49999997f, -126.5f, 3, -3, 0, -0.0f, 100.4f,
                   -100.6f};
    for (int j = 16; j < 32; j++) x[j] = (float)(j - 24) + 0.5f;  // -7.5 .. 7.5
    uint8_t want[34] = {0x00, 0x3C,  // d = 1.0 as fp16, little-endian
                        127, 64, (uint8_t)-64, 1, (uint8_t)-1, 2, 3, (uint8_t)-3, 0, (uint8_t)-127, 3, (uint8_t)-3, 0, 0,
                        100, (uint8_t)-101};
    for (int j = 16; j < 32; j++) {
        int k = j - 24;                     // x = k + 0.5
        want[2 + j] = (uint8_t)(k >= 0 ? k + 1 : k);  // away from zero: 7.5 -> 8, -7.5 -> -8, -0.5 -> -1
    }
    block_q8_0 b;
    quantize_row(GGML_TYPE_Q8_0, x, &b, 32);
    CHECK(sizeof b == 34, "block_q8_0 is %zu bytes, ggml's is 34", sizeof b);
    expect_bytes("q8_0 halves", &b, want, 34);

    // a scale that is an fp16 tie: amax = 127 * (1 + 2^-11) gives d = 1 + 2^-11,
    // exactly between fp16 0x3C00 and 0x3C01: to even, 0x3C00. With
    // 1 + 3 * 2^-11 the tie is between 0x3C01 and 0x3C02: 0x3C02.
    float y[32] = {0};
    y[5] = -127.0f * (1.0f + 1.0f / 2048);
    quantize_row(GGML_TYPE_Q8_0, y, &b, 32);
    CHECK(b.d == 0x3C00 && b.qs[5] == -127 && b.qs[0] == 0, "q8_0 fp16 tie to even: d 0x%04x q %d", b.d, b.qs[5]);
    y[5] = 127.0f * (1.0f + 3.0f / 2048);
    quantize_row(GGML_TYPE_Q8_0, y, &b, 32);
    CHECK(b.d == 0x3C02 && b.qs[5] == 127, "q8_0 fp16 tie up to even: d 0x%04x q %d", b.d, b.qs[5]);

    // amax 254: d = 2, id = 0.5: 1 -> 0.5 -> 1, 3 -> 1.5 -> 2, -5 -> -2.5 -> -3
    memset(y, 0, sizeof y);
    y[0] = 254, y[1] = 1, y[2] = 3, y[3] = -5, y[4] = -1;
    quantize_row(GGML_TYPE_Q8_0, y, &b, 32);
    uint8_t want2[34] = {0x00, 0x40, 127, 1, 2, (uint8_t)-3, (uint8_t)-1};
    expect_bytes("q8_0 d = 2", &b, want2, 34);

    // all zero: d = 0, every quant 0
    memset(y, 0, sizeof y);
    quantize_row(GGML_TYPE_Q8_0, y, &b, 32);
    uint8_t zero[34] = {0};
    expect_bytes("q8_0 zeros", &b, zero, 34);
}

static void test_q4_0_hand(void) {
    // The value of largest magnitude is -8 (negative): d = -8 / -8 = 1,
    // q = (int8_t)(x + 8.5) truncated, at most 15.
    float x[32] = {-8, 7, -7.5f, 0, 0.5f, -0.5f, -0.6f, 6.49f, -1, 3.5f, -3.5f, 2, -2, 0.25f, -0.25f, 5};
    for (int j = 16; j < 32; j++) x[j] = (float)(j - 24);  // -8 .. 7
    int q[32] = {0, 15, 1, 8, 9, 8, 7, 14, 7, 12, 5, 10, 6, 8, 8, 13};
    for (int j = 16; j < 32; j++) q[j] = j - 16;  // x + 8
    uint8_t want[18] = {0x00, 0x3C};
    for (int j = 0; j < 16; j++) want[2 + j] = (uint8_t)(q[j] | q[j + 16] << 4);  // element j low, j + 16 high
    block_q4_0 b;
    quantize_row(GGML_TYPE_Q4_0, x, &b, 32);
    CHECK(sizeof b == 18, "block_q4_0 is %zu bytes, ggml's is 18", sizeof b);
    expect_bytes("q4_0 negative max", &b, want, 18);

    // The largest magnitude is +8: d = -1 (0xBC00), id = -1; -8 maps to 16.5,
    // clamped to 15; 8 maps to 0.5 -> 0.
    float y[32] = {8, -8, 4, -4, 0};
    uint8_t want2[18] = {0x00, 0xBC, 0 | 8 << 4, 15 | 8 << 4, 4 | 8 << 4, 12 | 8 << 4, 8 | 8 << 4};
    for (int j = 5; j < 16; j++) want2[2 + j] = 0x88;
    quantize_row(GGML_TYPE_Q4_0, y, &b, 32);
    expect_bytes("q4_0 positive max, clamp", &b, want2, 18);

    memset(y, 0, sizeof y);
    quantize_row(GGML_TYPE_Q4_0, y, &b, 32);
    // max is +0, so d = 0 / -8 = -0: fp16 0x8000; id is 0 and every quant 8
    uint8_t zero[18] = {0x00, 0x80, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    expect_bytes("q4_0 zeros", &b, zero, 18);
}

// The rows of ggml's hash driver: 64 blocks of values of varied magnitude.
static void ggml_row(uint32_t seed, float *x, int n) {
    lcg_state = seed;
    for (int i = 0; i < n; i++) {
        int32_t v = (int32_t)(lcg() >> 8) - (1 << 23);
        int e = (int)(lcg() % 16);
        x[i] = (float)v * (1.0f / (float)(1 << 20)) / (float)(1 << e);
    }
}

static void test_against_ggml_hashes(void) {
    // FNV-1a 64 of the bytes ggml's quantize_row_q8_0_ref and quantize_row_q4_0_ref
    // (ggml commit d99724f, src/ggml-quants.c compiled alone with gcc -O2 into a
    // throwaway driver, the same generator as ggml_row) write for these rows.
    static const struct {
        uint32_t seed;
        uint64_t q8, q4;
    } want[] = {
        {1, 0x4979d924a134b800ull, 0xfbbdecc01f45f537ull},
        {2, 0x49af278e58bf4003ull, 0x6a0cc9910d251e26ull},
        {3, 0x25e59d08bdf03aa6ull, 0x1953e9019d5697a2ull},
    };
    enum { N = 32 * 64 };
    static float x[N];
    static block_q8_0 q8[N / QK];
    static block_q4_0 q4[N / QK];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ggml_row(want[i].seed, x, N);
        quantize_row(GGML_TYPE_Q8_0, x, q8, N);
        quantize_row(GGML_TYPE_Q4_0, x, q4, N);
        CHECK(fnv1a(q8, sizeof q8) == want[i].q8, "seed %u: q8_0 bytes differ from ggml's (hash 0x%016llx)",
              want[i].seed, (unsigned long long)fnv1a(q8, sizeof q8));
        CHECK(fnv1a(q4, sizeof q4) == want[i].q4, "seed %u: q4_0 bytes differ from ggml's (hash 0x%016llx)",
              want[i].seed, (unsigned long long)fnv1a(q4, sizeof q4));
    }
}

static void test_round_trip(void) {
    enum { N = 32 * 40 };
    static float x[N], y[N];
    static block_q8_0 q8[N / QK];
    static block_q4_0 q4[N / QK];
    ggml_row(7, x, N);
    quantize_row(GGML_TYPE_Q8_0, x, q8, N);
    dequantize_row(GGML_TYPE_Q8_0, q8, y, N);
    for (int i = 0; i < N; i++) {
        float d = fabsf(fp16_to_fp32(q8[i / QK].d));
        // half a step, plus the step's own fp16 rounding over up to 127 steps
        CHECK(fabsf(x[i] - y[i]) <= 0.5f * d + 127 * d / 1024 + 1e-30f, "q8_0 round trip %d: %g -> %g (d %g)", i,
              x[i], y[i], d);
    }
    quantize_row(GGML_TYPE_Q4_0, x, q4, N);
    dequantize_row(GGML_TYPE_Q4_0, q4, y, N);
    for (int i = 0; i < N; i++) {
        float d = fabsf(fp16_to_fp32(q4[i / QK].d));
        // the clamp at 15 costs up to a whole step for values of the opposite sign to the max
        CHECK(fabsf(x[i] - y[i]) <= d + 8 * d / 1024 + 1e-30f, "q4_0 round trip %d: %g -> %g (d %g)", i, x[i], y[i],
              d);
    }
}

// ---- 3. SIMD tables against the scalar one -------------------------------------------

static void test_simd_quantizer(const kernel_table *k) {
    enum { N = 32 * 50 };
    static float x[N];
    static block_q8_0 a[N / QK], b[N / QK];
    for (int round = 0; round < 200; round++) {
        ggml_row(100 + (uint32_t)round, x, N);
        if (round % 3 == 1)  // exact halves: amax 127 makes id = 1
            for (int i = 0; i < N; i++) x[i] = i % 32 == 0 ? 127.0f : (float)((int)(lcg() % 253) - 126) + 0.5f;
        if (round % 3 == 2)  // zero blocks and tiny values
            for (int i = 0; i < N; i++) x[i] = (i / 32) % 2 ? 0.0f : x[i] * 1e-30f;
        kernels_scalar.quantize_row_q8_0(x, a, N);
        k->quantize_row_q8_0(x, b, N);
        if (memcmp(a, b, sizeof a)) {
            CHECK(0, "%s quantize_row_q8_0 differs from the scalar bytes (round %d)", k->name, round);
            break;
        }
    }
}

// Random weights: quants over their whole range (Q8_0 -128 included) and
// scales of varied size.
static void random_weights(uint32_t type, void *w, size_t bytes) {
    uint8_t *p = w;
    size_t bs = type == GGML_TYPE_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0);
    for (size_t off = 0; off + bs <= bytes; off += bs) {
        float d = (float)((int)(lcg() % 2001) - 1000) / 1000.0f / (float)(1 << (lcg() % 6));
        uint16_t h = fp32_to_fp16(d);
        memcpy(p + off, &h, 2);
        for (size_t j = 2; j < bs; j++) p[off + j] = (uint8_t)(lcg() >> 13);
    }
}

static void test_simd_matmul(const kernel_table *k, uint32_t type) {
    static const int Ks[] = {32, 96, 768, 3072, 8256};  // 8256 = 258 blocks: more than one segment
    static const int Ts[] = {1, 2, 3, 4, 9, 17};
    static const int Ns[][2] = {{0, 1}, {0, 7}, {3, 20}, {5, 72}, {48, 115}};  // [n0, n1)
    matmul_fn simd = k->matmul[type], ref = kernels_scalar.matmul[type];
    if (!simd) {
        CHECK(0, "%s has no %s matmul", k->name, ggml_type_name(type));
        return;
    }
    int bad = 0;
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
        for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++) {
                int K = Ks[ki], T = Ts[ti], n0 = Ns[ni][0], n1 = Ns[ni][1], N = n1 + 3, ldo = N + 5;
                if (K > 3072 && (T > 4 || ni > 2)) continue;  // keep the big K cases few
                size_t rs = (size_t)(K / QK) * (type == GGML_TYPE_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
                uint8_t *w = malloc(rs * (size_t)N);
                float *x = malloc((size_t)T * K * sizeof(float));
                block_q8_0 *xq = malloc((size_t)T * (K / QK) * sizeof(block_q8_0));
                float *o1 = malloc((size_t)T * ldo * sizeof(float)), *o2 = malloc((size_t)T * ldo * sizeof(float));
                float *wrow = malloc((size_t)K * sizeof(float)), *xrow = malloc((size_t)K * sizeof(float));
                random_weights(type, w, rs * (size_t)N);
                for (int i = 0; i < T * K; i++) x[i] = (float)((int)(lcg() % 20001) - 10000) / 3000.0f;
                for (int t = 0; t < T; t++) kernels_scalar.quantize_row_q8_0(x + (size_t)t * K, xq + (size_t)t * (K / QK), K);
                for (int i = 0; i < T * ldo; i++) o1[i] = o2[i] = -12345.0f;  // sentinels outside [n0, n1)
                ref(o1, ldo, x, K, xq, w, rs, T, K, n0, n1);
                simd(o2, ldo, x, K, xq, w, rs, T, K, n0, n1);
                for (int t = 0; t < T && bad < 10; t++) {
                    dequantize_row(GGML_TYPE_Q8_0, xq + (size_t)t * (K / QK), xrow, K);
                    for (int n = 0; n < ldo && bad < 10; n++) {
                        float a = o1[(size_t)t * ldo + n], b = o2[(size_t)t * ldo + n];
                        if (n < n0 || n >= n1) {
                            if (a != -12345.0f || b != -12345.0f) {
                                CHECK(0, "%s %s K=%d T=%d: column %d outside [%d, %d) was written", k->name,
                                      ggml_type_name(type), K, T, n, n0, n1);
                                bad++;
                            }
                            continue;
                        }
                        // the definition, in double: dequantized weights . dequantized activations
                        dequantize_row(type, w + (size_t)n * rs, wrow, K);
                        double want = 0, mag = 0;
                        for (int i = 0; i < K; i++) {
                            want += (double)wrow[i] * xrow[i];
                            mag += fabs((double)wrow[i] * xrow[i]);
                        }
                        // float sums over K / 32 blocks in any order
                        double tol = (K / QK + 8) * 1.2e-7 * mag + 1e-30;
                        if (fabs(a - want) > tol || fabs(b - want) > tol || fabs(a - b) > tol) {
                            CHECK(0, "%s %s K=%d T=%d rows [%d,%d) out[%d][%d]: scalar %.9g simd %.9g exact %.9g",
                                  k->name, ggml_type_name(type), K, T, n0, n1, t, n, a, b, want);
                            bad++;
                        }
                    }
                }
                free(w), free(x), free(xq), free(o1), free(o2), free(wrow), free(xrow);
            }
}

int main(void) {
    test_fp16();
    test_q8_0_hand();
    test_q4_0_hand();
    test_against_ggml_hashes();
    test_round_trip();
    // the scalar kernels themselves against the double-precision definition
    lcg_state = 42;
    test_simd_matmul(&kernels_scalar, GGML_TYPE_Q8_0);
    test_simd_matmul(&kernels_scalar, GGML_TYPE_Q4_0);
    static const char *names[] = {"avx2", "avx512", "neon"};
    int tested = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const kernel_table *k = kernels_by_name(names[i]);
        if (!k) continue;
        tested++;
        if (!k->quantize_row_q8_0) CHECK(0, "%s has no quantize_row_q8_0", k->name);
        else test_simd_quantizer(k);
        test_simd_matmul(k, GGML_TYPE_Q8_0);
        test_simd_matmul(k, GGML_TYPE_Q4_0);
    }
    if (!tested) printf("SKIP SIMD kernels: none runs on this CPU\n");
    if (failures) {
        fprintf(stderr, "test_quant: %d failures\n", failures);
        return 1;
    }
    printf("test_quant: all passed (%d SIMD table%s)\n", tested, tested == 1 ? "" : "s");
    return 0;
}
