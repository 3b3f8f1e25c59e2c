/*
 * self_attention.c - intra-attention (family 8): a sequence attends to
 * itself, queries, keys and values all made from the same x.
 *
 * Scaled dot-product self-attention (Vaswani et al. 2017):
 *
 *     Q = x W_Qᵀ   K = x W_Kᵀ   V = x W_Vᵀ        x (B, T, D), W_Q, W_K (d_k, D), W_V (d_v, D)
 *     out = softmax(Q Kᵀ / √d_k + mask) V         out (B, T, d_v), weights (B, T, T)
 *
 * d_k (head_size) and d_v (value_size) are independent, as in the paper;
 * at_self_attention_init makes them equal, at_self_attention_init_sizes not.
 *
 * Three shared-weight matrix products (at_matmul) and the fused dot
 * kernel (at_dot_attention); a causal mask makes it a decoder's.
 *
 * Structured self-attention (Lin et al. 2017), r "hops", each a different
 * distribution over the T positions of h:
 *
 *     Z = h W_s1ᵀ          (B, T, da)      W_s1 (da, D)
 *     U = tanh(Z)          (B, T, da)
 *     S_b = W_s2 U_bᵀ      (B, r, T)       W_s2 (r, da)
 *     A = softmax_T(S)     (B, r, T)       each hop a distribution over t
 *     M = A h              (B, r, D)       the sentence embedding matrix
 *     penalty P = (1/B) Σ_b ‖A_b A_bᵀ − I‖²_F   (1), or per row P_b (B)
 *
 * A is one fused tape entry (products, tanh and masked softmax), M = A h a
 * batched at_matmul, so the gradient of the penalty reaches W_s1, W_s2 and h
 * through A. The penalty pushes the r hops apart (A Aᵀ near I: each hop
 * sharp and different from the others). Its gradient: with G = A Aᵀ − I,
 * symmetric, dP/dA_b = (2/B)(G + Gᵀ) A_b = (4/B) G_b A_b; per row,
 * dP_b/dA_b = 4 G_b A_b.
 *
 * Masks. Self-attention: padding (B, T) with rows = B, full (B·T rows),
 * causal. Structured: padding (B, T) with rows = B (or B·r rows, one per
 * hop); causal is refused, the hops are not time steps. A fully masked row
 * gives zero weights, zero M and zero gradient.
 * Weights. Both carry a gradient: self-attention's through the fused
 * kernel (a loss on them reaches x and W_Q, W_K), structured attention's A
 * as a tracked tensor (the penalty needs it).
 * Parameters (all Glorot uniform; left zero when rng is NULL): PREFIX.W_Q,
 * PREFIX.W_K (d_k, D), PREFIX.W_V (d_v, D); PREFIX.W_s1 (da, D), PREFIX.W_s2
 * (r, da). No biases, as in both papers.
 */
#include "attention.h"
#include "../layers/layers.h"

/* ------------------------------------------------------- self-attention */

at_status at_self_attention_init_sizes(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                       const char *prefix, int input_size, int key_size,
                                       int value_size, at_rng *rng) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "self_attention_init: NULL layer or params");
    if (input_size <= 0 || key_size <= 0 || value_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "self_attention_init: input_size %d, head_size (d_k) %d and "
                           "value_size (d_v) %d must be > 0",
                           input_size, key_size, value_size);
    at_self_attention made = {NULL, NULL, NULL, input_size, key_size, value_size};
    int qk_shape[2] = {key_size, input_size}, v_shape[2] = {value_size, input_size};
    AT_TRY(layer_param(ctx, params, prefix, "W_Q", NULL, 2, qk_shape, &made.W_Q));
    AT_TRY(layer_param(ctx, params, prefix, "W_K", NULL, 2, qk_shape, &made.W_K));
    AT_TRY(layer_param(ctx, params, prefix, "W_V", NULL, 2, v_shape, &made.W_V));
    at_init_glorot_uniform(made.W_Q, input_size, key_size, 1.0f, rng);
    at_init_glorot_uniform(made.W_K, input_size, key_size, 1.0f, rng);
    at_init_glorot_uniform(made.W_V, input_size, value_size, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

at_status at_self_attention_init(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                 const char *prefix, int input_size, int head_size,
                                 at_rng *rng) {
    return at_self_attention_init_sizes(ctx, layer, params, prefix, input_size, head_size,
                                        head_size, rng);
}

/* d_v: value_size, or head_size for a layer whose value_size was never set. */
static int self_value_size(const at_self_attention *layer) {
    return layer->value_size > 0 ? layer->value_size : layer->head_size;
}

/* rows x cols, 2-D, or a message naming the parameter. */
static at_status check_matrix(at_ctx *ctx, const char *op, const char *name, const at_tensor *W,
                              int rows, int cols) {
    if (!W) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, name);
    if (W->ndim != 2 || W->shape[0] != rows || W->shape[1] != cols) {
        char buf[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %s is %s, must be (%d, %d)", op, name,
                           ati_shape_str(buf, sizeof buf, W->ndim, W->shape), rows, cols);
    }
    return AT_OK;
}

static at_status check_self_attention(at_ctx *ctx, const at_self_attention *layer) {
    const char *op = "self_attention_forward";
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    int d = layer->head_size, D = layer->input_size;
    AT_TRY(check_matrix(ctx, op, "W_Q", layer->W_Q, d, D));
    AT_TRY(check_matrix(ctx, op, "W_K", layer->W_K, d, D));
    return check_matrix(ctx, op, "W_V", layer->W_V, self_value_size(layer), D);
}

at_status at_self_attention_forward(at_ctx *ctx, const at_self_attention *layer, at_tensor *x,
                                    const at_attn_mask *mask, at_tensor **out,
                                    at_tensor **weights) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_self_attention(ctx, layer));
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "self_attention_forward: out is NULL");
    AT_CHECK_TENSOR(ctx, x, "self_attention_forward: x");
    AT_TRY(attn_check_sequence(ctx, "self_attention_forward", "x", x, x->shape[0],
                               layer->input_size, NULL));
    at_tensor *Q, *K, *V;
    AT_TRY(at_matmul(ctx, &Q, x, layer->W_Q, 0, 1)); // Q (B, T, d_k) = x W_Qᵀ
    AT_TRY(at_matmul(ctx, &K, x, layer->W_K, 0, 1)); // K (B, T, d_k) = x W_Kᵀ
    AT_TRY(at_matmul(ctx, &V, x, layer->W_V, 0, 1)); // V (B, T, d_v) = x W_Vᵀ
    // out (B, T, d_v) = softmax(Q Kᵀ / √d_k + mask) V, weights (B, T, T)
    return at_dot_attention(ctx, Q, K, V, 0.0f, mask, out, weights);
}

/* ------------------------------------------- structured self-attention */

at_status at_structured_attention_init(at_ctx *ctx, at_structured_attention *layer,
                                       at_params *params, const char *prefix, int input_size,
                                       int attn_size, int hops, at_rng *rng) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "structured_attention_init: NULL layer or params");
    if (input_size <= 0 || attn_size <= 0 || hops <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "structured_attention_init: input_size %d, attn_size %d and hops %d "
                           "must be > 0",
                           input_size, attn_size, hops);
    at_structured_attention made = {NULL, NULL, input_size, attn_size, hops};
    int s1_shape[2] = {attn_size, input_size}, s2_shape[2] = {hops, attn_size};
    AT_TRY(layer_param(ctx, params, prefix, "W_s1", NULL, 2, s1_shape, &made.W_s1));
    AT_TRY(layer_param(ctx, params, prefix, "W_s2", NULL, 2, s2_shape, &made.W_s2));
    at_init_glorot_uniform(made.W_s1, input_size, attn_size, 1.0f, rng);
    at_init_glorot_uniform(made.W_s2, attn_size, hops, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

/* The sizes of one call. */
typedef struct structured_dims {
    int B, T, D, da, r;
} structured_dims;

/* What the backward of A needs beyond h, W_s1, W_s2 and A itself. */
typedef struct structured_saved {
    structured_dims dims;
    float *U; /* (B, T, da) = tanh(h W_s1ᵀ) */
} structured_saved;

/* Z (B·T, da) = h W_s1ᵀ, then U = tanh(Z) in place. */
static void hidden_forward(const structured_dims *n, const float *h, const float *W_s1,
                           float *U) {
    size_t rows = (size_t)n->B * n->T;
    ati_gemm(0, 1, (int)rows, n->da, n->D, 1.0f, h, n->D, W_s1, n->D, 0.0f, U, n->da);
    for (size_t i = 0; i < rows * (size_t)n->da; i++) U[i] = tanhf(U[i]);
}

/* From dU (B·T, da), overwritten by dZ: dW_s1 and dh, where wanted. */
static void hidden_backward(const structured_dims *n, const float *U, float *dU, at_tensor *h,
                            at_tensor *W_s1) {
    size_t rows = (size_t)n->B * n->T;
    // forward: U = tanh(Z)                  so dZ = dU (1 − U²), in place
    for (size_t i = 0; i < rows * (size_t)n->da; i++) dU[i] *= 1.0f - U[i] * U[i];
    const float *dZ = dU;
    // forward: Z = h W_s1ᵀ                  so dW_s1 += dZᵀ h : (da, B·T) x (B·T, D)
    if (W_s1->grad)
        ati_gemm(1, 0, n->da, n->D, (int)rows, 1.0f, dZ, n->da, h->data, n->D, 1.0f, W_s1->grad,
                n->D);
    // forward: Z = h W_s1ᵀ                  so dh += dZ W_s1 : (B·T, da) x (da, D)
    if (h->grad)
        ati_gemm(0, 0, (int)rows, n->D, n->da, 1.0f, dZ, n->da, W_s1->data, n->D, 1.0f, h->grad,
                n->D);
}

/* A_b (r, T) = softmax over kept t of S_b = W_s2 U_bᵀ, one batch row b. */
static void hops_forward(const structured_dims *n, const attn_mask_view *mask, int b,
                         const float *W_s2, const float *U, float *S, float *A, uint8_t *scratch) {
    const float *U_b = U + (size_t)b * n->T * n->da; // (T, da)
    float *A_b = A + (size_t)b * n->r * n->T;        // (r, T)
    // S (r, T) = W_s2 U_bᵀ
    ati_gemm(0, 1, n->r, n->T, n->da, 1.0f, W_s2, n->da, U_b, n->da, 0.0f, S, n->T);
    for (int c = 0; c < n->r; c++) {
        size_t row = (size_t)b * n->r + c;
        const uint8_t *keep = attn_row_keep(mask, row, scratch);
        ati_softmax_row(A_b + (size_t)c * n->T, S + (size_t)c * n->T, keep, n->T);
    }
}

/* One batch row b: from dA_b, dW_s2 (if wanted) and dU_b (written). dS (r, T) is scratch. */
static void hops_backward(const structured_dims *n, int b, const float *A, const float *dA,
                          const float *U, at_tensor *W_s2, float *dS, float *dU) {
    size_t rt = (size_t)n->r * n->T, td = (size_t)n->T * n->da;
    const float *A_b = A + b * rt, *dA_b = dA + b * rt, *U_b = U + b * td; // (r, T), (T, da)
    for (size_t i = 0; i < rt; i++) dS[i] = 0.0f;
    // forward: A_b[c, :] = softmax(S_b[c, :]) over the kept t
    for (int c = 0; c < n->r; c++)
        ati_softmax_row_backward(dS + (size_t)c * n->T, A_b + (size_t)c * n->T,
                                dA_b + (size_t)c * n->T, n->T);
    // forward: S_b = W_s2 U_bᵀ              so dW_s2 += dS_b U_b : (r, T) x (T, da)
    if (W_s2->grad)
        ati_gemm(0, 0, n->r, n->da, n->T, 1.0f, dS, n->T, U_b, n->da, 1.0f, W_s2->grad, n->da);
    // forward: S_b = W_s2 U_bᵀ              so dU_b = dS_bᵀ W_s2 : (T, r) x (r, da)
    ati_gemm(1, 0, n->T, n->da, n->r, 1.0f, dS, n->T, W_s2->data, n->da, 0.0f, dU + b * td, n->da);
}

static at_status structured_weights_backward(at_ctx *ctx, ati_node *node) {
    const structured_saved *s = node->saved;
    const structured_dims *n = &s->dims;
    at_tensor *h = node->in[0], *W_s1 = node->in[1], *W_s2 = node->in[2];
    float *dS, *dU;
    AT_TRY(attn_scratch_floats(ctx, &dS, (size_t)n->r * n->T));          // (r, T)
    AT_TRY(attn_scratch_floats(ctx, &dU, (size_t)n->B * n->T * n->da)); // (B, T, da)
    for (int b = 0; b < n->B; b++)
        hops_backward(n, b, node->out->data, node->out->grad, s->U, W_s2, dS, dU);
    if (h->grad || W_s1->grad) hidden_backward(n, s->U, dU, h, W_s1);
    return AT_OK;
}

/* A (B, r, T) = softmax_T(W_s2 tanh(W_s1 hᵀ)): one fused tape entry. */
static at_status structured_weights(at_ctx *ctx, const at_structured_attention *layer,
                                    at_tensor *h, const attn_mask_view *mask,
                                    const structured_dims *n, at_tensor **A_out) {
    at_tensor *inputs[3] = {h, layer->W_s1, layer->W_s2};
    int track = ati_tracking(ctx, 3, inputs);
    int shape[3] = {n->B, n->r, n->T};
    at_tensor *A;
    AT_TRY(ati_result(ctx, &A, 3, shape, track));
    float *U, *S;
    AT_TRY(attn_scratch_floats(ctx, &U, (size_t)n->B * n->T * n->da)); // (B, T, da)
    AT_TRY(attn_scratch_floats(ctx, &S, (size_t)n->r * n->T));         // (r, T)
    void *scratch; // (T) the keep-bytes of one row
    AT_TRY(ati_scratch(ctx, &scratch, (size_t)n->T));
    hidden_forward(n, h->data, layer->W_s1->data, U);
    for (int b = 0; b < n->B; b++)
        hops_forward(n, mask, b, layer->W_s2->data, U, S, A->data, scratch);
    if (track) {
        void *saved;
        AT_TRY(ati_scratch(ctx, &saved, sizeof(structured_saved)));
        *(structured_saved *)saved = (structured_saved){*n, U};
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "structured_attention", structured_weights_backward, A,
                              3, inputs));
        node->saved = saved;
    }
    *A_out = A;
    return AT_OK;
}

static at_status check_structured(at_ctx *ctx, const at_structured_attention *layer) {
    const char *op = "structured_attention_forward";
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    AT_TRY(check_matrix(ctx, op, "W_s1", layer->W_s1, layer->attn_size, layer->input_size));
    return check_matrix(ctx, op, "W_s2", layer->W_s2, layer->hops, layer->attn_size);
}

at_status at_structured_attention_forward(at_ctx *ctx, const at_structured_attention *layer,
                                          at_tensor *h, const at_attn_mask *mask,
                                          at_tensor **out, at_tensor **weights) {
    const char *op = "structured_attention_forward";
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_structured(ctx, layer));
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", op);
    AT_CHECK_TENSOR(ctx, h, "structured_attention_forward: h");
    structured_dims n = {0, 0, layer->input_size, layer->attn_size, layer->hops};
    if (h->ndim > 0) n.B = h->shape[0];
    AT_TRY(attn_check_sequence(ctx, op, "h", h, n.B, n.D, &n.T));
    if (mask && mask->causal)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: a causal mask does not apply (the hops are not time steps); "
                           "pass a padding mask (B, T) with rows = B",
                           op);
    attn_mask_view view;
    AT_TRY(attn_mask_prepare(ctx, op, mask, (size_t)n.B * n.r, n.r, n.T, &view));
    at_tensor *A;
    AT_TRY(structured_weights(ctx, layer, h, &view, &n, &A)); // A (B, r, T)
    AT_TRY(at_matmul(ctx, out, A, h, 0, 0));                  // M (B, r, D) = A h
    if (weights) *weights = A;
    return AT_OK;
}

/* ------------------------------------------------------------- penalty */

/* What the penalty's backward needs: G_b = A_b A_bᵀ − I for every b. */
typedef struct penalty_saved {
    int B, r, T;
    int per_row; /* 1: out is (B), P_b; 0: out is (1), the mean */
    float *G;    /* (B, r, r) */
} penalty_saved;

static at_status penalty_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    const penalty_saved *s = node->saved;
    at_tensor *A = node->in[0];
    if (!A->grad) return AT_OK;
    size_t rr = (size_t)s->r * s->r, rt = (size_t)s->r * s->T;
    for (int b = 0; b < s->B; b++) {
        // forward: P_b = ‖G_b‖²_F, G_b = A_b A_bᵀ − I      so dA_b += dP_b 4 G_b A_b
        // forward: P = (1/B) Σ_b P_b                      so dP_b = dP / B
        float dP_b = s->per_row ? node->out->grad[b] : node->out->grad[0] / (float)s->B;
        ati_gemm(0, 0, s->r, s->T, s->r, 4.0f * dP_b, s->G + b * rr, s->r, A->data + b * rt, s->T,
                1.0f, A->grad + b * rt, s->T);
    }
    return AT_OK;
}

/* G (B, r, r) = A Aᵀ − I; rows[b] = ‖G_b‖²_F, summed in double. */
static void gram_minus_identity(const at_tensor *A, float *G, double *rows) {
    int B = A->shape[0], r = A->shape[1], T = A->shape[2];
    size_t rr = (size_t)r * r, rt = (size_t)r * T;
    for (int b = 0; b < B; b++) {
        float *G_b = G + b * rr;
        // G_b (r, r) = A_b A_bᵀ − I
        ati_gemm(0, 1, r, r, T, 1.0f, A->data + b * rt, T, A->data + b * rt, T, 0.0f, G_b, r);
        for (int c = 0; c < r; c++) G_b[(size_t)c * r + c] -= 1.0f;
        rows[b] = 0.0;
        for (size_t i = 0; i < rr; i++) rows[b] += (double)G_b[i] * G_b[i];
    }
}

/* The penalty of weights A (B, r, T): per_row 1 gives (B), 0 the mean (1). */
static at_status structured_penalty(at_ctx *ctx, const char *op, at_tensor *weights, int per_row,
                                    at_tensor **penalty) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!weights) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: weights is NULL", op);
    if (!penalty) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: penalty is NULL", op);
    if (weights->ndim != 3) {
        char buf[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: weights %s must be (B, r, T)", op,
                           ati_shape_str(buf, sizeof buf, weights->ndim, weights->shape));
    }
    int B = weights->shape[0], r = weights->shape[1], size = per_row ? B : 1;
    int track = ati_tracking(ctx, 1, &weights);
    at_tensor *P;
    AT_TRY(ati_result(ctx, &P, 1, &size, track));
    float *G;
    double *rows;
    AT_TRY(attn_scratch_floats(ctx, &G, (size_t)B * r * r)); // (B, r, r)
    AT_TRY(ati_scratch(ctx, (void **)&rows, (size_t)B * sizeof(double)));
    gram_minus_identity(weights, G, rows);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        if (per_row) P->data[b] = (float)rows[b]; // P_b = ‖A_b A_bᵀ − I‖²_F
        total += rows[b];
    }
    if (!per_row) P->data[0] = (float)(total / B); // P = (1/B) Σ_b P_b
    if (track) {
        void *saved;
        AT_TRY(ati_scratch(ctx, &saved, sizeof(penalty_saved)));
        *(penalty_saved *)saved = (penalty_saved){B, r, weights->shape[2], per_row, G};
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, penalty_backward, P, 1, &weights));
        node->saved = saved;
    }
    *penalty = P;
    return AT_OK;
}

at_status at_structured_penalty(at_ctx *ctx, at_tensor *weights, at_tensor **penalty) {
    return structured_penalty(ctx, "structured_penalty", weights, 0, penalty);
}

at_status at_structured_penalty_rows(at_ctx *ctx, at_tensor *weights, at_tensor **penalties) {
    return structured_penalty(ctx, "structured_penalty_rows", weights, 1, penalties);
}
