/*
 * config_json.h - the pieces a configuration's JSON form is made of, shared
 * by the seq2seq model's (src/models/config.c), the language models'
 * (src/lm/config.c) and the classifiers' (src/classify/config.c).
 *
 * A configuration is one flat JSON object kept in a checkpoint's metadata.
 * It is read strictly (json_strict.h): every field present (but those
 * marked optional), no field this version does not know, each value of its
 * type and in range, so a checkpoint written by another program or version
 * cannot half-load. Each reader fails with AT_ERR_FORMAT and a message
 * "WHAT: ..." where WHAT names the configuration ("model configuration",
 * "classifier configuration": the caller's `what`).
 */
#ifndef ATTEND_IO_CONFIG_JSON_H
#define ATTEND_IO_CONFIG_JSON_H

#include "internal.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* An int field of a configuration struct, by its JSON name and its offset
 * in the struct. The reader accepts a JSON integer in [lo, hi]; optional:
 * 1 = the field may be absent (a file from before it existed) and then
 * keeps the value the struct holds. */
typedef struct ati_int_field {
    const char *name;
    size_t offset;
    int lo, hi;
    int optional;
} ati_int_field;

/* The int of `config` that `field` describes. */
int *ati_int_field_at(void *config, const ati_int_field *field);

/* A probability field (a float in [0, 1): a dropout), by its JSON name and
 * its offset in the struct. optional: 1 = the field may be absent (a file
 * from before it existed) and then keeps the value the struct holds.
 * omit_zero: 1 = not written when it is 0, so a model that does not use
 * it is saved byte for byte as before the field existed. */
typedef struct ati_prob_field {
    const char *name;
    size_t offset;
    int optional;
    int omit_zero;
} ati_prob_field;

/* What a configuration's JSON form holds, for the reader. */
typedef struct ati_config_form {
    const char *what;  /* "model configuration": the messages' start */
    size_t max_values; /* of the JSON text (ati_json_parse_strict) */
    const ati_int_field *ints;
    size_t n_ints;
    const ati_prob_field *probs;
    size_t n_probs;
    const char *const *others; /* the names of every other field */
    size_t n_others;
    size_t seed_offset; /* of the uint64_t seed ("seed") */
    /* the configuration's words (ati_config_json_word), then its check of
     * the whole, whose message comes back as "WHAT: message" */
    at_status (*read_words)(at_ctx *ctx, json_object *o, void *config);
    at_status (*check)(at_ctx *ctx, const void *config);
} ati_config_form;

/* Read text into config, which holds the values an absent optional field
 * keeps. In order, each a AT_ERR_FORMAT with its message: one strict JSON
 * object ("WHAT is not a JSON object (why)"), every key a field of the
 * form ("WHAT: unknown field 'KEY'", the key cut at 64 bytes: a newer
 * file's field would otherwise be dropped without a word), the words, each
 * int field a JSON integer in its [lo, hi] ("WHAT: no integer 'NAME'",
 * "WHAT: 'NAME' = V is outside [LO, HI]"), the seed a JSON integer in
 * [0, 2^32 - 1], each probability field a JSON number in [0, 1) ("WHAT: no
 * number 'NAME'", "WHAT: 'NAME' = V is outside [0, 1)", NaN too), then the
 * form's check. */
at_status ati_config_json_read(at_ctx *ctx, const char *text, const ati_config_form *form,
                               void *config);

/* The string field `name` of o, one of the n words; *index gets its index.
 * "WHAT: no string 'NAME'", "WHAT: NAME 'X' is not A, B or C". */
at_status ati_config_json_word(at_ctx *ctx, json_object *o, const char *what, const char *name,
                               const char *const *words, int n, int *index);

/* Writing: the n int fields of config under their names; "seed" as an
 * unsigned 32-bit integer; the n probability fields (but an omit_zero one
 * that is 0), each as the shortest decimal text that reads back as the
 * same float ("0.3", not "0.30000001192092896"). */
void ati_config_json_add_ints(json_object *o, const ati_int_field *ints, size_t n,
                              const void *config);
void ati_config_json_add_seed(json_object *o, uint64_t seed);
void ati_config_json_add_probabilities(json_object *o, const ati_prob_field *probs, size_t n,
                                       const void *config);

/* o as compact JSON text into *out (malloc'd); o is released. o may be
 * NULL (it could not be made): "WHAT: out of memory". */
at_status ati_config_json_finish(at_ctx *ctx, json_object *o, const char *what, char **out);

#endif
