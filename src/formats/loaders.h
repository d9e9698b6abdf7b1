// loaders.h: foreign checkpoints turned into the same in-memory GGUF that a
// .gguf file gives (gguf.h), with llama.cpp's gpt2 tensor names and metadata
// keys, so `gpt -m DIR`, `gpt convert` and a GGUF file share one model path.
//
// Every loader produces F32 weight tensors laid out as ggml expects
// (a matrix used as y = W x has ne = {in, out}), the tokenizer.ggml.* keys
// and the gpt2.* hyperparameters; the context owns all of its memory.
#ifndef GPT_LOADERS_H
#define GPT_LOADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

// A Hugging Face GPT-2 directory: config.json, model.safetensors (F32, F16
// or BF16; Conv1D weights stored [in, out]; names with or without the
// "transformer." prefix; attn.bias/attn.masked_bias buffers skipped),
// vocab.json and merges.txt.
int load_hf_dir(gguf_ctx **out, const char *dir, char *err);

// An llm.c checkpoint (gpt2_124M.bin: version 3 fp32 or version 5 bf16) and
// its tokenizer (gpt2_tokenizer.bin). tokenizer_path NULL: the file named
// gpt2_tokenizer.bin in the checkpoint's directory.
int load_llmc(gguf_ctx **out, const char *bin_path, const char *tokenizer_path, char *err);

// A llama2.c checkpoint (run.c's version 0, export.py's versions 1 and 2)
// and its tokenizer.bin (tokenizer_path NULL: tokenizer.bin beside it), as a
// llama GGUF (load_llama2c.c describes the layouts).
int load_llama2c(gguf_ctx **out, const char *bin_path, const char *tokenizer_path, char *err);
// Whether size bytes at p are a llama2.c checkpoint: a header whose sizes
// account for exactly the rest of the file (version 0 has no magic).
bool llama2c_probe(const uint8_t *p, size_t size);

// What kind of model a path holds, judged by its first bytes or by being a
// directory.
typedef enum { MODEL_FMT_UNKNOWN, MODEL_FMT_GGUF, MODEL_FMT_HF_DIR, MODEL_FMT_LLMC, MODEL_FMT_LLAMA2C } model_format;
model_format detect_model_format(const char *path);

// Open any supported path as a gguf context (a GGUF is mapped, the others are
// converted in memory). tokenizer_path: a llama2.c or llm.c checkpoint's
// tokenizer file, or NULL for the one beside it; an error for other formats.
int load_any(gguf_ctx **out, const char *path, const char *tokenizer_path, char *err);

#endif
