/*
 * fuzz_safetensors.c - any bytes as a safetensors file, through every
 * reader of one: the public reader (at_safetensors_open, info, read,
 * read_f32, metadata, at_metadata_get_long), a parameter set's load
 * (at_checkpoint_load), an optimiser state's load (at_optim_load) and a
 * whole model's (at_seq2seq_load: configuration JSON and vocabularies).
 *
 * Property: a tensor read raw and read as float agree in size, and a
 * failed parameter load changes no parameter.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define READ_LIMIT (1u << 20) /* bytes of one tensor the harness reads */

static void read_every_tensor(at_ctx *ctx, const at_safetensors *file) {
    for (int i = 0; i < at_safetensors_count(file); i++) {
        at_safetensor_info info;
        if (at_safetensors_info(ctx, file, i, &info) != AT_OK) fuzz_fail("info of a listed tensor", at_ctx_error(ctx));
        if (at_safetensors_find(file, info.name) != i) fuzz_fail("find(name(i)) != i", info.name);
        if (info.bytes != info.numel * at_dtype_size(info.dtype))
            fuzz_fail("bytes != numel * dtype size", info.name);
        if (info.bytes > READ_LIMIT) continue;
        unsigned char *raw = malloc(info.bytes + 1);
        float *values = malloc((info.numel + 1) * sizeof *values);
        if (raw && values) {
            at_safetensors_read(ctx, file, i, raw, info.bytes);
            at_safetensors_read_f32(ctx, file, i, values, info.numel);
        }
        free(raw);
        free(values);
    }
    const at_metadata *meta = at_safetensors_metadata(file);
    for (int i = 0; i < meta->count; i++) {
        long value;
        at_metadata_get_long(ctx, meta, meta->keys[i], -1000000, 1000000, &value);
    }
}

/* w (2, 3) and b (3) set to 7, the names a seed file uses. */
static at_params *sentinel_params(at_ctx *ctx) {
    static const int w_shape[2] = {2, 3}, b_shape[1] = {3};
    at_params *params = NULL;
    at_tensor *w, *b;
    if (at_params_create(ctx, &params) != AT_OK ||
        at_params_add(ctx, params, "w", 2, w_shape, &w) != AT_OK ||
        at_params_add(ctx, params, "b", 1, b_shape, &b) != AT_OK)
        abort();
    for (int i = 0; i < 6; i++) w->data[i] = 7.0f;
    for (int i = 0; i < 3; i++) b->data[i] = 7.0f;
    return params;
}

static int all_sentinel(const at_params *params) {
    for (int p = 0; p < at_params_count(params); p++) {
        const at_tensor *t = at_params_get(params, p);
        for (size_t i = 0; i < t->size; i++)
            if (t->data[i] != 7.0f) return 0;
    }
    return 1;
}

static void load_parameters(at_ctx *ctx, const char *path) {
    at_params *params = sentinel_params(ctx);
    at_metadata meta = {0};
    if (at_checkpoint_load(ctx, path, params, &meta) != AT_OK && !all_sentinel(params))
        fuzz_fail("a failed checkpoint load changed a parameter", at_ctx_error(ctx));
    at_metadata_clear(&meta);
    at_optim_config config = {.kind = AT_ADAM, .lr = 0.01f};
    at_optim *opt = NULL;
    if (at_optim_create(ctx, &opt, params, &config) == AT_OK) {
        at_optim_load(ctx, opt, path, &meta);
        at_metadata_clear(&meta);
    }
    at_optim_free(opt);
    at_params_free(params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *path = fuzz_input_file(0, data, size);
    if (!path) return 0;
    at_safetensors *file = NULL;
    if (at_safetensors_open(ctx, &file, path) == AT_OK) read_every_tensor(ctx, file);
    at_safetensors_close(file);
    load_parameters(ctx, path);
    at_seq2seq *model = NULL;
    if (at_seq2seq_load(ctx, &model, path, NULL) == AT_OK) at_seq2seq_free(model);
    return 0;
}
