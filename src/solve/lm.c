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

#include "blocks.h"
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

/* ---- lm on a structured R (blocks.h) -------------------------------------
 *
 * The same lmder iteration, its scaling, radius updates and tests
 * (nk_lm_update_jp, nk_lm_test), on a system that has no pivoted QR: lmpar
 * runs on the variables u = D p, where the damped system [J D^-1; sqrt(par) I]
 * is factored by structure for each trial par (blocks_factor), and
 * ||R^-T u||, which MINPACK takes from its qrsolv triangle, comes from
 * blocks_rt_norm2. A rank-deficient J has no Gauss-Newton step here (MINPACK
 * takes one on the pivoted leading block): the search starts damped.
 */

typedef struct lm_blocks {
    solve_blocks *bk;
    int n;
    double *g, *acnorm, *diag, *c, *u, *p, *xnew, *jp, *Rnew;
    void *owned;
} lm_blocks;

static int alloc_lm_blocks(lm_blocks *w, solve_blocks *bk, int n)
{
    size_t nn = (size_t)n, rows = bk->rows, nR = bk->R_at[bk->nsets];
    double *mem = malloc((7 * nn + rows + nR) * sizeof *mem);
    if (!mem) return -1;
    w->bk = bk;
    w->n = n;
    w->owned = mem;
    double **v[] = {&w->g, &w->acnorm, &w->diag, &w->c, &w->u, &w->p, &w->xnew};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + i * nn;
    w->jp = mem + 7 * nn;
    w->Rnew = w->jp + rows;
    return 0;
}

/* u at damping par (u-space), its norm into *unorm. */
static void lm_blocks_solve(lm_blocks *w, const double *R, double par, int *full_rank, double *unorm)
{
    int ok = blocks_factor(w->bk, R, w->c, NULL, par);
    if (full_rank) *full_rank = ok;
    if (!ok && par == 0) {
        *unorm = INFINITY;
        return;
    }
    blocks_solve(w->bk, w->u);
    *unorm = nk_norm(w->u, (size_t)w->n);
}

/* MINPACK's lmpar on the structure: par with ||D p|| within 10% of delta
   (or 0 for the Gauss-Newton step), the step p = D^-1 u into w->p. */
static double lm_blocks_par(lm_blocks *w, const double *R, double delta, double par)
{
    const double dwarf = 2.2250738585072014e-308;
    int n = w->n, full_rank;
    double unorm;
    lm_blocks_solve(w, R, 0, &full_rank, &unorm);
    double fp = unorm - delta;
    if (fp <= 0.1 * delta) {
        par = 0;
    } else {
        double parl = 0;
        if (full_rank) {
            double rt = blocks_rt_norm2(w->bk, w->u) / (unorm * unorm);
            parl = fp / delta / rt;
        }
        for (int j = 0; j < n; j++) w->p[j] = w->g[j] * w->c[j];
        double gnorm = nk_norm(w->p, (size_t)n), paru = gnorm / delta;
        if (paru == 0) paru = dwarf / fmin(delta, 0.1);
        par = fmin(fmax(par, parl), paru);
        if (par == 0) par = gnorm / unorm;
        for (int iter = 1;; iter++) {
            if (par == 0) par = fmax(dwarf, 0.001 * paru);
            double prev = fp;
            lm_blocks_solve(w, R, par, NULL, &unorm);
            fp = unorm - delta;
            if (fabs(fp) <= 0.1 * delta || (parl == 0 && fp <= prev && prev < 0) || iter == 10) break;
            double parc = fp / delta / (blocks_rt_norm2(w->bk, w->u) / (unorm * unorm));
            if (fp > 0) parl = fmax(parl, par);
            if (fp < 0) paru = fmin(paru, par);
            par = fmax(parl, par + parc);
        }
    }
    for (int j = 0; j < n; j++) w->p[j] = w->c[j] * w->u[j];
    return par;
}

/* MINPACK's scaled gradient norm: max_j |g_j| / (||f|| ||J e_j||). */
static double lm_blocks_gnorm(const lm_blocks *w, double fnorm)
{
    double gnorm = 0;
    for (int j = 0; fnorm != 0 && j < w->n; j++)
        if (w->acnorm[j] != 0) gnorm = fmax(gnorm, fabs(w->g[j] / fnorm / w->acnorm[j]));
    return gnorm;
}

static int solve_lm_blocks(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    int n = pb->n;
    lm_blocks w;
    if (alloc_lm_blocks(&w, pb->blocks, n) != 0) return -1;
    size_t nR = pb->blocks->R_at[pb->blocks->nsets];
    memset(res, 0, sizeof *res);
    double cost;
    if (pb->evaluate(pb->ctx, x, &cost, R) != 0) {
        res->start_nonfinite = 1;
        res->status = -1;
        free(w.owned);
        return 0;
    }
    int nfev = 1, njev = 0, iter = 1, info = 0;
    solve_budget budget;
    solve_budget_init(&budget, opt->max_nfev, 100 * (n + 1), cost);
    double fnorm = sqrt(2 * cost), delta = 0, xnorm = 0, par = 0, gnorm = 0;
    for (;;) {
        njev++;
        blocks_col_norms(pb->blocks, R, w.acnorm);
        blocks_gradient(pb->blocks, R, w.g);
        if (iter == 1) {
            for (int j = 0; j < n; j++) {
                w.diag[j] = opt->x_scale ? 1 / opt->x_scale[j] : (w.acnorm[j] == 0 ? 1 : w.acnorm[j]);
                w.xnew[j] = w.diag[j] * x[j];
            }
            xnorm = nk_norm(w.xnew, (size_t)n);
            delta = 100 * xnorm;
            if (delta == 0) delta = 100;
        }
        gnorm = lm_blocks_gnorm(&w, fnorm);
        if (gnorm <= opt->gtol) info = 4;
        if (info) break;
        if (!opt->x_scale)
            for (int j = 0; j < n; j++) w.diag[j] = fmax(w.diag[j], w.acnorm[j]);
        for (int j = 0; j < n; j++) w.c[j] = 1 / w.diag[j];
        double ratio = 0;
        do {
            par = lm_blocks_par(&w, R, delta, par);
            for (int j = 0; j < n; j++) {
                w.xnew[j] = x[j] + w.p[j];
                w.u[j] = w.diag[j] * w.p[j];
            }
            double pnorm = nk_norm(w.u, (size_t)n);
            if (iter == 1) delta = fmin(delta, pnorm);
            double cost_new;
            int bad = pb->evaluate(pb->ctx, w.xnew, &cost_new, w.Rnew);
            nfev++;
            double fnorm1 = bad ? INFINITY : sqrt(2 * cost_new), actred, prered;
            blocks_r_times(pb->blocks, R, w.p, w.jp);
            double jpnorm = nk_norm(w.jp, pb->blocks->rows);
            ratio = nk_lm_update_jp(jpnorm, pnorm, fnorm, fnorm1, &par, &delta, &actred, &prered);
            if (ratio >= 1e-4) {
                memcpy(x, w.xnew, (size_t)n * sizeof *x);
                memcpy(R, w.Rnew, nR * sizeof *R);
                for (int j = 0; j < n; j++) w.u[j] = w.diag[j] * x[j];
                xnorm = nk_norm(w.u, (size_t)n);
                fnorm = fnorm1;
                cost = cost_new;
                iter++;
                if (solve_callback_stops(opt, iter - 1, cost, x, gnorm, nk_norm(w.p, (size_t)n))) {
                    info = -2;
                    break;
                }
            }
            int spent = solve_budget_spent(&budget, nfev, cost);
            info = nk_lm_test(actred, prered, ratio, delta, xnorm, gnorm, opt->ftol, opt->xtol, nfev,
                              spent ? nfev : budget.limit);
            if (info) break;
        } while (ratio < 1e-4);
        if (info) break;
    }
    if (opt->R_at) memcpy(opt->R_at, x, (size_t)n * sizeof *x);
    res->cost = cost;
    res->grad_norm = gnorm;
    res->status = info == -2 ? -2 : nk_lm_status(info);
    res->nfev = nfev;
    res->njev = njev;
    res->nit = iter - 1;
    free(w.owned);
    return 0;
}

int solve_lm(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    if (pb->blocks) return solve_lm_blocks(pb, opt, x, R, res);
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
