/*
 * threshold.c - the decision of a two-class model, and choosing where it
 * is cut.
 *
 * A classifier's softmax gives p_0 + p_1 = 1, and the plain decision is
 * the larger one: class 1 when p_1 > 0.5. But the training loss does not
 * care where the classes are cut, and a model that is too sure of one
 * class (a newsletter read as spam) is better cut elsewhere. The cut t is
 * chosen on a development set, never on the test set:
 *
 *     sort the documents by p_1;  between two neighbours, every t gives
 *     the same decisions, so the candidates are the intervals between
 *     consecutive distinct p_1 (and below the lowest, above the highest);
 *     accuracy(t) = #{labels 1 with p_1 > t} + #{labels 0 with p_1 <= t}
 *
 * Among the intervals of the highest accuracy the one nearest 0.5 wins,
 * and t is its middle (the cut furthest from both neighbours). If it holds
 * 0.5 the threshold stays 0, the plain decision.
 */
#include "classifier.h"

#include <stdlib.h>

int cls_decide(const at_classifier *m, const float *p) {
    if (m->classes == 2 && m->config.threshold > 0.0f) return p[1] > m->config.threshold;
    int best = 0;
    for (int c = 1; c < m->classes; c++)
        if (p[c] > p[best]) best = c;
    return best;
}

typedef struct scored {
    float p1;
    int label;
} scored;

static int by_p1(const void *a, const void *b) {
    float x = ((const scored *)a)->p1, y = ((const scored *)b)->p1;
    return (x > y) - (x < y);
}

/* Distance from 0.5 to the interval (lo, hi); 0 if it holds 0.5. */
static double away_from_half(double lo, double hi) {
    return hi <= 0.5 ? 0.5 - hi : lo >= 0.5 ? lo - 0.5 : 0.0;
}

/* The threshold of the best interval over s[0 .. n), sorted by p1. A cut
 * below s[k] (k = 0 .. n) decides class 0 for s[0 .. k), class 1 for the rest. */
static float best_cut(const scored *s, size_t n) {
    long right = 0; /* the cut below everything: all class 1 */
    for (size_t i = 0; i < n; i++) right += s[i].label == 1;
    long best = right;
    double best_lo = -1.0, best_hi = s[0].p1; /* the interval (lo, hi) */
    for (size_t k = 1; k <= n; k++) {
        right += s[k - 1].label == 0 ? 1 : -1; /* s[k - 1] is class 0 now */
        if (k < n && s[k].p1 == s[k - 1].p1) continue; /* no cut between equals */
        double lo = s[k - 1].p1, hi = k < n ? s[k].p1 : 2.0;
        if (right > best ||
            (right == best && away_from_half(lo, hi) < away_from_half(best_lo, best_hi)))
            best = right, best_lo = lo, best_hi = hi;
    }
    if (away_from_half(best_lo, best_hi) == 0.0) return 0.0f;
    float lo = best_lo < 0.0 ? 0.0f : (float)best_lo, hi = best_hi > 1.0 ? 1.0f : (float)best_hi;
    float t = lo + (hi - lo) / 2;
    if (t >= hi) t = lo; /* neighbours one float apart: p1 > lo still splits them */
    return t > 0.0f && t < 1.0f ? t : 0.0f;
}

at_status at_classifier_choose_threshold(at_ctx *ctx, at_classifier *m, const at_class_docs *docs,
                                         int batch, double *accuracy_before,
                                         double *accuracy_after) {
    if (!m || !docs)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_choose_threshold: NULL argument");
    if (m->classes != 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "classifier_choose_threshold: a threshold needs two classes, the "
                           "model has %d",
                           m->classes);
    at_classify_score score;
    float *probs = malloc((docs->count ? docs->count : 1) * 2 * sizeof *probs);
    scored *s = malloc((docs->count ? docs->count : 1) * sizeof *s);
    at_status st = probs && s ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    if (st == AT_OK) st = at_classifier_evaluate(ctx, m, docs, batch, NULL, &score, NULL, probs);
    if (st == AT_OK) {
        for (size_t i = 0; i < docs->count; i++)
            s[i] = (scored){probs[2 * i + 1], at_classifier_class_index(m, docs->labels[i])};
        qsort(s, docs->count, sizeof *s, by_p1);
        m->config.threshold = best_cut(s, docs->count);
        size_t right = 0; /* counted again with the decision itself */
        for (size_t i = 0; i < docs->count; i++)
            right += cls_decide(m, probs + 2 * i) ==
                     at_classifier_class_index(m, docs->labels[i]);
        if (accuracy_before) *accuracy_before = score.accuracy;
        if (accuracy_after) *accuracy_after = (double)right / (double)docs->count;
    }
    free(probs);
    free(s);
    return st;
}
