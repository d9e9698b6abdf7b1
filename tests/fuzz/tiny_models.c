// tiny_models.c: see tiny_models.h. Weights are a formula of (tensor, index)
// so every file is reproducible byte for byte.
#include "tiny_models.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_unicode.h"
#include "gguf.h"
#include "util.h"

tiny_opts tiny_default(void) {
    return (tiny_opts){.n_ctx = 16, .n_embd = 8, .n_head = 2, .n_layer = 2, .n_ff = 32,
                       .mat_type = GGML_TYPE_F32, .output = false, .merges = true, .bias = true};
}

// A small weight in [-0.47, 0.47], exact in F16.
static float weight(int k, uint64_t i) { return (float)((int)(((uint64_t)k * 131 + i * 7) % 61) - 30) / 64.0f; }

// Token id's raw bytes.
static size_t token_raw(int id, uint8_t *out) {
    static const char *extra[] = {" t", "he", " the", "<|endoftext|>"};
    if (id < 256) {
        out[0] = (uint8_t)id;
        return 1;
    }
    size_t n = strlen(extra[id - 256]);
    memcpy(out, extra[id - 256], n);
    return n;
}

// Token id written in GPT-2's byte-to-unicode alphabet (the special token as
// it is); out holds at least 32 bytes.
static size_t token_alpha(int id, char *out) {
    uint8_t raw[16];
    size_t n = token_raw(id, raw);
    if (id == TINY_EOT) {
        memcpy(out, raw, n);
        return n;
    }
    return bytes_to_unicode(raw, n, out);
}

static const char *tiny_merges[] = {"\xC4\xA0 t", "h e", "\xC4\xA0t he"};  // "Ġ t", "h e", "Ġt he"
#define N_TINY_MERGES 3

// ---- files -------------------------------------------------------------------------

int tiny_read_file(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

int tiny_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    if (fclose(f) != 0 || w != len) return -1;
    return 0;
}

// ---- GGUF ----------------------------------------------------------------------------

typedef struct {
    gguf_ctx *g;
    int k;  // tensor counter: the formula's first argument
    char *err;
} gguf_builder;

// A vector (ne1 == 0) or a matrix {ne0, ne1}.
static int add_tensor(gguf_builder *b, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1) {
    uint64_t ne[2] = {ne0, ne1 ? ne1 : 1}, n = ne[0] * ne[1];
    uint32_t n_dims = ne1 ? 2 : 1;
    int k = b->k++;
    void *data;
    if (type == GGML_TYPE_F16) {
        uint16_t *h = malloc(n * sizeof *h);
        if (!h) return gpt_fail(b->err, "out of memory");
        for (uint64_t i = 0; i < n; i++) h[i] = fp32_to_fp16(weight(k, i));
        data = h;
    } else {
        float *f = malloc(n * sizeof *f);
        if (!f) return gpt_fail(b->err, "out of memory");
        for (uint64_t i = 0; i < n; i++) f[i] = weight(k, i);
        data = f;
    }
    gguf_own(b->g, data);
    return gguf_add_tensor(b->g, name, type, n_dims, ne, data, b->err);
}

static void set_gguf_tokenizer(gguf_ctx *g, bool merges) {
    static char text[TINY_N_VOCAB][32];
    gguf_str tokens[TINY_N_VOCAB];
    int32_t types[TINY_N_VOCAB];
    for (int id = 0; id < TINY_N_VOCAB; id++) {
        tokens[id].len = token_alpha(id, text[id]);
        tokens[id].ptr = text[id];
        types[id] = id == TINY_EOT ? 3 : 1;
    }
    gguf_set_str(g, "tokenizer.ggml.model", "gpt2");
    gguf_set_str(g, "tokenizer.ggml.pre", "gpt-2");
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", tokens, TINY_N_VOCAB);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, TINY_N_VOCAB);
    if (merges) {
        gguf_str m[N_TINY_MERGES];
        for (int i = 0; i < N_TINY_MERGES; i++) m[i] = (gguf_str){strlen(tiny_merges[i]), tiny_merges[i]};
        gguf_set_arr_str(g, "tokenizer.ggml.merges", m, N_TINY_MERGES);
    }
    gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", TINY_EOT);
    gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", TINY_EOT);
}

int tiny_write_gguf(const char *path, const tiny_opts *o, char *err) {
    gguf_builder b = {gguf_new(), 0, err};
    gguf_ctx *g = b.g;
    uint64_t C = (uint64_t)o->n_embd, F = (uint64_t)o->n_ff, V = TINY_N_VOCAB, P = (uint64_t)o->n_ctx;
    uint32_t mt = o->mat_type;
    gguf_set_str(g, "general.architecture", "gpt2");
    gguf_set_str(g, "general.name", "tiny");
    gguf_set_uint32(g, "general.file_type", mt == GGML_TYPE_F16 ? GGUF_FILE_MOSTLY_F16 : GGUF_FILE_ALL_F32);
    gguf_set_uint32(g, "gpt2.context_length", (uint32_t)o->n_ctx);
    gguf_set_uint32(g, "gpt2.embedding_length", (uint32_t)o->n_embd);
    gguf_set_uint32(g, "gpt2.feed_forward_length", (uint32_t)o->n_ff);
    gguf_set_uint32(g, "gpt2.block_count", (uint32_t)o->n_layer);
    gguf_set_uint32(g, "gpt2.attention.head_count", (uint32_t)o->n_head);
    gguf_set_float32(g, "gpt2.attention.layer_norm_epsilon", 1e-5f);
    gguf_set_str(g, "gpt.gelu", "tanh");
    set_gguf_tokenizer(g, o->merges);
    int rc = add_tensor(&b, "token_embd.weight", mt, C, V) ||
             add_tensor(&b, "position_embd.weight", GGML_TYPE_F32, C, P);
    for (int l = 0; l < o->n_layer && !rc; l++) {
        char n[64];
#define T(suffix, type, e0, e1) (snprintf(n, sizeof n, "blk.%d.%s", l, suffix), add_tensor(&b, n, type, e0, e1))
#define BIAS(suffix, e0) (o->bias ? T(suffix, GGML_TYPE_F32, e0, 0) : 0)
        rc = T("attn_norm.weight", GGML_TYPE_F32, C, 0) || BIAS("attn_norm.bias", C) ||
             T("attn_qkv.weight", mt, C, 3 * C) || BIAS("attn_qkv.bias", 3 * C) ||
             T("attn_output.weight", mt, C, C) || BIAS("attn_output.bias", C) ||
             T("ffn_norm.weight", GGML_TYPE_F32, C, 0) || BIAS("ffn_norm.bias", C) ||
             T("ffn_up.weight", mt, C, F) || BIAS("ffn_up.bias", F) ||
             T("ffn_down.weight", mt, F, C) || BIAS("ffn_down.bias", C);
#undef BIAS
#undef T
    }
    if (!rc) rc = add_tensor(&b, "output_norm.weight", GGML_TYPE_F32, C, 0) ||
                  (o->bias && add_tensor(&b, "output_norm.bias", GGML_TYPE_F32, C, 0)) ||
                  (o->output && add_tensor(&b, "output.weight", mt, C, V));
    if (!rc) rc = gguf_write(g, path, NULL, NULL, err);
    gguf_free(g);
    return rc ? -1 : 0;
}

// ---- Hugging Face directory ------------------------------------------------------------

// A growing text buffer.
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *s, const void *data, size_t n) {
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->n + n + 1) cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) abort();
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->n, data, n);
    s->n += n;
    s->p[s->n] = '\0';
}
static void sb_str(sbuf *s, const char *str) { sb_add(s, str, strlen(str)); }
static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_add(s, buf, n < 0 ? 0 : (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

// A JSON string literal (the alphabet has '"' and '\\' but no control bytes).
static void sb_json_str(sbuf *s, const char *str, size_t n) {
    sb_str(s, "\"");
    for (size_t i = 0; i < n; i++) {
        if (str[i] == '"' || str[i] == '\\') sb_str(s, "\\");
        sb_add(s, &str[i], 1);
    }
    sb_str(s, "\"");
}

typedef struct {
    sbuf header;  // the JSON
    sbuf data;    // the data region
    int k;
} st_builder;

// Tensor name of torch shape (d0) or (d0, d1), values by the formula.
static void st_tensor(st_builder *b, const char *name, uint64_t d0, uint64_t d1) {
    uint64_t n = d0 * (d1 ? d1 : 1), begin = b->data.n;
    int k = b->k++;
    for (uint64_t i = 0; i < n; i++) {
        float f = weight(k, i);
        sb_add(&b->data, &f, 4);
    }
    sb_printf(&b->header, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu", b->header.n > 1 ? "," : "", name,
              (unsigned long long)d0);
    if (d1) sb_printf(&b->header, ",%llu", (unsigned long long)d1);
    sb_printf(&b->header, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)begin,
              (unsigned long long)b->data.n);
}

static int write_safetensors(const char *path, const tiny_opts *o) {
    st_builder b = {{0}, {0}, 0};
    uint64_t C = (uint64_t)o->n_embd, F = (uint64_t)o->n_ff, V = TINY_N_VOCAB, P = (uint64_t)o->n_ctx;
    sb_str(&b.header, "{");
    st_tensor(&b, "wte.weight", V, C);
    st_tensor(&b, "wpe.weight", P, C);
    for (int l = 0; l < o->n_layer; l++) {
        char n[64];
#define T(suffix, d0, d1) (snprintf(n, sizeof n, "h.%d.%s", l, suffix), st_tensor(&b, n, d0, d1))
        T("ln_1.weight", C, 0);
        T("ln_1.bias", C, 0);
        T("attn.c_attn.weight", C, 3 * C);  // Conv1D: (in, out)
        T("attn.c_attn.bias", 3 * C, 0);
        T("attn.c_proj.weight", C, C);
        T("attn.c_proj.bias", C, 0);
        T("ln_2.weight", C, 0);
        T("ln_2.bias", C, 0);
        T("mlp.c_fc.weight", C, F);
        T("mlp.c_fc.bias", F, 0);
        T("mlp.c_proj.weight", F, C);
        T("mlp.c_proj.bias", C, 0);
#undef T
    }
    st_tensor(&b, "ln_f.weight", C, 0);
    st_tensor(&b, "ln_f.bias", C, 0);
    if (o->output) st_tensor(&b, "lm_head.weight", V, C);
    sb_str(&b.header, ",\"__metadata__\":{\"format\":\"pt\"}}");
    while (b.header.n % 8) sb_str(&b.header, " ");
    uint64_t hlen = b.header.n;
    sbuf file = {0};
    sb_add(&file, &hlen, 8);
    sb_add(&file, b.header.p, b.header.n);
    sb_add(&file, b.data.p, b.data.n);
    int rc = tiny_write_file(path, file.p, file.n);
    free(file.p);
    free(b.header.p);
    free(b.data.p);
    return rc;
}

int tiny_write_hf(const char *dir, const tiny_opts *o, char *err) {
    char path[4096];
    sbuf s = {0};
    int rc = 0;
    sb_printf(&s,
              "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": %d, "
              "\"n_layer\": %d, \"n_head\": %d, \"n_positions\": %d, \"n_ctx\": %d, \"vocab_size\": %d, "
              "\"n_inner\": %d, \"layer_norm_epsilon\": 1e-05, \"activation_function\": \"gelu_new\", "
              "\"bos_token_id\": %d, \"eos_token_id\": %d, \"tie_word_embeddings\": %s}\n",
              o->n_embd, o->n_layer, o->n_head, o->n_ctx, o->n_ctx, TINY_N_VOCAB, o->n_ff, TINY_EOT, TINY_EOT,
              o->output ? "false" : "true");
    snprintf(path, sizeof path, "%s/config.json", dir);
    rc |= tiny_write_file(path, s.p, s.n);
    s.n = 0;
    sb_str(&s, "{");
    for (int id = 0; id < TINY_N_VOCAB; id++) {
        char text[32];
        size_t n = token_alpha(id, text);
        if (id) sb_str(&s, ", ");
        sb_json_str(&s, text, n);
        sb_printf(&s, ": %d", id);
    }
    sb_str(&s, "}");
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    rc |= tiny_write_file(path, s.p, s.n);
    s.n = 0;
    sb_str(&s, "#version: 0.2\n");
    for (int i = 0; i < N_TINY_MERGES; i++) sb_printf(&s, "%s\n", tiny_merges[i]);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    rc |= tiny_write_file(path, s.p, s.n);
    free(s.p);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    rc |= write_safetensors(path, o);
    return rc ? gpt_fail(err, "%s: cannot write the model files: %s", dir, strerror(errno)) : 0;
}

// ---- llm.c -------------------------------------------------------------------------------

int tiny_write_llmc(const char *bin_path, const char *tokenizer_path, const tiny_opts *o, char *err) {
    uint64_t C = (uint64_t)o->n_embd, L = (uint64_t)o->n_layer, P = (uint64_t)o->n_ctx;
    uint64_t V = TINY_N_VOCAB, Vp = (V + 7) / 8 * 8;
    int32_t header[256] = {20240326, 3, (int32_t)P, (int32_t)V, (int32_t)L, o->n_head, (int32_t)C, (int32_t)Vp};
    // wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb
    uint64_t sizes[16] = {Vp * C, P * C, L * C, L * C, L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                          L * C, L * C, L * 4 * C * C, L * 4 * C, L * 4 * C * C, L * C, C, C};
    sbuf s = {0};
    sb_add(&s, header, sizeof header);
    for (int k = 0; k < 16; k++)
        for (uint64_t i = 0; i < sizes[k]; i++) {
            float f = weight(k, i);
            sb_add(&s, &f, 4);
        }
    int rc = tiny_write_file(bin_path, s.p, s.n);
    s.n = 0;
    uint32_t th[256] = {20240328, 2, (uint32_t)V, TINY_EOT};
    sb_add(&s, th, sizeof th);
    for (int id = 0; id < TINY_N_VOCAB; id++) {
        uint8_t raw[16];
        uint8_t n = (uint8_t)token_raw(id, raw);
        sb_add(&s, &n, 1);
        sb_add(&s, raw, n);
    }
    rc |= tiny_write_file(tokenizer_path, s.p, s.n);
    free(s.p);
    return rc ? gpt_fail(err, "%s: cannot write the checkpoint: %s", bin_path, strerror(errno)) : 0;
}
