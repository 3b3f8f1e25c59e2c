/*
 * mail.h - what the files of src/mail share (not public; the atm_ prefix
 * marks these as internal to libattend-data).
 *
 *   init.c     the one-time start of GMime and libxml2
 *   charset.c  bytes in a named charset -> valid UTF-8 (ICU)
 *   html.c     HTML -> its text (libxml2)
 *   parse.c    a message -> its subject and body text (GMime)
 *   corpus.c   the SpamAssassin folders -> train, dev and test documents
 */
#ifndef ATTEND_MAIL_INTERNAL_H
#define ATTEND_MAIL_INTERNAL_H

#include "attend/mail.h"

#include <glib.h>
#include <stddef.h>

/* Start GMime and libxml2 once per process, from any thread (pthread_once).
 * Never undone: the library does not own the process. */
void atm_init(void);

/* n bytes in charset (a MIME charset name; NULL or "" if none was given)
 * to UTF-8, appended to out with every NUL byte dropped. ICU converts;
 * bytes that are invalid in the charset become U+FFFD. The charset is
 * guessed (*guessed set to 1, else left alone) when it is unknown to ICU,
 * or when it is missing or US-ASCII and the bytes are not all ASCII: such
 * text is read as windows-1252. AT_ERR_MEMORY if no converter opens,
 * AT_ERR_FORMAT if ICU fails midway (out then holds what was converted). */
at_status atm_to_utf8(at_ctx *ctx, const char *charset, const char *bytes, size_t n, GString *out,
                      int *guessed);

/* The text of n bytes of UTF-8 HTML, appended to out: script and style
 * dropped (comments are never text), block elements end a line, <br>
 * breaks one, table cells are apart, runs of white space (NBSP included)
 * are one space, no line starts or ends with a space, at most one blank
 * line in a row, no white space at the ends. */
void atm_html_to_text(const char *utf8, size_t n, GString *out);

#endif /* ATTEND_MAIL_INTERNAL_H */
