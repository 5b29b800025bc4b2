/*
 * bench/mpi: a fit over MPI ranks against the threaded single process on
 * the same file, and the transport's point-to-point latency and bandwidth.
 * Driven by bench/mpi.sh (docs/benchmarks.md, "MPI"):
 *
 *   bench_mpi fit FILE MODEL REPEATS   fit FILE (an (m, 2) .npy of x, y:
 *                                      bench_large write makes one) REPEATS
 *                                      times; MODEL decay (3 parameters) or
 *                                      poly10 (10). Under mpirun with more
 *                                      than one rank the fit runs over
 *                                      MPI_COMM_WORLD; alone it is the
 *                                      ordinary threaded fit.
 *   bench_mpi pingpong REPEATS         ranks 0 and 1: 8 B .. 1 MB messages,
 *                                      through MPI_Send/MPI_Recv and through
 *                                      the nlsq group's send and receive
 *                                      (nonblocking calls finished by the
 *                                      library's bounded polling loop)
 *
 * A fit prints one RESULT line (rank 0) for each repeat: ranks, threads a
 * rank, seconds, passes, seconds a pass, the group's messages, bytes and
 * seconds a pass (nlsq_mpi_stats, reset before the fit: the seconds
 * include waiting for a slower rank's share, so the rank that waited
 * least, `comm_min`, is the closest to the transport's own cost), and the
 * same seconds an iteration after the first (the setup and the first
 * pass's data check left out: the steady state), and the
 * parameters and cost as hexadecimal floats, which bench/mpi.sh compares
 * across every configuration: a group fit must be bitwise the
 * single-process fit.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlsq_mpi.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The models: bench_large's decay, and a degree-9 polynomial in t = x/10
   (ten parameters, linear: the size of the merged triangle is what it
   measures). */
static const char *model_text(const char *name, int *n, const double **p0)
{
    static const double decay_p0[3] = {2, 1, 0};
    static const double poly_p0[10] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    if (strcmp(name, "decay") == 0) {
        *n = 3;
        *p0 = decay_p0;
        return "a*exp(-b*x) + c";
    }
    if (strcmp(name, "poly10") == 0) {
        *n = 10;
        *p0 = poly_p0;
        return "c0 + (0.1*x)*(c1 + (0.1*x)*(c2 + (0.1*x)*(c3 + (0.1*x)*(c4 + (0.1*x)*(c5 + (0.1*x)*(c6 + "
               "(0.1*x)*(c7 + (0.1*x)*(c8 + (0.1*x)*c9))))))))";
    }
    return NULL;
}

static int threads_env(void)
{
    const char *t = getenv("NLSQ_THREADS");
    return t ? atoi(t) : 0;
}

/* The group's cost from the end of the first iteration on: the setup's
   agreements and the first pass's data check (where one rank can wait
   long for another to open and check its share) left out. */
typedef struct {
    nlsq_mpi *mpi;
    int taken, iteration;
    nlsq_mpi_stats at;
} steady;

static int mark_steady(void *user, int iteration, double cost, const double *params, double gnorm, double step)
{
    (void)cost, (void)params, (void)gnorm, (void)step;
    steady *sd = user;
    if (!sd->taken) {
        nlsq_mpi_stats_get(sd->mpi, &sd->at);
        sd->iteration = iteration;
        sd->taken = 1;
    }
    return 0;
}

static int run_fit(nlsq_mpi *mpi, const char *path, const char *model_name, int repeats)
{
    int rank = nlsq_mpi_rank(mpi), size = nlsq_mpi_size(mpi), n;
    const double *p0;
    const char *text = model_text(model_name, &n, &p0);
    nlsq_error e;
    nlsq_model *model = NULL;
    if (!text || nlsq_model_parse(text, NULL, &model, &e) != NLSQ_OK) {
        fprintf(stderr, "rank %d: model %s: %s\n", rank, model_name, text ? e.message : "unknown (decay, poly10)");
        return 1;
    }
    int rc = 0;
    for (int rep = 0; rep < repeats && rc == 0; rep++) {
        nlsq_source *src = NULL;
        if (nlsq_source_open_npy(path, &src, &e) != NLSQ_OK) {
            fprintf(stderr, "rank %d: %s\n", rank, e.message);
            rc = 1;
            break;
        }
        nlsq_options o = nlsq_options_default();
        o.p0 = p0;
        if (size > 1) o.group = nlsq_mpi_group(mpi);
        steady sd = {mpi, 0, 0, {0, 0, 0, 0}};
        o.callback = mark_steady;
        o.callback_data = &sd;
        nlsq_result *r = NULL;
        MPI_Barrier(MPI_COMM_WORLD); /* every rank starts the clock together */
        nlsq_mpi_stats_reset(mpi);
        double t0 = now();
        nlsq_status st = nlsq_fit_source(model, src, NULL, &o, &r, &e);
        double t = now() - t0;
        nlsq_mpi_stats s;
        nlsq_mpi_stats_get(mpi, &s);
        if (st != NLSQ_OK) {
            fprintf(stderr, "rank %d: fit: %s\n", rank, e.message);
            rc = 1;
        }
        /* the slowest rank's time is the fit's; the group's seconds from
           the rank that waited least and the one that waited most */
        /* a second of the group's a later iteration (NaN: one iteration) */
        int later = st == NLSQ_OK && sd.taken ? r->nit - sd.iteration : 0;
        double steady_s = later > 0 ? (s.seconds - sd.at.seconds) / later : 0;
        double in[5] = {t, s.seconds, -s.seconds, steady_s, -steady_s}, out[5];
        MPI_Reduce(in, out, 5, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        uint64_t bytes = s.bytes_sent + s.bytes_received, most[2] = {bytes, s.messages}, mo[2];
        MPI_Reduce(most, mo, 2, MPI_UINT64_T, MPI_MAX, 0, MPI_COMM_WORLD);
        if (rank == 0 && st == NLSQ_OK) {
            int passes = r->passes > 0 ? r->passes : 1;
            printf("RESULT model=%s ranks=%d threads=%d m=%zu seconds=%.4f passes=%d per_pass=%.5f "
                   "msgs_per_pass=%.1f bytes_per_pass=%.0f comm_min_per_pass=%.6f comm_max_per_pass=%.6f",
                   model_name, size, threads_env(), nlsq_source_num_rows(src), out[0], passes, out[0] / passes,
                   (double)mo[1] / passes, (double)mo[0] / passes, -out[2] / passes, out[1] / passes);
            printf(" comm_min_per_iteration_after_first=%.6f comm_max_per_iteration_after_first=%.6f", -out[4], out[3]);
            printf(" cost=%a popt=", r->cost);
            for (int k = 0; k < n; k++) printf("%s%a", k ? "," : "", r->popt[k]);
            printf(" pcov00=%a status=%d\n", r->pcov[0], r->status);
            fflush(stdout);
        }
        nlsq_result_free(r);
        nlsq_source_free(src);
    }
    nlsq_model_free(model);
    return rc;
}

/* One size's round trips between ranks 0 and 1: half a round trip. */
static double round_trip(nlsq_mpi *mpi, int through_group, char *buf, size_t bytes, int repeats)
{
    int rank = nlsq_mpi_rank(mpi);
    const nlsq_group *g = nlsq_mpi_group(mpi);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    for (int i = 0; i < repeats; i++) {
        if (through_group) {
            if (rank == 0) {
                g->send(g->ctx, 1, 7, buf, bytes);
                g->recv(g->ctx, 1, 7, buf, bytes);
            } else if (rank == 1) {
                g->recv(g->ctx, 0, 7, buf, bytes);
                g->send(g->ctx, 0, 7, buf, bytes);
            }
        } else if (rank == 0) {
            MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 7, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 7, MPI_COMM_WORLD);
        }
    }
    return (now() - t0) / repeats / 2;
}

static int run_pingpong(nlsq_mpi *mpi, int repeats)
{
    if (nlsq_mpi_size(mpi) < 2) {
        fprintf(stderr, "pingpong needs two ranks\n");
        return 1;
    }
    static const size_t sizes[] = {8, 64, 512, 1024, 4096, 32768, 262144, 1048576};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    char *buf = calloc(sizes[NSIZES - 1], 1);
    if (!buf) return 1;
    for (int through_group = 0; through_group < 2; through_group++)
        for (int k = 0; k < NSIZES; k++) {
            size_t bytes = sizes[k];
            int reps = bytes >= (1 << 16) ? (repeats + 9) / 10 : repeats;
            round_trip(mpi, through_group, buf, bytes, reps / 10 + 1); /* warm the connection up */
            double best = 1e30;
            for (int t9 = 0; t9 < 9; t9++) { /* the best of nine: a busy machine adds, never takes away */
                double t = round_trip(mpi, through_group, buf, bytes, reps / 9 + 1);
                if (t < best) best = t;
            }
            if (nlsq_mpi_rank(mpi) == 0)
                printf("PINGPONG via=%s bytes=%zu one_way_us=%.2f bandwidth_MBps=%.1f\n",
                       through_group ? "group" : "mpi", bytes, best * 1e6, (double)bytes / best / 1e6);
        }
    fflush(stdout);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int level;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &level);
    nlsq_mpi *mpi = NULL;
    nlsq_error e;
    if (nlsq_mpi_open(MPI_COMM_WORLD, NULL, &mpi, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        MPI_Finalize();
        return 1;
    }
    int rc = 2;
    if (argc == 5 && strcmp(argv[1], "fit") == 0)
        rc = run_fit(mpi, argv[2], argv[3], atoi(argv[4]));
    else if (argc == 3 && strcmp(argv[1], "pingpong") == 0)
        rc = run_pingpong(mpi, atoi(argv[2]));
    else if (nlsq_mpi_rank(mpi) == 0)
        fprintf(stderr, "usage: bench_mpi fit FILE decay|poly10 REPEATS | bench_mpi pingpong REPEATS\n");
    nlsq_mpi_close(mpi);
    MPI_Finalize();
    return rc;
}
