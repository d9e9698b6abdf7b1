// pretok.h: the pre-tokenizers of byte-level BPE vocabularies, which cut
// text into pieces before BPE merges within each piece. Each is written by
// hand from the regular expression its tokenizer.json gives (quoted in
// pretok.c), choosing at every position the alternative a backtracking
// regex engine would choose.
#ifndef GPT_PRETOK_H
#define GPT_PRETOK_H

#include <stddef.h>
#include <stdint.h>

// GGUF tokenizer.ggml.pre names each one; the names are llama.cpp's.
typedef enum {
    PRETOK_GPT2,    // "gpt-2": GPT-2, tiktoken's gpt2
    PRETOK_LLAMA3,  // "llama-bpe": Llama 3, 3.1, 3.2 (numbers in groups of up to three)
    PRETOK_QWEN2,   // "qwen2": Qwen2, Qwen2.5, Qwen3 (single digits)
    PRETOK_SMOLLM,  // "smollm": SmolLM, SmolLM2 (each digit alone, then GPT-2's pattern)
    PRETOK_COUNT
} pretok_kind;

// The kind named by a tokenizer.ggml.pre value (len bytes), or -1.
int pretok_from_name(const char *name, size_t len);
const char *pretok_name(pretok_kind k);
// "gpt-2, llama-bpe, qwen2, smollm": for error messages.
const char *pretok_known_names(void);

// The end of the piece that starts at i (i < n): always > i.
size_t pretok_next(pretok_kind k, const uint8_t *p, size_t i, size_t n);

#endif
