// arch.c: the table of architectures (arch.h).
#include "arch.h"

#include <string.h>

static const arch_desc ARCHS[] = {
    // name    norm            pos              rope layout        act            fused  qk_norm  epsilon
    {"gpt2",  GPT_NORM_LAYER, GPT_POS_LEARNED, GPT_ROPE_ADJACENT, GPT_ACT_GELU,   true,  false, "attention.layer_norm_epsilon"},
    {"llama", GPT_NORM_RMS,   GPT_POS_ROPE,    GPT_ROPE_ADJACENT, GPT_ACT_SWIGLU, false, false, "attention.layer_norm_rms_epsilon"},
    {"qwen2", GPT_NORM_RMS,   GPT_POS_ROPE,    GPT_ROPE_HALVES,   GPT_ACT_SWIGLU, false, false, "attention.layer_norm_rms_epsilon"},
    {"qwen3", GPT_NORM_RMS,   GPT_POS_ROPE,    GPT_ROPE_HALVES,   GPT_ACT_SWIGLU, false, true,  "attention.layer_norm_rms_epsilon"},
};

const char *const tensor_names[T_COUNT] = {
    [T_ATTN_NORM] = "attn_norm",     [T_ATTN_QKV] = "attn_qkv",       [T_ATTN_Q] = "attn_q",
    [T_ATTN_K] = "attn_k",           [T_ATTN_V] = "attn_v",           [T_ATTN_Q_NORM] = "attn_q_norm",
    [T_ATTN_K_NORM] = "attn_k_norm", [T_ATTN_OUT] = "attn_output",    [T_FFN_NORM] = "ffn_norm",
    [T_FFN_GATE] = "ffn_gate",       [T_FFN_UP] = "ffn_up",           [T_FFN_DOWN] = "ffn_down",
};

const arch_desc *arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
        if (strlen(ARCHS[i].name) == len && memcmp(ARCHS[i].name, name, len) == 0) return &ARCHS[i];
    return NULL;
}

const char *arch_known_names(void) { return "gpt2, llama, qwen2, qwen3"; }
