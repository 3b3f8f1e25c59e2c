/*
 * test_attention_weight_grads_steps.c - a loss on the weights alone.
 *
 * attend.h promises that the weights every family hands back carry
 * gradients: a loss term on them (an entropy bonus, a coverage or
 * guided-attention penalty, a supervised alignment) reaches every input
 * and every parameter, as a loss on the context does. For the sequence
 * and step families - additive, the seed's AttentionDecoder, Luong's
 * local-m and local-p, static (HAN and the per-feature layer), monotonic,
 * forward attention and key-value - each check here builds the family,
 * keeps ONLY the weights (over two steps where a step reads the previous
 * one), and compares the gradient of L = Σ w · R (R random) with central
 * differences for every input and parameter (tests/testutil.h, gc_check).
 * A family whose weights were detached would show a zero tape gradient
 * against a non-zero finite difference.
 */
#include "internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* A family under test: its layers, sizes and mask. */
typedef struct weights_case {
    int B, Tq, Tk, Dq, Dk, Dv, A;
    at_attn_mask mask;
    at_additive additive;
    at_attention_decoder decoder;
    at_luong_local local;
    at_han_attention han;
    at_feature_attention feature;
    at_monotonic monotonic;
    at_key_value kv;
} weights_case;

static const int lengths_5_3[2] = {5, 3};

/* A case with B = 2, Tk = 5 (row 1 keeps 3 keys) and its parameters. */
static weights_case *case_new(at_ctx *ctx, at_params **params, uint8_t **keep) {
    weights_case *c = calloc(1, sizeof *c);
    *c = (weights_case){.B = 2, .Tq = 3, .Tk = 5, .Dq = 3, .Dk = 4, .Dv = 2, .A = 3};
    *keep = test_mask_from_lengths(c->B, c->Tk, lengths_5_3);
    c->mask = (at_attn_mask){*keep, c->B, 0};
    CHECK_OK(ctx, at_params_create(ctx, params));
    return c;
}

/* gc_check of build over the inputs, with the parameters moved off their
 * initial values; frees what case_new made. */
static void run_check(const char *name, weights_case *c, at_ctx *ctx, at_params *params,
                      uint8_t *keep, int n, gc_input *inputs, gc_build_fn build, at_rng *rng) {
    test_jitter_params(params, rng, 0.4f);
    gc_options opts = {.seed = 77};
    gc_check(name, n, inputs, params, build, c, &opts);
    for (int i = 0; i < n; i++)
        free(inputs[i].values);
    at_params_free(params);
    at_ctx_free(ctx);
    free(keep), free(c);
}

/* ---------------------------------------------------------- additive */

static at_status build_additive(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *kp, *context;
    AT_TRY(at_additive_project_keys(ctx, &c->additive, in[1], &kp));
    return at_additive_attend(ctx, &c->additive, in[0], kp, in[2], &c->mask, &context, y);
}

static void additive_weights(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 11);
    CHECK_OK(ctx, at_additive_init(ctx, &c->additive, params, "add", c->Dq, c->Dk, c->A, &rng));
    gc_input in[3] = {{"queries", 3, {c->B, c->Tq, c->Dq, 1}, test_random_floats(18, -1, 1, &rng)},
                      {"keys", 3, {c->B, c->Tk, c->Dk, 1}, test_random_floats(40, -1, 1, &rng)},
                      {"values", 3, {c->B, c->Tk, c->Dv, 1}, test_random_floats(20, -1, 1, &rng)}};
    run_check("additive: loss on the weights", c, ctx, params, keep, 3, in, build_additive, &rng);
}

/* ------------------------------------------------ attention decoder */

/* inputs: annotations, y_0, y_1; two steps, their weights joined. */
static at_status build_decoder(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *s0, *kp, *s1, *s2, *l1, *l2, *w[2];
    AT_TRY(at_attention_decoder_start(ctx, &c->decoder, in[0], &s0));
    AT_TRY(at_additive_project_keys(ctx, &c->decoder.attention, in[0], &kp));
    AT_TRY(at_attention_decoder_step(ctx, &c->decoder, in[1], s0, in[0], kp, &c->mask, &s1, &l1,
                                     &w[0]));
    AT_TRY(at_attention_decoder_step(ctx, &c->decoder, in[2], s1, in[0], kp, &c->mask, &s2, &l2,
                                     &w[1]));
    return gc_join_outputs(ctx, y, 2, w);
}

static void decoder_weights(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 12);
    int Y = 3, S = 4, V = 3;
    CHECK_OK(ctx, at_attention_decoder_init(ctx, &c->decoder, params, "dec", Y, c->Dk, S, V, c->A,
                                            &rng));
    gc_input in[3] = {
        {"annotations", 3, {c->B, c->Tk, c->Dk, 1}, test_random_floats(40, -1, 1, &rng)},
        {"y_0", 2, {c->B, Y, 1, 1}, test_random_floats(6, -1, 1, &rng)},
        {"y_1", 2, {c->B, Y, 1, 1}, test_random_floats(6, -1, 1, &rng)}};
    run_check("attention decoder: loss on the weights of two steps", c, ctx, params, keep, 3, in,
              build_decoder, &rng);
}

/* ------------------------------------------------------ local-m, -p */

static at_status build_local(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *kp, *context;
    AT_TRY(at_luong_project_keys(ctx, &c->local.align, in[1], &kp));
    return at_luong_local_attend(ctx, &c->local, in[0], kp, in[2], &c->mask, NULL, 1, &context, y,
                                 NULL);
}

/* local-p's window is D = Tk wide, so it holds every kept key whatever
 * p_t is: the loss is smooth in p_t (a window edge crossing a key would be
 * a jump finite differences cannot see through), and the gradient reaches
 * W_p and v_p through the Gaussian. */
static void local_weights(at_local_kind kind, at_score score, const char *name) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 13 + (unsigned)kind);
    int window = kind == AT_LOCAL_P ? c->Tk : 1;
    CHECK_OK(ctx, at_luong_local_init(ctx, &c->local, params, "local", kind, score, c->Dq, c->Dq,
                                      c->A, 0, window, 3, &rng));
    gc_input in[3] = {{"queries", 3, {c->B, c->Tq, c->Dq, 1}, test_random_floats(18, -1, 1, &rng)},
                      {"keys", 3, {c->B, c->Tk, c->Dq, 1}, test_random_floats(30, -1, 1, &rng)},
                      {"values", 3, {c->B, c->Tk, c->Dv, 1}, test_random_floats(20, -1, 1, &rng)}};
    run_check(name, c, ctx, params, keep, 3, in, build_local, &rng);
}

/* ------------------------------------------------------------ static */

static at_status build_han(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *out;
    return at_han_attention_forward(ctx, &c->han, in[0], &c->mask, &out, y);
}

static at_status build_feature(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *out;
    return at_feature_attention_forward(ctx, &c->feature, in[0], &c->mask, &out, y);
}

static void static_weights(int feature) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 15 + (unsigned)feature);
    if (feature)
        CHECK_OK(ctx, at_feature_attention_init(ctx, &c->feature, params, "feat", c->Dk, &rng));
    else
        CHECK_OK(ctx, at_han_attention_init(ctx, &c->han, params, "han", c->Dk, c->A, &rng));
    gc_input in[1] = {{"h", 3, {c->B, c->Tk, c->Dk, 1}, test_random_floats(40, -1, 1, &rng)}};
    run_check(feature ? "feature attention: loss on the weights" : "HAN: loss on the weights", c,
              ctx, params, keep, 1, in, feature ? build_feature : build_han, &rng);
}

/* --------------------------------------------------------- monotonic */

/* inputs: queries (2, B, Dq), keys, values; two steps, the second reading
 * the first's alpha; the two alphas joined. */
static at_status build_monotonic(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *kp, *alpha[2] = {NULL, NULL}, *prev = NULL;
    AT_TRY(at_additive_project_keys(ctx, &c->monotonic.energy, in[1], &kp));
    for (int step = 0; step < 2; step++) {
        at_tensor *q, *context;
        AT_TRY(at_slice(ctx, &q, in[0], 0, step, 1));
        AT_TRY(at_reshape(ctx, &q, q, 2, (const int[]){c->B, c->Dq}));
        AT_TRY(at_monotonic_attend(ctx, &c->monotonic, q, kp, in[2], prev, &c->mask, &context,
                                   &alpha[step]));
        prev = alpha[step];
    }
    return gc_join_outputs(ctx, y, 2, alpha);
}

static void monotonic_weights(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 17);
    at_monotonic_options o = at_monotonic_options_default();
    o.g_init = 2.0f, o.r_init = 0.3f; /* p spread over (0.1, 0.9) */
    CHECK_OK(ctx, at_monotonic_init_ext(ctx, &c->monotonic, params, "mono", c->Dq, c->Dk, c->A, &o,
                                        &rng));
    gc_input in[3] = {{"queries", 3, {2, c->B, c->Dq, 1}, test_random_floats(12, -1, 1, &rng)},
                      {"keys", 3, {c->B, c->Tk, c->Dk, 1}, test_random_floats(40, -1, 1, &rng)},
                      {"values", 3, {c->B, c->Tk, c->Dv, 1}, test_random_floats(20, -1, 1, &rng)}};
    run_check("monotonic: loss on the alphas of two steps", c, ctx, params, keep, 3, in,
              build_monotonic, &rng);
}

/* ------------------------------------------------- forward attention */

/* inputs: scores (2, B, Tk), transition (B, 1), values; y_t = softmax of
 * the step's scores; two steps; the two alphas joined. */
static at_status build_forward(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *alpha[2] = {NULL, NULL}, *prev = NULL;
    for (int step = 0; step < 2; step++) {
        at_tensor *e, *probs, *context;
        AT_TRY(at_slice(ctx, &e, in[0], 0, step, 1));
        AT_TRY(at_reshape(ctx, &e, e, 2, (const int[]){c->B, c->Tk}));
        AT_TRY(at_softmax(ctx, &probs, e, c->mask.keep, c->B));
        AT_TRY(
            at_forward_attention(ctx, probs, prev, in[1], in[2], &c->mask, &context, &alpha[step]));
        prev = alpha[step];
    }
    return gc_join_outputs(ctx, y, 2, alpha);
}

static void forward_weights(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 18);
    gc_input in[3] = {{"scores", 3, {2, c->B, c->Tk, 1}, test_random_floats(20, -1, 1, &rng)},
                      {"transition", 2, {c->B, 1, 1, 1}, test_random_floats(2, 0.2f, 0.8f, &rng)},
                      {"values", 3, {c->B, c->Tk, c->Dv, 1}, test_random_floats(20, -1, 1, &rng)}};
    run_check("forward attention: loss on the alphas of two steps", c, ctx, params, keep, 3, in,
              build_forward, &rng);
}

/* --------------------------------------------------------- key-value */

static at_status build_key_value(at_ctx *ctx, at_tensor *const *in, void *user, at_tensor **y) {
    weights_case *c = user;
    at_tensor *out;
    return at_key_value_forward(ctx, &c->kv, in[0], in[1], in[2], &c->mask, &out, y);
}

static void key_value_weights(void) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    uint8_t *keep;
    weights_case *c = case_new(ctx, &params, &keep);
    at_rng rng;
    at_rng_seed(&rng, 19);
    int Dx = 2, Do = 3, memory = 3;
    CHECK_OK(ctx, at_key_value_init(ctx, &c->kv, params, "kv", c->Dk, c->Dv, Dx, Do, c->A, memory,
                                    &rng));
    gc_input in[3] = {{"keys", 3, {c->B, c->Tk, c->Dk, 1}, test_random_floats(40, -1, 1, &rng)},
                      {"values", 3, {c->B, c->Tk, c->Dv, 1}, test_random_floats(20, -1, 1, &rng)},
                      {"x", 3, {c->B, c->Tk, Dx, 1}, test_random_floats(20, -1, 1, &rng)}};
    run_check("key-value: loss on the weights", c, ctx, params, keep, 3, in, build_key_value, &rng);
}

int main(void) {
    additive_weights();
    decoder_weights();
    local_weights(AT_LOCAL_M, AT_SCORE_GENERAL, "local-m: loss on the weights");
    local_weights(AT_LOCAL_P, AT_SCORE_CONCAT, "local-p: loss on the weights");
    static_weights(0);
    static_weights(1);
    monotonic_weights();
    forward_weights();
    key_value_weights();
    return test_finish("attention weights carry gradients (step and sequence families)");
}
