/*
 * context.c - the context: arena, tape, error message and switches of one
 * stream of work.
 *
 * Everything mutable that the library needs lives in an at_ctx, so two
 * contexts never share state and may run in two threads. The context also
 * carries the one error channel: a failing call stores a message here and
 * returns its status code.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- errors */

const char *at_status_name(at_status status) {
    switch (status) {
    case AT_OK: return "ok";
    case AT_ERR_ARGUMENT: return "bad argument";
    case AT_ERR_SHAPE: return "shape mismatch";
    case AT_ERR_MEMORY: return "out of memory";
    case AT_ERR_IO: return "input/output error";
    case AT_ERR_FORMAT: return "malformed file";
    case AT_ERR_NUMERIC: return "non-finite number";
    case AT_ERR_STATE: return "call out of order";
    }
    return "unknown status";
}

at_status at_ctx_fail(at_ctx *ctx, at_status status, const char *fmt, ...) {
    if (!ctx) return status;
    /* Format into a local buffer first: a caller may pass the context's own
     * message as an argument ("%s: %s", where, at_ctx_error(ctx)). */
    char message[AT_ERROR_BYTES];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    memcpy(ctx->error, message, sizeof message);
    ctx->last_status = status;
    return status;
}

const char *at_ctx_error(const at_ctx *ctx) { return ctx ? ctx->error : "no context"; }

at_status ati_rethrow(at_ctx *ctx, at_status status, const char *prefix) {
    return at_ctx_fail(ctx, status, "%s: %s", prefix, at_ctx_error(ctx)); /* copied first */
}

/* ------------------------------------------------------------- lifecycle */

at_status at_ctx_create(at_ctx **out, const at_ctx_options *opts) {
    if (!out) return AT_ERR_ARGUMENT;
    *out = NULL;
    at_ctx_options defaults = {0};
    if (!opts) opts = &defaults;
    if (opts->num_threads < 0) return AT_ERR_ARGUMENT;
    at_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return AT_ERR_MEMORY;
    ati_arena_init(&ctx->arena, opts->arena_block_bytes);
    ctx->grad_enabled = 1;
    ctx->threads = opts->num_threads > 0 ? opts->num_threads : 1;
    at_rng_seed(&ctx->rng, opts->seed);
    *out = ctx;
    return AT_OK;
}

void at_ctx_free(at_ctx *ctx) {
    if (!ctx) return;
    ati_arena_release(&ctx->arena);
    free(ctx->tape);
    free(ctx);
}

void at_ctx_reset(at_ctx *ctx) {
    ati_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
}

int at_ctx_set_grad(at_ctx *ctx, int enabled) {
    int previous = ctx->grad_enabled;
    ctx->grad_enabled = enabled != 0;
    return previous;
}
int at_ctx_grad_enabled(const at_ctx *ctx) { return ctx->grad_enabled; }

int at_ctx_set_training(at_ctx *ctx, int training) {
    int previous = ctx->training;
    ctx->training = training != 0;
    return previous;
}
int at_ctx_training(const at_ctx *ctx) { return ctx->training; }
int at_ctx_threads(const at_ctx *ctx) { return ctx->threads; }
at_rng *at_ctx_rng(at_ctx *ctx) { return &ctx->rng; }
size_t at_ctx_arena_used(const at_ctx *ctx) { return ati_arena_used(&ctx->arena); }
size_t at_ctx_arena_capacity(const at_ctx *ctx) { return ati_arena_capacity(&ctx->arena); }
size_t at_ctx_tape_length(const at_ctx *ctx) { return ctx->tape_len; }

/* ---------------------------------------------------------------- shapes */

size_t ati_shape_size(int ndim, const int *shape) {
    size_t size = 1;
    for (int i = 0; i < ndim; i++) size *= (size_t)shape[i];
    return size;
}

const char *ati_shape_str(char *buf, size_t bytes, int ndim, const int *shape) {
    size_t used = (size_t)snprintf(buf, bytes, "(");
    for (int i = 0; i < ndim && used < bytes; i++)
        used += (size_t)snprintf(buf + used, bytes - used, i ? ", %d" : "%d", shape[i]);
    if (used < bytes) snprintf(buf + used, bytes - used, ")");
    return buf;
}

at_status ati_check_shape(at_ctx *ctx, int ndim, const int *shape, const char *what) {
    if (ndim < 1 || ndim > AT_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: %d dimensions (1 to %d allowed)", what, ndim,
                           AT_MAX_DIMS);
    if (!shape) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: shape is NULL", what);
    size_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: dimension %d is %d (must be > 0)", what, i,
                               shape[i]);
        if (size > ((size_t)1 << 40) / (size_t)shape[i])
            return at_ctx_fail(ctx, AT_ERR_SHAPE, "%s: too many elements", what);
        size *= (size_t)shape[i];
    }
    return AT_OK;
}

int ati_axis(int axis, int ndim) {
    if (axis < 0) axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

/* --------------------------------------------------------------- tensors */

at_status ati_scratch(at_ctx *ctx, void **out, size_t bytes) {
    void *p = ati_arena_alloc(&ctx->arena, bytes ? bytes : 1);
    if (!p) {
        /* a constant status, so the compiler sees *out is set on AT_OK */
        at_ctx_fail(ctx, AT_ERR_MEMORY, "arena: cannot allocate %zu bytes", bytes);
        return AT_ERR_MEMORY;
    }
    *out = p;
    return AT_OK;
}

/* Blocks from this size up are zeroed on the context's threads. */
#define ZERO_PARALLEL_MIN ((size_t)1 << 20)
#define ZERO_CHUNK ((size_t)1 << 16)

static void zero_bytes(char *p, size_t bytes, int threads) {
    if (threads <= 1 || bytes < ZERO_PARALLEL_MIN) {
        memset(p, 0, bytes);
        return;
    }
    long chunks = (long)((bytes + ZERO_CHUNK - 1) / ZERO_CHUNK);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t at = (size_t)c * ZERO_CHUNK;
        memset(p + at, 0, bytes - at < ZERO_CHUNK ? bytes - at : ZERO_CHUNK);
    }
}

at_status ati_scratch_zero(at_ctx *ctx, void **out, size_t bytes) {
    AT_TRY(ati_scratch(ctx, out, bytes));
    zero_bytes(*out, bytes, ctx->threads);
    return AT_OK;
}

at_status ati_scratch_copy(at_ctx *ctx, const void **out, const void *src, size_t bytes) {
    void *p;
    AT_TRY(ati_scratch(ctx, &p, bytes));
    if (bytes) memcpy(p, src, bytes);
    *out = p;
    return AT_OK;
}

/* zero_data: 0 only for results the op overwrites in full (ati_result_uninit). */
static at_status tensor_alloc_as(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                                 int with_grad, int zero_data) {
    AT_TRY(ati_check_shape(ctx, ndim, shape, "tensor"));
    size_t size = ati_shape_size(ndim, shape);
    void *header, *data, *grad = NULL;
    AT_TRY(ati_scratch(ctx, &header, sizeof(at_tensor)));
    if (zero_data) AT_TRY(ati_scratch_zero(ctx, &data, size * sizeof(float)));
    else AT_TRY(ati_scratch(ctx, &data, size * sizeof(float)));
#ifdef AT_POISON_UNINIT
    /* the sanitizer build: an element the op forgets to write reads as NaN
     * (all bits set), which the tests' finiteness and parity checks catch */
    if (!zero_data) memset(data, 0xFF, size * sizeof(float));
#endif
    if (with_grad) AT_TRY(ati_scratch_zero(ctx, &grad, size * sizeof(float)));
    at_tensor *t = header;
    memset(t, 0, sizeof *t);
    t->data = data;
    t->grad = grad;
    t->ndim = ndim;
    for (int i = 0; i < AT_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    t->size = size;
    t->requires_grad = with_grad;
    *out = t;
    return AT_OK;
}

static at_status tensor_alloc(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                              int with_grad) {
    return tensor_alloc_as(ctx, out, ndim, shape, with_grad, 1);
}

at_status at_tensor_new(at_ctx *ctx, at_tensor **out, int ndim, const int *shape) {
    if (!ctx || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "tensor_new: NULL argument");
    return tensor_alloc(ctx, out, ndim, shape, 0);
}

at_status at_tensor_from(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                         const float *data) {
    if (!ctx || !out || !data)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "tensor_from: NULL argument");
    AT_TRY(tensor_alloc(ctx, out, ndim, shape, 0));
    memcpy((*out)->data, data, (*out)->size * sizeof(float));
    return AT_OK;
}

at_status at_tensor_require_grad(at_ctx *ctx, at_tensor *t) {
    AT_CHECK_TENSOR(ctx, t, "require_grad: tensor");
    if (!t->grad) {
        void *grad;
        AT_TRY(ati_scratch_zero(ctx, &grad, t->size * sizeof(float)));
        t->grad = grad;
    }
    t->requires_grad = 1;
    return AT_OK;
}

at_status ati_result(at_ctx *ctx, at_tensor **out, int ndim, const int *shape, int track) {
    return tensor_alloc(ctx, out, ndim, shape, track);
}

at_status ati_result_uninit(at_ctx *ctx, at_tensor **out, int ndim, const int *shape,
                           int track) {
    return tensor_alloc_as(ctx, out, ndim, shape, track, 0);
}

int ati_tracking(const at_ctx *ctx, int n, at_tensor *const *inputs) {
    if (!ctx->grad_enabled) return 0;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad && inputs[i]->grad) return 1;
    return 0;
}

/* ------------------------------------------------------------------ tape */

at_status ati_tape_record(at_ctx *ctx, ati_node **node_out, const char *op, ati_backward_fn fn,
                         at_tensor *out, int nin, at_tensor *const *inputs) {
    if (nin < 0 || nin > AT_NODE_MAX_IN)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %d inputs recorded (max %d)", op, nin,
                           AT_NODE_MAX_IN);
    if (ctx->tape_len == ctx->tape_cap) {
        size_t cap = ctx->tape_cap ? 2 * ctx->tape_cap : 256;
        ati_node **grown = realloc(ctx->tape, cap * sizeof *grown);
        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "tape: cannot grow to %zu", cap);
        ctx->tape = grown;
        ctx->tape_cap = cap;
    }
    void *p;
    AT_TRY(ati_scratch_zero(ctx, &p, sizeof(ati_node)));
    ati_node *node = p;
    node->backward = fn;
    node->op = op;
    node->out = out;
    node->nin = nin;
    for (int i = 0; i < nin; i++) node->in[i] = inputs[i];
    ctx->tape[ctx->tape_len++] = node;
    if (node_out) *node_out = node;
    return AT_OK;
}

at_status at_backward(at_ctx *ctx, at_tensor *loss) {
    AT_CHECK_TENSOR(ctx, loss, "backward: loss");
    if (loss->size != 1)
        return at_ctx_fail(ctx, AT_ERR_SHAPE, "backward: loss has %zu elements, must be 1",
                           loss->size);
    const float one = 1.0f;
    return at_backward_seeded(ctx, loss, &one);
}

at_status at_backward_seeded(at_ctx *ctx, at_tensor *y, const float *dy) {
    AT_CHECK_TENSOR(ctx, y, "backward: output");
    if (!dy) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "backward: output gradient is NULL");
    return at_backward_multi(ctx, 1, &y, &dy);
}

/* Every output and its gradient are checked before the first is seeded, so
 * a refused call leaves every gradient as it was. */
static at_status check_outputs(at_ctx *ctx, int n, at_tensor *const *ys, const float *const *dys) {
    if (n < 1 || !ys || !dys)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "backward: need n >= 1 outputs and their gradients (n = %d%s%s)", n,
                           ys ? "" : ", ys NULL", dys ? "" : ", dys NULL");
    for (int i = 0; i < n; i++) {
        if (!ys[i]) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "backward: output %d is NULL", i);
        if (!dys[i])
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "backward: output gradient %d is NULL", i);
        if (!ys[i]->grad)
            return at_ctx_fail(ctx, AT_ERR_STATE,
                               "backward: output %d does not depend on anything that requires a "
                               "gradient (were gradients disabled?)",
                               i);
    }
    return AT_OK;
}

at_status at_backward_multi(at_ctx *ctx, int n, at_tensor *const *ys, const float *const *dys) {
    if (!ctx) return AT_ERR_ARGUMENT;
    AT_TRY(check_outputs(ctx, n, ys, dys));
    /* seed every output, then undo the whole tape once: an output that is
     * also an input of a later op gets that op's share before its own node
     * runs, because the tape is walked from the last op back */
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < ys[i]->size; j++) ys[i]->grad[j] += dys[i][j];
    for (size_t i = ctx->tape_len; i-- > 0;) {
        ati_node *node = ctx->tape[i];
        AT_TRY(node->backward(ctx, node));
    }
    return AT_OK;
}

/* Whether any of x[0 .. n) is NaN or infinite (all exponent bits set),
 * without a branch per element, so that the loop vectorises. */
static int any_not_finite(const float *x, size_t n) {
    const uint32_t exponent = 0x7f800000u;
    uint32_t found = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        found |= (bits & exponent) == exponent;
    }
    return found != 0;
}

at_status at_check_finite(at_ctx *ctx, const float *x, size_t n, const char *what) {
    enum { BLOCK = 4096 };
    for (size_t start = 0; start < n; start += BLOCK) {
        size_t len = n - start < BLOCK ? n - start : BLOCK;
        if (!any_not_finite(x + start, len)) continue;
        for (size_t i = start; i < start + len; i++)
            if (!isfinite(x[i]))
                return at_ctx_fail(ctx, AT_ERR_NUMERIC, "%s: element %zu is %s", what, i,
                                   isnan(x[i]) ? "NaN" : "infinite");
    }
    return AT_OK;
}
