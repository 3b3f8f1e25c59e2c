/*
 * attention_decoder.c - the AttentionDecoder of "Attention in Keras", trained
 * to copy the first 4 tokens of 16 short sequences, then decoding on its own.
 *
 * A GRU-style cell whose gates read the context c_t of additive attention on
 * s_{t-1}. Unlike the original layer, T_y (4) differs from T_x (6) and every
 * other sequence is padded (4 real tokens): the mask keeps attention off the
 * padding. Training feeds the previous target (teacher forcing); decoding
 * feeds the model's own previous softmax, as the original did. Exits 1 if a
 * row of weights does not sum to 1, padding gets weight, or the loss does
 * not fall.
 *
 *   cc attention_decoder.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_decoder: %s: %s\n", at_status_name(s_), at_ctx_error(ctx)); \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 16, TX = 6, TY = 4, V = 6, DH = V + TX, S = 16, A = 16, STEPS = 300 };

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 3);
    at_attention_decoder dec; /* y_{t-1} is (B, V): Y = V */
    TRY(at_attention_decoder_init(ctx, &dec, params, "dec", V, DH, S, V, A, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.02f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    /* Annotations h_j = [one-hot token; one-hot position]; targets y_t = x_t. */
    float h[B * TX * DH] = {0}, onehot[TY][B * V] = {{0}};
    int32_t want[TY][B], tokens[B][TX], lengths[B];
    uint8_t keep[B][TX] = {{0}};
    for (int b = 0; b < B; b++) {
        lengths[b] = b % 2 ? 4 : 6;
        for (int j = 0; j < lengths[b]; j++) {
            tokens[b][j] = (int32_t)at_rng_below(&rng, V);
            keep[b][j] = 1;
            h[(b * TX + j) * DH + tokens[b][j]] = 1;
            h[(b * TX + j) * DH + V + j] = 1;
        }
        for (int t = 0; t < TY; t++) {
            want[t][b] = tokens[b][t];
            if (t + 1 < TY) onehot[t + 1][b * V + want[t][b]] = 1; /* teacher input */
        }
    }
    int hshape[3] = {B, TX, DH}, yshape[2] = {B, V};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};

    float first = 0, last = 0, alpha[TY][B * TX];
    int32_t guess[TY][B];
    for (int step = 0; step <= STEPS; step++) {
        int training = step < STEPS; /* the last pass decodes on its own */
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_ctx_set_grad(ctx, training);
        at_tensor *ann, *keys_proj, *s, *y, *total = NULL;
        TRY(at_tensor_from(ctx, &ann, 3, hshape, h));
        TRY(at_additive_project_keys(ctx, &dec.attention, ann, &keys_proj)); /* once */
        TRY(at_attention_decoder_start(ctx, &dec, ann, &s));                 /* s_0 */
        TRY(at_tensor_new(ctx, &y, 2, yshape));                              /* y_0 = 0 */
        for (int t = 0; t < TY; t++) {
            at_tensor *logits, *weights, *ce;
            TRY(at_attention_decoder_step(ctx, &dec, y, s, ann, keys_proj, &mask, &s, &logits,
                                          &weights));
            TRY(at_cross_entropy(ctx, &ce, logits, want[t], -100, 0.0f));
            if (total)
                TRY(at_add(ctx, &total, total, ce));
            else
                total = ce;
            for (int i = 0; i < B * TX; i++)
                alpha[t][i] = weights->data[i];
            for (int b = 0; b < B; b++) {
                guess[t][b] = 0;
                for (int v = 1; v < V; v++)
                    if (logits->data[b * V + v] > logits->data[b * V + guess[t][b]])
                        guess[t][b] = v;
            }
            if (training)
                TRY(at_tensor_from(ctx, &y, 2, yshape, onehot[t + 1 < TY ? t + 1 : 0]));
            else
                TRY(at_softmax(ctx, &y, logits, NULL, 0)); /* the original: own softmax */
        }
        last = total->data[0] / TY;
        if (step == 0) first = last;
        if (step % 50 == 0)
            printf("step %3d  loss %.4f%s\n", step, last, training ? "" : " (free)");
        if (training) TRY(at_backward(ctx, total));
        if (training) TRY(at_optim_step(ctx, adam));
    }

    int bad = 0;
    for (int b = 0; b < 2; b++) {
        printf("\nsequence %d (length %d), weights per output step:   out want\n", b, lengths[b]);
        for (int t = 0; t < TY; t++) {
            float sum = 0;
            printf("  y%d ", t);
            for (int j = 0; j < TX; j++) {
                printf(" %5.3f", alpha[t][b * TX + j]);
                sum += alpha[t][b * TX + j];
                if (!keep[b][j] && alpha[t][b * TX + j] != 0.0f) bad = 1;
            }
            printf("   %3d %4d\n", guess[t][b], want[t][b]);
            if (sum < 0.9999f || sum > 1.0001f) bad = 1;
        }
    }
    printf("\nT_x = %d, T_y = %d; rows sum to 1, padding gets 0: %s\n", TX, TY, bad ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad || !(last < 0.5f * first);
}
