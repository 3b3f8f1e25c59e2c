/*
 * parallel.c - the CLI under mpirun: `mpirun -np N attend train ...`.
 *
 * Started by an MPI launcher (attend/mpi.h's at_mpi_launched) and built
 * with ATTEND_MPI, main() starts MPI before the command and ends it after.
 * With more than one process, every training command hands the trainer
 * the MPI reducer (cli_reducer) and the processes train one model. Rank 0
 * is the one the user sees; the others print nothing unless they fail:
 * their standard output goes to /dev/null and their standard error into a
 * temporary file, shown only when the process's command fails. A failed
 * process ends the whole job (at_mpi_abort), since the others would wait
 * for it in the next sum; a stop (exit 130) is no failure: the trainer
 * makes every process stop at the same step. Without ATTEND_MPI every process is alone.
 */
#include "cli.h"

#include <stdlib.h>
#include <unistd.h>

#if ATTEND_MPI
#include <attend/mpi.h>

static struct {
    int started;       /* MPI_Init done                              */
    at_reducer reducer; /* ranks > 1: what cli_reducer returns        */
    FILE *held;         /* rank > 0: its standard error, until the end */
    int stderr_fd;      /* rank > 0: the real standard error          */
} job;

/* Rank > 0: stdout to /dev/null, stderr into a temporary file. */
static void quiet(void) {
    fflush(stdout);
    fflush(stderr);
    if (!freopen("/dev/null", "w", stdout)) return;
    job.held = tmpfile();
    job.stderr_fd = job.held ? dup(STDERR_FILENO) : -1;
    if (job.stderr_fd < 0 || dup2(fileno(job.held), STDERR_FILENO) < 0) job.stderr_fd = -1;
}

/* The held standard error back on the real one (when the command failed). */
static void release(int show) {
    if (job.stderr_fd < 0) return;
    fflush(stderr);
    if (show && fseek(job.held, 0, SEEK_SET) == 0) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, job.held)) > 0)
            if (write(job.stderr_fd, buf, n) < 0) break;
    }
    dup2(job.stderr_fd, STDERR_FILENO);
    close(job.stderr_fd);
    job.stderr_fd = -1;
}

int cli_parallel_start(int *argc, char ***argv) {
    if (!at_mpi_launched()) return 0;
    at_reducer r;
    if (at_mpi_init(NULL, argc, argv) != AT_OK || at_mpi_reducer(NULL, &r) != AT_OK) {
        fprintf(stderr, "attend: started by mpirun, but MPI did not start\n");
        return 1;
    }
    job.started = 1;
    job.stderr_fd = -1;
    if (r.ranks > 1) job.reducer = r;
    if (r.rank > 0) quiet();
    return 0;
}

const at_reducer *cli_reducer(void) { return job.reducer.ranks > 1 ? &job.reducer : NULL; }

int cli_parallel_end(int code) {
    if (!job.started) return code;
    /* 130: a stop (Ctrl-C, SIGTERM) that every process agreed on */
    int failed = code != 0 && code != 130;
    release(failed);
    if (failed && job.reducer.ranks > 1) {
        fprintf(stderr, "attend: process %d of %d failed (exit %d): ending the job\n",
                job.reducer.rank, job.reducer.ranks, code);
        at_mpi_abort(code);
    }
    at_mpi_finalize();
    return code;
}
#else
int cli_parallel_start(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}
const at_reducer *cli_reducer(void) { return NULL; }
int cli_parallel_end(int code) { return code; }
#endif
