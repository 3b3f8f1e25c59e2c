/*
 * test_snapshots.c - watching alignment emerge: the snapshot collector
 * (at_snapshots_*) and its page (at_plot_snapshots).
 *
 * A tiny date model trains 60 steps on a few pairs with a collector every
 * 20 steps (and the untrained model at step 0):
 *   - the snapshots are at steps 0, 20, 40, 60, each with the loss and the
 *     latest validation metrics the trainer reported at that step, and
 *     each probe's output and map equal at_seq2seq_translate's at that
 *     moment (translated again in the callback, right after recording);
 *   - the weights, the optimiser's state and metrics.jsonl are the same
 *     bytes as a run without the collector;
 *   - the page parses, holds exactly two script elements and no '<' in
 *     its data (a probe "</script>x" stays text), and every number in it
 *     equals the collector's (weights as floats, bit for bit).
 * The cap: a collector of at most 4 snapshots fed 1..1000 steps stays at
 * <= 4, evenly spaced on its doubled N, from step 0 on; the curve points
 * stay <= AT_SNAPSHOTS_MAX_POINTS with every evaluation kept. Bad input
 * (probes, N, cap, path, no snapshot yet) is refused and leaves no file.
 *
 * `test_snapshots --write DIR` only writes DIR/snapshots.html (a run of
 * 240 steps) for tests/browser/snapshots_browser.mjs.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "viz_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PAIRS 8
static const char *const sources[PAIRS] = {
    "9 May 2018", "1 Jan 1999", "23 Dec 2001", "5 Jun 1987",
    "12 Mar 2010", "30 Sep 1975", "7 Jul 2007", "18 Feb 1960",
};
static const char *const targets[PAIRS] = {
    "2018-05-09", "1999-01-01", "2001-12-23", "1987-06-05",
    "2010-03-12", "1975-09-30", "2007-07-07", "1960-02-18",
};
#define PROBES 3
static const char *const probes[PROBES] = {"9 May 2018", "</script>x", "3 Mar 2003"};

typedef struct fixture {
    at_ctx *ctx;
    at_pairs pairs;
    at_seq2seq *model;
    at_seq2seq_task *task;
} fixture;

static int fixture_make(fixture *f) {
    *f = (fixture){.ctx = test_new_ctx_with(5, 1)};
    for (int i = 0; i < PAIRS; i++) at_pairs_add(f->ctx, &f->pairs, sources[i], targets[i]);
    at_seq2seq_config c;
    at_seq2seq_config_default(&c);
    c.embed_size = 8, c.encoder_size = 8, c.decoder_size = 16, c.attn_size = 8, c.seed = 3;
    at_status s = at_seq2seq_create_for_pairs(f->ctx, &f->model, &c, &f->pairs, &f->pairs,
                                              AT_VOCAB_CHARS, AT_VOCAB_CHARS);
    if (s == AT_OK) s = at_seq2seq_task_create(f->ctx, &f->task, f->model, &f->pairs, &f->pairs, 4);
    CHECK(s == AT_OK, "fixture: %s", at_ctx_error(f->ctx));
    return s == AT_OK;
}

static void fixture_free(fixture *f) {
    at_seq2seq_task_free(f->task);
    at_seq2seq_free(f->model);
    at_pairs_clear(&f->pairs);
    at_ctx_free(f->ctx);
}

/* What the callback saw at each snapshot step, to compare with. */
#define MAX_SEEN 16
typedef struct watch {
    fixture *f;
    at_snapshots *snapshots;
    int seen;
    long step[MAX_SEEN];
    double loss[MAX_SEEN];
    at_metrics valid[MAX_SEEN];
    int translations_equal[MAX_SEEN];
} watch;

/* 1 if snapshot `shot`'s probe p is what at_seq2seq_translate gives now. */
static int same_as_translate(at_ctx *ctx, const at_seq2seq *model, const at_snapshot *shot,
                             int p) {
    at_translation t = {0};
    if (at_seq2seq_translate(ctx, model, probes[p], &t) != AT_OK) return 0;
    const at_attention_map *m = shot->maps[p];
    int same = !strcmp(t.text, shot->outputs[p]);
    if (t.target_len == 0)
        same = same && m == NULL;
    else
        same = same && m && m->rows == t.target_len && m->cols == t.source_len &&
               m->heads == t.heads &&
               !memcmp(m->weights, t.weights,
                       (size_t)t.heads * t.target_len * t.source_len * sizeof(float));
    at_translation_clear(&t);
    return same;
}

static void on_progress(void *user, const at_train_progress *p) {
    watch *w = user;
    if (!w->snapshots) return;
    int before = at_snapshots_count(w->snapshots);
    at_status s = at_snapshots_record(w->f->ctx, w->snapshots, p);
    CHECK(s == AT_OK, "record at step %ld: %s", p->step, at_ctx_error(w->f->ctx));
    if (at_snapshots_count(w->snapshots) == before || w->seen == MAX_SEEN) return;
    const at_snapshot *shot = at_snapshots_get(w->snapshots, before);
    int i = w->seen++;
    w->step[i] = p->step, w->loss[i] = p->loss, w->valid[i] = *p->valid;
    w->translations_equal[i] = 1;
    for (int k = 0; k < PROBES; k++)
        w->translations_equal[i] &= same_as_translate(w->f->ctx, w->f->model, shot, k);
}

/* Train 60 steps into out, with snapshots every `every` steps (0: none). */
static at_status train(fixture *f, const char *out, long every, long steps, watch *w) {
    *w = (watch){.f = f};
    at_status s = AT_OK;
    if (every) {
        s = at_snapshots_create(f->ctx, &w->snapshots, f->model, PROBES, probes, every, 20);
        at_metrics none = {0};
        at_train_progress untrained = {.step = 0, .total_steps = steps, .valid = &none};
        if (s == AT_OK) s = at_snapshots_record(f->ctx, w->snapshots, &untrained);
    }
    at_trainer_options o;
    at_trainer_options_default(&o);
    o.out_dir = out, o.steps = steps, o.batch = 4, o.seed = 7, o.optim.lr = 0.01f;
    o.eval_every = 30, o.clip = 1.0f, o.progress = on_progress, o.progress_user = w;
    if (s == AT_OK) s = at_train(f->ctx, at_seq2seq_task_trainable(f->task), &o, NULL);
    CHECK(s == AT_OK, "train %s: %s", out, at_ctx_error(f->ctx));
    return s;
}

static void check_snapshot_steps(const watch *w) {
    const at_snapshots *s = w->snapshots;
    static const long want[] = {0, 20, 40, 60};
    CHECK(at_snapshots_count(s) == 4, "%d snapshots, expected 4 (steps 0, 20, 40, 60)",
          at_snapshots_count(s));
    for (int i = 0; i < at_snapshots_count(s) && i < 4; i++) {
        const at_snapshot *shot = at_snapshots_get(s, i);
        CHECK(shot->step == want[i], "snapshot %d at step %ld, expected %ld", i, shot->step,
              want[i]);
    }
    CHECK(w->seen == 3, "the callback saw %d snapshots taken in training, expected 3", w->seen);
    const at_snapshot *first = at_snapshots_get(s, 0);
    CHECK(first && isnan(first->loss) && first->valid.count == 0 && first->valid_step == -1,
          "step 0: loss %g, %d metrics, valid_step %ld (expected NaN, 0, -1)",
          first ? first->loss : 0.0, first ? first->valid.count : -1,
          first ? first->valid_step : 0L);
    for (int i = 0; i < w->seen; i++) {
        const at_snapshot *shot = at_snapshots_get(s, i + 1);
        CHECK(shot->loss == w->loss[i], "step %ld: loss %.9g, the trainer said %.9g",
              shot->step, shot->loss, w->loss[i]);
        CHECK(!memcmp(&shot->valid, &w->valid[i], sizeof shot->valid),
              "step %ld: validation metrics differ from the trainer's", shot->step);
        CHECK(w->translations_equal[i],
              "step %ld: a probe's output or map differs from at_seq2seq_translate's",
              shot->step);
    }
    /* evaluations at 30 and 60: snapshot 40 has step 30's, snapshot 20 none */
    const at_snapshot *s20 = at_snapshots_get(s, 1), *s40 = at_snapshots_get(s, 2);
    CHECK(s20 && s20->valid.count == 0 && s20->valid_step == -1,
          "step 20: no evaluation yet, but %d metrics (valid_step %ld)",
          s20 ? s20->valid.count : -1, s20 ? s20->valid_step : 0L);
    CHECK(s40 && s40->valid.count == 2 && s40->valid_step == 30,
          "step 40: %d metrics from step %ld, expected 2 from step 30",
          s40 ? s40->valid.count : -1, s40 ? s40->valid_step : 0L);
    int n;
    const at_snapshot_point *points = at_snapshots_points(s, &n);
    int evaluated = 0;
    for (int i = 0; i < n; i++) evaluated += points[i].evaluated;
    CHECK(n == 60 && points[0].step == 1 && points[59].step == 60 && evaluated == 2,
          "%d curve points (steps %ld..%ld, %d evaluations), expected 60 (1..60, 2)", n,
          n ? points[0].step : 0L, n ? points[n - 1].step : 0L, evaluated);
}

/* ---------------------------------------------------------------- page */

/* A loss or metric on the page: the same float (null for NaN). */
static int json_number_is(json_object *v, double want) {
    if (isnan(want)) return json_object_is_type(v, json_type_null);
    return v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) &&
           (float)json_object_get_double(v) == (float)want;
}

/* The page's map equals the collector's: labels, and every weight read
 * back as the same float. */
static int same_map(json_object *page, const at_attention_map *m) {
    if (!m) return json_object_is_type(page, json_type_null);
    if (json_object_get_int(test_field(page, "rows")) != m->rows ||
        json_object_get_int(test_field(page, "cols")) != m->cols ||
        json_object_get_int(test_field(page, "heads")) != m->heads)
        return 0;
    json_object *rows = test_field(page, "row_labels"), *cols = test_field(page, "col_labels");
    for (int r = 0; r < m->rows; r++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(rows, (size_t)r)),
                   m->row_labels[r]))
            return 0;
    for (int c = 0; c < m->cols; c++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(cols, (size_t)c)),
                   m->col_labels[c]))
            return 0;
    json_object *w = test_field(page, "weights");
    for (int h = 0; h < m->heads; h++)
        for (int r = 0; r < m->rows; r++)
            for (int c = 0; c < m->cols; c++) {
                json_object *row = json_object_array_get_idx(
                    json_object_array_get_idx(w, (size_t)h), (size_t)r);
                const char *text =
                    json_object_get_string(json_object_array_get_idx(row, (size_t)c));
                if (!text || strtof(text, NULL) != m->weights[((size_t)h * m->rows + r) * m->cols + c])
                    return 0;
            }
    return 1;
}

static void check_page_snapshot(json_object *page, const at_snapshot *shot, int i) {
    CHECK(json_object_get_int64(test_field(page, "step")) == shot->step,
          "page snapshot %d: step differs", i);
    CHECK(json_number_is(test_field(page, "loss"), shot->loss), "page snapshot %d: loss %s, collector %.9g",
          i, json_object_to_json_string(test_field(page, "loss")), shot->loss);
    json_object *valid = test_field(page, "valid");
    CHECK((int)json_object_object_length(valid) == shot->valid.count,
          "page snapshot %d: %d metrics, collector %d", i, (int)json_object_object_length(valid),
          shot->valid.count);
    for (int k = 0; k < shot->valid.count; k++)
        CHECK(json_number_is(test_field(valid, shot->valid.name[k]), shot->valid.value[k]),
              "page snapshot %d: metric %s differs", i, shot->valid.name[k]);
    json_object *outputs = test_field(page, "outputs"), *maps = test_field(page, "maps");
    for (int p = 0; p < PROBES; p++) {
        const char *out = json_object_get_string(json_object_array_get_idx(outputs, (size_t)p));
        CHECK(out && !strcmp(out, shot->outputs[p]), "page snapshot %d probe %d: output '%s', collector '%s'",
              i, p, out ? out : "(none)", shot->outputs[p]);
        CHECK(same_map(json_object_array_get_idx(maps, (size_t)p), shot->maps[p]),
              "page snapshot %d probe %d: the map differs from the collector's", i, p);
    }
}

static void check_page(const at_snapshots *s, const char *path) {
    char *html = test_read_text(path);
    CHECK(html != NULL, "%s was not written", path);
    if (!html) return;
    int scripts = 0;
    for (const char *p = html; (p = strstr(p, "<script")); p++) scripts++;
    CHECK(scripts == 2, "%s: %d <script elements, expected 2 (a probe escaped its string)", path,
          scripts);
    CHECK(!strstr(html, "http://") && !strstr(html, "https://") && !strstr(html, " src="),
          "%s: the page refers to something outside itself", path);
    const char *data_start = strstr(html, "type=\"application/json\">");
    const char *data_end = data_start ? strstr(data_start, "</script>") : NULL;
    CHECK(data_start && data_end && !memchr(data_start + 24, '<', (size_t)(data_end - data_start - 24)),
          "%s: a '<' inside the data", path);
    json_object *page = test_page_data(html);
    free(html);
    CHECK(page != NULL, "%s: the data does not parse as JSON", path);
    if (!page) return;
    CHECK(!strcmp(json_object_get_string(test_field(page, "kind")), "snapshots"), "kind");
    json_object *ps = test_field(page, "probes");
    for (int p = 0; p < PROBES; p++)
        CHECK(!strcmp(json_object_get_string(json_object_array_get_idx(ps, (size_t)p)), probes[p]),
              "page probe %d is not '%s'", p, probes[p]);
    json_object *shots = test_field(page, "snapshots");
    CHECK((int)json_object_array_length(shots) == at_snapshots_count(s), "page: %d snapshots, collector %d",
          (int)json_object_array_length(shots), at_snapshots_count(s));
    for (int i = 0; i < at_snapshots_count(s) && i < (int)json_object_array_length(shots); i++)
        check_page_snapshot(json_object_array_get_idx(shots, (size_t)i), at_snapshots_get(s, i), i);
    int n;
    const at_snapshot_point *points = at_snapshots_points(s, &n);
    json_object *page_points = test_field(page, "points");
    CHECK((int)json_object_array_length(page_points) == n, "page: %d points, collector %d",
          (int)json_object_array_length(page_points), n);
    for (int i = 0; i < n && i < (int)json_object_array_length(page_points); i++) {
        json_object *pt = json_object_array_get_idx(page_points, (size_t)i);
        json_object *valid = json_object_array_get_idx(pt, 2);
        CHECK(json_object_get_int64(json_object_array_get_idx(pt, 0)) == points[i].step &&
                  json_number_is(json_object_array_get_idx(pt, 1), points[i].loss) &&
                  (points[i].evaluated ? (int)json_object_object_length(valid) == points[i].valid.count
                                       : valid == NULL),
              "page point %d differs from the collector's (step %ld)", i, points[i].step);
    }
    json_object_put(page);
}

static void test_training(void) {
    fixture f;
    if (!fixture_make(&f)) return fixture_free(&f);
    watch with, without;
    char a[] = "snap_a_XXXXXX";
    test_enter_scratch_dir(a);
    at_status s = train(&f, "with", 20, 60, &with);
    fixture_free(&f);
    /* the same run again in a fresh context and model, no snapshots */
    fixture g;
    if (s == AT_OK && fixture_make(&g)) {
        if (train(&g, "without", 0, 60, &without) == AT_OK)
            test_check_same_run("without", "with", "training with snapshots");
    }
    fixture_free(&g);
    if (s == AT_OK) {
        check_snapshot_steps(&with);
        at_ctx *ctx = test_new_ctx();
        CHECK_OK(ctx, at_plot_snapshots(ctx, with.snapshots, "snapshots.html"));
        check_page(with.snapshots, "snapshots.html");
        at_ctx_free(ctx);
    }
    at_snapshots_free(with.snapshots);
    test_leave_scratch_dir(a);
}

/* ------------------------------------------------------------- the cap */

static void test_cap(void) {
    fixture f;
    if (!fixture_make(&f)) return fixture_free(&f);
    at_snapshots *s = NULL;
    CHECK_OK(f.ctx, at_snapshots_create(f.ctx, &s, f.model, 1, probes, 1, 4));
    at_metrics none = {0}, some = {0};
    at_metrics_set(f.ctx, &some, "exact", 0.5);
    int over = 0;
    for (long step = 0; s && step <= 1000; step++) {
        int evaluated = step > 0 && step % 100 == 0;
        at_train_progress p = {.step = step, .total_steps = 1000, .loss = 1.0 / (1 + step),
                               .valid = evaluated ? &some : &none, .evaluated = evaluated};
        CHECK_OK(f.ctx, at_snapshots_record(f.ctx, s, &p));
        over += at_snapshots_count(s) > 4;
    }
    CHECK(over == 0, "more than 4 snapshots held at %d steps", over);
    long every = at_snapshots_every(s);
    /* 0, 256, 512, 768 are held when the last step (1000) is due: N
     * doubles to 512, and 0, 512 stay beside it */
    CHECK(every == 512, "N after thinning is %ld, expected 512", every);
    int n = at_snapshots_count(s);
    CHECK(n == 3, "%d snapshots held, expected 3", n);
    for (int i = 0; i < n; i++) {
        long step = at_snapshots_get(s, i)->step;
        long want = i < 2 ? i * 512L : 1000;
        CHECK(step == want, "snapshot %d at step %ld, expected %ld", i, step, want);
    }
    int count, evaluations = 0, ordered = 1;
    const at_snapshot_point *points = at_snapshots_points(s, &count);
    for (int i = 0; i < count; i++) {
        evaluations += points[i].evaluated;
        if (i && points[i].step <= points[i - 1].step) ordered = 0;
    }
    CHECK(count == 1000 && evaluations == 10 && ordered,
          "%d points, %d evaluations, in order %d (expected 1000, 10, 1)", count, evaluations,
          ordered);
    /* past the cap of points: thinned, evaluations kept */
    for (long step = 1001; step <= 20000; step++) {
        int evaluated = step % 100 == 0;
        at_train_progress p = {.step = step, .total_steps = 20000, .loss = 0.5,
                               .valid = evaluated ? &some : &none, .evaluated = evaluated};
        at_snapshots_record(f.ctx, s, &p);
    }
    points = at_snapshots_points(s, &count);
    evaluations = 0;
    for (int i = 0; i < count; i++) evaluations += points[i].evaluated;
    CHECK(count <= AT_SNAPSHOTS_MAX_POINTS && count > AT_SNAPSHOTS_MAX_POINTS / 4 &&
              evaluations == 200 && points[count - 1].step == 20000,
          "after 20000 steps: %d points (at most %d), %d evaluations (200), last step %ld",
          count, AT_SNAPSHOTS_MAX_POINTS, evaluations, count ? points[count - 1].step : 0L);
    CHECK(at_snapshots_count(s) <= 4, "%d snapshots after 20000 steps", at_snapshots_count(s));
    /* a step not after the latest is ignored */
    int before = at_snapshots_count(s);
    at_train_progress again = {.step = 0, .total_steps = 20000, .valid = &none};
    CHECK_OK(f.ctx, at_snapshots_record(f.ctx, s, &again));
    CHECK(at_snapshots_count(s) == before, "step 0 after step 20000 was taken");
    at_snapshots_free(s);
    fixture_free(&f);
}

/* ----------------------------------------------------------- bad input */

static void test_refused(void) {
    fixture f;
    if (!fixture_make(&f)) return fixture_free(&f);
    at_ctx *ctx = f.ctx;
    at_snapshots *s = (at_snapshots *)&f; /* must be set to NULL on failure */
    const char *many[AT_SNAPSHOTS_MAX_PROBES + 1];
    for (int i = 0; i <= AT_SNAPSHOTS_MAX_PROBES; i++) many[i] = "1 May 2000";
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 0, probes, 10, 10), AT_ERR_ARGUMENT);
    CHECK(s == NULL, "a refused create left *out set");
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, AT_SNAPSHOTS_MAX_PROBES + 1, many, 10, 10),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 1, probes, 0, 10), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 1, probes, 10, 1), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 1, probes, 10, AT_SNAPSHOTS_MAX + 1),
                 AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, NULL, 1, probes, 10, 10), AT_ERR_ARGUMENT);
    const char *bad[3] = {"", "\xC3\x28 bad UTF-8", NULL};
    for (int i = 0; i < 3; i++) {
        const char *one[2] = {"9 May 2018", bad[i]};
        CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 2, one, 10, 10), AT_ERR_ARGUMENT);
        CHECK(strstr(at_ctx_error(ctx), "probe 2"), "bad probe %d: message '%s' does not name probe 2",
              i, at_ctx_error(ctx));
    }
    char longer[600];
    memset(longer, '7', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    const char *too_long[1] = {longer};
    CHECK_STATUS(ctx, at_snapshots_create(ctx, &s, f.model, 1, too_long, 10, 10), AT_ERR_ARGUMENT);
    /* the page: no snapshot yet, wrong extension, NULLs; no file left */
    char dir[] = "snap_bad_XXXXXX";
    test_enter_scratch_dir(dir);
    CHECK_OK(ctx, at_snapshots_create(ctx, &s, f.model, 1, probes, 10, 10));
    CHECK_STATUS(ctx, at_plot_snapshots(ctx, s, "empty.html"), AT_ERR_ARGUMENT);
    CHECK(strstr(at_ctx_error(ctx), "no snapshot"), "empty: message '%s'", at_ctx_error(ctx));
    at_metrics none = {0};
    at_train_progress p = {.step = 0, .total_steps = 10, .valid = &none};
    CHECK_OK(ctx, at_snapshots_record(ctx, s, &p));
    CHECK_STATUS(ctx, at_plot_snapshots(ctx, s, "page.png"), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_snapshots(ctx, NULL, "page.html"), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_plot_snapshots(ctx, s, NULL), AT_ERR_ARGUMENT);
    CHECK_STATUS(ctx, at_snapshots_record(ctx, NULL, &p), AT_ERR_ARGUMENT);
    CHECK(!test_exists("empty.html") && !test_exists("page.png") && !test_exists("page.html"),
          "a refused page left a file");
    CHECK_STATUS(ctx, at_plot_snapshots(ctx, s, "no/such/dir/page.html"), AT_ERR_IO);
    CHECK_OK(ctx, at_plot_snapshots(ctx, s, "page.HTML"));
    at_snapshots_free(s);
    test_leave_scratch_dir(dir);
    fixture_free(&f);
}

/* --write DIR: a page from a run of 240 steps, for the browser test. */
static int write_page(const char *dir) {
    mkdir(dir, 0755);
    fixture f;
    if (!fixture_make(&f)) return fixture_free(&f), 1;
    char out[512], page[512];
    snprintf(out, sizeof out, "%s/snapshots_run", dir);
    snprintf(page, sizeof page, "%s/snapshots.html", dir);
    watch w;
    at_status s = train(&f, out, 20, 240, &w);
    if (s == AT_OK) s = at_plot_snapshots(f.ctx, w.snapshots, page);
    if (s != AT_OK) fprintf(stderr, "%s\n", at_ctx_error(f.ctx));
    at_snapshots_free(w.snapshots);
    fixture_free(&f);
    return s == AT_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--write")) return write_page(argv[2]);
    static const test_case cases[] = {
        {"training", test_training, 0},
        {"cap", test_cap, 0},
        {"refused", test_refused, 0},
    };
    return test_run_cases(argc, argv, cases, sizeof cases / sizeof cases[0], "snapshots");
}
