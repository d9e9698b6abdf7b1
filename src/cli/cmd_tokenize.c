// cmd_tokenize.c: `gpt tokenize` (stdin bytes -> ids on one line) and
// `gpt detokenize` (ids -> the exact bytes), with the tokenizer of a model
// (-m), of a tokenizer file (--tokenizer: tokenizer.json, llama2.c's
// tokenizer.bin, a GGUF vocabulary) or of GPT-2's vocabulary files (--vocab
// encoder.json --merges vocab.bpe).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "gpt.h"
#include "model.h"  // gpt_model_tokenizer: the model owns its tokenizer
#include "tokenizer.h"
#include "util.h"

typedef struct {
    const char *model, *tokenizer_bin, *tokenizer, *vocab, *merges;  // tokenizer_bin: -z, with -m
    bool special, bench, bos;
} tok_flags;

static void usage(FILE *f, const char *cmd) {
    bool tok = strcmp(cmd, "tokenize") == 0;
    fprintf(f,
            "usage: gpt %s (-m MODEL | --tokenizer PATH | --vocab encoder.json --merges vocab.bpe) [--special]%s\n"
            "%s"
            "  -m, --model PATH     a model (GGUF, Hugging Face directory, llm.c or llama2.c checkpoint)\n"
            "  --tokenizer PATH     a tokenizer alone: a Hugging Face tokenizer.json (or its directory),\n"
            "                       a llama2.c tokenizer.bin, or a GGUF file with or without tensors\n"
            "  --vocab PATH         GPT-2's encoder.json / vocab.json (with --merges)\n"
            "  --merges PATH        vocab.bpe / merges.txt\n",
            cmd, tok ? " [--bos] [--bench]" : "",
            tok ? "Reads all of stdin as bytes and prints the ids of the text alone on one line\n"
                  "(no BOS or EOS), separated by spaces.\n"
                  "  --special            special tokens' text (<|endoftext|>, <|im_end|>, <s>, ...) becomes their\n"
                  "                       ids (by default it is ordinary text)\n"
                  "  --bos                add what the model adds: its BOS (and EOS) when its tokenizer says so\n"
                  "  --bench              also print the speed of the encode call alone to stderr\n"
                : "Reads token ids (separated by spaces or newlines) and writes the bytes of their text.\n"
                  "  --special            also write control tokens (BOS, EOS, <|im_end|>, ...), which are\n"
                  "                       left out by default\n");
}

static int parse_flags(int argc, char **argv, bool tokenize, tok_flags *f) {
    memset(f, 0, sizeof *f);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            if (!(f->model = flag_value(argc, argv, &i))) return 1;
        } else if (strcmp(a, "-z") == 0 || strcmp(a, "--tokenizer-bin") == 0) {
            if (!(f->tokenizer_bin = flag_value(argc, argv, &i))) return 1;
        } else if (strcmp(a, "--tokenizer") == 0) {
            if (!(f->tokenizer = flag_value(argc, argv, &i))) return 1;
        } else if (strcmp(a, "--vocab") == 0) {
            if (!(f->vocab = flag_value(argc, argv, &i))) return 1;
        } else if (strcmp(a, "--merges") == 0) {
            if (!(f->merges = flag_value(argc, argv, &i))) return 1;
        } else if (strcmp(a, "--special") == 0) {
            f->special = true;
        } else if (tokenize && strcmp(a, "--bos") == 0) {
            f->bos = true;
        } else if (tokenize && strcmp(a, "--bench") == 0) {
            f->bench = true;
        } else {
            usage(stderr, argv[0]);
            return cli_error("%s: unknown argument '%s'", argv[0], a);
        }
    }
    int sources = (f->model != NULL) + (f->tokenizer != NULL) + (f->vocab || f->merges);
    if (sources > 1) return cli_error("%s: give one of -m MODEL, --tokenizer PATH or --vocab and --merges", argv[0]);
    if (sources == 0 || ((f->vocab || f->merges) && !(f->vocab && f->merges))) {
        usage(stderr, argv[0]);
        return cli_error("%s: needs -m MODEL, --tokenizer PATH, or --vocab and --merges", argv[0]);
    }
    return 0;
}

// The tokenizer of the model (which owns it) or of a tokenizer file (*own).
static int open_tokenizer(const tok_flags *f, gpt_model **model, gpt_tokenizer **tok, gpt_tokenizer **own) {
    char err[GPT_ERR_LEN];
    *model = NULL;
    *tok = *own = NULL;
    if (f->model) {
        if (gpt_model_open_ex(model, f->model, f->tokenizer_bin, err) != 0) return cli_error("%s", err);
        *tok = gpt_model_tokenizer(*model);
        if (!*tok) return cli_error("%s: the model has no tokenizer", f->model);
        return 0;
    }
    int rc = f->tokenizer ? tokenizer_open(own, f->tokenizer, err) : tokenizer_from_files(own, f->vocab, f->merges, err);
    if (rc != 0) return cli_error("%s", err);
    *tok = *own;
    return 0;
}

// All of stdin, as bytes.
static int read_stdin(uint8_t **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) return cli_error("out of memory reading stdin");
    for (;;) {
        if (n == cap) {
            uint8_t *p = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                free(buf);
                return cli_error("out of memory reading stdin");
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        return cli_error("reading stdin: %s", strerror(errno));
    }
    *out = buf;
    *len = n;
    return 0;
}

// What both commands start from: the flags, the tokenizer (owned by the
// model, or by `own` when read from vocabulary files) and all of stdin.
typedef struct {
    tok_flags f;
    gpt_model *model;
    gpt_tokenizer *tok, *own;
    uint8_t *text;
    size_t len;
} tok_session;

static void session_close(tok_session *s) {
    free(s->text);
    tokenizer_free(s->own);
    if (s->model) gpt_model_free(s->model);
}

static int session_open(tok_session *s, int argc, char **argv, bool tokenize) {
    *s = (tok_session){0};
    int rc = parse_flags(argc, argv, tokenize, &s->f);
    if (rc == 0) rc = open_tokenizer(&s->f, &s->model, &s->tok, &s->own);
    if (rc == 0) rc = read_stdin(&s->text, &s->len);
    if (rc != 0) session_close(s);
    return rc;
}

// CPU time of this thread (the benchmark's measure when other processes compete for the cores).
static double thread_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// "12 345 6\n", written through one buffer.
static int print_ids(const int32_t *ids, size_t n) {
    char buf[1 << 16];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (at > sizeof buf - 16) {
            fwrite(buf, 1, at, stdout);
            at = 0;
        }
        char digits[12];
        int nd = 0;
        uint32_t v = (uint32_t)ids[i];
        do digits[nd++] = (char)('0' + v % 10), v /= 10;
        while (v);
        if (i) buf[at++] = ' ';
        while (nd) buf[at++] = digits[--nd];
    }
    buf[at++] = '\n';
    fwrite(buf, 1, at, stdout);
    if (fflush(stdout) != 0) return cli_error("writing stdout: %s", strerror(errno));
    return 0;
}

// ids with the model's BOS in front and EOS behind, as its tokenizer asks
// (NULL, ids freed, when out of memory).
static int32_t *add_bos_eos(const gpt_tokenizer *t, int32_t *ids, size_t *n) {
    bool bos = tokenizer_add_bos(t), eos = tokenizer_add_eos(t);
    int32_t *p = realloc(ids, (*n + 2) * sizeof *p);
    if (!p) {
        free(ids);
        return NULL;
    }
    if (bos) {
        memmove(p + 1, p, *n * sizeof *p);
        p[0] = tokenizer_bos_id(t);
        (*n)++;
    }
    if (eos) p[(*n)++] = tokenizer_eos_id(t);
    return p;
}

int cmd_tokenize(int argc, char **argv) {
    tok_session s;
    if (session_open(&s, argc, argv, true)) return 1;
    size_t n_ids = 0;
    double t0 = now_ms(), c0 = thread_cpu_ms();
    int32_t *ids = tokenizer_encode(s.tok, s.text, s.len, s.f.special, &n_ids);
    double ms = now_ms() - t0, cpu = thread_cpu_ms() - c0;
    int rc;
    if (ids && s.f.bos) ids = add_bos_eos(s.tok, ids, &n_ids);
    if (!ids) {
        rc = cli_error("tokenize: out of memory");
    } else {
        if (s.f.bench)
            fprintf(stderr, "tokenize: %zu bytes -> %zu ids in %.2f ms: %.2f MB/s (cpu %.2f ms: %.2f MB/s)\n", s.len,
                    n_ids, ms, ms > 0 ? (double)s.len / 1e3 / ms : 0.0, cpu, cpu > 0 ? (double)s.len / 1e3 / cpu : 0.0);
        rc = print_ids(ids, n_ids);
        free(ids);
    }
    session_close(&s);
    return rc;
}

// Parse whitespace-separated decimal ids; every one must be below n_vocab.
static int parse_ids(const uint8_t *s, size_t len, int n_vocab, int32_t **out, size_t *n_out) {
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
            i++;
            continue;
        }
        size_t j = i;
        uint64_t v = 0;
        bool digits = true;
        while (j < len && !(s[j] == ' ' || s[j] == '\n' || s[j] == '\t' || s[j] == '\r')) {
            if (s[j] < '0' || s[j] > '9') digits = false;
            else if (v <= (uint64_t)n_vocab) v = v * 10 + (uint64_t)(s[j] - '0');
            j++;
        }
        int w = (int)(j - i > 40 ? 40 : j - i);
        if (!digits) {
            free(ids);
            return cli_error("detokenize: '%.*s' is not a token id (a whole number)", w, (const char *)s + i);
        }
        if (v >= (uint64_t)n_vocab) {
            free(ids);
            return cli_error("detokenize: token id %.*s is out of range: the vocabulary has ids 0 to %d", w,
                             (const char *)s + i, n_vocab - 1);
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            int32_t *p = realloc(ids, cap * sizeof *p);
            if (!p) {
                free(ids);
                return cli_error("detokenize: out of memory");
            }
            ids = p;
        }
        ids[n++] = (int32_t)v;
        i = j;
    }
    *out = ids;
    *n_out = n;
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    tok_session s;
    if (session_open(&s, argc, argv, false)) return 1;
    size_t n = 0;
    int32_t *ids = NULL;
    int rc = parse_ids(s.text, s.len, tokenizer_n_vocab(s.tok), &ids, &n);
    size_t len = 0;
    uint8_t *text = rc == 0 ? tokenizer_decode(s.tok, ids, n, s.f.special, &len) : NULL;
    if (rc == 0 && !text) rc = cli_error("detokenize: out of memory");
    if (rc == 0 && fwrite(text, 1, len, stdout) != len) rc = cli_error("writing stdout: %s", strerror(errno));
    free(text);
    if (rc == 0 && fflush(stdout) != 0) rc = cli_error("writing stdout: %s", strerror(errno));
    free(ids);
    session_close(&s);
    return rc;
}
