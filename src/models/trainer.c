/*
 * trainer.c - what training and evaluation need from the model, and no
 * more: one optimisation step, and the two metrics.
 *
 * Exact match is judged on whole sequences with padding left out: the
 * decoded ids up to and including END must equal the target and its END.
 * (The seed's sequence metric compared padded rows and always read 0.)
 * Per-character accuracy counts target positions, END included, where the
 * decoded id is the target's. A training step runs its loss in training
 * mode (the encoder's dropout), an evaluation never does. The loop around
 * these - epochs, checkpoints, progress, signals - belongs to the caller
 * (cli/train.c).
 */
#include "models.h"

#include <stdlib.h>
#include <string.h>

at_status at_seq2seq_train_step(at_ctx *ctx, at_seq2seq *m, at_optim *optim,
                                const at_seq2seq_batch *batch, float clip_norm, float *loss_out) {
    if (!m || !optim || !batch)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_train_step: NULL argument");
    at_ctx_reset(ctx);
    at_params_zero_grad(m->params);
    at_tensor *loss;
    int training = at_ctx_set_training(ctx, 1); /* the encoder's dropout */
    at_status s = at_seq2seq_loss(ctx, m, batch, &loss);
    at_ctx_set_training(ctx, training);
    AT_TRY(s);
    AT_TRY(at_check_finite(ctx, loss->data, 1, "loss"));
    AT_TRY(at_backward(ctx, loss));
    if (clip_norm > 0) AT_TRY(at_clip_grad_norm(ctx, m->params, clip_norm, NULL));
    AT_TRY(at_optim_step(ctx, optim));
    if (loss_out) *loss_out = loss->data[0];
    return AT_OK;
}

/* Score row b of a decoded batch against data row k. Returns 1 if exact. */
static int score_row(const at_seq2seq_data *d, size_t k, const int32_t *ids, int Ty,
                     at_seq2seq_score *score) {
    const int32_t *target = d->ids + d->target_start[k];
    int n = d->target_len[k], exact = 1;
    for (int t = 0; t <= n; t++) {
        int32_t want = t < n ? target[t] : AT_TOKEN_END;
        int32_t got = t < Ty ? ids[t] : AT_TOKEN_PAD;
        score->chars++;
        if (got == want)
            score->chars_correct++;
        else
            exact = 0;
    }
    score->pairs++;
    score->exact += exact;
    return exact;
}

/* The batches of the shard (every shards-th, from the shard-th). */
static at_status evaluate_batches(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_data *d,
                                  int batch_size, int shard, int shards, const size_t *order,
                                  at_seq2seq_batch *b, int32_t *ids, at_seq2seq_score *score,
                                  uint8_t *correct) {
    int Ty = m->config.max_target_len;
    size_t step = (size_t)batch_size * (size_t)shards;
    for (size_t start = (size_t)batch_size * (size_t)shard; start < d->count; start += step) {
        int n =
            (int)(d->count - start < (size_t)batch_size ? d->count - start : (size_t)batch_size);
        at_ctx_reset(ctx);
        AT_TRY(at_seq2seq_batch_fill(ctx, b, d, order + start, n));
        AT_TRY(at_seq2seq_decode(ctx, m, b, ids, NULL));
        for (int i = 0; i < n; i++) {
            int exact = score_row(d, order[start + i], ids + (size_t)i * Ty, Ty, score);
            if (correct) correct[order[start + i]] = (uint8_t)exact;
        }
    }
    return AT_OK;
}

at_status at_seq2seq_evaluate(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_data *d,
                              int batch_size, at_seq2seq_score *score, uint8_t *correct) {
    return s2s_evaluate_shard(ctx, m, d, batch_size, 0, 1, score, correct);
}

at_status s2s_evaluate_shard(at_ctx *ctx, const at_seq2seq *m, const at_seq2seq_data *d,
                             int batch_size, int shard, int shards, at_seq2seq_score *score,
                             uint8_t *correct) {
    if (!m || !d || !score || batch_size <= 0 || shards < 1 || shard < 0 || shard >= shards)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_evaluate: NULL argument or batch size");
    *score = (at_seq2seq_score){0};
    if (d->count == 0) return AT_OK;
    size_t *order = malloc(d->count * sizeof *order);
    int32_t *ids = malloc((size_t)batch_size * m->config.max_target_len * sizeof *ids);
    at_seq2seq_batch b = {0};
    at_status s = order && ids ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "evaluate: out of memory");
    if (s == AT_OK) s = at_seq2seq_batch_init(ctx, m, batch_size, &b);
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    if (s == AT_OK) {
        at_rng rng;
        at_rng_seed(&rng, 0);
        /* one pool over everything: batches of near-equal length */
        at_seq2seq_bucket_order(d, batch_size, (int)(d->count / (size_t)batch_size + 1), &rng,
                                order);
        s = evaluate_batches(ctx, m, d, batch_size, shard, shards, order, &b, ids, score,
                             correct);
    }
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    at_seq2seq_batch_free(&b);
    free(order);
    free(ids);
    return s;
}
