/*
 * test_g2p_split.c - the G2P split's rules (attend/data.h, at_g2p_split_load)
 * on small dictionaries and test files written here, by hand.
 *
 * One dictionary holds a case of every rule: a comment, alternates
 * "(1)" (one of them far from its word), stress digits, a Latin-1 byte,
 * words left out (punctuation names, a dot, a hyphen, an underscore, a
 * digit), a repeat once stress is gone, test words; and 200 made-up words
 * whose dev membership is checked against FNV-1a written out again here.
 * Then UTF-8 dictionaries, every kind of malformed line (the message must
 * name PATH:LINE), empty, missing, binary and over-long files, the line
 * length cap at its edge, a file over the size cap, and bad arguments.
 */
#define _POSIX_C_SOURCE 200809L /* ftruncate */
#include "testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_text(const char *path, const char *text) {
    test_write_file(path, text, strlen(text));
}

/* The index of the first pair of (source, target) in set, or -1. */
static long find_pair(const at_pairs *set, const char *source, const char *target) {
    for (size_t i = 0; i < set->count; i++)
        if (!strcmp(set->source[i], source) && (!target || !strcmp(set->target[i], target)))
            return (long)i;
    return -1;
}

/* The hand-written dictionary: line numbers matter in the messages below. */
static const char *const DICT = ";;; a comment, as CMUdict 0.7b has at its top  AH0 XX9\n"
                                "A  AH0\n"
                                "A(1)  EY1\n"
                                "A'S  EY1 Z\n"
                                "!EXCLAMATION-POINT  EH2 K S K L AH0 M EY1 SH AH0 N P OY2 N T\n"
                                "A.  EY1\n"
                                "ABLE-BODIED  EY1 B AH0 L B AA1 D IY0 D\n"
                                "AIR_FORCE  EH1 R F AO2 R S\n"
                                "A42128  EY1 F AO1 R T UW1 W AH1 N T UW1 EY1 T\n"
                                "ABSTRACT  AE1 B S T R AE2 K T\n"
                                "ABSTRACT(1)  AE0 B S T R AE1 K T\n"
                                "D\xC9J\xC0  D EY2 JH AA1\n"
                                "KNIGHT  N AY1 T\n"
                                "TESTWORD  T EH1 S T\n"
                                "\n"
                                "'BOUT  B AW1 T\r\n"
                                "ABSTRACT(2)  AH0 B S T R AE1 K T\n"
                                "XYLOPHONE  Z AY1 L AH0 F OW2 N\n";

static const char *const TEST = "TESTWORD\tT EH S T\n"
                                "KNIGHTS\tN AY T S\n"
                                "TESTWORD\tT EH S\n"
                                "QUEUE\tK Y UW\r\n";

/* Every set lists a word's pronunciations on consecutive pairs. */
static void check_grouped(const char *name, const at_pairs *set) {
    const char *bad = test_pairs_grouped(set);
    CHECK(!bad, "%s: the pronunciations of '%s' are not consecutive", name, bad ? bad : "");
}

static void test_rules(at_ctx *ctx) {
    write_text("dict.txt", DICT);
    write_text("test.tsv", TEST);
    at_g2p_split s = {0};
    CHECK_OK(ctx, at_g2p_split_load(ctx, "dict.txt", "test.tsv", NULL, &s));
    at_pairs *sets[2] = {&s.train, &s.dev};
    /* a word is in train or dev; find_any looks in both */
#define FIND_ANY(src, tgt) (find_pair(sets[0], src, tgt) >= 0 || find_pair(sets[1], src, tgt) >= 0)
    CHECK(FIND_ANY("A", "AH") && FIND_ANY("A", "EY"), "A and its alternate A(1), stress stripped");
    CHECK(!FIND_ANY("A(1)", NULL), "the alternate marker is removed");
    CHECK(FIND_ANY("A'S", "EY Z") && FIND_ANY("'BOUT", "B AW T"),
          "apostrophes are letters of a word (and CRLF ends a line)");
    CHECK(FIND_ANY("D\xC3\x89J\xC3\x80", "D EY JH AA"),
          "the Latin-1 word D\\xC9J\\xC0 is read as DÉJÀ in UTF-8");
    CHECK(FIND_ANY("KNIGHT", "N AY T") && FIND_ANY("XYLOPHONE", "Z AY L AH F OW N"),
          "stress digits are stripped");
    const char *dropped[] = {"!EXCLAMATION-POINT", "A.", "ABLE-BODIED", "AIR_FORCE", "A42128"};
    for (int i = 0; i < 5; i++)
        CHECK(!FIND_ANY(dropped[i], NULL), "'%s' is left out (not letters)", dropped[i]);
    CHECK(s.dropped_words == 5, "dropped_words %ld, want 5", s.dropped_words);
    CHECK(!FIND_ANY("TESTWORD", NULL), "a test word is removed from train and dev");
    CHECK(s.test_words_removed == 1,
          "test_words_removed %ld, want 1 (KNIGHTS and QUEUE are not in "
          "the dictionary)",
          s.test_words_removed);
    /* ABSTRACT: 3 lines, 2 pronunciations once stress is gone, together
     * although ABSTRACT(2) is far below */
    const at_pairs *abstract_set = find_pair(&s.train, "ABSTRACT", NULL) >= 0 ? &s.train : &s.dev;
    long first = find_pair(abstract_set, "ABSTRACT", NULL);
    CHECK(first >= 0 && (size_t)first + 1 < abstract_set->count &&
              !strcmp(abstract_set->target[first], "AE B S T R AE K T") &&
              !strcmp(abstract_set->source[first + 1], "ABSTRACT") &&
              !strcmp(abstract_set->target[first + 1], "AH B S T R AE K T"),
          "ABSTRACT's two distinct pronunciations are consecutive, in line order");
    CHECK(s.duplicate_prons == 1, "duplicate_prons %ld, want 1", s.duplicate_prons);
    CHECK(s.dict_words == 13, "dict_words %ld, want 13", s.dict_words);
    CHECK(s.train_words + s.dev_words == 7, "train + dev words %ld + %ld, want 7", s.train_words,
          s.dev_words);
    CHECK(s.train.count + s.dev.count == 9, "train + dev pairs %zu + %zu, want 9", s.train.count,
          s.dev.count);
    /* the test set: file order, TESTWORD's two lines brought together */
    const char *want_source[] = {"TESTWORD", "TESTWORD", "KNIGHTS", "QUEUE"};
    const char *want_target[] = {"T EH S T", "T EH S", "N AY T S", "K Y UW"};
    CHECK(s.test.count == 4 && s.test_words == 3, "test: %zu pairs, %ld words; want 4 and 3",
          s.test.count, s.test_words);
    for (size_t i = 0; i < 4 && i < s.test.count; i++)
        CHECK(!strcmp(s.test.source[i], want_source[i]) &&
                  !strcmp(s.test.target[i], want_target[i]),
              "test pair %zu is %s / %s, want %s / %s", i, s.test.source[i], s.test.target[i],
              want_source[i], want_target[i]);
    check_grouped("train", &s.train);
    check_grouped("dev", &s.dev);
    check_grouped("test", &s.test);
#undef FIND_ANY
    at_g2p_split_clear(&s);
    CHECK(s.train.count == 0 && s.test.source == NULL && s.dict_words == 0,
          "clear leaves the split empty");
}

/* 200 words: which go to dev is FNV-1a(word) mod dev_every == 0. */
static void test_dev_rule(at_ctx *ctx, int dev_every) {
    char *dict = malloc(200 * 32), *p = dict;
    char words[200][8];
    for (int i = 0; i < 200; i++) {
        snprintf(words[i], sizeof words[i], "Q%c%c'%c", 'A' + i % 26, 'A' + i / 26, 'Z' - i % 7);
        p += sprintf(p, "%s  K W%s\n%s(1)  K\n", words[i], i % 2 ? " AH0" : "", words[i]);
    }
    write_text("dev.txt", dict);
    free(dict);
    write_text("none.tsv", "NOTHERE\tN AA T\n");
    at_g2p_split_options o;
    at_g2p_split_options_default(&o);
    CHECK(o.dev_every == 20, "the default dev_every is %d, want 20", o.dev_every);
    o.dev_every = dev_every;
    at_g2p_split s = {0};
    CHECK_OK(ctx, at_g2p_split_load(ctx, "dev.txt", "none.tsv", &o, &s));
    int in_dev = 0, wrong = 0;
    for (int i = 0; i < 200; i++) {
        int want_dev = dev_every > 0 && test_fnv1a_64(words[i]) % (uint64_t)dev_every == 0;
        long d = find_pair(&s.dev, words[i], NULL), t = find_pair(&s.train, words[i], NULL);
        int ok = want_dev ? d >= 0 && t < 0 : d < 0 && t >= 0;
        if (!ok && wrong++ < 5)
            fprintf(stderr, "  %s (FNV-1a %016llx): in dev %d, in train %d, want dev %d\n",
                    words[i], (unsigned long long)test_fnv1a_64(words[i]), d >= 0, t >= 0,
                    want_dev);
        in_dev += want_dev;
    }
    CHECK(wrong == 0, "dev_every %d: %d of 200 words in the wrong set", dev_every, wrong);
    CHECK(s.dev_words == in_dev && s.train_words == 200 - in_dev,
          "dev_every %d: %ld dev words and %ld train words, want %d and %d", dev_every, s.dev_words,
          s.train_words, in_dev, 200 - in_dev);
    CHECK(dev_every == 0 ? in_dev == 0 : in_dev > 0 && in_dev < 200,
          "dev_every %d: the test needs both sets non-empty (%d in dev)", dev_every, in_dev);
    CHECK(s.dev.count + s.train.count == 400, "every word keeps its two pronunciations (%zu)",
          s.dev.count + s.train.count);
    check_grouped("train", &s.train);
    check_grouped("dev", &s.dev);
    at_g2p_split_clear(&s);
}

/* A dictionary in UTF-8 is read as UTF-8; the npm package's entry, whose
 * accented letters became U+FFFD, is left out as not letters. */
static void test_utf8_dictionary(at_ctx *ctx) {
    write_text("utf8.txt", "\xEF\xBB\xBF"
                           "D\xC3\x89J\xC3\x80  D EY2 JH AA1\n"
                           "D\xEF\xBF\xBDJ\xEF\xBF\xBD  D EY2 JH AA1\n"
                           "KNIGHT  N AY1 T\n");
    write_text("none.tsv", "NOTHERE\tN AA T\n");
    at_g2p_split_options o = {0}; /* no dev: every word in train */
    at_g2p_split s = {0};
    CHECK_OK(ctx, at_g2p_split_load(ctx, "utf8.txt", "none.tsv", &o, &s));
    CHECK(find_pair(&s.train, "D\xC3\x89J\xC3\x80", "D EY JH AA") == 0,
          "a UTF-8 DÉJÀ is read as UTF-8 (byte order mark skipped), not as Latin-1");
    CHECK(s.dropped_words == 1 && s.train.count == 2 && s.dev.count == 0,
          "the U+FFFD word is left out: %ld dropped, %zu train pairs, %zu dev pairs",
          s.dropped_words, s.train.count, s.dev.count);
    at_g2p_split_clear(&s);
}

/* A load that must fail with status `want` and a message holding every
 * fragment in `parts` (NULL-terminated); the split stays empty. */
static void expect_failure(at_ctx *ctx, const char *dict, const char *test, at_status want,
                           const char *const *parts) {
    at_g2p_split s = {0};
    at_status got = at_g2p_split_load(ctx, dict, test, NULL, &s);
    const char *msg = at_ctx_error(ctx);
    CHECK(got == want, "%s + %s: status '%s' (%s), want '%s'", dict, test, at_status_name(got), msg,
          at_status_name(want));
    for (int i = 0; parts[i]; i++)
        CHECK(strstr(msg, parts[i]), "%s + %s: the message '%s' lacks '%s'", dict, test, msg,
              parts[i]);
    CHECK(s.train.count == 0 && s.dev.count == 0 && s.test.count == 0 && s.dict_words == 0,
          "%s + %s: a failed load leaves the split empty", dict, test);
    at_g2p_split_clear(&s);
}

typedef struct bad_file {
    const char *text; /* NULL: the bytes below */
    const char *bytes;
    size_t n;
    const char *fragments[3];
} bad_file;

static void test_bad_dictionary_lines(at_ctx *ctx) {
    write_text("good.tsv", "QUEUE\tK Y UW\n");
    const bad_file cases[] = {
        {"A  AH0\nB  XX1\n", NULL, 0, {"bad.txt:2: ", "'XX1' is not an ARPAbet phone"}},
        {"A  AH0\nB  AH3\n", NULL, 0, {"bad.txt:2: ", "'AH3'"}},
        {"A  AH0\nB  ah0\n", NULL, 0, {"bad.txt:2: ", "'ah0'"}},
        {"A  AH0\n\nB\n", NULL, 0, {"bad.txt:3: no phones after the word"}},
        {"A  AH0\nB   \n", NULL, 0, {"bad.txt:2: no phones after the word"}},
        {"A  AH0\n  AH0\n", NULL, 0, {"bad.txt:2: the line starts with a space"}},
        {"A  AH0\nB\tAH0\n", NULL, 0, {"bad.txt:2: control character U+0009"}},
        {"A  AH0\r\nB\rC  AH0\n", NULL, 0, {"bad.txt:2: control character U+000D"}},
        {NULL,
         "A  AH0\nB\0  AH0\n",
         sizeof "A  AH0\nB\0  AH0\n" - 1,
         {"bad.txt:2: control character U+0000"}},
        {"A  AH0\n\x01\x02\x7f\xff\n", NULL, 0, {"bad.txt:2: control character U+0001"}},
        {"A  AH0\nB\x85  AH0\n", NULL, 0, {"bad.txt:2: control character U+0085"}},
        {"", NULL, 0, {"bad.txt: the file is empty"}},
        {";;; only a comment\n\n", NULL, 0, {"bad.txt: no pronunciation"}},
        {"A.  AH0\nB-C  AH0\n", NULL, 0, {"bad.txt: no word left to train on"}},
        {"QUEUE  K Y UW1\n", NULL, 0, {"bad.txt: no word left to train on", "1 in the test"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].text)
            write_text("bad.txt", cases[i].text);
        else
            test_write_file("bad.txt", cases[i].bytes, cases[i].n);
        const char *parts[4] = {cases[i].fragments[0], cases[i].fragments[1], cases[i].fragments[2],
                                NULL};
        expect_failure(ctx, "bad.txt", "good.tsv", AT_ERR_FORMAT, parts);
    }
}

static void test_bad_test_lines(at_ctx *ctx) {
    write_text("good.txt", "A  AH0\nKNIGHT  N AY1 T\n");
    const bad_file cases[] = {
        {"QUEUE K Y UW\n", NULL, 0, {"bad.tsv:1: no tab"}},
        {"QUEUE\tK Y UW\nA\tB\tC\n", NULL, 0, {"bad.tsv:2: more than one tab"}},
        {"QUEUE\tK Y UW\n\nA1\tEY\n", NULL, 0, {"bad.tsv:3: the word 'A1' is not made of"}},
        {"A(1)\tEY\n", NULL, 0, {"bad.tsv:1: the word 'A(1)'"}},
        {"A-B\tEY\n", NULL, 0, {"bad.tsv:1: the word 'A-B'"}},
        {"\tEY\n", NULL, 0, {"bad.tsv:1: the word ''"}},
        {"QUEUE\tK Y UX\n", NULL, 0, {"bad.tsv:1: 'UX' is not an ARPAbet phone"}},
        {"QUEUE\t\n", NULL, 0, {"bad.tsv:1: no phones"}},
        {"QUEUE\tK Y UW\n\xC9T\tEY\n", NULL, 0, {"bad.tsv:2: invalid UTF-8 at column 1"}},
        {"QUEUE\tK Y UW\nAB\xE2\x82\tEY\n", NULL, 0, {"bad.tsv:2: invalid UTF-8 at column 3"}},
        {"", NULL, 0, {"bad.tsv: the file is empty"}},
        {"\r\n\n", NULL, 0, {"bad.tsv: no pronunciation"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text("bad.tsv", cases[i].text);
        const char *parts[4] = {cases[i].fragments[0], cases[i].fragments[1], cases[i].fragments[2],
                                NULL};
        expect_failure(ctx, "good.txt", "bad.tsv", AT_ERR_FORMAT, parts);
    }
}

/* A line of exactly AT_G2P_MAX_LINE_BYTES is read; one byte more is not. */
static void test_line_cap(at_ctx *ctx) {
    size_t cap = AT_G2P_MAX_LINE_BYTES;
    char *text = malloc(2 * cap + 64);
    strcpy(text, "A  AH0\nLONG ");
    size_t start = strlen("A  AH0\n"), n = strlen(text);
    while (n - start + 3 <= cap) {
        memcpy(text + n, " AH", 3);
        n += 3;
    }
    while (n - start < cap)
        text[n++] = ' '; /* pad with spaces to exactly cap bytes */
    text[n++] = '\n';
    text[n] = 0;
    write_text("edge.txt", text);
    write_text("good.tsv", "QUEUE\tK Y UW\n");
    at_g2p_split_options o = {0};
    at_g2p_split s = {0};
    CHECK_OK(ctx, at_g2p_split_load(ctx, "edge.txt", "good.tsv", &o, &s));
    CHECK(s.train.count == 2 && strlen(s.train.target[1]) == 3 * ((cap - 5) / 3) - 1,
          "a %zu-byte line is read whole (%zu pairs)", cap, s.train.count);
    at_g2p_split_clear(&s);
    memmove(text + start + 1, text + start, n - start + 1); /* one byte longer */
    text[start] = 'X';
    write_text("edge.txt", text);
    const char *parts[] = {"edge.txt:2: the line is longer than 4096 bytes", NULL};
    expect_failure(ctx, "edge.txt", "good.tsv", AT_ERR_FORMAT, parts);
    /* and a 1 MB line */
    char *huge = malloc(1 << 20);
    memset(huge, 'A', (1 << 20) - 1);
    huge[(1 << 20) - 1] = 0;
    write_text("edge.txt", huge);
    const char *parts1[] = {"edge.txt:1: the line is longer than 4096 bytes", NULL};
    expect_failure(ctx, "edge.txt", "good.tsv", AT_ERR_FORMAT, parts1);
    free(huge);
    free(text);
}

static void test_bad_files(at_ctx *ctx) {
    write_text("good.txt", "A  AH0\nKNIGHT  N AY1 T\n");
    write_text("good.tsv", "QUEUE\tK Y UW\n");
    const char *missing[] = {"no-such-dict.txt", "cannot open", NULL};
    expect_failure(ctx, "no-such-dict.txt", "good.tsv", AT_ERR_IO, missing);
    const char *missing_test[] = {"no-such-test.tsv", "cannot open", NULL};
    expect_failure(ctx, "good.txt", "no-such-test.tsv", AT_ERR_IO, missing_test);
    const char *directory[] = {".: is a directory", NULL};
    expect_failure(ctx, ".", "good.tsv", AT_ERR_IO, directory);
    /* a file over the size cap (sparse: no disk used), refused before reading */
    int fd = open("huge.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)AT_G2P_MAX_FILE_BYTES + 1) == 0,
          "cannot make a sparse file");
    if (fd >= 0) close(fd);
    const char *huge[] = {"huge.txt: larger than 1073741824 bytes", NULL};
    expect_failure(ctx, "huge.txt", "good.tsv", AT_ERR_FORMAT, huge);
    unlink("huge.txt");
}

static void test_bad_arguments(at_ctx *ctx) {
    write_text("good.txt", "A  AH0\nKNIGHT  N AY1 T\n");
    write_text("good.tsv", "QUEUE\tK Y UW\n");
    at_g2p_split s = {0};
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, NULL, "good.tsv", NULL, &s), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, "good.txt", NULL, NULL, &s), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, "good.txt", "good.tsv", NULL, NULL), AT_ERR_ARGUMENT);
    at_g2p_split_options o = {1};
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, "good.txt", "good.tsv", &o, &s), AT_ERR_ARGUMENT);
    o.dev_every = -3;
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, "good.txt", "good.tsv", &o, &s), AT_ERR_ARGUMENT);
    CHECK_OK(ctx, at_g2p_split_load(ctx, "good.txt", "good.tsv", NULL, &s));
    CHECK_STATUS(ctx, at_g2p_split_load(ctx, "good.txt", "good.tsv", NULL, &s), AT_ERR_ARGUMENT);
    CHECK(s.train.count + s.dev.count == 2, "a refused second load keeps the first split");
    at_g2p_split_clear(&s);
    at_g2p_split_clear(NULL);
    at_g2p_split_options_default(NULL);
}

int main(void) {
    at_ctx *ctx = test_new_ctx();
    char dir[] = "g2p-split-XXXXXX";
    test_enter_scratch_dir(dir);
    test_rules(ctx);
    test_dev_rule(ctx, 20);
    test_dev_rule(ctx, 3);
    test_dev_rule(ctx, 0);
    test_utf8_dictionary(ctx);
    test_bad_dictionary_lines(ctx);
    test_bad_test_lines(ctx);
    test_line_cap(ctx);
    test_bad_files(ctx);
    test_bad_arguments(ctx);
    test_leave_scratch_dir(dir);
    at_ctx_free(ctx);
    return test_finish("g2p_split");
}
