/*
 * Values and derivatives at the points where naive rules give NaN or the
 * wrong answer, each against its exact expected value (the conventions are
 * documented in nlsq.h). Every case runs both per point (the expression
 * involves x) and, where the math allows, per evaluation.
 */
#define _DEFAULT_SOURCE /* M_PI, M_E, M_LN2 */
#include <math.h>

#include "check.h"
#include "nlsq.h"

#define EULER_GAMMA 0.57721566490153286061
#define TWO_OVER_SQRT_PI 1.12837916709551257390

/* f and J of a model at one point x for parameters p. */
static int eval1(const char *text, const double *p, double x, double *f, double *J)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, NULL, &m, &e) != NLSQ_OK) {
        CHECK_MSG(0, "cannot parse \"%s\": %s", text, e.message);
        return 0;
    }
    nlsq_status st = nlsq_model_eval(m, p, &x, 1, f, J, &e);
    CHECK_MSG(st == NLSQ_OK, "eval \"%s\": %s", text, e.message);
    nlsq_model_free(m);
    return st == NLSQ_OK;
}

/* One parameter p: f and df/dp exactly. */
static void expect1(const char *text, double p, double x, double f_want, double d_want)
{
    double f, J;
    if (!eval1(text, &p, x, &f, &J)) return;
    CHECK_SAME(f, f_want, "%s at p=%g, x=%g: value", text, p, x);
    CHECK_SAME(J, d_want, "%s at p=%g, x=%g: derivative", text, p, x);
}

/* Two parameters p, q (in that order of appearance). */
static void expect2(const char *text, double p, double q, double x, double f_want, double dp, double dq)
{
    double par[2] = {p, q}, f, J[2];
    if (!eval1(text, par, x, &f, J)) return;
    CHECK_SAME(f, f_want, "%s at (%g, %g), x=%g: value", text, p, q, x);
    CHECK_SAME(J[0], dp, "%s at (%g, %g), x=%g: d/dp", text, p, q, x);
    CHECK_SAME(J[1], dq, "%s at (%g, %g), x=%g: d/dq", text, p, q, x);
}

static void test_pow_base_zero_integer_exponent(void)
{
    expect1("p^2", 0, 0, 0, 0);
    expect1("(x + p)^2", 0, 0, 0, 0);
    expect1("(x + p)^3", 0, 0, 0, 0);
    expect1("(x + p)^1", 0, 0, 0, 1);
    expect1("(x + p)^-1", 0, 0, INFINITY, -INFINITY);
    expect1("pow(x + p, 4)", 0, 0, 0, 0);
}

static void test_pow_base_zero_constant_exponent(void)
{
    expect1("(x + p)^2.5", 0, 0, 0, 0);
    expect1("(x + p)^0.5", 0, 0, 0, INFINITY); /* the one-sided limit */
    expect1("(x + p)^1.5", 0, 0, 0, 0);
}

/* d/dv u^v = u^v log u is 0 at u = 0 (v > 0), never 0 * -inf = NaN. */
static void test_pow_exponent_partial_is_zero_at_base_zero(void)
{
    expect1("x^p", 2, 0, 0, 0);
    expect1("x^p", 0.5, 0, 0, 0);
    expect2("pow(p + x, q)", 0, 1, 0, 0, 1, 0); /* d/du = 1 * 0^0 = 1 */
    expect2("pow(p + x, q)", 0, 2, 0, 0, 0, 0);
    expect2("pow(p + x, q)", 0, 0.5, 0, 0, INFINITY, 0);
}

/* An exponent partial whose adjoint is zero contributes 0 even where the
   partial itself is infinite or NaN. */
static void test_pow_exponent_partial_with_zero_adjoint(void)
{
    expect1("where(x > 0, x^p, 1)", 3, -1, 1, 0); /* log(-1) = NaN untaken */
    expect1("where(x > 0, x^p, 1)", -1, 0, 1, 0); /* 0^-1 = inf untaken    */
    expect1("where(x > 0, x^p, p)", -1, 0, -1, 1);
}

/* A zero partial cuts the path even below an infinite derivative:
   max(1, p) with p < 1 does not depend on p, although acos'(1) = -inf. */
static void test_zero_partial_cuts_infinite_adjoint(void)
{
    expect1("acos(max(sign(-x), p))", 0.5, -1, 0, 0);
    expect1("sqrt(floor(p) + x)", 0.5, 0, 0, 0);
    expect1("acos(max(sign(-x), p))", 0, 1, M_PI / 2, -1); /* max(-1, p) = p */
}

static void test_abs_and_sign_at_zero(void)
{
    expect1("abs(p)", 0, 0, 0, 0);
    expect1("abs(x - p)", 1, 1, 0, -0.0);
    expect1("abs(x + p)", 0, 0, 0, 0);
    expect1("sign(p) + p", 0, 0, 0, 1);
    expect1("sign(x + p) + p", -0.0, -0.0, -0.0, 1);
    expect1("sign(x + p) + p", 2, 0, 3, 1);
}

static void test_sqrt_and_cbrt_at_zero(void)
{
    expect1("sqrt(p)", 0, 0, 0, INFINITY);
    expect1("sqrt(x + p)", 0, 0, 0, INFINITY);
    expect1("cbrt(x + p)", 0, 0, 0, INFINITY);
    expect1("sqrt(x + p)", 4, 0, 2, 0.25);
}

static void test_min_max_ties_split_the_derivative(void)
{
    expect2("min(p, q)", 1, 1, 0, 1, 0.5, 0.5);
    expect2("max(p, q)", 1, 1, 0, 1, 0.5, 0.5);
    expect2("min(p + x, q)", 1, 1, 0, 1, 0.5, 0.5);
    expect2("min(p + x, q)", 1, 2, 0, 1, 1, 0);
    expect2("max(p + x, q)", 1, 2, 0, 2, 0, 1);
    expect2("min(p + x, q)", 1, 2, 5, 2, 0, 1);
}

static void test_min_max_signed_zero_and_nan(void)
{
    expect2("min(p, q)", -0.0, 0.0, 0, -0.0, 0.5, 0.5);
    expect2("min(q, p)", -0.0, 0.0, 0, -0.0, 0.5, 0.5);
    expect2("max(p, q)", -0.0, 0.0, 0, 0.0, 0.5, 0.5);
    expect2("max(p + x, q)", NAN, 1, 0, NAN, 0, 0);
}

static void test_where_takes_derivative_of_taken_branch_only(void)
{
    expect1("where(x > 0, p*x, p^2)", 3, 2, 6, 2);
    expect1("where(x > 0, p*x, p^2)", 3, -2, 9, 6);
    expect1("where(x >= 0 && x < 1, p, 2*p)", 1, 0.5, 1, 1);
    expect1("where(x >= 0 && x < 1, p, 2*p)", 1, 1.5, 2, 2);
    expect1("where(!(x < 0) || x == -5, p, 3*p)", 1, -5, 1, 1);
}

static void test_where_untaken_branch_nan_does_not_poison_value_or_derivative(void)
{
    expect1("where(x > 0, p*log(x), p)", 2, 0, 2, 1);    /* log(0) = -inf */
    expect1("where(x > 0, p*log(x), p)", 2, -1, 2, 1);   /* log(-1) = NaN */
    expect1("where(x > 0, sqrt(x*p), p)", 2, 0, 2, 1);   /* sqrt' = inf   */
    expect1("where(x > 0, 1/(x*p), p^2)", 3, 0, 9, 6);   /* 1/0 = inf     */
    expect1("where(x < 0, exp(1000*p), p)", 1, 1, 1, 1); /* exp overflows */
    expect1("where(x > 0, sqrt(p - x), p)", 1, 0, 1, 1); /* NaN sqrt      */
    expect1("t = log(x - 1)*p; where(x > 1, t, -p)", 1, 0, -1, -1);
}

static void test_atan2_and_hypot_at_origin(void)
{
    expect2("atan2(p, q)", 0, 0, 0, 0, 0, -0.0); /* -(y/h)/h, y = h = 0 */
    expect2("hypot(p, q)", 0, 0, 0, 0, 0, 0);
    expect2("atan2(p + x, q)", 0, 0, 0, 0, 0, -0.0);
    expect2("hypot(p + x, q)", 0, 0, 0, 0, 0, 0);
    expect2("atan2(p, q)", 0, -1, 0, M_PI, -1, -0.0);
    expect2("hypot(p, q)", 3, 4, 0, 5, 0.6, 0.8);
    /* no overflow of x^2 + y^2 */
    double par[2] = {1e200, 1e200}, f, J[2];
    if (eval1("atan2(p + x, q)", par, 0, &f, J)) {
        CHECK_NEAR(J[0], 0.5e-200, 1e-215, "atan2 d/dy at 1e200");
        CHECK_NEAR(J[1], -0.5e-200, 1e-215, "atan2 d/dx at 1e200");
    }
}

static void test_erf_erfc_derivatives(void)
{
    expect1("erf(p)", 0, 0, 0, TWO_OVER_SQRT_PI);
    expect1("erfc(p + x)", 0, 0, 1, -TWO_OVER_SQRT_PI);
    expect1("erf(p + x)", 30, 0, 1, 0);
}

static void test_gamma_functions_use_digamma(void)
{
    double f, J, p;
    p = 1;
    if (eval1("lgamma(p + x)", &p, 0, &f, &J)) CHECK_NEAR(J, -EULER_GAMMA, 1e-15, "digamma(1)");
    p = 2;
    if (eval1("lgamma(p + x)", &p, 0, &f, &J)) CHECK_NEAR(J, 1 - EULER_GAMMA, 1e-15, "digamma(2)");
    p = 0.5;
    if (eval1("lgamma(p)", &p, 0, &f, &J)) CHECK_NEAR(J, -EULER_GAMMA - 2 * M_LN2, 1e-15, "digamma(1/2)");
    p = -0.5; /* psi(-1/2) = psi(1/2) + 2 */
    if (eval1("lgamma(p + x)", &p, 0, &f, &J)) CHECK_NEAR(J, 2 - EULER_GAMMA - 2 * M_LN2, 1e-15, "digamma(-1/2)");
    p = 1e10;
    if (eval1("lgamma(p + x)", &p, 0, &f, &J)) CHECK_NEAR(J, log(1e10) - 0.5e-10, 1e-15 * log(1e10), "digamma(1e10)");
    p = 1;
    if (eval1("tgamma(p + x)", &p, 0, &f, &J)) {
        CHECK_SAME(f, 1.0, "tgamma(1)");
        CHECK_NEAR(J, -EULER_GAMMA, 1e-15, "tgamma'(1)");
    }
    expect1("lgamma(p + x)", 0, 0, INFINITY, NAN); /* pole */
    expect1("lgamma(p + x)", -2, 0, INFINITY, NAN);
}

static void test_floor_ceil_have_zero_derivative(void)
{
    expect1("floor(p + x) + 0*p", 2.5, 0, 2, 0);
    expect1("ceil(p + x) + 0*p", 2.5, 0, 3, 0);
    expect1("floor(p)*p", 2.5, 0, 5, 2);
}

static void test_tanh_derivative_keeps_relative_accuracy_in_tails(void)
{
    double p = 20, f, J;
    if (eval1("tanh(p + x)", &p, 0, &f, &J)) {
        long double c = coshl(20.0L), want = 1 / (c * c);
        CHECK_NEAR(J, (double)want, 1e-14 * (double)want, "tanh'(20)");
    }
}

/* The rewrites the graph does make are exact; the ones it must not make
   (x*0 -> 0, x-x -> 0, x+0 -> x) show in the values. */
static void test_only_ieee_exact_rewrites(void)
{
    expect1("0*p + p", INFINITY, 0, NAN, 1);     /* not folded to p; d(0*p)/dp = 0 */
    expect1("(p - p) + 1", INFINITY, 0, NAN, 0); /* not folded to 1    */
    expect1("p + 0", -0.0, 0, 0.0, 1);           /* -0 + 0 = +0        */
    expect1("p - 0", -0.0, 0, -0.0, 1);          /* x - 0 = x          */
    expect1("-p", 0.0, 0, -0.0, -1);
    expect1("-(-p)", -0.0, 0, -0.0, 1);
    expect1("p*1", -0.0, 0, -0.0, 1);
    expect1("p/1", NAN, 0, NAN, 1);
    expect1("p^0 + p", NAN, 0, NAN, 1);         /* pow(NaN, 0) = 1    */
    expect1("2^3 + 4/8 - 1 + p", 0, 0, 7.5, 1); /* folded constants   */
}

/* where(cond, p, q): the value and which derivative is 1 show the branch. */
static void test_comparisons_and_logic_values(void)
{
    expect2("where(p < q, p, q)", 1, 2, 0, 1, 1, 0);
    expect2("where(p < q, p, q)", 2, 1, 0, 1, 0, 1);
    expect2("where(p <= q, p, q)", 2, 2, 0, 2, 1, 0);
    expect2("where(p > q, p, q)", 2, 2, 0, 2, 0, 1);
    expect2("where(p >= q, p, q)", 2, 2, 0, 2, 1, 0);
    expect2("where(p == q, p, q)", 2, 2, 0, 2, 1, 0);
    expect2("where(p != q, p, q)", 2, 2, 0, 2, 0, 1);
    expect2("where(p < q, p, q)", NAN, 2, 0, 2, 0, 1); /* NaN compares false */
    expect2("where(!(p < q), p, q)", NAN, 2, 0, NAN, 1, 0);
    expect2("where(p > 0 && q > 0, p, q)", 1, -1, 0, -1, 0, 1);
    expect2("where(p > 0 || q > 0, p, q)", 1, -1, 0, 1, 1, 0);
    expect2("where(x + p < q, p, q)", 1, 2, 0.5, 1, 1, 0); /* per point */
    expect2("where(x + p < q, p, q)", 1, 2, 1.5, 2, 0, 1);
}

static void test_constants_pi_and_e(void)
{
    expect1("pi + 0*p", 1, 0, M_PI, 0);
    expect1("e*p", 1, 0, M_E, M_E);
    expect1("sign(-0*p)*p", 1, 0, -0.0, -0.0); /* sign(-0) = -0 */
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_pow_base_zero_integer_exponent),
        TEST(test_pow_base_zero_constant_exponent),
        TEST(test_pow_exponent_partial_is_zero_at_base_zero),
        TEST(test_pow_exponent_partial_with_zero_adjoint),
        TEST(test_zero_partial_cuts_infinite_adjoint),
        TEST(test_abs_and_sign_at_zero),
        TEST(test_sqrt_and_cbrt_at_zero),
        TEST(test_min_max_ties_split_the_derivative),
        TEST(test_min_max_signed_zero_and_nan),
        TEST(test_where_takes_derivative_of_taken_branch_only),
        TEST(test_where_untaken_branch_nan_does_not_poison_value_or_derivative),
        TEST(test_atan2_and_hypot_at_origin),
        TEST(test_erf_erfc_derivatives),
        TEST(test_gamma_functions_use_digamma),
        TEST(test_floor_ceil_have_zero_derivative),
        TEST(test_tanh_derivative_keeps_relative_accuracy_in_tails),
        TEST(test_only_ieee_exact_rewrites),
        TEST(test_comparisons_and_logic_values),
        TEST(test_constants_pi_and_e),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
