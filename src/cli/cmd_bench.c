// cmd_bench.c: `gpt bench`, llama-bench's measurements for gpt: prompt
// processing (pp: N tokens evaluated as one batch) and text generation (tg:
// N tokens decoded one at a time) in tokens per second, mean and standard
// deviation over repetitions after a warm-up; for each, the weight traffic
// in GB/s and its share of the machine's read bandwidth, measured in the
// same run; and the model's load time and peak resident memory.
//
// Decoding one token reads every weight matrix once (and one row of each
// embedding), so bytes per token / measured bandwidth is the fastest decode
// the memory allows: the "roofline". Prompt processing reads the weights
// once per batch and is bound by arithmetic instead (GFLOP/s is shown).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "gpt.h"
#include "kernel_bench.h"
#include "kernels/kernels.h"
#include "membw.h"
#include "model.h"
#include "util.h"

#define MAX_LIST 16
#define MAX_MODELS 16
#define MAX_REPS 1000

typedef struct {
    const char *models[MAX_MODELS];
    int n_models;
    const char *tokenizer;  // -z: the llama2.c / llm.c tokenizer of every model
    long pp[MAX_LIST], tg[MAX_LIST], threads[MAX_LIST], depth[MAX_LIST];
    int n_pp, n_tg, n_threads, n_depth;
    long reps;
    int kv_type;
    bool json, membw, kernels, pp_set, tg_set, kv_set;
} bench_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: gpt bench -m MODEL [-m MODEL ...] [options]\n"
            "       gpt bench --membw [-t N]\n"
            "       gpt bench --kernels [-t LIST] [-r N]\n"
            "\n"
            "Measure prompt processing (pp) and generation (tg) speed like llama-bench, and the\n"
            "machine's memory read bandwidth, which the generation speed is compared against.\n"
            "\n"
            "  -m, --model PATH      model to measure (repeat for several)\n"
            "  -p, --n-prompt LIST   prompt lengths, comma separated, 0 = none (default 128)\n"
            "  -n, --n-gen LIST      generated tokens, comma separated, 0 = none (default 128)\n"
            "  -t, --threads LIST    thread counts, comma separated (default: physical cores)\n"
            "  -d, --n-depth LIST    tokens already in the context when each test starts (evaluated\n"
            "                        before the timer starts, as llama-bench's -d), comma separated\n"
            "                        (default 0)\n"
            "  -r, --repetitions N   timed runs of each test, after one warm-up (default 5)\n"
            "      --kv-type T       KV cache elements: f32, f16 or auto (default: auto, f16 for models\n"
            "                        with Q4_0 matrices, f32 for the others)\n"
            "      --membw           measure the read bandwidth only (with -m: it is always measured)\n"
            "      --kernels         measure the decode kernels instead of a model: GB/s of weight rows\n"
            "                        (F32, F16, Q8_0, Q4_0, rows of 768 and 3072) from memory and from\n"
            "                        cache, against a plain read of the same bytes with the same threads\n"
            "      --json            print a JSON array, one object per test, with llama-bench's\n"
            "                        field names (n_prompt, n_gen, n_threads, avg_ts, stddev_ts, ...)\n"
            "  -h, --help            this help\n"
            "\n"
            "Columns: t/s is mean +- standard deviation; GB/s is the weight bytes read per second\n"
            "(decode reads every matrix once per token; a prompt reads them once per batch);\n"
            "roof is GB/s over the read bandwidth measured around the test's own timed runs (a pass\n"
            "over %zu MiB before each run and after the last), best over the best pass of the whole\n"
            "run, mapped over the read speed of the model's own mapped weights. The bandwidth is read\n"
            "with as many threads as the largest of -t and the physical cores.\n", MEMBW_BYTES >> 20);
}

// "128,512" -> {128, 512}
static int parse_list(const char *flag, const char *s, long lo, long hi, long *out, int *n) {
    char buf[256];
    if (strlen(s) >= sizeof buf) return cli_error("%s: list too long", flag);
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == MAX_LIST) return cli_error("%s: at most %d values", flag, MAX_LIST);
        if (parse_int_flag(flag, tok, lo, hi, &out[*n])) return 1;
        (*n)++;
    }
    if (*n == 0) return cli_error("%s: empty list", flag);
    return 0;
}

static int parse_args(int argc, char **argv, bench_args *a) {
    memset(a, 0, sizeof *a);
    a->pp[0] = 128, a->n_pp = 1;
    a->tg[0] = 128, a->n_tg = 1;
    a->depth[0] = 0, a->n_depth = 1;
    a->threads[0] = physical_cores(), a->n_threads = 1;
    a->reps = 5;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(f, "-m") || !strcmp(f, "--model")) {
            if (!(v = flag_value(argc, argv, &i))) return 1;
            if (a->n_models == MAX_MODELS) return cli_error("bench: at most %d models", MAX_MODELS);
            a->models[a->n_models++] = v;
        } else if (!strcmp(f, "-z") || !strcmp(f, "--tokenizer-bin")) {
            if (!(a->tokenizer = flag_value(argc, argv, &i))) return 1;
        } else if (!strcmp(f, "-p") || !strcmp(f, "--n-prompt")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_list(f, v, 0, 1 << 20, a->pp, &a->n_pp)) return 1;
        } else if (!strcmp(f, "-n") || !strcmp(f, "--n-gen")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_list(f, v, 0, 1 << 20, a->tg, &a->n_tg)) return 1;
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_list(f, v, 1, 512, a->threads, &a->n_threads)) return 1;
        } else if (!strcmp(f, "-d") || !strcmp(f, "--n-depth")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_list(f, v, 0, 1 << 20, a->depth, &a->n_depth)) return 1;
        } else if (!strcmp(f, "-r") || !strcmp(f, "--repetitions")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_int_flag(f, v, 1, MAX_REPS, &a->reps)) return 1;
        } else if (!strcmp(f, "--kv-type")) {
            if (!(v = flag_value(argc, argv, &i)) || parse_kv_flag(f, v, &a->kv_type)) return 1;
            a->kv_set = true;
        } else if (!strcmp(f, "--membw")) {
            a->membw = true;
        } else if (!strcmp(f, "--kernels")) {
            a->kernels = true;
        } else if (!strcmp(f, "--json")) {
            a->json = true;
        } else {
            return cli_error("bench: unknown option '%s' (see gpt bench --help)", f);
        }
    }
    if (a->kernels && (a->n_models || a->membw || a->json || a->kv_set))
        return cli_error("bench: --kernels measures no model, and prints a table: without -m, --membw, --json or "
                         "--kv-type");
    if (!a->n_models && !a->membw && !a->kernels)
        return cli_error("bench: no model given: use -m MODEL, --membw or --kernels");
    return 0;
}

// ---- resident memory ------------------------------------------------------------

// Reset the kernel's high-water mark of resident memory (VmHWM), so the peak
// of each model is its own; harmless where unsupported.
static void reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

static uint64_t peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        bool found = false;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) {
                found = true;
                break;
            }
        fclose(f);
        if (found) return (uint64_t)kb * 1024;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024;
}

// ---- what one token costs ----------------------------------------------------------

static uint64_t matrix_bytes(const gpt_matrix *w) { return (uint64_t)w->rows * w->row_bytes; }

// Bytes of weights one decoded token reads: every matrix and vector once,
// one row of each embedding.
static uint64_t bytes_per_token(const gpt_model *m) {
    const gpt_hparams *hp = &m->hp;
    uint64_t C = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff, b = 0;
    for (int l = 0; l < hp->n_layer; l++) {
        const gpt_layer *L = &m->layers[l];
        b += matrix_bytes(&L->attn_qkv) + matrix_bytes(&L->attn_q) + matrix_bytes(&L->attn_k) +
             matrix_bytes(&L->attn_v) + matrix_bytes(&L->attn_out) + matrix_bytes(&L->ffn_gate) +
             matrix_bytes(&L->ffn_up) + matrix_bytes(&L->ffn_down);
        b += 4 * (4 * C + 3 * C + C + F + C);  // norms and biases, F32 (at most: GPT-2 has them all)
    }
    b += matrix_bytes(&m->output) + 4 * 2 * C;
    b += m->token_embd.row_bytes + m->position_embd.row_bytes;
    return b;
}

// Multiply-adds x 2 for one token at position pos: the matrices (the LM head
// counted when last) and attention over pos + 1 positions.
static double flops_per_token(const gpt_model *m, int pos, bool head) {
    const gpt_hparams *hp = &m->hp;
    double C = hp->n_embd, F = hp->n_ff, L = hp->n_layer, A = (double)hp->n_head * hp->head_dim,
           KV = (double)hp->n_head_kv * hp->head_dim, mlp = hp->act == GPT_ACT_SWIGLU ? 3 : 2;
    double f = 2 * L * (C * (A + 2 * KV) + A * C + mlp * C * F) + 2 * L * 2 * A * (pos + 1);
    if (head) f += 2 * C * hp->n_vocab;
    return f;
}

// How fast the bandwidth readers stream the model's own weight matrices
// where they are mapped: the file's pages may be 4 KiB ones, which read
// slower than the huge pages of the bandwidth buffer (the kernel's page cache
// decides), and a model small enough may be read from the last-level cache.
// Each thread reads an equal share of all the matrices, in order. Best of 5
// passes.
static double measure_weights_read(const gpt_model *m, int n_threads) {
    int n = 0, L = m->hp.n_layer;
    membw_range *rs = malloc((size_t)(4 * L + 1) * sizeof *rs);
    if (!rs) return 0;
    for (int l = 0; l < L; l++) {
        const gpt_layer *ly = &m->layers[l];
        const gpt_matrix *ws[4] = {&ly->attn_qkv, &ly->attn_out, &ly->ffn_up, &ly->ffn_down};
        for (int i = 0; i < 4; i++) rs[n++] = (membw_range){ws[i]->data, matrix_bytes(ws[i])};
    }
    rs[n++] = (membw_range){m->output.data, matrix_bytes(&m->output)};
    double best = 0;
    for (int pass = 0; pass < 5; pass++) {
        double gbs = membw_read(rs, n, n_threads);
        if (gbs > best) best = gbs;
    }
    free(rs);
    return best;
}

// ---- the tests --------------------------------------------------------------------

typedef struct {
    int model;  // index into the model_info array
    int n_prompt, n_gen, n_depth, n_threads, reps;
    double samples_ns[MAX_REPS];
    double avg_ts, sd_ts, avg_ns, sd_ns;
    double gb_s, gflops;
    // generation tests: a bandwidth pass before each timed run and one after
    // the last; their median is the roofline this test is compared with
    double membw_passes[MAX_REPS + 1];
    int n_membw;
    double membw_local;
} bench_result;

static uint64_t rng_state = 88172645463325252ull;
static int32_t random_id(int n_vocab) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (int32_t)(rng_state % (uint64_t)n_vocab);
}

// One timed run: n_depth tokens evaluated untimed (as one prompt), then the
// prompt of n_prompt tokens and n_gen tokens one at a time, timed; ids holds
// max(n_depth, n_prompt) ids. Returns nanoseconds, or -1 with err filled.
static double run_once(gpt_context *ctx, const gpt_model *m, int n_depth, int n_prompt, int n_gen, int32_t *ids,
                       char *err) {
    gpt_context_reset(ctx);
    if (n_depth > 0) {
        for (int i = 0; i < n_depth; i++) ids[i] = random_id(m->hp.n_vocab);
        if (!gpt_eval(ctx, ids, n_depth, false, err)) return -1;
    }
    for (int i = 0; i < n_prompt; i++) ids[i] = random_id(m->hp.n_vocab);
    double t0 = now_ms();
    if (n_prompt > 0 && !gpt_eval(ctx, ids, n_prompt, false, err)) return -1;
    for (int i = 0; i < n_gen; i++) {
        int32_t id = random_id(m->hp.n_vocab);
        if (!gpt_eval(ctx, &id, 1, false, err)) return -1;
    }
    return (now_ms() - t0) * 1e6;
}

// One bandwidth pass into r's list (generation tests only).
static void probe_pass(membw_probe *probe, bench_result *r) {
    if (probe && r->n_gen > 0 && membw_probe_passes(probe, 1, &r->membw_passes[r->n_membw]) == 1) r->n_membw++;
}

static int run_test(gpt_context *ctx, const gpt_model *m, bench_result *r, membw_probe *probe, char *err) {
    int n = r->n_prompt > r->n_depth ? r->n_prompt : r->n_depth;
    int32_t *ids = malloc((size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    if (!ids) return gpt_fail(err, "out of memory");
    // warm-up: page in the weights, wake the threads, settle the caches
    if (run_once(ctx, m, r->n_depth, r->n_prompt, r->n_gen > 16 ? 16 : r->n_gen, ids, err) < 0) {
        free(ids);
        return -1;
    }
    int tokens = r->n_prompt + r->n_gen;
    double sum_ts = 0, sum_ns = 0;
    for (int i = 0; i < r->reps; i++) {
        probe_pass(probe, r);
        double ns = run_once(ctx, m, r->n_depth, r->n_prompt, r->n_gen, ids, err);
        if (ns < 0) {
            free(ids);
            return -1;
        }
        r->samples_ns[i] = ns;
        sum_ns += ns;
        sum_ts += tokens * 1e9 / ns;
    }
    probe_pass(probe, r);
    free(ids);
    r->membw_local = median(r->membw_passes, r->n_membw);
    r->avg_ns = sum_ns / r->reps;
    r->avg_ts = sum_ts / r->reps;
    double v_ts = 0, v_ns = 0;
    for (int i = 0; i < r->reps; i++) {
        double ts = tokens * 1e9 / r->samples_ns[i];
        v_ts += (ts - r->avg_ts) * (ts - r->avg_ts);
        v_ns += (r->samples_ns[i] - r->avg_ns) * (r->samples_ns[i] - r->avg_ns);
    }
    r->sd_ts = r->reps > 1 ? sqrt(v_ts / (r->reps - 1)) : 0;
    r->sd_ns = r->reps > 1 ? sqrt(v_ns / (r->reps - 1)) : 0;
    // weight traffic: one pass per batch of the prompt (gpt_eval's chunks are
    // at most 256 tokens), one per generated token
    double passes = (r->n_prompt > 0 ? (r->n_prompt + 255) / 256 : 0) + r->n_gen;
    double secs = r->avg_ns * 1e-9;
    r->gb_s = (double)bytes_per_token(m) * passes / secs / 1e9;
    double flops = 0;
    for (int p = 0; p < r->n_prompt; p++) flops += flops_per_token(m, r->n_depth + p, p == r->n_prompt - 1);
    for (int p = r->n_prompt; p < tokens; p++) flops += flops_per_token(m, r->n_depth + p, true);
    r->gflops = flops / secs / 1e9;
    return 0;
}

// ---- output -----------------------------------------------------------------------

static const char *model_type_name(const gpt_model *m, char *buf, size_t len) {
    uint64_t count[GGML_TYPE_BF16 + 1] = {0};
    const gpt_hparams *hp = &m->hp;
    for (int l = 0; l < hp->n_layer; l++) {
        const gpt_layer *L = &m->layers[l];
        count[L->attn_qkv.type]++, count[L->attn_out.type]++, count[L->ffn_up.type]++, count[L->ffn_down.type]++;
    }
    uint32_t main_type = GGML_TYPE_F32;
    for (uint32_t t = 0; t <= GGML_TYPE_BF16; t++)
        if (count[t] > count[main_type]) main_type = t;
    double p = (double)m->n_params;
    if (p >= 1e9) snprintf(buf, len, "gpt2 %.1fB %s", p / 1e9, ggml_type_name(main_type));
    else snprintf(buf, len, "gpt2 %.0fM %s", p / 1e6, ggml_type_name(main_type));
    return buf;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

typedef struct {
    const char *path;
    char type[64];
    uint64_t size, n_params, per_token, kv_bytes, rss;
    const char *kv_type;  // "f32" or "f16"
    double load_ms, weights_read;  // GB/s of the bandwidth reader over the mapped weights
    double huge_share;             // of the file's resident pages, the share in 2 MiB pages (-1: unknown)
} model_info;

// The read bandwidth: MEMBW_PASSES passes before the tests and as many after
// them (their median and best are the machine's figures), and for each
// generation test a pass before each of its timed runs and one after the
// last. Decode speed is a mean over runs with whatever else the machine
// does meanwhile, and on a shared machine the bandwidth drifts by a third
// within minutes, so a test's roofline is the median of its own passes; the
// best pass of the whole run (STREAM's convention) is reported beside it.
#define MEMBW_PASSES 12

typedef struct {
    double passes[2 * MEMBW_PASSES];
    int n_passes;
    double membw, membw_best;  // GB/s: median and best pass, the tests' own passes included in the best
    int membw_threads;
    const char *kernels;
    int decode_rowwise;  // kernels_decode_rowwise()
} machine_info;

static void summarize_membw(machine_info *mc, const bench_result *rs, int n_rs) {
    mc->membw = median(mc->passes, mc->n_passes);
    mc->membw_best = 0;
    for (int i = 0; i < mc->n_passes; i++) mc->membw_best = fmax(mc->membw_best, mc->passes[i]);
    for (int i = 0; i < n_rs; i++)
        for (int j = 0; j < rs[i].n_membw; j++) mc->membw_best = fmax(mc->membw_best, rs[i].membw_passes[j]);
}

// The roofline a generation test is compared with: its own passes, or the
// run's median if it has none.
static double test_membw(const bench_result *r, const machine_info *mc) {
    return r->n_membw ? r->membw_local : mc->membw;
}

static double pct(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

// Weights streamed through 4 KiB pages read slower than through 2 MiB ones;
// which the file gets is the page cache's choice, made when it was cached.
// Files small enough to stay in the last-level cache hardly notice.
static void print_page_note(const model_info *mi) {
    if (mi->huge_share < 0 || mi->huge_share >= 0.5 || mi->size < ((uint64_t)64 << 20)) return;
    printf("\nnote: %s is cached in small pages (%.0f%% in 2 MiB pages), which decode slower.\n"
           "Evict it (`dd if=%s iflag=nocache count=0`) and the next run reads it into 2 MiB pages\n"
           "where the kernel's page cache has them (ext4 since Linux 6.16, xfs since 5.18).\n",
           mi->path, 100 * mi->huge_share, mi->path);
}

static void print_json(const model_info *mi, const bench_result *r, const machine_info *mc, bool first) {
    printf("%s  {\n    \"model_filename\": ", first ? "" : ",\n");
    json_string(mi->path);
    printf(",\n    \"model_type\": ");
    json_string(mi->type);
    printf(",\n    \"model_size\": %llu,\n    \"model_n_params\": %llu,\n", (unsigned long long)mi->size,
           (unsigned long long)mi->n_params);
    printf("    \"backends\": \"CPU\",\n    \"kernels\": ");
    json_string(mc->kernels);
    printf(",\n    \"decode_rowwise\": %s", mc->decode_rowwise ? "true" : "false");
    printf(",\n    \"n_threads\": %d,\n    \"n_prompt\": %d,\n    \"n_gen\": %d,\n    \"n_depth\": %d,\n", r->n_threads,
           r->n_prompt, r->n_gen, r->n_depth);
    printf("    \"avg_ns\": %.0f,\n    \"stddev_ns\": %.0f,\n    \"avg_ts\": %.6f,\n    \"stddev_ts\": %.6f,\n",
           r->avg_ns, r->sd_ns, r->avg_ts, r->sd_ts);
    printf("    \"samples_ns\": [");
    for (int i = 0; i < r->reps; i++) printf("%s%.0f", i ? ", " : "", r->samples_ns[i]);
    printf("],\n    \"samples_ts\": [");
    int tokens = r->n_prompt + r->n_gen;
    for (int i = 0; i < r->reps; i++) printf("%s%.6f", i ? ", " : "", tokens * 1e9 / r->samples_ns[i]);
    printf("],\n    \"bytes_per_token\": %llu,\n", (unsigned long long)mi->per_token);
    printf("    \"gb_s\": %.3f,\n    \"membw_gb_s\": %.3f,\n    \"membw_best_gb_s\": %.3f,\n"
           "    \"membw_test_gb_s\": %.3f,\n    \"membw_test_passes\": [",
           r->gb_s, mc->membw, mc->membw_best, test_membw(r, mc));
    for (int i = 0; i < r->n_membw; i++) printf("%s%.3f", i ? ", " : "", r->membw_passes[i]);
    printf("],\n    \"roofline_pct\": %.2f,\n    \"roofline_run_pct\": %.2f,\n    \"roofline_best_pct\": %.2f,\n",
           pct(r->gb_s, test_membw(r, mc)), pct(r->gb_s, mc->membw), pct(r->gb_s, mc->membw_best));
    printf("    \"weights_read_gb_s\": %.3f,\n    \"weights_read_pct\": %.2f,\n    \"gflops\": %.2f,\n",
           mi->weights_read, pct(r->gb_s, mi->weights_read), r->gflops);
    printf("    \"huge_page_pct\": %.1f,\n", mi->huge_share < 0 ? -1.0 : 100 * mi->huge_share);
    printf("    \"type_k\": \"%s\",\n    \"type_v\": \"%s\",\n", mi->kv_type, mi->kv_type);
    printf("    \"load_ms\": %.2f,\n    \"peak_rss_bytes\": %llu,\n    \"kv_cache_bytes\": %llu\n  }", mi->load_ms,
           (unsigned long long)mi->rss, (unsigned long long)mi->kv_bytes);
}

static void print_header(void) {
    printf("| %-22s | %12s | %9s | %7s | %12s | %20s | %6s | %6s | %6s | %6s | %7s | %8s | %13s |\n", "model",
           "size", "params", "threads", "test", "t/s", "GB/s", "roof", "best", "mapped", "GFLOP/s", "load ms",
           "peak RSS");
    printf("| %.22s | %.12s | %.9s | %.7s | %.12s | %.20s | %.6s | %.6s | %.6s | %.6s | %.7s | %.8s | %.13s |\n",
           "-----------------------", "------------:", "---------:", "------:", "------------:", "-------------------:",
           "-----:", "-----:", "-----:", "-----:", "------:", "-------:", "------------:");
}

static void print_row(const model_info *mi, const bench_result *r, const machine_info *mc) {
    char test[32], ts[48], gb[80];
    if (r->n_gen == 0) snprintf(test, sizeof test, "pp%d", r->n_prompt);
    else if (r->n_prompt == 0) snprintf(test, sizeof test, "tg%d", r->n_gen);
    else snprintf(test, sizeof test, "pp%d+tg%d", r->n_prompt, r->n_gen);
    if (r->n_depth > 0) {  // llama-bench's name for it
        size_t len = strlen(test);
        snprintf(test + len, sizeof test - len, " @ d%d", r->n_depth);
    }
    snprintf(ts, sizeof ts, "%.2f ± %.2f", r->avg_ts, r->sd_ts);
    if (r->n_gen > 0)
        snprintf(gb, sizeof gb, "%6.2f | %5.1f%% | %5.1f%% | %5.1f%%", r->gb_s, pct(r->gb_s, test_membw(r, mc)),
                 pct(r->gb_s, mc->membw_best), pct(r->gb_s, mi->weights_read));
    else snprintf(gb, sizeof gb, "%6s | %6s | %6s | %6s", "-", "-", "-", "-");
    printf("| %-22s | %8.2f MiB | %7.2f M | %7d | %12s | %20s | %s | %7.1f | %8.1f | %9.1f MiB |\n", mi->type,
           mi->size / 1048576.0, mi->n_params / 1e6, r->n_threads, test, ts, gb, r->gflops, mi->load_ms,
           mi->rss / 1048576.0);
}

// ---- one model -----------------------------------------------------------------------

// Runs every test of a on the model at path; appends to rs (*n_rs) and
// fills mi. Returns 0, or prints the error and returns 1.
static int bench_model(const bench_args *a, const char *path, int index, membw_probe *probe, model_info *mi,
                       bench_result *rs, int *n_rs) {
    char err[GPT_ERR_LEN];
    reset_peak_rss();
    double t0 = now_ms();
    gpt_model *m;
    if (gpt_model_open_ex(&m, path, a->tokenizer, err)) return cli_error("%s", err);
    double load_ms = now_ms() - t0;
    *mi = (model_info){.path = path, .size = m->weight_bytes, .n_params = m->n_params, .per_token = bytes_per_token(m)};
    model_type_name(m, mi->type, sizeof mi->type);
    // one context as long as the longest test at the deepest depth
    long need = 1, deepest = 0;
    for (int i = 0; i < a->n_pp; i++) need = a->pp[i] > need ? a->pp[i] : need;
    for (int i = 0; i < a->n_tg; i++) need = a->tg[i] > need ? a->tg[i] : need;
    for (int i = 0; i < a->n_depth; i++) deepest = a->depth[i] > deepest ? a->depth[i] : deepest;
    need += deepest;
    if (need > m->hp.n_ctx) {
        int n_ctx = m->hp.n_ctx;
        gpt_model_free(m);
        if (deepest)
            return cli_error("bench: %s: a test of %ld tokens after a depth of %ld does not fit in the model's "
                             "context of %d", path, need - deepest, deepest, n_ctx);
        return cli_error("bench: %s: a test of %ld tokens does not fit in the model's context of %d", path, need,
                         n_ctx);
    }
    int rc = 0, max_threads = 1;
    for (int ti = 0; ti < a->n_threads && rc == 0; ti++) {
        gpt_context *ctx;
        double t1 = now_ms();
        if (gpt_context_new_kv(&ctx, m, (int)need, (int)a->threads[ti], (gpt_kv_type)a->kv_type, err)) {
            rc = cli_error("%s", err);
            break;
        }
        gpt_kv_type kv = gpt_context_kv_type(ctx);
        mi->kv_type = kv_type_name(kv);
        mi->kv_bytes = model_kv_bytes(m, (int)need, kv);
        if (ti == 0) mi->load_ms = load_ms + (now_ms() - t1);  // as `gpt` counts it: open + context
        if (a->threads[ti] > max_threads) max_threads = (int)a->threads[ti];
        for (int k = 0; k < (a->n_pp + a->n_tg) * a->n_depth && rc == 0; k++) {
            int kt = k / a->n_depth;  // the test, then each depth
            bench_result *r = &rs[*n_rs];
            *r = (bench_result){.model = index,
                                .n_prompt = kt < a->n_pp ? (int)a->pp[kt] : 0,
                                .n_gen = kt < a->n_pp ? 0 : (int)a->tg[kt - a->n_pp],
                                .n_depth = (int)a->depth[k % a->n_depth],
                                .n_threads = (int)a->threads[ti],
                                .reps = (int)a->reps};
            if (r->n_prompt == 0 && r->n_gen == 0) continue;
            fprintf(stderr, "gpt bench: %s, %d threads, KV cache %s, %s%d at depth %d ...\n", path, r->n_threads,
                    mi->kv_type, r->n_gen ? "tg" : "pp", r->n_gen ? r->n_gen : r->n_prompt, r->n_depth);
            if (run_test(ctx, m, r, probe, err)) rc = cli_error("%s", err);
            else (*n_rs)++;
        }
        gpt_context_free(ctx);
    }
    mi->rss = peak_rss_bytes();
    if (rc == 0) mi->weights_read = measure_weights_read(m, max_threads);
    mi->huge_share = membw_huge_share(m->output.data);
    gpt_model_free(m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (a.kernels) return bench_kernels(a.threads, a.n_threads, (int)a.reps);
    machine_info mc = {.membw_threads = physical_cores(), .kernels = kernels_select()->name,
                       .decode_rowwise = kernels_decode_rowwise()};
    for (int i = 0; i < a.n_threads; i++)
        if (a.threads[i] > mc.membw_threads) mc.membw_threads = (int)a.threads[i];
    fprintf(stderr, "gpt bench: measuring the read bandwidth with %d threads ...\n", mc.membw_threads);
    membw_probe *probe = membw_probe_start(mc.membw_threads);
    if (!probe) return cli_error("bench: could not start the bandwidth measurement (%zu MiB buffer)", MEMBW_BYTES >> 20);
    mc.n_passes = membw_probe_passes(probe, MEMBW_PASSES, mc.passes);
    if (a.n_models == 0) {
        membw_probe_stop(probe);
        summarize_membw(&mc, NULL, 0);
        if (a.json)
            printf("[\n  {\n    \"test\": \"membw\",\n    \"n_threads\": %d,\n    \"membw_gb_s\": %.3f,\n"
                   "    \"membw_best_gb_s\": %.3f\n  }\n]\n",
                   mc.membw_threads, mc.membw, mc.membw_best);
        else printf("memory read bandwidth: %.2f GB/s median, %.2f best (%d threads, %d passes over %zu MiB)\n",
                    mc.membw, mc.membw_best, mc.membw_threads, mc.n_passes, MEMBW_BYTES >> 20);
        return mc.membw > 0 ? 0 : cli_error("bench: could not measure the memory bandwidth");
    }
    model_info *mis = calloc((size_t)a.n_models, sizeof *mis);
    int max_rs = a.n_models * a.n_threads * (a.n_pp + a.n_tg) * a.n_depth, n_rs = 0;
    bench_result *rs = calloc((size_t)max_rs, sizeof *rs);
    if (!mis || !rs) {
        free(mis), free(rs);
        membw_probe_stop(probe);
        return cli_error("out of memory");
    }
    for (int i = 0; i < a.n_models && rc == 0; i++) rc = bench_model(&a, a.models[i], i, probe, &mis[i], rs, &n_rs);
    if (rc) {  // the error is printed: no results
        membw_probe_stop(probe);
        free(mis), free(rs);
        return rc;
    }
    fprintf(stderr, "gpt bench: measuring the read bandwidth again ...\n");
    mc.n_passes += membw_probe_passes(probe, MEMBW_PASSES, mc.passes + mc.n_passes);
    membw_probe_stop(probe);
    summarize_membw(&mc, rs, n_rs);
    if (a.json) {
        printf("[\n");
        for (int i = 0; i < n_rs; i++) print_json(&mis[rs[i].model], &rs[i], &mc, i == 0);
        printf("\n]\n");
    } else {
        printf("gpt %s, kernels %s (decode row-wise: %s), memory read bandwidth %.2f GB/s median, %.2f best "
               "(%d threads, %d passes before and after the tests, one around each timed generation run)\n\n",
               GPT_VERSION, mc.kernels, mc.decode_rowwise ? "yes" : "no", mc.membw, mc.membw_best, mc.membw_threads, mc.n_passes);
        if (n_rs) print_header();
        for (int i = 0; i < n_rs; i++) print_row(&mis[rs[i].model], &rs[i], &mc);
        printf("\nroof: decode GB/s over the median of the bandwidth passes around the test's own runs; best:\n"
               "over the best pass of the whole run; mapped: over the read speed of the model's own mapped\n"
               "weight pages (");
        for (int i = 0; i < a.n_models; i++) printf("%s%.1f", i ? ", " : "", mis[i].weights_read);
        printf(" GB/s).\n");
        for (int i = 0; i < a.n_models; i++) print_page_note(&mis[i]);
    }
    free(mis);
    free(rs);
    return rc;
}
