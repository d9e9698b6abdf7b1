// unicode_nfc.c: NFC (UAX #15) over possibly invalid UTF-8; see unicode_nfc.h.
//
// How: the quick check finds where the text stops being certainly NFC; from the last
// starter before that point to the next "boundary" (a starter with NFC_QC=Yes, which
// nothing before it can combine with or reorder across) is a region that normalizes
// on its own: decompose it into code points, put each run of non-starters in
// canonical order, compose. The text between regions is copied as it is. The output
// is allocated only when some region actually changes, so NFC text whose quick check
// says Maybe (Tamil, Malayalam, lone combining marks...) costs no copy either.
#include "unicode_nfc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_nfc_tables.h"

// ---- code points and their properties -------------------------------------------

// Hangul syllables and conjoining jamo (The Unicode Standard, section 3.12).
enum {
    S_BASE = 0xAC00,
    L_BASE = 0x1100,
    V_BASE = 0x1161,
    T_BASE = 0x11A7,
    L_COUNT = 19,
    V_COUNT = 21,
    T_COUNT = 28,
    N_COUNT = V_COUNT * T_COUNT,
    S_COUNT = L_COUNT * N_COUNT,
};

// Code points below these skip the table: below U+0300 (the first combining mark)
// all are starters with NFC_QC=Yes, below U+00C0 none decomposes.
#define FIRST_NOT_YES UNICODE_NFC_FIRST_NOT_YES
#define FIRST_DECOMP UNICODE_NFC_FIRST_DECOMP

// A decoded unit is a code point, or INVALID_BASE + b for a byte b that starts no
// well-formed sequence. It lies past the tables, so its props are 0: a starter that
// has no decomposition and composes with nothing.
#define INVALID_BASE 0x110000u

// The bounds the buffers are sized by (unicode_nfc.h and decompose_unit).
_Static_assert(UNICODE_NFC_TABLES_GROWTH <= UNICODE_NFC_MAX_GROWTH, "NFC grows UTF-8 more than documented");
_Static_assert(UNICODE_NFC_MAX_DECOMP <= 4, "decompositions longer than decompose_unit allows");

// Decomposed units carry their combining class in the top byte (code points and
// INVALID_BASE + b fit in 21 bits), so ordering them needs no more lookups.
#define UNIT_MASK 0xFFFFFFu
#define CCC_SHIFT 24

static inline uint16_t props_of(uint32_t cp) {
    uint32_t block = cp >> UNICODE_NFC_BLOCK_SHIFT;
    if (block >= UNICODE_NFC_STAGE1_LEN) return 0;
    return unicode_nfc_stage2[unicode_nfc_stage1[block]][cp & ((1u << UNICODE_NFC_BLOCK_SHIFT) - 1)];
}

static inline unsigned ccc_of(uint32_t cp) { return props_of(cp) & UNICODE_NFC_CCC_MASK; }

static inline bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// The unit at s[i] (i < n) and its length in bytes: a well-formed sequence (The
// Unicode Standard, table 3-7), else the single byte s[i] as an invalid unit.
static inline uint32_t next_unit(const uint8_t *s, size_t i, size_t n, size_t *len) {
    uint8_t b0 = s[i];
    size_t left = n - i;
    *len = 1;
    if (b0 < 0x80) return b0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (left < 2 || !is_cont(s[i + 1])) return INVALID_BASE + b0;
        *len = 2;
        return ((uint32_t)(b0 & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left < 3 || !is_cont(s[i + 1]) || !is_cont(s[i + 2])) return INVALID_BASE + b0;
        if ((b0 == 0xE0 && s[i + 1] < 0xA0) || (b0 == 0xED && s[i + 1] > 0x9F))
            return INVALID_BASE + b0;  // overlong, or a surrogate
        *len = 3;
        return ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left < 4 || !is_cont(s[i + 1]) || !is_cont(s[i + 2]) || !is_cont(s[i + 3]))
            return INVALID_BASE + b0;
        if ((b0 == 0xF0 && s[i + 1] < 0x90) || (b0 == 0xF4 && s[i + 1] > 0x8F))
            return INVALID_BASE + b0;  // overlong, or above U+10FFFF
        *len = 4;
        return ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
               ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    }
    return INVALID_BASE + b0;  // a continuation byte, C0, C1 or F5..FF
}

// The end of the run of ASCII bytes starting at s[i], eight bytes at a time.
static inline size_t skip_ascii(const uint8_t *s, size_t i, size_t n) {
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
    }
    while (i < n && s[i] < 0x80) i++;
    return i;
}

// ---- finding what needs normalizing ----------------------------------------------

// The quick check from s[0]: the length of the prefix that is certainly NFC and stays
// so (see unicode_nfc_quick_prefix), and in *stop where the character that ended it
// starts (n when none did). Everything before *stop is NFC_QC=Yes, so the last
// starter before it is a boundary: nothing earlier can combine with what follows.
static size_t quick_check(const uint8_t *s, size_t n, size_t *stop) {
    size_t i = 0, last_starter = 0;
    unsigned last_ccc = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i = skip_ascii(s, i, n);
            last_starter = i - 1;
            last_ccc = 0;
            continue;
        }
        size_t len;
        uint32_t cp = next_unit(s, i, n, &len);
        uint16_t p = cp < FIRST_NOT_YES ? 0 : props_of(cp);
        unsigned ccc = p & UNICODE_NFC_CCC_MASK;
        if ((p & (UNICODE_NFC_QC_NO | UNICODE_NFC_QC_MAYBE)) || (ccc != 0 && ccc < last_ccc)) {
            *stop = i;
            return last_starter;
        }
        if (ccc == 0) last_starter = i;
        last_ccc = ccc;
        i += len;
    }
    *stop = n;
    return n;
}

size_t unicode_nfc_quick_prefix(const uint8_t *s, size_t n) {
    size_t stop;
    return quick_check(s, n, &stop);
}

// Where the first boundary at or after s[i] starts: a starter with NFC_QC=Yes (an
// invalid byte is one), before which the text can be cut and each side normalized
// alone. n when there is none.
static size_t next_boundary(const uint8_t *s, size_t i, size_t n) {
    while (i < n) {
        if (s[i] < 0x80) return i;
        size_t len;
        uint32_t cp = next_unit(s, i, n, &len);
        uint16_t p = props_of(cp);
        if ((p & (UNICODE_NFC_CCC_MASK | UNICODE_NFC_QC_NO | UNICODE_NFC_QC_MAYBE)) == 0) return i;
        i += len;
    }
    return n;
}

// ---- decomposition ----------------------------------------------------------------

static inline uint32_t unit_with_ccc(uint32_t cp) { return (uint32_t)ccc_of(cp) << CCC_SHIFT | cp; }

// The index of cp in the decomposition table (it has the HAS_DECOMP bit, so it is there).
static size_t decomp_index(uint32_t cp) {
    size_t lo = 0, hi = UNICODE_NFC_DECOMP_COUNT;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_nfc_decomp_keys[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return lo;
}

// Appends the full canonical decomposition of the unit cp to u; returns how many
// units it wrote (at most UNICODE_NFC_MAX_DECOMP, and at most 2 per byte of cp's
// UTF-8 form: the generator checks both).
static size_t decompose_unit(uint32_t cp, uint32_t *u) {
    if (cp < FIRST_DECOMP) {
        u[0] = cp;
        return 1;
    }
    uint32_t s_index = cp - S_BASE;
    if (s_index < S_COUNT) {  // Hangul syllable: L V (T); jamo are starters
        u[0] = L_BASE + s_index / N_COUNT;
        u[1] = V_BASE + s_index % N_COUNT / T_COUNT;
        if (s_index % T_COUNT == 0) return 2;
        u[2] = T_BASE + s_index % T_COUNT;
        return 3;
    }
    uint16_t p = props_of(cp);
    if (!(p & UNICODE_NFC_HAS_DECOMP)) {
        u[0] = (uint32_t)(p & UNICODE_NFC_CCC_MASK) << CCC_SHIFT | cp;
        return 1;
    }
    size_t i = decomp_index(cp), begin = unicode_nfc_decomp_offsets[i], end = unicode_nfc_decomp_offsets[i + 1];
    for (size_t k = begin; k < end; k++) u[k - begin] = unit_with_ccc(unicode_nfc_decomp_data[k]);
    return end - begin;
}

// Decomposes s[0, n) into u (room for 2 * n units); returns the count.
static size_t decompose(const uint8_t *s, size_t n, uint32_t *u) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        uint32_t cp = next_unit(s, i, n, &len);
        k += decompose_unit(cp, u + k);
        i += len;
    }
    return k;
}

// ---- canonical ordering -----------------------------------------------------------

static inline unsigned unit_ccc(uint32_t u) { return u >> CCC_SHIFT; }

// Runs up to this long are insertion-sorted; longer ones (rare, and quadratic for
// insertion sort: a hostile text can be one long run) are counting-sorted.
#define SHORT_RUN 32

static void insertion_sort_by_ccc(uint32_t *u, size_t n) {
    for (size_t i = 1; i < n; i++) {
        uint32_t x = u[i];
        size_t j = i;
        for (; j > 0 && unit_ccc(u[j - 1]) > unit_ccc(x); j--) u[j] = u[j - 1];
        u[j] = x;
    }
}

// Stable: units of one class keep their order. tmp has room for n units.
static void counting_sort_by_ccc(uint32_t *u, size_t n, uint32_t *tmp) {
    size_t start[257] = {0};
    for (size_t i = 0; i < n; i++) start[unit_ccc(u[i]) + 1]++;
    for (int c = 1; c <= 256; c++) start[c] += start[c - 1];
    for (size_t i = 0; i < n; i++) tmp[start[unit_ccc(u[i])]++] = u[i];
    memcpy(u, tmp, n * sizeof *u);
}

// ---- scratch memory ---------------------------------------------------------------

// Buffers one unicode_nfc call reuses across its regions.
typedef struct {
    uint32_t *units;  // the region's units
    size_t units_cap;
    uint32_t *sort_tmp;  // for counting sort
    size_t sort_cap;
    uint8_t *bytes;  // the region normalized, as UTF-8
    size_t bytes_cap;
} scratch;

// Makes *buf hold at least need elements of size elem (contents not kept).
static int reserve(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    if (need > SIZE_MAX / elem) return -1;
    size_t want = need < SIZE_MAX / elem / 2 ? need * 2 : need;  // amortize the next region
    void *p = malloc(want * elem);
    if (!p) return -1;
    free(*buf);
    *buf = p;
    *cap = want;
    return 0;
}

static void scratch_free(scratch *sc) {
    free(sc->units);
    free(sc->sort_tmp);
    free(sc->bytes);
}

// Puts each run of non-starters of u[0, n) in canonical order (stable by class).
static int order_canonically(scratch *sc, uint32_t *u, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (unit_ccc(u[i]) == 0) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && unit_ccc(u[j]) != 0) j++;
        if (j - i <= SHORT_RUN) {
            insertion_sort_by_ccc(u + i, j - i);
        } else {
            if (reserve((void **)&sc->sort_tmp, &sc->sort_cap, j - i, sizeof *sc->sort_tmp)) return -1;
            counting_sort_by_ccc(u + i, j - i, sc->sort_tmp);
        }
        i = j;
    }
    return 0;
}

// ---- canonical composition --------------------------------------------------------

// The primary composite of the pair (a, b), or 0 when there is none. Only b's that
// are NFC_QC=Maybe ever compose with what precedes them, which rules out most pairs
// at the cost of one lookup.
static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (!(props_of(b) & UNICODE_NFC_QC_MAYBE)) return 0;
    if (a - L_BASE < L_COUNT && b - V_BASE < V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;  // LV
    if (a - S_BASE < S_COUNT && (a - S_BASE) % T_COUNT == 0 && b - (T_BASE + 1) < T_COUNT - 1)
        return a + (b - T_BASE);  // LV + T -> LVT (T_BASE itself is no trailing consonant)
    if (!(props_of(a) & UNICODE_NFC_COMPOSES_FORWARD)) return 0;
    uint64_t key = (uint64_t)a << 21 | b;
    size_t lo = 0, hi = UNICODE_NFC_COMP_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (unicode_nfc_comp_keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo < UNICODE_NFC_COMP_COUNT && unicode_nfc_comp_keys[lo] == key ? unicode_nfc_comp_values[lo] : 0;
}

// Canonical composition of u[0, n) (decomposed and in canonical order), in place;
// returns the new count. Each unit tries to combine with the last starter kept, unless
// it is blocked from it: some unit kept in between is a starter or has a class at
// least its own (kept units after a starter are in class order, so checking the last
// one suffices). Composites are starters (the generator checks), so they need no class.
static size_t compose(uint32_t *u, size_t n) {
    size_t kept = 0, starter = 0;
    bool have_starter = false;
    int last_ccc = -1;  // class of the last unit kept after the starter; -1: none kept yet
    for (size_t i = 0; i < n; i++) {
        uint32_t x = u[i];
        unsigned ccc = unit_ccc(x);
        if (have_starter && (last_ccc < 0 || (ccc != 0 && (unsigned)last_ccc < ccc))) {
            uint32_t c = compose_pair(u[starter] & UNIT_MASK, x & UNIT_MASK);
            if (c) {
                u[starter] = c;
                continue;
            }
        }
        if (ccc == 0) {
            starter = kept;
            have_starter = true;
            last_ccc = -1;
        } else {
            last_ccc = (int)ccc;
        }
        u[kept++] = x;
    }
    return kept;
}

// ---- encoding ---------------------------------------------------------------------

static inline size_t utf8_len(uint32_t u) {
    if (u >= INVALID_BASE) return 1;
    return u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
}

static uint8_t *put_unit(uint8_t *p, uint32_t u) {
    if (u >= INVALID_BASE) {
        *p++ = (uint8_t)(u - INVALID_BASE);  // the invalid byte, as it was
    } else if (u < 0x80) {
        *p++ = (uint8_t)u;
    } else if (u < 0x800) {
        *p++ = (uint8_t)(0xC0 | u >> 6);
        *p++ = (uint8_t)(0x80 | (u & 0x3F));
    } else if (u < 0x10000) {
        *p++ = (uint8_t)(0xE0 | u >> 12);
        *p++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
        *p++ = (uint8_t)(0x80 | (u & 0x3F));
    } else {
        *p++ = (uint8_t)(0xF0 | u >> 18);
        *p++ = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
        *p++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
        *p++ = (uint8_t)(0x80 | (u & 0x3F));
    }
    return p;
}

// ---- one region -------------------------------------------------------------------

// NFC of s[0, n), a region from one boundary to the next, into sc->bytes; its length
// in *len.
static int normalize_region(scratch *sc, const uint8_t *s, size_t n, size_t *len) {
    // A byte becomes at most 2 units (see decompose_unit); the guard keeps 2 * n units'
    // bytes representable (and with it UNICODE_NFC_MAX_GROWTH * n output bytes).
    if (n > SIZE_MAX / (2 * sizeof(uint32_t))) return -1;
    if (reserve((void **)&sc->units, &sc->units_cap, 2 * n, sizeof *sc->units)) return -1;
    size_t k = decompose(s, n, sc->units);
    if (order_canonically(sc, sc->units, k)) return -1;
    k = compose(sc->units, k);
    size_t bytes = 0;
    for (size_t i = 0; i < k; i++) bytes += utf8_len(sc->units[i] & UNIT_MASK);
    if (reserve((void **)&sc->bytes, &sc->bytes_cap, bytes, 1)) return -1;
    uint8_t *p = sc->bytes;
    for (size_t i = 0; i < k; i++) p = put_unit(p, sc->units[i] & UNIT_MASK);
    *len = bytes;
    return 0;
}

// ---- the output -------------------------------------------------------------------

typedef struct {
    uint8_t *p;
    size_t len, cap;
} byte_buf;

static int append(byte_buf *b, const uint8_t *s, size_t n) {
    if (n > SIZE_MAX - b->len) return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap > SIZE_MAX / 2 ? SIZE_MAX : b->cap * 2;
        if (cap < b->len + n) cap = b->len + n;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

// The slow path: s[0, pos) is NFC and stays so, and the quick check stopped at s[stop].
static int normalize_rest(const uint8_t *s, size_t n, size_t pos, size_t stop, uint8_t **out,
                          size_t *out_len) {
    scratch sc = {0};
    byte_buf o = {0};  // stays empty until a region changes: s may well be NFC after all
    size_t copied = 0;  // o holds the NFC of s[0, copied)
    for (;;) {
        size_t char_len;
        next_unit(s, stop, n, &char_len);
        size_t end = next_boundary(s, stop + char_len, n), len;
        if (normalize_region(&sc, s + pos, end - pos, &len)) goto fail;
        if (len != end - pos || memcmp(sc.bytes, s + pos, len) != 0) {
            if (!o.p) {
                o.cap = n < SIZE_MAX - n / 8 - 64 ? n + n / 8 + 64 : n;
                if (!(o.p = malloc(o.cap))) goto fail;
            }
            if (append(&o, s + copied, pos - copied) || append(&o, sc.bytes, len)) goto fail;
            copied = end;
        }
        if (end == n) break;
        pos = end + quick_check(s + end, n - end, &stop);
        stop += end;
        if (pos == n) break;
    }
    scratch_free(&sc);
    if (!o.p) return 0;  // every region was NFC already
    if (append(&o, s + copied, n - copied)) goto fail_out;
    uint8_t *fit = realloc(o.p, o.len);  // give back the slack; o.len > 0 here
    *out = fit ? fit : o.p;
    *out_len = o.len;
    return 0;
fail:
    scratch_free(&sc);
fail_out:
    free(o.p);
    return -1;
}

int unicode_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = n;
    size_t stop;
    size_t pos = quick_check(s, n, &stop);
    if (pos == n) return 0;
    int rc = normalize_rest(s, n, pos, stop, out, out_len);
    if (rc) *out_len = 0;
    return rc;
}
