/*
 * One-sided Jacobi SVD (Hestenes 1958; Demmel & Veselic 1992): rotate
 * pairs of columns until all are mutually orthogonal. Accurate relative
 * to each singular value and quick for a few columns, so the covariance
 * of small fits takes it first; but a sweep costs O(m n^2) and nearly
 * parallel columns may take many, or never settle to 1e-15 (a sum of
 * exponentials: issue 17). The solvers take svd_bidiag.c, with this as
 * the fallback (svd_robust).
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

/* Sweeps until no pair of columns is further from orthogonal than tol
   (relative), at most max_sweeps; the number of sweeps, or -1. */
static int jacobi(double *A, size_t lda, int m, int n, double *s, double *V, double tol, int max_sweeps)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) V[(size_t)j * n + i] = i == j;
    int sweep;
    for (sweep = 1; sweep <= max_sweeps; sweep++) {
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
    return sweep <= max_sweeps ? sweep : -1;
}

int svd_jacobi(double *A, size_t lda, int m, int n, double *s, double *V)
{
    return jacobi(A, lda, m, n, s, V, 1e-15, 60);
}

size_t svd_robust_work_doubles(int m, int n)
{
    return (size_t)m * (size_t)n + (size_t)m + svd_work_doubles(m, n);
}

int svd_jacobi_rhs(double *A, int m, int n, double *s, double *V, double *b, double *work)
{
    /* LAPACK's dgesvj tolerance, sqrt(m) eps (the rounding of a dot
       product of m terms), and sweeps to spare: this runs where the QR
       steps stalled */
    const double eps = 2.220446049250313e-16;
    for (size_t i = 0; i < (size_t)m * (size_t)n; i++)
        if (!isfinite(A[i])) return -1; /* NaN would rotate for all 200 sweeps */
    if (jacobi(A, (size_t)m, m, n, s, V, fmax(1e-15, sqrt((double)m) * eps), 200) < 0) return -1;
    if (!b) return 0;
    /* U^T b from A = U S where s_j > 0 (0 elsewhere: any vector will do) */
    for (int j = 0; j < n; j++) work[j] = s[j] > 0 ? nk_dot(A + (size_t)j * m, b, m) / s[j] : 0;
    for (int j = 0; j < n; j++) b[j] = work[j];
    return 0;
}

int svd_robust(double *A, int m, int n, double *s, double *V, double *b, double *work)
{
    if (n <= 0) return 0;
    size_t mn = (size_t)m * (size_t)n;
    double *copy = work, *b_copy = copy + mn, *rest = b_copy + m;
    for (size_t i = 0; i < mn; i++) copy[i] = A[i];
    for (int i = 0; b && i < m; i++) b_copy[i] = b[i];
    if (svd_bidiag(A, (size_t)m, m, n, s, V, b, rest) >= 0) return 0;
    if (svd_jacobi_rhs(copy, m, n, s, V, b ? b_copy : NULL, rest) != 0) return -1;
    for (int j = 0; b && j < n; j++) b[j] = b_copy[j];
    return 0;
}
