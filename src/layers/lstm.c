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
 *
 * Each pass is split into a prepare (checks, allocations: needs the
 * context) and a compute (no allocation, writes only this call's memory),
 * so that bilstm.c can run two directions on two threads (layers.h).
 */
#include "layers.h"

#include <string.h>

static rnn_weights lstm_weights(const at_lstm *layer) {
    rnn_weights w = {layer->weight_ih, layer->weight_hh, layer->bias_ih, layer->bias_hh,
                     layer->input_size, layer->hidden_size, 4, layer->reverse};
    return w;
}

at_status at_lstm_init(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                       int input_size, int hidden_size, int reverse, at_rng *rng) {
    return lstm_init_layer(ctx, layer, params, prefix, 0, input_size, hidden_size, reverse, rng);
}

at_status lstm_init_layer(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                          int index, int input_size, int hidden_size, int reverse, at_rng *rng) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lstm_init: layer is NULL");
    rnn_weights w;
    AT_TRY(rnn_init_params(ctx, &w, params, prefix, index, 4, input_size, hidden_size, reverse,
                           rng));
    // unit forget bias: b_if = 1, the rest 0 (all 0 when rng is NULL: nothing is initialised)
    if (rng)
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
        i[j] = ati_fast_sigmoid(i[j]);
        f[j] = ati_fast_sigmoid(f[j]);
        g[j] = ati_fast_tanh(g[j]);
        o[j] = ati_fast_sigmoid(o[j]);
        c[j] = f[j] * c_prev[j] + i[j] * g[j];
        tanh_c[j] = ati_fast_tanh(c[j]);
        h[j] = o[j] * tanh_c[j];
    }
}

/* Whether a call makes W_hh^T (rnn_transpose_hh) for its steps: only when
 * there are several rows and several steps to share the copy. One step (a
 * decoder's cell) would copy all of W_hh for a single product, which the
 * gemm does as well with W_hh as stored (the G2P decoder's 1 MB W_hh: 6% of
 * a training step went to the copy). The sums are the same either way. */
static int lstm_transposes_hh(const rnn_dims *d) { return d->B > 1 && d->T > 1; }

/* Whether a step's gate work (B rows of H) is cut between threads: each
 * row is its own, so the bits are the same either way. Inside a BiLSTM on
 * two threads each direction has one, and this stays serial. */
static int lstm_rows_threaded(int B, int H, int threads) {
    return threads > 1 && B > 1 && (long)B * H >= (1L << 13);
}

static void lstm_step_row_forward(const lstm_saved *sv, int s, int b, float *gates,
                                  const float *next_gates, const float *c_prev,
                                  const float *h_prev, float *c, float *tanh_c, float *h) {
    int H = sv->d.H;
    size_t row = (size_t)b * H;
    if (next_gates) rnn_prefetch(next_gates + row * 4, 4 * (size_t)H);
    if (rnn_active(&sv->d, s, b)) {
        lstm_row_forward(H, gates + row * 4, c_prev + row, c + row, tanh_c + row, h + row);
    } else { // the row has ended: carry its state
        memcpy(h + row, h_prev + row, (size_t)H * sizeof(float));
        memcpy(c + row, c_prev + row, (size_t)H * sizeof(float));
    }
}

static void lstm_step_forward(const lstm_saved *sv, int s, int threads) {
    int B = sv->d.B, H = sv->d.H;
    float *gates = sv->gates + (size_t)s * B * 4 * H; // (B, 4H), holds the input half
    const float *h_prev = sv->hs + (size_t)s * B * H;  // (B, H)
    const float *c_prev = sv->cs + (size_t)s * B * H;  // (B, H)
    float *h = sv->hs + (size_t)(s + 1) * B * H;       // (B, H)
    float *c = sv->cs + (size_t)(s + 1) * B * H;       // (B, H)
    float *tanh_c = sv->tanh_c + (size_t)s * B * H;    // (B, H)
    // gates += h_prev W_hh^T : (B, H) x (H, 4H); one row, or one step, reads
    // W_hh (4H, H) as stored, more rows over more steps read the W_hh^T made
    // once per call
    if (!lstm_transposes_hh(&sv->d))
        ati_gemm_threads(0, 1, B, 4 * H, H, 1.0f, h_prev, H, sv->w.weight_hh->data, H, 1.0f,
                        gates, 4 * H, threads);
    else
        ati_gemm_threads(0, 0, B, 4 * H, H, 1.0f, h_prev, H, sv->whh_t, 4 * H, 1.0f, gates,
                        4 * H, threads);
    const float *next_gates = s + 1 < sv->d.T ? gates + (size_t)B * 4 * H : NULL; // step s+1
    if (!lstm_rows_threaded(B, H, threads)) {
        for (int b = 0; b < B; b++)
            lstm_step_row_forward(sv, s, b, gates, next_gates, c_prev, h_prev, c, tanh_c, h);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < B; b++)
        lstm_step_row_forward(sv, s, b, gates, next_gates, c_prev, h_prev, c, tanh_c, h);
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

static void lstm_step_row_backward(const lstm_saved *sv, int s, int b, const float *gates,
                                   const float *c_prev, const float *tanh_c, float *dh, float *dc,
                                   float *d_step) {
    int B = sv->d.B, H = sv->d.H;
    size_t row = (size_t)b * H;
    if (s > 0) { // the rows step s-1 will read
        rnn_prefetch(gates - (size_t)B * 4 * H + row * 4, 4 * (size_t)H);
        rnn_prefetch(c_prev - (size_t)B * H + row, (size_t)H);
        rnn_prefetch(tanh_c - (size_t)B * H + row, (size_t)H);
    }
    if (!rnn_active(&sv->d, s, b)) {
        // an ended row carried its state: dh, dc pass through, d_step is 0
        memset(d_step + row * 4, 0, 4 * (size_t)H * sizeof(float));
        return;
    }
    lstm_row_backward(H, gates + row * 4, c_prev + row, tanh_c + row, dh + row, dc + row,
                      d_step + row * 4);
}

static void lstm_step_backward(const lstm_saved *sv, int s, float *dh, float *dc,
                               float *d_gates, int threads) {
    int B = sv->d.B, H = sv->d.H;
    const float *gates = sv->gates + (size_t)s * B * 4 * H;  // (B, 4H)
    const float *c_prev = sv->cs + (size_t)s * B * H;         // (B, H)
    const float *tanh_c = sv->tanh_c + (size_t)s * B * H;     // (B, H)
    float *d_step = d_gates + (size_t)s * B * 4 * H;          // (B, 4H)
    if (sv->out && sv->out->grad)
        rnn_gather_output_grad(&sv->d, s, sv->out->grad + sv->out_col, sv->out_ld, dh);
    if (!lstm_rows_threaded(B, H, threads)) {
        for (int b = 0; b < B; b++)
            lstm_step_row_backward(sv, s, b, gates, c_prev, tanh_c, dh, dc, d_step);
    } else {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int b = 0; b < B; b++)
            lstm_step_row_backward(sv, s, b, gates, c_prev, tanh_c, dh, dc, d_step);
    }
    // forward: gates += h_prev W_hh^T
    ati_gemm_threads(0, 0, B, H, 4 * H, 1.0f, d_step, 4 * H, sv->w.weight_hh->data, H, 1.0f, dh,
                    H, threads);
}

static void copy_or_zero(float *dst, const float *src, size_t n) {
    if (src) memcpy(dst, src, n * sizeof(float));
    else memset(dst, 0, n * sizeof(float));
}

at_status lstm_backward_prepare(at_ctx *ctx, const lstm_saved *sv, lstm_grads *g) {
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H, rows = (size_t)d->T * d->B;
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, (2 * state + rows * 4 * d->H + 4 * d->H) * sizeof(float)));
    g->dh = memory;
    g->dc = g->dh + state;
    g->d_gates = g->dc + state;
    g->bias_sums = g->d_gates + rows * 4 * d->H;
    g->dxs = NULL;
    if (sv->x->grad && !d->all_active) {
        AT_TRY(ati_scratch(ctx, &memory, rows * d->I * sizeof(float)));
        g->dxs = memory;
    }
    return AT_OK;
}

void lstm_backward_compute(const lstm_saved *sv, const lstm_grads *g, int threads) {
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H;
    // forward: h_n = hs[T], c_n = cs[T]
    copy_or_zero(g->dh, sv->h_n->grad ? sv->h_n->grad + sv->h_n_at : NULL, state);
    copy_or_zero(g->dc, sv->c_n ? sv->c_n->grad : NULL, state);
    for (int s = d->T - 1; s >= 0; s--)
        lstm_step_backward(sv, s, g->dh, g->dc, g->d_gates, threads);
    rnn_backward_weights(d, &sv->w, sv->xs, sv->hs, g->d_gates, g->d_gates, g->bias_sums, g->dxs,
                         threads);
}

void lstm_backward_finish(const lstm_saved *sv, const lstm_grads *g, int b0, int b1,
                          int threads) {
    int first = b0 == 0 && b1 > 0; // the one range that holds row 0
    if (first) {
        // forward: hs[0] = h0, cs[0] = c0
        rnn_accumulate(sv->h0, g->dh);
        rnn_accumulate(sv->c0, g->dc);
    }
    if (!sv->x->grad) return;
    // forward: xs = x in step order, proj = xs W_ih^T + b
    if (sv->d.all_active)
        rnn_input_grad_rows(&sv->d, &sv->w, g->d_gates, sv->x->grad, b0, b1, threads);
    else if (first)
        rnn_scatter_input_grad(&sv->d, g->dxs, sv->x->grad);
}

static at_status lstm_backward(at_ctx *ctx, ati_node *node) {
    const lstm_saved *sv = node->saved;
    lstm_grads g;
    AT_TRY(lstm_backward_prepare(ctx, sv, &g));
    lstm_backward_compute(sv, &g, sv->threads);
    lstm_backward_finish(sv, &g, 0, sv->d.B, sv->threads);
    return AT_OK;
}

/* ------------------------------------------------------------ the op */

at_status lstm_prepare(at_ctx *ctx, const char *op, const at_lstm *layer, at_tensor *x,
                       int sequence, const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                       lstm_saved **out) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer is NULL", op);
    void *memory;
    AT_TRY(ati_scratch_zero(ctx, &memory, sizeof(lstm_saved)));
    lstm_saved *sv = memory;
    sv->w = lstm_weights(layer);
    AT_TRY(rnn_prepare(ctx, op, &sv->w, x, sequence, lengths, h0, c0, &sv->d));
    const rnn_dims *d = &sv->d;
    sv->x = x;
    sv->h0 = h0;
    sv->c0 = c0;
    sv->threads = ctx->threads;
    size_t state = (size_t)d->B * d->H, rows = (size_t)d->T * d->B;
    AT_TRY(ati_scratch(ctx, &memory,
                      ((2 * (d->T + 1) + d->T) * state + rows * (d->I + 4 * d->H) +
                       4 * (size_t)d->H * (d->H + 1)) * sizeof(float)));
    sv->hs = memory;
    sv->cs = sv->hs + (d->T + 1) * state;
    sv->tanh_c = sv->cs + (d->T + 1) * state;
    sv->xs = sv->tanh_c + d->T * state;
    sv->gates = sv->xs + rows * d->I;
    sv->whh_t = sv->gates + rows * 4 * d->H;
    sv->bias_sum = sv->whh_t + 4 * (size_t)d->H * d->H;
    *out = sv;
    return AT_OK;
}

void lstm_compute(lstm_saved *sv, int threads) {
    const rnn_dims *d = &sv->d;
    size_t state = (size_t)d->B * d->H;
    rnn_gather_inputs(d, sv->x, sv->xs);
    rnn_project_inputs(d, &sv->w, sv->xs, sv->bias_sum, sv->gates, threads);
    if (lstm_transposes_hh(d)) rnn_transpose_hh(d, &sv->w, sv->whh_t);
    rnn_initial_state(d, sv->h0, sv->hs);
    rnn_initial_state(d, sv->c0, sv->cs);
    for (int s = 0; s < d->T; s++) lstm_step_forward(sv, s, threads);
    if (sv->out) rnn_scatter_outputs(d, sv->hs, sv->out->data + sv->out_col, sv->out_ld);
    memcpy(sv->h_n->data + sv->h_n_at, sv->hs + d->T * state, state * sizeof(float));
    if (sv->c_n) memcpy(sv->c_n->data, sv->cs + d->T * state, state * sizeof(float));
}

/* The sequence (sequence = 1, x (B, T, I)) and the single step
 * (sequence = 0, x (B, I)) share everything. */
static at_status lstm_run(at_ctx *ctx, const at_lstm *layer, at_tensor *x, int sequence,
                          const int32_t *lengths, at_tensor *h0, at_tensor *c0, at_tensor **out,
                          at_tensor **h_n, at_tensor **c_n) {
    const char *op = sequence ? "lstm_forward" : "lstm_cell";
    lstm_saved *sv = NULL;
    AT_TRY(lstm_prepare(ctx, op, layer, x, sequence, lengths, h0, c0, &sv));
    const rnn_dims *d = &sv->d;
    at_tensor *inputs[7] = {x, h0, c0, layer->weight_ih, layer->weight_hh, layer->bias_ih,
                            layer->bias_hh};
    int track = ati_tracking(ctx, 7, inputs);

    int out_shape[3] = {d->B, d->T, d->H}, state_shape[2] = {d->B, d->H};
    if (out) { // every element written unless rows end early (they output zeros)
        if (d->all_active) AT_TRY(ati_result_uninit(ctx, &sv->out, 3, out_shape, track));
        else AT_TRY(ati_result(ctx, &sv->out, 3, out_shape, track));
        sv->out_ld = d->H;
    }
    AT_TRY(ati_result_uninit(ctx, &sv->h_n, 2, state_shape, track));
    AT_TRY(ati_result_uninit(ctx, &sv->c_n, 2, state_shape, track));
    lstm_compute(sv, ctx->threads);

    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, lstm_backward, sv->h_n, 7, inputs));
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
