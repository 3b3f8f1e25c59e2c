/*
 * viz_check.h - what the figure tests (test_viz.c, test_viz_lm.c,
 * test_viz_report.c) share to read their figures back. viz_check.c also
 * sets, for every test that links it, the LeakSanitizer suppressions
 * fontconfig and cairo need.
 */
#ifndef ATTEND_VIZ_CHECK_H
#define ATTEND_VIZ_CHECK_H

#include <cairo.h>
#include <json-c/json.h>
#include <stdint.h>

/* A whole file as a NUL-terminated malloc'ed string (NULL if unreadable). */
char *test_read_text(const char *path);
/* 1 if path exists. */
int test_exists(const char *path);
/* A PNG as a cairo image (a failed check and NULL if it does not decode). */
cairo_surface_t *test_load_png(const char *path);
/* The colour of pixel (x, y); white outside the image. */
void test_pixel(cairo_surface_t *s, int x, int y, uint8_t rgb[3]);
/* 1 if every channel of a and b is within tol. */
int test_near(const uint8_t a[3], const uint8_t b[3], int tol);
/* "#rrggbb" to rgb (black if malformed). */
void test_parse_hex(const char *hex, uint8_t rgb[3]);

/* An SVG rect as attend writes it: class, fill, corner and size. */
typedef struct test_shape {
    char cls[64], fill[8];
    double x, y, w, h;
} test_shape;
/* The SVG rects whose class starts with `prefix`, in document order: the
 * count, the first `most` of them in out. */
int test_svg_rects(const char *svg, const char *prefix, test_shape *out, int most);

/* The data of an attend HTML page, the JSON inside <script id="attend-data">
 * (NULL if missing or not JSON; the caller puts it). */
json_object *test_page_data(const char *html);
/* The member key of object o (NULL if none). */
json_object *test_field(json_object *o, const char *key);
/* How many times needle occurs in text (0 if text is NULL). */
int test_count_of(const char *text, const char *needle);

#endif
