/*
 * util.c - option parsing, checked output and the progress bar shared by
 * subcommands.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, isatty, mkdir, strdup */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_cache_path(const char *relative, char *buf, size_t size) {
    const char *root = getenv("ATTEND_DATA_DIR"), *cache = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (root && *root)
        snprintf(buf, size, "%s/%s", root, relative);
    else if (cache && *cache)
        snprintf(buf, size, "%s/attend/%s", cache, relative);
    else
        snprintf(buf, size, "%s/.cache/attend/%s", home ? home : ".", relative);
    return buf;
}

int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out) {
    if (!text) {
        fprintf(stderr, "attend: %s needs a value\n", option);
        return 0;
    }
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < lo || value > hi) {
        fprintf(stderr, "attend: %s must be an integer in [%ld, %ld], not '%s'\n", option, lo,
                hi, text);
        return 0;
    }
    *out = value;
    return 1;
}

int cli_parse_run_option(const char *arg, const char *value, cli_run_options r) {
    if (!strcmp(arg, "--batch")) return cli_parse_int(arg, value, 1, 4096, r.batch);
    if (!strcmp(arg, "--seed")) return cli_parse_int(arg, value, 0, 1L << 31, r.seed);
    if (!strcmp(arg, "--threads")) return cli_parse_int(arg, value, 1, 256, r.threads);
    if (!strcmp(arg, "--lr")) return cli_parse_float(arg, value, 1e-7, 10, r.lr);
    if (!strcmp(arg, "--minutes")) return cli_parse_float(arg, value, 0, 1e6, r.minutes);
    if (!strcmp(arg, "--replicas") && r.replicas)
        return cli_parse_int(arg, value, 1, AT_REPLICAS_MAX, r.replicas);
    return -1;
}

int cli_parse_float(const char *option, const char *text, double lo, double hi, double *out) {
    if (!text) {
        fprintf(stderr, "attend: %s needs a value\n", option);
        return 0;
    }
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(value) || value < lo || value > hi) {
        fprintf(stderr, "attend: %s must be a number in [%g, %g], not '%s'\n", option, lo, hi,
                text);
        return 0;
    }
    *out = value;
    return 1;
}

int cli_close_stream(FILE *f, const char *name) {
    errno = 0;
    int flushed = fflush(f) == 0;
    int err = errno;
    int ok = flushed && !ferror(f);
    errno = 0;
    if (fclose(f) != 0) {
        if (ok) err = errno;
        ok = 0;
    }
    if (ok) return 1;
    fprintf(stderr, "attend: cannot write %s: %s\n", name,
            err ? strerror(err) : "a write error happened earlier");
    return 0;
}

/* Set once a failure of stdout has been reported, so it is said once. */
static int stdout_reported = 0;

int cli_finish_stdout(int code) {
    if (stdout_reported) {
        fclose(stdout);
        return code ? code : 1;
    }
    if (!cli_close_stream(stdout, "to standard output")) return code ? code : 1;
    return code;
}

int cli_stdout_failed(const char *command) {
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    if (!stdout_reported)
        fprintf(stderr, "attend %s: cannot write to standard output: %s\n", command,
                errno ? strerror(errno) : "a write error happened earlier");
    stdout_reported = 1;
    return 1;
}

void cli_put_text(FILE *f, const char *text, int to_terminal) {
    if (to_terminal)
        at_term_puts(f, text);
    else
        fputs(text, f);
}

double cli_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, long total) {
    p->total = total > 0 ? total : 1;
    p->is_terminal = isatty(STDERR_FILENO);
    p->start_seconds = cli_seconds();
}

void cli_progress_update(cli_progress *p, long done, const char *fmt, ...) {
    char message[160];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    double elapsed = cli_seconds() - p->start_seconds;
    double eta = done > 0 ? elapsed * (double)(p->total - done) / (double)done : 0.0;
    if (p->is_terminal) {
        enum { WIDTH = 24 };
        int filled = (int)(WIDTH * done / p->total);
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = 0;
        fprintf(stderr, "\r[%s] %ld/%ld %s  eta %.0fs\033[K", bar, done, p->total, message, eta);
    } else {
        fprintf(stderr, "step %ld/%ld %s (%.1fs elapsed, eta %.0fs)\n", done, p->total, message,
                elapsed, eta);
    }
    fflush(stderr);
}

void cli_progress_finish(cli_progress *p) {
    if (p->is_terminal) fprintf(stderr, "\n");
}

int cli_make_directory(const char *command, const char *path) {
    char *copy = path[0] ? strdup(path) : NULL;
    if (!copy) return fprintf(stderr, "attend %s: bad output directory '%s'\n", command, path), 0;
    for (char *p = copy + 1;; p++) {
        char c = *p;
        if (c != '/' && c != 0) continue;
        *p = 0;
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "attend %s: cannot create '%s': %s\n", command, copy, strerror(errno));
            free(copy);
            return 0;
        }
        if (!c) break;
        *p = c;
    }
    free(copy);
    return 1;
}

/* The stop flag of a training run; only the signal handler writes it. */
static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

volatile sig_atomic_t *cli_catch_stop_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

void cli_release_stop_signals(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}
