/*
 * draw.c - the display list, text measurement, and its cairo backend.
 *
 * Layout code records rectangles, lines and text in a dl_list (in CSS px)
 * and measures text with viz_measure. Both go through pango, which shapes
 * every script (Arabic joining, bidi reordering, CJK) and picks a fallback
 * font per character through fontconfig, so one family list (VIZ_FONTS)
 * covers Latin, Cyrillic, CJK and Arabic. Each render makes its own pango
 * font map rather than using pango's shared default one: no state is
 * shared between two renders in two threads.
 *
 * PNG is drawn at VIZ_PNG_SCALE pixels per px, so labels stay sharp;
 * PDF at 1 pt per px. Both are encoded through cairo's stream functions
 * straight into the library's atomic writer (files.h): no file name is
 * ever handed to cairo.
 *
 * Drawing has a budget (viz_check_budget): the memory a figure would take
 * is estimated from its number of shapes and its canvas before anything
 * big is allocated, and a figure over VIZ_BUDGET_BYTES is refused with a
 * message, rather than running the machine out of memory (a PDF of 64
 * heads of 256 x 256 cells would need over 4 GB).
 */
#include "files.h"
#include "internal.h"
#include "viz.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* ---------------------------------------------------------- display list */

static dl_item *dl_push(dl_list *l, dl_kind kind) {
    if (l->failed) return NULL;
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        dl_item *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            l->failed = 1;
            return NULL;
        }
        l->items = items;
        l->cap = cap;
    }
    dl_item *it = &l->items[l->count++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    return it;
}

void dl_rect(dl_list *l, double x, double y, double w, double h, const uint8_t rgb[3]) {
    dl_item *it = dl_push(l, DL_RECT);
    if (!it) return;
    it->x = x, it->y = y, it->w = w, it->h = h;
    memcpy(it->rgb, rgb, 3);
}

void dl_line(dl_list *l, double x0, double y0, double x1, double y1, double width,
             const uint8_t rgb[3]) {
    dl_item *it = dl_push(l, DL_LINE);
    if (!it) return;
    it->x = x0, it->y = y0, it->w = x1, it->h = y1;
    it->width = width;
    memcpy(it->rgb, rgb, 3);
}

void dl_text(dl_list *l, double x, double y, const char *text, double size, int bold,
             dl_anchor anchor, int vertical, const uint8_t rgb[3], const char *tag) {
    dl_item *it = dl_push(l, DL_TEXT);
    if (!it) return;
    it->x = x, it->y = y;
    it->size = size;
    it->bold = bold;
    it->anchor = anchor;
    it->vertical = vertical;
    memcpy(it->rgb, rgb, 3);
    it->text = viz_strdup(text);
    it->tag = tag ? viz_strdup(tag) : NULL;
    if (!it->text || (tag && !it->tag)) l->failed = 1;
}

void dl_tag(dl_list *l, const char *tag) {
    if (l->failed || l->count == 0) return;
    dl_item *it = &l->items[l->count - 1];
    free(it->tag);
    it->tag = viz_strdup(tag);
    if (!it->tag) l->failed = 1;
}

void dl_free(dl_list *l) {
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].text);
        free(l->items[i].tag);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* ----------------------------------------------------------- measurement */

struct viz_measure {
    cairo_surface_t *surface;
    cairo_t *cr;
    PangoFontMap *fonts;
    PangoContext *context;
    PangoLayout *layout;
};

/* Metrics without hinting, so sizes do not depend on the output scale;
 * paragraphs strongly left to right (pango's default, weak LTR, would let
 * an Arabic first word turn a whole title around). */
static void set_font_options(PangoContext *context) {
    pango_context_set_base_dir(context, PANGO_DIRECTION_LTR);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(context, fo);
    cairo_font_options_destroy(fo);
}

/* Left-to-right paragraphs: a title "السبت ٩ مايو → 2018-05-09" keeps its
 * arrow pointing at the output; an Arabic run inside is still right to left. */
static void layout_set(PangoLayout *layout, const char *text, double size, int bold) {
    pango_layout_set_auto_dir(layout, FALSE);
    PangoFontDescription *fd = pango_font_description_from_string(VIZ_FONTS);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(layout, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(layout, text, -1);
}

void viz_measure_free(viz_measure *m) {
    if (!m) return;
    if (m->layout) g_object_unref(m->layout);
    if (m->context) g_object_unref(m->context);
    if (m->fonts) g_object_unref(m->fonts);
    if (m->cr) cairo_destroy(m->cr);
    if (m->surface) cairo_surface_destroy(m->surface);
    free(m);
}

at_status viz_measure_create(at_ctx *ctx, viz_measure **out) {
    viz_measure *m = calloc(1, sizeof *m);
    if (!m) return at_ctx_fail(ctx, AT_ERR_MEMORY, "plot: out of memory");
    m->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    m->cr = cairo_create(m->surface);
    m->fonts = pango_cairo_font_map_new();
    if (cairo_status(m->cr) != CAIRO_STATUS_SUCCESS || !m->fonts) {
        viz_measure_free(m);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "plot: cannot start cairo/pango");
    }
    m->context = pango_font_map_create_context(m->fonts);
    set_font_options(m->context);
    pango_cairo_update_context(m->cr, m->context);
    m->layout = pango_layout_new(m->context);
    *out = m;
    return AT_OK;
}

void viz_text_size(viz_measure *m, const char *text, double size, int bold, double *w,
                   double *h) {
    layout_set(m->layout, text, size, bold);
    PangoRectangle logical;
    pango_layout_get_extents(m->layout, NULL, &logical);
    *w = (double)logical.width / PANGO_SCALE;
    *h = (double)logical.height / PANGO_SCALE;
}

/* --------------------------------------------------------- cairo backend */

static void set_rgb(cairo_t *cr, const uint8_t rgb[3]) {
    cairo_set_source_rgb(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
}

static void draw_text(cairo_t *cr, PangoLayout *layout, const dl_item *it) {
    layout_set(layout, it->text, it->size, it->bold);
    pango_cairo_update_layout(cr, layout);
    PangoRectangle logical;
    pango_layout_get_extents(layout, NULL, &logical);
    double w = (double)logical.width / PANGO_SCALE, h = (double)logical.height / PANGO_SCALE;
    double dx = it->anchor == DL_MIDDLE ? -w / 2 : it->anchor == DL_END ? -w : 0;
    cairo_save(cr);
    cairo_translate(cr, it->x, it->y);
    if (it->vertical) cairo_rotate(cr, -PI / 2);
    cairo_move_to(cr, dx - (double)logical.x / PANGO_SCALE, -h / 2);
    set_rgb(cr, it->rgb);
    pango_cairo_show_layout(cr, layout);
    cairo_restore(cr);
}

static void play(cairo_t *cr, PangoLayout *layout, const dl_list *l) {
    for (size_t i = 0; i < l->count; i++) {
        const dl_item *it = &l->items[i];
        switch (it->kind) {
        case DL_RECT:
            set_rgb(cr, it->rgb);
            cairo_rectangle(cr, it->x, it->y, it->w, it->h);
            cairo_fill(cr);
            break;
        case DL_LINE:
            set_rgb(cr, it->rgb);
            cairo_set_line_width(cr, it->width);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            cairo_move_to(cr, it->x, it->y);
            cairo_line_to(cr, it->w, it->h);
            cairo_stroke(cr);
            break;
        case DL_TEXT:
            draw_text(cr, layout, it);
            break;
        }
    }
}

/* cairo's output goes into the atomic writer; a failed write stops cairo. */
static cairo_status_t to_writer(void *closure, const unsigned char *data, unsigned int n) {
    return atf_write(closure, data, n) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Play the list on a surface of w x h pixels (PNG) or points (PDF) and
 * encode it into the writer; the cairo status. */
static cairo_status_t draw_cairo(const dl_list *l, atf_writer *w, int png, int pw, int ph) {
    double scale = png ? VIZ_PNG_SCALE : 1.0;
    cairo_surface_t *surface =
        png ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph)
            : cairo_pdf_surface_create_for_stream(to_writer, w, l->width, l->height);
    cairo_t *cr = cairo_create(surface);
    cairo_status_t cs = cairo_status(cr);
    if (cs == CAIRO_STATUS_SUCCESS) {
        PangoFontMap *fonts = pango_cairo_font_map_new();
        PangoContext *context = pango_font_map_create_context(fonts);
        set_font_options(context);
        PangoLayout *layout = pango_layout_new(context);
        cairo_scale(cr, scale, scale);
        play(cr, layout, l);
        cairo_surface_flush(surface);
        cs = cairo_status(cr);
        if (cs == CAIRO_STATUS_SUCCESS && png)
            cs = cairo_surface_write_to_png_stream(surface, to_writer, w);
        g_object_unref(layout);
        g_object_unref(context);
        g_object_unref(fonts);
    }
    cairo_destroy(cr);
    cairo_surface_finish(surface); /* a PDF is written out here */
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    return cs;
}

static at_status render_cairo(at_ctx *ctx, const dl_list *l, const char *path, int png) {
    double scale = png ? VIZ_PNG_SCALE : 1.0;
    int w = (int)ceil(l->width * scale), h = (int)ceil(l->height * scale);
    if (w < 1 || h < 1 || w > 32000 || h > 32000)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: a %d x %d figure is too large", path, w, h);
    atf_writer *writer = malloc(sizeof *writer);
    if (!writer) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    at_status s = atf_open(ctx, writer, path);
    if (s == AT_OK) {
        cairo_status_t cs = draw_cairo(l, writer, png, w, h);
        if (cs == CAIRO_STATUS_SUCCESS || writer->error) {
            s = atf_commit(ctx, writer); /* names the write error, if any */
        } else {
            atf_abort(writer);
            s = at_ctx_fail(ctx, cs == CAIRO_STATUS_NO_MEMORY ? AT_ERR_MEMORY : AT_ERR_IO,
                            "%s: cannot draw: %s", path, cairo_status_to_string(cs));
        }
    }
    free(writer);
    return s;
}

/* Estimated bytes to draw one display-list item, by format: the list's own
 * item, plus what cairo's PDF surface records per drawing operation (it
 * keeps every page in memory until the end) or the SVG text. Measured with
 * maps of 64k and 256k cells: about 1 KB a cell for PDF, 280 bytes for SVG. */
static size_t bytes_per_item(const char *ext) {
    size_t list = sizeof(dl_item) + 32;
    if (!strcmp(ext, "pdf")) return list + 1024;
    if (!strcmp(ext, "svg")) return list + 192;
    if (!strcmp(ext, "html")) return 16; /* a number of the embedded JSON */
    return list;
}

at_status viz_check_budget(at_ctx *ctx, const char *path, const char *ext, double items,
                           double width, double height, const char *what) {
    double bytes = items * (double)bytes_per_item(ext);
    if (!strcmp(ext, "png")) bytes += 4.0 * width * height * VIZ_PNG_SCALE * VIZ_PNG_SCALE;
    if (bytes <= (double)VIZ_BUDGET_BYTES) return AT_OK;
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "%s: drawing %s as .%s would need about %.0f MB, more than the %d MB a "
                       "figure may use; %s",
                       path, what, ext, bytes / (1 << 20), VIZ_BUDGET_BYTES >> 20,
                       strcmp(ext, "html") ? "draw it as .html (a page that shows one head "
                                             "at a time) or draw fewer heads"
                                           : "draw fewer heads or shorter sequences");
}

at_status viz_check_drawn_format(at_ctx *ctx, const char *path, const char *figure_is) {
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (strcmp(ext, "png") && strcmp(ext, "svg") && strcmp(ext, "pdf"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s .png, .svg or .pdf", path, figure_is);
    return AT_OK;
}

at_status viz_render(at_ctx *ctx, const dl_list *l, const char *path, const char *ext) {
    if (l->failed) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    int known = !strcmp(ext, "svg") || !strcmp(ext, "png") || !strcmp(ext, "pdf");
    if (!known)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: unknown figure format '.%s' (use .png, .svg, .pdf or .html)", path,
                           ext);
    char what[64];
    snprintf(what, sizeof what, "%zu shapes", l->count);
    AT_TRY(viz_check_budget(ctx, path, ext, (double)l->count, l->width, l->height, what));
    if (!strcmp(ext, "svg")) return viz_render_svg(ctx, l, path);
    return render_cairo(ctx, l, path, !strcmp(ext, "png"));
}
