/*
 * attention_self_attention.c - one sequence attends to itself.
 *
 * 1. Scaled dot-product self-attention with a causal and a padding mask:
 *      Q = x W_Qᵀ, K = x W_Kᵀ, V = x W_Vᵀ     out = softmax(Q Kᵀ/√d + mask) V
 * 2. Structured self-attention (Lin et al. 2017): r = 3 hops over the same
 *    sequence, A = softmax(W_s2 tanh(W_s1 Hᵀ)), M = A H, and the penalty
 *    ‖A Aᵀ − I‖²_F that pushes the hops apart. Training on the penalty alone
 *    shows it fall as the hops stop looking at the same steps.
 * 5 steps; the second sequence has 4 real ones. Exits 1 if a row does not
 * sum to 1, a later or padded step gets weight, or the penalty does not fall.
 *
 *   cc attention_self_attention.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_self_attention: %s: %s\n", at_status_name(s_),              \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, T = 5, D = 6, DK = 4, DA = 8, HOPS = 3, STEPS = 100 };
static const uint8_t keep[B][T] = {{1, 1, 1, 1, 1}, {1, 1, 1, 1, 0}};

/* Print sequence 1's rows of w (B, rows, T) and check all rows: 1 if a row
 * does not sum to 1, or a padded step (or, if causal, a later one) has weight. */
static int show(const float *w, int rows, int causal) {
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < rows; i++) {
            const float *row = w + (b * rows + i) * T;
            float sum = 0;
            if (b == 1) printf("  %d ", i);
            for (int j = 0; j < T; j++) {
                if (b == 1) printf(" %5.3f", row[j]);
                sum += row[j];
                if ((!keep[b][j] || (causal && j > i)) && row[j] != 0.0f) bad = 1;
            }
            if (b == 1) printf("\n");
            if (sum < 0.9999f || sum > 1.0001f) bad = 1;
        }
    return bad;
}

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 31);
    at_self_attention self;
    at_structured_attention lin;
    TRY(at_self_attention_init(ctx, &self, params, "self", D, DK, &rng));
    TRY(at_structured_attention_init(ctx, &lin, params, "lin", D, DA, HOPS, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.05f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    float h[B * T * D];
    for (int i = 0; i < B * T * D; i++)
        h[i] = at_rng_normal(&rng);
    int shape[3] = {B, T, D};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B, .causal = 1};
    at_tensor *x, *out, *w, *m, *a = NULL, *penalty;
    TRY(at_tensor_from(ctx, &x, 3, shape, h));
    TRY(at_self_attention_forward(ctx, &self, x, &mask, &out, &w)); /* out (B, T, DK) */
    printf("causal self-attention, sequence 1 (step 4 is padding), weights (T, T):\n");
    int bad = show(w->data, T, 1);

    at_attn_mask padding = {.keep = &keep[0][0], .rows = B};
    float first = 0, last = 0;
    for (int step = 0; step <= STEPS; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        TRY(at_tensor_from(ctx, &x, 3, shape, h));
        TRY(at_structured_attention_forward(ctx, &lin, x, &padding, &m, &a)); /* M (B, r, D) */
        TRY(at_structured_penalty(ctx, a, &penalty));
        last = penalty->data[0];
        if (step == 0) first = last;
        if (step % 25 == 0) printf("step %3d  penalty ‖AAᵀ − I‖² = %.4f\n", step, last);
        if (step == STEPS) break;
        TRY(at_backward(ctx, penalty));
        TRY(at_optim_step(ctx, adam));
    }
    printf("structured self-attention, sequence 1, A (r, T) after training:\n");
    bad |= show(a->data, HOPS, 0);
    printf("rows sum to 1, later and padded steps get 0, penalty falls: %s\n",
           bad || !(last < 0.5f * first) ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad || !(last < 0.5f * first);
}
