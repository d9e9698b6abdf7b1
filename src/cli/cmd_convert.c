// cmd_convert.c: `gpt convert SRC OUT.gguf [--type f32|f16|q8_0|q4_0]`.
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert.h"
#include "loaders.h"
#include "model.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpt convert SRC OUT.gguf [-z TOKENIZER.bin] [--type f32|f16|q8_0|q4_0] [--keep-output f32|f16|q8_0]\n"
            "                   [--no-output]\n"
            "\n"
            "SRC is a GGUF file, a Hugging Face directory (GPT-2: config.json, model.safetensors, vocab.json,\n"
            "merges.txt; Llama, Mistral, Qwen2, Qwen3: config.json, model.safetensors or its shards,\n"
            "tokenizer.json), a llama2.c checkpoint (its tokenizer.bin beside it, or -z PATH) or an llm.c\n"
            "checkpoint (gpt2_124M.bin, gpt2_tokenizer.bin beside it).\n"
            "  --type T          type of the weight matrices (default f32); norms, biases and\n"
            "                    position embeddings stay F32\n"
            "  --keep-output T   type of the embedding/output matrix (default: --type)\n"
            "  --no-output       do not write output.weight for a tied head (files then load in\n"
            "                    gpt but not in llama.cpp, whose gpt2 loader requires it)\n");
}

static int parse_type(const char *flag, const char *s, uint32_t *out) {
    if (!strcmp(s, "f32")) *out = GGML_TYPE_F32;
    else if (!strcmp(s, "f16")) *out = GGML_TYPE_F16;
    else if (!strcmp(s, "q8_0")) *out = GGML_TYPE_Q8_0;
    else if (!strcmp(s, "q4_0")) *out = GGML_TYPE_Q4_0;
    else return cli_error("%s: unknown type '%s' (f32, f16, q8_0 or q4_0)", flag, s);
    return 0;
}

// Progress of one phase (converting, writing). On a terminal one line that
// counts up; into a file or a pipe (a log) a line at every tenth, instead
// of hundreds of carriage returns on one line.
typedef struct {
    const char *what;
    int last, tty;
} progress_line;

static void show_progress(uint64_t done, uint64_t total, void *arg) {
    progress_line *pl = arg;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pl->tty) {
        if (pct != pl->last) fprintf(stderr, "\rgpt: %s %3d%%", pl->what, pct);
        if (done == total) fputc('\n', stderr);
    } else if (pct / 10 != pl->last / 10) {
        fprintf(stderr, "gpt: %s %3d%%\n", pl->what, pct / 10 * 10);
    }
    pl->last = pct;
}

int cmd_convert(int argc, char **argv) {
    const char *src = NULL, *dst = NULL, *tok_bin = NULL;
    convert_options o = {.type = GGML_TYPE_F32, .output_type = -1, .write_output = true};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(f, "--type")) {
            const char *v = flag_value(argc, argv, &i);
            if (!v || parse_type(f, v, &o.type)) return 1;
        } else if (!strcmp(f, "--keep-output")) {
            const char *v = flag_value(argc, argv, &i);
            uint32_t t = 0;
            if (!v || parse_type(f, v, &t)) return 1;
            o.output_type = (int)t;
        } else if (!strcmp(f, "-z") || !strcmp(f, "--tokenizer-bin")) {
            if (!(tok_bin = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "--no-output")) {
            o.write_output = false;
        } else if (f[0] == '-' && f[1]) {
            return cli_error("convert: unknown option '%s'", f);
        } else if (!src) {
            src = f;
        } else if (!dst) {
            dst = f;
        } else {
            return cli_error("convert: too many arguments ('%s')", f);
        }
    }
    if (!src || !dst) {
        usage(stderr);
        return 1;
    }
    char err[GPT_ERR_LEN];
    gguf_ctx *in = NULL, *out = NULL;
    gpt_model *m = NULL;
    // the output's directory first (a conversion takes a while, and its end
    // is no time to learn that the path is wrong), then the model: every
    // tensor and key is validated before anything is written
    if (gguf_check_writable(dst, err)) return cli_error("%s", err);
    if (load_any(&in, src, tok_bin, err) || model_build(&m, in, src, err)) return cli_error("%s", err);
    int tty = isatty(fileno(stderr));
    progress_line converting = {"converting", -1, tty}, writing = {"writing", -1, tty};
    o.progress = show_progress;
    o.progress_arg = &converting;
    if (gguf_convert(&out, m->gguf, &o, err) || gguf_write(out, dst, show_progress, &writing, err)) {
        gguf_free(out);
        gpt_model_free(m);
        return cli_error("%s", err);
    }
    if (o.n_fallback)
        fprintf(stderr, "gpt: %d matrices have rows that are not a multiple of 32 and were stored as F16\n",
                o.n_fallback);
    fprintf(stderr, "gpt: wrote %s\n", dst);
    gguf_free(out);
    gpt_model_free(m);
    return 0;
}
