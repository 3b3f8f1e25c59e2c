/*
 * gemm.c - one matrix product for the whole library.
 *
 * Recurrent layers at the sizes our users train multiply small matrices
 * (batch 32 by hidden 64) hundreds of times a step. Below a size cut-over
 * a register-blocked kernel written in plain C (the compiler vectorises
 * it) beats OpenBLAS's cblas_sgemm, which pays a fixed call overhead and,
 * for a single row of C, does not switch to a vector-matrix loop. Above
 * the cut-over, cblas_sgemm and its threads win. use_small_kernel() at the
 * bottom holds the rule; bench/gemm_cutover.c measured it.
 */
#include "internal.h"

#include <cblas.h>

/* ------------------------------------------------- the register-blocked kernel
 *
 * Every layout is reduced to one shape of work: a block of MR rows of C by
 * NR columns, C[i, j] += alpha * sum_k A(i, k) * P[k, j], where
 *
 *   A(i, k) = A[i * a_row + k * a_col]   (NN/NT: a_row = lda, a_col = 1;
 *                                         TN/TT: a_row = 1,   a_col = lda)
 *   P       = a (KC, NR) panel of op(B), copied into a zero-padded buffer
 *             on the stack, so that the kernel always reads NR contiguous
 *             floats per k, whatever the layout of B or the width left.
 *
 * The MR x NR accumulators live in registers for the whole k loop (the
 * fixed trip counts let the compiler unroll and vectorise them), which is
 * what makes this several times faster than updating a row of C in memory
 * for every k.
 */
#define MR 4   /* rows of C per block                       */
#define NR 32  /* columns of C per block (one panel width)   */
#define KC 128 /* depth of one panel: KC * NR floats = 16 KiB */

/* P (kc, NR) = columns j0 .. j0+cols of op(B), rows k0 .. k0+kc; zero beyond cols. */
static void pack_panel(int trans_b, const float *B, int ldb, int k0, int kc, int j0, int cols,
                       float *restrict P) {
    for (int k = 0; k < kc; k++)
        for (int j = cols; j < NR; j++) P[(size_t)k * NR + j] = 0.0f;
    if (trans_b) { /* B stored (N, K): read each row of B along k */
        for (int j = 0; j < cols; j++) {
            const float *b = B + (size_t)(j0 + j) * ldb + k0;
            for (int k = 0; k < kc; k++) P[(size_t)k * NR + j] = b[k];
        }
        return;
    }
    for (int k = 0; k < kc; k++) {
        const float *b = B + (size_t)(k0 + k) * ldb + j0;
        for (int j = 0; j < cols; j++) P[(size_t)k * NR + j] = b[j];
    }
}

/* C (rows, cols) += alpha * A(rows, kc) P(kc, NR); rows <= MR, cols <= NR. */
static void block_kernel(int rows, int cols, int kc, float alpha, const float *A, size_t a_row,
                         size_t a_col, const float *restrict P, float *C, int ldc) {
    float acc[MR][NR] = {{0.0f}};
    const float *a[MR];
    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(r < rows ? r : rows - 1) * a_row;
    for (int k = 0; k < kc; k++) {
        const float *p = P + (size_t)k * NR;
        for (int r = 0; r < MR; r++) {
            float ark = a[r][(size_t)k * a_col];
            for (int j = 0; j < NR; j++) acc[r][j] += ark * p[j];
        }
    }
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)r * ldc;
        for (int j = 0; j < cols; j++) c[j] += alpha * acc[r][j];
    }
}

/* C += alpha * op(A) op(B), panel by panel. */
static void small_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    float panel[KC * NR];
    size_t a_row = trans_a ? 1 : (size_t)lda, a_col = trans_a ? (size_t)lda : 1;
    for (int j0 = 0; j0 < N; j0 += NR) {
        int cols = N - j0 < NR ? N - j0 : NR;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            pack_panel(trans_b, B, ldb, k0, kc, j0, cols, panel);
            for (int i0 = 0; i0 < M; i0 += MR) {
                int rows = M - i0 < MR ? M - i0 : MR;
                const float *a = A + i0 * a_row + k0 * a_col;
                block_kernel(rows, cols, kc, alpha, a, a_row, a_col, panel,
                             C + (size_t)i0 * ldc + j0, ldc);
            }
        }
    }
}

/* C[0,:] += alpha * sum_k A(0, k) op(B)[k, :] : one row of C (a vector-matrix
 * product), where packing would cost as much as the product itself. */
static void small_row(int trans_a, int trans_b, int N, int K, float alpha, const float *A,
                      int lda, const float *B, int ldb, float *restrict C) {
    size_t a_col = trans_a ? (size_t)lda : 1;
    if (!trans_b) {
        for (int k = 0; k < K; k++) {
            float a = alpha * A[k * a_col];
            const float *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) C[j] += a * b[j];
        }
        return;
    }
    for (int j = 0; j < N; j++) {
        const float *b = B + (size_t)j * ldb;
        float sum = 0.0f;
        for (int k = 0; k < K; k++) sum += A[k * a_col] * b[k];
        C[j] += alpha * sum;
    }
}

static void scale_rows(int M, int N, float beta, float *C, int ldc) {
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        else
            for (int j = 0; j < N; j++) c[j] *= beta;
    }
}

/* The hand kernel alone, any size (bench/gemm_cutover.c times it). */
void at_gemm_small(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    scale_rows(M, N, beta, C, ldc);
    if (K <= 0) return;
    if (M == 1) small_row(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, C);
    else small_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

/* OpenBLAS alone, any size. */
void at_gemm_blas(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Which side of the cut-over a product falls on (bench/gemm_cutover.c):
 *   - one row of C (M = 1, B not transposed) is a vector-matrix product
 *     that cblas_sgemm runs 4-9x slower than the plain loop, at any size;
 *   - beyond AT_GEMM_SMALL_FLOPS multiply-adds BLAS wins (with its threads);
 *   - below it the blocked kernel wins, except where packing the panel
 *     costs as much as the product: B transposed with few rows of C, or A
 *     transposed with a shallow K. Those go to BLAS unless tiny. */
static int use_small_kernel(int trans_a, int trans_b, int M, int N, int K) {
    long work = (long)M * N * K;
    if (M == 1 && !trans_b) return 1;
    if (work > AT_GEMM_SMALL_FLOPS) return 0;
    if ((trans_b && M < 32) || (trans_a && K < 16)) return work <= 4096;
    return 1;
}

void at_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (use_small_kernel(trans_a, trans_b, M, N, K))
        at_gemm_small(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        at_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
