// model.h: a model in memory (any architecture of arch.h): hyperparameters and views of its weight
// tensors, which stay in the mapped GGUF (or the converter's buffers).
// model_build checks every tensor's presence, type and shape against the
// hyperparameters before anything uses them.
#ifndef GPT_MODEL_H
#define GPT_MODEL_H

#include <pthread.h>

#include "arch.h"
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

// One block. QKV = (NH + 2 NKV) hd: the query, key and value widths; A = NH hd.
typedef struct {
    const float *ln1_w, *ln1_b;     // (C), (C) or NULL
    gpt_matrix attn_qkv;            // (QKV, C): fused (GPT-2), or rows == 0
    const float *attn_qkv_b;        // (QKV) or NULL
    gpt_matrix attn_q, attn_k, attn_v;           // (A, C), (NKV hd, C), (NKV hd, C) when not fused
    const float *attn_q_b, *attn_k_b, *attn_v_b;  // their biases (qwen2) or NULL
    const float *q_norm, *k_norm;   // (hd) RMSNorm weights of every head (qwen3) or NULL
    gpt_matrix attn_out;            // (C, A)
    const float *attn_out_b;        // (C) or NULL
    const float *ln2_w, *ln2_b;     // (C), (C) or NULL
    gpt_matrix ffn_gate;            // (F, C) with SwiGLU, else rows == 0
    const float *ffn_gate_b;        // (F) or NULL
    gpt_matrix ffn_up;              // (F, C)
    const float *ffn_up_b;          // (F) or NULL
    gpt_matrix ffn_down;            // (C, F)
    const float *ffn_down_b;        // (C) or NULL
} gpt_layer;

struct gpt_model {
    gpt_hparams hp;
    const arch_desc *arch;          // the architecture's entry (arch.h)
    gpt_matrix token_embd;          // (V, C)
    gpt_matrix position_embd;       // (n_ctx, C) with learned positions, else rows == 0
    gpt_layer *layers;              // [L]
    const float *lnf_w, *lnf_b;     // (C), (C) or NULL
    gpt_matrix output;              // (V, C): output.weight, or token_embd when tied
    const float *rope_freqs;        // (hd / 2) divisors of the rotary frequencies (Llama 3.1), or NULL
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
// GPT_KV_F16): keys and values of every layer, 2 x n_layer x NKV x hd a position.
uint64_t model_kv_bytes(const gpt_model *m, int n_ctx, gpt_kv_type kv);

#endif
