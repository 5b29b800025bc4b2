/*
 * The distributions behind intervals and tests: normal, Student t,
 * chi-square and F, their distribution functions and quantiles.
 *
 * Everything reduces to two special functions, the regularized incomplete
 * beta I_x(a, b) (t, F) and the regularized incomplete gamma P(a, x)
 * (chi-square), each computed together with its complement so that a tail
 * of 1e-300 keeps its relative precision: a quantile near 1 is found from
 * the upper tail 1 - p, which is exact in floating point for p >= 1/2.
 * Quantiles invert the distribution function by Newton's method on the
 * logarithm of the smaller tail inside a bracket that only shrinks, so
 * they converge from any start to the last few ulp of the tail's value.
 */
#include <float.h>
#include <math.h>

#include "nlsq.h"

#define LOG_SQRT_2PI 0.91893853320467274178 /* log(sqrt(2 pi)) */
#define SQRT2 1.41421356237309504880
#define LN2 0.69314718055994530942

/* ---- log Beta, accurate when one argument is large ------------------------ */

/* The tail of Stirling's series for lgamma(z), z >= 10: lgamma(z) minus
   (z - 1/2) log z - z + log sqrt(2 pi). */
static double stirling_tail(double z)
{
    double r = 1 / z, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}

/* lgamma(b) - lgamma(a + b) for b >= 10 without the cancellation of two
   large numbers: -a log b - (a + b - 1/2) log1p(a/b) + a + tails. */
static double lgamma_ratio(double a, double b)
{
    return -a * log(b) - (a + b - 0.5) * log1p(a / b) + a + stirling_tail(b) - stirling_tail(a + b);
}

static double log_beta(double a, double b)
{
    double lo = a < b ? a : b, hi = a < b ? b : a;
    if (hi >= 10) return lgamma(lo) + lgamma_ratio(lo, hi);
    return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/* ---- the incomplete beta ---------------------------------------------------- */

/* The continued fraction of I_x(a, b) / (x^a (1-x)^b / (a B(a, b))), by
   the modified Lentz method; it converges fast for x < (a + 1)/(a + b + 2). */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double f = d;
    for (int k = 1; k <= 10000; k++) {
        double num = k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        f *= d * c;
        num = -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1) < 1e-16) break;
    }
    return f;
}

/* I_x(a, b) into *lower and 1 - I_x(a, b) into *upper, each to its own
   relative precision. y = 1 - x is passed separately so that a caller who
   has it exactly (t^2 / (nu + t^2)) does not lose it. */
static void incomplete_beta(double a, double b, double x, double y, double *lower, double *upper)
{
    if (x <= 0) {
        *lower = 0;
        *upper = 1;
        return;
    }
    if (y <= 0) {
        *lower = 1;
        *upper = 0;
        return;
    }
    int swap = x > (a + 1) / (a + b + 2);
    if (swap) {
        double t = a;
        a = b;
        b = t;
        t = x;
        x = y;
        y = t;
    }
    /* log of whichever of x, 1 - x is near 1 through log1p of the other, so
       that a large a or b does not multiply the rounding of a number near 1 */
    double log_x = x < 0.5 ? log(x) : log1p(-y), log_y = y < 0.5 ? log(y) : log1p(-x);
    double front = exp(a * log_x + b * log_y - log_beta(a, b)) / a;
    double small = front * beta_fraction(a, b, x);
    if (small > 1) small = 1;
    *lower = swap ? 1 - small : small;
    *upper = swap ? small : 1 - small;
}

/* log(1 + d) - d, without the cancellation near d = 0. */
static double log1pmx(double d)
{
    if (fabs(d) > 0.5) return log1p(d) - d;
    double term = d, sum = 0;
    for (int k = 2; k < 200; k++) {
        term *= -d;
        double add = term / k;
        sum += add;
        if (fabs(add) < 1e-17 * fabs(sum)) break;
    }
    return sum;
}

/* x^a e^-x / Gamma(a): for a >= 10 as exp(a log1pmx((x - a)/a) - tail(a))
   sqrt(a / (2 pi)), which keeps the a log a terms from cancelling. */
static double gamma_front(double a, double x)
{
    if (a < 10) return exp(a * log(x) - x - lgamma(a));
    return exp(a * log1pmx((x - a) / a) - stirling_tail(a)) * sqrt(a / (2 * 3.14159265358979323846));
}

/* ---- the incomplete gamma ----------------------------------------------------- */

/* P(a, x) into *lower and Q(a, x) = 1 - P into *upper: the series for
   x < a + 1, Legendre's continued fraction (Lentz) beyond. */
static void incomplete_gamma(double a, double x, double *lower, double *upper)
{
    if (x <= 0) {
        *lower = 0;
        *upper = 1;
        return;
    }
    if (isinf(x)) {
        *lower = 1;
        *upper = 0;
        return;
    }
    double front = gamma_front(a, x);
    if (x < a + 1) {
        double term = 1 / a, sum = term;
        for (int k = 1; k < 100000; k++) {
            term *= x / (a + k);
            sum += term;
            if (fabs(term) < fabs(sum) * 1e-17) break;
        }
        double p = front * sum;
        if (p > 1) p = 1;
        *lower = p;
        *upper = 1 - p;
        return;
    }
    const double tiny = 1e-300;
    double b = x + 1 - a, c = 1 / tiny, d = 1 / b, f = d;
    for (int k = 1; k < 100000; k++) {
        double an = -k * (k - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1) < 1e-16) break;
    }
    double q = front * f;
    if (q > 1) q = 1;
    *lower = 1 - q;
    *upper = q;
}

/* ---- the distributions: both tails and the density ------------------------------ */

/* A distribution on one variable as the quantile search needs it: both
   tails at x (each to its own precision) and the density. */
typedef struct dist {
    int kind; /* 0 normal, 1 t, 2 chi2, 3 F */
    double d1, d2;
} dist;

static void tails(const dist *D, double x, double *lo, double *up)
{
    switch (D->kind) {
    case 0:
        *lo = 0.5 * erfc(-x / SQRT2);
        *up = 0.5 * erfc(x / SQRT2);
        return;
    case 1: {
        double nu = D->d1, t2 = x * x;
        if (isinf(x)) {
            *lo = x < 0 ? 0 : 1;
            *up = 1 - *lo;
            return;
        }
        /* P(|T| > |x|) = I_{nu/(nu+x^2)}(nu/2, 1/2) */
        double both, inside;
        incomplete_beta(nu / 2, 0.5, nu / (nu + t2), t2 / (nu + t2), &both, &inside);
        double tail = 0.5 * both;
        *lo = x < 0 ? tail : 0.5 + 0.5 * inside;
        *up = x < 0 ? 0.5 + 0.5 * inside : tail;
        return;
    }
    case 2:
        incomplete_gamma(D->d1 / 2, x / 2, lo, up);
        return;
    default: {
        double u = D->d1 * x, v = D->d2;
        incomplete_beta(D->d1 / 2, D->d2 / 2, u / (u + v), v / (u + v), lo, up);
        return;
    }
    }
}

static double log_density(const dist *D, double x)
{
    switch (D->kind) {
    case 0:
        return -0.5 * x * x - LOG_SQRT_2PI;
    case 1: {
        double nu = D->d1;
        return -log_beta(nu / 2, 0.5) - 0.5 * log(nu) - (nu + 1) / 2 * log1p(x * x / nu);
    }
    case 2: {
        double k = D->d1 / 2;
        return (k - 1) * log(x) - x / 2 - k * LN2 - lgamma(k);
    }
    default: {
        double a = D->d1 / 2, b = D->d2 / 2, r = D->d1 / D->d2;
        return a * log(r) + (a - 1) * log(x) - (a + b) * log1p(r * x) - log_beta(a, b);
    }
    }
}

/*
 * The x > 0 (t: x >= 0) where the lower tail is q (upper = 0) or the upper
 * tail is q (upper = 1), q <= 1/2. Newton on log(tail) - log(q), whose
 * derivative is -+density/tail, inside a bracket [lo, hi] that every
 * evaluation narrows; a step that leaves it bisects instead (geometric
 * bisection while hi is far above lo, so tails of any depth are reached
 * in few steps).
 */
static double solve_tail(const dist *D, double q, int upper, double x)
{
    double lo = 0, hi = INFINITY, target = log(q);
    for (int it = 0; it < 400; it++) {
        double tl, tu;
        tails(D, x, &tl, &tu);
        double tail = upper ? tu : tl;
        double g = log(tail) - target; /* increasing in x for the lower tail */
        int below = upper ? g > 0 : g < 0; /* the root is above x */
        if (g == 0) return x;
        if (below)
            lo = x;
        else
            hi = x;
        double slope = exp(log_density(D, x) - log(tail)) * (upper ? -1 : 1);
        double next = x - g / slope;
        if (!(next > lo && next < hi) || !isfinite(next)) {
            if (isinf(hi))
                next = lo > 0 ? 2 * lo : 1;
            else if (lo > 0 && hi > 4 * lo)
                next = sqrt(lo * hi);
            else
                next = 0.5 * (lo + hi);
        }
        if (fabs(next - x) <= 2 * DBL_EPSILON * fabs(x) || (isfinite(hi) && hi - lo <= 2 * DBL_EPSILON * hi)) return next;
        x = next;
    }
    return x;
}

static int bad_p(double p) { return !(p > 0 && p < 1); }
static int bad_dof(double d) { return !(d > 0); }

/* ---- the public functions ---------------------------------------------------- */

double nlsq_normal_cdf(double x)
{
    return 0.5 * erfc(-x / SQRT2);
}

/* The lower-tail quantile for p <= 1/2 from a rational start (good to
   about 1e-3) and Newton on the logarithm of the tail. */
double nlsq_normal_quantile(double p)
{
    if (bad_p(p)) return NAN;
    if (p == 0.5) return 0;
    double q = p < 0.5 ? p : 1 - p;
    /* start: the tail's asymptote log q ~ -x^2/2 - log(x sqrt(2 pi)) */
    double t = sqrt(-2 * log(q));
    double x0 = t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
    dist D = {0, 0, 0};
    double x = solve_tail(&D, q, 1, x0 > 0 ? x0 : 1e-3);
    return p < 0.5 ? -x : x;
}

double nlsq_t_cdf(double t, double dof)
{
    if (isnan(t) || bad_dof(dof)) return NAN;
    if (isinf(dof)) return nlsq_normal_cdf(t);
    dist D = {1, dof, 0};
    double lo, up;
    tails(&D, t, &lo, &up);
    return lo;
}

double nlsq_t_quantile(double p, double dof)
{
    if (bad_p(p) || bad_dof(dof)) return NAN;
    if (isinf(dof) || dof > 1e300) return nlsq_normal_quantile(p);
    if (p == 0.5) return 0;
    double q = p < 0.5 ? p : 1 - p;
    dist D = {1, dof, 0};
    double z = -nlsq_normal_quantile(q);
    double x = solve_tail(&D, q, 1, z > 0 ? z : 1e-3);
    return p < 0.5 ? -x : x;
}

double nlsq_chi2_cdf(double x, double dof)
{
    if (isnan(x) || bad_dof(dof)) return NAN;
    if (isinf(dof)) return x < INFINITY ? 0 : 1;
    dist D = {2, dof, 0};
    double lo, up;
    tails(&D, x, &lo, &up);
    return lo;
}

double nlsq_chi2_quantile(double p, double dof)
{
    if (bad_p(p) || bad_dof(dof) || isinf(dof)) return NAN;
    dist D = {2, dof, 0};
    /* start: Wilson and Hilferty's cube-root normal approximation */
    double z = nlsq_normal_quantile(p), h = 2 / (9 * dof), c = 1 - h + z * sqrt(h);
    double x0 = c > 0 ? dof * c * c * c : 1e-3;
    return p < 0.5 ? solve_tail(&D, p, 0, x0) : solve_tail(&D, 1 - p, 1, x0);
}

double nlsq_f_cdf(double x, double dof1, double dof2)
{
    if (isnan(x) || bad_dof(dof1) || bad_dof(dof2) || isinf(dof1) || isinf(dof2)) return NAN;
    dist D = {3, dof1, dof2};
    double lo, up;
    tails(&D, x, &lo, &up);
    return lo;
}

double nlsq_f_quantile(double p, double dof1, double dof2)
{
    if (bad_p(p) || bad_dof(dof1) || bad_dof(dof2) || isinf(dof1) || isinf(dof2)) return NAN;
    dist D = {3, dof1, dof2};
    return p < 0.5 ? solve_tail(&D, p, 0, 1) : solve_tail(&D, 1 - p, 1, 1);
}
