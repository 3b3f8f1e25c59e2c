/*
 * evaluate.c - how well a language model predicts a text, and the model
 * as a task for the trainer.
 *
 * Evaluation cuts the text into consecutive windows of T = context
 * characters; window w reads ids[wT .. wT+T) and predicts
 * ids[wT+1 .. wT+T] (the last window may be shorter). Every character but
 * the first is predicted exactly once, so the mean is over n - 1
 * predictions:
 *     nats = -(1 / (n-1)) Σ_i log p(x_i | the window's characters before x_i)
 *     bpc  = nats / ln 2
 * A window's first characters have little context, as in training, where
 * every position of a window is a target too (nanoGPT measures the same).
 *
 * Training examples are windows of T + 1 characters starting at every
 * position of the training text, so an epoch visits each character T
 * times; the trainer shuffles their starts (random windows, as nanoGPT
 * samples them, but each start once a pass).
 */
#include "lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Mean cross-entropy of `count` windows of length T (each T + 1 ids)
 * starting at ids + starts[k]; adds the summed nats to *sum. */
static at_status score_windows(at_ctx *ctx, const at_lm *m, const int32_t *ids,
                               const size_t *starts, int count, int T, double *sum) {
    int32_t *windows = NULL;
    at_ctx_reset(ctx);
    AT_TRY(ati_scratch(ctx, (void **)&windows, (size_t)count * (T + 1) * sizeof *windows));
    for (int k = 0; k < count; k++)
        memcpy(windows + (size_t)k * (T + 1), ids + starts[k], (size_t)(T + 1) * sizeof *windows);
    at_tensor *loss;
    AT_TRY(at_lm_loss(ctx, m, windows, count, T, &loss));
    *sum += (double)loss->data[0] * (double)count * T;
    return AT_OK;
}

/* The summed nats and the predictions of shard `shard` of `shards`: the
 * batches of windows k with k % shards == shard, the last, shorter window
 * counting as one more batch. One shard of one is the whole text. */
static at_status evaluate_shard(at_ctx *ctx, const at_lm *m, const int32_t *ids, size_t n,
                                int batch, size_t max_chars, int shard, int shards, double *sum,
                                size_t *predicted) {
    if (max_chars > 0 && max_chars < n) n = max_chars;
    int T = m->config.context;
    size_t full = (n - 1) / (size_t)T; /* windows of T predictions */
    size_t *starts = malloc((size_t)batch * sizeof *starts);
    if (!starts) return at_ctx_fail(ctx, AT_ERR_MEMORY, "lm evaluate: out of memory");
    *sum = 0, *predicted = 0;
    at_status s = AT_OK;
    size_t batches = 0;
    for (size_t w = 0; w < full && s == AT_OK; w += (size_t)batch, batches++) {
        int count = (int)(full - w < (size_t)batch ? full - w : (size_t)batch);
        if (batches % (size_t)shards != (size_t)shard) continue;
        for (int k = 0; k < count; k++) starts[k] = (w + (size_t)k) * (size_t)T;
        s = score_windows(ctx, m, ids, starts, count, T, sum);
        *predicted += (size_t)count * (size_t)T;
    }
    int rest = (int)(n - 1 - full * (size_t)T); /* the last, shorter window */
    if (s == AT_OK && rest > 0 && batches % (size_t)shards == (size_t)shard) {
        starts[0] = full * (size_t)T;
        s = score_windows(ctx, m, ids, starts, 1, rest, sum);
        *predicted += (size_t)rest;
    }
    free(starts);
    at_ctx_reset(ctx);
    return s;
}

static at_status evaluate(at_ctx *ctx, const at_lm *m, const int32_t *ids, size_t n, int batch,
                          size_t max_chars, double *nats, size_t *predicted) {
    double sum;
    size_t count;
    AT_TRY(evaluate_shard(ctx, m, ids, n, batch, max_chars, 0, 1, &sum, &count));
    *nats = sum / (double)count;
    if (predicted) *predicted = count;
    return AT_OK;
}

at_status at_lm_evaluate(at_ctx *ctx, const at_lm *m, const int32_t *ids, size_t n, int batch,
                         size_t max_chars, double *nats, size_t *predicted) {
    if (!m || !ids || !nats) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_evaluate: NULL argument");
    if (n < 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_evaluate: %zu characters (at least 2)", n);
    if (batch < 1) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_evaluate: batch %d < 1", batch);
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_status s = evaluate(ctx, m, ids, n, batch, max_chars, nats, predicted);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    return s;
}

/* ----------------------------------------------------------------- task */

struct at_lm_task {
    at_lm *model;
    const int32_t *train, *valid;
    size_t train_len, valid_len, eval_chars;
    int eval_batch;
    at_trainable trainable;
};

static at_status task_loss(at_ctx *ctx, void *self, const size_t *indices, int n,
                           at_tensor **loss) {
    const at_lm_task *t = self;
    int T = t->model->config.context;
    int32_t *windows = NULL;
    AT_TRY(ati_scratch(ctx, (void **)&windows, (size_t)n * (T + 1) * sizeof *windows));
    for (int k = 0; k < n; k++)
        memcpy(windows + (size_t)k * (T + 1), t->train + indices[k],
               (size_t)(T + 1) * sizeof *windows);
    return at_lm_loss(ctx, t->model, windows, n, T, loss);
}

static at_status task_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    const at_lm_task *t = self;
    double nats = 0;
    AT_TRY(at_lm_evaluate(ctx, t->model, t->valid, t->valid_len, t->eval_batch, t->eval_chars,
                          &nats, NULL));
    AT_TRY(at_metrics_set(ctx, metrics, "nats", nats));
    return at_metrics_set(ctx, metrics, "bpc", nats / log(2.0));
}

/* Split over processes: the shard's summed nats and predictions, then
 * their ratio (the same mean; the sums add in another order). */
static at_status task_evaluate_shard(at_ctx *ctx, void *self, int shard, int shards,
                                     double *counts) {
    const at_lm_task *t = self;
    size_t predicted = 0;
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_status s = evaluate_shard(ctx, t->model, t->valid, t->valid_len, t->eval_batch,
                                 t->eval_chars, shard, shards, &counts[0], &predicted);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    counts[1] = (double)predicted;
    return s;
}

static at_status task_evaluate_finish(at_ctx *ctx, void *self, const double *counts,
                                      at_metrics *metrics) {
    (void)self;
    double nats = counts[0] / counts[1];
    AT_TRY(at_metrics_set(ctx, metrics, "nats", nats));
    return at_metrics_set(ctx, metrics, "bpc", nats / log(2.0));
}

static at_status task_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    const at_lm_task *t = self;
    return at_lm_save(ctx, t->model, path, extra);
}

at_status at_lm_task_create(at_ctx *ctx, at_lm_task **out, at_lm *model, const int32_t *train,
                            size_t train_len, const int32_t *valid, size_t valid_len,
                            int eval_batch, size_t eval_chars) {
    if (!out || !model || !train || !valid)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_task_create: NULL argument");
    *out = NULL;
    size_t T = (size_t)model->config.context;
    if (train_len < T + 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "lm task: the training text has %zu characters, fewer than the "
                           "context + 1 (%zu): shorten --context or give more text",
                           train_len, T + 1);
    if (valid_len < 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "lm task: the validation text has %zu characters (at least 2)",
                           valid_len);
    if (eval_batch < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm task: eval batch %d < 1", eval_batch);
    at_lm_task *t = calloc(1, sizeof *t);
    if (!t) return at_ctx_fail(ctx, AT_ERR_MEMORY, "lm task: out of memory");
    *t = (at_lm_task){.model = model, .train = train, .valid = valid, .train_len = train_len,
                      .valid_len = valid_len, .eval_chars = eval_chars, .eval_batch = eval_batch};
    t->trainable = (at_trainable){.self = t, .params = model->params, .count = train_len - T,
                                  .loss = task_loss, .evaluate = task_evaluate, .save = task_save,
                                  .evaluate_shard = task_evaluate_shard,
                                  .evaluate_finish = task_evaluate_finish};
    *out = t;
    return AT_OK;
}

void at_lm_task_free(at_lm_task *t) { free(t); }

const at_trainable *at_lm_task_trainable(const at_lm_task *t) { return t ? &t->trainable : NULL; }
