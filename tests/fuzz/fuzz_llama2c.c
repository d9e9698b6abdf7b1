// fuzz_llama2c.c: libFuzzer harness for a llama2.c checkpoint and its tokenizer.bin:
// the input is model.bin FUZZ_SEP tokenizer.bin (without a separator the
// tokenizer is absent); versions 0, 1 and 2 (version 0 has no magic).
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    fuzz_checkpoint_with_tokenizer(data, len, "tokenizer.bin");
    return 0;
}
