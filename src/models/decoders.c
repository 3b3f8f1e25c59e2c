/*
 * decoders.c - one decoder step of the seq2seq model, for both decoders and
 * every attention family. Training (teacher-forced) and greedy decoding call
 * the same step; only the previous ids they pass differ.
 *
 * seed (the AttentionDecoder, family 2; attention on s_{t-1}):
 *     y_{t-1} = embed(prev)                 teacher forcing (default), or
 *     y_{t-1} = softmax(logits_{t-1})       the original: its own output
 *     s_t, logits_t, α_t = at_attention_decoder_step(y_{t-1}, s_{t-1}, h)
 *
 * luong (input feeding; attention on the current state h_t):
 *     x_t  = [embed(prev); h̃_{t-1}]         (B, E + S)
 *     h_t  = GRU / LSTM cell(x_t, h_{t-1})   (B, S)
 *     c_t, α_t = attention(h_t, h)           (B, 2N), (B, Tx) or (B, H, Tx)
 *     h̃_t  = tanh(W_c [c_t; h_t])            (B, S)
 *     logits_t = W_s h̃_t + b_s               (B, Vt)
 *
 * "Explain one step" (explain.c) runs this very step with a recorder on
 * the context: each step hands it the input, c_t and h̃_t by name (a no-op
 * otherwise); the attention and the seed's cell record their own insides.
 */
#include "models.h"

/* -------------------------------------------------------------- seed */

static at_status seed_step(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc, dec_state *state,
                           const int32_t *prev, at_tensor **logits, at_tensor **weights) {
    at_tensor *y_prev = state->y_soft;
    if (m->config.seed_teacher_forcing)
        AT_TRY(at_embedding_forward(ctx, &m->target_embed, prev, 1, (int[]){enc->B}, &y_prev));
    at_tensor *context;
    AT_TRY(ati_trace_put(ctx, "input", y_prev->data, y_prev->ndim, y_prev->shape));
    AT_TRY(at_attention_decoder_step_ext(ctx, &m->seed, y_prev, state->s, enc->annotations,
                                         enc->keys_proj, &enc->mask, &state->s, logits, weights,
                                         &context));
    AT_TRY(ati_trace_put(ctx, "context", context->data, context->ndim, context->shape));
    if (!m->config.seed_teacher_forcing) /* the next step reads this step's softmax */
        AT_TRY(at_softmax(ctx, &state->y_soft, *logits, NULL, 0));
    return AT_OK;
}

/* ------------------------------------------------------------ families */

/* Families whose weights come back as (B, 1, Tx) or (B, H, 1, Tx): make
 * them (B, H, Tx) and the context (B, D). */
static at_status squeeze_step(at_ctx *ctx, const enc_out *enc, int heads, at_tensor **context,
                              at_tensor **weights) {
    int D = (*context)->shape[(*context)->ndim - 1];
    AT_TRY(at_reshape(ctx, context, *context, 2, (int[]){enc->B, D}));
    if (weights && *weights)
        AT_TRY(at_reshape(ctx, weights, *weights, 3, (int[]){enc->B, heads, enc->Tx}));
    return AT_OK;
}

static at_status forward_family(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc,
                                dec_state *state, at_tensor *h, at_tensor **context) {
    at_tensor *unused, *y;
    AT_TRY(at_additive_attend(ctx, &m->additive, h, enc->keys_proj, enc->annotations, &enc->mask,
                              &unused, &y));
    AT_TRY(ati_trace_put(ctx, "base", y->data, y->ndim, y->shape)); // y_t, for explain
    return at_forward_attention(ctx, y, state->alpha, NULL, enc->annotations, &enc->mask, context,
                                &state->alpha);
}

static at_status monotonic_family(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc,
                                  dec_state *state, at_tensor *h, at_tensor **context,
                                  at_tensor **weights) {
    if (state->hard)
        return at_monotonic_attend_hard(ctx, &m->monotonic, h, enc->keys_proj, enc->annotations,
                                        &enc->mask, state->positions, context, weights);
    AT_TRY(at_monotonic_attend(ctx, &m->monotonic, h, enc->keys_proj, enc->annotations,
                               state->alpha, &enc->mask, context, &state->alpha));
    if (weights) *weights = state->alpha;
    return AT_OK;
}

/* c_t (B, 2N) and, if asked, α_t of the luong decoder's family for the
 * query h (B, S) at step t. */
static at_status luong_attention(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc,
                                 dec_state *state, at_tensor *h, int t, at_tensor **context,
                                 at_tensor **weights) {
    at_tensor *h_ = enc->annotations, *q;
    const at_attn_mask *mask = &enc->mask;
    switch (m->config.attention) {
    case AT_ATTENTION_ADDITIVE:
        return at_additive_attend(ctx, &m->additive, h, enc->keys_proj, h_, mask, context, weights);
    case AT_ATTENTION_DOT:
    case AT_ATTENTION_GENERAL:
    case AT_ATTENTION_CONCAT:
    case AT_ATTENTION_LOCATION:
        return at_luong_attend(ctx, &m->luong, h, enc->keys_proj, h_, mask, context, weights);
    case AT_ATTENTION_LOCAL_M:
    case AT_ATTENTION_LOCAL_P:
        return at_luong_local_attend(ctx, &m->local, h, enc->keys_proj, h_, mask, enc->lengths, t,
                                     context, weights, NULL);
    case AT_ATTENTION_MONOTONIC:
        AT_TRY(monotonic_family(ctx, m, enc, state, h, context, weights));
        break;
    case AT_ATTENTION_FORWARD:
        AT_TRY(forward_family(ctx, m, enc, state, h, context));
        if (weights) *weights = state->alpha;
        break;
    case AT_ATTENTION_MULTIPLICATIVE:
        AT_TRY(at_reshape(ctx, &q, h, 3, (int[]){enc->B, 1, h->shape[1]}));
        AT_TRY(at_dot_attention(ctx, q, h_, h_, 0.0f, mask, context, weights));
        return squeeze_step(ctx, enc, 1, context, weights);
    case AT_ATTENTION_MULTI_HEAD:
        AT_TRY(at_reshape(ctx, &q, h, 3, (int[]){enc->B, 1, h->shape[1]}));
        AT_TRY(at_multi_head_attend(ctx, &m->multi_head, q, enc->k_heads, enc->v_heads, mask,
                                    context, weights));
        return squeeze_step(ctx, enc, m->config.heads, context, weights);
    default:
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq: unknown attention");
    }
    return AT_OK;
}

/* --------------------------------------------------------------- luong */

static at_status luong_step(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc, dec_state *state,
                            const int32_t *prev, int t, at_tensor **logits, at_tensor **weights) {
    at_tensor *e, *x, *context, *joined, *pre;
    AT_TRY(at_embedding_forward(ctx, &m->target_embed, prev, 1, (int[]){enc->B}, &e));
    AT_TRY(at_concat(ctx, &x, 2, (at_tensor *[]){e, state->h_tilde}, 1)); /* (B, E + S) */
    AT_TRY(ati_trace_put(ctx, "input", x->data, x->ndim, x->shape));
    if (m->config.cell == AT_CELL_LSTM)
        AT_TRY(at_lstm_cell(ctx, &m->lstm, x, state->s, state->c, &state->s, &state->c));
    else
        AT_TRY(at_gru_cell(ctx, &m->gru, x, state->s, &state->s));
    AT_TRY(luong_attention(ctx, m, enc, state, state->s, t, &context, weights));
    AT_TRY(ati_trace_put(ctx, "context", context->data, context->ndim, context->shape));
    AT_TRY(at_concat(ctx, &joined, 2, (at_tensor *[]){context, state->s}, 1)); /* (B, 2N + S) */
    AT_TRY(at_dense_forward(ctx, &m->W_c, joined, &pre));
    AT_TRY(at_tanh(ctx, &state->h_tilde, pre));
    AT_TRY(ati_trace_put(ctx, "attentional", state->h_tilde->data, 2, state->h_tilde->shape));
    /* d_t = dropout_q(h~_t): the output and the next step's input feed */
    if (m->config.output_dropout > 0.0f)
        AT_TRY(at_dropout(ctx, &state->h_tilde, state->h_tilde, m->config.output_dropout));
    return at_dense_forward(ctx, &m->W_s, state->h_tilde, logits);
}

at_status s2s_decoder_step(at_ctx *ctx, const at_seq2seq *m, const enc_out *enc, dec_state *state,
                           const int32_t *prev, int t, at_tensor **logits, at_tensor **weights) {
    if (m->config.decoder == AT_DECODER_SEED)
        return seed_step(ctx, m, enc, state, prev, logits, weights);
    return luong_step(ctx, m, enc, state, prev, t, logits, weights);
}
