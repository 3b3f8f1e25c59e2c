/*
 * evaluate.c - how well a classifier labels documents, and the loss the
 * trainer (or a caller's own loop) minimises.
 *
 * Scoring runs the forward pass batch documents at a time, gradients off
 * and out of training mode (dropout off), and for each document takes
 *     p = softmax(logits)            predicted = cls_decide(p): argmax_c p_c,
 *                                    or p_1 > threshold (threshold.c)
 *     loss += −log p_label           confusion[label][predicted] += 1
 * Then, for the positive class P (e.g. spam):
 *     precision = TP / (TP + FP)     recall = TP / (TP + FN)
 *     F1 = 2 precision recall / (precision + recall)
 * each 0 when its denominator is (never NaN). Documents are also counted
 * by their group (easy_ham, hard_ham, spam: hard ham is where errors
 * are), the first AT_CLASSIFY_MAX_GROUPS distinct groups in order of
 * appearance (names cut to 31 bytes).
 */
#include "classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

at_status cls_positive(at_ctx *ctx, const at_classifier *m, const char *positive, int *out) {
    *out = positive ? at_classifier_class_index(m, positive) : 1;
    if (*out < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "classifier: the positive class '%.64s' is not one of the model's",
                           positive);
    return AT_OK;
}

/* The group's slot in score (added if new and there is room), or -1. */
static int group_slot(at_classify_score *score, const char *group) {
    if (!group || !group[0]) return -1;
    const size_t room = sizeof score->group_name[0] - 1;
    for (int g = 0; g < score->groups; g++)
        if (!strncmp(score->group_name[g], group, room)) return g;
    if (score->groups == AT_CLASSIFY_MAX_GROUPS) return -1;
    int g = score->groups++;
    strncpy(score->group_name[g], group, room);
    score->group_name[g][room] = '\0';
    return g;
}

void cls_score_finish(at_classify_score *score, int classes, int positive) {
    size_t tp = score->confusion[positive][positive], fp = 0, fn = 0;
    for (int c = 0; c < classes; c++) {
        if (c == positive) continue;
        fp += score->confusion[c][positive];
        fn += score->confusion[positive][c];
    }
    score->accuracy = score->count ? (double)score->correct / (double)score->count : 0.0;
    score->loss = score->count ? score->loss / (double)score->count : 0.0;
    score->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    score->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    double pr = score->precision + score->recall;
    score->f1 = pr > 0 ? 2.0 * score->precision * score->recall / pr : 0.0;
}

/* One batch: documents first .. first + n of the corpus. */
static at_status score_batch(at_ctx *ctx, const at_classifier *m, const cls_corpus *corpus,
                             char *const *groups, size_t first, int n, at_classify_score *score,
                             int *predicted, float *probs) {
    const int C = m->classes;
    const cls_doc **docs;
    at_tensor *logits, *p;
    at_ctx_reset(ctx);
    AT_TRY(ati_scratch(ctx, (void **)&docs, (size_t)n * sizeof *docs));
    for (int k = 0; k < n; k++) docs[k] = &corpus->docs[first + (size_t)k];
    AT_TRY(cls_forward(ctx, m, docs, n, &logits, NULL));
    AT_TRY(at_softmax(ctx, &p, logits, NULL, 0)); // (n, C)
    for (int k = 0; k < n; k++) {
        size_t i = first + (size_t)k;
        const float *row = p->data + (size_t)k * C;
        int best = cls_decide(m, row), label = corpus->labels[i];
        score->count++;
        score->correct += best == label;
        score->loss -= log(fmax((double)row[label], 1e-30));
        score->confusion[label][best]++;
        int g = group_slot(score, groups ? groups[i] : NULL);
        if (g >= 0) {
            score->group_count[g]++;
            score->group_correct[g] += best == label;
        }
        if (predicted) predicted[i] = best;
        if (probs) memcpy(probs + i * (size_t)C, row, (size_t)C * sizeof *probs);
    }
    return AT_OK;
}

at_status cls_score(at_ctx *ctx, const at_classifier *m, const cls_corpus *corpus,
                    char *const *groups, int batch, int positive, at_classify_score *score,
                    int *predicted, float *probs) {
    memset(score, 0, sizeof *score);
    at_status s = cls_score_shard(ctx, m, corpus, groups, batch, 0, 1, score, predicted, probs);
    if (s == AT_OK) cls_score_finish(score, m->classes, positive);
    return s;
}

at_status cls_score_shard(at_ctx *ctx, const at_classifier *m, const cls_corpus *corpus,
                          char *const *groups, int batch, int shard, int shards,
                          at_classify_score *score, int *predicted, float *probs) {
    int grad = at_ctx_set_grad(ctx, 0), training = at_ctx_set_training(ctx, 0);
    at_status s = AT_OK;
    size_t step = (size_t)batch * (size_t)shards;
    for (size_t first = (size_t)batch * (size_t)shard; first < corpus->count && s == AT_OK;
         first += step) {
        size_t left = corpus->count - first;
        int n = left < (size_t)batch ? (int)left : batch;
        s = score_batch(ctx, m, corpus, groups, first, n, score, predicted, probs);
    }
    at_ctx_reset(ctx);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    return s;
}

at_status at_classifier_evaluate(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                                 int batch, const char *positive, at_classify_score *score,
                                 int *predicted, float *probs) {
    if (!m || !docs || !score)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_evaluate: NULL argument");
    if (batch < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_evaluate: batch %d < 1", batch);
    if (docs->count == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_evaluate: no documents");
    int pos;
    AT_TRY(cls_positive(ctx, m, positive, &pos));
    cls_corpus corpus;
    AT_TRY(cls_corpus_encode(ctx, m, docs, NULL, docs->count, 1, &corpus));
    at_status s = cls_score(ctx, m, &corpus, docs->groups, batch, pos, score, predicted, probs);
    cls_corpus_clear(&corpus);
    return s;
}

at_status at_classifier_loss(at_ctx *ctx, const at_classifier *m, const at_class_docs *docs,
                             const size_t *indices, int n, at_tensor **loss) {
    if (!m || !docs || !indices || !loss)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_loss: NULL argument");
    if (n < 1) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_loss: %d documents", n);
    cls_corpus corpus;
    AT_TRY(cls_corpus_encode(ctx, m, docs, indices, (size_t)n, 1, &corpus));
    const cls_doc **batch;
    at_status s = ati_scratch(ctx, (void **)&batch, (size_t)n * sizeof *batch);
    for (int k = 0; k < n && s == AT_OK; k++) batch[k] = &corpus.docs[k];
    if (s == AT_OK) s = cls_loss(ctx, m, batch, corpus.labels, n, loss);
    cls_corpus_clear(&corpus);
    return s;
}
