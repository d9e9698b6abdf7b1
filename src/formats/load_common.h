// load_common.h: pieces shared by the checkpoint loaders (load_hf.c,
// load_llmc.c): the gpt2 metadata every loader writes, the tokenizer keys,
// F32 buffers owned by the context, and element conversion to F32.
// Internal to the loaders; the public interface is loaders.h.
#ifndef GPT_LOAD_COMMON_H
#define GPT_LOAD_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"

// Hyperparameters as the gpt2.* keys hold them.
typedef struct {
    const char *name;  // general.name
    uint32_t n_ctx, n_embd, n_ff, n_layer, n_head;
    float ln_eps;
    bool gelu_erf;  // gpt.gelu "erf" (exact) instead of "tanh"
} loader_hparams;

// general.*, gpt2.* and gpt.gelu (all weights F32: general.file_type 0).
void loader_set_hparams(gguf_ctx *g, const loader_hparams *hp);

// Hyperparameters of a rotary, RMSNorm model (llama, qwen2, qwen3) as
// llama.cpp's ARCH.* keys hold them.
typedef struct {
    const char *arch, *name;  // general.architecture, general.name
    uint32_t n_ctx, n_embd, n_ff, n_layer, n_head, n_head_kv, head_dim;
    float rope_base, rms_eps;
} loader_llama_hparams;

// general.* and ARCH.* (all weights F32: general.file_type 0).
void loader_set_llama_hparams(gguf_ctx *g, const loader_llama_hparams *hp);

// tokenizer.ggml.*: tokens in GPT-2's byte-to-unicode alphabet, types
// (1 normal, 3 control), merges "LEFT RIGHT" in rank order; bos/eos < 0 are
// left out.
void loader_set_tokenizer(gguf_ctx *g, const gguf_str *tokens, const int32_t *types, uint64_t n_vocab,
                          const gguf_str *merges, uint64_t n_merges, int64_t bos, int64_t eos);

// Element types of source checkpoints.
typedef enum { SRC_F32, SRC_F16, SRC_BF16 } src_dtype;

// Convert n little-endian elements at src to F32 (src may be unaligned).
void loader_to_f32(src_dtype t, const uint8_t *src, uint64_t n, float *dst);
// Convert and transpose: src is (rows, cols) row-major, dst (cols, rows).
void loader_to_f32_transposed(src_dtype t, const uint8_t *src, uint64_t rows, uint64_t cols, float *dst);

// Add an F32 tensor named name with n_dims dims ne (ne[0] fastest) whose
// data is a fresh buffer owned by g; *data receives it for filling.
int loader_add_f32(gguf_ctx *g, const char *name, uint32_t n_dims, const uint64_t *ne, float **data,
                   char *err);

// The file named name in the directory of path (a checkpoint's tokenizer
// beside it), written to out (cap bytes); -1 with err when it does not fit.
int loader_beside(const char *path, const char *name, char *out, size_t cap, char *err);

// The last path component of path without trailing slashes, and without
// the suffix strip_ext if it ends so; written to out (cap bytes).
void loader_basename(const char *path, const char *strip_ext, char *out, size_t cap);

#endif
