/*
 * test_trainer_parallel.c - the trainer's data parallelism (at_reducer)
 * without MPI: the "processes" are threads of this test, each with its own
 * context and its own copy of the model, joined by a reducer that sums in
 * rank order behind a barrier. So the core library's side is checked in
 * every build (ATTEND_MPI off too, and under the sanitizers); the MPI side
 * is tests/test_mpi.py.
 *
 * The model: a softmax classifier of 2-D points into 3 classes whose loss,
 * like the seq2seq model's, is a mean over "tokens": example i counts
 * 1 + i % 3 times, so slices of equal examples weigh differently.
 *
 * Checks:
 *   - 2 ranks with batch 8 end where 1 process with batch 8 does (every
 *     parameter within 1e-5 of its tensor's scale) with equal validation
 *     counts (split evaluation); without the model's weight callback they
 *     do not (the slices' token counts matter);
 *   - rank 1 writes nothing (its out_dir is never made); the checkpoint
 *     holds train.ranks = 2, and resuming it in 1 process is refused;
 *   - a batch that is not a multiple of the ranks is refused;
 *   - ranks that start from different weights fail together (AT_ERR_STATE),
 *     and so do ranks whose model weighs a batch as 0;
 *   - a stop asked of rank 1 alone stops both at the same step.
 *
 * And the library's own crew of threads, at_train_replicas:
 *   - 2 replicas end on the same bytes as the 2 ranks above (both sum in
 *     rank order), again when repeated, from models whose initial weights
 *     differ (replica 0's are copied); only replica 0 writes;
 *   - a replica whose loss fails at its 5th call ends the other (no wait
 *     forever), and the error names the failing replica and its cause;
 *   - it refuses: 0 or too many replicas, a reducer as well, one model
 *     twice, replicas that are not one model, a batch they cannot share;
 *   - the crew's sum (par_share_floats, par_share_doubles) over 3 buffers
 *     of 1,500 elements (several of its blocks) is, bit for bit, the plain
 *     rank-order loop's, in [lo, hi) and nowhere else.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h" /* AT_TRY */
#include "parallel.h" /* par_share_floats */
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A check that names itself when it fails. */
#define EXPECT(cond) CHECK(cond, "%s", #cond)

enum { CLASSES = 3, FEATURES = 2, TRAIN = 96, VALID = 30, RANKS_MAX = 4 };

/* ------------------------------------------------------- a thread reducer */

typedef struct group {
    int ranks;
    pthread_barrier_t barrier;
    void *slot[RANKS_MAX];
    double sums[64 + TRAIN * 8];
} group;

typedef struct member {
    group *g;
    int rank;
} member;

/* Every rank's values summed in rank order (the same bytes for all). */
static void sum_in_order(member *m, void *values, size_t count, int is_double) {
    group *g = m->g;
    g->slot[m->rank] = values;
    pthread_barrier_wait(&g->barrier);
    if (m->rank == 0)
        for (size_t i = 0; i < count; i++) {
            double d = 0;
            float f = 0;
            for (int r = 0; r < g->ranks; r++) {
                if (is_double) d += ((double *)g->slot[r])[i];
                else f += ((float *)g->slot[r])[i];
            }
            g->sums[i] = is_double ? d : f;
        }
    pthread_barrier_wait(&g->barrier);
    for (size_t i = 0; i < count; i++) {
        if (is_double) ((double *)values)[i] = g->sums[i];
        else ((float *)values)[i] = (float)g->sums[i];
    }
    pthread_barrier_wait(&g->barrier);
}

static at_status sum_floats(at_ctx *ctx, void *user, float *values, size_t count) {
    (void)ctx;
    sum_in_order(user, values, count, 0);
    return AT_OK;
}

static at_status sum_doubles(at_ctx *ctx, void *user, double *values, size_t count) {
    (void)ctx;
    sum_in_order(user, values, count, 1);
    return AT_OK;
}

/* -------------------------------------------------------------- the model */

typedef struct toy {
    at_params *params;
    at_dense layer;
    float x[TRAIN + VALID][FEATURES];
    int32_t y[TRAIN + VALID];
    int calls, fail_at_call; /* loss calls so far; fail the n-th (0: never) */
    at_trainable trainable;
} toy;

static int tokens(size_t i) { return 1 + (int)(i % 3); }

static at_status toy_loss(at_ctx *ctx, void *self, const size_t *idx, int n, at_tensor **loss) {
    toy *t = self;
    if (++t->calls == t->fail_at_call)
        return at_ctx_fail(ctx, AT_ERR_NUMERIC, "toy: asked to fail at loss call %d", t->calls);
    float x[64 * 3 * FEATURES];
    int32_t y[64 * 3];
    int rows = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < tokens(idx[i]); k++, rows++) {
            memcpy(x + rows * FEATURES, t->x[idx[i]], sizeof t->x[0]);
            y[rows] = t->y[idx[i]];
        }
    at_tensor *in, *logits;
    AT_TRY(at_tensor_from(ctx, &in, 2, (int[]){rows, FEATURES}, x));
    AT_TRY(at_dense_forward(ctx, &t->layer, in, &logits));
    return at_cross_entropy(ctx, loss, logits, y, -100, 0.0f);
}

static double zero_weight(void *self, const size_t *idx, int n) {
    (void)self, (void)idx, (void)n;
    return 0;
}

static double toy_weight(void *self, const size_t *idx, int n) {
    (void)self;
    double w = 0;
    for (int i = 0; i < n; i++) w += tokens(idx[i]);
    return w;
}

/* Right answers among validation points first, first + step, ... */
static at_status count_right(at_ctx *ctx, toy *t, int first, int step, double *right) {
    at_tensor *in, *logits;
    AT_TRY(at_tensor_from(ctx, &in, 2, (int[]){VALID, FEATURES}, &t->x[TRAIN][0]));
    AT_TRY(at_dense_forward(ctx, &t->layer, in, &logits));
    for (int i = first; i < VALID; i += step) {
        const float *row = logits->data + i * CLASSES;
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (row[c] > row[best]) best = c;
        *right += best == t->y[TRAIN + i];
    }
    return AT_OK;
}

static at_status toy_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    double right = 0;
    AT_TRY(count_right(ctx, self, 0, 1, &right));
    return at_metrics_set(ctx, metrics, "accuracy", right / VALID);
}

static at_status toy_shard(at_ctx *ctx, void *self, int shard, int shards, double *counts) {
    return count_right(ctx, self, shard, shards, &counts[0]);
}

static at_status toy_finish(at_ctx *ctx, void *self, const double *counts, at_metrics *metrics) {
    (void)self;
    return at_metrics_set(ctx, metrics, "accuracy", counts[0] / VALID);
}

static at_status toy_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    toy *t = self;
    return at_checkpoint_save(ctx, path, t->params, extra);
}

static void toy_make_wide(at_ctx *ctx, toy *t, uint64_t init_seed, int classes) {
    memset(t, 0, sizeof *t);
    at_rng rng;
    at_rng_seed(&rng, 7);
    static const float centre[CLASSES][FEATURES] = {{2, 0}, {-1, 1.7f}, {-1, -1.7f}};
    for (int i = 0; i < TRAIN + VALID; i++) {
        int c = (int)at_rng_below(&rng, CLASSES);
        t->y[i] = c;
        for (int f = 0; f < FEATURES; f++) t->x[i][f] = centre[c][f] + 0.7f * at_rng_normal(&rng);
    }
    at_rng_seed(&rng, init_seed);
    at_params_create(ctx, &t->params);
    at_dense_init(ctx, &t->layer, t->params, "fc", FEATURES, classes, 1, &rng);
    t->trainable = (at_trainable){.self = t, .params = t->params, .count = TRAIN,
                                  .loss = toy_loss, .evaluate = toy_evaluate, .save = toy_save,
                                  .evaluate_shard = toy_shard, .evaluate_finish = toy_finish,
                                  .weight = toy_weight};
}

static void toy_make(at_ctx *ctx, toy *t, uint64_t init_seed) {
    toy_make_wide(ctx, t, init_seed, CLASSES);
}

/* ---------------------------------------------------------------- a run */

typedef struct run {
    /* in */
    char out[256];
    int rank, batch, resume, no_weight, zero_weight;
    uint64_t init_seed;
    volatile sig_atomic_t stop;
    member self;
    at_reducer reducer;
    int with_reducer;
    /* out */
    at_status status;
    char error[512];
    at_train_result result;
    float weights[CLASSES * FEATURES + CLASSES];
} run;

static void *train_one(void *arg) {
    run *r = arg;
    at_ctx *ctx = test_new_ctx_with(11, 1);
    toy *t = malloc(sizeof *t);
    toy_make(ctx, t, r->init_seed ? r->init_seed : 5);
    if (r->no_weight) t->trainable.weight = NULL;
    if (r->zero_weight) t->trainable.weight = zero_weight;
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = r->out;
    o.steps = 30;
    o.batch = r->batch;
    o.seed = 3;
    o.optim.lr = 0.05f;
    o.eval_every = 10;
    o.resume = r->resume;
    o.stop = &r->stop;
    if (r->with_reducer) o.reducer = &r->reducer;
    r->status = at_train(ctx, &t->trainable, &o, &r->result);
    snprintf(r->error, sizeof r->error, "%s", r->status == AT_OK ? "" : at_ctx_error(ctx));
    size_t k = 0;
    for (int i = 0; i < at_params_count(t->params); i++) {
        const at_tensor *p = at_params_get(t->params, i);
        for (size_t j = 0; j < p->size; j++) r->weights[k++] = p->data[j];
    }
    at_params_free(t->params);
    free(t);
    at_ctx_free(ctx);
    return NULL;
}

/* Runs runs[0 .. ranks) as one job of `ranks` threads. */
static void train_job(run *runs, int ranks) {
    group *g = calloc(1, sizeof *g);
    g->ranks = ranks;
    pthread_barrier_init(&g->barrier, NULL, (unsigned)ranks);
    pthread_t threads[RANKS_MAX];
    for (int r = 0; r < ranks; r++) {
        runs[r].self = (member){g, r};
        runs[r].reducer = (at_reducer){.rank = r, .ranks = ranks, .sum_floats = sum_floats,
                                       .sum_doubles = sum_doubles, .user = &runs[r].self};
        runs[r].with_reducer = 1;
        pthread_create(&threads[r], NULL, train_one, &runs[r]);
    }
    for (int r = 0; r < ranks; r++) pthread_join(threads[r], NULL);
    pthread_barrier_destroy(&g->barrier);
    free(g);
}

static run job_run(const char *dir, const char *name, int rank) {
    run r = {.batch = 8, .rank = rank};
    snprintf(r.out, sizeof r.out, "%s/%s-rank%d", dir, name, rank);
    return r;
}

/* Largest |a - b| over the weights of the two runs, relative to the largest |a|. */
static double apart(const run *a, const run *b) {
    double worst = 0, scale = 0;
    for (int i = 0; i < CLASSES * FEATURES + CLASSES; i++) {
        worst = fmax(worst, fabs((double)a->weights[i] - b->weights[i]));
        scale = fmax(scale, fabs((double)a->weights[i]));
    }
    return worst / scale;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static float two_ranks_weights[CLASSES * FEATURES + CLASSES]; /* test_same_numbers' */

static void test_same_numbers(const char *dir) {
    run one = job_run(dir, "one", 0);
    train_one(&one);
    EXPECT(one.status == AT_OK);
    run two[2] = {job_run(dir, "two", 0), job_run(dir, "two", 1)};
    train_job(two, 2);
    EXPECT(two[0].status == AT_OK && two[1].status == AT_OK);
    if (two[0].status != AT_OK || two[1].status != AT_OK)
        fprintf(stderr, "  2 ranks: '%s' / '%s'\n", two[0].error, two[1].error);
    double d = apart(&one, &two[0]);
    printf("2 ranks vs 1 process: largest difference %.3g of the weights' scale\n", d);
    EXPECT(d <= 1e-5);
    EXPECT(memcmp(two[0].weights, two[1].weights, sizeof two[0].weights) == 0);
    memcpy(two_ranks_weights, two[0].weights, sizeof two_ranks_weights);
    EXPECT(two[0].result.last.count == 1 && one.result.last.count == 1);
    EXPECT(two[0].result.last.value[0] == one.result.last.value[0]);
    EXPECT(two[0].result.last.value[0] > 0.8); /* it learns */
    EXPECT(!exists(two[1].out)); /* rank 1 writes nothing */
    char path[512];
    snprintf(path, sizeof path, "%s/last.safetensors", two[0].out);
    at_metadata meta = {0};
    EXPECT(at_checkpoint_read_metadata(NULL, path, &meta) == AT_OK);
    const char *ranks = at_metadata_get(&meta, "train.ranks");
    EXPECT(ranks && !strcmp(ranks, "2"));
    at_metadata_clear(&meta);
    /* and one process without a reducer stamps nothing new */
    snprintf(path, sizeof path, "%s/last.safetensors", one.out);
    EXPECT(at_checkpoint_read_metadata(NULL, path, &meta) == AT_OK);
    EXPECT(at_metadata_get(&meta, "train.ranks") == NULL);
    at_metadata_clear(&meta);

    /* the slices' token counts matter: equal weights for equal examples miss */
    run plain[2] = {job_run(dir, "plain", 0), job_run(dir, "plain", 1)};
    plain[0].no_weight = plain[1].no_weight = 1;
    train_job(plain, 2);
    double off = apart(&one, &plain[0]);
    printf("without the weight callback: %.3g\n", off);
    EXPECT(off > 1e-4);

    /* resuming a 2-rank checkpoint in 1 process is refused */
    run again = job_run(dir, "two", 0);
    again.resume = 1;
    train_one(&again);
    EXPECT(again.status == AT_ERR_ARGUMENT);
    EXPECT(strstr(again.error, "trained by 2 processes, now 1") != NULL);
    if (!strstr(again.error, "now 1")) fprintf(stderr, "  resume: '%s'\n", again.error);
}

static void test_refusals(const char *dir) {
    run odd[2] = {job_run(dir, "odd", 0), job_run(dir, "odd", 1)};
    odd[0].batch = odd[1].batch = 7;
    train_job(odd, 2);
    EXPECT(odd[0].status == AT_ERR_ARGUMENT && odd[1].status == AT_ERR_ARGUMENT);
    EXPECT(strstr(odd[0].error, "multiple of the 2 processes") != NULL);

    run apart_runs[2] = {job_run(dir, "apart", 0), job_run(dir, "apart", 1)};
    apart_runs[1].init_seed = 6; /* other initial weights */
    train_job(apart_runs, 2);
    EXPECT(apart_runs[0].status == AT_ERR_STATE && apart_runs[1].status == AT_ERR_STATE);
    EXPECT(strstr(apart_runs[0].error, "disagree") && strstr(apart_runs[0].error, "parameters"));
    if (!strstr(apart_runs[0].error, "disagree"))
        fprintf(stderr, "  disagreement: '%s'\n", apart_runs[0].error);
}

static void test_zero_weight(const char *dir) {
    run zero[2] = {job_run(dir, "zero", 0), job_run(dir, "zero", 1)};
    zero[0].zero_weight = zero[1].zero_weight = 1;
    train_job(zero, 2);
    EXPECT(zero[0].status == AT_ERR_STATE && zero[1].status == AT_ERR_STATE);
    EXPECT(strstr(zero[0].error, "weighs the batch of step 1 as 0") != NULL);
}

static void test_stop_together(const char *dir) {
    run stop[2] = {job_run(dir, "stop", 0), job_run(dir, "stop", 1)};
    stop[1].stop = 1; /* a signal that reached rank 1 alone */
    train_job(stop, 2);
    EXPECT(stop[0].status == AT_OK && stop[1].status == AT_OK);
    EXPECT(stop[0].result.stopped && stop[1].result.stopped);
    EXPECT(stop[0].result.steps == 1 && stop[1].result.steps == 1);
}

/* ------------------------------------------------- at_train_replicas */

typedef struct crew_run {
    at_status status;
    char error[512];
    at_train_result result;
    float weights[CLASSES * FEATURES + CLASSES];
} crew_run;

/* Two toys (replica 1 from other initial weights) through at_train_replicas. */
static crew_run train_crew(const char *out, int batch, int fail_replica, int fail_at_call) {
    crew_run c = {0};
    at_ctx *ctx = test_new_ctx_with(11, 2);
    toy *t = calloc(2, sizeof *t);
    toy_make(ctx, &t[0], 5);
    toy_make(ctx, &t[1], 6);
    if (fail_at_call) t[fail_replica].fail_at_call = fail_at_call;
    const at_trainable *models[2] = {&t[0].trainable, &t[1].trainable};
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out;
    o.steps = 30;
    o.batch = batch;
    o.seed = 3;
    o.optim.lr = 0.05f;
    o.eval_every = 10;
    c.status = at_train_replicas(ctx, models, 2, &o, &c.result);
    snprintf(c.error, sizeof c.error, "%s", c.status == AT_OK ? "" : at_ctx_error(ctx));
    size_t k = 0;
    for (int i = 0; i < at_params_count(t[0].params); i++) {
        const at_tensor *p = at_params_get(t[0].params, i);
        for (size_t j = 0; j < p->size; j++) c.weights[k++] = p->data[j];
    }
    for (int r = 0; r < 2; r++) at_params_free(t[r].params);
    free(t);
    at_ctx_free(ctx);
    return c;
}

static void test_replicas(const char *dir) {
    char out[512];
    snprintf(out, sizeof out, "%s/crew", dir);
    crew_run a = train_crew(out, 8, 0, 0);
    EXPECT(a.status == AT_OK);
    if (a.status != AT_OK) fprintf(stderr, "  replicas: '%s'\n", a.error);
    EXPECT(memcmp(a.weights, two_ranks_weights, sizeof a.weights) == 0);
    EXPECT(a.result.steps == 30 && a.result.last.count == 1 && a.result.last.value[0] > 0.8);
    char path[600];
    snprintf(path, sizeof path, "%s/last.safetensors", out);
    at_metadata meta = {0};
    EXPECT(at_checkpoint_read_metadata(NULL, path, &meta) == AT_OK);
    const char *ranks = at_metadata_get(&meta, "train.ranks");
    EXPECT(ranks && !strcmp(ranks, "2"));
    at_metadata_clear(&meta);
    snprintf(out, sizeof out, "%s/crew-again", dir);
    crew_run again = train_crew(out, 8, 0, 0);
    EXPECT(again.status == AT_OK && memcmp(a.weights, again.weights, sizeof a.weights) == 0);

    for (int who = 0; who < 2; who++) { /* a failing replica ends both */
        snprintf(out, sizeof out, "%s/crew-fail%d", dir, who);
        crew_run f = train_crew(out, 8, who, 5);
        char want[64];
        snprintf(want, sizeof want, "replica %d: ", who);
        EXPECT(f.status == AT_ERR_NUMERIC);
        EXPECT(strstr(f.error, want) && strstr(f.error, "asked to fail at loss call 5"));
        if (!strstr(f.error, want)) fprintf(stderr, "  failing replica %d: '%s'\n", who, f.error);
    }
    snprintf(out, sizeof out, "%s/crew-odd", dir);
    crew_run odd = train_crew(out, 7, 0, 0);
    EXPECT(odd.status == AT_ERR_ARGUMENT && strstr(odd.error, "multiple of the 2"));
}

static void test_replicas_refusals(const char *dir) {
    at_ctx *ctx = test_new_ctx_with(11, 1);
    toy *t = calloc(3, sizeof *t);
    toy_make(ctx, &t[0], 5);
    toy_make(ctx, &t[1], 5);
    toy_make_wide(ctx, &t[2], 5, CLASSES + 1);
    at_trainer_options o;
    at_trainer_options_default(&o);
    char out[512];
    snprintf(out, sizeof out, "%s/crew-refused", dir);
    o.out_dir = out;
    o.steps = 2;
    o.batch = 8;
    const at_trainable *pair[2] = {&t[0].trainable, &t[1].trainable};
    const at_trainable *same[2] = {&t[0].trainable, &t[0].trainable};
    const at_trainable *unlike[2] = {&t[0].trainable, &t[2].trainable};
    static const struct {
        int which, replicas, with_reducer;
        const char *says;
    } cases[] = {{0, 0, 0, "0 replicas"},       {0, AT_REPLICAS_MAX + 1, 0, "1 to 64"},
                 {0, 2, 1, "leave opts->reducer NULL"}, {1, 2, 0, "share a model"},
                 {2, 2, 0, "must be one model"}};
    at_reducer r = {.rank = 0, .ranks = 1};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const at_trainable *const *models = cases[i].which == 0   ? pair
                                            : cases[i].which == 1 ? same
                                                                  : unlike;
        o.reducer = cases[i].with_reducer ? &r : NULL;
        at_status s = at_train_replicas(ctx, models, cases[i].replicas, &o, NULL);
        CHECK(s == AT_ERR_ARGUMENT && strstr(at_ctx_error(ctx), cases[i].says),
              "refusal %zu: status %d, '%s', wanted '%s'", i, (int)s, at_ctx_error(ctx),
              cases[i].says);
    }
    EXPECT(!exists(out)); /* refused before anything was written */
    for (int k = 0; k < 3; k++) at_params_free(t[k].params);
    free(t);
    at_ctx_free(ctx);
}

/* ------------------------------------------------- the crew's sum */

enum { SHARE_N = 1500, SHARE_LO = 7, SHARE_HI = 1400, SHARE_BUFFERS = 3 };

static void test_share_in_rank_order(void) {
    static float f[SHARE_BUFFERS][SHARE_N], f0[SHARE_BUFFERS][SHARE_N];
    static double d[SHARE_BUFFERS][SHARE_N], d0[SHARE_BUFFERS][SHARE_N];
    at_rng rng;
    at_rng_seed(&rng, 17);
    for (int q = 0; q < SHARE_BUFFERS; q++)
        for (int k = 0; k < SHARE_N; k++) { /* magnitudes 1e-3 .. 1e3: the order shows */
            float v = (at_rng_uniform(&rng) - 0.5f) * powf(10.0f, 6.0f * at_rng_uniform(&rng) - 3);
            f[q][k] = f0[q][k] = v;
            d[q][k] = d0[q][k] = (double)v * (1.0 + 1e-9 * k);
        }
    float *fs[SHARE_BUFFERS] = {f[0], f[1], f[2]};
    double *ds[SHARE_BUFFERS] = {d[0], d[1], d[2]};
    par_share_floats(fs, SHARE_BUFFERS, SHARE_LO, SHARE_HI);
    par_share_doubles(ds, SHARE_BUFFERS, SHARE_LO, SHARE_HI);
    int bad = 0;
    for (int q = 0; q < SHARE_BUFFERS; q++)
        for (int k = 0; k < SHARE_N; k++) {
            int inside = k >= SHARE_LO && k < SHARE_HI;
            float wf = inside ? (f0[0][k] + f0[1][k]) + f0[2][k] : f0[q][k];
            double wd = inside ? (d0[0][k] + d0[1][k]) + d0[2][k] : d0[q][k];
            if (memcmp(&f[q][k], &wf, sizeof wf) != 0 || memcmp(&d[q][k], &wd, sizeof wd) != 0) {
                if (bad++ < 5)
                    fprintf(stderr,
                            "  share: buffer %d element %d: %.9g / %.17g, want %.9g / %.17g\n", q,
                            k, (double)f[q][k], d[q][k], (double)wf, wd);
            }
        }
    CHECK(bad == 0, "share in rank order: %d elements differ", bad);
}

int main(void) {
    char dir[] = "trainer_parallel_XXXXXX";
    test_enter_scratch_dir(dir);
    test_same_numbers(".");
    test_refusals(".");
    test_zero_weight(".");
    test_stop_together(".");
    test_replicas(".");
    test_replicas_refusals(".");
    test_share_in_rank_order();
    test_leave_scratch_dir(dir);
    return test_finish("trainer_parallel");
}
