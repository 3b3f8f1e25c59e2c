/*
 * attention_key_value.c - key-value(-predict) attention (Daniluk et al. 2017).
 *
 * An LSTM's output at each step is cut in three: a key k_t (used only to
 * score), a value v_t (only to build the context), and a predict part p_t
 * (only to predict). Step t looks back at the previous L = 3 steps:
 *   M_t = tanh(W_Y [k_{t−L} … k_{t−1}] + (W_h k_t) 1ᵀ)   α_t = softmax(wᵀ M_t)
 *   r_t = [v_{t−L} … v_{t−1}] α_tᵀ                       h*_t = tanh(W_r r_t + W_x p_t)
 * 6 steps; the second sequence has 5 real ones. Exits 1 if step 0 sees
 * anything, a weight falls outside its window or on padding, or a row with
 * something to see does not sum to 1.
 *
 *   cc attention_key_value.c $(pkg-config --cflags --libs attend) && ./a.out
 */
#include <attend.h>

#include <stdio.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) {                                                                         \
            fprintf(stderr, "attention_key_value: %s: %s\n", at_status_name(s_),                   \
                    at_ctx_error(ctx));                                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { B = 2, T = 6, IN = 5, K = 4, OUT = 4, A = 8, L = 3 };
static const int32_t lengths[B] = {6, 5};
static const uint8_t keep[B][T] = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0}};

int main(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    at_params *params = NULL;
    TRY(at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 37);
    at_ctx_set_grad(ctx, 0);
    at_lstm lstm; /* outputs 3K per step: [key; value; predict] */
    at_key_value kv;
    TRY(at_lstm_init(ctx, &lstm, params, "lstm", IN, 3 * K, 0, &rng));
    TRY(at_key_value_init(ctx, &kv, params, "kv", K, K, K, OUT, A, L, &rng));

    float input[B * T * IN];
    for (int i = 0; i < B * T * IN; i++)
        input[i] = at_rng_normal(&rng);
    int shape[3] = {B, T, IN}, sizes[3] = {K, K, K};
    at_tensor *x, *h, *parts[3], *out, *w;
    TRY(at_tensor_from(ctx, &x, 3, shape, input));
    TRY(at_lstm_forward(ctx, &lstm, x, lengths, NULL, NULL, &h, NULL, NULL)); /* (B, T, 3K) */
    TRY(at_split(ctx, parts, h, 2, 3, sizes)); /* keys, values, predict: (B, T, K) each */
    at_attn_mask mask = {.keep = &keep[0][0], .rows = B};
    TRY(at_key_value_forward(ctx, &kv, parts[0], parts[1], parts[2], &mask, &out, &w));

    int bad = 0;
    printf("sequence 1 (step 5 is padding), weights (T, T): row t looks at t-%d .. t-1\n", L);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *row = w->data + (b * T + t) * T;
            float sum = 0;
            int visible = 0;
            if (b == 1) printf("  t=%d", t);
            for (int j = 0; j < T; j++) {
                int inside = j >= t - L && j < t && keep[b][j];
                if (b == 1) printf(" %5.3f", row[j]);
                sum += row[j];
                visible += inside;
                if (!inside && row[j] != 0.0f) bad = 1;
            }
            if (b == 1) printf("   sum %.3f\n", sum);
            if (visible ? (sum < 0.9999f || sum > 1.0001f) : sum != 0.0f) bad = 1;
        }
    printf("out h* is (%d, %d, %d); windows respected, rows sum to 1, step 0 sees nothing: %s\n",
           out->shape[0], out->shape[1], out->shape[2], bad ? "NO" : "yes");
    at_params_free(params);
    at_ctx_free(ctx);
    return bad;
}
