/*
 * bench/batch: fits per second for batches of small fits (bench/batch.sh
 * runs it; never a test).
 *
 * Two cases: a 1-D Gaussian on a background (4 parameters, 32 points) and
 * Gpufit's benchmark case, a 2-D Gaussian on a 5x5 grid (5 parameters, 25
 * points). nlsq_fit_batch on 1 thread and on all, against, in the same
 * run, loops of GSL's multifit_nlinear (trust-region LM) and cminpack's
 * lmder over the same fits, all with analytic Jacobians and MINPACK's
 * tolerances (ftol = xtol = 1.49e-8, gtol = 0: SciPy curve_fit's for lm).
 * The peers are compiled in with -DNLSQ_BENCH_BATCH_PEERS=ON and run over
 * the first PEER_FITS fits (their rate does not depend on the count).
 *
 * usage: bench_batch [NFITS...]   (default 100000 1000000)
 * env:   SCIPY_RATE_G1, SCIPY_RATE_G2  SciPy curve_fit's fits/s for the
 *        table (bench/peer_scipy_batch.py measures them)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nlsq.h"

#ifdef NLSQ_BENCH_BATCH_PEERS
#include <cminpack-1/cminpack.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#endif

#define TOL 1.4901161193847656e-08 /* sqrt(DBL_EPSILON): MINPACK's and SciPy's */
#define PEER_FITS 200000

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* xorshift64* and Box-Muller: the same data on every machine */
static unsigned long long rng_state = 88172645463325252ull;
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}
static double range(double lo, double hi)
{
    return lo + (hi - lo) * uniform();
}
static double normal(void)
{
    double u = uniform(), v = uniform();
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

typedef struct problem {
    const char *name, *text, *vars, *params;
    int n, m, k;
    size_t nfits;
    double *x;  /* k rows of m, shared */
    double *y;  /* nfits x m */
    double *p0; /* nfits x n */
} problem;

/* f and the Jacobian row at point i of the shared grid */
static double model_point(const problem *pb, const double *p, int i, double *jrow)
{
    if (pb->k == 1) {
        double x = pb->x[i], a = p[0], mu = p[1], s = p[2], d = x - mu, e = exp(-d * d / (2 * s * s));
        if (jrow) {
            jrow[0] = e;
            jrow[1] = a * e * d / (s * s);
            jrow[2] = a * e * d * d / (s * s * s);
            jrow[3] = 1;
        }
        return a * e + p[3];
    }
    double x = pb->x[i], y = pb->x[pb->m + i], A = p[0], x0 = p[1], y0 = p[2], s = p[3];
    double dx = x - x0, dy = y - y0, e = exp(-(dx * dx + dy * dy) / (2 * s * s));
    if (jrow) {
        jrow[0] = e;
        jrow[1] = A * e * dx / (s * s);
        jrow[2] = A * e * dy / (s * s);
        jrow[3] = A * e * (dx * dx + dy * dy) / (s * s * s);
        jrow[4] = 1;
    }
    return A * e + p[4];
}

static void make_problem(problem *pb, int two_d, size_t nfits)
{
    memset(pb, 0, sizeof *pb);
    pb->nfits = nfits;
    if (!two_d) {
        *pb = (problem){"1-D Gaussian, 4 params, 32 points",
                        "a*exp(-(x-mu)^2/(2*s^2)) + b",
                        "x",
                        "a,mu,s,b",
                        4,
                        32,
                        1,
                        nfits,
                        NULL,
                        NULL,
                        NULL};
    } else {
        *pb = (problem){"2-D Gaussian 5x5, 5 params, 25 points",
                        "A*exp(-((x-x0)^2 + (y-y0)^2)/(2*s^2)) + B",
                        "x,y",
                        "A,x0,y0,s,B",
                        5,
                        25,
                        2,
                        nfits,
                        NULL,
                        NULL,
                        NULL};
    }
    pb->x = malloc((size_t)pb->k * pb->m * sizeof *pb->x);
    pb->y = malloc(nfits * pb->m * sizeof *pb->y);
    pb->p0 = malloc(nfits * pb->n * sizeof *pb->p0);
    for (int i = 0; i < pb->m; i++) {
        if (pb->k == 1) {
            pb->x[i] = i;
        } else {
            pb->x[i] = i % 5;
            pb->x[pb->m + i] = i / 5;
        }
    }
    double truth[5];
    for (size_t f = 0; f < nfits; f++) {
        if (!two_d) {
            truth[0] = range(50, 150), truth[1] = range(12, 20), truth[2] = range(2, 4), truth[3] = range(5, 15);
        } else {
            truth[0] = range(500, 1500), truth[1] = range(1.6, 2.4), truth[2] = range(1.6, 2.4),
            truth[3] = range(0.8, 1.3), truth[4] = range(5, 15);
        }
        for (int i = 0; i < pb->m; i++)
            pb->y[f * pb->m + i] = model_point(pb, truth, i, NULL) + (two_d ? 5 : 2) * normal();
        for (int j = 0; j < pb->n; j++) pb->p0[f * pb->n + j] = truth[j] * range(0.9, 1.1);
    }
}

static void free_problem(problem *pb)
{
    free(pb->x);
    free(pb->y);
    free(pb->p0);
}

typedef struct timing {
    double rate; /* fits per second */
    size_t fits, converged;
    double *popt; /* fits x n */
} timing;

static timing run_nlsq_on(const problem *pb, nlsq_model *model, nlsq_method method, double tol, int threads,
                          const char *device, char *why, size_t why_size);

static timing run_nlsq(const problem *pb, nlsq_model *model, nlsq_method method, double tol, int threads)
{
    char why[300];
    timing t = run_nlsq_on(pb, model, method, tol, threads, "cpu", why, sizeof why);
    if (!t.popt) {
        fprintf(stderr, "bench_batch: %s\n", why);
        exit(1);
    }
    return t;
}

/* popt NULL and why set when the batch could not run (no GPU). */
static timing run_nlsq_on(const problem *pb, nlsq_model *model, nlsq_method method, double tol, int threads,
                          const char *device, char *why, size_t why_size)
{
    nlsq_batch b = nlsq_batch_default();
    b.nfits = pb->nfits;
    b.m = (size_t)pb->m;
    b.x = pb->x;
    b.x_shared = 1;
    b.y = pb->y;
    b.p0 = pb->p0;
    nlsq_options o = nlsq_options_default();
    o.method = method;
    if (tol > 0) {
        o.ftol = o.xtol = tol;
        o.gtol = method == NLSQ_LM ? 0 : tol;
    }
    o.threads = threads;
    o.backend = NLSQ_BACKEND_JIT; /* compiled (or loaded) before the clock starts below */
    o.device = device;
    nlsq_batch_result *r = NULL;
    nlsq_error err;
    timing t = {0, 0, 0, NULL};
    nlsq_batch warm = b; /* compiles or loads the kernel; makes the GPU's context */
    warm.nfits = pb->nfits < 1000 ? pb->nfits : 1000;
    if (nlsq_fit_batch(model, &warm, &o, NLSQ_BATCH_PERR, &r, &err) != NLSQ_OK) {
        snprintf(why, why_size, "%s", err.message);
        return t;
    }
    nlsq_batch_result_free(r);
    double t0 = now();
    if (nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &r, &err) != NLSQ_OK) {
        snprintf(why, why_size, "%s", err.message);
        return t;
    }
    double dt = now() - t0;
    t.rate = (double)pb->nfits / dt;
    t.fits = pb->nfits;
    t.converged = r->converged;
    t.popt = malloc(pb->nfits * pb->n * sizeof *t.popt);
    memcpy(t.popt, r->popt, pb->nfits * pb->n * sizeof *t.popt);
    if (strcmp(r->backend, "jit") != 0 && strcmp(r->backend, "cuda") != 0)
        fprintf(stderr, "note: nlsq ran on the %s (%s)\n", r->backend, r->backend_note);
    if (!strcmp(r->backend, "cuda")) snprintf(why, why_size, "%s", r->device_note);
    nlsq_batch_result_free(r);
    return t;
}

#ifdef NLSQ_BENCH_BATCH_PEERS
typedef struct peer_ctx {
    const problem *pb;
    const double *y;
} peer_ctx;

/* cminpack's lmder callback: residuals (iflag 1) or the Jacobian (2),
   column-major m x n */
static int minpack_fcn(void *p, int m, int n, const double *x, double *fvec, double *fjac, int ldfjac, int iflag)
{
    peer_ctx *c = p;
    double row[5];
    for (int i = 0; i < m; i++) {
        if (iflag == 1) {
            fvec[i] = model_point(c->pb, x, i, NULL) - c->y[i];
        } else {
            model_point(c->pb, x, i, row);
            for (int j = 0; j < n; j++) fjac[j * ldfjac + i] = row[j];
        }
    }
    return 0;
}

static timing run_cminpack(const problem *pb)
{
    size_t nf = pb->nfits < PEER_FITS ? pb->nfits : PEER_FITS;
    int m = pb->m, n = pb->n, ipvt[5], info;
    double x[5], fvec[64], fjac[64 * 5], diag[5], qtf[5], wa1[5], wa2[5], wa3[5], wa4[64];
    int nfev, njev;
    timing t = {0, nf, 0, malloc(nf * n * sizeof(double))};
    double t0 = now();
    for (size_t f = 0; f < nf; f++) {
        peer_ctx c = {pb, pb->y + f * m};
        memcpy(x, pb->p0 + f * n, n * sizeof *x);
        info = __cminpack_func__(lmder)(minpack_fcn, &c, m, n, x, fvec, fjac, m, TOL, TOL, 0.0, 100 * (n + 1), diag, 1,
                                        100.0, 0, &nfev, &njev, ipvt, qtf, wa1, wa2, wa3, wa4);
        t.converged += info >= 1 && info <= 4;
        memcpy(t.popt + f * n, x, n * sizeof *x);
    }
    t.rate = (double)nf / (now() - t0);
    return t;
}

static int gsl_f(const gsl_vector *x, void *p, gsl_vector *f)
{
    peer_ctx *c = p;
    for (int i = 0; i < c->pb->m; i++) gsl_vector_set(f, i, model_point(c->pb, x->data, i, NULL) - c->y[i]);
    return GSL_SUCCESS;
}

static int gsl_df(const gsl_vector *x, void *p, gsl_matrix *J)
{
    peer_ctx *c = p;
    double row[5];
    for (int i = 0; i < c->pb->m; i++) {
        model_point(c->pb, x->data, i, row);
        for (int j = 0; j < c->pb->n; j++) gsl_matrix_set(J, i, j, row[j]);
    }
    return GSL_SUCCESS;
}

static timing run_gsl(const problem *pb)
{
    size_t nf = pb->nfits < PEER_FITS ? pb->nfits : PEER_FITS;
    int m = pb->m, n = pb->n;
    gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &par, m, n);
    peer_ctx c = {pb, NULL};
    gsl_multifit_nlinear_fdf fdf = {gsl_f, gsl_df, NULL, (size_t)m, (size_t)n, &c, 0, 0, 0};
    gsl_vector *x0 = gsl_vector_alloc(n);
    timing t = {0, nf, 0, malloc(nf * n * sizeof(double))};
    double t0 = now();
    for (size_t f = 0; f < nf; f++) {
        c.y = pb->y + f * m;
        for (int j = 0; j < n; j++) gsl_vector_set(x0, j, pb->p0[f * n + j]);
        gsl_multifit_nlinear_init(x0, &fdf, w);
        int info;
        int st = gsl_multifit_nlinear_driver(100 * (n + 1), TOL, TOL, TOL, NULL, NULL, &info, w);
        t.converged += st == GSL_SUCCESS;
        gsl_vector *x = gsl_multifit_nlinear_position(w);
        for (int j = 0; j < n; j++) t.popt[f * n + j] = gsl_vector_get(x, j);
    }
    t.rate = (double)nf / (now() - t0);
    gsl_vector_free(x0);
    gsl_multifit_nlinear_free(w);
    return t;
}
#endif

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The median and the largest |a - b| / |b| over the fits both ran. */
static void agreement(const timing *a, const timing *b, int n, double *median, double *worst)
{
    size_t nf = a->fits < b->fits ? a->fits : b->fits, cnt = nf * (size_t)n;
    double *d = malloc((cnt ? cnt : 1) * sizeof *d);
    *worst = 0;
    for (size_t i = 0; i < cnt; i++) {
        d[i] = fabs(a->popt[i] - b->popt[i]) / fmax(fabs(b->popt[i]), 1e-300);
        if (!(d[i] <= *worst)) *worst = d[i];
    }
    qsort(d, cnt, sizeof *d, cmp_double);
    *median = cnt ? d[cnt / 2] : 0;
    free(d);
}

static void row(const char *who, const timing *t, double ref, const char *note)
{
    char conv[48] = "-", ratio[24] = "-";
    if (t->fits) snprintf(conv, sizeof conv, "%zu / %zu", t->converged, t->fits);
    if (ref > 0) snprintf(ratio, sizeof ratio, "%.2f", t->rate / ref);
    printf("| %-34s | %10.3g | %8s | %-21s | %s |\n", who, t->rate, ratio, conv, note);
}

int main(int argc, char **argv)
{
    size_t counts[8] = {100000, 1000000};
    int ncounts = 2;
    if (argc > 1) {
        ncounts = 0;
        for (int i = 1; i < argc && ncounts < 8; i++) counts[ncounts++] = (size_t)atof(argv[i]);
    }
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench/batch: %d cores; tolerances ftol = xtol = 1.49e-8, gtol = 0 (MINPACK's, SciPy curve_fit lm's)\n\n",
           cores);
    for (int two_d = 0; two_d <= 1; two_d++) {
        for (int c = 0; c < ncounts; c++) {
            problem pb;
            make_problem(&pb, two_d, counts[c]);
            nlsq_model *model;
            nlsq_error err;
            nlsq_model_options mo = nlsq_model_options_default();
            mo.vars = pb.vars;
            mo.params = pb.params;
            if (nlsq_model_parse(pb.text, &mo, &model, &err) != NLSQ_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            printf("### %s, %zu fits\n\n", pb.name, pb.nfits);
            printf("| %-34s | %10s | %8s | %-21s | %s |\n", "run", "fits/s", "vs GSL", "converged", "note");
            printf("|---|---:|---:|---|---|\n");
            timing lm1 = run_nlsq(&pb, model, NLSQ_LM, TOL, 1);
            timing lmall = run_nlsq(&pb, model, NLSQ_LM, TOL, cores);
            timing trfall = run_nlsq(&pb, model, NLSQ_TRF, TOL, cores);
            timing trfdef = run_nlsq(&pb, model, NLSQ_TRF, -1, cores);
            double ref = 0;
#ifdef NLSQ_BENCH_BATCH_PEERS
            timing gsl = run_gsl(&pb), mp = run_cminpack(&pb);
            ref = gsl.rate;
#endif
            char note[160];
            snprintf(note, sizeof note, "method lm");
            row("nlsq batch, 1 thread", &lm1, ref, note);
            snprintf(note, sizeof note, "method lm, %d threads", cores);
            row("nlsq batch, all cores", &lmall, ref, note);
            snprintf(note, sizeof note, "method trf, %d threads", cores);
            row("nlsq batch trf, all cores", &trfall, ref, note);
            snprintf(note, sizeof note, "trf, nlsq's default tolerances (1e-15), %d threads", cores);
            row("nlsq batch trf 1e-15, all cores", &trfdef, ref, note);
#ifdef NLSQ_BENCH_BATCH_PEERS
            double med, worst;
            agreement(&lm1, &mp, pb.n, &med, &worst);
            snprintf(note, sizeof note, "1 thread, first %zu fits; nlsq lm vs it: median %.1e, max %.1e rel", mp.fits,
                     med, worst);
            row("cminpack lmder loop", &mp, ref, note);
            agreement(&lm1, &gsl, pb.n, &med, &worst);
            snprintf(note, sizeof note, "1 thread, first %zu fits; nlsq lm vs it: median %.1e, max %.1e rel", gsl.fits,
                     med, worst);
            row("GSL multifit_nlinear loop", &gsl, ref, note);
            free(gsl.popt);
            free(mp.popt);
#else
            printf("| (GSL, cminpack: build with -DNLSQ_BENCH_BATCH_PEERS=ON; bench/batch.sh does) | | | | |\n");
#endif
            char gwhy[300];
            timing gpu = run_nlsq_on(&pb, model, NLSQ_LM, TOL, 0, "cuda:0", gwhy, sizeof gwhy);
            if (gpu.popt) {
                double med, worst;
                agreement(&gpu, &lm1, pb.n, &med, &worst);
                snprintf(note, sizeof note, "method lm; vs nlsq's CPU: median %.1e, max %.1e rel; %.80s", med, worst,
                         gwhy);
                row("nlsq batch on the GPU (cuda:0)", &gpu, ref, note);
                free(gpu.popt);
            } else {
                printf("| nlsq batch on the GPU | - | - | - | not run: %.120s |\n", gwhy);
            }
            const char *scipy = getenv(two_d ? "SCIPY_RATE_G2" : "SCIPY_RATE_G1");
            if (scipy) {
                timing s = {atof(scipy), 0, 0, NULL};
                row("SciPy curve_fit loop", &s, ref,
                    "1 thread, lm, analytic jac, 2000 fits; bench/peer_scipy_batch.py");
            }
            printf("\n");
            free(lm1.popt);
            free(lmall.popt);
            free(trfall.popt);
            free(trfdef.popt);
            nlsq_model_free(model);
            free_problem(&pb);
        }
    }
    return 0;
}
