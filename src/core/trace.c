/*
 * trace.c - the step recorder behind "explain one step".
 *
 * A fused op (the additive attention, the seed's GRU-like cell, the dot
 * kernel) computes numbers it never hands back: the scores before the
 * softmax, the gates, local attention's p_t. To show them with the real
 * values, explain attaches a recorder to the context for the one decoder
 * step it explains, and those ops copy what they computed under a name.
 * With no recorder attached (always, outside explain) ati_trace_put does
 * nothing: one pointer test per call.
 */
#include "internal.h"

#include <string.h>

ati_trace *ati_trace_attach(at_ctx *ctx, ati_trace *trace) {
    ati_trace *previous = ctx->trace;
    ctx->trace = trace;
    return previous;
}

int ati_tracing(const at_ctx *ctx) { return ctx->trace != NULL; }

const ati_trace_entry *ati_trace_get(const ati_trace *trace, const char *name) {
    for (int i = 0; trace && i < trace->count; i++)
        if (strcmp(trace->entry[i].name, name) == 0) return &trace->entry[i];
    return NULL;
}

at_status ati_trace_put(at_ctx *ctx, const char *name, const float *data, int ndim,
                        const int *shape) {
    ati_trace *trace = ctx->trace;
    if (!trace) return AT_OK;
    if (ndim < 1 || ndim > 4 || strlen(name) >= ATI_TRACE_NAME)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "trace: '%s' with %d axes cannot be recorded",
                           name, ndim);
    ati_trace_entry *e = (ati_trace_entry *)ati_trace_get(trace, name);
    if (!e) {
        if (trace->count == ATI_TRACE_MAX)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "trace: more than %d names ('%s')",
                               ATI_TRACE_MAX, name);
        e = &trace->entry[trace->count++];
        strcpy(e->name, name);
    }
    e->ndim = ndim;
    memcpy(e->shape, shape, (size_t)ndim * sizeof(int));
    e->size = ati_shape_size(ndim, shape);
    AT_TRY(ati_scratch(ctx, (void **)&e->data, e->size * sizeof(float)));
    memcpy(e->data, data, e->size * sizeof(float));
    return AT_OK;
}
