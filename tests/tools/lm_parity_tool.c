/*
 * lm_parity_tool.c - run attend's Transformer language model once, forward
 * and backward, and write down everything bench/lm_gpt.py (its PyTorch
 * twin) needs to redo it (tests/parity/test_lm_transformer_parity.py is the
 * other half).
 *
 *     lm_parity_tool CASE OUT.safetensors [SEED]        lm_parity_tool --list
 *
 * Each case is a row of the table below: the sizes of the model, the batch
 * and the length T (T < context reads only the first T positions), the
 * text its character vocabulary is built from, a dropout rate (the context
 * is NOT in training mode: dropout must do nothing, as PyTorch's .eval())
 * and the thread count. The tool makes the model with at_lm_create, moves
 * every parameter off its initial value (nanoGPT's N(0, 0.02) makes every
 * attention map nearly uniform, and biases 0 and gains 1 would hide a
 * wrong term), draws random windows (B, T + 1) of ids, and writes:
 *
 *     every parameter under its own name (PyTorch's state_dict names)
 *     out.logits    at_lm_logits of windows[:, :T]         (B, T, V)
 *     out.weights   the attention of every layer and head  (layers, B, H, T, T),
 *                   stored as (layers·B, H, T, T) (at most 4 dimensions)
 *     out.loss      at_lm_loss of the windows              (1)
 *     seed.loss     1: backward ran from the loss
 *     grad.NAME     every parameter's gradient of the loss
 *
 * and metadata: case, seed, sizes (JSON: V, context, layers, heads, width,
 * dropout, B, T) and windows (the ids, row-major, as a JSON list).
 */
#include "parity_dump.h"
#include "testutil.h"

#include <stdlib.h>

typedef struct lm_case {
    int layers, heads, width, context;
    int B, T;
    float dropout;
    const char *text; /* the vocabulary's characters */
} lm_case;

static void run_case(pd_run *r) {
    const lm_case *c = r->pc->data;
    at_vocab *vocab = NULL;
    TRY(r, at_vocab_build(r->ctx, &vocab, 1, &c->text));
    at_lm_config config;
    at_lm_config_default(&config, AT_LM_TRANSFORMER);
    config.layers = c->layers, config.heads = c->heads, config.width = c->width;
    config.context = c->context, config.dropout = c->dropout;
    config.seed = at_rng_u32(&r->init_rng);
    at_lm *m = NULL;
    TRY(r, at_lm_create(r->ctx, &m, &config, vocab));
    at_params *params = at_lm_params(m);
    test_jitter_params(params, &r->data_rng, 1.0f); /* U(-0.5, 0.5) added to every value */

    int B = c->B, T = c->T, V = at_vocab_size(at_lm_vocab(m));
    int32_t *windows = malloc((size_t)B * (T + 1) * sizeof *windows);
    int32_t *inputs = malloc((size_t)B * T * sizeof *inputs);
    size_t n_weights = at_lm_attention_size(m, B, T);
    float *weights = malloc(n_weights * sizeof *weights);
    if (!windows || !inputs || !weights) pd_die(r, "out of memory");
    for (int i = 0; i < B * (T + 1); i++)
        windows[i] = (int32_t)at_rng_below(&r->data_rng, (uint32_t)V);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) inputs[b * T + t] = windows[b * (T + 1) + t];

    /* the logits and the attention, gradients off */
    int grad = at_ctx_set_grad(r->ctx, 0);
    at_tensor *logits;
    TRY(r, at_lm_logits(r->ctx, m, inputs, B, T, &logits, weights));
    pd_put_output(r, "logits", logits);
    /* (layers, B, H, T, T) stored as (layers·B, H, T, T): a tensor has at most 4 dims */
    pd_put(r, "out.weights", 4, (int[]){c->layers * B, c->heads, T, T}, weights);
    at_ctx_set_grad(r->ctx, grad);

    /* the loss and every parameter's gradient */
    at_tensor *loss;
    TRY(r, at_lm_loss(r->ctx, m, windows, B, T, &loss));
    pd_backward_loss(r, loss);
    for (int i = 0; i < at_params_count(params); i++) {
        const at_tensor *p = at_params_get(params, i);
        pd_put_value(r, p->name, p);
        pd_put_grad(r, p->name, p);
    }
    pd_meta(r, "sizes",
            "{\"V\": %d, \"context\": %d, \"layers\": %d, \"heads\": %d, \"width\": %d, "
            "\"dropout\": %g, \"B\": %d, \"T\": %d}",
            V, c->context, c->layers, c->heads, c->width, (double)c->dropout, B, T);
    pd_meta_ints(r, "windows", windows, B * (T + 1));
    free(windows);
    free(inputs);
    free(weights);
    at_lm_free(m);
}

static const pd_case cases[] = {
    {"gpt_2x2x8", run_case, 0, &(const lm_case){2, 2, 8, 6, 3, 6, 0.0f, "abcdefg"}},
    {"gpt_short", run_case, 0, &(const lm_case){2, 2, 8, 6, 2, 4, 0.0f, "abcdefg"}},
    {"gpt_1x1x12", run_case, 0, &(const lm_case){1, 1, 12, 5, 2, 5, 0.0f, "xyz"}},
    {"gpt_3x4x16", run_case, 0,
     &(const lm_case){3, 4, 16, 9, 2, 9, 0.0f, "the quick brown fox jumps"}},
    {"gpt_eval_dropout", run_case, 0, &(const lm_case){2, 2, 8, 6, 2, 6, 0.4f, "abcdefg"}},
    {"gpt_threads2", run_case, 2, &(const lm_case){2, 4, 16, 7, 4, 7, 0.0f, "abcdefghij"}},
};

int main(int argc, char **argv) {
    static const pd_tool tool = {
        .name = "lm_parity_tool",
        .cases = cases,
        .n_cases = (int)(sizeof cases / sizeof cases[0]),
        .description = "Runs the Transformer language model forward and backward and saves its\n"
                       "parameters, ids, logits, attention, loss and gradients in one "
                       "safetensors file.\n",
        .seed = 20241212ull,
        .data_xor = 0x5eedull,
        .inference = 1,
    };
    return pd_main(argc, argv, &tool);
}
