/*
 * forced_forward.c - forced-forward attention: the alignment only moves
 * forward. Once a source position has been passed, later outputs never go
 * back to it. Two formulations.
 *
 * 1. Monotonic attention (Raffel et al. 2017). At output step i the
 *    decoder walks the source from where it stopped last time, and at each
 *    position j flips a coin "stop here?" with probability
 *
 *        e_ij = g v̂ᵀ tanh(W_a s_{i−1} + U_a h_j + b_a) + r     v̂ = v_a / ‖v_a‖
 *        p_ij = σ(e_ij)          (+ N(0, noise_std²) before σ in training)
 *
 *    s_{i−1} = query (B, Dq), W_a (A, Dq), U_a h_j + b_a = keys_proj (B, Tk, A)
 *    (from at_additive_project_keys), v_a (A), g (1), r (1), e, p (B, Tk).
 *
 *    Training uses the expected alignment, by the exact recursion
 *
 *        q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j}     q_i0 = α_{i−1,0}
 *        α_ij = p_ij q_ij                                 α (B, Tk), Σ_j α_ij <= 1
 *
 *    q_ij is the probability that the walk reaches j without having stopped
 *    before: it either came from j−1 and did not stop there, or it starts
 *    at j (it stopped at j at step i−1). α_{i−1} = alpha_prev, or δ(j = 0)
 *    at the first step. The recursion is the closed form
 *    α_ij = p_ij Σ_{k≤j} α_{i−1,k} Π_{l=k}^{j−1} (1 − p_il) computed without
 *    the cumulative products that lose precision. Its backward runs the
 *    recursion in reverse:
 *
 *        dp_ij += q_ij dα_ij          dq_ij += p_ij dα_ij
 *        dq_{i,j−1} += (1 − p_{i,j−1}) dq_ij    dp_{i,j−1} −= q_{i,j−1} dq_ij
 *        dα_{i−1,j} += dq_ij
 *
 *    Every coefficient lies in [0, 1] and α_i is a sub-stochastic map of
 *    α_{i−1}, so dα_{i−1} is never larger than dα_i plus what the step
 *    itself adds: the backward cannot overflow at any length
 *    (tests/test_long_recursions.c runs 1,000 steps over 1,000 positions).
 *
 *    Two tape entries: at_monotonic_energies (the energy network, e) and
 *    at_monotonic_attend_energies (p, the recursion and the context), so a
 *    caller may bring any energy of their own and may read p_ij.
 *
 *    Decoding (hard, no gradient) scans forward from the previous position
 *    and stops at the first kept j with p_ij >= 0.5; if there is none it
 *    attends to nothing (zero context) and keeps the position. Where every
 *    p is 0 or 1 the soft α is exactly the hard one-hot, until a step in
 *    which the scan finds no stop: the hard mode then keeps its position,
 *    while the soft walk has carried all its mass off the end (α = 0 from
 *    then on), as in the paper.
 *
 *    Masked positions get p = 0: the walk cannot stop on padding, it walks
 *    through it. A fully masked row has α = 0 and zero context.
 *
 *    Initialisation: the energy is an at_additive under PREFIX.energy.*
 *    (initialised by at_additive_init), g = 1/√A and r = −1. Since v̂ is a
 *    unit vector and tanh(·) has A entries in (−1, 1), |v̂ᵀ tanh(·)| <= √A,
 *    so g = 1/√A keeps the first energies inside r ± 1 whatever A is; with
 *    r = −1 the first p lie in (σ(−2), σ(0)) ≈ (0.12, 0.5): the walk starts
 *    by moving on rather than stopping at position 0 (Raffel et al. also
 *    start r negative), and no σ is saturated, so every position learns.
 *    at_monotonic_init_ext takes other values for g, r and noise_std.
 *
 * 2. Forward attention (Zhang et al. 2018), on top of any soft attention
 *    y_t (B, Tk) (e.g. a softmax over additive scores):
 *
 *        α̂'_t(n) = ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) · y_t(n) · mask(n)
 *        α̂_t(n)  = α̂'_t(n) / Σ_m α̂'_t(m)          (all zeros if the sum is 0)
 *
 *    u = transition (B, 1) in [0, 1], the transition agent's output; with
 *    transition = NULL both coefficients are 1 (the plain form). Then
 *    context = Σ_n α̂_t(n) v_n, values (B, Tk, Dv).
 *
 *    The forward pass normalises every step, so α̂ stays a distribution at
 *    any length. Its gradient does not: with s(n) = the bracket above,
 *
 *        dα̂'(n) = (dα̂_t(n) − Σ_m α̂_t(m) dα̂_t(m)) / Σ_m α̂'_t(m)
 *        dα̂_{t−1}(n) = (1 − u) y(n) dα̂'(n) + u y(n+1) dα̂'(n+1)
 *
 *    multiplies, at every step back, by y(n) / Σ α̂': large wherever y is
 *    large but the alignment has not arrived. dα̂_{t−1}(n) is then huge
 *    exactly where α̂_{t−1}(n) is tiny or zero, and the products that
 *    reach y, u and the values (α̂ dα̂, s dα̂') stay of ordinary size. In
 *    float32 dα̂ overflows after ~75 steps (1.5e39 > 3.4e38 in the case
 *    reported), and inf − inf poisons every gradient with NaN. So between
 *    consecutive steps the gradient of α̂ travels in an extended-range
 *    number (a double mantissa and a 64-bit power of two, `wide` below),
 *    and only the ordinary-sized products are rounded to float. A step
 *    finds the step that made its alpha_prev on the tape and hands it dα̂
 *    in that form; an alpha_prev made any other way gets dα̂ rounded to
 *    float (±inf if it really is beyond float).
 *
 * The soft forms record one tape entry whose output is the context; the
 * alpha (and p) tensors handed out are further outputs of the same entry
 * (their gradients, e.g. from the next step that reads alpha as
 * alpha_prev, are read by the same backward).
 */
#include "../layers/layers.h"
#include "attention.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------- shared pieces */

/* t must be (n0) or, when n1 > 0, (n0, n1). NULL allowed when optional. */
static at_status check_shape2(at_ctx *ctx, const char *op, const char *what, const at_tensor *t,
                              int n0, int n1, int optional) {
    if (!t) {
        if (optional) return AT_OK;
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, what);
    }
    int ok = n1 > 0 ? t->ndim == 2 && t->shape[0] == n0 && t->shape[1] == n1
                    : t->ndim == 1 && t->shape[0] == n0;
    if (ok) return AT_OK;
    char got[64], want[64];
    ati_shape_str(want, sizeof want, n1 > 0 ? 2 : 1, (const int[]){n0, n1});
    return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %s is %s, expected %s", op, what,
                       ati_shape_str(got, sizeof got, t->ndim, t->shape), want);
}

/* values must be (B, Tk, Dv) for the given B and Tk; Dv goes out. */
static at_status check_values(at_ctx *ctx, const char *op, const at_tensor *values, int B, int Tk,
                              int *Dv) {
    if (!values) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: values is NULL", op);
    *Dv = values->ndim == 3 ? values->shape[2] : -1;
    int steps;
    AT_TRY(attn_check_sequence(ctx, op, "values", values, B, *Dv, &steps));
    if (steps != Tk)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: values have %d steps, the scores %d", op, steps,
                           Tk);
    return AT_OK;
}

/* The previous alignment at j: alpha_prev, or δ(j = 0) when it is NULL. */
static float previous_at(const float *alpha_prev, int j) {
    return alpha_prev ? alpha_prev[j] : (j == 0 ? 1.0f : 0.0f);
}

/* A (B, Tk) output a caller asked for (tracked like the context), or scratch. */
static at_status row_output(at_ctx *ctx, at_tensor **wanted, int B, int Tk, int track,
                            at_tensor **made, float **data) {
    *made = NULL;
    if (wanted) {
        AT_TRY(ati_result(ctx, made, 2, (const int[]){B, Tk}, track));
        *data = (*made)->data;
        return AT_OK;
    }
    return ati_scratch_zero(ctx, (void **)data, (size_t)B * Tk * sizeof(float));
}

/* dα (B, Tk): the alpha tensor's own gradient, plus dα from the context
 * (context = Σ_j α_j v_j), and dv from the same line. */
static at_status alpha_grad(at_ctx *ctx, const at_tensor *alpha_out, const float *alpha,
                            at_tensor *values, const float *d_context, int B, int Tk, int Dv,
                            float **d_alpha) {
    AT_TRY(ati_scratch_zero(ctx, (void **)d_alpha, (size_t)B * Tk * sizeof(float)));
    if (alpha_out && alpha_out->grad)
        memcpy(*d_alpha, alpha_out->grad, (size_t)B * Tk * sizeof(float));
    // forward: context[b] = Σ_j alpha[b, j] values[b, j]
    attn_weighted_sum_backward(ctx->threads, B, 1, Tk, Dv, alpha, values->data, d_context, *d_alpha,
                               values->grad);
    return AT_OK;
}

/* ------------------------------------------------ monotonic: parameters */

at_monotonic_options at_monotonic_options_default(void) {
    return (at_monotonic_options){.g_init = 0.0f, .r_init = -1.0f, .noise_std = 0.0f};
}

at_status at_monotonic_init_ext(at_ctx *ctx, at_monotonic *layer, at_params *params,
                                const char *prefix, int query_size, int key_size, int attn_size,
                                const at_monotonic_options *options, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "monotonic_init: NULL layer or params");
    if (query_size <= 0 || key_size <= 0 || attn_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "monotonic_init: sizes query %d, key %d, attn %d must be > 0",
                           query_size, key_size, attn_size);
    at_monotonic_options o = options ? *options : at_monotonic_options_default();
    if (!isfinite(o.g_init) || !isfinite(o.r_init) || !(o.noise_std >= 0.0f) ||
        !isfinite(o.noise_std))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "monotonic_init: g_init %g and r_init %g must be finite, noise_std %g "
                           "finite and >= 0",
                           (double)o.g_init, (double)o.r_init, (double)o.noise_std);
    char energy_prefix[256];
    int has_prefix = prefix && *prefix;
    int written = snprintf(energy_prefix, sizeof energy_prefix, "%s%senergy",
                           has_prefix ? prefix : "", has_prefix ? "." : "");
    if (written < 0 || (size_t)written >= sizeof energy_prefix)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "monotonic_init: prefix '%s' is too long", prefix);
    at_monotonic made = {.noise_std = o.noise_std};
    AT_TRY(at_additive_init(ctx, &made.energy, params, energy_prefix, query_size, key_size,
                            attn_size, rng));
    const int one = 1;
    AT_TRY(layer_param(ctx, params, prefix, "g", NULL, 1, &one, &made.g));
    AT_TRY(layer_param(ctx, params, prefix, "r", NULL, 1, &one, &made.r));
    if (rng) { /* rng NULL: every parameter stays zero, for loading weights */
        made.g->data[0] = o.g_init != 0.0f ? o.g_init : 1.0f / sqrtf((float)attn_size);
        made.r->data[0] = o.r_init;
    }
    *layer = made;
    return AT_OK;
}

at_status at_monotonic_init(at_ctx *ctx, at_monotonic *layer, at_params *params, const char *prefix,
                            int query_size, int key_size, int attn_size, at_rng *rng) {
    return at_monotonic_init_ext(ctx, layer, params, prefix, query_size, key_size, attn_size, NULL,
                                 rng);
}

/* ------------------------------------------------ monotonic: the energy */

/* Sizes of one energy call. */
typedef struct energy_dims {
    int B, Tk, Dq, A;
} energy_dims;

static at_status check_energy(at_ctx *ctx, const char *op, const at_monotonic *layer,
                              const at_tensor *query, const at_tensor *keys_proj, energy_dims *d) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    const at_additive *en = &layer->energy;
    int A = en->attn_size, Dq = en->query_size;
    if (A <= 0 || Dq <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer not initialised (attn %d, query %d)",
                           op, A, Dq);
    AT_TRY(check_shape2(ctx, op, "energy.W_a", en->W_a, A, Dq, 0));
    AT_TRY(check_shape2(ctx, op, "energy.v_a", en->v_a, A, 0, 0));
    AT_TRY(check_shape2(ctx, op, "g", layer->g, 1, 0, 0));
    AT_TRY(check_shape2(ctx, op, "r", layer->r, 1, 0, 0));
    if (!query) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: query is NULL", op);
    AT_TRY(check_shape2(ctx, op, "query (B, Dq)", query, query->shape[0], Dq, 0));
    int B = query->shape[0], Tk;
    AT_TRY(attn_check_sequence(ctx, op, "keys_proj", keys_proj, B, A, &Tk));
    *d = (energy_dims){B, Tk, Dq, A};
    return AT_OK;
}

/* v̂ (A) = v / ‖v‖; returns ‖v‖ (v̂ = 0 if v = 0, which gives no NaN). */
static float unit_direction(const float *v, int A, float *v_hat) {
    double sq = 0.0;
    for (int a = 0; a < A; a++)
        sq += (double)v[a] * v[a];
    float norm = (float)sqrt(sq), inv = norm > 0.0f ? 1.0f / norm : 0.0f;
    for (int a = 0; a < A; a++)
        v_hat[a] = v[a] * inv;
    return norm;
}

/* The energies of one batch row at positions first .. Tk−1:
 * z[j] = tanh(wq + keys_proj[j]) (Tk, A), e[j] = g v̂ᵀ z[j] + r. */
static void monotonic_energies(const float *wq, const float *keys_proj, const float *v_hat, float g,
                               float r, int first, int Tk, int A, float *z, float *e) {
    for (int j = first; j < Tk; j++) {
        const float *k_j = keys_proj + (size_t)j * A;
        float *z_j = z + (size_t)j * A;
        float dot = 0.0f;
        for (int a = 0; a < A; a++) {
            z_j[a] = ati_fast_tanh(wq[a] + k_j[a]);
            dot += v_hat[a] * z_j[a];
        }
        e[j] = g * dot + r;
    }
}

/* wq (B, A) = query (B, Dq) W_aᵀ: the query's half of the energy, once per call. */
static at_status project_query(at_ctx *ctx, const at_monotonic *layer, const energy_dims *d,
                               const at_tensor *query, float **wq) {
    AT_TRY(ati_scratch(ctx, (void **)wq, (size_t)d->B * d->A * sizeof(float)));
    ati_gemm(0, 1, d->B, d->A, d->Dq, 1.0f, query->data, d->Dq, layer->energy.W_a->data, d->Dq, 0.0f,
            *wq, d->A);
    return AT_OK;
}

/* What the energy's backward keeps. */
typedef struct energy_saved {
    energy_dims d;
    float *z;     /* (B, Tk, A) tanh(wq + keys_proj) */
    float *v_hat; /* (A)                             */
    float v_norm, g;
} energy_saved;

/* From de (Tk) of row b, ADD into the gradients of keys_proj, g, r and
 * into d_wq (A) and d_vhat (A). */
static void energy_row_backward(const energy_saved *s, int b, const float *de, at_tensor *keys_proj,
                                float *d_g, float *d_r, float *d_wq, float *d_vhat) {
    int A = s->d.A;
    for (int j = 0; j < s->d.Tk; j++) {
        if (de[j] == 0.0f) continue;
        const float *z_j = s->z + ((size_t)b * s->d.Tk + j) * A;
        float *dk_j = keys_proj->grad ? keys_proj->grad + ((size_t)b * s->d.Tk + j) * A : NULL;
        float dot = 0.0f;
        for (int a = 0; a < A; a++) {
            dot += s->v_hat[a] * z_j[a];
            // forward: e[j] = g * Σ_a v_hat[a] z[j, a] + r
            d_vhat[a] += de[j] * s->g * z_j[a];
            float dz = de[j] * s->g * s->v_hat[a];
            // forward: z[j, a] = tanh(wq[a] + keys_proj[j, a])
            float dpre = dz * (1.0f - z_j[a] * z_j[a]);
            d_wq[a] += dpre;
            if (dk_j) dk_j[a] += dpre;
        }
        // forward: e[j] = g * dot + r
        *d_g += de[j] * dot;
        *d_r += de[j];
    }
}

/* node->in: query, keys_proj, W_a, v_a, g, r. */
static at_status energies_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *query = node->in[0], *keys_proj = node->in[1], *W_a = node->in[2];
    at_tensor *v_a = node->in[3], *g = node->in[4], *r = node->in[5];
    const energy_saved *s = node->saved;
    int B = s->d.B, Tk = s->d.Tk, A = s->d.A, Dq = s->d.Dq;
    const float *de = node->out->grad; // (B, Tk)
    float *d_wq, *d_vhat;
    AT_TRY(ati_scratch_zero(ctx, (void **)&d_wq, (size_t)B * A * sizeof(float))); // (B, A)
    AT_TRY(ati_scratch_zero(ctx, (void **)&d_vhat, (size_t)A * sizeof(float)));   // (A)
    float d_g = 0.0f, d_r = 0.0f;
    for (int b = 0; b < B; b++)
        energy_row_backward(s, b, de + (size_t)b * Tk, keys_proj, &d_g, &d_r, d_wq + (size_t)b * A,
                            d_vhat);
    if (g->grad) g->grad[0] += d_g;
    if (r->grad) r->grad[0] += d_r;
    // forward: v_hat = v / ‖v‖
    if (v_a->grad && s->v_norm > 0.0f) {
        float along = 0.0f;
        for (int a = 0; a < A; a++)
            along += s->v_hat[a] * d_vhat[a];
        for (int a = 0; a < A; a++)
            v_a->grad[a] += (d_vhat[a] - s->v_hat[a] * along) / s->v_norm;
    }
    // forward: wq = query W_aᵀ
    if (query->grad) ati_gemm(0, 0, B, Dq, A, 1.0f, d_wq, A, W_a->data, Dq, 1.0f, query->grad, Dq);
    if (W_a->grad) ati_gemm(1, 0, A, Dq, B, 1.0f, d_wq, A, query->data, Dq, 1.0f, W_a->grad, Dq);
    return AT_OK;
}

at_status at_monotonic_energies(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                at_tensor *keys_proj, at_tensor **energies) {
    const char *op = "monotonic_energies";
    if (!energies) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: energies output is NULL", op);
    energy_dims d;
    AT_TRY(check_energy(ctx, op, layer, query, keys_proj, &d));
    at_tensor *inputs[6] = {query,    keys_proj, layer->energy.W_a, layer->energy.v_a,
                            layer->g, layer->r};
    int track = ati_tracking(ctx, 6, inputs);
    at_tensor *result;
    energy_saved *s;
    float *wq;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){d.B, d.Tk}, track));
    AT_TRY(ati_scratch(ctx, (void **)&s, sizeof *s));
    *s = (energy_saved){.d = d, .g = layer->g->data[0]};
    // z is kept for backward (B, Tk, A); without a tape, one row's worth (Tk, A) is enough
    size_t z_rows = track ? (size_t)d.B * d.Tk : (size_t)d.Tk;
    AT_TRY(ati_scratch(ctx, (void **)&s->z, z_rows * d.A * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&s->v_hat, (size_t)d.A * sizeof(float)));
    AT_TRY(project_query(ctx, layer, &d, query, &wq));
    s->v_norm = unit_direction(layer->energy.v_a->data, d.A, s->v_hat);

    for (int b = 0; b < d.B; b++) {
        size_t row = (size_t)b * d.Tk;
        // e[b, j] = g v̂ᵀ tanh(W_a s + keys_proj[b, j]) + r
        monotonic_energies(wq + (size_t)b * d.A, keys_proj->data + row * d.A, s->v_hat, s->g,
                           layer->r->data[0], 0, d.Tk, d.A, s->z + (track ? row * d.A : 0),
                           result->data + row);
    }
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, energies_backward, result, 6, inputs));
        node->saved = s;
    }
    *energies = result;
    return AT_OK;
}

/* ------------------------------------------ monotonic: soft, the recursion */

/* q (Tk), alpha (Tk) from p (Tk) and the previous alignment (or NULL: δ at 0). */
static void monotonic_recursion(const float *p, const float *alpha_prev, int Tk, float *q,
                                float *alpha) {
    for (int j = 0; j < Tk; j++) {
        q[j] = (j > 0 ? (1.0f - p[j - 1]) * q[j - 1] : 0.0f) + previous_at(alpha_prev, j);
        alpha[j] = p[j] * q[j];
    }
}

/* The recursion run backwards: from dα (Tk), ADD into dp (Tk) and, if not
 * NULL, d_alpha_prev (Tk). dq (Tk) is scratch. */
static void monotonic_recursion_backward(const float *p, const float *q, const float *d_alpha,
                                         int Tk, float *dp, float *dq, float *d_alpha_prev) {
    memset(dq, 0, (size_t)Tk * sizeof(float));
    for (int j = Tk - 1; j >= 0; j--) {
        // forward: alpha[j] = p[j] * q[j]
        dp[j] += q[j] * d_alpha[j];
        dq[j] += p[j] * d_alpha[j];
        // forward: q[j] = (1 - p[j-1]) * q[j-1] + alpha_prev[j]
        if (d_alpha_prev) d_alpha_prev[j] += dq[j];
        if (j > 0) {
            dq[j - 1] += (1.0f - p[j - 1]) * dq[j];
            dp[j - 1] -= q[j - 1] * dq[j];
        }
    }
}

/* What the soft backward keeps. */
typedef struct mono_saved {
    int B, Tk, Dv;
    float *p, *q;         /* (B, Tk)                                  */
    float *alpha;         /* (B, Tk)                                  */
    at_tensor *alpha_out; /* the alpha tensor handed out, or NULL     */
    at_tensor *p_out;     /* the p_choose tensor handed out, or NULL  */
} mono_saved;

/* node->in: energies, values, alpha_prev. */
static at_status monotonic_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *energies = node->in[0], *values = node->in[1], *alpha_prev = node->in[2];
    const mono_saved *s = node->saved;
    int B = s->B, Tk = s->Tk;
    float *d_alpha, *dp, *dq;
    AT_TRY(alpha_grad(ctx, s->alpha_out, s->alpha, values, node->out->grad, B, Tk, s->Dv,
                      &d_alpha)); // (B, Tk)
    AT_TRY(ati_scratch(ctx, (void **)&dp, (size_t)Tk * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&dq, (size_t)Tk * sizeof(float)));
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * Tk;
        const float *p = s->p + row;
        float *dprev = alpha_prev && alpha_prev->grad ? alpha_prev->grad + row : NULL;
        // forward: p_choose = p, handed to the caller
        if (s->p_out && s->p_out->grad)
            memcpy(dp, s->p_out->grad + row, (size_t)Tk * sizeof(float));
        else
            memset(dp, 0, (size_t)Tk * sizeof(float));
        monotonic_recursion_backward(p, s->q + row, d_alpha + row, Tk, dp, dq, dprev);
        // forward: p[j] = sigmoid(e[j] + noise) (p = 0 where masked, and p(1 - p) = 0 there too)
        if (energies->grad)
            for (int j = 0; j < Tk; j++)
                energies->grad[row + j] += dp[j] * p[j] * (1.0f - p[j]);
    }
    return AT_OK;
}

/* p (Tk) of one row from its energies: σ(e + noise) where kept, 0 where masked. */
static void stop_probabilities(at_ctx *ctx, const attn_mask_view *view, int b, float noise_std,
                               const float *e, int Tk, float *p) {
    int noisy = at_ctx_training(ctx) && noise_std > 0.0f;
    for (int j = 0; j < Tk; j++) {
        if (!attn_is_kept(view, (size_t)b, j)) {
            p[j] = 0.0f; // the walk cannot stop on padding
            continue;
        }
        float noise = noisy ? noise_std * at_rng_normal(at_ctx_rng(ctx)) : 0.0f;
        p[j] = ati_fast_sigmoid(e[j] + noise);
    }
}

/* What the soft walk needs besides the energies: values (B, Tk, Dv),
 * alpha_prev (B, Tk) or NULL, a finite noise_std >= 0, the mask. */
static at_status check_walk(at_ctx *ctx, const char *op, int B, int Tk, const at_tensor *values,
                            const at_tensor *alpha_prev, float noise_std, const at_attn_mask *mask,
                            int *Dv, attn_mask_view *view) {
    AT_TRY(check_values(ctx, op, values, B, Tk, Dv));
    AT_TRY(check_shape2(ctx, op, "alpha_prev (B, Tk)", alpha_prev, B, Tk, 1));
    if (!(noise_std >= 0.0f) || !isfinite(noise_std))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: noise_std %g must be finite and >= 0", op,
                           (double)noise_std);
    return attn_mask_prepare(ctx, op, mask, (size_t)B, 1, Tk, view);
}

at_status at_monotonic_attend_energies(at_ctx *ctx, at_tensor *energies, at_tensor *values,
                                       at_tensor *alpha_prev, const at_attn_mask *mask,
                                       float noise_std, at_tensor **context, at_tensor **alpha,
                                       at_tensor **p_choose) {
    const char *op = "monotonic_attend_energies";
    if (!context) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: context output is NULL", op);
    if (!energies) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: energies is NULL", op);
    if (energies->ndim != 2) {
        char got[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: energies are %s, expected (B, Tk)", op,
                           ati_shape_str(got, sizeof got, energies->ndim, energies->shape));
    }
    int B = energies->shape[0], Tk = energies->shape[1], Dv = 0;
    attn_mask_view view;
    AT_TRY(check_walk(ctx, op, B, Tk, values, alpha_prev, noise_std, mask, &Dv, &view));

    at_tensor *inputs[3] = {energies, values, alpha_prev};
    int track = ati_tracking(ctx, 3, inputs);
    at_tensor *result;
    mono_saved *s;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){B, Dv}, track));
    AT_TRY(ati_scratch(ctx, (void **)&s, sizeof *s));
    *s = (mono_saved){.B = B, .Tk = Tk, .Dv = Dv};
    AT_TRY(row_output(ctx, alpha, B, Tk, track, &s->alpha_out, &s->alpha));
    AT_TRY(row_output(ctx, p_choose, B, Tk, track, &s->p_out, &s->p));
    AT_TRY(ati_scratch(ctx, (void **)&s->q, (size_t)B * Tk * sizeof(float)));

    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * Tk;
        // p[b, j] = σ(e[b, j] (+ noise)), 0 where masked
        stop_probabilities(ctx, &view, b, noise_std, energies->data + row, Tk, s->p + row);
        // q, α by the recursion from α_{i−1}
        monotonic_recursion(s->p + row, alpha_prev ? alpha_prev->data + row : NULL, Tk, s->q + row,
                            s->alpha + row);
    }
    // context[b] = Σ_j alpha[b, j] values[b, j]
    attn_weighted_sum(ctx->threads, B, 1, Tk, Dv, s->alpha, values->data, result->data);

    if (track) {
        ati_node *node;
        AT_TRY(
            ati_tape_record(ctx, &node, "monotonic_attend", monotonic_backward, result, 3, inputs));
        node->saved = s;
    }
    *context = result;
    if (alpha) *alpha = s->alpha_out;
    if (p_choose) *p_choose = s->p_out;
    return AT_OK;
}

at_status at_monotonic_attend(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                              at_tensor *keys_proj, at_tensor *values, at_tensor *alpha_prev,
                              const at_attn_mask *mask, at_tensor **context, at_tensor **alpha) {
    const char *op = "monotonic_attend";
    if (!context) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: context output is NULL", op);
    energy_dims d;
    int Dv = 0;
    attn_mask_view view;
    AT_TRY(check_energy(ctx, op, layer, query, keys_proj, &d));
    // everything checked before the energy is recorded, so a bad call leaves no tape entry
    AT_TRY(check_walk(ctx, op, d.B, d.Tk, values, alpha_prev, layer->noise_std, mask, &Dv, &view));
    at_tensor *energies;
    AT_TRY(at_monotonic_energies(ctx, layer, query, keys_proj, &energies));
    return at_monotonic_attend_energies(ctx, energies, values, alpha_prev, mask, layer->noise_std,
                                        context, alpha, NULL);
}

/* -------------------------------------------- monotonic: hard, decoding */

/* The first kept j >= from with p >= 0.5, or −1. */
static int first_stop(const float *e, const attn_mask_view *view, int b, int from, int Tk) {
    for (int j = from; j < Tk; j++)
        if (attn_is_kept(view, (size_t)b, j) && ati_fast_sigmoid(e[j]) >= 0.5f) return j;
    return -1;
}

at_status at_monotonic_attend_hard(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                   at_tensor *keys_proj, at_tensor *values,
                                   const at_attn_mask *mask, int32_t *positions,
                                   at_tensor **context, at_tensor **weights) {
    const char *op = "monotonic_attend_hard";
    if (!context || !positions)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL positions or context output", op);
    energy_dims d;
    int Dv = 0;
    AT_TRY(check_energy(ctx, op, layer, query, keys_proj, &d));
    AT_TRY(check_values(ctx, op, values, d.B, d.Tk, &Dv));
    for (int b = 0; b < d.B; b++)
        if (positions[b] < 0 || positions[b] >= d.Tk)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: positions[%d] = %d is outside [0, %d)",
                               op, b, (int)positions[b], d.Tk);
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)d.B, 1, d.Tk, &view));

    at_tensor *result, *onehot = NULL;
    float *wq, *z, *e, *v_hat;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){d.B, Dv}, 0));
    if (weights) AT_TRY(ati_result(ctx, &onehot, 2, (const int[]){d.B, d.Tk}, 0));
    AT_TRY(project_query(ctx, layer, &d, query, &wq));
    AT_TRY(ati_scratch(ctx, (void **)&z, (size_t)d.Tk * d.A * sizeof(float))); // (Tk, A)
    AT_TRY(ati_scratch(ctx, (void **)&e, (size_t)d.Tk * sizeof(float)));       // (Tk)
    AT_TRY(ati_scratch(ctx, (void **)&v_hat, (size_t)d.A * sizeof(float)));    // (A)
    unit_direction(layer->energy.v_a->data, d.A, v_hat);
    float *scanned = NULL, *p_scan = NULL; // (B, Tk) e_j and p_j: only for explain one step
    if (ati_tracing(ctx)) {
        AT_TRY(ati_scratch(ctx, (void **)&scanned, (size_t)d.B * d.Tk * sizeof(float)));
        AT_TRY(ati_scratch(ctx, (void **)&p_scan, (size_t)d.B * d.Tk * sizeof(float)));
    }

    for (int b = 0; b < d.B; b++) {
        int from = positions[b];
        monotonic_energies(wq + (size_t)b * d.A, keys_proj->data + (size_t)b * d.Tk * d.A, v_hat,
                           layer->g->data[0], layer->r->data[0], from, d.Tk, d.A, z, e);
        for (int j = 0; scanned && j < d.Tk; j++) { // not scanned (before `from`): -inf, p 0
            size_t at = (size_t)b * d.Tk + j;
            scanned[at] = j < from ? -INFINITY : e[j];
            p_scan[at] = j < from || !attn_is_kept(&view, (size_t)b, j) ? 0.0f
                                                                       : ati_fast_sigmoid(e[j]);
        }
        int stop = first_stop(e, &view, b, from, d.Tk);
        if (stop < 0) continue; // attend to nothing, keep the position
        positions[b] = stop;
        memcpy(result->data + (size_t)b * Dv, values->data + ((size_t)b * d.Tk + stop) * Dv,
               (size_t)Dv * sizeof(float));
        if (onehot) onehot->data[(size_t)b * d.Tk + stop] = 1.0f;
    }
    if (scanned) {
        AT_TRY(ati_trace_put(ctx, "scores", scanned, 2, (int[]){d.B, d.Tk}));
        AT_TRY(ati_trace_put(ctx, "p_choose", p_scan, 2, (int[]){d.B, d.Tk}));
    }
    *context = result;
    if (weights) *weights = onehot;
    return AT_OK;
}

/* ------------------------------------- forward attention: extended range */

/* A real number m · 2^e: a double mantissa m and a 64-bit exponent e. It
 * holds forward attention's dα̂, which has no bound as the steps go back
 * (see the top of the file); 2^(2^63) is beyond any number of steps. Most
 * values are of ordinary size, so m is renormalised (moved back into
 * [0.5, 1) with frexp) only when |m| leaves [2^-500, 2^500]: then the
 * usual case is plain double arithmetic with e = 0. Every factor a wide
 * is multiplied by here (a float, 1 / a sum of products of floats) lies
 * inside 2^±300, so no single step can leave the double range. */
typedef struct wide {
    double m;
    int64_t e;
} wide;

#define WIDE_LARGE 0x1p500
#define WIDE_SMALL 0x1p-500

/* m · 2^e, renormalised if m has left [2^-500, 2^500] (0 as (0, 0)). */
static wide wide_normal(double m, int64_t e) {
    double size = fabs(m);
    if (size <= WIDE_LARGE && size >= WIDE_SMALL) return (wide){m, e};
    if (m == 0.0) return (wide){0.0, 0};
    int k;
    double mant = frexp(m, &k);
    return (wide){mant, e + k};
}

static wide wide_of(double x) { return wide_normal(x, 0); }

/* x as a double: 0 below the double range, ±inf above it. */
static double wide_value(wide x) {
    if (x.e == 0) return x.m;
    if (x.e > 3000) return x.m * INFINITY;
    if (x.e < -3000) return 0.0;
    return ldexp(x.m, (int)x.e);
}

static wide wide_times(wide x, double s) { return wide_normal(x.m * s, x.e); }

/* x · s as a double: for products that are of ordinary size. */
static double wide_product(wide x, double s) { return wide_value(wide_times(x, s)); }

/* x rounded to float, ±FLT_MAX where it is beyond float's range. A
 * gradient is handed out this way, never as inf: its consumer may
 * multiply it by an exact 0 (a softmax output that underflowed), and
 * 0 · inf would be NaN. */
static float wide_float(wide x) {
    double v = wide_value(x);
    return v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : (float)v;
}

static wide wide_add(wide a, wide b) {
    if (a.e == b.e) return wide_normal(a.m + b.m, a.e); // the usual case
    if (b.m == 0.0) return a;
    if (a.m == 0.0) return b;
    if (a.e < b.e) {
        wide t = a;
        a = b, b = t;
    }
    // |b| <= 2^(500 + b.e) and |a| >= 2^(a.e − 500): past a gap of 1100, b
    // is below a's last bit
    int64_t gap = a.e - b.e;
    if (gap > 1100) return a;
    return wide_normal(a.m + ldexp(b.m, -(int)gap), a.e);
}

/* ----------------------------------------------- forward attention: step */

/* What forward attention's backward keeps. */
typedef struct fwd_saved {
    int B, Tk, Dv;
    float *mixed;         /* (B, Tk) s(n) = c_stay α̂_{t−1}(n) + c_move α̂_{t−1}(n−1) */
    double *sum;          /* (B)     Σ_n s(n) y(n) mask(n)                          */
    float *alpha;         /* (B, Tk)                                                */
    at_tensor *alpha_out; /* the alpha tensor handed out, or NULL                   */
    attn_mask_view view;
    /* dα̂ (B, Tk) that later steps reading alpha_out as their alpha_prev
     * hand back, in extended range (NULL until one does) */
    wide *d_alpha_later;
    struct fwd_saved *before; /* the step that made alpha_prev, or NULL */
} fwd_saved;

/* The two coefficients of row b: (1 − u, u), or (1, 1) for the plain form. */
static void transition_weights(const at_tensor *transition, int b, float *stay, float *move) {
    float u = transition ? transition->data[b] : 0.0f;
    *stay = transition ? 1.0f - u : 1.0f;
    *move = transition ? u : 1.0f;
}

/* Hand dα̂_{t−1} (Tk) of row b to where it belongs: the step that made
 * alpha_prev (extended range), or alpha_prev's own gradient (rounded,
 * ±FLT_MAX where beyond float). */
static at_status pass_back(at_ctx *ctx, const fwd_saved *s, at_tensor *alpha_prev, size_t row,
                           const wide *d_prev) {
    fwd_saved *before = s->before;
    if (before) {
        if (!before->d_alpha_later) {
            size_t n = (size_t)before->B * before->Tk;
            AT_TRY(ati_scratch_zero(ctx, (void **)&before->d_alpha_later, n * sizeof(wide)));
        }
        for (int n = 0; n < s->Tk; n++)
            before->d_alpha_later[row + n] = wide_add(before->d_alpha_later[row + n], d_prev[n]);
    } else if (alpha_prev && alpha_prev->grad) {
        for (int n = 0; n < s->Tk; n++)
            alpha_prev->grad[row + n] += wide_float(d_prev[n]);
    }
    return AT_OK;
}

/* One row of the backward. d_alpha (Tk): what reached α̂_t in float; the
 * later steps' share is in s->d_alpha_later. d_raw, d_prev (Tk) scratch. */
static at_status forward_attention_row_backward(at_ctx *ctx, const fwd_saved *s, int b,
                                                at_tensor *y, at_tensor *alpha_prev,
                                                at_tensor *transition, const float *d_alpha,
                                                wide *d_raw, wide *d_prev) {
    int Tk = s->Tk;
    size_t row = (size_t)b * Tk;
    const float *alpha = s->alpha + row, *mixed = s->mixed + row, *y_row = y->data + row;
    const float *prev = alpha_prev ? alpha_prev->data + row : NULL;
    const wide *later = s->d_alpha_later ? s->d_alpha_later + row : NULL;
    float stay, move;
    transition_weights(transition, b, &stay, &move);
    // dα̂_t = the float part + what the later steps handed back; dot = Σ_m α̂_t(m) dα̂_t(m)
    double dot = 0.0, d_u = 0.0;
    for (int n = 0; n < Tk; n++) {
        d_raw[n] = wide_of(d_alpha[n]);
        if (later) d_raw[n] = wide_add(d_raw[n], later[n]);
        dot += wide_product(d_raw[n], alpha[n]);
    }
    for (int n = 0; n < Tk; n++) {
        if (!attn_is_kept(&s->view, (size_t)b, n)) {
            d_raw[n] = wide_of(0.0);
            continue;
        }
        // forward: alpha[n] = raw[n] / Σ_m raw[m]
        d_raw[n] = wide_times(wide_add(d_raw[n], wide_of(-dot)), 1.0 / s->sum[b]);
        // forward: raw[n] = mixed[n] * y[n]   (kept n)
        if (y->grad) y->grad[row + n] += wide_float(wide_times(d_raw[n], mixed[n]));
        d_raw[n] = wide_times(d_raw[n], y_row[n]); // now d_mixed[n]
    }
    for (int n = 0; n < Tk; n++) {
        // forward: mixed[n] = stay * prev[n] + move * prev[n-1]
        double before = n > 0 ? previous_at(prev, n - 1) : 0.0;
        d_u += wide_product(d_raw[n], before - previous_at(prev, n));
        d_prev[n] = wide_times(d_raw[n], stay);
        if (n + 1 < Tk) d_prev[n] = wide_add(d_prev[n], wide_times(d_raw[n + 1], move));
    }
    // forward: stay = 1 - u, move = u
    if (transition && transition->grad) transition->grad[b] += wide_float(wide_of(d_u));
    if (alpha_prev) AT_TRY(pass_back(ctx, s, alpha_prev, row, d_prev));
    return AT_OK;
}

/* node->in: y, alpha_prev, transition, values. */
static at_status forward_attention_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *y = node->in[0], *alpha_prev = node->in[1], *transition = node->in[2];
    at_tensor *values = node->in[3];
    const fwd_saved *s = node->saved;
    float *d_alpha;
    wide *d_raw, *d_prev;
    AT_TRY(alpha_grad(ctx, s->alpha_out, s->alpha, values, node->out->grad, s->B, s->Tk, s->Dv,
                      &d_alpha)); // (B, Tk)
    AT_TRY(ati_scratch(ctx, (void **)&d_raw, (size_t)s->Tk * sizeof(wide)));
    AT_TRY(ati_scratch(ctx, (void **)&d_prev, (size_t)s->Tk * sizeof(wide)));
    for (int b = 0; b < s->B; b++) {
        if (!(s->sum[b] > 0.0)) continue; // alpha was all zeros: no gradient
        AT_TRY(forward_attention_row_backward(ctx, s, b, y, alpha_prev, transition,
                                              d_alpha + (size_t)b * s->Tk, d_raw, d_prev));
    }
    return AT_OK;
}

/* The forward-attention step on the tape whose alpha output is `alpha`,
 * or NULL. Only an alpha that takes a gradient is looked for. */
static fwd_saved *step_that_made(const at_ctx *ctx, const at_tensor *alpha) {
    if (!alpha || !alpha->grad) return NULL;
    for (size_t i = ctx->tape_len; i-- > 0;) {
        const ati_node *node = ctx->tape[i];
        if (node->backward != forward_attention_backward) continue;
        fwd_saved *s = node->saved;
        if (s->alpha_out == alpha) return s;
    }
    return NULL;
}

/* y >= 0 and finite (any distribution, normalised or not), u in [0, 1]. */
static at_status check_weights_given(at_ctx *ctx, const char *op, const at_tensor *y,
                                     const at_tensor *transition) {
    for (size_t i = 0; i < y->size; i++)
        if (!(y->data[i] >= 0.0f) || !isfinite(y->data[i]))
            return at_ctx_fail(
                ctx, AT_ERR_ARGUMENT, "%s: y[%zu, %zu] = %g; y must be finite and >= 0", op,
                i / (size_t)y->shape[1], i % (size_t)y->shape[1], (double)y->data[i]);
    for (size_t b = 0; transition && b < transition->size; b++)
        if (!(transition->data[b] >= 0.0f && transition->data[b] <= 1.0f))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: transition[%zu] = %g is outside [0, 1]",
                               op, b, (double)transition->data[b]);
    return AT_OK;
}

static at_status check_forward_attention(at_ctx *ctx, const char *op, at_tensor *y,
                                         at_tensor *alpha_prev, at_tensor *transition,
                                         at_tensor *values, int *B, int *Tk, int *Dv) {
    if (!y) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: y is NULL", op);
    if (y->ndim != 2) {
        char got[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: y is %s, expected (B, Tk)", op,
                           ati_shape_str(got, sizeof got, y->ndim, y->shape));
    }
    *B = y->shape[0], *Tk = y->shape[1];
    AT_TRY(check_shape2(ctx, op, "alpha_prev (B, Tk)", alpha_prev, *B, *Tk, 1));
    if (transition && transition->size != (size_t)*B) {
        char got[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: transition is %s, expected (B = %d, 1)", op,
                           ati_shape_str(got, sizeof got, transition->ndim, transition->shape), *B);
    }
    AT_TRY(check_values(ctx, op, values, *B, *Tk, Dv));
    return check_weights_given(ctx, op, y, transition);
}

/* One row: mixed (Tk), alpha (Tk) and the normaliser (in double, so that a
 * sum below float's range still normalises); alpha = 0 if it is 0. */
static double forward_attention_row(const float *y, const float *prev, float stay, float move,
                                    const attn_mask_view *view, int b, int Tk, float *mixed,
                                    float *alpha) {
    double sum = 0.0;
    for (int n = 0; n < Tk; n++) {
        double s = (double)stay * previous_at(prev, n) +
                   (n > 0 ? (double)move * previous_at(prev, n - 1) : 0.0);
        mixed[n] = (float)s;
        if (attn_is_kept(view, (size_t)b, n)) sum += (double)mixed[n] * y[n];
    }
    for (int n = 0; n < Tk; n++) {
        double raw = attn_is_kept(view, (size_t)b, n) ? (double)mixed[n] * y[n] : 0.0;
        alpha[n] = sum > 0.0 ? (float)(raw / sum) : 0.0f;
    }
    return sum;
}

at_status at_forward_attention(at_ctx *ctx, at_tensor *y, at_tensor *alpha_prev,
                               at_tensor *transition, at_tensor *values, const at_attn_mask *mask,
                               at_tensor **context, at_tensor **alpha) {
    const char *op = "forward_attention";
    if (!context) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: context output is NULL", op);
    int B = 0, Tk = 0, Dv = 0;
    AT_TRY(check_forward_attention(ctx, op, y, alpha_prev, transition, values, &B, &Tk, &Dv));
    fwd_saved *s;
    AT_TRY(ati_scratch(ctx, (void **)&s, sizeof *s));
    *s = (fwd_saved){.B = B, .Tk = Tk, .Dv = Dv};
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)B, 1, Tk, &s->view));

    at_tensor *inputs[4] = {y, alpha_prev, transition, values};
    int track = ati_tracking(ctx, 4, inputs);
    at_tensor *result;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){B, Dv}, track));
    AT_TRY(row_output(ctx, alpha, B, Tk, track, &s->alpha_out, &s->alpha));
    AT_TRY(ati_scratch(ctx, (void **)&s->mixed, (size_t)B * Tk * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&s->sum, (size_t)B * sizeof(double)));

    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * Tk;
        float stay, move;
        transition_weights(transition, b, &stay, &move);
        s->sum[b] =
            forward_attention_row(y->data + row, alpha_prev ? alpha_prev->data + row : NULL, stay,
                                  move, &s->view, b, Tk, s->mixed + row, s->alpha + row);
    }
    // context[b] = Σ_n alpha[b, n] values[b, n]
    attn_weighted_sum(ctx->threads, B, 1, Tk, Dv, s->alpha, values->data, result->data);

    if (track) {
        s->before = step_that_made(ctx, alpha_prev);
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "forward_attention", forward_attention_backward, result,
                              4, inputs));
        node->saved = s;
    }
    *context = result;
    if (alpha) *alpha = s->alpha_out;
    return AT_OK;
}
