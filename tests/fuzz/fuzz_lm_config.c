/*
 * fuzz_lm_config.c - any bytes as a language model's configuration
 * ("attend.lm" in a checkpoint's metadata), read by at_lm_load.
 *
 * The input goes into a safetensors file of metadata only,
 * {"attend.lm": INPUT, "attend.vocab": V} with V a fixed vocabulary and
 * no tensor, so every input reaches the configuration reader (config.c),
 * and one that reads as a configuration reaches the model builder, which
 * stops at the first parameter the file lacks. Nothing may crash, leak
 * or allocate what the configuration merely claims.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *config = fuzz_input_text(data, size);
    static char vocab[256];
    if (!vocab[0]) { /* "ab" as at_vocab_to_string writes it */
        const char *texts[1] = {"ab"};
        at_vocab *v = NULL;
        char *text = NULL;
        if (at_vocab_build(ctx, &v, 1, texts) != AT_OK ||
            at_vocab_to_string(ctx, v, &text) != AT_OK || strlen(text) >= sizeof vocab)
            fuzz_fail("the harness's vocabulary", at_ctx_error(ctx));
        strcpy(vocab, text);
        free(text);
        at_vocab_free(v);
    }
    const char *keys[2] = {"attend.lm", "attend.vocab"}, *values[2] = {config, vocab};
    const char *path = fuzz_metadata_file(0, 2, keys, values);
    if (!path) return 0;
    at_lm *model = NULL;
    if (at_lm_load(ctx, &model, path, NULL) == AT_OK) {
        at_lm_free(model);
        fuzz_fail("a file without tensors loaded as a language model", config);
    }
    return 0;
}
