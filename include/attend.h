/*
 * attend.h - the whole public contract of libattend.
 *
 * attend is a small neural-network engine in C, built to train and inspect
 * attention mechanisms. This header is everything a caller needs: tensors,
 * the context that owns a training step, the ops (each with a backward pass),
 * layers, optimisers and checkpoints.
 *
 * ---------------------------------------------------------------------------
 * Conventions (read these once; they hold for every function below)
 * ---------------------------------------------------------------------------
 * Errors.   Every function that can fail returns an at_status. AT_OK (0) is
 *           success. On failure the context keeps a readable message, see
 *           at_ctx_error(). Outputs are left untouched (or NULL) on failure.
 *           The library never calls exit() or abort() and has no hidden
 *           global mutable state: two contexts may run in two threads.
 *
 * Tensors.  float32, row-major, contiguous, 1 to 4 dimensions. A shape is
 *           written (d0, d1, ...), the last dimension varying fastest.
 *           Shapes in comments use B = batch, T = time, D = features,
 *           V = vocabulary, H = hidden size.
 *
 * Masks.    THE ONE MASK CONVENTION: a mask is an array of uint8_t in which
 *           1 (any non-zero) means KEEP - the position takes part - and
 *           0 means DROP - the position is masked out. (PyTorch's
 *           key_padding_mask uses the opposite; attend never does.)
 *           A mask applies to the last dimension of a tensor x viewed as
 *           R rows of length n. It has M rows of n bytes, M must divide R,
 *           and each mask row serves R/M consecutive rows of x. So for
 *           scores (B, Tq, Tk) a padding mask (B, Tk) has M = B, and a full
 *           mask (B, Tq, Tk) has M = B*Tq. A row whose mask is all zeros
 *           gives zero outputs and zero gradient, never NaN.
 *
 * Token ids are int32_t. Lengths are int32_t, one per batch row.
 *
 * Memory.   A context (at_ctx) owns an arena. Every tensor an op creates
 *           lives in the arena until at_ctx_reset(); nothing is freed one by
 *           one. After the first training step the arena has grown to its
 *           working size and later steps do not call malloc.
 *           Parameters (at_params) live outside the arena and persist.
 *
 * Gradients. Reverse mode through a tape. While gradients are enabled and
 *           an input requires a gradient, each op records one tape entry.
 *           at_backward() walks the tape in reverse. Gradients ACCUMULATE
 *           (+=) into tensor->grad; at_params_zero_grad() clears them.
 *           With gradients disabled (inference mode) nothing is recorded.
 *
 * Files.    Every file the library writes (checkpoints, TSV, weights files,
 *           figures) is written atomically: a fresh temporary file made
 *           beside path, written in full, synced, then renamed over path,
 *           so path is the old file or the complete new one; on failure the
 *           temporary file is removed. Only a regular file (or nothing) is
 *           replaced: a symbolic link, FIFO, device or directory at path is
 *           an AT_ERR_IO naming it. Files read whole have a size limit
 *           (named with each reader); a pipe or device is read up to it.
 * ---------------------------------------------------------------------------
 */
#ifndef ATTEND_H
#define ATTEND_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h> /* sig_atomic_t, for the trainer's stop request */
#include <stdio.h> /* FILE, for at_plot_terminal */

#ifdef __cplusplus
extern "C" {
#endif

#define ATTEND_VERSION_MAJOR 0
#define ATTEND_VERSION_MINOR 1
#define ATTEND_VERSION_PATCH 0
#define AT_MAX_DIMS 4

/* ------------------------------------------------------------------ errors */

typedef enum at_status {
    AT_OK = 0,
    AT_ERR_ARGUMENT, /* a bad argument: NULL, a size <= 0, an unknown option */
    AT_ERR_SHAPE,    /* tensor shapes that do not fit together             */
    AT_ERR_MEMORY,   /* an allocation failed                               */
    AT_ERR_IO,       /* a file could not be opened, read or written        */
    AT_ERR_FORMAT,   /* a file is malformed: truncated, lying, corrupt     */
    AT_ERR_NUMERIC,  /* a NaN or infinity where a number was needed        */
    AT_ERR_STATE     /* a call out of order, e.g. backward with no tape    */
} at_status;

/* A short name for a status, e.g. "shape error". Never NULL. */
const char *at_status_name(at_status status);

/* ------------------------------------------------------------------ random */

/* A seeded generator (xoshiro128**). A plain value: copy it to fork a
 * stream. The same seed always gives the same numbers. */
typedef struct at_rng {
    uint32_t s[4];
} at_rng;

void at_rng_seed(at_rng *rng, uint64_t seed);
uint32_t at_rng_u32(at_rng *rng);
float at_rng_uniform(at_rng *rng);            /* in [0, 1)            */
float at_rng_normal(at_rng *rng);             /* mean 0, variance 1   */
uint32_t at_rng_below(at_rng *rng, uint32_t n); /* in [0, n), n > 0     */

/* ----------------------------------------------------------------- tensors */

typedef struct at_tensor {
    float *data;               /* size floats                              */
    float *grad;               /* size floats, or NULL: no gradient flows  */
    int ndim;                  /* 1 .. AT_MAX_DIMS                         */
    int shape[AT_MAX_DIMS];    /* shape[ndim..] are 1                      */
    size_t size;               /* product of the shape                     */
    int requires_grad;         /* 1 if gradients flow into this tensor     */
    const char *name;          /* parameters only; NULL otherwise          */
} at_tensor;

/* ----------------------------------------------------------------- context */

typedef struct at_ctx at_ctx;

typedef struct at_ctx_options {
    size_t arena_block_bytes; /* first arena block; 0 = 1 MiB. It grows.   */
    int num_threads;          /* OpenMP threads for this context; 0 = 1    */
    uint64_t seed;            /* seeds the context's generator (dropout)   */
} at_ctx_options;

/* Create a context. opts may be NULL for the defaults. */
at_status at_ctx_create(at_ctx **out, const at_ctx_options *opts);
void at_ctx_free(at_ctx *ctx);

/* The message of the most recent failure in this context ("" if none). */
const char *at_ctx_error(const at_ctx *ctx);
/* Report a failure from caller code through the same channel. */
at_status at_ctx_fail(at_ctx *ctx, at_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Forget every tensor and tape entry made since the last reset. The arena
 * memory is kept for the next step. Parameters are not touched. */
void at_ctx_reset(at_ctx *ctx);

/* Gradients on (default) or off (inference mode: no tape, no grad buffers).
 * Returns the previous setting. */
int at_ctx_set_grad(at_ctx *ctx, int enabled);
int at_ctx_grad_enabled(const at_ctx *ctx);

/* Training mode switches dropout on. Default off. Returns previous. */
int at_ctx_set_training(at_ctx *ctx, int training);
int at_ctx_training(const at_ctx *ctx);

int at_ctx_threads(const at_ctx *ctx);
at_rng *at_ctx_rng(at_ctx *ctx);

/* Bytes the arena holds now (in use) and has reserved (capacity). */
size_t at_ctx_arena_used(const at_ctx *ctx);
size_t at_ctx_arena_capacity(const at_ctx *ctx);
/* Number of tape entries recorded since the last reset. */
size_t at_ctx_tape_length(const at_ctx *ctx);

/* A new zero-filled tensor in the arena, requires_grad = 0. */
at_status at_tensor_new(at_ctx *ctx, at_tensor **out, int ndim, const int *shape);
/* Same, filled with a copy of data (size floats). */
at_status at_tensor_from(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                         const float *data);
/* Make an arena tensor a leaf that collects a gradient (zeroed grad). */
at_status at_tensor_require_grad(at_ctx *ctx, at_tensor *t);

/* Backpropagate from a scalar (size 1) tensor: its gradient is seeded with 1
 * and every recorded op is undone in reverse order. The tape is kept until
 * at_ctx_reset(), so backward can run once per reset. */
at_status at_backward(at_ctx *ctx, at_tensor *loss);
/* Backpropagate from any tensor y with a given output gradient dy (y->size
 * floats), i.e. a vector-Jacobian product. Same rules as at_backward. */
at_status at_backward_seeded(at_ctx *ctx, at_tensor *y, const float *dy);
/* Backpropagate from n outputs at once, each with its own gradient:
 * dys[i] holds ys[i]->size floats. The result is the sum of n separate
 * at_backward_seeded calls, in one walk of the tape (outputs may depend on
 * each other, and one tensor may be given twice: its gradients add). Every
 * argument is checked before any gradient changes: n < 1 or a NULL is an
 * AT_ERR_ARGUMENT, an output that no gradient reaches an AT_ERR_STATE.
 * Same rules as at_backward otherwise. */
at_status at_backward_multi(at_ctx *ctx, int n, at_tensor *const *ys, const float *const *dys);

/* AT_ERR_NUMERIC, with a message naming `what` and the first bad index, if
 * any of the n values is NaN or infinite; AT_OK otherwise. */
at_status at_check_finite(at_ctx *ctx, const float *x, size_t n, const char *what);

/* -------------------------------------------------------------- parameters */

/* A named, persistent set of parameter tensors, each with its own gradient.
 * Names follow PyTorch's state_dict naming so checkpoints map one to one. */
typedef struct at_params at_params;

at_status at_params_create(at_ctx *ctx, at_params **out);
void at_params_free(at_params *params);
/* Add a zero-filled parameter (requires_grad = 1, grad zeroed). The name is
 * copied; it must be unique in the set. */
at_status at_params_add(at_ctx *ctx, at_params *params, const char *name, int ndim,
                        const int *shape, at_tensor **out);
int at_params_count(const at_params *params);
at_tensor *at_params_get(const at_params *params, int index);
at_tensor *at_params_find(const at_params *params, const char *name);
size_t at_params_numel(const at_params *params);
void at_params_zero_grad(at_params *params);

/* ---------------------------------------------------------- initialisation */

/* Fill in place. fan_in/fan_out as PyTorch computes them for a 2-D weight
 * (out, in): fan_in = in, fan_out = out. rng == NULL draws nothing and
 * leaves the values as they are (at_init_orthogonal then returns AT_OK):
 * this is how every _init below honours rng == NULL. */
void at_init_uniform(at_tensor *t, float lo, float hi, at_rng *rng);
void at_init_normal(at_tensor *t, float mean, float std, at_rng *rng);
/* Glorot (Xavier) uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
void at_init_glorot_uniform(at_tensor *t, int fan_in, int fan_out, float gain, at_rng *rng);
/* Fill a (rows, cols) row-major block, e.g. one gate's part of a weight,
 * with orthogonal rows (rows <= cols) or columns (rows > cols), as
 * torch.nn.init.orthogonal_, scaled by gain. */
at_status at_init_orthogonal(at_ctx *ctx, float *block, int rows, int cols, float gain,
                             at_rng *rng);

/* --------------------------------------------------------------------- ops
 * Every op: at_status at_OP(ctx, &out, inputs..., options). out is a new
 * arena tensor. Inputs may be arena tensors or parameters.               */

/* Batched matrix product. a is (..., M, K) (or (..., K, M) if trans_a), b is
 * (..., K, N) (or (..., N, K) if trans_b). Leading (batch) dimensions of a
 * and b must be equal, or b may be 2-D and is then shared by every batch.
 * out is (..., M, N). */
at_status at_matmul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b, int trans_a,
                    int trans_b);

/* Elementwise with broadcasting (numpy rules, trailing dims aligned; a size-1
 * or missing dim broadcasts). out has the broadcast shape. */
at_status at_add(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
at_status at_sub(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
at_status at_mul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
/* out = a * scale + shift, elementwise with two constants. */
at_status at_affine(at_ctx *ctx, at_tensor **out, at_tensor *a, float scale, float shift);

/* Unary activations, same shape as x. gelu is the exact (erf) form. */
at_status at_tanh(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_sigmoid(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_relu(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_gelu(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_exp(at_ctx *ctx, at_tensor **out, at_tensor *x);

/* Softmax / log-softmax over the last dimension, the row maximum subtracted
 * first. mask: NULL (mask_rows is then ignored) or mask_rows rows, see
 * "Masks" above; mask_rows that does not divide the row count is an
 * AT_ERR_SHAPE. Masked positions get 0 (softmax) or 0 (log-softmax, by
 * convention; they carry no gradient). A fully masked row is all zeros. */
at_status at_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                     int mask_rows);
at_status at_log_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                         int mask_rows);

/* Reductions. sum/mean of all elements give shape (1). sum_last sums the
 * last dimension away: (..., n) -> (...) (a 1-D input gives (1)). */
at_status at_sum(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_mean(at_ctx *ctx, at_tensor **out, at_tensor *x);
at_status at_sum_last(at_ctx *ctx, at_tensor **out, at_tensor *x);

/* Shapes. reshape shares data and gradient with x (no copy, no tape entry);
 * the element count must match. concat joins n tensors along axis; all
 * other dims must match. slice takes [start, start+len) of axis. split
 * cuts x along axis into n pieces of the given sizes (summing to the dim).
 * transpose swaps two axes (a copy). Negative axes count from the end. */
at_status at_reshape(at_ctx *ctx, at_tensor **out, at_tensor *x, int ndim, const int *shape);
at_status at_concat(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis);
/* stack joins n tensors of one shape along a NEW axis (as torch.stack):
 * xs[i] of shape (d0, .., dk) give out with a dimension n inserted at
 * position axis, 0 <= axis <= k + 1 (negative counts from the end of the
 * result: -1 puts n last); out[.., i, ..] = xs[i]. The result may have at
 * most AT_MAX_DIMS dimensions. Shapes that differ are an AT_ERR_SHAPE. */
at_status at_stack(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis);
at_status at_slice(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis, int start, int len);
at_status at_split(at_ctx *ctx, at_tensor **outs, at_tensor *x, int axis, int n,
                   const int *sizes);
at_status at_transpose(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis0, int axis1);

/* Gather rows: table (V, D), ids int32 of shape ids_shape (ids_ndim dims,
 * ids_ndim + 1 <= AT_MAX_DIMS) -> out (ids_shape..., D). An id outside
 * [0, V) is an AT_ERR_ARGUMENT naming it. */
at_status at_gather_rows(at_ctx *ctx, at_tensor **out, at_tensor *table, const int32_t *ids,
                         int ids_ndim, const int *ids_shape);

/* Inverted dropout with drop probability p in [0, 1). When the context is
 * not in training mode or p == 0, *out is x itself (no copy, no tape entry,
 * as PyTorch): do not write into it in place. Uses the context's rng. */
at_status at_dropout(at_ctx *ctx, at_tensor **out, at_tensor *x, float p);

/* Layer normalisation over the last dimension n: gamma, beta are (n) or
 * NULL (then 1 and 0). y = (x - mean) / sqrt(var + eps) * gamma + beta. */
at_status at_layer_norm(at_ctx *ctx, at_tensor **out, at_tensor *x, at_tensor *gamma,
                        at_tensor *beta, float eps);

/* Cross-entropy of logits (N, C) (or (..., C), flattened to N rows) against
 * int32 targets (N values; the caller guarantees the length). Rows whose
 * target == ignore_index are left out (PyTorch's default is -100; a target
 * outside [0, C) that is not ignore_index is an AT_ERR_ARGUMENT). A
 * non-finite loss on a kept row is an AT_ERR_NUMERIC. label_smoothing in [0, 1): the target
 * distribution is (1 - ls) one-hot + ls / C, as in PyTorch. out is (1), the
 * mean over kept rows; 0 (not NaN) when every row is ignored. */
at_status at_cross_entropy(at_ctx *ctx, at_tensor **out, at_tensor *logits,
                           const int32_t *targets, int ignore_index, float label_smoothing);

/* ------------------------------------------------------------------ layers
 * A layer is a struct of parameter pointers plus its sizes. _init adds the
 * parameters to a set under "prefix.name" (prefix may be "" for none) and
 * initialises them from rng. _forward records on the tape like any op.
 * rng may be NULL (every layer here and every attention family below):
 * then nothing random is drawn and every parameter is left zero - no
 * forget-gate bias of 1 either - ready for at_checkpoint_load or the
 * caller's own values (foreign weights). at_layernorm_init takes no rng and
 * always sets weight to ones. */

/* Dense: y = x W^T + b. x (..., in) -> y (..., out). weight (out, in) Glorot
 * uniform, bias (out) zeros (or no bias). */
typedef struct at_dense {
    at_tensor *weight, *bias; /* bias may be NULL */
    int in, out;
} at_dense;
at_status at_dense_init(at_ctx *ctx, at_dense *layer, at_params *params, const char *prefix,
                        int in, int out, int with_bias, at_rng *rng);
at_status at_dense_forward(at_ctx *ctx, const at_dense *layer, at_tensor *x, at_tensor **y);

/* Embedding: weight (V, D) ~ N(0, 1) as PyTorch. ids as at_gather_rows. */
typedef struct at_embedding {
    at_tensor *weight;
    int vocab, dim;
} at_embedding;
at_status at_embedding_init(at_ctx *ctx, at_embedding *layer, at_params *params,
                            const char *prefix, int vocab, int dim, at_rng *rng);
at_status at_embedding_forward(at_ctx *ctx, const at_embedding *layer, const int32_t *ids,
                               int ids_ndim, const int *ids_shape, at_tensor **y);

/* LayerNorm layer: weight (n) ones, bias (n) zeros. */
typedef struct at_layernorm {
    at_tensor *weight, *bias;
    int n;
    float eps;
} at_layernorm;
at_status at_layernorm_init(at_ctx *ctx, at_layernorm *layer, at_params *params,
                            const char *prefix, int n, float eps);
at_status at_layernorm_forward(at_ctx *ctx, const at_layernorm *layer, at_tensor *x,
                               at_tensor **y);

/* Recurrent layers, PyTorch's layout and gate order so weights map 1:1:
 *   LSTM gates i, f, g, o:  weight_ih (4H, I), weight_hh (4H, H),
 *                           bias_ih (4H), bias_hh (4H)
 *   GRU  gates r, z, n:     weight_ih (3H, I), weight_hh (3H, H),
 *                           bias_ih (3H), bias_hh (3H)
 *     r = σ(W_ir x + b_ir + W_hr h + b_hr)   z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *     n = tanh(W_in x + b_in + r ∘ (W_hn h + b_hn))   h' = (1 − z) ∘ n + z ∘ h
 * Parameter names: PREFIX.weight_ih_l0 etc.; with reverse = 1 the suffix
 * "_reverse" is added, as in PyTorch's bidirectional modules.
 * Initialisation: weight_ih Glorot uniform over the whole (G*H, I) matrix,
 * weight_hh orthogonal per gate block (H, H), biases zero except the LSTM
 * forget gate bias_ih, which is 1 (as Keras' unit_forget_bias).
 *
 * Sequence forward: x (B, T, I), batch first. lengths: NULL (all T) or B
 * values in [1, T]. Steps t >= lengths[b] output zeros and leave the state
 * unchanged, so h_n is the state at the last real step - exactly PyTorch's
 * packed-sequence semantics. A reverse layer reads each row from
 * lengths[b]-1 down to 0. h0/c0: (B, H) or NULL for zeros.
 * Outputs: out (B, T, H); h_n, c_n (B, H) (pass NULL to skip). */
typedef struct at_lstm {
    at_tensor *weight_ih, *weight_hh, *bias_ih, *bias_hh;
    int input_size, hidden_size, reverse;
} at_lstm;
at_status at_lstm_init(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                       int input_size, int hidden_size, int reverse, at_rng *rng);
at_status at_lstm_forward(at_ctx *ctx, const at_lstm *layer, at_tensor *x,
                          const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                          at_tensor **out, at_tensor **h_n, at_tensor **c_n);
/* One step: x (B, I), h, c (B, H) -> h_out, c_out (B, H). */
at_status at_lstm_cell(at_ctx *ctx, const at_lstm *layer, at_tensor *x, at_tensor *h,
                       at_tensor *c, at_tensor **h_out, at_tensor **c_out);

typedef struct at_gru {
    at_tensor *weight_ih, *weight_hh, *bias_ih, *bias_hh;
    int input_size, hidden_size, reverse;
} at_gru;
at_status at_gru_init(at_ctx *ctx, at_gru *layer, at_params *params, const char *prefix,
                      int input_size, int hidden_size, int reverse, at_rng *rng);
at_status at_gru_forward(at_ctx *ctx, const at_gru *layer, at_tensor *x,
                         const int32_t *lengths, at_tensor *h0, at_tensor **out,
                         at_tensor **h_n);
/* One step: x (B, I), h (B, H) -> h_out (B, H). */
at_status at_gru_cell(at_ctx *ctx, const at_gru *layer, at_tensor *x, at_tensor *h,
                      at_tensor **h_out);

/* Bidirectional LSTM: a forward and a reverse at_lstm on the same input,
 * outputs concatenated on the feature axis: out (B, T, 2H). h_n (2, B, H)
 * (forward direction first, as PyTorch's h_n for one layer). */
typedef struct at_bilstm {
    at_lstm fwd, bwd;
} at_bilstm;
at_status at_bilstm_init(at_ctx *ctx, at_bilstm *layer, at_params *params, const char *prefix,
                         int input_size, int hidden_size, at_rng *rng);
at_status at_bilstm_forward(at_ctx *ctx, const at_bilstm *layer, at_tensor *x,
                            const int32_t *lengths, at_tensor **out, at_tensor **h_n);

/* --------------------------------------------------------------- attention
 * Every family of docs/mechanisms/ has one source file in src/attention/
 * named after it. Common rules:
 *
 * Shapes. queries (B, Tq, Dq), keys (B, Tk, Dk), values (B, Tk, Dv),
 *   context (B, Tq, Dv), weights (B, Tq, Tk). Tq and Tk are independent.
 *   A decoder step may pass queries (B, Dq): it is read as Tq = 1 and gives
 *   context (B, Dv) and weights (B, Tk).
 * Weights. Every family hands back its normalised attention α - the
 *   distribution a user looks at - through `weights` (per head for
 *   multi-head). Pass weights = NULL when you do not want it: then no
 *   (Tq, Tk) buffer is kept that the backward pass does not itself need
 *   (the fused dot kernel stays linear in memory).
 *   When gradients are on and an input or parameter requires one, the
 *   weights are part of the recorded computation like the context: a loss
 *   term on them (an entropy penalty, a supervised alignment) sends its
 *   gradient through the softmax into the scores, and so into queries,
 *   keys and the parameters, in every family. Masked positions and fully
 *   masked rows have weight 0 and pass no gradient. The one exception is
 *   at_monotonic_attend_hard, which is for decoding and records nothing.
 * Masks. THE ONE MASK CONVENTION (top of this file) applied to the scores
 *   viewed as rows of Tk: 1 = keep. A padding mask is (B, Tk) with rows = B;
 *   a full mask has one row per score row (B*Tq rows, or B*H*Tq for
 *   multi-head scores (B, H, Tq, Tk)). causal = 1 also drops key j for
 *   query i when j > i + (Tk - Tq), so with Tq == Tk query i sees keys
 *   0..i, and the last query always sees every key. A query that sees no
 *   key gets zero weights, zero context and zero gradient, never NaN.
 * Precomputation. What does not change per decoder step is computed once
 *   per sequence by a family's _project_keys (e.g. Bahdanau's U_a h_j + b_a),
 *   and the result is passed to every step.
 * Parameter names. PREFIX.W_a etc., the symbols of the paper's equations
 *   (multi-head: PyTorch's). docs/mechanisms/ has one table per family:
 *   attend's name, the paper's symbol, the PyTorch equivalent.
 * Initialisation. Every _init draws from rng; rng == NULL leaves every
 *   parameter zero (see layers above), to load foreign weights into. */

typedef struct at_attn_mask {
    const uint8_t *keep; /* NULL, or `rows` rows of Tk bytes, 1 = keep */
    int rows;            /* B (padding) or one per score row (full)     */
    int causal;          /* 1 = also hide later keys, see above        */
} at_attn_mask;

/* 1. Additive (Bahdanau et al. 2015), "concat" in Luong's terms:
 *   e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a)   α_t = softmax_j(e_t)
 *   c_t = Σ_j α_tj v_j                                                  */
typedef struct at_additive {
    at_tensor *W_a; /* (A, Dq) */
    at_tensor *U_a; /* (A, Dk) */
    at_tensor *b_a; /* (A)     */
    at_tensor *v_a; /* (A)     */
    int query_size, key_size, attn_size;
} at_additive;
at_status at_additive_init(at_ctx *ctx, at_additive *layer, at_params *params,
                           const char *prefix, int query_size, int key_size, int attn_size,
                           at_rng *rng);
/* keys (B, Tk, Dk) -> keys_proj (B, Tk, A) = U_a k_j + b_a, once per sequence. */
at_status at_additive_project_keys(at_ctx *ctx, const at_additive *layer, at_tensor *keys,
                                   at_tensor **keys_proj);
/* The weights carry gradients (a loss on them reaches every input and
 * parameter), as the context does. */
at_status at_additive_attend(at_ctx *ctx, const at_additive *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights);

/* 2. The AttentionDecoder of "Attention in Keras" (the seed): a GRU-style
 * cell whose gates also read the context c_t of additive attention on
 * s_{t-1}:
 *   r_t = σ(W_r y_{t-1} + U_r s_{t-1} + C_r c_t + b_r)
 *   z_t = σ(W_z y_{t-1} + U_z s_{t-1} + C_z c_t + b_z)
 *   s̃_t = tanh(W_p y_{t-1} + U_p (r_t ∘ s_{t-1}) + C_p c_t + b_p)
 *   s_t = (1 − z_t) ∘ s_{t-1} + z_t ∘ s̃_t
 *   logits_t = W_o y_{t-1} + U_o s_t + C_o c_t + b_o,  y_t = softmax(logits_t)
 *   s_0 = tanh(W_s h_1)
 * output_from_previous_state = 1 uses s_{t-1} in logits_t, as the original
 * code did; 0 (default) uses s_t, as the article and Bahdanau's eq. 4.
 * Set it with at_attention_decoder_init_ext (it is the struct field below,
 * read at every step).
 * y_{t-1} is whatever the caller feeds: the model's own previous softmax
 * (the original) or an embedding of the previous target (teacher forcing).
 * Sizes: Y input, Dh annotation, S state, V output, A attention. */
typedef struct at_attention_decoder {
    at_additive attention;            /* W_a (A, S), U_a (A, Dh), b_a, v_a */
    at_tensor *W_r, *U_r, *C_r, *b_r; /* (S, Y), (S, S), (S, Dh), (S)      */
    at_tensor *W_z, *U_z, *C_z, *b_z;
    at_tensor *W_p, *U_p, *C_p, *b_p;
    at_tensor *W_o, *U_o, *C_o, *b_o; /* (V, Y), (V, S), (V, Dh), (V)      */
    at_tensor *W_s;                   /* (S, Dh)                           */
    int input_size, context_size, state_size, output_size;
    int output_from_previous_state;   /* set by at_attention_decoder_init_ext */
} at_attention_decoder;
typedef struct at_attention_decoder_options {
    int output_from_previous_state; /* 0 (default): logits from s_t; 1: from s_{t-1} */
} at_attention_decoder_options;
at_attention_decoder_options at_attention_decoder_options_default(void); /* {0} */
at_status at_attention_decoder_init(at_ctx *ctx, at_attention_decoder *dec, at_params *params,
                                    const char *prefix, int input_size, int context_size,
                                    int state_size, int output_size, int attn_size,
                                    at_rng *rng);
/* options NULL = the defaults; output_from_previous_state other than 0 or
 * 1 is an AT_ERR_ARGUMENT. */
at_status at_attention_decoder_init_ext(at_ctx *ctx, at_attention_decoder *dec,
                                        at_params *params, const char *prefix, int input_size,
                                        int context_size, int state_size, int output_size,
                                        int attn_size,
                                        const at_attention_decoder_options *options,
                                        at_rng *rng);
/* annotations (B, Tx, Dh) -> s0 (B, S) = tanh(W_s h_1). */
at_status at_attention_decoder_start(at_ctx *ctx, const at_attention_decoder *dec,
                                     at_tensor *annotations, at_tensor **s0);
/* One step. y_prev (B, Y), s_prev (B, S), annotations (B, Tx, Dh),
 * keys_proj = at_additive_project_keys(&dec->attention, annotations).
 * -> s (B, S), logits (B, V), weights (B, Tx) or NULL. */
at_status at_attention_decoder_step(at_ctx *ctx, const at_attention_decoder *dec,
                                    at_tensor *y_prev, at_tensor *s_prev,
                                    at_tensor *annotations, at_tensor *keys_proj,
                                    const at_attn_mask *mask, at_tensor **s, at_tensor **logits,
                                    at_tensor **weights);
/* The same, and the context c_t (B, Dh) (NULL: not asked for). s, logits,
 * weights and context all carry gradients to every input and parameter. */
at_status at_attention_decoder_step_ext(at_ctx *ctx, const at_attention_decoder *dec,
                                        at_tensor *y_prev, at_tensor *s_prev,
                                        at_tensor *annotations, at_tensor *keys_proj,
                                        const at_attn_mask *mask, at_tensor **s,
                                        at_tensor **logits, at_tensor **weights,
                                        at_tensor **context);

/* 3. Global attention (Luong et al. 2015). Scores of the current decoder
 * state h_t against each source state h̄_s:
 *   dot       h_tᵀ h̄_s                  (needs Dq == Dk)
 *   general   h_tᵀ W_a h̄_s              W_a (Dq, Dk)
 *   concat    v_aᵀ tanh(W_a [h_t; h̄_s])   W_a (A, Dq + Dk), v_a (A)
 *   location  a_t = softmax(W_a h_t)      W_a (max_source_len, Dq); only
 *             the first Tk positions are used (Tk <= max_source_len)
 *   a_t = softmax_s(score)   c_t = Σ_s a_t(s) v_s
 *   h̃_t = tanh(W_c [c_t; h_t])   W_c (Dc, Dv + Dq)   (at_luong_attentional)
 * _project_keys precomputes W_a h̄_s (general), the h̄_s half of W_a
 * (concat), or returns keys itself (dot, location). */
typedef enum at_score {
    AT_SCORE_DOT,
    AT_SCORE_GENERAL,
    AT_SCORE_CONCAT,
    AT_SCORE_LOCATION
} at_score;
typedef struct at_luong {
    at_score score;
    at_tensor *W_a, *v_a; /* as the score needs (v_a: concat only)  */
    at_tensor *W_c;       /* (Dc, Dv + Dq); NULL if attentional_size 0 */
    int query_size, key_size, attn_size, max_source_len, attentional_size;
    int value_size;       /* Dv of W_c (0 = key_size)                  */
} at_luong;
/* attn_size: concat only; max_source_len: location only; value size for
 * W_c is key_size (Luong attends over h̄_s itself). */
at_status at_luong_init(at_ctx *ctx, at_luong *layer, at_params *params, const char *prefix,
                        at_score score, int query_size, int key_size, int attn_size,
                        int max_source_len, int attentional_size, at_rng *rng);
/* Values of another size Dv ≠ Dk: make the layer with attentional_size 0,
 * then add W_c (Dc, Dv + Dq) = PREFIX.W_c with this. A layer that already
 * has W_c is an AT_ERR_ARGUMENT. */
at_status at_luong_init_attentional(at_ctx *ctx, at_luong *layer, at_params *params,
                                    const char *prefix, int value_size, int attentional_size,
                                    at_rng *rng);
at_status at_luong_project_keys(at_ctx *ctx, const at_luong *layer, at_tensor *keys,
                                at_tensor **keys_proj);
at_status at_luong_attend(at_ctx *ctx, const at_luong *layer, at_tensor *queries,
                          at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                          at_tensor **context, at_tensor **weights);
/* context (B, [Tq,] Dv), queries (B, [Tq,] Dq) -> h_tilde (B, [Tq,] Dc),
 * Dv = value_size (key_size unless at_luong_init_attentional said so). */
at_status at_luong_attentional(at_ctx *ctx, const at_luong *layer, at_tensor *context,
                               at_tensor *queries, at_tensor **h_tilde);

/* 4. Local attention (Luong et al. 2015): attend only inside the window
 * [p_t − D, p_t + D], clipped to the row's source length S.
 *   local-m  p_t = t (query i of a call is step first_step + i); a_t is the
 *            score's softmax restricted to the window (the paper's eq. 7)
 *   local-p  p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), W_p (P, Dq), v_p (P);
 *            a_t(s) = align_t(s) · exp(−(s − p_t)² / (2σ²)), σ = D / 2,
 *            align = the softmax restricted to the window. p_t is real:
 *            the gradient reaches W_p and v_p through the Gaussian term.
 * The window is every integer s with |s − p_t| <= D. The weights returned
 * are a_t (for local-p they need not sum to 1, as in the paper). */
typedef enum at_local_kind { AT_LOCAL_M, AT_LOCAL_P } at_local_kind;
typedef struct at_luong_local {
    at_luong align;     /* the score inside the window (not location) */
    at_local_kind kind;
    int window;         /* D */
    at_tensor *W_p;     /* local-p (P, Dq) */
    at_tensor *v_p;     /* local-p (P)     */
    int predict_size;   /* P */
} at_luong_local;
at_status at_luong_local_init(at_ctx *ctx, at_luong_local *layer, at_params *params,
                              const char *prefix, at_local_kind kind, at_score score,
                              int query_size, int key_size, int attn_size,
                              int attentional_size, int window, int predict_size,
                              at_rng *rng);
/* keys_proj from at_luong_project_keys(&layer->align, keys). lengths: (B)
 * source lengths S, or NULL: then S is what a padding mask (rows = B)
 * keeps of each row, or Tk without one (a full mask is per query and says
 * nothing of S: pass lengths with it). lengths and a padding mask that
 * disagree on a row are an AT_ERR_ARGUMENT. positions: NULL or -> (B, Tq)
 * p_t. weights (B, [Tq,] Tk) and positions carry gradients. */
at_status at_luong_local_attend(at_ctx *ctx, const at_luong_local *layer, at_tensor *queries,
                                at_tensor *keys_proj, at_tensor *values,
                                const at_attn_mask *mask, const int32_t *lengths,
                                int first_step, at_tensor **context, at_tensor **weights,
                                at_tensor **positions);

/* 5. Static attention: one distribution per sequence, not per step.
 * HAN (Yang et al. 2016), with a learned context vector u_w:
 *   u_t = tanh(W h_t + b)   α_t = softmax_t(u_tᵀ u_w)   out = Σ_t α_t h_t
 *   W (A, D), b (A), u_w (A). h (B, T, D) -> out (B, D), weights (B, T).
 * The seed's Keras layer, one distribution per feature f (W (D, D), b (D)):
 *   u_t = tanh(W h_t + b)   a_tf = exp(u_tf) · mask_t
 *   α_tf = a_tf / (Σ_t a_tf + ε)   out_f = Σ_t α_tf h_tf
 *   h (B, T, D) -> out (B, D), weights (B, T, D). Since u ∈ (−1, 1), two
 *   weights of one feature differ by at most e² ≈ 7.4×: it cannot focus.
 * Masks: padding (B, T) with rows = B (causal is ignored). Both layers'
 * weights carry gradients, as their out does. */
typedef struct at_han_attention {
    at_tensor *W, *b, *u_w;
    int input_size, attn_size;
} at_han_attention;
at_status at_han_attention_init(at_ctx *ctx, at_han_attention *layer, at_params *params,
                                const char *prefix, int input_size, int attn_size,
                                at_rng *rng);
at_status at_han_attention_forward(at_ctx *ctx, const at_han_attention *layer, at_tensor *h,
                                   const at_attn_mask *mask, at_tensor **out,
                                   at_tensor **weights);
typedef struct at_feature_attention {
    at_tensor *W, *b;
    int input_size;
    float eps; /* default 1e-7 (Keras' epsilon); set by at_feature_attention_init_ext */
} at_feature_attention;
typedef struct at_feature_attention_options {
    float eps; /* ε of the normalisation, finite and >= 0; default 1e-7 */
} at_feature_attention_options;
at_feature_attention_options at_feature_attention_options_default(void); /* {1e-7} */
at_status at_feature_attention_init(at_ctx *ctx, at_feature_attention *layer, at_params *params,
                                    const char *prefix, int input_size, at_rng *rng);
/* options NULL = the defaults; a negative or non-finite eps is an
 * AT_ERR_ARGUMENT (eps = 0 is allowed: a fully masked sequence still gives
 * α = 0, not NaN). */
at_status at_feature_attention_init_ext(at_ctx *ctx, at_feature_attention *layer,
                                        at_params *params, const char *prefix, int input_size,
                                        const at_feature_attention_options *options,
                                        at_rng *rng);
at_status at_feature_attention_forward(at_ctx *ctx, const at_feature_attention *layer,
                                       at_tensor *h, const at_attn_mask *mask, at_tensor **out,
                                       at_tensor **weights);

/* 6. Forced-forward attention: the alignment only moves forward.
 * Monotonic attention (Raffel et al. 2017). Energy (additive, with a
 * scalar gain g and offset r):  e_ij = g v_aᵀ/‖v_a‖ tanh(W_a s_{i−1} +
 * U_a h_j + b_a) + r,   p_ij = σ(e_ij)  (plus N(0, noise_std²) before the
 * sigmoid in training mode, to push p towards 0 or 1).
 * Training (soft, expected alignment), the exact recursion:
 *   q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j}    (q_i0 = α_{i−1,0})
 *   α_ij = p_ij q_ij          Σ_j α_ij <= 1;   α_0 = δ(j = 0)
 * Decoding (hard): from the previous position (included), scan forward and
 * stop at the first j with p_ij >= 0.5; if none, attend to nothing (zero
 * context) and keep the position. A masked key has p_ij = 0: the alignment
 * can pass over padding but never stop on it.
 * Settings: g and r are parameters (initialised to 1/√A and −1); noise_std
 * is the struct field below, read at every soft call (default 0). Choose
 * all three at init with at_monotonic_init_ext. */
typedef struct at_monotonic {
    at_additive energy; /* W_a (A, Dq), U_a (A, Dk), b_a (A), v_a (A) */
    at_tensor *g, *r;   /* (1), (1) */
    float noise_std;    /* default 0; set by at_monotonic_init_ext */
} at_monotonic;
typedef struct at_monotonic_options {
    float g_init;    /* initial gain g; 0 = 1/√A (the default)          */
    float r_init;    /* initial offset r; default −1                   */
    float noise_std; /* pre-sigmoid noise in training mode; default 0  */
} at_monotonic_options;
/* The defaults: {g_init 0 (= 1/√A), r_init −1, noise_std 0}. Start from
 * these and change what you need. */
at_monotonic_options at_monotonic_options_default(void);
at_status at_monotonic_init(at_ctx *ctx, at_monotonic *layer, at_params *params,
                            const char *prefix, int query_size, int key_size, int attn_size,
                            at_rng *rng);
/* options NULL = the defaults. Non-finite g_init or r_init, or a
 * noise_std that is negative or not finite, is an AT_ERR_ARGUMENT. */
at_status at_monotonic_init_ext(at_ctx *ctx, at_monotonic *layer, at_params *params,
                                const char *prefix, int query_size, int key_size,
                                int attn_size, const at_monotonic_options *options,
                                at_rng *rng);
/* keys_proj = at_additive_project_keys(&layer->energy, keys).
 * query (B, Dq), alpha_prev (B, Tk) or NULL (δ at 0) -> context (B, Dv),
 * alpha (B, Tk): the expected alignment, also the weights to look at.
 * It is at_monotonic_energies followed by at_monotonic_attend_energies
 * (with layer->noise_std): call those two to read p_ij or the energies. */
at_status at_monotonic_attend(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                              at_tensor *keys_proj, at_tensor *values, at_tensor *alpha_prev,
                              const at_attn_mask *mask, at_tensor **context,
                              at_tensor **alpha);
/* The layer's energies e_ij: query (B, Dq), keys_proj (B, Tk, A)
 * -> energies (B, Tk), before any noise or mask. */
at_status at_monotonic_energies(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                at_tensor *keys_proj, at_tensor **energies);
/* The soft walk on energies from anywhere (the layer's, or any score of
 * the caller's): energies (B, Tk), values (B, Tk, Dv), alpha_prev (B, Tk)
 * or NULL (δ at 0), noise_std >= 0 (used in training mode only)
 * -> context (B, Dv), alpha (B, Tk) or NULL, p_choose (B, Tk) or NULL:
 * p_ij = σ(e_ij + noise), 0 where masked. Every output carries gradients
 * back to energies, values and alpha_prev. */
at_status at_monotonic_attend_energies(at_ctx *ctx, at_tensor *energies, at_tensor *values,
                                       at_tensor *alpha_prev, const at_attn_mask *mask,
                                       float noise_std, at_tensor **context,
                                       at_tensor **alpha, at_tensor **p_choose);
/* positions (B): in, the previous position (start at 0); out, the new one.
 * weights (B, Tk) one-hot (or all zero). No gradient (decoding only). */
at_status at_monotonic_attend_hard(at_ctx *ctx, const at_monotonic *layer, at_tensor *query,
                                   at_tensor *keys_proj, at_tensor *values,
                                   const at_attn_mask *mask, int32_t *positions,
                                   at_tensor **context, at_tensor **weights);
/* Forward attention (Zhang et al. 2018) on top of any soft attention y_t:
 *   α̂_t(n) = ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) · y_t(n), renormalised
 * over n (all zeros if the sum is 0). y is the caller's: any weights >= 0
 * (a softmax of any score, e.g. at_additive_attend's weights, a
 * Gaussian, a hand-made prior; they need not sum to 1). A negative or
 * non-finite y is an AT_ERR_ARGUMENT. u (B, 1) in [0, 1] is the transition
 * agent's output (outside [0, 1]: AT_ERR_ARGUMENT); transition = NULL
 * means the plain form α̂_t(n) = (α̂_{t−1}(n) + α̂_{t−1}(n−1)) · y_t(n).
 * y (B, Tk), alpha_prev (B, Tk) or NULL (δ at 0), values (B, Tk, Dv)
 * -> context (B, Dv), alpha (B, Tk). Gradients reach y, alpha_prev,
 * transition and values at any number of steps: a chain of steps (each
 * reading the previous step's alpha as alpha_prev) carries dα̂ between
 * them in extended range, since it grows without bound where the
 * alignment has not arrived. */
at_status at_forward_attention(at_ctx *ctx, at_tensor *y, at_tensor *alpha_prev,
                               at_tensor *transition, at_tensor *values,
                               const at_attn_mask *mask, at_tensor **context,
                               at_tensor **alpha);

/* 7. Multiplicative attention: dot qᵀk, scaled dot qᵀk/√d (Vaswani et al.
 * 2017), general (bilinear) qᵀ W k.
 * at_dot_attention is the fused kernel: softmax(scale · Q Kᵀ + mask) V in
 * tiles with an online softmax, so with weights == NULL no (Tq, Tk) matrix
 * is ever stored and memory is linear in T. q (B, H, Tq, d) or (B, Tq, d),
 * k (B, H, Tk, d) or (B, Tk, d), v likewise with dv; context like q with
 * dv; weights (B, H, Tq, Tk) or (B, Tq, Tk). A decoder step q (B, d)
 * against k (B, Tk, d), v (B, Tk, dv) is read as Tq = 1: context (B, dv),
 * weights (B, Tk). scale 0 means 1/sqrt(d); pass 1 for the plain dot score.
 * The weights carry a gradient (see "Weights." above): the backward adds
 * their gradient through the softmax into q and k, in the same tiles; with
 * weights == NULL nothing of it exists. */
at_status at_dot_attention(at_ctx *ctx, at_tensor *q, at_tensor *k, at_tensor *v, float scale,
                           const at_attn_mask *mask, at_tensor **context, at_tensor **weights);
typedef struct at_bilinear {
    at_tensor *W; /* (Dq, Dk) */
    int query_size, key_size;
} at_bilinear;
at_status at_bilinear_init(at_ctx *ctx, at_bilinear *layer, at_params *params,
                           const char *prefix, int query_size, int key_size, at_rng *rng);
/* keys (B, Tk, Dk) -> keys_proj (B, Tk, Dq) = k Wᵀ, once per sequence. */
at_status at_bilinear_project_keys(at_ctx *ctx, const at_bilinear *layer, at_tensor *keys,
                                   at_tensor **keys_proj);
at_status at_bilinear_attend(at_ctx *ctx, const at_bilinear *layer, at_tensor *queries,
                             at_tensor *keys_proj, at_tensor *values, const at_attn_mask *mask,
                             at_tensor **context, at_tensor **weights);

/* 8. Self-attention: queries, keys and values from one sequence x (B, T, D):
 *   Q = x W_Qᵀ, K = x W_Kᵀ (each (d_k, D)), V = x W_Vᵀ (d_v, D)
 *   out = softmax(Q Kᵀ/√d_k + mask) V     (B, T, d_v), weights (B, T, T)
 * Structured self-attention (Lin et al. 2017), r hops:
 *   A = softmax(W_s2 tanh(W_s1 Hᵀ))  W_s1 (da, D), W_s2 (r, da)
 *   M = A H   (B, r, D), weights A (B, r, T);  penalty = mean over the
 *   batch of ‖A Aᵀ − I‖²_F, or one ‖A_b A_bᵀ − I‖²_F per batch row. */
typedef struct at_self_attention {
    at_tensor *W_Q, *W_K, *W_V;
    int input_size, head_size; /* D, d_k                    */
    int value_size;            /* d_v (0 = head_size)        */
} at_self_attention;
/* d_k = d_v = head_size. */
at_status at_self_attention_init(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                 const char *prefix, int input_size, int head_size,
                                 at_rng *rng);
/* d_k = key_size, d_v = value_size, each > 0. */
at_status at_self_attention_init_sizes(at_ctx *ctx, at_self_attention *layer, at_params *params,
                                       const char *prefix, int input_size, int key_size,
                                       int value_size, at_rng *rng);
at_status at_self_attention_forward(at_ctx *ctx, const at_self_attention *layer, at_tensor *x,
                                    const at_attn_mask *mask, at_tensor **out,
                                    at_tensor **weights);
typedef struct at_structured_attention {
    at_tensor *W_s1, *W_s2;
    int input_size, attn_size, hops;
} at_structured_attention;
at_status at_structured_attention_init(at_ctx *ctx, at_structured_attention *layer,
                                       at_params *params, const char *prefix, int input_size,
                                       int attn_size, int hops, at_rng *rng);
at_status at_structured_attention_forward(at_ctx *ctx, const at_structured_attention *layer,
                                          at_tensor *h, const at_attn_mask *mask,
                                          at_tensor **out, at_tensor **weights);
/* weights A (B, r, T) -> penalty (1), the batch mean. */
at_status at_structured_penalty(at_ctx *ctx, at_tensor *weights, at_tensor **penalty);
/* weights A (B, r, T) -> penalties (B), P_b = ‖A_b A_bᵀ − I‖²_F: weight
 * rows yourself, or leave some out (at_structured_penalty is their mean). */
at_status at_structured_penalty_rows(at_ctx *ctx, at_tensor *weights, at_tensor **penalties);

/* 9. Key-value attention (Daniluk et al. 2017) over the previous L steps of
 * one sequence, keys and values kept apart (key-value-predict: pass the
 * predict part as x; key-value: pass the values as x):
 *   M_t = tanh(W_Y [k_{t−L} … k_{t−1}] + (W_h k_t) 1ᵀ)   α_t = softmax(wᵀ M_t)
 *   r_t = [v_{t−L} … v_{t−1}] α_tᵀ     h*_t = tanh(W_r r_t + W_x x_t)
 * W_Y, W_h (A, Dk), w (A), W_r (Do, Dv), W_x (Do, Dx).
 * keys (B, T, Dk), values (B, T, Dv), x (B, T, Dx) -> out (B, T, Do),
 * weights (B, T, T) (zero outside the window; step 0 sees nothing, so its
 * r_0 = 0). mask: padding (B, T), rows = B; it removes keys from every
 * window, and steps inside the padding are computed as usual. */
typedef struct at_key_value {
    at_tensor *W_Y, *W_h, *w, *W_r, *W_x;
    int key_size, value_size, input_size, out_size, attn_size, memory;
} at_key_value;
at_status at_key_value_init(at_ctx *ctx, at_key_value *layer, at_params *params,
                            const char *prefix, int key_size, int value_size, int input_size,
                            int out_size, int attn_size, int memory, at_rng *rng);
at_status at_key_value_forward(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                               at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights);
/* The same, and the read r_t (B, T, Dv) (NULL: not kept). out, weights
 * and read all carry gradients to every input and parameter. */
at_status at_key_value_forward_ext(at_ctx *ctx, const at_key_value *layer, at_tensor *keys,
                                   at_tensor *values, at_tensor *x, const at_attn_mask *mask,
                                   at_tensor **out, at_tensor **weights, at_tensor **read);

/* 10. Multi-head attention (Vaswani et al. 2017), laid out as
 * torch.nn.MultiheadAttention(E, H, kdim=Dk, vdim=Dv, batch_first=True) so
 * its state_dict loads as is. With Dk = Dv = E: PREFIX.in_proj_weight
 * (3E, E) = [W_Q; W_K; W_V]; otherwise, as torch, PREFIX.q_proj_weight
 * (E, E), PREFIX.k_proj_weight (E, Dk), PREFIX.v_proj_weight (E, Dv). Then
 * PREFIX.in_proj_bias (3E), PREFIX.out_proj.weight (O, E),
 * PREFIX.out_proj.bias (O); O = E in torch, any size here. Head h uses
 * rows h·E/H .. of each projection.
 *   head_h = softmax(Q_h K_hᵀ/√(E/H) + mask) V_h    out = [head_1 … head_H] W_Oᵀ + b_O
 * query (B, Tq, E) (or a step (B, E)), key (B, Tk, Dk), value (B, Tk, Dv)
 * -> out (B, Tq, O) (or (B, O)), weights (B, H, Tq, Tk) per head (never
 * averaged; (B, H, Tk) for a step). For cross-attention, _project_kv
 * makes K and V (B, H, Tk, E/H) once per sequence. */
typedef struct at_multi_head {
    at_tensor *in_proj_weight, *in_proj_bias, *out_proj_weight, *out_proj_bias;
    int embed_dim, heads;
    at_tensor *q_proj_weight, *k_proj_weight, *v_proj_weight; /* Dk or Dv ≠ E; else NULL */
    int kdim, vdim, out_dim;                                  /* Dk, Dv, O (0 = E)      */
} at_multi_head;
/* Dk = Dv = O = E. */
at_status at_multi_head_init(at_ctx *ctx, at_multi_head *layer, at_params *params,
                             const char *prefix, int embed_dim, int heads, at_rng *rng);
/* kdim, vdim, out_dim: Dk, Dv, O; 0 means E. */
at_status at_multi_head_init_sizes(at_ctx *ctx, at_multi_head *layer, at_params *params,
                                   const char *prefix, int embed_dim, int heads, int kdim,
                                   int vdim, int out_dim, at_rng *rng);
at_status at_multi_head_project_kv(at_ctx *ctx, const at_multi_head *layer, at_tensor *key,
                                   at_tensor *value, at_tensor **k_heads, at_tensor **v_heads);
at_status at_multi_head_attend(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                               at_tensor *k_heads, at_tensor *v_heads, const at_attn_mask *mask,
                               at_tensor **out, at_tensor **weights);
at_status at_multi_head_forward(at_ctx *ctx, const at_multi_head *layer, at_tensor *query,
                                at_tensor *key, at_tensor *value, const at_attn_mask *mask,
                                at_tensor **out, at_tensor **weights);

/* --------------------------------------------------------------- training */

typedef enum at_optim_kind { AT_SGD, AT_ADAM, AT_ADAMW } at_optim_kind;

typedef struct at_optim_config {
    at_optim_kind kind;
    float lr;           /* learning rate                                   */
    float momentum;     /* SGD only (0 = plain SGD)                         */
    int nesterov;       /* SGD only                                        */
    float beta1, beta2; /* Adam(W); 0 = the defaults 0.9, 0.999 (so 0 itself
                           cannot be asked for)                             */
    float eps;          /* Adam(W); 0 = the default 1e-8                    */
    float weight_decay; /* SGD/Adam: added to the gradient (L2); AdamW:
                           decoupled, p -= lr * wd * p, as PyTorch          */
} at_optim_config;

typedef struct at_optim at_optim;
at_status at_optim_create(at_ctx *ctx, at_optim **out, at_params *params,
                          const at_optim_config *config);
void at_optim_free(at_optim *opt);
/* One update from the current gradients. A NaN or infinite gradient is an
 * AT_ERR_NUMERIC and leaves every parameter unchanged. */
at_status at_optim_step(at_ctx *ctx, at_optim *opt);
void at_optim_set_lr(at_optim *opt, float lr);
float at_optim_lr(const at_optim *opt);
long at_optim_steps(const at_optim *opt);

/* Scale all gradients so their global L2 norm is at most max_norm (as
 * torch.nn.utils.clip_grad_norm_). The norm before clipping goes to
 * *norm_out if not NULL. A non-finite norm is an AT_ERR_NUMERIC. */
at_status at_clip_grad_norm(at_ctx *ctx, at_params *params, float max_norm, float *norm_out);

/* Learning-rate schedule: linear warm-up from 0 over warmup_steps, then
 * constant, linear decay to final_lr at total_steps, cosine decay to
 * final_lr at total_steps, or inverse square root. */
typedef enum at_decay { AT_DECAY_NONE, AT_DECAY_LINEAR, AT_DECAY_COSINE, AT_DECAY_INV_SQRT } at_decay;
typedef struct at_schedule {
    float base_lr, final_lr;
    long warmup_steps, total_steps;
    at_decay decay;
} at_schedule;
float at_schedule_lr(const at_schedule *schedule, long step);

/* ------------------------------------------------------------- checkpoints
 * The safetensors format: an 8-byte little-endian header length N, N bytes of
 * JSON header {"name": {"dtype": "F32", "shape": [...], "data_offsets":
 * [begin, end]}, ..., "__metadata__": {"key": "value", ...}}, then the raw
 * little-endian tensor bytes. Model configuration and vocabularies go in
 * __metadata__ (string values only, as the format requires).            */

typedef struct at_metadata {
    int count;
    char **keys;
    char **values;
} at_metadata;
/* Set (copying both strings; replacing an existing key). */
at_status at_metadata_set(at_ctx *ctx, at_metadata *meta, const char *key, const char *value);
const char *at_metadata_get(const at_metadata *meta, const char *key); /* NULL if absent */
void at_metadata_clear(at_metadata *meta); /* frees the strings; leaves it empty */

/* Save every parameter (F32) and the metadata (may be NULL). Writes a
 * temporary file in the same directory, flushes it, then renames it over
 * path, so path is either the old file or the complete new one. */
at_status at_checkpoint_save(at_ctx *ctx, const char *path, const at_params *params,
                             const at_metadata *meta);
/* Load into an existing parameter set: every parameter must be present in
 * the file (else AT_ERR_FORMAT) with the same shape (else AT_ERR_SHAPE);
 * dtype F32, or F16/BF16/F64, which are converted (an integer or BOOL
 * tensor for a parameter is an AT_ERR_FORMAT). Tensors in the file that
 * the set does not have are ignored. The whole header is validated first,
 * as at_safetensors_open does (a tensor or metadata key named twice is an
 * AT_ERR_FORMAT); on any error nothing is changed. meta_out may be NULL;
 * otherwise it must be empty ({0} or cleared) and receives the metadata
 * (clear it with at_metadata_clear). */
at_status at_checkpoint_load(at_ctx *ctx, const char *path, at_params *params,
                             at_metadata *meta_out);
/* Read only the metadata (e.g. to learn the model configuration first);
 * meta_out must be empty, as for at_checkpoint_load. */
at_status at_checkpoint_read_metadata(at_ctx *ctx, const char *path, at_metadata *meta_out);
/* The metadata value of key as a whole number in [min, max]: decimal
 * digits with an optional leading '-', nothing else (no space, no '+', no
 * fraction). A missing key, any other text or a number outside [min, max]
 * is an AT_ERR_FORMAT naming the key and the text; *out is then unchanged. */
at_status at_metadata_get_long(at_ctx *ctx, const at_metadata *meta, const char *key, long min,
                               long max, long *out);

/* Any safetensors file, whatever its tensors: names, dtypes, shapes,
 * bytes and metadata. at_safetensors_open reads and validates the whole
 * header as at_checkpoint_load does (offsets inside the data, byte counts
 * that match shape and dtype, no overlapping tensors, metadata values that
 * are strings) and also refuses a header that names a tensor or a metadata
 * key twice, more than AT_SAFETENSORS_MAX_TENSORS tensors or more than
 * AT_SAFETENSORS_MAX_METADATA metadata entries (all AT_ERR_FORMAT, naming
 * the file and the problem). Tensor data is read only when asked for.
 * Tensors are indexed 0 .. count-1 in byte order of their names (strcmp).
 * A handle may be read from several threads at once; it keeps the file
 * open until at_safetensors_close. */
typedef enum at_dtype {
    AT_DTYPE_F32, AT_DTYPE_F64, AT_DTYPE_F16, AT_DTYPE_BF16,
    AT_DTYPE_I64, AT_DTYPE_I32, AT_DTYPE_I16, AT_DTYPE_I8, AT_DTYPE_U8,
    AT_DTYPE_BOOL
} at_dtype;
/* "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL" (as
 * in the file); NULL for a value outside the enum. */
const char *at_dtype_name(at_dtype dtype);
/* Bytes per element (BOOL: 1); 0 for a value outside the enum. */
size_t at_dtype_size(at_dtype dtype);

#define AT_SAFETENSORS_MAX_DIMS 8
#define AT_SAFETENSORS_MAX_TENSORS 100000
#define AT_SAFETENSORS_MAX_METADATA 10000

typedef struct at_safetensors at_safetensors;
typedef struct at_safetensor_info {
    const char *name; /* owned by the handle, valid until close     */
    at_dtype dtype;
    int ndim;         /* 0 (a scalar) to AT_SAFETENSORS_MAX_DIMS   */
    int64_t shape[AT_SAFETENSORS_MAX_DIMS]; /* each in [0, INT_MAX]  */
    uint64_t numel;   /* product of the shape (1 for a scalar)      */
    uint64_t bytes;   /* numel * at_dtype_size(dtype)               */
} at_safetensor_info;

/* A missing or unreadable file is an AT_ERR_IO; a malformed one an
 * AT_ERR_FORMAT. *out is NULL on failure. close(NULL) does nothing. */
at_status at_safetensors_open(at_ctx *ctx, at_safetensors **out, const char *path);
void at_safetensors_close(at_safetensors *file);
int at_safetensors_count(const at_safetensors *file);
/* The index of the tensor called name, or -1 (binary search). */
int at_safetensors_find(const at_safetensors *file, const char *name);
/* The tensor at index; an index outside [0, count) is an AT_ERR_ARGUMENT. */
at_status at_safetensors_info(at_ctx *ctx, const at_safetensors *file, int index,
                              at_safetensor_info *out);
/* Its bytes as the file stores them (little-endian, row-major) into buf;
 * bytes must equal info.bytes (else AT_ERR_ARGUMENT). A file that became
 * shorter since it was opened is an AT_ERR_IO. */
at_status at_safetensors_read(at_ctx *ctx, const at_safetensors *file, int index, void *buf,
                              size_t bytes);
/* Its values converted to float32 into out; count must equal info.numel.
 * F16 and BF16 are exact; F64 rounds to nearest (beyond float's range it
 * becomes +-infinity); integers round to the nearest float (exact up to
 * 2^24 in magnitude); BOOL gives 0 for a zero byte and 1 for any other. */
at_status at_safetensors_read_f32(at_ctx *ctx, const at_safetensors *file, int index,
                                  float *out, size_t count);
/* The file's __metadata__ (empty if it has none), owned by the handle. */
const at_metadata *at_safetensors_metadata(const at_safetensors *file);

/* The optimiser's state to a safetensors file and back, so that a stopped
 * run resumes on the same trajectory. The file holds, under PyTorch's
 * names and with each parameter's shape, "exp_avg.NAME" and
 * "exp_avg_sq.NAME" (Adam, AdamW) or "momentum_buffer.NAME" (SGD with
 * momentum; plain SGD has no buffer), and in __metadata__ "optim.kind"
 * (sgd, adam or adamw), "optim.steps" (updates made: Adam's t) and, as a
 * record, the configuration ("optim.lr", "optim.beta1", ...). extra (may be
 * NULL) adds the caller's metadata; its keys may not start with "optim.".
 * The save is atomic, as at_checkpoint_save's.
 *
 * Load checks the whole file before it changes anything: the kind must be
 * the optimiser's and optim.steps a whole number >= 0 (else AT_ERR_FORMAT),
 * every buffer of every parameter present (AT_ERR_FORMAT) with the
 * parameter's shape (AT_ERR_SHAPE) and no other tensor (AT_ERR_FORMAT),
 * every value finite and every exp_avg_sq >= 0 (AT_ERR_NUMERIC). Only then
 * are the buffers and the step count replaced; the configuration (learning
 * rate, betas, ...) stays the optimiser's own. On any error the optimiser
 * is unchanged. meta_out: NULL, or an empty at_metadata that receives the
 * file's metadata (clear it with at_metadata_clear). */
at_status at_optim_save(at_ctx *ctx, const at_optim *opt, const char *path,
                        const at_metadata *extra);
at_status at_optim_load(at_ctx *ctx, at_optim *opt, const char *path, at_metadata *meta_out);

/* ------------------------------------------------------------------ data
 * Text pairs, vocabularies (characters or tokens), TSV files, the generated date
 * data set (human-written date -> ISO date) of the date translator.
 * Strings are UTF-8 everywhere. A character is a Unicode code point.   */

/* A list of (source, target) text pairs: a generated data set or a user's
 * TSV. Start from {0}; the set owns copies of its strings. */
typedef struct at_pairs {
    size_t count, capacity;
    char **source;
    char **target;
} at_pairs;
/* Append a copy of one pair. Both must be valid, non-empty UTF-8 without a
 * tab, CR or LF (so the pair survives a TSV round trip), else
 * AT_ERR_ARGUMENT. */
at_status at_pairs_add(at_ctx *ctx, at_pairs *pairs, const char *source, const char *target);
void at_pairs_clear(at_pairs *pairs); /* frees every string; leaves {0} */

/* Read a TSV file of source<TAB>target lines (users bring their own data).
 * Every line must be valid UTF-8 with exactly two non-empty fields of at
 * most max_chars code points each (0 = no limit). CRLF line ends, a final
 * line without a newline, and a UTF-8 byte order mark are accepted; empty
 * lines are skipped. out must be empty; on any error it stays empty and the
 * message reads "PATH:LINE: what is wrong" (AT_ERR_FORMAT; AT_ERR_IO if the
 * file cannot be read). A file larger than 1 GB is an AT_ERR_FORMAT. */
at_status at_pairs_read_tsv(at_ctx *ctx, const char *path, int max_chars, at_pairs *out);
/* Write pairs as TSV (LF line ends), atomically: a temporary file in the
 * same directory, flushed, then renamed over path. */
at_status at_pairs_write_tsv(at_ctx *ctx, const char *path, const at_pairs *pairs);
/* Move the last `percent`% of train (at least one pair; percent 1..50) to
 * the end of valid, e.g. to validate on a TSV that came without a
 * validation file. Fewer than 2 pairs is an AT_ERR_ARGUMENT. */
at_status at_pairs_hold_out(at_ctx *ctx, at_pairs *train, at_pairs *valid, int percent);
/* A 64-bit fingerprint (FNV-1a) of every pair, in order: the same pairs
 * give the same number; a resumed run checks it names the same data. */
uint64_t at_pairs_fingerprint(const at_pairs *pairs);

/* AT_OK if text[0, len) is valid UTF-8 (no overlong forms, surrogates,
 * code points above U+10FFFF or stray bytes). Otherwise AT_ERR_ARGUMENT
 * with the message "WHAT: invalid UTF-8 at byte OFFSET". */
at_status at_utf8_check(at_ctx *ctx, const char *text, size_t len, const char *what);
/* The number of code points in valid UTF-8 text. */
size_t at_utf8_length(const char *text);

/* A vocabulary: what the model reads or writes, one id per unit. Two kinds
 * of unit (a model may use a different kind on each side):
 *   AT_VOCAB_CHARS   a Unicode code point (the date translator)
 *   AT_VOCAB_TOKENS  a token: a run of bytes between ASCII whitespace
 *                    (space, \t, \n, \v, \f, \r), e.g. the phones of
 *                    "K N AY T" or the words of a sentence; at most
 *                    AT_VOCAB_MAX_TOKEN_BYTES bytes
 * Ids 0..3 are the special tokens, kept apart (the seed used one token for
 * both padding and unknown characters); the units follow in increasing
 * order (code points; tokens bytewise), so the ids depend only on the set
 * of units, not on the order of the text. */
enum {
    AT_TOKEN_PAD = 0,   /* padding: masked, never scored               */
    AT_TOKEN_UNK = 1,   /* a unit the vocabulary has not seen          */
    AT_TOKEN_START = 2, /* the decoder's first input                   */
    AT_TOKEN_END = 3,   /* ends an output                              */
    AT_TOKEN_FIRST_CHAR = 4 /* the first unit (character or token)     */
};
typedef enum at_vocab_kind { AT_VOCAB_CHARS, AT_VOCAB_TOKENS } at_vocab_kind;
#define AT_VOCAB_MAX_TOKEN_BYTES 256 /* longest token, in bytes            */
#define AT_VOCAB_MAX_TOKENS 1000000  /* most tokens (specials excluded)     */
typedef struct at_vocab at_vocab;

/* "chars" or "words" (tokens); NULL if out of range. */
const char *at_vocab_kind_name(at_vocab_kind kind);
/* The kind named `name` (as above), or AT_ERR_ARGUMENT listing the names. */
at_status at_vocab_kind_parse(at_ctx *ctx, const char *name, at_vocab_kind *out);

/* Every unit of n UTF-8 texts. Invalid UTF-8 is an AT_ERR_ARGUMENT naming
 * the text's index and the byte offset; so is a token longer than
 * AT_VOCAB_MAX_TOKEN_BYTES (naming its offset and length), or more than
 * AT_VOCAB_MAX_TOKENS distinct tokens. at_vocab_build is the chars kind. */
at_status at_vocab_build_kind(at_ctx *ctx, at_vocab **out, at_vocab_kind kind, size_t n,
                              const char *const *texts);
at_status at_vocab_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts);
void at_vocab_free(at_vocab *vocab);
at_vocab_kind at_vocab_get_kind(const at_vocab *vocab);
int32_t at_vocab_size(const at_vocab *vocab); /* specials included */
/* The id of a code point (tokens: of the token made of that one
 * character); AT_TOKEN_UNK if unseen. */
int32_t at_vocab_id(const at_vocab *vocab, uint32_t code_point);
/* The id of a unit given as a NUL-terminated string: a token, or (chars)
 * a string of exactly one code point; AT_TOKEN_UNK otherwise. */
int32_t at_vocab_token_id(const at_vocab *vocab, const char *token);
/* The code point of a character id; 0 for special or out-of-range ids and
 * for a token vocabulary. */
uint32_t at_vocab_code_point(const at_vocab *vocab, int32_t id);
/* The token of a token id (NUL-terminated, owned by the vocabulary); NULL
 * for special or out-of-range ids and for a character vocabulary. */
const char *at_vocab_token(const at_vocab *vocab, int32_t id);
/* The units of valid UTF-8 text: code points, or tokens. */
size_t at_vocab_length(const at_vocab *vocab, const char *text);
/* One id per unit of text (no START or END added); unseen units become
 * AT_TOKEN_UNK. Invalid UTF-8 is an AT_ERR_ARGUMENT naming the byte
 * offset; so is a token longer than AT_VOCAB_MAX_TOKEN_BYTES; more than
 * capacity units is an AT_ERR_ARGUMENT naming both counts. *length
 * receives the number of ids (0 for a token text of only whitespace). */
at_status at_vocab_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, int32_t *ids,
                          int capacity, int *length);
/* Ids back to UTF-8 (NUL-terminated in text[size]): stops at the first
 * END, skips PAD and START, writes UNK as U+FFFD; tokens are joined by one
 * space. An id outside the vocabulary, or text too small, is an
 * AT_ERR_ARGUMENT. at_vocab_decode_size: bytes that always hold the text
 * of n ids, NUL included. */
at_status at_vocab_decode(at_ctx *ctx, const at_vocab *vocab, const int32_t *ids, int n,
                          char *text, size_t size);
size_t at_vocab_decode_size(const at_vocab *vocab, int n);
/* The units of text as strings, e.g. labels for an attention map: *units
 * gets *n pointers to NUL-terminated copies, all in one malloc'd block
 * (release it with one free()). Errors as at_vocab_encode. */
at_status at_vocab_split(at_ctx *ctx, const at_vocab *vocab, const char *text, char ***units,
                         int *n);
/* A printable ASCII string that holds the whole vocabulary (for checkpoint
 * metadata); *out is malloc'd, release it with free(). from_string reads
 * either kind, validates everything and answers AT_ERR_FORMAT for a
 * corrupt string. The forms (N and the code points in lowercase hex):
 *   chars   "attend-vocab 1 N cp_1 ... cp_N"             increasing
 *   tokens  "attend-vocab-tokens 1 N hex_1 ... hex_N end" hex_i = the
 *           token's UTF-8 bytes, two lowercase hex digits each, in
 *           strictly increasing bytewise order of the tokens; "end" makes
 *           any truncation an error */
at_status at_vocab_to_string(at_ctx *ctx, const at_vocab *vocab, char **out);
at_status at_vocab_from_string(at_ctx *ctx, at_vocab **out, const char *text);

/* The date data set. Random calendar dates from AT_DATES_FIRST_YEAR-01-01
 * to AT_DATES_LAST_YEAR-12-31 (1600 to 2399: 292,194 days, Gregorian
 * throughout) written by ICU (CLDR data) in many locales, in the styles
 * full, long, medium and short, in a list of patterns, and in a "bare"
 * (punctuation between fields made one space: "May 9 2018") and a "spaced"
 * (spaces doubled, separators set off: "9  May  2018", "2018 - 05 - 09")
 * variant of the styles and default patterns - every one in English
 * locales, the numeric ones in all - then upper-cased (25%), lower-cased
 * (25%) or left alone (50%), each paired with its ISO date "YYYY-MM-DD".
 * Every format uses the Gregorian calendar and the calendar year (never the
 * week-based year 'Y'), and keeps its locale's own digits. No source
 * string, case-folded, maps to two dates: before sampling, every format is
 * checked against every other over all 292,194 dates, exactly, and the
 * formats that would make a string ambiguous are left out (see
 * src/data/ambiguity.c for the proof and the rule). A generator is not
 * thread-safe: use one per thread. */
#define AT_DATES_FIRST_YEAR 1600
#define AT_DATES_LAST_YEAR 2399
#define AT_DATE_MAX_BYTES 256 /* longest source, NUL included */

typedef enum at_case_style { AT_CASE_KEEP, AT_CASE_UPPER, AT_CASE_LOWER } at_case_style;
typedef struct at_dates at_dates;

typedef struct at_dates_options {
    const char *const *locales; /* ICU locale ids ("fr", "en_GB", "pt-BR");  */
    int locale_count;           /* NULL / 0 = the defaults                   */
    const char *const *patterns; /* ICU patterns used in every locale besides
                                    the four styles; NULL = the defaults (use
                                    a non-NULL list with pattern_count 0 for
                                    the styles alone). Taken as written: a
                                    'yy' or 'Y' here is checked, not fixed,
                                    and has no bare or spaced variant. */
    int pattern_count;
    /* Called now and then while the formats are checked and pairs drawn;
     * may be NULL. stage is "checking formats" or "drawing pairs". */
    void (*progress)(void *user, const char *stage, long done, long total);
    void *progress_user;
} at_dates_options;

int at_dates_default_locale_count(void); /* >= 20 */
const char *at_dates_default_locale(int index);

/* Open every format and decide which to keep. Takes about 0.4 s for the
 * 24 default locales. An unknown locale is an AT_ERR_ARGUMENT naming it. */
at_status at_dates_create(at_ctx *ctx, at_dates **out, const at_dates_options *opts);
void at_dates_free(at_dates *dates);

typedef struct at_date_format {
    const char *locale;  /* as given                                       */
    const char *name;    /* "full", "long", "medium", "short" or a pattern,
                            then " bare" or " spaced" for a variant       */
    const char *pattern; /* the ICU pattern used: a style's own, with a
                            two-digit year 'yy' widened to 'y'             */
    int kept;            /* 1 if pairs are drawn from it                   */
    const char *reason;  /* why it was left out; "" if kept                */
} at_date_format;
int at_dates_format_count(const at_dates *dates);
const at_date_format *at_dates_format(const at_dates *dates, int index);
/* Kept formats, and locales with at least one kept format. */
int at_dates_kept_count(const at_dates *dates);
int at_dates_locale_count(const at_dates *dates);

/* One random pair: a date uniformly in range, a locale uniformly among those
 * with a kept format, one of its kept formats uniformly, and a case style.
 * source holds AT_DATE_MAX_BYTES; target "YYYY-MM-DD" (11 bytes). */
typedef struct at_date_sample {
    char source[AT_DATE_MAX_BYTES];
    char target[11];
    int format;             /* index for at_dates_format()   */
    at_case_style case_style;
} at_date_sample;
at_status at_dates_sample(at_ctx *ctx, at_dates *dates, at_rng *rng, at_date_sample *out);

/* Draw sizes[0] training, sizes[1] validation and sizes[2] test pairs, all
 * distinct (case-folded), into splits[0..2] (each must be empty). Each
 * distinct string belongs to one split by a seeded hash, so the splits are
 * disjoint by source string. The same seed and locales give the same pairs
 * in the same order. Asking for more pairs than the formats can make is an
 * AT_ERR_ARGUMENT. */
at_status at_dates_generate(at_ctx *ctx, at_dates *dates, uint64_t seed, const long sizes[3],
                            at_pairs splits[3]);

/* Dates a model never saw, for evaluation: `count` pairs drawn with
 * at_dates_sample from `seed`, distinct once case-folded, none of whose
 * folded source equals a source of the training or validation pairs that
 * at_dates_generate(train_seed, {train_sizes[0], train_sizes[1], 0}) makes
 * (the model's training data; sizes 0 and 0 = nothing to leave out), and
 * only from locales whose name starts with only_prefix (NULL = all). out
 * must be empty; locales (count entries, or NULL) receive each pair's
 * locale (strings owned by dates). Too few dates to draw is an
 * AT_ERR_ARGUMENT. */
typedef struct at_dates_held_out_options {
    uint64_t train_seed;
    long train_sizes[2];
    uint64_t seed;
    long count;
    const char *only_prefix;
} at_dates_held_out_options;
at_status at_dates_held_out(at_ctx *ctx, at_dates *dates, const at_dates_held_out_options *opts,
                            at_pairs *out, const char **locales);

/* Format one date with one ICU pattern in a locale (Gregorian, UTC, no case
 * change) into out[size]. For checks and examples, e.g. that the week-based
 * year "YYYY" writes 2024-12-30 as 2025 while "y" writes 2024. */
at_status at_date_format_pattern(at_ctx *ctx, const char *locale, const char *pattern, int year,
                                 int month, int day, char *out, size_t size);

/* ----------------------------------------------------------- visualisation
 * Pictures of attention: heatmaps (PNG, PDF, SVG), a self-contained
 * interactive HTML page, the terminal, and training curves. Rendering uses
 * cairo with pango, so labels in any script (Latin, Cyrillic, CJK, Arabic)
 * are shaped and drawn with real fonts found through fontconfig.
 *
 * An attention map is one picture's data: heads × rows × cols weights,
 * rows = the query / output tokens (T_q, drawn down the side), cols = the
 * key / input tokens (T_k, drawn along the top), as the (B, Tq, Tk) or
 * (B, H, Tq, Tk) weights of one batch row. Static attention (HAN) with
 * per-feature weights (B, T, D) fits too: rows = features, cols = tokens.
 * The colour scale is fixed to [0, 1] (weights are probabilities), so maps
 * of different models compare by eye; values outside are clamped.
 *
 * A weights file (attend's own JSON format, written by
 * at_attention_map_save and read strictly by at_attention_map_load):
 *   {"format": "attend-attention", "version": 1, "kind": "map",
 *    "title": "...", "model": "...", "mechanism": "...",
 *    "heads": H, "rows": Tq, "cols": Tk,
 *    "row_labels": [Tq strings], "col_labels": [Tk strings],
 *    "weights": [H][Tq][Tk] numbers}
 * Limits: 1 <= rows, cols <= AT_VIZ_MAX_TOKENS, 1 <= heads <= AT_VIZ_MAX_HEADS.
 * at_attention_map_load also reads one line of `attend translate --weights
 * json` ({"input", "output", "source": [chars], "target": [chars],
 * "heads": H, "weights": [H][Ty][Tx]}), just as strictly. */
#define AT_VIZ_MAX_TOKENS 4096
#define AT_VIZ_MAX_HEADS 64
/* A weights file is at most AT_VIZ_MAX_FILE_BYTES bytes holding at most
 * AT_VIZ_MAX_FILE_VALUES JSON values (numbers and strings), so reading one
 * takes at most about a gigabyte; a bigger file is an AT_ERR_FORMAT, and
 * saving a map that would make one is an AT_ERR_ARGUMENT (64 heads of
 * 256 x 256 fit). */
#define AT_VIZ_MAX_FILE_BYTES (128 << 20)
#define AT_VIZ_MAX_FILE_VALUES (8 << 20)

typedef struct at_attention_map {
    int heads, rows, cols;
    float *weights;     /* heads*rows*cols, (H, Tq, Tk) row-major         */
    char **row_labels;  /* rows UTF-8 strings: output tokens ("" at first) */
    char **col_labels;  /* cols UTF-8 strings: input tokens               */
    char *title;        /* free text, e.g. the input sentence ("" if none)*/
    char *model;        /* e.g. "bilstm-gru"                   ("" if none)*/
    char *mechanism;    /* e.g. "additive (Bahdanau)"          ("" if none)*/
} at_attention_map;

/* A zero-filled map with empty labels and texts. Sizes outside the limits
 * are an AT_ERR_ARGUMENT. Free with at_attention_map_free (NULL is fine). */
at_status at_attention_map_create(at_ctx *ctx, at_attention_map **out, int heads, int rows,
                                  int cols);
void at_attention_map_free(at_attention_map *map);
/* Copy rows (resp. cols) label strings in; NULL keeps the current ones.
 * Labels must be valid UTF-8 (else AT_ERR_ARGUMENT). */
at_status at_attention_map_set_labels(at_ctx *ctx, at_attention_map *map,
                                      const char *const *row_labels,
                                      const char *const *col_labels);
/* One label per code point of output_text (rows) and input_text (cols),
 * the usual case for a character model. A text whose length in code points
 * differs from rows (cols) is an AT_ERR_ARGUMENT; NULL skips that side. */
at_status at_attention_map_set_chars(at_ctx *ctx, at_attention_map *map,
                                     const char *output_text, const char *input_text);
/* Copy the title, model and mechanism names; NULL keeps the current one. */
at_status at_attention_map_set_text(at_ctx *ctx, at_attention_map *map, const char *title,
                                    const char *model, const char *mechanism);
/* Copy head `head`'s (rows, cols) weights in, e.g. from a (B, [H,] Tq, Tk)
 * tensor: weights->data + b*H*Tq*Tk + head*Tq*Tk with row_stride = Tk. */
at_status at_attention_map_set_weights(at_ctx *ctx, at_attention_map *map, int head,
                                       const float *weights, int row_stride);

/* Save (atomically: a temporary file renamed over path) and load the
 * weights file above. Load validates everything: a malformed file is an
 * AT_ERR_FORMAT whose message names the file and the problem; impossible
 * sizes are an AT_ERR_FORMAT too, never a crash or a huge allocation. */
at_status at_attention_map_save(at_ctx *ctx, const at_attention_map *map, const char *path);
at_status at_attention_map_load(at_ctx *ctx, at_attention_map **out, const char *path);
/* The same from len bytes of text in memory (a weights file, or one line of
 * `attend translate --weights json`), as strictly; name stands for the
 * file in messages (e.g. "maps.json line 3"). */
at_status at_attention_map_parse(at_ctx *ctx, at_attention_map **out, const char *text, size_t len,
                                 const char *name);
/* Export for bertviz-style tools: {"attention": [1 layer][H][Tq][Tk],
 * "left_text": row labels, "right_text": col labels, "decoder_tokens",
 * "encoder_tokens" (the same), "model", "mechanism", "title"}. In Python:
 *   d = json.load(open(path)); a = [torch.tensor(l)[None] for l in d["attention"]]
 *   bertviz.head_view(cross_attention=a, encoder_tokens=d["encoder_tokens"],
 *                     decoder_tokens=d["decoder_tokens"])          */
at_status at_attention_map_export_bertviz(at_ctx *ctx, const at_attention_map *map,
                                          const char *path);

/* A document for static (HAN) attention at two levels: sentences of words,
 * one weight per word (within its sentence) and one per sentence. Its
 * weights file has "kind": "document" and
 *   "sentences": [{"weight": w, "words": ["..", ..], "word_weights": [..]}, ..] */
typedef struct at_attention_doc {
    int sentences;            /* >= 1                                     */
    int *lengths;             /* words per sentence, each >= 1            */
    int words;                /* sum of lengths                           */
    char **word_text;         /* words strings, sentence after sentence   */
    float *word_weights;      /* words values                             */
    float *sentence_weights;  /* sentences values                         */
    char *title, *model, *mechanism;
} at_attention_doc;
at_status at_attention_doc_create(at_ctx *ctx, at_attention_doc **out, int sentences,
                                  const int *lengths);
void at_attention_doc_free(at_attention_doc *doc);
/* Copy word strings (doc->words of them) and the texts; NULL keeps. */
at_status at_attention_doc_set_words(at_ctx *ctx, at_attention_doc *doc,
                                     const char *const *words);
at_status at_attention_doc_set_text(at_ctx *ctx, at_attention_doc *doc, const char *title,
                                    const char *model, const char *mechanism);
at_status at_attention_doc_save(at_ctx *ctx, const at_attention_doc *doc, const char *path);
at_status at_attention_doc_load(at_ctx *ctx, at_attention_doc **out, const char *path);

/* What a weights file holds, read from its "kind": AT_VIZ_MAP or
 * AT_VIZ_DOC (AT_ERR_FORMAT if neither, AT_ERR_IO if unreadable). */
typedef enum at_viz_kind { AT_VIZ_MAP = 1, AT_VIZ_DOC = 2 } at_viz_kind;
at_status at_viz_file_kind(at_ctx *ctx, const char *path, at_viz_kind *kind);

/* The colour map: a perceptual, viridis-like ramp from dark purple (0)
 * through blue and green to yellow (1). value is clamped to [0, 1]. */
void at_viz_colour(float value, uint8_t rgb[3]);

/* Draw one map to path; the format follows the extension: .png, .svg,
 * .pdf or .html (case-insensitive); any other is an AT_ERR_ARGUMENT.
 * One head: a heatmap with the output tokens down the side, the input
 * tokens along the top, a colour bar and a title naming the model and the
 * mechanism. Several heads: a grid with every head (HTML adds a head
 * selector). Files are written atomically. Drawing has a budget: a figure
 * whose drawing is estimated to need more than 1 GB of memory (a PDF of
 * 64 heads of 256 x 256 would need over 4 GB) is refused with an
 * AT_ERR_ARGUMENT before anything big is allocated; the message gives the
 * estimate (.html, which shows one head at a time, takes far larger maps). */
at_status at_plot_map(at_ctx *ctx, const at_attention_map *map, const char *path);
/* Several maps side by side in one figure, n >= 1; .png, .svg, .pdf or
 * .html. The same input under several models: panels are named "model ·
 * mechanism" under the shared input. Several inputs (maps whose titles
 * differ, e.g. example dates under one model): each panel is titled with
 * its own map's title. A multi-head map is shown as the mean of its heads
 * (its panel says so). title (the heading) may be NULL. */
at_status at_plot_compare(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path);
/* A document's word and sentence weights: .html (interactive), or .png,
 * .svg, .pdf (the text with each word shaded). */
at_status at_plot_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path);

/* Where cell (row, col) of head `head` of at_plot_map's figure is centred,
 * in the PNG's pixels (for tests and tools). */
at_status at_plot_cell_center(at_ctx *ctx, const at_attention_map *map, int head, int row,
                              int col, double *x, double *y);

/* The terminal. The library never looks at the environment or calls
 * isatty: the caller decides the colour mode, e.g. with
 *   at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
 *                    getenv("COLORTERM"), getenv("TERM"))
 * which gives ASCII when not a terminal, when NO_COLOR is set and not
 * empty, or when TERM is "dumb"; 24-bit colour when COLORTERM is
 * "truecolor" or "24bit"; 256 colours otherwise. */
typedef enum at_term_mode { AT_TERM_ASCII, AT_TERM_256, AT_TERM_TRUECOLOR } at_term_mode;
at_term_mode at_term_mode_for(int is_tty, const char *no_color, const char *colorterm,
                              const char *term);
/* Write UTF-8 text for a terminal: every control character (C0, DEL, C1,
 * which a terminal would take as the start of an escape sequence) as
 * U+FFFD, the rest as it is. For any text from outside (inputs, titles,
 * data) shown on a terminal. */
void at_term_puts(FILE *out, const char *text);
/* Draw the map (every head, one after another) with its labels to out:
 * two character cells per weight, coloured blocks or ASCII shades.
 * Control characters in the title, names and labels are written as U+FFFD
 * (no escape of the map's own text reaches the terminal). A write error on
 * out is an AT_ERR_IO (out is not flushed: the caller checks its flush). */
at_status at_plot_terminal(at_ctx *ctx, const at_attention_map *map, FILE *out,
                           at_term_mode mode);

/* The map of one translation (at_seq2seq_translate, models section
 * below): rows = the output's units, cols = the input's units (characters
 * or tokens, as the model's vocabularies read them; "1", "2", ... if a text
 * does not split into as many), every head, title "input -> output",
 * mechanism = the attention kind's name (e.g. "additive", "multi-head"),
 * model = model_name, or when NULL the decoder's name ("seed decoder",
 * "luong-gru", "luong-lstm"). */
struct at_seq2seq;
struct at_translation;
at_status at_attention_map_from_translation(at_ctx *ctx, at_attention_map **out,
                                            const struct at_seq2seq *model,
                                            const char *model_name, const char *input,
                                            const struct at_translation *translation);

/* Training curves from a metrics file of JSON lines, one object per line,
 * e.g. {"step": 100, "loss": 0.91, "valid_loss": 1.02, "valid_exact": 0.4}.
 * "step" is required on a line for it to count (lines without it, blank
 * lines and non-numeric values are skipped; a line that is not JSON is an
 * AT_ERR_FORMAT naming the line). Fields whose name contains "loss" go in
 * the left panel; names containing "acc", "exact", "match" or "char"
 * (e.g. "valid_char") go in the right panel (accuracy in [0, 1]); other
 * fields ("lr", "seconds", ...) are ignored. Writes
 * out_path: .png, .svg or .pdf. title may be NULL. The file is read whole,
 * at most AT_VIZ_MAX_METRICS_BYTES (AT_ERR_FORMAT beyond); more points
 * than the drawing budget (see at_plot_map) are an AT_ERR_ARGUMENT. */
#define AT_VIZ_MAX_METRICS_BYTES (256 << 20)
at_status at_plot_metrics(at_ctx *ctx, const char *metrics_path, const char *out_path,
                          const char *title);

/* ------------------------------------------------------------------ models
 * The date translator's model, usable on any task of text pairs: a
 * sequence-to-sequence network with attention. Each side reads characters
 * or whitespace-separated tokens (its vocabulary's kind), e.g. characters
 * in and phones out for grapheme-to-phoneme.
 *
 *   source units -> embedding (E) -> BiLSTM encoder (N per direction,
 *   lengths masked) -> annotations h (B, Tx, 2N) -> a decoder, one output
 *   unit per step until END or max_target_len:
 *
 *   seed   the AttentionDecoder of "Attention in Keras" (family 2, its own
 *          additive attention on s_{t-1}). Options: y_t from s_t (default)
 *          or s_{t-1} (the original), and what y_{t-1} is: an embedding of
 *          the previous target token (teacher forcing, default: it trains
 *          better, see docs/models.md) or the model's own previous softmax
 *          (the original).
 *   luong  Luong et al.'s decoder with input feeding: a GRU or LSTM cell on
 *          x_t = [embed(y_{t-1}); h̃_{t-1}], attention of the CURRENT state
 *          h_t over h, h̃_t = tanh(W_c [c_t; h_t]), logits = W_s h̃_t + b_s.
 *          Its attention is any family below.
 *
 * Padding is masked in the encoder, in every attention and in the loss
 * (PAD targets are ignored). The output length is independent of the input
 * length. Ids are those of at_vocab (PAD 0, UNK 1, START 2, END 3); the
 * source and the target each have their own vocabulary. A checkpoint holds
 * the configuration and both vocabularies in __metadata__, so a saved
 * model is everything at_seq2seq_load needs. */
typedef enum at_decoder_kind { AT_DECODER_SEED, AT_DECODER_LUONG } at_decoder_kind;

typedef enum at_attention_kind {
    AT_ATTENTION_ADDITIVE,       /* Bahdanau                                */
    AT_ATTENTION_DOT,            /* Luong dot (decoder = 2 x encoder)        */
    AT_ATTENTION_GENERAL,        /* Luong general                           */
    AT_ATTENTION_CONCAT,         /* Luong concat                            */
    AT_ATTENTION_LOCATION,       /* Luong location (max_source_len weights) */
    AT_ATTENTION_LOCAL_M,        /* Luong local, p_t = t (general score)    */
    AT_ATTENTION_LOCAL_P,        /* Luong local, predicted p_t              */
    AT_ATTENTION_MONOTONIC,      /* Raffel: soft in training, hard decoding */
    AT_ATTENTION_FORWARD,        /* Zhang's forward attention on additive   */
    AT_ATTENTION_MULTIPLICATIVE, /* scaled dot (decoder = 2 x encoder)      */
    AT_ATTENTION_MULTI_HEAD,     /* multi-head (decoder = 2 x encoder)      */
    AT_ATTENTION_KINDS
} at_attention_kind;

/* "additive", "dot", ..., "local-m", "multi-head"; NULL if out of range. */
const char *at_attention_kind_name(at_attention_kind kind);
/* The kind named `name` (as above), or AT_ERR_ARGUMENT listing the names. */
at_status at_attention_kind_parse(at_ctx *ctx, const char *name, at_attention_kind *out);

typedef enum at_cell_kind { AT_CELL_GRU, AT_CELL_LSTM } at_cell_kind;

typedef struct at_seq2seq_config {
    at_decoder_kind decoder;
    at_attention_kind attention; /* luong decoder only; seed is additive */
    at_cell_kind cell;           /* luong decoder only                   */
    int seed_teacher_forcing;    /* seed: 1 embed(y_{t-1}), 0 own softmax */
    int seed_output_from_previous_state; /* seed: 1 = the original's s_{t-1} */
    int embed_size;              /* E, source and target embeddings      */
    int encoder_size;            /* N, per direction                     */
    int decoder_size;            /* S                                    */
    int attn_size;               /* A, additive / concat / monotonic ... */
    int heads;                   /* multi-head                           */
    int window;                  /* local: D                             */
    int max_source_len;          /* longest accepted source, units       */
    int max_target_len;          /* decoding stops here (END included)   */
    uint64_t seed;               /* parameter initialisation             */
} at_seq2seq_config;

/* The defaults: the luong decoder with additive attention, sizes for the
 * date translator (see docs/models.md), max lengths 0 (set them). */
void at_seq2seq_config_default(at_seq2seq_config *config);

typedef struct at_seq2seq at_seq2seq;

/* A new model with freshly initialised parameters. It takes ownership of
 * both vocabularies (freed by at_seq2seq_free, also on failure). An
 * impossible configuration is an AT_ERR_ARGUMENT naming the field. */
at_status at_seq2seq_create(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *config,
                            at_vocab *source_vocab, at_vocab *target_vocab);
void at_seq2seq_free(at_seq2seq *model);
const at_seq2seq_config *at_seq2seq_get_config(const at_seq2seq *model);
at_params *at_seq2seq_params(const at_seq2seq *model);
const at_vocab *at_seq2seq_source_vocab(const at_seq2seq *model);
const at_vocab *at_seq2seq_target_vocab(const at_seq2seq *model);
/* Attention heads of the weights the model hands back (1 but multi-head). */
int at_seq2seq_heads(const at_seq2seq *model);

/* Save parameters + "attend.model" (the configuration as JSON) +
 * "attend.source_vocab" / "attend.target_vocab", plus extra (may be NULL;
 * e.g. training state), atomically. Load makes the model from the file
 * alone; a missing, truncated or foreign file is an AT_ERR_IO or
 * AT_ERR_FORMAT naming the path. The configuration is read strictly: an
 * unknown or missing field, a word that is not one of the field's words,
 * a key twice, or a number that is not an integer in range is an
 * AT_ERR_FORMAT naming the field. Each parameter the configuration implies
 * is compared with the file's tensor of that name before it is allocated
 * (AT_ERR_FORMAT if missing, AT_ERR_SHAPE naming both shapes), the file
 * may hold no other tensor (AT_ERR_FORMAT), and the loaded model is never
 * initialised randomly: the file's values are its values. meta_out: NULL,
 * or an empty at_metadata that receives every metadata entry. */
at_status at_seq2seq_save(at_ctx *ctx, const at_seq2seq *model, const char *path,
                          const at_metadata *extra);
at_status at_seq2seq_load(at_ctx *ctx, at_seq2seq **out, const char *path,
                          at_metadata *meta_out);

/* A data set encoded once for a model: ids of every source and target. A
 * source longer than max_source_len or a target longer than
 * max_target_len - 1 is an AT_ERR_ARGUMENT naming the pair. */
typedef struct at_seq2seq_data {
    size_t count;
    int32_t *ids;          /* all sources then all targets, concatenated */
    size_t *source_start;  /* (count) offset of pair i's source in ids    */
    size_t *target_start;  /* (count)                                     */
    int32_t *source_len;   /* (count) units (characters or tokens)        */
    int32_t *target_len;   /* (count) units, END excluded                 */
} at_seq2seq_data;
at_status at_seq2seq_data_build(at_ctx *ctx, const at_seq2seq *model, const at_pairs *pairs,
                                at_seq2seq_data *out);
void at_seq2seq_data_clear(at_seq2seq_data *data);

/* A padded batch. Tx = longest source of the batch, Ty = longest target + 1
 * (END). Buffers are sized once for max_batch and the model's limits. */
typedef struct at_seq2seq_batch {
    int batch, source_len, target_len; /* B, Tx, Ty                       */
    int max_batch;
    int32_t *source;      /* (B, Tx) PAD after each length                 */
    int32_t *lengths;     /* (B)                                           */
    uint8_t *source_mask; /* (B, Tx) 1 = a real unit (not padding)         */
    int32_t *target_in;   /* (Ty, B) START, then the target (teacher input)  */
    int32_t *target_out;  /* (Ty, B) the target, END, then PAD             */
} at_seq2seq_batch;
at_status at_seq2seq_batch_init(at_ctx *ctx, const at_seq2seq *model, int max_batch,
                                at_seq2seq_batch *batch);
void at_seq2seq_batch_free(at_seq2seq_batch *batch);
/* Fill from data rows indices[0..n) (n <= max_batch). */
at_status at_seq2seq_batch_fill(at_ctx *ctx, at_seq2seq_batch *batch,
                                const at_seq2seq_data *data, const size_t *indices, int n);

/* Mean cross-entropy of the batch's targets (PAD ignored), recorded on the
 * tape when gradients are on. */
at_status at_seq2seq_loss(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_batch *batch,
                          at_tensor **loss);
/* Greedy decoding of a batch (inference: call with gradients off).
 * ids (B, max_target_len): output ids, END included, PAD after it.
 * weights NULL or (B, heads, max_target_len, Tx): attention per step. */
at_status at_seq2seq_decode(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_batch *batch,
                            int32_t *ids, float *weights);

/* One string translated, with its attention. */
typedef struct at_translation {
    char *text;          /* the output, UTF-8 (malloc'd); tokens are
                            joined by single spaces                       */
    int source_len;      /* Tx: units (characters or tokens) of the input  */
    int target_len;      /* Ty: units of the output (END excluded)         */
    int heads;           /* 1, or H for multi-head                         */
    float *weights;      /* (heads, Ty, Tx): row t = output unit t         */
} at_translation;
/* Empty text (for a token source: no token), invalid UTF-8, a token over
 * AT_VOCAB_MAX_TOKEN_BYTES or more than max_source_len units is an
 * AT_ERR_ARGUMENT saying which; unseen units become UNK. Runs with
 * gradients off (restores the setting) and resets the context. */
at_status at_seq2seq_translate(at_ctx *ctx, const at_seq2seq *model, const char *text,
                               at_translation *out);
void at_translation_clear(at_translation *translation);

/* Training and evaluation (src/models/trainer.c). One step: reset the
 * context, zero gradients, loss, backward, clip to clip_norm (0 = none),
 * optimiser step. *loss_out gets the loss. */
at_status at_seq2seq_train_step(at_ctx *ctx, at_seq2seq *model, at_optim *optim,
                                const at_seq2seq_batch *batch, float clip_norm,
                                float *loss_out);

/* Whole-sequence exact match (the output up to END equals the target, END
 * included; padding never counts) and per-unit accuracy (target positions,
 * END included, where the output has the same id; "chars" are units:
 * characters or tokens, as the target vocabulary reads them). */
typedef struct at_seq2seq_score {
    long pairs, exact;
    long chars, chars_correct;
} at_seq2seq_score;
/* Greedy decoding of every pair, batch_size at a time, sorted by length.
 * correct: NULL or (count) bytes, 1 where the pair is matched exactly. */
at_status at_seq2seq_evaluate(at_ctx *ctx, const at_seq2seq *model, const at_seq2seq_data *data,
                              int batch_size, at_seq2seq_score *score, uint8_t *correct);

/* Batches that group pairs of similar source length (less padding): the
 * data is shuffled, cut into chunks of `pool` batches, each chunk sorted
 * by length and cut into batches, and the batch order shuffled. order gets
 * data->count indices; batch k is order[k*batch_size ...]. */
void at_seq2seq_bucket_order(const at_seq2seq_data *data, int batch_size, int pool,
                             at_rng *rng, size_t *order);

/* ----------------------------------------------------------------- trainer
 * One training loop for every model (src/train/trainer.c): the date
 * translator, a user's TSV task, the demo, and any model a C program
 * writes. The model says what only it knows through an at_trainable (a
 * struct of function pointers); the trainer owns everything around the
 * step:
 *   - the data order: a seeded shuffle every pass, optionally in length
 *     buckets (similar lengths batched together: less padding);
 *   - steps or epochs, the optimiser with its learning-rate schedule and
 *     gradient clipping, an evaluation every eval_every steps and at the end;
 *   - OUT/model.safetensors, the best model by one named metric, and
 *     OUT/last.safetensors + OUT/last.optim.safetensors (the latest model and
 *     the optimiser's state), all saved atomically; last.* also every
 *     save_every steps, at the end and when a stop is requested;
 *   - resume: the same options give the same bytes as a run that never
 *     stopped (weights, optimiser state, data order, metrics);
 *   - OUT/metrics.jsonl: one JSON object a line, the training loss at every
 *     one of the first 100 steps and every log_every steps after, and the
 *     validation metrics ("valid_NAME") at each evaluation;
 *   - a stop flag that a signal handler may set: the loop saves last.* at
 *     the next step boundary and returns with result->stopped = 1;
 *   - a progress callback; the library itself prints nothing.
 *
 * One step: at_ctx_reset, at_params_zero_grad, loss = model->loss(batch),
 * a non-finite loss is an AT_ERR_NUMERIC naming the step, at_backward,
 * at_clip_grad_norm (if clip > 0), at_optim_step with the schedule's rate. */

#define AT_METRICS_MAX 8
#define AT_METRIC_NAME_MAX 32

/* Named numbers an evaluation reports, e.g. {"exact": 0.98, "char": 0.99}. */
typedef struct at_metrics {
    int count;
    char name[AT_METRICS_MAX][AT_METRIC_NAME_MAX];
    double value[AT_METRICS_MAX];
} at_metrics;
/* Set (or replace) a metric. A name that is empty, too long or not made of
 * [a-z0-9_], more than AT_METRICS_MAX metrics, or a non-finite value is an
 * AT_ERR_ARGUMENT. */
at_status at_metrics_set(at_ctx *ctx, at_metrics *metrics, const char *name, double value);
/* 1 and *value if the metric is there, 0 otherwise. */
int at_metrics_get(const at_metrics *metrics, const char *name, double *value);

/* What the trainer needs from a model. self is passed back to every call.
 * Examples are numbered 0 .. count-1; the trainer hands out batches of
 * their indices. */
typedef struct at_trainable {
    void *self;
    at_params *params;   /* what the optimiser updates and checkpoints hold */
    size_t count;        /* training examples, >= 1                         */
    /* Length of example i, for length buckets; NULL = a plain shuffle. */
    int (*length)(void *self, size_t index);
    /* Record the mean loss of examples indices[0 .. n) on the tape, (1). */
    at_status (*loss)(at_ctx *ctx, void *self, const size_t *indices, int n,
                      at_tensor **loss);
    /* Score the validation data into metrics (called with gradients off);
     * NULL = no evaluation (the last model is then also the best). */
    at_status (*evaluate)(at_ctx *ctx, void *self, at_metrics *metrics);
    /* Save the model, with everything needed to load it again (configuration,
     * vocabularies), plus the trainer's metadata `extra`, atomically. */
    at_status (*save)(at_ctx *ctx, void *self, const char *path, const at_metadata *extra);
} at_trainable;

/* Where a run is, for a progress display. */
typedef struct at_train_progress {
    long step, total_steps;   /* steps done (resumed ones included), of    */
    double loss;              /* smoothed training loss                    */
    double lr;                /* the learning rate of the last step        */
    double examples_per_second; /* in this run                             */
    double seconds;           /* wall time of this run                     */
    const at_metrics *valid;  /* the latest evaluation (count 0: none yet) */
    int evaluated;            /* 1 if this call follows an evaluation       */
} at_train_progress;

typedef struct at_trainer_options {
    const char *out_dir;      /* required; made (with its parents) if missing */
    long steps;               /* total optimisation steps, or              */
    long epochs;              /* if > 0: passes over the data instead      */
    int batch;                /* examples a step (default 32)              */
    int bucket_pool;          /* batches per length-sorted chunk (default 50;
                                 used only when model->length is set)      */
    uint64_t seed;            /* the data order                            */
    at_optim_config optim;    /* default Adam, lr 1e-3                     */
    at_schedule schedule;     /* base_lr 0 = optim.lr; total_steps 0 = the
                                 run's; default: constant                   */
    float clip;               /* gradient norm clip; 0 = none              */
    long eval_every;          /* steps between evaluations (0 = end only)  */
    long log_every;           /* loss lines after step 100 (default 10)    */
    long save_every;          /* steps between last.* saves (0 = at
                                 evaluations, the end and a stop only)      */
    const char *best_metric;  /* NULL = the first metric evaluate reports  */
    int lower_is_better;      /* 1 for a loss, WER, PER, bits per char     */
    int resume;               /* continue from OUT/last.safetensors        */
    /* Names the training data (e.g. "dates:seed=1:n=250000:v=2000", or a
     * fingerprint of a TSV's pairs). Saved in the checkpoints; resuming on
     * data with another id is an AT_ERR_ARGUMENT saying both. May be NULL. */
    const char *data_id;
    /* The caller's own metadata, saved in every checkpoint (its keys may
     * not be the trainer's own train.* keys listed in trainer.c). */
    const at_metadata *extra;
    /* Checked at every step boundary; a signal handler may set it. */
    volatile sig_atomic_t *stop;
    void (*progress)(void *user, const at_train_progress *progress);
    void *progress_user;
} at_trainer_options;

/* The defaults above; out_dir, steps and the model's callbacks are yours. */
void at_trainer_options_default(at_trainer_options *opts);

typedef struct at_train_result {
    long steps;        /* steps done, resumed ones included                 */
    int stopped;       /* 1 if the stop flag ended the run early            */
    int evaluations;   /* evaluations in this run                           */
    double best;       /* best value of the best metric (NaN if none)       */
    at_metrics last;   /* the last evaluation (count 0 if none)             */
    double seconds;    /* wall time of this run                             */
} at_train_result;

/* Make out_dir (with its parents), check that it is a directory we can
 * write, that the files the trainer writes there are regular files or
 * absent, and remove temporary files a killed run left (NAME.tmp-XXXXXX of
 * the trainer's own NAMEs). With resume, also check that
 * OUT/last.safetensors exists. at_train does this too; a caller calls it
 * first to fail before expensive work (generating data). */
at_status at_trainer_prepare(at_ctx *ctx, const at_trainer_options *opts);

/* Train. On resume, the weights come from OUT/last.safetensors (into
 * model->params, whose names and shapes must match), the optimiser's state
 * from OUT/last.optim.safetensors (stamped with the same step), and the
 * step, data position, smoothed loss, best score and the context's random
 * generator from last.safetensors' metadata, each parsed strictly (a value
 * out of range is an AT_ERR_FORMAT naming the key). The learning-rate
 * schedule runs to the run's total steps, so changing --steps on resume
 * changes the schedule unless it is flat. result may be NULL. */
at_status at_train(at_ctx *ctx, const at_trainable *model, const at_trainer_options *opts,
                   at_train_result *result);

/* The date translator as an at_trainable: data encoded once, padded
 * batches in length buckets, the mean cross-entropy, and greedy decoding of
 * the validation pairs for the metrics "exact" (whole outputs) and "char"
 * (per target unit: character or token). The task borrows the model; valid
 * must not be empty. */
/* A new model for these pairs: both vocabularies from the training pairs,
 * of the kinds given (characters or tokens, on either side; the date
 * translator reads and writes characters), max_source_len = the longest
 * source of train and valid, in its units, + 16 (room for longer inputs at
 * translation time), max_target_len = the longest target + 2 (END, and one
 * spare); the other fields from config. */
at_status at_seq2seq_create_for_pairs(at_ctx *ctx, at_seq2seq **out,
                                      const at_seq2seq_config *config, const at_pairs *train,
                                      const at_pairs *valid, at_vocab_kind source_kind,
                                      at_vocab_kind target_kind);
typedef struct at_seq2seq_task at_seq2seq_task;
at_status at_seq2seq_task_create(at_ctx *ctx, at_seq2seq_task **out, at_seq2seq *model,
                                 const at_pairs *train, const at_pairs *valid, int max_batch);
void at_seq2seq_task_free(at_seq2seq_task *task);
const at_trainable *at_seq2seq_task_trainable(const at_seq2seq_task *task);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_H */
