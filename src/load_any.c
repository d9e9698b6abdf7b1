// load_any.c: recognise a model path and open it as a gguf context.
#include <string.h>
#include <sys/stat.h>

#include "loaders.h"
#include "util.h"

#define LLMC_MODEL_MAGIC 20240326u
#define LLMC_TOKENIZER_MAGIC 20240328u

// The first 4 bytes of path, or -1 if it has fewer. Read through a map, not
// read(): read()'s readahead would cache the file's head in small folios
// before the loader's map asks for 2 MiB ones (see map_file).
static int read_magic(const char *path, uint8_t b[4]) {
    mapped_file m;
    char err[GPT_ERR_LEN];
    if (map_file(&m, path, err)) return -1;
    int ok = m.size >= 4;
    if (ok) memcpy(b, m.data, 4);
    unmap_file(&m);
    return ok ? 0 : -1;
}

model_format detect_model_format(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return MODEL_FMT_UNKNOWN;
    if (S_ISDIR(st.st_mode)) return MODEL_FMT_HF_DIR;
    uint8_t b[4];
    if (!S_ISREG(st.st_mode) || read_magic(path, b)) return MODEL_FMT_UNKNOWN;
    if (memcmp(b, "GGUF", 4) == 0) return MODEL_FMT_GGUF;
    if (rd_u32(b) == LLMC_MODEL_MAGIC) return MODEL_FMT_LLMC;
    return MODEL_FMT_UNKNOWN;
}

int load_any(gguf_ctx **out, const char *path, char *err) {
    *out = NULL;
    switch (detect_model_format(path)) {
    case MODEL_FMT_GGUF: return gguf_open(out, path, err);
    case MODEL_FMT_HF_DIR: return load_hf_dir(out, path, err);
    case MODEL_FMT_LLMC: return load_llmc(out, path, NULL, err);
    default: break;
    }
    struct stat st;
    if (stat(path, &st) != 0) return gpt_fail(err, "%s: no such file or directory", path);
    uint8_t b[4];
    if (S_ISREG(st.st_mode) && !read_magic(path, b) && rd_u32(b) == LLMC_TOKENIZER_MAGIC)
        return gpt_fail(err, "%s: an llm.c tokenizer, not a model (give the checkpoint, e.g. gpt2_124M.bin)", path);
    return gpt_fail(err, "%s: not a GGUF file, an llm.c checkpoint or a Hugging Face model directory", path);
}
