// fuzz_tokfile.c: libFuzzer harness for the tokenizer readers of
// tokenizer_open: the input is a format byte ('j' tokenizer.json, 'b'
// llama2.c tokenizer.bin, anything else a GGUF vocabulary), then the file
// FUZZ_SEP text [FUZZ_SEP tokenizer_config.json]. A tokenizer that builds
// must encode the text (with and without special tokens) to ids in range
// whose decoding does not fail, and byte-level ones must decode to the
// text again.
#include "fuzz_common.h"

static void check_text(gpt_tokenizer *t, const uint8_t *text, size_t len, bool special) {
    size_t n;
    int32_t *ids = tokenizer_encode(t, text, len, special, &n);
    if (!ids) return;
    size_t at = 0;
    bool exact = tokenizer_kind_of(t) == TOKENIZER_BPE;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t)) {
            fprintf(stderr, "fuzz: id %d out of range\n", ids[i]);
            abort();
        }
        const uint8_t *b = tokenizer_piece(t, ids[i], true, at == 0, &l);
        if (!b) abort();
        if (exact && (at + l > len || memcmp(b, text + at, l) != 0)) {
            fprintf(stderr, "fuzz: id %d at token %zu does not decode to the text it came from\n", ids[i], i);
            abort();
        }
        at += l;
        (void)tokenizer_is_eog(t, ids[i]);
    }
    if (exact && at != len) abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    if (len < 1) return 0;
    fuzz_part parts[3];
    size_t n = fuzz_split(data + 1, len - 1, parts, 3);
    const char *name = data[0] == 'j' ? "tokenizer.json" : data[0] == 'b' ? "tokenizer.bin" : "model.gguf";
    char path[512], cfg[512], err[GPT_ERR_LEN];
    fuzz_scratch();
    fuzz_put(name, parts[0].data, parts[0].len);
    if (n > 2) fuzz_put("tokenizer_config.json", parts[2].data, parts[2].len);
    else unlink(fuzz_path("tokenizer_config.json", cfg));
    gpt_tokenizer *t;
    if (tokenizer_open(&t, fuzz_path(name, path), err) == 0) {
        const uint8_t *text = n > 1 ? parts[1].data : parts[0].data;
        size_t tlen = n > 1 ? parts[1].len : parts[0].len;
        check_text(t, text, tlen, false);
        check_text(t, text, tlen, true);
        tokenizer_free(t);
    } else {
        fuzz_verbose(err);
    }
    return 0;
}
