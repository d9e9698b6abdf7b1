// cmd_generate.c: `gpt -m MODEL -p PROMPT`: tokenize, prefill, then decode
// one token at a time, streaming text to stdout as it is made.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gpt.h"
#include "model.h"
#include "tokenizer.h"
#include "util.h"

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpt -m MODEL -p PROMPT [options]\n"
            "\n"
            "Generate text. MODEL is a GGUF file (gpt2, llama, qwen2, qwen3), a Hugging Face\n"
            "directory, a llama2.c checkpoint or an llm.c checkpoint. Text streams to stdout;\n"
            "statistics go to stderr.\n"
            "\n"
            "  -m, --model PATH        model to run (required)\n"
            "  -z, --tokenizer-bin PATH  the tokenizer of a llama2.c (or llm.c) checkpoint\n"
            "                          (default: tokenizer.bin, gpt2_tokenizer.bin beside it)\n"
            "  -p, --prompt TEXT       prompt (default: empty; generation starts from the model's BOS,\n"
            "                          or <|endoftext|> for GPT-2)\n"
            "  -f, --file PATH         read the prompt from a file\n"
            "  -n, --n-predict N       tokens to generate (default 128; -1 = until the context is full)\n"
            "  -c, --ctx-size N        context length (default: the model's)\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "      --kv-type T         KV cache elements: f32, f16 or auto (default: auto, f16 for\n"
            "                          models with Q4_0 matrices, f32 for the others)\n"
            "  -s, --seed N            random seed (default 42)\n"
            "      --temp T            temperature, 0 = greedy (default 0.8)\n"
            "      --top-k N           keep the N most likely tokens, 0 = off (default 40)\n"
            "      --top-p P           keep the smallest set with probability >= P, 1 = off (default 0.95)\n"
            "      --min-p P           drop tokens below P x the top probability, 0 = off (default 0.05)\n"
            "      --repeat-penalty X  penalise repeated tokens, 1 = off (default 1.0)\n"
            "      --repeat-last-n N   how many recent tokens the penalty sees, -1 = all (default 64)\n"
            "      --ignore-eos        keep generating after an end-of-generation token (EOS, <|eot_id|>, ...)\n"
            "      --special           special tokens' text in the prompt is those tokens, and they are printed\n"
            "      --probs N           print each generated token's top N candidates to stderr\n"
            "  -h, --help              this help\n"
            "      --version           print the version\n");
}

typedef struct {
    const char *model, *tokenizer, *prompt, *file;
    long n_predict, n_ctx, threads, top_k, repeat_last_n, probs;
    uint64_t seed;
    double temp, top_p, min_p, repeat_penalty;
    bool ignore_eos, special;
    int kv_type;
} gen_args;

// Parse flags; returns 0 to go on, or 1 + exit code - 1 ... simpler: -1 to
// exit 0 (help), 1 for a bad flag.
static int parse_args(int argc, char **argv, gen_args *a) {
    *a = (gen_args){.n_predict = 128, .temp = 0.8, .top_k = 40, .top_p = 0.95, .min_p = 0.05,
                    .repeat_penalty = 1.0, .repeat_last_n = 64, .seed = 42};
    int i0 = (argc > 1 && strcmp(argv[1], "generate") == 0) ? 2 : 1;
    for (int i = i0; i < argc; i++) {
        const char *f = argv[i], *v = NULL;
#define VAL() \
    if (!(v = flag_value(argc, argv, &i))) return 1
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(f, "--version")) {
            printf("gpt %s\n", GPT_VERSION);
            return -1;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--model")) {
            VAL();
            a->model = v;
        } else if (!strcmp(f, "-z") || !strcmp(f, "--tokenizer-bin")) {
            VAL();
            a->tokenizer = v;
        } else if (!strcmp(f, "-p") || !strcmp(f, "--prompt")) {
            VAL();
            a->prompt = v;
        } else if (!strcmp(f, "-f") || !strcmp(f, "--file")) {
            VAL();
            a->file = v;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--n-predict")) {
            VAL();
            if (parse_int_flag(f, v, -1, 1 << 30, &a->n_predict)) return 1;
        } else if (!strcmp(f, "-c") || !strcmp(f, "--ctx-size")) {
            VAL();
            if (parse_int_flag(f, v, 0, 1 << 20, &a->n_ctx)) return 1;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            VAL();
            if (parse_int_flag(f, v, 1, 512, &a->threads)) return 1;
        } else if (!strcmp(f, "--kv-type")) {
            VAL();
            if (parse_kv_flag(f, v, &a->kv_type)) return 1;
        } else if (!strcmp(f, "-s") || !strcmp(f, "--seed")) {
            VAL();
            if (parse_u64_flag(f, v, &a->seed)) return 1;
        } else if (!strcmp(f, "--temp")) {
            VAL();
            if (parse_float_flag(f, v, 0, 100, &a->temp)) return 1;
        } else if (!strcmp(f, "--top-k")) {
            VAL();
            if (parse_int_flag(f, v, 0, 1 << 24, &a->top_k)) return 1;
        } else if (!strcmp(f, "--top-p")) {
            VAL();
            if (parse_float_flag(f, v, 0, 1, &a->top_p)) return 1;
            if (a->top_p <= 0) return cli_error("--top-p must be greater than 0");
        } else if (!strcmp(f, "--min-p")) {
            VAL();
            if (parse_float_flag(f, v, 0, 1, &a->min_p)) return 1;
        } else if (!strcmp(f, "--repeat-penalty")) {
            VAL();
            if (parse_float_flag(f, v, 0.01, 100, &a->repeat_penalty)) return 1;
        } else if (!strcmp(f, "--repeat-last-n")) {
            VAL();
            if (parse_int_flag(f, v, -1, 1 << 20, &a->repeat_last_n)) return 1;
        } else if (!strcmp(f, "--probs")) {
            VAL();
            if (parse_int_flag(f, v, 0, 100, &a->probs)) return 1;
        } else if (!strcmp(f, "--ignore-eos")) {
            a->ignore_eos = true;
        } else if (!strcmp(f, "--special")) {
            a->special = true;
        } else {
            return cli_error("unknown option '%s' (see gpt --help)", f);
        }
#undef VAL
    }
    if (!a->model) return cli_error("no model given: use -m MODEL (see gpt --help)");
    if (a->prompt && a->file) return cli_error("give the prompt with -p or -f, not both");
    return 0;
}

// Write all of buf; on a closed pipe (EPIPE) report failure quietly.
static int write_out(const void *buf, size_t n) {
    if (n && fwrite(buf, 1, n, stdout) != n) return -1;
    if (fflush(stdout) != 0) return -1;
    return 0;
}

static void print_probs(gpt_model *m, gpt_sampler *s, int k, int32_t chosen) {
    int32_t ids[100];
    float probs[100];
    int n = gpt_sampler_top(s, k, ids, probs);
    fprintf(stderr, "[probs] chosen %d:", chosen);
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *b = gpt_token_bytes(m, ids[i], &len);
        fputs(" '", stderr);
        for (size_t j = 0; j < len; j++) {  // escape so control bytes don't garble the terminal
            unsigned char ch = (unsigned char)b[j];
            if (ch == '\n') fputs("\\n", stderr);
            else if (ch == '\'' || ch == '\\') fprintf(stderr, "\\%c", ch);
            else if (ch < 0x20 || ch == 0x7F) fprintf(stderr, "\\x%02x", ch);
            else fputc(ch, stderr);
        }
        fprintf(stderr, "'=%.4f", probs[i]);
    }
    fputc('\n', stderr);
}

int cmd_generate(int argc, char **argv) {
    gen_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);  // a closed stdout shows up as EPIPE from fwrite
    char err[GPT_ERR_LEN];
    char *prompt_buf = NULL;
    size_t prompt_len = 0;
    if (a.file) {
        if (read_file_all(a.file, (size_t)1 << 30, &prompt_buf, &prompt_len, err)) return cli_error("%s", err);
    } else if (a.prompt) {
        prompt_len = strlen(a.prompt);
    }
    const char *prompt = a.file ? prompt_buf : (a.prompt ? a.prompt : "");

    double t0 = now_ms();
    gpt_model *m = NULL;
    gpt_context *ctx = NULL;
    gpt_sampler *smp = NULL;
    int32_t *ids = NULL;
    int exit_code = 1;
    if (gpt_model_open_ex(&m, a.model, a.tokenizer, err)) {
        cli_error("%s", err);
        goto done;
    }
    if (a.n_ctx > m->hp.n_ctx && m->hp.pos == GPT_POS_LEARNED) {  // gpt_context_new would quietly use less
        cli_error("-c %ld is larger than the model's context of %d positions (its learned position table)", a.n_ctx,
                  m->hp.n_ctx);
        goto done;
    }
    if (a.n_ctx > m->hp.n_ctx)
        fprintf(stderr, "gpt: -c %ld is beyond the %d positions the model was trained on\n", a.n_ctx, m->hp.n_ctx);
    int threads = a.threads ? (int)a.threads : physical_cores();
    if (gpt_context_new_kv(&ctx, m, (int)a.n_ctx, threads, (gpt_kv_type)a.kv_type, err)) {
        cli_error("%s", err);
        goto done;
    }
    double t_load = now_ms() - t0;
    int n_ctx = gpt_context_n_ctx(ctx), V = gpt_n_vocab(m), eos = m->hp.eos_id;

    size_t n_prompt = 0;
    int32_t *pids = tokenizer_encode(m->tok, (const uint8_t *)prompt, prompt_len, a.special, &n_prompt);
    if (!pids) {
        cli_error("out of memory tokenizing the prompt");
        goto done;
    }
    if (tokenizer_add_bos(m->tok)) {  // the model's BOS first, when its tokenizer says so
        int32_t *p = realloc(pids, (n_prompt + 1) * sizeof *p);
        if (!p) {
            free(pids);
            cli_error("out of memory tokenizing the prompt");
            goto done;
        }
        pids = p;
        memmove(pids + 1, pids, n_prompt * sizeof *pids);
        pids[0] = tokenizer_bos_id(m->tok);
        n_prompt++;
    }
    if (n_prompt == 0) {  // an empty prompt starts from <|endoftext|>, as GPT-2 was trained
        if (eos < 0) {
            free(pids);
            cli_error("empty prompt and the model has no <|endoftext|> token to start from");
            goto done;
        }
        pids[0] = eos;
        n_prompt = 1;
    }
    if (n_prompt > (size_t)n_ctx) {
        free(pids);
        cli_error("the prompt is %zu tokens, longer than the context of %d (use -c to raise it, up to the model's %d)",
                  n_prompt, n_ctx, m->hp.n_ctx);
        goto done;
    }
    long n_predict = a.n_predict < 0 ? n_ctx - (long)n_prompt : a.n_predict;
    // generation stops when the context is full: ids never outgrow it (-n may be 2^30)
    size_t n_ids_max = (size_t)n_prompt + (size_t)n_predict;
    if (n_ids_max > (size_t)n_ctx) n_ids_max = (size_t)n_ctx;
    ids = malloc((n_ids_max + 1) * sizeof(int32_t));
    if (!ids) {
        free(pids);
        cli_error("out of memory");
        goto done;
    }
    memcpy(ids, pids, n_prompt * sizeof(int32_t));
    free(pids);
    int n_ids = (int)n_prompt;
    smp = gpt_sampler_new(&(gpt_sampler_params){(float)a.temp, (int)a.top_k, (float)a.top_p, (float)a.min_p,
                                                (float)a.repeat_penalty, (int)a.repeat_last_n, a.seed});
    if (!smp) {
        cli_error("out of memory");
        goto done;
    }
    // echo the prompt, then stream; hold back split UTF-8 sequences
    if (write_out(prompt, prompt_len)) goto quiet_exit;
    signal(SIGINT, on_sigint);

    double t1 = now_ms();
    const float *logits = gpt_eval(ctx, ids, n_ids, false, err);
    if (!logits) {
        cli_error("%s", err);
        goto done;
    }
    double t_prompt = now_ms() - t1, t_gen = 0;
    int n_gen = 0;
    const char *stop_reason = NULL;
    utf8_stream us = {0};
    uint8_t buf[512];
    bool pipe_closed = false;
    while (n_gen < n_predict && !interrupted) {
        // the rate counts what a token costs: its evaluation and the sampling
        // that follows (the first token's sampling follows the prompt's)
        double ts = now_ms();
        int32_t next = gpt_sample(smp, logits, V, ids, n_ids);
        if (n_gen > 0) t_gen += now_ms() - ts;
        if (a.probs) print_probs(m, smp, (int)a.probs, next);
        n_gen++;
        if (tokenizer_is_eog(m->tok, next) && !a.ignore_eos) {
            stop_reason = "end of text";
            break;
        }
        ids[n_ids++] = next;
        size_t len;
        // with an empty prompt the first piece starts the text: SentencePiece's
        // prefix space is dropped there, as run.c and llama.cpp drop it after BOS
        const uint8_t *b = tokenizer_piece(m->tok, next, a.special, prompt_len == 0 && n_gen == 1, &len);
        while (len > 0 && !pipe_closed) {
            size_t chunk = len < sizeof buf - 4 ? len : sizeof buf - 4;
            size_t w = utf8_stream_push(&us, b, chunk, buf);
            if (write_out(buf, w)) pipe_closed = true;
            b += chunk, len -= chunk;
        }
        if (pipe_closed) break;
        if (n_gen == n_predict) break;
        if (gpt_context_n_past(ctx) >= n_ctx) {
            stop_reason = "context full";
            break;
        }
        double t2 = now_ms();
        logits = gpt_eval(ctx, &next, 1, false, err);
        t_gen += now_ms() - t2;
        if (!logits) {
            cli_error("%s", err);
            goto done;
        }
    }
    size_t w = utf8_stream_flush(&us, buf);
    if (!pipe_closed && write_out(buf, w) == 0) {
        if (write_out("\n", 1)) pipe_closed = true;
    }
    if (interrupted) stop_reason = "interrupted";
    if (stop_reason && strcmp(stop_reason, "context full") == 0)
        fprintf(stderr, "gpt: stopped: the context of %d tokens is full\n", n_ctx);
    int n_decoded = n_gen > 1 ? n_gen - 1 : 0;  // the first token came from the prefill
    fprintf(stderr,
            "gpt: load %.0f ms | prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s%s%s\n",
            t_load, (int)n_prompt, t_prompt > 0 ? n_prompt * 1000.0 / t_prompt : 0.0, n_gen,
            t_gen > 0 ? n_decoded * 1000.0 / t_gen : 0.0, stop_reason ? " | stop: " : "",
            stop_reason ? stop_reason : "");
quiet_exit:
    exit_code = interrupted ? 130 : 0;
done:
    free(ids);
    free(prompt_buf);
    gpt_sampler_free(smp);
    gpt_context_free(ctx);
    gpt_model_free(m);
    return exit_code;
}
