/*
 * attention_additive.c - Bahdanau's additive attention, trained for a few steps.
 *
 *   e_tj = v_aᵀ tanh(W_a q_t + U_a k_j + b_a)   α_t = softmax_j(e_t)   c_t = Σ_j α_tj v_j
 *
 * Two sequences of 5 keys; the second has 3 real keys and 2 of padding. Each
 * query is a noisy copy of one key, and its context should become that key:
 * Adam teaches W_a, U_a, b_a and v_a to find it. Exits 1 if a row of weights
 * does not sum to 1, a padded key gets any weight, or the loss does not fall.
 *
 *   cc attention_additive.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_additive: %s: %s\n", at_status_name(s_),                    \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, TQ = 3, TK = 5, D = 4, A = 16, STEPS = 150 };
static const int32_t target[B][TQ] = {{3, 0, 1}, {2, 0, 1}};           /* key each query copies */
static const uint8_t keep[B][TK] = {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}; /* 1 = keep */

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 42);
    at_additive attn;
    TRY(at_additive_init(ctx, &attn, params, "attn", D, D, A, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.02f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    float k[B * TK * D], q[B * TQ * D], want[B * TQ * D];
    for (int i = 0; i < B * TK * D; i++)
        k[i] = at_rng_normal(&rng);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < TQ; i++)
            for (int d = 0; d < D; d++) {
                want[(b * TQ + i) * D + d] = k[(b * TK + target[b][i]) * D + d];
                q[(b * TQ + i) * D + d] = want[(b * TQ + i) * D + d] + 0.1f * at_rng_normal(&rng);
            }
    int kshape[3] = {B, TK, D}, qshape[3] = {B, TQ, D};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B}; /* padding mask (B, Tk) */

    at_tensor *weights = NULL;
    float first = 0, last = 0;
    for (int step = 0; step <= STEPS; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_tensor *keys, *queries, *wanted, *keys_proj, *context, *diff, *sq, *loss;
        TRY(at_tensor_from(ctx, &keys, 3, kshape, k));
        TRY(at_tensor_from(ctx, &queries, 3, qshape, q));
        TRY(at_tensor_from(ctx, &wanted, 3, qshape, want));
        TRY(at_additive_project_keys(ctx, &attn, keys, &keys_proj)); /* U_a k_j + b_a, once */
        TRY(at_additive_attend(ctx, &attn, queries, keys_proj, keys, &mask, &context, &weights));
        TRY(at_sub(ctx, &diff, context, wanted)); /* loss = mean (c_t - wanted)² */
        TRY(at_mul(ctx, &sq, diff, diff));
        TRY(at_mean(ctx, &loss, sq));
        last = loss->data[0];
        if (step == 0) first = last;
        if (step % 50 == 0) printf("step %3d  loss %.4f\n", step, last);
        if (step == STEPS) break; /* keep the last forward's weights */
        TRY(at_backward(ctx, loss));
        TRY(at_optim_step(ctx, adam));
    }

    int bad = 0;
    for (int b = 0; b < B; b++) {
        printf("\nsequence %d, weights (B, Tq, Tk)[%d]:   target\n", b, b);
        for (int i = 0; i < TQ; i++) {
            const float *row = weights->data + (b * TQ + i) * TK;
            float sum = 0;
            printf("  q%d ", i);
            for (int j = 0; j < TK; j++) {
                printf(" %5.3f", row[j]);
                sum += row[j];
                if (!keep[b][j] && row[j] != 0.0f) bad = 1; /* padding: exactly 0 */
            }
            printf("   k%d\n", target[b][i]);
            if (sum < 0.9999f || sum > 1.0001f) bad = 1;
        }
    }
    printf("\nloss %.4f -> %.4f; rows sum to 1, padding gets 0: %s\n", first, last,
           bad ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad || !(last < 0.5f * first);
}
