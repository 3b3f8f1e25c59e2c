/*
 * test_vocab_tokens.c - vocabularies of whitespace-separated tokens beside
 * the code-point one, and seq2seq models that read or write them.
 *
 * Checks:
 *   - build / encode / decode round trips (runs of any ASCII whitespace
 *     split, decode joins with one space), the special ids 0..3, unseen
 *     tokens -> UNK -> U+FFFD, look-ups by token and by code point;
 *   - ids depend only on the set of tokens (any order, any repeats);
 *   - invalid UTF-8 refused with its offset; a token over 256 bytes, more
 *     than capacity tokens and more than 1,000,000 distinct tokens refused;
 *   - to_string / from_string: the exact form, a round trip, every
 *     truncation and a list of corruptions refused, and every one-byte
 *     change either refused or read as a vocabulary that writes the same
 *     string back (one string per vocabulary: the form is unambiguous);
 *     the character form is unchanged;
 *   - a G2P-like model (characters in, phones out) trained with at_train
 *     to exact match, saved, loaded, translating "KNIGHT" to "N AY T" with
 *     a 3 x 6 attention map labelled by phone and letter; a tokens -> tokens
 *     model likewise; bad inputs to a token model refused.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- helpers */

static at_vocab *build(at_ctx *ctx, at_vocab_kind kind, size_t n, const char *const *texts) {
    at_vocab *v = NULL;
    CHECK_OK(ctx, at_vocab_build_kind(ctx, &v, kind, n, texts));
    return v;
}

/* Encode then decode text; the result in out. */
static void round_trip(at_ctx *ctx, const at_vocab *v, const char *text, char *out, size_t size,
                       int *n_ids) {
    int32_t ids[64];
    *n_ids = -1;
    out[0] = 0;
    CHECK_OK(ctx, at_vocab_encode(ctx, v, text, ids, 64, n_ids));
    if (*n_ids < 0) return;
    int unk = 0;
    for (int k = 0; k < *n_ids; k++)
        unk |= ids[k] < AT_TOKEN_FIRST_CHAR;
    CHECK(!unk, "'%s': a special id for a token the vocabulary was built from", text);
    CHECK(at_vocab_decode_size(v, *n_ids) <= size, "decode size");
    CHECK_OK(ctx, at_vocab_decode(ctx, v, ids, *n_ids, out, size));
}

static void expect_message(at_ctx *ctx, const char *what, const char *part) {
    CHECK(strstr(at_ctx_error(ctx), part) != NULL, "%s: no '%s' in the message '%s'", what, part,
          at_ctx_error(ctx));
}

/* ----------------------------------------------------- build and lookup */

static const char *const texts[] = {"K N AY T", "N AY T", "  HH  IH\tT\n", "wörd\r\nünï\v日本\f",
                                    "T"};
enum { TEXTS = sizeof texts / sizeof *texts };
/* every distinct token above, in bytewise order */
static const char *const sorted[] = {"AY", "HH", "IH", "K", "N", "T", "wörd", "ünï", "日本"};
enum { TOKENS = sizeof sorted / sizeof *sorted };

static void test_build_and_lookup(void) {
    at_ctx *ctx = test_new_ctx();
    at_vocab *v = build(ctx, AT_VOCAB_TOKENS, TEXTS, texts);
    if (!v) goto done;
    CHECK(at_vocab_get_kind(v) == AT_VOCAB_TOKENS, "kind");
    CHECK(at_vocab_size(v) == AT_TOKEN_FIRST_CHAR + TOKENS, "size %d, expected %d",
          at_vocab_size(v), AT_TOKEN_FIRST_CHAR + TOKENS);
    /* the specials keep 0..3; tokens follow in bytewise order */
    for (int32_t id = 0; id < AT_TOKEN_FIRST_CHAR; id++)
        CHECK(at_vocab_token(v, id) == NULL, "special id %d has a token", id);
    for (int i = 0; i < TOKENS; i++) {
        const char *t = at_vocab_token(v, AT_TOKEN_FIRST_CHAR + i);
        CHECK(t && !strcmp(t, sorted[i]), "id %d: '%s', expected '%s'", AT_TOKEN_FIRST_CHAR + i,
              t ? t : "(null)", sorted[i]);
        CHECK(at_vocab_token_id(v, sorted[i]) == AT_TOKEN_FIRST_CHAR + i, "token id of '%s'",
              sorted[i]);
        CHECK(at_vocab_code_point(v, AT_TOKEN_FIRST_CHAR + i) == 0, "a token has no code point");
    }
    CHECK(at_vocab_token(v, at_vocab_size(v)) == NULL && at_vocab_token(v, -1) == NULL,
          "out-of-range ids have no token");
    /* unseen tokens, prefixes and two tokens at once are UNK */
    CHECK(at_vocab_token_id(v, "Q") == AT_TOKEN_UNK, "unseen token");
    CHECK(at_vocab_token_id(v, "A") == AT_TOKEN_UNK, "a prefix of a token");
    CHECK(at_vocab_token_id(v, "AYY") == AT_TOKEN_UNK, "a token with more after it");
    CHECK(at_vocab_token_id(v, "K N") == AT_TOKEN_UNK, "two tokens");
    /* by code point: the token of that one character */
    CHECK(at_vocab_id(v, 'K') == at_vocab_token_id(v, "K"), "code point K");
    CHECK(at_vocab_id(v, 'Q') == AT_TOKEN_UNK && at_vocab_id(v, ' ') == AT_TOKEN_UNK &&
              at_vocab_id(v, 0x110000) == AT_TOKEN_UNK,
          "unseen code points");

    /* round trips: whitespace runs become one space */
    static const char *const expect[] = {"K N AY T", "N AY T", "HH IH T", "wörd ünï 日本", "T"};
    for (int i = 0; i < TEXTS; i++) {
        char out[256];
        int n;
        round_trip(ctx, v, texts[i], out, sizeof out, &n);
        CHECK(!strcmp(out, expect[i]), "round trip: '%s' -> '%s', expected '%s'", texts[i], out,
              expect[i]);
        CHECK(n == (int)at_vocab_length(v, texts[i]), "'%s': %d ids, length %zu", texts[i], n,
              at_vocab_length(v, texts[i]));
    }
    CHECK(at_vocab_length(v, " \t ") == 0 && at_vocab_length(v, "a  b ") == 2, "length");

    /* decode: START and PAD skipped, UNK as U+FFFD, stop at END */
    int32_t ids[8] = {AT_TOKEN_START, at_vocab_token_id(v, "N"), AT_TOKEN_UNK, AT_TOKEN_PAD,
                      at_vocab_token_id(v, "T"), AT_TOKEN_END, at_vocab_token_id(v, "K")};
    char out[64];
    CHECK_OK(ctx, at_vocab_decode(ctx, v, ids, 7, out, sizeof out));
    CHECK(!strcmp(out, "N \xEF\xBF\xBD T"), "decode: '%s'", out);
    CHECK_OK(ctx, at_vocab_decode(ctx, v, ids, 0, out, sizeof out));
    CHECK(!strcmp(out, ""), "no ids: empty text");
    /* exactly enough room, then one byte short */
    int32_t three[3] = {at_vocab_token_id(v, "N"), at_vocab_token_id(v, "AY"),
                        at_vocab_token_id(v, "T")};
    CHECK_OK(ctx, at_vocab_decode(ctx, v, three, 3, out, 7));
    CHECK(!strcmp(out, "N AY T"), "decode in 7 bytes: '%s'", out);
    CHECK_STATUS(ctx, at_vocab_decode(ctx, v, three, 3, out, 6), AT_ERR_ARGUMENT);
    ids[0] = at_vocab_size(v);
    CHECK_STATUS(ctx, at_vocab_decode(ctx, v, ids, 1, out, sizeof out), AT_ERR_ARGUMENT);
    /* decode_size holds the longest token and UNK for every id */
    int32_t longest[4] = {at_vocab_token_id(v, "wörd"), AT_TOKEN_UNK, at_vocab_token_id(v, "wörd"),
                          at_vocab_token_id(v, "日本")};
    size_t need = at_vocab_decode_size(v, 4);
    char *room = malloc(need);
    CHECK_OK(ctx, at_vocab_decode(ctx, v, longest, 4, room, need));
    free(room);

    /* encode: unseen -> UNK; capacity; only whitespace -> no ids */
    int n = -1;
    CHECK_OK(ctx, at_vocab_encode(ctx, v, "K ZZ  T", ids, 8, &n));
    CHECK(n == 3 && ids[0] == at_vocab_token_id(v, "K") && ids[1] == AT_TOKEN_UNK &&
              ids[2] == at_vocab_token_id(v, "T"),
          "encode with an unseen token");
    CHECK_STATUS(ctx, at_vocab_encode(ctx, v, "K N AY T", ids, 3, &n), AT_ERR_ARGUMENT);
    expect_message(ctx, "capacity", "4 tokens");
    CHECK_OK(ctx, at_vocab_encode(ctx, v, " \t\n ", ids, 8, &n));
    CHECK(n == 0, "whitespace only: %d ids", n);

    /* split: tokens, and characters for a character vocabulary */
    char **units = NULL;
    CHECK_OK(ctx, at_vocab_split(ctx, v, " wörd\tX  日本 ", &units, &n));
    CHECK(units && n == 3 && !strcmp(units[0], "wörd") && !strcmp(units[1], "X") &&
              !strcmp(units[2], "日本"),
          "split tokens");
    free(units);
    at_vocab *chars = build(ctx, AT_VOCAB_CHARS, TEXTS, texts);
    units = NULL;
    if (chars) CHECK_OK(ctx, at_vocab_split(ctx, chars, "a日 b", &units, &n));
    CHECK(units && n == 4 && !strcmp(units[1], "日") && !strcmp(units[2], " "), "split chars");
    free(units);
    CHECK(chars && at_vocab_token(chars, AT_TOKEN_FIRST_CHAR) == NULL,
          "a character vocabulary has no token strings");
    CHECK(chars && at_vocab_token_id(chars, "K") == at_vocab_id(chars, 'K') &&
              at_vocab_token_id(chars, "KN") == AT_TOKEN_UNK,
          "a character vocabulary looks up one-character strings");
    at_vocab_free(chars);

    /* kinds by name */
    at_vocab_kind kind = AT_VOCAB_CHARS;
    CHECK_OK(ctx, at_vocab_kind_parse(ctx, "words", &kind));
    CHECK(kind == AT_VOCAB_TOKENS, "words -> tokens");
    CHECK_OK(ctx, at_vocab_kind_parse(ctx, "chars", &kind));
    CHECK(kind == AT_VOCAB_CHARS, "chars");
    CHECK_STATUS(ctx, at_vocab_kind_parse(ctx, "bytes", &kind), AT_ERR_ARGUMENT);
    expect_message(ctx, "kind", "chars or words");
    CHECK(!strcmp(at_vocab_kind_name(AT_VOCAB_TOKENS), "words") &&
              !strcmp(at_vocab_kind_name(AT_VOCAB_CHARS), "chars") &&
              at_vocab_kind_name((at_vocab_kind)7) == NULL,
          "kind names");
done:
    at_vocab_free(v);
    at_ctx_free(ctx);
}

/* Ids depend on the set of tokens only: any order, any repeats. */
static void test_order_independent(void) {
    at_ctx *ctx = test_new_ctx();
    const char *a[] = {"b a c", "ab", "a"};
    const char *b[] = {"a a", "c\tab", "b b b", "ab ab"};
    at_vocab *va = build(ctx, AT_VOCAB_TOKENS, 3, a), *vb = build(ctx, AT_VOCAB_TOKENS, 4, b);
    char *sa = NULL, *sb = NULL;
    if (va && vb) {
        CHECK_OK(ctx, at_vocab_to_string(ctx, va, &sa));
        CHECK_OK(ctx, at_vocab_to_string(ctx, vb, &sb));
        CHECK(sa && sb && !strcmp(sa, sb), "same set, other order: '%s' vs '%s'", sa, sb);
        /* bytewise order: "a" < "ab" < "b" < "c" */
        CHECK(sa && !strcmp(sa, "attend-vocab-tokens 1 4 61 6162 62 63 end"), "form: '%s'", sa);
        const char *tokens[] = {"a", "ab", "b", "c"};
        for (int i = 0; i < 4; i++)
            CHECK(at_vocab_token_id(va, tokens[i]) == AT_TOKEN_FIRST_CHAR + i &&
                      at_vocab_token_id(vb, tokens[i]) == AT_TOKEN_FIRST_CHAR + i,
                  "id of '%s'", tokens[i]);
    }
    free(sa);
    free(sb);
    at_vocab_free(va);
    at_vocab_free(vb);
    /* no texts: only the specials */
    at_vocab *none = build(ctx, AT_VOCAB_TOKENS, 0, NULL);
    CHECK(none && at_vocab_size(none) == AT_TOKEN_FIRST_CHAR, "empty vocabulary");
    at_vocab_free(none);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ bad input */

static void test_refusals(void) {
    at_ctx *ctx = test_new_ctx();
    at_vocab *v = NULL;
    /* invalid UTF-8 in building and encoding, with its offset */
    const char *bad_text[] = {"ok fine", "xy \xC3(z"};
    CHECK_STATUS(ctx, at_vocab_build_kind(ctx, &v, AT_VOCAB_TOKENS, 2, bad_text),
                 AT_ERR_ARGUMENT);
    expect_message(ctx, "build, bad UTF-8", "text 1");
    expect_message(ctx, "build, bad UTF-8", "invalid UTF-8 at byte 3");
    CHECK(v == NULL, "no vocabulary from invalid UTF-8");
    const char *null_text[] = {"a", NULL};
    CHECK_STATUS(ctx, at_vocab_build_kind(ctx, &v, AT_VOCAB_TOKENS, 2, null_text),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_vocab_build_kind(ctx, &v, (at_vocab_kind)5, 1, texts), AT_ERR_ARGUMENT);
    v = build(ctx, AT_VOCAB_TOKENS, TEXTS, texts);
    int32_t ids[8];
    int n = 0;
    static const char *bad[] = {"ab\xC3", "ab\x80z", "ab\xC0\xAF", "ab\xED\xA0\x80",
                                "ab\xF4\x90\x80\x80"};
    for (int i = 0; v && i < 5; i++) {
        CHECK_STATUS(ctx, at_vocab_encode(ctx, v, bad[i], ids, 8, &n), AT_ERR_ARGUMENT);
        expect_message(ctx, "encode, bad UTF-8", "invalid UTF-8 at byte 2");
    }
    /* a token of 256 bytes is fine, 257 is not */
    char long_token[300 + 3];
    memset(long_token, 'x', sizeof long_token);
    long_token[0] = 'a', long_token[1] = ' ';
    long_token[2 + 256] = 0;
    const char *one[] = {long_token};
    at_vocab *big = NULL;
    CHECK_OK(ctx, at_vocab_build_kind(ctx, &big, AT_VOCAB_TOKENS, 1, one));
    CHECK(big && at_vocab_size(big) == AT_TOKEN_FIRST_CHAR + 2, "a 256-byte token");
    if (v) CHECK_OK(ctx, at_vocab_encode(ctx, v, long_token, ids, 8, &n));
    long_token[2 + 256] = 'x', long_token[2 + 257] = 0;
    at_vocab_free(big);
    big = NULL;
    CHECK_STATUS(ctx, at_vocab_build_kind(ctx, &big, AT_VOCAB_TOKENS, 1, one), AT_ERR_ARGUMENT);
    expect_message(ctx, "build, long token", "257 bytes");
    expect_message(ctx, "build, long token", "byte 2");
    if (v) {
        CHECK_STATUS(ctx, at_vocab_encode(ctx, v, long_token, ids, 8, &n), AT_ERR_ARGUMENT);
        expect_message(ctx, "encode, long token", "257 bytes");
        char **units = NULL;
        CHECK_STATUS(ctx, at_vocab_split(ctx, v, long_token, &units, &n), AT_ERR_ARGUMENT);
    }
    /* more than AT_VOCAB_MAX_TOKENS distinct tokens; exactly that many is fine */
    enum { MANY = AT_VOCAB_MAX_TOKENS + 1 };
    char *many = malloc((size_t)MANY * 8 + 1);
    size_t used = 0;
    for (int i = 0; i < MANY; i++)
        used += (size_t)sprintf(many + used, "%x ", (unsigned)i);
    const char *many_text[] = {many};
    CHECK_STATUS(ctx, at_vocab_build_kind(ctx, &big, AT_VOCAB_TOKENS, 1, many_text),
                 AT_ERR_ARGUMENT);
    expect_message(ctx, "too many tokens", "1000001 distinct tokens");
    many[used - 6] = 0; /* drop the last token, "f4240 " */
    CHECK_OK(ctx, at_vocab_build_kind(ctx, &big, AT_VOCAB_TOKENS, 1, many_text));
    CHECK(big && at_vocab_size(big) == AT_TOKEN_FIRST_CHAR + AT_VOCAB_MAX_TOKENS,
          "a vocabulary of the most tokens");
    char *text = NULL;
    at_vocab *back = NULL;
    if (big) CHECK_OK(ctx, at_vocab_to_string(ctx, big, &text));
    if (text) CHECK_OK(ctx, at_vocab_from_string(ctx, &back, text));
    CHECK(back && at_vocab_size(back) == at_vocab_size(big), "the largest vocabulary loads");
    free(text);
    free(many);
    at_vocab_free(back);
    at_vocab_free(big);
    at_vocab_free(v);
    at_ctx_free(ctx);
}

/* -------------------------------------------------------- serialisation */

/* 1 if text is refused (AT_ERR_FORMAT and no vocabulary). */
static int refused(at_ctx *ctx, const char *text) {
    at_vocab *v = NULL;
    at_status s = at_vocab_from_string(ctx, &v, text);
    at_vocab_free(v);
    return s == AT_ERR_FORMAT && v == NULL;
}

static void test_serialisation(void) {
    at_ctx *ctx = test_new_ctx();
    at_vocab *v = build(ctx, AT_VOCAB_TOKENS, TEXTS, texts), *back = NULL;
    char *text = NULL, *again = NULL;
    if (!v) goto done;
    CHECK_OK(ctx, at_vocab_to_string(ctx, v, &text));
    if (!text) goto done;
    int printable = 1;
    for (const char *p = text; *p; p++)
        printable &= *p >= 32 && *p < 127;
    CHECK(printable, "not printable ASCII: '%s'", text);
    CHECK(!strcmp(text, "attend-vocab-tokens 1 9 4159 4848 4948 4b 4e 54 77c3b67264 c3bc6ec3af "
                        "e697a5e69cac end"),
          "form: '%s'", text);
    CHECK_OK(ctx, at_vocab_from_string(ctx, &back, text));
    if (back) CHECK_OK(ctx, at_vocab_to_string(ctx, back, &again));
    CHECK(again && !strcmp(again, text), "round trip: '%s' -> '%s'", text, again);
    int same = back && at_vocab_size(back) == at_vocab_size(v) &&
               at_vocab_get_kind(back) == AT_VOCAB_TOKENS;
    for (int32_t id = 0; same && id < at_vocab_size(v); id++) {
        const char *a = at_vocab_token(v, id), *b = at_vocab_token(back, id);
        same = (!a && !b) || (a && b && !strcmp(a, b));
    }
    CHECK(same, "the tokens after a round trip");

    /* at_vocab_copy: the same string; and a chars vocabulary too */
    at_vocab *copy = NULL, *nothing = NULL;
    at_vocab *letters = build(ctx, AT_VOCAB_CHARS, TEXTS, texts), *letters_copy = NULL;
    char *copied = NULL, *letters_text = NULL, *letters_copied = NULL;
    CHECK_OK(ctx, at_vocab_copy(ctx, &copy, v));
    if (copy) CHECK_OK(ctx, at_vocab_to_string(ctx, copy, &copied));
    CHECK(copied && !strcmp(copied, text), "copy: '%s' -> '%s'", text, copied);
    if (letters) CHECK_OK(ctx, at_vocab_copy(ctx, &letters_copy, letters));
    if (letters_copy) CHECK_OK(ctx, at_vocab_to_string(ctx, letters_copy, &letters_copied));
    if (letters) CHECK_OK(ctx, at_vocab_to_string(ctx, letters, &letters_text));
    CHECK(letters_text && letters_copied && !strcmp(letters_text, letters_copied) &&
              at_vocab_get_kind(letters_copy) == AT_VOCAB_CHARS,
          "chars copy: '%s' -> '%s'", letters_text, letters_copied);
    CHECK(at_vocab_copy(ctx, &nothing, NULL) == AT_ERR_ARGUMENT && !nothing, "copy of NULL");
    free(copied), free(letters_text), free(letters_copied);
    at_vocab_free(copy), at_vocab_free(letters), at_vocab_free(letters_copy);

    /* every truncation */
    size_t len = strlen(text);
    int bad_cuts = 0;
    for (size_t cut = 0; cut < len; cut++) {
        char saved = text[cut];
        text[cut] = 0;
        if (!refused(ctx, text)) bad_cuts++, fprintf(stderr, "  accepted a cut: '%s'\n", text);
        text[cut] = saved;
    }
    CHECK(bad_cuts == 0, "%d truncations accepted", bad_cuts);

    /* every one-byte change: refused, or a vocabulary written back as the
     * same string (so no two strings name one vocabulary) */
    int ambiguous = 0;
    for (size_t i = 0; i < len; i++) {
        char saved = text[i];
        for (int c = 1; c < 256; c++) {
            if (c == (unsigned char)saved) continue;
            text[i] = (char)c;
            at_vocab *w = NULL;
            char *w_text = NULL;
            if (at_vocab_from_string(ctx, &w, text) == AT_OK) {
                if (at_vocab_to_string(ctx, w, &w_text) != AT_OK || strcmp(w_text, text)) {
                    if (ambiguous++ < 3) fprintf(stderr, "  read back otherwise: '%s'\n", text);
                }
            }
            free(w_text);
            at_vocab_free(w);
        }
        text[i] = saved;
    }
    CHECK(ambiguous == 0, "%d one-byte changes read as a vocabulary written otherwise",
          ambiguous);

    /* corruptions */
    char long_entry[600];
    strcpy(long_entry, "attend-vocab-tokens 1 1 ");
    for (int i = 0; i < 257; i++) strcat(long_entry, "61");
    strcat(long_entry, " end");
    /* each valid but for the one thing its comment says */
    const char *corrupt[] = {
        "attend-vocab-tokens 1",               /* no count                    */
        "attend-vocab-tokens 1  end",          /* no count                    */
        "attend-vocab-tokens 2 1 61 end",      /* another version             */
        "attend-vocab-tokens 1 2 61 end",      /* fewer tokens than the count */
        "attend-vocab-tokens 1 1 61 62 end",   /* more tokens than the count  */
        "attend-vocab-tokens 1 01 61 end",     /* a leading zero              */
        "attend-vocab-tokens 1 1 6g end",      /* not hex                     */
        "attend-vocab-tokens 1 1 4B end",      /* upper-case hex              */
        "attend-vocab-tokens 1 1 616 end",     /* half a byte                 */
        "attend-vocab-tokens 1 2 62 61 end",   /* unsorted                    */
        "attend-vocab-tokens 1 2 6162 61 end", /* unsorted: a prefix after    */
        "attend-vocab-tokens 1 2 61 61 end",   /* a duplicate                 */
        "attend-vocab-tokens 1 1 61",          /* no end                      */
        "attend-vocab-tokens 1 1 61 en",       /* end cut short               */
        "attend-vocab-tokens 1 1 61 END",      /* another end                 */
        "attend-vocab-tokens 1 1 61 end ",     /* a trailing space            */
        "attend-vocab-tokens 1 1 61 end end",  /* trailing text               */
        "attend-vocab-tokens 1 1 61end",       /* no space before the end     */
        "attend-vocab-tokens 1 2 61  62 end",  /* two spaces                  */
        "attend-vocab-tokens 1 1  end",        /* an empty token              */
        "attend-vocab-tokens 1 1 6120 end",    /* a space inside              */
        "attend-vocab-tokens 1 1 0961 end",    /* a tab                       */
        "attend-vocab-tokens 1 1 610a end",    /* a newline                   */
        "attend-vocab-tokens 1 1 6100 end",    /* a NUL                       */
        "attend-vocab-tokens 1 1 ff end",      /* invalid UTF-8               */
        "attend-vocab-tokens 1 1 c3 end",      /* truncated UTF-8             */
        "attend-vocab-tokens 1 1 eda080 end",  /* a surrogate                 */
        "attend-vocab-tokens 1 1 c0af end",    /* an overlong form            */
        "attend-vocab-tokens 1 f4241 61 end",  /* more than the most tokens   */
        "attend-vocab-tokens 1 ffffffff 61 end",
        "attend-vocab-tokens 1 100000000 61 end",
        "attend-vocab-tokens  1 1 61 end",
        "attend-vocab-tokens 1 -1 61 end",
        long_entry, /* a 257-byte token */
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof *corrupt; i++)
        CHECK(refused(ctx, corrupt[i]), "corrupt string %zu accepted: '%.60s'", i, corrupt[i]);
    /* 256 bytes is the longest token */
    strcpy(long_entry + strlen(long_entry) - 6, " end");
    CHECK(!refused(ctx, long_entry), "a 256-byte token: %s", at_ctx_error(ctx));
    CHECK(!refused(ctx, "attend-vocab-tokens 1 0 end"), "an empty vocabulary: %s",
          at_ctx_error(ctx));
    CHECK(!refused(ctx, "attend-vocab-tokens 1 2 e697a5 e69cac end"), "UTF-8 tokens: %s",
          at_ctx_error(ctx));

    /* the character form is as it was: old checkpoints load */
    const char *ab[] = {"ba"};
    at_vocab *chars = build(ctx, AT_VOCAB_CHARS, 1, ab), *old = NULL;
    char *chars_text = NULL;
    if (chars) CHECK_OK(ctx, at_vocab_to_string(ctx, chars, &chars_text));
    CHECK(chars_text && !strcmp(chars_text, "attend-vocab 1 2 61 62"), "chars form: '%s'",
          chars_text);
    CHECK_OK(ctx, at_vocab_from_string(ctx, &old, "attend-vocab 1 2 61 62"));
    CHECK(old && at_vocab_get_kind(old) == AT_VOCAB_CHARS && at_vocab_id(old, 'b') == 5,
          "an old character vocabulary");
    free(chars_text);
    at_vocab_free(chars);
    at_vocab_free(old);
done:
    free(text);
    free(again);
    at_vocab_free(back);
    at_vocab_free(v);
    at_ctx_free(ctx);
}

/* ------------------------------------------------------------ seq2seq */

static void add_pairs(at_ctx *ctx, at_pairs *p, const char *const (*pairs)[2], int n) {
    for (int i = 0; i < n; i++)
        CHECK_OK(ctx, at_pairs_add(ctx, p, pairs[i][0], pairs[i][1]));
}

/* A small model of the pairs, trained by at_train in OUT to exact match
 * (the best model, OUT/model.safetensors, is then loaded back). */
static at_seq2seq *train_and_load(at_ctx *ctx, const at_pairs *pairs, at_vocab_kind source_kind,
                                  at_vocab_kind target_kind, const char *out, long steps) {
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = 16, c.encoder_size = 24, c.decoder_size = 48, c.attn_size = 16, c.seed = 2;
    at_seq2seq *m = NULL, *back = NULL;
    at_seq2seq_task *task = NULL;
    CHECK_OK(ctx, at_seq2seq_create_for_pairs(ctx, &m, &c, pairs, pairs, source_kind, target_kind));
    if (m) CHECK_OK(ctx, at_seq2seq_task_create(ctx, &task, m, pairs, pairs, 8));
    if (!task) goto done;
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out;
    o.steps = steps;
    o.batch = (int)pairs->count;
    o.seed = 4;
    o.optim.lr = 0.02f;
    o.clip = 1.0f;
    o.eval_every = 10;
    o.best_metric = "exact";
    at_train_result r = {0};
    CHECK_OK(ctx, at_train(ctx, at_seq2seq_task_trainable(task), &o, &r));
    CHECK(r.best == 1.0, "%s: best exact match %.3f after %ld steps", out, r.best, r.steps);
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    CHECK_OK(ctx, at_seq2seq_load(ctx, &back, path, NULL));
done:
    at_seq2seq_task_free(task);
    at_seq2seq_free(m);
    return back;
}

/* Translate text and check the output, its lengths and the map's labels. */
static void expect_translation(at_ctx *ctx, const at_seq2seq *m, const char *text,
                               const char *want, const char *const *rows, int ty,
                               const char *const *cols, int tx) {
    at_translation tr;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, text, &tr));
    if (!tr.text) return;
    CHECK(!strcmp(tr.text, want), "'%s' -> '%s', expected '%s'", text, tr.text, want);
    CHECK(tr.target_len == ty && tr.source_len == tx, "'%s': (Ty, Tx) = (%d, %d), expected (%d, %d)",
          text, tr.target_len, tr.source_len, ty, tx);
    int rows_sum_to_one = tr.target_len == ty && tr.source_len == tx;
    for (int t = 0; rows_sum_to_one && t < ty; t++) {
        double sum = 0;
        for (int j = 0; j < tx; j++) sum += tr.weights[(size_t)t * tx + j];
        rows_sum_to_one = fabs(sum - 1) < 1e-4;
    }
    CHECK(rows_sum_to_one, "'%s': attention rows do not sum to 1", text);
    at_attention_map *map = NULL;
    CHECK_OK(ctx, at_attention_map_from_translation(ctx, &map, m, NULL, text, &tr));
    if (map && map->rows == ty && map->cols == tx) {
        for (int t = 0; t < ty; t++)
            CHECK(!strcmp(map->row_labels[t], rows[t]), "row %d: '%s', expected '%s'", t,
                  map->row_labels[t], rows[t]);
        for (int j = 0; j < tx; j++)
            CHECK(!strcmp(map->col_labels[j], cols[j]), "col %d: '%s', expected '%s'", j,
                  map->col_labels[j], cols[j]);
    } else {
        CHECK(0, "'%s': the map is %d x %d, expected %d x %d", text, map ? map->rows : -1,
              map ? map->cols : -1, ty, tx);
    }
    at_attention_map_free(map);
    at_translation_clear(&tr);
}

static const char *const g2p[][2] = {
    {"KNIGHT", "N AY T"}, {"NIGHT", "N AY T"}, {"KNIT", "N IH T"},
    {"KIT", "K IH T"},    {"TIN", "T IH N"},   {"HIT", "HH IH T"},
};

static void test_g2p(void) {
    at_ctx *ctx = test_new_ctx();
    at_pairs pairs = {0};
    add_pairs(ctx, &pairs, g2p, 6);
    at_seq2seq *m = train_and_load(ctx, &pairs, AT_VOCAB_CHARS, AT_VOCAB_TOKENS, "g2p", 60);
    if (!m) goto done;
    CHECK(at_vocab_get_kind(at_seq2seq_source_vocab(m)) == AT_VOCAB_CHARS &&
              at_vocab_get_kind(at_seq2seq_target_vocab(m)) == AT_VOCAB_TOKENS,
          "the loaded model's kinds");
    /* phones: AY HH IH K N T */
    CHECK(at_vocab_size(at_seq2seq_target_vocab(m)) == AT_TOKEN_FIRST_CHAR + 6, "target size %d",
          at_vocab_size(at_seq2seq_target_vocab(m)));
    const char *phones[] = {"N", "AY", "T"}, *letters[] = {"K", "N", "I", "G", "H", "T"};
    expect_translation(ctx, m, "KNIGHT", "N AY T", phones, 3, letters, 6);
    const char *hh[] = {"HH", "IH", "T"}, *hit[] = {"H", "I", "T"};
    expect_translation(ctx, m, "HIT", "HH IH T", hh, 3, hit, 3);
    /* the checkpoint: characters in the old form, phones as tokens */
    at_metadata meta = {0};
    CHECK_OK(ctx, at_checkpoint_read_metadata(ctx, "g2p/model.safetensors", &meta));
    const char *src = at_metadata_get(&meta, "attend.source_vocab");
    const char *tgt = at_metadata_get(&meta, "attend.target_vocab");
    CHECK(src && !strncmp(src, "attend-vocab 1 ", 15), "source vocab: %s", src ? src : "none");
    CHECK(tgt && !strcmp(tgt, "attend-vocab-tokens 1 6 4159 4848 4948 4b 4e 54 end"),
          "target vocab: %s", tgt ? tgt : "none");
    at_metadata_clear(&meta);
    /* the data as the model sees it: targets in tokens */
    at_seq2seq_data data = {0};
    CHECK_OK(ctx, at_seq2seq_data_build(ctx, m, &pairs, &data));
    CHECK(data.count == 6 && data.source_len[0] == 6 && data.target_len[0] == 3,
          "KNIGHT / N AY T: %d and %d units", data.count ? data.source_len[0] : -1,
          data.count ? data.target_len[0] : -1);
    at_seq2seq_data_clear(&data);
done:
    at_seq2seq_free(m);
    at_pairs_clear(&pairs);
    at_ctx_free(ctx);
}

static const char *const words[][2] = {
    {"red cat", "chat rouge"},  {"black cat", "chat noir"}, {"red dog", "chien rouge"},
    {"black dog", "chien noir"}, {"cat", "chat"},           {"dog", "chien"},
    /* a token longer than 4 bytes a step: the output needs more room than
     * the characters of max_target_len would take */
    {"bird", "oiseau-de-paradis-multicolore"},
};

static void test_words(void) {
    at_ctx *ctx = test_new_ctx();
    at_pairs pairs = {0};
    add_pairs(ctx, &pairs, words, 7);
    at_seq2seq *m = train_and_load(ctx, &pairs, AT_VOCAB_TOKENS, AT_VOCAB_TOKENS, "words", 60);
    if (!m) goto done;
    const char *out[] = {"chien", "rouge"}, *in[] = {"red", "dog"};
    expect_translation(ctx, m, "red dog", "chien rouge", out, 2, in, 2);
    const char *bird[] = {"oiseau-de-paradis-multicolore"}, *bird_in[] = {"bird"};
    expect_translation(ctx, m, "bird", "oiseau-de-paradis-multicolore", bird, 1, bird_in, 1);
    /* any whitespace between the words reads the same */
    expect_translation(ctx, m, " red \t dog  ", "chien rouge", out, 2, in, 2);
    /* an unseen word is UNK, one position of the input */
    at_translation tr;
    CHECK_OK(ctx, at_seq2seq_translate(ctx, m, "red ✓", &tr));
    CHECK(tr.source_len == 2, "an unseen word: %d input units", tr.source_len);
    at_translation_clear(&tr);
    /* bad inputs */
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, "", &tr), AT_ERR_ARGUMENT);
    expect_message(ctx, "empty", "empty");
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, " \t ", &tr), AT_ERR_ARGUMENT);
    expect_message(ctx, "only whitespace", "empty");
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, "red \xFF", &tr), AT_ERR_ARGUMENT);
    expect_message(ctx, "invalid UTF-8", "invalid UTF-8 at byte 4");
    int max = at_seq2seq_get_config(m)->max_source_len; /* 2 words + 16 */
    CHECK(max == 18, "max_source_len %d counts words", max);
    char many[256] = "";
    for (int i = 0; i <= max; i++) strcat(many, "cat ");
    CHECK_STATUS(ctx, at_seq2seq_translate(ctx, m, many, &tr), AT_ERR_ARGUMENT);
    expect_message(ctx, "too long", "19 tokens");
    /* a pair whose target is only whitespace has no tokens */
    at_pairs blank = {0};
    CHECK_OK(ctx, at_pairs_add(ctx, &blank, "red", " "));
    at_seq2seq_data data = {0};
    CHECK_STATUS(ctx, at_seq2seq_data_build(ctx, m, &blank, &data), AT_ERR_ARGUMENT);
    expect_message(ctx, "blank target", "target is empty");
    at_pairs_clear(&blank);
done:
    at_seq2seq_free(m);
    at_pairs_clear(&pairs);
    at_ctx_free(ctx);
}

int main(void) {
    test_build_and_lookup();
    test_order_independent();
    test_refusals();
    test_serialisation();
    char dir[] = "test_vocab_tokens_XXXXXX";
    test_enter_scratch_dir(dir);
    test_g2p();
    test_words();
    test_leave_scratch_dir(dir);
    return test_finish("vocab_tokens");
}
