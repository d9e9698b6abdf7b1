// load_any.c: recognise a model path and open it as a gguf context.
#include <stdbool.h>
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
    mapped_file m;
    char err[GPT_ERR_LEN];
    if (map_file(&m, path, err)) return MODEL_FMT_UNKNOWN;
    bool l2c = llama2c_probe(m.data, m.size);
    unmap_file(&m);
    return l2c ? MODEL_FMT_LLAMA2C : MODEL_FMT_UNKNOWN;
}

int load_any(gguf_ctx **out, const char *path, const char *tokenizer_path, char *err) {
    *out = NULL;
    model_format f = detect_model_format(path);
    if (tokenizer_path && f != MODEL_FMT_LLMC && f != MODEL_FMT_LLAMA2C && f != MODEL_FMT_UNKNOWN)
        return gpt_fail(err, "%s: -z (a tokenizer file) is for llama2.c and llm.c checkpoints; this model has its "
                             "own tokenizer", path);
    switch (f) {
    case MODEL_FMT_GGUF: return gguf_open(out, path, err);
    case MODEL_FMT_HF_DIR: return load_hf_dir(out, path, err);
    case MODEL_FMT_LLMC: return load_llmc(out, path, tokenizer_path, err);
    case MODEL_FMT_LLAMA2C: return load_llama2c(out, path, tokenizer_path, err);
    default: break;
    }
    struct stat st;
    if (stat(path, &st) != 0) return gpt_fail(err, "%s: no such file or directory", path);
    uint8_t b[4];
    if (S_ISREG(st.st_mode) && !read_magic(path, b) && rd_u32(b) == LLMC_TOKENIZER_MAGIC)
        return gpt_fail(err, "%s: an llm.c tokenizer, not a model (give the checkpoint, e.g. gpt2_124M.bin)", path);
    if (S_ISREG(st.st_mode)) {  // say why it is not a llama2.c checkpoint, the format without a magic
        char why[GPT_ERR_LEN];
        if (load_llama2c(out, path, tokenizer_path, why) == 0) return 0;
        size_t pl = strlen(path);
        const char *w = strncmp(why, path, pl) == 0 && why[pl] == ':' ? why + pl + 2 : why;
        return gpt_fail(err, "%s: not a GGUF file, an llm.c checkpoint or a Hugging Face model directory; read as "
                             "a llama2.c checkpoint: %.300s", path, w);
    }
    return gpt_fail(err, "%s: not a GGUF file, a llama2.c or llm.c checkpoint or a Hugging Face model directory", path);
}
