/*
 * test_training_step.c - two promises of the engine, checked on a real
 * training step (embedding -> BiLSTM -> GRU cell -> dense -> cross-entropy
 * -> backward -> clipping -> Adam):
 *   1. after the first step, a step of the same shape does not call malloc,
 *      calloc or realloc anywhere in libattend (this test is linked with
 *      -Wl,--wrap so every allocation the library makes is counted);
 *   2. the same seed and thread count give bit-identical parameters, with
 *      1 and with 2 threads.
 */
#include "internal.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ counting malloc */
static long allocations = 0;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { allocations++; return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }

enum { B = 8, T = 7, V = 11, E = 6, H = 5, STEPS_OUT = 4 };

typedef struct model {
    at_params *params;
    at_embedding embed;
    at_bilstm encoder;
    at_gru decoder;
    at_dense out;
    at_optim *adam;
} model;

static int32_t ids[B * T], lengths[B], targets[STEPS_OUT * B];

static void make_data(void) {
    at_rng rng;
    at_rng_seed(&rng, 5);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)at_rng_below(&rng, V);
    for (int b = 0; b < B; b++) lengths[b] = 1 + (int32_t)at_rng_below(&rng, T);
    for (int i = 0; i < STEPS_OUT * B; i++) targets[i] = (int32_t)at_rng_below(&rng, V);
    targets[3] = -100; /* one ignored position */
}

static at_status model_init(at_ctx *ctx, model *m) {
    at_rng rng;
    at_rng_seed(&rng, 11);
    AT_TRY(at_params_create(ctx, &m->params));
    AT_TRY(at_embedding_init(ctx, &m->embed, m->params, "embed", V, E, &rng));
    AT_TRY(at_bilstm_init(ctx, &m->encoder, m->params, "encoder", E, H, &rng));
    AT_TRY(at_gru_init(ctx, &m->decoder, m->params, "decoder", 2 * H, 2 * H, 0, &rng));
    AT_TRY(at_dense_init(ctx, &m->out, m->params, "out", 2 * H, V, 1, &rng));
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.01f};
    return at_optim_create(ctx, &m->adam, m->params, &config);
}

static at_status step(at_ctx *ctx, model *m) {
    at_ctx_reset(ctx);
    at_params_zero_grad(m->params);
    int ids_shape[2] = {B, T};
    at_tensor *x, *enc, *h_n, *state, *steps[STEPS_OUT], *logits, *loss;
    AT_TRY(at_embedding_forward(ctx, &m->embed, ids, 2, ids_shape, &x));
    AT_TRY(at_dropout(ctx, &x, x, 0.1f));
    AT_TRY(at_bilstm_forward(ctx, &m->encoder, x, lengths, &enc, &h_n));
    AT_TRY(at_slice(ctx, &state, enc, 1, 0, 1)); /* (B, 1, 2H) */
    int bh[2] = {B, 2 * H};
    AT_TRY(at_reshape(ctx, &state, state, 2, bh));
    at_tensor *input = state;
    for (int t = 0; t < STEPS_OUT; t++) {
        AT_TRY(at_gru_cell(ctx, &m->decoder, input, state, &state));
        AT_TRY(at_dense_forward(ctx, &m->out, state, &steps[t]));
    }
    AT_TRY(at_concat(ctx, &logits, STEPS_OUT, steps, 0));
    AT_TRY(at_cross_entropy(ctx, &loss, logits, targets, -100, 0.1f));
    AT_TRY(at_backward(ctx, loss));
    AT_TRY(at_clip_grad_norm(ctx, m->params, 0.5f, NULL));
    return at_optim_step(ctx, m->adam);
}

/* Train `steps` steps; copy all parameters to a new buffer. */
static float *train(int threads, int steps, long *allocations_in_last_step) {
    at_ctx *ctx;
    at_ctx_options options = {.num_threads = threads, .seed = 3};
    if (at_ctx_create(&ctx, &options) != AT_OK) return NULL;
    at_ctx_set_training(ctx, 1);
    model m = {0};
    at_status s = model_init(ctx, &m);
    for (int i = 0; i < steps && s == AT_OK; i++) {
        long before = allocations;
        s = step(ctx, &m);
        if (allocations_in_last_step) *allocations_in_last_step = allocations - before;
    }
    CHECK(s == AT_OK, "training step failed: %s: %s", at_status_name(s), at_ctx_error(ctx));
    float *copy = NULL;
    if (s == AT_OK) {
        copy = malloc(at_params_numel(m.params) * sizeof(float));
        size_t offset = 0;
        for (int i = 0; i < at_params_count(m.params); i++) {
            at_tensor *p = at_params_get(m.params, i);
            memcpy(copy + offset, p->data, p->size * sizeof(float));
            offset += p->size;
        }
    }
    at_optim_free(m.adam);
    at_params_free(m.params);
    at_ctx_free(ctx);
    return copy;
}

static size_t parameter_count(void) {
    at_ctx *ctx;
    at_ctx_create(&ctx, NULL);
    model m = {0};
    size_t n = model_init(ctx, &m) == AT_OK ? at_params_numel(m.params) : 0;
    at_optim_free(m.adam);
    at_params_free(m.params);
    at_ctx_free(ctx);
    return n;
}

int main(void) {
    make_data();
    long last = -1;
    float *once = train(1, 4, &last);
    CHECK(last == 0, "a repeated training step made %ld allocations (want 0)", last);
    size_t n = parameter_count();
    for (int threads = 1; threads <= 2; threads++) {
        float *a = train(threads, 4, NULL), *b = train(threads, 4, NULL);
        CHECK(a && b && memcmp(a, b, n * sizeof(float)) == 0,
              "%d thread(s): two runs with the same seed differ", threads);
        free(a);
        free(b);
    }
    float *one_step = train(1, 1, NULL);
    int moved = once && one_step && memcmp(once, one_step, n * sizeof(float)) != 0;
    CHECK(moved, "three more steps should change the parameters");
    free(once);
    free(one_step);
    return test_finish("training step");
}
