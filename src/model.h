// model.h: a GPT-2 model in memory: hyperparameters and views of its weight
// tensors, which stay in the mapped GGUF (or the converter's buffers).
// model_build checks every tensor's presence, type and shape against the
// hyperparameters before anything uses them.
#ifndef GPT_MODEL_H
#define GPT_MODEL_H

#include <pthread.h>

#include "gguf.h"
#include "gpt.h"
#include "tokenizer.h"

// A weight matrix W (rows, cols) used as y = W x: rows outputs of cols inputs
// (ggml ne = {cols, rows}), of a ggml type, row-major.
typedef struct {
    uint32_t type;
    int rows, cols;
    size_t row_bytes;
    const void *data;
} gpt_matrix;

typedef struct {
    const float *ln1_w, *ln1_b;     // (C), (C) or NULL
    gpt_matrix attn_qkv;            // (3C, C)
    const float *attn_qkv_b;        // (3C) or NULL
    gpt_matrix attn_out;            // (C, C)
    const float *attn_out_b;        // (C) or NULL
    const float *ln2_w, *ln2_b;     // (C), (C) or NULL
    gpt_matrix ffn_up;              // (F, C)
    const float *ffn_up_b;          // (F) or NULL
    gpt_matrix ffn_down;            // (C, F)
    const float *ffn_down_b;        // (C) or NULL
} gpt_layer;

struct gpt_model {
    gpt_hparams hp;
    gpt_matrix token_embd;          // (V, C)
    gpt_matrix position_embd;       // (n_ctx, C)
    gpt_layer *layers;              // [L]
    const float *lnf_w, *lnf_b;     // (C), (C) or NULL
    gpt_matrix output;              // (V, C): output.weight, or token_embd when tied
    bool tied;
    uint64_t n_params;              // parameters, counting a tied head once
    uint64_t weight_bytes;          // bytes of all tensors the forward pass reads
    gguf_ctx *gguf;                 // owns the weights
    gpt_tokenizer *tok;
    pthread_mutex_t tok_lock;       // gpt_tokenize: the tokenizer's cache and scratch are one per model
    float *f32_copies;              // 1-D tensors stored as F16 in the file, converted
    char path[1024];
};

// Build a model over g (which it then owns, also on failure).
int model_build(gpt_model **out, gguf_ctx *g, const char *path, char *err);

gpt_tokenizer *gpt_model_tokenizer(gpt_model *m);

// Bytes of a KV cache of n_ctx positions with elements of kv (GPT_KV_F32 or
// GPT_KV_F16): keys and values of every layer, 2 x n_layer x n_embd a position.
uint64_t model_kv_bytes(const gpt_model *m, int n_ctx, gpt_kv_type kv);

#endif
