/*
 * fold.c - bring a user's text to a model's alphabet before it reads it.
 *
 * A model knows only the characters it was trained on: the pronunciation
 * model reads upper-case letters ("KNIGHT"), yet users type "knight" or
 * "Knight". Each character the vocabulary does not hold is replaced by its
 * upper-case, lower-case or title-case form (ICU's simple case mappings,
 * which work in every script: "é" -> "É"), the first of them the vocabulary
 * holds. A character with no known form is refused with a message naming
 * it, its position and the alphabet, rather than read as UNK: an unknown
 * character would silently become a guess.
 */
#include "attend.h"
#include "internal.h"

#include <unicode/uchar.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest text folded: a word, a line; not a book. */
#define FOLD_MAX_BYTES (1 << 16)

/* The vocabulary's form of c: c, or one of its case forms; -1 if none. */
static int32_t known_form(const at_vocab *vocab, int32_t c) {
    UChar32 forms[4] = {c, u_toupper(c), u_tolower(c), u_totitle(c)};
    for (int i = 0; i < 4; i++)
        if (at_vocab_id(vocab, (uint32_t)forms[i]) != AT_TOKEN_UNK) return forms[i];
    return -1;
}

/* The vocabulary's characters, for the message ("A B C ... '"). */
static void alphabet(const at_vocab *vocab, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int32_t id = AT_TOKEN_FIRST_CHAR; id < at_vocab_size(vocab) && used + 8 < size; id++) {
        char unit[8];
        size_t n = at_utf8_put(unit, sizeof unit, at_vocab_code_point(vocab, id));
        if (n == 0) continue;
        if (used) out[used++] = ' ';
        memcpy(out + used, unit, n);
        used += n;
        out[used] = '\0';
    }
}

static at_status unknown_character(at_ctx *ctx, const at_vocab *vocab, int32_t c, size_t index) {
    char letters[512], unit[8] = "";
    alphabet(vocab, letters, sizeof letters);
    size_t n = c >= 0x20 && !(c >= 0x7f && c <= 0x9f) ? at_utf8_put(unit, sizeof unit, (uint32_t)c) : 0;
    unit[n] = '\0';
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "character %zu, '%s' (U+%04X), is not in the model's alphabet "
                       "(nor its other case): %s", index, unit, (unsigned)c, letters);
}

at_status at_vocab_fold(at_ctx *ctx, const at_vocab *vocab, const char *text, char **out) {
    if (!vocab || !text || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "fold: NULL argument");
    *out = NULL;
    if (at_vocab_get_kind(vocab) != AT_VOCAB_CHARS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "fold: the model reads tokens, not characters");
    size_t len = strlen(text);
    if (len > FOLD_MAX_BYTES)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "text too long: %zu bytes (at most %d)", len,
                           FOLD_MAX_BYTES);
    AT_TRY(at_utf8_check(ctx, text, len, "text"));
    char *folded = malloc(len * 4 + 8); /* each form takes at most 4 bytes */
    if (!folded) return at_ctx_fail(ctx, AT_ERR_MEMORY, "fold: out of memory");
    size_t pos = 0, used = 0, index = 0;
    while (pos < len) {
        int32_t c = at_utf8_next(text, len, &pos), form = known_form(vocab, c);
        index++;
        if (form < 0) {
            free(folded);
            return unknown_character(ctx, vocab, c, index);
        }
        used += at_utf8_put(folded + used, 5, (uint32_t)form);
    }
    folded[used] = '\0';
    *out = folded;
    return AT_OK;
}
