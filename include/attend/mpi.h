/*
 * attend/mpi.h - data-parallel training over MPI (libattend-mpi,
 * pkg-config attend-mpi): the at_reducer the trainer takes
 * (at_trainer_options.reducer, attend/core.h), made of MPI_Allreduce on
 * MPI_COMM_WORLD, and the few calls a program needs around it.
 *
 *   if (at_mpi_launched()) at_mpi_init(ctx, &argc, &argv);   every process
 *   at_reducer r;
 *   at_mpi_reducer(ctx, &r);         rank and ranks of MPI_COMM_WORLD
 *   options.reducer = &r;            then at_train as in one process
 *   ... on an error: at_mpi_abort(1) (the others may wait in a sum)
 *   at_mpi_finalize();
 *
 * Started with `mpirun -np N program ...`. The core library (libattend)
 * knows nothing of MPI; this one links Open MPI (or another MPI).
 *
 * The sums: MPI_Allreduce with MPI_SUM, in place, MPI_FLOAT or
 * MPI_DOUBLE, in pieces of at most 2^30 elements. Open MPI chooses the
 * reduction's algorithm from the number of processes and the message size
 * (never from timing), so a repeated run adds in the same order; and its
 * algorithms give every process the same bytes. docs/scale.md says more;
 * the trainer checks that its processes stay identical.
 *
 * Errors: MPI_COMM_WORLD is set to return MPI's errors (not to abort
 * inside MPI); a failed call is an AT_ERR_IO with MPI's message. The
 * library never aborts: at_mpi_abort is the caller's choice.
 */
#ifndef ATTEND_MPI_H
#define ATTEND_MPI_H

#include "attend/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this process was started by mpirun/mpiexec (Open MPI's
 * OMPI_COMM_WORLD_SIZE, or PMI_SIZE / PMIX_RANK of other launchers) or MPI
 * is initialised already; 0 for a process run on its own. */
AT_API int at_mpi_launched(void);

/* MPI_Init (unless MPI is initialised already) with the program's
 * arguments (either may be NULL); sets MPI_COMM_WORLD to return errors.
 * An MPI that cannot start is an AT_ERR_IO. */
AT_API at_status at_mpi_init(at_ctx *ctx, int *argc, char ***argv);

/* The reducer of MPI_COMM_WORLD: rank, ranks (its size) and the sums.
 * MPI must be initialised (AT_ERR_STATE otherwise). */
AT_API at_status at_mpi_reducer(at_ctx *ctx, at_reducer *out);

/* MPI_Finalize, if MPI was initialised and is not finalised yet. */
AT_API void at_mpi_finalize(void);

/* MPI_Abort(MPI_COMM_WORLD, code): ends every process of the job, this
 * one too (the MPI launcher reports it). Does nothing (returns) if MPI is
 * not initialised. */
AT_API void at_mpi_abort(int code);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_MPI_H */
