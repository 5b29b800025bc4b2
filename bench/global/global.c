/*
 * bench/global: the global search's cost per start at 10^6 points.
 *
 *   bench_global [M [K [THREADS]]]     (default 10^6 points, 64 starts, all cores)
 *
 * Data: a*exp(-b*x) + c*sin(w*x) on x in [0, 10] with noise (a = 2,
 * b = 0.3, c = 0.5, w = 1.7), multimodal in w. Timed, each after a warm-up
 * fit (the compiled kernel then comes from the disk cache):
 *   single     one nlsq_curve_fit from a start near the answer
 *   global     nlsq_fit_global, K Sobol starts over the bounds, no halving
 *   halving    the same with successive halving
 *   separate   K nlsq_curve_fit calls from the same K starts, one by one
 * Prints seconds, seconds per start, per-start time / single, the cost
 * reached and how many starts reached it (docs/global-search.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlsq.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double noise(size_t i)
{
    unsigned long long h = (i + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1.0p-53 - 0.5;
}

static void die_on(nlsq_status st, const nlsq_error *e)
{
    if (st == NLSQ_OK) return;
    fprintf(stderr, "bench_global: %s\n", e->message);
    exit(1);
}

int main(int argc, char **argv)
{
    size_t M = argc > 1 ? (size_t)atof(argv[1]) : 1000000;
    int K = argc > 2 ? atoi(argv[2]) : 64, threads = argc > 3 ? atoi(argv[3]) : 0;
    double *x = malloc(2 * M * sizeof *x), *y = x + M;
    for (size_t i = 0; i < M; i++) {
        x[i] = 10.0 * (double)i / (double)M;
        y[i] = 2 * exp(-0.3 * x[i]) + 0.5 * sin(1.7 * x[i]) + 0.1 * noise(i);
    }
    nlsq_model_options mo = nlsq_model_options_default();
    mo.params = "a,b,c,w";
    nlsq_model *m;
    nlsq_error e;
    die_on(nlsq_model_parse("a*exp(-b*x) + c*sin(w*x)", &mo, &m, &e), &e);
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[4] = {0, 0, 0, 0.5}, hi[4] = {5, 2, 2, 3}, near[4] = {1.5, 0.2, 0.4, 1.6};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    o.threads = threads;
    nlsq_result *r;

    /* warm-up: the kernel is compiled (or loaded) once, waited for, and
       then comes from the disk cache for every timed fit */
    o.p0 = near;
    o.backend = NLSQ_BACKEND_JIT;
    die_on(nlsq_curve_fit(m, &d, &o, &r, &e), &e);
    nlsq_result_free(r);
    o.backend = NLSQ_BACKEND_DEFAULT;

    double t = now();
    die_on(nlsq_curve_fit(m, &d, &o, &r, &e), &e);
    double t_single = now() - t, best = r->cost;
    printf("RESULT single    M %zu  %.3f s  %d passes  backend %s  threads %d  cost %.10g  w %.6f\n", M, t_single,
           r->passes, r->backend, r->threads, r->cost, r->popt[3]);
    nlsq_result_free(r);

    o.p0 = NULL;
    for (int halving = 0; halving < 2; halving++) {
        nlsq_global_options g = nlsq_global_options_default();
        g.starts = K;
        g.halving = halving;
        t = now();
        die_on(nlsq_fit_global(m, &d, &o, &g, &r, &e), &e);
        double s = now() - t;
        const nlsq_global_summary *gs = r->global;
        printf("RESULT %-8s M %zu  K %d  %.3f s  per start %.4f s = %.3f x single  shared passes %d  vectors %d  "
               "rungs %d  cost %.10g (%s)  at best %d  minima %d  w %.6f\n",
               halving ? "halving" : "global", M, K, s, s / K, s / K / t_single, gs->shared_passes, gs->evaluations,
               gs->rungs, r->cost, fabs(r->cost - best) <= 1e-6 * best ? "the minimum" : "NOT the minimum", gs->at_best,
               gs->n_minima, r->popt[3]);
        nlsq_result_free(r);
    }

    /* CMA-ES (when built in): generations on the first rung's sample */
    {
        nlsq_global_options g = nlsq_global_options_default();
        g.method = NLSQ_GLOBAL_CMAES;
        t = now();
        nlsq_status st = nlsq_fit_global(m, &d, &o, &g, &r, &e);
        double s = now() - t;
        if (st == NLSQ_OK) {
            printf("RESULT cmaes     M %zu  %.3f s = %.3f x single  shared passes %d  vectors %d  %s  cost "
                   "%.10g (%s)  w %.6f\n",
                   M, s, s / t_single, r->global->shared_passes, r->global->evaluations,
                   r->global->rungs ? "generations on a sample" : "generations on all data", r->cost,
                   fabs(r->cost - best) <= 1e-6 * best ? "the minimum" : "NOT the minimum", r->popt[3]);
            nlsq_result_free(r);
        } else {
            printf("RESULT cmaes     n/a (%s)\n", e.message);
        }
    }

    /* the same K starts as K separate fits */
    double *u = malloc((size_t)K * 4 * sizeof *u), p0[4];
    die_on(nlsq_design_fill(NLSQ_DESIGN_SOBOL, 4, (size_t)K, 1, u, &e), &e);
    int reached = 0, passes = 0;
    t = now();
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < 4; j++) p0[j] = lo[j] + u[k * 4 + j] * (hi[j] - lo[j]);
        o.p0 = p0;
        die_on(nlsq_curve_fit(m, &d, &o, &r, &e), &e);
        reached += fabs(r->cost - best) <= 1e-6 * best;
        passes += r->passes;
        nlsq_result_free(r);
    }
    double s = now() - t;
    printf("RESULT separate  M %zu  K %d  %.3f s  per start %.4f s = %.3f x single  passes %d  at best %d\n", M, K, s,
           s / K, s / K / t_single, passes, reached);
    free(u);
    free(x);
    nlsq_model_free(m);
    return 0;
}
