/*
 * attend/text.h - text data: UTF-8, vocabularies, text pairs and TSV files,
 * and the edit distance and error rates that score text output (libattend).
 *
 * Part of the public contract of libattend; include <attend.h> for all of
 * it. The conventions (errors, shapes, the one mask convention, memory,
 * gradients) are written once, at the top of attend/core.h.
 */
#ifndef ATTEND_API_TEXT_H
#define ATTEND_API_TEXT_H

#include "attend/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ data
 * Text pairs, vocabularies (characters or tokens), TSV files, the generated date
 * data set (human-written date -> ISO date) of the date translator.
 * Strings are UTF-8 everywhere. A character is a Unicode code point.   */

/* A list of (source, target) text pairs: a generated data set or a user's
 * TSV. Start from {0}; the set owns copies of its strings. */
typedef struct at_pairs {
    size_t count, capacity;
    char **source;
    char **target;
} at_pairs;
/* Append a copy of one pair. Both must be valid, non-empty UTF-8 without a
 * tab, CR or LF, and the source must not start with U+FEFF (a TSV reader
 * drops it at the start of a file), so the pair survives a TSV round trip;
 * else AT_ERR_ARGUMENT. */
AT_API at_status at_pairs_add(at_ctx *ctx, at_pairs *pairs, const char *source, const char *target);
AT_API void at_pairs_clear(at_pairs *pairs); /* frees every string; leaves {0} */

/* Read a TSV file of source<TAB>target lines (users bring their own data).
 * Every line must be valid UTF-8 with exactly two non-empty fields of at
 * most max_chars code points each (0 = no limit), and a pair at_pairs_add
 * accepts. CRLF line ends, a final
 * line without a newline, and a UTF-8 byte order mark are accepted; empty
 * lines are skipped. out must be empty; on any error it stays empty and the
 * message reads "PATH:LINE: what is wrong" (AT_ERR_FORMAT; AT_ERR_IO if the
 * file cannot be read). A file larger than 1 GB is an AT_ERR_FORMAT. */
AT_API at_status at_pairs_read_tsv(at_ctx *ctx, const char *path, int max_chars, at_pairs *out);
/* Write pairs as TSV (LF line ends), atomically: a temporary file in the
 * same directory, flushed, then renamed over path. */
AT_API at_status at_pairs_write_tsv(at_ctx *ctx, const char *path, const at_pairs *pairs);
/* Move the last `percent`% of train (at least one pair; percent 1..50) to
 * the end of valid, e.g. to validate on a TSV that came without a
 * validation file. Fewer than 2 pairs is an AT_ERR_ARGUMENT. */
AT_API at_status at_pairs_hold_out(at_ctx *ctx, at_pairs *train, at_pairs *valid, int percent);
/* A 64-bit fingerprint (FNV-1a) of every pair, in order: the same pairs
 * give the same number; a resumed run checks it names the same data. */
AT_API uint64_t at_pairs_fingerprint(const at_pairs *pairs);
/* Sources counted once per run of consecutive equal sources: the items of
 * a set whose pairs give a source several references on consecutive lines
 * (a word's pronunciations). */
AT_API size_t at_pairs_count_sources(const at_pairs *pairs);
/* Thin pairs to a slice spread over the whole set, for a quick run: every
 * k-th source (a run of consecutive equal sources) with all its pairs,
 * k = floor(count / n), so between n and 2n pairs are kept; n = 0 or
 * n >= count / 2 keeps everything. (A sorted file's first n pairs would
 * hold only sources that start with A.) On failure pairs is unchanged. */
AT_API at_status at_pairs_thin(at_ctx *ctx, at_pairs *pairs, size_t n);

/* AT_OK if text[0, len) is valid UTF-8 (no overlong forms, surrogates,
 * code points above U+10FFFF or stray bytes). Otherwise AT_ERR_ARGUMENT
 * with the message "WHAT: invalid UTF-8 at byte OFFSET". */
AT_API at_status at_utf8_check(at_ctx *ctx, const char *text, size_t len, const char *what);
/* Decode one code point of valid UTF-8 at text[*pos] (len bytes in all),
 * advancing *pos past it. Returns the code point, or -1 if the bytes there
 * are not valid UTF-8 (truncated, overlong, a surrogate, above U+10FFFF, a
 * stray continuation byte); *pos is then left at the bad byte. The one
 * UTF-8 decoder of attend: the vocabularies, the TSV reader and the
 * figures all step through text with it. */
AT_API int32_t at_utf8_next(const char *text, size_t len, size_t *pos);
/* Append the UTF-8 form of a valid code point to out (size bytes in all,
 * NUL-terminated); returns its bytes (1..4), or 0 if it does not fit. */
AT_API size_t at_utf8_put(char *out, size_t size, uint32_t code_point);
/* The number of code points in valid UTF-8 text. */
AT_API size_t at_utf8_length(const char *text);

/* A vocabulary: what the model reads or writes, one id per unit. Two kinds
 * of unit (a model may use a different kind on each side):
 *   AT_VOCAB_CHARS   a Unicode code point (the date translator)
 *   AT_VOCAB_TOKENS  a token: a run of bytes between ASCII whitespace
 *                    (space, \t, \n, \v, \f, \r), e.g. the phones of
 *                    "K N AY T" or the words of a sentence; at most
 *                    AT_VOCAB_MAX_TOKEN_BYTES bytes
 * Ids 0..3 are the special tokens, kept apart (the seed used one token for
 * both padding and unknown characters); the units follow in increasing
 * order (code points; tokens bytewise), so the ids depend only on the set
 * of units, not on the order of the text. */
enum {
    AT_TOKEN_PAD = 0,   /* padding: masked, never scored               */
    AT_TOKEN_UNK = 1,   /* a unit the vocabulary has not seen          */
    AT_TOKEN_START = 2, /* the decoder's first input                   */
    AT_TOKEN_END = 3,   /* ends an output                              */
    AT_TOKEN_FIRST_CHAR = 4 /* the first unit (character or token)     */
};
typedef enum at_vocab_kind { AT_VOCAB_CHARS, AT_VOCAB_TOKENS } at_vocab_kind;
#define AT_VOCAB_MAX_TOKEN_BYTES 256 /* longest token, in bytes            */
#define AT_VOCAB_MAX_TOKENS 1000000  /* most tokens (specials excluded)     */
typedef struct at_vocab at_vocab;

/* "chars" or "words" (tokens); NULL if out of range. */
AT_API const char *at_vocab_kind_name(at_vocab_kind kind);
/* The kind named `name` (as above), or AT_ERR_ARGUMENT listing the names. */
AT_API at_status at_vocab_kind_parse(at_ctx *ctx, const char *name, at_vocab_kind *out);

/* Every unit of n UTF-8 texts. Invalid UTF-8 is an AT_ERR_ARGUMENT naming
 * the text's index and the byte offset; so is a token longer than
 * AT_VOCAB_MAX_TOKEN_BYTES (naming its offset and length), or more than
 * AT_VOCAB_MAX_TOKENS distinct tokens. at_vocab_build is the chars kind. */
AT_API at_status at_vocab_build_kind(at_ctx *ctx, at_vocab **out, at_vocab_kind kind, size_t n,
                              const char *const *texts);
AT_API at_status at_vocab_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts);
AT_API void at_vocab_free(at_vocab *vocab);
AT_API at_vocab_kind at_vocab_get_kind(const at_vocab *vocab);
AT_API int32_t at_vocab_size(const at_vocab *vocab); /* specials included */
/* The id of a code point (tokens: of the token made of that one
 * character); AT_TOKEN_UNK if unseen. */
AT_API int32_t at_vocab_id(const at_vocab *vocab, uint32_t code_point);
/* The id of a unit given as a NUL-terminated string: a token, or (chars)
 * a string of exactly one code point; AT_TOKEN_UNK otherwise. */
AT_API int32_t at_vocab_token_id(const at_vocab *vocab, const char *token);
/* The code point of a character id; 0 for special or out-of-range ids and
 * for a token vocabulary. */
AT_API uint32_t at_vocab_code_point(const at_vocab *vocab, int32_t id);
/* The token of a token id (NUL-terminated, owned by the vocabulary); NULL
 * for special or out-of-range ids and for a character vocabulary. */
AT_API const char *at_vocab_token(const at_vocab *vocab, int32_t id);
/* The units of valid UTF-8 text: code points, or tokens. */
AT_API size_t at_vocab_length(const at_vocab *vocab, const char *text);
/* One id per unit of text (no START or END added); unseen units become
 * AT_TOKEN_UNK. Invalid UTF-8 is an AT_ERR_ARGUMENT naming the byte
 * offset; so is a token longer than AT_VOCAB_MAX_TOKEN_BYTES; more than
 * capacity units is an AT_ERR_ARGUMENT naming both counts. *length
 * receives the number of ids (0 for a token text of only whitespace). */
AT_API at_status at_vocab_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, int32_t *ids,
                          int capacity, int *length);
/* Ids back to UTF-8 (NUL-terminated in text[size]): stops at the first
 * END, skips PAD and START, writes UNK as U+FFFD; tokens are joined by one
 * space. An id outside the vocabulary, or text too small, is an
 * AT_ERR_ARGUMENT. at_vocab_decode_size: bytes that always hold the text
 * of n ids, NUL included. */
AT_API at_status at_vocab_decode(at_ctx *ctx, const at_vocab *vocab, const int32_t *ids, int n,
                          char *text, size_t size);
AT_API size_t at_vocab_decode_size(const at_vocab *vocab, int n);
/* The units of text as strings, e.g. labels for an attention map: *units
 * gets *n pointers to NUL-terminated copies, all in one malloc'd block
 * (release it with one free()). Errors as at_vocab_encode. */
AT_API at_status at_vocab_split(at_ctx *ctx, const at_vocab *vocab, const char *text, char ***units,
                         int *n);
/* A printable ASCII string that holds the whole vocabulary (for checkpoint
 * metadata); *out is malloc'd, release it with free(). from_string reads
 * either kind, validates everything and answers AT_ERR_FORMAT for a
 * corrupt string. The forms (N and the code points in lowercase hex):
 *   chars   "attend-vocab 1 N cp_1 ... cp_N"             increasing
 *   tokens  "attend-vocab-tokens 1 N hex_1 ... hex_N end" hex_i = the
 *           token's UTF-8 bytes, two lowercase hex digits each, in
 *           strictly increasing bytewise order of the tokens; "end" makes
 *           any truncation an error */
AT_API at_status at_vocab_to_string(at_ctx *ctx, const at_vocab *vocab, char **out);
AT_API at_status at_vocab_from_string(at_ctx *ctx, at_vocab **out, const char *text);
/* A new vocabulary with the same units and ids (through the string above):
 * for a second model over the same data (the models take ownership). */
AT_API at_status at_vocab_copy(at_ctx *ctx, at_vocab **out, const at_vocab *vocab);

/* --------------------------------------------------------------- metrics
 * How far an output is from its references, over tokens: runs of bytes
 * between ASCII whitespace (as AT_VOCAB_TOKENS cuts them: "N AY T" is 3
 * tokens, and so is " N  AY T\n"), compared byte for byte. */
#define AT_EDIT_MAX_TOKENS 10000 /* the most tokens a text may have here */

/* The Levenshtein distance between the token sequences of a and b: the
 * fewest insertions, deletions and substitutions of one token (each costs
 * 1) that turn one into the other. *out = 0 exactly when the sequences are
 * equal; the distance to an empty text is the other's token count. Memory
 * O(min(n, m)) (one row of the dynamic programme, over the shorter), time
 * O(n m). A NULL argument, or more than AT_EDIT_MAX_TOKENS tokens in a or
 * b, is an AT_ERR_ARGUMENT. */
AT_API at_status at_token_edit_distance(at_ctx *ctx, const char *a, const char *b, int *out);

/* Word and phone error rates, summed over words, as the G2P papers define
 * them. Start from {0}. */
typedef struct at_wer {
    long words;           /* words scored                                 */
    long words_wrong;     /* words whose output equals none of its refs   */
    long edits;           /* summed distance to the closest reference     */
    long reference_units; /* summed token count of those closest refs     */
} at_wer;

/* Score one word's output against its nrefs >= 1 references (every one
 * with at least one token; the output may be empty): words += 1; the word
 * is wrong unless the output equals one of the references token by token;
 * edits += the smallest at_token_edit_distance to a reference;
 * reference_units += the token count of that closest reference (the first
 * of them on a tie). On any error (a NULL argument, nrefs < 1, an empty
 * reference, a text over AT_EDIT_MAX_TOKENS tokens: AT_ERR_ARGUMENT) score
 * is left unchanged. */
AT_API at_status at_wer_add(at_ctx *ctx, at_wer *score, const char *output, const char *const *refs,
                            int nrefs);
/* WER = words_wrong / words; PER = edits / reference_units. Both are 0
 * when nothing was scored (never NaN) and may exceed 1 for PER. */
AT_API double at_wer_rate(const at_wer *s);
AT_API double at_per_rate(const at_wer *s);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_API_TEXT_H */
