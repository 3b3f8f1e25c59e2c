/*
 * axes.c - what the line and bar plots share: a plot area with its data
 * ranges, "nice" ticks (1, 2 or 5 times a power of ten), grid lines, a
 * frame, the axis names, and the palette that tells series apart.
 *
 * A plot maps data (x, y) to px inside its area: x grows to the right, y
 * upwards (px grow downwards, so the y map is turned over). The loss of
 * the training curves is drawn on a log scale, where the ticks are 1, 2
 * and 5 times each power of ten in range.
 */
#include "viz.h"

#include <math.h>
#include <stdio.h>

static const uint8_t INK[3] = {0x22, 0x22, 0x22};
static const uint8_t GREY[3] = {0x66, 0x66, 0x66};
static const uint8_t GRID[3] = {0xE6, 0xE6, 0xE6};

/* Ten colours far apart in hue and lightness, the colour map's blue first. */
static const uint8_t PALETTE[VIZ_PALETTE][3] = {
    {0x3B, 0x52, 0x8B}, {0xE4, 0x57, 0x2E}, {0x21, 0x90, 0x8C}, {0x8E, 0x44, 0xAD},
    {0x5D, 0xA8, 0x3A}, {0xC9, 0x8B, 0x00}, {0xD6, 0x3A, 0x8A}, {0x55, 0x55, 0x55},
    {0x1F, 0x9B, 0xD6}, {0x8C, 0x56, 0x3C}};

void viz_palette(int i, uint8_t rgb[3]) {
    const uint8_t *c = PALETTE[(i % VIZ_PALETTE + VIZ_PALETTE) % VIZ_PALETTE];
    rgb[0] = c[0], rgb[1] = c[1], rgb[2] = c[2];
}

double viz_nice_step(double range, int want) {
    double raw = range / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

double viz_axes_x(const viz_axes *a, double x) {
    return a->x0 + (x - a->xmin) / (a->xmax - a->xmin) * a->w;
}

double viz_axes_y(const viz_axes *a, double y) {
    double v = a->log_y ? log10(y) : y;
    return a->y0 + a->h - (v - a->ymin) / (a->ymax - a->ymin) * a->h;
}

/* A horizontal grid line at value y with its tick label. */
static void y_tick(dl_list *l, const viz_axes *a, double y, double shown) {
    char text[32];
    dl_line(l, a->x0, viz_axes_y(a, y), a->x0 + a->w, viz_axes_y(a, y), 1, GRID);
    snprintf(text, sizeof text, "%g", shown);
    dl_text(l, a->x0 - 6, viz_axes_y(a, y), text, 11, 0, DL_END, 0, INK, "tick");
}

/* Log-scale ticks: 1, 2 and 5 times each power of ten in range, or only
 * the powers when the range spans more than three decades. */
static void log_ticks(dl_list *l, const viz_axes *a) {
    static const double mantissas[3] = {1, 2, 5};
    int every = a->ymax - a->ymin > 3 ? 1 : 3;
    for (int d = (int)floor(a->ymin); d <= (int)ceil(a->ymax); d++)
        for (int k = 0; k < every; k++) {
            double y = mantissas[k] * pow(10, d), v = log10(y);
            if (v >= a->ymin - 1e-9 && v <= a->ymax + 1e-9) y_tick(l, a, y, y);
        }
}

void viz_draw_axes(dl_list *l, const viz_axes *a, const char *title, const char *xlabel,
                   const char *ylabel) {
    char text[32];
    double ys = viz_nice_step(a->ymax - a->ymin, 5), xs = viz_nice_step(a->xmax - a->xmin, 6);
    if (a->log_y) log_ticks(l, a);
    for (double y = ceil(a->ymin / ys) * ys; !a->log_y && !a->y_categories && y <= a->ymax + ys * 1e-9;
         y += ys)
        y_tick(l, a, y, fabs(y) < ys * 1e-9 ? 0.0 : y);
    for (double x = ceil(a->xmin / xs) * xs; !a->x_categories && x <= a->xmax + xs * 1e-9;
         x += xs) {
        dl_line(l, viz_axes_x(a, x), a->y0, viz_axes_x(a, x), a->y0 + a->h, 1, GRID);
        snprintf(text, sizeof text, "%g", fabs(x) < xs * 1e-9 ? 0.0 : x);
        dl_text(l, viz_axes_x(a, x), a->y0 + a->h + 12, text, 11, 0, DL_MIDDLE, 0, INK, "tick");
    }
    dl_line(l, a->x0, a->y0 + a->h, a->x0 + a->w, a->y0 + a->h, 1, INK);
    dl_line(l, a->x0, a->y0, a->x0, a->y0 + a->h, 1, INK);
    if (title && title[0])
        dl_text(l, a->x0, a->y0 - 14, title, 13, 1, DL_START, 0, INK, "panel-title");
    dl_text(l, a->x0 + a->w / 2.0, a->y0 + a->h + 30, xlabel, 11, 0, DL_MIDDLE, 0, GREY, "axis");
    if (ylabel && ylabel[0])
        dl_text(l, a->x0 - 40, a->y0 + a->h / 2.0, ylabel, 11, 0, DL_MIDDLE, 1, GREY, "axis");
}
