/*
 * task.c - the sequence-to-sequence model as something the trainer can
 * train (at_trainable): the pairs encoded once, padded batches of the
 * indices the trainer picks, the loss, and greedy decoding of the
 * validation pairs for two metrics:
 *   exact  whole outputs equal to the target (padding never counts)
 *   char   target units - characters or tokens - (END included) the
 *          output got right
 * The best model is the one with the highest "exact". Or, for sources with
 * several references on consecutive lines (a word's pronunciations):
 *   wer    words whose output equals none of their references
 *   per    edits to the closest reference over its length
 * (at_seq2seq_evaluate_references; the lower the better).
 *
 * The loss follows the context's training mode, which at_train switches
 * on for its steps (the encoder's dropout) and off for evaluations; the
 * evaluation switches it off itself too (at_seq2seq_evaluate). Dropout
 * masks come from the context's generator, whose state the trainer keeps
 * in every last.safetensors (train.ctx_rng), so a resumed run draws the
 * masks an unbroken one would.
 */
#include "models.h"

#include <stdlib.h>

#define EVAL_BATCH 256

struct at_seq2seq_task {
    at_seq2seq *model;           /* borrowed                               */
    at_seq2seq_data train, valid;
    at_pairs valid_pairs;        /* a copy, for AT_TASK_WORD_ERRORS        */
    at_task_metrics metrics;
    at_seq2seq_batch batch;      /* sized for max_batch                    */
    at_trainable trainable;
};

static int task_length(void *self, size_t index) {
    const at_seq2seq_task *task = self;
    return task->train.source_len[index];
}

/* The loss is a mean over target tokens, END included (at_seq2seq_loss). */
static double task_weight(void *self, const size_t *indices, int n) {
    const at_seq2seq_task *task = self;
    double tokens = 0;
    for (int k = 0; k < n; k++) tokens += task->train.target_len[indices[k]] + 1;
    return tokens;
}

static at_status task_loss(at_ctx *ctx, void *self, const size_t *indices, int n,
                           at_tensor **loss) {
    at_seq2seq_task *task = self;
    AT_TRY(at_seq2seq_batch_fill(ctx, &task->batch, &task->train, indices, n));
    return at_seq2seq_loss(ctx, task->model, &task->batch, loss);
}

static at_status task_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    at_seq2seq_task *task = self;
    if (task->metrics == AT_TASK_WORD_ERRORS) {
        at_wer wer;
        AT_TRY(at_seq2seq_evaluate_references(ctx, task->model, &task->valid_pairs, NULL,
                                              EVAL_BATCH, &wer, NULL));
        AT_TRY(at_metrics_set(ctx, metrics, "wer", at_wer_rate(&wer)));
        return at_metrics_set(ctx, metrics, "per", at_per_rate(&wer));
    }
    at_seq2seq_score sc;
    AT_TRY(at_seq2seq_evaluate(ctx, task->model, &task->valid, EVAL_BATCH, &sc, NULL));
    AT_TRY(at_metrics_set(ctx, metrics, "exact", (double)sc.exact / (double)sc.pairs));
    return at_metrics_set(ctx, metrics, "char", (double)sc.chars_correct / (double)sc.chars);
}

/* The same metrics split over processes: shard `shard`'s counts, additive
 * (at_wer's four, or pairs, exact, chars, chars_correct), then the rates. */
static at_status task_evaluate_shard(at_ctx *ctx, void *self, int shard, int shards,
                                     double *counts) {
    at_seq2seq_task *task = self;
    if (task->metrics == AT_TASK_WORD_ERRORS) {
        at_wer wer;
        AT_TRY(s2s_references_shard(ctx, task->model, &task->valid_pairs, NULL, EVAL_BATCH, shard,
                                    shards, &wer, NULL));
        counts[0] = (double)wer.words, counts[1] = (double)wer.words_wrong;
        counts[2] = (double)wer.edits, counts[3] = (double)wer.reference_units;
        return AT_OK;
    }
    at_seq2seq_score sc;
    AT_TRY(s2s_evaluate_shard(ctx, task->model, &task->valid, EVAL_BATCH, shard, shards, &sc,
                              NULL));
    counts[0] = (double)sc.pairs, counts[1] = (double)sc.exact;
    counts[2] = (double)sc.chars, counts[3] = (double)sc.chars_correct;
    return AT_OK;
}

static at_status task_evaluate_finish(at_ctx *ctx, void *self, const double *counts,
                                      at_metrics *metrics) {
    const at_seq2seq_task *task = self;
    if (task->metrics == AT_TASK_WORD_ERRORS) {
        at_wer wer = {.words = (long)counts[0], .words_wrong = (long)counts[1],
                      .edits = (long)counts[2], .reference_units = (long)counts[3]};
        AT_TRY(at_metrics_set(ctx, metrics, "wer", at_wer_rate(&wer)));
        return at_metrics_set(ctx, metrics, "per", at_per_rate(&wer));
    }
    AT_TRY(at_metrics_set(ctx, metrics, "exact", counts[1] / counts[0]));
    return at_metrics_set(ctx, metrics, "char", counts[3] / counts[2]);
}

static at_status task_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    at_seq2seq_task *task = self;
    return at_seq2seq_save(ctx, task->model, path, extra);
}

/* The longest source (target) of p, in the units of its vocabulary. */
static int longest(const at_pairs *p, const at_vocab *vocab, int target) {
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        size_t len = at_vocab_length(vocab, target ? p->target[i] : p->source[i]);
        if (len > n) n = len;
    }
    return (int)n;
}

at_status at_seq2seq_create_for_pairs(at_ctx *ctx, at_seq2seq **out, const at_seq2seq_config *c,
                                      const at_pairs *train, const at_pairs *valid,
                                      at_vocab_kind source_kind, at_vocab_kind target_kind) {
    if (!out || !c || !train || !valid || train->count == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq: NULL argument or no training pairs");
    at_vocab *source = NULL, *target = NULL;
    at_status s = at_vocab_build_kind(ctx, &source, source_kind, train->count,
                                      (const char *const *)train->source);
    if (s == AT_OK)
        s = at_vocab_build_kind(ctx, &target, target_kind, train->count,
                                (const char *const *)train->target);
    if (s != AT_OK) {
        at_vocab_free(source);
        return s;
    }
    at_seq2seq_config config = *c;
    int src = longest(train, source, 0), tgt = longest(train, target, 1);
    int vsrc = longest(valid, source, 0), vtgt = longest(valid, target, 1);
    config.max_source_len = (src > vsrc ? src : vsrc) + 16;
    config.max_target_len = (tgt > vtgt ? tgt : vtgt) + 2;
    return at_seq2seq_create(ctx, out, &config, source, target);
}

at_status at_seq2seq_task_create(at_ctx *ctx, at_seq2seq_task **out, at_seq2seq *model,
                                 const at_pairs *train, const at_pairs *valid, int max_batch) {
    if (!out || !model || !train || !valid || max_batch < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_task: NULL argument or batch < 1");
    if (train->count == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_task: the training set is empty");
    if (valid->count == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_task: the validation set is empty");
    at_seq2seq_task *task = calloc(1, sizeof *task);
    if (!task) return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq_task: out of memory");
    task->model = model;
    at_status s = at_seq2seq_data_build(ctx, model, train, &task->train);
    if (s == AT_OK) s = at_seq2seq_data_build(ctx, model, valid, &task->valid);
    if (s == AT_OK) s = at_seq2seq_batch_init(ctx, model, max_batch, &task->batch);
    for (size_t i = 0; s == AT_OK && i < valid->count; i++)
        s = at_pairs_add(ctx, &task->valid_pairs, valid->source[i], valid->target[i]);
    if (s != AT_OK) {
        at_seq2seq_task_free(task);
        return s;
    }
    task->trainable = (at_trainable){.self = task,
                                     .params = at_seq2seq_params(model),
                                     .count = task->train.count,
                                     .length = task_length,
                                     .loss = task_loss,
                                     .evaluate = task_evaluate,
                                     .save = task_save,
                                     .evaluate_shard = task_evaluate_shard,
                                     .evaluate_finish = task_evaluate_finish,
                                     .weight = task_weight};
    *out = task;
    return AT_OK;
}

void at_seq2seq_task_free(at_seq2seq_task *task) {
    if (!task) return;
    at_seq2seq_data_clear(&task->train);
    at_seq2seq_data_clear(&task->valid);
    at_seq2seq_batch_free(&task->batch);
    at_pairs_clear(&task->valid_pairs);
    free(task);
}

const at_trainable *at_seq2seq_task_trainable(const at_seq2seq_task *task) {
    return task ? &task->trainable : NULL;
}

void at_seq2seq_task_set_metrics(at_seq2seq_task *task, at_task_metrics metrics) {
    if (task) task->metrics = metrics;
}
