/*
 * lm_figures.c - `attend lm attention | span | curves`: the language
 * models' three figures. The library computes (at_lm_attention_of,
 * at_lm_attention_span, the runs' metrics files) and libattend-viz draws
 * (at_plot_lm_attention, at_plot_attention_span, at_plot_runs); this file
 * parses, loads and prints.
 */
#define _POSIX_C_SOURCE 200809L
#include "lm.h"

#include <stdlib.h>
#include <string.h>

/* MODEL... and repeated --out FILE options (and --label for curves). */
typedef struct figure_args {
    const char *items[AT_VIZ_MAX_SERIES];
    const char *labels[AT_VIZ_MAX_SERIES];
    const char *outs[4];
    int n_items, n_labels, n_outs;
    const char *passage, *data, *title;
    long max_chars;
} figure_args;

static int parse_figure_args(const char *command, int argc, char **argv, figure_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return -1;
        if (arg[0] != '-' || !arg[1]) {
            if (a->n_items == AT_VIZ_MAX_SERIES) {
                fprintf(stderr, "attend lm %s: at most %d models or runs\n", command,
                        AT_VIZ_MAX_SERIES);
                return 0;
            }
            a->items[a->n_items++] = arg;
            continue;
        }
        if (!value) {
            fprintf(stderr, "attend lm %s: %s needs a value (or is unknown)\n", command, arg);
            return 0;
        }
        i++;
        if (!strcmp(arg, "--out") && a->n_outs < 4)
            a->outs[a->n_outs++] = value;
        else if (!strcmp(arg, "--label") && a->n_labels < AT_VIZ_MAX_SERIES)
            a->labels[a->n_labels++] = value;
        else if (!strcmp(arg, "--passage"))
            a->passage = value;
        else if (!strcmp(arg, "--data"))
            a->data = value;
        else if (!strcmp(arg, "--title"))
            a->title = value;
        else if (!strcmp(arg, "--chars")) {
            if (!cli_parse_int(arg, value, 0, 1L << 40, &a->max_chars)) return 0;
        } else {
            fprintf(stderr, "attend lm %s: unknown option '%s'\n", command, arg);
            return 0;
        }
    }
    if (a->n_items == 0 || a->n_outs == 0) {
        fprintf(stderr, "attend lm %s: give %s and at least one --out FILE\n", command,
                !strcmp(command, "curves") ? "the runs' folders" : "the model(s)");
        return 0;
    }
    return 1;
}

/* Each --out of the language model's attention; 1 if all were written. */
static int draw_attention(at_ctx *ctx, const figure_args *a, const at_lm_attention *att,
                          const char *title) {
    int ok = 1;
    for (int i = 0; i < a->n_outs; i++) {
        at_status s = at_plot_lm_attention(ctx, att, title, a->outs[i]);
        if (s != AT_OK)
            ok = 0, cli_fail("lm attention", ctx, s);
        else
            fprintf(stderr, "wrote %s\n", a->outs[i]);
    }
    return ok;
}

int lm_attention_main(int argc, char **argv) {
    figure_args a = {.passage = "Call me Ishmael. Some years ago, never mind how long"};
    int parsed = parse_figure_args("attention", argc, argv, &a);
    if (parsed <= 0) return parsed < 0 ? lm_usage(stdout) : 2;
    at_ctx *ctx = cli_context("lm attention", 1, 1);
    if (!ctx) return 1;
    at_lm *m = lm_load_model("lm attention", ctx, a.items[0]);
    at_lm_attention att = {0};
    int code = 1;
    at_status s = m ? at_lm_attention_of(ctx, m, a.passage, &att) : AT_ERR_ARGUMENT;
    if (m && s != AT_OK) cli_fail("lm attention", ctx, s);
    if (s == AT_OK) {
        const at_lm_config *c = at_lm_get_config(m);
        char title[256];
        if (c->kind == AT_LM_TRANSFORMER)
            snprintf(title, sizeof title, "%s: transformer %d x %d x %d, every layer and head",
                     a.title ? a.title : "attend lm", c->layers, c->heads, c->width);
        else
            snprintf(title, sizeof title, "%s: %s, attention over the last %d outputs",
                     a.title ? a.title : "attend lm", at_lm_kind_name(c->kind), c->memory);
        code = draw_attention(ctx, &a, &att, title) ? 0 : 1;
    }
    at_lm_attention_clear(&att);
    at_lm_free(m);
    at_ctx_free(ctx);
    return code;
}

/* The span of each model on the validation text; padded to the longest memory. */
int lm_span_main(int argc, char **argv) {
    figure_args a = {.data = LM_BOOK, .max_chars = 20000};
    int parsed = parse_figure_args("span", argc, argv, &a);
    if (parsed <= 0) return parsed < 0 ? lm_usage(stdout) : 2;
    at_ctx *ctx = cli_context("lm span", 1, 1);
    if (!ctx) return 1;
    char buf[4096];
    const char *path = lm_book_path(a.data, buf, sizeof buf);
    double mass[AT_VIZ_MAX_SERIES * AT_VIZ_MAX_SPAN] = {0}, one[AT_LM_MAX_CONTEXT];
    const char *names[AT_VIZ_MAX_SERIES];
    int L = 0, code = 0;
    double rows[AT_VIZ_MAX_SERIES][AT_VIZ_MAX_SPAN];
    int memories[AT_VIZ_MAX_SERIES];
    for (int i = 0; i < a.n_items && code == 0; i++) {
        at_lm *m = lm_load_model("lm span", ctx, a.items[i]);
        at_lm_data d = {0};
        at_status s = m ? at_lm_data_read(ctx, path, AT_LM_VALID_PERCENT, at_lm_vocab(m), &d) : AT_ERR_ARGUMENT;
        if (m && s != AT_OK) lm_data_failed("lm span", ctx, s, a.data);
        if (s == AT_OK && at_lm_get_config(m)->memory > AT_VIZ_MAX_SPAN) {
            fprintf(stderr, "attend lm span: %s attends over %d outputs; the figure shows at most %d\n",
                    a.items[i], at_lm_get_config(m)->memory, AT_VIZ_MAX_SPAN);
            s = AT_ERR_ARGUMENT;
        } else if (s == AT_OK) {
            s = at_lm_attention_span(ctx, m, d.valid, d.valid_len, (size_t)a.max_chars, one);
            if (s != AT_OK) cli_fail("lm span", ctx, s);
        }
        if (s == AT_OK) {
            int mem = at_lm_get_config(m)->memory;
            memories[i] = mem;
            for (int k = 0; k < mem; k++) rows[i][k] = one[k];
            if (mem > L) L = mem;
            names[i] = a.n_labels > i ? a.labels[i] : at_lm_kind_name(at_lm_get_config(m)->kind);
            printf("%s:", names[i]);
            for (int k = 0; k < mem; k++) printf(" %.3f", one[k]);
            printf("  (mean weight on the output 1 .. %d steps back)\n", mem);
        }
        if (s != AT_OK) code = 1;
        at_lm_data_clear(&d);
        at_lm_free(m);
    }
    for (int i = 0; i < a.n_items && code == 0; i++)
        for (int k = 0; k < memories[i]; k++) mass[i * L + k] = rows[i][k];
    for (int i = 0; i < a.n_outs && code == 0; i++) {
        at_status s = at_plot_attention_span(ctx, a.n_items, names, mass, L,
                                             a.title ? a.title : "attention mass by distance",
                                             a.outs[i]);
        if (s != AT_OK)
            code = cli_fail("lm span", ctx, s);
        else
            fprintf(stderr, "wrote %s\n", a.outs[i]);
    }
    at_ctx_free(ctx);
    return code;
}

/* Runs' metrics against wall-clock time: DIR... (DIR/metrics.jsonl). */
int lm_curves_main(int argc, char **argv) {
    figure_args a = {0};
    int parsed = parse_figure_args("curves", argc, argv, &a);
    if (parsed <= 0) return parsed < 0 ? lm_usage(stdout) : 2;
    if (a.n_labels && a.n_labels != a.n_items) {
        fprintf(stderr, "attend lm curves: %d --label for %d runs\n", a.n_labels, a.n_items);
        return 2;
    }
    at_ctx *ctx = cli_context("lm curves", 1, 1);
    if (!ctx) return 1;
    char paths[AT_VIZ_MAX_SERIES][4096];
    const char *metrics[AT_VIZ_MAX_SERIES];
    for (int i = 0; i < a.n_items; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/metrics.jsonl", a.items[i]);
        metrics[i] = paths[i];
    }
    int code = 0;
    for (int i = 0; i < a.n_outs && code == 0; i++) {
        at_status s = at_plot_runs(ctx, a.n_items, metrics, a.n_labels ? a.labels : NULL,
                                   a.title ? a.title : "training and validation loss",
                                   a.outs[i]);
        if (s != AT_OK)
            code = cli_fail("lm curves", ctx, s);
        else
            fprintf(stderr, "wrote %s\n", a.outs[i]);
    }
    at_ctx_free(ctx);
    return code;
}

