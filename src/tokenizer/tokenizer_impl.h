// tokenizer_impl.h: the tokenizer's insides, shared by tokenizer.c (the BPE
// engine, encoding, decoding) and tokenizer_build.c (building one from a
// tokenizer_spec). Nothing outside src/tokenizer/ includes it.
#ifndef GPT_TOKENIZER_IMPL_H
#define GPT_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

#define NO_RANK INT32_MAX
#define SMALL_PIECE 128         // pieces up to this many bytes use the array scan
#define CACHE_SLOTS (1 << 14)   // the piece cache: 64 bytes a slot, 1 MB
#define CACHE_LEN 26            // longest piece cached
#define CACHE_IDS 9             // most ids a cached piece can have

typedef struct {
    int32_t rank;
    int32_t merged;
} pair_val;

// The pair map compiled for encoding: open addressing with linear probing,
// key and value in one slot, so a lookup costs one cache miss. Vocabularies
// of up to 65,535 tokens (GPT-2's 50,257, Llama 2's 32,000) use 8-byte
// slots; larger ones (Llama 3's 128,256) 16-byte slots.
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

// A token matched as a whole string in text before anything else:
// USER_DEFINED ones always, CONTROL (and UNKNOWN) ones with allow_special.
typedef struct {
    int32_t id;
    const uint8_t *bytes;
    size_t len;
    bool always;
} special_token;

typedef struct {  // a candidate merge in the heap of long pieces
    int32_t rank;
    uint32_t pos;  // index of the left symbol: ties go to the leftmost
    int32_t left, right, merged;
} heap_item;

struct gpt_tokenizer {
    tokenizer_kind kind;
    pretok_kind pre;
    bool ignore_merges, add_space_prefix, nfc;
    bool unique_ranks;   // every rank makes one token (not SentencePiece scores)
    int n_vocab;
    char desc[64];
    uint8_t *type;       // [n_vocab] TOKEN_*
    uint8_t *bytes;      // every token's text as decoded bytes, back to back
    uint64_t *offset;    // [n_vocab + 1]: token i is bytes[offset[i] .. offset[i + 1])
    // the text encoding matches: byte-level, the decoded bytes of NORMAL
    // tokens (kept only with ignore_merges); SentencePiece, the pieces as
    // written (U+2581 for spaces). An index over it: id + 1 per slot, 0 free.
    uint8_t *mtext;
    uint64_t *moff;      // [n_vocab + 1]
    int32_t *text_slot;
    uint64_t text_mask;
    int32_t byte_id[256];   // byte-level: the token of each byte; SentencePiece: <0xNN>, or -1
    int32_t ascii_id[128];  // SentencePiece: the piece of each ASCII character, or -1
    int32_t space_id;       // SentencePiece: the piece U+2581, or -1
    uint64_t *joins;        // SentencePiece: neighbour pairs inside pieces (set; 0 free)
    uint64_t join_mask;
    int join_shift;
    // the pairs (left, right) -> (rank, merged), 16-bit when compact, else
    // 32-bit; built in pair_slots, then compiled into pair_slots16 if compact
    bool compact;
    pair_slot16 *pair_slots16;
    pair_slot *pair_slots;
    uint64_t n_pairs;
    int pair_shift;             // a key's slot: (key * golden) >> pair_shift
    pair_val16 *byte_pair16;    // [256 * 256], byte-level and compact
    pair_val *byte_pair;        // [256 * 256], byte-level otherwise
    special_token *specials;    // stb_ds array, sorted by first byte
    uint32_t special_from[257]; // specials[special_from[b] .. special_from[b + 1]) start with byte b
    bool any_always;            // some special matches without allow_special (USER_DEFINED)
    int32_t bos, eos, eot, eom, pad, unk;
    bool add_bos, add_eos;
    int32_t *eog;               // ids that end generation
    int n_eog;

    cache_slot *cache;  // [CACHE_SLOTS], allocated on first use

    // scratch reused by every encode call
    int32_t *sym_id;                          // one entry per symbol
    uint64_t *sym_pair;                       // small pieces: packed pairs
    uint32_t *sym_next, *sym_prev;            // long pieces: one entry per symbol
    heap_item *heap;
    size_t scratch_cap;
    size_t heap_cap;
};

uint64_t piece_hash(const uint8_t *p, size_t n);
int32_t text_find(const gpt_tokenizer *t, const uint8_t *s, size_t n);
bool joins_has(const gpt_tokenizer *t, uint64_t pair);
// Add pair (a, b) while building: the table stays at most half full, and a
// pair given twice keeps its lowest rank.
int reserve_pairs(gpt_tokenizer *t, uint64_t n);  // room for n pairs without growing
int add_pair(gpt_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged);
void prefetch_pair(const gpt_tokenizer *t, int32_t a, int32_t b);  // the slot add_pair will touch
// Finish the pair map for encoding: the 16-bit table when every id and rank
// fits (it replaces the 64-bit one), then the byte-level table of byte pairs.
int compile_pairs(gpt_tokenizer *t);

#endif
