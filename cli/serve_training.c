/*
 * serve_training.c - the lab's "watch training" (docs/lab.md): one run of
 * `attend train` at a time, watched through /api/training.
 *
 *   POST /api/training/start  {"attention": NAME, "steps": 1..20000,
 *                             "size": "tiny"|"default", "seed": N} (size
 *                             and seed optional) -> 202 {"run", "out"}:
 *                             a run on generated dates in a thread of the
 *                             server, written to DIR/lab-runs/NAME/; 409
 *                             while one runs
 *   POST /api/training/stop   -> 202: the trainer's stop flag is raised; the
 *                             run saves last.* at the next step and ends
 *   GET  /api/training[?since=STEP] -> the state, the curve points and the
 *                             snapshots of the probe inputs taken after STEP
 *
 * The run is `attend train` itself (train_run, cli/train.c: the same data,
 * model and trainer options), watched (train_watch.h): before the first
 * step a snapshot collector (at_snapshots_create) is made for the probes
 * `attend train --snapshots` watches, and each progress report is
 * recorded into it. The collector is read and written under one mutex; the
 * HTTP threads only ever hold it while they copy numbers into JSON, so
 * the page and the other API calls stay live while the run trains. When a
 * run ends its model (model.safetensors, else last.safetensors) joins the
 * models list, and only then is the state "finished" (or "stopped").
 *
 * `attend train --serve PORT` (train_serve.c) uses the same object,
 * attached to its own run: GET /api/training works, start and stop are 409.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"
#include "train_snapshots.h"
#include "train_watch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_STEPS = 20000, NAME_BYTES = 128, PATH_BYTES = 4096, ERROR_BYTES = 512 };

typedef enum run_state { RUN_IDLE, RUN_RUNNING, RUN_STOPPED, RUN_FINISHED, RUN_FAILED } run_state;
static const char *const state_names[] = {"idle", "running", "stopped", "finished", "failed"};

struct serve_training {
    pthread_mutex_t lock;           /* guards everything below              */
    serve_catalogue *catalogue;     /* NULL when attached to a CLI run      */
    run_state state;
    char run[NAME_BYTES];           /* e.g. "lab-runs/dot-500-1"            */
    char attention[64];
    char error[ERROR_BYTES];        /* why it failed, or a note             */
    char model[PATH_BYTES];         /* the listed model when it ended ("")  */
    long total_steps, step;
    at_ctx *run_ctx;                /* the trainer's context, for recording */
    at_snapshots *collector;        /* NULL until the run's first step      */
    int recording_failed;
    volatile sig_atomic_t stop;
    pthread_t thread;
    int has_thread;
    /* the run's command line (train_run's argv): literals, out, attention
     * and the numbers in numbers[] */
    char out[PATH_BYTES];
    char numbers[8][32];
    char *argv[40];
    int argc, n_numbers;
};

/* -------------------------------------------------------------- watching */

static at_status on_start(void *user, at_ctx *ctx, const at_seq2seq *model,
                          const char *const *probes, int probe_count, long total_steps,
                          int resumed) {
    serve_training *t = user;
    at_snapshots *collector = NULL;
    long every = total_steps / TRAIN_SNAPSHOTS_WANTED;
    at_status s = probe_count > 0
                      ? at_snapshots_create(ctx, &collector, model, probe_count, probes,
                                            every > 0 ? every : 1, TRAIN_SNAPSHOTS_KEPT)
                      : at_ctx_fail(ctx, AT_ERR_ARGUMENT, "no probe to watch");
    if (s == AT_OK && !resumed) { /* the untrained model, step 0 */
        at_metrics none = {0};
        at_train_progress untrained = {.step = 0, .total_steps = total_steps, .valid = &none};
        s = at_snapshots_record(ctx, collector, &untrained);
    }
    pthread_mutex_lock(&t->lock);
    t->total_steps = total_steps;
    t->run_ctx = ctx;
    t->collector = collector;
    /* the run goes on without snapshots: watching never changes it */
    if (s != AT_OK) snprintf(t->error, sizeof t->error, "no snapshots: %s", at_ctx_error(ctx));
    pthread_mutex_unlock(&t->lock);
    return AT_OK;
}

static void on_progress(void *user, const at_train_progress *p) {
    serve_training *t = user;
    pthread_mutex_lock(&t->lock);
    t->step = p->step;
    if (t->collector && !t->recording_failed &&
        at_snapshots_record(t->run_ctx, t->collector, p) != AT_OK) {
        t->recording_failed = 1;
        snprintf(t->error, sizeof t->error, "snapshots stopped: %s", at_ctx_error(t->run_ctx));
    }
    pthread_mutex_unlock(&t->lock);
}

static void on_finish(void *user, int code, const char *error) {
    serve_training *t = user;
    pthread_mutex_lock(&t->lock);
    t->run_ctx = NULL; /* freed after this */
    if (code && code != 130) snprintf(t->error, sizeof t->error, "%s", error);
    if (!t->catalogue) t->state = code == 0 ? RUN_FINISHED : code == 130 ? RUN_STOPPED : RUN_FAILED;
    pthread_mutex_unlock(&t->lock);
}

train_watch serve_training_watch(serve_training *t) {
    return (train_watch){.start = on_start, .progress = on_progress, .finish = on_finish,
                         .user = t, .stop = t->catalogue ? &t->stop : NULL};
}

/* ------------------------------------------------------------ the object */

serve_training *serve_training_create(serve_catalogue *catalogue) {
    serve_training *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->catalogue = catalogue;
    return t;
}

/* The thread of the previous run, joined (it has ended or is ending). */
static void join_run(serve_training *t) {
    if (t->has_thread) pthread_join(t->thread, NULL);
    t->has_thread = 0;
}

void serve_training_free(serve_training *t) {
    if (!t) return;
    t->stop = 1;
    join_run(t);
    at_snapshots_free(t->collector);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void serve_training_attached(serve_training *t, const char *out, const char *attention) {
    pthread_mutex_lock(&t->lock);
    t->state = RUN_RUNNING;
    snprintf(t->run, sizeof t->run, "%s", out);
    snprintf(t->attention, sizeof t->attention, "%s", attention ? attention : "");
    pthread_mutex_unlock(&t->lock);
}

/* ---------------------------------------------------------- starting one */

/* The run's thread: `attend train` with the run's arguments, then its
 * model into the list, then the state. */
static void *run_thread(void *user) {
    serve_training *t = user;
    train_watch watch = serve_training_watch(t);
    int code = train_run(t->argc, t->argv, &watch);
    char name[PATH_BYTES];
    const char *files[2] = {"model.safetensors", "last.safetensors"};
    int listed = -1;
    for (int i = 0; i < 2 && listed < 0; i++) {
        snprintf(name, sizeof name, "%s/%s", t->run, files[i]);
        listed = serve_catalogue_add(t->catalogue, name);
    }
    pthread_mutex_lock(&t->lock);
    if (listed >= 0) snprintf(t->model, sizeof t->model, "%s", name);
    if (code == 2 && !t->error[0]) snprintf(t->error, sizeof t->error, "bad training options");
    t->state = code == 0 ? RUN_FINISHED : code == 130 ? RUN_STOPPED : RUN_FAILED;
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* An argument that outlives the run (a literal, t->out, t->attention). */
static void add_text(serve_training *t, const char *text) { t->argv[t->argc++] = (char *)text; }

static void add_option(serve_training *t, const char *option, long value) {
    char *number = t->numbers[t->n_numbers++];
    snprintf(number, sizeof t->numbers[0], "%ld", value);
    add_text(t, option);
    add_text(t, number);
}

/* The `attend train` arguments of a lab run: generated dates, enough pairs
 * for the steps, ten evaluations, the tiny or the default sizes. */
static void lab_arguments(serve_training *t, long steps, int tiny, long seed) {
    long batch = tiny ? 32 : 128, pairs = steps * batch;
    t->argc = t->n_numbers = 0;
    const char *fixed[] = {"train", "--data", "dates", "--attention", t->attention,
                           "--out", t->out, "--valid-size", "500"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) add_text(t, fixed[i]);
    add_option(t, "--steps", steps);
    add_option(t, "--batch", batch);
    add_option(t, "--seed", seed);
    add_option(t, "--train-size", pairs < 2000 ? 2000 : pairs > 250000 ? 250000 : pairs);
    add_option(t, "--eval-every", steps >= 10 ? steps / 10 : 1);
    add_option(t, "--warmup", steps < 2000 ? steps / 10 : 200);
    if (tiny) {
        const char *sizes[] = {"--embed", "16", "--encoder", "32", "--decoder-size", "64",
                               "--attn-size", "32"};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) add_text(t, sizes[i]);
    }
}

/* A fresh folder DIR/lab-runs/ATTENTION-STEPS-K for the run; 0 after
 * writing why. */
static int make_run_folder(serve_training *t, const char *attention, long steps, char *why,
                           size_t why_size) {
    const char *dir = serve_catalogue_dir(t->catalogue);
    snprintf(t->out, sizeof t->out, "%s/lab-runs", dir);
    if (mkdir(t->out, 0777) != 0 && errno != EEXIST) {
        snprintf(why, why_size, "cannot make %.300s: %s", t->out, strerror(errno));
        return 0;
    }
    for (int k = 1; k < 10000; k++) {
        snprintf(t->run, sizeof t->run, "lab-runs/%s-%ld-%d", attention, steps, k);
        snprintf(t->out, sizeof t->out, "%s/%s", dir, t->run);
        if (mkdir(t->out, 0777) == 0) return 1;
        if (errno != EEXIST) break;
    }
    snprintf(why, why_size, "cannot make a folder for the run in %.300s/lab-runs: %s", dir,
             strerror(errno));
    return 0;
}

/* The body's fields; 0 with a 400 in *bad. */
typedef struct start_request {
    const char *attention;
    long steps, seed;
    int tiny;
} start_request;

static int whole_number(json_object *value, const char *name, long lo, long hi, long *out,
                        serve_reply *bad) {
    int64_t v = json_object_is_type(value, json_type_int) ? json_object_get_int64(value) : lo - 1;
    if (v < lo || v > hi) {
        *bad = serve_api_error(400, "'%s' must be a whole number from %ld to %ld", name, lo, hi);
        return 0;
    }
    *out = (long)v;
    return 1;
}

static int read_start(json_object *req, start_request *r, serve_reply *bad) {
    json_object *size = NULL, *seed = NULL;
    *r = (start_request){.seed = 1, .tiny = 1};
    r->attention = serve_string_field(json_object_object_get(req, "attention"), "attention", 64, bad);
    if (!r->attention) return 0;
    at_ctx *ctx = NULL;
    at_ctx_options options = {.num_threads = 1, .seed = 1};
    at_attention_kind kind;
    if (at_ctx_create(&ctx, &options) != AT_OK) return *bad = serve_api_error(500, "out of memory"), 0;
    int known = at_attention_kind_parse(ctx, r->attention, &kind) == AT_OK;
    if (!known) *bad = serve_api_error(400, "'attention': %s", at_ctx_error(ctx));
    at_ctx_free(ctx);
    if (!known) return 0;
    if (!whole_number(json_object_object_get(req, "steps"), "steps", 1, MAX_STEPS, &r->steps, bad))
        return 0;
    if (json_object_object_get_ex(req, "seed", &seed) &&
        !whole_number(seed, "seed", 0, 1L << 31, &r->seed, bad))
        return 0;
    if (json_object_object_get_ex(req, "size", &size)) {
        const char *s = serve_string_field(size, "size", 16, bad);
        if (!s) return 0;
        if (strcmp(s, "tiny") && strcmp(s, "default"))
            return *bad = serve_api_error(400, "'size' must be \"tiny\" or \"default\""), 0;
        r->tiny = !strcmp(s, "tiny");
    }
    return 1;
}

/* Start the run under t->lock (no run going); the reply. */
static serve_reply start_locked(serve_training *t, const start_request *r) {
    char why[ERROR_BYTES];
    if (!make_run_folder(t, r->attention, r->steps, why, sizeof why))
        return serve_api_error(500, "%s", why);
    at_snapshots_free(t->collector);
    t->collector = NULL, t->recording_failed = 0, t->stop = 0;
    t->step = 0, t->total_steps = r->steps;
    t->error[0] = t->model[0] = 0;
    snprintf(t->attention, sizeof t->attention, "%s", r->attention);
    lab_arguments(t, r->steps, r->tiny, r->seed);
    t->state = RUN_RUNNING;
    if (pthread_create(&t->thread, NULL, run_thread, t) != 0) {
        t->state = RUN_FAILED;
        snprintf(t->error, sizeof t->error, "cannot start a thread");
        return serve_api_error(500, "cannot start a thread for the run");
    }
    t->has_thread = 1;
    json_object *obj = json_object_new_object();
    if (obj) {
        json_object_object_add(obj, "run", json_object_new_string(t->run));
        json_object_object_add(obj, "steps", json_object_new_int64(r->steps));
    }
    return serve_reply_json(202, obj);
}

serve_reply serve_api_training_start(serve_training *t, const char *body, size_t len) {
    static const char *const keys[] = {"attention", "steps", "size", "seed"};
    if (!t->catalogue)
        return serve_api_error(409, "this server watches a run of attend train: it starts none");
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 4, 2, &bad);
    if (!req) return bad;
    start_request r;
    int ok = read_start(req, &r, &bad);
    serve_reply reply;
    pthread_mutex_lock(&t->lock);
    if (!ok)
        reply = bad;
    else if (t->state == RUN_RUNNING)
        reply = serve_api_error(409, "a run is training (%s): stop it first", t->run);
    else {
        /* the last run's thread set its state last, after which it takes
         * no lock: joining it here cannot wait on us */
        join_run(t);
        reply = start_locked(t, &r);
    }
    pthread_mutex_unlock(&t->lock);
    json_object_put(req);
    return reply;
}

serve_reply serve_api_training_stop(serve_training *t) {
    if (!t->catalogue)
        return serve_api_error(409, "this server watches a run of attend train: stop it with "
                                    "Ctrl-C where it runs");
    pthread_mutex_lock(&t->lock);
    int running = t->state == RUN_RUNNING;
    if (running) t->stop = 1;
    pthread_mutex_unlock(&t->lock);
    if (!running) return serve_api_error(409, "no run is training");
    json_object *obj = json_object_new_object();
    if (obj) json_object_object_add(obj, "stopping", json_object_new_boolean(1));
    return serve_reply_json(202, obj);
}

/* ------------------------------------------------------------ the state */

static json_object *number_or_null(double v) {
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *metrics_object(const at_metrics *m) {
    json_object *obj = json_object_new_object();
    for (int i = 0; obj && i < m->count; i++)
        json_object_object_add(obj, m->name[i], number_or_null(m->value[i]));
    return obj;
}

static json_object *string_list(char **texts, int n) {
    json_object *list = json_object_new_array();
    for (int i = 0; list && i < n; i++) json_object_array_add(list, json_object_new_string(texts[i]));
    return list;
}

/* One probe's map: {"output", "source", "target", "heads", "weights":
 * [H][Ty][Tx]}; source, target and weights are null when the output is
 * empty. */
static json_object *probe_object(const char *output, const at_attention_map *map) {
    json_object *obj = json_object_new_object();
    if (!obj) return NULL;
    json_object_object_add(obj, "output", json_object_new_string(output));
    if (!map) {
        json_object_object_add(obj, "heads", json_object_new_int(0));
        json_object_object_add(obj, "weights", NULL);
        return obj;
    }
    json_object *heads = json_object_new_array();
    for (int h = 0; heads && h < map->heads; h++) {
        json_object *rows = json_object_new_array();
        for (int i = 0; rows && i < map->rows; i++) {
            json_object *row = json_object_new_array_ext(map->cols);
            const float *w = map->weights + ((size_t)h * map->rows + i) * map->cols;
            for (int j = 0; row && j < map->cols; j++) json_object_array_add(row, serve_json_float(w[j]));
            json_object_array_add(rows, row);
        }
        json_object_array_add(heads, rows);
    }
    json_object_object_add(obj, "source", string_list(map->col_labels, map->cols));
    json_object_object_add(obj, "target", string_list(map->row_labels, map->rows));
    json_object_object_add(obj, "heads", json_object_new_int(map->heads));
    json_object_object_add(obj, "weights", heads);
    return obj;
}

static json_object *snapshot_object(const at_snapshot *s, int probes) {
    json_object *obj = json_object_new_object();
    if (!obj) return NULL;
    json_object_object_add(obj, "step", json_object_new_int64(s->step));
    json_object_object_add(obj, "loss", number_or_null(s->loss));
    json_object_object_add(obj, "valid", metrics_object(&s->valid));
    json_object *list = json_object_new_array();
    for (int p = 0; list && p < probes; p++)
        json_object_array_add(list, probe_object(s->outputs[p], s->maps[p]));
    json_object_object_add(obj, "probes", list);
    return obj;
}

/* The collector's points and snapshots after step `since` into obj. */
static void add_history(json_object *obj, const at_snapshots *c, long since) {
    json_object *points = json_object_new_array(), *snaps = json_object_new_array();
    json_object *probes = json_object_new_array();
    int n = 0, probe_count = c ? at_snapshots_probes(c) : 0;
    const at_snapshot_point *pts = c ? at_snapshots_points(c, &n) : NULL;
    for (int i = 0; points && i < n; i++) {
        if (pts[i].step <= since) continue;
        json_object *pt = json_object_new_object();
        if (!pt) break;
        json_object_object_add(pt, "step", json_object_new_int64(pts[i].step));
        json_object_object_add(pt, "loss", number_or_null(pts[i].loss));
        if (pts[i].evaluated) json_object_object_add(pt, "valid", metrics_object(&pts[i].valid));
        json_object_array_add(points, pt);
    }
    for (int i = 0; snaps && c && i < at_snapshots_count(c); i++) {
        const at_snapshot *s = at_snapshots_get(c, i);
        if (s->step > since) json_object_array_add(snaps, snapshot_object(s, probe_count));
    }
    for (int p = 0; probes && p < probe_count; p++)
        json_object_array_add(probes, json_object_new_string(at_snapshots_probe(c, p)));
    json_object_object_add(obj, "every", json_object_new_int64(c ? at_snapshots_every(c) : 0));
    json_object_object_add(obj, "probes", probes);
    json_object_object_add(obj, "points", points);
    json_object_object_add(obj, "snapshots", snaps);
}

static json_object *text_or_null(const char *s) { return s[0] ? json_object_new_string(s) : NULL; }

serve_reply serve_api_training(serve_training *t, const char *since_text) {
    long since = -1;
    if (since_text) {
        char *end = NULL;
        errno = 0;
        since = strtol(since_text, &end, 10);
        if (!*since_text || *end || errno || since < -1)
            return serve_api_error(400, "'since' must be a step (a whole number from -1)");
    }
    json_object *obj = json_object_new_object();
    if (!obj) return serve_api_error(500, "out of memory");
    pthread_mutex_lock(&t->lock);
    json_object_object_add(obj, "state", json_object_new_string(state_names[t->state]));
    json_object_object_add(obj, "attached", json_object_new_boolean(!t->catalogue));
    json_object_object_add(obj, "run", text_or_null(t->run));
    json_object_object_add(obj, "attention", text_or_null(t->attention));
    json_object_object_add(obj, "steps", json_object_new_int64(t->total_steps));
    json_object_object_add(obj, "step", json_object_new_int64(t->step));
    json_object_object_add(obj, "error", text_or_null(t->error));
    json_object_object_add(obj, "model", text_or_null(t->model));
    add_history(obj, t->collector, since);
    pthread_mutex_unlock(&t->lock);
    return serve_reply_json(200, obj);
}
