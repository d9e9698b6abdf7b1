// test_sampler.c: gpt_sample against a reference written the plain way, as
// gpt.h documents the sampler: penalise, sort every candidate (largest
// logit first, ties by lower id), weights exp((logit - max) / temp), keep
// top-k, then top-p and min-p over the kept weights, and draw from what is
// left with the sampler's RNG (splitmix64 from seed ^ 0x9E3779B97F4A7C15,
// one draw of 53 bits per sampled token). The sampler only sorts the few
// candidates it needs (a heap for top-k, a window of e^-40 below the best
// with top-k off) and must draw the very same ids, over logits shaped to
// hit its edges: GPT-2-sized vocabularies, exact ties, a best logit far
// above a flat tail, vocabularies smaller than the candidates it keeps,
// low and high temperatures, top-k below and above its heap's limit, and a
// repetition penalty. gpt_sampler_top must report the reference's top ids
// and probabilities. Logits with NaN or infinities still give an id in range.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"

#include "check.h"

typedef struct {
    int32_t id;
    float logit;
} cand;

static int desc(const void *a, const void *b) {
    float x = ((const cand *)a)->logit, y = ((const cand *)b)->logit;
    if (x != y) return x < y ? 1 : -1;
    return ((const cand *)a)->id - ((const cand *)b)->id;
}

typedef struct {
    gpt_sampler_params p;
    uint64_t rng;
    cand *c;      // (V) sorted candidates
    double *w;    // (V) their weights
    float *l;     // (V) penalised logits
    float max, temp;
    int V;
} ref_sampler;

static double ref_unit(ref_sampler *r) {
    uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

// Penalise and sort: once per logits and history (every draw of a test
// sees the same ones), as sorting GPT-2's 50257 candidates takes ms.
static void ref_sort(ref_sampler *r, const float *logits, int V, const int32_t *hist, int n_hist) {
    const gpt_sampler_params *p = &r->p;
    r->V = V;
    memcpy(r->l, logits, (size_t)V * sizeof(float));
    if (p->repeat_penalty != 1.0f && p->repeat_last_n != 0) {
        int from = p->repeat_last_n < 0 || p->repeat_last_n > n_hist ? 0 : n_hist - p->repeat_last_n;
        for (int i = from; i < n_hist; i++) {
            bool seen = false;
            for (int j = from; j < i; j++) seen = seen || hist[j] == hist[i];
            if (seen || hist[i] < 0 || hist[i] >= V) continue;
            float *l = &r->l[hist[i]];
            *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        }
    }
    for (int i = 0; i < V; i++) r->c[i].id = i, r->c[i].logit = r->l[i];
    qsort(r->c, (size_t)V, sizeof *r->c, desc);
}

// The sorted candidates' weights at the sampler's temperature (1 when greedy).
static void ref_weights(ref_sampler *r) {
    r->temp = r->p.temp > 0 ? r->p.temp : 1.0f;
    r->max = r->c[0].logit;
    for (int i = 0; i < r->V; i++) r->w[i] = (float)exp((double)(r->c[i].logit - r->max) / r->temp);
}

// One draw: top-k, top-p, min-p, then the RNG.
static int32_t ref_sample(ref_sampler *r) {
    const gpt_sampler_params *p = &r->p;
    int V = r->V;
    if (p->temp <= 0) return r->c[0].id;
    int n = p->top_k > 0 && p->top_k < V ? p->top_k : V;
    double mass = 0;
    for (int i = 0; i < n; i++) mass += r->w[i];
    if (p->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += r->w[i] / mass;
            if (cum >= p->top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        int m = 1;
        while (m < n && r->w[m] >= (float)(p->min_p * (float)r->w[0])) m++;
        n = m;
    }
    double tot = 0;
    for (int i = 0; i < n; i++) tot += r->w[i];
    double u = ref_unit(r) * tot, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += r->w[i];
        if (u < acc) return r->c[i].id;
    }
    return r->c[n - 1].id;
}

// ---- logits shaped to reach every path -----------------------------------------------

static uint64_t lcg = 12345;
static double unit(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(unit() + 1e-300)) * cos(6.283185307179586 * unit()); }

enum { GAUSS, TIES, PEAK, WIDE, N_SHAPES };
static const char *shape_name[N_SHAPES] = {"gaussian", "ties", "peak over a flat tail", "wide"};

static void make_logits(float *l, int V, int shape) {
    for (int i = 0; i < V; i++) {
        switch (shape) {
        case GAUSS: l[i] = (float)(-40 + 3 * gauss()); break;
        case TIES: l[i] = (float)(int)(4 * unit()) * 0.5f; break;  // four values, thousands of ties each
        case PEAK: l[i] = (float)(-100 + 0.01 * gauss()); break;
        case WIDE: l[i] = (float)(-80 + 25 * gauss()); break;
        }
    }
    if (shape == PEAK) {
        for (int j = 0; j < 5; j++) l[(j * 7919) % V] = (float)(-10 - j);  // a few far above the rest
        l[V / 2] = 0.0f, l[V / 3] = -0.0f;                                 // both zeros, equal
    }
}

// sort: the reference's sorted candidates in c and penalised logits in l
// are not yet those of these logits, history and penalty
static void compare(const char *what, const float *logits, int V, const gpt_sampler_params *p, const int32_t *hist,
                    int n_hist, cand *c, double *w, float *l, bool sort) {
    ref_sampler r = {*p, p->seed ^ 0x9E3779B97F4A7C15ull, c, w, l, 0, 0, 0};
    if (sort) ref_sort(&r, logits, V, hist, n_hist);
    r.V = V;
    ref_weights(&r);
    gpt_sampler *s = gpt_sampler_new(p);
    int bad = 0;
    int draws = V > 4096 ? 12 : 40;  // GPT-2's vocabulary: fewer, each costs a pass over it
    for (int draw = 0; draw < draws && !bad; draw++) {
        int32_t a = gpt_sample(s, logits, V, hist, n_hist), b = ref_sample(&r);
        if (a != b) {
            bad = 1;
            CHECK(0, "%s: draw %d: sampler %d, reference %d (V %d temp %g top_k %d top_p %g min_p %g)", what, draw, a,
                  b, V, p->temp, p->top_k, p->top_p, p->min_p);
        }
    }
    int32_t ids[100];
    float probs[100];
    int k = V < 100 ? V : 100, n = gpt_sampler_top(s, k, ids, probs);
    CHECK(n == k, "%s: gpt_sampler_top reports %d of %d", what, n, k);
    double z = 0;
    for (int i = 0; i < V; i++) z += exp((double)(r.l[i] - r.max) / r.temp);
    for (int i = 0; i < n && !bad; i++) {
        double want = w[i] / z;
        if (ids[i] != c[i].id || fabs(probs[i] - want) > 1e-6 * want + 1e-30) {
            bad = 1;
            CHECK(0, "%s: top %d: id %d p %g, reference id %d p %g", what, i, ids[i], probs[i], c[i].id, want);
        }
    }
    gpt_sampler_free(s);
}

int main(void) {
    const int vocab[] = {50257, 2048, 64};  // GPT-2's, the shipped model's, fewer than the sampler keeps
    const float temps[] = {0.0f, 0.05f, 0.8f, 1.5f};
    const int top_ks[] = {0, 1, 40, 300};
    const float top_ps[] = {1.0f, 0.95f};
    const float min_ps[] = {0.0f, 0.05f};
    int maxV = vocab[0];
    float *logits = malloc((size_t)maxV * sizeof(float)), *l = malloc((size_t)maxV * sizeof(float));
    cand *c = malloc((size_t)maxV * sizeof(cand));
    double *w = malloc((size_t)maxV * sizeof(double));
    int32_t hist[32];
    for (int vi = 0; vi < 3; vi++)
        for (int shape = 0; shape < N_SHAPES; shape++) {
            int V = vocab[vi];
            make_logits(logits, V, shape);
            for (int i = 0; i < 32; i++) hist[i] = (int32_t)((i * 2654435761u) % (unsigned)V);
            for (int pen = 0; pen < 2; pen++) {  // then penalised copies of the logits
                bool sort = true;
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++)
                        for (int pp = 0; pp < 2; pp++)
                            for (int mp = 0; mp < 2; mp++) {
                                gpt_sampler_params p = {.temp = temps[a], .top_k = top_ks[b], .top_p = top_ps[pp],
                                                        .min_p = min_ps[mp], .repeat_penalty = pen ? 1.3f : 1.0f,
                                                        .repeat_last_n = 64,
                                                        .seed = (uint64_t)(a * 131 + b * 17 + pp * 5 + mp)};
                                char what[96];
                                snprintf(what, sizeof what, "%s, V %d%s", shape_name[shape], V, pen ? ", penalty" : "");
                                compare(what, logits, V, &p, hist, 32, c, w, l, sort);
                                sort = false;
                            }
            }
        }
    // logits a broken model can give (NaN, infinities): any id in range, no crash
    const float bad_values[] = {NAN, INFINITY, -INFINITY};
    for (int vi = 0; vi < 3; vi++)
        for (int bv = 0; bv < 3; bv++)
            for (int where = 0; where < 3; where++) {  // the first logit, one in the middle, all of them
                int V = vocab[vi];
                make_logits(logits, V, GAUSS);
                if (where == 2)
                    for (int i = 0; i < V; i++) logits[i] = bad_values[bv];
                else logits[where == 0 ? 0 : V / 2] = bad_values[bv];
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++) {
                        gpt_sampler_params p = {.temp = temps[a], .top_k = top_ks[b], .top_p = 0.95f, .min_p = 0.05f,
                                                .repeat_penalty = 1.3f, .repeat_last_n = 64, .seed = 5};
                        gpt_sampler *s = gpt_sampler_new(&p);
                        int32_t id = gpt_sample(s, logits, V, hist, 32);
                        CHECK(id >= 0 && id < V, "V %d, logit %g at %d: id %d out of range", V, bad_values[bv], where, id);
                        gpt_sampler_free(s);
                    }
            }
    free(logits), free(l), free(c), free(w);
    printf("test_sampler: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
