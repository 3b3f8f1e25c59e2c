/*
 * lines.h - the lines of a text file read into memory (lines.c), as the
 * TSV readers take them (src/text/tsv.c, src/classify/tsv.c).
 *
 * A UTF-8 byte order mark at the very start is skipped; LF or CRLF ends a
 * line, and the last line may have no end; empty lines are skipped, so a
 * blank line at the end does no harm. Each line is ended with a NUL in
 * place (over its LF or CR, or the spare byte past the buffer that the
 * capped reader atf_read leaves), and keeps its 1-based number for
 * messages "PATH:LINE: what".
 */
#ifndef ATTEND_TEXT_LINES_H
#define ATTEND_TEXT_LINES_H

#include <stddef.h>

typedef struct ati_lines {
    char *buf;
    size_t len, pos;
    long number; /* of the line last returned; 0 before the first */
} ati_lines;

/* The lines of buf[0, len); buf[len] must be writable (atf_read's spare
 * byte). */
void ati_lines_start(ati_lines *lines, char *buf, size_t len);

/* The next non-empty line: *text (NUL-terminated in place, without its
 * line end) of *len bytes, lines->number its number. 0 at the end. */
int ati_lines_next(ati_lines *lines, char **text, size_t *len);

#endif
