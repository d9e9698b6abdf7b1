// arch.h: the architectures gpt runs, as data. One entry per
// general.architecture says which norm, position encoding, rotary pair layout
// and MLP activation the forward pass uses, whether Q, K and V come as one
// fused matrix, whether heads carry their own q/k norms, and the key of the
// norm's epsilon; model.c reads the hyperparameters under the architecture's
// prefix ("llama.context_length") and the tensors by llama.cpp's names (the
// same for every entry: blk.N.attn_q.weight, ...). A new dense family is one
// entry here and, at most, one kernel.
#ifndef GPT_ARCH_H
#define GPT_ARCH_H

#include <stdbool.h>

#include "gpt.h"

typedef struct {
    const char *name;  // general.architecture
    gpt_norm norm;
    gpt_pos pos;
    gpt_rope rope_layout;  // how llama.cpp stores its Q/K rows (llama: permuted to adjacent pairs)
    gpt_act act;
    bool fused_qkv;        // attn_qkv (3C, C) instead of attn_q, attn_k, attn_v
    bool qk_norm;          // attn_q_norm, attn_k_norm (hd)
    const char *eps_key;   // under the prefix: the norm's epsilon
} arch_desc;

// The entry named name (len bytes), or NULL.
const arch_desc *arch_find(const char *name, size_t len);
// "gpt2, llama, qwen2, qwen3": for error messages.
const char *arch_known_names(void);

// Tensor roles of one block and their names in GGUF ("blk.%d.<name>.weight").
typedef enum {
    T_ATTN_NORM, T_ATTN_QKV, T_ATTN_Q, T_ATTN_K, T_ATTN_V, T_ATTN_Q_NORM, T_ATTN_K_NORM, T_ATTN_OUT,
    T_FFN_NORM, T_FFN_GATE, T_FFN_UP, T_FFN_DOWN, T_COUNT
} tensor_role;
extern const char *const tensor_names[T_COUNT];

#endif
