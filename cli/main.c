/*
 * main.c - the attend command line: one dispatcher over subcommands.
 *
 * Each subcommand lives in its own file and has the signature
 * int NAME_main(int argc, char **argv), returning the process exit code.
 * This file only routes, and prints help and the version; every command's
 * standard output is flushed and closed here, and a write error on it
 * (a full disk, /dev/full) makes the exit status non-zero.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo", demo_main, "train a small attention model (reverse strings) and show its attention"},
    {"dates", dates_main, "generate the date translator's data set (human date -> ISO date)"},
    {"train", train_main, "train a seq2seq model with attention on dates or a TSV of text pairs"},
    {"eval", eval_main, "exact match and per-character accuracy of a model on a TSV or dates"},
    {"translate", translate_main, "translate text with a model (e.g. a date to ISO), with its attention"},
    {"explain", explain_main, "one decoder step's equations with the model's real numbers"},
    {"plot", plot_main, "draw a saved attention map (PNG, SVG, PDF, HTML, terminal) or training curves"},
    {"g2p", g2p_main, "pronunciation: train, evaluate and run a grapheme-to-phoneme model (CMUdict)"},
    {"lm", lm_main, "character language models on a book: train, evaluate, generate text"},
    {"classify", classify_main, "documents and mail classified with static (HAN) attention"},
    {"compare", compare_main, "the same input under several models, attention side by side in one figure"},
    {"serve", serve_main, "the attention lab: a page to type into models and compare them, live"},
};

static void usage(FILE *out) {
    fprintf(out,
            "attend %d.%d.%d - train, run and see attention mechanisms\n\n"
            "usage: attend COMMAND [options]\n\ncommands:\n",
            ATTEND_VERSION_MAJOR, ATTEND_VERSION_MINOR, ATTEND_VERSION_PATCH);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'attend COMMAND --help' describes a command's options.\n");
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("attend %d.%d.%d\n", ATTEND_VERSION_MAJOR, ATTEND_VERSION_MINOR,
               ATTEND_VERSION_PATCH);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "attend: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}

/* Whatever the command, output that could not be written fails the run.
 * Under mpirun, MPI starts first and ends last (cli/parallel.c). */
int main(int argc, char **argv) {
    int code = cli_parallel_start(&argc, &argv);
    if (code != 0) return code;
    return cli_parallel_end(cli_finish_stdout(run(argc, argv)));
}
