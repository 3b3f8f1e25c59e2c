/*
 * ambiguity.c - which date formats to leave out so that no string can mean
 * two dates.
 *
 * The problem. "5/9/2018" is 9 May in en_US (M/d/y) and 5 September in
 * es (d/M/y). A model trained on both cannot be right about it, and its
 * label is noise. Ambiguity is a property of the whole space of strings a
 * set of formats can write, not of one sample: so every format is checked
 * against every other (and itself) over ALL 292,194 dates from 1600 to 2399
 * and all three case variants, comparing case-folded strings (a sample's
 * case is random, so "MAY" and "may" are the same string).
 *
 * Step 1, the conflict graph. Two formats F and G (possibly F = G)
 * conflict if some folded string s = F(d) = G(d') with dates d != d'. A
 * SOURCE is a distinct template in one case variant that differs; writing
 * all their strings would be 107 million strings on the default locales.
 * The check instead uses how a string is made. With one year field,
 *
 *     F(y, md, w) = P(md, w) . Y(y) . S(md, w)
 *
 * where md is the month and day (366 values), w the weekday, P and S the
 * text before and after the year field. Only Y takes 800 values.
 *
 * The mask. Let D be every character that any year field writes (the
 * digits of each numbering system in use). Masking replaces each character
 * of D by a mark of the same UTF-8 length; equal strings have equal masks.
 * The masked year, "####" for every year in Latin digits, is the year's
 * SHAPE: one shape for all 800 years in every decimal system. So an ENTRY
 * (source, md, w, shape) has one masked string whatever its year, and two
 * strings can only be equal if their entries' masked strings are. Entries
 * are grouped by masked string: about 300,000 entries, not 107 million
 * strings. Within a group:
 *
 *  (a) ALIGNED: every entry has one year field, at the same byte offset
 *      and of the same length. Then two strings are equal iff their P are
 *      equal, their S are equal and their year texts are equal. Entries
 *      are grouped again by (P, S), compared as strings; in a group, entries
 *      e and e' conflict iff some year y of e and y' of e' (years in which
 *      the month-day exists, falls on the weekday and has the shape) have
 *      the same year text and (y, md) != (y', md'). Year texts are interned
 *      as ids; when both sources use one table and no two years share a
 *      text, this is "the year sets meet and the month-days differ": a bit
 *      AND of 13 words. A single entry is checked against itself the same
 *      way (a two-digit year, "18" for 1618, 1718, ..., fails here).
 *  (b) otherwise (the year lies elsewhere in some entry, e.g. "yMMdd"
 *      beside "ddMMy", or a template writes the year twice): every string
 *      of the group's entries, all years, is hashed and equal hashes are
 *      compared as strings. Exhaustive, on the few entries that need it.
 *
 * A template without a year field is ambiguous by itself: y and y + 400
 * have the same month-days on the same weekdays. Every match found through
 * a hash is confirmed on the strings, and (a) and (b) are each exact for
 * the pairs they decide, so the graph is the one that comparing all
 * strings pairwise would give (tests/test_dates.c compares the two, edge
 * for edge, on formats chosen to meet every case). Formats that are
 * identical functions (the same pattern and words in two locales, e.g.
 * "dd/MM/y" with Latin digits) are checked once.
 *
 * Step 2, the rule. A format in conflict with itself is dropped: a two-digit
 * year does that (1918 and 2018 are both "18"; dates.c widens the styles'
 * 'yy' to 'y', so only a caller's own 'yy' pattern meets this), and so
 * would a pattern without a year. Then, while any edges remain, drop the
 * format with the most conflicts (ties: the one later in priority order,
 * so locales listed first, styles before patterns and patterns before
 * their variants win). Finally give back, in priority order, any dropped
 * format that no longer conflicts with a kept one. The kept set has no
 * edge, so the emitted strings are unambiguous; every dropped format
 * conflicts with a kept one (or itself), so nothing is left out without
 * cause.
 *
 * Cost, on the 24 default locales: 670 formats are 347 distinct templates,
 * 368 sources, 299,388 entries, 4 year tables (3,200 year texts); every
 * group is aligned. About 0.1 s and 15 MB, against 1.2 s and 170 MB for
 * writing every string of the old 200-year range.
 */
#include "data.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum {
    MONTH_DAYS = 366, /* Feb 29 included */
    YEAR_WORDS = (DATE_YEARS + 63) / 64,
    ANY_WEEKDAY = 7,     /* an entry of a source without a weekday field */
    MULTI_YEAR = 0xFFFF, /* an entry's year offset when it has two year fields */
    MAX_UNIQUE = 4096
};

typedef struct year_set {
    uint64_t bits[YEAR_WORDS];
} year_set;

/* The month-days, and the years (as offsets from DATE_FIRST_YEAR) in which
 * each exists on each weekday (index ANY_WEEKDAY: on any). */
typedef struct calendar {
    uint16_t month[MONTH_DAYS], day[MONTH_DAYS]; /* 0-based */
    year_set years[MONTH_DAYS][ANY_WEEKDAY + 1];
} calendar;

typedef struct source {
    const date_template *t;
    int variant, unique;
    int year_parts, year_part; /* how many; the index of the first      */
    int has_weekday;
    uint64_t *masked[TEMPLATE_MAX_PARTS]; /* masked hash of each piece     */
    int n_shapes;
    int *shape_year;       /* n_shapes: a year of each shape               */
    year_set *shape_years; /* n_shapes: the years of each shape            */
    uint32_t *year_id;     /* DATE_YEARS: the year text's id (1 year part) */
    int table, injective;  /* equal tables, equal year_id arrays           */
} source;

typedef struct entry {
    uint64_t masked; /* hash of the masked string                        */
    uint64_t exact;  /* hash of (P, S), aligned groups only              */
    uint32_t source;
    uint16_t md, shape;
    uint16_t offset, length; /* bytes of the year field; MULTI_YEAR offset */
    uint8_t weekday;         /* 0..6, or ANY_WEEKDAY                      */
} entry;

/* One string of the exhaustive path. */
typedef struct record {
    uint64_t hash;
    uint32_t entry;
    uint16_t year;
} record;

typedef struct checker {
    int n;          /* templates (nodes)                         */
    uint8_t *edges; /* n x n                                     */
    calendar *cal;
    int n_sources;
    source *sources;
    uint32_t *marks; /* D, sorted                                 */
    int n_marks;
    int n_ids; /* distinct year texts                       */
    int n_tables;
    uint8_t *tables_meet;    /* n_tables^2: 0 unknown, 1 share a year text, 2 not */
    uint32_t *stamp, *first; /* n_ids: scratch of the year check          */
    uint8_t *multi;
    uint32_t token;
    long n_entries;
    entry *entries;
    char *text_a, *text_b; /* scratch strings, longest key + 1         */
    ambiguity_progress progress;
    void *progress_user;
    long done, total;
} checker;

static void tick(checker *c, long done) {
    c->done = done;
    if (c->progress) c->progress(c->progress_user, "checking formats", c->done, c->total);
}

static int edge(const checker *c, int a, int b) {
    return c->edges[(size_t)a * (size_t)c->n + (size_t)b];
}

static void add_edge(checker *c, int a, int b) {
    c->edges[(size_t)a * (size_t)c->n + (size_t)b] = 1;
    c->edges[(size_t)b * (size_t)c->n + (size_t)a] = 1;
}

/* ---------------------------------------------------------------- calendar */

static void calendar_fill(calendar *cal) {
    static const int starts[12] = {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335};
    memset(cal, 0, sizeof *cal);
    long first = days_from_civil(DATE_FIRST_YEAR, 1, 1);
    for (long i = 0; i < DATE_DAYS; i++) {
        int y, m, d;
        civil_from_days(first + i, &y, &m, &d);
        int md = starts[m - 1] + d - 1, w = weekday_of_days(first + i), k = y - DATE_FIRST_YEAR;
        cal->month[md] = (uint16_t)(m - 1);
        cal->day[md] = (uint16_t)(d - 1);
        cal->years[md][w].bits[k / 64] |= 1ULL << (k % 64);
        cal->years[md][ANY_WEEKDAY].bits[k / 64] |= 1ULL << (k % 64);
    }
}

static int set_meets(const year_set *a, const year_set *b) {
    for (int i = 0; i < YEAR_WORDS; i++)
        if (a->bits[i] & b->bits[i]) return 1;
    return 0;
}

static void set_and(const year_set *a, const year_set *b, year_set *out) {
    for (int i = 0; i < YEAR_WORDS; i++)
        out->bits[i] = a->bits[i] & b->bits[i];
}

/* The years of a set, ascending, into out[DATE_YEARS]; returns how many. */
static int set_list(const year_set *set, uint16_t *out) {
    int n = 0;
    for (int word = 0; word < YEAR_WORDS; word++)
        for (uint64_t bits = set->bits[word]; bits; bits &= bits - 1)
            out[n++] = (uint16_t)(word * 64 + __builtin_ctzll(bits));
    return n;
}

/* The field values of a date given by year offset, month-day and weekday. */
static void values_of(const calendar *cal, int year, int md, int weekday, uint16_t *v) {
    v[PART_LITERAL] = 0;
    v[PART_YEAR] = (uint16_t)year;
    v[PART_MONTH] = cal->month[md];
    v[PART_DAY] = cal->day[md];
    v[PART_WEEKDAY] = (uint16_t)(weekday == ANY_WEEKDAY ? 0 : weekday);
}

/* -------------------------------------------------------------------- mask */

static int is_mark(const checker *c, uint32_t cp) {
    int lo = 0, hi = c->n_marks - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->marks[mid] == cp) return 1;
        if (c->marks[mid] < cp)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* D: every code point of every year piece of every source. */
static at_status collect_marks(at_ctx *ctx, checker *c) {
    int capacity = 64;
    c->marks = malloc((size_t)capacity * sizeof *c->marks);
    if (!c->marks) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int k = 0; k < c->n_sources; k++) {
        const source *s = &c->sources[k];
        for (int p = 0; p < s->t->n_parts; p++) {
            const date_part *part = &s->t->parts[p];
            if (part->kind != PART_YEAR) continue;
            for (int y = 0; y < part->n; y++) {
                const text_piece *x = &part->text[s->variant][y];
                for (size_t at = 0; at < x->len;) {
                    int32_t cp = at_utf8_next(x->bytes, x->len, &at);
                    if (cp < 0) cp = (unsigned char)x->bytes[at++];
                    if (is_mark(c, (uint32_t)cp)) continue;
                    if (c->n_marks == capacity) {
                        capacity *= 2;
                        uint32_t *grown = realloc(c->marks, (size_t)capacity * sizeof *grown);
                        if (!grown) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
                        c->marks = grown;
                    }
                    c->marks[c->n_marks++] = (uint32_t)cp;
                    qsort(c->marks, (size_t)c->n_marks, sizeof *c->marks, compare_u32);
                }
            }
        }
    }
    return AT_OK;
}

/* Masking maps each character of D to the mark of its UTF-8 length, every
 * other character to itself, so masked text keeps the piece's length. */
static const char *const mark_bytes[5] = {"", "#", "\xC2\xB6", "\xEF\xBF\xBC", "\xF4\x8F\xBF\xBD"};

/* The next character of x at *at, masked: its bytes (*n of them). */
static const char *next_masked(const checker *c, const text_piece *x, size_t *at, size_t *n) {
    size_t begin = *at;
    int32_t cp = at_utf8_next(x->bytes, x->len, at);
    if (cp < 0) cp = (unsigned char)x->bytes[(*at)++]; /* not UTF-8: a byte is a character */
    *n = *at - begin;
    return *n <= 4 && is_mark(c, (uint32_t)cp) ? mark_bytes[*n] : x->bytes + begin;
}

static uint64_t masked_hash(const checker *c, const text_piece *x) {
    uint64_t h = 0;
    for (size_t at = 0, n; at < x->len;) {
        const char *bytes = next_masked(c, x, &at, &n);
        for (size_t i = 0; i < n; i++)
            h = text_hash_step(h, bytes[i]);
    }
    return h;
}

static int masked_equal(const checker *c, const text_piece *a, const text_piece *b) {
    if (a->len != b->len) return 0;
    size_t at_a = 0, at_b = 0, na, nb;
    while (at_a < a->len) {
        const char *xa = next_masked(c, a, &at_a, &na), *xb = next_masked(c, b, &at_b, &nb);
        if (na != nb || memcmp(xa, xb, na)) return 0;
    }
    return 1;
}

/* ----------------------------------------------------------------- sources */

static at_status source_masks(at_ctx *ctx, checker *c, source *s) {
    for (int p = 0; p < s->t->n_parts; p++) {
        const date_part *part = &s->t->parts[p];
        s->masked[p] = malloc((size_t)part->n * sizeof *s->masked[p]);
        if (!s->masked[p]) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
        for (int i = 0; i < part->n; i++)
            s->masked[p][i] = masked_hash(c, &part->text[s->variant][i]);
    }
    return AT_OK;
}

/* Years y and z have the same shape: every year field masks alike. */
static int same_shape(const checker *c, const source *s, int y, int z) {
    for (int p = 0; p < s->t->n_parts; p++) {
        const date_part *part = &s->t->parts[p];
        if (part->kind != PART_YEAR) continue;
        if (s->masked[p][y] != s->masked[p][z] ||
            !masked_equal(c, &part->text[s->variant][y], &part->text[s->variant][z]))
            return 0;
    }
    return 1;
}

static at_status source_shapes(at_ctx *ctx, checker *c, source *s) {
    s->shape_year = malloc(DATE_YEARS * sizeof *s->shape_year);
    s->shape_years = calloc(DATE_YEARS, sizeof *s->shape_years);
    if (!s->shape_year || !s->shape_years)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int y = 0; y < DATE_YEARS; y++) {
        int shape = 0;
        while (shape < s->n_shapes && !same_shape(c, s, s->shape_year[shape], y))
            shape++;
        if (shape == s->n_shapes) s->shape_year[s->n_shapes++] = y;
        s->shape_years[shape].bits[y / 64] |= 1ULL << (y % 64);
    }
    return AT_OK;
}

/* Year texts as ids, shared by all sources (exact: bytes compared). */
typedef struct interner {
    int32_t *slots;
    size_t mask;
    const text_piece **texts;
    int n;
} interner;

static uint32_t intern(interner *in, const text_piece *x) {
    size_t i = (size_t)hash_mix(x->hash) & in->mask;
    for (;; i = (i + 1) & in->mask) {
        int32_t id = in->slots[i];
        if (id < 0) break;
        const text_piece *y = in->texts[id];
        if (y->hash == x->hash && y->len == x->len && !memcmp(y->bytes, x->bytes, x->len))
            return (uint32_t)id;
    }
    in->slots[i] = in->n;
    in->texts[in->n] = x;
    return (uint32_t)in->n++;
}

/* year_id of every one-year-field source; equal arrays share a table. */
static at_status source_year_ids(at_ctx *ctx, checker *c) {
    size_t capacity = 1024;
    while (capacity < 2 * (size_t)c->n_sources * DATE_YEARS)
        capacity *= 2;
    interner in = {malloc(capacity * sizeof(int32_t)), capacity - 1,
                   malloc((size_t)c->n_sources * DATE_YEARS * sizeof(text_piece *) + 1), 0};
    at_status st =
        in.slots && in.texts ? AT_OK : at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (size_t i = 0; st == AT_OK && i < capacity; i++)
        in.slots[i] = -1;
    int n_tables = 0;
    for (int k = 0; st == AT_OK && k < c->n_sources; k++) {
        source *s = &c->sources[k];
        if (s->year_parts != 1) continue;
        s->year_id = malloc(DATE_YEARS * sizeof *s->year_id);
        if (!s->year_id) {
            st = at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
            break;
        }
        const text_piece *years = s->t->parts[s->year_part].text[s->variant];
        for (int y = 0; y < DATE_YEARS; y++)
            s->year_id[y] = intern(&in, &years[y]);
        s->table = -1;
        for (int j = 0; j < k && s->table < 0; j++)
            if (c->sources[j].year_id &&
                !memcmp(c->sources[j].year_id, s->year_id, DATE_YEARS * sizeof *s->year_id)) {
                s->table = c->sources[j].table;
                s->injective = c->sources[j].injective;
            }
        if (s->table >= 0) continue;
        s->table = n_tables++;
        s->injective = 1;
        for (int y = 0; y < DATE_YEARS && s->injective; y++)
            for (int z = 0; z < y && s->injective; z++)
                s->injective = s->year_id[y] != s->year_id[z];
    }
    c->n_ids = in.n;
    c->n_tables = n_tables;
    free(in.slots);
    free(in.texts);
    return st;
}

static at_status add_sources(at_ctx *ctx, checker *c, const date_template *const *templates) {
    int n_sources = 0;
    for (int u = 0; u < c->n; u++)
        n_sources += templates[u]->n_variants;
    c->sources = calloc((size_t)n_sources + 1, sizeof *c->sources);
    if (!c->sources) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int u = 0; u < c->n; u++)
        for (int k = 0; k < templates[u]->n_variants; k++) {
            source *s = &c->sources[c->n_sources++];
            s->t = templates[u];
            s->variant = templates[u]->variants[k];
            s->unique = u;
            for (int p = 0; p < s->t->n_parts; p++) {
                if (s->t->parts[p].kind == PART_WEEKDAY) s->has_weekday = 1;
                if (s->t->parts[p].kind != PART_YEAR) continue;
                if (!s->year_parts) s->year_part = p;
                s->year_parts++;
            }
            if (!s->year_parts) add_edge(c, u, u); /* y and y + 400 read alike */
        }
    AT_TRY(collect_marks(ctx, c));
    for (int k = 0; k < c->n_sources; k++) {
        source *s = &c->sources[k];
        if (!s->year_parts) continue;
        AT_TRY(source_masks(ctx, c, s));
        AT_TRY(source_shapes(ctx, c, s));
    }
    AT_TRY(source_year_ids(ctx, c));
    c->stamp = calloc((size_t)c->n_ids + 1, sizeof *c->stamp);
    c->first = calloc((size_t)c->n_ids + 1, sizeof *c->first);
    c->multi = calloc((size_t)c->n_ids + 1, 1);
    c->tables_meet = calloc((size_t)c->n_tables * (size_t)c->n_tables + 1, 1);
    if (!c->stamp || !c->first || !c->multi || !c->tables_meet)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    return AT_OK;
}

static void free_sources(checker *c) {
    for (int k = 0; k < c->n_sources; k++) {
        source *s = &c->sources[k];
        for (int p = 0; p < TEMPLATE_MAX_PARTS; p++)
            free(s->masked[p]);
        free(s->shape_year);
        free(s->shape_years);
        free(s->year_id);
    }
    free(c->sources);
}

/* ----------------------------------------------------------------- entries */

/* The masked string's hash and the year field's place of one entry. */
static void entry_fill(const checker *c, const source *s, entry *e) {
    const uint16_t year = (uint16_t)s->shape_year[e->shape];
    uint16_t v[PART_KINDS];
    values_of(c->cal, year, e->md, e->weekday, v);
    uint64_t h = 0;
    size_t bytes = 0;
    for (int p = 0; p < s->t->n_parts; p++) {
        const date_part *part = &s->t->parts[p];
        const text_piece *x = &part->text[s->variant][v[part->kind]];
        h = h * x->power + s->masked[p][v[part->kind]];
        if (p == s->year_part) {
            e->offset = (uint16_t)bytes;
            e->length = (uint16_t)x->len;
        }
        bytes += x->len;
    }
    if (s->year_parts > 1) e->offset = MULTI_YEAR;
    e->masked = h;
}

static at_status build_entries(at_ctx *ctx, checker *c) {
    long capacity = 0;
    for (int k = 0; k < c->n_sources; k++) {
        const source *s = &c->sources[k];
        capacity += (long)MONTH_DAYS * (s->has_weekday ? 7 : 1) * s->n_shapes;
    }
    c->entries = malloc((size_t)(capacity + 1) * sizeof *c->entries);
    if (!c->entries) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    for (int k = 0; k < c->n_sources; k++) {
        const source *s = &c->sources[k];
        int w0 = s->has_weekday ? 0 : ANY_WEEKDAY, w1 = s->has_weekday ? 6 : ANY_WEEKDAY;
        for (int md = 0; md < MONTH_DAYS && s->year_parts; md++)
            for (int w = w0; w <= w1; w++)
                for (int shape = 0; shape < s->n_shapes; shape++) {
                    if (!set_meets(&c->cal->years[md][w], &s->shape_years[shape])) continue;
                    entry *e = &c->entries[c->n_entries++];
                    *e = (entry){.source = (uint32_t)k,
                                 .md = (uint16_t)md,
                                 .shape = (uint16_t)shape,
                                 .weekday = (uint8_t)w};
                    entry_fill(c, s, e);
                }
        tick(c, k + 1);
    }
    return AT_OK;
}

/* The years of an entry: the month-day on its weekday, in its shape. */
static void entry_years(const checker *c, const entry *e, year_set *out) {
    set_and(&c->cal->years[e->md][e->weekday], &c->sources[e->source].shape_years[e->shape], out);
}

/* ---------------------------------------------------- (a) aligned groups */

/* Entry e's string before (after = 0) or after (1) its year field, in a
 * year of its shape: its hash, and (if out is not NULL) its bytes, *len of
 * them. */
static uint64_t entry_side(const checker *c, const entry *e, int after, char *out, size_t *len) {
    const source *s = &c->sources[e->source];
    uint16_t v[PART_KINDS];
    values_of(c->cal, s->shape_year[e->shape], e->md, e->weekday, v);
    uint64_t h = 0;
    size_t used = 0;
    int from = after ? s->year_part + 1 : 0, to = after ? s->t->n_parts : s->year_part;
    for (int p = from; p < to; p++) {
        const text_piece *x = &s->t->parts[p].text[s->variant][v[s->t->parts[p].kind]];
        h = h * x->power + x->hash;
        if (out) memcpy(out + used, x->bytes, x->len);
        used += x->len;
    }
    if (len) *len = used;
    return h;
}

static int same_sides(checker *c, const entry *a, const entry *b) {
    for (int after = 0; after < 2; after++) {
        size_t la, lb;
        entry_side(c, a, after, c->text_a, &la);
        entry_side(c, b, after, c->text_b, &lb);
        if (la != lb || memcmp(c->text_a, c->text_b, la)) return 0;
    }
    return 1;
}

/* Some year of one table writes the same text as some year of the other
 * (memoised per pair of tables). */
static int tables_meet(checker *c, const source *sa, const source *sb) {
    uint8_t *known = &c->tables_meet[(size_t)sa->table * (size_t)c->n_tables + (size_t)sb->table];
    if (!*known) {
        uint32_t token = ++c->token;
        for (int y = 0; y < DATE_YEARS; y++)
            c->stamp[sa->year_id[y]] = token;
        int meet = 0;
        for (int y = 0; y < DATE_YEARS && !meet; y++)
            meet = c->stamp[sb->year_id[y]] == token;
        *known = meet ? 1 : 2;
    }
    return *known == 1;
}

/* Some year y of a and y' of b write the same year text, (y, md) != (y',
 * md'). a == b checks one entry against itself. */
static int years_collide(checker *c, const entry *a, const entry *b) {
    const source *sa = &c->sources[a->source], *sb = &c->sources[b->source];
    if (sa->table != sb->table && !tables_meet(c, sa, sb)) return 0;
    year_set ya, yb;
    entry_years(c, a, &ya);
    entry_years(c, b, &yb);
    if (sa->table == sb->table && sa->injective) return a->md != b->md && set_meets(&ya, &yb);
    uint16_t list_a[DATE_YEARS], list_b[DATE_YEARS];
    int na = set_list(&ya, list_a), nb = set_list(&yb, list_b);
    uint32_t token = ++c->token;
    for (int i = 0; i < na; i++) {
        uint32_t id = sa->year_id[list_a[i]];
        if (c->stamp[id] != token) {
            c->stamp[id] = token;
            c->first[id] = list_a[i];
            c->multi[id] = 0;
        } else if (c->first[id] != list_a[i])
            c->multi[id] = 1;
    }
    for (int i = 0; i < nb; i++) {
        uint32_t id = sb->year_id[list_b[i]];
        if (c->stamp[id] == token && (a->md != b->md || c->first[id] != list_b[i] || c->multi[id]))
            return 1;
    }
    return 0;
}

static void check_pair(checker *c, const entry *a, const entry *b) {
    int ua = c->sources[a->source].unique, ub = c->sources[b->source].unique;
    if (edge(c, ua, ub)) return;
    if (a != b && !same_sides(c, a, b)) return;
    if (years_collide(c, a, b)) add_edge(c, ua, ub);
}

static int compare_exact(const void *a, const void *b) {
    uint64_t x = ((const entry *)a)->exact, y = ((const entry *)b)->exact;
    return (x > y) - (x < y);
}

static void aligned_group(checker *c, entry *e, long n) {
    for (long i = 0; i < n; i++)
        e[i].exact =
            hash_mix(entry_side(c, &e[i], 0, NULL, NULL)) ^ entry_side(c, &e[i], 1, NULL, NULL);
    qsort(e, (size_t)n, sizeof *e, compare_exact);
    for (long i = 0; i < n;) {
        long end = i + 1;
        while (end < n && e[end].exact == e[i].exact)
            end++;
        for (long a = i; a < end; a++)
            for (long b = a; b < end; b++)
                check_pair(c, &e[a], &e[b]);
        i = end;
    }
}

/* ----------------------------------------------------- (b) other groups */

static int compare_records(const void *a, const void *b) {
    uint64_t x = ((const record *)a)->hash, y = ((const record *)b)->hash;
    return (x > y) - (x < y);
}

static size_t record_key(const checker *c, const entry *e, int year, char *out) {
    const source *s = &c->sources[e->source];
    uint16_t v[PART_KINDS];
    values_of(c->cal, year, e->md, e->weekday, v);
    return template_key(s->t, s->variant, v, out);
}

static at_status exhaustive_group(at_ctx *ctx, checker *c, const entry *e, long n) {
    uint16_t years[DATE_YEARS];
    long count = 0;
    for (long i = 0; i < n; i++) {
        year_set ys;
        entry_years(c, &e[i], &ys);
        count += set_list(&ys, years);
    }
    record *r = malloc((size_t)count * sizeof *r + 1);
    if (!r) return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory for the ambiguity check");
    long at = 0;
    for (long i = 0; i < n; i++) {
        const source *s = &c->sources[e[i].source];
        year_set ys;
        entry_years(c, &e[i], &ys);
        int ny = set_list(&ys, years);
        for (int k = 0; k < ny; k++) {
            uint16_t v[PART_KINDS];
            values_of(c->cal, years[k], e[i].md, e[i].weekday, v);
            r[at++] = (record){template_hash(s->t, s->variant, v), (uint32_t)i, years[k]};
        }
    }
    qsort(r, (size_t)count, sizeof *r, compare_records);
    for (long i = 0; i < count;) {
        long end = i + 1;
        while (end < count && r[end].hash == r[i].hash)
            end++;
        for (long a = i; a < end; a++)
            for (long b = a + 1; b < end; b++) {
                const entry *ea = &e[r[a].entry], *eb = &e[r[b].entry];
                int ua = c->sources[ea->source].unique, ub = c->sources[eb->source].unique;
                if (edge(c, ua, ub) || (r[a].year == r[b].year && ea->md == eb->md)) continue;
                size_t la = record_key(c, ea, r[a].year, c->text_a);
                size_t lb = record_key(c, eb, r[b].year, c->text_b);
                if (la == lb && !memcmp(c->text_a, c->text_b, la)) add_edge(c, ua, ub);
            }
        i = end;
    }
    free(r);
    return AT_OK;
}

/* ------------------------------------------------------------------ groups */

static int compare_masked(const void *a, const void *b) {
    uint64_t x = ((const entry *)a)->masked, y = ((const entry *)b)->masked;
    return (x > y) - (x < y);
}

static at_status check_group(at_ctx *ctx, checker *c, entry *e, long n) {
    int aligned = e[0].offset != MULTI_YEAR;
    for (long i = 1; i < n && aligned; i++)
        aligned = e[i].offset == e[0].offset && e[i].length == e[0].length;
    if (!aligned) return exhaustive_group(ctx, c, e, n);
    if (n == 1 && c->sources[e[0].source].injective) return AT_OK; /* nothing to meet */
    aligned_group(c, e, n);
    return AT_OK;
}

static at_status check_groups(at_ctx *ctx, checker *c) {
    qsort(c->entries, (size_t)c->n_entries, sizeof *c->entries, compare_masked);
    long next_tick = 0;
    for (long i = 0; i < c->n_entries;) {
        long end = i + 1;
        while (end < c->n_entries && c->entries[end].masked == c->entries[i].masked)
            end++;
        AT_TRY(check_group(ctx, c, c->entries + i, end - i));
        if (end >= next_tick) {
            tick(c,
                 c->n_sources + (long)((double)c->n_sources * (double)end / (double)c->n_entries));
            next_tick = end + c->n_entries / 64;
        }
        i = end;
    }
    return AT_OK;
}

/* ------------------------------------------------------------------- graph */

static at_status scratch_text(at_ctx *ctx, checker *c, const date_template *const *templates) {
    size_t longest = 0;
    for (int u = 0; u < c->n; u++)
        if (templates[u]->max_bytes > longest) longest = templates[u]->max_bytes;
    c->text_a = malloc(longest + 1);
    c->text_b = malloc(longest + 1);
    c->cal = malloc(sizeof *c->cal);
    if (!c->text_a || !c->text_b || !c->cal)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory for the ambiguity check");
    calendar_fill(c->cal);
    return AT_OK;
}

at_status ambiguity_graph(at_ctx *ctx, int n, const date_template *const *templates, uint8_t *edges,
                          ambiguity_progress progress, void *progress_user) {
    checker c = {.n = n, .edges = edges, .progress = progress, .progress_user = progress_user};
    memset(edges, 0, (size_t)n * (size_t)n);
    at_status s = scratch_text(ctx, &c, templates);
    if (s == AT_OK) s = add_sources(ctx, &c, templates);
    c.total = 2L * c.n_sources;
    if (s == AT_OK) s = build_entries(ctx, &c);
    if (s == AT_OK) s = check_groups(ctx, &c);
    if (s == AT_OK) tick(&c, c.total);
    free_sources(&c);
    free(c.marks);
    free(c.stamp);
    free(c.first);
    free(c.multi);
    free(c.tables_meet);
    free(c.entries);
    free(c.text_a);
    free(c.text_b);
    free(c.cal);
    return s;
}

/* ---------------------------------------------------------------- the rule */

typedef struct graph {
    int n;
    const uint8_t *edges;
} graph;

static int linked(const graph *g, int a, int b) {
    return g->edges[(size_t)a * (size_t)g->n + (size_t)b];
}

/* Drop self-conflicts, then the most-conflicted format until no edges
 * remain, then give back what no longer conflicts. keep[u] in 0/1. */
static void choose(const graph *g, int *keep, int *degree) {
    int n = g->n;
    for (int u = 0; u < n; u++)
        keep[u] = !linked(g, u, u);
    for (int u = 0; u < n; u++) {
        degree[u] = 0;
        for (int w = 0; w < n; w++)
            degree[u] += w != u && keep[w] && linked(g, u, w);
    }
    for (;;) {
        int worst = -1;
        for (int u = 0; u < n; u++)
            if (keep[u] && degree[u] > 0 && (worst < 0 || degree[u] >= degree[worst])) worst = u;
        if (worst < 0) break;
        keep[worst] = 0;
        for (int w = 0; w < n; w++)
            if (w != worst && linked(g, worst, w)) degree[w]--;
    }
    for (int u = 0; u < n; u++) {
        if (keep[u] || linked(g, u, u)) continue;
        int free_of_conflict = 1;
        for (int w = 0; w < n && free_of_conflict; w++)
            free_of_conflict = !(keep[w] && linked(g, u, w));
        keep[u] = free_of_conflict;
    }
}

/* ------------------------------------------------------------------ driver */

/* unique_of[i]: the index among unique templates of format i, or -1. */
static at_status find_unique(at_ctx *ctx, int n, const date_template *const *templates,
                             const date_template **unique, int *n_unique, int *unique_of,
                             int *first_of) {
    *n_unique = 0;
    for (int i = 0; i < n; i++) {
        unique_of[i] = -1;
        if (!templates[i]) continue;
        for (int u = 0; u < *n_unique && unique_of[i] < 0; u++)
            if (template_equal(unique[u], templates[i])) unique_of[i] = u;
        if (unique_of[i] >= 0) continue;
        if (*n_unique == MAX_UNIQUE)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "dates: more than %d distinct formats; use fewer locales",
                               MAX_UNIQUE);
        first_of[*n_unique] = i;
        unique_of[i] = *n_unique;
        unique[(*n_unique)++] = templates[i];
    }
    return AT_OK;
}

/* The first kept unique format that u conflicts with (-1: itself). */
static int blamed(const graph *g, const int *keep_unique, int u) {
    if (linked(g, u, u)) return -1;
    for (int w = 0; w < g->n; w++)
        if (keep_unique[w] && linked(g, u, w)) return w;
    return -1;
}

static void report(const graph *g, int n, const int *unique_of, const int *first_of,
                   const int *keep_unique, int *keep, int *reason) {
    for (int i = 0; i < n; i++) {
        int u = unique_of[i];
        keep[i] = u >= 0 && keep_unique[u];
        reason[i] = -1;
        if (u >= 0 && !keep[i]) {
            int w = blamed(g, keep_unique, u);
            reason[i] = w >= 0 ? first_of[w] : -1;
        }
    }
}

at_status ambiguity_resolve(at_ctx *ctx, int n, const date_template *const *templates, int *keep,
                            int *reason, ambiguity_progress progress, void *progress_user) {
    int *unique_of = malloc((size_t)(n + 1) * sizeof *unique_of);
    int *first_of = malloc((size_t)(n + 1) * sizeof *first_of);
    int *keep_unique = malloc((size_t)(n + 1) * sizeof *keep_unique);
    int *degree = malloc((size_t)(n + 1) * sizeof *degree);
    const date_template **unique = malloc((size_t)(n + 1) * sizeof *unique);
    uint8_t *edges = NULL;
    int n_unique = 0;
    at_status s = unique_of && first_of && keep_unique && degree && unique
                      ? AT_OK
                      : at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    if (s == AT_OK) s = find_unique(ctx, n, templates, unique, &n_unique, unique_of, first_of);
    if (s == AT_OK) {
        edges = malloc((size_t)n_unique * (size_t)n_unique + 1);
        if (!edges) s = at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    }
    if (s == AT_OK) s = ambiguity_graph(ctx, n_unique, unique, edges, progress, progress_user);
    if (s == AT_OK) {
        graph g = {n_unique, edges};
        choose(&g, keep_unique, degree);
        report(&g, n, unique_of, first_of, keep_unique, keep, reason);
    }
    free(edges);
    free(unique_of);
    free(first_of);
    free(keep_unique);
    free(degree);
    free(unique);
    return s;
}
