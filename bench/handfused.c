/*
 * The hand-written peers of a compiled pass: for each reference model, one
 * fused loop as a careful C programmer would write it for speed. Per block
 * of 256 points: the exponentials through glibc's vector exp (4 at a
 * time), model and Jacobian by hand-derived formulas into the columns of
 * [J | r], the sum of squares, and the same Householder fold into the
 * running triangle as nlsq's (LAPACK's reflector, four partial sums in
 * the dot products). Built with -O3 -march=native (and so with FMA
 * contraction, which nlsq's kernels do without to match the interpreter).
 */
#include <math.h>
#include <string.h>

#include "handfused.h"

#define B 256

#if defined(__AVX2__)
#include <immintrin.h>
__m256d _ZGVdN4v_exp(__m256d);
static void block_exp(const double *t, double *e, size_t len)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4) _mm256_storeu_pd(e + i, _ZGVdN4v_exp(_mm256_loadu_pd(t + i)));
    for (; i < len; i++) e[i] = exp(t[i]);
}
#else
static void block_exp(const double *t, double *e, size_t len)
{
    for (size_t i = 0; i < len; i++) e[i] = exp(t[i]);
}
#endif

static inline double dot4(const double *a, const double *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Householder fold of `rows` rows (columns B apart) into the nc x nc R. */
static void fold(double *R, int nc, double *A, size_t rows)
{
    for (int k = 0; k < nc; k++) {
        double *ak = A + (size_t)k * B;
        double xnorm = sqrt(dot4(ak, ak, rows));
        if (xnorm == 0) continue;
        double alpha = R[k * nc + k];
        double beta = -copysign(hypot(alpha, xnorm), alpha);
        double tau = (beta - alpha) / beta, scal = 1 / (alpha - beta);
        for (size_t i = 0; i < rows; i++) ak[i] *= scal;
        R[k * nc + k] = beta;
        for (int j = k + 1; j < nc; j++) {
            double *aj = A + (size_t)j * B;
            double dot = (R[j * nc + k] + dot4(ak, aj, rows)) * tau;
            R[j * nc + k] -= dot;
            for (size_t i = 0; i < rows; i++) aj[i] -= dot * ak[i];
        }
    }
}

/* a*exp(-b*x) + c */
double hand_pass_decay(const double *p, const double *x, const double *y, size_t m, double *R)
{
    enum { NC = 4 };
    double A[NC * B], t[B], e[B], chi2 = 0;
    double a = p[0], b = p[1], c = p[2];
    memset(R, 0, sizeof(double) * NC * NC);
    for (size_t s = 0; s < m; s += B) {
        size_t len = m - s < B ? m - s : B;
        const double *xs = x + s, *ys = y + s;
        for (size_t i = 0; i < len; i++) t[i] = -b * xs[i];
        block_exp(t, e, len);
        for (size_t i = 0; i < len; i++) {
            double r = a * e[i] + c - ys[i];
            A[i] = e[i];
            A[B + i] = -a * xs[i] * e[i];
            A[2 * B + i] = 1;
            A[3 * B + i] = r;
            chi2 += r * r;
        }
        fold(R, NC, A, len);
    }
    return 0.5 * chi2;
}

/* A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x */
double hand_pass_gauss_linear(const double *p, const double *x, const double *y, size_t m, double *R)
{
    enum { NC = 6 };
    double A[NC * B], t[B], g[B], chi2 = 0;
    double Am = p[0], mu = p[1], s = p[2], c0 = p[3], c1 = p[4], inv_s2 = 1 / (s * s);
    memset(R, 0, sizeof(double) * NC * NC);
    for (size_t st = 0; st < m; st += B) {
        size_t len = m - st < B ? m - st : B;
        const double *xs = x + st, *ys = y + st;
        for (size_t i = 0; i < len; i++) {
            double d = xs[i] - mu;
            t[i] = -0.5 * d * d * inv_s2;
        }
        block_exp(t, g, len);
        for (size_t i = 0; i < len; i++) {
            double d = xs[i] - mu, Ag = Am * g[i];
            double r = Ag + c0 + c1 * xs[i] - ys[i];
            A[i] = g[i];
            A[B + i] = Ag * d * inv_s2;
            A[2 * B + i] = Ag * d * d * inv_s2 / s;
            A[3 * B + i] = 1;
            A[4 * B + i] = xs[i];
            A[5 * B + i] = r;
            chi2 += r * r;
        }
        fold(R, NC, A, len);
    }
    return 0.5 * chi2;
}

/* A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B; xy = x then y */
double hand_pass_gauss2d(const double *p, const double *xy, const double *z, size_t m, double *R)
{
    enum { NC = 7 };
    double A[NC * B], t[B], g[B], chi2 = 0;
    double Am = p[0], x0 = p[1], sx = p[2], y0 = p[3], sy = p[4], Bg = p[5];
    double ix2 = 1 / (sx * sx), iy2 = 1 / (sy * sy);
    memset(R, 0, sizeof(double) * NC * NC);
    for (size_t st = 0; st < m; st += B) {
        size_t len = m - st < B ? m - st : B;
        const double *xs = xy + st, *ys = xy + m + st, *zs = z + st;
        for (size_t i = 0; i < len; i++) {
            double dx = xs[i] - x0, dy = ys[i] - y0;
            t[i] = -0.5 * (dx * dx * ix2 + dy * dy * iy2);
        }
        block_exp(t, g, len);
        for (size_t i = 0; i < len; i++) {
            double dx = xs[i] - x0, dy = ys[i] - y0, Ag = Am * g[i];
            double r = Ag + Bg - zs[i];
            A[i] = g[i];
            A[B + i] = Ag * dx * ix2;
            A[2 * B + i] = Ag * dx * dx * ix2 / sx;
            A[3 * B + i] = Ag * dy * iy2;
            A[4 * B + i] = Ag * dy * dy * iy2 / sy;
            A[5 * B + i] = 1;
            A[6 * B + i] = r;
            chi2 += r * r;
        }
        fold(R, NC, A, len);
    }
    return 0.5 * chi2;
}

/* sum_k a_k*exp(-(x-m_k)^2/(2*s_k^2)) + c */
double hand_pass_three_gauss(const double *p, const double *x, const double *y, size_t m, double *R)
{
    enum { NC = 11 };
    double A[NC * B], t[3][B], g[3][B], chi2 = 0, inv_s2[3];
    for (int k = 0; k < 3; k++) inv_s2[k] = 1 / (p[3 * k + 2] * p[3 * k + 2]);
    memset(R, 0, sizeof(double) * NC * NC);
    for (size_t st = 0; st < m; st += B) {
        size_t len = m - st < B ? m - st : B;
        const double *xs = x + st, *ys = y + st;
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0; i < len; i++) {
                double d = xs[i] - p[3 * k + 1];
                t[k][i] = -0.5 * d * d * inv_s2[k];
            }
            block_exp(t[k], g[k], len);
        }
        for (size_t i = 0; i < len; i++) {
            double sum = p[9];
            for (int k = 0; k < 3; k++) {
                double a = p[3 * k], d = xs[i] - p[3 * k + 1], ag = a * g[k][i];
                sum += ag;
                A[(3 * k) * B + i] = g[k][i];
                A[(3 * k + 1) * B + i] = ag * d * inv_s2[k];
                A[(3 * k + 2) * B + i] = ag * d * d * inv_s2[k] / p[3 * k + 2];
            }
            A[9 * B + i] = 1;
            double r = sum - ys[i];
            A[10 * B + i] = r;
            chi2 += r * r;
        }
        fold(R, NC, A, len);
    }
    return 0.5 * chi2;
}
