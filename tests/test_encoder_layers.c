/*
 * test_encoder_layers.c - the seq2seq model's deeper encoder (issue 11):
 * encoder_layers stacked BiLSTMs with dropout between them.
 *
 *   - names: a one-layer model has exactly the parameters, in the order and
 *     shapes, it had before encoder_layers existed; layers 2 and 3 add
 *     encoder.*_l1 and encoder.*_l2 (PyTorch's names; input 2N), no more;
 *   - a checkpoint saved before encoder_layers existed (tests/data, made by
 *     main's `attend train` at 556e219, see below) loads as one layer
 *     without dropout and translates exactly as main's `attend translate`
 *     did, attention included; a 3-layer model with dropout 0.3 round-trips
 *     ("dropout":0.3 in the header, every value the same);
 *   - impossible configurations are refused naming the field;
 *   - gradient checks of the whole loss with 2 and 3 layers (luong and
 *     seed decoders), and with dropout in training mode (masks held fixed);
 *   - where dropout goes: in training mode the annotations equal layer 2
 *     run by hand on at_dropout(layer 1's output) from the same generator
 *     state, so nothing else (the embeddings, the output) is dropped;
 *   - outside training mode dropout does nothing: the loss, the decoding
 *     and the evaluation equal those of the same model without dropout,
 *     bit for bit, every time;
 *   - in training mode the loss changes, is the same for the same context
 *     seed (and 1 or 2 threads), and differs for another seed;
 *   - at_seq2seq_train_step runs its loss in training mode and
 *     at_seq2seq_evaluate and at_seq2seq_translate run out of it, each
 *     restoring the caller's setting;
 *   - the trainer: dropout is on in its steps, and a run with dropout
 *     stopped at step 10 and resumed ends with the same bytes as an
 *     unbroken run (last.*, model.safetensors, metrics.jsonl), with 1 and 2
 *     threads: the masks after the resume are those the unbroken run drew;
 *   - output_dropout, the luong decoder's dropout on h~_t: refused out of
 *     [0, 1) and with the seed decoder; written to the header only when it
 *     is not 0 and read back; gradient checks in training mode; in training
 *     mode it changes the loss but not the encoder's annotations; out of
 *     it the loss and the decoding are those of the model without it.
 *
 * The old checkpoint was made with main's attend (commit 556e219) by
 *   printf 'ab c\txy\ncab\tyxxyx\nb\txyyx\naacb\ty\nca\txxx\nbbbac\tyx\n' > tiny.tsv
 *   attend train --data tiny.tsv --valid tiny.tsv --embed 4 --encoder 4
 *       --decoder-size 8 --attn-size 4 --steps 300 --batch 6 --lr 0.02
 *       --warmup 10 --eval-every 100 --out run
 * and the expected outputs below by `attend translate run/model.safetensors
 * --weights tsv WORD` with the same binary.
 */
#include "testutil.h"

#include "../src/models/models.h" /* s2s_encode, the model's layers */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {"ab c", "cab", "b", "aacb", "ca", "bbbac"};
static const char *const targets[] = {"xy", "yxxyx", "xyyx", "y", "xxx", "yx"};
enum { PAIRS = 6 };

static at_seq2seq_config tiny_config(at_decoder_kind decoder, at_attention_kind attention,
                                     at_cell_kind cell, int layers, float dropout) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.decoder = decoder, c.attention = attention, c.cell = cell;
    c.embed_size = 3, c.encoder_size = 3, c.decoder_size = 6, c.attn_size = 4, c.heads = 2;
    c.encoder_layers = layers, c.dropout = dropout;
    c.max_source_len = 8, c.max_target_len = 8, c.seed = 3;
    return c;
}

static at_seq2seq_config luong_config(int layers, float dropout) {
    return tiny_config(AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_GRU, layers, dropout);
}

static at_seq2seq_config with_output_dropout(at_seq2seq_config c, float q) {
    c.output_dropout = q;
    return c;
}

/* A model of c for the six pairs, or NULL (a failed check) with the status
 * in *status when given. */
static at_seq2seq *try_model(at_ctx *ctx, at_seq2seq_config c, at_status *status) {
    at_vocab *src = NULL, *tgt = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &src, PAIRS, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &tgt, PAIRS, targets));
    at_seq2seq *m = NULL;
    at_status s = at_seq2seq_create(ctx, &m, &c, src, tgt);
    if (status) *status = s;
    return m;
}

static at_seq2seq *tiny_model(at_ctx *ctx, at_seq2seq_config c) {
    at_status s;
    at_seq2seq *m = try_model(ctx, c, &s);
    CHECK(s == AT_OK, "at_seq2seq_create: %s", at_ctx_error(ctx));
    return m;
}

/* The six pairs encoded for m, and one batch of rows 0, 1, 2, 5 (lengths
 * 4, 3, 1, 5: padding on both sides of the longest). */
typedef struct fixture {
    at_pairs pairs;
    at_seq2seq_data data;
    at_seq2seq_batch batch;
} fixture;

static void fixture_make(at_ctx *ctx, const at_seq2seq *m, fixture *f) {
    *f = (fixture){0};
    for (int i = 0; i < PAIRS; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, &f->pairs, sources[i], targets[i]));
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &f->pairs, &f->data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, 4, &f->batch));
    size_t rows[4] = {0, 1, 2, 5};
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, &f->batch, &f->data, rows, 4));
}

static void fixture_clear(fixture *f) {
    at_seq2seq_batch_free(&f->batch);
    at_seq2seq_data_clear(&f->data);
    at_pairs_clear(&f->pairs);
}

/* The model's loss on the fixture's batch, in the context's current mode. */
static float loss_of(at_ctx *ctx, const at_seq2seq *m, const fixture *f) {
    at_ctx_reset(ctx);
    at_tensor *loss = NULL;
    CHECK_OK(ctx, at_seq2seq_loss(ctx, m, &f->batch, &loss));
    return loss ? loss->data[0] : NAN;
}

/* ---------------------------------------------------------------- names */

typedef struct expected_param {
    char name[64];
    int ndim, shape[2];
} expected_param;

/* What main's one-layer luong / GRU / additive model holds, in order,
 * with layers 2 .. L of the encoder inserted after layer 1. */
static int expected_params(const at_seq2seq *m, int layers, expected_param *out) {
    const at_seq2seq_config *c = at_seq2seq_get_config(m);
    int E = c->embed_size, N = c->encoder_size, S = c->decoder_size, A = c->attn_size;
    int Vs = at_vocab_size(at_seq2seq_source_vocab(m));
    int Vt = at_vocab_size(at_seq2seq_target_vocab(m));
    int n = 0;
#define ADD(NDIM, D0, D1, ...)                                                                \
    do {                                                                                      \
        snprintf(out[n].name, sizeof out[n].name, __VA_ARGS__);                               \
        out[n].ndim = (NDIM), out[n].shape[0] = (D0), out[n].shape[1] = (D1);                 \
        n++;                                                                                  \
    } while (0)
    ADD(2, Vs, E, "source_embed.weight");
    for (int l = 0; l < layers; l++)
        for (int reverse = 0; reverse < 2; reverse++) {
            const char *suffix = reverse ? "_reverse" : "";
            ADD(2, 4 * N, l == 0 ? E : 2 * N, "encoder.weight_ih_l%d%s", l, suffix);
            ADD(2, 4 * N, N, "encoder.weight_hh_l%d%s", l, suffix);
            ADD(1, 4 * N, 0, "encoder.bias_ih_l%d%s", l, suffix);
            ADD(1, 4 * N, 0, "encoder.bias_hh_l%d%s", l, suffix);
        }
    ADD(2, Vt, E, "target_embed.weight");
    ADD(2, S, 2 * N, "decoder.init.weight");
    ADD(1, S, 0, "decoder.init.bias");
    ADD(2, 3 * S, E + S, "decoder.cell.weight_ih_l0");
    ADD(2, 3 * S, S, "decoder.cell.weight_hh_l0");
    ADD(1, 3 * S, 0, "decoder.cell.bias_ih_l0");
    ADD(1, 3 * S, 0, "decoder.cell.bias_hh_l0");
    ADD(2, A, S, "attention.W_a");
    ADD(2, A, 2 * N, "attention.U_a");
    ADD(1, A, 0, "attention.b_a");
    ADD(1, A, 0, "attention.v_a");
    ADD(2, S, 2 * N + S, "decoder.W_c.weight");
    ADD(2, Vt, S, "decoder.W_s.weight");
    ADD(1, Vt, 0, "decoder.W_s.bias");
#undef ADD
    return n;
}

static void check_names(int layers) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, luong_config(layers, 0.0f));
    if (!m) {
        at_ctx_free(ctx);
        return;
    }
    expected_param want[64];
    int n = expected_params(m, layers, want);
    const at_params *p = at_seq2seq_params(m);
    CHECK(at_params_count(p) == n, "%d layers: %d parameters, want %d", layers,
          at_params_count(p), n);
    for (int i = 0; i < n && i < at_params_count(p); i++) {
        const at_tensor *t = at_params_get(p, i);
        int same = !strcmp(t->name, want[i].name) && t->ndim == want[i].ndim &&
                   t->shape[0] == want[i].shape[0] &&
                   (t->ndim == 1 || t->shape[1] == want[i].shape[1]);
        CHECK(same, "%d layers: parameter %d is %s (%d, %d), want %s (%d, %d)", layers, i,
              t->name, t->shape[0], t->ndim > 1 ? t->shape[1] : 0, want[i].name,
              want[i].shape[0], want[i].ndim > 1 ? want[i].shape[1] : 0);
    }
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* Layer 1 and the decoder of a 3-layer model are drawn as the one-layer
 * model's layer 1: the deeper layers are drawn after it. */
static void check_layer_one_unchanged(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *one = tiny_model(ctx, luong_config(1, 0.0f));
    at_seq2seq *three = tiny_model(ctx, luong_config(3, 0.0f));
    if (one && three)
        for (int i = 0; i < 9; i++) { /* source_embed and encoder.*_l0* */
            const at_tensor *a = at_params_get(at_seq2seq_params(one), i);
            const at_tensor *b = at_params_get(at_seq2seq_params(three), i);
            CHECK(!strcmp(a->name, b->name) && a->size == b->size, "parameter %d: %s and %s", i,
                  a->name, b->name);
            if (a->size == b->size) check_close(a->name, b->data, a->data, a->size, 0, 0);
        }
    at_seq2seq_free(one);
    at_seq2seq_free(three);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------ bad configurations */

static void check_refused(at_ctx *ctx, at_seq2seq_config c, const char *needle) {
    at_status s;
    at_seq2seq *m = try_model(ctx, c, &s);
    CHECK(s == AT_ERR_ARGUMENT && !m, "%s: at_seq2seq_create gave '%s' (%s)", needle,
          at_status_name(s), at_ctx_error(ctx));
    CHECK(strstr(at_ctx_error(ctx), needle), "the message should say '%s': %s", needle,
          at_ctx_error(ctx));
    at_seq2seq_free(m);
}

static void test_bad_configs(void) {
    at_ctx *ctx = test_new_ctx();
    check_refused(ctx, luong_config(0, 0.0f), "encoder_layers = 0 is outside [1, 8]");
    check_refused(ctx, luong_config(-3, 0.0f), "encoder_layers = -3 is outside [1, 8]");
    check_refused(ctx, luong_config(9, 0.0f), "encoder_layers = 9 is outside [1, 8]");
    check_refused(ctx, luong_config(2, -0.1f), "dropout = -0.1 is outside [0, 1)");
    check_refused(ctx, luong_config(2, 1.0f), "dropout = 1 is outside [0, 1)");
    check_refused(ctx, luong_config(2, NAN), "dropout = nan is outside [0, 1)");
    check_refused(ctx, luong_config(2, INFINITY), "dropout = inf is outside [0, 1)");
    check_refused(ctx, luong_config(1, 0.5f), "dropout = 0.5 needs encoder_layers >= 2");
    check_refused(ctx, with_output_dropout(luong_config(1, 0.0f), -0.1f),
                  "output_dropout = -0.1 is outside [0, 1)");
    check_refused(ctx, with_output_dropout(luong_config(1, 0.0f), 1.0f),
                  "output_dropout = 1 is outside [0, 1)");
    check_refused(ctx, with_output_dropout(luong_config(1, 0.0f), NAN),
                  "output_dropout = nan is outside [0, 1)");
    check_refused(ctx,
                  with_output_dropout(tiny_config(AT_DECODER_SEED, AT_ATTENTION_ADDITIVE,
                                                  AT_CELL_GRU, 1, 0.0f), 0.2f),
                  "output_dropout = 0.2 needs the luong decoder");
    /* the limits themselves are fine */
    at_seq2seq *m = tiny_model(ctx, luong_config(AT_SEQ2SEQ_MAX_ENCODER_LAYERS, 0.999f));
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ----------------------------------------------- checkpoints, old and new */

static void expect_translation(at_ctx *ctx, const at_seq2seq *m, const char *text,
                               const char *want, const float *weights) {
    at_translation tr;
    if (at_seq2seq_translate(ctx, m, text, &tr) != AT_OK) {
        CHECK(0, "translate '%s': %s", text, at_ctx_error(ctx));
        return;
    }
    CHECK(!strcmp(tr.text, want), "'%s' -> '%s', main's attend said '%s'", text, tr.text, want);
    if (weights && !strcmp(tr.text, want)) /* main printed 5 decimals */
        check_close(text, tr.weights, weights, (size_t)tr.target_len * tr.source_len, 6e-6, 0);
    at_translation_clear(&tr);
}

static void test_old_checkpoint(void) {
    at_ctx *ctx = test_new_ctx();
    const char *path = ATTEND_TEST_DATA_DIR "/model_before_encoder_layers.safetensors";
    at_metadata meta = {0};
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_load(ctx, &m, path, &meta));
    const char *json = at_metadata_get(&meta, "attend.model");
    CHECK(json && !strstr(json, "encoder_layers") && !strstr(json, "dropout"),
          "the old file's configuration should lack the new fields: %s", json ? json : "(none)");
    if (m) {
        const at_seq2seq_config *c = at_seq2seq_get_config(m);
        CHECK(c->encoder_layers == 1 && c->dropout == 0.0f,
              "an old file reads as %d layers, dropout %g", c->encoder_layers,
              (double)c->dropout);
        /* what main's attend translate printed for the same file */
        static const char *const words[][2] = {
            {"ab c", "xy"}, {"cab", "yxxyx"}, {"b", "xyyx"},     {"aacb", "y"},  {"ca", "xxx"},
            {"bbbac", "yx"}, {"abc", "xy"},   {"bca", "xy"},     {"baba", "yyx"}, {"a", "xy"}};
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            expect_translation(ctx, m, words[i][0], words[i][1], NULL);
        static const float cbcbc[5 * 5] = {
            0.01016f, 0.04423f, 0.07139f, 0.20813f, 0.66609f, /* x */
            0.20582f, 0.01502f, 0.25833f, 0.01917f, 0.50167f, /* x */
            0.13484f, 0.14817f, 0.19671f, 0.18415f, 0.33614f, /* x */
            0.03129f, 0.21010f, 0.06962f, 0.50651f, 0.18248f, /* y */
            0.07079f, 0.06000f, 0.13839f, 0.11629f, 0.61453f, /* x */
        };
        static const float cc[4 * 2] = {0.57021f, 0.42979f, 0.60313f, 0.39687f,
                                        0.50964f, 0.49036f, 0.48203f, 0.51797f};
        static const float aab[1 * 3] = {0.17704f, 0.35287f, 0.47008f};
        expect_translation(ctx, m, "cbcbc", "xxxyx", cbcbc);
        expect_translation(ctx, m, "cc", "xxxx", cc);
        expect_translation(ctx, m, "aab", "y", aab);
    }
    at_metadata_clear(&meta);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

static void test_round_trip(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, luong_config(3, 0.3f)), *back = NULL;
    const char *path = "test_encoder_layers_model.safetensors";
    at_metadata meta = {0};
    if (m) {
        CHECK_OK(ctx, at_seq2seq_save(ctx, m, path, NULL));
        CHECK_OK(ctx, at_seq2seq_load(ctx, &back, path, &meta));
    }
    const char *json = at_metadata_get(&meta, "attend.model");
    CHECK(json && strstr(json, "\"encoder_layers\":3") && strstr(json, "\"dropout\":0.3") &&
              !strstr(json, "output_dropout"),
          "the configuration should read encoder_layers 3 and dropout 0.3, and no "
          "output_dropout: %s",
          json ? json : "(none)");
    if (back) {
        const at_seq2seq_config *a = at_seq2seq_get_config(m), *b = at_seq2seq_get_config(back);
        CHECK(b->encoder_layers == 3 && b->dropout == a->dropout,
              "loaded %d layers, dropout %.9g (saved 3, %.9g)", b->encoder_layers,
              (double)b->dropout, (double)a->dropout);
        const at_params *pa = at_seq2seq_params(m), *pb = at_seq2seq_params(back);
        CHECK(at_params_count(pa) == at_params_count(pb), "parameter counts differ");
        for (int i = 0; i < at_params_count(pa) && i < at_params_count(pb); i++)
            check_close(at_params_get(pa, i)->name, at_params_get(pb, i)->data,
                        at_params_get(pa, i)->data, at_params_get(pa, i)->size, 0, 0);
    }
    remove(path);
    at_metadata_clear(&meta);
    at_seq2seq_free(back);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ gradients */

typedef struct loss_run {
    at_seq2seq *model;
    at_seq2seq_batch *batch;
    at_rng masks; /* training mode: every build draws the same masks */
} loss_run;

static at_status build_loss(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    (void)inputs;
    loss_run *run = user;
    *at_ctx_rng(ctx) = run->masks;
    return at_seq2seq_loss(ctx, run->model, run->batch, y);
}

static void gradient_case(const char *name, at_seq2seq_config c, int training) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, c);
    if (!m) {
        at_ctx_free(ctx);
        return;
    }
    at_rng rng;
    at_rng_seed(&rng, 11);
    test_jitter_params(at_seq2seq_params(m), &rng, 0.2f);
    fixture f;
    fixture_make(ctx, m, &f);
    at_ctx_set_training(ctx, training);
    loss_run run = {m, &f.batch, *at_ctx_rng(ctx)};
    gc_options opts = {.step = 5e-3, .atol = 3e-3, .rtol = 3e-2, .seed = 5};
    gc_check(name, 0, NULL, at_seq2seq_params(m), build_loss, &run, &opts);
    fixture_clear(&f);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

static void test_gradients(void) {
    gradient_case("luong gru additive, 2 layers", luong_config(2, 0.0f), 0);
    gradient_case("luong lstm general, 3 layers",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_GENERAL, AT_CELL_LSTM, 3, 0.0f), 0);
    gradient_case("seed, 2 layers",
                  tiny_config(AT_DECODER_SEED, AT_ATTENTION_ADDITIVE, AT_CELL_GRU, 2, 0.0f), 0);
    gradient_case("luong gru additive, 3 layers, dropout 0.4 in training",
                  luong_config(3, 0.4f), 1);
    gradient_case("luong lstm additive, output dropout 0.4 in training",
                  with_output_dropout(tiny_config(AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE,
                                                  AT_CELL_LSTM, 2, 0.3f), 0.4f), 1);
}

/* ------------------------------------------------------ where dropout goes */

static void test_dropout_placement(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, luong_config(2, 0.5f));
    if (!m) {
        at_ctx_free(ctx);
        return;
    }
    fixture f;
    fixture_make(ctx, m, &f);
    const at_seq2seq_batch *b = &f.batch;
    size_t n = (size_t)b->batch * b->source_len * 2 * m->config.encoder_size;
    float *by_model = malloc(n * sizeof *by_model), *eval = malloc(n * sizeof *eval);
    enc_out enc;
    dec_state state;
    at_ctx_set_grad(ctx, 0);
    CHECK_OK(ctx, s2s_encode(ctx, m, b, &enc, &state)); /* not training */
    memcpy(eval, enc.annotations->data, n * sizeof *eval);

    at_ctx_set_training(ctx, 1);
    at_rng start = *at_ctx_rng(ctx);
    at_ctx_reset(ctx);
    CHECK_OK(ctx, s2s_encode(ctx, m, b, &enc, &state));
    memcpy(by_model, enc.annotations->data, n * sizeof *by_model);

    /* by hand: embeddings, layer 1, dropout, layer 2, from the same state */
    *at_ctx_rng(ctx) = start;
    at_ctx_reset(ctx);
    at_tensor *x, *h1, *dropped, *h2;
    CHECK_OK(ctx, at_embedding_forward(ctx, &m->source_embed, b->source, 2,
                                       (int[]){b->batch, b->source_len}, &x));
    CHECK_OK(ctx, at_bilstm_forward(ctx, &m->encoder[0], x, b->lengths, &h1, NULL));
    CHECK_OK(ctx, at_dropout(ctx, &dropped, h1, 0.5f));
    CHECK_OK(ctx, at_bilstm_forward(ctx, &m->encoder[1], dropped, b->lengths, &h2, NULL));
    check_close("annotations = layer 2 (dropout (layer 1 (embed)))", by_model, h2->data, n, 0, 0);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += by_model[i] != eval[i];
    CHECK(differ > n / 4, "training mode changed only %zu of %zu annotations", differ, n);
    free(by_model);
    free(eval);
    fixture_clear(&f);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ------------------------------------ evaluation: no dropout, ever */

/* The decodings of two models on f's batch are the same ids (gradients off). */
static void check_same_decoding(at_ctx *ctx, const at_seq2seq *a, const at_seq2seq *b,
                                const fixture *f, const char *what) {
    int Ty = a->config.max_target_len, B = f->batch.batch;
    int32_t *ids_a = malloc((size_t)B * Ty * sizeof(int32_t));
    int32_t *ids_b = malloc((size_t)B * Ty * sizeof(int32_t));
    at_ctx_set_grad(ctx, 0);
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_seq2seq_decode(ctx, a, &f->batch, ids_a, NULL));
    at_ctx_reset(ctx);
    CHECK_OK(ctx, at_seq2seq_decode(ctx, b, &f->batch, ids_b, NULL));
    CHECK(!memcmp(ids_a, ids_b, (size_t)B * Ty * sizeof(int32_t)), "%s", what);
    free(ids_a);
    free(ids_b);
}

static void test_eval_deterministic(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *with = tiny_model(ctx, luong_config(3, 0.5f));
    at_seq2seq *without = tiny_model(ctx, luong_config(3, 0.0f));
    if (!with || !without) goto done;
    fixture f;
    fixture_make(ctx, with, &f);
    float a1 = loss_of(ctx, with, &f), a2 = loss_of(ctx, with, &f), b = loss_of(ctx, without, &f);
    CHECK(a1 == a2 && a1 == b, "out of training mode: losses %.9g, %.9g, without dropout %.9g",
          (double)a1, (double)a2, (double)b);
    check_same_decoding(ctx, with, without, &f,
                        "decoding with dropout 0.5 out of training mode differs from dropout 0");
    at_seq2seq_score sa, sb;
    CHECK_OK(ctx, at_seq2seq_evaluate(ctx, with, &f.data, 4, &sa, NULL));
    CHECK_OK(ctx, at_seq2seq_evaluate(ctx, without, &f.data, 4, &sb, NULL));
    CHECK(!memcmp(&sa, &sb, sizeof sa), "evaluation: %ld/%ld characters with dropout, %ld/%ld "
          "without", sa.chars_correct, sa.chars, sb.chars_correct, sb.chars);
    fixture_clear(&f);
done:
    at_seq2seq_free(with);
    at_seq2seq_free(without);
    at_ctx_free(ctx);
}

/* ------------------------------------- training: dropout on, seeded */

/* The training-mode loss of the 3-layer model with dropout 0.5, in a fresh
 * context of this seed and thread count; *eval the same out of training. */
static float training_loss(uint64_t seed, int threads, float *eval, float *again) {
    at_ctx *ctx = test_new_ctx_with(seed, threads);
    at_seq2seq *m = tiny_model(ctx, luong_config(3, 0.5f));
    float loss = NAN;
    if (m) {
        fixture f;
        fixture_make(ctx, m, &f);
        if (eval) *eval = loss_of(ctx, m, &f);
        at_ctx_set_training(ctx, 1);
        loss = loss_of(ctx, m, &f);
        if (again) *again = loss_of(ctx, m, &f);
        fixture_clear(&f);
    }
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    return loss;
}

static void test_training_loss(void) {
    float eval, again;
    float first = training_loss(5, 1, &eval, &again);
    float same = training_loss(5, 1, NULL, NULL);
    float threads = training_loss(5, 2, NULL, NULL);
    float other = training_loss(6, 1, NULL, NULL);
    printf("  loss out of training %.6f; in training, seed 5: %.6f then %.6f, 2 threads %.6f; "
           "seed 6: %.6f\n",
           (double)eval, (double)first, (double)again, (double)threads, (double)other);
    CHECK(isfinite(first) && first != eval, "dropout did not change the loss (%.9g)",
          (double)first);
    CHECK(first == same, "the same seed gave %.9g and %.9g", (double)first, (double)same);
    CHECK(first == threads, "1 thread %.9g, 2 threads %.9g", (double)first, (double)threads);
    CHECK(first != other, "seeds 5 and 6 gave the same loss %.9g", (double)first);
    CHECK(first != again, "the second step drew the first step's masks (%.9g)", (double)first);
}

/* ------------------------------------------- who switches the mode */

static void test_mode_switches(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, luong_config(3, 0.9f));
    at_seq2seq *copy = tiny_model(ctx, luong_config(3, 0.9f)); /* the same parameters */
    at_optim *opt = NULL;
    at_optim_config sgd = {.kind = AT_SGD, .lr = 0.1f};
    if (!m || !copy) goto done;
    /* large random weights: outputs that depend on every annotation */
    at_rng rng_m, rng_copy;
    at_rng_seed(&rng_m, 4);
    at_rng_seed(&rng_copy, 4);
    test_jitter_params(at_seq2seq_params(m), &rng_m, 3.0f);
    test_jitter_params(at_seq2seq_params(copy), &rng_copy, 3.0f);
    fixture f;
    fixture_make(ctx, m, &f);
    CHECK_OK(ctx, at_optim_create(ctx, &opt, at_seq2seq_params(m), &sgd));

    /* a training step in a context out of training mode still drops */
    at_rng start = *at_ctx_rng(ctx);
    float eval = loss_of(ctx, copy, &f);
    at_ctx_set_training(ctx, 1);
    float want = loss_of(ctx, copy, &f);
    at_ctx_set_training(ctx, 0);
    *at_ctx_rng(ctx) = start;
    float got = NAN;
    if (opt) CHECK_OK(ctx, at_seq2seq_train_step(ctx, m, opt, &f.batch, 0.0f, &got));
    CHECK(got == want && got != eval,
          "train_step's loss %.9g: want the training-mode loss %.9g (not %.9g)", (double)got,
          (double)want, (double)eval);
    CHECK(!at_ctx_training(ctx), "train_step left the context in training mode");

    /* evaluation and translation in a context in training mode do not */
    at_seq2seq_score quiet, busy;
    CHECK_OK(ctx, at_seq2seq_evaluate(ctx, m, &f.data, 4, &quiet, NULL));
    at_translation a, b;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "bbbac", &a));
    at_ctx_set_training(ctx, 1);
    CHECK_OK(ctx, at_seq2seq_evaluate(ctx, m, &f.data, 4, &busy, NULL));
    CHECK(at_ctx_training(ctx), "evaluate did not restore training mode");
    CHECK(!memcmp(&quiet, &busy, sizeof quiet),
          "evaluate in training mode: %ld/%ld characters, out of it %ld/%ld", busy.chars_correct,
          busy.chars, quiet.chars_correct, quiet.chars);
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "bbbac", &b));
    CHECK(at_ctx_training(ctx), "translate did not restore training mode");
    CHECK(a.text && b.text && !strcmp(a.text, b.text) && a.target_len == b.target_len,
          "translate in training mode: '%s', out of it '%s'", b.text, a.text);
    if (a.text && b.text && a.target_len == b.target_len)
        check_close("attention, translate in training mode", b.weights, a.weights,
                    (size_t)a.target_len * a.source_len, 0, 0);
    at_translation_clear(&a);
    at_translation_clear(&b);
    fixture_clear(&f);
done:
    at_optim_free(opt);
    at_seq2seq_free(m);
    at_seq2seq_free(copy);
    at_ctx_free(ctx);
}

/* ------------------------------------------- the trainer, with resume */

typedef struct trainer_run {
    long stop_at;
    volatile sig_atomic_t stop;
} trainer_run;

static void on_progress(void *user, const at_train_progress *p) {
    trainer_run *run = user;
    if (run->stop_at && p->step == run->stop_at) run->stop = 1;
}

/* Train a 2-layer model with `dropout` on the six pairs in a fresh context
 * (seed 11): 24 steps of 3 pairs, evaluations every 6. */
static at_status train(const char *out, float dropout, int threads, long stop_at, int resume,
                       at_train_result *result) {
    at_ctx *ctx = test_new_ctx_with(11, threads);
    at_seq2seq_config c = luong_config(2, dropout);
    c.embed_size = 4, c.encoder_size = 4, c.decoder_size = 8;
    at_seq2seq *m = tiny_model(ctx, c);
    at_pairs pairs = {0};
    for (int i = 0; i < PAIRS; i++) at_pairs_add(ctx, &pairs, sources[i], targets[i]);
    at_seq2seq_task *task = NULL;
    at_status s = m ? at_seq2seq_task_create(ctx, &task, m, &pairs, &pairs, 3) : AT_ERR_STATE;
    trainer_run run = {.stop_at = stop_at};
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out, o.steps = 24, o.batch = 3, o.bucket_pool = 2, o.seed = 3;
    o.optim.lr = 0.02f, o.clip = 1.0f, o.eval_every = 6, o.resume = resume;
    o.data_id = "six pairs", o.stop = &run.stop, o.progress = on_progress;
    o.progress_user = &run;
    if (s == AT_OK) s = at_train(ctx, at_seq2seq_task_trainable(task), &o, result);
    if (s != AT_OK) fprintf(stderr, "  (train %s: %s)\n", out, at_ctx_error(ctx));
    at_seq2seq_task_free(task);
    at_pairs_clear(&pairs);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    return s;
}

/* The loss of the first line of OUT/metrics.jsonl (step 1). */
static double first_loss(const char *dir) {
    char *text = test_metrics_without_timings(dir);
    double loss = NAN;
    if (!text || sscanf(text, "{\"step\": 1, \"loss\": %lf", &loss) != 1)
        CHECK(0, "%s/metrics.jsonl does not start with step 1", dir);
    free(text);
    return loss;
}

static void test_trainer_resume(int threads) {
    char whole[32], half[32], plain[32];
    snprintf(whole, sizeof whole, "whole%d", threads);
    snprintf(half, sizeof half, "half%d", threads);
    snprintf(plain, sizeof plain, "plain%d", threads);
    at_train_result r;
    CHECK(train(whole, 0.3f, threads, 0, 0, &r) == AT_OK && r.steps == 24, "24 steps");
    CHECK(train(plain, 0.0f, threads, 0, 0, &r) == AT_OK, "24 steps without dropout");
    double with = first_loss(whole), without = first_loss(plain);
    CHECK(with != without, "the trainer's first step has the same loss %.6g with dropout 0.3 "
          "and without: dropout was off", with);
    CHECK(train(half, 0.3f, threads, 10, 0, &r) == AT_OK && r.stopped && r.steps == 10,
          "stop at step 10");
    CHECK(train(half, 0.3f, threads, 0, 1, &r) == AT_OK && r.steps == 24 && !r.stopped,
          "resume 10 -> 24");
    char what[64];
    snprintf(what, sizeof what, "dropout 0.3, %d thread(s): stop at 10 + resume", threads);
    test_check_same_run(whole, half, what);
}

/* ------------------------------------- the decoder's output dropout */

static void test_output_dropout_round_trip(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, with_output_dropout(luong_config(2, 0.3f), 0.25f));
    at_seq2seq *back = NULL;
    const char *path = "test_output_dropout_model.safetensors";
    at_metadata meta = {0};
    if (m) {
        CHECK_OK(ctx, at_seq2seq_save(ctx, m, path, NULL));
        CHECK_OK(ctx, at_seq2seq_load(ctx, &back, path, &meta));
    }
    const char *json = at_metadata_get(&meta, "attend.model");
    CHECK(json && strstr(json, "\"output_dropout\":0.25"),
          "the configuration should read output_dropout 0.25: %s", json ? json : "(none)");
    if (back)
        CHECK(at_seq2seq_get_config(back)->output_dropout == 0.25f,
              "loaded output_dropout %.9g, saved 0.25",
              (double)at_seq2seq_get_config(back)->output_dropout);
    remove(path);
    at_metadata_clear(&meta);
    at_seq2seq_free(back);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* In training mode the loss moves and the annotations do not (q drops in
 * the decoder only); out of it, the model is the one without q. */
static void test_output_dropout_modes(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *with = tiny_model(ctx, with_output_dropout(luong_config(1, 0.0f), 0.5f));
    at_seq2seq *without = tiny_model(ctx, luong_config(1, 0.0f));
    if (!with || !without) goto done;
    fixture f;
    fixture_make(ctx, with, &f);
    float eval_with = loss_of(ctx, with, &f), eval_without = loss_of(ctx, without, &f);
    CHECK(eval_with == eval_without, "out of training mode: loss %.9g with q = 0.5, %.9g without",
          (double)eval_with, (double)eval_without);
    check_same_decoding(ctx, with, without, &f,
                        "decoding with output dropout 0.5 out of training mode differs from q = 0");
    size_t n = (size_t)f.batch.batch * f.batch.source_len * 2 * with->config.encoder_size;
    float *eval = malloc(n * sizeof *eval);
    enc_out enc;
    dec_state state;
    at_ctx_reset(ctx);
    CHECK_OK(ctx, s2s_encode(ctx, with, &f.batch, &enc, &state));
    memcpy(eval, enc.annotations->data, n * sizeof *eval);
    at_ctx_set_training(ctx, 1);
    at_ctx_reset(ctx);
    CHECK_OK(ctx, s2s_encode(ctx, with, &f.batch, &enc, &state));
    check_close("annotations in training mode with output dropout only", enc.annotations->data,
                eval, n, 0, 0);
    float training = loss_of(ctx, with, &f);
    CHECK(isfinite(training) && training != eval_with,
          "output dropout 0.5 did not change the training-mode loss (%.9g)", (double)training);
    at_ctx_set_training(ctx, 0);
    free(eval);
    fixture_clear(&f);
done:
    at_seq2seq_free(with);
    at_seq2seq_free(without);
    at_ctx_free(ctx);
}

int main(void) {
    check_names(1);
    check_names(2);
    check_names(3);
    check_layer_one_unchanged();
    test_bad_configs();
    test_old_checkpoint();
    char dir[] = "encoder_layers_XXXXXX";
    test_enter_scratch_dir(dir);
    test_round_trip();
    test_gradients();
    test_dropout_placement();
    test_eval_deterministic();
    test_training_loss();
    test_mode_switches();
    test_output_dropout_round_trip();
    test_output_dropout_modes();
    test_trainer_resume(1);
    test_trainer_resume(2);
    test_leave_scratch_dir(dir);
    return test_finish("encoder_layers");
}
