/*
 * config.c - a language model's configuration: the kinds' names, the
 * defaults, the checks, and the JSON form a checkpoint keeps.
 *
 * The JSON is read strictly, as the seq2seq configuration is: every field
 * present exactly once, nothing unknown, each integer in range, so a
 * checkpoint written by another program or version cannot half-load.
 */
#include "lm.h"

#include "../io/json_strict.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND_NAMES[AT_LM_KINDS] = {"transformer", "lstm", "attention",
                                                     "kv",          "kvp",  "ngram"};

const char *at_lm_kind_name(at_lm_kind kind) {
    return (unsigned)kind < AT_LM_KINDS ? KIND_NAMES[kind] : NULL;
}

at_status at_lm_kind_parse(at_ctx *ctx, const char *name, at_lm_kind *out) {
    for (int k = 0; k < AT_LM_KINDS; k++)
        if (name && strcmp(name, KIND_NAMES[k]) == 0) {
            *out = (at_lm_kind)k;
            return AT_OK;
        }
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "unknown language model '%.64s' (transformer, lstm, attention, kv, kvp, "
                       "ngram)",
                       name ? name : "(null)");
}

void at_lm_config_default(at_lm_config *c, at_lm_kind kind) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->seed = 1;
    c->layers = 1;
    c->heads = 1;
    if (kind == AT_LM_TRANSFORMER) {
        c->layers = 4, c->heads = 4, c->width = 128, c->context = 64;
        return;
    }
    c->width = 128, c->embed = 64, c->context = 100;
    c->memory = kind == AT_LM_NGRAM ? 3 : (kind == AT_LM_LSTM ? 0 : 5);
}

static int uses_memory(at_lm_kind k) {
    return k == AT_LM_ATTENTION || k == AT_LM_KV || k == AT_LM_KVP || k == AT_LM_NGRAM;
}

at_status lm_config_check(at_ctx *ctx, const at_lm_config *c) {
#define BAD(...) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: " __VA_ARGS__)
    if ((unsigned)c->kind >= AT_LM_KINDS) BAD("unknown kind %d", (int)c->kind);
    if (c->context < 1 || c->context > AT_LM_MAX_CONTEXT)
        BAD("context %d is outside [1, %d]", c->context, AT_LM_MAX_CONTEXT);
    if (c->width < 1 || c->width > 65536) BAD("width %d is outside [1, 65536]", c->width);
    if (!(c->dropout >= 0.0f && c->dropout < 0.9f))
        BAD("dropout %g is outside [0, 0.9)", (double)c->dropout);
    if (c->kind == AT_LM_TRANSFORMER) {
        if (c->layers < 1 || c->layers > AT_LM_MAX_LAYERS)
            BAD("layers %d is outside [1, %d]", c->layers, AT_LM_MAX_LAYERS);
        if (c->heads < 1 || c->width % c->heads != 0)
            BAD("heads %d must be >= 1 and divide the width %d", c->heads, c->width);
        if (c->embed != 0 && c->embed != c->width)
            BAD("a transformer's embedding is its width (embed %d, width %d)", c->embed, c->width);
        if (c->memory != 0) BAD("a transformer has no memory (its context is --context)");
        return AT_OK;
    }
    if (c->layers != 1) BAD("the LSTM models have one layer (layers %d)", c->layers);
    if (c->heads != 1) BAD("the LSTM models have no heads (heads %d)", c->heads);
    if (c->embed < 1 || c->embed > 65536) BAD("embed %d is outside [1, 65536]", c->embed);
    if (!uses_memory(c->kind) && c->memory != 0)
        BAD("%s has no memory (memory %d)", KIND_NAMES[c->kind], c->memory);
    if (c->kind == AT_LM_NGRAM && (c->memory < 2 || c->memory > 16))
        BAD("ngram memory (N - 1) %d is outside [2, 16]", c->memory);
    if (uses_memory(c->kind) && c->kind != AT_LM_NGRAM &&
        (c->memory < 1 || c->memory > AT_LM_MAX_CONTEXT))
        BAD("memory %d is outside [1, %d]", c->memory, AT_LM_MAX_CONTEXT);
    long parts = c->kind == AT_LM_KV ? 2 : c->kind == AT_LM_KVP ? 3
                 : c->kind == AT_LM_NGRAM ? c->memory : 1;
    if ((long)c->width * parts > 65536)
        BAD("the LSTM would be %ld wide (at most 65536)", (long)c->width * parts);
    return AT_OK;
#undef BAD
}

/* --------------------------------------------------------------- JSON */

typedef struct int_field {
    const char *name;
    size_t offset;
} int_field;
static const int_field INT_FIELDS[] = {
    {"context", offsetof(at_lm_config, context)}, {"layers", offsetof(at_lm_config, layers)},
    {"heads", offsetof(at_lm_config, heads)},     {"width", offsetof(at_lm_config, width)},
    {"embed", offsetof(at_lm_config, embed)},     {"memory", offsetof(at_lm_config, memory)},
};
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])

static int *int_at(at_lm_config *c, size_t i) {
    return (int *)(void *)((char *)c + INT_FIELDS[i].offset);
}

at_status lm_config_to_json(at_ctx *ctx, const at_lm_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "language model config: out of memory");
    json_object_object_add(o, "kind", json_object_new_string(KIND_NAMES[c->kind]));
    at_lm_config copy = *c;
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
    *out = text ? malloc(strlen(text) + 1) : NULL;
    if (*out) memcpy(*out, text, strlen(text) + 1);
    json_object_put(o);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "language model config: out of memory");
}

static at_status fail_field(at_ctx *ctx, const char *what, const char *name) {
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "language model configuration: %s '%s'", what, name);
}

static at_status read_fields(at_ctx *ctx, json_object *o, at_lm_config *c) {
    json_object_iter it;
    json_object_object_foreachC(o, it) {
        int known = !strcmp(it.key, "kind") || !strcmp(it.key, "dropout") ||
                    !strcmp(it.key, "seed");
        for (size_t i = 0; i < INT_FIELD_COUNT && !known; i++)
            known = !strcmp(it.key, INT_FIELDS[i].name);
        if (!known) return fail_field(ctx, "unknown field", it.key);
    }
    json_object *v;
    if (!json_object_object_get_ex(o, "kind", &v) || !json_object_is_type(v, json_type_string))
        return fail_field(ctx, "no string", "kind");
    if (at_lm_kind_parse(ctx, json_object_get_string(v), &c->kind) != AT_OK)
        return fail_field(ctx, "an unknown kind in", "kind");
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
    if (lm_config_check(ctx, c) != AT_OK) {
        char why[200];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "language model configuration: %s", why);
    }
    return AT_OK;
}

at_status lm_config_from_json(at_ctx *ctx, const char *text, at_lm_config *c) {
    char why[160] = "";
    json_object *o = text ? ati_json_parse_strict(text, strlen(text), 64, why, sizeof why) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "language model configuration is not a JSON object%s%s%s",
                           *why ? " (" : "", why, *why ? ")" : "");
    }
    memset(c, 0, sizeof *c);
    at_status s = read_fields(ctx, o, c);
    json_object_put(o);
    return s;
}
