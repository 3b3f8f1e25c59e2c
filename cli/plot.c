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
 *
 * A JSON-lines file of several maps (`attend translate --weights json` with
 * several inputs writes one object per line) is drawn side by side in one
 * figure with at_plot_compare; --show draws every map.
 *
 * The input is read once, whole and capped (so /dev/zero ends with a
 * message), to tell its kind; each line of a JSON-lines file is parsed
 * from memory. Every output is tried, and every one that fails is
 * reported.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "cli.h"
#include "files.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_OUTPUTS = 16, MAX_MAPS = 64 /* at_plot_compare's limit */ };
/* The input is read whole, at most AT_VIZ_MAX_FILE_BYTES, or
 * AT_VIZ_MAX_METRICS_BYTES for a .jsonl file (at_plot_metrics's limit). */

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
            "`attend translate --weights`), or the training curves of a metrics file.\n"
            "A file of several maps, one JSON object per line (`attend translate --weights\n"
            "json` with several inputs), is drawn as one figure with a panel per map (at\n"
            "most %d; --title sets its heading); --show draws every map.\n\n"
            "  -o, --output OUT   write a figure; .png, .svg, .pdf or .html (repeatable)\n"
            "  --show             draw the map in the terminal (the default without -o);\n"
            "                     colour blocks on a terminal, ASCII shades otherwise or\n"
            "                     when NO_COLOR is set\n"
            "  --bertviz OUT      export the map as JSON for bertviz-style tools\n"
            "  --title TEXT       title of a training-curves or several-maps figure\n",
            MAX_MAPS);
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

/* The first line of text (at most 4 KB of it), NUL-terminated in out. */
static void first_line(const char *text, size_t len, char out[4096]) {
    size_t n = 0;
    while (n < len && n < 4095 && text[n] != '\n')
        n++;
    memcpy(out, text, n);
    out[n] = 0;
}

/* A metrics file: ends in .jsonl and its first line has a "step" (or is
 * not a map: no "weights"). */
static int is_metrics(const char *input, const char *text, size_t len) {
    if (!ends_with(input, ".jsonl")) return 0;
    char first[4096];
    first_line(text, len, first);
    return strstr(first, "\"weights\"") == NULL || strstr(first, "\"step\"") != NULL;
}

/* Each -o in turn; every failure is reported, and the others still tried. */
static int plot_metrics(at_ctx *ctx, const plot_args *a) {
    if (a->n_outputs == 0) {
        fprintf(stderr, "attend plot: a metrics file needs -o OUT.png (or .svg, .pdf)\n");
        return 2;
    }
    int code = 0;
    for (int i = 0; i < a->n_outputs; i++) {
        if (at_plot_metrics(ctx, a->input, a->outputs[i], a->title) != AT_OK)
            code = fail(ctx);
        else
            printf("wrote %s\n", a->outputs[i]);
    }
    return code;
}

/* --show: every map in the terminal, control characters made harmless by
 * at_plot_terminal. */
static int show_maps(at_ctx *ctx, int n, at_attention_map *const *maps) {
    at_term_mode mode = at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
                                         getenv("COLORTERM"), getenv("TERM"));
    for (int i = 0; i < n; i++)
        if (at_plot_terminal(ctx, maps[i], stdout, mode) != AT_OK) return fail(ctx);
    return 0;
}

static int plot_map(at_ctx *ctx, const plot_args *a) {
    at_attention_map *map;
    if (at_attention_map_load(ctx, &map, a->input) != AT_OK) return fail(ctx);
    int code = 0;
    for (int i = 0; i < a->n_outputs; i++) {
        if (at_plot_map(ctx, map, a->outputs[i]) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->outputs[i]);
    }
    if (a->bertviz) {
        if (at_attention_map_export_bertviz(ctx, map, a->bertviz) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->bertviz);
    }
    if (a->show || (a->n_outputs == 0 && !a->bertviz)) code |= show_maps(ctx, 1, &map);
    at_attention_map_free(map);
    return code;
}

/* ---------------------------------------------- several maps, JSON lines */

typedef struct map_list {
    at_attention_map *maps[MAX_MAPS];
    int n;
} map_list;

static void map_list_free(map_list *l) {
    for (int i = 0; i < l->n; i++) at_attention_map_free(l->maps[i]);
    l->n = 0;
}

/* Non-blank lines of text, each parsed as a map into l; a message names
 * the input and the line. */
static at_status load_lines(at_ctx *ctx, const char *input, const char *text, size_t len,
                            map_list *l) {
    long line_no = 0;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len, k = start;
        line_no++;
        while (k < end && strchr(" \t\r", text[k]) && text[k])
            k++;
        if (k < end) { /* not blank */
            if (l->n == MAX_MAPS)
                return at_ctx_fail(ctx, AT_ERR_ARGUMENT,
                                   "%s: more than %d maps; one figure "
                                   "holds at most %d (split the file)",
                                   input, MAX_MAPS, MAX_MAPS);
            char name[4200];
            snprintf(name, sizeof name, "%s line %ld", input, line_no);
            AT_TRY(at_attention_map_parse(ctx, &l->maps[l->n], text + start, end - start, name));
            l->n++;
        }
        start = end + 1;
    }
    if (l->n == 0) return at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the file has no maps", input);
    return AT_OK;
}

/* Is the text JSON lines: two or more lines that each start with '{'? A
 * weights file written by at_attention_map_save spans several lines too,
 * but only its first starts with '{'. */
static int is_json_lines(const char *text, size_t len) {
    int objects = 0, at_start = 1;
    for (size_t i = 0; i < len && objects < 2; i++) {
        char c = text[i];
        if (c == '\n') at_start = 1;
        else if (at_start && c == '{') objects++, at_start = 0;
        else if (!c || !strchr(" \t\r", c))
            at_start = 0;
    }
    return objects >= 2;
}

static int plot_lines(at_ctx *ctx, const plot_args *a, const char *text, size_t len) {
    if (a->bertviz) {
        fprintf(stderr, "attend plot: --bertviz exports one map; %s holds one per line (keep "
                        "one, e.g. sed -n 1p)\n", a->input);
        return 2;
    }
    map_list l = {.n = 0};
    if (load_lines(ctx, a->input, text, len, &l) != AT_OK) {
        map_list_free(&l);
        return fail(ctx);
    }
    int code = 0;
    for (int i = 0; i < a->n_outputs; i++) {
        at_status s = l.n == 1 ? at_plot_map(ctx, l.maps[0], a->outputs[i])
                               : at_plot_compare(ctx, l.n, (const at_attention_map *const *)l.maps,
                                                 a->title, a->outputs[i]);
        if (s != AT_OK) code = fail(ctx);
        else printf("wrote %s (%d map%s)\n", a->outputs[i], l.n, l.n == 1 ? "" : "s");
    }
    if (a->show || a->n_outputs == 0) code |= show_maps(ctx, l.n, l.maps);
    map_list_free(&l);
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
    for (int i = 0; i < a->n_outputs; i++) {
        if (at_plot_doc(ctx, doc, a->outputs[i]) != AT_OK) code = fail(ctx);
        else printf("wrote %s\n", a->outputs[i]);
    }
    at_attention_doc_free(doc);
    return code;
}

/* Which kind of input, from its text: metrics, several maps, or one
 * weights file (read again, strictly, by the library). */
static int plot_input(at_ctx *ctx, const plot_args *a) {
    char *text;
    size_t len;
    int jsonl = ends_with(a->input, ".jsonl");
    if (atf_read(ctx, a->input, jsonl ? AT_VIZ_MAX_METRICS_BYTES : AT_VIZ_MAX_FILE_BYTES,
                 jsonl ? "a metrics or weights file" : "a weights file", &text, &len) != AT_OK)
        return fail(ctx);
    int code;
    if (is_json_lines(text, len) && !is_metrics(a->input, text, len)) {
        code = plot_lines(ctx, a, text, len);
        free(text);
        return code;
    }
    free(text);
    if (jsonl) return plot_metrics(ctx, a);
    at_viz_kind kind;
    if (at_viz_file_kind(ctx, a->input, &kind) != AT_OK) return fail(ctx);
    return kind == AT_VIZ_DOC ? plot_doc(ctx, a) : plot_map(ctx, a);
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
    code = plot_input(ctx, &a);
    at_ctx_free(ctx);
    return code;
}
