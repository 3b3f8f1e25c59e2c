/*
 * heatmap.c - heatmaps of attention maps: one map, every head of a map,
 * or several maps side by side, all as one grid of panels.
 *
 * A panel is one (rows, cols) matrix: a head of a map, or the mean of its
 * heads. Its output tokens run down the left (right-aligned), its input
 * tokens along the top: written across when every label fits its column,
 * turned to read upwards when one does not. Each cell is filled with the
 * colour map's colour of its weight; one colour bar on the right serves
 * every panel, on the fixed scale [0, 1].
 *
 * Sizes: the cell is an integer number of px, from 28 for a short
 * sequence down to 4 for a long one, and the label font follows the cell
 * (8 to 13 px). When rows are smaller than a line of text, only every k-th
 * label is written, so labels never overlap.
 *
 * A head grid (viz_plot_head_grid, for the layers of a language model)
 * puts every head of several maps in rows of panels, a row per map and a
 * column per head, with cells sized to keep a row about 1400 px wide (down
 * to 2 px); its labels are written only when every one fits its cell.
 *
 * Before a figure is built its cost is estimated from its cells (one
 * shape each) and their area (viz_check_budget), so a map too big to draw
 * is refused with a message instead of exhausting memory.
 */
#include "viz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};

enum { MARGIN = 16, GAP = 28, BAR_W = 14, LABEL_PAD = 5 };
#define HEAD_SIZE 16.0
#define SUB_SIZE 12.5
#define PANEL_TITLE_SIZE 13.0

typedef struct panel {
    const at_attention_map *map;
    int head; /* -1: the mean of every head */
    char title[320];
} panel;

typedef struct geom {
    double x, y;        /* panel's top-left corner                        */
    double title_h;     /* height of the panel title line (0 if none)     */
    double col_h;       /* height of the column label area                */
    double row_w;       /* width of the row label area                    */
    double w, h;        /* whole panel                                    */
    int vertical;       /* column labels rotated                           */
    int row_step, col_step; /* write every k-th label                     */
    int no_labels;      /* labels left out: they would not all fit        */
} geom;

typedef struct figure {
    int n, ncols;
    panel *panels;
    geom *geoms;
    int cell;
    double font;
    char heading[400], subheading[400];
    int grid_px;        /* > 0: a row of panels is about this wide, cells
                           down to 2 px (viz_plot_head_grid)              */
    int labels_if_fit;  /* write labels only when every one fits          */
    char what[96];      /* names the figure in the budget's message       */
} figure;

static float panel_value(const panel *p, int r, int c) {
    const at_attention_map *m = p->map;
    size_t plane = (size_t)m->rows * m->cols, at = (size_t)r * m->cols + c;
    if (p->head >= 0) return m->weights[(size_t)p->head * plane + at];
    double sum = 0;
    for (int h = 0; h < m->heads; h++) sum += m->weights[(size_t)h * plane + at];
    return (float)(sum / m->heads);
}

/* "model · mechanism", whichever are set. */
static void name_line(const at_attention_map *m, char *out, size_t size) {
    const char *sep = m->model[0] && m->mechanism[0] ? " \xC2\xB7 " : "";
    snprintf(out, size, "%s%s%s", m->model, sep, m->mechanism);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void choose_cell(figure *f) {
    int longest = 1;
    for (int i = 0; i < f->n; i++) {
        const at_attention_map *m = f->panels[i].map;
        longest = m->rows > longest ? m->rows : longest;
        longest = m->cols > longest ? m->cols : longest;
    }
    int budget = f->n == 1 ? 760 : 520;
    f->cell = f->grid_px > 0 ? clampi(f->grid_px / (f->ncols * longest), 2, 28)
                             : clampi(budget / longest, 4, 28);
    f->font = f->cell * 0.62 < 8 ? 8 : f->cell * 0.62 > 13 ? 13 : f->cell * 0.62;
}

/* Sizes of one panel's label areas. */
static void measure_panel(viz_measure *vm, const figure *f, const panel *p, geom *g) {
    const at_attention_map *m = p->map;
    char label[256];
    double w, h, max_row = 0, max_col = 0, line = 0;
    for (int r = 0; r < m->rows; r++) {
        viz_display_label(m->row_labels[r], label, sizeof label);
        viz_text_size(vm, label, f->font, 0, &w, &h);
        max_row = w > max_row ? w : max_row;
        line = h > line ? h : line;
    }
    for (int c = 0; c < m->cols; c++) {
        viz_display_label(m->col_labels[c], label, sizeof label);
        viz_text_size(vm, label, f->font, 0, &w, &h);
        max_col = w > max_col ? w : max_col;
        line = h > line ? h : line;
    }
    g->vertical = max_col > f->cell - 2;
    g->row_step = (int)ceil(line * 0.95 / f->cell);
    g->col_step = g->vertical ? g->row_step : 1;
    g->no_labels = f->labels_if_fit && g->row_step > 1;
    g->row_w = g->no_labels ? 0 : ceil(max_row) + LABEL_PAD;
    g->col_h = g->no_labels ? 0 : ceil(g->vertical ? max_col : line) + LABEL_PAD;
    g->title_h = 0;
    if (p->title[0]) {
        viz_text_size(vm, p->title, PANEL_TITLE_SIZE, 1, &w, &h);
        g->title_h = ceil(h) + 6;
        double grid_w = g->row_w + (double)m->cols * f->cell;
        if (w > grid_w) g->row_w += ceil(w - grid_w); /* keep the title inside */
    }
    g->w = g->row_w + (double)m->cols * f->cell;
    g->h = g->title_h + g->col_h + (double)m->rows * f->cell;
}

static void draw_panel(dl_list *l, const figure *f, const panel *p, const geom *g) {
    const at_attention_map *m = p->map;
    double gx = round(g->x + g->row_w), gy = round(g->y + g->title_h + g->col_h);
    double cell = f->cell;
    char label[256];
    if (p->title[0])
        dl_text(l, g->x, g->y + g->title_h / 2 - 2, p->title, PANEL_TITLE_SIZE, 1, DL_START, 0,
                INK, "panel-title");
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++) {
            uint8_t rgb[3];
            at_viz_colour(panel_value(p, r, c), rgb);
            dl_rect(l, gx + c * cell, gy + r * cell, cell, cell, rgb);
        }
    for (int r = 0; !g->no_labels && r < m->rows; r += g->row_step) {
        viz_display_label(m->row_labels[r], label, sizeof label);
        dl_text(l, gx - LABEL_PAD, gy + (r + 0.5) * cell, label, f->font, 0, DL_END, 0, INK,
                "row-label");
    }
    for (int c = 0; !g->no_labels && c < m->cols; c += g->col_step) {
        viz_display_label(m->col_labels[c], label, sizeof label);
        double cx = gx + (c + 0.5) * cell;
        if (g->vertical)
            dl_text(l, cx, gy - LABEL_PAD, label, f->font, 0, DL_START, 1, INK, "col-label");
        else
            dl_text(l, cx, gy - LABEL_PAD - (g->col_h - LABEL_PAD) / 2, label, f->font, 0,
                    DL_MIDDLE, 0, INK, "col-label");
    }
}

/* The colour bar: a column of thin bands from 1 (top) to 0, with ticks. */
static double draw_colour_bar(dl_list *l, viz_measure *vm, double x, double y, double h) {
    enum { BANDS = 100 };
    for (int i = 0; i < BANDS; i++) {
        uint8_t rgb[3];
        at_viz_colour(1.0f - (i + 0.5f) / BANDS, rgb);
        dl_rect(l, x, y + h * i / BANDS, BAR_W, h / BANDS + 0.5, rgb);
    }
    static const char *ticks[] = {"1", "0.75", "0.5", "0.25", "0"};
    double widest = 0, w, th;
    for (int t = 0; t < 5; t++) {
        double ty = y + h * t / 4.0;
        dl_line(l, x + BAR_W, ty, x + BAR_W + 4, ty, 1, INK);
        dl_text(l, x + BAR_W + 7, ty, ticks[t], 11, 0, DL_START, 0, INK, "tick");
        viz_text_size(vm, ticks[t], 11, 0, &w, &th);
        widest = w > widest ? w : widest;
    }
    dl_text(l, x + BAR_W / 2.0, y - 12, "weight", 11, 0, DL_MIDDLE, 0, GREY, "bar-title");
    return BAR_W + 7 + widest;
}

/* Place every panel; returns the canvas size of the grid part. */
static void place_panels(figure *f, double top, double *grid_w, double *grid_h) {
    double y = top, widest = 0;
    for (int start = 0; start < f->n; start += f->ncols) {
        double x = MARGIN, row_h = 0;
        for (int i = start; i < f->n && i < start + f->ncols; i++) {
            f->geoms[i].x = x;
            f->geoms[i].y = y;
            x += f->geoms[i].w + GAP;
            row_h = f->geoms[i].h > row_h ? f->geoms[i].h : row_h;
        }
        widest = x - GAP > widest ? x - GAP : widest;
        y += row_h + GAP;
    }
    *grid_w = widest;
    *grid_h = y - GAP;
}

/* Measure and place everything; if l is not NULL, also draw. */
static at_status figure_build(at_ctx *ctx, figure *f, dl_list *l) {
    viz_measure *vm;
    at_status s = viz_measure_create(ctx, &vm);
    if (s != AT_OK) return s;
    choose_cell(f);
    for (int i = 0; i < f->n; i++) measure_panel(vm, f, &f->panels[i], &f->geoms[i]);
    double w, h, top = MARGIN;
    if (f->heading[0]) top += HEAD_SIZE + 8;
    if (f->subheading[0]) top += SUB_SIZE + 8;
    top += 6;
    double grid_w, grid_h;
    place_panels(f, top, &grid_w, &grid_h);
    if (l) {
        dl_rect(l, 0, 0, 1, 1, WHITE); /* resized below */
        size_t bg = l->count - 1;
        double y = MARGIN;
        if (f->heading[0]) {
            dl_text(l, MARGIN, y + HEAD_SIZE / 2 + 2, f->heading, HEAD_SIZE, 1, DL_START, 0, INK,
                    "heading");
            y += HEAD_SIZE + 8;
        }
        if (f->subheading[0])
            dl_text(l, MARGIN, y + SUB_SIZE / 2 + 2, f->subheading, SUB_SIZE, 0, DL_START, 0, GREY,
                    "subheading");
        for (int i = 0; i < f->n; i++) draw_panel(l, f, &f->panels[i], &f->geoms[i]);
        double bar_top = f->geoms[0].y + f->geoms[0].title_h + f->geoms[0].col_h;
        double bar_h = fmax(120, fmin(260, grid_h - bar_top));
        double bar_w = draw_colour_bar(l, vm, grid_w + GAP, bar_top, bar_h);
        double heading_w = 0;
        viz_text_size(vm, f->heading, HEAD_SIZE, 1, &w, &h);
        heading_w = w;
        viz_text_size(vm, f->subheading, SUB_SIZE, 0, &w, &h);
        heading_w = fmax(heading_w, w);
        l->width = ceil(fmax(grid_w + GAP + bar_w, MARGIN + heading_w) + MARGIN);
        l->height = ceil(fmax(grid_h, bar_top + bar_h + 8) + MARGIN);
        if (!l->failed) {
            l->items[bg].w = l->width;
            l->items[bg].h = l->height;
        }
    }
    viz_measure_free(vm);
    return AT_OK;
}

static at_status figure_alloc(at_ctx *ctx, figure *f, int n) {
    memset(f, 0, sizeof *f);
    f->n = n;
    f->panels = calloc((size_t)n, sizeof *f->panels);
    f->geoms = calloc((size_t)n, sizeof *f->geoms);
    if (!f->panels || !f->geoms) {
        free(f->panels);
        free(f->geoms);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "plot: out of memory");
    }
    return AT_OK;
}

static void figure_free(figure *f) {
    free(f->panels);
    free(f->geoms);
}

/* Every head of one map: one panel, or a grid titled "head h". */
static at_status figure_of_map(at_ctx *ctx, figure *f, const at_attention_map *m) {
    at_status s = figure_alloc(ctx, f, m->heads);
    if (s != AT_OK) return s;
    f->ncols = m->heads == 1 ? 1 : (int)ceil(sqrt((double)m->heads));
    for (int h = 0; h < m->heads; h++) {
        f->panels[h].map = m;
        f->panels[h].head = h;
        if (m->heads > 1) snprintf(f->panels[h].title, sizeof f->panels[h].title, "head %d", h + 1);
    }
    name_line(m, f->heading, sizeof f->heading);
    snprintf(f->subheading, sizeof f->subheading, "%s", m->title);
    if (!f->heading[0]) snprintf(f->heading, sizeof f->heading, "attention");
    return AT_OK;
}

static at_status check_map(at_ctx *ctx, const at_attention_map *m) {
    if (!m || !m->weights || !m->row_labels || !m->col_labels || !m->title || !m->model ||
        !m->mechanism)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "plot: a NULL or incomplete attention map");
    if (m->heads < 1 || m->heads > AT_VIZ_MAX_HEADS || m->rows < 1 ||
        m->rows > AT_VIZ_MAX_TOKENS || m->cols < 1 || m->cols > AT_VIZ_MAX_TOKENS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "plot: impossible map sizes %d x %d x %d",
                           m->heads, m->rows, m->cols);
    return AT_OK;
}

/* What is drawn, for the budget's message: "64 heads of 256 x 256". */
static void describe(int n, const at_attention_map *const *maps, double cells, char *out,
                     size_t size) {
    if (n == 1)
        snprintf(out, size, "%d head%s of %d x %d", maps[0]->heads, maps[0]->heads == 1 ? "" : "s",
                 maps[0]->rows, maps[0]->cols);
    else
        snprintf(out, size, "%d maps of %.0f cells in all", n, cells);
}

/* The budget of an HTML page: every number of every head is written. */
at_status viz_html_budget(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *path) {
    double cells = 0;
    for (int i = 0; i < n; i++)
        cells += (double)maps[i]->heads * maps[i]->rows * maps[i]->cols;
    char what[96];
    describe(n, maps, cells, what, sizeof what);
    return viz_check_budget(ctx, path, "html", cells, 0, 0, what);
}

/* The budget of a figure, checked before its display list is built: one
 * shape per cell and per label, on a canvas of at least the cells' area. */
static at_status figure_budget(at_ctx *ctx, figure *f, const char *path, const char *ext) {
    choose_cell(f);
    double shapes = 0, area = 0;
    const at_attention_map *maps[64];
    int n_maps = 0;
    for (int i = 0; i < f->n; i++) {
        const at_attention_map *m = f->panels[i].map;
        double cells = (double)m->rows * m->cols;
        shapes += cells + m->rows + m->cols;
        area += cells * f->cell * f->cell;
        if (n_maps < 64 && (n_maps == 0 || maps[n_maps - 1] != m)) maps[n_maps++] = m;
    }
    char what[96];
    describe(n_maps, maps, shapes, what, sizeof what);
    return viz_check_budget(ctx, path, ext, shapes, area, 1.0, f->what[0] ? f->what : what);
}

static at_status render_figure(at_ctx *ctx, figure *f, const char *path, const char *ext) {
    at_status s = figure_budget(ctx, f, path, ext);
    if (s != AT_OK) return s;
    dl_list l = {0};
    s = figure_build(ctx, f, &l);
    if (s == AT_OK) s = viz_render(ctx, &l, path, ext);
    dl_free(&l);
    return s;
}

at_status at_plot_map(at_ctx *ctx, const at_attention_map *map, const char *path) {
    if (!path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "plot: path is NULL");
    at_status s = check_map(ctx, map);
    if (s != AT_OK) return s;
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (!strcmp(ext, "html")) {
        if ((s = viz_html_budget(ctx, 1, &map, path)) != AT_OK) return s;
        return viz_html_maps(ctx, 1, &map, NULL, path);
    }
    figure f;
    if ((s = figure_of_map(ctx, &f, map)) != AT_OK) return s;
    s = render_figure(ctx, &f, path, ext);
    figure_free(&f);
    return s;
}

at_status at_plot_compare(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path) {
    if (!path || !maps || n < 1 || n > 64)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "compare: needs 1 to 64 maps and a path");
    for (int i = 0; i < n; i++) {
        at_status s = check_map(ctx, maps[i]);
        if (s != AT_OK) return s;
    }
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (!strcmp(ext, "html")) {
        at_status s = viz_html_budget(ctx, n, maps, path);
        return s != AT_OK ? s : viz_html_maps(ctx, n, maps, title, path);
    }
    figure f;
    at_status s = figure_alloc(ctx, &f, n);
    if (s != AT_OK) return s;
    f.ncols = n <= 3 ? n : n == 4 ? 2 : 3;
    int same_input = 1; /* several models on one input, or several inputs? */
    for (int i = 1; i < n; i++) same_input = same_input && !strcmp(maps[i]->title, maps[0]->title);
    for (int i = 0; i < n; i++) {
        panel *p = &f.panels[i];
        p->map = maps[i];
        p->head = maps[i]->heads == 1 ? 0 : -1;
        char name[300];
        name_line(maps[i], name, sizeof name);
        if (!name[0]) snprintf(name, sizeof name, "map %d", i + 1);
        if (!same_input) snprintf(name, sizeof name, "%.290s", maps[i]->title);
        if (maps[i]->heads > 1)
            snprintf(p->title, sizeof p->title, "%.280s (mean of %d heads)", name, maps[i]->heads);
        else
            snprintf(p->title, sizeof p->title, "%s", name);
    }
    snprintf(f.heading, sizeof f.heading, "%s", title && title[0] ? title : "attention compared");
    if (same_input) snprintf(f.subheading, sizeof f.subheading, "%s", maps[0]->title);
    s = render_figure(ctx, &f, path, ext);
    figure_free(&f);
    return s;
}

at_status viz_plot_head_grid(at_ctx *ctx, int n, const at_attention_map *const *maps,
                             const char *heading, const char *subheading, const char *what,
                             const char *path, const char *ext) {
    int heads = maps[0]->heads;
    figure f;
    at_status s = figure_alloc(ctx, &f, n * heads);
    if (s != AT_OK) return s;
    f.ncols = heads;
    f.grid_px = 1400;
    f.labels_if_fit = 1;
    for (int i = 0; i < n; i++) {
        char name[300];
        name_line(maps[i], name, sizeof name);
        for (int h = 0; h < heads; h++) {
            panel *p = &f.panels[i * heads + h];
            p->map = maps[i];
            p->head = h;
            snprintf(p->title, sizeof p->title, "%.290s%shead %d", name, name[0] ? " \xC2\xB7 " : "",
                     h + 1);
        }
    }
    snprintf(f.heading, sizeof f.heading, "%s", heading ? heading : "");
    snprintf(f.subheading, sizeof f.subheading, "%s", subheading ? subheading : "");
    snprintf(f.what, sizeof f.what, "%s", what ? what : "");
    s = render_figure(ctx, &f, path, ext);
    figure_free(&f);
    return s;
}

at_status at_plot_cell_center(at_ctx *ctx, const at_attention_map *map, int head, int row,
                              int col, double *x, double *y) {
    at_status s = check_map(ctx, map);
    if (s != AT_OK) return s;
    if (!x || !y || head < 0 || head >= map->heads || row < 0 || row >= map->rows || col < 0 ||
        col >= map->cols)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "cell centre: (%d, %d, %d) is outside the map",
                           head, row, col);
    figure f;
    if ((s = figure_of_map(ctx, &f, map)) != AT_OK) return s;
    s = figure_build(ctx, &f, NULL);
    if (s == AT_OK) {
        const geom *g = &f.geoms[head];
        double gx = round(g->x + g->row_w), gy = round(g->y + g->title_h + g->col_h);
        *x = (gx + (col + 0.5) * f.cell) * VIZ_PNG_SCALE;
        *y = (gy + (row + 0.5) * f.cell) * VIZ_PNG_SCALE;
    }
    figure_free(&f);
    return s;
}
