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
 * code. Every field must be there but the three that came later,
 * "encoder_layers", "dropout" and "output_dropout": a file written before
 * them lacks them and means the one-layer encoder without dropout it was
 * trained with. output_dropout is written only when it is not 0, so a
 * model without it writes the bytes it always did.
 */
#include "models.h"

#include "../io/config_json.h"

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
        .output_dropout = 0.0f,
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
    if (!(c->output_dropout >= 0.0f && c->output_dropout < 1.0f))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: output_dropout = %g is outside [0, 1)", op,
                           (double)c->output_dropout);
    if (c->output_dropout > 0.0f && c->decoder != AT_DECODER_LUONG)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: output_dropout = %g needs the luong decoder (it applies to its "
                           "attentional vector)",
                           op, (double)c->output_dropout);
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

/* ------------------------------------------------------------------ JSON */

/* The integer fields, under their own names, any int when read
 * (s2s_config_check then judges them); seed is apart (unsigned).
 * Optional: may be absent (files from before the field existed), and then
 * keeps its default. */
#define FIELD(name, optional) {#name, offsetof(at_seq2seq_config, name), INT_MIN, INT_MAX, optional}
static const ati_int_field INT_FIELDS[] = {
    FIELD(seed_teacher_forcing, 0),
    FIELD(seed_output_from_previous_state, 0),
    FIELD(embed_size, 0),
    FIELD(encoder_size, 0),
    FIELD(encoder_layers, 1),
    FIELD(decoder_size, 0),
    FIELD(attn_size, 0),
    FIELD(heads, 0),
    FIELD(window, 0),
    FIELD(max_source_len, 0),
    FIELD(max_target_len, 0),
};
#undef FIELD
#define INT_FIELD_COUNT (sizeof INT_FIELDS / sizeof INT_FIELDS[0])
/* The dropouts, both optional (a file from before them had none), and
 * output_dropout written only when it is used. */
static const ati_prob_field PROB_FIELDS[] = {
    {"dropout", offsetof(at_seq2seq_config, dropout), 1, 0},
    {"output_dropout", offsetof(at_seq2seq_config, output_dropout), 1, 1},
};
#define PROB_FIELD_COUNT (sizeof PROB_FIELDS / sizeof PROB_FIELDS[0])
/* The other fields: words and the seed. */
static const char *const OTHER_FIELDS[] = {"decoder", "attention", "cell", "seed"};
#define WHAT "model configuration"

at_status s2s_config_to_json(at_ctx *ctx, const at_seq2seq_config *c, char **out) {
    json_object *o = json_object_new_object();
    if (!o) return at_ctx_fail(ctx, AT_ERR_MEMORY, "seq2seq config: out of memory");
    json_object_object_add(
        o, "decoder", json_object_new_string(c->decoder == AT_DECODER_SEED ? "seed" : "luong"));
    json_object_object_add(o, "attention",
                           json_object_new_string(at_attention_kind_name(c->attention)));
    json_object_object_add(o, "cell",
                           json_object_new_string(c->cell == AT_CELL_LSTM ? "lstm" : "gru"));
    ati_config_json_add_ints(o, INT_FIELDS, INT_FIELD_COUNT, c);
    ati_config_json_add_seed(o, c->seed);
    ati_config_json_add_probabilities(o, PROB_FIELDS, PROB_FIELD_COUNT, c);
    return ati_config_json_finish(ctx, o, WHAT, out);
}

/* The three words, attention's message at_attention_kind_parse's. */
static at_status read_words(at_ctx *ctx, json_object *o, void *config) {
    static const char *const decoders[] = {"seed", "luong"}, *const cells[] = {"gru", "lstm"};
    at_seq2seq_config *c = config;
    int decoder = 0, cell = 0;
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "decoder", decoders, 2, &decoder));
    AT_TRY(ati_config_json_word(ctx, o, WHAT, "cell", cells, 2, &cell));
    c->decoder = decoder == 0 ? AT_DECODER_SEED : AT_DECODER_LUONG;
    c->cell = cell == 0 ? AT_CELL_GRU : AT_CELL_LSTM;
    json_object *attention;
    if (!json_object_object_get_ex(o, "attention", &attention) ||
        !json_object_is_type(attention, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "model configuration: no string 'attention'");
    if (at_attention_kind_parse(ctx, json_object_get_string(attention), &c->attention) != AT_OK)
        return ati_rethrow(ctx, AT_ERR_FORMAT, WHAT);
    return AT_OK;
}

static at_status check(at_ctx *ctx, const void *config) { return s2s_config_check(ctx, config); }

at_status s2s_config_from_json(at_ctx *ctx, const char *text, at_seq2seq_config *c) {
    static const ati_config_form FORM = {
        .what = WHAT, .max_values = 256,
        .ints = INT_FIELDS, .n_ints = INT_FIELD_COUNT,
        .probs = PROB_FIELDS, .n_probs = PROB_FIELD_COUNT,
        .others = OTHER_FIELDS, .n_others = sizeof OTHER_FIELDS / sizeof OTHER_FIELDS[0],
        .seed_offset = offsetof(at_seq2seq_config, seed),
        .read_words = read_words, .check = check};
    at_seq2seq_config_default(c); /* what an older file's absent fields mean */
    return ati_config_json_read(ctx, text, &FORM, c);
}
