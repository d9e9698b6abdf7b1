// utf8.h: UTF-8 decoding and the regex character classes the pre-tokenizers
// use (\p{L}, \p{N}, \s and the rest), over bytes that may be invalid.
//
// Invalid UTF-8 (which the reference tokenizers, working on Rust strings,
// never see): each byte that does not start a well-formed sequence is one
// "character" of class OTHER, the class of the U+FFFD a lossy decoder would
// put in its place. Its raw byte is tokenized like any other, so
// decode(encode(x)) == x for all bytes.
#ifndef GPT_UTF8_H
#define GPT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unicode_tables.h"

// The class of an ASCII byte: U+0000..U+00FF is always stage2's first block.
static inline int ascii_class(uint8_t c) { return unicode_class_stage2[0][c]; }

static inline bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// The length (1-4) of the well-formed UTF-8 sequence at p[i] (i < n) and its
// code point, or 0 if p[i] does not start one (an invalid byte).
static inline int utf8_decode(const uint8_t *p, size_t i, size_t n, uint32_t *cp) {
    uint8_t b0 = p[i];
    size_t left = n - i;
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (left < 2 || !is_cont(p[i + 1])) return 0;
        *cp = ((uint32_t)(b0 & 0x1F) << 6) | (p[i + 1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left < 3 || !is_cont(p[i + 1]) || !is_cont(p[i + 2])) return 0;
        if (b0 == 0xE0 && p[i + 1] < 0xA0) return 0;  // overlong
        if (b0 == 0xED && p[i + 1] > 0x9F) return 0;  // surrogate
        *cp = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left < 4 || !is_cont(p[i + 1]) || !is_cont(p[i + 2]) || !is_cont(p[i + 3])) return 0;
        if (b0 == 0xF0 && p[i + 1] < 0x90) return 0;  // overlong
        if (b0 == 0xF4 && p[i + 1] > 0x8F) return 0;  // above U+10FFFF
        *cp = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(p[i + 1] & 0x3F) << 12) |
              ((uint32_t)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
        return 4;
    }
    return 0;
}

// The length of the character at p[i]: its sequence, or 1 for an invalid byte.
static inline int utf8_char_len(const uint8_t *p, size_t i, size_t n) {
    if (p[i] < 0x80) return 1;
    uint32_t cp;
    int l = utf8_decode(p, i, n, &cp);
    return l ? l : 1;
}

// The class of the character at p[i] and its length in bytes; an invalid byte
// is a one-byte OTHER (see the top of the file).
static inline int char_class(const uint8_t *p, size_t i, size_t n, int *len) {
    if (p[i] < 0x80) {
        *len = 1;
        return ascii_class(p[i]);
    }
    uint32_t cp;
    int l = utf8_decode(p, i, n, &cp);
    if (l == 0) {
        *len = 1;
        return UCLASS_OTHER;
    }
    *len = l;
    return unicode_class_of(cp);
}

// End of the run of characters of class cls that starts at i.
static inline __attribute__((always_inline)) size_t run_end(const uint8_t *p, size_t i, size_t n, int cls) {
    while (i < n) {
        if (p[i] < 0x80) {
            if (ascii_class(p[i]) != cls) break;
            i++;
            continue;
        }
        int l;
        if (char_class(p, i, n, &l) != cls) break;
        i += (size_t)l;
    }
    return i;
}

#endif
