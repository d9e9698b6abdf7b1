// fuzz_gguf.c: libFuzzer harness for a GGUF file: the input is the whole
// file, opened with gpt_model_open (GGUF reader, model builder, tokenizer);
// a model that opens is then used (fuzz_common.h).
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[512], err[GPT_ERR_LEN];
    fuzz_put("model.gguf", data, len);
    gpt_model *m;
    if (gpt_model_open(&m, fuzz_path("model.gguf", path), err) == 0) {
        fuzz_run_model(m, data, len);
        gpt_model_free(m);
    } else {
        fuzz_verbose(err);
    }
    return 0;
}
