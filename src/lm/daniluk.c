/*
 * daniluk.c - the LSTM language models of Daniluk, Rocktäschel, Welbl and
 * Riedel 2017, "Frustratingly Short Attention Spans in Neural Language
 * Modeling": an LSTM whose output at step t attends over its own previous
 * L outputs, with the output split by job.
 *
 * Every kind reads the characters through an embedding and one LSTM:
 *
 *     e_t = E[x_t]                        (B, T, embed)
 *     h_t = LSTM(e_1 .. e_t)              (B, T, parts·k), k = width
 *     h_t = Dropout_p(h_t)                (training only)
 *     y_t = softmax(W* h*_t + b)          logits (B, T, V): out.weight (V, k)
 *
 * and the kinds differ in h*_t, what the output layer reads:
 *
 *   lstm       h*_t = h_t                                          parts 1
 *   attention  Y_t = [h_{t−L} … h_{t−1}]                           parts 1
 *              M_t = tanh(W^Y Y_t + (W^h h_t) 1ᵀ)
 *              α_t = softmax(wᵀ M_t)       r_t = Y_t α_tᵀ
 *              h*_t = tanh(W^r r_t + W^x h_t)
 *   kv         h_t = [k_t; v_t]: scores from the keys, the read from
 *              the values                                          parts 2
 *              M_t = tanh(W^Y [k_{t−L} … k_{t−1}] + (W^h k_t) 1ᵀ)
 *              r_t = [v_{t−L} … v_{t−1}] α_tᵀ
 *              h*_t = tanh(W^r r_t + W^x v_t)
 *   kvp        h_t = [k_t; v_t; p_t]: as kv, the third part predicts
 *              h*_t = tanh(W^r r_t + W^x p_t)                      parts 3
 *   ngram      h_t = [h¹_t; …; h^{N−1}_t]                          parts N−1
 *              h*_t = tanh(W^N [h¹_t; h²_{t−1}; …; h^{N−1}_{t−N+2}] + b^N)
 *              (a part before the first step reads zeros)
 *
 * W^Y, W^h, W^r, W^x are (k, k), w (k): the attention of attention, kv and
 * kvp is the library's key-value family (at_key_value, attn.W_Y ...), the
 * window being the L = memory previous steps (step 0 sees nothing: r_0 = 0,
 * α_0 = 0). Every step of a window is computed at once: the LSTM is one
 * tape entry over the whole sequence, the attention one more, the rest are
 * (B·T)-row matrix products. Nothing here reads a later character, so row
 * t of the logits depends on x_0 .. x_t alone (causal).
 *
 * Parameter names follow PyTorch's modules: tok_embed.weight (V, embed),
 * lstm.weight_ih_l0 (4·parts·k, embed) and the rest of nn.LSTM's,
 * attn.W_Y, attn.W_h (k, k), attn.w (k), attn.W_r, attn.W_x (k, k),
 * ngram.weight (k, (N−1)k), ngram.bias (k), out.weight (V, k), out.bias (V).
 * Initialisation is each layer's own (embedding N(0, 1), LSTM and dense as
 * at_lstm / at_dense, attention as at_key_value); rng NULL leaves every
 * parameter zero for a load.
 */
#include "lm.h"

#include <string.h>

#define MAX_PARTS 16 /* the LSTM's output in at most 16 parts: ngram's N − 1 (config.c) */

static int uses_attention(at_lm_kind kind) {
    return kind == AT_LM_ATTENTION || kind == AT_LM_KV || kind == AT_LM_KVP;
}

/* How many k-wide parts the LSTM's output has. */
static int lstm_parts(const at_lm_config *c) {
    switch (c->kind) {
    case AT_LM_KV:
        return 2;
    case AT_LM_KVP:
        return 3;
    case AT_LM_NGRAM:
        return c->memory; // N − 1
    default:
        return 1;
    }
}

at_status lm_daniluk_init(at_ctx *ctx, at_lm *m, at_rng *rng) {
    const at_lm_config *c = &m->config;
    const int k = c->width, wide = lstm_parts(c) * k;
    AT_TRY(at_embedding_init(ctx, &m->tok_embed, m->params, "tok_embed", m->V, c->embed, rng));
    AT_TRY(at_lstm_init(ctx, &m->lstm, m->params, "lstm", c->embed, wide, 0, rng));
    if (uses_attention(c->kind))
        AT_TRY(at_key_value_init(ctx, &m->kv, m->params, "attn", k, k, k, k, k, c->memory, rng));
    if (c->kind == AT_LM_NGRAM)
        AT_TRY(at_dense_init(ctx, &m->ngram, m->params, "ngram", wide, k, 1, rng));
    return at_dense_init(ctx, &m->out, m->params, "out", k, m->V, 1, rng);
}

/* h (B, T, parts·k) cut into its k-wide parts along the features. */
static at_status split_parts(at_ctx *ctx, at_tensor *h, int parts, int k, at_tensor **out) {
    if (parts == 1) {
        out[0] = h;
        return AT_OK;
    }
    if (parts > MAX_PARTS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: %d parts (at most %d)", parts,
                           MAX_PARTS);
    int sizes[MAX_PARTS];
    for (int i = 0; i < MAX_PARTS; i++)
        sizes[i] = k;
    return at_split(ctx, out, h, 2, parts, sizes);
}

/* attention, kv, kvp: h*_t from the key-value attention over the previous
 * L outputs. weights: NULL, or (B, T, T) floats that receive α. */
static at_status attend_over_memory(at_ctx *ctx, const at_lm *m, at_tensor *h, int B, int T,
                                    at_tensor **h_star, float *weights) {
    at_tensor *part[3];
    AT_TRY(split_parts(ctx, h, lstm_parts(&m->config), m->config.width, part));
    // attention: keys = values = x = h;  kv: k, v, x = v;  kvp: k, v, x = p
    at_tensor *keys = part[0], *values = m->config.kind == AT_LM_ATTENTION ? h : part[1];
    at_tensor *x = m->config.kind == AT_LM_KVP ? part[2] : values;
    at_tensor *alpha = NULL, **alpha_out = weights ? &alpha : NULL; // α (B, T, T)
    AT_TRY(at_key_value_forward(ctx, &m->kv, keys, values, x, NULL, h_star, alpha_out));
    if (weights) memcpy(weights, alpha->data, (size_t)B * T * T * sizeof *weights);
    return AT_OK;
}

/* x (B, T, k) read `steps` steps late: out[:, t] = x[:, t − steps], zeros
 * for t < steps. */
static at_status delay(at_ctx *ctx, at_tensor *x, int steps, at_tensor **out) {
    if (steps == 0) {
        *out = x;
        return AT_OK;
    }
    const int B = x->shape[0], T = x->shape[1], k = x->shape[2];
    const int blank = steps < T ? steps : T;
    at_tensor *zeros, *early;
    AT_TRY(at_tensor_new(ctx, &zeros, 3, (const int[]){B, blank, k})); // (B, blank, k)
    if (blank == T) {
        *out = zeros;
        return AT_OK;
    }
    AT_TRY(at_slice(ctx, &early, x, 1, 0, T - steps)); // (B, T − steps, k)
    return at_concat(ctx, out, 2, (at_tensor *const[]){zeros, early}, 1);
}

/* ngram: h*_t = tanh(W^N [h¹_t; h²_{t−1}; …] + b^N)   (B, T, k). */
static at_status mix_ngram(at_ctx *ctx, const at_lm *m, at_tensor *h, at_tensor **h_star) {
    const int parts = m->config.memory; // N − 1
    at_tensor *part[MAX_PARTS], *late[MAX_PARTS], *joined, *pre;
    AT_TRY(split_parts(ctx, h, parts, m->config.width, part));
    for (int i = 0; i < parts; i++)
        AT_TRY(delay(ctx, part[i], i, &late[i]));
    AT_TRY(at_concat(ctx, &joined, parts, late, 2)); // (B, T, (N−1)k)
    AT_TRY(at_dense_forward(ctx, &m->ngram, joined, &pre));
    return at_tanh(ctx, h_star, pre);
}

at_status lm_daniluk_forward(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                             at_tensor **logits, float *weights) {
    at_tensor *e, *h, *h_star;
    AT_TRY(at_embedding_forward(ctx, &m->tok_embed, ids, 2, (const int[]){B, T}, &e));
    AT_TRY(at_lstm_forward(ctx, &m->lstm, e, NULL, NULL, NULL, &h, NULL, NULL));
    AT_TRY(at_dropout(ctx, &h, h, m->config.dropout)); // (B, T, parts·k)
    if (uses_attention(m->config.kind))
        AT_TRY(attend_over_memory(ctx, m, h, B, T, &h_star, weights));
    else if (m->config.kind == AT_LM_NGRAM)
        AT_TRY(mix_ngram(ctx, m, h, &h_star));
    else
        h_star = h;
    return at_dense_forward(ctx, &m->out, h_star, logits); // (B, T, V)
}
