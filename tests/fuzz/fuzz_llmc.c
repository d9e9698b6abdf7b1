// fuzz_llmc.c: libFuzzer harness for an llm.c checkpoint and its tokenizer:
// the input is model.bin FUZZ_SEP gpt2_tokenizer.bin (without a separator
// the tokenizer is absent). Opened with gpt_model_open on model.bin.
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    fuzz_checkpoint_with_tokenizer(data, len, "gpt2_tokenizer.bin");
    return 0;
}
