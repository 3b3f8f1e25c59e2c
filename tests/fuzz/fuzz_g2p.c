/*
 * fuzz_g2p.c - any bytes as a pronouncing dictionary and as a G2P test file
 * (at_g2p_split_load): first as the dictionary beside a fixed test file,
 * then as the test file beside a fixed dictionary.
 *
 * Properties: a refused file leaves the split empty; a loaded one holds
 * only valid pairs (at_pairs_add takes each again) whose targets are
 * phones of the 39 with single spaces, each word's pronunciations
 * consecutive and in one set, no test word in train or dev, dev exactly
 * the words with FNV-1a mod dev_every == 0, and word counts that agree
 * with the pairs.
 */
#include "fuzz.h"

#include <string.h>

enum { DEV_EVERY = 3 };

static const char *const FIXED_DICT = "A  AH0\nA(1)  EY1\nKNIGHT  N AY1 T\nQUEUE  K Y UW1\n";
static const char *const FIXED_TEST = "QUEUE\tK Y UW\nXYLOPHONE\tZ AY L AH F OW N\n";

static int is_phone(const char *p, size_t len) {
    static const char *const phones = " AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L "
                                      "M N NG OW OY P R S SH T TH UH UW V W Y Z ZH ";
    char key[8];
    if (len == 0 || len > 2) return 0;
    memcpy(key + 1, p, len);
    key[0] = key[len + 1] = ' ';
    key[len + 2] = 0;
    return strstr(phones, key) != NULL;
}

static void check_target(const char *target) {
    size_t n = strlen(target);
    if (n == 0 || target[0] == ' ' || target[n - 1] == ' ' || strstr(target, "  "))
        fuzz_fail("a target is not phones with single spaces", target);
    for (const char *p = target; *p; p += strspn(p, " ")) {
        size_t len = strcspn(p, " ");
        if (!is_phone(p, len)) fuzz_fail("a target holds a phone not of the 39", target);
        p += len;
    }
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* 1 if source is the source of some pair of set before index `before`. */
static int seen_before(const at_pairs *set, size_t before, const char *source) {
    for (size_t i = 0; i < before; i++)
        if (strcmp(set->source[i], source) == 0) return 1;
    return 0;
}

/* The pairs of one set; returns its number of distinct words. */
static long check_set(at_ctx *ctx, const at_pairs *set, const at_pairs *others[2], int dev) {
    long words = 0;
    at_pairs again = {0};
    for (size_t i = 0; i < set->count; i++) {
        const char *source = set->source[i];
        if (at_pairs_add(ctx, &again, source, set->target[i]) != AT_OK)
            fuzz_fail("a split pair is not a valid pair", at_ctx_error(ctx));
        check_target(set->target[i]);
        if (i > 0 && strcmp(source, set->source[i - 1]) == 0) continue;
        words++;
        if (seen_before(set, i, source))
            fuzz_fail("a word's pronunciations are not consecutive", source);
        for (int k = 0; k < 2; k++)
            if (seen_before(others[k], others[k]->count, source))
                fuzz_fail("a word is in two sets", source);
        if (dev >= 0 && (fnv1a(source) % DEV_EVERY == 0) != dev)
            fuzz_fail("a word is in the wrong one of train and dev", source);
    }
    at_pairs_clear(&again);
    return words;
}

static void load(at_ctx *ctx, const char *dict, const char *test) {
    at_g2p_split_options o = {DEV_EVERY};
    at_g2p_split s = {0};
    if (at_g2p_split_load(ctx, dict, test, &o, &s) != AT_OK) {
        if (s.train.count || s.dev.count || s.test.count || s.dict_words)
            fuzz_fail("a refused file left a split", at_ctx_error(ctx));
        return;
    }
    const at_pairs *not_train[2] = {&s.dev, &s.test}, *not_dev[2] = {&s.train, &s.test};
    const at_pairs *not_test[2] = {&s.train, &s.dev};
    if (check_set(ctx, &s.train, not_train, 0) != s.train_words ||
        check_set(ctx, &s.dev, not_dev, 1) != s.dev_words ||
        check_set(ctx, &s.test, not_test, -1) != s.test_words)
        fuzz_fail("the word counts disagree with the pairs", NULL);
    if (s.train.count == 0) fuzz_fail("a split loaded with nothing to train on", NULL);
    at_g2p_split_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    at_ctx *ctx = fuzz_ctx();
    const char *input = fuzz_input_file(0, data, size);
    const char *test = fuzz_input_file(1, (const uint8_t *)FIXED_TEST, strlen(FIXED_TEST));
    if (!input || !test) return 0;
    load(ctx, input, test);
    const char *dict = fuzz_input_file(1, (const uint8_t *)FIXED_DICT, strlen(FIXED_DICT));
    if (!dict) return 0;
    load(ctx, dict, input);
    return 0;
}
