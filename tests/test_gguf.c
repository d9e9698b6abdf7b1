// test_gguf.c: the GGUF writer and reader against the specification.
//   1. A minimal file written by gguf_write is compared byte for byte with
//      the layout the GGUF v3 specification gives (spelled out by hand here).
//   2. A context with every value type, string and numeric arrays, and
//      tensors of every type survives write -> open unchanged, with every
//      tensor's data aligned to 32 bytes in the file.
//   3. gguf_copy_kv copies string arrays (a crash once) and every scalar type.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

#include "check.h"

typedef struct {
    uint8_t b[512];
    size_t n;
} bytes;
static void put(bytes *o, const void *p, size_t n) {
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put_u32(bytes *o, uint32_t v) { put(o, &v, 4); }
static void put_u64(bytes *o, uint64_t v) { put(o, &v, 8); }
static void put_str(bytes *o, const char *s) {
    put_u64(o, strlen(s));
    put(o, s, strlen(s));
}

static void test_exact_layout(const char *dir) {
    char path[512], err[GPT_ERR_LEN];
    snprintf(path, sizeof path, "%s/gguf_layout.gguf", dir);
    gguf_ctx *g = gguf_new();
    gguf_set_str(g, "general.architecture", "gpt2");
    gguf_set_uint32(g, "gpt2.block_count", 7);
    float data[3] = {1.0f, -2.0f, 0.5f};
    uint64_t ne[1] = {3};
    CHECK(gguf_add_tensor(g, "t", GGML_TYPE_F32, 1, ne, data, err) == 0, "%s", err);
    CHECK(gguf_write(g, path, NULL, NULL, err) == 0, "%s", err);
    gguf_free(g);
    // the specification's layout, field by field
    bytes e = {{0}, 0};
    put(&e, "GGUF", 4);
    put_u32(&e, 3);  // version
    put_u64(&e, 1);  // tensor count
    put_u64(&e, 2);  // metadata count
    put_str(&e, "general.architecture");
    put_u32(&e, 8);  // STRING
    put_str(&e, "gpt2");
    put_str(&e, "gpt2.block_count");
    put_u32(&e, 4);  // UINT32
    put_u32(&e, 7);
    put_str(&e, "t");
    put_u32(&e, 1);           // n_dims
    put_u64(&e, 3);           // ne[0]
    put_u32(&e, 0);           // GGML_TYPE_F32
    put_u64(&e, 0);           // offset within the data section
    while (e.n % 32) e.b[e.n++] = 0;  // padding to the alignment
    put(&e, data, sizeof data);
    while (e.n % 32) e.b[e.n++] = 0;  // the writer pads the last tensor too
    FILE *f = fopen(path, "rb");
    uint8_t got[512];
    size_t n = f ? fread(got, 1, sizeof got, f) : 0;
    if (f) fclose(f);
    CHECK(n == e.n, "file is %zu bytes, the specification's layout is %zu", n, e.n);
    CHECK(n == e.n && memcmp(got, e.b, n) == 0, "bytes differ from the specification's layout");
    remove(path);
}

static void test_round_trip(const char *dir) {
    char path[512], err[GPT_ERR_LEN];
    snprintf(path, sizeof path, "%s/gguf_roundtrip.gguf", dir);
    gguf_ctx *g = gguf_new();
    gguf_set_uint32(g, "a.u32", 0xDEADBEEF);
    gguf_set_int32(g, "a.i32", -123456);
    gguf_set_float32(g, "a.f32", 0.25f);
    gguf_set_bool(g, "a.bool", true);
    gguf_set_str(g, "a.str", "h\xc3\xa9llo");
    gguf_set_str_n(g, "a.empty", "", 0);
    gguf_str strs[3] = {{3, "abc"}, {0, ""}, {5, "\xc4\xa0the"}};
    gguf_set_arr_str(g, "a.strs", strs, 3);
    int32_t ints[4] = {1, -2, 3, 2147483647};
    gguf_set_arr_data(g, "a.ints", GGUF_TYPE_INT32, ints, 4);
    gguf_set_uint32(g, "a.u32", 42);  // replaces, does not duplicate
    static float f32[2 * 40];
    static uint16_t f16[2 * 40];
    static uint8_t q8[3 * 34 * 2], q4[3 * 18 * 2];  // 2 rows of 96 = 3 blocks each
    for (int i = 0; i < 80; i++) f32[i] = (float)i * 0.5f, f16[i] = (uint16_t)(0x3C00 + i);
    for (size_t i = 0; i < sizeof q8; i++) q8[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof q4; i++) q4[i] = (uint8_t)(i * 13);
    uint64_t ne_f[2] = {40, 2}, ne_q[2] = {96, 2};
    CHECK(!gguf_add_tensor(g, "w.f32", GGML_TYPE_F32, 2, ne_f, f32, err), "%s", err);
    CHECK(!gguf_add_tensor(g, "w.f16", GGML_TYPE_F16, 2, ne_f, f16, err), "%s", err);
    CHECK(!gguf_add_tensor(g, "w.q8", GGML_TYPE_Q8_0, 2, ne_q, q8, err), "%s", err);
    CHECK(!gguf_add_tensor(g, "w.q4", GGML_TYPE_Q4_0, 2, ne_q, q4, err), "%s", err);
    CHECK(gguf_add_tensor(g, "w.f32", GGML_TYPE_F32, 2, ne_f, f32, err) != 0, "a duplicate tensor was accepted");
    CHECK(gguf_add_tensor(g, "w.bad", GGML_TYPE_Q8_0, 2, ne_f, q8, err) != 0, "a Q8_0 row of 40 was accepted");
    // a copy of the metadata must equal the original (string arrays included)
    gguf_ctx *copy = gguf_new();
    gguf_copy_kv(copy, g);
    CHECK(gguf_n_kv(copy) == gguf_n_kv(g), "copy has %llu keys, original %llu", (unsigned long long)gguf_n_kv(copy),
          (unsigned long long)gguf_n_kv(g));
    CHECK(gguf_write(g, path, NULL, NULL, err) == 0, "%s", err);
    gguf_free(g);

    gguf_ctx *r;
    CHECK(gguf_open(&r, path, err) == 0, "%s", err);
    if (!r) return;
    uint64_t u;
    double d;
    gguf_str s;
    const gguf_kv *kv;
    CHECK(gguf_n_kv(r) == 8, "%llu keys", (unsigned long long)gguf_n_kv(r));
    CHECK(!gguf_get_uint(r, "a.u32", &u, err) && u == 42, "a.u32");
    CHECK(gguf_get_uint(r, "a.i32", &u, err) != 0, "a negative int read as unsigned");
    CHECK((kv = gguf_find_kv(r, "a.i32")) && kv->type == GGUF_TYPE_INT32 && kv->v.i == -123456, "a.i32");
    CHECK(!gguf_get_float(r, "a.f32", &d, err) && d == 0.25, "a.f32");
    CHECK((kv = gguf_find_kv(r, "a.bool")) && kv->type == GGUF_TYPE_BOOL && kv->v.u == 1, "a.bool");
    CHECK(!gguf_get_str(r, "a.str", &s, err) && gguf_str_eq(s, "h\xc3\xa9llo"), "a.str");
    CHECK(!gguf_get_str(r, "a.empty", &s, err) && s.len == 0, "a.empty");
    CHECK(!gguf_get_arr(r, "a.strs", GGUF_TYPE_STRING, &kv, err) && kv->v.arr.n == 3, "a.strs");
    if (kv && kv->v.arr.n == 3) {
        const gguf_str *a = kv->v.arr.data;
        CHECK(gguf_str_eq(a[0], "abc") && a[1].len == 0 && gguf_str_eq(a[2], "\xc4\xa0the"), "a.strs values");
    }
    CHECK(!gguf_get_arr(r, "a.ints", GGUF_TYPE_INT32, &kv, err) && kv->v.arr.n == 4 &&
              memcmp(kv->v.arr.data, ints, sizeof ints) == 0, "a.ints");
    CHECK(gguf_get_uint(r, "missing", &u, err) != 0 && strstr(err, "missing"), "a missing key: '%s'", err);
    const struct {
        const char *name;
        const void *data;
        size_t n;
    } want[] = {{"w.f32", f32, sizeof f32}, {"w.f16", f16, sizeof f16}, {"w.q8", q8, sizeof q8}, {"w.q4", q4, sizeof q4}};
    for (int i = 0; i < 4; i++) {
        const gguf_tensor *t = gguf_find_tensor(r, want[i].name);
        CHECK(t && t->nbytes == want[i].n && memcmp(t->data, want[i].data, want[i].n) == 0, "tensor %s", want[i].name);
        CHECK(t && t->offset % 32 == 0, "tensor %s offset %llu is not aligned", want[i].name,
              t ? (unsigned long long)t->offset : 0ull);
    }
    gguf_free(r);
    gguf_free(copy);
    remove(path);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    test_exact_layout(dir);
    test_round_trip(dir);
    printf("%s\n", failures ? "FAILED" : "all gguf checks passed");
    return failures ? 1 : 0;
}
