/*
 * trainer.c - one training loop for every model.
 *
 * The model knows how to turn example indices into a loss, how to score
 * its validation data and how to save itself (at_trainable). Everything
 * else about a run lives here, once:
 *
 *   order     a seeded shuffle per pass (length buckets when the model
 *             gives lengths); a pass ends when a full batch no longer fits
 *   step      reset, zero gradients, loss, backward, clip, optimiser step
 *             at the schedule's learning rate
 *   metrics   OUT/metrics.jsonl: the loss of every one of the first 100
 *             steps (where the learning happens), then every log_every
 *             steps; the validation metrics at every evaluation
 *   best      OUT/model.safetensors whenever the best metric improves
 *   last      OUT/last.safetensors + OUT/last.optim.safetensors (stamped
 *             with the same step) every save_every steps, at evaluations,
 *             at the end and on a stop request; a kill at any moment leaves
 *             a pair to resume from (save_last says how)
 *   resume    everything a run needs to continue on the same trajectory is
 *             in last.*: weights, the optimiser's moments and step count,
 *             the data order's generator before this pass and the position
 *             in the pass, the smoothed loss, the best score, the
 *             context's generator. Wall time is not: it would make the
 *             bytes of a resumed run differ from an unbroken one.
 *
 * The trainer's own metadata keys (train.*) are listed in trainer_keys.
 *
 * Several processes (options.reducer) train one model as one process with
 * the whole batch would: each computes its slice of every batch, the
 * gradients and the loss are summed over them (parallel.c), and all take
 * the same step. Rank 0 alone writes files and reports progress; the stop
 * flag and the time budget are summed with the gradients, so every process
 * ends at the same step.
 */
#define _POSIX_C_SOURCE 200809L /* mkdir, lstat, opendir, clock_gettime */
#include "internal.h"
#include "order.h"
#include "parallel.h"
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const trainer_keys[] = {
    "train.step",    "train.best",      "train.best_metric", "train.loss_avg",
    "train.position", "train.order_rng", "train.ctx_rng",     "train.data_id",
    "train.count",   "train.log_loss",  "train.log_steps", "train.ranks"};
#define TRAINER_KEYS ((int)(sizeof trainer_keys / sizeof *trainer_keys))

/* The files a run writes in OUT; stale NAME.tmp-XXXXXX of these are removed. */
static const char *const out_files[] = {"model.safetensors", "last.safetensors",
                                        "last.optim.safetensors", "last.optim.prev.safetensors",
                                        "metrics.jsonl"};
#define OUT_FILES ((int)(sizeof out_files / sizeof *out_files))

#define DENSE_LOG_STEPS 100 /* every step is logged up to here            */
#define MAX_STEPS 1000000000000L
#define METRICS_MAX_BYTES (256L << 20) /* as much as at_plot_metrics reads */

/* ----------------------------------------------------------------- metrics */

static int metric_name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= AT_METRIC_NAME_MAX) return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

at_status at_metrics_set(at_ctx *ctx, at_metrics *m, const char *name, double value) {
    if (!m || !metric_name_ok(name))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "metrics: a name is 1 to %d characters of [a-z0-9_], not '%s'",
                           AT_METRIC_NAME_MAX - 1, name ? name : "(null)");
    if (!isfinite(value))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "metrics: %s is not finite", name);
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->name[i], name)) return m->value[i] = value, AT_OK;
    if (m->count >= AT_METRICS_MAX)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "metrics: more than %d metrics (%s)",
                           AT_METRICS_MAX, name);
    snprintf(m->name[m->count], AT_METRIC_NAME_MAX, "%s", name);
    m->value[m->count++] = value;
    return AT_OK;
}

int at_metrics_get(const at_metrics *m, const char *name, double *value) {
    for (int i = 0; m && name && i < m->count; i++)
        if (!strcmp(m->name[i], name)) {
            if (value) *value = m->value[i];
            return 1;
        }
    return 0;
}

/* ----------------------------------------------------------------- options */

static int ranks_of(const at_trainer_options *o) { return o->reducer ? o->reducer->ranks : 1; }
static int rank_of(const at_trainer_options *o) { return o->reducer ? o->reducer->rank : 0; }

void at_trainer_options_default(at_trainer_options *o) {
    *o = (at_trainer_options){0};
    o->batch = 32;
    o->bucket_pool = 50;
    o->optim = (at_optim_config){.kind = AT_ADAM, .lr = 1e-3f};
    o->schedule.decay = AT_DECAY_NONE;
    o->log_every = 10;
}

static at_status check_reducer(at_ctx *ctx, const at_trainable *m, const at_trainer_options *o) {
    const at_reducer *r = o->reducer;
    if (!!m->evaluate_shard != !!m->evaluate_finish || (m->evaluate_shard && !m->evaluate))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: the model needs evaluate_shard and evaluate_finish together, "
                           "with evaluate");
    if (!r) return AT_OK;
    if (r->ranks < 1 || r->ranks > 65536 || r->rank < 0 || r->rank >= r->ranks ||
        !r->sum_floats || !r->sum_doubles)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: the reducer needs 1 <= ranks <= 65536, 0 <= rank < ranks "
                           "(%d of %d) and both sums",
                           r->rank, r->ranks);
    if (o->batch % r->ranks != 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: the batch (%d) must be a multiple of the %d processes: each "
                           "takes batch / processes examples of every batch",
                           o->batch, r->ranks);
    return AT_OK;
}

static at_status check_options(at_ctx *ctx, const at_trainable *m, const at_trainer_options *o) {
    if (!m || !o || !o->out_dir || !*o->out_dir)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: NULL model or options, or no out_dir");
    if (!m->params || !m->loss || !m->save || m->count == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: the model needs params, loss, save and at least one example");
    if (o->batch < 1 || o->bucket_pool < 0 || o->eval_every < 0 || o->log_every < 0 ||
        o->save_every < 0 || o->clip < 0 || !isfinite(o->clip) || !(o->max_seconds >= 0) ||
        !isfinite(o->max_seconds))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: batch >= 1; bucket_pool, eval_every, log_every, save_every, "
                           "clip and max_seconds >= 0");
    if ((o->epochs <= 0 && (o->steps < 1 || o->steps > MAX_STEPS)) || o->epochs > 1000000)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "train: steps must be 1 .. %ld (or epochs 1 .. 1000000)", MAX_STEPS);
    if (o->best_metric && !metric_name_ok(o->best_metric))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: best_metric '%s' is not a metric name",
                           o->best_metric);
    AT_TRY(check_reducer(ctx, m, o));
    for (int i = 0; o->extra && i < o->extra->count; i++)
        for (int k = 0; k < TRAINER_KEYS; k++)
            if (!strcmp(o->extra->keys[i], trainer_keys[k]))
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                   "train: extra metadata may not set the trainer's own key %s",
                                   trainer_keys[k]);
    return AT_OK;
}

/* ------------------------------------------------------------ the out dir */

static at_status make_dirs(at_ctx *ctx, const char *dir) {
    size_t n = strlen(dir);
    char *path = malloc(n + 1);
    if (!path) return at_ctx_fail(ctx, AT_ERR_MEMORY, "train: out of memory");
    memcpy(path, dir, n + 1);
    at_status s = AT_OK;
    for (size_t i = 1; i <= n && s == AT_OK; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            s = at_ctx_fail(ctx, AT_ERR_IO, "train: cannot create %s: %s", path, strerror(errno));
        path[i] = saved;
    }
    free(path);
    if (s != AT_OK) return s;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return at_ctx_fail(ctx, AT_ERR_IO, "train: %s is not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return at_ctx_fail(ctx, AT_ERR_IO, "train: cannot write in %s: %s", dir, strerror(errno));
    return AT_OK;
}

static void join(char *path, size_t size, const char *dir, const char *name) {
    snprintf(path, size, "%s/%s", dir, name);
}

/* Each file the run writes is absent or a regular file: never a symlink to
 * a device, a FIFO or a directory, which a write or rename would follow or
 * replace. */
static at_status check_out_files(at_ctx *ctx, const char *dir) {
    for (int i = 0; i < OUT_FILES; i++) {
        char path[4096];
        join(path, sizeof path, dir, out_files[i]);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (!S_ISREG(st.st_mode))
            return at_ctx_fail(ctx, AT_ERR_IO,
                               "train: %s exists and is not a regular file (a %s); remove it",
                               path, S_ISLNK(st.st_mode) ? "symbolic link"
                                     : S_ISDIR(st.st_mode) ? "directory"
                                                           : "device, FIFO or socket");
    }
    return AT_OK;
}

/* NAME.tmp-XXXXXX, NAME one of the run's files: a write a kill cut short. */
static int is_stale_temp(const char *entry) {
    for (int i = 0; i < OUT_FILES; i++) {
        size_t n = strlen(out_files[i]);
        if (!strncmp(entry, out_files[i], n) && !strncmp(entry + n, ".tmp-", 5) &&
            strlen(entry + n + 5) == 6)
            return 1;
    }
    return 0;
}

static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_stale_temp(e->d_name)) continue;
        char path[4096];
        join(path, sizeof path, dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) unlink(path);
    }
    closedir(d);
}

at_status at_trainer_prepare(at_ctx *ctx, const at_trainer_options *o) {
    if (!o || !o->out_dir || !*o->out_dir)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: no output directory");
    if (rank_of(o) == 0) { /* the others write nothing */
        AT_TRY(make_dirs(ctx, o->out_dir));
        AT_TRY(check_out_files(ctx, o->out_dir));
        remove_stale_temps(o->out_dir);
    }
    if (o->resume) {
        char path[4096];
        join(path, sizeof path, o->out_dir, "last.safetensors");
        if (access(path, R_OK) != 0)
            return at_ctx_fail(ctx, AT_ERR_IO, "train: cannot resume: no %s (%s)", path,
                               strerror(errno));
    }
    return AT_OK;
}

/* ------------------------------------------------------------- the state */

typedef struct trainer {
    at_ctx *ctx;
    const at_trainable *m;
    const at_trainer_options *o;
    at_optim *optim;
    at_schedule schedule;
    long total;              /* steps of the whole run                      */
    long step;               /* steps done                                  */
    size_t *order;           /* (count) this pass's order                   */
    size_t position;         /* examples of this pass already used          */
    at_rng rng;              /* the data order's generator                  */
    at_rng order_rng;        /* rng as it was before this pass's shuffle    */
    double loss_avg;         /* smoothed loss (0.98)                        */
    double log_loss;         /* losses summed since the last loss line      */
    long log_steps;          /* and how many                                */
    char best_name[AT_METRIC_NAME_MAX]; /* the metric that picks model.safetensors */
    double best;             /* NaN until the first evaluation              */
    at_metrics last;         /* the latest evaluation                       */
    int evaluations;
    FILE *metrics;
    double start, examples;  /* this run's wall clock and examples seen     */
    double eval_seconds;     /* of which spent evaluating                   */
    long evaluated_step;     /* the step of the latest evaluation (-1: none) */
    int out_of_time;         /* max_seconds ended the run                   */
    int rank, ranks;         /* this process, of (1: no reducer)            */
    int writer;              /* rank 0: writes the files, reports progress  */
    int stop_agreed;         /* ranks > 1: some process was asked to stop   */
    float *fused;            /* ranks > 1: the gradients' buffer            */
    size_t fused_size;
} trainer;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double elapsed(const trainer *t) { return now_seconds() - t->start; }
static double train_seconds(const trainer *t) { return elapsed(t) - t->eval_seconds; }

/* ------------------------------------------------- metadata, both ways */

static at_status set_meta(at_ctx *ctx, at_metadata *meta, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static at_status set_meta(at_ctx *ctx, at_metadata *meta, const char *key, const char *fmt, ...) {
    char text[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return at_metadata_set(ctx, meta, key, text);
}

/* A generator's state as 32 hex digits, and back (0 if malformed). */
static void rng_to_text(const at_rng *rng, char text[33]) {
    snprintf(text, 33, "%08x%08x%08x%08x", (unsigned)rng->s[0], (unsigned)rng->s[1],
             (unsigned)rng->s[2], (unsigned)rng->s[3]);
}

static int rng_from_text(const char *text, at_rng *rng) {
    if (!text || strlen(text) != 32 || strspn(text, "0123456789abcdef") != 32) return 0;
    at_rng r;
    for (int i = 0; i < 4; i++) {
        char word[9];
        memcpy(word, text + 8 * i, 8);
        word[8] = '\0';
        r.s[i] = (uint32_t)strtoul(word, NULL, 16);
    }
    if ((r.s[0] | r.s[1] | r.s[2] | r.s[3]) == 0) return 0; /* xoshiro's one bad state */
    *rng = r;
    return 1;
}

/* Strict parses: the whole string, in range; else an AT_ERR_FORMAT naming
 * the file and the key. */
static at_status meta_long(at_ctx *ctx, const char *path, const at_metadata *meta,
                           const char *key, long lo, long hi, long *out) {
    if (at_metadata_get_long(ctx, meta, key, lo, hi, out) == AT_OK) return AT_OK;
    char message[AT_ERROR_BYTES];
    snprintf(message, sizeof message, "%s", at_ctx_error(ctx));
    return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s", path, message);
}

static at_status meta_double(at_ctx *ctx, const char *path, const at_metadata *meta,
                             const char *key, int allow_nan, double *out) {
    const char *text = at_metadata_get(meta, key);
    if (allow_nan && text && !strcmp(text, "none")) return *out = NAN, AT_OK;
    char *end = NULL;
    double v = text && *text ? strtod(text, &end) : NAN;
    if (!text || !*text || *end || !isfinite(v))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: %s is %s%s%s, not a finite number", path, key,
                           text ? "'" : "missing", text ? text : "", text ? "'" : "");
    *out = v;
    return AT_OK;
}

static at_status train_metadata(trainer *t, at_metadata *meta) {
    at_ctx *ctx = t->ctx;
    char order[33], noise[33];
    rng_to_text(&t->order_rng, order);
    rng_to_text(at_ctx_rng(ctx), noise);
    for (int i = 0; t->o->extra && i < t->o->extra->count; i++)
        AT_TRY(at_metadata_set(ctx, meta, t->o->extra->keys[i], t->o->extra->values[i]));
    AT_TRY(set_meta(ctx, meta, "train.step", "%ld", t->step));
    if (isnan(t->best))
        AT_TRY(set_meta(ctx, meta, "train.best", "none"));
    else
        AT_TRY(set_meta(ctx, meta, "train.best", "%.17g", t->best));
    AT_TRY(set_meta(ctx, meta, "train.best_metric", "%s", t->best_name));
    AT_TRY(set_meta(ctx, meta, "train.loss_avg", "%.17g", t->loss_avg));
    AT_TRY(set_meta(ctx, meta, "train.log_loss", "%.17g", t->log_loss));
    AT_TRY(set_meta(ctx, meta, "train.log_steps", "%ld", t->log_steps));
    AT_TRY(set_meta(ctx, meta, "train.order_rng", "%s", order));
    AT_TRY(set_meta(ctx, meta, "train.position", "%zu", t->position));
    AT_TRY(set_meta(ctx, meta, "train.ctx_rng", "%s", noise));
    AT_TRY(set_meta(ctx, meta, "train.count", "%zu", t->m->count));
    if (t->o->reducer) AT_TRY(set_meta(ctx, meta, "train.ranks", "%d", t->ranks));
    return set_meta(ctx, meta, "train.data_id", "%s", t->o->data_id ? t->o->data_id : "");
}

/* ------------------------------------------------------------ agreement */

/* A digest of what every process must share besides the parameters. */
static uint64_t state_digest(trainer *t) {
    uint64_t h = PAR_HASH_START;
    long numbers[3] = {t->step, t->total, (long)t->position};
    h = par_hash(h, numbers, sizeof numbers);
    h = par_hash(h, &t->rng, sizeof t->rng);
    h = par_hash(h, &t->order_rng, sizeof t->order_rng);
    h = par_hash(h, at_ctx_rng(t->ctx), sizeof(at_rng));
    return par_hash(h, &t->m->count, sizeof t->m->count);
}

static at_status agree(trainer *t, const char *when) {
    char text[64];
    snprintf(text, sizeof text, "%s %ld", when, t->step);
    return par_agree(t->ctx, t->o->reducer, state_digest(t), t->m->params, text);
}

/* ------------------------------------------------------------ checkpoints */

static at_status save_model(trainer *t, const char *name) {
    if (!t->writer) return AT_OK;
    char path[4096];
    join(path, sizeof path, t->o->out_dir, name);
    at_metadata meta = {0};
    at_status s = train_metadata(t, &meta);
    if (s == AT_OK) s = t->m->save(t->ctx, t->m->self, path, &meta);
    at_metadata_clear(&meta);
    return s;
}

/* The optimiser's state, stamped with the step. */
static at_status save_optim(trainer *t, const char *path) {
    at_metadata meta = {0};
    at_status s = set_meta(t->ctx, &meta, "train.step", "%ld", t->step);
    if (s == AT_OK) s = at_optim_save(t->ctx, t->optim, path, &meta);
    at_metadata_clear(&meta);
    return s;
}

/* last.* as one consistent pair, whenever a kill strikes:
 *   1. last.optim -> last.optim.prev (a rename: the state of the model
 *      that last.safetensors still holds)
 *   2. the new last.optim, stamped with this step
 *   3. the new last.safetensors
 * Killed after 1 or 2, last.safetensors still matches last.optim.prev;
 * after 3, last.optim. Resume takes whichever has the model's step. */
static at_status save_last(trainer *t) {
    if (t->ranks > 1) AT_TRY(agree(t, "at step"));
    if (!t->writer) return AT_OK;
    char optim[4096], prev[4096];
    join(optim, sizeof optim, t->o->out_dir, "last.optim.safetensors");
    join(prev, sizeof prev, t->o->out_dir, "last.optim.prev.safetensors");
    if (rename(optim, prev) != 0 && errno != ENOENT)
        return at_ctx_fail(t->ctx, AT_ERR_IO, "train: cannot rename %s to %s: %s", optim, prev,
                           strerror(errno));
    AT_TRY(save_optim(t, optim));
    return save_model(t, "last.safetensors");
}

/* ------------------------------------------------------------------ resume */

static at_status resume_position(trainer *t, const char *path, const at_metadata *meta) {
    at_ctx *ctx = t->ctx;
    long position;
    if (!rng_from_text(at_metadata_get(meta, "train.order_rng"), &t->order_rng) ||
        !rng_from_text(at_metadata_get(meta, "train.ctx_rng"), at_ctx_rng(ctx)))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: train.order_rng or train.ctx_rng is missing or malformed", path);
    AT_TRY(meta_long(ctx, path, meta, "train.position", 0, (long)t->m->count, &position));
    t->position = (size_t)position;
    return AT_OK;
}

/* The same number of processes as the checkpoint's run (1 without the
 * key): the batch's slices and the dropout masks depend on it. */
static at_status resume_check_ranks(trainer *t, const char *path, const at_metadata *meta) {
    long ranks = 1;
    if (at_metadata_get(meta, "train.ranks"))
        AT_TRY(meta_long(t->ctx, path, meta, "train.ranks", 1, 65536, &ranks));
    if (ranks != t->ranks)
        return at_ctx_fail(t->ctx, AT_ERR_ARGUMENT,
                           "cannot resume: %s was trained by %ld process%s, now %d: each "
                           "process's slice of a batch and its dropout masks depend on the "
                           "number, so the run would not continue as it was; resume with %ld "
                           "(mpirun -np %ld, or %ld replicas) or start a new run",
                           path, ranks, ranks == 1 ? "" : "es", t->ranks, ranks, ranks, ranks);
    return AT_OK;
}

static at_status resume_check_data(trainer *t, const char *path, const at_metadata *meta) {
    long count;
    AT_TRY(resume_check_ranks(t, path, meta));
    AT_TRY(meta_long(t->ctx, path, meta, "train.count", 1, MAX_STEPS, &count));
    const char *id = at_metadata_get(meta, "train.data_id");
    const char *want = t->o->data_id ? t->o->data_id : "";
    if (!id || strcmp(id, want))
        return at_ctx_fail(t->ctx, AT_ERR_ARGUMENT,
                           "cannot resume: %s was trained on other data ('%s', now '%s')", path,
                           id ? id : "?", want);
    if ((size_t)count != t->m->count)
        return at_ctx_fail(t->ctx, AT_ERR_ARGUMENT,
                           "cannot resume: %s was trained on %ld examples, now %zu", path, count,
                           t->m->count);
    return AT_OK;
}

static at_status resume_state(trainer *t, const char *path, const at_metadata *meta) {
    at_ctx *ctx = t->ctx;
    AT_TRY(resume_check_data(t, path, meta));
    AT_TRY(meta_long(ctx, path, meta, "train.step", 0, MAX_STEPS, &t->step));
    if (t->step > t->total)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "cannot resume: %s is at step %ld, past the %ld steps asked for", path,
                           t->step, t->total);
    AT_TRY(meta_double(ctx, path, meta, "train.best", 1, &t->best));
    AT_TRY(meta_double(ctx, path, meta, "train.loss_avg", 0, &t->loss_avg));
    AT_TRY(meta_double(ctx, path, meta, "train.log_loss", 0, &t->log_loss));
    AT_TRY(meta_long(ctx, path, meta, "train.log_steps", 0, MAX_STEPS, &t->log_steps));
    const char *name = at_metadata_get(meta, "train.best_metric");
    if (!name || (*name && !metric_name_ok(name)))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: train.best_metric is missing or malformed",
                           path);
    if (t->o->best_metric && *name && strcmp(name, t->o->best_metric))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "cannot resume: %s picked its best model by '%s', now '%s'", path,
                           name, t->o->best_metric);
    if (*name) snprintf(t->best_name, sizeof t->best_name, "%s", name);
    return resume_position(t, path, meta);
}

/* The step an optimiser file is stamped with; -1 if it cannot be read. */
static long optim_stamp(trainer *t, const char *path) {
    at_metadata meta = {0};
    long step = -1;
    if (at_checkpoint_read_metadata(t->ctx, path, &meta) != AT_OK ||
        meta_long(t->ctx, path, &meta, "train.step", 0, MAX_STEPS, &step) != AT_OK)
        step = -1;
    at_metadata_clear(&meta);
    return step;
}

/* The optimiser's state of the model's step: last.optim, or, when a kill
 * came between the two saves, last.optim.prev (see save_last). */
static at_status resume_optim(trainer *t) {
    char optim[4096], prev[4096];
    join(optim, sizeof optim, t->o->out_dir, "last.optim.safetensors");
    join(prev, sizeof prev, t->o->out_dir, "last.optim.prev.safetensors");
    long stamp = optim_stamp(t, optim);
    const char *path = optim;
    if (stamp != t->step && optim_stamp(t, prev) == t->step) path = prev;
    at_metadata meta = {0};
    at_status s = at_optim_load(t->ctx, t->optim, path, &meta);
    long saved = -1;
    if (s == AT_OK) s = meta_long(t->ctx, path, &meta, "train.step", 0, MAX_STEPS, &saved);
    at_metadata_clear(&meta);
    if (s != AT_OK) return s;
    if (saved != t->step)
        return at_ctx_fail(t->ctx, AT_ERR_FORMAT,
                           "%s is from step %ld but last.safetensors from step %ld, and no "
                           "last.optim.prev.safetensors of that step; remove them to start again",
                           path, saved, t->step);
    return AT_OK;
}

/* The weights and the state of OUT/last.safetensors. Nothing is changed in
 * the model unless every check passes (at_checkpoint_load validates first). */
static at_status resume(trainer *t) {
    char path[4096];
    join(path, sizeof path, t->o->out_dir, "last.safetensors");
    at_metadata meta = {0};
    at_status s = at_checkpoint_read_metadata(t->ctx, path, &meta);
    if (s == AT_OK) s = resume_state(t, path, &meta);
    at_metadata_clear(&meta);
    if (s == AT_OK) s = at_checkpoint_load(t->ctx, path, t->m->params, NULL);
    if (s == AT_OK) s = resume_optim(t);
    return s;
}

/* -------------------------------------------------------------- metrics.jsonl */

static at_status metrics_fail(trainer *t) {
    return at_ctx_fail(t->ctx, AT_ERR_IO, "train: cannot write %s/metrics.jsonl: %s",
                       t->o->out_dir, strerror(errno));
}

/* A resumed run keeps the lines up to its step: a run killed after its last
 * save wrote lines that the resumed run writes again. The file is
 * rewritten atomically. */
static at_status metrics_truncate(trainer *t, const char *path) {
    if (access(path, F_OK) != 0) return AT_OK; /* none yet */
    char *text;
    size_t len;
    AT_TRY(atf_read(t->ctx, path, METRICS_MAX_BYTES, "metrics", &text, &len));
    size_t keep = 0;
    while (keep < len) {
        char *end = memchr(text + keep, '\n', len - keep);
        size_t next = end ? (size_t)(end - text) + 1 : len;
        long step = -1;
        if (sscanf(text + keep, "{\"step\": %ld", &step) == 1 && step > t->step) break;
        keep = next;
    }
    at_status s = atf_write_file(t->ctx, path, text, keep);
    free(text);
    return s;
}

static at_status metrics_open(trainer *t) {
    if (!t->writer) return AT_OK;
    char path[4096];
    join(path, sizeof path, t->o->out_dir, "metrics.jsonl");
    if (t->o->resume) AT_TRY(metrics_truncate(t, path));
    t->metrics = fopen(path, t->o->resume ? "a" : "w");
    return t->metrics ? AT_OK : metrics_fail(t);
}

/* One line: the step, the loss since the last line, the rate, the
 * validation metrics if any, and last the timings (which a resumed run
 * cannot reproduce). */
static at_status metrics_line(trainer *t, double lr, const at_metrics *valid) {
    if (!t->writer) {
        t->log_loss = 0;
        t->log_steps = 0;
        return AT_OK;
    }
    double loss = t->log_steps ? t->log_loss / (double)t->log_steps : t->loss_avg;
    int ok = fprintf(t->metrics, "{\"step\": %ld, \"loss\": %.6g, \"lr\": %.6g", t->step, loss,
                     lr) > 0;
    for (int i = 0; valid && i < valid->count; i++)
        ok = ok && fprintf(t->metrics, ", \"valid_%s\": %.6g", valid->name[i], valid->value[i]) > 0;
    double seconds = elapsed(t);
    ok = ok && fprintf(t->metrics, ", \"seconds\": %.2f, \"examples_per_second\": %.0f}\n",
                       seconds, seconds > 0 ? t->examples / seconds : 0.0) > 0;
    ok = ok && fflush(t->metrics) == 0;
    t->log_loss = 0;
    t->log_steps = 0;
    return ok ? AT_OK : metrics_fail(t);
}

/* ------------------------------------------------------------------- steps */

/* A new pass: shuffle, keeping the generator as it was before. */
static void draw_order(trainer *t) {
    t->order_rng = t->rng;
    order_buckets(t->m->count, t->m->length, t->m->self, t->o->batch, t->o->bucket_pool, &t->rng,
                  t->order);
    t->position = 0;
}

/* The next batch's indices: a new pass when a full batch no longer fits. */
static int next_batch(trainer *t, const size_t **indices) {
    size_t n = t->m->count, bs = (size_t)t->o->batch;
    if (t->position == 0 || t->position + bs > n) draw_order(t);
    int rows = (int)(n - t->position < bs ? n - t->position : bs);
    *indices = t->order + t->position;
    t->position += (size_t)rows;
    return rows;
}

/* The data order where the checkpoint left it: the same shuffle again from
 * the same generator state, then as far into it as the run had gone. A new
 * run seeds the generator from the seed; its first batch shuffles. */
static void restore_order(trainer *t) {
    if (!t->o->resume) {
        at_rng_seed(&t->rng, t->o->seed * 7919u);
        t->order_rng = t->rng;
        t->position = 0;
        return;
    }
    size_t position = t->position;
    t->rng = t->order_rng;
    if (position == 0 || position > t->m->count) return; /* next_batch shuffles */
    draw_order(t);
    t->position = position;
}

static int stop_requested(const trainer *t);

static at_status loss_not_finite(trainer *t, double loss) {
    return at_ctx_fail(t->ctx, AT_ERR_NUMERIC, "train: the loss at step %ld is %g", t->step + 1,
                       loss);
}

/* The model's loss of rows indices[0 .. n) into *loss (NULL: not a scalar
 * is an error). */
static at_status model_loss(trainer *t, const size_t *indices, int n, at_tensor **loss) {
    AT_TRY(t->m->loss(t->ctx, t->m->self, indices, n, loss));
    if (!*loss || (*loss)->size != 1)
        return at_ctx_fail(t->ctx, AT_ERR_STATE, "train: the model's loss is not a scalar");
    return AT_OK;
}

/* One process: the whole batch's loss and gradients. */
static at_status batch_gradients(trainer *t, const size_t *indices, int n, double *loss_out) {
    at_tensor *loss;
    AT_TRY(model_loss(t, indices, n, &loss));
    if (!isfinite(loss->data[0])) return loss_not_finite(t, loss->data[0]);
    AT_TRY(at_backward(t->ctx, loss));
    *loss_out = loss->data[0];
    return AT_OK;
}

/* What examples indices[0 .. n) weigh in the model's mean loss. */
static double examples_weight(const trainer *t, const size_t *indices, int n) {
    if (n == 0) return 0;
    return t->m->weight ? t->m->weight(t->m->self, indices, n) : (double)n;
}

/* This rank's slice: its loss and gradients, weighted by its share of
 * the batch (examples_weight), into tail[0] and the gradients; dropout
 * from the slice's own generator (par_slice_rng), the shared one advanced
 * by one draw. */
static at_status slice_gradients(trainer *t, const size_t *indices, int n, float *weight,
                                 float tail[1]) {
    int first, rows;
    par_slice(n, t->rank, t->ranks, &first, &rows);
    double whole = examples_weight(t, indices, n);
    if (!(whole > 0) || !isfinite(whole))
        return at_ctx_fail(t->ctx, AT_ERR_STATE,
                           "train: the model weighs the batch of step %ld as %g, not a positive "
                           "number",
                           t->step + 1, whole);
    *weight = (float)(examples_weight(t, indices + first, rows) / whole);
    tail[0] = 0;
    at_rng *rng = at_ctx_rng(t->ctx), shared = *rng;
    at_status s = AT_OK;
    at_tensor *loss = NULL;
    if (rows > 0) {
        par_slice_rng(&shared, t->rank, rng);
        s = model_loss(t, indices + first, rows, &loss);
        if (s == AT_OK && isfinite(loss->data[0])) s = at_backward(t->ctx, loss);
        if (s == AT_OK) tail[0] = *weight * loss->data[0];
    }
    *rng = shared;
    at_rng_u32(rng);
    return s;
}

/* Several processes: the slice's gradients, then the sums over all of the
 * gradients, the loss, the stop requests and the time budget. */
static at_status shared_gradients(trainer *t, const size_t *indices, int n, double *loss_out) {
    float weight = 0, tail[3] = {0, 0, 0};
    AT_TRY(slice_gradients(t, indices, n, &weight, tail));
    tail[1] = (float)stop_requested(t);
    tail[2] = (float)(t->o->max_seconds > 0 && train_seconds(t) >= t->o->max_seconds);
    AT_TRY(par_sum_gradients(t->ctx, t->o->reducer, t->m->params, weight, tail, 3, t->fused,
                             t->fused_size));
    if (!isfinite(tail[0])) return loss_not_finite(t, tail[0]);
    t->stop_agreed = tail[1] > 0;
    t->out_of_time = tail[2] > 0;
    *loss_out = tail[0];
    return AT_OK;
}

static at_status one_step(trainer *t, float lr) {
    at_ctx *ctx = t->ctx;
    const size_t *indices;
    int n = next_batch(t, &indices);
    at_ctx_reset(ctx);
    at_params_zero_grad(t->m->params);
    double l = 0;
    if (t->ranks == 1)
        AT_TRY(batch_gradients(t, indices, n, &l));
    else
        AT_TRY(shared_gradients(t, indices, n, &l));
    if (t->o->clip > 0) AT_TRY(at_clip_grad_norm(ctx, t->m->params, t->o->clip, NULL));
    at_optim_set_lr(t->optim, lr);
    AT_TRY(at_optim_step(ctx, t->optim));
    t->step++;
    t->examples += n;
    t->loss_avg = t->loss_avg == 0 ? l : 0.98 * t->loss_avg + 0.02 * l;
    t->log_loss += l;
    t->log_steps++;
    return AT_OK;
}

static int better(const trainer *t, double value) {
    if (isnan(t->best)) return 1;
    return t->o->lower_is_better ? value <= t->best : value >= t->best;
}

/* The model's metrics: from one process, or each its shard, the counts
 * summed over all (every process then holds the same metrics). */
static at_status model_metrics(trainer *t, at_metrics *m) {
    if (t->ranks == 1 || !t->m->evaluate_shard) return t->m->evaluate(t->ctx, t->m->self, m);
    double counts[AT_EVAL_COUNTS] = {0};
    AT_TRY(t->m->evaluate_shard(t->ctx, t->m->self, t->rank, t->ranks, counts));
    AT_TRY(t->o->reducer->sum_doubles(t->ctx, t->o->reducer->user, counts, AT_EVAL_COUNTS));
    return t->m->evaluate_finish(t->ctx, t->m->self, counts, m);
}

static at_status evaluate(trainer *t, double lr) {
    at_ctx *ctx = t->ctx;
    at_metrics m = {0};
    double started = now_seconds();
    int grad = at_ctx_set_grad(ctx, 0);
    int training = at_ctx_set_training(ctx, 0);
    at_status s = model_metrics(t, &m);
    at_ctx_set_grad(ctx, grad);
    at_ctx_set_training(ctx, training);
    at_ctx_reset(ctx);
    t->eval_seconds += now_seconds() - started;
    t->evaluated_step = t->step;
    if (s != AT_OK) return s;
    if (m.count == 0) return at_ctx_fail(ctx, AT_ERR_STATE, "train: evaluate reported no metric");
    if (!t->best_name[0])
        snprintf(t->best_name, sizeof t->best_name, "%s",
                 t->o->best_metric ? t->o->best_metric : m.name[0]);
    double value;
    if (!at_metrics_get(&m, t->best_name, &value))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "train: evaluate reported no metric '%s'",
                           t->best_name);
    t->last = m;
    t->evaluations++;
    AT_TRY(metrics_line(t, lr, &m));
    if (better(t, value)) {
        t->best = value;
        AT_TRY(save_model(t, "model.safetensors"));
    }
    return AT_OK;
}

static void report(trainer *t, double lr, int evaluated) {
    if (!t->o->progress || !t->writer) return;
    double seconds = elapsed(t);
    at_train_progress p = {.step = t->step,
                           .total_steps = t->total,
                           .loss = t->loss_avg,
                           .lr = lr,
                           .examples_per_second = seconds > 0 ? t->examples / seconds : 0,
                           .seconds = seconds,
                           .valid = &t->last,
                           .evaluated = evaluated};
    t->o->progress(t->o->progress_user, &p);
}

/* Several processes stop at the step they agreed on (shared_gradients). */
static int stop_requested(const trainer *t) { return t->o->stop && *t->o->stop; }
static int stop_now(const trainer *t) { return t->ranks > 1 ? t->stop_agreed : stop_requested(t); }

static int time_is_up(trainer *t) {
    if (t->ranks == 1 && t->o->max_seconds > 0 && train_seconds(t) >= t->o->max_seconds)
        t->out_of_time = 1;
    return t->out_of_time;
}

static at_status run_loop(trainer *t) {
    const at_trainer_options *o = t->o;
    while (t->step < t->total && !stop_now(t) && !time_is_up(t)) {
        float lr = at_schedule_lr(&t->schedule, t->step + 1);
        AT_TRY(one_step(t, lr));
        long s = t->step;
        int eval_now = t->m->evaluate && ((o->eval_every && s % o->eval_every == 0) || s == t->total);
        int log_now = s <= DENSE_LOG_STEPS || (o->log_every && s % o->log_every == 0);
        if (eval_now)
            AT_TRY(evaluate(t, lr));
        else if (log_now)
            AT_TRY(metrics_line(t, lr, NULL));
        if (eval_now || (o->save_every && s % o->save_every == 0)) AT_TRY(save_last(t));
        report(t, lr, eval_now);
    }
    return AT_OK;
}

/* ------------------------------------------------------------------ setup */

static long total_steps(const at_trainer_options *o, size_t count) {
    if (o->epochs <= 0) return o->steps;
    long per_epoch = (long)((count + (size_t)o->batch - 1) / (size_t)o->batch);
    return per_epoch * o->epochs;
}

static at_status setup(trainer *t) {
    const at_trainer_options *o = t->o;
    t->total = total_steps(o, t->m->count);
    t->best = NAN;
    if (o->best_metric) snprintf(t->best_name, sizeof t->best_name, "%s", o->best_metric);
    t->schedule = o->schedule;
    if (t->schedule.base_lr == 0) t->schedule.base_lr = o->optim.lr;
    if (t->schedule.total_steps == 0) t->schedule.total_steps = t->total;
    t->order = malloc(t->m->count * sizeof *t->order);
    if (!t->order) return at_ctx_fail(t->ctx, AT_ERR_MEMORY, "train: out of memory");
    AT_TRY(at_optim_create(t->ctx, &t->optim, t->m->params, &o->optim));
    if (t->ranks > 1) {
        size_t stream = at_params_numel(t->m->params) + 3;
        t->fused_size = stream < PAR_FUSED_FLOATS ? stream : PAR_FUSED_FLOATS;
        t->fused = malloc(t->fused_size * sizeof *t->fused);
        if (!t->fused) return at_ctx_fail(t->ctx, AT_ERR_MEMORY, "train: out of memory");
    }
    if (o->resume) AT_TRY(resume(t));
    restore_order(t);
    if (t->ranks > 1) AT_TRY(agree(t, "at the start, step"));
    return metrics_open(t);
}

static at_status finish(trainer *t) {
    /* out of time: end as at the natural end, with an evaluation */
    if (t->out_of_time && t->m->evaluate && t->evaluated_step != t->step)
        AT_TRY(evaluate(t, at_optim_lr(t->optim)));
    /* a run without evaluation: the last model is the best */
    if (!t->m->evaluate) AT_TRY(save_model(t, "model.safetensors"));
    /* the loss since the last line, at the natural end only: a stopped run
     * keeps it in last.* for the resumed run's next line */
    int ended = t->step == t->total || t->out_of_time;
    if (ended && t->log_steps) AT_TRY(metrics_line(t, at_optim_lr(t->optim), NULL));
    return save_last(t);
}

at_status at_train(at_ctx *ctx, const at_trainable *model, const at_trainer_options *opts,
                   at_train_result *result) {
    AT_TRY(check_options(ctx, model, opts));
    AT_TRY(at_trainer_prepare(ctx, opts));
    trainer t = {.ctx = ctx, .m = model, .o = opts, .start = now_seconds(), .evaluated_step = -1,
                 .rank = rank_of(opts), .ranks = ranks_of(opts), .writer = rank_of(opts) == 0};
    int training = at_ctx_set_training(ctx, 1); /* dropout on in the steps */
    at_status s = setup(&t);
    if (s == AT_OK) s = run_loop(&t);
    if (s == AT_OK) s = finish(&t);
    at_ctx_set_training(ctx, training);
    if (t.metrics && fclose(t.metrics) != 0 && s == AT_OK) s = metrics_fail(&t);
    if (result)
        *result = (at_train_result){.steps = t.step,
                                    .stopped = t.step < t.total && !t.out_of_time,
                                    .out_of_time = t.out_of_time,
                                    .train_seconds = train_seconds(&t),
                                    .evaluations = t.evaluations,
                                    .best = t.best,
                                    .last = t.last,
                                    .seconds = elapsed(&t)};
    at_optim_free(t.optim);
    free(t.order);
    free(t.fused);
    return s;
}
