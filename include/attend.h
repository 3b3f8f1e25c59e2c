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
 * ---------------------------------------------------------------------------
 */
#ifndef ATTEND_H
#define ATTEND_H

#include <stddef.h>
#include <stdint.h>

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
 * (out, in): fan_in = in, fan_out = out. */
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
 * initialises them from rng. _forward records on the tape like any op.   */

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
 * dtype F32, or F16/BF16/F64, which are converted. Tensors in the file that
 * the set does not have are ignored. Every offset, size and dtype is
 * validated first; on any error nothing is changed. meta_out may be NULL;
 * otherwise it must be empty ({0} or cleared) and receives the metadata
 * (clear it with at_metadata_clear). */
at_status at_checkpoint_load(at_ctx *ctx, const char *path, at_params *params,
                             at_metadata *meta_out);
/* Read only the metadata (e.g. to learn the model configuration first);
 * meta_out must be empty, as for at_checkpoint_load. */
at_status at_checkpoint_read_metadata(at_ctx *ctx, const char *path, at_metadata *meta_out);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_H */
