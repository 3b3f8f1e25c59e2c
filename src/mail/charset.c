/*
 * charset.c - bytes in a mail's charset become UTF-8, with ICU.
 *
 * A text part names its charset (Content-Type: text/plain;
 * charset=iso-8859-1). ICU knows several hundred charsets and their
 * aliases; its converter turns the bytes into Unicode, and a second one
 * writes that as UTF-8 (ucnv_convertEx, through a pivot of UTF-16). A byte
 * sequence the charset does not define becomes U+FFFD, so the result is
 * always valid UTF-8.
 *
 * Mail lies about charsets. When the name is unknown to ICU, or missing
 * or US-ASCII while the bytes are 8-bit, the text is read as windows-1252
 * (every byte is a character there, and it is what such mail was mostly
 * written in) and the caller is told the charset was guessed. Pure ASCII
 * without a charset is simply ASCII (RFC 2045's default), not a guess.
 *
 * NUL bytes are dropped: the text becomes a C string.
 */
#include "mail.h"

#include <string.h>
#include <unicode/ucnv.h>

static int all_ascii(const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)bytes[i] >= 0x80) return 0;
    return 1;
}

/* The converter to read bytes with: the named one, or windows-1252 when
 * the name is unknown, or missing/US-ASCII and the bytes are 8-bit. */
static UConverter *reader_for(const char *charset, const char *bytes, size_t n, int *guessed) {
    UErrorCode err = U_ZERO_ERROR;
    UConverter *named = NULL;
    if (charset && charset[0]) named = ucnv_open(charset, &err);
    if (named && U_FAILURE(err)) { /* never with a converter, but be sure */
        ucnv_close(named);
        named = NULL;
    }
    int ascii_named = !named || !strcmp(ucnv_getName(named, &err), "US-ASCII");
    if (named && !(ascii_named && !all_ascii(bytes, n))) return named;
    if (named) ucnv_close(named);
    if (!all_ascii(bytes, n) || (charset && charset[0])) *guessed = 1;
    err = U_ZERO_ERROR;
    UConverter *fallback = ucnv_open("windows-1252", &err);
    return U_FAILURE(err) ? NULL : fallback;
}

/* Convert with reader into out (grown as needed). */
static at_status convert(at_ctx *ctx, UConverter *reader, UConverter *writer, const char *bytes,
                         size_t n, GString *out) {
    size_t start = out->len, room = 3 * n + 16; /* one byte is at most one BMP char: 3 bytes */
    g_string_set_size(out, start + room);
    char *target = out->str + start;
    const char *source = bytes;
    UChar pivot[1024], *pivot_source = pivot, *pivot_target = pivot;
    for (UBool reset = 1;; reset = 0) {
        UErrorCode err = U_ZERO_ERROR;
        ucnv_convertEx(writer, reader, &target, out->str + out->len, &source, bytes + n, pivot,
                       &pivot_source, &pivot_target, pivot + 1024, reset, 1, &err);
        if (err == U_BUFFER_OVERFLOW_ERROR) {
            size_t used = (size_t)(target - out->str);
            g_string_set_size(out, out->len + room);
            target = out->str + used;
            continue;
        }
        g_string_truncate(out, (size_t)(target - out->str));
        if (U_SUCCESS(err)) return AT_OK;
        UErrorCode name_err = U_ZERO_ERROR;
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "mail: ICU could not convert the text from %s: %s",
                           ucnv_getName(reader, &name_err), u_errorName(err));
    }
}

/* Remove the NUL bytes of out from offset start on. */
static void drop_nuls(GString *out, size_t start) {
    size_t kept = start;
    for (size_t i = start; i < out->len; i++)
        if (out->str[i]) out->str[kept++] = out->str[i];
    g_string_truncate(out, kept);
}

at_status atm_to_utf8(at_ctx *ctx, const char *charset, const char *bytes, size_t n, GString *out,
                      int *guessed) {
    if (n == 0) return AT_OK;
    UConverter *reader = reader_for(charset, bytes, n, guessed);
    UErrorCode err = U_ZERO_ERROR;
    UConverter *writer = ucnv_open("UTF-8", &err);
    if (!reader || U_FAILURE(err)) {
        if (reader) ucnv_close(reader);
        if (writer) ucnv_close(writer);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "mail: ICU could not open a converter");
    }
    size_t start = out->len;
    at_status status = convert(ctx, reader, writer, bytes, n, out);
    ucnv_close(reader);
    ucnv_close(writer);
    drop_nuls(out, start);
    return status;
}
