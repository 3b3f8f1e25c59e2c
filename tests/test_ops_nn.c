/*
 * test_ops_nn.c - softmax, log-softmax, layer norm, dropout, gather_rows
 * and cross-entropy.
 *
 * Each op is checked three ways: its forward against a naive reference in
 * double precision, its backward against finite differences (gc_check),
 * and its error paths (bad arguments give the right status and a message,
 * never a crash). Masks get random blocks of zeros and always some fully
 * masked rows, which must come out as exact zeros with zero gradient.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

/* A size in [1, hi], size 1 coming up often. */
static int random_dim(at_rng *rng, int hi) {
    return at_rng_below(rng, 3) == 0 ? 1 : 1 + (int)at_rng_below(rng, (uint32_t)hi);
}

/* M rows of n: ones, with random blocks of zeros; row `dead` all zeros
 * (pass -1 for none). */
static uint8_t *random_mask(int M, int n, int dead, at_rng *rng) {
    uint8_t *mask = malloc((size_t)M * n);
    memset(mask, 1, (size_t)M * n);
    for (int m = 0; m < M; m++) {
        uint8_t *row = mask + (size_t)m * n;
        if (m == dead || at_rng_below(rng, 6) == 0) {
            memset(row, 0, (size_t)n);
        } else if (at_rng_below(rng, 2) == 0) {
            int start = (int)at_rng_below(rng, (uint32_t)n);
            int len = 1 + (int)at_rng_below(rng, (uint32_t)(n - start));
            memset(row + start, 0, (size_t)len);
        }
    }
    return mask;
}

static int row_is_dead(const uint8_t *keep, int n) {
    for (int j = 0; j < n; j++)
        if (keep[j]) return 0;
    return 1;
}

/* ---------------------------------------------------- softmax: reference */

/* Double-precision softmax or log-softmax of one row over kept positions. */
static void ref_softmax_row(float *y, const float *x, const uint8_t *keep, int n, int log_form) {
    double max = -INFINITY, sum = 0.0;
    for (int j = 0; j < n; j++)
        if ((!keep || keep[j]) && x[j] > max) max = x[j];
    for (int j = 0; j < n; j++) y[j] = 0.0f;
    if (max == -INFINITY) return;
    for (int j = 0; j < n; j++)
        if (!keep || keep[j]) sum += exp(x[j] - max);
    for (int j = 0; j < n; j++)
        if (!keep || keep[j])
            y[j] = log_form ? (float)(x[j] - max - log(sum)) : (float)(exp(x[j] - max) / sum);
}

typedef struct softmax_case {
    int B, Tq, Tk;
    const uint8_t *mask; /* NULL, (B, Tk) or (B*Tq, Tk) */
    int mask_rows;
    int log_form;
} softmax_case;

static at_status build_softmax(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const softmax_case *c = user;
    return c->log_form ? at_log_softmax(ctx, y, in[0], c->mask, c->mask_rows)
                       : at_softmax(ctx, y, in[0], c->mask, c->mask_rows);
}

/* Forward against the reference; dead rows exactly zero; backward from a
 * random dy is finite and exactly zero on dead rows. */
static int check_softmax_case(const softmax_case *c, const float *x, at_rng *rng) {
    const char *op = c->log_form ? "log_softmax" : "softmax";
    int shape[3] = {c->B, c->Tq, c->Tk};
    const int rows = c->B * c->Tq, n = c->Tk;
    const int rows_per_mask = c->mask ? rows / c->mask_rows : rows;
    at_ctx *ctx = test_new_ctx_with(1, 1);
    at_tensor *xt, *y;
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, shape, x));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, xt));
    CHECK_OK(ctx, build_softmax(ctx, &xt, (void *)c, &y));

    float *want = malloc((size_t)rows * n * sizeof(float));
    for (int r = 0; r < rows; r++) {
        const uint8_t *keep = c->mask ? c->mask + (size_t)(r / rows_per_mask) * n : NULL;
        ref_softmax_row(want + (size_t)r * n, x + (size_t)r * n, keep, n, c->log_form);
    }
    check_close(op, y->data, want, (size_t)rows * n, 2e-6, 2e-5);
    CHECK(test_all_finite(y->data, y->size), "%s: non-finite output", op);

    float *dy = test_random_floats(y->size, -1, 1, rng);
    CHECK_OK(ctx, at_backward_seeded(ctx, y, dy));
    CHECK(test_all_finite(xt->grad, xt->size), "%s: non-finite gradient", op);
    int dead_rows = 0, dead_exact = 1;
    for (int r = 0; c->mask && r < rows; r++) {
        const uint8_t *keep = c->mask + (size_t)(r / rows_per_mask) * n;
        for (int j = 0; j < n; j++) {
            size_t i = (size_t)r * n + j;
            if (!keep[j]) dead_exact &= y->data[i] == 0.0f && xt->grad[i] == 0.0f;
        }
        dead_rows += row_is_dead(keep, n);
    }
    CHECK(dead_exact, "%s: masked positions must give exactly 0 and zero gradient", op);
    free(dy);
    free(want);
    at_ctx_free(ctx);
    return dead_rows;
}

static void test_softmax(void) {
    at_rng rng;
    at_rng_seed(&rng, 11);
    int dead_rows = 0;
    for (int trial = 0; trial < 24; trial++) {
        softmax_case c;
        c.B = trial == 0 ? 1 : trial < 6 ? 2 + trial % 2 : random_dim(&rng, 3);
        c.Tq = trial == 0 ? 1 : trial < 6 ? 5 : random_dim(&rng, 4);
        c.Tk = trial == 0 ? 1 : trial < 6 ? 13 : random_dim(&rng, 6);
        c.log_form = trial % 2;
        int kind = (trial / 2) % 3; // 0 none, 1 padding (B, Tk), 2 full (B*Tq, Tk)
        c.mask_rows = kind == 1 ? c.B : c.B * c.Tq;
        uint8_t *mask = NULL;
        if (kind) {
            int dead = c.mask_rows > 1 ? (int)at_rng_below(&rng, (uint32_t)c.mask_rows) : -1;
            mask = random_mask(c.mask_rows, c.Tk, dead, &rng);
        }
        c.mask = mask;
        size_t size = (size_t)c.B * c.Tq * c.Tk;
        float *x = test_random_floats(size, -3, 3, &rng);
        dead_rows += check_softmax_case(&c, x, &rng);

        gc_input in = {"x", 3, {c.B, c.Tq, c.Tk, 1}, x};
        char name[96];
        snprintf(name, sizeof name, "%s (%d, %d, %d) mask %s",
                 c.log_form ? "log_softmax" : "softmax", c.B, c.Tq, c.Tk,
                 kind == 0 ? "none" : kind == 1 ? "padding" : "full");
        gc_options o = {.seed = 100u + (unsigned)trial};
        gc_check(name, 1, &in, NULL, build_softmax, &c, &o);
        free(x);
        free(mask);
    }
    CHECK(dead_rows >= 8, "too few fully masked rows were tested (%d)", dead_rows);
}

/* Big scores must not overflow; a row of equal -inf scores (nothing finite
 * kept) is treated as dead, not NaN. */
static void test_softmax_extremes(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int shape[2] = {3, 3};
    float x[9] = {1000, 999, -1000, -INFINITY, -INFINITY, -INFINITY, -INFINITY, 0, 1};
    at_tensor *xt, *y, *ly;
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 2, shape, x));
    CHECK_OK(ctx, at_softmax(ctx, &y, xt, NULL, 0));
    CHECK_OK(ctx, at_log_softmax(ctx, &ly, xt, NULL, 0));
    CHECK(test_all_finite(y->data, 9), "softmax of large scores must be finite");
    CHECK(fabsf(y->data[0] - 0.7310586f) < 1e-6f, "softmax(1000, 999): %g", (double)y->data[0]);
    CHECK(y->data[3] == 0 && y->data[4] == 0 && y->data[5] == 0, "an all -inf row is zeros");
    CHECK(ly->data[3] == 0 && ly->data[4] == 0 && ly->data[5] == 0, "an all -inf row is zeros");
    CHECK(fabsf(ly->data[1] + 1.3132616f) < 1e-5f, "log_softmax(999 | 1000, 999): %g",
          (double)ly->data[1]);
    CHECK(y->data[6] == 0.0f && ly->data[6] == -INFINITY, "-inf score gives p = 0, log p = -inf");
    at_ctx_free(ctx);
}

static void test_softmax_errors(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int shape[3] = {2, 3, 4};
    at_tensor *x, *y = NULL;
    CHECK_OK(ctx, at_tensor_new(ctx, &x, 3, shape));
    uint8_t mask[24];
    memset(mask, 1, sizeof mask);
    CHECK_STATUS(ctx, at_softmax(ctx, &y, x, mask, 0), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "mask_rows") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_log_softmax(ctx, &y, x, mask, -2), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_softmax(ctx, &y, x, mask, 4), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "does not divide") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_softmax(ctx, &y, NULL, NULL, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_softmax(ctx, NULL, x, NULL, 0), AT_ERR_ARGUMENT);
    CHECK(y == NULL, "output must stay untouched on failure");
    CHECK_OK(ctx, at_softmax(ctx, &y, x, mask, 3));
    CHECK_OK(ctx, at_softmax(ctx, &y, x, NULL, 0)); // mask_rows ignored without a mask
    at_ctx_free(ctx);
}

/* The mask is copied: backward must not read the caller's buffer, which
 * the caller may reuse right after the forward call. */
static void test_log_softmax_mask_lifetime(void) {
    at_rng rng;
    at_rng_seed(&rng, 5);
    int shape[2] = {4, 5};
    float *x = test_random_floats(20, -1, 1, &rng);
    uint8_t *mask = random_mask(4, 5, 2, &rng);
    float grads[2][20];
    for (int pass = 0; pass < 2; pass++) {
        at_ctx *ctx = test_new_ctx_with(1, 1);
        uint8_t *buffer = malloc(20);
        memcpy(buffer, mask, 20);
        at_tensor *xt, *y;
        CHECK_OK(ctx, at_tensor_from(ctx, &xt, 2, shape, x));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, xt));
        CHECK_OK(ctx, at_log_softmax(ctx, &y, xt, buffer, 4));
        if (pass == 1) memset(buffer, 0, 20); // the caller reuses its buffer
        float dy[20];
        for (int i = 0; i < 20; i++) dy[i] = (float)(i % 7) - 3.0f;
        CHECK_OK(ctx, at_backward_seeded(ctx, y, dy));
        memcpy(grads[pass], xt->grad, sizeof grads[pass]);
        free(buffer);
        at_ctx_free(ctx);
    }
    CHECK(memcmp(grads[0], grads[1], sizeof grads[0]) == 0,
          "log_softmax backward must use its own copy of the mask");
    free(x);
    free(mask);
}

/* Every row-parallel op, forward and backward, on a tensor big enough for
 * threads to start; the outputs and gradients go into result (6 * size). */
static void run_row_ops(int threads, const float *x, const uint8_t *mask, const int32_t *targets,
                        float *result) {
    enum { B = 8, T = 64, N = 96 };
    const size_t size = (size_t)B * T * N;
    int shape[3] = {B, T, N};
    at_ctx *ctx = test_new_ctx_with(1, threads);
    at_tensor *xt, *y;
    for (int op = 0; op < 3; op++) {
        at_ctx_reset(ctx);
        CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, shape, x));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, xt));
        if (op == 0) CHECK_OK(ctx, at_softmax(ctx, &y, xt, mask, B));
        if (op == 1) CHECK_OK(ctx, at_log_softmax(ctx, &y, xt, mask, B));
        if (op == 2) CHECK_OK(ctx, at_layer_norm(ctx, &y, xt, NULL, NULL, 1e-5f));
        CHECK_OK(ctx, at_backward_seeded(ctx, y, x)); // any fixed dy will do
        memcpy(result + (2 * op) * size, y->data, size * sizeof(float));
        memcpy(result + (2 * op + 1) * size, xt->grad, size * sizeof(float));
    }
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, shape, x));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, xt));
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, xt, targets, -100, 0.1f));
    CHECK_OK(ctx, at_backward(ctx, y));
    result[6 * size] = y->data[0];
    memcpy(result + 6 * size + 1, xt->grad, size * sizeof(float));
    at_ctx_free(ctx);
}

/* Threads over rows must not change a single bit. */
static void test_threads(void) {
    enum { B = 8, T = 64, N = 96 };
    const size_t size = (size_t)B * T * N, total = 7 * size + 1;
    at_rng rng;
    at_rng_seed(&rng, 9);
    float *x = test_random_floats(size, -4, 4, &rng);
    uint8_t *mask = random_mask(B, N, 3, &rng);
    int32_t *targets = malloc((size_t)B * T * sizeof(int32_t));
    for (int r = 0; r < B * T; r++)
        targets[r] = r % 5 == 0 ? -100 : (int32_t)at_rng_below(&rng, N);
    float *one = malloc(total * sizeof(float)), *two = malloc(total * sizeof(float));
    run_row_ops(1, x, mask, targets, one);
    run_row_ops(2, x, mask, targets, two);
    CHECK(memcmp(one, two, total * sizeof(float)) == 0, "results depend on the thread count");
    free(one);
    free(two);
    free(targets);
    free(mask);
    free(x);
}

/* ------------------------------------------------------------- layer norm */

static void ref_layer_norm(float *y, const float *x, const float *gamma, const float *beta,
                           size_t rows, int n, double eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double mean = 0, var = 0;
        for (int j = 0; j < n; j++) mean += xr[j];
        mean /= n;
        for (int j = 0; j < n; j++) var += (xr[j] - mean) * (xr[j] - mean);
        var /= n;
        for (int j = 0; j < n; j++)
            y[r * n + j] = (float)((xr[j] - mean) / sqrt(var + eps) * (gamma ? gamma[j] : 1.0) +
                                   (beta ? beta[j] : 0.0));
    }
}

typedef struct ln_case {
    int affine; /* 1: inputs x, gamma, beta; 0: x only */
    float eps;
} ln_case;

static at_status build_layer_norm(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const ln_case *c = user;
    return at_layer_norm(ctx, y, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL,
                         c->eps);
}

static void test_layer_norm(void) {
    at_rng rng;
    at_rng_seed(&rng, 21);
    for (int trial = 0; trial < 12; trial++) {
        int R1 = random_dim(&rng, 3), R2 = random_dim(&rng, 4);
        int n = trial == 0 ? 1 : trial == 1 ? 2 : random_dim(&rng, 9);
        ln_case c = {.affine = trial % 3 != 2, .eps = 1e-5f};
        size_t size = (size_t)R1 * R2 * n;
        float *x = test_random_floats(size, -2, 2, &rng);
        if (n == 2) // keep the two values of a row apart: a tiny variance is a kink
            for (size_t r = 0; r < size / 2; r++) x[2 * r + 1] = x[2 * r] + 1.0f;
        float *gamma = test_random_floats((size_t)n, 0.5f, 1.5f, &rng);
        float *beta = test_random_floats((size_t)n, -0.5f, 0.5f, &rng);

        at_ctx *ctx = test_new_ctx_with(1, 1);
        int shape[3] = {R1, R2, n}, pshape[1] = {n};
        at_tensor *xt, *gt = NULL, *bt = NULL, *y;
        CHECK_OK(ctx, at_tensor_from(ctx, &xt, 3, shape, x));
        if (c.affine) {
            CHECK_OK(ctx, at_tensor_from(ctx, &gt, 1, pshape, gamma));
            CHECK_OK(ctx, at_tensor_from(ctx, &bt, 1, pshape, beta));
        }
        CHECK_OK(ctx, at_layer_norm(ctx, &y, xt, gt, bt, c.eps));
        float *want = malloc(size * sizeof(float));
        ref_layer_norm(want, x, c.affine ? gamma : NULL, c.affine ? beta : NULL, size / n, n,
                       c.eps);
        check_close("layer_norm", y->data, want, size, 2e-5, 2e-5);
        at_ctx_free(ctx);

        gc_input in[3] = {{"x", 3, {R1, R2, n, 1}, x},
                          {"gamma", 1, {n, 1, 1, 1}, gamma},
                          {"beta", 1, {n, 1, 1, 1}, beta}};
        char name[80];
        snprintf(name, sizeof name, "layer_norm (%d, %d, %d)%s", R1, R2, n,
                 c.affine ? " gamma beta" : "");
        gc_options o = {.seed = 200u + (unsigned)trial, .step = 1e-3, .atol = 3e-3};
        gc_check(name, c.affine ? 3 : 1, in, NULL, build_layer_norm, &c, &o);
        free(want);
        free(x);
        free(gamma);
        free(beta);
    }
}

/* Backward adds to gradients that are already there, and only gamma gets
 * a gradient when only gamma asks for one. */
static void test_layer_norm_accumulates(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int shape[2] = {2, 3}, pshape[1] = {3};
    float x[6] = {1, 2, 4, -1, 0, 3}, g[3] = {1, 2, 3}, b[3] = {0, 0, 0};
    at_tensor *xt, *gt, *bt, *y, *y2;
    CHECK_OK(ctx, at_tensor_from(ctx, &xt, 2, shape, x));
    CHECK_OK(ctx, at_tensor_from(ctx, &gt, 1, pshape, g));
    CHECK_OK(ctx, at_tensor_from(ctx, &bt, 1, pshape, b));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, gt));
    CHECK_OK(ctx, at_layer_norm(ctx, &y, xt, gt, bt, 1e-5f));
    float dy[6] = {1, 1, 1, 1, 1, 1};
    for (int i = 0; i < 3; i++) gt->grad[i] = 10.0f;
    CHECK_OK(ctx, at_backward_seeded(ctx, y, dy));
    float xhat[6]; // dgamma[j] = sum over rows of dy * xhat = xhat[j] + xhat[3 + j]
    ref_layer_norm(xhat, x, NULL, NULL, 2, 3, 1e-5);
    float want[3];
    for (int j = 0; j < 3; j++) want[j] = 10.0f + xhat[j] + xhat[3 + j];
    check_close("layer_norm dgamma accumulates", gt->grad, want, 3, 1e-5, 1e-5);
    CHECK(xt->grad == NULL && bt->grad == NULL, "no gradient buffers for constants");
    int bad[1] = {4};
    at_tensor *wrong;
    CHECK_OK(ctx, at_tensor_new(ctx, &wrong, 1, bad));
    y2 = NULL;
    CHECK_STATUS(ctx, at_layer_norm(ctx, &y2, xt, wrong, NULL, 1e-5f), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "gamma") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_layer_norm(ctx, &y2, xt, NULL, wrong, 1e-5f), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_layer_norm(ctx, &y2, xt, NULL, NULL, -1.0f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_layer_norm(ctx, &y2, NULL, NULL, NULL, 1e-5f), AT_ERR_ARGUMENT);
    CHECK(y2 == NULL, "output must stay untouched on failure");
    at_ctx_free(ctx);
}

/* ---------------------------------------------------------------- dropout */

static at_status build_dropout(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    at_ctx_set_training(ctx, 1);
    return at_dropout(ctx, y, in[0], *(const float *)user);
}

static void test_dropout(void) {
    const size_t n = 100000;
    const float p = 0.3f;
    int shape[2] = {100, 1000};
    float *ones = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    at_tensor *x, *y;

    // not training: the identity, x itself, nothing recorded
    at_ctx *ctx = test_new_ctx_with(7, 1);
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 2, shape, ones));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_dropout(ctx, &y, x, p));
    CHECK(y == x && at_ctx_tape_length(ctx) == 0, "dropout off: identity");
    at_ctx_set_training(ctx, 1);
    CHECK_OK(ctx, at_dropout(ctx, &y, x, 0.0f));
    CHECK(y == x, "dropout p = 0: identity");

    // training: about p zeros, the rest 1 / (1 - p); element i is kept
    // exactly when the generator's i-th uniform draw is >= p
    at_rng before = *at_ctx_rng(ctx);
    CHECK_OK(ctx, at_dropout(ctx, &y, x, p));
    size_t first_wrong = n;
    for (size_t i = 0; i < n && first_wrong == n; i++)
        if ((at_rng_uniform(&before) >= p) != (y->data[i] != 0.0f)) first_wrong = i;
    CHECK(first_wrong == n, "dropout: element %zu is not kept as the %zu-th uniform draw says",
          first_wrong, first_wrong);
    CHECK(memcmp(&before, at_ctx_rng(ctx), sizeof before) == 0,
          "dropout: the generator must advance by one draw per element");
    size_t zeros = 0, scaled = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += y->data[i] == 0.0f;
        scaled += fabsf(y->data[i] - 1.0f / (1.0f - p)) < 1e-6f;
    }
    double rate = (double)zeros / n;
    CHECK(fabs(rate - p) < 0.01, "dropout rate %g, expected about %g", rate, (double)p);
    CHECK(zeros + scaled == n, "kept values must be scaled by 1/(1-p)");
    float *dy = test_random_floats(n, -1, 1, at_ctx_rng(ctx));
    CHECK_OK(ctx, at_backward_seeded(ctx, y, dy));
    int grad_ok = 1;
    for (size_t i = 0; i < n; i++)
        grad_ok &= fabsf(x->grad[i] - (y->data[i] == 0.0f ? 0.0f : dy[i] / (1.0f - p))) < 1e-6f;
    CHECK(grad_ok, "dropout gradient is dy * keep / (1 - p)");

    // the same seed, the same mask; another seed, another mask
    float *first = malloc(n * sizeof(float));
    for (int run = 0; run < 3; run++) {
        at_ctx *c2 = test_new_ctx_with(run < 2 ? 1234 : 99, run == 1 ? 2 : 1);
        at_ctx_set_training(c2, 1);
        CHECK_OK(c2, at_tensor_from(c2, &x, 2, shape, ones));
        CHECK_OK(c2, at_dropout(c2, &y, x, p));
        if (run == 0) memcpy(first, y->data, n * sizeof(float));
        int same = memcmp(first, y->data, n * sizeof(float)) == 0;
        if (run == 1) CHECK(same, "same seed (and 2 threads) must give the same mask");
        if (run == 2) CHECK(!same, "another seed should give another mask");
        at_ctx_free(c2);
    }

    // bad p
    y = NULL;
    CHECK_STATUS(ctx, at_dropout(ctx, &y, x, 1.0f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_dropout(ctx, &y, x, -0.1f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_dropout(ctx, &y, x, NAN), AT_ERR_ARGUMENT);
    at_ctx_set_training(ctx, 0);
    CHECK_STATUS(ctx, at_dropout(ctx, &y, x, 1.5f), AT_ERR_ARGUMENT); // even when off
    CHECK(y == NULL, "output must stay untouched on failure");
    at_ctx_free(ctx);

    // gradient check in training mode (gc reseeds the generator every run)
    at_rng rng;
    at_rng_seed(&rng, 31);
    float *values = test_random_floats(3 * 1 * 7, -1, 1, &rng);
    gc_input in = {"x", 3, {3, 1, 7, 1}, values};
    float pp = 0.4f;
    gc_options o = {.seed = 300};
    gc_check("dropout (3, 1, 7) p 0.4", 1, &in, NULL, build_dropout, &pp, &o);
    free(values);
    free(first);
    free(dy);
    free(ones);
}

/* ------------------------------------------------------------ gather rows */

typedef struct gather_case {
    const int32_t *ids;
    int ids_ndim;
    int ids_shape[3];
} gather_case;

static at_status build_gather(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const gather_case *c = user;
    return at_gather_rows(ctx, y, in[0], c->ids, c->ids_ndim, c->ids_shape);
}

static void test_gather(void) {
    at_rng rng;
    at_rng_seed(&rng, 41);
    for (int trial = 0; trial < 6; trial++) {
        int V = trial == 0 ? 1 : 1 + (int)at_rng_below(&rng, 5); // small V: repeated ids
        int D = random_dim(&rng, 6);
        gather_case c = {.ids_ndim = 1 + trial % 3};
        size_t count = 1;
        for (int d = 0; d < c.ids_ndim; d++) {
            c.ids_shape[d] = random_dim(&rng, 4);
            count *= (size_t)c.ids_shape[d];
        }
        int32_t *ids = malloc(count * sizeof(int32_t));
        for (size_t i = 0; i < count; i++) ids[i] = (int32_t)at_rng_below(&rng, (uint32_t)V);
        c.ids = ids;
        float *table = test_random_floats((size_t)V * D, -1, 1, &rng);

        at_ctx *ctx = test_new_ctx_with(1, 1);
        int tshape[2] = {V, D};
        at_tensor *tt, *y;
        CHECK_OK(ctx, at_tensor_from(ctx, &tt, 2, tshape, table));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, tt));
        CHECK_OK(ctx, build_gather(ctx, &tt, &c, &y));
        CHECK(y->ndim == c.ids_ndim + 1 && y->shape[c.ids_ndim] == D, "gather output shape");
        int same = 1;
        for (size_t i = 0; i < count; i++)
            same &= memcmp(y->data + i * D, table + (size_t)ids[i] * D, (size_t)D * 4) == 0;
        CHECK(same, "gather copies table rows");
        // backward with dy = 1 counts how often each row was used
        float *dy = malloc(y->size * sizeof(float));
        for (size_t i = 0; i < y->size; i++) dy[i] = 1.0f;
        CHECK_OK(ctx, at_backward_seeded(ctx, y, dy));
        int counts_ok = 1;
        for (int v = 0; v < V; v++) {
            int uses = 0;
            for (size_t i = 0; i < count; i++) uses += ids[i] == v;
            counts_ok &= tt->grad[(size_t)v * D] == (float)uses;
        }
        CHECK(counts_ok, "gather backward scatter-adds repeated ids");
        free(dy);
        at_ctx_free(ctx);

        gc_input in = {"table", 2, {V, D, 1, 1}, table};
        char name[64];
        snprintf(name, sizeof name, "gather_rows V %d D %d ids %dd", V, D, c.ids_ndim);
        gc_options o = {.seed = 400u + (unsigned)trial};
        gc_check(name, 1, &in, NULL, build_gather, &c, &o);
        free(table);
        free(ids);
    }
}

static void test_gather_errors(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int tshape[2] = {5, 3}, ids_shape[2] = {2, 3};
    at_tensor *table, *y = NULL;
    CHECK_OK(ctx, at_tensor_new(ctx, &table, 2, tshape));
    int32_t ids[6] = {0, 1, 4, 2, 5, 3};
    CHECK_STATUS(ctx, at_gather_rows(ctx, &y, table, ids, 2, ids_shape), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "id 5 at position 4") != NULL, "message: %s",
          at_ctx_error(ctx));
    ids[4] = -1;
    CHECK_STATUS(ctx, at_gather_rows(ctx, &y, table, ids, 2, ids_shape), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "id -1") != NULL, "message: %s", at_ctx_error(ctx));
    ids[4] = 0;
    CHECK_STATUS(ctx, at_gather_rows(ctx, &y, table, NULL, 2, ids_shape), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_gather_rows(ctx, &y, table, ids, 0, ids_shape), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_gather_rows(ctx, &y, table, ids, 4, ids_shape), AT_ERR_SHAPE);
    CHECK(y == NULL, "output must stay untouched on failure");
    CHECK_OK(ctx, at_gather_rows(ctx, &y, table, ids, 2, ids_shape));
    at_ctx_free(ctx);
}

/* ---------------------------------------------------------- cross-entropy */

static double ref_cross_entropy(const float *z, const int32_t *t, size_t rows, int C, int ignore,
                                double ls) {
    double total = 0;
    size_t kept = 0;
    for (size_t r = 0; r < rows; r++) {
        if (t[r] == ignore) continue;
        const float *zr = z + r * C;
        double max = -INFINITY, sum = 0;
        for (int j = 0; j < C; j++) max = fmax(max, zr[j]);
        for (int j = 0; j < C; j++) sum += exp(zr[j] - max);
        double lse = max + log(sum);
        for (int j = 0; j < C; j++) {
            double q = ls / C + (j == t[r] ? 1 - ls : 0);
            total -= q * (zr[j] - lse);
        }
        kept++;
    }
    return kept ? total / kept : 0.0;
}

typedef struct ce_case {
    const int32_t *targets;
    int ignore_index;
    float ls;
} ce_case;

static at_status build_ce(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const ce_case *c = user;
    return at_cross_entropy(ctx, y, in[0], c->targets, c->ignore_index, c->ls);
}

static void test_cross_entropy(void) {
    at_rng rng;
    at_rng_seed(&rng, 51);
    for (int trial = 0; trial < 12; trial++) {
        int B = random_dim(&rng, 3), T = random_dim(&rng, 4);
        int C = trial == 0 ? 1 : random_dim(&rng, 7);
        size_t rows = (size_t)B * T;
        ce_case c = {.ignore_index = trial % 4 == 3 ? 0 : -100,
                     .ls = trial % 2 ? 0.1f * (float)(1 + trial % 3) : 0.0f};
        int32_t *targets = malloc(rows * sizeof(int32_t));
        for (size_t r = 0; r < rows; r++)
            targets[r] = at_rng_below(&rng, 4) == 0 ? c.ignore_index
                                                     : (int32_t)at_rng_below(&rng, (uint32_t)C);
        if (trial == 5)
            for (size_t r = 0; r < rows; r++) targets[r] = c.ignore_index; // all ignored
        c.targets = targets;
        float *z = test_random_floats(rows * C, -3, 3, &rng);

        at_ctx *ctx = test_new_ctx_with(1, 1);
        int shape[3] = {B, T, C};
        at_tensor *zt, *y;
        CHECK_OK(ctx, at_tensor_from(ctx, &zt, 3, shape, z));
        CHECK_OK(ctx, at_tensor_require_grad(ctx, zt));
        CHECK_OK(ctx, build_ce(ctx, &zt, &c, &y));
        float want = (float)ref_cross_entropy(z, targets, rows, C, c.ignore_index, c.ls);
        check_close("cross_entropy", y->data, &want, 1, 1e-5, 1e-5);
        CHECK_OK(ctx, at_backward(ctx, y));
        CHECK(test_all_finite(zt->grad, zt->size), "cross_entropy: non-finite gradient");
        int ignored_zero = 1;
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; targets[r] == c.ignore_index && j < C; j++)
                ignored_zero &= zt->grad[r * C + j] == 0.0f;
        CHECK(ignored_zero, "ignored rows get zero gradient");
        if (trial == 5) CHECK(y->data[0] == 0.0f, "all rows ignored: loss 0");
        at_ctx_free(ctx);

        gc_input in = {"logits", 3, {B, T, C, 1}, z};
        char name[80];
        snprintf(name, sizeof name, "cross_entropy (%d, %d, %d) ls %.1f ignore %d", B, T, C,
                 (double)c.ls, c.ignore_index);
        gc_options o = {.seed = 500u + (unsigned)trial};
        gc_check(name, 1, &in, NULL, build_ce, &c, &o);
        free(z);
        free(targets);
    }
}

/* Two rows by hand, as PyTorch gives them:
 * F.cross_entropy([[1,2,3],[1,0,-1]], [2,0], label_smoothing=0.3). */
static void test_cross_entropy_known(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int shape[2] = {2, 3};
    float z[6] = {1, 2, 3, 1, 0, -1};
    int32_t t[2] = {2, 0};
    at_tensor *zt, *y;
    CHECK_OK(ctx, at_tensor_from(ctx, &zt, 2, shape, z));
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f));
    CHECK(fabsf(y->data[0] - 0.40760596f) < 1e-6f, "plain: %.8g", (double)y->data[0]);
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.3f));
    double want = ref_cross_entropy(z, t, 2, 3, -100, 0.3);
    CHECK(fabs(y->data[0] - want) < 1e-6 && fabs(want - 0.70760596) < 1e-6,
          "smoothed: %.8g (reference %.8g)", (double)y->data[0], want);
    at_ctx_free(ctx);
}

static void test_cross_entropy_errors(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    int shape[2] = {3, 4};
    float z[12] = {0};
    int32_t t[3] = {1, -100, 3};
    at_tensor *zt, *y = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &zt, 2, shape, z));
    t[2] = 4;
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "target 4 at row 2") != NULL, "message: %s",
          at_ctx_error(ctx));
    t[2] = -1;
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f), AT_ERR_ARGUMENT);
    t[2] = 3;
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 1.0f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, -0.1f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, NAN), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, NULL, -100, 0.0f), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, NULL, t, -100, 0.0f), AT_ERR_ARGUMENT);
    zt->data[9] = NAN; // row 2
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f), AT_ERR_NUMERIC);
    CHECK(strstr(at_ctx_error(ctx), "row 2") != NULL, "message: %s", at_ctx_error(ctx));
    zt->data[9] = INFINITY;
    CHECK_STATUS(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f), AT_ERR_NUMERIC);
    CHECK(y == NULL, "output must stay untouched on failure");
    zt->data[9] = 0;
    zt->data[5] = NAN; // row 1 is ignored: its logits do not matter
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f));
    CHECK(y && isfinite(y->data[0]), "a NaN in an ignored row must not leak");
    zt->data[5] = 0;
    zt->data[0] = -INFINITY; // p = 0 for a non-target class is fine without smoothing
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, zt, t, -100, 0.0f));
    CHECK(isfinite(y->data[0]), "-inf logit of a non-target class: finite loss");
    at_ctx_free(ctx);
}

/* With gradients off nothing is recorded and no gradient buffer appears. */
static void test_inference_mode(void) {
    at_ctx *ctx = test_new_ctx_with(1, 1);
    at_ctx_set_grad(ctx, 0);
    int shape[2] = {2, 3}, tshape[2] = {4, 3}, ids_shape[1] = {2};
    float z[6] = {1, 2, 3, 4, 5, 6};
    int32_t t[2] = {0, 2};
    at_tensor *x, *table, *y;
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 2, shape, z));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_tensor_new(ctx, &table, 2, tshape));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, table));
    CHECK_OK(ctx, at_softmax(ctx, &y, x, NULL, 0));
    CHECK(y->grad == NULL, "inference: no gradient buffer");
    CHECK_OK(ctx, at_log_softmax(ctx, &y, x, NULL, 0));
    CHECK_OK(ctx, at_layer_norm(ctx, &y, x, NULL, NULL, 1e-5f));
    CHECK_OK(ctx, at_cross_entropy(ctx, &y, x, t, -1, 0.1f));
    CHECK_OK(ctx, at_gather_rows(ctx, &y, table, t, 1, ids_shape));
    at_ctx_set_training(ctx, 1);
    CHECK_OK(ctx, at_dropout(ctx, &y, x, 0.5f));
    CHECK(at_ctx_tape_length(ctx) == 0, "inference: %zu tape entries", at_ctx_tape_length(ctx));
    at_ctx_free(ctx);
}

int main(void) {
    test_softmax();
    test_softmax_extremes();
    test_softmax_errors();
    test_log_softmax_mask_lifetime();
    test_threads();
    test_layer_norm();
    test_layer_norm_accumulates();
    test_dropout();
    test_gather();
    test_gather_errors();
    test_cross_entropy();
    test_cross_entropy_known();
    test_cross_entropy_errors();
    test_inference_mode();
    return test_finish("ops_nn");
}
