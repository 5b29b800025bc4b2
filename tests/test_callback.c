/*
 * nlsq_fit_callback: a model given as a residual function. With its exact
 * Jacobian it agrees with the same model as text; with finite differences
 * it agrees with SciPy 1.10's least_squares on the same problem (the
 * constants below, from least_squares(res, x0, ftol=xtol=gtol=1e-12, ...)
 * with x = 0.25 i, y = 3 exp(-0.7 x) + 0.5 + 0.05 sin(7 i), i < 40, and
 * x0 = (1, 0.3, 0.2)); and its errors are clear.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "nlsq.h"

#define M 40

typedef struct decay {
    double x[M], y[M];
    int calls, fail_at, nan_at_start, nan_at_call;
} decay;

static void decay_init(decay *d)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < M; i++) {
        d->x[i] = 0.25 * i;
        d->y[i] = 3.0 * exp(-0.7 * d->x[i]) + 0.5 + 0.05 * sin(7.0 * i);
    }
}

/* r = a exp(-b x) + c - y, J exact when asked */
static int decay_residuals(void *user, const double *p, double *r, double *J)
{
    decay *d = user;
    d->calls++;
    if (d->fail_at && d->calls == d->fail_at) return 7;
    for (int i = 0; i < M; i++) {
        double e = exp(-p[1] * d->x[i]);
        r[i] = p[0] * e + p[2] - d->y[i];
        if (d->nan_at_start || d->calls == d->nan_at_call) r[i] = NAN;
        if (J) {
            J[i * 3 + 0] = e;
            J[i * 3 + 1] = -p[0] * d->x[i] * e;
            J[i * 3 + 2] = 1;
        }
    }
    return 0;
}

static const double X0[3] = {1.0, 0.3, 0.2};

static nlsq_result *fit(decay *d, nlsq_jac_kind jac, nlsq_options *o, nlsq_status *st, nlsq_error *e)
{
    nlsq_residual_problem pb = nlsq_residual_problem_default();
    pb.fn = decay_residuals;
    pb.user = d;
    pb.n = 3;
    pb.m = M;
    pb.jac = jac;
    o->p0 = X0;
    nlsq_result *r = NULL;
    *st = nlsq_fit_callback(&pb, o, &r, e);
    return r;
}

static void check_popt(const nlsq_result *r, const double *want, double rel, const char *what)
{
    if (!r) {
        CHECK_MSG(0, "%s: no result", what);
        return;
    }
    CHECK_MSG(r->success, "%s: status %d", what, r->status);
    for (int j = 0; j < 3; j++) CHECK_NEAR(r->popt[j], want[j], rel * fabs(want[j]), "%s popt[%d]", what, j);
}

/* The same model as text through nlsq_curve_fit. */
static nlsq_result *fit_text(decay *d, nlsq_options *o)
{
    nlsq_model *model = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse("a*exp(-b*x) + c", NULL, &model, &e) == NLSQ_OK);
    nlsq_data data = {d->x, d->y, M, NULL, NLSQ_SIGMA_NONE};
    o->p0 = X0;
    nlsq_result *r = NULL;
    CHECK(nlsq_curve_fit(model, &data, o, &r, &e) == NLSQ_OK);
    nlsq_model_free(model);
    return r;
}

static void compare_with_text(nlsq_options o, const char *what)
{
    decay d;
    decay_init(&d);
    nlsq_status st;
    nlsq_error e;
    nlsq_result *cb = fit(&d, NLSQ_JAC_CALLBACK, &o, &st, &e);
    CHECK_MSG(st == NLSQ_OK, "%s: %s", what, e.message);
    nlsq_result *tx = fit_text(&d, &o);
    if (cb && tx) {
        for (int j = 0; j < 3; j++) CHECK_NEAR(cb->popt[j], tx->popt[j], 1e-10 * fabs(tx->popt[j]), "%s popt", what);
        for (int k = 0; k < 9; k++)
            CHECK_NEAR(cb->pcov[k], tx->pcov[k], 1e-9 * fabs(tx->pcov[k]) + 1e-18, "%s pcov[%d]", what, k);
        CHECK_NEAR(cb->cost, tx->cost, 1e-10 * tx->cost, "%s cost", what);
        CHECK_NEAR(cb->chi2, tx->chi2, 1e-10 * tx->chi2, "%s chi2", what);
        /* the same iterations up to rounding (the pass sums with
           compensation): at tolerances 1e-15 the last stop may differ */
        CHECK(cb->success && tx->success);
        CHECK(cb->pcov_valid && isnan(cb->r2) && strcmp(cb->backend, "call") == 0);
    }
    nlsq_result_free(cb);
    nlsq_result_free(tx);
}

static void test_exact_jacobian_agrees_with_the_text_model(void)
{
    nlsq_options o = nlsq_options_default();
    compare_with_text(o, "trf");
    o.method = NLSQ_LM;
    compare_with_text(o, "lm");
    o.method = NLSQ_DOGBOX;
    compare_with_text(o, "dogbox");
}

static void test_robust_loss_and_bounds_agree_with_the_text_model(void)
{
    nlsq_options o = nlsq_options_default();
    o.loss = NLSQ_LOSS_SOFT_L1;
    o.f_scale = 0.1;
    compare_with_text(o, "soft_l1");
    double lo[3] = {0, 0, 0}, hi[3] = {10, 10, 0.45};
    o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    compare_with_text(o, "bounds");
}

static nlsq_options scipy_tolerances(void)
{
    nlsq_options o = nlsq_options_default();
    o.ftol = o.xtol = o.gtol = 1e-12;
    return o;
}

static void test_differences_agree_with_scipy(void)
{
    /* least_squares' x for each; they agree among themselves to ~1e-9 */
    static const double trf2[3] = {3.0261753932109516, 0.7094331536439367, 0.5050665097023133};
    static const double trf3[3] = {3.026175393448551, 0.7094331537692622, 0.5050665097403721};
    static const double dogbox2[3] = {3.0261753934070286, 0.7094331537929676, 0.5050665097609002};
    static const double lm2[3] = {3.0261753933779114, 0.7094331535276115, 0.5050665095934778};
    decay d;
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = scipy_tolerances();
    decay_init(&d);
    nlsq_result *r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    check_popt(r, trf2, 1e-8, "trf 2-point");
    if (r) CHECK(r->nfev < d.calls); /* the differences' calls are not counted (SciPy's trf) */
    nlsq_result_free(r);
    decay_init(&d);
    r = fit(&d, NLSQ_JAC_3POINT, &o, &st, &e);
    check_popt(r, trf3, 1e-8, "trf 3-point");
    nlsq_result_free(r);
    o.method = NLSQ_DOGBOX;
    decay_init(&d);
    r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    check_popt(r, dogbox2, 1e-8, "dogbox 2-point");
    nlsq_result_free(r);
    o.method = NLSQ_LM;
    decay_init(&d);
    r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    check_popt(r, lm2, 1e-8, "lm 2-point");
    /* SciPy's nfev (27); the covariance's Jacobian (central differences
       at the solution: 2 x 3 calls) and the final residuals (none here: a
       linear loss) are outside the count */
    if (r) CHECK_MSG(r->nfev == 27 && d.calls == 27 + 6, "lm nfev %d (SciPy 27), calls %d", r->nfev, d.calls);
    nlsq_result_free(r);
}

/* r = (x - 0)^2 + 5: SciPy's fun_trivial */
static int trivial_residuals(void *user, const double *p, double *r, double *J)
{
    (void)J;
    ++*(int *)user;
    r[0] = p[0] * p[0] + 5.0;
    return 0;
}

/* defect (issue 18): lm with differences converted max_nfev into solver
   evaluations before the run and stopped at call 18 of SciPy's 20
   (TestLM::test_nfev_options); it now counts every call after the
   convergence tests, as MINPACK, and reports SciPy's nfev. */
static void defect_lm_counts_calls_as_minpack(void)
{
    int calls = 0;
    double x0 = 2.0;
    nlsq_residual_problem pb = nlsq_residual_problem_default();
    pb.fn = trivial_residuals;
    pb.user = &calls;
    pb.n = 1;
    pb.m = 1;
    nlsq_options o = nlsq_options_default();
    o.method = NLSQ_LM;
    o.ftol = o.xtol = 1e-8;
    o.gtol = 1e-8;
    o.p0 = &x0;
    o.max_nfev = 20;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_callback(&pb, &o, &r, &e) == NLSQ_OK);
    if (r) {
        CHECK_MSG(r->nfev == 20 && fabs(r->popt[0]) < 1e-4, "nfev %d (SciPy 20), x %g (SciPy -2.2e-5)", r->nfev,
                  r->popt[0]);
        CHECK_MSG(r->status == 1, "status %d (SciPy 1: gtol)", r->status);
    }
    nlsq_result_free(r);
    /* a decay stopped by max_nfev = 15: SciPy's 15 calls and its x
       (least_squares' x_scale=1, MINPACK's diag 1) */
    static const double lm15[3] = {3.0136268509241364, 0.7093698458906935, 0.5109699932504965};
    static const double ones[3] = {1, 1, 1};
    decay d;
    nlsq_status st;
    o = scipy_tolerances();
    o.method = NLSQ_LM;
    o.max_nfev = 15;
    o.x_scale = ones;
    decay_init(&d);
    r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    CHECK(r != NULL);
    if (r) {
        CHECK_MSG(r->nfev == 15 && r->status == 0, "nfev %d (SciPy 15), status %d", r->nfev, r->status);
        for (int j = 0; j < 3; j++) CHECK_NEAR(r->popt[j], lm15[j], 1e-8 * fabs(lm15[j]), "max_nfev 15 popt[%d]", j);
    }
    nlsq_result_free(r);
}

static void test_differences_respect_bounds_as_scipy(void)
{
    static const double want[3] = {3.0409957297711903, 0.6627718036247892, 0.44999999999999996};
    double lo[3] = {0, 0, 0}, hi[3] = {10, 10, 0.45};
    nlsq_jac_kind kinds[2] = {NLSQ_JAC_3POINT, NLSQ_JAC_2POINT};
    for (int k = 0; k < 2; k++) {
        decay d;
        decay_init(&d);
        nlsq_status st;
        nlsq_error e;
        nlsq_options o = scipy_tolerances();
        o.lower = lo;
        o.upper = hi;
        nlsq_result *r = fit(&d, kinds[k], &o, &st, &e);
        check_popt(r, want, 1e-8, k ? "2-point bounded" : "3-point bounded");
        if (r) CHECK(r->active_mask[2] == 1 && r->popt[2] <= 0.45);
        nlsq_result_free(r);
    }
}

static void test_robust_loss_with_differences_agrees_with_scipy(void)
{
    static const double want[3] = {3.0261613326101786, 0.7096262455701638, 0.505364778094967};
    decay d;
    decay_init(&d);
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = scipy_tolerances();
    o.loss = NLSQ_LOSS_SOFT_L1;
    o.f_scale = 0.1;
    nlsq_result *r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    check_popt(r, want, 1e-8, "soft_l1 2-point");
    nlsq_result_free(r);
}

static void test_callback_failure_stops_with_a_clear_status(void)
{
    decay d;
    decay_init(&d);
    d.fail_at = 5;
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    nlsq_result *r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    CHECK(st == NLSQ_ERR_CALLBACK && r == NULL);
    CHECK_MSG(strstr(e.message, "nlsq_fit_callback: the residual function returned 7 at call 5") != NULL, "%s",
              e.message);
    CHECK(d.calls < 20); /* stopped, not called on to the budget's end */
    CHECK(strcmp(nlsq_status_str(NLSQ_ERR_CALLBACK), "callback error") == 0);
}

static void test_nan_at_the_start_and_bad_arguments(void)
{
    decay d;
    decay_init(&d);
    d.nan_at_start = 1;
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    nlsq_result *r = fit(&d, NLSQ_JAC_CALLBACK, &o, &st, &e);
    CHECK_MSG(st == NLSQ_ERR_MODEL_NONFINITE && !r, "%d %s", st, e.message);
    nlsq_residual_problem pb = nlsq_residual_problem_default();
    CHECK(nlsq_fit_callback(&pb, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && strstr(e.message, "fn is NULL"));
    pb.fn = decay_residuals;
    pb.user = &d;
    pb.m = M;
    CHECK(nlsq_fit_callback(&pb, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && strstr(e.message, "n is 0"));
    pb.n = 3;
    pb.m = 2;
    CHECK_MSG(nlsq_fit_callback(&pb, NULL, &r, &e) == NLSQ_ERR_DATA, "%s", e.message);
    pb.m = M;
    pb.diff_step = -1;
    CHECK(nlsq_fit_callback(&pb, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && strstr(e.message, "diff_step"));
    CHECK(nlsq_fit_callback(NULL, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT);
}

/* lm's lazy Jacobian: the differences at an accepted point are taken
   after it was accepted, so one that is not finite (here call 3, the
   start's second column) cannot reject the point: the fit ends with a
   clear status instead of stepping on a NaN Jacobian. */
static void lm_nonfinite_differences_end_the_fit_clearly(void)
{
    decay d;
    decay_init(&d);
    d.nan_at_call = 3;
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    o.method = NLSQ_LM;
    nlsq_result *r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    CHECK_MSG(st == NLSQ_ERR_MODEL_NONFINITE && !r && strstr(e.message, "Jacobian by differences"), "%d %s", st,
              e.message);
    nlsq_result_free(r);
}

static void test_fixed_parameter_and_kept_residuals(void)
{
    decay d;
    decay_init(&d);
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    unsigned char fixed[3] = {0, 0, 1};
    o.fixed = fixed;
    o.keep_residuals = 1;
    nlsq_result *r = fit(&d, NLSQ_JAC_3POINT, &o, &st, &e);
    CHECK_MSG(st == NLSQ_OK && r, "%s", e.message);
    if (r) {
        CHECK(r->popt[2] == 0.2 && r->n_free == 2 && r->pcov[8] == 0);
        double s = 0;
        for (int i = 0; i < M; i++) s += r->residuals[i] * r->residuals[i];
        CHECK_NEAR(s, 2 * r->cost, 1e-12 * s, "residuals");
    }
    nlsq_result_free(r);
}

static int stop_at_two(void *user, int iteration, double cost, const double *params, double grad_norm, double step_norm)
{
    (void)cost, (void)params, (void)grad_norm, (void)step_norm;
    ++*(int *)user;
    return iteration >= 2;
}

/* The iteration callback is chained behind the one that notes the current
   cost (for skipping the differences of rejected trials): the caller's is
   still called and can still stop the fit. */
static void test_iteration_callback_is_called_and_can_stop(void)
{
    decay d;
    decay_init(&d);
    nlsq_status st;
    nlsq_error e;
    nlsq_options o = nlsq_options_default();
    int seen = 0;
    o.callback = stop_at_two;
    o.callback_data = &seen;
    nlsq_result *r = fit(&d, NLSQ_JAC_2POINT, &o, &st, &e);
    CHECK_MSG(st == NLSQ_OK && r, "%s", e.message);
    if (r) CHECK_MSG(r->status == NLSQ_FIT_STOPPED && seen == 2, "status %d, %d calls", r->status, seen);
    nlsq_result_free(r);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_exact_jacobian_agrees_with_the_text_model),
        TEST(test_robust_loss_and_bounds_agree_with_the_text_model),
        TEST(test_differences_agree_with_scipy),
        TEST(defect_lm_counts_calls_as_minpack),
        TEST(test_differences_respect_bounds_as_scipy),
        TEST(test_robust_loss_with_differences_agrees_with_scipy),
        TEST(test_callback_failure_stops_with_a_clear_status),
        TEST(test_nan_at_the_start_and_bad_arguments),
        TEST(lm_nonfinite_differences_end_the_fit_clearly),
        TEST(test_fixed_parameter_and_kept_residuals),
        TEST(test_iteration_callback_is_called_and_can_stop),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
