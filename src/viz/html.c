/*
 * html.c - self-contained interactive HTML pages: one file, no network.
 *
 * The page carries its data as JSON in a <script type="application/json">
 * element (every < > & escaped, so no label can close the element) and a
 * small script that builds the view from it:
 *   maps      a table per map (or per head) with the output tokens down
 *             the side and the input tokens along the top; hovering a cell
 *             shows its weight beside the pointer and in a read-out line,
 *             and highlights its output and input tokens; a multi-head map
 *             gets a head selector (all heads as a grid, their mean, or
 *             one head); several maps sit side by side.
 *   layers    the layers of a language model on one passage (a map per
 *             layer, rows = the position attending, cols = the position
 *             attended to): a layer selector and a head selector choose
 *             one layer or all, one head, their mean or all; hovering a
 *             cell shows the two characters and the exact weight.
 *   document  static (HAN) attention: the text itself, each word shaded by
 *             its weight and each sentence by its own, at word level,
 *             sentence level or both (word shade scaled by the square root
 *             of the sentence's, as Yang et al. 2016 show it).
 *   documents a report of many documents (a classifier's test messages),
 *             each under its title, a note and its tags, shaded by the same
 *             renderDoc as the one-document page; "show:" radios keep the
 *             documents of one tag, and a document is drawn when it first
 *             comes near the screen, so a long report opens at once.
 *             Weights are written to 4 significant digits.
 *   snapshots attention while training (its data written by snapshots.c):
 *             a slider and a play button choose a snapshot; each probe's
 *             map is drawn as a map above, and a marker on the loss and
 *             validation curves (inline SVG) shows the chosen step.
 * The colour map's anchors go into the data, so the page and the PNG use
 * the same colours. Weights are written as the shortest decimal that
 * reads back as the same float, so "exact" means exact. The CSS below is
 * kept one line per string; the script is src/viz/js/figure.js with the
 * drawing it shares with the attention lab (src/viz/js/heatmap.js, ...),
 * embedded at build time as viz_page_js (src/viz/js/embed.cmake).
 */
#include "viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const page_css[] = {
    "body { font-family: \"Noto Sans\", \"Noto Sans Arabic\", \"DejaVu Sans\", \"Noto Sans CJK SC\", sans-serif; margin: 20px; color: #222; background: #fff; }\n",
    "h1 { font-size: 20px; margin: 0 0 4px; }\n",
    "#subheading { color: #555; margin: 0 0 12px; font-size: 14px; }\n",
    "#readout { position: sticky; top: 0; background: #f5f5f7; border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; font-size: 14px; min-height: 20px; margin-bottom: 12px; z-index: 2; }\n",
    ".colourbar { display: flex; align-items: center; gap: 8px; font-size: 12px; margin-bottom: 12px; }\n",
    ".colourbar .ramp { width: 220px; height: 12px; border-radius: 2px; }\n",
    ".panels { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }\n",
    ".panel h2 { font-size: 15px; margin: 0 0 6px; }\n",
    ".panel-input { font-size: 13px; color: #555; margin: -2px 0 6px; }\n",
    ".head-choice { font-size: 13px; display: block; margin-bottom: 6px; }\n",
    ".head-grid { display: flex; flex-wrap: wrap; gap: 18px; }\n",
    ".head-box h3 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }\n",
    "table.heatmap { border-collapse: collapse; }\n",
    "table.heatmap td.cell { width: var(--cell); height: var(--cell); min-width: var(--cell); padding: 0; border: 0; }\n",
    "table.heatmap td.cell.active { outline: 2px solid #ff2d55; outline-offset: -2px; }\n",
    "table.heatmap th { font-weight: normal; font-size: 13px; padding: 0 4px; white-space: nowrap; color: #222; }\n",
    "table.heatmap th.row { text-align: right; }\n",
    "table.heatmap th.col { vertical-align: bottom; text-align: center; padding: 0 0 3px; }\n",
    "table.heatmap th.col.vertical { writing-mode: vertical-rl; text-orientation: mixed; text-align: end; padding: 3px 0; }\n",
    "table.heatmap th.hl { background: #ff2d55; color: #fff; border-radius: 3px; }\n",
    "#tooltip { position: fixed; display: none; pointer-events: none; background: #222; color: #fff; padding: 3px 7px; border-radius: 4px; font-size: 13px; z-index: 5; }\n",
    ".modes { display: flex; gap: 16px; font-size: 14px; margin-bottom: 8px; }\n",
    ".legend { font-size: 12px; color: #666; margin: 0 0 10px; }\n",
    ".document { max-width: 900px; line-height: 2; font-size: 16px; }\n",
    ".sentence { margin: 0 0 6px; padding: 2px 6px; border-radius: 4px; }\n",
    ".sweight { display: inline-block; width: 48px; height: 10px; background: #eee; margin-inline-end: 10px; vertical-align: middle; border-radius: 2px; }\n",
    ".sfill { display: block; height: 10px; background: #3b528b; border-radius: 2px; }\n",
    ".word { padding: 1px 3px; border-radius: 3px; cursor: default; }\n",
    ".word:hover { outline: 2px solid #ff2d55; }\n",
    ".choices { display: flex; gap: 18px; font-size: 14px; margin-bottom: 10px; }\n",
    ".layer-row h2 { font-size: 15px; margin: 8px 0 6px; }\n",
    "table.heatmap.compact th { font-size: 0; padding: 0; }\n",
    ".filters { display: flex; flex-wrap: wrap; gap: 14px; font-size: 14px; margin-bottom: 8px; }\n",
    ".shown-count { font-size: 13px; color: #555; margin: 0 0 10px; }\n",
    ".report-doc { border-top: 1px solid #ddd; padding: 10px 0 4px; }\n",
    ".report-doc h2 { font-size: 15px; margin: 0 0 2px; overflow-wrap: anywhere; }\n",
    ".report-doc .note { font-size: 13px; color: #444; margin: 0 0 4px; }\n",
    ".tags { margin: 0 0 6px; }\n",
    ".tag { display: inline-block; font-size: 11px; background: #eef0f6; color: #3b528b; border-radius: 8px; padding: 0 7px; margin-inline-end: 5px; }\n",
    ".snapshot-controls { display: flex; align-items: center; gap: 12px; font-size: 14px; margin-bottom: 10px; }\n",
    "#snapshot-slider { width: 360px; }\n",
    "#snapshot-play { min-width: 64px; font-size: 14px; }\n",
    ".curves { display: flex; flex-wrap: wrap; gap: 20px; margin-bottom: 10px; }\n",
    "svg.curve { font-size: 11px; }\n",
    "svg.curve .curve-title { font-size: 13px; font-weight: 600; fill: #222; }\n",
    "svg.curve .tick { fill: #555; }\n",
    "svg.curve .grid { stroke: #e6e6e6; }\n",
    "svg.curve .frame { fill: none; stroke: #999; }\n",
    "svg.curve .step-marker { stroke: #ff2d55; stroke-width: 2; }\n",
    ".probe h2 { font-size: 15px; margin: 0 0 2px; }\n",
};

static void put_lines(sbuf *b, const char *const *lines, size_t n) {
    for (size_t i = 0; i < n; i++) sbuf_puts(b, lines[i]);
}

/* The shortest decimal (6 to 9 digits) that reads back as the same float,
 * so the page shows exact weights without the noise of "0.699999988". */
static void put_number(sbuf *b, float v) {
    char text[32];
    if (!isfinite(v)) v = 0;
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    sbuf_puts(b, text);
}

static void put_strings(sbuf *b, char *const *s, int n) {
    sbuf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i) sbuf_puts(b, ",");
        sbuf_json_string_html(b, s[i]);
    }
    sbuf_puts(b, "]");
}

static void put_key_string(sbuf *b, const char *key, const char *value) {
    sbuf_printf(b, "\"%s\":", key);
    sbuf_json_string_html(b, value ? value : "");
    sbuf_puts(b, ",");
}

/* The colour map's anchors at 0, 1/8, ..., 1. */
static void put_colours(sbuf *b) {
    sbuf_puts(b, "\"colours\":[");
    for (int k = 0; k <= 8; k++) {
        uint8_t rgb[3];
        at_viz_colour((float)k / 8.0f, rgb);
        sbuf_printf(b, "%s[%d,%d,%d]", k ? "," : "", rgb[0], rgb[1], rgb[2]);
    }
    sbuf_puts(b, "],");
}

static void put_map(sbuf *b, const at_attention_map *m) {
    sbuf_puts(b, "{");
    put_key_string(b, "title", m->title);
    put_key_string(b, "model", m->model);
    put_key_string(b, "mechanism", m->mechanism);
    sbuf_printf(b, "\"heads\":%d,\"rows\":%d,\"cols\":%d,\"row_labels\":", m->heads, m->rows,
                m->cols);
    put_strings(b, m->row_labels, m->rows);
    sbuf_puts(b, ",\"col_labels\":");
    put_strings(b, m->col_labels, m->cols);
    sbuf_puts(b, ",\"weights\":[");
    for (int h = 0; h < m->heads; h++) {
        sbuf_puts(b, h ? ",[" : "[");
        for (int r = 0; r < m->rows; r++) {
            sbuf_puts(b, r ? ",\n[" : "\n[");
            const float *row = m->weights + ((size_t)h * m->rows + r) * m->cols;
            for (int c = 0; c < m->cols; c++) {
                if (c) sbuf_puts(b, ",");
                put_number(b, row[c]);
            }
            sbuf_puts(b, "]");
        }
        sbuf_puts(b, "]");
    }
    sbuf_puts(b, "]}");
}

/* 4 significant digits: a report of a thousand long documents stays a
 * file a browser opens at once (the hover shows 4 decimals anyway). */
static void put_short_number(sbuf *b, float v) {
    sbuf_printf(b, "%.4g", isfinite(v) ? (double)v : 0.0);
}

/* The sentences of a document; weights exact, or to 4 digits (short). */
static void put_doc(sbuf *b, const at_attention_doc *d, int short_numbers) {
    void (*number)(sbuf *, float) = short_numbers ? put_short_number : put_number;
    sbuf_puts(b, "\"sentences\":[");
    for (int s = 0, w = 0; s < d->sentences; w += d->lengths[s], s++) {
        sbuf_puts(b, s ? ",\n{\"weight\":" : "\n{\"weight\":");
        number(b, d->sentence_weights[s]);
        sbuf_puts(b, ",\"words\":");
        put_strings(b, d->word_text + w, d->lengths[s]);
        sbuf_puts(b, ",\"word_weights\":[");
        for (int i = 0; i < d->lengths[s]; i++) {
            if (i) sbuf_puts(b, ",");
            number(b, d->word_weights[w + i]);
        }
        sbuf_puts(b, "]}");
    }
    sbuf_puts(b, "]");
}

/* Everything before the data. */
static void put_head(sbuf *b, const char *title) {
    sbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>");
    sbuf_xml_text(b, title && title[0] ? title : "attention");
    sbuf_puts(b, " \xE2\x80\x94 attend</title>\n<style>\n");
    put_lines(b, page_css, sizeof page_css / sizeof page_css[0]);
    sbuf_puts(b, "</style>\n</head>\n<body>\n<h1 id=\"heading\"></h1>\n<p id=\"subheading\"></p>\n"
                 "<div id=\"readout\" role=\"status\" aria-live=\"polite\"></div>\n"
                 "<div id=\"view\"></div>\n<div id=\"tooltip\"></div>\n"
                 "<script id=\"attend-data\" type=\"application/json\">");
}

static at_status finish(at_ctx *ctx, sbuf *b, const char *path) {
    sbuf_puts(b, "</script>\n<script>\n");
    sbuf_puts(b, (const char *)viz_page_js);
    sbuf_puts(b, "</script>\n</body>\n</html>\n");
    at_status s = b->failed ? at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path)
                            : viz_write_file(ctx, path, b->data, b->len);
    sbuf_free(b);
    return s;
}

/* A page of maps; kind "maps" (side by side) or "layers" (selected). */
static at_status html_maps(at_ctx *ctx, const char *kind, int n,
                           const at_attention_map *const *maps, const char *title,
                           const char *path) {
    sbuf b = {0};
    char name[300];
    snprintf(name, sizeof name, "%s%s%s", maps[0]->model, maps[0]->mechanism[0] ? " " : "",
             maps[0]->mechanism);
    put_head(&b, title ? title : name);
    sbuf_printf(&b, "{\"kind\":\"%s\",", kind);
    put_key_string(&b, "title", title);
    put_colours(&b);
    sbuf_puts(&b, "\"maps\":[");
    for (int i = 0; i < n; i++) {
        if (i) sbuf_puts(&b, ",\n");
        put_map(&b, maps[i]);
    }
    sbuf_puts(&b, "]}");
    return finish(ctx, &b, path);
}

at_status viz_html_maps(at_ctx *ctx, int n, const at_attention_map *const *maps,
                        const char *title, const char *path) {
    return html_maps(ctx, "maps", n, maps, title, path);
}

at_status viz_html_layers(at_ctx *ctx, int n, const at_attention_map *const *maps,
                          const char *title, const char *path) {
    return html_maps(ctx, "layers", n, maps, title, path);
}

at_status viz_html_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path) {
    sbuf b = {0};
    put_head(&b, doc->title);
    sbuf_puts(&b, "{\"kind\":\"document\",");
    put_key_string(&b, "title", doc->title);
    put_key_string(&b, "model", doc->model);
    put_key_string(&b, "mechanism", doc->mechanism);
    put_colours(&b);
    put_doc(&b, doc, 0);
    sbuf_puts(&b, "}");
    return finish(ctx, &b, path);
}

/* The space-separated words of tags as a JSON array of strings. */
static void put_tags(sbuf *b, const char *tags) {
    sbuf_puts(b, "[");
    int first = 1;
    for (const char *p = tags ? tags : ""; *p;) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            char *tag = malloc(n + 1);
            if (!tag) {
                b->failed = 1;
                return;
            }
            memcpy(tag, p, n);
            tag[n] = 0;
            sbuf_puts(b, first ? "" : ",");
            sbuf_json_string_html(b, tag);
            free(tag);
            first = 0;
        }
        p += n + (p[n] == ' ');
    }
    sbuf_puts(b, "]");
}

at_status viz_html_report(at_ctx *ctx, int n, const at_attention_doc *const *docs,
                          const char *const *notes, const char *const *tags, const char *title,
                          const char *path) {
    sbuf b = {0};
    put_head(&b, title && title[0] ? title : "documents");
    sbuf_puts(&b, "{\"kind\":\"documents\",");
    put_key_string(&b, "title", title);
    put_colours(&b);
    sbuf_puts(&b, "\"docs\":[");
    for (int i = 0; i < n && !b.failed; i++) {
        const at_attention_doc *d = docs[i];
        sbuf_puts(&b, i ? ",\n{" : "\n{");
        put_key_string(&b, "title", d->title);
        put_key_string(&b, "model", d->model);
        put_key_string(&b, "mechanism", d->mechanism);
        put_key_string(&b, "note", notes ? notes[i] : NULL);
        sbuf_puts(&b, "\"tags\":");
        put_tags(&b, tags ? tags[i] : NULL);
        sbuf_puts(&b, ",");
        put_doc(&b, d, 1);
        sbuf_puts(&b, "}");
    }
    sbuf_puts(&b, "]}");
    return finish(ctx, &b, path);
}

/* ---------------------------------------------- pages built by other files */

void viz_html_begin(sbuf *b, const char *title) { put_head(b, title); }
void viz_html_put_colours(sbuf *b) { put_colours(b); }
void viz_html_put_map(sbuf *b, const at_attention_map *map) { put_map(b, map); }
void viz_html_put_number(sbuf *b, float v) { put_number(b, v); }
at_status viz_html_end(at_ctx *ctx, sbuf *b, const char *path) { return finish(ctx, b, path); }
