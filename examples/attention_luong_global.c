/*
 * attention_luong_global.c - Luong's global attention with its four scores.
 *
 *   a_t(s) = softmax_s(score(h_t, h̄_s))   c_t = Σ_s a_t(s) h̄_s   h̃_t = tanh(W_c [c_t; h_t])
 *   score: dot h_tᵀh̄_s | general h_tᵀW_a h̄_s | concat v_aᵀtanh(W_a[h_t; h̄_s]) | location W_a h_t
 *
 * The same two decoder states attend over the same 5 source states (the
 * second sequence has 3 real ones) with each score in turn. Exits 1 if a
 * row of weights does not sum to 1 or a padded source state gets weight.
 *
 *   cc attention_luong_global.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_luong_global: %s: %s\n", at_status_name(s_),                \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, TQ = 2, TK = 5, D = 4, A = 8, DC = 6 };
static const uint8_t keep[B][TK] = {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}};

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 5);
    at_ctx_set_grad(ctx, 0); /* inference only */

    float hs[B * TK * D], ht[B * TQ * D];
    for (int i = 0; i < B * TK * D; i++)
        hs[i] = at_rng_normal(&rng);
    for (int i = 0; i < B * TQ * D; i++)
        ht[i] = at_rng_normal(&rng);
    int kshape[3] = {B, TK, D}, qshape[3] = {B, TQ, D};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};
    at_tensor *source, *target;
    TRY(at_tensor_from(ctx, &source, 3, kshape, hs)); /* h̄_s (B, Tk, D) */
    TRY(at_tensor_from(ctx, &target, 3, qshape, ht)); /* h_t (B, Tq, D) */

    static const char *names[4] = {"dot", "general", "concat", "location"};
    int bad = 0;
    for (int score = AT_SCORE_DOT; score <= AT_SCORE_LOCATION; score++) {
        at_luong luong; /* attn_size for concat, max_source_len for location */
        TRY(at_luong_init(ctx, &luong, params, names[score], (at_score)score, D, D, A, TK, DC,
                          &rng));
        at_tensor *keys_proj, *context, *weights, *h_tilde;
        TRY(at_luong_project_keys(ctx, &luong, source, &keys_proj)); /* once per sequence */
        TRY(at_luong_attend(ctx, &luong, target, keys_proj, source, &mask, &context, &weights));
        TRY(at_luong_attentional(ctx, &luong, context, target, &h_tilde)); /* (B, Tq, Dc) */
        printf("%-8s  weights of sequence 1 (3 real states); h̃ is (%d, %d, %d)\n", names[score],
               h_tilde->shape[0], h_tilde->shape[1], h_tilde->shape[2]);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < TQ; i++) {
                const float *row = weights->data + (b * TQ + i) * TK;
                float sum = 0;
                if (b == 1) printf("  h_%d ", i);
                for (int s = 0; s < TK; s++) {
                    if (b == 1) printf(" %5.3f", row[s]);
                    sum += row[s];
                    if (!keep[b][s] && row[s] != 0.0f) bad = 1;
                }
                if (b == 1) printf("\n");
                if (sum < 0.9999f || sum > 1.0001f) bad = 1;
            }
    }
    printf("rows sum to 1, padding gets 0: %s\n", bad ? "NO" : "yes");
    at_params_free(params);
    at_ctx_free(ctx);
    return bad;
}
