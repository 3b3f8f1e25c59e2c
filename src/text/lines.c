/*
 * lines.c - the lines of a text file read into memory (see lines.h): one
 * pass over the buffer, cutting at each LF, a CR just before it dropped.
 * A CR anywhere else stays in the line, for the reader to judge.
 */
#include "lines.h"

#include <string.h>

void ati_lines_start(ati_lines *lines, char *buf, size_t len) {
    size_t bom = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    *lines = (ati_lines){buf, len, bom, 0};
}

int ati_lines_next(ati_lines *lines, char **text, size_t *len) {
    while (lines->pos < lines->len) {
        char *start = lines->buf + lines->pos;
        char *newline = memchr(start, '\n', lines->len - lines->pos);
        size_t line_len = newline ? (size_t)(newline - start) : lines->len - lines->pos;
        lines->pos += line_len + (newline ? 1 : 0);
        lines->number++;
        if (line_len > 0 && start[line_len - 1] == '\r') line_len--;
        if (line_len == 0) continue;
        start[line_len] = '\0';
        *text = start;
        *len = line_len;
        return 1;
    }
    return 0;
}
