/*
 * The estimators' numerical helpers: the data sorted by x, small linear
 * least squares, robust noise and smoothing, and separable least squares
 * (the linear coefficients solved exactly, the nonlinear ones on grids).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "guess.h"

typedef struct xy_pair {
    double x, y;
    size_t order;
} xy_pair;

static int pair_compare(const void *a, const void *b)
{
    const xy_pair *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->order < q->order ? -1 : p->order > q->order;
}

static int data_alloc(guess_data *d, size_t m)
{
    d->x = malloc((m ? m : 1) * sizeof *d->x);
    d->y = malloc((m ? m : 1) * sizeof *d->y);
    d->m = m;
    if (d->x && d->y) return 0;
    guess_data_free(d);
    return -1;
}

static void data_set_range(guess_data *d)
{
    d->xmin = d->m ? d->x[0] : 0;
    d->xmax = d->m ? d->x[d->m - 1] : 0;
    d->span = d->xmax - d->xmin;
}

int guess_data_sorted(const double *x, const double *y, size_t m, guess_data *out)
{
    memset(out, 0, sizeof *out);
    xy_pair *p = malloc((m ? m : 1) * sizeof *p);
    if (!p) return -1;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (isfinite(x[i]) && isfinite(y[i])) p[k++] = (xy_pair){x[i], y[i], i};
    qsort(p, k, sizeof *p, pair_compare);
    if (data_alloc(out, k) != 0) {
        free(p);
        return -1;
    }
    for (size_t i = 0; i < k; i++) out->x[i] = p[i].x, out->y[i] = p[i].y;
    free(p);
    data_set_range(out);
    return 0;
}

int guess_data_thin(const guess_data *d, size_t limit, guess_data *out)
{
    size_t m = d->m < limit ? d->m : limit;
    if (data_alloc(out, m) != 0) return -1;
    for (size_t i = 0; i < m; i++) {
        size_t j = m > 1 ? (size_t)((double)i * (double)(d->m - 1) / (double)(m - 1) + 0.5) : 0;
        out->x[i] = d->x[j], out->y[i] = d->y[j];
    }
    data_set_range(out);
    return 0;
}

void guess_data_free(guess_data *d)
{
    free(d->x);
    free(d->y);
    d->x = d->y = NULL;
    d->m = 0;
}

/* Householder QR of the scaled columns, then R c = Q^T b. */
int guess_lsq_solve(double *A, size_t m, int n, double *b, double *coef)
{
    double scale[16];
    if (n > 16 || (size_t)n > m) return -1;
    for (int j = 0; j < n; j++) {
        double *a = A + (size_t)j * m, s = 0;
        for (size_t i = 0; i < m; i++) s += a[i] * a[i];
        if (!(s > 0) || !isfinite(s)) return -1;
        scale[j] = sqrt(s);
        for (size_t i = 0; i < m; i++) a[i] /= scale[j];
    }
    for (int j = 0; j < n; j++) {
        double *a = A + (size_t)j * m, norm = 0;
        for (size_t i = (size_t)j; i < m; i++) norm += a[i] * a[i];
        norm = sqrt(norm);
        if (norm < 1e-12) return -1;
        double alpha = a[j] > 0 ? -norm : norm;
        a[j] -= alpha; /* v = a - alpha e_j, stored in place            */
        double vv = 0;
        for (size_t i = (size_t)j; i < m; i++) vv += a[i] * a[i];
        for (int k = j + 1; k <= n; k++) {
            double *c = k < n ? A + (size_t)k * m : b, dot = 0;
            for (size_t i = (size_t)j; i < m; i++) dot += a[i] * c[i];
            double f = 2 * dot / vv;
            for (size_t i = (size_t)j; i < m; i++) c[i] -= f * a[i];
        }
        a[j] = alpha; /* the diagonal of R; below it v is not needed now */
    }
    for (int j = n - 1; j >= 0; j--) {
        double s = b[j];
        for (int k = j + 1; k < n; k++) s -= A[(size_t)k * m + (size_t)j] * coef[k];
        coef[j] = s / A[(size_t)j * m + (size_t)j];
    }
    for (int j = 0; j < n; j++) {
        coef[j] /= scale[j];
        if (!isfinite(coef[j])) return -1;
    }
    return 0;
}

void guess_poly_unscale(const double *c, int deg, double mid, double half, double *coef)
{
    for (int k = 0; k <= deg; k++) coef[k] = 0;
    for (int k = 0; k <= deg; k++) {
        /* c_k ((x - mid)/half)^k = c_k/half^k sum_j C(k,j) x^j (-mid)^(k-j) */
        double ck = c[k] / pow(half, k), binom = 1;
        for (int j = 0; j <= k; j++) {
            coef[j] += ck * binom * pow(-mid, k - j);
            binom = binom * (k - j) / (j + 1);
        }
    }
}

/* In t = (x - mid)/half the columns are well conditioned; the raw
   coefficients follow by expanding (x - mid)^k / half^k binomially. */
int guess_poly_fit(const double *x, const double *y, size_t m, int deg, double *coef)
{
    size_t n = (size_t)deg + 1;
    if (m < n) return -1;
    double lo = x[0], hi = x[0];
    for (size_t i = 1; i < m; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    double mid = 0.5 * (lo + hi), half = hi > lo ? 0.5 * (hi - lo) : 1;
    double *A = malloc(m * n * sizeof *A), *b = malloc(m * sizeof *b);
    double c[16] = {0};
    int rc = -1;
    if (!A || !b) goto done;
    for (size_t i = 0; i < m; i++) {
        double t = (x[i] - mid) / half, p = 1;
        for (size_t k = 0; k < n; k++, p *= t) A[k * m + i] = p;
        b[i] = y[i];
    }
    if (guess_lsq_solve(A, m, (int)n, b, c) != 0) goto done;
    guess_poly_unscale(c, deg, mid, half, coef);
    rc = 0;
done:
    free(A);
    free(b);
    return rc;
}

static int double_compare(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

double guess_quantile(const double *v, size_t n, double q, double *scratch)
{
    if (n == 0) return NAN;
    memcpy(scratch, v, n * sizeof *v);
    qsort(scratch, n, sizeof *scratch, double_compare);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return scratch[n - 1];
    return scratch[i] + (pos - (double)i) * (scratch[i + 1] - scratch[i]);
}

double guess_noise_sigma(const double *y, size_t m, double *scratch)
{
    if (m < 5) return 0;
    size_t n = m - 2;
    for (size_t i = 0; i < n; i++) scratch[i] = fabs(y[i] - 2 * y[i + 1] + y[i + 2]);
    /* quantile copies into its scratch: sort in place instead */
    qsort(scratch, n, sizeof *scratch, double_compare);
    double mad = n % 2 ? scratch[n / 2] : 0.5 * (scratch[n / 2 - 1] + scratch[n / 2]);
    return 1.4826 * mad / sqrt(6.0);
}

/* Savitzky-Golay quadratic weights, c_j = (3(3h^2+3h-1) - 15 j^2) /
   ((2h+3)(2h+1)(2h-1)); at the ends the window shrinks symmetrically. */
static double sg_weight(int h, int j)
{
    return (3.0 * (3.0 * h * h + 3.0 * h - 1) - 15.0 * j * j) / ((2.0 * h + 3) * (2.0 * h + 1) * (2.0 * h - 1));
}

void guess_smooth(const double *y, size_t m, int h, double *out)
{
    for (size_t i = 0; i < m; i++) {
        size_t room = i < m - 1 - i ? i : m - 1 - i;
        int w = (size_t)h < room ? h : (int)room;
        if (w < 2) {
            out[i] = y[i];
            continue;
        }
        double s = 0;
        for (int j = -w; j <= w; j++) s += sg_weight(w, j) * y[(size_t)((ptrdiff_t)i + j)];
        out[i] = s;
    }
}

double guess_smooth_gain(int h)
{
    if (h < 2) return 1;
    double s = 0;
    for (int j = -h; j <= h; j++) s += sg_weight(h, j) * sg_weight(h, j);
    return sqrt(s);
}

int varpro_init(varpro *v, const double *x, const double *y, size_t m, int ncols, varpro_basis basis, const void *ctx)
{
    *v = (varpro){x, y, m, ncols, basis, ctx, NULL, NULL};
    v->A = malloc(m * (size_t)ncols * sizeof *v->A);
    v->b = malloc((m ? m : 1) * sizeof *v->b);
    if (v->A && v->b) return 0;
    varpro_free(v);
    return -1;
}

void varpro_free(varpro *v)
{
    free(v->A);
    free(v->b);
    v->A = v->b = NULL;
}

double varpro_cost(varpro *v, const double *theta, double *coef)
{
    double cols[16], c[16];
    size_t m = v->m;
    for (size_t i = 0; i < m; i++) {
        v->basis(theta, v->x[i], cols, v->ctx);
        for (int k = 0; k < v->ncols; k++) v->A[(size_t)k * m + i] = cols[k];
        v->b[i] = v->y[i];
    }
    if (guess_lsq_solve(v->A, m, v->ncols, v->b, c) != 0) return INFINITY;
    /* b now holds Q^T y: the residual is its part below the triangle */
    double rss = 0;
    for (size_t i = (size_t)v->ncols; i < m; i++) rss += v->b[i] * v->b[i];
    if (!isfinite(rss)) return INFINITY;
    if (coef) memcpy(coef, c, (size_t)v->ncols * sizeof *c);
    return rss;
}

double varpro_line(varpro *v, double *theta, int i, double lo, double hi, int logscale, int n)
{
    double best = varpro_cost(v, theta, NULL), best_t = theta[i];
    for (int k = 0; k < n; k++) {
        double f = n > 1 ? (double)k / (n - 1) : 0.5;
        theta[i] = logscale ? lo * pow(hi / lo, f) : lo + f * (hi - lo);
        double c = varpro_cost(v, theta, NULL);
        if (c < best) best = c, best_t = theta[i];
    }
    theta[i] = best_t;
    return best;
}

double varpro_zoom(varpro *v, double *theta, int i, double lo, double hi, int logscale, int n, int zooms)
{
    double best = varpro_line(v, theta, i, lo, hi, logscale, n);
    for (int z = 0; z < zooms; z++) {
        /* two grid steps either side of the best */
        if (logscale) {
            double step = pow(hi / lo, 2.0 / (n - 1));
            lo = theta[i] / step, hi = theta[i] * step;
        } else {
            double step = 2 * (hi - lo) / (n - 1);
            lo = theta[i] - step, hi = theta[i] + step;
        }
        best = varpro_line(v, theta, i, lo, hi, logscale, n);
    }
    return best;
}

static double grid_value(double lo, double hi, int logscale, int k, int n)
{
    double f = n > 1 ? (double)k / (n - 1) : 0.5;
    return logscale ? lo * pow(hi / lo, f) : lo + f * (hi - lo);
}

double varpro_grid2(varpro *v, double *theta, const int *at, const double *lo_in, const double *hi_in,
                    const int *logscale, int n, int zooms)
{
    double lo[2] = {lo_in[0], lo_in[1]}, hi[2] = {hi_in[0], hi_in[1]};
    double best = varpro_cost(v, theta, NULL), keep[2] = {theta[at[0]], theta[at[1]]};
    for (int z = 0; z <= zooms; z++) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double old0 = theta[at[0]], old1 = theta[at[1]];
                theta[at[0]] = grid_value(lo[0], hi[0], logscale[0], i, n);
                theta[at[1]] = grid_value(lo[1], hi[1], logscale[1], j, n);
                double c = varpro_cost(v, theta, NULL);
                if (c < best) best = c, keep[0] = theta[at[0]], keep[1] = theta[at[1]];
                theta[at[0]] = old0, theta[at[1]] = old1;
            }
        }
        theta[at[0]] = keep[0], theta[at[1]] = keep[1];
        for (int d = 0; d < 2; d++) { /* two grid steps either side of the best */
            if (logscale[d]) {
                double step = pow(hi[d] / lo[d], 2.0 / (n - 1));
                lo[d] = keep[d] / step, hi[d] = keep[d] * step;
            } else {
                double step = 2 * (hi[d] - lo[d]) / (n - 1);
                lo[d] = keep[d] - step, hi[d] = keep[d] + step;
            }
        }
    }
    return best;
}

/* Solve (A + lambda diag(A)) s = g for symmetric positive A by Cholesky;
   0, or -1 when not positive definite. */
static int damped_solve(const double *A, const double *g, int n, double lambda, double *s, double *L)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j <= i; j++) {
            double v = A[i * n + j] + (i == j ? lambda * A[i * n + i] : 0);
            for (int k = 0; k < j; k++) v -= L[i * n + k] * L[j * n + k];
            if (i == j) {
                if (!(v > 0)) return -1;
                L[i * n + i] = sqrt(v);
            } else {
                L[i * n + j] = v / L[j * n + j];
            }
        }
    }
    for (int i = 0; i < n; i++) {
        double v = g[i];
        for (int k = 0; k < i; k++) v -= L[i * n + k] * s[k];
        s[i] = v / L[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double v = s[i];
        for (int k = i + 1; k < n; k++) v -= L[k * n + i] * s[k];
        s[i] = v / L[i * n + i];
    }
    return 0;
}

/* The model's values at (theta, coef) on every point, into f. */
static void varpro_values(varpro *v, const double *theta, const double *coef, double *f)
{
    double cols[16];
    for (size_t i = 0; i < v->m; i++) {
        v->basis(theta, v->x[i], cols, v->ctx);
        double s = 0;
        for (int k = 0; k < v->ncols; k++) s += coef[k] * cols[k];
        f[i] = s;
    }
}

double varpro_refine(varpro *v, double *theta, int nt, const unsigned char *keep_sign, int iters)
{
    enum { MAXN = 48 };
    double coef[16], best = varpro_cost(v, theta, coef);
    int nc = v->ncols, n = nt + nc;
    size_t m = v->m;
    if (n > MAXN || !isfinite(best)) return best;
    double *J = malloc(m * (size_t)n * sizeof *J), *f = malloc(m * sizeof *f), *fh = malloc(m * sizeof *fh);
    double A[MAXN * MAXN], L[MAXN * MAXN], g[MAXN], step[MAXN], trial[MAXN], lambda = 1e-3;
    if (!J || !f || !fh) goto done;
    for (int it = 0; it < iters; it++) {
        /* J by forward differences in theta, exact in the linear coefficients */
        varpro_values(v, theta, coef, f);
        for (int j = 0; j < nt; j++) {
            double keep = theta[j], h = 1e-7 * (fabs(keep) + 1e-6);
            theta[j] = keep + h;
            varpro_values(v, theta, coef, fh);
            theta[j] = keep;
            for (size_t i = 0; i < m; i++) J[(size_t)j * m + i] = (fh[i] - f[i]) / h;
        }
        for (size_t i = 0; i < m; i++) {
            double cols[16];
            v->basis(theta, v->x[i], cols, v->ctx);
            for (int k = 0; k < nc; k++) J[(size_t)(nt + k) * m + i] = cols[k];
            f[i] -= v->y[i];
        }
        for (int a = 0; a < n; a++) {
            double s = 0;
            for (size_t i = 0; i < m; i++) s -= J[(size_t)a * m + i] * f[i];
            g[a] = s;
            for (int b = 0; b <= a; b++) {
                double t = 0;
                for (size_t i = 0; i < m; i++) t += J[(size_t)a * m + i] * J[(size_t)b * m + i];
                A[a * n + b] = A[b * n + a] = t;
            }
        }
        int improved = 0;
        for (int tries = 0; tries < 8 && !improved; tries++, lambda *= 4) {
            if (damped_solve(A, g, n, lambda, step, L) != 0) continue;
            int ok = 1;
            for (int j = 0; j < nt; j++) {
                trial[j] = theta[j] + step[j];
                if (keep_sign && keep_sign[j] && !(trial[j] * theta[j] > 0)) ok = 0;
            }
            if (!ok) continue;
            double c2[16], cost = varpro_cost(v, trial, c2);
            if (cost < best) {
                improved = 1;
                int small = best - cost <= 1e-12 * best;
                best = cost;
                memcpy(theta, trial, (size_t)nt * sizeof *theta);
                memcpy(coef, c2, (size_t)nc * sizeof *coef);
                lambda = fmax(lambda / 16, 1e-9);
                if (small) it = iters;
            }
        }
        if (!improved) break;
    }
done:
    free(J);
    free(f);
    free(fh);
    return best;
}

int guess_background_degree(const guess_shape *shapes, int n)
{
    int deg = -1;
    for (int i = 0; i < n; i++)
        if (guess_is_background(shapes[i].kind) && shapes[i].degree > deg) deg = shapes[i].degree;
    return deg;
}

void guess_put_background(const guess_shape *shapes, int n, const double *coef, int deg, double *params)
{
    int placed = 0;
    for (int i = 0, at = 0; i < n; at += shapes[i].nparams, i++) {
        if (!guess_is_background(shapes[i].kind)) continue;
        for (int k = 0; k < shapes[i].nparams; k++) params[at + k] = 0;
        if (placed || shapes[i].degree != deg) continue;
        placed = 1;
        if (shapes[i].kind == SHAPE_LINEAR) { /* slope, intercept */
            params[at] = coef[1];
            params[at + 1] = coef[0];
        } else {
            for (int k = 0; k <= deg; k++) params[at + k] = coef[k];
        }
    }
}

nlsq_status guess_background(const guess_shape *shapes, int n, const guess_data *d, double *params, nlsq_error *err)
{
    double coef[8];
    int deg = guess_background_degree(shapes, n);
    if (guess_poly_fit(d->x, d->y, d->m, deg, coef) != 0) {
        error_set(err, NLSQ_ERR_DATA, 0, 0, "a polynomial of degree %d needs %d distinct x values", deg, deg + 1);
        return NLSQ_ERR_DATA;
    }
    guess_put_background(shapes, n, coef, deg, params);
    return NLSQ_OK;
}
