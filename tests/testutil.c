/*
 * testutil.c - loud checks and the finite-difference gradient check.
 * See testutil.h for the idea.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, lstat, clock_gettime */

#include "testutil.h"

#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int test_failures = 0;
int test_checks = 0;

int check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                double rtol) {
    size_t bad = 0, worst = 0;
    double worst_err = 0.0;
    test_checks++;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]);
        int nan = isnan(got[i]) != isnan(want[i]);
        if (nan || err > atol + rtol * fabs((double)want[i])) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.8g, want %.8g (error %.3g)\n", what, i,
                        (double)got[i], (double)want[i], err);
            bad++;
        }
        if (nan) err = INFINITY;
        if (err > worst_err || i == 0) {
            worst_err = err;
            worst = i;
        }
    }
    if (bad) {
        test_failures++;
        fprintf(stderr,
                "FAIL %s: %zu of %zu values differ (atol %.2g, rtol %.2g); largest error %.3g "
                "at %zu\n",
                what, bad, n, atol, rtol, worst_err, worst);
        return 0;
    }
    return 1;
}

void test_append(float *out, size_t *at, size_t room, const at_tensor *t, int grad) {
    const float *from = grad ? t->grad : t->data;
    for (size_t j = 0; j < t->size && *at < room; j++) out[(*at)++] = from[j];
}

void test_append_param_grads(float *out, size_t *at, size_t room, const at_params *params) {
    for (int i = 0; i < at_params_count(params); i++)
        test_append(out, at, room, at_params_get(params, i), 1);
}

int check_same_bits(const char *what, const float *got, const float *want, size_t n) {
    if (!check_close(what, got, want, n, 0.0, 0.0)) return 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i])) {
            test_failures++;
            fprintf(stderr, "FAIL %s: equal values but other bits at %zu (%g)\n", what, i,
                    (double)got[i]);
            return 0;
        }
    return 1;
}


int check_close_to_double(const char *what, const float *got, const double *want, size_t n,
                          double atol, double rtol) {
    float *w = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)want[i];
    int ok = check_close(what, got, w, n, atol, rtol);
    free(w);
    return ok;
}

int test_finish(const char *suite) {
    printf("%s: %d checks\n", suite, test_checks);
    printf("%d passed, %d failed\n", test_checks - test_failures, test_failures);
    return test_failures ? 1 : 0;
}

int test_run_cases(int argc, char **argv, const test_case *cases, size_t n, const char *suite) {
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 ? strcmp(argv[1], cases[i].name) != 0 : cases[i].only_by_name) continue;
        double start = test_seconds();
        cases[i].run();
        printf("%-12s %.2f s\n", cases[i].name, test_seconds() - start);
        ran++;
    }
    CHECK(ran > 0, "no case named '%s'", argc > 1 ? argv[1] : "");
    return test_finish(suite);
}

double test_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void fill_uniform(float *x, size_t n, float lo, float hi, at_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * at_rng_uniform(rng);
}

/* ------------------------------------------------------ shared helpers */

at_ctx *test_new_ctx(void) {
    at_ctx *ctx = NULL;
    if (at_ctx_create(&ctx, NULL) != AT_OK) {
        fprintf(stderr, "cannot create a context\n");
        exit(1);
    }
    return ctx;
}

at_ctx *test_new_ctx_with(uint64_t seed, int threads) {
    at_ctx *ctx = NULL;
    at_ctx_options o = {.num_threads = threads, .seed = seed};
    if (at_ctx_create(&ctx, &o) != AT_OK) {
        fprintf(stderr, "cannot create a context\n");
        exit(1);
    }
    return ctx;
}

float *test_random_floats(size_t n, float lo, float hi, at_rng *rng) {
    float *x = malloc(n * sizeof(float));
    fill_uniform(x, n, lo, hi, rng);
    return x;
}

void test_jitter_params(at_params *params, at_rng *rng, float amount) {
    for (int p = 0; p < at_params_count(params); p++) {
        at_tensor *t = at_params_get(params, p);
        for (size_t i = 0; i < t->size; i++)
            t->data[i] += amount * (at_rng_uniform(rng) - 0.5f);
    }
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each run of equal consecutive sources is one word: sorted, no two runs
 * may share a source. */
const char *test_pairs_grouped(const at_pairs *set) {
    const char **runs = malloc((set->count + 1) * sizeof *runs);
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++)
        if (i == 0 || strcmp(set->source[i], set->source[i - 1]) != 0) runs[n++] = set->source[i];
    qsort(runs, n, sizeof *runs, compare_strings);
    const char *repeated = NULL;
    for (size_t i = 1; i < n && !repeated; i++)
        if (strcmp(runs[i], runs[i - 1]) == 0) repeated = runs[i];
    free(runs);
    return repeated;
}

uint64_t test_fnv1a_64(const char *s) {
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int test_all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int test_all_zero(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}

uint8_t *test_mask_from_lengths(int B, int T, const int *lengths) {
    uint8_t *keep = malloc((size_t)B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            keep[(size_t)b * T + t] = t < lengths[b];
    return keep;
}

int test_causal_keeps(int i, int j, int tq, int tk) { return j <= i + (tk - tq); }

int test_mask_keeps(const at_attn_mask *m, int B, int b, int i, int j, int tq, int tk) {
    if (!m) return 1;
    if (m->causal && !test_causal_keeps(i, j, tq, tk)) return 0;
    if (!m->keep) return 1;
    int per = B * tq / m->rows, row = (b * tq + i) / per;
    return m->keep[(size_t)row * tk + j] != 0;
}

static at_status gc_join_outputs_backward(at_ctx *ctx, ati_node *node) {
    (void)ctx;
    size_t offset = 0;
    for (int i = 0; i < node->nin; i++) {
        at_tensor *t = node->in[i];
        if (t->grad)
            for (size_t k = 0; k < t->size; k++)
                t->grad[k] += node->out->grad[offset + k];
        offset += t->size;
    }
    return AT_OK;
}

at_status gc_join_outputs(at_ctx *ctx, at_tensor **y, int n, at_tensor **parts) {
    at_tensor *kept[AT_NODE_MAX_IN] = {0};
    int count = 0, total = 0;
    for (int i = 0; i < n; i++)
        if (parts[i]) {
            kept[count++] = parts[i];
            total += (int)parts[i]->size;
        }
    int track = ati_tracking(ctx, count, kept);
    at_tensor *result;
    AT_TRY(ati_result(ctx, &result, 1, &total, track));
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        memcpy(result->data + offset, kept[i]->data, kept[i]->size * sizeof(float));
        offset += kept[i]->size;
    }
    if (track)
        AT_TRY(ati_tape_record(ctx, NULL, "gc_join_outputs", gc_join_outputs_backward, result, count,
                              kept));
    *y = result;
    return AT_OK;
}

/* ------------------------------------------------------- gradient check */

typedef struct gc_run {
    at_ctx *ctx;
    int n_inputs;
    gc_input *inputs;
    gc_build_fn build;
    void *user;
    unsigned seed;
    float *direction; /* R, y->size floats, made on the first run */
    size_t out_size;
} gc_run;

/* Build the function once; L = sum(y * R) in double. If tensors is not
 * NULL, the input tensors are handed back (for their gradients). */
static at_status gc_evaluate(gc_run *run, double *loss, at_tensor **tensors, at_tensor **y_out) {
    at_ctx *ctx = run->ctx;
    at_ctx_reset(ctx);
    at_rng_seed(at_ctx_rng(ctx), run->seed + 1000u); /* same dropout mask every run */
    at_tensor *inputs[GC_MAX_INPUTS];
    for (int i = 0; i < run->n_inputs; i++) {
        gc_input *in = &run->inputs[i];
        at_status s = at_tensor_from(ctx, &inputs[i], in->ndim, in->shape, in->values);
        if (s != AT_OK) return s;
        s = at_tensor_require_grad(ctx, inputs[i]);
        if (s != AT_OK) return s;
        if (tensors) tensors[i] = inputs[i];
    }
    at_tensor *y = NULL;
    at_status s = run->build(ctx, inputs, run->user, &y);
    if (s != AT_OK) return s;
    if (!run->direction) {
        at_rng rng;
        at_rng_seed(&rng, run->seed);
        run->out_size = y->size;
        run->direction = malloc(y->size * sizeof(float));
        if (!run->direction) return AT_ERR_MEMORY;
        fill_uniform(run->direction, y->size, -1.0f, 1.0f, &rng);
    } else if (y->size != run->out_size) {
        return at_ctx_fail(ctx, AT_ERR_STATE, "gradcheck: output size changed between runs");
    }
    double sum = 0.0;
    for (size_t i = 0; i < y->size; i++) sum += (double)y->data[i] * run->direction[i];
    *loss = sum;
    if (y_out) *y_out = y;
    return AT_OK;
}

/* Central difference of L with respect to *value. */
static at_status gc_numeric(gc_run *run, float *value, double h, double *slope) {
    float saved = *value;
    double plus, minus;
    *value = saved + (float)h;
    double h_plus = (double)*value - saved;
    at_status s = gc_evaluate(run, &plus, NULL, NULL);
    *value = saved - (float)h;
    double h_minus = saved - (double)*value;
    if (s == AT_OK) s = gc_evaluate(run, &minus, NULL, NULL);
    *value = saved;
    if (s == AT_OK) *slope = (plus - minus) / (h_plus + h_minus);
    return s;
}

typedef struct gc_tally {
    int bad;
    double worst;
    const char *worst_what;
    size_t worst_index;
} gc_tally;

static void gc_compare(gc_tally *tally, const gc_options *o, const char *case_name,
                       const char *what, size_t index, double analytic, double numeric) {
    double err = fabs(analytic - numeric);
    double scale = fmax(fabs(analytic), fabs(numeric));
    int ok = isfinite(analytic) && err <= o->atol + o->rtol * scale;
    if (!ok) {
        if (tally->bad < 6)
            fprintf(stderr, "  %s: d/d %s[%zu]: tape %.7g, finite difference %.7g\n", case_name,
                    what, index, analytic, numeric);
        tally->bad++;
    }
    if (!isfinite(analytic)) err = INFINITY;
    if (err >= tally->worst) {
        tally->worst = err;
        tally->worst_what = what;
        tally->worst_index = index;
    }
}

/* Which elements of an n-element tensor to probe. */
static size_t gc_probes(size_t n, size_t *out, at_rng *rng) {
    if (n <= GC_MAX_PROBES) {
        for (size_t i = 0; i < n; i++) out[i] = i;
        return n;
    }
    out[0] = 0;
    out[1] = n - 1;
    for (size_t i = 2; i < GC_MAX_PROBES; i++) out[i] = at_rng_below(rng, (uint32_t)n);
    return GC_MAX_PROBES;
}

int gc_check(const char *name, int n_inputs, gc_input *inputs, at_params *params,
             gc_build_fn build, void *user, const gc_options *options) {
    gc_options o = options ? *options : (gc_options){0};
    if (o.step == 0) o.step = 1e-2;
    if (o.atol == 0) o.atol = 2e-3;
    if (o.rtol == 0) o.rtol = 2e-2;
    test_checks++;

    gc_run run = {.n_inputs = n_inputs, .inputs = inputs, .build = build, .user = user,
                  .seed = o.seed};
    at_ctx_options copts = {.num_threads = 1, .seed = o.seed};
    if (n_inputs > GC_MAX_INPUTS || at_ctx_create(&run.ctx, &copts) != AT_OK) {
        fprintf(stderr, "FAIL %s: gradcheck could not start\n", name);
        test_failures++;
        return 0;
    }
    gc_tally tally = {0, 0.0, "", 0};
    float *analytic[GC_MAX_INPUTS] = {0};
    float **param_grads = NULL;
    int n_params = at_params_count(params);
    at_status s = AT_OK;

    /* 1. the tape's gradients */
    at_tensor *tensors[GC_MAX_INPUTS];
    at_tensor *y = NULL;
    double loss;
    if (params) at_params_zero_grad(params);
    s = gc_evaluate(&run, &loss, tensors, &y);
    if (s == AT_OK) s = at_backward_seeded(run.ctx, y, run.direction);
    for (int i = 0; s == AT_OK && i < n_inputs; i++) {
        analytic[i] = malloc(tensors[i]->size * sizeof(float));
        if (!analytic[i]) s = AT_ERR_MEMORY;
        else memcpy(analytic[i], tensors[i]->grad, tensors[i]->size * sizeof(float));
    }
    if (s == AT_OK && n_params) {
        param_grads = calloc((size_t)n_params, sizeof *param_grads);
        for (int p = 0; p < n_params; p++) {
            at_tensor *t = at_params_get(params, p);
            param_grads[p] = malloc(t->size * sizeof(float));
            memcpy(param_grads[p], t->grad, t->size * sizeof(float));
        }
    }

    /* 2. finite differences, in inference mode (no tape) */
    at_ctx_set_grad(run.ctx, 0);
    at_rng probe_rng;
    at_rng_seed(&probe_rng, o.seed + 7u);
    size_t probes[GC_MAX_PROBES];
    for (int i = 0; s == AT_OK && i < n_inputs; i++) {
        size_t n = ati_shape_size(inputs[i].ndim, inputs[i].shape);
        size_t count = gc_probes(n, probes, &probe_rng);
        for (size_t k = 0; s == AT_OK && k < count; k++) {
            double slope = 0;
            s = gc_numeric(&run, &inputs[i].values[probes[k]], o.step, &slope);
            if (s == AT_OK)
                gc_compare(&tally, &o, name, inputs[i].name, probes[k], analytic[i][probes[k]],
                           slope);
        }
    }
    for (int p = 0; s == AT_OK && p < n_params; p++) {
        at_tensor *t = at_params_get(params, p);
        size_t count = gc_probes(t->size, probes, &probe_rng);
        for (size_t k = 0; s == AT_OK && k < count; k++) {
            double slope = 0;
            s = gc_numeric(&run, &t->data[probes[k]], o.step, &slope);
            if (s == AT_OK)
                gc_compare(&tally, &o, name, t->name, probes[k], param_grads[p][probes[k]],
                           slope);
        }
    }

    int ok = 1;
    if (s != AT_OK) {
        fprintf(stderr, "FAIL %s: gradcheck stopped: %s: %s\n", name, at_status_name(s),
                at_ctx_error(run.ctx));
        ok = 0;
    } else if (tally.bad) {
        fprintf(stderr, "FAIL %s: %d gradients differ; largest error %.3g at d/d %s[%zu]\n",
                name, tally.bad, tally.worst, tally.worst_what, tally.worst_index);
        ok = 0;
    }
    if (!ok) test_failures++;
    for (int i = 0; i < n_inputs; i++) free(analytic[i]);
    for (int p = 0; param_grads && p < n_params; p++) free(param_grads[p]);
    free(param_grads);
    free(run.direction);
    at_ctx_free(run.ctx);
    return ok;
}

void test_write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

void test_write_safetensors(const char *path, const char *header, const void *data,
                            size_t data_bytes) {
    size_t n = strlen(header);
    unsigned char *buf = malloc(8 + n + data_bytes + 1);
    if (!buf) {
        fprintf(stderr, "cannot write %s: out of memory\n", path);
        exit(2);
    }
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, n);
    if (data_bytes) memcpy(buf + 8 + n, data, data_bytes);
    test_write_file(path, buf, 8 + n + data_bytes);
    free(buf);
}

unsigned char *test_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    *n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    return buf;
}

void test_remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) test_remove_tree(path);
        else unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void test_enter_scratch_dir(char *templ) {
    if (!mkdtemp(templ) || chdir(templ) != 0) {
        perror("cannot make a scratch directory");
        exit(2);
    }
}

void test_leave_scratch_dir(const char *dir) {
    if (chdir("..") == 0) test_remove_tree(dir);
}

/* ------------------------------------------------------------ test masks */

const char *const mask_names[5] = {"none", "padding", "full", "causal", "padding+causal"};


/* Padding: row 0 keeps everything, row 1 (if any) nothing, the others a random
 * length >= 1. Full: one row per score row (score_rows of them), random, with
 * row 0 empty and the last row full. */
void make_mask(test_mask *m, int kind, int B, int score_rows, int tk, at_rng *rng) {
    memset(m, 0, sizeof *m);
    m->kind = kind;
    if (kind == MASK_NONE) return;
    if ((size_t)(score_rows > B ? score_rows : B) * tk > sizeof m->keep) {
        CHECK(0, "make_mask: %d rows of %d do not fit the test's buffer", score_rows, tk);
        m->kind = MASK_NONE;
        return;
    }
    m->mask.causal = kind == MASK_CAUSAL || kind == MASK_PADDING_CAUSAL;
    if (kind == MASK_PADDING || kind == MASK_PADDING_CAUSAL) {
        for (int b = 0; b < B; b++) {
            int len = b == 0 ? tk : b == 1 ? 0 : 1 + (int)at_rng_below(rng, (uint32_t)tk);
            for (int j = 0; j < tk; j++)
                m->keep[b * tk + j] = j < len;
        }
        m->mask.keep = m->keep;
        m->mask.rows = B;
    } else if (kind == MASK_FULL) {
        for (int r = 0; r < score_rows; r++)
            for (int j = 0; j < tk; j++)
                m->keep[r * tk + j] = r == 0                ? 0
                                      : r == score_rows - 1 ? 1
                                                            : at_rng_uniform(rng) < 0.7f;
        m->mask.keep = m->keep;
        m->mask.rows = score_rows;
    }
}

const at_attn_mask *mask_of(const test_mask *m) {
    return m->kind == MASK_NONE ? NULL : &m->mask;
}

/* ------------------------------------------------- a trainer's OUT dirs */

char *test_metrics_without_timings(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    size_t n;
    unsigned char *bytes = test_read_file(path, &n);
    if (!bytes) return NULL;
    char *text = malloc(n + 1);
    memcpy(text, bytes, n);
    text[n] = '\0';
    free(bytes);
    char *out = malloc(n + 1), *w = out;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *cut = strstr(line, ", \"seconds\"");
        size_t len = cut ? (size_t)(cut - line) : strlen(line);
        memcpy(w, line, len);
        w += len;
        *w++ = '\n';
    }
    *w = '\0';
    free(text);
    return out;
}

int test_same_file(const char *a_dir, const char *b_dir, const char *name) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s", a_dir, name);
    snprintf(b, sizeof b, "%s/%s", b_dir, name);
    size_t na, nb;
    unsigned char *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

void test_check_same_run(const char *whole, const char *other, const char *what) {
    static const char *names[] = {"last.safetensors", "last.optim.safetensors",
                                  "model.safetensors"};
    for (int i = 0; i < 3; i++)
        CHECK(test_same_file(whole, other, names[i]), "%s: %s differs from the unbroken run",
              what, names[i]);
    char *a = test_metrics_without_timings(whole), *b = test_metrics_without_timings(other);
    CHECK(a && b && !strcmp(a, b), "%s: metrics.jsonl differs:\n--- unbroken\n%s--- resumed\n%s",
          what, a ? a : "(none)", b ? b : "(none)");
    free(a);
    free(b);
}
