// fuzz_hf.c: libFuzzer harness for a Hugging Face GPT-2 directory. The input
// is up to six files separated by FUZZ_SEP: config.json, vocab.json,
// merges.txt, model.safetensors, tokenizer.json, added_tokens.json; files
// past the last part are absent. Opened with gpt_model_open on the directory.
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static const char *names[] = {"config.json", "vocab.json", "merges.txt", "model.safetensors",
                                  "tokenizer.json", "added_tokens.json"};
    enum { N = sizeof names / sizeof names[0] };
    fuzz_part parts[N];
    size_t n = fuzz_split(data, len, parts, N);
    for (size_t i = 0; i < N; i++) fuzz_put(names[i], i < n ? parts[i].data : NULL, i < n ? parts[i].len : 0);
    char err[GPT_ERR_LEN];
    gpt_model *m;
    if (gpt_model_open(&m, fuzz_scratch(), err) == 0) {
        fuzz_run_model(m, parts[0].data, parts[0].len);
        gpt_model_free(m);
    } else {
        fuzz_verbose(err);
    }
    return 0;
}
