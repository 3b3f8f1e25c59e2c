/*
 * curves.c - training curves from metrics files of JSON lines: one run
 * (at_plot_metrics, against the step) or several runs on one plot
 * (at_plot_runs, against wall-clock time).
 *
 * One run: every numeric field of a line with a "step" becomes a point of the
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
 *
 * Several runs: the x of a point is the line's "seconds" (drawn in
 * minutes), the y its "loss" (training, a thin line) and "valid_nats"
 * (validation, a thick line with markers), one colour per run. Read
 * strictly: a line with a "step" but no "seconds", or with a loss that is
 * not a finite number, is a format error naming the file and line, as a
 * line that is not JSON is.
 */
#include "files.h"
#include "viz.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SERIES = 12, PLOT_W = 420, PLOT_H = 260, MARGIN = 16, AXIS_L = 52, AXIS_B = 72 };
enum { RUNS_W = 640, RUNS_H = 380 };

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};

typedef struct series {
    char name[64];
    double *x, *y;
    size_t n, cap;
    int panel; /* at_plot_metrics: 0 loss, 1 accuracy; at_plot_runs: 0 loss, 1 valid_nats */
} series;

/* What a metrics file is read into, and how. */
typedef struct curves {
    series s[MAX_SERIES];
    int count;
    double x_min, x_max;
    const char *x_field;                /* a point's x: "step" or "seconds"     */
    int (*panel_of)(const char *name);  /* a field's panel; -1: not drawn       */
    int strict; /* a line with "step" must have x_field, and every drawn field
                   must be a finite number (else AT_ERR_FORMAT naming the line) */
} curves;

static int metrics_panel(const char *name) {
    if (strstr(name, "loss")) return 0;
    if (strstr(name, "acc") || strstr(name, "exact") || strstr(name, "match") ||
        strstr(name, "char"))
        return 1;
    return -1;
}

static int add_point(curves *c, const char *name, int panel, double x, double y) {
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

static int is_number(json_object *v) {
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* The points of one line that has a "step": x from c->x_field, a point for
 * each drawn field. */
static at_status line_points(at_ctx *ctx, curves *c, const char *path, long lineno,
                             json_object *obj) {
    json_object *xv;
    if (!json_object_object_get_ex(obj, c->x_field, &xv) || !is_number(xv) ||
        !isfinite(json_object_get_double(xv)))
        return c->strict ? at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: no \"%s\" number", path,
                                       lineno, c->x_field)
                         : AT_OK;
    double x = json_object_get_double(xv);
    json_object_object_foreach(obj, key, val) {
        int panel = c->panel_of(key);
        if (panel < 0) continue;
        double y = is_number(val) ? json_object_get_double(val) : NAN;
        if (!isfinite(y)) {
            if (c->strict)
                return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: \"%s\" is not a finite number",
                                   path, lineno, key);
            continue;
        }
        if (!add_point(c, key, panel, x, y))
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    }
    return AT_OK;
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
    at_status s = AT_OK;
    if (json_object_object_get_ex(obj, "step", &step) && is_number(step))
        s = line_points(ctx, c, path, lineno, obj);
    json_object_put(obj);
    return s;
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

/* A series as a polyline of width `width` (points <= 0 left out on a log
 * scale); a lone point as a small square. */
static void draw_series(dl_list *l, const series *s, const viz_axes *a, double width,
                        const uint8_t rgb[3], const char *tag) {
    for (size_t j = 1; j < s->n; j++) {
        if (a->log_y && (s->y[j - 1] <= 0 || s->y[j] <= 0)) continue;
        dl_line(l, viz_axes_x(a, s->x[j - 1]), viz_axes_y(a, s->y[j - 1]), viz_axes_x(a, s->x[j]),
                viz_axes_y(a, s->y[j]), width, rgb);
        if (tag) dl_tag(l, tag);
    }
    if (s->n == 1) {
        dl_rect(l, viz_axes_x(a, s->x[0]) - 2, viz_axes_y(a, s->y[0]) - 2, 4, 4, rgb);
        if (tag) dl_tag(l, tag);
    }
}

static void draw_panel(dl_list *l, const curves *c, int panel, const viz_axes *a) {
    int k = 0;
    for (int i = 0; i < c->count; i++) {
        const series *s = &c->s[i];
        if (s->panel != panel) continue;
        uint8_t rgb[3];
        viz_palette(k % 6, rgb);
        draw_series(l, s, a, 2, rgb, NULL);
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
        viz_axes a = {x, MARGIN + 58, PLOT_W, PLOT_H, c->x_min, c->x_max, 0, 1, 0, 0, 0};
        if (!panel_range(c, panel, &a.ymin, &a.ymax)) continue;
        if (panel == 0) a.log_y = log_range(c, &a.ymin, &a.ymax);
        viz_draw_axes(l, &a, names[panel], "step",
                      panel == 0 && a.log_y ? "loss (log scale)" : names[panel]);
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
    at_status s = viz_check_drawn_format(ctx, out_path, "training curves are");
    if (s != AT_OK) return s;
    char ext[8];
    viz_extension(out_path, ext, sizeof ext);
    curves c;
    memset(&c, 0, sizeof c);
    c.x_field = "step";
    c.panel_of = metrics_panel;
    s = read_metrics(ctx, metrics_path, &c);
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

/* ------------------------------------------------------------------ runs
 * Several runs on one plot against wall-clock time: per run one colour,
 * its training loss a thin line, its validation nats a thick line with a
 * marker at each evaluation. */

static int runs_panel(const char *name) {
    return !strcmp(name, "loss") ? 0 : !strcmp(name, "valid_nats") ? 1 : -1;
}

typedef struct run {
    curves c;
    const series *loss, *valid; /* NULL if the file has none          */
    char label[256];            /* as shown                           */
} run;

/* A run without a label is named by the folder holding its file. */
static void run_label(const char *path, const char *given, char *out, size_t size) {
    const char *end = strrchr(path, '/'), *start = end;
    while (start && start > path && start[-1] != '/') start--;
    char name[256];
    if (given)
        snprintf(name, sizeof name, "%s", given);
    else if (end && start < end)
        snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
    else
        snprintf(name, sizeof name, "%s", path);
    viz_display_label(name, out, size);
}

/* Read one run's file strictly; x in minutes. */
static at_status read_run(at_ctx *ctx, const char *path, run *r) {
    r->c.x_field = "seconds";
    r->c.panel_of = runs_panel;
    r->c.strict = 1;
    at_status s = read_metrics(ctx, path, &r->c);
    for (int i = 0; s == AT_OK && i < r->c.count; i++) {
        series *se = &r->c.s[i];
        for (size_t j = 0; j < se->n; j++) se->x[j] /= 60.0;
        if (se->panel == 0) r->loss = se;
        if (se->panel == 1) r->valid = se;
    }
    if (s == AT_OK && !r->loss && !r->valid)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT,
                        "%s: no line has a \"step\" with \"loss\" or \"valid_nats\"", path);
    return s;
}

/* x from 0 to the longest run; y over every point, padded. */
static void runs_ranges(const run *runs, int n, viz_axes *a) {
    a->xmin = 0, a->xmax = 0, a->ymin = INFINITY, a->ymax = -INFINITY;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < runs[r].c.count; i++)
            for (size_t j = 0; j < runs[r].c.s[i].n; j++) {
                a->xmax = fmax(a->xmax, runs[r].c.s[i].x[j]);
                a->ymin = fmin(a->ymin, runs[r].c.s[i].y[j]);
                a->ymax = fmax(a->ymax, runs[r].c.s[i].y[j]);
            }
    if (a->xmax < 1e-9) a->xmax = 1;
    if (a->ymax - a->ymin < 1e-9) a->ymin -= 0.5, a->ymax += 0.5;
    double pad = 0.05 * (a->ymax - a->ymin);
    a->ymin -= pad, a->ymax += pad;
}

static void marker(dl_list *l, double x, double y, const uint8_t rgb[3], const char *tag) {
    dl_rect(l, x - 3.5, y - 3.5, 7, 7, rgb);
    if (tag) dl_tag(l, tag);
}

/* One legend line: a short stretch of line (and a marker), then text. */
static void legend_entry(dl_list *l, double x, double y, double width, int with_marker,
                         const uint8_t rgb[3], const char *text) {
    dl_line(l, x, y, x + 24, y, width, rgb);
    if (with_marker) marker(l, x + 12, y, rgb, NULL);
    dl_text(l, x + 32, y, text, 11, 0, DL_START, 0, INK, "legend");
}

static void build_runs(dl_list *l, viz_measure *vm, const run *runs, int n, const char *title) {
    dl_rect(l, 0, 0, 1, 1, WHITE);
    dl_text(l, MARGIN, MARGIN + 10, title, 16, 1, DL_START, 0, INK, "heading");
    viz_axes a = {MARGIN + AXIS_L, MARGIN + 44, RUNS_W, RUNS_H, 0, 1, 0, 1, 0, 0, 0};
    runs_ranges(runs, n, &a);
    viz_draw_axes(l, &a, NULL, "wall-clock time (minutes)", "nats per character");
    double lx = a.x0 + a.w + 24, ly = a.y0 + 8, widest = 0, w, h;
    char tag[32];
    for (int r = 0; r < n; r++, ly += 20) {
        uint8_t rgb[3];
        viz_palette(r, rgb);
        snprintf(tag, sizeof tag, "train r%d", r);
        if (runs[r].loss) draw_series(l, runs[r].loss, &a, 1.2, rgb, tag);
        snprintf(tag, sizeof tag, "valid r%d", r);
        if (runs[r].valid) draw_series(l, runs[r].valid, &a, 2.6, rgb, tag);
        snprintf(tag, sizeof tag, "marker r%d", r);
        for (size_t j = 0; runs[r].valid && j < runs[r].valid->n; j++)
            marker(l, viz_axes_x(&a, runs[r].valid->x[j]), viz_axes_y(&a, runs[r].valid->y[j]),
                   rgb, tag);
        legend_entry(l, lx, ly, 2.6, 1, rgb, runs[r].label);
        viz_text_size(vm, runs[r].label, 11, 0, &w, &h);
        widest = fmax(widest, w);
    }
    ly += 12;
    legend_entry(l, lx, ly, 1.2, 0, GREY, "training loss");
    legend_entry(l, lx, ly + 20, 2.6, 1, GREY, "validation (valid_nats)");
    viz_text_size(vm, "validation (valid_nats)", 11, 0, &w, &h);
    widest = fmax(widest, w);
    viz_text_size(vm, title, 16, 1, &w, &h);
    l->width = ceil(fmax(lx + 32 + widest, MARGIN + w) + MARGIN);
    l->height = ceil(fmax(a.y0 + a.h + 40, ly + 32) + MARGIN);
    if (!l->failed) {
        l->items[0].w = l->width;
        l->items[0].h = l->height;
    }
}

static at_status check_runs(at_ctx *ctx, int n, const char *const *paths,
                            const char *const *labels, const char *title, const char *out_path) {
    if (!out_path || !paths || n < 1 || n > AT_VIZ_MAX_SERIES)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "runs plot: needs 1 to %d metrics files and an output path (got %d)",
                           AT_VIZ_MAX_SERIES, n);
    for (int r = 0; r < n; r++) {
        if (!paths[r] || (labels && !labels[r]))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "runs plot: %s %d of %d is NULL (fewer than runs given?)",
                               paths[r] ? "label" : "metrics path", r, n);
        if (labels) {
            at_status s = at_utf8_check(ctx, labels[r], strlen(labels[r]), "run label");
            if (s != AT_OK) return s;
        }
    }
    at_status s = viz_check_drawn_format(ctx, out_path, "training curves are");
    if (s != AT_OK) return s;
    return title ? at_utf8_check(ctx, title, strlen(title), "title") : AT_OK;
}

at_status at_plot_runs(at_ctx *ctx, int runs, const char *const *metrics_paths,
                       const char *const *labels, const char *title, const char *out_path) {
    at_status s = check_runs(ctx, runs, metrics_paths, labels, title, out_path);
    if (s != AT_OK) return s;
    run *rs = calloc((size_t)runs, sizeof *rs);
    if (!rs) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", out_path);
    double points = 0;
    for (int r = 0; r < runs && s == AT_OK; r++) {
        run_label(metrics_paths[r], labels ? labels[r] : NULL, rs[r].label, sizeof rs[r].label);
        s = read_run(ctx, metrics_paths[r], &rs[r]);
        points += (rs[r].loss ? (double)rs[r].loss->n : 0) +
                  (rs[r].valid ? 2.0 * (double)rs[r].valid->n : 0);
    }
    char ext[8], what[64];
    viz_extension(out_path, ext, sizeof ext);
    snprintf(what, sizeof what, "%.0f points of %d runs", points, runs);
    if (s == AT_OK)
        s = viz_check_budget(ctx, out_path, ext, points, RUNS_W + 480.0, RUNS_H + 160.0, what);
    viz_measure *vm = NULL;
    if (s == AT_OK) s = viz_measure_create(ctx, &vm);
    if (s == AT_OK) {
        dl_list l = {0};
        build_runs(&l, vm, rs, runs, title && title[0] ? title : "training runs");
        s = viz_render(ctx, &l, out_path, ext);
        dl_free(&l);
    }
    viz_measure_free(vm);
    for (int r = 0; r < runs; r++) curves_free(&rs[r].c);
    free(rs);
    return s;
}
