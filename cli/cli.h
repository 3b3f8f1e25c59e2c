/*
 * cli.h - what the attend command's files share: the subcommands and small
 * helpers for parsing options and reporting progress.
 */
#ifndef ATTEND_CLI_H
#define ATTEND_CLI_H

#include <attend.h>

#include <signal.h>

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
int explain_main(int argc, char **argv);
int plot_main(int argc, char **argv);
int compare_main(int argc, char **argv);
int g2p_main(int argc, char **argv);
int lm_main(int argc, char **argv);
int classify_main(int argc, char **argv);
int serve_main(int argc, char **argv);
/* g2p.c: the dictionary's path ($ATTEND_CMUDICT, else the data cache, in
 * buf) and the standard test split's ($ATTEND_G2P_TEST, or NULL). */
const char *g2p_default_dict(char *buf, size_t size);
const char *g2p_default_test(void);

/* Where scripts/data.sh keeps a data set's file: relative (e.g.
 * "cmudict-0.2.3/data/dict.txt") under $ATTEND_DATA_DIR, else
 * $XDG_CACHE_HOME/attend, else ~/.cache/attend; written into buf. */
const char *cli_cache_path(const char *relative, char *buf, size_t size);

/* Ctrl-C and SIGTERM during training: catch sets a handler that raises the
 * returned flag (give it to the trainer's options.stop, which saves last.*
 * and returns at the next step); release restores the default handlers. */
volatile sig_atomic_t *cli_catch_stop_signals(void);
void cli_release_stop_signals(void);

/* Under mpirun (cli/parallel.c): start MPI before the command (0, or an
 * exit code), the reducer training commands give the trainer (NULL when
 * the process is alone), and the end: MPI finalised, or, when code != 0
 * and there are other processes, the job aborted. Returns code. */
int cli_parallel_start(int *argc, char ***argv);
const at_reducer *cli_reducer(void);
int cli_parallel_end(int code);

/* Make a directory and its parents (as mkdir -p); 0 after printing why. */
int cli_make_directory(const char *command, const char *path);

/* Parse "--name VALUE" integer/float options with range checks. On error
 * print a message naming the option and return 0. */
int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out);
int cli_parse_float(const char *option, const char *text, double lo, double hi, double *out);
/* The options every training command shares, with one range each: --batch
 * (1..4096), --seed (0..2^31), --threads (1..256), --lr (1e-7..10),
 * --minutes (0..1e6) and --replicas (1..64), parsed into the caller's
 * fields. 1 parsed, 0 a bad value (said why), -1 when arg is none of them. */
typedef struct cli_run_options {
    long *batch, *seed, *threads;
    double *lr, *minutes;
    long *replicas;
} cli_run_options;

/* --replicas R (cli/replicas.c): R copies of the model train at once, one
 * thread group each (at_train_replicas). make() builds copy r (1 .. R-1)
 * of the model with its task and hands back its trainable; drop() frees
 * copy r. cli_replicas_fit says why R cannot run (threads not a multiple
 * of R, a batch R cannot share, under mpirun) and returns 0, else 1.
 * cli_train is at_train, or with R > 1 at_train_replicas over replica 0
 * (`first`) and R - 1 made copies, with OpenBLAS's pool at threads / R. */
typedef struct cli_replicas {
    int count;
    void *user;
    at_status (*make)(at_ctx *ctx, void *user, int r, const at_trainable **out);
    void (*drop)(void *user, int r);
} cli_replicas;
int cli_replicas_fit(const char *command, long replicas, long threads, long batch);
at_status cli_train(at_ctx *ctx, const cli_replicas *replicas, const at_trainable *first,
                    const at_trainer_options *opts, at_train_result *result);
int cli_parse_run_option(const char *arg, const char *value, cli_run_options r);

/* Output that must not be lost. A write error on a stream is sticky
 * (ferror), so checking at the end catches every failed printf before it;
 * the final flush and close can fail too (a full disk, /dev/full).
 *   cli_close_stream(f, name): fflush + ferror + fclose; on failure prints
 *     "attend: cannot write NAME: REASON" and returns 0, else 1. For any
 *     FILE the CLI writes (e.g. a metrics file).
 *   cli_finish_stdout(code): main's last call: closes stdout with
 *     cli_close_stream and returns code, or 1 if code was 0 and stdout
 *     failed (so `attend ... > /dev/full` never exits 0).
 *   cli_stdout_failed(command): 1 (after saying so once) when stdout has
 *     failed already, for loops that should stop writing into the void. */
int cli_close_stream(FILE *f, const char *name);
int cli_finish_stdout(int code);
int cli_stdout_failed(const char *command);

/* Text for a terminal: when `to_terminal`, with at_term_puts (control
 * characters as U+FFFD, so input cannot smuggle escape sequences onto the
 * screen); otherwise as it is (a pipe gets the exact bytes). */
void cli_put_text(FILE *f, const char *text, int to_terminal);

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
