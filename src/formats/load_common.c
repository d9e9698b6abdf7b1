// load_common.c: helpers shared by the checkpoint loaders (see load_common.h).
#include "load_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void loader_set_hparams(gguf_ctx *g, const loader_hparams *hp) {
    gguf_set_str(g, "general.architecture", "gpt2");
    gguf_set_str(g, "general.name", hp->name);
    gguf_set_uint32(g, "general.file_type", GGUF_FILE_ALL_F32);
    gguf_set_uint32(g, "gpt2.context_length", hp->n_ctx);
    gguf_set_uint32(g, "gpt2.embedding_length", hp->n_embd);
    gguf_set_uint32(g, "gpt2.feed_forward_length", hp->n_ff);
    gguf_set_uint32(g, "gpt2.block_count", hp->n_layer);
    gguf_set_uint32(g, "gpt2.attention.head_count", hp->n_head);
    gguf_set_float32(g, "gpt2.attention.layer_norm_epsilon", hp->ln_eps);
    gguf_set_str(g, "gpt.gelu", hp->gelu_erf ? "erf" : "tanh");
}

void loader_set_llama_hparams(gguf_ctx *g, const loader_llama_hparams *hp) {
    char k[96];
    gguf_set_str(g, "general.architecture", hp->arch);
    gguf_set_str(g, "general.name", hp->name);
    gguf_set_uint32(g, "general.file_type", GGUF_FILE_ALL_F32);
    const char *keys[9] = {"context_length",       "embedding_length",       "block_count",
                           "feed_forward_length",  "attention.head_count",   "attention.head_count_kv",
                           "attention.key_length", "attention.value_length", "rope.dimension_count"};
    uint32_t v[9] = {hp->n_ctx,    hp->n_embd,     hp->n_layer,    hp->n_ff,    hp->n_head,
                     hp->n_head_kv, hp->head_dim, hp->head_dim, hp->head_dim};
    for (int i = 0; i < 9; i++) {
        snprintf(k, sizeof k, "%s.%s", hp->arch, keys[i]);
        gguf_set_uint32(g, k, v[i]);
    }
    snprintf(k, sizeof k, "%s.rope.freq_base", hp->arch);
    gguf_set_float32(g, k, hp->rope_base);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", hp->arch);
    gguf_set_float32(g, k, hp->rms_eps);
}

void loader_set_tokenizer(gguf_ctx *g, const gguf_str *tokens, const int32_t *types, uint64_t n_vocab,
                          const gguf_str *merges, uint64_t n_merges, int64_t bos, int64_t eos) {
    gguf_set_str(g, "tokenizer.ggml.model", "gpt2");
    gguf_set_str(g, "tokenizer.ggml.pre", "gpt-2");
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", tokens, n_vocab);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n_vocab);
    gguf_set_arr_str(g, "tokenizer.ggml.merges", merges, n_merges);
    if (bos >= 0) gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
}

static inline uint16_t rd_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

// Element i of a source array of type t.
static inline float src_elem(src_dtype t, const uint8_t *src, uint64_t i) {
    switch (t) {
    case SRC_F16: return fp16_to_fp32(rd_u16(src + 2 * i));
    case SRC_BF16: return bf16_to_fp32(rd_u16(src + 2 * i));
    default: {
        float f;
        memcpy(&f, src + 4 * i, 4);
        return f;
    }
    }
}

void loader_to_f32(src_dtype t, const uint8_t *src, uint64_t n, float *dst) {
    if (t == SRC_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (uint64_t i = 0; i < n; i++) dst[i] = src_elem(t, src, i);
}

// Blocks of 32x32 keep both the reads and the writes within a few cache
// lines per row.
void loader_to_f32_transposed(src_dtype t, const uint8_t *src, uint64_t rows, uint64_t cols, float *dst) {
    const uint64_t B = 32;
    for (uint64_t r0 = 0; r0 < rows; r0 += B) {
        uint64_t r1 = r0 + B < rows ? r0 + B : rows;
        for (uint64_t c0 = 0; c0 < cols; c0 += B) {
            uint64_t c1 = c0 + B < cols ? c0 + B : cols;
            for (uint64_t r = r0; r < r1; r++)
                for (uint64_t c = c0; c < c1; c++) dst[c * rows + r] = src_elem(t, src, r * cols + c);
        }
    }
}

int loader_add_f32(gguf_ctx *g, const char *name, uint32_t n_dims, const uint64_t *ne, float **data,
                   char *err) {
    uint64_t n = 1, bytes;
    for (uint32_t d = 0; d < n_dims; d++)
        if (mul_u64(n, ne[d], &n)) return gpt_fail(err, "tensor '%s': element count overflows", name);
    if (mul_u64(n, sizeof(float), &bytes) || bytes > SIZE_MAX)
        return gpt_fail(err, "tensor '%s': size overflows", name);
    float *buf = malloc(bytes ? (size_t)bytes : 1);
    if (!buf) return gpt_fail(err, "tensor '%s': out of memory (%llu bytes)", name, (unsigned long long)bytes);
    gguf_own(g, buf);
    if (gguf_add_tensor(g, name, GGML_TYPE_F32, n_dims, ne, buf, err)) return -1;
    *data = buf;
    return 0;
}

void loader_basename(const char *path, const char *strip_ext, char *out, size_t cap) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = end - start;
    size_t el = strip_ext ? strlen(strip_ext) : 0;
    if (el && n > el && memcmp(path + end - el, strip_ext, el) == 0) n -= el;
    if (n >= cap) n = cap - 1;
    memcpy(out, path + start, n);
    out[n] = '\0';
}

int loader_beside(const char *path, const char *name, char *out, size_t cap, char *err) {
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(out, cap, "%.*s/%s", (int)(slash - path), path, name) : snprintf(out, cap, "%s", name);
    if (n < 0 || (size_t)n >= cap) return gpt_fail(err, "%s: path too long", path);
    return 0;
}
