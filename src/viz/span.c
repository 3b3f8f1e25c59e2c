/*
 * span.c - Daniluk et al.'s attention-span figure: how much of its
 * attention a model puts, on average, on the output 1, 2, ..., L steps
 * back (Daniluk, Rocktäschel, Welbl and Riedel 2017, "Frustratingly Short
 * Attention Spans in Neural Language Modeling", figure 3). Their finding
 * is that the mass falls off steeply after the first few steps.
 *
 * Several models on one plot as grouped bars: a group per distance, a bar
 * per model in the model's palette colour, on the fixed scale [0, 1] so
 * plots of different runs compare by eye. When L × models bars would be
 * thinner than 3 px, each model is a line with a marker per distance
 * instead. Every bar is tagged "bar m<model> d<distance>" in the SVG.
 */
#include "viz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MARGIN = 16, AXIS_L = 52, PLOT_H = 300, MIN_PLOT_W = 360, MAX_PLOT_W = 960 };
#define MAX_BAR 22.0
#define MIN_BAR 3.0

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};

typedef struct span_plot {
    int models, L;
    const char *const *names;
    const double *mass;   /* (models, L) */
    double slot, bar;     /* px per distance; px per bar (0: lines) */
    viz_axes a;
} span_plot;

/* Distance d (1-based) of model m: the bar, or the line's point. */
static void draw_model(dl_list *l, const span_plot *p, int m) {
    uint8_t rgb[3];
    char tag[48];
    viz_palette(m, rgb);
    double group = p->models * p->bar;
    for (int d = 1; d <= p->L; d++) {
        double v = p->mass[(size_t)m * p->L + (d - 1)];
        double top = viz_axes_y(&p->a, v), left = p->a.x0 + (d - 1) * p->slot;
        snprintf(tag, sizeof tag, "%s m%d d%d", p->bar > 0 ? "bar" : "point", m, d);
        if (p->bar > 0) {
            dl_rect(l, left + (p->slot - group) / 2 + m * p->bar, top, p->bar,
                    p->a.y0 + p->a.h - top, rgb);
            dl_tag(l, tag);
            continue;
        }
        double cx = left + p->slot / 2;
        if (d > 1) {
            double pv = p->mass[(size_t)m * p->L + (d - 2)];
            dl_line(l, cx - p->slot, viz_axes_y(&p->a, pv), cx, top, 1.6, rgb);
        }
        dl_rect(l, cx - 2.5, top - 2.5, 5, 5, rgb);
        dl_tag(l, tag);
    }
}

/* Distance labels under the groups, every k-th when they would crowd. */
static void distance_ticks(dl_list *l, const span_plot *p) {
    int every = (int)ceil(26.0 / p->slot);
    char text[16];
    for (int d = 1; d <= p->L; d += every) {
        snprintf(text, sizeof text, "%d", d);
        double cx = p->a.x0 + (d - 0.5) * p->slot;
        dl_text(l, cx, p->a.y0 + p->a.h + 12, text, 11, 0, DL_MIDDLE, 0, INK, "tick");
    }
}

/* The legend under the axis: a swatch and a name per model, in rows as
 * wide as the canvas; returns the y under it. */
static double legend(dl_list *l, viz_measure *vm, const span_plot *p, double right) {
    double x = p->a.x0, y = p->a.y0 + p->a.h + 52, w, h;
    char name[256];
    for (int m = 0; m < p->models; m++) {
        viz_display_label(p->names[m], name, sizeof name);
        viz_text_size(vm, name, 11, 0, &w, &h);
        if (x > p->a.x0 && x + 18 + w > right) x = p->a.x0, y += 18;
        uint8_t rgb[3];
        viz_palette(m, rgb);
        dl_rect(l, x, y - 6, 12, 12, rgb);
        dl_text(l, x + 18, y, name, 11, 0, DL_START, 0, INK, "legend");
        x += 18 + w + 22;
    }
    return y + 12;
}

static void build(dl_list *l, viz_measure *vm, span_plot *p, const char *title) {
    dl_rect(l, 0, 0, 1, 1, WHITE);
    dl_text(l, MARGIN, MARGIN + 10, title, 16, 1, DL_START, 0, INK, "heading");
    viz_draw_axes(l, &p->a, NULL, "distance (1 = the previous output)", "mean attention mass");
    distance_ticks(l, p);
    for (int m = 0; m < p->models; m++) draw_model(l, p, m);
    double w, h, right = fmax(p->a.x0 + p->a.w, MARGIN + AXIS_L + MIN_PLOT_W);
    viz_text_size(vm, title, 16, 1, &w, &h);
    double bottom = legend(l, vm, p, right);
    l->width = ceil(fmax(right, MARGIN + w) + MARGIN);
    l->height = ceil(bottom + MARGIN);
    if (!l->failed) {
        l->items[0].w = l->width;
        l->items[0].h = l->height;
    }
}

/* Bars while they are at least MIN_BAR px wide, else lines. */
static void layout(span_plot *p) {
    double slot = fmin((double)MAX_PLOT_W / p->L, p->models * MAX_BAR / 0.75);
    double plot_w = fmax(slot * p->L, MIN_PLOT_W);
    p->slot = plot_w / p->L;
    p->bar = fmin(MAX_BAR, p->slot * 0.75 / p->models);
    if (p->bar < MIN_BAR) p->bar = 0;
    p->a = (viz_axes){MARGIN + AXIS_L, MARGIN + 44, plot_w, PLOT_H, 0, p->L, 0, 1, 0, 1, 0};
}

static at_status check_span(at_ctx *ctx, int models, const char *const *names,
                            const double *mass, int L, const char *title, const char *out_path) {
    if (!out_path || !names || !mass)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "attention span: NULL argument");
    if (models < 1 || models > AT_VIZ_MAX_SERIES || L < 1 || L > AT_VIZ_MAX_SPAN)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "attention span: %d models of %d distances; expected 1..%d models "
                           "and 1..%d distances",
                           models, L, AT_VIZ_MAX_SERIES, AT_VIZ_MAX_SPAN);
    for (int m = 0; m < models; m++) {
        if (!names[m])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "attention span: name %d of %d is NULL (fewer names than models?)",
                               m, models);
        at_status s = at_utf8_check(ctx, names[m], strlen(names[m]), "model name");
        if (s != AT_OK) return s;
        for (int d = 1; d <= L; d++) {
            double v = mass[(size_t)m * L + (d - 1)];
            if (!(v >= 0 && v <= 1)) /* NaN fails both */
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                   "attention span: mass[%d][%d] (%s at distance %d) is %g; a "
                                   "share of the attention is a number in [0, 1]",
                                   m, d - 1, names[m], d, v);
        }
    }
    at_status s = viz_check_drawn_format(ctx, out_path, "the attention-span plot is");
    if (s != AT_OK) return s;
    return title ? at_utf8_check(ctx, title, strlen(title), "title") : AT_OK;
}

at_status at_plot_attention_span(at_ctx *ctx, int models, const char *const *names,
                                 const double *mass, int L, const char *title,
                                 const char *out_path) {
    at_status s = check_span(ctx, models, names, mass, L, title, out_path);
    if (s != AT_OK) return s;
    char ext[8], what[64];
    viz_extension(out_path, ext, sizeof ext);
    snprintf(what, sizeof what, "%d models x %d distances", models, L);
    double shapes = 2.0 * models * L + L + 2.0 * models + 40;
    s = viz_check_budget(ctx, out_path, ext, shapes, MAX_PLOT_W + 200.0, PLOT_H + 200.0, what);
    viz_measure *vm = NULL;
    if (s == AT_OK) s = viz_measure_create(ctx, &vm);
    if (s != AT_OK) return s;
    span_plot p = {.models = models, .L = L, .names = names, .mass = mass};
    layout(&p);
    dl_list l = {0};
    build(&l, vm, &p, title && title[0] ? title : "attention span");
    s = viz_render(ctx, &l, out_path, ext);
    dl_free(&l);
    viz_measure_free(vm);
    return s;
}
