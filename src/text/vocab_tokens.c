/*
 * vocab_tokens.c - the tokens kind of vocabulary: units are runs of bytes
 * between ASCII whitespace (space, \t, \n, \v, \f, \r), e.g. the phones
 * of "K N AY T" for grapheme-to-phoneme, or the words of a sentence.
 *
 * Splitting on ASCII bytes never cuts a UTF-8 sequence (every byte of a
 * multi-byte sequence is >= 0x80), so the tokens of valid UTF-8 are valid
 * UTF-8. A vocabulary is the sorted set of distinct tokens (bytewise, as
 * memcmp orders them), so ids depend only on the set; look-up is a binary
 * search. The tokens live in one block, NUL-terminated, with an offset
 * table: token i is token_bytes + token_start[i].
 *
 * Serialised form, kept in a checkpoint's metadata: printable ASCII,
 *   "attend-vocab-tokens 1 N hex_1 hex_2 ... hex_N end"
 * with N in lowercase hex (no leading zeros) and hex_i the UTF-8 bytes of
 * token i, two lowercase hex digits a byte. The final "end" makes every
 * truncation detectable (without it, cutting the last token after one of
 * its characters would leave another valid vocabulary). Loading checks
 * everything: the count, that each token is 1..AT_VOCAB_MAX_TOKEN_BYTES
 * bytes of valid UTF-8 without NUL or ASCII whitespace (so it is one token
 * of its text), strictly increasing order (no duplicates), the end, no
 * trailing text; anything else is an AT_ERR_FORMAT naming the entry. So
 * one vocabulary has exactly one string.
 */
#include "text.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* After the last token: a truncated string lacks it. */
#define VOCAB_TOKENS_END " end"

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

size_t token_next(const char *text, size_t len, size_t *pos, size_t *start) {
    size_t p = *pos;
    while (p < len && is_space((unsigned char)text[p]))
        p++;
    *start = p;
    while (p < len && !is_space((unsigned char)text[p]))
        p++;
    *pos = p;
    return p - *start;
}

/* Bytewise order of two byte strings; a prefix comes first. */
static int compare_bytes(const char *a, size_t na, const char *b, size_t nb) {
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

static const char *token_at(const at_vocab *v, int32_t i, size_t *len) {
    *len = v->token_start[i + 1] - v->token_start[i] - 1;
    return v->token_bytes + v->token_start[i];
}

int32_t vocab_tokens_find(const at_vocab *v, const char *token, size_t len) {
    int32_t lo = 0, hi = v->n_units - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        size_t here_len;
        const char *here = token_at(v, mid, &here_len);
        int c = compare_bytes(here, here_len, token, len);
        if (c == 0) return AT_TOKEN_FIRST_CHAR + mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return AT_TOKEN_UNK;
}

/* Append token i (its bytes are not in the block yet) after token i - 1. */
static void tokens_put(at_vocab *v, int32_t i, const char *token, size_t len) {
    char *dst = v->token_bytes + v->token_start[i];
    memcpy(dst, token, len);
    dst[len] = 0;
    v->token_start[i + 1] = v->token_start[i] + (uint32_t)len + 1;
    if ((int)len > v->max_token_bytes) v->max_token_bytes = (int)len;
}

/* ------------------------------------------------------------------ build */

typedef struct token_ref {
    const char *bytes;
    size_t len;
} token_ref;

static int compare_refs(const void *a, const void *b) {
    const token_ref *x = a, *y = b;
    return compare_bytes(x->bytes, x->len, y->bytes, y->len);
}

/* Check every text and count its tokens (refs NULL), or list them. */
static at_status scan_texts(at_ctx *ctx, size_t n, const char *const *texts, token_ref *refs,
                            size_t *count) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *text = texts[i];
        if (!text) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: text %zu is NULL", i);
        size_t len = strlen(text), pos = 0, start, token;
        char what[64];
        snprintf(what, sizeof what, "vocab: text %zu", i);
        if (!refs) AT_TRY(at_utf8_check(ctx, text, len, what));
        while ((token = token_next(text, len, &pos, &start)) > 0) {
            if (token > AT_VOCAB_MAX_TOKEN_BYTES)
                return vocab_token_too_long(ctx, what, start, token);
            if (refs) refs[k] = (token_ref){text + start, token};
            k++;
        }
    }
    *count = k;
    return AT_OK;
}

/* Sort refs[0, n) and keep one of each token; returns how many remain. */
static size_t sort_unique(token_ref *refs, size_t n) {
    if (n == 0) return 0;
    qsort(refs, n, sizeof *refs, compare_refs);
    size_t kept = 1;
    for (size_t i = 1; i < n; i++)
        if (compare_refs(&refs[kept - 1], &refs[i]) != 0) refs[kept++] = refs[i];
    return kept;
}

at_status vocab_tokens_build(at_ctx *ctx, at_vocab **out, size_t n, const char *const *texts) {
    size_t total = 0;
    AT_TRY(scan_texts(ctx, n, texts, NULL, &total));
    token_ref *refs = malloc((total ? total : 1) * sizeof *refs);
    if (!refs) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    at_status s = scan_texts(ctx, n, texts, refs, &total);
    size_t distinct = s == AT_OK ? sort_unique(refs, total) : 0, bytes = 0;
    if (s == AT_OK && distinct > AT_VOCAB_MAX_TOKENS)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                        "vocab: the texts have %zu distinct tokens, more than the limit %d",
                        distinct, AT_VOCAB_MAX_TOKENS);
    for (size_t i = 0; i < distinct; i++)
        bytes += refs[i].len + 1;
    if (s == AT_OK && bytes > UINT32_MAX)
        s = at_ctx_fail(ctx, AT_ERR_ARGUMENT, "vocab: the tokens take %zu bytes, too many",
                        bytes);
    at_vocab *v = NULL;
    if (s == AT_OK) s = vocab_alloc(ctx, &v, AT_VOCAB_TOKENS, (int32_t)distinct, bytes);
    for (size_t i = 0; s == AT_OK && i < distinct; i++)
        tokens_put(v, (int32_t)i, refs[i].bytes, refs[i].len);
    free(refs);
    if (s == AT_OK) *out = v;
    return s;
}

/* ---------------------------------------------------------- serialisation */

at_status vocab_tokens_to_string(at_ctx *ctx, const at_vocab *v, char **out) {
    size_t size = sizeof VOCAB_TOKENS_MAGIC + 16 + sizeof VOCAB_TOKENS_END;
    for (int32_t i = 0; i < v->n_units; i++) {
        size_t len;
        token_at(v, i, &len);
        size += 1 + 2 * len;
    }
    char *text = malloc(size);
    if (!text) return at_ctx_fail(ctx, AT_ERR_MEMORY, "vocab: out of memory");
    size_t used = (size_t)snprintf(text, size, "%s%x", VOCAB_TOKENS_MAGIC, (unsigned)v->n_units);
    for (int32_t i = 0; i < v->n_units; i++) {
        size_t len;
        const unsigned char *token = (const unsigned char *)token_at(v, i, &len);
        text[used++] = ' ';
        for (size_t b = 0; b < len; b++)
            used += (size_t)snprintf(text + used, size - used, "%02x", token[b]);
    }
    memcpy(text + used, VOCAB_TOKENS_END, sizeof VOCAB_TOKENS_END);
    *out = text;
    return AT_OK;
}

/* The count after the magic: canonical lowercase hex (no leading zeros). */
static int parse_count(const char **p, uint32_t *count) {
    const char *start = *p;
    if (!parse_hex(p, count)) return 0;
    return !(**p != ' ' && **p != 0) && !(*p - start > 1 && *start == '0');
}

/* Decode the hex bytes of one entry at *p (up to a space or the end) into
 * dst (room for AT_VOCAB_MAX_TOKEN_BYTES); returns the byte count, or 0 if
 * the entry is empty, too long or not lowercase hex. */
static size_t parse_token_hex(const char **p, char *dst) {
    const char *s = *p;
    size_t n = 0;
    while (*s && *s != ' ') {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0 || n == AT_VOCAB_MAX_TOKEN_BYTES) return 0;
        dst[n++] = (char)(hi * 16 + lo);
        s += 2;
    }
    *p = s;
    return n;
}

/* A string one token of its own: valid UTF-8, no NUL, no ASCII whitespace. */
static int is_one_token(const char *bytes, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        unsigned char c = (unsigned char)bytes[pos];
        if (c == 0 || is_space(c) || at_utf8_next(bytes, len, &pos) < 0) return 0;
    }
    return 1;
}

static at_status parse_tokens(at_ctx *ctx, const char *p, at_vocab *v) {
    char token[AT_VOCAB_MAX_TOKEN_BYTES];
    for (int32_t i = 0; i < v->n_units; i++) {
        size_t len = 0;
        if (*p++ != ' ' || (len = parse_token_hex(&p, token)) == 0)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "vocab: token %d is missing, empty, longer than %d bytes or not "
                               "lowercase hex",
                               i, AT_VOCAB_MAX_TOKEN_BYTES);
        if (!is_one_token(token, len))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "vocab: token %d is not one token (invalid UTF-8, NUL or "
                               "whitespace)",
                               i);
        size_t before_len = 0;
        const char *before = i > 0 ? token_at(v, i - 1, &before_len) : NULL;
        if (before && compare_bytes(before, before_len, token, len) >= 0)
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "vocab: token %d is not above the one before (unsorted or a "
                               "duplicate)",
                               i);
        tokens_put(v, i, token, len);
    }
    if (strcmp(p, VOCAB_TOKENS_END) != 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "vocab: no \"end\" after the last token (cut short, or text after it)");
    return AT_OK;
}

at_status vocab_tokens_from_string(at_ctx *ctx, at_vocab **out, const char *text) {
    const char *p = text + sizeof VOCAB_TOKENS_MAGIC - 1;
    uint32_t count;
    /* every entry takes at least 3 characters: " hh" */
    if (!parse_count(&p, &count) || count > AT_VOCAB_MAX_TOKENS || count > strlen(p) / 3)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "vocab: bad token count");
    at_vocab *v = NULL;
    /* each entry " hh..." of 1 + 2 len characters holds len + 1 bytes */
    AT_TRY(vocab_alloc(ctx, &v, AT_VOCAB_TOKENS, (int32_t)count, strlen(p) + 1));
    at_status s = parse_tokens(ctx, p, v);
    if (s != AT_OK) {
        at_vocab_free(v);
        return s;
    }
    *out = v;
    return AT_OK;
}
