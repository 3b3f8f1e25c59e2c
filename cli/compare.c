/*
 * compare.c - `attend compare`: the same input under several models, side
 * by side in one figure.
 *
 *   attend compare TEXT MODEL.safetensors... -o OUT [--show] [--title T]
 *   attend compare WEIGHTS.json... -o OUT
 *
 * Each model translates TEXT; its attention map is drawn as one panel
 * named after the model file and titled with its mechanism (a multi-head
 * model shows the mean of its heads; the HTML page has a head selector).
 * Saved weights files (.json) may stand in for models, in which case TEXT
 * is left out when every input is a weights file.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_MODELS = 16 };

typedef struct compare_args {
    const char *text;
    const char *inputs[MAX_MODELS];
    int n;
    const char *outputs[8];
    int n_outputs;
    const char *title;
    int show;
} compare_args;

static void compare_usage(FILE *out) {
    fprintf(out,
            "usage: attend compare TEXT MODEL.safetensors... -o OUT [--show] [--title T]\n"
            "       attend compare WEIGHTS.json... -o OUT\n\n"
            "Translate TEXT with every model and draw their attention side by side in one\n"
            "figure (.png, .svg, .pdf or .html). Saved weights files (.json) may stand in\n"
            "for models.\n\n"
            "  -o, --output OUT   the figure (repeatable, up to 8: .png .svg .pdf .html)\n"
            "  --show             also draw each map in the terminal\n"
            "  --title TEXT       the figure's heading\n");
}

static int is_json(const char *path) {
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".json");
}

static int parse_args(int argc, char **argv, compare_args *a) {
    memset(a, 0, sizeof *a);
    const char *pos[MAX_MODELS + 1];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            compare_usage(stdout);
            return -1;
        }
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output") || !strcmp(arg, "--title")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "attend compare: %s needs a value\n", arg);
                return 2;
            }
            if (!strcmp(arg, "--title")) a->title = argv[++i];
            else if (a->n_outputs < 8) a->outputs[a->n_outputs++] = argv[++i];
        } else if (!strcmp(arg, "--show")) {
            a->show = 1;
        } else if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "attend compare: unknown option '%s'\n", arg);
            return 2;
        } else if (npos == MAX_MODELS + 1) {
            fprintf(stderr, "attend compare: at most %d models\n", MAX_MODELS);
            return 2;
        } else {
            pos[npos++] = arg;
        }
    }
    int all_json = npos > 0;
    for (int i = 0; i < npos; i++) all_json = all_json && is_json(pos[i]);
    int first = all_json ? 0 : 1;
    if (!all_json && npos > 0) a->text = pos[0];
    for (int i = first; i < npos && a->n < MAX_MODELS; i++) a->inputs[a->n++] = pos[i];
    if (a->n == 0 || a->n_outputs == 0) {
        compare_usage(stderr);
        return 2;
    }
    return 0;
}

/* The file name without directory and extension, as the panel's name. */
static void base_name(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    snprintf(out, size, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

static at_status map_of_model(at_ctx *ctx, const char *path, const char *text,
                              at_attention_map **out) {
    at_seq2seq *model;
    at_status s = at_seq2seq_load(ctx, &model, path, NULL);
    if (s != AT_OK) return s;
    at_translation tr;
    memset(&tr, 0, sizeof tr);
    s = at_seq2seq_translate(ctx, model, text, &tr);
    char name[256];
    base_name(path, name, sizeof name);
    if (s == AT_OK) s = at_attention_map_from_translation(ctx, out, model, name, text, &tr);
    if (s == AT_OK) {
        int terminal = isatty(fileno(stdout));
        cli_put_text(stdout, name, terminal);
        printf(": ");
        cli_put_text(stdout, text, terminal);
        printf(" -> ");
        cli_put_text(stdout, tr.text, terminal);
        printf("\n");
    }
    at_translation_clear(&tr);
    at_seq2seq_free(model);
    return s;
}

int compare_main(int argc, char **argv) {
    compare_args a;
    int code = parse_args(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    at_ctx *ctx;
    if (at_ctx_create(&ctx, NULL) != AT_OK) {
        fprintf(stderr, "attend compare: out of memory\n");
        return 1;
    }
    at_attention_map *maps[MAX_MODELS] = {0};
    at_status s = AT_OK;
    for (int i = 0; i < a.n && s == AT_OK; i++) {
        s = is_json(a.inputs[i]) ? at_attention_map_load(ctx, &maps[i], a.inputs[i])
                                 : map_of_model(ctx, a.inputs[i], a.text, &maps[i]);
        if (s == AT_OK && !maps[i]->model[0]) { /* name a nameless map after its file */
            char name[256];
            base_name(a.inputs[i], name, sizeof name);
            s = at_attention_map_set_text(ctx, maps[i], NULL, name, NULL);
        }
    }
    if (s != AT_OK) {
        fprintf(stderr, "attend compare: %s\n", at_ctx_error(ctx));
        code = 1;
    }
    /* Every output is tried and every failure reported. */
    for (int i = 0; i < a.n_outputs && !code; i++) {
        at_status w =
            at_plot_compare(ctx, a.n, (const at_attention_map *const *)maps, a.title, a.outputs[i]);
        if (w == AT_OK)
            printf("wrote %s\n", a.outputs[i]);
        else
            fprintf(stderr, "attend compare: %s\n", at_ctx_error(ctx)), s = w;
    }
    at_term_mode mode = at_term_mode_for(isatty(fileno(stdout)), getenv("NO_COLOR"),
                                         getenv("COLORTERM"), getenv("TERM"));
    for (int i = 0; i < a.n && !code && a.show; i++)
        if (at_plot_terminal(ctx, maps[i], stdout, mode) != AT_OK) {
            fprintf(stderr, "attend compare: %s\n", at_ctx_error(ctx));
            s = AT_ERR_IO;
            break;
        }
    if (s != AT_OK) code = 1;
    for (int i = 0; i < a.n; i++) at_attention_map_free(maps[i]);
    at_ctx_free(ctx);
    return code;
}
