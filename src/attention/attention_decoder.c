/*
 * attention_decoder.c - the AttentionDecoder of "Attention in Keras" (the
 * seed): a GRU-style cell whose gates also read the context c_t of additive
 * attention over the annotations, with the previous state as the query.
 *
 *     c_t      = additive attention of s_{t−1} over h_1 .. h_Tx     (additive.c)
 *     r_t      = σ(W_r y_{t−1} + U_r s_{t−1} + C_r c_t + b_r)
 *     z_t      = σ(W_z y_{t−1} + U_z s_{t−1} + C_z c_t + b_z)
 *     s̃_t      = tanh(W_p y_{t−1} + U_p (r_t ∘ s_{t−1}) + C_p c_t + b_p)
 *     s_t      = (1 − z_t) ∘ s_{t−1} + z_t ∘ s̃_t
 *     logits_t = W_o y_{t−1} + U_o s_out + C_o c_t + b_o      y_t = softmax(logits_t)
 *     s_0      = tanh(W_s h_1)
 *
 * s_out is s_t (default: the article and Bahdanau's eq. 4) or s_{t−1} when
 * output_from_previous_state = 1 (what the original code did; an option of
 * at_attention_decoder_init_ext). The softmax
 * of logits_t is left to the caller (a cross-entropy takes the logits).
 *
 *     y_{t−1} (B, Y)   s (B, S)   annotations h (B, Tx, Dh)   c_t (B, Dh)
 *     logits (B, V)    weights α_t (B, Tx)
 *     W_r, W_z, W_p (S, Y)   U_r, U_z, U_p (S, S)   C_r, C_z, C_p (S, Dh)
 *     b_r, b_z, b_p (S)      W_o (V, Y)  U_o (V, S)  C_o (V, Dh)  b_o (V)
 *     W_s (S, Dh)            attention: W_a (A, S) U_a (A, Dh) b_a (A) v_a (A)
 *
 * A step is three fused tape entries, one per block of equations above:
 * the attention (at_additive_attend), the cell (r, z, s̃, s) and the
 * readout (logits), each with a hand-written backward. c_t and α_t are
 * tensors of the tape like s_t and the logits, so the caller may read
 * them (at_attention_decoder_step_ext) and put them in a loss. The keys_proj of
 * the attention (U_a h_j + b_a) is made once per sequence by the caller.
 *
 * Every matrix is Glorot uniform, every bias zero (v_a as additive.c).
 */
#include "attention.h"

#include "../layers/layers.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- init */

/* buf = prefix + "." + name, or name alone when prefix is "" or NULL. */
static at_status sub_prefix(at_ctx *ctx, char *buf, size_t bytes, const char *prefix,
                            const char *name) {
    int has = prefix && *prefix;
    int written = snprintf(buf, bytes, "%s%s%s", has ? prefix : "", has ? "." : "", name);
    if (written < 0 || (size_t)written >= bytes)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention_decoder_init: prefix '%s' is too long",
                           prefix);
    return AT_OK;
}

/* A (rows, cols) matrix, Glorot uniform, or a (rows) zero bias when cols == 0. */
static at_status decoder_param(at_ctx *ctx, at_params *params, const char *prefix, const char *name,
                               int rows, int cols, at_rng *rng, at_tensor **out) {
    if (cols == 0) return layer_param(ctx, params, prefix, name, NULL, 1, (int[]){rows}, out);
    AT_TRY(layer_param(ctx, params, prefix, name, NULL, 2, (int[]){rows, cols}, out));
    at_init_glorot_uniform(*out, cols, rows, 1.0f, rng);
    return AT_OK;
}

at_attention_decoder_options at_attention_decoder_options_default(void) {
    return (at_attention_decoder_options){.output_from_previous_state = 0};
}

at_status at_attention_decoder_init(at_ctx *ctx, at_attention_decoder *dec, at_params *params,
                                    const char *prefix, int input_size, int context_size,
                                    int state_size, int output_size, int attn_size, at_rng *rng) {
    return at_attention_decoder_init_ext(ctx, dec, params, prefix, input_size, context_size,
                                         state_size, output_size, attn_size, NULL, rng);
}

at_status at_attention_decoder_init_ext(at_ctx *ctx, at_attention_decoder *dec, at_params *params,
                                        const char *prefix, int input_size, int context_size,
                                        int state_size, int output_size, int attn_size,
                                        const at_attention_decoder_options *options, at_rng *rng) {
    at_attention_decoder_options o = options ? *options : at_attention_decoder_options_default();
    if (o.output_from_previous_state != 0 && o.output_from_previous_state != 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention_decoder_init: output_from_previous_state %d must be 0 or 1",
                           o.output_from_previous_state);
    if (!dec || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention_decoder_init: NULL dec or params");
    int Y = input_size, Dh = context_size, S = state_size, V = output_size;
    if (Y <= 0 || Dh <= 0 || S <= 0 || V <= 0 || attn_size <= 0)
        return at_ctx_fail(
            ctx, AT_ERR_ARGUMENT,
            "attention_decoder_init: sizes Y %d, Dh %d, S %d, V %d, A %d must be > 0", Y, Dh, S, V,
            attn_size);
    at_attention_decoder m = {.input_size = Y,
                              .context_size = Dh,
                              .state_size = S,
                              .output_size = V,
                              .output_from_previous_state = o.output_from_previous_state};
    char attn_prefix[200];
    AT_TRY(sub_prefix(ctx, attn_prefix, sizeof attn_prefix, prefix, "attention"));
    AT_TRY(at_additive_init(ctx, &m.attention, params, attn_prefix, S, Dh, attn_size, rng));
    // One gate per line, in the order of the equations.
    // clang-format off
    const struct { const char *name; at_tensor **slot; int rows, cols; } table[] = {
        {"W_r", &m.W_r, S, Y}, {"U_r", &m.U_r, S, S}, {"C_r", &m.C_r, S, Dh}, {"b_r", &m.b_r, S, 0},
        {"W_z", &m.W_z, S, Y}, {"U_z", &m.U_z, S, S}, {"C_z", &m.C_z, S, Dh}, {"b_z", &m.b_z, S, 0},
        {"W_p", &m.W_p, S, Y}, {"U_p", &m.U_p, S, S}, {"C_p", &m.C_p, S, Dh}, {"b_p", &m.b_p, S, 0},
        {"W_o", &m.W_o, V, Y}, {"U_o", &m.U_o, V, S}, {"C_o", &m.C_o, V, Dh}, {"b_o", &m.b_o, V, 0},
        {"W_s", &m.W_s, S, Dh},
    };
    // clang-format on
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        AT_TRY(decoder_param(ctx, params, prefix, table[k].name, table[k].rows, table[k].cols, rng,
                             table[k].slot));
    *dec = m;
    return AT_OK;
}

/* ---------------------------------------- sums of matrix products */

/* One term x W ᵀ of a pre-activation: x (B, in), its gradient dx or NULL,
 * W (out, in). */
typedef struct linear_term {
    const float *x;
    float *dx;
    const at_tensor *W;
} linear_term;

/* pre (B, out) = b + Σ_k x_k W_kᵀ, the products on `threads` (the same bits
 * for any number). */
static void linear_sum(int B, int out, const linear_term *terms, int n, const at_tensor *b,
                       float *pre, int threads) {
    for (int i = 0; i < B; i++)
        memcpy(pre + (size_t)i * out, b->data, out * sizeof(float));
    for (int k = 0; k < n; k++) {
        int in = terms[k].W->shape[1];
        ati_gemm_threads(0, 1, B, out, in, 1.0f, terms[k].x, in, terms[k].W->data, in, 1.0f, pre,
                         out, threads);
    }
}

/* Undo linear_sum for d_pre (B, out): dx_k += d_pre W_k, dW_k += d_preᵀ x_k,
 * db += the column sums of d_pre. */
static void linear_sum_backward(int B, int out, const linear_term *terms, int n, at_tensor *b,
                                const float *d_pre, int threads) {
    for (int k = 0; k < n; k++) {
        int in = terms[k].W->shape[1];
        // forward: pre = ... + x_k W_kᵀ      so dx_k += d_pre W_k
        if (terms[k].dx)
            ati_gemm_threads(0, 0, B, in, out, 1.0f, d_pre, out, terms[k].W->data, in, 1.0f,
                             terms[k].dx, in, threads);
        // forward: pre = ... + x_k W_kᵀ      so dW_k += d_preᵀ x_k
        if (terms[k].W->grad)
            ati_gemm_threads(1, 0, out, in, B, 1.0f, d_pre, out, terms[k].x, in, 1.0f,
                             terms[k].W->grad, in, threads);
    }
    // forward: pre = b + ...                so db += the column sums of d_pre
    if (b->grad) ati_add_column_sums(b->grad, d_pre, B, out, threads);
}

/* ------------------------------------------------------------- start */

/* node->in: annotations, W_s. node->iarg: [0] B, [1] Tx, [2] Dh, [3] S. */
static at_status start_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *ann = node->in[0], *W_s = node->in[1];
    int B = node->iarg[0], tx = node->iarg[1], dh = node->iarg[2], S = node->iarg[3];
    const float *s0 = node->out->data, *ds0 = node->out->grad; // (B, S), (B, S)
    float *d_pre;                                              // (B, S)
    AT_TRY(ati_scratch(ctx, (void **)&d_pre, (size_t)B * S * sizeof(float)));
    // forward: s_0 = tanh(pre)
    for (size_t k = 0; k < (size_t)B * S; k++)
        d_pre[k] = ds0[k] * (1.0f - s0[k] * s0[k]);
    // forward: pre = h_1 W_sᵀ, h_1 = annotations[:, 0, :]   so dh_1 += d_pre W_s
    if (ann->grad) ati_gemm_threads(0, 0, B, dh, S, 1.0f, d_pre, S, W_s->data, dh, 1.0f, ann->grad,
                                    tx * dh, ctx->threads);
    // forward: pre = h_1 W_sᵀ                              so dW_s += d_preᵀ h_1
    if (W_s->grad) ati_gemm_threads(1, 0, S, dh, B, 1.0f, d_pre, S, ann->data, tx * dh, 1.0f,
                                    W_s->grad, dh, ctx->threads);
    return AT_OK;
}

at_status at_attention_decoder_start(at_ctx *ctx, const at_attention_decoder *dec,
                                     at_tensor *annotations, at_tensor **s0) {
    static const char op[] = "attention_decoder_start";
    if (!dec || !dec->W_s || !s0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL decoder, W_s or output", op);
    AT_CHECK_TENSOR(ctx, annotations, "attention_decoder_start: annotations");
    int tx, dh = dec->context_size, S = dec->state_size;
    AT_TRY(
        attn_check_sequence(ctx, op, "annotations", annotations, annotations->shape[0], dh, &tx));
    int B = annotations->shape[0];
    at_tensor *inputs[2] = {annotations, dec->W_s};
    int track = ati_tracking(ctx, 2, inputs);
    at_tensor *s;
    AT_TRY(ati_result(ctx, &s, 2, (int[]){B, S}, track));
    // pre (B, S) = h_1 W_sᵀ, h_1 = annotations[:, 0, :] (row stride Tx*Dh)
    ati_gemm_threads(0, 1, B, S, dh, 1.0f, annotations->data, tx * dh, dec->W_s->data, dh, 0.0f,
                     s->data, S, ctx->threads);
    // s_0 = tanh(pre)
    for (size_t k = 0; k < s->size; k++)
        s->data[k] = ati_fast_tanh(s->data[k]);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, start_backward, s, 2, inputs));
        node->iarg[0] = B;
        node->iarg[1] = tx;
        node->iarg[2] = dh;
        node->iarg[3] = S;
    }
    *s0 = s;
    return AT_OK;
}

/* -------------------------------------------------------------- cell */

typedef struct cell_saved {
    at_attention_decoder dec; // a copy: the parameters outlive the step
    int B;
    float *r, *z, *cand; // (B, S) r_t, z_t, s̃_t
    float *rs;           // (B, S) r_t ∘ s_{t−1}
} cell_saved;

/* The three terms of gate g's pre-activation: W_g y + U_g s + C_g c. */
static void gate_terms(linear_term *terms, const at_tensor *W, const at_tensor *U,
                       const at_tensor *C, const float *y, float *dy, const float *s, float *ds,
                       const float *c, float *dc) {
    terms[0] = (linear_term){y, dy, W};
    terms[1] = (linear_term){s, ds, U};
    terms[2] = (linear_term){c, dc, C};
}

/* node->in: y_prev, s_prev, context. */
static at_status cell_backward(at_ctx *ctx, ati_node *node) {
    cell_saved *sv = node->saved;
    const at_attention_decoder *m = &sv->dec;
    at_tensor *y = node->in[0], *sp = node->in[1], *c = node->in[2];
    const int B = sv->B, S = m->state_size;
    const size_t n = (size_t)B * S;
    const float *ds = node->out->grad;         // (B, S)
    float *d_pre_r, *d_pre_z, *d_pre_p, *d_rs; // (B, S) each
    AT_TRY(ati_scratch(ctx, (void **)&d_pre_r, n * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&d_pre_z, n * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&d_pre_p, n * sizeof(float)));
    AT_TRY(ati_scratch_zero(ctx, (void **)&d_rs, n * sizeof(float)));
    for (size_t k = 0; k < n; k++) {
        float z = sv->z[k], cand = sv->cand[k];
        // forward: s = (1 − z) ∘ s_prev + z ∘ s̃
        float dz = ds[k] * (cand - sp->data[k]), d_cand = ds[k] * z;
        if (sp->grad) sp->grad[k] += ds[k] * (1.0f - z);
        // forward: s̃ = tanh(pre_p)
        d_pre_p[k] = d_cand * (1.0f - cand * cand);
        // forward: z = σ(pre_z)
        d_pre_z[k] = dz * z * (1.0f - z);
    }
    linear_term terms[3];
    // forward: pre_p = W_p y + U_p (r ∘ s_prev) + C_p c + b_p
    gate_terms(terms, m->W_p, m->U_p, m->C_p, y->data, y->grad, sv->rs, d_rs, c->data, c->grad);
    linear_sum_backward(B, S, terms, 3, m->b_p, d_pre_p, ctx->threads);
    for (size_t k = 0; k < n; k++) {
        float r = sv->r[k];
        // forward: rs = r ∘ s_prev
        if (sp->grad) sp->grad[k] += d_rs[k] * r;
        // forward: r = σ(pre_r), with dr = d_rs ∘ s_prev
        d_pre_r[k] = d_rs[k] * sp->data[k] * r * (1.0f - r);
    }
    // forward: pre_z = W_z y + U_z s_prev + C_z c + b_z
    gate_terms(terms, m->W_z, m->U_z, m->C_z, y->data, y->grad, sp->data, sp->grad, c->data,
               c->grad);
    linear_sum_backward(B, S, terms, 3, m->b_z, d_pre_z, ctx->threads);
    // forward: pre_r = W_r y + U_r s_prev + C_r c + b_r
    gate_terms(terms, m->W_r, m->U_r, m->C_r, y->data, y->grad, sp->data, sp->grad, c->data,
               c->grad);
    linear_sum_backward(B, S, terms, 3, m->b_r, d_pre_r, ctx->threads);
    return AT_OK;
}

static at_status decoder_cell(at_ctx *ctx, const at_attention_decoder *m, at_tensor *y,
                              at_tensor *sp, at_tensor *c, at_tensor **s_out) {
    const int B = y->shape[0], S = m->state_size;
    const size_t n = (size_t)B * S;
    at_tensor *inputs[15] = {y,      sp,     c,      m->W_r, m->U_r, m->C_r, m->b_r, m->W_z,
                             m->U_z, m->C_z, m->b_z, m->W_p, m->U_p, m->C_p, m->b_p};
    int track = ati_tracking(ctx, 15, inputs);
    cell_saved sv = {.dec = *m, .B = B};
    AT_TRY(ati_scratch(ctx, (void **)&sv.r, n * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&sv.z, n * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&sv.cand, n * sizeof(float)));
    AT_TRY(ati_scratch(ctx, (void **)&sv.rs, n * sizeof(float)));
    at_tensor *s;
    AT_TRY(ati_result(ctx, &s, 2, (int[]){B, S}, track));
    linear_term terms[3];
    // r = σ(W_r y + U_r s_prev + C_r c + b_r)
    gate_terms(terms, m->W_r, m->U_r, m->C_r, y->data, NULL, sp->data, NULL, c->data, NULL);
    linear_sum(B, S, terms, 3, m->b_r, sv.r, ctx->threads);
    // z = σ(W_z y + U_z s_prev + C_z c + b_z)
    gate_terms(terms, m->W_z, m->U_z, m->C_z, y->data, NULL, sp->data, NULL, c->data, NULL);
    linear_sum(B, S, terms, 3, m->b_z, sv.z, ctx->threads);
    for (size_t k = 0; k < n; k++) {
        sv.r[k] = ati_fast_sigmoid(sv.r[k]);
        sv.z[k] = ati_fast_sigmoid(sv.z[k]);
        sv.rs[k] = sv.r[k] * sp->data[k]; // r ∘ s_prev
    }
    // s̃ = tanh(W_p y + U_p (r ∘ s_prev) + C_p c + b_p)
    gate_terms(terms, m->W_p, m->U_p, m->C_p, y->data, NULL, sv.rs, NULL, c->data, NULL);
    linear_sum(B, S, terms, 3, m->b_p, sv.cand, ctx->threads);
    for (size_t k = 0; k < n; k++) {
        sv.cand[k] = ati_fast_tanh(sv.cand[k]);
        // s = (1 − z) ∘ s_prev + z ∘ s̃
        s->data[k] = (1.0f - sv.z[k]) * sp->data[k] + sv.z[k] * sv.cand[k];
    }
    // explain one step: the gates and the proposal it shows (a no-op unless it runs)
    AT_TRY(ati_trace_put(ctx, "reset", sv.r, 2, (int[]){B, S}));
    AT_TRY(ati_trace_put(ctx, "update", sv.z, 2, (int[]){B, S}));
    AT_TRY(ati_trace_put(ctx, "proposal", sv.cand, 2, (int[]){B, S}));
    if (track) {
        cell_saved *kept;
        AT_TRY(ati_scratch(ctx, (void **)&kept, sizeof *kept));
        *kept = sv;
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "attention_decoder_cell", cell_backward, s, 3, inputs));
        node->saved = kept;
    }
    *s_out = s;
    return AT_OK;
}

/* ----------------------------------------------------------- readout */

/* node->in: y_prev, s_out, context, W_o, U_o, C_o, b_o. node->iarg[0]: B. */
static at_status readout_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *y = node->in[0], *s = node->in[1], *c = node->in[2];
    linear_term terms[3];
    // forward: logits = W_o y + U_o s_out + C_o c + b_o
    gate_terms(terms, node->in[3], node->in[4], node->in[5], y->data, y->grad, s->data, s->grad,
               c->data, c->grad);
    linear_sum_backward(node->iarg[0], node->in[3]->shape[0], terms, 3, node->in[6],
                        node->out->grad, ctx->threads);
    return AT_OK;
}

static at_status decoder_readout(at_ctx *ctx, const at_attention_decoder *m, at_tensor *y,
                                 at_tensor *s, at_tensor *c, at_tensor **logits) {
    const int B = y->shape[0], V = m->output_size;
    at_tensor *inputs[7] = {y, s, c, m->W_o, m->U_o, m->C_o, m->b_o};
    int track = ati_tracking(ctx, 7, inputs);
    at_tensor *out;
    AT_TRY(ati_result(ctx, &out, 2, (int[]){B, V}, track));
    linear_term terms[3];
    // logits = W_o y + U_o s_out + C_o c + b_o
    gate_terms(terms, m->W_o, m->U_o, m->C_o, y->data, NULL, s->data, NULL, c->data, NULL);
    linear_sum(B, V, terms, 3, m->b_o, out->data, ctx->threads);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "attention_decoder_readout", readout_backward, out, 7,
                              inputs));
        node->iarg[0] = B;
    }
    *logits = out;
    return AT_OK;
}

/* -------------------------------------------------------------- step */

static at_status step_check(at_ctx *ctx, const char *op, const at_attention_decoder *m,
                            const at_tensor *y, const at_tensor *sp, const at_tensor *ann) {
    char ys[64], ss[64];
    if (!m->W_r || !m->W_o || !m->attention.W_a)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the decoder is not initialised", op);
    AT_CHECK_TENSOR(ctx, y, "attention_decoder_step: y_prev");
    AT_CHECK_TENSOR(ctx, sp, "attention_decoder_step: s_prev");
    int B = y->shape[0];
    if (y->ndim != 2 || y->shape[1] != m->input_size || sp->ndim != 2 || sp->shape[0] != B ||
        sp->shape[1] != m->state_size)
        return at_ctx_fail(
            ctx, AT_ERR_SHAPE, "%s: y_prev %s and s_prev %s must be (B, %d) and (B, %d)", op,
            ati_shape_str(ys, sizeof ys, y->ndim, y->shape),
            ati_shape_str(ss, sizeof ss, sp->ndim, sp->shape), m->input_size, m->state_size);
    return attn_check_sequence(ctx, op, "annotations", ann, B, m->context_size, NULL);
}

at_status at_attention_decoder_step(at_ctx *ctx, const at_attention_decoder *dec, at_tensor *y_prev,
                                    at_tensor *s_prev, at_tensor *annotations, at_tensor *keys_proj,
                                    const at_attn_mask *mask, at_tensor **s, at_tensor **logits,
                                    at_tensor **weights) {
    return at_attention_decoder_step_ext(ctx, dec, y_prev, s_prev, annotations, keys_proj, mask, s,
                                         logits, weights, NULL);
}

at_status at_attention_decoder_step_ext(at_ctx *ctx, const at_attention_decoder *dec,
                                        at_tensor *y_prev, at_tensor *s_prev,
                                        at_tensor *annotations, at_tensor *keys_proj,
                                        const at_attn_mask *mask, at_tensor **s, at_tensor **logits,
                                        at_tensor **weights, at_tensor **context) {
    static const char op[] = "attention_decoder_step";
    if (!dec || !s || !logits)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: NULL decoder, s or logits", op);
    AT_TRY(step_check(ctx, op, dec, y_prev, s_prev, annotations));
    at_tensor *c, *alpha = NULL, *s_new, *out;
    // c_t = Σ_j α_tj h_j, α_t = softmax_j(v_aᵀ tanh(W_a s_{t−1} + U_a h_j + b_a))
    AT_TRY(at_additive_attend(ctx, &dec->attention, s_prev, keys_proj, annotations, mask, &c,
                              weights ? &alpha : NULL));
    // r_t, z_t, s̃_t, s_t
    AT_TRY(decoder_cell(ctx, dec, y_prev, s_prev, c, &s_new));
    // logits_t from s_t, or from s_{t−1} as the original code
    AT_TRY(decoder_readout(ctx, dec, y_prev, dec->output_from_previous_state ? s_prev : s_new, c,
                           &out));
    *s = s_new;
    *logits = out;
    if (weights) *weights = alpha;
    if (context) *context = c; // the cell and the readout read it: its gradient adds to theirs
    return AT_OK;
}
