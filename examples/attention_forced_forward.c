/*
 * attention_forced_forward.c - attention that only moves forward.
 *
 * 1. Monotonic attention (Raffel et al. 2017). p_ij = σ(e_ij) is the chance
 *    of stopping at source j on output step i. Training uses the expected
 *    alignment, computed by the exact recursion
 *      q_ij = (1 − p_{i,j−1}) q_{i,j−1} + α_{i−1,j}    α_ij = p_ij q_ij
 *    whose rows sum to at most 1 (the rest is "never stopped"). Decoding scans
 *    forward from the previous position and stops at the first p_ij >= 0.5.
 * 2. Forward attention (Zhang et al. 2018) on top of a soft distribution y_t:
 *      α̂_t(n) ∝ ((1 − u) α̂_{t−1}(n) + u α̂_{t−1}(n−1)) · y_t(n)
 *    u = 0.9 with a transition agent (move on!); with none, both count fully.
 * 6 source positions (the second sequence has 4), 4 output steps. The
 * monotonic layer is first trained (soft) to stop at given positions, then
 * decodes hard. Exits 1 if its loss does not fall, a monotonic row sums to
 * more than 1, a hard position moves back, forward attention reaches past
 * position t at step t, or padding gets weight.
 *
 *   cc attention_forced_forward.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_forced_forward: %s: %s\n", at_status_name(s_),              \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, TK = 6, TY = 4, D = 4, A = 8, STEPS = 200 };
static const int32_t stop_at[B][TY] = {{0, 1, 3, 4}, {1, 2, 2, 3}}; /* where step i should stop */
static const uint8_t keep[B][TK] = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0}};

/* Check (and if print, print) one row of sequence b: 1 if it breaks a rule:
 * weight on padding or past `reach`, or a sum outside [min_sum, max_sum]. */
static int check(const float *row, int b, float min_sum, float max_sum, int reach, int print) {
    float sum = 0;
    int bad = 0;
    for (int j = 0; j < TK; j++) {
        if (print) printf(" %5.3f", row[j]);
        sum += row[j];
        if ((!keep[b][j] || j > reach || row[j] < 0) && row[j] != 0.0f) bad = 1;
    }
    if (print) printf("   sum %.3f\n", sum);
    return bad || sum < min_sum || sum > max_sum;
}

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 17);
    at_monotonic mono;
    TRY(at_monotonic_init(ctx, &mono, params, "mono", D, D, A, &rng));
    at_optim *adam = NULL;
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.05f};
    TRY(at_optim_create(ctx, &adam, params, &config));

    float h[B * TK * D], s[TY][B * D], e[TY][B * TK], eye[B * TK * TK] = {0},
                                                                   want[TY][B * TK] = {{0}};
    for (int i = 0; i < B * TK * D; i++)
        h[i] = at_rng_normal(&rng);
    for (int t = 0; t < TY; t++) {
        for (int i = 0; i < B * D; i++)
            s[t][i] = at_rng_normal(&rng);
        for (int i = 0; i < B * TK; i++)
            e[t][i] = at_rng_normal(&rng);
        for (int b = 0; b < B; b++)
            want[t][b * TK + stop_at[b][t]] = 1;
    }
    for (int i = 0; i < B * TK; i++)
        eye[i * TK + i % TK] = 1; /* values v_j = one-hot j: c = α */
    int hshape[3] = {B, TK, D}, vshape[3] = {B, TK, TK}, sshape[2] = {B, D}, eshape[2] = {B, TK};
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};
    at_tensor *keys, *values, *keys_proj, *query, *context, *alpha[TY], *target, *diff, *sq, *loss;
    float first = 0, last = 0;
    int bad = 0;
    for (int step = 0; step <= STEPS; step++) {
        at_ctx_reset(ctx);
        at_params_zero_grad(params);
        TRY(at_tensor_from(ctx, &keys, 3, hshape, h));
        TRY(at_tensor_from(ctx, &values, 3, vshape, eye));
        TRY(at_additive_project_keys(ctx, &mono.energy, keys, &keys_proj));
        at_tensor *total = NULL;
        for (int t = 0; t < TY; t++) { /* soft: α_t from α_{t-1}, NULL = δ(0) at the start */
            TRY(at_tensor_from(ctx, &query, 2, sshape, s[t]));
            TRY(at_monotonic_attend(ctx, &mono, query, keys_proj, values, t ? alpha[t - 1] : NULL,
                                    &mask, &context, &alpha[t]));
            TRY(at_tensor_from(ctx, &target, 2, eshape, want[t]));
            TRY(at_sub(ctx, &diff, context, target));
            TRY(at_mul(ctx, &sq, diff, diff));
            TRY(at_mean(ctx, &loss, sq));
            if (total)
                TRY(at_add(ctx, &total, total, loss));
            else
                total = loss;
        }
        last = total->data[0];
        if (step == 0) first = last;
        if (step % 50 == 0) printf("step %3d  loss %.4f\n", step, last);
        if (step == STEPS) break;
        TRY(at_backward(ctx, total));
        TRY(at_optim_step(ctx, adam));
    }
    printf("monotonic, soft (expected alignment) after training, sequence 0:\n");
    for (int t = 0; t < TY; t++) {
        printf("  i=%d", t);
        bad |= check(alpha[t]->data, 0, 0, 1.000001f, TK, 1);
        bad |= check(alpha[t]->data + TK, 1, 0, 1.000001f, TK, 0);
    }
    printf("monotonic, hard (decoding): position per step, - = attends to nothing\n");
    at_ctx_set_grad(ctx, 0);
    int32_t pos[B] = {0, 0}, last_pos[B] = {0, 0};
    for (int t = 0; t < TY; t++) {
        at_tensor *onehot;
        TRY(at_tensor_from(ctx, &query, 2, sshape, s[t]));
        TRY(at_monotonic_attend_hard(ctx, &mono, query, keys_proj, values, &mask, pos, &context,
                                     &onehot));
        for (int b = 0; b < B; b++) {
            float sum = 0;
            for (int j = 0; j < TK; j++)
                sum += onehot->data[b * TK + j];
            printf("  seq %d step %d: %d%s (want %d)", b, t, pos[b], sum == 0 ? " -" : "  ",
                   stop_at[b][t]);
            if (pos[b] < last_pos[b] || !keep[b][pos[b]]) bad = 1;
            last_pos[b] = pos[b];
        }
        printf("\n");
    }
    for (int agent = 0; agent <= 1; agent++) {
        printf("forward attention, %s, sequence 1:\n",
               agent ? "transition agent u = 0.9" : "plain");
        at_tensor *u = NULL, *y, *scores, *prev = NULL;
        float move[B] = {0.9f, 0.9f};
        int ushape[2] = {B, 1};
        if (agent) TRY(at_tensor_from(ctx, &u, 2, ushape, move));
        for (int t = 0; t < TY; t++) { /* prev = NULL: α̂_0 = δ(0) */
            TRY(at_tensor_from(ctx, &scores, 2, eshape, e[t]));
            TRY(at_softmax(ctx, &y, scores, &keep[0][0], B)); /* y_t: plain soft attention */
            TRY(at_forward_attention(ctx, y, prev, u, keys, &mask, &context, &prev));
            printf("  t=%d", t + 1);
            bad |= check(prev->data, 0, 0.9999f, 1.0001f, t + 1, 0);
            bad |= check(prev->data + TK, 1, 0.9999f, 1.0001f, t + 1, 1);
        }
    }
    printf("loss %.4f -> %.4f; monotonic sums <= 1, hard never goes back, forward attention "
           "moves at most one step, padding gets 0: %s\n",
           first, last, bad ? "NO" : "yes");
    at_optim_free(adam);
    at_params_free(params);
    at_ctx_free(ctx);
    return bad || !(last < 0.5f * first);
}
