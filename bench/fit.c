/*
 * bench/fit: time to fit the four reference models at m = 10^3 ... 10^7
 * points: nlsq with its defaults (the compiled kernel from 20000 points,
 * the interpreter below) on all cores ("nlsq") and on one thread
 * ("nlsq-1t"), and on the interpreter with one thread ("nlsq-interp-1t"),
 * the kernel already in the cache; and, when built
 * with NLSQ_BENCH_PEERS, MINPACK's lmder (cminpack) and GSL's
 * multifit_nlinear, both with analytic Jacobians (bench/handwritten.c).
 * Ceres and SciPy run as separate programs on the same data; bench/fit.sh
 * runs everything and prints the table.
 *
 *   bench_fit [--sizes 1e3,1e4,...] [--models decay,...] [--write DIR]
 *
 * Output: one line per run,
 *   RESULT model m peer seconds nfev cost p1 ... pn
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fitdata.h"
#include "handwritten.h"
#include "nlsq.h"

#ifdef NLSQ_BENCH_PEERS
#include <cminpack-1/cminpack.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#endif

static const fit_eval_fn HAND[4] = {hand_decay, hand_gauss_linear, hand_gauss2d, hand_three_gauss};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void report(const char *model, size_t m, const char *peer, double seconds, int nfev, double cost,
                   const double *p, int n)
{
    printf("RESULT %s %zu %s %.6f %d %.17g", model, m, peer, seconds, nfev, cost);
    for (int j = 0; j < n; j++) printf(" %.17g", p[j]);
    printf("\n");
    fflush(stdout);
}

typedef struct problem {
    const bench_fit_model *bm;
    fit_eval_fn hand;
    size_t m;
    double *x, *y;
} problem;

/* One nlsq fit: model parsed, kernel loaded (from the cache, warmed by
   warm_kernel) and the fit run, all inside the time. */
static void run_nlsq(const problem *pr, const char *label, nlsq_backend backend, int threads)
{
    const bench_fit_model *bm = pr->bm;
    double t0 = now();
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = bm->vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(bm->text, &mo, &m, &e) != NLSQ_OK) {
        fprintf(stderr, "%s: %s\n", bm->name, e.message);
        exit(1);
    }
    double p0[10];
    fit_start(bm, p0);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.backend = backend;
    o.threads = threads;
    nlsq_data d = {pr->x, pr->y, pr->m, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *r = NULL;
    if (nlsq_curve_fit(m, &d, &o, &r, &e) != NLSQ_OK) {
        fprintf(stderr, "%s: %s\n", bm->name, e.message);
        exit(1);
    }
    double t = now() - t0;
    if (backend == NLSQ_BACKEND_JIT && strcmp(r->backend, "jit") != 0)
        fprintf(stderr, "%s: no compiled kernel (%s)\n", bm->name, r->backend_note);
    report(bm->name, pr->m, label, t, r->nfev, 2 * r->cost, r->popt, bm->n);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* Build the model's kernel once, untimed, so the timed fits find it in
   the cache as every run after the first does. */
static void warm_kernel(const problem *pr)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = pr->bm->vars;
    nlsq_model *m = NULL;
    if (nlsq_model_parse(pr->bm->text, &mo, &m, NULL) != NLSQ_OK) exit(1);
    double p0[10];
    fit_start(pr->bm, p0);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.backend = NLSQ_BACKEND_JIT;
    o.max_nfev = 1;
    nlsq_data d = {pr->x, pr->y, pr->m, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *r = NULL;
    if (nlsq_curve_fit(m, &d, &o, &r, NULL) == NLSQ_OK) nlsq_result_free(r);
    nlsq_model_free(m);
}

#ifdef NLSQ_BENCH_PEERS

/* f (and optionally row-major J rows [i0, i0+len)) of the hand-written model */
static void hand_chunk(const problem *pr, const double *p, size_t i0, size_t len, double *f, double *J)
{
    static double jtmp[10 * 1024];
    if (pr->bm->nvars == 1) {
        pr->hand(p, pr->x + i0, len, f, J ? J : jtmp);
        return;
    }
    double xy[2 * 1024];
    for (size_t k = 0; k < len; k++) {
        xy[k] = pr->x[i0 + k];
        xy[len + k] = pr->x[pr->m + i0 + k];
    }
    pr->hand(p, xy, len, f, J ? J : jtmp);
}

static double sum_sq(const double *f, size_t m)
{
    double s = 0;
    for (size_t i = 0; i < m; i++) s += f[i] * f[i];
    return s;
}

/* cminpack: residuals and a column-major Jacobian, chunk by chunk */
static int minpack_fcn(void *ctx, int m, int n, const double *p, double *fvec, double *fjac, int ldfjac, int iflag)
{
    const problem *pr = ctx;
    static double J[10 * 1024];
    for (size_t i0 = 0; i0 < (size_t)m; i0 += 1024) {
        size_t len = (size_t)m - i0 < 1024 ? (size_t)m - i0 : 1024;
        if (iflag == 1) {
            hand_chunk(pr, p, i0, len, fvec + i0, NULL);
            for (size_t k = 0; k < len; k++) fvec[i0 + k] -= pr->y[i0 + k];
        } else if (iflag == 2) {
            double f[1024];
            hand_chunk(pr, p, i0, len, f, J);
            for (int j = 0; j < n; j++)
                for (size_t k = 0; k < len; k++)
                    fjac[(size_t)j * (size_t)ldfjac + i0 + k] = J[k * (size_t)n + (size_t)j];
        }
    }
    return 0;
}

static void run_minpack(const problem *pr)
{
    int m = (int)pr->m, n = pr->bm->n, nfev = 0, njev = 0, ipvt[10];
    double t0 = now(), p[10], diag[10], qtf[10], wa1[10], wa2[10], wa3[10];
    fit_start(pr->bm, p);
    double *fvec = malloc(pr->m * sizeof *fvec), *fjac = malloc(pr->m * (size_t)n * sizeof *fjac);
    double *wa4 = malloc(pr->m * sizeof *wa4);
    double tol = 1.49012e-8; /* SciPy's leastsq defaults */
    int info = lmder(minpack_fcn, (void *)pr, m, n, p, fvec, fjac, m, tol, tol, 0.0, 100 * (n + 1), diag, 1, 100.0, 0,
                     &nfev, &njev, ipvt, qtf, wa1, wa2, wa3, wa4);
    double t = now() - t0;
    minpack_fcn((void *)pr, m, n, p, fvec, NULL, m, 1);
    report(pr->bm->name, pr->m, info >= 1 && info <= 4 ? "minpack" : "minpack(failed)", t, nfev, sum_sq(fvec, pr->m), p,
           n);
    free(fvec);
    free(fjac);
    free(wa4);
}

static int gsl_f(const gsl_vector *pv, void *ctx, gsl_vector *f)
{
    const problem *pr = ctx;
    for (size_t i0 = 0; i0 < pr->m; i0 += 1024) {
        size_t len = pr->m - i0 < 1024 ? pr->m - i0 : 1024;
        hand_chunk(pr, pv->data, i0, len, f->data + i0, NULL);
        for (size_t k = 0; k < len; k++) f->data[i0 + k] -= pr->y[i0 + k];
    }
    return GSL_SUCCESS;
}

static int gsl_df(const gsl_vector *pv, void *ctx, gsl_matrix *J)
{
    const problem *pr = ctx;
    static double f[1024];
    for (size_t i0 = 0; i0 < pr->m; i0 += 1024) {
        size_t len = pr->m - i0 < 1024 ? pr->m - i0 : 1024;
        hand_chunk(pr, pv->data, i0, len, f, J->data + i0 * J->tda);
    }
    return GSL_SUCCESS;
}

static void run_gsl(const problem *pr)
{
    int n = pr->bm->n;
    double t0 = now(), p0[10];
    fit_start(pr->bm, p0);
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, pr->m,
                                                                   (size_t)n);
    gsl_multifit_nlinear_fdf fdf = {gsl_f, gsl_df, NULL, pr->m, (size_t)n, (void *)pr, 0, 0, 0};
    gsl_vector_view x0 = gsl_vector_view_array(p0, (size_t)n);
    gsl_multifit_nlinear_init(&x0.vector, &fdf, w);
    int info = 0;
    int st = gsl_multifit_nlinear_driver(100 * (n + 1), 1e-8, 1e-8, 0.0, NULL, NULL, &info, w);
    double t = now() - t0;
    gsl_vector *f = gsl_multifit_nlinear_residual(w);
    double chi2;
    gsl_blas_ddot(f, f, &chi2);
    report(pr->bm->name, pr->m, st == GSL_SUCCESS ? "gsl" : "gsl(failed)", t, (int)fdf.nevalf, chi2,
           gsl_multifit_nlinear_position(w)->data, n);
    gsl_multifit_nlinear_free(w);
}
#endif

static void write_data(const problem *pr, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_%zu.bin", dir, pr->bm->name, pr->m);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(pr->x, sizeof(double), pr->m * (size_t)pr->bm->nvars, f) != pr->m * (size_t)pr->bm->nvars ||
        fwrite(pr->y, sizeof(double), pr->m, f) != pr->m) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *sizes = "1e3,1e4,1e5,1e6,1e7", *models = "decay,gauss_lin,gauss2d,gauss3", *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sizes"))
            sizes = argv[i + 1];
        else if (!strcmp(argv[i], "--models"))
            models = argv[i + 1];
        else if (!strcmp(argv[i], "--write"))
            dir = argv[i + 1];
    }
    char *sz = strdup(sizes), *save = NULL;
    for (char *s = strtok_r(sz, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        size_t m = (size_t)atof(s);
        for (int k = 0; k < 4; k++) {
            if (!strstr(models, FIT_MODELS[k].name)) continue;
            problem pr = {&FIT_MODELS[k], HAND[k], m, malloc(2 * m * sizeof(double)), malloc(m * sizeof(double))};
            fit_make_data(pr.bm, m, pr.x, pr.y, NULL, pr.hand);
            if (dir) {
                write_data(&pr, dir);
            } else {
                warm_kernel(&pr);
                /* up to 10^6 points, best of three consecutive runs of each
                   (fit_table.py keeps the fastest of repeated lines) */
                int reps = m <= 1000000 ? 3 : 1;
                for (int rep = 0; rep < reps; rep++) run_nlsq(&pr, "nlsq", NLSQ_BACKEND_DEFAULT, 0);
                for (int rep = 0; rep < reps; rep++) run_nlsq(&pr, "nlsq-1t", NLSQ_BACKEND_DEFAULT, 1);
                for (int rep = 0; rep < reps; rep++) run_nlsq(&pr, "nlsq-interp-1t", NLSQ_BACKEND_INTERP, 1);
#ifdef NLSQ_BENCH_PEERS
                for (int rep = 0; rep < reps; rep++) run_minpack(&pr);
                for (int rep = 0; rep < reps; rep++) run_gsl(&pr);
#endif
            }
            free(pr.x);
            free(pr.y);
        }
    }
    free(sz);
    return 0;
}
