/*
 * fuzz_mail.c - any bytes as a mail message (at_mail_parse), and the same
 * bytes as the body of an HTML part, so libxml2's reading and html.c's
 * walk meet any markup too.
 *
 * Properties: a parsed message's subject and body are valid UTF-8 and join
 * (at_mail_text_join) to subject + "\n\n" + body; a refused message
 * leaves the output {0}.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static void parse(at_ctx *ctx, const char *bytes, size_t n) {
    at_mail_text mail;
    if (at_mail_parse(ctx, bytes, n, &mail) != AT_OK) {
        if (mail.subject || mail.body || mail.text_parts || mail.html || mail.charset_guessed)
            fuzz_fail("a refused message left output", at_ctx_error(ctx));
        return;
    }
    if (!mail.subject || !mail.body) fuzz_fail("a parsed message has no subject or body", "");
    if (at_utf8_check(ctx, mail.subject, strlen(mail.subject), "subject") != AT_OK ||
        at_utf8_check(ctx, mail.body, strlen(mail.body), "body") != AT_OK)
        fuzz_fail("a parsed message is not valid UTF-8", at_ctx_error(ctx));
    char *joined = NULL;
    if (at_mail_text_join(ctx, &mail, &joined) != AT_OK)
        fuzz_fail("join failed", at_ctx_error(ctx));
    size_t a = strlen(mail.subject);
    if (strncmp(joined, mail.subject, a) || strncmp(joined + a, "\n\n", 2) ||
        strcmp(joined + a + 2, mail.body))
        fuzz_fail("join is not subject, blank line, body", joined);
    free(joined);
    at_mail_text_clear(&mail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    parse(ctx, (const char *)data, size);
    static const char head[] = "Subject: h\nContent-Type: text/html; charset=utf-8\n\n";
    char *html = malloc(sizeof head - 1 + size);
    if (!html) return 0;
    memcpy(html, head, sizeof head - 1);
    if (size) memcpy(html + sizeof head - 1, data, size);
    parse(ctx, html, sizeof head - 1 + size);
    free(html);
    return 0;
}
