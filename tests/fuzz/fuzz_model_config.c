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

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static unsigned char file[1 << 16];

/* 8-byte length, header, no data: a file of metadata only. */
static size_t make_file(const char *config, const char *vocab) {
    json_object *root = json_object_new_object(), *meta = json_object_new_object();
    json_object_object_add(meta, "attend.model", json_object_new_string(config));
    json_object_object_add(meta, "attend.source_vocab", json_object_new_string(vocab));
    json_object_object_add(meta, "attend.target_vocab", json_object_new_string(vocab));
    json_object_object_add(root, "__metadata__", meta);
    const char *header = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    size_t n = strlen(header);
    if (n + 8 > sizeof file) n = sizeof file - 8; /* cut: refused as JSON */
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(file + 8, header, n);
    json_object_put(root);
    return n + 8;
}

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
    size_t n = make_file(config, vocab);
    const char *path = fuzz_input_file(0, file, n);
    if (!path) return 0;
    at_seq2seq *model = NULL;
    if (at_seq2seq_load(ctx, &model, path, NULL) == AT_OK) at_seq2seq_free(model);
    return 0;
}
