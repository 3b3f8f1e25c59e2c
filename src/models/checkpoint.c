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

at_status at_seq2seq_save(at_ctx *ctx, const at_seq2seq *m, const char *path,
                          const at_metadata *extra) {
    if (!m || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_save: NULL argument");
    static const char *const keys[3] = {"attend.model", "attend.source_vocab",
                                        "attend.target_vocab"};
    char *parts[3] = {NULL, NULL, NULL};
    at_status s = s2s_config_to_json(ctx, &m->config, &parts[0]);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->source_vocab, &parts[1]);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->target_vocab, &parts[2]);
    if (s == AT_OK) s = ati_checkpoint_save_parts(ctx, path, m->params, extra, 3, keys, parts);
    for (int i = 0; i < 3; i++) free(parts[i]);
    return s;
}

#define NOT_SEQ2SEQ "%s: not an attend seq2seq model (no attend.model metadata)"
#define MISFIT "the model that attend.model describes does not fit the file"

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
        return at_ctx_fail(ctx, AT_ERR_FORMAT, NOT_SEQ2SEQ, path);
    at_seq2seq_config config;
    if (s2s_config_from_json(ctx, config_text, &config) != AT_OK)
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    at_vocab *source = NULL, *target = NULL;
    if (at_vocab_from_string(ctx, &source, source_text) != AT_OK ||
        at_vocab_from_string(ctx, &target, target_text) != AT_OK) {
        at_vocab_free(source);
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    }
    /* each parameter, as the model is built and before it is allocated, must
     * be a tensor of the file with the same shape */
    return ati_checkpoint_misfit(ctx,
                                 s2s_create(ctx, out, &config, source, target,
                                            ati_checkpoint_check_parameter, (void *)file),
                                 MISFIT);
}

at_status at_seq2seq_load(at_ctx *ctx, at_seq2seq **out, const char *path, at_metadata *meta_out) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_load: NULL argument");
    at_safetensors *file = NULL;
    at_seq2seq *m = NULL;
    at_status s = at_safetensors_open(ctx, &file, path);
    if (s == AT_OK) s = model_from_metadata(ctx, path, file, &m);
    /* then the file may hold no other tensor, and the data is read */
    if (s == AT_OK) s = ati_checkpoint_fill_model(ctx, file, m->params, MISFIT, meta_out);
    at_safetensors_close(file);
    if (s != AT_OK) {
        at_seq2seq_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

at_status at_seq2seq_read_config(at_ctx *ctx, const char *path, at_seq2seq_config *out) {
    if (!path || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_read_config: NULL argument");
    at_metadata meta = {0};
    at_status s = at_checkpoint_read_metadata(ctx, path, &meta);
    const char *config_text = s == AT_OK ? at_metadata_get(&meta, "attend.model") : NULL;
    if (s == AT_OK && !config_text)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, NOT_SEQ2SEQ, path);
    if (s == AT_OK && s2s_config_from_json(ctx, config_text, out) != AT_OK)
        s = ati_rethrow(ctx, AT_ERR_FORMAT, path);
    at_metadata_clear(&meta);
    return s;
}
