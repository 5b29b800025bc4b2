/*
 * Symmetric eigen decomposition by the cyclic Jacobi method (Jacobi 1846;
 * Rutishauser's form, Golub & Van Loan, Matrix Computations, 8.5): rotate
 * each off-diagonal pair (p, q) to zero in turn until a sweep finds none
 * worth rotating. O(n^3) a sweep and a handful of sweeps (quadratic
 * convergence), so meant for the small matrices of a search (CMA-ES's
 * covariance), where its accuracy relative to each eigenvalue of a
 * positive definite matrix (Demmel & Veselic 1992) keeps the small axes of
 * an ill-conditioned covariance right.
 */
#include <float.h>
#include <math.h>

#include "linalg.h"

/* Rows and columns p and q of the symmetric A (ld n) and columns p, q of V
   by the rotation [c s; -s c] that zeroes A(p, q). */
static void rotate_pair(double *A, double *V, int n, int p, int q, double c, double s, double t)
{
    double *ap = A + (size_t)p * n, *aq = A + (size_t)q * n;
    double apq = aq[p];
    /* the diagonal from t = tan(theta) directly: exact to rounding, and
       the pair's own entry set to zero rather than computed */
    ap[p] -= t * apq;
    aq[q] += t * apq;
    aq[p] = ap[q] = 0;
    for (int k = 0; k < n; k++) {
        if (k == p || k == q) continue;
        double g = ap[k], h = aq[k];
        double gp = c * g - s * h, hq = s * g + c * h;
        ap[k] = gp; /* column p, row k */
        aq[k] = hq;
        A[(size_t)k * n + p] = gp; /* row p, column k: keeps A symmetric */
        A[(size_t)k * n + q] = hq;
    }
    double *vp = V + (size_t)p * n, *vq = V + (size_t)q * n;
    for (int k = 0; k < n; k++) {
        double g = vp[k], h = vq[k];
        vp[k] = c * g - s * h;
        vq[k] = s * g + c * h;
    }
}

/* Ascending order of w, with the columns of V moving along (n is small:
   selection sort, one swap per place). */
static void sort_ascending(double *w, double *V, int n)
{
    for (int i = 0; i < n - 1; i++) {
        int k = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] < w[k]) k = j;
        if (k == i) continue;
        double t = w[i];
        w[i] = w[k];
        w[k] = t;
        for (int r = 0; r < n; r++) {
            t = V[(size_t)i * n + r];
            V[(size_t)i * n + r] = V[(size_t)k * n + r];
            V[(size_t)k * n + r] = t;
        }
    }
}

int sym_eigen_jacobi(double *A, int n, double *w, double *V)
{
    double amax = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        if (!isfinite(A[i])) return -1;
        if (fabs(A[i]) > amax) amax = fabs(A[i]);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) V[(size_t)j * n + i] = i == j;
    /* An entry is negligible next to its diagonal pair (relative accuracy
       for definite matrices), or next to the whole matrix (where the
       diagonal pair is zero or of mixed sign, an indefinite matrix). */
    const double eps = DBL_EPSILON, floor_abs = eps * eps * amax;
    int sweep;
    for (sweep = 0; sweep < 60; sweep++) {
        int rotated = 0;
        for (int p = 0; p < n - 1; p++) {
            for (int q = p + 1; q < n; q++) {
                double apq = A[(size_t)q * n + p], app = A[(size_t)p * n + p], aqq = A[(size_t)q * n + q];
                if (fabs(apq) <= floor_abs || fabs(apq) <= eps * sqrt(fabs(app)) * sqrt(fabs(aqq))) continue;
                /* t = tan(theta), the smaller root of t^2 + 2 zeta t - 1 = 0
                   (|theta| <= pi/4: the rotation that moves A least) */
                double zeta = (aqq - app) / (2 * apq), az = fabs(zeta);
                double root = az < 1e150 ? sqrt(1 + zeta * zeta) : az;
                double t = (zeta >= 0 ? 1.0 : -1.0) / (az + root);
                if (t == 0) continue; /* below working precision */
                double c = 1 / sqrt(1 + t * t);
                rotate_pair(A, V, n, p, q, c, t * c, t);
                rotated = 1;
            }
        }
        if (!rotated) break;
    }
    if (sweep == 60) return -1;
    for (int i = 0; i < n; i++) w[i] = A[(size_t)i * n + i];
    sort_ascending(w, V, n);
    return sweep;
}
