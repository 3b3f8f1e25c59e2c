/*
 * date_formats.c - one ICU date format, taken apart into a template.
 *
 * The idea. A date pattern such as "EEEE, d MMMM y" writes literal text
 * (", " and " ") and fields (weekday, day, month, year). Each field's text
 * depends on one value only: the year field on the year, the month field
 * on the month, and so on. ICU tells where each field lies in its output
 * (udat_formatForFields), so a few hundred calls teach us everything the
 * format can write:
 *
 *   800 dates, one per year  -> the year field's 800 renderings (1600-2399)
 *    12 dates, one per month -> the month field's 12
 *    31 dates, one per day   -> the day field's 31
 *     7 dates, one per weekday
 *
 * and every call also checks that the literal text and the order of the
 * fields never change. The string of any date is then the concatenation
 * of its parts' table entries. That is what makes the exhaustive ambiguity
 * check (ambiguity.c) possible: it reasons on the tables, not on ICU calls
 * at 1.5 us each.
 *
 * The year table is the big one, and it is the same for every format of a
 * locale whose pattern spells the year field alike ("y" in "d MMM y" and in
 * "y-MM-dd"): ICU writes a field with the locale's number format and the
 * field's letters, nothing else. So a year_cache keeps one table per
 * (locale, letters); a format that uses it is still asked for the year on
 * 23 spread years (both ends included) and compared, and any difference
 * makes it learn its own table instead.
 *
 * Each table entry is stored in the three case variants a sample may take
 * (unchanged, upper-cased, lower-cased, using the locale's rules), each then
 * case-folded: the folded UTF-8 is the key under which strings count as the
 * same. Piecewise case mapping equals whole-string case mapping for these
 * formats (fields are whole words); dates.c re-checks it on every string it
 * emits against ICU's own output, so the model is never trusted blindly.
 *
 * The calendar. Every formatter is made Gregorian for all time
 * (make_proleptic): ICU's default switches from the Julian calendar at
 * 1582-10-15. The range starts in 1600, after the switch, so this changes
 * nothing there; it makes at_date_format_pattern agree with the proleptic
 * day count below for any date.
 *
 * The era field ('G', e.g. "AD") is constant from 1600 to 2399 and is
 * treated as literal text. The week-based year ('Y'), quarters, day of the
 * year and every time field make a format unusable: they do not belong in
 * a calendar date.
 */
#include "data.h"
#include "internal.h"

#include <unicode/ucal.h>
#include <unicode/uchar.h>
#include <unicode/ufieldpositer.h>
#include <unicode/ustring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LAYOUT_CHARS = 512, PIECE_CHARS = 256, PATTERN_UCHARS = 256, YEAR_CHECK_STEP = 37 };

/* ---------------------------------------------------------------- calendar */

/* Days since 1970-01-01 from a proleptic Gregorian date: count whole
 * 400-year eras from March of year 0, so that the leap day falls last. */
long days_from_civil(int year, int month, int day) {
    long y = year - (month <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long year_of_era = y - era * 400; /* [0, 399]   */
    long day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

void civil_from_days(long days, int *year, int *month, int *day) {
    days += 719468;
    long era = (days >= 0 ? days : days - 146096) / 146097;
    long day_of_era = days - era * 146097;
    long year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    long mp = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(year_of_era + era * 400 + (*month <= 2));
}

static long first_day(void) { return days_from_civil(DATE_FIRST_YEAR, 1, 1); }

double date_index_udate(int index) { return (double)(first_day() + index) * 86400000.0; }

int weekday_of_days(long days) { return (int)(((days % 7) + 7 + 3) % 7); } /* 1970-01-01: Thu */

void date_fields_fill(date_fields *fields) {
    long first = first_day();
    for (int i = 0; i < DATE_DAYS; i++) {
        int y, m, d;
        long days = first + i;
        civil_from_days(days, &y, &m, &d);
        uint16_t *v = fields->value[i];
        v[PART_LITERAL] = 0;
        v[PART_YEAR] = (uint16_t)(y - DATE_FIRST_YEAR);
        v[PART_MONTH] = (uint16_t)(m - 1);
        v[PART_DAY] = (uint16_t)(d - 1);
        v[PART_WEEKDAY] = (uint16_t)weekday_of_days(days);
    }
}

at_status make_proleptic(at_ctx *ctx, UDateFormat *format) {
    UErrorCode err = U_ZERO_ERROR;
    UCalendar *calendar = ucal_clone(udat_getCalendar(format), &err);
    if (U_SUCCESS(err)) ucal_setGregorianChange(calendar, U_DATE_MIN, &err);
    if (U_SUCCESS(err)) udat_setCalendar(format, calendar);
    ucal_close(calendar);
    if (U_FAILURE(err))
        return at_ctx_fail(ctx, AT_ERR_STATE,
                           "dates: ICU could not make the calendar Gregorian: %s",
                           u_errorName(err));
    return AT_OK;
}

/* ------------------------------------------------------------------ hashes */

uint64_t hash_mix(uint64_t h) {
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

uint64_t text_hash(const char *bytes, size_t len, uint64_t *power) {
    uint64_t h = 0, p = 1;
    for (size_t i = 0; i < len; i++) {
        h = text_hash_step(h, bytes[i]);
        p *= TEXT_HASH_BASE;
    }
    if (power) *power = p;
    return h;
}

static void piece_hash(text_piece *piece) {
    piece->hash = text_hash(piece->bytes, piece->len, &piece->power);
}

uint64_t template_hash(const date_template *t, int variant, const uint16_t *fields) {
    uint64_t h = 0;
    for (int p = 0; p < t->n_parts; p++) {
        const date_part *part = &t->parts[p];
        const text_piece *x = &part->text[variant][fields[part->kind]];
        h = h * x->power + x->hash;
    }
    return h;
}

size_t template_key(const date_template *t, int variant, const uint16_t *fields, char *out) {
    size_t used = 0;
    for (int p = 0; p < t->n_parts; p++) {
        const date_part *part = &t->parts[p];
        const text_piece *x = &part->text[variant][fields[part->kind]];
        memcpy(out + used, x->bytes, x->len);
        used += x->len;
    }
    out[used] = 0;
    return used;
}

/* ------------------------------------------------------------------ layout */

/* Where the parts of one formatted date lie in its UTF-16 text. Adjacent
 * literal text and constant fields are merged into one literal part. */
typedef struct layout {
    UChar text[LAYOUT_CHARS];
    int32_t len;
    int n;
    part_kind kind[TEMPLATE_MAX_PARTS];
    int32_t begin[TEMPLATE_MAX_PARTS], end[TEMPLATE_MAX_PARTS];
} layout;

/* The part kind of an ICU field; 0 if the field is not supported. */
static int field_kind(int field, part_kind *kind) {
    switch (field) {
    case UDAT_ERA_FIELD:
        *kind = PART_LITERAL;
        return 1;
    case UDAT_YEAR_FIELD:
    case UDAT_EXTENDED_YEAR_FIELD:
        *kind = PART_YEAR;
        return 1;
    case UDAT_MONTH_FIELD:
    case UDAT_STANDALONE_MONTH_FIELD:
        *kind = PART_MONTH;
        return 1;
    case UDAT_DATE_FIELD:
        *kind = PART_DAY;
        return 1;
    case UDAT_DAY_OF_WEEK_FIELD:
    case UDAT_DOW_LOCAL_FIELD:
    case UDAT_STANDALONE_DAY_FIELD:
        *kind = PART_WEEKDAY;
        return 1;
    default:
        return 0;
    }
}

static int add_part(layout *l, part_kind kind, int32_t begin, int32_t end) {
    if (begin >= end) return 1;
    if (kind == PART_LITERAL && l->n > 0 && l->kind[l->n - 1] == PART_LITERAL &&
        l->end[l->n - 1] == begin) {
        l->end[l->n - 1] = end;
        return 1;
    }
    if (l->n == TEMPLATE_MAX_PARTS) return 0;
    l->kind[l->n] = kind;
    l->begin[l->n] = begin;
    l->end[l->n] = end;
    l->n++;
    return 1;
}

typedef struct field_span {
    int field;
    int32_t begin, end;
} field_span;

static void sort_spans(field_span *spans, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && spans[j].begin < spans[j - 1].begin; j--) {
            field_span t = spans[j];
            spans[j] = spans[j - 1];
            spans[j - 1] = t;
        }
}

/* Cut the spans of one formatted text into parts. */
static int spans_to_layout(layout *l, field_span *spans, int n_spans, const char **unusable) {
    sort_spans(spans, n_spans);
    int32_t cursor = 0;
    l->n = 0;
    for (int i = 0; i < n_spans; i++) {
        part_kind kind;
        if (!field_kind(spans[i].field, &kind)) {
            *unusable = spans[i].field == UDAT_YEAR_WOY_FIELD
                            ? "uses the week-based year 'Y'"
                            : "has a field that is not a calendar date's";
            return 0;
        }
        if (spans[i].begin < cursor) {
            *unusable = "has overlapping fields";
            return 0;
        }
        if (!add_part(l, PART_LITERAL, cursor, spans[i].begin) ||
            !add_part(l, kind, spans[i].begin, spans[i].end)) {
            *unusable = "has too many parts";
            return 0;
        }
        cursor = spans[i].end;
    }
    if (!add_part(l, PART_LITERAL, cursor, l->len)) {
        *unusable = "has too many parts";
        return 0;
    }
    return 1;
}

static at_status format_layout(at_ctx *ctx, UDateFormat *format, double udate, layout *l,
                               const char **unusable) {
    UErrorCode err = U_ZERO_ERROR;
    UFieldPositionIterator *it = ufieldpositer_open(&err);
    l->len = udat_formatForFields(format, udate, l->text, LAYOUT_CHARS, it, &err);
    field_span spans[TEMPLATE_MAX_PARTS];
    int n_spans = 0, too_many = 0;
    int32_t b, e;
    int field;
    while (U_SUCCESS(err) && (field = ufieldpositer_next(it, &b, &e)) >= 0) {
        if (n_spans == TEMPLATE_MAX_PARTS)
            too_many = 1;
        else
            spans[n_spans++] = (field_span){field, b, e};
    }
    ufieldpositer_close(it);
    if (U_FAILURE(err) || l->len >= LAYOUT_CHARS)
        return at_ctx_fail(ctx, AT_ERR_STATE, "dates: ICU could not format a date: %s",
                           u_errorName(err));
    if (too_many)
        *unusable = "has too many fields";
    else
        spans_to_layout(l, spans, n_spans, unusable);
    return AT_OK;
}

/* Same parts in the same order with the same literal text. */
static int same_shape(const layout *a, const layout *b) {
    if (a->n != b->n) return 0;
    for (int p = 0; p < a->n; p++) {
        if (a->kind[p] != b->kind[p]) return 0;
        if (a->kind[p] != PART_LITERAL) continue;
        int32_t len = a->end[p] - a->begin[p];
        if (len != b->end[p] - b->begin[p] ||
            memcmp(a->text + a->begin[p], b->text + b->begin[p], (size_t)len * sizeof(UChar)))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ pieces */

at_status fold_to_utf8(at_ctx *ctx, const UChar *text, int32_t len, char **out, size_t *out_len) {
    UChar folded[PIECE_CHARS];
    UErrorCode err = U_ZERO_ERROR;
    int32_t n = u_strFoldCase(folded, PIECE_CHARS, text, len, U_FOLD_CASE_DEFAULT, &err);
    int32_t bytes = 0;
    if (U_SUCCESS(err) && n < PIECE_CHARS) u_strToUTF8(NULL, 0, &bytes, folded, n, &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) err = U_ZERO_ERROR;
    if (U_FAILURE(err) || n >= PIECE_CHARS)
        return at_ctx_fail(ctx, AT_ERR_STATE, "dates: ICU could not fold a string: %s",
                           u_errorName(err));
    char *utf8 = malloc((size_t)bytes + 1);
    if (!utf8) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    u_strToUTF8(utf8, bytes + 1, NULL, folded, n, &err);
    *out = utf8;
    *out_len = (size_t)bytes;
    return AT_OK;
}

/* Map one piece to a case variant with the locale's rules. */
static at_status case_variant(at_ctx *ctx, const UChar *text, int32_t len, int variant,
                              const char *locale, UChar *out, int32_t *out_len) {
    UErrorCode err = U_ZERO_ERROR;
    if (variant == VARIANT_UPPER)
        *out_len = u_strToUpper(out, PIECE_CHARS, text, len, locale, &err);
    else if (variant == VARIANT_LOWER)
        *out_len = u_strToLower(out, PIECE_CHARS, text, len, locale, &err);
    else if (len < PIECE_CHARS)
        memcpy(out, text, (size_t)len * sizeof(UChar)), *out_len = len;
    else
        err = U_BUFFER_OVERFLOW_ERROR;
    if (U_FAILURE(err) || *out_len >= PIECE_CHARS)
        return at_ctx_fail(ctx, AT_ERR_STATE, "dates: ICU could not change case: %s",
                           u_errorName(err));
    return AT_OK;
}

/* Fill table entry `value` of a part in all three variants. */
static at_status set_piece(at_ctx *ctx, date_part *part, int value, const UChar *text, int32_t len,
                           const char *locale) {
    for (int v = 0; v < VARIANTS; v++) {
        UChar cased[PIECE_CHARS];
        int32_t cased_len = 0;
        AT_TRY(case_variant(ctx, text, len, v, locale, cased, &cased_len));
        text_piece *piece = &part->text[v][value];
        free(piece->bytes);
        size_t bytes;
        AT_TRY(fold_to_utf8(ctx, cased, cased_len, &piece->bytes, &bytes));
        piece->len = (uint32_t)bytes;
        piece_hash(piece);
    }
    return AT_OK;
}

static int table_length(part_kind kind) {
    static const int lengths[PART_KINDS] = {1, DATE_YEARS, 12, 31, 7};
    return lengths[kind];
}

/* -------------------------------------------------------------- year cache */

enum { YEAR_KEY_BYTES = 2 * 160 + 24 };

typedef struct cached_years {
    char key[YEAR_KEY_BYTES];
    text_piece *text[VARIANTS]; /* DATE_YEARS pieces each */
} cached_years;

struct year_cache {
    int n, capacity;
    cached_years *entries;
};

at_status year_cache_create(at_ctx *ctx, year_cache **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    return AT_OK;
}

static void free_table(text_piece *table, int n) {
    if (!table) return;
    for (int i = 0; i < n; i++)
        free(table[i].bytes);
    free(table);
}

void year_cache_free(year_cache *cache) {
    if (!cache) return;
    for (int e = 0; e < cache->n; e++)
        for (int v = 0; v < VARIANTS; v++)
            free_table(cache->entries[e].text[v], DATE_YEARS);
    free(cache->entries);
    free(cache);
}

static cached_years *cache_find(year_cache *cache, const char *key) {
    for (int e = 0; cache && e < cache->n; e++)
        if (!strcmp(cache->entries[e].key, key)) return &cache->entries[e];
    return NULL;
}

/* The cache takes the part's year table; the part then shares it. */
static at_status cache_adopt(at_ctx *ctx, year_cache *cache, const char *key, date_part *part) {
    if (cache->n == cache->capacity) {
        int capacity = cache->capacity ? 2 * cache->capacity : 16;
        cached_years *grown = realloc(cache->entries, (size_t)capacity * sizeof *grown);
        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        cache->entries = grown;
        cache->capacity = capacity;
    }
    cached_years *e = &cache->entries[cache->n++];
    size_t n = strlen(key) < sizeof e->key ? strlen(key) : sizeof e->key - 1;
    memcpy(e->key, key, n);
    e->key[n] = 0;
    for (int v = 0; v < VARIANTS; v++)
        e->text[v] = part->text[v];
    part->shared = 1;
    return AT_OK;
}

/* The cache key of each year part: the locales and the letters of the
 * year field ("y", "yyyy", "u") in the formatter's pattern, the k-th year
 * field of the pattern being the k-th year part. keyed[p] = 0 where the
 * pattern cannot be matched to the parts (then nothing is cached). */
static void year_keys(UDateFormat *format, const char *locale, const char *casing,
                      const layout *ref, char keys[][YEAR_KEY_BYTES], int *keyed) {
    UChar pattern[PATTERN_UCHARS];
    UErrorCode err = U_ZERO_ERROR;
    int32_t len = udat_toPattern(format, 0, pattern, PATTERN_UCHARS, &err);
    char letters[TEMPLATE_MAX_PARTS][16];
    int n_fields = 0, quoted = 0;
    for (int32_t i = 0; U_SUCCESS(err) && len < PATTERN_UCHARS && i < len; i++) {
        UChar c = pattern[i];
        if (c == '\'') quoted = !quoted;
        if (quoted || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) continue;
        int32_t run = 1;
        while (i + run < len && pattern[i + run] == c)
            run++;
        if ((c == 'y' || c == 'u') && n_fields < TEMPLATE_MAX_PARTS) {
            int count = run < 15 ? (int)run : 15;
            memset(letters[n_fields], (char)c, (size_t)count);
            letters[n_fields++][count] = 0;
        }
        i += run - 1;
    }
    int k = 0, year_parts = 0;
    for (int p = 0; p < ref->n; p++)
        year_parts += ref->kind[p] == PART_YEAR;
    for (int p = 0; p < ref->n; p++) {
        keyed[p] = ref->kind[p] == PART_YEAR && year_parts == n_fields && U_SUCCESS(err);
        if (keyed[p])
            snprintf(keys[p], YEAR_KEY_BYTES, "%s\x01%s\x01%s", locale, casing, letters[k++]);
    }
}

static at_status alloc_parts(at_ctx *ctx, date_template *t, const layout *ref, year_cache *cache,
                             char keys[][YEAR_KEY_BYTES], const int *keyed) {
    t->n_parts = ref->n;
    for (int p = 0; p < ref->n; p++) {
        date_part *part = &t->parts[p];
        part->kind = ref->kind[p];
        part->n = table_length(part->kind);
        const cached_years *hit = keyed[p] ? cache_find(cache, keys[p]) : NULL;
        for (int v = 0; v < VARIANTS; v++) {
            part->text[v] = hit ? hit->text[v] : calloc((size_t)part->n, sizeof(text_piece));
            if (!part->text[v]) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        }
        part->shared = hit != NULL;
    }
    return AT_OK;
}

/* ------------------------------------------------------------------ probes */

/* A probe date teaches the table entry `value` of every part of `kind`. */
typedef struct probe {
    part_kind kind;
    int value;
    int year, month, day;
} probe;

static int make_probes(probe *probes) {
    int n = 0;
    for (int y = 0; y < DATE_YEARS; y++)
        probes[n++] = (probe){PART_YEAR, y, DATE_FIRST_YEAR + y, 6, 15};
    for (int m = 0; m < 12; m++)
        probes[n++] = (probe){PART_MONTH, m, 2001, m + 1, 15};
    for (int d = 0; d < 31; d++)
        probes[n++] = (probe){PART_DAY, d, 2001, 1, d + 1};
    for (int w = 0; w < 7; w++)
        probes[n++] = (probe){PART_WEEKDAY, w, 2001, 1, 1 + w}; /* Monday */
    return n;
}

static double civil_udate(int year, int month, int day) {
    return (double)days_from_civil(year, month, day) * 86400000.0;
}

static int has_line_break(const UChar *text, int32_t len) {
    for (int32_t i = 0; i < len; i++)
        if (text[i] == '\t' || text[i] == '\n' || text[i] == '\r') return 1;
    return 0;
}

/* Every year part shares a cached table (and there is one): then only the
 * check years are asked of ICU. */
static int years_cached(const date_template *t) {
    int any = 0;
    for (int p = 0; p < t->n_parts; p++) {
        if (t->parts[p].kind != PART_YEAR) continue;
        if (!t->parts[p].shared) return 0;
        any = 1;
    }
    return any;
}

static int check_year(int value) { return value % YEAR_CHECK_STEP == 0 || value == DATE_YEARS - 1; }

/* A shared table entry must be what ICU writes here: *differs otherwise. */
static at_status compare_piece(at_ctx *ctx, const date_part *part, int value, const UChar *text,
                               int32_t len, int *differs) {
    char *folded;
    size_t bytes;
    AT_TRY(fold_to_utf8(ctx, text, len, &folded, &bytes));
    const text_piece *x = &part->text[VARIANT_KEEP][value];
    if (x->len != bytes || memcmp(x->bytes, folded, bytes)) *differs = 1;
    free(folded);
    return AT_OK;
}

/* Learn every table entry from the probes; literals from the reference.
 * Shared year tables are compared on the check years instead. */
static at_status learn_tables(at_ctx *ctx, UDateFormat *format, const char *locale,
                              date_template *t, const layout *ref, layout *probe_layout,
                              const char **unusable, int *differs) {
    for (int p = 0; p < ref->n; p++)
        if (ref->kind[p] == PART_LITERAL)
            AT_TRY(set_piece(ctx, &t->parts[p], 0, ref->text + ref->begin[p],
                             ref->end[p] - ref->begin[p], locale));
    probe probes[DATE_YEARS + 12 + 31 + 7];
    int n = make_probes(probes), skip_years = years_cached(t);
    for (int i = 0; i < n && !*unusable && !*differs; i++) {
        const probe *pr = &probes[i];
        if (pr->kind == PART_YEAR && skip_years && !check_year(pr->value)) continue;
        layout *l = probe_layout;
        AT_TRY(format_layout(ctx, format, civil_udate(pr->year, pr->month, pr->day), l, unusable));
        if (*unusable) break;
        if (!same_shape(ref, l))
            *unusable = "changes its layout with the date";
        else if (has_line_break(l->text, l->len))
            *unusable = "writes a tab or a line break";
        for (int p = 0; p < l->n && !*unusable; p++) {
            if (l->kind[p] != pr->kind) continue;
            const UChar *text = l->text + l->begin[p];
            int32_t len = l->end[p] - l->begin[p];
            if (t->parts[p].shared)
                AT_TRY(compare_piece(ctx, &t->parts[p], pr->value, text, len, differs));
            else
                AT_TRY(set_piece(ctx, &t->parts[p], pr->value, text, len, locale));
        }
    }
    return AT_OK;
}

/* Year tables learnt here go to the cache for the next formats. */
static at_status share_years(at_ctx *ctx, year_cache *cache, date_template *t,
                             char keys[][YEAR_KEY_BYTES], const int *keyed) {
    for (int p = 0; cache && p < t->n_parts; p++)
        if (keyed[p] && !t->parts[p].shared && !cache_find(cache, keys[p]))
            AT_TRY(cache_adopt(ctx, cache, keys[p], &t->parts[p]));
    return AT_OK;
}

/* ----------------------------------------------------------------- summary */

static int pieces_differ(const text_piece *a, const text_piece *b) {
    return a->len != b->len || memcmp(a->bytes, b->bytes, a->len) != 0;
}

static int variants_differ(const date_template *t, int v, int w) {
    for (int p = 0; p < t->n_parts; p++)
        for (int i = 0; i < t->parts[p].n; i++)
            if (pieces_differ(&t->parts[p].text[v][i], &t->parts[p].text[w][i])) return 1;
    return 0;
}

static void summarise(date_template *t) {
    t->n_variants = 0;
    t->variants[t->n_variants++] = VARIANT_KEEP;
    int upper = variants_differ(t, VARIANT_UPPER, VARIANT_KEEP);
    if (upper) t->variants[t->n_variants++] = VARIANT_UPPER;
    if (variants_differ(t, VARIANT_LOWER, VARIANT_KEEP) &&
        (!upper || variants_differ(t, VARIANT_LOWER, VARIANT_UPPER)))
        t->variants[t->n_variants++] = VARIANT_LOWER;
    uint64_t signature = (uint64_t)t->n_parts;
    t->max_bytes = 0;
    for (int p = 0; p < t->n_parts; p++) {
        const date_part *part = &t->parts[p];
        signature = hash_mix(signature + (uint64_t)part->kind);
        uint32_t longest = 0;
        for (int v = 0; v < VARIANTS; v++)
            for (int i = 0; i < part->n; i++) {
                const text_piece *x = &part->text[v][i];
                signature = hash_mix(signature ^ x->hash) + x->len;
                if (x->len > longest) longest = x->len;
            }
        t->max_bytes += longest;
    }
    t->signature = signature;
}

int template_equal(const date_template *a, const date_template *b) {
    if (a->signature != b->signature || a->n_parts != b->n_parts) return 0;
    for (int p = 0; p < a->n_parts; p++) {
        if (a->parts[p].kind != b->parts[p].kind) return 0;
        for (int v = 0; v < VARIANTS; v++)
            for (int i = 0; i < a->parts[p].n; i++)
                if (pieces_differ(&a->parts[p].text[v][i], &b->parts[p].text[v][i])) return 0;
    }
    return 1;
}

void template_free(date_template *t) {
    if (!t) return;
    for (int p = 0; p < t->n_parts; p++)
        for (int v = 0; v < VARIANTS && !t->parts[p].shared; v++)
            free_table(t->parts[p].text[v], t->parts[p].n);
    memset(t, 0, sizeof *t);
}

/* One attempt; *differs if a shared year table disagrees with ICU. */
static at_status build(at_ctx *ctx, UDateFormat *format, const char *locale, const char *casing,
                       year_cache *cache, date_template *out, const char **unusable, int *differs) {
    memset(out, 0, sizeof *out);
    *unusable = NULL;
    *differs = 0;
    layout *layouts = malloc(2 * sizeof *layouts);
    if (!layouts) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    char keys[TEMPLATE_MAX_PARTS][YEAR_KEY_BYTES];
    int keyed[TEMPLATE_MAX_PARTS] = {0};
    at_status s = format_layout(ctx, format, civil_udate(2001, 1, 1), &layouts[0], unusable);
    if (s == AT_OK && !*unusable && cache)
        year_keys(format, locale, casing, &layouts[0], keys, keyed);
    if (s == AT_OK && !*unusable) s = alloc_parts(ctx, out, &layouts[0], cache, keys, keyed);
    if (s == AT_OK && !*unusable)
        s = learn_tables(ctx, format, casing, out, &layouts[0], &layouts[1], unusable, differs);
    if (s == AT_OK && !*unusable && !*differs) s = share_years(ctx, cache, out, keys, keyed);
    free(layouts);
    if (s != AT_OK || *unusable || *differs) {
        template_free(out);
        return s;
    }
    summarise(out);
    return AT_OK;
}

at_status template_build(at_ctx *ctx, UDateFormat *format, const char *locale,
                         const char *casing_locale, year_cache *cache, date_template *out,
                         const char **unusable) {
    int differs = 0;
    at_status s = build(ctx, format, locale, casing_locale, cache, out, unusable, &differs);
    if (s == AT_OK && differs)
        s = build(ctx, format, locale, casing_locale, NULL, out, unusable, &differs);
    return s;
}
