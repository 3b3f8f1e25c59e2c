/*
 * gemm.c - one matrix product for the whole library.
 *
 * Recurrent layers at the sizes our users train multiply tiny matrices
 * (batch 32 by hidden 64) hundreds of times a step. A BLAS call costs a
 * fixed overhead that dominates such products, so below a size cut-over
 * a plain loop, written so the compiler vectorises its inner loop over
 * contiguous memory, is faster. Above it, OpenBLAS's cblas_sgemm wins.
 */
#include "internal.h"

#include <cblas.h>

/* C[i,:] += alpha * sum_k A[i,k] B[k,:]  (A not transposed, B not transposed) */
static void small_nn(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        for (int k = 0; k < K; k++) {
            float a = alpha * A[(size_t)i * lda + k];
            const float *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

/* C[:, :] += alpha * A^T B : A stored (K, M) */
static void small_tn(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc) {
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb;
        for (int i = 0; i < M; i++) {
            float a = alpha * A[(size_t)k * lda + i];
            float *c = C + (size_t)i * ldc;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

/* C[i,j] += alpha * dot(A[i,:], B[j,:]) : B stored (N, K) */
static void small_nt(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        const float *a = A + (size_t)i * lda;
        float *c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) {
            const float *b = B + (size_t)j * ldb;
            float sum = 0.0f;
            for (int k = 0; k < K; k++) sum += a[k] * b[k];
            c[j] += alpha * sum;
        }
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

void at_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    long work = (long)M * N * K;
    if (work <= AT_GEMM_SMALL_FLOPS && !(trans_a && trans_b)) {
        scale_rows(M, N, beta, C, ldc);
        if (K <= 0) return;
        if (!trans_a && !trans_b) small_nn(M, N, K, alpha, A, lda, B, ldb, C, ldc);
        else if (trans_a) small_tn(M, N, K, alpha, A, lda, B, ldb, C, ldc);
        else small_nt(M, N, K, alpha, A, lda, B, ldb, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
