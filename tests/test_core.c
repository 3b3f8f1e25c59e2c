/*
 * test_core.c - the context, arena, tape, generator and parameter set.
 */
#include "internal.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rng(void) {
    at_rng a, b;
    at_rng_seed(&a, 42);
    at_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= at_rng_u32(&a) == at_rng_u32(&b);
    CHECK(same, "same seed must give the same stream");
    at_rng_seed(&b, 43);
    CHECK(at_rng_u32(&a) != at_rng_u32(&b), "different seeds should differ");
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        float x = at_rng_normal(&a);
        sum += x;
        sq += (double)x * x;
    }
    CHECK(fabs(sum / 1e5) < 0.02 && fabs(sq / 1e5 - 1) < 0.03, "normal: mean %g, var %g",
          sum / 1e5, sq / 1e5);
    int below_ok = 1;
    for (int i = 0; i < 10000; i++) below_ok &= at_rng_below(&a, 7) < 7;
    CHECK(below_ok, "at_rng_below out of range");
    float u_min = 1, u_max = 0;
    for (int i = 0; i < 100000; i++) {
        float u = at_rng_uniform(&a);
        u_min = fminf(u_min, u);
        u_max = fmaxf(u_max, u);
    }
    CHECK(u_min >= 0 && u_max < 1, "uniform outside [0,1): %g %g", u_min, u_max);
}

static void test_arena_reuse(void) {
    at_ctx *ctx;
    at_ctx_options o = {.arena_block_bytes = 4096};
    CHECK_OK(NULL, at_ctx_create(&ctx, &o));
    int shape[2] = {100, 100};
    at_tensor *t;
    for (int i = 0; i < 10; i++) CHECK_OK(ctx, at_tensor_new(ctx, &t, 2, shape));
    size_t used_first = at_ctx_arena_used(ctx);
    at_ctx_reset(ctx);
    size_t capacity = at_ctx_arena_capacity(ctx);
    CHECK(ctx->arena.first && !ctx->arena.first->next, "reset should merge into one block");
    for (int i = 0; i < 10; i++) CHECK_OK(ctx, at_tensor_new(ctx, &t, 2, shape));
    CHECK(at_ctx_arena_capacity(ctx) == capacity,
          "second step of the same shape must not grow the arena (%zu -> %zu)", capacity,
          at_ctx_arena_capacity(ctx));
    CHECK(at_ctx_arena_used(ctx) == used_first, "same work, same arena use");
    int aligned = ((uintptr_t)t->data % 64) == 0;
    CHECK(aligned, "tensor data must be 64-byte aligned");
    at_ctx_free(ctx);
}

static void test_errors(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_tensor *t = NULL;
    int bad[2] = {3, 0};
    CHECK_STATUS(ctx, at_tensor_new(ctx, &t, 2, bad), AT_ERR_SHAPE);
    CHECK(strstr(at_ctx_error(ctx), "dimension 1") != NULL, "message should name the dimension: %s",
          at_ctx_error(ctx));
    int five[5] = {1, 1, 1, 1, 1};
    CHECK_STATUS(ctx, at_tensor_new(ctx, &t, 5, five), AT_ERR_SHAPE);
    int ok_shape[1] = {1};
    CHECK_OK(ctx, at_tensor_new(ctx, &t, 1, ok_shape));
    CHECK_STATUS(ctx, at_backward(ctx, t), AT_ERR_STATE);
    CHECK_STATUS(ctx, at_backward(ctx, NULL), AT_ERR_ARGUMENT);
    float values[3] = {1, NAN, 2};
    CHECK_STATUS(ctx, at_check_finite(ctx, values, 3, "x"), AT_ERR_NUMERIC);
    CHECK(strstr(at_ctx_error(ctx), "element 1 is NaN") != NULL, "message: %s", at_ctx_error(ctx));
    /* past the first block of the scan, the first bad element is named; the
     * largest finite float and denormals are fine */
    static float many[10000];
    many[0] = FLT_MAX, many[1] = -FLT_MAX, many[2] = 1e-45f;
    CHECK_OK(ctx, at_check_finite(ctx, many, 10000, "many"));
    many[9999] = NAN, many[5001] = -INFINITY;
    CHECK_STATUS(ctx, at_check_finite(ctx, many, 10000, "many"), AT_ERR_NUMERIC);
    CHECK(strstr(at_ctx_error(ctx), "element 5001 is infinite") != NULL, "message: %s",
          at_ctx_error(ctx));
    CHECK_OK(ctx, at_check_finite(ctx, many, 5001, "many"));
    /* A caller may wrap the context's own message in a new one. */
    at_ctx_fail(ctx, AT_ERR_FORMAT, "inner problem");
    at_ctx_fail(ctx, AT_ERR_FORMAT, "file.tsv:3: %s", at_ctx_error(ctx));
    CHECK(strcmp(at_ctx_error(ctx), "file.tsv:3: inner problem") == 0, "wrapped message: %s",
          at_ctx_error(ctx));
    for (int s = AT_OK; s <= AT_ERR_STATE; s++)
        CHECK(strlen(at_status_name((at_status)s)) > 0, "status %d has no name", s);
    at_ctx_free(ctx);
}

static void test_params(void) {
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    int shape[2] = {3, 4};
    at_tensor *w;
    CHECK_OK(ctx, at_params_add(ctx, params, "layer.weight", 2, shape, &w));
    CHECK_STATUS(ctx, at_params_add(ctx, params, "layer.weight", 2, shape, NULL), AT_ERR_ARGUMENT);
    CHECK(at_params_find(params, "layer.weight") == w, "find by name");
    CHECK(at_params_find(params, "nope") == NULL, "find a missing name");
    CHECK(at_params_numel(params) == 12, "numel");
    w->grad[5] = 3;
    at_params_zero_grad(params);
    CHECK(w->grad[5] == 0, "zero_grad");
    // every parameter's data and gradient start on a 64-byte line, whatever
    // the sizes before it (a vector load of a weight row must not straddle
    // two lines), and both start at zero
    int odd_shapes[][2] = {{1, 5}, {7, 3}, {1024, 256}, {1, 1}};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "odd.%d", i);
        at_tensor *t;
        CHECK_OK(ctx, at_params_add(ctx, params, name, 2, odd_shapes[i], &t));
        CHECK((uintptr_t)t->data % 64 == 0, "%s: data at %p is not 64-byte aligned", name,
              (void *)t->data);
        CHECK((uintptr_t)t->grad % 64 == 0, "%s: grad at %p is not 64-byte aligned", name,
              (void *)t->grad);
        CHECK(t->data[t->size - 1] == 0 && t->grad[t->size - 1] == 0, "%s starts at zero", name);
    }
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ati_transpose against the plain double loop, on shapes with whole 16 x 16
 * squares and ragged edges, into a wider destination whose padding must
 * stay untouched. */
static void test_transpose(void) {
    static const int shapes[][2] = {{16, 16}, {37, 53}, {64, 128}, {5, 3}, {1, 40}, {33, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t lds = (size_t)cols + 3, ldd = (size_t)rows + 5;
        float *src = malloc((size_t)rows * lds * sizeof *src);
        float *dst = malloc((size_t)cols * ldd * sizeof *dst);
        for (size_t i = 0; i < (size_t)rows * lds; i++) src[i] = (float)i;
        for (size_t i = 0; i < (size_t)cols * ldd; i++) dst[i] = -1.0f;
        ati_transpose(dst, ldd, src, lds, rows, cols);
        int bad = 0;
        for (int c = 0; c < cols; c++)
            for (size_t r = 0; r < ldd; r++) {
                float want = r < (size_t)rows ? src[r * lds + (size_t)c] : -1.0f;
                float got = dst[(size_t)c * ldd + r];
                if (got != want && bad++ < 5)
                    fprintf(stderr, "  transpose %dx%d: dst[%d][%zu] = %g, want %g\n", rows, cols,
                            c, r, (double)got, (double)want);
            }
        CHECK(bad == 0, "transpose %dx%d: %d elements wrong", rows, cols, bad);
        free(src);
        free(dst);
    }
}

int main(void) {
    test_transpose();
    test_rng();
    test_arena_reuse();
    test_errors();
    test_params();
    return test_finish("core");
}
