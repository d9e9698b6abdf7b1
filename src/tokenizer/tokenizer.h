// tokenizer.h: one tokenizer interface for every model, of two kinds chosen
// by the file (GGUF tokenizer.ggml.model), never guessed:
//
//   "gpt2"  byte-level BPE (GPT-2, Llama 3, Qwen2/2.5/3, SmolLM2): text ->
//           pieces (the pre-tokenizer tokenizer.ggml.pre names, pretok.h;
//           NFC first for qwen2) -> bytes -> merges by rank -> ids
//   "llama" SentencePiece BPE (Llama 2, TinyLlama, Mistral, llama2.c):
//           spaces become U+2581 (with one in front when add_space_prefix),
//           characters merged by the score of the merged piece (or by the
//           rank of tokenizer.ggml.merges when the file has them: the
//           tokenizer.json semantics), a character not in the vocabulary
//           falls back to its bytes' <0xNN> pieces
//
// Tokens of type CONTROL (and UNKNOWN) are matched in text only when the
// caller allows special tokens; USER_DEFINED ones always, as whole strings,
// before anything else sees the text. Loaders of other files
// (tokenizer.json, llama2.c's tokenizer.bin, GPT-2's encoder.json) turn
// them into these GGUF keys first (tokenizer_load.c), so every source goes
// through tokenizer_from_gguf.
#ifndef GPT_TOKENIZER_H
#define GPT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "pretok.h"

typedef struct gpt_tokenizer gpt_tokenizer;

typedef enum { TOKENIZER_BPE = 0, TOKENIZER_SPM = 1 } tokenizer_kind;

// GGUF tokenizer.ggml.token_type values (llama.cpp's).
enum {
    TOKEN_NORMAL = 1,
    TOKEN_UNKNOWN = 2,
    TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4,
    TOKEN_UNUSED = 5,
    TOKEN_BYTE = 6,
};

// Everything a tokenizer is built from; arrays are read during the build only.
typedef struct {
    tokenizer_kind kind;
    pretok_kind pre;              // BPE only
    const gguf_str *tokens;       // [n_vocab]: BPE in GPT-2's byte-to-unicode alphabet (but
                                  // CONTROL / USER_DEFINED tokens as their own text); SPM as
                                  // SentencePiece pieces (U+2581 for spaces, <0xNN> bytes)
    uint64_t n_vocab;
    const int32_t *types;         // [n_vocab] TOKEN_*, or NULL (BPE: "<|...|>" is CONTROL)
    const float *scores;          // [n_vocab] SPM merge priority (higher first), or NULL
    const gguf_str *merges;       // "LEFT RIGHT" in rank order, or NULL
    uint64_t n_merges;            // BPE with 0: rank = id of the merged token (tiktoken's rule)
    bool ignore_merges;           // BPE: a piece that is a token is that token (Llama 3)
    bool add_space_prefix;        // SPM: a U+2581 before the text
    bool nfc;                     // normalize to NFC first (Qwen's tokenizer.json)
    int32_t bos, eos, eot, eom, pad, unk;  // ids, or -1
    bool add_bos, add_eos;
    const char *src;              // the file, for error messages
    const char *tokens_key;       // the tokens' field in errors (NULL: tokenizer.ggml.tokens)
    const char *merges_key;       // likewise for the merges (NULL: tokenizer.ggml.merges)
    const char *merges_src;       // the merges' file, when not src
} tokenizer_spec;

int tokenizer_build(gpt_tokenizer **out, const tokenizer_spec *spec, char *err);
// From a GGUF (or in-memory) context's tokenizer.ggml.* keys.
int tokenizer_from_gguf(gpt_tokenizer **out, const gguf_ctx *g, char *err);
void tokenizer_free(gpt_tokenizer *t);

// ---- turning other files into tokenizer.ggml.* keys (tokenizer_load.c) -----------
// Each sets the keys in g (a new in-memory context) and checks that they build.
// A Hugging Face tokenizer.json, with tokenizer_config.json beside it if there.
int tokenizer_gguf_from_hf(gguf_ctx *g, const char *tokenizer_json, char *err);
// llama2.c's tokenizer.bin (max_token_length, then score, length, bytes per token).
int tokenizer_gguf_from_llama2c(gguf_ctx *g, const char *path, int n_vocab, char *err);
// Any of the above, or a GGUF file (with or without tensors), chosen by its contents.
int tokenizer_open(gpt_tokenizer **out, const char *path, char *err);
// GPT-2's byte-level BPE from its tokens (in the byte-to-unicode alphabet)
// and merges (none: rank = id); the EOS is "<|endoftext|>" if there.
// Errors name src with the fields "tokens" and "merges".
int tokenizer_build_gpt2(gpt_tokenizer **out, const gguf_str *tokens, const int32_t *types, uint64_t n_vocab,
                         const gguf_str *merges, uint64_t n_merges, const char *src, char *err);
// The GPT-2 files pair (for --vocab/--merges).
int tokenizer_from_files(gpt_tokenizer **out, const char *vocab_json, const char *merges_txt, char *err);

// ---- properties -----------------------------------------------------------------
int tokenizer_n_vocab(const gpt_tokenizer *t);
tokenizer_kind tokenizer_kind_of(const gpt_tokenizer *t);
const char *tokenizer_description(const gpt_tokenizer *t);  // "byte-level BPE (llama-bpe)", ...
int tokenizer_bos_id(const gpt_tokenizer *t);  // or -1
int tokenizer_eos_id(const gpt_tokenizer *t);  // or -1
int tokenizer_eot_id(const gpt_tokenizer *t);  // end of turn, or -1
bool tokenizer_add_bos(const gpt_tokenizer *t);
bool tokenizer_add_eos(const gpt_tokenizer *t);
// Whether generation ends at id: EOS, end of turn or end of message, and the
// control tokens that end a turn in the families' chat formats.
bool tokenizer_is_eog(const gpt_tokenizer *t, int32_t id);
int tokenizer_token_type(const gpt_tokenizer *t, int32_t id);  // TOKEN_*, 0 for an invalid id

// ---- encoding -------------------------------------------------------------------

// Encode len bytes (any bytes: invalid UTF-8 is tokenized byte by byte). With
// allow_special, CONTROL tokens' text becomes their ids; otherwise it is
// ordinary text. No BOS or EOS is added (the caller adds tokenizer_bos_id
// when tokenizer_add_bos says so). Returns a malloc'd array of *n_ids ids
// (the caller frees it), or NULL on allocation failure. Not thread-safe: the
// piece cache is updated.
int32_t *tokenizer_encode(gpt_tokenizer *t, const uint8_t *text, size_t len, bool allow_special,
                          size_t *n_ids);

// ---- decoding -------------------------------------------------------------------

// The exact bytes of a token as text: a byte token's byte, an SPM piece with
// spaces for U+2581, a CONTROL token's own text; NULL for an id out of range.
const uint8_t *tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id, size_t *len);
// The bytes a token contributes to decoded text: as above, but CONTROL and
// UNKNOWN tokens give nothing unless special, and with at_start an SPM
// tokenizer with add_space_prefix drops the piece's leading space (the one
// encoding put there). Never NULL for a valid id.
const uint8_t *tokenizer_piece(const gpt_tokenizer *t, int32_t id, bool special, bool at_start, size_t *len);

// The text of ids as tokenizer_piece gives it, the prefix space dropped from
// the first piece with text (as Hugging Face's Strip decoder does): a malloc'd
// buffer of *len bytes, or NULL for an invalid id or when memory runs out.
uint8_t *tokenizer_decode(const gpt_tokenizer *t, const int32_t *ids, size_t n, bool special, size_t *len);

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
