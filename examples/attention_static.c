/*
 * attention_static.c - static attention: HAN beside the seed's per-feature layer.
 *
 *   HAN          u_t = tanh(W h_t + b)   α_t = softmax_t(u_tᵀ u_w)        out = Σ_t α_t h_t
 *   per-feature  u_t = tanh(W h_t + b)   α_tf = exp(u_tf) / Σ_t exp(u_tf)  out_f = Σ_t α_tf h_tf
 *
 * Both layers are trained for the same steps to output h_2, i.e. to put all
 * their weight on step 2 of each sequence (6 steps; the second sequence has
 * 5 real ones). HAN learns to focus. The per-feature layer cannot: u ∈ (−1, 1)
 * so two weights of one feature differ by at most e² ≈ 7.39×, and over n
 * steps no weight exceeds e² / (e² + n − 1). Exits 1 if a distribution does
 * not sum to 1, padding gets weight, or a per-feature ratio exceeds e².
 *
 *   cc attention_static.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_static: %s: %s\n", at_status_name(s_), at_ctx_error(ctx));  \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, T = 6, D = 4, A = 8, PICK = 2, STEPS = 300 };
static const uint8_t keep[B][T] = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0}};
static const float E2 = 7.389056f; /* e² */

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 9);
    at_han_attention han;
    at_feature_attention feat;
    TRY(at_han_attention_init(ctx, &han, params, "han", D, A, &rng));
    TRY(at_feature_attention_init(ctx, &feat, params, "feat", D, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.05f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    float h[B * T * D], want[B * D];
    for (int i = 0; i < B * T * D; i++)
        h[i] = at_rng_normal(&rng);
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            want[b * D + d] = h[(b * T + PICK) * D + d];
    int hshape[3] = {B, T, D}, wshape[2] = {B, D};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};

    at_tensor *wh = NULL, *wf = NULL; /* weights (B, T) and (B, T, D) */
    for (int step = 0; step <= STEPS; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        at_tensor *x, *target, *out_h, *out_f, *dh, *df, *sh, *sf, *lh, *lf, *loss;
        TRY(at_tensor_from(ctx, &x, 3, hshape, h));
        TRY(at_tensor_from(ctx, &target, 2, wshape, want));
        TRY(at_han_attention_forward(ctx, &han, x, &mask, &out_h, &wh));
        TRY(at_feature_attention_forward(ctx, &feat, x, &mask, &out_f, &wf));
        TRY(at_sub(ctx, &dh, out_h, target));
        TRY(at_sub(ctx, &df, out_f, target));
        TRY(at_mul(ctx, &sh, dh, dh));
        TRY(at_mul(ctx, &sf, df, df));
        TRY(at_mean(ctx, &lh, sh));
        TRY(at_mean(ctx, &lf, sf));
        if (step % 100 == 0)
            printf("step %3d  loss HAN %.4f  per-feature %.4f\n", step, lh->data[0], lf->data[0]);
        if (step == STEPS) break;
        TRY(at_add(ctx, &loss, lh, lf));
        TRY(at_backward(ctx, loss));
        TRY(at_optim_step(ctx, adam));
    }

    int bad = 0;
    float worst_ratio = 0;
    for (int b = 0; b < B; b++) {
        float sum = 0;
        for (int t = 0; t < T; t++) {
            sum += wh->data[b * T + t];
            if (!keep[b][t] && wh->data[b * T + t] != 0.0f) bad = 1;
        }
        if (sum < 0.9999f || sum > 1.0001f) bad = 1;
        for (int f = 0; f < D; f++) {
            float fsum = 0, lo = 1, hi = 0;
            for (int t = 0; t < T; t++) {
                float w = wf->data[(b * T + t) * D + f];
                fsum += w;
                if (!keep[b][t]) {
                    bad |= w != 0.0f;
                    continue;
                }
                lo = w < lo ? w : lo;
                hi = w > hi ? w : hi;
            }
            if (fsum < 0.9999f || fsum > 1.0001f) bad = 1;
            worst_ratio = hi / lo > worst_ratio ? hi / lo : worst_ratio;
        }
    }
    printf("\nsequence 0, weight of each step (target: step %d)\n  step      HAN   per-feature "
           "f0..f%d\n",
           PICK, D - 1);
    for (int t = 0; t < T; t++) {
        printf("  %4d   %6.3f  ", t, wh->data[t]);
        for (int f = 0; f < D; f++)
            printf(" %6.3f", wf->data[t * D + f]);
        printf("\n");
    }
    printf("largest per-feature max/min ratio %.3f (bound e² = %.3f); no weight can pass %.3f\n",
           worst_ratio, E2, E2 / (E2 + T - 1));
    if (worst_ratio > E2 * 1.0001f) bad = 1;
    printf("sums are 1, padding gets 0, ratio <= e²: %s\n", bad ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad;
}
