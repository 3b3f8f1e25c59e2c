/*
 * test_trainer.c - the library's trainer (at_train) on a small model of its
 * own: a softmax classifier of 2-D points into 3 classes (a Dense layer).
 *
 * Checks:
 *   - it learns (validation accuracy rises well above chance);
 *   - a stop request (set from the progress callback at step 17) saves
 *     last.* and returns with stopped = 1;
 *   - 17 steps + resume to 40 ends with the same bytes as 20 steps in one
 *     run: last.safetensors, last.optim.safetensors, model.safetensors and
 *     metrics.jsonl (timings cut off), with 1 and with 2 threads;
 *   - a killed run resumes from its last save_every checkpoint to the same
 *     bytes (the kill is simulated by copying OUT as it was at step 26, the
 *     last save being at step 25);
 *   - a corrupt last.safetensors or last.optim.safetensors, and every
 *     malformed train.* value, is refused and nothing in OUT changes;
 *   - resuming on other data is refused; metrics.jsonl as a symbolic link
 *     is refused; stale temporary files are removed.
 */
#define _POSIX_C_SOURCE 200809L /* symlink */
#include "internal.h" /* AT_TRY */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CLASSES = 3, FEATURES = 2, TRAIN = 90, VALID = 30 };

typedef struct toy {
    at_params *params;
    at_dense layer;
    float x[TRAIN + VALID][FEATURES];
    int32_t y[TRAIN + VALID];
    at_trainable trainable;
    /* test hooks */
    long stop_at, copy_at;
    const char *copy_from, *copy_to;
    volatile sig_atomic_t stop;
} toy;

static int toy_length(void *self, size_t i) {
    (void)self;
    return (int)(i % 5);
}

static at_status toy_loss(at_ctx *ctx, void *self, const size_t *idx, int n, at_tensor **loss) {
    toy *t = self;
    float x[64 * FEATURES];
    int32_t y[64];
    for (int i = 0; i < n; i++) {
        memcpy(x + i * FEATURES, t->x[idx[i]], sizeof t->x[0]);
        y[i] = t->y[idx[i]];
    }
    at_tensor *in, *logits;
    AT_TRY(at_tensor_from(ctx, &in, 2, (int[]){n, FEATURES}, x));
    AT_TRY(at_dense_forward(ctx, &t->layer, in, &logits));
    return at_cross_entropy(ctx, loss, logits, y, -100, 0.0f);
}

static at_status toy_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    toy *t = self;
    at_tensor *in, *logits;
    AT_TRY(at_tensor_from(ctx, &in, 2, (int[]){VALID, FEATURES}, &t->x[TRAIN][0]));
    AT_TRY(at_dense_forward(ctx, &t->layer, in, &logits));
    int right = 0;
    for (int i = 0; i < VALID; i++) {
        const float *row = logits->data + i * CLASSES;
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (row[c] > row[best]) best = c;
        right += best == t->y[TRAIN + i];
    }
    return at_metrics_set(ctx, metrics, "accuracy", (double)right / VALID);
}

static at_status toy_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    toy *t = self;
    return at_checkpoint_save(ctx, path, t->params, extra);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    unsigned char *bytes = test_read_file(from, &n);
    if (bytes) test_write_file(to, bytes, n);
    free(bytes);
}

static void copy_run(const char *from, const char *to) {
    static const char *names[] = {"last.safetensors", "last.optim.safetensors",
                                  "model.safetensors", "metrics.jsonl"};
    mkdir(to, 0777);
    for (int i = 0; i < 4; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/%s", from, names[i]);
        snprintf(b, sizeof b, "%s/%s", to, names[i]);
        copy_file(a, b);
    }
}

static void on_progress(void *user, const at_train_progress *p) {
    toy *t = user;
    if (t->stop_at && p->step == t->stop_at) t->stop = 1;
    if (t->copy_at && p->step == t->copy_at) copy_run(t->copy_from, t->copy_to);
}

/* Three Gaussian blobs; the same seed, the same data. */
static void toy_make(at_ctx *ctx, toy *t) {
    memset(t, 0, sizeof *t);
    at_rng rng;
    at_rng_seed(&rng, 7);
    static const float centre[CLASSES][FEATURES] = {{2, 0}, {-1, 1.7f}, {-1, -1.7f}};
    for (int i = 0; i < TRAIN + VALID; i++) {
        int c = (int)at_rng_below(&rng, CLASSES);
        t->y[i] = c;
        for (int f = 0; f < FEATURES; f++)
            t->x[i][f] = centre[c][f] + 0.7f * at_rng_normal(&rng);
    }
    at_params_create(ctx, &t->params);
    at_dense_init(ctx, &t->layer, t->params, "fc", FEATURES, CLASSES, 1, &rng);
    t->trainable = (at_trainable){.self = t,
                                  .params = t->params,
                                  .count = TRAIN,
                                  .length = toy_length,
                                  .loss = toy_loss,
                                  .evaluate = toy_evaluate,
                                  .save = toy_save};
}

static void options(at_trainer_options *o, toy *t, const char *out, long steps, int resume) {
    at_trainer_options_default(o);
    o->out_dir = out;
    o->steps = steps;
    o->batch = 8;
    o->bucket_pool = 2;
    o->seed = 3;
    o->optim.lr = 0.05f;
    o->schedule = (at_schedule){.final_lr = 0.005f, .warmup_steps = 3, .decay = AT_DECAY_COSINE};
    o->clip = 1.0f;
    o->eval_every = 4;
    o->log_every = 10;
    o->resume = resume;
    o->data_id = "blobs:7";
    o->stop = &t->stop;
    o->progress = on_progress;
    o->progress_user = t;
}

/* Train the toy in a fresh context; returns the status. */
static at_status run(const char *out, long steps, int resume, int threads, long stop_at,
                     at_train_result *result, at_trainer_options *tweak) {
    at_ctx *ctx = test_new_ctx_with(11, threads);
    toy *t = malloc(sizeof *t);
    toy_make(ctx, t);
    t->stop_at = stop_at;
    at_trainer_options o;
    options(&o, t, out, steps, resume);
    if (tweak) {
        o.save_every = tweak->save_every;
        o.max_seconds = tweak->max_seconds;
        if (tweak->eval_every) o.eval_every = tweak->eval_every;
        o.data_id = tweak->data_id;
        if (tweak->progress_user) {
            const toy *hooks = tweak->progress_user;
            t->copy_at = hooks->copy_at;
            t->copy_from = hooks->copy_from;
            t->copy_to = hooks->copy_to;
        }
    }
    at_status s = at_train(ctx, &t->trainable, &o, result);
    if (s != AT_OK) fprintf(stderr, "  (at_train: %s)\n", at_ctx_error(ctx));
    at_params_free(t->params);
    free(t);
    at_ctx_free(ctx);
    return s;
}

static void test_learns_and_resumes(int threads) {
    char whole[64], half[64], killed[64];
    snprintf(whole, sizeof whole, "whole%d", threads);
    snprintf(half, sizeof half, "half%d", threads);
    snprintf(killed, sizeof killed, "killed%d", threads);
    at_train_result r;

    /* 40 steps in one run, saving last.* every 5: a copy of OUT at step 26
     * is what a kill at step 26 leaves (last.* from step 25, metrics.jsonl
     * with a line of step 26 that the resumed run writes again) */
    toy hooks = {.copy_at = 26, .copy_from = whole, .copy_to = killed};
    at_trainer_options tweak = {.save_every = 5, .data_id = "blobs:7", .progress_user = &hooks};
    CHECK(run(whole, 40, 0, threads, 0, &r, &tweak) == AT_OK, "40 steps");
    hooks.copy_at = 0; /* the copy is of this run only */
    CHECK(r.steps == 40 && !r.stopped && r.evaluations == 10, "40 steps: %ld steps, stopped %d, "
          "%d evaluations", r.steps, r.stopped, r.evaluations);
    CHECK(r.best > 0.8, "the toy does not learn: best validation accuracy %.3f", r.best);

    /* a stop at step 17, then resume to 40 */
    CHECK(run(half, 40, 0, threads, 17, &r, &tweak) == AT_OK, "stop at 17");
    CHECK(r.stopped && r.steps == 17, "stop at 17: stopped %d at step %ld", r.stopped, r.steps);
    char path[512];
    snprintf(path, sizeof path, "%s/last.safetensors", half);
    at_ctx *ctx = test_new_ctx();
    at_metadata meta = {0};
    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, path, &meta));
    const char *step = at_metadata_get(&meta, "train.step");
    CHECK(step && !strcmp(step, "17"), "stop at 17: last.safetensors says step %s",
          step ? step : "(none)");
    CHECK(!at_metadata_get(&meta, "train.seconds"), "wall time is in the checkpoint");
    at_metadata_clear(&meta);
    at_ctx_free(ctx);
    CHECK(run(half, 40, 1, threads, 0, &r, &tweak) == AT_OK, "resume 17 -> 40");
    CHECK(r.steps == 40 && !r.stopped, "resume 17 -> 40: at %ld", r.steps);
    test_check_same_run(whole, half, "17 + resume to 40");

    /* a kill between the optimiser's save and the model's: last.optim is of
     * a later step, last.optim.prev of the model's; resume takes the latter */
    char killed2[64], from[512], to[512];
    snprintf(killed2, sizeof killed2, "killed_mid%d", threads);
    copy_run(killed, killed2);
    snprintf(from, sizeof from, "%s/last.optim.safetensors", killed);
    snprintf(to, sizeof to, "%s/last.optim.prev.safetensors", killed2);
    copy_file(from, to);
    snprintf(from, sizeof from, "%s/last.optim.safetensors", whole);
    snprintf(to, sizeof to, "%s/last.optim.safetensors", killed2);
    copy_file(from, to);
    tweak.progress_user = NULL;
    CHECK(run(killed2, 40, 1, threads, 0, &r, &tweak) == AT_OK, "resume a run killed mid-save");
    test_check_same_run(whole, killed2, "killed between the two saves + resume to 40");

    /* the killed run resumes from step 25 to the same bytes */
    CHECK(run(killed, 40, 1, threads, 0, &r, &tweak) == AT_OK, "resume a killed run");
    test_check_same_run(whole, killed, "killed at 26 + resume to 40");
}

/* ------------------------------------------------------- refusals */

/* Rewrite key's value in the metadata of a safetensors file (the header is
 * rebuilt with the same tensors). */
static void set_file_meta(const char *path, const char *key, const char *value) {
    at_ctx *ctx = test_new_ctx();
    at_params *params;
    at_params_create(ctx, &params);
    at_tensor *w, *b;
    at_params_add(ctx, params, "fc.weight", 2, (int[]){CLASSES, FEATURES}, &w);
    at_params_add(ctx, params, "fc.bias", 1, (int[]){CLASSES}, &b);
    at_metadata meta = {0};
    if (at_checkpoint_load(ctx, path, params, &meta) != AT_OK ||
        at_metadata_set(ctx, &meta, key, value) != AT_OK ||
        at_checkpoint_save(ctx, path, params, &meta) != AT_OK) {
        fprintf(stderr, "set_file_meta %s: %s\n", path, at_ctx_error(ctx));
        exit(2);
    }
    at_metadata_clear(&meta);
    at_params_free(params);
    at_ctx_free(ctx);
}

static unsigned char *snapshot(const char *dir, const char *name, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return test_read_file(path, n);
}

/* Resume from dir must fail, with `word` in the message, changing nothing. */
static void check_refused(const char *dir, const char *what, const char *word,
                          at_trainer_options *tweak) {
    static const char *names[] = {"last.safetensors", "last.optim.safetensors",
                                  "model.safetensors", "metrics.jsonl"};
    unsigned char *before[4];
    size_t n_before[4];
    for (int i = 0; i < 4; i++)
        before[i] = snapshot(dir, names[i], &n_before[i]);
    at_ctx *ctx = test_new_ctx();
    toy *t = malloc(sizeof *t);
    toy_make(ctx, t);
    at_trainer_options o;
    options(&o, t, dir, 20, 1);
    if (tweak) o.data_id = tweak->data_id;
    at_status s = at_train(ctx, &t->trainable, &o, NULL);
    CHECK(s != AT_OK, "%s: resume accepted", what);
    CHECK(s == AT_OK || strstr(at_ctx_error(ctx), word), "%s: message '%s' lacks '%s'", what,
          at_ctx_error(ctx), word);
    for (int i = 0; i < 4; i++) {
        size_t n;
        unsigned char *after = snapshot(dir, names[i], &n);
        CHECK(after && before[i] && n == n_before[i] && !memcmp(after, before[i], n),
              "%s: %s changed", what, names[i]);
        free(after);
        free(before[i]);
    }
    at_params_free(t->params);
    free(t);
    at_ctx_free(ctx);
}

static void restore(const char *from, const char *to) {
    test_remove_tree(to);
    copy_run(from, to);
}

static void test_refusals(void) {
    at_train_result r;
    CHECK(run("base", 20, 0, 1, 9, &r, NULL) == AT_OK && r.stopped, "stopped base run");
    copy_run("base", "bad");

    /* corrupt files */
    size_t n;
    unsigned char *bytes = snapshot("bad", "last.safetensors", &n);
    test_write_file("bad/last.safetensors", bytes, n / 2);
    check_refused("bad", "truncated last.safetensors", "last.safetensors", NULL);
    test_write_file("bad/last.safetensors", bytes, n);
    free(bytes);
    bytes = snapshot("bad", "last.optim.safetensors", &n);
    bytes[n - 3] ^= 0xff;
    bytes[20] = '#';
    test_write_file("bad/last.optim.safetensors", bytes, n);
    check_refused("bad", "corrupt last.optim.safetensors", "last.optim.safetensors", NULL);
    free(bytes);

    /* malformed or out-of-range train.* values */
    static const struct {
        const char *key, *value, *word;
    } bad[] = {{"train.step", "1e30", "train.step"},      {"train.step", "-1", "train.step"},
               {"train.step", "nan", "train.step"},       {"train.step", "", "train.step"},
               {"train.step", "99", "past"},              {"train.position", "91", "train.position"},
               {"train.position", "-5", "train.position"}, {"train.loss_avg", "nan", "loss_avg"},
               {"train.loss_avg", "1e999", "loss_avg"},   {"train.best", "inf", "train.best"},
               {"train.order_rng", "0123", "order_rng"},  {"train.count", "91", "examples"},
               {"train.ctx_rng", "00000000000000000000000000000000", "ctx_rng"},
               {"train.log_steps", "12x", "log_steps"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        restore("base", "bad");
        set_file_meta("bad/last.safetensors", bad[i].key, bad[i].value);
        char what[128];
        snprintf(what, sizeof what, "%s = '%s'", bad[i].key, bad[i].value);
        check_refused("bad", what, bad[i].word, NULL);
    }

    /* other data */
    restore("base", "bad");
    at_trainer_options other = {.data_id = "blobs:8"};
    check_refused("bad", "other data", "other data", &other);

    /* the optimiser's file from another step */
    restore("base", "bad");
    CHECK(run("base", 12, 1, 1, 0, &r, NULL) == AT_OK, "resume base to 12");
    copy_file("base/last.optim.safetensors", "bad/last.optim.safetensors");
    check_refused("bad", "optimiser state of another step", "from step 12", NULL);
}

/* A time budget ends the run at a step boundary, with a last evaluation
 * of the final weights; a negative or NaN budget is refused. */
static void test_time_budget(void) {
    at_train_result r;
    at_trainer_options tweak = {.data_id = "blobs:7", .max_seconds = 0.3, .eval_every = 1000000};
    CHECK(run("budget", 100000000, 0, 1, 0, &r, &tweak) == AT_OK, "a run with a time budget");
    CHECK(r.out_of_time && !r.stopped && r.steps > 0 && r.steps < 100000000,
          "budget: out_of_time %d, stopped %d, %ld steps", r.out_of_time, r.stopped, r.steps);
    CHECK(r.train_seconds >= 0.3 && r.train_seconds < 10.0, "budget 0.3 s: trained %.3f s",
          r.train_seconds);
    CHECK(r.evaluations == 1, "budget: %d evaluations, expected the final one", r.evaluations);
    char *metrics = test_metrics_without_timings("budget"), want[64];
    snprintf(want, sizeof want, "{\"step\": %ld,", r.steps);
    const char *last = metrics ? strstr(metrics, want) : NULL;
    CHECK(last && strstr(last, "accuracy"), "no evaluation line at the last step %ld in:\n%s",
          r.steps, metrics ? metrics : "(no metrics.jsonl)");
    free(metrics);
    CHECK(access("budget/model.safetensors", F_OK) == 0, "budget: no model.safetensors");
    double bad[] = {-1.0, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        tweak.max_seconds = bad[i];
        CHECK(run("budget_bad", 10, 0, 1, 0, &r, &tweak) == AT_ERR_ARGUMENT,
              "max_seconds %g accepted", bad[i]);
    }
}

static void test_out_dir(void) {
    at_train_result r;
    /* metrics.jsonl may not be a symbolic link (to /dev/full, say) */
    mkdir("links", 0777);
    CHECK(symlink("/dev/full", "links/metrics.jsonl") == 0, "symlink");
    CHECK(run("links", 4, 0, 1, 0, &r, NULL) == AT_ERR_IO, "metrics.jsonl -> /dev/full accepted");
    /* parents are made; stale temporary files of ours are removed, others kept */
    mkdir("stale", 0777);
    test_write_file("stale/last.safetensors.tmp-abcDEF", "x", 1);
    test_write_file("stale/notes.txt.tmp-abcDEF", "x", 1);
    CHECK(run("stale/deeper/run", 4, 0, 1, 0, &r, NULL) == AT_OK, "nested out_dir");
    at_ctx *ctx = test_new_ctx();
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = "stale";
    CHECK_OK(ctx, at_trainer_prepare(ctx, &o));
    CHECK(access("stale/last.safetensors.tmp-abcDEF", F_OK) != 0, "stale temp file kept");
    CHECK(access("stale/notes.txt.tmp-abcDEF", F_OK) == 0, "someone else's temp file removed");
    o.resume = 1;
    CHECK_STATUS(ctx, at_trainer_prepare(ctx, &o), AT_ERR_IO);
    at_ctx_free(ctx);
}

int main(void) {
    char dir[] = "trainer_XXXXXX";
    test_enter_scratch_dir(dir);
    test_learns_and_resumes(1);
    test_learns_and_resumes(2);
    test_refusals();
    test_out_dir();
    test_time_budget();
    test_leave_scratch_dir(dir);
    return test_finish("trainer");
}
