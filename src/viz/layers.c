/*
 * layers.c - the attention of a language model on one passage: every head
 * of every layer, as at_lm_attention_of gives it. As an interactive page
 * with a layer selector and a head selector (bertviz's head view and
 * model view, offline), or as a grid of small heatmaps, a row per layer
 * and a column per head (PNG, SVG, PDF).
 *
 * Both are drawn by the attention-map code (html.c, heatmap.c): each layer
 * becomes a map of H heads of T x T whose rows and columns are the
 * passage's characters and whose weights point into the caller's array,
 * so nothing is copied. Before that the weights are checked: finite, in
 * [0, 1], no row summing to more than 1, and causal (no weight on a later
 * key), which also catches weights transposed or laid out for another
 * length.
 */
#include "viz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_SUM_SLACK 1e-3
#define PASSAGE_SHOWN 160 /* characters of the passage in the subheading */

static at_status check_shape(at_ctx *ctx, const at_lm_attention *a, const char *title,
                             const char *out_path) {
    if (!a || !out_path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language-model attention plot: NULL argument");
    if (a->layers < 1 || a->layers > AT_VIZ_MAX_LAYERS || a->heads < 1 ||
        a->heads > AT_VIZ_MAX_HEADS || a->length < 1 || a->length > AT_VIZ_MAX_TOKENS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: %d layers, %d heads, length %d; expected 1..%d layers, 1..%d "
                           "heads and a length of 1..%d",
                           out_path, a->layers, a->heads, a->length, AT_VIZ_MAX_LAYERS,
                           AT_VIZ_MAX_HEADS, AT_VIZ_MAX_TOKENS);
    if (!a->weights || !a->labels)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the attention has no %s", out_path,
                           a->weights ? "labels" : "weights");
    for (int t = 0; t < a->length; t++) {
        if (!a->labels[t])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: label %d of %d is NULL (fewer labels than the length?)",
                               out_path, t, a->length);
        at_status s = at_utf8_check(ctx, a->labels[t], strlen(a->labels[t]), "label");
        if (s != AT_OK) return s;
    }
    return title ? at_utf8_check(ctx, title, strlen(title), "title") : AT_OK;
}

/* Row t of head h of layer l: weights[l][h][t][0 .. T). */
static at_status check_row(at_ctx *ctx, const at_lm_attention *a, const char *out_path, int l,
                           int h, int t) {
    int T = a->length;
    const float *row = a->weights + (((size_t)l * a->heads + h) * T + t) * T;
    double sum = 0;
    for (int s = 0; s < T; s++) {
        double v = row[s];
        if (!(v >= 0 && v <= 1)) /* NaN fails both */
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: weights[%d][%d][%d][%d] is %g; attention weights are "
                               "numbers in [0, 1]",
                               out_path, l, h, t, s, v);
        if (s > t && v != 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: weights[%d][%d][%d][%d] is %g: position %d attends to the "
                               "later position %d, but a language model's attention is causal "
                               "(are the weights transposed, or laid out for another length "
                               "than %d?)",
                               out_path, l, h, t, s, v, t, s, T);
        sum += v;
    }
    if (sum > 1 + ROW_SUM_SLACK)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: weights[%d][%d][%d] sums to %g, more than 1 (laid out for "
                           "another length than %d?)",
                           out_path, l, h, t, sum, T);
    return AT_OK;
}

static at_status check_weights(at_ctx *ctx, const at_lm_attention *a, const char *out_path) {
    for (int l = 0; l < a->layers; l++)
        for (int h = 0; h < a->heads; h++)
            for (int t = 0; t < a->length; t++) {
                at_status s = check_row(ctx, a, out_path, l, h, t);
                if (s != AT_OK) return s;
            }
    return AT_OK;
}

/* The layers as maps that point into the attention (not owning it). */
typedef struct layer_maps {
    at_attention_map *maps;
    const at_attention_map **list;
    char (*names)[24];
    char *passage;
} layer_maps;

static void layer_maps_free(layer_maps *lm) {
    free(lm->maps);
    free(lm->list);
    free(lm->names);
    free(lm->passage);
}

static at_status layer_maps_make(at_ctx *ctx, const at_lm_attention *a, layer_maps *lm) {
    static char nothing[1] = "";
    int L = a->layers, H = a->heads, T = a->length;
    size_t n = L > 0 ? (size_t)L : 1; /* L >= 1 (checked); for the compiler */
    lm->maps = calloc(n, sizeof *lm->maps);
    lm->list = calloc(n, sizeof *lm->list);
    lm->names = calloc(n, sizeof *lm->names);
    lm->passage = viz_display_passage(a->labels, T, PASSAGE_SHOWN);
    if (!lm->maps || !lm->list || !lm->names || !lm->passage) {
        layer_maps_free(lm);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "language-model attention plot: out of memory");
    }
    for (int l = 0; l < L; l++) {
        snprintf(lm->names[l], sizeof lm->names[l], "layer %d", l + 1);
        lm->maps[l] = (at_attention_map){H, T, T, a->weights + (size_t)l * H * T * T,
                                         a->labels, a->labels, lm->passage, lm->names[l],
                                         nothing};
        lm->list[l] = &lm->maps[l];
    }
    return AT_OK;
}

at_status at_plot_lm_attention(at_ctx *ctx, const at_lm_attention *attention, const char *title,
                               const char *out_path) {
    at_status s = check_shape(ctx, attention, title, out_path);
    if (s != AT_OK) return s;
    char ext[8];
    viz_extension(out_path, ext, sizeof ext);
    if (strcmp(ext, "html") && strcmp(ext, "png") && strcmp(ext, "svg") && strcmp(ext, "pdf"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: unknown figure format '.%s' (use .png, .svg, .pdf or .html)",
                           out_path, ext);
    if ((s = check_weights(ctx, attention, out_path)) != AT_OK) return s;
    layer_maps lm = {0};
    if ((s = layer_maps_make(ctx, attention, &lm)) != AT_OK) return s;
    const char *heading = title && title[0] ? title : "attention of every layer and head";
    int L = attention->layers;
    if (!strcmp(ext, "html")) {
        s = viz_html_budget(ctx, L, lm.list, out_path);
        if (s == AT_OK) s = viz_html_layers(ctx, L, lm.list, heading, out_path);
    } else {
        char what[96];
        snprintf(what, sizeof what, "%d layers x %d heads of %d x %d", L, attention->heads,
                 attention->length, attention->length);
        s = viz_plot_head_grid(ctx, L, lm.list, heading, lm.passage, what, out_path, ext);
    }
    layer_maps_free(&lm);
    return s;
}
