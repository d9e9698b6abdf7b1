// pretok.h: the pre-tokenizers of byte-level BPE vocabularies, which cut
// text into pieces before BPE merges within each piece. Each is written by
// hand from the regular expression its tokenizer.json gives (quoted in
// pretok.c), choosing at every position the alternative a backtracking
// regex engine would choose.
#ifndef GPT_PRETOK_H
#define GPT_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

#if defined(__GNUC__)
#define PRETOK_INLINE inline __attribute__((always_inline))
#else
#define PRETOK_INLINE inline
#endif

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

// ---- the splitters, inline: they are the tokenizer's hot loop ---------------------
// (patterns quoted in pretok.c)

// ---- gpt-2 and smollm ----------------------------------------------------------

// The length of the contraction ('s 't 're 've 'm 'll 'd) at p[i], or 0.
static inline size_t contraction_len(const uint8_t *p, size_t i, size_t n) {
    if (i + 1 >= n) return 0;
    uint8_t a = p[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= n) return 0;
    uint8_t b = p[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// The end of the run of white space that starts at i, and in *last where its
// last character starts.
static inline size_t space_run(const uint8_t *p, size_t i, size_t n, size_t *last) {
    size_t j = i;
    *last = i;
    while (j < n) {
        int l;
        if (char_class(p, j, n, &l) != UCLASS_SPACE) break;
        *last = j;
        j += (size_t)l;
    }
    return j;
}

// gpt-2's pattern at i; with digits_alone (smollm) the text is first cut
// before and after every number, so a piece never holds one with anything
// else and white space before a number ends its segment.
static PRETOK_INLINE size_t next_gpt2(const uint8_t *p, size_t i, size_t n, bool digits_alone) {
    if (p[i] == '\'') {
        size_t c = contraction_len(p, i, n);
        if (c) return i + c;
    }
    int l0;
    int cls = char_class(p, i, n, &l0);
    if (cls == UCLASS_NUMBER && digits_alone) return i + (size_t)l0;
    if (cls != UCLASS_SPACE) return run_end(p, i + (size_t)l0, n, cls);  // \p{L}+ \p{N}+ [^\s\p{L}\p{N}]+
    if (p[i] == ' ' && i + 1 < n) {  // ' ?' before a letter, number or other
        int l1;
        int c1 = char_class(p, i + 1, n, &l1);
        if (c1 == UCLASS_NUMBER && digits_alone) return i + 1;  // the segment ends at the digit
        if (c1 != UCLASS_SPACE) return run_end(p, i + 1 + (size_t)l1, n, c1);
    }
    // \s+(?!\S) | \s+ : a run of white space that is followed by a non-space
    // leaves its last character to the next piece, unless that would leave
    // nothing (a one-character run), or the run ends the text (or the
    // segment, before a number in smollm).
    size_t last, j = space_run(p, i, n, &last);
    if (j == n || last == i) return j;
    if (digits_alone) {
        int l;
        if (char_class(p, j, n, &l) == UCLASS_NUMBER) return j;
    }
    return last;
}

// ---- llama-bpe and qwen2 --------------------------------------------------------

// The length of a contraction at p[i] matched case-insensitively, or 0.
// Case-insensitive 's also matches 'ſ (U+017F LATIN SMALL LETTER LONG S,
// whose case folding is s), as Unicode case-insensitive matching does.
static inline size_t contraction_len_ci(const uint8_t *p, size_t i, size_t n) {
    if (i + 1 >= n) return 0;
    uint8_t a = p[i + 1] | 0x20;  // ASCII letters to lower case (other bytes fail below)
    if (p[i + 1] == 0xC5 && i + 2 < n && p[i + 2] == 0xBF) return 3;  // 'ſ
    if (!((p[i + 1] >= 'a' && p[i + 1] <= 'z') || (p[i + 1] >= 'A' && p[i + 1] <= 'Z'))) return 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= n) return 0;
    uint8_t b = p[i + 2];
    if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'))) return 0;
    b |= 0x20;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

static inline bool is_crlf(uint8_t c) { return c == '\r' || c == '\n'; }

static PRETOK_INLINE size_t next_llama3(const uint8_t *p, size_t i, size_t n, int max_digits) {
    if (p[i] == '\'') {
        size_t c = contraction_len_ci(p, i, n);
        if (c) return i + c;
    }
    int l0;
    int cls = char_class(p, i, n, &l0);
    size_t j = i + (size_t)l0;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (cls == UCLASS_LETTER) return run_end(p, j, n, UCLASS_LETTER);
    if (cls != UCLASS_NUMBER && !is_crlf(p[i]) && j < n) {
        int l1;
        if (char_class(p, j, n, &l1) == UCLASS_LETTER) return run_end(p, j + (size_t)l1, n, UCLASS_LETTER);
    }
    // \p{N}{1,max_digits}
    if (cls == UCLASS_NUMBER) {
        for (int k = 1; k < max_digits && j < n; k++) {
            int l;
            if (char_class(p, j, n, &l) != UCLASS_NUMBER) break;
            j += (size_t)l;
        }
        return j;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    size_t start = SIZE_MAX;
    if (cls == UCLASS_OTHER) {
        start = i;
    } else if (p[i] == ' ' && j < n) {
        int l1;
        if (char_class(p, j, n, &l1) == UCLASS_OTHER) start = j;
    }
    if (start != SIZE_MAX) {
        size_t e = run_end(p, start, n, UCLASS_OTHER);
        while (e < n && is_crlf(p[e])) e++;
        return e;
    }
    // cls is white space. \s*[\r\n]+ : the run up to and including its last
    // CR or LF (\s* backs off until [\r\n]+ can match, from the longest).
    size_t last = i, last_nl = SIZE_MAX;
    for (j = i; j < n;) {
        int l;
        if (char_class(p, j, n, &l) != UCLASS_SPACE) break;
        if (is_crlf(p[j])) last_nl = j;
        last = j;
        j += (size_t)l;
    }
    if (last_nl != SIZE_MAX) return last_nl + 1;
    // \s+(?!\S) | \s+, as in gpt-2's pattern
    if (j == n || last == i) return j;
    return last;
}

#endif
