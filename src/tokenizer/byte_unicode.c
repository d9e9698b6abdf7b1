// byte_unicode.c: GPT-2's byte <-> Unicode alphabet (see byte_unicode.h).
#include "byte_unicode.h"

static int byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

// The 68 non-printable bytes are 0x00-0x20 (33), 0x7F-0xA0 (34) and 0xAD;
// the k-th of them maps to U+0100 + k.
uint32_t byte_to_unicode(uint8_t b) {
    if (byte_is_printable(b)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67;  // 0xAD
}

// code point -> byte, or -1 outside the alphabet
static int unicode_to_byte(uint32_t cp) {
    if (cp < 0x100) return byte_is_printable(cp) ? (int)cp : -1;
    uint32_t k = cp - 0x100;
    if (k < 33) return (int)k;
    if (k < 67) return (int)(0x7F + (k - 33));
    if (k == 67) return 0xAD;
    return -1;
}

long unicode_to_bytes(const char *s, size_t len, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp;
        if (p[i] < 0x80) {
            cp = p[i];
            i += 1;
        } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < len && (p[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1;  // the alphabet only needs one- and two-byte UTF-8
        }
        int b = unicode_to_byte(cp);
        if (b < 0) return -1;
        out[n++] = (uint8_t)b;
    }
    return (long)n;
}

size_t bytes_to_unicode(const uint8_t *b, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_to_unicode(b[i]);
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}
