/* transformer.c - placeholder until the model lands (being written now). */
#include "lm.h"

at_status lm_transformer_init(at_ctx *ctx, at_lm *m, at_rng *rng) {
    (void)m, (void)rng;
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: transformer is not built yet");
}
at_status lm_transformer_forward(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                          at_tensor **logits, float *weights) {
    (void)m, (void)ids, (void)B, (void)T, (void)logits, (void)weights;
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: transformer is not built yet");
}
