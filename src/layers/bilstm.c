/*
 * bilstm.c - the bidirectional LSTM: one forward and one reverse at_lstm
 * over the same input, joined on the feature axis.
 *
 *     out[b, t] = [ fwd_out[b, t] ; bwd_out[b, t] ]      (B, T, 2H)
 *     h_n       = [ fwd_h_n ; bwd_h_n ]                   (2, B, H)
 *
 * With lengths, the reverse direction reads each row from its last real
 * step back to 0, and both directions output zeros past a row's length,
 * as PyTorch's nn.LSTM(bidirectional=True, batch_first=True) on a packed
 * sequence. Parameter names are that module's: weight_ih_l0 and
 * weight_ih_l0_reverse, and so on.
 *
 * Joining is its own small tape entry: both pieces are viewed as rows,
 * (outer, n_a) and (outer, n_b), and laid side by side as (outer, n_a+n_b).
 * h_n is the same join with outer = 1.
 */
#include "layers.h"

#include <string.h>

at_status at_bilstm_init(at_ctx *ctx, at_bilstm *layer, at_params *params, const char *prefix,
                         int input_size, int hidden_size, at_rng *rng) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilstm_init: layer is NULL");
    AT_TRY(at_lstm_init(ctx, &layer->fwd, params, prefix, input_size, hidden_size, 0, rng));
    AT_TRY(at_lstm_init(ctx, &layer->bwd, params, prefix, input_size, hidden_size, 1, rng));
    return AT_OK;
}

static at_status join_backward(at_ctx *ctx, at_node *node) {
    (void)ctx;
    int outer = node->iarg[0], n_a = node->iarg[1], n_b = node->iarg[2], n = n_a + n_b;
    const float *dy = node->out->grad; // (outer, n_a + n_b)
    at_tensor *a = node->in[0], *b = node->in[1];
    for (int r = 0; r < outer; r++) {
        const float *row = dy + (size_t)r * n;
        // forward: y[r] = [a[r] ; b[r]]
        if (a->grad)
            for (int k = 0; k < n_a; k++) a->grad[(size_t)r * n_a + k] += row[k];
        if (b->grad)
            for (int k = 0; k < n_b; k++) b->grad[(size_t)r * n_b + k] += row[n_a + k];
    }
    return AT_OK;
}

/* y (shape) = rows of a (outer, n_a) beside rows of b (outer, n_b). */
static at_status join_rows(at_ctx *ctx, at_tensor **y, at_tensor *a, at_tensor *b, int outer,
                           int ndim, const int *shape) {
    int n_a = (int)(a->size / (size_t)outer), n_b = (int)(b->size / (size_t)outer);
    at_tensor *inputs[2] = {a, b};
    int track = at_tracking(ctx, 2, inputs);
    at_tensor *result;
    AT_TRY(at_result(ctx, &result, ndim, shape, track));
    for (int r = 0; r < outer; r++) {
        float *row = result->data + (size_t)r * (n_a + n_b);
        memcpy(row, a->data + (size_t)r * n_a, (size_t)n_a * sizeof(float));
        memcpy(row + n_a, b->data + (size_t)r * n_b, (size_t)n_b * sizeof(float));
    }
    if (track) {
        at_node *node;
        AT_TRY(at_tape_record(ctx, &node, "bilstm_join", join_backward, result, 2, inputs));
        node->iarg[0] = outer;
        node->iarg[1] = n_a;
        node->iarg[2] = n_b;
    }
    *y = result;
    return AT_OK;
}

at_status at_bilstm_forward(at_ctx *ctx, const at_bilstm *layer, at_tensor *x,
                            const int32_t *lengths, at_tensor **out, at_tensor **h_n) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilstm_forward: layer is NULL");
    at_tensor *fwd_out = NULL, *bwd_out = NULL, *fwd_h = NULL, *bwd_h = NULL;
    at_tensor **want_out_f = out ? &fwd_out : NULL, **want_out_b = out ? &bwd_out : NULL;
    AT_TRY(at_lstm_forward(ctx, &layer->fwd, x, lengths, NULL, NULL, want_out_f, &fwd_h, NULL));
    AT_TRY(at_lstm_forward(ctx, &layer->bwd, x, lengths, NULL, NULL, want_out_b, &bwd_h, NULL));
    int B = x->shape[0], T = x->shape[1], H = layer->fwd.hidden_size;
    if (out) {
        int shape[3] = {B, T, 2 * H};
        AT_TRY(join_rows(ctx, out, fwd_out, bwd_out, B * T, 3, shape));
    }
    if (h_n) {
        int shape[3] = {2, B, H};
        AT_TRY(join_rows(ctx, h_n, fwd_h, bwd_h, 1, 3, shape));
    }
    return AT_OK;
}
