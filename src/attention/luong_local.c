/*
 * luong_local.c - local attention (Luong, Pham and Manning 2015).
 *
 * Global attention looks at every source position; local attention picks
 * an aligned position p_t and looks only inside the window
 *     W_t = { integer s : |s − p_t| <= D }  ∩ [0, S − 1]  ∩ the mask's kept keys
 * where S is the row's source length. S has one source of truth: lengths[b]
 * when given; else, with a padding mask (rows = B), the number of keys row
 * b keeps; else Tk. Given both, they must agree (a row whose lengths[b] is
 * not its padding mask's count is an AT_ERR_ARGUMENT): once S silently fell
 * back to Tk under a padding mask, and local-p's p_t = S σ(·) was off.
 *
 *   local-m   p_t = t                      (query i of a call is step first_step + i)
 *             a_t(s) = align_t(s)
 *   local-p   p_t = S · sigmoid(v_pᵀ tanh(W_p h_t))      W_p (P, Dq), v_p (P)
 *             a_t(s) = align_t(s) · exp(−(s − p_t)² / (2σ²)),   σ = D / 2
 *
 *   align_t(s) = softmax over s ∈ W_t of score(h_t, h̄_s)   (0 outside W_t)
 *   c_t = Σ_s a_t(s) v_s
 *
 *   queries h (B, Tq, Dq) or one step (B, Dq)   keys_proj as luong_global.c
 *   values (B, Tk, Dv)   align, weights a (B, Tq, Tk)   context (B, Tq, Dv)
 *   positions p (B, Tq)   m = tanh(W_p h) (B, Tq, P)
 *
 * The score is Luong's dot, general or concat (luong_global.c's
 * luong_scores); the weights returned are a_t, which for local-p need not
 * sum to 1, as in the paper. A window that holds no kept key gives zero
 * weights, context and gradient.
 *
 * p_t is real, so the gradient reaches W_p and v_p through the Gaussian:
 *     ∂a(s)/∂p = a(s) (s − p) / σ²        ∂p/∂u = S σ(u) (1 − σ(u)),  u = v_pᵀ m
 * The window itself is a step function of p_t: as p_t − D crosses an
 * integer a key enters or leaves. That jump has no gradient (and finite
 * differences across it are meaningless).
 *
 * ONE fused tape entry. Backward: undo c = a V, then the Gaussian (local-p:
 * d align = da · g and dp), the softmax, the score, and p_t's little network.
 *
 * Parameters: the score's W_a (and v_a, W_c) under PREFIX as in
 * luong_global.c, plus PREFIX.W_p (Glorot uniform) and PREFIX.v_p (uniform
 * in ±1/√P) for local-p.
 */
#include "attention.h"

#include "../layers/layers.h"

#include <math.h>
#include <string.h>

at_status at_luong_local_init(at_ctx *ctx, at_luong_local *layer, at_params *params,
                              const char *prefix, at_local_kind kind, at_score score,
                              int query_size, int key_size, int attn_size, int attentional_size,
                              int window, int predict_size, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_local_init: NULL layer or params");
    if (kind != AT_LOCAL_M && kind != AT_LOCAL_P)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "luong_local_init: unknown kind %d", (int)kind);
    if (score == AT_SCORE_LOCATION)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "luong_local_init: the location score has no place inside a window");
    if (window < (kind == AT_LOCAL_P ? 1 : 0) || (kind == AT_LOCAL_P && predict_size <= 0))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "luong_local_init: window D = %d must be >= %d (local-p needs σ = D/2 "
                           "> 0) and local-p needs predict_size %d > 0",
                           window, kind == AT_LOCAL_P ? 1 : 0, predict_size);
    at_luong_local made = {.kind = kind, .window = window};
    AT_TRY(at_luong_init(ctx, &made.align, params, prefix, score, query_size, key_size, attn_size,
                         0, attentional_size, rng));
    if (kind == AT_LOCAL_P) {
        made.predict_size = predict_size;
        AT_TRY(layer_param(ctx, params, prefix, "W_p", NULL, 2, (int[]){predict_size, query_size},
                           &made.W_p));
        AT_TRY(layer_param(ctx, params, prefix, "v_p", NULL, 1, (int[]){predict_size}, &made.v_p));
        at_init_glorot_uniform(made.W_p, query_size, predict_size, 1.0f, rng);
        float bound = 1.0f / sqrtf((float)predict_size);
        at_init_uniform(made.v_p, -bound, bound, rng);
    }
    *layer = made;
    return AT_OK;
}

/* -------------------------------------------------------- the window */

typedef struct local_saved {
    attn_dims d;
    at_luong_local layer;   // a copy: the parameters outlive the step
    float *t;               // (B, Tq, Tk, A) concat's hidden layer, else NULL
    float *align;           // (B, Tq, Tk)    softmax inside the window
    float *a;               // (B, Tq, Tk)    a_t, the weights (== align for local-m)
    at_tensor *weights;     // the returned a_t, or NULL
    float *m;               // (B, Tq, P)     local-p: tanh(W_p h)
    float *gate;            // (B, Tq)        local-p: sigmoid(v_pᵀ m)
    float *p;               // (B, Tq)        p_t
    at_tensor *positions;   // the returned p_t, or NULL
    const int32_t *lengths; // (B) S of each row, or NULL for Tk
} local_saved;

static int source_length(const local_saved *sv, int b) {
    return sv->lengths ? sv->lengths[b] : sv->d.tk;
}

/* local-p: m (B*Tq, P) = tanh(h W_pᵀ), gate = sigmoid(v_pᵀ m), p = S gate. */
static void predict_positions(local_saved *sv, const float *h) {
    const attn_dims *d = &sv->d;
    const int P = sv->layer.predict_size, rows = d->B * d->tq;
    const float *v_p = sv->layer.v_p->data;
    ati_gemm(0, 1, rows, P, d->dq, 1.0f, h, d->dq, sv->layer.W_p->data, d->dq, 0.0f, sv->m, P);
    for (int r = 0; r < rows; r++) {
        float *m = sv->m + (size_t)r * P, u = 0.0f;
        for (int k = 0; k < P; k++) {
            m[k] = ati_fast_tanh(m[k]);
            u += v_p[k] * m[k]; // u = v_pᵀ tanh(W_p h_t)
        }
        sv->gate[r] = ati_fast_sigmoid(u);
        sv->p[r] = (float)source_length(sv, r / d->tq) * sv->gate[r]; // p_t = S σ(u)
    }
}

/* The keep-bytes of row r: the window around p ∩ [0, S−1] ∩ the mask. */
static void window_keep(const local_saved *sv, const attn_mask_view *mask, size_t r, float p, int S,
                        uint8_t *keep) {
    float D = (float)sv->layer.window;
    for (int s = 0; s < sv->d.tk; s++)
        keep[s] = s < S && fabsf((float)s - p) <= D && attn_is_kept(mask, r, s);
}

/* align_r = softmax inside the window; a_r = align_r times the Gaussian (local-p). */
static void local_row(const local_saved *sv, const float *scores, const uint8_t *keep, float p,
                      float *align, float *a) {
    const int tk = sv->d.tk;
    ati_softmax_row(align, scores, keep, tk);
    if (sv->layer.kind == AT_LOCAL_M) return; // a == align
    float sigma = 0.5f * (float)sv->layer.window;
    for (int s = 0; s < tk; s++) {
        float off = (float)s - p;
        // a(s) = align(s) · exp(−(s − p)² / (2σ²))
        a[s] = align[s] * expf(-off * off / (2.0f * sigma * sigma));
    }
}

/* explain one step: the scores of every s, p_t, the window W_t as 0/1 and
 * align_t (the softmax inside the window, before local-p's Gaussian). */
static at_status trace_local(at_ctx *ctx, const attn_dims *d, const float *scores, const float *p,
                             const float *window, const float *align) {
    const int map[3] = {d->B, d->tq, d->tk};
    AT_TRY(ati_trace_put(ctx, "scores", scores, 3, map));
    AT_TRY(ati_trace_put(ctx, "p_t", p, 2, (int[]){d->B, d->tq}));
    AT_TRY(ati_trace_put(ctx, "window", window, 3, map));
    return ati_trace_put(ctx, "align", align, 3, map);
}

static at_status local_forward(at_ctx *ctx, local_saved *sv, const attn_mask_view *mask,
                               const float *h, const float *kp, const float *values, int track,
                               int first_step, float *context) {
    const attn_dims *d = &sv->d;
    const size_t rows = (size_t)d->B * d->tq;
    float *scores; // (B, Tq, Tk)
    uint8_t *keep; // (Tk)
    AT_TRY(ati_scratch(ctx, (void **)&scores, rows * d->tk * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&keep, (size_t)d->tk));
    // score(h_t, h̄_s), every s; the window picks some below
    AT_TRY(luong_scores(ctx, &sv->layer.align, d, h, kp, track ? &sv->t : NULL, scores));
    if (sv->layer.kind == AT_LOCAL_P)
        predict_positions(sv, h);
    else
        for (size_t r = 0; r < rows; r++)
            sv->p[r] = (float)(first_step + (int)(r % d->tq)); // p_t = t
    float *window = NULL; // (B, Tq, Tk) 1 inside W_t: only for explain one step
    if (ati_tracing(ctx)) AT_TRY(ati_scratch_zero(ctx, (void **)&window, rows * d->tk * sizeof(float)));
    for (size_t r = 0; r < rows; r++) {
        window_keep(sv, mask, r, sv->p[r], source_length(sv, (int)(r / d->tq)), keep);
        local_row(sv, scores + r * d->tk, keep, sv->p[r], sv->align + r * d->tk, sv->a + r * d->tk);
        for (int s = 0; window && s < d->tk; s++) window[r * d->tk + s] = keep[s];
    }
    if (window) AT_TRY(trace_local(ctx, d, scores, sv->p, window, sv->align));
    // c_t = Σ_s a_t(s) v_s
    attn_weighted_sum(ctx->threads, d->B, d->tq, d->tk, d->dv, sv->a, values, context);
    return AT_OK;
}

/* ----------------------------------------------------------- backward */

/* local-p, row r: from da (Tk), ADD d_align (Tk) and return dp. */
static float gaussian_backward(const local_saved *sv, size_t r, const float *da, float *d_align) {
    const int tk = sv->d.tk;
    const float *a = sv->a + r * tk;
    float p = sv->p[r], sigma = 0.5f * (float)sv->layer.window, dp = 0.0f;
    for (int s = 0; s < tk; s++) {
        float off = (float)s - p;
        float g = expf(-off * off / (2.0f * sigma * sigma));
        // forward: a(s) = align(s) · g(s),  g(s) = exp(−(s − p)² / (2σ²))
        d_align[s] += da[s] * g;
        dp += da[s] * a[s] * off / (sigma * sigma);
    }
    return dp;
}

/* local-p: from dp (B*Tq), ADD into dh, dW_p, dv_p. */
static at_status position_backward(at_ctx *ctx, const local_saved *sv, const float *h,
                                   const float *dp, float *dh) {
    const attn_dims *d = &sv->d;
    const int P = sv->layer.predict_size, rows = d->B * d->tq;
    at_tensor *W_p = sv->layer.W_p, *v_p = sv->layer.v_p;
    float *dm_pre; // (B*Tq, P)
    AT_TRY(ati_scratch(ctx, (void **)&dm_pre, (size_t)rows * P * sizeof(float)));
    for (int r = 0; r < rows; r++) {
        const float *m = sv->m + (size_t)r * P;
        float S = (float)source_length(sv, r / d->tq), gate = sv->gate[r];
        // forward: p = S σ(u)
        float du = dp[r] * S * gate * (1.0f - gate);
        for (int k = 0; k < P; k++) {
            // forward: u = Σ_k v_p[k] m[k]
            if (v_p->grad) v_p->grad[k] += m[k] * du;
            // forward: m[k] = tanh((W_p h)[k])
            dm_pre[(size_t)r * P + k] = v_p->data[k] * du * (1.0f - m[k] * m[k]);
        }
    }
    // forward: W_p h                           so dh += dm_pre W_p
    if (dh) ati_gemm(0, 0, rows, d->dq, P, 1.0f, dm_pre, P, W_p->data, d->dq, 1.0f, dh, d->dq);
    // forward: W_p h                           so dW_p += dm_preᵀ h
    if (W_p->grad) ati_gemm(1, 0, P, d->dq, rows, 1.0f, dm_pre, P, h, d->dq, 1.0f, W_p->grad, d->dq);
    return AT_OK;
}

/* node->in: queries, keys_proj, values, W_a, v_a, W_p, v_p. */
static at_status local_backward(at_ctx *ctx, ati_node *node) {
    local_saved *sv = node->saved;
    at_tensor *queries = node->in[0], *keys_proj = node->in[1], *values = node->in[2];
    const attn_dims *d = &sv->d;
    const size_t rows = (size_t)d->B * d->tq;
    float *da, *d_align, *d_scores;
    // forward: c_t = Σ_s a_t(s) v_s
    AT_TRY(attn_context_backward(ctx, d, sv->a, sv->weights, values, node->out->grad, &da));
    if (sv->layer.kind == AT_LOCAL_P) {
        float *dp; // (B*Tq)
        AT_TRY(ati_scratch_zero(ctx, (void **)&d_align, rows * d->tk * sizeof(float)));
        AT_TRY(ati_scratch(ctx, (void **)&dp, rows * sizeof(float)));
        for (size_t r = 0; r < rows; r++) {
            // forward: positions = p_t, handed to the caller
            float given = sv->positions && sv->positions->grad ? sv->positions->grad[r] : 0.0f;
            dp[r] = given + gaussian_backward(sv, r, da + r * d->tk, d_align + r * d->tk);
        }
        AT_TRY(position_backward(ctx, sv, queries->data, dp, queries->grad));
    } else {
        d_align = da; // forward: a = align
    }
    // forward: align = softmax inside the window
    AT_TRY(attn_softmax_backward(ctx, rows, d->tk, sv->align, d_align, &d_scores));
    // forward: score(h_t, h̄_s)
    return luong_scores_backward(ctx, &sv->layer.align, d, queries->data, keys_proj->data, sv->t,
                                 d_scores, queries->grad, keys_proj->grad);
}

/* ------------------------------------------------------------- attend */

static at_status local_check(at_ctx *ctx, const char *op, const at_luong_local *layer,
                             const attn_dims *d, const int32_t *lengths, int first_step) {
    if (layer->kind == AT_LOCAL_P &&
        (!layer->W_p || !layer->v_p || layer->W_p->size != (size_t)layer->predict_size * d->dq ||
         layer->v_p->size != (size_t)layer->predict_size))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: local-p needs W_p (%d, %d) and v_p (%d)", op,
                           layer->predict_size, d->dq, layer->predict_size);
    if (layer->window < 0 || (layer->kind == AT_LOCAL_P && layer->window < 1))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: window D = %d is too small", op,
                           layer->window);
    if (layer->kind == AT_LOCAL_M && first_step < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: first_step %d must be >= 0", op, first_step);
    for (int b = 0; lengths && b < d->B; b++)
        if (lengths[b] < 0 || lengths[b] > d->tk)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: lengths[%d] = %d is outside [0, %d]", op,
                               b, (int)lengths[b], d->tk);
    return AT_OK;
}

/* S of every batch row, in the arena (*S = NULL: Tk for all): lengths, or
 * what a padding mask keeps; both given, they must agree. */
static at_status source_lengths(at_ctx *ctx, const char *op, const at_attn_mask *mask,
                                const int32_t *lengths, int B, int tk, const int32_t **S) {
    *S = NULL;
    int padding = mask && mask->keep && mask->rows == B;
    if (!lengths && !padding) return AT_OK;
    int32_t *made;
    AT_TRY(ati_scratch(ctx, (void **)&made, (size_t)B * sizeof(int32_t)));
    for (int b = 0; b < B; b++) {
        int kept = 0;
        for (int j = 0; padding && j < tk; j++)
            kept += mask->keep[(size_t)b * tk + j] != 0;
        if (lengths && padding && lengths[b] != kept)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: lengths[%d] = %d, but the padding mask keeps %d keys of row "
                               "%d; S must be one number (pass lengths = NULL to take it from the "
                               "mask)",
                               op, b, (int)lengths[b], kept, b);
        made[b] = lengths ? lengths[b] : kept;
    }
    *S = made;
    return AT_OK;
}

/* The buffers of one call; a and p live in the returned tensors when there are any. */
static at_status local_buffers(at_ctx *ctx, local_saved *sv, at_tensor *w, at_tensor *pos) {
    const attn_dims *d = &sv->d;
    const size_t rows = (size_t)d->B * d->tq, map = rows * d->tk;
    if (sv->layer.kind == AT_LOCAL_M) { // a = align: one buffer
        if (w)
            sv->align = w->data;
        else
            AT_TRY(ati_scratch(ctx, (void **)&sv->align, map * sizeof(float)));
        sv->a = sv->align;
    } else {
        AT_TRY(ati_scratch(ctx, (void **)&sv->align, map * sizeof(float)));
        if (w)
            sv->a = w->data;
        else
            AT_TRY(ati_scratch(ctx, (void **)&sv->a, map * sizeof(float)));
        AT_TRY(ati_scratch(ctx, (void **)&sv->m, rows * sv->layer.predict_size * sizeof(float)));
        AT_TRY(ati_scratch(ctx, (void **)&sv->gate, rows * sizeof(float)));
    }
    if (pos)
        sv->p = pos->data;
    else
        AT_TRY(ati_scratch(ctx, (void **)&sv->p, rows * sizeof(float)));
    return AT_OK;
}

at_status at_luong_local_attend(at_ctx *ctx, const at_luong_local *layer, at_tensor *queries,
                                at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                                const int32_t *lengths, int first_step, at_tensor **context,
                                at_tensor **weights, at_tensor **positions) {
    static const char op[] = "luong_local_attend";
    if (!layer || !context)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or context", op);
    attn_queries q;
    local_saved sv = {.layer = *layer};
    AT_TRY(luong_check_inputs(ctx, op, &layer->align, queries, keys_proj, values, &q, &sv.d));
    AT_TRY(local_check(ctx, op, layer, &sv.d, lengths, first_step));
    const attn_dims d = sv.d;
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)d.B * d.tq, d.tq, d.tk, &view));
    AT_TRY(source_lengths(ctx, op, mask, lengths, d.B, d.tk, &sv.lengths));

    at_tensor *inputs[7] = {queries,          keys_proj,  values,    layer->align.W_a,
                            layer->align.v_a, layer->W_p, layer->v_p};
    int track = ati_tracking(ctx, 7, inputs);
    at_tensor *c, *w = NULL, *pos = NULL;
    AT_TRY(attn_new_like_queries(ctx, &q, d.dv, track, &c));
    if (weights) AT_TRY(attn_new_like_queries(ctx, &q, d.tk, track, &w));
    if (positions)
        AT_TRY(ati_result(ctx, &pos, 2, (int[]){d.B, d.tq}, track && layer->kind == AT_LOCAL_P));
    sv.weights = w;
    sv.positions = pos;
    AT_TRY(local_buffers(ctx, &sv, w, pos));
    AT_TRY(local_forward(ctx, &sv, &view, queries->data, keys_proj->data, values->data, track,
                         first_step, c->data));

    if (track) {
        local_saved *kept;
        AT_TRY(ati_scratch(ctx, (void **)&kept, sizeof *kept));
        *kept = sv;
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, local_backward, c, 7, inputs));
        node->saved = kept;
    }
    *context = c;
    if (weights) *weights = w;
    if (positions) *positions = pos;
    return AT_OK;
}
