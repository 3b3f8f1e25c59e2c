/*
 * recipe.c - how `attend lm train` trains a language model, in one place:
 * the book made ready (read, split, encoded) and the trainer's options.
 *
 * The CLI parses its options into an at_lm_recipe and reads the book with
 * at_lm_data_read; a C program or a binding that does the same trains the
 * same weights, because the schedule, the optimiser and the split are
 * written only here (at_seq2seq_recipe does this for translators).
 */
#include "lm.h"

#include <stdlib.h>
#include <string.h>

at_status at_lm_data_read(at_ctx *ctx, const char *path, int valid_percent,
                          const at_vocab *vocab, at_lm_data *out) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_data_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!vocab) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_data_read: NULL vocabulary");
    at_status s = at_lm_text_read(ctx, path, valid_percent, &out->text);
    const at_lm_text *t = &out->text;
    size_t unknown_train = 0;
    if (s == AT_OK)
        s = at_lm_encode(ctx, vocab, t->text, t->split_byte, &out->train, &out->train_len,
                         &unknown_train);
    if (s == AT_OK)
        s = at_lm_encode(ctx, vocab, t->text + t->split_byte, t->bytes - t->split_byte,
                         &out->valid, &out->valid_len, &out->unknown);
    out->unknown += unknown_train;
    if (s != AT_OK) at_lm_data_clear(out);
    return s;
}

void at_lm_data_clear(at_lm_data *data) {
    if (!data) return;
    at_lm_text_clear(&data->text);
    free(data->train);
    free(data->valid);
    memset(data, 0, sizeof *data);
}

void at_lm_recipe_default(at_lm_recipe *recipe) {
    *recipe = (at_lm_recipe){
        .steps = 2000, .batch = 64, .warmup = 100, .eval_every = 500, .seed = 1, .lr = 1e-3};
}

void at_lm_recipe_trainer_options(const at_lm_recipe *recipe, at_trainer_options *t) {
    at_trainer_options_default(t);
    t->steps = recipe->steps;
    t->batch = (int)recipe->batch;
    t->seed = (uint64_t)recipe->seed;
    t->optim = (at_optim_config){.kind = AT_ADAM, .lr = (float)recipe->lr, .beta2 = 0.99f};
    t->schedule = (at_schedule){.base_lr = (float)recipe->lr,
                                .final_lr = (float)recipe->lr / 10,
                                .warmup_steps = recipe->warmup,
                                .decay = AT_DECAY_COSINE};
    t->clip = 1.0f;
    t->eval_every = recipe->eval_every;
    t->save_every = recipe->save_every;
    t->best_metric = "nats";
    t->lower_is_better = 1;
    t->max_seconds = recipe->minutes * 60;
}
