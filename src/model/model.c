// model.c: hyperparameters from GGUF metadata and tensor views into the
// mapped file, every shape and type validated before use.
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "kernels/kernels.h"
#include "loaders.h"

// Upper bounds that no real model comes near but that keep every size product
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

// key under the architecture's prefix: "llama" + "context_length".
static const char *akey(builder *b, const char *key) {
    static _Thread_local char buf[128];
    snprintf(buf, sizeof buf, "%s.%s", b->m->hp.arch, key);
    return buf;
}

static int get_float_key(builder *b, const char *key, float lo, float hi, float def, float *out) {
    *out = def;
    if (!gguf_find_kv(b->m->gguf, key)) return 0;
    double v;
    if (gguf_get_float(b->m->gguf, key, &v, b->err)) return -1;
    if (!(v > lo && v < hi))
        return gpt_fail(b->err, "%s: metadata '%s' = %g is out of range (%g, %g)", b->path, key, v, lo, hi);
    *out = (float)v;
    return 0;
}

static int read_hparams(builder *b) {
    gpt_model *m = b->m;
    gpt_hparams *hp = &m->hp;
    gguf_str arch;
    if (gguf_get_str(m->gguf, "general.architecture", &arch, b->err)) return -1;
    const arch_desc *a = arch_find(arch.ptr, arch.len);
    if (!a)
        return gpt_fail(b->err, "%s: general.architecture is '%.*s'; gpt runs %s", b->path,
                        (int)(arch.len < 64 ? arch.len : 64), arch.ptr, arch_known_names());
    m->arch = a;
    snprintf(hp->arch, sizeof hp->arch, "%s", a->name);
    hp->norm = a->norm, hp->pos = a->pos, hp->rope_layout = a->rope_layout, hp->act = a->act;
    hp->qk_norm = a->qk_norm;
    if (get_hparam(b, akey(b, "context_length"), 1, MAX_CTX, &hp->n_ctx) ||
        get_hparam(b, akey(b, "embedding_length"), 1, MAX_EMBD, &hp->n_embd) ||
        get_hparam(b, akey(b, "block_count"), 1, MAX_LAYER, &hp->n_layer) ||
        get_hparam(b, akey(b, "attention.head_count"), 1, MAX_EMBD, &hp->n_head))
        return -1;
    if (gguf_find_kv(m->gguf, akey(b, "feed_forward_length"))) {
        if (get_hparam(b, akey(b, "feed_forward_length"), 1, MAX_FF, &hp->n_ff)) return -1;
    } else if (a->act == GPT_ACT_GELU) {
        hp->n_ff = 4 * hp->n_embd;
    } else {
        return gpt_fail(b->err, "%s: missing metadata '%s'", b->path, akey(b, "feed_forward_length"));
    }
    hp->n_head_kv = hp->n_head;
    if (gguf_find_kv(m->gguf, akey(b, "attention.head_count_kv")) &&
        get_hparam(b, akey(b, "attention.head_count_kv"), 1, (uint64_t)hp->n_head, &hp->n_head_kv))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return gpt_fail(b->err, "%s: %s %d is not a multiple of %s %d", b->path, akey(b, "attention.head_count"),
                        hp->n_head, akey(b, "attention.head_count_kv"), hp->n_head_kv);
    if (gguf_find_kv(m->gguf, akey(b, "attention.key_length"))) {
        if (get_hparam(b, akey(b, "attention.key_length"), 2, 4096, &hp->head_dim)) return -1;
    } else {
        if (hp->n_embd % hp->n_head)
            return gpt_fail(b->err, "%s: %s %d is not divisible by %s %d", b->path, akey(b, "embedding_length"),
                            hp->n_embd, akey(b, "attention.head_count"), hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    if (gguf_find_kv(m->gguf, akey(b, "attention.value_length"))) {
        int vl = 0;
        if (get_hparam(b, akey(b, "attention.value_length"), 1, 4096, &vl)) return -1;
        if (vl != hp->head_dim)
            return gpt_fail(b->err, "%s: %s %d differs from the key length %d; gpt needs them equal", b->path,
                            akey(b, "attention.value_length"), vl, hp->head_dim);
    }
    if (a->fused_qkv && hp->n_head_kv != hp->n_head)
        return gpt_fail(b->err, "%s: a fused attn_qkv needs as many key/value heads as heads", b->path);
    if (a->pos == GPT_POS_ROPE) {
        if (hp->head_dim % 2)
            return gpt_fail(b->err, "%s: head size %d is odd; rotary embeddings rotate pairs", b->path, hp->head_dim);
        if (gguf_find_kv(m->gguf, akey(b, "rope.dimension_count"))) {
            int nrot = 0;
            if (get_hparam(b, akey(b, "rope.dimension_count"), 1, 4096, &nrot)) return -1;
            if (nrot != hp->head_dim)
                return gpt_fail(b->err, "%s: %s = %d rotates part of each head (%d); gpt rotates whole heads",
                                b->path, akey(b, "rope.dimension_count"), nrot, hp->head_dim);
        }
        if (get_float_key(b, akey(b, "rope.freq_base"), 1.0f, 1e12f, 10000.0f, &hp->rope_base)) return -1;
        if (gguf_find_kv(m->gguf, akey(b, "rope.scaling.type"))) {
            gguf_str t;
            if (gguf_get_str(m->gguf, akey(b, "rope.scaling.type"), &t, b->err)) return -1;
            if (!gguf_str_eq(t, "none"))
                return gpt_fail(b->err, "%s: %s '%.*s' is not supported yet", b->path, akey(b, "rope.scaling.type"),
                                (int)(t.len < 32 ? t.len : 32), t.ptr);
        }
    }
    if (get_float_key(b, akey(b, a->eps_key), 0.0f, 1.0f, a->norm == GPT_NORM_RMS ? 1e-6f : 1e-5f, &hp->ln_eps))
        return -1;
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

static const char *tname(int l, tensor_role r, const char *kind, char buf[64]) {
    snprintf(buf, 64, "blk.%d.%s.%s", l, tensor_names[r], kind);
    return buf;
}

static int build_layer(builder *b, int l, gpt_layer *L) {
    const gpt_hparams *hp = &b->m->hp;
    const arch_desc *a = b->m->arch;
    int C = hp->n_embd, F = hp->n_ff, hd = hp->head_dim, A = hp->n_head * hd, KV = hp->n_head_kv * hd;
    bool rms = a->norm == GPT_NORM_RMS;
    char n[64];
#define W(role) tname(l, role, "weight", n)
#define B(role) tname(l, role, "bias", n)
    if (get_vector(b, W(T_ATTN_NORM), C, true, &L->ln1_w) ||
        (!rms && get_vector(b, B(T_ATTN_NORM), C, false, &L->ln1_b)))
        return -1;
    if (a->fused_qkv) {
        if (get_matrix(b, W(T_ATTN_QKV), A + 2 * KV, C, true, &L->attn_qkv) ||
            get_vector(b, B(T_ATTN_QKV), A + 2 * KV, false, &L->attn_qkv_b))
            return -1;
    } else if (get_matrix(b, W(T_ATTN_Q), A, C, true, &L->attn_q) ||
               get_vector(b, B(T_ATTN_Q), A, false, &L->attn_q_b) ||
               get_matrix(b, W(T_ATTN_K), KV, C, true, &L->attn_k) ||
               get_vector(b, B(T_ATTN_K), KV, false, &L->attn_k_b) ||
               get_matrix(b, W(T_ATTN_V), KV, C, true, &L->attn_v) ||
               get_vector(b, B(T_ATTN_V), KV, false, &L->attn_v_b)) {
        return -1;
    }
    if (a->qk_norm && (get_vector(b, W(T_ATTN_Q_NORM), hd, true, &L->q_norm) ||
                       get_vector(b, W(T_ATTN_K_NORM), hd, true, &L->k_norm)))
        return -1;
    if (get_matrix(b, W(T_ATTN_OUT), C, A, true, &L->attn_out) ||
        get_vector(b, B(T_ATTN_OUT), C, false, &L->attn_out_b) ||
        get_vector(b, W(T_FFN_NORM), C, true, &L->ln2_w) ||
        (!rms && get_vector(b, B(T_FFN_NORM), C, false, &L->ln2_b)))
        return -1;
    if (a->act == GPT_ACT_SWIGLU && (get_matrix(b, W(T_FFN_GATE), F, C, true, &L->ffn_gate) ||
                                     get_vector(b, B(T_FFN_GATE), F, false, &L->ffn_gate_b)))
        return -1;
    if (get_matrix(b, W(T_FFN_UP), F, C, true, &L->ffn_up) || get_vector(b, B(T_FFN_UP), F, false, &L->ffn_up_b) ||
        get_matrix(b, W(T_FFN_DOWN), C, F, true, &L->ffn_down) ||
        get_vector(b, B(T_FFN_DOWN), C, false, &L->ffn_down_b))
        return -1;
#undef W
#undef B
    return 0;
}

static int build_layers(builder *b) {
    gpt_model *m = b->m;
    m->layers = calloc((size_t)m->hp.n_layer, sizeof(gpt_layer));
    if (!m->layers) return gpt_fail(b->err, "%s: out of memory", b->path);
    for (int l = 0; l < m->hp.n_layer; l++)
        if (build_layer(b, l, &m->layers[l])) return -1;
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
            return gpt_fail(b->err, "%s: unexpected tensor '%.*s' for a %s model", b->path, (int)t->name.len,
                            t->name.ptr, b->m->hp.arch);
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
    // room for every vector converted from F16: per layer the norms (4C),
    // biases (QKV + C + 2F + C) and head norms (2 hd), plus the output norm
    size_t qkv = (size_t)(hp->n_head + 2 * hp->n_head_kv) * (size_t)hp->head_dim;
    b.cap_f32 = (size_t)hp->n_layer * (6 * (size_t)C + qkv + 2 * (size_t)hp->n_ff + 2 * (size_t)hp->head_dim) +
                2 * (size_t)C;
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
    bool learned = hp->pos == GPT_POS_LEARNED;
    if (get_matrix(&b, "token_embd.weight", V, C, true, &m->token_embd) ||
        (learned && get_matrix(&b, "position_embd.weight", hp->n_ctx, C, true, &m->position_embd)) ||
        build_layers(&b) || get_vector(&b, "output_norm.weight", C, true, &m->lnf_w) ||
        (hp->norm == GPT_NORM_LAYER && get_vector(&b, "output_norm.bias", C, false, &m->lnf_b)) ||
        get_matrix(&b, "output.weight", V, C, false, &m->output) ||
        (hp->pos == GPT_POS_ROPE && get_vector(&b, "rope_freqs.weight", hp->head_dim / 2, false, &m->rope_freqs)))
        goto fail;
    for (int i = 0; m->rope_freqs && i < hp->head_dim / 2; i++)
        if (!(m->rope_freqs[i] > 0 && m->rope_freqs[i] < 1e30f)) {
            gpt_fail(err, "%s: rope_freqs.weight[%d] = %g is not a positive finite divisor", path, i, m->rope_freqs[i]);
            goto fail;
        }
    if (learned && m->position_embd.type != GGML_TYPE_F32 && m->position_embd.type != GGML_TYPE_F16) {
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

int gpt_model_open(gpt_model **out, const char *path, char *err) { return gpt_model_open_ex(out, path, NULL, err); }

int gpt_model_open_ex(gpt_model **out, const char *path, const char *tokenizer_path, char *err) {
    gguf_ctx *g;
    *out = NULL;
    if (load_any(&g, path, tokenizer_path, err)) return -1;
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
    return 2ull * (uint64_t)m->hp.n_layer * (uint64_t)n_ctx * (uint64_t)m->hp.n_head_kv * (uint64_t)m->hp.head_dim * elem;
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
