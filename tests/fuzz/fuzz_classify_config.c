/*
 * fuzz_classify_config.c - any bytes as a classifier's configuration
 * ("attend.classify" in a checkpoint's metadata), read by
 * at_classifier_load, and the same bytes as its class list
 * ("attend.classes").
 *
 * The input goes into a safetensors file of metadata only, once as the
 * configuration (with a fixed vocabulary and classes) and once as the
 * classes (with a fixed configuration), and no tensor, so every input
 * reaches both readers (config.c, model.c), and one that reads reaches
 * the model builder, which stops at the first parameter the file lacks.
 * Nothing may crash, leak or allocate what the file merely claims.
 */
#include "fuzz.h"

#include <string.h>

static const char *CONFIG =
    "{\"kind\":\"han\",\"word_form\":\"context\",\"sentence_form\":\"feature\",\"embed\":4,"
    "\"hidden\":3,\"attn\":4,\"max_sentences\":30,\"max_words\":40,\"min_count\":1,"
    "\"max_vocab\":100,\"dropout\":0.2,\"seed\":1}";
static const char *VOCAB = "attend-vocab-tokens 1 2 6869 7468657265 end"; /* hi, there */
static const char *CLASSES = "[\"ham\",\"spam\"]";

static void load(at_ctx *ctx, const char *config, const char *classes, const char *input) {
    const char *keys[3] = {"attend.classify", "attend.vocab", "attend.classes"};
    const char *values[3] = {config, VOCAB, classes};
    const char *path = fuzz_metadata_file(0, 3, keys, values);
    if (!path) return;
    at_classifier *model = NULL;
    if (at_classifier_load(ctx, &model, path, NULL) == AT_OK) {
        at_classifier_free(model);
        fuzz_fail("a file without tensors loaded as a classifier", input);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *input = fuzz_input_text(data, size);
    load(ctx, input, CLASSES, input);
    load(ctx, CONFIG, input, input);
    return 0;
}
