/*
 * attention_multiplicative.c - dot, scaled dot and general (bilinear) scores,
 * the causal rule when Tq != Tk, and the fused kernel's linear memory.
 *
 *   dot qᵀk   scaled dot qᵀk/√d   general qᵀW k      α = softmax(score + mask)   c = α V
 *
 * 1. Two queries over 5 keys (the second sequence has 3 real keys), each score.
 * 2. causal = 1 with 2 queries and 5 keys: query i sees keys j <= i + (Tk − Tq).
 * 3. Tq = Tk = 2048: with weights == NULL the kernel keeps no (Tq, Tk) matrix.
 * Exits 1 if a row does not sum to 1, a dropped key gets weight, the two
 * contexts of part 3 differ, or part 3 without weights is not far smaller.
 *
 *   cc attention_multiplicative.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_multiplicative: %s: %s\n", at_status_name(s_),              \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, TQ = 2, TK = 5, D = 4, LONG = 2048, DL = 32 };
static const uint8_t keep[B][TK] = {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}};
static float big[3][LONG * DL];

/* Print sequence `shown`'s rows of w (B, Tq, Tk); check every row: 1 if a
 * row does not sum to 1 or a dropped key (padding, or later than the causal
 * rule allows) has weight. */
static int show(const char *name, const at_tensor *w, int shown, int padded, int causal) {
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < TQ; i++) {
            const float *row = w->data + (b * TQ + i) * TK;
            float sum = 0;
            if (b == shown) printf("  %-8s q%d", i ? "" : name, i);
            for (int j = 0; j < TK; j++) {
                if (b == shown) printf(" %5.3f", row[j]);
                sum += row[j];
                int dropped = (padded && !keep[b][j]) || (causal && j > i + (TK - TQ));
                if (dropped && row[j] != 0.0f) bad = 1;
            }
            if (b == shown) printf("\n");
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
    at_rng_seed(&rng, 23);
    at_ctx_set_grad(ctx, 0);
    float q[B * TQ * D], k[B * TK * D];
    for (int i = 0; i < B * TQ * D; i++)
        q[i] = 2 * at_rng_normal(&rng);
    for (int i = 0; i < B * TK * D; i++)
        k[i] = at_rng_normal(&rng);
    int qshape[3] = {B, TQ, D}, kshape[3] = {B, TK, D};
    at_tensor *queries, *keys, *context, *w, *keys_proj;
    TRY(at_tensor_from(ctx, &queries, 3, qshape, q));
    TRY(at_tensor_from(ctx, &keys, 3, kshape, k));

    int bad = 0;
    at_attn_mask padding = {.keep = &keep[0][0], .rows = B}, causal = {.causal = 1};
    printf("sequence 1 (keys 3 and 4 are padding):\n");
    TRY(at_dot_attention(ctx, queries, keys, keys, 1.0f, &padding, &context, &w)); /* qᵀk */
    bad |= show("dot", w, 1, 1, 0);
    TRY(at_dot_attention(ctx, queries, keys, keys, 0.0f, &padding, &context, &w)); /* /√d */
    bad |= show("scaled", w, 1, 1, 0);
    at_bilinear general;
    TRY(at_bilinear_init(ctx, &general, params, "general", D, D, &rng));
    TRY(at_bilinear_project_keys(ctx, &general, keys, &keys_proj)); /* k Wᵀ, once */
    TRY(at_bilinear_attend(ctx, &general, queries, keys_proj, keys, &padding, &context, &w));
    bad |= show("general", w, 1, 1, 0);
    printf("causal, Tq = %d, Tk = %d, sequence 0:\n", TQ, TK);
    TRY(at_dot_attention(ctx, queries, keys, keys, 0.0f, &causal, &context, &w));
    bad |= show("causal", w, 0, 0, 1);

    for (int i = 0; i < 3 * LONG * DL; i++)
        big[i / (LONG * DL)][i % (LONG * DL)] = at_rng_normal(&rng);
    int lshape[3] = {1, LONG, DL};
    at_tensor *lq, *lk, *lv, *c1, *c2, *lw;
    TRY(at_tensor_from(ctx, &lq, 3, lshape, big[0]));
    TRY(at_tensor_from(ctx, &lk, 3, lshape, big[1]));
    TRY(at_tensor_from(ctx, &lv, 3, lshape, big[2]));
    size_t before = at_ctx_arena_used(ctx);
    TRY(at_dot_attention(ctx, lq, lk, lv, 0.0f, NULL, &c1, NULL));
    size_t without = at_ctx_arena_used(ctx) - before;
    before = at_ctx_arena_used(ctx);
    TRY(at_dot_attention(ctx, lq, lk, lv, 0.0f, NULL, &c2, &lw));
    size_t with = at_ctx_arena_used(ctx) - before;
    float diff = 0;
    for (size_t i = 0; i < c1->size; i++) {
        float e = c1->data[i] - c2->data[i];
        diff = e > diff ? e : (-e > diff ? -e : diff);
    }
    printf("T = %d: arena used %zu KiB without weights, %zu KiB with; contexts differ by %.1e\n",
           LONG, without / 1024, with / 1024, diff);
    if (diff > 1e-5f || without * 8 > with) bad = 1;
    printf("rows sum to 1, dropped keys get 0, memory linear without weights: %s\n",
           bad ? "NO" : "yes");
    at_params_free(params);
    at_ctx_free(ctx);
    return bad;
}
