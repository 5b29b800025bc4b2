/*
 * Start values for the rotated 2-D Gaussian (plus a constant) on
 * scattered or gridded points: the moments of the part above half the
 * peak.
 *
 * Weighted by the height above the background and restricted to where it
 * exceeds half the maximum, the second moments of a 2-D Gaussian are
 * those of the full one times k = E[r^2 | r^2 < R^2]/2 with R^2 = 2 ln 2
 * (r the Mahalanobis radius, density weighted by exp(-r^2/2)):
 *   k = (2 - (R^2 + 2) e^{-R^2/2}) / (2 (1 - e^{-R^2/2})) = 0.30685...
 * Restricting keeps the noise of the far background out of the moments.
 * The moments assume points of even density in the plane, which a grid or
 * a uniform scatter gives. The amplitude (and the constant) then follow
 * by least squares at that shape.
 */
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "guess.h"

#define MOMENT_SHRINK 0.30685281944005469 /* k above */

/* The shapes19.md quadratic form's coefficients a, b, c. */
static void form(double sx, double sy, double th, double *a, double *b, double *c)
{
    double cs = cos(th), sn = sin(th);
    *a = cs * cs / (2 * sx * sx) + sn * sn / (2 * sy * sy);
    *b = -sin(2 * th) / (4 * sx * sx) + sin(2 * th) / (4 * sy * sy);
    *c = sn * sn / (2 * sx * sx) + cs * cs / (2 * sy * sy);
}

static double gauss2d_unit(const double *q, double x, double y)
{
    double a, b, c, dx = x - q[0], dy = y - q[1];
    form(q[2], q[3], q[4], &a, &b, &c);
    return exp(-(a * dx * dx + 2 * b * dx * dy + c * dy * dy));
}

/* sigmax, sigmay, theta of the covariance (sxx, sxy, syy): its
   eigenvectors; of theta and -theta the one whose form matches the
   inverse covariance / 2, whichever sign convention the formula has. */
static void axes(double sxx, double sxy, double syy, double *q)
{
    double th = 0.5 * atan2(2 * sxy, sxx - syy), cs = cos(th), sn = sin(th);
    double l1 = cs * cs * sxx + 2 * cs * sn * sxy + sn * sn * syy;
    double l2 = sn * sn * sxx - 2 * cs * sn * sxy + cs * cs * syy;
    q[2] = sqrt(fmax(l1, 1e-300)), q[3] = sqrt(fmax(l2, 1e-300));
    double det = sxx * syy - sxy * sxy, want_b = -sxy / det / 2, a, b, c;
    form(q[2], q[3], th, &a, &b, &c);
    double miss_plus = fabs(b - want_b);
    form(q[2], q[3], -th, &a, &b, &c);
    q[4] = fabs(b - want_b) < miss_plus ? -th : th;
}

nlsq_status guess_gaussian2d(const guess_shape *shapes, int n, const double *x, const double *y, size_t m,
                             double *params, nlsq_error *err)
{
    int with_constant = 0, at_g = 0, at_c = -1;
    for (int i = 0, at = 0; i < n; at += shapes[i].nparams, i++) {
        if (shapes[i].kind == SHAPE_GAUSSIAN2D)
            at_g = at;
        else if (shapes[i].kind == SHAPE_CONSTANT && !with_constant)
            with_constant = 1, at_c = at;
        else {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                      "start values for gaussian2d: one gaussian2d and at most one constant");
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
    }
    const double *xv = x, *yv = x + m;
    double *scratch = malloc(m * sizeof *scratch), *vals = malloc(m * sizeof *vals);
    nlsq_status st = NLSQ_ERR_NOMEM;
    if (!scratch || !vals) goto done;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (isfinite(xv[i]) && isfinite(yv[i]) && isfinite(y[i])) vals[k++] = y[i];
    double base = with_constant ? guess_quantile(vals, k, 0.1, scratch) : 0;
    double med = guess_quantile(vals, k, 0.5, scratch), lo = guess_quantile(vals, k, 0, scratch),
           hi = guess_quantile(vals, k, 1, scratch);
    double sign = hi - med >= med - lo ? 1 : -1, top = sign > 0 ? hi - base : base - lo;
    double sw = 0, mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < m; i++) {
            double w = sign * (y[i] - base);
            if (!(w > 0.5 * top) || !isfinite(xv[i]) || !isfinite(yv[i])) continue;
            if (pass == 0)
                sw += w, mx += w * xv[i], my += w * yv[i];
            else {
                double dx = xv[i] - mx, dy = yv[i] - my;
                sxx += w * dx * dx, sxy += w * dx * dy, syy += w * dy * dy;
            }
        }
        if (pass == 0 && sw > 0) mx /= sw, my /= sw;
    }
    st = NLSQ_ERR_DATA;
    double q[5] = {mx, my, 0, 0, 0};
    if (!(sw > 0) || !(sxx * syy - sxy * sxy > 0)) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "gaussian2d: too few points above half the peak to measure its shape");
        goto done;
    }
    axes(sxx / sw / MOMENT_SHRINK, sxy / sw / MOMENT_SHRINK, syy / sw / MOMENT_SHRINK, q);
    /* amplitude (and constant) by least squares at this shape */
    double s11 = 0, s12 = 0, s22 = 0, r1 = 0, r2 = 0;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(xv[i]) || !isfinite(yv[i]) || !isfinite(y[i])) continue;
        double g = gauss2d_unit(q, xv[i], yv[i]);
        s11 += g * g, s12 += g, s22 += 1, r1 += g * y[i], r2 += y[i];
    }
    double amp = sign * top, cst = base;
    if (with_constant && s11 * s22 - s12 * s12 > 0) {
        double det = s11 * s22 - s12 * s12;
        amp = (r1 * s22 - r2 * s12) / det, cst = (s11 * r2 - s12 * r1) / det;
    } else if (!with_constant && s11 > 0) {
        amp = r1 / s11;
    }
    params[at_g] = amp;
    for (int j = 0; j < 5; j++) params[at_g + 1 + j] = q[j];
    if (with_constant) params[at_c] = cst;
    st = NLSQ_OK;
done:
    if (st == NLSQ_ERR_NOMEM) error_set(err, st, 0, 0, "out of memory estimating start values");
    free(scratch);
    free(vals);
    return st;
}
