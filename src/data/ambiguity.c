/*
 * ambiguity.c - which date formats to leave out so that no string can mean
 * two dates.
 *
 * The problem. "5/9/2018" is 9 May in en_US (M/d/y) and 5 September in
 * es (d/M/y). A model trained on both cannot be right about it, and its
 * label is noise. Ambiguity is a property of the whole space of strings a
 * set of formats can write, not of one sample: so every format is checked
 * against every other (and itself) over ALL 73,049 dates from 1900 to 2099
 * and all three case variants, comparing case-folded strings (a sample's
 * case is random, so "MAY" and "may" are the same string).
 *
 * Step 1, the conflict graph. Two formats F and G (possibly F = G)
 * conflict if some folded string s = F(d) = G(d') with dates d != d'.
 * Every (format, variant, date) is a key; keys are grouped by their 64-bit
 * hash, and a group holding two dates is checked string by string (equal
 * hashes are always confirmed by comparing the actual strings, so the graph
 * is exact). Formats that are identical functions (the same pattern and
 * words in two locales, e.g. "dd/MM/y" with Latin digits) are checked once.
 * The grouping is made cache-friendly rather than one huge hash table
 * (random access into 100+ MB was 50x slower): pass 1 hashes every key and
 * notes its bucket (the top 12 bits); pass 2 gathers a few million keys at a
 * time, bucket by bucket, and groups each bucket (a few thousand keys) with
 * a small table that stays in cache. A string always falls in one bucket,
 * so no conflict is missed.
 *
 * Step 2, the rule. A format in conflict with itself is dropped: a two-digit
 * year does that (1918 and 2018 are both "18"; dates.c widens the styles'
 * 'yy' to 'y', so only a caller's own 'yy' pattern meets this), and so
 * would a pattern without a year. Then, while
 * any edges remain, drop the format with the most conflicts (ties: the one
 * later in priority order, so locales listed first and styles before
 * patterns win). Finally give back, in priority order, any dropped format
 * that no longer conflicts with a kept one. The kept set has no edge, so
 * the emitted strings are unambiguous; every dropped format conflicts with
 * a kept one (or itself), so nothing is left out without cause.
 *
 * Cost. One key per (distinct format, case variant that differs, date):
 * on the 24 default locales, 432 formats are 302 (template, variant)
 * sources, 22 million keys, hashed twice. About 1 to 1.5 s and 170 MB at
 * the peak (the bucket of every key, 2 bytes each, and 64 MB of keys).
 */
#include "data.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum {
    BUCKET_BITS = 12,        /* keys are bucketed by their top bits */
    BUCKETS = 1 << BUCKET_BITS,
    GROUP_RECORDS = 1 << 22, /* records held at once: 64 MiB        */
    MAX_UNIQUE = 4096
};

/* One key: a (template, variant) source and a date, with its hash. */
typedef struct record {
    uint64_t hash;
    uint32_t date;
    uint16_t source; /* index into checker.sources */
} record;

typedef struct key_source {
    const date_template *t;
    int variant, unique;
} key_source;

typedef struct checker {
    int n_unique;
    const date_template **unique; /* n_unique templates                   */
    int n_sources;
    key_source *sources; /* every (unique template, variant)     */
    const date_fields *fields;
    uint16_t *bucket_of; /* n_sources x DATE_DAYS                */
    long count[BUCKETS], offset[BUCKETS + 1];
    record *records;                     /* one group of buckets                 */
    int32_t *slots, *head, *link, *last; /* in-bucket grouping scratch    */
    uint8_t *mixed;                      /* a head whose group has two dates     */
    long largest_bucket;
    uint8_t *edges;      /* n_unique x n_unique                  */
    char *key_a, *key_b; /* scratch for comparing strings        */
    void (*progress)(void *, const char *, long, long);
    void *progress_user;
    long done, total;
} checker;

static uint64_t source_hash(const checker *c, const key_source *k, uint32_t date) {
    return hash_mix(template_hash(k->t, k->variant, c->fields->value[date]));
}

static void tick(checker *c) {
    c->done++;
    if (c->progress) c->progress(c->progress_user, "checking formats", c->done, c->total);
}

/* ------------------------------------------------------ pass 1: buckets */

static void count_buckets(checker *c) {
    memset(c->count, 0, sizeof c->count);
    for (int k = 0; k < c->n_sources; k++) {
        uint16_t *bucket = c->bucket_of + (size_t)k * DATE_DAYS;
        for (uint32_t d = 0; d < DATE_DAYS; d++) {
            bucket[d] = (uint16_t)(source_hash(c, &c->sources[k], d) >> (64 - BUCKET_BITS));
            c->count[bucket[d]]++;
        }
        tick(c);
    }
    c->largest_bucket = 1;
    for (int b = 0; b < BUCKETS; b++)
        if (c->count[b] > c->largest_bucket) c->largest_bucket = c->count[b];
}

/* ------------------------------------------ pass 2: records, bucket-wise */

/* Write the records of buckets [first, last) contiguously, bucket by
 * bucket; offset[b] is where bucket b starts. */
static void gather(checker *c, int first, int last) {
    long at = 0;
    for (int b = first; b < last; b++) {
        c->offset[b] = at;
        at += c->count[b];
    }
    c->offset[last] = at;
    long fill[BUCKETS];
    memcpy(fill + first, c->offset + first, (size_t)(last - first) * sizeof *fill);
    for (int k = 0; k < c->n_sources; k++) {
        const uint16_t *bucket = c->bucket_of + (size_t)k * DATE_DAYS;
        for (uint32_t d = 0; d < DATE_DAYS; d++) {
            int b = bucket[d];
            if (b < first || b >= last) continue;
            c->records[fill[b]++] = (record){source_hash(c, &c->sources[k], d), d, (uint16_t)k};
        }
    }
}

static int same_string(checker *c, const record *a, const record *b) {
    const key_source *ka = &c->sources[a->source], *kb = &c->sources[b->source];
    size_t la = template_key(ka->t, ka->variant, c->fields->value[a->date], c->key_a);
    size_t lb = template_key(kb->t, kb->variant, c->fields->value[b->date], c->key_b);
    return la == lb && memcmp(c->key_a, c->key_b, la) == 0;
}

static int edge(const checker *c, int a, int b) {
    return c->edges[(size_t)a * (size_t)c->n_unique + (size_t)b];
}

static void add_edge(checker *c, int a, int b) {
    c->edges[(size_t)a * (size_t)c->n_unique + (size_t)b] = 1;
    c->edges[(size_t)b * (size_t)c->n_unique + (size_t)a] = 1;
}

/* Group the n records of one bucket by hash: head[i] is the first record
 * with record i's hash, and each group is a chain through link[] starting
 * at last[head]. Flags the heads whose group holds two dates; returns 1 if
 * any does. */
static int group_bucket(checker *c, const record *r, long n) {
    size_t size = 16;
    while (size < 2 * (size_t)n)
        size *= 2;
    for (size_t i = 0; i < size; i++)
        c->slots[i] = -1;
    int any = 0;
    for (long i = 0; i < n; i++) {
        size_t s = (size_t)r[i].hash & (size - 1);
        while (c->slots[s] >= 0 && r[c->slots[s]].hash != r[i].hash)
            s = (s + 1) & (size - 1);
        if (c->slots[s] < 0) c->slots[s] = (int32_t)i;
        int32_t h = c->slots[s];
        c->head[i] = h;
        c->mixed[i] = 0;
        c->link[i] = h == i ? -1 : c->last[h];
        c->last[h] = (int32_t)i;
        if (r[h].date != r[i].date) c->mixed[h] = 1, any = 1;
    }
    return any;
}

/* Within a group of equal hashes, every pair with different dates whose
 * strings really are equal is an edge between their formats (and a format
 * meeting itself is a self-edge). */
static void group_edges(checker *c, const record *r, int32_t head) {
    for (int32_t i = c->last[head]; i >= 0; i = c->link[i]) {
        int ui = c->sources[r[i].source].unique;
        for (int32_t j = c->link[i]; j >= 0; j = c->link[j]) {
            if (r[j].date == r[i].date) continue;
            int uj = c->sources[r[j].source].unique;
            if (!edge(c, ui, uj) && same_string(c, &r[i], &r[j])) add_edge(c, ui, uj);
        }
    }
}

static void bucket_edges(checker *c, const record *r, long n) {
    if (!group_bucket(c, r, n)) return;
    for (long i = 0; i < n; i++)
        if (c->head[i] == i && c->mixed[i]) group_edges(c, r, (int32_t)i);
}

static at_status alloc_scratch(at_ctx *ctx, checker *c) {
    long held = c->largest_bucket > GROUP_RECORDS ? c->largest_bucket : GROUP_RECORDS;
    long total = 0;
    for (int b = 0; b < BUCKETS; b++)
        total += c->count[b];
    if (held > total) held = total > c->largest_bucket ? total : c->largest_bucket;
    size_t slots = 16;
    while (slots < 2 * (size_t)c->largest_bucket)
        slots *= 2;
    size_t n = (size_t)c->largest_bucket;
    c->records = malloc((size_t)held * sizeof *c->records);
    c->slots = malloc(slots * sizeof *c->slots);
    c->head = malloc(n * sizeof *c->head);
    c->link = malloc(n * sizeof *c->link);
    c->last = malloc(n * sizeof *c->last);
    c->mixed = malloc(n);
    if (!c->records || !c->slots || !c->head || !c->link || !c->last || !c->mixed)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory for the ambiguity check");
    return AT_OK;
}

static at_status build_graph(at_ctx *ctx, checker *c) {
    count_buckets(c);
    AT_TRY(alloc_scratch(ctx, c));
    int first = 0;
    while (first < BUCKETS) {
        int last = first;
        long held = 0;
        while (last < BUCKETS && (last == first || held + c->count[last] <= GROUP_RECORDS))
            held += c->count[last++];
        gather(c, first, last);
        for (int b = first; b < last; b++)
            bucket_edges(c, c->records + c->offset[b], c->count[b]);
        first = last;
        c->done = c->n_sources + (long)c->n_sources * first / BUCKETS - 1;
        tick(c);
    }
    return AT_OK;
}

/* ---------------------------------------------------------------- the rule */

/* Drop self-conflicts, then the most-conflicted format until no edges
 * remain, then give back what no longer conflicts. keep[u] in 0/1. */
static void choose(const checker *c, int *keep, int *degree) {
    int n = c->n_unique;
    for (int u = 0; u < n; u++)
        keep[u] = !edge(c, u, u);
    for (int u = 0; u < n; u++) {
        degree[u] = 0;
        for (int w = 0; w < n; w++)
            degree[u] += w != u && keep[w] && edge(c, u, w);
    }
    for (;;) {
        int worst = -1;
        for (int u = 0; u < n; u++)
            if (keep[u] && degree[u] > 0 && (worst < 0 || degree[u] >= degree[worst])) worst = u;
        if (worst < 0) break;
        keep[worst] = 0;
        for (int w = 0; w < n; w++)
            if (w != worst && edge(c, worst, w)) degree[w]--;
    }
    for (int u = 0; u < n; u++) {
        if (keep[u] || edge(c, u, u)) continue;
        int free_of_conflict = 1;
        for (int w = 0; w < n && free_of_conflict; w++)
            free_of_conflict = !(keep[w] && edge(c, u, w));
        keep[u] = free_of_conflict;
    }
}

/* ------------------------------------------------------------------ driver */

/* unique_of[i]: the index among unique templates of format i, or -1. */
static at_status find_unique(at_ctx *ctx, checker *c, int n, const date_template *const *templates,
                             int *unique_of, int *first_of) {
    c->n_unique = 0;
    for (int i = 0; i < n; i++) {
        unique_of[i] = -1;
        if (!templates[i]) continue;
        for (int u = 0; u < c->n_unique && unique_of[i] < 0; u++)
            if (template_equal(c->unique[u], templates[i])) unique_of[i] = u;
        if (unique_of[i] >= 0) continue;
        if (c->n_unique == MAX_UNIQUE)
            return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                               "dates: more than %d distinct formats; use fewer locales",
                               MAX_UNIQUE);
        first_of[c->n_unique] = i;
        unique_of[i] = c->n_unique;
        c->unique[c->n_unique++] = templates[i];
    }
    return AT_OK;
}

/* Every (unique template, variant) becomes a source of keys. */
static at_status checker_alloc(at_ctx *ctx, checker *c) {
    size_t longest = 0;
    int n_sources = 0;
    for (int u = 0; u < c->n_unique; u++) {
        if (c->unique[u]->max_bytes > longest) longest = c->unique[u]->max_bytes;
        n_sources += c->unique[u]->n_variants;
    }
    if (n_sources > UINT16_MAX)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "dates: too many formats; use fewer locales");
    c->sources = malloc((size_t)(n_sources + 1) * sizeof *c->sources);
    c->bucket_of = malloc((size_t)(n_sources + 1) * DATE_DAYS * sizeof *c->bucket_of);
    c->edges = calloc((size_t)c->n_unique * (size_t)c->n_unique + 1, 1);
    c->key_a = malloc(longest + 1);
    c->key_b = malloc(longest + 1);
    if (!c->sources || !c->bucket_of || !c->edges || !c->key_a || !c->key_b)
        return at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory for the ambiguity check");
    for (int u = 0; u < c->n_unique; u++)
        for (int k = 0; k < c->unique[u]->n_variants; k++)
            c->sources[c->n_sources++] = (key_source){c->unique[u], c->unique[u]->variants[k], u};
    c->total = 2L * c->n_sources; /* progress: pass 1 by source, pass 2 by bucket */
    return AT_OK;
}

static void checker_release(checker *c) {
    free(c->unique);
    free(c->sources);
    free(c->bucket_of);
    free(c->records);
    free(c->slots);
    free(c->head);
    free(c->link);
    free(c->last);
    free(c->mixed);
    free(c->edges);
    free(c->key_a);
    free(c->key_b);
}

/* The first kept unique format that u conflicts with (-1: itself). */
static int blamed(const checker *c, const int *keep_unique, int u) {
    if (edge(c, u, u)) return -1;
    for (int w = 0; w < c->n_unique; w++)
        if (keep_unique[w] && edge(c, u, w)) return w;
    return -1;
}

static void report(const checker *c, int n, const int *unique_of, const int *first_of,
                   const int *keep_unique, int *keep, int *reason) {
    for (int i = 0; i < n; i++) {
        int u = unique_of[i];
        keep[i] = u >= 0 && keep_unique[u];
        reason[i] = -1;
        if (u >= 0 && !keep[i]) {
            int w = blamed(c, keep_unique, u);
            reason[i] = w >= 0 ? first_of[w] : -1;
        }
    }
}

at_status ambiguity_resolve(at_ctx *ctx, int n, const date_template *const *templates,
                            const date_fields *fields, int *keep, int *reason,
                            void (*progress)(void *user, const char *stage, long done, long total),
                            void *progress_user) {
    checker c = {.fields = fields, .progress = progress, .progress_user = progress_user};
    int *unique_of = malloc((size_t)(n + 1) * sizeof *unique_of);
    int *first_of = malloc((size_t)(n + 1) * sizeof *first_of);
    int *keep_unique = malloc((size_t)(n + 1) * sizeof *keep_unique);
    int *degree = malloc((size_t)(n + 1) * sizeof *degree);
    c.unique = malloc((size_t)(n + 1) * sizeof *c.unique);
    at_status s = unique_of && first_of && keep_unique && degree && c.unique
                      ? AT_OK
                      : at_ctx_fail(ctx, AT_ERR_MEMORY, "dates: out of memory");
    if (s == AT_OK) s = find_unique(ctx, &c, n, templates, unique_of, first_of);
    if (s == AT_OK) s = checker_alloc(ctx, &c);
    if (s == AT_OK) s = build_graph(ctx, &c);
    if (s == AT_OK) {
        choose(&c, keep_unique, degree);
        report(&c, n, unique_of, first_of, keep_unique, keep, reason);
    }
    checker_release(&c);
    free(unique_of);
    free(first_of);
    free(keep_unique);
    free(degree);
    return s;
}
