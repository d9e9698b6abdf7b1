// fuzz_vocab.c: libFuzzer harness for tokenizer_from_files: the input is
// vocab.json FUZZ_SEP merges.txt FUZZ_SEP text. A tokenizer that builds
// must encode the text (with and without special tokens) to ids whose bytes
// are the text again.
#include "fuzz_common.h"

static void check_round_trip(gpt_tokenizer *t, const uint8_t *text, size_t len, bool special) {
    size_t n;
    int32_t *ids = tokenizer_encode(t, text, len, special, &n);
    if (!ids) return;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const uint8_t *b = tokenizer_token_bytes(t, ids[i], &l);
        if (!b || at + l > len || memcmp(b, text + at, l) != 0) {
            fprintf(stderr, "fuzz: id %d at token %zu does not decode to the text it came from\n", ids[i], i);
            abort();
        }
        at += l;
    }
    if (at != len) abort();
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    fuzz_part parts[3];
    size_t n = fuzz_split(data, len, parts, 3);
    fuzz_put("vocab.json", parts[0].data, parts[0].len);
    fuzz_put("merges.txt", n > 1 ? parts[1].data : NULL, n > 1 ? parts[1].len : 0);
    char vpath[512], mpath[512], err[GPT_ERR_LEN];
    gpt_tokenizer *t;
    if (tokenizer_from_files(&t, fuzz_path("vocab.json", vpath), fuzz_path("merges.txt", mpath), err) == 0) {
        const uint8_t *text = n > 2 ? parts[2].data : parts[0].data;
        size_t tlen = n > 2 ? parts[2].len : parts[0].len;
        check_round_trip(t, text, tlen, false);
        check_round_trip(t, text, tlen, true);
        tokenizer_free(t);
    } else {
        fuzz_verbose(err);
    }
    return 0;
}
