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

/* Add and initialise the parameters of one direction (see attend.h), layer
 * `index` of a stack: PREFIX.weight_ih_l{index}[_reverse] and so on. */
at_status rnn_init_params(at_ctx *ctx, rnn_weights *w, at_params *params, const char *prefix,
                          int index, int gates, int input_size, int hidden_size, int reverse,
                          at_rng *rng);
/* at_lstm_init for layer `index` of a stack (at_lstm_init is index 0). */
at_status lstm_init_layer(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                          int index, int input_size, int hidden_size, int reverse, at_rng *rng);

/* Sizes and the step schedule of one call. */
typedef struct rnn_dims {
    int B, T, I, H, G;
    int32_t *time_of; /* (T, B): time index read at step s, or -1 */
    int all_active;   /* 1: no row ends early (time_of is never -1)  */
} rnn_dims;

/* Validate x (B, T, I) (or (B, I) when sequence == 0, then T = 1), the
 * lengths and the initial states h0, c0 (each (B, H) or NULL) against the
 * weights, and build the schedule in the arena. */
at_status rnn_prepare(at_ctx *ctx, const char *op, const rnn_weights *w, at_tensor *x,
                      int sequence, const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                      rnn_dims *d);

/* A hint to bring n floats at p into cache: a step's saved blocks (gates,
 * states) were written long before (forward, or the input projection) and
 * have left L2 by the time the step runs; fetching the next step's rows
 * while this step computes hides that latency. */
static inline void rnn_prefetch(const float *p, size_t n) {
#if defined(__GNUC__) || defined(__clang__)
    for (size_t i = 0; i < n; i += 16) __builtin_prefetch(p + i);
#else
    (void)p;
    (void)n;
#endif
}

static inline int rnn_active(const rnn_dims *d, int s, int b) {
    return d->time_of[(size_t)s * d->B + b] >= 0;
}

/* xs (T, B, I): x rearranged into step order, zeros where a row has ended. */
void rnn_gather_inputs(const rnn_dims *d, const at_tensor *x, float *xs);

/* proj (T, B, G*H) = xs W_ih^T + bias_ih, + bias_hh too when bias_sum
 * (G*H of scratch, to hold the two biases' sum) is not NULL.
 * threads: how many the product may use (1 inside a parallel region). */
void rnn_project_inputs(const rnn_dims *d, const rnn_weights *w, const float *xs,
                        float *bias_sum, float *proj, int threads);

/* whh_t (H, G*H) = W_hh^T, once per call: each step's product h W_hh^T
 * then reads it in place, row by row (the gemm packs nothing). Copied in
 * 16 x 16 tiles: element by element, every write of a (1024, 256) W_hh
 * went to a new page and the copy cost as much as the recurrence. */
void rnn_transpose_hh(const rnn_dims *d, const rnn_weights *w, float *whh_t);

/* state (B, H) = h0, or zeros when h0 is NULL. */
void rnn_initial_state(const rnn_dims *d, const at_tensor *h0, float *state);

/* out (B, T, ld), this direction's H columns at out[.., 0 .. H):
 * out[b, time_of[s][b]] = hs[s+1][b] for every active step. */
void rnn_scatter_outputs(const rnn_dims *d, const float *hs, float *out, int ld);

/* dh (B, H) += dout[b, time_of[s][b]] for the rows active at step s;
 * dout laid out as out above. */
void rnn_gather_output_grad(const rnn_dims *d, int s, const float *dout, int ld, float *dh);

/* After the recurrence: from the pre-activation gradients of the input
 * projection d_proj (T, B, G*H) and of the hidden projection d_hidden
 * (the same buffer for an LSTM), accumulate dW_ih, db_ih, dW_hh, db_hh,
 * each only where a gradient is wanted, and, if dxs is not NULL, write
 * dxs (T, B, I) = d_proj W_ih, the gradient of xs. hs is (T+1, B, H);
 * bias_sums is (G*H) of scratch. Touches no other memory. */
void rnn_backward_weights(const rnn_dims *d, const rnn_weights *w, const float *xs,
                          const float *hs, const float *d_proj, const float *d_hidden,
                          float *bias_sums, float *dxs, int threads);

/* When every row is active (d->all_active), the gradient of x needs no
 * dxs: dx (B, T, I) += d_proj W_ih straight from each step's rows, here
 * for batch rows b0 .. b1 only (so two threads can share the work). */
void rnn_input_grad_rows(const rnn_dims *d, const rnn_weights *w, const float *d_proj,
                         float *dx, int b0, int b1, int threads);

/* dx (B, T, I) += dxs (T, B, I) for every active step. */
void rnn_scatter_input_grad(const rnn_dims *d, const float *dxs, float *dx);

/* Accumulate a carried state gradient (B, H) into a tensor's grad, if any. */
void rnn_accumulate(at_tensor *t, const float *grad);

/* --------------------------------------------------------------- LSTM
 * One LSTM direction, split so that a bidirectional layer can run its two
 * directions on two threads: lstm_prepare and lstm_backward_prepare do
 * every check and allocation (they need the context); lstm_compute and
 * lstm_backward_compute only compute, into memory nobody else writes;
 * lstm_backward_finish adds into the gradients the two directions share
 * (x's), so it runs on one thread, one direction after the other. */

typedef struct lstm_saved {
    rnn_dims d;
    rnn_weights w;
    at_tensor *x, *h0, *c0; // inputs; h0, c0 may be NULL
    float *xs;              // (T, B, I)   inputs in step order
    float *gates;           // (T, B, 4H)  activations i, f, g, o
    float *hs;              // (T+1, B, H) hs[0] = h0, hs[s+1] = state after step s
    float *cs;              // (T+1, B, H)
    float *tanh_c;          // (T, B, H)   tanh(cs[s+1])
    float *whh_t;           // (H, 4H)     W_hh^T
    float *bias_sum;        // (4H)        b_ih + b_hh
    at_tensor *out;         // (B, T, out_ld) or NULL; this direction's columns start at out_col
    int out_ld, out_col;
    at_tensor *h_n;         // h_n->data + h_n_at: (B, H)
    size_t h_n_at;
    at_tensor *c_n;         // (B, H) or NULL
    int threads;            // for the products, outside a parallel region
} lstm_saved;

/* Where backward keeps its working memory. */
typedef struct lstm_grads {
    float *dh, *dc;    // (B, H) gradients of the current h, c
    float *d_gates;    // (T, B, 4H) pre-activation gradients
    float *dxs;        // (T, B, I) when x needs a gradient and rows end early, else NULL
    float *bias_sums;  // (4H)
} lstm_grads;

/* Check x (B, T, I) (sequence) or (B, I), lengths, h0, c0 and allocate a
 * forward pass. The caller fills out/out_ld/out_col, h_n/h_n_at and c_n
 * (the tensors the states land in) before lstm_compute. */
at_status lstm_prepare(at_ctx *ctx, const char *op, const at_lstm *layer, at_tensor *x,
                       int sequence, const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                       lstm_saved **out);
void lstm_compute(lstm_saved *sv, int threads);
at_status lstm_backward_prepare(at_ctx *ctx, const lstm_saved *sv, lstm_grads *g);
void lstm_backward_compute(const lstm_saved *sv, const lstm_grads *g, int threads);
/* Adds into the inputs' gradients, for batch rows b0 .. b1 of x (h0 and c0
 * whole, and x whole when rows end early, in the range that holds row 0):
 * two threads may finish disjoint row ranges. */
void lstm_backward_finish(const lstm_saved *sv, const lstm_grads *g, int b0, int b1,
                          int threads);

/* Gate nonlinearities: ati_fast_exp, ati_fast_sigmoid, ati_fast_tanh (fastmath.h). */

#endif
