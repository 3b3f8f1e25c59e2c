/*
 * xor.c - the smallest complete attend program: learn XOR.
 *
 * It shows the whole training loop a caller writes against attend.h:
 * a context (arena + tape), a parameter set, two Dense layers, a loss,
 * backward, an optimiser step, and a checkpoint at the end.
 *
 *   cc xor.c $(pkg-config --cflags --libs attend) -o xor && ./xor
 *
 * Exits 0 once the network classifies all four points correctly.
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                             \
    do {                                                                                      \
        at_status s_ = (call);                                                                \
        if (s_ != AT_OK) {                                                                    \
            fprintf(stderr, "xor: %s: %s\n", at_status_name(s_), at_ctx_error(ctx));          \
            return 1;                                                                         \
        }                                                                                     \
    } while (0)

int main(void) {
    static const float inputs[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1}; /* (4, 2) */
    static const int32_t labels[4] = {0, 1, 1, 0};               /* (4)    */

    at_ctx *ctx = NULL;
    at_ctx_options options = {.num_threads = 1, .seed = 1};
    if (at_ctx_create(&ctx, &options) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));

    at_rng rng;
    at_rng_seed(&rng, 7);
    at_dense hidden, output;
    TRY(at_dense_init(ctx, &hidden, params, "hidden", 2, 8, 1, &rng));
    TRY(at_dense_init(ctx, &output, params, "output", 8, 2, 1, &rng));

    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.05f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    int shape[2] = {4, 2};
    float loss_value = 0;
    for (int step = 0; step < 300; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_tensor *x, *h, *a, *logits, *loss;
        TRY(at_tensor_from(ctx, &x, 2, shape, inputs));
        TRY(at_dense_forward(ctx, &hidden, x, &h));      /* (4, 8) */
        TRY(at_tanh(ctx, &a, h));                        /* (4, 8) */
        TRY(at_dense_forward(ctx, &output, a, &logits)); /* (4, 2) */
        TRY(at_cross_entropy(ctx, &loss, logits, labels, -100, 0.0f));
        TRY(at_backward(ctx, loss));
        TRY(at_optim_step(ctx, adam));
        loss_value = loss->data[0];
    }

    /* Inference: no tape, no gradients. */
    at_ctx_reset(ctx);
    at_ctx_set_grad(ctx, 0);
    at_tensor *x, *h, *a, *logits;
    TRY(at_tensor_from(ctx, &x, 2, shape, inputs));
    TRY(at_dense_forward(ctx, &hidden, x, &h));
    TRY(at_tanh(ctx, &a, h));
    TRY(at_dense_forward(ctx, &output, a, &logits));
    int correct = 0;
    for (int i = 0; i < 4; i++) {
        int predicted = logits->data[2 * i + 1] > logits->data[2 * i] ? 1 : 0;
        printf("xor(%g, %g) = %d\n", inputs[2 * i], inputs[2 * i + 1], predicted);
        correct += predicted == labels[i];
    }
    printf("loss %.4f, %d of 4 correct\n", loss_value, correct);

    at_metadata meta = {0};
    TRY(at_metadata_set(ctx, &meta, "model", "xor"));
    TRY(at_checkpoint_save(ctx, "xor.safetensors", params, &meta));
    at_metadata_clear(&meta);

    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return correct == 4 ? 0 : 1;
}
