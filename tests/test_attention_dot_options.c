/*
 * test_attention_dot_options.c - the shapes and options issue 9 added to the
 * dot-product families, each against a naive double-precision reference
 * written here from the equations and by finite differences (gc_check):
 *
 *   - at_dot_attention takes a decoder step q (B, d), as the header's
 *     attention section promises: the same numbers and gradients as the
 *     (B, 1, d) call, context (B, dv), weights (B, Tk);
 *   - self-attention with d_k ≠ d_v (W_V (d_v, D), out (B, T, d_v));
 *   - multi-head with kdim, vdim and an output size O different from E,
 *     under torch's names (q_proj_weight, k_proj_weight, v_proj_weight
 *     when kdim or vdim differ from E; in_proj_weight otherwise);
 *   - at_luong_attentional with values of size Dv ≠ Dk
 *     (at_luong_init_attentional);
 *   - the structured penalty per batch row (at_structured_penalty_rows);
 *   - every _init of the dot families and of the layers with rng == NULL:
 *     all parameters zero, the forward runs and gives finite numbers.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static gc_input gc_tensor(const char *name, int ndim, const int *shape, float *values) {
    gc_input in = {name, ndim, {1, 1, 1, 1}, values};
    for (int i = 0; i < ndim; i++)
        in.shape[i] = shape[i];
    return in;
}

/* y = x Wᵀ (+ b) in double for one row: x (in), W (out, in), b (out) or NULL. */
static void naive_linear(int in, int out, const float *x, const float *W, const float *b,
                         double *y) {
    for (int o = 0; o < out; o++) {
        double acc = b ? b[o] : 0.0;
        for (int i = 0; i < in; i++)
            acc += (double)W[(size_t)o * in + i] * x[i];
        y[o] = acc;
    }
}

/* One query row against tk keys: weights (tk) and context (dv), in double.
 * keep: NULL or tk bytes. */
static void naive_attend_row(int tk, int d, int dv, double scale, const double *q, const double *K,
                             const double *V, const uint8_t *keep, double *w, double *c) {
    double top = -INFINITY, total = 0.0;
    for (int j = 0; j < tk; j++) {
        double s = 0.0;
        for (int e = 0; e < d; e++)
            s += q[e] * K[(size_t)j * d + e];
        w[j] = keep && !keep[j] ? -INFINITY : scale * s;
        if (w[j] > top) top = w[j];
    }
    for (int j = 0; j < tk; j++) {
        w[j] = isfinite(w[j]) ? exp(w[j] - top) : 0.0;
        total += w[j];
    }
    for (int e = 0; e < dv; e++)
        c[e] = 0.0;
    for (int j = 0; j < tk; j++) {
        w[j] = total > 0 ? w[j] / total : 0.0;
        for (int e = 0; e < dv; e++)
            c[e] += w[j] * V[(size_t)j * dv + e];
    }
}

static int is_shape(const at_tensor *t, int ndim, int d0, int d1, int d2) {
    int want[3] = {d0, d1, d2};
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return 0;
    return 1;
}

/* ------------------------------------------- at_dot_attention, one step */

/* q (B, d) and q (B, 1, d): the same context, weights and gradients. */
static void test_dot_step_queries(void) {
    int B = 3, tk = 5, d = 4, dv = 3;
    at_rng rng;
    at_rng_seed(&rng, 1);
    float *qd = test_random_floats((size_t)B * d, -1.5f, 1.5f, &rng);
    float *kd = test_random_floats((size_t)B * tk * d, -1.5f, 1.5f, &rng);
    float *vd = test_random_floats((size_t)B * tk * dv, -1.0f, 1.0f, &rng);
    float *dc = test_random_floats((size_t)B * dv, -1.0f, 1.0f, &rng);
    float *dw = test_random_floats((size_t)B * tk, -1.0f, 1.0f, &rng);
    int lengths[3] = {5, 0, 2};
    uint8_t *keep = test_mask_from_lengths(B, tk, lengths);
    at_attn_mask mask = {keep, B, 0};
    float *grads[2][3] = {{0}};
    at_tensor *ctx_out[2] = {0}, *w_out[2] = {0};
    at_ctx *ctxs[2];
    for (int form = 0; form < 2; form++) { /* 0: (B, d), 1: (B, 1, d) */
        at_ctx *ctx = ctxs[form] = test_new_ctx();
        at_tensor *q, *k, *v, *c = NULL, *w = NULL;
        at_tensor_from(ctx, &q, form ? 3 : 2, form ? (int[]){B, 1, d} : (int[]){B, d}, qd);
        at_tensor_from(ctx, &k, 3, (int[]){B, tk, d}, kd);
        at_tensor_from(ctx, &v, 3, (int[]){B, tk, dv}, vd);
        at_tensor_require_grad(ctx, q);
        at_tensor_require_grad(ctx, k);
        at_tensor_require_grad(ctx, v);
        CHECK_OK(ctx, at_dot_attention(ctx, q, k, v, 0.0f, &mask, &c, &w));
        if (!c || !w) continue;
        ctx_out[form] = c;
        w_out[form] = w;
        if (form == 0) {
            CHECK(is_shape(c, 2, B, dv, 0), "a step q (B, d) gives context (B, dv)");
            CHECK(is_shape(w, 2, B, tk, 0), "a step q (B, d) gives weights (B, Tk)");
        }
        if (w->grad) memcpy(w->grad, dw, (size_t)B * tk * sizeof(float));
        CHECK_OK(ctx, at_backward_seeded(ctx, c, dc));
        grads[form][0] = q->grad, grads[form][1] = k->grad, grads[form][2] = v->grad;
    }
    if (ctx_out[0] && ctx_out[1]) {
        check_close("step context vs (B, 1, d)", ctx_out[0]->data, ctx_out[1]->data, (size_t)B * dv,
                    0.0, 0.0);
        check_close("step weights vs (B, 1, d)", w_out[0]->data, w_out[1]->data, (size_t)B * tk,
                    0.0, 0.0);
        size_t sizes[3] = {(size_t)B * d, (size_t)B * tk * d, (size_t)B * tk * dv};
        const char *names[3] = {"dq", "dk", "dv"};
        for (int i = 0; i < 3; i++) {
            char what[64];
            snprintf(what, sizeof what, "step %s vs (B, 1, d)", names[i]);
            check_close(what, grads[0][i], grads[1][i], sizes[i], 0.0, 0.0);
        }
        /* batch row 1 keeps nothing: zero weights, zero context, no NaN */
        CHECK(test_all_zero(w_out[0]->data + tk, (size_t)tk) &&
                  test_all_zero(ctx_out[0]->data + dv, (size_t)dv),
              "a fully masked step row gives zeros");
    }
    /* a step q whose d differs from k's, or k of another rank, is a shape error */
    at_ctx *ctx = test_new_ctx();
    at_tensor *q, *k, *k4, *c = NULL;
    at_tensor_new(ctx, &q, 2, (int[]){B, d + 1});
    at_tensor_new(ctx, &k, 3, (int[]){B, tk, d});
    at_tensor_new(ctx, &k4, 4, (int[]){B, 1, tk, d + 1});
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k, k, 0.0f, NULL, &c, NULL), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_dot_attention(ctx, q, k4, k4, 0.0f, NULL, &c, NULL), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "(B, d)") != NULL, "the message names the step form: %s",
          at_ctx_error(ctx));
    at_ctx_free(ctx);
    at_ctx_free(ctxs[0]);
    at_ctx_free(ctxs[1]);
    free(qd), free(kd), free(vd), free(dc), free(dw), free(keep);
}

/* ------------------------------------------------ self-attention d_k ≠ d_v */

typedef struct self_run {
    at_self_attention layer;
    at_attn_mask mask;
} self_run;

static at_status build_self(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    self_run *run = user;
    at_tensor *out, *w;
    AT_TRY(at_self_attention_forward(ctx, &run->layer, in[0], &run->mask, &out, &w));
    return gc_join_outputs(ctx, y, 2, (at_tensor *[]){out, w});
}

static void test_self_attention_sizes(void) {
    int B = 2, T = 4, D = 5, dk = 3, dv = 6;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 2);
    at_params *params;
    at_params_create(ctx, &params);
    self_run run = {.mask = {NULL, 0, 1}};
    CHECK_OK(ctx, at_self_attention_init_sizes(ctx, &run.layer, params, "self", D, dk, dv, &rng));
    CHECK(is_shape(at_params_find(params, "self.W_Q"), 2, dk, D, 0) &&
              is_shape(at_params_find(params, "self.W_K"), 2, dk, D, 0) &&
              is_shape(at_params_find(params, "self.W_V"), 2, dv, D, 0),
          "self-attention W_Q, W_K (d_k, D) and W_V (d_v, D)");
    CHECK(run.layer.head_size == dk && run.layer.value_size == dv, "sizes kept in the layer");
    float *xd = test_random_floats((size_t)B * T * D, -1.0f, 1.0f, &rng);
    at_tensor *x, *out = NULL, *w = NULL;
    at_tensor_from(ctx, &x, 3, (int[]){B, T, D}, xd);
    CHECK_OK(ctx, at_self_attention_forward(ctx, &run.layer, x, &run.mask, &out, &w));
    if (out && w) {
        CHECK(is_shape(out, 3, B, T, dv), "self-attention out (B, T, d_v)");
        double *want_o = malloc((size_t)B * T * dv * sizeof(double));
        double *want_w = malloc((size_t)B * T * T * sizeof(double));
        double *Q = malloc((size_t)T * dk * sizeof(double)),
               *K = malloc((size_t)T * dk * sizeof(double));
        double *V = malloc((size_t)T * dv * sizeof(double));
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const float *xt = xd + ((size_t)b * T + t) * D;
                naive_linear(D, dk, xt, run.layer.W_Q->data, NULL, Q + (size_t)t * dk);
                naive_linear(D, dk, xt, run.layer.W_K->data, NULL, K + (size_t)t * dk);
                naive_linear(D, dv, xt, run.layer.W_V->data, NULL, V + (size_t)t * dv);
            }
            for (int i = 0; i < T; i++) {
                uint8_t keep[4];
                for (int j = 0; j < T; j++)
                    keep[j] = j <= i; /* causal */
                size_t r = (size_t)b * T + i;
                naive_attend_row(T, dk, dv, 1.0 / sqrt((double)dk), Q + (size_t)i * dk, K, V, keep,
                                 want_w + r * T, want_o + r * dv);
            }
        }
        check_close_to_double("self-attention d_k ≠ d_v out", out->data, want_o, (size_t)B * T * dv,
                              1e-5, 1e-4);
        check_close_to_double("self-attention d_k ≠ d_v weights", w->data, want_w,
                              (size_t)B * T * T, 1e-6, 1e-4);
        free(want_o), free(want_w), free(Q), free(K), free(V);
    }
    gc_input input = gc_tensor("x", 3, (int[]){B, T, D}, xd);
    gc_check("self-attention d_k 3, d_v 6, causal: out and weights", 1, &input, params, build_self,
             &run, NULL);
    /* a hand-made layer whose W_V does not fit value_size is a shape error */
    self_run broken = run;
    broken.layer.value_size = dk;
    CHECK_STATUS(ctx, at_self_attention_forward(ctx, &broken.layer, x, NULL, &out, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_self_attention_init_sizes(ctx, &run.layer, params, "s2", D, dk, 0, &rng),
                 AT_ERR_ARGUMENT);
    free(xd);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ---------------------------------------------- multi-head kdim, vdim, O */

typedef struct mha_run {
    at_multi_head layer;
    at_attn_mask mask;
    int step;
} mha_run;

/* out (B, tq, O) and weights (B, H, tq, tk) of the separate-projection
 * layout, from the definition. */
static void naive_mha(const mha_run *run, int B, int tq, int tk, const float *query,
                      const float *key, const float *value, double *out, double *weights) {
    const at_multi_head *l = &run->layer;
    int E = l->embed_dim, H = l->heads, hd = E / H, kd = l->kdim, vd = l->vdim, O = l->out_dim;
    const float *bias = l->in_proj_bias->data;
    double *Q = malloc((size_t)tq * E * sizeof(double)),
           *K = malloc((size_t)tk * E * sizeof(double));
    double *V = malloc((size_t)tk * E * sizeof(double)),
           *merged = malloc((size_t)E * sizeof(double));
    double *Qh = malloc((size_t)hd * sizeof(double)),
           *Kh = malloc((size_t)tk * hd * sizeof(double));
    double *Vh = malloc((size_t)tk * hd * sizeof(double)),
           *head = malloc((size_t)hd * sizeof(double));
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < tq; t++)
            naive_linear(E, E, query + ((size_t)b * tq + t) * E, l->q_proj_weight->data, bias,
                         Q + (size_t)t * E);
        for (int t = 0; t < tk; t++) {
            naive_linear(kd, E, key + ((size_t)b * tk + t) * kd, l->k_proj_weight->data, bias + E,
                         K + (size_t)t * E);
            naive_linear(vd, E, value + ((size_t)b * tk + t) * vd, l->v_proj_weight->data,
                         bias + 2 * E, V + (size_t)t * E);
        }
        for (int i = 0; i < tq; i++) {
            for (int h = 0; h < H; h++) {
                for (int e = 0; e < hd; e++)
                    Qh[e] = Q[(size_t)i * E + h * hd + e];
                for (int j = 0; j < tk; j++)
                    for (int e = 0; e < hd; e++) {
                        Kh[(size_t)j * hd + e] = K[(size_t)j * E + h * hd + e];
                        Vh[(size_t)j * hd + e] = V[(size_t)j * E + h * hd + e];
                    }
                uint8_t keep[16];
                for (int j = 0; j < tk; j++)
                    keep[j] = test_mask_keeps(&run->mask, B * H, b * H + h, i, j, tq, tk);
                double *w = weights + (((size_t)b * H + h) * tq + i) * tk;
                naive_attend_row(tk, hd, hd, 1.0 / sqrt((double)hd), Qh, Kh, Vh, keep, w, head);
                for (int e = 0; e < hd; e++)
                    merged[h * hd + e] = head[e];
            }
            double *o = out + ((size_t)b * tq + i) * O;
            for (int k = 0; k < O; k++) {
                o[k] = l->out_proj_bias->data[k];
                for (int e = 0; e < E; e++)
                    o[k] += l->out_proj_weight->data[(size_t)k * E + e] * merged[e];
            }
        }
    }
    free(Q), free(K), free(V), free(merged), free(Qh), free(Kh), free(Vh), free(head);
}

static at_status build_mha(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    mha_run *run = user;
    at_tensor *kh, *vh, *out, *w;
    AT_TRY(at_multi_head_project_kv(ctx, &run->layer, in[1], in[2], &kh, &vh));
    AT_TRY(at_multi_head_attend(ctx, &run->layer, in[0], kh, vh, &run->mask, &out, &w));
    return gc_join_outputs(ctx, y, 2, (at_tensor *[]){out, w});
}

static void test_multi_head_sizes(void) {
    int B = 3, tq = 3, tk = 4, E = 4, H = 2, kd = 3, vd = 5, O = 6;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 3);
    at_params *params;
    at_params_create(ctx, &params);
    mha_run run = {0};
    CHECK_OK(ctx, at_multi_head_init_sizes(ctx, &run.layer, params, "mha", E, H, kd, vd, O, &rng));
    /* torch's names and order when kdim, vdim != E */
    static const char *const names[6] = {"mha.q_proj_weight",   "mha.k_proj_weight",
                                         "mha.v_proj_weight",   "mha.in_proj_bias",
                                         "mha.out_proj.weight", "mha.out_proj.bias"};
    const int shapes[6][2] = {{E, E}, {E, kd}, {E, vd}, {3 * E, 0}, {O, E}, {O, 0}};
    CHECK(at_params_count(params) == 6, "multi-head with kdim/vdim has 6 parameters, not %d",
          at_params_count(params));
    for (int i = 0; i < 6 && i < at_params_count(params); i++) {
        at_tensor *t = at_params_get(params, i);
        CHECK(strcmp(t->name, names[i]) == 0 &&
                  is_shape(t, shapes[i][1] ? 2 : 1, shapes[i][0], shapes[i][1], 0),
              "parameter %d is %s, expected %s", i, t->name, names[i]);
    }
    CHECK(run.layer.in_proj_weight == NULL, "no packed in_proj_weight when kdim != E");
    /* torch's init: xavier on each projection, zero biases */
    float a_k = sqrtf(6.0f / (float)(kd + E)), top = 0.0f;
    for (size_t i = 0; i < run.layer.k_proj_weight->size; i++)
        top = fmaxf(top, fabsf(run.layer.k_proj_weight->data[i]));
    CHECK(top <= a_k && top > 0.5f * a_k, "k_proj_weight within ±%g: max %g", a_k, top);
    CHECK(test_all_zero(run.layer.in_proj_bias->data, 3 * (size_t)E) &&
              test_all_zero(run.layer.out_proj_bias->data, (size_t)O),
          "biases start at zero");
    test_jitter_params(params, &rng, 0.4f);

    int lengths[3] = {4, 2, 3};
    uint8_t *keep = test_mask_from_lengths(B, tk, lengths);
    run.mask = (at_attn_mask){keep, B, 1};
    float *query = test_random_floats((size_t)B * tq * E, -1.0f, 1.0f, &rng);
    float *key = test_random_floats((size_t)B * tk * kd, -1.0f, 1.0f, &rng);
    float *value = test_random_floats((size_t)B * tk * vd, -1.0f, 1.0f, &rng);
    at_tensor *q, *k, *v, *out = NULL, *w = NULL;
    at_tensor_from(ctx, &q, 3, (int[]){B, tq, E}, query);
    at_tensor_from(ctx, &k, 3, (int[]){B, tk, kd}, key);
    at_tensor_from(ctx, &v, 3, (int[]){B, tk, vd}, value);
    CHECK_OK(ctx, at_multi_head_forward(ctx, &run.layer, q, k, v, &run.mask, &out, &w));
    if (out && w) {
        CHECK(is_shape(out, 3, B, tq, O), "multi-head out (B, Tq, O)");
        double *want_o = malloc((size_t)B * tq * O * sizeof(double));
        double *want_w = malloc((size_t)B * H * tq * tk * sizeof(double));
        naive_mha(&run, B, tq, tk, query, key, value, want_o, want_w);
        check_close_to_double("multi-head kdim/vdim/O out", out->data, want_o, (size_t)B * tq * O,
                              1e-5, 1e-4);
        check_close_to_double("multi-head kdim/vdim/O weights", w->data, want_w,
                              (size_t)B * H * tq * tk, 1e-6, 1e-4);
        free(want_o), free(want_w);
    }
    /* a decoder step (B, E) -> (B, O), weights (B, H, Tk) */
    at_tensor *q1, *kh = NULL, *vh = NULL, *o1 = NULL, *w1 = NULL;
    at_tensor_from(ctx, &q1, 2, (int[]){B, E}, query);
    CHECK_OK(ctx, at_multi_head_project_kv(ctx, &run.layer, k, v, &kh, &vh));
    CHECK_OK(ctx, at_multi_head_attend(ctx, &run.layer, q1, kh, vh, NULL, &o1, &w1));
    CHECK(is_shape(o1, 2, B, O, 0) && is_shape(w1, 3, B, H, tk), "multi-head step shapes");
    /* key with E columns (not kdim), value with kdim: shape errors */
    CHECK_STATUS(ctx, at_multi_head_forward(ctx, &run.layer, q, q, v, NULL, &out, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_multi_head_forward(ctx, &run.layer, q, k, k, NULL, &out, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx,
                 at_multi_head_init_sizes(ctx, &run.layer, params, "bad", E, H, -1, 0, 0, &rng),
                 AT_ERR_ARGUMENT);

    gc_input inputs[3] = {gc_tensor("query", 3, (int[]){B, tq, E}, query),
                          gc_tensor("key", 3, (int[]){B, tk, kd}, key),
                          gc_tensor("value", 3, (int[]){B, tk, vd}, value)};
    gc_check("multi-head kdim 3, vdim 5, O 6, padding+causal: out and weights", 3, inputs, params,
             build_mha, &run, NULL);
    at_params_free(params);

    /* kdim = vdim = E through _init_sizes: torch's packed layout, O may still differ */
    at_params_create(ctx, &params);
    at_multi_head packed;
    CHECK_OK(ctx, at_multi_head_init_sizes(ctx, &packed, params, "p", E, H, E, 0, O, &rng));
    CHECK(at_params_find(params, "p.in_proj_weight") &&
              !at_params_find(params, "p.q_proj_weight") &&
              is_shape(at_params_find(params, "p.out_proj.weight"), 2, O, E, 0),
          "kdim = vdim = E: one in_proj_weight, out_proj.weight (O, E)");
    at_params_free(params);
    free(query), free(key), free(value), free(keep);
    at_ctx_free(ctx);
}

/* ------------------------------------------- Luong attentional, Dv ≠ Dk */

typedef struct luong_run {
    at_luong layer;
} luong_run;

static at_status build_luong(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    luong_run *run = user;
    at_tensor *kp, *c, *w, *ht;
    AT_TRY(at_luong_project_keys(ctx, &run->layer, in[1], &kp));
    AT_TRY(at_luong_attend(ctx, &run->layer, in[0], kp, in[2], NULL, &c, &w));
    AT_TRY(at_luong_attentional(ctx, &run->layer, c, in[0], &ht));
    return gc_join_outputs(ctx, y, 2, (at_tensor *[]){ht, w});
}

static void test_luong_attentional_values(void) {
    int B = 2, tq = 3, tk = 4, dq = 3, dk = 5, dv = 2, dc = 4;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 4);
    at_params *params;
    at_params_create(ctx, &params);
    luong_run run;
    CHECK_OK(ctx, at_luong_init(ctx, &run.layer, params, "attn", AT_SCORE_GENERAL, dq, dk, 0, 0, 0,
                                &rng));
    CHECK_OK(ctx, at_luong_init_attentional(ctx, &run.layer, params, "attn", dv, dc, &rng));
    CHECK(is_shape(at_params_find(params, "attn.W_c"), 2, dc, dv + dq, 0), "W_c is (Dc, Dv + Dq)");
    CHECK_STATUS(ctx, at_luong_init_attentional(ctx, &run.layer, params, "again", dv, dc, &rng),
                 AT_ERR_ARGUMENT);
    float *qd = test_random_floats((size_t)B * tq * dq, -1.0f, 1.0f, &rng);
    float *kd = test_random_floats((size_t)B * tk * dk, -1.0f, 1.0f, &rng);
    float *vd = test_random_floats((size_t)B * tk * dv, -1.0f, 1.0f, &rng);
    at_tensor *q, *k, *v, *kp = NULL, *c = NULL, *ht = NULL;
    at_tensor_from(ctx, &q, 3, (int[]){B, tq, dq}, qd);
    at_tensor_from(ctx, &k, 3, (int[]){B, tk, dk}, kd);
    at_tensor_from(ctx, &v, 3, (int[]){B, tk, dv}, vd);
    CHECK_OK(ctx, at_luong_project_keys(ctx, &run.layer, k, &kp));
    CHECK_OK(ctx, at_luong_attend(ctx, &run.layer, q, kp, v, NULL, &c, NULL));
    CHECK_OK(ctx, at_luong_attentional(ctx, &run.layer, c, q, &ht));
    if (c && ht) {
        CHECK(is_shape(ht, 3, B, tq, dc), "h̃ (B, Tq, Dc)");
        double want[2 * 3 * 4], cat[2 + 3];
        for (int r = 0; r < B * tq; r++) {
            for (int e = 0; e < dv; e++)
                cat[e] = c->data[(size_t)r * dv + e];
            for (int e = 0; e < dq; e++)
                cat[dv + e] = qd[(size_t)r * dq + e];
            for (int o = 0; o < dc; o++) {
                double acc = 0.0;
                for (int e = 0; e < dv + dq; e++)
                    acc += run.layer.W_c->data[o * (dv + dq) + e] * cat[e];
                want[r * dc + o] = tanh(acc);
            }
        }
        check_close_to_double("h̃ = tanh(W_c [c; h]) with Dv ≠ Dk", ht->data, want,
                              (size_t)B * tq * dc, 1e-5, 1e-4);
    }
    /* a context of Dk columns does not fit W_c's Dv */
    at_tensor *wrong;
    at_tensor_new(ctx, &wrong, 3, (int[]){B, tq, dk});
    CHECK_STATUS(ctx, at_luong_attentional(ctx, &run.layer, wrong, q, &ht), AT_ERR_SHAPE);
    gc_input inputs[3] = {gc_tensor("queries", 3, (int[]){B, tq, dq}, qd),
                          gc_tensor("keys", 3, (int[]){B, tk, dk}, kd),
                          gc_tensor("values", 3, (int[]){B, tk, dv}, vd)};
    gc_check("luong general, h̃ with Dv 2 ≠ Dk 5, and weights", 3, inputs, params, build_luong, &run,
             NULL);
    free(qd), free(kd), free(vd);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* --------------------------------------------- structured penalty per row */

static at_status build_penalty_rows(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    (void)user;
    return at_structured_penalty_rows(ctx, in[0], y);
}

typedef struct structured_run {
    at_structured_attention layer;
    at_attn_mask mask;
} structured_run;

static at_status build_structured_rows(at_ctx *ctx, at_tensor *const *in, void *user,
                                       at_tensor **y) {
    structured_run *run = user;
    at_tensor *M, *A;
    AT_TRY(at_structured_attention_forward(ctx, &run->layer, in[0], &run->mask, &M, &A));
    return at_structured_penalty_rows(ctx, A, y);
}

static void test_penalty_rows(void) {
    int B = 3, r = 2, T = 4;
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 5);
    float *ad = test_random_floats((size_t)B * r * T, 0.0f, 1.0f, &rng);
    at_tensor *A, *rows = NULL, *mean = NULL;
    at_tensor_from(ctx, &A, 3, (int[]){B, r, T}, ad);
    CHECK_OK(ctx, at_structured_penalty_rows(ctx, A, &rows));
    CHECK_OK(ctx, at_structured_penalty(ctx, A, &mean));
    if (rows && mean) {
        CHECK(is_shape(rows, 1, B, 0, 0), "per-row penalties (B)");
        double want[3], total = 0.0;
        for (int b = 0; b < B; b++) {
            want[b] = 0.0;
            for (int p = 0; p < r; p++)
                for (int q = 0; q < r; q++) {
                    double g = p == q ? -1.0 : 0.0;
                    for (int t = 0; t < T; t++)
                        g += (double)ad[(b * r + p) * T + t] * ad[(b * r + q) * T + t];
                    want[b] += g * g;
                }
            total += want[b];
        }
        check_close_to_double("P_b = ‖A_b A_bᵀ − I‖²", rows->data, want, 3, 1e-6, 1e-5);
        double want_mean = total / B;
        check_close_to_double("the mean of P_b is at_structured_penalty", mean->data, &want_mean, 1,
                              1e-6, 1e-5);
    }
    CHECK_STATUS(ctx, at_structured_penalty_rows(ctx, NULL, &rows), AT_ERR_ARGUMENT);
    at_tensor *flat;
    at_tensor_new(ctx, &flat, 2, (int[]){B, T});
    CHECK_STATUS(ctx, at_structured_penalty_rows(ctx, flat, &rows), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_structured_penalty_rows(ctx, A, NULL), AT_ERR_ARGUMENT);
    gc_input input = gc_tensor("A", 3, (int[]){B, r, T}, ad);
    gc_check("per-row structured penalty w.r.t. A", 1, &input, NULL, build_penalty_rows, NULL,
             NULL);

    /* through the layer, padding with one empty batch row */
    at_params *params;
    at_params_create(ctx, &params);
    structured_run run;
    CHECK_OK(ctx, at_structured_attention_init(ctx, &run.layer, params, "lin", 3, 4, r, &rng));
    int lengths[3] = {4, 0, 2};
    uint8_t *keep = test_mask_from_lengths(B, T, lengths);
    run.mask = (at_attn_mask){keep, B, 0};
    float *hd = test_random_floats((size_t)B * T * 3, -2.0f, 2.0f, &rng);
    gc_input h = gc_tensor("h", 3, (int[]){B, T, 3}, hd);
    gc_check("per-row structured penalty through the layer, padding", 1, &h, params,
             build_structured_rows, &run, NULL);
    free(hd), free(keep), free(ad);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------- rng == NULL */

/* Every parameter of the set is exactly zero. */
static void check_params_zero(const char *what, const at_params *params) {
    int n = at_params_count(params), bad = -1;
    for (int i = 0; i < n && bad < 0; i++) {
        const at_tensor *t = at_params_get(params, i);
        if (!test_all_zero(t->data, t->size)) bad = i;
    }
    CHECK(n > 0 && bad < 0, "%s with rng NULL: %d parameters, %s is not zero", what, n,
          bad >= 0 ? at_params_get(params, bad)->name : "none");
}

static void check_output(const char *what, const at_tensor *out) {
    CHECK(out && test_all_finite(out->data, out->size), "%s with rng NULL: a finite output", what);
}

static void test_null_rng(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 6);
    int B = 2, T = 3, D = 4;
    float *xd = test_random_floats((size_t)B * T * D, -1.0f, 1.0f, &rng);
    at_tensor *x, *out = NULL, *w = NULL, *kp = NULL, *h_n = NULL;
    at_tensor_from(ctx, &x, 3, (int[]){B, T, D}, xd);
    at_params *params;

    /* the init functions themselves */
    float block[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(ctx, at_init_orthogonal(ctx, block, 2, 3, 1.0f, NULL));
    CHECK(block[0] == 1 && block[5] == 6, "at_init_orthogonal with rng NULL leaves the block");
    at_tensor *filled;
    at_tensor_from(ctx, &filled, 1, (int[]){3}, (float[]){7, 8, 9});
    at_init_uniform(filled, -1, 1, NULL);
    at_init_normal(filled, 0, 1, NULL);
    at_init_glorot_uniform(filled, 3, 3, 1.0f, NULL);
    CHECK(filled->data[0] == 7 && filled->data[2] == 9, "at_init_* with rng NULL leave the values");

    /* each family: made with rng NULL, all zero, the forward gives finite numbers */
    at_tensor *k3, *v5, *c2;
    float *k3d = test_random_floats((size_t)B * T * 3, -1.0f, 1.0f, &rng);
    float *v5d = test_random_floats((size_t)B * T * 5, -1.0f, 1.0f, &rng);
    at_tensor_from(ctx, &k3, 3, (int[]){B, T, 3}, k3d);
    at_tensor_from(ctx, &v5, 3, (int[]){B, T, 5}, v5d);
    at_tensor_from(ctx, &c2, 3, (int[]){B, T, 2}, v5d);

    at_params_create(ctx, &params);
    at_bilinear bil;
    CHECK_OK(ctx, at_bilinear_init(ctx, &bil, params, "b", D, 3, NULL));
    check_params_zero("bilinear", params);
    CHECK_OK(ctx, at_bilinear_project_keys(ctx, &bil, k3, &kp));
    CHECK_OK(ctx, at_bilinear_attend(ctx, &bil, x, kp, v5, NULL, &out, &w));
    check_output("bilinear", out);
    at_params_free(params);

    at_params_create(ctx, &params);
    at_self_attention sa;
    CHECK_OK(ctx, at_self_attention_init(ctx, &sa, params, "s", D, 2, NULL));
    CHECK_OK(ctx, at_self_attention_init_sizes(ctx, &sa, params, "t", D, 2, 3, NULL));
    check_params_zero("self-attention", params);
    CHECK_OK(ctx, at_self_attention_forward(ctx, &sa, x, NULL, &out, &w));
    check_output("self-attention", out);
    at_params_free(params);

    at_params_create(ctx, &params);
    at_structured_attention st;
    CHECK_OK(ctx, at_structured_attention_init(ctx, &st, params, "st", D, 3, 2, NULL));
    check_params_zero("structured self-attention", params);
    CHECK_OK(ctx, at_structured_attention_forward(ctx, &st, x, NULL, &out, &w));
    check_output("structured self-attention", out);
    at_params_free(params);

    at_params_create(ctx, &params);
    at_multi_head mha, mha_sizes;
    CHECK_OK(ctx, at_multi_head_init(ctx, &mha, params, "m", D, 2, NULL));
    CHECK_OK(ctx, at_multi_head_init_sizes(ctx, &mha_sizes, params, "n", D, 2, 3, 5, 2, NULL));
    check_params_zero("multi-head", params);
    CHECK_OK(ctx, at_multi_head_forward(ctx, &mha, x, x, x, NULL, &out, &w));
    check_output("multi-head", out);
    CHECK_OK(ctx, at_multi_head_forward(ctx, &mha_sizes, x, k3, v5, NULL, &out, &w));
    check_output("multi-head kdim 3, vdim 5, O 2", out);
    at_params_free(params);

    static const char *const scores[] = {"luong dot", "luong general", "luong concat",
                                         "luong location"};
    for (int s = AT_SCORE_DOT; s <= AT_SCORE_LOCATION; s++) {
        at_params_create(ctx, &params);
        at_luong lu;
        CHECK_OK(ctx, at_luong_init(ctx, &lu, params, "l", (at_score)s, D, D, 3, T, 2, NULL));
        check_params_zero(scores[s], params);
        CHECK_OK(ctx, at_luong_project_keys(ctx, &lu, x, &kp));
        CHECK_OK(ctx, at_luong_attend(ctx, &lu, x, kp, x, NULL, &out, &w));
        CHECK_OK(ctx, at_luong_attentional(ctx, &lu, out, x, &out));
        check_output(scores[s], out);
        at_params_free(params);
    }
    at_params_create(ctx, &params);
    at_luong lv;
    CHECK_OK(ctx, at_luong_init(ctx, &lv, params, "l", AT_SCORE_DOT, D, D, 0, 0, 0, NULL));
    CHECK_OK(ctx, at_luong_init_attentional(ctx, &lv, params, "l", 2, 3, NULL));
    check_params_zero("luong W_c for Dv 2", params);
    CHECK_OK(ctx, at_luong_attentional(ctx, &lv, c2, x, &out));
    check_output("luong W_c for Dv 2", out);
    at_params_free(params);

    /* the step and sequence families */
    at_params_create(ctx, &params);
    at_additive add;
    at_attention_decoder dec;
    at_key_value kv;
    at_luong_local loc;
    at_han_attention han;
    at_feature_attention feat;
    at_monotonic mono;
    CHECK_OK(ctx, at_additive_init(ctx, &add, params, "add", D, D, 3, NULL));
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &dec, params, "dec", 3, D, 4, 5, 3, NULL));
    CHECK_OK(ctx, at_key_value_init(ctx, &kv, params, "kv", D, D, D, 3, 2, 2, NULL));
    CHECK_OK(ctx, at_luong_local_init(ctx, &loc, params, "loc", AT_LOCAL_P, AT_SCORE_GENERAL, D,
                                      D, 0, 0, 1, 3, NULL));
    CHECK_OK(ctx, at_han_attention_init(ctx, &han, params, "han", D, 3, NULL));
    CHECK_OK(ctx, at_feature_attention_init(ctx, &feat, params, "feat", D, NULL));
    CHECK_OK(ctx, at_monotonic_init(ctx, &mono, params, "mono", D, D, 3, NULL));
    check_params_zero("additive, seed decoder, key-value, local, static, monotonic", params);
    CHECK_OK(ctx, at_additive_project_keys(ctx, &add, x, &kp));
    CHECK_OK(ctx, at_additive_attend(ctx, &add, x, kp, x, NULL, &out, &w));
    check_output("additive", out);
    CHECK_OK(ctx, at_han_attention_forward(ctx, &han, x, NULL, &out, &w));
    check_output("han", out);
    at_params_free(params);

    /* the layers */
    at_params_create(ctx, &params);
    at_dense dense;
    at_embedding emb;
    at_lstm lstm;
    at_gru gru;
    at_bilstm bi;
    CHECK_OK(ctx, at_dense_init(ctx, &dense, params, "d", D, 3, 1, NULL));
    CHECK_OK(ctx, at_embedding_init(ctx, &emb, params, "e", 5, 3, NULL));
    CHECK_OK(ctx, at_lstm_init(ctx, &lstm, params, "r", D, 3, 0, NULL));
    CHECK_OK(ctx, at_gru_init(ctx, &gru, params, "g", D, 3, 1, NULL));
    CHECK_OK(ctx, at_bilstm_init(ctx, &bi, params, "bi", D, 3, NULL));
    check_params_zero("dense, embedding, lstm (no forget-gate bias), gru, bilstm", params);
    CHECK_OK(ctx, at_dense_forward(ctx, &dense, x, &out));
    check_output("dense", out);
    CHECK_OK(ctx, at_embedding_forward(ctx, &emb, (const int32_t[]){0, 4}, 1, (int[]){2}, &out));
    check_output("embedding", out);
    CHECK_OK(ctx, at_lstm_forward(ctx, &lstm, x, NULL, NULL, NULL, &out, &h_n, NULL));
    check_output("lstm", out);
    CHECK_OK(ctx, at_gru_forward(ctx, &gru, x, NULL, NULL, &out, &h_n));
    check_output("gru", out);
    CHECK_OK(ctx, at_bilstm_forward(ctx, &bi, x, NULL, &out, &h_n));
    check_output("bilstm", out);
    at_params_free(params);
    free(k3d), free(v5d);
    free(xd);
    at_ctx_free(ctx);
}

int main(void) {
    test_dot_step_queries();
    test_self_attention_sizes();
    test_multi_head_sizes();
    test_luong_attentional_values();
    test_penalty_rows();
    test_null_rng();
    return test_finish("attention dot options");
}
