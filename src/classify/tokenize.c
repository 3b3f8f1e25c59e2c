/*
 * tokenize.c - a text cut into sentences of words: the one tokenizer of
 * the classifier's training, evaluation and prediction, so a word the
 * model saw in training is the same word when it predicts.
 *
 * One pass over the code points (at_utf8_next), a small state machine:
 *   - a word is a maximal run of word characters: ASCII letters (lower-
 *     cased), digits, and any non-ASCII code point; an apostrophe joins
 *     the run only between two word characters ("don't", not "'em");
 *   - ! ? $ % are words of their own;
 *   - . ! or ? followed by whitespace or the end closes the sentence (the
 *     ! or ? being its last word); so does a blank line (two newlines
 *     with only spaces, tabs or CRs between) and a sentence's max_words-th
 *     word;
 *   - a sentence is made only when its first word arrives, so no sentence
 *     is ever empty, and the first word past max_sentences ends the text.
 * A word longer than 64 bytes keeps its first whole code points that fit
 * in 64 bytes (all 64 for ASCII), so it stays valid UTF-8.
 *
 * The words are copied into one block after their pointer array (one
 * malloc), the lengths into another.
 */
#include "classifier.h"

#include <stdlib.h>
#include <string.h>

#define WORD_MAX_BYTES 64

/* What is being built: words as (offset, length) into a byte buffer. */
typedef struct builder {
    char *bytes;
    size_t used, cap;
    size_t *start;        /* (words) offsets into bytes              */
    int words, word_cap;
    int *lengths;         /* (sentences)                             */
    int sentences, sentence_cap;
    int open;             /* 1 while the last sentence takes words   */
    int max_sentences, max_words, full;
    char word[WORD_MAX_BYTES];
    size_t word_len;      /* bytes kept of the word being read       */
    int in_word, cut;     /* reading a word; it reached the limit    */
} builder;

static int grow(void **p, size_t elem, int *cap, int need) {
    if (need <= *cap) return 1;
    int cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(*p, (size_t)cap2 * elem);
    if (!q) return 0;
    *p = q;
    *cap = cap2;
    return 1;
}

static void close_sentence(builder *b) { b->open = 0; }

/* Append one word (bytes, n) to the open sentence, opening one if needed. */
static at_status emit(at_ctx *ctx, builder *b, const char *bytes, size_t n) {
    if (b->full) return AT_OK;
    if (!b->open) {
        if (b->sentences == b->max_sentences) {
            b->full = 1; // the rest of the document is dropped
            return AT_OK;
        }
        if (!grow((void **)&b->lengths, sizeof *b->lengths, &b->sentence_cap, b->sentences + 1))
            return at_ctx_fail(ctx, AT_ERR_MEMORY, "tokenize: out of memory");
        b->lengths[b->sentences++] = 0;
        b->open = 1;
    }
    if (!grow((void **)&b->start, sizeof *b->start, &b->word_cap, b->words + 1))
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "tokenize: out of memory");
    if (b->used + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->used + n + 1) cap *= 2;
        char *q = realloc(b->bytes, cap);
        if (!q) return at_ctx_fail(ctx, AT_ERR_MEMORY, "tokenize: out of memory");
        b->bytes = q, b->cap = cap;
    }
    b->start[b->words++] = b->used;
    memcpy(b->bytes + b->used, bytes, n);
    b->bytes[b->used + n] = '\0';
    b->used += n + 1;
    if (++b->lengths[b->sentences - 1] == b->max_words) close_sentence(b);
    return AT_OK;
}

static at_status end_word(at_ctx *ctx, builder *b) {
    if (!b->in_word) return AT_OK;
    size_t n = b->word_len;
    b->in_word = b->cut = 0;
    b->word_len = 0;
    return emit(ctx, b, b->word, n);
}

/* Add code point c (its n UTF-8 bytes at p) to the word being read. */
static void add_to_word(builder *b, int32_t c, const char *p, size_t n) {
    b->in_word = 1;
    if (b->cut || b->word_len + n > WORD_MAX_BYTES) {
        b->cut = 1; // whole code points only: the kept bytes stay valid UTF-8
        return;
    }
    if (c >= 'A' && c <= 'Z') {
        b->word[b->word_len++] = (char)(c - 'A' + 'a');
        return;
    }
    memcpy(b->word + b->word_len, p, n);
    b->word_len += n;
}

static int is_word_char(int32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}
static int is_space(int32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The code point at text[pos] (0 at the end, -1 if invalid), not consumed. */
static int32_t peek(const char *text, size_t len, size_t pos) {
    return pos < len ? at_utf8_next(text, len, &pos) : 0;
}

static at_status scan(at_ctx *ctx, builder *b, const char *text, size_t len) {
    size_t pos = 0;
    int newlines = 0; // newlines since the last non-space character
    while (pos < len && !b->full) {
        size_t at = pos;
        int32_t c = at_utf8_next(text, len, &pos);
        if (c < 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "tokenize: invalid UTF-8 at byte %zu", at);
        if (is_word_char(c)) {
            add_to_word(b, c, text + at, pos - at);
            newlines = 0;
            continue;
        }
        if (c == '\'' && b->in_word && is_word_char(peek(text, len, pos))) {
            add_to_word(b, c, text + at, 1);
            continue;
        }
        // c separates words
        AT_TRY(end_word(ctx, b));
        if (c == '\n' && ++newlines == 2) close_sentence(b); // a blank line
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') newlines = 0;
        if (c == '!' || c == '?' || c == '$' || c == '%') AT_TRY(emit(ctx, b, text + at, 1));
        if (c == '.' || c == '!' || c == '?') {
            int32_t next = peek(text, len, pos);
            if (next == 0 || is_space(next)) close_sentence(b);
        }
    }
    return end_word(ctx, b);
}

static at_status finish(at_ctx *ctx, builder *b, at_doc_tokens *out) {
    if (b->words == 0) return AT_OK;
    char **word = malloc((size_t)b->words * sizeof *word + b->used);
    if (!word) return at_ctx_fail(ctx, AT_ERR_MEMORY, "tokenize: out of memory");
    char *bytes = (char *)(word + b->words);
    memcpy(bytes, b->bytes, b->used);
    for (int i = 0; i < b->words; i++)
        word[i] = bytes + b->start[i];
    *out = (at_doc_tokens){.sentences = b->sentences, .lengths = b->lengths, .words = b->words,
                           .word = word};
    b->lengths = NULL;
    return AT_OK;
}

at_status at_classify_tokenize(at_ctx *ctx, const char *text, int max_sentences, int max_words,
                               at_doc_tokens *out) {
    if (!text || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "tokenize: NULL argument");
    memset(out, 0, sizeof *out);
    if (max_sentences < 1 || max_words < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "tokenize: max_sentences %d and max_words %d must be >= 1",
                           max_sentences, max_words);
    builder b = {.max_sentences = max_sentences, .max_words = max_words};
    at_status s = scan(ctx, &b, text, strlen(text));
    if (s == AT_OK) s = finish(ctx, &b, out);
    free(b.bytes);
    free(b.start);
    free(b.lengths);
    return s;
}

void at_doc_tokens_clear(at_doc_tokens *tokens) {
    if (!tokens) return;
    free(tokens->lengths);
    free(tokens->word);
    memset(tokens, 0, sizeof *tokens);
}
