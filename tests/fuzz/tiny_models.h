// tiny_models.h: small but complete GPT-2 checkpoints in every format gpt
// reads (GGUF, a Hugging Face directory, an llm.c checkpoint and tokenizer),
// written from a formula. They are the starting points of the mutation test
// (tests/test_mutations.c), the fuzzers' seed corpus (make_seeds.c) and the
// model the CLI error test runs (tests/test_cli_errors.sh).
//
// The vocabulary: ids 0..255 are the single bytes (id = byte value), then
// " t" (256), "he" (257), " the" (258) and <|endoftext|> (259, control);
// the merges are "Ġ t", "h e", "Ġt he".
#ifndef GPT_TINY_MODELS_H
#define GPT_TINY_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TINY_N_VOCAB 260
#define TINY_EOT 259

typedef struct {
    int n_ctx, n_embd, n_head, n_layer, n_ff;
    uint32_t mat_type;  // GGUF only: GGML_TYPE_F32 or GGML_TYPE_F16 for the matrices
    bool output;        // GGUF: write output.weight; HF: write an untied lm_head.weight
    bool merges;        // GGUF: write tokenizer.ggml.merges (else ranks are ids)
    bool bias;          // write the bias tensors (GGUF only; HF and llm.c always have them)
} tiny_opts;

// n_ctx 16, n_embd 8, n_head 2, n_layer 2, n_ff 32, F32, tied, merges, biases.
tiny_opts tiny_default(void);

// Each returns 0, or -1 with a message in err (GPT_ERR_LEN bytes).
int tiny_write_gguf(const char *path, const tiny_opts *o, char *err);
// config.json, vocab.json, merges.txt and model.safetensors (F32) in dir,
// which must exist.
int tiny_write_hf(const char *dir, const tiny_opts *o, char *err);
// An llm.c version 3 (fp32) checkpoint with its vocabulary padded to a
// multiple of 8, and a version 2 tokenizer.
int tiny_write_llmc(const char *bin_path, const char *tokenizer_path, const tiny_opts *o, char *err);

// Whole-file helpers for tests and fuzzers.
int tiny_read_file(const char *path, uint8_t **data, size_t *len);  // malloc'd; 0 or -1
int tiny_write_file(const char *path, const void *data, size_t len);  // 0 or -1

#endif
