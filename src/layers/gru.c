/*
 * gru.c - the gated recurrent unit, PyTorch's equations and layout.
 *
 * One step, for each batch row, gates in PyTorch's order r, z, n:
 *
 *     r = σ(W_ir x + b_ir + W_hr h_prev + b_hr)        reset gate
 *     z = σ(W_iz x + b_iz + W_hz h_prev + b_hz)        update gate
 *     n = tanh(W_in x + b_in + r * (W_hn h_prev + b_hn))   candidate
 *     h = (1 - z) * n + z * h_prev
 *
 * The reset gate multiplies the hidden half of n, bias included, so the two
 * halves of each pre-activation are kept apart: proj = x W_ih^T + b_ih for
 * all steps in one gemm (recurrent.c), and per step hidden = h W_hh^T + b_hh.
 * Each step's hidden block stays in the arena for backward, with r, z, n.
 *
 * A whole sequence is ONE tape entry with hand-written backpropagation
 * through time, built as in lstm.c; a GRU needs two gradient buffers, one
 * for the input half (d_proj) and one for the hidden half (d_hidden), as
 * their n parts differ by the factor r.
 */
#include "layers.h"

#include <string.h>

typedef struct gru_saved {
    rnn_dims d;
    rnn_weights w;
    float *xs;      // (T, B, I)   inputs in step order
    float *gates;   // (T, B, 3H)  activations r, z, n (input half before the step)
    float *hidden;  // (T, B, 3H)  h_prev W_hh^T + b_hh
    float *hs;      // (T+1, B, H) hs[0] = h0, hs[s+1] = state after step s
    at_tensor *out; // (B, T, H) or NULL
    at_tensor *h_n; // (B, H)
    float *whh_t;   // (H, 3H) W_hh^T for a sequence; NULL for one step
    int threads;    // for the products
} gru_saved;

static rnn_weights gru_weights(const at_gru *layer) {
    rnn_weights w = {layer->weight_ih, layer->weight_hh, layer->bias_ih, layer->bias_hh,
                     layer->input_size, layer->hidden_size, 3, layer->reverse};
    return w;
}

at_status at_gru_init(at_ctx *ctx, at_gru *layer, at_params *params, const char *prefix,
                      int input_size, int hidden_size, int reverse, at_rng *rng) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "gru_init: layer is NULL");
    rnn_weights w;
    AT_TRY(rnn_init_params(ctx, &w, params, prefix, 0, 3, input_size, hidden_size, reverse, rng));
    *layer = (at_gru){w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, input_size, hidden_size,
                      w.reverse};
    return AT_OK;
}

/* ---------------------------------------------------------------- forward */

/* One active row of one step: gate holds the input half of r, z, n and is
 * overwritten with their activations. */
static void gru_row_forward(int H, float *gate, const float *hidden, const float *h_prev,
                            float *h) {
    float *r = gate, *z = gate + H, *n = gate + 2 * H;
    const float *hr = hidden, *hz = hidden + H, *hn = hidden + 2 * H;
#pragma omp simd // the gate blocks and states never overlap
    for (int j = 0; j < H; j++) {
        r[j] = ati_fast_sigmoid(r[j] + hr[j]);
        z[j] = ati_fast_sigmoid(z[j] + hz[j]);
        n[j] = ati_fast_tanh(n[j] + r[j] * hn[j]);
        h[j] = (1.0f - z[j]) * n[j] + z[j] * h_prev[j];
    }
}

static void gru_step_forward(const gru_saved *sv, int s) {
    int B = sv->d.B, H = sv->d.H, G3 = 3 * H;
    float *gates = sv->gates + (size_t)s * B * G3;   // (B, 3H)
    float *hidden = sv->hidden + (size_t)s * B * G3; // (B, 3H)
    const float *h_prev = sv->hs + (size_t)s * B * H; // (B, H)
    float *h = sv->hs + (size_t)(s + 1) * B * H;      // (B, H)
    const float *b_hh = sv->w.bias_hh->data;
    // hidden = h_prev W_hh^T + b_hh : (B, H) x (H, 3H); one step packs W_hh (3H, H)
    // as it goes, a sequence reads W_hh^T made once
    if (sv->whh_t)
        ati_gemm_bias(0, 0, B, G3, H, 1.0f, h_prev, H, sv->whh_t, G3, b_hh, hidden, G3,
                     sv->threads);
    else
        ati_gemm_bias(0, 1, B, G3, H, 1.0f, h_prev, H, sv->w.weight_hh->data, H, b_hh, hidden, G3,
                     sv->threads);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * H;
        if (rnn_active(&sv->d, s, b))
            gru_row_forward(H, gates + row * 3, hidden + row * 3, h_prev + row, h + row);
        else // the row has ended: carry its state
            memcpy(h + row, h_prev + row, (size_t)H * sizeof(float));
    }
}

/* ---------------------------------------------------------------- backward */

/* One active row of one step. On entry dh is the gradient of h after the
 * step; on exit it holds the direct part of dh_prev (the caller adds the
 * recurrent part d_hidden W_hh). */
static void gru_row_backward(int H, const float *gate, const float *hidden, const float *h_prev,
                             float *dh, float *d_proj, float *d_hidden) {
    const float *r = gate, *z = gate + H, *n = gate + 2 * H, *hn = hidden + 2 * H;
    float *dp_r = d_proj, *dp_z = d_proj + H, *dp_n = d_proj + 2 * H;
    float *dh_r = d_hidden, *dh_z = d_hidden + H, *dh_n = d_hidden + 2 * H;
#pragma omp simd // the gate blocks and states never overlap
    for (int j = 0; j < H; j++) {
        // forward: h = (1 - z) * n + z * h_prev
        float d_candidate = dh[j] * (1.0f - z[j]);
        float d_update = dh[j] * (h_prev[j] - n[j]);
        float d_h_prev = dh[j] * z[j];
        // forward: n = tanh(a_n), a_n = x_n + r * hn
        float d_a_n = d_candidate * (1.0f - n[j] * n[j]);
        float d_reset = d_a_n * hn[j];
        // forward: r = σ(a_r), z = σ(a_z)
        float d_a_r = d_reset * r[j] * (1.0f - r[j]);
        float d_a_z = d_update * z[j] * (1.0f - z[j]);
        // forward: a_r = x_r + hr, a_z = x_z + hz, a_n = x_n + r * hn
        dp_r[j] = d_a_r;
        dp_z[j] = d_a_z;
        dp_n[j] = d_a_n;
        dh_r[j] = d_a_r;
        dh_z[j] = d_a_z;
        dh_n[j] = d_a_n * r[j];
        dh[j] = d_h_prev;
    }
}

static void gru_step_backward(const gru_saved *sv, int s, float *dh, float *d_proj,
                              float *d_hidden) {
    int B = sv->d.B, H = sv->d.H, G3 = 3 * H;
    const float *gates = sv->gates + (size_t)s * B * G3;   // (B, 3H)
    const float *hidden = sv->hidden + (size_t)s * B * G3; // (B, 3H)
    const float *h_prev = sv->hs + (size_t)s * B * H;      // (B, H)
    float *dp = d_proj + (size_t)s * B * G3;                // (B, 3H)
    float *dhid = d_hidden + (size_t)s * B * G3;            // (B, 3H)
    if (sv->out && sv->out->grad) rnn_gather_output_grad(&sv->d, s, sv->out->grad, H, dh);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * H;
        if (!rnn_active(&sv->d, s, b)) {
            // an ended row carried its state: dh passes through, dp and dhid are 0
            memset(dp + row * 3, 0, (size_t)G3 * sizeof(float));
            memset(dhid + row * 3, 0, (size_t)G3 * sizeof(float));
            continue;
        }
        gru_row_backward(H, gates + row * 3, hidden + row * 3, h_prev + row, dh + row,
                         dp + row * 3, dhid + row * 3);
    }
    // forward: hidden = h_prev W_hh^T + b_hh
    ati_gemm_threads(0, 0, B, H, G3, 1.0f, dhid, G3, sv->w.weight_hh->data, H, 1.0f, dh, H,
                    sv->threads);
}

static at_status gru_backward(at_ctx *ctx, ati_node *node) {
    const gru_saved *sv = node->saved;
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H, steps = (size_t)d->T * state * 3;
    at_tensor *x = node->in[0];
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, (state + 2 * steps + 3 * d->H) * sizeof(float)));
    float *dh = memory;               // (B, H) gradient of the current h
    float *d_proj = dh + state;       // (T, B, 3H)
    float *d_hidden = d_proj + steps; // (T, B, 3H)
    float *bias_sums = d_hidden + steps; // (3H)
    float *dxs = NULL;                // (T, B, I), only when rows end early
    if (x->grad && !d->all_active) {
        AT_TRY(ati_scratch(ctx, &memory, (size_t)d->T * d->B * d->I * sizeof(float)));
        dxs = memory;
    }
    // forward: h_n = hs[T]
    if (sv->h_n->grad) memcpy(dh, sv->h_n->grad, state * sizeof(float));
    else memset(dh, 0, state * sizeof(float));

    for (int s = d->T - 1; s >= 0; s--) gru_step_backward(sv, s, dh, d_proj, d_hidden);

    // forward: hs[0] = h0
    rnn_accumulate(node->in[1], dh);
    rnn_backward_weights(d, &sv->w, sv->xs, sv->hs, d_proj, d_hidden, bias_sums, dxs,
                         sv->threads);
    // forward: xs = x in step order, proj = xs W_ih^T + b_ih
    if (dxs) rnn_scatter_input_grad(d, dxs, x->grad);
    else if (x->grad) rnn_input_grad_rows(d, &sv->w, d_proj, x->grad, 0, d->B, sv->threads);
    return AT_OK;
}

/* ------------------------------------------------------------ the op */

static at_status gru_run(at_ctx *ctx, const at_gru *layer, at_tensor *x, int sequence,
                         const int32_t *lengths, at_tensor *h0, at_tensor **out,
                         at_tensor **h_n) {
    const char *op = sequence ? "gru_forward" : "gru_cell";
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    void *memory;
    AT_TRY(ati_scratch_zero(ctx, &memory, sizeof(gru_saved)));
    gru_saved *sv = memory;
    sv->w = gru_weights(layer);
    AT_TRY(rnn_prepare(ctx, op, &sv->w, x, sequence, lengths, h0, NULL, &sv->d));
    const rnn_dims *d = &sv->d;
    at_tensor *inputs[6] = {x, h0, layer->weight_ih, layer->weight_hh, layer->bias_ih,
                            layer->bias_hh};
    int track = ati_tracking(ctx, 6, inputs);

    int out_shape[3] = {d->B, d->T, d->H}, state_shape[2] = {d->B, d->H};
    if (out) { // every element written unless rows end early (they output zeros)
        if (d->all_active) AT_TRY(ati_result_uninit(ctx, &sv->out, 3, out_shape, track));
        else AT_TRY(ati_result(ctx, &sv->out, 3, out_shape, track));
    }
    AT_TRY(ati_result_uninit(ctx, &sv->h_n, 2, state_shape, track));
    sv->threads = ctx->threads;
    size_t state = (size_t)d->B * d->H, rows = (size_t)d->T * d->B;
    AT_TRY(ati_scratch(ctx, &memory,
                      ((d->T + 1) * state + rows * (d->I + 6 * (size_t)d->H)) * sizeof(float)));
    sv->hs = memory;                     // (T+1, B, H)
    sv->hidden = sv->hs + (d->T + 1) * state; // (T, B, 3H)
    sv->gates = sv->hidden + rows * 3 * d->H; // (T, B, 3H)
    sv->xs = sv->gates + rows * 3 * d->H;     // (T, B, I)
    if (d->T > 1 && d->B > 1) { /* one row reads W_hh as stored (gru_step_forward) */
        AT_TRY(ati_scratch(ctx, &memory, (size_t)3 * d->H * d->H * sizeof(float)));
        sv->whh_t = memory; // (H, 3H)
        rnn_transpose_hh(d, &sv->w, sv->whh_t);
    }
    rnn_gather_inputs(d, x, sv->xs);
    rnn_project_inputs(d, &sv->w, sv->xs, NULL, sv->gates, sv->threads);

    rnn_initial_state(d, h0, sv->hs);
    for (int s = 0; s < d->T; s++) gru_step_forward(sv, s);
    if (sv->out) rnn_scatter_outputs(d, sv->hs, sv->out->data, d->H);
    memcpy(sv->h_n->data, sv->hs + d->T * state, state * sizeof(float));

    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, gru_backward, sv->h_n, 6, inputs));
        node->saved = sv;
    }
    if (out) *out = sv->out;
    if (h_n) *h_n = sv->h_n;
    return AT_OK;
}

at_status at_gru_forward(at_ctx *ctx, const at_gru *layer, at_tensor *x, const int32_t *lengths,
                         at_tensor *h0, at_tensor **out, at_tensor **h_n) {
    return gru_run(ctx, layer, x, 1, lengths, h0, out, h_n);
}

/* h may be NULL for a zero state. */
at_status at_gru_cell(at_ctx *ctx, const at_gru *layer, at_tensor *x, at_tensor *h,
                      at_tensor **h_out) {
    return gru_run(ctx, layer, x, 0, NULL, h, NULL, h_out);
}
