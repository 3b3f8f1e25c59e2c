/*
 * test_seq2seq.c - the seq2seq model of src/models: its loss has the right
 * gradient for both decoders and several attention families, a saved model
 * loads back and gives the same outputs, bad text is refused with an error,
 * the output length does not follow the input length, and a handful of
 * pairs is learnt to 100% exact match in a few hundred steps.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outputs shorter and longer than their inputs. */
static const char *const sources[] = {"ab c", "cab", "b", "aacb", "ca", "bbbac"};
static const char *const targets[] = {"xy", "yxxyx", "xyyx", "y", "xxx", "yx"};
enum { PAIRS = 6 };

static at_seq2seq *tiny_model(at_ctx *ctx, at_seq2seq_config c) {
    at_vocab *src = NULL, *tgt = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &src, PAIRS, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &tgt, PAIRS, targets));
    c.max_source_len = 8;
    c.max_target_len = 8;
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, src, tgt));
    return m;
}

static at_seq2seq_config tiny_config(at_decoder_kind decoder, at_attention_kind attention,
                                     at_cell_kind cell) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.decoder = decoder, c.attention = attention, c.cell = cell;
    c.embed_size = 3, c.encoder_size = 3, c.decoder_size = 6, c.attn_size = 4, c.heads = 2;
    c.window = 2, c.seed = 3;
    return c;
}

static void fill_pairs(at_ctx *ctx, at_pairs *p) {
    for (int i = 0; i < PAIRS; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, p, sources[i], targets[i]));
}

/* ---------------------------------------------------------- gradients */

typedef struct loss_run {
    at_seq2seq *model;
    at_seq2seq_batch *batch;
} loss_run;

static at_status build_loss(at_ctx *ctx, at_tensor *const *inputs, void *user, at_tensor **y) {
    (void)inputs;
    loss_run *run = user;
    return at_seq2seq_loss(ctx, run->model, run->batch, y);
}

static void gradient_case(const char *name, at_seq2seq_config c) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = tiny_model(ctx, c);
    at_pairs pairs = {0};
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    fill_pairs(ctx, &pairs);
    if (!m) goto done;
    at_rng rng;
    at_rng_seed(&rng, 11);
    test_jitter_params(at_seq2seq_params(m), &rng, 0.2f);
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, &data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, 4, &batch));
    size_t rows[4] = {0, 1, 2, 5}; /* lengths 4, 3, 1, 5: padding on both sides */
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, &batch, &data, rows, 4));
    loss_run run = {m, &batch};
    gc_options opts = {.step = 5e-3, .atol = 3e-3, .rtol = 3e-2, .seed = 5};
    gc_check(name, 0, NULL, at_seq2seq_params(m), build_loss, &run, &opts);
done:
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    at_pairs_clear(&pairs);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

static void test_gradients(void) {
    at_seq2seq_config c = tiny_config(AT_DECODER_SEED, AT_ATTENTION_ADDITIVE, AT_CELL_GRU);
    gradient_case("seed, teacher forcing", c);
    c.seed_teacher_forcing = 0, c.seed_output_from_previous_state = 1;
    gradient_case("seed, own softmax, s_{t-1}", c);
    gradient_case("luong gru additive",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_GRU));
    gradient_case("luong lstm general",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_GENERAL, AT_CELL_LSTM));
    gradient_case("luong gru dot", tiny_config(AT_DECODER_LUONG, AT_ATTENTION_DOT, AT_CELL_GRU));
    gradient_case("luong gru multi-head",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_MULTI_HEAD, AT_CELL_GRU));
    gradient_case("luong gru forward",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_FORWARD, AT_CELL_GRU));
    gradient_case("luong gru monotonic",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_MONOTONIC, AT_CELL_GRU));
    gradient_case("luong gru location",
                  tiny_config(AT_DECODER_LUONG, AT_ATTENTION_LOCATION, AT_CELL_GRU));
}

/* ------------------------------------------------- overfit, round trip */

/* Train on the six pairs until every one is exact (or give up). */
static long overfit(at_ctx *ctx, at_seq2seq *m, at_seq2seq_data *data, at_seq2seq_score *sc) {
    at_seq2seq_batch batch;
    at_optim *opt = NULL;
    at_optim_config adam = {.kind = AT_ADAM, .lr = 0.02f};
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, PAIRS, &batch));
    CHECK_OK(ctx, at_optim_create(ctx, &opt, at_seq2seq_params(m), &adam));
    size_t rows[PAIRS] = {0, 1, 2, 3, 4, 5};
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, &batch, data, rows, PAIRS));
    long step = 0;
    for (; step < 400; step++) {
        float loss;
        if (at_seq2seq_train_step(ctx, m, opt, &batch, 1.0f, &loss) != AT_OK) break;
        if (step % 20 == 19) {
            CHECK_OK(ctx, at_seq2seq_evaluate(ctx, m, data, 4, sc, NULL));
            if (sc->exact == PAIRS) break;
        }
    }
    at_optim_free(opt);
    at_seq2seq_batch_free(&batch);
    return step;
}

static void same_translation(at_ctx *ctx, const at_seq2seq *a, const at_seq2seq *b,
                             const char *text) {
    at_translation ta, tb;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, a, text, &ta));
    CHECK_OK(ctx, at_seq2seq_translate(ctx, b, text, &tb));
    CHECK(ta.text && tb.text && !strcmp(ta.text, tb.text), "'%s': %s before saving, %s after", text,
          ta.text, tb.text);
    CHECK(ta.target_len == tb.target_len && ta.source_len == tb.source_len, "shapes differ");
    if (ta.target_len == tb.target_len && ta.source_len == tb.source_len)
        check_close("weights after load", tb.weights, ta.weights,
                    (size_t)ta.heads * ta.target_len * ta.source_len, 0, 0);
    at_translation_clear(&ta);
    at_translation_clear(&tb);
}

static void test_overfit_and_round_trip(at_seq2seq_config c, const char *name) {
    at_ctx *ctx = test_new_ctx();
    c.embed_size = 8, c.encoder_size = 16, c.decoder_size = 32, c.attn_size = 16;
    at_seq2seq *m = tiny_model(ctx, c), *back = NULL;
    at_pairs pairs = {0};
    at_seq2seq_data data = {0};
    at_seq2seq_score sc = {0};
    fill_pairs(ctx, &pairs);
    if (!m) goto done;
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, &data));
    long steps = overfit(ctx, m, &data, &sc);
    CHECK(sc.exact == PAIRS, "%s: overfit reached %ld/%d exact in %ld steps", name, sc.exact, PAIRS,
          steps);
    /* output length differs from input length: "b" -> "xyyx" */
    at_translation tr;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "b", &tr));
    CHECK(tr.text && !strcmp(tr.text, "xyyx") && tr.target_len == 4 && tr.source_len == 1,
          "%s: 'b' -> '%s' (%d x %d)", name, tr.text, tr.target_len, tr.source_len);
    at_translation_clear(&tr);

    const char *path = "test_seq2seq_model.safetensors";
    at_metadata extra = {0}, meta = {0};
    CHECK_OK(ctx, at_metadata_set(ctx, &extra, "note", "round trip"));
    CHECK_OK(ctx, at_seq2seq_save(ctx, m, path, &extra));
    CHECK_OK(ctx, at_seq2seq_load(ctx, &back, path, &meta));
    const char *note = at_metadata_get(&meta, "note");
    CHECK(note && !strcmp(note, "round trip"), "extra metadata lost");
    if (back)
        for (int i = 0; i < PAIRS; i++)
            same_translation(ctx, m, back, sources[i]);
    at_metadata_clear(&extra);
    at_metadata_clear(&meta);
    remove(path);
done:
    at_seq2seq_free(back);
    at_seq2seq_data_clear(&data);
    at_pairs_clear(&pairs);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m =
        tiny_model(ctx, tiny_config(AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_GRU));
    at_translation tr;
    if (!m) goto done;
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, "", &tr), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "empty"), "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, "a\xff", &tr), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "UTF-8"), "message: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, "abcabcabc", &tr), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "too long"), "message: %s", at_ctx_error(ctx));
    /* unseen characters become UNK and still translate */
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "zé!", &tr));
    CHECK(tr.text != NULL && tr.source_len == 3, "unseen characters did not translate");
    at_translation_clear(&tr);
    at_seq2seq *none = NULL;
    CHECK(at_seq2seq_load(ctx, &none, "no/such/model.safetensors", NULL) == AT_ERR_IO, "missing");
    CHECK(none == NULL, "a model from a missing file");
    FILE *f = fopen("test_seq2seq_junk.safetensors", "wb");
    if (f) fputs("not a model at all", f), fclose(f);
    CHECK(at_seq2seq_load(ctx, &none, "test_seq2seq_junk.safetensors", NULL) == AT_ERR_FORMAT,
          "junk: %s", at_ctx_error(ctx));
    remove("test_seq2seq_junk.safetensors");
    at_seq2seq_config bad = tiny_config(AT_DECODER_LUONG, AT_ATTENTION_DOT, AT_CELL_GRU);
    bad.decoder_size = 5; /* dot needs 2 x encoder */
    at_vocab *v1 = NULL, *v2 = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &v1, PAIRS, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &v2, PAIRS, targets));
    bad.max_source_len = bad.max_target_len = 8;
    CHECK_STATUS(ctx, at_seq2seq_create(ctx, &none, &bad, v1, v2), AT_ERR_ARGUMENT);
done:
    at_seq2seq_free(m);
    at_ctx_free(ctx);
}

int main(void) {
    test_gradients();
    test_bad_input();
    test_overfit_and_round_trip(tiny_config(AT_DECODER_LUONG, AT_ATTENTION_ADDITIVE, AT_CELL_GRU),
                                "luong additive");
    test_overfit_and_round_trip(tiny_config(AT_DECODER_SEED, AT_ATTENTION_ADDITIVE, AT_CELL_GRU),
                                "seed");
    test_overfit_and_round_trip(
        tiny_config(AT_DECODER_LUONG, AT_ATTENTION_MULTI_HEAD, AT_CELL_LSTM), "luong multi-head");
    return test_finish("seq2seq");
}
