/* nlsq's main: the command line run by this process alone (nlsq.c).
   nlsq-mpi has its own (nlsq_mpi.c); this binary links no MPI. */
#include "cli.h"

int main(int argc, char **argv)
{
    const cli_env alone = {.group = NULL, .rank = 0, .size = 1, .local_rank = 0, .captured_fd = -1};
    return cli_main(&alone, argc, argv);
}
