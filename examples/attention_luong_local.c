/*
 * attention_luong_local.c - Luong's local attention, local-m and local-p.
 *
 * Only the window [p_t − D, p_t + D], clipped to the source length S, is
 * looked at. local-m puts p_t at the step number t; local-p predicts it,
 * p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), and multiplies the window's softmax
 * by a Gaussian exp(−(s − p_t)² / (2σ²)), σ = D/2. Here D = 2, 9 source
 * states (the second sequence has 6), decoder steps 3, 4, 5. Exits 1 if a
 * weight outside the window or past S is not exactly 0, a local-m row does
 * not sum to 1, or a local-p row sums to more than 1.
 *
 *   cc attention_luong_local.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_luong_local: %s: %s\n", at_status_name(s_),                 \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, TQ = 3, TK = 9, D = 4, WINDOW = 2, P = 8, FIRST_STEP = 3 };
static const int32_t lengths[B] = {9, 6};
static const uint8_t keep[B][TK] = {{1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 0, 0, 0}};

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 11);
    at_ctx_set_grad(ctx, 0);

    float hs[B * TK * D], ht[B * TQ * D];
    for (int i = 0; i < B * TK * D; i++)
        hs[i] = at_rng_normal(&rng);
    for (int i = 0; i < B * TQ * D; i++)
        ht[i] = at_rng_normal(&rng);
    int kshape[3] = {B, TK, D}, qshape[3] = {B, TQ, D};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};
    at_tensor *source, *target;
    TRY(at_tensor_from(ctx, &source, 3, kshape, hs));
    TRY(at_tensor_from(ctx, &target, 3, qshape, ht));

    int bad = 0;
    for (int kind = AT_LOCAL_M; kind <= AT_LOCAL_P; kind++) {
        at_luong_local local; /* general score inside the window, no h̃ layer */
        TRY(at_luong_local_init(ctx, &local, params, kind == AT_LOCAL_M ? "m" : "p",
                                (at_local_kind)kind, AT_SCORE_GENERAL, D, D, 0, 0, WINDOW, P,
                                &rng));
        at_tensor *keys_proj, *context, *weights, *positions;
        TRY(at_luong_project_keys(ctx, &local.align, source, &keys_proj));
        TRY(at_luong_local_attend(ctx, &local, target, keys_proj, source, &mask, lengths,
                                  FIRST_STEP, &context, &weights, &positions));
        printf("%s\n", kind == AT_LOCAL_M ? "local-m (p_t = t)" : "local-p (p_t predicted)");
        for (int b = 0; b < B; b++)
            for (int i = 0; i < TQ; i++) {
                const float *row = weights->data + (b * TQ + i) * TK;
                float p = positions->data[b * TQ + i], sum = 0;
                printf("  seq %d (S=%d) p_t=%5.2f ", b, lengths[b], p);
                for (int s = 0; s < TK; s++) {
                    printf(" %5.3f", row[s]);
                    sum += row[s];
                    int inside = s < lengths[b] && s - p <= WINDOW && p - s <= WINDOW;
                    if ((!inside && row[s] != 0.0f) || row[s] < 0) bad = 1;
                }
                printf("  sum %.3f\n", sum);
                if (sum > 1.0001f || (kind == AT_LOCAL_M && sum < 0.9999f)) bad = 1;
            }
    }
    printf("zero outside the window and past S; sums as the paper says: %s\n", bad ? "NO" : "yes");
    at_params_free(params);
    at_ctx_free(ctx);
    return bad;
}
