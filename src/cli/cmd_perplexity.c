// cmd_perplexity.c: `gpt perplexity -m MODEL -f TEXT [-c CTX]`, the
// perplexity of a text as llama-perplexity measures it, and the distance
// between two models' next-token distributions (--kl-base, --kl).
//
// Convention (llama-perplexity's): the text is tokenized as a whole and cut
// into non-overlapping windows of CTX tokens (default 512, llama-perplexity's
// default; a last, partial window is dropped; one whole window suffices where
// llama-perplexity wants two). Each window is evaluated from an empty cache; only its second
// half is scored: the logits at positions CTX/2 .. CTX-2 predict the tokens
// at CTX/2+1 .. CTX-1, so every scored token sees at least CTX/2 tokens of
// context. No <|endoftext|> is inserted: a window starts with its own text.
//   ppl = exp(mean NLL), with the standard error exp(mean) * sd(NLL)/sqrt(n-1)
//
// --kl-base FILE saves, for every scored position, the NLL of the true token
// and the top-K (--top-k, default 128) token ids with their log-probabilities;
// --kl FILE evaluates the same windows with another model (a quantized one,
// say) and compares. The divergence KL(base || model) is taken over the
// base's top-K tokens plus one bucket holding all the other tokens' mass:
// merging outcomes never increases KL, so this is a lower bound of the full
// divergence, exact with --top-k equal to the vocabulary size. On the first
// shipped model (4 x 128, 2048 tokens, perplexity 58: flat distributions) K = 32, 128, 512
// captured 74%, 90%, 98% of the full KL of Q8_0 and Q4_0; peaked
// distributions need fewer. The file:
//   header (40 bytes, little-endian): magic "GPTKLD01", uint32 n_vocab,
//     uint32 ctx, uint32 n_windows, uint32 top_k, uint64 n_positions,
//     uint64 FNV-1a hash of every evaluated token id (the same text, tokenizer
//     and windows are required to compare)
//   per scored position, in order: float64 NLL of the true token,
//     uint32 ids[top_k], float32 logprobs[top_k] (descending)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt.h"
#include "util.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)
#define KL_MAGIC "GPTKLD01"
#define KL_HEADER_BYTES 40

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpt perplexity -m MODEL [-z TOKENIZER.bin] -f TEXT [-c CTX] [-t N] [--chunks N]\n"
            "                      [--kl-base OUT.bin [--top-k K] | --kl IN.bin]\n"
            "\n"
            "Perplexity as llama-perplexity computes it: the text cut into non-overlapping\n"
            "windows of CTX tokens, each evaluated from scratch, its second half scored.\n"
            "  -m, --model PATH   model (GGUF, Hugging Face directory or llm.c checkpoint)\n"
            "  -f, --file PATH    text to score\n"
            "  -c, --ctx-size N   window length (default 512 as llama-perplexity, at most the model's\n"
            "                     context; with --kl the base file's)\n"
            "  -t, --threads N    threads (default: physical cores)\n"
            "      --kv-type T    KV cache elements: f32, f16 or auto (default: auto, f16 for models\n"
            "                     with Q4_0 matrices, f32 for the others)\n"
            "      --chunks N     score at most N windows\n"
            "      --kl-base OUT  save the scored positions' top-K log-probabilities (and the true\n"
            "                     token's NLL) for a later --kl run (8 + 8K bytes per position)\n"
            "      --top-k K      tokens kept per position by --kl-base (default 128)\n"
            "      --kl IN        compare with a --kl-base file: KL(base || model) over the base's top-K\n"
            "                     plus one bucket for the rest (a lower bound of the full KL),\n"
            "                     top-1 agreement, and the perplexity ratio\n");
}

typedef struct {
    const char *model, *tokenizer, *file, *kl_base, *kl;
    long ctx, threads, chunks, top_k;
    int kv_type;
} ppl_args;

static int parse_args(int argc, char **argv, ppl_args *a) {
    *a = (ppl_args){.top_k = 128};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--model")) {
            if (!(a->model = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-z") || !strcmp(f, "--tokenizer-bin")) {
            if (!(a->tokenizer = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-f") || !strcmp(f, "--file")) {
            if (!(a->file = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "--kl-base")) {
            if (!(a->kl_base = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "--kl")) {
            if (!(a->kl = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-c") || !strcmp(f, "--ctx-size")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_int_flag(f, v, 4, 1 << 20, &a->ctx)) return 1;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_int_flag(f, v, 1, 512, &a->threads)) return 1;
        } else if (!strcmp(f, "--kv-type")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_kv_flag(f, v, &a->kv_type)) return 1;
        } else if (!strcmp(f, "--chunks")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_int_flag(f, v, 1, 1L << 30, &a->chunks)) return 1;
        } else if (!strcmp(f, "--top-k")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_int_flag(f, v, 1, 1 << 24, &a->top_k)) return 1;
        } else {
            return cli_error("perplexity: unknown option '%s'", f);
        }
    }
    if (!a->model || !a->file) {
        usage(stderr);
        return 1;
    }
    if (a->kl_base && a->kl) return cli_error("perplexity: --kl-base and --kl cannot be used together");
    return 0;
}

// ---- statistics ------------------------------------------------------------------

typedef struct {
    double sum, sum2;
    long n;
} moments;

static void add(moments *m, double x) {
    m->sum += x;
    m->sum2 += x * x;
    m->n++;
}
static double mean(const moments *m) { return m->n ? m->sum / m->n : 0.0; }
// standard error of the mean
static double sem(const moments *m) {
    if (m->n < 2) return 0.0;
    double mu = mean(m), var = m->sum2 / m->n - mu * mu;
    return var > 0 ? sqrt(var / (m->n - 1)) : 0.0;
}

// ---- one position's distribution ---------------------------------------------------

// log(sum(exp(logits))) over V logits, in double for the sum
static double logsumexp(const float *l, int V) {
    float mx = l[0];
    for (int i = 1; i < V; i++) mx = l[i] > mx ? l[i] : mx;
    double s = 0.0;
    for (int i = 0; i < V; i++) s += exp((double)(l[i] - mx));
    return mx + log(s);
}

static int argmax(const float *l, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

// The k largest logits, ids[0] the largest: a min-heap of k over one pass.
static void top_k(const float *l, int V, int k, uint32_t *ids) {
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (n < k) {  // sift up
            int c = n++;
            while (c > 0 && l[ids[(c - 1) / 2]] > l[i]) ids[c] = ids[(c - 1) / 2], c = (c - 1) / 2;
            ids[c] = (uint32_t)i;
        } else if (l[i] > l[ids[0]]) {  // replace the smallest, sift down
            int c = 0;
            for (;;) {
                int s = 2 * c + 1;
                if (s >= n) break;
                if (s + 1 < n && l[ids[s + 1]] < l[ids[s]]) s++;
                if (l[ids[s]] >= l[i]) break;
                ids[c] = ids[s], c = s;
            }
            ids[c] = (uint32_t)i;
        }
    }
    // heap order -> descending: pop the minimum to the back repeatedly
    for (int end = n - 1; end > 0; end--) {
        uint32_t top = ids[0];
        ids[0] = ids[end];
        int c = 0;
        for (;;) {
            int s = 2 * c + 1;
            if (s >= end) break;
            if (s + 1 < end && l[ids[s + 1]] < l[ids[s]]) s++;
            if (l[ids[s]] >= l[ids[c]]) break;
            uint32_t t = ids[c];
            ids[c] = ids[s], ids[s] = t, c = s;
        }
        ids[end] = top;
    }
}

static uint64_t fnv1a_ids(const int32_t *ids, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint8_t)((uint32_t)ids[i] >> (8 * b));
            h *= 1099511628211ull;
        }
    return h;
}

// ---- the --kl-base file --------------------------------------------------------------

typedef struct {
    uint32_t n_vocab, ctx, n_windows, top_k;
    uint64_t n_positions, hash;
} kl_header;

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int write_header(FILE *f, const kl_header *h) {
    uint8_t b[KL_HEADER_BYTES];
    memcpy(b, KL_MAGIC, 8);
    put_u32(b + 8, h->n_vocab), put_u32(b + 12, h->ctx), put_u32(b + 16, h->n_windows), put_u32(b + 20, h->top_k);
    put_u64(b + 24, h->n_positions), put_u64(b + 32, h->hash);
    return fwrite(b, 1, sizeof b, f) == sizeof b ? 0 : -1;
}

static int read_header(FILE *f, const char *path, kl_header *h) {
    uint8_t b[KL_HEADER_BYTES];
    if (fread(b, 1, sizeof b, f) != sizeof b) return cli_error("%s: too short for a --kl-base file", path);
    if (memcmp(b, KL_MAGIC, 8)) return cli_error("%s: not a gpt --kl-base file (magic)", path);
    h->n_vocab = rd_u32(b + 8), h->ctx = rd_u32(b + 12), h->n_windows = rd_u32(b + 16), h->top_k = rd_u32(b + 20);
    h->n_positions = rd_u64(b + 24), h->hash = rd_u64(b + 32);
    if (h->top_k == 0 || h->top_k > h->n_vocab) return cli_error("%s: top_k %u is out of range", path, h->top_k);
    if (h->ctx < 4 || h->ctx > (1u << 20)) return cli_error("%s: ctx %u is out of range", path, h->ctx);
    return 0;
}

// ---- the run -------------------------------------------------------------------------

typedef struct {
    moments nll;        // this model's NLL per scored token
    moments nll_base;   // --kl: the base's
    moments diff;       // --kl: NLL - base NLL
    moments kl;         // --kl: per-position KL(base || model)
    moments same_top;   // --kl: 1 when the argmaxes agree
    double *kl_values;  // --kl: every position's KL, for percentiles
} results;

// Score one window's predictions: rows of logits [n_pred, V] predict targets.
static int score_window(const float *logits, int V, const int32_t *targets, int n_pred, int k, FILE *base_out,
                        FILE *base_in, const char *kl_path, results *r, uint32_t *ids, float *lps) {
    for (int i = 0; i < n_pred; i++) {
        const float *l = logits + (size_t)i * V;
        double lse = logsumexp(l, V);
        double nll = lse - l[targets[i]];
        add(&r->nll, nll);
        if (base_out) {
            top_k(l, V, k, ids);
            for (int j = 0; j < k; j++) lps[j] = (float)(l[ids[j]] - lse);
            if (fwrite(&nll, 8, 1, base_out) != 1 || fwrite(ids, 4, (size_t)k, base_out) != (size_t)k ||
                fwrite(lps, 4, (size_t)k, base_out) != (size_t)k)
                return cli_error("write failed (disk full?)");
        }
        if (base_in) {
            double nb;
            if (fread(&nb, 8, 1, base_in) != 1 || !isfinite(nb) || fread(ids, 4, (size_t)k, base_in) != (size_t)k ||
                fread(lps, 4, (size_t)k, base_in) != (size_t)k)
                return cli_error("%s: ends early", kl_path);
            double p_top = 0.0, q_top = 0.0, kl = 0.0;
            for (int j = 0; j < k; j++) {
                if (ids[j] >= (uint32_t)V || !(lps[j] <= 0.0f)) return cli_error("%s: bad record", kl_path);
                double lp = lps[j], lq = l[ids[j]] - lse, p = exp(lp);
                kl += p * (lp - lq);
                p_top += p;
                q_top += exp(lq);
            }
            // everything outside the base's top k as one outcome
            double p_rest = 1.0 - p_top, q_rest = 1.0 - q_top;
            if (p_rest > 1e-12) kl += p_rest * (log(p_rest) - log(q_rest > 1e-30 ? q_rest : 1e-30));
            if (kl < 0) kl = 0;  // rounding of distributions that agree
            r->kl_values[r->kl.n] = kl;
            add(&r->kl, kl);
            add(&r->nll_base, nb);
            add(&r->diff, nll - nb);
            add(&r->same_top, (uint32_t)argmax(l, V) == ids[0] ? 1.0 : 0.0);
        }
    }
    return 0;
}

static void report(const ppl_args *a, const results *r, int n_tokens, int ctx, int n_windows, double secs) {
    double ppl = exp(mean(&r->nll));
    printf("model: %s\n", a->model);
    printf("text: %s: %d tokens, %d windows of %d, %ld tokens scored (second halves)\n", a->file, n_tokens,
           n_windows, ctx, r->nll.n);
    printf("perplexity: %.4f +/- %.4f  (mean NLL %.5f nats)\n", ppl, ppl * sem(&r->nll), mean(&r->nll));
    if (a->kl) {
        double pb = exp(mean(&r->nll_base)), ratio = exp(mean(&r->diff));
        size_t n = (size_t)r->kl.n;
        qsort(r->kl_values, n, sizeof(double), cmp_double);
        double p99 = n ? r->kl_values[(size_t)(0.99 * (double)(n - 1))] : 0, kmax = n ? r->kl_values[n - 1] : 0;
        double med = n ? r->kl_values[n / 2] : 0;
        printf("base perplexity: %.4f +/- %.4f  (%s)\n", pb, pb * sem(&r->nll_base), a->kl);
        printf("perplexity ratio (model / base): %.5f +/- %.5f  (%+.3f%%)\n", ratio, ratio * sem(&r->diff),
               (ratio - 1) * 100);
        printf("KL divergence (base || model): mean %.6g +/- %.3g, median %.6g, 99%% %.6g, max %.6g nats\n",
               mean(&r->kl), sem(&r->kl), med, p99, kmax);
        printf("top-1 agreement: %.3f%% +/- %.3f%%\n", 100 * mean(&r->same_top), 100 * sem(&r->same_top));
    }
    fprintf(stderr, "gpt: %.1f s, %.1f tokens/s evaluated\n", secs, secs > 0 ? (double)n_windows * ctx / secs : 0);
}

int cmd_perplexity(int argc, char **argv) {
    ppl_args a;
    int pr = parse_args(argc, argv, &a);
    if (pr) return pr < 0 ? 0 : pr;
    char err[GPT_ERR_LEN];
    gpt_model *m = NULL;
    gpt_context *c = NULL;
    char *text = NULL;
    int32_t *toks = NULL;
    FILE *fout = NULL, *fin = NULL;
    uint32_t *ids = NULL;
    float *lps = NULL;
    results r = {0};
    int rc = 1;
    kl_header h = {0};
    if (gpt_model_open_ex(&m, a.model, a.tokenizer, err)) {
        cli_error("%s", err);
        goto done;
    }
    const gpt_hparams *hp = gpt_model_hparams(m);
    int V = hp->n_vocab;
    if (a.kl) {
        if (!(fin = fopen(a.kl, "rb"))) {
            cli_error("%s: cannot open", a.kl);
            goto done;
        }
        if (read_header(fin, a.kl, &h)) goto done;
        if (h.n_vocab != (uint32_t)V) {
            cli_error("%s: made with a vocabulary of %u tokens, the model has %d", a.kl, h.n_vocab, V);
            goto done;
        }
        if (a.ctx && (uint32_t)a.ctx != h.ctx) {
            cli_error("%s: made with -c %u, not %ld", a.kl, h.ctx, a.ctx);
            goto done;
        }
        a.ctx = h.ctx;
        a.top_k = h.top_k;
    }
    int ctx = a.ctx ? (int)a.ctx : (hp->n_ctx < 512 ? hp->n_ctx : 512);
    if (ctx > hp->n_ctx) {
        cli_error("-c %d: the model's context is %d positions", ctx, hp->n_ctx);
        goto done;
    }
    if (ctx < 4) {
        cli_error("-c %d: windows need at least 4 tokens", ctx);
        goto done;
    }
    if (a.top_k > V) a.top_k = V;
    size_t len;
    if (read_file_all(a.file, MAX_TEXT_BYTES, &text, &len, err)) {
        cli_error("%s", err);
        goto done;
    }
    int n_tokens = gpt_tokenize(m, text, len, false, NULL, 0);
    if (n_tokens < 0 || !(toks = malloc(((size_t)n_tokens + 1) * sizeof(int32_t)))) {
        cli_error("%s: out of memory tokenizing", a.file);
        goto done;
    }
    gpt_tokenize(m, text, len, false, toks, n_tokens);
    int n_windows = n_tokens / ctx;
    if (a.chunks && a.chunks < n_windows) n_windows = (int)a.chunks;
    if (n_windows < 1) {
        cli_error("%s: %d tokens are fewer than one window of %d (use a smaller -c)", a.file, n_tokens, ctx);
        goto done;
    }
    int first = ctx / 2, n_pred = ctx - 1 - first;
    uint64_t hash = fnv1a_ids(toks, (size_t)n_windows * ctx, 1469598103934665603ull);
    uint64_t n_pos = (uint64_t)n_windows * n_pred;
    if (fin && (h.n_windows != (uint32_t)n_windows || h.n_positions != n_pos || h.hash != hash)) {
        cli_error("%s: made from other tokens or windows (%u windows, %llu positions; here %d, %llu); use the "
                  "same text, tokenizer, -c and --chunks",
                  a.kl, h.n_windows, (unsigned long long)h.n_positions, n_windows, (unsigned long long)n_pos);
        goto done;
    }
    ids = malloc((size_t)a.top_k * sizeof(uint32_t));
    lps = malloc((size_t)a.top_k * sizeof(float));
    if (fin) r.kl_values = malloc((size_t)n_pos * sizeof(double));
    if (!ids || !lps || (fin && !r.kl_values)) {
        cli_error("out of memory");
        goto done;
    }
    if (a.kl_base) {
        if (!(fout = fopen(a.kl_base, "wb"))) {
            cli_error("%s: cannot create", a.kl_base);
            goto done;
        }
        h = (kl_header){(uint32_t)V, (uint32_t)ctx, (uint32_t)n_windows, (uint32_t)a.top_k, n_pos, hash};
        if (write_header(fout, &h)) {
            cli_error("%s: write failed", a.kl_base);
            goto done;
        }
    }
    if (gpt_context_new_kv(&c, m, ctx, a.threads ? (int)a.threads : physical_cores(), (gpt_kv_type)a.kv_type, err)) {
        cli_error("%s", err);
        goto done;
    }
    fprintf(stderr, "gpt: %d tokens, %d windows of %d, scoring positions %d..%d of each, KV cache %s\n", n_tokens,
            n_windows, ctx, first, ctx - 2, kv_type_name(gpt_context_kv_type(c)));
    double t0 = now_ms();
    for (int w = 0; w < n_windows; w++) {
        const int32_t *win = toks + (size_t)w * ctx;
        gpt_context_reset(c);
        // the first half only builds the cache; the second half's logits are scored
        const float *logits = gpt_eval(c, win, first, false, err);
        if (logits) logits = gpt_eval(c, win + first, ctx - first, true, err);
        if (!logits) {
            cli_error("%s", err);
            goto done;
        }
        if (score_window(logits, V, win + first + 1, n_pred, (int)a.top_k, fout, fin, a.kl, &r, ids, lps)) goto done;
        fprintf(stderr, "[%d]%.4f%s", w + 1, exp(mean(&r.nll)), w + 1 == n_windows ? "\n" : ",");
        fflush(stderr);
    }
    if (fout) {
        int bad = fclose(fout) != 0;
        fout = NULL;
        if (bad) {
            cli_error("%s: write failed", a.kl_base);
            goto done;
        }
        fprintf(stderr, "gpt: wrote %s (%llu positions, top %ld)\n", a.kl_base, (unsigned long long)n_pos, a.top_k);
    }
    report(&a, &r, n_tokens, ctx, n_windows, (now_ms() - t0) / 1000);
    rc = 0;
done:
    if (fout) {  // a failed run leaves no half-written base file behind
        fclose(fout);
        remove(a.kl_base);
    }
    if (fin) fclose(fin);
    free(ids);
    free(lps);
    free(r.kl_values);
    free(toks);
    free(text);
    gpt_context_free(c);
    gpt_model_free(m);
    return rc;
}
