/*
 * test_long_recursions.c - every recursion that attend carries across
 * steps, run for 1,000 steps, its gradient against a reference in double.
 *
 * A backward pass that carries a quantity from step to step can overflow
 * float32 where the forward pass is perfectly fine. Forward attention did
 * (issue 9): its dα̂ grows at every step back wherever y is large and the
 * alignment has not arrived, and passed 3.4e38 after ~75 steps, so every
 * gradient became NaN. Each recursion is checked here at T = 1,000 (and
 * forward attention also at T = 200), with the gradient of a loss
 * L = Σ_t <R_t, output_t> (R random) compared with:
 *
 *   - the exact gradient in double where it has a closed form from the
 *     forward pass alone (the values: dL/dv_n = Σ_t α_t(n) R_t), and
 *   - central differences of the same loss computed in double by an
 *     independent forward written here from the equations (h = 1e-5, so
 *     the reference is good to ~1e-8), at probes chosen where the gradient
 *     is largest, at the first steps (the longest way back) and at random;
 *
 * and every gradient must be finite. The recursions:
 *   1. forward attention, α̂_t from α̂_{t−1}, plain and with a transition
 *      agent;
 *   2. monotonic attention's expected alignment, α_i from α_{i−1} (through
 *      at_monotonic_attend_energies);
 *   3. LSTM, GRU and BiLSTM: h_t, c_t from h_{t−1}, c_{t−1};
 *   4. the seed's AttentionDecoder: s_t from s_{t−1} (with its additive
 *      attention at every step).
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FD_STEP 1e-5

/* Largest |x| of n doubles (for tolerances scaled to the gradient). */
static double max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* A probed gradient: got (float, from attend) against want (double). */
typedef struct probe {
    size_t index;
    double want;
} probe;

/* Compare attend's gradient at the probes with the references; the
 * tolerance is atol_rel · (largest |want|) + rtol · |want|. */
static void check_probes(const char *what, const float *grad, const probe *probes, int n,
                         double atol_rel, double rtol) {
    float *got = calloc((size_t)n, sizeof(float));
    double *want = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        got[i] = grad[probes[i].index];
        want[i] = probes[i].want;
    }
    check_close_to_double(what, got, want, (size_t)n, atol_rel * max_abs(want, (size_t)n), rtol);
    double worst = 0.0;
    for (int i = 0; i < n; i++)
        worst = fmax(worst, fabs(got[i] - want[i]));
    printf("  %s: %d probes, largest |gradient| %.3g, largest error %.2g\n", what, n,
           max_abs(want, (size_t)n), worst);
    free(got), free(want);
}

/* attend's loss against the reference's. */
static void check_loss(const char *what, double got, double want) {
    CHECK(fabs(got - want) <= 1e-3 * (1.0 + fabs(want)), "%s: loss %.8g, reference %.8g", what, got,
          want);
}

/* 1 if the gradient of every parameter (params may be NULL) and of the n
 * tensors is finite. */
static int gradients_finite(at_params *params, int n, at_tensor *const *tensors) {
    int finite = 1;
    for (int i = 0; i < n; i++)
        finite &= test_all_finite(tensors[i]->grad, tensors[i]->size);
    for (int p = 0; p < at_params_count(params); p++) {
        at_tensor *t = at_params_get(params, p);
        finite &= test_all_finite(t->grad, t->size);
    }
    return finite;
}

/* ====================== 1-2. forward attention and monotonic attention */

/* T steps of one of the two walks over B rows of Tk positions, each step
 * reading the previous step's α; L = Σ_t <R_t, context_t>.
 *   forward attention: y_t = softmax(E_t), transition u_t (or plain);
 *   monotonic: p_t = σ(E_t) (0 where masked), the expected alignment. */
typedef enum walk_kind { WALK_FORWARD, WALK_FORWARD_TRANSITION, WALK_MONOTONIC } walk_kind;
static const char *const walk_names[] = {
    "forward attention, plain", "forward attention, transition", "monotonic (expected alignment)"};

typedef struct walk {
    walk_kind kind;
    int T, B, Tk, Dv;
    double *E;     /* (T, B, Tk) scores                */
    double *u;     /* (T, B)     transition, in (0, 1) */
    double *V;     /* (B, Tk, Dv) values               */
    double *R;     /* (T, B, Dv)  loss direction       */
    uint8_t *keep; /* (B, Tk) padding mask, 1 = keep   */
    double *prob;  /* (T, B, Tk) y_t or p_t of E       */
} walk;

/* y (n) = softmax(e) in double. */
static void softmax_ref(const double *e, int n, double *y) {
    double max = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++)
        max = fmax(max, e[i]);
    for (int i = 0; i < n; i++)
        sum += (y[i] = exp(e[i] - max));
    for (int i = 0; i < n; i++)
        y[i] /= sum;
}

/* prob of step t, row b from its scores: y_t = softmax(E_t) (forward
 * attention), p_t = σ(E_t), 0 where masked (monotonic). */
static void walk_probabilities(const walk *c, int t, int b) {
    size_t row = ((size_t)t * c->B + b) * c->Tk;
    const double *e = c->E + row;
    double *prob = c->prob + row;
    if (c->kind != WALK_MONOTONIC) {
        softmax_ref(e, c->Tk, prob);
        return;
    }
    for (int j = 0; j < c->Tk; j++)
        prob[j] = c->keep[(size_t)b * c->Tk + j] ? 1.0 / (1.0 + exp(-e[j])) : 0.0;
}

/* One step of row b in double, from the papers' equations: next (Tk) from
 * prev (Tk). */
static void walk_step_ref(const walk *c, int t, int b, const double *prev, double *next) {
    int Tk = c->Tk;
    const double *prob = c->prob + ((size_t)t * c->B + b) * Tk;
    const uint8_t *keep = c->keep + (size_t)b * Tk;
    if (c->kind == WALK_MONOTONIC) {
        // q_j = (1 − p_{j−1}) q_{j−1} + α_{i−1,j},  α_j = p_j q_j
        double q = 0.0;
        for (int j = 0; j < Tk; j++) {
            q = (j > 0 ? (1.0 - prob[j - 1]) * q : 0.0) + prev[j];
            next[j] = prob[j] * q;
        }
        return;
    }
    // α̂'(n) = (stay α̂(n) + move α̂(n−1)) y(n),  α̂ = α̂' / Σ α̂'
    int agent = c->kind == WALK_FORWARD_TRANSITION;
    double u = agent ? c->u[(size_t)t * c->B + b] : 0.0;
    double stay = agent ? 1.0 - u : 1.0, move = agent ? u : 1.0, sum = 0.0;
    for (int n = 0; n < Tk; n++) {
        next[n] = keep[n] ? (stay * prev[n] + (n > 0 ? move * prev[n - 1] : 0.0)) * prob[n] : 0.0;
        sum += next[n];
    }
    for (int n = 0; n < Tk; n++)
        next[n] = sum > 0.0 ? next[n] / sum : 0.0;
}

/* Row b from step `first` (alpha = α_{first−1}, or NULL for δ(0)) to the
 * end; returns Σ_{t >= first} <R_t[b], c_t[b]>. kept (T, Tk) or NULL
 * receives α_t. work: 2 Tk doubles. */
static double walk_row(const walk *c, int b, int first, const double *alpha, double *kept,
                       double *work) {
    int Tk = c->Tk;
    double *prev = work, *next = work + Tk, loss = 0.0;
    for (int n = 0; n < Tk; n++)
        prev[n] = alpha ? alpha[n] : (n == 0);
    for (int t = first; t < c->T; t++) {
        walk_step_ref(c, t, b, prev, next);
        memcpy(prev, next, (size_t)Tk * sizeof(double));
        if (kept) memcpy(kept + (size_t)t * Tk, prev, (size_t)Tk * sizeof(double));
        for (int k = 0; k < c->Dv; k++) {
            double context_k = 0.0;
            for (int n = 0; n < Tk; n++)
                context_k += prev[n] * c->V[((size_t)b * Tk + n) * c->Dv + k];
            loss += c->R[((size_t)t * c->B + b) * c->Dv + k] * context_k;
        }
    }
    return loss;
}

/* Central difference of row b's loss from step t on, for x += ±h (x a
 * score or the transition of step t). alphas: the row's α_t (T, Tk) from
 * the unperturbed run. */
static double walk_difference(const walk *c, int b, int t, double *x, const double *alphas,
                              double *work) {
    const double *start = t > 0 ? alphas + (size_t)(t - 1) * c->Tk : NULL;
    double saved = *x;
    *x = saved + FD_STEP;
    walk_probabilities(c, t, b);
    double up = walk_row(c, b, t, start, NULL, work);
    *x = saved - FD_STEP;
    walk_probabilities(c, t, b);
    double down = walk_row(c, b, t, start, NULL, work);
    *x = saved;
    walk_probabilities(c, t, b);
    return (up - down) / (2.0 * FD_STEP);
}

/* A float tensor from n doubles, taking a gradient if grad. */
static at_tensor *tensor_of(at_ctx *ctx, int ndim, const int *shape, const double *x, int grad) {
    at_tensor *t = NULL;
    CHECK_OK(ctx, at_tensor_new(ctx, &t, ndim, shape));
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = (float)x[i];
    if (grad) CHECK_OK(ctx, at_tensor_require_grad(ctx, t));
    return t;
}

/* Row t of a (T, B, n) tensor as (B, n). */
static at_tensor *step_of(at_ctx *ctx, at_tensor *x, int t) {
    at_tensor *row = NULL, *flat = NULL;
    CHECK_OK(ctx, at_slice(ctx, &row, x, 0, t, 1));
    CHECK_OK(ctx, at_reshape(ctx, &flat, row, 2, (const int[]){x->shape[1], x->shape[2]}));
    return flat;
}

/* total += Σ x · r (total NULL at first). */
static void add_projection(at_ctx *ctx, at_tensor **total, at_tensor *x, at_tensor *r) {
    at_tensor *term, *s;
    CHECK_OK(ctx, at_mul(ctx, &term, x, r));
    CHECK_OK(ctx, at_sum(ctx, &s, term));
    if (*total)
        CHECK_OK(ctx, at_add(ctx, total, *total, s));
    else
        *total = s;
}

/* attend's gradients of L: dE (T, B, Tk), du (T, B), dV (B, Tk, Dv). */
static void walk_attend(const walk *c, float *dE, float *du, float *dV, double *loss) {
    at_ctx *ctx = test_new_ctx();
    int T = c->T, B = c->B, Tk = c->Tk, Dv = c->Dv;
    at_tensor *E = tensor_of(ctx, 3, (const int[]){T, B, Tk}, c->E, 1);
    at_tensor *U = tensor_of(ctx, 3, (const int[]){T, B, 1}, c->u, 1);
    at_tensor *V = tensor_of(ctx, 3, (const int[]){B, Tk, Dv}, c->V, 1);
    at_tensor *R = tensor_of(ctx, 3, (const int[]){T, B, Dv}, c->R, 0);
    at_attn_mask mask = {c->keep, B, 0};
    at_tensor *alpha = NULL, *total = NULL;
    for (int t = 0; t < T; t++) {
        at_tensor *e = step_of(ctx, E, t), *y, *context;
        if (c->kind == WALK_MONOTONIC) {
            CHECK_OK(ctx, at_monotonic_attend_energies(ctx, e, V, alpha, &mask, 0.0f, &context,
                                                       &alpha, NULL));
        } else {
            at_tensor *u = c->kind == WALK_FORWARD_TRANSITION ? step_of(ctx, U, t) : NULL;
            CHECK_OK(ctx, at_softmax(ctx, &y, e, NULL, 0));
            CHECK_OK(ctx, at_forward_attention(ctx, y, alpha, u, V, &mask, &context, &alpha));
        }
        add_projection(ctx, &total, context, step_of(ctx, R, t));
    }
    CHECK_OK(ctx, at_backward(ctx, total));
    *loss = total->data[0];
    memcpy(dE, E->grad, E->size * sizeof(float));
    memcpy(du, U->grad, U->size * sizeof(float));
    memcpy(dV, V->grad, V->size * sizeof(float));
    at_ctx_free(ctx);
}

/* The scores. Forward attention: at step t a ramp rising by `rise` per
 * position up to position t + 30 and flat after it, under noise. y is
 * largest ahead of where the alignment can be (it moves at most one
 * position per step): every step back multiplies dα̂ there by up to
 * e^(30 rise), while the alignment itself, pulled forward at full speed,
 * stays a well-conditioned distribution (float and double agree) and y
 * stays inside float's range. Monotonic: energies around `rise` (p ≈
 * σ(rise)), so the walk moves on slowly and is still inside the source
 * after T steps. Row 1 has its last 37 positions masked. */
static void walk_make(walk *c, double rise, double noise, at_rng *rng) {
    size_t nE = (size_t)c->T * c->B * c->Tk;
    c->E = malloc(nE * sizeof(double));
    c->u = malloc((size_t)c->T * c->B * sizeof(double));
    c->V = malloc((size_t)c->B * c->Tk * c->Dv * sizeof(double));
    c->R = malloc((size_t)c->T * c->B * c->Dv * sizeof(double));
    c->keep = malloc((size_t)c->B * c->Tk);
    for (size_t i = 0; i < nE; i++) {
        int t = (int)(i / ((size_t)c->B * c->Tk)), n = (int)(i % (size_t)c->Tk);
        double level = c->kind == WALK_MONOTONIC ? rise : rise * (n < t + 30 ? n : t + 30);
        c->E[i] = level + noise * at_rng_normal(rng);
    }
    for (size_t i = 0; i < (size_t)c->T * c->B; i++)
        c->u[i] = 0.2 + 0.6 * at_rng_uniform(rng);
    for (size_t i = 0; i < (size_t)c->B * c->Tk * c->Dv; i++)
        c->V[i] = 2.0 * at_rng_uniform(rng) - 1.0;
    for (size_t i = 0; i < (size_t)c->T * c->B * c->Dv; i++)
        c->R[i] = 2.0 * at_rng_uniform(rng) - 1.0;
    for (int b = 0; b < c->B; b++)
        for (int n = 0; n < c->Tk; n++)
            c->keep[(size_t)b * c->Tk + n] = b != 1 || n < c->Tk - 37;
    c->prob = malloc(nE * sizeof(double));
    for (int t = 0; t < c->T; t++)
        for (int b = 0; b < c->B; b++)
            walk_probabilities(c, t, b);
}

/* The probes of dE: the six largest |dE| of attend's, the first two steps
 * at positions 0 and 1 (one of each for T >= 1000), and random ones near
 * the row's alignment (8; 4 for T >= 1000); each an index (t, b, n) into E. */
static int walk_pick(const walk *c, const float *dE, at_rng *rng, size_t *picked) {
    int n = 6;
    size_t nE = (size_t)c->T * c->B * c->Tk;
    double top[6] = {-1, -1, -1, -1, -1, -1}; // the six largest |dE|, largest first
    for (size_t i = 0; i < nE; i++) {
        double g = isfinite(dE[i]) ? fabs(dE[i]) : -1.0;
        int k = 6;
        while (k > 0 && g > top[k - 1])
            k--;
        if (k == 6) continue;
        for (int j = 5; j > k; j--)
            top[j] = top[j - 1], picked[j] = picked[j - 1];
        top[k] = g, picked[k] = i;
    }
    int few = c->T >= 1000;     // a probe costs a run of up to T steps: fewer on long runs
    for (int t = 0; t < 2; t++) // the longest way back
        for (int pos = few ? t : 0; pos < (few ? t + 1 : 2); pos++)
            picked[n++] = ((size_t)t * c->B + (size_t)(t % c->B)) * c->Tk + (size_t)pos;
    for (int k = 0; k < (few ? 4 : 8);
         k++) { // random steps, at a position < t + 2 (where α may be)
        int t = (int)(at_rng_uniform(rng) * c->T), b = (int)(at_rng_uniform(rng) * c->B);
        int reach = t + 2 < c->Tk ? t + 2 : c->Tk;
        int pos = (int)(at_rng_uniform(rng) * reach);
        picked[n++] = ((size_t)t * c->B + b) * c->Tk + (size_t)pos;
    }
    return n;
}

static void walk_long(walk_kind kind, int T, int Tk, double rise, double noise) {
    at_rng rng;
    at_rng_seed(&rng, 9000u + (unsigned)T + (unsigned)kind);
    walk c = {.kind = kind, .T = T, .B = 2, .Tk = Tk, .Dv = 2};
    walk_make(&c, rise, noise, &rng);
    size_t nE = (size_t)T * c.B * Tk, nV = (size_t)c.B * Tk * c.Dv, nu = (size_t)T * c.B;
    float *dE = malloc(nE * sizeof(float)), *du = malloc(nu * sizeof(float));
    float *dV = malloc(nV * sizeof(float));
    double loss_attend = 0.0;
    walk_attend(&c, dE, du, dV, &loss_attend);

    char name[128], what[192];
    snprintf(name, sizeof name, "%s, T %d, Tk %d", walk_names[kind], T, Tk);
    CHECK(test_all_finite(dE, nE) && test_all_finite(du, nu) && test_all_finite(dV, nV),
          "%s: every gradient is finite", name);

    /* the reference run: the loss, α of every step, and dV exactly */
    double *alphas = malloc((size_t)c.B * T * Tk * sizeof(double));
    double *work = malloc(2 * (size_t)Tk * sizeof(double)), *dV_ref = calloc(nV, sizeof(double));
    double loss_ref = 0.0;
    for (int b = 0; b < c.B; b++) {
        double *a_b = alphas + (size_t)b * T * Tk;
        loss_ref += walk_row(&c, b, 0, NULL, a_b, work);
        // dL/dv[b, n, k] = Σ_t α_t(n) R_t[b, k]
        for (int t = 0; t < T; t++)
            for (int n = 0; n < Tk; n++)
                for (int k = 0; k < c.Dv; k++)
                    dV_ref[((size_t)b * Tk + n) * c.Dv + k] +=
                        a_b[(size_t)t * Tk + n] * c.R[((size_t)t * c.B + b) * c.Dv + k];
    }
    check_loss(name, loss_attend, loss_ref);
    snprintf(what, sizeof what, "%s: dL/dvalues", name);
    check_close_to_double(what, dV, dV_ref, nV, 1e-4 * max_abs(dV_ref, nV), 1e-3);

    /* dE (and du) by central differences of the reference */
    size_t picked[32];
    probe probes[32];
    int n = walk_pick(&c, dE, &rng, picked);
    for (int i = 0; i < n; i++) {
        size_t at = picked[i];
        int t = (int)(at / ((size_t)c.B * Tk)), b = (int)(at / Tk % c.B);
        probes[i] =
            (probe){at, walk_difference(&c, b, t, &c.E[at], alphas + (size_t)b * T * Tk, work)};
    }
    snprintf(what, sizeof what, "%s: dL/dE (the scores)", name);
    check_probes(what, dE, probes, n, 2e-4, 2e-3);
    if (kind == WALK_FORWARD_TRANSITION) {
        int n_u = T >= 1000 ? 4 : 8;
        for (int i = 0; i < n_u; i++) {
            int t = i < 2 ? i : (int)(at_rng_uniform(&rng) * T), b = i % c.B;
            size_t at = (size_t)t * c.B + b;
            probes[i] =
                (probe){at, walk_difference(&c, b, t, &c.u[at], alphas + (size_t)b * T * Tk, work)};
        }
        snprintf(what, sizeof what, "%s: dL/du (the transition)", name);
        check_probes(what, du, probes, n_u, 2e-4, 2e-3);
    }
    free(c.E), free(c.u), free(c.V), free(c.R), free(c.keep), free(c.prob), free(dE), free(du),
        free(dV);
    free(alphas), free(work), free(dV_ref);
}

/* ============================== 3-4. recurrent layers and the seed decoder
 * These references read double copies ("mirrors") of attend's parameter
 * and input tensors; a probe perturbs one entry of a mirror and the whole
 * reference runs again (a few hundred thousand multiply-adds). */

#define MAX_MIRRORS 32

typedef struct mirrors {
    int n;
    const at_tensor *tensor[MAX_MIRRORS];
    double *copy[MAX_MIRRORS];
} mirrors;

/* The double copy of t (made on first use). */
static double *mirror(mirrors *m, const at_tensor *t) {
    for (int i = 0; i < m->n; i++)
        if (m->tensor[i] == t) return m->copy[i];
    if (m->n == MAX_MIRRORS) {
        fprintf(stderr, "test_long_recursions: too many mirrors\n");
        exit(2);
    }
    double *d = malloc(t->size * sizeof(double));
    for (size_t i = 0; i < t->size; i++)
        d[i] = t->data[i];
    m->tensor[m->n] = t;
    m->copy[m->n++] = d;
    return d;
}

static void mirrors_free(mirrors *m) {
    for (int i = 0; i < m->n; i++)
        free(m->copy[i]);
    m->n = 0;
}

typedef double (*reference_loss)(const void *user, mirrors *m);

/* Central differences of `loss` at entries of the tensors' mirrors, against
 * attend's gradients; at[i] is an entry of tensors[i]. */
static void check_by_differences(const char *what, reference_loss loss, const void *user,
                                 mirrors *m, int n, at_tensor *const *tensors, const size_t *at) {
    probe *probes = malloc((size_t)n * sizeof(probe));
    float *got = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) {
        double *x = mirror(m, tensors[i]) + at[i], saved = *x;
        *x = saved + FD_STEP;
        double up = loss(user, m);
        *x = saved - FD_STEP;
        double down = loss(user, m);
        *x = saved;
        probes[i] = (probe){(size_t)i, (up - down) / (2.0 * FD_STEP)};
        got[i] = tensors[i]->grad ? tensors[i]->grad[at[i]] : 0.0f;
    }
    check_probes(what, got, probes, n, 2e-4, 2e-3);
    free(probes), free(got);
}

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

/* pre (rows) = b1 + b2 + W1 x (W1 (rows, nx)) + W2 h (W2 (rows, nh)); any
 * of b2, W2 may be NULL. */
static void affine_ref(int rows, const double *b1, const double *b2, const double *W1,
                       const double *x, int nx, const double *W2, const double *h, int nh,
                       double *pre) {
    for (int r = 0; r < rows; r++) {
        double s = b1[r] + (b2 ? b2[r] : 0.0);
        for (int i = 0; i < nx; i++)
            s += W1[(size_t)r * nx + i] * x[i];
        for (int i = 0; W2 && i < nh; i++)
            s += W2[(size_t)r * nh + i] * h[i];
        pre[r] = s;
    }
}

/* ------------------------------------------------ 3. LSTM, GRU, BiLSTM */

typedef enum rnn_kind { RNN_LSTM, RNN_GRU, RNN_BILSTM } rnn_kind;
static const char *const rnn_names[] = {"LSTM", "GRU", "BiLSTM"};

typedef struct rnn_long {
    rnn_kind kind;
    int T, B, I, H;
    at_lstm lstm[2]; /* LSTM: [0]; BiLSTM: forward, reverse */
    at_gru gru;
    at_tensor *x, *R; /* (B, T, I), (B, T, H or 2H) */
} rnn_long;

/* One direction of an LSTM or GRU over row b in double; out (T, H) with
 * stride `stride` between steps. */
static void rnn_direction_ref(const rnn_long *c, mirrors *m, int gates, at_tensor *const *w,
                              int reverse, int b, double *out, int stride) {
    int H = c->H, I = c->I;
    const double *W_ih = mirror(m, w[0]), *W_hh = mirror(m, w[1]);
    const double *b_ih = mirror(m, w[2]), *b_hh = mirror(m, w[3]), *x = mirror(m, c->x);
    double h[16] = {0}, cell[16] = {0}, pre[64], hidden[64];
    for (int s = 0; s < c->T; s++) {
        int t = reverse ? c->T - 1 - s : s;
        const double *x_t = x + ((size_t)b * c->T + t) * I;
        if (gates == 4) {
            // i, f, g, o = σ, σ, tanh, σ of W_ih x + b_ih + W_hh h + b_hh
            affine_ref(4 * H, b_ih, b_hh, W_ih, x_t, I, W_hh, h, H, pre);
            for (int k = 0; k < H; k++) {
                double i_k = sigmoid_ref(pre[k]), f_k = sigmoid_ref(pre[H + k]);
                double g_k = tanh(pre[2 * H + k]), o_k = sigmoid_ref(pre[3 * H + k]);
                cell[k] = f_k * cell[k] + i_k * g_k;
                h[k] = o_k * tanh(cell[k]);
            }
        } else {
            // r, z = σ(...), n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h = (1 − z) n + z h
            affine_ref(3 * H, b_ih, NULL, W_ih, x_t, I, NULL, NULL, 0, pre);
            affine_ref(3 * H, b_hh, NULL, W_hh, h, H, NULL, NULL, 0, hidden);
            for (int k = 0; k < H; k++) {
                double r = sigmoid_ref(pre[k] + hidden[k]);
                double z = sigmoid_ref(pre[H + k] + hidden[H + k]);
                double n = tanh(pre[2 * H + k] + r * hidden[2 * H + k]);
                h[k] = (1.0 - z) * n + z * h[k];
            }
        }
        memcpy(out + (size_t)t * stride, h, (size_t)H * sizeof(double));
    }
}

static double rnn_loss_ref(const void *user, mirrors *m) {
    const rnn_long *c = user;
    int width = c->kind == RNN_BILSTM ? 2 * c->H : c->H;
    double *out = malloc((size_t)c->T * width * sizeof(double)), loss = 0.0;
    const double *R = mirror(m, c->R);
    for (int b = 0; b < c->B; b++) {
        if (c->kind == RNN_GRU) {
            at_tensor *w[4] = {c->gru.weight_ih, c->gru.weight_hh, c->gru.bias_ih, c->gru.bias_hh};
            rnn_direction_ref(c, m, 3, w, 0, b, out, width);
        }
        for (int dir = 0; c->kind != RNN_GRU && dir < (c->kind == RNN_BILSTM ? 2 : 1); dir++) {
            const at_lstm *l = &c->lstm[dir];
            at_tensor *w[4] = {l->weight_ih, l->weight_hh, l->bias_ih, l->bias_hh};
            rnn_direction_ref(c, m, 4, w, dir, b, out + dir * c->H, width);
        }
        for (size_t i = 0; i < (size_t)c->T * width; i++)
            loss += out[i] * R[(size_t)b * c->T * width + i];
    }
    free(out);
    return loss;
}

static void rnn_long_case(rnn_kind kind, int T) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 9100u + (unsigned)kind);
    rnn_long c = {.kind = kind, .T = T, .B = 2, .I = 3, .H = 4};
    at_bilstm bi;
    if (kind == RNN_LSTM)
        CHECK_OK(ctx, at_lstm_init(ctx, &c.lstm[0], params, "l", c.I, c.H, 0, &rng));
    if (kind == RNN_GRU) CHECK_OK(ctx, at_gru_init(ctx, &c.gru, params, "g", c.I, c.H, 0, &rng));
    if (kind == RNN_BILSTM) {
        CHECK_OK(ctx, at_bilstm_init(ctx, &bi, params, "b", c.I, c.H, &rng));
        c.lstm[0] = bi.fwd, c.lstm[1] = bi.bwd;
    }
    test_jitter_params(params, &rng, 0.3f);
    int width = kind == RNN_BILSTM ? 2 * c.H : c.H;
    float *x = test_random_floats((size_t)c.B * T * c.I, -1, 1, &rng);
    float *R = test_random_floats((size_t)c.B * T * width, -1, 1, &rng);
    CHECK_OK(ctx, at_tensor_from(ctx, &c.x, 3, (const int[]){c.B, T, c.I}, x));
    CHECK_OK(ctx, at_tensor_from(ctx, &c.R, 3, (const int[]){c.B, T, width}, R));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, c.x));
    at_tensor *out = NULL, *total = NULL;
    if (kind == RNN_LSTM)
        CHECK_OK(ctx, at_lstm_forward(ctx, &c.lstm[0], c.x, NULL, NULL, NULL, &out, NULL, NULL));
    if (kind == RNN_GRU) CHECK_OK(ctx, at_gru_forward(ctx, &c.gru, c.x, NULL, NULL, &out, NULL));
    if (kind == RNN_BILSTM) CHECK_OK(ctx, at_bilstm_forward(ctx, &bi, c.x, NULL, &out, NULL));
    add_projection(ctx, &total, out, c.R);
    CHECK_OK(ctx, at_backward(ctx, total));

    char what[96];
    snprintf(what, sizeof what, "%s, T %d", rnn_names[kind], T);
    CHECK(gradients_finite(params, 1, &c.x), "%s: every gradient is finite", what);
    mirrors m = {0};
    check_loss(what, total->data[0], rnn_loss_ref(&c, &m));

    /* probes: three entries of every parameter, and x at the first, the
     * last and random steps (the longest ways back, both directions) */
    at_tensor *tensors[64];
    size_t at[64];
    int n = 0;
    for (int p = 0; p < at_params_count(params); p++) {
        at_tensor *t = at_params_get(params, p);
        size_t picks[3] = {0, t->size - 1, (size_t)(at_rng_uniform(&rng) * t->size)};
        for (int k = 0; k < 3; k++)
            tensors[n] = t, at[n++] = picks[k];
    }
    int steps[4] = {0, T - 1, (int)(at_rng_uniform(&rng) * T), (int)(at_rng_uniform(&rng) * T)};
    for (int k = 0; k < 8; k++)
        tensors[n] = c.x, at[n++] = ((size_t)(k % 2) * T + steps[k / 2]) * c.I + (size_t)(k % c.I);
    snprintf(what, sizeof what, "%s, T %d: gradients by central differences", rnn_names[kind], T);
    check_by_differences(what, rnn_loss_ref, &c, &m, n, tensors, at);
    mirrors_free(&m);
    free(x), free(R);
    at_params_free(params);
    at_ctx_free(ctx);
}

/* ------------------------------------------------- 4. the seed decoder */

typedef struct decoder_long {
    int T, B, Tx, Y, Dh, S, V, A;
    at_attention_decoder dec;
    at_tensor *ann, *y, *R; /* (B, Tx, Dh), (T, B, Y), (T, B, V) */
    uint8_t *keep;          /* (B, Tx)                           */
} decoder_long;

/* The seed decoder of attend.h in double, for T steps of row b. */
static double decoder_row_ref(const decoder_long *c, mirrors *m, int b) {
    const at_attention_decoder *d = &c->dec;
    const at_additive *att = &d->attention;
    int Tx = c->Tx, Dh = c->Dh, S = c->S, A = c->A, Y = c->Y, V = c->V;
    const double *h = mirror(m, c->ann) + (size_t)b * Tx * Dh, *R = mirror(m, c->R);
    const double *v_a = mirror(m, att->v_a);
    double kp[16][8], s[8], e[16], alpha[16], ctx_[8], pre[8], r[8], z[8], rs[8], cand[8],
        logits[8], zero[8] = {0}, loss = 0.0;
    // keys_proj_j = U_a h_j + b_a;  s_0 = tanh(W_s h_1)
    for (int j = 0; j < Tx; j++)
        affine_ref(A, mirror(m, att->b_a), NULL, mirror(m, att->U_a), h + (size_t)j * Dh, Dh, NULL,
                   NULL, 0, kp[j]);
    affine_ref(S, zero, NULL, mirror(m, d->W_s), h, Dh, NULL, NULL, 0, s);
    for (int k = 0; k < S; k++)
        s[k] = tanh(s[k]);
    for (int t = 0; t < c->T; t++) {
        const double *y = mirror(m, c->y) + ((size_t)t * c->B + b) * Y;
        // e_j = v_aᵀ tanh(W_a s + kp_j), α = softmax over kept j, c = Σ_j α_j h_j
        double wq[8], max = -INFINITY, sum = 0.0;
        affine_ref(A, zero, NULL, mirror(m, att->W_a), s, S, NULL, NULL, 0, wq);
        for (int j = 0; j < Tx; j++) {
            e[j] = 0.0;
            for (int a = 0; a < A; a++)
                e[j] += v_a[a] * tanh(wq[a] + kp[j][a]);
            if (c->keep[(size_t)b * Tx + j]) max = fmax(max, e[j]);
        }
        for (int j = 0; j < Tx; j++)
            sum += (alpha[j] = c->keep[(size_t)b * Tx + j] ? exp(e[j] - max) : 0.0);
        for (int k = 0; k < Dh; k++)
            ctx_[k] = 0.0;
        for (int j = 0; j < Tx; j++)
            for (int k = 0; k < Dh; k++)
                ctx_[k] += alpha[j] / sum * h[(size_t)j * Dh + k];
        // r, z = σ(W y + U s + C c + b);  s̃ = tanh(W_p y + U_p (r ∘ s) + C_p c + b_p)
        affine_ref(S, mirror(m, d->b_r), NULL, mirror(m, d->W_r), y, Y, mirror(m, d->U_r), s, S,
                   pre);
        affine_ref(S, pre, NULL, mirror(m, d->C_r), ctx_, Dh, NULL, NULL, 0, r);
        affine_ref(S, mirror(m, d->b_z), NULL, mirror(m, d->W_z), y, Y, mirror(m, d->U_z), s, S,
                   pre);
        affine_ref(S, pre, NULL, mirror(m, d->C_z), ctx_, Dh, NULL, NULL, 0, z);
        for (int k = 0; k < S; k++) {
            r[k] = sigmoid_ref(r[k]);
            z[k] = sigmoid_ref(z[k]);
            rs[k] = r[k] * s[k];
        }
        affine_ref(S, mirror(m, d->b_p), NULL, mirror(m, d->W_p), y, Y, mirror(m, d->U_p), rs, S,
                   pre);
        affine_ref(S, pre, NULL, mirror(m, d->C_p), ctx_, Dh, NULL, NULL, 0, cand);
        for (int k = 0; k < S; k++) // s_t = (1 − z) s_{t−1} + z s̃
            s[k] = (1.0 - z[k]) * s[k] + z[k] * tanh(cand[k]);
        // logits = W_o y + U_o s_t + C_o c + b_o
        affine_ref(V, mirror(m, d->b_o), NULL, mirror(m, d->W_o), y, Y, mirror(m, d->U_o), s, S,
                   pre);
        affine_ref(V, pre, NULL, mirror(m, d->C_o), ctx_, Dh, NULL, NULL, 0, logits);
        for (int k = 0; k < V; k++)
            loss += logits[k] * R[((size_t)t * c->B + b) * V + k];
    }
    return loss;
}

static double decoder_loss_ref(const void *user, mirrors *m) {
    const decoder_long *c = user;
    double loss = 0.0;
    for (int b = 0; b < c->B; b++)
        loss += decoder_row_ref(c, m, b);
    return loss;
}

static void decoder_long_case(int T) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    CHECK_OK(ctx, at_params_create(ctx, &params));
    at_rng rng;
    at_rng_seed(&rng, 9200u);
    decoder_long c = {.T = T, .B = 2, .Tx = 6, .Y = 3, .Dh = 4, .S = 4, .V = 3, .A = 3};
    CHECK_OK(ctx,
             at_attention_decoder_init(ctx, &c.dec, params, "dec", c.Y, c.Dh, c.S, c.V, c.A, &rng));
    test_jitter_params(params, &rng, 0.3f);
    float *ann = test_random_floats((size_t)c.B * c.Tx * c.Dh, -1, 1, &rng);
    float *y = test_random_floats((size_t)T * c.B * c.Y, -1, 1, &rng);
    float *R = test_random_floats((size_t)T * c.B * c.V, -1, 1, &rng);
    c.keep = test_mask_from_lengths(c.B, c.Tx, (const int[]){6, 4});
    CHECK_OK(ctx, at_tensor_from(ctx, &c.ann, 3, (const int[]){c.B, c.Tx, c.Dh}, ann));
    CHECK_OK(ctx, at_tensor_from(ctx, &c.y, 3, (const int[]){T, c.B, c.Y}, y));
    CHECK_OK(ctx, at_tensor_from(ctx, &c.R, 3, (const int[]){T, c.B, c.V}, R));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, c.ann));
    CHECK_OK(ctx, at_tensor_require_grad(ctx, c.y));
    at_attn_mask mask = {c.keep, c.B, 0};
    at_tensor *kp, *s, *logits, *total = NULL;
    CHECK_OK(ctx, at_additive_project_keys(ctx, &c.dec.attention, c.ann, &kp));
    CHECK_OK(ctx, at_attention_decoder_start(ctx, &c.dec, c.ann, &s));
    for (int t = 0; t < T; t++) {
        CHECK_OK(ctx, at_attention_decoder_step(ctx, &c.dec, step_of(ctx, c.y, t), s, c.ann, kp,
                                                &mask, &s, &logits, NULL));
        add_projection(ctx, &total, logits, step_of(ctx, c.R, t));
    }
    CHECK_OK(ctx, at_backward(ctx, total));

    char what[96];
    snprintf(what, sizeof what, "seed decoder, T %d", T);
    CHECK(gradients_finite(params, 2, (at_tensor *const[]){c.ann, c.y}),
          "%s: every gradient is finite", what);
    mirrors m = {0};
    check_loss(what, total->data[0], decoder_loss_ref(&c, &m));

    /* probes: two entries of every parameter, the annotations, and y at
     * the first step (the longest way back through s) and at random */
    at_tensor *tensors[64];
    size_t at[64];
    int n = 0;
    for (int p = 0; p < at_params_count(params); p++) {
        at_tensor *t = at_params_get(params, p);
        tensors[n] = t, at[n++] = (size_t)(at_rng_uniform(&rng) * t->size);
        tensors[n] = t, at[n++] = t->size - 1;
    }
    for (int k = 0; k < 4; k++)
        tensors[n] = c.ann, at[n++] = (size_t)(at_rng_uniform(&rng) * c.ann->size);
    for (int k = 0; k < 4; k++) {
        int t = k < 2 ? 0 : (int)(at_rng_uniform(&rng) * T);
        tensors[n] = c.y, at[n++] = ((size_t)t * c.B + (size_t)(k % 2)) * c.Y + (size_t)k % c.Y;
    }
    snprintf(what, sizeof what, "seed decoder, T %d: gradients by central differences", T);
    check_by_differences(what, decoder_loss_ref, &c, &m, n, tensors, at);
    mirrors_free(&m);
    free(ann), free(y), free(R), free(c.keep);
    at_params_free(params);
    at_ctx_free(ctx);
}

int main(void) {
    /* 1. forward attention: every gradient was NaN before issue 9's fix */
    walk_long(WALK_FORWARD, 200, 250, 0.1, 0.3);
    walk_long(WALK_FORWARD_TRANSITION, 200, 250, 0.1, 0.3);
    walk_long(WALK_FORWARD, 1000, 1050, 0.1, 0.3);
    walk_long(WALK_FORWARD_TRANSITION, 1000, 1050, 0.1, 0.3);
    /* 2. monotonic attention's expected alignment */
    walk_long(WALK_MONOTONIC, 1000, 1000, 1.0, 1.0);
    /* 3. the recurrent layers */
    rnn_long_case(RNN_LSTM, 1000);
    rnn_long_case(RNN_GRU, 1000);
    rnn_long_case(RNN_BILSTM, 1000);
    /* 4. the seed decoder's state */
    decoder_long_case(1000);
    return test_finish("long recursions");
}
