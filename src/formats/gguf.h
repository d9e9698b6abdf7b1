// gguf.h: the GGUF container (versions 2 and 3), read zero-copy from an mmap
// and written from an in-memory description. It knows nothing of
// transformers: it holds metadata key/values and named tensors.
//
// The same gguf_ctx serves three roles:
//   - gguf_open:   a file on disk; strings, arrays and tensor data point into the map
//   - gguf_new:    built in memory by a converter (load_hf.c, load_llmc.c)
//   - gguf_write:  either of the above written to disk
#ifndef GPT_GGUF_H
#define GPT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

// Metadata value types (GGUF specification).
enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

// Tensor element types: ggml's numbering, the subset gpt reads and writes.
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_BF16 = 30,
};

// ggml's general.file_type values ("mostly X").
enum gguf_file_type {
    GGUF_FILE_ALL_F32 = 0,
    GGUF_FILE_MOSTLY_F16 = 1,
    GGUF_FILE_MOSTLY_Q4_0 = 2,
    GGUF_FILE_MOSTLY_Q8_0 = 7,
};

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

// A string that is not NUL-terminated (GGUF strings are length-prefixed).
typedef struct {
    uint64_t len;
    const char *ptr;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type;  // enum gguf_type
    union {
        uint64_t u;  // UINT8..UINT64 and BOOL, zero-extended
        int64_t i;   // INT8..INT64, sign-extended
        double f;    // FLOAT32, FLOAT64
        gguf_str s;  // STRING
        struct {
            uint32_t type;  // element type; arrays of arrays are rejected
            uint64_t n;     // element count
            // numeric elements: packed little-endian as in the file;
            // strings: an array of n gguf_str
            const void *data;
        } arr;
    } v;
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t type;  // enum ggml_type
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];  // ne[0] varies fastest; unused dims are 1
    uint64_t offset;             // within the data section
    uint64_t nbytes;
    const void *data;
} gguf_tensor;

typedef struct gguf_ctx gguf_ctx;

// ---- reading ----------------------------------------------------------------

// Map and validate a GGUF file: magic, version, every count, length, type,
// shape and offset is checked against the file size before use.
int gguf_open(gguf_ctx **out, const char *path, char *err);
void gguf_free(gguf_ctx *g);

const char *gguf_path(const gguf_ctx *g);  // "" for an in-memory context
uint32_t gguf_version(const gguf_ctx *g);
uint64_t gguf_file_size(const gguf_ctx *g);  // 0 for an in-memory context
uint64_t gguf_n_kv(const gguf_ctx *g);
const gguf_kv *gguf_kv_at(const gguf_ctx *g, uint64_t i);
uint64_t gguf_n_tensors(const gguf_ctx *g);
const gguf_tensor *gguf_tensor_at(const gguf_ctx *g, uint64_t i);

const gguf_kv *gguf_find_kv(const gguf_ctx *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name);

// Typed getters. They fail (with a message naming the file and key) when the
// key is missing, has the wrong type or its value does not fit.
// gguf_get_uint accepts any integer type with a non-negative value.
int gguf_get_uint(const gguf_ctx *g, const char *key, uint64_t *out, char *err);
int gguf_get_float(const gguf_ctx *g, const char *key, double *out, char *err);
int gguf_get_str(const gguf_ctx *g, const char *key, gguf_str *out, char *err);
// An array whose elements are of elem_type (-1: any); returns its kv.
int gguf_get_arr(const gguf_ctx *g, const char *key, int elem_type, const gguf_kv **out, char *err);

bool gguf_str_eq(gguf_str s, const char *cstr);

// Bytes per block and elements per block of a ggml type; 0 if unknown.
size_t ggml_type_block_bytes(uint32_t type);
size_t ggml_type_block_elems(uint32_t type);
const char *ggml_type_name(uint32_t type);
// Bytes of a tensor with these dims, checked for overflow and block fit.
int ggml_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne, uint64_t *out);

// ---- building and writing ---------------------------------------------------

gguf_ctx *gguf_new(void);

// Setters copy keys and strings. Setting an existing key replaces it.
void gguf_set_uint32(gguf_ctx *g, const char *key, uint32_t v);
void gguf_set_int32(gguf_ctx *g, const char *key, int32_t v);
void gguf_set_float32(gguf_ctx *g, const char *key, float v);
void gguf_set_bool(gguf_ctx *g, const char *key, bool v);
void gguf_set_str(gguf_ctx *g, const char *key, const char *s);
void gguf_set_str_n(gguf_ctx *g, const char *key, const char *s, size_t len);
void gguf_set_arr_str(gguf_ctx *g, const char *key, const gguf_str *strs, uint64_t n);
void gguf_set_arr_data(gguf_ctx *g, const char *key, uint32_t elem_type, const void *data, uint64_t n);
// Copy every key/value of src into g (used by convert, which keeps metadata).
void gguf_copy_kv(gguf_ctx *g, const gguf_ctx *src);

// Add a tensor whose data stays where it is (the caller or gguf_own keeps it
// alive until the context is written or freed). ne[0] varies fastest.
int gguf_add_tensor(gguf_ctx *g, const char *name, uint32_t type, uint32_t n_dims,
                    const uint64_t *ne, const void *data, char *err);
// Hand a malloc'd buffer to the context; it is freed by gguf_free.
void *gguf_own(gguf_ctx *g, void *buf);

// Write g to path (GGUF v3, alignment from general.alignment or 32).
// progress, if not NULL, is called after each tensor with (done, total).
int gguf_write(const gguf_ctx *g, const char *path,
               void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg, char *err);
// Whether gguf_write could create its file for path (PATH.tmp, renamed to
// path when complete): creates and removes it. For callers that do long
// work before writing, so that a bad output path fails first.
int gguf_check_writable(const char *path, char *err);

#endif
