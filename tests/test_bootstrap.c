/*
 * nlsq_bootstrap: replicas of each kind rebuilt by hand and refitted alone; bitwise the
 * same for 1 and 2 threads and for any number of replicas; on a straight
 * line the residual bootstrap's standard errors approach the formula
 * sqrt(diag(s^2 (X^T X)^-1) (m-p)/m), the wild bootstrap's the HC0 sandwich;
 * percentile coverage on simulated data; the two jackknives' accelerations
 * agree; failed replicas are counted and excluded; bad input is refused.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fit/design.h"
#include "nlsq.h"

/* A straight line a + b x with m points, noise sd `noise` (times x when
   hetero), fitted; the caller frees via line_free. */
typedef struct line {
    nlsq_model *model;
    double *x, *y, *sigma;
    size_t m;
    nlsq_data data;
    nlsq_options opt;
    nlsq_result *fit;
} line;

static double gauss(rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static int line_make(line *L, const char *text, size_t m, double noise, int hetero, unsigned long long seed)
{
    nlsq_error err;
    memset(L, 0, sizeof *L);
    if (nlsq_model_parse(text, NULL, &L->model, &err) != NLSQ_OK) return printf("    parse: %s\n", err.message), -1;
    L->m = m;
    L->x = malloc(m * sizeof *L->x);
    L->y = malloc(m * sizeof *L->y);
    rng r = {seed};
    for (size_t i = 0; i < m; i++) {
        L->x[i] = 1 + 9.0 * (double)i / (double)(m - 1);
        double f = strstr(text, "exp") ? 3 * exp(-0.4 * L->x[i]) + 0.5 : 1.5 + 0.7 * L->x[i];
        L->y[i] = f + noise * (hetero ? L->x[i] : 1) * gauss(&r);
    }
    L->data = (nlsq_data){L->x, L->y, m, NULL, NLSQ_SIGMA_NONE};
    L->opt = nlsq_options_default();
    L->opt.threads = 1;
    double p0[3] = {1, 1, 1};
    L->opt.p0 = p0;
    int rc = nlsq_curve_fit(L->model, &L->data, &L->opt, &L->fit, &err) == NLSQ_OK ? 0 : -1;
    L->opt.p0 = NULL;
    if (rc) printf("    fit: %s\n", err.message);
    return rc;
}

static void line_free(line *L)
{
    nlsq_result_free(L->fit);
    nlsq_model_free(L->model);
    free(L->x);
    free(L->y);
    free(L->sigma);
}

static nlsq_bootstrap_result *boot(line *L, nlsq_bootstrap_kind kind, size_t N, uint64_t seed, int threads)
{
    nlsq_bootstrap_options b = nlsq_bootstrap_options_default();
    b.kind = kind;
    b.replicas = N;
    b.seed = seed;
    nlsq_options o = L->opt;
    o.threads = threads;
    nlsq_bootstrap_result *r = NULL;
    nlsq_error err;
    if (nlsq_bootstrap(L->model, &L->data, &o, L->fit, &b, &r, &err) != NLSQ_OK) printf("    boot: %s\n", err.message);
    return r;
}

/* Replica i of each kind, rebuilt from the recipe nlsq.h documents (the
   splitmix64 stream of (seed, i); residual: centred weighted residuals
   times the point's sigma; wild: Rademacher signs from each draw's top
   bit; pairs: rows (x, y, sigma)) and fitted alone from popt with the same
   options: bitwise the bootstrap's row i. And the first replicas are the
   same whatever N. */
static void replica_by_hand(const line *L, const double *sig, const nlsq_result *fit, nlsq_bootstrap_kind kind,
                            uint64_t seed, size_t i, double *popt_out)
{
    enum { M = 40 };
    size_t m = L->m;
    double f[M], e[M], xs[M], ys[M], ss[M], mean = 0;
    nlsq_model_eval(L->model, fit->popt, L->x, m, f, NULL, NULL);
    for (size_t p = 0; p < m; p++) mean += (e[p] = (L->y[p] - f[p]) / sig[p]);
    mean /= (double)m;
    for (size_t p = 0; p < m; p++) e[p] -= mean;
    uint64_t s = seed, h = design_mix(&s) ^ (uint64_t)i, st = design_mix(&h);
    for (size_t p = 0; p < m; p++) {
        xs[p] = L->x[p], ss[p] = sig[p];
        if (kind == NLSQ_BOOTSTRAP_WILD) {
            double r = L->y[p] - f[p];
            ys[p] = f[p] + ((design_mix(&st) >> 63) ? r : -r);
            continue;
        }
        size_t q = (size_t)(((unsigned __int128)design_mix(&st) * m) >> 64);
        if (kind == NLSQ_BOOTSTRAP_RESIDUAL) {
            ys[p] = f[p] + sig[p] * e[q];
        } else {
            xs[p] = L->x[q], ys[p] = L->y[q], ss[p] = sig[q];
        }
    }
    nlsq_data d = {xs, ys, m, ss, NLSQ_SIGMA_PER_POINT};
    nlsq_options o = L->opt;
    o.p0 = fit->popt;
    nlsq_result *one = NULL;
    CHECK(nlsq_curve_fit(L->model, &d, &o, &one, NULL) == NLSQ_OK);
    for (int j = 0; j < 3; j++) popt_out[j] = one ? one->popt[j] : NAN;
    nlsq_result_free(one);
}

static void test_replicas_by_hand(void)
{
    line L;
    if (line_make(&L, "a*exp(-b*x) + c", 40, 0.05, 0, 11)) {
        CHECK(0);
        return;
    }
    double sig[40], p0[3] = {1, 1, 1};
    for (int p = 0; p < 40; p++) sig[p] = 0.05 * (1 + L.x[p] / 5);
    L.data.sigma = sig;
    L.data.sigma_kind = NLSQ_SIGMA_PER_POINT;
    nlsq_result *fit = NULL;
    L.opt.p0 = p0;
    CHECK(nlsq_curve_fit(L.model, &L.data, &L.opt, &fit, NULL) == NLSQ_OK);
    L.opt.p0 = NULL;
    nlsq_result *unweighted = L.fit;
    L.fit = fit;
    uint64_t seed = 12345;
    for (int kind = 0; fit && kind < 3; kind++) {
        nlsq_bootstrap_result *r = boot(&L, (nlsq_bootstrap_kind)kind, 20, seed, 1);
        nlsq_bootstrap_result *r2 = boot(&L, (nlsq_bootstrap_kind)kind, 7, seed, 2);
        CHECK(r && r2);
        if (!r || !r2) continue;
        size_t picks[2] = {0, 5};
        for (int k = 0; k < 2; k++) {
            double want[3];
            replica_by_hand(&L, sig, fit, (nlsq_bootstrap_kind)kind, seed, picks[k], want);
            for (int j = 0; j < 3; j++)
                CHECK_SAME(r->samples[picks[k] * 3 + (size_t)j], want[j], "kind %d replica %zu parameter %d", kind,
                           picks[k], j);
        }
        CHECK(memcmp(r->samples, r2->samples, 7 * 3 * sizeof(double)) == 0);
        CHECK(r->converged == 20 && r->failed == 0 && r->m == 40);
        nlsq_bootstrap_result_free(r);
        nlsq_bootstrap_result_free(r2);
    }
    L.fit = unweighted;
    nlsq_result_free(fit);
    L.data.sigma = NULL; /* not line_free's to free */
    line_free(&L);
}

/* Every kind: bitwise the same on 1 and 2 threads (statistics included). */
static void test_threads_bitwise(void)
{
    line L;
    if (line_make(&L, "a*exp(-b*x) + c", 60, 0.05, 0, 5)) {
        CHECK(0);
        return;
    }
    for (int kind = 0; kind < 3; kind++) {
        nlsq_bootstrap_result *a = boot(&L, (nlsq_bootstrap_kind)kind, 300, 9, 1);
        nlsq_bootstrap_result *b = boot(&L, (nlsq_bootstrap_kind)kind, 300, 9, 2);
        CHECK(a && b);
        if (a && b) {
            CHECK_MSG(memcmp(a->samples, b->samples, 300 * 3 * sizeof(double)) == 0, "kind %d samples differ", kind);
            CHECK_MSG(memcmp(a->bca_lower, b->bca_lower, 3 * sizeof(double)) == 0, "kind %d BCa differs", kind);
            CHECK(b->threads == 2 && a->threads == 1);
            CHECK(a->jackknife == NLSQ_JACKKNIFE_EXACT);
        }
        nlsq_bootstrap_result_free(a);
        nlsq_bootstrap_result_free(b);
    }
    line_free(&L);
}

/* (X^T X)^-1 of the line's design, and its residual variance s^2. */
static void line_xtx_inv(const line *L, double inv[4], double *s2, double *hc0)
{
    double sx = 0, sxx = 0, n = (double)L->m, rss = 0, u[4] = {0};
    for (size_t i = 0; i < L->m; i++) sx += L->x[i], sxx += L->x[i] * L->x[i];
    double det = n * sxx - sx * sx;
    inv[0] = sxx / det, inv[1] = inv[2] = -sx / det, inv[3] = n / det;
    for (size_t i = 0; i < L->m; i++) {
        double r = L->y[i] - (L->fit->popt[0] + L->fit->popt[1] * L->x[i]);
        rss += r * r;
        u[0] += r * r, u[1] += r * r * L->x[i], u[3] += r * r * L->x[i] * L->x[i];
    }
    u[2] = u[1];
    *s2 = rss / (n - 2);
    /* HC0 = inv U inv */
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            double v = 0;
            for (int c = 0; c < 2; c++)
                for (int d = 0; d < 2; d++) v += inv[a * 2 + c] * u[c * 2 + d] * inv[d * 2 + b];
            hc0[a * 2 + b] = v;
        }
}

/* Residual bootstrap on a line: perr -> sqrt(diag(s^2 inv) (m-p)/m); the
   wild bootstrap on heteroscedastic data -> the HC0 sandwich; within
   Monte Carlo error (the sd of a standard deviation from N draws is about
   sd / sqrt(2N): 4 of those). */
static void test_linear_standard_errors(void)
{
    line L;
    if (line_make(&L, "a + b*x", 50, 0.3, 0, 3)) {
        CHECK(0);
        return;
    }
    size_t N = 4000;
    double inv[4], s2, hc0[4];
    line_xtx_inv(&L, inv, &s2, hc0);
    nlsq_bootstrap_result *r = boot(&L, NLSQ_BOOTSTRAP_RESIDUAL, N, 1, 0);
    CHECK(r);
    for (int j = 0; r && j < 2; j++) {
        double want = sqrt(s2 * inv[j * 3] * (50.0 - 2) / 50.0);
        CHECK_NEAR(r->perr[j], want, 4 * want / sqrt(2.0 * (double)N), "residual perr[%d]", j);
        CHECK_NEAR(r->bias[j], 0, 4 * want / sqrt((double)N), "residual bias[%d]", j);
        /* the percentile interval brackets 95% of the replicas */
        size_t below = 0, above = 0;
        for (size_t i = 0; i < N; i++)
            below += r->samples[i * 2 + j]<r->lower[j], above += r->samples[i * 2 + j]> r->upper[j];
        CHECK_NEAR((double)below, 0.025 * (double)N, 1.5, "replicas below the lower limit");
        CHECK_NEAR((double)above, 0.025 * (double)N, 1.5, "replicas above the upper limit");
        CHECK(r->bca_lower[j] < L.fit->popt[j] && r->bca_upper[j] > L.fit->popt[j]);
    }
    nlsq_bootstrap_result_free(r);
    line_free(&L);

    if (line_make(&L, "a + b*x", 80, 0.1, 1, 4)) {
        CHECK(0);
        return;
    }
    line_xtx_inv(&L, inv, &s2, hc0);
    r = boot(&L, NLSQ_BOOTSTRAP_WILD, N, 2, 0);
    CHECK(r);
    for (int j = 0; r && j < 2; j++) {
        double want = sqrt(hc0[j * 3]);
        CHECK_NEAR(r->perr[j], want, 4 * want / sqrt(2.0 * (double)N), "wild perr[%d] against HC0", j);
    }
    nlsq_bootstrap_result_free(r);
    line_free(&L);
}

/* The accelerations of the exact jackknife and of the influence values
   (nlsq.h): the same to rounding on a line (the leave-one-out step is exact
   for a linear model); to first order on an exponential decay (within half of
   the exact value or 1e-3: their third moments differ by the curvature). */
static void accel_both(line *L, int n, double tol_rel, double tol_abs)
{
    nlsq_bootstrap_options b = nlsq_bootstrap_options_default();
    b.kind = NLSQ_BOOTSTRAP_PAIRS;
    b.replicas = 200;
    nlsq_bootstrap_result *ex = NULL, *inf = NULL;
    CHECK(nlsq_bootstrap(L->model, &L->data, &L->opt, L->fit, &b, &ex, NULL) == NLSQ_OK);
    b.jackknife_max = 0;
    CHECK(nlsq_bootstrap(L->model, &L->data, &L->opt, L->fit, &b, &inf, NULL) == NLSQ_OK);
    if (ex && inf) {
        CHECK(ex->jackknife == NLSQ_JACKKNIFE_EXACT && inf->jackknife == NLSQ_JACKKNIFE_INFLUENCE);
        CHECK(ex->jackknife_failed == 0);
        for (int j = 0; j < n; j++) {
            CHECK_NEAR(inf->accel[j], ex->accel[j], tol_rel * fabs(ex->accel[j]) + tol_abs, "accel[%d]", j);
            if (tol_rel < 1e-3) CHECK(fabs(ex->accel[j]) > 1e-4); /* skewed: not trivially 0 */
        }
        CHECK(memcmp(ex->samples, inf->samples, 200 * (size_t)n * sizeof(double)) == 0);
    }
    nlsq_bootstrap_result_free(ex);
    nlsq_bootstrap_result_free(inf);
}

static void test_jackknives_agree(void)
{
    line L;
    if (line_make(&L, "a + b*x", 200, 0.2, 1, 8)) {
        CHECK(0);
        return;
    }
    accel_both(&L, 2, 1e-6, 1e-12);
    line_free(&L);
    if (line_make(&L, "a*exp(-b*x) + c", 300, 0.05, 1, 8)) {
        CHECK(0);
        return;
    }
    accel_both(&L, 3, 0.5, 1e-3);
    line_free(&L);
}

/* 200 simulated lines, 200 residual replicas each: the 95% percentile
   interval of the slope holds the truth 95% of the time (the residual
   bootstrap without leverage correction is a little narrow at m = 40:
   about 94%; the binomial sd is 1.5%). */
static void test_coverage(void)
{
    int sets = 200, hit = 0, hit_bca = 0;
    for (int s = 0; s < sets; s++) {
        line L;
        if (line_make(&L, "a + b*x", 40, 0.5, 0, 1000 + (unsigned long long)s)) {
            CHECK(0);
            return;
        }
        nlsq_bootstrap_result *r = boot(&L, NLSQ_BOOTSTRAP_RESIDUAL, 200, (uint64_t)s, 0);
        if (r) {
            hit += r->lower[1] <= 0.7 && 0.7 <= r->upper[1];
            hit_bca += r->bca_lower[1] <= 0.7 && 0.7 <= r->bca_upper[1];
        }
        nlsq_bootstrap_result_free(r);
        line_free(&L);
    }
    double cover = (double)hit / sets, cover_bca = (double)hit_bca / sets;
    printf("    coverage of the slope: percentile %.3f, BCa %.3f (nominal 0.95)\n", cover, cover_bca);
    CHECK_NEAR(cover, 0.94, 4 * sqrt(0.95 * 0.05 / sets), "percentile coverage");
    CHECK_NEAR(cover_bca, 0.94, 4 * sqrt(0.95 * 0.05 / sets), "BCa coverage");
}

/* Replicas that fail are counted, their rows NaN, never averaged. */
static void test_failed_replicas(void)
{
    line L;
    if (line_make(&L, "a*exp(-b*x) + c", 30, 0.05, 0, 2)) {
        CHECK(0);
        return;
    }
    L.opt.max_nfev = 1; /* no replica can converge in one evaluation */
    nlsq_bootstrap_result *r = boot(&L, NLSQ_BOOTSTRAP_PAIRS, 10, 3, 1);
    CHECK(r);
    if (r) {
        CHECK(r->converged == 0 && r->failed == 10);
        CHECK(isnan(r->samples[0]) && isnan(r->perr[0]) && isnan(r->lower[0]));
        CHECK(r->status[0] <= 0);
    }
    nlsq_bootstrap_result_free(r);
    line_free(&L);
}

/* Fixed parameters stay at their value in every replica; bca off gives no
   jackknife and NaN BCa limits. */
static void test_fixed_and_no_bca(void)
{
    line L;
    if (line_make(&L, "a*exp(-b*x) + c", 30, 0.05, 0, 6)) {
        CHECK(0);
        return;
    }
    unsigned char fixed[3] = {0, 0, 1};
    L.opt.fixed = fixed;
    nlsq_bootstrap_options b = nlsq_bootstrap_options_default();
    b.replicas = 50;
    b.bca = 0;
    nlsq_bootstrap_result *r = NULL;
    CHECK(nlsq_bootstrap(L.model, &L.data, &L.opt, L.fit, &b, &r, NULL) == NLSQ_OK);
    if (r) {
        CHECK(r->jackknife == NLSQ_JACKKNIFE_NONE && isnan(r->bca_lower[0]));
        CHECK(r->perr[2] == 0 && r->lower[2] == L.fit->popt[2]);
        CHECK(r->perr[0] > 0);
    }
    nlsq_bootstrap_result_free(r);
    line_free(&L);
}

static void expect_refused(line *L, const nlsq_data *d, const nlsq_result *fit, nlsq_bootstrap_options b,
                           const char *words)
{
    nlsq_bootstrap_result *r = (nlsq_bootstrap_result *)1;
    nlsq_error err;
    nlsq_status st = nlsq_bootstrap(L->model, d, &L->opt, fit, &b, &r, &err);
    CHECK_MSG(st == NLSQ_ERR_INVALID_ARGUMENT && r == NULL, "'%s' was not refused", words);
    CHECK_MSG(strstr(err.message, words) != NULL, "message '%s' lacks '%s'", err.message, words);
}

static void test_bad_input(void)
{
    line L;
    if (line_make(&L, "a + b*x", 10, 0.1, 0, 1)) {
        CHECK(0);
        return;
    }
    nlsq_bootstrap_options b = nlsq_bootstrap_options_default();
    b.replicas = 1;
    expect_refused(&L, &L.data, L.fit, b, "at least 2");
    b = nlsq_bootstrap_options_default();
    b.kind = (nlsq_bootstrap_kind)7;
    expect_refused(&L, &L.data, L.fit, b, "kind 7");
    b = nlsq_bootstrap_options_default();
    b.level = 1;
    expect_refused(&L, &L.data, L.fit, b, "outside (0, 1)");
    b.level = NAN;
    expect_refused(&L, &L.data, L.fit, b, "outside (0, 1)");
    b = nlsq_bootstrap_options_default();
    expect_refused(&L, &L.data, NULL, b, "fit is NULL");
    double cov[100] = {0};
    for (int i = 0; i < 10; i++) cov[i * 11] = 1;
    nlsq_data d = L.data;
    d.sigma = cov;
    d.sigma_kind = NLSQ_SIGMA_COVARIANCE;
    expect_refused(&L, &d, L.fit, b, "covariance sigma");
    d = L.data;
    d.m = 2;
    expect_refused(&L, &d, L.fit, b, "2 usable points");
    nlsq_model *other;
    nlsq_model_parse("a*x + b + c", NULL, &other, NULL);
    nlsq_bootstrap_result *r = NULL;
    nlsq_error err;
    CHECK(nlsq_bootstrap(other, &L.data, &L.opt, L.fit, &b, &r, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "not a fit of this model") != NULL);
    nlsq_model_free(other);
    CHECK(strcmp(nlsq_bootstrap_kind_name(NLSQ_BOOTSTRAP_WILD), "wild") == 0 &&
          nlsq_bootstrap_kind_name((nlsq_bootstrap_kind)9) == NULL);
    line_free(&L);
}

int main(void)
{
    const test_case tests[] = {
        TEST(test_replicas_by_hand), TEST(test_threads_bitwise), TEST(test_linear_standard_errors),
        TEST(test_jackknives_agree), TEST(test_coverage),        TEST(test_failed_replicas),
        TEST(test_fixed_and_no_bca), TEST(test_bad_input),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
