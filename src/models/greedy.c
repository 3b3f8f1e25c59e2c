/*
 * greedy.c - decoding: at every step the most likely unit is taken and
 * fed back, until every row of the batch has produced END or the model's
 * max_target_len is reached. The output length is whatever the model says,
 * independent of the input length.
 *
 * One string is translated with beam search (beam.c; width 1, the default,
 * is this greedy decoding).
 *
 * Run in inference mode (no tape). Per step the attention α_t (B, H, Tx)
 * is copied out, so a translation comes with its (H, Ty, Tx) matrix.
 * Monotonic attention decodes hard: positions only move forward.
 */
#include "models.h"

#include <stdlib.h>
#include <string.h>

int32_t s2s_argmax(const float *row, int n) {
    int32_t best = 0;
    for (int v = 1; v < n; v++)
        if (row[v] > row[best]) best = v;
    return best;
}

/* Copy α_t (B, H, Tx) into weights (B, H, Ty_max, Tx) at row t. */
static void keep_weights(const at_seq2seq *m, const at_tensor *w, int B, int Tx, int t,
                         float *weights) {
    int H = at_seq2seq_heads(m), Ty = m->config.max_target_len;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            float *dst = weights + (((size_t)b * H + h) * Ty + t) * Tx;
            if (w)
                memcpy(dst, w->data + ((size_t)b * H + h) * Tx, (size_t)Tx * sizeof(float));
            else
                memset(dst, 0, (size_t)Tx * sizeof(float));
        }
}

at_status at_seq2seq_decode(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_batch *batch,
                            int32_t *ids, float *weights) {
    if (!m || !batch || !ids)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_decode: NULL argument");
    int B = batch->batch, Tx = batch->source_len, Ty = m->config.max_target_len;
    int V = m->target_vocab_size;
    enc_out enc;
    dec_state state;
    AT_TRY(s2s_encode(ctx, m, batch, &enc, &state));
    state.hard = 1;
    int32_t *prev;
    uint8_t *done;
    AT_TRY(ati_scratch_zero(ctx, (void **)&state.positions, (size_t)B * sizeof(int32_t)));
    AT_TRY(ati_scratch(ctx, (void **)&prev, (size_t)B * sizeof *prev));
    AT_TRY(ati_scratch_zero(ctx, (void **)&done, (size_t)B));
    for (int b = 0; b < B; b++)
        prev[b] = AT_TOKEN_START;
    for (size_t i = 0; i < (size_t)B * Ty; i++)
        ids[i] = AT_TOKEN_PAD;
    if (weights) memset(weights, 0, (size_t)B * at_seq2seq_heads(m) * Ty * Tx * sizeof(float));
    int finished = 0;
    for (int t = 0; t < Ty && finished < B; t++) {
        at_tensor *logits, *w = NULL;
        AT_TRY(s2s_decoder_step(ctx, m, &enc, &state, prev, t, &logits, weights ? &w : NULL));
        for (int b = 0; b < B; b++) {
            prev[b] = s2s_argmax(logits->data + (size_t)b * V, V);
            if (done[b]) continue;
            ids[(size_t)b * Ty + t] = prev[b];
            if (prev[b] == AT_TOKEN_END) done[b] = 1, finished++;
        }
        if (weights) keep_weights(m, w, B, Tx, t, weights);
    }
    return AT_OK;
}

/* -------------------------------------------------------- one string */

void at_translation_clear(at_translation *tr) {
    if (!tr) return;
    free(tr->text);
    free(tr->weights);
    *tr = (at_translation){0};
}

/* A batch of one built by hand from a string's ids (models.h). */
at_status s2s_single_batch(at_ctx *ctx, const at_seq2seq *m, const char *text,
                           at_seq2seq_batch *b) {
    size_t len = strlen(text);
    if (len == 0) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "empty text: nothing to translate");
    AT_TRY(at_utf8_check(ctx, text, len, "text"));
    size_t units = at_vocab_length(m->source_vocab, text);
    int tokens = at_vocab_get_kind(m->source_vocab) == AT_VOCAB_TOKENS;
    if (units == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "empty text: no token to translate");
    if (units > (size_t)m->config.max_source_len)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "text too long: %zu %s, the model takes at most %d",
                           units, tokens ? "tokens" : "characters", m->config.max_source_len);
    int n = 0;
    AT_TRY(at_vocab_encode(ctx, m->source_vocab, text, b->source, m->config.max_source_len, &n));
    b->batch = 1, b->source_len = n, b->target_len = 1;
    b->lengths[0] = n;
    memset(b->source_mask, 1, (size_t)n);
    b->target_in[0] = AT_TOKEN_START, b->target_out[0] = AT_TOKEN_END;
    return AT_OK;
}

/* Fill out from the decoded ids (1, Ty) and weights (1, H, Ty_max, Tx). */
static at_status finish_translation(at_ctx *ctx, const at_seq2seq *m, const int32_t *ids,
                                    const float *weights, int Tx, at_translation *out) {
    int Ty_max = m->config.max_target_len, H = at_seq2seq_heads(m), n = 0;
    while (n < Ty_max && ids[n] != AT_TOKEN_END && ids[n] != AT_TOKEN_PAD)
        n++;
    size_t bytes = at_vocab_decode_size(m->target_vocab, n);
    out->text = malloc(bytes);
    out->weights = malloc((size_t)H * (n ? n : 1) * Tx * sizeof(float));
    if (!out->text || !out->weights) {
        at_translation_clear(out);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "translate: out of memory");
    }
    at_status s = at_vocab_decode(ctx, m->target_vocab, ids, n, out->text, bytes);
    if (s != AT_OK) {
        at_translation_clear(out);
        return s;
    }
    for (int h = 0; h < H; h++)
        memcpy(out->weights + (size_t)h * n * Tx, weights + (size_t)h * Ty_max * Tx,
               (size_t)n * Tx * sizeof(float));
    out->source_len = Tx, out->target_len = n, out->heads = H;
    return AT_OK;
}

at_status at_seq2seq_translate(at_ctx *ctx, const at_seq2seq *m, const char *text,
                               at_translation *out) {
    return at_seq2seq_translate_beam(ctx, m, text, NULL, out);
}

at_status at_seq2seq_translate_beam(at_ctx *ctx, const at_seq2seq *m, const char *text,
                                    const at_beam_options *options, at_translation *out) {
    if (!m || !text || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "translate: NULL argument");
    at_beam_options greedy;
    at_beam_options_default(&greedy);
    if (!options) options = &greedy;
    float score = 0.0f;
    *out = (at_translation){0};
    at_seq2seq_batch b;
    AT_TRY(at_seq2seq_batch_init(ctx, m, 1, &b));
    int Ty = m->config.max_target_len, Tx = m->config.max_source_len;
    int32_t *ids = malloc((size_t)Ty * sizeof *ids);
    float *weights = malloc((size_t)at_seq2seq_heads(m) * Ty * Tx * sizeof *weights);
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_ctx_reset(ctx);
    at_status s =
        ids && weights ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "translate: out of memory");
    if (s == AT_OK) s = s2s_single_batch(ctx, m, text, &b);
    if (s == AT_OK) s = at_seq2seq_beam_search(ctx, m, &b, options, ids, weights, &score);
    if (s == AT_OK) s = finish_translation(ctx, m, ids, weights, b.source_len, out);
    if (s == AT_OK) out->score = score;
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    free(ids);
    free(weights);
    at_seq2seq_batch_free(&b);
    return s;
}
