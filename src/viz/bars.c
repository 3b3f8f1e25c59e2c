/*
 * bars.c - the top-weighted words of each class: what a classifier's
 * attention rests on, summed over a test set (Yang et al. 2016 show such
 * words per class for HAN).
 *
 * One horizontal bar chart per class (a panel), side by side: the words
 * down the side, top to bottom as given (the caller sorts them), each
 * beside a bar in the panel's palette colour as long as its value, and the
 * value written at the bar's end. Every panel shares one scale, from 0 to
 * a nice number at or above the largest value, so a bar twice as long
 * means twice the weight in any panel. Every bar is tagged
 * "bar p<panel> w<index>" in the SVG, its word "word p<panel> w<index>".
 */
#include "internal.h"
#include "viz.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { MARGIN = 16, ROW_H = 22, BAR_W = 260, GAP = 36, LABEL_BYTES = 96 };
#define WORD_FONT 12.0
#define VALUE_FONT 10.5

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};

typedef struct bar_chart {
    int panels, k;
    const char *const *titles;
    const char *const *words;  /* (panels, k) */
    const double *values;      /* (panels, k) */
    const char *value_label;
    double xmax;               /* the shared scale's end */
} bar_chart;

/* A nice number at or above the largest value (1 if every value is 0). */
static double scale_end(const double *values, size_t n) {
    double most = 0;
    for (size_t i = 0; i < n; i++) most = fmax(most, values[i]);
    if (!(most > 0)) return 1;
    double step = viz_nice_step(most, 4);
    return ceil(most / step - 1e-9) * step;
}

/* Panel p with its left edge at x; returns the x where the next may start. */
static double draw_panel(dl_list *l, viz_measure *vm, const bar_chart *c, int p, double x) {
    char label[LABEL_BYTES], value[32], tag[48];
    double label_w = 0, value_w = 0, w, h;
    for (int i = 0; i < c->k; i++) {
        viz_display_label(c->words[(size_t)p * c->k + i], label, sizeof label);
        viz_text_size(vm, label, WORD_FONT, 0, &w, &h);
        label_w = fmax(label_w, w);
        snprintf(value, sizeof value, "%.4g", c->values[(size_t)p * c->k + i]);
        viz_text_size(vm, value, VALUE_FONT, 0, &w, &h);
        value_w = fmax(value_w, w);
    }
    viz_axes a = {x + label_w + 8, MARGIN + 34, BAR_W, (double)c->k * ROW_H, 0, c->xmax,
                  0, 1, 0, 0, 1};
    viz_draw_axes(l, &a, NULL, c->value_label, NULL);
    dl_text(l, x, MARGIN + 12, c->titles[p], 13, 1, DL_START, 0, INK, "panel-title");
    uint8_t rgb[3];
    viz_palette(p, rgb);
    for (int i = 0; i < c->k; i++) {
        double v = c->values[(size_t)p * c->k + i], y = a.y0 + i * ROW_H;
        double length = viz_axes_x(&a, v) - a.x0;
        dl_rect(l, a.x0, y + 3, length, ROW_H - 6, rgb);
        snprintf(tag, sizeof tag, "bar p%d w%d", p, i);
        dl_tag(l, tag);
        viz_display_label(c->words[(size_t)p * c->k + i], label, sizeof label);
        snprintf(tag, sizeof tag, "word p%d w%d", p, i);
        dl_text(l, a.x0 - 6, y + ROW_H / 2.0, label, WORD_FONT, 0, DL_END, 0, INK, tag);
        snprintf(value, sizeof value, "%.4g", v);
        dl_text(l, a.x0 + length + 4, y + ROW_H / 2.0, value, VALUE_FONT, 0, DL_START, 0, GREY,
                "value");
    }
    return a.x0 + BAR_W + fmax(value_w + 8, 24) + GAP;
}

static at_status build(at_ctx *ctx, dl_list *l, const bar_chart *c) {
    viz_measure *vm;
    AT_TRY(viz_measure_create(ctx, &vm));
    dl_rect(l, 0, 0, 1, 1, WHITE);
    double x = MARGIN, right = 0, w, h;
    for (int p = 0; p < c->panels; p++) {
        viz_text_size(vm, c->titles[p], 13, 1, &w, &h);
        right = fmax(right, x + w);
        x = draw_panel(l, vm, c, p, x);
    }
    viz_measure_free(vm);
    l->width = ceil(fmax(x - GAP, right) + MARGIN);
    l->height = ceil(MARGIN + 34 + (double)c->k * ROW_H + 44 + MARGIN);
    if (!l->failed) {
        l->items[0].w = l->width;
        l->items[0].h = l->height;
    }
    return AT_OK;
}

static at_status check_top_words(at_ctx *ctx, int panels, const char *const *titles, int k,
                                 const char *const *words, const double *values,
                                 const char *value_label, const char *path) {
    if (!titles || !words || !values || !path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "top words: NULL argument");
    if (panels < 1 || panels > AT_VIZ_MAX_SERIES || k < 1 || k > AT_VIZ_MAX_TOP_WORDS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "top words: %d panels of %d words; expected 1..%d panels of 1..%d "
                           "words",
                           panels, k, AT_VIZ_MAX_SERIES, AT_VIZ_MAX_TOP_WORDS);
    for (int p = 0; p < panels; p++) {
        if (!titles[p])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "top words: panel title %d is NULL", p);
        AT_TRY(at_utf8_check(ctx, titles[p], strlen(titles[p]), "panel title"));
        for (int i = 0; i < k; i++) {
            const char *word = words[(size_t)p * k + i];
            double v = values[(size_t)p * k + i];
            if (!word)
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                   "top words: word %d of panel %d (%s) is NULL", i, p, titles[p]);
            AT_TRY(at_utf8_check(ctx, word, strlen(word), "word"));
            if (!(isfinite(v) && v >= 0)) /* NaN fails */
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                   "top words: value of \"%s\" (word %d of panel %d, %s) is %g; "
                                   "a bar's value is a finite number >= 0",
                                   word, i, p, titles[p], v);
        }
    }
    if (value_label) AT_TRY(at_utf8_check(ctx, value_label, strlen(value_label), "value label"));
    return viz_check_drawn_format(ctx, path, "the top-words figure is");
}

at_status at_plot_top_words(at_ctx *ctx, int panels, const char *const *panel_titles, int k,
                            const char *const *words, const double *values,
                            const char *value_label, const char *path) {
    AT_TRY(check_top_words(ctx, panels, panel_titles, k, words, values, value_label, path));
    bar_chart c = {panels, k, panel_titles, words, values,
                   value_label ? value_label : "weight",
                   scale_end(values, (size_t)panels * k)};
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    dl_list l = {0};
    at_status s = build(ctx, &l, &c);
    if (s == AT_OK) s = viz_render(ctx, &l, path, ext);
    dl_free(&l);
    return s;
}
