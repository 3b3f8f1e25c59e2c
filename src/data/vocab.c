/*
 * vocab.c - a character-level vocabulary over Unicode code points.
 *
 * A model reads and writes characters, so the vocabulary is simply the
 * sorted set of code points seen in the training text, after four special
 * tokens that are kept apart:
 *
 *   0 PAD    fills a batch row after its end; masked, never scored
 *   1 UNK    any character the training text did not contain
 *   2 START  the decoder's first input
 *   3 END    the decoder's last output
 *   4 ...    the characters, in increasing code point order
 *
 * (The seed used one token for both padding and unknown characters, and
 * scored the padding as if it were output.) Sorting makes the ids depend
 * only on the set of characters, not on the order of the text.
 *
 * Serialised form, kept in a checkpoint's metadata: printable ASCII,
 *   "attend-vocab 1 N cp_1 cp_2 ... cp_N"
 * with N and the code points in lowercase hex, strictly increasing. Loading
 * checks every part of it (version, count, range, order, no trailing text)
 * and answers AT_ERR_FORMAT otherwise.
 */
#include "data.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB_MAGIC "attend-vocab 1 "
enum { CODE_POINTS = 0x110000 };

struct at_vocab {
    int32_t n_chars;
    uint32_t *code_points; /* n_chars, strictly increasing */
};

static at_status vocab_alloc(at_ctx *ctx, at_vocab **out, int32_t n_chars) {
    at_vocab *v = calloc(1, sizeof *v);
    uint32_t *cps = malloc((size_t)(n_chars > 0 ? n_chars : 1) * sizeof *cps);
    if (!v || !cps) {
        free(v);
        free(cps);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    }
    v->n_chars = n_chars;
    v->code_points = cps;
    *out = v;
    return AT_OK;
}

void at_vocab_free(at_vocab *vocab) {
    if (!vocab) return;
    free(vocab->code_points);
    free(vocab);
}

/* ------------------------------------------------------------------ build */

static at_status mark_text(at_ctx *ctx, uint8_t *seen, const char *text, size_t index) {
    if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: text %zu is NULL", index);
    size_t len = strlen(text), pos = 0;
    while (pos < len) {
        int32_t cp = utf8_next(text, len, &pos);
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

at_status at_vocab_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts) {
    if (!out || (n && !texts)) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: NULL argument");
    uint8_t *seen = calloc(CODE_POINTS / 8, 1);
    if (!seen) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    at_status s = AT_OK;
    for (size_t i = 0; i < n && s == AT_OK; i++)
        s = mark_text(ctx, seen, texts[i], i);
    at_vocab *v = NULL;
    if (s == AT_OK) s = vocab_alloc(ctx, &v, count_marked(seen));
    if (s == AT_OK) {
        int32_t k = 0;
        for (uint32_t cp = 0; cp < CODE_POINTS; cp++)
            if ((seen[cp >> 3] >> (cp & 7)) & 1) v->code_points[k++] = cp;
        *out = v;
    }
    free(seen);
    return s;
}

/* ---------------------------------------------------------------- lookups */

int32_t at_vocab_size(const at_vocab *vocab) {
    return vocab ? AT_TOKEN_FIRST_CHAR + vocab->n_chars : 0;
}

int32_t at_vocab_id(const at_vocab *vocab, uint32_t code_point) {
    int32_t lo = 0, hi = vocab->n_chars - 1;
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

uint32_t at_vocab_code_point(const at_vocab *vocab, int32_t id) {
    if (id < AT_TOKEN_FIRST_CHAR || id >= at_vocab_size(vocab)) return 0;
    return vocab->code_points[id - AT_TOKEN_FIRST_CHAR];
}

/* ------------------------------------------------------- encode / decode */

at_status at_vocab_encode(at_ctx *ctx, const at_vocab *vocab, const char *text, int32_t *ids,
                          int capacity, int *length) {
    if (!vocab || !text || !length || (capacity > 0 && !ids))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab encode: NULL argument");
    size_t len = strlen(text), pos = 0;
    AT_TRY(at_utf8_check(ctx, text, len, "vocab encode"));
    size_t chars = at_utf8_length(text);
    if (chars > (size_t)(capacity > 0 ? capacity : 0))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "vocab encode: the text has %zu characters, more than the limit %d",
                           chars, capacity);
    int n = 0;
    while (pos < len)
        ids[n++] = at_vocab_id(vocab, (uint32_t)utf8_next(text, len, &pos));
    *length = n;
    return AT_OK;
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
        uint32_t cp = id == AT_TOKEN_UNK ? 0xFFFD : at_vocab_code_point(vocab, id);
        size_t wrote = utf8_put(text + used, size - used, cp);
        if (!wrote)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "vocab decode: the text does not fit in %zu bytes", size);
        used += wrote;
    }
    text[used] = 0;
    return AT_OK;
}

/* ---------------------------------------------------------- serialisation */

at_status at_vocab_to_string(at_ctx *ctx, const at_vocab *vocab, char **out) {
    if (!vocab || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: NULL argument");
    size_t size = sizeof VOCAB_MAGIC + 16 + (size_t)vocab->n_chars * 7;
    char *text = malloc(size);
    if (!text) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    size_t used = (size_t)snprintf(text, size, "%s%x", VOCAB_MAGIC, (unsigned)vocab->n_chars);
    for (int32_t i = 0; i < vocab->n_chars; i++)
        used += (size_t)snprintf(text + used, size - used, " %x", (unsigned)vocab->code_points[i]);
    *out = text;
    return AT_OK;
}

/* Parse lowercase hex of 1..8 digits at *p; 0 if there is none. */
static int parse_hex(const char **p, uint32_t *value) {
    const char *s = *p;
    uint32_t v = 0;
    int digits = 0;
    for (; digits < 9; digits++, s++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
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
    for (int32_t i = 0; i < v->n_chars; i++) {
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
    if (strncmp(text, VOCAB_MAGIC, sizeof VOCAB_MAGIC - 1) != 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: not an attend vocabulary (version 1)");
    const char *p = text + sizeof VOCAB_MAGIC - 1;
    uint32_t count;
    if (!parse_hex(&p, &count) || count > CODE_POINTS || count > strlen(p) / 2)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: bad character count");
    at_vocab *v = NULL;
    AT_TRY(vocab_alloc(ctx, &v, (int32_t)count));
    at_status s = parse_code_points(ctx, p, v);
    if (s != AT_OK) {
        at_vocab_free(v);
        return s;
    }
    *out = v;
    return AT_OK;
}
