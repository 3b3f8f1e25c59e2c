/*
 * config.c - a classifier's configuration: the names of the kinds and
 * static forms, the defaults, the checks, and the JSON a checkpoint keeps
 * in "attend.classify".
 *
 * The JSON is read strictly, as the language models' is (src/lm/config.c):
 * every field present, nothing unknown, each value of its type and in
 * range, so a checkpoint written by another program cannot half-load.
 */
#include "classifier.h"

#include "../io/json_strict.h"

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

typedef struct int_field {
    const char *name;
    size_t offset;
    int lo, hi;
} int_field;
static const int_field INT_FIELDS[] = {
    {"embed", offsetof(at_classify_config, embed), 1, 1024},
    {"hidden", offsetof(at_classify_config, hidden), 1, 1024},
    {"attn", offsetof(at_classify_config, attn), 1, 1024},
    {"max_sentences", offsetof(at_classify_config, max_sentences), 1, 1000},
    {"max_words", offsetof(at_classify_config, max_words), 1, 1000},
    {"min_count", offsetof(at_classify_config, min_count), 1, INT_MAX},
    {"max_vocab", offsetof(at_classify_config, max_vocab), 1, AT_VOCAB_MAX_TOKENS},
};
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])

static int *int_at(at_classify_config *c, size_t i) {
    return (int *)(void *)((char *)c + INT_FIELDS[i].offset);
}

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
        int v = *int_at(&c, i);
        if (v < INT_FIELDS[i].lo || v > INT_FIELDS[i].hi)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: %s %d is outside [%d, %d]",
                               INT_FIELDS[i].name, v, INT_FIELDS[i].lo, INT_FIELDS[i].hi);
    }
    if (!(c.dropout >= 0.0f && c.dropout < 0.9f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier: dropout %g is outside [0, 0.9)",
                           (double)c.dropout);
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
    at_classify_config copy = *c;
    for (size_t i = 0; i < INT_FIELD_COUNT; i++)
        json_object_object_add(o, INT_FIELDS[i].name, json_object_new_int(*int_at(&copy, i)));
    char dropout[32];
    for (int digits = 1; digits <= 9; digits++) { /* the shortest text that reads back */
        snprintf(dropout, sizeof dropout, "%.*g", digits, (double)c->dropout);
        if (strtof(dropout, NULL) == c->dropout) break;
    }
    json_object_object_add(o, "dropout", json_object_new_double_s((double)c->dropout, dropout));
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)(uint32_t)c->seed));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = text ? ati_strdup(text) : NULL;
    json_object_put(o);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier config: out of memory");
}

static at_status fail_field(at_ctx *ctx, const char *what, const char *name) {
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "classifier configuration: %s '%s'", what, name);
}

static at_status read_name(at_ctx *ctx, json_object *o, const char *key,
                           const char *const *names, int *out) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return fail_field(ctx, "no string", key);
    *out = find_name(names, json_object_get_string(v));
    return *out < 0 ? fail_field(ctx, "an unknown name in", key) : AT_OK;
}

static int is_known(const char *key) {
    static const char *const OTHERS[] = {"kind", "word_form", "sentence_form", "dropout", "seed"};
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++)
        if (!strcmp(key, OTHERS[i])) return 1;
    for (size_t i = 0; i < INT_FIELD_COUNT; i++)
        if (!strcmp(key, INT_FIELDS[i].name)) return 1;
    return 0;
}

static at_status read_fields(at_ctx *ctx, json_object *o, at_classify_config *c) {
    json_object_iter it;
    json_object_object_foreachC(o, it) {
        if (!is_known(it.key)) return fail_field(ctx, "unknown field", it.key);
    }
    int kind, word_form, sentence_form;
    AT_TRY(read_name(ctx, o, "kind", KIND_NAMES, &kind));
    AT_TRY(read_name(ctx, o, "word_form", FORM_NAMES, &word_form));
    AT_TRY(read_name(ctx, o, "sentence_form", FORM_NAMES, &sentence_form));
    c->kind = (at_classify_kind)kind;
    c->word_form = (at_static_form)word_form;
    c->sentence_form = (at_static_form)sentence_form;
    json_object *v;
    for (size_t i = 0; i < INT_FIELD_COUNT; i++) {
        if (!json_object_object_get_ex(o, INT_FIELDS[i].name, &v) ||
            !json_object_is_type(v, json_type_int))
            return fail_field(ctx, "no integer", INT_FIELDS[i].name);
        int64_t x = json_object_get_int64(v);
        if (x < INT_MIN || x > INT_MAX) return fail_field(ctx, "out of range:", INT_FIELDS[i].name);
        *int_at(c, i) = (int)x;
    }
    if (!json_object_object_get_ex(o, "seed", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0 || json_object_get_int64(v) > UINT32_MAX)
        return fail_field(ctx, "no integer in [0, 2^32)", "seed");
    c->seed = (uint64_t)json_object_get_int64(v);
    if (!json_object_object_get_ex(o, "dropout", &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return fail_field(ctx, "no number", "dropout");
    double p = json_object_get_double(v);
    c->dropout = p >= 0 && p < 1 ? (float)p : -1.0f; /* NaN too: the check names it */
    if (cls_config_check(ctx, c) != AT_OK) {
        char why[200];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "classifier configuration: %s", why);
    }
    return AT_OK;
}

at_status cls_config_from_json(at_ctx *ctx, const char *text, at_classify_config *c) {
    char why[160] = "";
    json_object *o = text ? ati_json_parse_strict(text, strlen(text), 64, why, sizeof why) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "classifier configuration is not a JSON object%s%s%s",
                           *why ? " (" : "", why, *why ? ")" : "");
    }
    memset(c, 0, sizeof *c);
    at_status s = read_fields(ctx, o, c);
    json_object_put(o);
    return s;
}
