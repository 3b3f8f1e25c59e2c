/*
 * plot.c - `attend plot`: draw a saved weights file (or training curves).
 *
 *   attend plot WEIGHTS.json [-o OUT]... [--show] [--bertviz OUT.json]
 *   attend plot METRICS.jsonl -o curves.png [-o curves.svg] [--title T]
 *
 * A weights file holds an attention map or a document (static attention,
 * see attend.h). Each -o writes one figure; its extension picks the
 * format: .png, .svg, .pdf or .html. --show draws a map in the terminal
 * (coloured when stdout is a terminal and NO_COLOR is unset); with no -o,
 * --show is the default. A .jsonl input is a metrics file: loss and
 * accuracy against step.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_OUTPUTS = 16 };

typedef struct plot_args {
    const char *input;
    const char *outputs[MAX_OUTPUTS];
    int n_outputs;
    int show;
    const char *bertviz;
    const char *title;
} plot_args;

static void plot_usage(FILE *out) {
    fprintf(out,
            "usage: attend plot WEIGHTS.json [-o OUT]... [--show] [--bertviz OUT.json]\n"
            "       attend plot METRICS.jsonl -o OUT [-o OUT]... [--title TEXT]\n\n"
            "Draw a saved attention map or document (attend's weights file, as written by\n"
            "`attend translate --weights`), or the training curves of a metrics file.\n\n"
            "  -o, --output OUT   write a figure; .png, .svg, .pdf or .html (repeatable)\n"
            "  --show             draw the map in the terminal (the default without -o);\n"
            "                     colour blocks on a terminal, ASCII shades otherwise or\n"
            "                     when NO_COLOR is set\n"
            "  --bertviz OUT      export the map as JSON for bertviz-style tools\n"
            "  --title TEXT       title of a training-curves figure\n");
}

/* 0 on success, else the exit code. */
static int parse_args(int argc, char **argv, plot_args *a) {
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            plot_usage(stdout);
            return -1;
        }
        int has_value = i + 1 < argc;
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (!has_value || a->n_outputs == MAX_OUTPUTS) {
                fprintf(stderr, "attend plot: %s needs a file name (at most %d)\n", arg,
                        MAX_OUTPUTS);
                return 2;
            }
            a->outputs[a->n_outputs++] = argv[++i];
        } else if (!strcmp(arg, "--show")) {
            a->show = 1;
        } else if (!strcmp(arg, "--bertviz") || !strcmp(arg, "--title")) {
            if (!has_value) {
                fprintf(stderr, "attend plot: %s needs a value\n", arg);
                return 2;
            }
            *(arg[2] == 'b' ? &a->bertviz : &a->title) = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "attend plot: unknown option '%s'\n", arg);
            return 2;
        } else if (!a->input) {
            a->input = arg;
        } else {
            fprintf(stderr, "attend plot: one input file only ('%s'?)\n", arg);
            return 2;
        }
    }
    if (!a->input) {
        plot_usage(stderr);
        return 2;
    }
    return 0;
}

static int fail(at_ctx *ctx) {
    fprintf(stderr, "attend plot: %s\n", at_ctx_error(ctx));
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int plot_metrics(at_ctx *ctx, const plot_args *a) {
    if (a->n_outputs == 0) {
        fprintf(stderr, "attend plot: a metrics file needs -o OUT.png (or .svg, .pdf)\n");
        return 2;
    }
    for (int i = 0; i < a->n_outputs; i++) {
        if (at_plot_metrics(ctx, a->input, a->outputs[i], a->title) != AT_OK) return fail(ctx);
        printf("wrote %s\n", a->outputs[i]);
    }
    return 0;
}

static int plot_map(at_ctx *ctx, const plot_args *a) {
    at_attention_map *map;
    if (at_attention_map_load(ctx, &map, a->input) != AT_OK) return fail(ctx);
    int code = 0;
    for (int i = 0; i < a->n_outputs && !code; i++) {
        if (at_plot_map(ctx, map, a->outputs[i]) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->outputs[i]);
    }
    if (!code && a->bertviz) {
        if (at_attention_map_export_bertviz(ctx, map, a->bertviz) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->bertviz);
    }
    if (!code && (a->show || (a->n_outputs == 0 && !a->bertviz))) {
        at_term_mode mode = at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
                                             getenv("COLORTERM"), getenv("TERM"));
        if (at_plot_terminal(ctx, map, stdout, mode) != AT_OK) code = fail(ctx);
    }
    at_attention_map_free(map);
    return code;
}

static int plot_doc(at_ctx *ctx, const plot_args *a) {
    if (a->n_outputs == 0 || a->show || a->bertviz) {
        fprintf(stderr, "attend plot: a document is drawn with -o OUT.html (or .png, .svg, "
                        ".pdf); --show and --bertviz are for attention maps\n");
        return 2;
    }
    at_attention_doc *doc;
    if (at_attention_doc_load(ctx, &doc, a->input) != AT_OK) return fail(ctx);
    int code = 0;
    for (int i = 0; i < a->n_outputs && !code; i++) {
        if (at_plot_doc(ctx, doc, a->outputs[i]) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->outputs[i]);
    }
    at_attention_doc_free(doc);
    return code;
}

int plot_main(int argc, char **argv) {
    plot_args a;
    int code = parse_args(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) {
        fprintf(stderr, "attend plot: out of memory\n");
        return 1;
    }
    if (ends_with(a.input, ".jsonl")) {
        code = plot_metrics(ctx, &a);
    } else {
        at_viz_kind kind;
        if (at_viz_file_kind(ctx, a.input, &kind) != AT_OK) code = fail(ctx);
        else code = kind == AT_VIZ_DOC ? plot_doc(ctx, &a) : plot_map(ctx, &a);
    }
    at_ctx_free(ctx);
    return code;
}
