/*
 * eval.c - `attend eval MODEL [FILE.tsv | --dates N]`: how often a trained
 * model is right. Prints whole-sequence exact match (padding never counts)
 * and per-character accuracy.
 *
 * --dates N draws N held-out dates from the date generator and also prints
 * exact match per locale and for English alone. Held out means: if the
 * model was trained on generated dates, its training and validation pairs
 * are generated again from the seed and sizes in its metadata, and no drawn
 * string that equals one of them, case-folded, is used (the same rule the
 * generator uses to keep its splits apart). Drawn strings are distinct.
 * --only PREFIX keeps only locales starting with PREFIX (e.g. "en").
 * An empty FILE.tsv is an error: 0 out of 0 is no score.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unistd.h>

#define TRY(call)                                                                                  \
    do {                                                                                           \
        at_status s_ = (call);                                                                     \
        if (s_ != AT_OK) return s_;                                                                \
    } while (0)

typedef struct eval_options {
    const char *model, *tsv, *only;
    long dates, seed, threads, batch, errors;
} eval_options;

static int usage(FILE *out) {
    fprintf(out, "usage: attend eval MODEL [FILE.tsv | --dates N] [--only PREFIX] [--seed N]\n"
                 "                   [--threads N] [--batch N] [--errors K]\n"
                 "Exact match (whole output, padding excluded) and per-character accuracy.\n"
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

/* ------------------------------------------------- case-folded string set */

typedef struct fold_set {
    uint64_t *slots;
    size_t mask;
} fold_set;

/* FNV-1a over the case-folded UTF-16 of text (ICU's default folding). */
static uint64_t folded_hash(const char *text) {
    UChar raw[512], folded[1024];
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(raw, 512, &n, text, -1, &err);
    int32_t m = U_SUCCESS(err) ? u_strFoldCase(folded, 1024, raw, n, U_FOLD_CASE_DEFAULT, &err) : 0;
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *bytes =
        U_SUCCESS(err) ? (const unsigned char *)folded : (const unsigned char *)text;
    size_t len = U_SUCCESS(err) ? (size_t)m * sizeof(UChar) : strlen(text);
    for (size_t i = 0; i < len; i++)
        h = (h ^ bytes[i]) * 1099511628211ULL;
    return h ? h : 1;
}

static int fold_set_init(fold_set *set, size_t expected) {
    size_t cap = 1024;
    while (cap < 2 * expected)
        cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->mask = cap - 1;
    return set->slots != NULL;
}

/* Insert; returns 1 if new, 0 if it was there. */
static int fold_set_add(fold_set *set, uint64_t h) {
    for (size_t i = h & set->mask;; i = (i + 1) & set->mask) {
        if (set->slots[i] == h) return 0;
        if (!set->slots[i]) return set->slots[i] = h, 1;
    }
}

/* ------------------------------------------------------------ held-out dates */

static at_status add_training_strings(at_ctx *ctx, at_dates *dates, const at_metadata *meta,
                                      fold_set *set) {
    const char *data = at_metadata_get(meta, "train.data");
    if (!data || strcmp(data, "dates")) {
        fprintf(stderr, "attend eval: the model was not trained on generated dates; no training "
                        "strings to leave out\n");
        return AT_OK;
    }
    long sizes[3] = {
        atol(at_metadata_get(meta, "train.train_size") ? at_metadata_get(meta, "train.train_size")
                                                       : "0"),
        atol(at_metadata_get(meta, "train.valid_size") ? at_metadata_get(meta, "train.valid_size")
                                                       : "0"),
        0};
    const char *seed = at_metadata_get(meta, "train.seed");
    at_pairs splits[3] = {{0}, {0}, {0}};
    fprintf(stderr, "regenerating the %ld training and %ld validation dates to leave them out...\n",
            sizes[0], sizes[1]);
    TRY(at_dates_generate(ctx, dates, (uint64_t)atol(seed ? seed : "1"), sizes, splits));
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < splits[k].count; i++)
            fold_set_add(set, folded_hash(splits[k].source[i]));
    for (int k = 0; k < 3; k++)
        at_pairs_clear(&splits[k]);
    return AT_OK;
}

/* Draw n held-out pairs; locale[i] gets the format's locale of pair i. */
static at_status draw_dates(at_ctx *ctx, at_dates *dates, const eval_options *o, fold_set *set,
                            at_pairs *pairs, const char **locale) {
    at_rng rng;
    at_rng_seed(&rng, (uint64_t)o->seed);
    long tries = 0;
    while ((long)pairs->count < o->dates) {
        if (++tries > 1000 * o->dates + 100000)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "cannot draw %ld held-out dates%s%s", o->dates,
                               o->only ? " for locales " : "", o->only ? o->only : "");
        at_date_sample sample;
        TRY(at_dates_sample(ctx, dates, &rng, &sample));
        const char *loc = at_dates_format(dates, sample.format)->locale;
        if (o->only && strncmp(loc, o->only, strlen(o->only))) continue;
        if (!fold_set_add(set, folded_hash(sample.source))) continue;
        locale[pairs->count] = loc;
        TRY(at_pairs_add(ctx, pairs, sample.source, sample.target));
    }
    return AT_OK;
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
    TRY(at_seq2seq_data_build(ctx, m, pairs, &data));
    at_status s = at_seq2seq_evaluate(ctx, m, &data, (int)o->batch, &sc, correct);
    at_seq2seq_data_clear(&data);
    if (s != AT_OK) return s;
    printf("pairs: %ld\nexact match: %.2f%% (%ld/%ld)\nper-character accuracy: %.2f%%\n", sc.pairs,
           100.0 * sc.exact / (sc.pairs ? sc.pairs : 1), sc.exact, sc.pairs,
           100.0 * sc.chars_correct / (sc.chars ? sc.chars : 1));
    fprintf(stderr, "(decoded in %.1f s)\n", cli_seconds() - start);
    return AT_OK;
}

static at_status eval_dates(at_ctx *ctx, const at_seq2seq *m, const eval_options *o,
                            const at_metadata *meta) {
    at_dates *dates;
    TRY(at_dates_create(ctx, &dates, NULL));
    fold_set set = {0};
    at_pairs pairs = {0};
    const char **locale = malloc((size_t)o->dates * sizeof *locale);
    uint8_t *correct = calloc((size_t)o->dates, 1);
    at_status s = locale && correct && fold_set_init(&set, 400000 + 2 * (size_t)o->dates)
                      ? AT_OK
                      : at_ctx_fail(ctx, AT_ERR_MEMORY, "eval: out of memory");
    if (s == AT_OK) s = add_training_strings(ctx, dates, meta, &set);
    if (s == AT_OK) s = draw_dates(ctx, dates, o, &set, &pairs, locale);
    if (s == AT_OK) s = score(ctx, m, o, &pairs, correct);
    if (s == AT_OK) print_locales(&pairs, locale, correct);
    if (s == AT_OK) show_errors(ctx, m, &pairs, correct, o->errors);
    at_pairs_clear(&pairs);
    free(set.slots);
    free(locale);
    free(correct);
    at_dates_free(dates);
    return s;
}

static at_status eval_tsv(at_ctx *ctx, const at_seq2seq *m, const eval_options *o) {
    at_pairs pairs = {0};
    TRY(at_pairs_read_tsv(ctx, o->tsv, 0, &pairs));
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
