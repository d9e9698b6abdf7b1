// byte_unicode.h: GPT-2's reversible byte <-> Unicode alphabet.
//
// GPT-2's vocabulary files (encoder.json, vocab.json, merges, GGUF's
// tokenizer.ggml.tokens) write every token's bytes as printable code points:
// bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF stand for themselves; the other 68
// bytes map, in increasing order, to U+0100, U+0101, ... (space -> U+0120 'Ġ').
#ifndef GPT_BYTE_UNICODE_H
#define GPT_BYTE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

// The code point that stands for byte b.
uint32_t byte_to_unicode(uint8_t b);

// Decode a token string written in the alphabet (UTF-8) to raw bytes.
// out must hold len bytes (the result is never longer). Returns the number
// of bytes, or -1 if s is not valid UTF-8 or holds a code point outside the
// alphabet.
long unicode_to_bytes(const char *s, size_t len, uint8_t *out);

// Encode raw bytes into the alphabet as UTF-8; out must hold 2*n bytes.
// Returns the number of bytes written.
size_t bytes_to_unicode(const uint8_t *b, size_t n, char *out);

#endif
