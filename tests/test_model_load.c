/*
 * test_model_load.c - at_seq2seq_load against files that lie.
 *
 * A model file carries its configuration in its metadata ("attend.model")
 * and its parameters as tensors. The loader builds the model the metadata
 * describes, so a lying configuration used to cost the time to build and
 * orthogonally initialise a huge model (23 s for a 76 KB file saying every
 * size is 1024) before the first shape was compared. Here:
 *
 *   - such files are refused in well under half a second, naming the
 *     tensor whose shape does not fit;
 *   - a genuine load initialises nothing: the orthogonal initialisation
 *     works in the context's arena, and a load leaves the arena empty;
 *   - the configuration is read strictly: unknown words ("cell": "xyz"
 *     loaded as a GRU), unknown or missing fields, repeated keys, integers
 *     out of range or not integers, and text after the object are each an
 *     AT_ERR_FORMAT naming the field; a seed above 2^31 survives the trip;
 *     only encoder_layers and dropout may be absent (older files), and a
 *     bad value of either (0 or 9 layers, a dropout outside [0, 1), NaN,
 *     not a number, dropout with one layer) is refused naming the field;
 *   - the file's tensors must be exactly the model's;
 *   - at_seq2seq_read_config reads the configuration alone: the saved
 *     one, field for field; a bad one or a file that is no seq2seq model
 *     is an AT_ERR_FORMAT naming the file.
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {"ab c", "cab", "b", "aacb"};
static const char *const targets[] = {"xy", "yxxyx", "xyyx", "y"};

static at_seq2seq_config small_config(void) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = 4, c.encoder_size = 5, c.decoder_size = 6, c.attn_size = 3;
    c.max_source_len = 8, c.max_target_len = 8, c.seed = 3000000000u;
    return c;
}

static at_seq2seq *make_model(at_ctx *ctx, at_seq2seq_config c) {
    at_vocab *src = NULL, *tgt = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &src, 4, sources));
    CHECK_OK(ctx, at_vocab_build(ctx, &tgt, 4, targets));
    at_seq2seq *m = NULL;
    CHECK_OK(ctx, at_seq2seq_create(ctx, &m, &c, src, tgt));
    return m;
}

/* The configuration text of a small model, with every size = size. */
static void config_text(char *buf, size_t bytes, int size, const char *cell) {
    snprintf(buf, bytes,
             "{\"decoder\":\"luong\",\"attention\":\"additive\",\"cell\":\"%s\","
             "\"seed_teacher_forcing\":1,\"seed_output_from_previous_state\":0,"
             "\"embed_size\":%d,\"encoder_size\":%d,\"decoder_size\":%d,\"attn_size\":%d,"
             "\"heads\":4,\"window\":8,\"max_source_len\":%d,\"max_target_len\":%d,"
             "\"seed\":1}",
             cell, size, size, size, size, size, size);
}

/* The genuine file's tensors with attend.model replaced by config. */
static void write_with_config(at_ctx *ctx, const at_seq2seq *m, const char *genuine,
                              const char *path, const char *config) {
    at_metadata meta = {0};
    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, genuine, &meta));
    CHECK_OK(ctx, at_metadata_set(ctx, &meta, "attend.model", config));
    CHECK_OK(ctx, at_checkpoint_save(ctx, path, at_seq2seq_params(m), &meta));
    at_metadata_clear(&meta);
}

static void expect_refused(at_ctx *ctx, const char *path, at_status status, const char *needle) {
    at_seq2seq *back = NULL;
    at_metadata meta = {0};
    at_status got = at_seq2seq_load(ctx, &back, path, &meta);
    CHECK(got == status && back == NULL && meta.count == 0,
          "%s: load gave '%s' (%s), want '%s' and nothing out", path, at_status_name(got),
          at_ctx_error(ctx), at_status_name(status));
    CHECK(strstr(at_ctx_error(ctx), path) && strstr(at_ctx_error(ctx), needle),
          "%s: the message should name the file and say '%s': %s", path, needle,
          at_ctx_error(ctx));
    at_seq2seq_free(back);
    at_metadata_clear(&meta);
}

/* ------------------------------------------------ lying sizes, quickly */

static void test_lying_sizes(at_ctx *ctx, const at_seq2seq *m) {
    const int sizes[] = {1024, 4096};
    for (int i = 0; i < 2; i++) {
        char config[1024], path[64], needle[64];
        config_text(config, sizeof config, sizes[i], "gru");
        snprintf(path, sizeof path, "sizes_%d.st", sizes[i]);
        write_with_config(ctx, m, "genuine.st", path, config);
        double start = test_seconds();
        at_seq2seq *back = NULL;
        at_status s = at_seq2seq_load(ctx, &back, path, NULL);
        double seconds = test_seconds() - start;
        printf("  a file whose configuration says %d: refused in %.3f s\n", sizes[i], seconds);
        CHECK(s == AT_ERR_SHAPE && back == NULL, "%s: '%s' (%s)", path, at_status_name(s),
              at_ctx_error(ctx));
        snprintf(needle, sizeof needle, ", %d) in the model but (", sizes[i]);
        CHECK(strstr(at_ctx_error(ctx), "source_embed.weight") && strstr(at_ctx_error(ctx), needle),
              "%s: the message should name the tensor and both shapes: %s", path,
              at_ctx_error(ctx));
        CHECK(seconds < 0.5, "%s: refused after %.2f s (limit 0.5 s)", path, seconds);
        at_seq2seq_free(back);
    }
}

/* ------------------------------------------- a genuine load, no init */

static void test_genuine_load_does_not_initialise(const at_seq2seq *m) {
    at_ctx *ctx = test_new_ctx(); /* a fresh arena */
    at_seq2seq *back = NULL;
    at_metadata meta = {0};
    CHECK_OK(ctx, at_seq2seq_load(ctx, &back, "genuine.st", &meta));
    CHECK(at_ctx_arena_used(ctx) == 0,
          "a load used %zu bytes of the arena: it initialised parameters (orthogonally) that "
          "the file then overwrote",
          at_ctx_arena_used(ctx));
    CHECK(at_metadata_get(&meta, "attend.model") != NULL, "the metadata comes back");
    if (back) {
        const at_params *a = at_seq2seq_params(m), *b = at_seq2seq_params(back);
        CHECK(at_params_count(a) == at_params_count(b), "parameter counts %d and %d",
              at_params_count(a), at_params_count(b));
        for (int i = 0; i < at_params_count(a) && i < at_params_count(b); i++)
            check_close(at_params_get(a, i)->name, at_params_get(b, i)->data,
                        at_params_get(a, i)->data, at_params_get(a, i)->size, 0, 0);
        CHECK(at_seq2seq_get_config(back)->seed == 3000000000u,
              "the seed 3000000000 came back as %llu",
              (unsigned long long)at_seq2seq_get_config(back)->seed);
    }
    at_metadata_clear(&meta);
    at_seq2seq_free(back);
    at_ctx_free(ctx);
}

/* ------------------------------------------------ a strict configuration */

static void test_strict_config(at_ctx *ctx, const at_seq2seq *m) {
    const char *head = "{\"decoder\":\"luong\",\"attention\":\"additive\",\"cell\":\"gru\","
                       "\"seed_teacher_forcing\":1,\"seed_output_from_previous_state\":0,"
                       "\"embed_size\":4,\"encoder_size\":5,\"decoder_size\":6,\"attn_size\":3,"
                       "\"heads\":4,\"window\":8,\"max_source_len\":8,\"max_target_len\":8";
    static const struct {
        const char *file, *rest, *needle;
        const char *replace_from, *replace_to; /* in head, or NULL */
    } cases[] = {
        {"cell_xyz.st", ",\"seed\":1}", "cell 'xyz' is not gru or lstm", "\"gru\"", "\"xyz\""},
        {"cell_missing.st", ",\"seed\":1}", "no string 'cell'", "\"cell\":\"gru\",", ""},
        {"decoder_foo.st", ",\"seed\":1}", "decoder 'foo' is not seed or luong", "\"luong\"",
         "\"foo\""},
        {"attention_bogus.st", ",\"seed\":1}", "unknown attention 'bogus'", "\"additive\"",
         "\"bogus\""},
        {"unknown_field.st", ",\"seed\":1,\"depth\":0}", "unknown field 'depth'", NULL, NULL},
        /* the two optional fields: absent is fine, a bad value is not */
        {"layers_zero.st", ",\"seed\":1,\"encoder_layers\":0}",
         "encoder_layers = 0 is outside [1, 8]", NULL, NULL},
        {"layers_nine.st", ",\"seed\":1,\"encoder_layers\":9}",
         "encoder_layers = 9 is outside [1, 8]", NULL, NULL},
        {"layers_float.st", ",\"seed\":1,\"encoder_layers\":2.0}", "no integer 'encoder_layers'",
         NULL, NULL},
        {"layers_string.st", ",\"seed\":1,\"encoder_layers\":\"2\"}", "no integer 'encoder_layers'",
         NULL, NULL},
        {"dropout_one.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":1}",
         "'dropout' = 1 is outside [0, 1)", NULL, NULL},
        {"dropout_negative.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":-0.25}",
         "'dropout' = -0.25 is outside [0, 1)", NULL, NULL},
        {"dropout_nan.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":NaN}",
         "'dropout' = NaN is outside [0, 1)", NULL, NULL},
        {"dropout_rounds_to_one.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":0.99999999999}",
         "'dropout' = 0.99999999999 is outside [0, 1)", NULL, NULL},
        {"dropout_string.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":\"0.1\"}",
         "no number 'dropout'", NULL, NULL},
        {"dropout_one_layer.st", ",\"seed\":1,\"dropout\":0.25}",
         "dropout = 0.25 needs encoder_layers >= 2", NULL, NULL},
        {"dropout_twice.st", ",\"seed\":1,\"encoder_layers\":2,\"dropout\":0.1,\"dropout\":0.2}",
         "'dropout' appears twice", NULL, NULL},
        {"repeated_key.st", ",\"seed\":1,\"embed_size\":4}", "'embed_size' appears twice", NULL,
         NULL},
        {"size_float.st", ",\"seed\":1}", "no integer 'embed_size'", "\"embed_size\":4",
         "\"embed_size\":4.0"},
        {"size_string.st", ",\"seed\":1}", "no integer 'window'", "\"window\":8",
         "\"window\":\"8\""},
        {"size_huge.st", ",\"seed\":1}", "'encoder_size' = 4294967301 is outside",
         "\"encoder_size\":5", "\"encoder_size\":4294967301"},
        {"seed_negative.st", ",\"seed\":-1}", "'seed' = -1 is outside", NULL, NULL},
        {"seed_huge.st", ",\"seed\":4294967296}", "'seed' = 4294967296 is outside", NULL, NULL},
        {"flag_two.st", ",\"seed\":1}", "seed_teacher_forcing = 2 is outside [0, 1]",
         "\"seed_teacher_forcing\":1", "\"seed_teacher_forcing\":2"},
        {"trailing.st", ",\"seed\":1} {}", "after the JSON", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char config[1024];
        snprintf(config, sizeof config, "%s%s", head, cases[i].rest);
        if (cases[i].replace_from) {
            char *at = strstr(config, cases[i].replace_from);
            char tail[1024];
            if (!at) {
                CHECK(0, "%s: '%s' is not in the config", cases[i].file, cases[i].replace_from);
                continue;
            }
            snprintf(tail, sizeof tail, "%s", at + strlen(cases[i].replace_from));
            snprintf(at, sizeof config - (size_t)(at - config), "%s%s", cases[i].replace_to, tail);
        }
        write_with_config(ctx, m, "genuine.st", cases[i].file, config);
        expect_refused(ctx, cases[i].file, AT_ERR_FORMAT, cases[i].needle);
    }
    /* the same text with nothing changed loads: the cases fail for their reason */
    char config[1024];
    snprintf(config, sizeof config, "%s,\"seed\":1}", head);
    write_with_config(ctx, m, "genuine.st", "unchanged.st", config);
    at_seq2seq *back = NULL;
    CHECK_OK(ctx, at_seq2seq_load(ctx, &back, "unchanged.st", NULL));
    at_seq2seq_free(back);
}

/* The configuration alone, as saved; refused as at_seq2seq_load refuses it. */
static void test_read_config(at_ctx *ctx, const at_seq2seq *m) {
    at_seq2seq_config got, want = *at_seq2seq_get_config(m);
    CHECK_OK(ctx, at_seq2seq_read_config(ctx, "genuine.st", &got));
    CHECK(got.decoder == want.decoder && got.attention == want.attention &&
              got.cell == want.cell && got.embed_size == want.embed_size &&
              got.encoder_size == want.encoder_size && got.decoder_size == want.decoder_size &&
              got.attn_size == want.attn_size && got.heads == want.heads &&
              got.window == want.window && got.max_source_len == want.max_source_len &&
              got.max_target_len == want.max_target_len && got.seed == want.seed &&
              got.encoder_layers == want.encoder_layers,
          "read_config: the configuration read differs from the saved one");
    at_status s = at_seq2seq_read_config(ctx, "cell_xyz.st", &got);
    CHECK(s == AT_ERR_FORMAT && strstr(at_ctx_error(ctx), "cell_xyz.st") &&
              strstr(at_ctx_error(ctx), "'xyz'"),
          "read_config of a bad cell: %s %s", at_status_name(s), at_ctx_error(ctx));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "no_model.st", at_seq2seq_params(m), NULL));
    s = at_seq2seq_read_config(ctx, "no_model.st", &got);
    CHECK(s == AT_ERR_FORMAT && strstr(at_ctx_error(ctx), "no_model.st: not an attend seq2seq"),
          "read_config of a file without attend.model: %s %s", at_status_name(s),
          at_ctx_error(ctx));
}

/* The file's tensors are exactly the model's: one more is refused too. */
static void test_extra_tensor(at_ctx *ctx, at_seq2seq *m) {
    at_metadata meta = {0};
    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, "genuine.st", &meta));
    int shape[1] = {2};
    CHECK_OK(ctx, at_params_add(ctx, at_seq2seq_params(m), "stranger", 1, shape, NULL));
    CHECK_OK(ctx, at_checkpoint_save(ctx, "extra.st", at_seq2seq_params(m), &meta));
    at_metadata_clear(&meta);
    expect_refused(ctx, "extra.st", AT_ERR_FORMAT, "unexpected tensor 'stranger'");
}

int main(void) {
    char dir[] = "load_test_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx();
    at_seq2seq *m = make_model(ctx, small_config());
    if (m) {
        CHECK_OK(ctx, at_seq2seq_save(ctx, m, "genuine.st", NULL));
        test_lying_sizes(ctx, m);
        test_genuine_load_does_not_initialise(m);
        test_strict_config(ctx, m);
        test_read_config(ctx, m);
        test_extra_tensor(ctx, m); /* last: it adds a parameter to m */
    }
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
    return test_finish("model_load");
}
