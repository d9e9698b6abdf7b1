// tokenizer.h: GPT-2's byte-level BPE (exactly tiktoken's "gpt2" encoding):
// a hand-written pre-tokenizer over Unicode code points, merges applied by
// lowest rank, a cache for repeated pieces, and a streaming UTF-8 decoder.
#ifndef GPT_TOKENIZER_H
#define GPT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct gpt_tokenizer gpt_tokenizer;

// Build from a vocabulary written in GPT-2's byte-to-unicode alphabet
// (byte_unicode.h): tokens[id] for id < n_vocab, as in GGUF's
// tokenizer.ggml.tokens or HF vocab.json. token_types (may be NULL) are
// GGUF's tokenizer.ggml.token_type (1 normal, 3 control); a control token,
// or with NULL types a token "<|...|>", is special: it is never produced by
// BPE and matched in text only with allow_special. merges are "LEFT RIGHT"
// strings in rank order (tokenizer.ggml.merges, merges.txt, vocab.bpe);
// with n_merges 0 a token's rank is its id (tiktoken's rule). src names the
// source for error messages.
int tokenizer_build(gpt_tokenizer **out, const gguf_str *tokens, const int32_t *token_types,
                    uint64_t n_vocab, const gguf_str *merges, uint64_t n_merges,
                    const char *src, char *err);
// From a GGUF (or in-memory) context's tokenizer.ggml.* keys.
int tokenizer_from_gguf(gpt_tokenizer **out, const gguf_ctx *g, char *err);
// From encoder.json / vocab.json (cJSON) and vocab.bpe / merges.txt.
int tokenizer_from_files(gpt_tokenizer **out, const char *vocab_json, const char *merges_txt,
                         char *err);
void tokenizer_free(gpt_tokenizer *t);

int tokenizer_n_vocab(const gpt_tokenizer *t);
int tokenizer_eos_id(const gpt_tokenizer *t);  // "<|endoftext|>" or -1

// Encode len bytes (any bytes: invalid UTF-8 is tokenized byte by byte).
// Returns a malloc'd array of *n_ids ids (the caller frees it), or NULL on
// allocation failure. Not thread-safe: the piece cache is updated.
int32_t *tokenizer_encode(gpt_tokenizer *t, const uint8_t *text, size_t len,
                          bool allow_special, size_t *n_ids);

// The exact bytes of a token; NULL for an id out of range.
const uint8_t *tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id, size_t *len);

// Streaming decoder: holds back an incomplete UTF-8 sequence at the end of
// what it has seen so that text written to a terminal is never split inside
// a character. Invalid bytes pass through as they are, never replaced.
typedef struct {
    uint8_t pending[4];
    int n_pending;
} utf8_stream;
// Append bytes; writes what is complete to out (capacity n + 4) and returns
// its length.
size_t utf8_stream_push(utf8_stream *s, const uint8_t *in, size_t n, uint8_t *out);
// Whatever is still held back (an incomplete sequence at the end of the text).
size_t utf8_stream_flush(utf8_stream *s, uint8_t *out);

#endif
