/*
 * viz.h - what the visualisation files share (not public).
 *
 * The pictures are built in two steps. A layout step (heatmap.c,
 * curves.c) measures the labels with pango and records what to draw in a
 * display list of rectangles, lines and text items, in CSS pixels. A
 * backend then plays the list: cairo + pango for PNG and PDF (draw.c), or
 * a plain SVG writer that keeps every label as a real <text> element, so
 * SVGs stay searchable, selectable and small (svg.c). HTML pages are
 * written directly (html.c) with the data embedded as JSON.
 */
#ifndef ATTEND_VIZ_H
#define ATTEND_VIZ_H

#include <attend.h>

#include <stdarg.h>
#include <stddef.h>

/* ------------------------------------------------------- growable string */
typedef struct sbuf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed; data is then incomplete */
} sbuf;
void sbuf_put(sbuf *b, const char *text, size_t n);
void sbuf_puts(sbuf *b, const char *text);
void sbuf_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sbuf_json_string(sbuf *b, const char *text);      /* quoted, "</" escaped */
void sbuf_json_string_html(sbuf *b, const char *text); /* also < > & as \u   */
void sbuf_xml_text(sbuf *b, const char *text);    /* & < > " escaped   */
void sbuf_free(sbuf *b);

/* Write n bytes to path atomically (temporary file + rename). */
at_status viz_write_file(at_ctx *ctx, const char *path, const char *data, size_t n);
/* The lower-case extension of path after its last dot ("" if none). */
void viz_extension(const char *path, char *ext, size_t size);
char *viz_strdup(const char *text); /* NULL text -> "" ; NULL on OOM */

/* ----------------------------------------------------------- display list */
typedef enum dl_kind { DL_RECT, DL_LINE, DL_TEXT } dl_kind;
typedef enum dl_anchor { DL_START, DL_MIDDLE, DL_END } dl_anchor;

typedef struct dl_item {
    dl_kind kind;
    double x, y, w, h;   /* rect: corner + size; line: from (x,y) to (w,h) */
    uint8_t rgb[3];
    double width;        /* line width                                  */
    char *text;          /* text: UTF-8, owned                          */
    double size;         /* text: font size in px                       */
    int bold;
    dl_anchor anchor;    /* text: which end of the text sits at x        */
    int vertical;        /* text: rotated -90 degrees (reads bottom-up)  */
    char *tag;           /* optional SVG class, e.g. "row-label"        */
} dl_item;

typedef struct dl_list {
    dl_item *items;
    size_t count, cap;
    double width, height; /* the canvas                                 */
    int failed;
} dl_list;

void dl_rect(dl_list *l, double x, double y, double w, double h, const uint8_t rgb[3]);
void dl_line(dl_list *l, double x0, double y0, double x1, double y1, double width,
             const uint8_t rgb[3]);
/* Text whose vertical centre is at y; x is its start, middle or end. */
void dl_text(dl_list *l, double x, double y, const char *text, double size, int bold,
             dl_anchor anchor, int vertical, const uint8_t rgb[3], const char *tag);
/* Give the last item an SVG class (rects and lines too), e.g. "bar m0 d1",
 * so tests and tools can find a shape in the SVG. */
void dl_tag(dl_list *l, const char *tag);
void dl_free(dl_list *l);

/* Text measurement (pango), valid for the whole layout step. */
typedef struct viz_measure viz_measure;
at_status viz_measure_create(at_ctx *ctx, viz_measure **out);
void viz_measure_free(viz_measure *m);
/* Logical width and height of text, in px, at a font size in px. */
void viz_text_size(viz_measure *m, const char *text, double size, int bold, double *w,
                   double *h);

/* The font families asked for; fontconfig falls back per character. */
#define VIZ_FONTS "Noto Sans, Noto Sans Arabic, DejaVu Sans, Noto Sans CJK SC, sans-serif"
/* PNG pixels per layout px. */
#define VIZ_PNG_SCALE 2.0

/* Play a display list to .png / .pdf (cairo) or .svg (own writer), after
 * viz_check_budget on its shapes and canvas. */
at_status viz_render(at_ctx *ctx, const dl_list *l, const char *path, const char *ext);
/* AT_OK if path ends in .png, .svg or .pdf (any case), the formats
 * viz_render draws; else AT_ERR_ARGUMENT "PATH: FIGURE_IS .png, .svg or
 * .pdf" (figure_is: "training curves are", "the top-words figure is"). */
at_status viz_check_drawn_format(at_ctx *ctx, const char *path, const char *figure_is);

/* The most memory one figure may take to draw. */
#define VIZ_BUDGET_BYTES (1 << 30)
/* AT_OK if drawing `items` shapes on a width x height px canvas as ext
 * ("png", "pdf", "svg", or "html": items = numbers written) is estimated
 * to fit VIZ_BUDGET_BYTES; else an AT_ERR_ARGUMENT naming path, `what` is
 * drawn (e.g. "64 heads of 256 x 256") and the estimate. Called before
 * anything big is built, and again by viz_render on the finished list. */
at_status viz_check_budget(at_ctx *ctx, const char *path, const char *ext, double items,
                           double width, double height, const char *what);
at_status viz_render_svg(at_ctx *ctx, const dl_list *l, const char *path);

/* Bytes of the control character at p (C0 and DEL: 1; C1, U+0080 to
 * U+009F: 2), or 0 if p does not start with one. A terminal takes these
 * as escapes; the pictures show them as U+FFFD. */
int viz_control_bytes(const char *p);

/* A label fit to show: a lone space becomes U+2423 (open box), a lone
 * newline (or CR LF) U+23CE (return symbol), a lone tab U+21E5, other
 * control characters (C0, DEL and C1) U+FFFD. Writes into out[size]. */
void viz_display_label(const char *label, char *out, size_t size);

/* A label fit to show inside a line of text (a passage): newline as
 * U+23CE, tab as U+21E5, other control characters as U+FFFD, spaces kept;
 * at most max_chars code points, then "…". Malloc'd; NULL if out of memory. */
char *viz_display_passage(char *const *labels, int n, int max_chars);

/* ----------------------------------------------------------------- plots
 * A plot area (axes.c): data (x, y) to px, x to the right, y upwards. */
typedef struct viz_axes {
    double x0, y0, w, h;            /* the plot area: top-left corner, size */
    double xmin, xmax, ymin, ymax;  /* the data ranges shown                */
    int log_y;                      /* ymin, ymax are log10 of the values   */
    int x_categories;               /* no numeric x ticks (the caller's)    */
    int y_categories;               /* no numeric y ticks (the caller's)    */
} viz_axes;
double viz_axes_x(const viz_axes *a, double x);
double viz_axes_y(const viz_axes *a, double y);
/* A nice tick step (1, 2 or 5 times a power of ten) for about want ticks. */
double viz_nice_step(double range, int want);
/* Grid lines and ticks, the frame (left and bottom), the title above the
 * area, the x label under it and the y label beside it (NULL or "": none). */
void viz_draw_axes(dl_list *l, const viz_axes *a, const char *title, const char *xlabel,
                   const char *ylabel);
/* Colour i of the series palette (VIZ_PALETTE colours, then again). */
#define VIZ_PALETTE 10
void viz_palette(int i, uint8_t rgb[3]);

/* Every head of n maps of the same number of heads as one grid (heatmap.c):
 * a row of panels per map, a column per head, each panel titled "<the
 * map's model> · head h"; cells sized so a row of panels is about 1400 px
 * wide (down to 2 px), labels only when every one fits. `what` names the
 * figure in the budget's message. .png, .svg or .pdf. */
at_status viz_plot_head_grid(at_ctx *ctx, int n, const at_attention_map *const *maps,
                             const char *heading, const char *subheading, const char *what,
                             const char *path, const char *ext);
/* The budget of an HTML page of n maps (every weight is written). */
at_status viz_html_budget(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *path);

/* HTML pages. */
at_status viz_html_maps(at_ctx *ctx, int n, const at_attention_map *const *maps,
                        const char *title, const char *path);
/* The layers of one model on one passage: map i is layer i (every head);
 * a layer selector and a head selector pick what is shown. */
at_status viz_html_layers(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path);
at_status viz_html_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path);
/* n checked documents in one page (at_plot_doc_report); notes and tags
 * may be NULL, and so may their entries. */
at_status viz_html_report(at_ctx *ctx, int n, const at_attention_doc *const *docs,
                          const char *const *notes, const char *const *tags, const char *title,
                          const char *path);
/* A page of the shared script whose data another file writes (e.g.
 * snapshots.c): begin (everything before the data), the data as one JSON
 * object with these pieces (the colour anchors as "colours": ..., a map as
 * put_map writes it, a float as the shortest decimal that reads back),
 * then end (the script; writes path atomically, frees b). */
void viz_html_begin(sbuf *b, const char *title);
/* The figures' script, NUL-terminated: src/viz/js/figure.js with its
 * @include lines expanded, generated at build time (src/viz/js/embed.cmake). */
extern const unsigned char viz_page_js[];
void viz_html_put_colours(sbuf *b);
void viz_html_put_map(sbuf *b, const at_attention_map *map);
void viz_html_put_number(sbuf *b, float v);
at_status viz_html_end(at_ctx *ctx, sbuf *b, const char *path);

#endif
