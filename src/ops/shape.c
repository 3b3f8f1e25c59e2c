/*
 * shape.c - reshape, concat, stack, slice, split, transpose.
 *
 * reshape is a view: a new tensor header over the same data and gradient,
 * so it needs no tape entry - gradients written through the view land in
 * the original.
 *
 * concat, slice and split see a tensor around one axis as
 *
 *     (outer, dim, inner)   outer = product of the dims before axis,
 *                           inner = product of the dims after it,
 *
 * so a piece of the axis, [start, start + len), is `outer` contiguous
 * blocks of len * inner floats. One block copy moves such pieces both
 * ways: forward copies them out (or in), backward adds the gradient back.
 *
 * stack is concat along a new axis of size-1 views of its inputs.
 *
 * transpose is a copy: the output is walked in order while the input is
 * read with its strides swapped; backward walks the same way and adds.
 */
#include "internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static at_status check_x(at_ctx *ctx, const at_tensor *x, const char *op, const char *arg) {
    if (!x) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, arg);
    if (!x->data) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s has no data", op, arg);
    return ati_check_shape(ctx, x->ndim, x->shape, op);
}

static size_t outer_of(const at_tensor *x, int axis) { return ati_shape_size(axis, x->shape); }
static size_t inner_of(const at_tensor *x, int axis) {
    return ati_shape_size(x->ndim - axis - 1, x->shape + axis + 1);
}

/* For o < outer: dst[o * dst_stride + j] (= or +=) src[o * src_stride + j],
 * j < len. */
static void copy_blocks(size_t outer, size_t len, const float *src, size_t src_stride,
                        float *dst, size_t dst_stride, int add) {
    for (size_t o = 0; o < outer; o++) {
        const float *s = src + o * src_stride;
        float *d = dst + o * dst_stride;
        if (add)
            for (size_t j = 0; j < len; j++) d[j] += s[j];
        else
            memcpy(d, s, len * sizeof(float));
    }
}

/* -------------------------------------------------------------- reshape */

at_status at_reshape(at_ctx *ctx, at_tensor **out, at_tensor *x, int ndim, const int *shape) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "reshape: out is NULL");
    AT_TRY(check_x(ctx, x, "reshape", "x"));
    AT_TRY(ati_check_shape(ctx, ndim, shape, "reshape: new shape"));
    if (ati_shape_size(ndim, shape) != x->size) {
        char sx[64], sn[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "reshape: x %s has %zu elements, new shape %s has %zu",
                           ati_shape_str(sx, sizeof sx, x->ndim, x->shape), x->size,
                           ati_shape_str(sn, sizeof sn, ndim, shape), ati_shape_size(ndim, shape));
    }
    void *header;
    AT_TRY(ati_scratch(ctx, &header, sizeof(at_tensor)));
    at_tensor *view = header;
    *view = *x; // same data, grad and requires_grad
    view->name = NULL;
    view->ndim = ndim;
    for (int i = 0; i < AT_MAX_DIMS; i++) view->shape[i] = i < ndim ? shape[i] : 1;
    *out = view;
    return AT_OK;
}

/* --------------------------------------------------------------- concat */

/* node->saved: the n input pointers; iarg[0] = n, iarg[1] = axis. */
static at_status concat_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *const *xs = node->saved;
    int n = node->iarg[0], axis = node->iarg[1];
    at_tensor *y = node->out;
    size_t outer = outer_of(y, axis), row = y->size / outer, offset = 0;
    for (int i = 0; i < n; i++) {
        size_t len = xs[i]->size / outer; // this input's share of a row
        if (xs[i]->grad)
            // forward: y[o, offset : offset + len] = x_i[o, :]
            copy_blocks(outer, len, y->grad + offset, row, xs[i]->grad, len, 1);
        offset += len;
    }
    return AT_OK;
}

/* Every xs[i] is valid and matches xs[0] outside axis; fills the out shape. */
static at_status concat_shape(at_ctx *ctx, int n, at_tensor *const *xs, int axis, int *shape) {
    char s0[64], si[64];
    const at_tensor *first = xs[0];
    memcpy(shape, first->shape, sizeof first->shape);
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "xs[%d]", i);
        AT_TRY(check_x(ctx, xs[i], "concat", arg));
        int fits = xs[i]->ndim == first->ndim;
        for (int d = 0; fits && d < first->ndim; d++)
            fits = d == axis || xs[i]->shape[d] == first->shape[d];
        if (!fits)
            return at_ctx_fail(ctx, AT_ERR_SHAPE,
                               "concat: xs[%d] %s does not match xs[0] %s outside axis %d", i,
                               ati_shape_str(si, sizeof si, xs[i]->ndim, xs[i]->shape),
                               ati_shape_str(s0, sizeof s0, first->ndim, first->shape), axis);
        if (shape[axis] > INT_MAX - xs[i]->shape[axis])
            return at_ctx_fail(ctx, AT_ERR_SHAPE, "concat: axis %d grows too long", axis);
        shape[axis] += xs[i]->shape[axis];
    }
    return ati_check_shape(ctx, first->ndim, shape, "concat: result");
}

at_status at_concat(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out || !xs || n < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "concat: need out, xs and n >= 1 (n = %d)", n);
    AT_TRY(check_x(ctx, xs[0], "concat", "xs[0]"));
    int ax = ati_axis(axis, xs[0]->ndim);
    if (ax < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "concat: axis %d is outside %d dimensions",
                           axis, xs[0]->ndim);
    int shape[AT_MAX_DIMS];
    AT_TRY(concat_shape(ctx, n, xs, ax, shape));

    int track = ati_tracking(ctx, n, xs);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, xs[0]->ndim, shape, track)); // every block copied
    size_t outer = outer_of(y, ax), row = y->size / outer, offset = 0;
    for (int i = 0; i < n; i++) {
        size_t len = xs[i]->size / outer;
        copy_blocks(outer, len, xs[i]->data, len, y->data + offset, row, 0);
        offset += len;
    }
    if (track) {
        /* the node holds at most AT_NODE_MAX_IN inputs; the full list is saved */
        const void *saved;
        ati_node *node;
        int nin = n < AT_NODE_MAX_IN ? n : AT_NODE_MAX_IN;
        AT_TRY(ati_scratch_copy(ctx, &saved, xs, (size_t)n * sizeof *xs));
        AT_TRY(ati_tape_record(ctx, &node, "concat", concat_backward, y, nin, xs));
        node->saved = (void *)saved;
        node->iarg[0] = n;
        node->iarg[1] = ax;
    }
    *out = y;
    return AT_OK;
}

/* ---------------------------------------------------------------- stack */

/* stack is concat of views: each x seen with a size-1 axis inserted where
 * the new axis goes (a reshape, no copy), so concat's backward hands each
 * x its slice of the gradient. */
at_status at_stack(at_ctx *ctx, at_tensor **out, int n, at_tensor *const *xs, int axis) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out || !xs || n < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "stack: need out, xs and n >= 1 (n = %d)", n);
    AT_TRY(check_x(ctx, xs[0], "stack", "xs[0]"));
    int ndim = xs[0]->ndim + 1;
    if (ndim > AT_MAX_DIMS)
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "stack: xs[0] has %d dimensions, so the result would have %d (at most "
                           "%d)",
                           ndim - 1, ndim, AT_MAX_DIMS);
    int ax = ati_axis(axis, ndim);
    if (ax < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "stack: axis %d is outside the result's %d "
                           "dimensions", axis, ndim);
    for (int i = 1; i < n; i++) {
        char arg[32], si[64], s0[64];
        snprintf(arg, sizeof arg, "xs[%d]", i);
        AT_TRY(check_x(ctx, xs[i], "stack", arg));
        int same = xs[i]->ndim == xs[0]->ndim;
        for (int d = 0; same && d < xs[0]->ndim; d++) same = xs[i]->shape[d] == xs[0]->shape[d];
        if (!same)
            return at_ctx_fail(ctx, AT_ERR_SHAPE, "stack: xs[%d] %s differs from xs[0] %s", i,
                               ati_shape_str(si, sizeof si, xs[i]->ndim, xs[i]->shape),
                               ati_shape_str(s0, sizeof s0, xs[0]->ndim, xs[0]->shape));
    }
    int shape[AT_MAX_DIMS];
    for (int d = 0, from = 0; d < ndim; d++) shape[d] = d == ax ? 1 : xs[0]->shape[from++];
    void *memory;
    AT_TRY(ati_scratch(ctx, &memory, (size_t)n * sizeof(at_tensor *)));
    at_tensor **views = memory;
    for (int i = 0; i < n; i++) AT_TRY(at_reshape(ctx, &views[i], xs[i], ndim, shape));
    return at_concat(ctx, out, n, views, ax);
}

/* ---------------------------------------------------------------- slice */

/* iarg[0] = axis, iarg[1] = start. */
static at_status slice_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *x = node->in[0], *y = node->out;
    if (!x->grad) return AT_OK;
    int axis = node->iarg[0], start = node->iarg[1];
    size_t outer = outer_of(x, axis), inner = inner_of(x, axis);
    size_t row = x->size / outer, len = y->size / outer;
    // forward: y[o, :] = x[o, start * inner : start * inner + len]
    copy_blocks(outer, len, y->grad, len, x->grad + (size_t)start * inner, row, 1);
    return AT_OK;
}

static at_status check_range(at_ctx *ctx, const at_tensor *x, int axis, int ax, int start,
                             int len) {
    if (ax < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "slice: axis %d is outside %d dimensions",
                           axis, x->ndim);
    int dim = x->shape[ax];
    if (start < 0 || len < 1 || start > dim - len) {
        char sx[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "slice: [%d, %d + %d) is not inside axis %d (size %d) of x %s", start,
                           start, len, axis, dim, ati_shape_str(sx, sizeof sx, x->ndim, x->shape));
    }
    return AT_OK;
}

at_status at_slice(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis, int start, int len) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "slice: out is NULL");
    AT_TRY(check_x(ctx, x, "slice", "x"));
    int ax = ati_axis(axis, x->ndim);
    AT_TRY(check_range(ctx, x, axis, ax, start, len));

    int shape[AT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[ax] = len;
    int track = ati_tracking(ctx, 1, &x);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, x->ndim, shape, track)); // every block copied
    size_t outer = outer_of(x, ax), inner = inner_of(x, ax);
    size_t row = x->size / outer, piece = y->size / outer;
    copy_blocks(outer, piece, x->data + (size_t)start * inner, row, y->data, piece, 0);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "slice", slice_backward, y, 1, &x));
        node->iarg[0] = ax;
        node->iarg[1] = start;
    }
    *out = y;
    return AT_OK;
}

/* ---------------------------------------------------------------- split */

at_status at_split(at_ctx *ctx, at_tensor **outs, at_tensor *x, int axis, int n,
                   const int *sizes) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!outs || !sizes || n < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "split: need outs, sizes and n >= 1 (n = %d)",
                           n);
    AT_TRY(check_x(ctx, x, "split", "x"));
    int ax = ati_axis(axis, x->ndim);
    if (ax < 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "split: axis %d is outside %d dimensions",
                           axis, x->ndim);
    long total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 1)
            return at_ctx_fail(ctx, AT_ERR_SHAPE, "split: sizes[%d] is %d (must be > 0)", i,
                               sizes[i]);
        total += sizes[i];
    }
    if (total != x->shape[ax]) {
        char sx[64];
        return at_ctx_fail(ctx, AT_ERR_SHAPE,
                           "split: sizes add up to %ld but axis %d of x %s has size %d", total,
                           axis, ati_shape_str(sx, sizeof sx, x->ndim, x->shape), x->shape[ax]);
    }
    void *pieces; // n tensors, handed out only when all exist
    AT_TRY(ati_scratch(ctx, &pieces, (size_t)n * sizeof(at_tensor *)));
    at_tensor **made = pieces;
    for (int i = 0, start = 0; i < n; start += sizes[i], i++)
        AT_TRY(at_slice(ctx, &made[i], x, ax, start, sizes[i]));
    memcpy(outs, made, (size_t)n * sizeof *outs);
    return AT_OK;
}

/* ------------------------------------------------------------ transpose */

/* x padded to 4 dims: shape and strides of the output's loops in x. */
typedef struct permuted {
    int shape[AT_MAX_DIMS];     /* the output's shape, padded with leading 1s */
    size_t stride[AT_MAX_DIMS]; /* x's stride for each output loop            */
} permuted;

static void plan_transpose(permuted *p, const at_tensor *x, int ax0, int ax1) {
    int pad = AT_MAX_DIMS - x->ndim;
    size_t step = 1;
    for (int i = AT_MAX_DIMS - 1; i >= 0; i--) {
        p->shape[i] = i < pad ? 1 : x->shape[i - pad];
        p->stride[i] = step;
        step *= (size_t)p->shape[i];
    }
    int a = ax0 + pad, b = ax1 + pad;
    int ts = p->shape[a];
    size_t tt = p->stride[a];
    p->shape[a] = p->shape[b];
    p->stride[a] = p->stride[b];
    p->shape[b] = ts;
    p->stride[b] = tt;
}

/* Walk the output in order. to_flat: flat[o] = strided[offset];
 * otherwise strided[offset] += flat[o]. */
static void walk_transpose(const permuted *p, float *strided, float *flat, int to_flat) {
    size_t o = 0;
    for (int i0 = 0; i0 < p->shape[0]; i0++)
        for (int i1 = 0; i1 < p->shape[1]; i1++)
            for (int i2 = 0; i2 < p->shape[2]; i2++) {
                float *s = strided + i0 * p->stride[0] + i1 * p->stride[1] + i2 * p->stride[2];
                size_t s3 = p->stride[3];
                if (to_flat)
                    for (int i3 = 0; i3 < p->shape[3]; i3++) flat[o++] = s[i3 * s3];
                else
                    for (int i3 = 0; i3 < p->shape[3]; i3++) s[i3 * s3] += flat[o++];
            }
}

/* saved: the permuted plan. */
static at_status transpose_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    at_tensor *x = node->in[0];
    if (!x->grad) return AT_OK;
    // forward: y[o] = x[offset(o)]
    walk_transpose(node->saved, x->grad, node->out->grad, 0);
    return AT_OK;
}

at_status at_transpose(at_ctx *ctx, at_tensor **out, at_tensor *x, int axis0, int axis1) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "transpose: out is NULL");
    AT_TRY(check_x(ctx, x, "transpose", "x"));
    int a0 = ati_axis(axis0, x->ndim), a1 = ati_axis(axis1, x->ndim);
    if (a0 < 0 || a1 < 0) {
        char sx[64];
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "transpose: axes %d and %d do not fit x %s",
                           axis0, axis1, ati_shape_str(sx, sizeof sx, x->ndim, x->shape));
    }
    int shape[AT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a0] = x->shape[a1];
    shape[a1] = x->shape[a0];
    permuted plan;
    plan_transpose(&plan, x, a0, a1);

    int track = ati_tracking(ctx, 1, &x);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, x->ndim, shape, track)); // every element written
    walk_transpose(&plan, x->data, y->data, 1);
    if (track) {
        ati_node *node;
        const void *saved;
        AT_TRY(ati_scratch_copy(ctx, &saved, &plan, sizeof plan));
        AT_TRY(ati_tape_record(ctx, &node, "transpose", transpose_backward, y, 1, &x));
        node->saved = (void *)saved;
    }
    *out = y;
    return AT_OK;
}
