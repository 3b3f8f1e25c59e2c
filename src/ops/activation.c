/*
 * activation.c - elementwise nonlinearities: tanh, sigmoid, relu, gelu, exp.
 *
 * Each activation is a pair of loops over the n elements of x:
 *
 *     forward   y[i] = f(x[i])
 *     backward  dx[i] += f'(x[i]) * dy[i]
 *
 * written so f' uses whichever of x[i] or y[i] is cheaper (tanh, sigmoid
 * and exp reuse y; relu needs x). GELU's f' costs as much as f, so its
 * forward keeps slope[i] = f'(x[i]) while recording, and its backward is
 * dx[i] += slope[i] * dy[i]. One shared function validates,
 * allocates, runs the pair and records the tape entry. Large tensors are
 * split between the context's threads; every element is computed the same
 * way on any thread, so results do not depend on the thread count.
 */
#include "internal.h"
#include "fastmath.h"

#include <math.h>

/* Use threads only above this many elements. */
#define PARALLEL_MIN (1 << 15)

typedef void (*forward_fn)(size_t n, const float *x, float *y);
typedef void (*backward_fn)(size_t n, const float *x, const float *y, const float *dy,
                            float *dx);
typedef void (*forward_slope_fn)(size_t n, const float *x, float *y, float *slope);

/* forward_slope, where set, is used while recording: it also writes
 * slope[i] = f'(x[i]), and backward becomes dx[i] += slope[i] * dy[i]. For
 * an f' that costs as much as f (gelu), one more store in the forward
 * saves recomputing it in the backward; the values are the same bits. */
typedef struct activation {
    const char *name;
    forward_fn forward;
    backward_fn backward;
    forward_slope_fn forward_slope; /* set: backward is NULL, and unused      */
} activation;

/* ----------------------------------------------------------------- tanh */

static void tanh_forward(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ati_fast_tanh(x[i]); // vectorised; a few ulps from tanhf
}
static void tanh_backward(size_t n, const float *x, const float *y, const float *dy,
                          float *dx) {
    (void)x;
    for (size_t i = 0; i < n; i++)
        // forward: y[i] = tanh(x[i])
        dx[i] += (1.0f - y[i] * y[i]) * dy[i];
}

/* -------------------------------------------------------------- sigmoid */

static void sigmoid_forward(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = ati_fast_sigmoid(x[i]);
}
static void sigmoid_backward(size_t n, const float *x, const float *y, const float *dy,
                             float *dx) {
    (void)x;
    for (size_t i = 0; i < n; i++)
        // forward: y[i] = 1 / (1 + exp(-x[i]))
        dx[i] += y[i] * (1.0f - y[i]) * dy[i];
}

/* ----------------------------------------------------------------- relu */

static void relu_forward(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void relu_backward(size_t n, const float *x, const float *y, const float *dy,
                          float *dx) {
    (void)y;
    for (size_t i = 0; i < n; i++)
        // forward: y[i] = x[i] > 0 ? x[i] : 0
        dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

/* ----------------------------------------------------------------- gelu */
/* Exact GELU, as torch's default: y = x * Phi(x), Phi the normal CDF.
 * dy/dx = Phi(x) + x * phi(x), phi the normal density. Both from
 * ati_fast_normal_cdf (branch-free, so the loops vectorise; within 1e-7 of
 * the exact Phi, and without the cancellation of 1 + erf for x < 0). */

static void gelu_forward(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) {
        float pdf;
        y[i] = x[i] * ati_fast_normal_cdf(x[i], &pdf);
    }
}
/* The forward while recording: y as gelu_forward, and its slope, which
 * costs as much again, for backward_from_slope. */
static void gelu_forward_slope(size_t n, const float *x, float *y, float *slope) {
    for (size_t i = 0; i < n; i++) {
        float pdf, cdf = ati_fast_normal_cdf(x[i], &pdf);
        y[i] = x[i] * cdf;
        slope[i] = cdf + x[i] * pdf; // dy/dx = Phi(x) + x phi(x)
    }
}

/* ------------------------------------------------------------------ exp */

static void exp_forward(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
static void exp_backward(size_t n, const float *x, const float *y, const float *dy, float *dx) {
    (void)x;
    for (size_t i = 0; i < n; i++)
        // forward: y[i] = exp(x[i])
        dx[i] += y[i] * dy[i];
}

/* Any activation whose forward kept its slope: */
static void backward_from_slope(size_t n, const float *slope, const float *dy, float *dx) {
    for (size_t i = 0; i < n; i++)
        // forward: slope[i] = f'(x[i])
        dx[i] += slope[i] * dy[i];
}

static const activation TANH = {"tanh", tanh_forward, tanh_backward, NULL};
static const activation SIGMOID = {"sigmoid", sigmoid_forward, sigmoid_backward, NULL};
static const activation RELU = {"relu", relu_forward, relu_backward, NULL};
static const activation GELU = {"gelu", gelu_forward, NULL, gelu_forward_slope};
static const activation EXP = {"exp", exp_forward, exp_backward, NULL};

/* ------------------------------------------------------------- plumbing */

/* Blocks of this many elements are the unit of work shared between threads. */
#define BLOCK 4096

static size_t block_count(size_t n) { return (n + BLOCK - 1) / BLOCK; }
static size_t block_len(size_t n, long b) {
    size_t start = (size_t)b * BLOCK;
    return n - start < BLOCK ? n - start : BLOCK;
}

/* Block b of the forward; slope is NULL unless the slope is kept. */
static void forward_block(const activation *f, size_t n, long b, const float *x, float *y,
                          float *slope) {
    size_t at = (size_t)b * BLOCK;
    if (slope) f->forward_slope(block_len(n, b), x + at, y + at, slope + at);
    else f->forward(block_len(n, b), x + at, y + at);
}

static void run_forward(at_ctx *ctx, const activation *f, size_t n, const float *x, float *y,
                        float *slope) {
    long blocks = (long)block_count(n);
    // a plain branch, not an if clause: a false if still builds a team per call
    if (ctx->threads > 1 && n > PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (long b = 0; b < blocks; b++) forward_block(f, n, b, x, y, slope);
        return;
    }
    for (long b = 0; b < blocks; b++) forward_block(f, n, b, x, y, slope);
}

/* Block b of the backward; slope as kept by the forward, or NULL. */
static void backward_block(const activation *f, size_t n, long b, const at_tensor *x,
                           const at_tensor *y, const float *slope) {
    size_t at = (size_t)b * BLOCK, len = block_len(n, b);
    if (slope) backward_from_slope(len, slope + at, y->grad + at, x->grad + at);
    else f->backward(len, x->data + at, y->data + at, y->grad + at, x->grad + at);
}

static at_status activation_backward(at_ctx *ctx, ati_node *node) {
    const activation *f = node->aux[0];
    const float *slope = node->aux[1]; // (n), or NULL
    at_tensor *x = node->in[0], *y = node->out;
    if (!x->grad) return AT_OK;
    size_t n = y->size;
    long blocks = (long)block_count(n);
    if (ctx->threads > 1 && n > PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (long b = 0; b < blocks; b++) backward_block(f, n, b, x, y, slope);
        return AT_OK;
    }
    for (long b = 0; b < blocks; b++) backward_block(f, n, b, x, y, slope);
    return AT_OK;
}

static at_status activate(at_ctx *ctx, at_tensor **out, at_tensor *x, const activation *f) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", f->name);
    if (!x) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x is NULL", f->name);
    if (!x->data) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: x has no data", f->name);
    AT_TRY(ati_check_shape(ctx, x->ndim, x->shape, f->name));
    int track = ati_tracking(ctx, 1, &x);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, x->ndim, x->shape, track)); // every element written
    float *slope = NULL; // (size): f'(x), kept for the backward where f has forward_slope
    if (track && f->forward_slope)
        AT_TRY(ati_scratch(ctx, (void **)&slope, y->size * sizeof(float)));
    run_forward(ctx, f, y->size, x->data, y->data, slope);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, f->name, activation_backward, y, 1, &x));
        node->aux[0] = f;
        node->aux[1] = slope;
    }
    *out = y;
    return AT_OK;
}

at_status at_tanh(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return activate(ctx, out, x, &TANH);
}
at_status at_sigmoid(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return activate(ctx, out, x, &SIGMOID);
}
at_status at_relu(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return activate(ctx, out, x, &RELU);
}
at_status at_gelu(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return activate(ctx, out, x, &GELU);
}
at_status at_exp(at_ctx *ctx, at_tensor **out, at_tensor *x) {
    return activate(ctx, out, x, &EXP);
}
