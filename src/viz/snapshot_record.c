/*
 * snapshot_record.c - the collector behind "watch training": while a
 * seq2seq model trains, translate a few probe inputs every N steps and
 * keep what the model wrote and where it looked, with the loss and the
 * validation metrics of that moment (at_plot_snapshots draws them).
 *
 * The idea: the trainer already reports every step to a progress callback;
 * the caller forwards each report here. A report whose step is due takes a
 * snapshot: each probe is translated (at_seq2seq_translate: gradients off,
 * out of training mode, no random number drawn, so the training itself is
 * untouched) and turned into a map (at_attention_map_from_translation).
 *
 * Memory stays bounded by thinning, never by stopping: a full collector
 * doubles N and keeps only the snapshots on the new, coarser grid; the
 * curve points are thinned the same way. A run of any length ends with an
 * evenly spaced history from its first step to its last.
 */
#include "viz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct at_snapshots {
    const at_seq2seq *model;            /* borrowed                          */
    int probes;
    char **probe_texts;                 /* (probes)                          */
    long every;                         /* N, doubled at each thinning       */
    int max_snapshots;
    int count;
    at_snapshot *items;                 /* (max_snapshots)                   */
    long last_step;                     /* the latest step seen (-1: none)   */
    long valid_step;                    /* the latest evaluation's step      */
    long point_every;                   /* curve points every this many steps */
    int point_count;
    at_snapshot_point *points;          /* (AT_SNAPSHOTS_MAX_POINTS)        */
};

static at_status out_of_memory(at_ctx *ctx) {
    return at_ctx_fail(ctx, AT_ERR_MEMORY, "snapshots: out of memory");
}

static void snapshot_clear(at_snapshot *s, int probes) {
    for (int p = 0; p < probes; p++) {
        if (s->outputs) free(s->outputs[p]);
        if (s->maps) at_attention_map_free(s->maps[p]);
    }
    free(s->outputs);
    free(s->maps);
    *s = (at_snapshot){0};
}

void at_snapshots_free(at_snapshots *s) {
    if (!s) return;
    for (int i = 0; i < s->count; i++) snapshot_clear(&s->items[i], s->probes);
    for (int p = 0; s->probe_texts && p < s->probes; p++) free(s->probe_texts[p]);
    free(s->probe_texts);
    free(s->items);
    free(s->points);
    free(s);
}

/* One probe translated: its output and its map (NULL when empty). */
static at_status translate_probe(at_ctx *ctx, const at_snapshots *s, int p, char **output,
                                 at_attention_map **map) {
    at_translation t = {0};
    const char *text = s->probe_texts[p];
    at_status status = at_seq2seq_translate(ctx, s->model, text, &t);
    if (status != AT_OK) {
        at_translation_clear(&t);
        return at_ctx_fail(ctx, status, "snapshots: probe %d ('%s'): %s", p + 1, text,
                           at_ctx_error(ctx));
    }
    *output = viz_strdup(t.text);
    if (!*output) status = out_of_memory(ctx);
    if (status == AT_OK && t.target_len > 0)
        status = at_attention_map_from_translation(ctx, map, s->model, NULL, text, &t);
    at_translation_clear(&t);
    return status;
}

at_status at_snapshots_create(at_ctx *ctx, at_snapshots **out, const struct at_seq2seq *model,
                              int probes, const char *const *probe_texts, long every,
                              int max_snapshots) {
    if (!out || !model || !probe_texts)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: NULL argument");
    *out = NULL;
    if (probes < 1 || probes > AT_SNAPSHOTS_MAX_PROBES)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: %d probes (1 to %d)", probes,
                           AT_SNAPSHOTS_MAX_PROBES);
    if (every < 1)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: every %ld steps (at least 1)",
                           every);
    if (max_snapshots < 2 || max_snapshots > AT_SNAPSHOTS_MAX)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: at most %d snapshots (2 to %d)",
                           max_snapshots, AT_SNAPSHOTS_MAX);
    at_snapshots *s = calloc(1, sizeof *s);
    if (!s) return out_of_memory(ctx);
    *s = (at_snapshots){.model = model, .probes = probes, .every = every,
                        .max_snapshots = max_snapshots, .last_step = -1, .valid_step = -1,
                        .point_every = 1};
    s->probe_texts = calloc((size_t)probes, sizeof *s->probe_texts);
    s->items = calloc((size_t)max_snapshots, sizeof *s->items);
    s->points = calloc(AT_SNAPSHOTS_MAX_POINTS, sizeof *s->points);
    at_status status = s->probe_texts && s->items && s->points ? AT_OK : out_of_memory(ctx);
    for (int p = 0; p < probes && status == AT_OK; p++) {
        if (!probe_texts[p])
            status = at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: probe %d is NULL", p + 1);
        else if (!(s->probe_texts[p] = viz_strdup(probe_texts[p])))
            status = out_of_memory(ctx);
    }
    /* each probe once now: a probe the model cannot read fails here */
    for (int p = 0; p < probes && status == AT_OK; p++) {
        char *output = NULL;
        at_attention_map *map = NULL;
        status = translate_probe(ctx, s, p, &output, &map);
        free(output);
        at_attention_map_free(map);
    }
    if (status != AT_OK) {
        at_snapshots_free(s);
        return status;
    }
    *out = s;
    return AT_OK;
}

/* ------------------------------------------------------------- thinning */

/* Full: N doubles, and only the snapshots on the new grid stay. */
static void thin_snapshots(at_snapshots *s) {
    while (s->count >= s->max_snapshots) {
        s->every *= 2;
        int kept = 0;
        for (int i = 0; i < s->count; i++) {
            if (s->items[i].step % s->every == 0)
                s->items[kept++] = s->items[i];
            else
                snapshot_clear(&s->items[i], s->probes);
        }
        s->count = kept;
    }
}

/* Full: points every twice as many steps (evaluations kept); if the
 * evaluations alone still fill most of it, every other point goes. */
static void thin_points(at_snapshots *s) {
    s->point_every *= 2;
    int kept = 0;
    for (int i = 0; i < s->point_count; i++)
        if (s->points[i].evaluated || s->points[i].step % s->point_every == 0)
            s->points[kept++] = s->points[i];
    s->point_count = kept;
    if (kept < AT_SNAPSHOTS_MAX_POINTS * 3 / 4) return;
    kept = 0;
    for (int i = 0; i < s->point_count; i += 2) s->points[kept++] = s->points[i];
    s->point_count = kept;
}

/* ------------------------------------------------------------- recording */

static void record_point(at_snapshots *s, const at_train_progress *p) {
    int evaluated = p->evaluated && p->valid && p->valid->count > 0;
    if (!evaluated && p->step % s->point_every) return;
    if (s->point_count == AT_SNAPSHOTS_MAX_POINTS) thin_points(s);
    if (!evaluated && p->step % s->point_every) return; /* off the new grid */
    s->points[s->point_count++] = (at_snapshot_point){
        .step = p->step, .loss = p->loss, .evaluated = evaluated,
        .valid = evaluated ? *p->valid : (at_metrics){0}};
}

static int snapshot_due(const at_snapshots *s, const at_train_progress *p) {
    return p->step == 0 || p->step % s->every == 0 || p->step == p->total_steps;
}

static at_status take_snapshot(at_ctx *ctx, at_snapshots *s, const at_train_progress *p) {
    at_snapshot shot = {.step = p->step,
                        .loss = p->step == 0 ? NAN : p->loss,
                        .valid = p->valid ? *p->valid : (at_metrics){0},
                        .valid_step = p->valid && p->valid->count > 0 ? s->valid_step : -1};
    shot.outputs = calloc((size_t)s->probes, sizeof *shot.outputs);
    shot.maps = calloc((size_t)s->probes, sizeof *shot.maps);
    at_status status = shot.outputs && shot.maps ? AT_OK : out_of_memory(ctx);
    for (int i = 0; i < s->probes && status == AT_OK; i++)
        status = translate_probe(ctx, s, i, &shot.outputs[i], &shot.maps[i]);
    if (status != AT_OK) {
        snapshot_clear(&shot, s->probes);
        return status;
    }
    s->items[s->count++] = shot;
    return AT_OK;
}

at_status at_snapshots_record(at_ctx *ctx, at_snapshots *s, const at_train_progress *p) {
    if (!s || !p) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "snapshots: NULL argument");
    if (p->step < 0 || p->step <= s->last_step) return AT_OK;
    s->last_step = p->step;
    if (p->evaluated) s->valid_step = p->step;
    if (p->step > 0) record_point(s, p);
    if (!snapshot_due(s, p)) return AT_OK;
    if (s->count >= s->max_snapshots) thin_snapshots(s);
    if (!snapshot_due(s, p)) return AT_OK; /* off the new grid */
    return take_snapshot(ctx, s, p);
}

int at_snapshots_count(const at_snapshots *s) { return s ? s->count : 0; }

const at_snapshot *at_snapshots_get(const at_snapshots *s, int i) {
    return s && i >= 0 && i < s->count ? &s->items[i] : NULL;
}

int at_snapshots_probes(const at_snapshots *s) { return s ? s->probes : 0; }

const char *at_snapshots_probe(const at_snapshots *s, int i) {
    return s && i >= 0 && i < s->probes ? s->probe_texts[i] : NULL;
}

long at_snapshots_every(const at_snapshots *s) { return s ? s->every : 0; }

const at_snapshot_point *at_snapshots_points(const at_snapshots *s, int *count) {
    if (count) *count = s ? s->point_count : 0;
    return s ? s->points : NULL;
}
