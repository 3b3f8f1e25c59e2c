/*
 * classify.c - `attend classify`: documents classified with static (HAN)
 * attention, by default the SpamAssassin mail corpus (ham or spam).
 *
 *   attend classify split [--data DIR] --out DIR   the corpus's split as TSV
 *                                                  (and fastText's format)
 *   attend classify train [OPTIONS]                train a HAN or a flat model
 *                                                  (classify_train.c)
 *   attend classify eval MODEL [FILE] [OPTIONS]    accuracy, spam P/R/F1, per
 *                                                  group; report and figures
 *                                                  (classify_eval.c)
 *   attend classify MODEL FILE...                  label, probability and the
 *                                                  five words with most weight
 *
 * The mail reading and the split are libattend-data's (attend/mail.h), the
 * model, training and evaluation libattend's (attend/classify.h); this file
 * parses options, finds the corpus and prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "classify.h"
#include "files.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int classify_usage(FILE *out) {
    fprintf(out,
            "usage: attend classify train [--data spam-assassin|DIR] [--train FILE --dev FILE]\n"
            "                       [--model han|flat] [model options] [--batch B] [--lr X]\n"
            "                       [--epochs N] [--minutes M] [--threads N] [--replicas R]\n"
            "                       [--threshold dev|none] [--seed S] [--out DIR] [--resume]\n"
            "       attend classify eval MODEL [FILE] [--split dev|test] [--positive NAME]\n"
            "                       [--report FILE.html] [--sample N] [--top-words FILE]\n"
            "                       [--top N] [--predictions FILE] [--threads N]\n"
            "       attend classify MODEL FILE... [--text] [--plot FIGURE]\n"
            "       attend classify split [--data spam-assassin|DIR] --out DIR\n\n"
            "Static attention classifies documents. The default data is the SpamAssassin\n"
            "public corpus (6,046 mails, ham or spam) that 'scripts/data.sh spam-assassin'\n"
            "fetches ($ATTEND_SPAM_ASSASSIN overrides its path); within each group (easy ham,\n"
            "hard ham, spam) 70%% train, 10%% develop and 20%% test (docs/classification.md).\n"
            "  --train FILE     a TSV of label<TAB>text[<TAB>group] instead of the corpus\n"
            "                   (text escapes: \\n \\t \\\\); --dev FILE validates\n"
            "  --model KIND     han (default: words -> sentences -> document) or flat (one\n"
            "                   attention over all the words)\n"
            "  --word-attention FORM, --sentence-attention FORM\n"
            "                   context (HAN's context vector, the default) or feature (the\n"
            "                   seed's per-feature layer)\n"
            "  --vectors FILE   start the word embedding from pretrained vectors (word2vec\n"
            "                   text, e.g. fasttext skipgram's .vec; DIM must be --embed)\n"
            "  --embed E        word embedding size (default 100)\n"
            "  --hidden H       each GRU direction (default 50)\n"
            "  --attn A         the context vector's size (default 100)\n"
            "  --max-sentences S, --max-words W\n"
            "                   sentences a document and words a sentence read (30, 40)\n"
            "  --min-count N    words seen fewer times in training are unknown (default 2)\n"
            "  --max-vocab N    at most this many words (default 30000)\n"
            "  --dropout P      on the embeddings and the document vector (default 0.2)\n"
            "  --batch B        documents a step (default 32)\n"
            "  --lr X           Adam's learning rate (default 0.002)\n"
            "  --epochs N       passes over the training documents (default 8)\n"
            "  --minutes M      also stop after M minutes of training\n"
            "  --threads N      threads for OpenMP and OpenBLAS (default 2)\n"
            "  --threshold T    dev (default): with two classes and --dev (or the corpus),\n"
            "                   cut p(class 2) where dev accuracy is best; none: the\n"
            "                   larger probability\n"
            "  --replicas R     R copies of the model train as one, each on threads / R\n"
            "                   threads and a slice of every batch (default 1; faster on\n"
            "                   a quiet machine: docs/scale.md)\n"
            "  --out DIR        model.safetensors (best dev accuracy), last.*, metrics.jsonl\n"
            "                   (default runs/classify)\n"
            "eval: FILE is a TSV; without it, the corpus's --split (default test).\n"            "  A model trained with a decision threshold (train's --threshold dev)\n"
            "  decides by it, here and in prediction.\n"

            "  --report FILE.html  every misclassified document and --sample N (default 10)\n"
            "                      correct ones of each group, words and sentences shaded\n"
            "  --top-words FILE    the --top N (default 15) words with the most attention per\n"
            "                      class, summed over the documents (.png/.svg/.pdf; also printed)\n"
            "  --predictions FILE  one line a document: id, true label, predicted, probability\n"
            "predict: each FILE is a raw mail message (RFC 822), or with --text plain text;\n"
            "  '-' reads stdin. Prints the label, its probability and the five words with\n"
            "  the most weight. --plot FIGURE (one FILE) shades its words and sentences:\n"
            "  .html (interactive), .png, .svg or .pdf.\n"
            "split: DIR/{train,dev,test}.tsv (label, text, group) and DIR/{train,dev,test}.ft\n"
            "  (fastText's __label__ lines, the same words the model reads).\n");
    return out == stdout ? 0 : 2;
}

/* ------------------------------------------------------------------ data */

static void on_corpus_progress(void *user, size_t done, size_t total) {
    cli_progress *bar = user;
    if (done % 200 == 0 || done == total)
        cli_progress_update(bar, (long)done, "reading mail: %zu of %zu", done, total);
}

static const char *corpus_path(const char *data, char *buf, size_t size) {
    if (strcmp(data, CLASSIFY_CORPUS) != 0) return data;
    const char *env = getenv("ATTEND_SPAM_ASSASSIN");
    if (env && *env) return env;
    return cli_cache_path("spam-assassin-0.2.3/data", buf, size);
}

static void corpus_summary(const at_mail_corpus *c, const char *path) {
    fprintf(stderr,
            "corpus: %s: %zu messages, %zu not parsed; %zu train, %zu dev, %zu test "
            "(%zu had HTML, %zu a missing or unknown charset)\n",
            path, c->files, c->failed, c->train.count, c->dev.count, c->test.count, c->html,
            c->charset_guessed);
    for (size_t i = 0; i < c->failed && i < 8; i++)
        fprintf(stderr, "  not parsed: %s\n", c->failures[i]);
}

at_status classify_read_corpus(at_ctx *ctx, const char *data, classify_data *d) {
    char buf[4096];
    const char *path = corpus_path(data, buf, sizeof buf);
    snprintf(d->name, sizeof d->name, "%s", path);
    cli_progress bar;
    cli_progress_start(&bar, 6046);
    at_status s = at_mail_corpus_read(ctx, path, &d->corpus, on_corpus_progress, &bar);
    cli_progress_finish(&bar);
    if (s != AT_OK) return s;
    corpus_summary(&d->corpus, path);
    d->train = &d->corpus.train;
    d->dev = &d->corpus.dev;
    d->test = &d->corpus.test;
    return AT_OK;
}

at_status classify_read_tsv(at_ctx *ctx, const char *path, int part, classify_data *d) {
    at_class_docs *docs = &d->files[part];
    CLI_TRY(at_class_docs_read_tsv(ctx, path, docs));
    const at_class_docs **slot = part == 0 ? &d->train : part == 1 ? &d->dev : &d->test;
    *slot = docs;
    size_t used = strlen(d->name);
    snprintf(d->name + used, sizeof d->name - used, "%s%s", used ? ", " : "", path);
    return AT_OK;
}

void classify_data_clear(classify_data *d) {
    at_mail_corpus_clear(&d->corpus);
    for (int i = 0; i < 3; i++) at_class_docs_clear(&d->files[i]);
    memset(d, 0, sizeof *d);
}

int classify_data_failed(const char *command, at_ctx *ctx, at_status s, const char *data) {
    cli_fail(command, ctx, s);
    if (data && !strcmp(data, CLASSIFY_CORPUS) && s == AT_ERR_IO)
        fprintf(stderr, "attend %s: fetch the corpus with 'scripts/data.sh spam-assassin', or "
                        "give --data DIR or --train FILE\n", command);
    return 1;
}

at_classifier *classify_load_model(const char *command, at_ctx *ctx, const char *path) {
    at_classifier *m = NULL;
    at_status s = at_classifier_load(ctx, &m, path, NULL);
    if (s != AT_OK) cli_fail(command, ctx, s);
    return s == AT_OK ? m : NULL;
}

/* ----------------------------------------------------------------- split */

/* One document as fastText reads it: "__label__L w1 w2 ...", the words the
 * model's tokenizer cuts (every sentence, none dropped). */
static at_status put_fasttext_line(at_ctx *ctx, atf_writer *w, const char *label,
                                   const char *text) {
    at_doc_tokens t = {0};
    CLI_TRY(at_classify_tokenize(ctx, text, 1000, 1000, &t));
    atf_write(w, "__label__", 9);
    atf_write(w, label, strlen(label));
    for (int i = 0; i < t.words; i++) {
        atf_write(w, " ", 1);
        atf_write(w, t.word[i], strlen(t.word[i]));
    }
    atf_write(w, "\n", 1);
    at_doc_tokens_clear(&t);
    return AT_OK;
}

/* Written atomically, as every file attend writes. */
static at_status write_fasttext(at_ctx *ctx, const char *path, const at_class_docs *docs) {
    atf_writer *w = malloc(sizeof *w);
    if (!w) return at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", path);
    at_status s = atf_open(ctx, w, path);
    if (s != AT_OK) return free(w), s;
    for (size_t i = 0; i < docs->count && s == AT_OK; i++)
        s = put_fasttext_line(ctx, w, docs->labels[i], docs->texts[i]);
    if (s == AT_OK)
        s = atf_commit(ctx, w);
    else
        atf_abort(w);
    free(w);
    return s;
}

static int classify_split(int argc, char **argv) {
    const char *data = CLASSIFY_CORPUS, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return classify_usage(stdout);
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--data") && value) data = argv[++i];
        else if (!strcmp(argv[i], "--out") && value) out = argv[++i];
        else {
            fprintf(stderr, "attend classify split: unknown option or missing value '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "attend classify split: --out DIR is required\n");
        return 2;
    }
    at_ctx *ctx = cli_context("classify split", 1, 1);
    if (!ctx) return 1;
    classify_data d = {0};
    at_status s = classify_read_corpus(ctx, data, &d);
    if (s != AT_OK) {
        classify_data_failed("classify split", ctx, s, data);
        classify_data_clear(&d);
        at_ctx_free(ctx);
        return 1;
    }
    static const char *const parts[3] = {"train", "dev", "test"};
    const at_class_docs *sets[3] = {d.train, d.dev, d.test};
    char path[4200];
    if (!cli_make_directory("classify split", out)) s = AT_ERR_IO;
    for (int p = 0; p < 3 && s == AT_OK; p++) {
        snprintf(path, sizeof path, "%s/%s.tsv", out, parts[p]);
        s = at_class_docs_write_tsv(ctx, path, sets[p]);
        snprintf(path, sizeof path, "%s/%s.ft", out, parts[p]);
        if (s == AT_OK) s = write_fasttext(ctx, path, sets[p]);
        if (s == AT_OK) printf("%s: %zu documents\n", path, sets[p]->count);
    }
    int code = s == AT_OK ? 0 : 1;
    if (s != AT_OK && at_ctx_error(ctx)[0]) cli_fail("classify split", ctx, s);
    classify_data_clear(&d);
    at_ctx_free(ctx);
    return code;
}

/* --------------------------------------------------------------- predict */

/* The text of one input: a mail message parsed, or (--text) the file as
 * it is; "-" is stdin. */
static at_status read_input(at_ctx *ctx, const char *path, int plain, char **text) {
    char *bytes = NULL;
    size_t n = 0;
    CLI_TRY(atf_read(ctx, strcmp(path, "-") ? path : "/dev/stdin", AT_MAIL_MAX_BYTES,
                     plain ? "a text" : "a mail message", &bytes, &n));
    if (plain) {
        at_status s = at_utf8_check(ctx, bytes, n, path);
        if (s == AT_OK && memchr(bytes, 0, n))
            s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the text holds a NUL byte", path);
        if (s != AT_OK) return free(bytes), s;
        *text = bytes;
        return AT_OK;
    }
    at_mail_text mail = {0};
    at_status s = at_mail_parse(ctx, bytes, n, &mail);
    free(bytes);
    if (s != AT_OK) return at_ctx_fail(ctx, s, "%s: %s", path, at_ctx_error(ctx));
    s = at_mail_text_join(ctx, &mail, text);
    at_mail_text_clear(&mail);
    return s;
}

/* The five words with the most document weight, heaviest first. */
static void print_top_words(const at_classification *c, int to_terminal) {
    int top[5], k = 0;
    for (int i = 0; i < c->tokens.words; i++) {
        int at = k < 5 ? k++ : 5;
        if (at == 5 && c->doc_weights[i] <= c->doc_weights[top[4]]) continue;
        if (at == 5) at = 4;
        while (at > 0 && c->doc_weights[top[at - 1]] < c->doc_weights[i]) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = i;
    }
    for (int j = 0; j < k; j++) {
        printf("%s", j ? "  " : "  words: ");
        cli_put_text(stdout, c->tokens.word[top[j]], to_terminal);
        printf(" %.3f", (double)c->doc_weights[top[j]]);
    }
    printf("\n");
}

/* The document's words and sentences shaded by their weights (at_plot_doc). */
static at_status plot_one(at_ctx *ctx, const at_classifier *m, const at_classification *c,
                          const char *title, const char *path) {
    at_attention_doc *doc = classify_doc_of(ctx, m, c, title);
    if (!doc) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: the text has no word to show", title);
    at_status s = at_plot_doc(ctx, doc, path);
    at_attention_doc_free(doc);
    if (s == AT_OK) fprintf(stderr, "figure: %s\n", path);
    return s;
}

static at_status predict_one(at_ctx *ctx, const at_classifier *m, const char *path, int plain,
                             int to_terminal, const char *plot) {
    char *text = NULL;
    CLI_TRY(read_input(ctx, path, plain, &text));
    at_classification c = {0};
    at_status s = at_classifier_predict(ctx, m, text, &c);
    free(text);
    if (s != AT_OK) return s;
    printf("%s: ", path);
    cli_put_text(stdout, at_classifier_class_name(m, c.label), to_terminal);
    printf(" %.4f", (double)c.probs[c.label]);
    if (c.unknown) printf("  (%d of %d words unknown)", c.unknown, c.tokens.words);
    printf("\n");
    if (c.tokens.words) print_top_words(&c, to_terminal);
    s = plot ? plot_one(ctx, m, &c, path, plot) : AT_OK;
    at_classification_clear(&c);
    return s;
}

static int classify_predict(int argc, char **argv) {
    int plain = 0, files = 0;
    long threads = 1;
    const char *model = NULL, *plot = NULL;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths) return fprintf(stderr, "attend classify: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--text")) plain = 1;
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc) plot = argv[++i];
        else if (!strcmp(argv[i], "--threads")) {
            if (!cli_parse_int(argv[i], i + 1 < argc ? argv[i + 1] : NULL, 1, 256, &threads))
                return free(paths), 2;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "attend classify: unknown option '%s'\n", argv[i]);
            return free(paths), 2;
        } else if (!model)
            model = argv[i];
        else
            paths[files++] = argv[i];
    }
    if (!model || !files) return free(paths), classify_usage(stderr);
    if (plot && files > 1) {
        fprintf(stderr, "attend classify: --plot draws one document; give one FILE\n");
        return free(paths), 2;
    }
    at_ctx *ctx = cli_context("classify", (int)threads, 1);
    at_classifier *m = ctx ? classify_load_model("classify", ctx, model) : NULL;
    int code = m ? 0 : 1, to_terminal = isatty(STDOUT_FILENO);
    for (int i = 0; m && i < files && !cli_stdout_failed("classify"); i++) {
        at_status s = predict_one(ctx, m, paths[i], plain, to_terminal, plot);
        if (s != AT_OK) code = cli_fail("classify", ctx, s);
    }
    at_classifier_free(m);
    at_ctx_free(ctx);
    free(paths);
    return code;
}

/* -------------------------------------------------------------- dispatch */

int classify_main(int argc, char **argv) {
    if (argc < 2) return classify_usage(stderr);
    const char *command = argv[1];
    if (!strcmp(command, "--help") || !strcmp(command, "-h") || !strcmp(command, "help"))
        return classify_usage(stdout);
    if (!strcmp(command, "train")) return classify_train_main(argc - 1, argv + 1);
    if (!strcmp(command, "eval")) return classify_eval_main(argc - 1, argv + 1);
    if (!strcmp(command, "split")) return classify_split(argc - 1, argv + 1);
    return classify_predict(argc, argv);
}
