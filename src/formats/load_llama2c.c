// load_llama2c.c: a llama2.c checkpoint (Karpathy's llama2.c: stories15M.bin,
// stories260K.bin, or what its export.py writes) and its tokenizer.bin turned
// into an in-memory llama GGUF, with llama.cpp's tensor names and keys.
//
// Version 0 (legacy, run.c; every stories*.bin): 7 little-endian int32
//   dim C, hidden_dim F, n_layers L, n_heads NH, n_kv_heads NKV,
//   vocab_size V (negative: a separate classifier follows), seq_len P;
// then float32: token_embedding (V, C), rms_att (L, C), wq (L, NH hd, C),
// wk (L, NKV hd, C), wv (L, NKV hd, C), wo (L, C, NH hd), rms_ffn (L, C),
// w1 (L, F, C), w2 (L, C, F), w3 (L, F, C), rms_final (C), the RoPE table
// freq_cis_real and _imag (P, hd / 2 each; unused: gpt computes its angles),
// and wcls (V, C) when V < 0. hd = C / NH.
// Version 1 (export.py, fp32) and 2 (int8 in groups, runq.c): a 256-byte
// header: uint32 magic "ak42", int32 version, the 7 int32 above (V > 0),
// uint8 shared_classifier, (version 2) int32 group_size; then float32
// rms_att (L, C), rms_ffn (L, C), rms_final (C), then token_embedding, wq,
// wk, wv, wo, w1, w2, w3 and (not shared) wcls, as float32 (version 1) or,
// layer after layer of each, its int8 values followed by one float32 scale per
// group of group_size (version 2, runq.c's layout; dequantized here to F32,
// exactly).
//
// The matrices are (out, in) row-major, ggml's ne = {in, out} as they are.
// llama2.c's wq/wk rows hold each head's rotary pairs adjacent (Meta's
// layout), which is how llama.cpp stores llama too: no permutation. w1 is
// the gate, w3 the up projection, w2 the down projection.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_common.h"
#include "loaders.h"
#include "tokenizer.h"
#include "util.h"

#define LLAMA2C_MAGIC 0x616b3432u  // "ak42"
#define LLAMA2C_HEADER_BYTES 256
#define MAX_DIM (1 << 16)

typedef struct {
    int version;
    int64_t C, F, L, NH, NKV, V, P, hd, gs;
    bool shared;
    size_t data_at;  // where the weights start
} l2c_header;

// The tensors in file order, with their element counts.
enum { W_TOK, W_RMS_ATT, W_WQ, W_WK, W_WV, W_WO, W_RMS_FFN, W_W1, W_W2, W_W3, W_RMS_FINAL, W_FREQ, W_CLS, W_COUNT };

static void tensor_sizes(const l2c_header *h, uint64_t n[W_COUNT]) {
    uint64_t C = (uint64_t)h->C, F = (uint64_t)h->F, L = (uint64_t)h->L, A = (uint64_t)(h->NH * h->hd),
             KV = (uint64_t)(h->NKV * h->hd), V = (uint64_t)h->V;
    n[W_TOK] = V * C;
    n[W_RMS_ATT] = n[W_RMS_FFN] = L * C;
    n[W_WQ] = L * A * C;
    n[W_WK] = n[W_WV] = L * KV * C;
    n[W_WO] = L * C * A;
    n[W_W1] = n[W_W2] = n[W_W3] = L * F * C;
    n[W_RMS_FINAL] = C;
    n[W_FREQ] = h->version == 0 ? (uint64_t)h->P * (uint64_t)h->hd : 0;  // real and imaginary halves
    n[W_CLS] = h->shared ? 0 : V * C;
}

static int check_dims(const l2c_header *h, const char *path, char *err) {
    const char *what[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    int64_t v[7] = {h->C, h->F, h->L, h->NH, h->NKV, h->V, h->P};
    int64_t hi[7] = {MAX_DIM, 1 << 20, 1024, MAX_DIM, MAX_DIM, 1 << 24, 1 << 20};
    for (int i = 0; i < 7; i++)
        if (v[i] < 1 || v[i] > hi[i])
            return gpt_fail(err, "%s: llama2.c header: %s = %lld is out of range [1, %lld]", path, what[i],
                            (long long)v[i], (long long)hi[i]);
    if (h->C % h->NH || h->NH % h->NKV || (h->C / h->NH) % 2)
        return gpt_fail(err, "%s: llama2.c header: dim %lld, n_heads %lld, n_kv_heads %lld do not make whole, even "
                             "heads shared by whole groups", path, (long long)h->C, (long long)h->NH, (long long)h->NKV);
    return 0;
}

// Bytes of the weights after the header, or 0 on overflow.
static uint64_t weight_bytes(const l2c_header *h) {
    uint64_t n[W_COUNT], total = 0;
    tensor_sizes(h, n);
    for (int i = 0; i < W_COUNT; i++) {
        uint64_t b;
        if (h->version == 2 && i != W_RMS_ATT && i != W_RMS_FFN && i != W_RMS_FINAL) {
            if (n[i] % (uint64_t)h->gs) return 0;
            b = n[i] + n[i] / (uint64_t)h->gs * 4;  // int8 values, float32 scales
        } else if (mul_u64(n[i], 4, &b)) {
            return 0;
        }
        if (add_u64(total, b, &total)) return 0;
    }
    return total;
}

static int read_header(l2c_header *h, const uint8_t *p, size_t size, const char *path, char *err) {
    memset(h, 0, sizeof *h);
    if (size >= 8 && rd_u32(p) == LLAMA2C_MAGIC) {
        if (size < LLAMA2C_HEADER_BYTES)
            return gpt_fail(err, "%s: %zu bytes, shorter than llama2.c's %d-byte header", path, size,
                            LLAMA2C_HEADER_BYTES);
        h->version = (int)(int32_t)rd_u32(p + 4);
        if (h->version != 1 && h->version != 2)
            return gpt_fail(err, "%s: llama2.c version %d (gpt reads versions 0, 1 and 2)", path, h->version);
        int64_t *f[7] = {&h->C, &h->F, &h->L, &h->NH, &h->NKV, &h->V, &h->P};
        for (int i = 0; i < 7; i++) *f[i] = (int32_t)rd_u32(p + 8 + 4 * i);
        h->shared = p[36] != 0;
        h->gs = h->version == 2 ? (int32_t)rd_u32(p + 37) : 1;
        if (h->version == 2 && (h->gs < 1 || h->gs > (1 << 20)))
            return gpt_fail(err, "%s: llama2.c version 2: group_size %lld is out of range", path, (long long)h->gs);
        h->data_at = LLAMA2C_HEADER_BYTES;
    } else {
        if (size < 28) return gpt_fail(err, "%s: %zu bytes, shorter than a llama2.c header", path, size);
        int64_t *f[7] = {&h->C, &h->F, &h->L, &h->NH, &h->NKV, &h->V, &h->P};
        for (int i = 0; i < 7; i++) *f[i] = (int32_t)rd_u32(p + 4 * i);
        h->shared = h->V > 0;
        if (h->V < 0) h->V = -h->V;
        h->gs = 1;
        h->data_at = 28;
    }
    if (check_dims(h, path, err)) return -1;
    h->hd = h->C / h->NH;
    uint64_t want = weight_bytes(h);
    if (want == 0)
        return gpt_fail(err, "%s: llama2.c version %d: the header's sizes overflow or do not divide into groups of "
                             "%lld", path, h->version, (long long)h->gs);
    if (size - h->data_at != want)
        return gpt_fail(err, "%s: llama2.c version %d file has %zu bytes of weights, its header (dim %lld, "
                             "hidden_dim %lld, %lld layers, %lld/%lld heads, vocab %lld, seq_len %lld, %s "
                             "classifier) implies %llu", path, h->version, size - h->data_at, (long long)h->C,
                        (long long)h->F, (long long)h->L, (long long)h->NH, (long long)h->NKV, (long long)h->V,
                        (long long)h->P, h->shared ? "shared" : "separate", (unsigned long long)want);
    return 0;
}

bool llama2c_probe(const uint8_t *p, size_t size) {
    l2c_header h;
    char err[GPT_ERR_LEN];
    return read_header(&h, p, size, "", err) == 0;
}

// Reads the file's tensors in order (version 2: dequantizing) into F32.
typedef struct {
    const l2c_header *h;
    const uint8_t *p;  // the next tensor
} l2c_reader;

static void read_f32(l2c_reader *r, float *dst, uint64_t n, bool quantized) {
    if (!quantized) {
        loader_to_f32(SRC_F32, r->p, n, dst);
        r->p += n * 4;
        return;
    }
    const int8_t *q = (const int8_t *)r->p;
    const uint8_t *scales = r->p + n;
    uint64_t gs = (uint64_t)r->h->gs;
    for (uint64_t g = 0; g < n / gs; g++) {
        float s;
        memcpy(&s, scales + 4 * g, 4);
        for (uint64_t i = 0; i < gs; i++) dst[g * gs + i] = (float)q[g * gs + i] * s;
    }
    r->p += n + n / gs * 4;
}

// Adds per-layer tensors name (layer l: rows x cols) from one stacked file tensor.
static int add_stacked(gguf_ctx *g, l2c_reader *r, const char *suffix, int64_t L, uint64_t rows, uint64_t cols,
                       bool quantized, char *err) {
    uint64_t per = rows * cols;
    float *all = malloc(per * (uint64_t)L * sizeof *all);
    if (!all) return gpt_fail(err, "out of memory");
    if (quantized)  // version 2: each layer's values, then that layer's scales
        for (int64_t l = 0; l < L; l++) read_f32(r, all + (uint64_t)l * per, per, true);
    else
        read_f32(r, all, per * (uint64_t)L, false);
    for (int64_t l = 0; l < L; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)l, suffix);
        uint64_t ne[2] = {cols, rows};
        float *dst;
        if (loader_add_f32(g, name, rows > 1 ? 2 : 1, ne, &dst, err)) {
            free(all);
            return -1;
        }
        memcpy(dst, all + (uint64_t)l * per, per * sizeof *dst);
    }
    free(all);
    return 0;
}

static int add_one(gguf_ctx *g, l2c_reader *r, const char *name, uint64_t rows, uint64_t cols, bool quantized,
                   char *err) {
    uint64_t ne[2] = {cols, rows};
    float *dst;
    if (loader_add_f32(g, name, rows > 1 ? 2 : 1, ne, &dst, err)) return -1;
    read_f32(r, dst, rows * cols, quantized);
    return 0;
}

static int add_tensors(gguf_ctx *g, const l2c_header *h, const uint8_t *data, char *err) {
    l2c_reader r = {h, data};
    uint64_t C = (uint64_t)h->C, F = (uint64_t)h->F, A = (uint64_t)(h->NH * h->hd), KV = (uint64_t)(h->NKV * h->hd),
             V = (uint64_t)h->V;
    bool q = h->version == 2;
    int64_t L = h->L;
    if (h->version == 0) {
        if (add_one(g, &r, "token_embd.weight", V, C, false, err) ||
            add_stacked(g, &r, "attn_norm.weight", L, 1, C, false, err) ||
            add_stacked(g, &r, "attn_q.weight", L, A, C, false, err) ||
            add_stacked(g, &r, "attn_k.weight", L, KV, C, false, err) ||
            add_stacked(g, &r, "attn_v.weight", L, KV, C, false, err) ||
            add_stacked(g, &r, "attn_output.weight", L, C, A, false, err) ||
            add_stacked(g, &r, "ffn_norm.weight", L, 1, C, false, err) ||
            add_stacked(g, &r, "ffn_gate.weight", L, F, C, false, err) ||
            add_stacked(g, &r, "ffn_down.weight", L, C, F, false, err) ||
            add_stacked(g, &r, "ffn_up.weight", L, F, C, false, err) ||
            add_one(g, &r, "output_norm.weight", 1, C, false, err))
            return -1;
        r.p += (uint64_t)h->P * (uint64_t)h->hd * 4;  // freq_cis_real, freq_cis_imag
    } else if (add_stacked(g, &r, "attn_norm.weight", L, 1, C, false, err) ||
               add_stacked(g, &r, "ffn_norm.weight", L, 1, C, false, err) ||
               add_one(g, &r, "output_norm.weight", 1, C, false, err) ||
               add_one(g, &r, "token_embd.weight", V, C, q, err) ||
               add_stacked(g, &r, "attn_q.weight", L, A, C, q, err) ||
               add_stacked(g, &r, "attn_k.weight", L, KV, C, q, err) ||
               add_stacked(g, &r, "attn_v.weight", L, KV, C, q, err) ||
               add_stacked(g, &r, "attn_output.weight", L, C, A, q, err) ||
               add_stacked(g, &r, "ffn_gate.weight", L, F, C, q, err) ||
               add_stacked(g, &r, "ffn_down.weight", L, C, F, q, err) ||
               add_stacked(g, &r, "ffn_up.weight", L, F, C, q, err)) {
        return -1;
    }
    if (!h->shared && add_one(g, &r, "output.weight", V, C, h->version == 2, err)) return -1;
    return 0;
}

static void set_hparams(gguf_ctx *g, const l2c_header *h, const char *name) {
    // run.c's fixed rotary base and epsilon
    loader_llama_hparams hp = {"llama", name, (uint32_t)h->P, (uint32_t)h->C, (uint32_t)h->F, (uint32_t)h->L,
                               (uint32_t)h->NH, (uint32_t)h->NKV, (uint32_t)h->hd, 10000.0f, 1e-5f};
    loader_set_llama_hparams(g, &hp);
}

int load_llama2c(gguf_ctx **out, const char *bin_path, const char *tokenizer_path, char *err) {
    *out = NULL;
    char tok_path[4096];
    if (!tokenizer_path) {
        if (loader_beside(bin_path, "tokenizer.bin", tok_path, sizeof tok_path, err)) return -1;
        tokenizer_path = tok_path;
    }
    mapped_file m = {0};
    gguf_ctx *g = NULL;
    l2c_header h;
    if (map_file(&m, bin_path, err) || read_header(&h, m.data, m.size, bin_path, err)) goto fail;
    g = gguf_new();
    if (!g) {
        gpt_fail(err, "out of memory");
        goto fail;
    }
    char name[256];
    loader_basename(bin_path, ".bin", name, sizeof name);
    set_hparams(g, &h, name);
    if (tokenizer_gguf_from_llama2c(g, tokenizer_path, (int)h.V, err)) {
        if (!tokenizer_path || tokenizer_path == tok_path) {
            char tmp[GPT_ERR_LEN];
            snprintf(tmp, sizeof tmp, "%s (llama2.c models take their tokenizer.bin from beside the model, or -z PATH)",
                     err);
            snprintf(err, GPT_ERR_LEN, "%s", tmp);
        }
        goto fail;
    }
    if (add_tensors(g, &h, m.data + h.data_at, err)) goto fail;
    unmap_file(&m);
    *out = g;
    return 0;
fail:
    gguf_free(g);
    unmap_file(&m);
    return -1;
}
