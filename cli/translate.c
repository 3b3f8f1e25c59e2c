/*
 * translate.c - `attend translate MODEL [TEXT...]`: run a trained model on
 * texts given as arguments, or on lines of stdin, and print one output per
 * line (for the date translator: the ISO date).
 *
 * --weights tsv|json also prints each attention matrix, rows = output
 * characters, columns = input characters, for the visualisation to draw:
 *   tsv:  a line "# INPUT<TAB>OUTPUT[<TAB>head H]", a header row of the input
 *         characters, then one row per output character: the character, then
 *         its weights
 *   json: one object per line: {"input", "output", "source": [chars],
 *         "target": [chars], "heads": H, "weights": [[[...]]] (H, Ty, Tx)}
 * A bad input (empty, invalid UTF-8, too long) prints an error naming it and
 * makes the exit status 1; the other inputs are still translated.
 */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

typedef enum weights_format { WEIGHTS_NONE, WEIGHTS_TSV, WEIGHTS_JSON } weights_format;

static int usage(FILE *out) {
    fprintf(out, "usage: attend translate MODEL [--weights tsv|json] [--threads N] [TEXT...]\n"
                 "Translate each TEXT (or each line of stdin when there is none) with a model\n"
                 "trained by 'attend train' and print one output per line.\n"
                 "  --weights tsv|json  also print the attention matrix (rows: output characters,\n"
                 "                      columns: input characters; one matrix per head)\n"
                 "  --threads N         threads (default 1)\n");
    return out == stdout ? 0 : 2;
}

/* The UTF-8 bytes of code point k of text (valid UTF-8), as a string. */
static const char *nth_char(const char *text, int k, char out[8]) {
    const unsigned char *p = (const unsigned char *)text;
    for (int i = 0; *p && i < k; i++)
        do
            p++;
        while ((*p & 0xC0) == 0x80);
    int n = 1;
    while (p[n] && (p[n] & 0xC0) == 0x80 && n < 4)
        n++;
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    return out;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_chars(const char *text, int n) {
    char ch[8];
    printf("[");
    for (int k = 0; k < n; k++) {
        if (k) printf(", ");
        json_string(nth_char(text, k, ch));
    }
    printf("]");
}

static void print_json(const char *input, const at_translation *tr) {
    int H = tr->heads, Ty = tr->target_len, Tx = tr->source_len;
    printf("{\"input\": ");
    json_string(input);
    printf(", \"output\": ");
    json_string(tr->text);
    printf(", \"source\": ");
    json_chars(input, Tx);
    printf(", \"target\": ");
    json_chars(tr->text, Ty);
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

/* A character of a TSV cell: tab, newline and backslash escaped. */
static void tsv_char(const char *ch) {
    if (!strcmp(ch, "\t"))
        printf("\\t");
    else if (!strcmp(ch, "\n"))
        printf("\\n");
    else if (!strcmp(ch, "\\"))
        printf("\\\\");
    else
        printf("%s", ch);
}

static void print_tsv(const char *input, const at_translation *tr) {
    int H = tr->heads, Ty = tr->target_len, Tx = tr->source_len;
    char ch[8];
    for (int h = 0; h < H; h++) {
        printf("# %s\t%s", input, tr->text);
        if (H > 1) printf("\thead %d", h);
        printf("\n");
        for (int j = 0; j < Tx; j++)
            printf("\t"), tsv_char(nth_char(input, j, ch));
        printf("\n");
        for (int t = 0; t < Ty; t++) {
            tsv_char(nth_char(tr->text, t, ch));
            for (int j = 0; j < Tx; j++)
                printf("\t%.5f", (double)tr->weights[((size_t)h * Ty + t) * Tx + j]);
            printf("\n");
        }
    }
}

/* Translate one text; 0 on success, 1 after printing what was wrong. */
static int translate_one(at_ctx *ctx, const at_seq2seq *m, const char *text, weights_format wf) {
    at_translation tr;
    at_status s = at_seq2seq_translate(ctx, m, text, &tr);
    if (s != AT_OK) {
        fprintf(stderr, "attend translate: %s\n", at_ctx_error(ctx));
        return 1;
    }
    if (wf == WEIGHTS_JSON)
        print_json(text, &tr);
    else
        printf("%s\n", tr.text);
    if (wf == WEIGHTS_TSV) print_tsv(text, &tr);
    fflush(stdout);
    at_translation_clear(&tr);
    return 0;
}

static int translate_stdin(at_ctx *ctx, const at_seq2seq *m, weights_format wf) {
    char *line = NULL;
    size_t cap = 0;
    int failed = 0;
    while (1) {
        int c, n = 0;
        while ((c = getchar()) != EOF && c != '\n') {
            if ((size_t)n + 2 > cap) {
                char *grown = realloc(line, cap = cap ? 2 * cap : 256);
                if (!grown)
                    return free(line), fprintf(stderr, "attend translate: out of memory\n"), 1;
                line = grown;
            }
            line[n++] = (char)c;
        }
        if (c == EOF && n == 0) break;
        if (n && line[n - 1] == '\r') n--;
        if (!line) line = calloc(1, 1), cap = 1;
        if (!line) return 1;
        line[n] = 0;
        failed |= translate_one(ctx, m, line, wf);
        if (c == EOF) break;
    }
    free(line);
    return failed;
}

int translate_main(int argc, char **argv) {
    long threads = 1;
    weights_format wf = WEIGHTS_NONE;
    const char *model_path = NULL;
    int first_text = argc;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout);
        if (!strcmp(arg, "--threads")) {
            if (!cli_parse_int(arg, value, 1, 256, &threads)) return 2;
            i++;
        } else if (!strcmp(arg, "--weights")) {
            if (!value || (strcmp(value, "tsv") && strcmp(value, "json")))
                return fprintf(stderr, "attend translate: --weights must be tsv or json\n"), 2;
            wf = strcmp(value, "tsv") ? WEIGHTS_JSON : WEIGHTS_TSV;
            i++;
        } else if (!strcmp(arg, "--")) {
            first_text = i + 1;
            break;
        } else if (!model_path) {
            model_path = arg;
        } else {
            first_text = i;
            break;
        }
    }
    if (!model_path) return fprintf(stderr, "attend translate: no MODEL given\n"), usage(stderr);
    at_ctx *ctx = cli_context("translate", (int)threads, 1);
    if (!ctx) return 1;
    at_seq2seq *m = cli_load_model("translate", ctx, model_path, NULL);
    int failed = 1;
    if (m && first_text < argc) {
        failed = 0;
        for (int i = first_text; i < argc; i++)
            failed |= translate_one(ctx, m, argv[i], wf);
    } else if (m) {
        failed = translate_stdin(ctx, m, wf);
    }
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    return failed ? 1 : 0;
}
