/*
 * lstm.c - the long short-term memory layer, PyTorch's equations and layout.
 *
 * One step, for each batch row, gates in PyTorch's order i, f, g, o:
 *
 *     i = σ(W_ii x + b_ii + W_hi h_prev + b_hi)      input gate
 *     f = σ(W_if x + b_if + W_hf h_prev + b_hf)      forget gate
 *     g = tanh(W_ig x + b_ig + W_hg h_prev + b_hg)   candidate
 *     o = σ(W_io x + b_io + W_ho h_prev + b_ho)      output gate
 *     c = f * c_prev + i * g
 *     h = o * tanh(c)
 *
 * A whole sequence is ONE tape entry with hand-written backpropagation
 * through time. Forward: the input half of all pre-activations for all
 * steps in one gemm (see recurrent.c), then per step one (B, H) x (H, 4H)
 * product and the elementwise cell. The gate activations, every state and
 * tanh(c) stay in the arena for backward. Backward walks the steps in
 * reverse carrying dh and dc, writes the pre-activation gradients of every
 * step into one (T, B, 4H) buffer, and ends with the big weight gemms.
 *
 * Packed sequences: a row whose length has run out keeps its state and
 * outputs zeros; its gradients pass through unchanged (recurrent.c's step
 * schedule decides which rows are active at each step).
 */
#include "layers.h"

#include <string.h>

/* Everything backward needs, kept in the arena. */
typedef struct lstm_saved {
    rnn_dims d;
    rnn_weights w;
    float *xs;       // (T, B, I)   inputs in step order
    float *gates;    // (T, B, 4H)  activations i, f, g, o
    float *hs;       // (T+1, B, H) hs[0] = h0, hs[s+1] = state after step s
    float *cs;       // (T+1, B, H)
    float *tanh_c;   // (T, B, H)   tanh(cs[s+1])
    at_tensor *out;  // (B, T, H) or NULL
    at_tensor *h_n;  // (B, H)
    at_tensor *c_n;  // (B, H)
} lstm_saved;

static rnn_weights lstm_weights(const at_lstm *layer) {
    rnn_weights w = {layer->weight_ih, layer->weight_hh, layer->bias_ih, layer->bias_hh,
                     layer->input_size, layer->hidden_size, 4, layer->reverse};
    return w;
}

at_status at_lstm_init(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                       int input_size, int hidden_size, int reverse, at_rng *rng) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lstm_init: layer is NULL");
    rnn_weights w;
    AT_TRY(rnn_init_params(ctx, &w, params, prefix, 4, input_size, hidden_size, reverse, rng));
    // unit forget bias: b_if = 1, the rest 0
    for (int j = 0; j < hidden_size; j++) w.bias_ih->data[hidden_size + j] = 1.0f;
    *layer = (at_lstm){w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, input_size, hidden_size,
                       w.reverse};
    return AT_OK;
}

/* ---------------------------------------------------------------- forward */

/* One active row of one step: activate the gates in place, then the state. */
static void lstm_row_forward(int H, float *gate, const float *c_prev, float *c, float *tanh_c,
                             float *h) {
    float *i = gate, *f = gate + H, *g = gate + 2 * H, *o = gate + 3 * H;
#pragma omp simd // the gate blocks and states never overlap
    for (int j = 0; j < H; j++) {
        i[j] = at_fast_sigmoid(i[j]);
        f[j] = at_fast_sigmoid(f[j]);
        g[j] = at_fast_tanh(g[j]);
        o[j] = at_fast_sigmoid(o[j]);
        c[j] = f[j] * c_prev[j] + i[j] * g[j];
        tanh_c[j] = at_fast_tanh(c[j]);
        h[j] = o[j] * tanh_c[j];
    }
}

static void lstm_step_forward(const lstm_saved *sv, int s, const float *whh_t) {
    int B = sv->d.B, H = sv->d.H;
    float *gates = sv->gates + (size_t)s * B * 4 * H; // (B, 4H), holds the input half
    const float *h_prev = sv->hs + (size_t)s * B * H;  // (B, H)
    const float *c_prev = sv->cs + (size_t)s * B * H;  // (B, H)
    float *h = sv->hs + (size_t)(s + 1) * B * H;       // (B, H)
    float *c = sv->cs + (size_t)(s + 1) * B * H;       // (B, H)
    float *tanh_c = sv->tanh_c + (size_t)s * B * H;    // (B, H)
    // gates += h_prev W_hh^T : (B, H) x (H, 4H)
    at_gemm(0, 0, B, 4 * H, H, 1.0f, h_prev, H, whh_t, 4 * H, 1.0f, gates, 4 * H);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * H;
        if (rnn_active(&sv->d, s, b)) {
            lstm_row_forward(H, gates + row * 4, c_prev + row, c + row, tanh_c + row, h + row);
        } else { // the row has ended: carry its state
            memcpy(h + row, h_prev + row, (size_t)H * sizeof(float));
            memcpy(c + row, c_prev + row, (size_t)H * sizeof(float));
        }
    }
}

/* ---------------------------------------------------------------- backward */

/* One active row of one step. On entry dh, dc are the gradients of h, c
 * after the step; on exit dc is that of c_prev and dh is zero (its
 * recurrent part, d_gate W_hh, is added by the caller). */
static void lstm_row_backward(int H, const float *gate, const float *c_prev,
                              const float *tanh_c, float *dh, float *dc, float *d_gate) {
    const float *i = gate, *f = gate + H, *g = gate + 2 * H, *o = gate + 3 * H;
    float *d_i = d_gate, *d_f = d_gate + H, *d_g = d_gate + 2 * H, *d_o = d_gate + 3 * H;
#pragma omp simd // the gate blocks and states never overlap
    for (int j = 0; j < H; j++) {
        // forward: h = o * tanh(c)
        float d_out_gate = dh[j] * tanh_c[j];
        float d_c = dc[j] + dh[j] * o[j] * (1.0f - tanh_c[j] * tanh_c[j]);
        // forward: c = f * c_prev + i * g
        float d_input_gate = d_c * g[j];
        float d_forget_gate = d_c * c_prev[j];
        float d_candidate = d_c * i[j];
        dc[j] = d_c * f[j];
        // forward: i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
        d_i[j] = d_input_gate * i[j] * (1.0f - i[j]);
        d_f[j] = d_forget_gate * f[j] * (1.0f - f[j]);
        d_g[j] = d_candidate * (1.0f - g[j] * g[j]);
        d_o[j] = d_out_gate * o[j] * (1.0f - o[j]);
        dh[j] = 0.0f;
    }
}

static void lstm_step_backward(const lstm_saved *sv, int s, float *dh, float *dc,
                               float *d_gates) {
    int B = sv->d.B, H = sv->d.H;
    const float *gates = sv->gates + (size_t)s * B * 4 * H;  // (B, 4H)
    const float *c_prev = sv->cs + (size_t)s * B * H;         // (B, H)
    const float *tanh_c = sv->tanh_c + (size_t)s * B * H;     // (B, H)
    float *d_step = d_gates + (size_t)s * B * 4 * H;          // (B, 4H)
    if (sv->out && sv->out->grad) rnn_gather_output_grad(&sv->d, s, sv->out->grad, dh);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * H;
        // an ended row carried its state: dh, dc pass through, d_step stays 0
        if (!rnn_active(&sv->d, s, b)) continue;
        lstm_row_backward(H, gates + row * 4, c_prev + row, tanh_c + row, dh + row, dc + row,
                          d_step + row * 4);
    }
    // forward: gates += h_prev W_hh^T
    at_gemm(0, 0, B, H, 4 * H, 1.0f, d_step, 4 * H, sv->w.weight_hh->data, H, 1.0f, dh, H);
}

static void copy_or_zero(float *dst, const float *src, size_t n) {
    if (src) memcpy(dst, src, n * sizeof(float));
    else memset(dst, 0, n * sizeof(float));
}

static at_status lstm_backward(at_ctx *ctx, at_node *node) {
    const lstm_saved *sv = node->saved;
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H;
    void *memory;
    AT_TRY(at_scratch(ctx, &memory, 2 * state * sizeof(float)));
    float *dh = memory;      // (B, H) gradient of the current h
    float *dc = dh + state;  // (B, H) gradient of the current c
    // forward: h_n = hs[T], c_n = cs[T]
    copy_or_zero(dh, sv->h_n->grad, state);
    copy_or_zero(dc, sv->c_n->grad, state);
    AT_TRY(at_scratch_zero(ctx, &memory, (size_t)d->T * state * 4 * sizeof(float)));
    float *d_gates = memory; // (T, B, 4H) pre-activation gradients

    for (int s = d->T - 1; s >= 0; s--) lstm_step_backward(sv, s, dh, dc, d_gates);

    // forward: hs[0] = h0, cs[0] = c0
    rnn_accumulate(node->in[1], dh);
    rnn_accumulate(node->in[2], dc);
    return rnn_backward_weights_and_inputs(ctx, d, &sv->w, node->in[0], sv->xs, sv->hs, d_gates,
                                           d_gates);
}

/* ------------------------------------------------------------ the op */

static at_status lstm_alloc(at_ctx *ctx, lstm_saved *sv) {
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H;
    void *memory;
    AT_TRY(at_scratch(ctx, &memory, (2 * (d->T + 1) + d->T) * state * sizeof(float)));
    sv->hs = memory;
    sv->cs = sv->hs + (d->T + 1) * state;
    sv->tanh_c = sv->cs + (d->T + 1) * state;
    return AT_OK;
}

/* The sequence (sequence = 1, x (B, T, I)) and the single step
 * (sequence = 0, x (B, I)) share everything. */
static at_status lstm_run(at_ctx *ctx, const at_lstm *layer, at_tensor *x, int sequence,
                          const int32_t *lengths, at_tensor *h0, at_tensor *c0, at_tensor **out,
                          at_tensor **h_n, at_tensor **c_n) {
    const char *op = sequence ? "lstm_forward" : "lstm_cell";
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    lstm_saved *sv;
    void *memory;
    AT_TRY(at_scratch_zero(ctx, &memory, sizeof *sv));
    sv = memory;
    sv->w = lstm_weights(layer);
    AT_TRY(rnn_prepare(ctx, op, &sv->w, x, sequence, lengths, h0, c0, &sv->d));
    const rnn_dims *d = &sv->d;
    at_tensor *inputs[7] = {x, h0, c0, layer->weight_ih, layer->weight_hh, layer->bias_ih,
                            layer->bias_hh};
    int track = at_tracking(ctx, 7, inputs);

    int out_shape[3] = {d->B, d->T, d->H}, state_shape[2] = {d->B, d->H};
    if (out) AT_TRY(at_result(ctx, &sv->out, 3, out_shape, track));
    AT_TRY(at_result(ctx, &sv->h_n, 2, state_shape, track));
    AT_TRY(at_result(ctx, &sv->c_n, 2, state_shape, track));
    AT_TRY(lstm_alloc(ctx, sv));
    AT_TRY(rnn_gather_inputs(ctx, d, x, &sv->xs));
    AT_TRY(rnn_project_inputs(ctx, d, &sv->w, sv->xs, 1, &sv->gates));
    float *whh_t;
    AT_TRY(rnn_transpose_hh(ctx, d, &sv->w, &whh_t));

    size_t state = (size_t)d->B * d->H;
    rnn_initial_state(d, h0, sv->hs);
    rnn_initial_state(d, c0, sv->cs);
    for (int s = 0; s < d->T; s++) lstm_step_forward(sv, s, whh_t);
    if (sv->out) rnn_scatter_outputs(d, sv->hs, sv->out->data);
    memcpy(sv->h_n->data, sv->hs + d->T * state, state * sizeof(float));
    memcpy(sv->c_n->data, sv->cs + d->T * state, state * sizeof(float));

    if (track) {
        at_node *node;
        AT_TRY(at_tape_record(ctx, &node, op, lstm_backward, sv->h_n, 7, inputs));
        node->saved = sv;
    }
    if (out) *out = sv->out;
    if (h_n) *h_n = sv->h_n;
    if (c_n) *c_n = sv->c_n;
    return AT_OK;
}

at_status at_lstm_forward(at_ctx *ctx, const at_lstm *layer, at_tensor *x,
                          const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                          at_tensor **out, at_tensor **h_n, at_tensor **c_n) {
    return lstm_run(ctx, layer, x, 1, lengths, h0, c0, out, h_n, c_n);
}

/* h, c may be NULL for zero states. */
at_status at_lstm_cell(at_ctx *ctx, const at_lstm *layer, at_tensor *x, at_tensor *h,
                       at_tensor *c, at_tensor **h_out, at_tensor **c_out) {
    return lstm_run(ctx, layer, x, 0, NULL, h, c, NULL, h_out, c_out);
}
