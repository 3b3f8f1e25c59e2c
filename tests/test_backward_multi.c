/*
 * test_backward_multi.c - backward from several outputs at once
 * (at_backward_multi) and at_stack, the op that makes several tensors one.
 *
 * at_stack: values against a loop written out here, for every axis of
 * results of 2 to 4 dimensions (negative axes too); gradients by finite
 * differences (gc_check), also for more inputs than a tape node holds;
 * every bad call refused with a message.
 *
 * at_backward_multi: its gradients equal the sum of separate
 * at_backward_seeded runs, each from a fresh tape, for outputs that share
 * a subgraph, depend on each other, come from a parameter set, and for one
 * output given twice; and a refused call changes no gradient.
 */
#include "testutil.h"

#include "internal.h" /* ati_shape_size */

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- stack */

typedef struct stack_case {
    int n, axis;
} stack_case;

static at_status build_stack(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const stack_case *c = user;
    return at_stack(ctx, y, c->n, in, c->axis);
}

/* out[.., i, ..] = xs[i] with i at position axis (0 <= axis <= ndim). */
static float naive_stack_at(const float *const *xs, int ndim, const int *shape, int axis,
                            const int *index /* ndim + 1 */) {
    size_t flat = 0;
    for (int d = 0, from = 0; d <= ndim; d++) {
        if (d == axis) continue;
        flat = flat * (size_t)shape[from++] + (size_t)index[d];
    }
    return xs[index[axis]][flat];
}

static void test_stack_values(void) {
    at_ctx *ctx = test_new_ctx();
    at_rng rng;
    at_rng_seed(&rng, 11);
    for (int ndim = 1; ndim <= 3; ndim++) {
        int shape[3] = {2, 3, 4};
        size_t size = ati_shape_size(ndim, shape);
        enum { N = 3 };
        float *data[N];
        at_tensor *xs[N];
        for (int i = 0; i < N; i++) {
            data[i] = test_random_floats(size, -1, 1, &rng);
            CHECK_OK(ctx, at_tensor_from(ctx, &xs[i], ndim, shape, data[i]));
        }
        for (int axis = -(ndim + 1); axis <= ndim; axis++) {
            at_tensor *y = NULL;
            CHECK_OK(ctx, at_stack(ctx, &y, N, xs, axis));
            if (!y) continue;
            int ax = axis < 0 ? axis + ndim + 1 : axis;
            int want_shape[4];
            for (int d = 0, from = 0; d <= ndim; d++) want_shape[d] = d == ax ? N : shape[from++];
            int shape_ok = y->ndim == ndim + 1;
            for (int d = 0; shape_ok && d <= ndim; d++) shape_ok = y->shape[d] == want_shape[d];
            CHECK(shape_ok, "stack of %d-D along %d: wrong result shape", ndim, axis);
            if (!shape_ok) continue;
            float *want = malloc(y->size * sizeof *want);
            for (size_t k = 0; k < y->size; k++) {
                int index[4];
                size_t rest = k;
                for (int d = ndim; d >= 0; d--) {
                    index[d] = (int)(rest % (size_t)want_shape[d]);
                    rest /= (size_t)want_shape[d];
                }
                want[k] = naive_stack_at((const float *const *)data, ndim, shape, ax, index);
            }
            char name[64];
            snprintf(name, sizeof name, "stack %d-D along %d", ndim, axis);
            check_close(name, y->data, want, y->size, 0, 0);
            free(want);
        }
        for (int i = 0; i < N; i++) free(data[i]);
        at_ctx_reset(ctx);
    }
    at_ctx_free(ctx);
}

static gc_input make_input(const char *name, int ndim, const int *shape, at_rng *rng) {
    gc_input in = {.name = name, .ndim = ndim};
    memcpy(in.shape, shape, (size_t)ndim * sizeof *shape);
    in.values = test_random_floats(ati_shape_size(ndim, shape), -1, 1, rng);
    return in;
}

static void test_stack_gradients(void) {
    at_rng rng;
    at_rng_seed(&rng, 12);
    static const char *const names[3] = {"x0", "x1", "x2"};
    int shape[3] = {2, 3, 2};
    for (int ndim = 1; ndim <= 3; ndim++)
        for (int n = 1; n <= 3; n++) {
            stack_case c = {.n = n, .axis = (int)at_rng_below(&rng, (uint32_t)ndim + 1)};
            if (at_rng_below(&rng, 2)) c.axis -= ndim + 1;
            gc_input in[3];
            for (int i = 0; i < n; i++) in[i] = make_input(names[i], ndim, shape, &rng);
            char name[64];
            snprintf(name, sizeof name, "stack of %d %d-D along %d", n, ndim, c.axis);
            gc_check(name, n, in, NULL, build_stack, &c, NULL);
            for (int i = 0; i < n; i++) free(in[i].values);
        }
}

/* 11 inputs, more than a tape node's AT_NODE_MAX_IN: the gradient of each
 * of 3 tensors used several times sums its slices. */
static at_status build_stack_many(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    (void)user;
    at_tensor *xs[11];
    for (int i = 0; i < 11; i++) xs[i] = in[(i * 2) % 3];
    return at_stack(ctx, y, 11, xs, 1);
}

static void test_stack_many(void) {
    at_rng rng;
    at_rng_seed(&rng, 13);
    int shape[2] = {2, 3};
    gc_input in[3] = {make_input("x0", 2, shape, &rng), make_input("x1", 2, shape, &rng),
                      make_input("x2", 2, shape, &rng)};
    gc_check("stack of 11", 3, in, NULL, build_stack_many, NULL, NULL);
    for (int i = 0; i < 3; i++) free(in[i].values);
}

static void test_stack_errors(void) {
    at_ctx *ctx = test_new_ctx();
    float zeros[24] = {0};
    int s23[2] = {2, 3}, s32[2] = {3, 2}, s4[4] = {1, 2, 3, 4};
    at_tensor *a, *b, *c, *big, *y = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &a, 2, s23, zeros));
    CHECK_OK(ctx, at_tensor_from(ctx, &b, 2, s32, zeros));
    CHECK_OK(ctx, at_tensor_from(ctx, &c, 1, s23, zeros));
    CHECK_OK(ctx, at_tensor_from(ctx, &big, 4, s4, zeros));
    at_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *aa[2] = {a, a}, *an[2] = {a, NULL};
    CHECK_STATUS(ctx, at_stack(ctx, &y, 2, ab, 0), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "xs[1] (3, 2) differs from xs[0] (2, 3)"), "message: %s",
          at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_stack(ctx, &y, 2, ac, 0), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_stack(ctx, &y, 1, &big, 0), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "would have 5"), "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_stack(ctx, &y, 2, aa, 3), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_stack(ctx, &y, 2, aa, -4), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_stack(ctx, &y, 0, aa, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_stack(ctx, &y, 2, an, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_stack(ctx, NULL, 2, aa, 0), AT_ERR_ARGUMENT);
    CHECK(y == NULL, "a refused stack wrote its output");
    CHECK_OK(ctx, at_stack(ctx, &y, 2, aa, -1));
    CHECK(y && y->ndim == 3 && y->shape[2] == 2, "stack along -1 of (2, 3) is (2, 3, 2)");
    at_ctx_free(ctx);
}

/* ---------------------------------------------------------- backward_multi */

/* The outputs of one graph over a leaf x (2, 3) and a parameter W (3, 3):
 *   h  = x W                 (2, 3), shared
 *   y0 = tanh(h)             (2, 3)
 *   y1 = sigmoid(h) * y0     (2, 3), depends on y0
 *   y2 = sum(h * h)          (1)
 *   y3 = stack(y0, x)        (2, 2, 3)
 */
enum { OUTPUTS = 4 };

static void build_graph(at_ctx *ctx, at_params *params, const float *x_values, at_tensor **x,
                        at_tensor *ys[OUTPUTS]) {
    int shape[2] = {2, 3};
    at_tensor *h, *s, *hh;
    CHECK_OK(ctx, at_tensor_from(ctx, x, 2, shape, x_values));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, *x));
    CHECK_OK(ctx, at_matmul(ctx, &h, *x, at_params_find(params, "W"), 0, 0));
    CHECK_OK(ctx, at_tanh(ctx, &ys[0], h));
    CHECK_OK(ctx, at_sigmoid(ctx, &s, h));
    CHECK_OK(ctx, at_mul(ctx, &ys[1], s, ys[0]));
    CHECK_OK(ctx, at_mul(ctx, &hh, h, h));
    CHECK_OK(ctx, at_sum(ctx, &ys[2], hh));
    at_tensor *pair[2] = {ys[0], *x};
    CHECK_OK(ctx, at_stack(ctx, &ys[3], 2, pair, 0));
}

typedef struct grads {
    float x[6], W[9];
} grads;

/* Run the graph and backward from the outputs listed in which[0..k) with
 * the given gradients (at_backward_multi if multi, else one
 * at_backward_seeded from a fresh tape per output, summed). */
static void run(at_params *params, const float *x_values, const float *const dys[OUTPUTS],
                const int *which, int k, int multi, grads *out) {
    at_ctx *ctx = test_new_ctx();
    memset(out, 0, sizeof *out);
    at_params_zero_grad(params);
    at_tensor *W = at_params_find(params, "W");
    for (int round = 0; round < (multi ? 1 : k); round++) {
        at_tensor *x, *ys[OUTPUTS];
        build_graph(ctx, params, x_values, &x, ys);
        if (multi) {
            at_tensor *chosen[OUTPUTS + 1];
            const float *seeds[OUTPUTS + 1];
            for (int i = 0; i < k; i++) chosen[i] = ys[which[i]], seeds[i] = dys[which[i]];
            CHECK_OK(ctx, at_backward_multi(ctx, k, chosen, seeds));
        } else {
            CHECK_OK(ctx, at_backward_seeded(ctx, ys[which[round]], dys[which[round]]));
        }
        for (int i = 0; i < 6; i++) out->x[i] += x->grad[i];
        at_ctx_reset(ctx);
    }
    memcpy(out->W, W->grad, sizeof out->W); /* accumulated over the rounds */
    at_ctx_free(ctx);
}

static void test_multi_equals_sum(void) {
    at_rng rng;
    at_rng_seed(&rng, 21);
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    at_tensor *W;
    int w_shape[2] = {3, 3};
    CHECK_OK(ctx, at_params_create(ctx, &params));
    CHECK_OK(ctx, at_params_add(ctx, params, "W", 2, w_shape, &W));
    fill_uniform(W->data, 9, -1, 1, &rng);
    float x_values[6];
    fill_uniform(x_values, 6, -1, 1, &rng);
    const size_t sizes[OUTPUTS] = {6, 6, 1, 12};
    float *seeds[OUTPUTS];
    for (int i = 0; i < OUTPUTS; i++) seeds[i] = test_random_floats(sizes[i], -1, 1, &rng);
    const float *const *dys = (const float *const *)seeds;

    static const struct {
        const char *name;
        int k, which[5];
    } sets[] = {
        {"all four outputs", 4, {0, 1, 2, 3}},
        {"y1 and y0 (y1 depends on y0)", 2, {1, 0}},
        {"y2 alone", 1, {2}},
        {"y3 and y2", 2, {3, 2}},
        {"y0 given twice", 2, {0, 0}},
    };
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
        grads multi, separate;
        run(params, x_values, dys, sets[s].which, sets[s].k, 1, &multi);
        run(params, x_values, dys, sets[s].which, sets[s].k, 0, &separate);
        char name[96];
        snprintf(name, sizeof name, "%s: dL/dx", sets[s].name);
        check_close(name, multi.x, separate.x, 6, 1e-6, 1e-5);
        snprintf(name, sizeof name, "%s: dL/dW", sets[s].name);
        check_close(name, multi.W, separate.W, 9, 1e-6, 1e-5);
        CHECK(!test_all_zero(multi.x, 6), "%s: some gradient flows", sets[s].name);
    }
    for (int i = 0; i < OUTPUTS; i++) free(seeds[i]);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* A refused call seeds nothing: the first output's gradient stays zero. */
static void test_multi_errors(void) {
    at_ctx *ctx = test_new_ctx();
    int shape[1] = {3};
    float v[3] = {0.1f, 0.2f, 0.3f}, dy[3] = {1, 1, 1};
    at_tensor *x, *y, *constant;
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 1, shape, v));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_tanh(ctx, &y, x));
    CHECK_OK(ctx, at_tensor_from(ctx, &constant, 1, shape, v));
    at_tensor *ys[2] = {y, constant}, *with_null[2] = {y, NULL};
    const float *dys[2] = {dy, dy}, *null_dy[2] = {dy, NULL};
    CHECK_STATUS(ctx, at_backward_multi(ctx, 2, ys, dys), AT_ERR_STATE);
    CHECK(strstr(at_ctx_error(ctx), "output 1 does not depend"), "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_backward_multi(ctx, 2, with_null, dys), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_backward_multi(ctx, 2, ys, null_dy), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_backward_multi(ctx, 0, ys, dys), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_backward_multi(ctx, 1, NULL, dys), AT_ERR_ARGUMENT);
    CHECK(test_all_zero(y->grad, 3) && test_all_zero(x->grad, 3),
          "a refused backward_multi changed a gradient");
    CHECK_OK(ctx, at_backward_multi(ctx, 1, ys, dys));
    CHECK(!test_all_zero(x->grad, 3), "then a good call reaches x");
    at_ctx_free(ctx);
}

int main(void) {
    test_stack_values();
    test_stack_gradients();
    test_stack_many();
    test_stack_errors();
    test_multi_equals_sum();
    test_multi_errors();
    return test_finish("backward_multi");
}
