/*
 * serve_kinds.c - the lab's API for the models that do not translate
 * (docs/lab.md): a classifier (a HAN or its flat variant) reads a text and
 * says its label, with the attention it gave each word and sentence; a
 * language model reads a prompt and says the next character, with the
 * attention of the prompt's characters over each other.
 *
 *   POST /api/classify  {"model": NAME, "text": TEXT} ->
 *                       {"model", "kind": "classifier", "classifier": "han"
 *                        or "flat", "text", "label", "classes": [names],
 *                        "probs": [C], "unknown": words read as UNK,
 *                        "sentences": [{"weight" (null for flat), "words",
 *                        "word_weights", "doc_weights"}]}
 *                       - at_classifier_predict's numbers, one sentence at a
 *                       time (word weights sum to 1 within a sentence, or
 *                       over the document for flat; doc_weights over the
 *                       document)
 *   POST /api/lm        {"model": NAME, "text": PROMPT, "length": N (0 to
 *                        200, default 0)} ->
 *                       {"model", "kind": "language-model", "lm": its kind,
 *                        "context": T, "prompt", "read": [the last <= T
 *                        characters, which the model reads], "next": [5 x
 *                        {"unit", "p"}], "layers", "heads", "weights":
 *                        [L][H][T][T] or null, "continuation"}
 *                       - next: the five most likely next characters of
 *                       at_lm_next (ties by vocabulary order); weights: the
 *                       attention of at_lm_attention_of over "read" (null
 *                       for lstm and ngram, which have none); continuation:
 *                       at_lm_generate's N greedy characters after the
 *                       prompt
 *
 * Every number is the library's; every float the shortest decimal that
 * reads back as the same float (serve_json_float).
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include <stdlib.h>
#include <string.h>

enum {
    SERVE_MAX_DOC_BYTES = 32 * 1024, /* a classified text                 */
    SERVE_MAX_CONTINUATION = 200,    /* characters a language model writes */
    SERVE_TOP_NEXT = 5,              /* next characters shown              */
};

/* n floats as a JSON list. */
static json_object *float_list(const float *v, int n) {
    json_object *list = json_object_new_array_ext(n > 0 ? n : 1);
    for (int i = 0; list && i < n; i++) json_object_array_add(list, serve_json_float(v[i]));
    return list;
}

static json_object *string_list(char *const *s, int n) {
    json_object *list = json_object_new_array_ext(n > 0 ? n : 1);
    for (int i = 0; list && i < n; i++) json_object_array_add(list, json_object_new_string(s[i]));
    return list;
}

/* A request of {"model", "text", optional others}: the model's index and
 * the text (at most max_bytes), or -1 with a 4xx in *bad. */
static int model_and_text(serve_catalogue *c, json_object *req, size_t max_bytes,
                          const char **text, serve_reply *bad) {
    *text = serve_string_field(json_object_object_get(req, "text"), "text", max_bytes, bad);
    return *text ? serve_find_model(c, json_object_object_get(req, "model"), "model", bad) : -1;
}

/* --------------------------------------------------------- classifiers */

/* The document's sentences: each with its weight (null for flat), words
 * and their weights within the sentence and in the document. */
static json_object *sentence_list(const at_classification *x) {
    const at_doc_tokens *t = &x->tokens;
    json_object *list = json_object_new_array();
    for (int s = 0, w = 0; list && s < t->sentences; w += t->lengths[s], s++) {
        json_object *one = json_object_new_object();
        if (!one) break;
        json_object_object_add(one, "weight", x->sentence_weights
                                                   ? serve_json_float(x->sentence_weights[s])
                                                   : NULL);
        json_object_object_add(one, "words", string_list(t->word + w, t->lengths[s]));
        json_object_object_add(one, "word_weights", float_list(x->word_weights + w, t->lengths[s]));
        json_object_object_add(one, "doc_weights", float_list(x->doc_weights + w, t->lengths[s]));
        json_object_array_add(list, one);
    }
    return list;
}

static json_object *classification_object(const at_classifier *model, const char *name,
                                          const char *text, const at_classification *x) {
    json_object *classes = json_object_new_array(), *obj = json_object_new_object();
    for (int k = 0; classes && k < x->classes; k++)
        json_object_array_add(classes, json_object_new_string(at_classifier_class_name(model, k)));
    if (!obj) return json_object_put(classes), NULL;
    json_object_object_add(obj, "model", json_object_new_string(name));
    json_object_object_add(obj, "kind", json_object_new_string("classifier"));
    json_object_object_add(obj, "classifier", json_object_new_string(at_classify_kind_name(
                                                  at_classifier_get_config(model)->kind)));
    json_object_object_add(obj, "text", json_object_new_string(text));
    json_object_object_add(obj, "label",
                           json_object_new_string(at_classifier_class_name(model, x->label)));
    json_object_object_add(obj, "classes", classes);
    json_object_object_add(obj, "probs", float_list(x->probs, x->classes));
    json_object_object_add(obj, "unknown", json_object_new_int(x->unknown));
    json_object_object_add(obj, "sentences", sentence_list(x));
    return obj;
}

static json_object *classify_with(serve_catalogue *c, int i, const char *text, serve_failure *f) {
    at_ctx *ctx;
    const void *model;
    serve_model_info info;
    serve_model *m = serve_borrow(c, i, SERVE_CLASSIFIER, &ctx, &model, &info, f);
    if (!m) return NULL;
    at_classification x;
    json_object *obj = NULL;
    at_status s = at_classifier_predict(ctx, model, text, &x);
    if (s != AT_OK) {
        f->status = s == AT_ERR_ARGUMENT ? 400 : 500;
        snprintf(f->why, sizeof f->why, "%s: %s", info.name, at_ctx_error(ctx));
    } else {
        obj = classification_object(model, info.name, text, &x);
        if (!obj) f->status = 500, snprintf(f->why, sizeof f->why, "out of memory");
        at_classification_clear(&x);
    }
    serve_model_release(m);
    return obj;
}

serve_reply serve_api_classify(serve_catalogue *c, const char *body, size_t len) {
    static const char *const keys[] = {"model", "text"};
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 2, 2, &bad);
    if (!req) return bad;
    const char *text;
    int i = model_and_text(c, req, SERVE_MAX_DOC_BYTES, &text, &bad);
    serve_failure f;
    json_object *obj = i >= 0 ? classify_with(c, i, text, &f) : NULL;
    json_object_put(req);
    if (i >= 0 && !obj) return serve_api_error(f.status, "%s", f.why);
    return obj ? serve_reply_json(200, obj) : bad;
}

/* ------------------------------------------------------ language models */

/* The part of text after its first `skip` characters (valid UTF-8). */
static const char *after_chars(const char *text, size_t skip) {
    size_t len = strlen(text), pos = 0;
    for (size_t k = 0; k < skip && pos < len; k++) at_utf8_next(text, len, &pos);
    return text + pos;
}

/* The SERVE_TOP_NEXT most likely of V probabilities as [{"unit", "p"}]
 * (ties by id). */
static json_object *top_next(const at_vocab *vocab, const float *probs, int V) {
    int best[SERVE_TOP_NEXT], n = 0;
    for (int v = 0; v < V; v++) { /* best[0 .. n) sorted, most likely first */
        if (!(probs[v] > 0) || (n == SERVE_TOP_NEXT && !(probs[v] > probs[best[n - 1]])))
            continue;
        int at = n < SERVE_TOP_NEXT ? n++ : SERVE_TOP_NEXT - 1;
        for (; at > 0 && probs[best[at - 1]] < probs[v]; at--) best[at] = best[at - 1];
        best[at] = v;
    }
    json_object *list = json_object_new_array();
    for (int k = 0; list && k < n; k++) {
        char unit[8];
        unit[at_utf8_put(unit, sizeof unit, at_vocab_code_point(vocab, best[k]))] = 0;
        json_object *one = json_object_new_object();
        if (!one) break;
        json_object_object_add(one, "unit", json_object_new_string(unit));
        json_object_object_add(one, "p", serve_json_float(probs[best[k]]));
        json_object_array_add(list, one);
    }
    return list;
}

/* (L, H, T, T) as nested lists. */
static json_object *attention_lists(const at_lm_attention *a) {
    int T = a->length;
    json_object *layers = json_object_new_array();
    for (int l = 0; layers && l < a->layers; l++) {
        json_object *heads = json_object_new_array();
        for (int h = 0; heads && h < a->heads; h++) {
            json_object *rows = json_object_new_array();
            for (int t = 0; rows && t < T; t++)
                json_object_array_add(rows, float_list(a->weights + (((size_t)l * a->heads + h) *
                                                                         T + t) * T, T));
            json_object_array_add(heads, rows);
        }
        json_object_array_add(layers, heads);
    }
    return layers;
}

/* What the model makes of prompt, as the reply's fields into obj; 0 with
 * the library's error in ctx (AT_ERR_ARGUMENT: the prompt's fault). */
static at_status predict_into(at_ctx *ctx, const at_lm *model, const char *prompt, int length,
                              json_object *obj) {
    const at_vocab *vocab = at_lm_vocab(model);
    const at_lm_config *k = at_lm_get_config(model);
    int V = at_vocab_size(vocab);
    float *probs = malloc((size_t)V * sizeof *probs);
    if (!probs) return at_ctx_fail(ctx, AT_ERR_MEMORY, "out of memory");
    at_status s = at_lm_next(ctx, model, prompt, probs); /* also checks the prompt */
    if (s == AT_OK) json_object_object_add(obj, "next", top_next(vocab, probs, V));
    free(probs);
    size_t n = at_utf8_length(prompt);
    const char *read = after_chars(prompt, n > (size_t)k->context ? n - (size_t)k->context : 0);
    char **units = NULL;
    int count = 0;
    if (s == AT_OK) s = at_vocab_split(ctx, vocab, read, &units, &count);
    if (s == AT_OK) json_object_object_add(obj, "read", string_list(units, count));
    free(units);
    at_lm_attention a = {0};
    int attends = at_lm_attention_size(model, 1, 1) > 0;
    if (s == AT_OK && attends) s = at_lm_attention_of(ctx, model, read, &a);
    if (s == AT_OK) {
        json_object_object_add(obj, "layers", json_object_new_int(a.layers));
        json_object_object_add(obj, "heads", json_object_new_int(a.heads));
        json_object_object_add(obj, "weights", attends ? attention_lists(&a) : NULL);
    }
    at_lm_attention_clear(&a);
    at_lm_sample_options o;
    at_lm_sample_options_default(&o);
    o.length = length, o.temperature = 0;
    char *text = NULL;
    if (s == AT_OK) s = at_lm_generate(ctx, model, prompt, &o, &text);
    if (s == AT_OK)
        json_object_object_add(obj, "continuation", json_object_new_string(after_chars(text, n)));
    free(text);
    return s;
}

static json_object *predict_with(serve_catalogue *c, int i, const char *prompt, int length,
                                 serve_failure *f) {
    at_ctx *ctx;
    const void *model;
    serve_model_info info;
    serve_model *m = serve_borrow(c, i, SERVE_LANGUAGE_MODEL, &ctx, &model, &info, f);
    if (!m) return NULL;
    const at_lm_config *k = at_lm_get_config(model);
    json_object *obj = json_object_new_object();
    if (obj) {
        json_object_object_add(obj, "model", json_object_new_string(info.name));
        json_object_object_add(obj, "kind", json_object_new_string("language-model"));
        json_object_object_add(obj, "lm", json_object_new_string(at_lm_kind_name(k->kind)));
        json_object_object_add(obj, "context", json_object_new_int(k->context));
        json_object_object_add(obj, "prompt", json_object_new_string(prompt));
    }
    at_status s = obj ? predict_into(ctx, model, prompt, length, obj) : AT_ERR_MEMORY;
    if (s != AT_OK) {
        f->status = s == AT_ERR_ARGUMENT ? 400 : 500;
        snprintf(f->why, sizeof f->why, "%s: %s", info.name,
                 obj ? at_ctx_error(ctx) : "out of memory");
        json_object_put(obj);
        obj = NULL;
    }
    serve_model_release(m);
    return obj;
}

/* The "length" field: absent (0) or a whole number 0..SERVE_MAX_CONTINUATION;
 * -1 with a 400 in *bad. */
static int length_field(json_object *req, serve_reply *bad) {
    json_object *value;
    if (!json_object_object_get_ex(req, "length", &value)) return 0;
    int64_t n = json_object_is_type(value, json_type_int) ? json_object_get_int64(value) : -1;
    if (n < 0 || n > SERVE_MAX_CONTINUATION) {
        *bad = serve_api_error(400, "'length' must be a whole number from 0 to %d (the "
                                    "characters to continue the prompt with)",
                               SERVE_MAX_CONTINUATION);
        return -1;
    }
    return (int)n;
}

serve_reply serve_api_lm(serve_catalogue *c, const char *body, size_t len) {
    static const char *const keys[] = {"model", "text", "length"};
    serve_reply bad;
    json_object *req = serve_read_request(body, len, keys, 3, 2, &bad);
    if (!req) return bad;
    const char *text;
    int length = length_field(req, &bad);
    int i = length >= 0 ? model_and_text(c, req, SERVE_MAX_TEXT_BYTES, &text, &bad) : -1;
    serve_failure f;
    json_object *obj = i >= 0 ? predict_with(c, i, text, length, &f) : NULL;
    json_object_put(req);
    if (i >= 0 && !obj) return serve_api_error(f.status, "%s", f.why);
    return obj ? serve_reply_json(200, obj) : bad;
}
