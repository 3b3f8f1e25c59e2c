/*
 * flop_counter.c - the FLOPs of a program's matrix products, counted as
 * they run: linked into `attend_flops` (bench/CMakeLists.txt), the CLI
 * with every call into the library's product routines wrapped
 * (-Wl,--wrap=SYMBOL): each wrapper adds the call's multiply-adds to a
 * counter and calls the real routine. At exit the count goes to the file
 * named by $ATTEND_FLOPS_OUT, as one JSON line, so that a bench can turn
 * a model's examples per second into GFLOP/s and a fraction of the
 * machine's FMA peak without counting each model's products by hand.
 *
 * Counted, 2 FLOPs per multiply-add:
 *   ati_gemm, _threads, _bias, _small, _own, _blas     2·M·N·K
 *   attn_weighted_sum (context = α V)                   2·B·Tq·Tk·Dv
 *   attn_weighted_sum_backward (dα = dc Vᵀ, dV = αᵀ dc) that again for
 *                                                       each output asked
 *   attn_dot_forward[_scores] (S = QKᵀ, O = P V)        2·G·pairs·(d + dv)
 *   attn_dot_backward (dV, dP, dQ, dK; the recomputed S  2·G·pairs·(2d + 2dv)
 *                      not counted)
 * where pairs are the (query, key) pairs a causal mask leaves (Tq·Tk
 * without one; keep-bytes are not looked at). Left out, as the dates
 * bench's count leaves them out: the additive scores v·tanh(..), computed
 * in a loop, and every elementwise op. Nothing is counted twice: calls
 * between routines of one object file are not wrapped, and a wrapped
 * routine's own calls into another wrapped one (a weighted sum over
 * several queries calls ati_gemm) are not counted. Exact for a run on one
 * thread (--threads 1), as the bench runs it.
 *
 * Where the products' time goes: with $ATTEND_FLOPS_SHAPES set to a file,
 * the ati_gemm routines are also timed, call by call, and at exit the file
 * gets a table of the products grouped by routine, layout and shape (a
 * dimension above 64 counts by its power-of-two range, so a recurrent
 * layer's steps over shrinking batches make one row; the row shows the
 * mean of each dimension), the 40 slowest in all first: calls, seconds,
 * GFLOP/s and share of the products' time. For one thread.
 *
 *     ATTEND_FLOPS_SHAPES=shapes.txt attend_flops classify train ... --threads 1
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "attention.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic unsigned long long mac_count; /* this program's, one process */
/* > 0 while a wrapped routine runs: a product it makes through another
 * wrapped routine (a weighted sum with several queries calls ati_gemm) is
 * its own work, already counted. Process-wide, so the count is exact for a
 * run on one thread (--threads 1), which is how the bench uses it. */
static _Atomic int inside;

static void add_macs(double macs) {
    if (atomic_load_explicit(&inside, memory_order_relaxed) == 0)
        atomic_fetch_add_explicit(&mac_count, (unsigned long long)macs, memory_order_relaxed);
}
static void enter(void) { atomic_fetch_add_explicit(&inside, 1, memory_order_relaxed); }
static void leave(void) { atomic_fetch_sub_explicit(&inside, 1, memory_order_relaxed); }

static double product_macs(int M, int N, int K) { return (double)M * (double)N * (double)K; }

/* ------------------------------------------------- time by product shape */

typedef struct shape_row {
    const char *routine;
    int trans_a, trans_b, range[3]; /* range of M, N, K: exact to 64, then 2^k */
    long calls;
    double seconds, macs, sum[3];   /* sums of M, N, K, for the means */
} shape_row;

#define SHAPE_ROWS 4096
static shape_row shape_rows[SHAPE_ROWS];
static int shape_count;
static atomic_flag shape_lock = ATOMIC_FLAG_INIT;

static int shapes_on; /* $ATTEND_FLOPS_SHAPES is set: read once, before main */
__attribute__((constructor)) static void read_shapes_variable(void) {
    shapes_on = getenv("ATTEND_FLOPS_SHAPES") != NULL;
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int size_range(int d) {
    int r = 64;
    if (d <= r) return d;
    while (r < d) r *= 2;
    return r;
}

static void tally_shape(const char *routine, int ta, int tb, int M, int N, int K, double sec) {
    int range[3] = {size_range(M), size_range(N), size_range(K)};
    while (atomic_flag_test_and_set(&shape_lock)) {}
    shape_row *row = NULL;
    for (int i = 0; i < shape_count && !row; i++) {
        shape_row *r = &shape_rows[i];
        if (r->routine == routine && r->trans_a == ta && r->trans_b == tb &&
            !memcmp(r->range, range, sizeof range))
            row = r;
    }
    if (!row && shape_count < SHAPE_ROWS) {
        row = &shape_rows[shape_count++];
        *row = (shape_row){.routine = routine, .trans_a = ta, .trans_b = tb};
        memcpy(row->range, range, sizeof range);
    }
    if (row) {
        row->calls++;
        row->seconds += sec;
        row->macs += product_macs(M, N, K);
        row->sum[0] += M, row->sum[1] += N, row->sum[2] += K;
    }
    atomic_flag_clear(&shape_lock);
}

static int slower_first(const void *a, const void *b) {
    double x = ((const shape_row *)a)->seconds, y = ((const shape_row *)b)->seconds;
    return (x < y) - (x > y);
}

/* The file $variable names, opened with mode; NULL if unset or unopened. */
static FILE *open_named(const char *variable, const char *mode) {
    const char *path = getenv(variable);
    if (!path || !*path) return NULL;
    FILE *f = fopen(path, mode);
    if (!f) fprintf(stderr, "attend_flops: cannot write %s\n", path);
    return f;
}

static void report_shapes(void) {
    FILE *f = open_named("ATTEND_FLOPS_SHAPES", "w");
    if (!f) return;
    qsort(shape_rows, (size_t)shape_count, sizeof *shape_rows, slower_first);
    double total = 0;
    for (int i = 0; i < shape_count; i++) total += shape_rows[i].seconds;
    fprintf(f, "%-18s %-2s %9s %9s %9s %9s %9s %8s %6s\n", "routine", "op", "mean M", "mean N",
            "mean K", "calls", "seconds", "GFLOP/s", "share");
    for (int i = 0; i < shape_count && i < 40; i++) {
        const shape_row *r = &shape_rows[i];
        fprintf(f, "%-18s %c%c %9.0f %9.0f %9.0f %9ld %9.3f %8.1f %5.1f%%\n", r->routine,
                r->trans_a ? 'T' : 'N', r->trans_b ? 'T' : 'N', r->sum[0] / r->calls,
                r->sum[1] / r->calls, r->sum[2] / r->calls, r->calls, r->seconds,
                2e-9 * r->macs / r->seconds, 100 * r->seconds / total);
    }
    fprintf(f, "all products: %.3f s\n", total);
    fclose(f);
}

/* The wrapper of one product routine: count, then call the real one with
 * the same arguments (timed, outside any other wrapped routine, when
 * $ATTEND_FLOPS_SHAPES is set). The six ati_gemm routines share their first ten
 * parameters (op(A) is M x K, op(B) is K x N) and differ in the tail. */
#define GEMM_HEAD                                                                                  \
    int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,           \
        const float *B, int ldb
#define GEMM_HEAD_ARGS trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb
#define WRAP_GEMM(name, TAIL, TAIL_ARGS)                                                           \
    void __real_##name(GEMM_HEAD, TAIL);                                                           \
    void __wrap_##name(GEMM_HEAD, TAIL);                                                           \
    void __wrap_##name(GEMM_HEAD, TAIL) {                                                          \
        add_macs(product_macs(M, N, K));                                                           \
        int timed = shapes_on && atomic_load(&inside) == 0;                                        \
        double start = timed ? seconds_now() : 0;                                                  \
        enter();                                                                                   \
        __real_##name(GEMM_HEAD_ARGS, TAIL_ARGS);                                                  \
        leave();                                                                                   \
        if (timed) tally_shape(#name, trans_a, trans_b, M, N, K, seconds_now() - start);           \
    }
#define BETA_TAIL float beta, float *C, int ldc
#define BETA_TAIL_ARGS beta, C, ldc
#define THREADS_TAIL float beta, float *C, int ldc, int threads
#define THREADS_TAIL_ARGS beta, C, ldc, threads
#define BIAS_TAIL const float *bias, float *C, int ldc, int threads
#define BIAS_TAIL_ARGS bias, C, ldc, threads

WRAP_GEMM(ati_gemm, BETA_TAIL, BETA_TAIL_ARGS)
WRAP_GEMM(ati_gemm_small, BETA_TAIL, BETA_TAIL_ARGS)
WRAP_GEMM(ati_gemm_blas, BETA_TAIL, BETA_TAIL_ARGS)
WRAP_GEMM(ati_gemm_threads, THREADS_TAIL, THREADS_TAIL_ARGS)
WRAP_GEMM(ati_gemm_own, THREADS_TAIL, THREADS_TAIL_ARGS)
WRAP_GEMM(ati_gemm_bias, BIAS_TAIL, BIAS_TAIL_ARGS)

void __real_attn_weighted_sum(int threads, int B, int tq, int tk, int dv, const float *alpha,
                              const float *values, float *context);
void __wrap_attn_weighted_sum(int threads, int B, int tq, int tk, int dv, const float *alpha,
                              const float *values, float *context) {
    add_macs((double)B * tq * tk * dv);
    enter();
    __real_attn_weighted_sum(threads, B, tq, tk, dv, alpha, values, context);
    leave();
}
void __real_attn_weighted_sum_backward(int threads, int B, int tq, int tk, int dv,
                                       const float *alpha, const float *values,
                                       const float *d_context, float *d_alpha, float *d_values);
void __wrap_attn_weighted_sum_backward(int threads, int B, int tq, int tk, int dv,
                                       const float *alpha, const float *values,
                                       const float *d_context, float *d_alpha, float *d_values) {
    add_macs((double)B * tq * tk * dv * ((d_alpha != NULL) + (d_values != NULL)));
    enter();
    __real_attn_weighted_sum_backward(threads, B, tq, tk, dv, alpha, values, d_context, d_alpha,
                                      d_values);
    leave();
}

/* (query, key) pairs of one group that the mask leaves: query i sees keys
 * j <= i + (Tk - Tq) when causal (attention.h). */
static double kept_pairs(const attn_mask_view *mask, int tq, int tk) {
    if (!mask || !mask->causal) return (double)tq * tk;
    double pairs = 0;
    for (int i = 0; i < tq; i++) {
        int seen = i + 1 + (tk - tq);
        pairs += seen < 0 ? 0 : seen > tk ? tk : seen;
    }
    return pairs;
}

at_status __real_attn_dot_forward_scores(at_ctx *ctx, int G, int tq, int tk, int d, int dv,
                                         float scale, const float *q, const float *k,
                                         const float *v, const attn_mask_view *mask, float *out,
                                         float *lse, float *weights, float *scores);
at_status __wrap_attn_dot_forward_scores(at_ctx *ctx, int G, int tq, int tk, int d, int dv,
                                         float scale, const float *q, const float *k,
                                         const float *v, const attn_mask_view *mask, float *out,
                                         float *lse, float *weights, float *scores) {
    add_macs((double)G * kept_pairs(mask, tq, tk) * (d + dv));
    enter();
    at_status status = __real_attn_dot_forward_scores(ctx, G, tq, tk, d, dv, scale, q, k, v, mask,
                                                      out, lse, weights, scores);
    leave();
    return status;
}
at_status __real_attn_dot_forward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                  const float *q, const float *k, const float *v,
                                  const attn_mask_view *mask, float *out, float *lse,
                                  float *weights);
at_status __wrap_attn_dot_forward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                  const float *q, const float *k, const float *v,
                                  const attn_mask_view *mask, float *out, float *lse,
                                  float *weights) {
    add_macs((double)G * kept_pairs(mask, tq, tk) * (d + dv));
    enter();
    at_status status =
        __real_attn_dot_forward(ctx, G, tq, tk, d, dv, scale, q, k, v, mask, out, lse, weights);
    leave();
    return status;
}
at_status __real_attn_dot_backward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                   const float *q, const float *k, const float *v, const float *out,
                                   const float *lse, const float *d_out, const float *weights,
                                   const float *d_weights, const attn_mask_view *mask, float *dq,
                                   float *dk, float *d_v);
at_status __wrap_attn_dot_backward(at_ctx *ctx, int G, int tq, int tk, int d, int dv, float scale,
                                   const float *q, const float *k, const float *v, const float *out,
                                   const float *lse, const float *d_out, const float *weights,
                                   const float *d_weights, const attn_mask_view *mask, float *dq,
                                   float *dk, float *d_v) {
    add_macs((double)G * kept_pairs(mask, tq, tk) * (2.0 * d + 2.0 * dv));
    enter();
    at_status status = __real_attn_dot_backward(ctx, G, tq, tk, d, dv, scale, q, k, v, out, lse,
                                                d_out, weights, d_weights, mask, dq, dk, d_v);
    leave();
    return status;
}

/* At exit: the shape table, if asked for, and {"gflop": ...} into
 * $ATTEND_FLOPS_OUT (appended), if set. */
__attribute__((destructor)) static void report_flops(void) {
    report_shapes();
    FILE *f = open_named("ATTEND_FLOPS_OUT", "a");
    if (!f) return;
    fprintf(f, "{\"gflop\": %.9g}\n", 2.0 * (double)atomic_load(&mac_count) * 1e-9);
    fclose(f);
}
