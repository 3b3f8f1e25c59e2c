/*
 * curves.c - training curves from a metrics file of JSON lines.
 *
 * Every numeric field of a line with a "step" becomes a point of the
 * series of that name. Series whose name contains "loss" are drawn in the
 * left panel; names with "acc", "exact", "match" or "char" (per-character
 * accuracy, e.g. "valid_char") in the right one, on
 * the fixed scale [0, 1]. The loss is drawn on a log scale: it falls by
 * orders of magnitude, and the first steps, where the learning happens,
 * would otherwise squash the rest into a flat line (a loss <= 0 cannot be
 * shown there and is left out). Axis ticks are "nice" numbers (1, 2 or 5
 * times a power of ten). Lines that are not JSON objects are format errors
 * naming the line; blank lines, lines without "step" and other fields are
 * skipped, so the trainer may log whatever else it likes. The file is
 * read whole with the library's capped reader (AT_VIZ_MAX_METRICS_BYTES), and the
 * number of points is held to the drawing budget before anything is drawn.
 */
#include "files.h"
#include "viz.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SERIES = 12, PLOT_W = 420, PLOT_H = 260, MARGIN = 16, AXIS_L = 52, AXIS_B = 72 };

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};
static const uint8_t GRID[3] = {0xE6, 0xE6, 0xE6};
static const uint8_t PALETTE[6][3] = {{0x3B, 0x52, 0x8B}, {0xE4, 0x57, 0x2E}, {0x21, 0x90, 0x8C},
                                      {0x8E, 0x44, 0xAD}, {0x5D, 0xA8, 0x3A}, {0xC9, 0x8B, 0x00}};

typedef struct series {
    char name[64];
    double *x, *y;
    size_t n, cap;
    int panel; /* 0 loss, 1 accuracy */
} series;

typedef struct curves {
    series s[MAX_SERIES];
    int count;
    double x_min, x_max;
} curves;

static int panel_of(const char *name) {
    if (strstr(name, "loss")) return 0;
    if (strstr(name, "acc") || strstr(name, "exact") || strstr(name, "match") ||
        strstr(name, "char"))
        return 1;
    return -1;
}

static int add_point(curves *c, const char *name, double x, double y) {
    int panel = panel_of(name);
    if (panel < 0 || !isfinite(y)) return 1;
    int i = 0;
    while (i < c->count && strcmp(c->s[i].name, name)) i++;
    if (i == c->count) {
        if (c->count == MAX_SERIES) return 1; /* enough lines for one figure */
        snprintf(c->s[i].name, sizeof c->s[i].name, "%s", name);
        c->s[i].panel = panel;
        c->count++;
    }
    series *s = &c->s[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return 0;
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return 0;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 1;
}

static void curves_free(curves *c) {
    for (int i = 0; i < c->count; i++) {
        free(c->s[i].x);
        free(c->s[i].y);
    }
}

static at_status parse_line(at_ctx *ctx, curves *c, const char *path, long lineno,
                            const char *line, size_t len) {
    size_t i = 0;
    while (i < len && strchr(" \t\r", line[i])) i++;
    if (i == len) return AT_OK;
    json_tokener *tok = json_tokener_new();
    if (!tok) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    int ok = obj && json_tokener_get_error(tok) == json_tokener_success &&
             json_object_is_type(obj, json_type_object);
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(obj);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: not a JSON object", path, lineno);
    }
    json_object *step;
    int good = 1;
    if (json_object_object_get_ex(obj, "step", &step) &&
        (json_object_is_type(step, json_type_int) || json_object_is_type(step, json_type_double))) {
        double x = json_object_get_double(step);
        json_object_object_foreach(obj, key, val) {
            if (json_object_is_type(val, json_type_int) || json_object_is_type(val, json_type_double))
                good = good && add_point(c, key, x, json_object_get_double(val));
        }
    }
    json_object_put(obj);
    return good ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
}

static at_status read_metrics(at_ctx *ctx, const char *path, curves *c) {
    char *text = NULL;
    size_t len = 0;
    at_status s = atf_read(ctx, path, AT_VIZ_MAX_METRICS_BYTES, "a metrics file", &text, &len);
    long lineno = 1;
    for (size_t start = 0; s == AT_OK && start < len; lineno++) {
        char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        s = parse_line(ctx, c, path, lineno, text + start, end - start);
        start = end + 1;
    }
    free(text);
    return s;
}

/* The budget (viz_check_budget): a line per point. */
static at_status curves_budget(at_ctx *ctx, const curves *c, const char *path, const char *ext) {
    double points = 0;
    for (int i = 0; i < c->count; i++)
        points += (double)c->s[i].n;
    char what[64];
    snprintf(what, sizeof what, "%.0f points", points);
    return viz_check_budget(ctx, path, ext, points, 2.0 * PLOT_W, 2.0 * PLOT_H, what);
}

/* A nice tick step for a range shown with about `want` ticks. */
static double nice_step(double range, int want) {
    double raw = range / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

typedef struct axes {
    double x0, y0;              /* plot area's top-left        */
    double xmin, xmax, ymin, ymax;
    int log_y;                  /* ymin, ymax are log10 of the values */
} axes;

static double ax_x(const axes *a, double x) {
    return a->x0 + (x - a->xmin) / (a->xmax - a->xmin) * PLOT_W;
}
static double ax_y(const axes *a, double y) {
    double v = a->log_y ? log10(y) : y;
    return a->y0 + PLOT_H - (v - a->ymin) / (a->ymax - a->ymin) * PLOT_H;
}

/* Log-scale ticks: 1, 2 and 5 times each power of ten in range, or only
 * the powers when the range spans more than three decades. */
static void draw_log_ticks(dl_list *l, const axes *a) {
    static const double mantissas[3] = {1, 2, 5};
    int every = a->ymax - a->ymin > 3 ? 1 : 3;
    char text[32];
    for (int d = (int)floor(a->ymin); d <= (int)ceil(a->ymax); d++)
        for (int k = 0; k < every; k++) {
            double y = mantissas[k] * pow(10, d), v = log10(y);
            if (v < a->ymin - 1e-9 || v > a->ymax + 1e-9) continue;
            dl_line(l, a->x0, ax_y(a, y), a->x0 + PLOT_W, ax_y(a, y), 1, GRID);
            snprintf(text, sizeof text, "%g", y);
            dl_text(l, a->x0 - 6, ax_y(a, y), text, 11, 0, DL_END, 0, INK, "tick");
        }
}

static void draw_axes(dl_list *l, const axes *a, const char *title, const char *ylabel) {
    char text[32];
    double ys = nice_step(a->ymax - a->ymin, 5), xs = nice_step(a->xmax - a->xmin, 6);
    if (a->log_y) draw_log_ticks(l, a);
    for (double y = ceil(a->ymin / ys) * ys; !a->log_y && y <= a->ymax + ys * 1e-9; y += ys) {
        dl_line(l, a->x0, ax_y(a, y), a->x0 + PLOT_W, ax_y(a, y), 1, GRID);
        snprintf(text, sizeof text, "%g", fabs(y) < ys * 1e-9 ? 0.0 : y);
        dl_text(l, a->x0 - 6, ax_y(a, y), text, 11, 0, DL_END, 0, INK, "tick");
    }
    for (double x = ceil(a->xmin / xs) * xs; x <= a->xmax + xs * 1e-9; x += xs) {
        dl_line(l, ax_x(a, x), a->y0, ax_x(a, x), a->y0 + PLOT_H, 1, GRID);
        snprintf(text, sizeof text, "%g", x);
        dl_text(l, ax_x(a, x), a->y0 + PLOT_H + 12, text, 11, 0, DL_MIDDLE, 0, INK, "tick");
    }
    dl_line(l, a->x0, a->y0 + PLOT_H, a->x0 + PLOT_W, a->y0 + PLOT_H, 1, INK);
    dl_line(l, a->x0, a->y0, a->x0, a->y0 + PLOT_H, 1, INK);
    dl_text(l, a->x0, a->y0 - 14, title, 13, 1, DL_START, 0, INK, "panel-title");
    dl_text(l, a->x0 + PLOT_W / 2.0, a->y0 + PLOT_H + 30, "step", 11, 0, DL_MIDDLE, 0, GREY,
            "axis");
    dl_text(l, a->x0 - 40, a->y0 + PLOT_H / 2.0, ylabel, 11, 0, DL_MIDDLE, 1, GREY, "axis");
}

static void draw_panel(dl_list *l, const curves *c, int panel, const axes *a) {
    int k = 0;
    for (int i = 0; i < c->count; i++) {
        const series *s = &c->s[i];
        if (s->panel != panel) continue;
        const uint8_t *rgb = PALETTE[k % 6];
        for (size_t j = 1; j < s->n; j++) {
            if (a->log_y && (s->y[j - 1] <= 0 || s->y[j] <= 0)) continue;
            dl_line(l, ax_x(a, s->x[j - 1]), ax_y(a, s->y[j - 1]), ax_x(a, s->x[j]),
                    ax_y(a, s->y[j]), 2, rgb);
        }
        if (s->n == 1)
            dl_rect(l, ax_x(a, s->x[0]) - 2, ax_y(a, s->y[0]) - 2, 4, 4, rgb);
        /* legend: one row under the x axis, out of the curves' way */
        double lx = a->x0 + 118 * (k % 3), ly = a->y0 + PLOT_H + 50 + 16 * (k / 3);
        dl_line(l, lx, ly, lx + 18, ly, 3, rgb);
        dl_text(l, lx + 24, ly, s->name, 11, 0, DL_START, 0, INK, "legend");
        k++;
    }
}

/* The loss panel's range in log10, from the smallest positive loss to the
 * largest, padded a little; 0 if no loss is positive. */
static int log_range(const curves *c, double *lo, double *hi) {
    double least = INFINITY, most = 0;
    for (int i = 0; i < c->count; i++)
        for (size_t j = 0; c->s[i].panel == 0 && j < c->s[i].n; j++)
            if (c->s[i].y[j] > 0) {
                least = fmin(least, c->s[i].y[j]);
                most = fmax(most, c->s[i].y[j]);
            }
    if (!(most > 0)) return 0;
    *lo = log10(least);
    *hi = log10(most);
    if (*hi - *lo < 0.3) *lo -= 0.15, *hi += 0.15;
    double pad = 0.04 * (*hi - *lo);
    *lo -= pad;
    *hi += pad;
    return 1;
}

/* The y range of a panel's series: loss from 0 (or below) to its max. */
static int panel_range(const curves *c, int panel, double *lo, double *hi) {
    int any = 0;
    *lo = 0;
    *hi = panel == 1 ? 1 : 0;
    for (int i = 0; i < c->count; i++)
        if (c->s[i].panel == panel && c->s[i].n > 0) {
            any = 1;
            for (size_t j = 0; j < c->s[i].n; j++) {
                *lo = fmin(*lo, c->s[i].y[j]);
                *hi = fmax(*hi, c->s[i].y[j]);
            }
        }
    if (*hi - *lo < 1e-12) *hi = *lo + 1;
    if (panel == 0) *hi *= 1.05;
    return any;
}

static void x_range(curves *c) {
    c->x_min = INFINITY;
    c->x_max = -INFINITY;
    for (int i = 0; i < c->count; i++)
        for (size_t j = 0; j < c->s[i].n; j++) {
            c->x_min = fmin(c->x_min, c->s[i].x[j]);
            c->x_max = fmax(c->x_max, c->s[i].x[j]);
        }
    if (c->x_max - c->x_min < 1e-12) c->x_max = c->x_min + 1;
}

static void build(dl_list *l, curves *c, const char *title) {
    x_range(c);
    dl_rect(l, 0, 0, 1, 1, WHITE);
    dl_text(l, MARGIN, MARGIN + 10, title, 16, 1, DL_START, 0, INK, "heading");
    double x = MARGIN + AXIS_L;
    static const char *names[2] = {"loss", "accuracy"};
    for (int panel = 0; panel < 2; panel++) {
        axes a = {x, MARGIN + 58, c->x_min, c->x_max, 0, 1, 0};
        if (!panel_range(c, panel, &a.ymin, &a.ymax)) continue;
        if (panel == 0) a.log_y = log_range(c, &a.ymin, &a.ymax);
        draw_axes(l, &a, names[panel], panel == 0 && a.log_y ? "loss (log scale)" : names[panel]);
        draw_panel(l, c, panel, &a);
        x += PLOT_W + AXIS_L + 24;
    }
    l->width = x - AXIS_L - 24 + MARGIN + 12;
    l->height = MARGIN + 58 + PLOT_H + AXIS_B + MARGIN;
    if (!l->failed) {
        l->items[0].w = l->width;
        l->items[0].h = l->height;
    }
}

at_status at_plot_metrics(at_ctx *ctx, const char *metrics_path, const char *out_path,
                          const char *title) {
    if (!metrics_path || !out_path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "metrics plot: NULL path");
    char ext[8];
    viz_extension(out_path, ext, sizeof ext);
    if (strcmp(ext, "png") && strcmp(ext, "svg") && strcmp(ext, "pdf"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: training curves are .png, .svg or .pdf",
                           out_path);
    curves c;
    memset(&c, 0, sizeof c);
    at_status s = read_metrics(ctx, metrics_path, &c);
    int any = 0;
    for (int i = 0; i < c.count; i++) any = any || c.s[i].n > 0;
    if (s == AT_OK && !any)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT,
                        "%s: no line has a \"step\" with a loss or accuracy field", metrics_path);
    if (s == AT_OK) s = curves_budget(ctx, &c, out_path, ext);
    if (s == AT_OK) {
        dl_list l = {0};
        build(&l, &c, title && title[0] ? title : "training");
        s = viz_render(ctx, &l, out_path, ext);
        dl_free(&l);
    }
    curves_free(&c);
    return s;
}
