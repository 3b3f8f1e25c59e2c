/*
 * test_viz.c - the figures: weights files, heatmaps, terminal, curves.
 *
 * The heatmap test renders a known matrix to PNG, decodes it again with
 * cairo and checks that the centre of every cell has exactly the colour
 * map's colour for its weight, and that the label areas beside and above
 * the cells hold ink. Malformed and lying weights files must give an
 * AT_ERR_FORMAT naming the problem, never a crash.
 *
 * `test_viz --write DIR` only writes the sample figures into DIR (used by
 * tests/viz_svg.py and tests/browser/, and to look at them by eye).
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "viz_check.h" /* also the sanitizer settings cairo needs */

#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Labels in four scripts: Latin, Cyrillic, CJK, Arabic. */
static const char *const ROWS[4] = {"2", "0", "1", "8"};
static const char *const COLS[6] = {"9", "мая", "五月", "مايو", "2018", " "};
static const float W[4][6] = {
    {0.70f, 0.10f, 0.05f, 0.05f, 0.05f, 0.05f},
    {0.00f, 0.00f, 0.00f, 0.00f, 1.00f, 0.00f},
    {0.02f, 0.48f, 0.25f, 0.25f, 0.00f, 0.00f},
    {0.10f, 0.20f, 0.30f, 0.40f, 0.00f, 0.00f},
};

static at_attention_map *known_map(at_ctx *ctx, int heads) {
    at_attention_map *m = NULL;
    CHECK_OK(ctx, at_attention_map_create(ctx, &m, heads, 4, 6));
    if (!m) return NULL;
    for (int h = 0; h < heads; h++) {
        float w[4][6];
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 6; c++) w[r][c] = h == 0 ? W[r][c] : W[(r + h) % 4][c];
        CHECK_OK(ctx, at_attention_map_set_weights(ctx, m, h, &w[0][0], 6));
    }
    CHECK_OK(ctx, at_attention_map_set_labels(ctx, m, ROWS, COLS));
    CHECK_OK(ctx, at_attention_map_set_text(ctx, m, "9 мая 五月 مايو 2018 → 2018", "synthetic",
                                            heads > 1 ? "multi-head" : "additive"));
    return m;
}

static void path_in(char *out, size_t size, const char *dir, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static void test_colour_map(void) {
    uint8_t lo[3], mid[3], hi[3];
    at_viz_colour(0.0f, lo);
    at_viz_colour(0.5f, mid);
    at_viz_colour(1.0f, hi);
    CHECK(lo[0] == 0x44 && lo[1] == 0x01 && lo[2] == 0x54, "colour(0) = %02x%02x%02x", lo[0], lo[1], lo[2]);
    CHECK(mid[0] == 0x21 && mid[1] == 0x90 && mid[2] == 0x8C, "colour(0.5)");
    CHECK(hi[0] == 0xFD && hi[1] == 0xE7 && hi[2] == 0x25, "colour(1)");
    int prev = -1, monotone = 1;
    for (int i = 0; i <= 100; i++) { /* lightness (approx. luma) rises */
        uint8_t c[3];
        at_viz_colour(i / 100.0f, c);
        int luma = 299 * c[0] + 587 * c[1] + 114 * c[2];
        monotone = monotone && luma >= prev;
        prev = luma;
    }
    CHECK(monotone, "the colour map's luma is not monotone");
}

static void test_round_trip(at_ctx *ctx, const char *dir) {
    at_attention_map *m = known_map(ctx, 2), *back = NULL;
    char path[512];
    path_in(path, sizeof path, dir, "two-heads.json");
    CHECK_OK(ctx, at_attention_map_save(ctx, m, path));
    CHECK_OK(ctx, at_attention_map_load(ctx, &back, path));
    if (m && back) {
        CHECK(back->heads == 2 && back->rows == 4 && back->cols == 6, "sizes");
        CHECK(!memcmp(m->weights, back->weights, 48 * sizeof(float)), "weights round trip");
        for (int c = 0; c < 6; c++) CHECK(!strcmp(back->col_labels[c], COLS[c]), "label %d", c);
        CHECK(!strcmp(back->mechanism, "multi-head"), "mechanism");
    }
    at_viz_kind kind = 0;
    CHECK_OK(ctx, at_viz_file_kind(ctx, path, &kind));
    CHECK(kind == AT_VIZ_MAP, "kind");
    path_in(path, sizeof path, dir, "known.bertviz.json");
    CHECK_OK(ctx, at_attention_map_export_bertviz(ctx, m, path));
    at_attention_map_free(m);
    at_attention_map_free(back);
}

/* One line of `attend translate --weights json` loads as a map. */
static void test_translate_line(at_ctx *ctx, const char *dir) {
    char path[512];
    path_in(path, sizeof path, dir, "translate-line.json");
    FILE *f = fopen(path, "wb");
    fputs("{\"input\": \"9 мая\", \"output\": \"05-09\", \"source\": [\"9\", \" \", \"м\", "
          "\"а\", \"я\"], \"target\": [\"0\", \"5\", \"-\", \"0\", \"9\"], \"heads\": 1, "
          "\"weights\": [[[0, 0, 0.5, 0.5, 0], [0, 0, 0, 0.5, 0.5], [0.2, 0.2, 0.2, 0.2, 0.2], "
          "[1, 0, 0, 0, 0], [1, 0, 0, 0, 0]]]}\n", f);
    fclose(f);
    at_attention_map *m = NULL;
    CHECK_OK(ctx, at_attention_map_load(ctx, &m, path));
    if (m) {
        CHECK(m->rows == 5 && m->cols == 5 && !strcmp(m->col_labels[2], "м") &&
                  !strcmp(m->row_labels[2], "-") && m->weights[3 * 5] == 1.0f,
              "translate line: sizes, labels or weights");
        CHECK(strstr(m->title, "9 мая") && strstr(m->title, "05-09"), "title '%s'", m->title);
    }
    at_attention_map_free(m);
    f = fopen(path, "wb"); /* a lying line: 2 source characters, 3 weights */
    fputs("{\"source\": [\"a\", \"b\"], \"target\": [\"x\"], \"heads\": 1, "
          "\"weights\": [[[0.5, 0.5, 0]]]}", f);
    fclose(f);
    CHECK_STATUS(ctx, at_attention_map_load(ctx, &m, path), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "weights[0][0] has 3 entries, expected 2") != NULL, "%s",
          at_ctx_error(ctx));
}

/* Pixels in [x0, x1) x [y0, y1) that are not white. */
static long ink(cairo_surface_t *s, int x0, int y0, int x1, int y1) {
    static const uint8_t white[3] = {255, 255, 255};
    long n = 0;
    for (int y = y0 > 0 ? y0 : 0; y < y1 && y < cairo_image_surface_get_height(s); y++)
        for (int x = x0 > 0 ? x0 : 0; x < x1 && x < cairo_image_surface_get_width(s); x++) {
            uint8_t rgb[3];
            test_pixel(s, x, y, rgb);
            n += !test_near(rgb, white, 8);
        }
    return n;
}

static void test_png(at_ctx *ctx, const char *dir) {
    at_attention_map *m = known_map(ctx, 1);
    char path[512];
    path_in(path, sizeof path, dir, "known.png");
    CHECK_OK(ctx, at_plot_map(ctx, m, path));
    cairo_surface_t *png = test_load_png(path);
    if (png && m) {
        int bad = 0;
        double x00 = 0, y00 = 0, x11 = 0, y11 = 0;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 6; c++) {
                double x, y;
                CHECK_OK(ctx, at_plot_cell_center(ctx, m, 0, r, c, &x, &y));
                uint8_t want[3], got[3];
                at_viz_colour(W[r][c], want);
                test_pixel(png, (int)x, (int)y, got);
                if (!test_near(got, want, 1) && bad++ < 3)
                    CHECK(0, "cell (%d, %d) at (%.0f, %.0f) has not the colour of %.2f", r, c, x,
                          y, W[r][c]);
                if (r == 0 && c == 0) x00 = x, y00 = y;
                if (r == 3 && c == 5) x11 = x, y11 = y;
            }
        CHECK(bad == 0, "%d cells with a wrong colour", bad);
        double half = (x11 - x00) / 10.0; /* half a cell */
        long left = ink(png, 0, (int)(y00 - half), (int)(x00 - half - 1), (int)(y11 + half));
        long top = ink(png, (int)(x00 - half), (int)(y00 - half) - 60, (int)(x11 + half),
                       (int)(y00 - half - 1));
        CHECK(left > 20, "the row-label area is empty (%ld ink pixels)", left);
        CHECK(top > 100, "the column-label area is empty (%ld ink pixels)", top);
    }
    cairo_surface_destroy(png);
    at_attention_map_free(m);
}

static void test_formats(at_ctx *ctx, const char *dir) {
    at_attention_map *one = known_map(ctx, 1), *four = known_map(ctx, 4);
    static const char *names[] = {"known.svg", "known.pdf", "known.html", "heads.png",
                                  "heads.svg", "heads.html"};
    char path[512];
    for (int i = 0; i < 6; i++) {
        path_in(path, sizeof path, dir, names[i]);
        CHECK_OK(ctx, at_plot_map(ctx, i < 3 ? one : four, path));
        struct stat st;
        CHECK(stat(path, &st) == 0 && st.st_size > 500, "%s is missing or tiny", path);
    }
    path_in(path, sizeof path, dir, "known.json"); /* what known.* are drawn from */
    CHECK_OK(ctx, at_attention_map_save(ctx, one, path));
    const at_attention_map *maps[3] = {one, four, one};
    path_in(path, sizeof path, dir, "compare.png");
    CHECK_OK(ctx, at_plot_compare(ctx, 3, maps, "three models", path));
    path_in(path, sizeof path, dir, "compare.html");
    CHECK_OK(ctx, at_plot_compare(ctx, 3, maps, "three models", path));
    path_in(path, sizeof path, dir, "known.gif");
    CHECK_STATUS(ctx, at_plot_map(ctx, one, path), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), ".gif") != NULL, "message: %s", at_ctx_error(ctx));
    at_attention_map_free(one);
    at_attention_map_free(four);
}

/* Each bad file must give AT_ERR_FORMAT (or IO) with `why` in the message. */
static void test_malformed(at_ctx *ctx, const char *dir) {
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "empty"},
        {"{\"format\": \"attend-attention\"", "not valid JSON"},
        {"[1, 2]", "not a JSON object"},
        {"{\"format\": \"other\"}", "\"format\""},
        {"{\"format\": \"attend-attention\", \"version\": 2, \"kind\": \"map\"}", "\"version\""},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\"}", "\"heads\" is missing"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1000000000, \"cols\": 1000000000}", "\"rows\" is 1000000000"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": -3, \"cols\": 2}", "\"rows\" is -3"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 0, "
         "\"rows\": 1, \"cols\": 2}", "\"heads\" is 0"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 2, \"row_labels\": [\"a\"], \"col_labels\": [\"b\"], "
         "\"weights\": [[[1, 0]]]}", "\"col_labels\" has 1 entries, expected 2"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 2, \"row_labels\": [\"a\"], \"col_labels\": [\"b\", 7], "
         "\"weights\": [[[1, 0]]]}", "col_labels\"[1] must be a string"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 2, \"row_labels\": [\"a\"], \"col_labels\": [\"b\", \"c\"], "
         "\"weights\": [[[1]]]}", "weights[0][0] has 1 entries, expected 2"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 2, \"row_labels\": [\"a\"], \"col_labels\": [\"b\", \"c\"], "
         "\"weights\": [[[1, \"x\"]]]}", "weights[0][0][1] must be a number"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 2, \"row_labels\": [\"a\"], \"col_labels\": [\"b\", \"c\"], "
         "\"weights\": [[[1, 1e999]]]}", "weights[0][0][1]"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 1, \"row_labels\": [\"\xff\"], \"col_labels\": [\"b\"], "
         "\"weights\": [[[1]]]} ", "not valid JSON"},
        {"{\"format\": \"attend-attention\", \"version\": 1, \"kind\": \"map\", \"heads\": 1, "
         "\"rows\": 1, \"cols\": 1, \"row_labels\": [\"a\"], \"col_labels\": [\"b\"], "
         "\"weights\": [[[1]]]} trailing", "not valid JSON"},
    };
    char path[512];
    path_in(path, sizeof path, dir, "bad.json");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "wb");
        fputs(cases[i].text, f);
        fclose(f);
        at_attention_map *m = (at_attention_map *)&m; /* must become NULL */
        at_status s = at_attention_map_load(ctx, &m, path);
        CHECK(s == AT_ERR_FORMAT && m == NULL, "case %zu: got '%s' (%s)", i, at_status_name(s),
              at_ctx_error(ctx));
        CHECK(strstr(at_ctx_error(ctx), cases[i].why) && strstr(at_ctx_error(ctx), "bad.json"),
              "case %zu: message '%s' does not say '%s'", i, at_ctx_error(ctx), cases[i].why);
    }
    at_attention_map *m;
    path_in(path, sizeof path, dir, "no-such-file.json");
    CHECK_STATUS(ctx, at_attention_map_load(ctx, &m, path), AT_ERR_IO);
    CHECK_STATUS(ctx, at_attention_map_create(ctx, &m, 1, 0, 5), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_attention_map_create(ctx, &m, 1, 5, AT_VIZ_MAX_TOKENS + 1), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_attention_map_create(ctx, &m, 1000, 5, 5), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_attention_map_create(ctx, &m, 1, 2, 3));
    CHECK_STATUS(ctx, at_attention_map_set_chars(ctx, m, "abc", "xyz"), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "3 characters") != NULL, "%s", at_ctx_error(ctx));
    CHECK_OK(ctx, at_attention_map_set_chars(ctx, m, "ab", "xйz"));
    if (m) CHECK(!strcmp(m->col_labels[1], "й"), "set_chars splits code points");
    at_attention_map_free(m);
}

static char *read_all(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) text[0] = 0;
    return text;
}

static void test_terminal(at_ctx *ctx) {
    at_attention_map *m = known_map(ctx, 1);
    CHECK(at_term_mode_for(0, NULL, "truecolor", "xterm") == AT_TERM_ASCII, "pipe: ASCII");
    CHECK(at_term_mode_for(1, "1", "truecolor", "xterm") == AT_TERM_ASCII, "NO_COLOR: ASCII");
    CHECK(at_term_mode_for(1, "", "truecolor", "xterm") == AT_TERM_TRUECOLOR, "empty NO_COLOR");
    CHECK(at_term_mode_for(1, NULL, NULL, "xterm-256color") == AT_TERM_256, "256");
    CHECK(at_term_mode_for(1, NULL, NULL, "dumb") == AT_TERM_ASCII, "dumb");
    for (int mode = 0; mode < 3; mode++) {
        FILE *f = tmpfile();
        CHECK_OK(ctx, at_plot_terminal(ctx, m, f, (at_term_mode)mode));
        char *text = read_all(f);
        fclose(f);
        CHECK(text && strstr(text, "synthetic") && strstr(text, "五") && strstr(text, "м"),
              "mode %d: labels missing", mode);
        if (mode == AT_TERM_ASCII) {
            CHECK(text && !strchr(text, '\033'), "ASCII mode wrote an escape");
            CHECK(text && strstr(text, "@@") && strstr(text, "%%"), "ASCII shades missing");
        }
        if (mode == AT_TERM_TRUECOLOR)
            CHECK(text && strstr(text, "\033[48;2;68;1;84m"), "no 24-bit colour of weight 0");
        if (mode == AT_TERM_256) CHECK(text && strstr(text, "\033[48;5;"), "no 256 colour");
        free(text);
    }
    at_attention_map_free(m);
}

/* A terminal must never get the map's own text raw: an ESC in the title
 * or a label (C0), or a C1 CSI (U+009B), becomes U+FFFD in every mode. */
static void test_terminal_escapes(at_ctx *ctx) {
    at_attention_map *m = known_map(ctx, 1);
    if (!m) return;
    static const char *const rows[4] = {"\033[31m", "\302\2332J", "a", "b"};
    CHECK_OK(ctx, at_attention_map_set_labels(ctx, m, rows, NULL));
    CHECK_OK(ctx, at_attention_map_set_text(ctx, m, "5 May\033[2J\033]0;owned\007 2018",
                                            "model\033[H", "mech\302\2331m"));
    for (int mode = 0; mode < 3; mode++) {
        FILE *f = tmpfile();
        CHECK_OK(ctx, at_plot_terminal(ctx, m, f, (at_term_mode)mode));
        char *text = read_all(f);
        fclose(f);
        CHECK(text && !strstr(text, "\033[2J") && !strstr(text, "\033]0") &&
                  !strstr(text, "\033[H") && !strstr(text, "\033[31m") && !strchr(text, '\007'),
              "mode %d: an escape of the map's text reached the terminal", mode);
        CHECK(text && !strstr(text, "\xC2\x9B"), "mode %d: a C1 control reached the terminal",
              mode);
        CHECK(text && strstr(text, "5 May\xEF\xBF\xBD[2J"),
              "mode %d: the title is shown, "
              "its control characters as U+FFFD",
              mode);
        free(text);
    }
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        setvbuf(full, NULL, _IONBF, 0);
        CHECK_STATUS(ctx, at_plot_terminal(ctx, m, full, AT_TERM_ASCII), AT_ERR_IO);
        fclose(full);
    }
    at_attention_map_free(m);
}

/* PNG and PDF used to be drawn through the fixed name PATH.tmp.png opened
 * by cairo: a symbolic link planted there was followed. Now they go
 * through a fresh temporary file; the planted link's target is untouched. */
static void test_no_fixed_temp_name(at_ctx *ctx, const char *dir) {
    at_attention_map *m = known_map(ctx, 1);
    static const char *const exts[2] = {"png", "pdf"};
    for (int i = 0; i < 2; i++) {
        char victim[512], out[512], planted[600];
        path_in(victim, sizeof victim, dir, "victim.txt");
        snprintf(out, sizeof out, "%s/planted.%s", dir, exts[i]);
        snprintf(planted, sizeof planted, "%s.tmp.%s", out, exts[i]);
        test_write_file(victim, "precious\n", 9);
        remove(planted);
        CHECK(symlink("victim.txt", planted) == 0, "symlink %s", planted);
        CHECK_OK(ctx, at_plot_map(ctx, m, out));
        size_t n;
        unsigned char *got = test_read_file(victim, &n);
        CHECK(got && n == 9 && !memcmp(got, "precious\n", 9),
              ".%s: a link planted at %s was followed and its target overwritten", exts[i],
              planted);
        free(got);
        got = test_read_file(out, &n);
        CHECK(got && n > 8 && (i ? !memcmp(got, "%PDF", 4) : !memcmp(got, "\x89PNG", 4)),
              ".%s: the figure was not written", exts[i]);
        free(got);
        remove(planted);
    }
    /* an existing symbolic link as the figure itself is refused */
    char link[512];
    path_in(link, sizeof link, dir, "link.png");
    remove(link);
    CHECK(symlink("victim.txt", link) == 0, "symlink %s", link);
    CHECK_STATUS(ctx, at_plot_map(ctx, m, link), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "symbolic link") != NULL, "message: %s", at_ctx_error(ctx));
    remove(link);
    at_attention_map_free(m);
}

/* Drawing has a budget: 64 heads of 256 x 256 (a valid 8 MB weights file)
 * would take over 4 GB as a PDF. Refused at once, with the estimate, and
 * no file made; small figures are unaffected (every other test). */
static void test_budget(at_ctx *ctx, const char *dir) {
    at_attention_map *m = NULL;
    CHECK_OK(ctx, at_attention_map_create(ctx, &m, 64, 256, 256));
    if (!m) return;
    static const char *const exts[3] = {"pdf", "png", "svg"};
    for (int i = 0; i < 3; i++) {
        char out[512];
        snprintf(out, sizeof out, "%s/too-big.%s", dir, exts[i]);
        remove(out);
        double start = (double)clock() / CLOCKS_PER_SEC;
        CHECK_STATUS(ctx, at_plot_map(ctx, m, out), AT_ERR_ARGUMENT);
        double seconds = (double)clock() / CLOCKS_PER_SEC - start;
        CHECK(strstr(at_ctx_error(ctx), "64 heads of 256 x 256") &&
                  strstr(at_ctx_error(ctx), " MB"),
              ".%s: the message names the map and the estimate: %s", exts[i], at_ctx_error(ctx));
        CHECK(seconds < 1.0, ".%s: refused after %.2f s of work, not before drawing", exts[i],
              seconds);
        struct stat st;
        CHECK(stat(out, &st) != 0, ".%s: a refused figure left a file", exts[i]);
    }
    /* a weights file that would not load again is not saved */
    at_attention_map *huge = NULL;
    CHECK_OK(ctx, at_attention_map_create(ctx, &huge, 64, 512, 512));
    char out[512];
    path_in(out, sizeof out, dir, "huge.json");
    if (huge) CHECK_STATUS(ctx, at_attention_map_save(ctx, huge, out), AT_ERR_ARGUMENT);
    at_attention_map_free(huge);
    at_attention_map_free(m);
}

/* Inputs read whole have limits: an endless device, a file of more
 * values than a weights file may hold, a metrics file from /dev/zero. */
static void test_input_limits(at_ctx *ctx, const char *dir) {
    at_attention_map *m = (at_attention_map *)&m;
    CHECK_STATUS(ctx, at_attention_map_load(ctx, &m, "/dev/zero"), AT_ERR_FORMAT);
    CHECK(m == NULL && strstr(at_ctx_error(ctx), "/dev/zero"), "/dev/zero: %s", at_ctx_error(ctx));
    char path[512], out[512];
    path_in(path, sizeof path, dir, "many-values.json");
    FILE *f = fopen(path, "wb");
    fputs("{\"weights\": [", f);
    for (long i = 0; i < AT_VIZ_MAX_FILE_VALUES; i++)
        fputs("0,", f);
    fputs("0]}", f);
    fclose(f);
    CHECK_STATUS(ctx, at_attention_map_load(ctx, &m, path), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "many-values.json") && strstr(at_ctx_error(ctx), "more than"),
          "too many values: %s", at_ctx_error(ctx));
    remove(path);
    path_in(out, sizeof out, dir, "zero-curves.png");
    CHECK_STATUS(ctx, at_plot_metrics(ctx, "/dev/zero", out, NULL), AT_ERR_FORMAT);

    /* a map parsed from memory names what the caller says */
    static const char line[] = "{\"input\": \"ab\", \"output\": \"x\", \"source\": [\"a\", \"b\"], "
                               "\"target\": [\"x\"], \"heads\": 1, \"weights\": [[[0.25, 0.75]]]}";
    CHECK_OK(ctx, at_attention_map_parse(ctx, &m, line, sizeof line - 1, "maps line 3"));
    if (m) CHECK(m->rows == 1 && m->cols == 2 && m->weights[1] == 0.75f, "parsed map");
    at_attention_map_free(m);
    CHECK_STATUS(ctx, at_attention_map_parse(ctx, &m, line, 20, "maps line 3"), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "maps line 3") != NULL, "message: %s", at_ctx_error(ctx));
}

static void test_metrics(at_ctx *ctx, const char *dir) {
    char metrics[512], out[512];
    path_in(metrics, sizeof metrics, dir, "metrics.jsonl");
    FILE *f = fopen(metrics, "wb");
    for (int step = 0; step <= 2000; step += 100) {
        double loss = 3.0 * exp(-step / 400.0) + 0.05;
        fprintf(f, "{\"step\": %d, \"loss\": %.4f, \"lr\": 0.001", step, loss);
        if (step % 500 == 0)
            fprintf(f, ", \"valid_loss\": %.4f, \"valid_exact\": %.3f, \"valid_char\": %.3f",
                    loss * 1.1, 1 - exp(-step / 500.0), 1 - 0.5 * exp(-step / 300.0));
        fprintf(f, "}\n");
    }
    fprintf(f, "\n{\"note\": \"no step here\"}\n");
    fclose(f);
    path_in(out, sizeof out, dir, "curves.png");
    CHECK_OK(ctx, at_plot_metrics(ctx, metrics, out, "synthetic training"));
    path_in(out, sizeof out, dir, "curves.svg");
    CHECK_OK(ctx, at_plot_metrics(ctx, metrics, out, NULL));
    /* the loss (3.05 down to 0.05) on a log scale: ticks at 0.1, 0.2, 0.5, 1, 2 */
    size_t n = 0;
    unsigned char *svg = test_read_file(out, &n);
    char *text = svg ? calloc(n + 1, 1) : NULL;
    if (text) memcpy(text, svg, n);
    CHECK(text && strstr(text, "loss (log scale)") && strstr(text, ">0.1<") &&
              strstr(text, ">0.2<") && strstr(text, ">0.5<") && strstr(text, ">2<"),
          "curves.svg: no log-scale loss axis with ticks 0.1, 0.2, 0.5, 2");
    free(text);
    free(svg);
    f = fopen(metrics, "ab");
    fprintf(f, "{\"step\": 2100, \"loss\": 0.1\n");
    fclose(f);
    CHECK_STATUS(ctx, at_plot_metrics(ctx, metrics, out, NULL), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), "metrics.jsonl:24") != NULL, "line number: %s", at_ctx_error(ctx));
}

static void test_document(at_ctx *ctx, const char *dir) {
    static const int lengths[3] = {5, 4, 6};
    static const char *const words[15] = {"The", "pasta", "was", "simply", "superb.",
                                          "Обслуживание", "было", "очень", "медленным.",
                                          "服务", "很", "慢", "但", "菜", "好吃"};
    static const float ww[15] = {0.05f, 0.30f, 0.05f, 0.15f, 0.45f, 0.40f, 0.05f,
                                 0.15f, 0.40f, 0.30f, 0.05f, 0.35f, 0.05f, 0.05f, 0.20f};
    static const float sw[3] = {0.6f, 0.3f, 0.1f};
    at_attention_doc *d = NULL, *back = NULL;
    CHECK_OK(ctx, at_attention_doc_create(ctx, &d, 3, lengths));
    if (!d) return;
    CHECK_OK(ctx, at_attention_doc_set_words(ctx, d, words));
    memcpy(d->word_weights, ww, sizeof ww);
    memcpy(d->sentence_weights, sw, sizeof sw);
    CHECK_OK(ctx, at_attention_doc_set_text(ctx, d, "a review in three languages", "synthetic",
                                            "HAN (static)"));
    char path[512];
    path_in(path, sizeof path, dir, "doc.json");
    CHECK_OK(ctx, at_attention_doc_save(ctx, d, path));
    CHECK_OK(ctx, at_attention_doc_load(ctx, &back, path));
    if (back) {
        CHECK(back->words == 15 && back->sentences == 3 && !strcmp(back->word_text[9], "服务"),
              "document round trip");
        CHECK(!memcmp(back->word_weights, ww, sizeof ww), "word weights round trip");
    }
    at_viz_kind kind = 0;
    CHECK_OK(ctx, at_viz_file_kind(ctx, path, &kind));
    CHECK(kind == AT_VIZ_DOC, "document kind");
    at_attention_map *m;
    CHECK_STATUS(ctx, at_attention_map_load(ctx, &m, path), AT_ERR_FORMAT);
    path_in(path, sizeof path, dir, "doc.html");
    CHECK_OK(ctx, at_plot_doc(ctx, d, path));
    path_in(path, sizeof path, dir, "doc.png");
    CHECK_OK(ctx, at_plot_doc(ctx, d, path));
    at_attention_doc_free(d);
    at_attention_doc_free(back);
}

/* A longer, date-like map (30 input characters) to look at. */
static void write_date_example(at_ctx *ctx, const char *dir) {
    const char *in = "суббота, 9 мая 2018 г.", *out = "2018-05-09";
    at_attention_map *m = NULL;
    int tx = (int)at_utf8_length(in), ty = (int)at_utf8_length(out);
    CHECK_OK(ctx, at_attention_map_create(ctx, &m, 1, ty, tx));
    if (!m) return;
    static const int focus[10] = {15, 16, 17, 18, -1, 12, 11, -1, 9, 9};
    for (int r = 0; r < ty; r++)
        for (int c = 0; c < tx; c++) {
            float w = focus[r] < 0 ? 1.0f / tx : (c == focus[r] ? 0.8f : 0.2f / (tx - 1));
            m->weights[r * tx + c] = w;
        }
    CHECK_OK(ctx, at_attention_map_set_chars(ctx, m, out, in));
    CHECK_OK(ctx, at_attention_map_set_text(ctx, m, "суббота, 9 мая 2018 г. → 2018-05-09",
                                            "synthetic", "additive (Bahdanau)"));
    char path[512];
    path_in(path, sizeof path, dir, "date.png");
    CHECK_OK(ctx, at_plot_map(ctx, m, path));
    path_in(path, sizeof path, dir, "date.json");
    CHECK_OK(ctx, at_attention_map_save(ctx, m, path));
    at_attention_map_free(m);
}

int main(int argc, char **argv) {
    const char *dir = argc > 2 && !strcmp(argv[1], "--write") ? argv[2] : "viz_out";
    mkdir(dir, 0755);
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    test_colour_map();
    test_round_trip(ctx, dir);
    test_translate_line(ctx, dir);
    test_png(ctx, dir);
    test_formats(ctx, dir);
    test_document(ctx, dir);
    write_date_example(ctx, dir);
    test_metrics(ctx, dir);
    if (argc < 2) {
        test_malformed(ctx, dir);
        test_terminal(ctx);
        test_terminal_escapes(ctx);
        test_no_fixed_temp_name(ctx, dir);
        test_budget(ctx, dir);
        test_input_limits(ctx, dir);
    }
    at_ctx_free(ctx);
    return test_finish("viz");
}
