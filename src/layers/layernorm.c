/*
 * layernorm.c - the layer normalisation layer.
 *
 *     y = (x - mean) / sqrt(var + eps) * weight + bias   over the last dim n
 *
 * weight starts at ones and bias at zeros, so a fresh layer only
 * normalises. The arithmetic and its backward are at_layer_norm; this file
 * owns the two parameters.
 */
#include "layers.h"

at_status at_layernorm_init(at_ctx *ctx, at_layernorm *layer, at_params *params,
                            const char *prefix, int n, float eps) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "layernorm_init: NULL layer or params");
    if (n <= 0 || !(eps >= 0.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "layernorm_init: n %d must be > 0, eps %g >= 0",
                           n, (double)eps);
    at_layernorm made = {NULL, NULL, n, eps};
    int shape[1] = {n};
    AT_TRY(layer_param(ctx, params, prefix, "weight", NULL, 1, shape, &made.weight));
    AT_TRY(layer_param(ctx, params, prefix, "bias", NULL, 1, shape, &made.bias));
    for (int i = 0; i < n; i++) made.weight->data[i] = 1.0f;
    *layer = made;
    return AT_OK;
}

at_status at_layernorm_forward(at_ctx *ctx, const at_layernorm *layer, at_tensor *x,
                               at_tensor **y) {
    if (!layer || !layer->weight)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "layernorm_forward: layer is not initialised");
    AT_CHECK_TENSOR(ctx, x, "layernorm_forward: x");
    if (x->shape[x->ndim - 1] != layer->n)
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "layernorm_forward: last dimension of x is %d, layer normalises %d",
                           x->shape[x->ndim - 1], layer->n);
    return at_layer_norm(ctx, y, x, layer->weight, layer->bias, layer->eps);
}
