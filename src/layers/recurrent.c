/*
 * recurrent.c - what LSTM and GRU share: parameters, checks, the step
 * schedule, and the big products before and after the recurrence.
 *
 * A recurrent layer spends its time in small products. The input half of
 * every gate pre-activation does not depend on the state, so it is done
 * for all steps at once, before the recurrence:
 *
 *     proj (T*B, G*H) = xs (T*B, I) W_ih^T + b_ih           one gemm
 *
 * Only h W_hh^T is left inside the loop. Backward mirrors this: the loop
 * produces the pre-activation gradients of every step, and then
 *
 *     dW_ih += d_proj^T xs      dx = d_proj W_ih      dW_hh += d_hidden^T hs
 *
 * are three big gemms over all T*B rows. Rows that have ended (packed
 * sequences) carry zero gradient there, so they drop out of the sums.
 *
 * None of the helpers after rnn_prepare allocates or touches the context:
 * the caller allocates first, then computes, so that two directions of a
 * bidirectional layer can compute on two threads at once.
 */
#include "layers.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ parameters */

at_status rnn_init_params(at_ctx *ctx, rnn_weights *w, at_params *params, const char *prefix,
                          int index, int gates, int input_size, int hidden_size, int reverse,
                          at_rng *rng) {
    if (!w || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "recurrent init: NULL layer or params");
    if (input_size <= 0 || hidden_size <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "recurrent init: input_size %d and hidden_size %d must be > 0",
                           input_size, hidden_size);
    if (index < 0 || index > 999)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "recurrent init: layer index %d is not in [0, 999]", index);
    // PyTorch's names: weight_ih_l0, weight_ih_l1_reverse, ... ("_l" + index + suffix)
    char suffix[32];
    snprintf(suffix, sizeof suffix, "_l%d%s", index, reverse ? "_reverse" : "");
    int GH = gates * hidden_size;
    int ih_shape[2] = {GH, input_size}, hh_shape[2] = {GH, hidden_size}, b_shape[1] = {GH};
    rnn_weights made = {0};
    AT_TRY(layer_param(ctx, params, prefix, "weight_ih", suffix, 2, ih_shape, &made.weight_ih));
    AT_TRY(layer_param(ctx, params, prefix, "weight_hh", suffix, 2, hh_shape, &made.weight_hh));
    AT_TRY(layer_param(ctx, params, prefix, "bias_ih", suffix, 1, b_shape, &made.bias_ih));
    AT_TRY(layer_param(ctx, params, prefix, "bias_hh", suffix, 1, b_shape, &made.bias_hh));

    at_init_glorot_uniform(made.weight_ih, input_size, GH, 1.0f, rng);
    size_t block = (size_t)hidden_size * hidden_size;
    for (int g = 0; g < gates; g++)
        AT_TRY(at_init_orthogonal(ctx, made.weight_hh->data + g * block, hidden_size,
                                  hidden_size, 1.0f, rng));
    made.input_size = input_size;
    made.hidden_size = hidden_size;
    made.gates = gates;
    made.reverse = reverse != 0;
    *w = made;
    return AT_OK;
}

/* ---------------------------------------------------------------- checks */

static at_status check_matrix(at_ctx *ctx, const char *op, const char *what, const at_tensor *t,
                              int ndim, int d0, int d1) {
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, what);
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim > 1 && t->shape[1] != d1)) {
        char got[64], want[64];
        int want_shape[2] = {d0, d1};
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %s is %s, expected %s", op, what,
                           ati_shape_str(got, sizeof got, t->ndim, t->shape),
                           ati_shape_str(want, sizeof want, ndim, want_shape));
    }
    return AT_OK;
}

static at_status check_weights(at_ctx *ctx, const char *op, const rnn_weights *w) {
    int I = w->input_size, H = w->hidden_size, GH = w->gates * w->hidden_size;
    if (I <= 0 || H <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: layer sizes %d, %d (was it initialised?)",
                           op, I, H);
    AT_TRY(check_matrix(ctx, op, "weight_ih", w->weight_ih, 2, GH, I));
    AT_TRY(check_matrix(ctx, op, "weight_hh", w->weight_hh, 2, GH, H));
    AT_TRY(check_matrix(ctx, op, "bias_ih", w->bias_ih, 1, GH, 0));
    AT_TRY(check_matrix(ctx, op, "bias_hh", w->bias_hh, 1, GH, 0));
    return AT_OK;
}

static at_status check_input(at_ctx *ctx, const char *op, const at_tensor *x, int sequence,
                             int I) {
    if (!x) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x is NULL", op);
    int want_ndim = sequence ? 3 : 2;
    if (x->ndim != want_ndim || x->shape[want_ndim - 1] != I) {
        char got[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: x is %s, expected %s with input size %d", op,
                           ati_shape_str(got, sizeof got, x->ndim, x->shape),
                           sequence ? "(B, T, I)" : "(B, I)", I);
    }
    return AT_OK;
}

static at_status check_lengths(at_ctx *ctx, const char *op, const int32_t *lengths, int B,
                               int T) {
    for (int b = 0; lengths && b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: lengths[%d] = %d, must be in [1, %d]",
                               op, b, (int)lengths[b], T);
    return AT_OK;
}

/* time_of[s][b]: s forward, len-1-s in reverse, -1 once the row has ended */
static at_status build_schedule(at_ctx *ctx, rnn_dims *d, const int32_t *lengths, int reverse) {
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, (size_t)d->T * d->B * sizeof(int32_t)));
    d->time_of = memory; // (T, B)
    d->all_active = 1;
    for (int s = 0; s < d->T; s++)
        for (int b = 0; b < d->B; b++) {
            int len = lengths ? lengths[b] : d->T;
            d->time_of[(size_t)s * d->B + b] = s >= len ? -1 : reverse ? len - 1 - s : s;
            if (s >= len) d->all_active = 0;
        }
    return AT_OK;
}

at_status rnn_prepare(at_ctx *ctx, const char *op, const rnn_weights *w, at_tensor *x,
                      int sequence, const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                      rnn_dims *d) {
    AT_TRY(check_weights(ctx, op, w));
    AT_TRY(check_input(ctx, op, x, sequence, w->input_size));
    rnn_dims dims = {.B = x->shape[0], .T = sequence ? x->shape[1] : 1, .I = w->input_size,
                     .H = w->hidden_size, .G = w->gates};
    AT_TRY(check_lengths(ctx, op, lengths, dims.B, dims.T));
    if (h0) AT_TRY(check_matrix(ctx, op, sequence ? "h0" : "h", h0, 2, dims.B, dims.H));
    if (c0) AT_TRY(check_matrix(ctx, op, sequence ? "c0" : "c", c0, 2, dims.B, dims.H));
    AT_TRY(build_schedule(ctx, &dims, lengths, w->reverse));
    *d = dims;
    return AT_OK;
}

/* ------------------------------------------------------- before the loop */

void rnn_gather_inputs(const rnn_dims *d, const at_tensor *x, float *xs) {
    size_t row_bytes = (size_t)d->I * sizeof(float);
    for (int s = 0; s < d->T; s++)
        for (int b = 0; b < d->B; b++) {
            int t = d->time_of[(size_t)s * d->B + b];
            float *row = xs + ((size_t)s * d->B + b) * d->I;
            if (t < 0) memset(row, 0, row_bytes); // the row has ended
            else memcpy(row, x->data + ((size_t)b * d->T + t) * d->I, row_bytes);
        }
}

void rnn_project_inputs(const rnn_dims *d, const rnn_weights *w, const float *xs,
                        float *bias_sum, float *proj, int threads) {
    int rows = d->T * d->B, GH = d->G * d->H;
    const float *bias = w->bias_ih->data;
    if (bias_sum) {
        for (int k = 0; k < GH; k++) bias_sum[k] = w->bias_ih->data[k] + w->bias_hh->data[k];
        bias = bias_sum;
    }
    // proj = xs W_ih^T + bias : (T*B, I) x (I, G*H), the bias added as C is written
    ati_gemm_bias(0, 1, rows, GH, d->I, 1.0f, xs, d->I, w->weight_ih->data, d->I, bias, proj, GH,
                 threads);
}

void rnn_transpose_hh(const rnn_dims *d, const rnn_weights *w, float *whh_t) {
    int GH = d->G * d->H, H = d->H;
    // whh_t (H, G*H) = W_hh (G*H, H) transposed
    ati_transpose(whh_t, (size_t)GH, w->weight_hh->data, (size_t)H, GH, H);
}

void rnn_initial_state(const rnn_dims *d, const at_tensor *h0, float *state) {
    size_t n = (size_t)d->B * d->H;
    if (h0) memcpy(state, h0->data, n * sizeof(float));
    else memset(state, 0, n * sizeof(float));
}

void rnn_scatter_outputs(const rnn_dims *d, const float *hs, float *out, int ld) {
    for (int s = 0; s < d->T; s++)
        for (int b = 0; b < d->B; b++) {
            int t = d->time_of[(size_t)s * d->B + b];
            if (t < 0) continue;
            memcpy(out + ((size_t)b * d->T + t) * ld, hs + ((size_t)(s + 1) * d->B + b) * d->H,
                   (size_t)d->H * sizeof(float));
        }
}

/* -------------------------------------------------------- after the loop */

void rnn_gather_output_grad(const rnn_dims *d, int s, const float *dout, int ld, float *dh) {
    for (int b = 0; b < d->B; b++) {
        int t = d->time_of[(size_t)s * d->B + b];
        if (t < 0) continue;
        const float *g = dout + ((size_t)b * d->T + t) * ld;
        float *row = dh + (size_t)b * d->H;
        for (int j = 0; j < d->H; j++) row[j] += g[j];
    }
}

/* sums (n) = the column sums of m (rows, n), on `threads` */
static void column_sums(float *restrict sums, const float *m, int rows, int n, int threads) {
    memset(sums, 0, (size_t)n * sizeof(float));
    ati_add_column_sums(sums, m, rows, n, threads);
}

static void add_to(float *restrict dst, const float *restrict src, int n) {
    for (int k = 0; k < n; k++) dst[k] += src[k];
}

void rnn_scatter_input_grad(const rnn_dims *d, const float *dxs, float *dx) {
    for (int s = 0; s < d->T; s++)
        for (int b = 0; b < d->B; b++) {
            int t = d->time_of[(size_t)s * d->B + b];
            if (t < 0) continue;
            const float *g = dxs + ((size_t)s * d->B + b) * d->I;
            float *row = dx + ((size_t)b * d->T + t) * d->I;
            for (int k = 0; k < d->I; k++) row[k] += g[k];
        }
}

void rnn_input_grad_rows(const rnn_dims *d, const rnn_weights *w, const float *d_proj,
                         float *dx, int b0, int b1, int threads) {
    int GH = d->G * d->H;
    if (b0 >= b1) return;
    for (int s = 0; s < d->T; s++) {
        int t = d->time_of[(size_t)s * d->B]; // the same for every row: all are active
        // forward: proj[s, b] = x[b, t] W_ih^T + b_ih, so dx[b, t] += d_proj[s, b] W_ih
        ati_gemm_threads(0, 0, b1 - b0, d->I, GH, 1.0f, d_proj + ((size_t)s * d->B + b0) * GH, GH,
                        w->weight_ih->data, d->I, 1.0f, dx + ((size_t)b0 * d->T + t) * d->I,
                        d->T * d->I, threads);
    }
}

void rnn_backward_weights(const rnn_dims *d, const rnn_weights *w, const float *xs,
                          const float *hs, const float *d_proj, const float *d_hidden,
                          float *bias_sums, float *dxs, int threads) {
    int rows = d->T * d->B, GH = d->G * d->H;
    // forward: proj = xs W_ih^T + b_ih
    if (w->weight_ih->grad)
        ati_gemm_threads(1, 0, GH, d->I, rows, 1.0f, d_proj, GH, xs, d->I, 1.0f,
                        w->weight_ih->grad, d->I, threads);
    if (dxs)
        ati_gemm_threads(0, 0, rows, d->I, GH, 1.0f, d_proj, GH, w->weight_ih->data, d->I, 0.0f,
                        dxs, d->I, threads);
    int have_sums = 0;
    if (w->bias_ih->grad) {
        column_sums(bias_sums, d_proj, rows, GH, threads);
        have_sums = 1;
        add_to(w->bias_ih->grad, bias_sums, GH);
    }
    // forward: hidden[s] = hs[s] W_hh^T + b_hh, for every step s
    if (w->weight_hh->grad)
        ati_gemm_threads(1, 0, GH, d->H, rows, 1.0f, d_hidden, GH, hs, d->H, 1.0f,
                        w->weight_hh->grad, d->H, threads);
    if (w->bias_hh->grad) {
        // an LSTM passes one buffer for both halves: the same column sums
        if (!have_sums || d_hidden != d_proj) column_sums(bias_sums, d_hidden, rows, GH, threads);
        add_to(w->bias_hh->grad, bias_sums, GH);
    }
}

void rnn_accumulate(at_tensor *t, const float *grad) {
    if (!t || !t->grad) return;
    for (size_t i = 0; i < t->size; i++) t->grad[i] += grad[i];
}
