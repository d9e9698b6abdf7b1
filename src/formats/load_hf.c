// load_hf.c: a Hugging Face GPT-2 directory (config.json, model.safetensors,
// vocab.json, merges.txt) turned into an in-memory gpt2 GGUF.
//
// model.safetensors: an 8-byte little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
// "__metadata__": {...}}, then the data region; offsets are relative to its
// start. HF's GPT-2 uses Conv1D layers whose weight is stored [in, out]
// (c_attn.weight is (C, 3C)), so every matrix is transposed into ggml's
// ne = {in, out} (row-major [out][in]); the embeddings (V, C) and (P, C)
// are already rows of C.
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "byte_unicode.h"
#include "load_common.h"
#include "loaders.h"
#include "tokenizer.h"
#include "util.h"

#define MAX_JSON_BYTES ((size_t)256 << 20)        // config, vocab, tokenizer.json
#define MAX_ST_HEADER ((uint64_t)100 << 20)      // safetensors' own limit
#define MAX_ST_DIMS 8
#define MAX_SAFE_INT 9007199254740992.0  // 2^53: JSON numbers are doubles

// ---- paths and small JSON helpers ---------------------------------------------

static int join_path(char *out, size_t cap, const char *dir, const char *file, char *err) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap) return gpt_fail(err, "%s: path too long", dir);
    return 0;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static cJSON *parse_json_file(const char *path, char *err) {
    char *text;
    size_t len;
    if (read_file_all(path, MAX_JSON_BYTES, &text, &len, err)) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j) gpt_fail(err, "%s: not valid JSON", path);
    return j;
}

// A JSON number that is an integer in [lo, hi] (exact below 2^53).
static bool json_int(const cJSON *j, double lo, double hi, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double d = j->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d) || d >= MAX_SAFE_INT) return false;
    *out = (uint64_t)d;
    return true;
}

// ---- config.json -------------------------------------------------------------------

typedef struct {
    uint32_t n_embd, n_layer, n_head, n_ctx, n_vocab, n_ff;
    float ln_eps;
    bool gelu_erf;
    int64_t bos, eos;  // -1: not given
} hf_config;

// An integer field in [lo, hi]; when absent, def (or an error if def < 0).
static int cfg_uint(const cJSON *root, const char *key, int64_t def, uint32_t lo, uint32_t hi, uint32_t *out,
                    const char *path, char *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j || cJSON_IsNull(j)) {
        if (def < 0) return gpt_fail(err, "%s: missing '%s'", path, key);
        *out = (uint32_t)def;
        return 0;
    }
    uint64_t v;
    if (!json_int(j, lo, hi, &v)) return gpt_fail(err, "%s: '%s' must be an integer in %u..%u", path, key, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

static int cfg_activation(const cJSON *root, bool *gelu_erf, const char *path, char *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    *gelu_erf = false;  // GPT2Config's default is gelu_new
    if (!j) return 0;
    const char *s = cJSON_GetStringValue(j);
    if (!s) return gpt_fail(err, "%s: 'activation_function' must be a string", path);
    // gelu_new, gelu_pytorch_tanh and gelu_fast are all the tanh approximation;
    // HF's "gelu" is the exact erf form
    if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast")) return 0;
    if (!strcmp(s, "gelu")) {
        *gelu_erf = true;
        return 0;
    }
    return gpt_fail(err, "%s: activation_function '%s' not supported (gelu_new or gelu)", path, s);
}

// Options of GPT2Config that change the arithmetic in ways gpt does not do.
static int cfg_reject_variants(const cJSON *root, const char *path, char *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (j && (!cJSON_IsString(j) || strcmp(j->valuestring, "gpt2") != 0))
        return gpt_fail(err, "%s: model_type '%s' is not gpt2", path, cJSON_IsString(j) ? j->valuestring : "?");
    j = cJSON_GetObjectItemCaseSensitive(root, "scale_attn_weights");
    if (j && cJSON_IsFalse(j)) return gpt_fail(err, "%s: scale_attn_weights false is not supported", path);
    j = cJSON_GetObjectItemCaseSensitive(root, "scale_attn_by_inverse_layer_idx");
    if (j && cJSON_IsTrue(j)) return gpt_fail(err, "%s: scale_attn_by_inverse_layer_idx is not supported", path);
    return 0;
}

static int read_config(hf_config *c, const char *path, char *err) {
    cJSON *root = parse_json_file(path, err);
    if (!root) return -1;
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        gpt_fail(err, "%s: not a JSON object", path);
        goto done;
    }
    const char *ctx_key = cJSON_GetObjectItemCaseSensitive(root, "n_positions") ? "n_positions" : "n_ctx";
    if (cfg_uint(root, "n_embd", -1, 1, 65536, &c->n_embd, path, err) ||
        cfg_uint(root, "n_layer", -1, 1, 1024, &c->n_layer, path, err) ||
        cfg_uint(root, "n_head", -1, 1, 65536, &c->n_head, path, err) ||
        cfg_uint(root, ctx_key, -1, 1, 1u << 20, &c->n_ctx, path, err) ||
        cfg_uint(root, "vocab_size", -1, 1, 1u << 24, &c->n_vocab, path, err) ||
        cfg_uint(root, "n_inner", 4 * (int64_t)c->n_embd, 1, 1u << 20, &c->n_ff, path, err) ||
        cfg_activation(root, &c->gelu_erf, path, err) || cfg_reject_variants(root, path, err))
        goto done;
    if (c->n_embd % c->n_head != 0) {
        gpt_fail(err, "%s: n_embd %u is not a multiple of n_head %u", path, c->n_embd, c->n_head);
        goto done;
    }
    c->ln_eps = 1e-5f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1)) {
            gpt_fail(err, "%s: 'layer_norm_epsilon' must be a number in (0, 1)", path);
            goto done;
        }
        c->ln_eps = (float)eps->valuedouble;
    }
    c->bos = c->eos = -1;
    uint64_t v;
    if (json_int(cJSON_GetObjectItemCaseSensitive(root, "bos_token_id"), 0, c->n_vocab - 1, &v)) c->bos = (int64_t)v;
    if (json_int(cJSON_GetObjectItemCaseSensitive(root, "eos_token_id"), 0, c->n_vocab - 1, &v)) c->eos = (int64_t)v;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

// ---- vocab.json, tokenizer.json / added_tokens.json, merges.txt ---------------------

typedef struct {
    uint64_t n;
    gguf_str *tokens;  // point into the cJSON documents below
    int32_t *types;
    cJSON *vocab_json, *added_json;
    char added_path[4096];  // tokenizer.json or added_tokens.json
    char *merges_text;
    gguf_str *merges;
    uint64_t n_merges;
} hf_vocab;

static void hf_vocab_free(hf_vocab *v) {
    free(v->tokens);
    free(v->types);
    free(v->merges);
    free(v->merges_text);
    cJSON_Delete(v->vocab_json);
    cJSON_Delete(v->added_json);
}

// Put token text s at id; the same id twice is an error unless the text agrees.
static int put_token(hf_vocab *v, uint64_t id, const char *s, int32_t type, const char *path, char *err) {
    if (id >= v->n) return gpt_fail(err, "%s: token '%s' has id %llu, beyond the %llu ids of the vocabulary",
                                    path, s, (unsigned long long)id, (unsigned long long)v->n);
    gguf_str *t = &v->tokens[id];
    if (t->ptr && (t->len != strlen(s) || memcmp(t->ptr, s, t->len) != 0))
        return gpt_fail(err, "%s: id %llu is both '%.*s' and '%s'", path, (unsigned long long)id, (int)t->len,
                        t->ptr, s);
    t->ptr = s;
    t->len = strlen(s);
    if (type == 3 || !v->types[id]) v->types[id] = type;
    return 0;
}

// The added (special) tokens: tokenizer.json's "added_tokens" list
// [{"id": 50256, "content": "<|endoftext|>", "special": true}, ...], else
// added_tokens.json {"content": id}. Returns the array to walk (or NULL).
static int read_added_tokens(hf_vocab *v, const char *dir, const cJSON **list, char *err) {
    char path[4096];
    *list = NULL;
    if (join_path(path, sizeof path, dir, "tokenizer.json", err)) return -1;
    const char *key = "added_tokens";
    if (!file_exists(path)) {
        if (join_path(path, sizeof path, dir, "added_tokens.json", err)) return -1;
        if (!file_exists(path)) return 0;
        key = NULL;
    }
    snprintf(v->added_path, sizeof v->added_path, "%s", path);
    if (!(v->added_json = parse_json_file(path, err))) return -1;
    *list = key ? cJSON_GetObjectItemCaseSensitive(v->added_json, key) : v->added_json;
    if (*list && !cJSON_IsArray(*list) && !cJSON_IsObject(*list))
        return gpt_fail(err, "%s: '%s' is not a list", path, key ? key : "added tokens");
    return 0;
}

// An added token's id and text (UINT64_MAX if either is missing).
static uint64_t added_id(const cJSON *a, const char **content) {
    uint64_t id = UINT64_MAX;
    if (cJSON_IsObject(a)) {  // tokenizer.json entry
        if (!json_int(cJSON_GetObjectItemCaseSensitive(a, "id"), 0, (1u << 24) - 1, &id)) return UINT64_MAX;
        *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "content"));
    } else {  // added_tokens.json: "content": id
        if (!json_int(a, 0, (1u << 24) - 1, &id)) return UINT64_MAX;
        *content = a->string;
    }
    return *content ? id : UINT64_MAX;
}

static int read_vocab(hf_vocab *v, const char *dir, char *err) {
    char path[4096];
    if (join_path(path, sizeof path, dir, "vocab.json", err)) return -1;
    if (!(v->vocab_json = parse_json_file(path, err))) return -1;
    if (!cJSON_IsObject(v->vocab_json)) return gpt_fail(err, "%s: not a JSON object", path);
    const cJSON *added;
    if (read_added_tokens(v, dir, &added, err)) return -1;
    // ids must be dense: 0 .. n-1 over vocab.json and the added tokens together
    uint64_t n = (uint64_t)cJSON_GetArraySize(v->vocab_json), max_id = 0, n_added = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, added) {
        const char *s;
        uint64_t id = added_id(a, &s);
        if (id == UINT64_MAX) return gpt_fail(err, "%s: an added token has no valid id or content", v->added_path);
        if (id + 1 > max_id) max_id = id + 1;
        n_added++;
    }
    // without gaps there are at most as many ids as entries: check before allocating for max_id
    if (max_id > n + n_added)
        return gpt_fail(err, "%s: added token id %llu leaves ids without a token (%llu tokens in all)", v->added_path,
                        (unsigned long long)max_id - 1, (unsigned long long)(n + n_added));
    if (max_id > n) n = max_id;
    if (n == 0 || n > (1u << 24)) return gpt_fail(err, "%s: %llu tokens", path, (unsigned long long)n);
    v->n = n;
    v->tokens = calloc(n, sizeof *v->tokens);
    v->types = calloc(n, sizeof *v->types);
    if (!v->tokens || !v->types) return gpt_fail(err, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, v->vocab_json) {
        uint64_t id;
        if (!json_int(e, 0, (double)n - 1, &id))
            return gpt_fail(err, "%s: token '%s': id must be an integer in 0..%llu", path, e->string,
                            (unsigned long long)n - 1);
        if (v->tokens[id].ptr)
            return gpt_fail(err, "%s: id %llu is used twice ('%s', '%.*s')", path, (unsigned long long)id,
                            e->string, (int)v->tokens[id].len, v->tokens[id].ptr);
        int32_t type = strcmp(e->string, "<|endoftext|>") == 0 ? 3 : 1;
        if (put_token(v, id, e->string, type, path, err)) return -1;
    }
    cJSON_ArrayForEach(a, added) {
        // an added token is matched as a whole, never built by BPE: control
        const char *s;
        uint64_t id = added_id(a, &s);
        if (put_token(v, id, s, 3, v->added_path, err)) return -1;
    }
    for (uint64_t id = 0; id < n; id++)
        if (!v->tokens[id].ptr)
            return gpt_fail(err, "%s: no token has id %llu (ids must be 0..%llu without gaps)", path,
                            (unsigned long long)id, (unsigned long long)n - 1);
    // normal tokens must be written in the byte-to-unicode alphabet
    uint8_t buf[1024];
    for (uint64_t id = 0; id < n; id++) {
        const gguf_str *t = &v->tokens[id];
        if (v->types[id] != 1) continue;
        if (t->len == 0 || t->len > sizeof buf || unicode_to_bytes(t->ptr, t->len, buf) < 0)
            return gpt_fail(err, "%s: token %llu '%.*s' is not in GPT-2's byte-to-unicode alphabet", path,
                            (unsigned long long)id, (int)(t->len > 64 ? 64 : t->len), t->ptr);
    }
    return 0;
}

// merges.txt: an optional "#version" first line, then one "LEFT RIGHT" per line.
static int read_merges(hf_vocab *v, const char *dir, char *err) {
    char path[4096];
    size_t len;
    if (join_path(path, sizeof path, dir, "merges.txt", err)) return -1;
    if (read_file_all(path, MAX_JSON_BYTES, &v->merges_text, &len, err)) return -1;
    uint64_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += v->merges_text[i] == '\n';
    v->merges = malloc(lines * sizeof *v->merges);
    if (!v->merges) return gpt_fail(err, "%s: out of memory", path);
    char *p = v->merges_text, *end = p + len;
    for (uint64_t line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        if (n && p[n - 1] == '\r') n--;
        if (line == 1 && n >= 8 && memcmp(p, "#version", 8) == 0) n = 0;
        if (n) {
            char *sp = memchr(p, ' ', n);
            if (!sp || sp == p || sp == p + n - 1 || memchr(sp + 1, ' ', (size_t)(p + n - sp - 1)))
                return gpt_fail(err, "%s: line %llu is not 'LEFT RIGHT'", path, (unsigned long long)line);
            v->merges[v->n_merges++] = (gguf_str){n, p};
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

// ---- model.safetensors ----------------------------------------------------------------

typedef enum { ST_F32, ST_F16, ST_BF16, ST_OTHER } st_dtype;

typedef struct {
    char *name;  // without a "transformer." prefix
    st_dtype dtype;
    char dtype_name[16];
    uint32_t n_dims;
    uint64_t shape[MAX_ST_DIMS];
    uint64_t begin, end;  // within the data region
    bool used;
} st_entry;

typedef struct {
    mapped_file map;
    const uint8_t *data;  // the data region
    uint64_t data_len;
    st_entry *e;
    size_t n;
    const char *path;
} safetensors;

static void st_free(safetensors *st) {
    for (size_t i = 0; i < st->n; i++) free(st->e[i].name);
    free(st->e);
    unmap_file(&st->map);
}

// Bytes per element of a safetensors dtype, 0 if unknown.
static uint64_t st_dtype_size(const char *s, st_dtype *t) {
    static const struct { const char *name; uint64_t size; st_dtype t; } k[] = {
        {"F32", 4, ST_F32}, {"F16", 2, ST_F16}, {"BF16", 2, ST_BF16}, {"F64", 8, ST_OTHER},
        {"I64", 8, ST_OTHER}, {"U64", 8, ST_OTHER}, {"I32", 4, ST_OTHER}, {"U32", 4, ST_OTHER},
        {"I16", 2, ST_OTHER}, {"U16", 2, ST_OTHER}, {"I8", 1, ST_OTHER}, {"U8", 1, ST_OTHER},
        {"BOOL", 1, ST_OTHER}, {"F8_E4M3", 1, ST_OTHER}, {"F8_E5M2", 1, ST_OTHER},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(s, k[i].name)) {
            *t = k[i].t;
            return k[i].size;
        }
    *t = ST_OTHER;
    return 0;
}

// One header entry: dtype, shape and data_offsets, checked against the data region.
static int st_parse_entry(safetensors *st, const cJSON *j, st_entry *e, char *err) {
    const char *nm = j->string, *path = st->path;
    if (!cJSON_IsObject(j)) return gpt_fail(err, "%s: tensor '%s': not an object", path, nm);
    const char *dt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "dtype"));
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!dt) return gpt_fail(err, "%s: tensor '%s': missing 'dtype'", path, nm);
    snprintf(e->dtype_name, sizeof e->dtype_name, "%s", dt);
    uint64_t esize = st_dtype_size(dt, &e->dtype);
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > MAX_ST_DIMS)
        return gpt_fail(err, "%s: tensor '%s': 'shape' must be a list of at most %d sizes", path, nm, MAX_ST_DIMS);
    uint64_t numel = 1;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        uint64_t v;
        if (!json_int(d, 0, MAX_SAFE_INT, &v) || mul_u64(numel, v, &numel))
            return gpt_fail(err, "%s: tensor '%s': bad or overflowing 'shape'", path, nm);
        e->shape[e->n_dims++] = v;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_int(cJSON_GetArrayItem(offs, 0), 0, MAX_SAFE_INT, &e->begin) ||
        !json_int(cJSON_GetArrayItem(offs, 1), 0, MAX_SAFE_INT, &e->end))
        return gpt_fail(err, "%s: tensor '%s': 'data_offsets' must be two integers in 0..2^53", path, nm);
    if (e->begin > e->end || e->end > st->data_len)
        return gpt_fail(err, "%s: tensor '%s': data_offsets [%llu, %llu] outside the %llu-byte data region",
                        path, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)st->data_len);
    uint64_t bytes;
    if (esize && (mul_u64(numel, esize, &bytes) || bytes != e->end - e->begin))
        return gpt_fail(err, "%s: tensor '%s': %llu bytes of data but dtype %s and its shape need %llu", path,
                        nm, (unsigned long long)(e->end - e->begin), dt, (unsigned long long)numel * esize);
    return 0;
}

static int cmp_entry_begin(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}
static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

// No two tensors share bytes, and no name appears twice (with or without prefix).
static int st_check_overlaps(safetensors *st, char *err) {
    qsort(st->e, st->n, sizeof *st->e, cmp_entry_begin);
    uint64_t prev_end = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < st->n; i++) {
        if (st->e[i].begin == st->e[i].end) continue;
        if (prev && st->e[i].begin < prev_end)
            return gpt_fail(err, "%s: tensors '%s' and '%s' overlap", st->path, prev, st->e[i].name);
        prev_end = st->e[i].end;
        prev = st->e[i].name;
    }
    qsort(st->e, st->n, sizeof *st->e, cmp_entry_name);
    for (size_t i = 1; i < st->n; i++)
        if (!strcmp(st->e[i - 1].name, st->e[i].name))
            return gpt_fail(err, "%s: tensor '%s' appears twice (with and without 'transformer.')", st->path,
                            st->e[i].name);
    return 0;
}

static int st_open(safetensors *st, const char *path, char *err) {
    memset(st, 0, sizeof *st);
    st->path = path;
    if (map_file(&st->map, path, err)) return -1;
    const uint8_t *p = st->map.data;
    uint64_t size = st->map.size;
    if (size < 8) return gpt_fail(err, "%s: %llu bytes, too short for the header length", path, (unsigned long long)size);
    uint64_t hlen = rd_u64(p);
    if (hlen > size - 8 || hlen > MAX_ST_HEADER || hlen < 2)
        return gpt_fail(err, "%s: header length %llu is invalid for a %llu-byte file (at most %llu)", path,
                        (unsigned long long)hlen, (unsigned long long)size, (unsigned long long)MAX_ST_HEADER);
    st->data = p + 8 + hlen;
    st->data_len = size - 8 - hlen;
    cJSON *root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return gpt_fail(err, "%s: the header is not a JSON object", path);
    }
    int rc = -1;
    size_t cap = (size_t)cJSON_GetArraySize(root);
    st->e = calloc(cap ? cap : 1, sizeof *st->e);
    if (!st->e) {
        gpt_fail(err, "%s: out of memory", path);
        goto done;
    }
    const cJSON *j;
    cJSON_ArrayForEach(j, root) {
        if (!strcmp(j->string, "__metadata__")) continue;
        st_entry *e = &st->e[st->n];
        const char *nm = j->string;
        if (!strncmp(nm, "transformer.", 12)) nm += 12;
        if (!(e->name = strdup(nm))) {
            gpt_fail(err, "%s: out of memory", path);
            goto done;
        }
        st->n++;
        if (st_parse_entry(st, j, e, err)) goto done;
    }
    rc = st_check_overlaps(st, err);
done:
    cJSON_Delete(root);
    return rc;
}

static st_entry *st_find(safetensors *st, const char *name) {
    st_entry key = {.name = (char *)name};
    return bsearch(&key, st->e, st->n, sizeof *st->e, cmp_entry_name);
}

// "h.N.attn.bias" and "h.N.attn.masked_bias": attention-mask buffers, not weights.
static bool is_mask_buffer(const char *name) {
    if (strncmp(name, "h.", 2) != 0) return false;
    const char *p = name + 2;
    if (*p < '0' || *p > '9') return false;
    while (*p >= '0' && *p <= '9') p++;
    return !strcmp(p, ".attn.bias") || !strcmp(p, ".attn.masked_bias");
}

// ---- tensors ---------------------------------------------------------------------------

// One weight: its HF name (without prefix), GGUF name, the torch shape it
// must have, and whether it is a Conv1D matrix stored [in, out].
typedef struct {
    char hf[64], gguf[64];
    uint32_t n_dims;
    uint64_t shape[2];
    bool transpose;
} weight_spec;

static int st_lookup(safetensors *st, const weight_spec *w, st_entry **out, char *err) {
    st_entry *e = st_find(st, w->hf);
    if (!e) return gpt_fail(err, "%s: missing tensor '%s'", st->path, w->hf);
    if (e->dtype == ST_OTHER)
        return gpt_fail(err, "%s: tensor '%s' has dtype %s (F32, F16 or BF16 expected)", st->path, w->hf,
                        e->dtype_name);
    if (e->n_dims != w->n_dims || e->shape[0] != w->shape[0] || (w->n_dims == 2 && e->shape[1] != w->shape[1])) {
        char got[160] = "";
        for (uint32_t d = 0; d < e->n_dims; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? ", " : "",
                     (unsigned long long)e->shape[d]);
        if (w->n_dims == 2)
            return gpt_fail(err, "%s: tensor '%s' has shape (%s), expected (%llu, %llu)", st->path, w->hf, got,
                            (unsigned long long)w->shape[0], (unsigned long long)w->shape[1]);
        return gpt_fail(err, "%s: tensor '%s' has shape (%s), expected (%llu)", st->path, w->hf, got,
                        (unsigned long long)w->shape[0]);
    }
    *out = e;
    return 0;
}

static src_dtype to_src(st_dtype t) { return t == ST_F16 ? SRC_F16 : t == ST_BF16 ? SRC_BF16 : SRC_F32; }

// Convert one weight into g: ne = {shape[1], shape[0]} as stored, or for a
// Conv1D (in, out) weight the transpose, ne = {in, out}.
static int add_weight(gguf_ctx *g, safetensors *st, const weight_spec *w, st_entry *e, char *err) {
    uint64_t ne[2];
    float *dst;
    if (w->n_dims == 1) ne[0] = w->shape[0];
    else if (w->transpose) ne[0] = w->shape[0], ne[1] = w->shape[1];
    else ne[0] = w->shape[1], ne[1] = w->shape[0];
    if (loader_add_f32(g, w->gguf, w->n_dims, ne, &dst, err)) return -1;
    const uint8_t *src = st->data + e->begin;
    if (w->transpose) loader_to_f32_transposed(to_src(e->dtype), src, w->shape[0], w->shape[1], dst);
    else loader_to_f32(to_src(e->dtype), src, w->n_dims == 1 ? w->shape[0] : w->shape[0] * w->shape[1], dst);
    return 0;
}

// Every weight of GPT-2 with its expected torch shape. Returns a malloc'd array.
static weight_spec *weight_specs(const hf_config *c, size_t *n_out) {
    uint64_t C = c->n_embd, F = c->n_ff;
    size_t n = 0, cap = 4 + 12 * (size_t)c->n_layer + 2;
    weight_spec *w = calloc(cap, sizeof *w);
    if (!w) return NULL;
#define SPEC(HF, GG, ND, S0, S1, T)                           \
    do {                                                      \
        weight_spec *s = &w[n++];                             \
        snprintf(s->hf, sizeof s->hf, "%s", HF);              \
        snprintf(s->gguf, sizeof s->gguf, "%s", GG);          \
        s->n_dims = ND, s->shape[0] = S0, s->shape[1] = S1;   \
        s->transpose = T;                                     \
    } while (0)
    SPEC("wte.weight", "token_embd.weight", 2, c->n_vocab, C, false);  // (V, C) -> {C, V}
    SPEC("wpe.weight", "position_embd.weight", 2, c->n_ctx, C, false);  // (P, C) -> {C, P}
    for (uint32_t l = 0; l < c->n_layer; l++) {
        char hf[64], gg[64];
#define LAYER(HFS, GGS, ND, S0, S1, T)                          \
    do {                                                        \
        snprintf(hf, sizeof hf, "h.%u.%s", l, HFS);             \
        snprintf(gg, sizeof gg, "blk.%u.%s", l, GGS);           \
        SPEC(hf, gg, ND, S0, S1, T);                            \
    } while (0)
        LAYER("ln_1.weight", "attn_norm.weight", 1, C, 0, false);
        LAYER("ln_1.bias", "attn_norm.bias", 1, C, 0, false);
        LAYER("attn.c_attn.weight", "attn_qkv.weight", 2, C, 3 * C, true);  // (C, 3C) -> {C, 3C}
        LAYER("attn.c_attn.bias", "attn_qkv.bias", 1, 3 * C, 0, false);
        LAYER("attn.c_proj.weight", "attn_output.weight", 2, C, C, true);  // (C, C) -> {C, C}
        LAYER("attn.c_proj.bias", "attn_output.bias", 1, C, 0, false);
        LAYER("ln_2.weight", "ffn_norm.weight", 1, C, 0, false);
        LAYER("ln_2.bias", "ffn_norm.bias", 1, C, 0, false);
        LAYER("mlp.c_fc.weight", "ffn_up.weight", 2, C, F, true);  // (C, F) -> {C, F}
        LAYER("mlp.c_fc.bias", "ffn_up.bias", 1, F, 0, false);
        LAYER("mlp.c_proj.weight", "ffn_down.weight", 2, F, C, true);  // (F, C) -> {F, C}
        LAYER("mlp.c_proj.bias", "ffn_down.bias", 1, C, 0, false);
#undef LAYER
    }
    SPEC("ln_f.weight", "output_norm.weight", 1, C, 0, false);
    SPEC("ln_f.bias", "output_norm.bias", 1, C, 0, false);
#undef SPEC
    *n_out = n;
    return w;
}

// lm_head.weight (V, C): an untied head becomes output.weight; one equal
// to wte (a tied head saved twice) is left out, as for a tied model.
static int add_head(gguf_ctx *g, safetensors *st, const hf_config *c, char *err) {
    st_entry *head = st_find(st, "lm_head.weight");
    if (!head) return 0;
    weight_spec w = {"lm_head.weight", "output.weight", 2, {c->n_vocab, c->n_embd}, false};
    st_entry *e;
    if (st_lookup(st, &w, &e, err)) return -1;
    e->used = true;
    st_entry *wte = st_find(st, "wte.weight");
    if (wte->dtype == e->dtype && memcmp(st->data + wte->begin, st->data + e->begin, e->end - e->begin) == 0)
        return 0;
    return add_weight(g, st, &w, e, err);
}

static int add_tensors(gguf_ctx *g, safetensors *st, const hf_config *c, char *err) {
    size_t n;
    weight_spec *w = weight_specs(c, &n);
    if (!w) return gpt_fail(err, "%s: out of memory", st->path);
    st_entry **found = calloc(n, sizeof *found);
    int rc = -1;
    if (!found) {
        gpt_fail(err, "%s: out of memory", st->path);
        goto done;
    }
    // check names and shapes of everything before converting anything
    for (size_t i = 0; i < n; i++) {
        if (st_lookup(st, &w[i], &found[i], err)) goto done;
        found[i]->used = true;
    }
    if (st_find(st, "lm_head.weight")) st_find(st, "lm_head.weight")->used = true;
    for (size_t i = 0; i < st->n; i++)
        if (!st->e[i].used && !is_mask_buffer(st->e[i].name)) {
            gpt_fail(err, "%s: unexpected tensor '%s'", st->path, st->e[i].name);
            goto done;
        }
    for (size_t i = 0; i < n; i++)
        if (add_weight(g, st, &w[i], found[i], err)) goto done;
    rc = add_head(g, st, c, err);
done:
    free(found);
    free(w);
    return rc;
}

// ---- the directory ---------------------------------------------------------------------

static int check_dir(const char *dir, char *err) {
    struct stat st;
    char path[4096];
    if (stat(dir, &st) != 0) return gpt_fail(err, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return gpt_fail(err, "%s: not a directory", dir);
    if (join_path(path, sizeof path, dir, "model.safetensors", err)) return -1;
    if (!file_exists(path)) {
        if (join_path(path, sizeof path, dir, "model.safetensors.index.json", err)) return -1;
        if (file_exists(path))
            return gpt_fail(err, "%s: sharded checkpoints (model.safetensors.index.json) are not supported; "
                                 "save the model as one model.safetensors", dir);
        if (join_path(path, sizeof path, dir, "pytorch_model.bin", err)) return -1;
        if (file_exists(path))
            return gpt_fail(err, "%s: has pytorch_model.bin but no model.safetensors (only safetensors is read)",
                            dir);
        return gpt_fail(err, "%s/model.safetensors: not found", dir);
    }
    return 0;
}

// The vocabulary, config and weights must agree on the number of tokens.
static int check_vocab_size(const hf_config *c, const hf_vocab *v, const char *dir, char *err) {
    if (c->n_vocab != v->n)
        return gpt_fail(err, "%s: config.json vocab_size is %u but the tokenizer (vocab.json and added tokens) "
                             "has %llu tokens", dir, c->n_vocab, (unsigned long long)v->n);
    return 0;
}

// The tokenizer gpt will build from these keys must build now, so that a
// bad vocabulary is reported against its files (every byte needs a token,
// every merge's LEFT, RIGHT and LEFT+RIGHT must be tokens).
static int check_tokenizer(const hf_vocab *v, const char *dir, char *err) {
    char src[4200];
    snprintf(src, sizeof src, "%s/{vocab.json,merges.txt}", dir);
    if (v->n_merges == 0) return gpt_fail(err, "%s/merges.txt: no merges", dir);
    gpt_tokenizer *t;
    if (tokenizer_build_gpt2(&t, v->tokens, v->types, v->n, v->merges, v->n_merges, src, err)) return -1;
    tokenizer_free(t);
    return 0;
}

// bos/eos: config.json's ids, else <|endoftext|>.
static void pick_bos_eos(const hf_config *c, const hf_vocab *v, int64_t *bos, int64_t *eos) {
    int64_t eot = -1;
    for (uint64_t i = 0; i < v->n; i++)
        if (v->tokens[i].len == 13 && memcmp(v->tokens[i].ptr, "<|endoftext|>", 13) == 0) eot = (int64_t)i;
    *bos = c->bos >= 0 ? c->bos : eot;
    *eos = c->eos >= 0 ? c->eos : eot;
}

// ---- Llama-family directories (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// Qwen3ForCausalLM) ------------------------------------------------------------------------
//
// config.json's hidden_size C, intermediate_size F, num_hidden_layers L,
// num_attention_heads NH, num_key_value_heads NKV, head_dim hd (C / NH when
// absent), max_position_embeddings, rms_norm_eps, rope_theta,
// tie_word_embeddings; the tokenizer from tokenizer.json (+ tokenizer_config.json).
// Weights are nn.Linear (out, in), ggml's ne = {in, out} as stored. Hugging
// Face rotates each head's halves (rotate_half); llama.cpp's llama keeps Meta's
// adjacent pairs and its converter permutes q_proj/k_proj rows into them, which
// is done here too, so that the GGUF gpt writes is the one llama.cpp expects.
// qwen2 and qwen3 stay in halves (llama.cpp rotates them as NEOX).

typedef struct {
    const char *arch;  // GGUF architecture
    bool permute_qk;   // llama: HF halves -> adjacent pairs
    bool qkv_bias, qk_norm;
    uint32_t C, F, L, NH, NKV, hd, P, V;
    double eps, theta;
    bool tied;
    bool rope_llama3;  // rope_scaling llama3: rope_freqs.weight from these
    double rs_factor, rs_low, rs_high, rs_orig;
} hf_llama;

static int cfg_float(const cJSON *root, const char *key, double def, double lo, double hi, double *out,
                     const char *path, char *err) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = def;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > lo && j->valuedouble < hi))
        return gpt_fail(err, "%s: '%s' must be a number in (%g, %g)", path, key, lo, hi);
    *out = j->valuedouble;
    return 0;
}

// Which family config.json names (model_type), or NULL for GPT-2 and others.
static const char *llama_family(const cJSON *root) {
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
    if (!t) return NULL;
    if (!strcmp(t, "llama") || !strcmp(t, "mistral")) return "llama";
    if (!strcmp(t, "qwen2")) return "qwen2";
    if (!strcmp(t, "qwen3")) return "qwen3";
    return NULL;
}

// rope_scaling {"rope_type": "llama3", "factor", "low_freq_factor",
// "high_freq_factor", "original_max_position_embeddings"} (Llama 3.1, 3.2):
// the other types change the arithmetic in ways gpt does not do.
static int read_rope_scaling(hf_llama *c, const cJSON *rs, const char *path, char *err) {
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rs, "rope_type"));
    if (!type) type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rs, "type"));
    if (!type || strcmp(type, "llama3") != 0 || strcmp(c->arch, "llama") != 0)
        return gpt_fail(err, "%s: rope_scaling of type '%s' is not supported (gpt does llama3's, on llama)", path,
                        type ? type : "?");
    uint32_t orig;
    if (cfg_float(rs, "factor", -1, 0, 1e6, &c->rs_factor, path, err) ||
        cfg_float(rs, "low_freq_factor", -1, 0, 1e6, &c->rs_low, path, err) ||
        cfg_float(rs, "high_freq_factor", -1, 0, 1e6, &c->rs_high, path, err) ||
        cfg_uint(rs, "original_max_position_embeddings", -1, 1, 1u << 24, &orig, path, err))
        return -1;
    if (c->rs_factor < 0 || c->rs_low < 0 || c->rs_high <= c->rs_low)
        return gpt_fail(err, "%s: rope_scaling needs factor, low_freq_factor < high_freq_factor", path);
    c->rs_orig = orig;
    c->rope_llama3 = true;
    return 0;
}

static int read_llama_config(hf_llama *c, const cJSON *root, const char *path, char *err) {
    memset(c, 0, sizeof *c);
    c->arch = llama_family(root);
    c->permute_qk = !strcmp(c->arch, "llama");
    c->qkv_bias = !strcmp(c->arch, "qwen2");
    c->qk_norm = !strcmp(c->arch, "qwen3");
    if (cfg_uint(root, "hidden_size", -1, 1, 65536, &c->C, path, err) ||
        cfg_uint(root, "intermediate_size", -1, 1, 1u << 20, &c->F, path, err) ||
        cfg_uint(root, "num_hidden_layers", -1, 1, 1024, &c->L, path, err) ||
        cfg_uint(root, "num_attention_heads", -1, 1, 65536, &c->NH, path, err) ||
        cfg_uint(root, "num_key_value_heads", c->NH, 1, c->NH, &c->NKV, path, err) ||
        cfg_uint(root, "max_position_embeddings", 2048, 1, 1u << 24, &c->P, path, err) ||
        cfg_uint(root, "vocab_size", -1, 1, 1u << 24, &c->V, path, err))
        return -1;
    if (c->NH % c->NKV) return gpt_fail(err, "%s: num_attention_heads %u is not a multiple of num_key_value_heads %u",
                                        path, c->NH, c->NKV);
    if (cfg_uint(root, "head_dim", c->C % c->NH ? -1 : (int64_t)(c->C / c->NH), 2, 4096, &c->hd, path, err)) return -1;
    if (c->hd % 2) return gpt_fail(err, "%s: head_dim %u is odd; rotary embeddings rotate pairs", path, c->hd);
    if (cfg_float(root, "rms_norm_eps", 1e-6, 0, 1, &c->eps, path, err) ||
        cfg_float(root, "rope_theta", 10000, 1, 1e12, &c->theta, path, err))
        return -1;
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    c->tied = tie ? cJSON_IsTrue(tie) : false;  // the transformers default for these classes
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (rs && !cJSON_IsNull(rs) && read_rope_scaling(c, rs, path, err)) return -1;
    const char *act = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "hidden_act"));
    if (act && strcmp(act, "silu") != 0) return gpt_fail(err, "%s: hidden_act '%s' (gpt runs silu)", path, act);
    const char *flags[] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, flags[i])))
            return gpt_fail(err, "%s: %s true is not supported", path, flags[i]);
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "use_sliding_window");
    if (cJSON_IsTrue(sw)) return gpt_fail(err, "%s: use_sliding_window true is not supported", path);
    return 0;
}

// One HF tensor into g under name, F32; rows permuted from halves to
// adjacent pairs per head of hd when permute (row 2j + t of a head is HF's
// row t hd/2 + j).
// The model's safetensors files: model.safetensors, or the shards that
// model.safetensors.index.json's weight_map names.
typedef struct {
    safetensors *st;
    size_t n;
} st_shards;

static void shards_free(st_shards *s) {
    for (size_t i = 0; i < s->n; i++) st_free(&s->st[i]);
    free(s->st);
    s->st = NULL;
    s->n = 0;
}

static int shards_open(st_shards *s, const char *dir, char paths[][4096], size_t max, char *err) {
    char path[4096];
    memset(s, 0, sizeof *s);
    if (join_path(path, sizeof path, dir, "model.safetensors", err)) return -1;
    size_t n = 0;
    if (file_exists(path)) {
        snprintf(paths[n++], 4096, "%s", path);
    } else {
        if (join_path(path, sizeof path, dir, "model.safetensors.index.json", err)) return -1;
        if (!file_exists(path)) return gpt_fail(err, "%s: no model.safetensors or model.safetensors.index.json", dir);
        cJSON *root = parse_json_file(path, err);
        if (!root) return -1;
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *j;
        if (!cJSON_IsObject(map)) {
            cJSON_Delete(root);
            return gpt_fail(err, "%s: no weight_map object", path);
        }
        cJSON_ArrayForEach(j, map) {
            const char *f = cJSON_GetStringValue(j);
            if (!f || !*f || strchr(f, '/') || !strcmp(f, "..")) {
                gpt_fail(err, "%s: weight_map['%.80s'] is not a file name in the directory", path, j->string);
                cJSON_Delete(root);  // after the message, which quotes its key
                return -1;
            }
            char full[4096];
            if (join_path(full, sizeof full, dir, f, err)) {
                cJSON_Delete(root);
                return -1;
            }
            bool seen = false;
            for (size_t i = 0; i < n && !seen; i++) seen = !strcmp(paths[i], full);
            if (seen) continue;
            if (n == max) {
                cJSON_Delete(root);
                return gpt_fail(err, "%s: more than %zu shards", path, max);
            }
            snprintf(paths[n++], 4096, "%s", full);
        }
        cJSON_Delete(root);
        if (!n) return gpt_fail(err, "%s: weight_map is empty", path);
    }
    s->st = calloc(n, sizeof *s->st);
    if (!s->st) return gpt_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++, s->n++)
        if (st_open(&s->st[i], paths[i], err)) {
            s->n++;
            return -1;
        }
    return 0;
}

static int add_llama_tensor(gguf_ctx *g, st_shards *sh, const char *hf, const char *name, uint32_t n_dims,
                            uint64_t rows, uint64_t cols, uint32_t hd, bool permute, char *err) {
    weight_spec w = {.n_dims = n_dims, .shape = {rows, cols}};
    snprintf(w.hf, sizeof w.hf, "%s", hf);
    snprintf(w.gguf, sizeof w.gguf, "%s", name);
    if (n_dims == 1) w.shape[0] = rows, w.shape[1] = 0;
    safetensors *st = &sh->st[0];
    for (size_t i = 0; i < sh->n; i++)
        if (st_find(&sh->st[i], hf)) st = &sh->st[i];
    st_entry *e;
    if (st_lookup(st, &w, &e, err) || add_weight(g, st, &w, e, err)) return -1;
    e->used = true;
    if (!permute) return 0;
    const gguf_tensor *t = gguf_find_tensor(g, name);
    float *d = (float *)t->data, *tmp = malloc((size_t)hd * cols * sizeof *tmp);
    if (!tmp) return gpt_fail(err, "out of memory");
    for (uint64_t h = 0; h < rows / hd; h++) {
        float *head = d + h * hd * cols;
        memcpy(tmp, head, (size_t)hd * cols * sizeof *tmp);
        for (uint32_t j = 0; j < hd / 2; j++)
            for (uint32_t k = 0; k < 2; k++)
                memcpy(head + (2 * j + k) * cols, tmp + (k * (hd / 2) + j) * cols, cols * sizeof *tmp);
    }
    free(tmp);
    return 0;
}

// Llama 3.1's frequency divisors as llama.cpp's converter writes them
// (rope_freqs.weight, hd / 2): 1 for wavelengths below original/high_freq_factor,
// factor above original/low_freq_factor, and between them 1 / ((1 - s) / factor + s)
// with s = (original / wavelength - low) / (high - low): transformers'
// _compute_llama3_parameters, as a divisor of each inverse frequency.
static int add_rope_freqs(gguf_ctx *g, const hf_llama *c, char *err) {
    uint64_t ne[1] = {c->hd / 2};
    float *d;
    if (loader_add_f32(g, "rope_freqs.weight", 1, ne, &d, err)) return -1;
    double low_wl = c->rs_orig / c->rs_low, high_wl = c->rs_orig / c->rs_high;
    for (uint32_t i = 0; i < c->hd / 2; i++) {
        double freq = pow(c->theta, -2.0 * i / c->hd), wl = 2 * M_PI / freq;
        if (wl < high_wl) {
            d[i] = 1.0f;
        } else if (wl > low_wl) {
            d[i] = (float)c->rs_factor;
        } else {
            double s = (c->rs_orig / wl - c->rs_low) / (c->rs_high - c->rs_low);
            d[i] = (float)(1.0 / ((1 - s) / c->rs_factor + s));
        }
    }
    return 0;
}

static int add_llama_tensors(gguf_ctx *g, st_shards *st, const hf_llama *c, char *err) {
    uint64_t C = c->C, F = c->F, A = (uint64_t)c->NH * c->hd, KV = (uint64_t)c->NKV * c->hd;
    if (add_llama_tensor(g, st, "model.embed_tokens.weight", "token_embd.weight", 2, c->V, C, 0, false, err) ||
        add_llama_tensor(g, st, "model.norm.weight", "output_norm.weight", 1, C, 0, 0, false, err))
        return -1;
    for (uint32_t l = 0; l < c->L; l++) {
        char hf[128], gg[64];
#define T(hfs, ggs, nd, r, cl, perm)                                                         \
    do {                                                                                     \
        snprintf(hf, sizeof hf, "model.layers.%u.%s", l, hfs);                               \
        snprintf(gg, sizeof gg, "blk.%u.%s", l, ggs);                                        \
        if (add_llama_tensor(g, st, hf, gg, nd, r, cl, c->hd, perm, err)) return -1;         \
    } while (0)
        T("input_layernorm.weight", "attn_norm.weight", 1, C, 0, false);
        T("self_attn.q_proj.weight", "attn_q.weight", 2, A, C, c->permute_qk);
        T("self_attn.k_proj.weight", "attn_k.weight", 2, KV, C, c->permute_qk);
        T("self_attn.v_proj.weight", "attn_v.weight", 2, KV, C, false);
        if (c->qkv_bias) {
            T("self_attn.q_proj.bias", "attn_q.bias", 1, A, 0, false);
            T("self_attn.k_proj.bias", "attn_k.bias", 1, KV, 0, false);
            T("self_attn.v_proj.bias", "attn_v.bias", 1, KV, 0, false);
        }
        if (c->qk_norm) {
            T("self_attn.q_norm.weight", "attn_q_norm.weight", 1, c->hd, 0, false);
            T("self_attn.k_norm.weight", "attn_k_norm.weight", 1, c->hd, 0, false);
        }
        T("self_attn.o_proj.weight", "attn_output.weight", 2, C, A, false);
        T("post_attention_layernorm.weight", "ffn_norm.weight", 1, C, 0, false);
        T("mlp.gate_proj.weight", "ffn_gate.weight", 2, F, C, false);
        T("mlp.up_proj.weight", "ffn_up.weight", 2, F, C, false);
        T("mlp.down_proj.weight", "ffn_down.weight", 2, C, F, false);
#undef T
    }
    if (!c->tied && add_llama_tensor(g, st, "lm_head.weight", "output.weight", 2, c->V, C, 0, false, err)) return -1;
    if (c->rope_llama3 && add_rope_freqs(g, c, err)) return -1;
    for (size_t k = 0; k < st->n; k++)
        for (size_t i = 0; i < st->st[k].n; i++) {
            const st_entry *e = &st->st[k].e[i];
            if (!e->used && !(c->tied && !strcmp(e->name, "lm_head.weight")))
                return gpt_fail(err, "%s: unexpected tensor '%s' for a %s model", st->st[k].path, e->name, c->arch);
        }
    return 0;
}

static void set_llama_hparams(gguf_ctx *g, const hf_llama *c, const char *name) {
    loader_llama_hparams hp = {c->arch, name, c->P, c->C, c->F, c->L, c->NH, c->NKV, c->hd, (float)c->theta,
                               (float)c->eps};
    loader_set_llama_hparams(g, &hp);
}

static int load_hf_llama(gguf_ctx **out, const char *dir, const cJSON *cfg_root, const char *cfg_path, char *err) {
    hf_llama c;
    char path[4096], name[256];
    static _Thread_local char shard_paths[64][4096];
    st_shards st = {0};
    if (read_llama_config(&c, cfg_root, cfg_path, err)) return -1;
    gguf_ctx *g = gguf_new();
    if (!g) return gpt_fail(err, "out of memory");
    loader_basename(dir, NULL, name, sizeof name);
    set_llama_hparams(g, &c, name);
    if (join_path(path, sizeof path, dir, "tokenizer.json", err)) goto fail;
    if (!file_exists(path)) {
        gpt_fail(err, "%s: not found (a %s directory needs its tokenizer.json)", path, c.arch);
        goto fail;
    }
    if (tokenizer_gguf_from_hf(g, path, err)) goto fail;
    const gguf_kv *toks = gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!toks || toks->v.arr.n != c.V) {
        gpt_fail(err, "%s: config.json vocab_size is %u but tokenizer.json has %llu tokens", dir, c.V,
                 (unsigned long long)(toks ? toks->v.arr.n : 0));
        goto fail;
    }
    if (shards_open(&st, dir, shard_paths, 64, err) || add_llama_tensors(g, &st, &c, err)) goto fail;
    shards_free(&st);
    *out = g;
    return 0;
fail:
    shards_free(&st);
    gguf_free(g);
    return -1;
}

int load_hf_dir(gguf_ctx **out, const char *dir, char *err) {
    *out = NULL;
    char path[4096], st_path[4096], name[256];
    hf_config cfg;
    hf_vocab vocab = {0};
    safetensors st = {0};
    gguf_ctx *g = NULL;
    // the Llama family first: its directories may be sharded, which GPT-2's path refuses
    if (join_path(path, sizeof path, dir, "config.json", err)) return -1;
    if (file_exists(path)) {
        cJSON *root = parse_json_file(path, err);
        if (!root) return -1;
        if (cJSON_IsObject(root) && llama_family(root)) {
            int rc = load_hf_llama(out, dir, root, path, err);
            cJSON_Delete(root);
            return rc;
        }
        cJSON_Delete(root);
    }
    if (check_dir(dir, err)) return -1;
    if (read_config(&cfg, path, err)) return -1;
    if (read_vocab(&vocab, dir, err) || read_merges(&vocab, dir, err) || check_vocab_size(&cfg, &vocab, dir, err) ||
        check_tokenizer(&vocab, dir, err))
        goto fail;
    if (join_path(st_path, sizeof st_path, dir, "model.safetensors", err) || st_open(&st, st_path, err)) goto fail;
    g = gguf_new();
    loader_basename(dir, NULL, name, sizeof name);
    loader_hparams hp = {name, cfg.n_ctx, cfg.n_embd, cfg.n_ff, cfg.n_layer, cfg.n_head, cfg.ln_eps, cfg.gelu_erf};
    loader_set_hparams(g, &hp);
    int64_t bos, eos;
    pick_bos_eos(&cfg, &vocab, &bos, &eos);
    loader_set_tokenizer(g, vocab.tokens, vocab.types, vocab.n, vocab.merges, vocab.n_merges, bos, eos);
    if (add_tensors(g, &st, &cfg, err)) goto fail;
    st_free(&st);
    hf_vocab_free(&vocab);
    *out = g;
    return 0;
fail:
    if (g) gguf_free(g);
    st_free(&st);
    hf_vocab_free(&vocab);
    return -1;
}
