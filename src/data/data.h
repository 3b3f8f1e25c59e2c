/*
 * data.h - what the files of src/data share and callers never see.
 *
 * The date generator is built in three layers, one file each:
 *   date_formats.c  turns one ICU date format (a locale and a pattern) into a
 *                   TEMPLATE: literal text and fields, each field a small
 *                   table of its renderings (800 years, 12 months, 31 days,
 *                   7 weekdays), already case-folded in every case variant.
 *                   With a template, the folded string of any of the 292,194
 *                   dates is a few table look-ups; ICU itself is asked about
 *                   a hundred times per format (a year table is shared by
 *                   the formats of a locale that write the year alike).
 *   ambiguity.c     proves, exactly, which templates can write one string
 *                   for two dates (over all dates and case variants), and
 *                   decides which formats to leave out.
 *   dates.c         the public generator: formats, the verdicts, sampling,
 *                   splits disjoint by string.
 */
#ifndef ATTEND_DATA_H
#define ATTEND_DATA_H

#include "attend.h"
#include "../text/text.h"

#include <unicode/udat.h>

#include <stddef.h>
#include <stdint.h>

/* --------------------------------------------------------------- calendar */

/* Leap years from year 1 to year y (Gregorian). */
#define DATE_LEAPS_THROUGH(y) ((y) / 4 - (y) / 100 + (y) / 400)

enum {
    DATE_FIRST_YEAR = AT_DATES_FIRST_YEAR,
    DATE_YEARS = AT_DATES_LAST_YEAR - AT_DATES_FIRST_YEAR + 1,
    /* 292,194 for 1600-01-01 .. 2399-12-31 */
    DATE_DAYS = 365 * DATE_YEARS + DATE_LEAPS_THROUGH(AT_DATES_LAST_YEAR) -
                DATE_LEAPS_THROUGH(AT_DATES_FIRST_YEAR - 1)
};

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
long days_from_civil(int year, int month, int day);
void civil_from_days(long days, int *year, int *month, int *day);
/* ICU's UDate (milliseconds since 1970-01-01 UTC) of a day index in
 * [0, DATE_DAYS), day 0 being AT_DATES_FIRST_YEAR-01-01. */
double date_index_udate(int index);
/* The weekday of a day since 1970-01-01, Monday = 0. */
int weekday_of_days(long days);
/* Make an ICU formatter's calendar Gregorian for all time (ICU switches
 * from the Julian calendar at 1582-10-15 by default). */
at_status make_proleptic(at_ctx *ctx, UDateFormat *format);

/* --------------------------------------------------------------- templates */

/* What a part of a formatted date depends on. The numbering doubles as the
 * index into a date's field values (date_fields below). */
typedef enum part_kind {
    PART_LITERAL, /* fixed text, or a field that is constant (the era)  */
    PART_YEAR,    /* DATE_YEARS values: 1600 .. 2399                   */
    PART_MONTH,   /* 12                                                */
    PART_DAY,     /* 31                                                */
    PART_WEEKDAY, /* 7, Monday first                                   */
    PART_KINDS
} part_kind;

/* The case variants a generated string may take; the template keeps the
 * case-folded UTF-8 of each (the key under which strings are compared). */
enum { VARIANT_KEEP = 0, VARIANT_UPPER = 1, VARIANT_LOWER = 2, VARIANTS = 3 };

enum { TEMPLATE_MAX_PARTS = 16 };

/* A piece of folded UTF-8 with its polynomial hash, so that the hash of a
 * concatenation is combined from the pieces' hashes without touching bytes:
 * h(a b) = h(a) * power(b) + h(b), power(s) = BASE^len(s) (mod 2^64). */
typedef struct text_piece {
    char *bytes;
    uint32_t len;
    uint64_t hash, power;
} text_piece;

typedef struct date_part {
    part_kind kind;
    int n;                      /* table length for the kind        */
    text_piece *text[VARIANTS]; /* n pieces per variant             */
    int shared;                 /* text belongs to a year_cache     */
} date_part;

typedef struct date_template {
    int n_parts;
    date_part parts[TEMPLATE_MAX_PARTS];
    int n_variants;         /* the variants that differ: 1 .. 3 */
    int variants[VARIANTS]; /* which; variants[0] = KEEP        */
    size_t max_bytes;       /* longest folded key, in bytes     */
    uint64_t signature;     /* equal templates, equal signature */
} date_template;

/* The field values of every day index, one per part kind: (year -
 * AT_DATES_FIRST_YEAR, month - 1, day - 1, weekday, 0 for literals). */
typedef uint16_t date_values[PART_KINDS];
typedef struct date_fields {
    date_values value[DATE_DAYS];
} date_fields;
void date_fields_fill(date_fields *fields);

/* Year tables already learnt, keyed by the locale and the year field's
 * pattern letters ("y", "yyyy", "u"): every formatter of one locale writes
 * a year field alike, so its DATE_YEARS renderings are asked of ICU once.
 * A template that uses an entry is re-checked against ICU on a spread of
 * years (both ends included). The cache owns the tables: free it after
 * every template that shares them. */
typedef struct year_cache year_cache;
at_status year_cache_create(at_ctx *ctx, year_cache **out);
void year_cache_free(year_cache *cache);

/* Build the template of a formatter whose pattern is already applied.
 * locale is the formatter's ICU id (the cache key; keywords included),
 * casing_locale is used for u_strToUpper/Lower; cache may be NULL. On
 * success *unusable is NULL. If the format cannot be modelled (a field
 * other than era, year, month, day and weekday; a layout that changes with
 * the date; a tab or newline in the output) *unusable names the reason and
 * the template is empty. Only ICU failures and memory are errors. */
at_status template_build(at_ctx *ctx, UDateFormat *format, const char *locale,
                         const char *casing_locale, year_cache *cache, date_template *out,
                         const char **unusable);
void template_free(date_template *t);
int template_equal(const date_template *a, const date_template *b);

/* The key of a date in a variant: its hash (fast), and its bytes (written
 * to out, which must hold t->max_bytes + 1; NUL-terminated). */
uint64_t template_hash(const date_template *t, int variant, const uint16_t *fields);
size_t template_key(const date_template *t, int variant, const uint16_t *fields, char *out);
/* The polynomial hash of bytes (as a text_piece's), one byte at a time;
 * *power = BASE^len if power is not NULL. */
#define TEXT_HASH_BASE 0x100000001b3ULL
static inline uint64_t text_hash_step(uint64_t h, char byte) {
    return h * TEXT_HASH_BASE + (unsigned char)byte + 1;
}
uint64_t text_hash(const char *bytes, size_t len, uint64_t *power);
/* A well-mixed 64-bit value of a key hash, for table slots and splits. */
uint64_t hash_mix(uint64_t h);

/* Fold (full Unicode case folding) UTF-16 into UTF-8; out is malloc'd. */
at_status fold_to_utf8(at_ctx *ctx, const UChar *text, int32_t len, char **out, size_t *out_len);

/* ------------------------------------------------------------- ambiguity */

typedef void (*ambiguity_progress)(void *user, const char *stage, long done, long total);

/* The conflict graph of n templates (none NULL): edges[a * n + b] = 1 iff
 * some folded string is written by template a for one date and by b for
 * another (a == b: the template alone is ambiguous), over every date and
 * case variant. edges holds n * n bytes, symmetric. Exact. */
at_status ambiguity_graph(at_ctx *ctx, int n, const date_template *const *templates, uint8_t *edges,
                          ambiguity_progress progress, void *progress_user);

/* Decide which of n templates to keep. templates[i] may be NULL (an
 * unusable format, never kept). On return keep[i] is 1 or 0 and, for a
 * dropped template, reason[i] is the index of a kept template it collides
 * with, or -1 if it collides with itself. progress may be NULL. */
at_status ambiguity_resolve(at_ctx *ctx, int n, const date_template *const *templates, int *keep,
                            int *reason, ambiguity_progress progress, void *progress_user);

#endif /* ATTEND_DATA_H */
