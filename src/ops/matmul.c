/*
 * matmul.c - the batched matrix product and its two gradients.
 *
 * For one batch matrix, with op(X) = X or X^T as the trans flags say:
 *
 *     C = op(A) op(B)              A (M, K) or (K, M), B (K, N) or (N, K), C (M, N)
 *     dop(A) = dC op(B)^T          dop(B) = op(A)^T dC
 *
 * A gradient of a stored matrix is the gradient of op(X), transposed back
 * when X was transposed. Every product goes through ati_gemm_threads on
 * the context's threads (the same bits for any number), which picks the
 * small hand kernel or BLAS. Batched inputs (..., M, K) simply loop
 * over the batch; a 2-D b is shared by every batch matrix, so its
 * gradient sums over the batch.
 *
 * When b is shared and a is not transposed, the batch of a is just more
 * rows: (batch, M, K) is one (batch*M, K) matrix, and one big product
 * replaces `batch` small ones (forward and both gradients).
 */
#include "internal.h"

/* The sizes of one product and of the batch. */
typedef struct mm_dims {
    int batch;       /* number of batch matrices                     */
    int M, N, K;     /* op(A) (M, K), op(B) (K, N), C (M, N)         */
    int ta, tb;      /* trans flags                                  */
    int shared_b;    /* b is 2-D, the same for every batch matrix    */
    int threads;     /* the context's: each product is cut between them */
} mm_dims;

/* Leading dimensions of A and B as stored (row-major). */
static int lda_of(const mm_dims *d) { return d->ta ? d->M : d->K; }
static int ldb_of(const mm_dims *d) { return d->tb ? d->K : d->N; }

/* ------------------------------------------------------------ validation */

static at_status check_operand(at_ctx *ctx, const at_tensor *t, const char *name) {
    char s[64];
    if (t->ndim < 2 || t->ndim > AT_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "matmul: %s %s must have 2 to %d dimensions",
                           name, ati_shape_str(s, sizeof s, t->ndim, t->shape), AT_MAX_DIMS);
    if (!t->data) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "matmul: %s has no data", name);
    return ati_check_shape(ctx, t->ndim, t->shape, "matmul");
}

/* Fill d from the shapes of a and b, or fail naming both shapes. */
static at_status mm_plan(at_ctx *ctx, mm_dims *d, const at_tensor *a, const at_tensor *b,
                         int ta, int tb) {
    char sa[64], sb[64];
    ati_shape_str(sa, sizeof sa, a->ndim, a->shape);
    ati_shape_str(sb, sizeof sb, b->ndim, b->shape);
    int a_rows = a->shape[a->ndim - 2], a_cols = a->shape[a->ndim - 1];
    int b_rows = b->shape[b->ndim - 2], b_cols = b->shape[b->ndim - 1];
    d->ta = ta != 0;
    d->tb = tb != 0;
    d->M = ta ? a_cols : a_rows;
    d->K = ta ? a_rows : a_cols;
    int b_inner = tb ? b_cols : b_rows;
    d->N = tb ? b_rows : b_cols;
    if (d->K != b_inner)
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "matmul: a %s%s and b %s%s: inner dimensions %d and %d differ", sa,
                           ta ? " (transposed)" : "", sb, tb ? " (transposed)" : "", d->K,
                           b_inner);
    d->shared_b = b->ndim == 2;
    if (!d->shared_b) {
        int same = a->ndim == b->ndim;
        for (int i = 0; same && i < a->ndim - 2; i++) same = a->shape[i] == b->shape[i];
        if (!same)
            return at_ctx_fail(ctx, AT_ERR_SHAPE,
                               "matmul: a %s and b %s: batch dimensions differ (b must have "
                               "the same leading dimensions as a, or be 2-D)",
                               sa, sb);
    }
    d->batch = (int)(a->size / ((size_t)a_rows * a_cols));
    return AT_OK;
}

/* ---------------------------------------------------------------- forward */

/* C (batch, M, N) = op(A) op(B) for every batch matrix. */
static void mm_forward(const mm_dims *d, const float *A, const float *B, float *C) {
    size_t a_step = (size_t)d->M * d->K, c_step = (size_t)d->M * d->N;
    size_t b_step = d->shared_b ? 0 : (size_t)d->K * d->N;
    if (d->shared_b && !d->ta) { /* the batch is just more rows of A */
        ati_gemm_threads(0, d->tb, d->batch * d->M, d->N, d->K, 1.0f, A, d->K, B, ldb_of(d),
                         0.0f, C, d->N, d->threads);
        return;
    }
    for (int i = 0; i < d->batch; i++)
        ati_gemm_threads(d->ta, d->tb, d->M, d->N, d->K, 1.0f, A + i * a_step, lda_of(d),
                         B + i * b_step, ldb_of(d), 0.0f, C + i * c_step, d->N, d->threads);
}

/* --------------------------------------------------------------- backward */

/* dA += gradient of one batch matrix; dA, B as stored, dC (rows, N). */
static void grad_a(const mm_dims *d, int rows, float *dA, const float *B, const float *dC) {
    if (!d->ta)
        // forward: C = A op(B)          =>  dA (rows, K) += dC op(B)^T
        ati_gemm_threads(0, !d->tb, rows, d->K, d->N, 1.0f, dC, d->N, B, ldb_of(d), 1.0f, dA,
                         d->K, d->threads);
    else
        // forward: C = A^T op(B)        =>  dA (K, M) += op(B) dC^T
        ati_gemm_threads(d->tb, 1, d->K, rows, d->N, 1.0f, B, ldb_of(d), dC, d->N, 1.0f, dA,
                         d->M, d->threads);
}

/* dB += gradient of one batch matrix; A as stored, dC (rows, N). */
static void grad_b(const mm_dims *d, int rows, float *dB, const float *A, const float *dC) {
    int lda = d->ta ? d->M : d->K;
    if (!d->tb)
        // forward: C = op(A) B          =>  dB (K, N) += op(A)^T dC
        ati_gemm_threads(!d->ta, 0, d->K, d->N, rows, 1.0f, A, lda, dC, d->N, 1.0f, dB, d->N,
                         d->threads);
    else
        // forward: C = op(A) B^T        =>  dB (N, K) += dC^T op(A)
        ati_gemm_threads(1, d->ta, d->N, d->K, rows, 1.0f, dC, d->N, A, lda, 1.0f, dB, d->K,
                         d->threads);
}

static at_status matmul_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    const mm_dims *d = node->saved;
    at_tensor *a = node->in[0], *b = node->in[1];
    const float *dC = node->out->grad; // (batch, M, N)
    if (d->shared_b && !d->ta) {       // one product over batch*M rows
        int rows = d->batch * d->M;
        if (a->grad) grad_a(d, rows, a->grad, b->data, dC);
        if (b->grad) grad_b(d, rows, b->grad, a->data, dC);
        return AT_OK;
    }
    size_t a_step = (size_t)d->M * d->K, c_step = (size_t)d->M * d->N;
    size_t b_step = d->shared_b ? 0 : (size_t)d->K * d->N;
    for (int i = 0; i < d->batch; i++) {
        const float *dCi = dC + i * c_step;
        if (a->grad) grad_a(d, d->M, a->grad + i * a_step, b->data + i * b_step, dCi);
        if (b->grad) grad_b(d, d->M, b->grad + i * b_step, a->data + i * a_step, dCi);
    }
    return AT_OK;
}

/* ------------------------------------------------------------------- op */

at_status at_matmul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b, int trans_a,
                    int trans_b) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "matmul: out is NULL");
    AT_CHECK_TENSOR(ctx, a, "matmul: a");
    AT_CHECK_TENSOR(ctx, b, "matmul: b");
    AT_TRY(check_operand(ctx, a, "a"));
    AT_TRY(check_operand(ctx, b, "b"));
    mm_dims dims;
    AT_TRY(mm_plan(ctx, &dims, a, b, trans_a, trans_b));
    dims.threads = ctx->threads;

    int shape[AT_MAX_DIMS]; // (..., M, N)
    for (int i = 0; i < a->ndim - 2; i++) shape[i] = a->shape[i];
    shape[a->ndim - 2] = dims.M;
    shape[a->ndim - 1] = dims.N;
    at_tensor *inputs[2] = {a, b};
    int track = ati_tracking(ctx, 2, inputs);
    at_tensor *c;
    AT_TRY(ati_result_uninit(ctx, &c, a->ndim, shape, track)); // every element written
    mm_forward(&dims, a->data, b->data, c->data);
    if (track) {
        ati_node *node;
        const void *saved;
        AT_TRY(ati_scratch_copy(ctx, &saved, &dims, sizeof dims));
        AT_TRY(ati_tape_record(ctx, &node, "matmul", matmul_backward, c, 2, inputs));
        node->saved = (void *)saved;
    }
    *out = c;
    return AT_OK;
}
