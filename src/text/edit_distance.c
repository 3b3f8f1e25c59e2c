/*
 * edit_distance.c - how far an output is from its references: the token
 * edit distance, and the word and phone error rates (WER, PER) of G2P.
 *
 * The Levenshtein distance between token sequences a (n tokens) and b (m):
 *   d(i, 0) = i,  d(0, j) = j,
 *   d(i, j) = min( d(i-1, j) + 1,                 delete a_i
 *                  d(i, j-1) + 1,                 insert b_j
 *                  d(i-1, j-1) + [a_i != b_j] )   keep or substitute
 * and the distance is d(n, m). Row i needs only row i - 1, so one row is
 * kept and overwritten in place; it runs over the shorter sequence, whose
 * tokens are cut out once (an offset and a length each), while the longer
 * one is read token by token. Memory O(min(n, m)), time O(n m), both
 * bounded by AT_EDIT_MAX_TOKENS.
 *
 * WER and PER as the papers define them, a word at a time: a word is right
 * if its output equals ANY of its references; its edits are the distance
 * to the CLOSEST reference, and that reference's length is what the edits
 * are divided by (summed over words: PER = sum edits / sum lengths).
 */
#include "internal.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* One token of a text: where it starts, how many bytes. */
typedef struct token_span {
    size_t start, len;
} token_span;

/* The number of tokens of text[0, len), counting no further than limit + 1
 * (enough to know the text is too long). */
static size_t count_tokens(const char *text, size_t len, size_t limit) {
    size_t pos = 0, start, n = 0;
    while (n <= limit && token_next(text, len, &pos, &start) > 0)
        n++;
    return n;
}

static at_status too_many_tokens(at_ctx *ctx, const char *what) {
    return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "edit distance: %s has more than %d tokens", what,
                       AT_EDIT_MAX_TOKENS);
}

/* The dynamic programme: short_text has n_short tokens at spans[], long_text
 * is read token by token; row holds n_short + 1 ints. */
static int levenshtein(const char *short_text, const token_span *spans, int n_short,
                       const char *long_text, size_t long_len, int *row) {
    for (int j = 0; j <= n_short; j++)
        row[j] = j; /* d(0, j) = j */
    size_t pos = 0, start, len;
    for (int i = 1; (len = token_next(long_text, long_len, &pos, &start)) > 0; i++) {
        const char *token = long_text + start;
        int diagonal = row[0]; /* d(i-1, j-1) for j = 1 */
        row[0] = i;            /* d(i, 0) = i */
        for (int j = 1; j <= n_short; j++) {
            int differ =
                spans[j - 1].len != len || memcmp(short_text + spans[j - 1].start, token, len) != 0;
            int best = diagonal + differ;                     /* keep or substitute */
            if (row[j] + 1 < best) best = row[j] + 1;         /* delete: d(i-1, j) + 1 */
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1; /* insert: d(i, j-1) + 1 */
            diagonal = row[j];
            row[j] = best;
        }
    }
    return row[n_short];
}

at_status at_token_edit_distance(at_ctx *ctx, const char *a, const char *b, int *out) {
    if (!a || !b || !out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "edit distance: NULL argument");
    size_t len_a = strlen(a), len_b = strlen(b);
    size_t n_a = count_tokens(a, len_a, AT_EDIT_MAX_TOKENS);
    size_t n_b = count_tokens(b, len_b, AT_EDIT_MAX_TOKENS);
    if (n_a > AT_EDIT_MAX_TOKENS) return too_many_tokens(ctx, "the first text");
    if (n_b > AT_EDIT_MAX_TOKENS) return too_many_tokens(ctx, "the second text");
    /* the row runs over the shorter */
    const char *short_text = n_a <= n_b ? a : b, *long_text = n_a <= n_b ? b : a;
    size_t short_len = n_a <= n_b ? len_a : len_b, long_len = n_a <= n_b ? len_b : len_a;
    int n_short = (int)(n_a <= n_b ? n_a : n_b);

    token_span *spans = malloc((size_t)(n_short + 1) * sizeof *spans);
    int *row = malloc((size_t)(n_short + 1) * sizeof *row);
    if (!spans || !row) {
        free(spans);
        free(row);
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "edit distance: out of memory");
    }
    size_t pos = 0;
    for (int j = 0; j < n_short; j++)
        spans[j].len = token_next(short_text, short_len, &pos, &spans[j].start);
    *out = levenshtein(short_text, spans, n_short, long_text, long_len, row);
    free(spans);
    free(row);
    return AT_OK;
}

at_status at_wer_add(at_ctx *ctx, at_wer *score, const char *output, const char *const *refs,
                     int nrefs) {
    if (!score || !output || !refs) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "WER: NULL argument");
    if (nrefs < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "WER: %d references; a word needs at least one",
                           nrefs);
    int best = -1;
    size_t best_units = 0;
    for (int r = 0; r < nrefs; r++) {
        if (!refs[r]) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "WER: reference %d is NULL", r);
        size_t units = count_tokens(refs[r], strlen(refs[r]), AT_EDIT_MAX_TOKENS);
        if (units == 0)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "WER: reference %d has no token", r);
        int distance;
        AT_TRY(at_token_edit_distance(ctx, output, refs[r], &distance));
        if (best < 0 || distance < best) { /* the first on a tie */
            best = distance;
            best_units = units;
        }
    }
    score->words++;
    score->words_wrong += best != 0;
    score->edits += best;
    score->reference_units += (long)best_units;
    return AT_OK;
}

double at_wer_rate(const at_wer *s) {
    return s && s->words > 0 ? (double)s->words_wrong / (double)s->words : 0.0;
}

double at_per_rate(const at_wer *s) {
    return s && s->reference_units > 0 ? (double)s->edits / (double)s->reference_units : 0.0;
}
