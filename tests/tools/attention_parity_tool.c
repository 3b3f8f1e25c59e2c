/*
 * attention_parity_tool.c - run one attention family of attend and write
 * down everything an independent PyTorch implementation needs to redo it.
 *
 * tests/parity/test_attention_parity.py calls
 *
 *     attention_parity_tool CASE OUT.safetensors [SEED]
 *
 * for every case below. A case builds one family (families 1-9 of attend.h;
 * multi-head has its own test) with a seeded generator, feeds it seeded
 * random inputs and a mask, runs forward asking for the attention weights,
 * then backward from seeded random output gradients, and saves ONE
 * safetensors file through at_checkpoint_save (a second parameter set is
 * the container). The file holds copies of:
 *
 *     SYMBOL          each parameter under its symbol in attend.h, i.e. the
 *                     struct field ("W_a", "v_a", "W_p", "g" ...)
 *     queries, keys   the inputs, under the names the header uses
 *     seed.Y          the output gradient given to backward for output Y
 *     out.Y           every output ("out.context", "out.weights", ...)
 *     grad.NAME       the gradient of every input and every parameter
 *
 * and in the metadata (string values, mostly JSON): "case", "seed",
 * "sizes", "params" (symbol -> the library's own parameter name), "mask",
 * "mask_rows", "causal", "lengths", "unseeded" and whatever else a case
 * needs (scale, eps, first_step, window, positions_in ...).
 *
 * Several outputs at once: gradients accumulate into ->grad and backward
 * walks the whole tape (attend.h), so the tool adds the seeds of the
 * secondary outputs into their ->grad and then calls at_backward_seeded on
 * the main one. That is the gradient of L = sum_Y sum(Y * seed.Y).
 * The header does not promise that the weights (or local-p's positions)
 * carry a gradient; when such an output comes back without a gradient
 * buffer it is written without a seed and listed in "unseeded", and the
 * oracle leaves it out of L. The context and the other main outputs must
 * carry a gradient.
 *
 * Parameters that start constant (biases, the monotonic gain and offset)
 * are overwritten with random values so that a wrong or missing term shows.
 * Every parameter in the layer's set must have been written: the tool stops
 * if one was forgotten. `attention_parity_tool --list` prints the cases.
 */
#include "parity_dump.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Overwrite every parameter whose values are all equal (a zero bias, a
 * constant gain) with uniform values in [-0.5, 0.5). */
static void randomise_constants(pd_run *r) {
    for (int i = 0; i < at_params_count(r->model); i++) {
        at_tensor *p = at_params_get(r->model, i);
        int constant = 1;
        for (size_t k = 1; k < p->size; k++) constant &= p->data[k] == p->data[0];
        if (constant) pd_randomise(r, p, -0.5f, 0.5f);
    }
}

/* ----------------------------------------------------------------- masks */

/* A padding mask (B, T) from lengths, written to the metadata. */
static void padding_mask(pd_run *r, uint8_t *keep, const int32_t *lengths, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) keep[b * T + t] = t < lengths[b];
    pd_meta_ints(r, "lengths", lengths, B);
}

static void mask_meta(pd_run *r, const at_attn_mask *m, int tk) {
    if (m && m->keep) {
        int n = m->rows * tk;
        int32_t *v = malloc((size_t)n * sizeof *v);
        if (!v) pd_die(r, "out of memory");
        for (int i = 0; i < n; i++) v[i] = m->keep[i] ? 1 : 0;
        pd_meta_ints(r, "mask", v, n);
        free(v);
    }
    pd_meta(r, "mask_rows", "%d", m && m->keep ? m->rows : 0);
    pd_meta(r, "causal", "%d", m ? m->causal : 0);
}

/* A random distribution per row over the kept positions, summing to a
 * value in [lo_sum, 1]; masked positions (and masked rows) are 0. */
static void random_distribution(pd_run *r, float *out, const uint8_t *keep, int B, int T,
                                float lo_sum) {
    for (int b = 0; b < B; b++) {
        double total = 0;
        for (int t = 0; t < T; t++) {
            int kept = !keep || keep[b * T + t];
            out[b * T + t] = kept ? 0.05f + at_rng_uniform(&r->data_rng) : 0.0f;
            total += out[b * T + t];
        }
        float mass = lo_sum + (1.0f - lo_sum) * at_rng_uniform(&r->data_rng);
        for (int t = 0; t < T; t++)
            out[b * T + t] = total > 0 ? (float)(out[b * T + t] / total) * mass : 0.0f;
    }
}

/* ------------------------------------------------------------ 1. additive */

static void additive_params(pd_run *r, const at_additive *l) {
    pd_param(r, "W_a", l->W_a, 1);
    pd_param(r, "U_a", l->U_a, 1);
    pd_param(r, "b_a", l->b_a, 1);
    pd_param(r, "v_a", l->v_a, 1);
}

/* (B, Tq, Dq) queries with Tq != Tk, or one decoder step (B, Dq); padding
 * mask with row 2 fully masked. */
static void additive_case(pd_run *r, int single_step) {
    enum { B = 3, TQ = 4, TK = 6, DQ = 5, DK = 4, DV = 3, A = 7 };
    static const int32_t lengths[B] = {6, 3, 0};
    uint8_t keep[B * TK];
    at_additive l;
    TRY(r, at_additive_init(r->ctx, &l, r->model, "", DQ, DK, A, &r->init_rng));
    randomise_constants(r);
    at_tensor *q = single_step ? pd_input(r, "queries", 2, (int[]){B, DQ}, -1, 1, 1)
                               : pd_input(r, "queries", 3, (int[]){B, TQ, DQ}, -1, 1, 1);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, TK, DK}, -1, 1, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, DV}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, TK);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *kp, *ctxt, *w;
    TRY(r, at_additive_project_keys(r->ctx, &l, k, &kp));
    TRY(r, at_additive_attend(r->ctx, &l, q, kp, v, &mask, &ctxt, &w));
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "queries", q);
    pd_put_grad(r, "keys", k);
    pd_put_grad(r, "values", v);
    additive_params(r, &l);
    mask_meta(r, &mask, TK);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d, "
            "\"A\": %d, \"single_step\": %d}",
            B, single_step ? 1 : TQ, TK, DQ, DK, DV, A, single_step);
}
static void case_additive(pd_run *r) { additive_case(r, 0); }
static void case_additive_step(pd_run *r) { additive_case(r, 1); }

/* --------------------------------------------------- 2. attention decoder */

enum { DEC_B = 3, DEC_TX = 5, DEC_Y = 4, DEC_DH = 6, DEC_S = 5, DEC_V = 7, DEC_A = 6 };

static void decoder_params(pd_run *r, const at_attention_decoder *d) {
    additive_params(r, &d->attention);
    pd_param(r, "W_r", d->W_r, 1);
    pd_param(r, "U_r", d->U_r, 1);
    pd_param(r, "C_r", d->C_r, 1);
    pd_param(r, "b_r", d->b_r, 1);
    pd_param(r, "W_z", d->W_z, 1);
    pd_param(r, "U_z", d->U_z, 1);
    pd_param(r, "C_z", d->C_z, 1);
    pd_param(r, "b_z", d->b_z, 1);
    pd_param(r, "W_p", d->W_p, 1);
    pd_param(r, "U_p", d->U_p, 1);
    pd_param(r, "C_p", d->C_p, 1);
    pd_param(r, "b_p", d->b_p, 1);
    pd_param(r, "W_o", d->W_o, 1);
    pd_param(r, "U_o", d->U_o, 1);
    pd_param(r, "C_o", d->C_o, 1);
    pd_param(r, "b_o", d->b_o, 1);
    pd_param(r, "W_s", d->W_s, 1);
}

/* One step with a given s_prev (from_start 0), or s0 = _start(annotations)
 * followed by one step from it (from_start 1, s0 is an output too). */
static void decoder_case(pd_run *r, int from_previous, int from_start) {
    enum { B = DEC_B, TX = DEC_TX };
    static const int32_t lengths[B] = {5, 2, 4};
    uint8_t keep[B * TX];
    at_attention_decoder d;
    TRY(r, at_attention_decoder_init(r->ctx, &d, r->model, "", DEC_Y, DEC_DH, DEC_S, DEC_V,
                                     DEC_A, &r->init_rng));
    d.output_from_previous_state = from_previous;
    randomise_constants(r);
    at_tensor *h = pd_input(r, "annotations", 3, (int[]){B, TX, DEC_DH}, -1, 1, 1);
    at_tensor *y_prev = pd_input(r, "y_prev", 2, (int[]){B, DEC_Y}, -1, 1, 1);
    at_tensor *s_prev = NULL, *s0 = NULL;
    if (from_start)
        TRY(r, at_attention_decoder_start(r->ctx, &d, h, &s0));
    else
        s_prev = pd_input(r, "s_prev", 2, (int[]){B, DEC_S}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, TX);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *kp, *s, *logits, *w;
    TRY(r, at_additive_project_keys(r->ctx, &d.attention, h, &kp));
    TRY(r, at_attention_decoder_step(r->ctx, &d, y_prev, from_start ? s0 : s_prev, h, kp, &mask,
                                     &s, &logits, &w));
    if (from_start) pd_seed_extra(r, "s0", s0, 0);
    pd_seed_extra(r, "weights", w, 1);
    pd_seed_extra(r, "s", s, 0);
    pd_backward_from(r, "logits", logits);
    pd_put_grad(r, "annotations", h);
    pd_put_grad(r, "y_prev", y_prev);
    if (!from_start) pd_put_grad(r, "s_prev", s_prev);
    decoder_params(r, &d);
    mask_meta(r, &mask, TX);
    pd_meta(r, "output_from_previous_state", "%d", from_previous);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"Tx\": %d, \"Y\": %d, \"Dh\": %d, \"S\": %d, \"V\": %d, "
            "\"A\": %d, \"from_start\": %d}",
            B, TX, DEC_Y, DEC_DH, DEC_S, DEC_V, DEC_A, from_start);
}
static void case_decoder_step(pd_run *r) { decoder_case(r, 0, 0); }
static void case_decoder_step_prev(pd_run *r) { decoder_case(r, 1, 0); }
static void case_decoder_start(pd_run *r) { decoder_case(r, 0, 1); }

/* ------------------------------------------------------ 3. Luong global */

static const char *score_name(at_score s) {
    switch (s) {
    case AT_SCORE_DOT: return "dot";
    case AT_SCORE_GENERAL: return "general";
    case AT_SCORE_CONCAT: return "concat";
    case AT_SCORE_LOCATION: return "location";
    }
    return "?";
}

static void luong_params(pd_run *r, const at_luong *l) {
    if (l->W_a) pd_param(r, "W_a", l->W_a, 1);
    if (l->v_a) pd_param(r, "v_a", l->v_a, 1);
    if (l->W_c) pd_param(r, "W_c", l->W_c, 1);
}

/* mask_kind: 0 padding, 1 padding + causal, 2 a full (B*Tq, Tk) mask with
 * one fully masked and one all-kept row. attentional: also h_tilde, with
 * values = keys as Luong attends over h̄_s itself. */
static void luong_case(pd_run *r, at_score score, int mask_kind, int attentional) {
    enum { B = 3, TQ = 4, TK = 5, DQ = 4, A = 6, L = 7, DC = 5 };
    const int DK = score == AT_SCORE_DOT ? DQ : 3;
    const int DV = attentional ? DK : 2;
    static const int32_t lengths[B] = {5, 2, 4};
    uint8_t keep[B * TQ * TK];
    at_luong l;
    TRY(r, at_luong_init(r->ctx, &l, r->model, "", score, DQ, DK, A, L,
                         attentional ? DC : 0, &r->init_rng));
    randomise_constants(r);
    at_tensor *q = pd_input(r, "queries", 3, (int[]){B, TQ, DQ}, -1, 1, 1);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, TK, DK}, -1, 1, 1);
    at_tensor *v = attentional ? k : pd_input(r, "values", 3, (int[]){B, TK, DV}, -1, 1, 1);
    at_attn_mask mask = {keep, B, mask_kind == 1};
    if (mask_kind == 2) {
        mask.rows = B * TQ;
        for (int i = 0; i < B * TQ * TK; i++) keep[i] = at_rng_uniform(&r->data_rng) < 0.6f;
        for (int j = 0; j < TK; j++) {
            keep[1 * TK + j] = 0; /* score row 1: fully masked */
            keep[6 * TK + j] = 1; /* score row 6: all kept     */
        }
    } else {
        padding_mask(r, keep, lengths, B, TK);
    }
    at_tensor *kp, *ctxt, *w;
    TRY(r, at_luong_project_keys(r->ctx, &l, k, &kp));
    TRY(r, at_luong_attend(r->ctx, &l, q, kp, v, &mask, &ctxt, &w));
    pd_seed_extra(r, "weights", w, 1);
    if (attentional) {
        at_tensor *ht;
        TRY(r, at_luong_attentional(r->ctx, &l, ctxt, q, &ht));
        pd_seed_extra(r, "context", ctxt, 0);
        pd_backward_from(r, "h_tilde", ht);
    } else {
        pd_backward_from(r, "context", ctxt);
    }
    pd_put_grad(r, "queries", q);
    pd_put_grad(r, "keys", k);
    if (!attentional) pd_put_grad(r, "values", v);
    luong_params(r, &l);
    mask_meta(r, &mask, TK);
    pd_meta(r, "score", "%s", score_name(score));
    pd_meta(r, "sizes",
            "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d, "
            "\"A\": %d, \"max_source_len\": %d, \"Dc\": %d, \"values_are_keys\": %d}",
            B, TQ, TK, DQ, DK, DV, A, L, attentional ? DC : 0, attentional);
}
static void case_luong_dot(pd_run *r) { luong_case(r, AT_SCORE_DOT, 1, 0); }
static void case_luong_general(pd_run *r) { luong_case(r, AT_SCORE_GENERAL, 2, 0); }
static void case_luong_concat(pd_run *r) { luong_case(r, AT_SCORE_CONCAT, 0, 0); }
static void case_luong_location(pd_run *r) { luong_case(r, AT_SCORE_LOCATION, 0, 0); }
static void case_luong_attentional(pd_run *r) { luong_case(r, AT_SCORE_GENERAL, 0, 1); }

/* ------------------------------------------------------- 4. Luong local */

/* Queries (B, Tq, Dq) for local attention. For local-p they are drawn
 * again until every p_t is at least 0.05 from an integer: the window
 * {s : |s - p_t| <= D} changes where p_t is an integer, and there the
 * float32 and float64 windows could differ. A no-gradient forward reads
 * p_t; the accepted queries are then stored as the input. */
static at_tensor *local_queries(pd_run *r, const at_luong_local *l, at_tensor *k, at_tensor *v,
                                const int32_t *lengths, int first_step) {
    enum { B = 3, TQ = 3, DQ = 4 };
    float data[B * TQ * DQ];
    const int shape[3] = {B, TQ, DQ};
    for (int attempt = 0;; attempt++) {
        if (attempt == 100) pd_die(r, "no queries put every p_t away from an integer");
        for (int i = 0; i < B * TQ * DQ; i++) data[i] = -1 + 2 * at_rng_uniform(&r->data_rng);
        if (l->kind != AT_LOCAL_P) break;
        int was = at_ctx_set_grad(r->ctx, 0);
        at_tensor *q, *kp, *c, *pos;
        TRY(r, at_tensor_from(r->ctx, &q, 3, shape, data));
        TRY(r, at_luong_project_keys(r->ctx, &l->align, k, &kp));
        TRY(r, at_luong_local_attend(r->ctx, l, q, kp, v, NULL, lengths, first_step, &c, NULL,
                                     &pos));
        at_ctx_set_grad(r->ctx, was);
        int ok = 1;
        for (size_t i = 0; i < pos->size; i++) {
            double frac = pos->data[i] - floor(pos->data[i]);
            ok &= frac > 0.05 && frac < 0.95;
        }
        if (ok) break;
    }
    return pd_input_from(r, "queries", 3, shape, data, 1);
}

/* local-m: concat score, D = 1, steps first_step.. with source lengths
 * (one window clipped at S). local-p: general score, D = 2, per-row S. */
static void local_case(pd_run *r, at_local_kind kind) {
    enum { B = 3, TQ = 3, TK = 8, DQ = 4, DK = 3, DV = 2, A = 5, P = 4 };
    const int window = kind == AT_LOCAL_M ? 1 : 2;
    const at_score score = kind == AT_LOCAL_M ? AT_SCORE_CONCAT : AT_SCORE_GENERAL;
    const int first_step = 2;
    static const int32_t lengths_m[B] = {8, 5, 6};
    static const int32_t lengths_p[B] = {8, 5, 7};
    const int32_t *lengths = kind == AT_LOCAL_M ? lengths_m : lengths_p;
    at_luong_local l;
    TRY(r, at_luong_local_init(r->ctx, &l, r->model, "", kind, score, DQ, DK, A, 0, window, P,
                               &r->init_rng));
    randomise_constants(r);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, TK, DK}, -1, 1, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, DV}, -1, 1, 1);
    at_tensor *q = local_queries(r, &l, k, v, lengths, first_step);
    at_tensor *kp, *ctxt, *w, *pos = NULL;
    TRY(r, at_luong_project_keys(r->ctx, &l.align, k, &kp));
    TRY(r, at_luong_local_attend(r->ctx, &l, q, kp, v, NULL, lengths, first_step, &ctxt, &w,
                                 &pos));
    pd_seed_extra(r, "positions", pos, 1);
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "queries", q);
    pd_put_grad(r, "keys", k);
    pd_put_grad(r, "values", v);
    luong_params(r, &l.align);
    if (kind == AT_LOCAL_P) {
        pd_param(r, "W_p", l.W_p, 1);
        pd_param(r, "v_p", l.v_p, 1);
    }
    pd_meta_ints(r, "lengths", lengths, B);
    mask_meta(r, NULL, TK);
    pd_meta(r, "kind", "%s", kind == AT_LOCAL_M ? "m" : "p");
    pd_meta(r, "score", "%s", score_name(score));
    pd_meta(r, "window", "%d", window);
    pd_meta(r, "first_step", "%d", first_step);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d, "
            "\"A\": %d, \"P\": %d}",
            B, TQ, TK, DQ, DK, DV, A, P);
}
static void case_local_m(pd_run *r) { local_case(r, AT_LOCAL_M); }
static void case_local_p(pd_run *r) { local_case(r, AT_LOCAL_P); }

/* ------------------------------------------------------------- 5. static */

/* HAN or the per-feature layer on (B, T, D), row 2 fully masked. The
 * per-feature ε is raised to 0.1 so that a wrong ε shows. */
static void static_case(pd_run *r, int feature) {
    enum { B = 3, T = 5, D = 4, A = 6 };
    static const int32_t lengths[B] = {5, 3, 0};
    const float eps = 0.1f;
    uint8_t keep[B * T];
    at_han_attention han = {0};
    at_feature_attention fa = {0};
    if (feature) {
        TRY(r, at_feature_attention_init(r->ctx, &fa, r->model, "", D, &r->init_rng));
        fa.eps = eps;
    } else {
        TRY(r, at_han_attention_init(r->ctx, &han, r->model, "", D, A, &r->init_rng));
    }
    randomise_constants(r);
    at_tensor *h = pd_input(r, "h", 3, (int[]){B, T, D}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, T);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *out, *w;
    if (feature)
        TRY(r, at_feature_attention_forward(r->ctx, &fa, h, &mask, &out, &w));
    else
        TRY(r, at_han_attention_forward(r->ctx, &han, h, &mask, &out, &w));
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "out", out);
    pd_put_grad(r, "h", h);
    if (feature) {
        pd_param(r, "W", fa.W, 1);
        pd_param(r, "b", fa.b, 1);
        pd_meta(r, "eps", "%.9g", (double)eps);
    } else {
        pd_param(r, "W", han.W, 1);
        pd_param(r, "b", han.b, 1);
        pd_param(r, "u_w", han.u_w, 1);
    }
    mask_meta(r, &mask, T);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"D\": %d, \"A\": %d}", B, T, D, A);
}
static void case_han(pd_run *r) { static_case(r, 0); }
static void case_feature(pd_run *r) { static_case(r, 1); }

/* ---------------------------------------------------- 6. forced-forward */

enum { MON_B = 3, MON_TK = 6, MON_DQ = 4, MON_DK = 3, MON_DV = 2, MON_A = 5 };

static void monotonic_setup(pd_run *r, at_monotonic *l, float g_lo, float g_hi, float r_lo,
                            float r_hi) {
    TRY(r, at_monotonic_init(r->ctx, l, r->model, "", MON_DQ, MON_DK, MON_A, &r->init_rng));
    l->noise_std = 0.0f;
    randomise_constants(r);
    pd_randomise(r, l->g, g_lo, g_hi);
    pd_randomise(r, l->r, r_lo, r_hi);
}

static void monotonic_params(pd_run *r, const at_monotonic *l, int grad) {
    pd_param(r, "W_a", l->energy.W_a, grad);
    pd_param(r, "U_a", l->energy.U_a, grad);
    pd_param(r, "b_a", l->energy.b_a, grad);
    pd_param(r, "v_a", l->energy.v_a, grad);
    pd_param(r, "g", l->g, grad);
    pd_param(r, "r", l->r, grad);
}

/* Soft (expected) monotonic alignment, training-mode noise off. With
 * alpha_prev: a random sub-stochastic row per batch row, zero where masked,
 * row 2 fully masked. Without: α_0 = δ(j = 0) and no mask. */
static void monotonic_case(pd_run *r, int with_prev) {
    enum { B = MON_B, TK = MON_TK };
    static const int32_t lengths[B] = {6, 4, 0};
    uint8_t keep[B * TK];
    float prev[B * TK];
    at_monotonic l;
    monotonic_setup(r, &l, 1.0f, 2.0f, -0.3f, 0.3f);
    at_tensor *q = pd_input(r, "query", 2, (int[]){B, MON_DQ}, -1, 1, 1);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, TK, MON_DK}, -1, 1, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, MON_DV}, -1, 1, 1);
    at_tensor *alpha_prev = NULL;
    at_attn_mask mask = {keep, B, 0};
    if (with_prev) {
        padding_mask(r, keep, lengths, B, TK);
        random_distribution(r, prev, keep, B, TK, 0.7f);
        alpha_prev = pd_input_from(r, "alpha_prev", 2, (int[]){B, TK}, prev, 1);
    }
    at_tensor *kp, *ctxt, *alpha;
    TRY(r, at_additive_project_keys(r->ctx, &l.energy, k, &kp));
    TRY(r, at_monotonic_attend(r->ctx, &l, q, kp, v, alpha_prev, with_prev ? &mask : NULL,
                               &ctxt, &alpha));
    pd_seed_extra(r, "alpha", alpha, 0);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "query", q);
    pd_put_grad(r, "keys", k);
    pd_put_grad(r, "values", v);
    if (with_prev) pd_put_grad(r, "alpha_prev", alpha_prev);
    monotonic_params(r, &l, 1);
    mask_meta(r, with_prev ? &mask : NULL, TK);
    pd_meta(r, "sizes", "{\"B\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d, \"A\": %d}", B,
            TK, MON_DQ, MON_DK, MON_DV, MON_A);
}
static void case_monotonic(pd_run *r) { monotonic_case(r, 1); }
static void case_monotonic_start(pd_run *r) { monotonic_case(r, 0); }

/* Hard monotonic decoding, gradients off. Row 2 starts at 3 but keeps only
 * keys 0..2, so it must find nothing and keep its position. Queries and
 * keys are drawn again until rows 0 and 1 both stop, at least one of them
 * past its start (so the scan really moves forward). */
static void case_monotonic_hard(pd_run *r) {
    enum { B = MON_B, TK = MON_TK, NQ = B * MON_DQ, NK = B * TK * MON_DK };
    static const int32_t lengths[B] = {6, 6, 3};
    static const int32_t start[B] = {0, 2, 3};
    int32_t positions[B];
    uint8_t keep[B * TK];
    float qd[NQ], kd[NK];
    at_monotonic l;
    monotonic_setup(r, &l, 2.0f, 3.0f, -1.2f, -0.8f);
    padding_mask(r, keep, lengths, B, TK);
    at_attn_mask mask = {keep, B, 0};
    pd_meta_ints(r, "positions_in", start, B);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, MON_DV}, -1, 1, 0);
    at_tensor *q, *k, *kp, *ctxt, *w;
    int was = at_ctx_set_grad(r->ctx, 0);
    for (int attempt = 0;; attempt++) {
        if (attempt == 200) pd_die(r, "no inputs make the hard scan move forward");
        for (int i = 0; i < NQ; i++) qd[i] = -1 + 2 * at_rng_uniform(&r->data_rng);
        for (int i = 0; i < NK; i++) kd[i] = -1 + 2 * at_rng_uniform(&r->data_rng);
        memcpy(positions, start, sizeof positions);
        TRY(r, at_tensor_from(r->ctx, &q, 2, (int[]){B, MON_DQ}, qd));
        TRY(r, at_tensor_from(r->ctx, &k, 3, (int[]){B, TK, MON_DK}, kd));
        TRY(r, at_additive_project_keys(r->ctx, &l.energy, k, &kp));
        TRY(r, at_monotonic_attend_hard(r->ctx, &l, q, kp, v, &mask, positions, &ctxt, &w));
        int stops = 0, moved = 0;
        for (int b = 0; b < 2; b++) {
            stops += w->data[b * TK + positions[b]] == 1.0f;
            moved += positions[b] > start[b];
        }
        if (stops == 2 && moved >= 1) break;
    }
    at_ctx_set_grad(r->ctx, was);
    pd_input_from(r, "query", 2, (int[]){B, MON_DQ}, qd, 0);
    pd_input_from(r, "keys", 3, (int[]){B, TK, MON_DK}, kd, 0);
    pd_put_output(r, "context", ctxt);
    pd_put_output(r, "weights", w);
    float pos[B];
    for (int b = 0; b < B; b++) pos[b] = (float)positions[b];
    pd_put(r, "out.positions", 1, (int[]){B}, pos);
    monotonic_params(r, &l, 0);
    mask_meta(r, &mask, TK);
    pd_meta(r, "sizes", "{\"B\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d, \"A\": %d}", B,
            TK, MON_DQ, MON_DK, MON_DV, MON_A);
}

/* Forward attention (Zhang et al. 2018). With a transition agent u and a
 * given alpha_prev, padding with row 2 fully masked; or the plain form with
 * alpha_prev = NULL (δ at 0) and no mask. */
static void forward_attention_case(pd_run *r, int with_transition) {
    enum { B = 3, TK = 6, DV = 3 };
    static const int32_t lengths[B] = {6, 4, 0};
    uint8_t keep[B * TK];
    float y_data[B * TK], prev[B * TK];
    random_distribution(r, y_data, NULL, B, TK, 1.0f);
    at_tensor *y = pd_input_from(r, "y", 2, (int[]){B, TK}, y_data, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, DV}, -1, 1, 1);
    at_tensor *alpha_prev = NULL, *u = NULL;
    at_attn_mask mask = {keep, B, 0};
    if (with_transition) {
        padding_mask(r, keep, lengths, B, TK);
        random_distribution(r, prev, NULL, B, TK, 1.0f);
        alpha_prev = pd_input_from(r, "alpha_prev", 2, (int[]){B, TK}, prev, 1);
        u = pd_input(r, "transition", 2, (int[]){B, 1}, 0.2f, 0.8f, 1);
    }
    at_tensor *ctxt, *alpha;
    TRY(r, at_forward_attention(r->ctx, y, alpha_prev, u, v, with_transition ? &mask : NULL,
                                &ctxt, &alpha));
    pd_seed_extra(r, "alpha", alpha, 0);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "y", y);
    pd_put_grad(r, "values", v);
    if (with_transition) {
        pd_put_grad(r, "alpha_prev", alpha_prev);
        pd_put_grad(r, "transition", u);
    }
    mask_meta(r, with_transition ? &mask : NULL, TK);
    pd_meta(r, "sizes", "{\"B\": %d, \"Tk\": %d, \"Dv\": %d}", B, TK, DV);
}
static void case_forward_attention(pd_run *r) { forward_attention_case(r, 1); }
static void case_forward_attention_plain(pd_run *r) { forward_attention_case(r, 0); }

/* ------------------------------------------------------ 7. multiplicative */

/* The fused kernel. kind 0: (B, H, T, d), scale 0 (1/sqrt d), causal and a
 * padding mask with row 2 empty, weights asked for; kind 1: the same without
 * weights (the online-softmax path); kind 2: 3-D (B, Tq, d) with Tq != Tk,
 * plain dot (scale 1), a full mask with one empty and one all-kept row;
 * kind 3: long (Tq 67, Tk 75), several tiles, causal + padding, no weights,
 * B = 1 with H = 2 groups run on a context with 2 threads. */
static void dot_case(pd_run *r, int kind) {
    int B = 3, H = 2, TQ = 5, TK = 5, D = 4, DV = 3;
    float scale = 0.0f;
    int causal = 1, with_weights = kind != 1 && kind != 3;
    int32_t lengths[3] = {5, 3, 0};
    if (kind == 2) {
        H = 0, TQ = 3, TK = 6, DV = 5, scale = 1.0f, causal = 0, B = 2;
    } else if (kind == 3) {
        B = 1, TQ = 67, TK = 75, D = 8, DV = 8;
        lengths[0] = 70;
    }
    uint8_t *keep = malloc((size_t)B * TQ * TK);
    if (!keep) pd_die(r, "out of memory");
    at_tensor *q, *k, *v;
    if (H) {
        q = pd_input(r, "q", 4, (int[]){B, H, TQ, D}, -1, 1, 1);
        k = pd_input(r, "k", 4, (int[]){B, H, TK, D}, -1, 1, 1);
        v = pd_input(r, "v", 4, (int[]){B, H, TK, DV}, -1, 1, 1);
    } else {
        q = pd_input(r, "q", 3, (int[]){B, TQ, D}, -1, 1, 1);
        k = pd_input(r, "k", 3, (int[]){B, TK, D}, -1, 1, 1);
        v = pd_input(r, "v", 3, (int[]){B, TK, DV}, -1, 1, 1);
    }
    at_attn_mask mask = {keep, B, causal};
    if (kind == 2) {
        mask.rows = B * TQ;
        for (int i = 0; i < B * TQ * TK; i++) keep[i] = at_rng_uniform(&r->data_rng) < 0.6f;
        for (int j = 0; j < TK; j++) {
            keep[4 * TK + j] = 0; /* score row 4: fully masked */
            keep[2 * TK + j] = 1; /* score row 2: all kept     */
        }
    } else {
        padding_mask(r, keep, lengths, B, TK);
    }
    at_tensor *ctxt, *w = NULL;
    TRY(r, at_dot_attention(r->ctx, q, k, v, scale, &mask, &ctxt, with_weights ? &w : NULL));
    if (with_weights) pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "q", q);
    pd_put_grad(r, "k", k);
    pd_put_grad(r, "v", v);
    mask_meta(r, &mask, TK);
    pd_meta(r, "scale", "%.9g", (double)scale);
    pd_meta(r, "sizes", "{\"B\": %d, \"H\": %d, \"Tq\": %d, \"Tk\": %d, \"d\": %d, \"dv\": %d}", B,
            H, TQ, TK, D, DV);
    free(keep);
}
static void case_dot_attention(pd_run *r) { dot_case(r, 0); }
static void case_dot_attention_noweights(pd_run *r) { dot_case(r, 1); }
static void case_dot_attention_3d(pd_run *r) { dot_case(r, 2); }
static void case_dot_attention_long(pd_run *r) { dot_case(r, 3); }

/* Bilinear qᵀ W k, padding mask. */
static void case_bilinear(pd_run *r) {
    enum { B = 3, TQ = 4, TK = 5, DQ = 4, DK = 3, DV = 2 };
    static const int32_t lengths[B] = {5, 2, 4};
    uint8_t keep[B * TK];
    at_bilinear l;
    TRY(r, at_bilinear_init(r->ctx, &l, r->model, "", DQ, DK, &r->init_rng));
    randomise_constants(r);
    at_tensor *q = pd_input(r, "queries", 3, (int[]){B, TQ, DQ}, -1, 1, 1);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, TK, DK}, -1, 1, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, TK, DV}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, TK);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *kp, *ctxt, *w;
    TRY(r, at_bilinear_project_keys(r->ctx, &l, k, &kp));
    TRY(r, at_bilinear_attend(r->ctx, &l, q, kp, v, &mask, &ctxt, &w));
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "context", ctxt);
    pd_put_grad(r, "queries", q);
    pd_put_grad(r, "keys", k);
    pd_put_grad(r, "values", v);
    pd_param(r, "W", l.W, 1);
    mask_meta(r, &mask, TK);
    pd_meta(r, "sizes", "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"Dq\": %d, \"Dk\": %d, \"Dv\": %d}",
            B, TQ, TK, DQ, DK, DV);
}

/* ------------------------------------------------------ 8. self-attention */

/* Causal self-attention with padding. */
static void case_self_attention(pd_run *r) {
    enum { B = 2, T = 5, D = 6, HD = 4 };
    static const int32_t lengths[B] = {5, 3};
    uint8_t keep[B * T];
    at_self_attention l;
    TRY(r, at_self_attention_init(r->ctx, &l, r->model, "", D, HD, &r->init_rng));
    randomise_constants(r);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, D}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, T);
    at_attn_mask mask = {keep, B, 1};
    at_tensor *out, *w;
    TRY(r, at_self_attention_forward(r->ctx, &l, x, &mask, &out, &w));
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "out", out);
    pd_put_grad(r, "x", x);
    pd_param(r, "W_Q", l.W_Q, 1);
    pd_param(r, "W_K", l.W_K, 1);
    pd_param(r, "W_V", l.W_V, 1);
    mask_meta(r, &mask, T);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"D\": %d, \"d\": %d}", B, T, D, HD);
}

/* Structured self-attention, r hops, its penalty; row 2 fully masked. The
 * penalty reads the weights, so they must carry a gradient here. */
static void case_structured(pd_run *r) {
    enum { B = 3, T = 6, D = 5, DA = 4, HOPS = 3 };
    static const int32_t lengths[B] = {6, 4, 0};
    uint8_t keep[B * T];
    at_structured_attention l;
    TRY(r, at_structured_attention_init(r->ctx, &l, r->model, "", D, DA, HOPS, &r->init_rng));
    randomise_constants(r);
    at_tensor *h = pd_input(r, "h", 3, (int[]){B, T, D}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, T);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *out, *w, *pen;
    TRY(r, at_structured_attention_forward(r->ctx, &l, h, &mask, &out, &w));
    TRY(r, at_structured_penalty(r->ctx, w, &pen));
    pd_seed_extra(r, "out", out, 0);
    pd_seed_extra(r, "weights", w, 0);
    pd_backward_from(r, "penalty", pen);
    pd_put_grad(r, "h", h);
    pd_param(r, "W_s1", l.W_s1, 1);
    pd_param(r, "W_s2", l.W_s2, 1);
    mask_meta(r, &mask, T);
    pd_meta(r, "sizes", "{\"B\": %d, \"T\": %d, \"D\": %d, \"da\": %d, \"r\": %d}", B, T, D, DA,
            HOPS);
}

/* ------------------------------------------------------------ 9. key-value */

/* Memory L = 3 < T = 7, padding (row 1 has 5 steps). */
static void case_key_value(pd_run *r) {
    enum { B = 2, T = 7, DK = 4, DV = 3, DX = 2, DO = 5, A = 4, L = 3 };
    static const int32_t lengths[B] = {7, 5};
    uint8_t keep[B * T];
    at_key_value l;
    TRY(r, at_key_value_init(r->ctx, &l, r->model, "", DK, DV, DX, DO, A, L, &r->init_rng));
    randomise_constants(r);
    at_tensor *k = pd_input(r, "keys", 3, (int[]){B, T, DK}, -1, 1, 1);
    at_tensor *v = pd_input(r, "values", 3, (int[]){B, T, DV}, -1, 1, 1);
    at_tensor *x = pd_input(r, "x", 3, (int[]){B, T, DX}, -1, 1, 1);
    padding_mask(r, keep, lengths, B, T);
    at_attn_mask mask = {keep, B, 0};
    at_tensor *out, *w;
    TRY(r, at_key_value_forward(r->ctx, &l, k, v, x, &mask, &out, &w));
    pd_seed_extra(r, "weights", w, 1);
    pd_backward_from(r, "out", out);
    pd_put_grad(r, "keys", k);
    pd_put_grad(r, "values", v);
    pd_put_grad(r, "x", x);
    pd_param(r, "W_Y", l.W_Y, 1);
    pd_param(r, "W_h", l.W_h, 1);
    pd_param(r, "w", l.w, 1);
    pd_param(r, "W_r", l.W_r, 1);
    pd_param(r, "W_x", l.W_x, 1);
    mask_meta(r, &mask, T);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"T\": %d, \"Dk\": %d, \"Dv\": %d, \"Dx\": %d, \"Do\": %d, "
            "\"A\": %d, \"L\": %d}",
            B, T, DK, DV, DX, DO, A, L);
}

/* ----------------------------------------------------------------- main */

static const pd_case cases[] = {
    {"additive", case_additive, 1, NULL},
    {"additive_step", case_additive_step, 1, NULL},
    {"decoder_step", case_decoder_step, 1, NULL},
    {"decoder_step_prev", case_decoder_step_prev, 1, NULL},
    {"decoder_start", case_decoder_start, 1, NULL},
    {"luong_dot", case_luong_dot, 1, NULL},
    {"luong_general", case_luong_general, 1, NULL},
    {"luong_concat", case_luong_concat, 1, NULL},
    {"luong_location", case_luong_location, 1, NULL},
    {"luong_attentional", case_luong_attentional, 1, NULL},
    {"local_m", case_local_m, 1, NULL},
    {"local_p", case_local_p, 1, NULL},
    {"han", case_han, 1, NULL},
    {"feature", case_feature, 1, NULL},
    {"monotonic", case_monotonic, 1, NULL},
    {"monotonic_start", case_monotonic_start, 1, NULL},
    {"monotonic_hard", case_monotonic_hard, 1, NULL},
    {"forward_attention", case_forward_attention, 1, NULL},
    {"forward_attention_plain", case_forward_attention_plain, 1, NULL},
    {"dot_attention", case_dot_attention, 1, NULL},
    {"dot_attention_noweights", case_dot_attention_noweights, 1, NULL},
    {"dot_attention_3d", case_dot_attention_3d, 1, NULL},
    {"dot_attention_long", case_dot_attention_long, 2, NULL}, /* threads over groups and tiles */
    {"bilinear", case_bilinear, 1, NULL},
    {"self_attention", case_self_attention, 1, NULL},
    {"structured", case_structured, 1, NULL},
    {"key_value", case_key_value, 1, NULL},
};
int main(int argc, char **argv) {
    static const pd_tool tool = {
        .name = "attention_parity_tool",
        .cases = cases,
        .n_cases = (int)(sizeof cases / sizeof cases[0]),
        .description = "Runs one attention family forward and backward and saves inputs, outputs,\n"
                       "output-gradient seeds, parameters and gradients in one safetensors file.\n",
        .seed = 20240917ull,
        .data_xor = 0xa77e4d5eedull,
        .inference = 1,   /* no dropout, no monotonic noise */
        .list_params = 1, /* every parameter written under its symbol */
    };
    return pd_main(argc, argv, &tool);
}
