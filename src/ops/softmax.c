/*
 * softmax.c - softmax and log-softmax over the last dimension, with masks.
 *
 * The idea: turn a row of scores x (n) into a probability distribution
 *
 *     y[j] = exp(x[j] - m) / s,    m = max_k x[k],    s = sum_k exp(x[k] - m)
 *
 * Subtracting the row maximum m cancels out in the ratio, but it keeps
 * every exp() at most 1, so nothing overflows however large the scores.
 * log-softmax is computed directly as  ly[j] = x[j] - m - log(s),  never as
 * the log of a tiny y (which would round to log(0) = -inf).
 *
 * Masks follow THE ONE MASK CONVENTION of attend.h: x is R rows of n; the
 * mask has M rows of n bytes (1 = keep) and mask row r / (R / M) serves row
 * r. The maximum, the sum and the outputs run over kept positions only;
 * dropped positions output exactly 0. m starts at -INFINITY, so a row with
 * nothing kept (or only -inf scores kept) ends with m = -INFINITY. Such a
 * "dead" row outputs all zeros and passes zero gradient instead of the NaN
 * that exp(-inf - (-inf)) would give.
 *
 * Backward, with the sums over kept positions k only:
 *     softmax:      dx[j] = y[j] * (dy[j] - sum_k y[k] dy[k])
 *     log-softmax:  dx[j] = dy[j] - exp(ly[j]) * sum_k dy[k]
 * Softmax backward needs no mask: y is 0 wherever the mask dropped a
 * position or the row is dead, and the formula then gives 0 by itself.
 * Log-softmax outputs 0 at dropped positions, which is not log(0), so its
 * backward keeps a copy of the mask (the caller's buffer may be gone by
 * then) and re-finds dead rows from x.
 */
#include "internal.h"

#include <math.h>

/* Rows are spread over threads only when there is this much work. */
enum { SOFTMAX_PARALLEL_MIN = 1 << 15 };

typedef struct row_view {
    size_t rows;          /* R: rows of x                        */
    int n;                /* length of a row                     */
    const uint8_t *mask;  /* (M, n) or NULL                      */
    size_t rows_per_mask; /* R / M                               */
} row_view;

/* The mask row that serves row r, or NULL when there is no mask. */
static const uint8_t *mask_for_row(const row_view *v, size_t r) {
    return v->mask ? v->mask + (r / v->rows_per_mask) * (size_t)v->n : NULL;
}

static int is_kept(const uint8_t *keep, int j) { return !keep || keep[j] != 0; }

/* The maximum of the kept x[j]; -INFINITY when nothing (finite) is kept. */
static float kept_max(const float *x, const uint8_t *keep, int n) {
    float max = -INFINITY;
    for (int j = 0; j < n; j++)
        if (is_kept(keep, j) && x[j] > max) max = x[j];
    return max;
}

/* ----------------------------------------------------------- forward rows */

void ati_softmax_row(float *y, const float *x, const uint8_t *keep, int n) { // (n), (n)
    float max = kept_max(x, keep, n);
    if (max == -INFINITY) { // dead row: all zeros
        for (int j = 0; j < n; j++) y[j] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        y[j] = is_kept(keep, j) ? expf(x[j] - max) : 0.0f;
        sum += y[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < n; j++) y[j] *= inv;
}

static void log_softmax_row(float *ly, const float *x, const uint8_t *keep, int n) {
    float max = kept_max(x, keep, n);
    if (max == -INFINITY) {
        for (int j = 0; j < n; j++) ly[j] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        if (is_kept(keep, j)) sum += expf(x[j] - max);
    float log_sum = (float)log(sum);
    for (int j = 0; j < n; j++) ly[j] = is_kept(keep, j) ? (x[j] - max) - log_sum : 0.0f;
}

/* ---------------------------------------------------------- backward rows */

void ati_softmax_row_backward(float *dx, const float *y, const float *dy, int n) {
    double dot = 0.0; // sum_k y[k] dy[k]; dropped k have y[k] = 0
    for (int k = 0; k < n; k++) dot += (double)y[k] * dy[k];
    for (int j = 0; j < n; j++) {
        // forward: y[j] = exp(x[j] - max) / sum
        dx[j] += y[j] * (dy[j] - (float)dot);
    }
}

static void log_softmax_row_backward(float *dx, const float *ly, const float *dy,
                                     const float *x, const uint8_t *keep, int n) {
    if (kept_max(x, keep, n) == -INFINITY) return; // dead row: zero gradient
    double dy_sum = 0.0; // sum_k dy[k] over kept k
    for (int k = 0; k < n; k++)
        if (is_kept(keep, k)) dy_sum += dy[k];
    for (int j = 0; j < n; j++) {
        if (!is_kept(keep, j)) continue;
        // forward: ly[j] = (x[j] - max) - log(sum)
        dx[j] += dy[j] - expf(ly[j]) * (float)dy_sum;
    }
}

/* ------------------------------------------------------------ whole tensors */

static void softmax_one_row(const row_view *v, float *y, const float *x, int log_form, long r) {
    const int n = v->n;
    const float *xr = x + (size_t)r * n; // (n)
    float *yr = y + (size_t)r * n;       // (n)
    if (log_form) log_softmax_row(yr, xr, mask_for_row(v, (size_t)r), n);
    else ati_softmax_row(yr, xr, mask_for_row(v, (size_t)r), n);
}

static void softmax_rows(at_ctx *ctx, const row_view *v, float *y, const float *x, int log_form) {
    const long rows = (long)v->rows;
    const int n = v->n;
    // a plain branch, not an if clause: a false if still builds a team per call
    if (ctx->threads > 1 && v->rows * (size_t)n >= SOFTMAX_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) softmax_one_row(v, y, x, log_form, r);
        return;
    }
    for (long r = 0; r < rows; r++) softmax_one_row(v, y, x, log_form, r);
}

/* node->iarg: [0] n, [1] mask rows M (1 without a mask); aux[0]: the mask
 * copy (log form only). */
static row_view view_of_node(const ati_node *node) {
    row_view v;
    v.n = node->iarg[0];
    v.rows = node->out->size / (size_t)v.n;
    v.mask = node->aux[0];
    v.rows_per_mask = v.rows / (size_t)node->iarg[1];
    return v;
}

static at_status softmax_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    row_view v = view_of_node(node);
    const float *y = node->out->data, *dy = node->out->grad; // (R, n)
    const long rows = (long)v.rows;
    const int n = v.n;
    if (ctx->threads > 1 && v.rows * (size_t)n >= SOFTMAX_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) {
            size_t at = (size_t)r * n;
            ati_softmax_row_backward(x->grad + at, y + at, dy + at, n);
        }
        return AT_OK;
    }
    for (long r = 0; r < rows; r++) {
        size_t at = (size_t)r * n;
        ati_softmax_row_backward(x->grad + at, y + at, dy + at, n);
    }
    return AT_OK;
}

static at_status log_softmax_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    row_view v = view_of_node(node);
    const float *ly = node->out->data, *dy = node->out->grad; // (R, n)
    const long rows = (long)v.rows;
    const int n = v.n;
    if (ctx->threads > 1 && v.rows * (size_t)n >= SOFTMAX_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) {
            size_t at = (size_t)r * n;
            log_softmax_row_backward(x->grad + at, ly + at, dy + at, x->data + at,
                                     mask_for_row(&v, (size_t)r), n);
        }
        return AT_OK;
    }
    for (long r = 0; r < rows; r++) {
        size_t at = (size_t)r * n;
        log_softmax_row_backward(x->grad + at, ly + at, dy + at, x->data + at,
                                 mask_for_row(&v, (size_t)r), n);
    }
    return AT_OK;
}

/* Check x and the mask against each other and describe x as rows. */
static at_status make_view(at_ctx *ctx, row_view *v, const char *op, at_tensor *x,
                           const uint8_t *mask, int mask_rows) {
    if (!x) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x is NULL", op);
    v->n = x->shape[x->ndim - 1];
    v->rows = x->size / (size_t)v->n;
    v->mask = mask;
    v->rows_per_mask = v->rows;
    if (!mask) return AT_OK; // mask_rows is ignored without a mask
    if (mask_rows <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: mask_rows is %d (must be > 0)", op,
                           mask_rows);
    if (v->rows % (size_t)mask_rows != 0) {
        char buf[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "%s: mask_rows %d does not divide the %zu rows of x %s "
                           "(each mask row must serve a whole number of rows)",
                           op, mask_rows, v->rows,
                           ati_shape_str(buf, sizeof buf, x->ndim, x->shape));
    }
    v->rows_per_mask = v->rows / (size_t)mask_rows;
    return AT_OK;
}

static at_status softmax_any(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                             int mask_rows, int log_form) {
    const char *op = log_form ? "log_softmax" : "softmax";
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", op);
    row_view v;
    AT_TRY(make_view(ctx, &v, op, x, mask, mask_rows));
    int track = ati_tracking(ctx, 1, &x);
    at_tensor *y;
    AT_TRY(ati_result(ctx, &y, x->ndim, x->shape, track));
    softmax_rows(ctx, &v, y->data, x->data, log_form);
    if (track) {
        const void *mask_copy = NULL; // only log-softmax backward reads the mask
        if (log_form && mask)
            AT_TRY(ati_scratch_copy(ctx, &mask_copy, mask, (size_t)mask_rows * (size_t)v.n));
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, op, log_form ? log_softmax_backward : softmax_backward,
                              y, 1, &x));
        node->iarg[0] = v.n;
        node->iarg[1] = mask ? mask_rows : 1;
        node->aux[0] = mask_copy;
    }
    *out = y;
    return AT_OK;
}

at_status at_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                     int mask_rows) {
    return softmax_any(ctx, out, x, mask, mask_rows, 0);
}

at_status at_log_softmax(at_ctx *ctx, at_tensor **out, at_tensor *x, const uint8_t *mask,
                         int mask_rows) {
    return softmax_any(ctx, out, x, mask, mask_rows, 1);
}
