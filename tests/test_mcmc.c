/*
 * The ensemble sampler (nlsq_mcmc): on a straight line with known sigma
 * the posterior is Gaussian with mean popt and covariance pcov exactly,
 * and the chain must agree within Monte Carlo error (the ESS sets the
 * tolerance); the stretch move keeps a correlated 2-D Gaussian target
 * (started in it, it stays in it); Gaussian priors shift the posterior
 * as the conjugate formula says; bounds hold; fixed parameters stay;
 * the chain is bitwise the same for a seed on 1 or 2 threads and on the
 * interpreter or the compiled kernel; emcee's
 * autocorrelation time on AR(1) series against (1+phi)/(1-phi); bad
 * input gets a clear message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model_helper.h"
#include "nlsq.h"

static double gauss(rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(6.283185307179586 * v);
}

/* y = a + b x + noise at m points x in [x0, x0 + 10], sigma 0.5 known */
typedef struct line {
    double *x, *y, *s;
    size_t m;
    nlsq_data d;
} line;

static void line_make(line *L, size_t m, double x0, unsigned long long seed)
{
    rng r = {seed};
    L->m = m;
    L->x = malloc(m * sizeof *L->x);
    L->y = malloc(m * sizeof *L->y);
    L->s = malloc(m * sizeof *L->s);
    for (size_t i = 0; i < m; i++) {
        L->x[i] = x0 + 10.0 * (double)i / (double)(m - 1);
        L->s[i] = 0.5;
        L->y[i] = 1.5 - 0.7 * L->x[i] + 0.5 * gauss(&r);
    }
    L->d = (nlsq_data){L->x, L->y, m, L->s, NLSQ_SIGMA_PER_POINT};
}

static void line_free(line *L)
{
    free(L->x);
    free(L->y);
    free(L->s);
}

/* The sample covariance of parameters i, j over the chain. */
static double chain_cov(const nlsq_mcmc_result *r, int i, int j)
{
    size_t N = (size_t)r->kept * (size_t)r->walkers, n = (size_t)r->n;
    double s = 0;
    for (size_t k = 0; k < N; k++) s += (r->chain[k * n + i] - r->mean[i]) * (r->chain[k * n + j] - r->mean[j]);
    return s / (double)(N - 1);
}

static void test_linear_gaussian_posterior(void)
{
    line L;
    line_make(&L, 40, 0, 7);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 3000;
    mo.burn = 300;
    nlsq_mcmc_result *r = NULL;
    nlsq_status st = nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e);
    CHECK_MSG(st == NLSQ_OK, "nlsq_mcmc: %s", e.message);
    if (st == NLSQ_OK) {
        CHECK(r->walkers == 32 && r->kept == 2700 && r->n == 2 && r->n_free == 2);
        CHECK_MSG(r->tau_reliable, "tau reliable: %s", r->warning);
        /* the stretch move on a 2-D Gaussian accepts about half (emcee's
           experience: 0.2 .. 0.5 is healthy) */
        CHECK_MSG(r->acceptance_mean > 0.4 && r->acceptance_mean < 0.9, "acceptance %g", r->acceptance_mean);
        for (int j = 0; j < 2; j++) {
            double sd = sqrt(fit->pcov[j * 2 + j]), se = sd / sqrt(r->ess[j]);
            CHECK_NEAR(r->mean[j], fit->popt[j], 5 * se, "posterior mean of %d (ESS %.0f)", j, r->ess[j]);
            /* the variance's Monte Carlo error: about sqrt(2/ESS) relative */
            double ess = r->ess[0] < r->ess[1] ? r->ess[0] : r->ess[1];
            for (int k = 0; k < 2; k++) {
                double want = fit->pcov[j * 2 + k], scale = sqrt(fit->pcov[j * 2 + j] * fit->pcov[k * 2 + k]);
                CHECK_NEAR(chain_cov(r, j, k), want, 5 * sqrt(2 / ess) * scale, "posterior cov[%d][%d]", j, k);
            }
            /* the median and the 68 % interval of a normal */
            const double *q = r->quantiles + j * NLSQ_MCMC_NQUANT;
            CHECK_NEAR(q[2], fit->popt[j], 6 * se, "median of %d", j);
            CHECK_NEAR(q[3] - q[1], 2 * 0.994457883209753 * sd, 0.1 * sd, "68%% width of %d", j);
        }
    }
    nlsq_mcmc_result_free(r);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* Four free parameters (a cubic, known sigma): the acceptance's z^(d-1)
   matters more as d grows (a wrong power would bias every variance); the
   posterior is still N(popt, pcov). Thinning by 3 keeps every third step
   of the same chain. */
static void test_cubic_posterior_and_thinning(void)
{
    line L;
    line_make(&L, 60, -5, 21);
    nlsq_model *m = parse("a + b*x + c*x^2 + d*x^3", "a,b,c,d");
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 6000;
    mo.burn = 1000;
    nlsq_mcmc_result *r = NULL, *t = NULL;
    CHECK_MSG(nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e) == NLSQ_OK, "%s", e.message);
    mo.thin = 3;
    CHECK_MSG(nlsq_mcmc(m, &L.d, &o, fit, &mo, &t, &e) == NLSQ_OK, "%s", e.message);
    if (r && t) {
        CHECK(r->walkers == 32 && t->kept == 1667);
        for (int j = 0; j < 4; j++) {
            double sd = sqrt(fit->pcov[j * 4 + j]);
            CHECK_NEAR(r->mean[j], fit->popt[j], 5 * sd / sqrt(r->ess[j]), "4-D posterior mean of %d (ESS %.0f)", j,
                       r->ess[j]);
            CHECK_NEAR(r->sd[j], sd, 5 * sqrt(0.5 / r->ess[j]) * sd, "4-D posterior sd of %d", j);
        }
        int same = 1;
        size_t step = (size_t)r->walkers * 4;
        for (int s = 0; s < t->kept; s++)
            same &= memcmp(t->chain + (size_t)s * step, r->chain + (size_t)s * 3 * step, step * sizeof(double)) == 0;
        CHECK_MSG(same, "thin 3 is not every third step of the same chain");
    }
    nlsq_mcmc_result_free(r);
    nlsq_mcmc_result_free(t);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* A strongly correlated 2-D Gaussian (x far from 0: corr(a, b) ~ -0.99),
   the ensemble started as exact draws from it: the stretch move's
   detailed balance keeps it there. The Mahalanobis distance r^2 of the
   samples is chi-square with 2 dof: mean 2, P(r^2 < 2 ln 2) = 1/2. */
static void test_stretch_keeps_target(void)
{
    line L;
    line_make(&L, 20, 40, 11);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    const double *C = fit->pcov;
    double rho = C[1] / sqrt(C[0] * C[3]);
    CHECK_MSG(rho < -0.95, "the target is correlated: rho %g", rho);
    /* draws theta = popt + chol(C) z */
    double l11 = sqrt(C[0]), l21 = C[2] / l11, l22 = sqrt(C[3] - l21 * l21);
    enum { W = 64 };
    double init[W * 2];
    rng g = {3};
    for (int w = 0; w < W; w++) {
        double z1 = gauss(&g), z2 = gauss(&g);
        init[w * 2] = fit->popt[0] + l11 * z1;
        init[w * 2 + 1] = fit->popt[1] + l21 * z1 + l22 * z2;
    }
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.walkers = W;
    mo.steps = 400;
    mo.burn = 0;
    mo.init = init;
    nlsq_mcmc_result *r = NULL;
    CHECK_MSG(nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        double det = C[0] * C[3] - C[1] * C[2], mean = 0, inside = 0;
        size_t N = (size_t)r->kept * W;
        for (size_t k = 0; k < N; k++) {
            double da = r->chain[2 * k] - fit->popt[0], db = r->chain[2 * k + 1] - fit->popt[1];
            double r2 = (C[3] * da * da - 2 * C[1] * da * db + C[0] * db * db) / det;
            mean += r2;
            inside += r2 < 2 * log(2.0);
        }
        mean /= (double)N;
        inside /= (double)N;
        double ess = r->ess[0] < r->ess[1] ? r->ess[0] : r->ess[1];
        CHECK_NEAR(mean, 2, 5 * 2 / sqrt(ess), "mean r^2 (ESS %.0f)", ess);
        CHECK_NEAR(inside, 0.5, 5 * 0.5 / sqrt(ess), "P(r^2 < 2 ln 2)");
        /* affine invariance: the acceptance of a correlated target is the
           uncorrelated one's, about 0.6 for d = 2 */
        CHECK_MSG(r->acceptance_mean > 0.45 && r->acceptance_mean < 0.8, "acceptance %g", r->acceptance_mean);
    }
    nlsq_mcmc_result_free(r);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* Linear model, known sigma, a Gaussian prior on b: the posterior is
   Gaussian with precision F + diag(0, 1/sd0^2), F = pcov^-1, and mean
   cov (F popt + (0, mu0/sd0^2)). */
static void test_gaussian_prior_conjugate(void)
{
    line L;
    line_make(&L, 30, 0, 5);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    const double *C = fit->pcov;
    double sdb = sqrt(C[3]), mu0 = fit->popt[1] + 2 * sdb, sd0 = sdb; /* a prior as strong as the data */
    double det = C[0] * C[3] - C[1] * C[2];
    double F[4] = {C[3] / det, -C[1] / det, -C[2] / det, C[0] / det};
    double Pm[4] = {F[0], F[1], F[2], F[3] + 1 / (sd0 * sd0)};
    double dp = Pm[0] * Pm[3] - Pm[1] * Pm[2];
    double S[4] = {Pm[3] / dp, -Pm[1] / dp, -Pm[2] / dp, Pm[0] / dp};
    double v0 = F[0] * fit->popt[0] + F[1] * fit->popt[1],
           v1 = F[2] * fit->popt[0] + F[3] * fit->popt[1] + mu0 / (sd0 * sd0);
    double want[2] = {S[0] * v0 + S[1] * v1, S[2] * v0 + S[3] * v1};
    double pm[2] = {NAN, mu0}, ps[2] = {0, sd0};
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 3000;
    mo.burn = 300;
    mo.prior_mean = pm;
    mo.prior_sd = ps;
    nlsq_mcmc_result *r = NULL;
    CHECK_MSG(nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        /* the shift is a full posterior sd of b: far above the MC error */
        CHECK_MSG(fabs(want[1] - fit->popt[1]) > 0.9 * sqrt(S[3]), "the prior moves b");
        for (int j = 0; j < 2; j++) {
            double se = sqrt(S[j * 3]) / sqrt(r->ess[j]);
            CHECK_NEAR(r->mean[j], want[j], 5 * se, "conjugate posterior mean of %d", j);
            CHECK_NEAR(r->sd[j], sqrt(S[j * 3]), 5 * sqrt(0.5 / r->ess[j]) * sqrt(S[j * 3]), "posterior sd of %d", j);
        }
    }
    nlsq_mcmc_result_free(r);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* A bound through the posterior's bulk: no sample beyond it, and many
   near it. A fixed parameter stays at its value. */
static void test_bounds_and_fixed(void)
{
    line L;
    line_make(&L, 30, 0, 5);
    nlsq_model *m = parse("a + b*x + c*x^2", "a,b,c");
    nlsq_options o = nlsq_options_default();
    o.absolute_sigma = 1;
    double p0[3] = {1, -0.5, 0}, lo[3] = {-INFINITY, -0.69, -1}, hi[3] = {INFINITY, INFINITY, 1};
    unsigned char fixed[3] = {0, 0, 1};
    o.p0 = p0;
    o.lower = lo;
    o.upper = hi;
    o.fixed = fixed;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK_MSG(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK, "%s", e.message);
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 600;
    nlsq_mcmc_result *r = NULL;
    CHECK_MSG(nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        size_t N = (size_t)r->kept * (size_t)r->walkers, near = 0, beyond = 0, moved = 0;
        for (size_t k = 0; k < N; k++) {
            double b = r->chain[3 * k + 1];
            beyond += b < lo[1];
            near += b < lo[1] + 0.2 * fit->perr[1];
            moved += r->chain[3 * k + 2] != 0;
        }
        CHECK_MSG(beyond == 0, "%zu samples below the bound", beyond);
        CHECK_MSG(near > N / 50, "only %zu of %zu samples near the bound", near, N);
        CHECK_MSG(moved == 0, "the fixed parameter moved in %zu samples", moved);
        CHECK(isnan(r->tau[2]) && r->sd[2] == 0 && r->n_free == 2);
    }
    nlsq_mcmc_result_free(r);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* The same seed: the same chain, bitwise, on 1 or 2 threads (2000 points:
   the passes' vectors are split between the threads) and 40000 points
   (three chunks); another seed: another chain. */
static void test_deterministic(void)
{
    nlsq_model *m = parse("A*exp(-k*x) + c", "A,k,c");
    for (int big = 0; big < 2; big++) {
        size_t M = big ? 40000 : 2000;
        double *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y);
        rng g = {9};
        for (size_t i = 0; i < M; i++) {
            x[i] = 5.0 * (double)i / (double)M;
            y[i] = 3 * exp(-1.3 * x[i]) + 0.5 + 0.05 * gauss(&g);
        }
        double sigma = 0.05;
        nlsq_data d = {x, y, M, &sigma, NLSQ_SIGMA_SCALAR};
        double p0[3] = {1, 1, 0};
        nlsq_options o = nlsq_options_default();
        o.p0 = p0;
        nlsq_result *fit = NULL;
        nlsq_error e;
        CHECK(nlsq_curve_fit(m, &d, &o, &fit, &e) == NLSQ_OK);
        nlsq_mcmc_options mo = nlsq_mcmc_options_default();
        mo.steps = big ? 20 : 100;
        mo.seed = 42;
        nlsq_mcmc_result *r[4] = {NULL, NULL, NULL, NULL};
        for (int t = 0; t < 4; t++) {
            o.threads = t == 1 ? 2 : 1;
            mo.seed = t == 2 ? 43 : 42;
            /* run 3: on the compiled kernel (the others on the interpreter) */
            o.backend = t == 3 ? NLSQ_BACKEND_JIT : NLSQ_BACKEND_INTERP;
            CHECK_MSG(nlsq_mcmc(m, &d, &o, fit, &mo, &r[t], &e) == NLSQ_OK, "%s", e.message);
        }
        if (r[0] && r[1] && r[2]) {
            size_t bytes = (size_t)r[0]->kept * (size_t)r[0]->walkers * 3 * sizeof(double);
            CHECK_MSG(r[1]->threads == 2, "ran on %d threads", r[1]->threads);
            /* 75 or 15 kept steps: shorter than 50 tau, and said so */
            CHECK_MSG(!r[0]->tau_reliable && strstr(r[0]->warning, "shorter than 50 autocorrelation times"),
                      "a short chain's warning: '%s'", r[0]->warning);
            CHECK_MSG(memcmp(r[0]->chain, r[1]->chain, bytes) == 0, "%zu points: threads 1 and 2 differ", M);
            CHECK_MSG(memcmp(r[0]->log_prob, r[1]->log_prob, bytes / 3) == 0, "log_prob differs");
            CHECK_MSG(memcmp(r[0]->chain, r[2]->chain, bytes) != 0, "seeds 42 and 43 give the same chain");
        }
        if (r[0] && r[3] && r[3]->jit_passes == r[3]->passes && r[0]->jit_passes == 0)
            CHECK_MSG(
                memcmp(r[0]->chain, r[3]->chain, (size_t)r[0]->kept * (size_t)r[0]->walkers * 3 * sizeof(double)) == 0,
                "%zu points: the compiled kernel's chain differs from the interpreter's", M);
        else if (r[3] && !big)
            printf("    (no compiled kernel here: the interpreter and kernel chains not compared)\n");
        for (int t = 0; t < 4; t++) nlsq_mcmc_result_free(r[t]);
        nlsq_result_free(fit);
        free(x);
        free(y);
    }
    nlsq_model_free(m);
}

/* AR(1) x_t = phi x_{t-1} + e_t: tau = (1 + phi) / (1 - phi). */
static void test_autocorr_ar1(void)
{
    enum { W = 16, LEN = 20000 };
    double *x = malloc((size_t)W * LEN * sizeof *x);
    const double phis[3] = {0.0, 0.5, 0.8};
    for (int p = 0; p < 3; p++) {
        double phi = phis[p];
        rng g = {17 + (unsigned long long)p};
        for (int w = 0; w < W; w++) {
            double v = gauss(&g) / sqrt(1 - phi * phi);
            for (int t = 0; t < LEN; t++) {
                v = phi * v + gauss(&g);
                x[(size_t)w * LEN + (size_t)t] = v;
            }
        }
        double tau = nlsq_autocorr_time(x, LEN, W, 1, LEN, 5.0), want = (1 + phi) / (1 - phi);
        CHECK_NEAR(tau, want, 0.06 * want, "AR(1) phi %g", phi);
    }
    /* constant series: no time to speak of */
    for (size_t i = 0; i < (size_t)W * LEN; i++) x[i] = 1;
    CHECK(isnan(nlsq_autocorr_time(x, LEN, W, 1, LEN, 5.0)));
    free(x);
}

/* nlsq_mcmc_source on a source whose columns are in another order (y, a
   spare column, x) and a scalar sigma given as sigma_value: the chain of
   nlsq_mcmc on the arrays, bitwise. */
static void test_source(void)
{
    line L;
    line_make(&L, 300, 0, 13);
    nlsq_model *m = parse("a + b*x", "a,b");
    double sigma = 0.5;
    nlsq_data d = {L.x, L.y, L.m, &sigma, NLSQ_SIGMA_SCALAR};
    nlsq_options o = nlsq_options_default();
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &d, &o, &fit, &e) == NLSQ_OK);
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 60;
    nlsq_mcmc_result *a = NULL, *b = NULL;
    CHECK_MSG(nlsq_mcmc(m, &d, &o, fit, &mo, &a, &e) == NLSQ_OK, "%s", e.message);
    const double *cols[3] = {L.y, L.s, L.x};
    nlsq_source *src = NULL;
    CHECK(nlsq_source_from_arrays(cols, 3, L.m, &src, &e) == NLSQ_OK);
    nlsq_columns c = nlsq_columns_default();
    int xc[1] = {2};
    c.x = xc;
    c.y = 0;
    c.sigma_value = 0.5;
    CHECK_MSG(nlsq_mcmc_source(m, src, &c, &o, fit, &mo, &b, &e) == NLSQ_OK, "%s", e.message);
    if (a && b)
        CHECK_MSG(memcmp(a->chain, b->chain, (size_t)a->kept * (size_t)a->walkers * 2 * sizeof(double)) == 0,
                  "the source's chain differs from the arrays'");
    c.y = 7;
    nlsq_mcmc_result *bad = NULL;
    CHECK(nlsq_mcmc_source(m, src, &c, &o, fit, &mo, &bad, &e) == NLSQ_ERR_INVALID_ARGUMENT && !bad);
    CHECK_MSG(strstr(e.message, "nlsq_mcmc_source: the y column is 7") != NULL, "message: %s", e.message);
    nlsq_source_free(src);
    nlsq_mcmc_result_free(a);
    nlsq_mcmc_result_free(b);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

/* The fit options' progress callback hears the steps and can stop the run. */
static int stop_at_30(void *user, const nlsq_progress *p)
{
    int *calls = user;
    ++*calls;
    return p->iteration >= 30;
}

static void test_progress_stops(void)
{
    line L;
    line_make(&L, 40, 0, 2);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_options o = nlsq_options_default();
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    int calls = 0;
    o.progress = stop_at_30;
    o.progress_data = &calls;
    o.progress_interval = 1e-9;
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.steps = 100;
    nlsq_mcmc_result *r = NULL;
    CHECK(nlsq_mcmc(m, &L.d, &o, fit, &mo, &r, &e) == NLSQ_ERR_CALLBACK && !r);
    CHECK_MSG(calls == 30 && strstr(e.message, "after 30 of 100 steps"), "calls %d, message '%s'", calls, e.message);
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

static void expect_error(const nlsq_model *m, const nlsq_data *d, const nlsq_options *o, const nlsq_result *fit,
                         const nlsq_mcmc_options *mo, const char *words)
{
    nlsq_mcmc_result *r = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_mcmc(m, d, o, fit, mo, &r, &e);
    CHECK_MSG(st != NLSQ_OK && r == NULL, "accepted: expected '%s'", words);
    if (st != NLSQ_OK) CHECK_MSG(strstr(e.message, words) != NULL, "message '%s' lacks '%s'", e.message, words);
    nlsq_mcmc_result_free(r);
}

static void test_bad_input(void)
{
    line L;
    line_make(&L, 20, 0, 1);
    nlsq_model *m = parse("a + b*x", "a,b");
    nlsq_options o = nlsq_options_default();
    double lo[2] = {-10, -10}, hi[2] = {10, 10};
    o.lower = lo;
    o.upper = hi;
    nlsq_result *fit = NULL;
    nlsq_error e;
    CHECK(nlsq_curve_fit(m, &L.d, &o, &fit, &e) == NLSQ_OK);
    nlsq_mcmc_options mo = nlsq_mcmc_options_default();
    mo.walkers = 7;
    expect_error(m, &L.d, &o, fit, &mo, "walkers must be even and at least twice");
    mo.walkers = 2;
    expect_error(m, &L.d, &o, fit, &mo, "got 2");
    mo = nlsq_mcmc_options_default();
    mo.steps = 100;
    mo.burn = 100;
    expect_error(m, &L.d, &o, fit, &mo, "steps (100) must exceed burn (100)");
    mo = nlsq_mcmc_options_default();
    mo.thin = 0;
    expect_error(m, &L.d, &o, fit, &mo, "thin");
    mo = nlsq_mcmc_options_default();
    double init[8] = {0, 0, 1, 1, 2, 2, 3, 30};
    mo.walkers = 4;
    mo.init = init;
    expect_error(m, &L.d, &o, fit, &mo, "walker 3: 'b' = 30 is outside its bounds [-10, 10]");
    mo.walkers = 0;
    expect_error(m, &L.d, &o, fit, &mo, "init) needs walkers set");
    mo = nlsq_mcmc_options_default();
    double pm[2] = {0, 0}, ps[2] = {-1, 0};
    mo.prior_mean = pm;
    mo.prior_sd = ps;
    expect_error(m, &L.d, &o, fit, &mo, "the prior of 'a' has sd -1");
    unsigned char fixed[2] = {1, 0};
    nlsq_options o2 = o;
    o2.fixed = fixed;
    expect_error(m, &L.d, &o2, fit, NULL, "pass the options of the fit");
    nlsq_result_free(fit);
    nlsq_model_free(m);
    line_free(&L);
}

int main(void)
{
    const test_case tests[] = {
        TEST(test_linear_gaussian_posterior),
        TEST(test_stretch_keeps_target),
        TEST(test_cubic_posterior_and_thinning),
        TEST(test_gaussian_prior_conjugate),
        TEST(test_bounds_and_fixed),
        TEST(test_deterministic),
        TEST(test_autocorr_ar1),
        TEST(test_source),
        TEST(test_progress_stops),
        TEST(test_bad_input),
    };
    return run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
}
