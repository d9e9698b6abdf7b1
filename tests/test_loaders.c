// test_loaders.c: the Hugging Face and llm.c loaders against synthetic
// checkpoints written here, and against bad files.
//
// Every weight element written is a formula of (tensor, row, column): a
// multiple of 1/8 in [-3.75, 3.75], exact in F32, F16 and BF16, so the F32
// the loader produces must equal the formula exactly at the position ggml's
// layout puts it (HF's Conv1D (in, out) transposed to ne = {in, out}; llm.c's
// (out, in) kept; llm.c's padded vocab rows dropped). The half-precision
// encoders, GPT-2's byte alphabet and the expected merges are written out
// here independently of the code under test. With GPT-2's real encoder.json
// and vocab.bpe at hand (tokenizer/gpt2/ or /work/shared/tokenizer/gpt2/),
// the merges derived from an llm.c tokenizer must reproduce vocab.bpe.
#define _XOPEN_SOURCE 700  // nftw
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "loaders.h"
#include "util.h"

#include "check.h"

// ---- values, half encoders, alphabet ---------------------------------------------

static float val(int k, uint64_t r, uint64_t c) {
    return (float)((int)(((uint64_t)k * 131 + r * 7 + c * 3) % 61) - 30) / 8.0f;
}

static uint16_t enc_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    if (b & 0xFFFF) abort();  // the test's values are exact in bf16
    return (uint16_t)(b >> 16);
}

static uint16_t enc_f16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000);
    if ((b & 0x7FFFFFFF) == 0) return sign;
    int e = (int)((b >> 23) & 0xFF) - 127 + 15;
    if (e <= 0 || e >= 31 || (b & 0x1FFF)) abort();  // normal and exact only
    return (uint16_t)(sign | (e << 10) | ((b >> 13) & 0x3FF));
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest
// take 256, 257, ... in byte order.
static uint32_t alpha_cp[256];
static void init_alphabet(void) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        alpha_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

static size_t alpha_str(const uint8_t *b, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = alpha_cp[b[i]];
        if (cp < 0x80) out[o++] = (char)cp;
        else out[o++] = (char)(0xC0 | (cp >> 6)), out[o++] = (char)(0x80 | (cp & 0x3F));
    }
    out[o] = 0;
    return o;
}

// alphabet text -> bytes (the inverse, by search: slow but obviously right)
static long alpha_decode(const char *s, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)s;
    long n = 0;
    while (*p) {
        uint32_t cp;
        if (*p < 0x80) cp = *p++;
        else if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F), p += 2;
        else return -1;
        int b = 0;
        while (b < 256 && alpha_cp[b] != cp) b++;
        if (b == 256) return -1;
        out[n++] = (uint8_t)b;
    }
    return n;
}

// ---- files ---------------------------------------------------------------------------

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) abort();
    buf_add(b, tmp, (size_t)n);
}

static void write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static char root[256];
static int n_dirs;

// A fresh directory under the test's temporary root.
static const char *new_dir(char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/d%d", root, n_dirs++);
    if (n < 0 || (size_t)n >= cap) abort();
    if (mkdir(out, 0700) != 0) {
        perror(out);
        exit(2);
    }
    return out;
}

static const char *join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) abort();
    return out;
}

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f) {
    (void)s, (void)flag, (void)f;
    return remove(p);
}

// ---- expectations ---------------------------------------------------------------------

// One tensor as the loader must produce it: source (rows, cols) row-major
// whose (r, c) element is val(k, r, c) (a 1-D source has one row);
// transpose: ggml ne = {rows, cols} (a Conv1D weight), else {cols, rows}.
typedef struct {
    char gguf[64];
    int n_dims;
    uint64_t shape[2];
    int k;
    bool transpose;
} expect_t;

static void check_tensor(const gguf_ctx *g, const expect_t *e) {
    const gguf_tensor *t = gguf_find_tensor(g, e->gguf);
    CHECK(t != NULL, "tensor %s missing", e->gguf);
    if (!t) return;
    uint64_t rows = e->n_dims == 2 ? e->shape[0] : 1, cols = e->n_dims == 2 ? e->shape[1] : e->shape[0];
    uint64_t ne0 = e->transpose ? rows : cols, ne1 = e->transpose ? cols : rows;
    CHECK(t->type == GGML_TYPE_F32, "%s: type %u", e->gguf, t->type);
    CHECK((int)t->n_dims == e->n_dims, "%s: n_dims %u, want %d", e->gguf, t->n_dims, e->n_dims);
    CHECK(t->ne[0] == ne0 && t->ne[1] == (e->n_dims == 2 ? ne1 : 1), "%s: ne {%llu, %llu}, want {%llu, %llu}",
          e->gguf, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)ne0,
          (unsigned long long)(e->n_dims == 2 ? ne1 : 1));
    if (t->ne[0] != ne0 || (e->n_dims == 2 && t->ne[1] != ne1) || t->type != GGML_TYPE_F32) return;
    const float *d = t->data;
    uint64_t bad = 0;
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c = 0; c < cols; c++) {
            float got = e->transpose ? d[c * rows + r] : d[r * cols + c];
            if (got != val(e->k, r, c) && bad++ < 3)
                fprintf(stderr, "  %s: source (%llu, %llu) = %g, want %g\n", e->gguf, (unsigned long long)r,
                        (unsigned long long)c, got, val(e->k, r, c));
        }
    CHECK(bad == 0, "%s: %llu wrong elements", e->gguf, (unsigned long long)bad);
}

static void check_uint(const gguf_ctx *g, const char *key, uint64_t want) {
    uint64_t v = 0;
    char err[GPT_ERR_LEN];
    int rc = gguf_get_uint(g, key, &v, err);
    CHECK(rc == 0 && v == want, "%s = %llu (rc %d), want %llu", key, (unsigned long long)v, rc,
          (unsigned long long)want);
}

static void check_str(const gguf_ctx *g, const char *key, const char *want) {
    gguf_str s = {0, ""};
    char err[GPT_ERR_LEN];
    int rc = gguf_get_str(g, key, &s, err);
    CHECK(rc == 0 && gguf_str_eq(s, want), "%s = '%.*s' (rc %d), want '%s'", key, (int)s.len, s.ptr, rc, want);
}

static void check_float(const gguf_ctx *g, const char *key, float want) {
    double v = 0;
    char err[GPT_ERR_LEN];
    const gguf_kv *kv = gguf_find_kv(g, key);
    CHECK(kv && kv->type == GGUF_TYPE_FLOAT32, "%s: not a float32", key);
    int rc = gguf_get_float(g, key, &v, err);
    CHECK(rc == 0 && (float)v == want, "%s = %g, want %g", key, v, want);
}

// A string array equal to want[0..n).
static void check_str_arr(const gguf_ctx *g, const char *key, char **want, uint64_t n) {
    const gguf_kv *kv;
    char err[GPT_ERR_LEN];
    int rc = gguf_get_arr(g, key, GGUF_TYPE_STRING, &kv, err);
    CHECK(rc == 0, "%s: %s", key, err);
    if (rc) return;
    CHECK(kv->v.arr.n == n, "%s: %llu entries, want %llu", key, (unsigned long long)kv->v.arr.n,
          (unsigned long long)n);
    const gguf_str *s = kv->v.arr.data;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n && i < kv->v.arr.n; i++)
        if (!gguf_str_eq(s[i], want[i]) && bad++ < 5)
            fprintf(stderr, "  %s[%llu] = '%.*s', want '%s'\n", key, (unsigned long long)i, (int)s[i].len, s[i].ptr,
                    want[i]);
    CHECK(bad == 0, "%s: %llu entries differ", key, (unsigned long long)bad);
}

// token_type: 3 at the listed control ids, 1 elsewhere.
static void check_types(const gguf_ctx *g, uint64_t n, const uint64_t *control, int n_control) {
    const gguf_kv *kv;
    char err[GPT_ERR_LEN];
    int rc = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &kv, err);
    CHECK(rc == 0 && kv->v.arr.n == n, "token_type: %s", rc ? err : "wrong length");
    if (rc || kv->v.arr.n != n) return;
    const uint8_t *t = kv->v.arr.data;  // packed as in the file: maybe unaligned
    for (uint64_t i = 0; i < n; i++) {
        int want = 1;
        int32_t ti;
        memcpy(&ti, t + 4 * i, 4);
        for (int j = 0; j < n_control; j++)
            if (control[j] == i) want = 3;
        CHECK(ti == want, "token_type[%llu] = %d, want %d", (unsigned long long)i, ti, want);
    }
}

// Load must fail with a message containing want.
static void expect_fail(int rc, gguf_ctx *g, const char *err, const char *want, const char *what) {
    CHECK(rc != 0, "%s: loaded but should fail", what);
    CHECK(rc == 0 || strstr(err, want) != NULL, "%s: error '%s' does not mention '%s'", what, err, want);
    if (rc == 0) gguf_free(g);
}

// ---- Hugging Face directories ---------------------------------------------------------

typedef struct {
    char name[96];  // as written in the file
    char dtype[8];
    int n_dims;
    uint64_t shape[4];
    expect_t e;  // e.gguf empty: not a weight (mask buffers)
    bool set_offsets;
    uint64_t ob, oe;
} st_tensor;

static size_t dtype_size(const char *dt) {
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "I64")) return 8;
    return 4;
}

static uint64_t st_numel(const st_tensor *t) {
    uint64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

// model.safetensors with the tensors in list order; hlen_delta corrupts the
// stored header length, truncate drops bytes from the end.
static void write_safetensors(const char *path, const st_tensor *t, int n, int64_t hlen_delta, size_t truncate) {
    buf h = {0}, data = {0};
    buf_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        uint64_t begin = data.n, numel = st_numel(&t[i]);
        size_t es = dtype_size(t[i].dtype);
        for (uint64_t j = 0; j < numel; j++) {
            uint64_t r = t[i].n_dims == 2 ? j / t[i].shape[1] : 0, c = t[i].n_dims == 2 ? j % t[i].shape[1] : j;
            float f = val(t[i].e.k, r, c);
            if (!strcmp(t[i].dtype, "F16")) {
                uint16_t v = enc_f16(f);
                buf_add(&data, &v, 2);
            } else if (!strcmp(t[i].dtype, "BF16")) {
                uint16_t v = enc_bf16(f);
                buf_add(&data, &v, 2);
            } else {
                uint8_t z[8] = {0};
                if (es == 4) memcpy(z, &f, 4);
                buf_add(&data, z, es);
            }
        }
        uint64_t ob = t[i].set_offsets ? t[i].ob : begin, oe = t[i].set_offsets ? t[i].oe : data.n;
        buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].n_dims; d++) buf_printf(&h, "%s%llu", d ? "," : "", (unsigned long long)t[i].shape[d]);
        buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)ob, (unsigned long long)oe);
    }
    buf_printf(&h, "}");
    while (h.n % 8) buf_add(&h, " ", 1);  // as the safetensors library pads
    buf file = {0};
    uint64_t hl = (uint64_t)((int64_t)h.n + hlen_delta);
    buf_add(&file, &hl, 8);
    buf_add(&file, h.p, h.n);
    buf_add(&file, data.p, data.n);
    write_file(path, file.p, file.n - truncate);
    free(h.p);
    free(data.p);
    free(file.p);
}

typedef struct {
    int C, NH, L, P, V, F;
    int prefix;    // 0: none, 1: "transformer." on all, 2: on every other tensor
    bool buffers;  // h.N.attn.bias and h.N.attn.masked_bias
    int lm_head;   // 0: none, 1: untied (own values), 2: a copy of wte
} hf_spec;

static const char *dtypes[3] = {"F32", "F16", "BF16"};

// Fill t with GPT-2's tensors for s (k numbers the tensors, dtypes cycle).
static int hf_tensors(st_tensor *t, const hf_spec *s) {
    int n = 0;
    uint64_t C = s->C, F = s->F;
#define T(HF, GG, ND, S0, S1, TR)                                                                          \
    do {                                                                                                   \
        st_tensor *x = &t[n];                                                                              \
        memset(x, 0, sizeof *x);                                                                           \
        bool pre = s->prefix == 1 || (s->prefix == 2 && n % 2 == 0);                                       \
        snprintf(x->name, sizeof x->name, "%s%s", pre ? "transformer." : "", HF);                          \
        snprintf(x->e.gguf, sizeof x->e.gguf, "%s", GG);                                                   \
        snprintf(x->dtype, sizeof x->dtype, "%s", dtypes[n % 3]);                                          \
        x->n_dims = x->e.n_dims = ND;                                                                      \
        x->shape[0] = x->e.shape[0] = S0;                                                                  \
        x->shape[1] = x->e.shape[1] = S1;                                                                  \
        x->e.k = n + 1;                                                                                    \
        x->e.transpose = TR;                                                                               \
        n++;                                                                                               \
    } while (0)
    T("wte.weight", "token_embd.weight", 2, (uint64_t)s->V, C, false);
    T("wpe.weight", "position_embd.weight", 2, (uint64_t)s->P, C, false);
    for (int l = 0; l < s->L; l++) {
        char hf[80], gg[64];
#define TL(HFS, GGS, ND, S0, S1, TR)                        \
    do {                                                    \
        snprintf(hf, sizeof hf, "h.%d.%s", l, HFS);         \
        snprintf(gg, sizeof gg, "blk.%d.%s", l, GGS);       \
        T(hf, gg, ND, S0, S1, TR);                          \
    } while (0)
        TL("ln_1.weight", "attn_norm.weight", 1, C, 0, false);
        TL("ln_1.bias", "attn_norm.bias", 1, C, 0, false);
        TL("attn.c_attn.weight", "attn_qkv.weight", 2, C, 3 * C, true);
        TL("attn.c_attn.bias", "attn_qkv.bias", 1, 3 * C, 0, false);
        TL("attn.c_proj.weight", "attn_output.weight", 2, C, C, true);
        TL("attn.c_proj.bias", "attn_output.bias", 1, C, 0, false);
        TL("ln_2.weight", "ffn_norm.weight", 1, C, 0, false);
        TL("ln_2.bias", "ffn_norm.bias", 1, C, 0, false);
        TL("mlp.c_fc.weight", "ffn_up.weight", 2, C, F, true);
        TL("mlp.c_fc.bias", "ffn_up.bias", 1, F, 0, false);
        TL("mlp.c_proj.weight", "ffn_down.weight", 2, F, C, true);
        TL("mlp.c_proj.bias", "ffn_down.bias", 1, C, 0, false);
        if (s->buffers) {
            T("", "", 4, 1, 1, false);  // h.N.attn.bias (1, 1, P, P)
            snprintf(t[n - 1].name, sizeof t[n - 1].name, "h.%d.attn.bias", l);
            t[n - 1].shape[2] = t[n - 1].shape[3] = (uint64_t)s->P;
            t[n - 1].e.gguf[0] = 0;
            T("", "", 0, 0, 0, false);  // h.N.attn.masked_bias: a scalar
            snprintf(t[n - 1].name, sizeof t[n - 1].name, "h.%d.attn.masked_bias", l);
            snprintf(t[n - 1].dtype, sizeof t[n - 1].dtype, "F32");
            t[n - 1].e.gguf[0] = 0;
        }
#undef TL
    }
    T("ln_f.weight", "output_norm.weight", 1, C, 0, false);
    T("ln_f.bias", "output_norm.bias", 1, C, 0, false);
    if (s->lm_head) {
        T("lm_head.weight", "output.weight", 2, (uint64_t)s->V, C, false);
        snprintf(t[n - 1].name, sizeof t[n - 1].name, "lm_head.weight");
        if (s->lm_head == 2) {  // the same bytes as wte: a tied head
            t[n - 1].e.k = t[0].e.k;
            memcpy(t[n - 1].dtype, t[0].dtype, sizeof t[0].dtype);
        }
    }
#undef T
    return n;
}

static int hf_find(st_tensor *t, int n, const char *name_suffix) {
    for (int i = 0; i < n; i++) {
        size_t a = strlen(t[i].name), b = strlen(name_suffix);
        if (a >= b && !strcmp(t[i].name + a - b, name_suffix) && (a == b || t[i].name[a - b - 1] == '.'))
            return i;
    }
    abort();
}

// The tiny tokenizer: ids 0..255 the bytes (in the alphabet), then "ab",
// "Ġab", <|endoftext|> (258) and, as an added token, "<|pad|>" (259).
#define TINY_V 259
#define TINY_EOT 258
static char tiny_token_text[256][3];
static char *tiny_tokens[TINY_V + 1];
static char *tiny_merges[] = {"a b", "\xc4\xa0 ab"};

static void init_tiny_tokens(void) {
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        alpha_str(&c, 1, tiny_token_text[b]);
        tiny_tokens[b] = tiny_token_text[b];
    }
    tiny_tokens[256] = "ab";
    tiny_tokens[257] = "\xc4\xa0" "ab";
    tiny_tokens[258] = "<|endoftext|>";
    tiny_tokens[259] = "<|pad|>";
}

static void write_config(const char *dir, const char *json) {
    char p[512];
    write_str(join(p, sizeof p, dir, "config.json"), json);
}

// bos/eos: 50256 with GPT-2's vocabulary, else the tiny one's 258.
static void write_config_std(const char *dir, const hf_spec *s, const char *inner, const char *act, const char *eps) {
    char cfg[1024];
    int eot = s->V >= 50257 ? 50256 : TINY_EOT;
    snprintf(cfg, sizeof cfg,
             "{\"model_type\": \"gpt2\", \"n_embd\": %d, \"n_head\": %d, \"n_layer\": %d, \"n_positions\": %d,"
             " \"n_ctx\": 1024, \"vocab_size\": %d, \"n_inner\": %s, \"activation_function\": \"%s\","
             " \"layer_norm_epsilon\": %s, \"bos_token_id\": %d, \"eos_token_id\": %d,"
             " \"architectures\": [\"GPT2LMHeadModel\"]}",
             s->C, s->NH, s->L, s->P, s->V, inner, act, eps, eot, eot);
    write_config(dir, cfg);
}

// vocab.json with every code point \u-escaped. Damage for the bad-file
// tests: VOCAB_GAP gives "Ġab" id 300, VOCAB_DUP gives it id 256 (as "ab"),
// VOCAB_RAW_SPACE writes byte 0x20 as a raw " " (outside the alphabet),
// VOCAB_NO_BYTE_I replaces the token "i" by "ii".
enum { VOCAB_OK, VOCAB_GAP, VOCAB_DUP, VOCAB_RAW_SPACE, VOCAB_NO_BYTE_I };

static void json_key(buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (const uint8_t *p = (const uint8_t *)s; *p;) {
        uint32_t cp = *p < 0x80 ? *p++ : (uint32_t)((p[0] & 0x1F) << 6 | (p[1] & 0x3F));
        if (cp >= 0x80) p += 2;
        buf_printf(b, "\\u%04x", cp);
    }
    buf_add(b, "\"", 1);
}

static void write_vocab_json(const char *dir, int damage) {
    char p[512];
    buf b = {0};
    buf_add(&b, "{", 1);
    for (int id = 0; id < TINY_V; id++) {
        const char *s = tiny_tokens[id];
        int out_id = id;
        if (damage == VOCAB_RAW_SPACE && id == ' ') s = " ";
        if (damage == VOCAB_NO_BYTE_I && id == 'i') s = "ii";
        if (damage == VOCAB_GAP && id == 257) out_id = 300;
        if (damage == VOCAB_DUP && id == 257) out_id = 256;
        if (id) buf_add(&b, ", ", 2);
        json_key(&b, s);
        buf_printf(&b, ": %d", out_id);
    }
    buf_add(&b, "}", 1);
    write_file(join(p, sizeof p, dir, "vocab.json"), b.p, b.n);
    free(b.p);
}

static void write_tiny_vocab(const char *dir, bool pad_token) {
    char p[512];
    write_vocab_json(dir, VOCAB_OK);
    write_str(join(p, sizeof p, dir, "merges.txt"), "#version: 0.2\na b\n\xc4\xa0 ab\n");
    if (pad_token)
        write_str(join(p, sizeof p, dir, "tokenizer.json"),
                  "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 258, \"content\": \"<|endoftext|>\", "
                  "\"special\": true}, {\"id\": 259, \"content\": \"<|pad|>\", \"special\": true}], "
                  "\"model\": {}}");
}

// A complete good directory; returns the tensor count written.
static int make_hf_dir(char *dir, size_t cap, const hf_spec *s, st_tensor *t, bool pad_token, const char *inner,
                       const char *act, const char *eps) {
    char p[512];
    new_dir(dir, cap);
    write_config_std(dir, s, inner, act, eps);
    write_tiny_vocab(dir, pad_token);
    int n = hf_tensors(t, s);
    write_safetensors(join(p, sizeof p, dir, "model.safetensors"), t, n, 0, 0);
    return n;
}

static void check_hf_model(const gguf_ctx *g, const hf_spec *s, st_tensor *t, int n, const char *dir,
                           bool gelu_erf, float eps, bool has_output) {
    char name[256];
    const char *b = strrchr(dir, '/');
    snprintf(name, sizeof name, "%s", b ? b + 1 : dir);
    check_str(g, "general.architecture", "gpt2");
    check_str(g, "general.name", name);
    check_uint(g, "general.file_type", 0);
    check_uint(g, "gpt2.context_length", (uint64_t)s->P);
    check_uint(g, "gpt2.embedding_length", (uint64_t)s->C);
    check_uint(g, "gpt2.feed_forward_length", (uint64_t)s->F);
    check_uint(g, "gpt2.block_count", (uint64_t)s->L);
    check_uint(g, "gpt2.attention.head_count", (uint64_t)s->NH);
    check_float(g, "gpt2.attention.layer_norm_epsilon", eps);
    check_str(g, "gpt.gelu", gelu_erf ? "erf" : "tanh");
    check_str(g, "tokenizer.ggml.model", "gpt2");
    check_str(g, "tokenizer.ggml.pre", "gpt-2");
    check_str_arr(g, "tokenizer.ggml.tokens", tiny_tokens, (uint64_t)s->V);
    uint64_t control[2] = {TINY_EOT, TINY_EOT + 1};
    check_types(g, (uint64_t)s->V, control, 2);
    check_str_arr(g, "tokenizer.ggml.merges", tiny_merges, 2);
    check_uint(g, "tokenizer.ggml.bos_token_id", TINY_EOT);
    check_uint(g, "tokenizer.ggml.eos_token_id", TINY_EOT);
    int weights = 0;
    for (int i = 0; i < n; i++) {
        if (!t[i].e.gguf[0]) continue;
        if (!strcmp(t[i].e.gguf, "output.weight") && !has_output) continue;
        check_tensor(g, &t[i].e);
        weights++;
    }
    CHECK(gguf_n_tensors(g) == (uint64_t)weights, "%llu tensors, want %d", (unsigned long long)gguf_n_tensors(g),
          weights);
    CHECK((gguf_find_tensor(g, "output.weight") != NULL) == has_output, "output.weight %s",
          has_output ? "missing" : "present for a tied head");
}

static st_tensor T_[400];

static void test_hf_good(void) {
    char dir[512], err[GPT_ERR_LEN];
    gguf_ctx *g;
    // A: n_inner null (4C), gelu_new, mixed prefixes, mask buffers, no lm_head
    hf_spec a = {8, 2, 2, 5, TINY_V, 32, 2, true, 0};
    int n = make_hf_dir(dir, sizeof dir, &a, T_, false, "null", "gelu_new", "1e-05");
    int rc = load_hf_dir(&g, dir, err);
    CHECK(rc == 0, "hf A: %s", err);
    if (rc == 0) {
        check_hf_model(g, &a, T_, n, dir, false, 1e-5f, false);
        // load_any and detect_model_format see a directory
        CHECK(detect_model_format(dir) == MODEL_FMT_HF_DIR, "detect dir");
        // round trip through a GGUF file: detect_model_format and load_any map it
        char p[512];
        join(p, sizeof p, root, "a.gguf");
        rc = gguf_write(g, p, NULL, NULL, err);
        CHECK(rc == 0, "gguf_write: %s", err);
        gguf_ctx *f;
        CHECK(detect_model_format(p) == MODEL_FMT_GGUF, "detect gguf");
        rc = load_any(&f, p, NULL, err);
        CHECK(rc == 0, "load_any gguf: %s", err);
        if (rc == 0) {
            check_hf_model(f, &a, T_, n, dir, false, 1e-5f, false);
            gguf_free(f);
        }
        gguf_free(g);
    }
    // B: n_inner 24, exact gelu, no prefix, an untied F16 head, an added token
    hf_spec b = {8, 4, 1, 3, TINY_V + 1, 24, 0, false, 1};
    n = make_hf_dir(dir, sizeof dir, &b, T_, true, "24", "gelu", "1e-6");
    rc = load_any(&g, dir, NULL, err);
    CHECK(rc == 0, "hf B: %s", err);
    if (rc == 0) {
        check_hf_model(g, &b, T_, n, dir, true, 1e-6f, true);
        gguf_free(g);
    }
    // C: lm_head.weight saved as a copy of wte: still a tied head
    hf_spec c = {8, 2, 1, 4, TINY_V, 32, 1, false, 2};
    n = make_hf_dir(dir, sizeof dir, &c, T_, false, "null", "gelu_new", "1e-05");
    rc = load_hf_dir(&g, dir, err);
    CHECK(rc == 0, "hf C: %s", err);
    if (rc == 0) {
        check_hf_model(g, &c, T_, n, dir, false, 1e-5f, false);
        gguf_free(g);
    }
}

// A good directory (spec a), then one change; the load must fail naming want.
typedef void (*hf_mutator)(const char *dir, st_tensor *t, int *n);

static void hf_bad(const char *what, hf_mutator mutate, const char *want) {
    char dir[512], err[GPT_ERR_LEN] = "";
    hf_spec a = {8, 2, 2, 5, TINY_V, 32, 1, true, 0};
    int n = make_hf_dir(dir, sizeof dir, &a, T_, false, "null", "gelu_new", "1e-05");
    mutate(dir, T_, &n);
    gguf_ctx *g = NULL;
    int rc = load_hf_dir(&g, dir, err);
    expect_fail(rc, g, err, want, what);
}

static void rewrite(const char *dir, st_tensor *t, int n, int64_t hlen_delta, size_t truncate) {
    char p[512];
    write_safetensors(join(p, sizeof p, dir, "model.safetensors"), t, n, hlen_delta, truncate);
}

static void m_truncated(const char *d, st_tensor *t, int *n) { rewrite(d, t, *n, 0, 1); }
static void m_hlen_big(const char *d, st_tensor *t, int *n) { rewrite(d, t, *n, 1 << 20, 0); }
static void m_hlen_huge(const char *d, st_tensor *t, int *n) { rewrite(d, t, *n, (int64_t)1 << 62, 0); }
static void m_hlen_short(const char *d, st_tensor *t, int *n) { rewrite(d, t, *n, -8, 0); }
static void m_offsets(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.1.ln_2.bias");
    t[i].set_offsets = true, t[i].ob = 1u << 30, t[i].oe = (1u << 30) + 32;
    rewrite(d, t, *n, 0, 0);
}
static void m_offsets_reversed(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.0.ln_1.bias");
    t[i].set_offsets = true, t[i].ob = 64, t[i].oe = 32;
    rewrite(d, t, *n, 0, 0);
}
static void m_offsets_big(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "wpe.weight");
    t[i].set_offsets = true, t[i].ob = 0, t[i].oe = (uint64_t)1 << 50;
    rewrite(d, t, *n, 0, 0);
}
static void m_offsets_huge(const char *d, st_tensor *t, int *n) {  // beyond JSON's exact integers
    int i = hf_find(t, *n, "wpe.weight");
    t[i].set_offsets = true, t[i].ob = 0, t[i].oe = (uint64_t)1 << 60;
    rewrite(d, t, *n, 0, 0);
}
static void m_overlap(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.0.ln_1.bias");  // F32 (C) = 32 bytes over the start of wte
    snprintf(t[i].dtype, sizeof t[i].dtype, "F32");
    t[i].set_offsets = true, t[i].ob = 0, t[i].oe = 32;
    rewrite(d, t, *n, 0, 0);
}
static void m_size_mismatch(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "ln_f.weight");
    t[i].shape[0] = 9;  // 9 elements written, but config says 8; and offsets cover only 8
    t[i].set_offsets = true;
    rewrite(d, t, *n, 0, 0);  // offsets [0, 0]: size mismatch
}
static void m_dtype(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.0.attn.c_proj.bias");
    snprintf(t[i].dtype, sizeof t[i].dtype, "I64");
    rewrite(d, t, *n, 0, 0);
}
static void m_dtype_unknown(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.0.attn.c_proj.bias");
    snprintf(t[i].dtype, sizeof t[i].dtype, "Q4");
    rewrite(d, t, *n, 0, 0);
}
static void m_missing(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.1.mlp.c_proj.bias");
    memmove(&t[i], &t[i + 1], (size_t)(*n - i - 1) * sizeof *t);
    (*n)--;
    rewrite(d, t, *n, 0, 0);
}
static void m_extra(const char *d, st_tensor *t, int *n) {
    t[*n] = t[hf_find(t, *n, "ln_f.bias")];
    snprintf(t[*n].name, sizeof t[*n].name, "h.0.attn.rotary.weight");
    (*n)++;
    rewrite(d, t, *n, 0, 0);
}
static void m_duplicate(const char *d, st_tensor *t, int *n) {
    t[*n] = t[hf_find(t, *n, "ln_f.bias")];
    snprintf(t[*n].name, sizeof t[*n].name, "transformer.ln_f.bias");
    int i = hf_find(t, *n, "ln_f.bias");
    snprintf(t[i].name, sizeof t[i].name, "ln_f.bias");
    (*n)++;
    rewrite(d, t, *n, 0, 0);
}
static void m_wpe_rows(const char *d, st_tensor *t, int *n) {
    t[hf_find(t, *n, "wpe.weight")].shape[0] = 7;
    rewrite(d, t, *n, 0, 0);
}
static void m_qkv_shape(const char *d, st_tensor *t, int *n) {
    int i = hf_find(t, *n, "h.0.attn.c_attn.weight");  // stored (3C, C) as nn.Linear would
    t[i].shape[0] = 24, t[i].shape[1] = 8;
    rewrite(d, t, *n, 0, 0);
}
static void m_not_json(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    uint64_t hl = 16;
    buf f = {0};
    buf_add(&f, &hl, 8);
    buf_add(&f, "{\"a\": [1, 2,    ", 16);
    write_file(join(p, sizeof p, d, "model.safetensors"), f.p, f.n);
    free(f.p);
}
static void m_tiny_file(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    write_file(join(p, sizeof p, d, "model.safetensors"), "\x10\0\0", 3);
}
static void m_heads(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    hf_spec a = {8, 3, 2, 5, TINY_V, 32, 1, true, 0};
    write_config_std(d, &a, "null", "gelu_new", "1e-05");
}
static void m_no_layers(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_config(d, "{\"n_embd\": 8, \"n_head\": 2, \"n_positions\": 5, \"vocab_size\": 6}");
}
static void m_float_layers(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_config(d, "{\"n_embd\": 8, \"n_head\": 2, \"n_layer\": 2.5, \"n_positions\": 5, \"vocab_size\": 6}");
}
static void m_huge_embd(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_config(d, "{\"n_embd\": 1e300, \"n_head\": 2, \"n_layer\": 2, \"n_positions\": 5, \"vocab_size\": 6}");
}
static void m_relu(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    hf_spec a = {8, 2, 2, 5, TINY_V, 32, 1, true, 0};
    write_config_std(d, &a, "null", "relu", "1e-05");
}
static void m_config_vocab(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    hf_spec a = {8, 2, 2, 5, TINY_V + 1, 32, 1, true, 0};
    write_config_std(d, &a, "null", "gelu_new", "1e-05");
}
static void m_config_garbage(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_config(d, "{\"n_embd\": 8,");
}
static void m_no_config(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    remove(join(p, sizeof p, d, "config.json"));
}
static void m_vocab_gap(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_vocab_json(d, VOCAB_GAP);
}
static void m_vocab_dup(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_vocab_json(d, VOCAB_DUP);
}
static void m_vocab_alphabet(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_vocab_json(d, VOCAB_RAW_SPACE);
}
static void m_vocab_no_byte(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    write_vocab_json(d, VOCAB_NO_BYTE_I);
}
static void m_merge_unknown(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];  // "x" + "yz": "yz" is no token
    write_str(join(p, sizeof p, d, "merges.txt"), "#version: 0.2\na b\nx yz\n");
}
static void m_merges_empty(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    write_str(join(p, sizeof p, d, "merges.txt"), "#version: 0.2\n");
}
static void m_merges_line(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    write_str(join(p, sizeof p, d, "merges.txt"), "#version: 0.2\na b\nab\n");
}
static void m_no_merges(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    remove(join(p, sizeof p, d, "merges.txt"));
}
static void m_sharded(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    remove(join(p, sizeof p, d, "model.safetensors"));
    write_str(join(p, sizeof p, d, "model.safetensors.index.json"), "{\"weight_map\": {}}");
}
static void m_added_conflict(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    write_str(join(p, sizeof p, d, "tokenizer.json"),
              "{\"added_tokens\": [{\"id\": 257, \"content\": \"<|pad|>\", \"special\": true}]}");
}

static void m_added_huge(const char *d, st_tensor *t, int *n) {
    (void)t, (void)n;
    char p[512];
    write_str(join(p, sizeof p, d, "tokenizer.json"),
              "{\"added_tokens\": [{\"id\": 16777215, \"content\": \"<|x|>\", \"special\": true}]}");
}

static void test_hf_bad(void) {
    hf_bad("truncated safetensors", m_truncated, "outside");
    hf_bad("header length beyond the file", m_hlen_big, "header length");
    hf_bad("header length 2^62", m_hlen_huge, "header length");
    hf_bad("header length cut short", m_hlen_short, "not a JSON object");
    hf_bad("offsets beyond the data", m_offsets, "outside");
    hf_bad("offsets reversed", m_offsets_reversed, "outside");
    hf_bad("offsets 2^50", m_offsets_big, "outside");
    hf_bad("offsets 2^60", m_offsets_huge, "'data_offsets' must be two integers");
    hf_bad("overlapping tensors", m_overlap, "overlap");
    hf_bad("shape vs byte range", m_size_mismatch, "bytes of data");
    hf_bad("dtype I64", m_dtype, "dtype I64");
    hf_bad("unknown dtype", m_dtype_unknown, "dtype Q4");
    hf_bad("missing tensor", m_missing, "missing tensor 'h.1.mlp.c_proj.bias'");
    hf_bad("extra tensor", m_extra, "unexpected tensor 'h.0.attn.rotary.weight'");
    hf_bad("name with and without prefix", m_duplicate, "appears twice");
    hf_bad("wpe rows vs n_positions", m_wpe_rows, "'wpe.weight' has shape (7, 8), expected (5, 8)");
    hf_bad("c_attn stored (out, in)", m_qkv_shape, "'h.0.attn.c_attn.weight' has shape (24, 8)");
    hf_bad("header not JSON", m_not_json, "not a JSON object");
    hf_bad("3-byte safetensors", m_tiny_file, "too short");
    hf_bad("n_embd % n_head", m_heads, "not a multiple of n_head");
    hf_bad("missing n_layer", m_no_layers, "missing 'n_layer'");
    hf_bad("fractional n_layer", m_float_layers, "'n_layer'");
    hf_bad("huge n_embd", m_huge_embd, "'n_embd'");
    hf_bad("relu", m_relu, "activation_function 'relu'");
    hf_bad("config vocab_size vs vocab.json", m_config_vocab, "vocab_size is 260 but the tokenizer");
    hf_bad("config not JSON", m_config_garbage, "config.json: not valid JSON");
    hf_bad("no config.json", m_no_config, "config.json");
    hf_bad("vocab id gap", m_vocab_gap, "vocab.json: token '\xc4\xa0" "ab': id must be an integer in 0..258");
    hf_bad("vocab id twice", m_vocab_dup, "id 256 is used twice");
    hf_bad("vocab outside the alphabet", m_vocab_alphabet, "token 32 ' ' is not in GPT-2's byte-to-unicode alphabet");
    hf_bad("vocab without a byte", m_vocab_no_byte, "{vocab.json,merges.txt}: tokens: no token for the single byte 0x69");
    hf_bad("merge of unknown tokens", m_merge_unknown, "{vocab.json,merges.txt}: merges: merge 1 'x yz'");
    hf_bad("no merges", m_merges_empty, "merges.txt: no merges");
    hf_bad("merges line", m_merges_line, "merges.txt: line 3");
    hf_bad("no merges.txt", m_no_merges, "merges.txt");
    hf_bad("sharded", m_sharded, "sharded");
    hf_bad("added token conflicts with vocab.json", m_added_conflict, "id 257 is both");
    hf_bad("added token id 2^24 - 1", m_added_huge, "added token id 16777215 leaves ids without a token");

    // every proper prefix of a good model.safetensors fails cleanly
    char dir[512], p[512], err[GPT_ERR_LEN];
    hf_spec a = {8, 2, 1, 3, TINY_V, 32, 1, true, 0};
    int n = make_hf_dir(dir, sizeof dir, &a, T_, false, "null", "gelu_new", "1e-05");
    struct stat st;
    stat(join(p, sizeof p, dir, "model.safetensors"), &st);
    int bad = 0;
    for (size_t cut = 1; cut <= (size_t)st.st_size; cut += 7) {
        rewrite(dir, T_, n, 0, cut);
        gguf_ctx *g = NULL;
        err[0] = 0;
        int rc = load_hf_dir(&g, dir, err);
        if (rc == 0 || !err[0]) bad++;
        if (rc == 0) gguf_free(g);
    }
    CHECK(bad == 0, "%d truncated safetensors files loaded or gave no message", bad);
}

// ---- llm.c ------------------------------------------------------------------------------

typedef struct {
    int32_t magic, version, maxT, V, L, NH, C, Vp;
} llmc_spec;

// The parameters in llm.c's order: group p, per-layer (rows, cols); layer l's
// element (r, c) is val(100 * p + l, r, c); padded wte rows are 99.
static void llmc_shapes(const llmc_spec *s, uint64_t rows[16], uint64_t cols[16], int layers[16]) {
    uint64_t C = (uint64_t)s->C;
    uint64_t r[16] = {(uint64_t)s->Vp, (uint64_t)s->maxT, 1, 1, 3 * C, 1, C, 1, 1, 1, 4 * C, 1, C, 1, 1, 1};
    uint64_t c[16] = {C, C, C, C, C, 3 * C, C, C, C, C, C, 4 * C, 4 * C, C, C, C};
    for (int p = 0; p < 16; p++) rows[p] = r[p], cols[p] = c[p], layers[p] = (p < 2 || p >= 14) ? 1 : s->L;
}

// Parameters are written only for a header that describes a small model
// (a bad header gets the header alone).
static void write_llmc_model(const char *path, const llmc_spec *s, size_t truncate, size_t extra) {
    buf f = {0};
    int32_t h[256] = {s->magic, s->version, s->maxT, s->V, s->L, s->NH, s->C, s->Vp};
    buf_add(&f, h, sizeof h);
    uint64_t rows[16], cols[16];
    int layers[16];
    llmc_shapes(s, rows, cols, layers);
    bool small = s->maxT > 0 && s->V > 0 && s->L > 0 && s->NH > 0 && s->C > 0 && s->Vp > 0 && s->C <= 64 &&
                 s->Vp <= 60000 && s->maxT <= 64 && s->L <= 4096;
    for (int p = 0; p < 16 && small; p++)
        for (int l = 0; l < layers[p]; l++)
            for (uint64_t r = 0; r < rows[p]; r++)
                for (uint64_t c = 0; c < cols[p]; c++) {
                    float v = (p == 0 && r >= (uint64_t)s->V) ? 99.0f : val(100 * p + l, r, c);
                    if (s->version == 5) {
                        uint16_t b = enc_bf16(v);
                        buf_add(&f, &b, 2);
                    } else {
                        buf_add(&f, &v, 4);
                    }
                }
    for (size_t i = 0; i < extra; i++) buf_add(&f, "", 1);
    write_file(path, f.p, f.n - truncate);
    free(f.p);
}

static void check_llmc_tensors(const gguf_ctx *g, const llmc_spec *s) {
    static const char *names[16] = {"token_embd.weight", "position_embd.weight", "attn_norm.weight",
                                    "attn_norm.bias", "attn_qkv.weight", "attn_qkv.bias",
                                    "attn_output.weight", "attn_output.bias", "ffn_norm.weight",
                                    "ffn_norm.bias", "ffn_up.weight", "ffn_up.bias",
                                    "ffn_down.weight", "ffn_down.bias", "output_norm.weight",
                                    "output_norm.bias"};
    uint64_t rows[16], cols[16];
    int layers[16], count = 0;
    llmc_shapes(s, rows, cols, layers);
    rows[0] = (uint64_t)s->V;  // padding dropped
    for (int p = 0; p < 16; p++)
        for (int l = 0; l < layers[p]; l++) {
            expect_t e = {"", rows[p] > 1 ? 2 : 1, {rows[p], cols[p]}, 100 * p + l, false};
            if (e.n_dims == 1) e.shape[0] = cols[p];
            if (p >= 2 && p < 14) snprintf(e.gguf, sizeof e.gguf, "blk.%d.%s", l, names[p]);
            else snprintf(e.gguf, sizeof e.gguf, "%s", names[p]);
            check_tensor(g, &e);
            count++;
        }
    CHECK(gguf_n_tensors(g) == (uint64_t)count, "%llu tensors, want %d", (unsigned long long)gguf_n_tensors(g),
          count);
    CHECK(gguf_find_tensor(g, "output.weight") == NULL, "llm.c: output.weight present (the head is tied)");
}

// A tokenizer: n tokens (bytes, len), version, eot.
typedef struct {
    uint8_t b[300][16];
    uint8_t len[300];
    int n;
} vocab_t;

static void write_llmc_tokenizer(const char *path, const vocab_t *v, uint32_t magic, uint32_t version,
                                 uint32_t n_hdr, uint32_t eot, size_t truncate) {
    buf f = {0};
    uint32_t h[256] = {magic, version, n_hdr, eot};
    buf_add(&f, h, sizeof h);
    for (int i = 0; i < v->n; i++) {
        buf_add(&f, &v->len[i], 1);
        buf_add(&f, v->b[i], v->len[i]);
    }
    write_file(path, f.p, f.n - truncate);
    free(f.p);
}

static void vocab_set(vocab_t *v, int id, const char *bytes, size_t len) {
    memcpy(v->b[id], bytes, len);
    v->len[id] = (uint8_t)len;
    if (id >= v->n) v->n = id + 1;
}

// Ids 0..255 are the bytes; then tokens chosen so that BPE by id gives
// merges a prefix rule would not ("abc" is "a bc" since bc ranks below ab).
static void tiny_llmc_vocab(vocab_t *v) {
    memset(v, 0, sizeof *v);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        vocab_set(v, b, &c, 1);
    }
    vocab_set(v, 256, "bc", 2);
    vocab_set(v, 257, "ab", 2);
    vocab_set(v, 258, "abc", 3);
    vocab_set(v, 259, "abcd", 4);
    vocab_set(v, 260, " a", 2);
    vocab_set(v, 261, " ab", 3);
    vocab_set(v, 262, "\n\n", 2);
    vocab_set(v, 263, "\xc3\xa9", 2);
    vocab_set(v, 264, "<|endoftext|>", 13);
}

// Expected by hand: BPE over each token's bytes with only lower ids.
static char *tiny_llmc_merges[] = {
    "b c",              // 256
    "a b",              // 257
    "a bc",             // 258: bc (256) merges before ab (257)
    "abc d",            // 259: a b c d -> a bc d -> abc d
    "\xc4\xa0 a",       // 260: "Ġ a"
    "\xc4\xa0 ab",      // 261: ab (257) before " a" (260)
    "\xc4\x8a \xc4\x8a",  // 262: "Ċ Ċ"
    "\xc3\x83 \xc2\xa9",  // 263: bytes C3 A9 -> "Ã ©"
};

static void check_llmc_vocab(const gguf_ctx *g, const vocab_t *v, uint32_t eot) {
    char **want = malloc((size_t)v->n * sizeof *want);
    for (int i = 0; i < v->n; i++) {
        want[i] = malloc(2 * (size_t)v->len[i] + 1);
        if ((uint32_t)i == eot) memcpy(want[i], v->b[i], v->len[i]), want[i][v->len[i]] = 0;
        else alpha_str(v->b[i], v->len[i], want[i]);
    }
    check_str_arr(g, "tokenizer.ggml.tokens", want, (uint64_t)v->n);
    uint64_t control = eot;
    check_types(g, (uint64_t)v->n, &control, 1);
    check_uint(g, "tokenizer.ggml.bos_token_id", eot);
    check_uint(g, "tokenizer.ggml.eos_token_id", eot);
    check_str(g, "tokenizer.ggml.model", "gpt2");
    check_str(g, "tokenizer.ggml.pre", "gpt-2");
    for (int i = 0; i < v->n; i++) free(want[i]);
    free(want);
}

static void check_llmc_hparams(const gguf_ctx *g, const llmc_spec *s, const char *name) {
    check_str(g, "general.architecture", "gpt2");
    check_str(g, "general.name", name);
    check_uint(g, "general.file_type", 0);
    check_uint(g, "gpt2.context_length", (uint64_t)s->maxT);
    check_uint(g, "gpt2.embedding_length", (uint64_t)s->C);
    check_uint(g, "gpt2.feed_forward_length", 4 * (uint64_t)s->C);
    check_uint(g, "gpt2.block_count", (uint64_t)s->L);
    check_uint(g, "gpt2.attention.head_count", (uint64_t)s->NH);
    check_float(g, "gpt2.attention.layer_norm_epsilon", 1e-5f);
    check_str(g, "gpt.gelu", "tanh");
}

static const llmc_spec LLMC_GOOD = {20240326, 3, 6, 265, 2, 2, 8, 272};

static void test_llmc_good(void) {
    char dir[512], bin[512], tok[512], err[GPT_ERR_LEN];
    vocab_t v;
    tiny_llmc_vocab(&v);
    for (int version = 3; version <= 5; version += 2) {
        llmc_spec s = LLMC_GOOD;
        s.version = version;
        new_dir(dir, sizeof dir);
        write_llmc_model(join(bin, sizeof bin, dir, "model.bin"), &s, 0, 0);
        write_llmc_tokenizer(join(tok, sizeof tok, dir, "gpt2_tokenizer.bin"), &v, 20240328, 2, 265, 264, 0);
        gguf_ctx *g;
        int rc = load_llmc(&g, bin, NULL, err);
        CHECK(rc == 0, "llm.c v%d: %s", version, err);
        if (rc == 0) {
            check_llmc_hparams(g, &s, "model");
            check_llmc_tensors(g, &s);
            check_llmc_vocab(g, &v, 264);
            check_str_arr(g, "tokenizer.ggml.merges", tiny_llmc_merges, 8);
            gguf_free(g);
        }
        CHECK(detect_model_format(bin) == MODEL_FMT_LLMC, "detect llm.c");
        CHECK(detect_model_format(tok) == MODEL_FMT_UNKNOWN, "detect llm.c tokenizer");
        rc = load_any(&g, bin, NULL, err);
        CHECK(rc == 0, "load_any llm.c: %s", err);
        if (rc == 0) gguf_free(g);
        rc = load_any(&g, tok, NULL, err);
        expect_fail(rc, g, err, "tokenizer, not a model", "load_any on a tokenizer");
    }
    // a tokenizer elsewhere, given explicitly; Vp == V (no padding)
    llmc_spec s = LLMC_GOOD;
    s.Vp = 265;
    new_dir(dir, sizeof dir);
    write_llmc_model(join(bin, sizeof bin, dir, "gpt2_124M.bin"), &s, 0, 0);
    write_llmc_tokenizer(join(tok, sizeof tok, root, "tok.bin"), &v, 20240328, 2, 265, 264, 0);
    gguf_ctx *g;
    int rc = load_llmc(&g, bin, tok, err);
    CHECK(rc == 0, "llm.c explicit tokenizer: %s", err);
    if (rc == 0) {
        check_llmc_hparams(g, &s, "gpt2_124M");
        check_llmc_tensors(g, &s);
        gguf_free(g);
    }
}

// A good llm.c pair in a fresh directory, then the caller's change.
static void llmc_bad(const char *what, const llmc_spec *s, size_t truncate, size_t extra, const vocab_t *v,
                     uint32_t tmagic, uint32_t tversion, uint32_t tn, uint32_t teot, size_t ttruncate,
                     const char *want) {
    char dir[512], bin[512], tok[512], err[GPT_ERR_LEN] = "";
    new_dir(dir, sizeof dir);
    write_llmc_model(join(bin, sizeof bin, dir, "gpt2_124M.bin"), s, truncate, extra);
    if (v) write_llmc_tokenizer(join(tok, sizeof tok, dir, "gpt2_tokenizer.bin"), v, tmagic, tversion, tn, teot,
                                ttruncate);
    gguf_ctx *g = NULL;
    int rc = load_llmc(&g, bin, NULL, err);
    expect_fail(rc, g, err, want, what);
}

static void test_llmc_bad(void) {
    vocab_t v, w;
    tiny_llmc_vocab(&v);
    const llmc_spec G = LLMC_GOOD;
    llmc_spec s;
#define BAD_MODEL(what, field, value, want)                                          \
    do {                                                                             \
        s = G;                                                                       \
        s.field = value;                                                             \
        llmc_bad(what, &s, 0, 0, &v, 20240328, 2, 265, 264, 0, want);                \
    } while (0)
    BAD_MODEL("model magic", magic, 20240327, "bad magic");
    BAD_MODEL("model version 4", version, 4, "unsupported checkpoint version 4");
    BAD_MODEL("n_head does not divide C", NH, 3, "not a multiple of num_heads");
    BAD_MODEL("vocab > padded", Vp, 264, "exceeds padded_vocab_size");
    BAD_MODEL("zero layers", L, 0, "num_layers = 0");
    BAD_MODEL("2000 layers", L, 2000, "num_layers = 2000");
    BAD_MODEL("negative maxT", maxT, -1, "max_seq_len = -1");
    BAD_MODEL("huge channels", C, 1 << 30, "channels");
    BAD_MODEL("model vocab vs tokenizer", V, 264, "tokenizer has 265 tokens but the checkpoint");
    BAD_MODEL("huge sizes, small file", Vp, 1 << 24, "header implies");
    llmc_bad("checkpoint 1 byte short", &G, 1, 0, &v, 20240328, 2, 265, 264, 0, "header implies");
    llmc_bad("checkpoint 1 byte long", &G, 0, 1, &v, 20240328, 2, 265, 264, 0, "header implies");
    llmc_bad("tokenizer missing", &G, 0, 0, NULL, 0, 0, 0, 0, 0, "gpt2_tokenizer.bin: llm.c tokenizer not found");
    llmc_bad("tokenizer magic", &G, 0, 0, &v, 20240326, 2, 265, 264, 0, "bad magic");
    llmc_bad("tokenizer version", &G, 0, 0, &v, 20240328, 3, 265, 264, 0, "unsupported tokenizer version 3");
    llmc_bad("tokenizer v1 not GPT-2 sized", &G, 0, 0, &v, 20240328, 1, 265, 264, 0, "must have 50257");
    llmc_bad("tokenizer vocab_size 2^24", &G, 0, 0, &v, 20240328, 2, 1 << 24, 264, 0, "cannot fit in the file");
    llmc_bad("tokenizer eot out of range", &G, 0, 0, &v, 20240328, 2, 265, 265, 0, "eot token 265 out of range");
    llmc_bad("tokenizer truncated", &G, 0, 0, &v, 20240328, 2, 265, 264, 5, "bytes left");
    llmc_bad("tokenizer ends at a length", &G, 0, 0, &v, 20240328, 2, 265, 264, 14, "truncated at the length");
    llmc_bad("tokenizer trailing bytes", &G, 0, 0, &v, 20240328, 2, 264, 263, 0, "unexpected bytes");
    w = v;
    w.len[100] = 0;
    llmc_bad("token of length 0", &G, 0, 0, &w, 20240328, 2, 265, 264, 0, "token 100 has length 0");
    w = v;
    vocab_set(&w, 263, "xyz", 3);
    llmc_bad("unreachable token", &G, 0, 0, &w, 20240328, 2, 265, 264, 0, "token 263 cannot be built");
    w = v;
    vocab_set(&w, 263, "abc", 3);
    llmc_bad("duplicate token", &G, 0, 0, &w, 20240328, 2, 265, 264, 0, "tokens 258 and 263 have the same bytes");
    w = v;
    vocab_set(&w, 7, "zz", 2);
    llmc_bad("byte without a token", &G, 0, 0, &w, 20240328, 2, 265, 264, 0, "byte 0x07 has no token");

    // every proper prefix of the checkpoint and of the tokenizer fails cleanly
    char dir[512], bin[512], tok[512], err[GPT_ERR_LEN];
    new_dir(dir, sizeof dir);
    join(bin, sizeof bin, dir, "gpt2_124M.bin");
    join(tok, sizeof tok, dir, "gpt2_tokenizer.bin");
    s = G;
    s.L = 1;
    s.Vp = 265;
    struct stat st;
    write_llmc_model(bin, &s, 0, 0);
    stat(bin, &st);
    int bad = 0;
    for (size_t cut = 1; cut <= (size_t)st.st_size; cut += 61) {
        write_llmc_model(bin, &s, cut, 0);
        write_llmc_tokenizer(tok, &v, 20240328, 2, 265, 264, 0);
        gguf_ctx *g = NULL;
        err[0] = 0;
        int rc = load_llmc(&g, bin, NULL, err);
        if (rc == 0 || !err[0]) bad++;
        if (rc == 0) gguf_free(g);
    }
    write_llmc_model(bin, &s, 0, 0);
    write_llmc_tokenizer(tok, &v, 20240328, 2, 265, 264, 0);
    stat(tok, &st);
    for (size_t cut = 1; cut <= (size_t)st.st_size; cut += 3) {
        write_llmc_tokenizer(tok, &v, 20240328, 2, 265, 264, cut);
        gguf_ctx *g = NULL;
        err[0] = 0;
        int rc = load_llmc(&g, bin, NULL, err);
        if (rc == 0 || !err[0]) bad++;
        if (rc == 0) gguf_free(g);
    }
    CHECK(bad == 0, "%d truncated llm.c files loaded or gave no message", bad);
#undef BAD_MODEL
}

// ---- GPT-2's real vocabulary ------------------------------------------------------------

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    s[n] = 0;
    if (len) *len = (size_t)n;
    return s;
}

// encoder.json -> gpt2_tokenizer.bin: the merges the loader derives from
// ids alone must be vocab.bpe's 50000 lines in order.
static void test_real_vocab(const char *gpt2_dir) {
    char path[512], dir[512], bin[512], tok[512], err[GPT_ERR_LEN];
    char *enc_text = read_text(join(path, sizeof path, gpt2_dir, "encoder.json"), NULL);
    size_t bpe_len;
    char *bpe = read_text(join(path, sizeof path, gpt2_dir, "vocab.bpe"), &bpe_len);
    if (!enc_text || !bpe) {
        fprintf(stderr, "cannot read %s/encoder.json or vocab.bpe\n", gpt2_dir);
        failures++;
        free(enc_text);
        free(bpe);
        return;
    }
    cJSON *enc = cJSON_Parse(enc_text);
    enum { NV = 50257 };
    char **tokens = calloc(NV, sizeof *tokens);
    cJSON *e;
    cJSON_ArrayForEach(e, enc) tokens[e->valueint] = e->string;
    // vocab.bpe lines after the version line
    char **merges = malloc(50000 * sizeof *merges);
    int nm = 0;
    for (char *p = strchr(bpe, '\n') + 1; *p; nm++) {
        char *nl = strchr(p, '\n');
        *nl = 0;
        merges[nm] = p;
        p = nl + 1;
    }
    CHECK(nm == 50000, "vocab.bpe: %d merges", nm);
    buf f = {0};
    uint32_t h[256] = {20240328, 2, NV, 50256};
    buf_add(&f, h, sizeof h);
    for (int i = 0; i < NV; i++) {
        uint8_t b[256];
        long n = i == 50256 ? 13 : alpha_decode(tokens[i], b);
        if (i == 50256) memcpy(b, tokens[i], 13);
        uint8_t l = (uint8_t)n;
        buf_add(&f, &l, 1);
        buf_add(&f, b, (size_t)n);
    }
    new_dir(dir, sizeof dir);
    write_file(join(tok, sizeof tok, dir, "gpt2_tokenizer.bin"), f.p, f.n);
    free(f.p);
    llmc_spec s = {20240326, 3, 4, NV, 1, 2, 8, 50304};
    write_llmc_model(join(bin, sizeof bin, dir, "gpt2_124M.bin"), &s, 0, 0);
    gguf_ctx *g;
    int rc = load_llmc(&g, bin, NULL, err);
    CHECK(rc == 0, "llm.c with GPT-2's vocabulary: %s", err);
    if (rc == 0) {
        check_str_arr(g, "tokenizer.ggml.tokens", tokens, NV);
        check_str_arr(g, "tokenizer.ggml.merges", merges, 50000);
        uint64_t eot = 50256;
        check_types(g, NV, &eot, 1);
        check_tensor(g, &(expect_t){"token_embd.weight", 2, {NV, 8}, 0, false});
        gguf_free(g);
    }
    // the same vocabulary as a Hugging Face directory
    new_dir(dir, sizeof dir);
    write_file(join(path, sizeof path, dir, "vocab.json"), enc_text, strlen(enc_text));
    char *bpe2 = read_text(join(path, sizeof path, gpt2_dir, "vocab.bpe"), &bpe_len);
    write_file(join(path, sizeof path, dir, "merges.txt"), bpe2, bpe_len);
    free(bpe2);
    hf_spec hs = {8, 2, 1, 4, NV, 32, 1, false, 0};
    write_config_std(dir, &hs, "null", "gelu_new", "1e-05");
    int n = hf_tensors(T_, &hs);
    write_safetensors(join(path, sizeof path, dir, "model.safetensors"), T_, n, 0, 0);
    rc = load_hf_dir(&g, dir, err);
    CHECK(rc == 0, "HF with GPT-2's vocabulary: %s", err);
    if (rc == 0) {
        check_str_arr(g, "tokenizer.ggml.tokens", tokens, NV);
        check_str_arr(g, "tokenizer.ggml.merges", merges, 50000);
        uint64_t eot = 50256;
        check_types(g, NV, &eot, 1);
        check_uint(g, "tokenizer.ggml.eos_token_id", 50256);
        check_tensor(g, &T_[0].e);
        gguf_free(g);
    }
    free(merges);
    free(tokens);
    cJSON_Delete(enc);
    free(enc_text);
    free(bpe);
}

int main(int argc, char **argv) {
    init_alphabet();
    init_tiny_tokens();
    snprintf(root, sizeof root, "/tmp/gpt_test_loaders_XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 2;
    }
    test_hf_good();
    test_hf_bad();
    test_llmc_good();
    test_llmc_bad();
    char err[GPT_ERR_LEN];
    gguf_ctx *g = NULL;
    int rc = load_any(&g, "/nonexistent/model", NULL, err);
    expect_fail(rc, g, err, "/nonexistent/model", "load_any on a missing path");
    CHECK(detect_model_format("/nonexistent/model") == MODEL_FMT_UNKNOWN, "detect missing path");

    const char *candidates[] = {argc > 1 ? argv[1] : NULL, "tokenizer/gpt2", "/work/shared/tokenizer/gpt2"};
    const char *gpt2 = NULL;
    for (int i = 0; i < 3 && !gpt2; i++) {
        char p[512];
        struct stat st;
        if (candidates[i] && stat(join(p, sizeof p, candidates[i], "encoder.json"), &st) == 0) gpt2 = candidates[i];
    }
    if (gpt2) test_real_vocab(gpt2);
    else fprintf(stderr, "note: GPT-2's encoder.json not found; real-vocabulary checks skipped\n");

    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_loaders: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
