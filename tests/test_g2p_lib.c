/*
 * test_g2p_lib.c - the library pieces `attend g2p` stands on:
 *   - at_seq2seq_evaluate_references decodes each run of equal sources once
 *     and scores it against all of the run's targets: its outputs, in the
 *     items' order, equal at_seq2seq_translate's for every batch size (the
 *     items are decoded in length order and put back), and its WER and PER
 *     equal at_wer_add fed by hand; beam search goes through too;
 *   - the seq2seq task reports "wer" and "per" when asked;
 *   - at_vocab_fold brings text to a vocabulary's alphabet by case, in any
 *     script, and refuses what it cannot bring, by name.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Words and their pronunciations; ab and ba have two each, on consecutive
 * lines, and "ab" comes back later as a new item. */
static const char *const words[] = {"ab", "ab", "b", "abba", "ba", "ba", "aab", "ab"};
static const char *const phones[] = {"X Y", "X Z", "Y", "X Y Y X", "Y X", "Z X", "X X Y", "X Y"};
enum { PAIRS = 8, ITEMS = 6 };

static at_seq2seq *trained_model(at_ctx *ctx, at_pairs *pairs) {
    for (int i = 0; i < PAIRS; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, pairs, words[i], phones[i]));
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = 4, c.encoder_size = 6, c.decoder_size = 12, c.attn_size = 6, c.seed = 2;
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create_for_pairs(ctx, &m, &c, pairs, pairs, AT_VOCAB_CHARS,
                                              AT_VOCAB_TOKENS));
    if (!m) return NULL;
    at_seq2seq_data data = {0};
    at_seq2seq_batch batch = {0};
    at_optim *opt = NULL;
    at_optim_config adam = {.kind = AT_ADAM, .lr = 0.02f};
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, pairs, &data));
    CHECK_OK(ctx, at_seq2seq_batch_init(ctx, m, PAIRS, &batch));
    CHECK_OK(ctx, at_optim_create(ctx, &opt, at_seq2seq_params(m), &adam));
    size_t rows[PAIRS] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_OK(ctx, at_seq2seq_batch_fill(ctx, &batch, &data, rows, PAIRS));
    for (int step = 0; step < 60; step++) {
        float loss;
        CHECK_OK(ctx, at_seq2seq_train_step(ctx, m, opt, &batch, 1.0f, &loss));
    }
    at_optim_free(opt);
    at_seq2seq_batch_free(&batch);
    at_seq2seq_data_clear(&data);
    return m;
}

/* The expected score, item by item, from at_seq2seq_translate_beam. */
static void expected(at_ctx *ctx, const at_seq2seq *m, const at_pairs *p,
                     const at_beam_options *beam, char **outputs, at_wer *score) {
    *score = (at_wer){0};
    int item = 0;
    for (size_t i = 0; i < p->count;) {
        size_t j = i + 1;
        while (j < p->count && !strcmp(p->source[j], p->source[i]))
            j++;
        at_translation tr;
        CHECK_OK(ctx, at_seq2seq_translate_beam(ctx, m, p->source[i], beam, &tr));
        outputs[item] = tr.text ? strdup(tr.text) : strdup("");
        CHECK_OK(ctx, at_wer_add(ctx, score, outputs[item],
                                 (const char *const *)p->target + i, (int)(j - i)));
        at_translation_clear(&tr);
        item++, i = j;
    }
    CHECK(item == ITEMS, "%d items, expected %d", item, ITEMS);
}

static void references_case(at_ctx *ctx, const at_seq2seq *m, const at_pairs *p, int batch,
                            int width) {
    at_beam_options beam = {.width = width, .length_penalty = 1.0f};
    char *want[ITEMS] = {0}, *got[ITEMS] = {0};
    at_wer want_score, got_score;
    expected(ctx, m, p, &beam, want, &want_score);
    CHECK_OK(ctx, at_seq2seq_evaluate_references(ctx, m, p, &beam, batch, &got_score, got));
    for (int i = 0; i < ITEMS; i++)
        CHECK(got[i] && want[i] && !strcmp(got[i], want[i]),
              "batch %d width %d: item %d output '%s', translate gives '%s'", batch, width, i,
              got[i] ? got[i] : "(null)", want[i] ? want[i] : "(null)");
    CHECK(got_score.words == ITEMS && got_score.words_wrong == want_score.words_wrong &&
              got_score.edits == want_score.edits &&
              got_score.reference_units == want_score.reference_units,
          "batch %d width %d: words %ld wrong %ld edits %ld units %ld; by hand %ld %ld %ld %ld",
          batch, width, got_score.words, got_score.words_wrong, got_score.edits,
          got_score.reference_units, want_score.words, want_score.words_wrong, want_score.edits,
          want_score.reference_units);
    for (int i = 0; i < ITEMS; i++)
        free(want[i]), free(got[i]);
}

static void test_references(void) {
    at_ctx *ctx = test_new_ctx();
    at_pairs p = {0};
    at_seq2seq *m = trained_model(ctx, &p);
    CHECK(at_pairs_count_sources(&p) == ITEMS, "%zu items, expected %d",
          at_pairs_count_sources(&p), ITEMS);
    if (m) {
        for (int batch = 1; batch <= 7; batch += 3)
            references_case(ctx, m, &p, batch, 1);
        references_case(ctx, m, &p, 4, 3);
        /* an empty source cannot be scored; the message names it */
        at_pairs bad = {0};
        CHECK_OK(ctx, at_pairs_add(ctx, &bad, "ab", "X"));
        CHECK_OK(ctx, at_pairs_add(ctx, &bad, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "X"));
        at_wer w;
        CHECK_STATUS(ctx, at_seq2seq_evaluate_references(ctx, m, &bad, NULL, 4, &w, NULL),
                     AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "source 2") != NULL, "message: %s", at_ctx_error(ctx));
        at_pairs_clear(&bad);
        /* the task's word metrics */
        at_seq2seq_task *task = NULL;
        CHECK_OK(ctx, at_seq2seq_task_create(ctx, &task, m, &p, &p, 4));
        if (task) {
            at_seq2seq_task_set_metrics(task, AT_TASK_WORD_ERRORS);
            const at_trainable *t = at_seq2seq_task_trainable(task);
            at_metrics metrics = {0};
            CHECK_OK(ctx, t->evaluate(ctx, t->self, &metrics));
            double wer = -1, per = -1;
            char *out[ITEMS] = {0};
            at_wer want;
            expected(ctx, m, &p, NULL, out, &want);
            CHECK(at_metrics_get(&metrics, "wer", &wer) && at_metrics_get(&metrics, "per", &per),
                  "the task reported no wer/per");
            CHECK(wer == at_wer_rate(&want) && per == at_per_rate(&want),
                  "task wer %g per %g, by hand %g %g", wer, per, at_wer_rate(&want),
                  at_per_rate(&want));
            for (int i = 0; i < ITEMS; i++)
                free(out[i]);
            at_seq2seq_task_free(task);
        }
    }
    at_seq2seq_free(m);
    at_pairs_clear(&p);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------------ fold */

static void fold_case(at_ctx *ctx, const at_vocab *v, const char *text, const char *want) {
    char *out = NULL;
    at_status s = at_vocab_fold(ctx, v, text, &out);
    CHECK(s == AT_OK && out && !strcmp(out, want), "fold '%s': %s '%s', expected '%s'", text,
          at_status_name(s), out ? out : at_ctx_error(ctx), want);
    free(out);
}

static void fold_refused(at_ctx *ctx, const at_vocab *v, const char *text, const char *word) {
    char *out = (char *)"untouched";
    CHECK_STATUS(ctx, at_vocab_fold(ctx, v, text, &out), AT_ERR_ARGUMENT);
    CHECK(out == NULL, "fold of '%s' failed but left an output", text);
    CHECK(strstr(at_ctx_error(ctx), word) != NULL, "fold '%s': no '%s' in '%s'", text, word,
          at_ctx_error(ctx));
}

static void test_fold(void) {
    at_ctx *ctx = test_new_ctx();
    const char *upper[] = {"KNIGHT'S", "DÉJÀ", "XYLOPHONE", "QUEUE", "ABRA", "NAVE"};
    const char *greek[] = {"αβγ"};
    at_vocab *v = NULL, *g = NULL, *tokens = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &v, 6, upper));
    CHECK_OK(ctx, at_vocab_build(ctx, &g, 1, greek));
    CHECK_OK(ctx, at_vocab_build_kind(ctx, &tokens, AT_VOCAB_TOKENS, 6, upper));
    if (v && g && tokens) {
        fold_case(ctx, v, "knight's", "KNIGHT'S");
        fold_case(ctx, v, "Queue", "QUEUE");
        fold_case(ctx, v, "déjà", "DÉJÀ");
        fold_case(ctx, g, "ΑΒΓ", "αβγ"); /* the other way: a lower-case alphabet */
        fold_refused(ctx, v, "r2d2", "U+0032");
        fold_refused(ctx, v, "naïve", "U+00EF");
        fold_refused(ctx, v, "ab\x01", "U+0001");
        fold_refused(ctx, v, "caf\xe9", "UTF-8");
        fold_refused(ctx, tokens, "KNIGHT", "tokens");
        char *long_text = malloc(70001);
        memset(long_text, 'a', 70000);
        long_text[70000] = '\0';
        fold_refused(ctx, v, long_text, "too long");
        free(long_text);
    }
    at_vocab_free(v);
    at_vocab_free(g);
    at_vocab_free(tokens);
    at_ctx_free(ctx);
}

/* at_pairs_thin keeps every k-th source whole, spread over the set. */
static void test_thin(void) {
    at_ctx *ctx = test_new_ctx();
    at_pairs p = {0};
    char word[16];
    for (int w = 0; w < 100; w++) { /* words 0..99, every third with two pairs */
        snprintf(word, sizeof word, "W%03d", w);
        CHECK_OK(ctx, at_pairs_add(ctx, &p, word, "A"));
        if (w % 3 == 0) CHECK_OK(ctx, at_pairs_add(ctx, &p, word, "B"));
    }
    size_t before = p.count; /* 134 */
    CHECK_OK(ctx, at_pairs_thin(ctx, &p, before)); /* n >= count/2: all kept */
    CHECK(p.count == before, "thin to %zu kept %zu", before, p.count);
    CHECK_OK(ctx, at_pairs_thin(ctx, &p, 30)); /* k = 134 / 30 = 4: words 0, 4, 8, ... */
    CHECK(at_pairs_count_sources(&p) == 25, "%zu words kept, expected 25",
          at_pairs_count_sources(&p));
    CHECK(p.count >= 30 && p.count <= 60, "%zu pairs kept for 30", p.count);
    CHECK(p.count > 0 && !strcmp(p.source[0], "W000") && !strcmp(p.source[p.count - 1], "W096"),
          "first and last kept: %s .. %s", p.count ? p.source[0] : "",
          p.count ? p.source[p.count - 1] : "");
    CHECK(test_pairs_grouped(&p) == NULL, "a kept word lost a pronunciation's neighbour");
    at_pairs_clear(&p);
    at_ctx_free(ctx);
}

int main(void) {
    test_thin();
    test_references();
    test_fold();
    return test_finish("g2p_lib");
}
