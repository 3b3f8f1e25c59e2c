/*
 * test_dates.c - the date data set, the vocabulary and the TSV reader.
 *
 * The date checks do not trust the generator's own reasoning: the emitted
 * files are re-read and checked with plain sorting (every case-folded
 * source has one date; no source is in two splits), and the format-level
 * rule is checked against ICU called directly from here, on whole years
 * chosen to meet the traps (1918/2018 for two-digit years, New Year for the
 * week-based year, days <= 12 for day/month order).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "testutil.h"

#include <unicode/uchar.h>
#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[64];

/* ------------------------------------------------------------ helpers */

/* Full Unicode case folding of UTF-8 (as the generator compares). */
static void fold(const char *text, char *out, size_t size) {
    UChar in16[512], folded[512];
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = 0;
    u_strFromUTF8(in16, 512, &n, text, -1, &err);
    n = u_strFoldCase(folded, 512, in16, n, U_FOLD_CASE_DEFAULT, &err);
    u_strToUTF8(out, (int32_t)size, NULL, folded, n, &err);
    if (U_FAILURE(err)) out[0] = 0;
}

typedef struct keyed {
    char key[512];
    char date[24];
    int group; /* split, or format */
} keyed;

static int compare_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->date, y->date);
}

static int valid_iso_date(const char *s) {
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return 0;
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int last = days[(m - 1 + 12) % 12] + (m == 2 && leap);
    return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= last;
}

/* -------------------------------------------------- the calendar year */

static void test_calendar_year(at_ctx *ctx, const at_dates *dates) {
    char out[64];
    CHECK_OK(ctx,
             at_date_format_pattern(ctx, "en_US", "YYYY-MM-dd", 2024, 12, 30, out, sizeof out));
    CHECK(!strcmp(out, "2025-12-30"),
          "week-based year: 2024-12-30 as 'YYYY' should read 2025, got %s", out);
    CHECK_OK(ctx, at_date_format_pattern(ctx, "en_US", "y-MM-dd", 2024, 12, 30, out, sizeof out));
    CHECK(!strcmp(out, "2024-12-30"), "calendar year: got %s", out);
    CHECK_OK(ctx, at_date_format_pattern(ctx, "en_GB", "d MMM y", 2024, 12, 30, out, sizeof out));
    CHECK(!strcmp(out, "30 Dec 2024"), "the seed's 'd MMM y', calendar year: got %s", out);
    CHECK_STATUS(ctx, at_date_format_pattern(ctx, "en_US", "y", 2023, 2, 29, out, sizeof out),
                 AT_ERR_ARGUMENT);
    /* No format in use reads the week-based year. */
    int week_year = 0;
    for (int i = 0; i < at_dates_format_count(dates); i++) {
        const at_date_format *f = at_dates_format(dates, i);
        int quoted = 0;
        for (const char *p = f->pattern; *p; p++) {
            if (*p == '\'') quoted = !quoted;
            if (!quoted && *p == 'Y' && f->kept) week_year++;
        }
    }
    CHECK(week_year == 0, "%d kept formats use 'Y'", week_year);
}

/* ------------------------------------------------- locales and cases */

static void test_locales_and_case(at_ctx *ctx, at_dates *dates) {
    CHECK(at_dates_default_locale_count() >= 20, "only %d default locales",
          at_dates_default_locale_count());
    static const char *required[] = {"en", "fr", "de", "es", "it", "pt", "nl", "ru",
                                     "pl", "tr", "zh", "ja", "ko", "ar", "hi"};
    for (size_t r = 0; r < sizeof required / sizeof *required; r++) {
        int found = 0;
        for (int i = 0; i < at_dates_default_locale_count(); i++)
            found |= !strncmp(at_dates_default_locale(i), required[r], strlen(required[r]));
        CHECK(found, "default locales lack %s", required[r]);
    }
    CHECK(at_dates_locale_count(dates) >= 20, "only %d locales have a kept format",
          at_dates_locale_count(dates));
    at_rng rng;
    at_rng_seed(&rng, 11);
    enum { N = 20000 };
    int cases[3] = {0}, upper_ok = 1, targets_ok = 1;
    const char *seen_locales[64];
    int n_seen = 0;
    for (int i = 0; i < N; i++) {
        at_date_sample s;
        at_status st = at_dates_sample(ctx, dates, &rng, &s);
        if (st != AT_OK) {
            CHECK_OK(ctx, st);
            return;
        }
        cases[s.case_style]++;
        targets_ok &= valid_iso_date(s.target);
        const char *loc = at_dates_format(dates, s.format)->locale;
        int known = 0;
        for (int k = 0; k < n_seen; k++)
            known |= !strcmp(seen_locales[k], loc);
        if (!known && n_seen < 64) seen_locales[n_seen++] = loc;
        if (s.case_style == AT_CASE_UPPER && !strcmp(loc, "en_GB"))
            for (const char *p = s.source; *p; p++)
                upper_ok &= !(*p >= 'a' && *p <= 'z');
    }
    CHECK(n_seen >= 20, "samples came from only %d locales", n_seen);
    CHECK(targets_ok, "a sample's target is not an ISO date in range");
    CHECK(upper_ok, "an upper-cased English sample has a lowercase letter");
    double up = (double)cases[AT_CASE_UPPER] / N, low = (double)cases[AT_CASE_LOWER] / N,
           keep = (double)cases[AT_CASE_KEEP] / N;
    CHECK(up > 0.23 && up < 0.27 && low > 0.23 && low < 0.27 && keep > 0.48 && keep < 0.52,
          "case mix %.3f upper, %.3f lower, %.3f unchanged; want 0.25/0.25/0.50", up, low, keep);
}

/* ------------------------------------------------ the emitted data set */

static int same_splits(const at_pairs *a, const at_pairs *b) {
    for (int k = 0; k < 3; k++) {
        if (a[k].count != b[k].count) return 0;
        for (size_t i = 0; i < a[k].count; i++)
            if (strcmp(a[k].source[i], b[k].source[i]) || strcmp(a[k].target[i], b[k].target[i]))
                return 0;
    }
    return 1;
}

static void test_determinism(at_ctx *ctx, at_dates *dates) {
    long sizes[3] = {3000, 500, 500};
    at_pairs a[3] = {{0}}, b[3] = {{0}}, c[3] = {{0}};
    CHECK_OK(ctx, at_dates_generate(ctx, dates, 5, sizes, a));
    CHECK_OK(ctx, at_dates_generate(ctx, dates, 5, sizes, b));
    CHECK_OK(ctx, at_dates_generate(ctx, dates, 6, sizes, c));
    CHECK(same_splits(a, b), "the same seed must give the same pairs");
    CHECK(!same_splits(a, c), "another seed should give other pairs");
    /* Byte-identical files, and a TSV round trip. */
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/a.tsv", tmp_dir);
    snprintf(p2, sizeof p2, "%s/b.tsv", tmp_dir);
    CHECK_OK(ctx, at_pairs_write_tsv(ctx, p1, &a[0]));
    CHECK_OK(ctx, at_pairs_write_tsv(ctx, p2, &b[0]));
    size_t n1 = 0, n2 = 0;
    unsigned char *f1 = test_read_file(p1, &n1), *f2 = test_read_file(p2, &n2);
    CHECK(f1 && f2 && n1 == n2 && n1 > 0 && !memcmp(f1, f2, n1), "files differ for the same seed");
    free(f1);
    free(f2);
    at_pairs back = {0};
    CHECK_OK(ctx, at_pairs_read_tsv(ctx, p1, 0, &back));
    at_pairs trio[3] = {back, a[1], a[2]};
    CHECK(same_splits(a, trio), "a written TSV reads back differently");
    at_pairs_clear(&back);
    for (int k = 0; k < 3; k++) {
        at_pairs_clear(&a[k]);
        at_pairs_clear(&b[k]);
        at_pairs_clear(&c[k]);
    }
}

/* Every case-folded source: one date, one split. */
static void test_unambiguous_and_disjoint(at_ctx *ctx, at_dates *dates) {
    long sizes[3] = {20000, 3000, 3000};
    at_pairs splits[3] = {{0}};
    CHECK_OK(ctx, at_dates_generate(ctx, dates, 1, sizes, splits));
    size_t total = splits[0].count + splits[1].count + splits[2].count;
    CHECK(total == 26000 && splits[1].count == 3000, "got %zu pairs, %zu valid", total,
          splits[1].count);
    keyed *all = malloc(total * sizeof *all);
    size_t n = 0;
    int targets_ok = 1;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < splits[k].count; i++, n++) {
            fold(splits[k].source[i], all[n].key, sizeof all[n].key);
            snprintf(all[n].date, sizeof all[n].date, "%s", splits[k].target[i]);
            all[n].group = k;
            targets_ok &= valid_iso_date(splits[k].target[i]);
        }
    qsort(all, n, sizeof *all, compare_keyed);
    int ambiguous = 0, shared = 0, repeated = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(all[i].key, all[i - 1].key)) continue;
        repeated++;
        if (strcmp(all[i].date, all[i - 1].date)) {
            if (ambiguous++ < 3)
                fprintf(stderr, "  '%s' is both %s and %s\n", all[i].key, all[i - 1].date,
                        all[i].date);
        }
        shared += all[i].group != all[i - 1].group;
    }
    CHECK(ambiguous == 0, "%d case-folded sources map to two dates", ambiguous);
    CHECK(shared == 0, "%d sources are in two splits", shared);
    CHECK(repeated == 0, "%d sources repeat", repeated);
    CHECK(targets_ok, "a target is not an ISO date from 1900 to 2099");
    free(all);
    for (int k = 0; k < 3; k++)
        at_pairs_clear(&splits[k]);
}

/* --------------------------------------------- the format-level rule */

/* Years that meet the traps: centuries apart (two-digit years), leap
 * years, both ends of the range. Every day of each. */
static const int trap_years[] = {1900, 1918, 1999, 2000, 2018, 2024, 2099};

static int is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

/* Days from 1970-01-01 to January 1 of a year (negative before 1970). */
static long days_before_year(int year) {
    long days = 0;
    for (int y = 1970; y < year; y++)
        days += 365 + is_leap(y);
    for (int y = year; y < 1970; y++)
        days -= 365 + is_leap(y);
    return days;
}

static int format_all(const at_dates *dates, int f, keyed *out) {
    const at_date_format *info = at_dates_format(dates, f);
    char locale[160], base[128];
    UErrorCode err = U_ZERO_ERROR;
    uloc_getBaseName(info->locale, base, sizeof base, &err);
    snprintf(locale, sizeof locale, "%s@calendar=gregorian", base);
    UChar pattern[128];
    u_strFromUTF8(pattern, 128, NULL, info->pattern, -1, &err);
    UDateFormat *fmt = udat_open(UDAT_PATTERN, UDAT_PATTERN, locale, u"UTC", -1, pattern, -1, &err);
    int n = 0;
    for (size_t y = 0; y < sizeof trap_years / sizeof *trap_years && U_SUCCESS(err); y++)
        for (int day = 0; day < 366; day++) {
            int year = trap_years[y];
            if (day == 365 && !is_leap(year)) break;
            long days = days_before_year(year) + day;
            UChar text[256], cased[256];
            int32_t len = udat_format(fmt, (double)days * 86400000.0, text, 256, NULL, &err);
            for (int v = 0; v < 3 && U_SUCCESS(err); v++) {
                int32_t m = v == 0   ? u_strToUpper(cased, 256, text, len, base, &err)
                            : v == 1 ? u_strToLower(cased, 256, text, len, base, &err)
                                     : (memcpy(cased, text, sizeof text), len);
                char utf8[512];
                u_strToUTF8(utf8, sizeof utf8, NULL, cased, m, &err);
                fold(utf8, out[n].key, sizeof out[n].key);
                snprintf(out[n].date, sizeof out[n].date, "%d+%03d", year, day);
                out[n++].group = f;
            }
        }
    udat_close(fmt);
    return U_SUCCESS(err) ? n : -1;
}

static void test_format_rule(at_ctx *ctx) {
    static const char *locales[] = {"en_US", "en_GB", "es", "de"};
    static const char *patterns[] = {"d/M/y", "dd.MM.yy", "d MMM", "YYYY-MM-dd", "d MMMM y"};
    at_dates_options opts = {
        .locales = locales, .locale_count = 4, .patterns = patterns, .pattern_count = 5};
    at_dates *dates;
    CHECK_OK(ctx, at_dates_create(ctx, &dates, &opts));
    if (!dates) return;
    int n = at_dates_format_count(dates);
    CHECK(n == 4 * 9, "%d formats, want 36", n);
    /* The verdicts we expect by reason. */
    int self = 0, week = 0, collide = 0, us_short_out = 0;
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        if (!strcmp(f->name, "dd.MM.yy") || !strcmp(f->name, "d MMM"))
            self += !f->kept && !strcmp(f->reason, "ambiguous by itself");
        if (!strcmp(f->name, "YYYY-MM-dd"))
            week += !f->kept && strstr(f->reason, "week-based") != NULL;
        if (!f->kept && strstr(f->reason, "collides")) collide++;
        if (!strcmp(f->locale, "en_US") && !strcmp(f->name, "short"))
            us_short_out = !f->kept && strstr(f->reason, "collides") != NULL;
        CHECK(!strstr(f->pattern, "yy") || strcmp(f->name, "short") != 0,
              "%s short keeps a two-digit year: %s", f->locale, f->pattern);
    }
    CHECK(self == 8,
          "two-digit-year and yearless patterns: %d of 8 dropped as ambiguous by themselves", self);
    CHECK(week == 4, "week-based-year pattern: %d of 4 refused", week);
    CHECK(us_short_out && collide >= 1, "M/d/y should collide with d/M/y (en_US short out: %d)",
          us_short_out);

    /* Independently, with ICU: the kept formats never meet, and every
     * format left out for a collision really collides. */
    keyed *all = malloc((size_t)n * 366 * 7 * 3 * sizeof *all);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int got = format_all(dates, i, all + total);
        CHECK(got > 0, "ICU failed on format %d", i);
        if (got > 0) total += (size_t)got;
    }
    qsort(all, total, sizeof *all, compare_keyed);
    int kept_clash = 0;
    int *clashes = calloc((size_t)n, sizeof *clashes);
    for (size_t i = 0; i < total;) {
        size_t end = i;
        while (end < total && !strcmp(all[end].key, all[i].key))
            end++;
        for (size_t a = i; a < end; a++)
            for (size_t b = i; b < end; b++) {
                if (!strcmp(all[a].date, all[b].date)) continue;
                int fa = all[a].group, fb = all[b].group;
                clashes[fa] = 1;
                if (at_dates_format(dates, fa)->kept && at_dates_format(dates, fb)->kept &&
                    kept_clash++ < 3)
                    fprintf(stderr, "  kept formats clash on '%s'\n", all[a].key);
            }
        i = end;
    }
    CHECK(kept_clash == 0, "%d clashes between kept formats", kept_clash);
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        if (!f->kept && !strstr(f->reason, "week-based"))
            CHECK(clashes[i], "%s %s was left out (%s) but clashes with nothing", f->locale,
                  f->name, f->reason);
    }
    free(clashes);
    free(all);
    at_dates_free(dates);
    at_dates *bad = NULL;
    static const char *unknown[] = {"xx_YY"};
    at_dates_options bad_opts = {.locales = unknown, .locale_count = 1};
    CHECK_STATUS(ctx, at_dates_create(ctx, &bad, &bad_opts), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "xx_YY") != NULL, "message should name the locale: %s",
          at_ctx_error(ctx));
}

/* ---------------------------------------------------------- vocabulary */

static void test_vocab(at_ctx *ctx) {
    static const char *texts[] = {"Saturday 9 May 2018", "2018年5月9日星期六", "السبت، ٩ مايو ٢٠١٨",
                                  "शनिवार, 9 मई 2018", "2018-05-09"};
    enum { N = sizeof texts / sizeof *texts };
    at_vocab *v = NULL, *back = NULL;
    CHECK_OK(ctx, at_vocab_build(ctx, &v, N, texts));
    if (!v) return;
    CHECK(AT_TOKEN_PAD == 0 && AT_TOKEN_UNK != AT_TOKEN_PAD && AT_TOKEN_START != AT_TOKEN_END,
          "special tokens must be distinct");
    CHECK(at_vocab_id(v, 'S') >= AT_TOKEN_FIRST_CHAR, "a seen character has a character id");
    CHECK(at_vocab_id(v, 'Z') == AT_TOKEN_UNK, "an unseen character is unk");
    for (int i = 0; i < N; i++) {
        int32_t ids[64];
        int n = 0;
        char out[256];
        CHECK_OK(ctx, at_vocab_encode(ctx, v, texts[i], ids, 64, &n));
        CHECK(n == (int)at_utf8_length(texts[i]), "one id per code point in '%s'", texts[i]);
        int no_unk = 1;
        for (int k = 0; k < n; k++)
            no_unk &= ids[k] >= AT_TOKEN_FIRST_CHAR;
        CHECK(no_unk, "unk in a text the vocabulary was built from");
        CHECK_OK(ctx, at_vocab_decode(ctx, v, ids, n, out, sizeof out));
        CHECK(!strcmp(out, texts[i]), "round trip: '%s' -> '%s'", texts[i], out);
    }
    int32_t ids[8] = {AT_TOKEN_START,      at_vocab_id(v, '9'), AT_TOKEN_UNK,       AT_TOKEN_PAD,
                      at_vocab_id(v, 'M'), AT_TOKEN_END,        at_vocab_id(v, 'a')};
    char out[64];
    CHECK_OK(ctx, at_vocab_decode(ctx, v, ids, 7, out, sizeof out));
    CHECK(!strcmp(out, "9\xEF\xBF\xBDM"),
          "decode skips start/pad, writes unk as U+FFFD, stops at end: '%s'", out);
    ids[0] = at_vocab_size(v);
    CHECK_STATUS(ctx, at_vocab_decode(ctx, v, ids, 1, out, sizeof out), AT_ERR_ARGUMENT);
    int n = 0;
    CHECK_STATUS(ctx, at_vocab_encode(ctx, v, "May", ids, 2, &n), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "3 characters") != NULL, "message: %s", at_ctx_error(ctx));
    CHECK_OK(ctx, at_vocab_encode(ctx, v, "Zoë", ids, 8, &n));
    CHECK(n == 3 && ids[0] == AT_TOKEN_UNK && ids[2] == AT_TOKEN_UNK, "unseen characters are unk");

    /* Invalid UTF-8: truncated, stray continuation, overlong, surrogate, too big. */
    static const char *bad[] = {"ab\xC3", "ab\x80z", "ab\xC0\xAF", "ab\xED\xA0\x80",
                                "ab\xF4\x90\x80\x80"};
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(ctx, at_vocab_encode(ctx, v, bad[i], ids, 8, &n), AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "invalid UTF-8 at byte 2") != NULL, "case %d: %s", i,
              at_ctx_error(ctx));
    }
    const char *bad_text[] = {"ok", "x\xFFy"};
    at_vocab *none = NULL;
    CHECK_STATUS(ctx, at_vocab_build(ctx, &none, 2, bad_text), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "text 1") && strstr(at_ctx_error(ctx), "byte 1"), "message: %s",
          at_ctx_error(ctx));

    /* Serialisation. */
    char *text = NULL;
    CHECK_OK(ctx, at_vocab_to_string(ctx, v, &text));
    CHECK_OK(ctx, at_vocab_from_string(ctx, &back, text));
    int same = back && at_vocab_size(back) == at_vocab_size(v);
    for (int32_t id = 0; same && id < at_vocab_size(v); id++)
        same = at_vocab_code_point(v, id) == at_vocab_code_point(back, id);
    CHECK(same, "vocabulary serialisation round trip");
    int printable = 1;
    for (const char *p = text; p && *p; p++)
        printable &= *p >= 32 && *p < 127;
    CHECK(printable, "the serialised vocabulary should be printable ASCII");
    static const char *corrupt[] = {"",
                                    "attend-vocab 2 1 41",
                                    "attend-vocab 1 2 41",
                                    "attend-vocab 1 2 42 41",
                                    "attend-vocab 1 1 4g",
                                    "attend-vocab 1 1 d800",
                                    "attend-vocab 1 1 41 ",
                                    "attend-vocab 1 1 110000",
                                    "attend-vocab 1 2 41 41",
                                    "attend-vocab 1 ffffffff 41"};
    for (size_t i = 0; i < sizeof corrupt / sizeof *corrupt; i++) {
        at_vocab *c = NULL;
        CHECK_STATUS(ctx, at_vocab_from_string(ctx, &c, corrupt[i]), AT_ERR_FORMAT);
        CHECK(c == NULL, "no vocabulary from a corrupt string");
    }
    free(text);
    at_vocab_free(back);
    at_vocab_free(v);
}

/* ------------------------------------------------------------------ TSV */

static void expect_tsv_error(at_ctx *ctx, const char *bytes, int max_chars, const char *where,
                             const char *what) {
    char path[128];
    snprintf(path, sizeof path, "%s/bad.tsv", tmp_dir);
    test_write_file(path, bytes, strlen(bytes));
    at_pairs pairs = {0};
    CHECK_STATUS(ctx, at_pairs_read_tsv(ctx, path, max_chars, &pairs), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), where) && strstr(at_ctx_error(ctx), what),
          "want '%s' and '%s' in: %s", where, what, at_ctx_error(ctx));
    CHECK(pairs.count == 0, "a failed read leaves no pairs");
}

static void test_tsv(at_ctx *ctx) {
    char path[128];
    snprintf(path, sizeof path, "%s/good.tsv", tmp_dir);
    const char good[] = "\xEF\xBB\xBF"
                        "9 May 2018\t2018-05-09\r\n\r\n2018年5月9日\t2018-05-09\nlast\tline";
    test_write_file(path, good, sizeof good - 1);
    at_pairs pairs = {0};
    CHECK_OK(ctx, at_pairs_read_tsv(ctx, path, 0, &pairs));
    CHECK(pairs.count == 3, "BOM, CRLF, a blank line, no final newline: %zu pairs", pairs.count);
    if (pairs.count == 3)
        CHECK(!strcmp(pairs.source[0], "9 May 2018") && !strcmp(pairs.target[0], "2018-05-09") &&
                  !strcmp(pairs.source[1], "2018年5月9日") && !strcmp(pairs.target[2], "line"),
              "fields read wrongly");
    at_pairs_clear(&pairs);
    expect_tsv_error(ctx, "a\tb\nc\td\nok\tbad\xC3(\n", 0, ":3:", "UTF-8");
    expect_tsv_error(ctx, "a\tb\nno tab here\n", 0, ":2:", "no tab");
    expect_tsv_error(ctx, "a\tb\n\tempty source\n", 0, ":2:", "source is empty");
    expect_tsv_error(ctx, "a\t\n", 0, ":1:", "target is empty");
    expect_tsv_error(ctx, "a\tb\tc\n", 0, ":1:", "more than two fields");
    expect_tsv_error(ctx, "a\tb\nabcdef\tb\n", 5, ":2:", "more than the limit 5");
    expect_tsv_error(ctx, "a\tb\n\n\nx\t\xE5\xB9\xB4\xE5\xB9\xB4\xE5\xB9\xB4\n", 2,
                     ":4:", "3 characters");
    snprintf(path, sizeof path, "%s/missing.tsv", tmp_dir);
    CHECK_STATUS(ctx, at_pairs_read_tsv(ctx, path, 0, &pairs), AT_ERR_IO);
    CHECK(strstr(at_ctx_error(ctx), "missing.tsv") != NULL, "message names the file: %s",
          at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_pairs_add(ctx, &pairs, "has\ttab", "x"), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_pairs_add(ctx, &pairs, "ok", ""), AT_ERR_ARGUMENT);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/attend-dates-XXXXXX");
    if (!mkdtemp(tmp_dir)) return fprintf(stderr, "cannot make a temporary directory\n"), 1;
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    test_vocab(ctx);
    test_tsv(ctx);
    test_format_rule(ctx);
    at_dates *dates = NULL;
    CHECK_OK(ctx, at_dates_create(ctx, &dates, NULL));
    if (dates) {
        test_calendar_year(ctx, dates);
        test_locales_and_case(ctx, dates);
        test_determinism(ctx, dates);
        test_unambiguous_and_disjoint(ctx, dates);
        at_dates_free(dates);
    }
    at_ctx_free(ctx);
    test_remove_tree(tmp_dir);
    return test_finish("dates");
}
