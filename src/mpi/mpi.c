/*
 * mpi.c - the trainer's at_reducer over MPI (attend/mpi.h).
 *
 * A sum over the processes is MPI_Allreduce(MPI_IN_PLACE, MPI_SUM) on
 * MPI_COMM_WORLD: every process passes its buffer and gets the element-wise
 * sums back. MPI counts are ints, so a buffer goes in pieces of 2^30
 * elements (the trainer's fused buffers are far smaller). Errors come back
 * as statuses with MPI's own message: MPI_COMM_WORLD's error handler is
 * MPI_ERRORS_RETURN, so no MPI call aborts on its own.
 */
#include "attend/mpi.h"

#include <mpi.h>
#include <stdlib.h>

#define PIECE ((size_t)1 << 30)

int at_mpi_launched(void) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    return initialized || getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") ||
           getenv("PMIX_RANK");
}

static at_status mpi_fail(at_ctx *ctx, int code, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(code, text, &n) != MPI_SUCCESS) n = 0;
    text[n < MPI_MAX_ERROR_STRING ? n : MPI_MAX_ERROR_STRING - 1] = '\0';
    return at_ctx_fail(ctx, AT_ERR_IO, "mpi: %s failed: %s", what, n ? text : "(no message)");
}

at_status at_mpi_init(at_ctx *ctx, int *argc, char ***argv) {
    int initialized = 0, code;
    MPI_Initialized(&initialized);
    if (!initialized && (code = MPI_Init(argc, argv)) != MPI_SUCCESS)
        return mpi_fail(ctx, code, "MPI_Init");
    code = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return code == MPI_SUCCESS ? AT_OK : mpi_fail(ctx, code, "MPI_Comm_set_errhandler");
}

/* values[0 .. count) summed over MPI_COMM_WORLD, in place. */
static at_status sum(at_ctx *ctx, void *values, size_t count, MPI_Datatype type, size_t bytes) {
    char *p = values;
    for (size_t done = 0; done < count; done += PIECE) {
        size_t n = count - done < PIECE ? count - done : PIECE;
        int code = MPI_Allreduce(MPI_IN_PLACE, p + done * bytes, (int)n, type, MPI_SUM,
                                 MPI_COMM_WORLD);
        if (code != MPI_SUCCESS) return mpi_fail(ctx, code, "MPI_Allreduce");
    }
    return AT_OK;
}

static at_status sum_floats(at_ctx *ctx, void *user, float *values, size_t count) {
    (void)user;
    return sum(ctx, values, count, MPI_FLOAT, sizeof *values);
}

static at_status sum_doubles(at_ctx *ctx, void *user, double *values, size_t count) {
    (void)user;
    return sum(ctx, values, count, MPI_DOUBLE, sizeof *values);
}

at_status at_mpi_reducer(at_ctx *ctx, at_reducer *out) {
    int initialized = 0, finalized = 0, rank = 0, size = 1;
    if (!out) return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "mpi: NULL reducer");
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        return at_ctx_fail(ctx, AT_ERR_STATE, "mpi: MPI is not running (at_mpi_init first)");
    int code = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (code == MPI_SUCCESS) code = MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (code != MPI_SUCCESS) return mpi_fail(ctx, code, "MPI_Comm_rank");
    *out = (at_reducer){.rank = rank, .ranks = size, .sum_floats = sum_floats,
                        .sum_doubles = sum_doubles, .user = NULL};
    return AT_OK;
}

void at_mpi_finalize(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

void at_mpi_abort(int code) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
}
