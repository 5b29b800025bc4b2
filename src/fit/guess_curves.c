/*
 * Start values for the shapes that are not peaks: decays, power laws,
 * steps and dose-response curves, Arrhenius, damped oscillations, on an
 * optional polynomial background.
 *
 * Every one of them is linear in some parameters once the others are
 * fixed (amplitudes, plateaus, the background; the sine's phase as a sine
 * and a cosine column), so the estimate is separable least squares: the
 * linear ones solved exactly at each trial of the others. The others come
 * first from the textbook linearisation (log-linear regression for
 * exponentials and power laws, log y against 1/x for Arrhenius,
 * Hanes-Woolf for Michaelis-Menten, plateaus, half-crossing and logit for
 * steps and logistic curves, the periodogram's peak for a frequency), and
 * then from a coarse grid over ranges set by the data's x scale, zoomed
 * about its best; whichever fits the data better is kept ("checked
 * against the data"). Sums of exponentials start from peeling (the
 * slowest rate from the tail, then the next from what it leaves).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "guess.h"

#define PI 3.14159265358979323846
#define MAX_EXP 6
#define CURVE_POINTS 4000 /* the searches run on at most this many points */

typedef struct curve_model {
    guess_kind kind;
    int ncomp;    /* exponentials in the sum, else 1            */
    int bg_first; /* the background's first power (1 where the
                     shape has its own offset)                  */
    int deg;      /* the background's degree, -1: none          */
    double x0;    /* the x where amplitudes are referred to     */
    double mid, half;
} curve_model;

static int curve_nlin(const curve_model *cm)
{
    switch (cm->kind) {
    case SHAPE_EXPONENTIAL: return cm->ncomp;
    case SHAPE_LOGISTIC4:
    case SHAPE_LOGISTIC5:
    case SHAPE_DAMPED_SINE: return 2;
    default: return 1;
    }
}

/* The nonlinear parameters searched (theta). */
static int curve_ntheta(const curve_model *cm)
{
    switch (cm->kind) {
    case SHAPE_EXPONENTIAL: return cm->ncomp;
    case SHAPE_POWER_LAW:
    case SHAPE_ARRHENIUS:
    case SHAPE_MICHAELIS_MENTEN: return 1;
    case SHAPE_LOGISTIC5: return 3;
    default: return 2;
    }
}

static int curve_ncols(const curve_model *cm)
{
    return curve_nlin(cm) + (cm->deg >= cm->bg_first ? cm->deg - cm->bg_first + 1 : 0);
}

static double dose_fraction(const double *t, double x, int with_asymmetry)
{
    double f = 1 / (1 + pow(t[0] / x, t[1]));
    return with_asymmetry ? pow(f, t[2]) : f;
}

static void curve_columns(const double *t, double x, double *cols, const void *ctx)
{
    const curve_model *cm = ctx;
    int k = 0;
    switch (cm->kind) {
    case SHAPE_EXPONENTIAL:
        for (int j = 0; j < cm->ncomp; j++) cols[k++] = exp(-(x - cm->x0) / t[j]);
        break;
    case SHAPE_STRETCHED_EXPONENTIAL: cols[k++] = exp(-pow(x / t[0], t[1])); break;
    case SHAPE_POWER_LAW: cols[k++] = pow(x / cm->x0, t[0]); break;
    case SHAPE_ARRHENIUS: cols[k++] = exp(-t[0] * (1 / x - 1 / cm->x0)); break;
    case SHAPE_LOGISTIC: cols[k++] = 1 / (1 + exp(-(x - t[0]) / t[1])); break;
    case SHAPE_ERF_STEP: cols[k++] = 0.5 * (1 + erf((x - t[0]) / (t[1] * sqrt(2.0)))); break;
    case SHAPE_LOGISTIC4:
    case SHAPE_LOGISTIC5: {
        double f = dose_fraction(t, x, cm->kind == SHAPE_LOGISTIC5);
        cols[k++] = 1 - f; /* bottom */
        cols[k++] = f;     /* top    */
        break;
    }
    case SHAPE_HILL: cols[k++] = 1 / (1 + pow(t[0] / x, t[1])); break;
    case SHAPE_MICHAELIS_MENTEN: cols[k++] = x / (t[0] + x); break;
    case SHAPE_DAMPED_SINE: {
        double e = exp(-(x - cm->x0) / t[1]), w = 2 * PI * t[0] * x;
        cols[k++] = e * sin(w);
        cols[k++] = e * cos(w);
        break;
    }
    default: break;
    }
    double u = (x - cm->mid) / cm->half, p = 1;
    for (int i = 0; i <= cm->deg; i++, p *= u)
        if (i >= cm->bg_first) cols[k++] = p;
}

/* ---- linearisations --------------------------------------------------- */

/* Straight line v = a + b u through the points with ok[i], weighted. */
static int line_fit(const double *u, const double *v, const double *w, size_t m, double *a, double *b)
{
    double sw = 0, su = 0, sv = 0;
    for (size_t i = 0; i < m; i++) sw += w[i], su += w[i] * u[i], sv += w[i] * v[i];
    if (!(sw > 0)) return -1;
    double mu = su / sw, mv = sv / sw, suu = 0, suv = 0;
    for (size_t i = 0; i < m; i++) suu += w[i] * (u[i] - mu) * (u[i] - mu), suv += w[i] * (u[i] - mu) * (v[i] - mv);
    if (!(suu > 0)) return -1;
    *b = suv / suu;
    *a = mv - *b * mu;
    return isfinite(*a) && isfinite(*b) ? 0 : -1;
}

/* log|y| against g(x) over points where y has the sign of the majority
   (weights y^2: the log's noise grows as 1/y). Returns the slope. */
static int log_regression(const double *gx, const double *y, size_t m, double *work, double *a, double *b)
{
    double *v = work, *w = work + m;
    size_t pos = 0;
    for (size_t i = 0; i < m; i++) pos += y[i] > 0;
    double sign = 2 * pos >= m ? 1 : -1;
    for (size_t i = 0; i < m; i++) {
        int ok = sign * y[i] > 0;
        v[i] = ok ? log(sign * y[i]) : 0;
        w[i] = ok ? y[i] * y[i] : 0;
    }
    return line_fit(gx, v, w, m, a, b);
}

/* The mean of y over the first (end = 0) or last tenth of the points. */
static double plateau(const guess_data *d, int end)
{
    size_t e = d->m / 10 < 2 ? 2 : d->m / 10, from = end ? d->m - e : 0;
    double s = 0;
    for (size_t i = from; i < from + e; i++) s += d->y[i];
    return s / (double)e;
}

/* Where y first crosses lo + frac (hi - lo), linearly interpolated in u. */
static double crossing_at(const double *u, const double *y, size_t m, double lo, double hi, double frac)
{
    double level = lo + frac * (hi - lo), dir = hi > lo ? 1 : -1;
    for (size_t i = 1; i < m; i++) {
        if (dir * (y[i] - level) >= 0 && dir * (y[i - 1] - level) < 0) {
            double t = (level - y[i - 1]) / (y[i] - y[i - 1]);
            return u[i - 1] + t * (u[i] - u[i - 1]);
        }
    }
    return u[m / 2];
}

/* Steps and sigmoids: the plateaus from the ends, the centre at the half
   crossing, the width from the 25-75% span (on log x for dose-response),
   written into t. */
static void seed_sigmoid(const curve_model *cm, const guess_data *d, double *u, double *t)
{
    int logx = cm->kind == SHAPE_LOGISTIC4 || cm->kind == SHAPE_LOGISTIC5 || cm->kind == SHAPE_HILL;
    for (size_t i = 0; i < d->m; i++) u[i] = logx ? log(d->x[i]) : d->x[i];
    double lo = plateau(d, 0), hi = plateau(d, 1);
    if (cm->kind == SHAPE_HILL) lo = 0;
    double c = crossing_at(u, d->y, d->m, lo, hi, 0.5);
    double q1 = crossing_at(u, d->y, d->m, lo, hi, 0.25), q3 = crossing_at(u, d->y, d->m, lo, hi, 0.75);
    double spread = fabs(q3 - q1) > 0 ? fabs(q3 - q1) : (u[d->m - 1] - u[0]) / 10;
    switch (cm->kind) {
    case SHAPE_LOGISTIC: t[0] = c, t[1] = spread / (2 * log(3.0)); break; /* 25-75%: 2 ln 3 sigma */
    case SHAPE_ERF_STEP: t[0] = c, t[1] = spread / 1.3489795; break;      /* 2 z_0.75 sigma       */
    case SHAPE_LOGISTIC5: t[2] = 1;                                       /* fall through */
    case SHAPE_LOGISTIC4: t[0] = exp(c), t[1] = 2 * log(3.0) / spread; break;
    case SHAPE_HILL: t[0] = exp(c), t[1] = 2 * log(3.0) / spread; break;
    default: break;
    }
}

/* The frequency of the highest peak of the periodogram |sum (y - ybar)
   e^{-2 pi i f x}|^2 (x need not be uniform), on a grid of a quarter of
   1/span up to the Nyquist frequency of the median spacing. */
static double periodogram_peak(const guess_data *d, double *work)
{
    size_t m = d->m;
    double mean = 0;
    for (size_t i = 0; i < m; i++) mean += d->y[i] / (double)m;
    for (size_t i = 0; i + 1 < m; i++) work[i] = d->x[i + 1] - d->x[i];
    double dx = guess_quantile(work, m - 1, 0.5, work + m), fmax_ = dx > 0 ? 0.5 / dx : 1 / d->span;
    double df = 0.25 / d->span, best = 0, best_f = 1 / d->span;
    for (double f = df * 2; f <= fmax_; f += df) {
        double re = 0, im = 0;
        for (size_t i = 0; i < m; i++) {
            double w = 2 * PI * f * d->x[i];
            re += (d->y[i] - mean) * cos(w), im += (d->y[i] - mean) * sin(w);
        }
        if (re * re + im * im > best) best = re * re + im * im, best_f = f;
    }
    return best_f;
}

/* ---- the searches ------------------------------------------------------ */

static double search_exponentials(varpro *v, const curve_model *cm, const guess_data *d, double *t, double *work)
{
    double lo = d->span / 1000, hi = 100 * d->span, best;
    int k = cm->ncomp;
    if (k == 1) {
        double tp = d->span, tn = -d->span;
        double cp = varpro_zoom(v, &tp, 0, lo, hi, 1, 31, 4);
        double cn = varpro_zoom(v, &tn, 0, -lo, -hi, 1, 31, 4);
        t[0] = cp <= cn ? tp : tn;
        best = fmin(cp, cn);
        double a, b; /* log-linear regression, the classic start */
        if (cm->deg < 0 && log_regression(d->x, d->y, d->m, work, &a, &b) == 0 && b != 0) {
            double ts = -1 / b;
            double cs = varpro_zoom(v, &ts, 0, ts / 2, ts * 2, 1, 9, 3);
            if (cs < best) best = cs, t[0] = ts;
        }
        return best;
    }
    /* peeling: the slowest decay from the last part of the points, the next
       from the part before it on what the first leaves, and so on */
    double *r = work + 2 * d->m;
    memcpy(r, d->y, d->m * sizeof *r);
    for (int j = 0; j < k; j++) {
        size_t from = d->m * (size_t)(k - 1 - j) / (size_t)k, to = d->m * (size_t)(k - j) / (size_t)k, n = to - from;
        double a, b;
        t[j] = d->span / pow(4.0, j + 1);
        if (n >= 3 && log_regression(d->x + from, r + from, n, work, &a, &b) == 0 && b < 0) {
            t[j] = -1 / b;
            for (size_t i = 0; i < d->m; i++) r[i] -= (r[from] > 0 ? 1 : -1) * exp(a + b * d->x[i]);
        }
    }
    best = varpro_cost(v, t, NULL);
    double g[MAX_EXP];
    if (k == 2) { /* every pair of a grid: close rates need it */
        for (int i = 0; i < 16; i++) {
            for (int j = i + 1; j < 16; j++) {
                g[0] = lo * pow(hi / lo, i / 15.0), g[1] = lo * pow(hi / lo, j / 15.0);
                double c = varpro_cost(v, g, NULL);
                if (c < best) best = c, t[0] = g[0], t[1] = g[1];
            }
        }
    }
    if (k == 2) {
        static const int at[2] = {0, 1};
        static const int logs[2] = {1, 1};
        double l[2] = {t[0] / 3, t[1] / 3}, h[2] = {t[0] * 3, t[1] * 3};
        best = varpro_grid2(v, t, at, l, h, logs, 11, 6);
    }
    for (int round = 0; round < 4; round++)
        for (int j = 0; j < k; j++) best = varpro_zoom(v, t, j, t[j] / 4, t[j] * 4, 1, 13, 3);
    return best;
}

/* The joint grid over t[0], t[1], then coordinate zooms from its best. */
static double search_2d(varpro *v, double *t, const double *lo, const double *hi, const int *logscale, int n)
{
    static const int at[2] = {0, 1};
    varpro_grid2(v, t, at, lo, hi, logscale, n, 0);
    double w0 = logscale[0] ? pow(hi[0] / lo[0], 2.0 / (n - 1)) : 2 * (hi[0] - lo[0]) / (n - 1);
    double w1 = logscale[1] ? pow(hi[1] / lo[1], 2.0 / (n - 1)) : 2 * (hi[1] - lo[1]) / (n - 1);
    double l[2] = {logscale[0] ? t[0] / w0 : t[0] - w0, logscale[1] ? t[1] / w1 : t[1] - w1};
    double h[2] = {logscale[0] ? t[0] * w0 : t[0] + w0, logscale[1] ? t[1] * w1 : t[1] + w1};
    return varpro_grid2(v, t, at, l, h, logscale, 9, 4);
}

/* The better of the seed (zoomed about) and a grid over the box; for
   a sign-free second parameter both signs are searched. */
static double search_seeded(varpro *v, double *t, const double *seed, const double *lo, const double *hi,
                            const int *logscale, int both_signs)
{
    double s[3], best = INFINITY;
    for (int sign = 1; sign >= (both_signs ? -1 : 1); sign -= 2) {
        double l[2] = {lo[0], sign * lo[1]}, h[2] = {hi[0], sign * hi[1]};
        memcpy(s, seed, sizeof s);
        s[1] = seed[1] != 0 ? sign * fabs(seed[1]) : l[1];
        double c = search_2d(v, s, l, h, logscale, 15);
        if (c < best) best = c, memcpy(t, s, sizeof s);
    }
    /* the seed itself, zoomed about */
    memcpy(s, seed, sizeof s);
    if (!both_signs) s[1] = fabs(s[1]);
    double c = varpro_cost(v, s, NULL);
    if (isfinite(c) && s[1] != 0) {
        double w0 = logscale[0] ? 2 : fabs(hi[0] - lo[0]) / 10;
        c = logscale[0] ? varpro_zoom(v, s, 0, s[0] / w0, s[0] * w0, 1, 9, 3)
                        : varpro_zoom(v, s, 0, s[0] - w0, s[0] + w0, 0, 9, 3);
        c = varpro_zoom(v, s, 1, s[1] / 2, s[1] * 2, 1, 9, 3);
        if (c < best) best = c, memcpy(t, s, sizeof s);
    }
    return best;
}

static double search_curve(varpro *v, const curve_model *cm, const guess_data *d, double *t, double *work)
{
    double x0 = d->xmin, x1 = d->xmax, span = d->span, a, b, seed[3] = {0, 0, 1};
    double xpos = x0 > 0 ? x0 : x1 / 1000;
    switch (cm->kind) {
    case SHAPE_EXPONENTIAL: return search_exponentials(v, cm, d, t, work);
    case SHAPE_STRETCHED_EXPONENTIAL: {
        double lo[2] = {x1 / 1000, 0.2}, hi[2] = {x1 * 100, 5};
        int ls[2] = {1, 1};
        seed[0] = x1 / 3, seed[1] = 1;
        return search_seeded(v, t, seed, lo, hi, ls, 0);
    }
    case SHAPE_POWER_LAW: {
        t[0] = 0;
        double best = varpro_zoom(v, t, 0, -8, 8, 0, 65, 4);
        for (size_t i = 0; i < d->m; i++) work[2 * d->m + i] = log(d->x[i]);
        if (cm->deg < 0 && log_regression(work + 2 * d->m, d->y, d->m, work, &a, &b) == 0) {
            double s = b, c = varpro_zoom(v, &s, 0, b - 0.5, b + 0.5, 0, 9, 3);
            if (c < best) best = c, t[0] = s;
        }
        return best;
    }
    case SHAPE_ARRHENIUS: {
        double inv = 1 / x0 - 1 / x1; /* 50 e-folds across the data either way */
        t[0] = 0;
        double best = varpro_zoom(v, t, 0, -50 / inv, 50 / inv, 0, 101, 4);
        for (size_t i = 0; i < d->m; i++) work[2 * d->m + i] = 1 / d->x[i];
        if (cm->deg < 0 && log_regression(work + 2 * d->m, d->y, d->m, work, &a, &b) == 0) {
            double s = -b, c = varpro_zoom(v, &s, 0, s - 0.5 / inv, s + 0.5 / inv, 0, 9, 3);
            if (c < best) best = c, t[0] = s;
        }
        return best;
    }
    case SHAPE_MICHAELIS_MENTEN: {
        /* Hanes-Woolf: x/y = x/vmax + km/vmax, so km = intercept/slope */
        double *u = work + 2 * d->m, *w = u + d->m, *vv = w + d->m;
        for (size_t i = 0; i < d->m; i++) {
            int ok = d->y[i] > 0 && d->x[i] > 0;
            u[i] = d->x[i], vv[i] = ok ? d->x[i] / d->y[i] : 0, w[i] = ok ? d->y[i] * d->y[i] : 0;
        }
        t[0] = x1;
        double best = varpro_zoom(v, t, 0, xpos / 100, x1 * 100, 1, 41, 4);
        if (line_fit(u, vv, w, d->m, &a, &b) == 0 && a / b > 0) {
            double s = a / b, c = varpro_zoom(v, &s, 0, s / 2, s * 2, 1, 9, 3);
            if (c < best) best = c, t[0] = s;
        }
        return best;
    }
    case SHAPE_LOGISTIC:
    case SHAPE_ERF_STEP: {
        seed_sigmoid(cm, d, work + 2 * d->m, seed);
        double lo[2] = {x0, span / 1000}, hi[2] = {x1, span};
        int ls[2] = {0, 1};
        /* with a constant, a negative sigma is the same curve as a positive
           one with the amplitude negated: keep sigma > 0 then */
        return search_seeded(v, t, seed, lo, hi, ls, cm->deg < 0);
    }
    case SHAPE_LOGISTIC4:
    case SHAPE_LOGISTIC5:
    case SHAPE_HILL: {
        seed_sigmoid(cm, d, work + 2 * d->m, seed);
        double lo[2] = {xpos / 10, 0.1}, hi[2] = {x1 * 10, 10};
        int ls[2] = {1, 1};
        /* positive hill only: a negative one is the same curve with bottom
           and top exchanged */
        double best = search_seeded(v, t, seed, lo, hi, ls, 0);
        if (cm->kind == SHAPE_LOGISTIC5) {
            for (int round = 0; round < 3; round++) {
                best = varpro_zoom(v, t, 2, 0.1, 10, 1, 21, 2);
                best = varpro_zoom(v, t, 0, t[0] / 3, t[0] * 3, 1, 13, 2);
                best = varpro_zoom(v, t, 1, t[1] / 2, t[1] * 2, 1, 13, 2);
            }
        }
        return best;
    }
    case SHAPE_DAMPED_SINE: {
        double f = periodogram_peak(d, work);
        double lo[2] = {fmax(f - 1 / span, 0.25 / span), span / 20}, hi[2] = {f + 1 / span, span * 1000};
        int ls[2] = {0, 1};
        seed[0] = f, seed[1] = span;
        return search_seeded(v, t, seed, lo, hi, ls, 0);
    }
    default: return INFINITY;
    }
}

/* ---- from the solution to the parameters -------------------------------- */

/* Component j's parameters (j counts the exponentials of a sum). */
static void write_params(const curve_model *cm, const double *t, const double *c, int j, double *q)
{
    switch (cm->kind) {
    case SHAPE_EXPONENTIAL: q[0] = c[j] * exp(cm->x0 / t[j]), q[1] = t[j]; break;
    case SHAPE_STRETCHED_EXPONENTIAL: q[0] = c[0], q[1] = t[0], q[2] = t[1]; break;
    case SHAPE_POWER_LAW: q[0] = c[0] / pow(cm->x0, t[0]), q[1] = t[0]; break;
    case SHAPE_ARRHENIUS: q[0] = c[0] * exp(t[0] / cm->x0), q[1] = t[0]; break;
    case SHAPE_LOGISTIC:
    case SHAPE_ERF_STEP: q[0] = c[0], q[1] = t[0], q[2] = t[1]; break;
    case SHAPE_LOGISTIC5: q[4] = t[2]; /* fall through */
    case SHAPE_LOGISTIC4: q[0] = c[0], q[1] = c[1], q[2] = t[0], q[3] = t[1]; break;
    case SHAPE_HILL: q[0] = c[0], q[1] = t[0], q[2] = t[1]; break;
    case SHAPE_MICHAELIS_MENTEN: q[0] = c[0], q[1] = t[0]; break;
    case SHAPE_DAMPED_SINE: { /* a sin + b cos = R sin(w + phi), R cos phi = a, R sin phi = b */
        double scale = exp(cm->x0 / t[1]);
        q[0] = hypot(c[0], c[1]) * scale, q[1] = t[0], q[2] = atan2(c[1], c[0]), q[3] = t[1];
        break;
    }
    default: break;
    }
}

/* The exponentials of a sum fastest first, amplitudes with them. */
static void sort_decays(double *t, double *c, int k)
{
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double s = t[j];
            t[j] = t[j - 1], t[j - 1] = s;
            s = c[j], c[j] = c[j - 1], c[j - 1] = s;
        }
}

static int needs_positive_x(guess_kind k)
{
    return k == SHAPE_POWER_LAW || k == SHAPE_ARRHENIUS || k == SHAPE_LOGISTIC4 || k == SHAPE_LOGISTIC5 ||
           k == SHAPE_HILL || k == SHAPE_MICHAELIS_MENTEN || k == SHAPE_STRETCHED_EXPONENTIAL;
}

static nlsq_status curve_setup(const guess_shape *shapes, int n, const guess_data *d, curve_model *cm, nlsq_error *err)
{
    memset(cm, 0, sizeof *cm);
    cm->kind = SHAPE_CONSTANT;
    for (int i = 0; i < n; i++) {
        if (guess_is_background(shapes[i].kind)) continue;
        if (cm->ncomp && (shapes[i].kind != cm->kind || cm->kind != SHAPE_EXPONENTIAL)) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                      "no start values for this sum: besides a polynomial background, only peaks, or "
                      "exponentials, or one other shape");
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
        cm->kind = shapes[i].kind;
        cm->ncomp++;
    }
    if (cm->ncomp > MAX_EXP) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "start values for at most %d exponentials", MAX_EXP);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (needs_positive_x(cm->kind) && !(d->xmin >= 0 && d->xmax > 0)) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "start values for this shape need x >= 0 (the smallest is %g)", d->xmin);
        return NLSQ_ERR_DATA;
    }
    if ((cm->kind == SHAPE_POWER_LAW || cm->kind == SHAPE_ARRHENIUS) && !(d->xmin > 0)) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "start values for this shape need x > 0 (the smallest is %g)", d->xmin);
        return NLSQ_ERR_DATA;
    }
    cm->deg = guess_background_degree(shapes, n);
    cm->bg_first = cm->kind == SHAPE_LOGISTIC4 || cm->kind == SHAPE_LOGISTIC5;
    cm->x0 = cm->kind == SHAPE_POWER_LAW || cm->kind == SHAPE_ARRHENIUS ? d->xmax : d->xmin;
    cm->mid = 0.5 * (d->xmin + d->xmax);
    cm->half = d->span > 0 ? d->span / 2 : 1;
    return NLSQ_OK;
}

nlsq_status guess_curve(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err)
{
    curve_model cm;
    nlsq_status st = curve_setup(shapes, n, d, &cm, err);
    if (st != NLSQ_OK) return st;
    guess_data few = {0};
    varpro v = {0};
    double *work = NULL, t[MAX_EXP] = {0}, c[16], bg[8] = {0};
    st = NLSQ_ERR_NOMEM;
    if (guess_data_thin(d, CURVE_POINTS, &few) != 0) goto done;
    work = malloc(5 * few.m * sizeof *work);
    if (!work || varpro_init(&v, few.x, few.y, few.m, curve_ncols(&cm), curve_columns, &cm) != 0) goto done;
    double cost = search_curve(&v, &cm, &few, t, work);
    if (isfinite(cost)) { /* joint steps from the grids' best; centres may change sign */
        unsigned char keep_sign[MAX_EXP] = {1, 1, 1, 1, 1, 1};
        if (cm.kind == SHAPE_LOGISTIC || cm.kind == SHAPE_ERF_STEP || cm.kind == SHAPE_POWER_LAW ||
            cm.kind == SHAPE_ARRHENIUS)
            keep_sign[0] = 0;
        cost = varpro_refine(&v, t, curve_ntheta(&cm), keep_sign, 30);
    }
    if (isfinite(cost)) cost = varpro_cost(&v, t, c);
    st = NLSQ_ERR_DATA;
    if (!isfinite(cost)) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "the data do not determine start values for this shape");
        goto done;
    }
    if (cm.kind == SHAPE_EXPONENTIAL) sort_decays(t, c, cm.ncomp);
    for (int i = 0, at = 0, j = 0; i < n; at += shapes[i].nparams, i++)
        if (!guess_is_background(shapes[i].kind)) write_params(&cm, t, c, j++, params + at);
    if (cm.deg >= 0) {
        double scaled[8] = {0};
        int nl = curve_nlin(&cm);
        for (int k = cm.bg_first; k <= cm.deg; k++) scaled[k] = c[nl + k - cm.bg_first];
        guess_poly_unscale(scaled, cm.deg, cm.mid, cm.half, bg);
        guess_put_background(shapes, n, bg, cm.deg, params);
    }
    st = NLSQ_OK;
done:
    if (st == NLSQ_ERR_NOMEM) error_set(err, st, 0, 0, "out of memory estimating start values");
    varpro_free(&v);
    free(work);
    guess_data_free(&few);
    return st;
}
