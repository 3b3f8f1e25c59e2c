/*
 * attention_multi_head.c - multi-head attention (Vaswani et al. 2017), trained
 * to reverse a sequence, with each head's weights shown.
 *
 *   head_h = softmax(Q_h K_hᵀ / √(E/H) + mask) V_h     out = [head_1 … head_H] W_Oᵀ + b_O
 *
 * E = 8, H = 2 heads. Each input step is [4 random numbers; one-hot position],
 * and output step i should be input step T−1−i: the heads must learn to match
 * positions. Then one sequence is padded (its last step masked) and the
 * per-head weights (B, H, Tq, Tk) are printed. Exits 1 if the loss does not
 * fall, a row does not sum to 1, padding gets weight, or the cached path
 * (_project_kv once, then _attend) disagrees with _forward.
 *
 *   cc attention_multi_head.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_multi_head: %s: %s\n", at_status_name(s_),                  \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 4, T = 4, E = 8, H = 2, STEPS = 300 };
static const uint8_t keep[B][T] = {{1, 1, 1, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 1}};

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 41);
    at_multi_head mha; /* mha.in_proj_weight etc., as torch.nn.MultiheadAttention */
    TRY(at_multi_head_init(ctx, &mha, params, "mha", E, H, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.02f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    float xs[B * T * E] = {0}, want[B * T * E];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            for (int e = 0; e < 4; e++)
                xs[(b * T + t) * E + e] = at_rng_normal(&rng);
            xs[(b * T + t) * E + 4 + t] = 1;
        }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < E; e++)
                want[(b * T + t) * E + e] = xs[(b * T + T - 1 - t) * E + e];
    int shape[3] = {B, T, E};

    float first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_tensor *x, *target, *out, *diff, *sq, *loss;
        TRY(at_tensor_from(ctx, &x, 3, shape, xs));
        TRY(at_tensor_from(ctx, &target, 3, shape, want));
        TRY(at_multi_head_forward(ctx, &mha, x, x, x, NULL, &out, NULL)); /* self-attention */
        TRY(at_sub(ctx, &diff, out, target));
        TRY(at_mul(ctx, &sq, diff, diff));
        TRY(at_mean(ctx, &loss, sq));
        last = loss->data[0];
        if (step == 0) first = last;
        if (step % 50 == 0 || step == STEPS - 1) printf("step %3d  loss %.4f\n", step, last);
        TRY(at_backward(ctx, loss));
        TRY(at_optim_step(ctx, adam));
    }

    at_ctx_reset(ctx);
    at_ctx_set_grad(ctx, 0);
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B}; /* sequence 1: step 3 is padding */
    at_tensor *x, *out, *w, *kh, *vh, *out2;
    TRY(at_tensor_from(ctx, &x, 3, shape, xs));
    TRY(at_multi_head_forward(ctx, &mha, x, x, x, &mask, &out, &w)); /* w (B, H, T, T) */
    TRY(at_multi_head_project_kv(ctx, &mha, x, x, &kh, &vh));        /* (B, H, T, E/H) */
    TRY(at_multi_head_attend(ctx, &mha, x, kh, vh, &mask, &out2, NULL));
    int bad = 0;
    for (size_t i = 0; i < out->size; i++) {
        float e = out->data[i] - out2->data[i];
        if (e > 1e-5f || e < -1e-5f) bad = 1;
    }
    for (int b = 0; b < B; b++)
        for (int hd = 0; hd < H; hd++) {
            if (b == 0 || b == 1)
                printf("\nsequence %d, head %d (rows: query, columns: key)\n", b, hd);
            for (int i = 0; i < T; i++) {
                const float *row = w->data + ((b * H + hd) * T + i) * T;
                float sum = 0;
                for (int j = 0; j < T; j++) {
                    if (b <= 1) printf(" %5.3f", row[j]);
                    sum += row[j];
                    if (!keep[b][j] && row[j] != 0.0f) bad = 1;
                }
                if (b <= 1) printf("\n");
                if (sum < 0.9999f || sum > 1.0001f) bad = 1;
            }
        }
    printf("\nloss %.4f -> %.4f; rows sum to 1, padding gets 0, cached path agrees: %s\n", first,
           last, bad ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad || !(last < 0.5f * first);
}
