/*
 * src/kernel/covariance.h — the covariance of lm's fits, (R^T R)^-1 =
 * R^-1 R^-T from the n x n upper triangle R11 of R_aug, with R^-1 by back
 * substitution (a fifth of an SVD's work). The host's results
 * (src/fit/result.c) and the CUDA batch kernel take this one copy. Host
 * C, spliced into CUDA (see scalar.h for KFN).
 */
#ifndef NLSQ_KERNEL_COVARIANCE_H
#define NLSQ_KERNEL_COVARIANCE_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#include <stddef.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

/*
 * R: the triangle, column-major with leading dimension ldr (R_aug's n+1).
 * cov: n x n; Ri: n x n workspace. Returns 0, and no covariance, when R11
 * is singular to working precision: a diagonal entry at most
 * EPS max(m_used, n) times the largest (trf's threshold for the singular
 * values, applied to R's diagonal, which bounds the smallest singular
 * value from above). An exact zero would make the answer depend on how
 * the rows were folded: a rank-1 Jacobian leaves 0 in one fold order and
 * 1e-17 in another. Also 0 when the inverse overflows.
 */
KFN int nk_covariance_inverse(const double *R, size_t ldr, int nf, size_t m_used, double *cov, double *Ri)
{
    size_t nc = ldr, n = (size_t)nf;
    double largest = 0;
    for (size_t j = 0; j < n; j++) largest = fmax(largest, fabs(R[j * nc + j]));
    double tiny = 2.220446049250313e-16 * (double)(m_used > n ? m_used : n) * largest;
    for (size_t j = 0; j < n; j++) {
        double d = R[j * nc + j];
        if (!(fabs(d) > tiny)) return 0;
        for (size_t i = 0; i < n; i++) Ri[j * n + i] = 0; /* column j of R^-1 */
        Ri[j * n + j] = 1 / d;
        for (size_t i = j; i-- > 0;) {
            double s = 0;
            for (size_t k = i + 1; k <= j; k++) s += R[k * nc + i] * Ri[j * n + k];
            Ri[j * n + i] = -s / R[i * nc + i];
        }
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            double v = 0;
            for (size_t k = a > b ? a : b; k < n; k++) v += Ri[k * n + a] * Ri[k * n + b];
            cov[a * n + b] = v;
        }
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(cov[i])) return 0;
    return 1;
}

#endif
