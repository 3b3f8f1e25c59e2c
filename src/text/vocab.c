/*
 * vocab.c - the vocabulary: what a model reads and writes, one id per unit.
 *
 * A unit is a character (a Unicode code point; the date translator) or a
 * token (a run of bytes between ASCII whitespace: the phones "K N AY T" of
 * a pronunciation, the words of a sentence). Either way the vocabulary is
 * the sorted set of units seen in the training text, after four special
 * tokens that are kept apart:
 *
 *   0 PAD    fills a batch row after its end; masked, never scored
 *   1 UNK    any unit the training text did not contain
 *   2 START  the decoder's first input
 *   3 END    the decoder's last output
 *   4 ...    the units, in increasing order
 *
 * (The seed used one token for both padding and unknown characters, and
 * scored the padding as if it were output.) Sorting makes the ids depend
 * only on the set of units, not on the order of the text.
 *
 * This file holds every public function, walking a text unit by unit
 * (unit_next) whatever the kind, and the characters kind itself; the
 * tokens kind's building, look-up and serialised form are vocab_tokens.c.
 *
 * Serialised form of a character vocabulary, kept in a checkpoint's
 * metadata: printable ASCII,
 *   "attend-vocab 1 N cp_1 cp_2 ... cp_N"
 * with N and the code points in lowercase hex, strictly increasing. Loading
 * checks every part of it (version, count, range, order, no trailing text)
 * and answers AT_ERR_FORMAT otherwise.
 */
#include "text.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB_MAGIC "attend-vocab 1 "
enum { CODE_POINTS = 0x110000 };

at_status vocab_alloc(at_ctx *ctx, at_vocab **out, at_vocab_kind kind, int32_t n,
                      size_t token_bytes) {
    at_vocab *v = calloc(1, sizeof *v);
    int tokens = kind == AT_VOCAB_TOKENS;
    size_t count = (size_t)(n > 0 ? n : 0);
    if (v && !tokens) v->code_points = malloc((count ? count : 1) * sizeof *v->code_points);
    if (v && tokens) v->token_bytes = malloc(token_bytes ? token_bytes : 1);
    if (v && tokens) v->token_start = calloc(count + 1, sizeof *v->token_start);
    if (!v || (tokens ? !v->token_bytes || !v->token_start : !v->code_points)) {
        at_vocab_free(v);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    }
    v->kind = kind;
    v->n_units = n;
    *out = v;
    return AT_OK;
}

void at_vocab_free(at_vocab *vocab) {
    if (!vocab) return;
    free(vocab->code_points);
    free(vocab->token_bytes);
    free(vocab->token_start);
    free(vocab);
}

/* ------------------------------------------------------------------ kinds */

static const char *const KIND_NAMES[] = {"chars", "words"};

const char *at_vocab_kind_name(at_vocab_kind kind) {
    return kind == AT_VOCAB_CHARS || kind == AT_VOCAB_TOKENS ? KIND_NAMES[kind] : NULL;
}

at_status at_vocab_kind_parse(at_ctx *ctx, const char *name, at_vocab_kind *out) {
    for (int k = AT_VOCAB_CHARS; name && out && k <= AT_VOCAB_TOKENS; k++)
        if (!strcmp(name, KIND_NAMES[k])) return *out = (at_vocab_kind)k, AT_OK;
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "unknown vocabulary kind '%s' (chars or words)",
                       name ? name : "(null)");
}

at_vocab_kind at_vocab_get_kind(const at_vocab *vocab) {
    return vocab ? vocab->kind : AT_VOCAB_CHARS;
}

/* "characters" or "tokens", for messages. */
static const char *unit_name(const at_vocab *vocab) {
    return vocab->kind == AT_VOCAB_TOKENS ? "tokens" : "characters";
}

/* ------------------------------------------------------------------ build */

static at_status mark_text(at_ctx *ctx, uint8_t *seen, const char *text, size_t index) {
    if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: text %zu is NULL", index);
    size_t len = strlen(text), pos = 0;
    while (pos < len) {
        int32_t cp = at_utf8_next(text, len, &pos);
        if (cp < 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: text %zu: invalid UTF-8 at byte %zu",
                               index, pos);
        seen[cp >> 3] |= (uint8_t)(1u << (cp & 7));
    }
    return AT_OK;
}

static int32_t count_marked(const uint8_t *seen) {
    int32_t n = 0;
    for (uint32_t cp = 0; cp < CODE_POINTS; cp++)
        n += (seen[cp >> 3] >> (cp & 7)) & 1;
    return n;
}

static at_status build_chars(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts) {
    uint8_t *seen = calloc(CODE_POINTS / 8, 1);
    if (!seen) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    at_status s = AT_OK;
    for (size_t i = 0; i < n && s == AT_OK; i++)
        s = mark_text(ctx, seen, texts[i], i);
    at_vocab *v = NULL;
    if (s == AT_OK) s = vocab_alloc(ctx, &v, AT_VOCAB_CHARS, count_marked(seen), 0);
    if (s == AT_OK) {
        int32_t k = 0;
        for (uint32_t cp = 0; cp < CODE_POINTS; cp++)
            if ((seen[cp >> 3] >> (cp & 7)) & 1) v->code_points[k++] = cp;
        *out = v;
    }
    free(seen);
    return s;
}

at_status at_vocab_build_kind(at_ctx *ctx, at_vocab **out, at_vocab_kind kind, size_t n,
                              const char *const *texts) {
    if (!out || (n && !texts)) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: NULL argument");
    if (kind == AT_VOCAB_TOKENS) return vocab_tokens_build(ctx, out, n, texts);
    if (kind != AT_VOCAB_CHARS)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: unknown kind %d", (int)kind);
    return build_chars(ctx, out, n, texts);
}

at_status at_vocab_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts) {
    return at_vocab_build_kind(ctx, out, AT_VOCAB_CHARS, n, texts);
}

/* ---------------------------------------------------------------- lookups */

int32_t at_vocab_size(const at_vocab *vocab) {
    return vocab ? AT_TOKEN_FIRST_CHAR + vocab->n_units : 0;
}

static int32_t find_code_point(const at_vocab *vocab, uint32_t code_point) {
    int32_t lo = 0, hi = vocab->n_units - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        uint32_t here = vocab->code_points[mid];
        if (here == code_point) return AT_TOKEN_FIRST_CHAR + mid;
        if (here < code_point)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return AT_TOKEN_UNK;
}

int32_t at_vocab_id(const at_vocab *vocab, uint32_t code_point) {
    if (vocab->kind == AT_VOCAB_CHARS) return find_code_point(vocab, code_point);
    char bytes[8];
    size_t n = code_point < CODE_POINTS ? at_utf8_put(bytes, sizeof bytes, code_point) : 0;
    return n ? vocab_tokens_find(vocab, bytes, n) : AT_TOKEN_UNK;
}

int32_t at_vocab_token_id(const at_vocab *vocab, const char *token) {
    if (!vocab || !token) return AT_TOKEN_UNK;
    size_t len = strlen(token), pos = 0;
    if (vocab->kind == AT_VOCAB_TOKENS) return vocab_tokens_find(vocab, token, len);
    int32_t cp = len ? at_utf8_next(token, len, &pos) : -1;
    return cp >= 0 && pos == len ? find_code_point(vocab, (uint32_t)cp) : AT_TOKEN_UNK;
}

uint32_t at_vocab_code_point(const at_vocab *vocab, int32_t id) {
    if (!vocab || vocab->kind != AT_VOCAB_CHARS) return 0;
    if (id < AT_TOKEN_FIRST_CHAR || id >= at_vocab_size(vocab)) return 0;
    return vocab->code_points[id - AT_TOKEN_FIRST_CHAR];
}

const char *at_vocab_token(const at_vocab *vocab, int32_t id) {
    if (!vocab || vocab->kind != AT_VOCAB_TOKENS) return NULL;
    if (id < AT_TOKEN_FIRST_CHAR || id >= at_vocab_size(vocab)) return NULL;
    return vocab->token_bytes + vocab->token_start[id - AT_TOKEN_FIRST_CHAR];
}

/* --------------------------------------------------------- walking a text */

/* The next unit of valid UTF-8 text[*pos, len): a code point or a token.
 * Sets *start to its first byte and *pos past it; returns its length in
 * bytes, 0 when no unit is left. */
static size_t unit_next(const at_vocab *vocab, const char *text, size_t len, size_t *pos,
                        size_t *start) {
    if (vocab->kind == AT_VOCAB_TOKENS) return token_next(text, len, pos, start);
    *start = *pos;
    if (*pos >= len || at_utf8_next(text, len, pos) < 0) return 0;
    return *pos - *start;
}

static int32_t unit_id(const at_vocab *vocab, const char *unit, size_t len) {
    if (vocab->kind == AT_VOCAB_TOKENS) return vocab_tokens_find(vocab, unit, len);
    size_t pos = 0;
    return find_code_point(vocab, (uint32_t)at_utf8_next(unit, len, &pos));
}

size_t at_vocab_length(const at_vocab *vocab, const char *text) {
    if (!vocab || !text) return 0;
    if (vocab->kind == AT_VOCAB_CHARS) return at_utf8_length(text);
    size_t len = strlen(text), pos = 0, start, n = 0;
    while (token_next(text, len, &pos, &start))
        n++;
    return n;
}

at_status vocab_token_too_long(at_ctx *ctx, const char *what, size_t start, size_t len) {
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                       "%s: the token at byte %zu is %zu bytes long, more than the limit %d",
                       what, start, len, AT_VOCAB_MAX_TOKEN_BYTES);
}

/* Check that text[0, len) is valid UTF-8 without an over-long token, and
 * count its units. */
static at_status count_units(at_ctx *ctx, const at_vocab *vocab, const char *text, size_t len,
                             const char *what, size_t *count) {
    AT_TRY(at_utf8_check(ctx, text, len, what));
    size_t pos = 0, start, unit, n = 0;
    while ((unit = unit_next(vocab, text, len, &pos, &start)) > 0) {
        if (unit > AT_VOCAB_MAX_TOKEN_BYTES) return vocab_token_too_long(ctx, what, start, unit);
        n++;
    }
    *count = n;
    return AT_OK;
}

/* ------------------------------------------------------- encode / decode */

at_status at_vocab_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, int32_t *ids,
                          int capacity, int *length) {
    if (!vocab || !text || !length || (capacity > 0 && !ids))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab encode: NULL argument");
    size_t len = strlen(text), pos = 0, start, unit, count = 0;
    AT_TRY(count_units(ctx, vocab, text, len, "vocab encode", &count));
    if (count > (size_t)(capacity > 0 ? capacity : 0))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "vocab encode: the text has %zu %s, more than the limit %d", count,
                           unit_name(vocab), capacity);
    int n = 0;
    while ((unit = unit_next(vocab, text, len, &pos, &start)) > 0)
        ids[n++] = unit_id(vocab, text + start, unit);
    *length = n;
    return AT_OK;
}

size_t at_vocab_decode_size(const at_vocab *vocab, int n) {
    if (!vocab || n <= 0) return 1;
    /* a token and its space; UNK is U+FFFD, 3 bytes */
    size_t unit = vocab->kind == AT_VOCAB_TOKENS
                      ? (size_t)(vocab->max_token_bytes > 3 ? vocab->max_token_bytes : 3) + 1
                      : 4;
    return (size_t)n * unit + 1;
}

/* Append the UTF-8 of one unit id (not a special but UNK) to text[*used]. */
static int put_unit(const at_vocab *vocab, int32_t id, char *text, size_t size, size_t *used) {
    if (vocab->kind == AT_VOCAB_CHARS) {
        uint32_t cp = id == AT_TOKEN_UNK ? 0xFFFD : at_vocab_code_point(vocab, id);
        size_t wrote = at_utf8_put(text + *used, size - *used, cp);
        *used += wrote;
        return wrote > 0;
    }
    const char *token = id == AT_TOKEN_UNK ? "\xEF\xBF\xBD" : at_vocab_token(vocab, id);
    size_t n = strlen(token), space = *used > 0;
    if (*used + space + n >= size) return 0;
    if (space) text[(*used)++] = ' ';
    memcpy(text + *used, token, n);
    *used += n;
    return 1;
}

at_status at_vocab_decode(at_ctx *ctx, const at_vocab *vocab, const int32_t *ids, int n, char *text,
                          size_t size) {
    if (!vocab || (n > 0 && !ids) || !text || size == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab decode: NULL argument or no room");
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= at_vocab_size(vocab))
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "vocab decode: id %d at position %d is outside [0, %d)", id, i,
                               at_vocab_size(vocab));
        if (id == AT_TOKEN_END) break;
        if (id == AT_TOKEN_PAD || id == AT_TOKEN_START) continue;
        if (!put_unit(vocab, id, text, size, &used)) {
            text[used] = 0;
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "vocab decode: the text does not fit in %zu bytes", size);
        }
    }
    text[used] = 0;
    return AT_OK;
}

at_status at_vocab_split(at_ctx *ctx, const at_vocab *vocab, const char *text, char ***units,
                         int *n) {
    if (!vocab || !text || !units || !n)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab split: NULL argument");
    size_t len = strlen(text), pos = 0, start, unit, count = 0;
    AT_TRY(count_units(ctx, vocab, text, len, "vocab split", &count));
    if (count > INT32_MAX / 2)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab split: %zu %s is too many", count,
                           unit_name(vocab));
    /* the pointers, then every unit and its NUL (at most len + count bytes) */
    char **list = malloc((count ? count : 1) * sizeof *list + len + count + 1);
    if (!list) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab split: out of memory");
    char *bytes = (char *)(list + (count ? count : 1));
    for (size_t k = 0; (unit = unit_next(vocab, text, len, &pos, &start)) > 0; k++) {
        list[k] = bytes;
        memcpy(bytes, text + start, unit);
        bytes[unit] = 0;
        bytes += unit + 1;
    }
    *units = list;
    *n = (int)count;
    return AT_OK;
}

/* ---------------------------------------------------------- serialisation */

at_status at_vocab_to_string(at_ctx *ctx, const at_vocab *vocab, char **out) {
    if (!vocab || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: NULL argument");
    if (vocab->kind == AT_VOCAB_TOKENS) return vocab_tokens_to_string(ctx, vocab, out);
    size_t size = sizeof VOCAB_MAGIC + 16 + (size_t)vocab->n_units * 7;
    char *text = malloc(size);
    if (!text) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    size_t used = (size_t)snprintf(text, size, "%s%x", VOCAB_MAGIC, (unsigned)vocab->n_units);
    for (int32_t i = 0; i < vocab->n_units; i++)
        used += (size_t)snprintf(text + used, size - used, " %x", (unsigned)vocab->code_points[i]);
    *out = text;
    return AT_OK;
}

int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int parse_hex(const char **p, uint32_t *value) {
    const char *s = *p;
    uint32_t v = 0;
    int digits = 0;
    for (; digits < 9; digits++, s++) {
        int d = hex_digit(*s);
        if (d < 0) break;
        v = v * 16 + (uint32_t)d;
    }
    if (digits == 0 || digits > 8) return 0;
    *p = s;
    *value = v;
    return 1;
}

static int valid_character(uint32_t cp) {
    return cp > 0 && cp < CODE_POINTS && !(cp >= 0xD800 && cp <= 0xDFFF);
}

static at_status parse_code_points(at_ctx *ctx, const char *p, at_vocab *v) {
    for (int32_t i = 0; i < v->n_units; i++) {
        uint32_t cp;
        if (*p++ != ' ' || !parse_hex(&p, &cp))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: entry %d is missing or not hex", i);
        if (!valid_character(cp))
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: entry %d (%x) is not a character", i,
                               cp);
        if (i > 0 && cp <= v->code_points[i - 1])
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "vocab: entry %d (%x) is not above the one before", i, cp);
        v->code_points[i] = cp;
    }
    if (*p) return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: text after the last entry");
    return AT_OK;
}

at_status at_vocab_from_string(at_ctx *ctx, at_vocab **out, const char *text) {
    if (!out || !text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: NULL argument");
    if (strncmp(text, VOCAB_TOKENS_MAGIC, sizeof VOCAB_TOKENS_MAGIC - 1) == 0)
        return vocab_tokens_from_string(ctx, out, text);
    if (strncmp(text, VOCAB_MAGIC, sizeof VOCAB_MAGIC - 1) != 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: not an attend vocabulary (version 1)");
    const char *p = text + sizeof VOCAB_MAGIC - 1;
    uint32_t count;
    if (!parse_hex(&p, &count) || count > CODE_POINTS || count > strlen(p) / 2)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: bad character count");
    at_vocab *v = NULL;
    AT_TRY(vocab_alloc(ctx, &v, AT_VOCAB_CHARS, (int32_t)count, 0));
    at_status s = parse_code_points(ctx, p, v);
    if (s != AT_OK) {
        at_vocab_free(v);
        return s;
    }
    *out = v;
    return AT_OK;
}

at_status at_vocab_copy(at_ctx *ctx, at_vocab **out, const at_vocab *vocab) {
    char *text = NULL;
    at_status s = at_vocab_to_string(ctx, vocab, &text);
    if (s == AT_OK) s = at_vocab_from_string(ctx, out, text);
    free(text);
    return s;
}
