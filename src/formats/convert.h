// convert.h: re-typing a GPT-2 GGUF context (F32, F16, Q8_0, Q4_0), for
// `gpt convert`. Matrices take the target type; norms, biases and the
// position embeddings stay F32, as llama.cpp's converter keeps 1-D tensors.
#ifndef GPT_CONVERT_H
#define GPT_CONVERT_H

#include <stdbool.h>

#include "gguf.h"

typedef struct {
    uint32_t type;         // target type of the matrices (GGML_TYPE_*)
    int output_type;       // type of output.weight and token_embd, or -1: the same as type
    bool write_output;     // add output.weight (a copy of token_embd) when the head is tied
    void (*progress)(uint64_t done, uint64_t total, void *arg);  // may be NULL
    void *progress_arg;
    int n_fallback;        // out: matrices whose rows are not a multiple of 32, kept F16
} convert_options;

// Build a new context holding src's metadata and tensors converted as opts
// says; src must stay alive until *out is written.
int gguf_convert(gguf_ctx **out, const gguf_ctx *src, convert_options *opts, char *err);

#endif
