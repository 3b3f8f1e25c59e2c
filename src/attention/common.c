/*
 * common.c - the pieces every attention family shares: query shapes, masks
 * with the causal rule, and the weighted sum c = α V. See attention.h.
 */
#include "attention.h"
#include "fastmath.h"

#include <string.h>

at_status attn_read_queries(at_ctx *ctx, const char *op, const at_tensor *q, int size,
                            attn_queries *out) {
    AT_CHECK_TENSOR(ctx, q, "attention: queries");
    char buf[64];
    if (q->ndim == 2) {
        *out = (attn_queries){q->shape[0], 1, q->shape[1], 1};
    } else if (q->ndim == 3) {
        *out = (attn_queries){q->shape[0], q->shape[1], q->shape[2], 0};
    } else {
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: queries %s must be (B, Tq, D) or (B, D)", op,
                           ati_shape_str(buf, sizeof buf, q->ndim, q->shape));
    }
    if (size >= 0 && out->size != size)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: queries %s have size %d, the layer expects %d",
                           op, ati_shape_str(buf, sizeof buf, q->ndim, q->shape), out->size, size);
    return AT_OK;
}

at_status attn_check_sequence(at_ctx *ctx, const char *op, const char *what, const at_tensor *t,
                              int batch, int size, int *steps) {
    char buf[64];
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, what);
    if (t->ndim != 3 || t->shape[0] != batch || (size >= 0 && t->shape[2] != size))
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %s %s must be (B = %d, T, %d)", op, what,
                           ati_shape_str(buf, sizeof buf, t->ndim, t->shape), batch, size);
    if (steps) *steps = t->shape[1];
    return AT_OK;
}

at_status attn_mask_prepare(at_ctx *ctx, const char *op, const at_attn_mask *mask, size_t rows,
                            int tq, int tk, attn_mask_view *view) {
    *view = (attn_mask_view){NULL, rows, 0, tq, tk};
    if (!mask) return AT_OK;
    view->causal = mask->causal != 0;
    if (!mask->keep) return AT_OK;
    if (mask->rows <= 0 || rows % (size_t)mask->rows != 0)
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "%s: the mask has %d rows; it needs a number that divides the %zu "
                           "score rows (B for padding, one per score row for a full mask)",
                           op, mask->rows, rows);
    view->rows_per_mask = rows / (size_t)mask->rows;
    const void *copy;
    AT_TRY(ati_scratch_copy(ctx, &copy, mask->keep, (size_t)mask->rows * (size_t)tk));
    view->keep = copy;
    return AT_OK;
}

/* The last key query i may see under the causal rule. */
static int causal_limit(const attn_mask_view *view, size_t r) {
    return (int)(r % (size_t)view->tq) + (view->tk - view->tq);
}

const uint8_t *attn_row_keep(const attn_mask_view *view, size_t r, uint8_t *scratch) {
    const uint8_t *row =
        view->keep ? view->keep + (r / view->rows_per_mask) * (size_t)view->tk : NULL;
    if (!view->causal) return row;
    int limit = causal_limit(view, r);
    for (int j = 0; j < view->tk; j++)
        scratch[j] = (j <= limit) && (!row || row[j]);
    return scratch;
}

int attn_is_kept(const attn_mask_view *view, size_t r, int j) {
    if (view->causal && j > causal_limit(view, r)) return 0;
    if (!view->keep) return 1;
    return view->keep[(r / view->rows_per_mask) * (size_t)view->tk + (size_t)j] != 0;
}

/* A decoder step attends with one query per batch row: then the weighted
 * sum and its backward are a few thousand multiply-adds per row, less
 * than the call and packing costs of a matrix product, and are done with
 * plain loops over the rows of V (each vectorises along Dv). */
#define WEIGHTED_SUM_LOOP_MAX_TQ 4

/* context (Dv) += Σ_j alpha[j] values[j, :] for one query */
static void weighted_rows(int tk, int dv, const float *alpha, const float *values,
                          float *restrict context) {
    for (int j = 0; j < tk; j++) {
        float a = alpha[j];
        if (a == 0.0f) continue; // a masked key
        const float *v = values + (size_t)j * dv;
        for (int k = 0; k < dv; k++) context[k] += a * v[k];
    }
}

/* d_values[j, :] += alpha[j] d_context (Dv) for every key j of one query */
static void weighted_rows_transposed(int tk, int dv, const float *alpha, const float *d_context,
                                     float *restrict d_values) {
    for (int j = 0; j < tk; j++) {
        float a = alpha[j];
        if (a == 0.0f) continue; // a masked key: no gradient
        float *dvj = d_values + (size_t)j * dv;
        for (int k = 0; k < dv; k++) dvj[k] += a * d_context[k];
    }
}

/* Multiply-adds below which the batch rows are not shared between threads */
#define WEIGHTED_SUM_PARALLEL_MIN (1L << 16)

/* context[b] += alpha[b] values[b] for one batch row b */
static void weighted_sum_row(int tq, int tk, int dv, const float *a, const float *v, float *c) {
    if (tq > WEIGHTED_SUM_LOOP_MAX_TQ) {
        ati_gemm(0, 0, tq, dv, tk, 1.0f, a, tk, v, dv, 1.0f, c, dv);
        return;
    }
    for (int i = 0; i < tq; i++) weighted_rows(tk, dv, a + (size_t)i * tk, v, c + (size_t)i * dv);
}

void attn_weighted_sum(int threads, int B, int tq, int tk, int dv, const float *alpha,
                       const float *values, float *context) {
    int share = threads > 1 && (long)B * tq * tk * dv >= WEIGHTED_SUM_PARALLEL_MIN;
#pragma omp parallel for num_threads(threads) schedule(static) if (share)
    for (int b = 0; b < B; b++)
        weighted_sum_row(tq, tk, dv, alpha + (size_t)b * tq * tk, values + (size_t)b * tk * dv,
                         context + (size_t)b * tq * dv);
}

/* The backward of weighted_sum_row: d_alpha (Tq, Tk) and d_values (Tk, Dv)
 * of one batch row, either NULL */
static void weighted_sum_row_backward(int tq, int tk, int dv, const float *a, const float *v,
                                      const float *dc, float *da, float *dvals) {
    if (tq > WEIGHTED_SUM_LOOP_MAX_TQ) {
        // forward: context[i, :] += Σ_j alpha[i, j] values[j, :]
        if (da) ati_gemm(0, 1, tq, tk, dv, 1.0f, dc, dv, v, dv, 1.0f, da, tk);
        if (dvals) ati_gemm(1, 0, tk, dv, tq, 1.0f, a, tk, dc, dv, 1.0f, dvals, dv);
        return;
    }
    for (int i = 0; i < tq; i++) {
        const float *dci = dc + (size_t)i * dv;
        // forward: context[i, :] += Σ_j alpha[i, j] values[j, :]
        if (da)
            for (int j = 0; j < tk; j++)
                da[(size_t)i * tk + j] += ati_dot(dv, dci, v + (size_t)j * dv);
        if (dvals) weighted_rows_transposed(tk, dv, a + (size_t)i * tk, dci, dvals);
    }
}

void attn_weighted_sum_backward(int threads, int B, int tq, int tk, int dv, const float *alpha,
                                const float *values, const float *d_context, float *d_alpha,
                                float *d_values) {
    int share = threads > 1 && (long)B * tq * tk * dv >= WEIGHTED_SUM_PARALLEL_MIN;
#pragma omp parallel for num_threads(threads) schedule(static) if (share)
    for (int b = 0; b < B; b++)
        weighted_sum_row_backward(tq, tk, dv, alpha + (size_t)b * tq * tk,
                                  values + (size_t)b * tk * dv, d_context + (size_t)b * tq * dv,
                                  d_alpha ? d_alpha + (size_t)b * tq * tk : NULL,
                                  d_values ? d_values + (size_t)b * tk * dv : NULL);
}
