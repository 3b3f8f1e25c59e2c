/*
 * config.c - a classifier's configuration: the names of the kinds and
 * static forms, the defaults, the checks, and the JSON a checkpoint keeps
 * in "attend.classify".
 *
 * The JSON is read strictly, with the readers every configuration uses
 * (src/io/config_json.c): every field present, nothing unknown, each value
 * of its type and in range, so a checkpoint written by another program
 * cannot half-load.
 */
#include "classifier.h"

#include "../io/config_json.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND_NAMES[2] = {"han", "flat"};
static const char *const FORM_NAMES[2] = {"context", "feature"};

const char *at_classify_kind_name(at_classify_kind kind) {
    return (unsigned)kind < 2 ? KIND_NAMES[kind] : NULL;
}

const char *at_static_form_name(at_static_form form) {
    return (unsigned)form < 2 ? FORM_NAMES[form] : NULL;
}

static int find_name(const char *const *names, const char *name) {
    for (int k = 0; k < 2; k++)
        if (name && strcmp(name, names[k]) == 0) return k;
    return -1;
}

at_status at_classify_kind_parse(at_ctx *ctx, const char *name, at_classify_kind *out) {
    int k = find_name(KIND_NAMES, name);
    if (k < 0 || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "unknown classifier '%.64s' (han, flat)",
                           name ? name : "(null)");
    *out = (at_classify_kind)k;
    return AT_OK;
}

at_status at_static_form_parse(at_ctx *ctx, const char *name, at_static_form *out) {
    int k = find_name(FORM_NAMES, name);
    if (k < 0 || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "unknown static attention form '%.64s' (context, feature)",
                           name ? name : "(null)");
    *out = (at_static_form)k;
    return AT_OK;
}

void at_classify_config_default(at_classify_config *c, at_classify_kind kind) {
    if (!c) return;
    *c = (at_classify_config){.kind = kind, .word_form = AT_STATIC_CONTEXT,
                              .sentence_form = AT_STATIC_CONTEXT, .embed = 100, .hidden = 50,
                              .attn = 100, .max_sentences = 30, .max_words = 40, .min_count = 2,
                              .max_vocab = 30000, .dropout = 0.2f, .seed = 1};
}

/* ---------------------------------------------------------------- checks */

/* The int fields, with the range the check (and so the reader) allows. */
static const ati_int_field INT_FIELDS[] = {
    {"embed", offsetof(at_classify_config, embed), 1, 1024, 0},
    {"hidden", offsetof(at_classify_config, hidden), 1, 1024, 0},
    {"attn", offsetof(at_classify_config, attn), 1, 1024, 0},
    {"max_sentences", offsetof(at_classify_config, max_sentences), 1, 1000, 0},
    {"max_words", offsetof(at_classify_config, max_words), 1, 1000, 0},
    {"min_count", offsetof(at_classify_config, min_count), 1, INT_MAX, 0},
    {"max_vocab", offsetof(at_classify_config, max_vocab), 1, AT_VOCAB_MAX_TOKENS, 0},
};
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])
/* threshold is optional and written only when set: older files have none */
static const ati_prob_field PROB_FIELDS[] = {
    {"dropout", offsetof(at_classify_config, dropout), 0, 0},
    {"threshold", offsetof(at_classify_config, threshold), 1, 1}};
#define PROB_FIELD_COUNT (sizeof PROB_FIELDS / sizeof PROB_FIELDS[0])
/* The other fields: the three names and the seed. */
static const char *const OTHER_FIELDS[] = {"kind", "word_form", "sentence_form", "seed"};
#define WHAT "classifier configuration"

at_status cls_config_check(at_ctx *ctx, const at_classify_config *config) {
    if (!config) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: NULL configuration");
    at_classify_config c = *config;
    if (!at_classify_kind_name(c.kind))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: kind %d is not han or flat",
                           (int)c.kind);
    if (!at_static_form_name(c.word_form) || !at_static_form_name(c.sentence_form))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "classifier: word_form %d / sentence_form %d is not context or feature",
                           (int)c.word_form, (int)c.sentence_form);
    for (size_t i = 0; i < INT_FIELD_COUNT; i++) {
        int v = *ati_int_field_at(&c, &INT_FIELDS[i]);
        if (v < INT_FIELDS[i].lo || v > INT_FIELDS[i].hi)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: %s %d is outside [%d, %d]",
                               INT_FIELDS[i].name, v, INT_FIELDS[i].lo, INT_FIELDS[i].hi);
    }
    if (!(c.dropout >= 0.0f && c.dropout < 0.9f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: dropout %g is outside [0, 0.9)",
                           (double)c.dropout);
    if (!(c.threshold >= 0.0f && c.threshold < 1.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: threshold %g is outside [0, 1)",
                           (double)c.threshold);
    return AT_OK;
}

/* ------------------------------------------------------------------ JSON */

at_status cls_config_to_json(at_ctx *ctx, const at_classify_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier config: out of memory");
    json_object_object_add(o, "kind", json_object_new_string(KIND_NAMES[c->kind]));
    json_object_object_add(o, "word_form", json_object_new_string(FORM_NAMES[c->word_form]));
    json_object_object_add(o, "sentence_form",
                           json_object_new_string(FORM_NAMES[c->sentence_form]));
    ati_config_json_add_ints(o, INT_FIELDS, INT_FIELD_COUNT, c);
    ati_config_json_add_probabilities(o, PROB_FIELDS, PROB_FIELD_COUNT, c);
    ati_config_json_add_seed(o, c->seed);
    return ati_config_json_finish(ctx, o, WHAT, out);
}

static at_status read_words(at_ctx *ctx, json_object *o, void *config) {
    at_classify_config *c = config;
    int kind, word_form, sentence_form;
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "kind", KIND_NAMES, 2, &kind));
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "word_form", FORM_NAMES, 2, &word_form));
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "sentence_form", FORM_NAMES, 2, &sentence_form));
    c->kind = (at_classify_kind)kind;
    c->word_form = (at_static_form)word_form;
    c->sentence_form = (at_static_form)sentence_form;
    return AT_OK;
}

static at_status check(at_ctx *ctx, const void *config) { return cls_config_check(ctx, config); }

at_status cls_config_from_json(at_ctx *ctx, const char *text, at_classify_config *c) {
    static const ati_config_form FORM = {
        .what = WHAT, .max_values = 64,
        .ints = INT_FIELDS, .n_ints = INT_FIELD_COUNT, .probs = PROB_FIELDS, .n_probs = PROB_FIELD_COUNT,
        .others = OTHER_FIELDS, .n_others = sizeof OTHER_FIELDS / sizeof OTHER_FIELDS[0],
        .seed_offset = offsetof(at_classify_config, seed),
        .read_words = read_words, .check = check};
    memset(c, 0, sizeof *c);
    return ati_config_json_read(ctx, text, &FORM, c);
}
