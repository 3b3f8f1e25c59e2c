/*
 * gather.c - gather rows of a table: the embedding lookup.
 *
 * The idea: a table (V, D) holds one D-vector per token; a batch of ids
 * picks rows out of it,
 *
 *     out[i][d] = table[ids[i]][d]          out (ids_shape..., D)
 *
 * Backward sends each output row's gradient back to the row it came from.
 * The same id may appear many times, so the gradients scatter-ADD:
 *
 *     dtable[ids[i]][d] += dout[i][d]
 *
 * That loop runs on one thread, in order, so two rows never race and the
 * sums come out the same every run. The ids are copied into the arena for
 * backward: the caller's buffer may be gone by then.
 */
#include "internal.h"

#include <string.h>

/* node->aux[0]: ids copy (count); node->iarg[0]: D. */
static at_status gather_rows_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *table = node->in[0];
    if (!table->grad) return AT_OK;
    const int32_t *ids = node->aux[0];
    const size_t D = (size_t)node->iarg[0];
    const size_t count = node->out->size / D;
    const float *dout = node->out->grad; // (count, D)
    for (size_t i = 0; i < count; i++) {
        float *dst = table->grad + (size_t)ids[i] * D;
        const float *src = dout + i * D;
        for (size_t d = 0; d < D; d++) {
            // forward: out[i][d] = table[ids[i]][d]
            dst[d] += src[d];
        }
    }
    return AT_OK;
}

/* Every id must name a row of the table. */
static at_status check_ids(at_ctx *ctx, const int32_t *ids, size_t count, int V) {
    for (size_t i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "gather_rows: id %d at position %zu is outside [0, %d)",
                               (int)ids[i], i, V);
    return AT_OK;
}

at_status at_gather_rows(at_ctx *ctx, at_tensor **out, at_tensor *table, const int32_t *ids,
                         int ids_ndim, const int *ids_shape) {
    AT_CHECK_TENSOR(ctx, table, "gather_rows: table");
    if (!out || !ids)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "gather_rows: %s is NULL", out ? "ids" : "out");
    if (table->ndim != 2) {
        char buf[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "gather_rows: table is %s, must be (V, D)",
                           ati_shape_str(buf, sizeof buf, table->ndim, table->shape));
    }
    if (ids_ndim < 1 || ids_ndim + 1 > AT_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "gather_rows: ids have %d dimensions (1 to %d)",
                           ids_ndim, AT_MAX_DIMS - 1);
    AT_TRY(ati_check_shape(ctx, ids_ndim, ids_shape, "gather_rows: ids"));
    const int V = table->shape[0], D = table->shape[1];
    const size_t count = ati_shape_size(ids_ndim, ids_shape);
    AT_TRY(check_ids(ctx, ids, count, V));

    int out_shape[AT_MAX_DIMS];
    memcpy(out_shape, ids_shape, (size_t)ids_ndim * sizeof(int));
    out_shape[ids_ndim] = D;
    int track = ati_tracking(ctx, 1, &table);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, ids_ndim + 1, out_shape, track)); // every row copied
    const size_t row_bytes = (size_t)D * sizeof(float);
    for (size_t i = 0; i < count; i++) // (count, D) <- (V, D)
        memcpy(y->data + i * (size_t)D, table->data + (size_t)ids[i] * D, row_bytes);
    if (track) {
        const void *ids_copy; // copied first, so a failure leaves no half-made tape entry
        AT_TRY(ati_scratch_copy(ctx, &ids_copy, ids, count * sizeof(int32_t)));
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "gather_rows", gather_rows_backward, y, 1, &table));
        node->aux[0] = ids_copy;
        node->iarg[0] = D;
    }
    *out = y;
    return AT_OK;
}
