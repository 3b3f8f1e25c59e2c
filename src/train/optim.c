/*
 * optim.c - the optimisers: SGD (with momentum and Nesterov), Adam, AdamW.
 *
 * An optimiser turns the gradients of a parameter set into one update of
 * the parameters. Each follows PyTorch 1.13 (torch.optim.SGD, Adam, AdamW,
 * single-tensor path) formula for formula, so a model trained here and one
 * trained in PyTorch move in step. Per element, with g the gradient, p the
 * parameter, t the step count after this update (1, 2, ...):
 *
 *   SGD     g  = g + wd * p                        (only if wd != 0)
 *           b  = mu * b + g                        (only if mu != 0; b starts
 *                                                   at 0, so b = g at t = 1)
 *           d  = nesterov ? g + mu * b : (mu ? b : g)
 *           p  = p - lr * d
 *
 *   Adam    g  = g + wd * p                        (L2, only if wd != 0)
 *   AdamW   p  = p * (1 - lr * wd)                 (decoupled, before the rest)
 *   both    m  = beta1 * m + (1 - beta1) * g
 *           v  = beta2 * v + (1 - beta2) * g * g
 *           step_size = lr / (1 - beta1^t)
 *           denom     = sqrt(v) / sqrt(1 - beta2^t) + eps
 *           p  = p - step_size * m / denom
 *
 * The bias corrections are computed in double and used as float, as PyTorch
 * does with its Python-float scalars. State (b, or m and v) lives in one
 * block allocated at create, so a step never allocates.
 *
 * Before anything changes, a step checks that every gradient is finite; a
 * NaN or infinity is an AT_ERR_NUMERIC and the parameters, the state and the
 * step count stay as they were. Parameters whose requires_grad is 0 (frozen)
 * or that have no gradient buffer are skipped, like PyTorch's grad = None.
 *
 * The state and the step count can be saved and loaded again
 * (src/train/optim_state.c), so that a resumed run continues exactly.
 */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

/* ----------------------------------------------------------- validation */

static int is_nonnegative(float x) { return isfinite(x) && x >= 0.0f; }

static at_status check_config(at_ctx *ctx, const at_optim_config *c) {
    if (c->kind != AT_SGD && c->kind != AT_ADAM && c->kind != AT_ADAMW)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: unknown kind %d", (int)c->kind);
    if (!is_nonnegative(c->lr))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: learning rate %g (must be >= 0)",
                           (double)c->lr);
    if (!is_nonnegative(c->weight_decay))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: weight decay %g (must be >= 0)",
                           (double)c->weight_decay);
    if (c->kind == AT_SGD) {
        if (!is_nonnegative(c->momentum))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: momentum %g (must be >= 0)",
                               (double)c->momentum);
        if (c->nesterov && c->momentum == 0.0f)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: Nesterov needs a momentum > 0");
        return AT_OK;
    }
    if (!is_nonnegative(c->beta1) || c->beta1 >= 1.0f || !is_nonnegative(c->beta2) ||
        c->beta2 >= 1.0f)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: betas (%g, %g) must be in [0, 1)",
                           (double)c->beta1, (double)c->beta2);
    if (!is_nonnegative(c->eps))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim: eps %g (must be >= 0)", (double)c->eps);
    return AT_OK;
}

static at_optim_config with_defaults(const at_optim_config *config) {
    at_optim_config c = *config;
    if (c.kind != AT_SGD) {
        if (c.beta1 == 0.0f) c.beta1 = 0.9f;
        if (c.beta2 == 0.0f) c.beta2 = 0.999f;
        if (c.eps == 0.0f) c.eps = 1e-8f;
    }
    return c;
}

/* ------------------------------------------------------------- lifecycle */

static size_t state_floats(const at_optim_config *c, size_t numel) {
    if (c->kind == AT_SGD) return c->momentum != 0.0f ? numel : 0;
    return 2 * numel; /* m and v */
}

at_status at_optim_create(at_ctx *ctx, at_optim **out, at_params *params,
                          const at_optim_config *config) {
    if (!out || !params || !config)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim_create: NULL argument");
    *out = NULL;
    at_optim_config c = with_defaults(config);
    AT_TRY(check_config(ctx, &c));
    at_optim *opt = calloc(1, sizeof *opt);
    if (!opt) return at_ctx_fail(ctx, AT_ERR_MEMORY, "optim_create: out of memory");
    opt->config = c;
    opt->params = params;
    opt->count = at_params_count(params);
    opt->numel = at_params_numel(params);
    size_t floats = state_floats(&c, opt->numel);
    opt->state_floats = floats;
    if (floats) {
        opt->state = calloc(floats, sizeof(float));
        if (!opt->state) {
            free(opt);
            return at_ctx_fail(ctx, AT_ERR_MEMORY,
                               "optim_create: cannot allocate state for %zu floats", floats);
        }
    }
    *out = opt;
    return AT_OK;
}

void at_optim_free(at_optim *opt) {
    if (!opt) return;
    free(opt->state);
    free(opt);
}

void at_optim_set_lr(at_optim *opt, float lr) {
    if (opt) opt->config.lr = lr;
}
float at_optim_lr(const at_optim *opt) { return opt ? opt->config.lr : 0.0f; }
long at_optim_steps(const at_optim *opt) { return opt ? opt->steps : 0; }

/* ------------------------------------------------------------ the update */

static int takes_part(const at_tensor *p) { return p->requires_grad && p->grad; }

/* AT_ERR_NUMERIC naming the parameter if any gradient is not finite. */
static at_status check_gradients(at_ctx *ctx, const at_optim *opt) {
    for (int i = 0; i < opt->count; i++) {
        const at_tensor *p = at_params_get(opt->params, i);
        if (takes_part(p)) AT_TRY(at_check_finite(ctx, p->grad, p->size, p->name));
    }
    return AT_OK;
}

/* p (n), g (n), b (n) momentum buffer or NULL when momentum is 0. */
static void sgd_update(const at_optim_config *c, float *p, const float *g, float *b, size_t n) {
    const float lr = c->lr, wd = c->weight_decay, mu = c->momentum;
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0f) d = d + wd * p[i];
        if (b) {
            b[i] = mu * b[i] + d;
            d = c->nesterov ? d + mu * b[i] : b[i];
        }
        p[i] = p[i] - lr * d;
    }
}

/* The per-step scalars of Adam(W), computed in double as PyTorch does. */
typedef struct adam_scalars {
    float step_size;        /* lr / (1 - beta1^t)            */
    float bias2_sqrt;       /* sqrt(1 - beta2^t)             */
    float decay;            /* AdamW: 1 - lr * wd; Adam: 1   */
    float one_minus_beta1, one_minus_beta2;
} adam_scalars;

static adam_scalars adam_scalars_at(const at_optim_config *c, long t) {
    adam_scalars s;
    double bias1 = 1.0 - pow((double)c->beta1, (double)t);
    double bias2 = 1.0 - pow((double)c->beta2, (double)t);
    s.step_size = (float)((double)c->lr / bias1);
    s.bias2_sqrt = (float)sqrt(bias2);
    s.decay = c->kind == AT_ADAMW ? (float)(1.0 - (double)c->lr * (double)c->weight_decay) : 1.0f;
    s.one_minus_beta1 = (float)(1.0 - (double)c->beta1);
    s.one_minus_beta2 = (float)(1.0 - (double)c->beta2);
    return s;
}

/* p, g, m, v all (n), distinct. Every setting is read into a local before
 * the loop and the arrays are restrict, so the compiler vectorises the loop
 * (vector sqrt and divide); AdamW's decay is 1 for Adam, an exact no-op. */
static void adam_update(const at_optim_config *c, const adam_scalars *s, float *restrict p,
                        const float *restrict g, float *restrict m, float *restrict v,
                        size_t n) {
    const float l2 = c->kind == AT_ADAM ? c->weight_decay : 0.0f;
    const float decay = s->decay, beta1 = c->beta1, beta2 = c->beta2, eps = c->eps;
    const float one_minus_beta1 = s->one_minus_beta1, one_minus_beta2 = s->one_minus_beta2;
    const float bias2_sqrt = s->bias2_sqrt, neg_step = -s->step_size;
    if (l2 != 0.0f) {
        for (size_t i = 0; i < n; i++) {
            float grad = g[i] + l2 * p[i];
            m[i] = m[i] * beta1 + grad * one_minus_beta1;
            v[i] = v[i] * beta2 + one_minus_beta2 * grad * grad;
            float denom = sqrtf(v[i]) / bias2_sqrt + eps;
            p[i] = p[i] + (neg_step * m[i]) / denom;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float param = p[i] * decay;
        float grad = g[i];
        m[i] = m[i] * beta1 + grad * one_minus_beta1;
        v[i] = v[i] * beta2 + one_minus_beta2 * grad * grad;
        float denom = sqrtf(v[i]) / bias2_sqrt + eps;
        p[i] = param + (neg_step * m[i]) / denom;
    }
}

at_status ati_optim_check_params(at_ctx *ctx, const at_optim *opt, const char *what) {
    if (at_params_count(opt->params) != opt->count ||
        at_params_numel(opt->params) != opt->numel)
        return at_ctx_fail(ctx, AT_ERR_STATE,
                           "%s: the parameter set changed after the optimiser was created (%d "
                           "parameters then, %d now)",
                           what, opt->count, at_params_count(opt->params));
    return AT_OK;
}

/* Update elements [start, start + n) of parameter p, whose state starts at
 * offset in the optimiser's state block. */
static void update_range(const at_optim *opt, const adam_scalars *s, at_tensor *p, size_t offset,
                         size_t start, size_t n) {
    const at_optim_config *c = &opt->config;
    float *data = p->data + start;
    const float *grad = p->grad + start;
    offset += start;
    if (c->kind == AT_SGD)
        sgd_update(c, data, grad, opt->state ? opt->state + offset : NULL, n);
    else
        adam_update(c, s, data, grad, opt->state + offset, opt->state + opt->numel + offset, n);
}

/* Every element is updated on its own, so a large parameter is cut into
 * chunks the context's threads share; the result does not depend on the
 * cut. */
#define UPDATE_CHUNK 16384

at_status at_optim_step(at_ctx *ctx, at_optim *opt) {
    if (!opt) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "optim_step: optimiser is NULL");
    AT_TRY(ati_optim_check_params(ctx, opt, "optim_step"));
    AT_TRY(check_gradients(ctx, opt));
    adam_scalars s = adam_scalars_at(&opt->config, opt->steps + 1);
    int threads = ctx && ctx->threads > 1 ? ctx->threads : 1;
    size_t offset = 0; /* where this parameter's state starts */
    for (int i = 0; i < opt->count; i++) {
        at_tensor *p = at_params_get(opt->params, i);
        size_t n = p->size;
        if (takes_part(p)) {
            long chunks = (long)((n + UPDATE_CHUNK - 1) / UPDATE_CHUNK);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && chunks > 1)
            for (long k = 0; k < chunks; k++) {
                size_t start = (size_t)k * UPDATE_CHUNK;
                size_t len = n - start < UPDATE_CHUNK ? n - start : UPDATE_CHUNK;
                update_range(opt, &s, p, offset, start, len);
            }
        }
        offset += n;
    }
    opt->steps++;
    return AT_OK;
}
