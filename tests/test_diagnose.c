/*
 * The diagnostics of a fit (nlsq_result.diag, src/fit/diagnose.c): each
 * finding triggered by a problem built to have it, and none on a good
 * fit. The cases: the Gaussian of issue 19 started from SciPy's rule (all
 * ones: its peak's Jacobian columns underflow to 0 at x = 382 .. 682, so
 * A, mu and s never move and R^2 = 0), a start that is evaluated only,
 * parameters that enter only as a sum, a line far from the origin,
 * a line fitted to a parabola, a bound that binds, and the residuals' sums
 * gathered by the pass against those of the kept residuals.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "kernel/runs.h"
#include "nlsq.h"

#define PEAK_M 301

/* Counts ~1200 over a background of 100 with Poisson-like noise (a fixed
   xorshift stream, so the same on every machine). */
static void peak_data(double *x, double *y)
{
    rng g = {0x9e3779b97f4a7c15ull};
    for (int i = 0; i < PEAK_M; i++) {
        x[i] = 382 + i;
        double t = (x[i] - 532) / 8.5, mean = 1200 * exp(-0.5 * t * t) + 100;
        double u = rng_uniform(&g) + rng_uniform(&g) + rng_uniform(&g) - 1.5; /* variance 1/4 */
        y[i] = mean + 2 * sqrt(mean) * u;
    }
}

/* Fit `text` to (x, y); NULL (and a failed check) on error. */
static nlsq_result *fit_text(const char *text, const double *x, const double *y, size_t m, const nlsq_options *o)
{
    nlsq_model *model = NULL;
    nlsq_error e;
    nlsq_result *r = NULL;
    if (nlsq_model_parse(text, NULL, &model, &e) != NLSQ_OK) {
        CHECK_MSG(0, "parse %s: %s", text, e.message);
        return NULL;
    }
    nlsq_data d = {x, y, m, NULL, NLSQ_SIGMA_NONE};
    nlsq_status st = nlsq_curve_fit(model, &d, o, &r, &e);
    CHECK_MSG(st == NLSQ_OK, "fit %s: %s", text, e.message);
    nlsq_model_free(model);
    return r;
}

static int has(const nlsq_result *r, unsigned bit)
{
    return (r->diag.flags & bit) != 0;
}

static const char *GAUSSIAN = "A*exp(-0.5*((x-mu)/s)^2)+c";

static void test_good_fit_has_no_findings(void)
{
    double x[PEAK_M], y[PEAK_M];
    peak_data(x, y);
    static const double p0[4] = {1000, 530, 10, 50};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *r = fit_text(GAUSSIAN, x, y, PEAK_M, &o);
    if (!r) return;
    CHECK_MSG(r->diag.flags == 0 && r->diag.trusted, "flags %#x trusted %d", r->diag.flags, r->diag.trusted);
    CHECK(r->diag.rank == 4 && r->diag.cond >= 1 && r->diag.cond < 100);
    CHECK(r->diag.residuals_tested && fabs(r->diag.runs_z) < 4 && fabs(r->diag.lag1) < 0.5);
    CHECK(r->diag.n_pos + r->diag.n_neg == PEAK_M);
    for (int j = 0; j < 4; j++) CHECK_MSG(r->diag.param_flags[j] == 0 && r->diag.influence[j] > 1e-4, "param %d", j);
    nlsq_result_free(r);
}

/* Issue 19's first paragraph: "converged", standard errors 0, R^2 = -0.00000. */
static void test_gaussian_from_all_ones_is_not_trusted(void)
{
    double x[PEAK_M], y[PEAK_M];
    peak_data(x, y);
    nlsq_result *r = fit_text(GAUSSIAN, x, y, PEAK_M, NULL);
    if (!r) return;
    CHECK_MSG(r->success, "the solver stops by a tolerance (status %d)", r->status);
    CHECK(!r->diag.trusted);
    CHECK(has(r, NLSQ_DIAG_NO_INFLUENCE) && has(r, NLSQ_DIAG_NOT_MOVED) && has(r, NLSQ_DIAG_NO_EXPLANATION));
    CHECK(!has(r, NLSQ_DIAG_NOT_CONVERGED) && !has(r, NLSQ_DIAG_RANK_DEFICIENT));
    for (int j = 0; j < 3; j++) {
        CHECK_MSG(r->diag.param_flags[j] == (NLSQ_DIAG_NO_INFLUENCE | NLSQ_DIAG_NOT_MOVED), "param %d: %#x", j,
                  r->diag.param_flags[j]);
        CHECK_SAME(r->diag.influence[j], 0.0, "influence of param %d", j);
    }
    CHECK_MSG(r->diag.param_flags[3] == 0, "c: %#x", r->diag.param_flags[3]);
    CHECK(r->diag.rank == 1 && r->diag.cond == 1);
    /* a constant against a peak: one run above the background each side */
    CHECK(has(r, NLSQ_DIAG_RESIDUAL_STRUCTURE) && r->diag.runs_z < -10 && r->diag.lag1 > 0.9);
    nlsq_result_free(r);
}

/* max_nfev 1: the start is evaluated and nothing moves, with every column
   alive: not moved and not converged, without "no influence". */
static void test_unmoved_start_is_reported_without_zero_columns(void)
{
    double x[PEAK_M], y[PEAK_M];
    peak_data(x, y);
    static const double p0[4] = {1000, 530, 10, 50};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.max_nfev = 1;
    nlsq_result *r = fit_text(GAUSSIAN, x, y, PEAK_M, &o);
    if (!r) return;
    CHECK(r->status == NLSQ_FIT_MAX_NFEV && !r->diag.trusted);
    CHECK(has(r, NLSQ_DIAG_NOT_CONVERGED) && has(r, NLSQ_DIAG_NOT_MOVED) && !has(r, NLSQ_DIAG_NO_INFLUENCE));
    for (int j = 0; j < 4; j++) CHECK_MSG(r->diag.param_flags[j] == NLSQ_DIAG_NOT_MOVED, "param %d", j);
    nlsq_result_free(r);
}

/* A start at the minimum (as --p0 auto often gives): the fit converges
   where it began, nothing moves, and that is no failure. */
static void test_start_at_the_minimum_is_trusted(void)
{
    double x[PEAK_M], y[PEAK_M];
    peak_data(x, y);
    nlsq_options o = nlsq_options_default();
    static double p0[4] = {1000, 530, 10, 50};
    o.p0 = p0;
    nlsq_result *r = fit_text(GAUSSIAN, x, y, PEAK_M, &o);
    if (!r) return;
    for (int j = 0; j < 4; j++) p0[j] = r->popt[j];
    nlsq_result_free(r);
    r = fit_text(GAUSSIAN, x, y, PEAK_M, &o);
    if (!r) return;
    CHECK_MSG(r->success && !has(r, NLSQ_DIAG_NOT_MOVED) && r->diag.trusted, "status %d, flags %#x", r->status,
              r->diag.flags);
    nlsq_result_free(r);
}

/* Exact data, and a start exactly right in b: b need not move, and an
   exact fit does not call that a failure. */
static void test_exact_fit_from_a_right_start_is_trusted(void)
{
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = 0.1 * i;
        y[i] = 3 * x[i] + 1;
    }
    static const double p0[2] = {1, 1};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *r = fit_text("a*x + b", x, y, 50, &o);
    if (!r) return;
    CHECK_MSG(!has(r, NLSQ_DIAG_NOT_MOVED) && r->diag.trusted, "flags %#x", r->diag.flags);
    nlsq_result_free(r);
}

/* b and c enter only as b + c: their scaled columns are the same. */
static void test_parameters_as_a_sum_are_rank_deficient(void)
{
    double x[40], y[40];
    for (int i = 0; i < 40; i++) {
        x[i] = 0.1 * i;
        y[i] = 2 * exp(-0.7 * x[i]) + 0.01 * sin(3.0 * i);
    }
    static const double p0[3] = {1, 0.2, 0.3};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *r = fit_text("a*exp(-(b+c)*x)", x, y, 40, &o);
    if (!r) return;
    CHECK_MSG(has(r, NLSQ_DIAG_RANK_DEFICIENT) && !r->diag.trusted, "flags %#x", r->diag.flags);
    CHECK_MSG(r->diag.rank == 2 && isinf(r->diag.cond), "rank %d cond %g", r->diag.rank, r->diag.cond);
    CHECK(!has(r, NLSQ_DIAG_NO_INFLUENCE));
    /* the null vector is (b - c)/sqrt(2): b and c are named, a is not */
    CHECK_MSG(r->diag.param_flags[0] == 0 && r->diag.param_flags[1] == NLSQ_DIAG_RANK_DEFICIENT &&
                  r->diag.param_flags[2] == NLSQ_DIAG_RANK_DEFICIENT,
              "param flags %#x %#x %#x", r->diag.param_flags[0], r->diag.param_flags[1], r->diag.param_flags[2]);
    nlsq_result_free(r);
}

/* A line over x in [1e6, 1e6 + 0.1]: intercept and slope almost the same
   column (correlation -1 to 15 digits), condition about 7e7; trusted,
   with cautions naming the pair. */
static void test_line_far_from_the_origin_is_correlated_and_ill_conditioned(void)
{
    double x[100], y[100];
    for (int i = 0; i < 100; i++) {
        x[i] = 1e6 + 0.001 * i;
        y[i] = 2 * (x[i] - 1e6) + 5 + 0.01 * sin(7.0 * i);
    }
    static const double p0[2] = {-1999990, 2};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *r = fit_text("b + a*x", x, y, 100, &o);
    if (!r) return;
    CHECK_MSG(has(r, NLSQ_DIAG_CORRELATED) && has(r, NLSQ_DIAG_ILL_CONDITIONED) && r->diag.trusted, "flags %#x",
              r->diag.flags);
    CHECK(r->diag.n_correlated == 1 && r->diag.correlated[0] == 0 && r->diag.correlated[1] == 1);
    if (r->diag.n_correlated == 1) CHECK_MSG(r->diag.correlation[0] < -0.99, "corr %g", r->diag.correlation[0]);
    CHECK_MSG(r->diag.cond > 1e7 && r->diag.rank == 2, "cond %g rank %d", r->diag.cond, r->diag.rank);
    nlsq_result_free(r);
}

/* A line through a parabola symmetric about 0: slope 0, R^2 = 0, and the
   residuals go + - + in three runs. */
static void test_line_through_a_parabola_explains_nothing(void)
{
    double x[201], y[201];
    for (int i = 0; i < 201; i++) {
        x[i] = -1 + 0.01 * i;
        y[i] = x[i] * x[i];
    }
    nlsq_result *r = fit_text("a*x + b", x, y, 201, NULL);
    if (!r) return;
    CHECK_MSG(has(r, NLSQ_DIAG_NO_EXPLANATION) && !r->diag.trusted, "flags %#x r2 %g", r->diag.flags, r->r2);
    CHECK(has(r, NLSQ_DIAG_RESIDUAL_STRUCTURE) && r->diag.runs == 3 && r->diag.lag1 > 0.9);
    nlsq_result_free(r);
}

static void test_parameter_at_a_bound_is_a_caution(void)
{
    double x[50], y[50];
    for (int i = 0; i < 50; i++) {
        x[i] = 0.1 * (i + 1);
        y[i] = 2 * x[i] + 0.01 * sin(7.0 * i);
    }
    static const double lo[1] = {0}, hi[1] = {1.8}, p0[1] = {0.5};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.lower = lo;
    o.upper = hi;
    nlsq_result *r = fit_text("a*x", x, y, 50, &o);
    if (!r) return;
    CHECK_MSG(has(r, NLSQ_DIAG_AT_BOUND) && r->diag.param_flags[0] == NLSQ_DIAG_AT_BOUND, "flags %#x", r->diag.flags);
    CHECK(r->diag.trusted);
    nlsq_result_free(r);
}

/* The pass gathers the residuals' signs per chunk and merges them in data
   order: the same counts as the kept residuals, on 1 and 4 threads, over
   many chunks. */
static void test_residual_sums_of_the_pass_match_the_kept_residuals(void)
{
    enum { M = 300000 };
    double *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        CHECK_MSG(0, "out of memory");
        return;
    }
    rng g = {12345};
    for (int i = 0; i < M; i++) {
        x[i] = (double)i / M;
        y[i] = 3 * exp(-2 * x[i]) + 0.3 * sin(40 * x[i]) + 0.05 * (rng_uniform(&g) - 0.5);
    }
    static const double p0[2] = {1, 1};
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.threads = 1;
    nlsq_result *one = fit_text("a*exp(-b*x)", x, y, M, &o);
    o.threads = 4;
    nlsq_result *four = fit_text("a*exp(-b*x)", x, y, M, &o);
    o.keep_residuals = 1;
    nlsq_result *kept = fit_text("a*exp(-b*x)", x, y, M, &o);
    if (one && four && kept) {
        nk_runs u = {0};
        for (int i = 0; i < M; i++) nk_runs_add(&u, kept->residuals[i]);
        const nlsq_result *rs[3] = {one, four, kept};
        for (int k = 0; k < 3; k++) {
            const nlsq_diagnostics *d = &rs[k]->diag;
            CHECK_MSG(d->residuals_tested && d->runs == u.runs && d->n_pos == u.n_pos && d->n_neg == u.n_neg,
                      "fit %d: runs %zu/%zu", k, d->runs, u.runs);
            CHECK_NEAR(d->lag1, u.s11 / u.s2, 1e-12, "fit %d lag1", k);
        }
        CHECK_SAME(one->diag.lag1, four->diag.lag1, "lag1 on 1 and 4 threads");
        /* the sine the model lacks */
        CHECK(has(one, NLSQ_DIAG_RESIDUAL_STRUCTURE) && one->diag.trusted);
    }
    nlsq_result_free(one);
    nlsq_result_free(four);
    nlsq_result_free(kept);
    free(x);
    free(y);
}

/* Two adjacent ranges merge to the sums of the whole, whatever the cut
   (a run across the cut counted once, zeros skipped). */
static void test_runs_merge_across_any_cut(void)
{
    static const double r[] = {1, 2, 0, -1, -3, 0, 0, 2, -1, 4, 4, 0, -2};
    enum { N = sizeof r / sizeof r[0] };
    nk_runs whole = {0};
    for (int i = 0; i < N; i++) nk_runs_add(&whole, r[i]);
    CHECK(whole.runs == 6 && whole.n_pos == 5 && whole.n_neg == 4 && whole.count == N);
    for (int cut = 0; cut <= N; cut++) {
        nk_runs a = {0}, b = {0};
        for (int i = 0; i < cut; i++) nk_runs_add(&a, r[i]);
        for (int i = cut; i < N; i++) nk_runs_add(&b, r[i]);
        nk_runs_merge(&a, &b);
        CHECK_MSG(a.runs == whole.runs && a.n_pos == whole.n_pos && a.n_neg == whole.n_neg, "cut %d: runs %zu", cut,
                  a.runs);
        CHECK_SAME(a.s11, whole.s11, "cut %d: s11", cut);
        CHECK_SAME(a.s2, whole.s2, "cut %d: s2", cut);
    }
}

/* A callback fit with a column that is zero everywhere: p[1] multiplies 0. */
static int flat_residuals(void *user, const double *p, double *r, double *J)
{
    const double *y = user;
    for (int i = 0; i < 30; i++) {
        r[i] = p[0] + 0 * p[1] - y[i];
        if (J) {
            J[i * 2] = 1;
            J[i * 2 + 1] = 0;
        }
    }
    return 0;
}

static void test_callback_fit_is_diagnosed(void)
{
    double y[30];
    for (int i = 0; i < 30; i++) y[i] = 2 + 0.1 * sin(5.0 * i);
    nlsq_residual_problem pb = nlsq_residual_problem_default();
    pb.fn = flat_residuals;
    pb.user = y;
    pb.n = 2;
    pb.m = 30;
    pb.jac = NLSQ_JAC_CALLBACK;
    nlsq_options o = nlsq_options_default();
    o.keep_residuals = 1;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_callback(&pb, &o, &r, &e) == NLSQ_OK);
    if (!r) return;
    CHECK_MSG(r->diag.param_flags[1] & NLSQ_DIAG_NO_INFLUENCE, "flags %#x", r->diag.param_flags[1]);
    CHECK(!r->diag.trusted && r->diag.param_flags[0] == 0 && r->diag.residuals_tested);
    nlsq_result_free(r);
}

static void test_every_finding_has_a_sentence(void)
{
    for (unsigned b = 0; b < 9; b++) {
        const char *s = nlsq_diagnostic_str((nlsq_diagnostic)(1u << b));
        CHECK_MSG(s && strlen(s) > 20 && strcmp(s, "unknown diagnostic") != 0, "bit %u: %s", b, s ? s : "NULL");
    }
    CHECK(strcmp(nlsq_diagnostic_str((nlsq_diagnostic)0), "") == 0);
    CHECK(strcmp(nlsq_diagnostic_str((nlsq_diagnostic)(1u << 20)), "unknown diagnostic") == 0);
    CHECK(NLSQ_DIAG_UNTRUSTED == 0x1f);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_good_fit_has_no_findings),
        TEST(test_gaussian_from_all_ones_is_not_trusted),
        TEST(test_unmoved_start_is_reported_without_zero_columns),
        TEST(test_start_at_the_minimum_is_trusted),
        TEST(test_exact_fit_from_a_right_start_is_trusted),
        TEST(test_parameters_as_a_sum_are_rank_deficient),
        TEST(test_line_far_from_the_origin_is_correlated_and_ill_conditioned),
        TEST(test_line_through_a_parabola_explains_nothing),
        TEST(test_parameter_at_a_bound_is_a_caution),
        TEST(test_residual_sums_of_the_pass_match_the_kept_residuals),
        TEST(test_runs_merge_across_any_cut),
        TEST(test_callback_fit_is_diagnosed),
        TEST(test_every_finding_has_a_sentence),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
