/*
 * viz_check.c - reading figures back in the figure tests: files as text,
 * PNG pixels (cairo), the rects of an SVG by class, and the JSON data of
 * an HTML page; and the sanitizer settings drawing with cairo needs.
 */
#define _POSIX_C_SOURCE 200809L
#include "viz_check.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Under LeakSanitizer (the sanitizer build of scripts/test.sh): fontconfig
 * keeps its parsed configuration for the life of the process, and cairo
 * 1.16's PDF surface loses a buffer in cairo_surface_finish. Neither is
 * attend's, nor grows with use; everything else is still checked. Full
 * stacks (slow unwinding) let the cairo rule name the function. Every test
 * that reads figures back links this file, so these are its settings. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "fast_unwind_on_malloc=0"; /* whole stacks, for the rules below */
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig.so\nleak:cairo_surface_finish\n";
}

char *test_read_text(const char *path) {
    size_t n = 0;
    unsigned char *bytes = test_read_file(path, &n);
    char *text = bytes ? calloc(n + 1, 1) : NULL;
    if (text) memcpy(text, bytes, n);
    free(bytes);
    return text;
}

int test_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

cairo_surface_t *test_load_png(const char *path) {
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    CHECK(cairo_surface_status(png) == CAIRO_STATUS_SUCCESS, "%s does not decode as PNG", path);
    if (cairo_surface_status(png) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(png);
        return NULL;
    }
    cairo_surface_flush(png);
    return png;
}

void test_pixel(cairo_surface_t *s, int x, int y, uint8_t rgb[3]) {
    rgb[0] = rgb[1] = rgb[2] = 255;
    if (x < 0 || y < 0 || x >= cairo_image_surface_get_width(s) ||
        y >= cairo_image_surface_get_height(s))
        return;
    uint32_t v;
    memcpy(&v, cairo_image_surface_get_data(s) + (size_t)y * cairo_image_surface_get_stride(s) +
                   4 * (size_t)x,
           4);
    rgb[0] = (v >> 16) & 255, rgb[1] = (v >> 8) & 255, rgb[2] = v & 255;
}

int test_near(const uint8_t a[3], const uint8_t b[3], int tol) {
    return abs(a[0] - b[0]) <= tol && abs(a[1] - b[1]) <= tol && abs(a[2] - b[2]) <= tol;
}

void test_parse_hex(const char *hex, uint8_t rgb[3]) {
    unsigned r = 0, g = 0, b = 0;
    if (sscanf(hex, "#%2x%2x%2x", &r, &g, &b) != 3) r = g = b = 0;
    rgb[0] = (uint8_t)r, rgb[1] = (uint8_t)g, rgb[2] = (uint8_t)b;
}

/* The SVG rects whose class starts with `prefix`, in document order. */
int test_svg_rects(const char *svg, const char *prefix, test_shape *out, int most) {
    int n = 0;
    char want[80];
    snprintf(want, sizeof want, "<rect class=\"%s", prefix);
    for (const char *p = svg; (p = strstr(p, want)); p++) {
        test_shape s = {{0}, {0}, 0, 0, 0, 0};
        if (sscanf(p, "<rect class=\"%63[^\"]\" x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\" "
                      "fill=\"%7[^\"]\"",
                   s.cls, &s.x, &s.y, &s.w, &s.h, s.fill) != 6)
            continue;
        if (n < most) out[n] = s;
        n++;
    }
    return n;
}

/* The page's data: the JSON inside <script id="attend-data">. */
json_object *test_page_data(const char *html) {
    static const char open[] = "<script id=\"attend-data\" type=\"application/json\">";
    const char *start = strstr(html, open), *end = start ? strstr(start, "</script>") : NULL;
    if (!end) return NULL;
    start += sizeof open - 1;
    json_tokener *tok = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tok, start, (int)(end - start));
    json_tokener_free(tok);
    return root;
}

int test_count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

json_object *test_field(json_object *o, const char *key) {
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}
