/*
 * serve_models.c - the models `attend serve` offers: found once under
 * --models DIR, loaded when first used, kept while there is room.
 *
 * The walk reads only each file's safetensors header (its metadata says
 * what kind of model it is and, for a seq2seq model, its configuration:
 * at_seq2seq_read_config), so a folder of many runs lists at once. It never
 * follows a symbolic link, so every model served lies under DIR, and a
 * request names a model only by a name from this list: no path a client
 * sends is ever opened.
 *
 * Concurrency: each model has its own at_ctx (a context is not shared
 * between threads) and a mutex held by the request that uses it. The
 * catalogue's own mutex guards which models are loaded and when each was
 * last used. Lock order: a model's mutex, then the catalogue's; a model to
 * drop is only ever try-locked, so no two requests wait on each other.
 * A model added while serving (serve_catalogue_add: a run the lab trained;
 * serve_catalogue_rescan: a file that appeared under DIR) goes into room
 * reserved at start, so the list never moves; it is written whole before
 * the count that shows it is raised (an atomic store, read with an atomic
 * load). A rescan walks as the first walk does, at most once every
 * SERVE_RESCAN_SECONDS, one at a time (a request that finds one walking
 * does not wait for it). A half-written file is not a model yet: the
 * trainers write PATH.tmp-XXXXXX and rename it (not a *.safetensors name
 * until whole), and a file whose header does not read is left for the
 * next walk.
 */
#define _POSIX_C_SOURCE 200809L /* lstat, strdup */
#include "serve.h"
#include "model_io.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { MAX_PATH_BYTES = 4096 };

struct serve_model {
    char *name, *path;
    serve_kind kind;
    int config_read;          /* config holds the file's configuration */
    at_seq2seq_config config;
    pthread_mutex_t lock;
    at_ctx *ctx;              /* both NULL until loaded (catalogue lock) */
    void *model;              /* an at_seq2seq, at_lm or at_classifier   */
    unsigned long last_used;
};

static const char *const kind_names[] = {"seq2seq", "language-model", "classifier"};

/* Load the model file path of this kind into *model. */
static at_status load_kind(at_ctx *ctx, serve_kind kind, const char *path, void **model) {
    switch (kind) {
    case SERVE_SEQ2SEQ: return at_seq2seq_load(ctx, (at_seq2seq **)model, path, NULL);
    case SERVE_LANGUAGE_MODEL: return at_lm_load(ctx, (at_lm **)model, path, NULL);
    default: return at_classifier_load(ctx, (at_classifier **)model, path, NULL);
    }
}

static void free_kind(serve_kind kind, void *model) {
    switch (kind) {
    case SERVE_SEQ2SEQ: at_seq2seq_free(model); break;
    case SERVE_LANGUAGE_MODEL: at_lm_free(model); break;
    default: at_classifier_free(model); break;
    }
}

struct serve_catalogue {
    serve_model *models;      /* room for SERVE_MAX_MODELS once serving */
    int count, capacity;      /* count: atomic once serving              */
    char *root;               /* DIR, without a trailing '/'             */
    pthread_mutex_t lock;
    int loaded;               /* models loaded or being loaded */
    unsigned long clock;
    pthread_mutex_t rescan;   /* one rescan at a time                    */
    struct timespec scanned;  /* when the last walk started (monotonic)  */
};

/* The walk's state: where it is and what it has spent. */
typedef struct walk {
    serve_catalogue *c;
    at_ctx *ctx;              /* for reading headers */
    size_t root_len;          /* strlen(DIR) + 1: cut to name a model */
    long visited;
    int truncated;
    int serving;              /* a rescan: add beside requests, skip the listed */
} walk;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int is_regular(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The kind of model a checkpoint's metadata describes, or -1 (e.g. an
 * optimiser's state). */
static int model_kind(const at_metadata *meta) {
    if (at_metadata_get(meta, "attend.model")) return SERVE_SEQ2SEQ;
    if (at_metadata_get(meta, "attend.lm")) return SERVE_LANGUAGE_MODEL;
    if (at_metadata_get(meta, "attend.classify")) return SERVE_CLASSIFIER;
    return -1;
}

/* What a model file holds, read from its header alone (no lock held:
 * this is the walk's I/O). */
typedef struct probe {
    int kind;                 /* a serve_kind, or -1: not a model */
    int config_read;
    at_seq2seq_config config;
} probe;

static probe probe_file(walk *w, const char *path) {
    probe p = {.kind = -1};
    at_metadata meta = {0};
    if (at_checkpoint_read_metadata(w->ctx, path, &meta) != AT_OK) return p; /* not one (yet) */
    p.kind = model_kind(&meta);
    at_metadata_clear(&meta);
    p.config_read = p.kind == SERVE_SEQ2SEQ && at_seq2seq_read_config(w->ctx, path, &p.config) == AT_OK;
    return p;
}

/* Append the model file path that p describes (with its mutex made when
 * init_lock); 0 only when out of memory. */
static int append_model(walk *w, const char *path, const probe *p, int init_lock) {
    serve_catalogue *c = w->c;
    if (c->count == SERVE_MAX_MODELS) return w->truncated = 1, 1;
    if (c->count == c->capacity) {
        int cap = c->capacity ? 2 * c->capacity : 16;
        serve_model *grown = realloc(c->models, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        c->models = grown, c->capacity = cap;
    }
    serve_model *m = &c->models[c->count];
    *m = (serve_model){.kind = (serve_kind)p->kind, .path = strdup(path),
                       .name = strdup(path + w->root_len), .config_read = p->config_read,
                       .config = p->config};
    if (!m->path || !m->name) return free(m->path), free(m->name), 0;
    if (init_lock) pthread_mutex_init(&m->lock, NULL);
    __atomic_store_n(&c->count, c->count + 1, __ATOMIC_RELEASE);
    return 1;
}

/* Add path if it is a model (with its mutex made when init_lock); 0
 * only when out of memory. */
static int add_file(walk *w, const char *path, int init_lock) {
    probe p = probe_file(w, path);
    return p.kind < 0 || append_model(w, path, &p, init_lock);
}

/* Add path while serving (a rescan) if it is a model not listed yet: its
 * header is read with no lock held, then it is appended under the
 * catalogue's lock (checked again: another request may have added it). */
static int add_serving(walk *w, const char *path) {
    serve_catalogue *c = w->c;
    const char *name = path + w->root_len;
    if (serve_catalogue_find(c, name) >= 0) return 1;
    probe p = probe_file(w, path);
    if (p.kind < 0) return 1;
    pthread_mutex_lock(&c->lock);
    int ok = serve_catalogue_find(c, name) >= 0 || append_model(w, path, &p, 1);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Walk one folder (depth 0 is DIR); 0 only when out of memory. */
static int walk_folder(walk *w, const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return 1; /* unreadable: skipped */
    char path[MAX_PATH_BYTES], model[MAX_PATH_BYTES];
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    int has_model = is_regular(model), ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (++w->visited > SERVE_MAX_VISITED) {
            w->truncated = 1;
            break;
        }
        if (e->d_name[0] == '.') continue; /* ., .., hidden folders and files */
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue; /* a link is never followed */
        if (S_ISDIR(st.st_mode) && depth < SERVE_MAX_DEPTH)
            ok = walk_folder(w, path, depth + 1);
        else if (S_ISREG(st.st_mode) && ends_with(e->d_name, ".safetensors") &&
                 !(has_model && !strcmp(e->d_name, "last.safetensors")))
            ok = w->serving ? add_serving(w, path) : add_file(w, path, 0);
    }
    closedir(d);
    return ok;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const serve_model *)a)->name, ((const serve_model *)b)->name);
}

serve_catalogue *serve_catalogue_open(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "attend serve: --models %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "attend serve: --models %s is not a folder\n", dir);
        return NULL;
    }
    serve_catalogue *c = calloc(1, sizeof *c);
    at_ctx *ctx = cli_context("serve", 1, 1);
    if (!c || !ctx) {
        free(c);
        at_ctx_free(ctx);
        fprintf(stderr, "attend serve: out of memory\n");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->rescan, NULL);
    clock_gettime(CLOCK_MONOTONIC, &c->scanned);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--; /* "runs/" names as "runs" does */
    char root[MAX_PATH_BYTES];
    snprintf(root, sizeof root, "%.*s", (int)len, dir);
    walk w = {.c = c, .ctx = ctx, .root_len = strlen(root) + (strcmp(root, "/") != 0)};
    int ok = walk_folder(&w, root, 0);
    at_ctx_free(ctx);
    if (!ok) {
        fprintf(stderr, "attend serve: out of memory\n");
        serve_catalogue_free(c);
        return NULL;
    }
    if (w.truncated)
        fprintf(stderr, "attend serve: %s holds more than the walk reads (%d models, %d entries, "
                        "%d folders deep); the rest is not offered\n",
                dir, SERVE_MAX_MODELS, SERVE_MAX_VISITED, SERVE_MAX_DEPTH);
    qsort(c->models, (size_t)c->count, sizeof *c->models, by_name);
    for (int i = 0; i < c->count; i++) pthread_mutex_init(&c->models[i].lock, NULL);
    /* room for the models added while serving: the list never moves */
    serve_model *room = realloc(c->models, SERVE_MAX_MODELS * sizeof *room);
    c->root = strdup(root);
    if (!room || !c->root) {
        if (room) c->models = room;
        fprintf(stderr, "attend serve: out of memory\n");
        serve_catalogue_free(c);
        return NULL;
    }
    c->models = room, c->capacity = SERVE_MAX_MODELS;
    return c;
}

void serve_catalogue_free(serve_catalogue *c) {
    if (!c) return;
    for (int i = 0; i < c->count; i++) {
        serve_model *m = &c->models[i];
        if (m->model) free_kind(m->kind, m->model);
        at_ctx_free(m->ctx);
        pthread_mutex_destroy(&m->lock);
        free(m->name);
        free(m->path);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->rescan);
    free(c->models);
    free(c->root);
    free(c);
}

int serve_catalogue_count(const serve_catalogue *c) {
    return __atomic_load_n(&c->count, __ATOMIC_ACQUIRE);
}

const char *serve_catalogue_dir(const serve_catalogue *c) { return c->root; }

int serve_catalogue_add(serve_catalogue *c, const char *name) {
    char path[MAX_PATH_BYTES];
    if (snprintf(path, sizeof path, "%s/%s", c->root, name) >= (int)sizeof path) return -1;
    at_ctx *ctx = cli_context("serve", 1, 1);
    if (!ctx) return -1;
    pthread_mutex_lock(&c->lock);
    int i = serve_catalogue_find(c, name);
    walk w = {.c = c, .ctx = ctx, .root_len = strlen(c->root) + (strcmp(c->root, "/") != 0)};
    if (i < 0 && c->count < SERVE_MAX_MODELS && is_regular(path) && add_file(&w, path, 1))
        i = serve_catalogue_find(c, name);
    pthread_mutex_unlock(&c->lock);
    at_ctx_free(ctx);
    return i;
}

void serve_catalogue_rescan(serve_catalogue *c) {
    if (pthread_mutex_trylock(&c->rescan) != 0) return; /* one is walking now */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double since = (double)(now.tv_sec - c->scanned.tv_sec) +
                   1e-9 * (double)(now.tv_nsec - c->scanned.tv_nsec);
    at_ctx *ctx = since >= SERVE_RESCAN_SECONDS ? cli_context("serve", 1, 1) : NULL;
    if (ctx) {
        c->scanned = now;
        walk w = {.c = c, .ctx = ctx, .serving = 1,
                  .root_len = strlen(c->root) + (strcmp(c->root, "/") != 0)};
        walk_folder(&w, c->root, 0); /* out of memory: the rest waits for the next */
        at_ctx_free(ctx);
    }
    pthread_mutex_unlock(&c->rescan);
}

void serve_catalogue_info(const serve_catalogue *c, int i, serve_model_info *out) {
    const serve_model *m = &c->models[i];
    *out = (serve_model_info){.name = m->name, .kind = kind_names[m->kind]};
    if (!m->config_read) return; /* translating it will say why it does not load */
    const at_seq2seq_config *k = &m->config;
    int seed = k->decoder == AT_DECODER_SEED;
    out->decoder = seed ? "seed" : k->cell == AT_CELL_LSTM ? "luong-lstm" : "luong-gru";
    out->attention = seed ? "additive" : at_attention_kind_name(k->attention);
    out->heads = !seed && k->attention == AT_ATTENTION_MULTI_HEAD ? k->heads : 1;
}

int serve_catalogue_loaded(serve_catalogue *c, int i) {
    pthread_mutex_lock(&c->lock);
    int loaded = c->models[i].model != NULL;
    pthread_mutex_unlock(&c->lock);
    return loaded;
}

int serve_catalogue_find(const serve_catalogue *c, const char *name) {
    int count = serve_catalogue_count(c);
    for (int i = 0; i < count; i++)
        if (!strcmp(c->models[i].name, name)) return i;
    return -1;
}

/* Make room for one more loaded model (m's own slot is reserved): drop the
 * least recently used model that no request holds. Under c->lock. */
static void make_room(serve_catalogue *c, const serve_model *m) {
    while (c->loaded >= SERVE_MAX_LOADED) {
        serve_model *oldest = NULL;
        for (int i = 0; i < c->count; i++) {
            serve_model *o = &c->models[i];
            if (o == m || !o->model || (oldest && o->last_used >= oldest->last_used)) continue;
            if (pthread_mutex_trylock(&o->lock) != 0) continue; /* in use */
            if (oldest) pthread_mutex_unlock(&oldest->lock);
            oldest = o;
        }
        if (!oldest) return; /* all in use: over the bound for a moment */
        free_kind(oldest->kind, oldest->model);
        at_ctx_free(oldest->ctx);
        oldest->model = NULL, oldest->ctx = NULL;
        c->loaded--;
        pthread_mutex_unlock(&oldest->lock);
    }
}

/* Load m (its mutex held); 0 after writing why. */
static int load(serve_catalogue *c, serve_model *m, char *why, size_t why_size) {
    pthread_mutex_lock(&c->lock);
    make_room(c, m);
    c->loaded++;
    pthread_mutex_unlock(&c->lock);
    at_ctx *ctx = NULL;
    void *model = NULL;
    at_ctx_options options = {.num_threads = 1, .seed = 1};
    if (at_ctx_create(&ctx, &options) != AT_OK)
        snprintf(why, why_size, "out of memory loading '%s'", m->name);
    else if (load_kind(ctx, m->kind, m->path, &model) != AT_OK)
        snprintf(why, why_size, "cannot load '%s': %s", m->name, at_ctx_error(ctx));
    pthread_mutex_lock(&c->lock);
    if (model)
        m->ctx = ctx, m->model = model;
    else
        c->loaded--, at_ctx_free(ctx);
    pthread_mutex_unlock(&c->lock);
    return model != NULL;
}

serve_model *serve_model_borrow(serve_catalogue *c, int i, serve_kind kind, at_ctx **ctx,
                                const void **model, char *why, size_t why_size) {
    static const char *const is[] = {"seq2seq model", "language-model", "classifier"};
    static const char *const wanted[] = {"seq2seq model: it does not translate",
                                         "language model: it does not predict text",
                                         "classifier: it does not classify"};
    serve_model *m = &c->models[i];
    if (m->kind != kind) {
        snprintf(why, why_size, "'%s' is a %s, not a %s", m->name, is[m->kind], wanted[kind]);
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    if (!m->model && !load(c, m, why, why_size)) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    m->last_used = ++c->clock;
    pthread_mutex_unlock(&c->lock);
    *ctx = m->ctx;
    *model = m->model;
    return m;
}

const char *serve_kind_name(serve_kind kind) { return kind_names[kind]; }

void serve_model_release(serve_model *m) {
    if (m) pthread_mutex_unlock(&m->lock);
}
