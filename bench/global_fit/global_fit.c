/*
 * bench/global_fit's nlsq runner: nlsq_fit_shared (method trf) on the
 * reference shared-parameter problem (bench/global_fit/gen_data.py), one
 * fit a process so that its peak RSS is its own (run.sh runs it).
 *
 *   bench_global_fit FILE THREADS [TOL]
 *
 * The model is nlsq's text with its exact Jacobian; T is a covariate (one
 * value per data set, given per point like x, as nlsq_shared takes it);
 * x_scale 'jac', as the SciPy peer. Tolerances: nlsq's defaults (1e-15,
 * stricter than the peers' 1e-8: nlsq stops nearer the minimum, after
 * more iterations), or ftol = xtol = gtol = TOL when given. A
 * first fit of the first ten data sets compiles (or loads) the kernel
 * before the clock starts. Prints one RESULT line: seconds of the call,
 * peak RSS, cost, k0, Ea.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gfdata.h"
#include "nlsq.h"

#define MODEL "a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* nlsq_shared's layout: x rows [x of every point | T of every point] */
static double *point_rows(const gf_data *g)
{
    size_t N = g->D * g->m;
    double *rows = malloc(2 * N * sizeof *rows);
    if (!rows) return NULL;
    for (size_t d = 0; d < g->D; d++)
        for (size_t i = 0; i < g->m; i++) {
            rows[d * g->m + i] = g->x[i];
            rows[N + d * g->m + i] = g->T[d];
        }
    return rows;
}

static nlsq_status fit(const nlsq_model *model, const gf_data *g, const double *rows, size_t nsets, int threads,
                       double tol, nlsq_shared_result **res, nlsq_error *err)
{
    static const unsigned char shared[5] = {0, 0, 0, 1, 1}, covariate[2] = {0, 1};
    nlsq_shared s = nlsq_shared_default();
    s.data.nfits = nsets;
    s.data.m = g->m;
    s.data.y = g->y;
    s.data.x = rows;
    s.data.x_shared = 0;
    s.shared = shared;
    s.covariate = covariate;
    nlsq_options o = nlsq_options_default();
    o.method = NLSQ_TRF;
    o.threads = threads;
    o.p0 = g->p0;
    o.x_scale_jac = 1;
    if (tol > 0) o.ftol = o.xtol = o.gtol = tol;
    return nlsq_fit_shared(model, &s, &o, 0, res, err);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_global_fit FILE THREADS [TOL]\n");
        return 2;
    }
    gf_data g;
    if (!gf_read(argv[1], &g)) return 1;
    int threads = atoi(argv[2]);
    double tol = argc == 4 ? atof(argv[3]) : -1;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = "x,T";
    mo.params = "a,c,d,k0,Ea";
    nlsq_model *model = NULL;
    nlsq_error err;
    double *rows = point_rows(&g);
    if (!rows || nlsq_model_parse(MODEL, &mo, &model, &err) != NLSQ_OK) {
        fprintf(stderr, "bench_global_fit: %s\n", rows ? err.message : "out of memory");
        return 1;
    }
    /* the kernel's compile (or cache load), outside the timing; the rows of
       the first ten sets are those sets' own (offsets are implicit) */
    nlsq_shared_result *res = NULL;
    if (g.D > 10) {
        double *warm = point_rows(&(gf_data){10, g.m, g.x, g.T, g.y, {0}});
        if (!warm || fit(model, &g, warm, 10, threads, tol, &res, &err) != NLSQ_OK) {
            fprintf(stderr, "bench_global_fit: warm-up: %s\n", warm ? err.message : "out of memory");
            return 1;
        }
        free(warm);
        nlsq_shared_result_free(res);
    }
    double t0 = now();
    if (fit(model, &g, rows, g.D, threads, tol, &res, &err) != NLSQ_OK) {
        fprintf(stderr, "bench_global_fit: %s\n", err.message);
        return 1;
    }
    double dt = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT tool=nlsq-%dt D=%zu seconds=%.6g rss_mb=%.1f cost=%.12g k0=%.15g Ea=%.15g nfev=%d status=%d "
           "solver_mb=%.1f tol=%g\n",
           threads, g.D, dt, (double)ru.ru_maxrss / 1024.0, res->cost, res->popt[3], res->popt[4], res->nfev,
           (int)res->status, (double)res->memory_bytes / 1048576.0, tol > 0 ? tol : 1e-15);
    int ok = res->success;
    nlsq_shared_result_free(res);
    nlsq_model_free(model);
    free(rows);
    gf_free(&g);
    return ok ? 0 : 1;
}
