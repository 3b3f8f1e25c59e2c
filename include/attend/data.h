/*
 * attend/data.h - data sets made with ICU: the date translator's dates in
 * many locales (libattend-data, which needs ICU).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 */
#ifndef ATTEND_API_DATA_H
#define ATTEND_API_DATA_H

#include "attend/core.h"
#include "attend/text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The date data set. Random calendar dates from AT_DATES_FIRST_YEAR-01-01
 * to AT_DATES_LAST_YEAR-12-31 (1600 to 2399: 292,194 days, Gregorian
 * throughout) written by ICU (CLDR data) in many locales, in the styles
 * full, long, medium and short, in a list of patterns, and in a "bare"
 * (punctuation between fields made one space: "May 9 2018") and a "spaced"
 * (spaces doubled, separators set off: "9  May  2018", "2018 - 05 - 09")
 * variant of the styles and default patterns - every one in English
 * locales, the numeric ones in all - then upper-cased (25%), lower-cased
 * (25%) or left alone (50%), each paired with its ISO date "YYYY-MM-DD".
 * Every format uses the Gregorian calendar and the calendar year (never the
 * week-based year 'Y'), and keeps its locale's own digits. No source
 * string, case-folded, maps to two dates: before sampling, every format is
 * checked against every other over all 292,194 dates, exactly, and the
 * formats that would make a string ambiguous are left out (see
 * src/data/ambiguity.c for the proof and the rule). A generator is not
 * thread-safe: use one per thread. */
#define AT_DATES_FIRST_YEAR 1600
#define AT_DATES_LAST_YEAR 2399
#define AT_DATE_MAX_BYTES 256 /* longest source, NUL included */

typedef enum at_case_style { AT_CASE_KEEP, AT_CASE_UPPER, AT_CASE_LOWER } at_case_style;
typedef struct at_dates at_dates;

typedef struct at_dates_options {
    const char *const *locales; /* ICU locale ids ("fr", "en_GB", "pt-BR");  */
    int locale_count;           /* NULL / 0 = the defaults                   */
    const char *const *patterns; /* ICU patterns used in every locale besides
                                    the four styles; NULL = the defaults (use
                                    a non-NULL list with pattern_count 0 for
                                    the styles alone). Taken as written: a
                                    'yy' or 'Y' here is checked, not fixed,
                                    and has no bare or spaced variant. */
    int pattern_count;
    /* Called now and then while the formats are checked and pairs drawn;
     * may be NULL. stage is "checking formats" or "drawing pairs". */
    void (*progress)(void *user, const char *stage, long done, long total);
    void *progress_user;
} at_dates_options;

AT_API int at_dates_default_locale_count(void); /* >= 20 */
AT_API const char *at_dates_default_locale(int index);

/* Open every format and decide which to keep. Takes about 0.4 s for the
 * 24 default locales. An unknown locale is an AT_ERR_ARGUMENT naming it. */
AT_API at_status at_dates_create(at_ctx *ctx, at_dates **out, const at_dates_options *opts);
AT_API void at_dates_free(at_dates *dates);

typedef struct at_date_format {
    const char *locale;  /* as given                                       */
    const char *name;    /* "full", "long", "medium", "short" or a pattern,
                            then " bare" or " spaced" for a variant       */
    const char *pattern; /* the ICU pattern used: a style's own, with a
                            two-digit year 'yy' widened to 'y'             */
    int kept;            /* 1 if pairs are drawn from it                   */
    const char *reason;  /* why it was left out; "" if kept                */
} at_date_format;
AT_API int at_dates_format_count(const at_dates *dates);
AT_API const at_date_format *at_dates_format(const at_dates *dates, int index);
/* Kept formats, and locales with at least one kept format. */
AT_API int at_dates_kept_count(const at_dates *dates);
AT_API int at_dates_locale_count(const at_dates *dates);

/* One random pair: a date uniformly in range, a locale uniformly among those
 * with a kept format, one of its kept formats uniformly, and a case style.
 * source holds AT_DATE_MAX_BYTES; target "YYYY-MM-DD" (11 bytes). */
typedef struct at_date_sample {
    char source[AT_DATE_MAX_BYTES];
    char target[11];
    int format;             /* index for at_dates_format()   */
    at_case_style case_style;
} at_date_sample;
AT_API at_status at_dates_sample(at_ctx *ctx, at_dates *dates, at_rng *rng, at_date_sample *out);

/* Draw sizes[0] training, sizes[1] validation and sizes[2] test pairs, all
 * distinct (case-folded), into splits[0..2] (each must be empty). Each
 * distinct string belongs to one split by a seeded hash, so the splits are
 * disjoint by source string. The same seed and locales give the same pairs
 * in the same order. Asking for more pairs than the formats can make is an
 * AT_ERR_ARGUMENT. */
AT_API at_status at_dates_generate(at_ctx *ctx, at_dates *dates, uint64_t seed, const long sizes[3],
                            at_pairs splits[3]);

/* Dates a model never saw, for evaluation: `count` pairs drawn with
 * at_dates_sample from `seed`, distinct once case-folded, none of whose
 * folded source equals a source of the training or validation pairs that
 * at_dates_generate(train_seed, {train_sizes[0], train_sizes[1], 0}) makes
 * (the model's training data; sizes 0 and 0 = nothing to leave out), and
 * only from locales whose name starts with only_prefix (NULL = all). out
 * must be empty; locales (count entries, or NULL) receive each pair's
 * locale (strings owned by dates). Too few dates to draw is an
 * AT_ERR_ARGUMENT. */
typedef struct at_dates_held_out_options {
    uint64_t train_seed;
    long train_sizes[2];
    uint64_t seed;
    long count;
    const char *only_prefix;
} at_dates_held_out_options;
AT_API at_status at_dates_held_out(at_ctx *ctx, at_dates *dates, const at_dates_held_out_options *opts,
                            at_pairs *out, const char **locales);

/* Format one date with one ICU pattern in a locale (Gregorian, UTC, no case
 * change) into out[size]. For checks and examples, e.g. that the week-based
 * year "YYYY" writes 2024-12-30 as 2025 while "y" writes 2024. */
AT_API at_status at_date_format_pattern(at_ctx *ctx, const char *locale, const char *pattern, int year,
                                 int month, int day, char *out, size_t size);

/* ---------------------------------------------------------------- folding
 * text brought to a character vocabulary's alphabet (src/data/fold.c):
 * each character the vocabulary does not hold becomes its upper-, lower-
 * or title-case form (ICU's simple case mappings), the first one it holds;
 * "knight" -> "KNIGHT" for a model trained on upper-case words. *out is
 * malloc'd (the caller frees it). Invalid UTF-8, a text over 64 KB, a
 * token vocabulary, or a character none of whose forms the vocabulary
 * holds is an AT_ERR_ARGUMENT naming it, its position and the alphabet. */
AT_API at_status at_vocab_fold(at_ctx *ctx, const at_vocab *vocab, const char *text, char **out);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_DATA_H */
