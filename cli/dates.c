/*
 * dates.c - `attend dates`: the date translator's data set.
 *
 *   attend dates generate [--count N] [--valid N] [--test N] [--seed S]
 *                         [--locales a,b,c] [--out DIR]
 *   attend dates formats  [--locales a,b,c]
 *   attend dates locales
 *
 * generate writes DIR/train.tsv, valid.tsv and test.tsv (source<TAB>ISO
 * date), each atomically, and says which formats it left out and why.
 * formats lists every format with its verdict; locales the defaults. The
 * work itself is the library's (src/data/dates.c); this file parses
 * options, shows progress on a terminal and reports.
 */
#define _POSIX_C_SOURCE 200809L /* mkdir, strdup, isatty */
#include "cli.h"

#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_LOCALES = 256, BIG_COUNT = 200000 };

static int usage(FILE *out) {
    fprintf(out, "usage: attend dates generate [--count N] [--valid N] [--test N] [--seed S]\n"
                 "                             [--locales a,b,c] [--out DIR]\n"
                 "       attend dates formats [--locales a,b,c]\n"
                 "       attend dates locales\n\n"
                 "Human-written dates in many languages paired with ISO dates, made with ICU:\n"
                 "random dates from 1600 to 2399 (Gregorian) in each locale's full, long, medium\n"
                 "and short styles and a list of patterns, with 'bare' (\"May 9 2018\") and\n"
                 "'spaced' (\"9  May  2018\", \"2018 - 05 - 09\") variants of the English and the\n"
                 "numeric ones, with case changed at random. Formats that would let one string\n"
                 "mean two dates are left out (checked over every date, exactly); the splits\n"
                 "share no string.\n\n"
                 "  generate       write DIR/train.tsv, valid.tsv and test.tsv\n"
                 "    --count N    training pairs (default 100000)\n"
                 "    --valid N    validation pairs (default 10000)\n"
                 "    --test N     test pairs (default 10000)\n"
                 "    --seed S     random seed (default 1); the same seed gives the same files\n"
                 "    --locales L  comma-separated ICU locales (default: 'attend dates locales')\n"
                 "    --out DIR    output directory, created if needed (default data/dates)\n"
                 "  formats        list every format and whether it is kept, and why not\n"
                 "  locales        list the default locales\n");
    return out == stdout ? 0 : 2;
}

typedef struct dates_args {
    long sizes[3];
    long seed;
    char *locale_text; /* strdup'd --locales, cut at commas */
    const char *locales[MAX_LOCALES];
    int locale_count;
    const char *out_dir;
} dates_args;

/* Split "a,b,c" in place; empty names are bad usage. */
static int split_locales(dates_args *a, const char *text) {
    free(a->locale_text);
    a->locale_text = strdup(text);
    if (!a->locale_text) return fprintf(stderr, "attend dates: out of memory\n"), 0;
    a->locale_count = 0;
    for (char *p = a->locale_text;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p) return fprintf(stderr, "attend dates: --locales has an empty name\n"), 0;
        if (a->locale_count == MAX_LOCALES)
            return fprintf(stderr, "attend dates: more than %d locales\n", MAX_LOCALES), 0;
        a->locales[a->locale_count++] = p;
        if (!comma) return 1;
        p = comma + 1;
    }
}

/* Parse options after the action; returns 0 ok, 1 help shown, 2 bad usage. */
static int parse_args(int argc, char **argv, int allow_sizes, dates_args *a) {
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout), 1;
        if (!strcmp(arg, "--locales")) {
            ok = value ? split_locales(a, value)
                       : (fprintf(stderr, "attend: --locales needs a value\n"), 0);
            i++;
        } else if (allow_sizes && !strcmp(arg, "--count"))
            ok = cli_parse_int(arg, value, 1, 50000000, &a->sizes[0]), i++;
        else if (allow_sizes && !strcmp(arg, "--valid"))
            ok = cli_parse_int(arg, value, 0, 10000000, &a->sizes[1]), i++;
        else if (allow_sizes && !strcmp(arg, "--test"))
            ok = cli_parse_int(arg, value, 0, 10000000, &a->sizes[2]), i++;
        else if (allow_sizes && !strcmp(arg, "--seed"))
            ok = cli_parse_int(arg, value, 0, 1L << 40, &a->seed), i++;
        else if (allow_sizes && !strcmp(arg, "--out")) {
            ok = value != NULL;
            if (!ok) fprintf(stderr, "attend: --out needs a directory\n");
            a->out_dir = value, i++;
        } else {
            fprintf(stderr, "attend dates: unknown option '%s'\n", arg);
            return usage(stderr);
        }
        if (!ok) return 2;
    }
    return 0;
}

/* --------------------------------------------------------------- progress */

typedef struct progress_state {
    cli_progress bar;
    const char *stage;
    int shown;
} progress_state;

static void on_progress(void *user, const char *stage, long done, long total) {
    progress_state *p = user;
    if (!isatty(STDERR_FILENO)) return;
    if (p->stage != stage) {
        if (p->shown) cli_progress_finish(&p->bar);
        cli_progress_start(&p->bar, total);
        p->stage = stage;
        p->shown = 1;
    }
    cli_progress_update(&p->bar, done, "%s", stage);
}

static void progress_done(progress_state *p) {
    if (p->shown) cli_progress_finish(&p->bar);
    p->shown = 0;
    p->stage = NULL;
}

/* ---------------------------------------------------------------- actions */

static int fail(at_ctx *ctx, at_status s) {
    fprintf(stderr, "attend dates: %s: %s\n", at_status_name(s), at_ctx_error(ctx));
    return s == AT_ERR_ARGUMENT ? 2 : 1;
}

static at_status open_dates(at_ctx *ctx, const dates_args *a, progress_state *progress,
                            at_dates **out) {
    at_dates_options opts = {.locales = a->locale_count ? a->locales : NULL,
                             .locale_count = a->locale_count,
                             .progress = progress ? on_progress : NULL,
                             .progress_user = progress};
    at_status s = at_dates_create(ctx, out, &opts);
    if (progress) progress_done(progress);
    return s;
}

static void print_dropped(const at_dates *dates) {
    int unusable = 0, ambiguous = 0, n = at_dates_format_count(dates);
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        if (f->kept) continue;
        int is_ambiguous =
            !strncmp(f->reason, "collides", 8) || !strncmp(f->reason, "ambiguous", 9);
        ambiguous += is_ambiguous;
        unusable += !is_ambiguous;
    }
    printf("formats: %d in %d locales; %d kept, %d left out as ambiguous, %d unusable\n", n,
           at_dates_locale_count(dates), at_dates_kept_count(dates), ambiguous, unusable);
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        if (!f->kept)
            printf("  left out: %s %s (%s): %s\n", f->locale, f->name, f->pattern, f->reason);
    }
}

static at_status write_splits(at_ctx *ctx, const char *dir, at_pairs splits[3]) {
    static const char *names[3] = {"train.tsv", "valid.tsv", "test.tsv"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(dir) + strlen(names[k]) + 2;
        char *path = malloc(n);
        if (!path) return at_ctx_fail(ctx, AT_ERR_MEMORY, "out of memory");
        snprintf(path, n, "%s/%s", dir, names[k]);
        at_status s = at_pairs_write_tsv(ctx, path, &splits[k]);
        free(path);
        if (s != AT_OK) return s;
    }
    return AT_OK;
}

static int generate(at_ctx *ctx, dates_args *a) {
    double start = cli_seconds();
    long total = a->sizes[0] + a->sizes[1] + a->sizes[2];
    progress_state progress = {0};
    at_dates *dates;
    at_status s = open_dates(ctx, a, total >= BIG_COUNT ? &progress : NULL, &dates);
    if (s != AT_OK) return fail(ctx, s);
    double checked = cli_seconds() - start;
    at_pairs splits[3] = {{0}};
    s = at_dates_generate(ctx, dates, (uint64_t)a->seed, a->sizes, splits); /* progress too */
    progress_done(&progress);
    int dir_ok = s == AT_OK && cli_make_directory("dates", a->out_dir);
    if (dir_ok) s = write_splits(ctx, a->out_dir, splits);
    if (s == AT_OK && dir_ok) {
        print_dropped(dates);
        printf("wrote %s/train.tsv (%zu pairs), valid.tsv (%zu), test.tsv (%zu) in %.1f s "
               "(%.1f s checking formats)\n",
               a->out_dir, splits[0].count, splits[1].count, splits[2].count, cli_seconds() - start,
               checked);
    }
    for (int k = 0; k < 3; k++)
        at_pairs_clear(&splits[k]);
    at_dates_free(dates);
    if (s != AT_OK) return fail(ctx, s);
    return dir_ok ? 0 : 1;
}

static int list_formats(at_ctx *ctx, dates_args *a) {
    at_dates *dates;
    at_status s = open_dates(ctx, a, NULL, &dates);
    if (s != AT_OK) return fail(ctx, s);
    int n = at_dates_format_count(dates);
    char example[AT_DATE_MAX_BYTES];
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        s = at_date_format_pattern(ctx, f->locale, f->pattern, 2018, 5, 9, example, sizeof example);
        printf("%-8s %-20s %-26s %-4s %s\n", f->locale, f->name, s == AT_OK ? example : "?",
               f->kept ? "kept" : "out", f->reason);
    }
    print_dropped(dates);
    at_dates_free(dates);
    return 0;
}

static int list_locales(void) {
    for (int i = 0; i < at_dates_default_locale_count(); i++) {
        const char *code = at_dates_default_locale(i);
        UChar name16[128];
        char name[384] = "";
        UErrorCode err = U_ZERO_ERROR;
        int32_t len = uloc_getDisplayName(code, "en", name16, 128, &err);
        if (U_SUCCESS(err)) u_strToUTF8(name, sizeof name, NULL, name16, len, &err);
        printf("%-6s %s\n", code, U_SUCCESS(err) ? name : "");
    }
    return 0;
}

int dates_main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    const char *action = argv[1];
    if (!strcmp(action, "--help") || !strcmp(action, "-h") || !strcmp(action, "help"))
        return usage(stdout);
    int is_generate = !strcmp(action, "generate");
    if (!is_generate && strcmp(action, "formats") && strcmp(action, "locales")) {
        fprintf(stderr, "attend dates: unknown action '%s'\n", action);
        return usage(stderr);
    }
    if (!strcmp(action, "locales")) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
            return usage(stdout);
        if (argc > 2) return fprintf(stderr, "attend dates locales: takes no options\n"), 2;
        return list_locales();
    }
    dates_args a = {.sizes = {100000, 10000, 10000}, .seed = 1, .out_dir = "data/dates"};
    int parsed = parse_args(argc, argv, is_generate, &a);
    int code = parsed == 1 ? 0 : parsed;
    if (parsed == 0) {
        at_ctx *ctx;
        if (at_ctx_create(&ctx, NULL) != AT_OK) {
            fprintf(stderr, "attend dates: out of memory\n");
            code = 1;
        } else {
            code = is_generate ? generate(ctx, &a) : list_formats(ctx, &a);
            at_ctx_free(ctx);
        }
    }
    free(a.locale_text);
    return code;
}
