/*
 * config.c - a language model's configuration: the kinds' names, the
 * defaults, the checks, and the JSON form a checkpoint keeps.
 *
 * The JSON is read strictly, with the readers every configuration uses
 * (src/io/config_json.c): every field present exactly once, nothing
 * unknown, each integer in range, so a checkpoint written by another
 * program or version cannot half-load.
 */
#include "lm.h"

#include "../io/config_json.h"

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

/* The int fields, any int when read (lm_config_check then judges them). */
#define FIELD(name) {#name, offsetof(at_lm_config, name), INT_MIN, INT_MAX, 0}
static const ati_int_field INT_FIELDS[] = {
    FIELD(context), FIELD(layers), FIELD(heads), FIELD(width), FIELD(embed), FIELD(memory),
};
#undef FIELD
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])
static const ati_prob_field PROB_FIELDS[] = {{"dropout", offsetof(at_lm_config, dropout), 0, 0}};
static const char *const OTHER_FIELDS[] = {"kind", "seed"};
#define WHAT "language model configuration"

at_status lm_config_to_json(at_ctx *ctx, const at_lm_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "language model config: out of memory");
    json_object_object_add(o, "kind", json_object_new_string(KIND_NAMES[c->kind]));
    ati_config_json_add_ints(o, INT_FIELDS, INT_FIELD_COUNT, c);
    ati_config_json_add_probabilities(o, PROB_FIELDS, 1, c);
    ati_config_json_add_seed(o, c->seed);
    return ati_config_json_finish(ctx, o, WHAT, out);
}

static at_status read_words(at_ctx *ctx, json_object *o, void *config) {
    int kind;
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "kind", KIND_NAMES, AT_LM_KINDS, &kind));
    ((at_lm_config *)config)->kind = (at_lm_kind)kind;
    return AT_OK;
}

static at_status check(at_ctx *ctx, const void *config) { return lm_config_check(ctx, config); }

at_status lm_config_from_json(at_ctx *ctx, const char *text, at_lm_config *c) {
    static const ati_config_form FORM = {
        .what = WHAT, .max_values = 64,
        .ints = INT_FIELDS, .n_ints = INT_FIELD_COUNT, .probs = PROB_FIELDS, .n_probs = 1,
        .others = OTHER_FIELDS, .n_others = sizeof OTHER_FIELDS / sizeof OTHER_FIELDS[0],
        .seed_offset = offsetof(at_lm_config, seed),
        .read_words = read_words, .check = check};
    memset(c, 0, sizeof *c);
    return ati_config_json_read(ctx, text, &FORM, c);
}
