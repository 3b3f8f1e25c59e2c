/*
 * transformer.c - the GPT-style Transformer language model (Radford et al.
 * 2019, in nanoGPT's layout): characters in, a distribution over the next
 * character at every position out, each position reading only itself and
 * the positions before it.
 *
 * D = width, H = heads, N = layers, T <= context, V = vocabulary:
 *
 *     h_0 = Dropout(tok_embed[ids] + pos_embed[0 .. T))               (B, T, D)
 *     for each block n = 1 .. N (pre-LayerNorm, a residual stream):
 *         a   = MHA_causal(LN1(h))       query t attends to keys 0 .. t  (B, T, D)
 *         h   = h + Dropout(a)
 *         m   = proj(GELU(fc(LN2(h))))   fc: D -> 4D, proj: 4D -> D      (B, T, D)
 *         h   = h + Dropout(m)
 *     logits = head(LN_f(h)) = LN_f(h) W_headᵀ + b_head                (B, T, V)
 *
 *     MHA_causal(x) = [head_1 … head_H] W_Oᵀ + b_O,
 *     head_h = softmax(Q_h K_hᵀ / √(D/H) + causal mask) V_h,
 *     Q, K, V = x W_{Q,K,V}ᵀ + b_{Q,K,V}                   (at_multi_head)
 *     GELU(x) = x Φ(x), the exact (erf) form (at_gelu, torch's nn.GELU())
 *     LN: over the last dimension, eps 1e-5, a gain and a bias (at_layernorm)
 *
 * Everything here is the library's: at_embedding for both tables,
 * at_multi_head for the attention (its causal mask, the fused dot kernel;
 * nothing else in the model attends), at_layernorm, at_dense, at_gelu,
 * at_dropout (training mode only). Every product runs over the B·T rows of
 * the batch at once, so a block is a handful of matrix products, not a loop
 * over time. The backward pass is the ops' own, recorded on the tape.
 *
 * Dropout sits in the three places of the equations above (GPT-2's): on the
 * embeddings, on the attention's output and on the MLP's output.
 *
 * Parameters, named as PyTorch's state_dict of bench/lm_gpt.py (so each
 * side loads the other's file with strict=True), and nanoGPT's
 * initialisation: every Linear and Embedding weight N(0, 0.02) - the packed
 * in_proj_weight too - biases 0, the two projections into the residual
 * stream (attn.out_proj.weight, mlp.proj.weight) N(0, 0.02 / √(2N)),
 * LayerNorm weight 1, bias 0. rng NULL leaves every parameter zero (and
 * LayerNorm weights 1), for a load.
 */
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LN_EPS 1e-5f
#define INIT_STD 0.02f

/* ---------------------------------------------------------------- init */

static at_status block_init(at_ctx *ctx, lm_block *block, at_params *params, int index, int D,
                            int H) {
    char prefix[64];
#define NAME(part) (snprintf(prefix, sizeof prefix, "blocks.%d." part, index), prefix)
    AT_TRY(at_layernorm_init(ctx, &block->ln1, params, NAME("ln1"), D, LN_EPS));
    AT_TRY(at_multi_head_init(ctx, &block->attn, params, NAME("attn"), D, H, NULL));
    AT_TRY(at_layernorm_init(ctx, &block->ln2, params, NAME("ln2"), D, LN_EPS));
    AT_TRY(at_dense_init(ctx, &block->fc, params, NAME("mlp.fc"), D, 4 * D, 1, NULL));
    AT_TRY(at_dense_init(ctx, &block->proj, params, NAME("mlp.proj"), 4 * D, D, 1, NULL));
#undef NAME
    return AT_OK;
}

/* nanoGPT's draws on parameters that start zero (rng NULL draws nothing). */
static void block_draw(lm_block *block, float residual_std, at_rng *rng) {
    at_init_normal(block->attn.in_proj_weight, 0.0f, INIT_STD, rng);
    at_init_normal(block->attn.out_proj_weight, 0.0f, residual_std, rng);
    at_init_normal(block->fc.weight, 0.0f, INIT_STD, rng);
    at_init_normal(block->proj.weight, 0.0f, residual_std, rng);
}

at_status lm_transformer_init(at_ctx *ctx, at_lm *m, at_rng *rng) {
    const at_lm_config *c = &m->config;
    int D = c->width, N = c->layers;
    // every layer made with rng NULL (all zero), then drawn as nanoGPT does
    AT_TRY(at_embedding_init(ctx, &m->tok_embed, m->params, "tok_embed", m->V, D, NULL));
    AT_TRY(at_embedding_init(ctx, &m->pos_embed, m->params, "pos_embed", c->context, D, NULL));
    for (int n = 0; n < N; n++)
        AT_TRY(block_init(ctx, &m->blocks[n], m->params, n, D, c->heads));
    AT_TRY(at_layernorm_init(ctx, &m->ln_f, m->params, "ln_f", D, LN_EPS));
    AT_TRY(at_dense_init(ctx, &m->head, m->params, "head", D, m->V, 1, NULL));

    float residual_std = INIT_STD / sqrtf(2.0f * (float)N);
    at_init_normal(m->tok_embed.weight, 0.0f, INIT_STD, rng);
    at_init_normal(m->pos_embed.weight, 0.0f, INIT_STD, rng);
    for (int n = 0; n < N; n++)
        block_draw(&m->blocks[n], residual_std, rng);
    at_init_normal(m->head.weight, 0.0f, INIT_STD, rng);
    return AT_OK;
}

/* ------------------------------------------------------------- forward */

/* h_0 = Dropout(tok_embed[ids] + pos_embed[0 .. T)): (B, T, D). */
static at_status embed(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                       at_tensor **h) {
    int32_t *positions; // (T) = 0, 1, .., T-1
    AT_TRY(ati_scratch(ctx, (void **)&positions, (size_t)T * sizeof *positions));
    for (int t = 0; t < T; t++)
        positions[t] = t;
    at_tensor *tok, *pos, *sum;
    AT_TRY(at_embedding_forward(ctx, &m->tok_embed, ids, 2, (int[]){B, T}, &tok));    // (B, T, D)
    AT_TRY(at_embedding_forward(ctx, &m->pos_embed, positions, 1, (int[]){T}, &pos)); // (T, D)
    AT_TRY(at_add(ctx, &sum, tok, pos)); // (B, T, D), pos broadcast over the batch
    return at_dropout(ctx, h, sum, m->config.dropout);
}

/* h + Dropout(proj(GELU(fc(LN2(h))))): the second half of a block, on any
 * number of positions (B, T', D). */
static at_status mlp_residual(at_ctx *ctx, const at_lm *m, const lm_block *block, at_tensor *h,
                              at_tensor **h_out) {
    at_tensor *x, *f, *g, *mlp;
    AT_TRY(at_layernorm_forward(ctx, &block->ln2, h, &x)); // (B, T', D)
    AT_TRY(at_dense_forward(ctx, &block->fc, x, &f));      // (B, T', 4D)
    AT_TRY(at_gelu(ctx, &g, f));                           // (B, T', 4D)
    AT_TRY(at_dense_forward(ctx, &block->proj, g, &mlp));  // (B, T', D)
    AT_TRY(at_dropout(ctx, &mlp, mlp, m->config.dropout));
    return at_add(ctx, h_out, h, mlp);
}

/* One block on h (B, T, D). weights: NULL, or (B, H, T, T) floats that
 * receive this block's attention. */
static at_status block_forward(at_ctx *ctx, const at_lm *m, const lm_block *block, at_tensor *h,
                               at_tensor **h_out, float *weights) {
    const at_attn_mask causal = {.causal = 1};
    at_tensor *x, *a, *alpha = NULL;

    // a = MHA_causal(LN1(h));  h = h + Dropout(a)
    AT_TRY(at_layernorm_forward(ctx, &block->ln1, h, &x)); // (B, T, D)
    AT_TRY(at_multi_head_forward(ctx, &block->attn, x, x, x, &causal, &a,
                                 weights ? &alpha : NULL)); // (B, T, D)
    AT_TRY(at_dropout(ctx, &a, a, m->config.dropout));
    AT_TRY(at_add(ctx, &h, h, a));
    if (weights) memcpy(weights, alpha->data, alpha->size * sizeof *weights); // (B, H, T, T)

    // m = proj(GELU(fc(LN2(h))));  h = h + Dropout(m)
    return mlp_residual(ctx, m, block, h, h_out);
}

/* The last block for the last position only: its query is the last row of
 * LN1(h), its keys and values every row (a query sees every key before
 * it, so the causal mask hides nothing: Tq = 1 sees keys 0 .. T-1), and
 * the residual stream and the MLP go on with that one row.
 * h (B, T, D) -> h_out (B, 1, D). */
static at_status last_block_forward(at_ctx *ctx, const at_lm *m, const lm_block *block,
                                    at_tensor *h, at_tensor **h_out) {
    const at_attn_mask causal = {.causal = 1};
    int T = h->shape[1];
    at_tensor *x, *query, *h_last, *a;
    AT_TRY(at_layernorm_forward(ctx, &block->ln1, h, &x)); // (B, T, D)
    AT_TRY(at_slice(ctx, &query, x, 1, T - 1, 1));         // (B, 1, D)
    AT_TRY(at_multi_head_forward(ctx, &block->attn, query, x, x, &causal, &a, NULL)); // (B, 1, D)
    AT_TRY(at_dropout(ctx, &a, a, m->config.dropout));
    AT_TRY(at_slice(ctx, &h_last, h, 1, T - 1, 1)); // (B, 1, D)
    AT_TRY(at_add(ctx, &h_last, h_last, a));
    return mlp_residual(ctx, m, block, h_last, h_out);
}

at_status lm_transformer_forward(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                                 at_tensor **logits, float *weights) {
    const at_lm_config *c = &m->config;
    size_t per_layer = (size_t)B * (size_t)c->heads * (size_t)T * (size_t)T; // (B, H, T, T)
    at_tensor *h, *x;
    AT_TRY(embed(ctx, m, ids, B, T, &h)); // (B, T, D)
    for (int n = 0; n < c->layers; n++)
        AT_TRY(block_forward(ctx, m, &m->blocks[n], h, &h,
                             weights ? weights + (size_t)n * per_layer : NULL));
    // logits = head(LN_f(h))
    AT_TRY(at_layernorm_forward(ctx, &m->ln_f, h, &x)); // (B, T, D)
    return at_dense_forward(ctx, &m->head, x, logits);  // (B, T, V)
}

/* The logits of the last position only, (B, 1, V): what generation draws
 * from. Every block but the last computes every position, since the next
 * block's keys and values need them; the last block and the head compute
 * one row. The same function as the last row of lm_transformer_forward's
 * logits, with about a fifth less work at 4 blocks; the sums of the last
 * block's one-row products run in another order, so the two agree to
 * rounding, not to the bit. */
at_status lm_transformer_forward_last(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B,
                                      int T, at_tensor **logits) {
    const at_lm_config *c = &m->config;
    at_tensor *h, *x;
    AT_TRY(embed(ctx, m, ids, B, T, &h)); // (B, T, D)
    for (int n = 0; n + 1 < c->layers; n++)
        AT_TRY(block_forward(ctx, m, &m->blocks[n], h, &h, NULL));
    AT_TRY(last_block_forward(ctx, m, &m->blocks[c->layers - 1], h, &h)); // (B, 1, D)
    AT_TRY(at_layernorm_forward(ctx, &m->ln_f, h, &x));                 // (B, 1, D)
    return at_dense_forward(ctx, &m->head, x, logits);                   // (B, 1, V)
}
