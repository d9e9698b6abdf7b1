// tokenizer.c: GPT-2's byte-level BPE, exactly as tiktoken's "gpt2" encoding.
//
//   text -> pieces (pre-tokenizer, over code points) -> bytes of each piece
//        -> merges by lowest rank -> ids
//
// The pre-tokenizer implements tiktoken's pattern by hand:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with the classes of unicode_tables.h (Unicode 16.0, as in tiktoken 1.0.22).
//
// Invalid UTF-8 (which tiktoken, working on Rust strings, never sees): each
// byte that does not start a well-formed sequence is one "character" of class
// OTHER, the class of U+FFFD that Python's tiktoken would put in its place.
// Its raw byte goes through BPE like any other, so decode(encode(x)) == x for
// all bytes, and valid UTF-8 is tokenized exactly as tiktoken does.
//
// Merges: a pair map (left id, right id) -> (rank, merged id), built from a
// build-time index of the tokens (alphabet string -> id). With merges
// (vocab.bpe, GGUF) the rank is the merge's line; without them (llm.c's
// vocabulary) it is the id of the concatenation, tiktoken's rule. At each step
// the adjacent pair of lowest rank is merged, the leftmost on ties. Short
// pieces use a scan of an array (like tiktoken); long ones a binary heap over
// a linked list, O(n log n), so a 100 KB run of one letter takes milliseconds.
//
// Speed: encoding looks pairs up in a flat open-addressing table (8-byte
// slots for GPT-2) plus a direct table for pairs of single bytes; and
// repeated pieces hit a small direct-mapped cache instead of an stb_ds string
// map, whose inserts cost more than they saved on text with many distinct
// words. Measured on scripts/bench_tokenizer.mjs's 3.2 MB of mixed text, the
// three together made encoding about 4x faster than stb_ds maps. Building
// uses open addressing too (no stb_ds maps): with stb_ds's string and pair
// maps, building GPT-2's tokenizer took about 25 ms, most of a model's load.
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#ifndef typeof
#define typeof __typeof__  // stb_ds.h's hm* macros use GNU typeof, absent from strict -std=c11
#endif
#include <stb_ds.h>

#include "byte_unicode.h"
#include "unicode_tables.h"
#include "util.h"

#define NO_RANK INT32_MAX
#define SMALL_PIECE 128         // pieces up to this many bytes use the array scan
#define CACHE_SLOTS (1 << 14)   // the piece cache: 64 bytes a slot, 1 MB
#define CACHE_LEN 26            // longest piece cached
#define CACHE_IDS 9             // most ids a cached piece can have
#define MAX_VOCAB_FILE (256u << 20)

typedef struct {
    int32_t rank;
    int32_t merged;
} pair_val;

// The pair map compiled for encoding: open addressing with linear probing,
// key and value in one slot, so a lookup costs one cache miss. Vocabularies
// of up to 65,535 tokens (GPT-2's 50,257) use 8-byte slots, which keep the
// table (1 MB for GPT-2's 50,000 merges) and the byte-pair table (256 KB)
// mostly in a core's cache; larger ones use 16-byte slots.
typedef struct {
    uint32_t key;  // left << 16 | right; PAIR_EMPTY16: a free slot
    uint16_t rank, merged;
} pair_slot16;
typedef struct {
    uint64_t key;  // left << 32 | right; PAIR_EMPTY: a free slot
    int32_t rank, merged;
} pair_slot;
typedef struct {
    uint16_t rank, merged;  // rank NO_RANK16: no merge
} pair_val16;
#define PAIR_EMPTY UINT64_MAX    // never a key: ids are below 2^31
#define PAIR_EMPTY16 UINT32_MAX  // never a key: ids are below 65535
#define NO_RANK16 UINT16_MAX

// One slot of the piece cache (direct-mapped: a piece has one possible slot,
// and a new piece there replaces the old). One cache line.
typedef struct {
    uint8_t len;    // 0: empty
    uint8_t n_ids;
    uint8_t bytes[CACHE_LEN];
    int32_t ids[CACHE_IDS];
} cache_slot;

typedef struct {
    int32_t id;
    const uint8_t *bytes;
    size_t len;
    size_t next_at;  // encode's scan: where it next occurs (SIZE_MAX: nowhere)
} special_token;

typedef struct {  // a candidate merge in the heap of long pieces
    int32_t rank;
    uint32_t pos;  // byte offset of the left symbol: ties go to the leftmost
    int32_t left, right, merged;
} heap_item;

struct gpt_tokenizer {
    int n_vocab;
    uint8_t *bytes;      // every token's bytes, back to back
    uint64_t *offset;    // [n_vocab + 1]: token i is bytes[offset[i] .. offset[i + 1])
    int32_t byte_id[256];
    // the pairs (left, right) -> (rank, merged), 16-bit when compact, else
    // 32-bit; built in pair_slots, then compiled into pair_slots16 if compact
    bool compact;               // n_vocab and every rank below 65535
    pair_slot16 *pair_slots16;  // compact
    pair_slot *pair_slots;      // otherwise
    uint64_t n_pairs;
    int pair_shift;             // a key's slot: (key * golden) >> pair_shift
    pair_val16 *byte_pair16;    // [256 * 256], compact: the pair of bytes a, b at a << 8 | b
    pair_val *byte_pair;        // [256 * 256], otherwise
    special_token *specials;  // stb_ds array
    int eos_id;

    cache_slot *cache;  // [CACHE_SLOTS], allocated on first use

    // scratch reused by every encode call
    int32_t *sym_id;                          // one entry per symbol
    uint64_t *sym_pair;                       // small pieces: packed pairs
    uint32_t *sym_next, *sym_prev;            // long pieces: one entry per byte
    heap_item *heap;
    size_t scratch_cap;
    size_t heap_cap;
};

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

// ---- UTF-8 and character classes --------------------------------------------------

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
static inline size_t run_end(const uint8_t *p, size_t i, size_t n, int cls) {
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

// ---- pre-tokenizer -------------------------------------------------------------

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

// The end of the piece that starts at i (i < n): the first alternative of
// the pattern that matches at i, as a backtracking regex would choose.
static size_t next_piece(const uint8_t *p, size_t i, size_t n) {
    if (p[i] == '\'') {
        size_t c = contraction_len(p, i, n);
        if (c) return i + c;
    }
    int l0;
    int cls = char_class(p, i, n, &l0);
    if (cls != UCLASS_SPACE) return run_end(p, i + (size_t)l0, n, cls);  // \p{L}+ \p{N}+ [^\s\p{L}\p{N}]+
    if (p[i] == ' ' && i + 1 < n) {  // ' ?' before a letter, number or other
        int l1;
        int c1 = char_class(p, i + 1, n, &l1);
        if (c1 != UCLASS_SPACE) return run_end(p, i + 1 + (size_t)l1, n, c1);
    }
    // \s+(?!\S) | \s+ : a run of white space that is followed by a non-space
    // leaves its last character to the next piece, unless that would leave
    // nothing (a one-character run), or the run ends the text.
    size_t last = i, j = i + (size_t)l0;
    while (j < n) {
        int l;
        if (char_class(p, j, n, &l) != UCLASS_SPACE) break;
        last = j;
        j += (size_t)l;
    }
    if (j == n || last == i) return j;
    return last;
}

// ---- BPE --------------------------------------------------------------------------

static inline uint64_t pair_slot_of(const gpt_tokenizer *t, uint64_t key) {
    return (key * 0x9E3779B97F4A7C15ull) >> t->pair_shift;
}

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

// The pair of two single bytes.
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

// Double the 64-bit pair table (1024 slots at first) and re-insert its pairs.
static int grow_pairs(gpt_tokenizer *t) {
    uint64_t old_cap = t->pair_slots ? (UINT64_MAX >> t->pair_shift) + 1 : 0;
    uint64_t cap = old_cap ? 2 * old_cap : 1024;
    pair_slot *old = t->pair_slots, *slots = malloc(cap * sizeof *slots);
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

// Add pair (a, b) while building: the table stays at most half full, and a
// pair given twice keeps its lowest rank.
static int add_pair(gpt_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged) {
    uint64_t cap = t->pair_slots ? (UINT64_MAX >> t->pair_shift) + 1 : 0;
    if (2 * (t->n_pairs + 1) > cap && grow_pairs(t) != 0) return -1;
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

// Finish the pair map for encoding: the 16-bit table when every id and rank
// fits (it replaces the 64-bit one), then the table of byte pairs.
static int compile_pairs(gpt_tokenizer *t) {
    if (!t->pair_slots && grow_pairs(t) != 0) return -1;
    uint64_t cap = (UINT64_MAX >> t->pair_shift) + 1;
    t->compact = t->n_vocab < 65535;
    for (uint64_t i = 0; i < cap && t->compact; i++)
        t->compact = t->pair_slots[i].key == PAIR_EMPTY || t->pair_slots[i].rank < NO_RANK16;
    if (t->compact) {
        t->pair_slots16 = malloc(cap * sizeof *t->pair_slots16);
        t->byte_pair16 = malloc(65536 * sizeof *t->byte_pair16);
        if (!t->pair_slots16 || !t->byte_pair16) return -1;
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
    } else {
        t->byte_pair = malloc(65536 * sizeof *t->byte_pair);
        if (!t->byte_pair) return -1;
    }
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

// A pair's rank and merged token in one number: rank << 32 | merged, so the
// lowest is the lowest rank (a rank always gives the same merged token).
#define NO_PAIR UINT64_MAX

static inline uint64_t packed_pair(const gpt_tokenizer *t, int32_t a, int32_t b) {
    int32_t merged, rank = pair_rank(t, a, b, &merged);
    return rank == NO_RANK ? NO_PAIR : (uint64_t)(uint32_t)rank << 32 | (uint32_t)merged;
}

// Short pieces: symbols in an array; each step scans for the lowest rank
// (the leftmost on ties) and closes the gap. O(n^2), fast for small n.
// Leaves the ids in t->sym_id and returns their count.
static size_t bpe_small(gpt_tokenizer *t, const uint8_t *p, size_t n) {
    int32_t *id = t->sym_id;
    uint64_t *pair = t->sym_pair;  // pair[k]: symbols k and k + 1
    for (size_t k = 0; k < n; k++) id[k] = t->byte_id[p[k]];
    for (size_t k = 0; k + 1 < n; k++) {
        int32_t merged, rank = byte_pair_rank(t, p[k], p[k + 1], &merged);
        pair[k] = rank == NO_RANK ? NO_PAIR : (uint64_t)(uint32_t)rank << 32 | (uint32_t)merged;
    }
    size_t m = n;
    while (m > 1) {
        size_t best = 0;
        uint64_t lo = pair[0];
        for (size_t k = 1; k + 1 < m; k++)
            if (pair[k] < lo) lo = pair[k], best = k;
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

// Long pieces: symbols form a linked list indexed by their first byte; a
// min-heap holds candidate pairs by (rank, position). An entry is stale when
// either symbol has changed since it was pushed; each merge pushes at most
// two entries, so the work is O(n log n).
static int bpe_long(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    if (n >= END) return -1;
    if (2 * n > t->heap_cap) {  // n - 1 pairs, then each merge adds at most one net
        size_t cap = 2 * n;
        heap_item *h = realloc(t->heap, cap * sizeof *h);
        if (!h) return -1;
        t->heap = h;
        t->heap_cap = cap;
    }
    int32_t *id = t->sym_id;
    uint32_t *next = t->sym_next, *prev = t->sym_prev;
    for (size_t k = 0; k < n; k++) {
        id[k] = t->byte_id[p[k]];
        next[k] = k + 1 < n ? (uint32_t)(k + 1) : END;
        prev[k] = k > 0 ? (uint32_t)(k - 1) : END;
    }
    size_t nh = 0;
    for (size_t k = 0; k + 1 < n; k++) heap_offer(t, &nh, (uint32_t)k, (uint32_t)(k + 1));
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
    for (uint32_t k = 0; k != END; k = next[k]) push_ids(out, &id[k], 1);
    return 0;
}

// A hash of a short piece, eight bytes at a time (never reading past it).
static inline uint64_t piece_hash(const uint8_t *p, size_t n) {
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

// Encode one piece: a single byte, the cache, or BPE.
static void encode_piece(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    if (n == 1) {
        push_ids(out, &t->byte_id[p[0]], 1);
        return;
    }
    cache_slot *slot = NULL;
    if (n <= CACHE_LEN && t->cache) {
        slot = &t->cache[piece_hash(p, n) & (CACHE_SLOTS - 1)];
        if (slot->len == n && memcmp(slot->bytes, p, n) == 0) {
            push_ids(out, slot->ids, slot->n_ids);
            return;
        }
    }
    if (grow_scratch(t, n) != 0) {
        out->oom = true;
        return;
    }
    if (n > SMALL_PIECE) {
        if (bpe_long(t, p, n, out) != 0) out->oom = true;
        return;
    }
    size_t m = bpe_small(t, p, n);
    push_ids(out, t->sym_id, m);
    if (slot && m <= CACHE_IDS) {
        slot->len = (uint8_t)n;
        slot->n_ids = (uint8_t)m;
        memcpy(slot->bytes, p, n);
        memcpy(slot->ids, t->sym_id, m * sizeof *slot->ids);
    }
}

static void encode_ordinary(gpt_tokenizer *t, const uint8_t *p, size_t n, id_buf *out) {
    size_t i = 0;
    while (i < n && !out->oom) {
        size_t j = next_piece(p, i, n);
        encode_piece(t, p + i, j - i, out);
        i = j;
    }
}

static size_t find_bytes(const uint8_t *hay, size_t n, size_t from, const uint8_t *needle, size_t m) {
    if (m == 0) return SIZE_MAX;
    for (size_t i = from; i + m <= n;) {
        const uint8_t *q = memchr(hay + i, needle[0], n - m + 1 - i);
        if (!q) break;
        i = (size_t)(q - hay);
        if (memcmp(q, needle, m) == 0) return i;
        i++;
    }
    return SIZE_MAX;
}

int32_t *tokenizer_encode(gpt_tokenizer *t, const uint8_t *text, size_t len, bool allow_special,
                          size_t *n_ids) {
    id_buf out = {0};
    reserve_ids(&out, len / 4 + 16);
    if (!t->cache) t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);  // without it: no caching
    size_t n_special = allow_special ? (size_t)arrlen(t->specials) : 0;
    for (size_t s = 0; s < n_special; s++)
        t->specials[s].next_at = find_bytes(text, len, 0, t->specials[s].bytes, t->specials[s].len);
    size_t pos = 0;
    while (!out.oom) {
        // the next special token: the leftmost occurrence, the longest on ties
        special_token *hit = NULL;
        for (size_t s = 0; s < n_special; s++) {
            special_token *sp = &t->specials[s];
            if (sp->next_at < pos) sp->next_at = find_bytes(text, len, pos, sp->bytes, sp->len);
            if (sp->next_at != SIZE_MAX &&
                (!hit || sp->next_at < hit->next_at || (sp->next_at == hit->next_at && sp->len > hit->len)))
                hit = sp;
        }
        size_t end = hit ? hit->next_at : len;
        encode_ordinary(t, text + pos, end - pos, &out);
        if (!hit) break;
        push_ids(&out, &hit->id, 1);
        pos = end + hit->len;
    }
    if (out.oom) {
        free(out.ids);
        return NULL;
    }
    *n_ids = out.n;
    return out.ids;
}

// ---- vocabulary --------------------------------------------------------------

int tokenizer_n_vocab(const gpt_tokenizer *t) { return t->n_vocab; }
int tokenizer_eos_id(const gpt_tokenizer *t) { return t->eos_id; }

const uint8_t *tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = (size_t)(t->offset[id + 1] - t->offset[id]);
    return t->bytes + t->offset[id];
}

void tokenizer_free(gpt_tokenizer *t) {
    if (!t) return;
    free(t->bytes);
    free(t->offset);
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

static bool looks_special(gguf_str s) {
    return s.len >= 4 && memcmp(s.ptr, "<|", 2) == 0 && memcmp(s.ptr + s.len - 2, "|>", 2) == 0;
}

// Build-time index of the normal tokens by their text in GPT-2's
// byte-to-unicode alphabet: open addressing over ids (a slot holds id + 1,
// 0 when free), at most half full; a text given twice keeps its first id.
typedef struct {
    const gguf_str *tokens;
    int32_t *slot;
    uint64_t mask;
} vocab_index;

// The id of the normal token with text s (len bytes), or -1.
static int32_t vocab_find(const vocab_index *v, const char *s, size_t len) {
    for (uint64_t h = piece_hash((const uint8_t *)s, len) & v->mask;; h = (h + 1) & v->mask) {
        int32_t id = v->slot[h] - 1;
        if (id < 0) return -1;
        gguf_str tok = v->tokens[id];
        if (tok.len == len && memcmp(tok.ptr, s, len) == 0) return id;
    }
}

static void vocab_add(vocab_index *v, int32_t id) {
    gguf_str tok = v->tokens[id];
    for (uint64_t h = piece_hash((const uint8_t *)tok.ptr, tok.len) & v->mask;; h = (h + 1) & v->mask) {
        int32_t at = v->slot[h] - 1;
        if (at < 0) {
            v->slot[h] = id + 1;
            return;
        }
        if (v->tokens[at].len == tok.len && memcmp(v->tokens[at].ptr, tok.ptr, tok.len) == 0) return;
    }
}

// Decode every token to bytes, find the special ones, index the normal ones.
static int load_tokens(gpt_tokenizer *t, vocab_index *v, const int32_t *types, const char *src, char *err) {
    const gguf_str *tokens = v->tokens;
    uint64_t total = 0, cap = 1;
    for (int i = 0; i < t->n_vocab; i++)
        if (add_u64(total, tokens[i].len, &total) != 0) return gpt_fail(err, "%s: tokens: sizes overflow", src);
    while (cap < 2 * (uint64_t)t->n_vocab) cap *= 2;
    t->bytes = malloc(total ? total : 1);
    t->offset = malloc(((size_t)t->n_vocab + 1) * sizeof *t->offset);
    v->slot = calloc(cap, sizeof *v->slot);
    v->mask = cap - 1;
    if (!t->bytes || !t->offset || !v->slot) return gpt_fail(err, "%s: out of memory for %d tokens", src, t->n_vocab);
    uint64_t at = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        gguf_str s = tokens[i];
        bool special = types ? types[i] == 3 : looks_special(s);
        long nb = unicode_to_bytes(s.ptr, s.len, t->bytes + at);
        t->offset[i] = at;
        if (special) {
            if (nb < 0) {  // not in the alphabet: a special token's text is its own bytes
                memcpy(t->bytes + at, s.ptr, s.len);
                nb = (long)s.len;
            }
            if (nb > 0) arrput(t->specials, ((special_token){i, NULL, (size_t)nb, 0}));
        } else {
            if (nb <= 0 || memchr(s.ptr, 0, s.len))
                return gpt_fail(err, "%s: token %d '%.*s' is %s", src, i, (int)(s.len > 40 ? 40 : s.len), s.ptr,
                                nb == 0 ? "empty" : "not in GPT-2's byte-to-unicode alphabet");
            vocab_add(v, i);
            if (nb == 1 && t->byte_id[t->bytes[at]] < 0) t->byte_id[t->bytes[at]] = i;
        }
        at += (uint64_t)nb;
    }
    t->offset[t->n_vocab] = at;
    for (size_t s = 0; s < (size_t)arrlen(t->specials); s++)  // t->bytes no longer moves
        t->specials[s].bytes = t->bytes + t->offset[t->specials[s].id];
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) return gpt_fail(err, "%s: tokens: no token for the single byte 0x%02X", src, b);
    return 0;
}

// Merges "LEFT RIGHT" in rank order: pair (LEFT, RIGHT) gets rank i.
static int load_merges(gpt_tokenizer *t, const vocab_index *v, const gguf_str *merges, uint64_t n_merges,
                       const char *src, char *err) {
    size_t cap = 0;
    for (uint64_t i = 0; i < n_merges; i++) cap = merges[i].len > cap ? merges[i].len : cap;
    char *buf = malloc(cap + 1);  // LEFT and RIGHT joined
    if (!buf) return gpt_fail(err, "%s: out of memory", src);
    for (uint64_t i = 0; i < n_merges; i++) {
        gguf_str m = merges[i];
        const char *sp = m.len ? memchr(m.ptr, ' ', m.len) : NULL;
        size_t nl = sp ? (size_t)(sp - m.ptr) : 0, nr = sp ? m.len - nl - 1 : 0;
        if (!sp || nl == 0 || nr == 0 || memchr(sp + 1, ' ', nr) || memchr(m.ptr, 0, m.len)) {
            free(buf);
            return gpt_fail(err, "%s: merge %llu '%.*s' is not 'LEFT RIGHT'", src, (unsigned long long)i,
                            (int)(m.len > 40 ? 40 : m.len), m.ptr);
        }
        memcpy(buf, m.ptr, nl);
        memcpy(buf + nl, sp + 1, nr);
        int32_t a = vocab_find(v, m.ptr, nl), b = vocab_find(v, sp + 1, nr), ab = vocab_find(v, buf, nl + nr);
        if (a < 0 || b < 0 || ab < 0) {
            free(buf);
            return gpt_fail(err, "%s: merge %llu '%.*s': '%s' is not in the vocabulary", src,
                            (unsigned long long)i, (int)(m.len > 40 ? 40 : m.len), m.ptr,
                            a < 0 ? "LEFT" : b < 0 ? "RIGHT" : "LEFT+RIGHT");
        }
        if (add_pair(t, a, b, (int32_t)i, ab) != 0) {
            free(buf);
            return gpt_fail(err, "%s: out of memory for %llu merges", src, (unsigned long long)n_merges);
        }
    }
    free(buf);
    return 0;
}

// No merges (llm.c's vocabulary): tiktoken's rule, the rank of a pair is the
// id of its concatenation. Every split of every normal token into two tokens
// is a pair.
static int pairs_from_ranks(gpt_tokenizer *t, const vocab_index *v, const char *src, char *err) {
    size_t maxlen = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        size_t l = (size_t)(t->offset[i + 1] - t->offset[i]);
        maxlen = l > maxlen ? l : maxlen;
    }
    char *buf = malloc(4 * maxlen + 1);  // a split in the alphabet: at most 2 bytes per byte
    if (!buf) return gpt_fail(err, "%s: out of memory", src);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (vocab_find(v, v->tokens[id].ptr, v->tokens[id].len) != id) continue;  // special or a repeat
        const uint8_t *b = t->bytes + t->offset[id];
        size_t len = (size_t)(t->offset[id + 1] - t->offset[id]);
        // the splits below cost len^2 per token: bound len (llm.c's format
        // itself stops at 255 bytes) so that a hostile file cannot hang us
        if (len > 256) {
            free(buf);
            return gpt_fail(err, "%s: token %d is %zu bytes; without merges tokens may be at most 256 bytes", src,
                            id, len);
        }
        for (size_t k = 1; k < len; k++) {
            int32_t l = vocab_find(v, buf, bytes_to_unicode(b, k, buf));
            if (l < 0) continue;
            int32_t r = vocab_find(v, buf, bytes_to_unicode(b + k, len - k, buf));
            if (r < 0) continue;
            if (add_pair(t, l, r, id, id) != 0) {
                free(buf);
                return gpt_fail(err, "%s: out of memory", src);
            }
        }
    }
    free(buf);
    return 0;
}

// tokens_src and merges_src name the sources in error messages.
static int build(gpt_tokenizer **out, const gguf_str *tokens, const int32_t *token_types, uint64_t n_vocab,
                 const gguf_str *merges, uint64_t n_merges, const char *tokens_src, const char *merges_src,
                 char *err) {
    *out = NULL;
    if (n_vocab < 256 || n_vocab > INT32_MAX)
        return gpt_fail(err, "%s: tokens: %llu tokens (need 256 to 2^31-1)", tokens_src,
                        (unsigned long long)n_vocab);
    if (n_merges > INT32_MAX)
        return gpt_fail(err, "%s: merges: too many (%llu)", merges_src, (unsigned long long)n_merges);
    gpt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return gpt_fail(err, "%s: out of memory", tokens_src);
    t->n_vocab = (int)n_vocab;
    t->eos_id = -1;
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    vocab_index v = {tokens, NULL, 0};
    int rc = load_tokens(t, &v, token_types, tokens_src, err);
    if (rc == 0)
        rc = n_merges ? load_merges(t, &v, merges, n_merges, merges_src, err)
                      : pairs_from_ranks(t, &v, tokens_src, err);
    free(v.slot);
    if (rc == 0 && compile_pairs(t) != 0) rc = gpt_fail(err, "%s: out of memory", tokens_src);
    if (rc != 0) {
        tokenizer_free(t);
        return -1;
    }
    for (size_t s = 0; s < (size_t)arrlen(t->specials); s++) {
        const special_token *sp = &t->specials[s];
        if (sp->len == 13 && memcmp(sp->bytes, "<|endoftext|>", 13) == 0) t->eos_id = sp->id;
    }
    *out = t;
    return 0;
}

int tokenizer_build(gpt_tokenizer **out, const gguf_str *tokens, const int32_t *token_types,
                    uint64_t n_vocab, const gguf_str *merges, uint64_t n_merges, const char *src,
                    char *err) {
    return build(out, tokens, token_types, n_vocab, merges, n_merges, src, src, err);
}

// ---- loaders ------------------------------------------------------------------

int tokenizer_from_gguf(gpt_tokenizer **out, const gguf_ctx *g, char *err) {
    *out = NULL;
    const char *src = gguf_path(g)[0] ? gguf_path(g) : "(in-memory GGUF)";
    const gguf_kv *model = gguf_find_kv(g, "tokenizer.ggml.model");
    if (model && !(model->type == GGUF_TYPE_STRING && gguf_str_eq(model->v.s, "gpt2")))
        return gpt_fail(err, "%s: tokenizer.ggml.model: only \"gpt2\" (byte-level BPE) is supported", src);
    const gguf_kv *tokens, *types = NULL, *merges = NULL;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens, err) != 0) return -1;
    uint64_t n = tokens->v.arr.n;
    if (gguf_find_kv(g, "tokenizer.ggml.token_type")) {
        if (gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &types, err) != 0) return -1;
        if (types->v.arr.n != n)
            return gpt_fail(err, "%s: tokenizer.ggml.token_type: %llu entries for %llu tokens", src,
                            (unsigned long long)types->v.arr.n, (unsigned long long)n);
    }
    if (gguf_find_kv(g, "tokenizer.ggml.merges") &&
        gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, err) != 0)
        return -1;
    int32_t *type_vals = NULL;
    if (types) {  // the array is packed little-endian and may be unaligned in the map
        type_vals = malloc(n * sizeof *type_vals + 1);
        if (!type_vals) return gpt_fail(err, "%s: out of memory", src);
        memcpy(type_vals, types->v.arr.data, n * sizeof *type_vals);
    }
    int rc = tokenizer_build(out, tokens->v.arr.data, type_vals, n, merges ? merges->v.arr.data : NULL,
                             merges ? merges->v.arr.n : 0, src, err);
    free(type_vals);
    if (rc != 0) return -1;
    if (gguf_find_kv(g, "tokenizer.ggml.eos_token_id")) {
        uint64_t eos = 0;
        rc = gguf_get_uint(g, "tokenizer.ggml.eos_token_id", &eos, err);
        if (rc == 0 && eos >= n)
            rc = gpt_fail(err, "%s: tokenizer.ggml.eos_token_id: %llu is not below the %llu tokens", src,
                          (unsigned long long)eos, (unsigned long long)n);
        if (rc != 0) {
            tokenizer_free(*out);
            *out = NULL;
            return -1;
        }
        (*out)->eos_id = (int)eos;
    }
    return 0;
}

// encoder.json / vocab.json: {"token": id, ...} with ids 0..n-1, each once.
static int read_vocab_json(const char *path, cJSON **root, gguf_str **tokens, uint64_t *n, char *err) {
    char *text;
    size_t len;
    if (read_file_all(path, MAX_VOCAB_FILE, &text, &len, err) != 0) return -1;
    *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*root || !cJSON_IsObject(*root)) return gpt_fail(err, "%s: not a JSON object of token ids", path);
    int count = cJSON_GetArraySize(*root);
    *tokens = calloc(count > 0 ? (size_t)count : 1, sizeof **tokens);
    if (!*tokens) return gpt_fail(err, "%s: out of memory", path);
    for (cJSON *it = (*root)->child; it; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (v < 0 || v >= count || v != (double)(int)v)
            return gpt_fail(err, "%s: token '%.40s': id is not a whole number in [0, %d)", path, it->string, count);
        gguf_str *slot = &(*tokens)[(int)v];
        if (slot->ptr) return gpt_fail(err, "%s: id %d is given to two tokens", path, (int)v);
        slot->ptr = it->string;
        slot->len = strlen(it->string);
    }
    *n = (uint64_t)count;
    return 0;
}

// vocab.bpe / merges.txt: an optional "#version" line, then "LEFT RIGHT" per line.
static int read_merges_txt(const char *path, char **text, gguf_str **merges, uint64_t *n, char *err) {
    size_t len;
    if (read_file_all(path, MAX_VOCAB_FILE, text, &len, err) != 0) return -1;
    char *p = *text, *end = *text + len;
    if (len >= 9 && memcmp(p, "#version:", 9) == 0) {
        char *nl = memchr(p, '\n', len);
        p = nl ? nl + 1 : end;
    }
    for (char *line = p; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl ? nl : end;
        size_t l = (size_t)(stop - line);
        if (l && line[l - 1] == '\r') l--;
        if (l) arrput(*merges, ((gguf_str){l, line}));
        line = stop + 1;
    }
    *n = (uint64_t)arrlen(*merges);
    return 0;
}

int tokenizer_from_files(gpt_tokenizer **out, const char *vocab_json, const char *merges_txt, char *err) {
    *out = NULL;
    cJSON *root = NULL;
    gguf_str *tokens = NULL, *merges = NULL;
    char *merges_text = NULL;
    uint64_t n_tokens = 0, n_merges = 0;
    int rc = read_vocab_json(vocab_json, &root, &tokens, &n_tokens, err);
    if (rc == 0) rc = read_merges_txt(merges_txt, &merges_text, &merges, &n_merges, err);
    if (rc == 0 && n_merges == 0) rc = gpt_fail(err, "%s: no merges", merges_txt);
    if (rc == 0) rc = build(out, tokens, NULL, n_tokens, merges, n_merges, vocab_json, merges_txt, err);
    cJSON_Delete(root);
    free(tokens);
    arrfree(merges);
    free(merges_text);
    return rc;
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
