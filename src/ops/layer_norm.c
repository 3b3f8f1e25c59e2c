/*
 * layer_norm.c - layer normalisation over the last dimension.
 *
 * The idea: give every row of x (n features) mean 0 and variance 1, then
 * let the network choose its own scale and shift per feature:
 *
 *     mean = (1/n) sum_j x[j]
 *     var  = (1/n) sum_j (x[j] - mean)^2          (biased, as PyTorch)
 *     rstd = 1 / sqrt(var + eps)
 *     xhat[j] = (x[j] - mean) * rstd
 *     y[j] = xhat[j] * gamma[j] + beta[j]         (gamma = 1, beta = 0 if NULL)
 *
 * Forward keeps mean and rstd, one of each per row, for backward. With
 * g[j] = dy[j] * gamma[j], the gradient of x is
 *
 *     dx[j] = rstd * (g[j] - mean_k g[k] - xhat[j] * mean_k (g[k] xhat[k]))
 *
 * (the two subtracted means undo the mean and the variance, both of which
 * depend on every x[k]); dgamma[j] = sum_rows dy[j] xhat[j] and
 * dbeta[j] = sum_rows dy[j].
 */
#include "internal.h"

#include <math.h>

/* Rows are spread over threads only when there is this much work. */
enum { LAYER_NORM_PARALLEL_MIN = 1 << 15 };

/* The pieces of one op: x as rows, the optional affine parameters, the
 * per-row statistics. */
typedef struct ln_parts {
    size_t rows;       /* R                */
    int n;             /* row length       */
    const float *x;    /* (R, n)           */
    const float *gamma; /* (n) or NULL     */
    const float *beta;  /* (n) or NULL     */
    float *mean;       /* (R)              */
    float *rstd;       /* (R)              */
} ln_parts;

/* Sums over a row in double, in LANES interleaved partial sums (lane l
 * takes elements l, l + LANES, ...), added up in one fixed tree: the lanes
 * are independent chains, so the loops vectorise (one chain of double adds
 * was 4 cycles an element), and the order is the same for every row and
 * thread count. */
enum { LANES = 8 };

static double lanes_total(const double s[LANES]) {
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

static double row_sum(const float *x, int n) {
    double s[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) s[l] += x[j + l];
    for (int l = 0; j + l < n; l++) s[l] += x[j + l];
    return lanes_total(s);
}

static double row_squares_about(const float *x, int n, double mean) {
    double s[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) s[l] += (x[j + l] - mean) * (x[j + l] - mean);
    for (int l = 0; j + l < n; l++) s[l] += (x[j + l] - mean) * (x[j + l] - mean);
    return lanes_total(s);
}

static void ln_row_forward(float *y, const float *x, const float *gamma, const float *beta,
                           int n, float *mean_out, float *rstd_out, float eps) {
    double mean = row_sum(x, n) / n;
    double sq = row_squares_about(x, n, mean);
    float rstd = (float)(1.0 / sqrt(sq / n + eps));
    float m = (float)mean;
    for (int j = 0; j < n; j++) {
        float xhat = (x[j] - m) * rstd;
        y[j] = xhat * (gamma ? gamma[j] : 1.0f) + (beta ? beta[j] : 0.0f);
    }
    *mean_out = m;
    *rstd_out = rstd;
}

static void ln_forward(at_ctx *ctx, const ln_parts *p, float *y, float eps) {
    const long rows = (long)p->rows;
    const int n = p->n;
    // a plain branch, not an if clause: a false if still builds a team per call
    if (ctx->threads > 1 && p->rows * (size_t)n >= LAYER_NORM_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) {
            size_t at = (size_t)r * n;
            ln_row_forward(y + at, p->x + at, p->gamma, p->beta, n, &p->mean[r], &p->rstd[r],
                           eps);
        }
        return;
    }
    for (long r = 0; r < rows; r++) {
        size_t at = (size_t)r * n;
        ln_row_forward(y + at, p->x + at, p->gamma, p->beta, n, &p->mean[r], &p->rstd[r], eps);
    }
}

/* dx for one row. */
static void ln_row_backward_x(float *dx, const float *x, const float *dy, const float *gamma,
                              int n, float mean, float rstd) {
    double gs[LANES] = {0}, gxs[LANES] = {0}; // mean_k g[k], mean_k g[k] xhat[k], in lanes
    int k0 = 0;
    for (; k0 + LANES <= n; k0 += LANES)
        for (int l = 0; l < LANES; l++) {
            float g = dy[k0 + l] * (gamma ? gamma[k0 + l] : 1.0f);
            gs[l] += g;
            gxs[l] += (double)g * ((x[k0 + l] - mean) * rstd);
        }
    for (int l = 0; k0 + l < n; l++) {
        float g = dy[k0 + l] * (gamma ? gamma[k0 + l] : 1.0f);
        gs[l] += g;
        gxs[l] += (double)g * ((x[k0 + l] - mean) * rstd);
    }
    double g_mean = lanes_total(gs) / n, gx_mean = lanes_total(gxs) / n;
    for (int j = 0; j < n; j++) {
        float xhat = (x[j] - mean) * rstd;
        float g = dy[j] * (gamma ? gamma[j] : 1.0f);
        // forward: xhat[j] = (x[j] - mean) * rstd, rstd = 1 / sqrt(var + eps)
        dx[j] += rstd * (g - (float)g_mean - xhat * (float)gx_mean);
    }
}

static void ln_backward_x(at_ctx *ctx, const ln_parts *p, float *dx, const float *dy) {
    const long rows = (long)p->rows;
    const int n = p->n;
    if (ctx->threads > 1 && p->rows * (size_t)n >= LAYER_NORM_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) {
            size_t at = (size_t)r * n;
            ln_row_backward_x(dx + at, p->x + at, dy + at, p->gamma, n, p->mean[r], p->rstd[r]);
        }
        return;
    }
    for (long r = 0; r < rows; r++) {
        size_t at = (size_t)r * n;
        ln_row_backward_x(dx + at, p->x + at, dy + at, p->gamma, n, p->mean[r], p->rstd[r]);
    }
}

/* dgamma and dbeta sum over rows, in row order for every feature, so the
 * sum order never changes; the features are cut between threads (each
 * thread owns whole features), which keeps that order. */
static void ln_backward_affine_range(const ln_parts *p, float *dgamma, float *dbeta,
                                     const float *dy, int j0, int j1) {
    for (size_t r = 0; r < p->rows; r++) {
        const float *xr = p->x + r * (size_t)p->n, *dyr = dy + r * (size_t)p->n; // (n)
        for (int j = j0; j < j1; j++) {
            float xhat = (xr[j] - p->mean[r]) * p->rstd[r];
            // forward: y[j] = xhat[j] * gamma[j] + beta[j]
            if (dgamma) dgamma[j] += dyr[j] * xhat;
            if (dbeta) dbeta[j] += dyr[j];
        }
    }
}

enum { AFFINE_BLOCK = 32 }; /* features per piece of work */

static void ln_backward_affine(at_ctx *ctx, const ln_parts *p, float *dgamma, float *dbeta,
                               const float *dy) {
    int blocks = (p->n + AFFINE_BLOCK - 1) / AFFINE_BLOCK;
    if (ctx->threads <= 1 || blocks < 2 || p->rows * (size_t)p->n < LAYER_NORM_PARALLEL_MIN) {
        ln_backward_affine_range(p, dgamma, dbeta, dy, 0, p->n);
        return;
    }
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int b = 0; b < blocks; b++) {
        int j0 = b * AFFINE_BLOCK, j1 = j0 + AFFINE_BLOCK < p->n ? j0 + AFFINE_BLOCK : p->n;
        ln_backward_affine_range(p, dgamma, dbeta, dy, j0, j1);
    }
}

/* node->in: x, gamma (or NULL), beta (or NULL); saved: mean (R) then rstd (R). */
static at_status layer_norm_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    ln_parts p;
    p.n = x->shape[x->ndim - 1];
    p.rows = x->size / (size_t)p.n;
    p.x = x->data;
    p.gamma = gamma ? gamma->data : NULL;
    p.beta = beta ? beta->data : NULL;
    p.mean = node->saved;
    p.rstd = p.mean + p.rows;
    const float *dy = node->out->grad; // (R, n)
    if (x->grad) ln_backward_x(ctx, &p, x->grad, dy);
    float *dgamma = gamma ? gamma->grad : NULL, *dbeta = beta ? beta->grad : NULL;
    if (dgamma || dbeta) ln_backward_affine(ctx, &p, dgamma, dbeta, dy);
    return AT_OK;
}

static at_status check_affine(at_ctx *ctx, const at_tensor *t, int n, const char *what) {
    if (!t || (t->ndim == 1 && t->shape[0] == n)) return AT_OK;
    char buf[64];
    return at_ctx_fail(ctx, AT_ERR_SHAPE, "layer_norm: %s is %s, must be (%d) to match x", what,
                       ati_shape_str(buf, sizeof buf, t->ndim, t->shape), n);
}

at_status at_layer_norm(at_ctx *ctx, at_tensor **out, at_tensor *x, at_tensor *gamma,
                        at_tensor *beta, float eps) {
    AT_CHECK_TENSOR(ctx, x, "layer_norm: x");
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "layer_norm: out is NULL");
    if (!(eps >= 0.0f) || !isfinite(eps))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "layer_norm: eps is %g (must be >= 0)",
                           (double)eps);
    ln_parts p;
    p.n = x->shape[x->ndim - 1];
    p.rows = x->size / (size_t)p.n;
    AT_TRY(check_affine(ctx, gamma, p.n, "gamma"));
    AT_TRY(check_affine(ctx, beta, p.n, "beta"));
    p.x = x->data;
    p.gamma = gamma ? gamma->data : NULL;
    p.beta = beta ? beta->data : NULL;

    at_tensor *inputs[3] = {x, gamma, beta};
    int track = ati_tracking(ctx, 3, inputs);
    void *stats; // mean (R) then rstd (R)
    AT_TRY(ati_scratch(ctx, &stats, 2 * p.rows * sizeof(float)));
    p.mean = stats;
    p.rstd = p.mean + p.rows;
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, x->ndim, x->shape, track)); // every element written
    ln_forward(ctx, &p, y->data, eps);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "layer_norm", layer_norm_backward, y, 3, inputs));
        node->saved = stats;
    }
    *out = y;
    return AT_OK;
}
