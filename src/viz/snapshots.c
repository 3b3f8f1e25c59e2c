/*
 * snapshots.c - alignment emerging during training, as one offline page
 * (at_plot_snapshots): the snapshots a collector kept (snapshot_record.c)
 * written into the shared interactive page of html.c.
 *
 * The idea: a learner drags a slider from the untrained model to the
 * trained one and watches each probe's attention map go from a blur to a
 * clean alignment, while a marker walks along the loss and validation
 * curves to the same step. The page is html.c's page (the same colours,
 * the same tables, the same exact weight on hover); this file writes its
 * data:
 *   {"kind": "snapshots", "title", "model", "mechanism", "every",
 *    "colours": [...], "probes": [P strings],
 *    "points": [[step, loss, {metric: value} | null], ...],
 *    "snapshots": [{"step", "loss" (null before training), "valid_step",
 *                   "valid": {metric: value}, "outputs": [P strings],
 *                   "maps": [P maps (as html.c writes one) | null]}]}
 * Losses and metrics are written as floats (the shortest decimal that
 * reads back as the same float), like the weights. Every string goes through the HTML-safe JSON escaper, so a probe such
 * as "</script>" stays text.
 */
#include "viz.h"

#include <math.h>
#include <string.h>

/* A loss or a metric as JSON: the float nearest to it, as the shortest
 * decimal that reads back as that float; null when not finite. */
static void put_double(sbuf *b, double v) {
    if (isfinite(v) && fabs(v) < 1e30)
        viz_html_put_number(b, (float)v);
    else
        sbuf_puts(b, "null");
}

static void put_metrics(sbuf *b, const at_metrics *m) {
    sbuf_puts(b, "{");
    for (int i = 0; i < m->count; i++) {
        sbuf_puts(b, i ? "," : "");
        sbuf_json_string_html(b, m->name[i]);
        sbuf_puts(b, ":");
        put_double(b, m->value[i]);
    }
    sbuf_puts(b, "}");
}

static void put_points(sbuf *b, const at_snapshots *s) {
    int n;
    const at_snapshot_point *points = at_snapshots_points(s, &n);
    sbuf_puts(b, "\"points\":[");
    for (int i = 0; i < n; i++) {
        sbuf_printf(b, "%s[%ld,", i ? "," : "", points[i].step);
        put_double(b, points[i].loss);
        sbuf_puts(b, ",");
        if (points[i].evaluated)
            put_metrics(b, &points[i].valid);
        else
            sbuf_puts(b, "null");
        sbuf_puts(b, "]");
    }
    sbuf_puts(b, "],\n");
}

static void put_snapshot(sbuf *b, const at_snapshot *shot, int probes) {
    sbuf_printf(b, "{\"step\":%ld,\"loss\":", shot->step);
    put_double(b, shot->loss);
    sbuf_printf(b, ",\"valid_step\":%ld,\"valid\":", shot->valid_step);
    put_metrics(b, &shot->valid);
    sbuf_puts(b, ",\"outputs\":[");
    for (int p = 0; p < probes; p++) {
        sbuf_puts(b, p ? "," : "");
        sbuf_json_string_html(b, shot->outputs[p]);
    }
    sbuf_puts(b, "],\"maps\":[");
    for (int p = 0; p < probes; p++) {
        sbuf_puts(b, p ? ",\n" : "\n");
        if (shot->maps[p])
            viz_html_put_map(b, shot->maps[p]);
        else
            sbuf_puts(b, "null");
    }
    sbuf_puts(b, "]}");
}

/* The first map of any snapshot: it names the model and the mechanism. */
static const at_attention_map *any_map(const at_snapshots *s) {
    for (int i = 0; i < at_snapshots_count(s); i++)
        for (int p = 0; p < at_snapshots_probes(s); p++)
            if (at_snapshots_get(s, i)->maps[p]) return at_snapshots_get(s, i)->maps[p];
    return NULL;
}

/* Numbers and strings the page will hold, for the drawing budget. */
static double page_items(const at_snapshots *s) {
    int points;
    at_snapshots_points(s, &points);
    double items = 3.0 * points;
    for (int i = 0; i < at_snapshots_count(s); i++)
        for (int p = 0; p < at_snapshots_probes(s); p++) {
            const at_attention_map *m = at_snapshots_get(s, i)->maps[p];
            if (m) items += (double)m->heads * m->rows * m->cols + m->rows + m->cols;
        }
    return items;
}

static at_status check_arguments(at_ctx *ctx, const at_snapshots *s, const char *path) {
    if (!s || !path) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "plot snapshots: NULL argument");
    char ext[8];
    viz_extension(path, ext, sizeof ext);
    if (strcmp(ext, "html"))
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                           "%s: the snapshots page is .html (one offline page)", path);
    if (at_snapshots_count(s) == 0)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: no snapshot taken yet, nothing to draw",
                           path);
    char what[64];
    snprintf(what, sizeof what, "%d snapshots of %d probes", at_snapshots_count(s),
             at_snapshots_probes(s));
    return viz_check_budget(ctx, path, "html", page_items(s), 0, 0, what);
}

at_status at_plot_snapshots(at_ctx *ctx, const at_snapshots *s, const char *path) {
    at_status status = check_arguments(ctx, s, path);
    if (status != AT_OK) return status;
    const at_attention_map *named = any_map(s);
    sbuf b = {0};
    viz_html_begin(&b, "attention while training");
    sbuf_puts(&b, "{\"kind\":\"snapshots\",\"title\":\"attention while training\",\"model\":");
    sbuf_json_string_html(&b, named ? named->model : "");
    sbuf_puts(&b, ",\"mechanism\":");
    sbuf_json_string_html(&b, named ? named->mechanism : "");
    sbuf_printf(&b, ",\"every\":%ld,", at_snapshots_every(s));
    viz_html_put_colours(&b);
    sbuf_puts(&b, "\"probes\":[");
    for (int p = 0; p < at_snapshots_probes(s); p++) {
        sbuf_puts(&b, p ? "," : "");
        sbuf_json_string_html(&b, at_snapshots_probe(s, p));
    }
    sbuf_puts(&b, "],\n");
    put_points(&b, s);
    sbuf_puts(&b, "\"snapshots\":[");
    for (int i = 0; i < at_snapshots_count(s) && !b.failed; i++) {
        sbuf_puts(&b, i ? ",\n" : "\n");
        put_snapshot(&b, at_snapshots_get(s, i), at_snapshots_probes(s));
    }
    sbuf_puts(&b, "]}");
    return viz_html_end(ctx, &b, path);
}
