/*
 * utf8.c - a strict UTF-8 decoder and encoder.
 *
 * Text enters attend as bytes (a TSV file, a command-line argument, a
 * vocabulary in a checkpoint). Before it becomes token ids it must be valid
 * UTF-8 in the sense of RFC 3629: each code point in its shortest form, no
 * UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray
 * continuation bytes. Everything else is rejected with the byte offset, so
 * a user can find the bad byte in their file.
 */
#include "text.h"
#include "internal.h"

/* Expected length of a sequence from its lead byte; 0 for a byte that
 * cannot start one (a continuation byte, 0xC0, 0xC1, 0xF5..0xFF). */
static int sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

int32_t at_utf8_next(const char *text, size_t len, size_t *pos) {
    const unsigned char *s = (const unsigned char *)text + *pos;
    size_t left = len - *pos;
    int n = sequence_length(s[0]);
    if (n == 0 || (size_t)n > left) return -1;
    if (n == 1) {
        *pos += 1;
        return s[0];
    }
    uint32_t cp = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *pos += (size_t)n;
    return (int32_t)cp;
}

size_t at_utf8_put(char *out, size_t size, uint32_t cp) {
    unsigned char bytes[4];
    size_t n;
    if (cp < 0x80) {
        bytes[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        bytes[0] = (unsigned char)(0xC0 | (cp >> 6));
        bytes[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        bytes[0] = (unsigned char)(0xE0 | (cp >> 12));
        bytes[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        bytes[0] = (unsigned char)(0xF0 | (cp >> 18));
        bytes[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        bytes[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        bytes[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (size == 0 || n > size - 1) return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)bytes[i];
    out[n] = '\0';
    return n;
}

at_status at_utf8_check(at_ctx *ctx, const char *text, size_t len, const char *what) {
    if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s is NULL", what ? what : "text");
    size_t pos = 0;
    while (pos < len)
        if (at_utf8_next(text, len, &pos) < 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: invalid UTF-8 at byte %zu",
                               what ? what : "text", pos);
    return AT_OK;
}

size_t at_utf8_length(const char *text) {
    size_t count = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        count += (*s & 0xC0) != 0x80;
    return count;
}
