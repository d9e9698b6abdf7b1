// unicode_nfc.h: Unicode Normalization Form C over UTF-8 that may be invalid.
//
// The standard algorithm (UAX #15): canonical decomposition (recursive, Hangul
// syllables algorithmically), canonical ordering by combining class (stable),
// canonical composition with its blocking rules (Hangul LV and LVT too). The data
// is unicode_nfc_tables.c, at the Unicode version of Hugging Face tokenizers' NFC
// normalizer (UNICODE_NFC_VERSION; scripts/gen_unicode_nfc.py says why).
//
// Invalid UTF-8 (anything that is not a well-formed sequence: a stray continuation
// byte, an overlong form, a surrogate, a value above U+10FFFF, a truncated sequence)
// passes through unchanged, one byte at a time, each byte acting as a starter of
// combining class 0 that composes with nothing: it blocks reordering and composition
// across it, as the U+FFFD it stands for would.
//
// Typical text is already NFC; both functions cost one pass of the quick check over
// it (ASCII 8 bytes at a time) and allocate nothing then.
#ifndef GPT_UNICODE_NFC_H
#define GPT_UNICODE_NFC_H

#include <stddef.h>
#include <stdint.h>

// NFC can grow UTF-8 at most this many times (U+1D160 MUSICAL SYMBOL EIGHTH NOTE,
// 4 bytes, is excluded from composition and becomes three 4-byte code points).
#define UNICODE_NFC_MAX_GROWTH 3

// The length of the longest prefix of s[0, n) that is certainly NFC and stays as it
// is whatever follows: the quick check (UAX #15 section 9) runs until the first
// character that is NFC_Quick_Check No or Maybe, or whose nonzero combining class is
// lower than the one before it; the prefix ends before the last starter ahead of that
// character, since that starter may still combine with it. n when all of s passes.
size_t unicode_nfc_quick_prefix(const uint8_t *s, size_t n);

// NFC of s[0, n). Returns 0 and *out = NULL, *out_len = n when s is already NFC (the
// common case: nothing to copy); 0 and *out = a malloc'd normalized copy of *out_len
// bytes (at most UNICODE_NFC_MAX_GROWTH * n, sized exactly; the caller frees it)
// otherwise; -1 when memory runs out (*out = NULL). s may be NULL when n is 0.
int unicode_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_len);

#endif
