/*
 * eval.c - `attend eval MODEL [FILE.tsv | --dates N]`: how often a trained
 * model is right. Prints whole-sequence exact match (padding never counts)
 * and per-character accuracy (per-token for a model that writes tokens).
 *
 * --dates N draws N held-out dates (at_dates_held_out: never seen in
 * training, by the seed and sizes in the model's metadata) and also prints
 * exact match per locale and for English alone.
 * --only PREFIX keeps only locales starting with PREFIX (e.g. "en").
 * An empty FILE.tsv is an error: 0 out of 0 is no score.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>


typedef struct eval_options {
    const char *model, *tsv, *only;
    long dates, seed, threads, batch, errors;
} eval_options;

static int usage(FILE *out) {
    fprintf(out, "usage: attend eval MODEL [FILE.tsv | --dates N] [--only PREFIX] [--seed N]\n"
                 "                   [--threads N] [--batch N] [--errors K]\n"
                 "Exact match (whole output, padding excluded) and per-character accuracy\n"
                 "(per-token for a model that writes words).\n"
                 "  FILE.tsv     source<TAB>target pairs to score\n"
                 "  --dates N    N generated dates held out from the model's training data,\n"
                 "               with exact match per locale and for English alone\n"
                 "  --only P     --dates: only locales whose name starts with P (e.g. en)\n"
                 "  --seed N     --dates: seed of the draw (default 4242)\n"
                 "  --threads N  threads (default 2); --batch N decoding batch (default 256)\n"
                 "  --errors K   show up to K wrong outputs (default 5)\n");
    return out == stdout ? 0 : 2;
}

static int parse_options(eval_options *o, int argc, char **argv) {
    *o = (eval_options){.seed = 4242, .threads = 2, .batch = 256, .errors = 5};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return -1;
        else if (!strcmp(arg, "--dates"))
            ok = cli_parse_int(arg, value, 1, 10000000, &o->dates), i++;
        else if (!strcmp(arg, "--seed"))
            ok = cli_parse_int(arg, value, 0, 1L << 31, &o->seed), i++;
        else if (!strcmp(arg, "--threads"))
            ok = cli_parse_int(arg, value, 1, 256, &o->threads), i++;
        else if (!strcmp(arg, "--batch"))
            ok = cli_parse_int(arg, value, 1, 4096, &o->batch), i++;
        else if (!strcmp(arg, "--errors"))
            ok = cli_parse_int(arg, value, 0, 1000000, &o->errors), i++;
        else if (!strcmp(arg, "--only")) {
            if (!(o->only = value)) ok = 0, fprintf(stderr, "attend eval: --only needs a prefix\n");
            i++;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "attend eval: unknown option '%s'\n", arg);
            return 0;
        } else if (!o->model)
            o->model = arg;
        else if (!o->tsv)
            o->tsv = arg;
        else
            ok = 0, fprintf(stderr, "attend eval: one data file only ('%s')\n", arg);
        if (!ok) return 0;
    }
    if (!o->model) return fprintf(stderr, "attend eval: no MODEL given\n"), 0;
    if (!o->tsv == !o->dates)
        return fprintf(stderr, "attend eval: give either FILE.tsv or --dates N\n"), 0;
    return 1;
}

/* ------------------------------------------------------------ held-out dates */

/* A whole number in [lo, hi] from the model's metadata; 0 after printing. */
static int meta_long(at_ctx *ctx, const at_metadata *meta, const char *key, long lo, long hi,
                     long *out) {
    if (at_metadata_get_long(ctx, meta, key, lo, hi, out) == AT_OK) return 1;
    fprintf(stderr, "attend eval: the model's %s\n", at_ctx_error(ctx));
    return 0;
}

/* What to leave out: the dates the model trained on, as its metadata says. */
static int held_out_options(at_ctx *ctx, const at_metadata *meta, const eval_options *o,
                            at_dates_held_out_options *h) {
    *h = (at_dates_held_out_options){.seed = (uint64_t)o->seed, .count = o->dates,
                                     .only_prefix = o->only};
    const char *data = at_metadata_get(meta, "train.data");
    if (!data || strcmp(data, "dates")) {
        fprintf(stderr, "attend eval: the model was not trained on generated dates; no training "
                        "strings to leave out\n");
        return 1;
    }
    long seed;
    if (!meta_long(ctx, meta, "train.seed", 0, 1L << 31, &seed) ||
        !meta_long(ctx, meta, "train.train_size", 0, 100000000, &h->train_sizes[0]) ||
        !meta_long(ctx, meta, "train.valid_size", 0, 10000000, &h->train_sizes[1]))
        return 0;
    h->train_seed = (uint64_t)seed;
    fprintf(stderr, "regenerating the %ld training and %ld validation dates to leave them out...\n",
            h->train_sizes[0], h->train_sizes[1]);
    return 1;
}

static void print_locales(const at_pairs *pairs, const char **locale, const uint8_t *correct) {
    printf("exact match per locale:\n");
    const char *seen[256];
    int nseen = 0;
    long en_n = 0, en_ok = 0;
    for (size_t i = 0; i < pairs->count; i++) {
        if (!strncmp(locale[i], "en", 2)) en_n++, en_ok += correct[i];
        int known = 0;
        for (int k = 0; k < nseen && !known; k++)
            known = !strcmp(seen[k], locale[i]);
        if (known || nseen == 256) continue;
        seen[nseen++] = locale[i];
        long n = 0, ok = 0;
        for (size_t j = i; j < pairs->count; j++)
            if (!strcmp(locale[j], locale[i])) n++, ok += correct[j];
        printf("  %-8s %7.2f%%  (%ld/%ld)\n", locale[i], 100.0 * ok / n, ok, n);
    }
    if (en_n) printf("English alone: %.2f%% (%ld/%ld)\n", 100.0 * en_ok / en_n, en_ok, en_n);
}

/* ---------------------------------------------------------------------- run */

static void show_errors(at_ctx *ctx, const at_seq2seq *m, const at_pairs *pairs,
                        const uint8_t *correct, long max) {
    for (size_t i = 0; i < pairs->count && max > 0; i++) {
        if (correct[i]) continue;
        at_translation tr;
        if (at_seq2seq_translate(ctx, m, pairs->source[i], &tr) != AT_OK) continue;
        int terminal = isatty(fileno(stdout));
        printf("  wrong: ");
        cli_put_text(stdout, pairs->source[i], terminal);
        printf(" -> ");
        cli_put_text(stdout, tr.text, terminal);
        printf(" (want ");
        cli_put_text(stdout, pairs->target[i], terminal);
        printf(")\n");
        at_translation_clear(&tr);
        max--;
    }
}

static at_status score(at_ctx *ctx, const at_seq2seq *m, const eval_options *o,
                       const at_pairs *pairs, uint8_t *correct) {
    at_seq2seq_data data = {0};
    at_seq2seq_score sc;
    double start = cli_seconds();
    CLI_TRY(at_seq2seq_data_build(ctx, m, pairs, &data));
    at_status s = at_seq2seq_evaluate(ctx, m, &data, (int)o->batch, &sc, correct);
    at_seq2seq_data_clear(&data);
    if (s != AT_OK) return s;
    int tokens = at_vocab_get_kind(at_seq2seq_target_vocab(m)) == AT_VOCAB_TOKENS;
    printf("pairs: %ld\nexact match: %.2f%% (%ld/%ld)\nper-%s accuracy: %.2f%%\n", sc.pairs,
           100.0 * sc.exact / (sc.pairs ? sc.pairs : 1), sc.exact, sc.pairs,
           tokens ? "token" : "character", 100.0 * sc.chars_correct / (sc.chars ? sc.chars : 1));
    fprintf(stderr, "(decoded in %.1f s)\n", cli_seconds() - start);
    return AT_OK;
}

static at_status eval_dates(at_ctx *ctx, const at_seq2seq *m, const eval_options *o,
                            const at_metadata *meta) {
    at_dates_held_out_options h;
    if (!held_out_options(ctx, meta, o, &h))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "the model's training metadata is malformed");
    at_dates *dates;
    CLI_TRY(at_dates_create(ctx, &dates, NULL));
    at_pairs pairs = {0};
    const char **locale = malloc((size_t)o->dates * sizeof *locale);
    uint8_t *correct = calloc((size_t)o->dates, 1);
    at_status s = locale && correct ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "eval: out of memory");
    if (s == AT_OK) s = at_dates_held_out(ctx, dates, &h, &pairs, locale);
    if (s == AT_OK) s = score(ctx, m, o, &pairs, correct);
    if (s == AT_OK) print_locales(&pairs, locale, correct);
    if (s == AT_OK) show_errors(ctx, m, &pairs, correct, o->errors);
    at_pairs_clear(&pairs);
    free(locale);
    free(correct);
    at_dates_free(dates);
    return s;
}

static at_status eval_tsv(at_ctx *ctx, const at_seq2seq *m, const eval_options *o) {
    at_pairs pairs = {0};
    CLI_TRY(at_pairs_read_tsv(ctx, o->tsv, 0, &pairs));
    if (pairs.count == 0) /* 0/0 is no score: an empty file is a mistake */
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s: no pairs to evaluate (the evaluation set "
                           "is empty)",
                           o->tsv);
    uint8_t *correct = calloc(pairs.count ? pairs.count : 1, 1);
    at_status s = correct ? score(ctx, m, o, &pairs, correct)
                          : at_ctx_fail(ctx, AT_ERR_MEMORY, "eval: out of memory");
    if (s == AT_OK) show_errors(ctx, m, &pairs, correct, o->errors);
    free(correct);
    at_pairs_clear(&pairs);
    return s;
}

int eval_main(int argc, char **argv) {
    eval_options o;
    int parsed = parse_options(&o, argc, argv);
    if (parsed < 0) return usage(stdout);
    if (parsed == 0) return usage(stderr);
    at_ctx *ctx = cli_context("eval", (int)o.threads, 1);
    if (!ctx) return 1;
    at_metadata meta = {0};
    at_seq2seq *m = cli_load_model("eval", ctx, o.model, &meta);
    int code = 1;
    if (m) {
        at_status s = o.tsv ? eval_tsv(ctx, m, &o) : eval_dates(ctx, m, &o, &meta);
        code = s == AT_OK ? 0 : cli_fail("eval", ctx, s);
    }
    at_metadata_clear(&meta);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    return code;
}
