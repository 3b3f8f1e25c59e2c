/*
 * buffer.c - small helpers the visualisation files share: a growable
 * string with JSON and XML escaping, file writes, file extensions and the
 * text shown for a token label.
 *
 * Every output file (weights JSON, SVG, HTML) is first built in memory and
 * then written in one go with the library's atomic writer (files.h), so a
 * reader never sees half a file.
 */
#include "files.h"
#include "viz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sbuf_reserve(sbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = 1;
        return 0;
    }
    b->data = data;
    b->cap = cap;
    return 1;
}

void sbuf_put(sbuf *b, const char *text, size_t n) {
    if (!sbuf_reserve(b, n)) return;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = 0;
}

void sbuf_puts(sbuf *b, const char *text) { sbuf_put(b, text, strlen(text)); }

void sbuf_printf(sbuf *b, const char *fmt, ...) {
    char small[256];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(small, sizeof small, fmt, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        sbuf_put(b, small, (size_t)n);
        return;
    }
    if (!sbuf_reserve(b, (size_t)n)) return;
    va_start(args, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, args);
    va_end(args);
    b->len += (size_t)n;
}

/* A quoted JSON string. "</" is written "<\/"; with html set, every < > &
 * is a \u escape, so the text is inert inside an HTML <script> element. */
static void json_string(sbuf *b, const char *text, int html) {
    sbuf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (html && (*p == '<' || *p == '>' || *p == '&')) {
            sbuf_printf(b, "\\u%04x", *p);
        } else if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sbuf_put(b, esc, 2);
        } else if (*p == '/' && p > (const unsigned char *)text && p[-1] == '<') {
            sbuf_put(b, "\\/", 2);
        } else if (*p < 0x20) {
            sbuf_printf(b, "\\u%04x", *p);
        } else {
            sbuf_put(b, (const char *)p, 1);
        }
    }
    sbuf_put(b, "\"", 1);
}

void sbuf_json_string(sbuf *b, const char *text) { json_string(b, text, 0); }
void sbuf_json_string_html(sbuf *b, const char *text) { json_string(b, text, 1); }

void sbuf_xml_text(sbuf *b, const char *text) {
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': sbuf_puts(b, "&amp;"); break;
        case '<': sbuf_puts(b, "&lt;"); break;
        case '>': sbuf_puts(b, "&gt;"); break;
        case '"': sbuf_puts(b, "&quot;"); break;
        default:
            if ((unsigned char)*p >= 0x20 || *p == '\t') sbuf_put(b, p, 1);
        }
    }
}

void sbuf_free(sbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

at_status viz_write_file(at_ctx *ctx, const char *path, const char *data, size_t n) {
    return atf_write_file(ctx, path, data, n);
}

void viz_extension(const char *path, char *ext, size_t size) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    ext[0] = 0;
    if (!dot || (slash && slash > dot) || size == 0) return;
    size_t i = 0;
    for (const char *p = dot + 1; *p && i + 1 < size; p++)
        ext[i++] = (char)tolower((unsigned char)*p);
    ext[i] = 0;
}

char *viz_strdup(const char *text) {
    if (!text) text = "";
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, text, n);
    return copy;
}

int viz_control_bytes(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    if ((u[0] && u[0] < 0x20) || u[0] == 0x7f) return 1;
    if (u[0] == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F) return 2;
    return 0;
}

/* The symbol a lone white-space label is shown as, or NULL. */
static const char *white_space_symbol(const char *label) {
    if (!strcmp(label, " ")) return "\xE2\x90\xA3";                         /* U+2423 OPEN BOX */
    if (!strcmp(label, "\n") || !strcmp(label, "\r\n")) return "\xE2\x8F\x8E"; /* U+23CE */
    if (!strcmp(label, "\t")) return "\xE2\x87\xA5";                        /* U+21E5 */
    return NULL;
}

void viz_display_label(const char *label, char *out, size_t size) {
    if (size == 0) return;
    const char *symbol = white_space_symbol(label);
    if (symbol) {
        snprintf(out, size, "%s", symbol);
        return;
    }
    size_t j = 0;
    const char *p = label;
    for (; *p && j + 4 < size; p++) {
        int control = viz_control_bytes(p);
        if (control) {
            memcpy(out + j, "\xEF\xBF\xBD", 3); /* U+FFFD */
            j += 3;
            p += control - 1;
        } else {
            out[j++] = *p;
        }
    }
    out[j] = 0;
    if (*p) { /* truncated: drop a partial UTF-8 sequence at the end */
        while (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0x80) j--;
        if (j > 0 && (unsigned char)out[j - 1] >= 0xC0) j--;
        out[j] = 0;
    }
}

char *viz_display_passage(char *const *labels, int n, int max_chars) {
    sbuf b = {0};
    for (int i = 0; i < n && !b.failed; i++) {
        if (i == max_chars) {
            sbuf_puts(&b, "\xE2\x80\xA6"); /* U+2026 HORIZONTAL ELLIPSIS */
            break;
        }
        const char *symbol = strcmp(labels[i], " ") ? white_space_symbol(labels[i]) : NULL;
        if (symbol) {
            sbuf_puts(&b, symbol);
            continue;
        }
        for (const char *p = labels[i]; *p; p++) {
            int control = viz_control_bytes(p);
            sbuf_put(&b, control ? "\xEF\xBF\xBD" : p, control ? 3 : 1);
            p += control ? control - 1 : 0;
        }
    }
    sbuf_put(&b, "", 0);
    if (b.failed) sbuf_free(&b);
    return b.data;
}
