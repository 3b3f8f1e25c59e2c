/*
 * static.c - static attention: one distribution over a whole sequence, not
 * one per decoder step. Two forms, side by side, because the difference
 * between them is the lesson.
 *
 * HAN (Yang et al. 2016) scores every step against a learned context
 * vector u_w:
 *
 *     u_t = tanh(W h_t + b)          h (B, T, D), W (A, D), b (A), u (B, T, A)
 *     s_t = u_tᵀ u_w                 u_w (A), s (B, T)
 *     α_t = softmax_t(s_t)           α (B, T), over the kept steps
 *     out = Σ_t α_t h_t              out (B, D)
 *
 * The seed's Keras layer has no u_w: each feature f gets its own
 * distribution over time, and the exponential is taken of u itself:
 *
 *     u_t  = tanh(W h_t + b)                 W (D, D), b (D), u (B, T, D)
 *     a_tf = exp(u_tf) · mask_t              a (B, T, D)
 *     α_tf = a_tf / (Σ_t a_tf + ε)           α (B, T, D), ε = 1e-7 by default
 *                                            (at_feature_attention_init_ext sets it)
 *     out_f = Σ_t α_tf h_tf                  out (B, D)
 *
 * Since u ∈ (−1, 1), exp(u) ∈ (1/e, e): two weights of one feature differ
 * by at most e² ≈ 7.4×. The layer cannot focus on one step, however it is
 * trained (tests/test_static_focus.c measures this). No row maximum is
 * subtracted: exp(u) cannot overflow, and subtracting it would change what
 * ε means. A fully masked sequence has Σ a = 0, so α = 0 / ε = 0.
 *
 * Backward, one fused tape entry per call. With dα the gradient reaching
 * the weights (from out, plus from the weights tensor if the caller used
 * it), the softmax and the ε-normalisation have the same form:
 *
 *     HAN:      ds_t  = α_t  (dα_t  − Σ_k α_k dα_k)
 *     feature:  du_tf = α_tf (dα_tf − Σ_k α_kf dα_kf)    (a_tf = α_tf (Σ a + ε))
 *
 * Masks: a padding mask (B, T) with rows = B; causal is ignored (there is
 * no query to order against). Initialisation: W Glorot uniform, b zeros,
 * u_w uniform in ±0.1, small so that the first distributions are near
 * uniform and every step gets a gradient.
 */
#include "../layers/layers.h"
#include "attention.h"

#include <math.h>
#include <string.h>

#define CONTEXT_VECTOR_INIT 0.1f /* u_w ~ U(−0.1, 0.1) */
#define KERAS_EPSILON 1e-7f

/* ------------------------------------------------------- shared pieces */

/* h must be (B, T, D); B and T go out. */
static at_status read_sequence(at_ctx *ctx, const char *op, const at_tensor *h, int D, int *B,
                               int *T) {
    if (!h) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: h is NULL", op);
    AT_TRY(attn_check_sequence(ctx, op, "h", h, h->shape[0], D, T));
    *B = h->shape[0];
    return AT_OK;
}

/* t must be a parameter of shape (n0) (n1 == 0) or (n0, n1). */
static at_status check_param(at_ctx *ctx, const char *op, const char *what, const at_tensor *t,
                             int n0, int n1) {
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: parameter %s is NULL", op, what);
    int ok = n1 ? t->ndim == 2 && t->shape[0] == n0 && t->shape[1] == n1 : t->size == (size_t)n0;
    if (ok) return AT_OK;
    char got[64], want[64];
    ati_shape_str(want, sizeof want, n1 ? 2 : 1, (const int[]){n0, n1});
    return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: parameter %s is %s, expected %s", op, what,
                       ati_shape_str(got, sizeof got, t->ndim, t->shape), want);
}

/* u (R, n) = tanh(x (R, in) Wᵀ + b), W (n, in). */
static void project_tanh(int rows, int in, int n, const float *x, const float *W, const float *b,
                         float *u, int threads) {
    for (int r = 0; r < rows; r++)
        memcpy(u + (size_t)r * n, b, (size_t)n * sizeof(float));
    ati_gemm_threads(0, 1, rows, n, in, 1.0f, x, in, W, in, 1.0f, u, n, threads);
    for (size_t i = 0; i < (size_t)rows * n; i++)
        u[i] = ati_fast_tanh(u[i]);
}

/* From du (R, n), the gradient reaching u = tanh(x Wᵀ + b), accumulate dx,
 * dW, db where wanted. du is overwritten with the pre-activation gradient. */
static void project_tanh_backward(int rows, int in, int n, at_tensor *x, at_tensor *W, at_tensor *b,
                                  const float *u, float *du, int threads) {
    // forward: u = tanh(pre)
    for (size_t i = 0; i < (size_t)rows * n; i++)
        du[i] *= 1.0f - u[i] * u[i];
    // forward: pre = x Wᵀ + b
    if (x->grad) ati_gemm_threads(0, 0, rows, in, n, 1.0f, du, n, W->data, in, 1.0f, x->grad, in,
                                  threads);
    if (W->grad) ati_gemm_threads(1, 0, n, in, rows, 1.0f, du, n, x->data, in, 1.0f, W->grad, in,
                                  threads);
    if (b->grad) ati_add_column_sums(b->grad, du, rows, n, threads);
}

/* The weights a caller asked for (tracked like the output), or scratch. */
static at_status weights_buffer(at_ctx *ctx, at_tensor **weights, int ndim, const int *shape,
                                int track, at_tensor **made, float **alpha) {
    *made = NULL;
    if (weights) {
        AT_TRY(ati_result(ctx, made, ndim, shape, track));
        *alpha = (*made)->data;
        return AT_OK;
    }
    void *p;
    AT_TRY(ati_scratch_zero(ctx, &p, ati_shape_size(ndim, shape) * sizeof(float)));
    *alpha = p;
    return AT_OK;
}

/* dα: the weights tensor's own gradient (if any), in fresh scratch. */
static at_status weights_grad(at_ctx *ctx, const at_tensor *weights, size_t n, float **d_alpha) {
    void *p;
    AT_TRY(ati_scratch_zero(ctx, &p, n * sizeof(float)));
    *d_alpha = p;
    if (weights && weights->grad) memcpy(*d_alpha, weights->grad, n * sizeof(float));
    return AT_OK;
}

/* What backward keeps of a forward call. */
typedef struct static_saved {
    float *u;           /* (B, T, A) for HAN, (B, T, D) for the feature form */
    float *alpha;       /* (B, T) or (B, T, D)                               */
    at_tensor *weights; /* the weights tensor handed out, or NULL            */
} static_saved;

/* -------------------------------------------------------------------- HAN */

at_status at_han_attention_init(at_ctx *ctx, at_han_attention *layer, at_params *params,
                                const char *prefix, int input_size, int attn_size, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "han_attention_init: NULL layer or params");
    if (input_size <= 0 || attn_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "han_attention_init: input_size %d, attn_size %d must be > 0",
                           input_size, attn_size);
    at_han_attention made = {.input_size = input_size, .attn_size = attn_size};
    AT_TRY(layer_param(ctx, params, prefix, "W", NULL, 2, (const int[]){attn_size, input_size},
                       &made.W));
    AT_TRY(layer_param(ctx, params, prefix, "b", NULL, 1, &attn_size, &made.b));
    AT_TRY(layer_param(ctx, params, prefix, "u_w", NULL, 1, &attn_size, &made.u_w));
    at_init_glorot_uniform(made.W, input_size, attn_size, 1.0f, rng);
    at_init_uniform(made.u_w, -CONTEXT_VECTOR_INIT, CONTEXT_VECTOR_INIT, rng);
    *layer = made;
    return AT_OK;
}

static at_status han_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *h = node->in[0], *W = node->in[1], *b = node->in[2], *u_w = node->in[3];
    const static_saved *saved = node->saved;
    int B = node->iarg[0], T = node->iarg[1], D = node->iarg[2], A = node->iarg[3];
    const float *d_out = node->out->grad; // (B, D)
    const float *alpha = saved->alpha;    // (B, T)
    const float *u = saved->u;            // (B, T, A)
    float *d_alpha, *d_score, *d_u;
    AT_TRY(weights_grad(ctx, saved->weights, (size_t)B * T, &d_alpha)); // (B, T)
    AT_TRY(ati_scratch_zero(ctx, (void **)&d_score, (size_t)B * T * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&d_u, (size_t)B * T * A * sizeof(float)));

    // forward: out[b] = Σ_t alpha[b, t] h[b, t]
    attn_weighted_sum_backward(ctx->threads, B, 1, T, D, alpha, h->data, d_out, d_alpha, h->grad);
    // forward: alpha[b] = softmax_t(score[b])
    for (int r = 0; r < B; r++)
        ati_softmax_row_backward(d_score + (size_t)r * T, alpha + (size_t)r * T,
                                d_alpha + (size_t)r * T, T);
    for (size_t r = 0; r < (size_t)B * T; r++)
        for (int a = 0; a < A; a++) {
            // forward: score[r] += u[r, a] * u_w[a]
            d_u[r * A + a] = d_score[r] * u_w->data[a];
            if (u_w->grad) u_w->grad[a] += d_score[r] * u[r * A + a];
        }
    project_tanh_backward(B * T, D, A, h, W, b, u, d_u, ctx->threads);
    return AT_OK;
}

static at_status check_han(at_ctx *ctx, const at_han_attention *layer) {
    const char *op = "han_attention";
    int D = layer->input_size, A = layer->attn_size;
    AT_TRY(check_param(ctx, op, "W", layer->W, A, D));
    AT_TRY(check_param(ctx, op, "b", layer->b, A, 0));
    return check_param(ctx, op, "u_w", layer->u_w, A, 0);
}

at_status at_han_attention_forward(at_ctx *ctx, const at_han_attention *layer, at_tensor *h,
                                   const at_attn_mask *mask, at_tensor **out, at_tensor **weights) {
    const char *op = "han_attention";
    if (!layer || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or output", op);
    AT_TRY(check_han(ctx, layer));
    int B = 0, T = 0, D = layer->input_size, A = layer->attn_size;
    AT_TRY(read_sequence(ctx, op, h, D, &B, &T));
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)B, 1, T, &view));
    view.causal = 0; // one distribution per sequence: nothing to be causal about

    at_tensor *inputs[4] = {h, layer->W, layer->b, layer->u_w};
    int track = ati_tracking(ctx, 4, inputs);
    at_tensor *result, *made_weights;
    float *alpha, *u, *score;
    uint8_t *keep_scratch;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){B, D}, track));
    AT_TRY(weights_buffer(ctx, weights, 2, (const int[]){B, T}, track, &made_weights, &alpha));
    AT_TRY(ati_scratch(ctx, (void **)&u, (size_t)B * T * A * sizeof(float))); // (B, T, A)
    AT_TRY(ati_scratch(ctx, (void **)&score, (size_t)T * sizeof(float)));     // (T)
    AT_TRY(ati_scratch(ctx, (void **)&keep_scratch, (size_t)T));

    // u = tanh(h Wᵀ + b)
    project_tanh(B * T, D, A, h->data, layer->W->data, layer->b->data, u, ctx->threads);
    for (int r = 0; r < B; r++) {
        // score[t] = u[r, t] · u_w
        for (int t = 0; t < T; t++) {
            const float *u_t = u + ((size_t)r * T + t) * A;
            float s = 0.0f;
            for (int a = 0; a < A; a++)
                s += u_t[a] * layer->u_w->data[a];
            score[t] = s;
        }
        // alpha[r] = softmax over the kept steps
        ati_softmax_row(alpha + (size_t)r * T, score, attn_row_keep(&view, (size_t)r, keep_scratch),
                       T);
    }
    // out[b] = Σ_t alpha[b, t] h[b, t]
    attn_weighted_sum(ctx->threads, B, 1, T, D, alpha, h->data, result->data);

    if (track) {
        ati_node *node;
        static_saved *saved;
        AT_TRY(ati_scratch(ctx, (void **)&saved, sizeof *saved));
        *saved = (static_saved){u, alpha, made_weights};
        AT_TRY(ati_tape_record(ctx, &node, "han_attention", han_backward, result, 4, inputs));
        node->iarg[0] = B, node->iarg[1] = T, node->iarg[2] = D, node->iarg[3] = A;
        node->saved = saved;
    }
    *out = result;
    if (weights) *weights = made_weights;
    return AT_OK;
}

/* ------------------------------------------------- per-feature (Keras) */

at_feature_attention_options at_feature_attention_options_default(void) {
    return (at_feature_attention_options){.eps = KERAS_EPSILON};
}

at_status at_feature_attention_init(at_ctx *ctx, at_feature_attention *layer, at_params *params,
                                    const char *prefix, int input_size, at_rng *rng) {
    return at_feature_attention_init_ext(ctx, layer, params, prefix, input_size, NULL, rng);
}

at_status at_feature_attention_init_ext(at_ctx *ctx, at_feature_attention *layer, at_params *params,
                                        const char *prefix, int input_size,
                                        const at_feature_attention_options *options, at_rng *rng) {
    at_feature_attention_options o = options ? *options : at_feature_attention_options_default();
    if (!(o.eps >= 0.0f) || !isfinite(o.eps))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "feature_attention_init: eps %g must be finite and >= 0", (double)o.eps);
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "feature_attention_init: NULL layer or params");
    if (input_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "feature_attention_init: input_size %d must be > 0", input_size);
    at_feature_attention made = {.input_size = input_size, .eps = o.eps};
    AT_TRY(layer_param(ctx, params, prefix, "W", NULL, 2, (const int[]){input_size, input_size},
                       &made.W));
    AT_TRY(layer_param(ctx, params, prefix, "b", NULL, 1, &input_size, &made.b));
    at_init_glorot_uniform(made.W, input_size, input_size, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

static at_status feature_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *h = node->in[0], *W = node->in[1], *b = node->in[2];
    const static_saved *saved = node->saved;
    int B = node->iarg[0], T = node->iarg[1], D = node->iarg[2];
    const float *d_out = node->out->grad; // (B, D)
    const float *alpha = saved->alpha;    // (B, T, D)
    float *d_alpha, *dot;
    size_t n = (size_t)B * T * D;
    AT_TRY(weights_grad(ctx, saved->weights, n, &d_alpha)); // (B, T, D)
    AT_TRY(ati_scratch(ctx, (void **)&dot, (size_t)D * sizeof(float)));

    for (int r = 0; r < B; r++) {
        const float *a_r = alpha + (size_t)r * T * D, *h_r = h->data + (size_t)r * T * D;
        const float *dout_r = d_out + (size_t)r * D;
        float *da_r = d_alpha + (size_t)r * T * D;
        float *dh_r = h->grad ? h->grad + (size_t)r * T * D : NULL;
        memset(dot, 0, (size_t)D * sizeof(float));
        for (size_t i = 0; i < (size_t)T * D; i++) {
            int f = (int)(i % (size_t)D);
            // forward: out[f] += alpha[t, f] * h[t, f]
            da_r[i] += dout_r[f] * h_r[i];
            if (dh_r) dh_r[i] += a_r[i] * dout_r[f];
            dot[f] += a_r[i] * da_r[i];
        }
        for (size_t i = 0; i < (size_t)T * D; i++) {
            // forward: alpha[t, f] = exp(u[t, f]) mask[t] / (Σ_t exp(u[t, f]) mask[t] + eps)
            da_r[i] = a_r[i] * (da_r[i] - dot[i % (size_t)D]);
        }
    }
    project_tanh_backward(B * T, D, D, h, W, b, saved->u, d_alpha, ctx->threads);
    return AT_OK;
}

static at_status check_feature(at_ctx *ctx, const at_feature_attention *layer) {
    const char *op = "feature_attention";
    int D = layer->input_size;
    AT_TRY(check_param(ctx, op, "W", layer->W, D, D));
    AT_TRY(check_param(ctx, op, "b", layer->b, D, 0));
    if (!(layer->eps >= 0.0f) || !isfinite(layer->eps))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: eps %g must be finite and >= 0", op,
                           (double)layer->eps);
    return AT_OK;
}

/* alpha (T, D) for one sequence from u (T, D): exp(u) over kept steps,
 * divided by each feature's sum + eps. */
static void feature_normalise(const float *u, const attn_mask_view *view, size_t row, int T, int D,
                              float eps, float *sum, float *alpha) {
    memset(sum, 0, (size_t)D * sizeof(float));
    for (int t = 0; t < T; t++) {
        int kept = attn_is_kept(view, row, t);
        for (int f = 0; f < D; f++) {
            size_t i = (size_t)t * D + f;
            alpha[i] = kept ? ati_fast_exp(u[i]) : 0.0f; // a[t, f] = exp(u[t, f]) mask[t]
            sum[f] += alpha[i];
        }
    }
    for (int f = 0; f < D; f++) // nothing kept and eps = 0: alpha stays 0, not 0/0
        sum[f] = sum[f] + eps > 0.0f ? 1.0f / (sum[f] + eps) : 0.0f;
    for (size_t i = 0; i < (size_t)T * D; i++)
        alpha[i] *= sum[i % (size_t)D];
}

at_status at_feature_attention_forward(at_ctx *ctx, const at_feature_attention *layer, at_tensor *h,
                                       const at_attn_mask *mask, at_tensor **out,
                                       at_tensor **weights) {
    const char *op = "feature_attention";
    if (!layer || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL layer or output", op);
    AT_TRY(check_feature(ctx, layer));
    int B = 0, T = 0, D = layer->input_size;
    AT_TRY(read_sequence(ctx, op, h, D, &B, &T));
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)B, 1, T, &view));
    view.causal = 0;

    at_tensor *inputs[3] = {h, layer->W, layer->b};
    int track = ati_tracking(ctx, 3, inputs);
    at_tensor *result, *made_weights;
    float *alpha, *u, *inv_sum;
    AT_TRY(ati_result(ctx, &result, 2, (const int[]){B, D}, track));
    AT_TRY(weights_buffer(ctx, weights, 3, (const int[]){B, T, D}, track, &made_weights, &alpha));
    AT_TRY(ati_scratch(ctx, (void **)&u, (size_t)B * T * D * sizeof(float))); // (B, T, D)
    AT_TRY(ati_scratch(ctx, (void **)&inv_sum, (size_t)D * sizeof(float)));   // (D)

    // u = tanh(h Wᵀ + b)
    project_tanh(B * T, D, D, h->data, layer->W->data, layer->b->data, u, ctx->threads);
    for (int r = 0; r < B; r++) {
        size_t off = (size_t)r * T * D;
        feature_normalise(u + off, &view, (size_t)r, T, D, layer->eps, inv_sum, alpha + off);
        // out[r, f] = Σ_t alpha[r, t, f] h[r, t, f]
        for (size_t i = 0; i < (size_t)T * D; i++)
            result->data[(size_t)r * D + i % (size_t)D] += alpha[off + i] * h->data[off + i];
    }

    if (track) {
        ati_node *node;
        static_saved *saved;
        AT_TRY(ati_scratch(ctx, (void **)&saved, sizeof *saved));
        *saved = (static_saved){u, alpha, made_weights};
        AT_TRY(
            ati_tape_record(ctx, &node, "feature_attention", feature_backward, result, 3, inputs));
        node->iarg[0] = B, node->iarg[1] = T, node->iarg[2] = D;
        node->saved = saved;
    }
    *out = result;
    if (weights) *weights = made_weights;
    return AT_OK;
}
