/*
 * nlsq-mpi: the nlsq command as one rank of an MPI job
 * (mpirun -n N nlsq-mpi fit DATA ...; docs/cli.md, docs/cluster.md).
 *
 * A separate binary, not nlsq under MPI: a program linked with MPI starts
 * MPI's runtime (and, with Open MPI, wants a launcher or a singleton
 * server) and carries its libraries; nlsq must stay a command that runs
 * anywhere with libc alone, and libnlsq links no MPI. The commands are the
 * same sources (the files of tools/, the same table); only this main differs, and
 * fit and batch receive the job's group through the command table.
 *
 * Every rank computes; rank 0 alone prints and writes files. The other
 * ranks' standard output goes to /dev/null and their standard error to an
 * unlinked file, whose last line rank 0 prints when a step only that rank
 * failed (group.c). The MPI layer's line before it ends a broken job goes
 * to a copy of the original standard error on every rank.
 *
 * Exit status: nlsq's, as rank 0 sees it, on every rank (broadcast at the
 * end), so that mpirun's status is nlsq's. A job ended by the MPI layer (a
 * rank died, a wait ran past $NLSQ_MPI_TIMEOUT) exits 3 through
 * MPI_Abort, or with mpirun's own status for a killed rank.
 */
#define _POSIX_C_SOURCE 200809L /* dup, mkstemp */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nlsq_mpi.h"

/* Ranks != 0: stdout to /dev/null, stderr to an unlinked temporary file
   (read back by group.c). Returns that file's descriptor, or -1. */
static int quiet_rank(void)
{
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        close(null);
    }
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/nlsq-mpi-stderr-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) fd = open("/dev/null", O_WRONLY);
    else unlink(path);
    if (fd < 0) return -1;
    dup2(fd, STDERR_FILENO);
    close(fd);
    return STDERR_FILENO;
}

int main(int argc, char **argv)
{
    cli_hold_standard_descriptors();
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "nlsq-mpi: MPI could not be started\n");
        return 2;
    }
    nlsq_mpi_options mo = nlsq_mpi_options_default();
    /* the abort line stays visible on every rank, stderr or not */
    mo.message_fd = dup(STDERR_FILENO);
    nlsq_mpi *mpi = NULL;
    nlsq_error err;
    if (nlsq_mpi_open(MPI_COMM_WORLD, &mo, &mpi, &err) != NLSQ_OK) {
        fprintf(stderr, "nlsq-mpi: %s\n", err.message);
        MPI_Abort(MPI_COMM_WORLD, 2);
        return 2;
    }
    const nlsq_group *g = nlsq_mpi_group(mpi);
    cli_env env = {.group = g,
                   .rank = nlsq_mpi_rank(mpi),
                   .size = nlsq_mpi_size(mpi),
                   .local_rank = nlsq_mpi_local_rank(mpi),
                   .captured_fd = -1};
    if (env.rank != 0) env.captured_fd = quiet_rank();
    int status = cli_main(&env, argc, argv);
    /* rank 0's status (its stdout written, or not) is every rank's */
    if (env.size > 1 && g->bcast(g->ctx, 0, &status, sizeof status) != 0) status = 2;
    nlsq_mpi_close(mpi);
    MPI_Finalize();
    if (mo.message_fd >= 0) close(mo.message_fd);
    return status;
}
