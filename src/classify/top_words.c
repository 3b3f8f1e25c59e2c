/*
 * top_words.c - the words a classifier's decisions rested on, over a whole
 * test set: each word's share of a document's attention (its word weight
 * times its sentence's weight, which sums to 1 over the document) added up
 * per class and ranked. One document cannot dominate (it hands out a total
 * of 1); a word that gets weight in many documents of a class rises.
 */
#include "attend/classify.h"
#include "internal.h"

#include <string.h>

at_status at_classification_add_weights(at_ctx *ctx, const at_classifier *model,
                                        const at_classification *c, int cls, double *totals) {
    if (!model || !c || !totals)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "add weights: NULL argument");
    int classes = at_classifier_classes(model);
    if (cls < 0 || cls >= classes)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "add weights: class %d is not in 0 .. %d", cls,
                           classes - 1);
    const at_vocab *vocab = at_classifier_vocab(model);
    double *row = totals + (size_t)cls * (size_t)at_vocab_size(vocab);
    for (int i = 0; i < c->tokens.words; i++)
        row[at_vocab_token_id(vocab, c->tokens.word[i])] += c->doc_weights[i];
    return AT_OK;
}

/* Insert id into the first n entries of the ranking (largest first, ties by
 * the smaller id), keeping at most k. */
static void rank_insert(int32_t *ids, double *values, int *n, int k, int32_t id, double v) {
    int full = *n == k, at = full ? k - 1 : (*n)++;
    if (full && (v < values[at] || (v == values[at] && id > ids[at]))) return;
    while (at > 0 && values[at - 1] < v) {
        ids[at] = ids[at - 1];
        values[at] = values[at - 1];
        at--;
    }
    ids[at] = id;
    values[at] = v;
}

at_status at_classifier_top_words(at_ctx *ctx, const at_classifier *model, const double *totals,
                                  int cls, int k, int32_t *ids, double *values, int *n) {
    if (!model || !totals || !ids || !values || !n)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "top words: NULL argument");
    int classes = at_classifier_classes(model);
    if (cls < 0 || cls >= classes || k < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "top words: class %d of %d, k %d", cls, classes,
                           k);
    int32_t V = at_vocab_size(at_classifier_vocab(model));
    const double *row = totals + (size_t)cls * (size_t)V;
    *n = 0;
    for (int32_t id = 0; id < V; id++)
        if (row[id] > 0) rank_insert(ids, values, n, k, id, row[id]);
    return AT_OK;
}
