/*
 * tsv.c - text pairs from and to TSV files (source<TAB>target per line).
 *
 * Reading is where users' own data enters, so it trusts nothing and says
 * exactly where a file is wrong: every error message is "PATH:LINE: what".
 * The whole file is read into memory first (data sets of text pairs are
 * small next to RAM), then cut into lines (lines.h). What is accepted:
 *   - a UTF-8 byte order mark at the very start (skipped);
 *   - LF or CRLF line ends, and a last line with or without one;
 *   - empty lines (skipped, so a blank line at the end does no harm).
 * What is refused: invalid UTF-8 (the message gives the byte's column), a
 * NUL byte, a line without a tab or with more than one, an empty field, a
 * field longer than max_chars code points.
 *
 * The file is read with the library's capped reader (at most 1 GB, so a
 * pipe or /dev/zero ends with a message) and written with its atomic
 * writer (files.h), so a reader never sees half a file.
 */
#include "text.h"
#include "files.h"
#include "lines.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FILE_MAX_BYTES = 1 << 30 };

/* ------------------------------------------------------------------ read */

/* Check one field of a line: non-empty, valid UTF-8, not too long. col is
 * the field's byte offset in the line, for messages. */
static at_status check_field(at_ctx *ctx, const char *path, long line, const char *field,
                             size_t len, size_t col, const char *name, int max_chars) {
    if (len == 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: the %s is empty", path, line, name);
    size_t pos = 0, chars = 0;
    while (pos < len) {
        if (field[pos] == 0)
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: NUL byte at column %zu", path, line,
                               col + pos + 1);
        if (at_utf8_next(field, len, &pos) < 0)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "%s:%ld: invalid UTF-8 at column %zu (a byte column)", path, line,
                               col + pos + 1);
        chars++;
    }
    if (max_chars > 0 && chars > (size_t)max_chars)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s:%ld: the %s has %zu characters, more than the limit %d", path, line,
                           name, chars, max_chars);
    return AT_OK;
}

/* Parse one line (without its line end) into the pairs. */
static at_status parse_line(at_ctx *ctx, const char *path, long line, char *text, size_t len,
                            int max_chars, at_pairs *out) {
    char *tab = memchr(text, '\t', len);
    if (!tab)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: no tab; expected source<TAB>target", path,
                           line);
    size_t source_len = (size_t)(tab - text), target_len = len - source_len - 1;
    if (memchr(tab + 1, '\t', target_len))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: more than two fields (a second tab)", path,
                           line);
    AT_TRY(check_field(ctx, path, line, text, source_len, 0, "source", max_chars));
    AT_TRY(check_field(ctx, path, line, tab + 1, target_len, source_len + 1, "target", max_chars));
    *tab = 0;
    text[len] = 0;
    at_status s = at_pairs_add(ctx, out, text, tab + 1);
    /* What the list refuses (e.g. a source starting with U+FEFF) is a
     * fault of the file here. */
    if (s == AT_ERR_ARGUMENT) s = AT_ERR_FORMAT;
    if (s != AT_OK) return at_ctx_fail(ctx, s, "%s:%ld: %s", path, line, at_ctx_error(ctx));
    return AT_OK;
}

static at_status parse_lines(at_ctx *ctx, const char *path, char *buf, size_t len, int max_chars,
                             at_pairs *out) {
    ati_lines lines;
    ati_lines_start(&lines, buf, len);
    char *line;
    size_t line_len;
    while (ati_lines_next(&lines, &line, &line_len))
        AT_TRY(parse_line(ctx, path, lines.number, line, line_len, max_chars, out));
    return AT_OK;
}

at_status at_pairs_read_tsv(at_ctx *ctx, const char *path, int max_chars, at_pairs *out) {
    if (!path || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read tsv: NULL argument");
    if (out->count)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read tsv: the output list is not empty");
    if (max_chars < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "read tsv: max_chars %d < 0", max_chars);
    char *buf = NULL;
    size_t len = 0;
    /* atf_read leaves a spare byte, so the last line ends in place. */
    AT_TRY(atf_read(ctx, path, FILE_MAX_BYTES, "a TSV file", &buf, &len));
    at_status s = parse_lines(ctx, path, buf, len, max_chars, out);
    free(buf);
    if (s != AT_OK) at_pairs_clear(out);
    return s;
}

/* ----------------------------------------------------------------- write */

static void write_pairs(atf_writer *w, const at_pairs *pairs) {
    for (size_t i = 0; i < pairs->count; i++) {
        atf_write(w, pairs->source[i], strlen(pairs->source[i]));
        atf_write(w, "\t", 1);
        atf_write(w, pairs->target[i], strlen(pairs->target[i]));
        atf_write(w, "\n", 1);
    }
}

static at_status check_writable(at_ctx *ctx, const char *path, const at_pairs *pairs) {
    for (size_t i = 0; i < pairs->count; i++) {
        const char *fields[2] = {pairs->source[i], pairs->target[i]};
        for (int k = 0; k < 2; k++)
            if (!fields[k] || !fields[k][0] || strpbrk(fields[k], "\t\r\n"))
                return at_ctx_fail(
                    ctx, AT_ERR_ARGUMENT,
                    "%s: pair %zu has an empty %s or one holding a tab or line break", path, i,
                    k ? "target" : "source");
    }
    return AT_OK;
}

at_status at_pairs_write_tsv(at_ctx *ctx, const char *path, const at_pairs *pairs) {
    if (!path || !pairs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "write tsv: NULL argument");
    AT_TRY(check_writable(ctx, path, pairs));
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    at_status s = atf_open(ctx, w, path);
    if (s == AT_OK) {
        write_pairs(w, pairs);
        s = atf_commit(ctx, w);
    }
    free(w);
    return s;
}
