// fuzz_llama2c.c: libFuzzer harness for a llama2.c checkpoint and its tokenizer.bin:
// the input is model.bin FUZZ_SEP tokenizer.bin (without a separator
// the tokenizer is absent). Opened with gpt_model_open on model.bin, which
// finds tokenizer.bin beside it (versions 0, 1 and 2; version 0 has no magic).
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    fuzz_part parts[2];
    size_t n = fuzz_split(data, len, parts, 2);
    fuzz_put("model.bin", parts[0].data, parts[0].len);
    fuzz_put("tokenizer.bin", n > 1 ? parts[1].data : NULL, n > 1 ? parts[1].len : 0);
    char path[512], err[GPT_ERR_LEN];
    gpt_model *m;
    if (gpt_model_open(&m, fuzz_path("model.bin", path), err) == 0) {
        fuzz_run_model(m, parts[0].data, parts[0].len);
        gpt_model_free(m);
    } else {
        fuzz_verbose(err);
    }
    return 0;
}
