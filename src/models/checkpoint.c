/*
 * checkpoint.c - a model as one safetensors file: the parameters, and in
 * __metadata__ everything else a model is made of, as strings:
 *     "attend.model"         the configuration as JSON (config.c)
 *     "attend.source_vocab"  the source vocabulary (at_vocab_to_string)
 *     "attend.target_vocab"  the target vocabulary
 * plus whatever the caller adds (training state, data settings). Loading
 * reads the metadata first, builds the model it describes, then fills its
 * parameters, so nothing but the file is needed.
 */
#include "models.h"

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

/* The model a checkpoint's metadata describes, with fresh parameters. */
static at_status model_from_metadata(at_ctx *ctx, const char *path, const at_metadata *meta,
                                     at_seq2seq **out) {
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
        return s2s_rethrow(ctx, AT_ERR_FORMAT, path);
    at_vocab *source = NULL, *target = NULL;
    if (at_vocab_from_string(ctx, &source, source_text) != AT_OK ||
        at_vocab_from_string(ctx, &target, target_text) != AT_OK) {
        at_vocab_free(source);
        return s2s_rethrow(ctx, AT_ERR_FORMAT, path);
    }
    return at_seq2seq_create(ctx, out, &config, source, target);
}

at_status at_seq2seq_load(at_ctx *ctx, at_seq2seq **out, const char *path, at_metadata *meta_out) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "seq2seq_load: NULL argument");
    at_metadata meta = {0};
    at_seq2seq *m = NULL;
    at_status s = at_checkpoint_read_metadata(ctx, path, &meta);
    if (s == AT_OK) s = model_from_metadata(ctx, path, &meta, &m);
    if (s == AT_OK) s = at_checkpoint_load(ctx, path, m->params, NULL);
    if (s != AT_OK) {
        at_seq2seq_free(m);
        at_metadata_clear(&meta);
        return s;
    }
    if (meta_out)
        *meta_out = meta;
    else
        at_metadata_clear(&meta);
    *out = m;
    return AT_OK;
}
