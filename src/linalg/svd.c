/*
 * One-sided Jacobi SVD (Hestenes 1958; Demmel & Veselic 1992): rotate
 * pairs of columns until all are mutually orthogonal. Slower than
 * bidiagonalisation for large matrices but simple, allocation-free and
 * accurate in the relative sense, which is what the covariance and the
 * trust-region subproblem of small fits need (n is the number of
 * parameters).
 */
#include <math.h>

#include "linalg.h"

static void rotate(double *a, double *b, int m, double c, double s)
{
    for (int i = 0; i < m; i++) {
        double x = a[i], y = b[i];
        a[i] = c * x - s * y;
        b[i] = s * x + c * y;
    }
}

static void swap_columns(double *a, double *b, int m)
{
    for (int i = 0; i < m; i++) {
        double t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

int svd_jacobi(double *A, size_t lda, int m, int n, double *s, double *V)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) V[(size_t)j * n + i] = i == j;
    const double tol = 1e-15;
    int sweep;
    for (sweep = 1; sweep <= 60; sweep++) {
        int rotated = 0;
        for (int p = 0; p < n - 1; p++) {
            for (int q = p + 1; q < n; q++) {
                double *ap = A + (size_t)p * lda, *aq = A + (size_t)q * lda;
                double alpha = nk_dot(ap, ap, m), beta = nk_dot(aq, aq, m), gamma = nk_dot(ap, aq, m);
                if (gamma == 0 || fabs(gamma) <= tol * sqrt(alpha) * sqrt(beta)) continue;
                /* the rotation that zeroes the (p, q) entry of A^T A */
                double zeta = (beta - alpha) / (2 * gamma);
                /* sqrt(1 + z^2) rather than hypot (a third of a small
                   batch fit's time): exact enough, and z^2 cannot
                   overflow below 1e150, where sqrt(1 + z^2) is |z| */
                double az = fabs(zeta), root = az < 1e150 ? sqrt(1 + zeta * zeta) : az;
                double t = copysign(1.0, zeta) / (az + root);
                /* t = 0: no rotation is needed to working precision (a
                   column whose squares underflow, next to a normal one,
                   has a subnormal gamma and zeta = Inf); counting it as a
                   rotation would sweep to the limit and fail */
                if (t == 0) continue;
                rotated = 1;
                double c = 1 / sqrt(1 + t * t), sn = c * t; /* |t| <= 1 */
                rotate(ap, aq, m, c, sn);
                rotate(V + (size_t)p * n, V + (size_t)q * n, n, c, sn);
            }
        }
        if (!rotated) break;
    }
    for (int j = 0; j < n; j++) s[j] = nk_norm(A + (size_t)j * lda, (size_t)m);
    /* selection sort into decreasing order; n is small */
    for (int j = 0; j < n; j++) {
        int best = j;
        for (int k = j + 1; k < n; k++)
            if (s[k] > s[best]) best = k;
        if (best != j) {
            double t = s[j];
            s[j] = s[best];
            s[best] = t;
            swap_columns(A + (size_t)j * lda, A + (size_t)best * lda, m);
            swap_columns(V + (size_t)j * n, V + (size_t)best * n, n);
        }
    }
    return sweep <= 60 ? sweep : -1;
}
