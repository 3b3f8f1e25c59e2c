/*
 * g2p.c - `attend g2p`: how English words are pronounced (grapheme to
 * phoneme), on the CMU Pronouncing Dictionary and its standard test split.
 *
 *   attend g2p train [OPTIONS]    `attend train --data g2p` with this task's
 *                                 defaults (any train option overrides them)
 *   attend g2p eval MODEL         WER and PER on the 12k test words (or dev)
 *   attend g2p export --out DIR   the split as TSV files (for other programs)
 *   attend g2p MODEL [WORD...]    phones of each word (or of stdin's lines):
 *                                 `attend translate --fold --with-input`
 *                                 (greedy; beam search with --beam)
 *
 * The data, the split rules and the scoring are the library's
 * (at_g2p_split_load, at_seq2seq_evaluate_references); this file finds the
 * files, refuses models of other tasks, and prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

/* The defaults `attend g2p train` puts before the user's options. */
static const char *const train_defaults[] = {
    "--data", "g2p", "--cell", "lstm", "--embed", "64", "--encoder", "192",
    "--encoder-layers", "2", "--dropout", "0.3", "--decoder-size", "256", "--attn-size", "128",
    "--batch", "64", "--epochs", "20", "--lr", "0.002", "--warmup", "500",
    "--eval-every", "2000",
    "--out", "runs/g2p",
};
/* Decoding defaults for eval and words (chosen on the dev set, docs/g2p.md). */
#define G2P_BEAM_WIDTH 1 /* beam 3, 5, 10 were worse on dev */
#define G2P_LENGTH_PENALTY 1
#define G2P_TEXT_(x) #x
#define G2P_TEXT(x) G2P_TEXT_(x)
#define G2P_BEAM G2P_TEXT(G2P_BEAM_WIDTH)
#define G2P_PENALTY G2P_TEXT(G2P_LENGTH_PENALTY)

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend g2p train [--dict FILE] [--test FILE] [train options]\n"
            "       attend g2p eval MODEL [--test FILE | --dev] [--beam K]\n"
            "                       [--length-penalty A] [--errors FILE] [--threads N]\n"
            "       attend g2p MODEL [--beam K] [translate options] [WORD...]\n"
            "       attend g2p export --out DIR [--dict FILE] [--test FILE]\n\n"
            "Grapheme to phoneme: English words to ARPAbet phones ('KNIGHT' -> 'N AY T').\n"
            "  train   trains on CMUdict without the standard test words (stress removed,\n"
            "          39 phones; 1 word in 20 kept for dev); 'attend train --help' lists\n"
            "          the options. Defaults (docs/g2p.md's model): embed 64, 2 BiLSTM\n"
            "          layers of 192 with dropout 0.3 between them, an LSTM luong decoder\n"
            "          of 256 with additive attention, batch 64, lr 0.002, 20 epochs,\n"
            "          out runs/g2p; the best model is chosen by dev WER.\n"
            "  eval    WER (words whose output matches none of their pronunciations)\n"
            "          and PER (phone edits to the closest one over its length) on the\n"
            "          12,000 test words, or on the dev words with --dev.\n"
            "          --errors FILE writes the words it got wrong (TSV).\n"
            "  MODEL   prints WORD<TAB>PHONES for each word; lower case is folded to the\n"
            "          model's alphabet, a character it has never seen is an error.\n"
            "  export  writes the split as DIR/train.tsv, dev.tsv and test.tsv.\n"
            "  --dict FILE   CMUdict 0.7b (default: $ATTEND_CMUDICT, else the cache that\n"
            "                'scripts/data.sh cmudict' fills)\n"
            "  --test FILE   the standard test split (default: $ATTEND_G2P_TEST); eval\n"
            "                reads it as WORD<TAB>PHONES lines as they are: phones without\n"
            "                stress, a word's pronunciations on consecutive lines\n"
            "  --beam K      beam width (default " G2P_BEAM "; 1 = greedy)\n"
            "  --length-penalty A  rank by log p / length^A (default " G2P_PENALTY ")\n");
    return out == stdout ? 0 : 2;
}

/* ------------------------------------------------------------------ files */

const char *g2p_default_dict(char *buf, size_t size) {
    const char *env = getenv("ATTEND_CMUDICT");
    if (env && *env) return env;
    return cli_cache_path("cmudict-0.2.3/data/dict.txt", buf, size);
}

const char *g2p_default_test(void) {
    const char *env = getenv("ATTEND_G2P_TEST");
    return env && *env ? env : NULL;
}

/* 1 if the checkpoint at path was trained by `attend g2p train`, else 0
 * after saying what it is. */
static int is_g2p_model(at_ctx *ctx, const char *path) {
    at_metadata meta = {0};
    if (at_checkpoint_read_metadata(ctx, path, &meta) != AT_OK) {
        fprintf(stderr, "attend g2p: cannot read the model %s: %s\n", path, at_ctx_error(ctx));
        return 0;
    }
    const char *data = at_metadata_get(&meta, "train.data");
    int ok = data && !strcmp(data, "g2p");
    if (!ok)
        fprintf(stderr, "attend g2p: %s is not a pronunciation model: it was trained on '%s'\n",
                path, data ? data : "(unknown data)");
    at_metadata_clear(&meta);
    return ok;
}

/* ------------------------------------------------------------------ eval */

typedef struct eval_options {
    const char *model, *test, *dict, *errors;
    int dev;
    long width, threads, batch;
    double penalty;
} eval_options;

static int parse_eval(eval_options *o, int argc, char **argv) {
    *o = (eval_options){.test = g2p_default_test(), .threads = 1, .batch = 256,
                        .width = G2P_BEAM_WIDTH, .penalty = G2P_LENGTH_PENALTY};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
        if (!strcmp(arg, "--dev")) {
            o->dev = 1;
            continue;
        }
        if (arg[0] != '-') {
            if (o->model) return fprintf(stderr, "attend g2p eval: one MODEL only\n"), 0;
            o->model = arg;
            continue;
        }
        i++;
        static const char *const known[] = {"--test",    "--dict",  "--errors", "--beam",
                                            "--threads", "--batch", "--length-penalty"};
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            is_known |= !strcmp(arg, known[k]);
        if (!is_known) return fprintf(stderr, "attend g2p eval: unknown option '%s'\n", arg), 0;
        if (!value) return fprintf(stderr, "attend g2p eval: %s needs a value\n", arg), 0;
        if (!strcmp(arg, "--test")) o->test = value;
        else if (!strcmp(arg, "--dict")) o->dict = value;
        else if (!strcmp(arg, "--errors")) o->errors = value;
        else if (!strcmp(arg, "--beam")) ok = cli_parse_int(arg, value, 1, AT_BEAM_MAX_WIDTH, &o->width);
        else if (!strcmp(arg, "--length-penalty")) ok = cli_parse_float(arg, value, 0, 4, &o->penalty);
        else if (!strcmp(arg, "--threads")) ok = cli_parse_int(arg, value, 1, 256, &o->threads);
        else ok = cli_parse_int(arg, value, 1, 4096, &o->batch);
        if (!ok) return 0; /* the parser said what is wrong */
    }
    if (!o->model) return fprintf(stderr, "attend g2p eval: no MODEL given\n"), 0;
    if (!o->test)
        return fprintf(stderr, "attend g2p eval: which test split? --test FILE or "
                               "ATTEND_G2P_TEST (the standard one: "
                               "cmudict-test-12k.tsv)\n"), 0;
    return 1;
}

/* The words to score: the test file, or the dev part of the split. */
static at_status eval_words(at_ctx *ctx, const eval_options *o, at_pairs *out) {
    if (!o->dev) return at_pairs_read_tsv(ctx, o->test, 0, out);
    char buf[4096];
    at_g2p_split split = {0};
    at_g2p_split_options so;
    at_g2p_split_options_default(&so);
    CLI_TRY(at_g2p_split_load(ctx, o->dict ? o->dict : g2p_default_dict(buf, sizeof buf),
                              o->test, &so, &split));
    *out = split.dev;
    split.dev = (at_pairs){0};
    at_g2p_split_clear(&split);
    return AT_OK;
}

/* The words got wrong, as WORD<TAB>OUTPUT<TAB>REFERENCE[<TAB>...] lines. */
static int write_errors(const char *path, const at_pairs *words, char **outputs) {
    FILE *f = fopen(path, "w");
    if (!f) return fprintf(stderr, "attend g2p eval: cannot write %s\n", path), 0;
    size_t item = 0;
    for (size_t i = 0; i < words->count; item++) {
        size_t j = i;
        int right = 0;
        for (; j < words->count && !strcmp(words->source[j], words->source[i]); j++)
            right |= !strcmp(outputs[item], words->target[j]);
        if (!right) {
            fprintf(f, "%s\t%s", words->source[i], outputs[item]);
            for (size_t k = i; k < j; k++)
                fprintf(f, "\t%s", words->target[k]);
            fputc('\n', f);
        }
        i = j;
    }
    return cli_close_stream(f, path);
}

static int eval_run(at_ctx *ctx, const eval_options *o, const at_seq2seq *m) {
    at_pairs words = {0};
    at_status s = eval_words(ctx, o, &words);
    if (s != AT_OK) return cli_fail("g2p eval", ctx, s);
    size_t items = at_pairs_count_sources(&words);
    char **outputs = calloc(items ? items : 1, sizeof *outputs);
    at_beam_options beam = {.width = (int)o->width, .length_penalty = (float)o->penalty};
    fprintf(stderr, "decoding %zu words (%zu pronunciations), beam %d, length penalty %g...\n",
            items, words.count, beam.width, (double)beam.length_penalty);
    double start = cli_seconds();
    at_wer wer;
    s = outputs ? at_seq2seq_evaluate_references(ctx, m, &words, &beam, (int)o->batch, &wer,
                                                 outputs)
                : at_ctx_fail(ctx, AT_ERR_MEMORY, "out of memory");
    int code = 0;
    if (s != AT_OK) {
        code = cli_fail("g2p eval", ctx, s);
    } else {
        printf("%s: %ld words, beam %d, length penalty %g\n", o->dev ? "dev" : o->test,
               wer.words, beam.width, (double)beam.length_penalty);
        printf("WER %.2f%%  (%ld words wrong)\n", 100 * at_wer_rate(&wer), wer.words_wrong);
        printf("PER %.2f%%  (%ld edits over %ld phones)\n", 100 * at_per_rate(&wer), wer.edits,
               wer.reference_units);
        fprintf(stderr, "decoded in %.1f s\n", cli_seconds() - start);
        if (o->errors && !write_errors(o->errors, &words, outputs)) code = 1;
    }
    for (size_t i = 0; outputs && i < items; i++)
        free(outputs[i]);
    free(outputs);
    at_pairs_clear(&words);
    return code;
}

static int eval_main_g2p(int argc, char **argv) {
    eval_options o;
    int parsed = parse_eval(&o, argc, argv);
    if (parsed < 0) return usage(stdout);
    if (parsed == 0) return 2;
    at_ctx *ctx = cli_context("g2p eval", (int)o.threads, 1);
    if (!ctx) return 1;
    int code = 1;
    if (is_g2p_model(ctx, o.model)) {
        at_seq2seq *m = cli_load_model("g2p eval", ctx, o.model, NULL);
        if (m) code = eval_run(ctx, &o, m);
        at_seq2seq_free(m);
    }
    at_ctx_free(ctx);
    return code;
}

/* ---------------------------------------------------------------- export */

/* DIR/train.tsv, dev.tsv, test.tsv: the split as the trainer sees it, for
 * another program (the PyTorch peer of bench/run_g2p_bench.sh). */
static int export_main(int argc, char **argv) {
    const char *dir = NULL, *dict = NULL, *test = g2p_default_test();
    for (int i = 1; i < argc; i += 2) { /* --option VALUE pairs */
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout);
        const char **field = !strcmp(arg, "--out")    ? &dir
                             : !strcmp(arg, "--dict") ? &dict
                             : !strcmp(arg, "--test") ? &test
                                                      : NULL;
        if (!field) return fprintf(stderr, "attend g2p export: unknown option '%s'\n", arg), 2;
        if (!value) return fprintf(stderr, "attend g2p export: %s needs a value\n", arg), 2;
        *field = value;
    }
    if (!dir || !test)
        return fprintf(stderr, "attend g2p export: --out DIR and --test FILE (or "
                               "ATTEND_G2P_TEST) are needed\n"), 2;
    at_ctx *ctx = cli_context("g2p export", 1, 1);
    if (!ctx) return 1;
    char buf[4096], path[4096];
    at_g2p_split split = {0};
    at_status s = at_g2p_split_load(ctx, dict ? dict : g2p_default_dict(buf, sizeof buf), test,
                                    NULL, &split);
    const char *names[3] = {"train", "dev", "test"};
    const at_pairs *sets[3] = {&split.train, &split.dev, &split.test};
    for (int k = 0; k < 3 && s == AT_OK; k++) {
        snprintf(path, sizeof path, "%s/%s.tsv", dir, names[k]);
        s = at_pairs_write_tsv(ctx, path, sets[k]);
        if (s == AT_OK) fprintf(stderr, "%s: %zu pronunciations\n", path, sets[k]->count);
    }
    int code = s == AT_OK ? 0 : cli_fail("g2p export", ctx, s);
    at_g2p_split_clear(&split);
    at_ctx_free(ctx);
    return code;
}

/* ------------------------------------------------------------- dispatch */

/* argv with `before` inserted after argv[0]; NULL if out of memory. */
static char **with_defaults(int argc, char **argv, const char *const *before, int n) {
    char **out = malloc((size_t)(argc + n + 1) * sizeof *out);
    if (!out) return NULL;
    out[0] = argv[0];
    for (int i = 0; i < n; i++)
        out[1 + i] = (char *)before[i];
    for (int i = 1; i < argc; i++)
        out[n + i] = argv[i];
    out[argc + n] = NULL;
    return out;
}

static int delegate(int (*run)(int, char **), int argc, char **argv, const char *const *before,
                    int n) {
    char **args = with_defaults(argc, argv, before, n);
    if (!args) return fprintf(stderr, "attend g2p: out of memory\n"), 1;
    int code = run(argc + n, args);
    free(args);
    return code;
}

int g2p_main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *what = argv[1];
    if (!strcmp(what, "--help") || !strcmp(what, "-h")) return usage(stdout);
    if (!strcmp(what, "train"))
        return delegate(train_main, argc - 1, argv + 1, train_defaults,
                        (int)(sizeof train_defaults / sizeof train_defaults[0]));
    if (!strcmp(what, "eval")) return eval_main_g2p(argc - 1, argv + 1);
    if (!strcmp(what, "export")) return export_main(argc - 1, argv + 1);
    if (what[0] == '-') {
        fprintf(stderr, "attend g2p: unknown option '%s' (train, eval or a MODEL comes first)\n",
                what);
        return 2;
    }
    at_ctx *ctx = cli_context("g2p", 1, 1);
    if (!ctx) return 1;
    int ok = is_g2p_model(ctx, what);
    at_ctx_free(ctx);
    if (!ok) return 1;
    static const char *const word_defaults[] = {"--fold", "--with-input", "--beam", G2P_BEAM,
                                                "--length-penalty", G2P_PENALTY};
    /* translate reads MODEL as its first non-option argument */
    return delegate(translate_main, argc, argv, word_defaults,
                    (int)(sizeof word_defaults / sizeof word_defaults[0]));
}
