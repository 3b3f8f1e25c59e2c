/*
 * test_viz_lm.c - the language-model figures: every head of every layer
 * on one passage (grid and interactive page), Daniluk's attention-span
 * bars, and several training runs against wall-clock time.
 *
 * Each figure is drawn to PNG and SVG and read back: the grid's cells of
 * weight 1 are found in the PNG as L x H blobs of the colour map's 1
 * colour on an L-row, H-column lattice; the page's embedded data holds
 * every weight exactly; the span plot's bars (found by their SVG class and
 * then sampled in the PNG) are as tall as the data says; the runs plot has
 * a thin line per training step and a thick line and markers per
 * validation point, placed by wall-clock time. Bad input (NaN, empty
 * sizes, missing labels, non-causal weights, unknown extensions, a broken
 * metrics line) is refused with a message, and leaves no file.
 *
 * `test_viz_lm --write DIR` only writes the sample figures into DIR (used
 * by tests/browser/ to check the page in Chromium).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "viz_check.h"

#include <cairo.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir = "viz_lm_out";

static void path_in(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static void hex_of(const uint8_t rgb[3], char out[8]) {
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* -------------------------------------------------------- a known passage
 * Head h of layer l: row t spreads over keys 0..t in proportion to
 * 1 + s * (l + 1) + h (causal, rows sum to 1), so row 0 is the only weight
 * 1 of a panel, and every weight differs from its neighbours. */
typedef struct passage {
    at_lm_attention a;
    char *block;
} passage;

static void passage_make(passage *p, int layers, int heads, const char *text) {
    int T = (int)at_utf8_length(text);
    p->a.layers = layers, p->a.heads = heads, p->a.length = T;
    p->a.weights = calloc((size_t)layers * heads * T * T, sizeof(float));
    p->a.labels = calloc((size_t)T, sizeof(char *));
    p->block = calloc(strlen(text) + (size_t)T + 1, 1);
    if (!p->a.weights || !p->a.labels || !p->block) exit(2);
    const char *in = text;
    char *out = p->block;
    for (int t = 0; t < T; t++) {
        size_t len = 0;
        at_utf8_next(in, strlen(in), &len);
        memcpy(out, in, len);
        p->a.labels[t] = out;
        out += len + 1;
        in += len;
    }
    for (int l = 0; l < layers; l++)
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < T; t++) {
                float *row = p->a.weights + (((size_t)l * heads + h) * T + t) * T;
                double sum = 0;
                for (int s = 0; s <= t; s++) sum += 1.0 + s * (l + 1.0) + h;
                for (int s = 0; s <= t; s++) row[s] = (float)((1.0 + s * (l + 1.0) + h) / sum);
            }
}

static void passage_free(passage *p) {
    free(p->a.weights);
    free(p->a.labels);
    free(p->block);
}

static float *weight_at(passage *p, int l, int h, int t, int s) {
    int T = p->a.length;
    return p->a.weights + (((size_t)l * p->a.heads + h) * T + t) * T + s;
}

/* ------------------------------------------------------------ PNG pixels */

typedef struct blob {
    int x0, y0, x1, y1; /* bounding box, inclusive */
    long area;
} blob;

/* The 4-connected blobs of pixels of colour `rgb` (within 1). */
static int find_blobs(cairo_surface_t *s, const uint8_t rgb[3], blob *out, int most) {
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s), n = 0;
    unsigned char *seen = calloc((size_t)w * h, 1);
    int *stack = malloc(sizeof(int) * (size_t)w * h);
    if (!seen || !stack) exit(2);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t c[3];
            test_pixel(s, x, y, c);
            if (seen[(size_t)y * w + x] || !test_near(c, rgb, 1)) continue;
            blob b = {x, y, x, y, 0};
            int top = 0;
            stack[top++] = y * w + x;
            seen[(size_t)y * w + x] = 1;
            while (top > 0) {
                int at = stack[--top], px = at % w, py = at / w;
                b.area++;
                b.x0 = px < b.x0 ? px : b.x0, b.x1 = px > b.x1 ? px : b.x1;
                b.y0 = py < b.y0 ? py : b.y0, b.y1 = py > b.y1 ? py : b.y1;
                static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
                for (int k = 0; k < 4; k++) {
                    int qx = px + dx[k], qy = py + dy[k];
                    if (qx < 0 || qy < 0 || qx >= w || qy >= h || seen[(size_t)qy * w + qx])
                        continue;
                    test_pixel(s, qx, qy, c);
                    if (!test_near(c, rgb, 1)) continue;
                    seen[(size_t)qy * w + qx] = 1;
                    stack[top++] = qy * w + qx;
                }
            }
            if (n < most) out[n] = b;
            n++;
        }
    free(seen);
    free(stack);
    return n;
}

/* Distinct values of v[0..n) more than `gap` apart. */
static int bands(const double *v, int n, double gap) {
    int count = 0;
    for (int i = 0; i < n; i++) {
        int fresh = 1;
        for (int j = 0; j < i; j++) fresh = fresh && fabs(v[i] - v[j]) > gap;
        count += fresh;
    }
    return count;
}

/* The grid's PNG: exactly L x H cells have weight 1 (row 0 of each panel),
 * each drawn in the colour map's 1 colour, as equal squares on a lattice
 * of L rows and H columns. */
static void check_grid_png(const char *path, int L, int H) {
    cairo_surface_t *png = test_load_png(path);
    if (!png) return;
    uint8_t one[3];
    at_viz_colour(1.0f, one);
    blob blobs[256];
    int n = find_blobs(png, one, blobs, 256);
    CHECK(n == L * H, "%s: %d blobs of the colour of weight 1, expected %d x %d panels", path, n,
          L, H);
    if (n == L * H) {
        double xs[256], ys[256], side = blobs[0].x1 - blobs[0].x0 + 1;
        int equal = 1;
        for (int i = 0; i < n; i++) {
            xs[i] = (blobs[i].x0 + blobs[i].x1) / 2.0;
            ys[i] = (blobs[i].y0 + blobs[i].y1) / 2.0;
            equal = equal && blobs[i].area == (long)(side * side) &&
                    blobs[i].y1 - blobs[i].y0 + 1 == side;
        }
        CHECK(equal && side >= 4, "%s: the weight-1 cells are not equal squares (side %.0f)",
              path, side);
        int rows = bands(ys, n, side), cols = bands(xs, n, side);
        CHECK(rows == L && cols == H, "%s: the panels stand in %d rows and %d columns, expected "
              "%d layers x %d heads", path, rows, cols, L, H);
    }
    cairo_surface_destroy(png);
}

/* --------------------------------------------- every head of every layer */

static void test_lm_grid(at_ctx *ctx) {
    passage p;
    passage_make(&p, 2, 3, "ab c\nd");
    char png[512], svg[512], pdf[512];
    path_in(png, sizeof png, "lm.png");
    path_in(svg, sizeof svg, "lm.svg");
    path_in(pdf, sizeof pdf, "lm.pdf");
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, "two layers, three heads", png));
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, NULL, svg));
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, NULL, pdf));
    check_grid_png(png, 2, 3);
    char *text = test_read_text(svg);
    CHECK(text != NULL, "%s not written", svg);
    if (text) {
        char want[64], hex[8];
        for (int l = 1; l <= 2; l++)
            for (int h = 1; h <= 3; h++) {
                snprintf(want, sizeof want, ">layer %d \xC2\xB7 head %d<", l, h);
                CHECK(test_count_of(text, want) == 1, "lm.svg: panel '%s' appears %d times", want,
                      test_count_of(text, want));
            }
        uint8_t one[3];
        at_viz_colour(1.0f, one);
        hex_of(one, hex);
        snprintf(want, sizeof want, "fill=\"%s\"", hex);
        CHECK(test_count_of(text, want) == 6, "lm.svg: %d cells of weight 1's colour, expected 6",
              test_count_of(text, want));
        /* six labels on each side of six panels; space and newline visible */
        CHECK(test_count_of(text, "class=\"row-label\"") == 36 &&
                  test_count_of(text, "class=\"col-label\"") == 36,
              "lm.svg: %d row and %d column labels, expected 36 each",
              test_count_of(text, "class=\"row-label\""), test_count_of(text, "class=\"col-label\""));
        CHECK(test_count_of(text, "\">\xE2\x90\xA3</text>") == 12 &&
                  test_count_of(text, "\">\xE2\x8F\x8E</text>") == 12,
              "lm.svg: the space (U+2423) and newline (U+23CE) labels are not shown as symbols");
        CHECK(strstr(text, ">ab c\xE2\x8F\x8E" "d</text>") != NULL,
              "lm.svg: the passage 'ab c⏎d' is not the subheading");
        CHECK(strstr(text, "attention of every layer and head") != NULL, "lm.svg: no heading");
    }
    free(text);
    passage_free(&p);

    /* A longer passage: 3 layers x 4 heads of 40 characters. The cells are
     * too small for labels, so none are written. */
    passage_make(&p, 3, 4, "Call me Ishmael. Some years ago - never\n");
    path_in(png, sizeof png, "lm-long.png");
    path_in(svg, sizeof svg, "lm-long.svg");
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, "Moby Dick", png));
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, "Moby Dick", svg));
    check_grid_png(png, 3, 4);
    text = test_read_text(svg);
    CHECK(text && test_count_of(text, "row-label") == 0 && test_count_of(text, "col-label") == 0,
          "lm-long.svg: labels drawn in cells too small for them");
    CHECK(text && test_count_of(text, "\xC2\xB7 head ") == 12, "lm-long.svg: not 12 panels");
    free(text);
    passage_free(&p);
}

/* Every weight of the page equals the float it came from, exactly. */
static int page_weights_equal(json_object *maps, passage *p) {
    int bad = 0, T = p->a.length;
    for (int l = 0; l < p->a.layers; l++) {
        json_object *m = json_object_array_get_idx(maps, (size_t)l);
        json_object *w = test_field(m, "weights"), *labels = test_field(m, "row_labels");
        for (int t = 0; t < T; t++) {
            json_object *lab = json_object_array_get_idx(labels, (size_t)t);
            if (!lab || strcmp(json_object_get_string(lab), p->a.labels[t])) bad++;
        }
        for (int h = 0; h < p->a.heads; h++)
            for (int t = 0; t < T; t++)
                for (int s = 0; s < T; s++) {
                    json_object *v = json_object_array_get_idx(
                        json_object_array_get_idx(json_object_array_get_idx(w, (size_t)h),
                                                  (size_t)t),
                        (size_t)s);
                    float got = v ? (float)json_object_get_double(v) : -1.0f;
                    if (got != *weight_at(p, l, h, t, s) && bad++ < 3)
                        fprintf(stderr, "  weights[%d][%d][%d][%d]: page %.9g, data %.9g\n", l,
                                h, t, s, (double)got, (double)*weight_at(p, l, h, t, s));
                }
    }
    return bad == 0;
}

static void test_lm_html(at_ctx *ctx) {
    passage p;
    passage_make(&p, 2, 3, "ab c\nd");
    char path[512];
    path_in(path, sizeof path, "lm.html");
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, "two layers, three heads", path));
    char *html = test_read_text(path);
    CHECK(html != NULL, "%s not written", path);
    if (!html) {
        passage_free(&p);
        return;
    }
    CHECK(strstr(html, "'layer-select'") && strstr(html, "'head-select'") &&
              strstr(html, "showLayers()"),
          "lm.html: no layer and head selectors in its script");
    CHECK(!strstr(html, "http://") && !strstr(html, "https://") && !strstr(html, "<link") &&
              !strstr(html, "<script src"),
          "lm.html: the page loads something from outside");
    json_object *data = test_page_data(html);
    json_object *maps = test_field(data, "maps");
    CHECK(data && !strcmp(json_object_get_string(test_field(data, "kind")), "layers") &&
              !strcmp(json_object_get_string(test_field(data, "title")), "two layers, three heads"),
          "lm.html: the data is not a 'layers' page with the title");
    CHECK(maps && json_object_array_length(maps) == 2, "lm.html: not one map per layer");
    if (maps && json_object_array_length(maps) == 2) {
        json_object *m = json_object_array_get_idx(maps, 1);
        CHECK(json_object_get_int(test_field(m, "heads")) == 3 &&
                  json_object_get_int(test_field(m, "rows")) == 6 &&
                  json_object_get_int(test_field(m, "cols")) == 6,
              "lm.html: layer 2 is not 3 heads of 6 x 6");
        CHECK(page_weights_equal(maps, &p), "lm.html: the page's weights or labels differ");
    }
    json_object_put(data);
    free(html);
    passage_free(&p);
}

/* Each bad attention is refused with `why` in the message, writes nothing,
 * and leaves a figure already there as it was. */
static void expect_refused(at_ctx *ctx, passage *p, const char *path, const char *why) {
    size_t before_n = 0, after_n = 0;
    unsigned char *before = test_read_file(path, &before_n);
    CHECK_STATUS(ctx, at_plot_lm_attention(ctx, &p->a, NULL, path), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), why) != NULL, "message '%s' does not say '%s'",
          at_ctx_error(ctx), why);
    unsigned char *after = test_read_file(path, &after_n);
    CHECK((!before && !after) || (before && after && before_n == after_n &&
                                  !memcmp(before, after, before_n)),
          "%s: a refused figure changed the file", path);
    free(before);
    free(after);
}

static void test_lm_bad(at_ctx *ctx) {
    passage p;
    passage_make(&p, 2, 3, "ab c\nd");
    char png[512], fresh[512];
    path_in(png, sizeof png, "lm-bad.png");
    path_in(fresh, sizeof fresh, "lm-never.svg");
    remove(fresh);
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, NULL, png));

    float *w = weight_at(&p, 1, 2, 3, 1), keep = *w;
    *w = NAN;
    expect_refused(ctx, &p, png, "weights[1][2][3][1] is nan");
    expect_refused(ctx, &p, fresh, "weights[1][2][3][1] is nan");
    *w = 1.5f;
    expect_refused(ctx, &p, png, "in [0, 1]");
    *w = keep;
    *weight_at(&p, 0, 1, 2, 4) = 0.25f; /* a later key: transposed? */
    expect_refused(ctx, &p, png, "causal");
    *weight_at(&p, 0, 1, 2, 4) = 0;
    w = weight_at(&p, 0, 0, 1, 0), keep = *w;
    *w = 0.9f; /* row 1 sums to 0.9 + 2/3 */
    expect_refused(ctx, &p, png, "weights[0][0][1] sums to");
    *w = keep;

    passage bad = p;
    bad.a.layers = 0;
    expect_refused(ctx, &bad, png, "0 layers");
    bad = p, bad.a.heads = 0;
    expect_refused(ctx, &bad, png, "0 heads");
    bad = p, bad.a.length = 0;
    expect_refused(ctx, &bad, png, "length 0");
    bad = p, bad.a.weights = NULL;
    expect_refused(ctx, &bad, png, "no weights");
    char *label = p.a.labels[2];
    p.a.labels[2] = NULL;
    expect_refused(ctx, &p, png, "label 2 of 6 is NULL");
    static char not_utf8[] = "\xff";
    p.a.labels[2] = not_utf8;
    expect_refused(ctx, &p, png, "UTF-8");
    p.a.labels[2] = label;
    path_in(fresh, sizeof fresh, "lm.gif");
    expect_refused(ctx, &p, fresh, ".gif");
    CHECK(!test_exists(fresh), "a refused .gif left a file");
    CHECK_STATUS(ctx, at_plot_lm_attention(ctx, NULL, NULL, png), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &p.a, NULL, png)); /* restored: fine again */
    passage_free(&p);
}

/* The drawing budget: 4 layers x 4 heads of 256 x 256 would take over a
 * gigabyte as a PDF; refused at once with the estimate, no file made. The
 * page, which shows one layer at a time, takes it. */
static void test_lm_budget(at_ctx *ctx) {
    enum { L = 4, H = 4, T = 256 };
    at_lm_attention a = {L, H, T, calloc((size_t)L * H * T * T, sizeof(float)),
                         calloc(T, sizeof(char *))};
    if (!a.weights || !a.labels) exit(2);
    static char x[] = "x";
    for (int t = 0; t < T; t++) a.labels[t] = x;
    char pdf[512], html[512];
    path_in(pdf, sizeof pdf, "lm-huge.pdf");
    path_in(html, sizeof html, "lm-huge.html");
    remove(pdf);
    CHECK_STATUS(ctx, at_plot_lm_attention(ctx, &a, NULL, pdf), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "4 layers x 4 heads of 256 x 256") &&
              strstr(at_ctx_error(ctx), " MB"),
          "the budget's message names the figure and the estimate: %s", at_ctx_error(ctx));
    CHECK(!test_exists(pdf), "a figure over the budget left a file");
    CHECK_OK(ctx, at_plot_lm_attention(ctx, &a, NULL, html));
    remove(html);
    free(a.weights);
    free(a.labels);
}

/* ------------------------------------------------------------ the span */

static const double MASS[3][5] = {{0.40, 0.20, 0.10, 0.05, 0.05},
                                  {0.60, 0.15, 0.10, 0.05, 0.02},
                                  {0.30, 0.30, 0.20, 0.10, 0.00}};
static const char *const MODELS[3] = {"lstm", "attention", "kv (key-value)"};

/* The bars in the SVG: one per model and distance, heights in proportion
 * to the mass (so ordered as the data), a colour per model, groups left
 * to right by distance. The same bars in the PNG: coloured inside, not
 * above. */
static void check_bars(const char *svg_path, const char *png_path) {
    char *svg = test_read_text(svg_path);
    test_shape bars[15];
    int n = svg ? test_svg_rects(svg, "bar ", bars, 15) : 0;
    CHECK(n == 15, "%s: %d bars, expected 3 models x 5 distances", svg_path, n);
    if (n != 15) {
        free(svg);
        return;
    }
    test_shape *at[3][5] = {{0}};
    int found = 0;
    for (int i = 0; i < n; i++) {
        int m = -1, d = -1;
        if (sscanf(bars[i].cls, "bar m%d d%d", &m, &d) == 2 && m >= 0 && m < 3 && d >= 1 &&
            d <= 5 && !at[m][d - 1])
            at[m][d - 1] = &bars[i], found++;
    }
    CHECK(found == 15, "%s: the bars are not one per model and distance", svg_path);
    if (found != 15) {
        free(svg);
        return;
    }
    double scale = at[1][0] ? at[1][0]->h / MASS[1][0] : 0; /* px per unit of mass */
    int bad = 0;
    for (int m = 0; m < 3; m++)
        for (int d = 0; d < 5; d++) {
            test_shape *b = at[m][d];
            if (fabs(b->h - scale * MASS[m][d]) > 0.02 && bad++ < 3)
                fprintf(stderr, "  bar m%d d%d: %.2f px for mass %.2f (%.2f px per unit)\n", m,
                        d + 1, b->h, MASS[m][d], scale);
            for (int m2 = 0; m2 < 3; m2++)
                for (int d2 = 0; d2 < 5; d2++) {
                    test_shape *c = at[m2][d2];
                    int order = (MASS[m][d] > MASS[m2][d2]) - (MASS[m][d] < MASS[m2][d2]);
                    if (c && order != (b->h > c->h + 0.01) - (b->h < c->h - 0.01)) bad++;
                }
            if (strcmp(b->fill, at[m][0]->fill) || (m > 0 && !strcmp(b->fill, at[m - 1][d]->fill)))
                bad++;
            if (d > 0 && !(b->x > at[m][d - 1]->x)) bad++;
        }
    CHECK(bad == 0 && scale > 100,
          "%s: %d bars out of order or proportion with the data, or in the wrong colour or place",
          svg_path, bad);
    CHECK(strstr(svg, ">kv (key-value)<") && strstr(svg, ">distance (1 = the previous output)<"),
          "%s: a model name or the axis name is missing", svg_path);
    cairo_surface_t *png = bad ? NULL : test_load_png(png_path);
    for (int m = 0; png && m < 3; m++)
        for (int d = 0; d < 5; d++) {
            test_shape *b = at[m][d];
            if (b->h < 2) continue;
            uint8_t want[3], inside[3], above[3];
            test_parse_hex(b->fill, want);
            test_pixel(png, (int)(2 * (b->x + b->w / 2)), (int)(2 * (b->y + b->h / 2)), inside);
            test_pixel(png, (int)(2 * (b->x + b->w / 2)), (int)(2 * (b->y - 3)), above);
            CHECK(test_near(inside, want, 1) && !test_near(above, want, 24),
                  "%s: bar m%d d%d is not drawn %.1f px tall in the PNG", png_path, m, d + 1, b->h);
        }
    if (png) cairo_surface_destroy(png);
    free(svg);
}

static void test_span(at_ctx *ctx) {
    char png[512], svg[512], pdf[512];
    path_in(png, sizeof png, "span.png");
    path_in(svg, sizeof svg, "span.svg");
    path_in(pdf, sizeof pdf, "span.pdf");
    CHECK_OK(ctx, at_plot_attention_span(ctx, 3, MODELS, &MASS[0][0], 5, "attention span", png));
    CHECK_OK(ctx, at_plot_attention_span(ctx, 3, MODELS, &MASS[0][0], 5, NULL, svg));
    CHECK_OK(ctx, at_plot_attention_span(ctx, 3, MODELS, &MASS[0][0], 5, NULL, pdf));
    check_bars(svg, png);

    /* 200 distances x 3 models: bars would be thinner than 3 px, so lines
     * with a marker per point; the markers stand as high as the data */
    enum { LONG = 200 };
    double *mass = malloc(3 * LONG * sizeof *mass);
    if (!mass) exit(2);
    for (int m = 0; m < 3; m++)
        for (int d = 0; d < LONG; d++) mass[m * LONG + d] = 0.5 * exp(-d / (10.0 + 10 * m));
    path_in(svg, sizeof svg, "span-long.svg");
    CHECK_OK(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, LONG, NULL, svg));
    char *text = test_read_text(svg);
    test_shape points[3 * LONG];
    int n = text ? test_svg_rects(text, "point ", points, 3 * LONG) : 0;
    CHECK(n == 3 * LONG && text && !strstr(text, "class=\"bar "),
          "span-long.svg: %d points, expected %d (and no bars)", n, 3 * LONG);
    int falling = n == 3 * LONG;
    for (int i = 1; falling && i < n; i++)
        if (i % LONG) falling = points[i].y >= points[i - 1].y; /* lower mass, lower point */
    CHECK(falling, "span-long.svg: the points do not fall as the mass does");
    free(text);

    /* refused: NaN, outside [0, 1], empty sizes, missing names, formats */
    path_in(svg, sizeof svg, "span-bad.svg");
    remove(svg);
    mass[7] = NAN;
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "mass[0][7] (lstm at distance 8) is nan") != NULL,
          "message: %s", at_ctx_error(ctx));
    mass[7] = 1.5;
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    mass[7] = -0.1;
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    mass[7] = 0.1;
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 0, MODELS, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, 0, NULL, svg),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, AT_VIZ_MAX_SPAN + 1, NULL, svg),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, NULL, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    const char *two[3] = {"lstm", "kv", NULL}; /* fewer names than models */
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, two, mass, LONG, NULL, svg), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "name 2 of 3 is NULL") != NULL, "message: %s",
          at_ctx_error(ctx));
    CHECK(!test_exists(svg), "a refused span plot left %s", svg);
    path_in(svg, sizeof svg, "span.html");
    CHECK_STATUS(ctx, at_plot_attention_span(ctx, 3, MODELS, mass, LONG, NULL, svg),
                 AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), ".png, .svg or .pdf") && !test_exists(svg), "message: %s",
          at_ctx_error(ctx));
    free(mass);
}

/* ------------------------------------------------------------ the runs */

/* A run's metrics.jsonl as `attend lm train` writes it: `lines` lines, a
 * line every `every` seconds, validation on every `valid_every`-th. */
static void write_run(const char *path, int lines, double every, int valid_every, double floor) {
    FILE *f = fopen(path, "wb");
    if (!f) exit(2);
    for (int k = 1; k <= lines; k++) {
        double loss = floor + 2.5 * exp(-k / 5.0);
        fprintf(f, "{\"step\": %d, \"loss\": %.4f, \"lr\": 0.001", 100 * k, loss);
        if (k % valid_every == 0)
            fprintf(f, ", \"valid_nats\": %.4f, \"valid_bpc\": %.4f", loss + 0.1,
                    (loss + 0.1) / log(2));
        fprintf(f, ", \"seconds\": %.2f, \"examples_per_second\": 300}\n", every * k);
    }
    fclose(f);
}

typedef struct segment {
    char cls[64], stroke[8];
    double x1, y1, x2, y2, width;
} segment;

static int lines_of(const char *svg, const char *cls, segment *out, int most) {
    int n = 0;
    char want[80];
    snprintf(want, sizeof want, "<line class=\"%s\"", cls);
    for (const char *p = svg; (p = strstr(p, want)); p++) {
        segment s = {{0}, {0}, 0, 0, 0, 0, 0};
        if (sscanf(p, "<line class=\"%63[^\"]\" x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\" "
                      "stroke-width=\"%lf\" stroke-linecap=\"round\" stroke=\"%7[^\"]\"",
                   s.cls, &s.x1, &s.y1, &s.x2, &s.y2, &s.width, s.stroke) != 7)
            continue;
        if (n < most) out[n] = s;
        n++;
    }
    return n;
}

/* Pixels of colour rgb (within 2) in the PNG. */
static long colour_pixels(cairo_surface_t *png, const uint8_t rgb[3]) {
    long n = 0;
    for (int y = 0; y < cairo_image_surface_get_height(png); y++)
        for (int x = 0; x < cairo_image_surface_get_width(png); x++) {
            uint8_t c[3];
            test_pixel(png, x, y, c);
            n += test_near(c, rgb, 2);
        }
    return n;
}

static void check_runs_svg(const char *svg_path, const char *png_path) {
    char *svg = test_read_text(svg_path);
    if (!svg) {
        CHECK(0, "%s not written", svg_path);
        return;
    }
    segment train0[32], train1[32], valid0[8], valid1[8];
    test_shape marks0[8], marks1[8];
    int t0 = lines_of(svg, "train r0", train0, 32), t1 = lines_of(svg, "train r1", train1, 32);
    int v0 = lines_of(svg, "valid r0", valid0, 8), v1 = lines_of(svg, "valid r1", valid1, 8);
    int m0 = test_svg_rects(svg, "marker r0", marks0, 8), m1 = test_svg_rects(svg, "marker r1", marks1, 8);
    CHECK(t0 == 19 && t1 == 19 && v0 == 3 && v1 == 4 && m0 == 4 && m1 == 5,
          "%s: training segments %d and %d (expected 19, 19), validation segments %d and %d "
          "(3, 4), markers %d and %d (4, 5)",
          svg_path, t0, t1, v0, v1, m0, m1);
    if (t0 == 19 && t1 == 19 && v0 == 3 && m0 == 4) {
        /* run 0 lasts 600 s, run 1 300 s: twice as wide, from one origin */
        double w0 = train0[18].x2 - train0[0].x1, w1 = train1[18].x2 - train1[0].x1;
        CHECK(fabs(w0 / w1 - 2.0) < 0.01, "%s: widths %.2f and %.2f px for 570 s and 285 s",
              svg_path, w0, w1);
        CHECK(valid0[0].width > 2 * train0[0].width,
              "%s: validation (%.1f px) is not thicker than training (%.1f px)", svg_path,
              valid0[0].width, train0[0].width);
        CHECK(!strcmp(train0[0].stroke, valid0[0].stroke) && !strcmp(marks0[0].fill, valid0[0].stroke) &&
                  strcmp(train0[0].stroke, train1[0].stroke),
              "%s: not one colour per run", svg_path);
        CHECK(marks0[0].y < marks0[3].y, "%s: a falling validation loss is drawn rising",
              svg_path);
        cairo_surface_t *png = test_load_png(png_path);
        for (int r = 0; png && r < 2; r++) {
            uint8_t rgb[3];
            test_parse_hex(r ? train1[0].stroke : train0[0].stroke, rgb);
            long n = colour_pixels(png, rgb);
            CHECK(n > 400, "%s: run %d's colour has %ld pixels", png_path, r, n);
        }
        if (png) cairo_surface_destroy(png);
    }
    CHECK(strstr(svg, ">wall-clock time (minutes)<") && strstr(svg, ">nats per character<") &&
              strstr(svg, ">10<"),
          "%s: the axes are not minutes (0 to 10) and nats per character", svg_path);
    free(svg);
}

static void test_runs(at_ctx *ctx) {
    char a[512], b[512], png[512], svg[512], bad[512];
    snprintf(a, sizeof a, "%s/transformer", dir);
    snprintf(b, sizeof b, "%s/lstm", dir);
    mkdir(a, 0755);
    mkdir(b, 0755);
    strcat(a, "/metrics.jsonl");
    strcat(b, "/metrics.jsonl");
    write_run(a, 20, 30.0, 5, 1.3);
    write_run(b, 20, 15.0, 4, 1.5);
    const char *paths[2] = {a, b}, *labels[2] = {"transformer 4x4x128", "lstm 128"};
    path_in(png, sizeof png, "runs.png");
    path_in(svg, sizeof svg, "runs.svg");
    CHECK_OK(ctx, at_plot_runs(ctx, 2, paths, labels, "Moby Dick", png));
    CHECK_OK(ctx, at_plot_runs(ctx, 2, paths, labels, "Moby Dick", svg));
    path_in(bad, sizeof bad, "runs.pdf");
    CHECK_OK(ctx, at_plot_runs(ctx, 2, paths, labels, NULL, bad));
    check_runs_svg(svg, png);
    char *text = test_read_text(svg);
    CHECK(text && strstr(text, ">transformer 4x4x128<") && strstr(text, ">lstm 128<") &&
              strstr(text, ">training loss<"),
          "runs.svg: a run label or the legend is missing");
    free(text);
    path_in(svg, sizeof svg, "runs-unlabelled.svg");
    CHECK_OK(ctx, at_plot_runs(ctx, 2, paths, NULL, NULL, svg));
    text = test_read_text(svg);
    CHECK(text && strstr(text, ">transformer<") && strstr(text, ">lstm<"),
          "runs-unlabelled.svg: runs are not named by their folders");
    free(text);

    /* refused, each naming the file and line, leaving runs.svg as it was */
    path_in(svg, sizeof svg, "runs.svg");
    size_t before_n = 0, after_n = 0;
    unsigned char *before = test_read_file(svg, &before_n);
    static const struct {
        const char *line, *why;
    } broken[] = {
        {"{\"step\": 2100, \"loss\": 0.1\n", "lstm/metrics.jsonl:21: not a JSON object"},
        {"{\"step\": 2100, \"loss\": NaN, \"seconds\": 400}\n", "lstm/metrics.jsonl:21"},
        {"{\"step\": 2100, \"loss\": \"low\", \"seconds\": 400}\n",
         "lstm/metrics.jsonl:21: \"loss\" is not a finite number"},
        {"{\"step\": 2100, \"loss\": 1.2}\n", "lstm/metrics.jsonl:21: no \"seconds\""},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        write_run(b, 20, 15.0, 4, 1.5);
        FILE *f = fopen(b, "ab");
        fputs(broken[i].line, f);
        fclose(f);
        CHECK_STATUS(ctx, at_plot_runs(ctx, 2, paths, labels, NULL, svg), AT_ERR_FORMAT);
        CHECK(strstr(at_ctx_error(ctx), broken[i].why) != NULL, "case %zu: message '%s' lacks '%s'",
              i, at_ctx_error(ctx), broken[i].why);
    }
    FILE *f = fopen(b, "wb");
    fputs("{\"note\": \"no step\"}\n{\"step\": 1, \"lr\": 0.1, \"seconds\": 2}\n", f);
    fclose(f);
    CHECK_STATUS(ctx, at_plot_runs(ctx, 2, paths, labels, NULL, svg), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "no line has a \"step\" with \"loss\" or \"valid_nats\""),
          "message: %s", at_ctx_error(ctx));
    write_run(b, 20, 15.0, 4, 1.5);
    CHECK_STATUS(ctx, at_plot_runs(ctx, 0, paths, labels, NULL, svg), AT_ERR_ARGUMENT);
    const char *one_label[2] = {"transformer", NULL}; /* fewer labels than runs */
    CHECK_STATUS(ctx, at_plot_runs(ctx, 2, paths, one_label, NULL, svg), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "label 1 of 2 is NULL") != NULL, "message: %s",
          at_ctx_error(ctx));
    const char *missing[2] = {a, "no/such/metrics.jsonl"};
    CHECK_STATUS(ctx, at_plot_runs(ctx, 2, missing, NULL, NULL, svg), AT_ERR_IO);
    path_in(bad, sizeof bad, "runs.html");
    CHECK_STATUS(ctx, at_plot_runs(ctx, 2, paths, labels, NULL, bad), AT_ERR_ARGUMENT);
    CHECK(!test_exists(bad), "a refused runs.html was written");
    unsigned char *after = test_read_file(svg, &after_n);
    CHECK(before && after && before_n == after_n && !memcmp(before, after, before_n),
          "refused runs plots changed runs.svg");
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    int write_only = argc > 2 && !strcmp(argv[1], "--write");
    if (write_only) dir = argv[2];
    mkdir(dir, 0755);
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    test_lm_grid(ctx);
    test_lm_html(ctx);
    test_span(ctx);
    test_runs(ctx);
    if (!write_only) {
        test_lm_bad(ctx);
        test_lm_budget(ctx);
    }
    at_ctx_free(ctx);
    return test_finish("viz_lm");
}
