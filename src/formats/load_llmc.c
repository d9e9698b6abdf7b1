// load_llmc.c: an llm.c checkpoint (gpt2_124M.bin) and its tokenizer
// (gpt2_tokenizer.bin) turned into an in-memory gpt2 GGUF.
//
// Checkpoint: 256 little-endian int32 (1024 bytes): [0] 20240326, [1] version
// (3: fp32, 5: bf16), [2] maxT, [3] V, [4] L, [5] NH, [6] C, [7] Vp (V padded
// up for the GPU); then the parameters back to back in this order:
//   wte (Vp, C), wpe (maxT, C), ln1w (L, C), ln1b (L, C), qkvw (L, 3C, C),
//   qkvb (L, 3C), attprojw (L, C, C), attprojb (L, C), ln2w (L, C),
//   ln2b (L, C), fcw (L, 4C, C), fcb (L, 4C), fcprojw (L, C, 4C),
//   fcprojb (L, C), lnfw (C), lnfb (C).
// The matrices are PyTorch nn.Linear weights, (out, in) row-major, which is
// ggml's ne = {in, out} as it is: no transpose. The Vp - V padding rows of
// wte are dropped; the head is tied to wte (no output.weight).
//
// Tokenizer: 256 uint32: [0] 20240328, [1] version (1 or 2), [2] vocab
// size, [3] <|endoftext|> id (version 2; version 1 means GPT-2's 50256);
// then per token a uint8 length (> 0) and that many raw bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "byte_unicode.h"
#include "load_common.h"
#include "loaders.h"
#include "tokenizer.h"
#include "util.h"

#define LLMC_MODEL_MAGIC 20240326u
#define LLMC_TOKENIZER_MAGIC 20240328u
#define LLMC_HEADER_BYTES 1024

// ---- tokenizer ---------------------------------------------------------------

typedef struct {
    mapped_file map;
    uint32_t n_vocab;
    uint32_t eot;
    const uint8_t **bytes;  // [n_vocab] pointers into the map
    uint8_t *len;           // [n_vocab]
} llmc_vocab;

static void llmc_vocab_free(llmc_vocab *v) {
    free(v->bytes);
    free(v->len);
    unmap_file(&v->map);
}

static int llmc_vocab_read(llmc_vocab *v, const char *path, char *err) {
    memset(v, 0, sizeof *v);
    struct stat st;
    if (stat(path, &st) != 0)
        return gpt_fail(err, "%s: llm.c tokenizer not found (expected beside the checkpoint, "
                             "as written by llm.c's train_gpt2.py)", path);
    if (map_file(&v->map, path, err)) return -1;
    const uint8_t *p = v->map.data;
    size_t size = v->map.size;
    if (size < LLMC_HEADER_BYTES)
        return gpt_fail(err, "%s: %zu bytes, shorter than the %d-byte header", path, size, LLMC_HEADER_BYTES);
    uint32_t magic = rd_u32(p), version = rd_u32(p + 4);
    v->n_vocab = rd_u32(p + 8);
    if (magic != LLMC_TOKENIZER_MAGIC)
        return gpt_fail(err, "%s: bad magic %u (an llm.c tokenizer starts with %u)", path, magic,
                        LLMC_TOKENIZER_MAGIC);
    if (v->n_vocab == 0 || v->n_vocab > (1u << 24))
        return gpt_fail(err, "%s: vocab_size %u out of range (1..16777216)", path, v->n_vocab);
    if (version == 1) {
        // version 1 has no eot field; llm.c assumes GPT-2's layout
        if (v->n_vocab != 50257)
            return gpt_fail(err, "%s: version 1 tokenizer must have 50257 tokens, has %u", path, v->n_vocab);
        v->eot = 50256;
    } else if (version == 2) {
        v->eot = rd_u32(p + 12);
        if (v->eot >= v->n_vocab)
            return gpt_fail(err, "%s: eot token %u out of range (vocab_size %u)", path, v->eot, v->n_vocab);
    } else {
        return gpt_fail(err, "%s: unsupported tokenizer version %u (1 or 2 expected)", path, version);
    }
    // each token takes at least 2 bytes (its length and one byte): bound
    // n_vocab by the file before allocating for it
    if (v->n_vocab > (size - LLMC_HEADER_BYTES) / 2)
        return gpt_fail(err, "%s: vocab_size %u cannot fit in the file's %zu bytes of tokens", path, v->n_vocab,
                        size - LLMC_HEADER_BYTES);
    v->bytes = malloc(v->n_vocab * sizeof *v->bytes);
    v->len = malloc(v->n_vocab);
    if (!v->bytes || !v->len) return gpt_fail(err, "%s: out of memory", path);
    size_t off = LLMC_HEADER_BYTES;
    for (uint32_t i = 0; i < v->n_vocab; i++) {
        if (off >= size) return gpt_fail(err, "%s: truncated at the length of token %u", path, i);
        uint8_t n = p[off++];
        if (n == 0) return gpt_fail(err, "%s: token %u has length 0", path, i);
        if (n > size - off)
            return gpt_fail(err, "%s: token %u: length %u but only %zu bytes left", path, i, n, size - off);
        v->bytes[i] = p + off;
        v->len[i] = n;
        off += n;
    }
    if (off != size) return gpt_fail(err, "%s: %zu unexpected bytes after the last token", path, size - off);
    return 0;
}

// ---- merges derived from token ids (tiktoken's rule) ----------------------------
//
// A tiktoken vocabulary has no merge list: a token's id is its rank. GGUF
// (and llama.cpp) want "LEFT RIGHT" merges. For each multi-byte token t in
// id order, run byte-level BPE over t's own bytes using only tokens with id
// < t (repeatedly merge the adjacent pair whose concatenation has the
// lowest id); the two parts it ends with are t's merge. The merge list in
// id order then ranks pairs exactly as the ids do, so merges-based BPE and
// rank-based BPE encode identically. For GPT-2 this reproduces vocab.bpe.

// Open-addressing table from a token's bytes to its id.
typedef struct {
    const llmc_vocab *v;
    int32_t *slot;  // id or -1
    uint64_t mask;
} bytes_index;

static uint64_t hash_bytes(const uint8_t *b, size_t n) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int32_t index_find(const bytes_index *ix, const uint8_t *b, size_t n) {
    for (uint64_t i = hash_bytes(b, n) & ix->mask;; i = (i + 1) & ix->mask) {
        int32_t id = ix->slot[i];
        if (id < 0) return -1;
        if (ix->v->len[id] == n && memcmp(ix->v->bytes[id], b, n) == 0) return id;
    }
}

// Index every non-special token; duplicates are an error (ids must be ranks).
static int index_build(bytes_index *ix, const llmc_vocab *v, const char *path, char *err) {
    uint64_t cap = 1;
    while (cap < 2 * (uint64_t)v->n_vocab) cap <<= 1;
    ix->v = v;
    ix->mask = cap - 1;
    ix->slot = malloc(cap * sizeof *ix->slot);
    if (!ix->slot) return gpt_fail(err, "%s: out of memory", path);
    memset(ix->slot, 0xFF, cap * sizeof *ix->slot);
    for (uint32_t id = 0; id < v->n_vocab; id++) {
        if (id == v->eot) continue;
        uint64_t i = hash_bytes(v->bytes[id], v->len[id]) & ix->mask;
        for (; ix->slot[i] >= 0; i = (i + 1) & ix->mask) {
            int32_t o = ix->slot[i];
            if (v->len[o] == v->len[id] && memcmp(v->bytes[o], v->bytes[id], v->len[id]) == 0)
                return gpt_fail(err, "%s: tokens %d and %u have the same bytes", path, o, id);
        }
        ix->slot[i] = (int32_t)id;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        if (index_find(ix, &c, 1) < 0)
            return gpt_fail(err, "%s: byte 0x%02x has no token (byte-level BPE needs all 256)", path, b);
    }
    return 0;
}

// Split token t into its merge (the length of the left part), by BPE over
// its bytes with ranks < t.
static int derive_merge(const bytes_index *ix, uint32_t t, size_t *left_len, const char *path, char *err) {
    const uint8_t *b = ix->v->bytes[t];
    size_t n = ix->v->len[t];
    size_t start[256];  // parts are contiguous: part i is b[start[i] .. start[i+1])
    for (size_t i = 0; i <= n; i++) start[i] = i;
    size_t parts = n;
    for (;;) {
        int32_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < parts; i++) {
            int32_t r = index_find(ix, b + start[i], start[i + 2] - start[i]);
            if (r >= 0 && (uint32_t)r < t && (best < 0 || r < best)) {
                best = r;
                at = i;
            }
        }
        if (best < 0) break;
        memmove(&start[at + 1], &start[at + 2], (parts - at - 1) * sizeof start[0]);
        parts--;
    }
    if (parts != 2)
        return gpt_fail(err, "%s: token %u cannot be built by BPE from lower ids (%zu parts remain), "
                             "so its merge is undefined", path, t, parts);
    *left_len = start[1];
    return 0;
}

// tokens (alphabet strings), types and merges into g.
static int llmc_set_tokenizer(gguf_ctx *g, const llmc_vocab *v, const char *path, char *err) {
    uint32_t n = v->n_vocab;
    gguf_str *tokens = malloc(n * sizeof *tokens);
    gguf_str *merges = malloc(n * sizeof *merges);
    int32_t *types = malloc(n * sizeof *types);
    // alphabet text: at most 2 bytes per raw byte; merges add one space
    char *tok_text = malloc(2 * v->map.size);
    char *merge_text = malloc(3 * v->map.size);
    bytes_index ix = {0};
    int rc = -1;
    if (!tokens || !merges || !types || !tok_text || !merge_text) {
        gpt_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (index_build(&ix, v, path, err)) goto done;
    size_t to = 0, mo = 0;
    uint64_t n_merges = 0;
    for (uint32_t t = 0; t < n; t++) {
        if (t == v->eot) {  // control token: its text as it is
            tokens[t] = (gguf_str){v->len[t], (const char *)v->bytes[t]};
            types[t] = 3;
            continue;
        }
        types[t] = 1;
        tokens[t].ptr = tok_text + to;
        tokens[t].len = bytes_to_unicode(v->bytes[t], v->len[t], tok_text + to);
        to += tokens[t].len;
        if (v->len[t] < 2) continue;
        size_t left = 0;
        if (derive_merge(&ix, t, &left, path, err)) goto done;
        char *m = merge_text + mo;
        size_t k = bytes_to_unicode(v->bytes[t], left, m);
        m[k++] = ' ';
        k += bytes_to_unicode(v->bytes[t] + left, v->len[t] - left, m + k);
        merges[n_merges++] = (gguf_str){k, m};
        mo += k;
    }
    // what gpt will build from these keys must build (reported against the file)
    gpt_tokenizer *tok;
    if (tokenizer_build_gpt2(&tok, tokens, types, n, merges, n_merges, path, err)) goto done;
    tokenizer_free(tok);
    loader_set_tokenizer(g, tokens, types, n, merges, n_merges, v->eot, v->eot);
    rc = 0;
done:
    free(ix.slot);
    free(tokens);
    free(merges);
    free(types);
    free(tok_text);
    free(merge_text);
    return rc;
}

// ---- checkpoint ------------------------------------------------------------------

typedef struct {
    uint32_t version, maxT, V, L, NH, C, Vp;
} llmc_header;

enum { P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB, P_LN2W, P_LN2B,
       P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB, P_COUNT };

static int llmc_header_read(llmc_header *h, const mapped_file *m, const char *path, char *err) {
    if (m->size < LLMC_HEADER_BYTES)
        return gpt_fail(err, "%s: %zu bytes, shorter than the %d-byte header", path, m->size, LLMC_HEADER_BYTES);
    int32_t f[8];
    for (int i = 0; i < 8; i++) f[i] = (int32_t)rd_u32(m->data + 4 * i);
    if ((uint32_t)f[0] != LLMC_MODEL_MAGIC)
        return gpt_fail(err, "%s: bad magic %d (an llm.c checkpoint starts with %u)", path, f[0], LLMC_MODEL_MAGIC);
    if (f[1] != 3 && f[1] != 5)
        return gpt_fail(err, "%s: unsupported checkpoint version %d (3 = fp32, 5 = bf16)", path, f[1]);
    static const char *names[8] = {"magic", "version", "max_seq_len", "vocab_size", "num_layers",
                                   "num_heads", "channels", "padded_vocab_size"};
    static const int32_t hi[8] = {0, 0, 1 << 20, 1 << 24, 1024, 65536, 65536, 1 << 24};
    for (int i = 2; i < 8; i++)
        if (f[i] <= 0 || f[i] > hi[i])
            return gpt_fail(err, "%s: header %s = %d out of range (1..%d)", path, names[i], f[i], hi[i]);
    *h = (llmc_header){(uint32_t)f[1], (uint32_t)f[2], (uint32_t)f[3], (uint32_t)f[4],
                       (uint32_t)f[5], (uint32_t)f[6], (uint32_t)f[7]};
    if (h->C % h->NH != 0)
        return gpt_fail(err, "%s: channels %u is not a multiple of num_heads %u", path, h->C, h->NH);
    if (h->V > h->Vp)
        return gpt_fail(err, "%s: vocab_size %u exceeds padded_vocab_size %u", path, h->V, h->Vp);
    return 0;
}

// Element counts of the 16 parameter arrays, in file order.
static int llmc_param_sizes(const llmc_header *h, uint64_t sz[P_COUNT]) {
    uint64_t C = h->C, L = h->L, CC = C * C;  // C <= 65536: C*C fits
    int bad = mul_u64(h->Vp, C, &sz[P_WTE]) | mul_u64(h->maxT, C, &sz[P_WPE]) |
              mul_u64(L, 3 * CC, &sz[P_QKVW]) | mul_u64(L, CC, &sz[P_ATTPROJW]) |
              mul_u64(L, 4 * CC, &sz[P_FCW]) | mul_u64(L, 4 * CC, &sz[P_FCPROJW]);
    sz[P_LN1W] = sz[P_LN1B] = sz[P_ATTPROJB] = sz[P_LN2W] = sz[P_LN2B] = sz[P_FCPROJB] = L * C;
    sz[P_QKVB] = L * 3 * C;
    sz[P_FCB] = L * 4 * C;
    sz[P_LNFW] = sz[P_LNFB] = C;
    return bad ? -1 : 0;
}

// One tensor to add: its GGUF name, dims, and where its data starts.
static int llmc_add(gguf_ctx *g, const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1,
                    src_dtype dt, const uint8_t *src, char *err) {
    uint64_t ne[2] = {ne0, ne1};
    float *dst;
    if (loader_add_f32(g, name, n_dims, ne, &dst, err)) return -1;
    loader_to_f32(dt, src, ne0 * (n_dims > 1 ? ne1 : 1), dst);
    return 0;
}

static int llmc_add_tensors(gguf_ctx *g, const llmc_header *h, const uint64_t off[P_COUNT],
                            const uint8_t *data, char *err) {
    src_dtype dt = h->version == 5 ? SRC_BF16 : SRC_F32;
    uint64_t es = h->version == 5 ? 2 : 4;
    uint64_t C = h->C, L = h->L;
#define AT(p, layer, per_layer) (data + (off[p] + (uint64_t)(layer) * (per_layer)) * es)
    // wte (Vp, C): only the first V rows are real tokens
    if (llmc_add(g, "token_embd.weight", 2, C, h->V, dt, AT(P_WTE, 0, 0), err)) return -1;
    if (llmc_add(g, "position_embd.weight", 2, C, h->maxT, dt, AT(P_WPE, 0, 0), err)) return -1;
    for (uint64_t l = 0; l < L; l++) {
        char name[64];
#define ADD(suffix, nd, e0, e1, p, per)                                              \
    do {                                                                             \
        snprintf(name, sizeof name, "blk.%llu.%s", (unsigned long long)l, suffix);    \
        if (llmc_add(g, name, nd, e0, e1, dt, AT(p, l, per), err)) return -1;        \
    } while (0)
        ADD("attn_norm.weight", 1, C, 1, P_LN1W, C);
        ADD("attn_norm.bias", 1, C, 1, P_LN1B, C);
        ADD("attn_qkv.weight", 2, C, 3 * C, P_QKVW, 3 * C * C);  // (3C, C) = {C, 3C}
        ADD("attn_qkv.bias", 1, 3 * C, 1, P_QKVB, 3 * C);
        ADD("attn_output.weight", 2, C, C, P_ATTPROJW, C * C);  // (C, C)
        ADD("attn_output.bias", 1, C, 1, P_ATTPROJB, C);
        ADD("ffn_norm.weight", 1, C, 1, P_LN2W, C);
        ADD("ffn_norm.bias", 1, C, 1, P_LN2B, C);
        ADD("ffn_up.weight", 2, C, 4 * C, P_FCW, 4 * C * C);  // (4C, C) = {C, 4C}
        ADD("ffn_up.bias", 1, 4 * C, 1, P_FCB, 4 * C);
        ADD("ffn_down.weight", 2, 4 * C, C, P_FCPROJW, 4 * C * C);  // (C, 4C) = {4C, C}
        ADD("ffn_down.bias", 1, C, 1, P_FCPROJB, C);
#undef ADD
    }
    if (llmc_add(g, "output_norm.weight", 1, C, 1, dt, AT(P_LNFW, 0, 0), err)) return -1;
    if (llmc_add(g, "output_norm.bias", 1, C, 1, dt, AT(P_LNFB, 0, 0), err)) return -1;
#undef AT
    return 0;
}

int load_llmc(gguf_ctx **out, const char *bin_path, const char *tokenizer_path, char *err) {
    *out = NULL;
    char tok_path[4096];
    if (!tokenizer_path) {
        if (loader_beside(bin_path, "gpt2_tokenizer.bin", tok_path, sizeof tok_path, err)) return -1;
        tokenizer_path = tok_path;
    }
    mapped_file m = {0};
    llmc_vocab vocab = {0};
    gguf_ctx *g = NULL;
    llmc_header h = {0};
    uint64_t sz[P_COUNT], off[P_COUNT], total = 0, bytes;
    if (map_file(&m, bin_path, err) || llmc_header_read(&h, &m, bin_path, err)) goto fail;
    if (llmc_param_sizes(&h, sz)) {
        gpt_fail(err, "%s: parameter count overflows", bin_path);
        goto fail;
    }
    for (int p = 0; p < P_COUNT; p++) {
        off[p] = total;
        if (add_u64(total, sz[p], &total)) {
            gpt_fail(err, "%s: parameter count overflows", bin_path);
            goto fail;
        }
    }
    if (mul_u64(total, h.version == 5 ? 2 : 4, &bytes) || add_u64(bytes, LLMC_HEADER_BYTES, &bytes)) {
        gpt_fail(err, "%s: parameter bytes overflow", bin_path);
        goto fail;
    }
    if (bytes != m.size) {
        gpt_fail(err, "%s: file has %zu bytes but its header implies %llu (%llu %s parameters)", bin_path,
                 m.size, (unsigned long long)bytes, (unsigned long long)total,
                 h.version == 5 ? "bf16" : "fp32");
        goto fail;
    }
    if (llmc_vocab_read(&vocab, tokenizer_path, err)) goto fail;
    if (vocab.n_vocab != h.V) {
        gpt_fail(err, "%s: tokenizer has %u tokens but the checkpoint %s has vocab_size %u", tokenizer_path,
                 vocab.n_vocab, bin_path, h.V);
        goto fail;
    }
    g = gguf_new();
    char name[256];
    loader_basename(bin_path, ".bin", name, sizeof name);
    loader_hparams hp = {name, h.maxT, h.C, 4 * h.C, h.L, h.NH, 1e-5f, false};
    loader_set_hparams(g, &hp);
    if (llmc_set_tokenizer(g, &vocab, tokenizer_path, err)) goto fail;
    if (llmc_add_tensors(g, &h, off, m.data + LLMC_HEADER_BYTES, err)) goto fail;
    llmc_vocab_free(&vocab);
    unmap_file(&m);
    *out = g;
    return 0;
fail:
    if (g) gguf_free(g);
    llmc_vocab_free(&vocab);
    unmap_file(&m);
    return -1;
}
