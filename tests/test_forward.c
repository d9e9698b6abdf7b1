// test_forward.c: invariants of the forward pass and the sampler that the
// PyTorch comparison (test_pytorch.py, which evaluates whole sequences at
// once) does not reach:
//   - decoding one token at a time through the KV cache gives the same logits
//     as evaluating the sequence as one batch, and so do uneven chunks;
//   - the scalar kernels and the SIMD kernels give the same logits;
//   - F16 and quantized weights run through the same path;
//   - all of the above with an F16 KV cache too, whose logits stay near the
//     F32 cache's; GPT_KV_AUTO picks F32 for F32 and F16 models;
//   - the sampler: greedy is the argmax, top-k 1 is greedy, a seed repeats;
//   - contexts of one model used from two threads at once give, bit for bit,
//     what each gives alone (gpt.h: a model may be shared that way), and so
//     does gpt_tokenize called from two threads on one model;
//   - gpt_context_truncate: a cut-back prompt continues like a fresh one.
// The model is random, tiny and built in memory with odd sizes (C = 20, not a
// multiple of 8; 5 heads of 4).
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_unicode.h"
#include "convert.h"
#include "gguf.h"
#include "gpt.h"
#include "model.h"

#define C 20
#define NH 5
#define L 2
#define NCTX 40
#define FF 48
#define V 257  // 256 byte tokens + <|endoftext|>

#include "check.h"

static uint64_t rng = 12345;
static float frand(void) {  // uniform in [-1, 1)
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static float *rand_tensor(gguf_ctx *g, const char *name, uint64_t n0, uint64_t n1, float scale, float offset) {
    uint64_t n = n0 * n1;
    float *d = gguf_own(g, malloc(n * sizeof(float)));
    for (uint64_t i = 0; i < n; i++) d[i] = offset + scale * frand();
    uint64_t ne[2] = {n0, n1};
    char err[GPT_ERR_LEN];
    if (gguf_add_tensor(g, name, GGML_TYPE_F32, n1 > 1 ? 2 : 1, ne, d, err)) {
        printf("setup: %s\n", err);
        exit(1);
    }
    return d;
}

static gguf_ctx *tiny_model(void) {
    gguf_ctx *g = gguf_new();
    gguf_set_str(g, "general.architecture", "gpt2");
    gguf_set_uint32(g, "gpt2.context_length", NCTX);
    gguf_set_uint32(g, "gpt2.embedding_length", C);
    gguf_set_uint32(g, "gpt2.feed_forward_length", FF);
    gguf_set_uint32(g, "gpt2.block_count", L);
    gguf_set_uint32(g, "gpt2.attention.head_count", NH);
    gguf_set_float32(g, "gpt2.attention.layer_norm_epsilon", 1e-5f);
    gguf_set_str(g, "tokenizer.ggml.model", "gpt2");
    // the 256 byte tokens in GPT-2's alphabet, then <|endoftext|>; no merges
    static char text[V][16];
    gguf_str toks[V];
    int32_t types[V];
    for (int i = 0; i < 256; i++) {
        uint8_t b = (uint8_t)i;
        toks[i].len = bytes_to_unicode(&b, 1, text[i]);
        toks[i].ptr = text[i];
        types[i] = 1;
    }
    toks[256].ptr = "<|endoftext|>";
    toks[256].len = strlen(toks[256].ptr);
    types[256] = 3;
    gguf_set_arr_str(g, "tokenizer.ggml.tokens", toks, V);
    gguf_set_arr_data(g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, V);
    gguf_set_arr_str(g, "tokenizer.ggml.merges", NULL, 0);
    gguf_set_uint32(g, "tokenizer.ggml.eos_token_id", 256);
    gguf_set_uint32(g, "tokenizer.ggml.bos_token_id", 256);
    rand_tensor(g, "token_embd.weight", C, V, 0.5f, 0);
    rand_tensor(g, "position_embd.weight", C, NCTX, 0.3f, 0);
    for (int l = 0; l < L; l++) {
        char n[64];
#define T(suffix, a, b, s, o) (snprintf(n, sizeof n, "blk.%d." suffix, l), rand_tensor(g, n, a, b, s, o))
        T("attn_norm.weight", C, 1, 0.2f, 1.0f);
        T("attn_norm.bias", C, 1, 0.1f, 0);
        T("attn_qkv.weight", C, 3 * C, 0.6f, 0);  // large enough that attention is far from uniform
        T("attn_qkv.bias", 3 * C, 1, 0.1f, 0);
        T("attn_output.weight", C, C, 0.3f, 0);
        T("attn_output.bias", C, 1, 0.1f, 0);
        T("ffn_norm.weight", C, 1, 0.2f, 1.0f);
        T("ffn_norm.bias", C, 1, 0.1f, 0);
        T("ffn_up.weight", C, FF, 0.3f, 0);
        T("ffn_up.bias", FF, 1, 0.1f, 0);
        T("ffn_down.weight", FF, C, 0.3f, 0);
        T("ffn_down.bias", C, 1, 0.1f, 0);
#undef T
    }
    rand_tensor(g, "output_norm.weight", C, 1, 0.2f, 1.0f);
    rand_tensor(g, "output_norm.bias", C, 1, 0.1f, 0);
    return g;
}

static double max_abs(const float *a, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}
static double max_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static gpt_kv_type kv_type = GPT_KV_AUTO;  // the cache the runs below ask for

// Every position's logits, evaluated in chunks of the given sizes (0-terminated).
static float *run_chunks_threads(gpt_model *m, const char *kernels, const int32_t *ids, int n, const int *chunks,
                                 int threads) {
    setenv("GPT_KERNELS", kernels, 1);
    char err[GPT_ERR_LEN];
    gpt_context *ctx;
    if (gpt_context_new_kv(&ctx, m, 0, threads, kv_type, err)) {
        printf("context: %s\n", err);
        exit(1);
    }
    CHECK(gpt_context_kv_type(ctx) == (kv_type == GPT_KV_AUTO ? GPT_KV_F32 : kv_type), "KV cache type %d, asked %d",
          (int)gpt_context_kv_type(ctx), (int)kv_type);
    float *out = malloc((size_t)n * V * sizeof(float));
    int done = 0;
    for (int c = 0; chunks[c] && done < n; c++) {
        int k = chunks[c] < n - done ? chunks[c] : n - done;
        const float *lg = gpt_eval(ctx, ids + done, k, true, err);
        if (!lg) {
            printf("eval: %s\n", err);
            exit(1);
        }
        memcpy(out + (size_t)done * V, lg, (size_t)k * V * sizeof(float));
        done += k;
    }
    CHECK(gpt_context_n_past(ctx) == n, "n_past %d after %d tokens", gpt_context_n_past(ctx), n);
    // one more token than fits is refused with a message, not evaluated
    gpt_context_reset(ctx);
    int32_t *many = calloc(NCTX + 1, sizeof(int32_t));
    CHECK(gpt_eval(ctx, many, NCTX + 1, false, err) == NULL, "an over-long batch was accepted");
    int32_t bad = V;
    CHECK(gpt_eval(ctx, &bad, 1, false, err) == NULL, "an out-of-range id was accepted");
    free(many);
    gpt_context_free(ctx);
    unsetenv("GPT_KERNELS");
    return out;
}

static float *run_chunks(gpt_model *m, const char *kernels, const int32_t *ids, int n, const int *chunks) {
    return run_chunks_threads(m, kernels, ids, n, chunks, 2);
}

static void compare(const char *what, const float *ref, const float *got, int n, double rel) {
    double scale = max_abs(ref, n * V), d = max_diff(ref, got, n * V);
    printf("%-44s max|diff| %.3g (%.3g of max|logit| %.3g)\n", what, d, d / scale, scale);
    CHECK(d <= rel * scale, "%s: %.3g > %.3g", what, d, rel * scale);
}

static void test_sequences(gpt_model *m, const char *label, double rel_kernels) {
    enum { N = 33 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 97 + 13) % 256;
    const int whole[] = {N, 0}, ones[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                         1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    const int uneven[] = {5, 1, 17, 3, 7, 0};
    char buf[128];
    float *batch = run_chunks(m, "scalar", ids, N, whole);
    float *inc = run_chunks(m, "scalar", ids, N, ones);
    float *chunk = run_chunks(m, "scalar", ids, N, uneven);
    snprintf(buf, sizeof buf, "%s: one-by-one vs batch (scalar)", label);
    compare(buf, batch, inc, N, 1e-5);
    snprintf(buf, sizeof buf, "%s: chunks 5,1,17,3,7 vs batch (scalar)", label);
    compare(buf, batch, chunk, N, 1e-5);
    // decode splits each product into one range of rows per thread, which
    // threads that finish early (or find theirs empty) take from the back:
    // with 5 threads on fewer cores some start late and every row must
    // still be computed once
    float *many = run_chunks_threads(m, "scalar", ids, N, ones, 5);
    snprintf(buf, sizeof buf, "%s: one-by-one, 5 threads vs batch (scalar)", label);
    compare(buf, batch, many, N, 1e-5);
    free(many);
    float *fast = run_chunks(m, "", ids, N, whole), *fast_inc = run_chunks(m, "", ids, N, ones);
    snprintf(buf, sizeof buf, "%s: best kernels vs scalar (batch)", label);
    compare(buf, batch, fast, N, rel_kernels);
    snprintf(buf, sizeof buf, "%s: best kernels vs scalar (one-by-one)", label);
    compare(buf, batch, fast_inc, N, rel_kernels);
    free(batch), free(inc), free(chunk), free(fast), free(fast_inc);
}

static void test_sampler(gpt_model *m) {
    char err[GPT_ERR_LEN];
    gpt_context *ctx;
    if (gpt_context_new(&ctx, m, 0, 1, err)) exit(1);
    int32_t ids[4] = {10, 20, 30, 40};
    const float *lg = gpt_eval(ctx, ids, 4, false, err);
    int arg = 0;
    for (int i = 1; i < V; i++)
        if (lg[i] > lg[arg]) arg = i;
    gpt_sampler *greedy = gpt_sampler_new(&(gpt_sampler_params){.temp = 0, .top_p = 1, .repeat_penalty = 1});
    gpt_sampler *k1 = gpt_sampler_new(&(gpt_sampler_params){.temp = 1, .top_k = 1, .top_p = 1, .repeat_penalty = 1, .seed = 7});
    CHECK(gpt_sample(greedy, lg, V, ids, 4) == arg, "greedy is not the argmax");
    CHECK(gpt_sample(k1, lg, V, ids, 4) == arg, "top-k 1 is not the argmax");
    // reported probabilities: sorted, summing to at most 1, top one = softmax max
    int32_t top[5];
    float pr[5];
    int n = gpt_sampler_top(greedy, 5, top, pr);
    double z = 0;
    for (int i = 0; i < V; i++) z += exp(lg[i] - lg[arg]);
    CHECK(n == 5 && top[0] == arg && fabs(pr[0] - 1.0 / z) < 1e-5, "top probability %g, softmax %g", pr[0], 1.0 / z);
    for (int i = 1; i < n; i++) CHECK(pr[i] <= pr[i - 1], "probabilities not sorted");
    // the same seed gives the same draws; another seed (almost surely) not all the same
    gpt_sampler_params p = {.temp = 1.5f, .top_k = 0, .top_p = 1, .min_p = 0, .repeat_penalty = 1, .seed = 99};
    gpt_sampler *a = gpt_sampler_new(&p), *b = gpt_sampler_new(&p);
    p.seed = 100;
    gpt_sampler *c = gpt_sampler_new(&p);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 50; i++) {
        int32_t x = gpt_sample(a, lg, V, ids, 4), y = gpt_sample(b, lg, V, ids, 4), w = gpt_sample(c, lg, V, ids, 4);
        same_ab &= x == y;
        same_ac &= x == w;
    }
    CHECK(same_ab, "the same seed gave different draws");
    CHECK(!same_ac, "different seeds gave the same 50 draws");
    // a strong repeat penalty moves greedy off the argmax when it is in the history
    gpt_sampler *pen = gpt_sampler_new(&(gpt_sampler_params){.temp = 0, .top_p = 1, .repeat_penalty = 1e6f, .repeat_last_n = 64});
    int32_t hist[1] = {arg};
    CHECK(gpt_sample(pen, lg, V, hist, 1) != arg, "repeat penalty had no effect");
    gpt_sampler_free(greedy), gpt_sampler_free(k1), gpt_sampler_free(a), gpt_sampler_free(b), gpt_sampler_free(c);
    gpt_sampler_free(pen);
    gpt_context_free(ctx);
}

// gpt_tokenize from two threads at once on one model (the shipped one: a
// real BPE vocabulary, whose piece cache and scratch the calls share):
// every call gives the ids a call alone gives. The texts are random words,
// so that the calls keep writing new pieces into the cache.
typedef struct {
    gpt_model *m;
    char text[1 << 16];
    int32_t want[1 << 16];
    int n_want, ok;
    pthread_barrier_t *start;
} tokenize_job;

static void *tokenize_rounds(void *arg) {
    tokenize_job *j = arg;
    int32_t *ids = malloc(sizeof j->want);
    pthread_barrier_wait(j->start);
    j->ok = ids != NULL;
    for (int r = 0; r < 20 && j->ok; r++) {
        int n = gpt_tokenize(j->m, j->text, strlen(j->text), false, ids, 1 << 16);
        if (n != j->n_want || memcmp(ids, j->want, (size_t)n * sizeof *ids) != 0) j->ok = 0;
    }
    free(ids);
    return NULL;
}

static void test_shared_tokenizer(void) {
    char err[GPT_ERR_LEN];
    gpt_model *m;
    if (gpt_model_open(&m, "models/shakespeare.gguf", err)) {  // ctest runs in the source directory
        CHECK(0, "%s", err);
        return;
    }
    static tokenize_job jobs[2];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    const char *letters = "etaoinshrdlucmfwypvbgkjqxz,.;:'!?ETAOINS";
    for (int k = 0; k < 2; k++) {
        tokenize_job *j = &jobs[k];
        j->m = m, j->start = &start;
        size_t n = 0;
        while (n + 16 < sizeof j->text) {
            int len = 1 + (int)((frand() + 1) * 5);
            for (int i = 0; i < len; i++) j->text[n++] = letters[(int)((frand() + 1) * 20) % 40];
            j->text[n++] = (frand() > 0.8f) ? '\n' : ' ';
        }
        j->text[n] = 0;
        j->n_want = gpt_tokenize(m, j->text, n, false, j->want, 1 << 16);
        CHECK(j->n_want > 1000 && j->n_want <= (1 << 16), "%d ids for %zu bytes", j->n_want, n);
    }
    pthread_t th[2];
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&th[k], NULL, tokenize_rounds, &jobs[k]) == 0, "pthread_create");
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    printf("%-44s %s\n", "gpt_tokenize in two threads, one model",
           jobs[0].ok && jobs[1].ok ? "same ids as alone" : "DIFFERENT");
    CHECK(jobs[0].ok && jobs[1].ok, "gpt_tokenize from two threads gave other ids than alone");
    pthread_barrier_destroy(&start);
    gpt_model_free(m);
}

// gpt_context_truncate: a prompt evaluated once, cut back to its first cut
// positions and continued gives the logits of a fresh context that
// evaluates those positions and the continuation; cuts outside [0, n_past]
// are refused and change nothing.
static void test_truncate(gpt_model *m, const char *label) {
    enum { P = 25, K = 9 };
    int32_t prompt[P], cont[K];
    for (int i = 0; i < P; i++) prompt[i] = (i * 71 + 5) % 256;
    for (int i = 0; i < K; i++) cont[i] = (i * 37 + 200) % 256;
    char err[GPT_ERR_LEN], what[128];
    gpt_context *a, *b;
    if (gpt_context_new_kv(&a, m, 0, 2, kv_type, err) || gpt_context_new_kv(&b, m, 0, 2, kv_type, err)) {
        printf("context: %s\n", err);
        exit(1);
    }
    float *got = malloc((size_t)K * V * sizeof(float));
    const int cuts[] = {P, 12, 1, 0};
    for (int c = 0; c < 4; c++) {
        int cut = cuts[c];
        gpt_context_reset(a);
        CHECK(gpt_eval(a, prompt, P, false, err) != NULL, "eval: %s", err);
        CHECK(gpt_context_truncate(a, P + 1) == -1 && gpt_context_truncate(a, -1) == -1 && gpt_context_n_past(a) == P,
              "a cut outside [0, %d] was accepted or changed n_past (%d)", P, gpt_context_n_past(a));
        CHECK(gpt_context_truncate(a, cut) == 0 && gpt_context_n_past(a) == cut, "truncate to %d: n_past %d", cut,
              gpt_context_n_past(a));
        const float *la = gpt_eval(a, cont, K, true, err);
        CHECK(la != NULL, "eval after truncate: %s", err);
        if (!la) continue;
        memcpy(got, la, (size_t)K * V * sizeof(float));
        gpt_context_reset(b);
        if (cut) CHECK(gpt_eval(b, prompt, cut, false, err) != NULL, "eval: %s", err);
        const float *lb = gpt_eval(b, cont, K, true, err);
        CHECK(lb != NULL, "eval: %s", err);
        snprintf(what, sizeof what, "%s: %d of %d kept, then %d more", label, cut, P, K);
        if (lb) compare(what, lb, got, K, 1e-5);
    }
    free(got);
    gpt_context_free(a);
    gpt_context_free(b);
}

// One sequence decoded token by token in a context of its own (2 threads),
// every position's logits kept: the work of one application thread.
typedef struct {
    gpt_model *m;
    int32_t ids[NCTX];
    int n;
    float *logits;  // (n, V)
    int ok;
    pthread_barrier_t *step;  // when set, every token starts with the other thread's (lockstep)
} decode_job;

static void *decode_sequence(void *arg) {
    decode_job *j = arg;
    char err[GPT_ERR_LEN];
    gpt_context *ctx = NULL;
    j->ok = gpt_context_new(&ctx, j->m, 0, 2, err) == 0;
    for (int t = 0; t < j->n; t++) {
        if (j->step) pthread_barrier_wait(j->step);  // both threads run every step, even after a failure
        if (!j->ok) continue;
        const float *lg = gpt_eval(ctx, j->ids + t, 1, false, err);
        if (lg) memcpy(j->logits + (size_t)t * V, lg, V * sizeof(float));
        else j->ok = 0;
    }
    gpt_context_free(ctx);
    return NULL;
}

// Two contexts on one model, decoding different sequences in two threads at
// once, then each alone: the same logits bit for bit (the forward pass only
// reads the model; each context owns its cache, scratch and pool). A token
// of this model takes microseconds, so the threads start every token
// together (a barrier); several rounds, so that they overlap in other ways.
static void test_shared_model(gpt_model *m) {
    enum { N = 30, ROUNDS = 8 };
    pthread_barrier_t step;
    pthread_barrier_init(&step, NULL, 2);
    decode_job alone[2], both[2];
    for (int k = 0; k < 2; k++) {
        alone[k] = (decode_job){.m = m, .n = N, .logits = malloc((size_t)N * V * sizeof(float))};
        for (int i = 0; i < N; i++) alone[k].ids[i] = (i * (k ? 53 : 29) + 3 * k + 1) % 256;
        decode_sequence(&alone[k]);
        CHECK(alone[k].ok, "sequence %d alone: a context or an evaluation failed", k);
    }
    int same = 1;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t th[2];
        for (int k = 0; k < 2; k++) {
            both[k] = alone[k];
            both[k].logits = calloc((size_t)N * V, sizeof(float));
            both[k].ok = 0;
            both[k].step = &step;
            CHECK(pthread_create(&th[k], NULL, decode_sequence, &both[k]) == 0, "pthread_create");
        }
        for (int k = 0; k < 2; k++) {
            pthread_join(th[k], NULL);
            CHECK(both[k].ok, "round %d, sequence %d: a context or an evaluation failed", r, k);
            if (memcmp(both[k].logits, alone[k].logits, (size_t)N * V * sizeof(float)) != 0) same = 0;
            free(both[k].logits);
        }
    }
    printf("%-44s %s\n", "two contexts on one model, two threads", same ? "same logits as alone" : "DIFFERENT");
    CHECK(same, "contexts sharing a model in two threads gave other logits than alone");
    pthread_barrier_destroy(&step);
    free(alone[0].logits), free(alone[1].logits);
}

static gpt_model *retyped(gguf_ctx *src, uint32_t type, gguf_ctx **keep) {
    char err[GPT_ERR_LEN];
    convert_options o = {.type = type, .output_type = -1, .write_output = false};
    gpt_model *m;
    if (gguf_convert(keep, src, &o, err) || model_build(&m, *keep, "tiny-retyped", err)) {
        printf("convert: %s\n", err);
        exit(1);
    }
    *keep = NULL;  // the model owns it now
    return m;
}

int main(void) {
    char err[GPT_ERR_LEN];
    gguf_ctx *g = tiny_model();
    gpt_model *m;
    if (model_build(&m, g, "tiny", err)) {
        printf("build: %s\n", err);
        return 1;
    }
    test_sequences(m, "F32", 1e-5);
    test_sampler(m);
    test_shared_model(m);
    test_truncate(m, "F32: truncate");
    test_shared_tokenizer();
    gguf_ctx *tmp;
    gpt_model *m16 = retyped(m->gguf, GGML_TYPE_F16, &tmp);
    test_sequences(m16, "F16", 1e-5);
    // the F16 cache: the same invariants (batch, one by one and chunks read
    // the same rounded rows), and logits near the F32 cache's but not equal
    // (scalar vs SIMD within 1e-4: the kernels' float sums differ in the last
    // bit, which can round a key or value to the neighbouring half, 2^-11 away)
    kv_type = GPT_KV_F16;
    test_sequences(m, "F32, F16 KV cache", 1e-4);
    test_sequences(m16, "F16, F16 KV cache", 1e-4);
    test_truncate(m, "F32, F16 KV cache: truncate");
    enum { N = 33 };
    int32_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 131 + 7) % 256;
    const int whole[] = {N, 0};
    float *half = run_chunks(m, "scalar", ids, N, whole);
    kv_type = GPT_KV_F32;
    float *full = run_chunks(m, "scalar", ids, N, whole);
    double d = max_diff(half, full, N * V), scale = max_abs(full, N * V);
    printf("%-44s max|diff| %.3g (%.3g of max|logit| %.3g)\n", "F32: F16 KV cache vs F32 KV cache", d, d / scale,
           scale);
    CHECK(d > 0 && d <= 1e-2 * scale, "F16 cache vs F32 cache: %.3g of max|logit|", d / scale);
    free(half), free(full);
    gpt_model_free(m16);
    gpt_model_free(m);
    printf("%s\n", failures ? "FAILED" : "all forward checks passed");
    return failures ? 1 : 0;
}
