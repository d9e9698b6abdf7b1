// tokenizer_build.c: a tokenizer from a tokenizer_spec (tokenizer.h): every
// token's bytes and type, the index of the text encoding matches, the pair
// map (from merges, from scores, or from llm.c's rank = id rule), the special
// tokens and the set of ids that end generation. Every id, count and string
// of the spec is checked first, with an error that names the source and field.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef typeof
#define typeof __typeof__  // stb_ds.h's macros use GNU typeof, absent from strict -std=c11
#endif
#include <stb_ds.h>

#include "byte_unicode.h"
#include "tokenizer_impl.h"
#include "utf8.h"
#include "util.h"

// Where errors point: GGUF keys, or a file's own field names.
#define TOKENS_KEY(s) ((s)->tokens_key ? (s)->tokens_key : "tokenizer.ggml.tokens")
#define MERGES_KEY(s) ((s)->merges_key ? (s)->merges_key : "tokenizer.ggml.merges")
#define MERGES_SRC(s) ((s)->merges_src ? (s)->merges_src : (s)->src)

#define MAX_TOKEN_BYTES (1u << 16)  // no real token is longer; a bound for hostile files

// ---- the build-time index of the vocabulary as written ------------------------------

// Tokens by their text as written in the file (GPT-2's alphabet, or
// SentencePiece pieces): open addressing, at most half full. Each slot holds
// the token's id, length, a hash tag and its text, so that a probe touches
// the slot and, only on a likely hit, the text: loading Llama 3's 280,000
// merges makes 840,000 lookups, and the cache misses are their cost. Only
// the tokens merges may name or make are in it.
typedef struct {
    const char *ptr;  // NULL: free
    uint32_t len, tag;
    int32_t id;
} vocab_slot;

typedef struct {
    const gguf_str *tokens;
    vocab_slot *slot;
    uint64_t mask;
} vocab_index;

// The id of the token whose text is s (len bytes, hash = piece_hash of it), or -1.
static int32_t vocab_find_hashed(const vocab_index *v, const char *s, size_t len, uint64_t hash) {
    uint32_t tag = (uint32_t)(hash >> 32);
    for (uint64_t h = hash & v->mask;; h = (h + 1) & v->mask) {
        const vocab_slot *e = &v->slot[h];
        if (!e->ptr) return -1;
        if (e->tag == tag && e->len == len && memcmp(e->ptr, s, len) == 0) return e->id;
    }
}

static int32_t vocab_find(const vocab_index *v, const char *s, size_t len) {
    return vocab_find_hashed(v, s, len, piece_hash((const uint8_t *)s, len));
}

// Add id; returns the id already there with the same text, or -1.
static int32_t vocab_add(vocab_index *v, int32_t id) {
    gguf_str tok = v->tokens[id];
    uint64_t hash = piece_hash((const uint8_t *)tok.ptr, tok.len);
    uint32_t tag = (uint32_t)(hash >> 32);
    for (uint64_t h = hash & v->mask;; h = (h + 1) & v->mask) {
        vocab_slot *e = &v->slot[h];
        if (!e->ptr) {
            *e = (vocab_slot){tok.ptr ? tok.ptr : "", (uint32_t)tok.len, tag, id};
            return -1;
        }
        if (e->tag == tag && e->len == tok.len && memcmp(e->ptr, tok.ptr, tok.len) == 0) return e->id;
    }
}

static uint64_t table_cap(uint64_t n) {
    uint64_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

// ---- token types and bytes -------------------------------------------------------------

static bool looks_special(gguf_str s) {
    return s.len >= 4 && memcmp(s.ptr, "<|", 2) == 0 && memcmp(s.ptr + s.len - 2, "|>", 2) == 0;
}

// "<0xNN>": the byte NN, or -1.
static int byte_piece(gguf_str s) {
    if (s.len != 6 || memcmp(s.ptr, "<0x", 3) != 0 || s.ptr[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s.ptr[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int load_types(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    t->type = malloc((size_t)t->n_vocab);
    if (!t->type) return gpt_fail(err, "%s: out of memory for %d tokens", s->src, t->n_vocab);
    for (int i = 0; i < t->n_vocab; i++) {
        if (s->types) {
            if (s->types[i] < TOKEN_NORMAL || s->types[i] > TOKEN_BYTE)
                return gpt_fail(err, "%s: tokenizer.ggml.token_type: token %d has type %d (1 to 6 expected)", s->src,
                                i, s->types[i]);
            t->type[i] = (uint8_t)s->types[i];
        } else if (s->kind == TOKENIZER_BPE) {
            t->type[i] = looks_special(s->tokens[i]) ? TOKEN_CONTROL : TOKEN_NORMAL;
        } else {
            t->type[i] = byte_piece(s->tokens[i]) >= 0 ? TOKEN_BYTE : TOKEN_NORMAL;
        }
        if (t->type[i] == TOKEN_BYTE && s->kind == TOKENIZER_SPM && byte_piece(s->tokens[i]) < 0)
            return gpt_fail(err, "%s: %s: token %d '%.*s' has type BYTE but is not <0xNN>", s->src, TOKENS_KEY(s),
                            i, (int)(s->tokens[i].len > 40 ? 40 : s->tokens[i].len), s->tokens[i].ptr);
    }
    return 0;
}

// Whether merges may name or make token i (and encoding may emit it from text).
static bool mergeable(const gpt_tokenizer *t, int i) {
    int ty = t->type[i];
    if (t->kind == TOKENIZER_BPE) return ty == TOKEN_NORMAL || ty == TOKEN_BYTE;
    return ty == TOKEN_NORMAL || ty == TOKEN_USER_DEFINED || ty == TOKEN_UNUSED;
}

// The decoded bytes of token i into out (room for 3 * len bytes); -1 if it
// cannot be decoded.
static long token_bytes_of(const gpt_tokenizer *t, gguf_str s, int type, uint8_t *out) {
    if (type == TOKEN_CONTROL || type == TOKEN_UNKNOWN || type == TOKEN_USER_DEFINED) {
        if (t->kind == TOKENIZER_BPE || type != TOKEN_USER_DEFINED) {
            memcpy(out, s.ptr, s.len);  // their own text, as llama.cpp keeps them
            return (long)s.len;
        }
    }
    if (t->kind == TOKENIZER_BPE) return unicode_to_bytes(s.ptr, s.len, out);
    if (type == TOKEN_BYTE) {
        out[0] = (uint8_t)byte_piece(s);
        return 1;
    }
    size_t n = 0;  // a piece: U+2581 is a space
    for (size_t i = 0; i < s.len;) {
        if (i + 3 <= s.len && memcmp(s.ptr + i, "\xE2\x96\x81", 3) == 0) {
            out[n++] = ' ';
            i += 3;
        } else {
            out[n++] = (uint8_t)s.ptr[i++];
        }
    }
    return (long)n;
}

static int load_tokens(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    uint64_t total = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        if (s->tokens[i].len > MAX_TOKEN_BYTES)
            return gpt_fail(err, "%s: %s: token %d is %llu bytes (at most %u)", s->src, TOKENS_KEY(s), i,
                            (unsigned long long)s->tokens[i].len, MAX_TOKEN_BYTES);
        total += s->tokens[i].len;  // n_vocab < 2^31 tokens of at most 2^16 bytes: no overflow
    }
    t->bytes = malloc(total ? total : 1);
    t->offset = malloc(((size_t)t->n_vocab + 1) * sizeof *t->offset);
    if (!t->bytes || !t->offset) return gpt_fail(err, "%s: out of memory for %d tokens", s->src, t->n_vocab);
    uint64_t at = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        gguf_str tok = s->tokens[i];
        int type = t->type[i];
        long nb = token_bytes_of(t, tok, type, t->bytes + at);
        if (nb < 0 && !s->types && type == TOKEN_CONTROL) {  // "<|...|>" not in the alphabet: its own text
            memcpy(t->bytes + at, tok.ptr, tok.len);
            nb = (long)tok.len;
        }
        if (nb < 0 || (nb == 0 && mergeable(t, i)) || (mergeable(t, i) && memchr(tok.ptr, 0, tok.len)))
            return gpt_fail(err, "%s: %s: token %d '%.*s' is %s", s->src, TOKENS_KEY(s), i,
                            (int)(tok.len > 40 ? 40 : tok.len), tok.ptr,
                            nb == 0 ? "empty"
                            : nb > 0 ? "not text (it holds a NUL byte)"
                                     : "not in GPT-2's byte-to-unicode alphabet");
        t->offset[i] = at;
        at += (uint64_t)nb;
    }
    t->offset[t->n_vocab] = at;
    return 0;
}

// Index the tokens merges may name, refusing two with the same text.
static int index_vocab(const gpt_tokenizer *t, vocab_index *v, const tokenizer_spec *s, char *err) {
    const char *src = s->src;
    uint64_t cap = table_cap((uint64_t)t->n_vocab);
    v->slot = calloc(cap, sizeof *v->slot);
    v->mask = cap - 1;
    if (!v->slot) return gpt_fail(err, "%s: out of memory for %d tokens", src, t->n_vocab);
    for (int i = 0; i < t->n_vocab; i++) {
        if (!mergeable(t, i)) continue;
        int32_t dup = vocab_add(v, i);
        if (dup >= 0)
            return gpt_fail(err, "%s: %s: tokens %d and %d are the same piece '%.*s'", src, TOKENS_KEY(s), dup, i,
                            (int)(v->tokens[i].len > 40 ? 40 : v->tokens[i].len), v->tokens[i].ptr);
    }
    return 0;
}

// The text index encoding matches (tokenizer_impl.h): SentencePiece pieces
// as written, or byte-level tokens' bytes.
static int index_text(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    bool spm = t->kind == TOKENIZER_SPM;
    if (spm) {
        uint64_t total = 0;
        for (int i = 0; i < t->n_vocab; i++) total += s->tokens[i].len;
        t->mtext = malloc(total ? total : 1);
        t->moff = malloc(((size_t)t->n_vocab + 1) * sizeof *t->moff);
        if (!t->mtext || !t->moff) return gpt_fail(err, "%s: out of memory", s->src);
        for (int i = 0, at = 0; i < t->n_vocab; i++) {
            t->moff[i] = (uint64_t)at;
            memcpy(t->mtext + at, s->tokens[i].ptr, s->tokens[i].len);
            at += (int)s->tokens[i].len;
            t->moff[i + 1] = (uint64_t)at;
        }
    } else {  // the same bytes decoding gives; moff aliases nothing: a copy of offset
        t->moff = malloc(((size_t)t->n_vocab + 1) * sizeof *t->moff);
        t->mtext = malloc(t->offset[t->n_vocab] ? t->offset[t->n_vocab] : 1);
        if (!t->mtext || !t->moff) return gpt_fail(err, "%s: out of memory", s->src);
        memcpy(t->moff, t->offset, ((size_t)t->n_vocab + 1) * sizeof *t->moff);
        memcpy(t->mtext, t->bytes, t->offset[t->n_vocab]);
    }
    uint64_t cap = table_cap((uint64_t)t->n_vocab);
    t->text_slot = calloc(cap, sizeof *t->text_slot);
    t->text_mask = cap - 1;
    if (!t->text_slot) return gpt_fail(err, "%s: out of memory", s->src);
    for (int i = 0; i < t->n_vocab; i++) {
        if (!mergeable(t, i) || (!spm && t->type[i] != TOKEN_NORMAL)) continue;
        const uint8_t *p = t->mtext + t->moff[i];
        size_t n = (size_t)(t->moff[i + 1] - t->moff[i]);
        for (uint64_t h = piece_hash(p, n) & t->text_mask;; h = (h + 1) & t->text_mask) {
            int32_t at = t->text_slot[h] - 1;
            if (at < 0) {
                t->text_slot[h] = i + 1;
                break;
            }
            if (t->moff[at + 1] - t->moff[at] == n && memcmp(t->mtext + t->moff[at], p, n) == 0) break;  // first id
        }
    }
    return 0;
}

// ---- pairs -------------------------------------------------------------------------

// Merges "LEFT RIGHT" in rank order: pair (LEFT, RIGHT) gets rank i.
// One merge "LEFT RIGHT" taken apart, with LEFT+RIGHT joined in buf.
typedef struct {
    const char *left, *right;
    size_t nl, nr;
    uint64_t hl, hr, hj;  // piece_hash of LEFT, RIGHT and LEFT+RIGHT
} merge_parts;

static bool split_merge(gguf_str m, char *buf, merge_parts *p) {
    const char *sp = m.len ? memchr(m.ptr, ' ', m.len) : NULL;
    size_t nl = sp ? (size_t)(sp - m.ptr) : 0, nr = sp ? m.len - nl - 1 : 0;
    if (!sp || nl == 0 || nr == 0 || memchr(sp + 1, ' ', nr) || memchr(m.ptr, 0, m.len)) return false;
    memcpy(buf, m.ptr, nl);
    memcpy(buf + nl, sp + 1, nr);
    *p = (merge_parts){m.ptr, sp + 1, nl, nr, piece_hash((const uint8_t *)m.ptr, nl),
                       piece_hash((const uint8_t *)sp + 1, nr), piece_hash((const uint8_t *)buf, nl + nr)};
    return true;
}

#define MERGE_AHEAD 16  // merges taken apart (and their slots prefetched) ahead of the lookups

// Merges "LEFT RIGHT" in rank order: pair (LEFT, RIGHT) gets rank i. The
// lookups are cache misses in tables of several MB (Llama 3: 280,000 merges,
// three lookups each), so the slots of the next MERGE_AHEAD merges are
// prefetched while this one is looked up.
static int load_merges(gpt_tokenizer *t, const vocab_index *v, const tokenizer_spec *s, char *err) {
    size_t cap = 0;
    uint64_t n = s->n_merges;
    for (uint64_t i = 0; i < n; i++) cap = s->merges[i].len > cap ? s->merges[i].len : cap;
    if (cap > 2 * MAX_TOKEN_BYTES + 1)
        return gpt_fail(err, "%s: %s: a merge of %zu bytes", MERGES_SRC(s), MERGES_KEY(s), cap);
    char *bufs = malloc(MERGE_AHEAD * (cap + 1));  // LEFT and RIGHT joined, one per merge in flight
    int32_t *ids = malloc((3 * n + 1) * sizeof *ids);  // [n][3]: LEFT, RIGHT, LEFT+RIGHT
    int rc = 0;
    if (!bufs || !ids || reserve_pairs(t, n) != 0)
        rc = gpt_fail(err, "%s: out of memory for %llu merges", s->src, (unsigned long long)n);
    merge_parts ring[MERGE_AHEAD];
    for (uint64_t i = 0; rc == 0 && i < n + MERGE_AHEAD; i++) {
        if (i >= MERGE_AHEAD) {  // look merge k up (its ring slot is merge i's next)
            uint64_t k = i - MERGE_AHEAD;
            const merge_parts *p = &ring[k % MERGE_AHEAD];
            const char *joined = bufs + (k % MERGE_AHEAD) * (cap + 1);
            int32_t *e = ids + 3 * k;
            e[0] = vocab_find_hashed(v, p->left, p->nl, p->hl);
            e[1] = vocab_find_hashed(v, p->right, p->nr, p->hr);
            e[2] = vocab_find_hashed(v, joined, p->nl + p->nr, p->hj);
            if (e[0] < 0 || e[1] < 0 || e[2] < 0) {
                gguf_str m = s->merges[k];
                rc = gpt_fail(err, "%s: %s: merge %llu '%.*s': '%s' is not in the vocabulary", MERGES_SRC(s),
                              MERGES_KEY(s), (unsigned long long)k, (int)(m.len > 40 ? 40 : m.len), m.ptr,
                              e[0] < 0 ? "LEFT" : e[1] < 0 ? "RIGHT" : "LEFT+RIGHT");
            }
        }
        if (i < n) {  // take merge i apart and prefetch its slots
            merge_parts *p = &ring[i % MERGE_AHEAD];
            char *buf = bufs + (i % MERGE_AHEAD) * (cap + 1);
            gguf_str m = s->merges[i];
            if (!split_merge(m, buf, p)) {
                rc = gpt_fail(err, "%s: %s: merge %llu '%.*s' is not 'LEFT RIGHT'", MERGES_SRC(s), MERGES_KEY(s),
                              (unsigned long long)i, (int)(m.len > 40 ? 40 : m.len), m.ptr);
            } else {
                __builtin_prefetch(&v->slot[p->hl & v->mask]);
                __builtin_prefetch(&v->slot[p->hr & v->mask]);
                __builtin_prefetch(&v->slot[p->hj & v->mask]);
            }
        }
    }
    for (uint64_t k = 0; rc == 0 && k < n; k++) {
        if (k + MERGE_AHEAD < n) prefetch_pair(t, ids[3 * (k + MERGE_AHEAD)], ids[3 * (k + MERGE_AHEAD) + 1]);
        if (add_pair(t, ids[3 * k], ids[3 * k + 1], (int32_t)k, ids[3 * k + 2]) != 0)
            rc = gpt_fail(err, "%s: out of memory for %llu merges", s->src, (unsigned long long)n);
    }
    free(bufs);
    free(ids);
    return rc;
}

// Every split of every mergeable token into two tokens is a pair, of rank
// rank[token] (or the token's id when rank is NULL: llm.c's rule). The text
// is split at character boundaries (SentencePiece) or anywhere (byte-level,
// in its alphabet).
static int pairs_from_splits(gpt_tokenizer *t, const vocab_index *v, const int32_t *rank, const tokenizer_spec *s,
                             char *err) {
    const char *src = s->src;
    bool spm = t->kind == TOKENIZER_SPM;
    size_t maxlen = 0;
    for (int i = 0; i < t->n_vocab; i++) maxlen = v->tokens[i].len > maxlen ? v->tokens[i].len : maxlen;
    char *buf = malloc(4 * maxlen + 1);  // a split in the alphabet: at most 2 bytes per byte
    if (!buf) return gpt_fail(err, "%s: out of memory", src);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!mergeable(t, id)) continue;
        gguf_str tok = v->tokens[id];
        const uint8_t *b = spm ? (const uint8_t *)tok.ptr : t->bytes + t->offset[id];
        size_t len = spm ? tok.len : (size_t)(t->offset[id + 1] - t->offset[id]);
        // the splits cost len^2 per token: bound len (llm.c's format itself
        // stops at 255 bytes) so that a hostile file cannot hang us
        if (len > 256) {
            free(buf);
            return gpt_fail(err, "%s: %s: token %d is %zu bytes; without merges a token may be "
                                 "at most 256 bytes", src, TOKENS_KEY(s), id, len);
        }
        for (size_t k = 1; k < len; k++) {
            int32_t l, r;
            if (spm) {
                if (is_cont(b[k])) continue;
                l = vocab_find(v, (const char *)b, k);
                r = l < 0 ? -1 : vocab_find(v, (const char *)b + k, len - k);
            } else {
                l = vocab_find(v, buf, bytes_to_unicode(b, k, buf));
                r = l < 0 ? -1 : vocab_find(v, buf, bytes_to_unicode(b + k, len - k, buf));
            }
            if (l < 0 || r < 0) continue;
            if (add_pair(t, l, r, rank ? rank[id] : id, id) != 0) {
                free(buf);
                return gpt_fail(err, "%s: out of memory", src);
            }
        }
    }
    free(buf);
    return 0;
}

typedef struct {
    float score;
    int32_t id;
} scored_id;

// Descending score, then ascending id (qsort has no context argument: the
// scores travel with the ids, so concurrent builds share nothing).
static int by_score_desc(const void *a, const void *b) {
    const scored_id *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

// SentencePiece without merges: rank = place by descending score, equal
// scores sharing a rank (so the leftmost pair goes first, as in SentencePiece).
static int ranks_from_scores(const gpt_tokenizer *t, const float *scores, int32_t **out, const char *src, char *err) {
    scored_id *order = malloc((size_t)t->n_vocab * sizeof *order);
    int32_t *rank = malloc((size_t)t->n_vocab * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return gpt_fail(err, "%s: out of memory", src);
    }
    for (int i = 0; i < t->n_vocab; i++) order[i] = (scored_id){scores[i], i};
    qsort(order, (size_t)t->n_vocab, sizeof *order, by_score_desc);
    for (int i = 0, r = 0; i < t->n_vocab; i++) {
        if (i > 0 && order[i].score != order[i - 1].score) r = i;
        rank[order[i].id] = r;
    }
    free(order);
    *out = rank;
    return 0;
}

// ---- SentencePiece lookups ------------------------------------------------------------

static int join_add(gpt_tokenizer *t, uint64_t pair) {
    for (uint64_t h = (pair * 0x9E3779B97F4A7C15ull) >> t->join_shift;; h = (h + 1) & t->join_mask) {
        if (t->joins[h] == pair) return 0;
        if (t->joins[h] == 0) {
            t->joins[h] = pair;
            return 1;
        }
    }
}

// The code point of p[i] (invalid bytes as 0x110000 + byte), as encoding keys them.
static uint32_t key_at(const uint8_t *p, size_t i, size_t n, size_t *len) {
    uint32_t cp;
    int l = utf8_decode(p, i, n, &cp);
    *len = l ? (size_t)l : 1;
    return l ? cp : 0x110000u + p[i];
}

static int spm_lookups(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    const char *src = s->src;
    uint64_t n_pairs = 0;
    for (int i = 0; i < t->n_vocab; i++)
        if (mergeable(t, i)) n_pairs += t->moff[i + 1] - t->moff[i];
    uint64_t cap = table_cap(n_pairs);
    int bits = 0;
    while (((uint64_t)1 << bits) < cap) bits++;
    t->joins = calloc(cap, sizeof *t->joins);
    t->join_mask = cap - 1;
    t->join_shift = 64 - bits;
    if (!t->joins) return gpt_fail(err, "%s: out of memory", src);
    for (int i = 0; i < t->n_vocab; i++) {
        if (!mergeable(t, i)) continue;
        const uint8_t *p = t->mtext + t->moff[i];
        size_t n = (size_t)(t->moff[i + 1] - t->moff[i]), l;
        uint32_t prev = n ? key_at(p, 0, n, &l) : 0;
        for (size_t k = n ? l : 0; k < n; k += l) {
            uint32_t c = key_at(p, k, n, &l);
            join_add(t, (uint64_t)prev << 32 | c);
            prev = c;
        }
    }
    for (int c = 0; c < 128; c++) {
        uint8_t ch = (uint8_t)c;
        t->ascii_id[c] = text_find(t, &ch, 1);
    }
    t->space_id = text_find(t, (const uint8_t *)"\xE2\x96\x81", 3);
    bool have_bytes = false;
    for (int i = 0; i < t->n_vocab; i++)
        if (t->type[i] == TOKEN_BYTE) {
            t->byte_id[t->bytes[t->offset[i]]] = i;
            have_bytes = true;
        }
    if (!have_bytes && t->unk < 0)
        return gpt_fail(err, "%s: %s: no <0xNN> byte pieces and no unknown token "
                             "(tokenizer.ggml.unknown_token_id) for characters outside the vocabulary", src,
                        TOKENS_KEY(s));
    if (have_bytes)
        for (int b = 0; b < 256; b++)
            if (t->byte_id[b] < 0)
                return gpt_fail(err, "%s: %s: no byte piece <0x%02X> (there are others)", src, TOKENS_KEY(s), b);
    return 0;
}

// ---- special tokens and the end of generation ------------------------------------------

static int check_id(int32_t id, int n_vocab, const char *what, const char *src, char *err) {
    if (id < -1 || id >= n_vocab)
        return gpt_fail(err, "%s: tokenizer.ggml.%s: %d is not below the %d tokens", src, what, id, n_vocab);
    return 0;
}

static int by_first_byte(const void *a, const void *b) {
    const special_token *x = a, *y = b;
    if (x->bytes[0] != y->bytes[0]) return x->bytes[0] < y->bytes[0] ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_specials(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    for (int i = 0; i < t->n_vocab; i++) {
        int ty = t->type[i];
        size_t len = (size_t)(t->offset[i + 1] - t->offset[i]);
        if (len == 0 || !(ty == TOKEN_CONTROL || ty == TOKEN_UNKNOWN || ty == TOKEN_USER_DEFINED)) continue;
        arrput(t->specials, ((special_token){i, t->bytes + t->offset[i], len, ty == TOKEN_USER_DEFINED}));
    }
    // encode's scan looks up the specials by the byte they start with
    size_t n_sp = (size_t)arrlen(t->specials);
    if (n_sp) qsort(t->specials, n_sp, sizeof *t->specials, by_first_byte);
    for (size_t k = 0, b = 0; b <= 256; b++) {
        while (k < n_sp && t->specials[k].bytes[0] < b) k++;
        t->special_from[b] = (uint32_t)k;
    }
    for (size_t k = 0; k < n_sp; k++) t->any_always |= t->specials[k].always;
    // llama.cpp's rule for the end of generation: EOS, EOT, EOM, and the
    // control tokens whose text ends a turn in the families' chat formats
    static const char *eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|endoftext|>", "<|eom_id|>",
                                      "<|end|>",    "<end_of_turn>", "<|end_of_text|>"};
    t->eog = malloc(((size_t)arrlen(t->specials) + 3) * sizeof *t->eog);
    if (!t->eog) return gpt_fail(err, "%s: out of memory", s->src);
    int32_t fixed[3] = {t->eos, t->eot, t->eom};
    for (int k = 0; k < 3; k++) {
        bool seen = fixed[k] < 0;
        for (int j = 0; j < t->n_eog && !seen; j++) seen = t->eog[j] == fixed[k];
        if (!seen) t->eog[t->n_eog++] = fixed[k];
    }
    for (size_t k = 0; k < (size_t)arrlen(t->specials); k++) {
        const special_token *sp = &t->specials[k];
        if (t->type[sp->id] != TOKEN_CONTROL) continue;
        for (size_t e = 0; e < sizeof eog_texts / sizeof eog_texts[0]; e++) {
            if (strlen(eog_texts[e]) != sp->len || memcmp(eog_texts[e], sp->bytes, sp->len) != 0) continue;
            bool seen = false;
            for (int j = 0; j < t->n_eog && !seen; j++) seen = t->eog[j] == sp->id;
            if (!seen) t->eog[t->n_eog++] = sp->id;
        }
    }
    return 0;
}

// ---- building ----------------------------------------------------------------------

static int check_spec(const tokenizer_spec *s, char *err) {
    uint64_t min = s->kind == TOKENIZER_BPE ? 256 : 1;
    if (s->n_vocab < min || s->n_vocab > INT32_MAX - 1)
        return gpt_fail(err, "%s: %s: %llu tokens (need %llu to 2^31-2)", s->src, TOKENS_KEY(s),
                        (unsigned long long)s->n_vocab, (unsigned long long)min);
    if (s->n_merges > INT32_MAX - 1)
        return gpt_fail(err, "%s: %s: too many (%llu)", MERGES_SRC(s), MERGES_KEY(s), (unsigned long long)s->n_merges);
    if (s->kind == TOKENIZER_SPM && !s->scores && !s->n_merges)
        return gpt_fail(err, "%s: tokenizer.ggml.scores: missing (a SentencePiece vocabulary needs its scores)",
                        s->src);
    if (s->kind == TOKENIZER_BPE && (unsigned)s->pre >= PRETOK_COUNT)
        return gpt_fail(err, "%s: tokenizer.ggml.pre: unknown pre-tokenizer", s->src);
    for (uint64_t i = 0; s->scores && i < s->n_vocab; i++)
        if (!(s->scores[i] == s->scores[i]) || s->scores[i] > 3.4e38f || s->scores[i] < -3.4e38f)
            return gpt_fail(err, "%s: tokenizer.ggml.scores: token %llu's score is not a finite number", s->src,
                            (unsigned long long)i);
    int n = (int)s->n_vocab;
    if (check_id(s->bos, n, "bos_token_id", s->src, err) || check_id(s->eos, n, "eos_token_id", s->src, err) ||
        check_id(s->eot, n, "eot_token_id", s->src, err) || check_id(s->eom, n, "eom_token_id", s->src, err) ||
        check_id(s->pad, n, "padding_token_id", s->src, err) ||
        check_id(s->unk, n, "unknown_token_id", s->src, err))
        return -1;
    if (s->add_bos && s->bos < 0)
        return gpt_fail(err, "%s: tokenizer.ggml.add_bos_token is true but there is no bos_token_id", s->src);
    if (s->add_eos && s->eos < 0)
        return gpt_fail(err, "%s: tokenizer.ggml.add_eos_token is true but there is no eos_token_id", s->src);
    return 0;
}

static void describe(gpt_tokenizer *t) {
    if (t->kind == TOKENIZER_SPM)
        snprintf(t->desc, sizeof t->desc, "SentencePiece BPE%s", t->add_space_prefix ? "" : " (no space prefix)");
    else
        snprintf(t->desc, sizeof t->desc, "byte-level BPE (%s%s)", pretok_name(t->pre), t->nfc ? ", NFC" : "");
}

static int build_parts(gpt_tokenizer *t, const tokenizer_spec *s, char *err) {
    if (load_types(t, s, err) || load_tokens(t, s, err)) return -1;
    vocab_index v = {s->tokens, NULL, 0};
    int rc = index_vocab(t, &v, s, err);
    bool spm = t->kind == TOKENIZER_SPM;
    if (rc == 0 && (spm || t->ignore_merges)) rc = index_text(t, s, err);
    if (rc == 0 && !spm)
        for (int i = 0; i < t->n_vocab; i++) {
            size_t len = (size_t)(t->offset[i + 1] - t->offset[i]);
            if (mergeable(t, i) && len == 1 && t->byte_id[t->bytes[t->offset[i]]] < 0)
                t->byte_id[t->bytes[t->offset[i]]] = i;
        }
    for (int b = 0; rc == 0 && !spm && b < 256; b++)
        if (t->byte_id[b] < 0)
            rc = gpt_fail(err, "%s: %s: no token for the single byte 0x%02X", s->src, TOKENS_KEY(s), b);
    if (rc == 0 && spm) rc = spm_lookups(t, s, err);
    t->unique_ranks = s->n_merges || !spm;
    if (rc == 0) {
        if (s->n_merges) {
            rc = load_merges(t, &v, s, err);
        } else if (spm) {
            int32_t *rank = NULL;
            rc = ranks_from_scores(t, s->scores, &rank, s->src, err);
            if (rc == 0) rc = pairs_from_splits(t, &v, rank, s, err);
            free(rank);
        } else {
            rc = pairs_from_splits(t, &v, NULL, s, err);
        }
    }
    free(v.slot);
    if (rc == 0 && compile_pairs(t) != 0) rc = gpt_fail(err, "%s: out of memory", s->src);
    if (rc == 0) rc = load_specials(t, s, err);
    return rc;
}

int tokenizer_build(gpt_tokenizer **out, const tokenizer_spec *s, char *err) {
    *out = NULL;
    if (check_spec(s, err)) return -1;
    gpt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return gpt_fail(err, "%s: out of memory", s->src);
    t->kind = s->kind;
    t->pre = s->pre;
    t->ignore_merges = s->kind == TOKENIZER_BPE && s->ignore_merges;
    t->add_space_prefix = s->kind == TOKENIZER_SPM && s->add_space_prefix;
    t->nfc = s->nfc;
    t->n_vocab = (int)s->n_vocab;
    t->bos = s->bos, t->eos = s->eos, t->eot = s->eot, t->eom = s->eom, t->pad = s->pad, t->unk = s->unk;
    t->add_bos = s->add_bos, t->add_eos = s->add_eos;
    t->space_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    for (int c = 0; c < 128; c++) t->ascii_id[c] = -1;
    if (build_parts(t, s, err) != 0) {
        tokenizer_free(t);
        return -1;
    }
    describe(t);
    *out = t;
    return 0;
}
