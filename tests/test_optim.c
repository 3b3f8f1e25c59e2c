/*
 * test_optim.c - the optimisers, gradient clipping and learning-rate
 * schedules against values worked out by hand.
 *
 * Every case uses two parameters, a (2) and b (1), so the numbers stay
 * small enough to check on paper. The expected values in comments are the
 * PyTorch 1.13 formulas written out step by step (see src/train/optim.c).
 * Adam is also compared with a plain double-precision re-derivation for
 * three steps of changing gradients; tests/parity/ compares with PyTorch
 * itself.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    at_ctx *ctx;
    at_params *params;
    at_tensor *a, *b; /* a (2), b (1) */
} fixture;

static void fixture_open(fixture *f) {
    CHECK_OK(NULL, at_ctx_create(&f->ctx, NULL));
    CHECK_OK(f->ctx, at_params_create(f->ctx, &f->params));
    int two[1] = {2}, one[1] = {1};
    CHECK_OK(f->ctx, at_params_add(f->ctx, f->params, "a", 1, two, &f->a));
    CHECK_OK(f->ctx, at_params_add(f->ctx, f->params, "b", 1, one, &f->b));
    /* a = (1, -2), b = (3) */
    f->a->data[0] = 1.0f;
    f->a->data[1] = -2.0f;
    f->b->data[0] = 3.0f;
}

static void fixture_close(fixture *f) {
    at_params_free(f->params);
    at_ctx_free(f->ctx);
}

/* Gradients ga (2) and gb (1). */
static void set_grads(fixture *f, float ga0, float ga1, float gb) {
    f->a->grad[0] = ga0;
    f->a->grad[1] = ga1;
    f->b->grad[0] = gb;
}

static void check_values(const char *what, const fixture *f, float a0, float a1, float b0,
                         double tol) {
    float got[3] = {f->a->data[0], f->a->data[1], f->b->data[0]};
    float want[3] = {a0, a1, b0};
    check_close(what, got, want, 3, tol, tol);
}

/* ------------------------------------------------------------------ SGD */

static void test_sgd_plain(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    /* p - 0.1 g */
    check_values("sgd step 1", &f, 0.95f, -2.1f, 3.2f, 1e-6);
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("sgd step 2", &f, 0.9f, -2.2f, 3.4f, 1e-6);
    CHECK(at_optim_steps(opt) == 2, "steps %ld, want 2", at_optim_steps(opt));
    at_optim_set_lr(opt, 0.5f);
    CHECK(at_optim_lr(opt) == 0.5f, "lr %g after set_lr(0.5)", (double)at_optim_lr(opt));
    at_optim_free(opt);
    fixture_close(&f);
}

static void test_sgd_momentum(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f, .momentum = 0.9f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    /* step 1: buf = g = (0.5, 1 | -2); p -= 0.1 buf */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("momentum step 1", &f, 0.95f, -2.1f, 3.2f, 1e-6);
    /* step 2: buf = 0.9 buf + g = (0.95, 1.9 | -3.8); p -= 0.1 buf */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("momentum step 2", &f, 0.855f, -2.29f, 3.58f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

static void test_sgd_nesterov(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f, .momentum = 0.9f, .nesterov = 1};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    /* step 1: buf = g; d = g + 0.9 buf = 1.9 g = (0.95, 1.9 | -3.8) */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("nesterov step 1", &f, 0.905f, -2.19f, 3.38f, 1e-6);
    /* step 2: buf = 1.9 g; d = g + 0.9 * 1.9 g = 2.71 g = (1.355, 2.71 | -5.42) */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("nesterov step 2", &f, 0.7695f, -2.461f, 3.922f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

static void test_sgd_weight_decay(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f, .weight_decay = 0.01f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    /* d = g + 0.01 p = (0.51, 0.98 | -1.97); p -= 0.1 d */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("sgd weight decay", &f, 0.949f, -2.098f, 3.197f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

/* ----------------------------------------------------------------- Adam */

static void test_adam_constant_gradient(void) {
    /* With a constant gradient, m_hat = g and v_hat = g^2 at every step, so
     * Adam moves each parameter by lr * sign(g) (eps aside). */
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_ADAM, .lr = 0.1f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("adam step 1", &f, 0.9f, -2.1f, 3.1f, 1e-6);
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("adam step 2", &f, 0.8f, -2.2f, 3.2f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

static void test_adamw_decoupled_decay(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_ADAMW, .lr = 0.1f, .weight_decay = 0.1f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    set_grads(&f, 0.5f, 1.0f, -2.0f);
    /* p = p * (1 - 0.1 * 0.1) = 0.99 p, then p -= 0.1 sign(g) */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("adamw step 1", &f, 0.89f, -2.08f, 3.07f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

/* Adam(W) for one element, written out in double from the paper's and
 * PyTorch's formulas. t is the step number (1, 2, ...). */
static double reference_adam(double p, double g, double *m, double *v, int t, double lr,
                             double b1, double b2, double eps, double wd, int decoupled) {
    if (decoupled) p *= 1.0 - lr * wd;
    else g += wd * p;
    *m = b1 * *m + (1.0 - b1) * g;
    *v = b2 * *v + (1.0 - b2) * g * g;
    double step_size = lr / (1.0 - pow(b1, t));
    double denom = sqrt(*v) / sqrt(1.0 - pow(b2, t)) + eps;
    return p - step_size * *m / denom;
}

static void check_adam_against_reference(at_optim_kind kind, const char *what) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = kind, .lr = 0.01f, .beta1 = 0.8f, .beta2 = 0.99f,
                         .eps = 1e-6f, .weight_decay = 0.05f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    const float grads[3][3] = {{0.5f, 1.0f, -2.0f}, {-0.25f, 3.0f, 0.125f}, {1e-3f, -0.5f, 4.0f}};
    double p[3] = {1.0, -2.0, 3.0}, m[3] = {0}, v[3] = {0};
    for (int t = 1; t <= 3; t++) {
        const float *g = grads[t - 1];
        set_grads(&f, g[0], g[1], g[2]);
        CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
        for (int i = 0; i < 3; i++)
            p[i] = reference_adam(p[i], g[i], &m[i], &v[i], t, (double)c.lr, (double)c.beta1,
                                  (double)c.beta2, (double)c.eps, (double)c.weight_decay,
                                  kind == AT_ADAMW);
        char name[64];
        snprintf(name, sizeof name, "%s step %d", what, t);
        check_values(name, &f, (float)p[0], (float)p[1], (float)p[2], 1e-6);
    }
    at_optim_free(opt);
    fixture_close(&f);
}

/* --------------------------------------------------------------- errors */

static void test_nonfinite_gradient_changes_nothing(void) {
    const at_optim_kind kinds[3] = {AT_SGD, AT_ADAM, AT_ADAMW};
    for (int k = 0; k < 3; k++) {
        fixture f;
        fixture_open(&f);
        at_optim *opt;
        at_optim_config c = {.kind = kinds[k], .lr = 0.1f, .momentum = 0.9f};
        CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
        set_grads(&f, 0.5f, 1.0f, NAN); /* b is bad; a comes first and is fine */
        CHECK_STATUS(f.ctx, at_optim_step(f.ctx, opt), AT_ERR_NUMERIC);
        CHECK(strstr(at_ctx_error(f.ctx), "b") != NULL, "message should name 'b': %s",
              at_ctx_error(f.ctx));
        check_values("after a NaN gradient", &f, 1.0f, -2.0f, 3.0f, 0.0);
        set_grads(&f, INFINITY, 1.0f, 0.0f);
        CHECK_STATUS(f.ctx, at_optim_step(f.ctx, opt), AT_ERR_NUMERIC);
        check_values("after an infinite gradient", &f, 1.0f, -2.0f, 3.0f, 0.0);
        CHECK(at_optim_steps(opt) == 0, "failed steps must not count (%ld)", at_optim_steps(opt));
        /* the state is untouched too: a good step now is a first step */
        set_grads(&f, 0.5f, 1.0f, -2.0f);
        CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
        if (kinds[k] == AT_SGD) check_values("first good sgd step", &f, 0.95f, -2.1f, 3.2f, 1e-6);
        else check_values("first good adam step", &f, 0.9f, -2.1f, 3.1f, 1e-6);
        at_optim_free(opt);
        fixture_close(&f);
    }
}

static void test_bad_configs(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt = NULL;
    at_optim_config nesterov = {.kind = AT_SGD, .lr = 0.1f, .nesterov = 1};
    CHECK_STATUS(f.ctx, at_optim_create(f.ctx, &opt, f.params, &nesterov), AT_ERR_ARGUMENT);
    at_optim_config beta = {.kind = AT_ADAM, .lr = 0.1f, .beta1 = 1.5f};
    CHECK_STATUS(f.ctx, at_optim_create(f.ctx, &opt, f.params, &beta), AT_ERR_ARGUMENT);
    at_optim_config lr = {.kind = AT_ADAM, .lr = -1.0f};
    CHECK_STATUS(f.ctx, at_optim_create(f.ctx, &opt, f.params, &lr), AT_ERR_ARGUMENT);
    at_optim_config kind = {.kind = (at_optim_kind)7, .lr = 0.1f};
    CHECK_STATUS(f.ctx, at_optim_create(f.ctx, &opt, f.params, &kind), AT_ERR_ARGUMENT);
    CHECK(opt == NULL, "a failed create leaves out NULL");
    CHECK_STATUS(f.ctx, at_optim_create(f.ctx, &opt, NULL, &lr), AT_ERR_ARGUMENT);
    CHECK_STATUS(f.ctx, at_optim_step(f.ctx, NULL), AT_ERR_ARGUMENT);

    /* a parameter added after create: the state no longer fits */
    at_optim_config ok = {.kind = AT_ADAM, .lr = 0.1f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &ok));
    int three[1] = {3};
    CHECK_OK(f.ctx, at_params_add(f.ctx, f.params, "late", 1, three, NULL));
    CHECK_STATUS(f.ctx, at_optim_step(f.ctx, opt), AT_ERR_STATE);
    at_optim_free(opt);
    fixture_close(&f);
}

static void test_frozen_parameter_is_skipped(void) {
    fixture f;
    fixture_open(&f);
    at_optim *opt;
    at_optim_config c = {.kind = AT_SGD, .lr = 0.1f};
    CHECK_OK(f.ctx, at_optim_create(f.ctx, &opt, f.params, &c));
    f.b->requires_grad = 0;
    set_grads(&f, 0.5f, 1.0f, NAN); /* a frozen parameter's gradient is ignored */
    CHECK_OK(f.ctx, at_optim_step(f.ctx, opt));
    check_values("frozen b", &f, 0.95f, -2.1f, 3.0f, 1e-6);
    at_optim_free(opt);
    fixture_close(&f);
}

/* ------------------------------------------------------------- clipping */

static void test_clip_grad_norm(void) {
    fixture f;
    fixture_open(&f);
    float norm = 0.0f;
    /* global norm of (3, 0 | 4) is 5 */
    set_grads(&f, 3.0f, 0.0f, 4.0f);
    CHECK_OK(f.ctx, at_clip_grad_norm(f.ctx, f.params, 10.0f, &norm));
    CHECK(fabsf(norm - 5.0f) < 1e-6f, "norm %g, want 5", (double)norm);
    float unclipped[3] = {f.a->grad[0], f.a->grad[1], f.b->grad[0]};
    const float same[3] = {3.0f, 0.0f, 4.0f};
    check_close("under max_norm: unchanged", unclipped, same, 3, 0.0, 0.0);

    CHECK_OK(f.ctx, at_clip_grad_norm(f.ctx, f.params, 1.0f, &norm));
    /* scaled by 1 / (5 + 1e-6) */
    float clipped[3] = {f.a->grad[0], f.a->grad[1], f.b->grad[0]};
    const float want[3] = {0.6f, 0.0f, 0.8f};
    check_close("clipped to norm 1", clipped, want, 3, 1e-6, 1e-6);
    CHECK(fabsf(norm - 5.0f) < 1e-6f, "norm before clipping %g, want 5", (double)norm);

    set_grads(&f, 3.0f, NAN, 4.0f);
    CHECK_STATUS(f.ctx, at_clip_grad_norm(f.ctx, f.params, 1.0f, NULL), AT_ERR_NUMERIC);
    CHECK(f.a->grad[0] == 3.0f && f.b->grad[0] == 4.0f, "a NaN norm must leave gradients");
    set_grads(&f, 3e38f, 3e38f, 0.0f); /* the norm itself is too large for a float */
    CHECK_STATUS(f.ctx, at_clip_grad_norm(f.ctx, f.params, 1.0f, NULL), AT_ERR_NUMERIC);
    set_grads(&f, 1e30f, 1e30f, 0.0f); /* squares overflow float, the norm does not */
    CHECK_OK(f.ctx, at_clip_grad_norm(f.ctx, f.params, 1.0f, &norm));
    CHECK(fabsf(f.a->grad[0] - 0.70710678f) < 1e-6f, "huge gradients clip cleanly: %g",
          (double)f.a->grad[0]);
    CHECK_STATUS(f.ctx, at_clip_grad_norm(f.ctx, f.params, 0.0f, NULL), AT_ERR_ARGUMENT);
    fixture_close(&f);
}

/* ------------------------------------------------------------ schedules */

static void check_lr(const at_schedule *s, long step, double want, const char *what) {
    float got = at_schedule_lr(s, step);
    CHECK(fabs((double)got - want) <= 1e-6 * (1.0 + fabs(want)), "%s at step %ld: %.8g, want %.8g",
          what, step, (double)got, want);
}

static void test_schedules(void) {
    at_schedule s = {.base_lr = 1.0f, .final_lr = 0.1f, .warmup_steps = 10, .total_steps = 110};
    const at_decay decays[4] = {AT_DECAY_NONE, AT_DECAY_LINEAR, AT_DECAY_COSINE,
                                AT_DECAY_INV_SQRT};
    for (int d = 0; d < 4; d++) {
        s.decay = decays[d];
        check_lr(&s, -3, 0.0, "warm-up (negative step)");
        check_lr(&s, 0, 0.0, "warm-up start");
        check_lr(&s, 5, 0.5, "warm-up middle");
        check_lr(&s, 10, 1.0, "warm-up end");
    }
    s.decay = AT_DECAY_NONE;
    check_lr(&s, 1000, 1.0, "none");
    s.decay = AT_DECAY_LINEAR;
    check_lr(&s, 60, 0.55, "linear half way");    /* 0.1 + 0.9 * 0.5 */
    check_lr(&s, 110, 0.1, "linear end");
    check_lr(&s, 500, 0.1, "linear after the end");
    s.decay = AT_DECAY_COSINE;
    check_lr(&s, 35, 0.1 + 0.45 * (1.0 + cos(3.14159265358979 / 4)), "cosine quarter");
    check_lr(&s, 60, 0.55, "cosine half way");
    check_lr(&s, 110, 0.1, "cosine end");
    check_lr(&s, 500, 0.1, "cosine after the end");
    s.decay = AT_DECAY_INV_SQRT;
    check_lr(&s, 40, 0.5, "inv-sqrt");            /* sqrt(10 / 40) */
    check_lr(&s, 1000, 0.1, "inv-sqrt late");     /* sqrt(10 / 1000) */

    at_schedule plain = {.base_lr = 2.0f, .decay = AT_DECAY_INV_SQRT};
    check_lr(&plain, 0, 2.0, "inv-sqrt, no warm-up, step 0");
    check_lr(&plain, 4, 1.0, "inv-sqrt, no warm-up, step 4");
    at_schedule instant = {.base_lr = 1.0f, .final_lr = 0.25f, .warmup_steps = 4,
                           .total_steps = 2, .decay = AT_DECAY_LINEAR};
    check_lr(&instant, 4, 0.25, "total <= warm-up: decay is instant");
    CHECK(at_schedule_lr(NULL, 3) == 0.0f, "NULL schedule gives 0");
}

/* A large parameter is updated in chunks shared by the context's threads:
 * 1, 2 and 3 threads must give the same bits, for Adam and SGD momentum,
 * with a size that is not a multiple of the chunk. */
static void test_threads_give_the_same_update(void) {
    const int n = 70001;
    float *result[3] = {NULL, NULL, NULL};
    for (at_optim_kind kind = AT_SGD; kind <= AT_ADAM; kind++) {
        for (int t = 0; t < 3; t++) {
            at_ctx *ctx;
            at_ctx_options o = {.num_threads = t + 1};
            CHECK_OK(NULL, at_ctx_create(&ctx, &o));
            at_params *params;
            at_tensor *w;
            CHECK_OK(ctx, at_params_create(ctx, &params));
            CHECK_OK(ctx, at_params_add(ctx, params, "w", 1, (int[]){n}, &w));
            at_optim_config c = {.kind = kind, .lr = 0.01f, .momentum = 0.9f};
            at_optim *opt;
            CHECK_OK(ctx, at_optim_create(ctx, &opt, params, &c));
            for (int step = 0; step < 3; step++) {
                for (int i = 0; i < n; i++) {
                    w->grad[i] = sinf(0.001f * (float)i * (float)(step + 1));
                    if (step == 0) w->data[i] = cosf(0.01f * (float)i);
                }
                CHECK_OK(ctx, at_optim_step(ctx, opt));
            }
            result[t] = malloc((size_t)n * sizeof(float));
            memcpy(result[t], w->data, (size_t)n * sizeof(float));
            at_optim_free(opt);
            at_params_free(params);
            at_ctx_free(ctx);
        }
        CHECK(memcmp(result[0], result[1], (size_t)n * sizeof(float)) == 0,
              "optimiser kind %d: 2 threads differ from 1", (int)kind);
        CHECK(memcmp(result[0], result[2], (size_t)n * sizeof(float)) == 0,
              "optimiser kind %d: 3 threads differ from 1", (int)kind);
        CHECK(result[0][n - 1] != cosf(0.01f * (float)(n - 1)), "the last element was updated");
        for (int t = 0; t < 3; t++) free(result[t]);
    }
}

int main(void) {
    test_threads_give_the_same_update();
    test_sgd_plain();
    test_sgd_momentum();
    test_sgd_nesterov();
    test_sgd_weight_decay();
    test_adam_constant_gradient();
    test_adamw_decoupled_decay();
    check_adam_against_reference(AT_ADAM, "adam (L2) vs reference");
    check_adam_against_reference(AT_ADAMW, "adamw vs reference");
    test_nonfinite_gradient_changes_nothing();
    test_bad_configs();
    test_frozen_parameter_is_skipped();
    test_clip_grad_norm();
    test_schedules();
    return test_finish("optim");
}
