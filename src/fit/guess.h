/*
 * Start values from the data (nlsq_guess_*): what the estimator files share.
 * guess_data.c holds the numerical helpers (sorting, small least squares,
 * separable least squares on a grid), peaks.c finds peaks with their
 * prominence and width, guess_peaks.c and guess_curves.c turn those into
 * parameters of the shapes, guess.c is the public entry. A header of its
 * own rather than fit.h: the estimators use nothing of the fit layer.
 */
#ifndef NLSQ_FIT_GUESS_H
#define NLSQ_FIT_GUESS_H

#include <stddef.h>

#include "nlsq.h"

/* ---- the shapes (shapes19.md: names and parameter order) --------------- */

typedef enum guess_kind {
    SHAPE_CONSTANT,
    SHAPE_LINEAR,
    SHAPE_POLYNOMIAL, /* polynomialN, N = 2..7                        */
    SHAPE_EXPONENTIAL,
    SHAPE_STRETCHED_EXPONENTIAL,
    SHAPE_POWER_LAW,
    SHAPE_GAUSSIAN,
    SHAPE_LORENTZIAN,
    SHAPE_VOIGT,
    SHAPE_PSEUDO_VOIGT,
    SHAPE_PEARSON7,
    SHAPE_SKEWED_GAUSSIAN,
    SHAPE_EXP_GAUSSIAN,
    SHAPE_MOFFAT,
    SHAPE_LOGNORMAL,
    SHAPE_LOGISTIC,
    SHAPE_LOGISTIC4,
    SHAPE_LOGISTIC5,
    SHAPE_HILL,
    SHAPE_MICHAELIS_MENTEN,
    SHAPE_ARRHENIUS,
    SHAPE_DAMPED_SINE,
    SHAPE_ERF_STEP,
    SHAPE_GAUSSIAN2D
} guess_kind;

typedef struct guess_shape {
    guess_kind kind;
    int degree;  /* polynomial degree of a background shape, else -1 */
    int nparams; /* in shapes19.md's order                          */
} guess_shape;

static inline int guess_is_background(guess_kind k)
{
    return k == SHAPE_CONSTANT || k == SHAPE_LINEAR || k == SHAPE_POLYNOMIAL;
}

static inline int guess_is_peak(guess_kind k)
{
    return k >= SHAPE_GAUSSIAN && k <= SHAPE_LOGNORMAL;
}

/* ---- guess_data.c: data and small least squares -------------------------- */

/* The points sorted by x (ties in their order), non-finite ones dropped. */
typedef struct guess_data {
    double *x, *y;
    size_t m;
    double xmin, xmax, span; /* span = xmax - xmin                    */
} guess_data;

/* 0, or -1 when out of memory. */
int guess_data_sorted(const double *x, const double *y, size_t m, guess_data *out);
/* At most `limit` points of d, evenly spread in rank (a copy). */
int guess_data_thin(const guess_data *d, size_t limit, guess_data *out);
void guess_data_free(guess_data *d);

/* Least squares min |A c - b| for A m x n (column-major, overwritten) by
   Householder QR with columns scaled to unit norm; b is overwritten.
   0, or -1 when A is rank-deficient to ~1e-12 or not finite. */
int guess_lsq_solve(double *A, size_t m, int n, double *b, double *coef);
/* Polynomial of degree deg through (x, y) by least squares, coefficients
   of x^0..x^deg in raw x (solved in centred, scaled x). 0 or -1. */
int guess_poly_fit(const double *x, const double *y, size_t m, int deg, double *coef);
/* The coefficients c of t^k, t = (x - mid)/half, as coefficients of x^k. */
void guess_poly_unscale(const double *c, int deg, double mid, double half, double *coef);
/* The q-quantile (0..1) of v[0..n) by sorting the scratch copy. */
double guess_quantile(const double *v, size_t n, double q, double *scratch);
/* Noise standard deviation from second differences (MAD), robust to
   smooth signal: 1.4826 * MAD(y[i-1] - 2 y[i] + y[i+1]) / sqrt(6). */
double guess_noise_sigma(const double *y, size_t m, double *scratch);
/* Savitzky-Golay quadratic smoothing of half-width h (h = 0 copies). */
void guess_smooth(const double *y, size_t m, int h, double *out);
/* sqrt(sum c_j^2) of that filter: how much it shrinks white noise. */
double guess_smooth_gain(int h);

/* Separable least squares: y ~ sum_k c_k col_k(x; theta), the c_k linear,
   theta (d values) searched on grids. cols fills ncols values at one x. */
typedef void (*varpro_basis)(const double *theta, double x, double *cols, const void *ctx);

typedef struct varpro {
    const double *x, *y;
    size_t m;
    int ncols;
    varpro_basis basis;
    const void *ctx;
    double *A, *b; /* m*ncols and m: the workspace                */
} varpro;

int varpro_init(varpro *v, const double *x, const double *y, size_t m, int ncols, varpro_basis basis, const void *ctx);
void varpro_free(varpro *v);
/* Residual sum of squares at theta (coef filled when not NULL), or
   INFINITY when the columns are singular or not finite. */
double varpro_cost(varpro *v, const double *theta, double *coef);
/* theta[i] over n points of [lo, hi] (geometric when logscale, lo and hi
   then of one sign), the others held: theta[i] becomes the best of the
   grid and its old value. Returns the best cost. */
double varpro_line(varpro *v, double *theta, int i, double lo, double hi, int logscale, int n);
/* varpro_line repeated on boxes shrinking about the best, `zooms` times. */
double varpro_zoom(varpro *v, double *theta, int i, double lo, double hi, int logscale, int n, int zooms);

/* Two of theta (at[0], at[1]) over an n x n grid of the box, the others
   held, then `zooms` more grids of two steps about the best: a joint
   search, for parameters whose valley runs across both axes. theta keeps
   the best point (its old one included). Returns the best cost. */
double varpro_grid2(varpro *v, double *theta, const int *at, const double *lo, const double *hi, const int *logscale,
                    int n, int zooms);

/* Levenberg-Marquardt steps on theta[0..nt) and the linear coefficients
   together (theta's Jacobian by forward differences), each step's linear
   part then solved exactly; theta[j] with keep_sign[j] set keeps its sign.
   At most `iters` steps; only lower costs are taken. Returns the cost. */
double varpro_refine(varpro *v, double *theta, int nt, const unsigned char *keep_sign, int iters);

/* ---- peaks.c: peaks with their prominence and width ------------------- */

typedef struct peak {
    size_t index;       /* of the maximum in the sorted data          */
    double x, height;   /* position and value of the maximum          */
    double prominence;  /* as scipy.signal.peak_prominences defines it */
    double left, right; /* x where the peak crosses height - prom/2    */
} peak;

/* The local maxima of y (sorted by x) with their prominence and width at
   half prominence, the most prominent first; at most max_peaks. Returns
   the number found, or -1 when out of memory. */
int peaks_find(const double *x, const double *y, size_t m, peak *out, int max_peaks);
/* The same measures for the sample i (a maximum at an end of the data,
   which find_peaks does not report). */
peak peaks_measure(const double *x, const double *y, size_t m, size_t i);

/* ---- guess_peaks.c, guess_curves.c: the estimators ---------------------- */

/* Each fills params (all components in order, nparams in total) or
   returns a status with err filled. shapes[i] are the components. */
nlsq_status guess_peaks(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err);
nlsq_status guess_curve(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err);
nlsq_status guess_background(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err);
nlsq_status guess_gaussian2d(const guess_shape *shapes, int n, const double *x, const double *y, size_t m,
                             double *params, nlsq_error *err);

/* Where the background components' coefficients go: the polynomial of
   degree max(degree) into the highest one, zeros elsewhere. */
void guess_put_background(const guess_shape *shapes, int n, const double *coef, int deg, double *params);
/* The highest background degree among the components, -1 for none. */
int guess_background_degree(const guess_shape *shapes, int n);

#endif
