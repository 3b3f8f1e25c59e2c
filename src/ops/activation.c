/*
 * activation.c - elementwise nonlinearities: tanh, sigmoid, relu, gelu, exp.
 *
 * Each activation is a pair of loops over the n elements of x:
 *
 *     forward   y[i] = f(x[i])
 *     backward  dx[i] += f'(x[i]) * dy[i]
 *
 * written so f' uses whichever of x[i] or y[i] is cheaper (tanh, sigmoid
 * and exp reuse y; relu and gelu need x). One shared function validates,
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

typedef struct activation {
    const char *name;
    forward_fn forward;
    backward_fn backward;
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
static void gelu_backward(size_t n, const float *x, const float *y, const float *dy,
                          float *dx) {
    (void)y;
    for (size_t i = 0; i < n; i++) {
        float pdf, cdf = ati_fast_normal_cdf(x[i], &pdf);
        // forward: y[i] = x[i] * Phi(x[i])
        dx[i] += (cdf + x[i] * pdf) * dy[i];
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

static const activation TANH = {"tanh", tanh_forward, tanh_backward};
static const activation SIGMOID = {"sigmoid", sigmoid_forward, sigmoid_backward};
static const activation RELU = {"relu", relu_forward, relu_backward};
static const activation GELU = {"gelu", gelu_forward, gelu_backward};
static const activation EXP = {"exp", exp_forward, exp_backward};

/* ------------------------------------------------------------- plumbing */

/* Blocks of this many elements are the unit of work shared between threads. */
#define BLOCK 4096

static size_t block_count(size_t n) { return (n + BLOCK - 1) / BLOCK; }
static size_t block_len(size_t n, long b) {
    size_t start = (size_t)b * BLOCK;
    return n - start < BLOCK ? n - start : BLOCK;
}

static void run_forward(at_ctx *ctx, const activation *f, size_t n, const float *x, float *y) {
    long blocks = (long)block_count(n);
    // a plain branch, not an if clause: a false if still builds a team per call
    if (ctx->threads > 1 && n > PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (long b = 0; b < blocks; b++) {
            size_t at = (size_t)b * BLOCK;
            f->forward(block_len(n, b), x + at, y + at);
        }
        return;
    }
    for (long b = 0; b < blocks; b++) {
        size_t at = (size_t)b * BLOCK;
        f->forward(block_len(n, b), x + at, y + at);
    }
}

static at_status activation_backward(at_ctx *ctx, ati_node *node) {
    const activation *f = node->aux[0];
    at_tensor *x = node->in[0], *y = node->out;
    if (!x->grad) return AT_OK;
    size_t n = y->size;
    long blocks = (long)block_count(n);
    if (ctx->threads > 1 && n > PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (long b = 0; b < blocks; b++) {
            size_t at = (size_t)b * BLOCK;
            f->backward(block_len(n, b), x->data + at, y->data + at, y->grad + at, x->grad + at);
        }
        return AT_OK;
    }
    for (long b = 0; b < blocks; b++) {
        size_t at = (size_t)b * BLOCK;
        f->backward(block_len(n, b), x->data + at, y->data + at, y->grad + at, x->grad + at);
    }
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
    run_forward(ctx, f, y->size, x->data, y->data);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, f->name, activation_backward, y, 1, &x));
        node->aux[0] = f;
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
