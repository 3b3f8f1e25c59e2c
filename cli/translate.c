/*
 * translate.c - `attend translate MODEL [TEXT...]`: run a trained model on
 * texts given as arguments, or on lines of stdin, and print one output per
 * line (for the date translator: the ISO date).
 *
 * --weights tsv|json also prints each attention matrix, rows = output
 * units, columns = input units (characters, or whitespace-separated tokens
 * for a model trained with --source-tokens / --target-tokens words), for
 * the visualisation to draw:
 *   tsv:  a line "# INPUT<TAB>OUTPUT[<TAB>head H]", a header row of the input
 *         units, then one row per output unit: the unit, then its weights
 *   json: one object per line: {"input", "output", "source": [units],
 *         "target": [units], "heads": H, "weights": [[[...]]] (H, Ty, Tx)}
 * Options may come before or after the texts; an unknown option is an
 * error, and "--" ends the options, so a text that starts with '-' goes
 * after it. A bad input (empty, invalid UTF-8, too long) prints an error
 * naming it and makes the exit status 1; the other inputs are still
 * translated. A stdin line holding a NUL byte, or longer than 64 KB, is
 * refused with its line number and ends the reading (binary or runaway
 * input). On a terminal, control characters of the texts are shown as
 * U+FFFD; a pipe gets the exact bytes (JSON escapes them either way). When
 * standard output fails (a full disk), translation stops with exit 1.
 *
 * --beam K decodes with beam search (width 1, the default, is greedy);
 * --fold brings each text to the model's alphabet first (at_vocab_fold:
 * "knight" -> "KNIGHT"); --with-input prints INPUT<TAB>OUTPUT lines.
 *
 * --plot PATH draws the attention (at_attention_map_from_translation): one
 * input with at_plot_map, several in one figure with at_plot_compare (the
 * extension picks .png, .svg, .pdf or .html). --show draws each map in the
 * terminal after its output line.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "model_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* at_plot_compare's limit: the most inputs one --plot figure can hold. */
enum { MAX_PLOTTED = 64 };

/* What to draw besides the text output, and the maps kept for --plot. */
typedef struct drawing {
    const char *plot; /* --plot PATH or NULL */
    int show;         /* --show               */
    at_attention_map *maps[MAX_PLOTTED];
    int n_maps;
    int too_many;     /* more inputs than MAX_PLOTTED were translated */
} drawing;

typedef enum weights_format { WEIGHTS_NONE, WEIGHTS_TSV, WEIGHTS_JSON } weights_format;

/* How each text is translated and what is printed besides the output. */
typedef struct settings {
    weights_format wf;
    at_beam_options beam; /* --beam, --length-penalty                   */
    int fold;             /* --fold: to the model's alphabet first      */
    int with_input;       /* --with-input: "INPUT<TAB>OUTPUT" lines     */
} settings;

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend translate MODEL [--weights tsv|json] [--plot PATH] [--show]\n"
            "                        [--beam K] [--length-penalty A] [--fold]\n"
            "                        [--with-input] [--threads N] [TEXT...]\n"
            "Translate each TEXT (or each line of stdin when there is none) with a model\n"
            "trained by 'attend train' and print one output per line.\n"
            "  --weights tsv|json  also print the attention matrix (rows: output units,\n"
            "                      columns: input units - characters, or tokens for a model\n"
            "                      trained on words; one matrix per head)\n"
            "  --plot PATH         draw the attention to PATH; the extension picks the format:\n"
            "                      .png, .svg, .pdf or .html (interactive). One input: a\n"
            "                      heatmap (every head for multi-head models); several inputs:\n"
            "                      one figure with a panel per input, in every format, .html\n"
            "                      included (at most %d inputs; a multi-head panel shows the\n"
            "                      mean of its heads)\n"
            "  --show              draw each attention map in the terminal after its output:\n"
            "                      colour blocks on a terminal, ASCII shades when stdout is not\n"
            "                      a terminal, NO_COLOR is set or TERM=dumb\n"
            "  --beam K            beam search keeping K hypotheses (default 1: greedy)\n"
            "  --length-penalty A  rank hypotheses by log p / length^A (default 1)\n"
            "  --fold              bring each text to the model's alphabet first: a\n"
            "                      character it lacks becomes its other case ('knight' ->\n"
            "                      'KNIGHT'); a character with no known form is an error\n"
            "  --with-input        print INPUT<TAB>OUTPUT lines\n"
            "  --threads N         threads (default 1)\n"
            "A failed translation or drawing prints why and makes the exit status 1.\n",
            MAX_PLOTTED);
    return out == stdout ? 0 : 2;
}

/* A JSON string; control characters (C0, DEL, C1) as \\u escapes, so the
 * line is safe on a terminal and reads back to the same text. */
static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            printf("\\u%04x", ch);
        else if (ch == 0xC2 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9F)
            printf("\\u%04x", (unsigned char)*++s);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_units(char *const *units, int n) {
    printf("[");
    for (int k = 0; k < n; k++) {
        if (k) printf(", ");
        json_string(units[k]);
    }
    printf("]");
}

/* The units of a translation's input (cols) and output (rows), as the
 * model's vocabularies split them: characters or tokens. */
typedef struct labels {
    char **source, **target;
} labels;

static void print_json(const char *input, const at_translation *tr, const labels *l) {
    int H = tr->heads, Ty = tr->target_len, Tx = tr->source_len;
    printf("{\"input\": ");
    json_string(input);
    printf(", \"output\": ");
    json_string(tr->text);
    printf(", \"source\": ");
    json_units(l->source, Tx);
    printf(", \"target\": ");
    json_units(l->target, Ty);
    printf(", \"heads\": %d, \"weights\": [", H);
    for (int h = 0; h < H; h++) {
        printf("%s[", h ? ", " : "");
        for (int t = 0; t < Ty; t++) {
            printf("%s[", t ? ", " : "");
            for (int j = 0; j < Tx; j++)
                printf("%s%.5g", j ? ", " : "", (double)tr->weights[((size_t)h * Ty + t) * Tx + j]);
            printf("]");
        }
        printf("]");
    }
    printf("]}\n");
}

/* A unit as a TSV cell: tab, newline and backslash escaped; other control
 * characters made harmless on a terminal. */
static void tsv_cell(const char *unit, int terminal) {
    for (const char *p = unit; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\\') {
            fwrite(unit, 1, (size_t)(p - unit), stdout);
            printf("%s", *p == '\t' ? "\\t" : *p == '\n' ? "\\n" : "\\\\");
            unit = p + 1;
        }
    cli_put_text(stdout, unit, terminal);
}

static void print_tsv(const char *input, const at_translation *tr, const labels *l,
                      int terminal) {
    int H = tr->heads, Ty = tr->target_len, Tx = tr->source_len;
    for (int h = 0; h < H; h++) {
        printf("# ");
        cli_put_text(stdout, input, terminal);
        printf("\t");
        cli_put_text(stdout, tr->text, terminal);
        if (H > 1) printf("\thead %d", h);
        printf("\n");
        for (int j = 0; j < Tx; j++)
            printf("\t"), tsv_cell(l->source[j], terminal);
        printf("\n");
        for (int t = 0; t < Ty; t++) {
            tsv_cell(l->target[t], terminal);
            for (int j = 0; j < Tx; j++)
                printf("\t%.5f", (double)tr->weights[((size_t)h * Ty + t) * Tx + j]);
            printf("\n");
        }
    }
}

/* Split text into exactly `want` units of vocab; 0 after printing why. */
static int split_units(at_ctx *ctx, const at_vocab *vocab, const char *text, int want,
                       char ***units) {
    int n = 0;
    if (at_vocab_split(ctx, vocab, text, units, &n) != AT_OK) {
        fprintf(stderr, "attend translate: --weights: %s\n", at_ctx_error(ctx));
        return 0;
    }
    if (n != want) {
        fprintf(stderr, "attend translate: --weights: '%s' has %d units, the attention %d\n",
                text, n, want);
        free(*units);
        *units = NULL;
        return 0;
    }
    return 1;
}

/* Print the weights of one translation; 0 on success, 1 after printing
 * what was wrong. */
static int print_weights(at_ctx *ctx, const at_seq2seq *m, const char *text,
                         const at_translation *tr, weights_format wf, int terminal) {
    labels l = {NULL, NULL};
    int ok = split_units(ctx, at_seq2seq_source_vocab(m), text, tr->source_len, &l.source) &&
             split_units(ctx, at_seq2seq_target_vocab(m), tr->text, tr->target_len, &l.target);
    if (ok && wf == WEIGHTS_JSON) print_json(text, tr, &l);
    if (ok && wf == WEIGHTS_TSV) print_tsv(text, tr, &l, terminal);
    free(l.source);
    free(l.target);
    return !ok;
}

/* The map of one translation for --show and --plot; 0 on success, 1 after
 * printing what was wrong. A map kept for --plot is freed by finish_plot. */
static int draw_one(at_ctx *ctx, const at_seq2seq *m, const char *text, const at_translation *tr,
                    drawing *d) {
    at_attention_map *map;
    if (at_attention_map_from_translation(ctx, &map, m, NULL, text, tr) != AT_OK) {
        fprintf(stderr, "attend translate: cannot draw the attention of '");
        cli_put_text(stderr, text, 1);
        fprintf(stderr, "': %s\n", at_ctx_error(ctx));
        return 1;
    }
    int failed = 0;
    if (d->show) {
        at_term_mode mode = at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
                                             getenv("COLORTERM"), getenv("TERM"));
        if (at_plot_terminal(ctx, map, stdout, mode) != AT_OK) {
            fprintf(stderr, "attend translate: --show: %s\n", at_ctx_error(ctx));
            failed = 1;
        }
        fflush(stdout);
    }
    if (d->plot && d->n_maps < MAX_PLOTTED) {
        d->maps[d->n_maps++] = map;
        return failed;
    }
    if (d->plot) d->too_many = 1;
    at_attention_map_free(map);
    return failed;
}

/* Write the --plot figure from the kept maps and free them; 0 or 1. */
static int finish_plot(at_ctx *ctx, drawing *d) {
    int failed = 0;
    if (!d->plot) return 0;
    if (d->too_many) {
        fprintf(stderr, "attend translate: --plot draws at most %d inputs in one figure; %s not "
                        "written\n", MAX_PLOTTED, d->plot);
        failed = 1;
    } else if (d->n_maps == 0) {
        fprintf(stderr, "attend translate: nothing translated, %s not written\n", d->plot);
        failed = 1;
    } else {
        at_status s = d->n_maps == 1
                          ? at_plot_map(ctx, d->maps[0], d->plot)
                          : at_plot_compare(ctx, d->n_maps,
                                            (const at_attention_map *const *)d->maps, NULL,
                                            d->plot);
        if (s != AT_OK) {
            fprintf(stderr, "attend translate: --plot %s: %s\n", d->plot, at_ctx_error(ctx));
            failed = 1;
        } else {
            fprintf(stderr, "attend translate: wrote %s\n", d->plot);
        }
    }
    for (int i = 0; i < d->n_maps; i++) at_attention_map_free(d->maps[i]);
    d->n_maps = 0;
    return failed;
}

/* Translate one text; 0 on success, 1 after printing what was wrong
 * (TRANSLATE_STOP when standard output has failed: stop writing). */
enum { TRANSLATE_STOP = 2 };
static int translate_one(at_ctx *ctx, const at_seq2seq *m, const char *input,
                         const settings *o, drawing *d) {
    at_translation tr;
    char *folded = NULL;
    at_status s = AT_OK;
    if (o->fold) s = at_vocab_fold(ctx, at_seq2seq_source_vocab(m), input, &folded);
    const char *text = folded ? folded : input;
    if (s == AT_OK) s = at_seq2seq_translate_beam(ctx, m, text, &o->beam, &tr);
    if (s != AT_OK) {
        char shown[64]; /* a long input is named by its start */
        size_t cut = strlen(input) < sizeof shown - 4 ? strlen(input) : sizeof shown - 4;
        while (cut > 0 && ((unsigned char)input[cut] & 0xC0) == 0x80)
            cut--; /* not inside a UTF-8 character */
        snprintf(shown, sizeof shown, "%.*s%s", (int)cut, input, input[cut] ? "..." : "");
        fprintf(stderr, "attend translate: '");
        cli_put_text(stderr, shown, 1);
        fprintf(stderr, "': %s\n", at_ctx_error(ctx));
        free(folded);
        return 1;
    }
    weights_format wf = o->wf;
    int terminal = isatty(fileno(stdout));
    int failed = 0;
    if (wf != WEIGHTS_JSON) {
        if (o->with_input) cli_put_text(stdout, input, terminal), putchar('\t');
        cli_put_text(stdout, tr.text, terminal);
        putchar('\n');
    }
    if (wf != WEIGHTS_NONE) failed |= print_weights(ctx, m, text, &tr, wf, terminal);
    if (cli_stdout_failed("translate")) failed = TRANSLATE_STOP;
    if (failed != TRANSLATE_STOP && (d->plot || d->show)) failed |= draw_one(ctx, m, text, &tr, d);
    at_translation_clear(&tr);
    free(folded);
    return failed;
}

/* The longest line of stdin taken as one text. */
enum { MAX_LINE_BYTES = 1 << 16 };

/* One line of stdin into line[MAX_LINE_BYTES + 1] without its line end.
 * Returns its length, -1 at end of input, or -2 after printing why the
 * line is refused (a NUL byte, or too long): binary or runaway input, so
 * the caller stops reading. */
static long read_line(char *line, long line_no) {
    long n = 0;
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (c == 0) {
            fprintf(stderr,
                    "attend translate: stdin line %ld holds a NUL byte (column %ld); "
                    "is it text? stopped reading\n",
                    line_no, n + 1);
            return -2;
        }
        if (n == MAX_LINE_BYTES) {
            fprintf(stderr,
                    "attend translate: stdin line %ld is longer than %d bytes; "
                    "stopped reading\n",
                    line_no, MAX_LINE_BYTES);
            return -2;
        }
        line[n++] = (char)c;
    }
    if (c == EOF && n == 0) {
        if (ferror(stdin)) {
            fprintf(stderr, "attend translate: cannot read stdin: %s\n", strerror(errno));
            return -2;
        }
        return -1;
    }
    if (n && line[n - 1] == '\r') n--;
    line[n] = 0;
    return n;
}

static int translate_stdin(at_ctx *ctx, const at_seq2seq *m, const settings *o, drawing *d) {
    char *line = malloc(MAX_LINE_BYTES + 1);
    if (!line) return fprintf(stderr, "attend translate: out of memory\n"), 1;
    int failed = 0;
    for (long line_no = 1;; line_no++) {
        long n = read_line(line, line_no);
        if (n == -1) break;
        if (n == -2) {
            failed = 1;
            break;
        }
        int r = translate_one(ctx, m, line, o, d);
        failed |= r != 0;
        if (r == TRANSLATE_STOP) break;
    }
    free(line);
    return failed;
}

int translate_main(int argc, char **argv) {
    long threads = 1, width = 1;
    double penalty = 1.0;
    settings o = {.wf = WEIGHTS_NONE};
    drawing d = {0};
    const char *model_path = NULL;
    /* Options may come before or after the texts; after "--" all is text. */
    const char **texts = malloc((size_t)argc * sizeof *texts);
    int n_texts = 0, options = 1;
    if (!texts) return fprintf(stderr, "attend translate: out of memory\n"), 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        int code = -1;
        if (!options) {
            texts[n_texts++] = arg;
        } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            code = usage(stdout);
        } else if (!strcmp(arg, "--threads")) {
            if (!cli_parse_int(arg, value, 1, 256, &threads)) code = 2;
            i++;
        } else if (!strcmp(arg, "--weights")) {
            if (!value || (strcmp(value, "tsv") && strcmp(value, "json")))
                code = 2, fprintf(stderr, "attend translate: --weights must be tsv or json\n");
            else
                o.wf = strcmp(value, "tsv") ? WEIGHTS_JSON : WEIGHTS_TSV;
            i++;
        } else if (!strcmp(arg, "--beam")) {
            if (!cli_parse_int(arg, value, 1, AT_BEAM_MAX_WIDTH, &width)) code = 2;
            i++;
        } else if (!strcmp(arg, "--length-penalty")) {
            if (!cli_parse_float(arg, value, 0, 4, &penalty)) code = 2;
            i++;
        } else if (!strcmp(arg, "--fold")) {
            o.fold = 1;
        } else if (!strcmp(arg, "--with-input")) {
            o.with_input = 1;
        } else if (!strcmp(arg, "--plot")) {
            if (!value || !*value)
                code = 2, fprintf(stderr, "attend translate: --plot needs a file name (.png, "
                                          ".svg, .pdf or .html)\n");
            d.plot = value;
            i++;
        } else if (!strcmp(arg, "--show")) {
            d.show = 1;
        } else if (!strcmp(arg, "--")) {
            options = 0;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr,
                    "attend translate: unknown option '%s' (a text that starts with "
                    "'-' goes after --, e.g. attend translate MODEL -- '%s')\n",
                    arg, arg);
            code = 2;
        } else if (!model_path) {
            model_path = arg;
        } else {
            texts[n_texts++] = arg;
        }
        if (code >= 0) return free(texts), code;
    }
    if (!model_path) {
        free(texts);
        fprintf(stderr, "attend translate: no MODEL given\n");
        return usage(stderr);
    }
    o.beam = (at_beam_options){.width = (int)width, .length_penalty = (float)penalty};
    at_ctx *ctx = cli_context("translate", (int)threads, 1);
    if (!ctx) return free(texts), 1;
    at_seq2seq *m = cli_load_model("translate", ctx, model_path, NULL);
    int failed = 1;
    if (m && n_texts > 0) {
        failed = 0;
        for (int i = 0; i < n_texts; i++) {
            int r = translate_one(ctx, m, texts[i], &o, &d);
            failed |= r != 0;
            if (r == TRANSLATE_STOP) break;
        }
    } else if (m) {
        failed = translate_stdin(ctx, m, &o, &d);
    }
    if (m) failed |= finish_plot(ctx, &d);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    free(texts);
    return failed ? 1 : 0;
}
