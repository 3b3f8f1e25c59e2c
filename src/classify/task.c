/*
 * task.c - a classifier as the trainer's at_trainable.
 *
 * Every training and validation document is tokenized and encoded once,
 * when the task is made (encode.c); a step then only copies ids into its
 * padded batch. Example i is training document i, its length (for the
 * trainer's length buckets, so a batch holds documents of like size and
 * little padding) its word count. Evaluation scores the validation set
 * and reports "accuracy", "f1" (of the positive class) and "loss".
 */
#include "classifier.h"

#include <stdlib.h>

struct at_classify_task {
    at_classifier *model;
    const at_class_docs *valid_docs;
    cls_corpus train, valid;
    int positive, eval_batch;
    at_trainable trainable;
};

static int task_length(void *self, size_t index) {
    const at_classify_task *t = self;
    return t->train.docs[index].words;
}

static at_status task_loss(at_ctx *ctx, void *self, const size_t *indices, int n,
                           at_tensor **loss) {
    const at_classify_task *t = self;
    const cls_doc **docs;
    int32_t *labels;
    AT_TRY(ati_scratch(ctx, (void **)&docs, (size_t)n * sizeof *docs));
    AT_TRY(ati_scratch(ctx, (void **)&labels, (size_t)n * sizeof *labels));
    for (int k = 0; k < n; k++) {
        if (indices[k] >= t->train.count)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classify task: example %zu of %zu",
                               indices[k], t->train.count);
        docs[k] = &t->train.docs[indices[k]];
        labels[k] = t->train.labels[indices[k]];
    }
    return cls_loss(ctx, t->model, docs, labels, n, loss);
}

static at_status task_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    const at_classify_task *t = self;
    at_classify_score *score = malloc(sizeof *score);
    if (!score) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classify task: out of memory");
    at_status s = cls_score(ctx, t->model, &t->valid, t->valid_docs->groups, t->eval_batch,
                            t->positive, score, NULL, NULL);
    if (s == AT_OK) s = at_metrics_set(ctx, metrics, "accuracy", score->accuracy);
    if (s == AT_OK) s = at_metrics_set(ctx, metrics, "f1", score->f1);
    if (s == AT_OK) s = at_metrics_set(ctx, metrics, "loss", score->loss);
    free(score);
    return s;
}

/* Split over processes: the shard's additive counts - documents, correct,
 * summed loss, and the positive class's true positives, false positives
 * and false negatives (all that accuracy, loss and F1 need) - then the
 * metrics of their sums. */
enum { N_DOCS, N_CORRECT, LOSS_SUM, TRUE_POS, FALSE_POS, FALSE_NEG };

static at_status task_evaluate_shard(at_ctx *ctx, void *self, int shard, int shards,
                                     double *counts) {
    const at_classify_task *t = self;
    at_classify_score *score = calloc(1, sizeof *score);
    if (!score) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classify task: out of memory");
    at_status s = cls_score_shard(ctx, t->model, &t->valid, NULL, t->eval_batch, shard, shards,
                                  score, NULL, NULL);
    int p = t->positive;
    counts[N_DOCS] = (double)score->count, counts[N_CORRECT] = (double)score->correct;
    counts[LOSS_SUM] = score->loss;
    counts[TRUE_POS] = (double)score->confusion[p][p];
    for (int c = 0; c < t->model->classes; c++) {
        if (c == p) continue;
        counts[FALSE_POS] += (double)score->confusion[c][p];
        counts[FALSE_NEG] += (double)score->confusion[p][c];
    }
    free(score);
    return s;
}

static at_status task_evaluate_finish(at_ctx *ctx, void *self, const double *counts,
                                      at_metrics *metrics) {
    const at_classify_task *t = self;
    at_classify_score *score = calloc(1, sizeof *score);
    if (!score) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classify task: out of memory");
    /* the counts as a confusion matrix that gives the same rates */
    int p = t->positive, other = (p + 1) % t->model->classes;
    score->count = (size_t)counts[N_DOCS], score->correct = (size_t)counts[N_CORRECT];
    score->loss = counts[LOSS_SUM];
    score->confusion[p][p] = (size_t)counts[TRUE_POS];
    score->confusion[other][p] = (size_t)counts[FALSE_POS];
    score->confusion[p][other] = (size_t)counts[FALSE_NEG];
    cls_score_finish(score, t->model->classes, p);
    at_status s = at_metrics_set(ctx, metrics, "accuracy", score->accuracy);
    if (s == AT_OK) s = at_metrics_set(ctx, metrics, "f1", score->f1);
    if (s == AT_OK) s = at_metrics_set(ctx, metrics, "loss", score->loss);
    free(score);
    return s;
}

static at_status task_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    const at_classify_task *t = self;
    return at_classifier_save(ctx, t->model, path, extra);
}

at_status at_classify_task_create(at_ctx *ctx, at_classify_task **out, at_classifier *model,
                                  const at_class_docs *train, const at_class_docs *valid,
                                  const char *positive, int eval_batch) {
    if (!out || !model || !train)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classify_task_create: NULL argument");
    *out = NULL;
    if (train->count == 0 || (valid && valid->count == 0))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "classify task: %s documents (at least 1 of each is needed)",
                           train->count ? "no validation" : "no training");
    if (eval_batch < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classify task: eval batch %d < 1", eval_batch);
    at_classify_task *t = calloc(1, sizeof *t);
    if (!t) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classify task: out of memory");
    t->model = model;
    t->valid_docs = valid;
    t->eval_batch = eval_batch;
    at_status s = cls_positive(ctx, model, positive, &t->positive);
    if (s == AT_OK) s = cls_corpus_encode(ctx, model, train, NULL, train->count, 1, &t->train);
    if (s == AT_OK && valid)
        s = cls_corpus_encode(ctx, model, valid, NULL, valid->count, 1, &t->valid);
    if (s != AT_OK) {
        at_classify_task_free(t);
        return s;
    }
    t->trainable = (at_trainable){.self = t, .params = model->params, .count = train->count,
                                  .length = task_length, .loss = task_loss,
                                  .evaluate = valid ? task_evaluate : NULL,
                                  .save = task_save,
                                  .evaluate_shard = valid ? task_evaluate_shard : NULL,
                                  .evaluate_finish = valid ? task_evaluate_finish : NULL};
    *out = t;
    return AT_OK;
}

void at_classify_task_free(at_classify_task *t) {
    if (!t) return;
    cls_corpus_clear(&t->train);
    cls_corpus_clear(&t->valid);
    free(t);
}

const at_trainable *at_classify_task_trainable(const at_classify_task *t) {
    return t ? &t->trainable : NULL;
}
