/*
 * params.c - the named parameter set of a model.
 *
 * Parameters outlive every training step, so they are allocated with
 * malloc, not in the arena. Each tensor's data and gradient sit in one
 * allocation. Names follow PyTorch's state_dict ("encoder.weight_ih_l0"), so
 * a checkpoint maps one to one onto a PyTorch module.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct at_params {
    at_tensor **items;
    int count, capacity;
    ati_params_check_fn check; /* run before a parameter is allocated */
    void *check_user;
};

void ati_params_set_check(at_params *params, ati_params_check_fn check, void *user) {
    params->check = check;
    params->check_user = user;
}

at_status at_params_create(at_ctx *ctx, at_params **out) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "params_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "params_create: out of memory");
    return AT_OK;
}

void at_params_free(at_params *params) {
    if (!params) return;
    for (int i = 0; i < params->count; i++) {
        free((char *)params->items[i]->name);
        free(params->items[i]);
    }
    free(params->items);
    free(params);
}

at_status at_params_add(at_ctx *ctx, at_params *params, const char *name, int ndim,
                        const int *shape, at_tensor **out) {
    if (!params || !name || !*name)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "params_add: missing set or name");
    AT_TRY(ati_check_shape(ctx, ndim, shape, name));
    if (at_params_find(params, name))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "params_add: '%s' already exists", name);
    if (params->check) AT_TRY(params->check(ctx, params->check_user, name, ndim, shape));
    if (params->count == params->capacity) {
        int capacity = params->capacity ? 2 * params->capacity : 16;
        at_tensor **grown = realloc(params->items, (size_t)capacity * sizeof *grown);
        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "params_add: out of memory");
        params->items = grown;
        params->capacity = capacity;
    }
    size_t size = ati_shape_size(ndim, shape);
    /* header, then data, then grad, in one block; data and grad each start
     * on a cache line, so that a vector load of a weight row never straddles
     * two lines (a batch-1 step streams the weights: at 16-byte alignment
     * the encoder's one-row product ran at half the speed) */
    enum { LINE = 64 };
    size_t header = (sizeof(at_tensor) + LINE - 1) / LINE * LINE;
    size_t data_bytes = (size * sizeof(float) + LINE - 1) / LINE * LINE;
    size_t block = header + 2 * data_bytes;
    at_tensor *t = aligned_alloc(LINE, block);
    if (t) memset(t, 0, block);
    char *copy = malloc(strlen(name) + 1);
    if (!t || !copy) {
        free(t);
        free(copy);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "params_add: out of memory for '%s'", name);
    }
    strcpy(copy, name);
    t->data = (float *)((unsigned char *)t + header);
    t->grad = (float *)((unsigned char *)t->data + data_bytes);
    t->ndim = ndim;
    for (int i = 0; i < AT_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->size = size;
    t->requires_grad = 1;
    t->name = copy;
    params->items[params->count++] = t;
    if (out) *out = t;
    return AT_OK;
}

int at_params_count(const at_params *params) { return params ? params->count : 0; }

at_tensor *at_params_get(const at_params *params, int index) {
    if (!params || index < 0 || index >= params->count) return NULL;
    return params->items[index];
}

at_tensor *at_params_find(const at_params *params, const char *name) {
    if (!params || !name) return NULL;
    for (int i = 0; i < params->count; i++)
        if (strcmp(params->items[i]->name, name) == 0) return params->items[i];
    return NULL;
}

size_t at_params_numel(const at_params *params) {
    size_t total = 0;
    for (int i = 0; i < at_params_count(params); i++) total += params->items[i]->size;
    return total;
}

void at_params_zero_grad(at_params *params) {
    for (int i = 0; i < at_params_count(params); i++)
        memset(params->items[i]->grad, 0, params->items[i]->size * sizeof(float));
}

at_status ati_params_copy_values(at_ctx *ctx, at_params *dst, const at_params *src,
                                 const char *what) {
    int n = at_params_count(src);
    if (at_params_count(dst) != n)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %d parameter tensors, the original has %d",
                           what, at_params_count(dst), n);
    for (int i = 0; i < n; i++) {
        const at_tensor *a = src->items[i], *b = dst->items[i];
        if (a->size != b->size || strcmp(a->name, b->name) != 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "%s: parameter %d is %s (%zu values), the original's is %s (%zu)",
                               what, i, b->name, b->size, a->name, a->size);
    }
    for (int i = 0; i < n; i++)
        memcpy(dst->items[i]->data, src->items[i]->data, src->items[i]->size * sizeof(float));
    return AT_OK;
}
