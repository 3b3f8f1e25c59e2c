/*
 * clip.c - gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_.
 *
 * The norm is the L2 norm of all gradients taken together, as if they were
 * one long vector:
 *
 *   norm = sqrt(sum over every parameter p, every element i of p.grad[i]^2)
 *
 * If norm > max_norm, every gradient is multiplied by
 *
 *   coef = max_norm / (norm + 1e-6)
 *
 * (PyTorch's formula: the 1e-6 keeps the division safe and leaves the
 * clipped norm a hair under max_norm). Otherwise nothing changes. The sum
 * runs in double so that millions of small squares do not lose precision.
 * A NaN or infinite norm (or one too large for a float, where PyTorch's
 * float sum would give infinity) is an AT_ERR_NUMERIC and the gradients
 * are left as they were. Frozen parameters (requires_grad 0 or no grad)
 * take no part. max_norm must be finite and > 0.
 */
#include "internal.h"

#include <float.h>
#include <math.h>

static int has_gradient(const at_tensor *p) { return p && p->requires_grad && p->grad; }

/* In LANES partial sums, so the loop vectorises; the order is fixed, so
 * the norm does not vary between runs. */
static double sum_of_squares(const float *x, size_t n) {
    enum { LANES = 16 };
    double partial[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) partial[l] += (double)x[i + l] * (double)x[i + l];
    double sum = 0.0;
    for (; i < n; i++) sum += (double)x[i] * (double)x[i];
    for (int l = 0; l < LANES; l++) sum += partial[l];
    return sum;
}

static double global_grad_norm(const at_params *params) {
    double sum = 0.0;
    for (int i = 0; i < at_params_count(params); i++) {
        const at_tensor *p = at_params_get(params, i);
        if (has_gradient(p)) sum += sum_of_squares(p->grad, p->size);
    }
    return sqrt(sum);
}

static void scale_gradients(at_params *params, float coef) {
    for (int i = 0; i < at_params_count(params); i++) {
        at_tensor *p = at_params_get(params, i);
        if (!has_gradient(p)) continue;
        for (size_t k = 0; k < p->size; k++) p->grad[k] *= coef;
    }
}

at_status at_clip_grad_norm(at_ctx *ctx, at_params *params, float max_norm, float *norm_out) {
    if (!params) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "clip_grad_norm: params is NULL");
    if (!(max_norm > 0.0f) || !isfinite(max_norm))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "clip_grad_norm: max_norm %g (must be finite and > 0)",
                           (double)max_norm);
    double norm = global_grad_norm(params);
    if (!(norm <= (double)FLT_MAX)) /* NaN, infinite, or not a float */
        return at_ctx_fail(ctx, AT_ERR_NUMERIC, "clip_grad_norm: the gradient norm is %s",
                           isnan(norm) ? "NaN" : "infinite (as a float)");
    if (norm_out) *norm_out = (float)norm;
    if (norm > (double)max_norm) scale_gradients(params, (float)((double)max_norm / (norm + 1e-6)));
    return AT_OK;
}
