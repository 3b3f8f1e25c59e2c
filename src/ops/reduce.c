/*
 * reduce.c - sums: of everything (sum, mean) and of the last dimension.
 *
 *     sum       y = sum_i x[i]                 (n)        -> (1)
 *     mean      y = sum_i x[i] / n             (n)        -> (1)
 *     sum_last  y[r] = sum_j x[r, j]           (..., m)   -> (...)
 *
 * and, for the layers, ati_add_column_sums: a bias's gradient, the column
 * sums of the output gradient (R, cols), cut between threads by columns.
 *
 * Sums accumulate in double, in index order, on one thread, so the result
 * is the same for any thread count. Each gradient is the output gradient
 * spread back over the elements that were summed.
 */
#include "internal.h"

static at_status check_x(at_ctx *ctx, at_tensor **out, const at_tensor *x, const char *op) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", op);
    if (!x) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x is NULL", op);
    if (!x->data) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x has no data", op);
    return ati_check_shape(ctx, x->ndim, x->shape, op);
}

static double sum_of(size_t n, const float *x) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

/* -------------------------------------------------------- sum and mean */

/* node->farg[0] is the factor applied to the sum: 1 (sum) or 1/n (mean). */
static at_status total_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    float g = node->farg[0] * node->out->grad[0];
    for (size_t i = 0; i < x->size; i++)
        // forward: y = factor * sum_i x[i]
        x->grad[i] += g;
    return AT_OK;
}

static at_status total(at_ctx *ctx, at_tensor **out, at_tensor *x, const char *op, int mean) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_x(ctx, out, x, op));
    float factor = mean ? (float)(1.0 / (double)x->size) : 1.0f;
    int track = ati_tracking(ctx, 1, &x);
    int one = 1;
    at_tensor *y; // (1)
    AT_TRY(ati_result(ctx, &y, 1, &one, track));
    y->data[0] = (float)(sum_of(x->size, x->data) * (mean ? 1.0 / (double)x->size : 1.0));
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, total_backward, y, 1, &x));
        node->farg[0] = factor;
    }
    *out = y;
    return AT_OK;
}

at_status at_sum(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return total(ctx, out, x, "sum", 0);
}
at_status at_mean(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return total(ctx, out, x, "mean", 1);
}

/* ------------------------------------------------------------ sum_last */

static at_status sum_last_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    const float *dy = node->out->grad; // (rows)
    size_t m = (size_t)x->shape[x->ndim - 1], rows = x->size / m;
    for (size_t r = 0; r < rows; r++) {
        float *dx = x->grad + r * m; // (m)
        for (size_t j = 0; j < m; j++)
            // forward: y[r] = sum_j x[r, j]
            dx[j] += dy[r];
    }
    return AT_OK;
}

at_status at_sum_last(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_x(ctx, out, x, "sum_last"));
    int one = 1;
    int ndim = x->ndim > 1 ? x->ndim - 1 : 1;
    const int *shape = x->ndim > 1 ? x->shape : &one; // (...) or (1)
    int track = ati_tracking(ctx, 1, &x);
    at_tensor *y;
    AT_TRY(ati_result(ctx, &y, ndim, shape, track));
    size_t m = (size_t)x->shape[x->ndim - 1];
    for (size_t r = 0; r < y->size; r++) y->data[r] = (float)sum_of(m, x->data + r * m);
    if (track) AT_TRY(ati_tape_record(ctx, NULL, "sum_last", sum_last_backward, y, 1, &x));
    *out = y;
    return AT_OK;
}

/* ------------------------------------------------------------ column sums */

/* Columns per piece of work, and the work below which one thread does it. */
#define COLUMN_BLOCK 64
#define COLUMN_SUMS_PARALLEL_MIN (1L << 16)

static void column_sums_range(float *sums, const float *x, int rows, int cols, int k0, int k1) {
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * cols;
        for (int k = k0; k < k1; k++) sums[k] += row[k];
    }
}

void ati_add_column_sums(float *sums, const float *x, int rows, int cols, int threads) {
    if (threads <= 1 || (long)rows * cols < COLUMN_SUMS_PARALLEL_MIN || cols <= COLUMN_BLOCK) {
        column_sums_range(sums, x, rows, cols, 0, cols);
        return;
    }
    int blocks = (cols + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < blocks; b++) {
        int k0 = b * COLUMN_BLOCK, k1 = k0 + COLUMN_BLOCK < cols ? k0 + COLUMN_BLOCK : cols;
        column_sums_range(sums, x, rows, cols, k0, k1);
    }
}
