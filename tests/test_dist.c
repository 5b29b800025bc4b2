/*
 * The distributions (src/stats/dist.c) against 40-digit values from mpmath
 * (tests/data/dist_ref.h), against each other (a quantile is the cdf's
 * inverse; t with infinite dof is the normal; F(1, nu) is t^2) and on
 * arguments outside their domain.
 */
#include <math.h>

#include "check.h"
#include "nlsq.h"

typedef struct ref {
    const char *what;
    double a, d1, d2, want;
} ref;

static const ref refs[] = {
#include "data/dist_ref.h"
};

static double eval(const ref *r)
{
    if (!strcmp(r->what, "normal_q")) return nlsq_normal_quantile(r->a);
    if (!strcmp(r->what, "normal_c")) return nlsq_normal_cdf(r->a);
    if (!strcmp(r->what, "t_q")) return nlsq_t_quantile(r->a, r->d1);
    if (!strcmp(r->what, "t_c")) return nlsq_t_cdf(r->a, r->d1);
    if (!strcmp(r->what, "chi2_q")) return nlsq_chi2_quantile(r->a, r->d1);
    if (!strcmp(r->what, "chi2_c")) return nlsq_chi2_cdf(r->a, r->d1);
    if (!strcmp(r->what, "f_q")) return nlsq_f_quantile(r->a, r->d1, r->d2);
    return nlsq_f_cdf(r->a, r->d1, r->d2);
}

/* Every value to 1e-13 relative (1e-300 absolute for the cdfs' tails
   beyond double's range), and to 5e-11 where a degree of freedom is 1e5 or
   more: there the continued fraction of I_x(a, b) runs at x = a/(a + b)
   within 1e-5 of 1, and x's rounding costs a few digits. */
static void test_agrees_with_mpmath(void)
{
    double worst = 0;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const ref *r = &refs[i];
        double tol = r->d1 >= 1e5 || r->d2 >= 1e5 ? 5e-11 : 1e-13;
        double got = eval(r), bound = tol * fabs(r->want) + 1e-300;
        /* a cdf near 1: its rounding, and the tail's relative error */
        if (strstr(r->what, "_c") && r->want > 0.5) bound = 2e-16 + tol * (1 - r->want);
        CHECK_NEAR(got, r->want, bound, "%s(%g; %g, %g)", r->what, r->a, r->d1, r->d2);
        if (r->want != 0 && isfinite(got)) {
            double rel = fabs(got - r->want) / fabs(r->want);
            if (rel > worst) worst = rel;
        }
    }
    printf("    %zu values, worst relative difference %.3g\n", sizeof refs / sizeof refs[0], worst);
}

static void test_quantile_inverts_cdf(void)
{
    const double ps[] = {1e-9, 0.01, 0.05, 0.3, 0.5, 0.9, 0.975, 0.999999};
    const double dofs[] = {0.7, 1, 4, 25, 300};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        for (size_t j = 0; j < sizeof dofs / sizeof dofs[0]; j++) {
            double p = ps[i], d = dofs[j];
            CHECK_NEAR(nlsq_t_cdf(nlsq_t_quantile(p, d), d), p, 1e-14 * fmin(p, 1 - p) + 1e-16, "t p=%g dof=%g", p, d);
            CHECK_NEAR(nlsq_chi2_cdf(nlsq_chi2_quantile(p, d), d), p, 1e-14 * fmin(p, 1 - p) + 1e-16, "chi2 p=%g dof=%g",
                       p, d);
            CHECK_NEAR(nlsq_f_cdf(nlsq_f_quantile(p, d, 2 * d), d, 2 * d), p, 1e-13 * fmin(p, 1 - p) + 1e-16,
                       "F p=%g dof=%g", p, d);
        }
}

static void test_limits_and_identities(void)
{
    CHECK_SAME(nlsq_t_quantile(0.975, INFINITY), nlsq_normal_quantile(0.975), "t(inf) is normal");
    CHECK_NEAR(nlsq_normal_quantile(0.975), 1.959963984540054, 1e-15, "z 0.975");
    /* t with one dof is Cauchy: quantile tan(pi (p - 1/2)) */
    CHECK_NEAR(nlsq_t_quantile(0.9, 1), tan(acos(-1.0) * 0.4), 1e-14 * tan(acos(-1.0) * 0.4), "Cauchy");
    /* F(1, nu) is the square of t(nu) */
    double t = nlsq_t_quantile(0.975, 12), f = nlsq_f_quantile(0.95, 1, 12);
    CHECK_NEAR(f, t * t, 1e-13 * f, "F(1,12) = t(12)^2");
    /* chi2 with 2 dof is exponential: quantile -2 log(1 - p) */
    CHECK_NEAR(nlsq_chi2_quantile(0.95, 2), -2 * log(0.05), 1e-14 * 6, "chi2(2)");
    CHECK_SAME(nlsq_t_quantile(0.5, 3), 0.0, "median of t");
    CHECK_SAME(nlsq_t_cdf(INFINITY, 3), 1.0, "t cdf at inf");
    CHECK_SAME(nlsq_chi2_cdf(-1, 3), 0.0, "chi2 below 0");
}

static void test_outside_the_domain_is_nan(void)
{
    CHECK(isnan(nlsq_normal_quantile(0)));
    CHECK(isnan(nlsq_normal_quantile(1)));
    CHECK(isnan(nlsq_normal_quantile(NAN)));
    CHECK(isnan(nlsq_t_quantile(0.5, 0)));
    CHECK(isnan(nlsq_t_quantile(1.5, 3)));
    CHECK(isnan(nlsq_t_cdf(NAN, 3)));
    CHECK(isnan(nlsq_chi2_quantile(0.5, -1)));
    CHECK(isnan(nlsq_f_quantile(0.5, 1, NAN)));
    CHECK(isnan(nlsq_f_cdf(1, 0, 3)));
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_agrees_with_mpmath),
        TEST(test_quantile_inverts_cdf),
        TEST(test_limits_and_identities),
        TEST(test_outside_the_domain_is_nan),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
