/*
 * terminal.c - an attention map in the terminal.
 *
 * Each weight is two character cells wide, so one column holds one input
 * token of width 1 (plus a space) or a CJK character of width 2. Colour:
 * the cells' background is the colour map's colour, as 24-bit colour
 * (ESC[48;2;R;G;Bm) or the nearest of the 6×6×6 cube of 256-colour
 * terminals (ESC[48;5;Nm). Without colour, ASCII shades " .:-=+*#%@" in
 * ten steps of weight. Output tokens run down the left, input tokens
 * across the top (read downwards when they are longer than one cell).
 *
 * The library does not look at the environment or call isatty: the caller
 * chooses the mode (see at_term_mode_for), so tests and pipes get exactly
 * what they ask for. Whatever the mode, no text of the map reaches the
 * terminal raw: control characters in titles and labels (an ESC could
 * clear the screen or retitle the window) are shown as U+FFFD, and the only
 * escapes written are the colours'.
 */
#include "viz.h"

#include <string.h>

#define SHADES " .:-=+*#%@"
enum { MAX_ROW_LABEL = 16, MAX_HEADER_LINES = 12 };

at_term_mode at_term_mode_for(int is_tty, const char *no_color, const char *colorterm,
                              const char *term) {
    if (!is_tty || (no_color && no_color[0]) || (term && !strcmp(term, "dumb")))
        return AT_TERM_ASCII;
    if (colorterm && (!strcmp(colorterm, "truecolor") || !strcmp(colorterm, "24bit")))
        return AT_TERM_TRUECOLOR;
    return AT_TERM_256;
}

/* The code point at *p, advancing it (labels are valid UTF-8; a bad byte
 * would read as U+FFFD and be stepped over). */
static uint32_t next_cp(const char **p) {
    size_t pos = 0, len = strlen(*p);
    int32_t cp = at_utf8_next(*p, len, &pos);
    if (cp < 0) cp = 0xFFFD, pos = 1;
    *p += pos;
    return (uint32_t)cp;
}

/* Columns a code point takes in a terminal: 0 (combining), 1 or 2. */
static int cp_width(uint32_t cp) {
    static const uint32_t zero[][2] = {{0x300, 0x36F}, {0x483, 0x489}, {0x591, 0x5BD},
                                       {0x610, 0x61A}, {0x64B, 0x65F}, {0x670, 0x670},
                                       {0x6D6, 0x6DC}, {0x6DF, 0x6E4}, {0x200B, 0x200F},
                                       {0xFE00, 0xFE0F}};
    static const uint32_t wide[][2] = {{0x1100, 0x115F}, {0x2E80, 0x303E}, {0x3041, 0x33FF},
                                       {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF},
                                       {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE30, 0xFE4F},
                                       {0xFF00, 0xFF60}, {0xFFE0, 0xFFE6}, {0x1F300, 0x1F64F},
                                       {0x1F900, 0x1F9FF}, {0x20000, 0x3FFFD}};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (cp >= zero[i][0] && cp <= zero[i][1]) return 0;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1]) return 2;
    return 1;
}

/* Print at most max columns of text; returns the columns printed. */
static int put_clipped(FILE *out, const char *text, int max) {
    int used = 0;
    const char *p = text;
    while (*p) {
        const char *start = p;
        int w = cp_width(next_cp(&p));
        if (used + w > max) break;
        fwrite(start, 1, (size_t)(p - start), out);
        used += w;
    }
    return used;
}

static int text_width(const char *text) {
    int w = 0;
    while (*text) w += cp_width(next_cp(&text));
    return w;
}

static void pad(FILE *out, int n) {
    for (int i = 0; i < n; i++) fputc(' ', out);
}

static int abs_diff(int a, int b) { return a > b ? a - b : b - a; }

/* The xterm 256-colour cube's nearest entry. */
static int cube_index(const uint8_t rgb[3]) {
    static const int levels[6] = {0, 95, 135, 175, 215, 255};
    int idx[3];
    for (int k = 0; k < 3; k++) {
        int best = 0;
        for (int i = 1; i < 6; i++)
            if (abs_diff(levels[i], rgb[k]) < abs_diff(levels[best], rgb[k])) best = i;
        idx[k] = best;
    }
    return 16 + 36 * idx[0] + 6 * idx[1] + idx[2];
}

/* Two character cells showing weight v. */
static void put_cell(FILE *out, float v, at_term_mode mode) {
    uint8_t rgb[3];
    at_viz_colour(v, rgb);
    if (mode == AT_TERM_TRUECOLOR) {
        fprintf(out, "\033[48;2;%d;%d;%dm  ", rgb[0], rgb[1], rgb[2]);
    } else if (mode == AT_TERM_256) {
        fprintf(out, "\033[48;5;%dm  ", cube_index(rgb));
    } else {
        float t = v < 0 ? 0 : v > 1 ? 1 : v;
        int level = (int)(t * 9.0f + 0.5f);
        fputc(SHADES[level], out);
        fputc(SHADES[level], out);
    }
}

static void end_colour(FILE *out, at_term_mode mode) {
    if (mode != AT_TERM_ASCII) fputs("\033[0m", out);
}

/* k-th code point (0-based) of a label, written into a 2-column slot. */
static void put_header_char(FILE *out, const char *label, int k) {
    const char *p = label;
    for (int i = 0; i < k && *p; i++) next_cp(&p);
    if (!*p) {
        pad(out, 2);
        return;
    }
    const char *start = p;
    int w = cp_width(next_cp(&p));
    if (w == 0 || w > 2) {
        pad(out, 2);
        return;
    }
    fwrite(start, 1, (size_t)(p - start), out);
    pad(out, 2 - w);
}

static void put_header(FILE *out, const at_attention_map *m, int indent) {
    int lines = 1;
    char label[256];
    for (int c = 0; c < m->cols; c++) {
        viz_display_label(m->col_labels[c], label, sizeof label);
        int n = (int)at_utf8_length(label);
        if (text_width(label) > 2 && n > lines) lines = n;
    }
    if (lines > MAX_HEADER_LINES) lines = MAX_HEADER_LINES;
    for (int k = 0; k < lines; k++) {
        pad(out, indent);
        for (int c = 0; c < m->cols; c++) {
            viz_display_label(m->col_labels[c], label, sizeof label);
            if (lines == 1 && text_width(label) <= 2) {
                fputs(label, out);
                pad(out, 2 - text_width(label));
            } else {
                put_header_char(out, label, k);
            }
        }
        fputc('\n', out);
    }
}

static int row_label_width(const at_attention_map *m) {
    int widest = 1;
    char label[256];
    for (int r = 0; r < m->rows; r++) {
        viz_display_label(m->row_labels[r], label, sizeof label);
        int w = text_width(label);
        widest = w > widest ? w : widest;
    }
    return widest > MAX_ROW_LABEL ? MAX_ROW_LABEL : widest;
}

static void put_head(FILE *out, const at_attention_map *m, int head, at_term_mode mode) {
    int lw = row_label_width(m);
    char label[256];
    put_header(out, m, lw + 1);
    const float *w = m->weights + (size_t)head * m->rows * m->cols;
    for (int r = 0; r < m->rows; r++) {
        viz_display_label(m->row_labels[r], label, sizeof label);
        int used = text_width(label) <= lw ? text_width(label) : -1;
        if (used >= 0) {
            pad(out, lw - used);
            fputs(label, out);
        } else {
            pad(out, lw - put_clipped(out, label, lw));
        }
        fputc(' ', out);
        for (int c = 0; c < m->cols; c++) put_cell(out, w[(size_t)r * m->cols + c], mode);
        end_colour(out, mode);
        fputc('\n', out);
    }
}

static void put_scale(FILE *out, int indent, at_term_mode mode) {
    pad(out, indent);
    fputs("0 ", out);
    for (int i = 0; i < 10; i++) put_cell(out, (float)i / 9.0f, mode);
    end_colour(out, mode);
    fputs(" 1  (weight)\n", out);
}

void at_term_puts(FILE *out, const char *text) {
    for (const char *p = text; *p; p++) {
        int control = viz_control_bytes(p);
        if (control) {
            fputs("\xEF\xBF\xBD", out); /* U+FFFD */
            p += control - 1;
        } else {
            fputc(*p, out);
        }
    }
}

at_status at_plot_terminal(at_ctx *ctx, const at_attention_map *map, FILE *out,
                           at_term_mode mode) {
    if (!map || !out || !map->weights)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "terminal plot: NULL argument");
    at_term_puts(out, map->model);
    if (map->model[0] && map->mechanism[0]) fputs(" \xC2\xB7 ", out);
    at_term_puts(out, map->mechanism);
    if ((map->model[0] || map->mechanism[0]) && map->title[0]) fputs(": ", out);
    at_term_puts(out, map->title);
    fputc('\n', out);
    fputs("rows: output tokens, columns: input tokens\n", out);
    for (int h = 0; h < map->heads; h++) {
        if (map->heads > 1) fprintf(out, "\nhead %d\n", h + 1);
        put_head(out, map, h, mode);
    }
    put_scale(out, row_label_width(map) + 1, mode);
    if (ferror(out)) return at_ctx_fail(ctx, AT_ERR_IO, "terminal plot: cannot write");
    return AT_OK;
}
