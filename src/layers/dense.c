/*
 * dense.c - the fully connected layer, y = x W^T + b.
 *
 *     x (..., in)  ->  y (..., out),   W (out, in),   b (out)
 *
 * All leading dimensions of x are flattened into R rows, so the layer is
 * one matrix product and one broadcast add, recorded as ONE tape entry:
 *
 *     forward:  y (R, out) = x (R, in) W^T + b
 *     backward: dx += dy W      dW += dy^T x      db += column sums of dy
 *
 * W starts Glorot uniform, b at zero (both zero when rng is NULL).
 */
#include "layers.h"

at_status at_dense_init(at_ctx *ctx, at_dense *layer, at_params *params, const char *prefix,
                        int in, int out, int with_bias, at_rng *rng) {
    if (!layer || !params)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dense_init: NULL layer or params");
    if (in <= 0 || out <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dense_init: sizes in %d, out %d must be > 0",
                           in, out);
    at_dense made = {NULL, NULL, in, out};
    int weight_shape[2] = {out, in}, bias_shape[1] = {out};
    AT_TRY(layer_param(ctx, params, prefix, "weight", NULL, 2, weight_shape, &made.weight));
    if (with_bias) AT_TRY(layer_param(ctx, params, prefix, "bias", NULL, 1, bias_shape, &made.bias));
    at_init_glorot_uniform(made.weight, in, out, 1.0f, rng);
    *layer = made;
    return AT_OK;
}

static at_status dense_backward(at_ctx *ctx, ati_node *node) {
    at_tensor *x = node->in[0], *weight = node->in[1], *bias = node->in[2];
    const float *dy = node->out->grad; // (R, out)
    int in = node->iarg[0], out = node->iarg[1], rows = node->iarg[2];
    // forward: y = x W^T + b            so dx += dy W : (R, out) x (out, in)
    if (x->grad)
        ati_gemm_threads(0, 0, rows, in, out, 1.0f, dy, out, weight->data, in, 1.0f, x->grad, in,
                        ctx->threads);
    // forward: y = x W^T + b            so dW += dy^T x : (out, R) x (R, in)
    if (weight->grad)
        ati_gemm_threads(1, 0, out, in, rows, 1.0f, dy, out, x->data, in, 1.0f, weight->grad, in,
                        ctx->threads);
    // forward: y[r] = ... + b, every row so db += the column sums of dy
    if (bias && bias->grad) ati_add_column_sums(bias->grad, dy, rows, out, ctx->threads);
    return AT_OK;
}

at_status at_dense_forward(at_ctx *ctx, const at_dense *layer, at_tensor *x, at_tensor **y) {
    if (!layer || !layer->weight || !y)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dense_forward: NULL layer, weight or output");
    AT_CHECK_TENSOR(ctx, x, "dense_forward: x");
    int in = layer->in, out = layer->out;
    if (layer->weight->ndim != 2 || layer->weight->shape[0] != out ||
        layer->weight->shape[1] != in || (layer->bias && layer->bias->size != (size_t)out))
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "dense_forward: parameters do not match (%d, %d)",
                           out, in);
    if (x->shape[x->ndim - 1] != in) {
        char got[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "dense_forward: x is %s, last dimension must be %d",
                           ati_shape_str(got, sizeof got, x->ndim, x->shape), in);
    }
    int rows = (int)(x->size / (size_t)in);
    at_tensor *inputs[3] = {x, layer->weight, layer->bias};
    int track = ati_tracking(ctx, 3, inputs);
    int shape[AT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out;
    at_tensor *result;
    AT_TRY(ati_result_uninit(ctx, &result, x->ndim, shape, track)); // every element written

    float *yd = result->data; // (R, out)
    // y = x W^T (+ b) : (R, in) x (in, out)
    if (layer->bias)
        ati_gemm_bias(0, 1, rows, out, in, 1.0f, x->data, in, layer->weight->data, in,
                     layer->bias->data, yd, out, ctx->threads);
    else
        ati_gemm_threads(0, 1, rows, out, in, 1.0f, x->data, in, layer->weight->data, in, 0.0f,
                        yd, out, ctx->threads);

    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "dense", dense_backward, result, 3, inputs));
        node->iarg[0] = in;
        node->iarg[1] = out;
        node->iarg[2] = rows;
    }
    *y = result;
    return AT_OK;
}
