// sampler.c: turning logits into the next token. A seeded RNG, repetition
// penalty, temperature, top-k, top-p and min-p, in llama.cpp's order
// (penalty, top-k, temperature, top-p, min-p), and greedy argmax at
// temperature 0. Only the top candidates are sorted: a full sort of a 50k
// vocabulary per token would cost more than a small model's forward pass.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"

#define KEEP_MIN 100  // candidates kept at least: gpt --probs shows up to 100

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

// The m best of logits l[0..n) into c[0..m), sorted descending (ties: the
// lower id first), by a min-heap of size m: a candidate enters only if its
// logit beats the heap's smallest, which after the first few thousand ids
// is rare, so the scan is one compare per id. Equal logits never enter:
// every id already kept is lower.
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
static int heap_top(candidate *c, const float *l, int n, int m) {
    for (int i = 0; i < m; i++) c[i].id = i, c[i].logit = l[i];
    for (int i = m / 2 - 1; i >= 0; i--) sift_down(c, m, i);  // heap root = smallest kept
    float least = c[0].logit;
    for (int i = m; i < n; i++)
        if (l[i] > least) {
            c[0].id = i, c[0].logit = l[i];
            sift_down(c, m, 0);
            least = c[0].logit;
        }
    qsort(c, (size_t)m, sizeof *c, by_logit_desc);
    return m;
}

// Sorts c[0..n) as by_logit_desc does (largest logit first, equal logits
// in the order given, which is by id), by radix on the logit's bits: four
// stable passes of one byte over a key that orders like the floats, made
// descending by its complement (-0 is taken as +0, which compare equal).
// qsort with a comparator took 7 ms for GPT-2's 50257 candidates; this,
// about 0.2 ms. tmp holds n candidates.
static uint32_t desc_key(float f) {
    uint32_t u;
    if (f == 0.0f) f = 0.0f;
    memcpy(&u, &f, sizeof u);
    u ^= (u >> 31) ? 0xFFFFFFFFu : 0x80000000u;  // ascending like the floats
    return ~u;
}
static void sort_desc(candidate *c, candidate *tmp, int n) {
    candidate *src = c, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        int count[256] = {0};
        for (int i = 0; i < n; i++) count[desc_key(src[i].logit) >> shift & 255]++;
        int pos = 0;
        for (int d = 0; d < 256; d++) {
            int k = count[d];
            count[d] = pos;
            pos += k;
        }
        for (int i = 0; i < n; i++) dst[count[desc_key(src[i].logit) >> shift & 255]++] = src[i];
        candidate *t = src;
        src = dst, dst = t;
    }
    // four passes: the result is back in c
}

// Every candidate that can matter, sorted: those whose weight relative to
// the best, exp((logit - max) / temp), is at least e^-40. The others change
// nothing: in the descending sums below (the mass, top-p's running sum, the
// draw's) each comes after the best one's weight of 1, and a term under
// 4.3e-18 is below half a unit in the last place of a double of 1 or more,
// so adding it leaves the sum as it was; top-p (a float under 1) stops
// before them, and the draw never reaches them. Fewer than KEEP_MIN pass
// only at a low temperature: then the KEEP_MIN best, for gpt_sampler_top.
static int select_all(candidate *c, candidate *tmp, const float *l, int n, float temp) {
    float max = l[0];
    for (int i = 1; i < n; i++) max = l[i] > max ? l[i] : max;
    int kept = 0;
    for (int i = 0; i < n; i++)
        if ((double)(l[i] - max) / temp >= -40.0) c[kept].id = i, c[kept].logit = l[i], kept++;
    if (kept < KEEP_MIN && KEEP_MIN < n) return heap_top(c, l, n, KEEP_MIN);
    if (kept < KEEP_MIN)
        for (kept = 0; kept < n; kept++) c[kept].id = kept, c[kept].logit = l[kept];
    sort_desc(c, tmp, kept);
    return kept;
}

// The best candidates, sorted, at least the m best or all that can matter;
// returns how many. Only top-k's few are selected by the heap: with top-k
// off, top-p needs every weight that adds to the mass. Sorting all 50257 of
// GPT-2's with qsort took 7 ms a token (124M Q4_0 decodes one in 1.5 ms).
static int select_top(candidate *c, candidate *tmp, const float *l, int n, int m, float temp) {
    if (m < n && m <= 256) return heap_top(c, l, n, m);
    return select_all(c, tmp, l, n, temp);
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
    int k = s->p.top_k > 0 && s->p.top_k < V ? s->p.top_k : V;
    // greedy needs only the best; gpt_sampler_top may report up to KEEP_MIN
    int keep = s->p.temp <= 0 || k < KEEP_MIN ? KEEP_MIN : k;
    if (keep > V) keep = V;
    keep = select_top(s->cand, s->top, s->logits, V, keep, temp);  // top: scratch until filled below
    float max = s->cand[0].logit;
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
    int n = k < keep ? k : keep;
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
