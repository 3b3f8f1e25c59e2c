/*
 * test_config_json.c - the three configurations' JSON forms (seq2seq,
 * language model, classifier) read and written by the one set of readers
 * of src/io/config_json.c, so one rule gives one message in each.
 *
 * Each configuration is written, then read back equal; its text is the
 * exact JSON expected (key order, the shortest dropout text). Then the
 * written text is changed one field at a time and each change is refused
 * with AT_ERR_FORMAT and the message expected: not an object, an unknown
 * field (its name cut at 64 bytes), a word not in the list (the list named
 * in full), an integer that is a float or outside its range (the value as
 * written), a seed outside [0, 2^32), a dropout not a number or outside
 * [0, 1), and a value the configuration's own check refuses (its message
 * kept behind the configuration's name). Optional fields (seq2seq's
 * encoder_layers and dropout) keep their default when absent.
 */
#include "testutil.h"

#include "../src/classify/classifier.h"
#include "../src/lm/lm.h"
#include "../src/models/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* text with the first `from` replaced by `to` (malloc'd); NULL and a
 * failed check when `from` is not there. */
static char *replaced(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    CHECK(at != NULL, "'%s' is not in %s", from, text);
    if (!at) return NULL;
    size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    if (!out) return NULL;
    snprintf(out, n, "%.*s%s%s", (int)head, text, to, at + strlen(from));
    return out;
}

typedef at_status (*write_fn)(at_ctx *ctx, const void *config, char **out);
typedef at_status (*read_fn)(at_ctx *ctx, const char *text, void *config);

static at_status write_classifier(at_ctx *ctx, const void *config, char **out) {
    return cls_config_to_json(ctx, config, out);
}
static at_status read_classifier(at_ctx *ctx, const char *text, void *config) {
    return cls_config_from_json(ctx, text, config);
}
static at_status write_lm(at_ctx *ctx, const void *config, char **out) {
    return lm_config_to_json(ctx, config, out);
}
static at_status read_lm(at_ctx *ctx, const char *text, void *config) {
    return lm_config_from_json(ctx, text, config);
}
static at_status write_s2s(at_ctx *ctx, const void *config, char **out) {
    return s2s_config_to_json(ctx, config, out);
}
static at_status read_s2s(at_ctx *ctx, const char *text, void *config) {
    return s2s_config_from_json(ctx, text, config);
}

/* How one configuration is written and read. */
typedef struct config_form {
    const char *what;
    write_fn write;
    read_fn read;
} config_form;

/* config written is the text want, and read back (into back) the same;
 * returns the text (malloc'd) or NULL. */
static char *check_round_trip(at_ctx *ctx, const config_form *form, const void *config, void *back,
                              const char *want) {
    char *text = NULL;
    CHECK_OK(ctx, form->write(ctx, config, &text));
    if (!text) return NULL;
    CHECK(!strcmp(text, want), "%s JSON\n    %s\n  want\n    %s", form->what, text, want);
    /* read back, it is written again as the same text (comparing the
     * structs would compare their padding too) */
    CHECK_OK(ctx, form->read(ctx, text, back));
    char *again = NULL;
    CHECK_OK(ctx, form->write(ctx, back, &again));
    CHECK(again && !strcmp(again, want), "the %s configuration did not come back: %s", form->what,
          again ? again : "(nothing)");
    free(again);
    return text;
}

/* A change of the written text (from -> to) is refused with `message`. */
typedef struct refusal {
    const char *from, *to, *message;
} refusal;

static void expect_refusals(at_ctx *ctx, const config_form *form, const char *text, void *config,
                            const refusal *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char *bad = replaced(text, cases[i].from, cases[i].to);
        if (!bad) continue;
        at_status s = form->read(ctx, bad, config);
        CHECK(s == AT_ERR_FORMAT && strcmp(at_ctx_error(ctx), cases[i].message) == 0,
              "%s, %s -> %s: status %d, message\n    %s\n  want\n    %s", form->what, cases[i].from,
              cases[i].to, (int)s, at_ctx_error(ctx), cases[i].message);
        free(bad);
    }
}

#define KEY_64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LONG_KEY KEY_64 "_and_more"

static void test_classifier(void) {
    at_ctx *ctx = test_new_ctx();
    at_classify_config c, back;
    at_classify_config_default(&c, AT_CLASSIFY_HAN);
    c.seed = 4000000000u;
    const config_form form = {"classifier", write_classifier, read_classifier};
    const char *want = "{\"kind\":\"han\",\"word_form\":\"context\",\"sentence_form\":\"context\","
                       "\"embed\":100,\"hidden\":50,\"attn\":100,\"max_sentences\":30,"
                       "\"max_words\":40,\"min_count\":2,\"max_vocab\":30000,\"dropout\":0.2,"
                       "\"seed\":4000000000}";
    char *text = check_round_trip(ctx, &form, &c, &back, want);
    static const refusal cases[] = {
        {"{", "[",
         "classifier configuration is not a JSON object (array value separator ',' expected)"},
        {"\"seed\"", "\"" LONG_KEY "\":1,\"seed\"",
         "classifier configuration: unknown field '" KEY_64 "'"},
        {"\"han\"", "\"cnn\"", "classifier configuration: kind 'cnn' is not han or flat"},
        {"\"word_form\":\"context\"", "\"word_form\":2",
         "classifier configuration: no string 'word_form'"},
        {"\"hidden\":50", "\"hidden\":50.0", "classifier configuration: no integer 'hidden'"},
        {"\"hidden\":50", "\"hidden\":99999999999",
         "classifier configuration: 'hidden' = 99999999999 is outside [1, 1024]"},
        {"\"max_words\":40,", "", "classifier configuration: no integer 'max_words'"},
        {"\"seed\":4000000000", "\"seed\":4294967296",
         "classifier configuration: 'seed' = 4294967296 is outside [0, 4294967295]"},
        {"\"seed\":4000000000", "\"seed\":-1",
         "classifier configuration: 'seed' = -1 is outside [0, 4294967295]"},
        {"\"dropout\":0.2", "\"dropout\":\"0.2\"", "classifier configuration: no number 'dropout'"},
        {"\"dropout\":0.2", "\"dropout\":5",
         "classifier configuration: 'dropout' = 5 is outside [0, 1)"},
        {"\"dropout\":0.2", "\"dropout\":0.95",
         "classifier configuration: classifier: dropout 0.95 is outside [0, 0.9)"},
    };
    if (text) expect_refusals(ctx, &form, text, &back, cases, sizeof cases / sizeof cases[0]);
    free(text);
    at_ctx_free(ctx);
}

static void test_lm(void) {
    at_ctx *ctx = test_new_ctx();
    at_lm_config c, back;
    at_lm_config_default(&c, AT_LM_KV);
    c.dropout = 0.3f;
    const config_form form = {"language model", write_lm, read_lm};
    const char *want = "{\"kind\":\"kv\",\"context\":100,\"layers\":1,\"heads\":1,\"width\":128,"
                       "\"embed\":64,\"memory\":5,\"dropout\":0.3,\"seed\":1}";
    char *text = check_round_trip(ctx, &form, &c, &back, want);
    static const refusal cases[] = {
        {"\"kv\"", "\"gru\"",
         "language model configuration: kind 'gru' is not transformer, lstm, attention, kv, "
         "kvp or ngram"},
        {"\"memory\":5", "\"memory\":5,\"memory\":5",
         "language model configuration is not a JSON object (the key 'memory' appears twice in "
         "one object)"},
        {"\"width\":128", "\"width\":2147483648",
         "language model configuration: 'width' = 2147483648 is outside [-2147483648, "
         "2147483647]"},
        {"\"dropout\":0.3", "\"dropout\":NaN",
         "language model configuration: 'dropout' = NaN is outside [0, 1)"},
        {"\"memory\":5", "\"memory\":0",
         "language model configuration: language model: memory 0 is outside [1, 4096]"},
    };
    if (text) expect_refusals(ctx, &form, text, &back, cases, sizeof cases / sizeof cases[0]);
    free(text);
    at_ctx_free(ctx);
}

static void test_seq2seq(void) {
    at_ctx *ctx = test_new_ctx();
    at_seq2seq_config c, back;
    at_seq2seq_config_default(&c);
    c.max_source_len = 20, c.max_target_len = 12;
    const config_form form = {"seq2seq", write_s2s, read_s2s};
    const char *want = "{\"decoder\":\"luong\",\"attention\":\"additive\",\"cell\":\"gru\","
                       "\"seed_teacher_forcing\":1,\"seed_output_from_previous_state\":0,"
                       "\"embed_size\":32,\"encoder_size\":64,\"encoder_layers\":1,"
                       "\"decoder_size\":128,\"attn_size\":64,\"heads\":4,\"window\":8,"
                       "\"max_source_len\":20,\"max_target_len\":12,\"seed\":1,\"dropout\":0}";
    char *text = check_round_trip(ctx, &form, &c, &back, want);
    if (!text) goto done;
    /* the two optional fields absent: their defaults */
    char *old = replaced(text, "\"encoder_layers\":1,", "");
    char *older = old ? replaced(old, ",\"dropout\":0", "") : NULL;
    if (older) {
        memset(&back, 0x55, sizeof back);
        CHECK_OK(ctx, s2s_config_from_json(ctx, older, &back));
        CHECK(back.encoder_layers == 1 && back.dropout == 0.0f,
              "absent fields: encoder_layers %d dropout %g (want 1, 0)", back.encoder_layers,
              (double)back.dropout);
    }
    free(older);
    free(old);
    static const refusal cases[] = {
        {"\"luong\"", "\"bahdanau\"",
         "model configuration: decoder 'bahdanau' is not seed or luong"},
        {"\"heads\":4", "\"heads\":4.5", "model configuration: no integer 'heads'"},
        {"\"window\":8,", "", "model configuration: no integer 'window'"},
        {"\"seed\":1", "\"seed\":99999999999",
         "model configuration: 'seed' = 99999999999 is outside [0, 4294967295]"},
        {"\"dropout\":0", "\"dropout\":1", "model configuration: 'dropout' = 1 is outside [0, 1)"},
        {"\"encoder_layers\":1", "\"encoder_layers\":9",
         "model configuration: seq2seq config: encoder_layers = 9 is outside [1, 8]"},
    };
    expect_refusals(ctx, &form, text, &back, cases, sizeof cases / sizeof cases[0]);
done:
    free(text);
    at_ctx_free(ctx);
}

int main(void) {
    test_classifier();
    test_lm();
    test_seq2seq();
    return test_finish("config_json");
}
