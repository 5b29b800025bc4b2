/*
 * src/kernel/minpack.h — the pieces of MINPACK-1's Levenberg-Marquardt
 * (Moré 1978, "The Levenberg-Marquardt algorithm: implementation and
 * theory"): the column-pivoted Householder QR (qrfac), qrsolv and lmpar.
 * and the steps of lmder's iteration around them (the scaled gradient,
 * the trust region's update, the stopping tests). The host's lm
 * (src/solve/lm.c) and the CUDA batch kernel (src/gpu/cuda_batch.cu, one
 * fit a thread) run this one copy. Host C,
 * spliced into CUDA (see scalar.h for KFN); needs dot.h before it.
 * Column-major: element (i, j) of r with leading dimension n is
 * r[j*n + i]. No allocation: every workspace is the caller's.
 */
#ifndef NLSQ_KERNEL_MINPACK_H
#define NLSQ_KERNEL_MINPACK_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#include <stddef.h>

#include "dot.h"
#endif
#ifndef KFN
#define KFN static inline
#endif

/*
 * Householder QR with column pivoting (Businger & Golub 1965), the
 * factorisation MINPACK's lmder works with: A P = Q R, the column of
 * largest remaining norm brought forward at each step, remaining norms
 * downdated and recomputed when cancellation makes the downdate
 * unreliable. A is m x n with leading dimension lda. On return the upper
 * triangle of A holds R (diagonal in rdiag as well), perm[j] is the
 * original column at position j, acnorm the original column norms, and b
 * (length m) is overwritten by Q^T b. work: n doubles. Entries below the
 * diagonal are left undefined.
 */
KFN void nk_qr_pivoted(double *A, size_t lda, int m, int n, int *perm, double *rdiag, double *acnorm, double *b,
                       double *work)
{
    for (int j = 0; j < n; j++) {
        acnorm[j] = nk_norm(A + (size_t)j * lda, (size_t)m);
        rdiag[j] = work[j] = acnorm[j];
        perm[j] = j;
    }
    int steps = m < n ? m : n;
    for (int j = 0; j < steps; j++) {
        int kmax = j;
        for (int k = j + 1; k < n; k++)
            if (rdiag[k] > rdiag[kmax]) kmax = k;
        if (kmax != j) {
            for (int i = 0; i < m; i++) {
                double t = A[(size_t)j * lda + i];
                A[(size_t)j * lda + i] = A[(size_t)kmax * lda + i];
                A[(size_t)kmax * lda + i] = t;
            }
            rdiag[kmax] = rdiag[j];
            work[kmax] = work[j];
            int t = perm[j];
            perm[j] = perm[kmax];
            perm[kmax] = t;
        }
        double *aj = A + (size_t)j * lda;
        double ajnorm = nk_norm(aj + j, (size_t)(m - j));
        if (ajnorm != 0) {
            if (aj[j] < 0) ajnorm = -ajnorm;
            for (int i = j; i < m; i++) aj[i] /= ajnorm;
            aj[j] += 1; /* v = x/||x|| + e1, H = I - v v^T / v[0] */
            for (int k = j + 1; k < n; k++) {
                double *ak = A + (size_t)k * lda, sum = 0;
                for (int i = j; i < m; i++) sum += aj[i] * ak[i];
                double t = sum / aj[j];
                for (int i = j; i < m; i++) ak[i] -= t * aj[i];
                if (rdiag[k] != 0) {
                    double q = ak[j] / rdiag[k];
                    double rest = 1 - q * q; /* fmax(0, rest), without the call to libm */
                    rdiag[k] *= sqrt(rest > 0 ? rest : 0);
                    if (0.05 * (rdiag[k] / work[k]) * (rdiag[k] / work[k]) <= 2.220446049250313e-16) {
                        rdiag[k] = nk_norm(ak + j + 1, (size_t)(m - j - 1));
                        work[k] = rdiag[k];
                    }
                }
            }
            double sum = 0;
            for (int i = j; i < m; i++) sum += aj[i] * b[i];
            double t = sum / aj[j];
            for (int i = j; i < m; i++) b[i] -= t * aj[i];
        }
        rdiag[j] = -ajnorm;
        aj[j] = rdiag[j];
    }
}

#define NK_R(i, j) r[(size_t)(j)*n + (i)]

/*
 * Solve min || [A; D] x - [b; 0] || given A P = Q R (R in the upper
 * triangle of the n x n r) and qtb = Q^T b: Givens rotations eliminate
 * the diagonal D P from [R; D P] (MINPACK's qrsolv). The strict lower
 * triangle of r and sdiag receive the factor S of the rotated system.
 * wa: n doubles.
 */
KFN void nk_qrsolv(int n, double *r, const int *ipvt, const double *diag, const double *qtb, double *x, double *sdiag,
                   double *wa)
{
    for (int j = 0; j < n; j++) {
        for (int i = j; i < n; i++) NK_R(i, j) = NK_R(j, i);
        x[j] = NK_R(j, j);
        wa[j] = qtb[j];
    }
    for (int j = 0; j < n; j++) {
        double dj = diag[ipvt[j]];
        if (dj != 0) {
            for (int k = j; k < n; k++) sdiag[k] = 0;
            sdiag[j] = dj;
            double qtbpj = 0;
            for (int k = j; k < n; k++) {
                if (sdiag[k] == 0) continue;
                double c, s;
                if (fabs(NK_R(k, k)) < fabs(sdiag[k])) {
                    double cot = NK_R(k, k) / sdiag[k];
                    s = 0.5 / sqrt(0.25 + 0.25 * cot * cot);
                    c = s * cot;
                } else {
                    double tn = sdiag[k] / NK_R(k, k);
                    c = 0.5 / sqrt(0.25 + 0.25 * tn * tn);
                    s = c * tn;
                }
                NK_R(k, k) = c * NK_R(k, k) + s * sdiag[k];
                double t = c * wa[k] + s * qtbpj;
                qtbpj = -s * wa[k] + c * qtbpj;
                wa[k] = t;
                for (int i = k + 1; i < n; i++) {
                    double u = c * NK_R(i, k) + s * sdiag[i];
                    sdiag[i] = -s * NK_R(i, k) + c * sdiag[i];
                    NK_R(i, k) = u;
                }
            }
        }
        sdiag[j] = NK_R(j, j);
        NK_R(j, j) = x[j];
    }
    int nsing = n;
    for (int j = 0; j < n; j++) {
        if (sdiag[j] == 0 && nsing == n) nsing = j;
        if (nsing < n) wa[j] = 0;
    }
    for (int j = nsing - 1; j >= 0; j--) {
        double sum = 0;
        for (int i = j + 1; i < nsing; i++) sum += NK_R(i, j) * wa[i];
        wa[j] = (wa[j] - sum) / sdiag[j];
    }
    for (int j = 0; j < n; j++) x[ipvt[j]] = wa[j];
}

/*
 * The Levenberg-Marquardt parameter (MINPACK's lmpar): par >= 0 with
 * ||D x|| within 10% of delta, x solving (A^T A + par D^T D) x = A^T b,
 * or par = 0 when the Gauss-Newton step is inside; Newton's method on the
 * secular equation with safeguarding bounds, at most 10 iterations.
 * r, ipvt, qtb as from nk_qr_pivoted; on return x is the step (to be
 * negated by the caller, as in lmder) and sdiag, r's lower triangle as
 * nk_qrsolv leaves them. wa1, wa2, wa3: n doubles each.
 */
KFN double nk_lmpar(int n, double *r, const int *ipvt, const double *diag, const double *qtb, double delta, double par,
                    double *x, double *sdiag, double *wa1, double *wa2, double *wa3)
{
    const double dbl_min = 2.2250738585072014e-308;
    int nsing = n;
    for (int j = 0; j < n; j++) {
        wa1[j] = qtb[j];
        if (NK_R(j, j) == 0 && nsing == n) nsing = j;
        if (nsing < n) wa1[j] = 0;
    }
    for (int k = nsing - 1; k >= 0; k--) {
        wa1[k] /= NK_R(k, k);
        for (int i = 0; i < k; i++) wa1[i] -= NK_R(i, k) * wa1[k];
    }
    for (int j = 0; j < n; j++) x[ipvt[j]] = wa1[j];
    for (int j = 0; j < n; j++) wa2[j] = diag[j] * x[j];
    double dxnorm = nk_norm(wa2, (size_t)n), fp = dxnorm - delta;
    if (fp <= 0.1 * delta) return 0;

    double parl = 0;
    if (nsing >= n) {
        for (int j = 0; j < n; j++) wa1[j] = diag[ipvt[j]] * (wa2[ipvt[j]] / dxnorm);
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int i = 0; i < j; i++) sum += NK_R(i, j) * wa1[i];
            wa1[j] = (wa1[j] - sum) / NK_R(j, j);
        }
        double t = nk_norm(wa1, (size_t)n);
        parl = ((fp / delta) / t) / t;
    }
    for (int j = 0; j < n; j++) {
        double sum = 0;
        for (int i = 0; i <= j; i++) sum += NK_R(i, j) * qtb[i];
        wa1[j] = sum / diag[ipvt[j]];
    }
    double gnorm = nk_norm(wa1, (size_t)n), paru = gnorm / delta;
    if (paru == 0) paru = dbl_min / fmin(delta, 0.1);
    par = fmin(fmax(par, parl), paru);
    if (par == 0) par = gnorm / dxnorm;
    for (int iter = 1;; iter++) {
        if (par == 0) par = fmax(dbl_min, 0.001 * paru);
        double sp = sqrt(par);
        for (int j = 0; j < n; j++) wa1[j] = sp * diag[j];
        nk_qrsolv(n, r, ipvt, wa1, qtb, x, sdiag, wa3);
        for (int j = 0; j < n; j++) wa2[j] = diag[j] * x[j];
        dxnorm = nk_norm(wa2, (size_t)n);
        double previous = fp;
        fp = dxnorm - delta;
        if (fabs(fp) <= 0.1 * delta || (parl == 0 && fp <= previous && previous < 0) || iter == 10) break;
        for (int j = 0; j < n; j++) wa1[j] = diag[ipvt[j]] * (wa2[ipvt[j]] / dxnorm);
        for (int j = 0; j < n; j++) {
            wa1[j] /= sdiag[j];
            for (int i = j + 1; i < n; i++) wa1[i] -= NK_R(i, j) * wa1[j];
        }
        double t = nk_norm(wa1, (size_t)n), parc = ((fp / delta) / t) / t;
        if (fp > 0) parl = fmax(parl, par);
        if (fp < 0) paru = fmin(paru, par);
        par = fmax(parl, par + parc);
    }
    return par;
}

/* lmder's scaled gradient: max_j |(R2 P^T)^T Q^T f|_j / (||f|| ||J_l||)
   over the columns with a nonzero norm; 0 when f = 0. */
KFN double nk_lm_gnorm(int n, const double *r, const int *ipvt, const double *acnorm, const double *qtf, double fnorm)
{
    double gnorm = 0;
    if (fnorm != 0)
        for (int j = 0; j < n; j++) {
            int l = ipvt[j];
            if (acnorm[l] == 0) continue;
            double sum = 0;
            for (int i = 0; i <= j; i++) sum += NK_R(i, j) * (qtf[i] / fnorm);
            gnorm = fmax(gnorm, fabs(sum / acnorm[l]));
        }
    return gnorm;
}

/*
 * After the step p (pnorm = ||D p||, jpnorm = ||J p||) was evaluated
 * (fnorm1 = ||f(x + p)||, +Inf when not finite): the actual and predicted
 * reductions, their ratio (returned), and lmder's update of the trust
 * radius delta and of par.
 */
KFN double nk_lm_update_jp(double jpnorm, double pnorm, double fnorm, double fnorm1, double *par, double *delta,
                           double *actred, double *prered)
{
    *actred = 0.1 * fnorm1 < fnorm ? 1 - (fnorm1 / fnorm) * (fnorm1 / fnorm) : -1;
    double t1 = jpnorm / fnorm, t2 = sqrt(*par) * pnorm / fnorm;
    double dirder = -(t1 * t1 + t2 * t2);
    *prered = t1 * t1 + t2 * t2 / 0.5;
    double ratio = *prered != 0 ? *actred / *prered : 0;
    if (ratio <= 0.25) {
        double t = *actred >= 0 ? 0.5 : 0.5 * dirder / (dirder + 0.5 * *actred);
        if (0.1 * fnorm1 >= fnorm || t < 0.1) t = 0.1;
        *delta = t * fmin(*delta, pnorm / 0.1);
        *par /= t;
    } else if (*par == 0 || ratio >= 0.75) {
        *delta = pnorm / 0.5;
        *par *= 0.5;
    }
    return ratio;
}

/* nk_lm_update_jp with ||J p|| = ||R2 P^T p|| from the pivoted factor;
   wa: n doubles. */
KFN double nk_lm_update(int n, const double *r, const int *ipvt, const double *p, double pnorm, double fnorm,
                        double fnorm1, double *par, double *delta, double *actred, double *prered, double *wa)
{
    for (int j = 0; j < n; j++) { /* R2 P^T p */
        wa[j] = 0;
        double t = p[ipvt[j]];
        for (int i = 0; i <= j; i++) wa[i] += NK_R(i, j) * t;
    }
    return nk_lm_update_jp(nk_norm(wa, (size_t)n), pnorm, fnorm, fnorm1, par, delta, actred, prered);
}

/* lmder's stopping tests after a step: its info (1 to 8), or 0 to go on. */
KFN int nk_lm_test(double actred, double prered, double ratio, double delta, double xnorm, double gnorm, double ftol,
                   double xtol, int nfev, int max_nfev)
{
    const double eps = 2.220446049250313e-16;
    int info = 0, ftol_ok = fabs(actred) <= ftol && prered <= ftol && 0.5 * ratio <= 1;
    if (ftol_ok) info = 1;
    if (delta <= xtol * xnorm) info = ftol_ok ? 3 : 2;
    if (info) return info;
    if (nfev >= max_nfev) info = 5;
    if (fabs(actred) <= eps && prered <= eps && 0.5 * ratio <= 1) info = 6;
    if (delta <= eps * xnorm) info = 7;
    if (gnorm <= eps) info = 8;
    return info;
}

/* lmder's info as least_squares' status: 1 -> 2 (ftol), 2 -> 3 (xtol),
   3 -> 4, 4 -> 1 (gtol), 5 -> 0 (max_nfev); 6-8 (ftol, xtol or gtol too
   small: no further reduction possible) -> 5, NLSQ_FIT_NO_REDUCTION, as
   trf and dogbox report the same floor (SciPy refuses tolerances below
   EPS for lm and so never sees them); -1 for anything else. */
KFN int nk_lm_status(int info)
{
    switch (info) {
    case 1: return 2;
    case 2: return 3;
    case 3: return 4;
    case 4: return 1;
    case 5: return 0;
    case 6:
    case 7:
    case 8: return 5;
    default: return -1;
    }
}

#undef NK_R

#endif
