/*
 * mail_corpus_tool.c - read the SpamAssassin corpus (at_mail_corpus_read)
 * and print what tests/test_mail_corpus.sh checks, one "key value" a line:
 *   files N, failed N, html N, charset_guessed N, seconds S,
 *   failure TEXT (each described failure),
 *   SPLIT N, SPLIT.label.LABEL N and SPLIT.group.GROUP N for train, dev
 *   and test.
 *   mail_corpus_tool DIR
 */
#define _POSIX_C_SOURCE 200809L
#include "attend.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void count_by(const char *split, const char *kind, const at_class_docs *docs, char **field,
                     const char *const *values) {
    for (; *values; values++) {
        size_t n = 0;
        for (size_t i = 0; i < docs->count; i++) n += !strcmp(field[i], *values);
        printf("%s.%s.%s %zu\n", split, kind, *values, n);
    }
}

static void print_split(const char *name, const at_class_docs *docs) {
    static const char *const labels[] = {"ham", "spam", NULL};
    static const char *const groups[] = {"easy_ham", "hard_ham", "spam", NULL};
    printf("%s %zu\n", name, docs->count);
    count_by(name, "label", docs, docs->labels, labels);
    count_by(name, "group", docs, docs->groups, groups);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mail_corpus_tool DIR\n");
        return 2;
    }
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    at_mail_corpus corpus;
    at_status status = at_mail_corpus_read(ctx, argv[1], &corpus, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (status != AT_OK) {
        fprintf(stderr, "mail_corpus_tool: %s\n", at_ctx_error(ctx));
        at_ctx_free(ctx);
        return 1;
    }
    printf("files %zu\nfailed %zu\nhtml %zu\ncharset_guessed %zu\n", corpus.files, corpus.failed,
           corpus.html, corpus.charset_guessed);
    printf("seconds %.2f\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    for (size_t i = 0; i < corpus.failed && i < 8; i++) printf("failure %s\n", corpus.failures[i]);
    print_split("train", &corpus.train);
    print_split("dev", &corpus.dev);
    print_split("test", &corpus.test);
    at_mail_corpus_clear(&corpus);
    at_ctx_free(ctx);
    return 0;
}
