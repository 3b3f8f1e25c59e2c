/*
 * model.c - a language model's life: create, free, save, load, and the two
 * calls every use goes through, the forward pass and the loss.
 *
 * The forward pass checks what the caller gave (ids inside the vocabulary,
 * a length the model can read) once, here, and hands the work to the
 * kind's file: transformer.c or daniluk.c. The loss is the mean
 * cross-entropy of every window's next characters:
 *     logits = f(windows[:, 0 .. T-1])            (B, T, V)
 *     loss   = mean_{b,t} -log softmax(logits[b, t])[windows[b, t+1]]
 *
 * A checkpoint is one safetensors file: the parameters, and in
 * __metadata__ "attend.lm" (the configuration, config.c) and "attend.vocab"
 * (the characters). Loading checks every parameter against the file before
 * it is allocated, as the seq2seq loader does.
 */
#include "lm.h"

#include "../io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static at_status lm_build(at_ctx *ctx, at_lm **out, const at_lm_config *config, at_vocab *vocab,
                          ati_params_check_fn check, void *check_user) {
    *out = NULL;
    if (!config || !vocab) {
        at_vocab_free(vocab);
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: NULL argument");
    }
    if (at_vocab_get_kind(vocab) != AT_VOCAB_CHARS) {
        at_vocab_free(vocab);
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: the vocabulary must be chars");
    }
    at_status s = lm_config_check(ctx, config);
    at_lm *m = s == AT_OK ? calloc(1, sizeof *m) : NULL;
    if (s == AT_OK && !m) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "language model: out of memory");
    if (!m) {
        at_vocab_free(vocab);
        return s;
    }
    m->config = *config;
    if (m->config.kind == AT_LM_TRANSFORMER) m->config.embed = 0;
    m->vocab = vocab;
    m->V = at_vocab_size(vocab);
    s = at_params_create(ctx, &m->params);
    at_rng rng;
    at_rng_seed(&rng, config->seed);
    if (s == AT_OK && check) ati_params_set_check(m->params, check, check_user);
    if (s == AT_OK)
        s = config->kind == AT_LM_TRANSFORMER ? lm_transformer_init(ctx, m, check ? NULL : &rng)
                                              : lm_daniluk_init(ctx, m, check ? NULL : &rng);
    if (s == AT_OK && check) ati_params_set_check(m->params, NULL, NULL);
    if (s != AT_OK) {
        at_lm_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

at_status at_lm_create(at_ctx *ctx, at_lm **out, const at_lm_config *config, at_vocab *vocab) {
    if (!out) {
        at_vocab_free(vocab);
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_create: NULL argument");
    }
    return lm_build(ctx, out, config, vocab, NULL, NULL);
}

at_status at_lm_copy(at_ctx *ctx, at_lm **out, const at_lm *m) {
    if (!out || !m) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_copy: NULL argument");
    *out = NULL;
    at_vocab *vocab = NULL;
    AT_TRY(at_vocab_copy(ctx, &vocab, m->vocab));
    at_lm *copy = NULL;
    AT_TRY(at_lm_create(ctx, &copy, &m->config, vocab));
    at_status s = ati_params_copy_values(ctx, copy->params, m->params, "lm_copy");
    if (s != AT_OK) {
        at_lm_free(copy);
        return s;
    }
    *out = copy;
    return AT_OK;
}

void at_lm_free(at_lm *m) {
    if (!m) return;
    at_params_free(m->params);
    at_vocab_free(m->vocab);
    free(m);
}

const at_lm_config *at_lm_get_config(const at_lm *m) { return m ? &m->config : NULL; }
at_params *at_lm_params(const at_lm *m) { return m ? m->params : NULL; }
const at_vocab *at_lm_vocab(const at_lm *m) { return m ? m->vocab : NULL; }

/* ---------------------------------------------------------- the forward */

static int has_attention(at_lm_kind k) {
    return k == AT_LM_TRANSFORMER || k == AT_LM_ATTENTION || k == AT_LM_KV || k == AT_LM_KVP;
}

size_t at_lm_attention_size(const at_lm *m, int B, int T) {
    if (!m || B < 1 || T < 1 || !has_attention(m->config.kind)) return 0;
    size_t per_layer = (size_t)B * (size_t)m->config.heads * (size_t)T * (size_t)T;
    return m->config.kind == AT_LM_TRANSFORMER ? (size_t)m->config.layers * per_layer : per_layer;
}

static at_status check_input(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T) {
    if (!m || !ids) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: NULL argument");
    if (B < 1) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "language model: batch %d < 1", B);
    if (T < 1 || T > m->config.context)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "language model: %d characters, but the model reads 1 .. %d at a time "
                           "(its context)",
                           T, m->config.context);
    for (size_t i = 0; i < (size_t)B * (size_t)T; i++)
        if (ids[i] < 0 || ids[i] >= m->V)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "language model: id %d at %zu is outside the vocabulary (0 .. %d)",
                               ids[i], i, m->V - 1);
    return AT_OK;
}

at_status at_lm_logits(at_ctx *ctx, const at_lm *m, const int32_t *ids, int B, int T,
                       at_tensor **logits, float *weights) {
    if (!logits) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_logits: NULL argument");
    AT_TRY(check_input(ctx, m, ids, B, T));
    if (weights && !has_attention(m->config.kind))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_logits: the %s model has no attention",
                           at_lm_kind_name(m->config.kind));
    if (m->config.kind == AT_LM_TRANSFORMER)
        return lm_transformer_forward(ctx, m, ids, B, T, logits, weights);
    return lm_daniluk_forward(ctx, m, ids, B, T, logits, weights);
}

at_status lm_next_logits(at_ctx *ctx, const at_lm *m, const int32_t *ids, int T,
                         const float **row) {
    AT_TRY(check_input(ctx, m, ids, 1, T));
    at_tensor *logits;
    if (m->config.kind == AT_LM_TRANSFORMER) {
        AT_TRY(lm_transformer_forward_last(ctx, m, ids, 1, T, &logits)); // (1, 1, V)
        *row = logits->data;
        return AT_OK;
    }
    AT_TRY(lm_daniluk_forward(ctx, m, ids, 1, T, &logits, NULL)); // (1, T, V)
    *row = logits->data + (size_t)(T - 1) * m->V;
    return AT_OK;
}

at_status at_lm_loss(at_ctx *ctx, const at_lm *m, const int32_t *windows, int B, int T,
                     at_tensor **loss) {
    if (!m || !windows || !loss) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_loss: NULL argument");
    if (B < 1 || T < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_loss: batch %d, length %d", B, T);
    int32_t *inputs = NULL, *targets = NULL;
    AT_TRY(ati_scratch(ctx, (void **)&inputs, (size_t)B * T * sizeof *inputs));
    AT_TRY(ati_scratch(ctx, (void **)&targets, (size_t)B * T * sizeof *targets));
    for (int b = 0; b < B; b++) {
        memcpy(inputs + (size_t)b * T, windows + (size_t)b * (T + 1), (size_t)T * sizeof *inputs);
        memcpy(targets + (size_t)b * T, windows + (size_t)b * (T + 1) + 1,
               (size_t)T * sizeof *targets);
    }
    at_tensor *logits;
    AT_TRY(at_lm_logits(ctx, m, inputs, B, T, &logits, NULL));
    AT_TRY(check_input(ctx, m, targets, B, T));
    return at_cross_entropy(ctx, loss, logits, targets, -1, 0.0f);
}

/* ---------------------------------------------------------- checkpoints */

at_status at_lm_save(at_ctx *ctx, const at_lm *m, const char *path, const at_metadata *extra) {
    if (!m || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_save: NULL argument");
    static const char *const keys[2] = {"attend.lm", "attend.vocab"};
    char *parts[2] = {NULL, NULL};
    at_status s = lm_config_to_json(ctx, &m->config, &parts[0]);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->vocab, &parts[1]);
    if (s == AT_OK) s = ati_checkpoint_save_parts(ctx, path, m->params, extra, 2, keys, parts);
    for (int i = 0; i < 2; i++) free(parts[i]);
    return s;
}

at_status at_lm_load(at_ctx *ctx, at_lm **out, const char *path, at_metadata *meta_out) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "lm_load: NULL argument");
    *out = NULL;
    at_safetensors *file = NULL;
    at_lm *m = NULL;
    AT_TRY(at_safetensors_open(ctx, &file, path));
    const at_metadata *meta = at_safetensors_metadata(file);
    const char *config_text = at_metadata_get(meta, "attend.lm");
    const char *vocab_text = at_metadata_get(meta, "attend.vocab");
    at_lm_config config;
    at_vocab *vocab = NULL;
    at_status s = AT_OK;
    if (!config_text || !vocab_text)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT,
                        "%s: not an attend language model (no attend.lm metadata)", path);
    if (s == AT_OK && lm_config_from_json(ctx, config_text, &config) != AT_OK)
        s = ati_rethrow(ctx, AT_ERR_FORMAT, path);
    if (s == AT_OK && at_vocab_from_string(ctx, &vocab, vocab_text) != AT_OK)
        s = ati_rethrow(ctx, AT_ERR_FORMAT, path);
    if (s == AT_OK)
        s = ati_checkpoint_misfit(
            ctx, lm_build(ctx, &m, &config, vocab, ati_checkpoint_check_parameter, file), path);
    if (s == AT_OK) s = ati_checkpoint_fill_model(ctx, file, m->params, path, meta_out);
    at_safetensors_close(file);
    if (s != AT_OK) {
        at_lm_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}
