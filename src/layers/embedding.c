/*
 * embedding.c - the embedding layer: token ids to rows of a table.
 *
 *     y[..., :] = W[ids[...], :],   W (V, D) ~ N(0, 1) as PyTorch
 *
 * The lookup and its backward (a scatter-add of dy into the rows of dW)
 * are at_gather_rows; this file owns the parameter.
 */
#include "layers.h"

at_status at_embedding_init(at_ctx *ctx, at_embedding *layer, at_params *params,
                            const char *prefix, int vocab, int dim, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "embedding_init: NULL layer or params");
    if (vocab <= 0 || dim <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "embedding_init: vocab %d and dim %d must be > 0", vocab, dim);
    at_embedding made = {NULL, vocab, dim};
    int shape[2] = {vocab, dim};
    AT_TRY(layer_param(ctx, params, prefix, "weight", NULL, 2, shape, &made.weight));
    at_init_normal(made.weight, 0.0f, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

at_status at_embedding_forward(at_ctx *ctx, const at_embedding *layer, const int32_t *ids,
                               int ids_ndim, const int *ids_shape, at_tensor **y) {
    if (!layer || !layer->weight)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "embedding_forward: layer is not initialised");
    return at_gather_rows(ctx, y, layer->weight, ids, ids_ndim, ids_shape);
}
