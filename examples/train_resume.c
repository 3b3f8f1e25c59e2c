/*
 * train_resume.c - a model of your own on attend's trainer: train, stop,
 * resume, finish.
 *
 * The model is the smallest there is: a softmax classifier of 2-D points
 * (three Gaussian blobs) into three classes, one Dense layer. What makes it
 * trainable is an at_trainable: a loss for a batch of example indices, an
 * evaluation that reports named metrics, and a save. at_train does the
 * rest: the data order, Adam with a schedule, evaluations, the best and
 * the last checkpoints, metrics.jsonl, and resume.
 *
 * The program trains 60 steps in run_a/ without stopping, then again in
 * run_b/ but stops at step 25 (as Ctrl-C would, through the stop flag),
 * resumes there and finishes. The two runs must end with the same bytes.
 *
 *   cc train_resume.c $(pkg-config --cflags --libs attend) -o train_resume
 *   ./train_resume
 *
 * Exits 0 if the resumed run equals the unbroken one and the model learned.
 */
#include <attend.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLASSES = 3, FEATURES = 2, TRAIN = 300, VALID = 100, MAX_BATCH = 64 };

typedef struct blobs {
    at_params *params;
    at_dense layer;
    float x[TRAIN + VALID][FEATURES]; /* the first TRAIN points train     */
    int32_t y[TRAIN + VALID];
    long stop_at;                     /* request a stop after this step    */
    volatile sig_atomic_t stop;       /* what a SIGINT handler would set   */
} blobs;

/* The mean cross-entropy of examples indices[0 .. n): (1) on the tape. */
static at_status blobs_loss(at_ctx *ctx, void *self, const size_t *indices, int n,
                            at_tensor **loss) {
    blobs *b = self;
    float x[MAX_BATCH * FEATURES];
    int32_t y[MAX_BATCH];
    for (int i = 0; i < n; i++) {
        memcpy(x + i * FEATURES, b->x[indices[i]], sizeof b->x[0]);
        y[i] = b->y[indices[i]];
    }
    at_tensor *points, *logits;
    at_status s = at_tensor_from(ctx, &points, 2, (int[]){n, FEATURES}, x); /* (n, 2) */
    if (s == AT_OK) s = at_dense_forward(ctx, &b->layer, points, &logits);  /* (n, 3) */
    return s == AT_OK ? at_cross_entropy(ctx, loss, logits, y, -100, 0.0f) : s;
}

/* Accuracy on the validation points (the trainer turns gradients off). */
static at_status blobs_evaluate(at_ctx *ctx, void *self, at_metrics *metrics) {
    blobs *b = self;
    at_tensor *points, *logits;
    at_status s = at_tensor_from(ctx, &points, 2, (int[]){VALID, FEATURES}, b->x[TRAIN]);
    if (s == AT_OK) s = at_dense_forward(ctx, &b->layer, points, &logits);
    if (s != AT_OK) return s;
    int right = 0;
    for (int i = 0; i < VALID; i++) {
        const float *row = logits->data + i * CLASSES;
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (row[c] > row[best]) best = c;
        right += best == b->y[TRAIN + i];
    }
    return at_metrics_set(ctx, metrics, "accuracy", (double)right / VALID);
}

static at_status blobs_save(at_ctx *ctx, void *self, const char *path, const at_metadata *extra) {
    blobs *b = self;
    return at_checkpoint_save(ctx, path, b->params, extra);
}

static void on_progress(void *user, const at_train_progress *p) {
    blobs *b = user;
    if (p->evaluated)
        printf("  step %2ld/%ld  loss %.4f  accuracy %.2f\n", p->step, p->total_steps, p->loss,
               p->valid->value[0]);
    if (b->stop_at && p->step == b->stop_at) b->stop = 1;
}

/* One training run in out_dir; the model is made afresh every time, as a
 * program that was restarted would. */
static int train(const char *out_dir, long stop_at, int resume, at_train_result *result) {
    at_ctx *ctx = NULL;
    at_ctx_options options = {.num_threads = 1, .seed = 1};
    if (at_ctx_create(&ctx, &options) != AT_OK) return 0;
    blobs *b = calloc(1, sizeof *b);
    at_rng rng;
    at_rng_seed(&rng, 42);
    static const float centre[CLASSES][FEATURES] = {{2, 0}, {-1, 1.7f}, {-1, -1.7f}};
    for (int i = 0; i < TRAIN + VALID; i++) {
        b->y[i] = (int32_t)at_rng_below(&rng, CLASSES);
        for (int f = 0; f < FEATURES; f++)
            b->x[i][f] = centre[b->y[i]][f] + 0.8f * at_rng_normal(&rng);
    }
    b->stop_at = stop_at;
    at_status s = at_params_create(ctx, &b->params);
    if (s == AT_OK) s = at_dense_init(ctx, &b->layer, b->params, "fc", FEATURES, CLASSES, 1, &rng);

    at_trainable model = {.self = b,
                          .params = b->params,
                          .count = TRAIN,
                          .loss = blobs_loss,
                          .evaluate = blobs_evaluate,
                          .save = blobs_save};
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out_dir;
    o.steps = 60;
    o.batch = 32;
    o.seed = 5;
    o.optim.lr = 0.05f;
    o.schedule = (at_schedule){.final_lr = 0.005f, .warmup_steps = 5, .decay = AT_DECAY_COSINE};
    o.eval_every = 10;
    o.resume = resume;
    o.data_id = "blobs:42";
    o.stop = &b->stop;
    o.progress = on_progress;
    o.progress_user = b;
    if (s == AT_OK) s = at_train(ctx, &model, &o, result);
    if (s != AT_OK) fprintf(stderr, "train_resume: %s\n", at_ctx_error(ctx));
    at_params_free(b->params);
    free(b);
    at_ctx_free(ctx);
    return s == AT_OK;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    while (same && (ca = fgetc(fa)) != EOF) same = ca == (cb = fgetc(fb));
    same = same && fgetc(fb) == EOF;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

int main(void) {
    at_train_result whole, part, rest;
    printf("run_a: 60 steps without a stop\n");
    if (!train("run_a", 0, 0, &whole)) return 1;
    printf("run_b: stop requested at step 25\n");
    if (!train("run_b", 25, 0, &part)) return 1;
    printf("run_b: stopped = %d at step %ld; resuming\n", part.stopped, part.steps);
    if (!train("run_b", 0, 1, &rest)) return 1;

    int same = same_file("run_a/last.safetensors", "run_b/last.safetensors") &&
               same_file("run_a/last.optim.safetensors", "run_b/last.optim.safetensors") &&
               same_file("run_a/model.safetensors", "run_b/model.safetensors");
    printf("best accuracy %.2f; stopped and resumed run %s the unbroken one\n", whole.best,
           same ? "ends exactly as" : "DIFFERS from");
    return part.stopped && part.steps == 25 && rest.steps == 60 && same && whole.best > 0.9 ? 0
                                                                                            : 1;
}
