/*
 * replicas.c - data parallelism inside one process: `replicas` threads,
 * each training its own copy of one model on its slice of every batch.
 *
 * Splitting every operation over threads (the context's OpenMP threads)
 * makes the threads meet hundreds of times a step, at every parallel loop,
 * and the recurrences and small products they cannot split run on one of
 * them. Replicas meet once a step: each computes the loss and gradients
 * of its whole slice alone, then the gradients are summed (parallel.c's
 * protocol, the one MPI processes use), and every replica takes the same
 * optimiser step. So
 *
 *     replica r:  g_r = (b_r / B) ∇L_r          its slice, its own thread
 *     all:        g   = Σ_r g_r                  summed in rank order
 *                 θ  <- step(θ, g)               the same on every replica
 *
 * The sum is a crew reducer: every replica posts a pointer to its buffer
 * and waits for the others; then each one sums its own share of the
 * elements over all the buffers, always in rank order 0, 1, ..., and
 * writes the sum into every buffer; a second wait ends the call. Each
 * element is one expression computed once, so every replica receives the
 * same bytes, and a repeated run gives the same bytes too. No copies and
 * no allocation.
 *
 * A replica whose training fails (or ends while the others still wait)
 * marks the crew broken and wakes everyone: the others' next or current
 * wait fails with AT_ERR_STATE, so a failure never leaves a thread
 * waiting forever. The caller hears the first cause, not the echoes.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "parallel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- the crew */

typedef struct crew {
    int replicas;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned long round;  /* waits completed                                */
    int arrived;          /* replicas waiting in this round                 */
    int broken;           /* 1: some replica left; every wait fails now     */
    int left_rank;        /* the first to leave                             */
    void *slot[AT_REPLICAS_MAX]; /* each replica's buffer in the current call */
} crew;

typedef struct crew_seat {
    crew *c;
    int rank;
} crew_seat;

/* Wait for every replica to arrive; 0, or -1 if the crew broke. */
static int crew_wait(crew *c) {
    pthread_mutex_lock(&c->lock);
    unsigned long mine = c->round;
    int ok = !c->broken;
    if (ok && ++c->arrived == c->replicas) {
        c->arrived = 0;
        c->round++;
        pthread_cond_broadcast(&c->changed);
    } else {
        while (ok && c->round == mine) {
            pthread_cond_wait(&c->changed, &c->lock);
            ok = c->round != mine || !c->broken;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return ok ? 0 : -1;
}

/* A replica is done (its at_train returned): nobody may wait for it now. */
static void crew_leave(crew *c, int rank) {
    pthread_mutex_lock(&c->lock);
    if (!c->broken) c->left_rank = rank;
    c->broken = 1;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static at_status crew_broken(at_ctx *ctx, crew *c) {
    return at_ctx_fail(ctx, AT_ERR_STATE,
                       "train: replica %d of %d stopped while the others trained",
                       c->left_rank, c->replicas);
}

static at_status crew_sum(at_ctx *ctx, crew_seat *seat, void *values, size_t count,
                          int is_double) {
    crew *c = seat->c;
    c->slot[seat->rank] = values;
    if (crew_wait(c) != 0) return crew_broken(ctx, c);
    size_t lo = count * (size_t)seat->rank / (size_t)c->replicas;
    size_t hi = count * (size_t)(seat->rank + 1) / (size_t)c->replicas;
    if (is_double) {
        double *slots[AT_REPLICAS_MAX];
        for (int q = 0; q < c->replicas; q++) slots[q] = c->slot[q];
        par_share_doubles(slots, c->replicas, lo, hi);
    } else {
        float *slots[AT_REPLICAS_MAX];
        for (int q = 0; q < c->replicas; q++) slots[q] = c->slot[q];
        par_share_floats(slots, c->replicas, lo, hi);
    }
    if (crew_wait(c) != 0) return crew_broken(ctx, c);
    return AT_OK;
}

static at_status crew_sum_floats(at_ctx *ctx, void *user, float *values, size_t count) {
    return crew_sum(ctx, user, values, count, 0);
}

static at_status crew_sum_doubles(at_ctx *ctx, void *user, double *values, size_t count) {
    return crew_sum(ctx, user, values, count, 1);
}

/* ------------------------------------------------------------ a replica */

typedef struct replica {
    crew_seat seat;
    at_reducer reducer;
    at_ctx *ctx;
    const at_trainable *model;
    at_trainer_options opts;
    at_train_result result;
    at_status status;
} replica;

static void *replica_main(void *arg) {
    replica *r = arg;
    r->status = at_train(r->ctx, r->model, &r->opts, &r->result);
    crew_leave(r->seat.c, r->seat.rank);
    return NULL;
}

/* models[r]'s parameters must be models[0]'s tensors; their values become
 * models[0]'s. */
static at_status copy_parameters(at_ctx *ctx, const at_trainable *const *models, int replicas) {
    for (int r = 1; r < replicas; r++) {
        char what[64];
        snprintf(what, sizeof what, "train: replica %d (the replicas must be one model)", r);
        AT_TRY(ati_params_copy_values(ctx, models[r]->params, models[0]->params, what));
    }
    return AT_OK;
}

static at_status check_call(at_ctx *ctx, const at_trainable *const *models, int replicas,
                            const at_trainer_options *opts) {
    if (!opts || !models)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: replicas need models and options");
    if (replicas < 1 || replicas > AT_REPLICAS_MAX)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: %d replicas; 1 to %d can train together", replicas,
                           AT_REPLICAS_MAX);
    if (opts->reducer)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: replicas sum their gradients themselves; over several "
                           "processes too is not supported (leave opts->reducer NULL)");
    for (int r = 0; r < replicas; r++)
        if (!models[r] || !models[r]->params)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: replica %d has no model", r);
        else
            for (int q = 0; q < r; q++)
                if (models[q]->params == models[r]->params || models[q]->self == models[r]->self)
                    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                       "train: replicas %d and %d share a model; each needs its "
                                       "own copy", q, r);
    return AT_OK;
}

/* The cause among the replicas' failures: the first that is not an echo
 * of another's ("stopped while the others trained"). */
static const replica *first_cause(const replica *rs, int replicas) {
    const replica *echo = NULL;
    for (int r = 0; r < replicas; r++) {
        if (rs[r].status == AT_OK) continue;
        if (!strstr(at_ctx_error(rs[r].ctx), "stopped while the others trained")) return &rs[r];
        if (!echo) echo = &rs[r];
    }
    return echo;
}

static at_status run_crew(at_ctx *ctx, replica *rs, int replicas, at_train_result *result) {
    crew c = {.replicas = replicas};
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.changed, NULL);
    pthread_t threads[AT_REPLICAS_MAX];
    int started = 0;
    for (; started < replicas; started++) {
        replica *r = &rs[started];
        r->seat = (crew_seat){&c, started};
        r->reducer = (at_reducer){.rank = started, .ranks = replicas,
                                  .sum_floats = crew_sum_floats,
                                  .sum_doubles = crew_sum_doubles, .user = &r->seat};
        r->opts.reducer = &r->reducer;
        if (pthread_create(&threads[started], NULL, replica_main, r) != 0) break;
    }
    if (started < replicas) crew_leave(&c, started); /* the started ones stop waiting */
    for (int r = 0; r < started; r++) pthread_join(threads[r], NULL);
    pthread_cond_destroy(&c.changed);
    pthread_mutex_destroy(&c.lock);
    if (started < replicas)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "train: cannot start replica %d's thread",
                           started);
    const replica *cause = first_cause(rs, replicas);
    if (cause)
        return at_ctx_fail(ctx, cause->status, "replica %d: %s", (int)(cause - rs),
                           at_ctx_error(cause->ctx));
    if (result) *result = rs[0].result;
    *at_ctx_rng(ctx) = *at_ctx_rng(rs[0].ctx);
    return AT_OK;
}

at_status at_train_replicas(at_ctx *ctx, const at_trainable *const *models, int replicas,
                            const at_trainer_options *opts, at_train_result *result) {
    AT_TRY(check_call(ctx, models, replicas, opts));
    if (replicas == 1) return at_train(ctx, models[0], opts, result);
    AT_TRY(copy_parameters(ctx, models, replicas));
    int threads = at_ctx_threads(ctx) / replicas;
    replica *rs = calloc((size_t)replicas, sizeof *rs);
    if (!rs) return at_ctx_fail(ctx, AT_ERR_MEMORY, "train: no memory for %d replicas", replicas);
    at_status s = AT_OK;
    for (int r = 0; r < replicas && s == AT_OK; r++) {
        at_ctx_options o = {.num_threads = threads > 1 ? threads : 1};
        if (at_ctx_create(&rs[r].ctx, &o) != AT_OK) {
            s = at_ctx_fail(ctx, AT_ERR_MEMORY, "train: no memory for replica %d", r);
            break;
        }
        *at_ctx_rng(rs[r].ctx) = *at_ctx_rng(ctx);
        rs[r].model = models[r];
        rs[r].opts = *opts;
    }
    if (s == AT_OK) s = run_crew(ctx, rs, replicas, result);
    for (int r = 0; r < replicas; r++) at_ctx_free(rs[r].ctx);
    free(rs);
    return s;
}
