/*
 * test_attention_step_outputs.c - what issue 9 asked of the sequence and
 * step families besides the numerics:
 *
 *   1. the intermediates the papers name are handed out, with values from
 *      their equations and gradients checked by finite differences:
 *      the decoder step's context c_t, key-value's read r_t, monotonic
 *      attention's p_ij (and its energies, which a caller may bring);
 *   2. forward attention takes any y >= 0 from the caller and refuses a
 *      negative or non-finite one, and a transition outside [0, 1];
 *   3. local attention's S has one source of truth: with a padding mask
 *      and no lengths, p_t = S σ(·) uses what the mask keeps (it used Tk);
 *      lengths that disagree with the mask are an error;
 *   4. the settings that lived in struct fields are init options.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ============================================ 1. the decoder's context */

typedef struct decoder_case {
    int B, Tx, Y, Dh, S, V, A;
    at_attention_decoder dec;
    at_attn_mask mask;
} decoder_case;

/* inputs: annotations, y_0, y_1; two steps; only the two contexts. */
static at_status build_decoder_context(at_ctx *ctx, at_tensor *const *in, void *user,
                                       at_tensor **y) {
    decoder_case *c = user;
    at_tensor *s, *kp, *logits, *context[2];
    AT_TRY(at_attention_decoder_start(ctx, &c->dec, in[0], &s));
    AT_TRY(at_additive_project_keys(ctx, &c->dec.attention, in[0], &kp));
    for (int t = 0; t < 2; t++)
        AT_TRY(at_attention_decoder_step_ext(ctx, &c->dec, in[1 + t], s, in[0], kp, &c->mask, &s,
                                             &logits, NULL, &context[t]));
    return gc_join_outputs(ctx, y, 2, context);
}

static void decoder_context(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 21);
    decoder_case c = {.B = 2, .Tx = 5, .Y = 3, .Dh = 4, .S = 4, .V = 3, .A = 3};
    uint8_t *keep = test_mask_from_lengths(c.B, c.Tx, (const int[]){5, 2});
    c.mask = (at_attn_mask){keep, c.B, 0};
    CHECK_OK(ctx,
             at_attention_decoder_init(ctx, &c.dec, params, "dec", c.Y, c.Dh, c.S, c.V, c.A, &rng));
    test_jitter_params(params, &rng, 0.4f);
    float *ann = test_random_floats(40, -1, 1, &rng), *y0 = test_random_floats(6, -1, 1, &rng);
    float *y1 = test_random_floats(6, -1, 1, &rng);

    /* the value: c_t = Σ_j α_tj h_j with the step's own weights */
    at_tensor *a, *y, *s, *kp, *s1, *logits, *w, *context;
    CHECK_OK(ctx, at_tensor_from(ctx, &a, 3, (const int[]){c.B, c.Tx, c.Dh}, ann));
    CHECK_OK(ctx, at_tensor_from(ctx, &y, 2, (const int[]){c.B, c.Y}, y0));
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &c.dec, a, &s));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &c.dec.attention, a, &kp));
    CHECK_OK(ctx, at_attention_decoder_step_ext(ctx, &c.dec, y, s, a, kp, &c.mask, &s1, &logits, &w,
                                                &context));
    float want[8] = {0};
    for (int b = 0; b < c.B; b++)
        for (int j = 0; j < c.Tx; j++)
            for (int k = 0; k < c.Dh; k++)
                want[b * c.Dh + k] += w->data[b * c.Tx + j] * ann[(b * c.Tx + j) * c.Dh + k];
    CHECK(context->ndim == 2 && context->shape[0] == c.B && context->shape[1] == c.Dh,
          "decoder context is (B, Dh)");
    check_close("decoder context = Σ α h", context->data, want, 8, 1e-6, 1e-5);
    /* the step without the context is the same step */
    at_tensor *s1_plain, *logits_plain;
    CHECK_OK(ctx, at_attention_decoder_step(ctx, &c.dec, y, s, a, kp, &c.mask, &s1_plain,
                                            &logits_plain, NULL));
    check_close("decoder logits, with or without the context", logits->data, logits_plain->data,
                logits->size, 0, 0);

    gc_input in[3] = {{"annotations", 3, {c.B, c.Tx, c.Dh, 1}, ann},
                      {"y_0", 2, {c.B, c.Y, 1, 1}, y0},
                      {"y_1", 2, {c.B, c.Y, 1, 1}, y1}};
    gc_options opts = {.seed = 21};
    gc_check("decoder: loss on the contexts of two steps", 3, in, params, build_decoder_context, &c,
             &opts);
    free(ann), free(y0), free(y1), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ========================================= 1. key-value's read vector */

typedef struct kv_case {
    at_key_value kv;
    at_attn_mask mask;
} kv_case;

static at_status build_read(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    kv_case *c = user;
    at_tensor *out, *weights;
    return at_key_value_forward_ext(ctx, &c->kv, in[0], in[1], in[2], &c->mask, &out, &weights, y);
}

static void key_value_read(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 22);
    int B = 2, T = 5, Dk = 3, Dv = 2, Dx = 2, Do = 3, A = 3, L = 3;
    kv_case c;
    uint8_t *keep = test_mask_from_lengths(B, T, (const int[]){5, 4});
    c.mask = (at_attn_mask){keep, B, 0};
    CHECK_OK(ctx, at_key_value_init(ctx, &c.kv, params, "kv", Dk, Dv, Dx, Do, A, L, &rng));
    test_jitter_params(params, &rng, 0.4f);
    float *k = test_random_floats((size_t)B * T * Dk, -1, 1, &rng);
    float *v = test_random_floats((size_t)B * T * Dv, -1, 1, &rng);
    float *x = test_random_floats((size_t)B * T * Dx, -1, 1, &rng);
    at_tensor *kt, *vt, *xt, *out, *w, *read, *out_plain, *w_plain;
    CHECK_OK(ctx, at_tensor_from(ctx, &kt, 3, (const int[]){B, T, Dk}, k));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){B, T, Dv}, v));
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, (const int[]){B, T, Dx}, x));
    CHECK_OK(ctx, at_key_value_forward_ext(ctx, &c.kv, kt, vt, xt, &c.mask, &out, &w, &read));
    CHECK(read->ndim == 3 && read->shape[0] == B && read->shape[1] == T && read->shape[2] == Dv,
          "key-value read is (B, T, Dv)");
    /* r_t = Σ_j α_tj v_j; out = tanh(W_r r + W_x x) */
    float want_r[20] = {0}, want_out[30];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < T; j++)
                for (int d = 0; d < Dv; d++)
                    want_r[(b * T + t) * Dv + d] +=
                        w->data[(b * T + t) * T + j] * v[(b * T + j) * Dv + d];
            for (int o = 0; o < Do; o++) {
                double pre = 0.0;
                for (int d = 0; d < Dv; d++)
                    pre += (double)c.kv.W_r->data[o * Dv + d] * want_r[(b * T + t) * Dv + d];
                for (int d = 0; d < Dx; d++)
                    pre += (double)c.kv.W_x->data[o * Dx + d] * x[(b * T + t) * Dx + d];
                want_out[(b * T + t) * Do + o] = (float)tanh(pre);
            }
        }
    check_close("key-value read = Σ α v", read->data, want_r, 20, 1e-6, 1e-5);
    check_close("key-value out = tanh(W_r r + W_x x)", out->data, want_out, 30, 1e-5, 1e-4);
    CHECK_OK(ctx, at_key_value_forward(ctx, &c.kv, kt, vt, xt, &c.mask, &out_plain, &w_plain));
    check_close("key-value out, with or without the read", out->data, out_plain->data, 30, 0, 0);

    gc_input in[3] = {
        {"keys", 3, {B, T, Dk, 1}, k}, {"values", 3, {B, T, Dv, 1}, v}, {"x", 3, {B, T, Dx, 1}, x}};
    gc_options opts = {.seed = 22};
    gc_check("key-value: loss on the read", 3, in, params, build_read, &c, &opts);
    free(k), free(v), free(x), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ============================ 1. monotonic's p_ij and caller energies */

typedef struct mono_case {
    int B, Tk, Dq, Dk, Dv, A;
    at_monotonic layer;
    at_attn_mask mask;
} mono_case;

/* inputs: queries (2, B, Dq), keys, values; two steps through the layer's
 * energies; only the two p_choose. */
static at_status build_p_choose(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    mono_case *c = user;
    at_tensor *kp, *alpha = NULL, *p[2];
    AT_TRY(at_additive_project_keys(ctx, &c->layer.energy, in[1], &kp));
    for (int step = 0; step < 2; step++) {
        at_tensor *q, *e, *context;
        AT_TRY(at_slice(ctx, &q, in[0], 0, step, 1));
        AT_TRY(at_reshape(ctx, &q, q, 2, (const int[]){c->B, c->Dq}));
        AT_TRY(at_monotonic_energies(ctx, &c->layer, q, kp, &e));
        AT_TRY(at_monotonic_attend_energies(ctx, e, in[2], alpha, &c->mask, 0.0f, &context, &alpha,
                                            &p[step]));
    }
    return gc_join_outputs(ctx, y, 2, p);
}

/* inputs: energies (2, B, Tk) of the caller's own, values; two steps;
 * every output (contexts, alphas, p) joined. */
static at_status build_given_energies(at_ctx *ctx, at_tensor *const *in, void *user,
                                      at_tensor **y) {
    mono_case *c = user;
    at_tensor *parts[6], *alpha = NULL;
    for (int step = 0; step < 2; step++) {
        at_tensor *e;
        AT_TRY(at_slice(ctx, &e, in[0], 0, step, 1));
        AT_TRY(at_reshape(ctx, &e, e, 2, (const int[]){c->B, c->Tk}));
        AT_TRY(at_monotonic_attend_energies(ctx, e, in[1], alpha, &c->mask, 0.0f, &parts[3 * step],
                                            &parts[3 * step + 1], &parts[3 * step + 2]));
        alpha = parts[3 * step + 1];
    }
    return gc_join_outputs(ctx, y, 6, parts);
}

static void monotonic_outputs(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 23);
    mono_case c = {.B = 2, .Tk = 5, .Dq = 3, .Dk = 4, .Dv = 2, .A = 3};
    uint8_t *keep = test_mask_from_lengths(c.B, c.Tk, (const int[]){5, 3});
    c.mask = (at_attn_mask){keep, c.B, 0};
    at_monotonic_options o = at_monotonic_options_default();
    o.g_init = 2.0f, o.r_init = 0.3f;
    CHECK_OK(ctx, at_monotonic_init_ext(ctx, &c.layer, params, "mono", c.Dq, c.Dk, c.A, &o, &rng));
    test_jitter_params(params, &rng, 0.3f);
    float *q = test_random_floats(12, -1, 1, &rng), *k = test_random_floats(40, -1, 1, &rng);
    float *v = test_random_floats(20, -1, 1, &rng), *e = test_random_floats(20, -2, 2, &rng);

    /* at_monotonic_attend is the energies followed by the walk, exactly */
    at_tensor *qt, *kt, *vt, *kp, *energies, *c1, *a1, *c2, *a2, *p;
    CHECK_OK(ctx, at_tensor_from(ctx, &qt, 2, (const int[]){c.B, c.Dq}, q));
    CHECK_OK(ctx, at_tensor_from(ctx, &kt, 3, (const int[]){c.B, c.Tk, c.Dk}, k));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){c.B, c.Tk, c.Dv}, v));
    CHECK_OK(ctx, at_additive_project_keys(ctx, &c.layer.energy, kt, &kp));
    CHECK_OK(ctx, at_monotonic_attend(ctx, &c.layer, qt, kp, vt, NULL, &c.mask, &c1, &a1));
    CHECK_OK(ctx, at_monotonic_energies(ctx, &c.layer, qt, kp, &energies));
    CHECK_OK(ctx,
             at_monotonic_attend_energies(ctx, energies, vt, NULL, &c.mask, 0.0f, &c2, &a2, &p));
    check_close("monotonic: attend = energies + walk (context)", c1->data, c2->data, c1->size, 0,
                0);
    check_close("monotonic: attend = energies + walk (alpha)", a1->data, a2->data, a1->size, 0, 0);
    /* p = σ(e) where kept, 0 where masked; α_0 = p_0 at j = 0 from δ(0) */
    float want_p[10];
    for (int b = 0; b < c.B; b++)
        for (int j = 0; j < c.Tk; j++)
            want_p[b * c.Tk + j] =
                keep[b * c.Tk + j] ? (float)sigmoid(energies->data[b * c.Tk + j]) : 0.0f;
    check_close("monotonic: p_choose = σ(e), 0 where masked", p->data, want_p, 10, 1e-6, 1e-5);
    CHECK(fabsf(a2->data[0] - p->data[0]) < 1e-7f, "monotonic: α_00 = p_00 from δ(0)");

    gc_input in[3] = {{"queries", 3, {2, c.B, c.Dq, 1}, q},
                      {"keys", 3, {c.B, c.Tk, c.Dk, 1}, k},
                      {"values", 3, {c.B, c.Tk, c.Dv, 1}, v}};
    gc_options opts = {.seed = 23};
    gc_check("monotonic: loss on p_choose of two steps", 3, in, params, build_p_choose, &c, &opts);
    gc_input given[2] = {{"energies", 3, {2, c.B, c.Tk, 1}, e},
                         {"values", 3, {c.B, c.Tk, c.Dv, 1}, v}};
    gc_check("monotonic on the caller's energies: every output", 2, given, NULL,
             build_given_energies, &c, &opts);

    /* errors */
    at_tensor *bad, *out = NULL, *alpha = NULL;
    CHECK_OK(ctx, at_tensor_new(ctx, &bad, 3, (const int[]){c.B, c.Tk, 1}));
    CHECK_STATUS(ctx, at_monotonic_attend_energies(ctx, bad, vt, NULL, NULL, 0, &out, &alpha, NULL),
                 AT_ERR_SHAPE);
    CHECK_STATUS(
        ctx, at_monotonic_attend_energies(ctx, energies, vt, NULL, NULL, -1, &out, &alpha, NULL),
        AT_ERR_ARGUMENT);
    at_tensor *short_values;
    CHECK_OK(ctx, at_tensor_new(ctx, &short_values, 3, (const int[]){c.B, c.Tk - 1, c.Dv}));
    CHECK_STATUS(ctx,
                 at_monotonic_attend_energies(ctx, energies, short_values, NULL, NULL, 0, &out,
                                              &alpha, NULL),
                 AT_ERR_SHAPE);
    CHECK(out == NULL && alpha == NULL, "monotonic energies: outputs untouched on failure");
    free(q), free(k), free(v), free(e), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ============================== 2. forward attention's y from the caller */

static void forward_attention_given_y(void) {
    at_ctx *ctx = test_new_ctx();
    float y[6] = {0.2f, 0.5f, 0.3f, 1.0f, 0.0f, 2.0f}, v[6] = {1, 2, 3, 4, 5, 6};
    float prev[6] = {0.5f, 0.5f, 0.0f, 0.2f, 0.3f, 0.5f}, u[2] = {0.3f, 0.9f};
    at_tensor *yt, *vt, *pt, *ut, *c1, *a1, *c2, *a2;
    CHECK_OK(ctx, at_tensor_from(ctx, &yt, 2, (const int[]){2, 3}, y));
    CHECK_OK(ctx, at_tensor_from(ctx, &vt, 3, (const int[]){2, 3, 1}, v));
    CHECK_OK(ctx, at_tensor_from(ctx, &pt, 2, (const int[]){2, 3}, prev));
    CHECK_OK(ctx, at_tensor_from(ctx, &ut, 2, (const int[]){2, 1}, u));
    CHECK_OK(ctx, at_forward_attention(ctx, yt, pt, ut, vt, NULL, &c1, &a1));
    /* y need not sum to 1: any positive scale of it gives the same α */
    float scaled[6];
    for (int i = 0; i < 6; i++)
        scaled[i] = 37.0f * y[i];
    at_tensor *st;
    CHECK_OK(ctx, at_tensor_from(ctx, &st, 2, (const int[]){2, 3}, scaled));
    CHECK_OK(ctx, at_forward_attention(ctx, st, pt, ut, vt, NULL, &c2, &a2));
    check_close("forward attention: α(37 y) = α(y)", a2->data, a1->data, 6, 1e-7, 1e-6);

    /* a normaliser below float's range (products of 1e-20 and 1e-25) still
     * normalises: α = (1, 9, 4) / 14 (it was inf when 1 / Σ was a float) */
    float tiny_y[3] = {1e-25f, 3e-25f, 2e-25f}, tiny_prev[3] = {1e-20f, 2e-20f, 0.0f};
    float want_tiny[3] = {1.0f / 14, 9.0f / 14, 4.0f / 14};
    at_tensor *ty, *tp, *tv, *tc, *ta;
    CHECK_OK(ctx, at_tensor_from(ctx, &ty, 2, (const int[]){1, 3}, tiny_y));
    CHECK_OK(ctx, at_tensor_from(ctx, &tp, 2, (const int[]){1, 3}, tiny_prev));
    CHECK_OK(ctx, at_tensor_from(ctx, &tv, 3, (const int[]){1, 3, 1}, v));
    CHECK_OK(ctx, at_forward_attention(ctx, ty, tp, NULL, tv, NULL, &tc, &ta));
    check_close("forward attention: a sum below float's range", ta->data, want_tiny, 3, 1e-6, 1e-5);

    /* refused: negative or non-finite y, a transition outside [0, 1] */
    at_tensor *out = NULL, *alpha = NULL;
    float bad_values[3] = {-0.1f, NAN, INFINITY};
    for (int k = 0; k < 3; k++) {
        float bad[6];
        memcpy(bad, y, sizeof bad);
        bad[4] = bad_values[k];
        at_tensor *bt;
        CHECK_OK(ctx, at_tensor_from(ctx, &bt, 2, (const int[]){2, 3}, bad));
        CHECK_STATUS(ctx, at_forward_attention(ctx, bt, pt, ut, vt, NULL, &out, &alpha),
                     AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "y[1, 1]") != NULL, "the message names y[1, 1]: %s",
              at_ctx_error(ctx));
    }
    float bad_u[2] = {0.5f, 1.5f};
    at_tensor *but;
    CHECK_OK(ctx, at_tensor_from(ctx, &but, 2, (const int[]){2, 1}, bad_u));
    CHECK_STATUS(ctx, at_forward_attention(ctx, yt, pt, but, vt, NULL, &out, &alpha),
                 AT_ERR_ARGUMENT);
    CHECK(out == NULL && alpha == NULL, "forward attention: outputs untouched on failure");
    at_ctx_free(ctx);
}

/* ========================================= 3. local attention's one S */

static void local_source_length(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 24);
    int B = 2, Tq = 3, Tk = 9, D = 3, P = 4;
    at_luong_local local;
    CHECK_OK(ctx, at_luong_local_init(ctx, &local, params, "lp", AT_LOCAL_P, AT_SCORE_GENERAL, D, D,
                                      0, 0, 2, P, &rng));
    test_jitter_params(params, &rng, 0.5f);
    float *q = test_random_floats((size_t)B * Tq * D, -1, 1, &rng);
    float *k = test_random_floats((size_t)B * Tk * D, -1, 1, &rng);
    uint8_t *keep = test_mask_from_lengths(B, Tk, (const int[]){9, 4});
    at_attn_mask mask = {keep, B, 0};
    at_tensor *qt, *kt, *kp, *c1, *w1, *p1, *c2, *w2, *p2;
    CHECK_OK(ctx, at_tensor_from(ctx, &qt, 3, (const int[]){B, Tq, D}, q));
    CHECK_OK(ctx, at_tensor_from(ctx, &kt, 3, (const int[]){B, Tk, D}, k));
    CHECK_OK(ctx, at_luong_project_keys(ctx, &local.align, kt, &kp));
    CHECK_OK(ctx, at_luong_local_attend(ctx, &local, qt, kp, kt, &mask, NULL, 0, &c1, &w1, &p1));

    /* p_t = S_b σ(v_pᵀ tanh(W_p h_t)), S_b = what the mask keeps (9 and 4) */
    double worst_old = 0.0;
    float want[6];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tq; i++) {
            double u = 0.0;
            for (int r = 0; r < P; r++) {
                double pre = 0.0;
                for (int x = 0; x < D; x++)
                    pre += (double)local.W_p->data[r * D + x] * q[(b * Tq + i) * D + x];
                u += local.v_p->data[r] * tanh(pre);
            }
            double S = b == 0 ? 9 : 4;
            want[b * Tq + i] = (float)(S * sigmoid(u));
            worst_old = fmax(worst_old, fabs(Tk * sigmoid(u) - want[b * Tq + i]));
        }
    check_close("local-p, padding mask, no lengths: p_t = S σ(u), S from the mask", p1->data, want,
                6, 1e-5, 1e-5);
    printf("local-p: with S = Tk (before issue 9) p_t was off by up to %.2f positions\n",
           worst_old);
    /* the same as giving the lengths that agree */
    CHECK_OK(ctx, at_luong_local_attend(ctx, &local, qt, kp, kt, &mask, (const int32_t[]){9, 4}, 0,
                                        &c2, &w2, &p2));
    check_close("local-p: agreeing lengths = the mask's S", p2->data, p1->data, 6, 0, 0);
    check_close("local-p: agreeing lengths, same weights", w2->data, w1->data, w1->size, 0, 0);
    /* lengths that disagree with the padding mask */
    at_tensor *c3 = NULL, *w3 = NULL, *p3 = NULL;
    CHECK_STATUS(ctx,
                 at_luong_local_attend(ctx, &local, qt, kp, kt, &mask, (const int32_t[]){9, 5}, 0,
                                       &c3, &w3, &p3),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "lengths[1] = 5") && strstr(at_ctx_error(ctx), "keeps 4"),
          "the message names the row and both numbers: %s", at_ctx_error(ctx));
    CHECK(c3 == NULL && w3 == NULL && p3 == NULL, "local: outputs untouched on failure");
    free(q), free(k), free(keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ====================================================== 4. init options */

static void init_options(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 25);

    /* the decoder: output_from_previous_state */
    at_attention_decoder dec;
    at_attention_decoder_options dopt = at_attention_decoder_options_default();
    CHECK(dopt.output_from_previous_state == 0, "decoder default: logits from s_t");
    dopt.output_from_previous_state = 1;
    CHECK_OK(ctx,
             at_attention_decoder_init_ext(ctx, &dec, params, "dec", 2, 3, 4, 3, 2, &dopt, &rng));
    CHECK(dec.output_from_previous_state == 1, "decoder init_ext sets output_from_previous_state");
    dopt.output_from_previous_state = 2;
    CHECK_STATUS(
        ctx, at_attention_decoder_init_ext(ctx, &dec, params, "dec2", 2, 3, 4, 3, 2, &dopt, &rng),
        AT_ERR_ARGUMENT);

    /* feature attention: eps */
    at_feature_attention feature;
    at_feature_attention_options fopt = at_feature_attention_options_default();
    CHECK(fopt.eps == 1e-7f, "feature default eps 1e-7");
    fopt.eps = 0.5f;
    CHECK_OK(ctx, at_feature_attention_init_ext(ctx, &feature, params, "feat", 2, &fopt, &rng));
    CHECK(feature.eps == 0.5f, "feature init_ext sets eps");
    float h[6] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
    at_tensor *ht, *out, *w;
    CHECK_OK(ctx, at_tensor_from(ctx, &ht, 3, (const int[]){1, 3, 2}, h));
    CHECK_OK(ctx, at_feature_attention_forward(ctx, &feature, ht, NULL, &out, &w));
    float want[6];
    for (int f = 0; f < 2; f++) {
        double a[3], sum = 0.0;
        for (int t = 0; t < 3; t++) {
            double pre = feature.b->data[f];
            for (int x = 0; x < 2; x++)
                pre += (double)feature.W->data[f * 2 + x] * h[t * 2 + x];
            sum += (a[t] = exp(tanh(pre)));
        }
        for (int t = 0; t < 3; t++)
            want[t * 2 + f] = (float)(a[t] / (sum + 0.5));
    }
    check_close("feature attention with eps 0.5: α = a / (Σ a + 0.5)", w->data, want, 6, 1e-6,
                1e-5);
    fopt.eps = -1.0f;
    CHECK_STATUS(ctx, at_feature_attention_init_ext(ctx, &feature, params, "f2", 2, &fopt, &rng),
                 AT_ERR_ARGUMENT);

    /* monotonic: g, r, noise_std */
    at_monotonic mono;
    at_monotonic_options mopt = at_monotonic_options_default();
    CHECK(mopt.g_init == 0.0f && mopt.r_init == -1.0f && mopt.noise_std == 0.0f,
          "monotonic defaults: g 1/√A (0), r −1, no noise");
    mopt.g_init = 3.0f, mopt.r_init = 0.5f, mopt.noise_std = 1.5f;
    CHECK_OK(ctx, at_monotonic_init_ext(ctx, &mono, params, "m1", 2, 2, 4, &mopt, &rng));
    CHECK(mono.g->data[0] == 3.0f && mono.r->data[0] == 0.5f && mono.noise_std == 1.5f,
          "monotonic init_ext sets g, r and noise_std");
    CHECK_OK(ctx, at_monotonic_init_ext(ctx, &mono, params, "m2", 2, 2, 4, NULL, &rng));
    CHECK(mono.g->data[0] == 0.5f && mono.r->data[0] == -1.0f && mono.noise_std == 0.0f,
          "monotonic init_ext with NULL options: the defaults (g = 1/√4)");
    mopt.r_init = NAN;
    CHECK_STATUS(ctx, at_monotonic_init_ext(ctx, &mono, params, "m3", 2, 2, 4, &mopt, &rng),
                 AT_ERR_ARGUMENT);
    mopt.r_init = 0.0f, mopt.noise_std = -0.1f;
    CHECK_STATUS(ctx, at_monotonic_init_ext(ctx, &mono, params, "m4", 2, 2, 4, &mopt, &rng),
                 AT_ERR_ARGUMENT);
    at_params_free(params);
    at_ctx_free(ctx);
}

int main(void) {
    decoder_context();
    key_value_read();
    monotonic_outputs();
    forward_attention_given_y();
    local_source_length();
    init_options();
    return test_finish("step family outputs and options");
}
