/*
 * test_beam.c - beam search (src/models/beam.c):
 *   - width 1 gives exactly greedy decoding's ids and attention, for both
 *     decoders and every attention family, on a padded batch;
 *   - a hand-built model whose best output is known (a Markov chain over
 *     output units where the greedy choice is a trap) is decoded to that
 *     output, found independently by scoring every output with the loss;
 *   - the score returned is the sum of the log-probabilities of the chosen
 *     output, which teacher forcing (the loss) confirms;
 *   - the attention returned is the chosen hypothesis's: each row is a
 *     distribution over the real source units;
 *   - bad widths and penalties are refused.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {"ab c", "cab", "b", "aacb", "ca", "bbbac"};
static const char *const targets[] = {"xy", "yxxyx", "xyyx", "y", "xxx", "yx"};
enum { PAIRS = 6 };
#ifndef JITTER
#define JITTER 0.3f
#endif
#ifndef TRAIN_STEPS
#define TRAIN_STEPS 60
#endif

/* A few Adam steps on the pairs, so that outputs are made of output units
 * and end with END, as a trained model's do. */
static void half_trained(at_ctx *ctx, at_seq2seq *m) {
    at_pairs pairs = {0};
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    at_optim *opt = NULL;
    at_optim_config adam = {.kind = AT_ADAM, .lr = 0.02f};
    int grad = at_ctx_set_grad(ctx, 1);
    for (int i = 0; i < PAIRS; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, &pairs, sources[i], targets[i]));
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, &data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, PAIRS, &batch));
    CHECK_OK(ctx, at_optim_create(ctx, &opt, at_seq2seq_params(m), &adam));
    size_t rows[PAIRS] = {0, 1, 2, 3, 4, 5};
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, &batch, &data, rows, PAIRS));
    for (int step = 0; step < TRAIN_STEPS; step++) {
        float loss;
        CHECK_OK(ctx, at_seq2seq_train_step(ctx, m, opt, &batch, 1.0f, &loss));
    }
    at_ctx_set_grad(ctx, grad);
    at_ctx_reset(ctx);
    at_optim_free(opt);
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    at_pairs_clear(&pairs);
}

static at_seq2seq *random_model(at_ctx *ctx, at_decoder_kind decoder, at_attention_kind attention) {
    at_vocab *src = NULL, *tgt = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &src, PAIRS, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &tgt, PAIRS, targets));
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.decoder = decoder, c.attention = attention, c.cell = AT_CELL_LSTM;
    c.embed_size = 3, c.encoder_size = 3, c.decoder_size = 6, c.attn_size = 4, c.heads = 2;
    c.window = 2, c.seed = 3, c.max_source_len = 8, c.max_target_len = 7;
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, src, tgt));
    if (!m) return NULL;
    half_trained(ctx, m);
    at_rng rng; /* then moved off the learnt values a little: varied outputs */
    at_rng_seed(&rng, 17 + (uint64_t)attention);
    test_jitter_params(at_seq2seq_params(m), &rng, JITTER);
    return m;
}

/* A batch of every source (padded), filled from data. */
static void all_sources(at_ctx *ctx, const at_seq2seq *m, at_seq2seq_data *data,
                        at_seq2seq_batch *batch) {
    at_pairs pairs = {0};
    for (int i = 0; i < PAIRS; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, &pairs, sources[i], targets[i]));
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, PAIRS, batch));
    size_t rows[PAIRS] = {0, 1, 2, 3, 4, 5};
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, batch, data, rows, PAIRS));
    at_pairs_clear(&pairs);
}

/* ------------------------------------------------- width 1 = greedy */

static void width_one_is_greedy(at_decoder_kind decoder, at_attention_kind attention) {
    const char *name = decoder == AT_DECODER_SEED ? "seed" : at_attention_kind_name(attention);
    at_ctx *ctx = test_new_ctx();
    at_ctx_set_grad(ctx, 0);
    at_seq2seq *m = random_model(ctx, decoder, attention);
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    if (!m) goto done;
    all_sources(ctx, m, &data, &batch);
    int Ty = at_seq2seq_get_config(m)->max_target_len, H = at_seq2seq_heads(m);
    size_t n_ids = (size_t)PAIRS * Ty, n_w = n_ids * H * batch.source_len;
    int32_t *greedy = calloc(n_ids, sizeof *greedy), *beamed = calloc(n_ids, sizeof *beamed);
    float *w_greedy = calloc(n_w, sizeof *w_greedy), *w_beam = calloc(n_w, sizeof *w_beam);
    at_beam_options o;
    at_beam_options_default(&o);
    CHECK(o.width == 1, "default width %d, expected 1", o.width);
    CHECK_OK(ctx, at_seq2seq_decode(ctx, m, &batch, greedy, w_greedy));
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_seq2seq_beam_search(ctx, m, &batch, &o, beamed, w_beam, NULL));
    size_t wrong = 0, first = n_ids;
    for (size_t i = 0; i < n_ids; i++)
        if (greedy[i] != beamed[i]) wrong++, first = first < i ? first : i;
    CHECK(wrong == 0, "%s: width 1 differs from greedy in %zu of %zu ids, first at row %zu step "
          "%zu: greedy %d, beam %d", name, wrong, n_ids, first / Ty, first % Ty,
          greedy[first % n_ids], beamed[first % n_ids]);
    /* Greedy keeps writing a finished row's attention while other rows go
     * on; compare each row up to its END. */
    for (int b = 0; b < PAIRS; b++) {
        int end = 0;
        while (end < Ty - 1 && greedy[(size_t)b * Ty + end] != AT_TOKEN_END)
            end++;
        for (int h = 0; h < H; h++) {
            size_t at = (((size_t)b * H + h) * Ty) * batch.source_len;
            check_close(name, w_beam + at, w_greedy + at, (size_t)(end + 1) * batch.source_len,
                        0.0, 0.0);
        }
    }
    int distinct = 0; /* the check means something only if the outputs vary */
    for (int b = 1; b < PAIRS; b++)
        distinct += memcmp(greedy, greedy + (size_t)b * Ty, Ty * sizeof *greedy) != 0;
    CHECK(distinct > 0, "%s: every source decoded to the same output", name);
    free(greedy), free(beamed), free(w_greedy), free(w_beam);
done:
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ------------------------------------------ the sum of log-probabilities */

/* -log p(target | source) by teacher forcing: the mean loss times units. */
static double teacher_forced_nll(at_ctx *ctx, const at_seq2seq *m, const char *source,
                                 const char *target) {
    at_pairs pairs = {0};
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    double nll = NAN;
    CHECK_OK(ctx, at_pairs_add(ctx, &pairs, source, target));
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, &data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, 1, &batch));
    size_t row = 0;
    at_tensor *loss = NULL;
    at_ctx_reset(ctx);
    if (at_seq2seq_batch_fill(ctx, &batch, &data, &row, 1) == AT_OK &&
        at_seq2seq_loss(ctx, m, &batch, &loss) == AT_OK)
        nll = (double)loss->data[0] * (data.target_len[0] + 1);
    else
        CHECK(0, "teacher forcing %s -> %s: %s", source, target, at_ctx_error(ctx));
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    at_pairs_clear(&pairs);
    return nll;
}

static void scores_are_log_probabilities(at_attention_kind attention, int width, float alpha) {
    at_ctx *ctx = test_new_ctx();
    at_ctx_set_grad(ctx, 0);
    at_seq2seq *m = random_model(ctx, AT_DECODER_LUONG, attention);
    if (!m) goto done;
    at_beam_options o = {.width = width, .length_penalty = alpha};
    int checked = 0;
    for (int i = 0; i < PAIRS; i++) {
        at_translation tr;
        CHECK_OK(ctx, at_seq2seq_translate_beam(ctx, m, sources[i], &o, &tr));
        int ended = tr.target_len < at_seq2seq_get_config(m)->max_target_len;
        if (ended && tr.target_len > 0) { /* the loss needs END and a non-empty target */
            double nll = teacher_forced_nll(ctx, m, sources[i], tr.text);
            CHECK(fabs(nll + tr.score) <= 1e-4 + 1e-4 * fabs(nll),
                  "%s width %d: '%s' -> '%s' score %.6f, teacher forcing gives log p = %.6f",
                  at_attention_kind_name(attention), width, sources[i], tr.text,
                  (double)tr.score, -nll);
            checked++;
        }
        /* Each attention row is a distribution over the source's units
         * (local-p's is one times a Gaussian: its rows sum to less). */
        int local = attention == AT_ATTENTION_LOCAL_P;
        for (int t = 0; t < tr.target_len && !local; t++) {
            double sum = 0.0;
            for (int s = 0; s < tr.source_len; s++)
                sum += tr.weights[(size_t)t * tr.source_len + s];
            CHECK(fabs(sum - 1.0) < 1e-4, "%s width %d: '%s' attention row %d sums to %.6f",
                  at_attention_kind_name(attention), width, sources[i], t, sum);
        }
        at_translation_clear(&tr);
    }
    CHECK(checked >= 3, "only %d outputs ended with END: the check did not run", checked);
done:
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* --------------------------------------------- a model with a known best */

/* Output units x, y, z (ids 4, 5, 6; PAD UNK START END are 0..3). The
 * model is built so that the logits depend on the previous unit only: a
 * Markov chain p(next | prev) given by the table below. Greedy takes x
 * (0.5) and then the best after x (END, 0.26): p = 0.13. The best output
 * is y END: 0.4 * 0.9 = 0.36. */
static const double chain[7][7] = {
    /* next:   PAD   UNK   START  END   x     y     z */
    [2] = {1e-9, 1e-9, 1e-9, 1e-9, 0.50, 0.40, 0.10}, /* after START */
    [4] = {1e-9, 1e-9, 1e-9, 0.26, 0.25, 0.25, 0.24}, /* after x     */
    [5] = {1e-9, 1e-9, 1e-9, 0.90, 0.04, 0.03, 0.03}, /* after y     */
    [6] = {1e-9, 1e-9, 1e-9, 0.97, 0.01, 0.01, 0.01}, /* after z     */
};

static void set_param(at_seq2seq *m, const char *name, int row, int col, float value) {
    at_tensor *p = at_params_find(at_seq2seq_params(m), name);
    CHECK(p != NULL, "no parameter %s", name);
    if (!p) return;
    int cols = p->ndim > 1 ? p->shape[1] : 1;
    p->data[(size_t)row * cols + col] = value;
}

/* GRU luong decoder with S = E = V = 7 and every parameter zero, then:
 * embed(prev) = one-hot; n = tanh(3 one-hot(prev)), z = σ(-30) ≈ 0 so
 * s_t = n; h̃ = tanh(3 s_t) (the context's columns of W_c stay 0);
 * logits = W_s h̃ with W_s[v][prev] = log p(v | prev) / h̃[prev]. */
static at_seq2seq *markov_model(at_ctx *ctx) {
    const char *src[] = {"a"}, *tgt[] = {"xyz"};
    at_vocab *sv = NULL, *tv = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &sv, 1, src));
    CHECK_OK(ctx, at_vocab_build(ctx, &tv, 1, tgt));
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.decoder = AT_DECODER_LUONG, c.attention = AT_ATTENTION_ADDITIVE, c.cell = AT_CELL_GRU;
    c.embed_size = 7, c.encoder_size = 2, c.decoder_size = 7, c.attn_size = 2;
    c.max_source_len = 4, c.max_target_len = 6;
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, sv, tv));
    if (!m) return NULL;
    CHECK(at_vocab_size(tv) == 7, "target vocabulary of %d, expected 7", at_vocab_size(tv));
    at_params *p = at_seq2seq_params(m);
    for (int i = 0; i < at_params_count(p); i++) {
        at_tensor *t = at_params_get(p, i);
        memset(t->data, 0, t->size * sizeof(float));
    }
    int S = 7, C = 2 * c.encoder_size; /* W_c reads [c (C); h (S)] */
    float h_tilde = tanhf(3.0f * tanhf(3.0f));
    for (int u = 0; u < 7; u++) {
        set_param(m, "target_embed.weight", u, u, 1.0f);
        set_param(m, "decoder.cell.weight_ih_l0", 2 * S + u, u, 3.0f); /* n */
        set_param(m, "decoder.cell.bias_ih_l0", S + u, 0, -30.0f);      /* z */
        set_param(m, "decoder.W_c.weight", u, C + u, 3.0f);
        for (int v = 0; v < 7; v++)
            if (chain[u][v] > 0.0)
                set_param(m, "decoder.W_s.weight", v, u, (float)(log(chain[u][v]) / h_tilde));
    }
    return m;
}

/* Every output of up to 4 units over x, y, z, scored by the loss. */
static void best_by_enumeration(at_ctx *ctx, const at_seq2seq *m, char *best, double *best_nll) {
    *best_nll = INFINITY;
    char out[5];
    for (int len = 1; len <= 4; len++) {
        int count = 1;
        for (int i = 0; i < len; i++)
            count *= 3;
        for (int code = 0; code < count; code++) {
            for (int i = 0, c = code; i < len; i++, c /= 3)
                out[i] = (char)('x' + c % 3);
            out[len] = '\0';
            double nll = teacher_forced_nll(ctx, m, "a", out);
            if (nll < *best_nll) *best_nll = nll, strcpy(best, out);
        }
    }
}

static void known_best_output(void) {
    at_ctx *ctx = test_new_ctx();
    at_ctx_set_grad(ctx, 0);
    at_seq2seq *m = markov_model(ctx);
    if (!m) goto done;
    char best[5] = "";
    double best_nll;
    best_by_enumeration(ctx, m, best, &best_nll);
    CHECK(strcmp(best, "y") == 0, "enumeration found '%s' (log p %.4f), the chain's best is 'y'",
          best, -best_nll);
    at_translation greedy, wide;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "a", &greedy));
    at_beam_options o = {.width = 2, .length_penalty = 0.0f};
    CHECK_OK(ctx, at_seq2seq_translate_beam(ctx, m, "a", &o, &wide));
    CHECK(greedy.text && strcmp(greedy.text, "x") == 0,
          "greedy gave '%s', expected the trap 'x'", greedy.text ? greedy.text : "(null)");
    CHECK(wide.text && strcmp(wide.text, best) == 0, "width 2 gave '%s', the best output is '%s'",
          wide.text ? wide.text : "(null)", best);
    CHECK(fabs(wide.score + best_nll) < 1e-4, "width 2 score %.6f, the best's log p %.6f",
          (double)wide.score, -best_nll);
    CHECK(wide.score > greedy.score, "beam score %.4f not above greedy %.4f", (double)wide.score,
          (double)greedy.score);
    at_translation_clear(&greedy);
    at_translation_clear(&wide);
done:
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ bad input */

static void bad_options(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = random_model(ctx, AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE);
    if (!m) goto done;
    at_translation tr;
    at_beam_options bad[] = {{0, 1.0f}, {-3, 1.0f}, {AT_BEAM_MAX_WIDTH + 1, 1.0f},
                             {2, -1.0f}, {2, NAN}, {2, 5.0f}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(ctx, at_seq2seq_translate_beam(ctx, m, "cab", &bad[i], &tr), AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "beam search") != NULL, "message '%s'", at_ctx_error(ctx));
    }
    at_beam_options wide = {AT_BEAM_MAX_WIDTH, 1.0f};
    CHECK_OK(ctx, at_seq2seq_translate_beam(ctx, m, "cab", &wide, &tr));
    at_translation_clear(&tr);
done:
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

int main(void) {
    width_one_is_greedy(AT_DECODER_SEED, AT_ATTENTION_ADDITIVE);
    for (int a = 0; a < AT_ATTENTION_KINDS; a++)
        width_one_is_greedy(AT_DECODER_LUONG, (at_attention_kind)a);
    scores_are_log_probabilities(AT_ATTENTION_ADDITIVE, 3, 1.0f);
    scores_are_log_probabilities(AT_ATTENTION_GENERAL, 5, 0.0f);
    scores_are_log_probabilities(AT_ATTENTION_FORWARD, 4, 0.6f);
    scores_are_log_probabilities(AT_ATTENTION_LOCAL_P, 2, 1.0f);
    scores_are_log_probabilities(AT_ATTENTION_MULTI_HEAD, 3, 1.0f);
    known_best_output();
    bad_options();
    return test_finish("beam");
}
