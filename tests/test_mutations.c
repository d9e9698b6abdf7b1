// test_mutations.c: damaged model files must fail cleanly, never crash,
// hang or allocate beyond what their size justifies.
//
// Starting from small valid models in each format (tests/fuzz/tiny_models.c:
// a GGUF, a Hugging Face directory, an llm.c checkpoint and tokenizer), every
// case below writes a damaged copy and opens it with gpt_model_open:
//   - every truncation of the header and metadata region (and samples of the
//     data region): a binary file cut short must be rejected;
//   - bit flips and byte substitutions at seeded positions;
//   - "interesting" values (0, 1, 2^31, 2^40, UINT64_MAX, off by one, the file
//     size...) written into every count, length, type, dimension, offset and
//     hyperparameter field, found by walking the format independently here;
//   - in the JSON files, each number and string replaced by odd ones;
//   - random garbage, with and without a valid magic.
// A case passes when the open either fails with a one-line message that names
// the file, or succeeds and the model then tokenizes, evaluates and samples
// (fuzz_run_model). An alarm catches hangs; malloc, calloc and realloc are
// wrapped (-Wl,--wrap) to check that no single request is larger than
// MAX_ALLOC_FACTOR times the bytes of the model's files plus a constant.
// Deterministic: all randomness comes from a fixed seed. Run under the
// ASan + UBSan build (.ci/run) to catch reads outside a buffer.
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "gguf.h"
#include "tiny_models.h"

#define MAX_ALLOC_FACTOR 64
#define MAX_ALLOC_SLACK ((size_t)4 << 20)
#define CASE_TIMEOUT_S 60

static int failures, checks;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        checks++;                                                \
        if (!(cond)) {                                           \
            if (++failures <= 50 || getenv("MUTATIONS_ALL")) {    \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);                    \
                fputc('\n', stderr);                             \
            }                                                    \
        }                                                        \
    } while (0)

// ---- allocation watch -----------------------------------------------------------

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
static size_t largest_request;

void *__wrap_malloc(size_t n) {
    if (n > largest_request) largest_request = n;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    size_t total = size && n > SIZE_MAX / size ? SIZE_MAX : n * size;
    if (total > largest_request) largest_request = total;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    if (n > largest_request) largest_request = n;
    return __real_realloc(p, n);
}

// ---- seeded randomness -----------------------------------------------------------

static uint64_t rng_state = 0x6770742D6D757461ull;  // "gpt-muta"
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

// ---- running one case --------------------------------------------------------------

static char case_name[256];
static char dir[256];

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "HANG: a case ran longer than the timeout: ";
    ssize_t r = write(2, msg, sizeof msg - 1);
    r = write(2, case_name, strlen(case_name));
    r = write(2, "\n", 1);
    (void)r;
    _exit(1);
}

typedef struct {
    int opened, rejected;
} tally;

static void set_case(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_case(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(case_name, sizeof case_name, fmt, ap);
    va_end(ap);
}

// Open path as a model; must_fail: the damage makes the file invalid.
// input_bytes: the total size of the model's files (for the allocation bound).
static void run_case(tally *t, const char *path, size_t input_bytes, bool must_fail) {
    char err[GPT_ERR_LEN] = "";
    gpt_model *m = (gpt_model *)&m;  // must be set to NULL on failure
    largest_request = 0;
    alarm(CASE_TIMEOUT_S);
    int rc = gpt_model_open(&m, path, err);
    if (rc == 0) {
        t->opened++;
        CHECK(!must_fail, "%s: a damaged file opened", case_name);
        static const uint8_t text[] = "the theme\xC3\xA9 <|endoftext|>\xFF";
        fuzz_run_model(m, text, sizeof text - 1);
        gpt_model_free(m);
    } else {
        t->rejected++;
        CHECK(m == NULL, "%s: failed but left *out set", case_name);
        CHECK(err[0] != '\0', "%s: failed without a message", case_name);
        CHECK(strchr(err, '\n') == NULL, "%s: message is not one line: %s", case_name, err);
        CHECK(strstr(err, dir) != NULL, "%s: message does not name the file: %s", case_name, err);
    }
    alarm(0);
    size_t bound = MAX_ALLOC_FACTOR * input_bytes + MAX_ALLOC_SLACK;
    CHECK(largest_request <= bound, "%s: allocated %zu bytes at once for %zu bytes of input", case_name,
          largest_request, input_bytes);
}

static void put_file(const char *path, const uint8_t *d, size_t n) {
    if (tiny_write_file(path, d, n) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static uint8_t *load(const char *path, size_t *n) {
    uint8_t *d;
    if (tiny_read_file(path, &d, n) != 0) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    return d;
}

// ---- generic byte mutations of one file -----------------------------------------------

// A set of files that together make a model; one of them (target) is
// damaged at a time, the others are kept valid.
typedef struct {
    const char *open_path;  // what gpt_model_open is given
    const char *target;     // the file being damaged
    const uint8_t *orig;
    size_t len;
    size_t other_bytes;     // the bytes of the model's other files
    bool binary;            // truncation must fail
    const char *label;
} target_file;

static void write_and_run(tally *t, const target_file *f, const uint8_t *d, size_t n, bool must_fail) {
    put_file(f->target, d, n);
    run_case(t, f->open_path, n + f->other_bytes + f->len, must_fail);
}

// Every truncation below head_end, every step-th above it.
static void truncations(tally *t, const target_file *f, size_t head_end, size_t step) {
    for (size_t n = 0; n < f->len; n += n < head_end ? 1 : step) {
        set_case("%s: truncated to %zu of %zu bytes", f->label, n, f->len);
        write_and_run(t, f, f->orig, n, f->binary);
    }
}

// count seeded single-bit flips and count byte substitutions at positions
// below region (and region..len for a tenth of them).
static void flips_and_substitutions(tally *t, const target_file *f, size_t region, int count) {
    static const uint8_t subs[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE, 0x20, '"', '\n', '0', '9', '-'};
    uint8_t *d = malloc(f->len);
    for (int i = 0; i < 2 * count; i++) {
        size_t pos = i % 10 == 9 ? rnd_below(f->len) : rnd_below(region < f->len ? region : f->len);
        memcpy(d, f->orig, f->len);
        if (i < count) {
            int bit = (int)rnd_below(8);
            d[pos] ^= (uint8_t)(1u << bit);
            set_case("%s: bit %d of byte %zu flipped", f->label, bit, pos);
        } else {
            uint8_t v = rnd_below(4) == 0 ? (uint8_t)rnd() : subs[rnd_below(sizeof subs)];
            d[pos] = v;
            set_case("%s: byte %zu set to 0x%02x", f->label, pos, v);
        }
        write_and_run(t, f, d, f->len, false);
    }
    free(d);
}

// Random files: pure garbage, and the first `keep` bytes of the original
// followed by garbage.
static void garbage(tally *t, const target_file *f, int count, size_t keep) {
    size_t cap = f->len + 4096;
    uint8_t *d = malloc(cap);
    for (int i = 0; i < count; i++) {
        size_t n = rnd_below(cap), k = i % 2 ? (keep < n ? keep : n) : 0;
        memcpy(d, f->orig, k < f->len ? k : f->len);
        for (size_t j = k; j < n; j++) d[j] = (uint8_t)rnd();
        set_case("%s: %zu bytes of garbage after %zu valid ones (case %d)", f->label, n - k, k, i);
        write_and_run(t, f, d, n, false);
    }
    free(d);
}

// ---- interesting values in binary fields ---------------------------------------------

typedef struct {
    size_t off;
    int width;  // 4 or 8
    bool all;   // try every interesting value (else a seeded few)
} field;

typedef struct {
    field *f;
    size_t n, cap;
} field_list;

static void add_field(field_list *l, size_t off, int width, bool all) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->f = realloc(l->f, l->cap * sizeof *l->f);
    }
    l->f[l->n++] = (field){off, width, all};
}

static void interesting_values(tally *t, const target_file *f, const field_list *fields) {
    uint64_t base[] = {0, 1, 2, 3, 7, 8, 9, 12, 13, 31, 32, 33, 255, 256, 1023, 1024, 1025, 65535, 65536, 65537,
                       (1u << 20) - 1, 1u << 20, (1u << 20) + 1, (1u << 24) - 1, 1u << 24, (1u << 24) + 1,
                       0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 1ull << 32, (1ull << 32) + 1,
                       1ull << 40, (1ull << 40) + 1, 1ull << 62, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull,
                       UINT64_MAX - 7, UINT64_MAX, f->len, f->len / 4, f->len - 8};
    enum { NB = sizeof base / sizeof base[0] };
    uint8_t *d = malloc(f->len);
    for (size_t i = 0; i < fields->n; i++) {
        field fl = fields->f[i];
        if (fl.off + (size_t)fl.width > f->len) continue;
        uint64_t orig = fl.width == 4 ? rd_u32(f->orig + fl.off) : rd_u64(f->orig + fl.off);
        uint64_t vals[NB + 4];
        memcpy(vals, base, sizeof base);
        vals[NB] = orig - 1, vals[NB + 1] = orig + 1, vals[NB + 2] = orig * 2, vals[NB + 3] = orig / 2;
        int n_vals = NB + 4;
        for (int k = 0; k < (fl.all ? n_vals : 3); k++) {
            uint64_t v = fl.all ? vals[k] : vals[rnd_below((size_t)n_vals)];
            if (fl.width == 4 && v > 0xFFFFFFFF) v &= 0xFFFFFFFF;
            if (v == orig) continue;
            memcpy(d, f->orig, f->len);
            if (fl.width == 4) {
                uint32_t v32 = (uint32_t)v;
                memcpy(d + fl.off, &v32, 4);
            } else {
                memcpy(d + fl.off, &v, 8);
            }
            set_case("%s: %d-byte field at %zu set to %llu (was %llu)", f->label, fl.width, fl.off,
                     (unsigned long long)v, (unsigned long long)orig);
            write_and_run(t, f, d, f->len, false);
        }
    }
    free(d);
}

// ---- GGUF ----------------------------------------------------------------------------------

static uint32_t take32(const uint8_t *p, size_t *o) {
    *o += 4;
    return rd_u32(p + *o - 4);
}
static uint64_t take64(const uint8_t *p, size_t *o) {
    *o += 8;
    return rd_u64(p + *o - 8);
}

// Walk a GGUF file (written independently of gguf.c, after the
// specification) and list its fields; returns the end of the tensor infos.
static size_t gguf_fields(const uint8_t *p, size_t len, field_list *l) {
    size_t o = 0;
#define U32() take32(p, &o)
#define U64() take64(p, &o)
    add_field(l, 4, 4, true);   // version
    add_field(l, 8, 8, true);   // tensor count
    add_field(l, 16, 8, true);  // metadata count
    o = 8;
    uint64_t n_tensors = U64(), n_kv = U64();
    static const size_t scalar_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    for (uint64_t i = 0; i < n_kv; i++) {
        add_field(l, o, 8, true);  // key length
        uint64_t key_len = U64();
        o += key_len;
        add_field(l, o, 4, true);  // value type
        uint32_t type = U32();
        if (type == GGUF_TYPE_STRING) {
            add_field(l, o, 8, true);  // string length
            uint64_t slen = U64();
            o += slen;
        } else if (type == GGUF_TYPE_ARRAY) {
            add_field(l, o, 4, true);  // element type
            uint32_t et = U32();
            add_field(l, o, 8, true);  // element count
            uint64_t n = U64();
            for (uint64_t k = 0; k < n; k++) {
                if (et == GGUF_TYPE_STRING) {
                    add_field(l, o, 8, k < 4 || k + 4 > n);  // the first and last strings fully
                    uint64_t slen = U64();
                    o += slen;
                } else {
                    if (scalar_size[et] == 4 && (k < 4 || k + 4 > n)) add_field(l, o, 4, false);
                    o += scalar_size[et];
                }
            }
        } else {
            if (scalar_size[type] >= 4) add_field(l, o, (int)scalar_size[type], true);  // hyperparameters
            o += scalar_size[type];
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        add_field(l, o, 8, true);  // name length
        uint64_t name_len = U64();
        o += name_len;
        add_field(l, o, 4, true);  // n_dims
        uint32_t nd = U32();
        for (uint32_t d = 0; d < nd; d++) add_field(l, o + 8 * d, 8, true);
        o += 8 * nd;
        add_field(l, o, 4, true);  // type
        add_field(l, o + 4, 8, true);  // offset
        o += 12;
    }
#undef U32
#undef U64
    if (o > len) {
        fprintf(stderr, "test_mutations: the tiny GGUF is not what the walker expects\n");
        exit(1);
    }
    return o;
}

// The offset of the uint32 value of metadata key in a GGUF (found by its
// name followed by type 4), or 0.
static size_t u32_value_at(const uint8_t *p, size_t len, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 8; i + kl + 8 <= len; i++)
        if (rd_u64(p + i - 8) == kl && memcmp(p + i, key, kl) == 0 && rd_u32(p + i + kl) == GGUF_TYPE_UINT32)
            return i + kl + 4;
    return 0;
}

// Several hyperparameters at their upper bounds at once: the tensors cannot
// match, and nothing may be sized from the hyperparameters alone.
static void hparam_combinations(tally *t, const target_file *f) {
    static const char *keys[] = {"gpt2.context_length", "gpt2.embedding_length", "gpt2.feed_forward_length",
                                 "gpt2.block_count", "gpt2.attention.head_count"};
    static const uint32_t combos[][5] = {
        {1u << 20, 65536, 1u << 20, 1024, 1},  {8, 65536, 1u << 20, 1024, 2}, {1u << 20, 65536, 32, 1, 2},
        {1u << 20, 8, 32, 1024, 2},            {8, 65536, 262144, 1024, 65536}, {1u << 20, 65536, 1u << 20, 1024, 65536},
    };
    uint8_t *d = malloc(f->len);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        memcpy(d, f->orig, f->len);
        for (int k = 0; k < 5; k++) {
            size_t at = u32_value_at(f->orig, f->len, keys[k]);
            CHECK(at != 0, "%s: key %s not found", f->label, keys[k]);
            if (at) memcpy(d + at, &combos[c][k], 4);
        }
        set_case("%s: hyperparameters %u/%u/%u/%u/%u (ctx/embd/ff/layers/heads)", f->label, combos[c][0],
                 combos[c][1], combos[c][2], combos[c][3], combos[c][4]);
        write_and_run(t, f, d, f->len, true);
    }
    free(d);
}

static void gguf_cases(const char *label, const tiny_opts *o, tally *t) {
    char path[512], err[GPT_ERR_LEN];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    if (tiny_write_gguf(path, o, err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    size_t len;
    uint8_t *orig = load(path, &len);
    set_case("%s: the valid file", label);
    tally ok = {0};
    run_case(&ok, path, len, false);
    CHECK(ok.opened == 1, "%s: the valid tiny model does not open", label);
    field_list fields = {0};
    size_t head = gguf_fields(orig, len, &fields);
    target_file f = {path, path, orig, len, 0, true, label};
    truncations(t, &f, head + 64, 97);
    flips_and_substitutions(t, &f, head, 1500);
    interesting_values(t, &f, &fields);
    garbage(t, &f, 200, 24);
    hparam_combinations(t, &f);
    put_file(path, orig, len);
    free(fields.f);
    free(orig);
}

// ---- Hugging Face directory ---------------------------------------------------------------

// Replace the token at [a, b) of text with rep; returns a malloc'd copy.
static char *splice(const char *text, size_t len, size_t a, size_t b, const char *rep, size_t *out_len) {
    size_t rl = strlen(rep);
    char *s = malloc(len - (b - a) + rl + 1);
    memcpy(s, text, a);
    memcpy(s + a, rep, rl);
    memcpy(s + a + rl, text + b, len - b);
    *out_len = len - (b - a) + rl;
    s[*out_len] = '\0';
    return s;
}

// The JSON numbers of text: start and end offsets (numbers after ':', '[' or ',').
static size_t json_numbers(const char *s, size_t len, size_t (*spans)[2], size_t cap) {
    size_t n = 0;
    bool in_str = false;
    for (size_t i = 0; i < len && n < cap; i++) {
        if (in_str) {
            if (s[i] == '\\') i++;
            else if (s[i] == '"') in_str = false;
            continue;
        }
        if (s[i] == '"') {
            in_str = true;
            continue;
        }
        if ((s[i] >= '0' && s[i] <= '9') || s[i] == '-') {
            size_t j = i;
            while (j < len && strchr("0123456789.eE+-", s[j])) j++;
            spans[n][0] = i, spans[n][1] = j, n++;
            i = j - 1;
        }
    }
    return n;
}

static const char *odd_numbers[] = {"0", "-1", "1", "2", "3", "1.5", "1e300", "-1e300", "1e-300", "65536", "65537",
                                    "1048576", "1048577", "16777216", "16777217", "2147483648", "4294967296",
                                    "9007199254740992", "9007199254740993", "18446744073709551616", "\"8\"",
                                    "null", "true", "[]", "{}", "NaN"};
#define N_ODD (sizeof odd_numbers / sizeof odd_numbers[0])

// Each number of a JSON file replaced by the odd ones (all of them for the
// first `all` numbers, a seeded few for the rest).
static void json_number_cases(tally *t, const target_file *f, size_t all) {
    size_t (*spans)[2] = malloc(4096 * sizeof *spans);
    size_t n = json_numbers((const char *)f->orig, f->len, spans, 4096);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < (i < all ? N_ODD : 2); k++) {
            const char *rep = i < all ? odd_numbers[k] : odd_numbers[rnd_below(N_ODD)];
            size_t nl;
            char *s = splice((const char *)f->orig, f->len, spans[i][0], spans[i][1], rep, &nl);
            set_case("%s: number %zu replaced by %s", f->label, i, rep);
            write_and_run(t, f, (const uint8_t *)s, nl, false);
            free(s);
        }
    }
    free(spans);
}

// safetensors: the JSON header's numbers and dtypes replaced, the length re-packed.
static void safetensors_json_cases(tally *t, const target_file *f) {
    uint64_t hlen = rd_u64(f->orig);
    const char *json = (const char *)f->orig + 8;
    size_t (*spans)[2] = malloc(4096 * sizeof *spans);
    size_t n = json_numbers(json, (size_t)hlen, spans, 4096);
    static const char *dtypes[] = {"\"F64\"", "\"I8\"", "\"BF16\"", "\"F16\"", "\"\"", "\"F32 \"", "7"};
    size_t n_dt = 0;
    for (const char *p = json; (p = strstr(p, "\"F32\"")) && p < json + hlen; p++) n_dt++;
    for (size_t i = 0; i < n + n_dt; i++) {
        for (int k = 0; k < 4; k++) {
            size_t a, b;
            const char *rep;
            if (i < n) {
                a = spans[i][0], b = spans[i][1];
                rep = odd_numbers[rnd_below(N_ODD)];
            } else {  // the (i - n)-th dtype
                const char *p = json;
                for (size_t j = 0; j <= i - n; j++) p = strstr(j ? p + 1 : p, "\"F32\"");
                a = (size_t)(p - json), b = a + 5;
                rep = dtypes[rnd_below(sizeof dtypes / sizeof dtypes[0])];
            }
            size_t nl;
            char *s = splice(json, (size_t)hlen, a, b, rep, &nl);
            size_t total = 8 + nl + (f->len - 8 - (size_t)hlen);
            uint8_t *d = malloc(total);
            uint64_t h = nl;
            memcpy(d, &h, 8);
            memcpy(d + 8, s, nl);
            memcpy(d + 8 + nl, f->orig + 8 + hlen, f->len - 8 - (size_t)hlen);
            set_case("%s: header token %zu replaced by %s", f->label, i, rep);
            write_and_run(t, f, d, total, false);
            free(d);
            free(s);
        }
    }
    free(spans);
}

static size_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static void hf_cases(tally *t) {
    char err[GPT_ERR_LEN];
    tiny_opts o = tiny_default();
    o.n_ctx = 8, o.n_layer = 1;
    if (tiny_write_hf(dir, &o, err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    static const char *names[] = {"config.json", "vocab.json", "merges.txt", "model.safetensors"};
    char paths[4][512];
    size_t total = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        total += file_size(paths[i]);
    }
    set_case("hf: the valid directory");
    tally ok = {0};
    run_case(&ok, dir, total, false);
    CHECK(ok.opened == 1, "hf: the valid tiny model does not open");
    for (int i = 0; i < 4; i++) {
        size_t len;
        uint8_t *orig = load(paths[i], &len);
        char label[64];
        snprintf(label, sizeof label, "hf %s", names[i]);
        bool st = i == 3;
        target_file f = {dir, paths[i], orig, len, total - len, st, label};
        size_t head = st ? 8 + (size_t)rd_u64(orig) : len;
        truncations(t, &f, head < 4096 ? head + 1 : 4096, 61);
        flips_and_substitutions(t, &f, head, 600);
        if (i == 0) json_number_cases(t, &f, 64);
        if (i == 1) json_number_cases(t, &f, 3);
        if (st) {
            safetensors_json_cases(t, &f);
            field_list fl = {0};
            add_field(&fl, 0, 8, true);  // the header length
            interesting_values(t, &f, &fl);
            free(fl.f);
        }
        garbage(t, &f, 100, st ? 9 : 1);
        // the file missing
        unlink(paths[i]);
        set_case("%s: missing", label);
        run_case(t, dir, total - len, true);
        put_file(paths[i], orig, len);
        free(orig);
    }
    // the optional files, present and broken
    static const char *extra[][2] = {
        {"tokenizer.json", "{\"added_tokens\": [{\"id\": 259, \"content\": \"<|endoftext|>\", \"special\": true}]}"},
        {"tokenizer.json", "{\"added_tokens\": [{\"id\": 260, \"content\": \"<|x|>\"}]}"},
        {"tokenizer.json", "{\"added_tokens\": [{\"id\": 16777215, \"content\": \"<|x|>\"}]}"},
        {"tokenizer.json", "{\"added_tokens\": [{\"id\": 5, \"content\": \"<|x|>\"}]}"},
        {"tokenizer.json", "{\"added_tokens\": {\"a\": 1}}"},
        {"tokenizer.json", "[1, 2, 3]"},
        {"tokenizer.json", "{\"added_tokens\": [{\"id\": -1, \"content\": null}]}"},
        {"tokenizer.json", "{"},
        {"added_tokens.json", "{\"<|endoftext|>\": 259}"},
        {"added_tokens.json", "{\"<|endoftext|>\": 1e300}"},
        {"added_tokens.json", "[{\"id\": 3}]"},
        {"added_tokens.json", "\"x\""},
        {"model.safetensors.index.json", "{}"},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, extra[i][0]);
        put_file(p, (const uint8_t *)extra[i][1], strlen(extra[i][1]));
        set_case("hf: %s holding %s", extra[i][0], extra[i][1]);
        run_case(t, dir, total + strlen(extra[i][1]), false);
        unlink(p);
    }
    for (int i = 0; i < 4; i++) unlink(paths[i]);
}

// ---- llm.c -----------------------------------------------------------------------------------

static void llmc_cases(tally *t) {
    char bin[512], tok[512], err[GPT_ERR_LEN];
    snprintf(bin, sizeof bin, "%s/model.bin", dir);
    snprintf(tok, sizeof tok, "%s/gpt2_tokenizer.bin", dir);
    tiny_opts o = tiny_default();
    o.n_ctx = 8, o.n_layer = 1;
    if (tiny_write_llmc(bin, tok, &o, err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    size_t bin_len, tok_len;
    uint8_t *bin_orig = load(bin, &bin_len), *tok_orig = load(tok, &tok_len);
    set_case("llmc: the valid checkpoint");
    tally ok = {0};
    run_case(&ok, bin, bin_len + tok_len, false);
    CHECK(ok.opened == 1, "llmc: the valid tiny checkpoint does not open");

    target_file fb = {bin, bin, bin_orig, bin_len, tok_len, true, "llmc checkpoint"};
    truncations(t, &fb, 1024 + 8, 53);
    flips_and_substitutions(t, &fb, 32, 300);
    field_list fl = {0};
    for (int i = 0; i < 8; i++) add_field(&fl, 4 * (size_t)i, 4, true);
    interesting_values(t, &fb, &fl);
    garbage(t, &fb, 100, 4);
    put_file(bin, bin_orig, bin_len);

    target_file ft = {bin, tok, tok_orig, tok_len, bin_len, true, "llmc tokenizer"};
    truncations(t, &ft, tok_len, 1);
    flips_and_substitutions(t, &ft, tok_len, 800);
    fl.n = 0;
    for (int i = 0; i < 4; i++) add_field(&fl, 4 * (size_t)i, 4, true);
    interesting_values(t, &ft, &fl);
    // the per-token length bytes set to 0, 1, 255 and off by one
    uint8_t *d = malloc(tok_len);
    for (size_t off = 1024, id = 0; off < tok_len; off += 1 + tok_orig[off], id++) {
        if (id % 7 != 0 && id < 250) continue;  // a sample of the single-byte tokens, all of the rest
        const int vals[] = {0, 1, 255, tok_orig[off] - 1, tok_orig[off] + 1};
        for (int k = 0; k < 5; k++) {
            memcpy(d, tok_orig, tok_len);
            d[off] = (uint8_t)vals[k];
            set_case("llmc tokenizer: length of token %zu set to %d", id, vals[k]);
            write_and_run(t, &ft, d, tok_len, false);
        }
    }
    free(d);
    garbage(t, &ft, 100, 16);
    unlink(tok);
    set_case("llmc: tokenizer missing");
    run_case(t, bin, bin_len, true);
    put_file(tok, tok_orig, tok_len);
    free(fl.f);
    free(bin_orig);
    free(tok_orig);
    unlink(bin);
    unlink(tok);
}

// ---- files built to be slow -------------------------------------------------------------------
//
// Work must grow about linearly with the file: these few-megabyte files took
// minutes with a pairwise duplicate-key check, an insertion sort of tensor
// offsets, or BPE ranks derived by re-encoding every prefix of a huge token.

static void put_u32(uint8_t **p, uint32_t v) { memcpy(*p, &v, 4), *p += 4; }
static void put_u64(uint8_t **p, uint64_t v) { memcpy(*p, &v, 8), *p += 8; }

// A GGUF of n distinct 8-byte keys (each a uint8 value) and no tensors.
static size_t many_keys(uint8_t *buf, uint64_t n) {
    uint8_t *p = buf;
    memcpy(p, "GGUF", 4), p += 4;
    put_u32(&p, 3), put_u64(&p, 0), put_u64(&p, n);
    for (uint64_t i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%07llu", (unsigned long long)i);
        put_u64(&p, 8), memcpy(p, k, 8), p += 8;
        put_u32(&p, GGUF_TYPE_UINT8), *p++ = 0;
    }
    return (size_t)(p - buf);
}

// A GGUF of n one-element F32 tensors listed in decreasing offset order.
static size_t many_tensors(uint8_t *buf, uint64_t n) {
    uint8_t *p = buf;
    memcpy(p, "GGUF", 4), p += 4;
    put_u32(&p, 3), put_u64(&p, n), put_u64(&p, 0);
    for (uint64_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%07llu", (unsigned long long)i);
        put_u64(&p, 8), memcpy(p, name, 8), p += 8;
        put_u32(&p, 1), put_u64(&p, 1), put_u32(&p, GGML_TYPE_F32), put_u64(&p, (n - 1 - i) * 32);
    }
    while ((p - buf) % 32) *p++ = 0;
    memset(p, 0, 32 * n);
    return (size_t)(p - buf) + 32 * n;
}

// The tiny model with token 258 replaced by len bytes of 'a' and no merges
// (ranks are ids): a valid model whose tokenizer has one huge token.
static void huge_token_model(const char *path, size_t len) {
    char src_path[600], err[GPT_ERR_LEN];
    snprintf(src_path, sizeof src_path, "%s/src.gguf", dir);
    tiny_opts o = tiny_default();
    o.n_ctx = 8, o.n_layer = 1;
    gguf_ctx *src, *g = gguf_new();
    const gguf_kv *toks;
    if (tiny_write_gguf(src_path, &o, err) || gguf_open(&src, src_path, err) ||
        gguf_get_arr(src, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    gguf_copy_kv(g, src);
    gguf_str *t = malloc(toks->v.arr.n * sizeof *t);
    memcpy(t, toks->v.arr.data, toks->v.arr.n * sizeof *t);
    char *a = malloc(len);
    memset(a, 'a', len);
    t[258] = (gguf_str){len, a};
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", t, toks->v.arr.n);
    gguf_set_arr_str(g, "tokenizer.ggml.merges", NULL, 0);
    for (uint64_t i = 0; i < gguf_n_tensors(src); i++) {
        const gguf_tensor *x = gguf_tensor_at(src, i);
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)x->name.len, x->name.ptr);
        if (gguf_add_tensor(g, name, x->type, x->n_dims, x->ne, x->data, err)) exit(1);
    }
    if (gguf_write(g, path, NULL, NULL, err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    gguf_free(g);
    gguf_free(src);
    free(a);
    free(t);
    unlink(src_path);
}

static void slow_file_cases(tally *t) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    uint64_t n = 300000;
    uint8_t *buf = malloc(128 * n);
    size_t len = many_keys(buf, n);
    put_file(path, buf, len);
    set_case("gguf: %llu metadata keys (%zu bytes)", (unsigned long long)n, len);
    run_case(t, path, len, true);
    len = many_tensors(buf, n);
    put_file(path, buf, len);
    set_case("gguf: %llu tensors in reverse offset order (%zu bytes)", (unsigned long long)n, len);
    run_case(t, path, len, true);
    free(buf);
    huge_token_model(path, (size_t)1 << 20);
    set_case("gguf: a 1 MiB token and no merges");
    run_case(t, path, file_size(path), false);
}

// ---- main ---------------------------------------------------------------------------------------

static void report(const char *what, const tally *t) {
    printf("%-28s %6d cases: %6d opened, %6d rejected cleanly\n", what, t->opened + t->rejected, t->opened,
           t->rejected);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    // thousands of small files: a tmpfs when there is one
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/gpt-mutations-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    tally g1 = {0}, g2 = {0}, hf = {0}, llmc = {0};
    tiny_opts o = tiny_default();
    o.n_ctx = 8, o.n_layer = 1;
    gguf_cases("gguf f32", &o, &g1);
    report("GGUF (F32, merges):", &g1);
    tiny_opts o2 = o;
    o2.mat_type = GGML_TYPE_F16, o2.output = true, o2.merges = false, o2.bias = false;
    gguf_cases("gguf f16", &o2, &g2);
    report("GGUF (F16, output, no merges):", &g2);
    hf_cases(&hf);
    report("Hugging Face directory:", &hf);
    llmc_cases(&llmc);
    report("llm.c checkpoint+tokenizer:", &llmc);
    tally slow = {0};
    slow_file_cases(&slow);
    report("files built to be slow:", &slow);
    char path[600];
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    unlink(path);
    if (rmdir(dir) != 0) perror(dir);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
