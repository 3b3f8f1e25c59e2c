/*
 * test_classify_text.c - the classifier's text side: the tokenizer
 * (at_classify_tokenize) and labelled-document TSV files.
 *
 *   tokenize  sentence ends (". ", "!", "?", a blank line, the max_words
 *             split, the max_sentences cut), lower case, ! ? $ % as words,
 *             non-ASCII letters, apostrophes, a long word cut at 64 bytes,
 *             invalid UTF-8 named by its byte offset;
 *   tsv       a round trip with escapes and groups; every malformed line
 *             is an AT_ERR_FORMAT naming FILE:LINE.
 *
 * Run with a case name (tokenize, tsv) to run only that case.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tokens as "w w | w w" (sentences split by " | "). */
static void render(const at_doc_tokens *t, char *out, size_t size) {
    size_t n = 0;
    out[0] = '\0';
    for (int s = 0, w = 0; s < t->sentences; s++) {
        if (s) n += (size_t)snprintf(out + n, size - n, " | ");
        for (int j = 0; j < t->lengths[s]; j++, w++)
            n += (size_t)snprintf(out + n, size - n, "%s%s", j ? " " : "", t->word[w]);
    }
}

static void expect_tokens(const char *text, int max_sentences, int max_words,
                          const char *want) {
    at_ctx *ctx = test_new_ctx();
    at_doc_tokens t;
    CHECK_OK(ctx, at_classify_tokenize(ctx, text, max_sentences, max_words, &t));
    char got[4096];
    render(&t, got, sizeof got);
    CHECK(!strcmp(got, want), "tokenize(\"%s\", %d, %d):\n   got  \"%s\"\n   want \"%s\"", text,
          max_sentences, max_words, got, want);
    int sum = 0;
    for (int s = 0; s < t.sentences; s++) {
        CHECK(t.lengths[s] >= 1, "sentence %d of \"%s\" is empty", s, text);
        sum += t.lengths[s];
    }
    CHECK(sum == t.words, "\"%s\": lengths sum to %d, words %d", text, sum, t.words);
    at_doc_tokens_clear(&t);
    at_ctx_free(ctx);
}

static void test_tokenize(void) {
    // sentence ends
    expect_tokens("Hello world. How are you", 30, 40, "hello world | how are you");
    expect_tokens("Stop! Now? yes", 30, 40, "stop ! | now ? | yes");
    expect_tokens("a.b c. d", 30, 40, "a b c | d");        // "." inside a word does not end
    expect_tokens("wow!!! great", 30, 40, "wow ! ! ! | great");
    expect_tokens("end.", 30, 40, "end");
    expect_tokens("one\ntwo\n  \t\nthree", 30, 40, "one two | three"); // a blank line
    expect_tokens("one\ntwo", 30, 40, "one two");                  // one newline does not
    expect_tokens("a b c d e f g", 30, 3, "a b c | d e f | g");     // max_words splits
    expect_tokens("a. b. c. d.", 2, 40, "a | b");                   // max_sentences cuts
    expect_tokens("a b c d e", 1, 2, "a b");
    expect_tokens("", 30, 40, "");
    expect_tokens(" .,;:- \n\n ", 30, 40, "");
    // case, punctuation words, digits
    expect_tokens("FREE Money: $100 (50% off)", 30, 40, "free money $ 100 50 % off");
    expect_tokens("Call 555-1234 now", 30, 40, "call 555 1234 now");
    // non-ASCII letters (kept as they are), apostrophes inside a word only
    expect_tokens("Ça coûte 5 € über", 30, 40, "Ça coûte 5 € über");
    expect_tokens("don't 'quoted' dogs' rock'n'roll", 30, 40, "don't quoted dogs rock'n'roll");
    expect_tokens("it''s", 30, 40, "it s");
    // a long word keeps its first 64 bytes (whole code points)
    char long_word[200], want[200];
    memset(long_word, 'x', 100);
    strcpy(long_word + 100, " y");
    memset(want, 'x', 64);
    strcpy(want + 64, " y");
    expect_tokens(long_word, 30, 40, want);
    char wide[200] = "a", wide_want[200] = "a"; // 'a' + 40 two-byte letters: cut to 63 bytes
    for (int i = 0; i < 40; i++) strcat(wide, "é");
    for (int i = 0; i < 31; i++) strcat(wide_want, "é");
    expect_tokens(wide, 30, 40, wide_want);

    at_ctx *ctx = test_new_ctx();
    at_doc_tokens t;
    CHECK_STATUS(ctx, at_classify_tokenize(ctx, "ok \xC3\x28 bad", 30, 40, &t), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "byte 3") != NULL, "invalid UTF-8 message: %s",
          at_ctx_error(ctx));
    CHECK(t.sentences == 0 && t.word == NULL, "a failed tokenize leaves its output empty");
    CHECK_STATUS(ctx, at_classify_tokenize(ctx, "a", 0, 40, &t), AT_ERR_ARGUMENT);
    at_ctx_free(ctx);
}

/* ----------------------------------------------------------------- tsv */

static void expect_tsv_error(const char *content, const char *want) {
    at_ctx *ctx = test_new_ctx();
    test_write_file("bad.tsv", content, strlen(content));
    at_class_docs docs = {0};
    CHECK_STATUS(ctx, at_class_docs_read_tsv(ctx, "bad.tsv", &docs), AT_ERR_FORMAT);
    CHECK(strstr(at_ctx_error(ctx), want) != NULL, "error for %-.40s...: \"%s\", want \"%s\"",
          content, at_ctx_error(ctx), want);
    CHECK(docs.count == 0, "a failed read leaves the set empty");
    at_ctx_free(ctx);
}

static void test_tsv(void) {
    char dir[] = "classify_tsv_XXXXXX";
    test_enter_scratch_dir(dir);
    at_ctx *ctx = test_new_ctx();
    at_class_docs docs = {0}, back = {0};
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "ham", "Line one.\nLine\ttwo \\ end\r", "easy",
                                    "a"));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "spam", "Buy now!", "", NULL));
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "ham", "Ünïcode ✓", "hard", NULL));
    CHECK_OK(ctx, at_class_docs_write_tsv(ctx, "docs.tsv", &docs));
    size_t n = 0;
    unsigned char *bytes = test_read_file("docs.tsv", &n);
    const char *want = "ham\tLine one.\\nLine\\ttwo \\\\ end\\r\teasy\n"
                       "spam\tBuy now!\t\n"
                       "ham\tÜnïcode ✓\thard\n";
    CHECK(bytes && n == strlen(want) && !memcmp(bytes, want, n), "written TSV:\n%.*s", (int)n,
          bytes ? (const char *)bytes : "");
    free(bytes);
    CHECK_OK(ctx, at_class_docs_read_tsv(ctx, "docs.tsv", &back));
    CHECK(back.count == docs.count, "read %zu documents back, wrote %zu", back.count, docs.count);
    for (size_t i = 0; i < back.count && i < docs.count; i++) {
        CHECK(!strcmp(back.labels[i], docs.labels[i]), "doc %zu label %s", i, back.labels[i]);
        CHECK(!strcmp(back.texts[i], docs.texts[i]), "doc %zu text \"%s\"", i, back.texts[i]);
        CHECK(!strcmp(back.groups[i], docs.groups[i]), "doc %zu group %s", i, back.groups[i]);
    }
    if (back.count == 3)
        CHECK(!strcmp(back.ids[1], "docs.tsv:2"), "id of line 2: %s", back.ids[1]);
    CHECK(at_class_docs_fingerprint(&back) == at_class_docs_fingerprint(&docs),
          "the round trip keeps the fingerprint");
    at_class_docs_clear(&back);
    at_class_docs_clear(&docs);

    // no group column when no document has a group; CRLF, a BOM and blank lines are fine
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "a", "x", NULL, NULL));
    CHECK_OK(ctx, at_class_docs_write_tsv(ctx, "plain.tsv", &docs));
    bytes = test_read_file("plain.tsv", &n);
    CHECK(bytes && n == 4 && !memcmp(bytes, "a\tx\n", 4), "a TSV without groups");
    free(bytes);
    at_class_docs_clear(&docs);
    const char *crlf = "\xEF\xBB\xBFham\thi there\r\n\r\nspam\tbuy\r\n";
    test_write_file("crlf.tsv", crlf, strlen(crlf));
    CHECK_OK(ctx, at_class_docs_read_tsv(ctx, "crlf.tsv", &docs));
    CHECK(docs.count == 2 && !strcmp(docs.texts[0], "hi there") && !strcmp(docs.ids[1], "crlf.tsv:3"),
          "CRLF and BOM: %zu docs", docs.count);
    at_class_docs_clear(&docs);
    CHECK_OK(ctx, at_class_docs_add(ctx, &docs, "a", "", NULL, NULL));
    CHECK_STATUS(ctx, at_class_docs_write_tsv(ctx, "empty.tsv", &docs), AT_ERR_ARGUMENT);
    at_class_docs_clear(&docs);

    expect_tsv_error("ham\tok\nno tab here\n", "bad.tsv:2: no tab");
    expect_tsv_error("ham\tok\n\tno label\n", "bad.tsv:2: the label is empty");
    expect_tsv_error("ham\t\n", "bad.tsv:1: the text is empty");
    expect_tsv_error("ham\tok\nham\tbad \\x escape\n", "bad.tsv:2: an unknown escape at column 9");
    expect_tsv_error("ham\tends in \\\n", "bad.tsv:1: an unknown escape");
    expect_tsv_error("ham\tok\tg\textra\n", "bad.tsv:1: more than three fields");
    expect_tsv_error("ham\tok\n\nham\tbad \xff\n", "bad.tsv:3: ");
    expect_tsv_error("two words\tok\n", "bad.tsv:1: ");
    // a raw CR inside the group could not be written back (fuzz_classify_tsv found it)
    expect_tsv_error("ham\tok\tgr\roup\n", "bad.tsv:1: the group holds a carriage return");
    // a label holding U+FEFF after the first line would lose it when written first and read
    // back, where a file's leading BOM is dropped (fuzz_classify_tsv found it)
    expect_tsv_error("\n\xEF\xBB\xBFm\tsome text\n", "bad.tsv:2:");
    expect_tsv_error("ham\tok\nsp\xEF\xBB\xBF" "am\tbuy\n", "U+FEFF");
    expect_tsv_error("", "bad.tsv:1: the file holds no document");
    expect_tsv_error("\n\n", "no document");
    CHECK_STATUS(ctx, at_class_docs_read_tsv(ctx, "missing.tsv", &docs), AT_ERR_IO);
    at_ctx_free(ctx);
    test_leave_scratch_dir(dir);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"tokenize", test_tokenize, 0},
        {"tsv", test_tsv, 0},
    };
    return test_run_cases(argc, argv, cases, sizeof cases / sizeof cases[0], "classify_text");
}
