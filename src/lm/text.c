/*
 * text.c - a book for a language model: read whole, checked, split.
 *
 * The split is contiguous, by characters (code points), as nanoGPT cuts
 * tiny-shakespeare: the first (100 - valid_percent)% train, the rest
 * validates. A contiguous split keeps validation honest - no sentence of
 * the validation text was seen in training - at the price of a shift in
 * style between the parts (the end of a book is not its beginning).
 * The vocabulary is the training part's characters; a validation
 * character the training part never had reads as UNK and is counted.
 */
#include "lm.h"

#include "files.h"

#include <stdlib.h>
#include <string.h>

#define LM_TEXT_MAX_BYTES ((size_t)1 << 30)

at_status at_lm_text_read(at_ctx *ctx, const char *path, int valid_percent, at_lm_text *out) {
    if (!path || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_text_read: NULL argument");
    memset(out, 0, sizeof *out);
    if (valid_percent < 1 || valid_percent > 50)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm text: valid_percent %d is outside [1, 50]",
                           valid_percent);
    char *text = NULL;
    size_t bytes = 0;
    AT_TRY(atf_read(ctx, path, LM_TEXT_MAX_BYTES, "a text file", &text, &bytes));
    at_status s = AT_OK;
    if (bytes == 0) s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the file is empty", path);
    if (s == AT_OK && at_utf8_check(ctx, text, bytes, path) != AT_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s (a language model reads UTF-8 text)", why);
    }
    if (s == AT_OK && strlen(text) != bytes)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: a NUL byte at byte %zu", path, strlen(text));
    size_t chars = s == AT_OK ? at_utf8_length(text) : 0;
    if (s == AT_OK && chars < 2)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %zu character%s; a language model needs at least 2",
                        path, chars, chars == 1 ? "" : "s");
    if (s != AT_OK) {
        free(text);
        return s;
    }
    size_t valid = chars * (size_t)valid_percent / 100;
    if (valid < 1) valid = 1;
    size_t train = chars - valid, pos = 0;
    for (size_t i = 0; i < train; i++) at_utf8_next(text, bytes, &pos);
    *out = (at_lm_text){.text = text, .bytes = bytes, .chars = chars, .split_byte = pos,
                        .train_chars = train, .valid_chars = valid};
    return AT_OK;
}

void at_lm_text_clear(at_lm_text *t) {
    if (!t) return;
    free(t->text);
    memset(t, 0, sizeof *t);
}

at_status at_lm_text_vocab(at_ctx *ctx, const at_lm_text *t, at_vocab **out) {
    if (!t || !t->text || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_text_vocab: NULL argument");
    char *train = malloc(t->split_byte + 1);
    if (!train) return at_ctx_fail(ctx, AT_ERR_MEMORY, "lm text: out of memory");
    memcpy(train, t->text, t->split_byte);
    train[t->split_byte] = '\0';
    const char *texts[1] = {train};
    at_status s = at_vocab_build(ctx, out, 1, texts);
    free(train);
    return s;
}

at_status at_lm_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, size_t bytes,
                       int32_t **ids, size_t *n, size_t *unknown) {
    if (!vocab || !text || !ids || !n) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_encode: NULL argument");
    *ids = NULL, *n = 0;
    if (unknown) *unknown = 0;
    AT_TRY(at_utf8_check(ctx, text, bytes, "lm_encode"));
    int32_t *out = malloc((bytes ? bytes : 1) * sizeof *out);
    if (!out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "lm_encode: out of memory");
    size_t pos = 0, count = 0, unseen = 0;
    while (pos < bytes) {
        int32_t id = at_vocab_id(vocab, (uint32_t)at_utf8_next(text, bytes, &pos));
        unseen += id == AT_TOKEN_UNK;
        out[count++] = id;
    }
    *ids = out, *n = count;
    if (unknown) *unknown = unseen;
    return AT_OK;
}
