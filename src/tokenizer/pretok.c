// pretok.c: the byte-level BPE pre-tokenizers, written by hand from their
// patterns with the classes of unicode_tables.h (\p{L}, \p{N}, \s; see
// utf8.h for invalid bytes).
//
// gpt-2 (tiktoken's gpt2, GPT-2's encoder.py):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// llama-bpe (Llama 3's tokenizer.json Split), and qwen2 the same with \p{N}
// for \p{N}{1,3}:
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// smollm (SmolLM2's tokenizer.json: Digits(individual_digits) then
// ByteLevel's GPT-2 pattern within what is left): every \p{N} alone, and
// the gpt-2 pattern over the text between them.
#include "pretok.h"

#include <string.h>

static const struct {
    const char *name;
    pretok_kind kind;
} pretok_names[] = {
    {"gpt-2", PRETOK_GPT2},      {"llama-bpe", PRETOK_LLAMA3}, {"llama3", PRETOK_LLAMA3},
    {"llama-v3", PRETOK_LLAMA3}, {"qwen2", PRETOK_QWEN2},      {"smollm", PRETOK_SMOLLM},
};

int pretok_from_name(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof pretok_names / sizeof pretok_names[0]; i++)
        if (strlen(pretok_names[i].name) == len && memcmp(pretok_names[i].name, name, len) == 0)
            return (int)pretok_names[i].kind;
    return -1;
}

const char *pretok_name(pretok_kind k) {
    static const char *names[PRETOK_COUNT] = {"gpt-2", "llama-bpe", "qwen2", "smollm"};
    return k < PRETOK_COUNT ? names[k] : "?";
}

const char *pretok_known_names(void) { return "gpt-2, llama-bpe (also llama3, llama-v3), qwen2, smollm"; }

