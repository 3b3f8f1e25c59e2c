/*
 * fuzz_classify_tsv.c - any bytes as a TSV file of labelled documents
 * (at_class_docs_read_tsv), and every text read as the classifier's
 * tokenizer reads it (at_classify_tokenize, small limits).
 *
 * Properties: a refused file leaves the set empty; a read set written
 * back (at_class_docs_write_tsv) and read again gives the same labels,
 * texts and groups; the tokens are sentences of 1 .. max_words words,
 * at most max_sentences of them, each word non-empty, valid UTF-8 of at
 * most 64 bytes, with no ASCII whitespace.
 */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

static void check_tokens(at_ctx *ctx, const char *text) {
    at_doc_tokens t;
    if (at_classify_tokenize(ctx, text, 3, 4, &t) != AT_OK)
        fuzz_fail("the tokenizer refused a text the TSV reader accepted", at_ctx_error(ctx));
    int words = 0;
    if (t.sentences > 3) fuzz_fail("more sentences than max_sentences", text);
    for (int s = 0; s < t.sentences; s++) {
        if (t.lengths[s] < 1 || t.lengths[s] > 4) fuzz_fail("a sentence length out of range", text);
        words += t.lengths[s];
    }
    if (words != t.words) fuzz_fail("the lengths do not sum to the words", text);
    for (int w = 0; w < t.words; w++) {
        size_t n = strlen(t.word[w]);
        if (n == 0 || n > 64 || strpbrk(t.word[w], " \t\r\n\v\f") ||
            at_utf8_check(ctx, t.word[w], n, "word") != AT_OK)
            fuzz_fail("a bad word", t.word[w]);
    }
    at_doc_tokens_clear(&t);
}

static int same(const at_class_docs *a, const at_class_docs *b) {
    if (a->count != b->count) return 0;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->labels[i], b->labels[i]) || strcmp(a->texts[i], b->texts[i]) ||
            strcmp(a->groups[i], b->groups[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *path = fuzz_input_file(0, data, size);
    if (!path) return 0;
    at_class_docs docs = {0}, again = {0};
    if (at_class_docs_read_tsv(ctx, path, &docs) != AT_OK) {
        if (docs.count != 0) fuzz_fail("a refused TSV left documents", at_ctx_error(ctx));
        return 0;
    }
    for (size_t i = 0; i < docs.count; i++) check_tokens(ctx, docs.texts[i]);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s.copy", path);
    if (at_class_docs_write_tsv(ctx, copy, &docs) != AT_OK ||
        at_class_docs_read_tsv(ctx, copy, &again) != AT_OK)
        fuzz_fail("documents read from a TSV did not go round again", at_ctx_error(ctx));
    if (!same(&docs, &again)) fuzz_fail("the round trip changed the documents", path);
    remove(copy);
    at_class_docs_clear(&again);
    at_class_docs_clear(&docs);
    return 0;
}
