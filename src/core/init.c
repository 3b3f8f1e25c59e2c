/*
 * init.c - filling parameters with their starting values.
 *
 * Uniform and normal fills draw from the caller's generator, so a seed
 * fixes every starting weight. Glorot (Xavier) uniform keeps the variance
 * of activations steady through a layer:
 *
 *     W ~ U(-a, a),   a = gain * sqrt(6 / (fan_in + fan_out))
 *
 * Orthogonal initialisation follows torch.nn.init.orthogonal_: draw a
 * (rows, cols) matrix A ~ N(0, 1), transpose it when rows < cols so that it
 * is tall, factor A = Q R, and keep Q, its columns made unique by the sign
 * of diag(R), transposed back when needed, times gain. We factor with
 * modified Gram-Schmidt in double precision, applied twice ("twice is
 * enough") so that Q is orthonormal to rounding. Gram-Schmidt yields the R
 * with a positive diagonal, which is exactly the Q that PyTorch's sign fix
 * of a Householder QR selects.
 *
 * rng == NULL means "draw nothing": every fill leaves the tensor as it is.
 * That is how a layer is made without random numbers, for loading foreign
 * weights: each _init passes its rng (NULL) through and its zero-filled
 * parameters stay zero.
 */
#include "internal.h"

#include <math.h>

void at_init_uniform(at_tensor *t, float lo, float hi, at_rng *rng) {
    if (!t || !rng) return;
    for (size_t i = 0; i < t->size; i++) t->data[i] = lo + (hi - lo) * at_rng_uniform(rng);
}

void at_init_normal(at_tensor *t, float mean, float std, at_rng *rng) {
    if (!t || !rng) return;
    for (size_t i = 0; i < t->size; i++) t->data[i] = mean + std * at_rng_normal(rng);
}

void at_init_glorot_uniform(at_tensor *t, int fan_in, int fan_out, float gain, at_rng *rng) {
    if (!t || !rng || fan_in + fan_out <= 0) return;
    float a = gain * sqrtf(6.0f / (float)(fan_in + fan_out));
    at_init_uniform(t, -a, a, rng);
}

/* Make column j of the tall (m, n) matrix q orthogonal to columns 0..j-1,
 * then unit length. q is stored by columns (column k at q + k * m), so
 * every loop runs down contiguous memory. Returns the length column j
 * had, i.e. R[j][j] of the factorisation. */
static double orthonormalise_column(double *q, int m, int j) {
    double *column = q + (size_t)j * m;
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < j; k++) {
            const double *other = q + (size_t)k * m;
            double dot = 0.0;
            for (int r = 0; r < m; r++) dot += other[r] * column[r];
            for (int r = 0; r < m; r++) column[r] -= dot * other[r];
        }
    }
    double norm = 0.0;
    for (int r = 0; r < m; r++) norm += column[r] * column[r];
    norm = sqrt(norm);
    if (norm > 0.0)
        for (int r = 0; r < m; r++) column[r] /= norm;
    return norm;
}

at_status at_init_orthogonal(at_ctx *ctx, float *block, int rows, int cols, float gain,
                             at_rng *rng) {
    if (!rng) return AT_OK; /* nothing drawn: the block stays as it is */
    if (!block) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "init_orthogonal: block is NULL");
    if (rows <= 0 || cols <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "init_orthogonal: size (%d, %d) must be positive",
                           rows, cols);
    if (!rng) return AT_OK; /* no generator: the block stays as it is (a load fills it) */
    int transposed = rows < cols;
    int m = transposed ? cols : rows; /* the tall matrix q is (m, n), m >= n */
    int n = transposed ? rows : cols;
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, (size_t)m * n * sizeof(double)));
    double *q = memory; /* (m, n), stored by columns: q(i, j) = q[j * m + i] */

    /* A ~ N(0, 1), drawn in the (rows, cols) order of the block */
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double a = at_rng_normal(rng);
            if (transposed) q[(size_t)r * m + c] = a; // q(c, r)
            else q[(size_t)c * m + r] = a;            // q(r, c)
        }
    for (int j = 0; j < n; j++)
        if (!(orthonormalise_column(q, m, j) > 1e-12))
            return at_ctx_fail(ctx, AT_ERR_NUMERIC, "init_orthogonal: rank-deficient draw");

    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double v = transposed ? q[(size_t)r * m + c] : q[(size_t)c * m + r];
            block[(size_t)r * cols + c] = (float)(gain * v);
        }
    return AT_OK;
}
