/*
 * test_dot_kernel.c - the fused dot-product attention kernel
 * (src/attention/dot_kernel.c) against a naive reference.
 *
 * The reference materialises the whole (Tq, Tk) softmax in double
 * precision and computes the gradients analytically from it:
 *     dV = Pᵀ dO   dP = dO Vᵀ   dS = P ∘ (dP − rowsum(P ∘ dP))
 *     dQ = scale dS K   dK = scale dSᵀ Q
 * (rowsum(P ∘ dP) is the same D_i the kernel gets as dO_i · O_i, so this
 * also checks that identity). The shapes are chosen to break tiling code:
 * T = 1, Tq ≠ Tk, d = 1, dv ≠ d, several groups, sizes one either side of
 * the tile size, masks with fully hidden rows, causal with Tq < Tk and
 * Tq > Tk. Every case runs with 1 and 2 threads; two runs with the same
 * thread count must agree bit for bit. The gradient buffers start non-zero,
 * since the kernel must add into them. A case that keeps the weights also
 * gives them a random gradient dW, which the reference adds to dP (the
 * weights are P itself), so the path from the weights into dq and dk is
 * checked over the same tiles, masks and thread counts.
 */
#include "attention.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct kcase {
    int G, tq, tk, d, dv;
    float scale;
    int causal;
    int mask_rows; /* 0 = no keep-bytes; else G, G*tq, 1 or a divisor of G */
    int weights;
} kcase;

typedef struct outputs {
    float *out, *lse, *weights, *dq, *dk, *dv;
} outputs;

/* Naive reference in double: out, lse, weights, and gradients added to the
 * given initial value `g0`. */
static void reference(const kcase *c, const attn_mask_view *view, const float *q, const float *k,
                      const float *v, const float *dout, const float *dw, float g0,
                      outputs *ref) {
    int G = c->G, tq = c->tq, tk = c->tk, d = c->d, dv = c->dv;
    double *p = malloc(sizeof(double) * tk), *dp = malloc(sizeof(double) * tk);
    double *dq = calloc((size_t)G * tq * d, sizeof(double));
    double *dk = calloc((size_t)G * tk * d, sizeof(double));
    double *dvv = calloc((size_t)G * tk * dv, sizeof(double));
    for (int g = 0; g < G; g++)
        for (int i = 0; i < tq; i++) {
            size_t r = (size_t)g * tq + i;
            const float *qi = q + r * d;
            double mx = -INFINITY;
            for (int j = 0; j < tk; j++) {
                const float *kj = k + ((size_t)g * tk + j) * d;
                double s = 0;
                for (int x = 0; x < d; x++) s += (double)qi[x] * kj[x];
                p[j] = attn_is_kept(view, r, j) ? c->scale * s : -INFINITY;
                if (p[j] > mx) mx = p[j];
            }
            double sum = 0;
            for (int j = 0; j < tk; j++) {
                p[j] = mx == -INFINITY || p[j] == -INFINITY ? 0.0 : exp(p[j] - mx);
                sum += p[j];
            }
            for (int j = 0; j < tk; j++) p[j] = sum > 0 ? p[j] / sum : 0.0;
            ref->lse[r] = sum > 0 ? (float)(mx + log(sum)) : -INFINITY;
            for (int x = 0; x < dv; x++) {
                double o = 0;
                for (int j = 0; j < tk; j++) o += p[j] * v[((size_t)g * tk + j) * dv + x];
                ref->out[r * dv + x] = (float)o;
            }
            for (int j = 0; j < tk; j++) ref->weights[r * tk + j] = (float)p[j];
            /* backward */
            const float *doi = dout + r * dv;
            double D = 0;
            for (int j = 0; j < tk; j++) {
                const float *vj = v + ((size_t)g * tk + j) * dv;
                double s = 0;
                for (int x = 0; x < dv; x++) s += (double)doi[x] * vj[x];
                dp[j] = s + (dw ? dw[r * tk + j] : 0.0);
                D += p[j] * dp[j];
            }
            for (int j = 0; j < tk; j++) {
                double ds = p[j] * (dp[j] - D);
                size_t kr = (size_t)g * tk + j;
                for (int x = 0; x < d; x++) {
                    dq[r * d + x] += c->scale * ds * k[kr * d + x];
                    dk[kr * d + x] += c->scale * ds * qi[x];
                }
                for (int x = 0; x < dv; x++) dvv[kr * dv + x] += p[j] * doi[x];
            }
        }
    for (size_t x = 0; x < (size_t)G * tq * d; x++) ref->dq[x] = (float)(g0 + dq[x]);
    for (size_t x = 0; x < (size_t)G * tk * d; x++) ref->dk[x] = (float)(g0 + dk[x]);
    for (size_t x = 0; x < (size_t)G * tk * dv; x++) ref->dv[x] = (float)(g0 + dvv[x]);
    free(p), free(dp), free(dq), free(dk), free(dvv);
}

static void alloc_outputs(const kcase *c, outputs *o) {
    o->out = malloc(sizeof(float) * c->G * c->tq * c->dv);
    o->lse = malloc(sizeof(float) * c->G * c->tq);
    o->weights = malloc(sizeof(float) * c->G * c->tq * (c->tk ? c->tk : 1));
    o->dq = malloc(sizeof(float) * c->G * c->tq * c->d);
    o->dk = malloc(sizeof(float) * c->G * c->tk * c->d);
    o->dv = malloc(sizeof(float) * c->G * c->tk * c->dv);
}

static void free_outputs(outputs *o) {
    free(o->out), free(o->lse), free(o->weights), free(o->dq), free(o->dk), free(o->dv);
}

/* Run the kernel on one context: forward (with weights if the case asks),
 * then backward adding into gradients that start at g0. */
static void run_kernel(const kcase *c, int threads, const uint8_t *keep, const float *q,
                       const float *k, const float *v, const float *dout, const float *dw,
                       float g0, outputs *got) {
    at_ctx *ctx = test_new_ctx_with(7, threads);
    at_attn_mask m = {keep, c->mask_rows, c->causal};
    attn_mask_view view;
    CHECK_OK(ctx, attn_mask_prepare(ctx, "test", (keep || c->causal) ? &m : NULL,
                                    (size_t)c->G * c->tq, c->tq, c->tk, &view));
    size_t nq = (size_t)c->G * c->tq * c->d, nk = (size_t)c->G * c->tk * c->d,
           nv = (size_t)c->G * c->tk * c->dv;
    for (size_t x = 0; x < nq; x++) got->dq[x] = g0;
    for (size_t x = 0; x < nk; x++) got->dk[x] = g0;
    for (size_t x = 0; x < nv; x++) got->dv[x] = g0;
    CHECK_OK(ctx, attn_dot_forward(ctx, c->G, c->tq, c->tk, c->d, c->dv, c->scale, q, k, v, &view,
                                   got->out, got->lse, c->weights ? got->weights : NULL));
    CHECK_OK(ctx, attn_dot_backward(ctx, c->G, c->tq, c->tk, c->d, c->dv, c->scale, q, k, v,
                                    got->out, got->lse, dout, c->weights ? got->weights : NULL,
                                    c->weights ? dw : NULL, &view, got->dq, got->dk, got->dv));
    at_ctx_free(ctx);
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void run_case(const kcase *c, at_rng *rng) {
    int G = c->G, tq = c->tq, tk = c->tk, d = c->d, dv = c->dv;
    size_t nq = (size_t)G * tq * d, nk = (size_t)G * tk * d, nv = (size_t)G * tk * dv;
    size_t no = (size_t)G * tq * dv;
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk);
    float *v = malloc(sizeof(float) * nv), *dout = malloc(sizeof(float) * no);
    float range = c->scale >= 1.0f ? 1.5f : 2.0f; /* scale 1: large scores, the rescaling works */
    fill_uniform(q, nq, -range, range, rng);
    fill_uniform(k, nk, -range, range, rng);
    fill_uniform(v, nv, -1.0f, 1.0f, rng);
    fill_uniform(dout, no, -1.0f, 1.0f, rng);
    float *dw = NULL; /* the weights' gradient, when the case keeps them */
    if (c->weights) {
        dw = malloc(sizeof(float) * (size_t)G * tq * tk);
        fill_uniform(dw, (size_t)G * tq * tk, -1.0f, 1.0f, rng);
    }
    uint8_t *keep = NULL;
    if (c->mask_rows) {
        keep = malloc((size_t)c->mask_rows * tk);
        for (int r = 0; r < c->mask_rows; r++) {
            int kind = (int)at_rng_below(rng, 5);
            for (int j = 0; j < tk; j++) {
                uint8_t b = at_rng_below(rng, 4) != 0;          /* random holes */
                if (kind == 0) b = 0;                           /* a fully hidden row */
                if (kind == 1) b = j < 1 + (int)at_rng_below(rng, (uint32_t)tk); /* padding */
                keep[(size_t)r * tk + j] = b;
            }
        }
        keep[0] = 0; /* row 0 hidden entirely: always exercised */
        for (int j = 0; j < tk; j++) keep[j] = 0;
    }

    outputs ref, one, two, two_again;
    alloc_outputs(c, &ref), alloc_outputs(c, &one), alloc_outputs(c, &two),
        alloc_outputs(c, &two_again);
    attn_mask_view view;
    {
        at_ctx *ctx = test_new_ctx_with(7, 1);
        at_attn_mask m = {keep, c->mask_rows, c->causal};
        CHECK_OK(ctx, attn_mask_prepare(ctx, "test", (keep || c->causal) ? &m : NULL,
                                        (size_t)G * tq, tq, tk, &view));
        reference(c, &view, q, k, v, dout, dw, 0.25f, &ref);
        at_ctx_free(ctx);
    }
    run_kernel(c, 1, keep, q, k, v, dout, dw, 0.25f, &one);
    run_kernel(c, 2, keep, q, k, v, dout, dw, 0.25f, &two);
    run_kernel(c, 2, keep, q, k, v, dout, dw, 0.25f, &two_again);

    char what[160];
    const outputs *runs[2] = {&one, &two};
    for (int t = 0; t < 2; t++) {
        const outputs *g = runs[t];
        snprintf(what, sizeof what, "G%d tq%d tk%d d%d dv%d scale%g causal%d mask%d w%d threads%d",
                 G, tq, tk, d, dv, (double)c->scale, c->causal, c->mask_rows, c->weights, t + 1);
        CHECK(check_close(what, g->out, ref.out, no, 2e-5, 1e-4), "out: %s", what);
        /* lse: -inf exactly where the reference has it */
        int lse_ok = 1;
        for (size_t r = 0; r < (size_t)G * tq; r++) {
            float a = g->lse[r], b = ref.lse[r];
            if (isinf(b) ? a != b : !(fabsf(a - b) <= 2e-5f + 1e-5f * fabsf(b))) lse_ok = 0;
        }
        CHECK(lse_ok, "lse: %s", what);
        if (c->weights)
            CHECK(check_close(what, g->weights, ref.weights, (size_t)G * tq * tk, 1e-6, 1e-4),
                  "weights: %s", what);
        CHECK(check_close(what, g->dq, ref.dq, nq, 5e-5, 2e-4), "dq: %s", what);
        CHECK(check_close(what, g->dk, ref.dk, nk, 5e-5, 2e-4), "dk: %s", what);
        CHECK(check_close(what, g->dv, ref.dv, nv, 5e-5, 2e-4), "dv: %s", what);
        CHECK(test_all_finite(g->out, no) && test_all_finite(g->dq, nq) &&
                  test_all_finite(g->dk, nk) && test_all_finite(g->dv, nv),
              "NaN or inf in outputs or gradients: %s", what);
    }
    CHECK(same_bits(two.out, two_again.out, no) && same_bits(two.dq, two_again.dq, nq) &&
              same_bits(two.dk, two_again.dk, nk) && same_bits(two.dv, two_again.dv, nv),
          "two runs with 2 threads differ: %s", what);
    /* a fully hidden query row: output 0, lse -inf, zero gradient (dq stays g0) */
    if (keep && c->mask_rows == G * tq) {
        int ok = one.lse[0] == -INFINITY;
        for (int x = 0; x < dv; x++) ok &= one.out[x] == 0.0f;
        for (int x = 0; x < d; x++) ok &= one.dq[x] == 0.25f;
        CHECK(ok, "hidden row 0 not zero: %s", what);
    }
    free_outputs(&ref), free_outputs(&one), free_outputs(&two), free_outputs(&two_again);
    free(q), free(k), free(v), free(dout), free(keep), free(dw);
}

/* A causal tile is computed in 16 x 16 blocks, skipping the wholly hidden
 * ones (dot_kernel.c, "causal cuts"); the skipped probabilities are exact
 * zeros, so the result must equal, bit for bit, the same limit given as
 * keep-bytes, whose tiles are computed whole. */
static void cut_tiles_equal_whole(at_rng *rng) {
    const kcase shapes[] = {
        /* G  tq   tk   d   dv  scale  causal mask weights */
        {2, 200, 200, 64, 48, 0.125f, 1, 0, 1},
        {2, 100, 132, 24, 40, 0.2f, 1, 0, 0},
        {2, 132, 100, 24, 40, 0.2f, 1, 0, 1},
        {1, 75, 75, 8, 8, 0.3f, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        kcase cut = shapes[i], whole = shapes[i];
        int G = cut.G, tq = cut.tq, tk = cut.tk;
        size_t nq = (size_t)G * tq * cut.d, nk = (size_t)G * tk * cut.d;
        size_t nv = (size_t)G * tk * cut.dv, no = (size_t)G * tq * cut.dv;
        float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk);
        float *v = malloc(sizeof(float) * nv), *dout = malloc(sizeof(float) * no);
        float *dw = malloc(sizeof(float) * (size_t)G * tq * tk);
        fill_uniform(q, nq, -2.0f, 2.0f, rng), fill_uniform(k, nk, -2.0f, 2.0f, rng);
        fill_uniform(v, nv, -1.0f, 1.0f, rng), fill_uniform(dout, no, -1.0f, 1.0f, rng);
        fill_uniform(dw, (size_t)G * tq * tk, -1.0f, 1.0f, rng);
        /* the causal rule as keep-bytes: query i sees key j if j <= i + (tk - tq) */
        whole.causal = 0, whole.mask_rows = G * tq;
        uint8_t *keep = malloc((size_t)G * tq * tk);
        for (int r = 0; r < G * tq; r++)
            for (int j = 0; j < tk; j++) keep[(size_t)r * tk + j] = j <= r % tq + (tk - tq);
        outputs a, b;
        alloc_outputs(&cut, &a), alloc_outputs(&whole, &b);
        for (int threads = 1; threads <= 2; threads++) {
            run_kernel(&cut, threads, NULL, q, k, v, dout, dw, 0.25f, &a);
            run_kernel(&whole, threads, keep, q, k, v, dout, dw, 0.25f, &b);
            char what[120];
            snprintf(what, sizeof what, "causal cut vs whole: G%d tq%d tk%d threads%d", G, tq, tk,
                     threads);
            check_same_bits(what, a.out, b.out, no);
            check_same_bits(what, a.lse, b.lse, (size_t)G * tq);
            if (cut.weights) check_same_bits(what, a.weights, b.weights, (size_t)G * tq * tk);
            check_same_bits(what, a.dq, b.dq, nq);
            check_same_bits(what, a.dk, b.dk, nk);
            check_same_bits(what, a.dv, b.dv, nv);
        }
        free_outputs(&a), free_outputs(&b);
        free(q), free(k), free(v), free(dout), free(dw), free(keep);
    }
}

/* Gradients may be NULL one at a time; the others must not change. */
static void null_gradients(at_rng *rng) {
    kcase c = {3, 70, 65, 16, 24, 0.25f, 1, 0, 0};
    size_t nq = (size_t)c.G * c.tq * c.d, nk = (size_t)c.G * c.tk * c.d,
           nv = (size_t)c.G * c.tk * c.dv, no = (size_t)c.G * c.tq * c.dv;
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nk);
    float *v = malloc(sizeof(float) * nv), *dout = malloc(sizeof(float) * no);
    fill_uniform(q, nq, -1, 1, rng), fill_uniform(k, nk, -1, 1, rng);
    fill_uniform(v, nv, -1, 1, rng), fill_uniform(dout, no, -1, 1, rng);
    outputs full, part;
    alloc_outputs(&c, &full), alloc_outputs(&c, &part);
    run_kernel(&c, 2, NULL, q, k, v, dout, NULL, 0.0f, &full);
    for (int drop = 0; drop < 3; drop++) {
        at_ctx *ctx = test_new_ctx_with(7, 2);
        at_attn_mask m = {NULL, 0, 1};
        attn_mask_view view;
        CHECK_OK(ctx, attn_mask_prepare(ctx, "test", &m, (size_t)c.G * c.tq, c.tq, c.tk, &view));
        memset(part.dq, 0, sizeof(float) * nq), memset(part.dk, 0, sizeof(float) * nk);
        memset(part.dv, 0, sizeof(float) * nv);
        CHECK_OK(ctx, attn_dot_forward(ctx, c.G, c.tq, c.tk, c.d, c.dv, c.scale, q, k, v, &view,
                                       part.out, part.lse, NULL));
        CHECK_OK(ctx, attn_dot_backward(ctx, c.G, c.tq, c.tk, c.d, c.dv, c.scale, q, k, v, part.out,
                                        part.lse, dout, NULL, NULL, &view,
                                        drop == 0 ? NULL : part.dq,
                                        drop == 1 ? NULL : part.dk, drop == 2 ? NULL : part.dv));
        if (drop != 0) CHECK(check_close("dq", part.dq, full.dq, nq, 1e-6, 1e-5), "dq, drop %d", drop);
        if (drop != 1) CHECK(check_close("dk", part.dk, full.dk, nk, 1e-6, 1e-5), "dk, drop %d", drop);
        if (drop != 2) CHECK(check_close("dv", part.dv, full.dv, nv, 1e-6, 1e-5), "dv, drop %d", drop);
        at_ctx_free(ctx);
    }
    free_outputs(&full), free_outputs(&part);
    free(q), free(k), free(v), free(dout);
}

int main(void) {
    at_rng rng;
    at_rng_seed(&rng, 2024);
    const kcase cases[] = {
        /* G  tq   tk   d   dv  scale  causal mask weights */
        {1, 1, 1, 1, 1, 1.0f, 0, 0, 1},
        {1, 1, 1, 8, 8, 0.35f, 1, 0, 1},
        {2, 1, 17, 8, 5, 0.35f, 0, 0, 1},
        {2, 17, 1, 8, 5, 0.35f, 1, 0, 1},     /* Tq > Tk causal: rows that see nothing */
        {1, 64, 64, 64, 64, 0.125f, 0, 0, 1}, /* exactly one tile */
        {1, 63, 65, 64, 64, 0.125f, 0, 0, 0}, /* one either side of the tile */
        {2, 65, 63, 32, 48, 0.2f, 1, 0, 1},
        {3, 130, 200, 1, 1, 1.0f, 0, 0, 1},   /* d = 1 */
        {3, 130, 200, 1, 3, 1.0f, 1, 0, 0},
        {2, 100, 300, 24, 40, 0.2f, 1, 0, 1}, /* causal, Tq < Tk */
        {2, 300, 100, 24, 40, 0.2f, 1, 0, 1}, /* causal, Tq > Tk */
        {2, 100, 132, 24, 40, 0.2f, 1, 0, 1}, /* causal cut tiles with the limit 32 off the diagonal */
        {2, 132, 100, 24, 40, 0.2f, 1, 0, 1}, /* ... and -32 */
        {2, 200, 200, 64, 64, 0.125f, 1, 2, 1}, /* causal cut tiles, padding, weights */
        {4, 129, 129, 64, 64, 0.125f, 1, 0, 0},
        {4, 77, 91, 16, 80, 0.25f, 0, 4, 1},       /* one keep row per group */
        {4, 77, 91, 16, 80, 0.25f, 1, 2, 1},       /* padding over 2 heads per entry */
        {4, 77, 91, 16, 80, 0.25f, 0, 1, 0},       /* one row for everything */
        {3, 70, 130, 20, 17, 0.25f, 0, 3 * 70, 1}, /* full mask, hidden rows */
        {3, 70, 130, 20, 17, 0.25f, 1, 3 * 70, 1}, /* full mask and causal */
        {2, 150, 150, 64, 64, 1.0f, 1, 2 * 150, 0},
        {1, 257, 190, 100, 33, 0.1f, 0, 0, 0},     /* d > NR columns */
        {5, 31, 33, 72, 130, 0.12f, 0, 5, 1},      /* dv > 64: two column blocks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], &rng);
    cut_tiles_equal_whole(&rng);
    /* random shapes */
    for (int t = 0; t < 25; t++) {
        kcase c;
        c.G = 1 + (int)at_rng_below(&rng, 3);
        c.tq = 1 + (int)at_rng_below(&rng, 150);
        c.tk = 1 + (int)at_rng_below(&rng, 150);
        c.d = 1 + (int)at_rng_below(&rng, 70);
        c.dv = 1 + (int)at_rng_below(&rng, 70);
        c.scale = 1.0f / sqrtf((float)c.d);
        c.causal = (int)at_rng_below(&rng, 2);
        int mk = (int)at_rng_below(&rng, 3);
        c.mask_rows = mk == 0 ? 0 : mk == 1 ? c.G : c.G * c.tq;
        c.weights = (int)at_rng_below(&rng, 2);
        run_case(&c, &rng);
    }
    null_gradients(&rng);
    return test_finish("dot_kernel");
}
