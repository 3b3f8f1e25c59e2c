/*
 * tsv.c - labelled documents from and to TSV files: one document a line,
 * label TAB text [TAB group].
 *
 * A document's text may hold line breaks and tabs (a newline ends a
 * paragraph, which the tokenizer reads as the end of a sentence), so the
 * text field is escaped: \n, \r, \t and \\ stand for a newline, a carriage
 * return, a tab and a backslash; any other backslash is an error, so a
 * file written by hand cannot mean something by accident. The label and
 * the group are single words and are never escaped.
 *
 * Reading trusts nothing and says where a file is wrong, "PATH:LINE:
 * what", as the pairs reader does (src/text/tsv.c): the file is read with
 * the library's capped reader and cut into lines as that reader does
 * (lines.h: a UTF-8 byte order mark is skipped, LF or CRLF ends a line,
 * empty lines are skipped); a CR elsewhere in a group is
 * refused (the text may hold one: it is escaped when written). Each document's id is
 * "PATH:LINE". Writing goes through the atomic writer (files.h).
 */
#include "classifier.h"
#include "files.h"
#include "lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FILE_MAX_BYTES = 1 << 30 };

/* ------------------------------------------------------------------ read */

/* Undo the escapes of text[0, len) in place; returns the new length, or
 * (size_t)-1 with *bad at the offending backslash. */
static size_t unescape(char *text, size_t len, size_t *bad) {
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        if (text[r] != '\\') {
            text[w++] = text[r];
            continue;
        }
        char next = r + 1 < len ? text[r + 1] : '\0';
        char made = next == 'n' ? '\n' : next == 'r' ? '\r' : next == 't' ? '\t'
                  : next == '\\' ? '\\' : '\0';
        if (!made) {
            *bad = r;
            return (size_t)-1;
        }
        text[w++] = made;
        r++;
    }
    return w;
}

typedef struct line_ref {
    const char *path;
    long line;
} line_ref;

static at_status line_fail(at_ctx *ctx, line_ref at, const char *what) {
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: %s", at.path, at.line, what);
}

/* One line (without its line end, NUL-terminated in place) into docs. */
static at_status parse_line(at_ctx *ctx, line_ref at, char *text, size_t len,
                            at_class_docs *out) {
    if (memchr(text, '\0', len)) return line_fail(ctx, at, "a NUL byte");
    char *tab = memchr(text, '\t', len);
    if (!tab) return line_fail(ctx, at, "no tab; expected label<TAB>text[<TAB>group]");
    char *field = tab + 1, *end = text + len;
    char *tab2 = memchr(field, '\t', (size_t)(end - field));
    char *group = tab2 ? tab2 + 1 : end;
    if (tab2 && memchr(group, '\t', (size_t)(end - group)))
        return line_fail(ctx, at, "more than three fields (a third tab)");
    *tab = '\0';
    if (tab2) *tab2 = '\0';
    if (!text[0]) return line_fail(ctx, at, "the label is empty");
    if (strchr(group, '\r')) // a line end inside the group: it could not be written back
        return line_fail(ctx, at, "the group holds a carriage return");
    size_t bad = 0, text_len = unescape(field, (size_t)((tab2 ? tab2 : end) - field), &bad);
    if (text_len == (size_t)-1) {
        char why[96];
        snprintf(why, sizeof why, "an unknown escape at column %zu (only \\n \\r \\t \\\\)",
                 (size_t)(field - text) + bad + 1);
        return line_fail(ctx, at, why);
    }
    field[text_len] = '\0';
    if (text_len == 0) return line_fail(ctx, at, "the text is empty");
    char id[4096];
    snprintf(id, sizeof id, "%s:%ld", at.path, at.line);
    at_status s = at_class_docs_add(ctx, out, text, field, group, id);
    if (s != AT_OK) {
        char why[400];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        return line_fail(ctx, at, why);
    }
    return AT_OK;
}

static at_status parse_lines(at_ctx *ctx, const char *path, char *buf, size_t len,
                             at_class_docs *out) {
    ati_lines lines;
    ati_lines_start(&lines, buf, len); // atf_read leaves a spare byte for the last line
    char *line;
    size_t line_len;
    while (ati_lines_next(&lines, &line, &line_len))
        AT_TRY(parse_line(ctx, (line_ref){path, lines.number}, line, line_len, out));
    if (out->count == 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:1: the file holds no document", path);
    return AT_OK;
}

at_status at_class_docs_read_tsv(at_ctx *ctx, const char *path, at_class_docs *out) {
    if (!path || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read documents: NULL argument");
    if (out->count)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read documents: the output set is not empty");
    char *buf = NULL;
    size_t len = 0;
    AT_TRY(atf_read(ctx, path, FILE_MAX_BYTES, "a TSV file", &buf, &len));
    at_status s = parse_lines(ctx, path, buf, len, out);
    free(buf);
    if (s != AT_OK) at_class_docs_clear(out);
    return s;
}

/* ----------------------------------------------------------------- write */

static void write_escaped(atf_writer *w, const char *text) {
    for (const char *p = text; *p; p++) {
        const char *escape = *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : *p == '\t' ? "\\t"
                           : *p == '\\' ? "\\\\" : NULL;
        if (escape)
            atf_write(w, escape, 2);
        else
            atf_write(w, p, 1);
    }
}

static int has_groups(const at_class_docs *docs) {
    for (size_t i = 0; i < docs->count; i++)
        if (docs->groups[i] && docs->groups[i][0]) return 1;
    return 0;
}

/* Every document must read back as it is. */
static at_status check_writable(at_ctx *ctx, const char *path, const at_class_docs *docs) {
    for (size_t i = 0; i < docs->count; i++) {
        const char *label = docs->labels[i], *group = docs->groups[i] ? docs->groups[i] : "";
        if (!label || !label[0] || strpbrk(label, " \t\r\n\v\f"))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: document %zu has an empty label or one holding whitespace",
                               path, i);
        if (!docs->texts[i] || !docs->texts[i][0])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: document %zu (%s) has an empty text, which a TSV line cannot "
                               "hold", path, i, docs->ids[i] ? docs->ids[i] : "");
        if (strpbrk(group, "\t\r\n"))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: document %zu has a group holding a tab or line break", path,
                               i);
    }
    return AT_OK;
}

at_status at_class_docs_write_tsv(at_ctx *ctx, const char *path, const at_class_docs *docs) {
    if (!path || !docs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "write documents: NULL argument");
    AT_TRY(check_writable(ctx, path, docs));
    int groups = has_groups(docs);
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    at_status s = atf_open(ctx, w, path);
    if (s == AT_OK) {
        for (size_t i = 0; i < docs->count; i++) {
            atf_write(w, docs->labels[i], strlen(docs->labels[i]));
            atf_write(w, "\t", 1);
            write_escaped(w, docs->texts[i]);
            if (groups) {
                atf_write(w, "\t", 1);
                if (docs->groups[i]) atf_write(w, docs->groups[i], strlen(docs->groups[i]));
            }
            atf_write(w, "\n", 1);
        }
        s = atf_commit(ctx, w);
    }
    free(w);
    return s;
}
