// model.c: hyperparameters from GGUF metadata and tensor views into the
// mapped file, every shape and type validated before use.
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "loaders.h"

// Upper bounds that no real GPT-2 comes near but that keep every size product
// far from overflow and every allocation bounded.
#define MAX_EMBD 65536
#define MAX_LAYER 1024
#define MAX_CTX (1 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_FF (1 << 20)

typedef struct {
    gpt_model *m;
    const char *path;
    char *err;
    const char **used;  // names of the tensors taken, to find extra ones
    int n_used, cap_used;
    size_t n_f32;       // floats of f32_copies handed out so far
    size_t cap_f32;
} builder;

static void mark_used(builder *b, const char *name) {
    if (b->n_used == b->cap_used) {
        b->cap_used = b->cap_used ? 2 * b->cap_used : 64;
        const char **u = realloc(b->used, (size_t)b->cap_used * sizeof(char *));
        if (!u) {
            fprintf(stderr, "gpt: out of memory\n");
            exit(1);
        }
        b->used = u;
    }
    b->used[b->n_used++] = name;
}

static const gguf_tensor *find(builder *b, const char *name, bool required) {
    const gguf_tensor *t = gguf_find_tensor(b->m->gguf, name);
    if (!t) {
        if (required) gpt_fail(b->err, "%s: missing tensor '%s'", b->path, name);
        return NULL;
    }
    mark_used(b, gguf_str_eq(t->name, name) ? t->name.ptr : name);
    b->m->weight_bytes += t->nbytes;
    return t;
}

// A matrix (rows, cols) = ne {cols, rows}.
static int get_matrix(builder *b, const char *name, int rows, int cols, bool required, gpt_matrix *out) {
    memset(out, 0, sizeof *out);
    const gguf_tensor *t = find(b, name, required);
    if (!t) return required ? -1 : 0;
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows)
        return gpt_fail(b->err, "%s: tensor '%s' has shape {%llu, %llu} (n_dims %u), expected {%d, %d}", b->path, name,
                        (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], t->n_dims, cols, rows);
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_Q8_0 && t->type != GGML_TYPE_Q4_0)
        return gpt_fail(b->err, "%s: tensor '%s' has type %s; matrices must be F32, F16, Q8_0 or Q4_0", b->path, name,
                        ggml_type_name(t->type));
    out->type = t->type;
    out->rows = rows;
    out->cols = cols;
    out->row_bytes = (size_t)(t->nbytes / (uint64_t)rows);
    out->data = t->data;
    return 0;
}

// A vector (n): F32 in place, or F16/BF16 converted into f32_copies.
static int get_vector(builder *b, const char *name, int n, bool required, const float **out) {
    *out = NULL;
    const gguf_tensor *t = find(b, name, required);
    if (!t) return required ? -1 : 0;
    if (t->n_dims != 1 || t->ne[0] != (uint64_t)n)
        return gpt_fail(b->err, "%s: tensor '%s' has %u dims and %llu elements, expected a vector of %d", b->path, name,
                        t->n_dims, (unsigned long long)t->ne[0], n);
    if (t->type == GGML_TYPE_F32) {
        *out = t->data;
        return 0;
    }
    if (t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16)
        return gpt_fail(b->err, "%s: tensor '%s' has type %s; vectors must be F32, F16 or BF16", b->path, name,
                        ggml_type_name(t->type));
    if (b->n_f32 + (size_t)n > b->cap_f32)
        return gpt_fail(b->err, "%s: internal error: vector space exhausted at '%s'", b->path, name);
    float *dst = b->m->f32_copies + b->n_f32;
    dequantize_row(t->type, t->data, dst, n);
    b->n_f32 += (size_t)n;
    *out = dst;
    return 0;
}

static int get_hparam(builder *b, const char *key, uint64_t lo, uint64_t hi, int *out) {
    uint64_t v;
    if (gguf_get_uint(b->m->gguf, key, &v, b->err)) return -1;
    if (v < lo || v > hi)
        return gpt_fail(b->err, "%s: metadata '%s' = %llu is out of range [%llu, %llu]", b->path, key,
                        (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
    *out = (int)v;
    return 0;
}

static int read_hparams(builder *b) {
    gpt_model *m = b->m;
    gpt_hparams *hp = &m->hp;
    gguf_str arch;
    if (gguf_get_str(m->gguf, "general.architecture", &arch, b->err)) return -1;
    if (!gguf_str_eq(arch, "gpt2"))
        return gpt_fail(b->err, "%s: general.architecture is '%.*s'; gpt runs 'gpt2' models", b->path,
                        (int)(arch.len < 64 ? arch.len : 64), arch.ptr);
    if (get_hparam(b, "gpt2.context_length", 1, MAX_CTX, &hp->n_ctx) ||
        get_hparam(b, "gpt2.embedding_length", 1, MAX_EMBD, &hp->n_embd) ||
        get_hparam(b, "gpt2.block_count", 1, MAX_LAYER, &hp->n_layer) ||
        get_hparam(b, "gpt2.attention.head_count", 1, MAX_EMBD, &hp->n_head))
        return -1;
    if (gguf_find_kv(m->gguf, "gpt2.feed_forward_length")) {
        if (get_hparam(b, "gpt2.feed_forward_length", 1, MAX_FF, &hp->n_ff)) return -1;
    } else {
        hp->n_ff = 4 * hp->n_embd;
    }
    if (hp->n_embd % hp->n_head)
        return gpt_fail(b->err, "%s: gpt2.embedding_length %d is not divisible by gpt2.attention.head_count %d", b->path,
                        hp->n_embd, hp->n_head);
    hp->ln_eps = 1e-5f;
    if (gguf_find_kv(m->gguf, "gpt2.attention.layer_norm_epsilon")) {
        double eps;
        if (gguf_get_float(m->gguf, "gpt2.attention.layer_norm_epsilon", &eps, b->err)) return -1;
        if (!(eps > 0 && eps < 1))
            return gpt_fail(b->err, "%s: gpt2.attention.layer_norm_epsilon = %g is not in (0, 1)", b->path, eps);
        hp->ln_eps = (float)eps;
    }
    hp->gelu_erf = false;
    if (gguf_find_kv(m->gguf, "gpt.gelu")) {
        gguf_str g;
        if (gguf_get_str(m->gguf, "gpt.gelu", &g, b->err)) return -1;
        if (gguf_str_eq(g, "erf")) hp->gelu_erf = true;
        else if (!gguf_str_eq(g, "tanh"))
            return gpt_fail(b->err, "%s: gpt.gelu must be \"tanh\" or \"erf\"", b->path);
    }
    const gguf_tensor *te = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return gpt_fail(b->err, "%s: missing tensor 'token_embd.weight'", b->path);
    if (te->n_dims != 2 || te->ne[1] > MAX_VOCAB)
        return gpt_fail(b->err, "%s: tensor 'token_embd.weight' must be 2-D with at most %d rows", b->path, MAX_VOCAB);
    hp->n_vocab = (int)te->ne[1];
    return 0;
}

static int build_layers(builder *b) {
    gpt_model *m = b->m;
    int C = m->hp.n_embd, F = m->hp.n_ff;
    m->layers = calloc((size_t)m->hp.n_layer, sizeof(gpt_layer));
    if (!m->layers) return gpt_fail(b->err, "%s: out of memory", b->path);
    for (int l = 0; l < m->hp.n_layer; l++) {
        gpt_layer *L = &m->layers[l];
        char n[12][64];
        const char *suffix[12] = {"attn_norm.weight", "attn_norm.bias",  "attn_qkv.weight", "attn_qkv.bias",
                                  "attn_output.weight", "attn_output.bias", "ffn_norm.weight", "ffn_norm.bias",
                                  "ffn_up.weight",   "ffn_up.bias",     "ffn_down.weight", "ffn_down.bias"};
        for (int i = 0; i < 12; i++) snprintf(n[i], sizeof n[i], "blk.%d.%s", l, suffix[i]);
        if (get_vector(b, n[0], C, true, &L->ln1_w) || get_vector(b, n[1], C, false, &L->ln1_b) ||
            get_matrix(b, n[2], 3 * C, C, true, &L->attn_qkv) || get_vector(b, n[3], 3 * C, false, &L->attn_qkv_b) ||
            get_matrix(b, n[4], C, C, true, &L->attn_out) || get_vector(b, n[5], C, false, &L->attn_out_b) ||
            get_vector(b, n[6], C, true, &L->ln2_w) || get_vector(b, n[7], C, false, &L->ln2_b) ||
            get_matrix(b, n[8], F, C, true, &L->ffn_up) || get_vector(b, n[9], F, false, &L->ffn_up_b) ||
            get_matrix(b, n[10], C, F, true, &L->ffn_down) || get_vector(b, n[11], C, false, &L->ffn_down_b))
            return -1;
    }
    return 0;
}

// The names handed out by find() point at per-call buffers for layer names;
// check extras by looking every file tensor up against the expected set.
static int check_no_extra(builder *b) {
    gguf_ctx *g = b->m->gguf;
    uint64_t n = gguf_n_tensors(g);
    if (n == (uint64_t)b->n_used) return 0;
    // find a tensor that is not one we took
    for (uint64_t i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        bool known = false;
        for (int k = 0; k < b->n_used && !known; k++) known = b->used[k] == t->name.ptr;
        if (!known)
            return gpt_fail(b->err, "%s: unexpected tensor '%.*s' for a gpt2 model", b->path, (int)t->name.len,
                            t->name.ptr);
    }
    return 0;
}

int model_build(gpt_model **out, gguf_ctx *g, const char *path, char *err) {
    *out = NULL;
    gpt_model *m = calloc(1, sizeof *m);
    if (!m) {
        gguf_free(g);
        return gpt_fail(err, "%s: out of memory", path);
    }
    pthread_mutex_init(&m->tok_lock, NULL);
    m->gguf = g;
    snprintf(m->path, sizeof m->path, "%s", path);
    builder b = {.m = m, .path = path, .err = err};
    if (read_hparams(&b)) goto fail;
    gpt_hparams *hp = &m->hp;
    int C = hp->n_embd, V = hp->n_vocab;
    // room for every vector converted from F16: per layer 4C + 3C + C + F + C, plus 2C
    b.cap_f32 = (size_t)hp->n_layer * (size_t)(9 * C + hp->n_ff) + 2 * (size_t)C;
    // but no more than the file's half-precision vectors hold: the
    // hyperparameters alone must not size an allocation
    size_t half_elems = 0;
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->n_dims == 1 && (t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16)) half_elems += t->ne[0];
    }
    if (half_elems < b.cap_f32) b.cap_f32 = half_elems;
    m->f32_copies = malloc((b.cap_f32 ? b.cap_f32 : 1) * sizeof(float));
    if (!m->f32_copies) {
        gpt_fail(err, "%s: out of memory", path);
        goto fail;
    }
    if (get_matrix(&b, "token_embd.weight", V, C, true, &m->token_embd) ||
        get_matrix(&b, "position_embd.weight", hp->n_ctx, C, true, &m->position_embd) ||
        build_layers(&b) || get_vector(&b, "output_norm.weight", C, true, &m->lnf_w) ||
        get_vector(&b, "output_norm.bias", C, false, &m->lnf_b) ||
        get_matrix(&b, "output.weight", V, C, false, &m->output))
        goto fail;
    if (m->position_embd.type != GGML_TYPE_F32 && m->position_embd.type != GGML_TYPE_F16) {
        gpt_fail(err, "%s: tensor 'position_embd.weight' must be F32 or F16", path);
        goto fail;
    }
    m->tied = m->output.data == NULL;
    if (m->tied) m->output = m->token_embd;
    if (check_no_extra(&b)) goto fail;
    // parameters: every element once, the output matrix only when it is its own
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (gguf_str_eq(t->name, "output.weight")) continue;
        m->n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    if (tokenizer_from_gguf(&m->tok, g, err)) goto fail;
    if (tokenizer_n_vocab(m->tok) != V) {
        gpt_fail(err, "%s: the tokenizer has %d tokens but token_embd.weight has %d rows", path,
                 tokenizer_n_vocab(m->tok), V);
        goto fail;
    }
    hp->eos_id = tokenizer_eos_id(m->tok);
    free(b.used);
    *out = m;
    return 0;
fail:
    free(b.used);
    gpt_model_free(m);
    return -1;
}

int gpt_model_open(gpt_model **out, const char *path, char *err) {
    gguf_ctx *g;
    *out = NULL;
    if (load_any(&g, path, err)) return -1;
    return model_build(out, g, path, err);
}

void gpt_model_free(gpt_model *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->tok_lock);
    tokenizer_free(m->tok);
    free(m->layers);
    free(m->f32_copies);
    gguf_free(m->gguf);
    free(m);
}

const gpt_hparams *gpt_model_hparams(const gpt_model *m) { return &m->hp; }
int gpt_n_vocab(const gpt_model *m) { return m->hp.n_vocab; }
gpt_tokenizer *gpt_model_tokenizer(gpt_model *m) { return m->tok; }

uint64_t model_kv_bytes(const gpt_model *m, int n_ctx, gpt_kv_type kv) {
    uint64_t elem = kv == GPT_KV_F16 ? 2 : 4;
    return 2ull * (uint64_t)m->hp.n_layer * (uint64_t)n_ctx * (uint64_t)m->hp.n_embd * elem;
}

// One call at a time per model: the tokenizer's piece cache and scratch
// space are shared (an uncontended lock costs nanoseconds; a prompt's
// encoding, microseconds).
int gpt_tokenize(gpt_model *m, const char *text, size_t len, bool allow_special, int32_t *ids, int max_ids) {
    size_t n;
    pthread_mutex_lock(&m->tok_lock);
    int32_t *all = tokenizer_encode(m->tok, (const uint8_t *)text, len, allow_special, &n);
    pthread_mutex_unlock(&m->tok_lock);
    if (!all) return -1;
    for (size_t i = 0; i < n && (int)i < max_ids; i++) ids[i] = all[i];
    free(all);
    return n > (size_t)0x7FFFFFFF ? -1 : (int)n;
}

const char *gpt_token_bytes(const gpt_model *m, int32_t id, size_t *len) {
    return (const char *)tokenizer_token_bytes(m->tok, id, len);
}
