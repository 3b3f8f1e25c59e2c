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
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_OUTPUTS = 16, MAX_MAPS = 64 /* at_plot_compare's limit */ };

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

/* A metrics file: ends in .jsonl and its first line has a "step". */
static int is_metrics(const char *input) {
    if (!ends_with(input, ".jsonl")) return 0;
    FILE *f = fopen(input, "rb");
    if (!f) return 1; /* plot_metrics reports it */
    char first[4096] = "";
    if (!fgets(first, sizeof first, f)) first[0] = 0;
    fclose(f);
    return strstr(first, "\"weights\"") == NULL || strstr(first, "\"step\"") != NULL;
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

/* ---------------------------------------------- several maps, JSON lines */

typedef struct map_list {
    at_attention_map *maps[MAX_MAPS];
    int n;
} map_list;

static void map_list_free(map_list *l) {
    for (int i = 0; i < l->n; i++) at_attention_map_free(l->maps[i]);
    l->n = 0;
}

/* Load one line (len bytes) through a temporary file, so that it is checked
 * as strictly as a weights file; the message names the input and the line. */
static at_status load_line(at_ctx *ctx, const char *input, long line_no, const char *text,
                           size_t len, at_attention_map **out) {
    const char *dir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/attend-plot-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd), remove(tmp);
        return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot make a temporary file in %s", input,
                           dir && *dir ? dir : "/tmp");
    }
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    at_status s = ok ? at_attention_map_load(ctx, out, tmp)
                     : at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot write %s", input, tmp);
    remove(tmp);
    if (s != AT_OK) {
        /* Name the user's file and line rather than the temporary file. */
        char message[1024];
        const char *e = at_ctx_error(ctx), *at = strstr(e, tmp);
        snprintf(message, sizeof message, "%s", at ? at + strlen(tmp) : e);
        s = at_ctx_fail(ctx, s, "%s line %ld%s%s", input, line_no, at ? "" : ": ", message);
    }
    return s;
}

/* Non-blank lines of the file, each loaded as a map into l. */
static at_status load_lines(at_ctx *ctx, const char *input, map_list *l) {
    FILE *f = fopen(input, "rb");
    if (!f) return at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot open", input);
    char *line = NULL;
    size_t cap = 0, len = 0;
    long line_no = 0;
    at_status s = AT_OK;
    int c = 0;
    while (s == AT_OK && c != EOF) {
        len = 0;
        while ((c = getc(f)) != EOF && c != '\n') {
            if (len + 1 >= cap) {
                char *grown = realloc(line, cap = cap ? 2 * cap : 4096);
                if (!grown) {
                    s = at_ctx_fail(ctx, AT_ERR_MEMORY, "%s: out of memory", input);
                    break;
                }
                line = grown;
            }
            line[len++] = (char)c;
        }
        line_no++;
        if (s != AT_OK) break;
        size_t k = 0;
        while (k < len && strchr(" \t\r", line[k])) k++;
        if (k == len) continue; /* blank */
        if (l->n == MAX_MAPS) {
            s = at_ctx_fail(ctx, AT_ERR_ARGUMENT, "%s: more than %d maps; one figure holds at "
                            "most %d (split the file)", input, MAX_MAPS, MAX_MAPS);
            break;
        }
        s = load_line(ctx, input, line_no, line, len, &l->maps[l->n]);
        if (s == AT_OK) l->n++;
    }
    if (s == AT_OK && ferror(f)) s = at_ctx_fail(ctx, AT_ERR_IO, "%s: cannot read", input);
    fclose(f);
    free(line);
    if (s == AT_OK && l->n == 0)
        s = at_ctx_fail(ctx, AT_ERR_FORMAT, "%s: the file has no maps", input);
    return s;
}

/* Is the file JSON lines: two or more lines that each start with '{'? A
 * weights file written by at_attention_map_save spans several lines too,
 * but only its first starts with '{'. */
static int is_json_lines(const char *input) {
    FILE *f = fopen(input, "rb");
    if (!f) return 0;
    int objects = 0, at_start = 1, c;
    while ((c = getc(f)) != EOF && objects < 2) {
        if (c == '\n') at_start = 1;
        else if (at_start && c == '{') objects++, at_start = 0;
        else if (!strchr(" \t\r", c)) at_start = 0;
    }
    fclose(f);
    return objects >= 2;
}

static int plot_lines(at_ctx *ctx, const plot_args *a) {
    if (a->bertviz) {
        fprintf(stderr, "attend plot: --bertviz exports one map; %s holds one per line (keep "
                        "one, e.g. sed -n 1p)\n", a->input);
        return 2;
    }
    map_list l = {.n = 0};
    if (load_lines(ctx, a->input, &l) != AT_OK) {
        map_list_free(&l);
        return fail(ctx);
    }
    int code = 0;
    for (int i = 0; i < a->n_outputs && !code; i++) {
        at_status s = l.n == 1 ? at_plot_map(ctx, l.maps[0], a->outputs[i])
                               : at_plot_compare(ctx, l.n, (const at_attention_map *const *)l.maps,
                                                 a->title, a->outputs[i]);
        if (s != AT_OK) code = fail(ctx);
        else printf("wrote %s (%d map%s)\n", a->outputs[i], l.n, l.n == 1 ? "" : "s");
    }
    if (!code && (a->show || a->n_outputs == 0)) {
        at_term_mode mode = at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
                                             getenv("COLORTERM"), getenv("TERM"));
        for (int i = 0; i < l.n && !code; i++)
            if (at_plot_terminal(ctx, l.maps[i], stdout, mode) != AT_OK) code = fail(ctx);
    }
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
    if (is_json_lines(a.input) && !is_metrics(a.input)) {
        code = plot_lines(ctx, &a);
    } else if (ends_with(a.input, ".jsonl")) {
        code = plot_metrics(ctx, &a);
    } else {
        at_viz_kind kind;
        if (at_viz_file_kind(ctx, a.input, &kind) != AT_OK) code = fail(ctx);
        else code = kind == AT_VIZ_DOC ? plot_doc(ctx, &a) : plot_map(ctx, &a);
    }
    at_ctx_free(ctx);
    return code;
}
