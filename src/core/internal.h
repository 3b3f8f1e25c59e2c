/*
 * internal.h - what every source file of libattend shares and callers never
 * see: the context's insides, the arena, the tape, and small helpers that
 * ops use to make their outputs and record themselves.
 *
 * How an op is written (see src/ops/ for many examples):
 *
 *   at_status at_tanh(at_ctx *ctx, at_tensor **out, at_tensor *x) {
 *       AT_CHECK_TENSOR(ctx, x, "tanh: x");
 *       int track = ati_tracking(ctx, 1, &x);          // does a gradient flow?
 *       at_tensor *y;
 *       AT_TRY(ati_result(ctx, &y, x->ndim, x->shape, track));
 *       ... forward kernel writes y->data ...
 *       if (track) {
 *           ati_node *node;
 *           AT_TRY(ati_tape_record(ctx, &node, "tanh", tanh_backward, y, 1, &x));
 *       }
 *       *out = y;
 *       return AT_OK;
 *   }
 *
 * A backward function reads node->out->grad and ADDS into node->in[i]->grad
 * for every input whose grad is not NULL.
 */
#ifndef ATTEND_INTERNAL_H
#define ATTEND_INTERNAL_H

#include "attend.h"

#include <stdarg.h>
#include <stddef.h>

#define AT_NODE_MAX_IN 8
#define AT_ERROR_BYTES 512

/* Propagate a failure: evaluate a call returning at_status, return on error. */
#define AT_TRY(call)                                                                          \
    do {                                                                                      \
        at_status at_try_status_ = (call);                                                    \
        if (at_try_status_ != AT_OK) return at_try_status_;                                  \
    } while (0)

/* Reject a NULL tensor argument with a message naming it. */
#define AT_CHECK_TENSOR(ctx, t, what)                                                         \
    do {                                                                                      \
        if (!(t)) return at_ctx_fail((ctx), AT_ERR_ARGUMENT, "%s is NULL", (what));           \
    } while (0)

/* ---------------------------------------------------------- generator */

/* One step of xoshiro128** (src/core/rng.c explains the choice): the next
 * 32 random bits, the state advanced. at_rng_u32 is this; it is inline so
 * that a loop drawing one number per element (dropout's mask) keeps the
 * state in registers instead of calling out for every element. */
static inline uint32_t ati_rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
static inline uint32_t ati_rng_next(at_rng *rng) {
    uint32_t *s = rng->s;
    uint32_t result = ati_rotl32(s[1] * 5, 7) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ati_rotl32(s[3], 11);
    return result;
}

/* ------------------------------------------------------------------ arena */

typedef struct ati_arena_block {
    struct ati_arena_block *next;
    size_t capacity, used;
    unsigned char *base; /* 64-byte aligned start */
} ati_arena_block;

typedef struct ati_arena {
    ati_arena_block *first, *current;
    size_t first_block_bytes;
} ati_arena;

void ati_arena_init(ati_arena *arena, size_t first_block_bytes);
void ati_arena_release(ati_arena *arena);
/* 64-byte aligned, uninitialised; NULL if out of memory. */
void *ati_arena_alloc(ati_arena *arena, size_t bytes);
/* Make all memory reusable; merges blocks into one so the next step fits. */
void ati_arena_reset(ati_arena *arena);
size_t ati_arena_used(const ati_arena *arena);
size_t ati_arena_capacity(const ati_arena *arena);

/* ------------------------------------------------------------------- tape */

typedef struct ati_node ati_node;
typedef at_status (*ati_backward_fn)(at_ctx *ctx, ati_node *node);

struct ati_node {
    ati_backward_fn backward;
    const char *op;               /* op name, for messages                   */
    at_tensor *out;               /* the tensor this op produced             */
    at_tensor *in[AT_NODE_MAX_IN];
    int nin;
    int iarg[8];                  /* op-specific integers                    */
    float farg[4];                /* op-specific floats                      */
    const void *aux[4];           /* op-specific arrays (copied into arena)  */
    void *saved;                  /* op-specific cache kept for backward     */
};

/* ------------------------------------------------------------------ trace
 * A recorder of the numbers a fused op computes and does not hand back
 * (scores, gates, p_t, ...), for "explain one step" (src/models/explain.c).
 * It is off (ctx->trace NULL) except while explain runs the one decoder
 * step it explains; then the ops that own such numbers copy them into the
 * arena under a name (trace.c). Nothing else reads it. */
#define ATI_TRACE_MAX 16
#define ATI_TRACE_NAME 24
typedef struct ati_trace_entry {
    char name[ATI_TRACE_NAME];
    int ndim, shape[4];
    size_t size;
    float *data; /* in the arena: valid until the next at_ctx_reset */
} ati_trace_entry;
typedef struct ati_trace {
    ati_trace_entry entry[ATI_TRACE_MAX];
    int count;
} ati_trace;

/* ---------------------------------------------------------------- context */

struct at_ctx {
    ati_arena arena;
    ati_node **tape;
    size_t tape_len, tape_cap;
    int grad_enabled;
    int training;
    int threads;
    at_rng rng;
    ati_trace *trace; /* NULL, or explain's recorder (see "trace" above) */
    at_status last_status;
    char error[AT_ERROR_BYTES];
};

/* Fail with status and "PREFIX: the current message": a callee's error
 * said again with where it happened ("PATH: ..."). */
at_status ati_rethrow(at_ctx *ctx, at_status status, const char *prefix);

/* 1 if gradients are on and any of the n inputs requires a gradient. */
int ati_tracking(const at_ctx *ctx, int n, at_tensor *const *inputs);

/* A new arena tensor for an op's result: data zeroed; if track, also a
 * zeroed grad and requires_grad = 1. */
at_status ati_result(at_ctx *ctx, at_tensor **out, int ndim, const int *shape, int track);
/* The same with data left uninitialised (the grad, if any, is still
 * zeroed). Only for an op that writes every element of its result. */
at_status ati_result_uninit(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                           int track);

/* Arena scratch memory (uninitialised / zeroed) and a copy of caller memory
 * (e.g. a mask or ids that must outlive the caller's buffer until backward). */
at_status ati_scratch(at_ctx *ctx, void **out, size_t bytes);
at_status ati_scratch_zero(at_ctx *ctx, void **out, size_t bytes);
/* (Large blocks are zeroed on the context's threads, outside any parallel
 * region: the gradients a training step allocates were 13% of the main
 * thread's time in a 2-thread Transformer step, zeroed on one.) */
at_status ati_scratch_copy(at_ctx *ctx, const void **out, const void *src, size_t bytes);

/* Append an entry to the tape. nin <= AT_NODE_MAX_IN. The node is zeroed
 * apart from the fields given; fill iarg/farg/aux/saved afterwards. */
at_status ati_tape_record(at_ctx *ctx, ati_node **node_out, const char *op, ati_backward_fn fn,
                         at_tensor *out, int nin, at_tensor *const *inputs);

/* trace.c: attach a recorder (NULL detaches); returns the previous one. */
ati_trace *ati_trace_attach(at_ctx *ctx, ati_trace *trace);
/* 1 when a recorder is attached: an op skips the copies otherwise. */
int ati_tracing(const at_ctx *ctx);
/* Copy data (shape, ndim <= 4) into the arena under name; a no-op without
 * a recorder. A name put again replaces the earlier copy. More than
 * ATI_TRACE_MAX names is an AT_ERR_ARGUMENT. */
at_status ati_trace_put(at_ctx *ctx, const char *name, const float *data, int ndim,
                        const int *shape);
/* The entry of that name, or NULL. */
const ati_trace_entry *ati_trace_get(const ati_trace *trace, const char *name);

/* Shape helpers. */
size_t ati_shape_size(int ndim, const int *shape);
at_status ati_check_shape(at_ctx *ctx, int ndim, const int *shape, const char *what);
/* Writes "(2, 3, 4)" into buf. */
const char *ati_shape_str(char *buf, size_t bytes, int ndim, const int *shape);
/* Normalise a possibly negative axis; -1 if out of range. */
int ati_axis(int axis, int ndim);

/* ------------------------------------------------------------- params */

/* Run by at_params_add on each new parameter's name and shape before it
 * allocates anything; a failure is at_params_add's. A loader sets one to
 * compare a model's parameters with a file's tensors as the model is
 * built, so a file that lies about sizes costs no allocation. */
typedef at_status (*ati_params_check_fn)(at_ctx *ctx, void *user, const char *name, int ndim,
                                        const int *shape);
void ati_params_set_check(at_params *params, ati_params_check_fn check, void *user);
/* dst's values become src's: the same tensors in the same order (names
 * and sizes), else an AT_ERR_ARGUMENT "WHAT: ..." and dst unchanged.
 * Model copies and replicas (at_train_replicas) use it. */
at_status ati_params_copy_values(at_ctx *ctx, at_params *dst, const at_params *src,
                                 const char *what);

/* ------------------------------------------------------- softmax rows
 * The row kernels of at_softmax (src/ops/softmax.c), for the attention
 * families to share. keep: NULL or n mask bytes (1 = keep). A row with
 * nothing kept (or only -inf kept) gives all zeros. Backward ADDS into dx
 * and needs no mask (y is 0 wherever a position was dropped). */
void ati_softmax_row(float *y, const float *x, const uint8_t *keep, int n);
void ati_softmax_row_backward(float *dx, const float *y, const float *dy, int n);

/* ------------------------------------------------------------------- gemm */

/* Row-major C = alpha * op(A) op(B) + beta * C, op(X) = X or X^T.
 * op(A) is (M, K), op(B) is (K, N), C is (M, N). Products up to
 * AT_GEMM_OWN_FLOPS multiply-adds use attend's own register-blocked kernel
 * (src/core/gemm.c); larger ones call cblas_sgemm. One thread of attend's
 * own (OpenBLAS may use its threads for the large ones). */
void ati_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* ati_gemm, with the own kernel allowed up to `threads` OpenMP threads
 * (pass ctx->threads; 1 inside a parallel region). The result is
 * bit-identical for every thread count. */
void ati_gemm_threads(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     int threads);

/* sums[k] += Σ_r x[r·cols + k] for k < cols: the column sums a bias's
 * gradient needs (src/ops/reduce.c). The columns are cut between
 * `threads`; each column adds its rows in order, so the bits are the same
 * for any number. */
void ati_add_column_sums(float *sums, const float *x, int rows, int cols, int threads);

/* C = alpha * op(A) op(B) + bias, bias (N) added to every row of C (C is
 * never read): a layer's y = x W^T + b in one pass over C. */
void ati_gemm_bias(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, const float *bias, float *C, int ldc,
                  int threads);

/* The two sides of ati_gemm, callable alone (the cut-over bench and the gemm
 * test time and check each): the own kernel (ati_gemm_small: one thread;
 * ati_gemm_own: up to `threads`), and cblas_sgemm. Same arguments as
 * ati_gemm. */
void ati_gemm_small(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);
void ati_gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc, int threads);
void ati_gemm_blas(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* dst = srcᵀ: dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols.
 * In 16 x 16 squares (each 16 lines read and 16 written), through registers
 * with AVX-512; the one transpose of gemm's packing and the recurrent
 * layers' W_hh. */
void ati_transpose(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols);

/* Up to this many multiply-adds (M*N*K) ati_gemm uses its own kernel; above
 * it, cblas_sgemm (bench/gemm_cutover measures where that pays). With the
 * 12 x 32 blocks the own kernel beat this machine's pinned OpenBLAS on
 * every product tried up to 1536^3 (150-175 against 85-108 GFLOP/s on one
 * core; the date model's dW_hh at batch 128, (1024, 256, 2560), 155 against
 * 98) and drew level at (4096, 1024, 1024). */
#define AT_GEMM_OWN_FLOPS (1L << 32)
/* The old name of the same bound. */
#define AT_GEMM_SMALL_FLOPS AT_GEMM_OWN_FLOPS

/* A malloc'd copy of a NUL-terminated string, or NULL when out of memory
 * (strdup is POSIX, not C11). */
char *ati_strdup(const char *s);

#endif /* ATTEND_INTERNAL_H */
