/*
 * test_static_focus.c - can static attention focus on one step?
 *
 * The claim (MECHANISMS.md, family 5): the seed's per-feature layer
 * α_tf = exp(u_tf) / (Σ_t exp(u_tf) + ε) with u = tanh(·) ∈ (−1, 1) cannot
 * focus: any two of its weights for one feature differ by at most e² ≈ 7.39.
 * HAN's softmax over u_tᵀ u_w has no such bound.
 *
 * The task: sequences of T steps and D features. At one random step (the
 * needle) feature 0 is 1 (a marker); at every other step it is 0. Features
 * 1 .. D−1 are uniform noise in [−1, 1) everywhere. The target is the
 * needle's features 1 .. D−1, so a model must put its weight on the needle
 * (with a single scalar target a network can cheat: the weight on the
 * needle itself can encode the value). Each layer is trained with a dense
 * read-out y = out Wᵀ + b by Adam (lr 0.02) on the mean squared error,
 * with fixed seeds, then measured on 64 fresh sequences:
 *
 *   ratio   max_t α_t / min_t α_t per sequence (per feature for the Keras
 *           layer), and the weight on the needle.
 *
 * Asserted: HAN's ratio exceeds 100 on every sequence and its weight on
 * the needle exceeds 0.9; the per-feature ratio never exceeds e², for any
 * feature of any sequence. The figures are printed.
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T = 8, D = 4, A = 8, BATCH = 32, STEPS = 400, EVAL = 64 };

/* A batch of needle sequences: h (n, T, D), targets (n, D − 1): the
 * needle's features 1 .. D−1, needles (n). */
static void make_batch(at_rng *rng, int n, float *h, float *target, int *needle) {
    for (int b = 0; b < n; b++) {
        needle[b] = (int)at_rng_below(rng, T);
        for (int t = 0; t < T; t++) {
            float *h_t = h + ((size_t)b * T + t) * D;
            h_t[0] = t == needle[b] ? 1.0f : 0.0f;
            for (int f = 1; f < D; f++)
                h_t[f] = 2.0f * at_rng_uniform(rng) - 1.0f;
        }
        for (int f = 1; f < D; f++)
            target[(size_t)b * (D - 1) + f - 1] = h[((size_t)b * T + needle[b]) * D + f];
    }
}

typedef enum { USE_HAN, USE_FEATURE } which_layer;

typedef struct model {
    which_layer which;
    at_han_attention han;
    at_feature_attention feature;
    at_dense readout;
} model;

static at_status attend(at_ctx *ctx, const model *m, at_tensor *h, at_tensor **out,
                        at_tensor **weights) {
    if (m->which == USE_HAN) return at_han_attention_forward(ctx, &m->han, h, NULL, out, weights);
    return at_feature_attention_forward(ctx, &m->feature, h, NULL, out, weights);
}

/* loss = mean((readout(attend(h)) − target)²) */
static at_status model_loss(at_ctx *ctx, const model *m, const float *h_data,
                            const float *target_data, int n, at_tensor **loss) {
    at_tensor *h, *target, *out, *pred, *diff, *sq;
    AT_TRY(at_tensor_from(ctx, &h, 3, (const int[]){n, T, D}, h_data));
    AT_TRY(at_tensor_from(ctx, &target, 2, (const int[]){n, D - 1}, target_data));
    AT_TRY(attend(ctx, m, h, &out, NULL));
    AT_TRY(at_dense_forward(ctx, &m->readout, out, &pred));
    AT_TRY(at_sub(ctx, &diff, pred, target));
    AT_TRY(at_mul(ctx, &sq, diff, diff));
    return at_mean(ctx, loss, sq);
}

typedef struct focus_figures {
    double min_ratio, mean_ratio, max_ratio; /* over sequences (and features) */
    double needle_weight;                    /* mean weight on the needle     */
    double eval_loss;
} focus_figures;

static void train(at_ctx *ctx, model *m, at_params *params) {
    at_rng data;
    at_rng_seed(&data, 11);
    at_optim *opt;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.02f};
    CHECK_OK(ctx, at_optim_create(ctx, &opt, params, &config));
    float h[BATCH * T * D], target[BATCH * (D - 1)];
    int needle[BATCH];
    for (int step = 0; step < STEPS; step++) {
        make_batch(&data, BATCH, h, target, needle);
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_tensor *loss;
        at_status s = model_loss(ctx, m, h, target, BATCH, &loss);
        if (s == AT_OK) s = at_backward(ctx, loss);
        if (s == AT_OK) s = at_optim_step(ctx, opt);
        if (s != AT_OK) {
            CHECK(0, "training step %d: %s", step, at_ctx_error(ctx));
            break;
        }
    }
    at_optim_free(opt);
}

/* The ratio max_t α / min_t α of column f of α (T, stride). */
static double weight_ratio(const float *alpha, int stride, int f) {
    double lo = INFINITY, hi = 0.0;
    for (int t = 0; t < T; t++) {
        double a = alpha[(size_t)t * stride + f];
        lo = fmin(lo, a);
        hi = fmax(hi, a);
    }
    return hi / lo; /* lo = 0 gives inf: focus beyond float range */
}

static focus_figures measure(at_ctx *ctx, const model *m) {
    focus_figures fig = {INFINITY, 0.0, 0.0, 0.0, 0.0};
    at_rng data;
    at_rng_seed(&data, 99);
    float h[EVAL * T * D], target[EVAL * (D - 1)];
    int needle[EVAL];
    make_batch(&data, EVAL, h, target, needle);
    at_ctx_reset(ctx);
    int was = at_ctx_set_grad(ctx, 0);
    at_tensor *ht, *out, *weights, *loss;
    CHECK_OK(ctx, at_tensor_from(ctx, &ht, 3, (const int[]){EVAL, T, D}, h));
    CHECK_OK(ctx, attend(ctx, m, ht, &out, &weights));
    int columns = m->which == USE_HAN ? 1 : D, count = 0;
    for (int b = 0; b < EVAL; b++) {
        const float *alpha = weights->data + (size_t)b * T * columns;
        for (int f = 0; f < columns; f++) {
            double ratio = weight_ratio(alpha, columns, f);
            fig.min_ratio = fmin(fig.min_ratio, ratio);
            fig.max_ratio = fmax(fig.max_ratio, ratio);
            fig.mean_ratio += ratio;
            count++;
        }
        /* HAN: its one weight; per-feature: the mean over the value features */
        int first = m->which == USE_HAN ? 0 : 1;
        for (int f = first; f < columns; f++)
            fig.needle_weight += alpha[(size_t)needle[b] * columns + f] / (columns - first);
    }
    fig.mean_ratio /= count;
    fig.needle_weight /= EVAL;
    CHECK_OK(ctx, model_loss(ctx, m, h, target, EVAL, &loss));
    fig.eval_loss = loss->data[0];
    at_ctx_set_grad(ctx, was);
    return fig;
}

static focus_figures run(which_layer which) {
    at_ctx *ctx;
    at_ctx_options opts = {.seed = 5};
    at_ctx_create(&ctx, &opts);
    at_params *params;
    at_params_create(ctx, &params);
    at_rng rng;
    at_rng_seed(&rng, 7);
    model m = {.which = which};
    if (which == USE_HAN)
        CHECK_OK(ctx, at_han_attention_init(ctx, &m.han, params, "attn", D, A, &rng));
    else
        CHECK_OK(ctx, at_feature_attention_init(ctx, &m.feature, params, "attn", D, &rng));
    CHECK_OK(ctx, at_dense_init(ctx, &m.readout, params, "out", D, D - 1, 1, &rng));
    focus_figures before = measure(ctx, &m);
    train(ctx, &m, params);
    focus_figures fig = measure(ctx, &m);
    printf("%-8s before: loss %.3g, ratio max/min mean %.3g | after %d Adam steps: loss %.3g, "
           "ratio min %.4g mean %.4g max %.4g, weight on the needle %.4f\n",
           which == USE_HAN ? "HAN" : "feature", before.eval_loss, before.mean_ratio, STEPS,
           fig.eval_loss, fig.min_ratio, fig.mean_ratio, fig.max_ratio, fig.needle_weight);
    at_params_free(params);
    at_ctx_free(ctx);
    return fig;
}

int main(void) {
    const double e_squared = exp(2.0);
    focus_figures han = run(USE_HAN);
    CHECK(han.min_ratio > 100.0, "HAN should focus: smallest max/min ratio %.4g <= 100",
          han.min_ratio);
    CHECK(han.needle_weight > 0.9, "HAN weight on the needle %.4f <= 0.9", han.needle_weight);

    focus_figures feature = run(USE_FEATURE);
    CHECK(feature.max_ratio <= e_squared * (1.0 + 1e-5),
          "per-feature weights must stay within e^2 = %.4f of each other: found %.6f", e_squared,
          feature.max_ratio);
    CHECK(feature.needle_weight < e_squared / (e_squared + T - 1) + 1e-5,
          "per-feature weight on the needle %.4f above the bound e^2/(e^2 + T - 1) = %.4f",
          feature.needle_weight, e_squared / (e_squared + T - 1));
    printf("bound: e^2 = %.4f; best possible per-feature weight on the needle with T = %d: "
           "%.4f\n",
           e_squared, T, e_squared / (e_squared + T - 1));
    return test_finish("static focus");
}
