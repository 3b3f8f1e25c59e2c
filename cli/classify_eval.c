/*
 * classify_eval.c - `attend classify eval MODEL [FILE]`: a classifier's
 * scores on labelled documents (by default the SpamAssassin test split),
 * and two views of what its attention rested on:
 *   --report FILE.html  the documents themselves, words and sentences
 *                       shaded: every misclassified one and a sample of
 *                       correct ones from each group (at_plot_doc_report);
 *   --top-words FILE    the words with the most attention per predicted
 *                       class over all the documents (at_plot_top_words),
 *                       also printed.
 * The scores are the library's (at_classifier_evaluate); the weights come
 * from at_classifier_predict, one document at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include "classify.h"
#include "files.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct eval_options {
    const char *model, *file, *data, *split, *positive, *report, *top_words, *predictions;
    long threads, sample, top;
} eval_options;

static int parse_eval_options(eval_options *o, int argc, char **argv) {
    *o = (eval_options){.data = CLASSIFY_CORPUS, .split = "test", .threads = 2, .sample = 10,
                        .top = 15};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
        if (arg[0] != '-' || !arg[1]) {
            if (!o->model) o->model = arg;
            else if (!o->file) o->file = arg;
            else return fprintf(stderr, "attend classify eval: one MODEL and one FILE\n"), 0;
            continue;
        }
        if (!value) return fprintf(stderr, "attend classify eval: %s needs a value\n", arg), 0;
        i++;
        if (!strcmp(arg, "--data")) o->data = value;
        else if (!strcmp(arg, "--split")) o->split = value;
        else if (!strcmp(arg, "--positive")) o->positive = value;
        else if (!strcmp(arg, "--report")) o->report = value;
        else if (!strcmp(arg, "--top-words")) o->top_words = value;
        else if (!strcmp(arg, "--predictions")) o->predictions = value;
        else if (!strcmp(arg, "--threads")) {
            if (!cli_parse_int(arg, value, 1, 256, &o->threads)) return 0;
        } else if (!strcmp(arg, "--sample")) {
            if (!cli_parse_int(arg, value, 0, 100000, &o->sample)) return 0;
        } else if (!strcmp(arg, "--top")) {
            if (!cli_parse_int(arg, value, 1, 100, &o->top)) return 0;
        } else
            return fprintf(stderr, "attend classify eval: unknown option '%s'\n", arg), 0;
    }
    if (!o->model) return fprintf(stderr, "attend classify eval: MODEL is required\n"), 0;
    if (strcmp(o->split, "dev") && strcmp(o->split, "test"))
        return fprintf(stderr, "attend classify eval: --split is dev or test, not '%s'\n",
                       o->split), 0;
    return 1;
}

/* ---------------------------------------------------------------- scores */

static void print_score(const at_classifier *m, const at_classify_score *sc, const char *name,
                        const char *positive, double seconds) {
    int C = at_classifier_classes(m);
    printf("%s: %zu documents, accuracy %.2f%% (%zu right), loss %.4f, %.1f docs/s\n", name,
           sc->count, 100 * sc->accuracy, sc->correct, sc->loss, sc->count / seconds);
    printf("%s: precision %.4f  recall %.4f  F1 %.4f\n", positive, sc->precision, sc->recall,
           sc->f1);
    for (int g = 0; g < sc->groups; g++)
        printf("group %-10s %5zu documents, accuracy %.2f%%\n", sc->group_name[g],
               sc->group_count[g],
               sc->group_count[g] ? 100.0 * sc->group_correct[g] / sc->group_count[g] : 0.0);
    printf("confusion (rows true, columns predicted):\n%12s", "");
    for (int j = 0; j < C; j++) printf(" %10s", at_classifier_class_name(m, j));
    printf("\n");
    for (int i = 0; i < C; i++) {
        printf("%12s", at_classifier_class_name(m, i));
        for (int j = 0; j < C; j++) printf(" %10zu", sc->confusion[i][j]);
        printf("\n");
    }
}

/* ------------------------------------------------------ report and words */

/* A document for the report from one prediction; NULL for an empty one. */
at_attention_doc *classify_doc_of(at_ctx *ctx, const at_classifier *m, const at_classification *c,
                                const char *id) {
    const at_doc_tokens *t = &c->tokens;
    if (t->sentences == 0) return NULL;
    int flat = !c->sentence_weights;
    int one = t->words;
    at_attention_doc *doc = NULL;
    if (at_attention_doc_create(ctx, &doc, flat ? 1 : t->sentences, flat ? &one : t->lengths) !=
        AT_OK)
        return NULL;
    memcpy(doc->word_weights, c->word_weights, (size_t)t->words * sizeof(float));
    if (flat)
        doc->sentence_weights[0] = 1;
    else
        memcpy(doc->sentence_weights, c->sentence_weights, (size_t)t->sentences * sizeof(float));
    const at_classify_config *cfg = at_classifier_get_config(m);
    char mechanism[96];
    snprintf(mechanism, sizeof mechanism, "%s attention over words%s%s",
             at_static_form_name(cfg->word_form), flat ? "" : ", ",
             flat ? "" : at_static_form_name(cfg->sentence_form));
    if (!flat) strncat(mechanism, " over sentences", sizeof mechanism - strlen(mechanism) - 1);
    if (at_attention_doc_set_words(ctx, doc, (const char *const *)t->word) != AT_OK ||
        at_attention_doc_set_text(ctx, doc, id, at_classify_kind_name(cfg->kind), mechanism) !=
            AT_OK) {
        at_attention_doc_free(doc);
        return NULL;
    }
    return doc;
}

/* The report's documents: every wrong one, and the first `sample` right
 * ones of each group (documents are in the split's hashed order, so the
 * first are a fair sample). */
typedef struct report {
    int n, cap;
    at_attention_doc **docs;
    char **notes, **tags;
    size_t right_of[AT_CLASSIFY_MAX_GROUPS + 1];
} report;

static int group_index(const at_classify_score *sc, const char *group) {
    for (int g = 0; g < sc->groups; g++)
        if (!strcmp(sc->group_name[g], group)) return g;
    return AT_CLASSIFY_MAX_GROUPS;
}

static at_status report_add(at_ctx *ctx, report *r, at_attention_doc *doc, const char *note,
                            const char *tags) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        void *d = realloc(r->docs, (size_t)cap * sizeof *r->docs);
        if (d) r->docs = d;
        void *n = realloc(r->notes, (size_t)cap * sizeof *r->notes);
        if (n) r->notes = n;
        void *t = realloc(r->tags, (size_t)cap * sizeof *r->tags);
        if (t) r->tags = t;
        if (!d || !n || !t) return at_ctx_fail(ctx, AT_ERR_MEMORY, "report: out of memory");
        r->cap = cap;
    }
    r->docs[r->n] = doc;
    r->notes[r->n] = strdup(note);
    r->tags[r->n] = strdup(tags);
    r->n++;
    return r->notes[r->n - 1] && r->tags[r->n - 1]
               ? AT_OK
               : at_ctx_fail(ctx, AT_ERR_MEMORY, "report: out of memory");
}

static void report_clear(report *r) {
    for (int i = 0; i < r->n; i++) {
        at_attention_doc_free(r->docs[i]);
        free(r->notes[i]);
        free(r->tags[i]);
    }
    free(r->docs);
    free(r->notes);
    free(r->tags);
}

/* Add document i to the report if it is wrong or still within its group's sample. */
static at_status maybe_report(at_ctx *ctx, report *r, const eval_options *o,
                              const at_classifier *m, const at_class_docs *docs, size_t i,
                              const at_classify_score *sc, const at_classification *c) {
    int truth = at_classifier_class_index(m, docs->labels[i]);
    int wrong = c->label != truth;
    int g = group_index(sc, docs->groups[i]);
    if (!wrong && r->right_of[g] >= (size_t)o->sample) return AT_OK;
    if (!wrong) r->right_of[g]++;
    at_attention_doc *doc = classify_doc_of(ctx, m, c, docs->ids[i]);
    if (!doc) return AT_OK; /* a document without words has nothing to shade */
    char note[256], tags[96];
    snprintf(note, sizeof note, "true %s \xC2\xB7 predicted %s (p = %.3f)%s%s", docs->labels[i],
             at_classifier_class_name(m, c->label), (double)c->probs[c->label],
             docs->groups[i][0] ? " \xC2\xB7 " : "", docs->groups[i]);
    snprintf(tags, sizeof tags, "%s%s", wrong ? "wrong " : "right ", docs->groups[i]);
    return report_add(ctx, r, doc, note, tags);
}

static at_status write_top_words(at_ctx *ctx, const eval_options *o, const at_classifier *m,
                                 const double *totals) {
    int C = at_classifier_classes(m), k = (int)o->top;
    const at_vocab *vocab = at_classifier_vocab(m);
    int32_t *ids = malloc((size_t)k * sizeof *ids);
    double *values = calloc((size_t)C * k, sizeof *values);
    const char **words = calloc((size_t)C * k, sizeof *words);
    const char **titles = calloc((size_t)C, sizeof *titles);
    at_status s = ids && values && words && titles
                      ? AT_OK
                      : at_ctx_fail(ctx, AT_ERR_MEMORY, "top words: out of memory");
    int shown = k;
    for (int cls = 0; cls < C && s == AT_OK; cls++) {
        int n = 0;
        s = at_classifier_top_words(ctx, m, totals, cls, k, ids, values + (size_t)cls * k, &n);
        titles[cls] = at_classifier_class_name(m, cls);
        printf("top words of %s (attention summed over its predicted documents):\n", titles[cls]);
        for (int j = 0; j < n; j++) {
            const char *w = at_vocab_token(vocab, ids[j]);
            words[(size_t)cls * k + j] = w ? w : "<unknown>";
            printf("  %-20s %9.3f\n", words[(size_t)cls * k + j], values[(size_t)cls * k + j]);
        }
        if (n < shown) shown = n;
    }
    if (s == AT_OK && o->top_words && shown < 1)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT, "top words: a class has no weighted word");
    for (int cls = 1; cls < C && shown < k; cls++) /* (C, k) rows -> (C, shown) rows */
        for (int j = 0; j < shown; j++) {
            words[(size_t)cls * shown + j] = words[(size_t)cls * k + j];
            values[(size_t)cls * shown + j] = values[(size_t)cls * k + j];
        }
    if (s == AT_OK && o->top_words)
        s = at_plot_top_words(ctx, C, titles, shown, words, values,
                              "attention summed over documents", o->top_words);
    if (s == AT_OK && o->top_words) printf("top words figure: %s\n", o->top_words);
    free(ids);
    free(values);
    free(words);
    free(titles);
    return s;
}

/* Predict every document one by one for its weights: the report's
 * documents and the per-class word totals. */
static at_status explain(at_ctx *ctx, const eval_options *o, const at_classifier *m,
                         const at_class_docs *docs, const at_classify_score *sc) {
    int C = at_classifier_classes(m);
    size_t V = (size_t)at_vocab_size(at_classifier_vocab(m));
    double *totals = calloc((size_t)C * V, sizeof *totals);
    if (!totals) return at_ctx_fail(ctx, AT_ERR_MEMORY, "top words: out of memory");
    report r = {0};
    at_status s = AT_OK;
    cli_progress bar;
    cli_progress_start(&bar, (long)docs->count);
    for (size_t i = 0; i < docs->count && s == AT_OK; i++) {
        at_classification c = {0};
        s = at_classifier_predict(ctx, m, docs->texts[i], &c);
        if (s == AT_OK) s = at_classification_add_weights(ctx, m, &c, c.label, totals);
        if (s == AT_OK && o->report) s = maybe_report(ctx, &r, o, m, docs, i, sc, &c);
        at_classification_clear(&c);
        if (i % 50 == 0) cli_progress_update(&bar, (long)i + 1, "attention of each document");
    }
    cli_progress_finish(&bar);
    if (s == AT_OK) s = write_top_words(ctx, o, m, totals);
    char title[160];
    snprintf(title, sizeof title, "%s: %zu documents, accuracy %.2f%%", o->model, sc->count,
             100 * sc->accuracy);
    if (s == AT_OK && o->report)
        s = at_plot_doc_report(ctx, r.n, (const at_attention_doc *const *)r.docs,
                               (const char *const *)r.notes, (const char *const *)r.tags, title,
                               o->report);
    if (s == AT_OK && o->report) printf("report: %s (%d documents)\n", o->report, r.n);
    report_clear(&r);
    free(totals);
    return s;
}

/* ----------------------------------------------------------- predictions */

/* One line a document: id, true label, predicted label, its probability
 * (TSV, written atomically), for tools that score the predictions
 * themselves (bench/classify_bench.py's metrics are checked against them). */
static at_status write_predictions(at_ctx *ctx, const char *path, const at_classifier *m,
                                   const at_class_docs *docs, const int *predicted,
                                   const float *probs) {
    int C = at_classifier_classes(m);
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    at_status s = atf_open(ctx, w, path);
    if (s != AT_OK) return free(w), s;
    char line[64];
    for (size_t i = 0; i < docs->count; i++) {
        const char *fields[3] = {docs->ids[i], docs->labels[i],
                                 at_classifier_class_name(m, predicted[i])};
        for (int k = 0; k < 3; k++) {
            atf_write(w, fields[k], strlen(fields[k]));
            atf_write(w, "\t", 1);
        }
        int n = snprintf(line, sizeof line, "%.6f\n",
                         (double)probs[i * (size_t)C + (size_t)predicted[i]]);
        atf_write(w, line, (size_t)n);
    }
    s = atf_commit(ctx, w);
    free(w);
    return s;
}

static at_status score(at_ctx *ctx, const eval_options *o, const at_classifier *m,
                       const at_class_docs *docs, at_classify_score *sc) {
    int C = at_classifier_classes(m);
    int *predicted = o->predictions ? malloc(docs->count * sizeof *predicted) : NULL;
    float *probs = o->predictions ? malloc(docs->count * (size_t)C * sizeof *probs) : NULL;
    if (o->predictions && (!predicted || !probs)) {
        free(predicted);
        free(probs);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "predictions: out of memory");
    }
    double t0 = cli_seconds();
    at_status s = at_classifier_evaluate(ctx, m, docs, 64, o->positive, sc, predicted, probs);
    const char *positive = o->positive ? o->positive : at_classifier_class_name(m, 1);
    if (s == AT_OK)
        print_score(m, sc, o->file ? o->file : o->split, positive, cli_seconds() - t0);
    if (s == AT_OK && o->predictions)
        s = write_predictions(ctx, o->predictions, m, docs, predicted, probs);
    free(predicted);
    free(probs);
    return s;
}

/* ------------------------------------------------------------------ main */

static at_status load_eval_data(at_ctx *ctx, const eval_options *o, classify_data *d,
                                const at_class_docs **docs) {
    if (o->file) {
        CLI_TRY(classify_read_tsv(ctx, o->file, 2, d));
        *docs = d->test;
        return AT_OK;
    }
    CLI_TRY(classify_read_corpus(ctx, o->data, d));
    *docs = strcmp(o->split, "dev") ? d->test : d->dev;
    return AT_OK;
}

int classify_eval_main(int argc, char **argv) {
    eval_options o;
    int parsed = parse_eval_options(&o, argc, argv);
    if (parsed < 0) return classify_usage(stdout);
    if (parsed == 0) return 2;
    at_ctx *ctx = cli_context("classify eval", (int)o.threads, 1);
    if (!ctx) return 1;
    classify_data d = {0};
    const at_class_docs *docs = NULL;
    int code = 1;
    at_classifier *m = classify_load_model("classify eval", ctx, o.model);
    at_status s = m ? load_eval_data(ctx, &o, &d, &docs) : AT_OK;
    if (m && s != AT_OK) classify_data_failed("classify eval", ctx, s, o.file ? NULL : o.data);
    if (m && s == AT_OK) {
        at_classify_score sc;
        s = score(ctx, &o, m, docs, &sc);
        if (s == AT_OK && (o.report || o.top_words)) s = explain(ctx, &o, m, docs, &sc);
        code = s == AT_OK ? 0 : cli_fail("classify eval", ctx, s);
    }
    classify_data_clear(&d);
    at_classifier_free(m);
    at_ctx_free(ctx);
    return code;
}
