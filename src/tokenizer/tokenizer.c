// tokenizer.c: the BPE engine shared by both kinds (tokenizer.h), encoding
// and decoding.
//
//   byte-level: text -> [special tokens split out] -> NFC (qwen2) -> pieces
//               (pretok.c) -> bytes of each piece -> merges by lowest rank -> ids
//   SentencePiece: text -> [special tokens split out] -> ' ' to U+2581 and a
//               prefix U+2581 -> segments no piece spans -> characters (or
//               their <0xNN> bytes) -> merges by rank -> ids
//
// Merges: a pair map (left id, right id) -> (rank, merged id). Its ranks
// come from the merges list (rank = line), from llm.c's rule without merges
// (rank = id of the concatenation), or for SentencePiece from the scores
// (rank = place of the merged piece when pieces are sorted by descending
// score; equal scores get equal ranks). At each step the adjacent pair of
// lowest rank is merged, the leftmost on ties: this is SentencePiece's (and
// llama.cpp's) "highest score first, leftmost on ties" too. Short pieces use
// a scan of an array (like tiktoken); long ones a binary heap over a linked
// list, O(n log n), so a 100 KB run of one letter takes milliseconds.
//
// SentencePiece text has no pre-tokenizer, but a merge can only join two
// characters that stand next to each other inside some piece; the text is
// cut wherever two neighbours never do (a set of such pairs built from the
// vocabulary), which changes nothing in the result and gives short segments
// that the piece cache and the array scan handle.
//
// Speed: pairs are looked up in a flat open-addressing table (8-byte slots
// when ids and ranks fit in 16 bits) plus, for byte-level vocabularies, a
// direct table for pairs of single bytes; repeated pieces hit a small
// direct-mapped cache. Measured on scripts/bench_tokenizer.mjs's 3.2 MB of
// mixed text, the three together made GPT-2 encoding about 4x faster than
// stb_ds maps, which also cost most of a model's load to build.
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef typeof
#define typeof __typeof__  // stb_ds.h's macros use GNU typeof, absent from strict -std=c11
#endif
#include <stb_ds.h>

#include "byte_unicode.h"
#include "tokenizer_impl.h"
#include "unicode_nfc.h"
#include "utf8.h"
#include "util.h"

// ---- output buffer -------------------------------------------------------------

typedef struct {
    int32_t *ids;
    size_t n, cap;
    bool oom;
} id_buf;

static void reserve_ids(id_buf *b, size_t need) {
    if (b->oom || need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    int32_t *p = realloc(b->ids, cap * sizeof *p);
    if (!p) {
        b->oom = true;
        return;
    }
    b->ids = p;
    b->cap = cap;
}

static inline void push_ids(id_buf *b, const int32_t *ids, size_t n) {
    if (b->n + n > b->cap) reserve_ids(b, b->n + n);
    if (b->oom) return;
    for (size_t k = 0; k < n; k++) b->ids[b->n + k] = ids[k];  // n is small: no memcpy call
    b->n += n;
}

// ---- hashing ----------------------------------------------------------------------

// A hash of a short string, eight bytes at a time (never reading past it).
uint64_t piece_hash(const uint8_t *p, size_t n) {
    uint64_t h = n * 0x9E3779B97F4A7C15ull, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    }
    w = 0;
    for (size_t k = 0; k < n; k++) w |= (uint64_t)p[k] << (8 * k);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 32);
}

static inline uint64_t mix64(uint64_t key) { return key * 0x9E3779B97F4A7C15ull; }

// ---- the text index: match text -> id ----------------------------------------------

// The id whose match text is s[0..n), or -1 (open addressing over id + 1).
int32_t text_find(const gpt_tokenizer *t, const uint8_t *s, size_t n) {
    if (!t->text_slot) return -1;
    for (uint64_t h = piece_hash(s, n) & t->text_mask;; h = (h + 1) & t->text_mask) {
        int32_t id = t->text_slot[h] - 1;
        if (id < 0) return -1;
        if (t->moff[id + 1] - t->moff[id] == n && memcmp(t->mtext + t->moff[id], s, n) == 0) return id;
    }
}

// ---- pairs ------------------------------------------------------------------------

static inline uint64_t pair_slot_of(const gpt_tokenizer *t, uint64_t key) { return mix64(key) >> t->pair_shift; }

// The rank of merging tokens a and b (and the merged token), or NO_RANK.
static inline int32_t pair_rank(const gpt_tokenizer *t, int32_t a, int32_t b, int32_t *merged) {
    uint64_t mask = UINT64_MAX >> t->pair_shift;
    if (t->compact) {
        uint32_t key = (uint32_t)a << 16 | (uint32_t)b;
        for (uint64_t h = pair_slot_of(t, key);; h = (h + 1) & mask) {
            pair_slot16 s = t->pair_slots16[h];
            if (s.key == key) {
                *merged = s.merged;
                return s.rank;
            }
            if (s.key == PAIR_EMPTY16) return NO_RANK;
        }
    }
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    for (uint64_t h = pair_slot_of(t, key);; h = (h + 1) & mask) {
        const pair_slot *s = &t->pair_slots[h];
        if (s->key == key) {
            *merged = s->merged;
            return s->rank;
        }
        if (s->key == PAIR_EMPTY) return NO_RANK;
    }
}

// The pair of two single bytes (byte-level vocabularies).
static inline int32_t byte_pair_rank(const gpt_tokenizer *t, uint8_t a, uint8_t b, int32_t *merged) {
    if (t->compact) {
        pair_val16 v = t->byte_pair16[a << 8 | b];
        *merged = v.merged;
        return v.rank == NO_RANK16 ? NO_RANK : v.rank;
    }
    pair_val v = t->byte_pair[a << 8 | b];
    *merged = v.merged;
    return v.rank;
}

// Grow the 64-bit pair table to at least want slots (doubling; 1024 at first)
// and re-insert its pairs.
static int grow_pairs(gpt_tokenizer *t, uint64_t want) {
    uint64_t old_cap = t->pair_slots ? (UINT64_MAX >> t->pair_shift) + 1 : 0;
    uint64_t cap = old_cap ? 2 * old_cap : 1024;
    while (cap < want) cap *= 2;
    pair_slot *old = t->pair_slots, *slots = alloc_table(cap * sizeof *slots);
    if (!slots) return -1;
    for (uint64_t i = 0; i < cap; i++) slots[i].key = PAIR_EMPTY;
    int bits = 0;
    while (((uint64_t)1 << bits) < cap) bits++;
    t->pair_slots = slots;
    t->pair_shift = 64 - bits;
    for (uint64_t i = 0; i < old_cap; i++) {
        if (old[i].key == PAIR_EMPTY) continue;
        uint64_t h = pair_slot_of(t, old[i].key);
        while (slots[h].key != PAIR_EMPTY) h = (h + 1) & (cap - 1);
        slots[h] = old[i];
    }
    free(old);
    return 0;
}

int reserve_pairs(gpt_tokenizer *t, uint64_t n) {
    uint64_t cap = t->pair_slots ? (UINT64_MAX >> t->pair_shift) + 1 : 0;
    return 8 * n > 5 * cap ? grow_pairs(t, (8 * n + 4) / 5) : 0;  // at most 5/8 full
}

void prefetch_pair(const gpt_tokenizer *t, int32_t a, int32_t b) {
    if (t->pair_slots)
        __builtin_prefetch(&t->pair_slots[pair_slot_of(t, (uint64_t)(uint32_t)a << 32 | (uint32_t)b)], 1);
}

int add_pair(gpt_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t cap = t->pair_slots ? (UINT64_MAX >> t->pair_shift) + 1 : 0;
    if (8 * (t->n_pairs + 1) > 5 * cap && grow_pairs(t, 0) != 0) return -1;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b, mask = UINT64_MAX >> t->pair_shift;
    for (uint64_t h = pair_slot_of(t, key);; h = (h + 1) & mask) {
        pair_slot *s = &t->pair_slots[h];
        if (s->key == PAIR_EMPTY) {
            *s = (pair_slot){key, rank, merged};
            t->n_pairs++;
            return 0;
        }
        if (s->key == key) {
            if (rank < s->rank) s->rank = rank, s->merged = merged;
            return 0;
        }
    }
}

int compile_pairs(gpt_tokenizer *t) {
    if (!t->pair_slots && grow_pairs(t, 0) != 0) return -1;
    uint64_t cap = (UINT64_MAX >> t->pair_shift) + 1;
    t->compact = t->n_vocab < 65535;
    for (uint64_t i = 0; i < cap && t->compact; i++)
        t->compact = t->pair_slots[i].key == PAIR_EMPTY || t->pair_slots[i].rank < NO_RANK16;
    bool bytes = t->kind == TOKENIZER_BPE;  // the byte-pair table needs a token for every byte
    if (t->compact) {
        t->pair_slots16 = alloc_table(cap * sizeof *t->pair_slots16);
        if (!t->pair_slots16) return -1;
        for (uint64_t i = 0; i < cap; i++) t->pair_slots16[i].key = PAIR_EMPTY16;
        for (uint64_t i = 0; i < cap; i++) {
            pair_slot p = t->pair_slots[i];
            if (p.key == PAIR_EMPTY) continue;
            uint32_t key16 = (uint32_t)(p.key >> 32) << 16 | (uint32_t)(p.key & 0xFFFF);
            uint64_t h = pair_slot_of(t, key16);
            while (t->pair_slots16[h].key != PAIR_EMPTY16) h = (h + 1) & (cap - 1);
            t->pair_slots16[h] = (pair_slot16){key16, (uint16_t)p.rank, (uint16_t)p.merged};
        }
        free(t->pair_slots);
        t->pair_slots = NULL;
        if (bytes && !(t->byte_pair16 = malloc(65536 * sizeof *t->byte_pair16))) return -1;
    } else if (bytes && !(t->byte_pair = malloc(65536 * sizeof *t->byte_pair))) {
        return -1;
    }
    if (!bytes) return 0;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            int32_t merged = 0, rank = pair_rank(t, t->byte_id[a], t->byte_id[b], &merged);
            if (t->compact)
                t->byte_pair16[a << 8 | b] =
                    (pair_val16){rank == NO_RANK ? NO_RANK16 : (uint16_t)rank, (uint16_t)merged};
            else
                t->byte_pair[a << 8 | b] = (pair_val){rank, merged};
        }
    return 0;
}

// ---- the set of neighbours that pieces join (SentencePiece) -------------------------

// Characters are code points, an invalid byte b is 0x110000 + b; a pair is
// left << 32 | right, kept in an open-addressing set (0: a free slot; no
// pair is 0 since no piece holds two U+0000).
bool joins_has(const gpt_tokenizer *t, uint64_t pair) {
    for (uint64_t h = mix64(pair) >> t->join_shift;; h = (h + 1) & t->join_mask) {
        if (t->joins[h] == pair) return true;
        if (t->joins[h] == 0) return false;
    }
}

// ---- scratch -------------------------------------------------------------------------

static int grow_scratch(gpt_tokenizer *t, size_t n) {
    if (n <= t->scratch_cap) return 0;
    size_t cap = n < 256 ? 256 : n;
    int32_t *a = realloc(t->sym_id, cap * sizeof *a);
    if (a) t->sym_id = a;
    uint64_t *b = realloc(t->sym_pair, cap * sizeof *b);
    if (b) t->sym_pair = b;
    uint32_t *d = realloc(t->sym_next, cap * sizeof *d);
    if (d) t->sym_next = d;
    uint32_t *e = realloc(t->sym_prev, cap * sizeof *e);
    if (e) t->sym_prev = e;
    if (!a || !b || !d || !e) return -1;
    t->scratch_cap = cap;
    return 0;
}

// ---- BPE over symbols ------------------------------------------------------------------

// A pair's rank and merged token in one number: rank << 32 | merged. Pairs
// are compared by rank alone (the high half), so equal ranks go to the
// leftmost.
#define NO_PAIR UINT64_MAX

static inline uint64_t packed_pair(const gpt_tokenizer *t, int32_t a, int32_t b) {
    int32_t merged, rank = pair_rank(t, a, b, &merged);
    return rank == NO_RANK ? NO_PAIR : (uint64_t)(uint32_t)rank << 32 | (uint32_t)merged;
}

// Short pieces: m symbols in t->sym_id with their pairs in t->sym_pair
// (pair[k]: symbols k and k + 1); each step scans for the lowest rank (the
// leftmost on ties) and closes the gap. O(m^2), fast for small m. Returns
// the final count.
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif
// With unique_ranks (every rank makes one token: merges lists and llm.c's
// rule) the whole packed value can be compared, which is cheaper.
static ALWAYS_INLINE size_t bpe_scan(gpt_tokenizer *t, size_t m, bool unique_ranks) {
    int32_t *id = t->sym_id;
    uint64_t *pair = t->sym_pair;
    while (m > 1) {
        size_t best = 0;
        uint64_t lo = pair[0];
        if (unique_ranks) {
            for (size_t k = 1; k + 1 < m; k++)
                if (pair[k] < lo) lo = pair[k], best = k;
        } else {
            for (size_t k = 1; k + 1 < m; k++)
                if ((pair[k] >> 32) < (lo >> 32)) lo = pair[k], best = k;
        }
        if (lo == NO_PAIR) break;
        id[best] = (int32_t)(uint32_t)lo;
        for (size_t k = best + 1; k + 1 < m; k++) id[k] = id[k + 1], pair[k] = pair[k + 1];
        m--;
        if (best > 0) pair[best - 1] = packed_pair(t, id[best - 1], id[best]);
        if (best + 1 < m) pair[best] = packed_pair(t, id[best], id[best + 1]);
    }
    return m;
}

static inline bool heap_less(const heap_item *a, const heap_item *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&x, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = x;
    return top;
}

#define END UINT32_MAX

static void heap_offer(gpt_tokenizer *t, size_t *nh, uint32_t pos, uint32_t right) {
    int32_t merged;
    int32_t r = pair_rank(t, t->sym_id[pos], t->sym_id[right], &merged);
    if (r == NO_RANK) return;
    heap_push(t->heap, nh, (heap_item){r, pos, t->sym_id[pos], t->sym_id[right], merged});
}

// Long pieces: the m symbols in t->sym_id form a linked list; a min-heap
// holds candidate pairs by (rank, position). An entry is stale when either
// symbol has changed since it was pushed; each merge pushes at most two
// entries, so the work is O(m log m).
static int bpe_heap(gpt_tokenizer *t, size_t m, id_buf *out) {
    if (m >= END) return -1;
    if (2 * m > t->heap_cap) {  // m - 1 pairs, then each merge adds at most one net
        size_t cap = 2 * m;
        heap_item *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return -1;
        t->heap = h;
        t->heap_cap = cap;
    }
    int32_t *id = t->sym_id;
    uint32_t *next = t->sym_next, *prev = t->sym_prev;
    for (size_t k = 0; k < m; k++) {
        next[k] = k + 1 < m ? (uint32_t)(k + 1) : END;
        prev[k] = k > 0 ? (uint32_t)(k - 1) : END;
    }
    size_t nh = 0;
    for (size_t k = 0; k + 1 < m; k++) heap_offer(t, &nh, (uint32_t)k, (uint32_t)(k + 1));
    while (nh > 0) {
        heap_item it = heap_pop(t->heap, &nh);
        uint32_t r = next[it.pos];
        if (id[it.pos] != it.left || r == END || id[r] != it.right) continue;  // stale
        id[it.pos] = it.merged;
        id[r] = -1;
        next[it.pos] = next[r];
        if (next[r] != END) prev[next[r]] = it.pos;
        if (prev[it.pos] != END) heap_offer(t, &nh, prev[it.pos], it.pos);
        if (next[it.pos] != END) heap_offer(t, &nh, it.pos, next[it.pos]);
    }
    for (uint32_t k = 0; m && k != END; k = next[k]) push_ids(out, &id[k], 1);
    return 0;
}

// ---- initial symbols ---------------------------------------------------------------

// Byte-level: one symbol a byte; pairs from the byte-pair table.
static ALWAYS_INLINE size_t symbols_of_bytes(gpt_tokenizer *t, const uint8_t *p, size_t n) {
    for (size_t k = 0; k < n; k++) t->sym_id[k] = t->byte_id[p[k]];
    for (size_t k = 0; k + 1 < n; k++) {
        int32_t merged, rank = byte_pair_rank(t, p[k], p[k + 1], &merged);
        t->sym_pair[k] = rank == NO_RANK ? NO_PAIR : (uint64_t)(uint32_t)rank << 32 | (uint32_t)merged;
    }
    return n;
}

// SentencePiece: one symbol a character that is a piece; the <0xNN> pieces of
// its bytes for one that is not (byte fallback), or the unknown piece when the
// vocabulary has no byte pieces.
static size_t symbols_of_chars(gpt_tokenizer *t, const uint8_t *p, size_t n, bool pairs) {
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        int32_t id;
        size_t l;
        if (p[i] < 0x80) {
            l = 1;
            id = t->ascii_id[p[i]];
        } else {
            l = (size_t)utf8_char_len(p, i, n);
            id = l == 3 && p[i] == 0xE2 && p[i + 1] == 0x96 && p[i + 2] == 0x81 ? t->space_id : text_find(t, p + i, l);
        }
        if (id >= 0) {
            t->sym_id[m++] = id;
        } else {
            for (size_t k = 0; k < l; k++) {
                int32_t b = t->byte_id[p[i + k]];
                if (b < 0) {  // no byte pieces: one unknown for the character
                    t->sym_id[m++] = t->unk;
                    break;
                }
                t->sym_id[m++] = b;
            }
        }
        i += l;
    }
    if (pairs)
        for (size_t k = 0; k + 1 < m; k++) t->sym_pair[k] = packed_pair(t, t->sym_id[k], t->sym_id[k + 1]);
    return m;
}

// The piece cache's slot for p[0..n) when it may hold it (NULL otherwise);
// *hit says whether it does, its ids then pushed to out.
static inline cache_slot *cache_lookup(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out, bool *hit) {
    *hit = false;
    if (n > CACHE_LEN || !t->cache) return NULL;
    cache_slot *slot = &t->cache[piece_hash(p, n) & (CACHE_SLOTS - 1)];
    if (slot->len == n && memcmp(slot->bytes, p, n) == 0) {
        push_ids(out, slot->ids, slot->n_ids);
        *hit = true;
    }
    return slot;
}

static inline void cache_store(cache_slot *slot, const uint8_t *p, size_t n, const int32_t *ids, size_t m) {
    if (!slot || m > CACHE_IDS) return;
    slot->len = (uint8_t)n;
    slot->n_ids = (uint8_t)m;
    memcpy(slot->bytes, p, n);
    memcpy(slot->ids, ids, m * sizeof *ids);
}

// Byte-level: one piece of the pre-tokenizer: a single byte, the cache, a
// whole token (ignore_merges), or BPE over its bytes.
static ALWAYS_INLINE void encode_piece_bytes(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    if (n == 1) {
        push_ids(out, &t->byte_id[p[0]], 1);
        return;
    }
    bool hit;
    cache_slot *slot = cache_lookup(t, p, n, out, &hit);
    if (hit) return;
    if (t->ignore_merges) {
        int32_t id = text_find(t, p, n);
        if (id >= 0) {
            push_ids(out, &id, 1);
            return;
        }
    }
    if (grow_scratch(t, n) != 0) {
        out->oom = true;
        return;
    }
    if (n > SMALL_PIECE) {
        for (size_t k = 0; k < n; k++) t->sym_id[k] = t->byte_id[p[k]];
        if (bpe_heap(t, n, out) != 0) out->oom = true;
        return;
    }
    size_t m = bpe_scan(t, symbols_of_bytes(t, p, n), true);
    push_ids(out, t->sym_id, m);
    cache_store(slot, p, n, t->sym_id, m);
}

// SentencePiece: one segment: the cache, or BPE over its characters.
static void encode_piece_chars(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    bool hit;
    cache_slot *slot = cache_lookup(t, p, n, out, &hit);
    if (hit) return;
    if (grow_scratch(t, n) != 0) {
        out->oom = true;
        return;
    }
    if (n > SMALL_PIECE) {
        if (bpe_heap(t, symbols_of_chars(t, p, n, false), out) != 0) out->oom = true;
        return;
    }
    size_t m = t->unique_ranks ? bpe_scan(t, symbols_of_chars(t, p, n, true), true)
                             : bpe_scan(t, symbols_of_chars(t, p, n, true), false);
    push_ids(out, t->sym_id, m);
    cache_store(slot, p, n, t->sym_id, m);
}

// ---- fragments: the text between special tokens ----------------------------------------

// One loop per pre-tokenizer, each in its own function, so that each
// inlines its splitter and the piece encoder as one tight loop.
#define SPLIT_LOOP(name, next)                                               \
    static void name(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) { \
        for (size_t i = 0, j; i < n && !out->oom; i = j) {                   \
            j = next;                                                        \
            encode_piece_bytes(t, p + i, j - i, out);                        \
        }                                                                    \
    }
SPLIT_LOOP(encode_gpt2, next_gpt2(p, i, n, false))
SPLIT_LOOP(encode_smollm, next_gpt2(p, i, n, true))
SPLIT_LOOP(encode_llama3, next_llama3(p, i, n, 3))
SPLIT_LOOP(encode_qwen2, next_llama3(p, i, n, 1))

static void encode_bytelevel(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    switch (t->pre) {
    case PRETOK_LLAMA3: encode_llama3(t, p, n, out); break;
    case PRETOK_QWEN2: encode_qwen2(t, p, n, out); break;
    case PRETOK_SMOLLM: encode_smollm(t, p, n, out); break;
    default: encode_gpt2(t, p, n, out); break;
    }
}

// The character at p[i] as a code point, invalid bytes as 0x110000 + byte.
static inline uint32_t char_key(const uint8_t *p, size_t i, size_t n, size_t *len) {
    uint32_t cp;
    int l = utf8_decode(p, i, n, &cp);
    if (l == 0) {
        *len = 1;
        return 0x110000u + p[i];
    }
    *len = (size_t)l;
    return cp;
}

// SentencePiece: p (already with U+2581 for spaces) cut into segments where
// no piece joins two neighbours.
static void encode_spm_text(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    size_t start = 0, l;
    uint32_t prev = n ? char_key(p, 0, n, &l) : 0;
    for (size_t i = n ? l : 0; i < n && !out->oom;) {
        uint32_t c = char_key(p, i, n, &l);
        if (!joins_has(t, (uint64_t)prev << 32 | c)) {
            encode_piece_chars(t, p + start, i - start, out);
            start = i;
        }
        prev = c;
        i += l;
    }
    if (start < n && !out->oom) encode_piece_chars(t, p + start, n - start, out);
}

// SentencePiece's normalization: every ' ' becomes U+2581, and one U+2581
// goes in front when prefix.
static void encode_spm(gpt_tokenizer *t, const uint8_t *p, size_t n, bool prefix, id_buf *out) {
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += p[i] == ' ';
    size_t cap = n + 2 * spaces + (prefix ? 3 : 0);  // no overflow: n is an in-memory size, spaces <= n
    uint8_t *buf = malloc(cap ? cap : 1), *q = buf;
    if (!buf) {
        out->oom = true;
        return;
    }
    if (prefix) q = memcpy(q, "\xE2\x96\x81", 3), q += 3;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ') {
            memcpy(q, "\xE2\x96\x81", 3);
            q += 3;
        } else {
            *q++ = p[i];
        }
    }
    encode_spm_text(t, buf, (size_t)(q - buf), out);
    free(buf);
}

// One fragment of ordinary text; first: nothing (or a special token) came before.
static void encode_fragment(gpt_tokenizer *t, const uint8_t *p, size_t n, bool after_special, id_buf *out) {
    if (n == 0) return;
    uint8_t *norm = NULL;
    size_t norm_len = 0;
    if (t->nfc) {
        if (unicode_nfc(p, n, &norm, &norm_len) != 0) {
            out->oom = true;
            return;
        }
        if (norm) p = norm, n = norm_len;
    }
    if (t->kind == TOKENIZER_SPM)
        encode_spm(t, p, n, t->add_space_prefix && after_special, out);
    else
        encode_bytelevel(t, p, n, out);
    free(norm);
}

// The next special token at or after pos that encode may match: the leftmost,
// the longest of those that start there (Hugging Face's added-token matcher and
// llama.cpp agree on that). One pass over the text, whatever the number of
// specials (Llama 3 has 256): a byte starts a candidate only if some special
// starts with it.
static const special_token *next_special(const gpt_tokenizer *t, const uint8_t *text, size_t len, size_t pos,
                                         bool allow_special, size_t *at) {
    const uint32_t *from = t->special_from;
    if (from[256] == 0 || !(allow_special || t->any_always)) return NULL;
    for (size_t i = pos; i < len; i++) {
        uint8_t b = text[i];
        if (from[b] == from[b + 1]) continue;
        const special_token *hit = NULL;
        for (uint32_t k = from[b]; k < from[b + 1]; k++) {
            const special_token *sp = &t->specials[k];
            if ((sp->always || allow_special) && sp->len <= len - i && (!hit || sp->len > hit->len) &&
                memcmp(text + i, sp->bytes, sp->len) == 0)
                hit = sp;
        }
        if (hit) {
            *at = i;
            return hit;
        }
    }
    return NULL;
}

int32_t *tokenizer_encode(gpt_tokenizer *t, const uint8_t *text, size_t len, bool allow_special, size_t *n_ids) {
    id_buf out = {0};
    reserve_ids(&out, len / 4 + 16);
    if (!t->cache) t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);  // without it: no caching
    size_t pos = 0;
    bool after_special = true;  // the start of the text counts as one (SentencePiece's prefix)
    while (!out.oom) {
        size_t at = len;
        const special_token *hit = next_special(t, text, len, pos, allow_special, &at);
        size_t end = hit ? at : len;
        if (end > pos) {
            encode_fragment(t, text + pos, end - pos, after_special, &out);
            after_special = false;
        }
        if (!hit) break;
        push_ids(&out, &hit->id, 1);
        after_special = true;
        pos = end + hit->len;
    }
    if (out.oom) {
        free(out.ids);
        return NULL;
    }
    *n_ids = out.n;
    return out.ids;
}

// ---- properties and decoding ---------------------------------------------------------

int tokenizer_n_vocab(const gpt_tokenizer *t) { return t->n_vocab; }
tokenizer_kind tokenizer_kind_of(const gpt_tokenizer *t) { return t->kind; }
const char *tokenizer_description(const gpt_tokenizer *t) { return t->desc; }
int tokenizer_bos_id(const gpt_tokenizer *t) { return t->bos; }
int tokenizer_eos_id(const gpt_tokenizer *t) { return t->eos; }
int tokenizer_eot_id(const gpt_tokenizer *t) { return t->eot; }
bool tokenizer_add_bos(const gpt_tokenizer *t) { return t->add_bos; }
bool tokenizer_add_eos(const gpt_tokenizer *t) { return t->add_eos; }

bool tokenizer_is_eog(const gpt_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

int tokenizer_token_type(const gpt_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->type[id] : 0;
}

const uint8_t *tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = (size_t)(t->offset[id + 1] - t->offset[id]);
    return t->bytes + t->offset[id];
}

const uint8_t *tokenizer_piece(const gpt_tokenizer *t, int32_t id, bool special, bool at_start, size_t *len) {
    const uint8_t *b = tokenizer_token_bytes(t, id, len);
    if (!b) return NULL;
    int type = t->type[id];
    if (!special && (type == TOKEN_CONTROL || type == TOKEN_UNKNOWN)) {
        *len = 0;
        return b;
    }
    if (at_start && t->kind == TOKENIZER_SPM && t->add_space_prefix && *len > 0 && b[0] == ' ' &&
        type == TOKEN_NORMAL) {
        (*len)--;
        return b + 1;
    }
    return b;
}

uint8_t *tokenizer_decode(const gpt_tokenizer *t, const int32_t *ids, size_t n, bool special, size_t *len) {
    uint64_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        size_t nb;
        if (!tokenizer_token_bytes(t, ids[i], &nb)) return NULL;
        cap += nb;
    }
    uint8_t *out = malloc(cap);
    if (!out) return NULL;
    size_t at = 0;
    bool started = false;  // a piece with text came: the prefix space is behind us
    for (size_t i = 0; i < n; i++) {
        size_t nb;
        const uint8_t *b = tokenizer_piece(t, ids[i], special, !started, &nb);
        if (!started) {
            size_t raw;
            tokenizer_piece(t, ids[i], special, false, &raw);
            started = raw > 0;
        }
        memcpy(out + at, b, nb);
        at += nb;
    }
    *len = at;
    return out;
}

void tokenizer_free(gpt_tokenizer *t) {
    if (!t) return;
    free(t->bytes);
    free(t->offset);
    free(t->mtext);
    free(t->moff);
    free(t->text_slot);
    free(t->type);
    free(t->joins);
    free(t->eog);
    free(t->pair_slots);
    free(t->pair_slots16);
    free(t->byte_pair);
    free(t->byte_pair16);
    arrfree(t->specials);
    free(t->cache);
    free(t->sym_id);
    free(t->sym_pair);
    free(t->sym_next);
    free(t->sym_prev);
    free(t->heap);
    free(t);
}

// ---- streaming decoder ----------------------------------------------------------

// How many bytes a sequence starting with lead byte b has (2-4), or 0 if b
// cannot start a multi-byte sequence.
static int utf8_seq_len(uint8_t b) {
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

// Whether p[0..n) (n < the sequence's length) can still grow into a
// well-formed sequence.
static bool utf8_valid_prefix(const uint8_t *p, int n) {
    int need = utf8_seq_len(p[0]);
    if (need == 0 || n >= need) return false;
    for (int k = 1; k < n; k++)
        if (!is_cont(p[k])) return false;
    if (n >= 2) {
        uint8_t b0 = p[0], b1 = p[1];
        if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 > 0x9F) || (b0 == 0xF0 && b1 < 0x90) ||
            (b0 == 0xF4 && b1 > 0x8F))
            return false;
    }
    return true;
}

size_t utf8_stream_push(utf8_stream *s, const uint8_t *in, size_t n, uint8_t *out) {
    // out = pending + in; then hold back an incomplete sequence at its end
    size_t len = (size_t)s->n_pending;
    memcpy(out, s->pending, len);
    memcpy(out + len, in, n);
    len += n;
    s->n_pending = 0;
    size_t lo = len > 3 ? len - 3 : 0;  // an incomplete sequence is at most 3 bytes
    for (size_t k = len; k-- > lo;) {
        if (is_cont(out[k])) continue;
        if (utf8_valid_prefix(out + k, (int)(len - k))) {
            s->n_pending = (int)(len - k);
            memcpy(s->pending, out + k, len - k);
            len = k;
        }
        break;
    }
    return len;
}

size_t utf8_stream_flush(utf8_stream *s, uint8_t *out) {
    size_t n = (size_t)s->n_pending;
    memcpy(out, s->pending, n);
    s->n_pending = 0;
    return n;
}
