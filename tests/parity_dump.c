/*
 * parity_dump.c - the parity tools' shared run, file and metadata writers.
 * See parity_dump.h for the idea.
 */
#include "parity_dump.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- failures */

void pd_die(const pd_run *r, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s: case '%s': ", r->tool ? r->tool : "parity tool",
            r->case_name ? r->case_name : "?");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

/* Append formatted text to a PD_LIST_BYTES buffer (a JSON list being built). */
static void append(pd_run *r, char *buf, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void append(pd_run *r, char *buf, const char *fmt, ...) {
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, PD_LIST_BYTES - len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= PD_LIST_BYTES - len) pd_die(r, "a metadata list is too long");
}

/* ------------------------------------------------------------- the file */

float *pd_put(pd_run *r, const char *name, int ndim, const int *shape, const float *data) {
    at_tensor *t;
    TRY(r, at_params_add(r->ctx, r->dump, name, ndim, shape, &t));
    if (data) memcpy(t->data, data, t->size * sizeof(float));
    return t->data;
}

void pd_put_value(pd_run *r, const char *name, const at_tensor *t) {
    pd_put(r, name, t->ndim, t->shape, t->data);
}

void pd_put_grad(pd_run *r, const char *name, const at_tensor *t) {
    char key[PD_NAME_BYTES];
    if (!t->grad) pd_die(r, "no gradient reached '%s' (its grad is NULL)", name);
    snprintf(key, sizeof key, "grad.%s", name);
    pd_put(r, key, t->ndim, t->shape, t->grad);
}

void pd_put_params(pd_run *r) {
    for (int i = 0; i < at_params_count(r->model); i++) {
        at_tensor *p = at_params_get(r->model, i);
        pd_put_value(r, p->name, p);
        pd_put_grad(r, p->name, p);
    }
}

void pd_param(pd_run *r, const char *symbol, const at_tensor *p, int grad) {
    if (!p) pd_die(r, "parameter '%s' is NULL after init", symbol);
    if (r->n_written == PD_MAX_PARAMS) pd_die(r, "too many parameters");
    pd_put_value(r, symbol, p);
    if (grad) pd_put_grad(r, symbol, p);
    r->written[r->n_written++] = p;
    append(r, r->params_json, "%s\"%s\": \"%s\"", r->params_json[1] ? ", " : "", symbol,
           p->name ? p->name : "");
}

/* Every tensor of the layer's parameter set must have been written. */
static void all_params_written(pd_run *r) {
    int n = at_params_count(r->model);
    for (int i = 0; i < n; i++) {
        const at_tensor *p = at_params_get(r->model, i);
        int found = 0;
        for (int k = 0; k < r->n_written; k++) found |= r->written[k] == p;
        if (!found)
            pd_die(r, "parameter '%s' of the layer was not written (the tool misses a field)",
                   p->name ? p->name : "?");
    }
    if (n != r->n_written)
        pd_die(r, "the layer has %d parameters, the tool wrote %d", n, r->n_written);
}

void pd_meta(pd_run *r, const char *key, const char *fmt, ...) {
    char value[PD_LIST_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value) pd_die(r, "metadata '%s' is too long", key);
    TRY(r, at_metadata_set(r->ctx, &r->meta, key, value));
}

void pd_meta_ints(pd_run *r, const char *key, const int32_t *v, int n) {
    size_t cap = 16 + (size_t)n * 13, len = 0;
    char *s = malloc(cap);
    if (!s) pd_die(r, "out of memory");
    s[len++] = '[';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? ", " : "", (int)v[i]);
    snprintf(s + len, cap - len, "]");
    TRY(r, at_metadata_set(r->ctx, &r->meta, key, s));
    free(s);
}

void pd_meta_mask(pd_run *r, const char *key, const uint8_t *mask, int n) {
    int32_t *v = malloc((size_t)n * sizeof *v);
    if (!v) pd_die(r, "out of memory");
    for (int i = 0; i < n; i++) v[i] = mask[i] ? 1 : 0;
    pd_meta_ints(r, key, v, n);
    free(v);
}

/* ------------------------------------------------------ inputs and seeds */

static size_t shape_size(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    return n;
}

at_tensor *pd_input_from(pd_run *r, const char *name, int ndim, const int *shape,
                         const float *data, int grad) {
    float *v = pd_put(r, name, ndim, shape, data);
    at_tensor *t;
    TRY(r, at_tensor_from(r->ctx, &t, ndim, shape, v));
    if (grad) TRY(r, at_tensor_require_grad(r->ctx, t));
    return t;
}

at_tensor *pd_input(pd_run *r, const char *name, int ndim, const int *shape, float lo, float hi,
                    int grad) {
    size_t n = shape_size(ndim, shape);
    float *v = malloc(n * sizeof *v);
    if (!v) pd_die(r, "out of memory");
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * at_rng_uniform(&r->data_rng);
    at_tensor *t = pd_input_from(r, name, ndim, shape, v, grad);
    free(v);
    return t;
}

void pd_randomise(pd_run *r, at_tensor *p, float lo, float hi) {
    if (!p) pd_die(r, "randomise: parameter is NULL");
    for (size_t i = 0; i < p->size; i++)
        p->data[i] = lo + (hi - lo) * at_rng_uniform(&r->data_rng);
}

const float *pd_make_seed(pd_run *r, const char *name, const at_tensor *y) {
    char key[PD_NAME_BYTES];
    snprintf(key, sizeof key, "seed.%s", name);
    float *dy = pd_put(r, key, y->ndim, y->shape, NULL);
    for (size_t i = 0; i < y->size; i++) dy[i] = at_rng_normal(&r->data_rng);
    return dy;
}

void pd_put_output(pd_run *r, const char *name, const at_tensor *y) {
    char key[PD_NAME_BYTES];
    if (!y) pd_die(r, "output '%s' is NULL", name);
    snprintf(key, sizeof key, "out.%s", name);
    pd_put_value(r, key, y);
}

void pd_seed_extra(pd_run *r, const char *name, at_tensor *y, int optional) {
    pd_put_output(r, name, y);
    if (!y->grad) {
        if (!optional)
            pd_die(r, "output '%s' has no gradient buffer: was nothing recorded?", name);
        append(r, r->unseeded_json, "%s\"%s\"", r->unseeded_json[1] ? ", " : "", name);
        return;
    }
    const float *dy = pd_make_seed(r, name, y);
    for (size_t i = 0; i < y->size; i++) y->grad[i] += dy[i];
}

void pd_backward_from(pd_run *r, const char *name, at_tensor *y) {
    pd_put_output(r, name, y);
    const float *dy = pd_make_seed(r, name, y);
    TRY(r, at_backward_seeded(r->ctx, y, dy));
}

void pd_backward_loss(pd_run *r, at_tensor *loss) {
    pd_put_output(r, "loss", loss);
    const float one = 1.0f;
    pd_put(r, "seed.loss", loss->ndim, loss->shape, &one);
    TRY(r, at_backward(r->ctx, loss));
}

/* ----------------------------------------------------------------- main */

static void usage(const pd_tool *tool) {
    fprintf(stderr,
            "usage: %s CASE OUT.safetensors [SEED]\n"
            "       %s --list\n"
            "%s",
            tool->name, tool->name, tool->description ? tool->description : "");
}

int pd_main(int argc, char **argv, const pd_tool *tool) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < tool->n_cases; i++) printf("%s\n", tool->cases[i].name);
        return 0;
    }
    if (argc < 3 || argc > 4) {
        usage(tool);
        return 2;
    }
    const pd_case *pc = NULL;
    for (int i = 0; i < tool->n_cases; i++)
        if (strcmp(argv[1], tool->cases[i].name) == 0) pc = &tool->cases[i];
    if (!pc) {
        fprintf(stderr, "%s: unknown case '%s' (try --list)\n", tool->name, argv[1]);
        return 2;
    }
    unsigned long long seed = tool->seed;
    if (argc == 4) {
        char *end;
        seed = strtoull(argv[3], &end, 10);
        if (*end || end == argv[3]) {
            fprintf(stderr, "%s: SEED must be a number, got '%s'\n", tool->name, argv[3]);
            return 2;
        }
    }

    static pd_run r; /* two list buffers: too big for some stacks */
    r.tool = tool->name;
    r.case_name = pc->name;
    r.pc = pc;
    strcpy(r.params_json, "{");
    strcpy(r.unseeded_json, "[");
    at_ctx_options opts = {.num_threads = pc->threads};
    if (at_ctx_create(&r.ctx, &opts) != AT_OK) pd_die(&r, "cannot create a context");
    if (tool->inference) at_ctx_set_training(r.ctx, 0);
    TRY(&r, at_params_create(r.ctx, &r.model));
    TRY(&r, at_params_create(r.ctx, &r.dump));
    at_rng_seed(&r.init_rng, seed);
    at_rng_seed(&r.data_rng, seed ^ tool->data_xor);

    pc->fn(&r);

    if (tool->list_params) {
        all_params_written(&r);
        append(&r, r.params_json, "}");
        pd_meta(&r, "params", "%s", r.params_json);
        append(&r, r.unseeded_json, "]");
        pd_meta(&r, "unseeded", "%s", r.unseeded_json);
    }
    pd_meta(&r, "case", "%s", pc->name);
    pd_meta(&r, "seed", "%llu", seed);
    TRY(&r, at_checkpoint_save(r.ctx, argv[2], r.dump, &r.meta));

    at_metadata_clear(&r.meta);
    at_params_free(r.dump);
    at_params_free(r.model);
    at_ctx_free(r.ctx);
    return 0;
}
