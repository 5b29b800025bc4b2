/*
 * Start values for sums of peaks on a polynomial background.
 *
 * 1. The background from the edges (a line through the medians of the
 *    first and last tenth of the points; a constant takes the edge on the
 *    baseline's side), subtracted. Dips are peaks of the negated data.
 * 2. Noise from second differences; where it is above 1% of the range,
 *    Savitzky-Golay smoothing just wide enough, never wider than the
 *    narrowest peak found.
 * 3. The k most prominent maxima (peaks.c) place and size the k peak
 *    components, taken in order of x. Overlapping peaks that do not make a
 *    maximum of their own are found as maxima of what is left after
 *    subtracting Gaussians for those found.
 * 4. Position, height and width at half prominence give each shape's
 *    parameters (amplitude = area as shapes19.md says, Moffat: height).
 * 5. Polish: the centres, widths and shape parameters by coordinate
 *    searches on grids with all amplitudes and the background solved
 *    exactly at each trial (separable least squares), on at most 5000
 *    points. The cost only goes down, so the polish cannot spoil a start.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "guess.h"

#define MAX_PEAKS 8
#define PI 3.14159265358979323846
#define SQRT_2PI 2.5066282746310002
#define FWHM_PER_SIGMA 2.3548200450309493 /* 2 sqrt(2 ln 2) */
#define POLISH_POINTS 5000
#define FINAL_POINTS 200000

/* exp(a) erfc(z) without overflow where erfc underflows: for z >= 5,
   erfc(z) = exp(-z^2) erfcx(z), erfcx by its asymptotic series (relative
   error below 1e-5 there). */
static double exp_erfc(double a, double z)
{
    if (z < 5) return exp(a) * erfc(z);
    double iz2 = 1 / (z * z);
    double erfcx = (1 - iz2 / 2 + 0.75 * iz2 * iz2 - 1.875 * iz2 * iz2 * iz2) / (z * sqrt(PI));
    return exp(a - z * z) * erfcx;
}

static double gauss_unit(double dx, double s)
{
    return exp(-dx * dx / (2 * s * s)) / (s * SQRT_2PI);
}

static double lorentz_unit(double dx, double s)
{
    return s / (PI * (dx * dx + s * s));
}

/* The Voigt profile by the pseudo-Voigt of Thompson, Cox and Hastings
   (J. Appl. Cryst. 20, 79, 1987): within about 1% — a start value, not
   the model, which takes the exact Faddeeva function. */
static double voigt_approx(double dx, double sigma, double gamma)
{
    double fg = FWHM_PER_SIGMA * sigma, fl = 2 * gamma;
    double f = pow(pow(fg, 5) + 2.69269 * pow(fg, 4) * fl + 2.42843 * pow(fg, 3) * fl * fl +
                       4.47163 * fg * fg * pow(fl, 3) + 0.07842 * fg * pow(fl, 4) + pow(fl, 5),
                   0.2);
    double r = fl / f, eta = 1.36603 * r - 0.47719 * r * r + 0.11116 * r * r * r;
    return eta * lorentz_unit(dx, f / 2) + (1 - eta) * gauss_unit(dx, f / FWHM_PER_SIGMA);
}

/* The shape at amplitude 1; q = (center, sigma, shape parameter). */
static double peak_unit(guess_kind kind, const double *q, double x)
{
    double c = q[0], s = q[1], dx = x - c;
    switch (kind) {
    case SHAPE_GAUSSIAN: return gauss_unit(dx, s);
    case SHAPE_LORENTZIAN: return lorentz_unit(dx, s);
    case SHAPE_VOIGT: return voigt_approx(dx, s, q[2]);
    case SHAPE_PSEUDO_VOIGT: return (1 - q[2]) * gauss_unit(dx, s / sqrt(2 * log(2.0))) + q[2] * lorentz_unit(dx, s);
    case SHAPE_PEARSON7: {
        double e = q[2], beta = exp(lgamma(e - 0.5) + lgamma(0.5) - lgamma(e));
        return pow(1 + (dx / s) * (dx / s) * (pow(2, 1 / e) - 1), -e) / (s * beta);
    }
    case SHAPE_SKEWED_GAUSSIAN: return gauss_unit(dx, s) * (1 + erf(q[2] * dx / (s * sqrt(2.0))));
    case SHAPE_EXP_GAUSSIAN: {
        double g = q[2];
        return g / 2 * exp_erfc(g * (c - x + g * s * s / 2), (c + g * s * s - x) / (sqrt(2.0) * s));
    }
    case SHAPE_MOFFAT: return pow((dx / s) * (dx / s) + 1, -q[2]);
    case SHAPE_LOGNORMAL: {
        if (x <= 0) return 0;
        double u = log(x) - c;
        return exp(-u * u / (2 * s * s)) / (x * s * SQRT_2PI);
    }
    default: return 0;
    }
}

/* The sum's peaks and background as separable least squares: theta holds
   each peak's parameters after its amplitude; the columns are the unit
   peaks and 1, t, .., t^deg with t = (x - mid)/half. */
typedef struct peak_model {
    int npk;
    guess_kind kind[MAX_PEAKS];
    int comp_at[MAX_PEAKS];  /* the component's first parameter in params */
    int theta_at[MAX_PEAKS]; /* its center in theta                       */
    int ntheta[MAX_PEAKS];   /* its parameters after the amplitude         */
    int deg;
    double mid, half;
} peak_model;

static void peak_columns(const double *theta, double x, double *cols, const void *ctx)
{
    const peak_model *pm = ctx;
    int k = 0;
    for (int j = 0; j < pm->npk; j++) cols[k++] = peak_unit(pm->kind[j], theta + pm->theta_at[j], x);
    double t = (x - pm->mid) / pm->half, p = 1;
    for (int i = 0; i <= pm->deg; i++, p *= t) cols[k++] = p;
}

static double poly_value(const double *coef, int deg, double x)
{
    double v = 0;
    for (int k = deg; k >= 0; k--) v = v * x + coef[k];
    return v;
}

/* +1 for peaks, -1 for dips: which side of the median reaches further. */
static double peak_sign(const guess_data *d, double *scratch)
{
    double med = guess_quantile(d->y, d->m, 0.5, scratch), lo = d->y[0], hi = d->y[0];
    for (size_t i = 1; i < d->m; i++) lo = fmin(lo, d->y[i]), hi = fmax(hi, d->y[i]);
    return hi - med >= med - lo ? 1 : -1;
}

static void edge_background(const guess_data *d, int deg, double sign, double *coef, double *scratch)
{
    size_t m = d->m, e = m / 10 < 3 ? 3 : m / 10;
    if (e > m / 2) e = m / 2 ? m / 2 : 1;
    double xl = guess_quantile(d->x, e, 0.5, scratch), yl = guess_quantile(d->y, e, 0.5, scratch);
    double xr = guess_quantile(d->x + m - e, e, 0.5, scratch), yr = guess_quantile(d->y + m - e, e, 0.5, scratch);
    for (int k = 0; k <= deg; k++) coef[k] = 0;
    if (deg == 0 || !(xr > xl)) {
        coef[0] = sign > 0 ? fmin(yl, yr) : fmax(yl, yr);
        return;
    }
    coef[1] = (yr - yl) / (xr - xl);
    coef[0] = yl - coef[1] * xl;
}

/* Savitzky-Golay half-width that brings the noise under 1% of the range,
   at most m/20. */
static int smoothing_width(double noise, double range, size_t m)
{
    static const int widths[] = {2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64};
    if (!(noise > 0.01 * range)) return 0;
    int h = 0;
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        if ((size_t)widths[i] * 20 > m) break;
        h = widths[i];
        if (guess_smooth_gain(h) * noise <= 0.01 * range) break;
    }
    return h;
}

/* Subtract a Gaussian of the peak's height and width from r. */
static void subtract_found(const double *x, double *r, size_t m, const peak *p)
{
    double s = fmax(p->right - p->left, 0) / FWHM_PER_SIGMA;
    if (!(s > 0)) return;
    for (size_t i = 0; i < m; i++) r[i] -= p->height * exp(-0.5 * (x[i] - p->x) * (x[i] - p->x) / (s * s));
}

static size_t argmax(const double *y, size_t m)
{
    size_t best = 0;
    for (size_t i = 1; i < m; i++)
        if (y[i] > y[best]) best = i;
    return best;
}

/* The npk peaks of y: the most prominent maxima, then maxima of what the
   ones found leave, then (when the data show fewer) copies of the last
   one beside it. */
static int find_components(const double *x, const double *y, size_t m, int npk, peak *found, double *resid)
{
    int count = peaks_find(x, y, m, found, npk);
    if (count <= 0) count = 0, found[count++] = peaks_measure(x, y, m, argmax(y, m));
    while (count < npk) {
        memcpy(resid, y, m * sizeof *y);
        for (int j = 0; j < count; j++) subtract_found(x, resid, m, &found[j]);
        peak p;
        if (peaks_find(x, resid, m, &p, 1) < 1) p = peaks_measure(x, resid, m, argmax(resid, m));
        if (!(p.prominence > 0) || !(p.right > p.left)) break;
        found[count++] = p;
    }
    for (; count < npk; count++) {
        found[count] = found[count - 1];
        double w = found[count].right - found[count].left;
        found[count].x += w / 2, found[count].left += w / 2, found[count].right += w / 2;
    }
    return count;
}

static int by_position(const void *a, const void *b)
{
    const peak *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* Parameters (amplitude, then theta) of one shape from a measured peak;
   sign -1 for a dip. w is the full width at half prominence. */
static void seed_shape(guess_kind kind, const peak *p, double sign, double min_width, double *q)
{
    double h = sign * p->height, w = fmax(p->right - p->left, min_width);
    double hl = fmax(p->x - p->left, min_width / 2), hr = fmax(p->right - p->x, min_width / 2);
    double s;
    q[1] = p->x;
    switch (kind) {
    case SHAPE_GAUSSIAN:
        q[2] = s = w / FWHM_PER_SIGMA;
        q[0] = h * s * SQRT_2PI;
        break;
    case SHAPE_LORENTZIAN:
        q[2] = s = w / 2;
        q[0] = h * PI * s;
        break;
    case SHAPE_VOIGT: /* sigma = gamma: the FWHM is then 3.6013 sigma */
        q[2] = q[3] = s = w / 3.6013;
        q[0] = h / voigt_approx(0, s, s);
        break;
    case SHAPE_PSEUDO_VOIGT: /* both parts have FWHM 2 sigma */
        q[2] = w / 2, q[3] = 0.5;
        q[0] = h / peak_unit(kind, q + 1, p->x);
        break;
    case SHAPE_PEARSON7: /* the FWHM is 2 sigma for every expon */
        q[2] = w / 2, q[3] = 1.5;
        q[0] = h / peak_unit(kind, q + 1, p->x);
        break;
    case SHAPE_SKEWED_GAUSSIAN: { /* the skew from the half widths' imbalance */
        /* never near 0: there d/dgamma is d/dcenter's shape, (x - center)
           G(x), J is singular and a fit can stall on that saddle */
        double a = (hr - hl) / (hr + hl), g = fmax(-5, fmin(5, 4 * a));
        q[2] = w / FWHM_PER_SIGMA, q[3] = fabs(g) >= 0.5 ? g : (g < 0 ? -0.5 : 0.5);
        q[0] = h * q[2] * SQRT_2PI;
        break;
    }
    case SHAPE_EXP_GAUSSIAN: { /* the Gaussian from the steep side, the tail's length from the other */
        double sl = fmin(hl, hr) / (FWHM_PER_SIGMA / 2), tail = fmax(fabs(hr - hl), 0.3 * sl);
        q[2] = sl, q[3] = (hr >= hl ? 1 : -1) / tail;
        q[1] = p->x - 0.5 * fmin(tail, sl) * (hr >= hl ? 1 : -1);
        q[0] = h * w * 1.0645;      /* area of a Gaussian of that height and FWHM */
        if (q[3] < 0) q[3] = -q[3]; /* the shape has its tail to the right */
        break;
    }
    case SHAPE_MOFFAT: /* beta = 1: the half width is sigma */
        q[2] = w / 2, q[3] = 1;
        q[0] = h;
        break;
    case SHAPE_LOGNORMAL: { /* a Gaussian in log x, its FWHM there 2.3548 sigma */
        double xl = fmax(p->left, p->x * 1e-3), xr = fmax(p->right, p->x * 1.001);
        s = fmax(log(xr / xl), 1e-3) / FWHM_PER_SIGMA;
        q[2] = s, q[1] = log(fmax(p->x, 1e-300)) + s * s;
        q[0] = h * s * SQRT_2PI * exp(q[1] - s * s / 2);
        break;
    }
    default: break;
    }
}

/* The box of a peak's shape parameter (after center and sigma). */
static void extra_box(guess_kind kind, const double *q, double *lo, double *hi, int *logscale)
{
    *logscale = 1;
    switch (kind) {
    case SHAPE_VOIGT: *lo = q[1] * 1e-2, *hi = q[1] * 5; break;
    case SHAPE_PSEUDO_VOIGT: *lo = 0, *hi = 1, *logscale = 0; break;
    case SHAPE_PEARSON7: *lo = 0.6, *hi = 50; break;
    case SHAPE_SKEWED_GAUSSIAN: *lo = -10, *hi = 10, *logscale = 0; break;
    case SHAPE_EXP_GAUSSIAN: *lo = 0.05 / q[1], *hi = 20 / q[1]; break;
    case SHAPE_MOFFAT: *lo = 0.3, *hi = 20; break;
    default: *lo = *hi = 0; break;
    }
}

/* All widths times one factor: widths measured on overlapping peaks are
   off together (too narrow from the curvature, too wide from a merged
   maximum), and one peak's width searched alone would absorb its
   neighbours' error. */
static void scale_widths(varpro *v, const peak_model *pm, double *theta)
{
    double trial[MAX_PEAKS * 3], base[MAX_PEAKS * 3], best = varpro_cost(v, theta, NULL), best_f = 1;
    int nt = pm->theta_at[pm->npk - 1] + pm->ntheta[pm->npk - 1];
    memcpy(base, theta, (size_t)nt * sizeof *theta);
    double lo = 0.4, hi = 2.5;
    for (int zoom = 0; zoom < 3; zoom++) {
        for (int k = 0; k < 13; k++) {
            double f = lo * pow(hi / lo, k / 12.0);
            memcpy(trial, base, (size_t)nt * sizeof *theta);
            for (int j = 0; j < pm->npk; j++) trial[pm->theta_at[j] + 1] *= f;
            double c = varpro_cost(v, trial, NULL);
            if (c < best) best = c, best_f = f;
        }
        double step = pow(hi / lo, 2.0 / 12);
        lo = best_f / step, hi = best_f * step;
    }
    for (int j = 0; j < pm->npk; j++) theta[pm->theta_at[j] + 1] = base[pm->theta_at[j] + 1] * best_f;
}

/* Coordinate searches over each peak's parameters, three rounds; width
   and shape parameter jointly (they trade against each other). */
static void polish(varpro *v, const peak_model *pm, double *theta, const double *width)
{
    /* several peaks: small steps, many rounds, so that no peak swallows its
       neighbours before they have moved (a trust region, in effect) */
    int several = pm->npk > 1, rounds = several ? 6 : 3;
    double grow = several ? 1.3 : 2, reach_share = several ? 0.25 : 0.5;
    scale_widths(v, pm, theta);
    for (int round = 0; round < rounds; round++) {
        for (int j = 0; j < pm->npk; j++) {
            double *q = theta + pm->theta_at[j];
            int at = pm->theta_at[j];
            double reach = pm->kind[j] == SHAPE_LOGNORMAL ? 1.2 * q[1] : width[j] * reach_share;
            varpro_zoom(v, theta, at, q[0] - reach, q[0] + reach, 0, 9, 2);
            if (pm->ntheta[j] < 3) {
                varpro_zoom(v, theta, at + 1, q[1] / grow, q[1] * grow, 1, 9, 2);
                continue;
            }
            int which[2] = {at + 1, at + 2}, logs[2] = {1, 1};
            double lo[2] = {q[1] / (grow + 0.5), 0}, hi[2] = {q[1] * (grow + 0.5), 0};
            extra_box(pm->kind[j], q, &lo[1], &hi[1], &logs[1]);
            if (round > 0) { /* about the last best */
                lo[0] = q[1] / fmin(grow, 1.5), hi[0] = q[1] * fmin(grow, 1.5);
                if (logs[1])
                    lo[1] = q[2] / 2, hi[1] = q[2] * 2;
                else
                    lo[1] = q[2] - (hi[1] - lo[1]) / 8, hi[1] = q[2] + (hi[1] - lo[1]) / 8;
            }
            varpro_grid2(v, theta, which, lo, hi, logs, 11, 2);
        }
    }
    /* then joint steps: coordinate searches crawl along the valleys that
       overlapping peaks make */
    unsigned char positive[MAX_PEAKS * 3] = {0};
    for (int j = 0; j < pm->npk; j++) {
        positive[pm->theta_at[j] + 1] = 1;
        if (pm->ntheta[j] > 2 && pm->kind[j] != SHAPE_SKEWED_GAUSSIAN) positive[pm->theta_at[j] + 2] = 1;
        if (pm->kind[j] == SHAPE_PSEUDO_VOIGT) positive[pm->theta_at[j] + 2] = 0;
    }
    varpro_refine(v, theta, pm->theta_at[pm->npk - 1] + pm->ntheta[pm->npk - 1], positive, 30);
}

/* Amplitudes and background by least squares at theta on (x, y); 0 when
   they could be solved (params written), -1 when not. */
static int solve_linear(const guess_shape *shapes, int n, const peak_model *pm, const guess_data *d,
                        const double *theta, double *params)
{
    varpro v;
    double coef[16], bg[8];
    if (varpro_init(&v, d->x, d->y, d->m, pm->npk + pm->deg + 1, peak_columns, pm) != 0) return -1;
    double cost = varpro_cost(&v, theta, coef);
    varpro_free(&v);
    if (!isfinite(cost)) return -1;
    for (int j = 0; j < pm->npk; j++) {
        params[pm->comp_at[j]] = coef[j];
        memcpy(params + pm->comp_at[j] + 1, theta + pm->theta_at[j], (size_t)pm->ntheta[j] * sizeof *theta);
    }
    if (pm->deg >= 0) {
        guess_poly_unscale(coef + pm->npk, pm->deg, pm->mid, pm->half, bg);
        guess_put_background(shapes, n, bg, pm->deg, params);
    }
    return 0;
}

static void model_setup(const guess_shape *shapes, int n, const guess_data *d, peak_model *pm)
{
    memset(pm, 0, sizeof *pm);
    for (int i = 0, at = 0, t = 0; i < n; at += shapes[i].nparams, i++) {
        if (!guess_is_peak(shapes[i].kind)) continue;
        pm->kind[pm->npk] = shapes[i].kind;
        pm->comp_at[pm->npk] = at;
        pm->theta_at[pm->npk] = t;
        pm->ntheta[pm->npk] = shapes[i].nparams - 1;
        t += shapes[i].nparams - 1;
        pm->npk++;
    }
    pm->deg = guess_background_degree(shapes, n);
    pm->mid = 0.5 * (d->xmin + d->xmax);
    pm->half = d->span > 0 ? d->span / 2 : 1;
}

/* How the data are looked at: the sign of the peaks, the smoothing, and
   the prominence below which a maximum is noise. */
typedef struct peak_view {
    double sign, floor;
    int h;
} peak_view;

/* The most prominent maxima of r (sign-corrected), smoothed by view->h,
   that stand above the noise (at least one); in order of prominence. */
static int strong_peaks(const guess_data *d, const double *r, const peak_view *view, int want, peak *found, double *sm)
{
    guess_smooth(r, d->m, view->h, sm);
    int count = peaks_find(d->x, sm, d->m, found, want), keep = 0;
    for (int j = 0; j < count; j++)
        if (found[j].prominence >= fmax(view->floor, 0.03 * found[0].prominence)) found[keep++] = found[j];
    if (keep == 0) found[keep++] = peaks_measure(d->x, sm, d->m, argmax(sm, d->m));
    return keep;
}

/* The data less the edge background, sign-corrected, into r; the view. */
static peak_view look(const guess_data *d, int deg, double *r, double *scratch)
{
    peak_view view = {peak_sign(d, scratch), 0, 0};
    double bg[8], lo = INFINITY, hi = -INFINITY;
    if (deg >= 0) edge_background(d, deg, view.sign, bg, scratch);
    for (size_t i = 0; i < d->m; i++) {
        r[i] = view.sign * (d->y[i] - (deg >= 0 ? poly_value(bg, deg < 1 ? deg : 1, d->x[i]) : 0));
        lo = fmin(lo, r[i]), hi = fmax(hi, r[i]);
    }
    double noise = guess_noise_sigma(r, d->m, scratch);
    view.h = smoothing_width(noise, hi - lo, d->m);
    view.floor = 6 * noise * guess_smooth_gain(view.h); /* a noise bump's prominence spans two excursions */
    return view;
}

/* A window wider than the narrowest peak would flatten it: narrow it. */
static int fit_window(const guess_data *d, const peak *found, int count, int h)
{
    double narrowest = INFINITY, spacing = d->span / (double)(d->m - 1);
    for (int j = 0; j < count; j++) narrowest = fmin(narrowest, (found[j].right - found[j].left) / spacing);
    if (h < 2 || 2 * h + 1 <= narrowest) return h;
    int fit = (int)(narrowest / 2);
    return fit < 2 ? 0 : fit;
}

/* theta, width and amplitude of peak j from a measured peak. */
static void seed_peak(const peak_model *pm, int j, const peak *p, double sign, double min_width, double *theta,
                      double *width, double *amp)
{
    double q[4] = {0, 0, 0, 0};
    seed_shape(pm->kind[j], p, sign, min_width, q);
    amp[j] = q[0];
    memcpy(theta + pm->theta_at[j], q + 1, (size_t)pm->ntheta[j] * sizeof *q);
    width[j] = fmax(p->right - p->left, min_width);
}

/* The residual of the current fit on (x, y), sign-corrected, into r. */
static int fit_residual(varpro *v, const peak_model *pm, const double *theta, double sign, double *r)
{
    double coef[16], cols[16];
    if (!isfinite(varpro_cost(v, theta, coef))) return -1;
    for (size_t i = 0; i < v->m; i++) {
        peak_columns(theta, v->x[i], cols, pm);
        double f = 0;
        for (int k = 0; k < v->ncols; k++) f += coef[k] * cols[k];
        r[i] = sign * (v->y[i] - f);
    }
    return 0;
}

/* Peaks that overlap so much that they make no maximum of their own
   (shoulders) still make one of the curvature: -y'' of a Gaussian peaks at
   its centre and crosses zero at centre +- sigma. So the most prominent
   maxima of -y'' (Savitzky-Golay quadratic second derivative over about a
   sigma of the narrowest peak seen) place the peaks, the zero crossings
   size them and the smoothed data give their heights. */
static int curvature_peaks(const guess_data *d, const double *r, const peak_view *view, int want, double sigma_pts,
                           peak *found, double *work)
{
    size_t m = d->m;
    int h = (int)fmax(3, fmin(sigma_pts, (double)m / 20));
    double *curv = work, *sm = work + m, s2 = 0, dd = 0;
    for (int j = -h; j <= h; j++) s2 += (double)j * j;
    s2 /= 2 * h + 1;
    for (int j = -h; j <= h; j++) dd += ((double)j * j - s2) * ((double)j * j - s2);
    for (size_t i = 0; i < m; i++) {
        double c = 0;
        if (i >= (size_t)h && i + (size_t)h < m)
            for (int j = -h; j <= h; j++) c += ((double)j * j - s2) / dd * r[(size_t)((ptrdiff_t)i + j)];
        curv[i] = -c; /* -y''/2 per sample^2; its sign and place are what matter */
    }
    guess_smooth(r, m, view->h, sm);
    int count = peaks_find(d->x, curv, m, found, want), keep = 0;
    for (int k = 0; k < count; k++) {
        size_t i = found[k].index, lo = i, hi = i;
        while (lo > 0 && curv[lo] > 0) lo--;
        while (hi + 1 < m && curv[hi] > 0) hi++;
        double half_sigma = 0.5 * (d->x[hi] - d->x[lo]); /* the crossings are at +- sigma */
        found[k].height = sm[i];
        found[k].left = d->x[i] - half_sigma * 1.17741, found[k].right = d->x[i] + half_sigma * 1.17741;
        if (found[k].height > view->floor) found[keep++] = found[k]; /* not a bend of the noise */
    }
    return keep;
}

/* Peaks one at a time: those that stand out, polished together, then each
   missing one at the most prominent maximum of what the fit leaves. */
static int grow_and_polish(const guess_data *few, peak_model *pm, int npk, const peak *found, int count,
                           const peak_view *view, double *theta, double *width, double *amp, double *work)
{
    double min_width = 2 * few->span / (double)(few->m - 1);
    for (int j = 0; j < count; j++) seed_peak(pm, j, &found[j], view->sign, min_width, theta, width, amp);
    for (;;) {
        varpro v;
        pm->npk = count;
        if (varpro_init(&v, few->x, few->y, few->m, count + pm->deg + 1, peak_columns, pm) != 0) return -1;
        polish(&v, pm, theta, width);
        if (count == npk) {
            varpro_free(&v);
            return 0;
        }
        int ok = fit_residual(&v, pm, theta, view->sign, work) == 0;
        varpro_free(&v);
        if (!ok) return -1;
        peak p;
        strong_peaks(few, work, view, 1, &p, work + few->m);
        seed_peak(pm, count, &p, view->sign, min_width, theta, width, amp);
        count++;
    }
}

/* The residual sum of squares of the peaks at theta, all linear parts solved. */
static double peaks_cost(const guess_data *few, const peak_model *pm, const double *theta)
{
    varpro v;
    if (varpro_init(&v, few->x, few->y, few->m, pm->npk + pm->deg + 1, peak_columns, pm) != 0) return INFINITY;
    double c = varpro_cost(&v, theta, NULL);
    varpro_free(&v);
    return c;
}

/* Peaks in order of position (all of one shape here: mixed sums are
   placed as Gaussians first). */
static void order_by_position(peak_model *pm, double *theta, double *width)
{
    for (int j = 1; j < pm->npk; j++)
        if (pm->kind[j] != pm->kind[0]) return;
    int nt = pm->ntheta[0];
    for (int i = 1; i < pm->npk; i++) {
        for (int j = i; j > 0 && theta[j * nt] < theta[(j - 1) * nt]; j--) {
            for (int k = 0; k < nt; k++) {
                double t = theta[j * nt + k];
                theta[j * nt + k] = theta[(j - 1) * nt + k], theta[(j - 1) * nt + k] = t;
            }
            double w = width[j];
            width[j] = width[j - 1], width[j - 1] = w;
        }
    }
}

/* From Gaussians (pm, in order of position) to the components' own shapes
   (real): each re-seeded from its Gaussian's centre, FWHM and height, then
   polished again when the first ones were. 0, or -1 when out of memory. */
static int become_components(const guess_data *d, peak_model *pm, const peak_model *real, int polished, double sign,
                             double *theta, double *width, double *amp)
{
    guess_data few = {0};
    varpro v = {0};
    double coef[16], t2[MAX_PEAKS * 3];
    size_t points = polished ? POLISH_POINTS : FINAL_POINTS;
    if (guess_data_thin(d, points, &few) != 0 ||
        varpro_init(&v, few.x, few.y, few.m, pm->npk + pm->deg + 1, peak_columns, pm) != 0) {
        guess_data_free(&few);
        return -1;
    }
    if (!isfinite(varpro_cost(&v, theta, coef))) {
        for (int j = 0; j < pm->npk; j++) coef[j] = amp[j];
    }
    varpro_free(&v);
    double min_width = 2 * d->span / (double)(d->m - 1);
    for (int j = 0; j < pm->npk; j++) {
        double c = theta[2 * j], s = theta[2 * j + 1];
        peak p = {0, c, sign * coef[j] / (s * SQRT_2PI), 0, c - s * FWHM_PER_SIGMA / 2, c + s * FWHM_PER_SIGMA / 2};
        seed_peak(real, j, &p, sign, min_width, t2, width, amp);
    }
    *pm = *real;
    memcpy(theta, t2, sizeof t2);
    int rc = 0;
    if (polished) {
        if (varpro_init(&v, few.x, few.y, few.m, pm->npk + pm->deg + 1, peak_columns, pm) == 0) {
            polish(&v, pm, theta, width);
            varpro_free(&v);
        } else {
            rc = -1;
        }
    }
    guess_data_free(&few);
    return rc;
}

nlsq_status guess_peaks(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err)
{
    peak_model pm;
    peak found[MAX_PEAKS];
    double theta[MAX_PEAKS * 3], width[MAX_PEAKS], amp[MAX_PEAKS];
    model_setup(shapes, n, d, &pm);
    int npk = pm.npk;
    if (npk > MAX_PEAKS || npk + pm.deg + 1 > 16) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "start values for at most %d peaks", MAX_PEAKS);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    /* mixed shapes: placed as Gaussians, then each becomes its component's
       shape in order of position */
    peak_model real = pm;
    int mixed = 0;
    for (int j = 1; j < npk; j++) mixed |= pm.kind[j] != pm.kind[0];
    for (int j = 0; mixed && j < npk; j++) pm.kind[j] = SHAPE_GAUSSIAN, pm.ntheta[j] = 2, pm.theta_at[j] = 2 * j;
    double *work = malloc(3 * d->m * sizeof *work);
    guess_data few = {0};
    nlsq_status st = NLSQ_ERR_NOMEM;
    if (!work) goto done;
    double *r = work, *sm = work + d->m;
    peak_view view = look(d, pm.deg, r, work + 2 * d->m);
    int count = strong_peaks(d, r, &view, npk, found, sm);
    int h = fit_window(d, found, count, view.h);
    if (h != view.h) {
        view.h = h;
        count = strong_peaks(d, r, &view, npk, found, sm);
    }
    double narrowest = INFINITY;
    for (int j = 0; j < count; j++) narrowest = fmin(narrowest, found[j].right - found[j].left);
    peak bent[MAX_PEAKS];
    int nbent = 0;
    if (npk > 1 && d->m >= 20) {
        double spacing = d->span / (double)(d->m - 1);
        /* the most prominent maximum holds the peaks not seen as maxima */
        double guess_sigma = (found[0].right - found[0].left) / (npk - count + 1) / FWHM_PER_SIGMA / spacing;
        nbent = curvature_peaks(d, r, &view, npk, fmax(guess_sigma, view.h), bent, sm);
        for (int j = 0; j < nbent; j++) narrowest = fmin(narrowest, bent[j].right - bent[j].left);
    }
    size_t polish_points = d->m <= POLISH_POINTS ? d->m : POLISH_POINTS;
    int polished = 0;
    if (narrowest >= 4 * d->span / (double)polish_points) {
        if (guess_data_thin(d, polish_points, &few) != 0) goto done;
        /* from the maxima and from the curvature's maxima: the better fit */
        double best = INFINITY, t2[MAX_PEAKS * 3], w2[MAX_PEAKS], a2[MAX_PEAKS];
        if (grow_and_polish(&few, &pm, npk, found, count, &view, theta, width, amp, work + d->m) == 0)
            best = peaks_cost(&few, &pm, theta);
        if (nbent > 0 && grow_and_polish(&few, &pm, npk, bent, nbent, &view, t2, w2, a2, work + d->m) == 0 &&
            peaks_cost(&few, &pm, t2) < best) {
            best = peaks_cost(&few, &pm, t2);
            memcpy(theta, t2, sizeof t2), memcpy(width, w2, sizeof w2), memcpy(amp, a2, sizeof a2);
        }
        polished = isfinite(best);
    }
    if (!polished) {
        /* no polish: the missing peaks from the curvature, or the residual of Gaussians */
        if (nbent > count) memcpy(found, bent, (size_t)nbent * sizeof *bent);
        guess_smooth(r, d->m, view.h, sm);
        if (nbent <= count) find_components(d->x, sm, d->m, npk, found, work + 2 * d->m);
        qsort(found, (size_t)npk, sizeof *found, by_position);
        double min_width = 2 * d->span / (double)(d->m - 1);
        pm.npk = npk;
        for (int j = 0; j < npk; j++) seed_peak(&pm, j, &found[j], view.sign, min_width, theta, width, amp);
    }
    pm.npk = npk;
    order_by_position(&pm, theta, width);
    /* the amplitudes and background solved on (up to FINAL_POINTS of) all
       data; if that fails, the seeds' amplitudes and the edge background */
    if (mixed && become_components(d, &pm, &real, polished, view.sign, theta, width, amp) != 0) goto done;
    guess_data_free(&few);
    if (guess_data_thin(d, FINAL_POINTS, &few) != 0) goto done;
    if (solve_linear(shapes, n, &pm, &few, theta, params) != 0) {
        for (int j = 0; j < npk; j++) {
            params[pm.comp_at[j]] = amp[j];
            memcpy(params + pm.comp_at[j] + 1, theta + pm.theta_at[j], (size_t)pm.ntheta[j] * sizeof *theta);
        }
        if (pm.deg >= 0) {
            double bg[8];
            edge_background(d, pm.deg, view.sign, bg, work);
            guess_put_background(shapes, n, bg, pm.deg, params);
        }
    }
    st = NLSQ_OK;
done:
    if (st == NLSQ_ERR_NOMEM) error_set(err, st, 0, 0, "out of memory estimating start values");
    guess_data_free(&few);
    free(work);
    return st;
}
