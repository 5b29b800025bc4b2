/* The peers of bench/eval.c: see handwritten.h. */
#include <math.h>

#include "handwritten.h"

/* a*exp(-b*x) + c;  p = a, b, c */
void hand_decay(const double *p, const double *x, size_t m, double *f, double *J)
{
    double a = p[0], b = p[1], c = p[2];
    for (size_t i = 0; i < m; i++) {
        double e = exp(-b * x[i]);
        f[i] = a * e + c;
        J[3 * i + 0] = e;
        J[3 * i + 1] = -a * x[i] * e;
        J[3 * i + 2] = 1;
    }
}

/* A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x;  p = A, mu, s, c0, c1 */
void hand_gauss_linear(const double *p, const double *x, size_t m, double *f, double *J)
{
    double A = p[0], mu = p[1], s = p[2], c0 = p[3], c1 = p[4];
    double inv_s2 = 1 / (s * s);
    for (size_t i = 0; i < m; i++) {
        double d = x[i] - mu;
        double g = exp(-0.5 * d * d * inv_s2);
        f[i] = A * g + c0 + c1 * x[i];
        J[5 * i + 0] = g;
        J[5 * i + 1] = A * g * d * inv_s2;
        J[5 * i + 2] = A * g * d * d * inv_s2 / s;
        J[5 * i + 3] = 1;
        J[5 * i + 4] = x[i];
    }
}

/* A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B;  p = A, x0, sx, y0, sy, B */
void hand_gauss2d(const double *p, const double *xy, size_t m, double *f, double *J)
{
    double A = p[0], x0 = p[1], sx = p[2], y0 = p[3], sy = p[4], B = p[5];
    double ix2 = 1 / (sx * sx), iy2 = 1 / (sy * sy);
    const double *x = xy, *y = xy + m;
    for (size_t i = 0; i < m; i++) {
        double dx = x[i] - x0, dy = y[i] - y0;
        double g = exp(-0.5 * (dx * dx * ix2 + dy * dy * iy2));
        double Ag = A * g;
        f[i] = Ag + B;
        double *row = J + 6 * i;
        row[0] = g;
        row[1] = Ag * dx * ix2;
        row[2] = Ag * dx * dx * ix2 / sx;
        row[3] = Ag * dy * iy2;
        row[4] = Ag * dy * dy * iy2 / sy;
        row[5] = 1;
    }
}

/* sum_k a_k*exp(-(x-m_k)^2/(2*s_k^2)) + c;  p = a1 m1 s1 a2 m2 s2 a3 m3 s3 c */
void hand_three_gauss(const double *p, const double *x, size_t m, double *f, double *J)
{
    double inv_s2[3];
    for (int k = 0; k < 3; k++) inv_s2[k] = 1 / (p[3 * k + 2] * p[3 * k + 2]);
    for (size_t i = 0; i < m; i++) {
        double *row = J + 10 * i, sum = p[9];
        for (int k = 0; k < 3; k++) {
            double a = p[3 * k], d = x[i] - p[3 * k + 1];
            double g = exp(-0.5 * d * d * inv_s2[k]);
            sum += a * g;
            row[3 * k] = g;
            row[3 * k + 1] = a * g * d * inv_s2[k];
            row[3 * k + 2] = a * g * d * d * inv_s2[k] / p[3 * k + 2];
        }
        row[9] = 1;
        f[i] = sum;
    }
}
