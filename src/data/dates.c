/*
 * dates.c - the date data set: human-written dates paired with ISO dates.
 *
 * The seed's data, rebuilt on ICU and with its flaws fixed. Dates run from
 * 1600-01-01 to 2399-12-31 (AT_DATES_FIRST_YEAR .. AT_DATES_LAST_YEAR): the
 * original article's own probes reach into the 19th century. For each
 * locale, the formats are the four CLDR styles (full, long, medium and
 * short), a list of patterns in the manner of the seed's, and two variants
 * of some of them as people also write dates:
 *   bare    the punctuation between fields becomes one space
 *           ("Saturday May 9 2018", "09 05 2018"),
 *   spaced  spaces doubled and bare separators set off by spaces
 *           ("9  May  2018", "2018 - 05 - 09").
 * Variants are ICU patterns derived from the styles and the default
 * patterns (a caller's own patterns are taken as written): of every format
 * in English locales, and of the numeric formats (fields y, M, d only) in
 * every locale. They go through the same exhaustive check as the rest,
 * which decides which survive. Formats are listed in PRIORITY order -
 * every locale's own styles first, then the patterns, then the bare and
 * then the spaced variants, each in locale order - which decides ties when
 * formats must be left out.
 *
 * Decisions, and why:
 *  - The calendar year 'y', never the week-based year 'Y' that the seed
 *    used ('d MMM YYY'): with 'Y', 2024-12-30 is written "30 Dec 2025".
 *  - Two-digit years ('yy', as in many short styles) name the century only
 *    by convention, so "09.05.18" would be 1618, 1718, ... and 2318 in a
 *    range of 800 years. Styles keep their layout but with the year widened
 *    to 'y'; the seed's 'dd.MM.YY' becomes 'dd.MM.y'.
 *  - The Gregorian calendar in every locale ("@calendar=gregorian"; fa and
 *    th would otherwise use the Persian and Buddhist calendars), for all
 *    time (ICU's switch from the Julian calendar in 1582 is moved to the
 *    beginning of time; the range starts after it anyway), with UTC.
 *  - Each locale's own digits and words are kept (Arabic-Indic digits in
 *    ar, Extended Arabic-Indic in fa, Bengali in bn, CJK year/month marks):
 *    reading them is part of the task. They cannot make the data ambiguous
 *    by themselves, and whatever does is caught by the exhaustive check.
 *    hi writes Latin digits, as CLDR does by default; "hi@numbers=deva"
 *    asks for Devanagari ones.
 *  - Case: 25% upper, 25% lower, 50% unchanged, with the locale's rules
 *    (Turkish dotted i, Greek accents), as the seed did.
 *  - No string maps to two dates: see ambiguity.c. The check runs on the
 *    templates of date_formats.c; every string emitted here comes from
 *    udat_format itself and is compared (case-folded) with its template's
 *    key, so the check's model of a format is verified on every sample.
 *  - Splits are disjoint by string: a pair's split is chosen by a seeded
 *    hash of its case-folded source, so every copy of a string, whatever
 *    its case, falls in the same split. Pairs are drawn until each split
 *    is full; repeats are skipped, so every source is distinct.
 * A generator holds its ICU formatters; it is deterministic (same locales
 * and seed, same pairs) and not thread-safe.
 */
#include "data.h"
#include "internal.h"

#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOCALE_BYTES = 160, PATTERN_CHARS = 128, TEXT_CHARS = 256, STYLES = 4 };

static const char *const default_locales[] = {
    "en_US", "en_GB", "fr", "de", "es", "it", "pt", "nl", "ru", "pl", "tr", "zh",
    "ja",    "ko",    "ar", "hi", "sv", "cs", "uk", "vi", "id", "el", "fa", "bn",
};
enum { DEFAULT_LOCALES = sizeof default_locales / sizeof default_locales[0] };

static const char *const style_names[STYLES] = {"full", "long", "medium", "short"};
static const UDateFormatStyle style_values[STYLES] = {UDAT_FULL, UDAT_LONG, UDAT_MEDIUM,
                                                      UDAT_SHORT};

/* The seed's list, with the calendar year, plus weekday and numeric forms
 * (the last, "20180509", is ISO 8601's basic form). */
static const char *const patterns[] = {
    "d MMM y",       "d MMMM y",    "dd MMM y", "d MMM, y",  "d MMMM, y",
    "dd, MMM y",     "d MM y",      "MMMM d y", "MMMM d, y", "dd.MM.y",
    "EEEE d MMMM y", "EEE d MMM y", "d/M/y",    "y-MM-dd",   "yMMdd",
};
enum { PATTERNS = sizeof patterns / sizeof patterns[0] };

typedef struct locale_info {
    char *given;               /* as the caller wrote it           */
    char icu[LOCALE_BYTES];    /* ICU id with @calendar=gregorian  */
    char casing[LOCALE_BYTES]; /* without keywords: ICU's case
                                  mapping ignores "tr@calendar=..." */
    int english;               /* language "en": every format has
                                  variants, not only numeric ones  */
    int n_formats;             /* kept, distinct within the locale */
    int *formats;
} locale_info;

struct at_dates {
    int n_patterns;
    char **patterns; /* copies of the patterns in use    */
    int n_locales;
    locale_info *locales;
    int n_formats;
    at_date_format *info;
    char **names;             /* n_formats: info[i].name, owned   */
    int *locale_of;           /* n_formats                        */
    UDateFormat **formatters; /* n_formats; NULL once dropped     */
    date_template *templates; /* n_formats                        */
    const char **unusable;    /* n_formats: why it cannot be used */
    char **reasons;           /* n_formats: info[i].reason, owned */
    int n_sampling;           /* locales with a kept format       */
    int *sampling;
    date_fields *fields;
    year_cache *years;         /* year tables shared by templates  */
    char *key;                 /* scratch: a template key          */
    at_dates_options progress; /* only the progress callback       */
};

int at_dates_default_locale_count(void) { return DEFAULT_LOCALES; }

const char *at_dates_default_locale(int index) {
    return index >= 0 && index < DEFAULT_LOCALES ? default_locales[index] : NULL;
}

static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* ----------------------------------------------------------------- locales */

/* The ICU id of a locale name, Gregorian calendar forced. Unknown to ICU
 * (it would fall back to another language) is an AT_ERR_ARGUMENT. */
static at_status resolve_locale(at_ctx *ctx, const char *name, char *icu, char *casing) {
    UErrorCode err = U_ZERO_ERROR;
    if (!name || !name[0] || strlen(name) >= LOCALE_BYTES / 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: bad locale name '%s'", name ? name : "");
    if (strchr(name, '-'))
        uloc_forLanguageTag(name, icu, LOCALE_BYTES, NULL, &err);
    else
        snprintf(icu, LOCALE_BYTES, "%s", name);
    if (U_SUCCESS(err)) uloc_getBaseName(icu, casing, LOCALE_BYTES, &err);
    if (U_SUCCESS(err)) uloc_setKeywordValue("calendar", "gregorian", icu, LOCALE_BYTES, &err);
    UDateFormat *probe =
        U_SUCCESS(err) ? udat_open(UDAT_NONE, UDAT_FULL, icu, u"UTC", -1, NULL, 0, &err) : NULL;
    char want[64] = "", got[64] = "";
    if (U_SUCCESS(err)) {
        const char *valid = udat_getLocaleByType(probe, ULOC_VALID_LOCALE, &err);
        uloc_getLanguage(icu, want, sizeof want, &err);
        if (U_SUCCESS(err) && valid) uloc_getLanguage(valid, got, sizeof got, &err);
    }
    udat_close(probe);
    if (U_FAILURE(err) || !want[0] || strcmp(want, got) != 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: ICU does not know the locale '%s'", name);
    return AT_OK;
}

static at_status add_locales(at_ctx *ctx, at_dates *g, const at_dates_options *opts) {
    int n = opts && opts->locale_count > 0 ? opts->locale_count : DEFAULT_LOCALES;
    const char *const *names = opts && opts->locale_count > 0 ? opts->locales : default_locales;
    if (!names) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: locales is NULL");
    g->locales = calloc((size_t)n, sizeof *g->locales);
    if (!g->locales) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int i = 0; i < n; i++) {
        locale_info *l = &g->locales[i];
        AT_TRY(resolve_locale(ctx, names[i], l->icu, l->casing));
        for (int j = 0; j < i; j++)
            if (strcmp(g->locales[j].icu, l->icu) == 0)
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: locale '%s' is listed twice",
                                   names[i]);
        char language[16] = "";
        UErrorCode err = U_ZERO_ERROR;
        uloc_getLanguage(l->icu, language, sizeof language, &err);
        l->english = U_SUCCESS(err) && !strcmp(language, "en");
        l->given = copy_text(names[i]);
        if (!l->given) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        g->n_locales = i + 1;
    }
    return AT_OK;
}

/* ----------------------------------------------------------------- formats */

/* Copy a pattern, a run of exactly two 'y' outside quotes becoming 'y'. */
static void widen_two_digit_year(const UChar *in, UChar *out) {
    int quoted = 0;
    size_t o = 0;
    for (size_t i = 0; in[i]; i++) {
        if (in[i] == '\'') quoted = !quoted;
        int run = !quoted && in[i] == 'y' && (i == 0 || in[i - 1] != 'y') && in[i + 1] == 'y' &&
                  in[i + 2] != 'y';
        out[o++] = in[i];
        if (run) i++; /* skip the second 'y' */
    }
    out[o] = 0;
}

static at_status icu_failure(at_ctx *ctx, const char *what, UErrorCode err) {
    return at_ctx_fail(ctx, AT_ERR_STATE, "dates: ICU failed to %s: %s", what, u_errorName(err));
}

/* The pattern of a CLDR style in a locale, two-digit year widened. */
static at_status style_pattern(at_ctx *ctx, const char *icu, UDateFormatStyle style,
                               UChar *pattern) {
    UErrorCode err = U_ZERO_ERROR;
    UDateFormat *f = udat_open(UDAT_NONE, style, icu, u"UTC", -1, NULL, 0, &err);
    UChar raw[PATTERN_CHARS];
    int32_t len = U_SUCCESS(err) ? udat_toPattern(f, 0, raw, PATTERN_CHARS, &err) : 0;
    udat_close(f);
    if (U_FAILURE(err) || len >= PATTERN_CHARS) return icu_failure(ctx, "read a style", err);
    raw[len] = 0;
    widen_two_digit_year(raw, pattern);
    return AT_OK;
}

static at_status open_pattern(at_ctx *ctx, const char *icu, const UChar *pattern,
                              UDateFormat **out) {
    UErrorCode err = U_ZERO_ERROR;
    *out = udat_open(UDAT_PATTERN, UDAT_PATTERN, icu, u"UTC", -1, pattern, -1, &err);
    at_status s =
        U_SUCCESS(err) ? make_proleptic(ctx, *out) : icu_failure(ctx, "open a date format", err);
    if (s != AT_OK) {
        udat_close(*out);
        *out = NULL;
    }
    return s;
}

/* Open the next format (locale l, called name, pattern in UTF-16) and build
 * its template; an unusable format is recorded with its reason. */
static at_status add_format(at_ctx *ctx, at_dates *g, int l, const char *name,
                            const UChar *pattern) {
    int i = g->n_formats++;
    at_date_format *info = &g->info[i];
    info->locale = g->locales[l].given;
    g->locale_of[i] = l;
    g->names[i] = copy_text(name);
    char pattern8[4 * PATTERN_CHARS];
    UErrorCode err = U_ZERO_ERROR;
    u_strToUTF8(pattern8, sizeof pattern8, NULL, pattern, -1, &err);
    info->pattern = U_SUCCESS(err) ? copy_text(pattern8) : NULL;
    info->name = g->names[i];
    if (!info->pattern || !info->name)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    AT_TRY(open_pattern(ctx, g->locales[l].icu, pattern, &g->formatters[i]));
    const char *unusable = NULL;
    AT_TRY(template_build(ctx, g->formatters[i], g->locales[l].icu, g->locales[l].casing, g->years,
                          &g->templates[i], &unusable));
    g->unusable[i] = unusable;
    return AT_OK;
}

static at_status add_patterns(at_ctx *ctx, at_dates *g, const at_dates_options *opts) {
    int n = opts && opts->patterns ? opts->pattern_count : PATTERNS;
    const char *const *list = opts && opts->patterns ? opts->patterns : patterns;
    if (n < 0) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: pattern_count %d < 0", n);
    g->patterns = calloc((size_t)n + 1, sizeof *g->patterns);
    if (!g->patterns) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int i = 0; i < n; i++) {
        if (!list[i] || !list[i][0] || strlen(list[i]) >= PATTERN_CHARS / 2)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: pattern %d is empty or too long", i);
        g->patterns[i] = copy_text(list[i]);
        if (!g->patterns[i]) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        g->n_patterns = i + 1;
    }
    return AT_OK;
}

/* The styles of every locale, then the patterns of every locale. */
static at_status add_base_formats(at_ctx *ctx, at_dates *g) {
    UChar pattern[PATTERN_CHARS];
    for (int s = 0; s < STYLES; s++)
        for (int l = 0; l < g->n_locales; l++) {
            AT_TRY(style_pattern(ctx, g->locales[l].icu, style_values[s], pattern));
            AT_TRY(add_format(ctx, g, l, style_names[s], pattern));
        }
    for (int p = 0; p < g->n_patterns; p++) {
        UErrorCode err = U_ZERO_ERROR;
        u_strFromUTF8(pattern, PATTERN_CHARS, NULL, g->patterns[p], -1, &err);
        if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: pattern '%s' is not valid UTF-8",
                               g->patterns[p]);
        for (int l = 0; l < g->n_locales; l++)
            AT_TRY(add_format(ctx, g, l, g->patterns[p], pattern));
    }
    return AT_OK;
}

/* ---------------------------------------------------------------- variants */

typedef enum form { FORM_BARE, FORM_SPACED, FORMS } form;
static const char *const form_names[FORMS] = {"bare", "spaced"};

static int is_field_letter(UChar c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Literal pattern text that only separates: spaces, punctuation and
 * invisible marks (the Arabic styles' right-to-left mark), nothing quoted. */
static int is_separator(const UChar *text, int32_t len) {
    for (int32_t i = 0; i < len; i++) {
        UChar c = text[i];
        if (c == '\'' || !(u_isUWhiteSpace(c) || u_ispunct(c) || u_charType(c) == U_FORMAT_CHAR))
            return 0;
    }
    return len > 0;
}

/* Only numeric fields: the year, the month as a number, the day. */
static int is_numeric(const UChar *pattern) {
    int quoted = 0, fields = 0;
    for (int32_t i = 0; pattern[i]; i++) {
        UChar c = pattern[i];
        if (c == '\'') quoted = !quoted;
        if (quoted || !is_field_letter(c)) continue;
        int32_t run = 1;
        while (pattern[i + run] == c)
            run++;
        int ok = c == 'y' || c == 'u' || ((c == 'M' || c == 'L' || c == 'd') && run <= 2);
        if (!ok) return 0;
        fields++;
        i += run - 1;
    }
    return fields > 0;
}

typedef struct pattern_writer {
    UChar *out;
    int32_t used, size;
} pattern_writer;

static void put(pattern_writer *w, UChar c) {
    if (w->used < w->size - 1) w->out[w->used] = c;
    w->used++;
}

/* One separator between two fields, in the form. */
static void put_separator(pattern_writer *w, const UChar *sep, int32_t len, form f) {
    int spaces = 0;
    for (int32_t i = 0; i < len; i++)
        spaces += u_isUWhiteSpace(sep[i]) != 0;
    if (f == FORM_BARE) {
        put(w, ' ');
        return;
    }
    if (!spaces) put(w, ' ');
    for (int32_t i = 0; i < len; i++) {
        put(w, sep[i]);
        if (u_isUWhiteSpace(sep[i])) put(w, sep[i]);
    }
    if (!spaces) put(w, ' ');
}

/* The bare or spaced variant of a pattern into out[PATTERN_CHARS]: the
 * separators between fields rewritten, and (bare) the separators before
 * the first field and after the last dropped. Returns 0 if it is the same
 * pattern or does not fit. */
static int derive_variant(const UChar *in, form f, UChar *out) {
    pattern_writer w = {out, 0, PATTERN_CHARS};
    int quoted = 0, seen_field = 0;
    for (int32_t i = 0; in[i];) {
        int32_t j = i;
        if (!quoted && is_field_letter(in[i])) {
            while (in[j] == in[i])
                put(&w, in[j++]);
            seen_field = 1;
        } else {
            while (in[j] && (quoted || !is_field_letter(in[j])))
                quoted ^= in[j++] == '\'';
            int separator = is_separator(in + i, j - i), between = seen_field && in[j];
            if (separator && between)
                put_separator(&w, in + i, j - i, f);
            else if (!separator || f != FORM_BARE)
                for (int32_t k = i; k < j; k++)
                    put(&w, in[k]);
        }
        i = j;
    }
    if (w.used >= w.size) return 0;
    out[w.used] = 0;
    return u_strcmp(in, out) != 0;
}

/* A format of locale l already has this pattern. */
static int listed(const at_dates *g, int l, const char *pattern) {
    for (int i = 0; i < g->n_formats; i++)
        if (g->locale_of[i] == l && !strcmp(g->info[i].pattern, pattern)) return 1;
    return 0;
}

/* The bare, then the spaced variant of the first n_base formats: all of an
 * English locale's, the numeric ones elsewhere; of the default patterns
 * only when the caller gave none. New patterns only. */
static at_status add_variants(at_ctx *ctx, at_dates *g, int n_base, int of_patterns) {
    for (int f = 0; f < FORMS; f++)
        for (int b = 0; b < n_base; b++) {
            int l = g->locale_of[b];
            if (g->unusable[b] || (b >= STYLES * g->n_locales && !of_patterns)) continue;
            UChar base[PATTERN_CHARS], variant[PATTERN_CHARS];
            UErrorCode err = U_ZERO_ERROR;
            u_strFromUTF8(base, PATTERN_CHARS, NULL, g->info[b].pattern, -1, &err);
            if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING) continue;
            if (!g->locales[l].english && !is_numeric(base)) continue;
            if (!derive_variant(base, (form)f, variant)) continue;
            char variant8[4 * PATTERN_CHARS], name[PATTERN_CHARS + 16];
            u_strToUTF8(variant8, sizeof variant8, NULL, variant, -1, &err);
            if (U_FAILURE(err) || listed(g, l, variant8)) continue;
            snprintf(name, sizeof name, "%s %s", g->info[b].name, form_names[f]);
            AT_TRY(add_format(ctx, g, l, name, variant));
        }
    return AT_OK;
}

static at_status add_formats(at_ctx *ctx, at_dates *g, int default_patterns) {
    size_t n = (size_t)g->n_locales * (size_t)(STYLES + g->n_patterns) * (1 + FORMS);
    g->info = calloc(n, sizeof *g->info);
    g->names = calloc(n, sizeof *g->names);
    g->locale_of = calloc(n, sizeof *g->locale_of);
    g->formatters = calloc(n, sizeof *g->formatters);
    g->templates = calloc(n, sizeof *g->templates);
    g->unusable = calloc(n, sizeof *g->unusable);
    g->reasons = calloc(n, sizeof *g->reasons);
    if (!g->info || !g->names || !g->locale_of || !g->formatters || !g->templates || !g->unusable ||
        !g->reasons)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    AT_TRY(year_cache_create(ctx, &g->years));
    AT_TRY(add_base_formats(ctx, g));
    return add_variants(ctx, g, g->n_formats, default_patterns);
}

/* ---------------------------------------------------------------- verdicts */

/* The reason format i was left out ("" if kept); blamed as from
 * ambiguity_resolve. */
static at_status set_reason(at_ctx *ctx, at_dates *g, int i, int kept, int blamed) {
    char text[320] = "";
    if (g->unusable[i])
        snprintf(text, sizeof text, "%s", g->unusable[i]);
    else if (kept)
        text[0] = 0;
    else if (blamed < 0)
        snprintf(text, sizeof text, "ambiguous by itself");
    else
        snprintf(text, sizeof text, "collides with %s %s (%s)", g->info[blamed].locale,
                 g->info[blamed].name, g->info[blamed].pattern);
    g->reasons[i] = copy_text(text);
    if (!g->reasons[i]) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    g->info[i].reason = g->reasons[i];
    g->info[i].kept = kept;
    return AT_OK;
}

/* Dropped formats give back their formatter and template. */
static void release_format(at_dates *g, int i) {
    udat_close(g->formatters[i]);
    g->formatters[i] = NULL;
    template_free(&g->templates[i]);
}

static at_status decide(at_ctx *ctx, at_dates *g, const at_dates_options *opts) {
    int n = g->n_formats;
    const date_template **usable = calloc((size_t)n, sizeof *usable);
    int *keep = calloc((size_t)n, sizeof *keep), *reason = calloc((size_t)n, sizeof *reason);
    at_status s =
        usable && keep && reason ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int i = 0; i < n && s == AT_OK; i++)
        usable[i] = g->unusable[i] ? NULL : &g->templates[i];
    if (s == AT_OK)
        s = ambiguity_resolve(ctx, n, usable, keep, reason, opts ? opts->progress : NULL,
                              opts ? opts->progress_user : NULL);
    for (int i = 0; i < n && s == AT_OK; i++)
        s = set_reason(ctx, g, i, keep[i], reason[i]);
    for (int i = 0; i < n && s == AT_OK; i++)
        if (!keep[i]) release_format(g, i);
    free(usable);
    free(keep);
    free(reason);
    return s;
}

/* Per locale, the kept formats that write something new for it. */
static at_status sampling_lists(at_ctx *ctx, at_dates *g) {
    g->sampling = calloc((size_t)g->n_locales, sizeof *g->sampling);
    if (!g->sampling) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int l = 0; l < g->n_locales; l++) {
        locale_info *loc = &g->locales[l];
        loc->formats = calloc((size_t)g->n_formats, sizeof *loc->formats);
        if (!loc->formats) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        for (int i = 0; i < g->n_formats; i++) {
            if (g->locale_of[i] != l || !g->info[i].kept) continue;
            int repeat = 0;
            for (int k = 0; k < loc->n_formats && !repeat; k++)
                repeat = template_equal(&g->templates[loc->formats[k]], &g->templates[i]);
            if (!repeat) loc->formats[loc->n_formats++] = i;
        }
        if (loc->n_formats) g->sampling[g->n_sampling++] = l;
    }
    if (!g->n_sampling)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: no format is left to draw from");
    return AT_OK;
}

static at_status scratch(at_ctx *ctx, at_dates *g) {
    size_t longest = 0;
    for (int i = 0; i < g->n_formats; i++)
        if (g->info[i].kept && g->templates[i].max_bytes > longest)
            longest = g->templates[i].max_bytes;
    g->key = malloc(longest + 1);
    if (!g->key) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    return AT_OK;
}

at_status at_dates_create(at_ctx *ctx, at_dates **out, const at_dates_options *opts) {
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: out is NULL");
    at_dates *g = calloc(1, sizeof *g);
    if (!g) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    if (opts) {
        g->progress.progress = opts->progress;
        g->progress.progress_user = opts->progress_user;
    }
    g->fields = malloc(sizeof *g->fields);
    at_status s = g->fields ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    if (s == AT_OK) {
        date_fields_fill(g->fields);
        s = add_locales(ctx, g, opts);
    }
    if (s == AT_OK) s = add_patterns(ctx, g, opts);
    if (s == AT_OK) s = add_formats(ctx, g, !(opts && opts->patterns));
    if (s == AT_OK) s = decide(ctx, g, opts);
    if (s == AT_OK) s = sampling_lists(ctx, g);
    if (s == AT_OK) s = scratch(ctx, g);
    if (s != AT_OK) {
        at_dates_free(g);
        return s;
    }
    *out = g;
    return AT_OK;
}

void at_dates_free(at_dates *g) {
    if (!g) return;
    for (int i = 0; i < g->n_formats; i++) {
        if (g->formatters) udat_close(g->formatters[i]);
        if (g->templates) template_free(&g->templates[i]);
        if (g->info) free((char *)g->info[i].pattern);
        if (g->reasons) free(g->reasons[i]);
        if (g->names) free(g->names[i]);
    }
    year_cache_free(g->years);
    for (int l = 0; l < g->n_locales; l++) {
        free(g->locales[l].given);
        free(g->locales[l].formats);
    }
    for (int p = 0; p < g->n_patterns; p++)
        free(g->patterns[p]);
    free(g->patterns);
    free(g->locales);
    free(g->info);
    free(g->names);
    free(g->locale_of);
    free(g->formatters);
    free(g->templates);
    free(g->unusable);
    free(g->reasons);
    free(g->sampling);
    free(g->fields);
    free(g->key);
    free(g);
}

int at_dates_format_count(const at_dates *g) { return g ? g->n_formats : 0; }

const at_date_format *at_dates_format(const at_dates *g, int index) {
    return g && index >= 0 && index < g->n_formats ? &g->info[index] : NULL;
}

int at_dates_kept_count(const at_dates *g) {
    int n = 0;
    for (int i = 0; g && i < g->n_formats; i++)
        n += g->info[i].kept;
    return n;
}

int at_dates_locale_count(const at_dates *g) { return g ? g->n_sampling : 0; }

/* ---------------------------------------------------------------- sampling */

typedef struct draw {
    int format, date, variant;
    at_case_style case_style;
} draw;

static void draw_one(const at_dates *g, at_rng *rng, draw *d) {
    d->date = (int)at_rng_below(rng, DATE_DAYS);
    const locale_info *l = &g->locales[g->sampling[at_rng_below(rng, (uint32_t)g->n_sampling)]];
    d->format = l->formats[at_rng_below(rng, (uint32_t)l->n_formats)];
    uint32_t r = at_rng_below(rng, 4);
    d->case_style = r == 0 ? AT_CASE_UPPER : r == 1 ? AT_CASE_LOWER : AT_CASE_KEEP;
    d->variant = r == 0 ? VARIANT_UPPER : r == 1 ? VARIANT_LOWER : VARIANT_KEEP;
}

/* The hash of the drawn string, case-folded: the same for every copy. */
static uint64_t draw_key(const at_dates *g, const draw *d) {
    return hash_mix(template_hash(&g->templates[d->format], d->variant, g->fields->value[d->date]));
}

static void iso_date(int index, char *target) {
    int y, m, d;
    civil_from_days(days_from_civil(DATE_FIRST_YEAR, 1, 1) + index, &y, &m, &d);
    snprintf(target, 11, "%04d-%02d-%02d", y, m, d);
}

/* ICU's string, case-folded, must be the template's key: the ambiguity
 * check's model of the format holds for this very string. */
static at_status verify(at_ctx *ctx, at_dates *g, const draw *d, const UChar *text, int32_t len,
                        const char *source) {
    char *folded;
    size_t folded_len;
    AT_TRY(fold_to_utf8(ctx, text, len, &folded, &folded_len));
    size_t key_len =
        template_key(&g->templates[d->format], d->variant, g->fields->value[d->date], g->key);
    int same = key_len == folded_len && memcmp(folded, g->key, key_len) == 0;
    free(folded);
    if (same) return AT_OK;
    char target[11];
    iso_date(d->date, target);
    const at_date_format *info = &g->info[d->format];
    return at_ctx_fail(ctx, AT_ERR_STATE,
                       "dates: %s %s wrote '%s' for %s, not what its template says ('%s')",
                       info->locale, info->name, source, target, g->key);
}

static at_status change_case(at_ctx *ctx, const draw *d, const char *locale, const UChar *text,
                             int32_t len, UChar *out, int32_t *out_len) {
    UErrorCode err = U_ZERO_ERROR;
    if (d->case_style == AT_CASE_UPPER)
        *out_len = u_strToUpper(out, TEXT_CHARS, text, len, locale, &err);
    else if (d->case_style == AT_CASE_LOWER)
        *out_len = u_strToLower(out, TEXT_CHARS, text, len, locale, &err);
    else
        memcpy(out, text, (size_t)len * sizeof *text), *out_len = len;
    if (U_FAILURE(err) || *out_len >= TEXT_CHARS) return icu_failure(ctx, "change case", err);
    return AT_OK;
}

/* Write the drawn date with ICU, in its case; verify it. */
static at_status render(at_ctx *ctx, at_dates *g, const draw *d, char *source) {
    UChar text[TEXT_CHARS], cased[TEXT_CHARS];
    UErrorCode err = U_ZERO_ERROR;
    int32_t len = udat_format(g->formatters[d->format], date_index_udate(d->date), text, TEXT_CHARS,
                              NULL, &err);
    if (U_FAILURE(err) || len >= TEXT_CHARS) return icu_failure(ctx, "format a date", err);
    int32_t cased_len = 0;
    AT_TRY(change_case(ctx, d, g->locales[g->locale_of[d->format]].casing, text, len, cased,
                       &cased_len));
    int32_t bytes = 0;
    u_strToUTF8(source, AT_DATE_MAX_BYTES, &bytes, cased, cased_len, &err);
    if (U_FAILURE(err) || bytes >= AT_DATE_MAX_BYTES)
        return icu_failure(ctx, "convert to UTF-8", err);
    return verify(ctx, g, d, cased, cased_len, source);
}

at_status at_dates_sample(at_ctx *ctx, at_dates *g, at_rng *rng, at_date_sample *out) {
    if (!g || !rng || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: NULL argument");
    draw d;
    draw_one(g, rng, &d);
    AT_TRY(render(ctx, g, &d, out->source));
    iso_date(d.date, out->target);
    out->format = d.format;
    out->case_style = d.case_style;
    return AT_OK;
}

/* ------------------------------------------------------------------ splits */

/* A set of 64-bit key hashes (0 stands for 1), open addressing. */
typedef struct hash_set {
    uint64_t *slots;
    size_t mask;
} hash_set;

static int set_insert(hash_set *set, uint64_t h) {
    if (!h) h = 1;
    for (size_t i = h & set->mask;; i = (i + 1) & set->mask) {
        if (set->slots[i] == h) return 0;
        if (!set->slots[i]) {
            set->slots[i] = h;
            return 1;
        }
    }
}

/* The split of a string: a seeded hash, cut in proportion to the sizes. */
static int split_of(uint64_t key, uint64_t salt, const long sizes[3], long total) {
    uint64_t r = ((hash_mix(key ^ salt) >> 32) * (uint64_t)total) >> 32;
    if (r < (uint64_t)sizes[0]) return 0;
    return r < (uint64_t)(sizes[0] + sizes[1]) ? 1 : 2;
}

static at_status check_generate(at_ctx *ctx, const at_dates *g, const long sizes[3],
                                at_pairs splits[3], long *total) {
    if (!g || !sizes || !splits) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: NULL argument");
    *total = 0;
    for (int k = 0; k < 3; k++) {
        if (sizes[k] < 0 || sizes[k] > (1L << 30))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: split size %ld out of range",
                               sizes[k]);
        if (splits[k].count)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: split %d is not empty", k);
        *total += sizes[k];
    }
    if (*total == 0 || *total > (1L << 30))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: %ld pairs asked for", *total);
    return AT_OK;
}

static at_status fill_splits(at_ctx *ctx, at_dates *g, uint64_t seed, const long sizes[3],
                             long total, at_pairs splits[3], hash_set *seen,
                             const at_dates_options *progress) {
    at_rng rng;
    at_rng_seed(&rng, seed);
    uint64_t salt = hash_mix(seed ^ 0x5eed5eed5eed5eedULL);
    long filled = 0, attempts = 0, max_attempts = 20 * total + 100000;
    at_date_sample sample;
    while (filled < total) {
        if (++attempts > max_attempts)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "dates: found only %ld distinct pairs of the %ld asked for; ask for "
                               "fewer or add locales",
                               filled, total);
        draw d;
        draw_one(g, &rng, &d);
        uint64_t key = draw_key(g, &d);
        int split = split_of(key, salt, sizes, total);
        if ((long)splits[split].count >= sizes[split] || !set_insert(seen, key)) continue;
        AT_TRY(render(ctx, g, &d, sample.source));
        iso_date(d.date, sample.target);
        AT_TRY(at_pairs_add(ctx, &splits[split], sample.source, sample.target));
        filled++;
        if (progress->progress && (filled % 4096 == 0 || filled == total))
            progress->progress(progress->progress_user, "drawing pairs", filled, total);
    }
    return AT_OK;
}

at_status at_dates_generate(at_ctx *ctx, at_dates *g, uint64_t seed, const long sizes[3],
                            at_pairs splits[3]) {
    long total = 0;
    AT_TRY(check_generate(ctx, g, sizes, splits, &total));
    size_t capacity = 1024;
    while (capacity < 2 * (size_t)total)
        capacity *= 2;
    hash_set seen = {calloc(capacity, sizeof(uint64_t)), capacity - 1};
    if (!seen.slots) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    at_dates_options progress = g->progress;
    at_status s = fill_splits(ctx, g, seed, sizes, total, splits, &seen, &progress);
    free(seen.slots);
    if (s != AT_OK)
        for (int k = 0; k < 3; k++)
            at_pairs_clear(&splits[k]);
    return s;
}

/* ------------------------------------------------------------- one date */

at_status at_date_format_pattern(at_ctx *ctx, const char *locale, const char *pattern, int year,
                                 int month, int day, char *out, size_t size) {
    if (!pattern || !out || size == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: NULL argument");
    int y, m, d;
    long days = days_from_civil(year, month, day);
    civil_from_days(days, &y, &m, &d);
    if (y != year || m != month || d != day || month < 1 || month > 12)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: %d-%d-%d is not a date", year, month, day);
    char icu[LOCALE_BYTES], casing[LOCALE_BYTES];
    AT_TRY(resolve_locale(ctx, locale, icu, casing));
    UChar pattern16[PATTERN_CHARS], text[TEXT_CHARS];
    UErrorCode err = U_ZERO_ERROR;
    u_strFromUTF8(pattern16, PATTERN_CHARS, NULL, pattern, -1, &err);
    if (U_FAILURE(err) || err == U_STRING_NOT_TERMINATED_WARNING)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: bad pattern '%s'", pattern);
    UDateFormat *f;
    AT_TRY(open_pattern(ctx, icu, pattern16, &f));
    int32_t len = udat_format(f, (double)days * 86400000.0, text, TEXT_CHARS, NULL, &err);
    udat_close(f);
    int32_t bytes = 0;
    if (U_SUCCESS(err) && len < TEXT_CHARS)
        u_strToUTF8(out, (int32_t)size, &bytes, text, len, &err);
    if (U_FAILURE(err) || len >= TEXT_CHARS || (size_t)bytes >= size)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "dates: the formatted date does not fit in %zu bytes", size);
    return AT_OK;
}
