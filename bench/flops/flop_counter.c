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
 */
#include "attention.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

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

/* The wrapper of one product routine: count, then call the real one with
 * the same arguments. The six ati_gemm routines share their first ten
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
        enter();                                                                                   \
        __real_##name(GEMM_HEAD_ARGS, TAIL_ARGS);                                                  \
        leave();                                                                                   \
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

/* At exit: {"gflop": ...} into $ATTEND_FLOPS_OUT (appended), if set. */
__attribute__((destructor)) static void report_flops(void) {
    const char *path = getenv("ATTEND_FLOPS_OUT");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "attend_flops: cannot write %s\n", path);
        return;
    }
    fprintf(f, "{\"gflop\": %.9g}\n", 2.0 * (double)atomic_load(&mac_count) * 1e-9);
    fclose(f);
}
