// forward.c: the transformer of every architecture in arch.h over a batch of
// tokens, with a KV cache. The model's description (gpt_hparams: norm,
// positions, rotary layout, activation, q/k norms; which tensors exist)
// chooses each step; there is one pass, not one per family.
//
//   x = wte[id] (+ wpe[pos] with learned positions)           (T, C)
//   for each layer:
//     q, k, v = N1(x) @ Wqkv + b  (fused, or Wq, Wk, Wv)      (T, A), (T, KV), (T, KV)
//     q, k = RoPE(headnorm(q), headnorm(k), pos)  (rotary)   per head, hd each
//     K, V cache rows [pos] = k, v                           NKV heads
//     a = softmax(q K^T / sqrt(hd), causal) V  per head     (T, A); head h reads
//                                                            kv head h / (NH / NKV)
//     x += a @ Wo + b                                        (T, C)
//     x += GELU(N2(x) @ Wup + b) @ Wdown + b                 (T, F) -> (T, C), or
//     x += (SiLU(N2(x) @ Wgate) * (N2(x) @ Wup)) @ Wdown     SwiGLU
//   logits = Nf(x) @ Wout                                   (rows needed, V)
// N is LayerNorm or RMSNorm; A = NH hd, KV = NKV hd, QKV = A + 2 KV.
//
// It calls kernels and the thread pool; every hot loop lives in kernels/.
// All memory is allocated once, in gpt_context_new.
//
// Parallel steps: a matrix product over a batch hands out chunks of weight
// rows from a shared counter, large first and smaller towards the end (a
// thread that was descheduled or started late does less, nobody waits for a
// fixed half); a decode product gives each thread its own contiguous range,
// which it reads front to back as one stream, and a thread that runs out
// takes the back half of what another has left; attention hands out (head,
// block of queries) pairs, largest first.
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "model.h"
#include "threads.h"
#include "util.h"

#define MAX_BATCH 256  // tokens evaluated per pass; longer inputs go in chunks
#define QB 32          // queries per attention work item (prefill)
#define HUGE_PAGE ((size_t)2 << 20)

struct gpt_context {
    gpt_model *m;
    const kernel_table *k;
    thread_pool *pool;
    int n_ctx, n_past, batch;
    uint32_t kv_type;          // GGML_TYPE_F32 or GGML_TYPE_F16: the cache's elements
    size_t kv_elem;            // their size in bytes
    int hd, A, KV, QKV;        // head size, query, key/value and fused widths (forward.c's header)
    void *k_cache;             // (L, NKV, n_ctx, hd): kv head g's keys, position after position
    void *v_cache;             // (L, NKV, n_ctx, hd): the values, the same way
    float *x;                  // (B, C) residual stream
    float *xn;                 // (B, C) normalised input of a matmul, or its output
    float *qkv;                // (B, QKV): q (A), k (KV), v (KV) of each token
    float *att;                // (B, A) attention output before the projection
    float *ffn;                // (B, F)
    float *ffn_up;             // (B, F) SwiGLU's up projection (NULL otherwise)
    float *rope_cs;            // (B, hd) cos, sin pairs of each token's position
    float *scores;             // (n_threads, QB, n_ctx) attention weights per thread
    void *xq;                  // (B, max(C, F, A) / 32) Q8_0 blocks: activations for quantized weights
    pool_range *ranges;        // (n_threads) each thread's rows of a decode product
    float *logits;             // (logits_cap, V)
    int logits_cap;
    void *arena;               // the one allocation behind the caches and buffers above
    size_t arena_bytes;
};

// ---- a matrix product as one parallel step -------------------------------------

typedef struct {
    const kernel_table *k;
    matmul_fn fn;
    float *out;
    int ldo;
    const float *x;
    int ldx;
    const void *xq;
    const gpt_matrix *w;
    const float *bias;    // (N) or NULL
    float *resid;         // when set: resid += x W^T + b, with out as scratch of the same shape
    int gelu;             // 0 none, 1 tanh, 2 erf
    int T;
    int grain;            // work items are whole multiples of this many rows
    atomic_int next;      // the first row nobody has taken (batches)
    pool_range *ranges;   // each thread's rows (decode), or NULL
} matmul_task;

// GELU over one row: the exact erf form in C (GPT-2 checkpoints use the tanh
// form; erf is there for models trained with HF's "gelu"), the tanh form by
// the kernel table.
static void gelu(const kernel_table *k, float *x, int n, int use_erf) {
    if (use_erf) gelu_erf_row(x, n);
    else KERNEL(k, gelu_tanh_f32)(x, n);
}

// Rows [n0, n1) of the product, then their bias, GELU or residual add.
static void matmul_rows(matmul_task *mt, int n0, int n1) {
    int T = mt->T, cols = n1 - n0;
    if (!mt->resid) {
        mt->fn(mt->out, mt->ldo, mt->x, mt->ldx, mt->xq, mt->w->data, mt->w->row_bytes, T, mt->w->cols, n0, n1);
        for (int t = 0; t < T; t++) {
            float *o = mt->out + (size_t)t * mt->ldo + n0;
            if (mt->bias) add_bias_row(o, mt->bias + n0, cols);
            if (mt->gelu) gelu(mt->k, o, cols, mt->gelu == 2);
        }
        return;
    }
    // residual form: the product lands in scratch, then this thread adds its
    // own columns into the residual stream
    mt->fn(mt->out, mt->ldo, mt->x, mt->ldx, mt->xq, mt->w->data, mt->w->row_bytes, T, mt->w->cols, n0, n1);
    for (int t = 0; t < T; t++) {
        float *o = mt->out + (size_t)t * mt->ldo + n0;
        if (mt->bias) add_bias_row(o, mt->bias + n0, cols);
        add_bias_row(mt->resid + (size_t)t * mt->ldo + n0, o, cols);
    }
}

// Decode: a thread reads its own range front to back, so consecutive items
// continue one memory stream that the prefetchers already follow; with the
// shared counter below, every item began a new stream where the other
// thread had left off, and a new stream starts with a wait on memory. On a
// 2-core Zen 5 (124M, 2 threads, tg128) that cost 17% of Q8_0 decode and
// 11-20% of Q4_0 (static halves against the counter). Then it helps the
// others from the back of their ranges, which a thread that never joined
// the step (pool_run_shared) leaves whole.
static void matmul_items(void *arg, int ith, int n0, int n1) {
    (void)ith;
    matmul_rows(arg, n0, n1);
}

// Guided self-scheduling: a thread takes a share of the rows still left
// (1 / (3 nth) of them), so items start large (few atomic operations) and
// shrink towards the end, where a thread that arrives late or runs slow
// leaves the others only a small last item to wait for.
static void matmul_worker(void *arg, int ith, int nth) {
    matmul_task *mt = arg;
    if (mt->ranges) {
        pool_ranges_work(mt->ranges, ith, nth, mt->grain, matmul_items, mt);
        return;
    }
    int N = mt->w->rows, g = mt->grain;
    int n0 = atomic_load_explicit(&mt->next, memory_order_relaxed);
    for (;;) {
        if (n0 >= N) return;
        int size = (N - n0 + 3 * nth - 1) / (3 * nth);
        size = (size + g - 1) / g * g;
        int n1 = n0 + size < N ? n0 + size : N;
        if (atomic_compare_exchange_weak_explicit(&mt->next, &n0, n1, memory_order_relaxed, memory_order_relaxed)) {
            matmul_rows(mt, n0, n1);
            n0 = n1;  // a guess; the exchange corrects it
        }
    }
}

// The smallest work item. In decode, 32 KiB of weights (at least 16 rows, a
// multiple of 16; items are cut at multiples of it, so that the kernels'
// groups of rows, and so the sums, do not depend on which thread takes
// what). When every item came from one shared counter, each was claimed
// with an atomic operation on a line the other core held, a few hundred
// nanoseconds on a 2-core VM, and 16-row items made those a tenth of Q4_0
// decode (measured with 20 interleaved rounds, 124M, 2 threads: 32 KiB
// items Q4_0 +4..10%, F16 +3%, Q8_0 +1%). In prefill 48 rows, a multiple of
// the kernels' register and packing tiles (3, 4, 8, 16, 24, 48 rows) so
// that none is cut.
static int matmul_grain(int T, size_t row_bytes) {
    if (T != 1) return 48;
    size_t rows = ((32u << 10) / row_bytes + 15) / 16 * 16;
    return rows < 16 ? 16 : rows > 4096 ? 4096 : (int)rows;
}

typedef struct {
    const kernel_table *k;
    const float *x;
    int ldx, K, T;
    block_q8_0 *xq;
} quant_task;

static void quant_worker(void *arg, int ith, int nth) {
    quant_task *q = arg;
    int t0, t1;
    pool_split(q->T, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) q->k->quantize_row_q8_0(q->x + (size_t)t * q->ldx, q->xq + (size_t)t * (q->K / QK), q->K);
}

// out (T, N) = x (T, K) @ W^T + bias, then GELU or a residual add.
static void matmul(gpt_context *c, float *out, int ldo, const float *x, int ldx, const gpt_matrix *w,
                   const float *bias, float *resid, int gelu, int T) {
    matmul_task mt = {c->k, KERNEL(c->k, matmul[w->type]), out, ldo, x, ldx, NULL, w, bias, resid, gelu, T,
                      matmul_grain(T, w->row_bytes), 0, NULL};
    if (T == 1) {
        pool_ranges_split(c->ranges, pool_size(c->pool), w->rows, mt.grain);
        mt.ranges = c->ranges;
    }
    if (w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0) {
        quant_task q = {c->k, x, ldx, w->cols, T, c->xq};
        // a few rows take about a microsecond each: cheaper here than a
        // round trip through the pool (decode would pay one per product)
        if (T <= 4) quant_worker(&q, 0, 1);
        else pool_run(c->pool, quant_worker, &q);
        mt.xq = c->xq;
    }
    pool_run_shared(c->pool, matmul_worker, &mt);  // counter or ranges: any thread may take every row
}

// ---- LayerNorm or RMSNorm over rows ---------------------------------------------

typedef struct {
    float *out;
    const float *x;
    const float *w, *b;
    int C, T;
    float eps;
    bool rms;
} ln_task;

static void norm_worker(void *arg, int ith, int nth) {
    ln_task *lt = arg;
    int t0, t1;
    pool_split(lt->T, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) {
        float *o = lt->out + (size_t)t * lt->C;
        const float *x = lt->x + (size_t)t * lt->C;
        if (lt->rms) rmsnorm_row(o, x, lt->w, lt->C, lt->eps);
        else layernorm_row(o, x, lt->w, lt->b, lt->C, lt->eps);
    }
}

// The model's norm (LayerNorm or RMSNorm) over T rows of C.
static void norm(gpt_context *c, float *out, const float *x, const float *w, const float *b, int T) {
    ln_task lt = {out, x, w, b, c->m->hp.n_embd, T, c->m->hp.ln_eps, c->m->hp.norm == GPT_NORM_RMS};
    if (T == 1) norm_worker(&lt, 0, 1);  // one row: not worth waking the pool
    else pool_run(c->pool, norm_worker, &lt);
}

// ---- causal self-attention ----------------------------------------------------------

typedef struct {
    gpt_context *c;
    int layer, T, pos0;
    atomic_int next;  // the next (block of queries, head) item
} attn_task;

// Where kv head g of layer l starts in cache (k_cache or v_cache): (n_ctx, hd)
// elements of kv_type.
static void *kv_head(const gpt_context *c, void *cache, int l, int g) {
    size_t elems = ((size_t)l * c->m->hp.n_head_kv + g) * c->n_ctx * (size_t)c->hd;
    return (char *)cache + elems * c->kv_elem;
}

// Queries [t0, t1) of one head:
//   S (m, npos) = Q (m, hd) K^T          K: the head's cache rows 0..npos-1
//   softmax of each row over the positions it may see (later ones zeroed)
//   O (m, hd)   = S V                   V: the head's cache rows 0..npos-1
// npos = pos0 + t1 covers the last query; earlier queries of the block get
// a few masked positions, computed and then zeroed. Q K^T goes through the
// matmul kernel of the cache's type, F32 or F16 (the keys are its weight
// rows), S V through weighted_rows_f32 or _f16, which read the value rows as
// the cache holds them.
// The cache keeps each head's positions contiguous so that decode reads it
// as one sequential stream per head: with the keys (L, n_ctx, C) and the
// values transposed (L, C, n_ctx), 64 floats or npos floats at a time from
// rows kilobytes apart, attention took 6% of 124M Q8_0 and 11% of Q4_0
// decode time at tg128 (measured by leaving it out; Zen 4, 2 threads).
static void attend_block(gpt_context *c, const attn_task *at, int h, int t0, int t1, float *S) {
    const gpt_hparams *hp = &c->m->hp;
    const kernel_table *k = c->k;
    int hd = c->hd, m = t1 - t0, npos = at->pos0 + t1, g = h / (hp->n_head / hp->n_head_kv);
    const void *keys = kv_head(c, c->k_cache, at->layer, g), *values = kv_head(c, c->v_cache, at->layer, g);
    const float *q = c->qkv + (size_t)t0 * c->QKV + (size_t)h * hd;
    KERNEL(k, matmul[c->kv_type])(S, npos, q, c->QKV, NULL, keys, (size_t)hd * c->kv_elem, m, hd, 0, npos);
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < m; i++) {
        float *s = S + (size_t)i * npos;
        int seen = at->pos0 + t0 + i + 1;  // positions 0..pos of query t0 + i
        KERNEL(k, softmax_f32)(s, seen, scale);
        memset(s + seen, 0, (size_t)(npos - seen) * sizeof(float));
    }
    float *o = c->att + (size_t)t0 * c->A + (size_t)h * hd;
    if (c->kv_type == GGML_TYPE_F16) KERNEL(k, weighted_rows_f16)(o, c->A, S, npos, values, m, npos, hd);
    else KERNEL(k, weighted_rows_f32)(o, c->A, S, npos, values, m, npos, hd);
}

// KV head g's k and v of the batch's T tokens into the cache, at positions
// n_past .. n_past + T - 1.
static void kv_append_head(gpt_context *c, int l, int g, int T) {
    int hd = c->hd;
    char *keys = kv_head(c, c->k_cache, l, g), *values = kv_head(c, c->v_cache, l, g);
    for (int t = 0; t < T; t++) {
        const float *kr = c->qkv + (size_t)t * c->QKV + c->A + (size_t)g * hd, *vr = kr + c->KV;
        size_t row = (size_t)(c->n_past + t) * hd * c->kv_elem;
        if (c->kv_type == GGML_TYPE_F16) {
            KERNEL(c->k, f32_to_f16_row)(kr, (uint16_t *)(keys + row), hd);
            KERNEL(c->k, f32_to_f16_row)(vr, (uint16_t *)(values + row), hd);
        } else {
            memcpy(keys + row, kr, (size_t)hd * sizeof(float));
            memcpy(values + row, vr, (size_t)hd * sizeof(float));
        }
    }
}

// Decode: each thread owns a range of heads (the same heads every token),
// appends their new key and value rows and attends over them, then helps
// with the others' from the back. A head's cache rows are then written and
// read by one core, so they stay in its caches; when one thread appended
// every head's row and the heads went to whoever took them first, most
// rows the second core read were lines the first had written, fetched
// from the other core: attention took 9 us a layer at positions 0-31 with
// 2 threads against 5 with 1 (2-core Zen 5, 124M Q4_0, tg128).
// With grouped-query attention the ranges are of kv heads: a thread appends
// kv head g's rows and attends with every query head that reads them.
static void attend_heads(void *arg, int ith, int g0, int g1) {
    const attn_task *at = arg;
    gpt_context *c = at->c;
    float *S = c->scores + (size_t)ith * QB * c->n_ctx;
    int group = c->m->hp.n_head / c->m->hp.n_head_kv;
    for (int g = g0; g < g1; g++) {
        kv_append_head(c, at->layer, g, 1);
        for (int h = g * group; h < (g + 1) * group; h++) attend_block(c, at, h, 0, 1, S);
    }
}

static void attention_decode_worker(void *arg, int ith, int nth) {
    pool_ranges_work(((attn_task *)arg)->c->ranges, ith, nth, 1, attend_heads, arg);
}

static void attention_worker(void *arg, int ith, int nth) {
    (void)nth;
    attn_task *at = arg;
    gpt_context *c = at->c;
    int NH = c->m->hp.n_head, n_blocks = (at->T + QB - 1) / QB;
    float *S = c->scores + (size_t)ith * QB * c->n_ctx;
    for (;;) {
        int i = atomic_fetch_add_explicit(&at->next, 1, memory_order_relaxed);
        if (i >= n_blocks * NH) return;
        int b = n_blocks - 1 - i / NH;  // the last queries see the most positions: hand them out first
        int t0 = b * QB, t1 = t0 + QB < at->T ? t0 + QB : at->T;
        attend_block(c, at, i % NH, t0, t1, S);
    }
}

// ---- the layers ---------------------------------------------------------------------

static void embed(gpt_context *c, const int32_t *ids, int T) {
    const gpt_model *m = c->m;
    int C = m->hp.n_embd;
    float *row = c->xn;  // scratch for the position row
    for (int t = 0; t < T; t++) {
        float *x = c->x + (size_t)t * C;
        const gpt_matrix *te = &m->token_embd, *pe = &m->position_embd;
        dequantize_row(te->type, (const uint8_t *)te->data + (size_t)ids[t] * te->row_bytes, x, C);
        if (m->hp.pos != GPT_POS_LEARNED) continue;
        dequantize_row(pe->type, (const uint8_t *)pe->data + (size_t)(c->n_past + t) * pe->row_bytes, row, C);
        add_bias_row(x, row, C);  // x += the position's row
    }
}

typedef struct {
    gpt_context *c;
    const gpt_layer *L;
    int T;
} rows_task;

// Rotary models: each token's q and k heads normalised (qwen3) and rotated
// by its position's angles (rope_prepare); the threads take shares of the tokens.
static void qk_rope_worker(void *arg, int ith, int nth) {
    const rows_task *rt = arg;
    gpt_context *c = rt->c;
    const gpt_hparams *hp = &c->m->hp;
    int t0, t1, hd = c->hd;
    pool_split(rt->T, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) {
        float *q = c->qkv + (size_t)t * c->QKV, *k = q + c->A, *cs = c->rope_cs + (size_t)t * hd;
        if (rt->L->q_norm) {
            for (int h = 0; h < hp->n_head; h++) rmsnorm_row(q + h * hd, q + h * hd, rt->L->q_norm, hd, hp->ln_eps);
            for (int g = 0; g < hp->n_head_kv; g++) rmsnorm_row(k + g * hd, k + g * hd, rt->L->k_norm, hd, hp->ln_eps);
        }
        bool adjacent = hp->rope_layout == GPT_ROPE_ADJACENT;
        rope_rows(q, hp->n_head, hd, cs, adjacent);
        rope_rows(k, hp->n_head_kv, hd, cs, adjacent);
    }
}

// SwiGLU: ffn = SiLU(ffn) * ffn_up, row by row.
static void swiglu_worker(void *arg, int ith, int nth) {
    const rows_task *rt = arg;
    gpt_context *c = rt->c;
    int t0, t1, F = c->m->hp.n_ff;
    pool_split(rt->T, ith, nth, 1, &t0, &t1);
    for (int t = t0; t < t1; t++) swiglu_row(c->ffn + (size_t)t * F, c->ffn_up + (size_t)t * F, F);
}

// Each token's rotary angles, once per batch: they depend on its position
// only, and every layer rotates by the same ones.
static void rope_prepare(gpt_context *c, int T) {
    const gpt_hparams *hp = &c->m->hp;
    for (int t = 0; t < T; t++)
        rope_angles(c->rope_cs + (size_t)t * c->hd, c->n_past + t, c->hd, hp->rope_base, c->m->rope_freqs);
}

static void run_rows(gpt_context *c, void (*fn)(void *, int, int), rows_task *rt) {
    if (rt->T == 1) fn(rt, 0, 1);  // one row: not worth waking the pool
    else pool_run(c->pool, fn, rt);
}

typedef struct {
    gpt_context *c;
    int layer, T;
} kv_task;

// Append k and v of the batch to layer's cache at positions n_past ..
// n_past + T - 1; each thread takes a share of the heads.
static void kv_append_worker(void *arg, int ith, int nth) {
    kv_task *kv = arg;
    int g0, g1;
    pool_split(kv->c->m->hp.n_head_kv, ith, nth, 1, &g0, &g1);
    for (int g = g0; g < g1; g++) kv_append_head(kv->c, kv->layer, g, kv->T);
}

static void block_forward(gpt_context *c, int l, int T) {
    const gpt_model *m = c->m;
    const gpt_hparams *hp = &m->hp;
    const gpt_layer *L = &m->layers[l];
    int C = hp->n_embd, F = hp->n_ff;
    norm(c, c->xn, c->x, L->ln1_w, L->ln1_b, T);
    if (L->attn_qkv.rows) {
        matmul(c, c->qkv, c->QKV, c->xn, C, &L->attn_qkv, L->attn_qkv_b, NULL, 0, T);
    } else {  // q, k, v side by side in each token's row of qkv
        matmul(c, c->qkv, c->QKV, c->xn, C, &L->attn_q, L->attn_q_b, NULL, 0, T);
        matmul(c, c->qkv + c->A, c->QKV, c->xn, C, &L->attn_k, L->attn_k_b, NULL, 0, T);
        matmul(c, c->qkv + c->A + c->KV, c->QKV, c->xn, C, &L->attn_v, L->attn_v_b, NULL, 0, T);
    }
    rows_task rt = {c, L, T};
    if (hp->pos == GPT_POS_ROPE) run_rows(c, qk_rope_worker, &rt);
    attn_task at = {c, l, T, c->n_past, 0};
    if (T == 1) {
        pool_ranges_split(c->ranges, pool_size(c->pool), hp->n_head_kv, 1);
        pool_run_shared(c->pool, attention_decode_worker, &at);
    } else {
        kv_task kv = {c, l, T};
        pool_run(c->pool, kv_append_worker, &kv);
        pool_run_shared(c->pool, attention_worker, &at);
    }
    matmul(c, c->xn, C, c->att, c->A, &L->attn_out, L->attn_out_b, c->x, 0, T);
    norm(c, c->xn, c->x, L->ln2_w, L->ln2_b, T);
    if (hp->act == GPT_ACT_SWIGLU) {
        matmul(c, c->ffn, F, c->xn, C, &L->ffn_gate, L->ffn_gate_b, NULL, 0, T);
        matmul(c, c->ffn_up, F, c->xn, C, &L->ffn_up, L->ffn_up_b, NULL, 0, T);
        run_rows(c, swiglu_worker, &rt);
    } else {
        matmul(c, c->ffn, F, c->xn, C, &L->ffn_up, L->ffn_up_b, NULL, hp->gelu_erf ? 2 : 1, T);
    }
    matmul(c, c->xn, C, c->ffn, F, &L->ffn_down, L->ffn_down_b, c->x, 0, T);
}

// Logits for the rows [first, T) of the batch into logits + row_out * V.
static void lm_head(gpt_context *c, int first, int T, int row_out) {
    const gpt_model *m = c->m;
    int C = m->hp.n_embd, V = m->hp.n_vocab, n = T - first;
    norm(c, c->xn, c->x + (size_t)first * C, m->lnf_w, m->lnf_b, n);
    matmul(c, c->logits + (size_t)row_out * V, V, c->xn, C, &m->output, NULL, NULL, 0, n);
}

// ---- the context --------------------------------------------------------------------

// GPT_KV_AUTO's choice: F16 when a block's matrices are Q4_0, F32 otherwise.
// On the shipped model (README, Quantization) the F16 cache moves Q4_0's
// distributions by 0.01% of what its weights already do (mean KL against
// F32 0.017986 -> 0.017988), but Q8_0's by 1.5% (2.39e-4 -> 2.42e-4, top-1
// agreement 98.80% -> 98.63%): Q8_0, the near-lossless type, keeps the F32
// cache, as do F32/F16/BF16 models, whose logits match PyTorch's.
gpt_kv_type gpt_model_kv_type(const gpt_model *m) {
    for (int l = 0; l < m->hp.n_layer; l++) {
        const gpt_layer *L = &m->layers[l];
        const gpt_matrix *w[8] = {&L->attn_qkv, &L->attn_q,  &L->attn_k,   &L->attn_v,
                                  &L->attn_out, &L->ffn_gate, &L->ffn_up, &L->ffn_down};
        for (int i = 0; i < 8; i++)
            if (w[i]->rows && w[i]->type == GGML_TYPE_Q4_0) return GPT_KV_F16;
    }
    return GPT_KV_F32;
}

int gpt_context_new(gpt_context **out, gpt_model *m, int n_ctx, int n_threads, char *err) {
    return gpt_context_new_kv(out, m, n_ctx, n_threads, GPT_KV_AUTO, err);
}

int gpt_context_new_kv(gpt_context **out, gpt_model *m, int n_ctx, int n_threads, gpt_kv_type kv_type, char *err) {
    *out = NULL;
    const gpt_hparams *hp = &m->hp;
    bool asked = n_ctx > 0;
    // learned positions end at the table's last row; rotary ones go on (as
    // llama.cpp lets -c exceed a llama file's context_length), up to a bound
    // that keeps every size product small
    int most = hp->pos == GPT_POS_ROPE ? (1 << 20) : hp->n_ctx;
    if (n_ctx <= 0) n_ctx = hp->n_ctx;
    if (n_ctx > most) n_ctx = most;
    if (n_threads <= 0) n_threads = physical_cores();  // as gpt.h documents
    if (kv_type == GPT_KV_AUTO) kv_type = gpt_model_kv_type(m);
    if (kv_type != GPT_KV_F32 && kv_type != GPT_KV_F16) return gpt_fail(err, "unknown KV cache type %d", (int)kv_type);
    uint32_t type = kv_type == GPT_KV_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    size_t elem = kv_type == GPT_KV_F16 ? sizeof(uint16_t) : sizeof(float);
    // The KV cache grows with n_ctx, which a file states in one number. A real
    // GPT-2's full-context cache is smaller than its weights; a file whose
    // cache would dwarf its weights gets an error unless -c asks for it.
    uint64_t kv_bytes = model_kv_bytes(m, n_ctx, kv_type);
    uint64_t allowed = 4 * m->weight_bytes > ((uint64_t)256 << 20) ? 4 * m->weight_bytes : ((uint64_t)256 << 20);
    if (!asked && kv_bytes > allowed)
        return gpt_fail(err, "%s: a KV cache for the full context of %d tokens needs %llu MiB, far more than the "
                        "model's weights: choose a smaller context with -c", m->path, n_ctx,
                        (unsigned long long)(kv_bytes >> 20));
    gpt_context *c = calloc(1, sizeof *c);
    if (!c) return gpt_fail(err, "out of memory");
    c->m = m;
    c->k = kernels_select();
    c->n_ctx = n_ctx;
    c->kv_type = type;
    c->kv_elem = elem;
    c->batch = n_ctx < MAX_BATCH ? n_ctx : MAX_BATCH;
    c->pool = pool_new(n_threads);
    if (!c->pool) {
        free(c);
        return gpt_fail(err, "cannot start %d threads", n_threads);
    }
    c->hd = hp->head_dim;
    c->A = hp->n_head * hp->head_dim;
    c->KV = hp->n_head_kv * hp->head_dim;
    c->QKV = c->A + 2 * c->KV;
    size_t C = (size_t)hp->n_embd, F = (size_t)hp->n_ff, B = (size_t)c->batch, L = (size_t)hp->n_layer;
    size_t nth = (size_t)pool_size(c->pool), A = (size_t)c->A, maxk = C > F ? C : F;
    if (A > maxk) maxk = A;
    size_t F2 = hp->act == GPT_ACT_SWIGLU ? F : 0, hd = (size_t)c->hd;
    size_t kv = L * (size_t)n_ctx * (size_t)c->KV;
    size_t floats = B * (C + C + (size_t)c->QKV + A + F + F2 + hd) + nth * QB * (size_t)n_ctx;
    size_t xq_bytes = B * (maxk / QK + 1) * sizeof(block_q8_0);
    // the caches first (2 kv elements of 2 or 4 bytes: the floats after them
    // stay 4-byte aligned); huge pages where the kernel gives them: every
    // token's attention walks the cache of every layer, a few KiB per head,
    // fewer TLB misses
    size_t bytes = 2 * kv * elem + floats * sizeof(float) + xq_bytes;
    c->arena_bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *arena = mmap(NULL, c->arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    c->arena = arena == MAP_FAILED ? NULL : arena;
#ifdef MADV_HUGEPAGE
    if (c->arena) madvise(c->arena, c->arena_bytes, MADV_HUGEPAGE);
#endif
    c->logits_cap = 1;
    c->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    c->ranges = aligned_alloc(64, nth * sizeof(pool_range));
    if (!c->arena || !c->logits || !c->ranges) {
        gpt_context_free(c);
        return gpt_fail(err, "out of memory for the KV cache and scratch (%zu MiB)", bytes >> 20);
    }
    c->k_cache = c->arena;
    c->v_cache = (char *)c->arena + kv * elem;
    float *p = (float *)((char *)c->arena + 2 * kv * elem);
    c->x = p, p += B * C;
    c->xn = p, p += B * C;
    c->qkv = p, p += B * (size_t)c->QKV;
    c->att = p, p += B * A;
    c->ffn = p, p += B * F;
    c->ffn_up = F2 ? p : NULL, p += B * F2;
    c->rope_cs = p, p += B * hd;
    c->scores = p, p += nth * QB * (size_t)n_ctx;
    c->xq = p;
    *out = c;
    return 0;
}

void gpt_context_free(gpt_context *c) {
    if (!c) return;
    pool_free(c->pool);
    if (c->arena) munmap(c->arena, c->arena_bytes);
    free(c->logits);
    free(c->ranges);
    free(c);
}

int gpt_context_n_past(const gpt_context *c) { return c->n_past; }
int gpt_context_n_ctx(const gpt_context *c) { return c->n_ctx; }
gpt_kv_type gpt_context_kv_type(const gpt_context *c) { return c->kv_type == GGML_TYPE_F16 ? GPT_KV_F16 : GPT_KV_F32; }
void gpt_context_reset(gpt_context *c) { c->n_past = 0; }
// The cache rows at positions >= n are written again before anything reads
// them: attention at position p reads rows 0..p only.
int gpt_context_truncate(gpt_context *c, int n) {
    if (n < 0 || n > c->n_past) return -1;
    c->n_past = n;
    return 0;
}

const float *gpt_eval(gpt_context *c, const int32_t *ids, int n, bool all_logits, char *err) {
    const gpt_hparams *hp = &c->m->hp;
    if (n <= 0) {
        gpt_fail(err, "nothing to evaluate (0 tokens)");
        return NULL;
    }
    if (n > c->n_ctx - c->n_past) {
        gpt_fail(err, "%d tokens do not fit in the context: %d of %d positions are used", n, c->n_past, c->n_ctx);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= hp->n_vocab) {
            gpt_fail(err, "token id %d is out of range [0, %d)", ids[i], hp->n_vocab);
            return NULL;
        }
    if (all_logits && n > c->logits_cap) {
        // only the logits and perplexity paths ask for every row: grow once
        float *l = realloc(c->logits, (size_t)n * hp->n_vocab * sizeof(float));
        if (!l) {
            gpt_fail(err, "out of memory for %d rows of logits", n);
            return NULL;
        }
        c->logits = l;
        c->logits_cap = n;
    }
    for (int done = 0; done < n;) {
        int T = n - done < c->batch ? n - done : c->batch;
        embed(c, ids + done, T);
        if (hp->pos == GPT_POS_ROPE) rope_prepare(c, T);
        for (int l = 0; l < hp->n_layer; l++) block_forward(c, l, T);
        if (all_logits) lm_head(c, 0, T, done);
        else if (done + T == n) lm_head(c, T - 1, T, 0);
        c->n_past += T;
        done += T;
    }
    return c->logits;
}
