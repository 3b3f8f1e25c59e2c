/*
 * layers.h - what the layer files share and callers never see.
 *
 * Two things: adding a parameter under PyTorch's state_dict name, and the
 * machinery every recurrent layer (LSTM, GRU) needs around its own cell:
 * checking sizes and lengths, the step schedule that realises packed
 * sequences and reversal, the one big input projection before the
 * recurrence, and the big weight-gradient products after it.
 *
 * The recurrence runs in "steps" s = 0 .. T-1, time-major. Row b at step s
 * reads time index time_of[s][b]: s for a forward layer, len[b]-1-s for a
 * reverse one, and -1 once s >= len[b] (the row has ended; its state is
 * carried unchanged and its outputs stay zero). All buffers below are laid
 * out (T, B, ...) in step order so each step is one contiguous block.
 */
#ifndef ATTEND_LAYERS_H
#define ATTEND_LAYERS_H

#include "internal.h"
#include "fastmath.h"

#include <math.h>

/* Add a zero-filled parameter named "prefix.name" + suffix (or name + suffix
 * when prefix is "" or NULL). */
at_status layer_param(at_ctx *ctx, at_params *params, const char *prefix, const char *name,
                      const char *suffix, int ndim, const int *shape, at_tensor **out);

/* The four tensors of one recurrent direction, PyTorch's layout. */
typedef struct rnn_weights {
    at_tensor *weight_ih; /* (G*H, I) */
    at_tensor *weight_hh; /* (G*H, H) */
    at_tensor *bias_ih;   /* (G*H)    */
    at_tensor *bias_hh;   /* (G*H)    */
    int input_size, hidden_size, gates, reverse;
} rnn_weights;

/* Add and initialise the parameters of one direction (see attend.h). */
at_status rnn_init_params(at_ctx *ctx, rnn_weights *w, at_params *params, const char *prefix,
                          int gates, int input_size, int hidden_size, int reverse,
                          at_rng *rng);

/* Sizes and the step schedule of one call. */
typedef struct rnn_dims {
    int B, T, I, H, G;
    int32_t *time_of; /* (T, B): time index read at step s, or -1 */
} rnn_dims;

/* Validate x (B, T, I) (or (B, I) when sequence == 0, then T = 1), the
 * lengths and the initial states h0, c0 (each (B, H) or NULL) against the
 * weights, and build the schedule in the arena. */
at_status rnn_prepare(at_ctx *ctx, const char *op, const rnn_weights *w, at_tensor *x,
                      int sequence, const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                      rnn_dims *d);

static inline int rnn_active(const rnn_dims *d, int s, int b) {
    return d->time_of[(size_t)s * d->B + b] >= 0;
}

/* xs (T, B, I): x rearranged into step order, zeros where a row has ended. */
at_status rnn_gather_inputs(at_ctx *ctx, const rnn_dims *d, const at_tensor *x, float **xs);

/* proj (T, B, G*H) = xs W_ih^T + bias_ih (+ bias_hh when add_bias_hh). */
at_status rnn_project_inputs(at_ctx *ctx, const rnn_dims *d, const rnn_weights *w,
                             const float *xs, int add_bias_hh, float **proj);

/* W_hh^T (H, G*H), so each step's product streams along contiguous rows. */
at_status rnn_transpose_hh(at_ctx *ctx, const rnn_dims *d, const rnn_weights *w, float **whh_t);

/* state (B, H) = h0, or zeros when h0 is NULL. */
void rnn_initial_state(const rnn_dims *d, const at_tensor *h0, float *state);

/* out (B, T, H): out[b, time_of[s][b]] = hs[s+1][b] for every active step. */
void rnn_scatter_outputs(const rnn_dims *d, const float *hs, float *out);

/* dh (B, H) += dout[b, time_of[s][b]] for the rows active at step s. */
void rnn_gather_output_grad(const rnn_dims *d, int s, const float *dout, float *dh);

/* After the recurrence: from the pre-activation gradients of the input
 * projection d_proj (T, B, G*H) and of the hidden projection d_hidden
 * (the same buffer for an LSTM), accumulate dW_ih, db_ih, dW_hh, db_hh and
 * dx, each only where a gradient is wanted. hs is (T+1, B, H). */
at_status rnn_backward_weights_and_inputs(at_ctx *ctx, const rnn_dims *d, const rnn_weights *w,
                                          at_tensor *x, const float *xs, const float *hs,
                                          const float *d_proj, const float *d_hidden);

/* Accumulate a carried state gradient (B, H) into a tensor's grad, if any. */
void rnn_accumulate(at_tensor *t, const float *grad);

/* Gate nonlinearities: at_fast_exp, at_fast_sigmoid, at_fast_tanh (fastmath.h). */

#endif
