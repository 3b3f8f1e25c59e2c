/*
 * model_io.c - what train, eval and translate share: threads for both
 * OpenMP and OpenBLAS, a context, and loading a model with a clear message.
 */
#include "model_io.h"

#include <cblas.h>
#include <string.h>

at_ctx *cli_context(const char *command, int threads, uint64_t seed) {
    openblas_set_num_threads(threads); /* OpenBLAS keeps its own pool */
    at_ctx *ctx = NULL;
    at_ctx_options options = {.num_threads = threads, .seed = seed};
    if (at_ctx_create(&ctx, &options) != AT_OK) {
        fprintf(stderr, "attend %s: out of memory\n", command);
        return NULL;
    }
    return ctx;
}

int cli_fail(const char *command, at_ctx *ctx, at_status s) {
    fprintf(stderr, "attend %s: %s: %s\n", command, at_status_name(s), at_ctx_error(ctx));
    return 1;
}

at_seq2seq *cli_load_model(const char *command, at_ctx *ctx, const char *path, at_metadata *meta) {
    at_seq2seq *model = NULL;
    at_status s = at_seq2seq_load(ctx, &model, path, meta);
    if (s == AT_OK) return model;
    fprintf(stderr, "attend %s: cannot load the model %s: %s\n", command, path, at_ctx_error(ctx));
    return NULL;
}
