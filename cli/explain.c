/*
 * explain.c - `attend explain MODEL TEXT --step K [--json]`: the equations
 * of one decoder step with the numbers the model really used.
 *
 * The library's at_seq2seq_explain_step does the work (greedy decoding of
 * TEXT up to output unit K, that step recorded); this file prints it:
 *   - in the terminal, each equation as docs/explain.md writes it, then its
 *     numbers: a table over the input units (e_j, α_j, contribution), and
 *     vectors, long ones shortened to their first values and their norm;
 *   - with --json, one JSON object (json-c) holding every number, built by
 *     explain_json.c as the lab's /api/explain builds it; its shape is
 *     written in docs/explain.md.
 * Bad input (no --step, K not a number or out of range, empty text,
 * invalid UTF-8) prints an error naming it and exits non-zero.
 */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno */
#include "explain_json.h"
#include "model_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: attend explain MODEL TEXT --step K [--json] [--threads N]\n\n"
            "Translate TEXT greedily with MODEL and show every number of the decoder step\n"
            "that wrote output unit K (0 = the first; K = the output's length is the\n"
            "step that wrote END): the scores e_j, the weights α_j, the context and the\n"
            "inputs that contribute most to it, the decoder's state (the seed's gates r,\n"
            "z and its proposal; luong's h_t and h̃_t) and the top-5 output units.\n\n"
            "  --step K     the output position to explain (required)\n"
            "  --json       one JSON object with every number (docs/explain.md)\n"
            "  --threads N  threads for the products (default 1)\n");
}

/* ------------------------------------------------------------ terminal */

/* The input's text: control characters as U+FFFD on a terminal. */
static void put_text(const char *text) {
    cli_put_text(stdout, text, isatty(fileno(stdout)));
}

enum { SHOWN = 6 }; /* a longer vector shows its first SHOWN values and its norm */

static double norm_of(const float *v, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

/* name, padded to `width` characters (not bytes: the names hold Greek and
 * combining marks). */
static void print_padded(const char *name, int width) {
    int pad = width - (int)at_utf8_length(name);
    printf("%s%*s", name, pad > 0 ? pad : 0, "");
}

static void print_vector(const char *name, const float *v, int n) {
    printf("  ");
    print_padded(name, 10);
    printf(" = [");
    int shown = n <= SHOWN + 2 ? n : SHOWN;
    for (int i = 0; i < shown; i++) printf("%s%+.4f", i ? ", " : "", (double)v[i]);
    if (shown < n) printf(", ... (%d values)", n);
    printf("]  ‖·‖ = %.4f\n", norm_of(v, n));
}

/* One row per input unit: e_j, α_j, the contribution, and the family's extras. */
static void print_table(const at_step_explanation *x, int h) {
    int Tx = x->source_len;
    const float *e = x->scores + (size_t)h * Tx, *a = x->weights + (size_t)h * Tx;
    const float *share = x->contributions + (size_t)h * Tx;
    printf("    j  unit            e_j       α_j contribution");
    if (x->window) printf("  window   align_j");
    if (x->p_choose) printf("       p_j");
    if (x->prior) printf("  α̂_{t−1}       y_t");
    printf("\n");
    for (int j = 0; j < Tx; j++) {
        printf("  %3d  '", j);
        put_text(x->source_units[j]);
        printf("'");
        int pad = 6 - (int)at_utf8_length(x->source_units[j]);
        printf("%*s %10.4f %9.5f %12.5f", pad > 0 ? pad : 0, "", (double)e[j], (double)a[j],
               (double)share[j]);
        if (x->window) printf(" %7s %9.5f", x->window[j] > 0.0f ? "in" : "", (double)x->align[j]);
        if (x->p_choose) printf(" %9.5f", (double)x->p_choose[j]);
        if (x->prior) printf(" %9.5f %9.5f", (double)x->prior[j], (double)x->base[j]);
        printf("\n");
    }
}

/* The inputs of largest contribution, up to 3. */
static void print_top_inputs(const at_step_explanation *x, int h) {
    int Tx = x->source_len, used[3] = {-1, -1, -1};
    const float *share = x->contributions + (size_t)h * Tx;
    printf("  top contributing inputs:");
    for (int k = 0; k < 3 && k < Tx; k++) {
        int best = -1;
        for (int j = 0; j < Tx; j++)
            if (j != used[0] && j != used[1] && (best < 0 || share[j] > share[best])) best = j;
        used[k] = best;
        printf(" j=%d '", best);
        put_text(x->source_units[best]);
        printf("' %.4f", (double)share[best]);
    }
    printf("  (of ‖c‖ = %.4f)\n", norm_of(x->head_context + (size_t)h * x->value_size, x->value_size));
}

static void print_attention(const at_step_explanation *x) {
    printf("\nAttention (%s)\n  %s\n  %s\n", at_attention_kind_name(x->attention),
           explain_equation_text(x, "score"), explain_equation_text(x, "weights"));
    if (x->window)
        printf("  p_t = %.4f\n", (double)x->position);
    if (x->p_choose)
        printf("  the scan starts at j = %d and %s\n", (int)x->previous_position,
               x->position < 0 ? "finds no p_j >= 0.5: α = 0, c_t = 0" : "stops where α_j = 1");
    for (int h = 0; h < x->heads; h++) {
        if (x->heads > 1) printf(" head %d\n", h);
        print_table(x, h);
        print_top_inputs(x, h);
    }
    printf("  %s\n", explain_equation_text(x, "contribution"));
    printf("\n  %s\n", explain_equation_text(x, "context"));
    if (x->heads > 1) {
        for (int h = 0; h < x->heads; h++) {
            char name[16];
            snprintf(name, sizeof name, "c_%d", h + 1);
            print_vector(name, x->head_context + (size_t)h * x->value_size, x->value_size);
        }
    }
    print_vector("c_t", x->context, x->annotation_size);
}

static void print_cell(const at_step_explanation *x) {
    if (x->decoder == AT_DECODER_SEED) {
        printf("\nThe decoder (the seed's AttentionDecoder)\n");
        static const char *const gates[] = {"reset", "update", "proposal", "next_state"};
        for (int k = 0; k < 4; k++) printf("  %s\n", explain_equation_text(x, gates[k]));
        print_vector("y_{t−1}", x->input, x->input_size);
        print_vector("s_{t−1}", x->state_prev, x->state_size);
        print_vector("r_t", x->reset, x->state_size);
        print_vector("z_t", x->update, x->state_size);
        print_vector("s̃_t", x->proposal, x->state_size);
        print_vector("s_t", x->state, x->state_size);
        printf("  %s\n", explain_equation_text(x, "output"));
    } else {
        printf("\nThe attentional state and the output\n  %s\n",
               explain_equation_text(x, "attentional"));
        print_vector("h̃_t", x->attentional, x->state_size);
        printf("  %s\n", explain_equation_text(x, "output"));
    }
    for (int k = 0; k < x->top_count; k++) {
        printf("  %s '", k ? "     " : "top-5");
        put_text(x->top[k].unit);
        printf("'  p = %.5f  (logit %+.4f)\n", (double)x->top[k].probability,
               (double)x->logits[x->top[k].id]);
    }
}

/* luong: the cell runs first, and its h_t is the attention's query. */
static void print_luong_state(const at_step_explanation *x) {
    const char *cell = x->cell == AT_CELL_LSTM ? "LSTM" : "GRU";
    printf("\nThe decoder's state (luong, %s cell, input feeding)\n", cell);
    printf("  %s\n", explain_equation_text(x, "state"));
    print_vector("x_t", x->input, x->input_size);
    print_vector("h_{t−1}", x->state_prev, x->state_size);
    if (x->memory) print_vector("c_{t−1} cell", x->memory_prev, x->state_size);
    print_vector("h_t", x->state, x->state_size);
    if (x->memory) print_vector("c_t cell", x->memory, x->state_size);
}

static void print_terminal(const char *text, const at_step_explanation *x) {
    printf("Step %d of \"", x->step);
    put_text(text);
    printf("\" -> \"");
    put_text(x->output);
    printf("\" (%d output units)\n", x->target_len);
    printf("  fed y_{t−1} = '");
    put_text(x->previous.unit);
    printf("', wrote '");
    put_text(x->chosen.unit);
    printf("' (p = %.5f)\n", (double)x->chosen.probability);
    if (x->decoder == AT_DECODER_LUONG) print_luong_state(x);
    print_attention(x);
    print_cell(x);
}

/* ---------------------------------------------------------------- main */

typedef struct explain_args {
    const char *model, *text;
    long step, threads;
    int have_step, json;
} explain_args;

/* 0 parsed, else the exit code (0 for --help is returned as -1). */
static int parse(int argc, char **argv, explain_args *a) {
    int positional = 0, options_done = 0;
    *a = (explain_args){.threads = 1};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && arg[0] == '-' && arg[1] == '-') {
            const char *value = i + 1 < argc ? argv[i + 1] : NULL;
            if (!strcmp(arg, "--")) {
                options_done = 1;
            } else if (!strcmp(arg, "--help")) {
                usage(stdout);
                return -1;
            } else if (!strcmp(arg, "--json")) {
                a->json = 1;
            } else if (!strcmp(arg, "--step") || !strcmp(arg, "--threads")) {
                int is_step = !strcmp(arg, "--step");
                if (!value) {
                    fprintf(stderr, "attend explain: %s needs a value\n", arg);
                    return 2;
                }
                if (!cli_parse_int(arg, value, is_step ? 0 : 1, is_step ? 1000000 : cli_max_threads(),
                                   is_step ? &a->step : &a->threads))
                    return 2;
                a->have_step |= is_step;
                i++;
            } else {
                fprintf(stderr, "attend explain: unknown option '%s' (see --help)\n", arg);
                return 2;
            }
            continue;
        }
        if (positional == 0) a->model = arg;
        else if (positional == 1) a->text = arg;
        else {
            fprintf(stderr, "attend explain: one TEXT only; '%s' is one too many (quote the text)\n", arg);
            return 2;
        }
        positional++;
    }
    if (!a->model || !a->text || !a->have_step) {
        fprintf(stderr, "attend explain: %s\n", !a->model ? "no MODEL given"
                                                : !a->text ? "no TEXT given"
                                                           : "--step K is required");
        usage(stderr);
        return 2;
    }
    return 0;
}

int explain_main(int argc, char **argv) {
    explain_args a;
    int code = parse(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    at_ctx *ctx = cli_context("explain", (int)a.threads, 1);
    if (!ctx) return 1;
    at_seq2seq *m = cli_load_model("explain", ctx, a.model, NULL);
    if (!m) {
        at_ctx_free(ctx);
        return 1;
    }
    at_step_explanation x;
    at_status s = at_seq2seq_explain_step(ctx, m, a.text, (int)a.step, &x);
    if (s != AT_OK) {
        code = cli_fail("explain", ctx, s);
    } else if (a.json) {
        json_object *o = explain_json(a.text, &x);
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), stdout);
        fputc('\n', stdout);
        json_object_put(o);
    } else {
        print_terminal(a.text, &x);
    }
    at_step_explanation_clear(&x);
    at_seq2seq_free(m);
    at_ctx_free(ctx);
    return code;
}
