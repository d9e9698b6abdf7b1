// convert.c: re-typing a GPT-2 GGUF context (see convert.h).
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static bool is_matrix(const gguf_tensor *t) {
    return t->n_dims == 2 && !gguf_str_eq(t->name, "position_embd.weight");
}

static uint32_t file_type_of(uint32_t type) {
    switch (type) {
    case GGML_TYPE_F16: return GGUF_FILE_MOSTLY_F16;
    case GGML_TYPE_Q8_0: return GGUF_FILE_MOSTLY_Q8_0;
    case GGML_TYPE_Q4_0: return GGUF_FILE_MOSTLY_Q4_0;
    default: return GGUF_FILE_ALL_F32;
    }
}

// Convert tensor t to type, rows of ne[0] elements, into a new owned buffer.
static int convert_tensor(gguf_ctx *dst, const gguf_tensor *t, const char *name, uint32_t type, char *err) {
    uint64_t nbytes;
    if (ggml_tensor_nbytes(type, t->n_dims, t->ne, &nbytes))
        return gpt_fail(err, "tensor '%s': cannot be stored as %s", name, ggml_type_name(type));
    uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    int cols = (int)t->ne[0];
    void *data = malloc(nbytes ? nbytes : 1);
    float *row = malloc((size_t)cols * sizeof(float));
    if (!data || !row) {
        free(data);
        free(row);
        return gpt_fail(err, "tensor '%s': out of memory (%llu bytes)", name, (unsigned long long)nbytes);
    }
    size_t src_row = (size_t)(t->nbytes / rows), dst_row = (size_t)(nbytes / rows);
    for (uint64_t r = 0; r < rows; r++) {
        dequantize_row(t->type, (const uint8_t *)t->data + r * src_row, row, cols);
        quantize_row(type, row, (uint8_t *)data + r * dst_row, cols);
    }
    free(row);
    gguf_own(dst, data);
    return gguf_add_tensor(dst, name, type, t->n_dims, t->ne, data, err);
}

int gguf_convert(gguf_ctx **out, const gguf_ctx *src, convert_options *o, char *err) {
    *out = NULL;
    gguf_ctx *dst = gguf_new();
    if (!dst) return gpt_fail(err, "out of memory");
    gguf_copy_kv(dst, src);
    uint32_t out_type = o->output_type >= 0 ? (uint32_t)o->output_type : o->type;
    bool quant = o->type == GGML_TYPE_Q8_0 || o->type == GGML_TYPE_Q4_0 || out_type == GGML_TYPE_Q8_0 ||
                 out_type == GGML_TYPE_Q4_0;
    gguf_set_uint32(dst, "general.file_type", file_type_of(o->type));
    if (quant) gguf_set_uint32(dst, "general.quantization_version", 2);
    uint64_t total = 0, done = 0;
    for (uint64_t i = 0; i < gguf_n_tensors(src); i++) total += gguf_tensor_at(src, i)->nbytes;
    o->n_fallback = 0;
    const gguf_tensor *embd = NULL;
    for (uint64_t i = 0; i < gguf_n_tensors(src); i++) {
        const gguf_tensor *t = gguf_tensor_at(src, i);
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        bool head = gguf_str_eq(t->name, "token_embd.weight") || gguf_str_eq(t->name, "output.weight");
        if (gguf_str_eq(t->name, "token_embd.weight")) embd = t;
        uint32_t type = is_matrix(t) ? (head ? out_type : o->type) : GGML_TYPE_F32;
        if (ggml_type_block_elems(type) > 1 && t->ne[0] % ggml_type_block_elems(type)) {
            type = GGML_TYPE_F16;  // as llama.cpp does: rows that are not whole blocks stay F16
            o->n_fallback++;
        }
        if (convert_tensor(dst, t, name, type, err)) goto fail;
        done += t->nbytes;
        if (o->progress) o->progress(done, total, o->progress_arg);
    }
    if (o->write_output && embd && !gguf_find_tensor(src, "output.weight")) {
        const gguf_tensor *e = gguf_find_tensor(dst, "token_embd.weight");
        // the converted embedding already has the output's type: share its bytes
        if (gguf_add_tensor(dst, "output.weight", e->type, e->n_dims, e->ne, e->data, err)) goto fail;
    }
    *out = dst;
    return 0;
fail:
    gguf_free(dst);
    return -1;
}
