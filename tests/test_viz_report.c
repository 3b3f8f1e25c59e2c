/*
 * test_viz_report.c - the classifier's two figures: a report of many
 * documents in one HTML page (at_plot_doc_report) and the top-weighted
 * words per class as bars (at_plot_top_words).
 *
 * The report of three documents (two sentences of a HAN, one flat
 * sentence of weight 1, one with a word that tries to close the script
 * element) is read back: one page with exactly its two script elements, no
 * '<' inside the data, every title, note, tag and word as given, every
 * weight to 4 significant digits. 1,200 documents of 1,000 words stay
 * under 30 MB. The bars are read back from the SVG (their length in
 * proportion to the values, one scale for every panel, in order down the
 * panel) and the PNG (that size, the bars in their colour). Bad input is
 * refused with a message and leaves no file.
 *
 * `test_viz_report --write DIR` only writes report.html into DIR (used by
 * tests/browser/ to check the page in Chromium).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "viz_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir = "viz_report_out";

static void path_in(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

/* ---------------------------------------------------- three documents */

#define EVIL "</script><script>alert(1)</script>"

static const int HAN_LENGTHS[2] = {4, 3};
static const char *const HAN_WORDS[7] = {"Dear", "friend,", "claim", "\u20ac500!",
                                         "Reply", "\"now\"", "&amp;"};
static const float HAN_WEIGHTS[7] = {0.05f, 0.10f, 0.123456789f, 0.726543211f,
                                     0.2f, 0.7f, 0.1f};
static const float HAN_SENTENCES[2] = {0.8f, 0.2f};
static const int FLAT_LENGTHS[1] = {5};
static const char *const FLAT_WORDS[5] = {"meeting", "at", EVIL, "<b>noon</b>", "\xD0\xBC\xD0\xB0\xD1\x8F"};
static const float FLAT_WEIGHTS[5] = {0.4f, 0.05f, 0.3f, 0.2f, 0.05f};
static const float FLAT_SENTENCE[1] = {1.0f};

static at_attention_doc *make_doc(at_ctx *ctx, int sentences, const int *lengths,
                                  const char *const *words, const float *weights,
                                  const float *sentence_weights, const char *title,
                                  const char *model) {
    at_attention_doc *d = NULL;
    CHECK_OK(ctx, at_attention_doc_create(ctx, &d, sentences, lengths));
    if (!d) exit(2);
    CHECK_OK(ctx, at_attention_doc_set_words(ctx, d, words));
    memcpy(d->word_weights, weights, (size_t)d->words * sizeof *weights);
    memcpy(d->sentence_weights, sentence_weights, (size_t)sentences * sizeof *sentence_weights);
    CHECK_OK(ctx, at_attention_doc_set_text(ctx, d, title, model, "static (HAN)"));
    return d;
}

typedef struct three {
    at_attention_doc *docs[3];
} three;

static void three_make(at_ctx *ctx, three *t) {
    t->docs[0] = make_doc(ctx, 2, HAN_LENGTHS, HAN_WORDS, HAN_WEIGHTS, HAN_SENTENCES,
                          "<msg-0001@example.com>", "han");
    t->docs[1] = make_doc(ctx, 1, FLAT_LENGTHS, FLAT_WORDS, FLAT_WEIGHTS, FLAT_SENTENCE,
                          "msg " EVIL, "flat");
    t->docs[2] = make_doc(ctx, 2, HAN_LENGTHS, HAN_WORDS, HAN_WEIGHTS, HAN_SENTENCES, "",
                          "han");
}

static void three_free(three *t) {
    for (int i = 0; i < 3; i++) at_attention_doc_free(t->docs[i]);
}

static const char *const NOTES[3] = {"true spam \xC2\xB7 predicted ham (p = 0.91) \xC2\xB7 <hard_ham> & \"x\"",
                                     "true ham \xC2\xB7 predicted ham " EVIL, NULL};
static const char *const TAGS[3] = {"wrong hard_ham", " easy_ham  ", "spam wrong"};
static const char *const TITLE = "test messages & <errors>";

static at_status write_report(at_ctx *ctx, three *t, const char *path) {
    return at_plot_doc_report(ctx, 3, (const at_attention_doc *const *)t->docs, NOTES, TAGS,
                              TITLE, path);
}

/* The strings of a JSON array equal want[0..n). */
static int strings_equal(json_object *array, const char *const *want, int n) {
    if (!json_object_is_type(array, json_type_array) || (int)json_object_array_length(array) != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(array, (size_t)i)), want[i]))
            return 0;
    return 1;
}

/* Weights to 4 significant digits: within half a unit of the 4th digit. */
static int close4(double got, float want) {
    return fabs(got - want) <= 5.001e-4 * fabs(want) + 1e-12;
}

/* Document i of the page's data against the document it came from. */
static void check_page_doc(json_object *page_doc, const at_attention_doc *d, int i,
                           const char *const *tags, int n_tags) {
    CHECK(!strcmp(json_object_get_string(test_field(page_doc, "title")), d->title) &&
              !strcmp(json_object_get_string(test_field(page_doc, "model")), d->model),
          "report doc %d: title or model differs", i);
    CHECK(!strcmp(json_object_get_string(test_field(page_doc, "note")), NOTES[i] ? NOTES[i] : ""),
          "report doc %d: note '%s'", i, json_object_get_string(test_field(page_doc, "note")));
    CHECK(strings_equal(test_field(page_doc, "tags"), tags, n_tags), "report doc %d: tags %s", i,
          json_object_to_json_string(test_field(page_doc, "tags")));
    json_object *sentences = test_field(page_doc, "sentences");
    CHECK((int)json_object_array_length(sentences) == d->sentences, "report doc %d: %d sentences",
          i, (int)json_object_array_length(sentences));
    int bad = 0;
    for (int s = 0, w = 0; s < d->sentences && s < (int)json_object_array_length(sentences);
         w += d->lengths[s], s++) {
        json_object *sent = json_object_array_get_idx(sentences, (size_t)s);
        bad += !close4(json_object_get_double(test_field(sent, "weight")), d->sentence_weights[s]);
        bad += !strings_equal(test_field(sent, "words"), (const char *const *)d->word_text + w,
                              d->lengths[s]);
        json_object *ww = test_field(sent, "word_weights");
        for (int k = 0; k < d->lengths[s]; k++) {
            double got = json_object_get_double(json_object_array_get_idx(ww, (size_t)k));
            if (!close4(got, d->word_weights[w + k]) && bad++ < 3)
                fprintf(stderr, "  doc %d word %d: %.9g for %.9g\n", i, w + k, got,
                        (double)d->word_weights[w + k]);
        }
    }
    CHECK(bad == 0, "report doc %d: %d words or weights differ from the document", i, bad);
}

static void test_report(at_ctx *ctx) {
    three t;
    three_make(ctx, &t);
    char path[512];
    path_in(path, sizeof path, "report.html");
    CHECK_OK(ctx, write_report(ctx, &t, path));
    char *html = test_read_text(path);
    CHECK(html && !strncmp(html, "<!DOCTYPE html>", 15), "%s: not an HTML page", path);
    if (!html) return;
    /* the data and the script: two elements, nothing a word could open */
    CHECK(test_count_of(html, "<script") == 2 && test_count_of(html, "</script") == 2,
          "report.html: %d <script and %d </script, expected 2 each (a word broke out)",
          test_count_of(html, "<script"), test_count_of(html, "</script"));
    const char *data = strstr(html, "type=\"application/json\">");
    const char *end = data ? strstr(data, "</script>") : NULL;
    CHECK(data && end && !memchr(data + 24, '<', (size_t)(end - data - 24)),
          "report.html: a '<' inside the data");
    CHECK(strstr(html, "\\u003c\\/script\\u003e\\u003cscript\\u003ealert(1)") != NULL,
          "report.html: the script-closing word is not written with \\u003c");
    CHECK(strstr(html, "<title>test messages &amp; &lt;errors&gt; \xE2\x80\x94 attend</title>"),
          "report.html: the <title> is not escaped");
    CHECK(strstr(html, "0.1235") && !strstr(html, "0.123457"),
          "report.html: weights are not written with 4 significant digits");
    CHECK(!strstr(html, "http://") && !strstr(html, "https://") && !strstr(html, " src="),
          "report.html: the page refers to something outside itself");
    json_object *root = test_page_data(html);
    CHECK(root != NULL, "report.html: the data does not parse as JSON");
    if (root) {
        CHECK(!strcmp(json_object_get_string(test_field(root, "kind")), "documents") &&
                  !strcmp(json_object_get_string(test_field(root, "title")), TITLE),
              "report.html: kind or title");
        json_object *docs = test_field(root, "docs");
        CHECK(json_object_is_type(docs, json_type_array) && json_object_array_length(docs) == 3,
              "report.html: not 3 documents");
        static const char *const tags0[2] = {"wrong", "hard_ham"};
        static const char *const tags1[1] = {"easy_ham"};
        static const char *const tags2[2] = {"spam", "wrong"};
        if (json_object_array_length(docs) == 3) {
            check_page_doc(json_object_array_get_idx(docs, 0), t.docs[0], 0, tags0, 2);
            check_page_doc(json_object_array_get_idx(docs, 1), t.docs[1], 1, tags1, 1);
            check_page_doc(json_object_array_get_idx(docs, 2), t.docs[2], 2, tags2, 2);
        }
        json_object_put(root);
    }
    free(html);
    /* no notes, no tags, no title */
    CHECK_OK(ctx, at_plot_doc_report(ctx, 3, (const at_attention_doc *const *)t.docs, NULL, NULL,
                                     NULL, path));
    html = test_read_text(path);
    root = html ? test_page_data(html) : NULL;
    json_object *d0 = root ? json_object_array_get_idx(test_field(root, "docs"), 0) : NULL;
    CHECK(d0 && !strcmp(json_object_get_string(test_field(d0, "note")), "") &&
              json_object_array_length(test_field(d0, "tags")) == 0 &&
              !strcmp(json_object_get_string(test_field(root, "title")), ""),
          "report.html without notes, tags and title");
    if (root) json_object_put(root);
    free(html);
    three_free(&t);
}

/* 1,200 documents of 1,000 words (25 sentences of 40 words, weights
 * spread as a model's are) make a file a browser opens: under 30 MB. */
static void test_report_size(at_ctx *ctx) {
    enum { DOCS = 1200, SENTENCES = 25, PER = 40, WORDS = SENTENCES * PER };
    static const char *const vocab[8] = {"the", "offer", "meeting", "tomorrow",
                                         "unsubscribe", "is", "free", "project"};
    int lengths[SENTENCES];
    const char *words[WORDS];
    for (int s = 0; s < SENTENCES; s++) lengths[s] = PER;
    for (int w = 0; w < WORDS; w++) words[w] = vocab[(w * 7 + w / 3) % 8];
    at_attention_doc *d = NULL;
    CHECK_OK(ctx, at_attention_doc_create(ctx, &d, SENTENCES, lengths));
    if (!d) return;
    CHECK_OK(ctx, at_attention_doc_set_words(ctx, d, words));
    at_rng *rng = at_ctx_rng(ctx);
    for (int s = 0; s < SENTENCES; s++) {
        float sum = 0, *w = d->word_weights + s * PER;
        for (int i = 0; i < PER; i++) sum += w[i] = expf(4.0f * at_rng_uniform(rng));
        for (int i = 0; i < PER; i++) w[i] /= sum;
        d->sentence_weights[s] = 1.0f / SENTENCES + 0.001f * (float)s;
    }
    CHECK_OK(ctx, at_attention_doc_set_text(ctx, d, "<msg-0001@example.com>", "han", "static"));
    const at_attention_doc **docs = malloc(DOCS * sizeof *docs);
    const char **notes = malloc(DOCS * sizeof *notes), **tags = malloc(DOCS * sizeof *tags);
    if (!docs || !notes || !tags) exit(2);
    for (int i = 0; i < DOCS; i++) {
        docs[i] = d;
        notes[i] = "true spam \xC2\xB7 predicted ham (p = 0.91) \xC2\xB7 hard_ham";
        tags[i] = i % 3 ? "hard_ham" : "wrong spam";
    }
    char path[512];
    path_in(path, sizeof path, "report-large.html");
    CHECK_OK(ctx, at_plot_doc_report(ctx, DOCS, docs, notes, tags, "1,200 messages", path));
    size_t n = 0;
    unsigned char *bytes = test_read_file(path, &n);
    printf("report of %d documents of %d words: %.1f MB\n", DOCS, WORDS, (double)n / 1e6);
    CHECK(bytes && n > (size_t)DOCS * WORDS * 10 && n < 30u * 1000 * 1000,
          "report-large.html: %zu bytes, expected under 30 MB", n);
    free(bytes);
    remove(path);
    free(docs);
    free(notes);
    free(tags);
    at_attention_doc_free(d);
}

static void test_report_refused(at_ctx *ctx) {
    three t;
    three_make(ctx, &t);
    const at_attention_doc *docs[3] = {t.docs[0], t.docs[1], t.docs[2]};
    char path[512];
    path_in(path, sizeof path, "report-bad.html");
    remove(path);
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 0, docs, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, NULL, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, NULL, NULL), AT_ERR_ARGUMENT);
    const at_attention_doc *holes[3] = {t.docs[0], NULL, t.docs[2]};
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, holes, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "document 1 is NULL"), "message: %s", at_ctx_error(ctx));
    t.docs[1]->word_weights[2] = NAN;
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "document 1") && strstr(at_ctx_error(ctx), "word 2"),
          "the NaN's message names the document and the word: %s", at_ctx_error(ctx));
    t.docs[1]->word_weights[2] = -0.1f;
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    t.docs[1]->word_weights[2] = 0.3f;
    t.docs[0]->sentence_weights[1] = INFINITY;
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    t.docs[0]->sentence_weights[1] = 0.2f;
    const char *bad_notes[3] = {"ok", "\xC3\x28 broken", NULL};
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, bad_notes, NULL, NULL, path),
                 AT_ERR_ARGUMENT);
    const char *bad_tags[3] = {NULL, NULL, "\xFF"};
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, bad_tags, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, "\xC0\xAF", path),
                 AT_ERR_ARGUMENT);
    CHECK(!test_exists(path), "a refused report left %s", path);
    path_in(path, sizeof path, "report-bad.png");
    CHECK_STATUS(ctx, at_plot_doc_report(ctx, 3, docs, NULL, NULL, NULL, path), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), ".html"), "the extension's message: %s", at_ctx_error(ctx));
    CHECK(!test_exists(path), "a refused report left %s", path);
    three_free(&t);
}

/* ------------------------------------------------------------ the bars */

enum { PANELS = 2, K = 5 };
static const char *const CLASSES[PANELS] = {"ham", "spam"};
static const char *const TOP[PANELS][K] = {
    {"meeting", "project", "</b>&amp;", "\xE4\xBC\x9A\xE8\xAE\xAE", "thanks"},
    {"free", "click", "\xD9\x85\xD8\xAC\xD8\xA7\xD9\x86\xD9\x8A", "unsubscribe", "zero"}};
static const double VALUES[PANELS][K] = {{3.5, 2.0, 1.25, 0.5, 0.2}, {7.0, 4.2, 1.0, 0.35, 0.0}};

/* The bars of the SVG: one per panel and word, lengths in proportion to
 * the values on one scale, starting together in a panel, down the panel
 * in order, panel 2 right of panel 1, a colour per panel; the words and
 * the scale's name as <text>. The PNG: the SVG's size at 2 pixels per px,
 * each long bar in its colour inside and white past its end. */
static void check_top_words(const char *svg_path, const char *png_path) {
    char *svg = test_read_text(svg_path);
    test_shape bars[PANELS * K];
    int n = svg ? test_svg_rects(svg, "bar ", bars, PANELS * K) : 0;
    CHECK(n == PANELS * K, "%s: %d bars, expected %d", svg_path, n, PANELS * K);
    test_shape *at[PANELS][K] = {{0}};
    for (int i = 0; i < n && i < PANELS * K; i++) {
        int p = -1, w = -1;
        if (sscanf(bars[i].cls, "bar p%d w%d", &p, &w) == 2 && p >= 0 && p < PANELS && w >= 0 &&
            w < K && !at[p][w])
            at[p][w] = &bars[i];
    }
    int bad = 0;
    double scale = at[1][0] ? at[1][0]->w / VALUES[1][0] : 0; /* px per unit */
    for (int p = 0; p < PANELS; p++)
        for (int w = 0; w < K; w++) {
            test_shape *b = at[p][w];
            if (!b) {
                bad++;
                continue;
            }
            if (fabs(b->w - scale * VALUES[p][w]) > 0.02 && bad++ < 4)
                fprintf(stderr, "  bar p%d w%d: %.2f px for %.2f (%.2f px per unit)\n", p, w, b->w,
                        VALUES[p][w], scale);
            if (w > 0 && at[p][w - 1] &&
                (fabs(b->x - at[p][w - 1]->x) > 0.01 || !(b->y > at[p][w - 1]->y + 1) ||
                 strcmp(b->fill, at[p][w - 1]->fill)))
                bad++;
            if (p > 0 && at[p - 1][w] &&
                (!(b->x > at[p - 1][w]->x + at[p - 1][0]->w) || !strcmp(b->fill, at[p - 1][w]->fill)))
                bad++;
        }
    CHECK(bad == 0 && scale > 20,
          "%s: %d bars out of proportion with the values, order, place or colour", svg_path, bad);
    CHECK(svg && strstr(svg, ">spam</text>") && strstr(svg, ">ham</text>") &&
              strstr(svg, ">\xD9\x85\xD8\xAC\xD8\xA7\xD9\x86\xD9\x8A</text>") &&
              strstr(svg, ">&lt;/b&gt;&amp;amp;</text>") && strstr(svg, ">summed attention</text>") &&
              strstr(svg, "class=\"word p1 w3\""),
          "%s: a word, a panel title or the scale's name is missing", svg_path);
    double width = 0, height = 0;
    CHECK(svg && sscanf(strstr(svg, "<svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                                              "width=\"%lf\" height=\"%lf\"",
                        &width, &height) == 2,
          "%s: no size", svg_path);
    cairo_surface_t *png = test_load_png(png_path);
    if (png) {
        int pw = cairo_image_surface_get_width(png), ph = cairo_image_surface_get_height(png);
        CHECK(pw == (int)ceil(2 * width) && ph == (int)ceil(2 * height) && pw > 600 && ph > 200 &&
                  pw < 4000 && ph < 1000,
              "%s: %d x %d pixels for a %.0f x %.0f SVG", png_path, pw, ph, width, height);
        for (int p = 0; p < PANELS && !bad; p++)
            for (int w = 0; w < K; w++) {
                test_shape *b = at[p][w];
                if (b->w < 8) continue;
                uint8_t want[3], inside[3], past[3];
                test_parse_hex(b->fill, want);
                test_pixel(png, (int)(2 * (b->x + b->w - 2)), (int)(2 * (b->y + b->h / 2)), inside);
                test_pixel(png, (int)(2 * (b->x + b->w + 1)), (int)(2 * (b->y + b->h / 2)), past);
                CHECK(test_near(inside, want, 1) && !test_near(past, want, 24),
                      "%s: bar p%d w%d is not drawn %.1f px long in the PNG", png_path, p, w, b->w);
            }
        cairo_surface_destroy(png);
    }
    free(svg);
}

static void test_top_words(at_ctx *ctx) {
    char png[512], svg[512], pdf[512];
    path_in(png, sizeof png, "top-words.png");
    path_in(svg, sizeof svg, "top-words.svg");
    path_in(pdf, sizeof pdf, "top-words.pdf");
    const char *const *words = &TOP[0][0];
    CHECK_OK(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, &VALUES[0][0],
                                    "summed attention", png));
    CHECK_OK(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, &VALUES[0][0],
                                    "summed attention", svg));
    CHECK_OK(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, &VALUES[0][0], NULL, pdf));
    check_top_words(svg, png);
    size_t n = 0;
    unsigned char *bytes = test_read_file(pdf, &n);
    CHECK(bytes && n > 1000 && !memcmp(bytes, "%PDF", 4), "%s is not a PDF", pdf);
    free(bytes);
    /* every value 0: bars of no length, no division by zero */
    static const double zeros[K] = {0};
    path_in(svg, sizeof svg, "top-words-zero.svg");
    CHECK_OK(ctx, at_plot_top_words(ctx, 1, CLASSES, K, words, zeros, NULL, svg));
    char *text = test_read_text(svg);
    test_shape flat[K];
    int bars = text ? test_svg_rects(text, "bar ", flat, K) : 0;
    int empty = bars == K;
    for (int i = 0; i < bars && i < K; i++) empty = empty && flat[i].w == 0;
    CHECK(empty && !strstr(text, "\"nan\"") && !strstr(text, "\"-nan\""), "all-zero bars: %d bars, not all empty", bars);
    free(text);
    /* 100 words, the most */
    const char *many[AT_VIZ_MAX_TOP_WORDS];
    double values[AT_VIZ_MAX_TOP_WORDS];
    for (int i = 0; i < AT_VIZ_MAX_TOP_WORDS; i++)
        many[i] = TOP[i % 2][i % K], values[i] = 100.0 - i;
    path_in(png, sizeof png, "top-words-many.png");
    CHECK_OK(ctx, at_plot_top_words(ctx, 1, CLASSES, AT_VIZ_MAX_TOP_WORDS, many, values, NULL, png));
}

static void test_top_words_refused(at_ctx *ctx) {
    char path[512];
    path_in(path, sizeof path, "top-words-bad.svg");
    remove(path);
    const char *words[PANELS * K];
    double values[PANELS * K];
    memcpy(words, &TOP[0][0], sizeof words);
    memcpy(values, &VALUES[0][0], sizeof values);
    values[7] = NAN;
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "unsubscribe") || strstr(at_ctx_error(ctx), "panel 1"),
          "the NaN's message names the word: %s", at_ctx_error(ctx));
    values[7] = -1;
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    values[7] = INFINITY;
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    values[7] = 1;
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, 0, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, 1, CLASSES, AT_VIZ_MAX_TOP_WORDS + 1, words, values,
                                        NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, 0, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, AT_VIZ_MAX_SERIES + 1, CLASSES, K, words, values,
                                        NULL, path),
                 AT_ERR_ARGUMENT);
    words[3] = NULL;
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "word 3 of panel 0"), "the NULL word's message: %s",
          at_ctx_error(ctx));
    words[3] = "\xED\xA0\x80"; /* a surrogate: not UTF-8 */
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    words[3] = "ok";
    const char *titles[PANELS] = {"ham", NULL};
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, titles, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, NULL, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, NULL, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, NULL, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK(!test_exists(path), "a refused top-words figure left %s", path);
    path_in(path, sizeof path, "top-words.html");
    CHECK_STATUS(ctx, at_plot_top_words(ctx, PANELS, CLASSES, K, words, values, NULL, path),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "top-words.html: the top-words figure is .png, .svg or .pdf"),
          "the extension's message: %s", at_ctx_error(ctx));
    CHECK(!test_exists(path), "a refused top-words figure left %s", path);
}

int main(int argc, char **argv) {
    at_ctx *ctx = test_new_ctx();
    if (argc > 2 && !strcmp(argv[1], "--write")) {
        dir = argv[2];
        mkdir(dir, 0755);
        three t;
        three_make(ctx, &t);
        char path[512];
        path_in(path, sizeof path, "report.html");
        at_status s = write_report(ctx, &t, path);
        three_free(&t);
        if (s != AT_OK) fprintf(stderr, "%s\n", at_ctx_error(ctx));
        at_ctx_free(ctx);
        return s == AT_OK ? 0 : 1;
    }
    mkdir(dir, 0755);
    test_report(ctx);
    test_report_size(ctx);
    test_report_refused(ctx);
    test_top_words(ctx);
    test_top_words_refused(ctx);
    at_ctx_free(ctx);
    return test_finish("viz_report");
}
