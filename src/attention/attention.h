/*
 * attention.h - what the attention families share (private to the library).
 *
 * Every family turns scores (B, Tq, Tk) into weights α and a context
 * c = α V. Four pieces repeat across families and live here once:
 *   - reading queries as (B, Tq, Dq) or as one decoder step (B, Dq);
 *   - checking an at_attn_mask and finding the keep-bytes of a score row,
 *     with the causal rule folded in;
 *   - copying a mask into the arena, so backward can still read it;
 *   - the weighted sum c = α V and its backward.
 */
#ifndef ATTEND_ATTENTION_H
#define ATTEND_ATTENTION_H

#include "fastmath.h"
#include "internal.h"

/* Queries as the header allows them: (B, Tq, D) or one step (B, D). */
typedef struct attn_queries {
    int batch, steps, size; /* B, Tq, D */
    int single_step;        /* 1 if given as (B, D): outputs drop the Tq axis */
} attn_queries;

/* Read q's shape; AT_ERR_SHAPE with a message naming `op` otherwise. */
at_status attn_read_queries(at_ctx *ctx, const char *op, const at_tensor *q, int size,
                            attn_queries *out);
/* Check t is (B, T, D) with the given B (and D unless D < 0). T goes to *steps. */
at_status attn_check_sequence(at_ctx *ctx, const char *op, const char *what, const at_tensor *t,
                              int batch, int size, int *steps);

/* A mask resolved for one call: scores viewed as `rows` rows of tk, where
 * row r belongs to query i = r % tq. */
typedef struct attn_mask_view {
    const uint8_t *keep;  /* NULL or (mask_rows, tk), in the arena      */
    size_t rows_per_mask; /* rows / mask_rows                           */
    int causal, tq, tk;
} attn_mask_view;

/* Validate `mask` (may be NULL) for `rows` score rows of length tk with tq
 * queries per block; copy its bytes into the arena. */
at_status attn_mask_prepare(at_ctx *ctx, const char *op, const at_attn_mask *mask, size_t rows,
                            int tq, int tk, attn_mask_view *view);

/* The keep-bytes for score row r: NULL when every key is kept; otherwise a
 * pointer to tk bytes (the mask row itself, or `scratch` when the causal
 * rule had to be folded in). */
const uint8_t *attn_row_keep(const attn_mask_view *view, size_t r, uint8_t *scratch);

/* 1 if key j is kept for row r (the same rule, one position at a time). */
int attn_is_kept(const attn_mask_view *view, size_t r, int j);

/* context (B, Tq, Dv) += alpha (B, Tq, Tk) · values (B, Tk, Dv), the batch
 * rows shared by up to `threads` (ctx->threads). */
void attn_weighted_sum(int threads, int B, int tq, int tk, int dv, const float *alpha,
                       const float *values, float *context);
/* The backward of attn_weighted_sum: d_alpha (B, Tq, Tk) += dc · Vᵀ and
 * d_values (B, Tk, Dv) += αᵀ · dc. Either output may be NULL. */
void attn_weighted_sum_backward(int threads, int B, int tq, int tk, int dv, const float *alpha,
                                const float *values, const float *d_context, float *d_alpha,
                                float *d_values);

/* A view of x (shares data and gradient, no tape entry) with a size-1 axis
 * inserted before `axis` (insert = 1) or the size-1 axis `axis` removed
 * (insert = 0): how a decoder step (B, D) becomes (B, 1, D) and back.
 * axis < x->ndim. (multiplicative.c) */
at_status attn_unit_axis(at_ctx *ctx, at_tensor *x, int axis, int insert, at_tensor **out);

/* n zeroed floats of arena scratch, typed. (multiplicative.c) */
at_status attn_scratch_floats(at_ctx *ctx, float **out, size_t n);

/* ------------------------------------------- the fused dot-product kernel
 * src/attention/dot_kernel.c. Scaled dot-product attention over G = B*H
 * independent groups, in tiles with an online softmax, so that without
 * `weights` no (Tq, Tk) matrix is stored:
 *   q (G, Tq, d), k (G, Tk, d), v (G, Tk, dv) -> out (G, Tq, dv) (written,
 *   not accumulated), lse (G, Tq): log Σ_j exp(scale q_i·k_j) over kept j,
 *   -INFINITY for a query that sees no key (its out row is 0).
 *   weights: NULL, or (G, Tq, Tk) filled with the normalised α.
 * The mask view covers G*Tq score rows (see attn_mask_prepare).
 * Backward recomputes the scores tile by tile from q, k and lse, and ADDS
 * into dq, dk, dv (each may be NULL). weights, d_weights: both NULL, or the
 * (G, Tq, Tk) weights the forward filled and their gradient, which then
 * flows into dq and dk through the softmax as well. Threads: ctx->threads,
 * over groups and query tiles; deterministic for a given thread count. */
at_status attn_dot_forward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                           const float *q, const float *k, const float *v,
                           const attn_mask_view *mask, float *out, float *lse, float *weights);
/* The same, and scores (G, Tq, Tk) = scale q_i·k_j (-inf where hidden)
 * when not NULL; scores needs weights (both come from the second pass). */
at_status attn_dot_forward_scores(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                  const float *q, const float *k, const float *v,
                                  const attn_mask_view *mask, float *out, float *lse,
                                  float *weights, float *scores);
at_status attn_dot_backward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                            const float *q, const float *k, const float *v, const float *out,
                            const float *lse, const float *d_out, const float *weights,
                            const float *d_weights, const attn_mask_view *mask, float *dq,
                            float *dk, float *d_v);

/* --------------------------------------------- the step families' pieces
 * Families 1-4 (additive, attention decoder, Luong global and local) score
 * queries against projected keys, then share the same tail. Each piece is
 * defined once, in the file named beside it. Sizes of one call: */
typedef struct attn_dims {
    int B, tq, tk; /* batch, queries, keys                          */
    int dq, dk;    /* query size, width of keys_proj                */
    int dv;        /* value size                                    */
} attn_dims;

/* additive.c: out (B, Tk, O) = keys (B, Tk, Dk) · W[:, offset : offset+Dk]ᵀ
 * (+ bias (O)), one tape entry "op". W is (O, ld): a whole weight, or the
 * key half of Luong's concat W_a. */
at_status attn_project_block(at_ctx *ctx, const char *op, at_tensor *keys, at_tensor *W,
                             int offset, at_tensor *bias, at_tensor **out);

/* additive.c: the additive score against projected keys kp (B, Tk, A):
 *   t (B, Tq, Tk, A) = tanh(q W[:, 0:Dq]ᵀ + kp_j)    e (B, Tq, Tk) = t v
 * W is (A, ld) (its first Dq columns act on the query), v is (A). t is kept
 * for backward. Backward ADDS into dq, dkp (each may be NULL) and into the
 * grads of W and v where they exist. */
at_status attn_additive_scores(at_ctx *ctx, const attn_dims *d, const at_tensor *W,
                               const at_tensor *v, const float *q, const float *kp, float *t,
                               float *scores);
at_status attn_additive_scores_backward(at_ctx *ctx, const attn_dims *d, at_tensor *W,
                                        at_tensor *v, const float *q, const float *t,
                                        const float *d_scores, float *dq, float *dkp);

/* additive.c: a new tensor shaped as the queries were given, with last
 * dimension n: (B, Tq, n), or (B, n) for a single step. */
at_status attn_new_like_queries(at_ctx *ctx, const attn_queries *q, int n, int track,
                                at_tensor **out);

/* additive.c: the buffers a score -> softmax -> context family makes for one
 * call: the context (shaped like the queries, last dimension Dv), the
 * weights when asked for (last dimension Tk; NULL otherwise), the scores
 * (B, Tq, Tk) in scratch, and alpha (B, Tq, Tk): the weights' own data when
 * they were asked for, scratch otherwise. */
typedef struct attn_map_buffers {
    at_tensor *context, *weights;
    float *scores, *alpha;
} attn_map_buffers;
at_status attn_map_buffers_new(at_ctx *ctx, const attn_queries *q, const attn_dims *d,
                               int want_weights, int track, attn_map_buffers *out);

/* additive.c: alpha = softmax of each score row over its kept keys (a row
 * that keeps nothing is all zeros). rows = B*Tq rows of tk. */
at_status attn_softmax_scores(at_ctx *ctx, const attn_mask_view *mask, size_t rows, int tk,
                              const float *scores, float *alpha);

/* additive.c: undo α = softmax(e) row by row: d_scores (rows, tk), new in
 * the arena. Rows that kept nothing have α = 0 and get zero gradient. */
at_status attn_softmax_backward(at_ctx *ctx, size_t rows, int tk, const float *alpha,
                                const float *d_alpha, float **d_scores);

/* additive.c: undo c = α V. d_alpha (B, Tq, Tk), new in the arena, =
 * weights->grad (when the returned weights carry one) + dc Vᵀ; values->grad
 * += αᵀ dc when it exists. */
at_status attn_context_backward(at_ctx *ctx, const attn_dims *d, const float *alpha,
                                const at_tensor *weights, at_tensor *values,
                                const float *d_context, float **d_alpha);

/* luong_global.c: check queries, keys_proj and values against the layer's
 * score and fill the sizes. */
at_status luong_check_inputs(at_ctx *ctx, const char *op, const at_luong *layer,
                             at_tensor *queries, at_tensor *keys_proj, at_tensor *values,
                             attn_queries *q, attn_dims *d);
/* luong_global.c: every score (B, Tq, Tk) of the layer's kind; concat keeps
 * its hidden layer in *t (B, Tq, Tk, A), other scores set *t = NULL. */
at_status luong_scores(at_ctx *ctx, const at_luong *layer, const attn_dims *d, const float *q,
                       const float *kp, float **t, float *scores);
/* luong_global.c: ADDS into dq, dkp (each may be NULL) and the parameter grads. */
at_status luong_scores_backward(at_ctx *ctx, const at_luong *layer, const attn_dims *d,
                                const float *q, const float *kp, const float *t,
                                const float *d_scores, float *dq, float *dkp);

#endif /* ATTEND_ATTENTION_H */
