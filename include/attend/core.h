/*
 * attend/core.h - the core of libattend: tensors, the context, ops,
 * layers, optimisers, checkpoints and the trainer.
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
#ifndef ATTEND_CORE_H
#define ATTEND_CORE_H

#include <signal.h> /* sig_atomic_t, for the trainer's stop request */
#include <stddef.h>
#include <stdint.h>

/* Every function of the API carries AT_API: the libraries export these and
 * nothing else (they are built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define AT_API __attribute__((visibility("default")))
#else
#define AT_API
#endif

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
AT_API const char *at_status_name(at_status status);

/* ------------------------------------------------------------------ random */

/* A seeded generator (xoshiro128**). A plain value: copy it to fork a
 * stream. The same seed always gives the same numbers. */
typedef struct at_rng {
    uint32_t s[4];
} at_rng;

AT_API void at_rng_seed(at_rng *rng, uint64_t seed);
AT_API uint32_t at_rng_u32(at_rng *rng);
AT_API float at_rng_uniform(at_rng *rng);            /* in [0, 1)            */
AT_API float at_rng_normal(at_rng *rng);             /* mean 0, variance 1   */
AT_API uint32_t at_rng_below(at_rng *rng, uint32_t n); /* in [0, n), n > 0     */

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
AT_API at_status at_ctx_create(at_ctx **out, const at_ctx_options *opts);
AT_API void at_ctx_free(at_ctx *ctx);

/* The message of the most recent failure in this context ("" if none). */
AT_API const char *at_ctx_error(const at_ctx *ctx);
/* Report a failure from caller code through the same channel. */
AT_API at_status at_ctx_fail(at_ctx *ctx, at_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Forget every tensor and tape entry made since the last reset. The arena
 * memory is kept for the next step. Parameters are not touched. */
AT_API void at_ctx_reset(at_ctx *ctx);

/* Gradients on (default) or off (inference mode: no tape, no grad buffers).
 * Returns the previous setting. */
AT_API int at_ctx_set_grad(at_ctx *ctx, int enabled);
AT_API int at_ctx_grad_enabled(const at_ctx *ctx);

/* Training mode switches dropout on. Default off. Returns previous. */
AT_API int at_ctx_set_training(at_ctx *ctx, int training);
AT_API int at_ctx_training(const at_ctx *ctx);

AT_API int at_ctx_threads(const at_ctx *ctx);
AT_API at_rng *at_ctx_rng(at_ctx *ctx);

/* Bytes the arena holds now (in use) and has reserved (capacity). */
AT_API size_t at_ctx_arena_used(const at_ctx *ctx);
AT_API size_t at_ctx_arena_capacity(const at_ctx *ctx);
/* Number of tape entries recorded since the last reset. */
AT_API size_t at_ctx_tape_length(const at_ctx *ctx);

/* A new zero-filled tensor in the arena, requires_grad = 0. */
AT_API at_status at_tensor_new(at_ctx *ctx, at_tensor **out, int ndim, const int *shape);
/* Same, filled with a copy of data (size floats). */
AT_API at_status at_tensor_from(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                         const float *data);
/* Make an arena tensor a leaf that collects a gradient (zeroed grad). */
AT_API at_status at_tensor_require_grad(at_ctx *ctx, at_tensor *t);

/* Backpropagate from a scalar (size 1) tensor: its gradient is seeded with 1
 * and every recorded op is undone in reverse order. The tape is kept until
 * at_ctx_reset(), so backward can run once per reset. */
AT_API at_status at_backward(at_ctx *ctx, at_tensor *loss);
/* Backpropagate from any tensor y with a given output gradient dy (y->size
 * floats), i.e. a vector-Jacobian product. Same rules as at_backward. */
AT_API at_status at_backward_seeded(at_ctx *ctx, at_tensor *y, const float *dy);
/* Backpropagate from n outputs at once, each with its own gradient:
 * dys[i] holds ys[i]->size floats. The result is the sum of n separate
 * at_backward_seeded calls, in one walk of the tape (outputs may depend on
 * each other, and one tensor may be given twice: its gradients add). Every
 * argument is checked before any gradient changes: n < 1 or a NULL is an
 * AT_ERR_ARGUMENT, an output that no gradient reaches an AT_ERR_STATE.
 * Same rules as at_backward otherwise. */
AT_API at_status at_backward_multi(at_ctx *ctx, int n, at_tensor *const *ys, const float *const *dys);

/* AT_ERR_NUMERIC, with a message naming `what` and the first bad index, if
 * any of the n values is NaN or infinite; AT_OK otherwise. */
AT_API at_status at_check_finite(at_ctx *ctx, const float *x, size_t n, const char *what);

/* -------------------------------------------------------------- parameters */

/* A named, persistent set of parameter tensors, each with its own gradient.
 * Names follow PyTorch's state_dict naming so checkpoints map one to one. */
typedef struct at_params at_params;

AT_API at_status at_params_create(at_ctx *ctx, at_params **out);
AT_API void at_params_free(at_params *params);
/* Add a zero-filled parameter (requires_grad = 1, grad zeroed). The name is
 * copied; it must be unique in the set. */
AT_API at_status at_params_add(at_ctx *ctx, at_params *params, const char *name, int ndim,
                        const int *shape, at_tensor **out);
AT_API int at_params_count(const at_params *params);
AT_API at_tensor *at_params_get(const at_params *params, int index);
AT_API at_tensor *at_params_find(const at_params *params, const char *name);
AT_API size_t at_params_numel(const at_params *params);
AT_API void at_params_zero_grad(at_params *params);

/* ---------------------------------------------------------- initialisation */

/* Fill in place. fan_in/fan_out as PyTorch computes them for a 2-D weight
 * (out, in): fan_in = in, fan_out = out. rng == NULL draws nothing and
 * leaves the values as they are (at_init_orthogonal then returns AT_OK):
 * this is how every _init below honours rng == NULL. */
AT_API void at_init_uniform(at_tensor *t, float lo, float hi, at_rng *rng);
AT_API void at_init_normal(at_tensor *t, float mean, float std, at_rng *rng);
/* Glorot (Xavier) uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
AT_API void at_init_glorot_uniform(at_tensor *t, int fan_in, int fan_out, float gain, at_rng *rng);
/* Fill a (rows, cols) row-major block, e.g. one gate's part of a weight,
 * with orthogonal rows (rows <= cols) or columns (rows > cols), as
 * torch.nn.init.orthogonal_, scaled by gain. */
AT_API at_status at_init_orthogonal(at_ctx *ctx, float *block, int rows, int cols, float gain,
                             at_rng *rng);

/* --------------------------------------------------------------------- ops
 * Every op: at_status at_OP(ctx, &out, inputs..., options). out is a new
 * arena tensor. Inputs may be arena tensors or parameters.               */

/* Batched matrix product. a is (..., M, K) (or (..., K, M) if trans_a), b is
 * (..., K, N) (or (..., N, K) if trans_b). Leading (batch) dimensions of a
 * and b must be equal, or b may be 2-D and is then shared by every batch.
 * out is (..., M, N). */
AT_API at_status at_matmul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b, int trans_a,
                    int trans_b);

/* Elementwise with broadcasting (numpy rules, trailing dims aligned; a size-1
 * or missing dim broadcasts). out has the broadcast shape. */
AT_API at_status at_add(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
AT_API at_status at_sub(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
AT_API at_status at_mul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b);
/* out = a * scale + shift, elementwise with two constants. */
AT_API at_status at_affine(at_ctx *ctx, at_tensor **out, at_tensor *a, float scale, float shift);

/* Unary activations, same shape as x. gelu is the exact (erf) form. */
AT_API at_status at_tanh(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_sigmoid(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_relu(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_gelu(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_exp(at_ctx *ctx, at_tensor **out, at_tensor *x);

/* Softmax / log-softmax over the last dimension, the row maximum subtracted
 * first. mask: NULL (mask_rows is then ignored) or mask_rows rows, see
 * "Masks" above; mask_rows that does not divide the row count is an
 * AT_ERR_SHAPE. Masked positions get 0 (softmax) or 0 (log-softmax, by
 * convention; they carry no gradient). A fully masked row is all zeros. */
AT_API at_status at_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                     int mask_rows);
AT_API at_status at_log_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                         int mask_rows);

/* Reductions. sum/mean of all elements give shape (1). sum_last sums the
 * last dimension away: (..., n) -> (...) (a 1-D input gives (1)). */
AT_API at_status at_sum(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_mean(at_ctx *ctx, at_tensor **out, at_tensor *x);
AT_API at_status at_sum_last(at_ctx *ctx, at_tensor **out, at_tensor *x);

/* Shapes. reshape shares data and gradient with x (no copy, no tape entry);
 * the element count must match. concat joins n tensors along axis; all
 * other dims must match. slice takes [start, start+len) of axis. split
 * cuts x along axis into n pieces of the given sizes (summing to the dim).
 * transpose swaps two axes (a copy). Negative axes count from the end. */
AT_API at_status at_reshape(at_ctx *ctx, at_tensor **out, at_tensor *x, int ndim, const int *shape);
AT_API at_status at_concat(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis);
/* stack joins n tensors of one shape along a NEW axis (as torch.stack):
 * xs[i] of shape (d0, .., dk) give out with a dimension n inserted at
 * position axis, 0 <= axis <= k + 1 (negative counts from the end of the
 * result: -1 puts n last); out[.., i, ..] = xs[i]. The result may have at
 * most AT_MAX_DIMS dimensions. Shapes that differ are an AT_ERR_SHAPE. */
AT_API at_status at_stack(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis);
AT_API at_status at_slice(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis, int start, int len);
AT_API at_status at_split(at_ctx *ctx, at_tensor **outs, at_tensor *x, int axis, int n,
                   const int *sizes);
AT_API at_status at_transpose(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis0, int axis1);

/* Gather rows: table (V, D), ids int32 of shape ids_shape (ids_ndim dims,
 * ids_ndim + 1 <= AT_MAX_DIMS) -> out (ids_shape..., D). An id outside
 * [0, V) is an AT_ERR_ARGUMENT naming it. */
AT_API at_status at_gather_rows(at_ctx *ctx, at_tensor **out, at_tensor *table, const int32_t *ids,
                         int ids_ndim, const int *ids_shape);

/* Inverted dropout with drop probability p in [0, 1). When the context is
 * not in training mode or p == 0, *out is x itself (no copy, no tape entry,
 * as PyTorch): do not write into it in place. Uses the context's rng. */
AT_API at_status at_dropout(at_ctx *ctx, at_tensor **out, at_tensor *x, float p);

/* Layer normalisation over the last dimension n: gamma, beta are (n) or
 * NULL (then 1 and 0). y = (x - mean) / sqrt(var + eps) * gamma + beta. */
AT_API at_status at_layer_norm(at_ctx *ctx, at_tensor **out, at_tensor *x, at_tensor *gamma,
                        at_tensor *beta, float eps);

/* Cross-entropy of logits (N, C) (or (..., C), flattened to N rows) against
 * int32 targets (N values; the caller guarantees the length). Rows whose
 * target == ignore_index are left out (PyTorch's default is -100; a target
 * outside [0, C) that is not ignore_index is an AT_ERR_ARGUMENT). A
 * non-finite loss on a kept row is an AT_ERR_NUMERIC. label_smoothing in [0, 1): the target
 * distribution is (1 - ls) one-hot + ls / C, as in PyTorch. out is (1), the
 * mean over kept rows; 0 (not NaN) when every row is ignored. */
AT_API at_status at_cross_entropy(at_ctx *ctx, at_tensor **out, at_tensor *logits,
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
AT_API at_status at_dense_init(at_ctx *ctx, at_dense *layer, at_params *params, const char *prefix,
                        int in, int out, int with_bias, at_rng *rng);
AT_API at_status at_dense_forward(at_ctx *ctx, const at_dense *layer, at_tensor *x, at_tensor **y);

/* Embedding: weight (V, D) ~ N(0, 1) as PyTorch. ids as at_gather_rows. */
typedef struct at_embedding {
    at_tensor *weight;
    int vocab, dim;
} at_embedding;
AT_API at_status at_embedding_init(at_ctx *ctx, at_embedding *layer, at_params *params,
                            const char *prefix, int vocab, int dim, at_rng *rng);
AT_API at_status at_embedding_forward(at_ctx *ctx, const at_embedding *layer, const int32_t *ids,
                               int ids_ndim, const int *ids_shape, at_tensor **y);

/* LayerNorm layer: weight (n) ones, bias (n) zeros. */
typedef struct at_layernorm {
    at_tensor *weight, *bias;
    int n;
    float eps;
} at_layernorm;
AT_API at_status at_layernorm_init(at_ctx *ctx, at_layernorm *layer, at_params *params,
                            const char *prefix, int n, float eps);
AT_API at_status at_layernorm_forward(at_ctx *ctx, const at_layernorm *layer, at_tensor *x,
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
AT_API at_status at_lstm_init(at_ctx *ctx, at_lstm *layer, at_params *params, const char *prefix,
                       int input_size, int hidden_size, int reverse, at_rng *rng);
AT_API at_status at_lstm_forward(at_ctx *ctx, const at_lstm *layer, at_tensor *x,
                          const int32_t *lengths, at_tensor *h0, at_tensor *c0,
                          at_tensor **out, at_tensor **h_n, at_tensor **c_n);
/* One step: x (B, I), h, c (B, H) -> h_out, c_out (B, H). */
AT_API at_status at_lstm_cell(at_ctx *ctx, const at_lstm *layer, at_tensor *x, at_tensor *h,
                       at_tensor *c, at_tensor **h_out, at_tensor **c_out);

typedef struct at_gru {
    at_tensor *weight_ih, *weight_hh, *bias_ih, *bias_hh;
    int input_size, hidden_size, reverse;
} at_gru;
AT_API at_status at_gru_init(at_ctx *ctx, at_gru *layer, at_params *params, const char *prefix,
                      int input_size, int hidden_size, int reverse, at_rng *rng);
AT_API at_status at_gru_forward(at_ctx *ctx, const at_gru *layer, at_tensor *x,
                         const int32_t *lengths, at_tensor *h0, at_tensor **out,
                         at_tensor **h_n);
/* One step: x (B, I), h (B, H) -> h_out (B, H). */
AT_API at_status at_gru_cell(at_ctx *ctx, const at_gru *layer, at_tensor *x, at_tensor *h,
                      at_tensor **h_out);

/* Bidirectional LSTM: a forward and a reverse at_lstm on the same input,
 * outputs concatenated on the feature axis: out (B, T, 2H). h_n (2, B, H)
 * (forward direction first, as PyTorch's h_n for one layer). */
typedef struct at_bilstm {
    at_lstm fwd, bwd;
} at_bilstm;
AT_API at_status at_bilstm_init(at_ctx *ctx, at_bilstm *layer, at_params *params, const char *prefix,
                         int input_size, int hidden_size, at_rng *rng);
/* Layer `index` (0 .. 999) of a stack of BiLSTMs, named as PyTorch's
 * nn.LSTM(num_layers > 1, bidirectional=True): PREFIX.weight_ih_l{index}
 * and PREFIX.weight_ih_l{index}_reverse, and so on. Index 0 is
 * at_bilstm_init; a layer above the first reads the 2H-wide output of the
 * one below (input_size = 2H). */
AT_API at_status at_bilstm_init_layer(at_ctx *ctx, at_bilstm *layer, at_params *params,
                               const char *prefix, int index, int input_size, int hidden_size,
                               at_rng *rng);
AT_API at_status at_bilstm_forward(at_ctx *ctx, const at_bilstm *layer, at_tensor *x,
                            const int32_t *lengths, at_tensor **out, at_tensor **h_n);

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
AT_API at_status at_optim_create(at_ctx *ctx, at_optim **out, at_params *params,
                          const at_optim_config *config);
AT_API void at_optim_free(at_optim *opt);
/* One update from the current gradients. A NaN or infinite gradient is an
 * AT_ERR_NUMERIC and leaves every parameter unchanged. */
AT_API at_status at_optim_step(at_ctx *ctx, at_optim *opt);
AT_API void at_optim_set_lr(at_optim *opt, float lr);
AT_API float at_optim_lr(const at_optim *opt);
AT_API long at_optim_steps(const at_optim *opt);

/* Scale all gradients so their global L2 norm is at most max_norm (as
 * torch.nn.utils.clip_grad_norm_). The norm before clipping goes to
 * *norm_out if not NULL. A non-finite norm is an AT_ERR_NUMERIC. */
AT_API at_status at_clip_grad_norm(at_ctx *ctx, at_params *params, float max_norm, float *norm_out);

/* Learning-rate schedule: linear warm-up from 0 over warmup_steps, then
 * constant, linear decay to final_lr at total_steps, cosine decay to
 * final_lr at total_steps, or inverse square root. */
typedef enum at_decay { AT_DECAY_NONE, AT_DECAY_LINEAR, AT_DECAY_COSINE, AT_DECAY_INV_SQRT } at_decay;
typedef struct at_schedule {
    float base_lr, final_lr;
    long warmup_steps, total_steps;
    at_decay decay;
} at_schedule;
AT_API float at_schedule_lr(const at_schedule *schedule, long step);

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
AT_API at_status at_metadata_set(at_ctx *ctx, at_metadata *meta, const char *key, const char *value);
AT_API const char *at_metadata_get(const at_metadata *meta, const char *key); /* NULL if absent */
AT_API void at_metadata_clear(at_metadata *meta); /* frees the strings; leaves it empty */

/* Save every parameter (F32) and the metadata (may be NULL). Writes a
 * temporary file in the same directory, flushes it, then renames it over
 * path, so path is either the old file or the complete new one. */
AT_API at_status at_checkpoint_save(at_ctx *ctx, const char *path, const at_params *params,
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
AT_API at_status at_checkpoint_load(at_ctx *ctx, const char *path, at_params *params,
                             at_metadata *meta_out);
/* Read only the metadata (e.g. to learn the model configuration first);
 * meta_out must be empty, as for at_checkpoint_load. */
AT_API at_status at_checkpoint_read_metadata(at_ctx *ctx, const char *path, at_metadata *meta_out);
/* The metadata value of key as a whole number in [min, max]: decimal
 * digits with an optional leading '-', nothing else (no space, no '+', no
 * fraction). A missing key, any other text or a number outside [min, max]
 * is an AT_ERR_FORMAT naming the key and the text; *out is then unchanged. */
AT_API at_status at_metadata_get_long(at_ctx *ctx, const at_metadata *meta, const char *key, long min,
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
AT_API const char *at_dtype_name(at_dtype dtype);
/* Bytes per element (BOOL: 1); 0 for a value outside the enum. */
AT_API size_t at_dtype_size(at_dtype dtype);

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
AT_API at_status at_safetensors_open(at_ctx *ctx, at_safetensors **out, const char *path);
AT_API void at_safetensors_close(at_safetensors *file);
AT_API int at_safetensors_count(const at_safetensors *file);
/* The index of the tensor called name, or -1 (binary search). */
AT_API int at_safetensors_find(const at_safetensors *file, const char *name);
/* The tensor at index; an index outside [0, count) is an AT_ERR_ARGUMENT. */
AT_API at_status at_safetensors_info(at_ctx *ctx, const at_safetensors *file, int index,
                              at_safetensor_info *out);
/* Its bytes as the file stores them (little-endian, row-major) into buf;
 * bytes must equal info.bytes (else AT_ERR_ARGUMENT). A file that became
 * shorter since it was opened is an AT_ERR_IO. */
AT_API at_status at_safetensors_read(at_ctx *ctx, const at_safetensors *file, int index, void *buf,
                              size_t bytes);
/* Its values converted to float32 into out; count must equal info.numel.
 * F16 and BF16 are exact; F64 rounds to nearest (beyond float's range it
 * becomes +-infinity); integers round to the nearest float (exact up to
 * 2^24 in magnitude); BOOL gives 0 for a zero byte and 1 for any other. */
AT_API at_status at_safetensors_read_f32(at_ctx *ctx, const at_safetensors *file, int index,
                                  float *out, size_t count);
/* The file's __metadata__ (empty if it has none), owned by the handle. */
AT_API const at_metadata *at_safetensors_metadata(const at_safetensors *file);

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
AT_API at_status at_optim_save(at_ctx *ctx, const at_optim *opt, const char *path,
                        const at_metadata *extra);
AT_API at_status at_optim_load(at_ctx *ctx, at_optim *opt, const char *path, at_metadata *meta_out);

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
 * at_clip_grad_norm (if clip > 0), at_optim_step with the schedule's rate.
 * Over several processes (options.reducer, data parallelism; docs/scale.md)
 * the loss and backward are of this process's slice of the batch, and the
 * gradients and the loss are summed over the processes before the clip. */

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
AT_API at_status at_metrics_set(at_ctx *ctx, at_metrics *metrics, const char *name, double value);
/* 1 and *value if the metric is there, 0 otherwise. */
AT_API int at_metrics_get(const at_metrics *metrics, const char *name, double *value);

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
    /* Optional, for runs over several processes (at_trainer_options.reducer):
     * evaluation split over them. evaluate_shard scores shard `shard` of
     * `shards` of the validation data (gradients off) and writes additive
     * counts into counts[0 .. AT_EVAL_COUNTS) (it starts zeroed): sums over
     * the shards are what the whole data gives (example counts, errors,
     * summed losses). evaluate_finish turns the summed counts into the
     * metrics evaluate reports. Both NULL: every process runs evaluate on
     * all of the data (the same numbers, not split). One process always
     * calls evaluate. */
    at_status (*evaluate_shard)(at_ctx *ctx, void *self, int shard, int shards, double *counts);
    at_status (*evaluate_finish)(at_ctx *ctx, void *self, const double *counts,
                                 at_metrics *metrics);
    /* Optional, for runs over several processes: the denominator of the
     * mean `loss` takes over examples indices[0 .. n), e.g. their target
     * tokens for a loss averaged over tokens. A process's slice of a batch
     * then weighs weight(slice) / weight(batch), so the weighted sum over
     * the processes is the whole batch's loss. NULL: n (a mean over
     * examples). */
    double (*weight)(void *self, const size_t *indices, int n);
} at_trainable;

#define AT_EVAL_COUNTS 16 /* the counts evaluate_shard may write */

/* Data parallelism: `ranks` processes (rank 0 .. ranks-1) run at_train
 * with the same model, data and options, and this hook joins them. A
 * reducer sums a buffer element-wise over all the processes, in place:
 * every process passes its own values and receives the sums, the same
 * bytes on every process, and the same bytes when the run is repeated
 * (the reduction's order may not depend on timing). The calls are
 * collective: every process makes the same calls with the same counts, in
 * the same order. A failure is a status with a message in ctx; a process
 * that stops calling leaves the others waiting, so a caller whose process
 * fails ends them all (libattend-mpi's CLI use: MPI_Abort). attend/mpi.h
 * (libattend-mpi) makes one over MPI; the core library does not use MPI. */
typedef struct at_reducer {
    int rank, ranks; /* this process, of how many (1 .. 65536)              */
    at_status (*sum_floats)(at_ctx *ctx, void *user, float *values, size_t count);
    at_status (*sum_doubles)(at_ctx *ctx, void *user, double *values, size_t count);
    void *user;
} at_reducer;

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
    /* A training-time budget in seconds (evaluations excluded; 0 = none).
     * The run ends at the first step boundary past it and finishes as at
     * its natural end: a last evaluation, model.safetensors if it is the
     * best, last.*. For runs compared at equal wall-clock time. It counts
     * this run only (a resumed run gets the budget anew), and everything
     * but evaluations: setup and checkpoint saves included. */
    double max_seconds;
    /* Checked at every step boundary; a signal handler may set it. */
    volatile sig_atomic_t *stop;
    void (*progress)(void *user, const at_train_progress *progress);
    void *progress_user;
    /* NULL (one process) or several processes training one model (data
     * parallelism; see at_reducer). batch is then the global batch: each
     * step every process takes the same batch in the same order and
     * computes the loss and gradients of its slice of batch / ranks
     * examples (batch must be a multiple of ranks); the gradients, weighted
     * by slice / batch, and the loss are summed over the processes in a
     * few fused buffers, so each holds the gradient of the batch's mean
     * loss, and every process then clips and steps identically. Dropout
     * masks differ per process (each slice draws its own, from the
     * context's generator and the rank); the generator itself stays the
     * same on all. Evaluation is split (evaluate_shard) and its counts
     * summed. Rank 0 alone writes: out_dir's files, metrics.jsonl, and
     * calls progress. The ranks are stamped in the checkpoints
     * (train.ranks); resuming with another number is an AT_ERR_ARGUMENT.
     * The processes check at the start and at every save of last.* that
     * they agree (step, data, parameters); a mismatch is an AT_ERR_STATE
     * on all of them. */
    const at_reducer *reducer;
} at_trainer_options;

/* The defaults above; out_dir, steps and the model's callbacks are yours. */
AT_API void at_trainer_options_default(at_trainer_options *opts);

typedef struct at_train_result {
    long steps;        /* steps done, resumed ones included                 */
    int stopped;       /* 1 if the stop flag ended the run early            */
    int out_of_time;   /* 1 if max_seconds ended it (after evaluating)      */
    double train_seconds; /* of the wall time, spent in steps (no evaluation) */
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
AT_API at_status at_trainer_prepare(at_ctx *ctx, const at_trainer_options *opts);

/* Train. On resume, the weights come from OUT/last.safetensors (into
 * model->params, whose names and shapes must match), the optimiser's state
 * from OUT/last.optim.safetensors (stamped with the same step), and the
 * step, data position, smoothed loss, best score and the context's random
 * generator from last.safetensors' metadata, each parsed strictly (a value
 * out of range is an AT_ERR_FORMAT naming the key). The learning-rate
 * schedule runs to the run's total steps, so changing --steps on resume
 * changes the schedule unless it is flat. result may be NULL. */
AT_API at_status at_train(at_ctx *ctx, const at_trainable *model, const at_trainer_options *opts,
                   at_train_result *result);

/* Data parallelism inside one process (src/train/replicas.c): train
 * `replicas` copies of one model as one, each on a thread of its own.
 * models[r] is replica r: its own parameters and its own self (a task over
 * the same data), nothing written shared with another replica. Every step
 * each replica computes the loss and gradients of its slice of the batch
 * alone, the gradients are summed as over processes (see at_reducer; in
 * rank order, so a repeated run gives the same bytes), and every replica
 * takes the same optimiser step. The replicas meet once a step, where a
 * context's threads meet at every parallel loop: on 2 cores, 2 replicas of
 * 1 thread train faster than 1 model on 2 threads. The numbers equal a
 * 1-replica run up to the order of the float sums (as over processes), not
 * bit for bit.
 *   - models[0]'s parameter values are copied into the others first; their
 *     tensors must match (names and sizes), else AT_ERR_ARGUMENT.
 *   - Each replica computes on a context of its own with
 *     at_ctx_threads(ctx) / replicas threads (at least 1), whose random
 *     generator starts as ctx's; at the end ctx's is replica 0's. Products
 *     large enough for OpenBLAS run on OpenBLAS's own pool, shared by the
 *     replicas: set it to one thread (openblas_set_num_threads) for them.
 *   - opts is at_train's, with reducer NULL: out_dir's files, the metrics
 *     and the progress callback are replica 0's (called on its thread);
 *     batch must be a multiple of replicas; checkpoints stamp
 *     train.ranks = replicas, and resuming needs as many.
 *   - A failure in any replica ends all of them, and ctx says the first
 *     cause ("replica R: ..."); result is replica 0's.
 *   - replicas = 1 is at_train(ctx, models[0], opts, result). */
#define AT_REPLICAS_MAX 64
AT_API at_status at_train_replicas(at_ctx *ctx, const at_trainable *const *models, int replicas,
                                   const at_trainer_options *opts, at_train_result *result);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_CORE_H */
