/*
 * src/kernel/faddeeva.h — the Faddeeva function w(z) = exp(-z^2) erfc(-iz)
 * (SciPy's wofz), for the language's faddeeva_re(x, y) and
 * faddeeva_im(x, y) = Re and Im of w(x + iy). One source for every
 * evaluator, spliced like src/kernel/scalar.h (see its comment): the
 * spliced contexts also provide exp, sin, cos and hypot.
 *
 * The method, for y >= 0 (below the axis by w(z) = 2 exp(-z^2) - w(-z)):
 *
 * - Near the real axis (y < 4, |x| < 28), the trapezoidal rule for
 *   w(z) = (i/pi) \int exp(-t^2) / (z - t) dt with step h, made exact up
 *   to O(exp(-pi^2/h^2)) by the residue of the pole at t = z that the
 *   rule misses (Chiarella & Reichel, Math. Comp. 22 (1968) 137; the
 *   basis of Zaghloul & Ali, ACM TOMS 38 (2011) Algorithm 916). With the
 *   nodes t = nh,
 *       w(z) = (ih/pi) sum_n exp(-n^2 h^2)/(z - nh) - 2 exp(-z^2) u/(1 - u),
 *   and with the nodes t = (n + 1/2)h,
 *       w(z) = (ih/pi) sum_n exp(-(n+1/2)^2 h^2)/(z - (n+1/2)h)
 *              + 2 exp(-z^2) u/(1 + u),
 *   where u = exp(2 pi i z/h). (Derived by integrating f(t) cot(pi t/h),
 *   resp. -f(t) tan(pi t/h), round the strip |Im t| < pi/h.) Each form's
 *   two terms have poles at its nodes that cancel; the grid whose nodes
 *   are farther than h/4 from x is used, so nothing cancels badly. With
 *   h = 1/2 the neglected terms are below exp(-pi^2/h^2) = 7e-18, x/h is
 *   exact, and 15 pairs of nodes reach weights below 1e-24. The residue
 *   term carries Re w = exp(-x^2) on the axis exactly, which a continued
 *   fraction cannot (it is beyond all orders of the asymptotic series).
 * - Elsewhere (|z| >= 4), the Laplace continued fraction
 *       w(z) = (i/sqrt(pi)) / (z - (1/2)/(z - 1/(z - (3/2)/(z - ...)))),
 *   evaluated from a fixed depth 6 + 60/|z| (21 at |z| = 4, where it is
 *   converged to 1e-16; Gautschi, SIAM J. Numer. Anal. 7 (1970) 187).
 *
 * exp(-z^2) is formed from y^2 - x^2 and 2xy as exact sums of two doubles
 * (Dekker's product): at |x y| = 1e8 one rounding of 2xy would move the
 * phase by 1.5e-8. Checked against mpmath to 5e-15 (each of Re and Im,
 * relative) and against scipy.special.wofz (tests/test_library.c).
 */
#ifndef NLSQ_KERNEL_FADDEEVA_H
#define NLSQ_KERNEL_FADDEEVA_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

typedef struct nk_cplx {
    double re, im;
} nk_cplx;

KFN nk_cplx nk_cplx_make(double re, double im)
{
    nk_cplx c;
    c.re = re;
    c.im = im;
    return c;
}

/* a / b by Smith's method: no overflow of |b|^2 for large b */
KFN nk_cplx nk_cplx_div(nk_cplx a, nk_cplx b)
{
    if (fabs(b.re) >= fabs(b.im)) {
        double r = b.im / b.re, d = b.re + b.im * r;
        return nk_cplx_make((a.re + a.im * r) / d, (a.im - a.re * r) / d);
    }
    double r = b.re / b.im, d = b.im + b.re * r;
    return nk_cplx_make((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}

/* a*b = hi + lo exactly (Dekker; with a fused multiply-add where the
   compiler contracts products, as CUDA does, so the split stays exact).
   Needs |a|, |b| < 1e150. */
KFN double nk_two_prod(double a, double b, double *lo)
{
    double p = a * b;
#if defined(__CUDA_ARCH__)
    *lo = fma(a, b, -p);
#else
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    *lo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
    return p;
}

/* exp(-z^2) = exp(y^2 - x^2) (cos 2xy - i sin 2xy), with y^2 - x^2 and
   2xy each carried as hi + lo; lo is below half an ulp of hi, so
   exp(hi + lo) = exp(hi)(1 + lo) and cos(hi + lo) = cos hi - lo sin hi
   to the last bit. */
KFN nk_cplx nk_exp_minus_z2(double x, double y)
{
    if (!(fabs(x) < 1e150 && fabs(y) < 1e150)) {
        double m = exp((y - x) * (y + x)), ph = 2.0 * x * y;
        return nk_cplx_make(m * cos(ph), -m * sin(ph));
    }
    double x2l, y2l, pl;
    double x2 = nk_two_prod(x, x, &x2l), y2 = nk_two_prod(y, y, &y2l);
    double qh = y2 - x2, bb = qh - y2;
    double ql = ((y2 - (qh - bb)) + (-x2 - bb)) + (y2l - x2l); /* two-sum error + the low parts */
    double ph = nk_two_prod(2.0 * x, y, &pl);
    double m = exp(qh);
    if (m == 0 || isinf(m)) return nk_cplx_make(m * cos(ph), -m * sin(ph));
    m += m * ql;
    double c = cos(ph), s = sin(ph);
    return nk_cplx_make(m * (c - pl * s), -m * (s + pl * c));
}

/* w(z) for |z| >= 4, y >= 0: the Laplace continued fraction. */
KFN nk_cplx nk_faddeeva_cf(double x, double y)
{
    nk_cplx z = nk_cplx_make(x, y), t = z;
    int depth = 6 + (int)(60.0 / hypot(x, y));
    for (int k = depth; k >= 1; k--) {
        nk_cplx q = nk_cplx_div(nk_cplx_make(0.5 * k, 0.0), t);
        t = nk_cplx_make(x - q.re, y - q.im);
    }
    nk_cplx r = nk_cplx_div(nk_cplx_make(0.0, 0.5641895835477563), t); /* 1/sqrt(pi) */
    return r;
}

/* w(z) for 0 <= x < 28, 0 <= y < 4: the trapezoidal rule with the pole's
   residue (above). Symmetric pairs of nodes +-a are summed as
   2z/(z^2 - a^2), so the odd part keeps its relative accuracy at small z. */
KFN nk_cplx nk_faddeeva_near_axis(double x, double y)
{
    /* exp(-a^2) at a = n/2, n = 1..15, and at a = (n + 1/2)/2, n = 0..15
       (rounded from 30-digit values) */
    const double whole[15] = {0.7788007830714049,     0.36787944117144233,    0.10539922456186433,
                              0.01831563888873418,    0.0019304541362277093,  0.00012340980408667956,
                              4.785117392129009e-06,  1.1253517471925912e-07, 1.6052280551856116e-09,
                              1.3887943864964021e-11, 7.287724095819692e-14,  2.3195228302435696e-16,
                              4.4777324417183015e-19, 5.242885663363464e-22,  3.7233631217505106e-25};
    const double half[16] = {
        0.9394130628134758,     0.569782824730923,      0.2096113871510978,     0.04677062238395898,
        0.006329715427485747,   0.0005195746821548384,  2.586810022265412e-05,  7.811489408304491e-07,
        1.4307241918567688e-08, 1.5893910094516368e-10, 1.0709232382508077e-12, 4.37661850287085e-15,
        1.0848552640429378e-17, 1.6310139226701858e-20, 1.4872921816512705e-23, 8.225980595143903e-27};
    double s2 = 2.0 * x;                               /* x/h, exact */
    double f = s2 - floor(s2 + 0.5);                   /* distance to the nearest whole node, in steps, exact */
    int shifted = fabs(f) < 0.25;                      /* then the half nodes are at least h/4 away */
    double zr2 = (x - y) * (x + y), zi2 = 2.0 * x * y; /* z^2 */
    nk_cplx acc = nk_cplx_make(0.0, 0.0);
    for (int n = shifted ? 0 : 1; n <= 15; n++) {
        double a = shifted ? 0.5 * n + 0.25 : 0.5 * n;
        double wgt = shifted ? half[n] : whole[n - 1];
        double dr = zr2 - a * a, s = wgt / (dr * dr + zi2 * zi2); /* |z| < 29: no overflow */
        acc.re += dr * s;
        acc.im -= zi2 * s;
    }
    /* sum = [1/z] + 2z * acc */
    nk_cplx sum = nk_cplx_make(2.0 * (x * acc.re - y * acc.im), 2.0 * (x * acc.im + y * acc.re));
    if (!shifted) {
        nk_cplx inv = nk_cplx_div(nk_cplx_make(1.0, 0.0), nk_cplx_make(x, y));
        sum.re += inv.re;
        sum.im += inv.im;
    }
    /* (ih/pi) sum, h = 1/2 */
    const double h_over_pi = 0.15915494309189535;
    nk_cplx w = nk_cplx_make(-h_over_pi * sum.im, h_over_pi * sum.re);
    /* the residue term: c = 2u/(1 + u) (half nodes) or -2u/(1 - u), with
       u = exp(-4 pi y) exp(2 pi i f); |1 +- u| >= 1 on the grid chosen */
    double mag = exp(-12.566370614359172 * y), mag2 = mag * mag;
    double ur = mag * cos(6.283185307179586 * f), ui = mag * sin(6.283185307179586 * f);
    double cr, ci;
    if (shifted) {
        double d = (1.0 + ur) * (1.0 + ur) + ui * ui;
        cr = 2.0 * (ur + mag2) / d;
        ci = 2.0 * ui / d;
    } else {
        double d = (1.0 - ur) * (1.0 - ur) + ui * ui;
        cr = 2.0 * (mag2 - ur) / d;
        ci = -2.0 * ui / d;
    }
    nk_cplx e = nk_exp_minus_z2(x, y);
    w.re += e.re * cr - e.im * ci;
    w.im += e.re * ci + e.im * cr;
    return w;
}

/* w(x + iy) for y >= 0 */
KFN nk_cplx nk_faddeeva_upper(double x, double y)
{
    double ax = fabs(x);
    nk_cplx w;
    if (isinf(ax) || isinf(y))
        w = nk_cplx_make(0.0, 0.0); /* w(z) ~ i/(sqrt(pi) z) */
    else if (y >= 4.0 || ax >= 28.0)
        w = nk_faddeeva_cf(ax, y);
    else
        w = nk_faddeeva_near_axis(ax, y);
    if (x < 0) w.im = -w.im; /* w(-x + iy) = conj(w(x + iy)) */
    return w;
}

KFN nk_cplx nk_faddeeva(double x, double y)
{
    if (isnan(x) || isnan(y)) return nk_cplx_make(x + y, x + y);
    if (y >= 0) return nk_faddeeva_upper(x, y);
    nk_cplx r = nk_faddeeva_upper(-x, -y), e = nk_exp_minus_z2(x, y);
    return nk_cplx_make(2.0 * e.re - r.re, 2.0 * e.im - r.im);
}

KFN double nk_faddeeva_re(double x, double y)
{
    return nk_faddeeva(x, y).re;
}

KFN double nk_faddeeva_im(double x, double y)
{
    return nk_faddeeva(x, y).im;
}

#endif
