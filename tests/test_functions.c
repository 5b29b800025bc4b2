/*
 * Every operator and function of the language, evaluated per point (block
 * interpreter) and per evaluation (uniform program), against long double
 * libm for the value and against long double Richardson-extrapolated
 * central differences for every partial derivative, at 1000 random points
 * each, with the vector math table (libmvec, when the CPU has AVX2) and
 * with scalar libm.
 *
 * Bounds, stated per case below:
 *   value       |f - F| <= vtol * |F|       (F: long double libm)
 *   derivative  |d - D| <= dtol * |D| + est (D: Richardson of order h^6;
 *               est: its own error estimate, |R2 - R1| plus the rounding
 *               of long double differences, 100 * eps_ld * |F| / h)
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <float.h>
#include <math.h>

#include "check.h"
#include "exec/exec.h"
#include "nlsq.h"

#define NPOINTS 1000
/* One double ulp, relative: a long double result rounded to double can be
   an ulp from the correctly rounded double operation (double rounding). */
#define ULP 0x1p-52

typedef long double (*ref1)(long double);
typedef long double (*ref2)(long double, long double);

enum { UNIFORM, LOG_POS, LOG_SIGNED };

typedef struct unary_case {
    const char *fmt; /* model text with %s for the argument */
    ref1 f;
    double lo, hi;
    int sampling;
    double hrel, habs; /* difference step max(hrel*|x|, habs) */
    double vtol, dtol;
    int (*avoid)(double);
} unary_case;

typedef struct binary_case {
    const char *fmt; /* with %s, %s for the two arguments */
    ref2 f;
    double lo[2], hi[2];
    int sampling[2];
    double hrel, habs;
    double vtol, dtol;
    int (*avoid)(double, double);
} binary_case;

static long double l_neg(long double a)
{
    return -a;
}
static long double l_sign(long double a)
{
    return a > 0 ? 1 : a < 0 ? -1 : a;
}
static long double l_cube(long double a)
{
    return a * a * a;
}
static long double l_pow7(long double a)
{
    return powl(a, 7);
}
static long double l_inv2(long double a)
{
    return 1 / (a * a);
}
static long double l_pow25(long double a)
{
    return powl(a, 2.5L);
}
static long double l_add(long double a, long double b)
{
    return a + b;
}
static long double l_sub(long double a, long double b)
{
    return a - b;
}
static long double l_mul(long double a, long double b)
{
    return a * b;
}
static long double l_div(long double a, long double b)
{
    return a / b;
}
static long double l_min(long double a, long double b)
{
    return a < b ? a : b;
}
static long double l_max(long double a, long double b)
{
    return a > b ? a : b;
}

static int near_integer(double x)
{
    return fabs(x - nearbyint(x)) < 0.05;
}
static int near_tan_pole(double x)
{
    return fabs(cos(x)) < 0.05;
}
static int near_pole_or_root(double x)
{
    return x < 0.3 && near_integer(x);
}
static int small_divisor(double a, double b)
{
    (void)a;
    return fabs(b) < 1e-2;
}
static int near_origin(double a, double b)
{
    return hypot(a, b) < 1e-2;
}
static int near_tie(double a, double b)
{
    return fabs(a - b) < 1e-2 * (1 + fabs(a));
}

static const unary_case UNARY[] = {
    {"-%s", l_neg, -100, 100, UNIFORM, 0, 1e-3, 0, 0, NULL},
    {"exp(%s)", expl, -30, 30, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"expm1(%s)", expm1l, -30, 30, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"log(%s)", logl, 1e-8, 1e8, LOG_POS, 1e-3, 0, 1e-14, 1e-13, NULL},
    {"log1p(%s)", log1pl, -0.9, 1e3, UNIFORM, 1e-3, 1e-4, 1e-14, 1e-13, NULL},
    {"log10(%s)", log10l, 1e-8, 1e8, LOG_POS, 1e-3, 0, 1e-14, 1e-13, NULL},
    {"log2(%s)", log2l, 1e-8, 1e8, LOG_POS, 1e-3, 0, 1e-14, 1e-13, NULL},
    {"sqrt(%s)", sqrtl, 1e-8, 1e8, LOG_POS, 1e-3, 0, 1e-15, 1e-13, NULL},
    {"cbrt(%s)", cbrtl, 1e-8, 1e8, LOG_SIGNED, 1e-3, 0, 1e-14, 1e-13, NULL},
    {"abs(%s)", fabsl, 1e-8, 1e8, LOG_SIGNED, 1e-3, 0, 0, 0, NULL},
    {"sign(%s)", l_sign, 1e-8, 1e8, LOG_SIGNED, 1e-3, 0, 0, 0, NULL},
    {"floor(%s)", floorl, -100, 100, UNIFORM, 0, 1e-6, 0, 0, near_integer},
    {"ceil(%s)", ceill, -100, 100, UNIFORM, 0, 1e-6, 0, 0, near_integer},
    {"sin(%s)", sinl, -10, 10, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"cos(%s)", cosl, -10, 10, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"tan(%s)", tanl, -10, 10, UNIFORM, 0, 1e-4, 1e-14, 1e-13, near_tan_pole},
    {"asin(%s)", asinl, -0.99, 0.99, UNIFORM, 0, 1e-4, 1e-14, 1e-13, NULL},
    {"acos(%s)", acosl, -0.99, 0.99, UNIFORM, 0, 1e-4, 1e-14, 1e-13, NULL},
    {"atan(%s)", atanl, -1e3, 1e3, UNIFORM, 1e-3, 1e-3, 1e-14, 1e-13, NULL},
    {"sinh(%s)", sinhl, -30, 30, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"cosh(%s)", coshl, -30, 30, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"tanh(%s)", tanhl, -8, 8, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"asinh(%s)", asinhl, -1e3, 1e3, UNIFORM, 1e-3, 1e-3, 1e-14, 1e-13, NULL},
    {"acosh(%s)", acoshl, 1.5, 1e4, LOG_POS, 1e-4, 0, 1e-14, 1e-13, NULL},
    {"atanh(%s)", atanhl, -0.9, 0.9, UNIFORM, 0, 1e-4, 1e-14, 1e-13, NULL},
    {"erf(%s)", erfl, -5, 5, UNIFORM, 0, 1e-3, 1e-14, 1e-13, NULL},
    {"erfc(%s)", erfcl, -5, 10, UNIFORM, 0, 1e-3, 1e-13, 1e-12, NULL},
    {"lgamma(%s)", lgammal, -10, 50, UNIFORM, 0, 1e-4, 1e-13, 1e-12, near_pole_or_root},
    {"tgamma(%s)", tgammal, -10, 20, UNIFORM, 0, 1e-4, 1e-13, 1e-12, near_pole_or_root},
    {"%s^3", l_cube, -1e3, 1e3, UNIFORM, 1e-3, 1e-3, 1e-15, 1e-13, NULL},
    {"%s**7", l_pow7, 1e-3, 1e3, LOG_SIGNED, 1e-3, 0, 1e-15, 1e-13, NULL},
    {"%s^-2", l_inv2, 1e-3, 1e3, LOG_SIGNED, 1e-3, 0, 1e-15, 1e-13, NULL},
    {"%s^2.5", l_pow25, 1e-3, 1e3, LOG_POS, 1e-3, 0, 1e-14, 1e-13, NULL},
};

static const binary_case BINARY[] = {
    {"%s + %s", l_add, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-3, ULP, 0, NULL},
    {"%s - %s", l_sub, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-3, ULP, 0, NULL},
    {"%s * %s", l_mul, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-3, ULP, 0, NULL},
    {"%s / %s", l_div, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 1e-4, 1e-4, ULP, 1e-13, small_divisor},
    {"%s ^ %s", powl, {1e-3, -5}, {100, 5}, {LOG_POS, UNIFORM}, 1e-4, 1e-4, 1e-14, 1e-12, NULL},
    {"pow(%s, %s)", powl, {1e-3, -5}, {100, 5}, {LOG_POS, UNIFORM}, 1e-4, 1e-4, 1e-14, 1e-12, NULL},
    {"hypot(%s, %s)", hypotl, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-4, 1e-15, 1e-13, near_origin},
    {"atan2(%s, %s)", atan2l, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-4, 1e-14, 1e-13, near_origin},
    {"min(%s, %s)", l_min, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-5, 0, 0, near_tie},
    {"max(%s, %s)", l_max, {-100, -100}, {100, 100}, {UNIFORM, UNIFORM}, 0, 1e-5, 0, 0, near_tie},
};

static double sample(rng *r, double lo, double hi, int how)
{
    switch (how) {
    case LOG_POS: return exp(rng_range(r, log(lo), log(hi)));
    case LOG_SIGNED: return (rng_uniform(r) < 0.5 ? -1 : 1) * exp(rng_range(r, log(lo), log(hi)));
    default: return rng_range(r, lo, hi);
    }
}

/* Richardson-extrapolated central difference of g along one argument:
   D(h) has error c2 h^2 + c4 h^4 + ..., two extrapolations leave O(h^6). */
typedef struct fd {
    long double value, error;
} fd;

static fd richardson(long double (*g)(const void *, long double), const void *ctx, long double x, long double h)
{
    long double d[3];
    for (int k = 0; k < 3; k++) {
        long double s = h / (1 << k);
        d[k] = (g(ctx, x + s) - g(ctx, x - s)) / (2 * s);
    }
    long double r1a = (4 * d[1] - d[0]) / 3, r1b = (4 * d[2] - d[1]) / 3;
    long double r2 = (16 * r1b - r1a) / 15;
    /* Rounding: of the values (eps |F|) and of the arguments x +- s
       (eps |x| |F'|), divided by the step. */
    long double rounding = 100 * LDBL_EPSILON * (fabsl(g(ctx, x)) + fabsl(x * r2)) / h;
    fd out = {r2, fabsl(r2 - r1b) + rounding};
    return out;
}

static long double call1(const void *ctx, long double x)
{
    return ((ref1)ctx)(x);
}

typedef struct bctx {
    ref2 f;
    long double other;
    int which;
} bctx;

static long double call2(const void *ctx, long double x)
{
    const bctx *c = ctx;
    return c->which == 0 ? c->f(x, c->other) : c->f(c->other, x);
}

static nlsq_model *parse_or_report(const char *text, const char *vars)
{
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = vars;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) CHECK_MSG(0, "cannot parse \"%s\": %s", text, e.message);
    return m;
}

static void check_unary(const unary_case *c, const char *mode)
{
    char point_text[128], uniform_text[128];
    snprintf(point_text, sizeof point_text, c->fmt, "(x + p)");
    snprintf(uniform_text, sizeof uniform_text, c->fmt, "(p)");
    nlsq_model *pm = parse_or_report(point_text, "x");
    nlsq_model *um = parse_or_report(uniform_text, "x");
    if (!pm || !um) goto done;
    rng r = {0x9e3779b97f4a7c15ull + (unsigned long long)(c - UNARY)};
    static double x[NPOINTS], f[NPOINTS], J[NPOINTS];
    for (int i = 0; i < NPOINTS; i++) {
        do x[i] = sample(&r, c->lo, c->hi, c->sampling);
        while (c->avoid && c->avoid(x[i]));
    }
    double zero = 0;
    CHECK(nlsq_model_eval(pm, &zero, x, NPOINTS, f, J, NULL) == NLSQ_OK);
    int bad_v = 0, bad_d = 0;
    for (int i = 0; i < NPOINTS; i++) {
        double uf, uJ, dummy = 0;
        CHECK(nlsq_model_eval(um, &x[i], &dummy, 1, &uf, &uJ, NULL) == NLSQ_OK);
        long double F = c->f(x[i]);
        double vb = c->vtol * fabsl(F);
        fd D = richardson(call1, (const void *)c->f, x[i], fmax(c->hrel * fabs(x[i]), c->habs));
        double db = c->dtol * fabsl(D.value) + D.error;
        if (bad_v < 3) {
            int before = check_failures;
            CHECK_NEAR(f[i], (double)F, vb, "%s [%s] value at x=%.17g (per point)", point_text, mode, x[i]);
            CHECK_NEAR(uf, (double)F, vb, "%s [%s] value at p=%.17g (uniform)", uniform_text, mode, x[i]);
            bad_v += check_failures > before;
        }
        if (bad_d < 3) {
            int before = check_failures;
            CHECK_NEAR(J[i], (double)D.value, db, "%s [%s] derivative at x=%.17g (per point)", point_text, mode, x[i]);
            CHECK_NEAR(uJ, (double)D.value, db, "%s [%s] derivative at p=%.17g (uniform)", uniform_text, mode, x[i]);
            bad_d += check_failures > before;
        }
    }
done:
    nlsq_model_free(pm);
    nlsq_model_free(um);
}

static void check_binary(const binary_case *c, const char *mode)
{
    char point_text[128], uniform_text[128];
    snprintf(point_text, sizeof point_text, c->fmt, "(x + p)", "(y + q)");
    snprintf(uniform_text, sizeof uniform_text, c->fmt, "(p)", "(q)");
    nlsq_model *pm = parse_or_report(point_text, "x,y");
    nlsq_model *um = parse_or_report(uniform_text, "x,y");
    if (!pm || !um) goto done;
    CHECK(nlsq_model_num_params(pm) == 2 && nlsq_model_num_params(um) == 2);
    rng r = {0xd1b54a32d192ed03ull + (unsigned long long)(c - BINARY)};
    static double xy[2 * NPOINTS], f[NPOINTS], J[2 * NPOINTS];
    for (int i = 0; i < NPOINTS; i++) {
        do {
            xy[i] = sample(&r, c->lo[0], c->hi[0], c->sampling[0]);
            xy[NPOINTS + i] = sample(&r, c->lo[1], c->hi[1], c->sampling[1]);
        } while (c->avoid && c->avoid(xy[i], xy[NPOINTS + i]));
    }
    double zeros[2] = {0, 0};
    CHECK(nlsq_model_eval(pm, zeros, xy, NPOINTS, f, J, NULL) == NLSQ_OK);
    int bad = 0;
    for (int i = 0; i < NPOINTS && bad < 3; i++) {
        int before = check_failures;
        double a = xy[i], b = xy[NPOINTS + i], p[2] = {a, b}, dummy[2] = {0, 0}, uf, uJ[2];
        CHECK(nlsq_model_eval(um, p, dummy, 1, &uf, uJ, NULL) == NLSQ_OK);
        long double F = c->f(a, b);
        CHECK_NEAR(f[i], (double)F, c->vtol * fabsl(F), "%s [%s] value at (%.17g, %.17g)", point_text, mode, a, b);
        CHECK_NEAR(uf, (double)F, c->vtol * fabsl(F), "%s [%s] uniform value at (%.17g, %.17g)", uniform_text, mode, a,
                   b);
        for (int k = 0; k < 2; k++) {
            bctx ctx = {c->f, k == 0 ? b : a, k};
            double at = k == 0 ? a : b;
            fd D = richardson(call2, &ctx, at, fmax(c->hrel * fabs(at), c->habs));
            double db = c->dtol * fabsl(D.value) + D.error;
            CHECK_NEAR(J[2 * i + k], (double)D.value, db, "%s [%s] d/darg%d at (%.17g, %.17g)", point_text, mode, k + 1,
                       a, b);
            CHECK_NEAR(uJ[k], (double)D.value, db, "%s [%s] uniform d/darg%d at (%.17g, %.17g)", uniform_text, mode,
                       k + 1, a, b);
        }
        bad += check_failures > before;
    }
done:
    nlsq_model_free(pm);
    nlsq_model_free(um);
}

static void run_all(const char *mode)
{
    for (size_t i = 0; i < sizeof UNARY / sizeof UNARY[0]; i++) check_unary(&UNARY[i], mode);
    for (size_t i = 0; i < sizeof BINARY / sizeof BINARY[0]; i++) check_binary(&BINARY[i], mode);
}

static void test_every_function_and_operator_with_vector_math(void)
{
    unsetenv("NLSQ_VECTOR_MATH");
    if (vmath_select() == vmath_scalar()) {
        test_skip("no vector math here (libmvec not built in, or the CPU lacks AVX2/FMA); "
                  "the scalar libm test covers this machine");
        return;
    }
    run_all(vmath_select()->name);
}

static void test_every_function_and_operator_with_scalar_libm(void)
{
    setenv("NLSQ_VECTOR_MATH", "off", 1);
    run_all("scalar libm");
    unsetenv("NLSQ_VECTOR_MATH");
}

/* The two math tables must agree closely wherever both are finite. */
static void test_vector_and_scalar_math_agree(void)
{
    unsetenv("NLSQ_VECTOR_MATH");
    if (vmath_select() == vmath_scalar()) {
        test_skip("no vector math on this machine to compare with scalar libm");
        return;
    }
    const char *text = "exp(-x/7) + log(x) + sin(x) + cos(x) + pow(x, 1.3) + tanh(x/50) + atan2(x, 3)"
                       " + erf(x/100) + expm1(x/90) + log1p(x)";
    nlsq_model *m = parse_or_report(text, "x");
    if (!m) return;
    static double x[NPOINTS], f1[NPOINTS], f2[NPOINTS];
    rng r = {12345};
    for (int i = 0; i < NPOINTS; i++) x[i] = rng_range(&r, 0.01, 500);
    unsetenv("NLSQ_VECTOR_MATH");
    CHECK(nlsq_model_eval(m, NULL, x, NPOINTS, f1, NULL, NULL) == NLSQ_OK);
    setenv("NLSQ_VECTOR_MATH", "off", 1);
    CHECK(nlsq_model_eval(m, NULL, x, NPOINTS, f2, NULL, NULL) == NLSQ_OK);
    unsetenv("NLSQ_VECTOR_MATH");
    for (int i = 0; i < NPOINTS; i++) CHECK_NEAR(f1[i], f2[i], 1e-13 * fabs(f2[i]), "tables at x=%g", x[i]);
    nlsq_model_free(m);
}

/* Where the CPU has AVX2 and FMA and libmvec is built in, the vector table
   must be chosen (else the vector test above would silently skip), and
   NLSQ_VECTOR_MATH=off must turn it off. */
static void test_vector_math_is_chosen_where_the_cpu_has_it(void)
{
    unsetenv("NLSQ_VECTOR_MATH");
#if defined(__x86_64__) && defined(__GNUC__)
    int cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    int cpu = 0;
#endif
    if (!cpu || !vmath_avx2()) {
        test_skip(!cpu ? "this CPU has no AVX2/FMA" : "libmvec was not found at build time");
        return;
    }
    CHECK(vmath_select() == vmath_avx2());
    setenv("NLSQ_VECTOR_MATH", "off", 1);
    CHECK(vmath_select() == vmath_scalar());
    unsetenv("NLSQ_VECTOR_MATH");
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_every_function_and_operator_with_vector_math),
        TEST(test_every_function_and_operator_with_scalar_libm),
        TEST(test_vector_and_scalar_math_agree),
        TEST(test_vector_math_is_chosen_where_the_cpu_has_it),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
