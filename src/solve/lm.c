/*
 * Levenberg-Marquardt in MINPACK's scaled trust-region form (Moré 1978,
 * "The Levenberg-Marquardt algorithm: implementation and theory"; the
 * lmder, lmpar and qrsolv routines of MINPACK-1), written from R_aug:
 * MINPACK factors J P = Q R with column pivoting; here R11 P = Q2 R2 is
 * factored instead (J = Q1 R11, so J P = (Q1 Q2) R2), and Q^T f is
 * Q2^T qtf. Everything the algorithm reads — R2, the permutation, Q^T f,
 * the column norms of J, ||f|| — is the same.
 *
 * Status mapping to least_squares: MINPACK info 1 -> 2 (ftol), 2 -> 3
 * (xtol), 3 -> 4, 4 -> 1 (gtol), 5 -> 0 (max_nfev); 6-8 (tolerances too
 * small) -> 2, 3, 1 as SciPy's least_squares reports them.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "solve.h"

typedef struct lm {
    int n;
    double *r;       /* n x n: R2 in the upper triangle, work below        */
    int *ipvt;
    double *rdiag, *acnorm, *qtf, *diag, *wa1, *wa2, *wa3, *wa4, *sdiag, *xnew, *Rnew;
    void *owned;     /* the arrays' block, when allocated here            */
} lm;

#define R_(i, j) r[(size_t)(j) * n + (i)]

/*
 * Solve min || [A; D] x - [b; 0] || given A P = Q R (R in the upper
 * triangle of r) and qtb = Q^T b: Givens rotations eliminate the diagonal
 * D P from [R; D P] (MINPACK's qrsolv). The strict lower triangle of r and
 * sdiag receive the factor S of the rotated system.
 */
static void qrsolv(int n, double *r, const int *ipvt, const double *diag, const double *qtb, double *x,
                   double *sdiag, double *wa)
{
    for (int j = 0; j < n; j++) {
        for (int i = j; i < n; i++) R_(i, j) = R_(j, i);
        x[j] = R_(j, j);
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
                if (fabs(R_(k, k)) < fabs(sdiag[k])) {
                    double cot = R_(k, k) / sdiag[k];
                    s = 0.5 / sqrt(0.25 + 0.25 * cot * cot);
                    c = s * cot;
                } else {
                    double tn = sdiag[k] / R_(k, k);
                    c = 0.5 / sqrt(0.25 + 0.25 * tn * tn);
                    s = c * tn;
                }
                R_(k, k) = c * R_(k, k) + s * sdiag[k];
                double t = c * wa[k] + s * qtbpj;
                qtbpj = -s * wa[k] + c * qtbpj;
                wa[k] = t;
                for (int i = k + 1; i < n; i++) {
                    double u = c * R_(i, k) + s * sdiag[i];
                    sdiag[i] = -s * R_(i, k) + c * sdiag[i];
                    R_(i, k) = u;
                }
            }
        }
        sdiag[j] = R_(j, j);
        R_(j, j) = x[j];
    }
    int nsing = n;
    for (int j = 0; j < n; j++) {
        if (sdiag[j] == 0 && nsing == n) nsing = j;
        if (nsing < n) wa[j] = 0;
    }
    for (int j = nsing - 1; j >= 0; j--) {
        double sum = 0;
        for (int i = j + 1; i < nsing; i++) sum += R_(i, j) * wa[i];
        wa[j] = (wa[j] - sum) / sdiag[j];
    }
    for (int j = 0; j < n; j++) x[ipvt[j]] = wa[j];
}

/*
 * The Levenberg-Marquardt parameter (MINPACK's lmpar): par >= 0 with
 * ||D x|| within 10% of delta, x solving (A^T A + par D^T D) x = A^T b,
 * or par = 0 when the Gauss-Newton step is inside; Newton's method on the
 * secular equation with safeguarding bounds, at most 10 iterations.
 * On return x is the step (to be negated by the caller, as in lmder).
 */
static double lmpar(lm *w, double delta, double par, double *x)
{
    int n = w->n;
    double *r = w->r, *wa1 = w->wa4, *wa2 = w->wa2; /* x is the caller's wa1 */
    const double *diag = w->diag, *qtb = w->qtf;
    const int *ipvt = w->ipvt;
    int nsing = n;
    for (int j = 0; j < n; j++) {
        wa1[j] = qtb[j];
        if (R_(j, j) == 0 && nsing == n) nsing = j;
        if (nsing < n) wa1[j] = 0;
    }
    for (int k = nsing - 1; k >= 0; k--) {
        wa1[k] /= R_(k, k);
        for (int i = 0; i < k; i++) wa1[i] -= R_(i, k) * wa1[k];
    }
    for (int j = 0; j < n; j++) x[ipvt[j]] = wa1[j];
    for (int j = 0; j < n; j++) wa2[j] = diag[j] * x[j];
    double dxnorm = vec_norm(wa2, (size_t)n, 1), fp = dxnorm - delta;
    if (fp <= 0.1 * delta) return 0;

    double parl = 0;
    if (nsing >= n) {
        for (int j = 0; j < n; j++) wa1[j] = diag[ipvt[j]] * (wa2[ipvt[j]] / dxnorm);
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int i = 0; i < j; i++) sum += R_(i, j) * wa1[i];
            wa1[j] = (wa1[j] - sum) / R_(j, j);
        }
        double t = vec_norm(wa1, (size_t)n, 1);
        parl = ((fp / delta) / t) / t;
    }
    for (int j = 0; j < n; j++) {
        double sum = 0;
        for (int i = 0; i <= j; i++) sum += R_(i, j) * qtb[i];
        wa1[j] = sum / diag[ipvt[j]];
    }
    double gnorm = vec_norm(wa1, (size_t)n, 1), paru = gnorm / delta;
    if (paru == 0) paru = DBL_MIN / fmin(delta, 0.1);
    par = fmin(fmax(par, parl), paru);
    if (par == 0) par = gnorm / dxnorm;
    for (int iter = 1;; iter++) {
        if (par == 0) par = fmax(DBL_MIN, 0.001 * paru);
        double sp = sqrt(par);
        for (int j = 0; j < n; j++) wa1[j] = sp * diag[j];
        qrsolv(n, r, ipvt, wa1, qtb, x, w->sdiag, w->wa3);
        for (int j = 0; j < n; j++) wa2[j] = diag[j] * x[j];
        dxnorm = vec_norm(wa2, (size_t)n, 1);
        double previous = fp;
        fp = dxnorm - delta;
        if (fabs(fp) <= 0.1 * delta || (parl == 0 && fp <= previous && previous < 0) || iter == 10) break;
        for (int j = 0; j < n; j++) wa1[j] = diag[ipvt[j]] * (wa2[ipvt[j]] / dxnorm);
        for (int j = 0; j < n; j++) {
            wa1[j] /= w->sdiag[j];
            for (int i = j + 1; i < n; i++) wa1[i] -= R_(i, j) * wa1[j];
        }
        double t = vec_norm(wa1, (size_t)n, 1), parc = ((fp / delta) / t) / t;
        if (fp > 0) parl = fmax(parl, par);
        if (fp < 0) paru = fmin(paru, par);
        par = fmax(parl, par + parc);
    }
    return par;
}

/* Pivoted QR of R11 into w->r, Q^T f into w->qtf, column norms of J. */
static void factor(lm *w, const double *R)
{
    int n = w->n;
    size_t nc = (size_t)n + 1;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) w->r[(size_t)j * n + i] = i <= j ? R[(size_t)j * nc + i] : 0;
    for (int i = 0; i < n; i++) w->qtf[i] = R[(size_t)n * nc + i];
    qr_pivoted(w->r, (size_t)n, n, n, w->ipvt, w->rdiag, w->acnorm, w->qtf, w->wa1);
}

static size_t lm_work_doubles(int n)
{
    size_t nn = (size_t)n, nc = nn + 1;
    return nn * nn + 11 * nn + nc * nc; /* the last n: ipvt, as ints */
}

static int alloc_lm(lm *w, int n, const solve_options *opt)
{
    size_t nn = (size_t)n;
    double *mem = solve_work_take(opt, lm_work_doubles(n) * sizeof(double), &w->owned);
    if (!mem) return -1;
    w->ipvt = (int *)(mem + lm_work_doubles(n) - nn);
    w->n = n;
    w->r = mem;
    double **v[] = {&w->rdiag, &w->acnorm, &w->qtf, &w->diag, &w->wa1, &w->wa2, &w->wa3, &w->wa4, &w->sdiag, &w->xnew};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + nn * nn + i * nn;
    w->Rnew = mem + nn * nn + 10 * nn;
    return 0;
}

static int least_squares_status(int info)
{
    static const int map[] = {-1, 2, 3, 4, 1, 0, 2, 3, 1};
    return info >= 0 && info <= 8 ? map[info] : -1;
}

int solve_lm(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    int n = pb->n;
    size_t nc = (size_t)n + 1;
    lm w;
    memset(&w, 0, sizeof w);
    if (alloc_lm(&w, n, opt) != 0) return -1;
    memset(res, 0, sizeof *res);
    double cost;
    if (pb->evaluate(pb->ctx, x, &cost, R) != 0) {
        res->start_nonfinite = 1;
        res->status = -1;
        free(w.owned);
        return 0;
    }
    const double factor_init = 100, eps = DBL_EPSILON;
    int nfev = 1, njev = 0, iter = 1, info = 0, max_nfev = opt->max_nfev > 0 ? opt->max_nfev : 100 * (n + 1);
    double fnorm = sqrt(2 * cost), delta = 0, xnorm = 0, par = 0, gnorm = 0, step_norm = 0;
    for (;;) {
        njev++;
        factor(&w, R);
        if (iter == 1) {
            for (int j = 0; j < n; j++) {
                w.diag[j] = opt->x_scale ? 1 / opt->x_scale[j] : (w.acnorm[j] == 0 ? 1 : w.acnorm[j]);
                w.wa3[j] = w.diag[j] * x[j];
            }
            xnorm = vec_norm(w.wa3, (size_t)n, 1);
            delta = factor_init * xnorm;
            if (delta == 0) delta = factor_init;
        }
        gnorm = 0;
        if (fnorm != 0)
            for (int j = 0; j < n; j++) {
                int l = w.ipvt[j];
                if (w.acnorm[l] == 0) continue;
                double sum = 0;
                for (int i = 0; i <= j; i++) sum += w.r[(size_t)j * n + i] * (w.qtf[i] / fnorm);
                gnorm = fmax(gnorm, fabs(sum / w.acnorm[l]));
            }
        if (gnorm <= opt->gtol) info = 4;
        if (info) break;
        if (!opt->x_scale)
            for (int j = 0; j < n; j++) w.diag[j] = fmax(w.diag[j], w.acnorm[j]);
        double ratio = 0;
        do {
            par = lmpar(&w, delta, par, w.wa1);
            for (int j = 0; j < n; j++) {
                w.wa1[j] = -w.wa1[j];
                w.xnew[j] = x[j] + w.wa1[j];
                w.wa3[j] = w.diag[j] * w.wa1[j];
            }
            double pnorm = vec_norm(w.wa3, (size_t)n, 1);
            if (iter == 1) delta = fmin(delta, pnorm);
            double cost_new;
            int bad = pb->evaluate(pb->ctx, w.xnew, &cost_new, w.Rnew);
            nfev++;
            double fnorm1 = bad ? INFINITY : sqrt(2 * cost_new);
            double actred = 0.1 * fnorm1 < fnorm ? 1 - (fnorm1 / fnorm) * (fnorm1 / fnorm) : -1;
            for (int j = 0; j < n; j++) { /* R2 P^T p */
                w.wa3[j] = 0;
                double t = w.wa1[w.ipvt[j]];
                for (int i = 0; i <= j; i++) w.wa3[i] += w.r[(size_t)j * n + i] * t;
            }
            double t1 = vec_norm(w.wa3, (size_t)n, 1) / fnorm, t2 = sqrt(par) * pnorm / fnorm;
            double prered = t1 * t1 + t2 * t2 / 0.5, dirder = -(t1 * t1 + t2 * t2);
            ratio = prered != 0 ? actred / prered : 0;
            if (ratio <= 0.25) {
                double t = actred >= 0 ? 0.5 : 0.5 * dirder / (dirder + 0.5 * actred);
                if (0.1 * fnorm1 >= fnorm || t < 0.1) t = 0.1;
                delta = t * fmin(delta, pnorm / 0.1);
                par /= t;
            } else if (par == 0 || ratio >= 0.75) {
                delta = pnorm / 0.5;
                par *= 0.5;
            }
            if (ratio >= 1e-4) {
                memcpy(x, w.xnew, (size_t)n * sizeof *x);
                memcpy(R, w.Rnew, nc * nc * sizeof *R);
                for (int j = 0; j < n; j++) w.wa2[j] = w.diag[j] * x[j];
                xnorm = vec_norm(w.wa2, (size_t)n, 1);
                fnorm = fnorm1;
                cost = cost_new;
                step_norm = vec_norm(w.wa1, (size_t)n, 1);
                iter++;
                if (solve_callback_stops(opt, iter - 1, cost, x, gnorm, step_norm)) {
                    info = -2;
                    break;
                }
            }
            int ftol_ok = fabs(actred) <= opt->ftol && prered <= opt->ftol && 0.5 * ratio <= 1;
            if (ftol_ok) info = 1;
            if (delta <= opt->xtol * xnorm) info = ftol_ok ? 3 : 2;
            if (info) break;
            if (nfev >= max_nfev) info = 5;
            if (fabs(actred) <= eps && prered <= eps && 0.5 * ratio <= 1) info = 6;
            if (delta <= eps * xnorm) info = 7;
            if (gnorm <= eps) info = 8;
            if (info) break;
        } while (ratio < 1e-4);
        if (info) break;
    }
    res->cost = cost;
    res->grad_norm = gnorm;
    res->status = info == -2 ? -2 : least_squares_status(info);
    res->nfev = nfev;
    res->njev = njev;
    res->nit = iter - 1;
    free(w.owned);
    return 0;
}
