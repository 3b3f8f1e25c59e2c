/*
 * recipe.c - the seq2seq training recipe of `attend train`, in one place.
 *
 * The CLI, the lab's server (through the CLI's train_run) and Python's
 * attend.train all train a seq2seq model the same way: Adam warmed up
 * linearly, then a cosine decay to a hundredth of the peak rate, with
 * gradient clipping and a regular evaluation. Keeping the defaults and the
 * translation into at_trainer_options here means the same options give
 * the same weights through every front end (python_models checks the CLI
 * against Python weight for weight).
 */
#include "attend/models.h"

void at_seq2seq_recipe_default(at_seq2seq_recipe *recipe) {
    *recipe = (at_seq2seq_recipe){.steps = 3000,
                                  .batch = 128,
                                  .warmup = 200,
                                  .eval_every = 500,
                                  .seed = 1,
                                  .lr = 0.004,
                                  .final_lr = -1,
                                  .clip = 1.0};
}

void at_seq2seq_recipe_trainer_options(const at_seq2seq_recipe *recipe, at_trainer_options *t) {
    at_trainer_options_default(t);
    double final_lr = recipe->final_lr < 0 ? recipe->lr * 0.01 : recipe->final_lr;
    t->steps = recipe->steps;
    t->epochs = recipe->epochs;
    t->batch = (int)recipe->batch;
    t->seed = (uint64_t)recipe->seed;
    t->optim = (at_optim_config){.kind = AT_ADAM, .lr = (float)recipe->lr};
    t->schedule = (at_schedule){.base_lr = (float)recipe->lr,
                                .final_lr = (float)final_lr,
                                .warmup_steps = recipe->warmup,
                                .decay = AT_DECAY_COSINE};
    t->clip = (float)recipe->clip;
    t->eval_every = recipe->eval_every;
    t->save_every = recipe->save_every;
    t->max_seconds = recipe->minutes * 60;
}
