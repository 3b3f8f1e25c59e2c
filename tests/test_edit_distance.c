/*
 * test_edit_distance.c - the token edit distance and the WER / PER of G2P
 * (attend/text.h), against values worked out by hand and against a plain
 * full-matrix Levenshtein written out again here.
 *
 * Hand cases: equal texts, empty ones, insertion / deletion /
 * substitution, whitespace that does not count, multi-byte tokens, the
 * token cap at its edge. WER / PER: a word right by its second reference,
 * a tie between references (the first counts, even when it is longer), an
 * empty output (all deletions), the rates of a few words summed by hand,
 * errors that leave the score alone.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void expect_distance(at_ctx *ctx, const char *a, const char *b, int want) {
    int got = -1, back = -1;
    CHECK_OK(ctx, at_token_edit_distance(ctx, a, b, &got));
    CHECK_OK(ctx, at_token_edit_distance(ctx, b, a, &back));
    CHECK(got == want && back == want, "distance('%s', '%s') = %d (reversed %d), want %d", a, b,
          got, back, want);
}

static void test_hand_distances(at_ctx *ctx) {
    expect_distance(ctx, "N AY T", "N AY T", 0);
    expect_distance(ctx, "", "", 0);
    expect_distance(ctx, "  \t\n", "", 0);
    expect_distance(ctx, " N  AY\tT\n", "N AY T", 0);        /* whitespace is not a token */
    expect_distance(ctx, "", "K N AY T", 4);                 /* all insertions */
    expect_distance(ctx, "K N AY T", "N AY T", 1);           /* one deletion */
    expect_distance(ctx, "N AY T", "N IH T", 1);             /* one substitution */
    expect_distance(ctx, "k i t t e n", "s i t t i n g", 3); /* the classic */
    expect_distance(ctx, "AA", "A A", 2);                    /* tokens, not characters */
    expect_distance(ctx, "A B C D", "D C B A", 4);
    expect_distance(ctx, "A B C", "X A B C Y", 2);
    expect_distance(ctx, "\xC3\x89 T", "E T", 1); /* bytes compared: É is not E */
}

/* The full (n+1) x (m+1) matrix, straight from the definition. */
static int reference_distance(const int *a, int n, const int *b, int m) {
    int *d = malloc((size_t)(n + 1) * (size_t)(m + 1) * sizeof *d);
#define D(i, j) d[(i) * (m + 1) + (j)]
    for (int i = 0; i <= n; i++)
        D(i, 0) = i;
    for (int j = 0; j <= m; j++)
        D(0, j) = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int best = D(i - 1, j - 1) + (a[i - 1] != b[j - 1]);
            if (D(i - 1, j) + 1 < best) best = D(i - 1, j) + 1;
            if (D(i, j - 1) + 1 < best) best = D(i, j - 1) + 1;
            D(i, j) = best;
        }
    int out = D(n, m);
#undef D
    free(d);
    return out;
}

/* Random sequences over a 4-token alphabet (many matches), 0..12 long. */
static void test_against_matrix(at_ctx *ctx) {
    static const char *const alphabet[] = {"AA", "B", "CH", "AA0"};
    at_rng rng;
    at_rng_seed(&rng, 11);
    int wrong = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int a[12], b[12], n = (int)at_rng_below(&rng, 13), m = (int)at_rng_below(&rng, 13);
        char ta[128] = "", tb[128] = "";
        for (int i = 0; i < n; i++) {
            a[i] = (int)at_rng_below(&rng, 4);
            strcat(ta, i ? " " : "");
            strcat(ta, alphabet[a[i]]);
        }
        for (int j = 0; j < m; j++) {
            b[j] = (int)at_rng_below(&rng, 4);
            strcat(tb, j % 3 ? "  " : "\t");
            strcat(tb, alphabet[b[j]]);
        }
        int got = -1, want = reference_distance(a, n, b, m);
        CHECK_OK(ctx, at_token_edit_distance(ctx, ta, tb, &got));
        if (got != want && wrong++ < 5)
            fprintf(stderr, "  distance('%s', '%s') = %d, want %d\n", ta, tb, got, want);
    }
    CHECK(wrong == 0, "%d of 2000 random pairs differ from the full matrix", wrong);
}

/* n tokens "T" */
static char *tokens(int n) {
    char *text = malloc(2 * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(text + 2 * i, "T ", 2);
    text[2 * n] = 0;
    return text;
}

static void test_limits(at_ctx *ctx) {
    int d = -1;
    char *most = tokens(AT_EDIT_MAX_TOKENS), *over = tokens(AT_EDIT_MAX_TOKENS + 1);
    CHECK_OK(ctx, at_token_edit_distance(ctx, most, "T X", &d));
    CHECK(d == AT_EDIT_MAX_TOKENS - 1, "the most tokens are allowed: distance %d, want %d", d,
          AT_EDIT_MAX_TOKENS - 1);
    CHECK_STATUS(ctx, at_token_edit_distance(ctx, over, "T", &d), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "the first text has more than 10000 tokens"),
          "the message names the text and the cap: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_token_edit_distance(ctx, "T", over, &d), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "the second text"), "names the second: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_token_edit_distance(ctx, NULL, "T", &d), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_token_edit_distance(ctx, "T", NULL, &d), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_token_edit_distance(ctx, "T", "T", NULL), AT_ERR_ARGUMENT);
    free(most);
    free(over);
}

static void expect_score(const at_wer *s, long words, long wrong, long edits, long units,
                         const char *what) {
    CHECK(s->words == words && s->words_wrong == wrong && s->edits == edits &&
              s->reference_units == units,
          "%s: words %ld wrong %ld edits %ld units %ld; want %ld %ld %ld %ld", what, s->words,
          s->words_wrong, s->edits, s->reference_units, words, wrong, edits, units);
}

static void test_wer(at_ctx *ctx) {
    at_wer s = {0};
    CHECK(at_wer_rate(&s) == 0.0 && at_per_rate(&s) == 0.0, "nothing scored: rates 0, not NaN");

    /* right by its second reference: 0 edits, that reference's 4 phones */
    const char *read_refs[] = {"R IY D", "R EH D Z"};
    CHECK_OK(ctx, at_wer_add(ctx, &s, "R EH D Z", read_refs, 2));
    expect_score(&s, 1, 0, 0, 4, "a match with the second reference");

    /* a tie, 2 edits from each: the first reference counts, 4 phones */
    const char *tie_refs[] = {"A B C D", "X Y"};
    CHECK_OK(ctx, at_wer_add(ctx, &s, "A B", tie_refs, 2));
    expect_score(&s, 2, 1, 2, 8, "a tie takes the first reference");

    /* the closest is the second: 1 edit, 3 phones (not the first's 5) */
    const char *knight_refs[] = {"K AH N IH G", "N AY T"};
    CHECK_OK(ctx, at_wer_add(ctx, &s, "K N AY T", knight_refs, 2));
    expect_score(&s, 3, 2, 3, 11, "the closest reference counts");

    /* an empty output: every phone of the closest reference is deleted */
    const char *queue_refs[] = {"K Y UW W", "K Y UW"};
    CHECK_OK(ctx, at_wer_add(ctx, &s, "", queue_refs, 2));
    expect_score(&s, 4, 3, 6, 14, "an empty output");

    CHECK(at_wer_rate(&s) == 3.0 / 4.0, "WER %.6f, want 3/4", at_wer_rate(&s));
    CHECK(at_per_rate(&s) == 6.0 / 14.0, "PER %.6f, want 6/14", at_per_rate(&s));

    /* errors leave the score as it was */
    at_wer before = s;
    const char *empty_ref[] = {"N AY T", "  "};
    const char *null_ref[] = {"N AY T", NULL};
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, "N AY T", empty_ref, 2), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "reference 1 has no token"), "names it: %s", at_ctx_error(ctx));
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, "N AY T", null_ref, 2), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, "N AY T", read_refs, 0), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, NULL, read_refs, 1), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_wer_add(ctx, NULL, "N AY T", read_refs, 1), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, "N AY T", NULL, 1), AT_ERR_ARGUMENT);
    char *over = tokens(AT_EDIT_MAX_TOKENS + 1);
    CHECK_STATUS(ctx, at_wer_add(ctx, &s, over, read_refs, 2), AT_ERR_ARGUMENT);
    free(over);
    expect_score(&s, before.words, before.words_wrong, before.edits, before.reference_units,
                 "after refused calls");
    CHECK(at_wer_rate(NULL) == 0.0 && at_per_rate(NULL) == 0.0, "NULL: rates 0");
}

int main(void) {
    at_ctx *ctx = test_new_ctx();
    test_hand_distances(ctx);
    test_against_matrix(ctx);
    test_limits(ctx);
    test_wer(ctx);
    at_ctx_free(ctx);
    return test_finish("edit_distance");
}
