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
 * weight_ih_l0_reverse, and so on; layer k of a stack (at_bilstm_init_layer)
 * has weight_ih_lk and weight_ih_lk_reverse, as nn.LSTM(num_layers > 1).
 *
 * The two directions are independent until their gradients meet in x, so
 * the layer is ONE tape entry that runs them side by side: with two or
 * more threads, one direction per thread (each with half the threads for
 * its products), forward and backward. Each direction writes its states
 * straight into its half of out and h_n (no join copies); only the two
 * dx contributions are added on one thread, forward direction first, so
 * the result is the same for every thread count.
 */
#include "layers.h"

#include <string.h>

at_status at_bilstm_init(at_ctx *ctx, at_bilstm *layer, at_params *params, const char *prefix,
                         int input_size, int hidden_size, at_rng *rng) {
    return at_bilstm_init_layer(ctx, layer, params, prefix, 0, input_size, hidden_size, rng);
}

at_status at_bilstm_init_layer(at_ctx *ctx, at_bilstm *layer, at_params *params,
                               const char *prefix, int index, int input_size, int hidden_size,
                               at_rng *rng) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilstm_init: layer is NULL");
    AT_TRY(lstm_init_layer(ctx, &layer->fwd, params, prefix, index, input_size, hidden_size, 0,
                           rng));
    AT_TRY(lstm_init_layer(ctx, &layer->bwd, params, prefix, index, input_size, hidden_size, 1,
                           rng));
    return AT_OK;
}

/* Both directions' passes, kept for backward. */
typedef struct bilstm_saved {
    lstm_saved *dir[2]; // forward, reverse
    int threads;
} bilstm_saved;

/* Run call0 and call1: on two threads when there are two. Each thread
 * claims the next direction not yet taken (dynamic schedule), so when the
 * other core is busy with another process, the thread that runs does both
 * instead of waiting for the other to be scheduled. Either way each
 * direction is computed the same, so the result does not change. */
#define BILSTM_BOTH(threads, call0, call1)                                                    \
    do {                                                                                      \
        if ((threads) >= 2) {                                                                 \
            _Pragma("omp parallel for num_threads(2) schedule(dynamic, 1)")                   \
            for (int k_ = 0; k_ < 2; k_++) {                                                  \
                if (k_ == 0) call0;                                                           \
                else call1;                                                                   \
            }                                                                                 \
        } else {                                                                              \
            call0;                                                                            \
            call1;                                                                            \
        }                                                                                     \
    } while (0)

static at_status bilstm_backward(at_ctx *ctx, ati_node *node) {
    const bilstm_saved *bs = node->saved;
    lstm_grads g[2];
    for (int k = 0; k < 2; k++) AT_TRY(lstm_backward_prepare(ctx, bs->dir[k], &g[k]));
    int inner = bs->threads >= 2 ? bs->threads / 2 : 1;
    BILSTM_BOTH(bs->threads, lstm_backward_compute(bs->dir[0], &g[0], inner),
                lstm_backward_compute(bs->dir[1], &g[1], inner));
    // forward: both directions read x; their gradients add, forward first, in
    // chunks of batch rows that the threads claim in turn when every row is active
    int B = bs->dir[0]->d.B;
    if (bs->threads >= 2 && bs->dir[0]->d.all_active) {
        enum { CHUNKS = 2 };
#pragma omp parallel for num_threads(2) schedule(dynamic, 1)
        for (int chunk = 0; chunk < CHUNKS; chunk++) {
            int b0 = (int)((long)B * chunk / CHUNKS), b1 = (int)((long)B * (chunk + 1) / CHUNKS);
            lstm_backward_finish(bs->dir[0], &g[0], b0, b1, 1);
            lstm_backward_finish(bs->dir[1], &g[1], b0, b1, 1);
        }
    } else {
        lstm_backward_finish(bs->dir[0], &g[0], 0, B, bs->threads);
        lstm_backward_finish(bs->dir[1], &g[1], 0, B, bs->threads);
    }
    return AT_OK;
}

at_status at_bilstm_forward(at_ctx *ctx, const at_bilstm *layer, at_tensor *x,
                            const int32_t *lengths, at_tensor **out, at_tensor **h_n) {
    if (!layer) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "bilstm_forward: layer is NULL");
    const char *op = "bilstm_forward";
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, sizeof(bilstm_saved)));
    bilstm_saved *bs = memory;
    bs->threads = ctx->threads;
    AT_TRY(lstm_prepare(ctx, op, &layer->fwd, x, 1, lengths, NULL, NULL, &bs->dir[0]));
    AT_TRY(lstm_prepare(ctx, op, &layer->bwd, x, 1, lengths, NULL, NULL, &bs->dir[1]));
    const at_lstm *f = &layer->fwd, *r = &layer->bwd;
    at_tensor *inputs[9] = {x,          f->weight_ih, f->weight_hh, f->bias_ih, f->bias_hh,
                            r->weight_ih, r->weight_hh, r->bias_ih, r->bias_hh};
    int track = ati_tracking(ctx, 9, inputs);
    const rnn_dims *d = &bs->dir[0]->d;
    int B = d->B, T = d->T, H = d->H;
    if (r->hidden_size != H || r->input_size != f->input_size)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: the two directions differ in size", op);

    // out (B, T, 2H) = [fwd | bwd] per row; h_n (2, B, H) = [fwd ; bwd]
    at_tensor *joined_out = NULL, *joined_h;
    int out_shape[3] = {B, T, 2 * H}, h_shape[3] = {2, B, H};
    if (out) { // every element written unless rows end early (they output zeros)
        if (d->all_active) AT_TRY(ati_result_uninit(ctx, &joined_out, 3, out_shape, track));
        else AT_TRY(ati_result(ctx, &joined_out, 3, out_shape, track));
    }
    AT_TRY(ati_result_uninit(ctx, &joined_h, 3, h_shape, track));
    for (int k = 0; k < 2; k++) {
        lstm_saved *sv = bs->dir[k];
        sv->out = joined_out;
        sv->out_ld = 2 * H;
        sv->out_col = k * H;
        sv->h_n = joined_h;
        sv->h_n_at = (size_t)k * B * H;
        sv->c_n = NULL;
    }
    int inner = bs->threads >= 2 ? bs->threads / 2 : 1;
    BILSTM_BOTH(bs->threads, lstm_compute(bs->dir[0], inner), lstm_compute(bs->dir[1], inner));

    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "bilstm", bilstm_backward, joined_h, 1, &x));
        node->saved = bs;
    }
    if (out) *out = joined_out;
    if (h_n) *h_n = joined_h;
    return AT_OK;
}
