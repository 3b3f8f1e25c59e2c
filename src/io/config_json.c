/*
 * config_json.c - reading and writing the fields of a configuration's
 * JSON form, one way for every model (see config_json.h).
 *
 * The readers trust nothing: json-c types are checked before any value is
 * taken (a float is not an integer, "2" is not a number), an integer past
 * int64 saturates in json-c and is then out of range here, and NaN or
 * Infinity (json-c reads them) are not a dropout. Each message names the
 * configuration, the field and, where there is one, the value as written.
 */
#include "config_json.h"

#include "json_strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int *ati_int_field_at(void *config, const ati_int_field *field) {
    return (int *)(void *)((char *)config + field->offset);
}

static int int_field_value(const void *config, const ati_int_field *field) {
    return *(const int *)(const void *)((const char *)config + field->offset);
}

static float *prob_field_at(void *config, const ati_prob_field *field) {
    return (float *)(void *)((char *)config + field->offset);
}

static float prob_field_value(const void *config, const ati_prob_field *field) {
    return *(const float *)(const void *)((const char *)config + field->offset);
}

static at_status parse_object(at_ctx *ctx, const char *text, size_t max_values, const char *what,
                              json_object **out) {
    char why[160] = "";
    json_object *o =
        text ? ati_json_parse_strict(text, strlen(text), max_values, why, sizeof why) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *out = NULL;
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s is not a JSON object%s%s%s", what,
                           *why ? " (" : "", why, *why ? ")" : "");
    }
    *out = o;
    return AT_OK;
}

static int is_known(const char *key, const ati_config_form *form) {
    for (size_t i = 0; i < form->n_ints; i++)
        if (!strcmp(key, form->ints[i].name)) return 1;
    for (size_t i = 0; i < form->n_probs; i++)
        if (!strcmp(key, form->probs[i].name)) return 1;
    for (size_t i = 0; i < form->n_others; i++)
        if (!strcmp(key, form->others[i])) return 1;
    return 0;
}

static at_status check_known(at_ctx *ctx, json_object *o, const ati_config_form *form) {
    json_object_iter it;
    json_object_object_foreachC(o, it) {
        if (!is_known(it.key, form))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: unknown field '%.64s'", form->what,
                               it.key);
    }
    return AT_OK;
}

static at_status read_integer(at_ctx *ctx, json_object *o, const char *what, const char *name,
                              int64_t lo, int64_t hi, int64_t *value) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: no integer '%s'", what, name);
    /* json-c keeps integers past INT64_MAX as unsigned; get_int64 saturates them */
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: '%s' = %.64s is outside [%lld, %lld]", what,
                           name, json_object_get_string(v), (long long)lo, (long long)hi);
    *value = x;
    return AT_OK;
}

static at_status read_ints(at_ctx *ctx, json_object *o, const char *what, const ati_int_field *ints,
                           size_t n, void *config) {
    for (size_t i = 0; i < n; i++) {
        if (ints[i].optional && !json_object_object_get_ex(o, ints[i].name, NULL))
            continue; /* an older file: the value config holds */
        int64_t value = 0;
        AT_TRY(read_integer(ctx, o, what, ints[i].name, ints[i].lo, ints[i].hi, &value));
        *ati_int_field_at(config, &ints[i]) = (int)value;
    }
    return AT_OK;
}

/* "A, B or C" of the n words into list[0, size). */
static void word_list(const char *const *words, int n, char *list, size_t size) {
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        const char *joint = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        int wrote = snprintf(list + used, size - used, "%s%s", joint, words[i]);
        if (wrote < 0) return;
        used += (size_t)wrote;
    }
}

at_status ati_config_json_word(at_ctx *ctx, json_object *o, const char *what, const char *name,
                               const char *const *words, int n, int *index) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: no string '%s'", what, name);
    const char *word = json_object_get_string(v);
    for (int i = 0; i < n; i++)
        if (strcmp(word, words[i]) == 0) {
            *index = i;
            return AT_OK;
        }
    char list[160];
    word_list(words, n, list, sizeof list);
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s '%.64s' is not %s", what, name, word, list);
}

static at_status read_seed(at_ctx *ctx, json_object *o, const char *what, uint64_t *seed) {
    int64_t value = 0;
    AT_TRY(read_integer(ctx, o, what, "seed", 0, UINT32_MAX, &value));
    *seed = (uint64_t)value;
    return AT_OK;
}

static at_status read_probability(at_ctx *ctx, json_object *o, const char *what,
                                  const char *name, float *p) {
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: no number '%s'", what, name);
    double x = json_object_get_double(v);
    if (!(x >= 0.0 && x < 1.0 && (float)x < 1.0f)) /* NaN too; 0.9999999999 rounds to 1 */
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: '%s' = %.64s is outside [0, 1)", what, name,
                           json_object_get_string(v));
    *p = (float)x;
    return AT_OK;
}

static at_status read_probabilities(at_ctx *ctx, json_object *o, const ati_config_form *form,
                                    void *config) {
    for (size_t i = 0; i < form->n_probs; i++) {
        const ati_prob_field *field = &form->probs[i];
        if (field->optional && !json_object_object_get_ex(o, field->name, NULL))
            continue; /* an older file: the value config holds */
        AT_TRY(read_probability(ctx, o, form->what, field->name, prob_field_at(config, field)));
    }
    return AT_OK;
}

static at_status read_fields(at_ctx *ctx, json_object *o, const ati_config_form *form,
                             void *config) {
    const char *what = form->what;
    AT_TRY(check_known(ctx, o, form));
    if (form->read_words) AT_TRY(form->read_words(ctx, o, config));
    AT_TRY(read_ints(ctx, o, what, form->ints, form->n_ints, config));
    char *base = config;
    AT_TRY(read_seed(ctx, o, what, (uint64_t *)(void *)(base + form->seed_offset)));
    AT_TRY(read_probabilities(ctx, o, form, config));
    if (form->check(ctx, config) != AT_OK) return ati_rethrow(ctx, AT_ERR_FORMAT, what);
    return AT_OK;
}

at_status ati_config_json_read(at_ctx *ctx, const char *text, const ati_config_form *form,
                               void *config) {
    json_object *o;
    AT_TRY(parse_object(ctx, text, form->max_values, form->what, &o));
    at_status s = read_fields(ctx, o, form, config);
    json_object_put(o);
    return s;
}

void ati_config_json_add_ints(json_object *o, const ati_int_field *ints, size_t n,
                              const void *config) {
    for (size_t i = 0; i < n; i++)
        json_object_object_add(o, ints[i].name,
                               json_object_new_int(int_field_value(config, &ints[i])));
}

void ati_config_json_add_seed(json_object *o, uint64_t seed) {
    json_object_object_add(o, "seed", json_object_new_int64((int64_t)(uint32_t)seed));
}

static void add_probability(json_object *o, const char *name, float p) {
    char text[32];
    for (int digits = 1; digits <= 9; digits++) { /* 9 significant digits always do */
        snprintf(text, sizeof text, "%.*g", digits, (double)p);
        if (strtof(text, NULL) == p) break;
    }
    json_object_object_add(o, name, json_object_new_double_s((double)p, text));
}

void ati_config_json_add_probabilities(json_object *o, const ati_prob_field *probs, size_t n,
                                       const void *config) {
    for (size_t i = 0; i < n; i++) {
        float p = prob_field_value(config, &probs[i]);
        if (!(probs[i].omit_zero && p == 0.0f)) add_probability(o, probs[i].name, p);
    }
}

at_status ati_config_json_finish(at_ctx *ctx, json_object *o, const char *what, char **out) {
    const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
    *out = text ? ati_strdup(text) : NULL;
    json_object_put(o);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", what);
}
