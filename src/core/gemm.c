/*
 * gemm.c - one matrix product for the whole library.
 *
 * Recurrent layers at the sizes our users train multiply small and
 * mid-size matrices (batch 32 by hidden 64 per step; 30 steps x batch 128
 * rows by 4 gates x 32 for the input projections) hundreds of times a
 * step. attend has its own register-blocked kernel for all of these: it
 * pays no BLAS call overhead, uses the widest vectors the compiler targets
 * (512-bit with AVX-512, which a BLAS pinned to older kernels may not),
 * and can split one product between the context's threads. Only very
 * large products go to cblas_sgemm. use_own_kernel() at the bottom holds
 * the rule; bench/gemm_cutover.c measured it.
 *
 * The kernel (Goto's scheme, with A read in place):
 *
 *   for each block of NC columns of C, for each slice of KC of the depth:
 *       pack the (KC, NC) block of op(B) into NR-wide panels,
 *           P[panel][k][0 .. NR)  (zero-padded past N; contiguous in k)
 *       - unless B is not transposed and the block's panels are whole:
 *         then B's own rows already hold NR contiguous floats per k, and
 *         the kernel reads them in place (stride ldb)
 *       for each block of MR rows of C, for each panel:
 *           C[MR, NR] (+)= alpha * A(MR rows, KC) P(KC, NR)
 *
 * The MR x NR accumulators of one block live in vector registers for the
 * whole KC loop: per k, NR/VL vector loads of the panel, MR scalar
 * broadcasts of A, MR * NR/VL fused multiply-adds. A is read where it lies,
 *
 *   A(i, k) = A[i * a_row + k * a_col]   (NN/NT: a_row = lda, a_col = 1;
 *                                         TN/TT: a_row = 1,   a_col = lda)
 *
 * because a broadcast is a load either way, and its MR x KC block stays in
 * L1 while it meets every panel of the B block (which stays in L2).
 *
 * at_gemm_bias folds a layer's bias into the first slice (C = A B + b,
 * written once, never read), saving a pass over C.
 *
 * Threads (at_gemm_threads): the rows of C (or, for few rows, the panels)
 * are cut into one contiguous range per thread. Each thread packs what it
 * needs and computes its own elements; every element is summed over k in
 * the same order whatever the cut, so the result is bit-identical for any
 * thread count.
 *
 * Vectors are GCC/Clang vector extensions: the same source compiles to
 * 512-bit code with AVX-512, 256-bit with AVX, 128-bit otherwise; other
 * compilers get a plain C loop of the same shape.
 */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define GEMM_VECTORS 1
#if defined(__AVX512F__)
#define VL 16 /* floats per vector register                */
#define MR 8  /* rows of C per block (2*MR accumulators)   */
#elif defined(__AVX__)
#define VL 8
#define MR 6
#else
#define VL 4
#define MR 6
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define GEMM_VECTORS 0
#define VL 8
#define MR 4
#define ALWAYS_INLINE inline
#endif

#define NR (2 * VL) /* columns of C per block: one panel          */
#define KC 128      /* depth of one packed slice                  */
#define NC (4 * NR) /* columns per packed block: KC * NC floats, 64 KiB with AVX-512 */

/* ------------------------------------------------------------------ packing */

/* P = panels of op(B) rows k0 .. k0+kc, columns j0 .. j0+nc: panel p holds
 * columns j0 + p*NR .. +NR as P[p*kc*NR + k*NR + j], zero past nc.
 * Whole panel rows move as fixed-size copies (inlined: no memcpy call per
 * row); only the last, partial panel goes element by element. */
static void pack_block(int trans_b, const float *B, int ldb, int k0, int kc, int j0, int nc,
                       float *restrict P) {
    static const float zeros[NR];
    for (int p0 = 0; p0 < nc; p0 += NR) {
        int cols = nc - p0 < NR ? nc - p0 : NR;
        float *panel = P + (size_t)(p0 / NR) * kc * NR;
        if (cols < NR)
            for (int k = 0; k < kc; k++) memcpy(panel + (size_t)k * NR, zeros, sizeof zeros);
        if (trans_b) { /* B stored (N, K): column j of op(B) is row j of B */
            for (int j = 0; j < cols; j++) {
                const float *b = B + (size_t)(j0 + p0 + j) * ldb + k0;
                for (int k = 0; k < kc; k++) panel[(size_t)k * NR + j] = b[k];
            }
        } else if (cols == NR) {
            for (int k = 0; k < kc; k++)
                memcpy(panel + (size_t)k * NR, B + (size_t)(k0 + k) * ldb + j0 + p0,
                       NR * sizeof(float));
        } else {
            for (int k = 0; k < kc; k++) {
                const float *b = B + (size_t)(k0 + k) * ldb + j0 + p0;
                float *row = panel + (size_t)k * NR;
                for (int j = 0; j < cols; j++) row[j] = b[j];
            }
        }
    }
}

/* ------------------------------------------------------------ the kernel */

/* C (rows, cols) = or += alpha * A(rows, kc) P(kc, NR); rows <= MR,
 * cols <= NR; row k of P at P + k * ldp (NR when packed). overwrite: C is
 * not read (the first slice of a beta = 0 product), and bias (cols), if
 * not NULL, is added to every row. a_row / a_col are literals at every
 * call, so each layout gets its own specialised copy. */
static ALWAYS_INLINE void block_kernel(int rows, int cols, int kc, float alpha, const float *A,
                                       size_t a_row, size_t a_col, const float *restrict P,
                                       size_t ldp, float *C, int ldc, int overwrite,
                                       const float *bias) {
    const float *a[MR];
    for (int r = 0; r < MR; r++) a[r] = A + (size_t)(r < rows ? r : rows - 1) * a_row;
#if GEMM_VECTORS
    vf acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = (vf){0};
    for (int k = 0; k < kc; k++) {
        vf b0, b1;
        memcpy(&b0, P + (size_t)k * ldp, sizeof b0);
        memcpy(&b1, P + (size_t)k * ldp + VL, sizeof b1);
        for (int r = 0; r < MR; r++) {
            float ark = a[r][(size_t)k * a_col];
            acc[r][0] += ark * b0;
            acc[r][1] += ark * b1;
        }
    }
    if (rows == MR && cols == NR) { /* a whole block: straight vector stores */
        vf bias0 = {0}, bias1 = {0};
        if (overwrite && bias) {
            memcpy(&bias0, bias, sizeof bias0);
            memcpy(&bias1, bias + VL, sizeof bias1);
        }
        for (int r = 0; r < MR; r++) {
            float *c = C + (size_t)r * ldc;
            vf c0 = alpha * acc[r][0] + bias0, c1 = alpha * acc[r][1] + bias1;
            if (!overwrite) {
                vf o0, o1;
                memcpy(&o0, c, sizeof o0);
                memcpy(&o1, c + VL, sizeof o1);
                c0 += o0;
                c1 += o1;
            }
            memcpy(c, &c0, sizeof c0);
            memcpy(c + VL, &c1, sizeof c1);
        }
        return;
    }
    float tile[MR][NR];
    memcpy(tile, acc, sizeof tile);
#else
    float tile[MR][NR] = {{0.0f}};
    for (int k = 0; k < kc; k++) {
        const float *p = P + (size_t)k * ldp;
        for (int r = 0; r < MR; r++) {
            float ark = a[r][(size_t)k * a_col];
            for (int j = 0; j < NR; j++) tile[r][j] += ark * p[j];
        }
    }
#endif
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)r * ldc;
        if (overwrite && bias)
            for (int j = 0; j < cols; j++) c[j] = alpha * tile[r][j] + bias[j];
        else if (overwrite)
            for (int j = 0; j < cols; j++) c[j] = alpha * tile[r][j];
        else
            for (int j = 0; j < cols; j++) c[j] += alpha * tile[r][j];
    }
}

static void block_kernel_n(int rows, int cols, int kc, float alpha, const float *A, int lda,
                           const float *restrict P, size_t ldp, float *C, int ldc,
                           int overwrite, const float *bias) {
    block_kernel(rows, cols, kc, alpha, A, (size_t)lda, 1, P, ldp, C, ldc, overwrite, bias);
}

static void block_kernel_t(int rows, int cols, int kc, float alpha, const float *A, int lda,
                           const float *restrict P, size_t ldp, float *C, int ldc,
                           int overwrite, const float *bias) {
    block_kernel(rows, cols, kc, alpha, A, 1, (size_t)lda, P, ldp, C, ldc, overwrite, bias);
}

/* C[i0..i1, j0..j1] *= beta (beta != 0, 1). */
static void scale_rows(int i0, int i1, int j0, int j1, float beta, float *C, int ldc) {
    for (int i = i0; i < i1; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = j0; j < j1; j++) c[j] *= beta;
    }
}

/* The rows i0 .. i1 and columns j0 .. j1 of C = alpha op(A) op(B) + beta C,
 * or, when bias (N) is not NULL, of C = alpha op(A) op(B) + bias in every
 * row (beta must then be 0). */
static void gemm_range(int trans_a, int trans_b, int i0, int i1, int j0, int j1, int K,
                       float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                       const float *bias, float *C, int ldc) {
    if (i0 >= i1 || j0 >= j1) return;
    if (K <= 0 || alpha == 0.0f) {
        for (int i = i0; i < i1 && (beta != 1.0f || bias); i++)
            for (int j = j0; j < j1; j++)
                C[(size_t)i * ldc + j] = bias           ? bias[j]
                                         : beta == 0.0f ? 0.0f
                                                        : beta * C[(size_t)i * ldc + j];
        return;
    }
    if (beta != 0.0f && beta != 1.0f) scale_rows(i0, i1, j0, j1, beta, C, ldc);
    float packed[KC * NC];
    size_t a_row = trans_a ? 1 : (size_t)lda, a_col = trans_a ? (size_t)lda : 1;
    for (int jb = j0; jb < j1; jb += NC) {
        int nc = j1 - jb < NC ? j1 - jb : NC;
        /* B not transposed with whole panels: its rows already hold NR
         * contiguous floats, so the kernel reads B in place (stride ldb)
         * and nothing is packed. */
        int in_place = !trans_b && nc % NR == 0;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            int overwrite = k0 == 0 && beta == 0.0f;
            if (!in_place) pack_block(trans_b, B, ldb, k0, kc, jb, nc, packed);
            for (int i = i0; i < i1; i += MR) {
                int rows = i1 - i < MR ? i1 - i : MR;
                const float *a = A + (size_t)i * a_row + (size_t)k0 * a_col;
                for (int p0 = 0; p0 < nc; p0 += NR) {
                    int cols = nc - p0 < NR ? nc - p0 : NR;
                    const float *panel = in_place ? B + (size_t)k0 * ldb + jb + p0
                                                  : packed + (size_t)(p0 / NR) * kc * NR;
                    size_t ldp = in_place ? (size_t)ldb : NR;
                    float *c = C + (size_t)i * ldc + jb + p0;
                    const float *bias_cols = bias ? bias + jb + p0 : NULL;
                    if (trans_a)
                        block_kernel_t(rows, cols, kc, alpha, a, lda, panel, ldp, c, ldc,
                                       overwrite, bias_cols);
                    else
                        block_kernel_n(rows, cols, kc, alpha, a, lda, panel, ldp, c, ldc,
                                       overwrite, bias_cols);
                }
            }
        }
    }
}

/* C[0,:] = alpha * sum_k A(0, k) op(B)[k, :] + beta C[0,:] (or + bias): one
 * row of C (a vector-matrix product), where packing would cost as much as
 * the product. */
static void gemm_row(int trans_a, int trans_b, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, const float *bias,
                     float *restrict C) {
    size_t a_col = trans_a ? (size_t)lda : 1;
    if (bias) memcpy(C, bias, (size_t)N * sizeof(float));
    else
        for (int j = 0; j < N && beta != 1.0f; j++) C[j] = beta == 0.0f ? 0.0f : beta * C[j];
    if (!trans_b) {
        for (int k = 0; k < K; k++) {
            float a = alpha * A[k * a_col];
            const float *b = B + (size_t)k * ldb;
            for (int j = 0; j < N; j++) C[j] += a * b[j];
        }
        return;
    }
    /* B transposed: each C[j] is a dot product of two contiguous rows when A
     * is a row. LANES partial sums let the compiler vectorise it without
     * reassociating (the order is fixed, so results do not vary). */
    enum { LANES = 16 };
    for (int j = 0; j < N; j++) {
        const float *b = B + (size_t)j * ldb;
        float partial[LANES] = {0};
        int k = 0;
        if (a_col == 1)
            for (; k + LANES <= K; k += LANES)
                for (int l = 0; l < LANES; l++) partial[l] += A[k + l] * b[k + l];
        float sum = 0.0f;
        for (int l = 0; l < LANES; l++) sum += partial[l];
        for (; k < K; k++) sum += A[k * a_col] * b[k];
        C[j] += alpha * sum;
    }
}

/* Products below this many multiply-adds (about a microsecond of work per
 * thread) run on one thread whatever the caller allows: opening a parallel
 * region costs about that much. Measured: raising it to 2^21 (keeping the
 * decoder's per-step products serial) made 2-thread steps slower, not
 * faster, because between fewer regions libgomp's worker goes to sleep and
 * waking it costs more than the regions saved. */
#define GEMM_PARALLEL_MIN (1L << 18)

/* C = alpha op(A) op(B) + (bias ? bias : beta C), on up to `threads`. */
static void gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, const float *bias, float *C,
                     int ldc, int threads) {
    if (M <= 0 || N <= 0) return;
    if (M == 1) {
        gemm_row(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, beta, bias, C);
        return;
    }
    int row_blocks = (M + MR - 1) / MR, panels = (N + NR - 1) / NR;
    long work = (long)M * N * K;
    if (threads > row_blocks * panels) threads = row_blocks * panels;
    if (threads <= 1 || work < GEMM_PARALLEL_MIN) {
        gemm_range(trans_a, trans_b, 0, M, 0, N, K, alpha, A, lda, B, ldb, beta, bias, C, ldc);
        return;
    }
    /* Cut the rows (in whole MR blocks) when there are enough of them for
     * every thread, else the columns (in whole panels). */
    int by_rows = row_blocks >= 2 * threads || row_blocks >= panels;
#pragma omp parallel num_threads(threads)
    {
        int n = omp_get_num_threads(), t = omp_get_thread_num();
        int units = by_rows ? row_blocks : panels, unit = by_rows ? MR : NR;
        int lo = (int)((long)units * t / n) * unit, hi = (int)((long)units * (t + 1) / n) * unit;
        int end = by_rows ? M : N;
        if (hi > end) hi = end;
        if (by_rows)
            gemm_range(trans_a, trans_b, lo, hi, 0, N, K, alpha, A, lda, B, ldb, beta, bias, C,
                       ldc);
        else
            gemm_range(trans_a, trans_b, 0, M, lo, hi, K, alpha, A, lda, B, ldb, beta, bias, C,
                       ldc);
    }
}

void at_gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc, int threads) {
    gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, NULL, C, ldc, threads);
}

/* The hand kernel alone, one thread, any size (bench/gemm_cutover.c times it). */
void at_gemm_small(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    at_gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
}

/* OpenBLAS alone, any size. */
void at_gemm_blas(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Which side of the cut-over a product falls on (bench/gemm_cutover.c):
 * the own kernel up to AT_GEMM_OWN_FLOPS multiply-adds, and one row of C
 * (a vector-matrix product that cblas_sgemm runs several times slower
 * than the plain loop) at any size; cblas_sgemm beyond. */
static int use_own_kernel(int M, int N, int K) {
    return M == 1 || (long)M * N * K <= AT_GEMM_OWN_FLOPS;
}

void at_gemm_threads(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     int threads) {
    if (M <= 0 || N <= 0) return;
    if (use_own_kernel(M, N, K))
        at_gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    else
        at_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void at_gemm_bias(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, const float *bias, float *C, int ldc,
                  int threads) {
    if (M <= 0 || N <= 0) return;
    if (use_own_kernel(M, N, K)) {
        gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, bias, C, ldc, threads);
        return;
    }
    for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof(float));
    at_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 1.0f, C, ldc);
}

void at_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    at_gemm_threads(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
}
