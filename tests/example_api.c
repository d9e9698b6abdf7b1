// example_api.c: gpt embedded in a C program through include/gpt.h, the
// README's example ("Embedding it in a C program"); tests/test_embed.py
// builds it against an installed libgpt and checks that it writes what
// `gpt -m MODEL -p PROMPT -n N` writes.
//
//   example_api MODEL PROMPT [N]
//
// Prints the prompt, then up to N (default 64) sampled tokens as they come,
// with the CLI's default sampler settings.
#include <gpt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]);
        return 1;
    }
    const char *prompt = argv[2];
    int n_predict = argc > 3 ? atoi(argv[3]) : 64;
    char err[GPT_ERR_LEN];
    gpt_model *m = NULL;
    gpt_context *ctx = NULL;
    gpt_sampler *smp = NULL;
    int32_t *ids = NULL;
    int rc = 1;

    // the model (a GGUF file is mapped, not copied) and one sequence's KV
    // cache: 0, 0 = the model's context length, one thread per core
    if (gpt_model_open(&m, argv[1], err) || gpt_context_new(&ctx, m, 0, 0, err)) goto fail;
    int n_ctx = gpt_context_n_ctx(ctx), eos = gpt_model_hparams(m)->eos_id;
    ids = malloc((size_t)n_ctx * sizeof *ids);
    if (!ids) goto oom;

    // the prompt's ids; an empty prompt starts from <|endoftext|>
    int n = gpt_tokenize(m, prompt, strlen(prompt), false, ids, n_ctx);
    if (n < 0) goto oom;
    if (n > n_ctx) {
        snprintf(err, sizeof err, "the prompt is %d tokens, longer than the context of %d", n, n_ctx);
        goto fail;
    }
    if (n == 0) {
        if (eos < 0) {
            snprintf(err, sizeof err, "empty prompt and no <|endoftext|> token to start from");
            goto fail;
        }
        ids[n++] = eos;
    }
    smp = gpt_sampler_new(&(gpt_sampler_params){
        .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 42});
    if (!smp) goto oom;

    // the prompt in one batch, then one token at a time
    fputs(prompt, stdout);
    const float *logits = gpt_eval(ctx, ids, n, false, err);  // [n_vocab], the last position's
    for (int i = 0; logits && i < n_predict && n < n_ctx; i++) {
        int32_t next = gpt_sample(smp, logits, gpt_n_vocab(m), ids, n);
        if (next == eos) break;
        ids[n++] = next;
        size_t len;
        const char *bytes = gpt_token_bytes(m, next, &len);  // may end inside a UTF-8 character
        fwrite(bytes, 1, len, stdout);
        fflush(stdout);
        if (i + 1 < n_predict && n < n_ctx) logits = gpt_eval(ctx, &next, 1, false, err);
    }
    if (!logits) goto fail;
    putchar('\n');
    rc = 0;
    goto done;
oom:
    snprintf(err, sizeof err, "out of memory");
fail:
    fprintf(stderr, "example_api: %s\n", err);
done:
    gpt_sampler_free(smp);
    free(ids);
    gpt_context_free(ctx);
    gpt_model_free(m);
    return rc;
}
