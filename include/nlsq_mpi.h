/*
 * nlsq_mpi.h — libnlsq_mpi: fits spread over the processes of an MPI
 * communicator (docs/cluster.md).
 *
 * libnlsq itself links no MPI: it moves a pass's partial triangles through
 * the three calls of an nlsq_group (nlsq.h). This library makes that group
 * from a communicator, so that
 *
 *     nlsq_mpi *mpi;
 *     nlsq_mpi_open(MPI_COMM_WORLD, NULL, &mpi, &err);   // collective
 *     nlsq_options opt = nlsq_options_default();
 *     opt.group = nlsq_mpi_group(mpi);
 *     nlsq_fit_source(model, src, &cols, &opt, &result, &err);  // on every rank
 *     ...
 *     nlsq_mpi_close(mpi);                                // collective
 *
 * gives every rank the result that one process would compute, bitwise,
 * whatever the number of ranks and threads per rank. Each rank opens the
 * same source (a shared file: it reads only its share of the rows) and
 * folds its share; nlsq_fit_batch spreads the fits instead.
 *
 * Waits are bounded: a message that does not come within the timeout (a
 * rank died, hangs or lost its network) ends the job. The library then
 * writes one line naming the rank and what it waited for to the message
 * descriptor (stderr unless told) and calls MPI_Abort, which ends every
 * rank: a broken group cannot finish a fit, and no rank is left waiting.
 * MPI errors are returned to the library (MPI_ERRORS_RETURN on its own
 * duplicate of the communicator) and end the job the same way.
 *
 * MPI must be initialised with at least MPI_THREAD_FUNNELED: the library
 * calls MPI only from the thread that called the fit.
 */
#ifndef NLSQ_MPI_H
#define NLSQ_MPI_H

#include <mpi.h>
#include <stdint.h>

#include "nlsq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nlsq_mpi nlsq_mpi;

typedef struct nlsq_mpi_options {
    double timeout;  /* seconds a single wait may last; 0: $NLSQ_MPI_TIMEOUT
                        if set, else 600. Every rank should use the same. */
    int message_fd;  /* where the line before an abort goes; -1: stderr    */
    int abort_code;  /* MPI_Abort's error code; 0: 3                       */
} nlsq_mpi_options;

NLSQ_API nlsq_mpi_options nlsq_mpi_options_default(void);

/* Collective over comm (duplicated: the library's messages never meet the
   caller's). opt NULL: the defaults. */
NLSQ_API nlsq_status nlsq_mpi_open(MPI_Comm comm, const nlsq_mpi_options *opt, nlsq_mpi **out, nlsq_error *err);
/* The same from a Fortran handle (MPI_Comm_c2f), which is what mpi4py's
   comm.py2f() gives: Python reaches this library through ctypes. */
NLSQ_API nlsq_status nlsq_mpi_open_fortran(int64_t fcomm, const nlsq_mpi_options *opt, nlsq_mpi **out,
                                           nlsq_error *err);
/* Collective; NULL is fine. Every rank waits here for the others (a
   barrier bounded by the timeout, as every wait), so that a rank hung
   after a fit's last message ends the job instead of MPI_Finalize
   waiting for it without end. */
NLSQ_API void nlsq_mpi_close(nlsq_mpi *mpi);

/* The group to put in nlsq_options.group; valid until nlsq_mpi_close. */
NLSQ_API const nlsq_group *nlsq_mpi_group(const nlsq_mpi *mpi);
NLSQ_API int nlsq_mpi_rank(const nlsq_mpi *mpi);
NLSQ_API int nlsq_mpi_size(const nlsq_mpi *mpi);
/* This rank among the ranks on its own node (MPI_COMM_TYPE_SHARED), and
   how many there are: rank local % devices picks a rank's GPU. */
NLSQ_API int nlsq_mpi_local_rank(const nlsq_mpi *mpi);
NLSQ_API int nlsq_mpi_local_size(const nlsq_mpi *mpi);

/* What the group's calls cost this rank since open or the last reset. */
typedef struct nlsq_mpi_stats {
    uint64_t messages;   /* sends, receives and broadcasts            */
    uint64_t bytes_sent; /* by sends, and by broadcasts from this rank */
    uint64_t bytes_received;
    double seconds;      /* wall time inside them (waits included)     */
} nlsq_mpi_stats;

NLSQ_API void nlsq_mpi_stats_get(const nlsq_mpi *mpi, nlsq_mpi_stats *out);
NLSQ_API void nlsq_mpi_stats_reset(nlsq_mpi *mpi);

/* End the job from this rank with one line (the rank's number is added)
   and MPI_Abort; for a front end that found an error only one rank can
   see. Does not return. */
NLSQ_API void nlsq_mpi_abort(const nlsq_mpi *mpi, const char *message);

#ifdef __cplusplus
}
#endif

#endif
