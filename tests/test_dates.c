/*
 * test_dates.c - the date data set, the vocabulary and the TSV reader.
 *
 * The date checks do not trust the generator's own reasoning: the emitted
 * files are re-read and checked with plain sorting (every case-folded
 * source has one date; no source is in two splits), and the format-level
 * rule is checked against ICU called directly from here, on whole years
 * chosen to meet the traps (1718/1918/2018 for two-digit years, New Year
 * for the week-based year, days <= 12 for day/month order, both ends of
 * the range). The exact conflict graph of src/data/ambiguity.c is compared
 * edge for edge with a brute force that writes every string of every date
 * from 1600 to 2399, on formats chosen to take each of its paths.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, strncasecmp */
#include "testutil.h"

#include "../src/data/data.h"

#include <unicode/uchar.h>
#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    return y >= AT_DATES_FIRST_YEAR && y <= AT_DATES_LAST_YEAR && m >= 1 && m <= 12 && d >= 1 &&
           d <= last;
}

/* Years that meet the traps: centuries apart (two-digit years), leap
 * years, both ends of the range. Every day of each. */
static const int trap_years[] = {1600, 1718, 1918, 2000, 2018, 2024, 2399};

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

/* ------------------------------------------- the calendar in history */

static const char *const weekday_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                             "Friday", "Saturday", "Sunday"};

/* Monday = 0, from this file's own day count. */
static int weekday_of(int year, int month, int day) {
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    long days = days_before_year(year) + before[month - 1] + day - 1 + (month > 2 && is_leap(year));
    return (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
}

/* Known weekdays, and the Gregorian calendar before ICU's default switch
 * from the Julian one (1582-10-15): 1582-10-04 is a Monday in the
 * proleptic Gregorian calendar, the Julian 4 October a Thursday. */
static void test_historic_calendar(at_ctx *ctx) {
    static const struct {
        int year, month, day;
        const char *want;
    } known[] = {
        {1600, 1, 1, "Saturday 1600-01-01"},  {1700, 3, 1, "Monday 1700-03-01"},
        {1800, 1, 1, "Wednesday 1800-01-01"}, {1900, 1, 1, "Monday 1900-01-01"},
        {2399, 12, 31, "Friday 2399-12-31"},  {2400, 1, 1, "Saturday 2400-01-01"},
        {1582, 10, 15, "Friday 1582-10-15"},  {1582, 10, 4, "Monday 1582-10-04"},
        {1500, 3, 1, "Thursday 1500-03-01"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        char out[64] = "";
        CHECK_OK(ctx, at_date_format_pattern(ctx, "en_US", "EEEE y-MM-dd", known[i].year,
                                             known[i].month, known[i].day, out, sizeof out));
        CHECK(!strcmp(out, known[i].want), "want %s, ICU wrote %s", known[i].want, out);
        CHECK(!strncmp(
                  known[i].want,
                  weekday_names[weekday_of(known[i].year, known[i].month, known[i].day)],
                  strlen(weekday_names[weekday_of(known[i].year, known[i].month, known[i].day)])),
              "this test's own weekday of %s disagrees", known[i].want);
    }
    CHECK(AT_DATES_FIRST_YEAR <= 1600 && AT_DATES_LAST_YEAR >= 2399 && AT_DATES_FIRST_YEAR > 1582,
          "the range is %d..%d; want at least 1600..2399, after 1582", AT_DATES_FIRST_YEAR,
          AT_DATES_LAST_YEAR);
    CHECK(DATE_DAYS ==
              days_before_year(AT_DATES_LAST_YEAR + 1) - days_before_year(AT_DATES_FIRST_YEAR),
          "DATE_DAYS is %d", (int)DATE_DAYS);
}

/* --------------------------------------------- the bare and spaced forms */

static const at_date_format *find_format(const at_dates *dates, const char *locale,
                                         const char *name) {
    for (int i = 0; i < at_dates_format_count(dates); i++) {
        const at_date_format *f = at_dates_format(dates, i);
        if (!strcmp(f->locale, locale) && !strcmp(f->name, name)) return f;
    }
    return NULL;
}

static void test_variants(at_ctx *ctx, const at_dates *dates) {
    static const struct {
        const char *locale, *name, *pattern, *example; /* 2018-05-09 */
    } want[] = {
        {"en_US", "full bare", "EEEE MMMM d y", "Wednesday May 9 2018"},
        {"en_US", "medium bare", "MMM d y", "May 9 2018"},
        {"en_US", "full spaced", "EEEE,  MMMM  d,  y", "Wednesday,  May  9,  2018"},
        {"en_GB", "long spaced", "d  MMMM  y", "9  May  2018"},
        {"en_GB", "y-MM-dd spaced", "y - MM - dd", "2018 - 05 - 09"},
        {"en_GB", "short bare", "dd MM y", "09 05 2018"},
        {"de", "d/M/y spaced", "d / M / y", "9 / 5 / 2018"},
        {"fr", "short bare", "dd MM y", "09 05 2018"},
        {"ja", "medium spaced", "y / MM / dd", "2018 / 05 / 09"},
        {"ru", "yMMdd", "yMMdd", "20180509"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const at_date_format *f = find_format(dates, want[i].locale, want[i].name);
        CHECK(f && !strcmp(f->pattern, want[i].pattern) && f->kept,
              "%s '%s': want kept pattern '%s', got %s%s (%s)", want[i].locale, want[i].name,
              want[i].pattern, f ? f->pattern : "none", f && f->kept ? "" : ", left out",
              f ? f->reason : "");
        char out[AT_DATE_MAX_BYTES] = "";
        if (f)
            CHECK_OK(ctx, at_date_format_pattern(ctx, f->locale, f->pattern, 2018, 5, 9, out,
                                                 sizeof out));
        CHECK(!f || !strcmp(out, want[i].example), "%s %s wrote '%s', want '%s'", want[i].locale,
              want[i].name, out, want[i].example);
    }
    /* Every default locale keeps a bare and a spaced form; English ones
     * several of each; no variant of a non-English locale has words. */
    for (int l = 0; l < at_dates_default_locale_count(); l++) {
        const char *locale = at_dates_default_locale(l);
        int bare = 0, spaced = 0, wordy = 0;
        for (int i = 0; i < at_dates_format_count(dates); i++) {
            const at_date_format *f = at_dates_format(dates, i);
            if (strcmp(f->locale, locale)) continue;
            const char *space = strrchr(f->name, ' ');
            int is_bare = space && !strcmp(space, " bare"),
                is_spaced = space && !strcmp(space, " spaced");
            bare += f->kept && is_bare;
            spaced += f->kept && is_spaced;
            wordy +=
                (is_bare || is_spaced) && (strstr(f->pattern, "MMM") || strchr(f->pattern, 'E'));
        }
        int english = !strncmp(locale, "en", 2);
        CHECK(bare >= (english ? 3 : 1) && spaced >= (english ? 10 : 2),
              "%s keeps %d bare and %d spaced forms", locale, bare, spaced);
        CHECK(english || wordy == 0, "%s has %d variants with words", locale, wordy);
    }
}

/* Two generators from the same options decide the same, format by format. */
static void test_same_verdicts(at_ctx *ctx, const at_dates *dates) {
    at_dates *again = NULL;
    CHECK_OK(ctx, at_dates_create(ctx, &again, NULL));
    if (!again) return;
    int n = at_dates_format_count(dates), same = n == at_dates_format_count(again);
    for (int i = 0; i < n && same; i++) {
        const at_date_format *a = at_dates_format(dates, i), *b = at_dates_format(again, i);
        same = !strcmp(a->locale, b->locale) && !strcmp(a->name, b->name) &&
               !strcmp(a->pattern, b->pattern) && a->kept == b->kept &&
               !strcmp(a->reason, b->reason);
    }
    CHECK(same, "two generators with the default options disagree on the formats");
    at_dates_free(again);
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
    int first_year = 9999, last_year = 0, weekdays_checked = 0, weekdays_wrong = 0;
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
        int y = 0, m = 0, d = 0;
        sscanf(s.target, "%d-%d-%d", &y, &m, &d);
        first_year = y < first_year ? y : first_year;
        last_year = y > last_year ? y : last_year;
        const at_date_format *f = at_dates_format(dates, s.format);
        if (!strncmp(f->locale, "en", 2) && !strncmp(f->pattern, "EEEE", 4) && m) {
            const char *name = weekday_names[weekday_of(y, m, d)];
            weekdays_checked++;
            if (strncasecmp(s.source, name, strlen(name)) && weekdays_wrong++ < 3)
                fprintf(stderr, "  '%s' is %s, a %s\n", s.source, s.target, name);
        }
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
    CHECK(first_year < 1700 && last_year > 2300, "sampled years span only %d..%d", first_year,
          last_year);
    CHECK(weekdays_checked > 100 && weekdays_wrong == 0,
          "%d of %d English samples name the wrong weekday", weekdays_wrong, weekdays_checked);
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
    CHECK(targets_ok, "a target is not an ISO date from 1600 to 2399");
    free(all);
    for (int k = 0; k < 3; k++)
        at_pairs_clear(&splits[k]);
}

/* --------------------------------------------- the format-level rule */

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
    /* 4 styles and 5 patterns per locale, then variants of the styles only
     * (a caller's patterns are taken as written). */
    int base = 0, style_variants = 0;
    for (int i = 0; i < n; i++) {
        const at_date_format *f = at_dates_format(dates, i);
        const char *space = strrchr(f->name, ' ');
        int variant = space && (!strcmp(space, " bare") || !strcmp(space, " spaced"));
        base += !variant && i == base;
        style_variants +=
            variant && (!strncmp(f->name, "full ", 5) || !strncmp(f->name, "long ", 5) ||
                        !strncmp(f->name, "medium ", 7) || !strncmp(f->name, "short ", 6));
    }
    CHECK(base == 4 * 9 && style_variants == n - base && style_variants >= 8,
          "%d formats: %d base (want 36, listed first), %d variants of styles", n, base,
          style_variants);
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

/* ------------------------------------------ the exact conflict graph */

/* Formats that take every path of ambiguity.c: aligned groups with one
 * year table (d/M/y against M/d/y), digit systems side by side (Latin,
 * Arabic-Indic, Extended Arabic-Indic, CJK numerals that are not digits),
 * a two-digit year, no year, two year fields, compact forms whose years
 * lie at different places (dMMy against yMMd meet: "2012011" is
 * 2 January 2011 and 1 January 2012), weekdays, and Turkish case. */
static const struct {
    const char *locale, *pattern;
} graph_formats[] = {
    {"en_US", "d/M/y"},
    {"en_US", "M/d/y"},
    {"ar", "d/M/y"},
    {"en_US", "yMMdd"},
    {"en_US", "ddMMy"},
    {"en_US", "dMMy"},
    {"en_US", "yMMd"},
    {"en_US", "yy-MM-dd"},
    {"en_US", "d MMMM"},
    {"en_US", "y-MM-dd (y)"},
    {"en_US", "y-MM-dd"},
    {"tr", "EEEE d MMMM y"},
    {"tr", "d MMMM y"},
    {"en_US", "EEE d MMM y"},
    {"zh@numbers=hanidec", "y年M月d日"},
    {"en_US", "MMMM y"},
    {"fa", "y"},
    {"ar", "y"},
};
enum { GRAPH_FORMATS = sizeof graph_formats / sizeof *graph_formats };

typedef struct brute_key {
    uint64_t hash;
    uint32_t date;
    uint16_t format, variant;
} brute_key;

/* A key whose hash repeats, with its string. */
typedef struct brute_text {
    const char *text;
    uint32_t date;
    int format;
} brute_text;

static int compare_brute(const void *a, const void *b) {
    uint64_t x = ((const brute_key *)a)->hash, y = ((const brute_key *)b)->hash;
    return (x > y) - (x < y);
}

static int compare_text(const void *a, const void *b) {
    return strcmp(((const brute_text *)a)->text, ((const brute_text *)b)->text);
}

/* Keys with one string: formats f and g (f == g too) meet if two of the
 * keys, one of each, have different dates. */
static void same_string_edges(const brute_text *k, size_t n, int formats, uint8_t *edges) {
    enum { MAX = 64 };
    long first[MAX];
    int several[MAX];
    for (int f = 0; f < formats; f++)
        first[f] = -1, several[f] = 0;
    for (size_t i = 0; i < n; i++) {
        int f = k[i].format;
        if (first[f] < 0)
            first[f] = (long)k[i].date;
        else if (first[f] != (long)k[i].date)
            several[f] = 1;
    }
    for (int f = 0; f < formats; f++)
        for (int g = f; g < formats && first[f] >= 0; g++) {
            if (first[g] < 0) continue;
            int meet = f == g ? several[f] : several[f] || several[g] || first[f] != first[g];
            if (meet) edges[f * formats + g] = edges[g * formats + f] = 1;
        }
}

/* The keys of one repeated hash, by their strings. */
static void same_hash_edges(const date_template *t, int n, const date_fields *fields,
                            const brute_key *keys, size_t count, size_t longest, uint8_t *edges) {
    char *texts = malloc(count * (longest + 1));
    brute_text *k = malloc(count * sizeof *k);
    for (size_t x = 0; x < count; x++) {
        char *text = texts + x * (longest + 1);
        template_key(&t[keys[x].format], keys[x].variant, fields->value[keys[x].date], text);
        k[x] = (brute_text){text, keys[x].date, keys[x].format};
    }
    qsort(k, count, sizeof *k, compare_text);
    for (size_t x = 0; x < count;) {
        size_t same = x + 1;
        while (same < count && !strcmp(k[same].text, k[x].text))
            same++;
        same_string_edges(k + x, same - x, n, edges);
        x = same;
    }
    free(k);
    free(texts);
}

/* Every string of every template on every date, sorted by hash, then the
 * keys of a repeated hash by their strings: equal strings of two dates are
 * an edge. */
static void brute_graph(const date_template *t, int n, uint8_t *edges) {
    date_fields *fields = malloc(sizeof *fields);
    date_fields_fill(fields);
    size_t count = 0, longest = 0;
    for (int u = 0; u < n; u++) {
        count += (size_t)t[u].n_variants * DATE_DAYS;
        longest = t[u].max_bytes > longest ? t[u].max_bytes : longest;
    }
    brute_key *keys = malloc(count * sizeof *keys);
    size_t at = 0;
    for (int u = 0; u < n; u++)
        for (int k = 0; k < t[u].n_variants; k++)
            for (uint32_t d = 0; d < DATE_DAYS; d++)
                keys[at++] = (brute_key){template_hash(&t[u], t[u].variants[k], fields->value[d]),
                                         d, (uint16_t)u, (uint16_t)t[u].variants[k]};
    qsort(keys, count, sizeof *keys, compare_brute);
    memset(edges, 0, (size_t)n * (size_t)n);
    for (size_t i = 0; i < count;) {
        size_t end = i + 1;
        while (end < count && keys[end].hash == keys[i].hash)
            end++;
        if (end - i > 1) same_hash_edges(t, n, fields, keys + i, end - i, longest, edges);
        i = end;
    }
    free(keys);
    free(fields);
}

static int build_template(at_ctx *ctx, const char *locale, const char *pattern, year_cache *cache,
                          date_template *out) {
    char icu[160], casing[160];
    UErrorCode err = U_ZERO_ERROR;
    snprintf(icu, sizeof icu, "%s", locale);
    uloc_getBaseName(icu, casing, sizeof casing, &err);
    uloc_setKeywordValue("calendar", "gregorian", icu, sizeof icu, &err);
    UChar pattern16[128];
    u_strFromUTF8(pattern16, 128, NULL, pattern, -1, &err);
    UDateFormat *f = udat_open(UDAT_PATTERN, UDAT_PATTERN, icu, u"UTC", -1, pattern16, -1, &err);
    const char *unusable = NULL;
    at_status s = U_SUCCESS(err) ? make_proleptic(ctx, f) : AT_ERR_STATE;
    if (s == AT_OK) s = template_build(ctx, f, icu, casing, cache, out, &unusable);
    udat_close(f);
    CHECK(s == AT_OK && !unusable, "%s '%s': %s %s", locale, pattern, at_ctx_error(ctx),
          unusable ? unusable : "");
    return s == AT_OK && !unusable;
}

static int graph_index(const char *locale, const char *pattern) {
    for (int i = 0; i < GRAPH_FORMATS; i++)
        if (!strcmp(graph_formats[i].locale, locale) && !strcmp(graph_formats[i].pattern, pattern))
            return i;
    return -1;
}

static void test_graph_exact(at_ctx *ctx) {
    enum { N = GRAPH_FORMATS };
    date_template cached[N], plain[N];
    const date_template *list[N];
    year_cache *cache = NULL;
    CHECK_OK(ctx, year_cache_create(ctx, &cache));
    int built = 1;
    for (int i = 0; i < N; i++) {
        built &= build_template(ctx, graph_formats[i].locale, graph_formats[i].pattern, cache,
                                &cached[i]);
        built &=
            build_template(ctx, graph_formats[i].locale, graph_formats[i].pattern, NULL, &plain[i]);
        list[i] = &cached[i];
        CHECK(template_equal(&cached[i], &plain[i]),
              "%s '%s': the template with a shared year table differs from its own",
              graph_formats[i].locale, graph_formats[i].pattern);
    }
    if (built) {
        uint8_t fast[N * N], slow[N * N];
        CHECK_OK(ctx, ambiguity_graph(ctx, N, list, fast, NULL, NULL));
        brute_graph(cached, N, slow);
        int wrong = 0, edges = 0;
        for (int a = 0; a < N; a++)
            for (int b = a; b < N; b++) {
                edges += slow[a * N + b];
                if (fast[a * N + b] != slow[a * N + b] && wrong++ < 5)
                    fprintf(stderr, "  %s '%s' and %s '%s': exact check %d, brute force %d\n",
                            graph_formats[a].locale, graph_formats[a].pattern,
                            graph_formats[b].locale, graph_formats[b].pattern, fast[a * N + b],
                            slow[a * N + b]);
            }
        CHECK(wrong == 0, "the conflict graph differs from the brute force in %d pairs", wrong);
        /* The set meets what it was chosen for. */
        static const char *const meet[][4] = {
            {"en_US", "d/M/y", "en_US", "M/d/y"},
            {"en_US", "dMMy", "en_US", "yMMd"},
            {"en_US", "yy-MM-dd", "en_US", "yy-MM-dd"},
            {"en_US", "d MMMM", "en_US", "d MMMM"},
            {"fa", "y", "fa", "y"},
            {"en_US", "MMMM y", "en_US", "MMMM y"},
        };
        static const char *const apart[][4] = {
            {"en_US", "yMMdd", "en_US", "ddMMy"},
            {"en_US", "d/M/y", "ar", "d/M/y"},
            {"tr", "EEEE d MMMM y", "tr", "EEEE d MMMM y"},
            {"en_US", "y-MM-dd (y)", "en_US", "y-MM-dd"},
            {"en_US", "dMMy", "en_US", "dMMy"},
            {"fa", "y", "ar", "y"},
        };
        for (size_t k = 0; k < sizeof meet / sizeof *meet; k++) {
            int a = graph_index(meet[k][0], meet[k][1]), b = graph_index(meet[k][2], meet[k][3]);
            CHECK(a >= 0 && b >= 0 && slow[a * N + b], "'%s' should meet '%s'", meet[k][1],
                  meet[k][3]);
        }
        for (size_t k = 0; k < sizeof apart / sizeof *apart; k++) {
            int a = graph_index(apart[k][0], apart[k][1]),
                b = graph_index(apart[k][2], apart[k][3]);
            CHECK(a >= 0 && b >= 0 && !slow[a * N + b], "'%s' should not meet '%s'", apart[k][1],
                  apart[k][3]);
        }
        CHECK(edges >= 6, "only %d edges", edges);
    }
    for (int i = 0; i < N; i++) {
        template_free(&cached[i]);
        template_free(&plain[i]);
    }
    year_cache_free(cache);
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
    /* A source that starts with U+FEFF would be written first in a TSV and
     * read back without it (taken for a byte order mark): refused, in the
     * list and on a later line of a file alike. */
    CHECK_STATUS(ctx, at_pairs_add(ctx, &pairs, "\xEF\xBB\xBFx", "y"), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "U+FEFF") != NULL, "message names U+FEFF: %s",
          at_ctx_error(ctx));
    CHECK(pairs.count == 0, "the refused pair is not added");
    expect_tsv_error(ctx, "a\tb\n\xEF\xBB\xBFx\ty\n", 0, ":2:", "U+FEFF");
    CHECK_OK(ctx, at_pairs_add(ctx, &pairs, "x\xEF\xBB\xBF", "\xEF\xBB\xBFy"));
    at_pairs_clear(&pairs);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/attend-dates-XXXXXX");
    if (!mkdtemp(tmp_dir)) return fprintf(stderr, "cannot make a temporary directory\n"), 1;
    at_ctx *ctx;
    CHECK_OK(NULL, at_ctx_create(&ctx, NULL));
    test_vocab(ctx);
    test_tsv(ctx);
    test_historic_calendar(ctx);
    test_graph_exact(ctx);
    test_format_rule(ctx);
    at_dates *dates = NULL;
    CHECK_OK(ctx, at_dates_create(ctx, &dates, NULL));
    if (dates) {
        test_calendar_year(ctx, dates);
        test_variants(ctx, dates);
        test_same_verdicts(ctx, dates);
        test_locales_and_case(ctx, dates);
        test_determinism(ctx, dates);
        test_unambiguous_and_disjoint(ctx, dates);
        at_dates_free(dates);
    }
    at_ctx_free(ctx);
    test_remove_tree(tmp_dir);
    return test_finish("dates");
}
