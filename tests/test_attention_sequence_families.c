/*
 * test_attention_sequence_families.c - families 5, 6 and 9: static
 * attention (HAN and the per-feature Keras layer), forced-forward attention
 * (Raffel's monotonic attention, soft and hard, and Zhang's forward
 * attention) and Daniluk's key-value attention.
 *
 * For each family:
 *   - the forward values against a reference written here in double, from
 *     the paper's equations (for the monotonic recursion: the closed form
 *     α_ij = p_ij Σ_{k≤j} α_{i−1,k} Π_{l=k}^{j−1} (1 − p_il));
 *   - finite-difference gradient checks with respect to every input and
 *     every parameter, through the context AND the weights, over shapes
 *     with T = 1, rows of different lengths, fully masked rows, Tk that
 *     varies, and memory L = 1 and L >= T;
 *   - fully masked rows: exact zeros in weights, context and gradient;
 *   - errors: the right status, outputs untouched;
 *   - inference mode records nothing and gives the same numbers;
 *   - the hard monotonic scan agrees with the soft mode when p is near 0/1.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static double dtanh_ref(double x) { return tanh(x); }

/* ================================================== 5. static attention */

typedef struct static_case {
    int B, T, D, A;
    const int *lengths; /* NULL: no mask */
    at_attn_mask mask;
    at_han_attention han;
    at_feature_attention feature;
} static_case;

static at_status build_han(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    static_case *c = user;
    at_tensor *parts[2];
    AT_TRY(at_han_attention_forward(ctx, &c->han, in[0], c->lengths ? &c->mask : NULL, &parts[0],
                                    &parts[1]));
    return gc_join_outputs(ctx, y, 2, parts);
}

static at_status build_feature(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    static_case *c = user;
    at_tensor *parts[2];
    AT_TRY(at_feature_attention_forward(ctx, &c->feature, in[0], c->lengths ? &c->mask : NULL,
                                        &parts[0], &parts[1]));
    return gc_join_outputs(ctx, y, 2, parts);
}

/* u (D_out) = tanh(W h + b) in double. */
static void dense_tanh_ref(const float *W, const float *b, const float *h, int in, int out,
                           double *u) {
    for (int a = 0; a < out; a++) {
        double s = b[a];
        for (int k = 0; k < in; k++)
            s += (double)W[(size_t)a * in + k] * h[k];
        u[a] = dtanh_ref(s);
    }
}

/* HAN out (B, D) and weights (B, T) in double. */
static void han_reference(const static_case *c, const float *h, const uint8_t *keep, double *out,
                          double *alpha) {
    int T = c->T, D = c->D, A = c->A;
    double u[64];
    for (int b = 0; b < c->B; b++) {
        double *al = alpha + (size_t)b * T, max = -INFINITY, sum = 0.0;
        for (int t = 0; t < T; t++) {
            dense_tanh_ref(c->han.W->data, c->han.b->data, h + ((size_t)b * T + t) * D, D, A, u);
            al[t] = 0.0;
            for (int a = 0; a < A; a++)
                al[t] += u[a] * c->han.u_w->data[a];
            if (!keep || keep[(size_t)b * T + t]) max = fmax(max, al[t]);
        }
        for (int t = 0; t < T; t++) {
            int kept = !keep || keep[(size_t)b * T + t];
            al[t] = kept && max > -INFINITY ? exp(al[t] - max) : 0.0;
            sum += al[t];
        }
        for (int f = 0; f < D; f++)
            out[(size_t)b * D + f] = 0.0;
        for (int t = 0; t < T; t++) {
            al[t] = sum > 0 ? al[t] / sum : 0.0;
            for (int f = 0; f < D; f++)
                out[(size_t)b * D + f] += al[t] * h[((size_t)b * T + t) * D + f];
        }
    }
}

/* Feature out (B, D) and weights (B, T, D) in double. */
static void feature_reference(const static_case *c, const float *h, const uint8_t *keep,
                              double *out, double *alpha) {
    int T = c->T, D = c->D;
    double u[64];
    for (int b = 0; b < c->B; b++)
        for (int f = 0; f < D; f++) {
            double sum = 0.0;
            for (int t = 0; t < T; t++) {
                dense_tanh_ref(c->feature.W->data, c->feature.b->data, h + ((size_t)b * T + t) * D,
                               D, D, u);
                int kept = !keep || keep[(size_t)b * T + t];
                alpha[((size_t)b * T + t) * D + f] = kept ? exp(u[f]) : 0.0;
                sum += alpha[((size_t)b * T + t) * D + f];
            }
            out[(size_t)b * D + f] = 0.0;
            for (int t = 0; t < T; t++) {
                size_t i = ((size_t)b * T + t) * D + f;
                alpha[i] /= sum + c->feature.eps;
                out[(size_t)b * D + f] += alpha[i] * h[i];
            }
        }
}

static void check_close_double(const char *what, const float *got, const double *want, size_t n,
                               double atol, double rtol) {
    CHECK(check_close_to_double(what, got, want, n, atol, rtol), "%s differs from the reference",
          what);
}

/* Run one static case: values, gradients, masked rows. */
static void static_case_run(int B, int T, int D, int A, const int *lengths) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 100 + (unsigned)(B * 31 + T * 7 + D));
    at_params *han_params, *feature_params;
    at_params_create(ctx, &han_params);
    at_params_create(ctx, &feature_params);
    static_case c = {.B = B, .T = T, .D = D, .A = A, .lengths = lengths};
    uint8_t *keep = lengths ? test_mask_from_lengths(B, T, lengths) : NULL;
    c.mask = (at_attn_mask){keep, B, 0};
    CHECK_OK(ctx, at_han_attention_init(ctx, &c.han, han_params, "han", D, A, &rng));
    CHECK_OK(ctx, at_feature_attention_init(ctx, &c.feature, feature_params, "feat", D, &rng));
    test_jitter_params(han_params, &rng, 0.6f);
    test_jitter_params(feature_params, &rng, 0.6f);
    for (size_t i = 0; i < c.han.u_w->size; i++)
        c.han.u_w->data[i] *= 8.0f; /* sharper */
    size_t n = (size_t)B * T * D;
    float *h = test_random_floats(n, -1.0f, 1.0f, &rng);
    char name[96];

    /* values */
    double *out = malloc((size_t)B * D * sizeof(double));
    double *alpha = malloc(n * sizeof(double));
    at_tensor *ht, *o, *w;
    CHECK_OK(ctx, at_tensor_from(ctx, &ht, 3, (const int[]){B, T, D}, h));
    CHECK_OK(ctx, at_han_attention_forward(ctx, &c.han, ht, lengths ? &c.mask : NULL, &o, &w));
    han_reference(&c, h, keep, out, alpha);
    snprintf(name, sizeof name, "han B%d T%d D%d out", B, T, D);
    check_close_double(name, o->data, out, (size_t)B * D, 1e-5, 1e-4);
    check_close_double("han weights", w->data, alpha, (size_t)B * T, 1e-6, 1e-4);
    CHECK_OK(ctx,
             at_feature_attention_forward(ctx, &c.feature, ht, lengths ? &c.mask : NULL, &o, &w));
    feature_reference(&c, h, keep, out, alpha);
    snprintf(name, sizeof name, "feature B%d T%d D%d out", B, T, D);
    check_close_double(name, o->data, out, (size_t)B * D, 1e-5, 1e-4);
    check_close_double("feature weights", w->data, alpha, n, 1e-6, 1e-4);

    /* gradients, through out and weights */
    gc_input input = {"h", 3, {B, T, D, 1}, h};
    snprintf(name, sizeof name, "han gradcheck B%d T%d D%d A%d%s", B, T, D, A,
             lengths ? " masked" : "");
    gc_check(name, 1, &input, han_params, build_han, &c, NULL);
    snprintf(name, sizeof name, "feature gradcheck B%d T%d D%d%s", B, T, D,
             lengths ? " masked" : "");
    gc_check(name, 1, &input, feature_params, build_feature, &c, NULL);

    /* fully masked rows: exact zeros, zero gradient */
    for (int b = 0; lengths && b < B; b++) {
        if (lengths[b] != 0) continue;
        for (int form = 0; form < 2; form++) {
            at_ctx_reset(ctx);
            at_tensor *hx;
            CHECK_OK(ctx, at_tensor_from(ctx, &hx, 3, (const int[]){B, T, D}, h));
            CHECK_OK(ctx, at_tensor_require_grad(ctx, hx));
            if (form == 0)
                CHECK_OK(ctx, at_han_attention_forward(ctx, &c.han, hx, &c.mask, &o, &w));
            else
                CHECK_OK(ctx, at_feature_attention_forward(ctx, &c.feature, hx, &c.mask, &o, &w));
            size_t per = form == 0 ? (size_t)T : (size_t)T * D;
            CHECK(test_all_zero(o->data + (size_t)b * D, (size_t)D) &&
                      test_all_zero(w->data + b * per, per),
                  "%s: fully masked row %d gives zero output and weights", form ? "feature" : "han",
                  b);
            at_tensor *loss;
            CHECK_OK(ctx, at_sum(ctx, &loss, o));
            CHECK_OK(ctx, at_backward(ctx, loss));
            CHECK(test_all_zero(hx->grad + (size_t)b * T * D, (size_t)T * D) &&
                      test_all_finite(hx->grad, n),
                  "%s: fully masked row %d gets zero gradient, no NaN", form ? "feature" : "han",
                  b);
        }
    }
    free(out);
    free(alpha);
    free(h);
    free(keep);
    at_params_free(han_params);
    at_params_free(feature_params);
    at_ctx_free(ctx);
}

static void test_static_names(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 3);
    at_params *params;
    at_params_create(ctx, &params);
    at_han_attention han;
    at_feature_attention feature;
    CHECK_OK(ctx, at_han_attention_init(ctx, &han, params, "word", 6, 4, &rng));
    CHECK_OK(ctx, at_feature_attention_init(ctx, &feature, params, "", 3, &rng));
    const char *names[] = {"word.W", "word.b", "word.u_w", "W", "b"};
    CHECK(at_params_count(params) == 5, "static: 5 parameters, have %d", at_params_count(params));
    for (int i = 0; i < 5 && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0, "parameter %d is %s", i,
              at_params_get(params, i)->name);
    CHECK(han.W->shape[0] == 4 && han.W->shape[1] == 6, "han W is (A, D)");
    CHECK(feature.eps == 1e-7f, "feature eps defaults to 1e-7");
    float bound = sqrtf(6.0f / 10.0f);
    int ok = 1;
    for (int i = 0; i < 24; i++)
        ok &= fabsf(han.W->data[i]) <= bound;
    for (int a = 0; a < 4; a++)
        ok &= han.b->data[a] == 0 && fabsf(han.u_w->data[a]) <= 0.1f;
    CHECK(ok, "han init: W Glorot, b zeros, u_w within 0.1");
    CHECK_STATUS(ctx, at_han_attention_init(ctx, &han, params, "x", 0, 4, &rng), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_feature_attention_init(ctx, &feature, params, "x", -1, &rng),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_han_attention_init(ctx, &han, params, "word", 6, 4, &rng),
                 AT_ERR_ARGUMENT); /* duplicate names */
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_static(void) {
    test_static_names();
    static_case_run(2, 3, 4, 5, NULL);
    static_case_run(1, 1, 3, 2, NULL);                   /* T = 1 */
    static_case_run(3, 5, 3, 4, (const int[]){5, 2, 0}); /* different lengths, a dead row */
    static_case_run(2, 1, 2, 3, (const int[]){1, 0});
}

/* ===================================== 6. monotonic and forward attention */

typedef struct mono_case {
    int B, Tk, Dq, Dv, A;
    at_monotonic layer;
    at_attn_mask mask;
    int use_mask, with_prev, steps, training;
} mono_case;

/* inputs: query (steps, B, Dq) as one tensor sliced per step, keys_proj,
 * values, then alpha_prev if with_prev. Runs `steps` decoder steps, each
 * feeding its alpha to the next, and joins every context and alpha. */
static at_status build_monotonic(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    mono_case *c = user;
    int was = at_ctx_set_training(ctx, c->training);
    at_tensor *parts[8], *prev = c->with_prev ? in[3] : NULL;
    int n = 0;
    for (int s = 0; s < c->steps; s++) {
        at_tensor *q, *q2;
        AT_TRY(at_slice(ctx, &q, in[0], 0, s, 1));
        AT_TRY(at_reshape(ctx, &q2, q, 2, (const int[]){c->B, c->Dq}));
        AT_TRY(at_monotonic_attend(ctx, &c->layer, q2, in[1], in[2], prev,
                                   c->use_mask ? &c->mask : NULL, &parts[n], &parts[n + 1]));
        prev = parts[n + 1];
        n += 2;
    }
    at_ctx_set_training(ctx, was);
    return gc_join_outputs(ctx, y, n, parts);
}

/* p (B, Tk) for one query (B, Dq) in double, from the equations. */
static void stop_probability_ref(const mono_case *c, const float *query, const float *keys_proj,
                                 const uint8_t *keep, double *p) {
    const at_additive *en = &c->layer.energy;
    int A = c->A;
    double norm = 0.0;
    for (int a = 0; a < A; a++)
        norm += (double)en->v_a->data[a] * en->v_a->data[a];
    norm = sqrt(norm);
    for (int b = 0; b < c->B; b++)
        for (int j = 0; j < c->Tk; j++) {
            double e = 0.0;
            for (int a = 0; a < A; a++) {
                double pre = keys_proj[((size_t)b * c->Tk + j) * A + a];
                for (int k = 0; k < c->Dq; k++)
                    pre +=
                        (double)en->W_a->data[(size_t)a * c->Dq + k] * query[(size_t)b * c->Dq + k];
                e += en->v_a->data[a] / norm * tanh(pre);
            }
            e = c->layer.g->data[0] * e + c->layer.r->data[0];
            int kept = !keep || keep[(size_t)b * c->Tk + j];
            p[(size_t)b * c->Tk + j] = kept ? 1.0 / (1.0 + exp(-e)) : 0.0;
        }
}

/* The closed form α_ij = p_ij Σ_{k≤j} α_{i−1,k} Π_{l=k}^{j−1} (1 − p_il). */
static void closed_form_alpha(const double *p, const double *prev, int B, int Tk, double *alpha) {
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Tk; j++) {
            double total = 0.0;
            for (int k = 0; k <= j; k++) {
                double product = 1.0;
                for (int l = k; l < j; l++)
                    product *= 1.0 - p[(size_t)b * Tk + l];
                total += prev[(size_t)b * Tk + k] * product;
            }
            alpha[(size_t)b * Tk + j] = p[(size_t)b * Tk + j] * total;
        }
}

static void mono_setup(mono_case *c, at_params *params, at_ctx *ctx, at_rng *rng) {
    CHECK_OK(ctx, at_monotonic_init(ctx, &c->layer, params, "mono", c->Dq, 3, c->A, rng));
    test_jitter_params(params, rng, 0.5f);
    c->layer.g->data[0] = 2.0f; /* energies with some spread: p over (0.1, 0.9) */
    c->layer.r->data[0] = 0.3f;
}

/* Soft recursion vs the closed form over 3 decoder steps, Σ α <= 1. */
static void monotonic_closed_form(int B, int Tk, const int *lengths) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 200 + (unsigned)Tk);
    at_params *params;
    at_params_create(ctx, &params);
    mono_case c = {.B = B, .Tk = Tk, .Dq = 3, .Dv = 2, .A = 4};
    mono_setup(&c, params, ctx, &rng);
    uint8_t *keep = lengths ? test_mask_from_lengths(B, Tk, lengths) : NULL;
    c.mask = (at_attn_mask){keep, B, 0};
    float *keys_proj = test_random_floats((size_t)B * Tk * c.A, -1, 1, &rng);
    float *values = test_random_floats((size_t)B * Tk * c.Dv, -1, 1, &rng);
    double *prev = calloc((size_t)B * Tk, sizeof(double));
    double *p = malloc((size_t)B * Tk * sizeof(double));
    double *want = malloc((size_t)B * Tk * sizeof(double));
    for (int b = 0; b < B; b++)
        prev[(size_t)b * Tk] = 1.0;
    at_tensor *kp, *vt, *alpha = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &kp, 3, (const int[]){B, Tk, c.A}, keys_proj));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, Tk, c.Dv}, values));
    for (int step = 0; step < 3; step++) {
        float *query = test_random_floats((size_t)B * c.Dq, -1, 1, &rng);
        at_tensor *qt, *context;
        CHECK_OK(ctx, at_tensor_from(ctx, &qt, 2, (const int[]){B, c.Dq}, query));
        CHECK_OK(ctx, at_monotonic_attend(ctx, &c.layer, qt, kp, vt, alpha,
                                          lengths ? &c.mask : NULL, &context, &alpha));
        stop_probability_ref(&c, query, keys_proj, keep, p);
        closed_form_alpha(p, prev, B, Tk, want);
        char name[80];
        snprintf(name, sizeof name, "monotonic recursion = closed form, Tk %d step %d", Tk, step);
        check_close_double(name, alpha->data, want, (size_t)B * Tk, 1e-6, 1e-4);
        for (int b = 0; b < B; b++) {
            double sum = 0.0;
            for (int j = 0; j < Tk; j++)
                sum += alpha->data[(size_t)b * Tk + j];
            CHECK(sum <= 1.0 + 1e-6, "monotonic: Σ_j α = %.8f > 1 (row %d step %d)", sum, b, step);
            if (lengths && lengths[b] == 0)
                CHECK(test_all_zero(alpha->data + (size_t)b * Tk, (size_t)Tk) &&
                          test_all_zero(context->data + (size_t)b * c.Dv, (size_t)c.Dv),
                      "monotonic: fully masked row %d gives zeros", b);
        }
        for (size_t i = 0; i < (size_t)B * Tk; i++)
            prev[i] = want[i];
        free(query);
    }
    free(keys_proj), free(values), free(prev), free(p), free(want), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void monotonic_gradcheck(int B, int Tk, const int *lengths, int with_prev, int steps,
                                int training) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 300 + (unsigned)(Tk * 3 + steps));
    at_params *params;
    at_params_create(ctx, &params);
    mono_case c = {.B = B,
                   .Tk = Tk,
                   .Dq = 3,
                   .Dv = 2,
                   .A = 4,
                   .with_prev = with_prev,
                   .steps = steps,
                   .training = training,
                   .use_mask = lengths != NULL};
    mono_setup(&c, params, ctx, &rng);
    c.layer.noise_std = training ? 0.5f : 0.0f;
    uint8_t *keep = lengths ? test_mask_from_lengths(B, Tk, lengths) : NULL;
    c.mask = (at_attn_mask){keep, B, 0};
    float *query = test_random_floats((size_t)steps * B * c.Dq, -1, 1, &rng);
    float *keys_proj = test_random_floats((size_t)B * Tk * c.A, -1, 1, &rng);
    float *values = test_random_floats((size_t)B * Tk * c.Dv, -1, 1, &rng);
    float *prev = test_random_floats((size_t)B * Tk, 0.0f, 2.0f / Tk, &rng);
    gc_input inputs[4] = {{"query", 3, {steps, B, c.Dq, 1}, query},
                          {"keys_proj", 3, {B, Tk, c.A, 1}, keys_proj},
                          {"values", 3, {B, Tk, c.Dv, 1}, values},
                          {"alpha_prev", 2, {B, Tk, 1, 1}, prev}};
    char name[96];
    snprintf(name, sizeof name, "monotonic gradcheck B%d Tk%d%s%s steps %d%s", B, Tk,
             lengths ? " masked" : "", with_prev ? " alpha_prev" : "", steps,
             training ? " noisy" : "");
    gc_check(name, with_prev ? 4 : 3, inputs, params, build_monotonic, &c, NULL);
    free(query), free(keys_proj), free(values), free(prev), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* With g large, p is 0 or 1 to within float precision: the soft expected
 * alignment must be the hard scan's one-hot, step after step - as long as
 * the scan keeps stopping. When it finds no stop, the hard mode keeps its
 * position while the soft walk has run off the end with all its mass (the
 * expected alignment is then 0 for good); from there the row is checked
 * for that instead. */
static void monotonic_hard_vs_soft(float threshold, int expect_moves) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 400);
    at_params *params;
    at_params_create(ctx, &params);
    enum { B = 4, Tk = 7, STEPS = 6 };
    mono_case c = {.B = B, .Tk = Tk, .Dq = 3, .Dv = 2, .A = 6};
    CHECK_OK(ctx, at_monotonic_init(ctx, &c.layer, params, "", c.Dq, 3, c.A, &rng));
    test_jitter_params(params, &rng, 0.5f);
    c.layer.g->data[0] = 4000.0f; /* stop where v̂ᵀ tanh(·) > threshold; |e| large */
    c.layer.r->data[0] = -4000.0f * threshold;
    const int lengths[B] = {7, 5, 3, 0};
    uint8_t *keep = test_mask_from_lengths(B, Tk, lengths);
    c.mask = (at_attn_mask){keep, B, 0};
    float *keys_proj = test_random_floats((size_t)B * Tk * c.A, -1, 1, &rng);
    float *values = test_random_floats((size_t)B * Tk * c.Dv, -1, 1, &rng);
    at_tensor *kp, *vt, *alpha = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &kp, 3, (const int[]){B, Tk, c.A}, keys_proj));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, Tk, c.Dv}, values));
    int32_t positions[B] = {0, 0, 0, 0};
    int moved = 0, stopped = 0, compared = 0, lost[B] = {0, 0, 0, 0};
    for (int step = 0; step < STEPS; step++) {
        float *query = test_random_floats((size_t)B * c.Dq, -1, 1, &rng);
        at_tensor *qt, *soft_context, *hard_context, *onehot;
        CHECK_OK(ctx, at_tensor_from(ctx, &qt, 2, (const int[]){B, c.Dq}, query));
        CHECK_OK(ctx, at_monotonic_attend(ctx, &c.layer, qt, kp, vt, alpha, &c.mask, &soft_context,
                                          &alpha));
        int32_t before[B];
        memcpy(before, positions, sizeof before);
        CHECK_OK(ctx, at_monotonic_attend_hard(ctx, &c.layer, qt, kp, vt, &c.mask, positions,
                                               &hard_context, &onehot));
        CHECK(onehot->grad == NULL && hard_context->grad == NULL, "hard mode has no gradient");
        for (int b = 0; b < B; b++) {
            const float *soft = alpha->data + (size_t)b * Tk, *hard = onehot->data + (size_t)b * Tk;
            int stop = !test_all_zero(hard, Tk);
            char name[64];
            snprintf(name, sizeof name, "hard vs soft, step %d row %d", step, b);
            if (lost[b]) {
                double mass = 0.0;
                for (int j = 0; j < Tk; j++)
                    mass += soft[j];
                CHECK(mass < 1e-6, "%s: the soft walk ran off the end earlier, mass %g", name,
                      mass);
            } else {
                CHECK(check_close(name, soft, hard, Tk, 1e-4, 0) &&
                          check_close(name, soft_context->data + (size_t)b * c.Dv,
                                      hard_context->data + (size_t)b * c.Dv, c.Dv, 1e-4, 0),
                      "%s: soft alignment and context equal the hard ones", name);
                compared++;
            }
            lost[b] |= !stop;
            moved += positions[b] > before[b];
            stopped += stop;
            CHECK(positions[b] >= before[b], "hard positions never move back");
        }
        free(query);
    }
    CHECK(positions[3] == 0 && lost[3], "a fully masked row never stops, keeps position 0");
    CHECK(stopped > 0 && (!expect_moves || moved > 0),
          "the scan stopped (%d) and moved forward (%d)", stopped, moved);
    printf("hard vs soft (threshold %.2f): %d stops, %d moves, %d rows compared over %d steps\n",
           threshold, stopped, moved, compared, STEPS);
    free(keys_proj), free(values), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_monotonic_init(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 5);
    at_params *params;
    at_params_create(ctx, &params);
    at_monotonic layer;
    CHECK_OK(ctx, at_monotonic_init(ctx, &layer, params, "dec.mono", 3, 5, 16, &rng));
    const char *names[] = {"dec.mono.energy.W_a", "dec.mono.energy.U_a", "dec.mono.energy.b_a",
                           "dec.mono.energy.v_a", "dec.mono.g",          "dec.mono.r"};
    CHECK(at_params_count(params) == 6, "monotonic: 6 parameters, have %d",
          at_params_count(params));
    for (int i = 0; i < 6 && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0, "parameter %d is %s", i,
              at_params_get(params, i)->name);
    CHECK(layer.g->data[0] == 0.25f && layer.r->data[0] == -1.0f && layer.noise_std == 0.0f,
          "monotonic init: g = 1/sqrt(A), r = -1, no noise");
    CHECK_STATUS(ctx, at_monotonic_init(ctx, &layer, params, "m", 3, 0, 4, &rng), AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ forward attention */

typedef struct fwd_case {
    int B, Tk, Dv, with_prev, with_transition, use_mask;
    at_attn_mask mask;
} fwd_case;

/* inputs: y, values, then alpha_prev and transition when used. */
static at_status build_forward_attention(at_ctx *ctx, at_tensor *const *in, void *user,
                                         at_tensor **y) {
    fwd_case *c = user;
    at_tensor *prev = c->with_prev ? in[2] : NULL;
    at_tensor *u = c->with_transition ? in[2 + c->with_prev] : NULL;
    at_tensor *parts[4];
    AT_TRY(at_forward_attention(ctx, in[0], prev, u, in[1], c->use_mask ? &c->mask : NULL,
                                &parts[0], &parts[1]));
    /* a second step, reading the first alpha */
    AT_TRY(at_forward_attention(ctx, in[0], parts[1], u, in[1], c->use_mask ? &c->mask : NULL,
                                &parts[2], &parts[3]));
    return gc_join_outputs(ctx, y, 4, parts);
}

/* alpha (B, Tk) of one forward-attention step in double. */
static void forward_attention_ref(const fwd_case *c, const float *y, const float *prev,
                                  const float *u, const uint8_t *keep, double *alpha) {
    for (int b = 0; b < c->B; b++) {
        double stay = u ? 1.0 - u[b] : 1.0, move = u ? u[b] : 1.0, sum = 0.0;
        for (int n = 0; n < c->Tk; n++) {
            size_t i = (size_t)b * c->Tk + n;
            double here = prev ? prev[i] : (n == 0), before = n == 0 ? 0.0
                                                              : prev ? prev[i - 1]
                                                                     : (n == 1);
            int kept = !keep || keep[i];
            alpha[i] = kept ? (stay * here + move * before) * y[i] : 0.0;
            sum += alpha[i];
        }
        for (int n = 0; n < c->Tk; n++)
            alpha[(size_t)b * c->Tk + n] = sum > 0 ? alpha[(size_t)b * c->Tk + n] / sum : 0.0;
    }
}

static void forward_attention_case(int B, int Tk, const int *lengths, int with_prev,
                                   int with_transition) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 500 + (unsigned)(Tk * 4 + with_prev * 2 + with_transition));
    fwd_case c = {.B = B,
                  .Tk = Tk,
                  .Dv = 3,
                  .with_prev = with_prev,
                  .with_transition = with_transition,
                  .use_mask = lengths != NULL};
    uint8_t *keep = lengths ? test_mask_from_lengths(B, Tk, lengths) : NULL;
    c.mask = (at_attn_mask){keep, B, 0};
    float *y = test_random_floats((size_t)B * Tk, 0.1f, 1.0f, &rng);
    float *values = test_random_floats((size_t)B * Tk * c.Dv, -1, 1, &rng);
    float *prev = test_random_floats((size_t)B * Tk, 0.1f, 1.0f, &rng);
    float *u = test_random_floats((size_t)B, 0.2f, 0.8f, &rng);

    /* values against the reference */
    at_tensor *yt, *vt, *pt = NULL, *ut = NULL, *context, *alpha;
    CHECK_OK(ctx, at_tensor_from(ctx, &yt, 2, (const int[]){B, Tk}, y));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, Tk, c.Dv}, values));
    if (with_prev) CHECK_OK(ctx, at_tensor_from(ctx, &pt, 2, (const int[]){B, Tk}, prev));
    if (with_transition) CHECK_OK(ctx, at_tensor_from(ctx, &ut, 2, (const int[]){B, 1}, u));
    CHECK_OK(ctx,
             at_forward_attention(ctx, yt, pt, ut, vt, lengths ? &c.mask : NULL, &context, &alpha));
    double *want = malloc((size_t)B * Tk * sizeof(double));
    forward_attention_ref(&c, y, with_prev ? prev : NULL, with_transition ? u : NULL, keep, want);
    char name[96];
    snprintf(name, sizeof name, "forward attention B%d Tk%d prev %d transition %d", B, Tk,
             with_prev, with_transition);
    check_close_double(name, alpha->data, want, (size_t)B * Tk, 1e-6, 1e-4);
    for (int b = 0; lengths && b < B; b++)
        if (lengths[b] == 0)
            CHECK(test_all_zero(alpha->data + (size_t)b * Tk, Tk) &&
                      test_all_zero(context->data + (size_t)b * c.Dv, c.Dv),
                  "forward attention: fully masked row %d is zero", b);

    gc_input inputs[4] = {{"y", 2, {B, Tk, 1, 1}, y},
                          {"values", 3, {B, Tk, c.Dv, 1}, values},
                          {"alpha_prev", 2, {B, Tk, 1, 1}, prev},
                          {"transition", 2, {B, 1, 1, 1}, u}};
    if (!with_prev) inputs[2] = inputs[3];
    snprintf(name, sizeof name, "forward attention gradcheck B%d Tk%d%s prev %d transition %d", B,
             Tk, lengths ? " masked" : "", with_prev, with_transition);
    gc_check(name, 2 + with_prev + with_transition, inputs, NULL, build_forward_attention, &c,
             NULL);
    free(want), free(y), free(values), free(prev), free(u), free(keep);
    at_ctx_free(ctx);
}

/* A row whose y is zero wherever the previous alignment could move: the
 * sum is 0, alpha must be 0 (not NaN), and so must the gradient. */
static void forward_attention_zero_sum(void) {
    at_ctx *ctx = test_new_ctx();
    float y[6] = {0, 0, 0.5f, 0.2f, 0.3f, 0.5f}; /* row 0: y = 0 on 0, 1 where δ can go */
    float v[6] = {1, 2, 3, 4, 5, 6};
    at_tensor *yt, *vt, *context, *alpha, *loss;
    CHECK_OK(ctx, at_tensor_from(ctx, &yt, 2, (const int[]){2, 3}, y));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){2, 3, 1}, v));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, yt));
    CHECK_OK(ctx, at_forward_attention(ctx, yt, NULL, NULL, vt, NULL, &context, &alpha));
    CHECK(test_all_zero(alpha->data, 3) && context->data[0] == 0.0f, "zero sum gives zero alpha");
    CHECK(fabsf(alpha->data[3] - 0.4f) < 1e-6f && fabsf(alpha->data[4] - 0.6f) < 1e-6f,
          "row 1: δ at 0 moves to {0, 1} weighted by y: %g %g", alpha->data[3], alpha->data[4]);
    CHECK_OK(ctx, at_sum(ctx, &loss, context));
    CHECK_OK(ctx, at_backward(ctx, loss));
    CHECK(test_all_zero(yt->grad, 3) && test_all_finite(yt->grad, 6),
          "zero-sum row: zero gradient");
    at_ctx_free(ctx);
}

static void test_forced_forward(void) {
    test_monotonic_init();
    monotonic_closed_form(3, 6, NULL);
    monotonic_closed_form(2, 1, NULL);
    monotonic_closed_form(3, 5, (const int[]){5, 3, 0});
    monotonic_gradcheck(2, 4, NULL, 0, 1, 0);
    monotonic_gradcheck(2, 5, NULL, 1, 1, 0);
    monotonic_gradcheck(1, 1, NULL, 1, 2, 0);                   /* Tk = 1 */
    monotonic_gradcheck(3, 6, (const int[]){6, 2, 0}, 1, 1, 0); /* lengths, a dead row */
    monotonic_gradcheck(2, 3, (const int[]){3, 2}, 0, 3, 0);    /* alpha through 3 steps */
    monotonic_gradcheck(2, 4, NULL, 1, 2, 1);                   /* training noise */
    monotonic_hard_vs_soft(0.3f, 0);
    monotonic_hard_vs_soft(0.6f, 1);

    forward_attention_case(2, 4, NULL, 0, 0);
    forward_attention_case(2, 4, NULL, 1, 0);
    forward_attention_case(2, 5, NULL, 1, 1);
    forward_attention_case(3, 4, (const int[]){4, 2, 0}, 1, 1);
    forward_attention_case(1, 1, NULL, 0, 1); /* Tk = 1 */
    forward_attention_case(2, 6, (const int[]){3, 6}, 0, 1);
    forward_attention_zero_sum();
}

/* ============================================ 9. key-value attention */

typedef struct kv_case {
    int B, T, Dk, Dv, Dx, Do, A, L;
    at_key_value layer;
    at_attn_mask mask;
    int use_mask;
} kv_case;

static at_status build_key_value(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    kv_case *c = user;
    at_tensor *parts[2];
    AT_TRY(at_key_value_forward(ctx, &c->layer, in[0], in[1], in[2], c->use_mask ? &c->mask : NULL,
                                &parts[0], &parts[1]));
    return gc_join_outputs(ctx, y, 2, parts);
}

/* out (B, T, Do) and weights (B, T, T) in double, from the equations. */
static void key_value_ref(const kv_case *c, const float *keys, const float *values, const float *x,
                          const uint8_t *keep, double *out, double *weights) {
    const at_key_value *l = &c->layer;
    int T = c->T, A = c->A;
    double score[64], r[64];
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < T; t++) {
            double max = -INFINITY, sum = 0.0;
            double *w_t = weights + ((size_t)b * T + t) * T;
            for (int j = 0; j < T; j++) {
                w_t[j] = 0.0;
                int in_window = j < t && j >= t - c->L && (!keep || keep[(size_t)b * T + j]);
                score[j] = -INFINITY;
                if (!in_window) continue;
                double s = 0.0;
                for (int a = 0; a < A; a++) {
                    double pre = 0.0;
                    for (int k = 0; k < c->Dk; k++)
                        pre += (double)l->W_Y->data[a * c->Dk + k] *
                                   keys[((size_t)b * T + j) * c->Dk + k] +
                               (double)l->W_h->data[a * c->Dk + k] *
                                   keys[((size_t)b * T + t) * c->Dk + k];
                    s += l->w->data[a] * tanh(pre);
                }
                score[j] = s;
                max = fmax(max, s);
            }
            for (int j = 0; j < T; j++)
                if (score[j] > -INFINITY) sum += (w_t[j] = exp(score[j] - max));
            for (int k = 0; k < c->Dv; k++)
                r[k] = 0.0;
            for (int j = 0; j < T; j++) {
                if (sum > 0) w_t[j] /= sum;
                for (int k = 0; k < c->Dv; k++)
                    r[k] += w_t[j] * values[((size_t)b * T + j) * c->Dv + k];
            }
            for (int o = 0; o < c->Do; o++) {
                double pre = 0.0;
                for (int k = 0; k < c->Dv; k++)
                    pre += l->W_r->data[o * c->Dv + k] * r[k];
                for (int k = 0; k < c->Dx; k++)
                    pre += (double)l->W_x->data[o * c->Dx + k] * x[((size_t)b * T + t) * c->Dx + k];
                out[((size_t)b * T + t) * c->Do + o] = tanh(pre);
            }
        }
}

static void key_value_case(int B, int T, int L, const int *lengths) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 600 + (unsigned)(T * 10 + L));
    at_params *params;
    at_params_create(ctx, &params);
    kv_case c = {.B = B,
                 .T = T,
                 .Dk = 3,
                 .Dv = 2,
                 .Dx = 3,
                 .Do = 4,
                 .A = 5,
                 .L = L,
                 .use_mask = lengths != NULL};
    CHECK_OK(ctx,
             at_key_value_init(ctx, &c.layer, params, "kv", c.Dk, c.Dv, c.Dx, c.Do, c.A, L, &rng));
    test_jitter_params(params, &rng, 0.5f);
    for (int a = 0; a < c.A; a++)
        c.layer.w->data[a] *= 6.0f;
    uint8_t *keep = lengths ? test_mask_from_lengths(B, T, lengths) : NULL;
    c.mask = (at_attn_mask){keep, B, 0};
    float *keys = test_random_floats((size_t)B * T * c.Dk, -1, 1, &rng);
    float *values = test_random_floats((size_t)B * T * c.Dv, -1, 1, &rng);
    float *x = test_random_floats((size_t)B * T * c.Dx, -1, 1, &rng);

    at_tensor *kt, *vt, *xt, *out, *weights;
    CHECK_OK(ctx, at_tensor_from(ctx, &kt, 3, (const int[]){B, T, c.Dk}, keys));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, T, c.Dv}, values));
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, (const int[]){B, T, c.Dx}, x));
    CHECK_OK(ctx, at_key_value_forward(ctx, &c.layer, kt, vt, xt, lengths ? &c.mask : NULL, &out,
                                       &weights));
    double *want_out = malloc((size_t)B * T * c.Do * sizeof(double));
    double *want_w = malloc((size_t)B * T * T * sizeof(double));
    key_value_ref(&c, keys, values, x, keep, want_out, want_w);
    char name[96];
    snprintf(name, sizeof name, "key-value B%d T%d L%d%s out", B, T, L, lengths ? " masked" : "");
    check_close_double(name, out->data, want_out, (size_t)B * T * c.Do, 1e-5, 1e-4);
    check_close_double("key-value weights", weights->data, want_w, (size_t)B * T * T, 1e-6, 1e-4);
    int window_ok = 1;
    for (int b = 0; b < B; b++) {
        window_ok &= test_all_zero(weights->data + (size_t)b * T * T, (size_t)T); /* step 0 */
        for (int t = 0; t < T; t++)
            for (int j = 0; j < T; j++)
                if (j >= t || j < t - L)
                    window_ok &= weights->data[((size_t)b * T + t) * T + j] == 0.0f;
        if (lengths && lengths[b] == 0)
            window_ok &= test_all_zero(weights->data + (size_t)b * T * T, (size_t)T * T);
    }
    CHECK(window_ok && test_all_finite(out->data, out->size),
          "key-value: step 0 and everything outside the window exactly 0, no NaN");

    gc_input inputs[3] = {{"keys", 3, {B, T, c.Dk, 1}, keys},
                          {"values", 3, {B, T, c.Dv, 1}, values},
                          {"x", 3, {B, T, c.Dx, 1}, x}};
    snprintf(name, sizeof name, "key-value gradcheck B%d T%d L%d%s", B, T, L,
             lengths ? " masked" : "");
    gc_check(name, 3, inputs, params, build_key_value, &c, NULL);

    /* weights = NULL: the same output, and no (B, T, T) buffer made */
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_tensor_from(ctx, &kt, 3, (const int[]){B, T, c.Dk}, keys));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, T, c.Dv}, values));
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, (const int[]){B, T, c.Dx}, x));
    size_t before = at_ctx_arena_used(ctx);
    at_tensor *out2;
    CHECK_OK(ctx, at_key_value_forward(ctx, &c.layer, kt, vt, xt, lengths ? &c.mask : NULL, &out2,
                                       NULL));
    size_t without = at_ctx_arena_used(ctx) - before;
    before = at_ctx_arena_used(ctx);
    CHECK_OK(ctx, at_key_value_forward(ctx, &c.layer, kt, vt, xt, lengths ? &c.mask : NULL, &out,
                                       &weights));
    size_t with = at_ctx_arena_used(ctx) - before;
    check_close("key-value out without weights", out2->data, out->data, out->size, 0, 0);
    CHECK(with >= without + (size_t)B * T * T * sizeof(float),
          "key-value: weights = NULL keeps no (B, T, T) buffer (%zu vs %zu bytes)", without, with);
    free(want_out), free(want_w), free(keys), free(values), free(x), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

static void test_key_value(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 7);
    at_params *params;
    at_params_create(ctx, &params);
    at_key_value layer;
    CHECK_OK(ctx, at_key_value_init(ctx, &layer, params, "kv", 3, 4, 5, 6, 7, 2, &rng));
    const char *names[] = {"kv.W_Y", "kv.W_h", "kv.w", "kv.W_r", "kv.W_x"};
    for (int i = 0; i < 5 && i < at_params_count(params); i++)
        CHECK(strcmp(at_params_get(params, i)->name, names[i]) == 0, "parameter %d is %s", i,
              at_params_get(params, i)->name);
    CHECK(layer.W_r->shape[0] == 6 && layer.W_r->shape[1] == 4 && layer.W_x->shape[1] == 5,
          "W_r (Do, Dv), W_x (Do, Dx)");
    CHECK_STATUS(ctx, at_key_value_init(ctx, &layer, params, "k2", 3, 4, 5, 6, 7, 0, &rng),
                 AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);

    key_value_case(2, 5, 2, NULL);
    key_value_case(2, 5, 1, NULL);                   /* L = 1 */
    key_value_case(2, 4, 10, NULL);                  /* L >= T */
    key_value_case(1, 1, 3, NULL);                   /* T = 1: nothing to see */
    key_value_case(3, 6, 3, (const int[]){6, 3, 0}); /* lengths, a dead row */
    key_value_case(2, 6, 6, (const int[]){4, 6});
}

/* Batch rows run on several threads when the work is large: the numbers
 * must not depend on how many. */
static void key_value_threads(void) {
    enum { B = 4, T = 48, D = 6, A = 16 };
    float *data = NULL, *grads[2] = {NULL, NULL}, *outs[2] = {NULL, NULL};
    at_rng rng;
    at_rng_seed(&rng, 12);
    data = test_random_floats((size_t)B * T * D, -1, 1, &rng);
    for (int run = 0; run < 2; run++) {
        at_ctx *ctx = test_new_ctx_with(0, run ? 4 : 1);
        at_params *params;
        at_params_create(ctx, &params);
        at_rng init;
        at_rng_seed(&init, 13);
        at_key_value kv;
        CHECK_OK(ctx, at_key_value_init(ctx, &kv, params, "kv", D, D, D, 5, A, T, &init));
        at_tensor *h, *out, *loss;
        CHECK_OK(ctx, at_tensor_from(ctx, &h, 3, (const int[]){B, T, D}, data));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, h));
        CHECK_OK(ctx, at_key_value_forward(ctx, &kv, h, h, h, NULL, &out, NULL));
        CHECK_OK(ctx, at_sum(ctx, &loss, out));
        CHECK_OK(ctx, at_backward(ctx, loss));
        outs[run] = malloc(out->size * sizeof(float));
        grads[run] = malloc((h->size + (size_t)A) * sizeof(float));
        memcpy(outs[run], out->data, out->size * sizeof(float));
        memcpy(grads[run], h->grad, h->size * sizeof(float));
        memcpy(grads[run] + h->size, kv.w->grad, (size_t)A * sizeof(float));
        at_params_free(params);
        at_ctx_free(ctx);
    }
    check_close("key-value out, 1 vs 4 threads", outs[1], outs[0], (size_t)B * T * 5, 0, 0);
    check_close("key-value gradients, 1 vs 4 threads", grads[1], grads[0], (size_t)B * T * D + A, 0,
                0);
    free(data), free(outs[0]), free(outs[1]), free(grads[0]), free(grads[1]);
}

/* Additive attention with its key projection, its query projection and
 * their gradients big enough to be cut between threads (B Tk = 320 rows of
 * 128 against A = 256): the same bits on 1 and 2 threads. */
static void additive_threads(void) {
    enum { B = 16, TQ = 20, TK = 20, D = 128, A = 256 };
    size_t nq = (size_t)B * TQ * D, nk = (size_t)B * TK * D;
    at_rng rng;
    at_rng_seed(&rng, 14);
    float *qd = test_random_floats(nq, -1, 1, &rng), *kd = test_random_floats(nk, -1, 1, &rng);
    size_t n = (size_t)B * TQ * D + nq + nk + 2 * (size_t)A * D;
    float *runs[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    for (int run = 0; run < 2; run++) {
        at_ctx *ctx = test_new_ctx_with(0, run ? 2 : 1);
        at_params *params;
        at_params_create(ctx, &params);
        at_rng init;
        at_rng_seed(&init, 15);
        at_additive layer;
        CHECK_OK(ctx, at_additive_init(ctx, &layer, params, "add", D, D, A, &init));
        at_tensor *q, *k, *kp, *context, *loss;
        CHECK_OK(ctx, at_tensor_from(ctx, &q, 3, (const int[]){B, TQ, D}, qd));
        CHECK_OK(ctx, at_tensor_from(ctx, &k, 3, (const int[]){B, TK, D}, kd));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, q));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, k));
        CHECK_OK(ctx, at_additive_project_keys(ctx, &layer, k, &kp));
        CHECK_OK(ctx, at_additive_attend(ctx, &layer, q, kp, k, NULL, &context, NULL));
        CHECK_OK(ctx, at_sum(ctx, &loss, context));
        CHECK_OK(ctx, at_backward(ctx, loss));
        float *to = runs[run];
        memcpy(to, context->data, context->size * sizeof(float)), to += context->size;
        memcpy(to, q->grad, nq * sizeof(float)), to += nq;
        memcpy(to, k->grad, nk * sizeof(float)), to += nk;
        memcpy(to, layer.W_a->grad, (size_t)A * D * sizeof(float)), to += (size_t)A * D;
        memcpy(to, layer.U_a->grad, (size_t)A * D * sizeof(float));
        at_params_free(params);
        at_ctx_free(ctx);
    }
    check_same_bits("additive: output and gradients, 2 threads vs 1", runs[1], runs[0], n);
    free(qd), free(kd), free(runs[0]), free(runs[1]);
}

/* The static forms (HAN's and the feature attention) over B T = 512 words
 * of 128, where their projections are cut between threads: outputs,
 * weights and gradients the same bits on 1 and 2 threads. */
static void static_threads(void) {
    enum { B = 16, T = 32, D = 128, A = 128 };
    size_t nh = (size_t)B * T * D;
    at_rng rng;
    at_rng_seed(&rng, 16);
    float *hd = test_random_floats(nh, -1, 1, &rng);
    /* room for the outputs, the weights (at most one per input value) and the gradients */
    size_t room = 2 * ((size_t)B * D + 2 * nh) + (size_t)A * D + (size_t)D * D, n = 0;
    float *runs[2] = {malloc(room * sizeof(float)), malloc(room * sizeof(float))};
    for (int run = 0; run < 2; run++) {
        at_ctx *ctx = test_new_ctx_with(0, run ? 2 : 1);
        at_params *params;
        at_params_create(ctx, &params);
        at_rng init;
        at_rng_seed(&init, 17);
        at_han_attention han;
        at_feature_attention feature;
        CHECK_OK(ctx, at_han_attention_init(ctx, &han, params, "han", D, A, &init));
        CHECK_OK(ctx, at_feature_attention_init(ctx, &feature, params, "feat", D, &init));
        float *to = runs[run];
        for (int form = 0; form < 2; form++) {
            at_tensor *h, *out, *w, *loss;
            CHECK_OK(ctx, at_tensor_from(ctx, &h, 3, (const int[]){B, T, D}, hd));
            CHECK_OK(ctx, at_tensor_require_grad(ctx, h));
            if (form == 0) CHECK_OK(ctx, at_han_attention_forward(ctx, &han, h, NULL, &out, &w));
            else CHECK_OK(ctx, at_feature_attention_forward(ctx, &feature, h, NULL, &out, &w));
            CHECK_OK(ctx, at_sum(ctx, &loss, out));
            CHECK_OK(ctx, at_backward(ctx, loss));
            CHECK(out->size <= (size_t)B * D && w->size <= nh, "static: unexpected sizes");
            memcpy(to, out->data, out->size * sizeof(float)), to += out->size;
            memcpy(to, w->data, w->size * sizeof(float)), to += w->size;
            memcpy(to, h->grad, nh * sizeof(float)), to += nh;
        }
        memcpy(to, han.W->grad, (size_t)A * D * sizeof(float)), to += (size_t)A * D;
        memcpy(to, feature.W->grad, (size_t)D * D * sizeof(float)), to += (size_t)D * D;
        n = (size_t)(to - runs[run]);
        at_params_free(params);
        at_ctx_free(ctx);
    }
    check_same_bits("static forms, 2 threads vs 1", runs[1], runs[0], n);
    free(hd), free(runs[0]), free(runs[1]);
}

/* ====================================================== errors, modes */

static void test_errors(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 8);
    at_params *params;
    at_params_create(ctx, &params);
    at_han_attention han;
    at_feature_attention feature;
    at_monotonic mono;
    at_key_value kv;
    at_han_attention_init(ctx, &han, params, "han", 4, 3, &rng);
    at_feature_attention_init(ctx, &feature, params, "feat", 4, &rng);
    at_monotonic_init(ctx, &mono, params, "mono", 3, 2, 5, &rng);
    at_key_value_init(ctx, &kv, params, "kv", 2, 3, 4, 2, 3, 2, &rng);

    at_tensor *h, *bad, *q, *kp, *vals, *y2, *sentinel = (at_tensor *)&rng, *out = sentinel,
                                             *w = sentinel;
    at_tensor_new(ctx, &h, 3, (const int[]){2, 3, 4});
    at_tensor_new(ctx, &bad, 3, (const int[]){2, 3, 5});
    at_tensor_new(ctx, &q, 2, (const int[]){2, 3});
    at_tensor_new(ctx, &kp, 3, (const int[]){2, 4, 5});
    at_tensor_new(ctx, &vals, 3, (const int[]){2, 4, 6});
    at_tensor_new(ctx, &y2, 2, (const int[]){2, 4});
    uint8_t keep[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    at_attn_mask three_rows = {keep, 3, 0};

    /* static */
    CHECK_STATUS(ctx, at_han_attention_forward(ctx, &han, bad, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "han_attention") != NULL, "message names the op: %s",
          at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_han_attention_forward(ctx, &han, NULL, NULL, &out, &w), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_han_attention_forward(ctx, &han, h, &three_rows, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_han_attention_forward(ctx, &han, h, NULL, NULL, &w), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_feature_attention_forward(ctx, &feature, q, NULL, &out, &w), AT_ERR_SHAPE);
    at_feature_attention broken = feature;
    broken.eps = -1.0f;
    CHECK_STATUS(ctx, at_feature_attention_forward(ctx, &broken, h, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    at_han_attention wrong = han;
    wrong.attn_size = 4;
    CHECK_STATUS(ctx, at_han_attention_forward(ctx, &wrong, h, NULL, &out, &w), AT_ERR_SHAPE);

    /* monotonic */
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, h, kp, vals, NULL, NULL, &out, &w),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, q, bad, vals, NULL, NULL, &out, &w),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, q, kp, h, NULL, NULL, &out, &w),
                 AT_ERR_SHAPE); /* values with 3 steps, keys 4 */
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, q, kp, vals, q, NULL, &out, &w),
                 AT_ERR_SHAPE); /* alpha_prev (2, 3) */
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, q, kp, vals, NULL, &three_rows, &out, &w),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &mono, q, kp, vals, NULL, NULL, NULL, &w),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, NULL, q, kp, vals, NULL, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    at_monotonic noisy = mono;
    noisy.noise_std = NAN;
    CHECK_STATUS(ctx, at_monotonic_attend(ctx, &noisy, q, kp, vals, NULL, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    int32_t positions[2] = {0, 4};
    CHECK_STATUS(ctx, at_monotonic_attend_hard(ctx, &mono, q, kp, vals, NULL, positions, &out, &w),
                 AT_ERR_ARGUMENT);
    CHECK(positions[0] == 0 && positions[1] == 4, "positions untouched on failure");
    CHECK_STATUS(ctx, at_monotonic_attend_hard(ctx, &mono, q, kp, vals, NULL, NULL, &out, &w),
                 AT_ERR_ARGUMENT);

    /* forward attention */
    CHECK_STATUS(ctx, at_forward_attention(ctx, h, NULL, NULL, vals, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_forward_attention(ctx, y2, NULL, q, vals, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_forward_attention(ctx, y2, q, NULL, vals, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_forward_attention(ctx, y2, NULL, NULL, h, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_forward_attention(ctx, y2, NULL, NULL, NULL, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_forward_attention(ctx, NULL, NULL, NULL, vals, NULL, &out, &w),
                 AT_ERR_ARGUMENT);

    /* key-value */
    at_tensor *keys, *values, *x, *x_short;
    at_tensor_new(ctx, &keys, 3, (const int[]){2, 3, 2});
    at_tensor_new(ctx, &values, 3, (const int[]){2, 3, 3});
    at_tensor_new(ctx, &x, 3, (const int[]){2, 3, 4});
    at_tensor_new(ctx, &x_short, 3, (const int[]){2, 2, 4});
    CHECK_STATUS(ctx, at_key_value_forward(ctx, &kv, keys, values, x_short, NULL, &out, &w),
                 AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_key_value_forward(ctx, &kv, keys, x, x, NULL, &out, &w), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_key_value_forward(ctx, &kv, NULL, values, x, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    at_attn_mask four_rows = {keep, 4, 0}; /* divides neither B = 2 nor B*T = 6 */
    CHECK_STATUS(ctx, at_key_value_forward(ctx, &kv, keys, values, x, &four_rows, &out, &w),
                 AT_ERR_SHAPE);
    at_key_value forgetful = kv;
    forgetful.memory = 0;
    CHECK_STATUS(ctx, at_key_value_forward(ctx, &forgetful, keys, values, x, NULL, &out, &w),
                 AT_ERR_ARGUMENT);
    CHECK(out == sentinel && w == sentinel, "outputs untouched on every failure");
    at_params_free(params);
    at_ctx_free(ctx);
}

/* With gradients off nothing is recorded and the numbers are the same. */
static void test_inference_mode(void) {
    at_ctx *contexts[2] = {test_new_ctx(), test_new_ctx()}, *ctx = contexts[0];
    at_rng rng;
    at_rng_seed(&rng, 9);
    at_params *params;
    at_params_create(ctx, &params);
    at_han_attention han;
    at_feature_attention feature;
    at_monotonic mono;
    at_key_value kv;
    at_han_attention_init(ctx, &han, params, "han", 4, 3, &rng);
    at_feature_attention_init(ctx, &feature, params, "feat", 4, &rng);
    at_monotonic_init(ctx, &mono, params, "mono", 4, 2, 5, &rng);
    at_key_value_init(ctx, &kv, params, "kv", 4, 4, 4, 2, 3, 2, &rng);
    float *data = test_random_floats(2 * 3 * 5, 0.05f, 1.0f, &rng);
    at_tensor *h, *kp, *q, *y, *o[2][6], *w[2][6];
    for (int mode = 0; mode < 2; mode++) { /* 0: training, 1: inference, own arenas */
        ctx = contexts[mode];
        at_ctx_set_grad(ctx, mode == 0);
        at_tensor_from(ctx, &h, 3, (const int[]){2, 3, 4}, data);
        at_tensor_from(ctx, &kp, 3, (const int[]){2, 3, 5}, data);
        at_tensor_from(ctx, &q, 2, (const int[]){2, 4}, data);
        at_tensor_from(ctx, &y, 2, (const int[]){2, 3}, data);
        for (int i = 0; i < 4 && mode == 0; i++)
            at_tensor_require_grad(ctx, (at_tensor *[]){h, kp, q, y}[i]);
        size_t tape = at_ctx_tape_length(ctx);
        CHECK_OK(ctx, at_han_attention_forward(ctx, &han, h, NULL, &o[mode][0], &w[mode][0]));
        CHECK_OK(ctx,
                 at_feature_attention_forward(ctx, &feature, h, NULL, &o[mode][1], &w[mode][1]));
        CHECK_OK(ctx,
                 at_monotonic_attend(ctx, &mono, q, kp, h, NULL, NULL, &o[mode][2], &w[mode][2]));
        CHECK_OK(ctx, at_forward_attention(ctx, y, NULL, NULL, h, NULL, &o[mode][3], &w[mode][3]));
        CHECK_OK(ctx, at_key_value_forward(ctx, &kv, h, h, h, NULL, &o[mode][4], &w[mode][4]));
        if (mode == 1) {
            CHECK(at_ctx_tape_length(ctx) == tape, "inference mode records nothing");
            for (int k = 0; k < 5; k++) {
                CHECK(o[1][k]->grad == NULL && w[1][k]->grad == NULL, "no gradient buffers (%d)",
                      k);
                CHECK(check_close("inference = training", o[1][k]->data, o[0][k]->data,
                                  o[0][k]->size, 0, 0) &&
                          check_close("inference weights", w[1][k]->data, w[0][k]->data,
                                      w[0][k]->size, 0, 0),
                      "same numbers (%d)", k);
            }
        } else {
            /* one entry per call, two for monotonic: its energy and its walk */
            CHECK(at_ctx_tape_length(ctx) == tape + 6, "training records one entry per call");
        }
    }
    free(data);
    at_params_free(params);
    at_ctx_free(contexts[0]);
    at_ctx_free(contexts[1]);
}

int main(void) {
    test_static();
    test_forced_forward();
    test_key_value();
    key_value_threads();
    additive_threads();
    static_threads();
    test_errors();
    test_inference_mode();
    return test_finish("attention sequence families");
}
