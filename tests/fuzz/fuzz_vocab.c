/*
 * fuzz_vocab.c - any bytes as UTF-8 text and as a saved vocabulary.
 *
 *   at_utf8_check / at_utf8_length on the raw bytes;
 *   at_vocab_from_string on them (the form kept in checkpoint metadata);
 *   for valid UTF-8: at_vocab_build, at_vocab_encode, at_vocab_decode.
 *
 * Properties: a vocabulary read from a string writes back a string that
 * reads as the same vocabulary; text encodes to as many ids as it has
 * code points and decodes back to itself with its own vocabulary.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static void saved_vocabulary(at_ctx *ctx, const char *text) {
    at_vocab *vocab = NULL, *again = NULL;
    if (at_vocab_from_string(ctx, &vocab, text) != AT_OK) return;
    char *written = NULL;
    if (at_vocab_to_string(ctx, vocab, &written) != AT_OK ||
        at_vocab_from_string(ctx, &again, written) != AT_OK)
        fuzz_fail("a vocabulary does not survive to_string/from_string", at_ctx_error(ctx));
    if (at_vocab_size(again) != at_vocab_size(vocab)) fuzz_fail("the vocabulary size changed", written);
    for (int32_t id = AT_TOKEN_FIRST_CHAR; id < at_vocab_size(vocab); id++)
        if (at_vocab_code_point(vocab, id) != at_vocab_code_point(again, id))
            fuzz_fail("a character changed id", written);
    free(written);
    at_vocab_free(again);
    at_vocab_free(vocab);
}

static void text_round_trip(at_ctx *ctx, const char *text) {
    size_t chars = at_utf8_length(text);
    at_vocab *vocab = NULL;
    if (at_vocab_build(ctx, &vocab, 1, &text) != AT_OK)
        fuzz_fail("valid UTF-8 does not build a vocabulary", at_ctx_error(ctx));
    int32_t *ids = malloc((chars + 1) * sizeof *ids);
    size_t bytes = strlen(text) + 1;
    char *back = malloc(bytes);
    int length = -1;
    if (!ids || !back) abort();
    if (at_vocab_encode(ctx, vocab, text, ids, (int)chars + 1, &length) != AT_OK ||
        length != (int)chars)
        fuzz_fail("valid text does not encode to one id per code point", at_ctx_error(ctx));
    if (at_vocab_decode(ctx, vocab, ids, length, back, bytes) != AT_OK || strcmp(back, text) != 0)
        fuzz_fail("text does not decode back to itself", at_ctx_error(ctx));
    free(back);
    free(ids);
    at_vocab_free(vocab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *text = fuzz_input_text(data, size);
    int valid = at_utf8_check(ctx, (const char *)data, size, "input") == AT_OK;
    int text_valid = at_utf8_check(ctx, text, strlen(text), "text") == AT_OK;
    if (valid && !text_valid) fuzz_fail("a prefix of valid UTF-8 cut at a NUL is invalid", "");
    saved_vocabulary(ctx, text);
    if (text_valid && size < 65536) text_round_trip(ctx, text);
    return 0;
}
