/*
 * key_value.c - key-value attention (Daniluk et al. 2017): a language
 * model's attention over its own recent past, with each output split into
 * a part that is looked up (the key) and a part that is read (the value).
 *
 * At step t the model looks back over the previous L steps (the memory):
 *
 *     M_tj = tanh(W_Y k_j + W_h k_t)      j = t−L .. t−1 (from 0)   M_tj (A)
 *     α_t  = softmax_j(wᵀ M_tj)           α (B, T, T), zero outside the window
 *     r_t  = Σ_j α_tj v_j                 r (B, T, Dv)
 *     h*_t = tanh(W_r r_t + W_x x_t)      out (B, T, Do)
 *
 *     keys k (B, T, Dk), values v (B, T, Dv), x (B, T, Dx)
 *     W_Y, W_h (A, Dk), w (A), W_r (Do, Dv), W_x (Do, Dx)
 *
 * Scores come from keys, the read from values (key-value). The read r_t
 * can be handed out (at_key_value_forward_ext), and a loss on it, as on
 * the weights, flows back like one on the output. For the
 * key-value-predict form pass the predict part as x; for key-value pass
 * the values as x. Step 0 has an empty window: α_0 = 0 and r_0 = 0.
 * A padding mask (B, T) (rows = B; or a full mask, one row per step, B*T
 * rows) drops keys j from every window; a step whose window keeps nothing
 * also gets α = 0, r = 0, and no gradient through attention.
 *
 * W_Y k_j and W_h k_t are computed once for all steps, Y, H (B, T, A). The
 * attention is kept compactly, α (B, T, Lw) with Lw = min(L, T) slots per
 * step (slot s is j = t − Lw + s): without `weights` no (T, T) buffer is
 * stored. M (B, T, Lw, A) is not stored either; backward recomputes it.
 *
 * Backward, with d_pre = dh* (1 − h*²):
 *     dW_r += d_preᵀ r    dW_x += d_preᵀ x    dx += d_pre W_x
 *     dr = d_pre W_r (+ the read's own gradient, when it was handed out)
 *     dα_tj = dr_t · v_j (+ the weights' own gradient)    dv_j += α_tj dr_t
 *     ds_t = softmax backward     dw += ds_tj M_tj    dM_tj = ds_tj w (1 − M_tj²)
 *     dY_j += dM_tj    dH_t += dM_tj    dkeys += dY W_Y + dH W_h
 *
 * Initialisation: the matrices Glorot uniform, w uniform in ±0.1 (small, so
 * the first windows are near uniform). Batch rows run in parallel when
 * there is enough work; each row is computed the same way on any thread.
 */
#include "../layers/layers.h"
#include "attention.h"

#include <string.h>

#define SCORE_VECTOR_INIT 0.1f  /* w ~ U(−0.1, 0.1)                     */
#define PARALLEL_MIN (1L << 16) /* B·T·Lw·A below this: one thread */

at_status at_key_value_init(at_ctx *ctx, at_key_value *layer, at_params *params, const char *prefix,
                            int key_size, int value_size, int input_size, int out_size,
                            int attn_size, int memory, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "key_value_init: NULL layer or params");
    if (key_size <= 0 || value_size <= 0 || input_size <= 0 || out_size <= 0 || attn_size <= 0 ||
        memory <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "key_value_init: sizes key %d, value %d, input %d, out %d, attn %d "
                           "and memory %d must be > 0",
                           key_size, value_size, input_size, out_size, attn_size, memory);
    at_key_value made = {.key_size = key_size,
                         .value_size = value_size,
                         .input_size = input_size,
                         .out_size = out_size,
                         .attn_size = attn_size,
                         .memory = memory};
    AT_TRY(layer_param(ctx, params, prefix, "W_Y", NULL, 2, (const int[]){attn_size, key_size},
                       &made.W_Y));
    AT_TRY(layer_param(ctx, params, prefix, "W_h", NULL, 2, (const int[]){attn_size, key_size},
                       &made.W_h));
    AT_TRY(layer_param(ctx, params, prefix, "w", NULL, 1, &attn_size, &made.w));
    AT_TRY(layer_param(ctx, params, prefix, "W_r", NULL, 2, (const int[]){out_size, value_size},
                       &made.W_r));
    AT_TRY(layer_param(ctx, params, prefix, "W_x", NULL, 2, (const int[]){out_size, input_size},
                       &made.W_x));
    at_init_glorot_uniform(made.W_Y, key_size, attn_size, 1.0f, rng);
    at_init_glorot_uniform(made.W_h, key_size, attn_size, 1.0f, rng);
    at_init_uniform(made.w, -SCORE_VECTOR_INIT, SCORE_VECTOR_INIT, rng);
    at_init_glorot_uniform(made.W_r, value_size, out_size, 1.0f, rng);
    at_init_glorot_uniform(made.W_x, input_size, out_size, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

/* Sizes of one call. */
typedef struct kv_dims {
    int B, T, Dk, Dv, Dx, Do, A, Lw;
} kv_dims;

/* What backward keeps. */
typedef struct kv_saved {
    kv_dims d;
    float *Y, *H;       /* (B, T, A) W_Y k, W_h k          */
    float *alpha;       /* (B, T, Lw) compact weights      */
    float *r;           /* (B, T, Dv)                      */
    at_tensor *weights; /* (B, T, T) handed out, or NULL   */
    at_tensor *read;    /* r (B, T, Dv) handed out, or NULL */
    attn_mask_view view;
} kv_saved;

/* Slot s of step t is key j = t − Lw + s; it takes part if j >= 0 and the
 * mask keeps j for step t. */
static int slot_key(const kv_saved *s, int b, int t, int slot) {
    int j = t - s->d.Lw + slot;
    if (j < 0 || !attn_is_kept(&s->view, (size_t)b * s->d.T + t, j)) return -1;
    return j;
}

/* m (A) = tanh(Y_j + H_t) for batch row b; returns wᵀ m. */
static float window_score(const kv_saved *s, const float *w, int b, int t, int j, float *m) {
    int A = s->d.A;
    const float *y_j = s->Y + ((size_t)b * s->d.T + j) * A;
    const float *h_t = s->H + ((size_t)b * s->d.T + t) * A;
    float score = 0.0f;
    for (int a = 0; a < A; a++) {
        m[a] = ati_fast_tanh(y_j[a] + h_t[a]);
        score += w[a] * m[a];
    }
    return score;
}

/* One batch row: α (T, Lw) and r (T, Dv). score (Lw), keep (Lw), m (A) scratch. */
static void attend_row(const kv_saved *s, const float *w, const float *values, int b, float *score,
                       uint8_t *keep, float *m) {
    const kv_dims *d = &s->d;
    for (int t = 0; t < d->T; t++) {
        for (int slot = 0; slot < d->Lw; slot++) {
            int j = slot_key(s, b, t, slot);
            keep[slot] = j >= 0;
            score[slot] = j >= 0 ? window_score(s, w, b, t, j, m) : 0.0f;
        }
        float *alpha_t = s->alpha + ((size_t)b * d->T + t) * d->Lw;
        ati_softmax_row(alpha_t, score, keep, d->Lw); // nothing kept: all zeros
        float *r_t = s->r + ((size_t)b * d->T + t) * d->Dv;
        for (int slot = 0; slot < d->Lw; slot++) {
            if (alpha_t[slot] == 0.0f) continue;
            const float *v_j = values + ((size_t)b * d->T + t - d->Lw + slot) * d->Dv;
            // r[t] = Σ_j alpha[t, j] v[j]
            for (int k = 0; k < d->Dv; k++)
                r_t[k] += alpha_t[slot] * v_j[k];
        }
    }
}

/* The backward of attend_row for one batch row: from dr (T, Dv) and the
 * weights' gradient, ADD into dv, dw_row (A), dY, dH (T, A) of row b. */
static void attend_row_backward(const kv_saved *s, const float *w, at_tensor *values,
                                const float *dr, int b, float *dw_row, float *dY, float *dH,
                                float *d_alpha, float *d_score, float *m) {
    const kv_dims *d = &s->d;
    const float *dweights = s->weights && s->weights->grad ? s->weights->grad : NULL;
    for (int t = 0; t < d->T; t++) {
        const float *alpha_t = s->alpha + ((size_t)b * d->T + t) * d->Lw;
        const float *dr_t = dr + ((size_t)b * d->T + t) * d->Dv;
        for (int slot = 0; slot < d->Lw; slot++) {
            d_alpha[slot] = 0.0f;
            d_score[slot] = 0.0f;
            int j = t - d->Lw + slot;
            if (j < 0) continue;
            const float *v_j = values->data + ((size_t)b * d->T + j) * d->Dv;
            float *dv_j = values->grad ? values->grad + ((size_t)b * d->T + j) * d->Dv : NULL;
            if (dweights) d_alpha[slot] = dweights[((size_t)b * d->T + t) * d->T + j];
            for (int k = 0; k < d->Dv; k++) {
                // forward: r[t] += alpha[t, j] v[j]
                d_alpha[slot] += dr_t[k] * v_j[k];
                if (dv_j) dv_j[k] += alpha_t[slot] * dr_t[k];
            }
        }
        // forward: alpha[t] = softmax over the window of score[t]
        ati_softmax_row_backward(d_score, alpha_t, d_alpha, d->Lw);
        for (int slot = 0; slot < d->Lw; slot++) {
            int j = slot_key(s, b, t, slot);
            if (j < 0 || d_score[slot] == 0.0f) continue;
            window_score(s, w, b, t, j, m);
            float *dy_j = dY + (size_t)j * d->A, *dh_t = dH + (size_t)t * d->A;
            for (int a = 0; a < d->A; a++) {
                // forward: score[t, j] = Σ_a w[a] m[a],  m[a] = tanh(Y[j, a] + H[t, a])
                dw_row[a] += d_score[slot] * m[a];
                float dpre = d_score[slot] * w[a] * (1.0f - m[a] * m[a]);
                dy_j[a] += dpre;
                dh_t[a] += dpre;
            }
        }
    }
}

static at_status key_value_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *keys = node->in[0], *values = node->in[1], *x = node->in[2];
    at_tensor *W_Y = node->in[3], *W_h = node->in[4], *w = node->in[5];
    at_tensor *W_r = node->in[6], *W_x = node->in[7];
    const kv_saved *s = node->saved;
    const kv_dims d = s->d;
    const int rows = d.B * d.T;
    const float *out = node->out->data; // (B, T, Do)
    float *d_pre, *dr, *dY, *dH, *dw_rows, *work;
    AT_TRY(ati_scratch(ctx, (void **)&d_pre, (size_t)rows * d.Do * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&dr, (size_t)rows * d.Dv * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&dY, (size_t)rows * d.A * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&dH, (size_t)rows * d.A * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&dw_rows, (size_t)d.B * d.A * sizeof(float)));
    size_t per_row = 2 * (size_t)d.Lw + (size_t)d.A; // d_alpha, d_score, m
    AT_TRY(ati_scratch(ctx, (void **)&work, (size_t)d.B * per_row * sizeof(float)));

    // forward: out = tanh(pre)
    for (size_t i = 0; i < (size_t)rows * d.Do; i++)
        d_pre[i] = node->out->grad[i] * (1.0f - out[i] * out[i]);
    // forward: read = r, handed to the caller
    if (s->read && s->read->grad) memcpy(dr, s->read->grad, (size_t)rows * d.Dv * sizeof(float));
    // forward: pre = r W_rᵀ + x W_xᵀ
    ati_gemm(0, 0, rows, d.Dv, d.Do, 1.0f, d_pre, d.Do, W_r->data, d.Dv, 1.0f, dr, d.Dv);
    if (W_r->grad)
        ati_gemm(1, 0, d.Do, d.Dv, rows, 1.0f, d_pre, d.Do, s->r, d.Dv, 1.0f, W_r->grad, d.Dv);
    if (W_x->grad)
        ati_gemm(1, 0, d.Do, d.Dx, rows, 1.0f, d_pre, d.Do, x->data, d.Dx, 1.0f, W_x->grad, d.Dx);
    if (x->grad)
        ati_gemm(0, 0, rows, d.Dx, d.Do, 1.0f, d_pre, d.Do, W_x->data, d.Dx, 1.0f, x->grad, d.Dx);

    const long B = d.B;
    const int big = (long)rows * d.Lw * d.A >= PARALLEL_MIN;
#pragma omp parallel for num_threads(ctx->threads) if (big)
    for (long b = 0; b < B; b++) {
        float *scratch = work + (size_t)b * per_row;
        attend_row_backward(s, w->data, values, dr, (int)b, dw_rows + (size_t)b * d.A,
                            dY + (size_t)b * d.T * d.A, dH + (size_t)b * d.T * d.A, scratch,
                            scratch + d.Lw, scratch + 2 * d.Lw);
    }
    if (w->grad) // summed in batch order: the same result on any number of threads
        for (int b = 0; b < d.B; b++)
            for (int a = 0; a < d.A; a++)
                w->grad[a] += dw_rows[(size_t)b * d.A + a];
    // forward: Y = keys W_Yᵀ, H = keys W_hᵀ
    if (W_Y->grad)
        ati_gemm(1, 0, d.A, d.Dk, rows, 1.0f, dY, d.A, keys->data, d.Dk, 1.0f, W_Y->grad, d.Dk);
    if (W_h->grad)
        ati_gemm(1, 0, d.A, d.Dk, rows, 1.0f, dH, d.A, keys->data, d.Dk, 1.0f, W_h->grad, d.Dk);
    if (keys->grad) {
        ati_gemm(0, 0, rows, d.Dk, d.A, 1.0f, dY, d.A, W_Y->data, d.Dk, 1.0f, keys->grad, d.Dk);
        ati_gemm(0, 0, rows, d.Dk, d.A, 1.0f, dH, d.A, W_h->data, d.Dk, 1.0f, keys->grad, d.Dk);
    }
    return AT_OK;
}

/* t must be the (rows, cols) parameter `what`. */
static at_status check_matrix(at_ctx *ctx, const char *what, const at_tensor *t, int rows,
                              int cols) {
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "key_value: parameter %s is NULL", what);
    if (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols) return AT_OK;
    if (cols == 0 && t->ndim == 1 && t->shape[0] == rows) return AT_OK;
    char got[64];
    return at_ctx_fail(ctx, AT_ERR_SHAPE, "key_value: parameter %s is %s, expected (%d, %d)", what,
                       ati_shape_str(got, sizeof got, t->ndim, t->shape), rows, cols);
}

static at_status check_key_value(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                                 at_tensor *values, at_tensor *x, kv_dims *d) {
    const char *op = "key_value";
    int A = layer->attn_size, Do = layer->out_size;
    if (layer->memory <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: memory %d must be > 0", op, layer->memory);
    AT_TRY(check_matrix(ctx, "W_Y", layer->W_Y, A, layer->key_size));
    AT_TRY(check_matrix(ctx, "W_h", layer->W_h, A, layer->key_size));
    AT_TRY(check_matrix(ctx, "w", layer->w, A, 0));
    AT_TRY(check_matrix(ctx, "W_r", layer->W_r, Do, layer->value_size));
    AT_TRY(check_matrix(ctx, "W_x", layer->W_x, Do, layer->input_size));
    if (!keys) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: keys is NULL", op);
    int B = keys->shape[0], T, Tv, Tx;
    AT_TRY(attn_check_sequence(ctx, op, "keys", keys, B, layer->key_size, &T));
    AT_TRY(attn_check_sequence(ctx, op, "values", values, B, layer->value_size, &Tv));
    AT_TRY(attn_check_sequence(ctx, op, "x", x, B, layer->input_size, &Tx));
    if (Tv != T || Tx != T)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: keys, values and x have %d, %d and %d steps", op,
                           T, Tv, Tx);
    int Lw = layer->memory < T ? layer->memory : T;
    *d = (kv_dims){B, T, layer->key_size, layer->value_size, layer->input_size, Do, A, Lw};
    return AT_OK;
}

/* weights (B, T, T) from the compact α (B, T, Lw). */
static void expand_weights(const kv_saved *s, float *weights) {
    const kv_dims *d = &s->d;
    for (size_t row = 0; row < (size_t)d->B * d->T; row++) {
        int t = (int)(row % (size_t)d->T);
        for (int slot = 0; slot < d->Lw; slot++) {
            int j = t - d->Lw + slot;
            if (j >= 0) weights[row * d->T + j] = s->alpha[row * d->Lw + slot];
        }
    }
}

at_status at_key_value_forward(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                               at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights) {
    return at_key_value_forward_ext(ctx, layer, keys, values, x, mask, out, weights, NULL);
}

at_status at_key_value_forward_ext(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                                   at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                                   at_tensor **out, at_tensor **weights, at_tensor **read) {
    if (!layer || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "key_value: NULL layer or output");
    kv_saved *s;
    AT_TRY(ati_scratch(ctx, (void **)&s, sizeof *s));
    *s = (kv_saved){0};
    AT_TRY(check_key_value(ctx, layer, keys, values, x, &s->d));
    const kv_dims d = s->d;
    const int rows = d.B * d.T;
    AT_TRY(attn_mask_prepare(ctx, "key_value", mask, (size_t)rows, d.T, d.T, &s->view));

    at_tensor *inputs[8] = {keys,       values,   x,          layer->W_Y,
                            layer->W_h, layer->w, layer->W_r, layer->W_x};
    int track = ati_tracking(ctx, 8, inputs);
    at_tensor *result;
    float *work;
    AT_TRY(ati_result(ctx, &result, 3, (const int[]){d.B, d.T, d.Do}, track));
    if (weights) AT_TRY(ati_result(ctx, &s->weights, 3, (const int[]){d.B, d.T, d.T}, track));
    AT_TRY(ati_scratch(ctx, (void **)&s->Y, (size_t)rows * d.A * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&s->H, (size_t)rows * d.A * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&s->alpha, (size_t)rows * d.Lw * sizeof(float)));
    if (read) {
        AT_TRY(ati_result(ctx, &s->read, 3, (const int[]){d.B, d.T, d.Dv}, track));
        s->r = s->read->data;
    } else {
        AT_TRY(ati_scratch_zero(ctx, (void **)&s->r, (size_t)rows * d.Dv * sizeof(float)));
    }
    size_t per_row = (size_t)d.Lw * (sizeof(float) + 1) + (size_t)d.A * sizeof(float);
    per_row = (per_row + 63) & ~(size_t)63;
    AT_TRY(ati_scratch(ctx, (void **)&work, (size_t)d.B * per_row));

    // Y = keys W_Yᵀ, H = keys W_hᵀ: (B*T, A)
    ati_gemm(0, 1, rows, d.A, d.Dk, 1.0f, keys->data, d.Dk, layer->W_Y->data, d.Dk, 0.0f, s->Y, d.A);
    ati_gemm(0, 1, rows, d.A, d.Dk, 1.0f, keys->data, d.Dk, layer->W_h->data, d.Dk, 0.0f, s->H, d.A);
    const long B = d.B;
    const int big = (long)rows * d.Lw * d.A >= PARALLEL_MIN;
#pragma omp parallel for num_threads(ctx->threads) if (big)
    for (long b = 0; b < B; b++) {
        char *mine = (char *)work + (size_t)b * per_row;
        float *score = (float *)mine, *m = score + d.Lw;
        uint8_t *keep = (uint8_t *)(m + d.A);
        attend_row(s, layer->w->data, values->data, (int)b, score, keep, m);
    }
    // out = tanh(r W_rᵀ + x W_xᵀ)
    ati_gemm(0, 1, rows, d.Do, d.Dv, 1.0f, s->r, d.Dv, layer->W_r->data, d.Dv, 0.0f, result->data,
            d.Do);
    ati_gemm(0, 1, rows, d.Do, d.Dx, 1.0f, x->data, d.Dx, layer->W_x->data, d.Dx, 1.0f, result->data,
            d.Do);
    for (size_t i = 0; i < (size_t)rows * d.Do; i++)
        result->data[i] = ati_fast_tanh(result->data[i]);
    if (s->weights) expand_weights(s, s->weights->data);

    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "key_value", key_value_backward, result, 8, inputs));
        node->saved = s;
    }
    *out = result;
    if (weights) *weights = s->weights;
    if (read) *read = s->read;
    return AT_OK;
}
