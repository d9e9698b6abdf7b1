// test_tokenizer.c: the tokenizer against tiktoken (npm tiktoken 1.0.22, gpt2).
//
// Run from the repository root (ctest does). The references are:
//   tests/data/cases.jsonl                 shared conformance cases (tiktoken ids)
//   tests/data/tokenizer_cases.jsonl       scripts/gen_tokenizer_cases.mjs (tiktoken ids)
//   tests/data/tokenizer_special_cases.jsonl  the same with <|endoftext|> allowed
//   tests/data/tiktoken_unicode_classes.txt   tiktoken's \p{L} \p{N} \s, every code point
// Checked: encode == tiktoken's ids and decode(ids) == text for every case, with the
// merges of vocab.bpe and with rank = id (llm.c's vocabulary, no merges) and from an
// in-memory GGUF; the Unicode tables for all 1,114,112 code points; decode(encode(x)) == x
// for seeded random bytes including invalid UTF-8; the streaming decoder on random
// splits; error messages for bad files; and the time of 100 KB runs (printed, not asserted).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_unicode.h"
#include "gguf.h"
#include "tokenizer.h"
#include "unicode_tables.h"
#include "util.h"

#define VOCAB "tokenizer/gpt2/encoder.json"
#define MERGES "tokenizer/gpt2/vocab.bpe"

#include "check.h"

// ---- cases ------------------------------------------------------------------------

typedef struct {
    uint8_t *text;
    size_t len;
    int32_t *ids;
    size_t n_ids;
    int line;
} test_case;

static void put_utf8(uint8_t **o, uint32_t cp) {
    uint8_t *p = *o;
    if (cp < 0x80) {
        *p++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *p++ = (uint8_t)(0xC0 | cp >> 6);
        *p++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *p++ = (uint8_t)(0xE0 | cp >> 12);
        *p++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        *p++ = (uint8_t)(0xF0 | cp >> 18);
        *p++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        *p++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *p++ = (uint8_t)(0x80 | (cp & 0x3F));
    }
    *o = p;
}

// A JSON string starting at the quote *s; its UTF-8 bytes go to out (which
// has room: never longer than the escaped form). Handles \u0000 (which cJSON
// cannot: its strings end at NUL) and surrogate pairs. Returns the end or NULL.
static const char *json_string(const char *s, uint8_t *out, size_t *len) {
    uint8_t *o = out;
    if (*s++ != '"') return NULL;
    while (*s && *s != '"') {
        if (*s != '\\') {
            *o++ = (uint8_t)*s++;
            continue;
        }
        s++;
        char e = *s++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            *o++ = (uint8_t)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u') return NULL;
        unsigned cp;
        if (sscanf(s, "%4x", &cp) != 1) return NULL;
        s += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && s[0] == '\\' && s[1] == 'u') {
            unsigned lo;
            if (sscanf(s + 2, "%4x", &lo) != 1) return NULL;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            s += 6;
        }
        put_utf8(&o, cp);
    }
    if (*s != '"') return NULL;
    *len = (size_t)(o - out);
    return s + 1;
}

// {"text": "...", "ids": [...], ...} per line.
static test_case *load_cases(const char *path, size_t *n_cases) {
    char *data, err[GPT_ERR_LEN];
    size_t size;
    if (read_file_all(path, 64u << 20, &data, &size, err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    test_case *cases = NULL;
    size_t n = 0, cap = 0;
    int lineno = 0;
    for (char *line = data; line && *line; ) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        lineno++;
        if (*line) {
            if (n == cap) cases = realloc(cases, (cap = cap ? 2 * cap : 256) * sizeof *cases);
            test_case *c = &cases[n++];
            c->line = lineno;
            const char *t = strstr(line, "\"text\":");
            const char *ids = strstr(line, "\"ids\":[");
            c->text = malloc(strlen(line) + 1);
            if (!t || !ids || !json_string(t + 7, c->text, &c->len)) {
                fprintf(stderr, "%s:%d: cannot parse\n", path, lineno);
                exit(2);
            }
            c->ids = malloc(strlen(ids) / 2 * sizeof *c->ids + 4);
            c->n_ids = 0;
            for (const char *p = ids + 7; *p && *p != ']';) {
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p) {
                    fprintf(stderr, "%s:%d: bad ids\n", path, lineno);
                    exit(2);
                }
                c->ids[c->n_ids++] = (int32_t)v;
                p = end + (*end == ',');
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(data);
    *n_cases = n;
    return cases;
}

static void free_cases(test_case *c, size_t n) {
    for (size_t i = 0; i < n; i++) free(c[i].text), free(c[i].ids);
    free(c);
}

// decode: the tokens' bytes back to back (malloc'd)
static uint8_t *decode(const gpt_tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t total = 0, nb;
    for (size_t i = 0; i < n; i++) total += tokenizer_token_bytes(t, ids[i], &nb) ? nb : 0;
    uint8_t *out = malloc(total + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = tokenizer_token_bytes(t, ids[i], &nb);
        if (b) memcpy(o, b, nb), o += nb;
    }
    *len = total;
    return out;
}

// Every case: encode == ids (tiktoken) and decode(ids) == text.
static void check_cases(gpt_tokenizer *t, const char *path, bool allow_special, const char *what) {
    size_t n;
    test_case *cases = load_cases(path, &n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        test_case *c = &cases[i];
        size_t n_ids;
        int32_t *ids = tokenizer_encode(t, c->text, c->len, allow_special, &n_ids);
        bool same = ids && n_ids == c->n_ids && memcmp(ids, c->ids, n_ids * sizeof *ids) == 0;
        if (!same && bad++ < 5) {
            size_t k = 0;
            while (ids && k < n_ids && k < c->n_ids && ids[k] == c->ids[k]) k++;
            CHECK(same, "%s %s:%d: encode: %zu ids, tiktoken %zu; first difference at %zu (got %d, want %d)",
                  what, path, c->line, ids ? n_ids : 0, c->n_ids, k, ids && k < n_ids ? ids[k] : -1,
                  k < c->n_ids ? c->ids[k] : -1);
        }
        free(ids);
        size_t len;
        uint8_t *text = decode(t, c->ids, c->n_ids, &len);
        CHECK(len == c->len && memcmp(text, c->text, len) == 0, "%s %s:%d: decode differs", what, path,
              c->line);
        free(text);
    }
    if (bad > 5) CHECK(0, "%s %s: ... %d cases failed in all", what, path, bad);
    printf("%-30s %-42s %zu cases, %zu failed\n", what, path, n, (size_t)bad);
    free_cases(cases, n);
}

// ---- Unicode tables ----------------------------------------------------------------

static void check_unicode_classes(void) {
    const char *path = "tests/data/tiktoken_unicode_classes.txt";
    FILE *f = fopen(path, "r");
    CHECK(f, "cannot open %s", path);
    if (!f) return;
    uint8_t *want = calloc(0x110000, 1);
    char line[128];
    while (fgets(line, sizeof line, f)) {
        char cls;
        unsigned a, b;
        if (line[0] == '#' || sscanf(line, "%c %x %x", &cls, &a, &b) != 3) continue;
        int c = cls == 'L' ? UCLASS_LETTER : cls == 'N' ? UCLASS_NUMBER : UCLASS_SPACE;
        for (unsigned x = a; x <= b && x < 0x110000; x++) want[x] = (uint8_t)c;
    }
    fclose(f);
    int bad = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // not characters: tiktoken never sees them
        if ((int)unicode_class_of(cp) != want[cp] && bad++ < 5)
            CHECK(0, "U+%04X: class %d in unicode_tables, %d in tiktoken", cp, (int)unicode_class_of(cp), want[cp]);
    }
    CHECK(bad == 0, "%d code points differ from tiktoken's classes", bad);
    printf("unicode classes (Unicode %s): all code points checked, %d differ\n", UNICODE_TABLES_VERSION, bad);
    free(want);
}

// ---- random bytes ------------------------------------------------------------------

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {  // xorshift64*
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

// Random bytes biased towards what breaks UTF-8 handling: valid characters
// of every length, truncated and overlong sequences, surrogates, lone
// continuation bytes, F5-FF, NUL, spaces and apostrophes.
static size_t random_bytes(uint8_t *out, size_t max) {
    static const char *pieces[] = {"\xE2\x82", "\xF0\x9F", "\xF0\x9F\xA4", "\xC0\xAF", "\xE0\x80\xAF",
                                   "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xBF", "\xFE", "\xFF",
                                   "\xF5", " ", "  ", "'s", "'", "\n", "\t", "\xC2\x85", "\xE3\x80\x80",
                                   "a", "Z", "9", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\xA4\x96", "<|endoftext|>"};
    size_t n = rnd() % max, k = 0;
    while (k < n) {
        uint32_t r = rnd() % 4;
        if (r == 0) {
            out[k++] = (uint8_t)rnd();
        } else {
            const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
            size_t l = strlen(p);
            if (k + l > n) break;
            memcpy(out + k, p, l), k += l;
        }
    }
    if (rnd() % 8 == 0 && k < n) out[k++] = 0;
    return k;
}

static void check_round_trip(gpt_tokenizer *t) {
    uint8_t buf[600];
    int bad = 0, count = 3000;
    for (int i = 0; i < count; i++) {
        size_t len = random_bytes(buf, sizeof buf), n_ids, back_len;
        for (int special = 0; special < 2; special++) {
            int32_t *ids = tokenizer_encode(t, buf, len, special, &n_ids);
            uint8_t *back = ids ? decode(t, ids, n_ids, &back_len) : NULL;
            bool ok = back && back_len == len && memcmp(back, buf, len) == 0;
            for (size_t k = 0; ok && k < n_ids; k++) ok = ids[k] >= 0 && ids[k] < tokenizer_n_vocab(t);
            if (!ok && bad++ < 5) CHECK(0, "random bytes %d (%zu bytes): decode(encode(x)) != x", i, len);
            free(ids);
            free(back);
        }
    }
    printf("decode(encode(x)) == x on %d seeded random byte strings (invalid UTF-8 included): %d failed\n",
           count, bad);
}

// ---- streaming decoder ------------------------------------------------------------

static bool valid_utf8(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t b = p[i];
        size_t l = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (l == 0 || i + l > n) return false;
        for (size_t k = 1; k < l; k++)
            if ((p[i + k] & 0xC0) != 0x80) return false;
        if ((b == 0xE0 && p[i + 1] < 0xA0) || (b == 0xED && p[i + 1] > 0x9F) || (b == 0xF0 && p[i + 1] < 0x90) ||
            (b == 0xF4 && p[i + 1] > 0x8F))
            return false;
        i += l;
    }
    return true;
}

// Push text through the streaming decoder in random pieces: the output is
// the text, and when the text is valid UTF-8 every piece written is too (no
// character is ever split).
static void check_stream_one(const uint8_t *text, size_t len, int *bad) {
    uint8_t *out = malloc(len + 8), chunk[64 + 4];
    size_t n_out = 0;
    bool valid = valid_utf8(text, len), pieces_valid = true;
    utf8_stream s = {{0}, 0};
    for (size_t i = 0; i < len;) {
        size_t n = 1 + rnd() % 64;
        if (n > len - i) n = len - i;
        size_t w = utf8_stream_push(&s, text + i, n, chunk);
        if (valid && !valid_utf8(chunk, w)) pieces_valid = false;
        memcpy(out + n_out, chunk, w), n_out += w;
        i += n;
    }
    n_out += utf8_stream_flush(&s, out + n_out);
    bool ok = n_out == len && memcmp(out, text, len) == 0 && pieces_valid && s.n_pending == 0;
    if (!ok && (*bad)++ < 5) CHECK(0, "streaming decoder: %zu bytes in, %zu out, pieces valid %d", len, n_out, pieces_valid);
    free(out);
}

static void check_stream(void) {
    int bad = 0, count = 0;
    size_t n;
    test_case *cases = load_cases("tests/data/tokenizer_cases.jsonl", &n);
    for (size_t i = 0; i < n; i++, count++) check_stream_one(cases[i].text, cases[i].len, &bad);
    free_cases(cases, n);
    uint8_t buf[600];
    for (int i = 0; i < 2000; i++, count++) {
        size_t len = random_bytes(buf, sizeof buf);
        check_stream_one(buf, len, &bad);
    }
    // byte by byte: "é" (C3 A9) is held until complete; an invalid byte is not held
    utf8_stream s = {{0}, 0};
    uint8_t o[8];
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xC3", 1, o) == 0, "lead byte must be held");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xA9", 1, o) == 2 && o[0] == 0xC3 && o[1] == 0xA9, "é");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xFF", 1, o) == 1 && o[0] == 0xFF, "FF passes");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xE2\x82", 2, o) == 0, "E2 82 held");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"x", 1, o) == 3 && memcmp(o, "\xE2\x82x", 3) == 0, "E2 82 x");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xF0\x9F\xA4", 3, o) == 0, "F0 9F A4 held");
    CHECK(utf8_stream_flush(&s, o) == 3 && memcmp(o, "\xF0\x9F\xA4", 3) == 0, "flush");
    CHECK(utf8_stream_push(&s, (const uint8_t *)"\xED\xA0", 2, o) == 2, "a surrogate prefix is not held");
    printf("streaming decoder: %d texts in random pieces, %d failed\n", count, bad);
}

// ---- other sources: rank = id, GGUF -------------------------------------------------

// The vocabulary of encoder.json as GGUF-style token strings (in id order).
static gguf_str *tokens_of(const char *path, uint64_t *n, char **keep) {
    char *data, err[GPT_ERR_LEN];
    size_t size;
    if (read_file_all(path, 64u << 20, &data, &size, err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    // {"tok": id, ...}: collect (id, string) with the JSON string decoder
    gguf_str *toks = calloc(60000, sizeof *toks);
    char *strings = malloc(size), *sp = strings;
    uint64_t count = 0;
    for (const char *p = data + 1; p && *p == '"';) {
        size_t len;
        const char *end = json_string(p, (uint8_t *)sp, &len);
        long id = strtol(end + 1, (char **)&p, 10);
        if (id >= 0 && id < 60000) toks[id] = (gguf_str){len, sp}, count++;
        sp += len;
        while (*p == ',' || *p == ' ' || *p == '\n') p++;
    }
    free(data);
    *keep = strings;
    *n = count;
    return toks;
}

static void check_other_sources(void) {
    char err[GPT_ERR_LEN], *strings;
    uint64_t n;
    gguf_str *toks = tokens_of(VOCAB, &n, &strings);
    CHECK(n == 50257, "encoder.json: %llu tokens", (unsigned long long)n);

    // llm.c's vocabulary: token bytes only, rank = id (tiktoken's rule)
    gpt_tokenizer *t;
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, n, NULL, 0, "encoder.json, rank = id", err) == 0, "%s", err);
    if (t) {
        CHECK(tokenizer_eos_id(t) == 50256, "eos %d", tokenizer_eos_id(t));
        check_cases(t, "tests/data/cases.jsonl", false, "rank = id, no merges");
        check_cases(t, "tests/data/tokenizer_cases.jsonl", false, "rank = id, no merges");
        tokenizer_free(t);
    }

    // more than 65,535 tokens (extra special tokens): the 32-bit pair tables
    gguf_str *wide = calloc(70000, sizeof *wide);
    char *names = malloc(70000 * 16);
    memcpy(wide, toks, n * sizeof *wide);
    for (uint64_t i = n; i < 70000; i++) {
        char *name = names + 16 * i;
        wide[i] = (gguf_str){(uint64_t)snprintf(name, 16, "<|x%llu|>", (unsigned long long)i), name};
    }
    CHECK(tokenizer_build_gpt2(&t, wide, NULL, 70000, NULL, 0, "70000 tokens", err) == 0, "%s", err);
    if (t) {
        check_cases(t, "tests/data/tokenizer_cases.jsonl", false, "70,000 tokens, rank = id");
        tokenizer_free(t);
    }
    free(wide);
    free(names);

    // an in-memory GGUF with the tokenizer.ggml.* keys a converter writes
    char *merges_text;
    size_t size;
    CHECK(read_file_all(MERGES, 64u << 20, &merges_text, &size, err) == 0, "%s", err);
    gguf_str *merges = calloc(50001, sizeof *merges);
    uint64_t n_merges = 0;
    for (char *line = strchr(merges_text, '\n') + 1; *line && n_merges < 50001;) {
        char *nl = strchr(line, '\n');
        merges[n_merges++] = (gguf_str){(uint64_t)(nl - line), line};
        line = nl + 1;
    }
    int32_t *types = malloc(n * sizeof *types);
    for (uint64_t i = 0; i < n; i++) types[i] = i == 50256 ? 3 : 1;
    gguf_ctx *g = gguf_new();
    gguf_set_str(g, "tokenizer.ggml.model", "gpt2");
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, n);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    gguf_set_arr_str(g, "tokenizer.ggml.merges", merges, n_merges);
    gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", 50256);
    CHECK(tokenizer_from_gguf(&t, g, err) == 0, "from GGUF: %s", err);
    if (t) {
        CHECK(tokenizer_eos_id(t) == 50256 && tokenizer_n_vocab(t) == 50257, "GGUF eos/n_vocab");
        check_cases(t, "tests/data/tokenizer_cases.jsonl", false, "in-memory GGUF");
        check_cases(t, "tests/data/tokenizer_special_cases.jsonl", true, "in-memory GGUF, --special");
        tokenizer_free(t);
    }
    // bad GGUF metadata: errors name the key
    gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", 99999);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "eos_token_id"), "eos out of range: %s", err);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 10);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "token_type"), "short token_type: %s", err);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", 50256);
    gguf_set_str(g, "tokenizer.ggml.pre", "gpt-3");
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "tokenizer.ggml.pre: 'gpt-3'") && strstr(err, "qwen2"),
          "unknown pre-tokenizer: %s", err);
    gguf_set_str(g, "tokenizer.ggml.pre", "llama-bpe");
    types[300] = 9;
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "token_type: token 300 has type 9"), "type 9: %s", err);
    types[300] = 1;
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", 50257);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "bos_token_id: 50257"), "bos out of range: %s", err);
    gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", 50256);
    gguf_set_str(g, "tokenizer.ggml.model", "bert");
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "tokenizer.ggml.model: 'bert'") && strstr(err, "llama"),
          "unknown model: %s", err);
    gguf_set_str(g, "tokenizer.ggml.model", "llama");  // SentencePiece needs its scores (or merges)
    gguf_set_arr_str(g, "tokenizer.ggml.merges", merges, 0);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "tokenizer.ggml.scores"), "llama: %s", err);
    float *scores = calloc(n, sizeof *scores);
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 5);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "scores: 5 entries"), "short scores: %s", err);
    scores[7] = 0.0f / 0.0f;
    gguf_set_arr_data(g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, n);
    CHECK(tokenizer_from_gguf(&t, g, err) != 0 && strstr(err, "token 7's score"), "NaN score: %s", err);
    free(scores);
    gguf_free(g);

    // a merge listed twice keeps its first, lowest rank (llama.cpp's
    // bpe_ranks.emplace keeps the first too): GPT-2's first merge, "Ġ t",
    // again after the last one must change nothing
    CHECK(n_merges == 50000, "vocab.bpe: %llu merges", (unsigned long long)n_merges);
    merges[n_merges] = merges[0];
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, n, merges, n_merges + 1, "repeated merge", err) == 0, "%s", err);
    if (t) {
        check_cases(t, "tests/data/tokenizer_cases.jsonl", false, "merge 0 repeated as merge 50000");
        tokenizer_free(t);
    }

    // a merge naming an unknown token, a token outside the alphabet
    merges[7] = (gguf_str){9, "zzz\xC4\xA0qqqq"};
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, n, merges, n_merges, "m", err) != 0 && strstr(err, "merge 7"),
          "bad merge: %s", err);
    merges[7] = (gguf_str){3, "abc"};
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, n, merges, n_merges, "m", err) != 0 && strstr(err, "LEFT RIGHT"),
          "merge without a space: %s", err);
    toks[5] = (gguf_str){3, "a b"};
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, n, NULL, 0, "v", err) != 0 && strstr(err, "token 5"), "bad token: %s", err);
    CHECK(tokenizer_build_gpt2(&t, toks, NULL, 100, NULL, 0, "v", err) != 0, "100 tokens accepted");

    free(types);
    free(merges);
    free(merges_text);
    free(toks);
    free(strings);
}

// ---- the Llama-family readers on damaged files -------------------------------------

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

// tokenizer_open on bytes written to a scratch file must fail with an error
// that names the file and holds want.
static void expect_open_error(const char *name, const void *data, size_t len, const char *want, const char *what) {
    char path[256], err[GPT_ERR_LEN] = "";
    snprintf(path, sizeof path, "%s/%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
    write_file(path, data, len);
    gpt_tokenizer *t = NULL;
    int rc = tokenizer_open(&t, path, err);
    CHECK(rc != 0 && strstr(err, path) && strstr(err, want), "%s: rc %d, '%s' (want '%s')", what, rc, err, want);
    tokenizer_free(t);
    remove(path);
}

// llama2.c's tokenizer.bin (tests/data/tok/tok512.bin) cut and changed.
static void check_llama2c_errors(void) {
    char err[GPT_ERR_LEN];
    uint8_t *bin;
    size_t len;
    if (read_file_all("tests/data/tok/tok512.bin", 1u << 20, (char **)&bin, &len, err) != 0) {
        CHECK(0, "%s", err);
        return;
    }
    gpt_tokenizer *t;
    CHECK(tokenizer_open(&t, "tests/data/tok/tok512.bin", err) == 0 && tokenizer_n_vocab(t) == 512 &&
              tokenizer_bos_id(t) == 1 && tokenizer_eos_id(t) == 2 && tokenizer_add_bos(t) &&
              tokenizer_kind_of(t) == TOKENIZER_SPM,
          "tok512.bin: %s", err);
    tokenizer_free(t);
    char path[256];
    snprintf(path, sizeof path, "%s/gpt-tok512.bin", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    for (size_t cut = 5; cut < len; cut += 617) {  // inside a record: an error, never a crash
        char what[64];
        snprintf(what, sizeof what, "tok512.bin cut at %zu", cut);
        expect_open_error("gpt-tok512.bin", bin, cut, "token", what);
    }
    uint8_t *bad = malloc(len);
    memcpy(bad, bin, len);
    uint32_t huge = 0x7FFFFFF0u;
    memcpy(bad + 4 + 4, &huge, 4);  // token 0's length
    expect_open_error("gpt-tok512.bin", bad, len, "token 0: length 2147483632", "huge length");
    memcpy(bad, bin, len);
    float nan = 0.0f / 0.0f;
    memcpy(bad + 4, &nan, 4);
    expect_open_error("gpt-tok512.bin", bad, len, "token 0: score is not a finite number", "NaN score");
    memcpy(bad, bin, len);
    memset(bad, 0, 4);
    expect_open_error("gpt-tok512.bin", bad, len, "max_token_length", "max_token_length 0");
    // a model that says 600 tokens; and one that says 100 (bytes left over)
    write_file(path, bin, len);
    gguf_ctx *g = gguf_new();
    CHECK(tokenizer_gguf_from_llama2c(g, path, 600, err) != 0 && strstr(err, "512 tokens, but the model has"),
          "600 tokens: %s", err);
    CHECK(tokenizer_gguf_from_llama2c(g, path, 100, err) != 0 && strstr(err, "bytes after the 100 tokens"),
          "100 tokens: %s", err);
    gguf_free(g);
    remove(path);
    free(bad);
    free(bin);
}

// A small byte-level tokenizer.json, then the same with one thing wrong.
static void check_hf_json_errors(void) {
    char *json = malloc(1 << 16), *p = json;
    p += sprintf(p, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (int b = 0; b < 256; b++) {
        char u[8];
        size_t n = bytes_to_unicode((const uint8_t *)&(uint8_t){(uint8_t)b}, 1, u);
        u[n] = 0;
        if (b == '"' || b == '\\') p += sprintf(p, "\"\\%s\": %d, ", u, b);
        else p += sprintf(p, "\"%s\": %d, ", u, b);
    }
    p += sprintf(p, "\"ab\": 256}, \"merges\": [\"a b\"]}, \"added_tokens\": [{\"id\": 257, \"content\": "
                    "\"<|end|>\", \"special\": true}], \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
                    "\"add_prefix_space\": false, \"use_regex\": true}, \"normalizer\": null}");
    char path[256], err[GPT_ERR_LEN];
    snprintf(path, sizeof path, "%s/gpt-tokenizer.json", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    write_file(path, json, strlen(json));
    gpt_tokenizer *t;
    CHECK(tokenizer_open(&t, path, err) == 0 && tokenizer_n_vocab(t) == 258 && tokenizer_is_eog(t, 257),
          "small tokenizer.json: %s", err);
    if (t) {
        size_t n;
        int32_t *ids = tokenizer_encode(t, (const uint8_t *)"abc<|end|>", 10, true, &n);
        CHECK(ids && n == 3 && ids[0] == 256 && ids[1] == 'c' && ids[2] == 257, "encode with the small tokenizer.json");
        free(ids);
        tokenizer_free(t);
    }
    remove(path);
    struct {
        const char *from, *to, *want;
    } cases[] = {
        {"\"type\": \"BPE\"", "\"type\": \"Unigram\"", "model.type 'Unigram'"},
        {"\"merges\": [\"a b\"]", "\"merges\": [\"a q\"]", "merge 0 'a q': 'LEFT+RIGHT'"},
        {"\"merges\": [\"a b\"]", "\"merges\": [\"a zz\"]", "merge 0 'a zz': 'RIGHT'"},
        {"\"merges\": [\"a b\"]", "\"merges\": [[\"a\"]]", "model.merges: merge 0"},
        {"\"merges\": [\"a b\"]", "\"merges\": 7", "model.merges"},
        {"\"ab\": 256", "\"ab\": 255", "model.vocab: id 255 is given to two tokens"},
        {"\"ab\": 256", "\"ab\": 1e9", "model.vocab: 'ab': not a valid id"},
        {"\"ab\": 256", "\"ab\": -1", "model.vocab: 'ab': not a valid id"},
        {"\"id\": 257", "\"id\": 9000", "leave ids without a token"},
        {"\"id\": 257", "\"id\": 256", "added_tokens: id 256 is '<|end|>' but model.vocab has 'ab'"},
        {"\"use_regex\": true", "\"use_regex\": false", "pre_tokenizer"},
        {"\"add_prefix_space\": false", "\"add_prefix_space\": true", "pre_tokenizer"},
        {"\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}", "normalizer"},
        {"\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}", "normalizer"},
        {"\"vocab\": {", "\"vocab\": [{", "JSON"},
        {"{\"model\"", "[\"model\"", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *at = strstr(json, cases[i].from), *bad = malloc(strlen(json) + 64);
        CHECK(at != NULL, "case %zu: '%s' not in the file", i, cases[i].from);
        if (!at) {
            free(bad);
            continue;
        }
        sprintf(bad, "%.*s%s%s", (int)(at - json), json, cases[i].to, at + strlen(cases[i].from));
        expect_open_error("gpt-tokenizer.json", bad, strlen(bad), cases[i].want, cases[i].to);
        free(bad);
    }
    free(json);
}

static void check_file_errors(void) {
    char err[GPT_ERR_LEN];
    gpt_tokenizer *t;
    CHECK(tokenizer_from_files(&t, "tests/data/no-such.json", MERGES, err) != 0 && strstr(err, "no-such.json"),
          "missing vocab: %s", err);
    CHECK(tokenizer_from_files(&t, VOCAB, "tests/data/no-such.bpe", err) != 0 && strstr(err, "no-such.bpe"),
          "missing merges: %s", err);
    CHECK(tokenizer_from_files(&t, MERGES, MERGES, err) != 0 && strstr(err, "vocab.bpe"), "merges as vocab: %s", err);
    CHECK(tokenizer_from_files(&t, VOCAB, VOCAB, err) != 0 && strstr(err, "encoder.json"), "vocab as merges: %s", err);
}

// ---- long runs ----------------------------------------------------------------------

static void check_long_runs(gpt_tokenizer *t) {
    size_t n = 100 * 1000;
    uint8_t *buf = malloc(n);
    const char *fills[] = {"a", "0123456789", "1", " ", "ab"};
    for (size_t f = 0; f < sizeof fills / sizeof *fills; f++) {
        size_t fl = strlen(fills[f]);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)fills[f][i % fl];
        double t0 = now_ms();
        size_t n_ids, back_len;
        int32_t *ids = tokenizer_encode(t, buf, n, false, &n_ids);
        double ms = now_ms() - t0;
        uint8_t *back = ids ? decode(t, ids, n_ids, &back_len) : NULL;
        CHECK(back && back_len == n && memcmp(back, buf, n) == 0, "100 KB of '%s': round trip", fills[f]);
        printf("100 KB of '%s': %zu ids in %.1f ms\n", fills[f], n_ids, ms);
        free(ids);
        free(back);
    }
    free(buf);
}

int main(void) {
    char err[GPT_ERR_LEN];
    gpt_tokenizer *t;
    if (tokenizer_from_files(&t, VOCAB, MERGES, err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(tokenizer_n_vocab(t) == 50257 && tokenizer_eos_id(t) == 50256, "n_vocab %d eos %d",
          tokenizer_n_vocab(t), tokenizer_eos_id(t));
    size_t nb;
    CHECK(tokenizer_token_bytes(t, 50257, &nb) == NULL && tokenizer_token_bytes(t, -1, &nb) == NULL,
          "out-of-range ids must have no bytes");
    check_cases(t, "tests/data/cases.jsonl", false, "encoder.json + vocab.bpe");
    check_cases(t, "tests/data/tokenizer_cases.jsonl", false, "encoder.json + vocab.bpe");
    check_cases(t, "tests/data/tokenizer_special_cases.jsonl", true, "encoder.json + vocab.bpe, special");
    check_unicode_classes();
    check_round_trip(t);
    check_stream();
    check_long_runs(t);
    tokenizer_free(t);
    check_other_sources();
    check_file_errors();
    check_llama2c_errors();
    check_hf_json_errors();
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
