/*
 * Start values from the data (nlsq_guess_shape, nlsq_guess_sum): for every
 * shape of shapes19.md, synthetic data with known parameters at noise 0,
 * 1%, 5% and 10% of the curve's range (xorshift, Box-Muller: the same
 * numbers on every machine). Two properties each time:
 *   1. the estimate is within the bounds stated per parameter in the
 *      case table (relative, or absolute such as half a sigma for a
 *      centre; a shape parameter the data barely determine is unchecked
 *      and says so) of the truth, or of the least-squares answer (the fit
 *      from the truth) where noise has moved that beyond the bound;
 *   2. a fit started there reaches the true minimum: its cost is within
 *      1e-6 relative of the fit started at the truth. The model is the
 *      same formula written as model text here by hand.
 * The data are made by evaluating that model text at the truth
 * (nlsq_model_eval), so the estimators and the data share no code.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "fit/guess.h"
#include "nlsq.h"

#define PI 3.14159265358979323846
#define MAXP 24
#define UNCHECKED NAN

/* ---- the shapes as model text: $k is the component's k-th parameter ---- */

static const struct {
    const char *shape, *text;
} shape_text[] = {
    {"constant", "$0"},
    {"linear", "$0*x + $1"},
    {"polynomial2", "$0 + $1*x + $2*x^2"},
    {"polynomial3", "$0 + $1*x + $2*x^2 + $3*x^3"},
    {"exponential", "$0*exp(-x/$1)"},
    {"stretched_exponential", "$0*exp(-(x/$1)^$2)"},
    {"power_law", "$0*x^$1"},
    {"gaussian", "$0/($2*sqrt(2*pi))*exp(-(x-$1)^2/(2*$2^2))"},
    {"lorentzian", "$0/pi*$2/((x-$1)^2+$2^2)"},
    {"pseudo_voigt", "(1-$3)*$0/($2/sqrt(2*log(2))*sqrt(2*pi))*exp(-(x-$1)^2/(2*($2/sqrt(2*log(2)))^2))"
                     " + $3*$0/pi*$2/((x-$1)^2+$2^2)"},
    {"pearson7", "$0/($2*exp(lgamma($3-0.5)+lgamma(0.5)-lgamma($3)))*(1+((x-$1)/$2)^2*(2^(1/$3)-1))^(-$3)"},
    {"skewed_gaussian", "$0/($2*sqrt(2*pi))*exp(-(x-$1)^2/(2*$2^2))*(1+erf($3*(x-$1)/($2*sqrt(2))))"},
    {"exp_gaussian", "$0*$3/2*exp($3*($1-x+$3*$2^2/2))*erfc(($1+$3*$2^2-x)/(sqrt(2)*$2))"},
    {"moffat", "$0/(((x-$1)/$2)^2+1)^$3"},
    {"lognormal", "$0/(x*$2*sqrt(2*pi))*exp(-(log(x)-$1)^2/(2*$2^2))"},
    {"logistic", "$0*(1-1/(1+exp((x-$1)/$2)))"},
    {"logistic4", "$0+($1-$0)/(1+($2/x)^$3)"},
    {"logistic5", "$0+($1-$0)/(1+($2/x)^$3)^$4"},
    {"hill", "$0*x^$2/($1^$2+x^$2)"},
    {"michaelis_menten", "$0*x/($1+x)"},
    {"arrhenius", "$0*exp(-$1/x)"},
    {"damped_sine", "$0*exp(-x/$3)*sin(2*pi*$1*x+$2)"},
    {"erf_step", "$0/2*(1+erf((x-$1)/($2*sqrt(2))))"},
};

/* The sum's model text with parameters p0, p1, ... in order; and their
   list for nlsq_model_options.params. 0 when a shape has no text here. */
static int sum_text(const char *const *shapes, int n, char *text, size_t size, char *names, size_t nsize)
{
    int at = 0;
    text[0] = names[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *t = NULL;
        for (size_t k = 0; k < sizeof shape_text / sizeof *shape_text; k++)
            if (strcmp(shape_text[k].shape, shapes[i]) == 0) t = shape_text[k].text;
        if (!t) return 0;
        if (i) strncat(text, " + ", size - strlen(text) - 1);
        for (; *t; t++) {
            char piece[16] = {*t, 0};
            if (*t == '$') snprintf(piece, sizeof piece, "p%d", at + (*++t - '0'));
            strncat(text, piece, size - strlen(text) - 1);
        }
        at += nlsq_guess_num_params(shapes[i]);
    }
    for (int k = 0; k < at; k++) {
        char piece[16];
        snprintf(piece, sizeof piece, k ? ",p%d" : "p%d", k);
        strncat(names, piece, nsize - strlen(names) - 1);
    }
    return 1;
}

static nlsq_model *sum_model(const char *const *shapes, int n)
{
    char text[4096], names[512];
    if (!sum_text(shapes, n, text, sizeof text, names, sizeof names)) return NULL;
    nlsq_model_options o = nlsq_model_options_default();
    o.params = names;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse \"%s\": %s", text, e.message);
    return m;
}

static double normal(rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u > 1e-300 ? u : 1e-300)) * cos(2 * PI * v);
}

/* ---- the cases ----------------------------------------------------------- */

enum { GRID_LINEAR, GRID_LOG, GRID_RANDOM };

typedef struct guess_case {
    const char *name;
    const char *shapes[6];
    double truth[MAXP];
    /* bound per parameter: > 0 relative to |truth|, < 0 absolute (-bound),
       NaN unchecked (a shape parameter the data barely determine) */
    double bound[MAXP];
    double x0, x1;
    size_t m;
    int grid;     /* GRID_LOG: geometric; GRID_RANDOM: uniform draws, unsorted */
    int phase_at; /* a phase compared modulo 2 pi, or -1 */
} guess_case;

static int case_nshapes(const guess_case *c)
{
    int n = 0;
    while (n < 6 && c->shapes[n]) n++;
    return n;
}

static int case_nparams(const guess_case *c)
{
    int p = 0;
    for (int i = 0; i < case_nshapes(c); i++) p += nlsq_guess_num_params(c->shapes[i]);
    return p;
}

static void case_x(const guess_case *c, rng *r, double *x)
{
    for (size_t i = 0; i < c->m; i++) {
        double f = (double)i / (double)(c->m - 1);
        if (c->grid == GRID_LOG)
            x[i] = c->x0 * pow(c->x1 / c->x0, f);
        else if (c->grid == GRID_RANDOM)
            x[i] = rng_range(r, c->x0, c->x1);
        else
            x[i] = c->x0 + f * (c->x1 - c->x0);
    }
}

/* The error against the truth, or against the least-squares answer when
   that is nearer: at 10% noise the minimum itself may lie beyond a bound
   around the truth, and no estimate should be asked to beat it. */
static double param_error(const guess_case *c, int k, double est, const double *best)
{
    double d = est - c->truth[k], e = best ? est - best[k] : INFINITY;
    if (k == c->phase_at) d = remainder(d, 2 * PI), e = remainder(e, 2 * PI);
    return fmin(fabs(d), fabs(e));
}

static double bound_of(const guess_case *c, int k)
{
    double b = c->bound[k];
    return b > 0 ? b * fabs(c->truth[k]) : -b;
}

/* The worst |error|/bound over the checked parameters (1 = at the bound). */
static double worst_ratio(const guess_case *c, const double *est, const double *best, int np, int *which)
{
    double worst = 0;
    *which = -1;
    for (int k = 0; k < np; k++) {
        if (isnan(c->bound[k])) continue;
        double r = param_error(c, k, est[k], best) / bound_of(c, k);
        if (!(r <= worst)) worst = r, *which = k;
    }
    return worst;
}

/* The cost where a fit from p0 ends; its parameters into popt if not NULL. */
static double fit_cost(const nlsq_model *model, const nlsq_data *d, const double *p0, int *ok, double *popt)
{
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *r = NULL;
    nlsq_error e;
    *ok = nlsq_curve_fit(model, d, &o, &r, &e) == NLSQ_OK;
    double cost = *ok ? r->cost : NAN;
    if (*ok && popt) memcpy(popt, r->popt, (size_t)r->n * sizeof *popt);
    nlsq_result_free(r);
    return cost;
}

static const double noise_levels[] = {0, 0.01, 0.05, 0.10};

/* One case at every noise level: bounds, then the fit from the estimate. */
static void run_case(const guess_case *c, int fit)
{
    int n = case_nshapes(c), np = case_nparams(c);
    nlsq_model *model = sum_model(c->shapes, n);
    if (!model) {
        CHECK_MSG(0, "%s: no model text", c->name);
        return;
    }
    double *x = malloc(c->m * sizeof *x), *y = malloc(c->m * sizeof *y), *clean = malloc(c->m * sizeof *clean);
    rng r = {0x9E3779B97F4A7C15ull ^ (uint64_t)c->m};
    case_x(c, &r, x);
    CHECK(nlsq_model_eval(model, c->truth, x, c->m, clean, NULL, NULL) == NLSQ_OK);
    double lo = clean[0], hi = clean[0];
    for (size_t i = 1; i < c->m; i++) lo = fmin(lo, clean[i]), hi = fmax(hi, clean[i]);
    printf("    %-28s", c->name);
    for (size_t level = 0; level < sizeof noise_levels / sizeof *noise_levels; level++) {
        for (size_t i = 0; i < c->m; i++) y[i] = clean[i] + noise_levels[level] * (hi - lo) * normal(&r);
        double est[MAXP];
        nlsq_error e;
        nlsq_status st = nlsq_guess_sum(c->shapes, n, x, y, c->m, est, &e);
        CHECK_MSG(st == NLSQ_OK, "%s noise %g: %s", c->name, noise_levels[level], e.message);
        if (st != NLSQ_OK) continue;
        nlsq_data d = {x, y, c->m, NULL, 0};
        int ok_truth, ok_est, which;
        double best[MAXP];
        double at_truth = fit_cost(model, &d, c->truth, &ok_truth, best);
        printf(" %5.2f", worst_ratio(c, est, NULL, np, &which));
        double worst = worst_ratio(c, est, fit && ok_truth ? best : NULL, np, &which);
        CHECK_MSG(worst <= 1, "%s noise %g: parameter %d estimated %.6g, truth %.6g, bound %.3g", c->name,
                  noise_levels[level], which, est[which], c->truth[which], bound_of(c, which));
        if (!fit) continue;
        double from_est = fit_cost(model, &d, est, &ok_est, NULL);
        double floor = 1e-20 * (hi - lo) * (hi - lo) * (double)c->m;
        CHECK_MSG(ok_truth && ok_est && from_est <= at_truth * (1 + 1e-6) + floor,
                  "%s noise %g: the fit from the estimate ends at cost %.10g, from the truth at %.10g", c->name,
                  noise_levels[level], from_est, at_truth);
    }
    printf("   (worst |error|/bound against the truth at noise 0, 1, 5, 10%%)\n");
    free(x);
    free(y);
    free(clean);
    nlsq_model_free(model);
}

/* sigma = 8.5, so the bounds below say: centre within sigma/2, width and
   area within 30%. */
static const guess_case issue_case = {
    "issue19_peak_at_532",
    {"gaussian", "constant"},
    {1200 * 8.5 * 2.5066282746310002, 532, 8.5, 150},
    {0.3, -4.25, 0.3, 0.2},
    382,
    682,
    301,
    GRID_LINEAR,
    -1,
};

static const guess_case single_cases[] = {
    {"constant", {"constant"}, {3.5}, {0.05}, 0, 10, 50, GRID_LINEAR, -1},
    {"linear", {"linear"}, {-2, 7}, {0.05, 0.05}, 0, 10, 50, GRID_RANDOM, -1},
    {"polynomial3",
     {"polynomial3"},
     {1, -2, 0.5, 0.1},
     {UNCHECKED, UNCHECKED, UNCHECKED, 0.3},
     -3,
     4,
     80,
     GRID_LINEAR,
     -1},
    {"exponential", {"exponential"}, {5, 2}, {0.2, 0.2}, 0, 10, 100, GRID_LINEAR, -1},
    {"exponential_growth",
     {"exponential", "constant"},
     {0.5, -3, 1},
     {0.3, 0.2, UNCHECKED},
     0,
     8,
     100,
     GRID_LINEAR,
     -1},
    {"stretched_exponential", {"stretched_exponential"}, {4, 3, 0.6}, {0.2, 0.3, 0.3}, 0, 20, 120, GRID_LINEAR, -1},
    {"power_law", {"power_law"}, {2.5, -1.5}, {0.3, 0.1}, 0.5, 50, 80, GRID_LOG, -1},
    {"gaussian_unsorted", {"gaussian"}, {10, 3, 0.7}, {0.3, -0.35, 0.3}, -2, 8, 200, GRID_RANDOM, -1},
    {"lorentzian_dip",
     {"lorentzian", "constant"},
     {-6, 5, 0.5, 10},
     {0.3, -0.25, 0.3, 0.1},
     0,
     10,
     200,
     GRID_LINEAR,
     -1},
    {"pseudo_voigt", {"pseudo_voigt"}, {8, 1, 0.8, 0.4}, {0.3, -0.4, 0.3, UNCHECKED}, -5, 6, 200, GRID_LINEAR, -1},
    {"pearson7",
     {"pearson7", "linear"},
     {20, 50, 3, 2.5, 0.02, 1},
     {0.3, -1.5, 0.3, UNCHECKED, UNCHECKED, UNCHECKED},
     20,
     80,
     240,
     GRID_LINEAR,
     -1},
    {"skewed_gaussian",
     {"skewed_gaussian"},
     {10, 4, 1.5, 3},
     {0.3, -1.5, 0.4, UNCHECKED},
     -2,
     14,
     250,
     GRID_LINEAR,
     -1},
    {"exp_gaussian", {"exp_gaussian"}, {10, 4, 0.5, 0.8}, {0.3, -0.5, 0.5, 0.6}, 0, 15, 300, GRID_LINEAR, -1},
    {"moffat",
     {"moffat", "constant"},
     {5, 2, 0.7, 1.8, 0.5},
     {0.3, -0.35, 0.5, UNCHECKED, UNCHECKED},
     -4,
     8,
     200,
     GRID_LINEAR,
     -1},
    {"lognormal", {"lognormal"}, {10, 1, 0.4}, {0.3, 0.2, 0.3}, 0.1, 12, 200, GRID_LINEAR, -1},
    {"logistic", {"logistic", "constant"}, {4, 5, 0.8, 1}, {0.2, -0.4, 0.4, UNCHECKED}, 0, 10, 120, GRID_LINEAR, -1},
    {"erf_step_falling", {"erf_step"}, {-3, 2, 0.6}, {0.2, -0.3, 0.4}, -3, 7, 150, GRID_RANDOM, -1},
    {"logistic5", {"logistic5"}, {1, 10, 3, 1.5, 0.7}, {0.3, 0.1, 0.5, 0.5, UNCHECKED}, 0.01, 1000, 60, GRID_LOG, -1},
    {"hill", {"hill"}, {8, 2, 2.5}, {0.2, 0.3, 0.3}, 0.1, 20, 60, GRID_LOG, -1},
    {"arrhenius", {"arrhenius"}, {1e7, 5000}, {0.5, 0.05}, 280, 400, 40, GRID_LINEAR, -1},
    {"erf_step_on_line",
     {"erf_step", "linear"},
     {2, 0, 0.3, 0.1, 1},
     {0.2, -0.15, 0.5, UNCHECKED, UNCHECKED},
     -3,
     3,
     120,
     GRID_LINEAR,
     -1},
};

/* The issue's sums and curves. */
static const guess_case named_cases[] = {
    /* three Gaussians closer than 3 sigma apart on a line */
    {"three_overlapping_gaussians",
     {"gaussian", "gaussian", "gaussian", "linear"},
     {3, 4, 0.6, 4, 5.6, 0.7, 2.5, 7.2, 0.6, 0.05, 0.2},
     {0.3, -0.3, 0.3, 0.3, -0.35, 0.3, 0.3, -0.3, 0.3, UNCHECKED, UNCHECKED},
     0,
     12,
     400,
     GRID_LINEAR,
     -1},
    /* decay times 2.5 apart and a constant */
    {"two_close_exponentials",
     {"exponential", "exponential", "constant"},
     {3, 1, 2, 2.5, 0.5},
     {0.5, 0.4, 0.5, 0.4, 0.3},
     0,
     15,
     300,
     GRID_LINEAR,
     -1},
    {"damped_sine_10_periods", {"damped_sine"}, {2, 1.0, 0.7, 4}, {0.2, 0.02, 0.3, 0.3}, 0, 10, 400, GRID_RANDOM, 2},
    /* 4PL on log-spaced doses, 1 nM to 1 mM */
    {"dose_response_4pl", {"logistic4"}, {5, 100, 1e-6, 1.2}, {0.5, 0.05, 0.3, 0.3}, 1e-9, 1e-3, 36, GRID_LOG, -1},
    {"three_exponentials",
     {"exponential", "exponential", "exponential"},
     {2, 0.5, 3, 4, 1, 30},
     {0.3, 0.3, 0.3, 0.3, 0.3, 0.3},
     0,
     60,
     600,
     GRID_LINEAR,
     -1},
    {"gaussian_and_lorentzian_on_quadratic",
     {"gaussian", "lorentzian", "polynomial2"},
     {5, 3, 0.5, 8, 7, 0.6, 1, 0.2, -0.01},
     {0.3, -0.25, 0.3, 0.3, -0.3, 0.3, UNCHECKED, UNCHECKED, UNCHECKED},
     0,
     10,
     300,
     GRID_LINEAR,
     -1},
    {"michaelis_menten", {"michaelis_menten"}, {10, 2}, {0.1, 0.2}, 0.1, 20, 30, GRID_LOG, -1},
};

static void test_issue19_gaussian_on_background_is_placed_and_sized(void)
{
    run_case(&issue_case, 1);
}

static void test_every_shape_estimate_is_near_truth_and_fits_to_the_minimum(void)
{
    for (size_t i = 0; i < sizeof single_cases / sizeof *single_cases; i++) run_case(&single_cases[i], 1);
}

static void test_sums_and_named_cases_estimate_and_fit(void)
{
    for (size_t i = 0; i < sizeof named_cases / sizeof *named_cases; i++) run_case(&named_cases[i], 1);
}

/* The Voigt profile by direct convolution of its Gaussian and Lorentzian
   (Simpson's rule over +-12 sigma): independent of the Faddeeva function.
   The model language has no Faddeeva function yet, so the fit half of
   the property waits for the library's voigt(x). */
static double voigt_by_convolution(double x, double sigma, double gamma)
{
    int n = 4000;
    double h = 24 * sigma / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double t = -12 * sigma + i * h, w = i == 0 || i == n ? 1 : i % 2 ? 4 : 2;
        double g = exp(-t * t / (2 * sigma * sigma)) / (sigma * sqrt(2 * PI));
        double l = gamma / (PI * ((x - t) * (x - t) + gamma * gamma));
        s += w * g * l;
    }
    return s * h / 3;
}

static void test_voigt_estimate_is_near_truth(void)
{
    const guess_case c = {"voigt",
                          {"voigt", "constant"},
                          {12, 3, 0.5, 0.4, 2},
                          {0.3, -0.3, UNCHECKED, UNCHECKED, 0.2},
                          -3,
                          9,
                          240,
                          GRID_LINEAR,
                          -1};
    const char *shapes[] = {"voigt", "constant"};
    size_t m = c.m;
    double x[240], y[240], clean[240], lo = INFINITY, hi = -INFINITY;
    rng r = {12345};
    case_x(&c, &r, x);
    for (size_t i = 0; i < m; i++) {
        clean[i] = c.truth[0] * voigt_by_convolution(x[i] - c.truth[1], c.truth[2], c.truth[3]) + c.truth[4];
        lo = fmin(lo, clean[i]), hi = fmax(hi, clean[i]);
    }
    printf("    %-28s", c.name);
    for (size_t level = 0; level < sizeof noise_levels / sizeof *noise_levels; level++) {
        for (size_t i = 0; i < m; i++) y[i] = clean[i] + noise_levels[level] * (hi - lo) * normal(&r);
        double est[5];
        nlsq_error e;
        CHECK_MSG(nlsq_guess_sum(shapes, 2, x, y, m, est, &e) == NLSQ_OK, "voigt: %s", e.message);
        int which;
        double worst = worst_ratio(&c, est, NULL, 5, &which);
        printf(" %5.2f", worst);
        CHECK_MSG(worst <= 1, "voigt noise %g: parameter %d estimated %.6g, truth %.6g", noise_levels[level], which,
                  est[which], c.truth[which]);
        /* the width as the Voigt's FWHM (Olivero-Longbothum), within 30% */
        double fg = 2.3548200450309493 * est[2], fl = 2 * est[3];
        double fwhm = 0.5346 * fl + sqrt(0.2166 * fl * fl + fg * fg);
        double tg = 2.3548200450309493 * c.truth[2], tl = 2 * c.truth[3];
        double twant = 0.5346 * tl + sqrt(0.2166 * tl * tl + tg * tg);
        CHECK_NEAR(fwhm, twant, 0.3 * twant, "voigt noise %g: FWHM", noise_levels[level]);
    }
    printf("   (worst |error|/bound at noise 0, 1, 5, 10%%)\n");
}

/* A rotated, elliptic 2-D Gaussian on a constant, on a 41 x 41 grid and on
   1500 scattered points. */
static void test_gaussian2d_from_moments(void)
{
    static const char *text = "ct = cos(p5); st = sin(p5); "
                              "ga = ct^2/(2*p3^2) + st^2/(2*p4^2); "
                              "gb = -sin(2*p5)/(4*p3^2) + sin(2*p5)/(4*p4^2); "
                              "gc = st^2/(2*p3^2) + ct^2/(2*p4^2); "
                              "dx = x - p1; dy = y - p2; "
                              "p0*exp(-(ga*dx^2 + 2*gb*dx*dy + gc*dy^2)) + p6";
    const char *shapes[] = {"gaussian2d", "constant"};
    const double truth[7] = {5, 1, -0.5, 1.2, 0.6, 0.5, 0.3};
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = "x,y";
    o.params = "p0,p1,p2,p3,p4,p5,p6";
    nlsq_model *model = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse(text, &o, &model, &e) == NLSQ_OK);
    if (!model) return;
    enum { M = 41 * 41 };
    static double xy[2 * M], z[M], clean[M];
    for (int layout = 0; layout < 2; layout++) {
        size_t m = layout ? 1500 : M;
        rng r = {777 + (unsigned)layout};
        for (size_t i = 0; i < m; i++) {
            xy[i] = layout ? rng_range(&r, -4, 6) : -4 + 10.0 * (double)(i % 41) / 40;
            xy[m + i] = layout ? rng_range(&r, -5, 4) : -5 + 9.0 * (double)(i / 41) / 40;
        }
        CHECK(nlsq_model_eval(model, truth, xy, m, clean, NULL, NULL) == NLSQ_OK);
        printf("    gaussian2d %-17s", layout ? "scattered" : "grid");
        for (size_t level = 0; level < sizeof noise_levels / sizeof *noise_levels; level++) {
            for (size_t i = 0; i < m; i++) z[i] = clean[i] + noise_levels[level] * truth[0] * normal(&r);
            double est[7];
            CHECK_MSG(nlsq_guess_sum(shapes, 2, xy, z, m, est, &e) == NLSQ_OK, "gaussian2d: %s", e.message);
            /* centre within sigma/2, widths 30%, angle 0.2 rad (mod pi), amplitude 30% */
            double ratios[6] = {fabs(est[0] - truth[0]) / (0.3 * truth[0]),
                                fabs(est[1] - truth[1]) / 0.3,
                                fabs(est[2] - truth[2]) / 0.3,
                                fabs(est[3] - truth[3]) / (0.3 * truth[3]),
                                fabs(est[4] - truth[4]) / (0.3 * truth[4]),
                                fabs(remainder(est[5] - truth[5], PI)) / 0.2};
            double worst = 0;
            for (int k = 0; k < 6; k++) worst = fmax(worst, ratios[k]);
            printf(" %5.2f", worst);
            CHECK_MSG(worst <= 1, "gaussian2d %s noise %g: est %g %g %g %g %g %g", layout ? "scattered" : "grid",
                      noise_levels[level], est[0], est[1], est[2], est[3], est[4], est[5]);
            nlsq_data d = {xy, z, m, NULL, 0};
            int ok_truth, ok_est;
            double at_truth = fit_cost(model, &d, truth, &ok_truth, NULL),
                   from_est = fit_cost(model, &d, est, &ok_est, NULL);
            CHECK_MSG(ok_truth && ok_est && from_est <= at_truth * (1 + 1e-6) + 1e-18,
                      "gaussian2d noise %g: from the estimate %.10g, from the truth %.10g", noise_levels[level],
                      from_est, at_truth);
        }
        printf("   (worst |error|/bound)\n");
    }
    nlsq_model_free(model);
}

static void test_polynomials_are_exact(void)
{
    const char *shapes[] = {"constant", "polynomial3"};
    double x[20], y[20], p[5];
    for (int i = 0; i < 20; i++) {
        x[i] = 100 + 0.5 * (19 - i); /* far from 0 and descending */
        y[i] = 1 - 0.3 * x[i] + 0.002 * x[i] * x[i] + 1e-5 * x[i] * x[i] * x[i];
    }
    CHECK(nlsq_guess_sum(shapes, 2, x, y, 20, p, NULL) == NLSQ_OK);
    CHECK_SAME(p[0], 0.0, "the constant's share of the background");
    CHECK_NEAR(p[1], 1, 1e-5, "c0");
    CHECK_NEAR(p[2], -0.3, 1e-7, "c1");
    CHECK_NEAR(p[3], 0.002, 1e-9, "c2");
    CHECK_NEAR(p[4], 1e-5, 1e-12, "c3");
}

/* Bad input: a status, a message naming the problem, params untouched. */
static void test_bad_input_leaves_params_untouched(void)
{
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {1, 2, 1, 2, 1, 2}, p[8];
    double xneg[6] = {-1, 0, 1, 2, 3, 4};
    for (int i = 0; i < 8; i++) p[i] = 42;
    nlsq_error e;
    CHECK(nlsq_guess_shape("gausian", x, y, 6, p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(e.message, "'gausian'") != NULL, "message: %s", e.message);
    CHECK(nlsq_guess_shape("gaussian", x, y, 3, p, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "at least 4 points") != NULL, "message: %s", e.message);
    CHECK(nlsq_guess_shape("power_law", xneg, y, 6, p, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "x > 0") != NULL || strstr(e.message, "x >= 0") != NULL, "message: %s", e.message);
    const char *mixed[] = {"gaussian", "exponential"};
    CHECK(nlsq_guess_sum(mixed, 2, x, y, 6, p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_guess_shape("gaussian", NULL, y, 6, p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_guess_sum(NULL, 1, x, y, 6, p, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    double same[6] = {2, 2, 2, 2, 2, 2};
    CHECK(nlsq_guess_shape("linear", same, y, 6, p, &e) == NLSQ_ERR_DATA);
    double nan_y[6] = {NAN, NAN, NAN, 1, NAN, 2};
    CHECK(nlsq_guess_shape("exponential", x, nan_y, 6, p, &e) == NLSQ_ERR_DATA);
    double flat[6] = {5, 5, 5, 5, 5, 5};
    CHECK(nlsq_guess_shape("gaussian", x, flat, 6, p, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "same at every point") != NULL, "message: %s", e.message);
    for (int i = 0; i < 8; i++) CHECK_SAME(p[i], 42.0, "params[%d] untouched", i);
    CHECK(nlsq_guess_shape("constant", x, flat, 6, p, &e) == NLSQ_OK);
    CHECK_NEAR(p[0], 5.0, 1e-14, "a constant of constant data");
    CHECK(nlsq_guess_num_params("polynomial7") == 8);
    CHECK(nlsq_guess_num_params("polynomial8") == -1);
    CHECK(nlsq_guess_num_params("gaussian2d") == 6);
}

/* 300 000 points: the searches on 5000 of them, the amplitudes and the
   background on 200 000; and a peak 40 samples wide in 10^6 points, too
   narrow for the thinned search, which keeps its first estimate. */
static void test_large_data_search_on_a_thinned_copy(void)
{
    const char *shapes[] = {"gaussian", "constant"};
    size_t m = 1000000;
    double *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), p[4];
    rng r = {2024};
    for (size_t i = 0; i < 300000; i++) {
        x[i] = 1000.0 * (double)i / 299999.0;
        y[i] = 1200 * exp(-0.5 * pow((x[i] - 532) / 8.5, 2)) + 150 + 20 * normal(&r);
    }
    CHECK(nlsq_guess_sum(shapes, 2, x, y, 300000, p, NULL) == NLSQ_OK);
    CHECK_NEAR(p[0], 1200 * 8.5 * sqrt(2 * PI), 0.01 * 1200 * 8.5 * sqrt(2 * PI), "area");
    CHECK_NEAR(p[1], 532, 0.05, "center");
    CHECK_NEAR(p[2], 8.5, 0.05, "sigma");
    CHECK_NEAR(p[3], 150, 0.5, "constant");
    for (size_t i = 0; i < m; i++) {
        x[i] = 1000.0 * (double)i / (double)(m - 1);
        y[i] = 50 * exp(-0.5 * pow((x[i] - 300) / 0.017, 2)) + 1 + 0.5 * normal(&r);
    }
    CHECK(nlsq_guess_sum(shapes, 2, x, y, m, p, NULL) == NLSQ_OK);
    CHECK_NEAR(p[1], 300, 0.017 / 2, "narrow peak's center");
    CHECK_NEAR(p[2], 0.017, 0.3 * 0.017, "narrow peak's sigma");
    CHECK_NEAR(p[0], 50 * 0.017 * sqrt(2 * PI), 0.3 * 50 * 0.017 * sqrt(2 * PI), "narrow peak's area");
    free(x);
    free(y);
}

/* Prominences and widths by hand, scipy.signal's definitions: the peak at
   1 is bounded by the higher one at 3 (prominence 2 - max(0, 1)); the
   one at 3 by both ends; the width of the peak at 3 runs between the
   crossings of 1.5 at 2.25 and 3.6. */
static void test_peak_prominence_and_width_by_hand(void)
{
    const double x[7] = {0, 1, 2, 3, 4, 5, 6}, y[7] = {0, 2, 1, 3, 0.5, 1.5, 0};
    peak p[3];
    CHECK(peaks_find(x, y, 7, p, 3) == 3);
    CHECK_SAME(p[0].x, 3.0, "most prominent first");
    CHECK_SAME(p[0].prominence, 3.0, "prominence of the peak at 3");
    CHECK_NEAR(p[0].left, 2.25, 1e-15, "left crossing");
    CHECK_NEAR(p[0].right, 3.6, 1e-15, "right crossing");
    CHECK_SAME(p[1].prominence, 1.0, "prominence of the peak at 1 or 5");
    CHECK_SAME(p[2].prominence, 1.0, "prominence of the peak at 1 or 5");
}

/* The lookups of peaks_find give the walks' answers (peaks_measure) on
   noisy data with a big peak, whose flanks hold many small maxima. */
static void test_peak_prominence_matches_the_walking_definition(void)
{
    enum { M = 3000 };
    static double x[M], y[M];
    rng r = {99};
    for (int i = 0; i < M; i++) x[i] = i, y[i] = 10 * exp(-0.5 * pow((i - 1200) / 150.0, 2)) + normal(&r);
    peak found[40];
    int n = peaks_find(x, y, M, found, 40);
    CHECK(n == 40);
    for (int k = 0; k < n; k++) {
        peak w = peaks_measure(x, y, M, found[k].index);
        CHECK_SAME(found[k].prominence, w.prominence, "prominence of the maximum at %zu", found[k].index);
        CHECK_SAME(found[k].left, w.left, "left crossing at %zu", found[k].index);
        CHECK_SAME(found[k].right, w.right, "right crossing at %zu", found[k].index);
    }
}

/* nlsq_guess_p0 on model text of library components: the shapes come from
   the parsed model, a given value is kept, a product of shapes and plain
   text are refused with p0 untouched. */
static void test_guess_p0_from_model_components(void)
{
    enum { M = 301 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 400 + i;
        y[i] = 1200 * exp(-0.5 * pow((x[i] - 532) / 8.5, 2)) + 50 + 0.1 * x[i] + 8 * sin(7.3 * i);
    }
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_model_options o = nlsq_model_options_default();
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse("linear(x) + gaussian(x)", &o, &m, &e) == NLSQ_OK);
    if (!m) return;
    double given[5] = {NAN, NAN, NAN, NAN, 9.0}, p0[5]; /* slope, intercept, amplitude, center, sigma */
    CHECK_MSG(nlsq_guess_p0(m, &d, given, p0, &e) == NLSQ_OK, "%s", e.message);
    CHECK_MSG(fabs(p0[3] - 532) < 0.5 && p0[4] == 9.0, "center %g, sigma %g (given 9)", p0[3], p0[4]);
    CHECK_MSG(fabs(p0[2] / (1200 * 8.5 * sqrt(2 * M_PI)) - 1) < 0.3 && fabs(p0[0] - 0.1) < 0.05,
              "area %g, slope %g", p0[2], p0[0]);
    nlsq_model_free(m);
    const char *refused[] = {"gaussian(x) * linear(x)", "A*exp(-0.5*((x-mu)/s)^2) + c", "gaussian(x, A, 2*mu, s)"};
    for (int k = 0; k < 3; k++) {
        CHECK(nlsq_model_parse(refused[k], &o, &m, &e) == NLSQ_OK);
        if (!m) continue;
        double q[5] = {7, 7, 7, 7, 7};
        CHECK_MSG(nlsq_guess_p0(m, &d, NULL, q, &e) == NLSQ_ERR_INVALID_ARGUMENT && q[0] == 7, "%s: %s", refused[k],
                  e.message);
        nlsq_model_free(m);
    }
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_issue19_gaussian_on_background_is_placed_and_sized),
        TEST(test_guess_p0_from_model_components),
        TEST(test_every_shape_estimate_is_near_truth_and_fits_to_the_minimum),
        TEST(test_sums_and_named_cases_estimate_and_fit),
        TEST(test_voigt_estimate_is_near_truth),
        TEST(test_gaussian2d_from_moments),
        TEST(test_polynomials_are_exact),
        TEST(test_large_data_search_on_a_thinned_copy),
        TEST(test_peak_prominence_and_width_by_hand),
        TEST(test_peak_prominence_matches_the_walking_definition),
        TEST(test_bad_input_leaves_params_untouched),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
