/*
 * cli.h - what the attend command's files share: the subcommands and small
 * helpers for parsing options and reporting progress.
 */
#ifndef ATTEND_CLI_H
#define ATTEND_CLI_H

#include <attend.h>

#include <stdio.h>

/* Return the status of a failed library call (its message stays in the
 * context). The one copy of this macro in the CLI. */
#define CLI_TRY(call)                                                                         \
    do {                                                                                      \
        at_status cli_try_status_ = (call);                                                   \
        if (cli_try_status_ != AT_OK) return cli_try_status_;                                 \
    } while (0)

int demo_main(int argc, char **argv);
int dates_main(int argc, char **argv);
int train_main(int argc, char **argv);
int eval_main(int argc, char **argv);
int translate_main(int argc, char **argv);
int plot_main(int argc, char **argv);
int compare_main(int argc, char **argv);

/* Parse "--name VALUE" integer/float options with range checks. On error
 * print a message naming the option and return 0. */
int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out);
int cli_parse_float(const char *option, const char *text, double lo, double hi, double *out);

/* A progress line: a bar on a terminal (redrawn in place), plain lines
 * every `every` steps otherwise. */
typedef struct cli_progress {
    long total;
    int is_terminal;
    double start_seconds;
} cli_progress;
void cli_progress_start(cli_progress *p, long total);
void cli_progress_update(cli_progress *p, long done, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void cli_progress_finish(cli_progress *p);
double cli_seconds(void);

#endif
