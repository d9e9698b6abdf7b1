// gguf.c: the GGUF container, read zero-copy from a memory map and written
// from an in-memory context. Every count, length and offset read from a file
// is checked against the bytes that remain before it is used, so a hostile
// file can neither make the reader run off the map nor allocate more than the
// file's size justifies.
#include "gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_ds.h>

struct gguf_ctx {
    uint32_t version;
    uint64_t alignment;
    gguf_kv *kv;          // stb_ds array
    gguf_tensor *tensors;  // stb_ds array
    struct {
        char *key;
        int64_t value;
    } *tensor_index;  // stb_ds string map: name -> index into tensors
    mapped_file map;  // reader: the file
    void **owned;     // stb_ds array of malloc'd buffers freed with the context
    char *path;
};

// ---- types ------------------------------------------------------------------

static const struct {
    uint32_t type;
    const char *name;
    size_t block_elems, block_bytes;
} ggml_types[] = {
    {GGML_TYPE_F32, "F32", 1, 4},    {GGML_TYPE_F16, "F16", 1, 2},
    {GGML_TYPE_Q4_0, "Q4_0", 32, 18}, {GGML_TYPE_Q8_0, "Q8_0", 32, 34},
    {GGML_TYPE_BF16, "BF16", 1, 2},
};

static int type_index(uint32_t type) {
    for (size_t i = 0; i < sizeof(ggml_types) / sizeof(ggml_types[0]); i++)
        if (ggml_types[i].type == type) return (int)i;
    return -1;
}
size_t ggml_type_block_bytes(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? 0 : ggml_types[i].block_bytes;
}
size_t ggml_type_block_elems(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? 0 : ggml_types[i].block_elems;
}
const char *ggml_type_name(uint32_t type) {
    int i = type_index(type);
    return i < 0 ? "unknown" : ggml_types[i].name;
}

int ggml_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t *out) {
    size_t be = ggml_type_block_elems(type), bb = ggml_type_block_bytes(type);
    if (!be || n_dims == 0 || n_dims > GGUF_MAX_DIMS) return -1;
    if (ne[0] % be) return -1;  // rows must hold whole blocks
    uint64_t n = ne[0] / be * bb;
    for (uint32_t d = 1; d < n_dims; d++)
        if (mul_u64(n, ne[d], &n)) return -1;
    *out = n;
    return 0;
}

static size_t value_size(uint32_t t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;  // string, array: variable
    }
}

bool gguf_str_eq(gguf_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

// ---- reading ----------------------------------------------------------------

typedef struct {
    const uint8_t *start, *p, *end;
    const char *path;
    char *err;
} cursor;

static uint64_t bytes_left(const cursor *c) { return (uint64_t)(c->end - c->p); }

static int take(cursor *c, uint64_t n, const uint8_t **out, const char *what) {
    if (n > bytes_left(c))
        return gpt_fail(c->err, "%s: truncated file: %s needs %llu bytes at offset %llu, only %llu left",
                        c->path, what, (unsigned long long)n,
                        (unsigned long long)(c->p - c->start),
                        (unsigned long long)bytes_left(c));
    *out = c->p;
    c->p += n;
    return 0;
}

static int take_u32(cursor *c, uint32_t *v, const char *what) {
    const uint8_t *p = NULL;
    if (take(c, 4, &p, what)) return -1;
    *v = rd_u32(p);
    return 0;
}

static int take_u64(cursor *c, uint64_t *v, const char *what) {
    const uint8_t *p = NULL;
    if (take(c, 8, &p, what)) return -1;
    *v = rd_u64(p);
    return 0;
}

static int take_str(cursor *c, gguf_str *s, const char *what) {
    uint64_t len;
    const uint8_t *p = NULL;
    if (take_u64(c, &len, what) || take(c, len, &p, what)) return -1;
    s->len = len;
    s->ptr = (const char *)p;
    return 0;
}

static void own(gguf_ctx *g, void *buf) { arrput(g->owned, buf); }
void *gguf_own(gguf_ctx *g, void *buf) {
    if (buf) own(g, buf);
    return buf;
}

// Read one value of scalar or string type into kv->v.
static int read_scalar(cursor *c, uint32_t type, gguf_kv *kv, const char *key) {
    const uint8_t *p = NULL;
    char what[160];
    snprintf(what, sizeof what, "value of '%s'", key);
    if (type == GGUF_TYPE_STRING) return take_str(c, &kv->v.s, what);
    size_t n = value_size(type);
    if (!n) return gpt_fail(c->err, "%s: key '%s': unknown value type %u", c->path, key, type);
    if (take(c, n, &p, what)) return -1;
    switch (type) {
    case GGUF_TYPE_UINT8: kv->v.u = p[0]; break;
    case GGUF_TYPE_INT8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_TYPE_BOOL:
        if (p[0] > 1) return gpt_fail(c->err, "%s: key '%s': bool value %u is not 0 or 1", c->path, key, p[0]);
        kv->v.u = p[0];
        break;
    case GGUF_TYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); kv->v.u = v; break; }
    case GGUF_TYPE_INT16: { int16_t v; memcpy(&v, p, 2); kv->v.i = v; break; }
    case GGUF_TYPE_UINT32: kv->v.u = rd_u32(p); break;
    case GGUF_TYPE_INT32: kv->v.i = (int32_t)rd_u32(p); break;
    case GGUF_TYPE_FLOAT32: { float f; memcpy(&f, p, 4); kv->v.f = f; break; }
    case GGUF_TYPE_UINT64: kv->v.u = rd_u64(p); break;
    case GGUF_TYPE_INT64: kv->v.i = (int64_t)rd_u64(p); break;
    case GGUF_TYPE_FLOAT64: { double f; memcpy(&f, p, 8); kv->v.f = f; break; }
    }
    return 0;
}

static int read_array(gguf_ctx *g, cursor *c, gguf_kv *kv, const char *key) {
    uint32_t et;
    uint64_t n;
    if (take_u32(c, &et, "array type") || take_u64(c, &n, "array length")) return -1;
    kv->v.arr.type = et;
    kv->v.arr.n = n;
    if (et == GGUF_TYPE_STRING) {
        // each string needs at least its 8-byte length: bound n before allocating
        if (n > bytes_left(c) / 8)
            return gpt_fail(c->err, "%s: key '%s': array of %llu strings cannot fit in the %llu bytes left",
                            c->path, key, (unsigned long long)n, (unsigned long long)bytes_left(c));
        gguf_str *strs = malloc((n ? n : 1) * sizeof(gguf_str));
        if (!strs) return gpt_fail(c->err, "%s: key '%s': out of memory", c->path, key);
        own(g, strs);
        for (uint64_t i = 0; i < n; i++)
            if (take_str(c, &strs[i], key)) return -1;
        kv->v.arr.data = strs;
        return 0;
    }
    size_t es = value_size(et);
    if (!es) {
        if (et == GGUF_TYPE_ARRAY)
            return gpt_fail(c->err, "%s: key '%s': nested arrays are not supported", c->path, key);
        return gpt_fail(c->err, "%s: key '%s': unknown array element type %u", c->path, key, et);
    }
    uint64_t nbytes;
    const uint8_t *p = NULL;
    if (mul_u64(n, es, &nbytes) || take(c, nbytes, &p, key))
        return gpt_fail(c->err, "%s: key '%s': array of %llu elements runs past the end of the file",
                        c->path, key, (unsigned long long)n);
    if (et == GGUF_TYPE_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (p[i] > 1) return gpt_fail(c->err, "%s: key '%s': bool element is not 0 or 1", c->path, key);
    kv->v.arr.data = p;
    return 0;
}

// A key must be non-empty printable ASCII (the spec asks for lower_snake_case
// segments; be lenient on case but not on control bytes, which would garble
// error messages).
static int check_key(cursor *c, gguf_str key) {
    if (key.len == 0 || key.len > 65535) return gpt_fail(c->err, "%s: metadata key of length %llu", c->path, (unsigned long long)key.len);
    for (uint64_t i = 0; i < key.len; i++)
        if (key.ptr[i] < 0x20 || key.ptr[i] > 0x7E)
            return gpt_fail(c->err, "%s: metadata key contains a non-ASCII or control byte", c->path);
    return 0;
}

static int read_kvs(gguf_ctx *g, cursor *c, uint64_t n_kv) {
    // a kv needs at least 8 (key length) + 4 (type) + 1 bytes
    if (n_kv > bytes_left(c) / 13)
        return gpt_fail(c->err, "%s: header claims %llu metadata entries, more than the file can hold",
                        c->path, (unsigned long long)n_kv);
    // the keys seen so far, hashed: a pairwise duplicate check would take
    // minutes on a few megabytes of tiny keys
    struct {
        char *key;
        int value;
    } *seen = NULL;
    sh_new_strdup(seen);
    char *full = malloc(65536);  // one NUL-terminated key (check_key: at most 65535 bytes, no NUL)
    int rc = full ? 0 : gpt_fail(c->err, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < n_kv && rc == 0; i++) {
        gguf_kv kv;
        memset(&kv, 0, sizeof kv);
        if (take_str(c, &kv.key, "metadata key") || check_key(c, kv.key)) {
            rc = -1;
            break;
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(kv.key.len < 100 ? kv.key.len : 100), kv.key.ptr);
        memcpy(full, kv.key.ptr, kv.key.len);
        full[kv.key.len] = '\0';
        if (shgeti(seen, full) >= 0) {
            rc = gpt_fail(c->err, "%s: duplicate metadata key '%s'", c->path, key);
            break;
        }
        shput(seen, full, 1);
        if (take_u32(c, &kv.type, key)) rc = -1;
        else rc = kv.type == GGUF_TYPE_ARRAY ? read_array(g, c, &kv, key) : read_scalar(c, kv.type, &kv, key);
        if (rc == 0) arrput(g->kv, kv);
    }
    free(full);
    shfree(seen);
    return rc ? -1 : 0;
}

static int read_tensor_infos(gguf_ctx *g, cursor *c, uint64_t n_tensors) {
    // a tensor info needs at least 8 + 1 + 4 + 8 + 4 + 8 bytes
    if (n_tensors > bytes_left(c) / 33)
        return gpt_fail(c->err, "%s: header claims %llu tensors, more than the file can hold", c->path,
                        (unsigned long long)n_tensors);
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor t;
        memset(&t, 0, sizeof t);
        if (take_str(c, &t.name, "tensor name")) return -1;
        if (t.name.len == 0 || t.name.len > 64)
            return gpt_fail(c->err, "%s: tensor %llu: name of length %llu (1 to 64 expected)", c->path,
                            (unsigned long long)i, (unsigned long long)t.name.len);
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)t.name.len, t.name.ptr);
        for (size_t k = 0; name[k]; k++)
            if ((unsigned char)name[k] < 0x20) return gpt_fail(c->err, "%s: tensor %llu: name has a control byte", c->path, (unsigned long long)i);
        if (shgeti(g->tensor_index, name) >= 0)
            return gpt_fail(c->err, "%s: duplicate tensor '%s'", c->path, name);
        if (take_u32(c, &t.n_dims, name)) return -1;
        if (t.n_dims == 0 || t.n_dims > GGUF_MAX_DIMS)
            return gpt_fail(c->err, "%s: tensor '%s': %u dimensions (1 to %d supported)", c->path, name, t.n_dims, GGUF_MAX_DIMS);
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = 1;
        for (uint32_t d = 0; d < t.n_dims; d++) {
            if (take_u64(c, &t.ne[d], name)) return -1;
            if (t.ne[d] == 0 || t.ne[d] > ((uint64_t)1 << 40))
                return gpt_fail(c->err, "%s: tensor '%s': dimension %u is %llu", c->path, name, d, (unsigned long long)t.ne[d]);
        }
        if (take_u32(c, &t.type, name) || take_u64(c, &t.offset, name)) return -1;
        if (type_index(t.type) < 0)
            return gpt_fail(c->err, "%s: tensor '%s': unsupported type %u (gpt reads F32, F16, BF16, Q8_0, Q4_0)", c->path, name, t.type);
        if (ggml_tensor_nbytes(t.type, t.n_dims, t.ne, &t.nbytes))
            return gpt_fail(c->err, "%s: tensor '%s': shape does not fit type %s (row of %llu elements, or size overflow)",
                            c->path, name, ggml_type_name(t.type), (unsigned long long)t.ne[0]);
        if (t.offset % g->alignment)
            return gpt_fail(c->err, "%s: tensor '%s': offset %llu is not a multiple of the alignment %llu", c->path, name,
                            (unsigned long long)t.offset, (unsigned long long)g->alignment);
        shput(g->tensor_index, name, arrlen(g->tensors));
        arrput(g->tensors, t);
    }
    return 0;
}

static int cmp_offset_index(const void *pa, const void *pb) {
    const uint64_t *a = pa, *b = pb;
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

// Place the data section and point every tensor into it, checking that each
// lies inside the file and that no two overlap.
static int place_tensors(gguf_ctx *g, cursor *c) {
    uint64_t pos = (uint64_t)(c->p - g->map.data), data_start;
    if (add_u64(pos, (g->alignment - pos % g->alignment) % g->alignment, &data_start) || data_start > g->map.size) {
        if (arrlen(g->tensors) == 0) return 0;
        return gpt_fail(c->err, "%s: data section starts past the end of the file", c->path);
    }
    uint64_t data_size = g->map.size - data_start;
    for (ptrdiff_t i = 0; i < arrlen(g->tensors); i++) {
        gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (add_u64(t->offset, t->nbytes, &end) || end > data_size)
            return gpt_fail(c->err, "%s: tensor '%.*s': data [%llu, +%llu) runs past the end of the file (data section holds %llu bytes)",
                            c->path, (int)t->name.len, t->name.ptr, (unsigned long long)t->offset,
                            (unsigned long long)t->nbytes, (unsigned long long)data_size);
        t->data = g->map.data + data_start + t->offset;
    }
    // overlap check: sort (offset, index) pairs (qsort: a hostile file can
    // list many tensors in any order)
    ptrdiff_t n = arrlen(g->tensors);
    uint64_t (*order)[2] = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return gpt_fail(c->err, "%s: out of memory", c->path);
    for (ptrdiff_t i = 0; i < n; i++) order[i][0] = g->tensors[i].offset, order[i][1] = (uint64_t)i;
    qsort(order, (size_t)n, sizeof *order, cmp_offset_index);
    for (ptrdiff_t i = 1; i < n; i++) {
        const gguf_tensor *a = &g->tensors[order[i - 1][1]], *b = &g->tensors[order[i][1]];
        if (a->offset + a->nbytes > b->offset) {
            free(order);
            return gpt_fail(c->err, "%s: tensors '%.*s' and '%.*s' overlap", c->path, (int)a->name.len, a->name.ptr,
                            (int)b->name.len, b->name.ptr);
        }
    }
    free(order);
    return 0;
}

static gguf_ctx *ctx_alloc(void) {
    gguf_ctx *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->version = 3;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    sh_new_strdup(g->tensor_index);
    return g;
}

int gguf_open(gguf_ctx **out, const char *path, char *err) {
    *out = NULL;
    gguf_ctx *g = ctx_alloc();
    if (!g) return gpt_fail(err, "%s: out of memory", path);
    g->path = strdup(path);
    if (!g->path || map_file(&g->map, path, err)) {
        gguf_free(g);
        return -1;
    }
    cursor c = {g->map.data, g->map.data, g->map.data + g->map.size, path, err};
    const uint8_t *magic = NULL;
    uint64_t n_tensors, n_kv;
    if (take(&c, 4, &magic, "magic")) goto fail;
    if (memcmp(magic, "GGUF", 4) != 0) {
        gpt_fail(err, "%s: not a GGUF file (magic bytes are not 'GGUF')", path);
        goto fail;
    }
    if (take_u32(&c, &g->version, "version")) goto fail;
    if (g->version != 2 && g->version != 3) {
        gpt_fail(err, "%s: GGUF version %u is not supported (2 and 3 are)", path, g->version);
        goto fail;
    }
    if (take_u64(&c, &n_tensors, "tensor count") || take_u64(&c, &n_kv, "metadata count")) goto fail;
    if (read_kvs(g, &c, n_kv)) goto fail;
    const gguf_kv *al = gguf_find_kv(g, "general.alignment");
    if (al) {
        // at least 8 (the specification asks for a multiple of 8): the
        // kernels read tensor data as aligned F32/F16 elements
        if (al->type != GGUF_TYPE_UINT32 || al->v.u < 8 || (al->v.u & (al->v.u - 1)) || al->v.u > 65536) {
            gpt_fail(err, "%s: general.alignment must be a uint32 power of two from 8 to 65536", path);
            goto fail;
        }
        g->alignment = al->v.u;
    }
    if (read_tensor_infos(g, &c, n_tensors) || place_tensors(g, &c)) goto fail;
    *out = g;
    return 0;
fail:
    gguf_free(g);
    return -1;
}

void gguf_free(gguf_ctx *g) {
    if (!g) return;
    for (ptrdiff_t i = 0; i < arrlen(g->owned); i++) free(g->owned[i]);
    arrfree(g->owned);
    arrfree(g->kv);
    arrfree(g->tensors);
    shfree(g->tensor_index);
    unmap_file(&g->map);
    free(g->path);
    free(g);
}

const char *gguf_path(const gguf_ctx *g) { return g->path ? g->path : ""; }
uint32_t gguf_version(const gguf_ctx *g) { return g->version; }
uint64_t gguf_file_size(const gguf_ctx *g) { return g->map.size; }
uint64_t gguf_n_kv(const gguf_ctx *g) { return (uint64_t)arrlen(g->kv); }
const gguf_kv *gguf_kv_at(const gguf_ctx *g, uint64_t i) { return &g->kv[i]; }
uint64_t gguf_n_tensors(const gguf_ctx *g) { return (uint64_t)arrlen(g->tensors); }
const gguf_tensor *gguf_tensor_at(const gguf_ctx *g, uint64_t i) { return &g->tensors[i]; }

const gguf_kv *gguf_find_kv(const gguf_ctx *g, const char *key) {
    for (ptrdiff_t i = 0; i < arrlen(g->kv); i++)
        if (gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name) {
    // stb_ds's lookup writes the (unchanged) table pointer back: not const
    gguf_ctx *m = (gguf_ctx *)g;
    ptrdiff_t i = shgeti(m->tensor_index, name);
    return i < 0 ? NULL : &g->tensors[g->tensor_index[i].value];
}

static const char *where(const gguf_ctx *g) { return g->path ? g->path : "model"; }

static const gguf_kv *need_kv(const gguf_ctx *g, const char *key, char *err) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) gpt_fail(err, "%s: missing metadata key '%s'", where(g), key);
    return kv;
}

int gguf_get_uint(const gguf_ctx *g, const char *key, uint64_t *out, char *err) {
    const gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32: case GGUF_TYPE_UINT64:
        *out = kv->v.u;
        return 0;
    case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
        if (kv->v.i < 0) return gpt_fail(err, "%s: metadata '%s' is negative (%lld)", where(g), key, (long long)kv->v.i);
        *out = (uint64_t)kv->v.i;
        return 0;
    default:
        return gpt_fail(err, "%s: metadata '%s' is not an integer", where(g), key);
    }
}

int gguf_get_float(const gguf_ctx *g, const char *key, double *out, char *err) {
    const gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64)
        return gpt_fail(err, "%s: metadata '%s' is not a float", where(g), key);
    *out = kv->v.f;
    return 0;
}

int gguf_get_str(const gguf_ctx *g, const char *key, gguf_str *out, char *err) {
    const gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_TYPE_STRING) return gpt_fail(err, "%s: metadata '%s' is not a string", where(g), key);
    *out = kv->v.s;
    return 0;
}

int gguf_get_arr(const gguf_ctx *g, const char *key, int elem_type, const gguf_kv **out, char *err) {
    const gguf_kv *kv = need_kv(g, key, err);
    if (!kv) return -1;
    if (kv->type != GGUF_TYPE_ARRAY) return gpt_fail(err, "%s: metadata '%s' is not an array", where(g), key);
    if (elem_type >= 0 && kv->v.arr.type != (uint32_t)elem_type)
        return gpt_fail(err, "%s: metadata '%s' is an array of type %u, %d expected", where(g), key, kv->v.arr.type, elem_type);
    *out = kv;
    return 0;
}

// ---- building -----------------------------------------------------------------

gguf_ctx *gguf_new(void) { return ctx_alloc(); }

// n + 1 bytes owned by the context; the builder API has no error path for
// a failed small allocation, so it ends the process with a message.
static char *own_alloc(gguf_ctx *g, size_t n) {
    char *p = malloc(n + 1);
    if (!p) {
        fprintf(stderr, "gpt: out of memory\n");
        exit(1);
    }
    p[n] = '\0';
    own(g, p);
    return p;
}

static char *own_copy(gguf_ctx *g, const void *s, size_t n) {
    char *p = own_alloc(g, n);
    if (n) memcpy(p, s, n);
    return p;
}

// The slot for key: the existing entry or a new one.
static gguf_kv *kv_slot(gguf_ctx *g, const char *key) {
    for (ptrdiff_t i = 0; i < arrlen(g->kv); i++)
        if (gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    gguf_kv kv;
    memset(&kv, 0, sizeof kv);
    kv.key.len = strlen(key);
    kv.key.ptr = own_copy(g, key, kv.key.len);
    arrput(g->kv, kv);
    return &g->kv[arrlen(g->kv) - 1];
}

void gguf_set_uint32(gguf_ctx *g, const char *key, uint32_t v) {
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_UINT32;
    kv->v.u = v;
}
void gguf_set_int32(gguf_ctx *g, const char *key, int32_t v) {
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_INT32;
    kv->v.i = v;
}
void gguf_set_float32(gguf_ctx *g, const char *key, float v) {
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_FLOAT32;
    kv->v.f = v;
}
void gguf_set_bool(gguf_ctx *g, const char *key, bool v) {
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_BOOL;
    kv->v.u = v;
}
void gguf_set_str_n(gguf_ctx *g, const char *key, const char *s, size_t len) {
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_STRING;
    kv->v.s.ptr = own_copy(g, s, len);
    kv->v.s.len = len;
}
void gguf_set_str(gguf_ctx *g, const char *key, const char *s) { gguf_set_str_n(g, key, s, strlen(s)); }

void gguf_set_arr_str(gguf_ctx *g, const char *key, const gguf_str *strs, uint64_t n) {
    // one buffer for all the bytes, one for the descriptors
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += strs[i].len;
    char *bytes = own_alloc(g, total);
    gguf_str *d = (gguf_str *)own_alloc(g, (n ? n : 1) * sizeof(gguf_str));
    char *p = bytes;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(p, strs[i].ptr, strs[i].len);
        d[i].ptr = p;
        d[i].len = strs[i].len;
        p += strs[i].len;
    }
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_ARRAY;
    kv->v.arr.type = GGUF_TYPE_STRING;
    kv->v.arr.n = n;
    kv->v.arr.data = d;
}

void gguf_set_arr_data(gguf_ctx *g, const char *key, uint32_t elem_type, const void *data, uint64_t n) {
    size_t es = value_size(elem_type);
    gguf_kv *kv = kv_slot(g, key);
    kv->type = GGUF_TYPE_ARRAY;
    kv->v.arr.type = elem_type;
    kv->v.arr.n = n;
    kv->v.arr.data = own_copy(g, data, (size_t)(n * es));
}

void gguf_copy_kv(gguf_ctx *g, const gguf_ctx *src) {
    for (ptrdiff_t i = 0; i < arrlen(src->kv); i++) {
        const gguf_kv *s = &src->kv[i];
        char *key = own_copy(g, s->key.ptr, s->key.len);
        if (s->type == GGUF_TYPE_STRING) {
            gguf_set_str_n(g, key, s->v.s.ptr, s->v.s.len);
        } else if (s->type == GGUF_TYPE_ARRAY && s->v.arr.type == GGUF_TYPE_STRING) {
            gguf_set_arr_str(g, key, s->v.arr.data, s->v.arr.n);
        } else if (s->type == GGUF_TYPE_ARRAY) {
            gguf_set_arr_data(g, key, s->v.arr.type, s->v.arr.data, s->v.arr.n);
        } else {
            gguf_kv *kv = kv_slot(g, key);
            kv->type = s->type;
            kv->v = s->v;
        }
    }
}

int gguf_add_tensor(gguf_ctx *g, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                    const void *data, char *err) {
    gguf_tensor t;
    memset(&t, 0, sizeof t);
    size_t nl = strlen(name);
    if (nl == 0 || nl > 64) return gpt_fail(err, "tensor name '%s' must be 1 to 64 bytes", name);
    if (shgeti(g->tensor_index, name) >= 0) return gpt_fail(err, "duplicate tensor '%s'", name);
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS) return gpt_fail(err, "tensor '%s': %u dimensions", name, n_dims);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    if (ggml_tensor_nbytes(type, n_dims, t.ne, &t.nbytes))
        return gpt_fail(err, "tensor '%s': shape does not fit type %s", name, ggml_type_name(type));
    t.name.ptr = own_copy(g, name, nl);
    t.name.len = nl;
    t.type = type;
    t.n_dims = n_dims;
    t.data = data;
    shput(g->tensor_index, name, arrlen(g->tensors));
    arrput(g->tensors, t);
    return 0;
}

// ---- writing ------------------------------------------------------------------

#define WRITE_BLOCK ((size_t)4 << 20)

typedef struct {
    FILE *f;
    int bad;
} writer;

static void w_bytes(writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) w->bad = 1;
}
static void w_u32(writer *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(writer *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_str(writer *w, gguf_str s) {
    w_u64(w, s.len);
    w_bytes(w, s.ptr, s.len);
}

static void w_scalar(writer *w, uint32_t type, const gguf_kv *kv) {
    switch (type) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: { uint8_t v = (uint8_t)kv->v.u; w_bytes(w, &v, 1); break; }
    case GGUF_TYPE_INT8: { int8_t v = (int8_t)kv->v.i; w_bytes(w, &v, 1); break; }
    case GGUF_TYPE_UINT16: { uint16_t v = (uint16_t)kv->v.u; w_bytes(w, &v, 2); break; }
    case GGUF_TYPE_INT16: { int16_t v = (int16_t)kv->v.i; w_bytes(w, &v, 2); break; }
    case GGUF_TYPE_UINT32: w_u32(w, (uint32_t)kv->v.u); break;
    case GGUF_TYPE_INT32: { int32_t v = (int32_t)kv->v.i; w_bytes(w, &v, 4); break; }
    case GGUF_TYPE_FLOAT32: { float v = (float)kv->v.f; w_bytes(w, &v, 4); break; }
    case GGUF_TYPE_UINT64: w_u64(w, kv->v.u); break;
    case GGUF_TYPE_INT64: w_bytes(w, &kv->v.i, 8); break;
    case GGUF_TYPE_FLOAT64: w_bytes(w, &kv->v.f, 8); break;
    case GGUF_TYPE_STRING: w_str(w, kv->v.s); break;
    }
}

static void w_pad(writer *w, uint64_t *pos, uint64_t alignment) {
    static const uint8_t zeros[64] = {0};
    uint64_t pad = (alignment - *pos % alignment) % alignment;
    while (pad) {
        uint64_t n = pad < sizeof zeros ? pad : sizeof zeros;
        w_bytes(w, zeros, (size_t)n);
        pad -= n;
        *pos += n;
    }
}

// Create the file gguf_write writes before renaming it to path, PATH.tmp:
// its stream, and its name in *tmp (malloc'd); NULL with err filled.
static FILE *create_temp(const char *path, char **tmp, char *err) {
    size_t n = strlen(path) + sizeof ".tmp";
    *tmp = malloc(n);
    if (!*tmp) {
        gpt_fail(err, "%s: out of memory", path);
        return NULL;
    }
    snprintf(*tmp, n, "%s.tmp", path);
    FILE *f = fopen(*tmp, "wb");
    if (!f) {
        gpt_fail(err, "%s: cannot create: %s", *tmp, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

int gguf_check_writable(const char *path, char *err) {
    char *tmp;
    FILE *f = create_temp(path, &tmp, err);
    if (!f) return -1;
    fclose(f);
    remove(tmp);
    free(tmp);
    return 0;
}

int gguf_write(const gguf_ctx *g, const char *path, void (*progress)(uint64_t, uint64_t, void *), void *arg,
               char *err) {
    uint64_t alignment = g->alignment;
    const gguf_kv *al = gguf_find_kv(g, "general.alignment");
    if (al && al->type == GGUF_TYPE_UINT32 && al->v.u && !(al->v.u & (al->v.u - 1))) alignment = al->v.u;
    // write to a temporary name and rename, so a failed write never leaves a
    // half file under the requested name
    char *tmp;
    writer w = {create_temp(path, &tmp, err), 0};
    if (!w.f) return -1;
    // Write in whole 4 MiB blocks at 4 MiB offsets: the page cache then keeps
    // the new file in 2 MiB folios, which a later map_file gets as huge pages
    // (weights in 4 KiB pages decode up to a quarter slower). stdio's default
    // buffer makes writes at any offset, which the kernel caches in small
    // folios until the file is evicted.
    char *wbuf = malloc(WRITE_BLOCK);
    if (wbuf) setvbuf(w.f, wbuf, _IOFBF, WRITE_BLOCK);
    w_bytes(&w, "GGUF", 4);
    w_u32(&w, 3);
    w_u64(&w, (uint64_t)arrlen(g->tensors));
    w_u64(&w, (uint64_t)arrlen(g->kv));
    for (ptrdiff_t i = 0; i < arrlen(g->kv); i++) {
        const gguf_kv *kv = &g->kv[i];
        w_str(&w, kv->key);
        w_u32(&w, kv->type);
        if (kv->type != GGUF_TYPE_ARRAY) {
            w_scalar(&w, kv->type, kv);
            continue;
        }
        w_u32(&w, kv->v.arr.type);
        w_u64(&w, kv->v.arr.n);
        if (kv->v.arr.type == GGUF_TYPE_STRING) {
            const gguf_str *s = kv->v.arr.data;
            for (uint64_t k = 0; k < kv->v.arr.n; k++) w_str(&w, s[k]);
        } else {
            w_bytes(&w, kv->v.arr.data, (size_t)(kv->v.arr.n * value_size(kv->v.arr.type)));
        }
    }
    // tensor infos with offsets assigned in order, each aligned
    uint64_t offset = 0;
    for (ptrdiff_t i = 0; i < arrlen(g->tensors); i++) {
        const gguf_tensor *t = &g->tensors[i];
        w_str(&w, t->name);
        w_u32(&w, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) w_u64(&w, t->ne[d]);
        w_u32(&w, t->type);
        w_u64(&w, offset);
        offset += t->nbytes;
        offset += (alignment - offset % alignment) % alignment;
    }
    long here = ftell(w.f);
    uint64_t pos = here < 0 ? 0 : (uint64_t)here;
    w_pad(&w, &pos, alignment);
    uint64_t total = 0, done = 0;
    for (ptrdiff_t i = 0; i < arrlen(g->tensors); i++) total += g->tensors[i].nbytes;
    for (ptrdiff_t i = 0; i < arrlen(g->tensors) && !w.bad; i++) {
        const gguf_tensor *t = &g->tensors[i];
        w_bytes(&w, t->data, (size_t)t->nbytes);
        pos += t->nbytes;
        w_pad(&w, &pos, alignment);
        done += t->nbytes;
        if (progress) progress(done, total, arg);
    }
    if (fclose(w.f) != 0) w.bad = 1;
    free(wbuf);
    if (w.bad) {
        remove(tmp);
        gpt_fail(err, "%s: write failed (disk full?)", path);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        gpt_fail(err, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}
