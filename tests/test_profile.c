/*
 * Profile-likelihood intervals: on a linear model the F-test's limits are
 * the Student-t interval exactly; on an exponential decay they are
 * lmfit's conf_interval's (values frozen below, with the script that made
 * them); with absolute sigma the limits sit where chi2 rises by the
 * chi-square quantile; a bound before the level; an open limit; coverage
 * on simulated data (1000 sets); the same results on any number of threads
 * and from a mapped .npy as from arrays; the 2-D grid of a linear model is
 * its quadratic form, and on the decay lmfit's conf_interval2d's; bad
 * input; a failing refit reported.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model_helper.h"
#include "nlsq.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static nlsq_result *fit(const nlsq_model *m, const nlsq_data *d, const nlsq_options *o)
{
    nlsq_result *r = NULL;
    nlsq_error e;
    if (nlsq_curve_fit(m, d, o, &r, &e) != NLSQ_OK) printf("    fit: %s\n", e.message);
    return r;
}

static nlsq_profile_result *profile(const nlsq_model *m, const nlsq_data *d, const nlsq_options *o,
                                    const nlsq_result *r, const nlsq_profile_options *po)
{
    nlsq_profile_result *p = NULL;
    nlsq_error e;
    if (nlsq_profile(m, d, o, r, po, &p, &e) != NLSQ_OK) printf("    profile: %s\n", e.message);
    return p;
}

/* ---- a straight line: the t-interval ------------------------------------ */

static void line_data(double *x, double *y, int m, unsigned long long seed)
{
    rng g = {seed};
    for (int i = 0; i < m; i++) {
        x[i] = i * 0.5;
        double u1 = rng_uniform(&g) + 1e-300, u2 = rng_uniform(&g);
        y[i] = 1.5 - 0.8 * x[i] + 0.3 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    }
}

static void test_linear_equals_t_interval(void)
{
    enum { M = 20 };
    double x[M], y[M];
    line_data(x, y, M, 12345);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    nlsq_result *r = fit(m, &d, &o);
    double levels[3] = {0.6827, 0.95, 0.99};
    nlsq_profile_options po = nlsq_profile_options_default();
    po.levels = levels;
    po.nlevels = 3;
    nlsq_profile_result *p = r ? profile(m, &d, &o, r, &po) : NULL;
    CHECK(p != NULL);
    if (p) {
        CHECK(p->nparams == 2 && p->nlevels == 3 && p->absolute_sigma == 0 && p->dof == M - 2);
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++) {
                int j = p->param[i];
                double t = nlsq_t_quantile(0.5 + levels[k] / 2, r->dof), se = r->perr[j];
                CHECK_NEAR(p->lower[i * 3 + k], r->popt[j] - t * se, 2e-6 * se, "lower %d level %g", j, levels[k]);
                CHECK_NEAR(p->upper[i * 3 + k], r->popt[j] + t * se, 2e-6 * se, "upper %d level %g", j, levels[k]);
                CHECK(p->lower_status[i * 3 + k] == NLSQ_PROFILE_OK && p->upper_status[i * 3 + k] == NLSQ_PROFILE_OK);
            }
        /* the trace: sorted by value, the best fit in it */
        const nlsq_profile_trace *tr = &p->trace[0];
        int has_best = 0;
        for (int i = 0; i < tr->count; i++) {
            if (i) CHECK(tr->value[i] > tr->value[i - 1]);
            if (tr->value[i] == r->popt[0]) has_best = tr->chi2[i] == r->chi2 && tr->prob[i] == 0;
        }
        CHECK(has_best);
        CHECK(p->failed == 0 && p->message[0] == 0);
        /* a linear profile is found in one refit per side and level */
        CHECK_MSG(p->refits <= 2 * 2 * 3, "refits %d", p->refits);
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- an exponential decay against lmfit --------------------------------- */

/*
 * lmfit 1.3.4's conf_interval on this problem, and the same F-test solved
 * tightly (brentq to 1e-13 on leastsq refits at ftol = xtol = 1e-14). Made by:
 *
 *   import numpy as np, lmfit, scipy.optimize as so, scipy.stats as ss
 *   i = np.arange(30); x = 0.25 * i
 *   y = 3.0 * np.exp(-0.7 * x) + 0.5 + 0.08 * np.sin(0.37 * i * i + 1.3)
 *   def res(p):
 *       v = p.valuesdict(); return v['A'] * np.exp(-v['k'] * x) + v['c'] - y
 *   p = lmfit.Parameters(); p.add('A', 1.0); p.add('k', 1.0); p.add('c', 0.0)
 *   mini = lmfit.Minimizer(res, p)
 *   out = mini.minimize(method='leastsq', xtol=1e-14, ftol=1e-14)
 *   ci = lmfit.conf_interval(mini, out, sigmas=[0.6827, 0.95])
 *   # tight: for each name and level L, brentq(lambda v: ss.f.cdf((chi2_at(n, v)
 *   #   / out.chisqr - 1) * out.nfree, 1, out.nfree) - L, ..., xtol=1e-13, rtol=1e-13)
 *   # with chi2_at refitting the others by lmfit.minimize(..., 'leastsq',
 *   # xtol=1e-14, ftol=1e-14) with n held at v
 */
static const double decay_popt[3] = {3.0379637102727917, 0.7194945235955342, 0.5264514887951041};
/* per parameter: lower 0.6827, lower 0.95, upper 0.6827, upper 0.95 */
static const double decay_lmfit[3][4] = {
    {2.992612762617031, 2.9467754387378946, 3.0834577644473176, 3.129732382940439},
    {0.6956769507703404, 0.672060720954407, 0.7438619348357953, 0.7691606419686834},
    {0.5052241849151666, 0.48319894787193696, 0.5472276588810356, 0.5678695471314881}};
static const double decay_tight[3][4] = {
    {2.992612762621299, 2.9467771738589486, 3.0834577644434873, 3.1297309022534434},
    {0.6956769507722241, 0.6720607209567033, 0.7438619348348899, 0.7691603213756163},
    {0.5052241849154298, 0.48319894787205225, 0.5472276588789398, 0.5678695471289178}};

static void decay_data(double *x, double *y)
{
    for (int i = 0; i < 30; i++) {
        x[i] = 0.25 * i;
        y[i] = 3.0 * exp(-0.7 * x[i]) + 0.5 + 0.08 * sin(0.37 * i * i + 1.3);
    }
}

static void test_decay_against_lmfit(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    o.ftol = o.xtol = o.gtol = 1e-14;
    nlsq_result *r = fit(m, &d, &o);
    double levels[2] = {0.6827, 0.95};
    nlsq_profile_options po = nlsq_profile_options_default();
    po.levels = levels;
    po.nlevels = 2;
    nlsq_profile_result *p = r ? profile(m, &d, &o, r, &po) : NULL;
    CHECK(p != NULL);
    if (p) {
        for (int j = 0; j < 3; j++) {
            /* lmfit's leastsq differentiates by finite differences: its
               minimum is ~5e-8 from the exact one (nlsq's trf, dogbox and
               lm agree to 1e-10) */
            CHECK_NEAR(r->popt[j], decay_popt[j], 1e-5 * r->perr[j], "popt %d", j);
            double got[4] = {p->lower[j * 2], p->lower[j * 2 + 1], p->upper[j * 2], p->upper[j * 2 + 1]};
            for (int q = 0; q < 4; q++) {
                /* the tight solution to 2e-6 se (the default tol is 1e-3
                   se, but the secant's root estimate is second-order
                   accurate); lmfit's to its brentq rtol 5e-5 */
                CHECK_NEAR(got[q], decay_tight[j][q], 2e-6 * r->perr[j], "param %d limit %d vs tight", j, q);
                CHECK_NEAR(got[q], decay_lmfit[j][q], 5e-5 * fabs(decay_lmfit[j][q]), "param %d limit %d vs lmfit", j,
                           q);
            }
        }
        /* asymmetric: k's upper limit is farther than its lower */
        CHECK(p->upper[3] - r->popt[1] > r->popt[1] - p->lower[3]);
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- absolute sigma: delta chi2 = the chi-square quantile --------------- */

static void test_absolute_sigma(void)
{
    double x[30], y[30], s = 0.08;
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, &s, NLSQ_SIGMA_SCALAR};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    o.absolute_sigma = 1;
    o.ftol = o.xtol = o.gtol = 1e-14;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile_options po = nlsq_profile_options_default();
    nlsq_profile_result *p = r ? profile(m, &d, &o, r, &po) : NULL;
    CHECK(p != NULL);
    if (p) {
        double q = nlsq_chi2_quantile(0.95, 1);
        CHECK(p->absolute_sigma == 1);
        CHECK_NEAR(p->delta_chi2[0], q, 1e-12, "delta chi2");
        /* refit independently at each limit: chi2 rose by the quantile */
        for (int j = 0; j < 3; j++)
            for (int side = 0; side < 2; side++) {
                double v = side ? p->upper[j] : p->lower[j];
                double start[3];
                memcpy(start, r->popt, sizeof start);
                start[j] = v;
                unsigned char fx[3] = {0, 0, 0};
                fx[j] = 1;
                nlsq_options o2 = o;
                o2.p0 = start;
                o2.fixed = fx;
                nlsq_result *r2 = fit(m, &d, &o2);
                if (!r2) continue;
                /* chi2 rises by ~2 sqrt(q) per standard error: 1e-5 in
                   chi2 is ~2.5e-6 se */
                CHECK_NEAR(r2->chi2 - r->chi2, q, 1e-5, "param %d side %d", j, side);
                nlsq_result_free(r2);
            }
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- a bound reached before the level ----------------------------------- */

static void test_bound(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0.5}, lo[3] = {-INFINITY, -INFINITY, -INFINITY}, hi[3] = {INFINITY, INFINITY, 0.54};
    o.p0 = p0;
    o.lower = lo;
    o.upper = hi;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile_options po = nlsq_profile_options_default();
    const char *names[1] = {"c"};
    po.names = names;
    po.nnames = 1;
    nlsq_profile_result *p = r ? profile(m, &d, &o, r, &po) : NULL;
    CHECK(p != NULL);
    if (p) {
        CHECK(p->nparams == 1 && p->param[0] == 2);
        CHECK(p->upper_status[0] == NLSQ_PROFILE_BOUND);
        CHECK_SAME(p->upper[0], 0.54, "upper limit is the bound");
        CHECK(p->lower_status[0] == NLSQ_PROFILE_OK);
        CHECK_NEAR(p->lower[0], decay_tight[2][1], 1e-6, "lower limit unaffected by the upper bound");
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- a flat profile: the limit is open ----------------------------------- */

static void test_open(void)
{
    /* four points of a fast decay: as b grows the model tends to a at x = 0
       and 0 elsewhere, and chi2 tends to a value below the 99% level's */
    double x[4] = {0, 1, 2, 3}, y[4] = {2.0, 0.30, 0.01, 0.04};
    nlsq_model *m = parse("a*exp(-b*x)", "a,b");
    nlsq_data d = {x, y, 4, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[2] = {2, 2}, levels[2] = {0.683, 0.99};
    o.p0 = p0;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile_options po = nlsq_profile_options_default();
    po.levels = levels;
    po.nlevels = 2;
    nlsq_profile_result *p = r ? profile(m, &d, &o, r, &po) : NULL;
    CHECK(p != NULL);
    if (p) {
        CHECK(p->upper_status[3] == NLSQ_PROFILE_OPEN && p->upper[3] == INFINITY);
        CHECK(p->upper_status[2] == NLSQ_PROFILE_OK && isfinite(p->upper[2]));
        CHECK(p->lower_status[3] == NLSQ_PROFILE_OK && p->lower[3] < p->lower[2]);
        CHECK(p->failed == 0);
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- coverage on simulated data ----------------------------------------- */

static void test_coverage(void)
{
    enum { M = 25, SETS = 1000 };
    double x[M], y[M];
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    double truth[3] = {2.0, 0.8, 0.3};
    int cover[3] = {0, 0, 0}, runs = 0;
    rng g = {2024};
    nlsq_options o = nlsq_options_default();
    o.threads = 1;
    nlsq_profile_options po = nlsq_profile_options_default();
    po.tol = 1e-4;
    for (int s = 0; s < SETS; s++) {
        for (int i = 0; i < M; i++) {
            x[i] = 0.2 * i;
            double u1 = rng_uniform(&g) + 1e-300, u2 = rng_uniform(&g);
            y[i] = truth[0] * exp(-truth[1] * x[i]) + truth[2] + 0.1 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        }
        nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
        o.p0 = truth;
        nlsq_result *r = fit(m, &d, &o);
        nlsq_profile_result *p = r && r->success ? profile(m, &d, &o, r, &po) : NULL;
        if (p) {
            runs++;
            for (int j = 0; j < 3; j++) cover[j] += p->lower[j] <= truth[j] && truth[j] <= p->upper[j];
        }
        nlsq_profile_result_free(p);
        nlsq_result_free(r);
    }
    CHECK(runs == SETS);
    double sd = sqrt(0.95 * 0.05 / runs);
    for (int j = 0; j < 3; j++) {
        double f = (double)cover[j] / runs;
        printf("    coverage %c: %.3f (binomial sd %.4f)\n", "Akc"[j], f, sd);
        CHECK_NEAR(f, 0.95, 3 * sd, "coverage of parameter %d", j);
    }
    nlsq_model_free(m);
}

/* ---- the same on any number of threads ---------------------------------- */

static void test_threads_bitwise(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    nlsq_result *r = fit(m, &d, &o);
    double levels[2] = {0.9, 0.99};
    nlsq_profile_result *p[3] = {NULL, NULL, NULL};
    int threads[3] = {1, 2, 5};
    for (int t = 0; t < 3 && r; t++) {
        nlsq_profile_options po = nlsq_profile_options_default();
        po.levels = levels;
        po.nlevels = 2;
        po.threads = threads[t];
        p[t] = profile(m, &d, &o, r, &po);
        CHECK(p[t] != NULL);
    }
    for (int t = 1; t < 3; t++) {
        if (!p[0] || !p[t]) continue;
        CHECK(p[t]->refits == p[0]->refits);
        for (int k = 0; k < 6; k++) {
            CHECK_SAME(p[t]->lower[k], p[0]->lower[k], "lower %d threads %d", k, threads[t]);
            CHECK_SAME(p[t]->upper[k], p[0]->upper[k], "upper %d threads %d", k, threads[t]);
        }
        for (int i = 0; i < 3; i++) {
            CHECK(p[t]->trace[i].count == p[0]->trace[i].count);
            for (int q = 0; q < p[0]->trace[i].count && q < p[t]->trace[i].count; q++)
                CHECK_SAME(p[t]->trace[i].chi2[q], p[0]->trace[i].chi2[q], "trace %d point %d", i, q);
        }
    }
    for (int t = 0; t < 3; t++) nlsq_profile_result_free(p[t]);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- from a mapped .npy: the same as from arrays -------------------------- */

/* (rows, 2) little-endian float64, C order: x, y. */
static int write_npy(const char *path, const double *x, const double *y, int m)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, 2), }", m);
    int total = (10 + n + 1 + 63) / 64 * 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total - 10), 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
    for (int i = 0; i < m; i++) {
        fwrite(&x[i], 8, 1, f);
        fwrite(&y[i], 8, 1, f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void test_npy_source(void)
{
    enum { M = 40000 }; /* several chunks: the passes split over threads */
    double *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y);
    rng g = {99};
    for (int i = 0; i < M; i++) {
        x[i] = 5.0 * i / M;
        double u1 = rng_uniform(&g) + 1e-300, u2 = rng_uniform(&g);
        y[i] = 3 * exp(-0.7 * x[i]) + 0.5 + 0.2 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    }
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/nlsq_test_profile_%ld.npy", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    CHECK(write_npy(path, x, y, M) == 0);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_source *src = NULL;
    nlsq_error e;
    CHECK(nlsq_source_open_npy(path, &src, &e) == NLSQ_OK);
    nlsq_profile_options po = nlsq_profile_options_default();
    nlsq_profile_result *pa = r ? profile(m, &d, &o, r, &po) : NULL, *ps[2] = {NULL, NULL};
    for (int t = 0; t < 2 && src && r; t++) {
        po.threads = t ? 3 : 1;
        if (nlsq_profile_source(m, src, NULL, &o, r, &po, &ps[t], &e) != NLSQ_OK) printf("    %s\n", e.message);
        CHECK(ps[t] != NULL);
    }
    for (int t = 0; t < 2; t++)
        for (int k = 0; pa && ps[t] && k < 3; k++) {
            CHECK_SAME(ps[t]->lower[k], pa->lower[k], "npy lower %d, threads %d", k, t ? 3 : 1);
            CHECK_SAME(ps[t]->upper[k], pa->upper[k], "npy upper %d, threads %d", k, t ? 3 : 1);
        }
    nlsq_profile_result_free(pa);
    nlsq_profile_result_free(ps[0]);
    nlsq_profile_result_free(ps[1]);
    nlsq_source_free(src);
    remove(path);
    nlsq_result_free(r);
    nlsq_model_free(m);
    free(x);
    free(y);
}

/* ---- 2-D: a linear model's grid is its quadratic form ------------------- */

static void test_2d_linear(void)
{
    enum { M = 30 };
    double x[M], y[M];
    line_data(x, y, M, 777);
    for (int i = 0; i < M; i++) y[i] += 0.05 * x[i] * x[i];
    nlsq_model *m = parse("a + b*x + c*x^2", "a,b,c");
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile2d_options po = nlsq_profile2d_options_default();
    po.nx = 7;
    po.ny = 5;
    nlsq_profile2d_result *p = NULL;
    nlsq_error e;
    CHECK(r && nlsq_profile2d(m, &d, &o, r, "a", "c", &po, &p, &e) == NLSQ_OK);
    if (p) {
        CHECK(p->a == 0 && p->b == 2 && p->failed == 0 && p->refits == 35);
        /* chi2 = chi2_best + d' S^-1 d, S the (a, c) block of pcov / s2 */
        double s2 = r->chi2 / r->dof;
        double Saa = r->pcov[0] / s2, Scc = r->pcov[8] / s2, Sac = r->pcov[2] / s2;
        double det = Saa * Scc - Sac * Sac;
        for (int j = 0; j < p->ny; j++)
            for (int i = 0; i < p->nx; i++) {
                double da = p->a_values[i] - r->popt[0], dc = p->b_values[j] - r->popt[2];
                double q = (Scc * da * da - 2 * Sac * da * dc + Saa * dc * dc) / det;
                CHECK_NEAR(p->chi2[j * p->nx + i], r->chi2 + q, 1e-9 * (r->chi2 + q), "grid %d,%d", i, j);
                double want = nlsq_f_cdf(q / r->chi2 * r->dof / 2, 2, r->dof);
                CHECK_NEAR(p->prob[j * p->nx + i], want, 1e-8, "prob %d,%d", i, j);
            }
        CHECK_NEAR(p->a_values[0], r->popt[0] - 4 * r->perr[0], 1e-12, "grid start");
        CHECK_SAME(p->a_values[3], r->popt[0], "centre");
    }
    nlsq_profile2d_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- 2-D against lmfit's conf_interval2d -------------------------------- */

/*
 * lmfit 1.3.4's conf_interval2d(mini, out, 'A', 'k', nx=5, ny=4,
 * limits=((3.2, 2.9), (0.8, 0.65)), chi2_out=True) on the decay above
 * (mini and out as in the 1-D script): chi2 at a = 2.9 .. 3.2 (columns),
 * k = 0.65 .. 0.8 (rows).
 */
static const double decay_lmfit_chi2d[4][5] = {
    {0.15595469419993752, 0.13682722321033244, 0.14182526889004501, 0.17094883123907553, 0.22419791025742367},
    {0.1374865214591579, 0.10938337207352763, 0.10497726608466385, 0.12426820349256652, 0.1672561842972355},
    {0.1574574913663835, 0.120782634955967, 0.10734659349059437, 0.11714936697026518, 0.15019095539497984},
    {0.2104227534002848, 0.16577477278234976, 0.14389453574137384, 0.1447820422773564, 0.16843729239029798}};

static void test_2d_against_lmfit(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile2d_options po = nlsq_profile2d_options_default();
    po.nx = 5;
    po.ny = 4;
    po.a_min = 2.9, po.a_max = 3.2, po.b_min = 0.65, po.b_max = 0.8;
    nlsq_profile2d_result *p = NULL;
    nlsq_error e;
    CHECK(r && nlsq_profile2d(m, &d, &o, r, "A", "k", &po, &p, &e) == NLSQ_OK);
    for (int j = 0; p && j < 4; j++)
        for (int i = 0; i < 5; i++) {
            CHECK_NEAR(p->a_values[i], 2.9 + 0.075 * i, 1e-15, "a grid");
            /* lmfit's refits differentiate by finite differences: ~1e-9 */
            CHECK_NEAR(p->chi2[j * 5 + i], decay_lmfit_chi2d[j][i], 1e-9 * decay_lmfit_chi2d[j][i], "chi2 at %d,%d", i,
                       j);
        }
    nlsq_profile2d_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- bad input ------------------------------------------------------------ */

static void test_bad_input(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0.5};
    unsigned char fx[3] = {0, 0, 1};
    o.p0 = p0;
    o.fixed = fx;
    nlsq_result *r = fit(m, &d, &o);
    nlsq_profile_result *p = NULL;
    nlsq_error e;
    nlsq_profile_options po = nlsq_profile_options_default();
    const char *unknown[1] = {"q"};
    po.names = unknown;
    po.nnames = 1;
    CHECK(nlsq_profile(m, &d, &o, r, &po, &p, &e) == NLSQ_ERR_INVALID_ARGUMENT && !p);
    CHECK_MSG(strstr(e.message, "no parameter named 'q'") && strstr(e.message, "A, k, c"), "%s", e.message);
    const char *fixed[1] = {"c"};
    po.names = fixed;
    CHECK(nlsq_profile(m, &d, &o, r, &po, &p, &e) == NLSQ_ERR_INVALID_ARGUMENT && !p);
    CHECK_MSG(strstr(e.message, "'c' is fixed"), "%s", e.message);
    po = nlsq_profile_options_default();
    double bad_levels[3] = {0.5, 1.0, 0.0};
    po.levels = bad_levels;
    po.nlevels = 2;
    CHECK(nlsq_profile(m, &d, &o, r, &po, &p, &e) == NLSQ_ERR_INVALID_ARGUMENT && !p);
    CHECK_MSG(strstr(e.message, "level 1 is outside (0, 1)"), "%s", e.message);
    po.levels = bad_levels + 2;
    po.nlevels = 1;
    CHECK(nlsq_profile(m, &d, &o, r, &po, &p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "level 0 is outside"), "%s", e.message);
    CHECK(nlsq_profile(m, &d, &o, NULL, NULL, &p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "fit is NULL"), "%s", e.message);
    nlsq_profile2d_result *p2 = NULL;
    CHECK(nlsq_profile2d(m, &d, &o, r, "A", "zz", NULL, &p2, &e) == NLSQ_ERR_INVALID_ARGUMENT && !p2);
    CHECK_MSG(strstr(e.message, "no parameter named 'zz'"), "%s", e.message);
    CHECK(nlsq_profile2d(m, &d, &o, r, "A", "c", NULL, &p2, &e) == NLSQ_ERR_INVALID_ARGUMENT && !p2);
    CHECK_MSG(strstr(e.message, "'c' is fixed"), "%s", e.message);
    /* with c fixed the profile of the free ones runs */
    p = profile(m, &d, &o, r, NULL);
    CHECK(p && p->nparams == 2 && p->param[0] == 0 && p->param[1] == 1);
    nlsq_profile_result_free(p);
    CHECK(strcmp(nlsq_profile_status_str(NLSQ_PROFILE_BOUND), "unknown profile status") != 0);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- a refit that fails is reported -------------------------------------- */

static void test_failed_refit(void)
{
    double x[30], y[30];
    decay_data(x, y);
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    nlsq_data d = {x, y, 30, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    o.p0 = p0;
    nlsq_result *r = fit(m, &d, &o);
    /* one evaluation per refit: none converges */
    nlsq_options o2 = o;
    o2.max_nfev = 1;
    nlsq_profile_result *p = r ? profile(m, &d, &o2, r, NULL) : NULL;
    CHECK(p != NULL);
    if (p) {
        CHECK(p->failed == 6);
        for (int k = 0; k < 3; k++) {
            CHECK(p->lower_status[k] == NLSQ_PROFILE_FAILED && isnan(p->lower[k]));
            CHECK(p->upper_status[k] == NLSQ_PROFILE_FAILED && isnan(p->upper[k]));
        }
        CHECK_MSG(strstr(p->message, "A, lower side: the refit at A = ") != NULL, "%s", p->message);
    }
    nlsq_profile_result_free(p);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_linear_equals_t_interval),
        TEST(test_decay_against_lmfit),
        TEST(test_absolute_sigma),
        TEST(test_bound),
        TEST(test_open),
        TEST(test_coverage),
        TEST(test_threads_bitwise),
        TEST(test_npy_source),
        TEST(test_2d_linear),
        TEST(test_2d_against_lmfit),
        TEST(test_bad_input),
        TEST(test_failed_refit),
    };
    return run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
}
