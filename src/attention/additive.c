/*
 * additive.c - additive attention (Bahdanau et al. 2015), "concat" in
 * Luong's terms.
 *
 * A query q_t scores every key k_j with a small one-hidden-layer network,
 * and the scores become a distribution over the keys:
 *
 *     e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a)
 *     α_t  = softmax_j(e_t)            (only over the keys the mask keeps)
 *     c_t  = Σ_j α_tj v_j
 *
 *     W_a (A, Dq)   U_a (A, Dk)   b_a (A)   v_a (A)
 *     queries q (B, Tq, Dq) or one step (B, Dq)
 *     keys k (B, Tk, Dk)   values v (B, Tk, Dv)
 *     scores e, weights α (B, Tq, Tk)   context c (B, Tq, Dv)
 *
 * U_a k_j + b_a does not depend on t, so at_additive_project_keys computes
 * it once per sequence: keys_proj (B, Tk, A), its own tape entry. Every
 * decoder step then passes keys_proj to at_additive_attend, which is ONE
 * fused tape entry for the score, the softmax and the weighted sum.
 *
 * The price of additive attention: the hidden layer
 *     t_tj = tanh(W_a q_t + keys_proj_j)     (A) per (query, key) pair
 * is what the backward pass differentiates through, so it is kept:
 * (B, Tq, Tk, A) floats per call, A times the size of the attention map
 * (a dot score keeps nothing but α). In inference mode it is not stored.
 *
 * Backward, dc the gradient of the context:
 *     dα   = dc Vᵀ (+ the gradient of the returned weights)   dV += αᵀ dc
 *     de   = softmax backward of (α, dα)
 *     dpre = de v_a (1 − t²)       dv_a += Σ t de
 *     dkeys_proj_j += Σ_t dpre     dq += (Σ_j dpre) W_a    dW_a += (Σ_j dpre)ᵀ q
 *
 * Initialisation: W_a and U_a Glorot uniform, b_a zeros, and v_a uniform
 * in ±1/√A - what torch.nn.Linear(A, 1) would give the vector that reduces
 * the hidden layer to one score: scores start small, α starts near uniform.
 *
 * The pieces of this file that other families reuse (the block projection,
 * the additive score with a query weight that may be a column block, the
 * softmax and context tails) are declared in attention.h.
 */
#include "attention.h"

#include "../layers/layers.h"

#include <math.h>
#include <string.h>

/* Work (multiply-adds) above which the score loops use the context's threads. */
#define ADDITIVE_PARALLEL_MIN (1L << 16)

/* ------------------------------------------------------------- init */

at_status at_additive_init(at_ctx *ctx, at_additive *layer, at_params *params, const char *prefix,
                           int query_size, int key_size, int attn_size, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "additive_init: NULL layer or params");
    if (query_size <= 0 || key_size <= 0 || attn_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "additive_init: query_size %d, key_size %d, attn_size %d must be > 0",
                           query_size, key_size, attn_size);
    at_additive made = {.query_size = query_size, .key_size = key_size, .attn_size = attn_size};
    AT_TRY(layer_param(ctx, params, prefix, "W_a", NULL, 2, (int[]){attn_size, query_size},
                       &made.W_a));
    AT_TRY(
        layer_param(ctx, params, prefix, "U_a", NULL, 2, (int[]){attn_size, key_size}, &made.U_a));
    AT_TRY(layer_param(ctx, params, prefix, "b_a", NULL, 1, (int[]){attn_size}, &made.b_a));
    AT_TRY(layer_param(ctx, params, prefix, "v_a", NULL, 1, (int[]){attn_size}, &made.v_a));
    at_init_glorot_uniform(made.W_a, query_size, attn_size, 1.0f, rng);
    at_init_glorot_uniform(made.U_a, key_size, attn_size, 1.0f, rng);
    float bound = 1.0f / sqrtf((float)attn_size);
    at_init_uniform(made.v_a, -bound, bound, rng);
    *layer = made;
    return AT_OK;
}

/* ------------------------------------------- keys · W[:, block]ᵀ + bias */

/* node->iarg: [0] rows R = B*Tk, [1] Dk, [2] O, [3] ld of W, [4] offset.
 * node->in: keys, W, bias (may be NULL). */
static at_status project_block_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *keys = node->in[0], *W = node->in[1], *bias = node->in[2];
    const float *dy = node->out->grad; // (R, O)
    int rows = node->iarg[0], dk = node->iarg[1], O = node->iarg[2];
    int ld = node->iarg[3], offset = node->iarg[4];
    // forward: y = keys W_blockᵀ + b        so dkeys += dy W_block
    if (keys->grad)
        ati_gemm_threads(0, 0, rows, dk, O, 1.0f, dy, O, W->data + offset, ld, 1.0f, keys->grad,
                         dk, ctx->threads);
    // forward: y = keys W_blockᵀ + b        so dW_block += dyᵀ keys
    if (W->grad)
        ati_gemm_threads(1, 0, O, dk, rows, 1.0f, dy, O, keys->data, dk, 1.0f, W->grad + offset,
                         ld, ctx->threads);
    // forward: y[r] = ... + b, every row   so db += the column sums of dy
    if (bias && bias->grad) ati_add_column_sums(bias->grad, dy, rows, O, ctx->threads);
    return AT_OK;
}

at_status attn_project_block(at_ctx *ctx, const char *op, at_tensor *keys, at_tensor *W, int offset,
                             at_tensor *bias, at_tensor **out) {
    char got[64];
    AT_CHECK_TENSOR(ctx, keys, op);
    if (!W || W->ndim != 2 || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL output or a missing weight", op);
    int O = W->shape[0], ld = W->shape[1];
    if (keys->ndim != 3 || offset + keys->shape[2] > ld)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: keys %s must be (B, Tk, %d)", op,
                           ati_shape_str(got, sizeof got, keys->ndim, keys->shape), ld - offset);
    if (bias && bias->size != (size_t)O)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: bias has %zu values, expected %d", op,
                           bias->size, O);
    int dk = keys->shape[2], rows = keys->shape[0] * keys->shape[1];
    at_tensor *inputs[3] = {keys, W, bias};
    int track = ati_tracking(ctx, 3, inputs);
    at_tensor *y;
    AT_TRY(ati_result(ctx, &y, 3, (int[]){keys->shape[0], keys->shape[1], O}, track));
    if (bias)
        for (int r = 0; r < rows; r++)
            memcpy(y->data + (size_t)r * O, bias->data, O * sizeof(float));
    // y (R, O) += keys (R, Dk) · W[:, offset : offset + Dk]ᵀ, on the context's threads
    ati_gemm_threads(0, 1, rows, O, dk, 1.0f, keys->data, dk, W->data + offset, ld, 1.0f, y->data,
                     O, ctx->threads);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, project_block_backward, y, 3, inputs));
        node->iarg[0] = rows;
        node->iarg[1] = dk;
        node->iarg[2] = O;
        node->iarg[3] = ld;
        node->iarg[4] = offset;
    }
    *out = y;
    return AT_OK;
}

at_status at_additive_project_keys(at_ctx *ctx, const at_additive *layer, at_tensor *keys,
                                   at_tensor **keys_proj) {
    if (!layer || !layer->U_a || !layer->b_a)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "additive_project_keys: NULL layer");
    AT_CHECK_TENSOR(ctx, keys, "additive_project_keys: keys");
    AT_TRY(attn_check_sequence(ctx, "additive_project_keys", "keys", keys, keys->shape[0],
                               layer->key_size, NULL));
    // keys_proj (B, Tk, A) = U_a k_j + b_a
    return attn_project_block(ctx, "additive_project_keys", keys, layer->U_a, 0, layer->b_a,
                              keys_proj);
}

/* ------------------------------------------------- the additive score */

/* One query against every key: wq (A) = W q, kp (Tk, A), t (Tk, A) or NULL
 * (inference: nothing kept), e (Tk). The tanh is taken over a piece of a
 * row first and then dotted with v, so that both loops vectorise (in a
 * fixed order: results do not vary between runs). */
static void additive_row(int tk, int A, const float *wq, const float *kp, const float *v, float *t,
                         float *e) {
    enum { CHUNK = 256 };
    float row[CHUNK]; // t[j][a0 .. a0+CHUNK) when t is not kept
    for (int j = 0; j < tk; j++) {
        float sum = 0.0f;
        for (int a0 = 0; a0 < A; a0 += CHUNK) {
            int n = A - a0 < CHUNK ? A - a0 : CHUNK;
            float *tj = t ? t + (size_t)j * A + a0 : row;
            const float *kpj = kp + (size_t)j * A + a0;
            // t[j][a] = tanh(W q + kp[j])[a]
            for (int a = 0; a < n; a++) tj[a] = ati_fast_tanh(wq[a0 + a] + kpj[a]);
            // e[j] = Σ_a v[a] t[j][a]
            sum += ati_dot(n, v + a0, tj);
        }
        e[j] = sum;
    }
}

at_status attn_additive_scores(at_ctx *ctx, const attn_dims *d, const at_tensor *W,
                               const at_tensor *v, const float *q, const float *kp, float *t,
                               float *scores) {
    const int A = (int)v->size, ld = W->shape[1], tk = d->tk, tq = d->tq;
    const long rows = (long)d->B * tq;
    float *wq; // (B*Tq, A)
    AT_TRY(ati_scratch(ctx, (void **)&wq, (size_t)rows * A * sizeof(float)));
    // wq = q W[:, 0:Dq]ᵀ : (B*Tq, Dq) x (Dq, A)
    ati_gemm_threads(0, 1, (int)rows, A, d->dq, 1.0f, q, d->dq, W->data, ld, 0.0f, wq, A,
                     ctx->threads);
    const int big = (long)rows * tk * A >= ADDITIVE_PARALLEL_MIN;
#pragma omp parallel for num_threads(ctx->threads) if (big)
    for (long r = 0; r < rows; r++) {
        const float *kp_b = kp + (size_t)(r / tq) * tk * A; // (Tk, A)
        float *t_r = t ? t + (size_t)r * tk * A : NULL;     // (Tk, A)
        additive_row(tk, A, wq + (size_t)r * A, kp_b, v->data, t_r, scores + (size_t)r * tk);
    }
    return AT_OK;
}

/* The backward of one batch row b: t (Tq, Tk, A), de (Tq, Tk). ADDS into
 * d_wq (Tq, A), dkp (Tk, A) or NULL, dv (A). */
static void additive_batch_backward(int tq, int tk, int A, const float *v, const float *t,
                                    const float *de, float *d_wq, float *dkp, float *dv) {
    for (int i = 0; i < tq; i++)
        for (int j = 0; j < tk; j++) {
            float g = de[(size_t)i * tk + j];
            if (g == 0.0f) continue; // a dropped key: nothing flows back
            const float *tij = t + ((size_t)i * tk + j) * A;
            for (int a = 0; a < A; a++) {
                // forward: e[j] = Σ_a v[a] t[j][a]
                dv[a] += tij[a] * g;
                // forward: t[j][a] = tanh(wq[a] + kp[j][a])
                float dpre = g * v[a] * (1.0f - tij[a] * tij[a]);
                d_wq[(size_t)i * A + a] += dpre;
                if (dkp) dkp[(size_t)j * A + a] += dpre;
            }
        }
}

at_status attn_additive_scores_backward(at_ctx *ctx, const attn_dims *d, at_tensor *W, at_tensor *v,
                                        const float *q, const float *t, const float *d_scores,
                                        float *dq, float *dkp) {
    const int A = (int)v->size, ld = W->shape[1], tk = d->tk, tq = d->tq, B = d->B;
    const int rows = B * tq;
    float *d_wq, *dv_per_batch; // (B*Tq, A), (B, A): summed in batch order, deterministic
    AT_TRY(ati_scratch_zero(ctx, (void **)&d_wq, (size_t)rows * A * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&dv_per_batch, (size_t)B * A * sizeof(float)));
    const int big = (long)rows * tk * A >= ADDITIVE_PARALLEL_MIN;
#pragma omp parallel for num_threads(ctx->threads) if (big)
    for (int b = 0; b < B; b++)
        additive_batch_backward(tq, tk, A, v->data, t + (size_t)b * tq * tk * A,
                                d_scores + (size_t)b * tq * tk, d_wq + (size_t)b * tq * A,
                                dkp ? dkp + (size_t)b * tk * A : NULL,
                                dv_per_batch + (size_t)b * A);
    // forward: e[j] = Σ_a v[a] t[j][a], for every batch row     so dv = Σ_b dv_b
    if (v->grad)
        for (int b = 0; b < B; b++)
            for (int a = 0; a < A; a++)
                v->grad[a] += dv_per_batch[(size_t)b * A + a];
    // forward: wq = q W[:, 0:Dq]ᵀ           so dq += d_wq W[:, 0:Dq]
    if (dq)
        ati_gemm_threads(0, 0, rows, d->dq, A, 1.0f, d_wq, A, W->data, ld, 1.0f, dq, d->dq,
                         ctx->threads);
    // forward: wq = q W[:, 0:Dq]ᵀ           so dW[:, 0:Dq] += d_wqᵀ q
    if (W->grad)
        ati_gemm_threads(1, 0, A, d->dq, rows, 1.0f, d_wq, A, q, d->dq, 1.0f, W->grad, ld,
                         ctx->threads);
    return AT_OK;
}

/* ------------------------------------------ the tail the families share */

at_status attn_new_like_queries(at_ctx *ctx, const attn_queries *q, int n, int track,
                                at_tensor **out) {
    if (q->single_step) return ati_result(ctx, out, 2, (int[]){q->batch, n}, track);
    return ati_result(ctx, out, 3, (int[]){q->batch, q->steps, n}, track);
}

at_status attn_map_buffers_new(at_ctx *ctx, const attn_queries *q, const attn_dims *d,
                               int want_weights, int track, attn_map_buffers *out) {
    size_t map = (size_t)d->B * d->tq * d->tk;
    *out = (attn_map_buffers){0};
    AT_TRY(attn_new_like_queries(ctx, q, d->dv, track, &out->context));
    if (want_weights) AT_TRY(attn_new_like_queries(ctx, q, d->tk, track, &out->weights));
    AT_TRY(ati_scratch(ctx, (void **)&out->scores, map * sizeof(float)));
    if (out->weights)
        out->alpha = out->weights->data;
    else
        AT_TRY(ati_scratch(ctx, (void **)&out->alpha, map * sizeof(float)));
    return AT_OK;
}

at_status attn_softmax_scores(at_ctx *ctx, const attn_mask_view *mask, size_t rows, int tk,
                              const float *scores, float *alpha) {
    uint8_t *scratch; // (Tk) the row's keep-bytes when the causal rule is folded in
    AT_TRY(ati_scratch(ctx, (void **)&scratch, (size_t)tk));
    for (size_t r = 0; r < rows; r++)
        ati_softmax_row(alpha + r * tk, scores + r * tk, attn_row_keep(mask, r, scratch), tk);
    return AT_OK;
}

at_status attn_softmax_backward(at_ctx *ctx, size_t rows, int tk, const float *alpha,
                                const float *d_alpha, float **d_scores) {
    float *ds; // (rows, Tk)
    AT_TRY(ati_scratch_zero(ctx, (void **)&ds, rows * tk * sizeof(float)));
    // forward: alpha[r] = softmax(scores[r]) over the kept keys
    for (size_t r = 0; r < rows; r++)
        ati_softmax_row_backward(ds + r * tk, alpha + r * tk, d_alpha + r * tk, tk);
    *d_scores = ds;
    return AT_OK;
}

at_status attn_context_backward(at_ctx *ctx, const attn_dims *d, const float *alpha,
                                const at_tensor *weights, at_tensor *values, const float *d_context,
                                float **d_alpha) {
    size_t n = (size_t)d->B * d->tq * d->tk;
    float *da; // (B, Tq, Tk)
    AT_TRY(ati_scratch_zero(ctx, (void **)&da, n * sizeof(float)));
    // forward: weights = α, handed to the caller
    if (weights && weights->grad) memcpy(da, weights->grad, n * sizeof(float));
    // forward: c = α V
    attn_weighted_sum_backward(ctx->threads, d->B, d->tq, d->tk, d->dv, alpha, values->data,
                               d_context, da, values->grad);
    *d_alpha = da;
    return AT_OK;
}

/* ------------------------------------------------------------- attend */

typedef struct additive_saved {
    attn_dims d;
    float *t;           // (B, Tq, Tk, A) the hidden layer tanh(W_a q + keys_proj)
    float *alpha;       // (B, Tq, Tk)    the weights' data, or a private buffer
    at_tensor *weights; // the returned α, or NULL
} additive_saved;

/* node->in: queries, keys_proj, values, W_a, v_a. */
static at_status additive_backward(at_ctx *ctx, ati_node *node) {
    additive_saved *sv = node->saved;
    at_tensor *queries = node->in[0], *keys_proj = node->in[1], *values = node->in[2];
    const attn_dims *d = &sv->d;
    float *d_alpha, *d_scores;
    // forward: c = α V
    AT_TRY(
        attn_context_backward(ctx, d, sv->alpha, sv->weights, values, node->out->grad, &d_alpha));
    // forward: α = softmax_j(e)
    AT_TRY(attn_softmax_backward(ctx, (size_t)d->B * d->tq, d->tk, sv->alpha, d_alpha, &d_scores));
    // forward: e = v_aᵀ tanh(W_a q + keys_proj)
    return attn_additive_scores_backward(ctx, d, node->in[3], node->in[4], queries->data, sv->t,
                                         d_scores, queries->grad, keys_proj->grad);
}

static at_status additive_check(at_ctx *ctx, const char *op, const at_additive *layer,
                                at_tensor *queries, at_tensor *keys_proj, at_tensor *values,
                                attn_queries *q, attn_dims *d) {
    int A = layer->attn_size, tk_values;
    if (!layer->W_a || !layer->v_a || layer->W_a->size != (size_t)A * layer->query_size ||
        layer->v_a->size != (size_t)A)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: the layer's W_a or v_a is missing or "
                           "does not match (A = %d, Dq = %d)",
                           op, A, layer->query_size);
    AT_TRY(attn_read_queries(ctx, op, queries, layer->query_size, q));
    *d = (attn_dims){q->batch, q->steps, 0, q->size, A, 0};
    AT_TRY(attn_check_sequence(ctx, op, "keys_proj", keys_proj, q->batch, A, &d->tk));
    AT_TRY(attn_check_sequence(ctx, op, "values", values, q->batch, -1, &tk_values));
    if (tk_values != d->tk)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: values have %d steps, keys_proj %d", op,
                           tk_values, d->tk);
    d->dv = values->shape[2];
    return AT_OK;
}

at_status at_additive_attend(at_ctx *ctx, const at_additive *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights) {
    static const char op[] = "additive_attend";
    if (!layer || !context)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or context", op);
    attn_queries q;
    attn_dims d;
    AT_TRY(additive_check(ctx, op, layer, queries, keys_proj, values, &q, &d));
    size_t rows = (size_t)d.B * d.tq, map = rows * d.tk;
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, rows, d.tq, d.tk, &view));

    at_tensor *inputs[5] = {queries, keys_proj, values, layer->W_a, layer->v_a};
    int track = ati_tracking(ctx, 5, inputs);
    attn_map_buffers buf;
    AT_TRY(attn_map_buffers_new(ctx, &q, &d, weights != NULL, track, &buf));
    at_tensor *c = buf.context, *w = buf.weights;
    float *scores = buf.scores, *alpha = buf.alpha, *t = NULL; // t: (B, Tq, Tk, A)
    if (track) AT_TRY(ati_scratch(ctx, (void **)&t, map * d.dk * sizeof(float)));

    // e = v_aᵀ tanh(W_a q + keys_proj)
    AT_TRY(attn_additive_scores(ctx, &d, layer->W_a, layer->v_a, queries->data, keys_proj->data, t,
                                scores));
    // explain one step: the scores it shows (a no-op unless it runs)
    AT_TRY(ati_trace_put(ctx, "scores", scores, 3, (int[]){d.B, d.tq, d.tk}));
    // α = softmax_j(e) over the kept keys
    AT_TRY(attn_softmax_scores(ctx, &view, rows, d.tk, scores, alpha));
    // c = α V
    attn_weighted_sum(ctx->threads, d.B, d.tq, d.tk, d.dv, alpha, values->data, c->data);

    if (track) {
        additive_saved *sv;
        AT_TRY(ati_scratch(ctx, (void **)&sv, sizeof *sv));
        *sv = (additive_saved){d, t, alpha, w};
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, additive_backward, c, 5, inputs));
        node->saved = sv;
    }
    *context = c;
    if (weights) *weights = w;
    return AT_OK;
}
