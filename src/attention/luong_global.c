/*
 * luong_global.c - global attention (Luong, Pham and Manning 2015).
 *
 * The current decoder state h_t (Bahdanau uses the previous one) scores
 * every source state h̄_s, the scores become a distribution a_t over the
 * whole source, and the context is the a_t-weighted source:
 *
 *     dot       score = h_tᵀ h̄_s                        (Dq == Dk)
 *     general   score = h_tᵀ W_a h̄_s                    W_a (Dq, Dk)
 *     concat    score = v_aᵀ tanh(W_a [h_t; h̄_s])        W_a (A, Dq + Dk), v_a (A)
 *     location  a_t = softmax(W_a h_t)                  W_a (max_source_len, Dq)
 *
 *     a_t(s) = softmax_s(score)      c_t = Σ_s a_t(s) v_s
 *     h̃_t = tanh(W_c [c_t; h_t])     W_c (Dc, Dv + Dq)   (at_luong_attentional)
 *
 * Luong attends over the source states themselves, so at_luong_init makes
 * W_c for Dv = Dk; at_luong_init_attentional adds it for values of any
 * size Dv to a layer made with attentional_size 0.
 *
 *     queries h (B, Tq, Dq) or one step (B, Dq)   keys h̄ (B, Tk, Dk)
 *     values (B, Tk, Dv)   scores, weights a (B, Tq, Tk)   context (B, Tq, Dv)
 *
 * What does not change per step is done once by at_luong_project_keys:
 *     general   keys_proj = h̄ W_aᵀ          (B, Tk, Dq), so score = h_t · keys_proj_s
 *     concat    keys_proj = h̄ W_a[:, Dq:]ᵀ  (B, Tk, A), the key half of W_a;
 *               the score is then the additive one of additive.c, with the
 *               query half W_a[:, :Dq] and no bias
 *     dot, location: keys_proj is keys itself (location only reads Tk).
 * Location uses the first Tk rows of W_a: a source shorter than
 * max_source_len simply ignores the rest.
 *
 * at_luong_attend is ONE fused tape entry (score, softmax, weighted sum);
 * its backward undoes c = a V, the softmax and then the score:
 *     dot, general   dq += de keys_proj      dkeys_proj += deᵀ q
 *     location       dq += de W_a[:Tk]       dW_a[:Tk] += deᵀ q
 *     concat         as additive.c (it keeps tanh's (B, Tq, Tk, A) activations)
 * Local attention (luong_local.c) reuses the score and its backward.
 *
 * Initialisation: every W Glorot uniform; v_a uniform in ±1/√A (as
 * additive.c explains). With rng NULL every parameter stays zero.
 *
 * Weights: the returned a_t is the softmax's own buffer and carries a
 * gradient; the backward adds it to dc Vᵀ before undoing the softmax.
 */
#include "attention.h"

#include "../layers/layers.h"

#include <math.h>

/* ------------------------------------------------------------- init */

static at_status luong_check_sizes(at_ctx *ctx, at_score score, int query_size, int key_size,
                                   int attn_size, int max_source_len, int attentional_size) {
    if (score < AT_SCORE_DOT || score > AT_SCORE_LOCATION)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_init: unknown score %d", (int)score);
    if (query_size <= 0 || key_size <= 0 || attentional_size < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "luong_init: query_size %d, key_size %d must be > 0, "
                           "attentional_size %d >= 0",
                           query_size, key_size, attentional_size);
    if (score == AT_SCORE_DOT && query_size != key_size)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "luong_init: the dot score needs query_size %d == key_size %d",
                           query_size, key_size);
    if (score == AT_SCORE_CONCAT && attn_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_init: concat needs attn_size %d > 0",
                           attn_size);
    if (score == AT_SCORE_LOCATION && max_source_len <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_init: location needs max_source_len %d > 0",
                           max_source_len);
    return AT_OK;
}

/* Add W_a (and v_a) as the score needs them. */
static at_status luong_score_params(at_ctx *ctx, at_luong *made, at_params *params,
                                    const char *prefix, at_rng *rng) {
    int dq = made->query_size, dk = made->key_size, A = made->attn_size;
    if (made->score == AT_SCORE_GENERAL) {
        AT_TRY(layer_param(ctx, params, prefix, "W_a", NULL, 2, (int[]){dq, dk}, &made->W_a));
        at_init_glorot_uniform(made->W_a, dk, dq, 1.0f, rng);
    } else if (made->score == AT_SCORE_CONCAT) {
        AT_TRY(layer_param(ctx, params, prefix, "W_a", NULL, 2, (int[]){A, dq + dk}, &made->W_a));
        AT_TRY(layer_param(ctx, params, prefix, "v_a", NULL, 1, (int[]){A}, &made->v_a));
        at_init_glorot_uniform(made->W_a, dq + dk, A, 1.0f, rng);
        float bound = 1.0f / sqrtf((float)A);
        at_init_uniform(made->v_a, -bound, bound, rng);
    } else if (made->score == AT_SCORE_LOCATION) {
        int len = made->max_source_len;
        AT_TRY(layer_param(ctx, params, prefix, "W_a", NULL, 2, (int[]){len, dq}, &made->W_a));
        at_init_glorot_uniform(made->W_a, dq, len, 1.0f, rng);
    }
    return AT_OK;
}

/* W_c (Dc, Dv + Dq) acting on [c_t; h_t]. */
static at_status luong_attentional_param(at_ctx *ctx, at_luong *made, at_params *params,
                                         const char *prefix, int value_size,
                                         int attentional_size, at_rng *rng) {
    int in = value_size + made->query_size; // [c_t; h_t]
    AT_TRY(layer_param(ctx, params, prefix, "W_c", NULL, 2, (int[]){attentional_size, in},
                       &made->W_c));
    at_init_glorot_uniform(made->W_c, in, attentional_size, 1.0f, rng);
    made->value_size = value_size;
    made->attentional_size = attentional_size;
    return AT_OK;
}

at_status at_luong_init(at_ctx *ctx, at_luong *layer, at_params *params, const char *prefix,
                        at_score score, int query_size, int key_size, int attn_size,
                        int max_source_len, int attentional_size, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_init: NULL layer or params");
    AT_TRY(luong_check_sizes(ctx, score, query_size, key_size, attn_size, max_source_len,
                             attentional_size));
    at_luong made = {.score = score,
                     .query_size = query_size,
                     .key_size = key_size,
                     .attn_size = score == AT_SCORE_CONCAT ? attn_size : 0,
                     .max_source_len = score == AT_SCORE_LOCATION ? max_source_len : 0,
                     .attentional_size = attentional_size};
    AT_TRY(luong_score_params(ctx, &made, params, prefix, rng));
    if (attentional_size > 0) // Dv = Dk: the values are the source states h̄_s
        AT_TRY(luong_attentional_param(ctx, &made, params, prefix, key_size, attentional_size,
                                       rng));
    *layer = made;
    return AT_OK;
}

at_status at_luong_init_attentional(at_ctx *ctx, at_luong *layer, at_params *params,
                                    const char *prefix, int value_size, int attentional_size,
                                    at_rng *rng) {
    static const char op[] = "luong_init_attentional";
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or params", op);
    if (layer->W_c)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: the layer already has W_c (make it with attentional_size 0)", op);
    if (layer->query_size <= 0 || value_size <= 0 || attentional_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: query_size %d, value_size %d and attentional_size %d must be > 0",
                           op, layer->query_size, value_size, attentional_size);
    at_luong made = *layer;
    AT_TRY(luong_attentional_param(ctx, &made, params, prefix, value_size, attentional_size, rng));
    *layer = made;
    return AT_OK;
}

/* Dv of W_c: value_size, or key_size for a layer that never set it. */
static int luong_value_size(const at_luong *layer) {
    return layer->value_size > 0 ? layer->value_size : layer->key_size;
}

/* ----------------------------------------------------- project keys */

at_status at_luong_project_keys(at_ctx *ctx, const at_luong *layer, at_tensor *keys,
                                at_tensor **keys_proj) {
    static const char op[] = "luong_project_keys";
    if (!layer || !keys_proj)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or output", op);
    AT_CHECK_TENSOR(ctx, keys, "luong_project_keys: keys");
    AT_TRY(attn_check_sequence(ctx, op, "keys", keys, keys->shape[0], layer->key_size, NULL));
    switch (layer->score) {
    case AT_SCORE_GENERAL: // keys_proj (B, Tk, Dq) = h̄ W_aᵀ
        return attn_project_block(ctx, op, keys, layer->W_a, 0, NULL, keys_proj);
    case AT_SCORE_CONCAT: // keys_proj (B, Tk, A) = h̄ W_a[:, Dq:]ᵀ
        return attn_project_block(ctx, op, keys, layer->W_a, layer->query_size, NULL, keys_proj);
    default: // dot, location: the keys themselves
        *keys_proj = keys;
        return AT_OK;
    }
}

/* ------------------------------------------------------------ scores */

/* The width keys_proj must have for the layer's score. */
static int luong_keys_proj_size(const at_luong *layer) {
    if (layer->score == AT_SCORE_GENERAL) return layer->query_size;
    if (layer->score == AT_SCORE_CONCAT) return layer->attn_size;
    return layer->key_size;
}

at_status luong_check_inputs(at_ctx *ctx, const char *op, const at_luong *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, attn_queries *q,
                             attn_dims *d) {
    int needs_w = layer->score != AT_SCORE_DOT, needs_v = layer->score == AT_SCORE_CONCAT;
    if ((needs_w && !layer->W_a) || (needs_v && !layer->v_a))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the layer lacks the W_a/v_a its score needs",
                           op);
    AT_TRY(attn_read_queries(ctx, op, queries, layer->query_size, q));
    int kp_size = luong_keys_proj_size(layer), tk_values;
    *d = (attn_dims){q->batch, q->steps, 0, q->size, kp_size, 0};
    AT_TRY(attn_check_sequence(ctx, op, "keys_proj", keys_proj, q->batch, kp_size, &d->tk));
    AT_TRY(attn_check_sequence(ctx, op, "values", values, q->batch, -1, &tk_values));
    if (tk_values != d->tk)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: values have %d steps, keys_proj %d", op,
                           tk_values, d->tk);
    if (layer->score == AT_SCORE_LOCATION && d->tk > layer->max_source_len)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %d source steps, location W_a covers only %d",
                           op, d->tk, layer->max_source_len);
    d->dv = values->shape[2];
    return AT_OK;
}

at_status luong_scores(at_ctx *ctx, const at_luong *layer, const attn_dims *d, const float *q,
                       const float *kp, float **t, float *scores) {
    const int B = d->B, tq = d->tq, tk = d->tk, dq = d->dq;
    if (t) *t = NULL;
    switch (layer->score) {
    case AT_SCORE_DOT:
    case AT_SCORE_GENERAL: // score[i][s] = h_i · keys_proj_s : (Tq, Dq) x (Dq, Tk) per batch row
        for (int b = 0; b < B; b++)
            ati_gemm_threads(0, 1, tq, tk, dq, 1.0f, q + (size_t)b * tq * dq, dq,
                             kp + (size_t)b * tk * dq, dq, 0.0f, scores + (size_t)b * tq * tk, tk,
                             ctx->threads);
        return AT_OK;
    case AT_SCORE_LOCATION: // score[i][s] = (W_a h_i)[s], s < Tk : (B*Tq, Dq) x (Dq, Tk)
        ati_gemm_threads(0, 1, B * tq, tk, dq, 1.0f, q, dq, layer->W_a->data, dq, 0.0f, scores, tk,
                         ctx->threads);
        return AT_OK;
    case AT_SCORE_CONCAT: {   // score = v_aᵀ tanh(W_a[:, :Dq] h_i + keys_proj_s)
        float *hidden = NULL; // (B, Tq, Tk, A), kept only for backward
        if (t)
            AT_TRY(ati_scratch(ctx, (void **)&hidden, (size_t)B * tq * tk * d->dk * sizeof(float)));
        if (t) *t = hidden;
        return attn_additive_scores(ctx, d, layer->W_a, layer->v_a, q, kp, hidden, scores);
    }
    }
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong: unknown score %d", (int)layer->score);
}

at_status luong_scores_backward(at_ctx *ctx, const at_luong *layer, const attn_dims *d,
                                const float *q, const float *kp, const float *t,
                                const float *d_scores, float *dq, float *dkp) {
    const int B = d->B, tq = d->tq, tk = d->tk, D = d->dq;
    at_tensor *W = layer->W_a;
    switch (layer->score) {
    case AT_SCORE_DOT:
    case AT_SCORE_GENERAL:
        for (int b = 0; b < B; b++) {
            const float *ds = d_scores + (size_t)b * tq * tk; // (Tq, Tk)
            // forward: score[i][s] = h_i · keys_proj_s      so dq += ds keys_proj
            if (dq)
                ati_gemm_threads(0, 0, tq, D, tk, 1.0f, ds, tk, kp + (size_t)b * tk * D, D, 1.0f,
                                 dq + (size_t)b * tq * D, D, ctx->threads);
            // forward: score[i][s] = h_i · keys_proj_s      so dkeys_proj += dsᵀ q
            if (dkp)
                ati_gemm_threads(1, 0, tk, D, tq, 1.0f, ds, tk, q + (size_t)b * tq * D, D, 1.0f,
                                 dkp + (size_t)b * tk * D, D, ctx->threads);
        }
        return AT_OK;
    case AT_SCORE_LOCATION:
        // forward: score[i][s] = (W_a h_i)[s]              so dq += ds W_a[:Tk]
        if (dq) ati_gemm_threads(0, 0, B * tq, D, tk, 1.0f, d_scores, tk, W->data, D, 1.0f, dq, D,
                                 ctx->threads);
        // forward: score[i][s] = (W_a h_i)[s]              so dW_a[:Tk] += dsᵀ q
        if (W->grad) ati_gemm_threads(1, 0, tk, D, B * tq, 1.0f, d_scores, tk, q, D, 1.0f, W->grad,
                                      D, ctx->threads);
        return AT_OK;
    case AT_SCORE_CONCAT:
        // forward: score = v_aᵀ tanh(W_a[:, :Dq] h_i + keys_proj_s)
        return attn_additive_scores_backward(ctx, d, W, layer->v_a, q, t, d_scores, dq, dkp);
    }
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong: unknown score %d", (int)layer->score);
}

/* ------------------------------------------------------------- attend */

typedef struct luong_saved {
    attn_dims d;
    at_luong layer;     // a copy: the parameters outlive the step, the caller's struct may not
    float *t;           // (B, Tq, Tk, A) concat's hidden layer, else NULL
    float *alpha;       // (B, Tq, Tk)    the weights' data, or a private buffer
    at_tensor *weights; // the returned a_t, or NULL
} luong_saved;

/* node->in: queries, keys_proj, values, W_a, v_a (the last two may be NULL). */
static at_status luong_backward(at_ctx *ctx, ati_node *node) {
    luong_saved *sv = node->saved;
    at_tensor *queries = node->in[0], *keys_proj = node->in[1], *values = node->in[2];
    const attn_dims *d = &sv->d;
    float *d_alpha, *d_scores;
    // forward: c_t = Σ_s a_t(s) v_s
    AT_TRY(
        attn_context_backward(ctx, d, sv->alpha, sv->weights, values, node->out->grad, &d_alpha));
    // forward: a_t = softmax_s(score)
    AT_TRY(attn_softmax_backward(ctx, (size_t)d->B * d->tq, d->tk, sv->alpha, d_alpha, &d_scores));
    // forward: score(h_t, h̄_s), one of the four
    return luong_scores_backward(ctx, &sv->layer, d, queries->data, keys_proj->data, sv->t,
                                 d_scores, queries->grad, keys_proj->grad);
}

at_status at_luong_attend(at_ctx *ctx, const at_luong *layer, at_tensor *queries,
                          at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                          at_tensor **context, at_tensor **weights) {
    static const char op[] = "luong_attend";
    if (!layer || !context)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or context", op);
    attn_queries q;
    attn_dims d;
    AT_TRY(luong_check_inputs(ctx, op, layer, queries, keys_proj, values, &q, &d));
    size_t rows = (size_t)d.B * d.tq;
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, rows, d.tq, d.tk, &view));

    at_tensor *inputs[5] = {queries, keys_proj, values, layer->W_a, layer->v_a};
    int track = ati_tracking(ctx, 5, inputs);
    attn_map_buffers buf;
    AT_TRY(attn_map_buffers_new(ctx, &q, &d, weights != NULL, track, &buf));
    at_tensor *c = buf.context, *w = buf.weights;
    float *scores = buf.scores, *alpha = buf.alpha, *t = NULL; // t: concat (B, Tq, Tk, A)

    // score(h_t, h̄_s)
    AT_TRY(luong_scores(ctx, layer, &d, queries->data, keys_proj->data, track ? &t : NULL, scores));
    // explain one step: the scores it shows (a no-op unless it runs)
    AT_TRY(ati_trace_put(ctx, "scores", scores, 3, (int[]){d.B, d.tq, d.tk}));
    // a_t = softmax_s(score) over the kept keys
    AT_TRY(attn_softmax_scores(ctx, &view, rows, d.tk, scores, alpha));
    // c_t = Σ_s a_t(s) v_s
    attn_weighted_sum(ctx->threads, d.B, d.tq, d.tk, d.dv, alpha, values->data, c->data);

    if (track) {
        luong_saved *sv;
        AT_TRY(ati_scratch(ctx, (void **)&sv, sizeof *sv));
        *sv = (luong_saved){d, *layer, t, alpha, w};
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, luong_backward, c, 5, inputs));
        node->saved = sv;
    }
    *context = c;
    if (weights) *weights = w;
    return AT_OK;
}

/* ------------------------------------------------------- attentional */

/* node->iarg: [0] rows R, [1] Dv, [2] Dq, [3] Dc. node->in: context, queries, W_c. */
static at_status attentional_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *c = node->in[0], *h = node->in[1], *W_c = node->in[2];
    int rows = node->iarg[0], dv = node->iarg[1], dq = node->iarg[2], dc = node->iarg[3];
    int ld = dv + dq;
    const float *ht = node->out->data, *dht = node->out->grad; // (R, Dc), (R, Dc)
    float *dpre;                                               // (R, Dc)
    AT_TRY(ati_scratch(ctx, (void **)&dpre, (size_t)rows * dc * sizeof(float)));
    // forward: h̃ = tanh(pre)
    for (size_t k = 0; k < (size_t)rows * dc; k++)
        dpre[k] = dht[k] * (1.0f - ht[k] * ht[k]);
    // forward: pre = c W_c[:, :Dv]ᵀ + h W_c[:, Dv:]ᵀ      so dc += dpre W_c[:, :Dv]
    if (c->grad) ati_gemm_threads(0, 0, rows, dv, dc, 1.0f, dpre, dc, W_c->data, ld, 1.0f, c->grad,
                                  dv, ctx->threads);
    // forward: pre = c W_c[:, :Dv]ᵀ + h W_c[:, Dv:]ᵀ      so dh += dpre W_c[:, Dv:]
    if (h->grad) ati_gemm_threads(0, 0, rows, dq, dc, 1.0f, dpre, dc, W_c->data + dv, ld, 1.0f,
                                  h->grad, dq, ctx->threads);
    // forward: the same line                              so dW_c += dpreᵀ [c; h]
    if (W_c->grad) {
        ati_gemm_threads(1, 0, dc, dv, rows, 1.0f, dpre, dc, c->data, dv, 1.0f, W_c->grad, ld,
                         ctx->threads);
        ati_gemm_threads(1, 0, dc, dq, rows, 1.0f, dpre, dc, h->data, dq, 1.0f, W_c->grad + dv, ld,
                         ctx->threads);
    }
    return AT_OK;
}

static at_status attentional_check(at_ctx *ctx, const at_luong *layer, const at_tensor *c,
                                   const at_tensor *h) {
    static const char op[] = "luong_attentional";
    char cs[64], hs[64];
    if (!layer->W_c)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the layer has no W_c (attentional_size 0)",
                           op);
    int dv = luong_value_size(layer), dq = layer->query_size;
    const at_tensor *W_c = layer->W_c;
    if (W_c->ndim != 2 || W_c->shape[0] != layer->attentional_size || W_c->shape[1] != dv + dq)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: W_c %s must be (Dc = %d, Dv + Dq = %d + %d)",
                           op, ati_shape_str(cs, sizeof cs, W_c->ndim, W_c->shape),
                           layer->attentional_size, dv, dq);
    int ok = c->ndim == h->ndim && (c->ndim == 2 || c->ndim == 3) &&
             c->shape[c->ndim - 1] == dv && h->shape[h->ndim - 1] == dq;
    for (int i = 0; ok && i < c->ndim - 1; i++)
        ok = c->shape[i] == h->shape[i];
    if (!ok)
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "%s: context %s and queries %s must be (B, [Tq,] %d) and (B, [Tq,] %d)",
                           op, ati_shape_str(cs, sizeof cs, c->ndim, c->shape),
                           ati_shape_str(hs, sizeof hs, h->ndim, h->shape), dv, dq);
    return AT_OK;
}

at_status at_luong_attentional(at_ctx *ctx, const at_luong *layer, at_tensor *context,
                               at_tensor *queries, at_tensor **h_tilde) {
    if (!layer || !h_tilde)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_attentional: NULL layer or output");
    AT_CHECK_TENSOR(ctx, context, "luong_attentional: context");
    AT_CHECK_TENSOR(ctx, queries, "luong_attentional: queries");
    AT_TRY(attentional_check(ctx, layer, context, queries));
    int dv = luong_value_size(layer), dq = layer->query_size, dc = layer->attentional_size;
    int rows = (int)(queries->size / (size_t)dq), ld = dv + dq;
    at_tensor *inputs[3] = {context, queries, layer->W_c};
    int track = ati_tracking(ctx, 3, inputs);
    int shape[3] = {queries->shape[0], queries->shape[1], dc};
    shape[queries->ndim - 1] = dc;
    at_tensor *y;
    AT_TRY(ati_result(ctx, &y, queries->ndim, shape, track));
    // pre (R, Dc) = c W_c[:, :Dv]ᵀ + h W_c[:, Dv:]ᵀ
    ati_gemm_threads(0, 1, rows, dc, dv, 1.0f, context->data, dv, layer->W_c->data, ld, 0.0f,
                     y->data, dc, ctx->threads);
    ati_gemm_threads(0, 1, rows, dc, dq, 1.0f, queries->data, dq, layer->W_c->data + dv, ld, 1.0f,
                     y->data, dc, ctx->threads);
    // h̃ = tanh(pre)
    for (size_t k = 0; k < y->size; k++)
        y->data[k] = ati_fast_tanh(y->data[k]);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "luong_attentional", attentional_backward, y, 3, inputs));
        node->iarg[0] = rows;
        node->iarg[1] = dv;
        node->iarg[2] = dq;
        node->iarg[3] = dc;
    }
    *h_tilde = y;
    return AT_OK;
}
