#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nlsq_mpi.h"
int main(int argc, char **argv)
{
    int level;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &level);
    nlsq_mpi *mpi; nlsq_error err;
    if (nlsq_mpi_open(MPI_COMM_WORLD, NULL, &mpi, &err) != NLSQ_OK) { fprintf(stderr, "%s\n", err.message); return 1; }
    size_t m = argc > 1 ? strtoul(argv[1], 0, 10) : 1000000;
    double *x = malloc(m * 8), *y = malloc(m * 8);
    for (size_t i = 0; i < m; i++) { x[i] = 10.0 * i / m; y[i] = 3 * exp(-0.7 * x[i]) + 0.5 + 0.01 * sin(i * 12.9898); }
    nlsq_model *mod; nlsq_model_parse("a*exp(-k*x)+c", NULL, &mod, &err);
    const double *cols[2] = {x, y}; nlsq_source *src; nlsq_source_from_arrays(cols, 2, m, &src, &err);
    nlsq_options o = nlsq_options_default(); double p0[3] = {1, 1, 0}; o.p0 = p0;
    nlsq_result *r1 = NULL, *r2 = NULL;
    if (nlsq_fit_source(mod, src, NULL, &o, &r1, &err)) { fprintf(stderr, "single: %s\n", err.message); return 1; }
    o.group = nlsq_mpi_group(mpi);
    if (nlsq_fit_source(mod, src, NULL, &o, &r2, &err)) { fprintf(stderr, "group: %s\n", err.message); return 1; }
    int same = memcmp(r1->popt, r2->popt, 3 * 8) == 0 && memcmp(r1->pcov, r2->pcov, 9 * 8) == 0 && r1->cost == r2->cost && r1->nfev == r2->nfev;
    printf("rank %d/%d: %s popt %.17g %.17g %.17g cost %.17g nfev %d/%d\n", nlsq_mpi_rank(mpi), nlsq_mpi_size(mpi), same ? "SAME" : "DIFF",
           r2->popt[0], r2->popt[1], r2->popt[2], r2->cost, r1->nfev, r2->nfev);
    /* pieces: uneven, not chunk-aligned cuts */
    int P = nlsq_mpi_size(mpi), me = nlsq_mpi_rank(mpi);
    size_t lo = (size_t)((double)m * me * me / ((double)P * P)) + (me ? 1234 : 0), hi = me + 1 == P ? m : (size_t)((double)m * (me + 1) * (me + 1) / ((double)P * P)) + 1234;
    const double *pc[2] = {x + lo, y + lo};
    nlsq_source *piece, *whole; nlsq_result *r3 = NULL;
    if (nlsq_source_from_arrays(pc, 2, hi - lo, &piece, &err) || nlsq_source_from_pieces(piece, nlsq_mpi_group(mpi), &whole, &err)) { fprintf(stderr, "pieces: %s\n", err.message); return 1; }
    if (nlsq_fit_source(mod, whole, NULL, &o, &r3, &err)) { fprintf(stderr, "pieces fit: %s\n", err.message); return 1; }
    int same3 = memcmp(r1->popt, r3->popt, 3 * 8) == 0 && memcmp(r1->pcov, r3->pcov, 9 * 8) == 0 && r1->cost == r3->cost;
    printf("rank %d pieces [%zu,%zu): %s (%s)\n", me, lo, hi, same3 ? "SAME" : "DIFF", nlsq_source_describe(whole));
    same &= same3;
    /* global search, with halving on (m >= 100000) and off */
    for (int halving = 0; halving <= 1; halving++) {
        nlsq_data d = {x, y, m, NULL, 0};
        nlsq_global_options go = nlsq_global_options_default(); go.starts = 6; go.halving = halving;
        nlsq_options o2 = o; o2.group = NULL; o2.p0 = NULL;
        double lbv[3] = {0, 0, -5}, ubv[3] = {10, 5, 5}; o2.lower = lbv; o2.upper = ubv;
        nlsq_result *g1 = NULL, *g2 = NULL;
        if (nlsq_fit_global(mod, &d, &o2, &go, &g1, &err)) { fprintf(stderr, "global1: %s\n", err.message); return 1; }
        o2.group = nlsq_mpi_group(mpi);
        if (nlsq_fit_global(mod, &d, &o2, &go, &g2, &err)) { fprintf(stderr, "global2: %s\n", err.message); return 1; }
        int sg = memcmp(g1->popt, g2->popt, 24) == 0 && g1->cost == g2->cost && memcmp(g1->pcov, g2->pcov, 72) == 0;
        printf("rank %d global halving %d: %s\n", me, halving, sg ? "SAME" : "DIFF");
        same &= sg;
        nlsq_result_free(g1); nlsq_result_free(g2);
    }
    nlsq_source_free(whole); nlsq_result_free(r1); nlsq_result_free(r2); nlsq_result_free(r3);
    nlsq_mpi_close(mpi);
    MPI_Finalize();
    return !same;
}
