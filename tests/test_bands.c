/*
 * Parameter intervals, confidence and prediction bands, and derived
 * quantities (src/uncertainty/): the straight line's textbook formulas to
 * rounding, a nonlinear band against a finite-difference delta method,
 * coverage on 1000 simulated data sets, derived quantities' gradients
 * against finite differences and their errors against hand formulas, the
 * library quantities, determinism, and bad input.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nlsq.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static nlsq_model *parse(const char *text)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, NULL, &m, &e) != NLSQ_OK) printf("    parse: %s\n", e.message);
    return m;
}

static double rng_normal(rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

static nlsq_result *fit(const nlsq_model *m, const double *x, const double *y, size_t n, const double *p0,
                        const double *sigma, int absolute)
{
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.absolute_sigma = absolute;
    nlsq_data d = {x, y, n, sigma, sigma ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
    nlsq_result *r = NULL;
    nlsq_error e;
    if (nlsq_curve_fit(m, &d, &o, &r, &e) != NLSQ_OK) printf("    fit: %s\n", e.message);
    return r;
}

static double rel(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

/* ---- the straight line: textbook formulas ---------------------------------- */

static void test_line_intervals_and_bands_equal_textbook_formulas(void)
{
    enum { N = 20 };
    double x[N], y[N];
    rng g = {12345};
    for (int i = 0; i < N; i++) {
        x[i] = 1 + 0.5 * i;
        y[i] = 3 - 0.7 * x[i] + 0.4 * rng_normal(&g);
    }
    nlsq_model *m = parse("a + b*x");
    double p0[2] = {1, 1};
    nlsq_result *r = fit(m, x, y, N, p0, NULL, 0);
    /* textbook: b = Sxy/Sxx, a = ybar - b xbar, s^2 = SSR/(n-2) */
    double xbar = 0, ybar = 0, sxx = 0, sxy = 0, ssr = 0;
    for (int i = 0; i < N; i++) xbar += x[i] / N, ybar += y[i] / N;
    for (int i = 0; i < N; i++) sxx += (x[i] - xbar) * (x[i] - xbar), sxy += (x[i] - xbar) * (y[i] - ybar);
    double b = sxy / sxx, a = ybar - b * xbar;
    for (int i = 0; i < N; i++) ssr += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
    double s2 = ssr / (N - 2), t = 2.10092204024096; /* scipy.stats.t.ppf(0.975, 18) */
    CHECK_NEAR(rel(r->popt[0], a), 0, 1e-12, "a");
    double q;
    CHECK(nlsq_result_critical(r, 0.95, &q, NULL) == NLSQ_OK);
    CHECK_NEAR(q, t, 1e-12 * t, "critical t(0.975, 18)");
    double lo[2], hi[2];
    CHECK(nlsq_result_intervals(r, 0.95, lo, hi, NULL) == NLSQ_OK);
    double se_a = sqrt(s2 * (1.0 / N + xbar * xbar / sxx)), se_b = sqrt(s2 / sxx);
    CHECK_NEAR(rel((hi[0] - lo[0]) / 2, t * se_a), 0, 1e-12, "a's half width");
    CHECK_NEAR(rel((hi[1] - lo[1]) / 2, t * se_b), 0, 1e-12, "b's half width");
    CHECK_NEAR(rel((hi[1] + lo[1]) / 2, b), 0, 1e-12, "b's centre");
    for (int j = 0; j < 2; j++) { /* one parameter's alone: the same bits */
        double l1, h1;
        CHECK(nlsq_result_interval(r, 0.95, j, &l1, &h1, NULL) == NLSQ_OK);
        CHECK_SAME(l1, lo[j], "interval %d alone, lower", j);
        CHECK_SAME(h1, hi[j], "interval %d alone, upper", j);
    }
    CHECK(nlsq_result_interval(r, 0.95, 2, &lo[0], &hi[0], NULL) == NLSQ_ERR_INVALID_ARGUMENT);
    /* bands at points inside, at and outside the data */
    double x0[5] = {-3, 1, xbar, 7.3, 25}, f[5], cl[5], cu[5], pl[5], pu[5];
    CHECK(nlsq_band(m, r, x0, 5, NLSQ_BAND_CONFIDENCE, 0.95, NULL, f, cl, cu, NULL) == NLSQ_OK);
    CHECK(nlsq_band(m, r, x0, 5, NLSQ_BAND_PREDICTION, 0.95, NULL, NULL, pl, pu, NULL) == NLSQ_OK);
    for (int i = 0; i < 5; i++) {
        double d2 = (x0[i] - xbar) * (x0[i] - xbar);
        double conf = t * sqrt(s2 * (1.0 / N + d2 / sxx)), pred = t * sqrt(s2 * (1 + 1.0 / N + d2 / sxx));
        CHECK_NEAR(rel(f[i], a + b * x0[i]), 0, 1e-12, "fit at %g", x0[i]);
        CHECK_NEAR(rel((cu[i] - cl[i]) / 2, conf), 0, 1e-12, "confidence half width at %g", x0[i]);
        CHECK_NEAR(rel((pu[i] - pl[i]) / 2, pred), 0, 1e-12, "prediction half width at %g", x0[i]);
        CHECK_NEAR(rel((pu[i] + pl[i]) / 2, a + b * x0[i]), 0, 1e-12, "prediction centre at %g", x0[i]);
    }
    /* a given sigma at x: sigma^2 redchi in place of redchi */
    double sg[1] = {2}, pl1, pu1, xs = 4;
    CHECK(nlsq_band(m, r, &xs, 1, NLSQ_BAND_PREDICTION, 0.95, sg, NULL, &pl1, &pu1, NULL) == NLSQ_OK);
    double d2 = (xs - xbar) * (xs - xbar);
    CHECK_NEAR(rel((pu1 - pl1) / 2, t * sqrt(s2 * (4 + 1.0 / N + d2 / sxx))), 0, 1e-12, "prediction with sigma 2");
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* absolute sigma: pcov is sigma's own scale, the normal's quantile, and a
   prediction adds sigma^2 itself */
static void test_absolute_sigma_uses_the_normal(void)
{
    enum { N = 12 };
    double x[N], y[N], s[N];
    rng g = {7};
    for (int i = 0; i < N; i++) {
        x[i] = i;
        s[i] = 0.2 + 0.05 * i;
        y[i] = 1 + 2 * x[i] + s[i] * rng_normal(&g);
    }
    nlsq_model *m = parse("a + b*x");
    double p0[2] = {1, 1};
    nlsq_result *r = fit(m, x, y, N, p0, s, 1);
    double q, z = 1.959963984540054; /* scipy.stats.norm.ppf(0.975) */
    CHECK(nlsq_result_critical(r, 0.95, &q, NULL) == NLSQ_OK);
    CHECK_NEAR(q, z, 1e-13, "z(0.975)");
    double lo[2], hi[2];
    CHECK(nlsq_result_intervals(r, 0.95, lo, hi, NULL) == NLSQ_OK);
    CHECK_NEAR(rel(hi[1] - r->popt[1], z * r->perr[1]), 0, 1e-14, "b's upper limit");
    double x0 = 3.5, sg = 0.3, f, se_c, se_p;
    CHECK(nlsq_band_stderr(m, r, &x0, 1, &sg, &f, &se_c, &se_p, NULL) == NLSQ_OK);
    double var = r->pcov[0] + 2 * x0 * r->pcov[1] + x0 * x0 * r->pcov[3];
    CHECK_NEAR(rel(se_c, sqrt(var)), 0, 1e-12, "confidence sd");
    CHECK_NEAR(rel(se_p, sqrt(var + sg * sg)), 0, 1e-12, "prediction sd adds sigma^2");
    CHECK(nlsq_band_stderr(m, r, &x0, 1, NULL, NULL, NULL, &se_p, NULL) == NLSQ_OK);
    CHECK_NEAR(rel(se_p, sqrt(var + 1)), 0, 1e-12, "absolute sigma, no sigma at x: variance 1");
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- a nonlinear model: the exact Jacobian against finite differences ------ */

static void test_nonlinear_band_matches_finite_difference_delta_method(void)
{
    enum { N = 40 };
    double x[N], y[N];
    rng g = {99};
    for (int i = 0; i < N; i++) {
        x[i] = 0.1 * i;
        y[i] = 5 * exp(-1.3 * x[i]) + 0.5 + 0.05 * rng_normal(&g);
    }
    nlsq_model *m = parse("A*exp(-k*x) + c");
    double p0[3] = {4, 1, 0};
    nlsq_result *r = fit(m, x, y, N, p0, NULL, 0);
    double x0[4] = {0, 0.77, 2.5, 6}, f[4], se[4];
    CHECK(nlsq_band_stderr(m, r, x0, 4, NULL, f, se, NULL, NULL) == NLSQ_OK);
    for (int i = 0; i < 4; i++) {
        double gr[3], p[3];
        for (int j = 0; j < 3; j++) { /* central differences of the hand-written model */
            double h = 1e-6 * fmax(fabs(r->popt[j]), 1);
            memcpy(p, r->popt, sizeof p);
            p[j] += h;
            double fp = p[0] * exp(-p[1] * x0[i]) + p[2];
            p[j] -= 2 * h;
            double fm = p[0] * exp(-p[1] * x0[i]) + p[2];
            gr[j] = (fp - fm) / (2 * h);
        }
        double var = 0;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) var += gr[a] * r->pcov[a * 3 + b] * gr[b];
        CHECK_NEAR(rel(se[i], sqrt(var)), 0, 1e-7, "band sd at x = %g", x0[i]);
    }
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* a component of a sum of shapes: its own band, through the same call */
static void test_component_band_uses_its_own_columns(void)
{
    enum { N = 200 };
    double x[N], y[N];
    rng g = {5};
    for (int i = 0; i < N; i++) {
        x[i] = 0.05 * i;
        y[i] = 3 * exp(-0.5 * pow((x[i] - 3) / 0.6, 2)) + 2 * exp(-0.5 * pow((x[i] - 6) / 0.8, 2)) +
               0.05 * rng_normal(&g);
    }
    nlsq_model *m = parse("gaussian(x) + gaussian(x)");
    double p0[6] = {4, 3, 0.5, 4, 6, 0.7};
    nlsq_result *r = fit(m, x, y, N, p0, NULL, 0);
    nlsq_component c;
    CHECK(nlsq_model_component(m, 1, &c, NULL) == NLSQ_OK);
    double x0 = 5.5, f, se, J[6];
    CHECK(nlsq_band_stderr(c.value, r, &x0, 1, NULL, &f, &se, NULL, NULL) == NLSQ_OK);
    nlsq_model_eval(c.value, r->popt, &x0, 1, NULL, J, NULL);
    double var = 0;
    for (int a = 3; a < 6; a++)
        for (int b = 3; b < 6; b++) var += J[a] * r->pcov[a * 6 + b] * J[b];
    CHECK(J[0] == 0 && J[1] == 0 && J[2] == 0);
    CHECK_NEAR(rel(se, sqrt(var)), 0, 1e-13, "component 2's band sd");
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* ---- coverage on 1000 simulated data sets ----------------------------------- */

/* 0.95 within 3 binomial standard deviations of 1000 trials */
#define COVERAGE_BOUND (3 * sqrt(0.95 * 0.05 / 1000))

static void coverage(const char *text, const double *truth, int np, double (*f)(const double *, double), int n,
                     double x_lo, double x_hi, double noise, int absolute, double x0, unsigned long long seed)
{
    enum { TRIALS = 1000 };
    nlsq_model *m = parse(text);
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *s = malloc(n * sizeof *s);
    int in_param[8] = {0}, in_conf = 0, in_pred = 0, fits = 0;
    rng g = {seed};
    for (int i = 0; i < n; i++) {
        x[i] = x_lo + (x_hi - x_lo) * i / (n - 1);
        s[i] = noise;
    }
    for (int trial = 0; trial < TRIALS; trial++) {
        for (int i = 0; i < n; i++) y[i] = f(truth, x[i]) + noise * rng_normal(&g);
        nlsq_result *r = fit(m, x, y, (size_t)n, truth, absolute ? s : NULL, absolute);
        if (!r || !r->success) {
            nlsq_result_free(r);
            continue;
        }
        fits++;
        double lo[8], hi[8], cl, cu, pl, pu;
        nlsq_result_intervals(r, 0.95, lo, hi, NULL);
        for (int j = 0; j < np; j++) in_param[j] += lo[j] <= truth[j] && truth[j] <= hi[j];
        nlsq_band(m, r, &x0, 1, NLSQ_BAND_CONFIDENCE, 0.95, NULL, NULL, &cl, &cu, NULL);
        double truth0 = f(truth, x0), ynew = truth0 + noise * rng_normal(&g);
        in_conf += cl <= truth0 && truth0 <= cu;
        nlsq_band(m, r, &x0, 1, NLSQ_BAND_PREDICTION, 0.95, absolute ? &noise : NULL, NULL, &pl, &pu, NULL);
        in_pred += pl <= ynew && ynew <= pu;
        nlsq_result_free(r);
    }
    CHECK_MSG(fits == TRIALS, "%s: %d of %d fits converged", text, fits, TRIALS);
    if (getenv("NLSQ_TEST_VERBOSE"))
        printf("    %s%s: parameters %.3f %.3f, confidence band %.3f, prediction band %.3f\n", text,
               absolute ? " (absolute sigma)" : "", in_param[0] / (double)TRIALS, in_param[1] / (double)TRIALS,
               in_conf / (double)TRIALS, in_pred / (double)TRIALS);
    for (int j = 0; j < np; j++)
        CHECK_NEAR(in_param[j] / (double)TRIALS, 0.95, COVERAGE_BOUND, "%s: coverage of parameter %d", text, j);
    CHECK_NEAR(in_conf / (double)TRIALS, 0.95, COVERAGE_BOUND, "%s: confidence band at x = %g", text, x0);
    CHECK_NEAR(in_pred / (double)TRIALS, 0.95, COVERAGE_BOUND, "%s: prediction band at x = %g", text, x0);
    free(x);
    free(y);
    free(s);
    nlsq_model_free(m);
}

static double line(const double *p, double x)
{
    return p[0] + p[1] * x;
}

static double decay(const double *p, double x)
{
    return p[0] * exp(-p[1] * x) + p[2];
}

/* with 8 points (6 dof) a normal quantile would cover about 90%: the t
   interval's 95% shows the dof are used */
static void test_coverage_of_t_intervals_and_bands_on_a_line(void)
{
    double truth[2] = {1.5, -0.8};
    coverage("a + b*x", truth, 2, line, 8, 0, 5, 0.3, 0, 4.2, 2024);
}

static void test_coverage_with_absolute_sigma(void)
{
    double truth[2] = {1.5, -0.8};
    coverage("a + b*x", truth, 2, line, 8, 0, 5, 0.3, 1, 4.2, 77);
}

static void test_coverage_of_a_nonlinear_decay(void)
{
    double truth[3] = {5, 1.3, 0.5};
    coverage("A*exp(-k*x) + c", truth, 3, decay, 30, 0, 4, 0.05, 0, 1.0, 31337);
}

/* ---- determinism, blocks, bad input ----------------------------------------- */

static void test_band_is_deterministic_and_blocks_change_nothing(void)
{
    enum { N = 30, P = 40000 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i * 0.2, y[i] = 2 * exp(-0.4 * x[i]) + 0.01 * sin(7.0 * i);
    nlsq_model *m = parse("A*exp(-k*x)");
    double p0[2] = {1, 0.1};
    nlsq_result *r = fit(m, x, y, N, p0, NULL, 0);
    double *xs = malloc(P * sizeof *xs), *l1 = malloc(P * sizeof *l1), *u1 = malloc(P * sizeof *u1),
           *l2 = malloc(P * sizeof *l2), *u2 = malloc(P * sizeof *u2);
    for (int i = 0; i < P; i++) xs[i] = i * 1e-3;
    CHECK(nlsq_band(m, r, xs, P, NLSQ_BAND_PREDICTION, 0.9, NULL, NULL, l1, u1, NULL) == NLSQ_OK);
    CHECK(nlsq_band(m, r, xs, P, NLSQ_BAND_PREDICTION, 0.9, NULL, NULL, l2, u2, NULL) == NLSQ_OK);
    CHECK(memcmp(l1, l2, P * sizeof *l1) == 0 && memcmp(u1, u2, P * sizeof *u1) == 0);
    /* points past the first block of 4096, one at a time */
    int bad = 0;
    for (int i = 4090; i < 20000; i += 97) {
        double l, u;
        nlsq_band(m, r, &xs[i], 1, NLSQ_BAND_PREDICTION, 0.9, NULL, NULL, &l, &u, NULL);
        bad += rel(l, l1[i]) > 1e-14 || rel(u, u1[i]) > 1e-14;
    }
    CHECK_MSG(bad == 0, "%d points differ when evaluated alone", bad);
    /* the same bitwise on one thread and on three */
    const char *was = getenv("NLSQ_THREADS");
    char saved[32] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    setenv("NLSQ_THREADS", "1", 1);
    CHECK(nlsq_band(m, r, xs, P, NLSQ_BAND_PREDICTION, 0.9, NULL, NULL, l2, u2, NULL) == NLSQ_OK);
    CHECK(memcmp(l1, l2, P * sizeof *l1) == 0 && memcmp(u1, u2, P * sizeof *u1) == 0);
    setenv("NLSQ_THREADS", "3", 1);
    CHECK(nlsq_band(m, r, xs, P, NLSQ_BAND_PREDICTION, 0.9, NULL, NULL, l2, u2, NULL) == NLSQ_OK);
    CHECK(memcmp(l1, l2, P * sizeof *l1) == 0 && memcmp(u1, u2, P * sizeof *u1) == 0);
    if (was)
        setenv("NLSQ_THREADS", saved, 1);
    else
        unsetenv("NLSQ_THREADS");
    free(xs), free(l1), free(u1), free(l2), free(u2);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* two variables, more points than a block: each block takes its rows of
   both x and y */
static void test_band_of_a_plane_in_two_variables(void)
{
    enum { N = 50, P = 9000 };
    double xy[2 * N], z[N];
    rng g = {21};
    for (int i = 0; i < N; i++) {
        xy[i] = rng_range(&g, 0, 4);
        xy[N + i] = rng_range(&g, -1, 1);
        z[i] = 1 + 2 * xy[i] - 3 * xy[N + i] + 0.1 * rng_normal(&g);
    }
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = "x,y";
    nlsq_model *m = NULL;
    CHECK(nlsq_model_parse("c + a*x + b*y", &mo, &m, NULL) == NLSQ_OK);
    double p0[3] = {0, 0, 0};
    nlsq_result *r = fit(m, xy, z, N, p0, NULL, 0);
    double *pts = malloc(2 * P * sizeof *pts), *f = malloc(P * sizeof *f), *se = malloc(P * sizeof *se);
    for (int i = 0; i < P; i++) pts[i] = 0.001 * i, pts[P + i] = -1 + 0.0002 * i;
    CHECK(nlsq_band_stderr(m, r, pts, P, NULL, f, se, NULL, NULL) == NLSQ_OK);
    int bad = 0;
    for (int i = 0; i < P; i += 7) {
        double gr[3] = {1, pts[i], pts[P + i]}, var = 0; /* parameters in order c, a, b */
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) var += gr[a] * r->pcov[a * 3 + b] * gr[b];
        double want = r->popt[0] + r->popt[1] * pts[i] + r->popt[2] * pts[P + i];
        bad += rel(se[i], sqrt(var)) > 1e-12 || rel(f[i], want) > 1e-13;
    }
    CHECK_MSG(bad == 0, "%d points of the plane's band differ from g^T pcov g", bad);
    free(pts), free(f), free(se);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

static void test_bad_input_is_named(void)
{
    double x[5] = {0, 1, 2, 3, 4}, y[5] = {1, 3, 5.2, 6.9, 9.1};
    nlsq_model *m = parse("a + b*x"), *other = parse("a*x");
    double p0[2] = {1, 1};
    nlsq_result *r = fit(m, x, y, 5, p0, NULL, 0);
    nlsq_error e;
    double q, lo[2], hi[2], x0 = 1, sg = -1;
    const double levels[] = {0, 1, 1.5, -0.2, NAN};
    for (int k = 0; k < 5; k++) {
        CHECK(nlsq_result_critical(r, levels[k], &q, &e) == NLSQ_ERR_INVALID_ARGUMENT);
        CHECK_MSG(strstr(e.message, "outside (0, 1)") != NULL, "level %g: %s", levels[k], e.message);
        CHECK(nlsq_result_intervals(r, levels[k], lo, hi, &e) == NLSQ_ERR_INVALID_ARGUMENT);
        CHECK(nlsq_band(m, r, &x0, 1, NLSQ_BAND_CONFIDENCE, levels[k], NULL, NULL, lo, hi, &e) ==
              NLSQ_ERR_INVALID_ARGUMENT);
    }
    CHECK(nlsq_band(other, r, &x0, 1, NLSQ_BAND_CONFIDENCE, 0.95, NULL, NULL, lo, hi, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "model has 1 parameters but the fit has 2") != NULL, "%s", e.message);
    CHECK(nlsq_band(m, r, &x0, 1, NLSQ_BAND_PREDICTION, 0.95, &sg, NULL, lo, hi, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "sigma[0] is -1") != NULL, "%s", e.message);
    int dof = r->dof;
    r->dof = 0;
    CHECK(nlsq_result_critical(r, 0.95, &q, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "0 degrees of freedom") != NULL, "%s", e.message);
    r->dof = dof;
    nlsq_result_free(r);
    nlsq_model_free(m);
    nlsq_model_free(other);
}

/* ---- derived quantities ----------------------------------------------------- */

static nlsq_result *gaussian_fit(nlsq_model *m, const double *p0)
{
    enum { N = 120 };
    static double x[N], y[N];
    rng g = {4242};
    for (int i = 0; i < N; i++) {
        x[i] = -3 + 0.06 * i;
        y[i] = 2.5 * exp(-0.5 * pow((x[i] - 0.4) / 0.7, 2)) + 0.3 + 0.04 * rng_normal(&g);
    }
    return fit(m, x, y, N, p0, NULL, 0);
}

static void test_derived_values_gradients_and_errors(void)
{
    nlsq_model *m = parse("A*exp(-(x - mu)^2/(2*s^2)) + c");
    double p0[4] = {2, 0, 1, 0};
    nlsq_result *r = gaussian_fit(m, p0);
    const char *exprs[] = {"fwhm = 2*sqrt(2*log(2))*s", "A*s*sqrt(2*pi)", "ratio = A/s^2 + where(c > 0, c, -c)"};
    nlsq_derived *d = NULL;
    nlsq_error e;
    CHECK(nlsq_derive(m, r, exprs, 3, &d, &e) == NLSQ_OK);
    if (!d) {
        printf("    %s\n", e.message);
        return;
    }
    CHECK(strcmp(d->names[0], "fwhm") == 0 && strcmp(d->names[1], "A*s*sqrt(2*pi)") == 0 &&
          strcmp(d->names[2], "ratio") == 0);
    const double *p = r->popt;
    double k = 2 * sqrt(2 * log(2.0));
    CHECK_NEAR(rel(d->value[0], k * p[2]), 0, 1e-15, "fwhm");
    CHECK_NEAR(rel(d->value[1], p[0] * p[2] * sqrt(2 * M_PI)), 0, 1e-15, "area");
    /* gradients against central differences of the hand formulas */
    for (int q = 0; q < 3; q++)
        for (int j = 0; j < 4; j++) {
            double pp[4], h = 1e-6 * fmax(fabs(p[j]), 1), v[2];
            for (int side = 0; side < 2; side++) {
                memcpy(pp, p, sizeof pp);
                pp[j] += side ? -h : h;
                v[side] = q == 0 ? k * pp[2]
                        : q == 1 ? pp[0] * pp[2] * sqrt(2 * M_PI)
                                 : pp[0] / (pp[2] * pp[2]) + fabs(pp[3]);
            }
            double fd = (v[0] - v[1]) / (2 * h);
            CHECK_NEAR(d->grad[q * 4 + j], fd, 1e-7 * fmax(fabs(fd), 1), "d quantity %d / d p%d", q, j);
        }
    /* the area's error by hand: g = (s sqrt(2pi), 0, A sqrt(2pi), 0) */
    double ga = p[2] * sqrt(2 * M_PI), gs = p[0] * sqrt(2 * M_PI);
    double var = ga * ga * r->pcov[0] + 2 * ga * gs * r->pcov[2] + gs * gs * r->pcov[10];
    CHECK_NEAR(rel(d->se[1], sqrt(var)), 0, 1e-13, "area's standard error");
    CHECK_NEAR(rel(d->se[0], k * r->perr[2]), 0, 1e-14, "fwhm's standard error");
    /* covariance of fwhm and area: k (A sqrt(2pi) var(s) + s sqrt(2pi) cov(A, s)) */
    double c01 = k * (gs * r->pcov[10] + ga * r->pcov[2]);
    CHECK_NEAR(rel(d->cov[1], c01), 0, 1e-13, "cov(fwhm, area)");
    CHECK_NEAR(d->cov[1], d->cov[3], 0, "cov symmetric");
    CHECK_NEAR(d->corr[0 * 4 + 2], 1, 1e-14, "fwhm is perfectly correlated with s");
    nlsq_derived_free(d);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

static void test_library_quantities_by_name(void)
{
    nlsq_model *m = parse("gaussian(x) + lorentzian(x) + voigt(x) + exponential(x) + constant(x)");
    int count = nlsq_model_num_quantities(m);
    CHECK_MSG(count == 3 + 3 + 3 + 2, "%d quantities", count);
    nlsq_quantity q;
    CHECK(nlsq_model_quantity(m, 0, &q, NULL) == NLSQ_OK && strcmp(q.name, "gaussian1_fwhm") == 0 &&
          strcmp(q.definition, "2*sqrt(2*log(2))*gaussian1_sigma") == 0);
    CHECK(nlsq_model_quantity(m, count, &q, NULL) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_model_free(m);

    /* a call that gave its parameters is numbered after those that made
       theirs: no two quantities share a name */
    m = parse("gaussian(x, A, mu, s) + gaussian(x) + gaussian(x, B, nu, 2*t)");
    count = nlsq_model_num_quantities(m);
    CHECK_MSG(count == 3 + 3 + 1, "%d quantities (the third call's width is an expression: area only)", count);
    for (int a = 0; a < count; a++) {
        nlsq_quantity qa, qb;
        nlsq_model_quantity(m, a, &qa, NULL);
        if (a == 0)
            CHECK_MSG(!strcmp(qa.name, "gaussian2_fwhm") && !strcmp(qa.definition, "2*sqrt(2*log(2))*s"), "%s = %s",
                      qa.name, qa.definition);
        if (a == 6)
            CHECK_MSG(!strcmp(qa.name, "gaussian3_area") && !strcmp(qa.definition, "B"), "%s = %s", qa.name,
                      qa.definition);
        for (int b = 0; b < a; b++) {
            nlsq_model_quantity(m, b, &qb, NULL);
            CHECK_MSG(strcmp(qa.name, qb.name) != 0, "two quantities named %s", qa.name);
        }
    }
    nlsq_model_free(m);

    /* values and errors through nlsq_derive, against hand formulas */
    m = parse("gaussian(x) + gaussian(x) + constant(x)");
    double p0[7] = {4, -1, 0.5, 2, 1.5, 0.5, 0.1};
    enum { N = 300 };
    double x[N], y[N];
    rng g = {11};
    for (int i = 0; i < N; i++) {
        x[i] = -4 + 0.025 * i;
        y[i] = 3.0 / (0.6 * sqrt(2 * M_PI)) * exp(-0.5 * pow((x[i] + 1) / 0.6, 2)) +
               1.5 / (0.4 * sqrt(2 * M_PI)) * exp(-0.5 * pow((x[i] - 1.2) / 0.4, 2)) + 0.2 + 0.03 * rng_normal(&g);
    }
    nlsq_result *r = fit(m, x, y, N, p0, NULL, 0);
    const char *exprs[] = {"gaussian1_fwhm", "ratio = gaussian1_height/gaussian2_height", "gaussian2_area"};
    nlsq_derived *d = NULL;
    nlsq_error e;
    CHECK(nlsq_derive(m, r, exprs, 3, &d, &e) == NLSQ_OK);
    if (!d) {
        printf("    %s\n", e.message);
    } else {
        const double *p = r->popt;
        CHECK_NEAR(rel(d->value[0], 2 * sqrt(2 * log(2.0)) * p[2]), 0, 1e-15, "gaussian1_fwhm");
        double h1 = p[0] / (p[2] * sqrt(2 * M_PI)), h2 = p[3] / (p[5] * sqrt(2 * M_PI));
        CHECK_NEAR(rel(d->value[1], h1 / h2), 0, 1e-14, "ratio of heights");
        /* ratio = (A1/s1)/(A2/s2): gradient (R/A1, -R/s1, -R/A2, R/s2) on (0, 2, 3, 5) */
        double R = h1 / h2, gr[7] = {R / p[0], 0, -R / p[2], -R / p[3], 0, R / p[5], 0}, var = 0;
        for (int a = 0; a < 7; a++)
            for (int b = 0; b < 7; b++) var += gr[a] * r->pcov[a * 7 + b] * gr[b];
        CHECK_NEAR(rel(d->se[1], sqrt(var)), 0, 1e-12, "ratio's standard error");
        CHECK_NEAR(rel(d->se[2], r->perr[3]), 0, 1e-15, "area is the amplitude");
    }
    nlsq_derived_free(d);
    nlsq_result_free(r);
    nlsq_model_free(m);

    /* the Voigt's FWHM: Olivero's formula; height exact */
    m = parse("voigt(x)");
    nlsq_result fake = {0};
    double popt[4] = {2, 0, 0.5, 0.3}, pcov[16] = {0}, perr[4] = {0};
    fake.n = 4, fake.popt = popt, fake.pcov = pcov, fake.perr = perr, fake.pcov_valid = 1, fake.dof = 10;
    const char *vq[] = {"voigt1_fwhm", "voigt1_height"};
    CHECK(nlsq_derive(m, &fake, vq, 2, &d, &e) == NLSQ_OK);
    if (d) {
        double fl = 2 * 0.3, fg = 2 * sqrt(2 * log(2.0)) * 0.5;
        CHECK_NEAR(rel(d->value[0], 0.5346 * fl + sqrt(0.2166 * fl * fl + fg * fg)), 0, 1e-15, "voigt fwhm");
        double peak;
        nlsq_model_eval(m, popt, &popt[1], 1, &peak, NULL, NULL);
        CHECK_NEAR(rel(d->value[1], peak), 0, 1e-14, "voigt height = the model at its centre");
    }
    nlsq_derived_free(d);
    nlsq_model_free(m);
}

static void test_derived_bad_input_is_named(void)
{
    nlsq_model *m = parse("A*exp(-(x - mu)^2/(2*s^2)) + c");
    double p0[4] = {2, 0, 1, 0};
    nlsq_result *r = gaussian_fit(m, p0);
    nlsq_derived *d = (nlsq_derived *)1;
    nlsq_error e;
    struct {
        const char *expr, *want;
        nlsq_status st;
    } cases[] = {
        {"fwhm = 2*q", "derived quantity 'fwhm = 2*q': unknown name 'q'", NLSQ_ERR_UNDEFINED_NAME},
        {"w = s*x", "'x' is a variable of the model", NLSQ_ERR_UNDEFINED_NAME},
        {"w = 2*(s", "derived quantity 'w = 2*(s'", NLSQ_ERR_SYNTAX},
        {"w = ", "the expression after '=' is empty", NLSQ_ERR_SYNTAX},
        {"  ", "empty", NLSQ_ERR_SYNTAX},
        {"gaussian1_fwhm", "unknown name 'gaussian1_fwhm'", NLSQ_ERR_UNDEFINED_NAME},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *one[1] = {cases[k].expr};
        nlsq_status st = nlsq_derive(m, r, one, 1, &d, &e);
        CHECK_MSG(st == cases[k].st && d == NULL && strstr(e.message, cases[k].want), "'%s': status %d, message: %s",
                  cases[k].expr, st, e.message);
    }
    CHECK(nlsq_derive(m, r, NULL, 1, &d, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

static void test_null_result_is_named_by_the_function_called(void)
{
    /* the message names the function the caller called, not a helper */
    nlsq_model *m = parse("a + b*x");
    double x[2] = {0, 1}, f[2], lo[2], hi[2];
    nlsq_error e;
    CHECK(nlsq_band(m, NULL, x, 2, NLSQ_BAND_CONFIDENCE, 0.95, NULL, f, lo, hi, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "nlsq_band") != NULL, "got '%s'", e.message);
    CHECK(nlsq_result_intervals(NULL, 0.95, lo, hi, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "nlsq_result_intervals") != NULL, "got '%s'", e.message);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_line_intervals_and_bands_equal_textbook_formulas),
        TEST(test_absolute_sigma_uses_the_normal),
        TEST(test_nonlinear_band_matches_finite_difference_delta_method),
        TEST(test_component_band_uses_its_own_columns),
        TEST(test_coverage_of_t_intervals_and_bands_on_a_line),
        TEST(test_coverage_with_absolute_sigma),
        TEST(test_coverage_of_a_nonlinear_decay),
        TEST(test_band_is_deterministic_and_blocks_change_nothing),
        TEST(test_band_of_a_plane_in_two_variables),
        TEST(test_bad_input_is_named),
        TEST(test_derived_values_gradients_and_errors),
        TEST(test_library_quantities_by_name),
        TEST(test_derived_bad_input_is_named),
        TEST(test_null_result_is_named_by_the_function_called),
    };
    return run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
}
