// gpt.h: the public API of libgpt, a small GPT-2 inference engine for CPUs.
//
//   char err[GPT_ERR_LEN];
//   gpt_model *m;
//   if (gpt_model_open(&m, "models/shakespeare.gguf", err) != 0) { puts(err); return 1; }
//   gpt_context *ctx;
//   if (gpt_context_new(&ctx, m, 0, 0, err) != 0) { ... }
//   int32_t ids[256];
//   int n = gpt_tokenize(m, "ROMEO:", 6, false, ids, 256);
//   const float *logits = gpt_eval(ctx, ids, n, false, err);   // [n_vocab]
//   gpt_sampler *s = gpt_sampler_new(&(gpt_sampler_params){ .temp = 0.8f, .top_k = 40, .seed = 1 });
//   int32_t next = gpt_sample(s, logits, gpt_n_vocab(m), ids, n);
//   ... gpt_sampler_free(s); gpt_context_free(ctx); gpt_model_free(m);
//
// Every function that can fail returns non-zero (or NULL) and writes a
// one-line message naming the file and the field into err (GPT_ERR_LEN bytes).
//
// Threads: one model may serve several contexts, each used by one thread at
// a time (evaluation only reads the model; a context owns its KV cache, its
// scratch and its pool of n_threads threads). gpt_tokenize may be called
// from several threads on one model (the calls take turns: the tokenizer's
// cache and scratch are the model's); gpt_token_bytes only reads. A sampler
// belongs to one thread at a time.
#ifndef GPT_H
#define GPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPT_VERSION "0.1.0"
#define GPT_ERR_LEN 512

typedef struct gpt_model gpt_model;
typedef struct gpt_context gpt_context;
typedef struct gpt_sampler gpt_sampler;

// What a model's forward pass is made of (gpt_hparams): the architecture
// names one combination, and the pass reads only these fields.
typedef enum { GPT_NORM_LAYER, GPT_NORM_RMS } gpt_norm;         // LayerNorm (GPT-2) or RMSNorm (Llama)
typedef enum { GPT_POS_LEARNED, GPT_POS_ROPE } gpt_pos;         // position_embd rows, or rotary
typedef enum { GPT_ROPE_ADJACENT, GPT_ROPE_HALVES } gpt_rope;   // pairs (2i, 2i+1) or (i, i + hd/2)
typedef enum { GPT_ACT_GELU, GPT_ACT_SWIGLU } gpt_act;          // up, GELU, down; or SiLU(gate) * up, down

typedef struct {
    int n_vocab;    // V
    int n_ctx;      // maximum positions (rows of position_embd)
    int n_embd;     // C
    int n_head;     // NH
    int n_layer;    // L
    int n_ff;       // F, hidden width of the MLP (4C in GPT-2)
    float ln_eps;   // the norm's epsilon (LayerNorm or RMSNorm)
    bool gelu_erf;  // true: exact erf GELU (nanoGPT); false: tanh approximation (GPT-2)
    int eos_id;     // the end-of-sequence id, or -1
    char arch[16];  // general.architecture: "gpt2", "llama", "qwen2", "qwen3"
    int n_head_kv;  // NKV: key/value heads, NH % NKV == 0 (grouped-query attention when <)
    int head_dim;   // hd: C / NH, or the file's attention.key_length
    gpt_norm norm;
    gpt_pos pos;
    gpt_rope rope_layout;
    float rope_base;  // rotary base frequency (theta)
    gpt_act act;
    bool qk_norm;     // RMSNorm over each head of q and k before rotation (Qwen3)
} gpt_hparams;

// ---- models ----------------------------------------------------------------

// Open a model: a GGUF file (mapped, zero-copy), a Hugging Face GPT-2
// directory (config.json, model.safetensors, vocab.json, merges.txt) or an
// llm.c checkpoint (gpt2_124M.bin with gpt2_tokenizer.bin beside it).
int gpt_model_open(gpt_model **out, const char *path, char *err);
// The same with the tokenizer of a llama2.c or llm.c checkpoint given
// (tokenizer.bin, gpt2_tokenizer.bin); NULL: the one beside the checkpoint.
int gpt_model_open_ex(gpt_model **out, const char *path, const char *tokenizer_path, char *err);
void gpt_model_free(gpt_model *m);
const gpt_hparams *gpt_model_hparams(const gpt_model *m);
int gpt_n_vocab(const gpt_model *m);

// ---- tokenizer -------------------------------------------------------------

// Tokenize len bytes of text with GPT-2's byte-level BPE. With
// allow_special, the literal "<|endoftext|>" becomes its special id;
// otherwise it is ordinary text. Writes at most max_ids ids and returns the
// total count (which may exceed max_ids: call again with a larger buffer).
// Returns -1 on allocation failure.
int gpt_tokenize(gpt_model *m, const char *text, size_t len, bool allow_special,
                 int32_t *ids, int max_ids);
// The exact bytes of one token (not NUL-terminated); NULL for an invalid id.
const char *gpt_token_bytes(const gpt_model *m, int32_t id, size_t *len);

// ---- evaluation --------------------------------------------------------------

// A context holds the KV cache and scratch for one sequence, allocated once.
// n_ctx 0 means the model's context length; n_threads 0 means one per
// physical core.
int gpt_context_new(gpt_context **out, gpt_model *m, int n_ctx, int n_threads, char *err);
// The KV cache's element type. GPT_KV_AUTO (what gpt_context_new takes): F16
// for models with Q4_0 matrices, whose own rounding is far coarser (the
// cache llama.cpp keeps by default); F32 for the others: F32, F16 and BF16
// models match PyTorch's logits to float rounding, and Q8_0 models keep their
// agreement with them (README, Quantization). F16 halves the bytes attention
// reads per token, which grow with the position.
typedef enum { GPT_KV_AUTO = 0, GPT_KV_F32 = 1, GPT_KV_F16 = 2 } gpt_kv_type;
int gpt_context_new_kv(gpt_context **out, gpt_model *m, int n_ctx, int n_threads, gpt_kv_type kv, char *err);
gpt_kv_type gpt_context_kv_type(const gpt_context *ctx);  // GPT_KV_F32 or GPT_KV_F16
gpt_kv_type gpt_model_kv_type(const gpt_model *m);        // what GPT_KV_AUTO picks for m
void gpt_context_free(gpt_context *ctx);
int gpt_context_n_past(const gpt_context *ctx);
int gpt_context_n_ctx(const gpt_context *ctx);
// Forget the sequence (the KV cache is reused from position 0).
void gpt_context_reset(gpt_context *ctx);
// Keep the first n positions of the sequence and forget the rest: the next
// gpt_eval continues at position n, on the keys and values cached before it
// (one prompt evaluated once, then several continuations of it). Returns 0,
// or -1 when n is not in [0, n_past] (the context is then unchanged).
int gpt_context_truncate(gpt_context *ctx, int n);

// Append n tokens at the current position and run the transformer over them
// as one batch. Returns the logits of the last token [n_vocab], or with
// all_logits those of every token [n, n_vocab] row-major; the pointer is valid
// until the next call. Returns NULL (and fills err) on an invalid id or when
// the tokens do not fit in the context.
const float *gpt_eval(gpt_context *ctx, const int32_t *ids, int n, bool all_logits, char *err);

// ---- sampling ----------------------------------------------------------------

typedef struct {
    float temp;            // 0: greedy (argmax)
    int top_k;             // 0: off
    float top_p;           // 1: off
    float min_p;           // 0: off
    float repeat_penalty;  // 1: off
    int repeat_last_n;     // tokens of history the penalty looks at
    uint64_t seed;
} gpt_sampler_params;

gpt_sampler *gpt_sampler_new(const gpt_sampler_params *p);
void gpt_sampler_free(gpt_sampler *s);
// Pick the next id from logits [n_vocab]; history is the sequence so far.
int32_t gpt_sample(gpt_sampler *s, const float *logits, int n_vocab,
                   const int32_t *history, int n_history);
// The probabilities the last gpt_sample call drew from (after penalties and
// temperature, before truncation), sorted descending: fills up to k ids and
// probabilities and returns how many.
int gpt_sampler_top(const gpt_sampler *s, int k, int32_t *ids, float *probs);

#ifdef __cplusplus
}
#endif
#endif
