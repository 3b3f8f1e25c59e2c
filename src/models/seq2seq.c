/*
 * seq2seq.c - the encoder-decoder's parameters, its encoder and its loss.
 *
 * The encoder embeds the source characters and runs a stack of L BiLSTMs
 * over them with the batch's lengths, so padding never reaches a state
 * (as nn.LSTM(num_layers=L, bidirectional=True, dropout=p)):
 *     x   = embed(source)                     (B, Tx, E)
 *     h^1 = BiLSTM_1(x, lengths)              (B, Tx, 2N)
 *     h^l = BiLSTM_l(dropout_p(h^{l-1}))      (B, Tx, 2N)   l = 2 .. L
 *     h   = h^L                               the annotations
 * dropout_p is the identity outside training mode. Then, once per
 * sequence, what every decoder step will need, from the top layer:
 *     seed:  s_0 = tanh(W_s h_1); keys_proj = U_a h_j + b_a
 *     luong: s_0 = tanh(W_init [h^L_fwd_last; h^L_bwd_first]), h̃_0 = 0;
 *            the family's precomputed keys (_project_keys / _project_kv)
 * The loss runs the decoder teacher-forced over the whole target and takes
 * the mean cross-entropy of every non-PAD target (decoders.c has the step).
 */
#include "models.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- creation */

static at_status init_attention(at_ctx *ctx, at_seq2seq *m, at_rng *rng) {
    const at_seq2seq_config *c = &m->config;
    at_params *p = m->params;
    int S = c->decoder_size, K = 2 * c->encoder_size, A = c->attn_size;
    switch (c->attention) {
    case AT_ATTENTION_ADDITIVE:
    case AT_ATTENTION_FORWARD:
        return at_additive_init(ctx, &m->additive, p, "attention", S, K, A, rng);
    case AT_ATTENTION_DOT:
        return at_luong_init(ctx, &m->luong, p, "attention", AT_SCORE_DOT, S, K, A, 0, 0, rng);
    case AT_ATTENTION_GENERAL:
        return at_luong_init(ctx, &m->luong, p, "attention", AT_SCORE_GENERAL, S, K, A, 0, 0, rng);
    case AT_ATTENTION_CONCAT:
        return at_luong_init(ctx, &m->luong, p, "attention", AT_SCORE_CONCAT, S, K, A, 0, 0, rng);
    case AT_ATTENTION_LOCATION:
        return at_luong_init(ctx, &m->luong, p, "attention", AT_SCORE_LOCATION, S, K, A,
                             c->max_source_len, 0, rng);
    case AT_ATTENTION_LOCAL_M:
    case AT_ATTENTION_LOCAL_P:
        return at_luong_local_init(ctx, &m->local, p, "attention",
                                   c->attention == AT_ATTENTION_LOCAL_M ? AT_LOCAL_M : AT_LOCAL_P,
                                   AT_SCORE_GENERAL, S, K, A, 0, c->window, A, rng);
    case AT_ATTENTION_MONOTONIC:
        return at_monotonic_init(ctx, &m->monotonic, p, "attention", S, K, A, rng);
    case AT_ATTENTION_MULTIPLICATIVE:
        return AT_OK; /* scaled dot: no parameters */
    case AT_ATTENTION_MULTI_HEAD:
        return at_multi_head_init(ctx, &m->multi_head, p, "attention", S, c->heads, rng);
    default:
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq: unknown attention");
    }
}

static at_status init_luong_decoder(at_ctx *ctx, at_seq2seq *m, at_rng *rng) {
    const at_seq2seq_config *c = &m->config;
    int E = c->embed_size, S = c->decoder_size, K = 2 * c->encoder_size;
    AT_TRY(at_embedding_init(ctx, &m->target_embed, m->params, "target_embed", m->target_vocab_size,
                             E, rng));
    AT_TRY(at_dense_init(ctx, &m->init, m->params, "decoder.init", K, S, 1, rng));
    if (c->cell == AT_CELL_LSTM)
        AT_TRY(at_lstm_init(ctx, &m->lstm, m->params, "decoder.cell", E + S, S, 0, rng));
    else
        AT_TRY(at_gru_init(ctx, &m->gru, m->params, "decoder.cell", E + S, S, 0, rng));
    AT_TRY(init_attention(ctx, m, rng));
    AT_TRY(at_dense_init(ctx, &m->W_c, m->params, "decoder.W_c", K + S, S, 0, rng));
    return at_dense_init(ctx, &m->W_s, m->params, "decoder.W_s", S, m->target_vocab_size, 1, rng);
}

static at_status init_seed_decoder(at_ctx *ctx, at_seq2seq *m, at_rng *rng) {
    const at_seq2seq_config *c = &m->config;
    int Y = m->target_vocab_size;
    if (c->seed_teacher_forcing) {
        Y = c->embed_size;
        AT_TRY(at_embedding_init(ctx, &m->target_embed, m->params, "target_embed",
                                 m->target_vocab_size, Y, rng));
    }
    at_attention_decoder_options options = at_attention_decoder_options_default();
    options.output_from_previous_state = c->seed_output_from_previous_state;
    return at_attention_decoder_init_ext(ctx, &m->seed, m->params, "decoder", Y,
                                         2 * c->encoder_size, c->decoder_size, m->target_vocab_size,
                                         c->attn_size, &options, rng);
}

/* Layer 1 reads the embeddings (E), each layer above the 2N-wide output of
 * the one below. Layer l is named as PyTorch's layer l - 1: layer 1 keeps
 * the names of the one-layer encoder (encoder.weight_ih_l0, ...), and is
 * drawn first, so a one-layer model is initialised as it always was. */
static at_status init_encoder(at_ctx *ctx, at_seq2seq *m, at_rng *rng) {
    const at_seq2seq_config *c = &m->config;
    for (int l = 0; l < c->encoder_layers; l++)
        AT_TRY(at_bilstm_init_layer(ctx, &m->encoder[l], m->params, "encoder", l,
                                    l == 0 ? c->embed_size : 2 * c->encoder_size,
                                    c->encoder_size, rng));
    return AT_OK;
}

/* Every parameter, drawn from the config's seed. For a load (check set)
 * each parameter is first checked by `check` (against the file) and the
 * layers get no generator: they leave their parameters zero, as the file
 * is about to overwrite them (orthogonal initialisation is cubic). */
static at_status init_parameters(at_ctx *ctx, at_seq2seq *m, ati_params_check_fn check,
                                 void *check_user) {
    const at_seq2seq_config *c = &m->config;
    at_rng seeded;
    at_rng_seed(&seeded, c->seed);
    at_rng *rng = check ? NULL : &seeded;
    AT_TRY(at_params_create(ctx, &m->params));
    ati_params_set_check(m->params, check, check_user);
    AT_TRY(at_embedding_init(ctx, &m->source_embed, m->params, "source_embed", m->source_vocab_size,
                             c->embed_size, rng));
    AT_TRY(init_encoder(ctx, m, rng));
    if (c->decoder == AT_DECODER_SEED) return init_seed_decoder(ctx, m, rng);
    return init_luong_decoder(ctx, m, rng);
}

at_status at_seq2seq_create(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *config,
                            at_vocab *source_vocab, at_vocab *target_vocab) {
    return s2s_create(ctx, out, config, source_vocab, target_vocab, NULL, NULL);
}

at_status at_seq2seq_copy(at_ctx *ctx, at_seq2seq **out, const at_seq2seq *m) {
    if (!out || !m) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_copy: NULL argument");
    *out = NULL;
    at_vocab *source = NULL, *target = NULL;
    AT_TRY(at_vocab_copy(ctx, &source, m->source_vocab));
    at_status s = at_vocab_copy(ctx, &target, m->target_vocab);
    if (s != AT_OK) {
        at_vocab_free(source);
        return s;
    }
    at_seq2seq *copy = NULL;
    AT_TRY(at_seq2seq_create(ctx, &copy, &m->config, source, target));
    s = ati_params_copy_values(ctx, copy->params, m->params, "seq2seq_copy");
    if (s != AT_OK) {
        at_seq2seq_free(copy);
        return s;
    }
    *out = copy;
    return AT_OK;
}

at_status s2s_create(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *config,
                     at_vocab *source_vocab, at_vocab *target_vocab, ati_params_check_fn check,
                     void *check_user) {
    at_status s = AT_OK;
    if (!out || !config || !source_vocab || !target_vocab)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_create: NULL argument");
    if (s == AT_OK) s = s2s_config_check(ctx, config);
    at_seq2seq *m = s == AT_OK ? calloc(1, sizeof *m) : NULL;
    if (s == AT_OK && !m) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq_create: out of memory");
    if (s != AT_OK) {
        at_vocab_free(source_vocab);
        at_vocab_free(target_vocab);
        return s;
    }
    m->config = *config;
    m->source_vocab = source_vocab;
    m->target_vocab = target_vocab;
    m->source_vocab_size = at_vocab_size(source_vocab);
    m->target_vocab_size = at_vocab_size(target_vocab);
    s = init_parameters(ctx, m, check, check_user);
    if (m->params) ati_params_set_check(m->params, NULL, NULL);
    if (s != AT_OK) {
        at_seq2seq_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

void at_seq2seq_free(at_seq2seq *m) {
    if (!m) return;
    at_params_free(m->params);
    at_vocab_free(m->source_vocab);
    at_vocab_free(m->target_vocab);
    free(m);
}

const at_seq2seq_config *at_seq2seq_get_config(const at_seq2seq *m) { return &m->config; }
at_params *at_seq2seq_params(const at_seq2seq *m) { return m->params; }
const at_vocab *at_seq2seq_source_vocab(const at_seq2seq *m) { return m->source_vocab; }
const at_vocab *at_seq2seq_target_vocab(const at_seq2seq *m) { return m->target_vocab; }

int at_seq2seq_heads(const at_seq2seq *m) {
    const at_seq2seq_config *c = &m->config;
    return c->decoder == AT_DECODER_LUONG && c->attention == AT_ATTENTION_MULTI_HEAD ? c->heads : 1;
}

/* -------------------------------------------------------------- encoder */

/* The family's per-sequence precomputation over the annotations h. */
static at_status project_keys(at_ctx *ctx, const at_seq2seq *m, enc_out *enc) {
    at_tensor *h = enc->annotations;
    if (m->config.decoder == AT_DECODER_SEED)
        return at_additive_project_keys(ctx, &m->seed.attention, h, &enc->keys_proj);
    switch (m->config.attention) {
    case AT_ATTENTION_ADDITIVE:
    case AT_ATTENTION_FORWARD:
        return at_additive_project_keys(ctx, &m->additive, h, &enc->keys_proj);
    case AT_ATTENTION_DOT:
    case AT_ATTENTION_GENERAL:
    case AT_ATTENTION_CONCAT:
    case AT_ATTENTION_LOCATION:
        return at_luong_project_keys(ctx, &m->luong, h, &enc->keys_proj);
    case AT_ATTENTION_LOCAL_M:
    case AT_ATTENTION_LOCAL_P:
        return at_luong_project_keys(ctx, &m->local.align, h, &enc->keys_proj);
    case AT_ATTENTION_MONOTONIC:
        return at_additive_project_keys(ctx, &m->monotonic.energy, h, &enc->keys_proj);
    case AT_ATTENTION_MULTI_HEAD:
        return at_multi_head_project_kv(ctx, &m->multi_head, h, h, &enc->k_heads, &enc->v_heads);
    default:
        enc->keys_proj = h;
        return AT_OK;
    }
}

/* luong: s_0 = tanh(W_init [h_fwd at the last step; h_bwd at the first]),
 * h_n (2, B, N) the top encoder layer's final states. */
static at_status luong_start(at_ctx *ctx, const at_seq2seq *m, at_tensor *h_n, int B,
                             dec_state *state) {
    int N = m->config.encoder_size, S = m->config.decoder_size;
    at_tensor *fwd, *bwd, *both, *pre;
    AT_TRY(at_slice(ctx, &fwd, h_n, 0, 0, 1));
    AT_TRY(at_slice(ctx, &bwd, h_n, 0, 1, 1));
    AT_TRY(at_reshape(ctx, &fwd, fwd, 2, (int[]){B, N}));
    AT_TRY(at_reshape(ctx, &bwd, bwd, 2, (int[]){B, N}));
    AT_TRY(at_concat(ctx, &both, 2, (at_tensor *[]){fwd, bwd}, 1)); /* (B, 2N) */
    AT_TRY(at_dense_forward(ctx, &m->init, both, &pre));
    AT_TRY(at_tanh(ctx, &state->s, pre)); /* (B, S) */
    AT_TRY(at_tensor_new(ctx, &state->h_tilde, 2, (int[]){B, S}));
    if (m->config.cell == AT_CELL_LSTM) AT_TRY(at_tensor_new(ctx, &state->c, 2, (int[]){B, S}));
    return AT_OK;
}

/* x (B, Tx, E) -> h (B, Tx, 2N) the top layer's output, h_n (2, B, N) its
 * final states; dropout on the input of every layer but the first. */
static at_status run_encoder(at_ctx *ctx, const at_seq2seq *m, at_tensor *x,
                             const int32_t *lengths, at_tensor **h, at_tensor **h_n) {
    AT_TRY(at_bilstm_forward(ctx, &m->encoder[0], x, lengths, h, h_n));
    for (int l = 1; l < m->config.encoder_layers; l++) {
        at_tensor *below;
        AT_TRY(at_dropout(ctx, &below, *h, m->config.dropout)); /* (B, Tx, 2N) */
        AT_TRY(at_bilstm_forward(ctx, &m->encoder[l], below, lengths, h, h_n));
    }
    return AT_OK;
}

at_status s2s_encode(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch, enc_out *enc,
                     dec_state *state) {
    int B = batch->batch, Tx = batch->source_len;
    *enc = (enc_out){.B = B,
                     .Tx = Tx,
                     .lengths = batch->lengths,
                     .mask = {.keep = batch->source_mask, .rows = B}};
    *state = (dec_state){0};
    at_tensor *x, *h_n;
    AT_TRY(at_embedding_forward(ctx, &m->source_embed, batch->source, 2, (int[]){B, Tx}, &x));
    AT_TRY(run_encoder(ctx, m, x, batch->lengths, &enc->annotations, &h_n));
    AT_TRY(project_keys(ctx, m, enc));
    if (m->config.decoder == AT_DECODER_SEED) {
        AT_TRY(at_attention_decoder_start(ctx, &m->seed, enc->annotations, &state->s));
        if (!m->config.seed_teacher_forcing) /* y_0 = 0 */
            AT_TRY(at_tensor_new(ctx, &state->y_soft, 2, (int[]){B, m->target_vocab_size}));
        return AT_OK;
    }
    return luong_start(ctx, m, h_n, B, state);
}

/* ----------------------------------------------------------------- loss */

at_status at_seq2seq_loss(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch,
                          at_tensor **loss) {
    if (!m || !batch || !loss || batch->batch <= 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_loss: NULL or empty argument");
    int B = batch->batch, Ty = batch->target_len;
    enc_out enc;
    dec_state state;
    AT_TRY(s2s_encode(ctx, m, batch, &enc, &state));
    at_tensor **steps;
    AT_TRY(ati_scratch(ctx, (void **)&steps, (size_t)Ty * sizeof *steps));
    for (int t = 0; t < Ty; t++)
        AT_TRY(s2s_decoder_step(ctx, m, &enc, &state, batch->target_in + (size_t)t * B, t,
                                &steps[t], NULL));
    at_tensor *logits;
    AT_TRY(at_concat(ctx, &logits, Ty, steps, 0)); /* (Ty*B, Vt), t-major like target_out */
    return at_cross_entropy(ctx, loss, logits, batch->target_out, AT_TOKEN_PAD, 0.0f);
}
