/*
 * serve.h - what the files of `attend serve` share (the attention lab):
 *   serve.c          the command: options, the listening socket, Ctrl-C
 *   serve_http.c     the HTTP side (libmicrohttpd): routing, limits, bodies
 *   serve_api.c      the JSON API: a request's body in, a status and JSON out
 *   serve_kinds.c    the JSON API of classifiers and language models
 *   serve_models.c   the models found under --models DIR, loaded lazily
 *   lab_assets.c     the page's files, embedded at build time (generated
 *                    from cli/lab/ by cli/lab/embed.cmake)
 * The numbers all come from the library (at_seq2seq_translate and
 * at_attention_map_from_translation); these files only move them.
 */
#ifndef ATTEND_CLI_SERVE_H
#define ATTEND_CLI_SERVE_H

#include "cli.h"

#include <json-c/json.h>
#include <stddef.h>

/* Limits of one request. A bigger body is a 413; a longer text a 400. */
enum {
    SERVE_MAX_BODY_BYTES = 64 * 1024,
    SERVE_MAX_TEXT_BYTES = 4096,
    SERVE_MAX_COMPARED = 4, /* models in one /api/compare */
};

/* ------------------------------------------------------- the model catalogue
 * Every model file under DIR, found at start and again when the list is
 * asked for (serve_catalogue_rescan): *.safetensors files
 * whose metadata says they are attend models (seq2seq, language model or
 * classifier), named by their path relative to DIR. A folder's
 * last.safetensors is left out when its model.safetensors is there (the
 * run's kept model). The walk does not follow symbolic links, skips hidden
 * folders and is bounded (SERVE_MAX_DEPTH folders deep, SERVE_MAX_MODELS
 * models, SERVE_MAX_VISITED entries). Seq2seq models are loaded when first
 * used and kept, at most SERVE_MAX_LOADED at once (the least recently used
 * is dropped); each has its own at_ctx and a mutex that a request holds
 * while it uses the model. */
enum { SERVE_MAX_DEPTH = 8, SERVE_MAX_MODELS = 512, SERVE_MAX_VISITED = 100000,
       SERVE_MAX_LOADED = 8, SERVE_RESCAN_SECONDS = 1 };

typedef struct serve_catalogue serve_catalogue;

/* Walk dir; NULL after printing why (dir missing or not a folder, out of
 * memory). Finding no model is not an error (the page says so). */
serve_catalogue *serve_catalogue_open(const char *dir);
void serve_catalogue_free(serve_catalogue *c);
int serve_catalogue_count(const serve_catalogue *c);

/* One model as /api/models lists it. decoder and attention are NULL for a
 * model that is not a seq2seq model; heads is 0 then. */
typedef struct serve_model_info {
    const char *name;      /* path relative to DIR                     */
    const char *kind;      /* "seq2seq", "language-model", "classifier" */
    const char *decoder;   /* "seed" or "luong-gru", "luong-lstm"       */
    const char *attention; /* at_attention_kind_name                    */
    int heads;
} serve_model_info;
void serve_catalogue_info(const serve_catalogue *c, int i, serve_model_info *out);
/* 1 if model i is in memory now (loaded and not yet dropped), else 0. */
int serve_catalogue_loaded(serve_catalogue *c, int i);
/* The index of the model called name, or -1. */
int serve_catalogue_find(const serve_catalogue *c, const char *name);
/* DIR as the catalogue names it (no trailing '/'). */
const char *serve_catalogue_dir(const serve_catalogue *c);
/* Walk DIR again for models added since (the bounds of the first walk),
 * safe beside requests: at most once every SERVE_RESCAN_SECONDS, and not
 * while another rescan walks (then it returns at once). A model already
 * listed stays listed (a file removed since says so when it is used). */
void serve_catalogue_rescan(serve_catalogue *c);
/* Add the model file DIR/name (a run the lab trained) while serving, safe
 * beside requests; its index (also when it was listed already), or -1 when
 * it is not an attend model or the list is full. */
int serve_catalogue_add(serve_catalogue *c, const char *name);

/* Borrow model i, of this kind, for one request: its mutex is held until
 * the matching serve_model_release. On success *ctx and *model are the
 * model's own context and model (an at_seq2seq, at_lm or at_classifier,
 * loaded now if needed). On failure (a model of another kind, a file that
 * does not load) NULL is returned and the reason is written into why;
 * nothing is held. */
typedef enum serve_kind { SERVE_SEQ2SEQ, SERVE_LANGUAGE_MODEL, SERVE_CLASSIFIER } serve_kind;
typedef struct serve_model serve_model;
serve_model *serve_model_borrow(serve_catalogue *c, int i, serve_kind kind, at_ctx **ctx,
                                const void **model, char *why, size_t why_size);
void serve_model_release(serve_model *m);
/* "seq2seq", "language-model" or "classifier": the kind as listed. */
const char *serve_kind_name(serve_kind kind);

/* ---------------------------------------------------------------- the API
 * Each handler takes the request's body (any bytes, len of them) and gives
 * the HTTP status and the response's JSON text (malloc'd; NULL only when
 * out of memory, a 500 then). Errors are {"error": "..."}. */
typedef struct serve_reply {
    unsigned status;
    char *json;
} serve_reply;
serve_reply serve_api_models(serve_catalogue *c);
serve_reply serve_api_colours(void);
serve_reply serve_api_translate(serve_catalogue *c, const char *body, size_t len);
serve_reply serve_api_compare(serve_catalogue *c, const char *body, size_t len);
serve_reply serve_api_explain(serve_catalogue *c, const char *body, size_t len);
/* The models that do not translate (serve_kinds.c): a classifier's label
 * and attention, a language model's next character and attention. */
serve_reply serve_api_classify(serve_catalogue *c, const char *body, size_t len);
serve_reply serve_api_lm(serve_catalogue *c, const char *body, size_t len);
/* Shared by the API's files (serve_api.c):
 * the body as a JSON object holding only the keys named, each once, the
 * first n_required of them required; NULL with a 400 in *bad; */
json_object *serve_read_request(const char *body, size_t len, const char *const *keys,
                               int n_keys, int n_required, serve_reply *bad);
/* a string field's text (at most max_bytes), or NULL with a 400 in *bad; */
const char *serve_string_field(json_object *value, const char *name, size_t max_bytes,
                               serve_reply *bad);
/* the catalogue index of the model named by value (a string field called
 * field), or -1 with a 4xx in *bad (404: no model of that name); */
int serve_find_model(const serve_catalogue *c, json_object *value, const char *field,
                     serve_reply *bad);
/* model i of this kind borrowed for one request (serve_model_borrow), its
 * listing in *info; NULL with the status (400: a model of another kind;
 * 500: a file that does not load) and the reason in f; */
typedef struct serve_failure {
    unsigned status;
    char why[512];
} serve_failure;
serve_model *serve_borrow(serve_catalogue *c, int i, serve_kind kind, at_ctx **ctx,
                          const void **model, serve_model_info *info, serve_failure *f);
/* the shortest decimal that reads back as the same float; */
json_object *serve_json_float(float v);
/* a reply with obj's JSON text (obj is released; a 500 when out of memory). */
serve_reply serve_reply_json(unsigned status, json_object *obj);
/* {"error": message} with this status. */
serve_reply serve_api_error(unsigned status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------- watching training
 * One run at a time (serve_training.c, docs/lab.md): started from the page
 * (a thread of the server runs `attend train` on generated dates into
 * DIR/lab-runs/NAME/, and its model joins the catalogue when it ends), or
 * attached to the run of `attend train --serve` (catalogue NULL: starting
 * and stopping are 409 then). */
typedef struct serve_training serve_training;
struct train_watch;
serve_training *serve_training_create(serve_catalogue *catalogue);
/* Stops a run going (its flag), waits for it, frees. */
void serve_training_free(serve_training *t);
/* Attached: the CLI's run into out with this attention is running. */
void serve_training_attached(serve_training *t, const char *out, const char *attention);
/* The watch that feeds t (for train_run). */
struct train_watch serve_training_watch(serve_training *t);
serve_reply serve_api_training(serve_training *t, const char *since);
serve_reply serve_api_training_start(serve_training *t, const char *body, size_t len);
serve_reply serve_api_training_stop(serve_training *t);

/* ------------------------------------------------------------------ HTTP */
typedef struct serve_http serve_http;
/* Where the listening socket is: its port, its family, and whether it is
 * a loopback address (then only a Host naming this machine is served). */
typedef struct serve_where {
    long port;
    int ipv6, loopback;
} serve_where;
/* A socket listening on host:port, or -1 after printing why. where gets
 * its port (the one chosen when port is 0), family and whether it is a
 * loopback address. */
int serve_listen(const char *host, long port, serve_where *where);
/* Serve on the listening socket fd (taken over: closed by serve_http_stop)
 * with a pool of `threads` threads; NULL after printing why. c is NULL
 * when serving only a run of `attend train --serve` (no models then). */
serve_http *serve_http_start(serve_catalogue *c, serve_training *t, int fd,
                             const serve_where *where, int threads);
void serve_http_stop(serve_http *h);

/* ----------------------------------------------------------------- assets */
typedef struct serve_asset {
    const char *path;         /* the URL path, e.g. "/" or "/lab.js" */
    const char *content_type;
    const unsigned char *data;
    size_t size;
} serve_asset;
extern const serve_asset serve_assets[];
extern const int serve_asset_count;

#endif
