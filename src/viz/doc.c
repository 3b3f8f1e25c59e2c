/*
 * doc.c - static (HAN) attention as a picture: the document itself, one
 * sentence per line (wrapped when long), each word on a box shaded by its
 * weight and each sentence led by a bar as long as its weight.
 *
 * As in the HTML page, a word's shade is sqrt(sentence weight / largest
 * sentence weight) × (word weight / largest word weight in its sentence),
 * the two-level view of Yang et al. (2016): words of an unimportant
 * sentence fade. Shades run from white to the colour map's blue.
 *
 * A report (at_plot_doc_report) puts many documents in one HTML page,
 * drawn by the same script as the one-document page (html.c); here it is
 * only checked.
 */
#include "internal.h"
#include "viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};
static const uint8_t TRACK[3] = {0xEE, 0xEE, 0xEE};
static const uint8_t BLUE[3] = {59, 82, 139};

enum { MARGIN = 16, BAR = 48, MAX_LINE = 760 };
#define FONT 15.0
#define LINE_H 26.0

static void shade(double t, uint8_t rgb[3]) {
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lround(255 + t * (BLUE[k] - 255));
}

static float max_of(const float *x, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m > 0 ? m : 1;
}

/* One sentence from y; returns the y below it. */
static double put_sentence(dl_list *l, viz_measure *vm, const at_attention_doc *d, int s,
                           int first_word, double y, double rel_s) {
    uint8_t rgb[3];
    dl_rect(l, MARGIN, y + LINE_H / 2 - 5, BAR, 10, TRACK);
    dl_rect(l, MARGIN, y + LINE_H / 2 - 5, BAR * rel_s, 10, BLUE);
    double left = MARGIN + BAR + 12, x = left;
    float max_w = max_of(d->word_weights + first_word, d->lengths[s]);
    for (int i = 0; i < d->lengths[s]; i++) {
        const char *word = d->word_text[first_word + i];
        double w, h;
        viz_text_size(vm, word, FONT, 0, &w, &h);
        if (x > left && x + w + 6 > MAX_LINE) {
            x = left;
            y += LINE_H;
        }
        double t = sqrt(rel_s) * d->word_weights[first_word + i] / max_w;
        shade(t, rgb);
        dl_rect(l, x, y + 2, w + 6, LINE_H - 4, rgb);
        dl_text(l, x + 3, y + LINE_H / 2, word, FONT, 0, DL_START, 0, t > 0.55 ? WHITE : INK,
                "word");
        x += w + 10;
    }
    return y + LINE_H + 6;
}

static at_status doc_figure(at_ctx *ctx, const at_attention_doc *d, dl_list *l) {
    viz_measure *vm;
    at_status s = viz_measure_create(ctx, &vm);
    if (s != AT_OK) return s;
    dl_rect(l, 0, 0, 1, 1, WHITE);
    double y = MARGIN;
    char heading[400];
    snprintf(heading, sizeof heading, "%s%s%s", d->model, d->model[0] && d->mechanism[0] ? " \xC2\xB7 " : "",
             d->mechanism);
    dl_text(l, MARGIN, y + 10, heading[0] ? heading : "static attention", 16, 1, DL_START, 0,
            INK, "heading");
    y += 26;
    if (d->title[0]) {
        dl_text(l, MARGIN, y + 8, d->title, 12.5, 0, DL_START, 0, GREY, "subheading");
        y += 22;
    }
    dl_text(l, MARGIN, y + 8,
            "bar: sentence weight; shade: word weight (relative to its sentence, scaled by the "
            "sentence's)",
            11, 0, DL_START, 0, GREY, "legend");
    y += 26;
    float max_s = max_of(d->sentence_weights, d->sentences);
    for (int i = 0, w = 0; i < d->sentences; w += d->lengths[i], i++)
        y = put_sentence(l, vm, d, i, w, y, d->sentence_weights[i] / max_s);
    double widest = 0;
    for (size_t i = 0; i < l->count; i++) {
        const dl_item *it = &l->items[i];
        double right = it->kind == DL_RECT ? it->x + it->w : it->x;
        if (it->kind == DL_TEXT) {
            double w, h;
            viz_text_size(vm, it->text, it->size, it->bold, &w, &h);
            right += w;
        }
        widest = right > widest ? right : widest;
    }
    l->width = ceil(widest + MARGIN);
    l->height = ceil(y + MARGIN);
    if (!l->failed) {
        l->items[0].w = l->width;
        l->items[0].h = l->height;
    }
    viz_measure_free(vm);
    return AT_OK;
}

at_status at_plot_doc(at_ctx *ctx, const at_attention_doc *doc, const char *path) {
    if (!doc || !path || doc->sentences < 1 || doc->words < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "plot document: NULL or empty argument");
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (!strcmp(ext, "html")) return viz_html_doc(ctx, doc, path);
    dl_list l = {0};
    at_status s = doc_figure(ctx, doc, &l);
    if (s == AT_OK) s = viz_render(ctx, &l, path, ext);
    dl_free(&l);
    return s;
}

/* A document fit for the report: non-empty, finite weights >= 0. */
static at_status check_report_doc(at_ctx *ctx, const at_attention_doc *d, int i) {
    if (!d || d->sentences < 1 || d->words < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document report: document %d is %s", i,
                           d ? "empty" : "NULL");
    for (int s = 0; s < d->sentences; s++)
        if (!(isfinite(d->sentence_weights[s]) && d->sentence_weights[s] >= 0))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "document report: document %d (%s): sentence %d has weight %g; "
                               "a weight is a finite number >= 0",
                               i, d->title, s, (double)d->sentence_weights[s]);
    for (int w = 0; w < d->words; w++)
        if (!(isfinite(d->word_weights[w]) && d->word_weights[w] >= 0))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "document report: document %d (%s): word %d (\"%s\") has weight "
                               "%g; a weight is a finite number >= 0",
                               i, d->title, w, d->word_text[w], (double)d->word_weights[w]);
    return AT_OK;
}

at_status at_plot_doc_report(at_ctx *ctx, int n, const at_attention_doc *const *docs,
                             const char *const *notes, const char *const *tags,
                             const char *title, const char *path) {
    if (!docs || !path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document report: NULL argument");
    if (n < 1) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "document report: %d documents", n);
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (strcmp(ext, "html"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: a document report is an .html page", path);
    double numbers = 0;
    for (int i = 0; i < n; i++) {
        AT_TRY(check_report_doc(ctx, docs[i], i));
        if (notes && notes[i]) AT_TRY(at_utf8_check(ctx, notes[i], strlen(notes[i]), "note"));
        if (tags && tags[i]) AT_TRY(at_utf8_check(ctx, tags[i], strlen(tags[i]), "tags"));
        numbers += docs[i]->words + docs[i]->sentences;
    }
    if (title) AT_TRY(at_utf8_check(ctx, title, strlen(title), "title"));
    char what[64];
    snprintf(what, sizeof what, "%d documents", n);
    AT_TRY(viz_check_budget(ctx, path, ext, numbers, 0, 0, what));
    return viz_html_report(ctx, n, docs, notes, tags, title, path);
}
