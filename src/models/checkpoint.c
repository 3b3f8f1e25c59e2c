/*
 * checkpoint.c - a model as one safetensors file: the parameters, and in
 * __metadata__ everything else a model is made of, as strings:
 *     "attend.model"         the configuration as JSON (config.c)
 *     "attend.source_vocab"  the source vocabulary (at_vocab_to_string)
 *     "attend.target_vocab"  the target vocabulary
 * plus whatever the caller adds (training state, data settings). Loading
 * opens the file once (its whole header is validated then) and builds the
 * model the metadata describes with a check on every parameter: before it
 * is allocated, its name and shape must be a tensor of the file. The model
 * is not initialised (its parameters stay zero until the data is read), and
 * the file may hold no tensor the model lacks. So a file whose
 * configuration lies about its sizes is refused at its first lie, having
 * allocated no more than the file's own tensors, and a genuine load never
 * pays for an orthogonal initialisation the file overwrites. Nothing but
 * the file is needed.
 */
#include "models.h"

#include "../io/safetensors.h"

#include <stdlib.h>
#include <string.h>

static at_status put_model_metadata(at_ctx *ctx, const at_seq2seq *m, at_metadata *meta) {
    char *config = NULL, *source = NULL, *target = NULL;
    at_status s = s2s_config_to_json(ctx, &m->config, &config);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->source_vocab, &source);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->target_vocab, &target);
    if (s == AT_OK) s = at_metadata_set(ctx, meta, "attend.model", config);
    if (s == AT_OK) s = at_metadata_set(ctx, meta, "attend.source_vocab", source);
    if (s == AT_OK) s = at_metadata_set(ctx, meta, "attend.target_vocab", target);
    free(config);
    free(source);
    free(target);
    return s;
}

at_status at_seq2seq_save(at_ctx *ctx, const at_seq2seq *m, const char *path,
                          const at_metadata *extra) {
    if (!m || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_save: NULL argument");
    at_metadata meta = {0};
    at_status s = AT_OK;
    for (int i = 0; extra && i < extra->count && s == AT_OK; i++)
        s = at_metadata_set(ctx, &meta, extra->keys[i], extra->values[i]);
    if (s == AT_OK) s = put_model_metadata(ctx, m, &meta);
    if (s == AT_OK) s = at_checkpoint_save(ctx, path, m->params, &meta);
    at_metadata_clear(&meta);
    return s;
}

#define MISFIT "the model that attend.model describes does not fit the file"

/* Each parameter, as the model is built and before it is allocated, must
 * be a tensor of the file with the same shape. */
static at_status check_parameter(at_ctx *ctx, void *file, const char *name, int ndim,
                                 const int *shape) {
    return ati_safetensors_check_tensor(ctx, file, "parameter", name, ndim, shape);
}

/* The model a checkpoint's metadata describes, each parameter checked
 * against the file before it is allocated, and left zero: the file is
 * about to overwrite every one. */
static at_status model_from_metadata(at_ctx *ctx, const char *path, const at_safetensors *file,
                                     at_seq2seq **out) {
    const at_metadata *meta = at_safetensors_metadata(file);
    const char *config_text = at_metadata_get(meta, "attend.model");
    const char *source_text = at_metadata_get(meta, "attend.source_vocab");
    const char *target_text = at_metadata_get(meta, "attend.target_vocab");
    if (!config_text || !source_text || !target_text)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: not an attend seq2seq model (no attend.model "
                           "metadata)",
                           path);
    at_seq2seq_config config;
    if (s2s_config_from_json(ctx, config_text, &config) != AT_OK)
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    at_vocab *source = NULL, *target = NULL;
    if (at_vocab_from_string(ctx, &source, source_text) != AT_OK ||
        at_vocab_from_string(ctx, &target, target_text) != AT_OK) {
        at_vocab_free(source);
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    }
    at_status s = s2s_create(ctx, out, &config, source, target, check_parameter, (void *)file);
    if (s == AT_ERR_SHAPE || s == AT_ERR_FORMAT) return ati_rethrow(ctx, s, MISFIT);
    return s;
}

/* Then the file may hold no other tensor, and the data is read. */
static at_status fill_model(at_ctx *ctx, const at_safetensors *file, at_seq2seq *m) {
    at_status s = ati_checkpoint_fill(ctx, file, m->params, 1);
    if (s == AT_ERR_SHAPE || s == AT_ERR_FORMAT) return ati_rethrow(ctx, s, MISFIT);
    return s;
}

at_status at_seq2seq_load(at_ctx *ctx, at_seq2seq **out, const char *path, at_metadata *meta_out) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_load: NULL argument");
    at_safetensors *file = NULL;
    at_seq2seq *m = NULL;
    at_status s = at_safetensors_open(ctx, &file, path);
    if (s == AT_OK) s = model_from_metadata(ctx, path, file, &m);
    if (s == AT_OK) s = fill_model(ctx, file, m);
    if (s == AT_OK && meta_out) s = ati_safetensors_take_metadata(ctx, file, meta_out);
    at_safetensors_close(file);
    if (s != AT_OK) {
        at_seq2seq_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}
