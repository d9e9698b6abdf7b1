// cmd_info.c: `gpt info -m MODEL`: what a model file holds.
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *tokenizer = NULL;
    bool tensors = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: gpt info -m MODEL [-z TOKENIZER.bin] [--tensors]\n"
                   "  prints the architecture, hyperparameters, tensor types, parameter count,\n"
                   "  file size, tokenizer size and the default KV cache; --tensors lists every tensor\n");
            return 0;
        } else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(model = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(argv[i], "-z") || !strcmp(argv[i], "--tokenizer-bin")) {
            if (!(tokenizer = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(argv[i], "--tensors")) {
            tensors = true;
        } else {
            return cli_error("info: unknown option '%s'", argv[i]);
        }
    }
    if (!model) return cli_error("info: no model given: use -m MODEL");
    char err[GPT_ERR_LEN];
    gpt_model *m;
    if (gpt_model_open_ex(&m, model, tokenizer, err)) return cli_error("%s", err);
    const gpt_hparams *hp = &m->hp;
    gguf_ctx *g = m->gguf;
    // count tensors by type
    uint64_t by_type[GGML_TYPE_BF16 + 1] = {0}, bytes = 0;
    for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->type <= GGML_TYPE_BF16) by_type[t->type]++;
        bytes += t->nbytes;
    }
    gguf_str name = {0, ""};
    const gguf_kv *kv = gguf_find_kv(g, "general.name");
    if (kv && kv->type == GGUF_TYPE_STRING) name = kv->v.s;
    printf("model:          %s\n", model);
    printf("format:         %s\n", gguf_file_size(g) ? "GGUF" : "converted in memory (not GGUF)");
    if (gguf_file_size(g)) printf("gguf version:   %u\n", gguf_version(g));
    printf("name:           %.*s\n", (int)name.len, name.ptr);
    printf("architecture:   %s\n", hp->arch);
    printf("n_vocab:        %d\nn_ctx:          %d\nn_embd:         %d\nn_head:         %d\n", hp->n_vocab,
           hp->n_ctx, hp->n_embd, hp->n_head);
    printf("n_head_kv:      %d%s\nhead_dim:       %d\n", hp->n_head_kv,
           hp->n_head_kv < hp->n_head ? " (grouped-query attention)" : "", hp->head_dim);
    printf("n_layer:        %d\nn_ff:           %d\n", hp->n_layer, hp->n_ff);
    printf("norm:           %s, eps %g\n", hp->norm == GPT_NORM_RMS ? "RMSNorm" : "LayerNorm", hp->ln_eps);
    if (hp->pos == GPT_POS_ROPE)
        printf("positions:      rotary, base %g, %s pairs%s\n", hp->rope_base,
               hp->rope_layout == GPT_ROPE_ADJACENT ? "adjacent (2i, 2i+1)" : "halves (i, i+hd/2)",
               hp->qk_norm ? ", q/k RMSNorm per head" : "");
    else
        printf("positions:      learned (position_embd)\n");
    if (hp->act == GPT_ACT_SWIGLU) printf("mlp:            SwiGLU (gate, up, down)\n");
    else printf("gelu:           %s\n", hp->gelu_erf ? "erf (exact)" : "tanh (approximation)");
    printf("output head:    %s\n", m->tied ? "tied to token_embd" : "output.weight");
    printf("tensor types:  ");
    for (uint32_t t = 0; t <= GGML_TYPE_BF16; t++)
        if (by_type[t]) printf(" %s x %llu", ggml_type_name(t), (unsigned long long)by_type[t]);
    printf("\nparameters:     %llu (%.1f M, output.weight not counted)\n", (unsigned long long)m->n_params,
           m->n_params / 1e6);
    printf("tensor bytes:   %llu (%.1f MiB)\n", (unsigned long long)bytes, bytes / 1048576.0);
    if (gguf_file_size(g))
        printf("file size:      %llu (%.1f MiB)\n", (unsigned long long)gguf_file_size(g), gguf_file_size(g) / 1048576.0);
    printf("tokenizer:      %d tokens, eos %d\n", tokenizer_n_vocab(m->tok), hp->eos_id);
    gpt_kv_type cache = gpt_model_kv_type(m);
    printf("kv cache:       %s by default (--kv-type), %llu bytes a position, %.1f MiB for %d\n",
           kv_type_name(cache), (unsigned long long)model_kv_bytes(m, 1, cache),
           model_kv_bytes(m, hp->n_ctx, cache) / 1048576.0, hp->n_ctx);
    if (tensors)
        for (uint64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            printf("  %-28.*s %-5s {", (int)t->name.len, t->name.ptr, ggml_type_name(t->type));
            for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
            printf("}\n");
        }
    gpt_model_free(m);
    return 0;
}
