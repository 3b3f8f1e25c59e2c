/*
 * elementwise.c - add, sub, mul with numpy broadcasting, and affine.
 *
 * Broadcasting. Shapes are aligned at their last dimension; a missing or
 * size-1 dimension of a or b is repeated to fit the output. We describe
 * the output as up to four nested loops, and give each input a stride per
 * loop: its real stride, or 0 where it is broadcast. Two neighbouring
 * loops that both inputs walk contiguously (or both ignore) are merged,
 * so that
 *
 *     same shapes            -> one loop over all n elements
 *     b a trailing row (n)   -> rows of n, b's stride 0 across rows
 *     b a scalar             -> one loop, b's stride 0
 *
 * and the innermost loop - a "row" - is handed to a small kernel per op.
 * The backward kernels walk the same rows and add into da, db with the
 * same strides; where a stride is 0 the += sums over the broadcast
 * dimension, which is exactly the reduction the gradient needs.
 */
#include "internal.h"

#include <stdint.h>

/* Rows at least this long are cut into pieces of this many elements, so
 * one long row can still be shared between threads. */
#define PIECE 4096
/* Use threads only above this many output elements. */
#define PARALLEL_MIN (1 << 16)

/* ------------------------------------------------------ the broadcast plan */

typedef struct bcast {
    int ndim;                 /* loops after merging, 1 .. 4              */
    size_t size[AT_MAX_DIMS]; /* loop lengths, innermost last             */
    size_t sa[AT_MAX_DIMS];   /* a's stride per loop, 0 where broadcast   */
    size_t sb[AT_MAX_DIMS];   /* b's stride per loop                      */
    size_t n;                 /* output elements                          */
} bcast;

/* One row of work: pointers already at the row's start. */
typedef struct row {
    float *y, *dy;            /* output and its gradient, stride 1        */
    const float *a, *b;       /* inputs (b NULL for unary ops)            */
    float *da, *db;           /* input gradients, or NULL                 */
    size_t sa, sb;            /* strides of a and b along the row (0 or 1)*/
    size_t n;                 /* row length                               */
    float scale, shift;       /* affine only                              */
} row;

typedef void (*row_kernel)(const row *r);

/* Strides of a tensor in the output's loops (out has ndim dims). */
static void broadcast_strides(const at_tensor *t, int ndim, size_t *stride) {
    size_t step = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int k = i - (ndim - t->ndim); /* t's own dimension, or < 0 if missing */
        int dim = k >= 0 ? t->shape[k] : 1;
        stride[i] = dim == 1 ? 0 : step;
        step *= (size_t)dim;
    }
}

/* Out's shape, or AT_ERR_SHAPE naming both shapes. */
static at_status broadcast_shape(at_ctx *ctx, const char *op, const at_tensor *a,
                                 const at_tensor *b, int *ndim, int *shape) {
    *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < *ndim; i++) {
        int ka = i - (*ndim - a->ndim), kb = i - (*ndim - b->ndim);
        int da = ka >= 0 ? a->shape[ka] : 1, db = kb >= 0 ? b->shape[kb] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[64], sb[64];
            return at_ctx_fail(ctx, AT_ERR_SHAPE,
                               "%s: a %s and b %s do not broadcast: dimension %d is %d and %d",
                               op, ati_shape_str(sa, sizeof sa, a->ndim, a->shape),
                               ati_shape_str(sb, sizeof sb, b->ndim, b->shape), i, da, db);
        }
        shape[i] = da > db ? da : db;
    }
    return AT_OK;
}

/* Merge loop i into loop i+1 (the inner one) if both inputs allow it. */
static int mergeable(const bcast *p, int i) {
    size_t inner = p->size[i + 1];
    int a_ok = p->sa[i] == p->sa[i + 1] * inner;
    int b_ok = p->sb[i] == p->sb[i + 1] * inner;
    return a_ok && b_ok;
}

/* The plan: out's loops with size-1 loops dropped and neighbours merged. */
static void plan_broadcast(bcast *p, int ndim, const int *shape, const at_tensor *a,
                           const at_tensor *b) {
    size_t sa[AT_MAX_DIMS], sb[AT_MAX_DIMS];
    broadcast_strides(a, ndim, sa);
    broadcast_strides(b, ndim, sb);
    p->ndim = 0;
    p->n = ati_shape_size(ndim, shape);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        int j = p->ndim++;
        p->size[j] = (size_t)shape[i];
        p->sa[j] = sa[i];
        p->sb[j] = sb[i];
        if (j > 0 && mergeable(p, j - 1)) { /* fold loop j into loop j-1 */
            p->size[j - 1] *= (size_t)shape[i];
            p->sa[j - 1] = sa[i];
            p->sb[j - 1] = sb[i];
            p->ndim--;
        }
    }
    if (p->ndim == 0) { /* a single element */
        p->ndim = 1;
        p->size[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

/* ------------------------------------------------------------- the walker */

/* Offsets of piece `index` (a row, or part of a long row) and its length. */
static size_t piece_at(const bcast *p, size_t index, size_t *oy, size_t *oa, size_t *ob) {
    int last = p->ndim - 1;
    size_t len = p->size[last];
    size_t per_row = (len + PIECE - 1) / PIECE;
    size_t rowi = index / per_row, start = (index % per_row) * PIECE;
    *oy = rowi * len + start;
    *oa = start * p->sa[last];
    *ob = start * p->sb[last];
    for (int i = last - 1; i >= 0; i--) {
        size_t k = rowi % p->size[i];
        rowi /= p->size[i];
        *oa += k * p->sa[i];
        *ob += k * p->sb[i];
    }
    return len - start < PIECE ? len - start : PIECE;
}

/* Run kernel over piece i of the plan. */
static void run_piece(const bcast *p, const row *t, row_kernel kernel, int last, size_t i) {
    size_t oy, oa, ob;
    row r = *t;
    r.n = piece_at(p, i, &oy, &oa, &ob);
    r.sa = p->sa[last];
    r.sb = p->sb[last];
    r.y += oy;
    if (r.dy) r.dy += oy;
    r.a += oa;
    if (r.da) r.da += oa;
    if (r.b) r.b += ob;
    if (r.db) r.db += ob;
    kernel(&r);
}

/* Run kernel over every piece of the plan. t holds the base pointers.
 * Pieces run in parallel only if parallel is set (no two pieces write the
 * same element); each piece is computed the same way on any thread. */
static void walk(at_ctx *ctx, const bcast *p, const row *t, row_kernel kernel, int parallel) {
    int last = p->ndim - 1;
    size_t len = p->size[last];
    size_t pieces = (p->n / len) * ((len + PIECE - 1) / PIECE);
    int use_threads = parallel && p->n > PARALLEL_MIN && ctx->threads > 1;
    long count = (long)pieces;
    // a plain branch, not an if clause: a false if still builds a team per call
    if (use_threads) {
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
        for (long i = 0; i < count; i++) run_piece(p, t, kernel, last, (size_t)i);
    } else {
        for (long i = 0; i < count; i++) run_piece(p, t, kernel, last, (size_t)i);
    }
}

/* ------------------------------------------------------- kernels per op */
/* In a row, a[j * sa] and b[j * sb] meet y[j]. Contiguous rows (sa = sb =
 * 1, the same-shape case) get their own loop so that it vectorises. */

static void add_forward(const row *r) {
    if (r->sa == 1 && r->sb == 1)
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j] + r->b[j];
    else
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j * r->sa] + r->b[j * r->sb];
}
/* d[j * step] += sign * dy[j], the gradient of a term read at that stride
 * (sign 1 or -1, so the product is exact): its own loop for step 1, which
 * vectorises; broadcast terms (step 0) sum in order. */
static void add_gradient(float *restrict d, size_t step, float sign, const float *restrict dy,
                         size_t n) {
    if (step == 1)
        for (size_t j = 0; j < n; j++) d[j] += sign * dy[j];
    else
        for (size_t j = 0; j < n; j++) d[j * step] += sign * dy[j];
}

static void add_backward(const row *r) {
    // forward: y[j] = a[j * sa] + b[j * sb]
    if (r->da) add_gradient(r->da, r->sa, 1.0f, r->dy, r->n);
    if (r->db) add_gradient(r->db, r->sb, 1.0f, r->dy, r->n);
}

static void sub_forward(const row *r) {
    if (r->sa == 1 && r->sb == 1)
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j] - r->b[j];
    else
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j * r->sa] - r->b[j * r->sb];
}
static void sub_backward(const row *r) {
    // forward: y[j] = a[j * sa] - b[j * sb]
    if (r->da) add_gradient(r->da, r->sa, 1.0f, r->dy, r->n);
    if (r->db) add_gradient(r->db, r->sb, -1.0f, r->dy, r->n);
}

static void mul_forward(const row *r) {
    if (r->sa == 1 && r->sb == 1)
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j] * r->b[j];
    else
        for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j * r->sa] * r->b[j * r->sb];
}
static void mul_backward(const row *r) {
    // forward: y[j] = a[j * sa] * b[j * sb]
    if (r->da)
        for (size_t j = 0; j < r->n; j++) r->da[j * r->sa] += r->b[j * r->sb] * r->dy[j];
    if (r->db)
        for (size_t j = 0; j < r->n; j++) r->db[j * r->sb] += r->a[j * r->sa] * r->dy[j];
}

static void affine_forward(const row *r) {
    for (size_t j = 0; j < r->n; j++) r->y[j] = r->a[j] * r->scale + r->shift;
}
static void affine_backward(const row *r) {
    // forward: y[j] = a[j] * scale + shift
    for (size_t j = 0; j < r->n; j++) r->da[j] += r->scale * r->dy[j];
}

/* --------------------------------------------------- binary op plumbing */

typedef struct binary_op {
    const char *name;
    row_kernel forward, backward;
} binary_op;

static const binary_op ADD = {"add", add_forward, add_backward};
static const binary_op SUB = {"sub", sub_forward, sub_backward};
static const binary_op MUL = {"mul", mul_forward, mul_backward};

static at_status binary_backward(at_ctx *ctx, ati_node *node) {
    const binary_op *op = node->aux[0];
    const bcast *p = node->saved;
    at_tensor *a = node->in[0], *b = node->in[1], *y = node->out;
    row t = {.y = y->data, .dy = y->grad, .a = a->data, .b = b->data, .da = a->grad,
             .db = b->grad};
    /* pieces write disjoint gradient elements only if nothing is broadcast */
    int disjoint = a->size == p->n && b->size == p->n;
    walk(ctx, p, &t, op->backward, disjoint);
    return AT_OK;
}

static at_status check_input(at_ctx *ctx, const at_tensor *t, const char *op, const char *arg) {
    if (!t) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s is NULL", op, arg);
    if (!t->data) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: %s has no data", op, arg);
    return ati_check_shape(ctx, t->ndim, t->shape, op);
}

static at_status binary(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b,
                        const binary_op *op) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: out is NULL", op->name);
    AT_TRY(check_input(ctx, a, op->name, "a"));
    AT_TRY(check_input(ctx, b, op->name, "b"));
    int ndim = 0, shape[AT_MAX_DIMS] = {0};
    AT_TRY(broadcast_shape(ctx, op->name, a, b, &ndim, shape));
    bcast plan;
    plan_broadcast(&plan, ndim, shape, a, b);

    at_tensor *inputs[2] = {a, b};
    int track = ati_tracking(ctx, 2, inputs);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, ndim, shape, track)); // every element written
    row t = {.y = y->data, .a = a->data, .b = b->data};
    walk(ctx, &plan, &t, op->forward, 1);
    if (track) {
        ati_node *node;
        const void *saved;
        AT_TRY(ati_scratch_copy(ctx, &saved, &plan, sizeof plan));
        AT_TRY(ati_tape_record(ctx, &node, op->name, binary_backward, y, 2, inputs));
        node->aux[0] = op;
        node->saved = (void *)saved;
    }
    *out = y;
    return AT_OK;
}

at_status at_add(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b) {
    return binary(ctx, out, a, b, &ADD);
}
at_status at_sub(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b) {
    return binary(ctx, out, a, b, &SUB);
}
at_status at_mul(at_ctx *ctx, at_tensor **out, at_tensor *a, at_tensor *b) {
    return binary(ctx, out, a, b, &MUL);
}

/* ------------------------------------------------------------------ affine */

/* A flat plan over n elements, for the unary affine. */
static void plan_flat(bcast *p, size_t n) {
    p->ndim = 1;
    p->size[0] = n;
    p->sa[0] = 1;
    p->sb[0] = 0;
    p->n = n;
}

static at_status affine_backward_node(at_ctx *ctx, ati_node *node) {
    at_tensor *a = node->in[0], *y = node->out;
    if (!a->grad) return AT_OK;
    bcast plan;
    plan_flat(&plan, y->size);
    row t = {.y = y->data, .dy = y->grad, .a = a->data, .da = a->grad, .scale = node->farg[0]};
    walk(ctx, &plan, &t, affine_backward, 1);
    return AT_OK;
}

at_status at_affine(at_ctx *ctx, at_tensor **out, at_tensor *a, float scale, float shift) {
    if (!ctx) return AT_ERR_ARGUMENT;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "affine: out is NULL");
    AT_TRY(check_input(ctx, a, "affine", "a"));
    int track = ati_tracking(ctx, 1, &a);
    at_tensor *y;
    AT_TRY(ati_result_uninit(ctx, &y, a->ndim, a->shape, track)); // every element written
    bcast plan;
    plan_flat(&plan, y->size);
    row t = {.y = y->data, .a = a->data, .scale = scale, .shift = shift};
    walk(ctx, &plan, &t, affine_forward, 1);
    if (track) {
        ati_node *node;
        AT_TRY(ati_tape_record(ctx, &node, "affine", affine_backward_node, y, 1, &a));
        node->farg[0] = scale;
        node->farg[1] = shift;
    }
    *out = y;
    return AT_OK;
}
