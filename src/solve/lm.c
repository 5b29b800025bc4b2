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
 * small, no further reduction possible) -> 5 (NLSQ_FIT_NO_REDUCTION), the
 * floor trf and dogbox report too.
 *
 * The pivoted QR, qrsolv and lmpar are src/kernel/minpack.h, which the
 * CUDA batch kernel runs too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "solve.h"

typedef struct lm {
    int n;
    double *r; /* n x n: R2 in the upper triangle, work below        */
    int *ipvt;
    double *rdiag, *acnorm, *qtf, *diag, *wa1, *wa2, *wa3, *wa4, *sdiag, *xnew, *xlast, *Rnew, *Rlast;
    void *owned; /* the arrays' block, when allocated here            */
} lm;

/* Pivoted QR of R11 into w->r, Q^T f into w->qtf, column norms of J. */
static void factor(lm *w, const double *R)
{
    int n = w->n;
    size_t nc = (size_t)n + 1;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) w->r[(size_t)j * n + i] = i <= j ? R[(size_t)j * nc + i] : 0;
    for (int i = 0; i < n; i++) w->qtf[i] = R[(size_t)n * nc + i];
    nk_qr_pivoted(w->r, (size_t)n, n, n, w->ipvt, w->rdiag, w->acnorm, w->qtf, w->wa1);
}

static size_t lm_work_doubles(int n)
{
    size_t nn = (size_t)n, nc = nn + 1;
    return nn * nn + 12 * nn + 2 * nc * nc; /* the last n: ipvt, as ints */
}

static int alloc_lm(lm *w, int n, const solve_options *opt)
{
    size_t nn = (size_t)n;
    double *mem = solve_work_take(opt, lm_work_doubles(n) * sizeof(double), &w->owned);
    if (!mem) return -1;
    w->ipvt = (int *)(mem + lm_work_doubles(n) - nn);
    w->n = n;
    w->r = mem;
    double **v[] = {&w->rdiag, &w->acnorm, &w->qtf,   &w->diag, &w->wa1,  &w->wa2,
                    &w->wa3,   &w->wa4,    &w->sdiag, &w->xnew, &w->xlast};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + nn * nn + i * nn;
    w->Rnew = mem + nn * nn + 11 * nn;
    w->Rlast = w->Rnew + (nn + 1) * (nn + 1);
    return 0;
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
    const double factor_init = 100;
    int nfev = 1, njev = 0, iter = 1, info = 0;
    int lazy = pb->complete != NULL, jac_calls = lazy ? pb->complete_calls : 0, r_at_x = !lazy;
    int last_is_base = 1; /* R is where J was last taken (no step accepted since) */
    solve_budget budget;
    solve_budget_init(&budget, opt->max_nfev, 100 * (n + 1) * (1 + jac_calls), cost);
    double fnorm = sqrt(2 * cost), delta = 0, xnorm = 0, par = 0, gnorm = 0, step_norm = 0;
    for (;;) {
        if (lazy) {
            if (pb->complete(pb->ctx, x, R, 0) != 0) break; /* an abort: the caller's status says why */
            nfev += jac_calls;
            r_at_x = 1;
        }
        njev++;
        last_is_base = 1;
        memcpy(w.xlast, x, (size_t)n * sizeof *x);
        factor(&w, R);
        if (iter == 1) {
            for (int j = 0; j < n; j++) {
                w.diag[j] = opt->x_scale ? 1 / opt->x_scale[j] : (w.acnorm[j] == 0 ? 1 : w.acnorm[j]);
                w.wa3[j] = w.diag[j] * x[j];
            }
            xnorm = nk_norm(w.wa3, (size_t)n);
            delta = factor_init * xnorm;
            if (delta == 0) delta = factor_init;
        }
        gnorm = nk_lm_gnorm(n, w.r, w.ipvt, w.acnorm, w.qtf, fnorm);
        if (gnorm <= opt->gtol) info = 4;
        if (info) break;
        if (!opt->x_scale)
            for (int j = 0; j < n; j++) w.diag[j] = fmax(w.diag[j], w.acnorm[j]);
        double ratio = 0;
        do {
            par = nk_lmpar(n, w.r, w.ipvt, w.diag, w.qtf, delta, par, w.wa1, w.sdiag, w.wa4, w.wa2, w.wa3);
            for (int j = 0; j < n; j++) {
                w.wa1[j] = -w.wa1[j];
                w.xnew[j] = x[j] + w.wa1[j];
                w.wa3[j] = w.diag[j] * w.wa1[j];
            }
            double pnorm = nk_norm(w.wa3, (size_t)n);
            if (iter == 1) delta = fmin(delta, pnorm);
            double cost_new;
            int bad = pb->evaluate(pb->ctx, w.xnew, &cost_new, w.Rnew);
            nfev++;
            double fnorm1 = bad ? INFINITY : sqrt(2 * cost_new);
            double actred, prered;
            ratio = nk_lm_update(n, w.r, w.ipvt, w.wa1, pnorm, fnorm, fnorm1, &par, &delta, &actred, &prered, w.wa3);
            if (ratio >= 1e-4) {
                memcpy(x, w.xnew, (size_t)n * sizeof *x);
                if (opt->lm_last_jacobian && last_is_base) memcpy(w.Rlast, R, nc * nc * sizeof *R);
                last_is_base = 0;
                if (!lazy) memcpy(R, w.Rnew, nc * nc * sizeof *R);
                r_at_x = !lazy;
                for (int j = 0; j < n; j++) w.wa2[j] = w.diag[j] * x[j];
                xnorm = nk_norm(w.wa2, (size_t)n);
                fnorm = fnorm1;
                cost = cost_new;
                step_norm = nk_norm(w.wa1, (size_t)n);
                iter++;
                if (solve_callback_stops(opt, iter - 1, cost, x, gnorm, step_norm)) {
                    info = -2;
                    break;
                }
            }
            int spent = solve_budget_spent(&budget, nfev, cost); /* extends it while the cost falls */
            info = nk_lm_test(actred, prered, ratio, delta, xnorm, gnorm, opt->ftol, opt->xtol, nfev,
                              spent ? nfev : budget.limit);
            if (info) break;
        } while (ratio < 1e-4);
        if (info) break;
    }
    /* R_aug at the solution for the covariance: one Jacobian more, outside
       the count (SciPy's least_squares takes its final J outside MINPACK's
       count too, and curve_fit's traced path has J at the solution).
       lm_last_jacobian: R where J was last taken, as MINPACK's fjac; a
       lazy Jacobian (differences) is taken there again for the covariance,
       `final` letting the caller take it more accurately than the
       solver needed. */
    if (opt->lm_last_jacobian) {
        if (lazy && njev > 0)
            pb->complete(pb->ctx, w.xlast, R, 1);
        else if (!last_is_base)
            memcpy(R, w.Rlast, nc * nc * sizeof *R);
    } else if (!r_at_x) {
        pb->complete(pb->ctx, x, R, 1);
    }
    if (opt->R_at) memcpy(opt->R_at, opt->lm_last_jacobian && njev > 0 ? w.xlast : x, (size_t)n * sizeof *x);
    res->cost = cost;
    res->grad_norm = gnorm;
    res->status = info == -2 ? -2 : nk_lm_status(info);
    res->nfev = nfev;
    res->njev = njev;
    res->nit = iter - 1;
    free(w.owned);
    return 0;
}
