/*
 * test_attention_dot_families.c - the families built on the fused dot
 * kernel: dot / scaled dot / bilinear (7), self-attention and structured
 * self-attention (8), multi-head attention (10).
 *
 * What is checked:
 *   - every family's gradient, by finite differences (gc_check), with
 *     respect to every input and every parameter, over shapes with T = 1,
 *     Tq != Tk, H = 1 and H > 1, and masks: none, padding with one fully
 *     masked batch row, full masks with an empty and a full row, causal
 *     (with Tq > Tk, so early queries see no key at all);
 *   - forward values against naive references written here in double:
 *     dot attention (context and weights) and multi-head attention (output
 *     and per-head weights), and the structured penalty's value;
 *   - fully masked rows: zero weights and context, never NaN;
 *   - weights requested or NULL: the same outputs;
 *   - clear errors on bad arguments, and no tape at all in inference mode.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static gc_input gc_tensor(const char *name, int ndim, const int *shape, float *values) {
    gc_input in = {name, ndim, {1, 1, 1, 1}, values};
    for (int i = 0; i < ndim; i++)
        in.shape[i] = shape[i];
    return in;
}

/* ---------------------------------------------------------------- masks */

/* The mask rule, written out again independently of the library: is key j
 * kept for score row r (query i = r % tq) of `rows` score rows? */
static int kept(const test_mask *m, int rows, int tq, int tk, int r, int j) {
    if (m->kind == MASK_NONE) return 1;
    return test_mask_keeps(&m->mask, rows / tq, r / tq, r % tq, j, tq, tk);
}

/* ------------------------------------------------- naive dot attention */

/* G groups: context (G, tq, dv) and weights (G, tq, tk) in double from
 * q (G, tq, d), k (G, tk, d), v (G, tk, dv), written from the definition. */
static void naive_attention(int G, int tq, int tk, int d, int dv, double scale, const float *q,
                            const float *k, const float *v, const test_mask *m, double *context,
                            double *weights) {
    double *s = malloc((size_t)tk * sizeof(double));
    for (int g = 0; g < G; g++)
        for (int i = 0; i < tq; i++) {
            int r = g * tq + i;
            double best = -INFINITY, total = 0.0;
            for (int j = 0; j < tk; j++) {
                double dot = 0.0;
                for (int c = 0; c < d; c++)
                    dot +=
                        (double)q[((size_t)g * tq + i) * d + c] * k[((size_t)g * tk + j) * d + c];
                s[j] = kept(m, G * tq, tq, tk, r, j) ? scale * dot : -INFINITY;
                if (s[j] > best) best = s[j];
            }
            for (int j = 0; j < tk; j++) {
                s[j] = isfinite(s[j]) ? exp(s[j] - best) : 0.0;
                total += s[j];
            }
            for (int c = 0; c < dv; c++)
                context[(size_t)r * dv + c] = 0.0;
            for (int j = 0; j < tk; j++) {
                double a = total > 0 ? s[j] / total : 0.0;
                weights[(size_t)r * tk + j] = a;
                for (int c = 0; c < dv; c++)
                    context[(size_t)r * dv + c] += a * v[((size_t)g * tk + j) * dv + c];
            }
        }
    free(s);
}

/* ------------------------------------------------------ dot attention */

typedef struct dot_case {
    const char *name;
    int B, H, tq, tk, d, dv; /* H = 0: 3-D tensors (B, T, _) */
    int mask_kind;
    float scale;
} dot_case;

typedef struct dot_run {
    const dot_case *c;
    test_mask mask;
    int want_weights;
} dot_run;

static int dot_shape(const dot_case *c, int rows, int cols, int *shape) {
    if (c->H == 0) {
        shape[0] = c->B, shape[1] = rows, shape[2] = cols;
        return 3;
    }
    shape[0] = c->B, shape[1] = c->H, shape[2] = rows, shape[3] = cols;
    return 4;
}

static at_status build_dot(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    dot_run *run = user;
    at_tensor *w = NULL;
    return at_dot_attention(ctx, in[0], in[1], in[2], run->c->scale, mask_of(&run->mask), y,
                            run->want_weights ? &w : NULL);
}

/* Forward against the naive reference; fully masked rows exactly zero. */
/* Backward from a seed of ones: every gradient finite; a query that sees
 * no key gets dq = 0, and a key that no query sees gets dk = dv = 0. */
static void check_masked_gradients(at_ctx *ctx, const dot_case *c, const test_mask *m,
                                   at_tensor *out, at_tensor *q, at_tensor *k, at_tensor *v) {
    float *ones = malloc(out->size * sizeof(float));
    for (size_t i = 0; i < out->size; i++) ones[i] = 1.0f;
    CHECK_OK(ctx, at_backward_seeded(ctx, out, ones));
    free(ones);
    CHECK(test_all_finite(q->grad, q->size) && test_all_finite(k->grad, k->size) &&
              test_all_finite(v->grad, v->size),
          "%s: gradients finite", c->name);
    int G = c->B * (c->H ? c->H : 1), rows = G * c->tq;
    for (int g = 0; g < G; g++)
        for (int j = 0; j < c->tk; j++) {
            int seen = 0;
            for (int i = 0; i < c->tq; i++) seen |= kept(m, rows, c->tq, c->tk, g * c->tq + i, j);
            for (int e = 0; !seen && e < c->d; e++)
                CHECK(k->grad[((size_t)g * c->tk + j) * c->d + e] == 0.0f,
                      "%s: dk of unseen key %d of group %d", c->name, j, g);
            for (int e = 0; !seen && e < c->dv; e++)
                CHECK(v->grad[((size_t)g * c->tk + j) * c->dv + e] == 0.0f,
                      "%s: dv of unseen key %d of group %d", c->name, j, g);
        }
    for (int r = 0; r < rows; r++) {
        int any = 0;
        for (int j = 0; j < c->tk; j++) any |= kept(m, rows, c->tq, c->tk, r, j);
        for (int e = 0; !any && e < c->d; e++)
            CHECK(q->grad[(size_t)r * c->d + e] == 0.0f, "%s: dq of masked row %d", c->name, r);
    }
}

static void check_dot_forward(const dot_case *c, dot_run *run, float *q, float *k, float *v) {
    at_ctx *ctx = test_new_ctx();
    int G = c->B * (c->H ? c->H : 1), qs[4], ks[4], vs[4];
    int n = dot_shape(c, c->tq, c->d, qs);
    dot_shape(c, c->tk, c->d, ks);
    dot_shape(c, c->tk, c->dv, vs);
    at_tensor *tq, *tk, *tv, *ctx_out = NULL, *w = NULL, *ctx_plain = NULL;
    at_tensor_from(ctx, &tq, n, qs, q);
    at_tensor_from(ctx, &tk, n, ks, k);
    at_tensor_from(ctx, &tv, n, vs, v);
    at_tensor_require_grad(ctx, tq);
    at_tensor_require_grad(ctx, tk);
    at_tensor_require_grad(ctx, tv);
    CHECK_OK(ctx, at_dot_attention(ctx, tq, tk, tv, c->scale, mask_of(&run->mask), &ctx_out, &w));
    CHECK_OK(ctx,
             at_dot_attention(ctx, tq, tk, tv, c->scale, mask_of(&run->mask), &ctx_plain, NULL));
    if (!ctx_out || !w || !ctx_plain) {
        at_ctx_free(ctx);
        return;
    }
    size_t nc = (size_t)G * c->tq * c->dv, nw = (size_t)G * c->tq * c->tk;
    double *want_c = malloc(nc * sizeof(double)), *want_w = malloc(nw * sizeof(double));
    double scale = c->scale ? c->scale : 1.0 / sqrt((double)c->d);
    naive_attention(G, c->tq, c->tk, c->d, c->dv, scale, q, k, v, &run->mask, want_c, want_w);
    char what[128];
    snprintf(what, sizeof what, "%s context", c->name);
    check_close_to_double(what, ctx_out->data, want_c, nc, 1e-5, 1e-4);
    snprintf(what, sizeof what, "%s weights", c->name);
    check_close_to_double(what, w->data, want_w, nw, 1e-6, 1e-4);
    snprintf(what, sizeof what, "%s context without weights", c->name);
    check_close(what, ctx_plain->data, ctx_out->data, nc, 0.0, 0.0);
    CHECK(test_all_finite(ctx_out->data, nc) && test_all_finite(w->data, nw), "%s: NaN or inf",
          c->name);
    for (int r = 0; r < G * c->tq; r++) {
        int any = 0;
        for (int j = 0; j < c->tk; j++)
            any |= kept(&run->mask, G * c->tq, c->tq, c->tk, r, j);
        for (int e = 0; !any && e < c->dv; e++)
            CHECK(ctx_out->data[(size_t)r * c->dv + e] == 0.0f, "%s: masked row %d context",
                  c->name, r);
    }
    check_masked_gradients(ctx, c, &run->mask, ctx_out, tq, tk, tv);
    free(want_c);
    free(want_w);
    at_ctx_free(ctx);
}

static void test_dot_attention(void) {
    static const dot_case cases[] = {
        {"dot 3-D", 2, 0, 3, 4, 5, 3, MASK_NONE, 0.0f},
        {"dot T=1", 2, 0, 1, 1, 3, 2, MASK_NONE, 0.0f},
        {"dot plain scale 1", 1, 0, 2, 5, 4, 4, MASK_NONE, 1.0f},
        {"dot 4-D H=1 padding", 3, 1, 4, 3, 4, 2, MASK_PADDING, 0.0f},
        {"dot 4-D H=3 padding", 3, 3, 2, 5, 4, 3, MASK_PADDING, 0.0f},
        {"dot 4-D H=2 full", 2, 2, 3, 4, 3, 5, MASK_FULL, 0.0f},
        {"dot causal Tq<Tk", 2, 2, 3, 5, 4, 3, MASK_CAUSAL, 0.0f},
        {"dot causal Tq>Tk", 2, 0, 5, 3, 4, 3, MASK_CAUSAL, 0.0f},
        {"dot causal square", 1, 2, 4, 4, 2, 2, MASK_CAUSAL, 0.5f},
        {"dot padding+causal", 3, 2, 4, 4, 3, 3, MASK_PADDING_CAUSAL, 0.0f},
        {"dot 3-D full Tq=1", 3, 0, 1, 6, 3, 2, MASK_FULL, 0.0f},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const dot_case *c = &cases[n];
        at_rng rng;
        at_rng_seed(&rng, 100 + n);
        dot_run run = {.c = c, .want_weights = (int)(n % 2)};
        int G = c->B * (c->H ? c->H : 1);
        make_mask(&run.mask, c->mask_kind, c->B, G * c->tq, c->tk, &rng);
        int qs[4], ks[4], vs[4];
        int nd = dot_shape(c, c->tq, c->d, qs);
        dot_shape(c, c->tk, c->d, ks);
        dot_shape(c, c->tk, c->dv, vs);
        float *q = test_random_floats(ati_shape_size(nd, qs), -1.0f, 1.0f, &rng);
        float *k = test_random_floats(ati_shape_size(nd, ks), -1.0f, 1.0f, &rng);
        float *v = test_random_floats(ati_shape_size(nd, vs), -1.0f, 1.0f, &rng);
        check_dot_forward(c, &run, q, k, v);
        gc_input inputs[3] = {gc_tensor("q", nd, qs, q), gc_tensor("k", nd, ks, k),
                              gc_tensor("v", nd, vs, v)};
        char name[160];
        snprintf(name, sizeof name, "%s (mask %s)", c->name, mask_names[c->mask_kind]);
        gc_check(name, 3, inputs, NULL, build_dot, &run, NULL);
        free(q);
        free(k);
        free(v);
    }
}

/* Shapes past one kernel tile, ragged edges: the gradient by finite
 * differences, values against the naive reference, and the same results
 * with 1 and 4 threads. */
static at_status build_dot_threads(at_ctx *ctx, const dot_case *c, const test_mask *m,
                                   float *const data[3], at_tensor **grads_of) {
    int qs[4], ks[4], vs[4];
    int nd = dot_shape(c, c->tq, c->d, qs);
    dot_shape(c, c->tk, c->d, ks);
    dot_shape(c, c->tk, c->dv, vs);
    const int *shapes[3] = {qs, ks, vs};
    for (int i = 0; i < 3; i++) {
        AT_TRY(at_tensor_from(ctx, &grads_of[i], nd, shapes[i], data[i]));
        AT_TRY(at_tensor_require_grad(ctx, grads_of[i]));
    }
    at_tensor *out;
    AT_TRY(at_dot_attention(ctx, grads_of[0], grads_of[1], grads_of[2], c->scale, mask_of(m), &out,
                            NULL));
    grads_of[3] = out;
    float *seed = malloc(out->size * sizeof(float));
    for (size_t i = 0; i < out->size; i++)
        seed[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    at_status s = at_backward_seeded(ctx, out, seed);
    free(seed);
    return s;
}

static void test_dot_large(void) {
    static const dot_case cases[] = {
        {"dot large causal Tq<Tk", 2, 2, 70, 93, 16, 12, MASK_CAUSAL, 0.0f},
        {"dot large padding", 3, 0, 41, 77, 9, 5, MASK_PADDING, 0.0f},
        {"dot large full Tq>Tk", 1, 2, 66, 35, 8, 8, MASK_FULL, 0.0f},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const dot_case *c = &cases[n];
        at_rng rng;
        at_rng_seed(&rng, 300 + n);
        dot_run run = {.c = c, .want_weights = 1};
        int G = c->B * (c->H ? c->H : 1);
        make_mask(&run.mask, c->mask_kind, c->B, G * c->tq, c->tk, &rng);
        size_t nq = (size_t)G * c->tq * c->d, nk = (size_t)G * c->tk * c->d;
        size_t nv = (size_t)G * c->tk * c->dv;
        float *data[3] = {test_random_floats(nq, -1.0f, 1.0f, &rng),
                          test_random_floats(nk, -1.0f, 1.0f, &rng),
                          test_random_floats(nv, -1.0f, 1.0f, &rng)};
        for (size_t i = 0; i < nq; i++)
            data[0][i] *= 3.0f; /* peaked rows: the online max moves */
        check_dot_forward(c, &run, data[0], data[1], data[2]);
        int qs[4], ks[4], vs[4];
        int nd = dot_shape(c, c->tq, c->d, qs);
        dot_shape(c, c->tk, c->d, ks);
        dot_shape(c, c->tk, c->dv, vs);
        gc_input inputs[3] = {gc_tensor("q", nd, qs, data[0]), gc_tensor("k", nd, ks, data[1]),
                              gc_tensor("v", nd, vs, data[2])};
        gc_check(c->name, 3, inputs, NULL, build_dot, &run, NULL);

        at_ctx_options one = {0, 1, 0}, four = {0, 4, 0};
        at_ctx *ctx1 = NULL, *ctx4 = NULL;
        at_ctx_create(&ctx1, &one);
        at_ctx_create(&ctx4, &four);
        at_tensor *t1[4] = {0}, *t4[4] = {0};
        CHECK_OK(ctx1, build_dot_threads(ctx1, c, &run.mask, data, t1));
        CHECK_OK(ctx4, build_dot_threads(ctx4, c, &run.mask, data, t4));
        const char *what[4] = {"dq", "dk", "dv", "context"};
        for (int i = 0; i < 4 && t1[3] && t4[3]; i++) {
            char label[128];
            snprintf(label, sizeof label, "%s: %s, 4 threads vs 1", c->name, what[i]);
            const float *a = i < 3 ? t4[i]->grad : t4[i]->data,
                        *b = i < 3 ? t1[i]->grad : t1[i]->data;
            check_close(label, a, b, t1[i]->size, 1e-6, 1e-5);
        }
        at_ctx_free(ctx1);
        at_ctx_free(ctx4);
        for (int i = 0; i < 3; i++)
            free(data[i]);
    }
}

/* The same tensor as q, k and v: its gradient collects all three paths. */
static at_status build_dot_same(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    return at_dot_attention(ctx, in[0], in[0], in[0], 0.0f, user, y, NULL);
}

static void test_dot_shared_input(void) {
    at_rng rng;
    at_rng_seed(&rng, 7);
    int shape[3] = {2, 4, 3};
    float *x = test_random_floats(24, -1.0f, 1.0f, &rng);
    gc_input input = gc_tensor("x", 3, shape, x);
    at_attn_mask causal = {NULL, 0, 1};
    gc_check("dot attention q = k = v", 1, &input, NULL, build_dot_same, NULL, NULL);
    gc_check("dot attention q = k = v, causal", 1, &input, NULL, build_dot_same, &causal, NULL);
    free(x);
}

/* ----------------------------------------------------------- bilinear */

typedef struct bilinear_run {
    at_bilinear layer;
    test_mask mask;
} bilinear_run;

static at_status build_bilinear(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    bilinear_run *run = user;
    at_tensor *keys_proj, *w;
    AT_TRY(at_bilinear_project_keys(ctx, &run->layer, in[1], &keys_proj));
    return at_bilinear_attend(ctx, &run->layer, in[0], keys_proj, in[2], mask_of(&run->mask), y,
                              &w);
}

static void gc_bilinear(const char *name, int B, int tq, int tk, int dq, int dk, int dv,
                        int mask_kind) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 11);
    at_params *params;
    at_params_create(ctx, &params);
    bilinear_run run;
    CHECK_OK(ctx, at_bilinear_init(ctx, &run.layer, params, "attn", dq, dk, &rng));
    make_mask(&run.mask, mask_kind, B, B * (tq ? tq : 1), tk, &rng);
    int qs[3] = {B, tq, dq}, ks[3] = {B, tk, dk}, vs[3] = {B, tk, dv};
    if (tq == 0) qs[1] = dq; /* a decoder step: queries (B, Dq) */
    float *q = test_random_floats((size_t)B * (tq ? tq : 1) * dq, -1.0f, 1.0f, &rng);
    float *k = test_random_floats((size_t)B * tk * dk, -1.0f, 1.0f, &rng),
          *v = test_random_floats((size_t)B * tk * dv, -1.0f, 1.0f, &rng);
    gc_input inputs[3] = {gc_tensor("queries", tq ? 3 : 2, qs, q), gc_tensor("keys", 3, ks, k),
                          gc_tensor("values", 3, vs, v)};
    gc_check(name, 3, inputs, params, build_bilinear, &run, NULL);
    free(q);
    free(k);
    free(v);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* Single step shapes, names, and the general score against W k by hand. */
static void test_bilinear_values(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 12);
    at_params *params;
    at_params_create(ctx, &params);
    at_bilinear layer;
    CHECK_OK(ctx, at_bilinear_init(ctx, &layer, params, "luong", 3, 2, &rng));
    CHECK(strcmp(at_params_get(params, 0)->name, "luong.W") == 0, "bilinear name '%s'",
          at_params_get(params, 0)->name);
    int qs[2] = {2, 3}, ks[3] = {2, 4, 2};
    float *qd = test_random_floats(6, -1.0f, 1.0f, &rng),
          *kd = test_random_floats(16, -1.0f, 1.0f, &rng);
    at_tensor *q, *k, *kp = NULL, *c = NULL, *w = NULL;
    at_tensor_from(ctx, &q, 2, qs, qd);
    at_tensor_from(ctx, &k, 3, ks, kd);
    CHECK_OK(ctx, at_bilinear_project_keys(ctx, &layer, k, &kp));
    CHECK_OK(ctx, at_bilinear_attend(ctx, &layer, q, kp, k, NULL, &c, &w));
    if (c && w) {
        CHECK(c->ndim == 2 && c->shape[0] == 2 && c->shape[1] == 2, "single step context (B, Dv)");
        CHECK(w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 4, "single step weights (B, Tk)");
        double want[8];
        for (int b = 0; b < 2; b++) {
            double s[4], top = -INFINITY, total = 0;
            for (int j = 0; j < 4; j++) {
                s[j] = 0;
                for (int a = 0; a < 3; a++)
                    for (int e = 0; e < 2; e++)
                        s[j] += (double)qd[b * 3 + a] * layer.W->data[a * 2 + e] *
                                kd[(b * 4 + j) * 2 + e];
                top = fmax(top, s[j]);
            }
            for (int j = 0; j < 4; j++)
                total += (s[j] = exp(s[j] - top));
            for (int j = 0; j < 4; j++)
                want[b * 4 + j] = s[j] / total;
        }
        check_close_to_double("bilinear weights = softmax(qᵀ W k)", w->data, want, 8, 1e-6, 1e-5);
    }
    free(qd);
    free(kd);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ self-attention */

typedef struct self_run {
    at_self_attention layer;
    test_mask mask;
} self_run;

static at_status build_self(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    self_run *run = user;
    at_tensor *w;
    return at_self_attention_forward(ctx, &run->layer, in[0], mask_of(&run->mask), y, &w);
}

static void gc_self_attention(const char *name, int B, int T, int D, int d, int mask_kind) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 21);
    at_params *params;
    at_params_create(ctx, &params);
    self_run run;
    CHECK_OK(ctx, at_self_attention_init(ctx, &run.layer, params, "self", D, d, &rng));
    make_mask(&run.mask, mask_kind, B, B * T, T, &rng);
    int xs[3] = {B, T, D};
    float *x = test_random_floats((size_t)B * T * D, -1.0f, 1.0f, &rng);
    gc_input input = gc_tensor("x", 3, xs, x);
    gc_check(name, 1, &input, params, build_self, &run, NULL);

    /* weights: (B, T, T), rows summing to 1 where anything is kept */
    at_tensor *tx, *out = NULL, *w = NULL, *out_plain = NULL;
    at_tensor_from(ctx, &tx, 3, xs, x);
    CHECK_OK(ctx, at_self_attention_forward(ctx, &run.layer, tx, mask_of(&run.mask), &out, &w));
    CHECK_OK(ctx,
             at_self_attention_forward(ctx, &run.layer, tx, mask_of(&run.mask), &out_plain, NULL));
    if (out && w && out_plain) {
        CHECK(w->ndim == 3 && w->shape[1] == T && w->shape[2] == T, "%s: weights (B, T, T)", name);
        check_close(name, out_plain->data, out->data, out->size, 0.0, 0.0);
        for (int r = 0; r < B * T; r++) {
            double sum = 0;
            int any = 0;
            for (int j = 0; j < T; j++) {
                sum += w->data[(size_t)r * T + j];
                any |= kept(&run.mask, B * T, T, T, r, j);
            }
            CHECK(fabs(sum - (any ? 1.0 : 0.0)) < 1e-5, "%s: row %d of weights sums to %g", name, r,
                  sum);
        }
    }
    free(x);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------ structured self-attention */

typedef struct structured_run {
    at_structured_attention layer;
    test_mask mask;
    int penalty; /* 1: y = penalty (plus M, so both paths are checked) */
} structured_run;

/* y = M, or y = penalty · 1 + M (both flow through A). */
static at_status build_structured(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    structured_run *run = user;
    at_tensor *M, *A, *P;
    AT_TRY(at_structured_attention_forward(ctx, &run->layer, in[0], mask_of(&run->mask), &M, &A));
    if (!run->penalty) {
        *y = M;
        return AT_OK;
    }
    AT_TRY(at_structured_penalty(ctx, A, &P));
    return at_add(ctx, y, M, P);
}

static void gc_structured(const char *name, int B, int T, int D, int da, int r, int mask_kind,
                          int penalty) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 31);
    at_params *params;
    at_params_create(ctx, &params);
    structured_run run;
    CHECK_OK(ctx, at_structured_attention_init(ctx, &run.layer, params, "sa", D, da, r, &rng));
    run.penalty = penalty;
    make_mask(&run.mask, mask_kind, B, B * r, T, &rng);
    int hs[3] = {B, T, D};
    float *h = test_random_floats((size_t)B * T * D, -1.0f, 1.0f, &rng);
    for (size_t i = 0; i < (size_t)B * T * D; i++)
        h[i] *= 2.0f; /* sharper distributions */
    gc_input input = gc_tensor("h", 3, hs, h);
    gc_check(name, 1, &input, params, build_structured, &run, NULL);
    free(h);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* The penalty's value against (1/B) Σ ‖A Aᵀ − I‖² by hand, names, masks. */
static void test_structured_values(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 32);
    at_params *params;
    at_params_create(ctx, &params);
    at_structured_attention layer;
    int B = 3, T = 4, D = 3, r = 2;
    CHECK_OK(ctx, at_structured_attention_init(ctx, &layer, params, "lin", D, 5, r, &rng));
    CHECK(strcmp(at_params_get(params, 0)->name, "lin.W_s1") == 0 &&
              strcmp(at_params_get(params, 1)->name, "lin.W_s2") == 0,
          "structured names");
    test_mask m;
    make_mask(&m, MASK_PADDING, B, B * r, T, &rng);
    int hs[3] = {B, T, D};
    float *hd = test_random_floats((size_t)B * T * D, -1.0f, 1.0f, &rng);
    at_tensor *h, *M = NULL, *A = NULL, *P = NULL, *M_plain = NULL;
    at_tensor_from(ctx, &h, 3, hs, hd);
    CHECK_OK(ctx, at_structured_attention_forward(ctx, &layer, h, &m.mask, &M, &A));
    CHECK_OK(ctx, at_structured_attention_forward(ctx, &layer, h, &m.mask, &M_plain, NULL));
    if (A && M && M_plain) {
        CHECK(A->ndim == 3 && A->shape[0] == B && A->shape[1] == r && A->shape[2] == T,
              "structured weights (B, r, T)");
        CHECK(M->ndim == 3 && M->shape[1] == r && M->shape[2] == D, "structured M (B, r, D)");
        check_close("structured M without weights", M_plain->data, M->data, M->size, 0.0, 0.0);
        CHECK_OK(ctx, at_structured_penalty(ctx, A, &P));
        double want = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < r; p++)
                for (int q = 0; q < r; q++) {
                    double g = p == q ? -1.0 : 0.0;
                    for (int t = 0; t < T; t++)
                        g += (double)A->data[(b * r + p) * T + t] * A->data[(b * r + q) * T + t];
                    want += g * g;
                }
        want /= B;
        if (P) check_close_to_double("structured penalty", P->data, &want, 1, 1e-6, 1e-5);
        /* batch row 1 is fully masked: zero weights, zero M */
        for (int i = 0; i < r * T; i++)
            CHECK(A->data[r * T + i] == 0.0f, "masked batch row: A[%d] = %g", i,
                  A->data[r * T + i]);
        for (int i = 0; i < r * D; i++)
            CHECK(M->data[r * D + i] == 0.0f, "masked batch row: M[%d] = %g", i,
                  M->data[r * D + i]);
        CHECK(test_all_finite(A->data, A->size) && test_all_finite(M->data, M->size),
              "structured finite");
    }
    free(hd);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* The penalty alone, from a weights tensor that is an input. */
static at_status build_penalty(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    (void)user;
    return at_structured_penalty(ctx, in[0], y);
}

static void test_penalty_gradient(void) {
    at_rng rng;
    at_rng_seed(&rng, 33);
    int shape[3] = {2, 3, 4};
    float *a = test_random_floats(24, -1.0f, 1.0f, &rng);
    gc_input input = gc_tensor("A", 3, shape, a);
    gc_check("structured penalty w.r.t. A", 1, &input, NULL, build_penalty, NULL, NULL);
    free(a);
}

/* --------------------------------------------------------- multi-head */

typedef struct mha_case {
    const char *name;
    int B, tq, tk, E, H; /* tq = 0: a decoder step, query (B, E) */
    int mask_kind;
    int split; /* 1: _project_kv + _attend instead of _forward */
} mha_case;

typedef struct mha_run {
    const mha_case *c;
    at_multi_head layer;
    test_mask mask;
} mha_run;

static at_status build_mha(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    mha_run *run = user;
    at_tensor *w, *kh, *vh;
    if (!run->c->split)
        return at_multi_head_forward(ctx, &run->layer, in[0], in[1], in[2], mask_of(&run->mask), y,
                                     &w);
    AT_TRY(at_multi_head_project_kv(ctx, &run->layer, in[1], in[2], &kh, &vh));
    return at_multi_head_attend(ctx, &run->layer, in[0], kh, vh, mask_of(&run->mask), y, NULL);
}

/* out (B, tq, E) and weights (B, H, tq, tk) from the definition, in double. */
static void naive_multi_head(const mha_case *c, const at_multi_head *layer, const test_mask *m,
                             const float *query, const float *key, const float *value, double *out,
                             double *weights) {
    int B = c->B, tq = c->tq ? c->tq : 1, tk = c->tk, E = c->E, H = c->H, hd = E / H;
    const float *W = layer->in_proj_weight->data, *bias = layer->in_proj_bias->data;
    /* projections, already split into heads: (B, H, T, hd), as float for naive_attention */
    float *Q = malloc((size_t)B * tq * E * sizeof(float));
    float *K = malloc((size_t)B * tk * E * sizeof(float)),
          *V = malloc((size_t)B * tk * E * sizeof(float));
    const float *src[3] = {query, key, value};
    float *dst[3] = {Q, K, V};
    int len[3] = {tq, tk, tk};
    for (int p = 0; p < 3; p++)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < len[p]; t++)
                for (int o = 0; o < E; o++) {
                    double acc = bias[p * E + o];
                    for (int e = 0; e < E; e++)
                        acc += (double)W[((size_t)p * E + o) * E + e] *
                               src[p][((size_t)b * len[p] + t) * E + e];
                    int h = o / hd;
                    dst[p][(((size_t)b * H + h) * len[p] + t) * hd + o % hd] = (float)acc;
                }
    double *heads = malloc((size_t)B * H * tq * hd * sizeof(double));
    naive_attention(B * H, tq, tk, hd, hd, 1.0 / sqrt((double)hd), Q, K, V, m, heads, weights);
    const float *Wo = layer->out_proj_weight->data, *bo = layer->out_proj_bias->data;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < tq; t++)
            for (int o = 0; o < E; o++) {
                double acc = bo[o];
                for (int e = 0; e < E; e++)
                    acc += Wo[(size_t)o * E + e] *
                           heads[(((size_t)b * H + e / hd) * tq + t) * hd + e % hd];
                out[((size_t)b * tq + t) * E + o] = acc;
            }
    free(Q);
    free(K);
    free(V);
    free(heads);
}

static void check_mha_forward(mha_run *run, at_params *params, float *query, float *key,
                              float *value) {
    const mha_case *c = run->c;
    at_ctx *ctx = test_new_ctx();
    int tq = c->tq ? c->tq : 1;
    int qs[3] = {c->B, c->tq, c->E}, ks[3] = {c->B, c->tk, c->E};
    if (!c->tq) qs[1] = c->E;
    at_tensor *q, *k, *v, *out = NULL, *w = NULL, *out_plain = NULL;
    at_tensor_from(ctx, &q, c->tq ? 3 : 2, qs, query);
    at_tensor_from(ctx, &k, 3, ks, key);
    at_tensor_from(ctx, &v, 3, ks, value);
    CHECK_OK(ctx, at_multi_head_forward(ctx, &run->layer, q, k, v, mask_of(&run->mask), &out, &w));
    CHECK_OK(ctx, at_multi_head_forward(ctx, &run->layer, q, k, v, mask_of(&run->mask), &out_plain,
                                        NULL));
    if (out && w && out_plain) {
        size_t no = (size_t)c->B * tq * c->E, nw = (size_t)c->B * c->H * tq * c->tk;
        CHECK(out->size == no && w->size == nw, "%s: output sizes", c->name);
        CHECK(w->ndim == (c->tq ? 4 : 3) && w->shape[1] == c->H, "%s: weights per head, ndim %d",
              c->name, w->ndim);
        double *want_o = malloc(no * sizeof(double)), *want_w = malloc(nw * sizeof(double));
        naive_multi_head(c, &run->layer, &run->mask, query, key, value, want_o, want_w);
        char what[128];
        snprintf(what, sizeof what, "%s out vs naive", c->name);
        check_close_to_double(what, out->data, want_o, no, 1e-5, 1e-4);
        snprintf(what, sizeof what, "%s per-head weights vs naive", c->name);
        check_close_to_double(what, w->data, want_w, nw, 1e-6, 1e-4);
        snprintf(what, sizeof what, "%s out without weights", c->name);
        check_close(what, out_plain->data, out->data, no, 0.0, 0.0);
        CHECK(test_all_finite(out->data, no) && test_all_finite(w->data, nw), "%s: NaN", c->name);
        free(want_o);
        free(want_w);
    }
    (void)params;
    at_ctx_free(ctx);
}

static void test_multi_head(void) {
    static const mha_case cases[] = {
        {"mha H=1", 2, 3, 4, 4, 1, MASK_NONE, 0},
        {"mha H=2 padding", 3, 2, 5, 4, 2, MASK_PADDING, 0},
        {"mha H=3 causal Tq>Tk", 2, 4, 3, 6, 3, MASK_CAUSAL, 0},
        {"mha H=2 causal square", 2, 3, 3, 4, 2, MASK_CAUSAL, 1},
        {"mha H=2 full", 2, 2, 3, 4, 2, MASK_FULL, 1},
        {"mha T=1", 1, 1, 1, 2, 2, MASK_NONE, 0},
        {"mha H=2 decoder step, padding", 3, 0, 4, 4, 2, MASK_PADDING, 1},
        {"mha H=2 padding+causal", 3, 3, 3, 4, 2, MASK_PADDING_CAUSAL, 0},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const mha_case *c = &cases[n];
        at_ctx *ctx = test_new_ctx();
        at_rng rng;
        at_rng_seed(&rng, 40 + n);
        at_params *params;
        at_params_create(ctx, &params);
        mha_run run = {.c = c};
        CHECK_OK(ctx, at_multi_head_init(ctx, &run.layer, params, "mha", c->E, c->H, &rng));
        test_jitter_params(params, &rng, 0.3f);
        int tq = c->tq ? c->tq : 1;
        make_mask(&run.mask, c->mask_kind, c->B, c->B * c->H * tq, c->tk, &rng);
        int qs[3] = {c->B, c->tq, c->E}, ks[3] = {c->B, c->tk, c->E};
        if (!c->tq) qs[1] = c->E;
        float *query = test_random_floats((size_t)c->B * tq * c->E, -1.0f, 1.0f, &rng);
        float *key = test_random_floats((size_t)c->B * c->tk * c->E, -1.0f, 1.0f, &rng);
        float *value = test_random_floats((size_t)c->B * c->tk * c->E, -1.0f, 1.0f, &rng);
        check_mha_forward(&run, params, query, key, value);
        gc_input inputs[3] = {gc_tensor("query", c->tq ? 3 : 2, qs, query),
                              gc_tensor("key", 3, ks, key), gc_tensor("value", 3, ks, value)};
        gc_check(c->name, 3, inputs, params, build_mha, &run, NULL);
        free(query);
        free(key);
        free(value);
        at_params_free(params);
        at_ctx_free(ctx);
    }
}

/* Cross-attention as a decoder uses it: K and V projected once, two steps
 * attend to them; the gradients of key and value collect both steps. */
static at_status build_mha_two_steps(at_ctx *ctx, at_tensor *const *in, void *user,
                                     at_tensor **y) {
    mha_run *run = user;
    at_tensor *kh, *vh, *out1, *out2, *w;
    AT_TRY(at_multi_head_project_kv(ctx, &run->layer, in[2], in[3], &kh, &vh));
    AT_TRY(at_multi_head_attend(ctx, &run->layer, in[0], kh, vh, mask_of(&run->mask), &out1, &w));
    AT_TRY(at_multi_head_attend(ctx, &run->layer, in[1], kh, vh, mask_of(&run->mask), &out2, NULL));
    AT_TRY(at_mul(ctx, &out2, out2, out1)); /* a product, so neither step's slope is constant */
    return at_add(ctx, y, out1, out2);
}

static void test_multi_head_two_steps(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 55);
    at_params *params;
    at_params_create(ctx, &params);
    mha_run run = {.c = NULL};
    int B = 3, Tk = 4, E = 6, H = 3;
    CHECK_OK(ctx, at_multi_head_init(ctx, &run.layer, params, "cross", E, H, &rng));
    test_jitter_params(params, &rng, 0.3f);
    make_mask(&run.mask, MASK_PADDING, B, B * H, Tk, &rng);
    int qs[2] = {B, E}, ks[3] = {B, Tk, E};
    float *q1 = test_random_floats(18, -1.0f, 1.0f, &rng),
          *q2 = test_random_floats(18, -1.0f, 1.0f, &rng);
    float *key = test_random_floats(72, -1.0f, 1.0f, &rng),
          *value = test_random_floats(72, -1.0f, 1.0f, &rng);
    gc_input inputs[4] = {gc_tensor("step1", 2, qs, q1), gc_tensor("step2", 2, qs, q2),
                          gc_tensor("key", 3, ks, key), gc_tensor("value", 3, ks, value)};
    gc_check("mha two decoder steps on one _project_kv", 4, inputs, params, build_mha_two_steps,
             &run, NULL);
    free(q1);
    free(q2);
    free(key);
    free(value);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* Self-attention through multi-head: one tensor as query, key and value. */
static at_status build_mha_self(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    mha_run *run = user;
    return at_multi_head_forward(ctx, &run->layer, in[0], in[0], in[0], mask_of(&run->mask), y,
                                 NULL);
}

static void test_multi_head_self_and_init(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 50);
    at_params *params;
    at_params_create(ctx, &params);
    mha_run run = {.c = NULL};
    int E = 8, H = 2;
    CHECK_OK(ctx, at_multi_head_init(ctx, &run.layer, params, "attn", E, H, &rng));
    const char *names[4] = {"attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
                            "attn.out_proj.bias"};
    CHECK(at_params_count(params) == 4, "multi-head has 4 parameters");
    for (int i = 0; i < 4 && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0, "parameter %d is '%s'", i,
              at_params_get(params, i)->name);
    /* torch's init: xavier bound √(6/(E+3E)), kaiming bound 1/√E, zero biases */
    float a_in = sqrtf(6.0f / (4.0f * E)), a_out = 1.0f / sqrtf((float)E), top_in = 0, top_out = 0;
    for (size_t i = 0; i < run.layer.in_proj_weight->size; i++)
        top_in = fmaxf(top_in, fabsf(run.layer.in_proj_weight->data[i]));
    for (size_t i = 0; i < run.layer.out_proj_weight->size; i++)
        top_out = fmaxf(top_out, fabsf(run.layer.out_proj_weight->data[i]));
    CHECK(top_in <= a_in && top_in > 0.8f * a_in, "in_proj_weight within ±%g: max %g", a_in,
          top_in);
    CHECK(top_out <= a_out && top_out > 0.6f * a_out, "out_proj.weight within ±%g: max %g", a_out,
          top_out);
    int zero = 1;
    for (int i = 0; i < 3 * E; i++)
        zero &= run.layer.in_proj_bias->data[i] == 0.0f;
    for (int i = 0; i < E; i++)
        zero &= run.layer.out_proj_bias->data[i] == 0.0f;
    CHECK(zero, "multi-head biases start at zero");
    test_jitter_params(params, &rng, 0.3f);
    make_mask(&run.mask, MASK_CAUSAL, 2, 0, 3, &rng);
    int xs[3] = {2, 3, E};
    float *x = test_random_floats(48, -1.0f, 1.0f, &rng);
    gc_input input = gc_tensor("x", 3, xs, x);
    gc_check("mha self-attention, x as query, key and value, causal", 1, &input, params,
             build_mha_self, &run, NULL);
    free(x);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* --------------------------------------------------------- error paths */

static void test_errors(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 60);
    at_params *params;
    at_params_create(ctx, &params);
    at_tensor *q, *k, *v, *k4, *x2, *out = NULL, *w = NULL;
    int s3[3] = {2, 3, 4}, s3b[3] = {2, 5, 3}, s4[4] = {2, 1, 5, 4}, s2[2] = {2, 4};
    at_tensor_new(ctx, &q, 3, s3);
    at_tensor_new(ctx, &k, 3, s3);
    at_tensor_new(ctx, &v, 3, s3b);
    at_tensor_new(ctx, &k4, 4, s4);
    at_tensor_new(ctx, &x2, 2, s2);

    /* dot attention */
    CHECK_STATUS(ctx, at_dot_attention(ctx, NULL, k, k, 0, NULL, &out, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k, k, 0, NULL, NULL, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k, k, NAN, NULL, &out, NULL), AT_ERR_ARGUMENT);
    /* a step q (B, d) is fine (test_attention_weight_grads_dot.c checks its values), but
     * not with another d, nor against 4-D heads */
    at_tensor *x2_short;
    at_tensor_new(ctx, &x2_short, 2, (int[]){2, 3});
    CHECK_STATUS(ctx, at_dot_attention(ctx, x2_short, k, k, 0, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_dot_attention(ctx, x2, k4, k4, 0, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k4, k, 0, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, v, v, 0, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "k") != NULL, "message names k: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k, v, 0, NULL, &out, NULL), AT_ERR_SHAPE);
    uint8_t keep[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    at_attn_mask bad_rows = {keep, 4, 0};
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k, k, 0, &bad_rows, &out, NULL), AT_ERR_SHAPE);
    at_attn_mask padding = {keep, 2, 0};
    CHECK_OK(ctx, at_dot_attention(ctx, q, k, k, 0, &padding, &out, &w));

    /* bilinear */
    at_bilinear bil;
    CHECK_STATUS(ctx, at_bilinear_init(ctx, &bil, params, "b", 0, 3, &rng), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_bilinear_init(ctx, &bil, params, "b", 4, 3, &rng));
    CHECK_STATUS(ctx, at_bilinear_init(ctx, &bil, params, "b", 4, 3, &rng), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_bilinear_project_keys(ctx, &bil, q, &out), AT_ERR_SHAPE); /* Dk 4 != 3 */
    CHECK_STATUS(ctx, at_bilinear_project_keys(ctx, &bil, v, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_bilinear_attend(ctx, &bil, q, v, v, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_bilinear_attend(ctx, &bil, q, k, v, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_bilinear_attend(ctx, NULL, q, k, k, NULL, &out, NULL), AT_ERR_ARGUMENT);

    /* self-attention and structured */
    at_self_attention sa;
    CHECK_STATUS(ctx, at_self_attention_init(ctx, &sa, params, "s", 4, -1, &rng), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_self_attention_init(ctx, &sa, params, "s", 4, 2, &rng));
    CHECK_STATUS(ctx, at_self_attention_forward(ctx, &sa, v, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_self_attention_forward(ctx, &sa, x2, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_self_attention_forward(ctx, &sa, q, NULL, NULL, NULL), AT_ERR_ARGUMENT);
    at_structured_attention st;
    CHECK_STATUS(ctx, at_structured_attention_init(ctx, &st, params, "st", 4, 3, 0, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_structured_attention_init(ctx, &st, params, "st", 4, 3, 2, &rng));
    CHECK_STATUS(ctx, at_structured_attention_forward(ctx, &st, v, NULL, &out, NULL), AT_ERR_SHAPE);
    at_attn_mask causal = {NULL, 0, 1};
    CHECK_STATUS(ctx, at_structured_attention_forward(ctx, &st, q, &causal, &out, NULL),
                 AT_ERR_ARGUMENT);
    at_attn_mask odd_rows = {keep, 3, 0};
    CHECK_STATUS(ctx, at_structured_attention_forward(ctx, &st, q, &odd_rows, &out, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_structured_penalty(ctx, x2, &out), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_structured_penalty(ctx, NULL, &out), AT_ERR_ARGUMENT);

    /* multi-head */
    at_multi_head mha;
    CHECK_STATUS(ctx, at_multi_head_init(ctx, &mha, params, "m", 4, 3, &rng), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "divisible") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_OK(ctx, at_multi_head_init(ctx, &mha, params, "m", 4, 2, &rng));
    at_tensor *kh = NULL, *vh = NULL;
    CHECK_STATUS(ctx, at_multi_head_project_kv(ctx, &mha, v, v, &kh, &vh), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_multi_head_project_kv(ctx, &mha, q, q, &kh, NULL), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_multi_head_project_kv(ctx, &mha, q, q, &kh, &vh));
    CHECK_STATUS(ctx, at_multi_head_attend(ctx, &mha, q, k, vh, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_multi_head_attend(ctx, &mha, v, kh, vh, NULL, &out, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_multi_head_forward(ctx, &mha, q, v, v, NULL, &out, NULL), AT_ERR_SHAPE);
    at_attn_mask mha_rows = {keep, 4, 0}; /* B*Tq = 6 score rows per head pair: 12 rows */
    CHECK_OK(ctx, at_multi_head_attend(ctx, &mha, q, kh, vh, &mha_rows, &out, NULL));
    at_attn_mask mha_bad = {keep, 5, 0};
    CHECK_STATUS(ctx, at_multi_head_attend(ctx, &mha, q, kh, vh, &mha_bad, &out, NULL),
                 AT_ERR_SHAPE);
    at_multi_head broken = mha;
    broken.heads = 3;
    CHECK_STATUS(ctx, at_multi_head_attend(ctx, &broken, q, kh, vh, NULL, &out, NULL),
                 AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ---------------------------------------------------- inference mode */

static void test_inference_records_nothing(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 70);
    at_params *params;
    at_params_create(ctx, &params);
    at_bilinear bil;
    at_self_attention sa;
    at_structured_attention st;
    at_multi_head mha;
    at_bilinear_init(ctx, &bil, params, "b", 4, 4, &rng);
    at_self_attention_init(ctx, &sa, params, "s", 4, 2, &rng);
    at_structured_attention_init(ctx, &st, params, "st", 4, 3, 2, &rng);
    at_multi_head_init(ctx, &mha, params, "m", 4, 2, &rng);
    at_ctx_set_grad(ctx, 0);
    int s3[3] = {2, 3, 4};
    float *xd = test_random_floats(24, -1.0f, 1.0f, &rng);
    at_tensor *x, *out = NULL, *w = NULL, *kp = NULL, *P = NULL;
    at_tensor_from(ctx, &x, 3, s3, xd);
    at_tensor_require_grad(ctx, x);
    CHECK_OK(ctx, at_dot_attention(ctx, x, x, x, 0, NULL, &out, &w));
    CHECK_OK(ctx, at_bilinear_project_keys(ctx, &bil, x, &kp));
    CHECK_OK(ctx, at_bilinear_attend(ctx, &bil, x, kp, x, NULL, &out, &w));
    CHECK_OK(ctx, at_self_attention_forward(ctx, &sa, x, NULL, &out, &w));
    CHECK_OK(ctx, at_structured_attention_forward(ctx, &st, x, NULL, &out, &w));
    CHECK_OK(ctx, at_structured_penalty(ctx, w, &P));
    CHECK_OK(ctx, at_multi_head_forward(ctx, &mha, x, x, x, NULL, &out, &w));
    CHECK(at_ctx_tape_length(ctx) == 0, "inference mode recorded %zu tape entries",
          at_ctx_tape_length(ctx));
    CHECK(out && out->grad == NULL, "inference outputs have no gradient buffer");
    /* and with gradients on, the fused entries: dot = 1, multi-head = 4 */
    at_ctx_set_grad(ctx, 1);
    size_t before = at_ctx_tape_length(ctx);
    CHECK_OK(ctx, at_dot_attention(ctx, x, x, x, 0, NULL, &out, NULL));
    CHECK(at_ctx_tape_length(ctx) == before + 1, "dot attention records one entry");
    before = at_ctx_tape_length(ctx);
    CHECK_OK(ctx, at_multi_head_forward(ctx, &mha, x, x, x, NULL, &out, NULL));
    CHECK(at_ctx_tape_length(ctx) == before + 5,
          "multi-head: K, V, Q projections, kernel, "
          "output projection = 5 entries, got %zu",
          at_ctx_tape_length(ctx) - before);
    free(xd);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* A multi-head layer big enough that its projections are cut between
 * threads (B T = 256 rows of E = 128): the output and every gradient, of
 * the inputs and of the weights, are the same bits on 1 and 2 threads. */
static void mha_threads_run(int threads, const float *x, size_t n, float *out, float *grads,
                            size_t *grads_len) {
    at_ctx *ctx = test_new_ctx_with(0, threads);
    at_rng rng;
    at_rng_seed(&rng, 77);
    at_params *params;
    at_params_create(ctx, &params);
    at_multi_head layer;
    int B = 4, T = 64, E = 128, H = 4, shape[3] = {B, T, E};
    CHECK_OK(ctx, at_multi_head_init(ctx, &layer, params, "mha", E, H, &rng));
    at_tensor *in, *y;
    CHECK_OK(ctx, at_tensor_from(ctx, &in, 3, shape, x));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, in));
    at_attn_mask causal = {NULL, 0, 1};
    CHECK_OK(ctx, at_multi_head_forward(ctx, &layer, in, in, in, &causal, &y, NULL));
    float *seed = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) seed[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    CHECK_OK(ctx, at_backward_seeded(ctx, y, seed));
    memcpy(out, y->data, n * sizeof(float));
    size_t at = 0, room = n + 4 * 128 * 128 + 4 * 128;
    test_append(grads, &at, room, in, 1);
    test_append_param_grads(grads, &at, room, params);
    *grads_len = at;
    free(seed);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_multi_head_threads(void) {
    size_t n = 4 * 64 * 128, room = n + 4 * 128 * 128 + 4 * 128;
    at_rng rng;
    at_rng_seed(&rng, 78);
    float *x = test_random_floats(n, -1.0f, 1.0f, &rng);
    float *out1 = malloc(n * sizeof(float)), *out2 = malloc(n * sizeof(float));
    float *g1 = malloc(room * sizeof(float)), *g2 = malloc(room * sizeof(float));
    size_t len1 = 0, len2 = 0;
    mha_threads_run(1, x, n, out1, g1, &len1);
    mha_threads_run(2, x, n, out2, g2, &len2);
    CHECK(len1 == len2 && len1 <= room, "multi-head threads: %zu against %zu gradients", len1,
          len2);
    check_same_bits("multi-head output, 2 threads vs 1", out2, out1, n);
    check_same_bits("multi-head gradients, 2 threads vs 1", g2, g1, len1);
    free(x), free(out1), free(out2), free(g1), free(g2);
}

int main(void) {
    test_dot_attention();
    test_dot_large();
    test_dot_shared_input();
    gc_bilinear("bilinear 3-D, padding", 3, 2, 4, 3, 5, 2, MASK_PADDING);
    gc_bilinear("bilinear decoder step", 2, 0, 3, 4, 2, 3, MASK_NONE);
    gc_bilinear("bilinear causal Tq>Tk", 2, 4, 3, 2, 3, 2, MASK_CAUSAL);
    test_bilinear_values();
    gc_self_attention("self-attention", 2, 4, 5, 3, MASK_NONE);
    gc_self_attention("self-attention causal", 2, 4, 3, 2, MASK_CAUSAL);
    gc_self_attention("self-attention padding", 3, 3, 4, 2, MASK_PADDING);
    gc_self_attention("self-attention T=1", 2, 1, 3, 2, MASK_NONE);
    gc_structured("structured M", 2, 5, 4, 3, 2, MASK_NONE, 0);
    gc_structured("structured M, padding", 3, 4, 3, 4, 3, MASK_PADDING, 0);
    gc_structured("structured M + penalty, padding", 3, 4, 3, 4, 3, MASK_PADDING, 1);
    gc_structured("structured T=1, r=1 + penalty", 2, 1, 3, 2, 1, MASK_NONE, 1);
    test_structured_values();
    test_penalty_gradient();
    test_multi_head();
    test_multi_head_self_and_init();
    test_multi_head_two_steps();
    test_multi_head_threads();
    test_errors();
    test_inference_records_nothing();
    return test_finish("attention dot families");
}
