/*
 * svg.c - the SVG backend of the display list.
 *
 * cairo's own SVG surface draws text as glyph outlines, so the labels of a
 * figure could not be searched, selected or read by a screen reader. This
 * writer keeps every label a real <text> element in the same place as in
 * the PNG (the layout was measured with pango). The viewer then shapes the
 * text with its own fonts; the family list names the Noto fonts first.
 */
#include "viz.h"

#include <stdio.h>
#include <string.h>

static void put_colour(sbuf *b, const uint8_t rgb[3]) {
    sbuf_printf(b, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* class="..." of a tagged shape, with a space before it. */
static void put_class(sbuf *b, const dl_item *it) {
    if (!it->tag) return;
    sbuf_puts(b, " class=\"");
    sbuf_xml_text(b, it->tag);
    sbuf_puts(b, "\"");
}

static void put_text(sbuf *b, const dl_item *it) {
    static const char *anchors[] = {"start", "middle", "end"};
    sbuf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\" dominant-baseline=\"central\"",
                it->x, it->y, it->size);
    if (it->bold) sbuf_puts(b, " font-weight=\"bold\"");
    if (it->anchor != DL_START) sbuf_printf(b, " text-anchor=\"%s\"", anchors[it->anchor]);
    if (it->vertical) sbuf_printf(b, " transform=\"rotate(-90 %.2f %.2f)\"", it->x, it->y);
    put_class(b, it);
    sbuf_puts(b, " fill=\"");
    put_colour(b, it->rgb);
    sbuf_puts(b, "\">");
    sbuf_xml_text(b, it->text);
    sbuf_puts(b, "</text>\n");
}

static void put_item(sbuf *b, const dl_item *it) {
    switch (it->kind) {
    case DL_RECT:
        sbuf_puts(b, "<rect");
        put_class(b, it);
        sbuf_printf(b, " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"",
                    it->x, it->y, it->w, it->h);
        put_colour(b, it->rgb);
        sbuf_puts(b, "\"/>\n");
        break;
    case DL_LINE:
        sbuf_puts(b, "<line");
        put_class(b, it);
        sbuf_printf(b,
                    " x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke-width=\"%.2f\" "
                    "stroke-linecap=\"round\" stroke=\"",
                    it->x, it->y, it->w, it->h, it->width);
        put_colour(b, it->rgb);
        sbuf_puts(b, "\"/>\n");
        break;
    case DL_TEXT:
        put_text(b, it);
        break;
    }
}

at_status viz_render_svg(at_ctx *ctx, const dl_list *l, const char *path) {
    sbuf b = {0};
    sbuf_printf(&b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\">\n"
                "<g font-family=\"%s\">\n",
                l->width, l->height, l->width, l->height, VIZ_FONTS);
    for (size_t i = 0; i < l->count; i++) put_item(&b, &l->items[i]);
    sbuf_puts(&b, "</g>\n</svg>\n");
    at_status s = b.failed ? at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path)
                           : viz_write_file(ctx, path, b.data, b.len);
    sbuf_free(&b);
    return s;
}
