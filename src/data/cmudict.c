/*
 * cmudict.c - the CMU Pronouncing Dictionary and the standard G2P test set,
 * split into train, dev and test pairs.
 *
 * attend/data.h states the rules; in short: the dictionary is decoded with
 * ICU (UTF-8 if the whole file is valid UTF-8, else Latin-1), "WORD(N)"
 * alternates lose their marker, stress digits are stripped and every phone
 * must be one of the 39 ARPAbet phones; only words of letters (u_isalpha)
 * and apostrophes are kept; a pronunciation that repeats one of its word's
 * once stress is gone is kept once; the test file's words are taken out;
 * a word goes to dev when FNV-1a-64(word) mod dev_every == 0; each set
 * lists a word's pronunciations on consecutive pairs.
 *
 * How. Each file is read whole with the library's capped reader (files.h),
 * then line by line: a line (at most AT_G2P_MAX_LINE_BYTES) is decoded to
 * UTF-16 by an ICU converter that stops at an invalid byte, checked for
 * control characters, and encoded back to UTF-8. The parsed pronunciations
 * go into a LEXICON: a table of distinct words in order of first
 * appearance (open addressing on the FNV-1a hash, compared by string),
 * each word with the chain of its pronunciations in line order. A word's
 * pronunciations are therefore together however the file orders its
 * lines, and a repeat is found by walking the word's short chain. The
 * split then walks the words in order and appends each one's chain to
 * train, dev or test.
 */
#include "data.h"
#include "files.h"
#include "internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

/* The 39 ARPAbet phones of CMUdict, sorted (bytewise) for bsearch. */
static const char *const PHONES[] = {"AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D",  "DH",
                                     "EH", "ER", "EY", "F",  "G",  "HH", "IH", "IY", "JH", "K",
                                     "L",  "M",  "N",  "NG", "OW", "OY", "P",  "R",  "S",  "SH",
                                     "T",  "TH", "UH", "UW", "V",  "W",  "Y",  "Z",  "ZH"};
enum { PHONE_COUNT = sizeof PHONES / sizeof PHONES[0] };

/* FNV-1a, 64 bits: the dev rule's hash and the word table's. */
static uint64_t fnv1a_64(const char *bytes, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)bytes[i]) * 0x100000001b3ULL;
    return h;
}

/* --------------------------------------------------------------- lexicon */

typedef struct lex_word {
    char *text;       /* UTF-8, owned                                   */
    uint64_t hash;    /* fnv1a_64 of text                               */
    int kept;         /* made of letters and apostrophes (rule 4)       */
    long first, last; /* its pronunciations, chained by lex_pron.next;
                         -1 = none                                      */
} lex_word;

typedef struct lex_pron {
    char *phones; /* "N AY T", owned */
    long next;    /* the word's next pronunciation, or -1 */
} lex_pron;

typedef struct lexicon {
    lex_word *words;
    long n_words, words_capacity;
    lex_pron *prons;
    long n_prons, prons_capacity;
    long *slots; /* (mask + 1) word indices + 1; 0 = empty */
    size_t mask;
    long duplicates; /* pronunciations kept once (rule 5) */
} lexicon;

static void lexicon_free(lexicon *lex) {
    for (long i = 0; i < lex->n_words; i++)
        free(lex->words[i].text);
    for (long i = 0; i < lex->n_prons; i++)
        free(lex->prons[i].phones);
    free(lex->words);
    free(lex->prons);
    free(lex->slots);
    memset(lex, 0, sizeof *lex);
}

/* The index of the word text (hash h), or -1. */
static long lexicon_find(const lexicon *lex, const char *text, uint64_t h) {
    if (!lex->slots) return -1;
    for (size_t i = h & lex->mask;; i = (i + 1) & lex->mask) {
        long w = lex->slots[i] - 1;
        if (w < 0) return -1;
        if (lex->words[w].hash == h && strcmp(lex->words[w].text, text) == 0) return w;
    }
}

static void lexicon_place(lexicon *lex, long w) {
    size_t i = lex->words[w].hash & lex->mask;
    while (lex->slots[i])
        i = (i + 1) & lex->mask;
    lex->slots[i] = w + 1;
}

/* Room for one more element in *array (count used of *capacity, each
 * `size` bytes): doubled when full. */
static at_status grow_array(at_ctx *ctx, void **array, long *capacity, long count, size_t size) {
    if (count < *capacity) return AT_OK;
    long grown = *capacity ? 2 * *capacity : 1024;
    void *bigger = realloc(*array, (size_t)grown * size);
    if (!bigger) return at_ctx_fail(ctx, AT_ERR_MEMORY, "G2P data: out of memory");
    *array = bigger;
    *capacity = grown;
    return AT_OK;
}

/* Room for one more word: the array, and a table at most half full. */
static at_status lexicon_grow_words(at_ctx *ctx, lexicon *lex) {
    AT_TRY(grow_array(ctx, (void **)&lex->words, &lex->words_capacity, lex->n_words,
                      sizeof *lex->words));
    size_t table = lex->slots ? lex->mask + 1 : 0;
    if (2 * (size_t)(lex->n_words + 1) <= table) return AT_OK;
    size_t grown = table ? 2 * table : 2048;
    long *slots = calloc(grown, sizeof *slots);
    if (!slots) return at_ctx_fail(ctx, AT_ERR_MEMORY, "G2P data: out of memory");
    free(lex->slots);
    lex->slots = slots;
    lex->mask = grown - 1;
    for (long w = 0; w < lex->n_words; w++)
        lexicon_place(lex, w);
    return AT_OK;
}

/* The index of word text, added (with `kept`) if it is new. */
static at_status lexicon_word(at_ctx *ctx, lexicon *lex, const char *text, int kept, long *out) {
    uint64_t h = fnv1a_64(text, strlen(text));
    *out = lexicon_find(lex, text, h);
    if (*out >= 0) return AT_OK;
    AT_TRY(lexicon_grow_words(ctx, lex));
    char *copy = malloc(strlen(text) + 1);
    if (!copy) return at_ctx_fail(ctx, AT_ERR_MEMORY, "G2P data: out of memory");
    strcpy(copy, text);
    long w = lex->n_words++;
    lex->words[w] = (lex_word){copy, h, kept, -1, -1};
    lexicon_place(lex, w);
    *out = w;
    return AT_OK;
}

/* Append a pronunciation to word w, unless the word has it already. */
static at_status lexicon_pron(at_ctx *ctx, lexicon *lex, long w, const char *phones) {
    lex_word *word = &lex->words[w];
    for (long p = word->first; p >= 0; p = lex->prons[p].next)
        if (strcmp(lex->prons[p].phones, phones) == 0) {
            lex->duplicates++;
            return AT_OK;
        }
    AT_TRY(grow_array(ctx, (void **)&lex->prons, &lex->prons_capacity, lex->n_prons,
                      sizeof *lex->prons));
    char *copy = malloc(strlen(phones) + 1);
    if (!copy) return at_ctx_fail(ctx, AT_ERR_MEMORY, "G2P data: out of memory");
    strcpy(copy, phones);
    long p = lex->n_prons++;
    lex->prons[p] = (lex_pron){copy, -1};
    if (word->last >= 0)
        lex->prons[word->last].next = p;
    else
        word->first = p;
    word->last = p;
    return AT_OK;
}

/* ------------------------------------------------------------------ lines */

/* A file read whole, handed out one decoded line at a time. */
typedef struct line_source {
    const char *path;
    char *bytes; /* the file, NUL-terminated */
    size_t len, pos;
    long line;     /* the current line's number, from 1 */
    int allow_tab; /* a tab is a separator here, not an error */
    UConverter *converter;
    UChar wide[AT_G2P_MAX_LINE_BYTES];        /* the line in UTF-16: at most a unit a byte */
    char text[2 * AT_G2P_MAX_LINE_BYTES + 1]; /* and in UTF-8: Latin-1 at most doubles */
} line_source;

static int valid_utf8(const char *bytes, size_t len) {
    for (size_t pos = 0; pos < len;)
        if (at_utf8_next(bytes, len, &pos) < 0) return 0;
    return 1;
}

static void source_close(line_source *src) {
    free(src->bytes);
    if (src->converter) ucnv_close(src->converter);
    src->bytes = NULL;
    src->converter = NULL;
}

/* Read path whole and pick its decoder: UTF-8, or (if latin1_fallback and
 * the file is not valid UTF-8) Latin-1. An empty file is an error. */
static at_status source_open(at_ctx *ctx, line_source *src, const char *path, const char *what,
                             int latin1_fallback, int allow_tab) {
    memset(src, 0, offsetof(line_source, wide));
    src->path = path;
    src->allow_tab = allow_tab;
    AT_TRY(atf_read(ctx, path, AT_G2P_MAX_FILE_BYTES, what, &src->bytes, &src->len));
    if (src->len == 0) {
        source_close(src);
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the file is empty; expected %s", path, what);
    }
    int utf8 = !latin1_fallback || valid_utf8(src->bytes, src->len);
    if (utf8 && src->len >= 3 && memcmp(src->bytes, "\xEF\xBB\xBF", 3) == 0) src->pos = 3;
    UErrorCode err = U_ZERO_ERROR;
    src->converter = ucnv_open(utf8 ? "UTF-8" : "ISO-8859-1", &err);
    if (U_SUCCESS(err))
        ucnv_setToUCallBack(src->converter, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &err);
    if (U_FAILURE(err)) {
        source_close(src);
        return at_ctx_fail(ctx, AT_ERR_STATE, "%s: ICU cannot open a converter: %s", path,
                           u_errorName(err));
    }
    return AT_OK;
}

/* The byte column (from 1) of the first invalid UTF-8 in bytes[0, len). */
static size_t invalid_utf8_column(const char *bytes, size_t len) {
    size_t pos = 0;
    while (pos < len && at_utf8_next(bytes, len, &pos) >= 0) {
    }
    return pos + 1;
}

/* Decode bytes[0, len) of the current line into src->text (UTF-8). */
static at_status decode_line(at_ctx *ctx, line_source *src, const char *bytes, size_t len) {
    UErrorCode err = U_ZERO_ERROR;
    int32_t n =
        ucnv_toUChars(src->converter, src->wide, AT_G2P_MAX_LINE_BYTES, bytes, (int32_t)len, &err);
    if (U_FAILURE(err))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s:%ld: invalid UTF-8 at column %zu (a byte column)", src->path,
                           src->line, invalid_utf8_column(bytes, len));
    for (int32_t i = 0, chars = 1; i < n; chars++) {
        UChar32 c;
        U16_NEXT(src->wide, i, n, c);
        if (u_charType(c) == U_CONTROL_CHAR && !(c == '\t' && src->allow_tab))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "%s:%ld: control character U+%04X at character %d; not a text file?",
                               src->path, src->line, (unsigned)c, (int)chars);
    }
    int32_t out_len = 0;
    u_strToUTF8(src->text, (int32_t)sizeof src->text, &out_len, src->wide, n, &err);
    if (U_FAILURE(err) || out_len >= (int32_t)sizeof src->text)
        return at_ctx_fail(ctx, AT_ERR_STATE, "%s:%ld: ICU cannot encode the line: %s", src->path,
                           src->line, u_errorName(err));
    src->text[out_len] = 0;
    return AT_OK;
}

/* The next non-empty line, decoded, in src->text; *got = 0 at the end. */
static at_status source_next(at_ctx *ctx, line_source *src, int *got) {
    while (src->pos < src->len) {
        const char *start = src->bytes + src->pos;
        const char *newline = memchr(start, '\n', src->len - src->pos);
        size_t len = newline ? (size_t)(newline - start) : src->len - src->pos;
        src->pos += len + (newline ? 1 : 0);
        src->line++;
        if (len > 0 && start[len - 1] == '\r') len--;
        if (len == 0) continue;
        if (len > AT_G2P_MAX_LINE_BYTES)
            return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: the line is longer than %d bytes",
                               src->path, src->line, AT_G2P_MAX_LINE_BYTES);
        AT_TRY(decode_line(ctx, src, start, len));
        *got = 1;
        return AT_OK;
    }
    *got = 0;
    return AT_OK;
}

/* ------------------------------------------------------------ one line */

static int compare_phone(const void *key, const void *element) {
    return strcmp(key, *(const char *const *)element);
}

/* Rule 3 for one phone token[0, len): its stress digit removed, it must be
 * one of the 39; then copied to phone (3 bytes, NUL-terminated). */
static int phone_of(const char *token, size_t len, char phone[3]) {
    if (len > 0 && token[len - 1] >= '0' && token[len - 1] <= '2') len--;
    if (len == 0 || len > 2) return 0;
    memcpy(phone, token, len);
    phone[len] = 0;
    return bsearch(phone, PHONES, PHONE_COUNT, sizeof PHONES[0], compare_phone) != NULL;
}

/* The phones of text (separated by spaces), each checked by phone_of and
 * written to out with one space between (out may be text itself: the
 * text never grows). */
static at_status normalise_phones(at_ctx *ctx, const line_source *src, char *text, char *out) {
    size_t used = 0;
    int count = 0;
    for (const char *p = text;;) {
        p += strspn(p, " ");
        if (!*p) break;
        size_t len = strcspn(p, " ");
        char phone[3];
        if (!phone_of(p, len, phone))
            return at_ctx_fail(ctx, AT_ERR_FORMAT,
                               "%s:%ld: '%.*s' is not an ARPAbet phone (one of the 39, with an "
                               "optional stress digit 0, 1 or 2)",
                               src->path, src->line, (int)(len > 24 ? 24 : len), p);
        if (count++) out[used++] = ' ';
        size_t bare = strlen(phone);
        memcpy(out + used, phone, bare);
        used += bare;
        p += len;
    }
    out[used] = 0;
    if (count == 0)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: no phones after the word", src->path,
                           src->line);
    return AT_OK;
}

/* Rule 4: letters and apostrophes only, at least one letter. */
static int is_word_of_letters(const char *word) {
    size_t len = strlen(word), pos = 0;
    int letters = 0;
    while (pos < len) {
        int32_t c = at_utf8_next(word, len, &pos);
        if (c >= 0 && u_isalpha(c))
            letters++;
        else if (c != '\'')
            return 0;
    }
    return letters > 0;
}

/* "WORD(12)" -> "WORD": cut a final "(digits)" that follows something. */
static void strip_alternate(char *word) {
    char *open = strrchr(word, '(');
    if (!open || open == word || !open[1]) return;
    char *p = open + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p > open + 1 && p[0] == ')' && p[1] == 0) *open = 0;
}

/* A dictionary line: "WORD  PH1 PH2 ..." or a ";;;" comment. */
static at_status parse_dict_line(at_ctx *ctx, line_source *src, lexicon *lex) {
    char *text = src->text;
    if (strncmp(text, ";;;", 3) == 0) return AT_OK;
    char *space = strchr(text, ' ');
    if (space == text)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s:%ld: the line starts with a space; expected WORD  PH1 PH2 ...",
                           src->path, src->line);
    if (!space)
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s:%ld: no phones after the word; expected WORD  PH1 PH2 ...",
                           src->path, src->line);
    *space = 0;
    AT_TRY(normalise_phones(ctx, src, space + 1, space + 1));
    strip_alternate(text);
    int kept = is_word_of_letters(text);
    long w;
    AT_TRY(lexicon_word(ctx, lex, text, kept, &w));
    return kept ? lexicon_pron(ctx, lex, w, space + 1) : AT_OK;
}

/* A test line: "WORD<TAB>PH1 PH2 ...". */
static at_status parse_test_line(at_ctx *ctx, line_source *src, lexicon *lex) {
    char *text = src->text;
    char *tab = strchr(text, '\t');
    if (!tab)
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: no tab; expected WORD<TAB>PH1 PH2 ...",
                           src->path, src->line);
    if (strchr(tab + 1, '\t'))
        return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s:%ld: more than one tab", src->path, src->line);
    *tab = 0;
    if (!is_word_of_letters(text))
        return at_ctx_fail(ctx, AT_ERR_FORMAT,
                           "%s:%ld: the word '%.40s' is not made of letters and apostrophes",
                           src->path, src->line, text);
    AT_TRY(normalise_phones(ctx, src, tab + 1, tab + 1));
    long w;
    AT_TRY(lexicon_word(ctx, lex, text, 1, &w));
    return lexicon_pron(ctx, lex, w, tab + 1);
}

/* Every line of a file into lex; a file without any pronunciation is an
 * error. */
static at_status read_lexicon(at_ctx *ctx, line_source *src, int test, lexicon *lex) {
    at_status s = AT_OK;
    for (int got = 1; s == AT_OK;) {
        s = source_next(ctx, src, &got);
        if (s != AT_OK || !got) break;
        s = test ? parse_test_line(ctx, src, lex) : parse_dict_line(ctx, src, lex);
    }
    if (s == AT_OK && lex->n_words == 0)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: no pronunciation in the file", src->path);
    return s;
}

static at_status load_lexicon(at_ctx *ctx, const char *path, int test, lexicon *lex) {
    line_source *src = malloc(sizeof *src);
    if (!src) return at_ctx_fail(ctx, AT_ERR_MEMORY, "G2P data: out of memory");
    at_status s = source_open(
        ctx, src, path, test ? "a G2P test file (WORD<TAB>PHONES)" : "a pronouncing dictionary",
        !test, test);
    if (s == AT_OK) s = read_lexicon(ctx, src, test, lex);
    source_close(src);
    free(src);
    return s;
}

/* ------------------------------------------------------------------ split */

/* Append every pronunciation of word w to set. */
static at_status add_word(at_ctx *ctx, const lexicon *lex, long w, at_pairs *set) {
    const lex_word *word = &lex->words[w];
    for (long p = word->first; p >= 0; p = lex->prons[p].next)
        AT_TRY(at_pairs_add(ctx, set, word->text, lex->prons[p].phones));
    return AT_OK;
}

/* Rules 4, 6 and 7 over the dictionary's words; the test words as read. */
static at_status split_words(at_ctx *ctx, const lexicon *dict, const lexicon *test, int dev_every,
                             at_g2p_split *out) {
    out->dict_words = dict->n_words;
    out->duplicate_prons = dict->duplicates + test->duplicates;
    for (long w = 0; w < dict->n_words; w++) {
        const lex_word *word = &dict->words[w];
        if (!word->kept) {
            out->dropped_words++;
        } else if (lexicon_find(test, word->text, word->hash) >= 0) {
            out->test_words_removed++;
        } else if (dev_every > 0 && word->hash % (uint64_t)dev_every == 0) {
            AT_TRY(add_word(ctx, dict, w, &out->dev));
            out->dev_words++;
        } else {
            AT_TRY(add_word(ctx, dict, w, &out->train));
            out->train_words++;
        }
    }
    for (long w = 0; w < test->n_words; w++)
        AT_TRY(add_word(ctx, test, w, &out->test));
    out->test_words = test->n_words;
    return AT_OK;
}

void at_g2p_split_options_default(at_g2p_split_options *o) {
    if (o) o->dev_every = 20;
}

void at_g2p_split_clear(at_g2p_split *s) {
    if (!s) return;
    at_pairs_clear(&s->train);
    at_pairs_clear(&s->dev);
    at_pairs_clear(&s->test);
    memset(s, 0, sizeof *s);
}

at_status at_g2p_split_load(at_ctx *ctx, const char *dict_path, const char *test_path,
                            const at_g2p_split_options *o, at_g2p_split *out) {
    if (!dict_path || !test_path || !out)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "G2P data: NULL argument");
    if (out->train.count || out->dev.count || out->test.count)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "G2P data: the output split is not empty");
    at_g2p_split_options defaults;
    at_g2p_split_options_default(&defaults);
    if (!o) o = &defaults;
    if (o->dev_every < 0 || o->dev_every == 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "G2P data: dev_every %d; use 0 (no dev set) or 2 and more",
                           o->dev_every);
    memset(out, 0, sizeof *out);
    lexicon dict = {0}, test = {0};
    at_status s = load_lexicon(ctx, dict_path, 0, &dict);
    if (s == AT_OK) s = load_lexicon(ctx, test_path, 1, &test);
    if (s == AT_OK) s = split_words(ctx, &dict, &test, o->dev_every, out);
    if (s == AT_OK && out->train.count == 0)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT,
                        "%s: no word left to train on (%ld words, %ld left out as not letters, "
                        "%ld in the test file, %ld in dev)",
                        dict_path, out->dict_words, out->dropped_words, out->test_words_removed,
                        out->dev_words);
    lexicon_free(&dict);
    lexicon_free(&test);
    if (s != AT_OK) at_g2p_split_clear(out);
    return s;
}
