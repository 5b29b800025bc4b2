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
    size_t nR; /* doubles in one R: (n+1)^2, or the structure's      */
    /* the dense path (MINPACK's arrays) */
    double *r; /* n x n: R2 in the upper triangle, work below        */
    int *ipvt;
    double *rdiag, *qtf, *wa1, *wa4, *sdiag, *xlast, *Rlast;
    /* the structured path (blocks.h): g = J^T r, the scales c = 1/diag,
       u = D p, the step p, J p in R form */
    solve_blocks *bk;
    double *g, *c, *u, *p, *jp;
    /* both */
    double *acnorm, *diag, *wa2, *wa3, *xnew, *Rnew;
    double *step; /* the step lmpar made: wa1 (dense) or p           */
    void *owned;  /* the arrays' block, when allocated here            */
} lm;

/* Pivoted QR of R11 into w->r, Q^T f into w->qtf, column norms of J. */
static void factor_dense(lm *w, const double *R)
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

static int alloc_dense(lm *w, int n, const solve_options *opt)
{
    size_t nn = (size_t)n;
    double *mem = solve_work_take(opt, lm_work_doubles(n) * sizeof(double), &w->owned);
    if (!mem) return -1;
    w->ipvt = (int *)(mem + lm_work_doubles(n) - nn);
    w->nR = (nn + 1) * (nn + 1);
    w->r = mem;
    double **v[] = {&w->rdiag, &w->acnorm, &w->qtf,   &w->diag, &w->wa1,  &w->wa2,
                    &w->wa3,   &w->wa4,    &w->sdiag, &w->xnew, &w->xlast};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + nn * nn + i * nn;
    w->Rnew = mem + nn * nn + 11 * nn;
    w->Rlast = w->Rnew + (nn + 1) * (nn + 1);
    w->step = w->wa1;
    return 0;
}

/*
 * The structure (blocks.h) has no pivoted QR: lmpar runs on the variables
 * u = D p, where the damped system [J D^-1; sqrt(par) I] is factored by
 * structure for each trial par (blocks_factor), and ||R^-T u||, which
 * MINPACK takes from its qrsolv triangle, comes from blocks_rt_norm2. A
 * rank-deficient J has no Gauss-Newton step here (MINPACK takes one on
 * the pivoted leading block): the search starts damped.
 */
static int alloc_blocks(lm *w, solve_blocks *bk, int n)
{
    size_t nn = (size_t)n, rows = bk->rows;
    w->bk = bk;
    w->nR = bk->R_at[bk->nsets];
    double *mem = malloc((11 * nn + rows + w->nR) * sizeof *mem);
    if (!mem) return -1;
    w->owned = mem;
    double **v[] = {&w->g, &w->c, &w->u, &w->p, &w->acnorm, &w->diag, &w->wa2, &w->wa3, &w->xnew};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + i * nn;
    w->jp = mem + 11 * nn;
    w->Rnew = w->jp + rows;
    w->step = w->p;
    return 0;
}

static int alloc_lm(lm *w, const solve_problem *pb, const solve_options *opt)
{
    memset(w, 0, sizeof *w);
    w->n = pb->n;
    return pb->blocks ? alloc_blocks(w, pb->blocks, pb->n) : alloc_dense(w, pb->n, opt);
}

/* u at damping par, its norm into *unorm (Inf: undamped and singular). */
static void blocks_u(lm *w, const double *R, double par, int *full_rank, double *unorm)
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
static double blocks_lmpar(lm *w, const double *R, double delta, double par)
{
    const double dwarf = 2.2250738585072014e-308;
    int n = w->n, full_rank;
    double unorm;
    blocks_u(w, R, 0, &full_rank, &unorm);
    double fp = unorm - delta;
    if (fp <= 0.1 * delta) {
        par = 0;
    } else {
        double parl = 0;
        if (full_rank) parl = fp / delta / (blocks_rt_norm2(w->bk, w->u) / (unorm * unorm));
        for (int j = 0; j < n; j++) w->p[j] = w->g[j] * w->c[j];
        double gnorm = nk_norm(w->p, (size_t)n), paru = gnorm / delta;
        if (paru == 0) paru = dwarf / fmin(delta, 0.1);
        par = fmin(fmax(par, parl), paru);
        if (par == 0) par = gnorm / unorm;
        for (int iter = 1;; iter++) {
            if (par == 0) par = fmax(dwarf, 0.001 * paru);
            double prev = fp;
            blocks_u(w, R, par, NULL, &unorm);
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

/* ---- the four places the two linear algebras differ ------------------- */

/* R's column norms (and the dense factor, or the structure's gradient). */
static void lm_factor(lm *w, const double *R)
{
    if (!w->bk) {
        factor_dense(w, R);
        return;
    }
    blocks_col_norms(w->bk, R, w->acnorm);
    blocks_gradient(w->bk, R, w->g);
}

/* MINPACK's scaled gradient norm: max_j |(J^T f)_j| / (||f|| ||J e_j||). */
static double lm_gnorm(const lm *w, double fnorm)
{
    if (!w->bk) return nk_lm_gnorm(w->n, w->r, w->ipvt, w->acnorm, w->qtf, fnorm);
    double gnorm = 0;
    for (int j = 0; fnorm != 0 && j < w->n; j++)
        if (w->acnorm[j] != 0) gnorm = fmax(gnorm, fabs(w->g[j] / fnorm / w->acnorm[j]));
    return gnorm;
}

/* lmpar: par, and the step to take into w->step. */
static double lm_par(lm *w, const double *R, double delta, double par)
{
    if (w->bk) {
        for (int j = 0; j < w->n; j++) w->c[j] = 1 / w->diag[j];
        return blocks_lmpar(w, R, delta, par);
    }
    par = nk_lmpar(w->n, w->r, w->ipvt, w->diag, w->qtf, delta, par, w->wa1, w->sdiag, w->wa4, w->wa2, w->wa3);
    for (int j = 0; j < w->n; j++) w->wa1[j] = -w->wa1[j];
    return par;
}

/* lmder's ratio and its update of par and delta, ||J p|| from R. */
static double lm_update(lm *w, const double *R, double pnorm, double fnorm, double fnorm1, double *par,
                        double *delta, double *actred, double *prered)
{
    if (!w->bk)
        return nk_lm_update(w->n, w->r, w->ipvt, w->step, pnorm, fnorm, fnorm1, par, delta, actred, prered, w->wa3);
    blocks_r_times(w->bk, R, w->step, w->jp);
    return nk_lm_update_jp(nk_norm(w->jp, w->bk->rows), pnorm, fnorm, fnorm1, par, delta, actred, prered);
}

int solve_lm(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    int n = pb->n;
    lm w;
    if (alloc_lm(&w, pb, opt) != 0) return -1;
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
        if (w.xlast) memcpy(w.xlast, x, (size_t)n * sizeof *x);
        lm_factor(&w, R);
        if (iter == 1) {
            for (int j = 0; j < n; j++) {
                w.diag[j] = opt->x_scale ? 1 / opt->x_scale[j] : (w.acnorm[j] == 0 ? 1 : w.acnorm[j]);
                w.wa3[j] = w.diag[j] * x[j];
            }
            xnorm = nk_norm(w.wa3, (size_t)n);
            delta = factor_init * xnorm;
            if (delta == 0) delta = factor_init;
        }
        gnorm = lm_gnorm(&w, fnorm);
        if (gnorm <= opt->gtol) info = 4;
        if (info) break;
        if (!opt->x_scale)
            for (int j = 0; j < n; j++) w.diag[j] = fmax(w.diag[j], w.acnorm[j]);
        double ratio = 0;
        do {
            par = lm_par(&w, R, delta, par);
            for (int j = 0; j < n; j++) {
                w.xnew[j] = x[j] + w.step[j];
                w.wa3[j] = w.diag[j] * w.step[j];
            }
            double pnorm = nk_norm(w.wa3, (size_t)n);
            if (iter == 1) delta = fmin(delta, pnorm);
            double cost_new;
            int bad = pb->evaluate(pb->ctx, w.xnew, &cost_new, w.Rnew);
            nfev++;
            double fnorm1 = bad ? INFINITY : sqrt(2 * cost_new);
            double actred, prered;
            ratio = lm_update(&w, R, pnorm, fnorm, fnorm1, &par, &delta, &actred, &prered);
            if (ratio >= 1e-4) {
                memcpy(x, w.xnew, (size_t)n * sizeof *x);
                if (opt->lm_last_jacobian && last_is_base) memcpy(w.Rlast, R, w.nR * sizeof *R);
                last_is_base = 0;
                if (!lazy) memcpy(R, w.Rnew, w.nR * sizeof *R);
                r_at_x = !lazy;
                for (int j = 0; j < n; j++) w.wa2[j] = w.diag[j] * x[j];
                xnorm = nk_norm(w.wa2, (size_t)n);
                fnorm = fnorm1;
                cost = cost_new;
                step_norm = nk_norm(w.step, (size_t)n);
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
            memcpy(R, w.Rlast, w.nR * sizeof *R);
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
