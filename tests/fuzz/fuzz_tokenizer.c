// fuzz_tokenizer.c: libFuzzer harness for encoding and decoding arbitrary
// bytes with GPT-2's real vocabulary (encoder.json and vocab.bpe from
// $GPT_FUZZ_TOKENIZER_DIR, tokenizer/gpt2 or /work/shared/tokenizer/gpt2), or
// the tiny test vocabulary when none is found. The first byte chooses
// allow_special and how the decoded bytes are chunked through the streaming
// UTF-8 decoder; the rest is the text. Checks: the ids decode to the text,
// and the stream gives back exactly the bytes it was fed.
#include "fuzz_common.h"

static gpt_tokenizer *tok;

static gpt_tokenizer *load_tokenizer(void) {
    const char *dirs[] = {getenv("GPT_FUZZ_TOKENIZER_DIR"), "tokenizer/gpt2", "../tokenizer/gpt2",
                          "/work/shared/tokenizer/gpt2"};
    char err[GPT_ERR_LEN], v[600], m[600];
    gpt_tokenizer *t;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i]) continue;
        snprintf(v, sizeof v, "%s/encoder.json", dirs[i]);
        snprintf(m, sizeof m, "%s/vocab.bpe", dirs[i]);
        if (access(v, R_OK) == 0 && tokenizer_from_files(&t, v, m, err) == 0) {
            fprintf(stderr, "fuzz_tokenizer: vocabulary from %s\n", dirs[i]);
            return t;
        }
    }
    // the tiny vocabulary, from a tiny GGUF
    char path[512];
    tiny_opts o = tiny_default();
    gguf_ctx *g;
    fuzz_scratch();
    if (tiny_write_gguf(fuzz_path("model.gguf", path), &o, err) || gguf_open(&g, path, err) ||
        tokenizer_from_gguf(&t, g, err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        abort();
    }
    gguf_free(g);
    fprintf(stderr, "fuzz_tokenizer: GPT-2's vocabulary not found; using the tiny test vocabulary\n");
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (!tok) tok = load_tokenizer();
    if (len == 0) return 0;
    uint8_t flags = data[0];
    const uint8_t *text = data + 1;
    len--;
    size_t n;
    int32_t *ids = tokenizer_encode(tok, text, len, flags & 1, &n);
    if (!ids) return 0;
    // decode through the stream in chunks of 1 + (flags >> 1) % 8 tokens' bytes
    size_t chunk = 1 + (flags >> 1) % 8, at = 0, got = 0;
    uint8_t *out = malloc(len + 8), buf[4096];
    if (!out) abort();
    utf8_stream us = {0};
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = 0;
        for (size_t j = i; j < n && j < i + chunk; j++) {
            size_t l;
            const uint8_t *b = tokenizer_token_bytes(tok, ids[j], &l);
            if (!b || at + l > len || memcmp(b, text + at, l) != 0) {
                fprintf(stderr, "fuzz: id %d at token %zu does not decode to the text\n", ids[j], j);
                abort();
            }
            at += l;
            if (k + l > 4096) abort();  // GPT-2's tokens are short
            memcpy(buf + k, b, l);
            k += l;
        }
        uint8_t tmp[4096 + 8];
        size_t w = utf8_stream_push(&us, buf, k, tmp);
        if (got + w > len) abort();
        memcpy(out + got, tmp, w);
        got += w;
    }
    uint8_t tail[8];
    size_t w = utf8_stream_flush(&us, tail);
    if (got + w != len || at != len) abort();
    memcpy(out + got, tail, w);
    if (len && memcmp(out, text, len) != 0) {
        fprintf(stderr, "fuzz: the UTF-8 stream changed the bytes\n");
        abort();
    }
    free(out);
    free(ids);
    return 0;
}
