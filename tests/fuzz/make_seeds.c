// make_seeds.c: writes the tiny models of tiny_models.h.
//
//   make_seeds corpus DIR         the fuzzers' seed corpus: DIR/{gguf,hf,llmc,vocab,tokenizer}/
//   make_seeds gguf PATH [N_CTX]  one tiny GGUF model (for the CLI tests)
//   make_seeds hf DIR             a tiny Hugging Face directory
//   make_seeds llmc DIR           DIR/model.bin and DIR/gpt2_tokenizer.bin
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "gguf.h"
#include "tiny_models.h"

static int fail(const char *what) {
    fprintf(stderr, "make_seeds: %s\n", what);
    return 1;
}

static int mkdir_p(const char *dir) { return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1; }

// Concatenate files with FUZZ_SEP between them into out.
static int join(const char *out, const char *const *files, size_t n) {
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *d;
        size_t len;
        if (tiny_read_file(files[i], &d, &len)) {
            rc = -1;
            break;
        }
        if (i) fwrite(FUZZ_SEP, 1, FUZZ_SEP_LEN, f);
        fwrite(d, 1, len, f);
        free(d);
    }
    return fclose(f) || rc ? -1 : 0;
}

static int write_text(const char *path, const char *text, size_t len) { return tiny_write_file(path, text, len); }

static int corpus(const char *dir) {
    char d[1024], p[1200], tmp[1024], err[GPT_ERR_LEN];
    snprintf(tmp, sizeof tmp, "%s/.tmp", dir);
    const char *subs[] = {"", "/gguf", "/hf", "/llmc", "/vocab", "/tokenizer", "/.tmp"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(d, sizeof d, "%s%s", dir, subs[i]);
        if (mkdir_p(d)) return fail(d);
    }
    // GGUF: F32 with merges and biases; F16 with an output matrix, no merges, no biases
    tiny_opts o = tiny_default();
    o.n_ctx = 4, o.n_layer = 1;
    snprintf(p, sizeof p, "%s/gguf/tiny_f32.gguf", dir);
    if (tiny_write_gguf(p, &o, err)) return fail(err);
    tiny_opts o2 = o;
    o2.mat_type = GGML_TYPE_F16, o2.output = true, o2.merges = false, o2.bias = false;
    snprintf(p, sizeof p, "%s/gguf/tiny_f16_out.gguf", dir);
    if (tiny_write_gguf(p, &o2, err)) return fail(err);
    // HF: the four files joined
    if (tiny_write_hf(tmp, &o, err)) return fail(err);
    char f[4][1100];
    const char *names[4] = {"config.json", "vocab.json", "merges.txt", "model.safetensors"};
    const char *files[4];
    for (int i = 0; i < 4; i++) snprintf(f[i], sizeof f[i], "%s/%s", tmp, names[i]), files[i] = f[i];
    snprintf(p, sizeof p, "%s/hf/tiny", dir);
    if (join(p, files, 4)) return fail(p);
    // vocab: vocab.json, merges.txt and a text
    snprintf(f[2], sizeof f[2], "%s/text", tmp);
    static const char text[] = "the theme: 'tis the end<|endoftext|> the\xC3\xA9 \xF0\x9F\x98\x80 \xFF!";
    if (write_text(f[2], text, sizeof text - 1)) return fail(f[2]);
    snprintf(f[3], sizeof f[3], "%s/merges.txt", tmp);
    const char *vfiles[3] = {f[1], f[3], f[2]};  // vocab.json, merges.txt, text
    snprintf(p, sizeof p, "%s/vocab/tiny", dir);
    if (join(p, vfiles, 3)) return fail(p);
    // llm.c: checkpoint and tokenizer joined
    snprintf(f[0], sizeof f[0], "%s/model.bin", tmp);
    snprintf(f[1], sizeof f[1], "%s/gpt2_tokenizer.bin", tmp);
    if (tiny_write_llmc(f[0], f[1], &o, err)) return fail(err);
    const char *lfiles[2] = {f[0], f[1]};
    snprintf(p, sizeof p, "%s/llmc/tiny", dir);
    if (join(p, lfiles, 2)) return fail(p);
    // tokenizer: a flags byte, then text
    static const char *texts[] = {
        "\x01Hello, world! It's 2024 and we've   got <|endoftext|> tokens.\n\n",
        "\x00    leading spaces\ttabs\r\n and \xE2\x80\x83 em space\n",
        "\x03\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
        "\x02invalid \xC3\x28 \xE0\x80\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \x80\xBF\xFE\xFF truncated \xE2\x82",
        "\x05<|endoftext|><|endoftext|>x<|endoftext"};
    static const size_t lens[] = {sizeof "\x01Hello, world! It's 2024 and we've   got <|endoftext|> tokens.\n\n" - 1,
                                  sizeof "\x00    leading spaces\ttabs\r\n and \xE2\x80\x83 em space\n" - 1, 0, 0, 0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(p, sizeof p, "%s/tokenizer/text%zu", dir, i);
        size_t len = lens[i] ? lens[i] : strlen(texts[i]);
        if (write_text(p, texts[i], len)) return fail(p);
    }
    // clean the scratch files
    const char *scratch[] = {"config.json", "vocab.json", "merges.txt", "model.safetensors", "text", "model.bin",
                             "gpt2_tokenizer.bin"};
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, scratch[i]);
        unlink(p);
    }
    rmdir(tmp);
    return 0;
}

int main(int argc, char **argv) {
    char err[GPT_ERR_LEN];
    if (argc == 3 && strcmp(argv[1], "corpus") == 0) return corpus(argv[2]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "gguf") == 0) {
        tiny_opts o = tiny_default();
        if (argc == 4) o.n_ctx = atoi(argv[3]);
        if (o.n_ctx < 1) return fail("N_CTX must be positive");
        if (tiny_write_gguf(argv[2], &o, err)) return fail(err);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "hf") == 0) {
        tiny_opts o = tiny_default();
        if (mkdir_p(argv[2]) || tiny_write_hf(argv[2], &o, err)) return fail(err);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "llmc") == 0) {
        tiny_opts o = tiny_default();
        char bin[1024], tok[1024];
        snprintf(bin, sizeof bin, "%s/model.bin", argv[2]);
        snprintf(tok, sizeof tok, "%s/gpt2_tokenizer.bin", argv[2]);
        if (mkdir_p(argv[2]) || tiny_write_llmc(bin, tok, &o, err)) return fail(err);
        return 0;
    }
    fprintf(stderr, "usage: make_seeds corpus DIR | make_seeds gguf PATH [N_CTX] | make_seeds hf DIR | "
                    "make_seeds llmc DIR\n");
    return 2;
}
