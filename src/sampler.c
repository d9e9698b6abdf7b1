// sampler.c: turning logits into the next token. A seeded RNG, repetition
// penalty, temperature, top-k, top-p and min-p, in llama.cpp's order
// (penalty, top-k, temperature, top-p, min-p), and greedy argmax at
// temperature 0. Only the top candidates are sorted: a full sort of a 50k
// vocabulary per token would cost more than a small model's forward pass.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"

typedef struct {
    int32_t id;
    float logit;
} candidate;

struct gpt_sampler {
    gpt_sampler_params p;
    uint64_t rng;
    float *logits;     // (V) penalised copy
    candidate *cand;   // (V)
    int cap;
    candidate *top;    // the last call's sorted candidates, exp((logit - max) / temp) in .logit
    int n_top;
    int V;             // the last call's vocabulary size, largest logit and temperature,
    float max, temp;   // for gpt_sampler_top
};

gpt_sampler *gpt_sampler_new(const gpt_sampler_params *p) {
    gpt_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *p;
    s->rng = p->seed ^ 0x9E3779B97F4A7C15ull;
    return s;
}

void gpt_sampler_free(gpt_sampler *s) {
    if (!s) return;
    free(s->logits);
    free(s->cand);
    free(s->top);
    free(s);
}

// splitmix64: small, fast, and the same sequence on every platform
static uint64_t next_u64(gpt_sampler *s) {
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double next_unit(gpt_sampler *s) { return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0); }

static int by_logit_desc(const void *a, const void *b) {
    float x = ((const candidate *)a)->logit, y = ((const candidate *)b)->logit;
    if (x != y) return x < y ? 1 : -1;
    return ((const candidate *)a)->id - ((const candidate *)b)->id;  // ties: lower id first
}

// Keep the m largest of n candidates in c[0..m), sorted descending. A
// min-heap of size m when m is small, a full sort otherwise.
static void sift_down(candidate *h, int m, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < m && by_logit_desc(&h[l], &h[s]) > 0) s = l;
        if (r < m && by_logit_desc(&h[r], &h[s]) > 0) s = r;
        if (s == i) return;
        candidate t = h[i];
        h[i] = h[s], h[s] = t, i = s;
    }
}
static void select_top(candidate *c, int n, int m) {
    if (m >= n || m > 256) {
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
        return;
    }
    for (int i = m / 2 - 1; i >= 0; i--) sift_down(c, m, i);  // heap root = smallest kept
    for (int i = m; i < n; i++)
        if (by_logit_desc(&c[i], &c[0]) < 0) {
            c[0] = c[i];
            sift_down(c, m, 0);
        }
    qsort(c, (size_t)m, sizeof *c, by_logit_desc);
}

static void apply_penalty(gpt_sampler *s, const int32_t *hist, int n_hist, int V) {
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f || s->p.repeat_last_n == 0) return;
    int from = s->p.repeat_last_n < 0 || s->p.repeat_last_n > n_hist ? 0 : n_hist - s->p.repeat_last_n;
    // each distinct token once: mark by negating a sentinel pass
    for (int i = from; i < n_hist; i++) {
        int32_t id = hist[i];
        if (id < 0 || id >= V) continue;
        bool seen = false;
        for (int j = from; j < i && !seen; j++) seen = hist[j] == id;
        if (seen) continue;
        float *l = &s->logits[id];
        *l = *l > 0 ? *l / pen : *l * pen;
    }
}

int32_t gpt_sample(gpt_sampler *s, const float *logits, int V, const int32_t *hist, int n_hist) {
    if (V > s->cap) {
        free(s->logits);
        free(s->cand);
        free(s->top);
        s->logits = malloc((size_t)V * sizeof(float));
        s->cand = malloc((size_t)V * sizeof(candidate));
        s->top = malloc((size_t)V * sizeof(candidate));
        if (!s->logits || !s->cand || !s->top) {
            s->cap = s->n_top = 0;  // nothing for gpt_sampler_top to report
            return 0;
        }
        s->cap = V;
    }
    memcpy(s->logits, logits, (size_t)V * sizeof(float));
    apply_penalty(s, hist, n_hist, V);
    float temp = s->p.temp > 0 ? s->p.temp : 1.0f;
    float max = -INFINITY;
    for (int i = 0; i < V; i++) {
        max = s->logits[i] > max ? s->logits[i] : max;
        s->cand[i].id = i;
        s->cand[i].logit = s->logits[i];
    }
    int k = s->p.top_k > 0 && s->p.top_k < V ? s->p.top_k : V;
    int keep = k < 64 ? 64 : k;  // a few extra for --probs
    if (keep > V) keep = V;
    select_top(s->cand, V, keep);
    // weights relative to the top candidate: every rule below (top-p and
    // min-p on the kept set renormalised, the draw) is scale-free, so the
    // softmax's normaliser over the whole vocabulary, a V-long loop of exp,
    // is only computed when gpt_sampler_top reports probabilities
    for (int i = 0; i < keep; i++) {
        s->top[i].id = s->cand[i].id;
        s->top[i].logit = (float)exp((double)(s->cand[i].logit - max) / temp);
    }
    s->V = V;
    s->max = max;
    s->temp = temp;
    s->n_top = keep;
    if (s->p.temp <= 0) return s->cand[0].id;  // greedy
    // truncate: top-k, then top-p, then min-p, on probabilities renormalised over the kept set
    int n = k;
    double mass = 0.0;
    for (int i = 0; i < n; i++) mass += s->top[i].logit;
    if (s->p.top_p < 1.0f) {
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += s->top[i].logit / mass;
            if (cum >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (s->p.min_p > 0.0f) {
        float lim = s->p.min_p * s->top[0].logit;
        int m = 1;
        while (m < n && s->top[m].logit >= lim) m++;
        n = m;
    }
    double tot = 0.0;
    for (int i = 0; i < n; i++) tot += s->top[i].logit;
    double r = next_unit(s) * tot, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += s->top[i].logit;
        if (r < acc) return s->top[i].id;
    }
    return s->top[n - 1].id;
}

int gpt_sampler_top(const gpt_sampler *s, int k, int32_t *ids, float *probs) {
    int n = k < s->n_top ? k : s->n_top;
    if (n <= 0) return 0;
    double z = 0.0;  // the softmax normaliser over the whole (penalised) vocabulary
    for (int i = 0; i < s->V; i++) z += exp((double)(s->logits[i] - s->max) / s->temp);
    for (int i = 0; i < n; i++) {
        ids[i] = s->top[i].id;
        probs[i] = (float)(s->top[i].logit / z);
    }
    return n;
}
