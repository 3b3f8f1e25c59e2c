/*
 * parse.c - one mail message as its subject and body text (at_mail_parse),
 * with GMime for everything MIME.
 *
 * GMime parses the message into a tree of parts: multiparts hold parts,
 * leaves hold content. It decodes the RFC 2047 encoded words of the
 * Subject, and undoes each leaf's transfer encoding (quoted-printable,
 * base64, uuencode) when its content is written to a stream. What is left
 * to do here is to choose the parts, as attend/mail.h says:
 *   - multipart/alternative shows one of its children: its first
 *     text/plain child if it has one, else the first child that holds
 *     any text (an HTML part, or a multipart/related around one);
 *   - any other multipart shows all its children in order;
 *   - a leaf is text if its type is text/... and it is not an attachment;
 *     text/html goes through html.c, every other text type is plain;
 *   - anything else (images, octet streams, forwarded messages, signed
 *     data) is skipped.
 * Each text leaf's decoded bytes are converted from its charset to UTF-8
 * (charset.c, with ICU); plain text gets LF line ends; parts are joined by
 * a blank line.
 *
 * The MIME tree is walked recursively but only MAX_DEPTH deep: a message
 * nested deeper than any mail program writes is read down to there.
 */
#include "mail.h"
#include "files.h"
#include "internal.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 32 };

/* What the walk gathers. */
typedef struct reading {
    at_ctx *ctx;
    GString *body;
    int text_parts, html, charset_guessed;
    at_status status; /* the first error; the walk stops at it */
} reading;

static int is_attachment(GMimeObject *object) {
    GMimeContentDisposition *disposition = g_mime_object_get_content_disposition(object);
    return disposition && g_mime_content_disposition_is_attachment(disposition);
}

static int is_text_leaf(GMimeObject *object) {
    GMimeContentType *type = g_mime_object_get_content_type(object);
    return GMIME_IS_PART(object) && type && g_mime_content_type_is_type(type, "text", "*") &&
           !is_attachment(object);
}

static int is_type(GMimeObject *object, const char *type, const char *subtype) {
    GMimeContentType *content_type = g_mime_object_get_content_type(object);
    return content_type && g_mime_content_type_is_type(content_type, type, subtype);
}

/* The leaf's content with its transfer encoding undone, or NULL if it has
 * none (the caller unrefs it). */
static GMimeStream *decoded_content(GMimePart *part) {
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (!content) return NULL;
    GMimeStream *decoded = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, decoded);
    return decoded;
}

/* CR LF and lone CR become LF, from offset start on. */
static void unix_line_ends(GString *text, size_t start) {
    size_t kept = start;
    for (size_t i = start; i < text->len; i++) {
        char c = text->str[i];
        if (c == '\r') {
            if (i + 1 < text->len && text->str[i + 1] == '\n') continue;
            c = '\n';
        }
        text->str[kept++] = c;
    }
    g_string_truncate(text, kept);
}

/* Append one text leaf to the body, after a blank line if the body has text. */
static void read_text_leaf(reading *r, GMimeObject *object) {
    GMimeStream *decoded = decoded_content(GMIME_PART(object));
    r->text_parts++;
    if (!decoded) return;
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(decoded));
    const char *charset = g_mime_object_get_content_type_parameter(object, "charset");
    int html = is_type(object, "text", "html");
    GString *text = g_string_new(NULL);
    r->status = atm_to_utf8(r->ctx, charset, (const char *)bytes->data, bytes->len, text,
                            &r->charset_guessed);
    g_object_unref(decoded);
    if (html) {
        GString *plain = g_string_new(NULL);
        atm_html_to_text(text->str, text->len, plain);
        g_string_free(text, TRUE);
        text = plain;
        r->html = 1;
    } else {
        unix_line_ends(text, 0);
    }
    g_strchomp(text->str); /* trailing white space, for the join below */
    if (text->str[0] && r->body->len) g_string_append(r->body, "\n\n");
    g_string_append(r->body, text->str);
    g_string_free(text, TRUE);
}

static void read_object(reading *r, GMimeObject *object, int depth);

/* multipart/alternative: its first text/plain child, else its first child
 * that gives any text. */
static void read_alternative(reading *r, GMimeMultipart *multipart, int depth) {
    int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; i++) {
        GMimeObject *child = g_mime_multipart_get_part(multipart, i);
        if (is_text_leaf(child) && is_type(child, "text", "plain")) {
            read_object(r, child, depth + 1);
            return;
        }
    }
    for (int i = 0; i < count && r->status == AT_OK; i++) {
        int before = r->text_parts;
        read_object(r, g_mime_multipart_get_part(multipart, i), depth + 1);
        if (r->text_parts > before) return;
    }
}

static void read_object(reading *r, GMimeObject *object, int depth) {
    if (!object || depth > MAX_DEPTH || r->status != AT_OK) return;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        if (is_type(object, "multipart", "alternative")) {
            read_alternative(r, multipart, depth);
            return;
        }
        int count = g_mime_multipart_get_count(multipart);
        for (int i = 0; i < count && r->status == AT_OK; i++)
            read_object(r, g_mime_multipart_get_part(multipart, i), depth + 1);
    } else if (is_text_leaf(object)) {
        read_text_leaf(r, object);
    }
}

/* The decoded Subject as valid UTF-8 without white space at its ends. */
static at_status read_subject(at_ctx *ctx, GMimeMessage *message, GString *subject) {
    const char *decoded = g_mime_message_get_subject(message);
    if (!decoded) return AT_OK;
    int unused = 0;
    AT_TRY(atm_to_utf8(ctx, "UTF-8", decoded, strlen(decoded), subject, &unused));
    g_strstrip(subject->str);
    g_string_set_size(subject, strlen(subject->str));
    return AT_OK;
}

static GMimeMessage *gmime_message(const char *bytes, size_t n) {
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(bytes, n);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeParserOptions *options = g_mime_parser_options_new();
    const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    g_mime_parser_options_set_fallback_charsets(options, fallback);
    GMimeMessage *message = g_mime_parser_construct_message(parser, options);
    g_mime_parser_options_free(options);
    g_object_unref(parser);
    g_object_unref(stream);
    return message;
}

static at_status check_bytes(at_ctx *ctx, const char *bytes, size_t n) {
    if (!bytes && n) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail: NULL bytes");
    size_t blank = 0;
    while (blank < n && (bytes[blank] == ' ' || bytes[blank] == '\t' || bytes[blank] == '\r' ||
                         bytes[blank] == '\n'))
        blank++;
    if (blank == n) return at_ctx_fail(ctx, AT_ERR_FORMAT, "mail: the message is empty");
    if (n > AT_MAIL_MAX_BYTES)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "mail: a message of %zu bytes is larger than the limit of %u bytes", n,
                           AT_MAIL_MAX_BYTES);
    return AT_OK;
}

/* Fill out from a parsed message. */
static at_status read_message(at_ctx *ctx, GMimeMessage *message, at_mail_text *out) {
    GString *subject = g_string_new(NULL), *body = g_string_new(NULL);
    reading r = {ctx, body, 0, 0, 0, AT_OK};
    at_status status = read_subject(ctx, message, subject);
    if (status == AT_OK) read_object(&r, g_mime_message_get_mime_part(message), 0);
    if (status == AT_OK) status = r.status;
    if (status == AT_OK && r.text_parts == 0 && subject->len == 0)
        status = at_ctx_fail(ctx, AT_ERR_FORMAT,
                             "mail: the message has no text part (only attachments or other "
                             "content) and no subject");
    else if (status == AT_OK && subject->len == 0 && body->len == 0)
        status = at_ctx_fail(ctx, AT_ERR_FORMAT,
                             "mail: the message holds no text (no subject, empty text parts)");
    if (status == AT_OK) {
        out->subject = ati_strdup(subject->str);
        out->body = ati_strdup(body->str);
        out->text_parts = r.text_parts;
        out->html = r.html;
        out->charset_guessed = r.charset_guessed;
        if (!out->subject || !out->body) {
            at_mail_text_clear(out);
            status = at_ctx_fail(ctx, AT_ERR_MEMORY, "mail: out of memory");
        }
    }
    g_string_free(subject, TRUE);
    g_string_free(body, TRUE);
    return status;
}

at_status at_mail_parse(at_ctx *ctx, const char *bytes, size_t n, at_mail_text *out) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail: NULL output");
    memset(out, 0, sizeof *out);
    AT_TRY(check_bytes(ctx, bytes, n));
    atm_init();
    GMimeMessage *message = gmime_message(bytes, n);
    if (!message)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "mail: GMime could not parse the message");
    at_status status = read_message(ctx, message, out);
    g_object_unref(message);
    return status;
}

void at_mail_text_clear(at_mail_text *mail) {
    if (!mail) return;
    free(mail->subject);
    free(mail->body);
    memset(mail, 0, sizeof *mail);
}

at_status at_mail_text_join(at_ctx *ctx, const at_mail_text *mail, char **out) {
    if (!mail || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail: NULL argument");
    *out = NULL;
    const char *subject = mail->subject ? mail->subject : "";
    const char *body = mail->body ? mail->body : "";
    size_t a = strlen(subject), b = strlen(body);
    char *joined = malloc(a + 2 + b + 1);
    if (!joined) return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail: out of memory");
    memcpy(joined, subject, a);
    memcpy(joined + a, "\n\n", 2);
    memcpy(joined + a + 2, body, b + 1);
    *out = joined;
    return AT_OK;
}

at_status at_mail_parse_file(at_ctx *ctx, const char *path, at_mail_text *out) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mail: NULL path");
    char *bytes = NULL;
    size_t n = 0;
    AT_TRY(atf_read(ctx, path, AT_MAIL_MAX_BYTES, "a mail message", &bytes, &n));
    at_status status = at_mail_parse(ctx, bytes, n, out);
    free(bytes);
    if (status != AT_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        status = at_ctx_fail(ctx, status, "%s: %s", path, why);
    }
    return status;
}
