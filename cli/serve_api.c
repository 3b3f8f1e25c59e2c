/*
 * serve_api.c - the lab's JSON API (docs/lab.md): a request's body in, an
 * HTTP status and a JSON text out, with no HTTP in sight (serve_http.c
 * routes to these).
 *
 *   GET  /api/models     {"models": [{"name", "kind", "decoder",
 *                        "attention", "heads", "loaded"}]}
 *   GET  /api/colours    {"colours": [[r, g, b] x 9]}: at_viz_colour at
 *                        0, 1/8, ..., 1, the ramp of every attend figure
 *   POST /api/translate  {"model": NAME, "text": TEXT} -> one translation:
 *                        {"model", "decoder", "attention", "input",
 *                         "output", "source": [units], "target": [units],
 *                         "heads": H, "weights": [H][Ty][Tx]}
 *                        - the numbers of `attend translate --weights json`
 *                        (greedy decoding), each weight written as the
 *                        shortest decimal that reads back as the same float
 *   POST /api/compare    {"models": [1..4 NAMEs], "text": TEXT} ->
 *                        {"input", "results": [a translation, or
 *                        {"model", "error"} where that model cannot
 *                        translate the text]}
 *   POST /api/explain    {"model": NAME, "text": TEXT, "step": K} -> the
 *                        numbers of decoder step K (at_seq2seq_explain_step)
 *                        as `attend explain --json` prints them (one
 *                        builder: explain_json.c)
 *
 * A request body is read strictly (ati_json_parse_strict: valid UTF-8, no
 * NUL byte, no key twice, a bounded number of values) and must be an
 * object with exactly the fields above, each of its type; anything else is
 * a 400 naming the problem, an unknown model a 404.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include "explain_json.h"
#include "json_strict.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The most JSON values a request may hold: compare's object, its list of
 * models and the text. */
enum { MAX_REQUEST_VALUES = 16, WHY_BYTES = 512 };

/* A reply with obj's JSON text (obj is released). */
serve_reply serve_reply_json(unsigned status, json_object *obj) {
    serve_reply r = {status, NULL};
    if (obj) {
        const char *text =
            json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r.json = text ? strdup(text) : NULL;
        json_object_put(obj);
    }
    if (!r.json) r.status = 500;
    return r;
}

serve_reply serve_api_error(unsigned status, const char *fmt, ...) {
    char message[WHY_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* a message cut inside a UTF-8 character is cut before it */
    size_t n = strlen(message);
    if (n == sizeof message - 1) {
        while (n > 0 && ((unsigned char)message[n - 1] & 0xC0) == 0x80) n--;
        if (n > 0 && ((unsigned char)message[n - 1] & 0xC0) == 0xC0) n--;
        message[n] = 0;
    }
    json_object *obj = json_object_new_object();
    if (obj) json_object_object_add(obj, "error", json_object_new_string(message));
    return serve_reply_json(status, obj);
}

/* --------------------------------------------------------------- listing */

static json_object *string_or_null(const char *s) { return s ? json_object_new_string(s) : NULL; }

/* One model's listing and its index in the catalogue. */
typedef struct listed {
    serve_model_info info;
    int index;
} listed;

static int by_name(const void *a, const void *b) {
    return strcmp(((const listed *)a)->info.name, ((const listed *)b)->info.name);
}

serve_reply serve_api_models(serve_catalogue *c) {
    if (c) serve_catalogue_rescan(c);
    int n = c ? serve_catalogue_count(c) : 0;
    listed *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    json_object *list = all ? json_object_new_array() : NULL;
    for (int i = 0; list && i < n; i++) serve_catalogue_info(c, i, &all[i].info), all[i].index = i;
    if (list) qsort(all, (size_t)n, sizeof *all, by_name); /* models added since go in order */
    for (int k = 0; list && k < n; k++) {
        serve_model_info info = all[k].info;
        int i = all[k].index;
        json_object *m = json_object_new_object();
        if (!m) break;
        json_object_object_add(m, "name", json_object_new_string(info.name));
        json_object_object_add(m, "kind", json_object_new_string(info.kind));
        json_object_object_add(m, "decoder", string_or_null(info.decoder));
        json_object_object_add(m, "attention", string_or_null(info.attention));
        json_object_object_add(m, "heads", json_object_new_int(info.heads));
        json_object_object_add(m, "loaded", json_object_new_boolean(serve_catalogue_loaded(c, i)));
        json_object_array_add(list, m);
    }
    free(all);
    json_object *obj = list ? json_object_new_object() : NULL;
    if (obj) json_object_object_add(obj, "models", list);
    else json_object_put(list);
    return serve_reply_json(200, obj);
}

serve_reply serve_api_colours(void) {
    json_object *list = json_object_new_array();
    for (int k = 0; list && k <= 8; k++) {
        uint8_t rgb[3];
        at_viz_colour((float)k / 8.0f, rgb);
        json_object *c = json_object_new_array();
        for (int i = 0; c && i < 3; i++) json_object_array_add(c, json_object_new_int(rgb[i]));
        json_object_array_add(list, c);
    }
    json_object *obj = json_object_new_object();
    if (obj) json_object_object_add(obj, "colours", list);
    else json_object_put(list);
    return serve_reply_json(200, obj);
}

/* ------------------------------------------------------------- requests */

json_object *serve_read_request(const char *body, size_t len, const char *const *keys,
                               int n_keys, int n_required, serve_reply *bad) {
    char why[WHY_BYTES];
    if (len == 0) {
        *bad = serve_api_error(400, "the body is empty: send a JSON object");
        return NULL;
    }
    json_object *root = ati_json_parse_strict(body, len, MAX_REQUEST_VALUES, why, sizeof why);
    if (!root) {
        *bad = serve_api_error(400, "the body is not valid JSON: %s", why);
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        *bad = serve_api_error(400, "the body must be a JSON object");
        return NULL;
    }
    json_object_object_foreach(root, key, value) {
        (void)value;
        int known = 0;
        for (int i = 0; i < n_keys; i++) known |= !strcmp(key, keys[i]);
        if (!known) {
            char fields[128] = "";
            for (int i = 0; i < n_keys; i++)
                snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s",
                         i == 0 ? "" : i + 1 < n_keys ? ", " : " and ", keys[i]);
            *bad = serve_api_error(400, "unknown field '%.64s' (the fields are %s)", key, fields);
            json_object_put(root);
            return NULL;
        }
    }
    for (int i = 0; i < n_required; i++)
        if (!json_object_object_get_ex(root, keys[i], NULL)) {
            *bad = serve_api_error(400, "the field '%s' is missing", keys[i]);
            json_object_put(root);
            return NULL;
        }
    return root;
}

/* A string field's text (valid UTF-8 and free of NUL, as the parser made
 * sure), or NULL with a 400 in *bad. */
const char *serve_string_field(json_object *value, const char *name, size_t max_bytes,
                               serve_reply *bad) {
    if (!json_object_is_type(value, json_type_string)) {
        *bad = serve_api_error(400, "'%s' must be a string", name);
        return NULL;
    }
    const char *s = json_object_get_string(value);
    size_t n = (size_t)json_object_get_string_len(value);
    if (strlen(s) != n) {
        *bad = serve_api_error(400, "'%s' holds a NUL character", name);
        return NULL;
    }
    if (n > max_bytes) {
        *bad = serve_api_error(400, "'%s' is %zu bytes long, more than the %zu allowed", name, n,
                               max_bytes);
        return NULL;
    }
    return s;
}

int serve_find_model(const serve_catalogue *c, json_object *value, const char *field,
                     serve_reply *bad) {
    const char *name = serve_string_field(value, field, 4096, bad);
    if (!name) return -1;
    int i = serve_catalogue_find(c, name);
    if (i < 0) *bad = serve_api_error(404, "no model named '%.200s' (GET /api/models lists them)", name);
    return i;
}

/* ---------------------------------------------------------- translation */

json_object *serve_json_float(float v) {
    char text[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    return json_object_new_double_s((double)v, text);
}

/* units as a JSON list, or NULL when the text does not split into n. */
static json_object *unit_list(at_ctx *ctx, const at_vocab *vocab, const char *text, int n) {
    char **units = NULL;
    int got = 0;
    if (n == 0) return json_object_new_array();
    if (at_vocab_split(ctx, vocab, text, &units, &got) != AT_OK) return NULL;
    json_object *list = got == n ? json_object_new_array() : NULL;
    for (int k = 0; list && k < n; k++) json_object_array_add(list, json_object_new_string(units[k]));
    free(units);
    return list;
}

/* (H, Ty, Tx) as nested lists. */
static json_object *weight_lists(const at_translation *tr) {
    int H = tr->heads, Ty = tr->target_len, Tx = tr->source_len;
    json_object *heads = json_object_new_array();
    for (int h = 0; heads && h < H; h++) {
        json_object *rows = json_object_new_array();
        for (int t = 0; rows && t < Ty; t++) {
            json_object *row = json_object_new_array_ext(Tx);
            const float *w = tr->weights + ((size_t)h * Ty + t) * Tx;
            for (int j = 0; row && j < Tx; j++) json_object_array_add(row, serve_json_float(w[j]));
            json_object_array_add(rows, row);
        }
        json_object_array_add(heads, rows);
    }
    return heads;
}


static json_object *translation_object(at_ctx *ctx, const at_seq2seq *model,
                                       const serve_model_info *info, const char *text,
                                       const at_translation *tr) {
    json_object *source = unit_list(ctx, at_seq2seq_source_vocab(model), text, tr->source_len);
    json_object *target = unit_list(ctx, at_seq2seq_target_vocab(model), tr->text, tr->target_len);
    json_object *weights = weight_lists(tr);
    json_object *obj = source && target && weights ? json_object_new_object() : NULL;
    if (!obj) {
        json_object_put(source);
        json_object_put(target);
        json_object_put(weights);
        return NULL;
    }
    json_object_object_add(obj, "model", json_object_new_string(info->name));
    json_object_object_add(obj, "decoder", string_or_null(info->decoder));
    json_object_object_add(obj, "attention", string_or_null(info->attention));
    json_object_object_add(obj, "input", json_object_new_string(text));
    json_object_object_add(obj, "output", json_object_new_string(tr->text));
    json_object_object_add(obj, "source", source);
    json_object_object_add(obj, "target", target);
    json_object_object_add(obj, "heads", json_object_new_int(tr->heads));
    json_object_object_add(obj, "weights", weights);
    return obj;
}

serve_model *serve_borrow(serve_catalogue *c, int i, serve_kind kind, at_ctx **ctx,
                          const void **model, serve_model_info *info, serve_failure *f) {
    serve_catalogue_info(c, i, info);
    serve_model *m = serve_model_borrow(c, i, kind, ctx, model, f->why, sizeof f->why);
    /* a model of another kind, or a file that does not load */
    if (!m) f->status = strcmp(info->kind, serve_kind_name(kind)) ? 400 : 500;
    return m;
}

static serve_model *borrow(serve_catalogue *c, int i, at_ctx **ctx, const at_seq2seq **model,
                           serve_model_info *info, serve_failure *f) {
    return serve_borrow(c, i, SERVE_SEQ2SEQ, ctx, (const void **)model, info, f);
}

static json_object *translate_with(serve_catalogue *c, int i, const char *text,
                                   serve_failure *f) {
    at_ctx *ctx;
    const at_seq2seq *model;
    serve_model_info info;
    serve_model *m = borrow(c, i, &ctx, &model, &info, f);
    if (!m) return NULL;
    at_translation tr;
    at_status s = at_seq2seq_translate(ctx, model, text, &tr);
    json_object *obj = NULL;
    if (s != AT_OK) {
        f->status = s == AT_ERR_ARGUMENT ? 400 : 500;
        snprintf(f->why, sizeof f->why, "%s: %s", info.name, at_ctx_error(ctx));
    } else {
        obj = translation_object(ctx, model, &info, text, &tr);
        if (!obj) {
            f->status = 500;
            snprintf(f->why, sizeof f->why, "%s: out of memory, or units that do not match the "
                     "attention", info.name);
        }
        at_translation_clear(&tr);
    }
    serve_model_release(m);
    return obj;
}

serve_reply serve_api_translate(serve_catalogue *c, const char *body, size_t len) {
    static const char *const keys[] = {"model", "text"};
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 2, 2, &bad);
    if (!req) return bad;
    const char *text = serve_string_field(json_object_object_get(req, "text"), "text",
                                    SERVE_MAX_TEXT_BYTES, &bad);
    int i = text ? serve_find_model(c, json_object_object_get(req, "model"), "model", &bad) : -1;
    serve_failure f;
    json_object *obj = i >= 0 ? translate_with(c, i, text, &f) : NULL;
    json_object_put(req);
    if (i >= 0 && !obj) return serve_api_error(f.status, "%s", f.why);
    return obj ? serve_reply_json(200, obj) : bad;
}

/* ------------------------------------------------------------- comparing */

/* The compared models' indices from the "models" list; n of them, or -1
 * with a 4xx in *bad. */
static int compared_models(const serve_catalogue *c, json_object *list, int *index,
                           serve_reply *bad) {
    if (!json_object_is_type(list, json_type_array)) {
        *bad = serve_api_error(400, "'models' must be a list of model names");
        return -1;
    }
    int n = (int)json_object_array_length(list);
    if (n < 1 || n > SERVE_MAX_COMPARED) {
        *bad = serve_api_error(400, "'models' names %d models; compare takes 1 to %d", n,
                               SERVE_MAX_COMPARED);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        index[k] = serve_find_model(c, json_object_array_get_idx(list, (size_t)k), "each of models", bad);
        if (index[k] < 0) return -1;
    }
    return n;
}

serve_reply serve_api_compare(serve_catalogue *c, const char *body, size_t len) {
    static const char *const keys[] = {"models", "text"};
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 2, 2, &bad);
    if (!req) return bad;
    int index[SERVE_MAX_COMPARED];
    const char *text = serve_string_field(json_object_object_get(req, "text"), "text",
                                    SERVE_MAX_TEXT_BYTES, &bad);
    int n = text ? compared_models(c, json_object_object_get(req, "models"), index, &bad) : -1;
    json_object *results = n > 0 ? json_object_new_array() : NULL;
    /* one model at a time: only its own lock is held while it translates */
    for (int k = 0; results && k < n; k++) {
        serve_failure f;
        json_object *one = translate_with(c, index[k], text, &f);
        if (!one && (one = json_object_new_object()) != NULL) {
            serve_model_info info;
            serve_catalogue_info(c, index[k], &info);
            json_object_object_add(one, "model", json_object_new_string(info.name));
            json_object_object_add(one, "error", json_object_new_string(f.why));
        }
        json_object_array_add(results, one);
    }
    json_object *obj = results ? json_object_new_object() : NULL;
    if (obj) {
        json_object_object_add(obj, "input", json_object_new_string(text));
        json_object_object_add(obj, "results", results);
    }
    json_object_put(req);
    return obj ? serve_reply_json(200, obj) : n > 0 ? serve_api_error(500, "out of memory") : bad;
}

/* ------------------------------------------------------------ explaining */

/* The "step" field: a whole number from 0 (the library says when it is
 * past the output's end), or -1 with a 400 in *bad. */
static int step_field(json_object *value, serve_reply *bad) {
    if (!json_object_is_type(value, json_type_int)) {
        *bad = serve_api_error(400, "'step' must be a whole number (an output position from 0)");
        return -1;
    }
    int64_t k = json_object_get_int64(value);
    if (k < 0 || k > INT_MAX) {
        *bad = serve_api_error(400, "'step' is %lld: an output position counts from 0",
                               (long long)k);
        return -1;
    }
    return (int)k;
}

/* Model i's explanation of step k of text as JSON, or NULL with a status
 * and the reason in f (as translate_with). */
static json_object *explain_with(serve_catalogue *c, int i, const char *text, int k,
                                 serve_failure *f) {
    at_ctx *ctx;
    const at_seq2seq *model;
    serve_model_info info;
    serve_model *m = borrow(c, i, &ctx, &model, &info, f);
    if (!m) return NULL;
    at_step_explanation x;
    at_status s = at_seq2seq_explain_step(ctx, model, text, k, &x);
    json_object *obj = NULL;
    if (s != AT_OK) {
        f->status = s == AT_ERR_ARGUMENT ? 400 : 500;
        snprintf(f->why, sizeof f->why, "%s: %s", info.name, at_ctx_error(ctx));
    } else {
        obj = explain_json(text, &x);
        if (!obj) {
            f->status = 500;
            snprintf(f->why, sizeof f->why, "%s: out of memory", info.name);
        }
        at_step_explanation_clear(&x);
    }
    serve_model_release(m);
    return obj;
}

serve_reply serve_api_explain(serve_catalogue *c, const char *body, size_t len) {
    static const char *const keys[] = {"model", "text", "step"};
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 3, 3, &bad);
    if (!req) return bad;
    const char *text = serve_string_field(json_object_object_get(req, "text"), "text",
                                    SERVE_MAX_TEXT_BYTES, &bad);
    int k = text ? step_field(json_object_object_get(req, "step"), &bad) : -1;
    int i = k >= 0 ? serve_find_model(c, json_object_object_get(req, "model"), "model", &bad) : -1;
    serve_failure f;
    json_object *obj = i >= 0 ? explain_with(c, i, text, k, &f) : NULL;
    json_object_put(req);
    if (i >= 0 && !obj) return serve_api_error(f.status, "%s", f.why);
    return obj ? serve_reply_json(200, obj) : bad;
}
