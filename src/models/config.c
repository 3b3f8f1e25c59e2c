/*
 * config.c - the model's configuration: defaults, attention family names,
 * the checks that reject an impossible model before any parameter exists,
 * and the JSON form kept in a checkpoint's __metadata__ ("attend.model").
 *
 * The JSON is a flat object of the config's fields under their own names,
 * with the enums as words ("decoder": "luong", "attention": "additive",
 * "cell": "gru"), so a person can read a checkpoint's header. Reading it
 * back trusts nothing: one strict JSON object (json_strict.c: no key
 * twice), no field this version does not know, every word one of its
 * words, every integer a JSON integer inside int (seed: [0, 2^32 - 1]),
 * dropout a JSON number, then the same checks as a configuration made in
 * code. Every field must be there but the two that came later,
 * "encoder_layers" and "dropout": a file written before them lacks them
 * and means the one-layer encoder without dropout it was trained with.
 */
#include "models.h"

#include "../io/json_strict.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const attention_names[AT_ATTENTION_KINDS] = {
    "additive", "dot",       "general", "concat",         "location",  "local-m",
    "local-p",  "monotonic", "forward", "multiplicative", "multi-head"};

const char *at_attention_kind_name(at_attention_kind kind) {
    return (int)kind >= 0 && kind < AT_ATTENTION_KINDS ? attention_names[kind] : NULL;
}

at_status at_attention_kind_parse(at_ctx *ctx, const char *name, at_attention_kind *out) {
    for (int k = 0; name && k < AT_ATTENTION_KINDS; k++)
        if (!strcmp(name, attention_names[k])) {
            *out = (at_attention_kind)k;
            return AT_OK;
        }
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "unknown attention '%s' (additive, dot, general, concat, location, "
                       "local-m, local-p, monotonic, forward, multiplicative, multi-head)",
                       name ? name : "(null)");
}

void at_seq2seq_config_default(at_seq2seq_config *c) {
    *c = (at_seq2seq_config){
        .decoder = AT_DECODER_LUONG,
        .attention = AT_ATTENTION_ADDITIVE,
        .cell = AT_CELL_GRU,
        .seed_teacher_forcing = 1,
        .seed_output_from_previous_state = 0,
        .embed_size = 32,
        .encoder_size = 64,
        .encoder_layers = 1,
        .dropout = 0.0f,
        .decoder_size = 128,
        .attn_size = 64,
        .heads = 4,
        .window = 8,
        .max_source_len = 0,
        .max_target_len = 0,
        .seed = 1,
    };
}

/* Families that score h_t against h̄_s directly need S == 2N. */
static int needs_equal_sizes(at_attention_kind kind) {
    return kind == AT_ATTENTION_DOT || kind == AT_ATTENTION_MULTIPLICATIVE ||
           kind == AT_ATTENTION_MULTI_HEAD;
}

at_status s2s_config_check(at_ctx *ctx, const at_seq2seq_config *c) {
    const char *op = "seq2seq config";
    if (c->decoder != AT_DECODER_SEED && c->decoder != AT_DECODER_LUONG)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: unknown decoder %d", op, (int)c->decoder);
    if (!at_attention_kind_name(c->attention))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: unknown attention %d", op, (int)c->attention);
    if (c->cell != AT_CELL_GRU && c->cell != AT_CELL_LSTM)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: unknown cell %d", op, (int)c->cell);
    const struct {
        const char *name;
        int value, lo, hi;
    } sizes[] = {
        {"embed_size", c->embed_size, 1, 4096},
        {"encoder_size", c->encoder_size, 1, 4096},
        {"encoder_layers", c->encoder_layers, 1, AT_SEQ2SEQ_MAX_ENCODER_LAYERS},
        {"decoder_size", c->decoder_size, 1, 4096},
        {"attn_size", c->attn_size, 1, 4096},
        {"heads", c->heads, 1, 64},
        {"window", c->window, 0, 1024},
        {"max_source_len", c->max_source_len, 1, 100000},
        {"max_target_len", c->max_target_len, 2, 100000},
        {"seed_teacher_forcing", c->seed_teacher_forcing, 0, 1},
        {"seed_output_from_previous_state", c->seed_output_from_previous_state, 0, 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < sizes[i].lo || sizes[i].value > sizes[i].hi)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s = %d is outside [%d, %d]", op,
                               sizes[i].name, sizes[i].value, sizes[i].lo, sizes[i].hi);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f)) /* NaN too */
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: dropout = %g is outside [0, 1)", op,
                           (double)c->dropout);
    if (c->dropout > 0.0f && c->encoder_layers < 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: dropout = %g needs encoder_layers >= 2 (it applies between "
                           "encoder layers; there is one)",
                           op, (double)c->dropout);
    if (c->decoder == AT_DECODER_LUONG && needs_equal_sizes(c->attention) &&
        c->decoder_size != 2 * c->encoder_size)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: %s attention needs decoder_size (%d) = 2 x encoder_size (%d)", op,
                           at_attention_kind_name(c->attention), c->decoder_size, c->encoder_size);
    if (c->decoder == AT_DECODER_LUONG && c->attention == AT_ATTENTION_MULTI_HEAD &&
        c->decoder_size % c->heads)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: decoder_size %d is not a multiple of heads %d", op, c->decoder_size,
                           c->heads);
    return AT_OK;
}

at_status s2s_rethrow(at_ctx *ctx, at_status status, const char *prefix) {
    char message[512];
    snprintf(message, sizeof message, "%s", at_ctx_error(ctx));
    return at_ctx_fail(ctx, status, "%s: %s", prefix, message);
}

/* ------------------------------------------------------------------ JSON */

/* The integer fields, under their own names; seed is apart (unsigned).
 * optional: may be absent (files from before the field existed), and then
 * keeps its default. */
static const struct {
    const char *name;
    size_t offset;
    int optional;
} INT_FIELDS[] = {
    {"seed_teacher_forcing", offsetof(at_seq2seq_config, seed_teacher_forcing), 0},
    {"seed_output_from_previous_state",
     offsetof(at_seq2seq_config, seed_output_from_previous_state), 0},
    {"embed_size", offsetof(at_seq2seq_config, embed_size), 0},
    {"encoder_size", offsetof(at_seq2seq_config, encoder_size), 0},
    {"encoder_layers", offsetof(at_seq2seq_config, encoder_layers), 1},
    {"decoder_size", offsetof(at_seq2seq_config, decoder_size), 0},
    {"attn_size", offsetof(at_seq2seq_config, attn_size), 0},
    {"heads", offsetof(at_seq2seq_config, heads), 0},
    {"window", offsetof(at_seq2seq_config, window), 0},
    {"max_source_len", offsetof(at_seq2seq_config, max_source_len), 0},
    {"max_target_len", offsetof(at_seq2seq_config, max_target_len), 0},
};
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])
/* The other fields: words, the seed, and dropout (a number, optional). */
static const char *const OTHER_FIELDS[] = {"decoder", "attention", "cell", "seed", "dropout"};

static int *int_field(at_seq2seq_config *c, size_t i) {
    return (int *)(void *)((char *)c + INT_FIELDS[i].offset);
}

/* The shortest decimal text that reads back as exactly x ("0.3", not
 * "0.30000001192092896"): 9 significant digits always do for a float. */
static void float_text(float x, char *text, size_t size) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, size, "%.*g", digits, (double)x);
        if (strtof(text, NULL) == x) return;
    }
}

at_status s2s_config_to_json(at_ctx *ctx, const at_seq2seq_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq config: out of memory");
    json_object_object_add(
        o, "decoder", json_object_new_string(c->decoder == AT_DECODER_SEED ? "seed" : "luong"));
    json_object_object_add(o, "attention",
                           json_object_new_string(at_attention_kind_name(c->attention)));
    json_object_object_add(o, "cell",
                           json_object_new_string(c->cell == AT_CELL_LSTM ? "lstm" : "gru"));
    at_seq2seq_config copy = *c;
    for (size_t i = 0; i < INT_FIELD_COUNT; i++)
        json_object_object_add(o, INT_FIELDS[i].name, json_object_new_int(*int_field(&copy, i)));
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)(uint32_t)c->seed));
    char dropout[32];
    float_text(c->dropout, dropout, sizeof dropout);
    json_object_object_add(o, "dropout", json_object_new_double_s((double)c->dropout, dropout));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = text ? malloc(strlen(text) + 1) : NULL;
    if (*out) memcpy(*out, text, strlen(text) + 1);
    json_object_put(o);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq config: out of memory");
}

/* The integer field `name` of o, a JSON integer in [lo, hi]; AT_ERR_FORMAT
 * naming the field if it is absent, of another type or out of range. */
static at_status json_integer(at_ctx *ctx, json_object *o, const char *name, int64_t lo,
                              int64_t hi, int64_t *value) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no integer '%s'", name);
    /* json-c keeps integers past INT64_MAX as unsigned; get_int64 saturates them */
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "model configuration: '%s' = %s is outside [%lld, %lld]", name,
                           json_object_get_string(v), (long long)lo, (long long)hi);
    *value = x;
    return AT_OK;
}

/* The string field `name` of o, one of the n words; AT_ERR_FORMAT naming
 * the field and the value otherwise. *index gets the word's index. */
static at_status json_word(at_ctx *ctx, json_object *o, const char *name,
                           const char *const *words, int n, int *index) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no string '%s'", name);
    const char *word = json_object_get_string(v);
    for (int i = 0; i < n; i++)
        if (strcmp(word, words[i]) == 0) {
            *index = i;
            return AT_OK;
        }
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: %s '%.64s' is not %s%s%s", name,
                       word, words[0], n > 1 ? " or " : "", n > 1 ? words[1] : "");
}

/* "dropout": a JSON number (integer or not) in [0, 1); AT_ERR_FORMAT
 * naming the field otherwise (json-c reads NaN and Infinity too). */
static at_status json_dropout(at_ctx *ctx, json_object *o, float *dropout) {
    json_object *v;
    if (!json_object_object_get_ex(o, "dropout", &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no number 'dropout'");
    double x = json_object_get_double(v);
    if (!(x >= 0.0 && x < 1.0 && (float)x < 1.0f)) /* NaN too; 0.9999999999 rounds to 1 */
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "model configuration: 'dropout' = %.64s is outside [0, 1)",
                           json_object_get_string(v));
    *dropout = (float)x;
    return AT_OK;
}

/* Every key of o is a field this version reads (a newer file's field
 * would otherwise be dropped without a word). */
static at_status check_known_fields(at_ctx *ctx, json_object *o) {
    json_object_iter it;
    json_object_object_foreachC(o, it) {
        int known = 0;
        for (size_t i = 0; i < INT_FIELD_COUNT && !known; i++)
            known = strcmp(it.key, INT_FIELDS[i].name) == 0;
        for (size_t i = 0; i < sizeof OTHER_FIELDS / sizeof OTHER_FIELDS[0] && !known; i++)
            known = strcmp(it.key, OTHER_FIELDS[i]) == 0;
        if (!known)
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: unknown field '%.64s'",
                               it.key);
    }
    return AT_OK;
}

static at_status config_fields(at_ctx *ctx, json_object *o, at_seq2seq_config *c) {
    static const char *const decoders[] = {"seed", "luong"}, *const cells[] = {"gru", "lstm"};
    AT_TRY(check_known_fields(ctx, o));
    int decoder = 0, cell = 0;
    AT_TRY(json_word(ctx, o, "decoder", decoders, 2, &decoder));
    AT_TRY(json_word(ctx, o, "cell", cells, 2, &cell));
    c->decoder = decoder == 0 ? AT_DECODER_SEED : AT_DECODER_LUONG;
    c->cell = cell == 0 ? AT_CELL_GRU : AT_CELL_LSTM;
    json_object *attention;
    if (!json_object_object_get_ex(o, "attention", &attention) ||
        !json_object_is_type(attention, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no string 'attention'");
    if (at_attention_kind_parse(ctx, json_object_get_string(attention), &c->attention) != AT_OK)
        return s2s_rethrow(ctx, AT_ERR_FORMAT, "model configuration");
    for (size_t i = 0; i < INT_FIELD_COUNT; i++) {
        int64_t value;
        if (INT_FIELDS[i].optional && !json_object_object_get_ex(o, INT_FIELDS[i].name, NULL))
            continue; /* an older file: the default */
        AT_TRY(json_integer(ctx, o, INT_FIELDS[i].name, INT_MIN, INT_MAX, &value));
        *int_field(c, i) = (int)value;
    }
    int64_t seed;
    AT_TRY(json_integer(ctx, o, "seed", 0, UINT32_MAX, &seed));
    c->seed = (uint64_t)seed;
    if (json_object_object_get_ex(o, "dropout", NULL)) AT_TRY(json_dropout(ctx, o, &c->dropout));
    if (s2s_config_check(ctx, c) != AT_OK)
        return s2s_rethrow(ctx, AT_ERR_FORMAT, "model configuration");
    return AT_OK;
}

at_status s2s_config_from_json(at_ctx *ctx, const char *text, at_seq2seq_config *c) {
    char why[160] = "";
    json_object *o = text ? ati_json_parse_strict(text, strlen(text), 256, why, sizeof why) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration is not a JSON object%s%s%s",
                           *why ? " (" : "", why, *why ? ")" : "");
    }
    at_seq2seq_config_default(c);
    at_status s = config_fields(ctx, o, c);
    json_object_put(o);
    return s;
}
