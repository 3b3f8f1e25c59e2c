/*
 * config.c - the model's configuration: defaults, attention family names,
 * the checks that reject an impossible model before any parameter exists,
 * and the JSON form kept in a checkpoint's __metadata__ ("attend.model").
 *
 * The JSON is a flat object of the config's fields under their own names,
 * with the enums as words ("decoder": "luong", "attention": "additive",
 * "cell": "gru"), so a person can read a checkpoint's header.
 */
#include "models.h"

#include <json-c/json.h>
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
        {"decoder_size", c->decoder_size, 1, 4096},
        {"attn_size", c->attn_size, 1, 4096},
        {"heads", c->heads, 1, 64},
        {"window", c->window, 0, 1024},
        {"max_source_len", c->max_source_len, 1, 100000},
        {"max_target_len", c->max_target_len, 2, 100000},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < sizes[i].lo || sizes[i].value > sizes[i].hi)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s = %d is outside [%d, %d]", op,
                               sizes[i].name, sizes[i].value, sizes[i].lo, sizes[i].hi);
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

at_status s2s_config_to_json(at_ctx *ctx, const at_seq2seq_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq config: out of memory");
    json_object_object_add(
        o, "decoder", json_object_new_string(c->decoder == AT_DECODER_SEED ? "seed" : "luong"));
    json_object_object_add(o, "attention",
                           json_object_new_string(at_attention_kind_name(c->attention)));
    json_object_object_add(o, "cell",
                           json_object_new_string(c->cell == AT_CELL_LSTM ? "lstm" : "gru"));
    json_object_object_add(o, "seed_teacher_forcing", json_object_new_int(c->seed_teacher_forcing));
    json_object_object_add(o, "seed_output_from_previous_state",
                           json_object_new_int(c->seed_output_from_previous_state));
    json_object_object_add(o, "embed_size", json_object_new_int(c->embed_size));
    json_object_object_add(o, "encoder_size", json_object_new_int(c->encoder_size));
    json_object_object_add(o, "decoder_size", json_object_new_int(c->decoder_size));
    json_object_object_add(o, "attn_size", json_object_new_int(c->attn_size));
    json_object_object_add(o, "heads", json_object_new_int(c->heads));
    json_object_object_add(o, "window", json_object_new_int(c->window));
    json_object_object_add(o, "max_source_len", json_object_new_int(c->max_source_len));
    json_object_object_add(o, "max_target_len", json_object_new_int(c->max_target_len));
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)(uint32_t)c->seed));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    *out = text ? malloc(strlen(text) + 1) : NULL;
    if (*out) memcpy(*out, text, strlen(text) + 1);
    json_object_put(o);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq config: out of memory");
}

/* The integer field `name` of o into *value; AT_ERR_FORMAT if absent. */
static at_status json_int(at_ctx *ctx, json_object *o, const char *name, int *value) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no integer '%s'", name);
    *value = json_object_get_int(v);
    return AT_OK;
}

static const char *json_word(json_object *o, const char *name) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

static at_status config_fields(at_ctx *ctx, json_object *o, at_seq2seq_config *c) {
    const char *decoder = json_word(o, "decoder"), *cell = json_word(o, "cell");
    if (strcmp(decoder, "seed") && strcmp(decoder, "luong"))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: decoder '%s'", decoder);
    c->decoder = strcmp(decoder, "seed") ? AT_DECODER_LUONG : AT_DECODER_SEED;
    c->cell = strcmp(cell, "lstm") ? AT_CELL_GRU : AT_CELL_LSTM;
    if (at_attention_kind_parse(ctx, json_word(o, "attention"), &c->attention) != AT_OK)
        return s2s_rethrow(ctx, AT_ERR_FORMAT, "model configuration");
    int seed = 0;
    AT_TRY(json_int(ctx, o, "seed_teacher_forcing", &c->seed_teacher_forcing));
    AT_TRY(
        json_int(ctx, o, "seed_output_from_previous_state", &c->seed_output_from_previous_state));
    AT_TRY(json_int(ctx, o, "embed_size", &c->embed_size));
    AT_TRY(json_int(ctx, o, "encoder_size", &c->encoder_size));
    AT_TRY(json_int(ctx, o, "decoder_size", &c->decoder_size));
    AT_TRY(json_int(ctx, o, "attn_size", &c->attn_size));
    AT_TRY(json_int(ctx, o, "heads", &c->heads));
    AT_TRY(json_int(ctx, o, "window", &c->window));
    AT_TRY(json_int(ctx, o, "max_source_len", &c->max_source_len));
    AT_TRY(json_int(ctx, o, "max_target_len", &c->max_target_len));
    AT_TRY(json_int(ctx, o, "seed", &seed));
    c->seed = (uint64_t)(uint32_t)seed;
    if (s2s_config_check(ctx, c) != AT_OK)
        return s2s_rethrow(ctx, AT_ERR_FORMAT, "model configuration");
    return AT_OK;
}

at_status s2s_config_from_json(at_ctx *ctx, const char *text, at_seq2seq_config *c) {
    json_object *o = text ? json_tokener_parse(text) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        if (o) json_object_put(o);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration is not a JSON object");
    }
    at_seq2seq_config_default(c);
    at_status s = config_fields(ctx, o, c);
    json_object_put(o);
    return s;
}
