/*
 * model.c - a classifier's life: create it from training documents, free
 * it, read its parts, save it and load it.
 *
 * Creating a model decides what it can read and say:
 *   - the word vocabulary: every training text is cut with the one
 *     tokenizer (the configuration's max_sentences and max_words, so only
 *     words the model will read are counted), the words are counted, those
 *     seen at least min_count times are kept, and of them the max_vocab
 *     most frequent (equal counts in byte order of the words). They become
 *     an AT_VOCAB_TOKENS vocabulary; any other word reads as UNK;
 *   - the classes: the training labels in order of first appearance.
 * Then the layers are made (names as PyTorch's modules would have them):
 *   embed.weight (V, E)
 *   word_gru.{weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0}[_reverse]
 *   word_attn.{W, b, u_w} (context) or word_attn.{W, b} (feature)
 *   sentence_gru.*, sentence_attn.* (han only), reading 2H
 *   out.weight (C, 2H), out.bias (C)
 *
 * A checkpoint is one safetensors file: the parameters, and in its
 * metadata "attend.classify" (the configuration, config.c),
 * "attend.vocab" (the words) and "attend.classes" (a JSON array of the
 * class names). Loading checks every parameter against the file as the
 * model is built, as the language models do.
 */
#include "classifier.h"

#include "../io/json_strict.h"
#include "../io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ classes */

static void free_classes(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

int at_classifier_class_index(const at_classifier *m, const char *name) {
    for (int c = 0; m && name && c < m->classes; c++)
        if (!strcmp(m->class_names[c], name)) return c;
    return -1;
}

/* The labels of docs in order of first appearance. */
static at_status classes_of(at_ctx *ctx, const at_class_docs *docs, char ***names, int *count) {
    char **out = calloc(AT_CLASSIFY_MAX_CLASSES, sizeof *out);
    if (!out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    int n = 0;
    for (size_t i = 0; i < docs->count; i++) {
        int seen = 0;
        for (int c = 0; c < n && !seen; c++) seen = !strcmp(out[c], docs->labels[i]);
        if (seen) continue;
        if (n == AT_CLASSIFY_MAX_CLASSES) {
            free_classes(out, n);
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "classifier: more than %d classes in the training documents "
                               "(the %dth is '%.64s')",
                               AT_CLASSIFY_MAX_CLASSES, n + 1, docs->labels[i]);
        }
        if (!(out[n++] = ati_strdup(docs->labels[i]))) {
            free_classes(out, n);
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
        }
    }
    if (n < 2) {
        free_classes(out, n);
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "classifier: the training documents have %d class%s; at least 2 are "
                           "needed", n, n == 1 ? "" : "es");
    }
    *names = out;
    *count = n;
    return AT_OK;
}

static at_status classes_to_json(at_ctx *ctx, const at_classifier *m, char **out) {
    json_object *a = json_object_new_array();
    for (int c = 0; a && c < m->classes; c++)
        json_object_array_add(a, json_object_new_string(m->class_names[c]));
    const char *text = a ? json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN) : NULL;
    *out = text ? ati_strdup(text) : NULL;
    json_object_put(a);
    return *out ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
}

/* A JSON array of 2 .. AT_CLASSIFY_MAX_CLASSES distinct labels. */
static at_status classes_from_json(at_ctx *ctx, const char *text, char ***names, int *count) {
    char why[160] = "";
    json_object *a = ati_json_parse_strict(text, strlen(text), 1 + AT_CLASSIFY_MAX_CLASSES, why,
                                           sizeof why);
    at_class_docs labels = {0};
    at_status s = AT_OK;
    if (!a || !json_object_is_type(a, json_type_array))
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "attend.classes is not a JSON array%s%s%s",
                        *why ? " (" : "", why, *why ? ")" : "");
    size_t n = s == AT_OK ? json_object_array_length(a) : 0;
    for (size_t i = 0; i < n && s == AT_OK; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        const char *label = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                      : NULL;
        if (!label || at_class_docs_add(ctx, &labels, label, "", NULL, NULL) != AT_OK)
            s = at_ctx_fail(ctx, AT_ERR_FORMAT, "attend.classes: entry %zu is not a label", i);
    }
    for (size_t i = 0; i < labels.count && s == AT_OK; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(labels.labels[i], labels.labels[j]))
                s = at_ctx_fail(ctx, AT_ERR_FORMAT, "attend.classes: '%.64s' appears twice",
                                labels.labels[i]);
    if (s == AT_OK) {
        s = classes_of(ctx, &labels, names, count);
        if (s != AT_OK) {
            char msg[300];
            snprintf(msg, sizeof msg, "attend.classes: %s", at_ctx_error(ctx));
            s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s", msg);
        }
    }
    at_class_docs_clear(&labels);
    json_object_put(a);
    return s;
}

/* --------------------------------------------------------- vocabulary */

typedef struct word_count {
    const char *word;
    long count;
} word_count;

static int by_bytes(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int by_count_then_bytes(const void *a, const void *b) {
    const word_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* Every word the model would read of the training texts, tokenized. */
static at_status tokenize_all(at_ctx *ctx, const at_classify_config *c, const at_class_docs *docs,
                              at_doc_tokens *tokens, size_t *total) {
    *total = 0;
    for (size_t i = 0; i < docs->count; i++) {
        at_status s = at_classify_tokenize(ctx, docs->texts[i], c->max_sentences, c->max_words,
                                           &tokens[i]);
        if (s != AT_OK) {
            char why[300];
            snprintf(why, sizeof why, "%s", at_ctx_error(ctx));
            return at_ctx_fail(ctx, s, "classifier: document %zu (%s): %s", i, docs->ids[i], why);
        }
        *total += (size_t)tokens[i].words;
    }
    return AT_OK;
}

/* The kept words of sorted (n words, sorted by bytes), joined by spaces:
 * counted runs, filtered by min_count, the max_vocab most frequent. */
static at_status kept_words(at_ctx *ctx, const at_classify_config *c, const char **sorted,
                            size_t n, char **out) {
    word_count *counts = malloc((n ? n : 1) * sizeof *counts);
    if (!counts) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    size_t distinct = 0, bytes = 1;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !strcmp(sorted[i], sorted[j])) j++;
        if ((long)(j - i) >= c->min_count) counts[distinct++] = (word_count){sorted[i], (long)(j - i)};
        i = j;
    }
    qsort(counts, distinct, sizeof *counts, by_count_then_bytes);
    if (distinct > (size_t)c->max_vocab) distinct = (size_t)c->max_vocab;
    for (size_t i = 0; i < distinct; i++) bytes += strlen(counts[i].word) + 1;
    char *joined = malloc(bytes), *p = joined;
    if (!joined) {
        free(counts);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    }
    for (size_t i = 0; i < distinct; i++) {
        size_t len = strlen(counts[i].word);
        memcpy(p, counts[i].word, len);
        p += len;
        *p++ = ' ';
    }
    *p = '\0';
    free(counts);
    *out = joined;
    return AT_OK;
}

static at_status build_vocab(at_ctx *ctx, const at_classify_config *c, const at_class_docs *docs,
                             at_vocab **out) {
    at_doc_tokens *tokens = calloc(docs->count, sizeof *tokens);
    if (!tokens) return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    size_t total = 0;
    const char **words = NULL;
    char *joined = NULL;
    at_status s = tokenize_all(ctx, c, docs, tokens, &total);
    if (s == AT_OK && !(words = malloc((total ? total : 1) * sizeof *words)))
        s = at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    if (s == AT_OK) {
        size_t k = 0;
        for (size_t i = 0; i < docs->count; i++)
            for (int w = 0; w < tokens[i].words; w++) words[k++] = tokens[i].word[w];
        qsort(words, total, sizeof *words, by_bytes);
        s = kept_words(ctx, c, words, total, &joined);
    }
    if (s == AT_OK) s = at_vocab_build_kind(ctx, out, AT_VOCAB_TOKENS, 1, (const char *[]){joined});
    free(joined);
    free(words);
    for (size_t i = 0; i < docs->count; i++) at_doc_tokens_clear(&tokens[i]);
    free(tokens);
    return s;
}

/* ------------------------------------------------------------- layers */

static at_status add_static(at_ctx *ctx, at_params *params, const char *prefix,
                            at_static_form form, int D, int A, at_han_attention *context,
                            at_feature_attention *feature, at_rng *rng) {
    if (form == AT_STATIC_CONTEXT)
        return at_han_attention_init(ctx, context, params, prefix, D, A, rng);
    return at_feature_attention_init(ctx, feature, params, prefix, D, rng);
}

static at_status init_layers(at_ctx *ctx, at_classifier *m, at_rng *rng) {
    const at_classify_config *c = &m->config;
    const int E = c->embed, H = c->hidden, D = 2 * H;
    at_params *p = m->params;
    AT_TRY(at_embedding_init(ctx, &m->embed, p, "embed", m->V, E, rng));
    AT_TRY(at_gru_init(ctx, &m->word_fwd, p, "word_gru", E, H, 0, rng));
    AT_TRY(at_gru_init(ctx, &m->word_bwd, p, "word_gru", E, H, 1, rng));
    AT_TRY(add_static(ctx, p, "word_attn", c->word_form, D, c->attn, &m->word_context,
                      &m->word_feature, rng));
    if (c->kind == AT_CLASSIFY_HAN) {
        AT_TRY(at_gru_init(ctx, &m->sentence_fwd, p, "sentence_gru", D, H, 0, rng));
        AT_TRY(at_gru_init(ctx, &m->sentence_bwd, p, "sentence_gru", D, H, 1, rng));
        AT_TRY(add_static(ctx, p, "sentence_attn", c->sentence_form, D, c->attn,
                          &m->sentence_context, &m->sentence_feature, rng));
    }
    return at_dense_init(ctx, &m->out, p, "out", D, m->classes, 1, rng);
}

/* A model around a vocabulary and classes it takes (freed on failure).
 * check: NULL (fresh weights from config->seed) or a loader's check. */
static at_status build(at_ctx *ctx, at_classifier **out, const at_classify_config *config,
                       at_vocab *vocab, char **class_names, int classes,
                       ati_params_check_fn check, void *check_user) {
    *out = NULL;
    at_classifier *m = calloc(1, sizeof *m);
    if (!m) {
        at_vocab_free(vocab);
        free_classes(class_names, classes);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    }
    m->config = *config;
    m->vocab = vocab;
    m->V = at_vocab_size(vocab);
    m->class_names = class_names;
    m->classes = classes;
    at_status s = AT_OK;
    if (config->threshold > 0.0f && classes != 2)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                        "classifier: threshold %g needs two classes, not %d",
                        (double)config->threshold, classes);
    if (s == AT_OK) s = at_params_create(ctx, &m->params);
    at_rng rng;
    at_rng_seed(&rng, config->seed);
    if (s == AT_OK && check) ati_params_set_check(m->params, check, check_user);
    if (s == AT_OK) s = init_layers(ctx, m, check ? NULL : &rng);
    if (s == AT_OK && check) ati_params_set_check(m->params, NULL, NULL);
    if (s != AT_OK) {
        at_classifier_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}

at_status at_classifier_create(at_ctx *ctx, at_classifier **out, const at_classify_config *config,
                               const at_class_docs *train) {
    if (!out || !config || !train)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_create: NULL argument");
    *out = NULL;
    AT_TRY(cls_config_check(ctx, config));
    char **names = NULL;
    int classes = 0;
    AT_TRY(classes_of(ctx, train, &names, &classes));
    at_vocab *vocab = NULL;
    at_status s = build_vocab(ctx, config, train, &vocab);
    if (s != AT_OK) {
        free_classes(names, classes);
        return s;
    }
    return build(ctx, out, config, vocab, names, classes, NULL, NULL);
}

at_status at_classifier_copy(at_ctx *ctx, at_classifier **out, const at_classifier *m) {
    if (!out || !m) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_copy: NULL argument");
    *out = NULL;
    char **names = calloc((size_t)m->classes, sizeof *names);
    at_status s = names ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    for (int c = 0; c < m->classes && s == AT_OK; c++)
        if (!(names[c] = ati_strdup(m->class_names[c])))
            s = at_ctx_fail(ctx, AT_ERR_MEMORY, "classifier: out of memory");
    at_vocab *vocab = NULL;
    if (s == AT_OK) s = at_vocab_copy(ctx, &vocab, m->vocab);
    if (s != AT_OK) {
        free_classes(names, m->classes);
        return s;
    }
    at_classifier *copy = NULL;
    AT_TRY(build(ctx, &copy, &m->config, vocab, names, m->classes, NULL, NULL));
    s = ati_params_copy_values(ctx, copy->params, m->params, "classifier_copy");
    if (s != AT_OK) {
        at_classifier_free(copy);
        return s;
    }
    *out = copy;
    return AT_OK;
}

void at_classifier_free(at_classifier *m) {
    if (!m) return;
    at_params_free(m->params);
    at_vocab_free(m->vocab);
    free_classes(m->class_names, m->classes);
    free(m);
}

const at_classify_config *at_classifier_get_config(const at_classifier *m) {
    return m ? &m->config : NULL;
}
at_params *at_classifier_params(const at_classifier *m) { return m ? m->params : NULL; }
const at_vocab *at_classifier_vocab(const at_classifier *m) { return m ? m->vocab : NULL; }
int at_classifier_classes(const at_classifier *m) { return m ? m->classes : 0; }
const char *at_classifier_class_name(const at_classifier *m, int index) {
    return m && index >= 0 && index < m->classes ? m->class_names[index] : NULL;
}

/* --------------------------------------------------------- checkpoints */

at_status at_classifier_save(at_ctx *ctx, const at_classifier *m, const char *path,
                             const at_metadata *extra) {
    if (!m || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_save: NULL argument");
    static const char *const keys[3] = {"attend.classify", "attend.vocab", "attend.classes"};
    char *parts[3] = {NULL, NULL, NULL};
    at_status s = cls_config_to_json(ctx, &m->config, &parts[0]);
    if (s == AT_OK) s = at_vocab_to_string(ctx, m->vocab, &parts[1]);
    if (s == AT_OK) s = classes_to_json(ctx, m, &parts[2]);
    if (s == AT_OK) s = ati_checkpoint_save_parts(ctx, path, m->params, extra, 3, keys, parts);
    for (int i = 0; i < 3; i++) free(parts[i]);
    return s;
}

/* The configuration, vocabulary and classes of an open checkpoint. */
static at_status read_parts(at_ctx *ctx, const char *path, const at_metadata *meta,
                            at_classify_config *config, at_vocab **vocab, char ***names,
                            int *classes) {
    const char *config_text = at_metadata_get(meta, "attend.classify");
    const char *vocab_text = at_metadata_get(meta, "attend.vocab");
    const char *classes_text = at_metadata_get(meta, "attend.classes");
    if (!config_text)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: not an attend classifier (no attend.classify metadata)", path);
    if (!vocab_text || !classes_text)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the classifier has no %s metadata", path,
                           vocab_text ? "attend.classes" : "attend.vocab");
    if (cls_config_from_json(ctx, config_text, config) != AT_OK)
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    if (at_vocab_from_string(ctx, vocab, vocab_text) != AT_OK)
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    if (at_vocab_get_kind(*vocab) != AT_VOCAB_TOKENS) {
        at_vocab_free(*vocab);
        *vocab = NULL;
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: attend.vocab is not a word vocabulary", path);
    }
    if (classes_from_json(ctx, classes_text, names, classes) != AT_OK) {
        at_vocab_free(*vocab);
        *vocab = NULL;
        return ati_rethrow(ctx, AT_ERR_FORMAT, path);
    }
    return AT_OK;
}

at_status at_classifier_load(at_ctx *ctx, at_classifier **out, const char *path,
                             at_metadata *meta_out) {
    if (!out || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "classifier_load: NULL argument");
    *out = NULL;
    at_safetensors *file = NULL;
    at_classifier *m = NULL;
    AT_TRY(at_safetensors_open(ctx, &file, path));
    at_classify_config config;
    at_vocab *vocab = NULL;
    char **names = NULL;
    int classes = 0;
    at_status s = read_parts(ctx, path, at_safetensors_metadata(file), &config, &vocab, &names,
                             &classes);
    if (s == AT_OK)
        s = ati_checkpoint_misfit(ctx,
                                  build(ctx, &m, &config, vocab, names, classes,
                                        ati_checkpoint_check_parameter, file),
                                  path);
    if (s == AT_OK) s = ati_checkpoint_fill_model(ctx, file, m->params, path, meta_out);
    at_safetensors_close(file);
    if (s != AT_OK) {
        at_classifier_free(m);
        return s;
    }
    *out = m;
    return AT_OK;
}
