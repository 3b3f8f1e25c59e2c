/*
 * fuzz_model_config.c - any bytes as the model configuration of a
 * checkpoint ("attend.model" in its metadata), read by at_seq2seq_load.
 *
 * The harness wraps the input in a safetensors file of its own making:
 * metadata only, {"attend.model": INPUT, "attend.source_vocab": V,
 * "attend.target_vocab": V} with V a fixed vocabulary, and no tensor. So
 * every input reaches the configuration reader (a file holds UTF-8 only:
 * other bytes are refused by the header's reader first), and one that
 * reads as a configuration reaches the model builder, which stops at the
 * first parameter the file lacks.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *config = fuzz_input_text(data, size);
    /* a vocabulary of "ab" as at_vocab_to_string writes it */
    static char vocab[256];
    if (!vocab[0]) {
        const char *texts[1] = {"ab"};
        at_vocab *v = NULL;
        char *text = NULL;
        if (at_vocab_build(ctx, &v, 1, texts) != AT_OK || at_vocab_to_string(ctx, v, &text) != AT_OK ||
            strlen(text) >= sizeof vocab)
            fuzz_fail("the harness's vocabulary", at_ctx_error(ctx));
        strcpy(vocab, text);
        free(text);
        at_vocab_free(v);
    }
    const char *keys[3] = {"attend.model", "attend.source_vocab", "attend.target_vocab"};
    const char *values[3] = {config, vocab, vocab};
    const char *path = fuzz_metadata_file(0, 3, keys, values);
    if (!path) return 0;
    at_seq2seq *model = NULL;
    if (at_seq2seq_load(ctx, &model, path, NULL) == AT_OK) at_seq2seq_free(model);
    return 0;
}
