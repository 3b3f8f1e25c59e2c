/*
 * translation.c - the bridge from a translation to an attention map, so
 * that `attend translate --plot`, `attend compare` and any program that
 * translates can draw what the model looked at in two calls:
 *   at_attention_map_from_translation(...)  then  at_plot_map(...).
 */
#include "viz.h"

#include <stdlib.h>
#include <string.h>

static const char *decoder_name(const at_seq2seq_config *c) {
    if (c->decoder == AT_DECODER_SEED) return "seed decoder";
    return c->cell == AT_CELL_LSTM ? "luong-lstm" : "luong-gru";
}

/* Labels "1", "2", ... when a text does not split into n units. */
static at_status index_labels(at_ctx *ctx, at_attention_map *m, int rows) {
    int n = rows ? m->rows : m->cols;
    char **labels = calloc((size_t)n, sizeof *labels);
    if (!labels) return at_ctx_fail(ctx, AT_ERR_MEMORY, "attention map: out of memory");
    at_status s = AT_OK;
    for (int i = 0; i < n && s == AT_OK; i++) {
        char text[16];
        snprintf(text, sizeof text, "%d", i + 1);
        if (!(labels[i] = viz_strdup(text)))
            s = at_ctx_fail(ctx, AT_ERR_MEMORY, "attention map: out of memory");
    }
    if (s == AT_OK)
        s = at_attention_map_set_labels(ctx, m, rows ? (const char *const *)labels : NULL,
                                        rows ? NULL : (const char *const *)labels);
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
    return s;
}

/* One label per unit of text as vocab splits it (a character or a token),
 * else index labels. */
static at_status set_side(at_ctx *ctx, at_attention_map *m, const at_vocab *vocab,
                          const char *text, int rows) {
    int want = rows ? m->rows : m->cols, n = 0;
    char **units = NULL;
    if (!text || at_vocab_split(ctx, vocab, text, &units, &n) != AT_OK || n != want) {
        free(units);
        return index_labels(ctx, m, rows);
    }
    const char *const *labels = (const char *const *)units;
    at_status s = at_attention_map_set_labels(ctx, m, rows ? labels : NULL, rows ? NULL : labels);
    free(units);
    return s;
}

at_status at_attention_map_from_translation(at_ctx *ctx, at_attention_map **out,
                                            const struct at_seq2seq *model,
                                            const char *model_name, const char *input,
                                            const struct at_translation *t) {
    if (!out || !model || !t || !t->weights)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "map from translation: NULL argument");
    *out = NULL;
    if (t->target_len < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "map from translation: the output is empty, nothing to draw");
    at_attention_map *m;
    at_status s = at_attention_map_create(ctx, &m, t->heads, t->target_len, t->source_len);
    if (s != AT_OK) return s;
    for (int h = 0; h < t->heads && s == AT_OK; h++)
        s = at_attention_map_set_weights(
            ctx, m, h, t->weights + (size_t)h * t->target_len * t->source_len, t->source_len);
    if (s == AT_OK) s = set_side(ctx, m, at_seq2seq_target_vocab(model), t->text, 1);
    if (s == AT_OK) s = set_side(ctx, m, at_seq2seq_source_vocab(model), input, 0);
    const at_seq2seq_config *c = at_seq2seq_get_config(model);
    const char *mechanism = c->decoder == AT_DECODER_SEED ? "additive" : at_attention_kind_name(c->attention);
    size_t n = (input ? strlen(input) : 0) + strlen(t->text ? t->text : "") + 16;
    char *title = malloc(n);
    if (s == AT_OK && !title) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "attention map: out of memory");
    if (s == AT_OK) {
        /* U+200E (LRM) after the input: an Arabic input must not pull the
         * output's digits into its right-to-left run ("09-05-2018"). */
        snprintf(title, n, "%s\xE2\x80\x8E \xE2\x86\x92 %s", input ? input : "", t->text ? t->text : "");
        s = at_attention_map_set_text(ctx, m, title, model_name ? model_name : decoder_name(c),
                                      mechanism ? mechanism : "");
    }
    free(title);
    if (s != AT_OK) {
        at_attention_map_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}
