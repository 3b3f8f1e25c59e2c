/*
 * test_attention_weight_grads_dot.c - a loss on the attention weights trains
 * the dot-product families (issue 9, "weights that silently carry no
 * gradient").
 *
 * A user who adds a term on the returned weights to the loss (an entropy
 * penalty, a supervised alignment loss) must see it reach the queries, the
 * keys and the parameters. Before the fix the fused kernel handed back
 * weights without a gradient, and such a term was silently dropped.
 *
 * Every check here is the finite-difference gradient check of testutil
 * (gc_check) on L = sum(w ∘ R) for a fixed random R, with w the returned
 * weights alone, and again on the weights joined with the context (both
 * terms at once), with respect to every input and every parameter. Inputs
 * the weights do not depend on (values, W_V) must get exactly the zero
 * gradient the finite differences find. The families:
 *   - at_dot_attention, dot (scale 1) and scaled dot, 3-D and 4-D, a
 *     decoder step (B, d), shapes past one kernel tile;
 *   - bilinear / general (at_bilinear_*);
 *   - Luong global with all four scores (dot, general, concat, location);
 *   - self-attention (also d_k ≠ d_v) and structured self-attention;
 *   - multi-head (also kdim ≠ vdim ≠ E and a decoder step).
 * Masks: none, padding with a fully masked batch row, full masks with an
 * empty row, causal with Tq > Tk (queries that see no key), padding and
 * causal together. A fully masked row must give zero weights, a zero
 * gradient and never NaN; the large case must give the same gradients with
 * 1 and 4 threads.
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

/* What the checked output y is made of. */
enum { ONLY_WEIGHTS, WEIGHTS_AND_CONTEXT };
static const char *const part_names[] = {"sum(w ∘ R)", "sum([c; w] ∘ R)"};

/* y = the weights, or the context and the weights one after the other. */
static at_status checked_output(at_ctx *ctx, int parts, at_tensor *context, at_tensor *weights,
                                at_tensor **y) {
    at_tensor *both[2] = {weights, parts == WEIGHTS_AND_CONTEXT ? context : NULL};
    return gc_join_outputs(ctx, y, 2, both);
}

/* Run both checks (weights alone; weights and context) on one build. */
static void check_both(const char *family, const char *mask_name, int n_inputs, gc_input *inputs,
                       at_params *params, gc_build_fn build, void *user, int *parts) {
    for (int p = ONLY_WEIGHTS; p <= WEIGHTS_AND_CONTEXT; p++) {
        *parts = p;
        char name[200];
        snprintf(name, sizeof name, "%s, mask %s: %s", family, mask_name, part_names[p]);
        gc_check(name, n_inputs, inputs, params, build, user, NULL);
    }
}

/* ---------------------------------------------------- at_dot_attention */

typedef struct dot_case {
    const char *name;
    int B, H, tq, tk, d, dv; /* H = 0: 3-D (B, T, _); tq = 0: a step q (B, d) */
    int mask_kind;
    float scale; /* 1: dot, 0: scaled dot */
} dot_case;

typedef struct dot_run {
    const dot_case *c;
    test_mask mask;
    int parts;
} dot_run;

static int dot_shape(const dot_case *c, int rows, int cols, int *shape) {
    if (rows == 0) { /* a decoder step (B, d) */
        shape[0] = c->B, shape[1] = cols;
        return 2;
    }
    if (c->H == 0) {
        shape[0] = c->B, shape[1] = rows, shape[2] = cols;
        return 3;
    }
    shape[0] = c->B, shape[1] = c->H, shape[2] = rows, shape[3] = cols;
    return 4;
}

static at_status build_dot(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    dot_run *run = user;
    at_tensor *c, *w;
    AT_TRY(at_dot_attention(ctx, in[0], in[1], in[2], run->c->scale, mask_of(&run->mask), &c, &w));
    return checked_output(ctx, run->parts, c, w, y);
}

/* Backward of sum(w ∘ R) alone: every gradient finite, v gets exactly 0,
 * and a query that sees no key gets dq = 0. */
static void check_dot_masked_rows(const dot_case *c, dot_run *run, float *const data[3]) {
    at_ctx *ctx = test_new_ctx();
    int qs[4], ks[4], vs[4];
    int nq = dot_shape(c, c->tq, c->d, qs), nk = dot_shape(c, c->tk, c->d, ks);
    dot_shape(c, c->tk, c->dv, vs);
    at_tensor *q, *k, *v, *out = NULL, *w = NULL;
    at_tensor_from(ctx, &q, nq, qs, data[0]);
    at_tensor_from(ctx, &k, nk, ks, data[1]);
    at_tensor_from(ctx, &v, nk, vs, data[2]);
    at_tensor_require_grad(ctx, q);
    at_tensor_require_grad(ctx, k);
    at_tensor_require_grad(ctx, v);
    CHECK_OK(ctx, at_dot_attention(ctx, q, k, v, c->scale, mask_of(&run->mask), &out, &w));
    if (!w || !w->grad) {
        CHECK(0, "%s: the weights have no gradient buffer", c->name);
        at_ctx_free(ctx);
        return;
    }
    at_rng rng;
    at_rng_seed(&rng, 5);
    float *R = test_random_floats(w->size, -1.0f, 1.0f, &rng);
    CHECK_OK(ctx, at_backward_seeded(ctx, w, R));
    free(R);
    CHECK(test_all_finite(q->grad, q->size) && test_all_finite(k->grad, k->size),
          "%s: gradients from the weights are finite", c->name);
    CHECK(test_all_zero(v->grad, v->size), "%s: the weights do not depend on v", c->name);
    int tq = c->tq ? c->tq : 1, G = c->B * (c->H ? c->H : 1), tk = c->tk;
    for (int r = 0; r < G * tq; r++) {
        int any = 0;
        for (int j = 0; j < tk; j++)
            any |= w->data[(size_t)r * tk + j] != 0.0f;
        int kept = 0; /* the G groups' score rows: group r / tq, query r % tq */
        for (int j = 0; j < tk; j++)
            kept |= test_mask_keeps(mask_of(&run->mask), G, r / tq, r % tq, j, tq, tk);
        if (kept) continue;
        CHECK(!any, "%s: row %d sees no key but has weights", c->name, r);
        for (int e = 0; e < c->d; e++)
            CHECK(q->grad[(size_t)r * c->d + e] == 0.0f, "%s: dq of the masked row %d", c->name, r);
    }
    at_ctx_free(ctx);
}

static void test_dot_attention(void) {
    static const dot_case cases[] = {
        {"dot 3-D", 2, 0, 3, 4, 5, 3, MASK_NONE, 1.0f},
        {"scaled dot 3-D, padding", 3, 0, 3, 5, 4, 2, MASK_PADDING, 0.0f},
        {"scaled dot 4-D H=2, full", 2, 2, 3, 4, 3, 5, MASK_FULL, 0.0f},
        {"scaled dot causal Tq>Tk", 2, 0, 5, 3, 4, 3, MASK_CAUSAL, 0.0f},
        {"dot 4-D H=3, padding+causal", 3, 3, 4, 4, 3, 2, MASK_PADDING_CAUSAL, 1.0f},
        {"scaled dot step (B, d), padding", 3, 0, 0, 5, 4, 3, MASK_PADDING, 0.0f},
        {"scaled dot T=1", 2, 0, 1, 1, 3, 2, MASK_NONE, 0.0f},
        {"scaled dot past one tile, padding+causal", 3, 0, 70, 90, 8, 5, MASK_PADDING_CAUSAL, 0.0f},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const dot_case *c = &cases[n];
        at_rng rng;
        at_rng_seed(&rng, 900 + n);
        dot_run run = {.c = c};
        int tq = c->tq ? c->tq : 1, G = c->B * (c->H ? c->H : 1);
        make_mask(&run.mask, c->mask_kind, c->B, G * tq, c->tk, &rng);
        int qs[4], ks[4], vs[4];
        int nq = dot_shape(c, c->tq, c->d, qs), nk = dot_shape(c, c->tk, c->d, ks);
        dot_shape(c, c->tk, c->dv, vs);
        float *data[3] = {test_random_floats(ati_shape_size(nq, qs), -1.5f, 1.5f, &rng),
                          test_random_floats(ati_shape_size(nk, ks), -1.5f, 1.5f, &rng),
                          test_random_floats(ati_shape_size(nk, vs), -1.0f, 1.0f, &rng)};
        gc_input inputs[3] = {gc_tensor("q", nq, qs, data[0]), gc_tensor("k", nk, ks, data[1]),
                              gc_tensor("v", nk, vs, data[2])};
        check_both(c->name, mask_names[c->mask_kind], 3, inputs, NULL, build_dot, &run, &run.parts);
        check_dot_masked_rows(c, &run, data);
        for (int i = 0; i < 3; i++)
            free(data[i]);
    }
}

/* The large case with 1 and 4 threads: the same gradients. */
static at_status dot_grads_with_threads(int threads, const dot_case *c, const test_mask *m,
                                        float *const data[3], float *out[2]) {
    at_ctx *ctx = test_new_ctx_with(3, threads);
    int shape[3][4];
    int nd = dot_shape(c, c->tq, c->d, shape[0]);
    dot_shape(c, c->tk, c->d, shape[1]);
    dot_shape(c, c->tk, c->dv, shape[2]);
    at_tensor *t[3], *ctxt = NULL, *w = NULL;
    at_status s = AT_OK;
    for (int i = 0; i < 3 && s == AT_OK; i++) {
        s = at_tensor_from(ctx, &t[i], nd, shape[i], data[i]);
        if (s == AT_OK) s = at_tensor_require_grad(ctx, t[i]);
    }
    if (s == AT_OK) s = at_dot_attention(ctx, t[0], t[1], t[2], c->scale, mask_of(m), &ctxt, &w);
    if (s == AT_OK && !w->grad) s = AT_ERR_STATE;
    if (s == AT_OK) {
        for (size_t i = 0; i < w->size; i++)
            w->grad[i] = (float)((i * 29) % 13) / 13.0f - 0.5f;
        float *seed = malloc(ctxt->size * sizeof(float));
        for (size_t i = 0; i < ctxt->size; i++)
            seed[i] = (float)((i * 7) % 5) / 5.0f - 0.4f;
        s = at_backward_seeded(ctx, ctxt, seed);
        free(seed);
    }
    if (s == AT_OK) {
        memcpy(out[0], t[0]->grad, t[0]->size * sizeof(float));
        memcpy(out[1], t[1]->grad, t[1]->size * sizeof(float));
    }
    at_ctx_free(ctx);
    return s;
}

static void test_dot_threads(void) {
    static const dot_case c = {"threads", 2, 2, 150, 130, 16, 8, MASK_PADDING_CAUSAL, 0.0f};
    at_rng rng;
    at_rng_seed(&rng, 950);
    test_mask m;
    make_mask(&m, c.mask_kind, c.B, 0, c.tk, &rng);
    size_t nq = (size_t)c.B * c.H * c.tq * c.d, nk = (size_t)c.B * c.H * c.tk * c.d;
    size_t nv = (size_t)c.B * c.H * c.tk * c.dv;
    float *data[3] = {test_random_floats(nq, -2.0f, 2.0f, &rng),
                      test_random_floats(nk, -2.0f, 2.0f, &rng),
                      test_random_floats(nv, -1.0f, 1.0f, &rng)};
    float *one[2] = {malloc(nq * sizeof(float)), malloc(nk * sizeof(float))};
    float *four[2] = {malloc(nq * sizeof(float)), malloc(nk * sizeof(float))};
    float *again[2] = {malloc(nq * sizeof(float)), malloc(nk * sizeof(float))};
    at_status s1 = dot_grads_with_threads(1, &c, &m, data, one);
    at_status s4 = dot_grads_with_threads(4, &c, &m, data, four);
    at_status s4b = dot_grads_with_threads(4, &c, &m, data, again);
    CHECK(s1 == AT_OK && s4 == AT_OK && s4b == AT_OK, "threads: runs failed (%s, %s, %s)",
          at_status_name(s1), at_status_name(s4), at_status_name(s4b));
    if (s1 == AT_OK && s4 == AT_OK && s4b == AT_OK) {
        check_close("dq from the weights, 4 threads vs 1", four[0], one[0], nq, 1e-6, 1e-5);
        check_close("dk from the weights, 4 threads vs 1", four[1], one[1], nk, 1e-6, 1e-5);
        CHECK(memcmp(four[0], again[0], nq * sizeof(float)) == 0 &&
                  memcmp(four[1], again[1], nk * sizeof(float)) == 0,
              "two runs with 4 threads differ in dq or dk");
    }
    for (int i = 0; i < 3; i++)
        free(data[i]);
    for (int i = 0; i < 2; i++)
        free(one[i]), free(four[i]), free(again[i]);
}

/* ------------------------------------------------------------ bilinear */

typedef struct layer_run {
    at_bilinear bilinear;
    at_luong luong;
    at_self_attention self;
    at_structured_attention structured;
    at_multi_head mha;
    test_mask mask;
    int parts;
} layer_run;

static at_status build_bilinear(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    layer_run *run = user;
    at_tensor *kp, *c, *w;
    AT_TRY(at_bilinear_project_keys(ctx, &run->bilinear, in[1], &kp));
    AT_TRY(at_bilinear_attend(ctx, &run->bilinear, in[0], kp, in[2], mask_of(&run->mask), &c, &w));
    return checked_output(ctx, run->parts, c, w, y);
}

static void test_bilinear(int B, int tq, int tk, int dq, int dk, int dv, int mask_kind) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 910 + (uint64_t)mask_kind);
    at_params *params;
    at_params_create(ctx, &params);
    layer_run run;
    CHECK_OK(ctx, at_bilinear_init(ctx, &run.bilinear, params, "general", dq, dk, &rng));
    make_mask(&run.mask, mask_kind, B, B * (tq ? tq : 1), tk, &rng);
    int qs[3] = {B, tq ? tq : dq, dq}, ks[3] = {B, tk, dk}, vs[3] = {B, tk, dv};
    float *q = test_random_floats((size_t)B * (tq ? tq : 1) * dq, -1.5f, 1.5f, &rng);
    float *k = test_random_floats((size_t)B * tk * dk, -1.5f, 1.5f, &rng);
    float *v = test_random_floats((size_t)B * tk * dv, -1.0f, 1.0f, &rng);
    gc_input inputs[3] = {gc_tensor("queries", tq ? 3 : 2, qs, q), gc_tensor("keys", 3, ks, k),
                          gc_tensor("values", 3, vs, v)};
    check_both(tq ? "bilinear" : "bilinear step (B, Dq)", mask_names[mask_kind], 3, inputs, params,
               build_bilinear, &run, &run.parts);
    free(q), free(k), free(v);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* -------------------------------------------------------- Luong global */

static at_status build_luong(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    layer_run *run = user;
    at_tensor *kp, *c, *w;
    AT_TRY(at_luong_project_keys(ctx, &run->luong, in[1], &kp));
    AT_TRY(at_luong_attend(ctx, &run->luong, in[0], kp, in[2], mask_of(&run->mask), &c, &w));
    return checked_output(ctx, run->parts, c, w, y);
}

static void test_luong(at_score score, int single_step, int mask_kind) {
    static const char *const scores[] = {"dot", "general", "concat", "location"};
    int B = 3, tq = single_step ? 1 : 3, tk = 5, dq = 4, dk = score == AT_SCORE_DOT ? 4 : 3;
    int dv = 2, A = 3, max_len = 7;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 920 + (uint64_t)score * 10 + (uint64_t)mask_kind);
    at_params *params;
    at_params_create(ctx, &params);
    layer_run run;
    CHECK_OK(ctx,
             at_luong_init(ctx, &run.luong, params, "attn", score, dq, dk, A, max_len, 0, &rng));
    make_mask(&run.mask, mask_kind, B, B * tq, tk, &rng);
    int qs[3] = {B, single_step ? dq : tq, dq}, ks[3] = {B, tk, dk}, vs[3] = {B, tk, dv};
    float *q = test_random_floats((size_t)B * tq * dq, -1.5f, 1.5f, &rng);
    float *k = test_random_floats((size_t)B * tk * dk, -1.5f, 1.5f, &rng);
    float *v = test_random_floats((size_t)B * tk * dv, -1.0f, 1.0f, &rng);
    gc_input inputs[3] = {gc_tensor("queries", single_step ? 2 : 3, qs, q),
                          gc_tensor("keys", 3, ks, k), gc_tensor("values", 3, vs, v)};
    char name[96];
    snprintf(name, sizeof name, "luong %s%s", scores[score], single_step ? " step (B, Dq)" : "");
    check_both(name, mask_names[mask_kind], 3, inputs, params, build_luong, &run, &run.parts);
    free(q), free(k), free(v);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ self-attention */

static at_status build_self(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    layer_run *run = user;
    at_tensor *c, *w;
    AT_TRY(at_self_attention_forward(ctx, &run->self, in[0], mask_of(&run->mask), &c, &w));
    return checked_output(ctx, run->parts, c, w, y);
}

static void test_self(int B, int T, int D, int dk, int dv, int mask_kind) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 940 + (uint64_t)mask_kind);
    at_params *params;
    at_params_create(ctx, &params);
    layer_run run;
    CHECK_OK(ctx, at_self_attention_init_sizes(ctx, &run.self, params, "self", D, dk, dv, &rng));
    make_mask(&run.mask, mask_kind, B, B * T, T, &rng);
    int xs[3] = {B, T, D};
    float *x = test_random_floats((size_t)B * T * D, -1.5f, 1.5f, &rng);
    gc_input input = gc_tensor("x", 3, xs, x);
    char name[96];
    snprintf(name, sizeof name, "self-attention d_k %d d_v %d", dk, dv);
    check_both(name, mask_names[mask_kind], 1, &input, params, build_self, &run, &run.parts);
    free(x);
    at_params_free(params);
    at_ctx_free(ctx);
}

static at_status build_structured(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    layer_run *run = user;
    at_tensor *M, *A;
    AT_TRY(
        at_structured_attention_forward(ctx, &run->structured, in[0], mask_of(&run->mask), &M, &A));
    return checked_output(ctx, run->parts, M, A, y);
}

static void test_structured(int mask_kind) {
    int B = 3, T = 4, D = 3, da = 4, r = 2;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 945);
    at_params *params;
    at_params_create(ctx, &params);
    layer_run run;
    CHECK_OK(ctx,
             at_structured_attention_init(ctx, &run.structured, params, "lin", D, da, r, &rng));
    make_mask(&run.mask, mask_kind, B, B * r, T, &rng);
    int hs[3] = {B, T, D};
    float *h = test_random_floats((size_t)B * T * D, -2.0f, 2.0f, &rng);
    gc_input input = gc_tensor("h", 3, hs, h);
    check_both("structured self-attention", mask_names[mask_kind], 1, &input, params,
               build_structured, &run, &run.parts);
    free(h);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ---------------------------------------------------------- multi-head */

typedef struct mha_case {
    const char *name;
    int B, tq, tk, E, H, kdim, vdim, out; /* tq = 0: a step query (B, E); 0 sizes = E */
    int mask_kind;
} mha_case;

static at_status build_mha(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    layer_run *run = user;
    at_tensor *out, *w;
    AT_TRY(
        at_multi_head_forward(ctx, &run->mha, in[0], in[1], in[2], mask_of(&run->mask), &out, &w));
    return checked_output(ctx, run->parts, out, w, y);
}

static void test_multi_head(void) {
    static const mha_case cases[] = {
        {"multi-head H=2", 2, 3, 4, 4, 2, 0, 0, 0, MASK_NONE},
        {"multi-head H=2", 3, 2, 5, 4, 2, 0, 0, 0, MASK_PADDING},
        {"multi-head H=3 Tq>Tk", 2, 4, 3, 6, 3, 0, 0, 0, MASK_CAUSAL},
        {"multi-head H=2", 2, 2, 3, 4, 2, 0, 0, 0, MASK_FULL},
        {"multi-head step (B, E)", 3, 0, 4, 4, 2, 0, 0, 0, MASK_PADDING},
        {"multi-head kdim 3 vdim 5 out 2", 3, 3, 4, 4, 2, 3, 5, 2, MASK_PADDING_CAUSAL},
    };
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const mha_case *c = &cases[n];
        at_ctx *ctx = test_new_ctx();
        at_rng rng;
        at_rng_seed(&rng, 960 + n);
        at_params *params;
        at_params_create(ctx, &params);
        layer_run run;
        CHECK_OK(ctx, at_multi_head_init_sizes(ctx, &run.mha, params, "mha", c->E, c->H, c->kdim,
                                               c->vdim, c->out, &rng));
        test_jitter_params(params, &rng, 0.3f);
        int tq = c->tq ? c->tq : 1, kdim = c->kdim ? c->kdim : c->E;
        int vdim = c->vdim ? c->vdim : c->E;
        make_mask(&run.mask, c->mask_kind, c->B, c->B * c->H * tq, c->tk, &rng);
        int qs[3] = {c->B, c->tq ? c->tq : c->E, c->E}, ks[3] = {c->B, c->tk, kdim};
        int vs[3] = {c->B, c->tk, vdim};
        float *query = test_random_floats((size_t)c->B * tq * c->E, -1.5f, 1.5f, &rng);
        float *key = test_random_floats((size_t)c->B * c->tk * kdim, -1.5f, 1.5f, &rng);
        float *value = test_random_floats((size_t)c->B * c->tk * vdim, -1.0f, 1.0f, &rng);
        gc_input inputs[3] = {gc_tensor("query", c->tq ? 3 : 2, qs, query),
                              gc_tensor("key", 3, ks, key), gc_tensor("value", 3, vs, value)};
        check_both(c->name, mask_names[c->mask_kind], 3, inputs, params, build_mha, &run,
                   &run.parts);
        free(query), free(key), free(value);
        at_params_free(params);
        at_ctx_free(ctx);
    }
}

int main(void) {
    test_dot_attention();
    test_dot_threads();
    test_bilinear(3, 2, 4, 3, 5, 2, MASK_PADDING);
    test_bilinear(2, 4, 3, 2, 3, 2, MASK_CAUSAL);
    test_bilinear(2, 0, 4, 3, 2, 3, MASK_NONE);
    for (int score = AT_SCORE_DOT; score <= AT_SCORE_LOCATION; score++) {
        test_luong((at_score)score, 0, MASK_PADDING);
        test_luong((at_score)score, 0, MASK_CAUSAL);
        test_luong((at_score)score, 1, MASK_PADDING);
    }
    test_self(2, 4, 5, 3, 3, MASK_NONE);
    test_self(2, 4, 3, 2, 4, MASK_CAUSAL);
    test_self(3, 3, 4, 3, 2, MASK_PADDING);
    test_structured(MASK_PADDING);
    test_structured(MASK_NONE);
    test_multi_head();
    return test_finish("attention weight gradients, dot families");
}
