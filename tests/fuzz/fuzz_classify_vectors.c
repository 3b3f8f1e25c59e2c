/*
 * fuzz_classify_vectors.c - any bytes as a word-vector file for a small
 * classifier's embedding (at_classifier_load_vectors).
 *
 * Properties: a refused file leaves the embedding exactly as it was; an
 * accepted one sets at most V rows (*found <= V), changes no row of a
 * word the model lacks, and leaves every value finite.
 */
#include "fuzz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { EMBED = 3 };

static at_classifier *model(at_ctx *ctx) {
    static at_classifier *m;
    if (m) return m;
    at_class_docs docs = {0};
    if (at_class_docs_add(ctx, &docs, "a", "alpha beta gamma", NULL, NULL) != AT_OK ||
        at_class_docs_add(ctx, &docs, "b", "gamma delta", NULL, NULL) != AT_OK)
        fuzz_fail("documents", at_ctx_error(ctx));
    at_classify_config c;
    at_classify_config_default(&c, AT_CLASSIFY_FLAT);
    c.embed = EMBED, c.hidden = 2, c.attn = 2, c.min_count = 1;
    if (at_classifier_create(ctx, &m, &c, &docs) != AT_OK) fuzz_fail("model", at_ctx_error(ctx));
    at_class_docs_clear(&docs);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    at_classifier *m = model(ctx);
    const char *path = fuzz_input_file(0, data, size);
    if (!path) return 0;
    at_tensor *w = at_params_find(at_classifier_params(m), "embed.weight");
    size_t n = w->size, found = 0;
    float *before = malloc(n * sizeof *before);
    if (!before) return 0;
    memcpy(before, w->data, n * sizeof *before);
    if (at_classifier_load_vectors(ctx, m, path, &found) != AT_OK) {
        if (memcmp(before, w->data, n * sizeof *before))
            fuzz_fail("a refused file changed the embedding", at_ctx_error(ctx));
    } else {
        int32_t V = at_vocab_size(at_classifier_vocab(m));
        if (found > (size_t)V) fuzz_fail("more rows set than the vocabulary has", path);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(w->data[i])) fuzz_fail("a value that is not finite", path);
    }
    memcpy(w->data, before, n * sizeof *before); /* the next input starts the same */
    free(before);
    return 0;
}
