/*
 * test_ops_basic.c - matmul, elementwise, activations, reductions, shapes
 * and the gemm underneath them.
 *
 * Three kinds of check:
 *   - forward values against a naive reference written here, index by index;
 *   - gradients against central finite differences (gc_check), over random
 *     shapes that include size-1 dimensions and broadcasting both ways;
 *   - error paths: a bad shape or a NULL gives a status and a message that
 *     names the op, never a crash.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CASES 12 /* random cases per gradient check */

typedef at_status (*unary_fn)(at_ctx *, at_tensor **, at_tensor *);
typedef at_status (*binary_fn)(at_ctx *, at_tensor **, at_tensor *, at_tensor *);

/* ---------------------------------------------------------------- helpers */

static int rand_dim(at_rng *rng, int max) {
    return at_rng_below(rng, 4) == 0 ? 1 : 1 + (int)at_rng_below(rng, (uint32_t)max);
}

static void rand_shape(at_rng *rng, int *ndim, int *shape, int max_dim) {
    *ndim = 1 + (int)at_rng_below(rng, AT_MAX_DIMS);
    for (int i = 0; i < AT_MAX_DIMS; i++) shape[i] = i < *ndim ? rand_dim(rng, max_dim) : 1;
}

/* A gc_input with fresh random values in [lo, hi). Free with input_free. */
static gc_input input_new(const char *name, int ndim, const int *shape, float lo, float hi,
                          at_rng *rng) {
    gc_input in = {.name = name, .ndim = ndim};
    for (int i = 0; i < AT_MAX_DIMS; i++) in.shape[i] = i < ndim ? shape[i] : 1;
    size_t n = ati_shape_size(ndim, shape);
    in.values = malloc(n * sizeof(float));
    fill_uniform(in.values, n, lo, hi, rng);
    return in;
}
static void input_free(gc_input *in) { free(in->values); }

static const char *case_name(char *buf, size_t bytes, const char *op, int c) {
    snprintf(buf, bytes, "%s case %d", op, c);
    return buf;
}

static at_ctx *new_ctx(int threads) {
    at_ctx *ctx = NULL;
    at_ctx_options o = {.num_threads = threads};
    CHECK_OK(NULL, at_ctx_create(&ctx, &o));
    return ctx;
}

static at_tensor *tensor_of(at_ctx *ctx, const gc_input *in, int grad) {
    at_tensor *t = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &t, in->ndim, in->shape, in->values));
    if (grad && t) CHECK_OK(ctx, at_tensor_require_grad(ctx, t));
    return t;
}

/* ------------------------------------------------------------------ gemm */

static void naive_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)a * b;
            }
            // beta = 0 overwrites C (BLAS's rule): a NaN already there must not leak
            C[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * C[i * ldc + j]));
        }
}

/* Every trans pair, sizes on both sides of the cut-over (and the hand
 * kernel alone: row and column tails, K longer than one panel), padded
 * strides; one-row products with vector and row tails (1 x 70 x 37);
 * outer products (depth 1). */
static void test_gemm(void) {
    at_rng rng;
    at_rng_seed(&rng, 11);
    const int sizes[][3] = {{1, 1, 1},   {3, 5, 7},    {1, 96, 32},  {17, 33, 9},
                            {32, 128, 32}, {64, 256, 64}, {5, 1024, 3}, {128, 96, 256},
                            {70, 70, 70}, {2, 3, 300},     {7, 45, 261}, {33, 31, 129},
                            {1, 70, 37},  {1, 203, 300}, {20, 512, 1}, {9, 33, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], ta = t & 1, tb = t >> 1;
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4),
                  *R = malloc(nc * 4);
            fill_uniform(A, na, -1, 1, &rng);
            fill_uniform(B, nb, -1, 1, &rng);
            fill_uniform(C, nc, -1, 1, &rng);
            memcpy(R, C, nc * 4);
            float alpha = t == 3 ? -0.5f : 1.0f, beta = (float)(s % 3) * 0.5f;
            if (s % 4 == 3) // the cblas side of ati_gemm, which only huge products reach
                ati_gemm_blas(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            else if (s % 2) ati_gemm_small(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            else ati_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            naive_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
            char what[64];
            snprintf(what, sizeof what, "gemm %s%s M%d N%d K%d", ta ? "T" : "N", tb ? "T" : "N",
                     M, N, K);
            check_close(what, C, R, nc, 1e-4 * sqrt(K) + 1e-5, 1e-4);
            free(A), free(B), free(C), free(R);
        }
}

/* The own kernel's blocking and threads: shapes that cross its depth slice
 * (128) and column block (128 with AVX-512), whole and partial panels (B
 * read in place or packed), every layout; 1, 2 and 3 threads must give
 * bit-identical results; beta = 0 must ignore NaNs already in C; alpha = 0
 * and K = 0 only scale C. */
static void test_gemm_own(void) {
    at_rng rng;
    at_rng_seed(&rng, 12);
    const int sizes[][3] = {{128, 128, 32}, {3840 / 8, 128, 64}, {128, 64, 700},
                            {61, 200, 131}, {9, 256, 257},     {200, 33, 5},
                            {2, 64, 64},    {300, 16, 40},     {1, 700, 400},
                            /* a GRU of 50 (N = 150 ends in 22 columns) and attention of
                               100 (ends in 36): the edge kernels of 2 and 3 vectors */
                            {150, 150, 50}, {96, 100, 50}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], ta = t & 1, tb = t >> 1;
            int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = malloc(na * 4), *B = malloc(nb * 4), *R = malloc(nc * 4);
            float *C[3] = {malloc(nc * 4), malloc(nc * 4), malloc(nc * 4)};
            fill_uniform(A, na, -1, 1, &rng);
            fill_uniform(B, nb, -1, 1, &rng);
            float beta = s % 2 ? 0.0f : 0.5f;
            fill_uniform(R, nc, -1, 1, &rng);
            for (int k = 0; k < 3; k++) {
                memcpy(C[k], R, nc * 4);
                if (beta == 0.0f) C[k][nc / 2] = NAN; // must be overwritten, not scaled
                ati_gemm_own(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C[k], ldc, k + 1);
            }
            naive_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, R, ldc);
            char what[64];
            snprintf(what, sizeof what, "own gemm %s%s M%d N%d K%d", ta ? "T" : "N",
                     tb ? "T" : "N", M, N, K);
            check_close(what, C[0], R, nc, 1e-4 * sqrt(K) + 1e-5, 1e-4);
            CHECK(memcmp(C[0], C[1], nc * 4) == 0, "%s: 2 threads differ from 1", what);
            CHECK(memcmp(C[0], C[2], nc * 4) == 0, "%s: 3 threads differ from 1", what);
            free(A), free(B), free(R), free(C[0]), free(C[1]), free(C[2]);
        }
    /* ati_gemm_bias: C = A B + bias in every row; C's old values (NaN here)
     * unread; M = 40 with B transposed takes the swapped product */
    for (int t = 0; t < 8; t++) {
        int M = t < 4 ? 67 : 40, N = 100, K = 150, ta = t & 1, tb = (t >> 1) & 1;
        int lda = ta ? M : K, ldb = tb ? K : N;
        float *A = malloc((size_t)M * K * 4), *B = malloc((size_t)K * N * 4);
        float *bias = malloc((size_t)N * 4), *R = malloc((size_t)M * N * 4);
        float *C1 = malloc((size_t)M * N * 4), *C2 = malloc((size_t)M * N * 4);
        fill_uniform(A, (size_t)M * K, -1, 1, &rng);
        fill_uniform(B, (size_t)K * N, -1, 1, &rng);
        fill_uniform(bias, (size_t)N, -1, 1, &rng);
        for (int i = 0; i < M; i++) memcpy(R + (size_t)i * N, bias, (size_t)N * 4);
        naive_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, R, N);
        for (size_t i = 0; i < (size_t)M * N; i++) C1[i] = C2[i] = NAN;
        ati_gemm_bias(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, bias, C1, N, 1);
        ati_gemm_bias(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, bias, C2, N, 2);
        check_close("gemm with bias", C1, R, (size_t)M * N, 1e-4 * sqrt(K) + 1e-5, 1e-4);
        CHECK(memcmp(C1, C2, (size_t)M * N * 4) == 0, "gemm with bias: 2 threads differ");
        free(A), free(B), free(bias), free(R), free(C1), free(C2);
    }
    /* alpha = 0 and K = 0: C = beta C, B and A never read */
    float C[6] = {1, 2, 3, 4, 5, 6}, want[6] = {2, 4, 6, 8, 10, 12};
    ati_gemm_own(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, C, 3, 1);
    CHECK(memcmp(C, want, sizeof C) == 0, "own gemm with K = 0 must only scale C");
    float one = 1.0f;
    ati_gemm_own(0, 0, 2, 3, 1, 0.0f, &one, 1, want, 3, 0.0f, C, 3, 2);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 0.0f, "own gemm with alpha = 0, beta = 0: C = 0");
}

/* ---------------------------------------------------------------- matmul */

typedef struct mm_case {
    int ta, tb;
} mm_case;

static at_status build_matmul(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const mm_case *c = user;
    return at_matmul(ctx, y, in[0], in[1], c->ta, c->tb);
}

/* Shapes for a (batch..., M, K) @ b (K, N) with flags and batch layout. */
static void matmul_shapes(at_rng *rng, int ta, int tb, int shared, int *nd_a, int *sa,
                          int *nd_b, int *sb) {
    int M = rand_dim(rng, 5), N = rand_dim(rng, 5), K = rand_dim(rng, 5);
    int nbatch = (int)at_rng_below(rng, 3); /* 0, 1 or 2 batch dims */
    *nd_a = 2 + nbatch;
    for (int i = 0; i < nbatch; i++) sa[i] = rand_dim(rng, 3);
    sa[nbatch] = ta ? K : M;
    sa[nbatch + 1] = ta ? M : K;
    *nd_b = shared ? 2 : *nd_a;
    int bb = *nd_b - 2;
    for (int i = 0; i < bb; i++) sb[i] = sa[i];
    sb[bb] = tb ? N : K;
    sb[bb + 1] = tb ? K : N;
}

/* y = a @ b by index, for the shapes above (b shared if 2-D). */
static void naive_matmul(const at_tensor *a, const at_tensor *b, int ta, int tb, float *y) {
    int ar = a->shape[a->ndim - 2], ac = a->shape[a->ndim - 1];
    int br = b->shape[b->ndim - 2], bc = b->shape[b->ndim - 1];
    int M = ta ? ac : ar, K = ta ? ar : ac, N = tb ? br : bc;
    int batch = (int)(a->size / ((size_t)ar * ac));
    for (int n = 0; n < batch; n++) {
        const float *A = a->data + (size_t)n * ar * ac;
        const float *B = b->data + (b->ndim == 2 ? 0 : (size_t)n * br * bc);
        naive_gemm(ta, tb, M, N, K, 1.0f, A, ac, B, bc, 0.0f, y + (size_t)n * M * N, N);
    }
}

static void test_matmul(void) {
    at_rng rng;
    at_rng_seed(&rng, 21);
    at_ctx *ctx = new_ctx(1);
    for (int c = 0; c < 4 * CASES; c++) {
        mm_case mc = {c & 1, (c >> 1) & 1};
        int shared = (c >> 2) & 1;
        int nd_a, nd_b, sa[AT_MAX_DIMS], sb[AT_MAX_DIMS];
        matmul_shapes(&rng, mc.ta, mc.tb, shared, &nd_a, sa, &nd_b, sb);
        gc_input in[2] = {input_new("a", nd_a, sa, -1, 1, &rng),
                          input_new("b", nd_b, sb, -1, 1, &rng)};
        char name[64];
        case_name(name, sizeof name, shared ? "matmul shared-b" : "matmul", c);
        gc_check(name, 2, in, NULL, build_matmul, &mc, &(gc_options){.seed = (unsigned)c});

        at_ctx_reset(ctx);
        at_tensor *a = tensor_of(ctx, &in[0], 0), *b = tensor_of(ctx, &in[1], 0), *y = NULL;
        CHECK_OK(ctx, at_matmul(ctx, &y, a, b, mc.ta, mc.tb));
        if (y) {
            float *want = malloc(y->size * sizeof(float));
            naive_matmul(a, b, mc.ta, mc.tb, want);
            check_close(name, y->data, want, y->size, 1e-5, 1e-5);
            free(want);
        }
        input_free(&in[0]), input_free(&in[1]);
    }
    at_ctx_free(ctx);
}

/* Products big enough to be cut between threads ((2, 160, 96) x (96, 200),
 * shared and batched b, each transpose): the result and both gradients are
 * the same bits on 1 and 2 threads. */
static void matmul_threads_run(int threads, int ta, int tb, int shared, const float *a_data,
                               const float *b_data, float *out) {
    at_ctx *ctx = new_ctx(threads);
    int M = 160, K = 96, N = 200;
    int sa[3] = {2, ta ? K : M, ta ? M : K}, sb[3] = {2, tb ? N : K, tb ? K : N};
    at_tensor *a, *b, *y;
    CHECK_OK(ctx, at_tensor_from(ctx, &a, 3, sa, a_data));
    CHECK_OK(ctx, shared ? at_tensor_from(ctx, &b, 2, sb + 1, b_data)
                         : at_tensor_from(ctx, &b, 3, sb, b_data));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, a));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, b));
    CHECK_OK(ctx, at_matmul(ctx, &y, a, b, ta, tb));
    float *seed = malloc(y->size * sizeof(float));
    for (size_t i = 0; i < y->size; i++) seed[i] = (float)((i * 31) % 13) / 13.0f - 0.5f;
    CHECK_OK(ctx, at_backward_seeded(ctx, y, seed));
    memcpy(out, y->data, y->size * sizeof(float));
    memcpy(out + y->size, a->grad, a->size * sizeof(float));
    memcpy(out + y->size + a->size, b->grad, b->size * sizeof(float));
    free(seed);
    at_ctx_free(ctx);
}

static void test_matmul_threads(void) {
    at_rng rng;
    at_rng_seed(&rng, 22);
    size_t na = 2 * 160 * 96, nb = 2 * 96 * 200, n = 2 * 160 * 200 + na + nb;
    float *a = malloc(na * sizeof(float)), *b = malloc(nb * sizeof(float));
    for (size_t i = 0; i < na; i++) a[i] = at_rng_uniform(&rng) * 2.0f - 1.0f;
    for (size_t i = 0; i < nb; i++) b[i] = at_rng_uniform(&rng) * 2.0f - 1.0f;
    float *one = calloc(n, sizeof(float)), *two = calloc(n, sizeof(float));
    for (int c = 0; c < 8; c++) {
        int ta = c & 1, tb = (c >> 1) & 1, shared = (c >> 2) & 1;
        matmul_threads_run(1, ta, tb, shared, a, b, one);
        matmul_threads_run(2, ta, tb, shared, a, b, two);
        char name[80];
        snprintf(name, sizeof name, "matmul ta %d tb %d shared %d, 2 threads vs 1", ta, tb,
                 shared);
        check_same_bits(name, two, one, n);
    }
    free(a), free(b), free(one), free(two);
}

/* ------------------------------------------------- broadcasting elementwise */

/* A broadcast partner of shape `full`: some dims set to 1, maybe leading
 * dims dropped. */
static void broadcast_from(at_rng *rng, int ndim, const int *full, int *nd, int *shape) {
    int drop = (int)at_rng_below(rng, (uint32_t)ndim);
    *nd = ndim - drop;
    for (int i = 0; i < *nd; i++) {
        int d = full[i + drop];
        shape[i] = at_rng_below(rng, 3) == 0 ? 1 : d;
    }
    for (int i = *nd; i < AT_MAX_DIMS; i++) shape[i] = 1;
}

/* Element of t seen at out index `index` of an out of (ndim, shape). */
static float broadcast_at(const at_tensor *t, int ndim, const int *shape, size_t index) {
    size_t offset = 0, step = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int k = shape[i] ? (int)(index % (size_t)shape[i]) : 0;
        index /= (size_t)shape[i];
        int ti = i - (ndim - t->ndim);
        if (ti < 0) continue;
        int dim = t->shape[ti];
        offset += (size_t)(dim == 1 ? 0 : k) * step;
        step *= (size_t)dim;
    }
    return t->data[offset];
}

static at_status build_binary(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    binary_fn f = *(binary_fn *)user;
    return f(ctx, y, in[0], in[1]);
}

static float apply_binary(int which, float a, float b) {
    return which == 0 ? a + b : which == 1 ? a - b : a * b;
}

/* Shapes for case c: same, b broadcast, a broadcast, both, b a row. */
static void binary_shapes(at_rng *rng, int c, int *nd_a, int *sa, int *nd_b, int *sb) {
    int nd, full[AT_MAX_DIMS];
    rand_shape(rng, &nd, full, 4);
    *nd_a = *nd_b = nd;
    memcpy(sa, full, sizeof full);
    memcpy(sb, full, sizeof full);
    switch (c % 5) {
    case 0: break;
    case 1: broadcast_from(rng, nd, full, nd_b, sb); break;
    case 2: broadcast_from(rng, nd, full, nd_a, sa); break;
    case 3:
        broadcast_from(rng, nd, full, nd_a, sa);
        broadcast_from(rng, nd, full, nd_b, sb);
        break;
    case 4: /* b is a trailing row vector */
        *nd_b = 1;
        sb[0] = full[nd - 1];
        for (int i = 1; i < AT_MAX_DIMS; i++) sb[i] = 1;
        break;
    }
}

static void test_binary(void) {
    static const binary_fn fns[3] = {at_add, at_sub, at_mul};
    static const char *names[3] = {"add", "sub", "mul"};
    at_rng rng;
    at_rng_seed(&rng, 31);
    at_ctx *ctx = new_ctx(1);
    for (int which = 0; which < 3; which++)
        for (int c = 0; c < 2 * CASES; c++) {
            int nd_a, nd_b, sa[AT_MAX_DIMS], sb[AT_MAX_DIMS];
            binary_shapes(&rng, c, &nd_a, sa, &nd_b, sb);
            gc_input in[2] = {input_new("a", nd_a, sa, -1, 1, &rng),
                              input_new("b", nd_b, sb, -1, 1, &rng)};
            char name[64];
            case_name(name, sizeof name, names[which], c);
            binary_fn f = fns[which];
            gc_check(name, 2, in, NULL, build_binary, &f, &(gc_options){.seed = (unsigned)c});

            at_ctx_reset(ctx);
            at_tensor *a = tensor_of(ctx, &in[0], 0), *b = tensor_of(ctx, &in[1], 0), *y = NULL;
            CHECK_OK(ctx, f(ctx, &y, a, b));
            if (y) {
                float *want = malloc(y->size * sizeof(float));
                for (size_t i = 0; i < y->size; i++)
                    want[i] = apply_binary(which, broadcast_at(a, y->ndim, y->shape, i),
                                           broadcast_at(b, y->ndim, y->shape, i));
                check_close(name, y->data, want, y->size, 0, 0);
                free(want);
            }
            input_free(&in[0]), input_free(&in[1]);
        }
    at_ctx_free(ctx);
}

/* x * x: the same tensor as both inputs of a broadcasting op. */
static at_status build_square(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    (void)user;
    return at_mul(ctx, y, in[0], in[0]);
}

typedef struct affine_case {
    float scale, shift;
} affine_case;

static at_status build_affine(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const affine_case *c = user;
    return at_affine(ctx, y, in[0], c->scale, c->shift);
}

static void test_square_and_affine(void) {
    at_rng rng;
    at_rng_seed(&rng, 41);
    for (int c = 0; c < CASES; c++) {
        int nd, shape[AT_MAX_DIMS];
        rand_shape(&rng, &nd, shape, 5);
        gc_input in = input_new("x", nd, shape, -1, 1, &rng);
        char name[64];
        gc_check(case_name(name, sizeof name, "mul x*x", c), 1, &in, NULL, build_square, NULL,
                 &(gc_options){.seed = (unsigned)c});
        affine_case ac = {-1.5f + (float)c * 0.25f, 0.3f};
        gc_check(case_name(name, sizeof name, "affine", c), 1, &in, NULL, build_affine, &ac,
                 &(gc_options){.seed = (unsigned)c});
        input_free(&in);
    }
    at_ctx *ctx = new_ctx(1);
    float v[3] = {1, -2, 0.5f};
    int three = 3;
    at_tensor *x = NULL, *y = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 1, &three, v));
    CHECK_OK(ctx, at_affine(ctx, &y, x, 2.0f, -1.0f));
    float want[3] = {1, -5, 0};
    if (y) check_close("affine values", y->data, want, 3, 0, 0);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ activations */

static at_status build_unary(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    unary_fn f = *(unary_fn *)user;
    return f(ctx, y, in[0]);
}

static double ref_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

static double ref_activation(int which, double x) {
    switch (which) {
    case 0: return tanh(x);
    case 1: return 1 / (1 + exp(-x));
    case 2: return x > 0 ? x : 0;
    case 3: return ref_gelu(x);
    default: return exp(x);
    }
}

static void test_activations(void) {
    static const unary_fn fns[5] = {at_tanh, at_sigmoid, at_relu, at_gelu, at_exp};
    static const char *names[5] = {"tanh", "sigmoid", "relu", "gelu", "exp"};
    at_rng rng;
    at_rng_seed(&rng, 51);
    at_ctx *ctx = new_ctx(1);
    for (int which = 0; which < 5; which++)
        for (int c = 0; c < CASES; c++) {
            int nd, shape[AT_MAX_DIMS];
            rand_shape(&rng, &nd, shape, 5);
            gc_input in = input_new("x", nd, shape, -3, 3, &rng);
            size_t n = ati_shape_size(nd, shape);
            for (size_t i = 0; i < n; i++) /* keep away from relu's kink */
                if (fabsf(in.values[i]) < 0.05f) in.values[i] += 0.1f;
            char name[64];
            unary_fn f = fns[which];
            case_name(name, sizeof name, names[which], c);
            gc_check(name, 1, &in, NULL, build_unary, &f, &(gc_options){.seed = (unsigned)c});

            at_ctx_reset(ctx);
            at_tensor *x = tensor_of(ctx, &in, 0), *y = NULL;
            CHECK_OK(ctx, f(ctx, &y, x));
            if (y) {
                float *want = malloc(n * sizeof(float));
                for (size_t i = 0; i < n; i++) want[i] = (float)ref_activation(which, x->data[i]);
                check_close(name, y->data, want, n, 1e-6, 1e-5);
                free(want);
            }
            input_free(&in);
        }
    /* torch.nn.functional.gelu(torch.tensor([1.0, -0.5, 3.0])) */
    float xs[3] = {1.0f, -0.5f, 3.0f}, torch_gelu[3] = {0.8413447f, -0.1542687f, 2.9959502f};
    int three = 3;
    at_tensor *x = NULL, *y = NULL;
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 1, &three, xs));
    CHECK_OK(ctx, at_gelu(ctx, &y, x));
    if (y) check_close("gelu vs torch", y->data, torch_gelu, 3, 1e-6, 1e-6);
    at_ctx_free(ctx);
}

/* GELU against double precision on a fine grid of [-9, 9], value and
 * derivative, to a relative 2e-5 everywhere: also for x < 0, where
 * x (1 + erf(x/√2)) / 2 in float cancels (libm's erff there gave values
 * 8% off at x = -5 and wrong in every digit below x = -6). */
static void test_gelu_accuracy(void) {
    enum { N = 18001 };
    int n = N;
    float *xs = malloc(N * sizeof *xs), *ones = malloc(N * sizeof *ones);
    double *want = malloc(N * sizeof *want), *want_d = malloc(N * sizeof *want_d);
    for (int i = 0; i < N; i++) {
        xs[i] = -9.0f + 1e-3f * (float)i;
        ones[i] = 1.0f;
        double x = xs[i], cdf = 0.5 * erfc(-x / sqrt(2.0));
        double pdf = exp(-x * x / 2) / sqrt(2 * 3.14159265358979323846);
        want[i] = x * cdf;
        want_d[i] = cdf + x * pdf; // d/dx x Φ(x)
    }
    at_ctx *ctx = new_ctx(1);
    at_tensor *x = NULL, *y = NULL;
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 1, &n, xs));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_gelu(ctx, &y, x));
    if (y) {
        CHECK(check_close_to_double("gelu on [-9, 9]", y->data, want, N, 1e-30, 2e-5),
              "gelu differs from x Φ(x) in double");
        CHECK_OK(ctx, at_backward_seeded(ctx, y, ones));
        CHECK(check_close_to_double("gelu' on [-9, 9]", x->grad, want_d, N, 1e-7, 2e-5),
              "gelu's derivative differs from Φ(x) + x φ(x) in double");
    }
    at_ctx_free(ctx);
    free(xs);
    free(ones);
    free(want);
    free(want_d);
}

/* ------------------------------------------------------------- reductions */

static void test_reductions(void) {
    static const unary_fn fns[3] = {at_sum, at_mean, at_sum_last};
    static const char *names[3] = {"sum", "mean", "sum_last"};
    at_rng rng;
    at_rng_seed(&rng, 61);
    at_ctx *ctx = new_ctx(1);
    for (int which = 0; which < 3; which++)
        for (int c = 0; c < CASES; c++) {
            int nd, shape[AT_MAX_DIMS];
            rand_shape(&rng, &nd, shape, 5);
            gc_input in = input_new("x", nd, shape, -1, 1, &rng);
            char name[64];
            unary_fn f = fns[which];
            case_name(name, sizeof name, names[which], c);
            gc_check(name, 1, &in, NULL, build_unary, &f, &(gc_options){.seed = (unsigned)c});

            at_ctx_reset(ctx);
            at_tensor *x = tensor_of(ctx, &in, 0), *y = NULL;
            CHECK_OK(ctx, f(ctx, &y, x));
            if (!y) continue;
            size_t n = x->size, m = (size_t)shape[nd - 1];
            size_t rows = which == 2 ? n / m : 1, len = which == 2 ? m : n;
            int want_nd = which == 2 && nd > 1 ? nd - 1 : 1;
            CHECK(y->ndim == want_nd && y->size == rows, "%s: shape ndim %d size %zu", name,
                  y->ndim, y->size);
            float want[256];
            for (size_t r = 0; r < rows && r < 256; r++) {
                double s = 0;
                for (size_t j = 0; j < len; j++) s += x->data[r * len + j];
                want[r] = (float)(which == 1 ? s / (double)n : s);
            }
            check_close(name, y->data, want, rows < 256 ? rows : 256, 1e-6, 1e-6);
            input_free(&in);
        }
    at_ctx_free(ctx);
}

/* ----------------------------------------------------------------- shapes */

typedef struct shape_case {
    int axis, axis1, start, len, n, sizes[4], ndim, shape[AT_MAX_DIMS];
} shape_case;

/* reshape, then tanh, so the gradient must flow through the view. */
static at_status build_reshape(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const shape_case *c = user;
    at_tensor *r;
    AT_TRY(at_reshape(ctx, &r, in[0], c->ndim, c->shape));
    return at_tanh(ctx, y, r);
}

static at_status build_concat(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const shape_case *c = user;
    return at_concat(ctx, y, c->n, in, c->axis);
}

static at_status build_slice(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const shape_case *c = user;
    return at_slice(ctx, y, in[0], c->axis, c->start, c->len);
}

/* split, then concat the pieces in reverse order: every piece is used. */
static at_status build_split(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const shape_case *c = user;
    at_tensor *pieces[4], *reversed[4];
    AT_TRY(at_split(ctx, pieces, in[0], c->axis, c->n, c->sizes));
    for (int i = 0; i < c->n; i++) reversed[i] = pieces[c->n - 1 - i];
    return at_concat(ctx, y, c->n, reversed, c->axis);
}

static at_status build_transpose(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    const shape_case *c = user;
    return at_transpose(ctx, y, in[0], c->axis, c->axis1);
}

/* A random axis of an ndim tensor, negative half of the time. */
static int rand_axis(at_rng *rng, int ndim) {
    int axis = (int)at_rng_below(rng, (uint32_t)ndim);
    return at_rng_below(rng, 2) ? axis - ndim : axis;
}

static void test_reshape_and_transpose(at_rng *rng, int c) {
    char name[64];
    shape_case sc = {0};
    int nd, shape[AT_MAX_DIMS];
    rand_shape(rng, &nd, shape, 4);
    gc_input x = input_new("x", nd, shape, -1, 1, rng);
    /* reshape to the reversed shape, or flat */
    sc.ndim = c % 2 ? 1 : nd;
    if (sc.ndim == 1) sc.shape[0] = (int)ati_shape_size(nd, shape);
    else
        for (int i = 0; i < nd; i++) sc.shape[i] = shape[nd - 1 - i];
    gc_check(case_name(name, sizeof name, "reshape", c), 1, &x, NULL, build_reshape, &sc,
             &(gc_options){.seed = (unsigned)c});
    sc.axis = rand_axis(rng, nd);
    sc.axis1 = rand_axis(rng, nd);
    gc_check(case_name(name, sizeof name, "transpose", c), 1, &x, NULL, build_transpose, &sc,
             &(gc_options){.seed = (unsigned)c});

    /* transpose values against the definition */
    at_ctx *ctx = new_ctx(1);
    at_tensor *t = tensor_of(ctx, &x, 0), *y = NULL;
    CHECK_OK(ctx, at_transpose(ctx, &y, t, sc.axis, sc.axis1));
    if (y) {
        int a0 = ati_axis(sc.axis, nd), a1 = ati_axis(sc.axis1, nd), bad = 0;
        for (size_t i = 0; i < y->size; i++) {
            int idx[AT_MAX_DIMS];
            size_t rest = i;
            for (int d = nd - 1; d >= 0; d--) {
                idx[d] = (int)(rest % (size_t)y->shape[d]);
                rest /= (size_t)y->shape[d];
            }
            int tmp = idx[a0];
            idx[a0] = idx[a1];
            idx[a1] = tmp;
            size_t src = 0;
            for (int d = 0; d < nd; d++) src = src * (size_t)shape[d] + (size_t)idx[d];
            bad += y->data[i] != t->data[src];
        }
        CHECK(bad == 0, "%s: %d values misplaced", name, bad);
    }
    at_ctx_free(ctx);
    input_free(&x);
}

static void test_concat_slice_split(at_rng *rng, int c) {
    char name[64];
    shape_case sc = {0};
    int nd, shape[AT_MAX_DIMS];
    rand_shape(rng, &nd, shape, 4);
    sc.axis = rand_axis(rng, nd);
    int ax = ati_axis(sc.axis, nd);

    /* concat of 1 to 3 inputs differing along axis */
    sc.n = 1 + (int)at_rng_below(rng, 3);
    gc_input xs[3];
    const char *names[3] = {"x0", "x1", "x2"};
    for (int i = 0; i < sc.n; i++) {
        int s[AT_MAX_DIMS];
        memcpy(s, shape, sizeof s);
        s[ax] = rand_dim(rng, 3);
        xs[i] = input_new(names[i], nd, s, -1, 1, rng);
    }
    gc_check(case_name(name, sizeof name, "concat", c), sc.n, xs, NULL, build_concat, &sc,
             &(gc_options){.seed = (unsigned)c});
    for (int i = 0; i < sc.n; i++) input_free(&xs[i]);

    /* slice and split of one input */
    shape[ax] += 2;
    gc_input x = input_new("x", nd, shape, -1, 1, rng);
    int dim = shape[ax];
    sc.start = (int)at_rng_below(rng, (uint32_t)dim);
    sc.len = 1 + (int)at_rng_below(rng, (uint32_t)(dim - sc.start));
    gc_check(case_name(name, sizeof name, "slice", c), 1, &x, NULL, build_slice, &sc,
             &(gc_options){.seed = (unsigned)c});
    sc.n = dim >= 3 ? 3 : dim;
    int left = dim;
    for (int i = 0; i < sc.n - 1; i++) {
        sc.sizes[i] = 1 + (int)at_rng_below(rng, (uint32_t)(left - (sc.n - 1 - i)));
        left -= sc.sizes[i];
    }
    sc.sizes[sc.n - 1] = left;
    gc_check(case_name(name, sizeof name, "split", c), 1, &x, NULL, build_split, &sc,
             &(gc_options){.seed = (unsigned)c});
    input_free(&x);
}

static void test_shapes(void) {
    at_rng rng;
    at_rng_seed(&rng, 71);
    for (int c = 0; c < CASES; c++) {
        test_reshape_and_transpose(&rng, c);
        test_concat_slice_split(&rng, c);
    }

    /* reshape is a view; concat/slice values on a known case */
    at_ctx *ctx = new_ctx(1);
    float v[6] = {0, 1, 2, 3, 4, 5};
    int s23[2] = {2, 3}, s32[2] = {3, 2};
    at_tensor *x = NULL, *r = NULL, *y = NULL, *parts[2] = {NULL, NULL};
    CHECK_OK(ctx, at_tensor_from(ctx, &x, 2, s23, v));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, x));
    CHECK_OK(ctx, at_reshape(ctx, &r, x, 2, s32));
    CHECK(r && r->data == x->data && r->grad == x->grad && r->requires_grad == 1,
          "reshape must share data and grad and carry requires_grad");
    CHECK(at_ctx_tape_length(ctx) == 0, "reshape must not record a tape entry");
    at_tensor *pair[2] = {x, x};
    CHECK_OK(ctx, at_concat(ctx, &y, 2, pair, 1)); // (2, 6)
    float want_cat[12] = {0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5};
    if (y) check_close("concat values", y->data, want_cat, 12, 0, 0);
    CHECK_OK(ctx, at_slice(ctx, &y, x, -1, 1, 2));
    float want_slice[4] = {1, 2, 4, 5};
    if (y) check_close("slice values", y->data, want_slice, 4, 0, 0);
    int sizes[2] = {1, 2};
    CHECK_OK(ctx, at_split(ctx, parts, x, 1, 2, sizes));
    float want_p1[4] = {1, 2, 4, 5};
    if (parts[1]) check_close("split values", parts[1]->data, want_p1, 4, 0, 0);
    at_ctx_free(ctx);
}

/* concat of more inputs than a tape node holds (AT_NODE_MAX_IN). */
static at_status build_concat_many(at_ctx *ctx, at_tensor *const *in, void *user,
                                   at_tensor **y) {
    (void)user;
    at_tensor *xs[12];
    for (int i = 0; i < 12; i++) xs[i] = in[i % 3];
    return at_concat(ctx, y, 12, xs, 0);
}

static void test_concat_many(void) {
    at_rng rng;
    at_rng_seed(&rng, 81);
    int shape[2] = {2, 3};
    gc_input in[3] = {input_new("x0", 2, shape, -1, 1, &rng),
                      input_new("x1", 2, shape, -1, 1, &rng),
                      input_new("x2", 2, shape, -1, 1, &rng)};
    gc_check("concat of 12", 3, in, NULL, build_concat_many, NULL, NULL);
    for (int i = 0; i < 3; i++) input_free(&in[i]);
}

/* ---------------------------------------------------------------- errors */

static int has(const at_ctx *ctx, const char *text) {
    int ok = strstr(at_ctx_error(ctx), text) != NULL;
    if (!ok) fprintf(stderr, "  message '%s' lacks '%s'\n", at_ctx_error(ctx), text);
    return ok;
}

static void test_errors(void) {
    at_ctx *ctx = new_ctx(1);
    int s23[2] = {2, 3}, s45[2] = {4, 5}, s234[3] = {2, 3, 4}, s334[3] = {3, 4, 5}, s3[1] = {3};
    int s4[1] = {4}, s0[2] = {2, 0};
    at_tensor *a, *b, *c, *v3, *v4, *y = NULL;
    CHECK_OK(ctx, at_tensor_new(ctx, &a, 2, s23));
    CHECK_OK(ctx, at_tensor_new(ctx, &b, 2, s45));
    CHECK_OK(ctx, at_tensor_new(ctx, &c, 3, s234));
    CHECK_OK(ctx, at_tensor_new(ctx, &v3, 1, s3));
    CHECK_OK(ctx, at_tensor_new(ctx, &v4, 1, s4));

    CHECK_STATUS(ctx, at_matmul(ctx, &y, a, b, 0, 0), AT_ERR_SHAPE);
    CHECK(has(ctx, "matmul: a (2, 3) and b (4, 5): inner dimensions 3 and 4 differ"), "matmul");
    at_tensor *c2;
    CHECK_OK(ctx, at_tensor_new(ctx, &c2, 3, s334));
    CHECK_STATUS(ctx, at_matmul(ctx, &y, c, c2, 0, 0), AT_ERR_SHAPE);
    CHECK(has(ctx, "batch"), "matmul batch message");
    CHECK_STATUS(ctx, at_matmul(ctx, &y, v3, a, 0, 0), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_matmul(ctx, &y, a, c, 0, 0), AT_ERR_SHAPE); /* a 2-D, b 3-D */
    CHECK_STATUS(ctx, at_matmul(ctx, &y, NULL, b, 0, 0), AT_ERR_ARGUMENT);
    CHECK(has(ctx, "matmul: a is NULL"), "matmul NULL");
    CHECK_STATUS(ctx, at_matmul(ctx, NULL, a, b, 0, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(NULL, at_matmul(NULL, &y, a, b, 0, 0), AT_ERR_ARGUMENT);

    CHECK_STATUS(ctx, at_add(ctx, &y, a, v4), AT_ERR_SHAPE);
    CHECK(has(ctx, "add: a (2, 3) and b (4)"), "add message");
    CHECK_STATUS(ctx, at_mul(ctx, &y, c, b), AT_ERR_SHAPE);
    CHECK(has(ctx, "mul:"), "mul message");
    CHECK_STATUS(ctx, at_sub(ctx, &y, a, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_affine(ctx, &y, NULL, 1, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_tanh(ctx, &y, NULL), AT_ERR_ARGUMENT);
    CHECK(has(ctx, "tanh: x is NULL"), "tanh message");
    CHECK_STATUS(ctx, at_gelu(ctx, NULL, a), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_sum(ctx, &y, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_sum_last(ctx, NULL, a), AT_ERR_ARGUMENT);

    CHECK_STATUS(ctx, at_reshape(ctx, &y, a, 2, s45), AT_ERR_SHAPE);
    CHECK(has(ctx, "reshape: x (2, 3) has 6 elements, new shape (4, 5) has 20"), "reshape");
    CHECK_STATUS(ctx, at_reshape(ctx, &y, a, 2, s0), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_reshape(ctx, &y, a, 5, s234), AT_ERR_SHAPE);
    at_tensor *pair[2] = {a, b};
    CHECK_STATUS(ctx, at_concat(ctx, &y, 2, pair, 0), AT_ERR_SHAPE);
    CHECK(has(ctx, "concat: xs[1] (4, 5) does not match xs[0] (2, 3)"), "concat message");
    at_tensor *with_null[2] = {a, NULL};
    CHECK_STATUS(ctx, at_concat(ctx, &y, 2, with_null, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_concat(ctx, &y, 0, pair, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_concat(ctx, &y, 1, pair, 2), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_slice(ctx, &y, a, 1, 2, 2), AT_ERR_SHAPE);
    CHECK(has(ctx, "slice:"), "slice message");
    CHECK_STATUS(ctx, at_slice(ctx, &y, a, 1, -1, 1), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_slice(ctx, &y, a, 1, 0, 0), AT_ERR_SHAPE);
    CHECK_STATUS(ctx, at_slice(ctx, &y, a, -3, 0, 1), AT_ERR_ARGUMENT);
    at_tensor *outs[2] = {NULL, NULL};
    int bad_sizes[2] = {1, 1}, zero_size[2] = {3, 0};
    CHECK_STATUS(ctx, at_split(ctx, outs, a, 1, 2, bad_sizes), AT_ERR_SHAPE);
    CHECK(has(ctx, "split: sizes add up to 2 but axis 1 of x (2, 3) has size 3"), "split");
    CHECK_STATUS(ctx, at_split(ctx, outs, a, 1, 2, zero_size), AT_ERR_SHAPE);
    CHECK(outs[0] == NULL && outs[1] == NULL, "a failed split must leave outs untouched");
    CHECK_STATUS(ctx, at_transpose(ctx, &y, a, 0, 2), AT_ERR_ARGUMENT);
    CHECK(has(ctx, "transpose:"), "transpose message");
    CHECK(at_ctx_tape_length(ctx) == 0, "failed ops must not record");
    at_ctx_free(ctx);
}

/* ----------------------------------------------- inference mode, threads */

static void test_inference_mode(void) {
    at_ctx *ctx = new_ctx(1);
    int s23[2] = {2, 3}, s3[1] = {3};
    at_tensor *a, *b, *w, *y, *ys[3];
    CHECK_OK(ctx, at_tensor_new(ctx, &a, 2, s23));
    CHECK_OK(ctx, at_tensor_new(ctx, &b, 1, s3));
    CHECK_OK(ctx, at_tensor_new(ctx, &w, 2, s23));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, a));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, b));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, w));
    CHECK(at_ctx_set_grad(ctx, 0) == 1, "gradients are on by default");
    int n = 0;
    at_tensor *pair[2] = {a, a};
    int sizes[2] = {1, 2};
#define INFER(call, t)                                                                        \
    do {                                                                                      \
        t = NULL;                                                                             \
        CHECK_OK(ctx, call);                                                                  \
        CHECK(t && t->grad == NULL && !t->requires_grad, "%s: grad allocated in inference",   \
              #call);                                                                         \
        n++;                                                                                  \
    } while (0)
    INFER(at_matmul(ctx, &y, a, w, 0, 1), y);
    INFER(at_add(ctx, &y, a, b), y);
    INFER(at_sub(ctx, &y, a, b), y);
    INFER(at_mul(ctx, &y, a, b), y);
    INFER(at_affine(ctx, &y, a, 2, 1), y);
    INFER(at_tanh(ctx, &y, a), y);
    INFER(at_sigmoid(ctx, &y, a), y);
    INFER(at_relu(ctx, &y, a), y);
    INFER(at_gelu(ctx, &y, a), y);
    INFER(at_exp(ctx, &y, a), y);
    INFER(at_sum(ctx, &y, a), y);
    INFER(at_mean(ctx, &y, a), y);
    INFER(at_sum_last(ctx, &y, a), y);
    INFER(at_concat(ctx, &y, 2, pair, 0), y);
    INFER(at_slice(ctx, &y, a, 1, 0, 2), y);
    INFER(at_transpose(ctx, &y, a, 0, 1), y);
    INFER(at_split(ctx, ys, a, 1, 2, sizes), ys[0]);
#undef INFER
    CHECK(at_ctx_tape_length(ctx) == 0, "inference recorded %zu tape entries after %d ops",
          at_ctx_tape_length(ctx), n);
    at_ctx_set_grad(ctx, 1);
    CHECK_OK(ctx, at_tanh(ctx, &y, a));
    CHECK(at_ctx_tape_length(ctx) == 1 && y->grad != NULL, "training mode records");
    at_ctx_free(ctx);
}

/* Large elementwise ops (threaded) give the same bits with 1 and 4 threads,
 * forward and backward. */
static void run_large(int threads, const float *xa, const float *xb, float *out, float *grads) {
    at_ctx *ctx = new_ctx(threads);
    int sa[2] = {300, 1000}, sb[1] = {1000};
    at_tensor *a, *b, *s, *t, *p, *g, *loss;
    CHECK_OK(ctx, at_tensor_from(ctx, &a, 2, sa, xa));
    CHECK_OK(ctx, at_tensor_from(ctx, &b, 1, sb, xb));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, a));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, b));
    CHECK_OK(ctx, at_add(ctx, &s, a, b));
    CHECK_OK(ctx, at_tanh(ctx, &t, s));
    CHECK_OK(ctx, at_mul(ctx, &p, t, a));
    CHECK_OK(ctx, at_gelu(ctx, &g, p));
    CHECK_OK(ctx, at_mean(ctx, &loss, g));
    CHECK_OK(ctx, at_backward(ctx, loss));
    memcpy(out, g->data, 300000 * sizeof(float));
    memcpy(grads, a->grad, 300000 * sizeof(float));
    memcpy(grads + 300000, b->grad, 1000 * sizeof(float));
    at_ctx_free(ctx);
}

static void test_threads_deterministic(void) {
    at_rng rng;
    at_rng_seed(&rng, 91);
    size_t n = 300000;
    float *xa = malloc(n * 4), *xb = malloc(1000 * 4);
    float *o1 = malloc(n * 4), *o4 = malloc(n * 4), *g1 = malloc((n + 1000) * 4),
          *g4 = malloc((n + 1000) * 4);
    fill_uniform(xa, n, -2, 2, &rng);
    fill_uniform(xb, 1000, -2, 2, &rng);
    run_large(1, xa, xb, o1, g1);
    run_large(4, xa, xb, o4, g4);
    CHECK(memcmp(o1, o4, n * 4) == 0, "forward differs between 1 and 4 threads");
    CHECK(memcmp(g1, g4, (n + 1000) * 4) == 0, "gradients differ between 1 and 4 threads");
    free(xa), free(xb), free(o1), free(o4), free(g1), free(g4);
}

int main(void) {
    test_gemm();
    test_gemm_own();
    test_matmul();
    test_matmul_threads();
    test_binary();
    test_square_and_affine();
    test_activations();
    test_gelu_accuracy();
    test_reductions();
    test_shapes();
    test_concat_many();
    test_errors();
    test_inference_mode();
    test_threads_deterministic();
    return test_finish("ops_basic");
}
