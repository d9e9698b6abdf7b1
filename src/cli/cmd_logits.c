// cmd_logits.c: `gpt logits -m MODEL --ids "ID ID ..." [-o FILE]`, the
// machine interface the tests compare against PyTorch. Without -o it prints
// the last position's logits, one per line; with -o it writes every
// position's logits as little-endian float32 (T, vocab).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt.h"

static void usage(FILE *f) {
    fprintf(f, "usage: gpt logits -m MODEL [-z TOKENIZER.bin] --ids \"ID ID ...\" [-o FILE] [-t N] [--kv-type auto|f32|f16]\n"
               "  prints the logits of the last position (one per line), or with -o writes\n"
               "  every position's logits to FILE as little-endian float32 [T, vocab]\n");
}

// Parse whitespace- or comma-separated ids into a malloc'd array.
static int parse_ids(const char *s, int32_t **out, int *n) {
    size_t cap = strlen(s) / 2 + 1;
    int32_t *ids = malloc(cap * sizeof(int32_t));
    if (!ids) return cli_error("out of memory");
    int k = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7FFFFFFF) {
            free(ids);
            return cli_error("--ids: '%.20s' is not a token id", p);
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    *out = ids;
    *n = k;
    return 0;
}

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL, *ids_s = NULL, *out_path = NULL;
    long threads = 0;
    int kv_type = GPT_KV_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--model")) {
            if (!(model = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-z") || !strcmp(f, "--tokenizer-bin")) {
            if (!(tokenizer = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "--ids")) {
            if (!(ids_s = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-o")) {
            if (!(out_path = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            const char *v = flag_value(argc, argv, &i);
            if (!v || parse_int_flag(f, v, 1, 512, &threads)) return 1;
        } else if (!strcmp(f, "--kv-type")) {
            const char *v = flag_value(argc, argv, &i);
            if (!v || parse_kv_flag(f, v, &kv_type)) return 1;
        } else {
            return cli_error("logits: unknown option '%s'", f);
        }
    }
    if (!model || !ids_s) {
        usage(stderr);
        return 1;
    }
    int32_t *ids = NULL;
    int n = 0;
    if (parse_ids(ids_s, &ids, &n)) return 1;
    if (n == 0) {
        free(ids);
        return cli_error("--ids: no ids given");
    }
    char err[GPT_ERR_LEN];
    gpt_model *m = NULL;
    gpt_context *ctx = NULL;
    int rc = 1;
    int nth = threads ? (int)threads : physical_cores();
    if (gpt_model_open_ex(&m, model, tokenizer, err) || gpt_context_new_kv(&ctx, m, 0, nth, (gpt_kv_type)kv_type, err)) {
        cli_error("%s", err);
        goto done;
    }
    const float *logits = gpt_eval(ctx, ids, n, out_path != NULL, err);
    if (!logits) {
        cli_error("%s", err);
        goto done;
    }
    int V = gpt_n_vocab(m);
    if (out_path) {
        FILE *f = fopen(out_path, "wb");
        if (!f) {
            cli_error("%s: cannot create", out_path);
            goto done;
        }
        size_t cnt = (size_t)n * (size_t)V;
        int bad = fwrite(logits, sizeof(float), cnt, f) != cnt;
        bad |= fclose(f) != 0;
        if (bad) {
            cli_error("%s: write failed", out_path);
            goto done;
        }
    } else {
        for (int i = 0; i < V; i++) printf("%.9g\n", logits[i]);
    }
    rc = 0;
done:
    free(ids);
    gpt_context_free(ctx);
    gpt_model_free(m);
    return rc;
}
