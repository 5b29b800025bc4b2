/*
 * netns_fit: one rank of tests/test_mpi_netns.sh, which starts each rank
 * in its own network namespace so that the group's messages cross a veth
 * pair and a bridge instead of shared memory or the loopback device.
 *
 *   netns_fit ROWS IFACE
 *
 * Every rank fits the same synthetic ROWS-row problem alone and then over
 * MPI_COMM_WORLD, and checks that popt, pcov, cost and the pass count are
 * bitwise the single-process fit's. It reads IFACE's byte counters
 * (/sys/class/net/IFACE/statistics, its own namespace's view) around the
 * group fit and checks that the interface carried at least the bytes the
 * group says it sent and received: the fit's traffic went over it, not
 * around it. One line a rank; exit 0 when every check holds.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlsq_mpi.h"

static int read_counter(const char *iface, const char *name, uint64_t *out)
{
    char path[256];
    snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", iface, name);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    int ok = f && fscanf(f, "%llu", &v) == 1;
    if (f) fclose(f);
    *out = v;
    return ok ? 0 : -1;
}

/* A decay with a slow oscillation on top: four parameters, so the merged
   triangle is (4+1)^2 doubles; the noise is a hash of the index. */
static double noise(size_t i)
{
    uint64_t h = (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1.0p-53 - 0.5;
}

static void make_data(size_t m, double *x, double *y)
{
    for (size_t i = 0; i < m; i++) {
        x[i] = 20.0 * (double)i / (double)m;
        y[i] = 3.0 * exp(-0.35 * x[i]) + 0.2 * sin(1.7 * x[i]) + 0.02 * noise(i);
    }
}

static int fail(int rank, const char *what, const char *why)
{
    printf("rank %d: FAIL %s: %s\n", rank, what, why);
    return 1;
}

int main(int argc, char **argv)
{
    int level;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &level);
    int rc = 1, rank = -1;
    nlsq_mpi *mpi = NULL;
    nlsq_model *model = NULL;
    nlsq_source *src = NULL;
    nlsq_result *alone = NULL, *group = NULL;
    double *x = NULL, *y = NULL;
    nlsq_error err;
    if (argc != 3) {
        fprintf(stderr, "usage: netns_fit ROWS IFACE\n");
        goto out;
    }
    size_t m = strtoul(argv[1], NULL, 10);
    const char *iface = argv[2];
    if (nlsq_mpi_open(MPI_COMM_WORLD, NULL, &mpi, &err) != NLSQ_OK) {
        fail(rank, "nlsq_mpi_open", err.message);
        goto out;
    }
    rank = nlsq_mpi_rank(mpi);
    x = malloc(m * sizeof *x);
    y = malloc(m * sizeof *y);
    if (!x || !y || m == 0) {
        fail(rank, "data", "no memory or no rows");
        goto out;
    }
    make_data(m, x, y);
    const double *cols[2] = {x, y};
    if (nlsq_model_parse("a*exp(-k*x) + b*sin(w*x)", NULL, &model, &err) != NLSQ_OK ||
        nlsq_source_from_arrays(cols, 2, m, &src, &err) != NLSQ_OK) {
        fail(rank, "setup", err.message);
        goto out;
    }
    nlsq_options o = nlsq_options_default();
    const double p0[4] = {2.5, 0.3, 0.25, 1.68};
    o.p0 = p0;
    if (nlsq_fit_source(model, src, NULL, &o, &alone, &err) != NLSQ_OK) {
        fail(rank, "single-process fit", err.message);
        goto out;
    }
    uint64_t tx0, rx0, tx1, rx1;
    if (read_counter(iface, "tx_bytes", &tx0) || read_counter(iface, "rx_bytes", &rx0)) {
        fail(rank, "counters", "cannot read /sys/class/net/IFACE/statistics");
        goto out;
    }
    nlsq_mpi_stats_reset(mpi);
    o.group = nlsq_mpi_group(mpi);
    if (nlsq_fit_source(model, src, NULL, &o, &group, &err) != NLSQ_OK) {
        fail(rank, "group fit", err.message);
        goto out;
    }
    nlsq_mpi_stats st;
    nlsq_mpi_stats_get(mpi, &st);
    read_counter(iface, "tx_bytes", &tx1);
    read_counter(iface, "rx_bytes", &rx1);
    int n = 4;
    int same = memcmp(alone->popt, group->popt, (size_t)n * sizeof(double)) == 0 &&
               memcmp(alone->pcov, group->pcov, (size_t)(n * n) * sizeof(double)) == 0 &&
               memcmp(&alone->cost, &group->cost, sizeof(double)) == 0 && alone->nfev == group->nfev &&
               alone->passes == group->passes && alone->status == group->status;
    /* the fit must have converged near the curve it was made from */
    int near = fabs(group->popt[0] - 3.0) < 1e-2 && fabs(group->popt[1] - 0.35) < 1e-2 &&
               fabs(group->popt[2] - 0.2) < 1e-2 && fabs(group->popt[3] - 1.7) < 1e-2;
    int crossed = st.bytes_sent > 0 && st.bytes_received > 0 && tx1 - tx0 >= st.bytes_sent &&
                  rx1 - rx0 >= st.bytes_received;
    printf("rank %d of %d: %s %s %s popt %.17g %.17g %.17g %.17g cost %.17g passes %d; group sent %llu received "
           "%llu bytes in %llu messages; %s tx +%llu rx +%llu bytes\n",
           rank, nlsq_mpi_size(mpi), same ? "SAME" : "DIFF", near ? "NEAR" : "FAR", crossed ? "CROSSED" : "NOT-CROSSED",
           group->popt[0], group->popt[1], group->popt[2], group->popt[3], group->cost, group->passes,
           (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received, (unsigned long long)st.messages,
           iface, (unsigned long long)(tx1 - tx0), (unsigned long long)(rx1 - rx0));
    rc = !(same && near && crossed);
out:
    fflush(stdout);
    nlsq_result_free(alone);
    nlsq_result_free(group);
    nlsq_source_free(src);
    nlsq_model_free(model);
    free(x);
    free(y);
    nlsq_mpi_close(mpi);
    MPI_Finalize();
    return rc;
}
