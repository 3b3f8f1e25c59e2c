/*
 * cross_entropy.c - softmax cross-entropy of logits against class ids, fused.
 *
 * The idea: a row of logits z (C) becomes probabilities p = softmax(z); the
 * loss is how surprised p is by the target distribution q,
 *
 *     loss_row = -sum_j q[j] log p[j],    q[j] = (1 - ls) [j == t] + ls / C
 *
 * where t is the target class and ls the label smoothing (PyTorch's form:
 * the ls / C part is spread over all C classes, the target included).
 * Fusing softmax and log avoids ever taking the log of a tiny p:
 * log p[j] = z[j] - lse with lse = m + log sum_j exp(z[j] - m), m = max z,
 * and because q sums to 1,
 *
 *     loss_row = lse - (1 - ls) z[t] - (ls / C) sum_j z[j]
 *
 * The result is the mean over the K rows whose target is not ignore_index;
 * with K = 0 it is 0 (not 0/0). Backward is the famous clean form
 *
 *     dz[j] = dloss * (p[j] - q[j]) / K        (0 for ignored rows)
 *
 * so forward keeps p (N, C) and a copy of the targets. Each row's loss is
 * computed on its own (threads over rows) and the rows are summed in order
 * afterwards, so the result does not depend on the thread count. A NaN or
 * infinity in a kept row's logits makes the loss non-finite: that is an
 * AT_ERR_NUMERIC naming the row, never a silent NaN.
 */
#include "internal.h"
#include "fastmath.h"

#include <math.h>

/* Rows are spread over threads only when there is this much work (a row of
 * 60 classes costs some 60 ns; a parallel region a few microseconds, and
 * its idle workers then spin on cores another thread pool may want). */
enum { CROSS_ENTROPY_PARALLEL_MIN = 1 << 18 };

typedef struct ce_setup {
    size_t rows;           /* N                                   */
    int classes;           /* C                                   */
    const int32_t *targets; /* (N)                                */
    int ignore_index;
    float smoothing;       /* ls                                  */
} ce_setup;

/* One row: its loss, and its probabilities into p (C) if p is not NULL.
 * e[j] = exp(z[j] - m) once per class (ati_fast_exp, vectorised), summed in
 * double; p[j] = e[j] / sum_j e[j]. */
static double ce_row(const float *restrict z, int C, int target, float ls, float *restrict p) {
    float max = -INFINITY;
    for (int j = 0; j < C; j++) max = z[j] > max ? z[j] : max;
    double exp_sum = 0.0;
    if (p) {
#pragma omp simd reduction(+ : exp_sum)
        for (int j = 0; j < C; j++) {
            p[j] = ati_fast_exp(z[j] - max);
            exp_sum += p[j];
        }
        const float inv = (float)(1.0 / exp_sum);
        for (int j = 0; j < C; j++) p[j] *= inv;
    } else {
#pragma omp simd reduction(+ : exp_sum)
        for (int j = 0; j < C; j++) exp_sum += ati_fast_exp(z[j] - max);
    }
    double lse = max + log(exp_sum);
    double smooth = 0.0; // never 0 * (-inf)
    if (ls > 0.0f) {
        double z_sum = 0.0;
#pragma omp simd reduction(+ : z_sum)
        for (int j = 0; j < C; j++) z_sum += z[j];
        smooth = ((double)ls / C) * z_sum;
    }
    return lse - (1.0 - ls) * z[target] - smooth;
}

static void ce_one_row(const ce_setup *s, const float *logits, double *row_loss, float *probs,
                       long r) {
    const int C = s->classes;
    int t = s->targets[r];
    size_t at = (size_t)r * C;
    row_loss[r] = t == s->ignore_index
                      ? 0.0
                      : ce_row(logits + at, C, t, s->smoothing, probs ? probs + at : NULL);
}

/* Per-row losses into row_loss (N); ignored rows get 0. */
static void ce_rows(at_ctx *ctx, const ce_setup *s, const float *logits, double *row_loss,
                    float *probs) {
    const long rows = (long)s->rows;
    // a plain branch, not an if clause: a false if still builds a team per call
    if (ctx->threads > 1 && s->rows * (size_t)s->classes >= CROSS_ENTROPY_PARALLEL_MIN) {
#pragma omp parallel for num_threads(ctx->threads)
        for (long r = 0; r < rows; r++) ce_one_row(s, logits, row_loss, probs, r);
        return;
    }
    for (long r = 0; r < rows; r++) ce_one_row(s, logits, row_loss, probs, r);
}

/* node->saved: p (N, C); aux[0]: targets (N); iarg: [0] C, [1] ignore_index,
 * [2] kept rows K; farg[0]: ls. */
static at_status cross_entropy_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *logits = node->in[0];
    const int K = node->iarg[2];
    if (!logits->grad || K == 0) return AT_OK;
    const int C = node->iarg[0], ignore_index = node->iarg[1];
    const float ls = node->farg[0];
    const float *p = node->saved;         // (N, C)
    const int32_t *targets = node->aux[0]; // (N)
    const size_t rows = logits->size / (size_t)C;
    const float scale = node->out->grad[0] / (float)K;
    const float q_rest = ls / (float)C; // q[j] for j != t
    for (size_t r = 0; r < rows; r++) {
        int t = targets[r];
        if (t == ignore_index) continue;
        const float *pr = p + r * (size_t)C;
        float *dz = logits->grad + r * (size_t)C; // (C)
        for (int j = 0; j < C; j++) {
            float q = q_rest + (j == t ? 1.0f - ls : 0.0f);
            // forward: loss += (lse - sum_j q[j] z[j]) / K,  d lse / d z[j] = p[j]
            dz[j] += scale * (pr[j] - q);
        }
    }
    return AT_OK;
}

/* Every target is a class in [0, C) or ignore_index; returns K. */
static at_status check_targets(at_ctx *ctx, const ce_setup *s, int *kept) {
    size_t k = 0;
    for (size_t r = 0; r < s->rows; r++) {
        int t = s->targets[r];
        if (t == s->ignore_index) continue;
        if (t < 0 || t >= s->classes)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "cross_entropy: target %d at row %zu is outside [0, %d) and is not "
                               "ignore_index (%d)",
                               t, r, s->classes, s->ignore_index);
        k++;
    }
    if (k > (size_t)0x7fffffff)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "cross_entropy: too many rows (%zu)", k);
    *kept = (int)k;
    return AT_OK;
}

/* Sum the row losses in order; a non-finite total names its first bad row. */
static at_status ce_total(at_ctx *ctx, const ce_setup *s, const double *row_loss,
                          double *total) {
    double sum = 0.0;
    for (size_t r = 0; r < s->rows; r++) sum += row_loss[r];
    if (!isfinite(sum)) {
        size_t bad = 0;
        while (bad + 1 < s->rows && isfinite(row_loss[bad])) bad++;
        return at_ctx_fail(ctx, AT_ERR_NUMERIC,
                           "cross_entropy: the loss of row %zu is %s (NaN or infinity in its "
                           "logits?)",
                           bad, isnan(row_loss[bad]) ? "NaN" : "infinite");
    }
    *total = sum;
    return AT_OK;
}

at_status at_cross_entropy(at_ctx *ctx, at_tensor **out, at_tensor *logits,
                           const int32_t *targets, int ignore_index, float label_smoothing) {
    AT_CHECK_TENSOR(ctx, logits, "cross_entropy: logits");
    if (!out || !targets)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "cross_entropy: %s is NULL",
                           out ? "targets" : "out");
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "cross_entropy: label_smoothing is %g (must be in [0, 1))",
                           (double)label_smoothing);
    ce_setup s;
    s.classes = logits->shape[logits->ndim - 1];
    s.rows = logits->size / (size_t)s.classes;
    s.targets = targets;
    s.ignore_index = ignore_index;
    s.smoothing = label_smoothing;
    int kept = 0;
    AT_TRY(check_targets(ctx, &s, &kept));

    int track = ati_tracking(ctx, 1, &logits);
    void *row_loss, *probs = NULL;
    AT_TRY(ati_scratch(ctx, &row_loss, s.rows * sizeof(double))); // (N)
    if (track) AT_TRY(ati_scratch(ctx, &probs, logits->size * sizeof(float))); // (N, C)
    ce_rows(ctx, &s, logits->data, row_loss, probs);
    double total = 0.0;
    AT_TRY(ce_total(ctx, &s, row_loss, &total));

    const int one = 1;
    at_tensor *y;
    AT_TRY(ati_result(ctx, &y, 1, &one, track));
    y->data[0] = kept ? (float)(total / kept) : 0.0f;
    if (track) {
        const void *targets_copy;
        AT_TRY(ati_scratch_copy(ctx, &targets_copy, targets, s.rows * sizeof(int32_t)));
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "cross_entropy", cross_entropy_backward, y, 1,
                              &logits));
        node->saved = probs;
        node->aux[0] = targets_copy;
        node->iarg[0] = s.classes;
        node->iarg[1] = ignore_index;
        node->iarg[2] = kept;
        node->farg[0] = label_smoothing;
    }
    *out = y;
    return AT_OK;
}
