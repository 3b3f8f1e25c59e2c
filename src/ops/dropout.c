/*
 * dropout.c - inverted dropout.
 *
 * The idea: while training, zero each value with probability p, so that no
 * unit can rely on any one other unit, and scale the survivors by 1/(1-p)
 * so that the expected value of every output equals its input:
 *
 *     keep[i] ~ Bernoulli(1 - p)
 *     y[i] = x[i] * keep[i] / (1 - p)
 *
 * Because the scaling happens here, at inference nothing needs rescaling:
 * when the context is not training, or p == 0, dropout is the identity and
 * *out is x itself (no copy, no tape entry; as PyTorch, which also hands
 * back its input). Callers must not write into *out expecting a fresh
 * tensor.
 *
 * The keep mask is drawn from the context's generator, one uniform number
 * per element in order, on one thread: the same seed gives the same mask
 * whatever the thread count. The mask (one byte per element) stays in the
 * arena for backward:  dx[i] += dy[i] * keep[i] / (1 - p).
 */
#include "internal.h"

#include <math.h>

/* node->aux[0]: keep mask (size bytes); node->farg[0]: scale 1/(1-p). */
static at_status dropout_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    const uint8_t *keep = node->aux[0]; // (size)
    const float scale = node->farg[0];
    const float *dy = node->out->grad;
    for (size_t i = 0; i < x->size; i++) {
        // forward: y[i] = keep[i] ? x[i] * scale : 0
        if (keep[i]) x->grad[i] += dy[i] * scale;
    }
    return AT_OK;
}

/* Draw the keep mask serially from the context's generator:
 * keep[i] = at_rng_uniform(rng) >= p, one draw per element in order. The
 * uniform is k / 2^24 exactly, k the draw's top 24 bits, so the test is
 * k >= p·2^24 on integers (p·2^24 is exact in double): the same mask, with
 * the generator inline and its state in registers. */
static void draw_keep_mask(uint8_t *keep, size_t n, float p, at_rng *rng) {
    const uint32_t first_kept = (uint32_t)ceil((double)p * 16777216.0); // least k kept
    at_rng local = *rng;
    for (size_t i = 0; i < n; i++) keep[i] = (ati_rng_next(&local) >> 8) >= first_kept;
    *rng = local;
}

at_status at_dropout(at_ctx *ctx, at_tensor **out, at_tensor *x, float p) {
    AT_CHECK_TENSOR(ctx, x, "dropout: x");
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dropout: out is NULL");
    if (!(p >= 0.0f && p < 1.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dropout: p is %g (must be in [0, 1))",
                           (double)p);
    if (!at_ctx_training(ctx) || p == 0.0f) {
        *out = x; // identity: x itself
        return AT_OK;
    }
    int track = ati_tracking(ctx, 1, &x);
    void *mask;
    AT_TRY(ati_scratch(ctx, &mask, x->size));
    uint8_t *keep = mask; // (size)
    draw_keep_mask(keep, x->size, p, at_ctx_rng(ctx));
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, x->ndim, x->shape, track)); // every element written
    const float scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < x->size; i++) y->data[i] = keep[i] ? x->data[i] * scale : 0.0f;
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "dropout", dropout_backward, y, 1, &x));
        node->aux[0] = keep;
        node->farg[0] = scale;
    }
    *out = y;
    return AT_OK;
}
