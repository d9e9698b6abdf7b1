// test_unicode_nfc.c: unicode_nfc against Unicode's conformance file.
//
//   test_unicode_nfc [NormalizationTest.txt]
//
// The reference is NormalizationTest.txt from Debian's unicode-data package
// (/usr/share/unicode, shipped bzip2-compressed: read through `bzip2 -dc`); the test
// fails when it cannot be read. DerivedAge.txt beside it tells which code points the
// tables know (they stop at UNICODE_NFC_VERSION, the version Hugging Face tokenizers
// normalizes with; see scripts/gen_unicode_nfc.py): lines with a code point assigned
// later are skipped, and such code points must come out unchanged. Checked:
//   every line: c2 == NFC(c1) == NFC(c2) == NFC(c3) and c4 == NFC(c4) == NFC(c5)
//   every code point alone: NFC(X) == c2 of its Part 1 line, or X when it has none
//   on all of those strings and on random concatenations of them: the prefix that
//     unicode_nfc_quick_prefix claims is kept by NFC, NFC is idempotent, and a copy
//     is made exactly when the text changes
//   invalid UTF-8 passes through and blocks reordering and composition
//   long runs of combining marks (the counting-sort path) and random bytes
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unicode_nfc.h"
#include "unicode_nfc_tables.h"

#include "check.h"

#define UCD_DIR "/usr/share/unicode/"
#define N_CP 0x110000
#define MAX_REPORTS 20

// CHECK that prints only the first MAX_REPORTS failures: a broken table fails
// thousands of lines at once.
#define CHECK_SOME(cond, ...)                                        \
    do {                                                             \
        checks++;                                                    \
        if (!(cond) && failures++ < MAX_REPORTS) {                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);     \
            fprintf(stderr, __VA_ARGS__);                            \
            fputc('\n', stderr);                                     \
        }                                                            \
    } while (0)

// ---- strings ----------------------------------------------------------------------

typedef struct {
    uint8_t *p;
    size_t len;
} str;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static size_t put_utf8(uint8_t *p, uint32_t cp) {
    if (cp < 0x80) {
        p[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (uint8_t)(0xC0 | cp >> 6);
        p[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (uint8_t)(0xE0 | cp >> 12);
        p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (uint8_t)(0xF0 | cp >> 18);
    p[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static str str_of_cps(const uint32_t *cps, size_t n) {
    str s = {xmalloc(4 * n), 0};
    for (size_t i = 0; i < n; i++) s.len += put_utf8(s.p + s.len, cps[i]);
    return s;
}

static bool str_eq(str a, const uint8_t *p, size_t n) { return a.len == n && (n == 0 || !memcmp(a.p, p, n)); }

// Printable hex of a byte string for failure messages (static buffer, truncated).
static const char *hex(const uint8_t *p, size_t n) {
    static char buf[2][200];
    static int which;
    char *b = buf[which ^= 1];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < sizeof buf[0]; i++) o += (size_t)snprintf(b + o, 4, "%02X ", p[i]);
    b[o ? o - 1 : 0] = 0;
    return b;
}

// NFC of s as a fresh string (a copy of s when unicode_nfc says it is NFC already);
// also checks the contract around the copy.
static str nfc(const uint8_t *s, size_t n) {
    uint8_t *out = (uint8_t *)1;
    size_t len = 12345;
    int rc = unicode_nfc(s, n, &out, &len);
    CHECK_SOME(rc == 0, "unicode_nfc failed on %s", hex(s, n));
    str r;
    if (out == NULL) {
        CHECK_SOME(len == n, "no copy but out_len %zu != %zu", len, n);
        r.p = xmalloc(n);
        if (n) memcpy(r.p, s, n);
        r.len = n;
    } else {
        // A copy only when something changed.
        CHECK_SOME(!(len == n && !memcmp(out, s, n)), "a copy of unchanged text %s", hex(s, n));
        r.p = out;
        r.len = len;
    }
    CHECK_SOME(r.len <= UNICODE_NFC_MAX_GROWTH * n, "grew %zu -> %zu", n, r.len);
    return r;
}

// The properties every input must have: NFC(NFC(s)) == NFC(s), and the prefix that
// quick_prefix claims is kept as it is: NFC(s) == s[0, k) + NFC(s[k, n)).
static void check_invariants(const uint8_t *s, size_t n, str normalized) {
    str twice = nfc(normalized.p, normalized.len);
    CHECK_SOME(str_eq(twice, normalized.p, normalized.len), "not idempotent on %s", hex(s, n));
    free(twice.p);
    size_t k = unicode_nfc_quick_prefix(s, n);
    CHECK_SOME(k <= n, "quick prefix %zu > %zu", k, n);
    if (k > n) return;
    str rest = nfc(s + k, n - k);
    bool kept = normalized.len == k + rest.len && !memcmp(normalized.p, s, k) &&
                !memcmp(normalized.p + k, rest.p, rest.len);
    CHECK_SOME(kept, "quick prefix %zu of %s is not kept: NFC is %s", k, hex(s, n),
               hex(normalized.p, normalized.len));
    free(rest.p);
}

// ---- the reference files ----------------------------------------------------------

// Which code points were assigned after the tables' version (DerivedAge.txt).
static bool *newer_than_tables(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%sDerivedAge.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "FAIL: cannot open %s (Debian: apt-get install unicode-data)\n", path);
        exit(1);
    }
    int want_major, want_minor;
    sscanf(UNICODE_NFC_VERSION, "%d.%d", &want_major, &want_minor);
    bool *newer = calloc(N_CP, sizeof *newer);
    if (!newer) exit(1);
    char line[1024];
    int ranges = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lo, hi;
        int major, minor, used = 0;
        if (sscanf(line, "%x..%x ; %d.%d%n", &lo, &hi, &major, &minor, &used) != 4 || !used) {
            if (sscanf(line, "%x ; %d.%d", &lo, &major, &minor) != 3) continue;
            hi = lo;
        }
        ranges++;
        if (major > want_major || (major == want_major && minor > want_minor))
            for (unsigned cp = lo; cp <= hi && cp < N_CP; cp++) newer[cp] = true;
    }
    fclose(f);
    if (ranges < 1000) {
        fprintf(stderr, "FAIL: %s has only %d ranges\n", path, ranges);
        exit(1);
    }
    return newer;
}

// NormalizationTest.txt, plain or (as Debian ships it) bzip2-compressed.
static FILE *open_normalization_test(const char *path, bool *piped) {
    *piped = false;
    FILE *f = fopen(path, "r");
    if (f) return f;
    char bz[512], cmd[600];
    snprintf(bz, sizeof bz, "%s.bz2", path);
    if (access(bz, R_OK) != 0) return NULL;
    snprintf(cmd, sizeof cmd, "bzip2 -dc '%s'", bz);
    *piped = true;
    return popen(cmd, "r");
}

typedef struct {
    str c[5];
    bool part1;    // a line of Part 1: c1 is a single code point
    uint32_t cp;   // that code point
    bool skipped;  // has a code point newer than the tables
} test_line;

// One field: code points in hex separated by spaces. Returns false on a malformed one.
static bool parse_field(const char *f, const char *end, uint32_t *cps, size_t *n, const bool *newer,
                        bool *has_newer) {
    *n = 0;
    while (f < end) {
        char *e;
        unsigned long cp = strtoul(f, &e, 16);
        if (e == f) {
            if (*f == ' ') {
                f++;
                continue;
            }
            return false;
        }
        if (cp >= N_CP || *n >= 64) return false;
        if (newer[cp]) *has_newer = true;
        cps[(*n)++] = (uint32_t)cp;
        f = e;
    }
    return *n > 0;
}

static test_line *read_tests(const char *path, const bool *newer, size_t *count) {
    bool piped;
    FILE *f = open_normalization_test(path, &piped);
    if (!f) {
        fprintf(stderr, "FAIL: cannot read %s nor %s.bz2 (Debian: apt-get install unicode-data)\n", path,
                path);
        exit(1);
    }
    size_t cap = 1 << 15, n = 0;
    test_line *lines = xmalloc(cap * sizeof *lines);
    char buf[4096];
    bool part1 = false;
    int bad = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (buf[0] == '@') {
            part1 = strncmp(buf, "@Part1", 6) == 0;
            continue;
        }
        if (buf[0] == '#' || buf[0] == '\n') continue;
        if (n == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        if (!lines) exit(1);
        test_line *t = &lines[n];
        memset(t, 0, sizeof *t);
        const char *p = buf;
        bool ok = true;
        for (int i = 0; i < 5 && ok; i++) {
            const char *semi = strchr(p, ';');
            uint32_t cps[64];
            size_t k;
            ok = semi && parse_field(p, semi, cps, &k, newer, &t->skipped);
            if (ok) t->c[i] = str_of_cps(cps, k);
            if (ok && i == 0) t->cp = k == 1 ? cps[0] : 0;
            p = semi ? semi + 1 : p;
        }
        if (!ok) {
            bad++;
            continue;
        }
        t->part1 = part1;
        n++;
    }
    int status = piped ? pclose(f) : fclose(f);
    if (status != 0 || bad || n < 10000) {
        fprintf(stderr, "FAIL: %s: %zu lines, %d malformed, close status %d\n", path, n, bad, status);
        exit(1);
    }
    *count = n;
    return lines;
}

// ---- the checks -------------------------------------------------------------------

static void check_line(const test_line *t, size_t line_no) {
    for (int i = 0; i < 5; i++) {
        str want = i < 3 ? t->c[1] : t->c[3];
        str got = nfc(t->c[i].p, t->c[i].len);
        CHECK_SOME(str_eq(got, want.p, want.len), "test %zu: NFC(c%d = %s) = %s, want %s", line_no, i + 1,
                   hex(t->c[i].p, t->c[i].len), hex(got.p, got.len), hex(want.p, want.len));
        check_invariants(t->c[i].p, t->c[i].len, got);
        free(got.p);
    }
}

static void check_conformance(const test_line *lines, size_t n) {
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].skipped) skipped++;
        else check_line(&lines[i], i);
    }
    printf("NormalizationTest: %zu lines, %zu skipped (code points newer than Unicode %s)\n", n, skipped,
           UNICODE_NFC_VERSION);
}

// Every code point alone (surrogates have no UTF-8 form): Part 1 lists each one
// that normalization touches; any other is its own NFC.
static void check_every_code_point(const test_line *lines, size_t n, const bool *newer) {
    const str **expect = calloc(N_CP, sizeof *expect);
    if (!expect) exit(1);
    for (size_t i = 0; i < n; i++)
        if (lines[i].part1 && !lines[i].skipped) expect[lines[i].cp] = &lines[i].c[1];
    size_t listed = 0;
    for (uint32_t cp = 0; cp < N_CP; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        uint8_t b[4];
        size_t len = put_utf8(b, cp);
        str got = nfc(b, len);
        if (expect[cp]) listed++;
        const uint8_t *want = expect[cp] ? expect[cp]->p : b;
        size_t want_len = expect[cp] ? expect[cp]->len : len;
        CHECK_SOME(str_eq(got, want, want_len), "NFC(U+%04X) = %s, want %s%s", cp, hex(got.p, got.len),
                   hex(want, want_len), newer[cp] ? " (newer than the tables)" : "");
        check_invariants(b, len, got);
        free(got.p);
    }
    CHECK(listed > 10000, "only %zu code points from Part 1", listed);
    free(expect);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {  // xorshift64*
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

// Random concatenations of test strings (so that boundaries, reordering and composition
// cross from one to the next), with ASCII and invalid bytes mixed in.
static void check_concatenations(const test_line *lines, size_t n) {
    static const char *glue[] = {"", "", "", "a", " ", "\x80", "\xCC", "\xE1\x84", "e", "\xE1\x85\xA1",
                                 "\xC3\xA9", "\xC4\x92", "\xEA\xB0\x80"};
    uint8_t buf[1024];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 0;
        int parts = 2 + (int)(rnd() % 5);
        for (int k = 0; k < parts; k++) {
            const test_line *t = &lines[rnd() % n];
            const str *s = &t->c[rnd() % 5];
            const char *g = glue[rnd() % (sizeof glue / sizeof *glue)];
            if (len + s->len + strlen(g) > sizeof buf) break;
            memcpy(buf + len, g, strlen(g));
            len += strlen(g);
            memcpy(buf + len, s->p, s->len);
            len += s->len;
        }
        str got = nfc(buf, len);
        check_invariants(buf, len, got);
        free(got.p);
    }
}

static void expect_nfc(const char *in, const char *want, const char *what) {
    size_t n = strlen(in);
    str got = nfc((const uint8_t *)in, n);
    CHECK(str_eq(got, (const uint8_t *)want, strlen(want)), "%s: NFC(%s) = %s, want %s", what,
          hex((const uint8_t *)in, n), hex(got.p, got.len), hex((const uint8_t *)want, strlen(want)));
    check_invariants((const uint8_t *)in, n, got);
    free(got.p);
}

// Invalid UTF-8 alone and next to marks and jamo; Hangul; a few compositions.
static void check_cases(void) {
    static const char *alone[] = {
        "\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
        "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFE", "\xFF", "\xE2\x82", "\xF0\x9F\x98",
        "\xCC", "\xC3", "caf\xC3", "\xE1\x84\x80",
    };
    for (size_t i = 0; i < sizeof alone / sizeof *alone; i++) expect_nfc(alone[i], alone[i], "invalid passes");
    // An invalid byte is a starter that composes with nothing.
    expect_nfc("e\x80\xCC\x81", "e\x80\xCC\x81", "invalid blocks composition");
    expect_nfc("e\xCC\x81\x80", "\xC3\xA9\x80", "composition before invalid");
    expect_nfc("a\xCC\x81\x80\xCC\xA3", "\xC3\xA1\x80\xCC\xA3", "invalid blocks reordering");
    expect_nfc("\xCC\x81\xCC\xA3\x80", "\xCC\xA3\xCC\x81\x80", "marks before invalid reorder");
    expect_nfc("\xE1\x84\x80\xE1\x85\xA1", "\xEA\xB0\x80", "Hangul L V");
    expect_nfc("\xE1\x84\x80\x80\xE1\x85\xA1", "\xE1\x84\x80\x80\xE1\x85\xA1", "invalid between L and V");
    expect_nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81", "Hangul L V T");
    expect_nfc("\xEA\xB0\x80\xE1\x86\xA7", "\xEA\xB0\x80\xE1\x86\xA7", "LV + U+11A7 is no LVT");
    expect_nfc("\xE1\x80\xCC\x81", "\xE1\x80\xCC\x81", "truncated sequence then a mark");
    expect_nfc("\xF0\x9F\x98\xCC\x81", "\xF0\x9F\x98\xCC\x81", "truncated 4-byte then a mark");
    expect_nfc("A\xCC\x8A\xED\xA0\x80", "\xC3\x85\xED\xA0\x80", "surrogate after a composition");
    expect_nfc("\xC0\x80\xCC\x81", "\xC0\x80\xCC\x81", "overlong NUL then a mark");
    // A precomposed letter below U+0300 is decomposed too when a mark reorders after it:
    // U+0112 U+0301 U+0323 -> E U+0323 U+0304 U+0301 -> U+1EB8 U+0304 U+0301.
    expect_nfc("\xC4\x92\xCC\x81\xCC\xA3", "\xE1\xBA\xB8\xCC\x84\xCC\x81", "Latin-1 decomposes");
    expect_nfc("", "", "empty");
    uint8_t *out = (uint8_t *)1;
    size_t len = 7;
    CHECK(unicode_nfc(NULL, 0, &out, &len) == 0 && out == NULL && len == 0, "NULL, 0");
    CHECK(unicode_nfc_quick_prefix(NULL, 0) == 0, "quick prefix of nothing");
}

static void check_quick_prefix(void) {
    static const struct {
        const char *s;
        size_t want;
    } cases[] = {
        {"hello world", 11}, {"abe\xCC\x81", 2},  {"\xCC\x81x", 0},          {"caf\xC3\xA9", 5},
        {"x\xE1\x84\x80\xE1\x85\xA1", 1},
        {"a\xD6\x91\xD6\x92", 5},  // U+0591 (220) U+0592 (230): NFC_QC=Yes marks in order
        {"a\xD6\x92\xD6\x91", 0},  // out of order: may reorder, back to before the 'a'
        {"a\xCC\xA3", 0},          // U+0323 composes (NFC_QC=Maybe)
        {"ab\xE0\xA5\x98", 1},  // U+0958 is NFC_QC=No: back to before 'b'
        {"\x80\x80\xCC\x81", 1},  // an invalid byte is a starter
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t got = unicode_nfc_quick_prefix((const uint8_t *)cases[i].s, strlen(cases[i].s));
        CHECK(got == cases[i].want, "quick prefix of %s = %zu, want %zu",
              hex((const uint8_t *)cases[i].s, strlen(cases[i].s)), got, cases[i].want);
    }
    // Long ASCII with the interesting byte at every offset around the 8-byte words.
    uint8_t buf[64];
    for (size_t at = 1; at + 2 <= sizeof buf; at++) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, "\xCC\x81", 2);
        size_t got = unicode_nfc_quick_prefix(buf, sizeof buf);
        CHECK(got == at - 1, "quick prefix with U+0301 at %zu = %zu", at, got);
        str r = nfc(buf, sizeof buf);
        CHECK(r.len == sizeof buf - 1 && r.p[at - 1] == 0xC3 && r.p[at] == 0xA1, "a + U+0301 at %zu", at);
        free(r.p);
    }
}

// Runs of non-starters longer than the insertion sort handles: counting sort, stable.
static void check_long_runs(void) {
    enum { REPS = 1000 };
    uint32_t *in = xmalloc((1 + 3 * REPS) * sizeof *in), *want = xmalloc((1 + 3 * REPS) * sizeof *want);
    size_t n = 0, m = 0;
    in[n++] = 'a';
    for (int i = 0; i < REPS; i++) {
        in[n++] = 0x0300;  // ccc 230
        in[n++] = 0x0323;  // ccc 220
        in[n++] = 0x0301;  // ccc 230
    }
    // Ordered: every U+0323 first, then U+0300 U+0301 pairs in their order; a + U+0323
    // composes to U+1EA1, and all the rest are blocked.
    want[m++] = 0x1EA1;
    for (int i = 1; i < REPS; i++) want[m++] = 0x0323;
    for (int i = 0; i < REPS; i++) {
        want[m++] = 0x0300;
        want[m++] = 0x0301;
    }
    str s = str_of_cps(in, n), w = str_of_cps(want, m);
    str got = nfc(s.p, s.len);
    CHECK(str_eq(got, w.p, w.len), "long run of marks: %zu bytes, want %zu", got.len, w.len);
    check_invariants(s.p, s.len, got);
    free(got.p);
    free(s.p);
    free(w.p);
    free(in);
    free(want);
}

// Random bytes, biased to UTF-8 lead and continuation bytes, marks and jamo: no
// crash (the sanitizer build watches), invalid bytes kept, the invariants hold.
static void check_random_bytes(void) {
    static const char *pieces[] = {"\xCC\x81", "\xCC\xA3", "\xCD\x85", "\xE1\x84\x80", "\xE1\x85\xA1",
                                   "\xE1\x86\xA8", "\xEA\xB0\x80", "\xE0\xA5\x98", "\xE0\xAE\xBE", "\xE1\xBE\x82",
                                   "\xF0\x9D\x85\xA0", "\xEF\xAC\xAC", "e", "A", "\xC3\xA9"};
    uint8_t buf[300];
    for (int iter = 0; iter < 100000; iter++) {
        size_t len = rnd() % 200;
        for (size_t i = 0; i < len;) {
            uint32_t r = rnd();
            if (r % 3 == 0) {
                const char *p = pieces[(r >> 8) % (sizeof pieces / sizeof *pieces)];
                size_t l = strlen(p);
                memcpy(buf + i, p, l);
                i += l;
            } else {
                buf[i++] = (uint8_t)(r % 3 == 1 ? 0x80 + (r >> 8) % 0x80 : r >> 8);
            }
        }
        str got = nfc(buf, len);
        check_invariants(buf, len, got);
        free(got.p);
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : UCD_DIR "NormalizationTest.txt";
    bool *newer = newer_than_tables(UCD_DIR);
    size_t n;
    test_line *lines = read_tests(path, newer, &n);
    printf("tables: Unicode %s (from UCD %s)\n", UNICODE_NFC_VERSION, UNICODE_NFC_UCD_VERSION);
    check_conformance(lines, n);
    check_every_code_point(lines, n, newer);
    check_concatenations(lines, n);
    check_cases();
    check_quick_prefix();
    check_long_runs();
    check_random_bytes();
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 5; k++) free(lines[i].c[k].p);
    free(lines);
    free(newer);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
