/*
 * optim_state.c - an optimiser's state to a file and back, so that a run
 * that stops and resumes follows the same trajectory as a run straight
 * through: Adam's moments and its step count t (the bias corrections
 * 1 - beta^t) come back, not only the weights.
 *
 * The file is a safetensors file (src/io/safetensors.c) named as PyTorch
 * names an optimiser's state, one tensor per buffer and parameter, each
 * with the parameter's shape:
 *
 *   SGD with momentum   momentum_buffer.NAME             (b)
 *   Adam, AdamW         exp_avg.NAME, exp_avg_sq.NAME    (m, v)
 *
 * and in __metadata__ "optim.kind" (sgd, adam, adamw), "optim.steps" and
 * the configuration as a record. Plain SGD has no buffer; its file is the
 * metadata alone. The tensors are views into the optimiser's one state
 * block (buffer k of parameter i starts at k * numel + offset of i), so a
 * save copies nothing.
 *
 * Loading never changes the optimiser half-way. It reads the metadata
 * first (a file of the wrong kind gets a message about the kind, not about
 * a missing tensor), then the whole file into a scratch block through the
 * same views, with no tensor allowed that is not one of them; then checks
 * the values (finite; v >= 0, as sqrt(v) is taken); only then copies the
 * scratch block over the state and sets the step count. The configuration
 * stays the optimiser's own: the file's is not applied.
 */
#include "optim.h"

#include "../io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "optim."
#define STEPS_MAX (1L << 52) /* far beyond any run; exact in a double */

static const char *const SGD_BUFFERS[] = {"momentum_buffer"};
static const char *const ADAM_BUFFERS[] = {"exp_avg", "exp_avg_sq"};

static const char *kind_name(at_optim_kind kind) {
    return kind == AT_SGD ? "sgd" : kind == AT_ADAM ? "adam" : "adamw";
}

/* The buffer names of this optimiser, in state-block order; their count. */
static int buffers_of(const at_optim *opt, const char *const **names) {
    if (opt->config.kind == AT_SGD) {
        *names = SGD_BUFFERS;
        return opt->state ? 1 : 0;
    }
    *names = ADAM_BUFFERS;
    return 2;
}

/* ------------------------------------------------------------ the views */

/* One tensor per (buffer, parameter), pointing into a state-sized block. */
typedef struct state_views {
    at_tensor *tensors;
    at_tensor **items;
    int count;
} state_views;

static void views_free(state_views *v) {
    for (int i = 0; v->tensors && i < v->count; i++)
        free((char *)v->tensors[i].name);
    free(v->tensors);
    free(v->items);
    *v = (state_views){0};
}

/* "BUFFER.PARAM" in a new string, or NULL. */
static char *view_name(const char *buffer, const char *param) {
    size_t n = strlen(buffer) + 1 + strlen(param) + 1;
    char *name = malloc(n);
    if (name) snprintf(name, n, "%s.%s", buffer, param);
    return name;
}

/* Views of block (opt->state_floats floats) shaped as the parameters. */
static at_status views_make(at_ctx *ctx, const at_optim *opt, float *block, state_views *v) {
    const char *const *buffers;
    int nbuf = buffers_of(opt, &buffers);
    int count = nbuf * opt->count;
    *v = (state_views){0};
    v->tensors = calloc((size_t)(count > 0 ? count : 1), sizeof *v->tensors);
    v->items = calloc((size_t)(count > 0 ? count : 1), sizeof *v->items);
    if (!v->tensors || !v->items) {
        views_free(v);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "optimiser state: out of memory");
    }
    for (int k = 0; k < nbuf; k++) {
        size_t offset = (size_t)k * opt->numel;
        for (int i = 0; i < opt->count; i++) {
            const at_tensor *p = at_params_get(opt->params, i);
            at_tensor *t = &v->tensors[v->count];
            *t = (at_tensor){.data = block + offset, .ndim = p->ndim, .size = p->size};
            memcpy(t->shape, p->shape, sizeof t->shape);
            t->name = view_name(buffers[k], p->name);
            v->items[v->count++] = t;
            if (!t->name) {
                views_free(v);
                return at_ctx_fail(ctx, AT_ERR_MEMORY, "optimiser state: out of memory");
            }
            offset += p->size;
        }
    }
    return AT_OK;
}

static ati_tensor_list views_list(const state_views *v) {
    return (ati_tensor_list){.items = v->items, .count = v->count, .noun = "state tensor"};
}

/* --------------------------------------------------------------- saving */

static at_status set_number(at_ctx *ctx, at_metadata *meta, const char *key, double value) {
    char text[64];
    snprintf(text, sizeof text, "%.9g", value);
    return at_metadata_set(ctx, meta, key, text);
}

/* extra's entries, then the kind, the step count and the configuration. */
static at_status build_metadata(at_ctx *ctx, const at_optim *opt, const at_metadata *extra,
                                at_metadata *meta) {
    for (int i = 0; extra && i < extra->count; i++) {
        if (strncmp(extra->keys[i], KEY_PREFIX, strlen(KEY_PREFIX)) == 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "optim_save: metadata key '%s': keys starting '" KEY_PREFIX
                               "' are the optimiser's own",
                               extra->keys[i]);
        AT_TRY(at_metadata_set(ctx, meta, extra->keys[i], extra->values[i]));
    }
    const at_optim_config *c = &opt->config;
    char steps[32];
    snprintf(steps, sizeof steps, "%ld", opt->steps);
    AT_TRY(at_metadata_set(ctx, meta, KEY_PREFIX "kind", kind_name(c->kind)));
    AT_TRY(at_metadata_set(ctx, meta, KEY_PREFIX "steps", steps));
    AT_TRY(set_number(ctx, meta, KEY_PREFIX "lr", c->lr));
    AT_TRY(set_number(ctx, meta, KEY_PREFIX "weight_decay", c->weight_decay));
    if (c->kind == AT_SGD) {
        AT_TRY(set_number(ctx, meta, KEY_PREFIX "momentum", c->momentum));
        return at_metadata_set(ctx, meta, KEY_PREFIX "nesterov", c->nesterov ? "1" : "0");
    }
    AT_TRY(set_number(ctx, meta, KEY_PREFIX "beta1", c->beta1));
    AT_TRY(set_number(ctx, meta, KEY_PREFIX "beta2", c->beta2));
    return set_number(ctx, meta, KEY_PREFIX "eps", c->eps);
}

at_status at_optim_save(at_ctx *ctx, const at_optim *opt, const char *path,
                        const at_metadata *extra) {
    if (!opt || !path || !*path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim_save: NULL optimiser or empty path");
    AT_TRY(ati_optim_check_params(ctx, opt, "optim_save"));
    at_metadata meta = {0};
    state_views views = {0};
    at_status s = build_metadata(ctx, opt, extra, &meta);
    if (s == AT_OK) s = views_make(ctx, opt, opt->state, &views);
    if (s == AT_OK) {
        ati_tensor_list list = views_list(&views);
        s = ati_safetensors_save(ctx, path, &list, &meta);
    }
    views_free(&views);
    at_metadata_clear(&meta);
    return s;
}

/* -------------------------------------------------------------- loading */

/* The file's kind must be the optimiser's; its step count must be sane. */
static at_status check_metadata(at_ctx *ctx, const at_optim *opt, const char *path,
                                const at_metadata *meta, long *steps) {
    const char *kind = at_metadata_get(meta, KEY_PREFIX "kind");
    if (!kind)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "optimiser state '%s': no '" KEY_PREFIX
                           "kind' in the metadata: not an optimiser state file",
                           path);
    if (strcmp(kind, kind_name(opt->config.kind)) != 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "optimiser state '%s': the file holds the state of %s, the optimiser "
                           "is %s",
                           path, kind, kind_name(opt->config.kind));
    if (at_metadata_get_long(ctx, meta, KEY_PREFIX "steps", 0, STEPS_MAX, steps) != AT_OK) {
        char why[AT_ERROR_BYTES];
        snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "optimiser state '%s': %s", path, why);
    }
    return AT_OK;
}

/* Every value finite; every second moment (exp_avg_sq) >= 0. */
static at_status check_values(at_ctx *ctx, const char *path, const state_views *v) {
    for (int i = 0; i < v->count; i++) {
        const at_tensor *t = &v->tensors[i];
        char what[512];
        snprintf(what, sizeof what, "optimiser state '%s': tensor '%s'", path, t->name);
        AT_TRY(at_check_finite(ctx, t->data, t->size, what));
        if (strncmp(t->name, "exp_avg_sq.", strlen("exp_avg_sq.")) != 0) continue;
        for (size_t j = 0; j < t->size; j++)
            if (t->data[j] < 0.0f)
                return at_ctx_fail(ctx, AT_ERR_NUMERIC,
                                   "%s: element %zu is %g, but a second moment is >= 0", what, j,
                                   (double)t->data[j]);
    }
    return AT_OK;
}

/* Read the file into scratch (a state-sized block) and check everything;
 * *meta gets the metadata of that same read. */
static at_status read_checked(at_ctx *ctx, const at_optim *opt, const char *path, float *scratch,
                              at_metadata *meta, long *steps) {
    state_views views;
    AT_TRY(views_make(ctx, opt, scratch, &views));
    ati_tensor_list list = views_list(&views);
    at_status s = ati_safetensors_load(ctx, path, &list, 1, meta);
    if (s == AT_OK) s = check_metadata(ctx, opt, path, meta, steps);
    if (s == AT_OK) s = check_values(ctx, path, &views);
    views_free(&views);
    return s;
}

/* A clear message for a file of another kind, before any tensor is read. */
static at_status check_kind_first(at_ctx *ctx, const at_optim *opt, const char *path) {
    at_metadata meta = {0};
    AT_TRY(at_checkpoint_read_metadata(ctx, path, &meta));
    long steps;
    at_status s = check_metadata(ctx, opt, path, &meta, &steps);
    at_metadata_clear(&meta);
    return s;
}

at_status at_optim_load(at_ctx *ctx, at_optim *opt, const char *path, at_metadata *meta_out) {
    if (!opt || !path)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim_load: NULL optimiser or path");
    AT_TRY(ati_optim_check_params(ctx, opt, "optim_load"));
    AT_TRY(check_kind_first(ctx, opt, path));
    float *scratch = calloc(opt->state_floats ? opt->state_floats : 1, sizeof *scratch);
    if (!scratch)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "optimiser state '%s': out of memory", path);
    at_metadata meta = {0};
    long steps = 0;
    at_status s = read_checked(ctx, opt, path, scratch, &meta, &steps);
    if (s == AT_OK) {
        if (opt->state_floats) memcpy(opt->state, scratch, opt->state_floats * sizeof *scratch);
        opt->steps = steps;
        if (meta_out) *meta_out = meta;
    }
    if (s != AT_OK || !meta_out) at_metadata_clear(&meta);
    free(scratch);
    return s;
}
