// fuzz_common.h: what the libFuzzer harnesses share: splitting one input
// into several files, a private scratch directory to write them to (the
// loaders' API takes paths, so an input becomes files on a tmpfs), and a
// short run of a model that opened, so that whatever a loader accepted is
// also safe to use.
#ifndef GPT_FUZZ_COMMON_H
#define GPT_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpt.h"
#include "model.h"
#include "tiny_models.h"
#include "tokenizer.h"

// Inputs that hold several files separate them with this line.
#define FUZZ_SEP "\n--8<--\n"
#define FUZZ_SEP_LEN 8

typedef struct {
    const uint8_t *data;
    size_t len;
} fuzz_part;

// Split data at each FUZZ_SEP into at most max parts (the last part keeps
// any further separators); returns the number of parts.
static inline size_t fuzz_split(const uint8_t *data, size_t len, fuzz_part *parts, size_t max) {
    size_t n = 0, start = 0;
    for (size_t i = 0; n + 1 < max && i + FUZZ_SEP_LEN <= len;) {
        if (data[i] == '\n' && memcmp(data + i, FUZZ_SEP, FUZZ_SEP_LEN) == 0) {
            parts[n++] = (fuzz_part){data + start, i - start};
            i += FUZZ_SEP_LEN;
            start = i;
        } else {
            i++;
        }
    }
    parts[n++] = (fuzz_part){data + start, len - start};
    return n;
}

// With FUZZ_VERBOSE set in the environment, say why an input was rejected.
static inline void fuzz_verbose(const char *err) {
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "rejected: %s\n", err);
}

// ---- scratch directory -----------------------------------------------------------

static char fuzz_dir[256];

// dir/name into out (512 bytes).
static inline const char *fuzz_path(const char *name, char *out) {
    snprintf(out, 512, "%s/%s", fuzz_dir, name);
    return out;
}

static void fuzz_cleanup(void) {
    // the harnesses write only plain files directly in the directory
    static const char *names[] = {"model.gguf", "config.json", "vocab.json", "merges.txt", "model.safetensors",
                                  "tokenizer.json", "added_tokens.json", "model.bin", "gpt2_tokenizer.bin",
                                  "model.safetensors.index.json", "tokenizer.bin", "tokenizer_config.json"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(fuzz_path(names[i], path));
    rmdir(fuzz_dir);
}

// The harness's directory, created on first use and removed at exit.
static inline const char *fuzz_scratch(void) {
    if (fuzz_dir[0]) return fuzz_dir;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/gpt-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
    return fuzz_dir;
}

// Write a part to dir/name, or remove the file when data is NULL.
static inline void fuzz_put(const char *name, const uint8_t *data, size_t len) {
    char path[512];
    fuzz_scratch();
    fuzz_path(name, path);
    if (!data) {
        unlink(path);
        return;
    }
    if (tiny_write_file(path, data, len) != 0) {
        perror(path);
        abort();
    }
}

// ---- using what loaded ---------------------------------------------------------------

// Tokenize, check that the ids decode to the text, evaluate a few tokens in
// a small context and sample greedily. Aborts (a finding) on a wrong result.
static inline void fuzz_run_model(gpt_model *m, const uint8_t *text, size_t len) {
    if (len > 64) len = 64;
    size_t n = 0;
    int32_t *ids = tokenizer_encode(gpt_model_tokenizer(m), text, len, true, &n);
    if (!ids) return;
    // byte-level vocabularies give back the very bytes; SentencePiece ones
    // add a prefix space and may map what they lack to <unk>
    bool lossless = tokenizer_kind_of(gpt_model_tokenizer(m)) == TOKENIZER_BPE;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= gpt_n_vocab(m)) {
            fprintf(stderr, "fuzz: token %zu has id %d outside the vocabulary of %d\n", i, ids[i], gpt_n_vocab(m));
            abort();
        }
    size_t at = 0;
    for (size_t i = 0; i < n && lossless; i++) {
        size_t l;
        const char *b = gpt_token_bytes(m, ids[i], &l);
        if (!b || at + l > len || memcmp(b, text + at, l) != 0) {
            fprintf(stderr, "fuzz: token %zu (id %d) does not decode to the text it came from\n", i, ids[i]);
            abort();
        }
        at += l;
    }
    if (lossless && at != len) abort();
    char err[GPT_ERR_LEN];
    gpt_context *ctx;
    if (gpt_context_new(&ctx, m, 8, 1, err) == 0) {
        int32_t fallback = 0;
        int n_eval = n < 4 ? (int)n : 4;
        const float *logits = gpt_eval(ctx, n_eval ? ids : &fallback, n_eval ? n_eval : 1, false, err);
        if (logits) {
            gpt_sampler *s = gpt_sampler_new(&(gpt_sampler_params){.temp = 0, .top_p = 1, .repeat_penalty = 1});
            int32_t next = gpt_sample(s, logits, gpt_n_vocab(m), ids, n_eval);
            if (next < 0 || next >= gpt_n_vocab(m)) {
                fprintf(stderr, "fuzz: sampled id %d outside the vocabulary of %d\n", next, gpt_n_vocab(m));
                abort();
            }
            gpt_sampler_free(s);
        }
        gpt_context_free(ctx);
    }
    free(ids);
}

// A checkpoint and its tokenizer file in one input: model.bin FUZZ_SEP
// TOKENIZER (without a separator the tokenizer is absent), opened with
// gpt_model_open on model.bin, which finds the tokenizer beside it.
static inline void fuzz_checkpoint_with_tokenizer(const uint8_t *data, size_t len, const char *tokenizer_name) {
    fuzz_part parts[2];
    size_t n = fuzz_split(data, len, parts, 2);
    fuzz_put("model.bin", parts[0].data, parts[0].len);
    fuzz_put(tokenizer_name, n > 1 ? parts[1].data : NULL, n > 1 ? parts[1].len : 0);
    char path[512], err[GPT_ERR_LEN];
    gpt_model *m;
    if (gpt_model_open(&m, fuzz_path("model.bin", path), err) == 0) {
        fuzz_run_model(m, parts[0].data, parts[0].len);
        gpt_model_free(m);
    } else {
        fuzz_verbose(err);
    }
}

#endif
