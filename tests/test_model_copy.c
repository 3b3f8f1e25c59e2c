/*
 * test_model_copy.c - at_seq2seq_copy, at_lm_copy and at_classifier_copy:
 * a copy has the original's parameter values bit for bit and the same
 * vocabularies (and classes), and shares nothing with it: changing the
 * original's weights leaves the copy's as they were. A NULL model is
 * refused. (The replicas of at_train_replicas are made this way.)
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* 1 if the two sets hold the same names, sizes and values. */
static int same_values(const at_params *a, const at_params *b) {
    if (at_params_count(a) != at_params_count(b)) return 0;
    for (int i = 0; i < at_params_count(a); i++) {
        const at_tensor *x = at_params_get(a, i), *y = at_params_get(b, i);
        if (x->size != y->size || strcmp(x->name, y->name) || x->data == y->data ||
            memcmp(x->data, y->data, x->size * sizeof(float)))
            return 0;
    }
    return 1;
}

static void check_vocab(at_ctx *ctx, const at_vocab *a, const at_vocab *b, const char *what) {
    char *x = NULL, *y = NULL;
    CHECK_OK(ctx, at_vocab_to_string(ctx, a, &x));
    CHECK_OK(ctx, at_vocab_to_string(ctx, b, &y));
    CHECK(x && y && !strcmp(x, y) && a != b, "%s: the copy's vocabulary differs", what);
    free(x);
    free(y);
}

/* The copy equals the original; after the original's first weight moves,
 * the copy's does not. */
static void check_copy(at_params *original, const at_params *copy, const char *what) {
    CHECK(same_values(original, copy), "%s: the copy's parameters differ", what);
    at_tensor *first = at_params_get(original, 0);
    first->data[0] += 1.0f;
    CHECK(at_params_get(copy, 0)->data[0] != first->data[0], "%s: the copy shares weights", what);
}

/* Trained weights are not the initial ones: a copy made by initialising
 * anew from the same seed would miss this. */
static void nudge(at_params *params) {
    at_tensor *last = at_params_get(params, at_params_count(params) - 1);
    last->data[last->size - 1] += 0.25f;
}

static at_vocab *chars(at_ctx *ctx, const char *text) {
    at_vocab *v = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &v, 1, &text));
    return v;
}

static void test_seq2seq(at_ctx *ctx) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = 8, c.encoder_size = 8, c.decoder_size = 16, c.attn_size = 8;
    c.max_source_len = 20, c.max_target_len = 12;
    at_seq2seq *m = NULL, *copy = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, chars(ctx, "abc 123"), chars(ctx, "0123-")));
    if (!m) return;
    nudge(at_seq2seq_params(m));
    CHECK_OK(ctx, at_seq2seq_copy(ctx, &copy, m));
    if (copy) {
        check_vocab(ctx, at_seq2seq_source_vocab(m), at_seq2seq_source_vocab(copy), "seq2seq");
        check_vocab(ctx, at_seq2seq_target_vocab(m), at_seq2seq_target_vocab(copy), "seq2seq");
        check_copy(at_seq2seq_params(m), at_seq2seq_params(copy), "seq2seq");
    }
    at_seq2seq *none = NULL;
    CHECK(at_seq2seq_copy(ctx, &none, NULL) == AT_ERR_ARGUMENT && !none, "seq2seq_copy(NULL)");
    at_seq2seq_free(copy);
    at_seq2seq_free(m);
}

static void test_lm(at_ctx *ctx) {
    at_lm_config c;
    at_lm_config_default(&c, AT_LM_TRANSFORMER);
    c.layers = 1, c.heads = 2, c.width = 8, c.context = 8;
    at_lm *m = NULL, *copy = NULL;
    CHECK_OK(ctx, at_lm_create(ctx, &m, &c, chars(ctx, "call me ishmael")));
    if (!m) return;
    nudge(at_lm_params(m));
    CHECK_OK(ctx, at_lm_copy(ctx, &copy, m));
    if (copy) {
        check_vocab(ctx, at_lm_vocab(m), at_lm_vocab(copy), "lm");
        check_copy(at_lm_params(m), at_lm_params(copy), "lm");
    }
    at_lm *none = NULL;
    CHECK(at_lm_copy(ctx, &none, NULL) == AT_ERR_ARGUMENT && !none, "lm_copy(NULL)");
    at_lm_free(copy);
    at_lm_free(m);
}

static void test_classifier(at_ctx *ctx) {
    at_class_docs docs = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "spam", "win cash now. click", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "ham", "see you at lunch", NULL, NULL));
    at_classify_config c;
    at_classify_config_default(&c, AT_CLASSIFY_HAN);
    c.embed = 6, c.hidden = 4, c.attn = 6, c.min_count = 1;
    at_classifier *m = NULL, *copy = NULL;
    CHECK_OK(ctx, at_classifier_create(ctx, &m, &c, &docs));
    if (m) {
        nudge(at_classifier_params(m));
        CHECK_OK(ctx, at_classifier_copy(ctx, &copy, m));
        if (copy) {
            check_vocab(ctx, at_classifier_vocab(m), at_classifier_vocab(copy), "classifier");
            CHECK(at_classifier_classes(copy) == 2 &&
                      !strcmp(at_classifier_class_name(copy, 0), "spam") &&
                      !strcmp(at_classifier_class_name(copy, 1), "ham") &&
                      at_classifier_class_name(copy, 0) != at_classifier_class_name(m, 0),
                  "classifier: the copy's classes");
            check_copy(at_classifier_params(m), at_classifier_params(copy), "classifier");
        }
    }
    at_classifier *none = NULL;
    CHECK(at_classifier_copy(ctx, &none, NULL) == AT_ERR_ARGUMENT && !none,
          "classifier_copy(NULL)");
    at_classifier_free(copy);
    at_classifier_free(m);
    at_class_docs_clear(&docs);
}

int main(void) {
    at_ctx *ctx = test_new_ctx();
    test_seq2seq(ctx);
    test_lm(ctx);
    test_classifier(ctx);
    at_ctx_free(ctx);
    return test_finish("model_copy");
}
