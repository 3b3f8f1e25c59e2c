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
 *   for each block of GEMM_MC rows of C (its rows of A stay in L2),
 *   for each block of NC columns of C, for each slice of KC of the depth:
 *       pack the (KC, NC) block of op(B) into NR-wide panels,
 *           P[panel][k][0 .. NR)  (zero-padded past N; contiguous in k)
 *       - unless B is not transposed and the block's panels are whole:
 *         then B's own rows already hold NR contiguous floats per k, and
 *         the kernel reads them in place (stride ldb)
 *       for each block of MR rows of C, for each panel:
 *           C[MR, NR] (+)= alpha * A(MR rows, KC) P(KC, NR)
 *       (a panel at the right edge of C with fewer columns gets the
 *       kernel of the fewest vectors that cover them)
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
 * ati_gemm_bias folds a layer's bias into the first slice (C = A B + b,
 * written once, never read), saving a pass over C.
 *
 * Three shapes take other roads, each where the blocked product would
 * spend more on packing and calls than on multiply-adds:
 *   - few rows (M <= 64) against a transposed B (a layer's Y = X W^T at
 *     batch 32): computed as C^T = B op(A)^T, broadcasting the weights in
 *     place and packing only the M rows of A (gemm_range_swapped);
 *   - one row (batch-1 inference): gemm_row, vector dot products or
 *     row updates, on both threads for large weights;
 *   - depth one (an outer product): gemm_outer.
 *
 * Threads (ati_gemm_threads): the rows of C (or, for few rows, the panels)
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
#include "fastmath.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GEMM_VECTORS 1
#if defined(__AVX512F__)
#define VL 16 /* floats per vector register                */
/* The block of C one kernel call keeps in registers: MR rows by NV
 * vectors, MR * NV accumulators of the 32 registers. Per k it loads NV
 * vectors of the panel and broadcasts MR floats of A: 6 x 4 makes 24
 * FMAs for 10 loads, where 12 x 2 made 24 for 14; measured (CPU time, one
 * core) +4-13% on every shape the models make but one, e.g. dW
 * (1024, 320, 640) 122 -> 138 GFLOP/s, (4096, 128, 128) 145 -> 162. */
#define MR 6
#define NV 4
/* The swapped product (few rows of C, see gemm_range_swapped) keeps 12 x 2:
 * its panels are the few rows, 32 or 64 of them, and a 64-wide panel lost
 * 10% at 64 rows (115 -> 103 GFLOP/s) and half its lanes at 32. */
#define MR_SWAP 12
#define NV_SWAP 2
#elif defined(__AVX__)
#define VL 8
#define MR 6
#define NV 2
#define MR_SWAP 6
#define NV_SWAP 2
#else
#define VL 4
#define MR 6
#define NV 2
#define MR_SWAP 6
#define NV_SWAP 2
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define GEMM_VECTORS 0
#define VL 8
#define MR 4
#define NV 2
#define MR_SWAP 4
#define NV_SWAP 2
#define ALWAYS_INLINE inline
#endif

#define NR (NV * VL)           /* columns of C per block: one panel         */
#define NR_SWAP (NV_SWAP * VL) /* the same for the swapped product          */
#define MR_MAX (MR > MR_SWAP ? MR : MR_SWAP)
#define NV_MAX (NV > NV_SWAP ? NV : NV_SWAP)
#define KC 128                 /* depth of one packed slice                 */
#define NC (8 * VL)            /* columns per packed block: KC * NC floats,
                                  64 KiB with AVX-512; a multiple of both NRs */

/* ------------------------------------------------------------------ packing */

#if defined(__AVX512F__)
/* The 16 x 16 square src (row r at src + r * lds) transposed into dst (row k
 * at dst + k * ldd): dst[k][r] = src[r][k]. In registers: 16 loads, four
 * rounds of shuffles (32-bit pairs, 64-bit pairs, then 128-bit lanes twice)
 * and 16 stores, where one float at a time costs 256 scattered stores. */
static inline void transpose16(const float *src, size_t lds, float *dst, size_t ldd) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (size_t)i * lds);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
    for (int k = 0; k < 16; k++) _mm512_storeu_ps(dst + (size_t)k * ldd, r[k]);
}
#endif

void ati_transpose(float *dst, size_t ldd, const float *src, size_t lds, int rows, int cols) {
    enum { SQUARE = 16 };
    for (int r0 = 0; r0 < rows; r0 += SQUARE)
        for (int c0 = 0; c0 < cols; c0 += SQUARE) {
            int r1 = rows - r0 < SQUARE ? rows : r0 + SQUARE;
            int c1 = cols - c0 < SQUARE ? cols : c0 + SQUARE;
#if defined(__AVX512F__)
            if (r1 - r0 == SQUARE && c1 - c0 == SQUARE) {
                transpose16(src + (size_t)r0 * lds + c0, lds, dst + (size_t)c0 * ldd + r0, ldd);
                continue;
            }
#endif
            for (int c = c0; c < c1; c++)
                for (int r = r0; r < r1; r++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
        }
}

/* P = panels of op(B) rows k0 .. k0+kc, columns j0 .. j0+nc: panel p holds
 * columns j0 + p*nr .. +nr as P[p*kc*nr + k*nr + j], zero past nc (nr: NR
 * or NR_SWAP, a constant at each call). Whole panel rows move as
 * fixed-size copies (inlined: no memcpy call per row); only the last,
 * partial panel goes element by element. */
static ALWAYS_INLINE void pack_panels(int nr, int trans_b, const float *B, int ldb, int k0,
                                      int kc, int j0, int nc, float *restrict P) {
    static const float zeros[NV_MAX * VL];
    for (int p0 = 0; p0 < nc; p0 += nr) {
        int cols = nc - p0 < nr ? nc - p0 : nr;
        float *panel = P + (size_t)(p0 / nr) * kc * nr;
        if (cols < nr)
            for (int k = 0; k < kc; k++) memcpy(panel + (size_t)k * nr, zeros, nr * sizeof(float));
        if (trans_b) { /* B stored (N, K): column j of op(B) is row j of B */
            ati_transpose(panel, (size_t)nr, B + (size_t)(j0 + p0) * ldb + k0, (size_t)ldb, cols,
                          kc);
        } else if (cols == nr) {
            for (int k = 0; k < kc; k++)
                memcpy(panel + (size_t)k * nr, B + (size_t)(k0 + k) * ldb + j0 + p0,
                       nr * sizeof(float));
        } else {
            for (int k = 0; k < kc; k++) {
                const float *b = B + (size_t)(k0 + k) * ldb + j0 + p0;
                float *row = panel + (size_t)k * nr;
                for (int j = 0; j < cols; j++) row[j] = b[j];
            }
        }
    }
}

/* pack_panels for the main product's panels (NR wide) and the swapped one's. */
static void pack_block(int trans_b, const float *B, int ldb, int k0, int kc, int j0, int nc,
                       float *restrict P) {
    pack_panels(NR, trans_b, B, ldb, k0, kc, j0, nc, P);
}

static void pack_block_swap(int trans_b, const float *B, int ldb, int k0, int kc, int j0, int nc,
                            float *restrict P) {
    pack_panels(NR_SWAP, trans_b, B, ldb, k0, kc, j0, nc, P);
}

/* Rows of C up to which a B that is not transposed is read in place rather
 * than packed (gemm_range). */
#define GEMM_IN_PLACE_MAX_M 64
/* Rows of C per row block of gemm_range (a multiple of MR). */
#define GEMM_MC 384

/* ------------------------------------------------------------ the kernel */

/* C (rows, cols) = or += alpha * A(rows, kc) P(kc, nv * VL); rows <= mr,
 * cols <= nv * VL; row k of P at P + k * ldp (NR or NR_SWAP when packed).
 * overwrite: C is not read (the first slice of a beta = 0 product), and
 * bias (cols), if not NULL, is added to every row. mr, nv, a_row and a_col
 * are literals at every call, so each shape and layout gets its own
 * specialised copy, and the accumulators it does not use vanish. */
static ALWAYS_INLINE void block_kernel(int mr, int nv, int rows, int cols, int kc, float alpha,
                                       const float *A, size_t a_row, size_t a_col,
                                       const float *restrict P, size_t ldp, float *C, int ldc,
                                       int overwrite, const float *bias, int store_transposed) {
    const int nr = nv * VL;
    const float *a[MR_MAX];
    for (int r = 0; r < mr; r++) a[r] = A + (size_t)(r < rows ? r : rows - 1) * a_row;
#if GEMM_VECTORS
    vf acc[MR_MAX][NV_MAX];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = (vf){0};
    for (int k = 0; k < kc; k++) {
        vf b[NV_MAX];
        for (int v = 0; v < nv; v++) memcpy(&b[v], P + (size_t)k * ldp + v * VL, sizeof b[v]);
        for (int r = 0; r < mr; r++) {
            float ark = a[r][(size_t)k * a_col];
            for (int v = 0; v < nv; v++) acc[r][v] += ark * b[v];
        }
    }
    if (rows == mr && cols == nr && !store_transposed) { /* a whole block: vector stores */
        vf bias_v[NV_MAX];
        for (int v = 0; v < nv; v++) {
            bias_v[v] = (vf){0};
            if (overwrite && bias) memcpy(&bias_v[v], bias + v * VL, sizeof bias_v[v]);
        }
        for (int r = 0; r < mr; r++) {
            float *c = C + (size_t)r * ldc;
            for (int v = 0; v < nv; v++) {
                vf cv = alpha * acc[r][v] + bias_v[v];
                if (!overwrite) {
                    vf old;
                    memcpy(&old, c + v * VL, sizeof old);
                    cv += old;
                }
                memcpy(c + v * VL, &cv, sizeof cv);
            }
        }
        return;
    }
    float tile[MR_MAX][NV_MAX * VL];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) memcpy(&tile[r][v * VL], &acc[r][v], sizeof acc[r][v]);
#else
    float tile[MR_MAX][NV_MAX * VL] = {{0.0f}};
    for (int k = 0; k < kc; k++) {
        const float *p = P + (size_t)k * ldp;
        for (int r = 0; r < mr; r++) {
            float ark = a[r][(size_t)k * a_col];
            for (int j = 0; j < nr; j++) tile[r][j] += ark * p[j];
        }
    }
#endif
    if (store_transposed) { /* the tile is a block of C^T: tile[r][j] -> C[j][r] */
        for (int j = 0; j < cols; j++) {
            float *c = C + (size_t)j * ldc;
            for (int r = 0; r < rows; r++)
                c[r] = alpha * tile[r][j] + (overwrite ? (bias ? bias[r] : 0.0f) : c[r]);
        }
        return;
    }
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

/* The kernel's three uses, each with its layout in literals: A read in
 * place by rows (n) or by columns (t: a transposed A), and n storing the
 * tile transposed (the swapped product below).
 *
 * A panel at the right edge of C holds fewer than NR columns: N = 150 (a
 * GRU of 50: three gates) ends in 22, N = 100 in 36. The full kernel
 * would multiply the padding too (42 of every 192 columns at N = 150), so
 * the edge gets the kernel of the fewest vectors that cover it. Each
 * element still sums the same products in the same order: the result is
 * the same, bit for bit. */
#define BLOCK_KERNEL_COVERING(a_row, a_col)                                                      \
    do {                                                                                         \
        if (NV > 1 && cols <= VL)                                                                \
            block_kernel(MR, 1, rows, cols, kc, alpha, A, a_row, a_col, P, ldp, C, ldc,          \
                         overwrite, bias, 0);                                                    \
        else if (NV > 2 && cols <= 2 * VL)                                                       \
            block_kernel(MR, 2, rows, cols, kc, alpha, A, a_row, a_col, P, ldp, C, ldc,          \
                         overwrite, bias, 0);                                                    \
        else if (NV > 3 && cols <= 3 * VL)                                                       \
            block_kernel(MR, 3, rows, cols, kc, alpha, A, a_row, a_col, P, ldp, C, ldc,          \
                         overwrite, bias, 0);                                                    \
        else                                                                                     \
            block_kernel(MR, NV, rows, cols, kc, alpha, A, a_row, a_col, P, ldp, C, ldc,         \
                         overwrite, bias, 0);                                                    \
    } while (0)

static void block_kernel_n(int rows, int cols, int kc, float alpha, const float *A, int lda,
                           const float *restrict P, size_t ldp, float *C, int ldc,
                           int overwrite, const float *bias) {
    BLOCK_KERNEL_COVERING((size_t)lda, 1);
}

static void block_kernel_t(int rows, int cols, int kc, float alpha, const float *A, int lda,
                           const float *restrict P, size_t ldp, float *C, int ldc,
                           int overwrite, const float *bias) {
    BLOCK_KERNEL_COVERING(1, (size_t)lda);
}

static void block_kernel_swapped(int rows, int cols, int kc, float alpha, const float *A,
                                 int lda, const float *restrict P, float *C, int ldc,
                                 int overwrite, const float *bias) {
    block_kernel(MR_SWAP, NV_SWAP, rows, cols, kc, alpha, A, (size_t)lda, 1, P, NR_SWAP, C, ldc,
                 overwrite, bias, 1);
}

/* C[i0..i1, j0..j1] *= beta (beta != 0, 1). */
static void scale_rows(int i0, int i1, int j0, int j1, float beta, float *C, int ldc) {
    for (int i = i0; i < i1; i++) {
        float *c = C + (size_t)i * ldc;
        for (int j = j0; j < j1; j++) c[j] *= beta;
    }
}

/* Writes C[i0..i1, j0..j1] = bias or beta * C when there is nothing to
 * multiply (K = 0 or alpha = 0); returns whether it did. */
static int gemm_trivial(int i0, int i1, int j0, int j1, int K, float alpha, float beta,
                        const float *bias, float *C, int ldc) {
    if (K > 0 && alpha != 0.0f) return 0;
    for (int i = i0; i < i1 && (beta != 1.0f || bias); i++)
        for (int j = j0; j < j1; j++)
            C[(size_t)i * ldc + j] = bias           ? bias[j]
                                     : beta == 0.0f ? 0.0f
                                                    : beta * C[(size_t)i * ldc + j];
    return 1;
}

/* gemm_range's work on the rows i0 .. i1 of one row block (at most
 * GEMM_MC): every column block, every depth slice. few_rows: the whole
 * range is at most GEMM_IN_PLACE_MAX_M rows (see below). */
static void gemm_rows_block(int trans_a, int trans_b, int i0, int i1, int j0, int j1, int K,
                            float alpha, const float *A, int lda, const float *B, int ldb,
                            float beta, const float *bias, float *C, int ldc, int few_rows,
                            float *packed) {
    size_t a_row = trans_a ? 1 : (size_t)lda, a_col = trans_a ? (size_t)lda : 1;
    for (int jb = j0; jb < j1; jb += NC) {
        int nc = j1 - jb < NC ? j1 - jb : NC;
        /* B not transposed with whole panels, against few rows: its rows
         * already hold NR contiguous floats, so the kernel reads B in place
         * (stride ldb) and nothing is packed. Against many rows packing
         * pays: a panel read in place is KC rows ldb apart, and with a
         * power-of-two ldb they fall into a few of L1's sets and evict each
         * other, so every pass over the panel came from L2 (bench/
         * gemm_cutover.c: (4096, 512, 128) 76 -> 81% of the FMA peak,
         * dW (1024, 256, 2560) 62 -> 72%; at 32 rows packing lost). */
        int in_place = !trans_b && nc % NR == 0 && few_rows;
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

/* The rows i0 .. i1 and columns j0 .. j1 of C = alpha op(A) op(B) + beta C,
 * or, when bias (N) is not NULL, of C = alpha op(A) op(B) + bias in every
 * row (beta must then be 0).
 *
 * The rows go in blocks of GEMM_MC, each through every column block of C:
 * a block's rows of A stay in L2 while they meet all of B. Without the
 * blocks, a product of tens of thousands of rows (a layer's input
 * projection over a whole batch of sequences) read all of A from memory
 * once for every NC columns of C. Each block packs B again, 1 / GEMM_MC
 * of its multiply-adds. */
static void gemm_range(int trans_a, int trans_b, int i0, int i1, int j0, int j1, int K,
                       float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                       const float *bias, float *C, int ldc) {
    if (i0 >= i1 || j0 >= j1) return;
    if (gemm_trivial(i0, i1, j0, j1, K, alpha, beta, bias, C, ldc)) return;
    if (beta != 0.0f && beta != 1.0f) scale_rows(i0, i1, j0, j1, beta, C, ldc);
    float packed[KC * NC];
    int few_rows = i1 - i0 <= GEMM_IN_PLACE_MAX_M;
    for (int ib = i0; ib < i1; ib += GEMM_MC) {
        int ie = i1 - ib < GEMM_MC ? i1 : ib + GEMM_MC;
        gemm_rows_block(trans_a, trans_b, ib, ie, j0, j1, K, alpha, A, lda, B, ldb, beta, bias, C,
                        ldc, few_rows, packed);
    }
}

/* The same product computed as its transpose, for few rows of C:
 *
 *     C^T (N, M) = op(B)^T (N, K) op(A)^T (K, M)
 *
 * The kernel then broadcasts op(B) (a layer's weights, read once, in place
 * when B is transposed) and packs op(A)^T, which for M rows is only M * K
 * floats, where the direct product would pack all of op(B) (K * N) on
 * every call to use each packed float M times. The tile is stored
 * transposed. Columns j0 .. j1 of C (rows of C^T), all M rows. */
static void gemm_range_swapped(int trans_a, int M, int j0, int j1, int K, float alpha,
                               const float *A, int lda, const float *B, int ldb, float beta,
                               const float *bias, float *C, int ldc) {
    if (j0 >= j1) return;
    if (gemm_trivial(0, M, j0, j1, K, alpha, beta, bias, C, ldc)) return;
    if (beta != 0.0f && beta != 1.0f) scale_rows(0, M, j0, j1, beta, C, ldc);
    float packed[KC * NC];
    for (int ib = 0; ib < M; ib += NC) {
        int mc = M - ib < NC ? M - ib : NC;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            int overwrite = k0 == 0 && beta == 0.0f;
            // op(A)^T (k, i) = op(A)(i, k): row i of A unless A is transposed
            pack_block_swap(!trans_a, A, lda, k0, kc, ib, mc, packed);
            for (int j = j0; j < j1; j += MR_SWAP) {
                int rows = j1 - j < MR_SWAP ? j1 - j : MR_SWAP;
                const float *w = B + (size_t)j * ldb + k0; // op(B)^T = B: rows j.., depth k0..
                for (int p0 = 0; p0 < mc; p0 += NR_SWAP) {
                    int cols = mc - p0 < NR_SWAP ? mc - p0 : NR_SWAP;
                    const float *panel = packed + (size_t)(p0 / NR_SWAP) * kc * NR_SWAP;
                    float *c = C + (size_t)(ib + p0) * ldc + j;
                    const float *bias_rows = bias ? bias + j : NULL;
                    block_kernel_swapped(rows, cols, kc, alpha, w, ldb, panel, c, ldc, overwrite,
                                         bias_rows);
                }
            }
        }
    }
}

/* C[0,:] = alpha * sum_k A(0, k) op(B)[k, :] + beta C[0,:] (or + bias): one
 * row of C (a vector-matrix product), where packing would cost as much as
 * the product. Either way each element of B is read once and used once,
 * so the loops are built to keep the loads streaming: */
#if GEMM_VECTORS
/* B not transposed: C[j0 .. j0+ROW_COLS) stays in registers for all K, and
 * each k adds a times a contiguous piece of row k of B. */
#define ROW_COLS (4 * VL)
static void row_times_rows(int N, int K, float alpha, const float *A, size_t a_col,
                           const float *B, int ldb, float *restrict C) {
    int j0 = 0;
    for (; j0 + ROW_COLS <= N; j0 += ROW_COLS) {
        vf acc[4] = {{0}};
        for (int k = 0; k < K; k++) {
            const float *b = B + (size_t)k * ldb + j0;
            float a = A[k * a_col];
            for (int v = 0; v < 4; v++) {
                vf piece;
                memcpy(&piece, b + v * VL, sizeof piece);
                acc[v] += a * piece;
            }
        }
        for (int v = 0; v < 4; v++)
            for (int l = 0; l < VL; l++) C[j0 + v * VL + l] += alpha * acc[v][l];
    }
    for (int k = 0; k < K && j0 < N; k++) { // the last columns
        float a = alpha * A[k * a_col];
        const float *b = B + (size_t)k * ldb;
        for (int j = j0; j < N; j++) C[j] += a * b[j];
    }
}

/* B transposed: C[j] = the dot product of A and row j of B. Eight rows at
 * a time, VL lanes each, so one load of A serves eight rows; the lanes are
 * summed in a fixed order, so results do not vary between runs. */
static float lanes_sum(vf v) {
#if VL == 16
    float lanes[16];
    memcpy(lanes, &v, sizeof lanes);
    return ati_sum16(lanes);
#else
    float sum = 0.0f;
    for (int l = 0; l < VL; l++) sum += v[l];
    return sum;
#endif
}

/* sums[r] = lanes_sum(acc[r]) for r < 8, bit for bit (the same tree), but
 * the eight trees are taken together: each level adds two shuffled
 * vectors, so 8 rows cost 4 levels of 2 shuffles and an add, not 8 trees
 * of their own. With short rows (the small model's K = 64) the sums were
 * half the work. */
static void eight_lane_sums(const vf acc[8], float sums[16]) {
#if VL == 16 && (defined(__clang__) || __GNUC__ >= 12)
    vf t[4], u[2];
    for (int i = 0; i < 4; i++) // rows 2i | 2i+1, 8 partial sums each: p[l] + p[l + 8]
        t[i] = __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16,
                                       17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(acc[2 * i], acc[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15,
                                       24, 25, 26, 27, 28, 29, 30, 31);
    for (int i = 0; i < 2; i++) // rows 4i .. 4i+3, 4 each: h8[l] + h8[l + 4]
        u[i] = __builtin_shufflevector(t[2 * i], t[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17,
                                       18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(t[2 * i], t[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20,
                                       21, 22, 23, 28, 29, 30, 31);
    // rows 0 .. 7, 2 each: (h4[0] + h4[2], h4[1] + h4[3])
    vf w = __builtin_shufflevector(u[0], u[1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25,
                                   28, 29) +
           __builtin_shufflevector(u[0], u[1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26,
                                   27, 30, 31);
    vf s = __builtin_shufflevector(w, w, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14) +
           __builtin_shufflevector(w, w, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
    memcpy(sums, &s, sizeof s);
#else
    for (int r = 0; r < 8; r++) sums[r] = lanes_sum(acc[r]);
#endif
}

static void row_times_columns(int N, int K, float alpha, const float *A, const float *B,
                              int ldb, float *restrict C) {
    int j = 0, k_vec = K / VL * VL;
    enum { ROWS = 8 }; // eight streams of B in flight: the loop waits on memory, not FMAs
    for (; j + ROWS <= N; j += ROWS) {
        const float *b[ROWS];
        for (int r = 0; r < ROWS; r++) b[r] = B + (size_t)(j + r) * ldb;
        vf acc[ROWS] = {{0}};
        for (int k = 0; k < k_vec; k += VL) {
            vf a;
            memcpy(&a, A + k, sizeof a);
            for (int r = 0; r < ROWS; r++) {
                vf piece;
                memcpy(&piece, b[r] + k, sizeof piece);
                acc[r] += a * piece;
            }
        }
        float sums[16];
        eight_lane_sums(acc, sums);
        for (int r = 0; r < ROWS; r++) {
            float sum = sums[r];
            for (int k = k_vec; k < K; k++) sum += A[k] * b[r][k];
            C[j + r] += alpha * sum;
        }
    }
    for (; j < N; j++) { // the last rows
        const float *b = B + (size_t)j * ldb;
        vf acc = {0};
        for (int k = 0; k < k_vec; k += VL) {
            vf a, piece;
            memcpy(&a, A + k, sizeof a);
            memcpy(&piece, b + k, sizeof piece);
            acc += a * piece;
        }
        float sum = lanes_sum(acc);
        for (int k = k_vec; k < K; k++) sum += A[k] * b[k];
        C[j] += alpha * sum;
    }
}
#endif

static void gemm_row(int trans_a, int trans_b, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, const float *bias,
                     float *restrict C) {
    size_t a_col = trans_a ? (size_t)lda : 1;
    if (bias) memcpy(C, bias, (size_t)N * sizeof(float));
    else
        for (int j = 0; j < N && beta != 1.0f; j++) C[j] = beta == 0.0f ? 0.0f : beta * C[j];
#if GEMM_VECTORS
    if (!trans_b) {
        row_times_rows(N, K, alpha, A, a_col, B, ldb, C);
        return;
    }
    if (a_col == 1) {
        row_times_columns(N, K, alpha, A, B, ldb, C);
        return;
    }
#endif
    for (int j = 0; j < N; j++) { // plain loops: no vectors, or A strided
        float sum = 0.0f;
        for (int k = 0; k < K; k++) sum += A[k * a_col] * (trans_b ? B[(size_t)j * ldb + k]
                                                                 : B[(size_t)k * ldb + j]);
        C[j] += alpha * sum;
    }
}

/* C = alpha op(A) op(B) + (bias ? bias : beta C) with a depth of one: an
 * outer product. Attention makes many small ones (one batch row's
 * d_values = weights^T d_context, 20 x 512), where the blocked kernel
 * would pack and scale for a single multiply-add per element. */
static void gemm_outer(int trans_a, int trans_b, int M, int N, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, const float *bias,
                       float *C, int ldc) {
    size_t b_step = trans_b ? (size_t)ldb : 1; // op(B)(0, j) = B[j * b_step]
    for (int i = 0; i < M; i++) {
        float a = alpha * A[trans_a ? (size_t)i : (size_t)i * lda]; // alpha op(A)(i, 0)
        float *c = C + (size_t)i * ldc;
        if (bias)
            for (int j = 0; j < N; j++) c[j] = bias[j] + a * B[j * b_step];
        else if (beta == 0.0f)
            for (int j = 0; j < N; j++) c[j] = a * B[j * b_step];
        else if (beta == 1.0f)
            for (int j = 0; j < N; j++) c[j] += a * B[j * b_step];
        else
            for (int j = 0; j < N; j++) c[j] = beta * c[j] + a * B[j * b_step];
    }
}

/* Products below this many multiply-adds (about a microsecond of work per
 * thread) run on one thread whatever the caller allows: opening a parallel
 * region costs about that much. Measured: raising it to 2^21 (keeping the
 * decoder's per-step products serial) made 2-thread steps slower, not
 * faster, because between fewer regions libgomp's worker goes to sleep and
 * waking it costs more than the regions saved. */
#define GEMM_PARALLEL_MIN (1L << 18)

/* Whether to compute C as its transpose (gemm_range_swapped): a
 * transposed B (a layer's weights, Y = X W^T) against at most this many
 * rows, where packing B costs as much as the product. Measured on the
 * date translator's shapes: M = 32 against W (1024, 256) 100 -> 150
 * GFLOP/s, (768, 320) 100 -> 145; at M = 128 the two ways are even, and
 * so they are below a depth of 64 (the transposed store is then a large
 * part of each tile's work); swapping a B that is not transposed (read in
 * place) is slower at every size. */
#define GEMM_SWAP_MAX_M 64
#define GEMM_SWAP_MIN_K 64

static int use_swapped(int trans_b, int M, int N, int K) {
    return trans_b && M <= GEMM_SWAP_MAX_M && N >= M && K >= GEMM_SWAP_MIN_K;
}

/* One row of C on up to `threads`: a batch-1 step reads every weight once,
 * so two threads stream half of the weights each. Columns are cut in whole
 * groups of ROW_SPLIT (a multiple of the vector paths' column groups), so
 * every element is computed the same way whatever the cut. */
#define ROW_SPLIT 64
static void gemm_row_threads(int trans_a, int trans_b, int N, int K, float alpha,
                             const float *A, int lda, const float *B, int ldb, float beta,
                             const float *bias, float *C, int threads) {
    int groups = (N + ROW_SPLIT - 1) / ROW_SPLIT;
    if (threads > groups) threads = groups;
    if (threads <= 1 || (long)N * K < GEMM_PARALLEL_MIN / 2) {
        gemm_row(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, beta, bias, C);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int n = omp_get_num_threads(), t = omp_get_thread_num();
        int lo = (int)((long)groups * t / n) * ROW_SPLIT;
        int hi = (int)((long)groups * (t + 1) / n) * ROW_SPLIT;
        if (hi > N) hi = N;
        const float *b = trans_b ? B + (size_t)lo * ldb : B + lo;
        if (lo < hi)
            gemm_row(trans_a, trans_b, hi - lo, K, alpha, A, lda, b, ldb, beta,
                     bias ? bias + lo : NULL, C + lo);
    }
}

/* C = alpha op(A) op(B) + (bias ? bias : beta C), on up to `threads`. */
static void gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, const float *bias, float *C,
                     int ldc, int threads) {
    if (M <= 0 || N <= 0) return;
    if (M == 1) {
        gemm_row_threads(trans_a, trans_b, N, K, alpha, A, lda, B, ldb, beta, bias, C, threads);
        return;
    }
    if (K == 1 && alpha != 0.0f) {
        gemm_outer(trans_a, trans_b, M, N, alpha, A, lda, B, ldb, beta, bias, C, ldc);
        return;
    }
    int swapped = use_swapped(trans_b, M, N, K);
    int row_blocks = (M + MR - 1) / MR, panels = (N + NR - 1) / NR;
    if (swapped) row_blocks = (M + NR_SWAP - 1) / NR_SWAP, panels = (N + MR_SWAP - 1) / MR_SWAP;
    long work = (long)M * N * K;
    if (threads > row_blocks * panels) threads = row_blocks * panels;
    if (threads <= 1 || work < GEMM_PARALLEL_MIN) {
        if (swapped)
            gemm_range_swapped(trans_a, M, 0, N, K, alpha, A, lda, B, ldb, beta, bias,
                               C, ldc);
        else
            gemm_range(trans_a, trans_b, 0, M, 0, N, K, alpha, A, lda, B, ldb, beta, bias, C,
                       ldc);
        return;
    }
    /* Cut the rows (in whole MR blocks) or the columns (in whole panels),
     * whichever leaves the busiest thread less to do (rows on a tie); a
     * swapped product always cuts the columns of C (its weight rows, in MR
     * blocks). Measured at batch 128 on 2 threads: the decoder's
     * (128, 768, 320) cut by rows gave 6 and 5 blocks of 12 rows, by
     * columns 12 and 12 panels: 250 -> 330 GFLOP/s. */
    int rows_most = (row_blocks + threads - 1) / threads;
    int panels_most = (panels + threads - 1) / threads;
    int by_rows = !swapped && (long)rows_most * panels <= (long)panels_most * row_blocks;
#pragma omp parallel num_threads(threads)
    {
        int n = omp_get_num_threads(), t = omp_get_thread_num();
        int units = by_rows ? row_blocks : panels;
        int unit = by_rows ? MR : swapped ? MR_SWAP : NR;
        int lo = (int)((long)units * t / n) * unit, hi = (int)((long)units * (t + 1) / n) * unit;
        int end = by_rows ? M : N;
        if (hi > end) hi = end;
        if (swapped)
            gemm_range_swapped(trans_a, M, lo, hi, K, alpha, A, lda, B, ldb, beta, bias,
                               C, ldc);
        else if (by_rows)
            gemm_range(trans_a, trans_b, lo, hi, 0, N, K, alpha, A, lda, B, ldb, beta, bias, C,
                       ldc);
        else
            gemm_range(trans_a, trans_b, 0, M, lo, hi, K, alpha, A, lda, B, ldb, beta, bias, C,
                       ldc);
    }
}

void ati_gemm_own(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc, int threads) {
    gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, NULL, C, ldc, threads);
}

/* The hand kernel alone, one thread, any size (bench/gemm_cutover.c times it). */
void ati_gemm_small(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    ati_gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
}

/* OpenBLAS alone, any size. */
void ati_gemm_blas(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
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

void ati_gemm_threads(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     int threads) {
    if (M <= 0 || N <= 0) return;
    if (use_own_kernel(M, N, K))
        ati_gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    else
        ati_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void ati_gemm_bias(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, const float *bias, float *C, int ldc,
                  int threads) {
    if (M <= 0 || N <= 0) return;
    if (use_own_kernel(M, N, K)) {
        gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 0.0f, bias, C, ldc, threads);
        return;
    }
    for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof(float));
    ati_gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, 1.0f, C, ldc);
}

void ati_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    ati_gemm_threads(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);
}
