/*
 * Dogbox (Voglis & Lagaris 2004), as SciPy's least_squares(method='dogbox',
 * tr_solver='exact'): a rectangular trust region |step_i| <= Delta scale_i
 * intersected with the bounds; parameters on a bound whose gradient points
 * outward are frozen for the iteration; the step is the dogleg between the
 * Cauchy point and the Gauss-Newton step of the free columns, clipped to
 * the box; parameters that reach a bound are set exactly to it.
 *
 * From R_aug: the least-squares Gauss-Newton step lstsq(J_free, -r) is the
 * minimum-norm solution of R11[:, free] s = -qtf (J = Q R11), taken by SVD
 * with numpy's default cutoff (eps times the largest singular value), and
 * ||J_free s|| = ||R11[:, free] s||.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "solve.h"

typedef struct dogbox {
    int n;
    size_t nc;
    double *g, *scale, *scale_inv, *on_bound, *newton, *step, *x_new, *R_new, *hits;
    double *A, *V, *s, *lbt, *ubt, *tmp, *tmp2, *zero;
    double *xf, *lbf, *ubf, *trb, *gf, *stepf, *hitf; /* the free components */
    double *rhs, *svd_work;                           /* -qtf (n), and the SVD's */
    int *free_idx;
    void *owned; /* the arrays' block, when allocated here */
} dogbox;

/* out = R11[:, free] v  (v has k entries) */
static void jfree_times(const dogbox *w, const double *R, int k, const double *v, double *out)
{
    for (int i = 0; i < w->n; i++) {
        double s = 0;
        for (int c = 0; c < k; c++) {
            int j = w->free_idx[c];
            if (i <= j) s += R[(size_t)j * w->nc + i] * v[c];
        }
        out[i] = s;
    }
}

/* Minimum-norm least-squares solution of R11[:, free] s = -qtf; *gain:
   its predicted reduction, 1/2 sum (u_q^T qtf)^2 over the singular
   values it uses. */
static int newton_step(dogbox *w, const double *R, int k, double *gain)
{
    int n = w->n;
    for (int c = 0; c < k; c++) {
        int j = w->free_idx[c];
        for (int i = 0; i < n; i++) w->A[(size_t)c * n + i] = i <= j ? R[(size_t)j * w->nc + i] : 0;
    }
    const double *qtf = R + (size_t)n * w->nc;
    for (int i = 0; i < n; i++) w->rhs[i] = -qtf[i];
    if (svd_robust(w->A, n, k, w->s, w->V, w->rhs, w->svd_work) != 0) return -1;
    double cutoff = SOLVE_EPS * w->s[0];
    for (int c = 0; c < k; c++) w->newton[c] = 0;
    *gain = 0;
    for (int q = 0; q < k; q++) {
        if (!(w->s[q] > cutoff)) continue;
        *gain += 0.5 * w->rhs[q] * w->rhs[q];
        double coef = w->rhs[q] / w->s[q]; /* u_q^T (-qtf) / s_q */
        for (int c = 0; c < k; c++) w->newton[c] += w->V[(size_t)q * k + c] * coef;
    }
    return 0;
}

/* SciPy's dogleg_step in the box [lbt, ubt] (bounds and trust region,
   relative to x); writes the step, per-component bound hits (-1, 0, 1)
   and returns whether the trust region (not a bound) was hit. */
static int dogleg(dogbox *w, int k, const double *x, const double *g, double a, double b, const double *lb,
                  const double *ub, const double *trb, double *step, double *hit_bound)
{
    int in = 1;
    for (int c = 0; c < k; c++) {
        double lc = lb[c] - x[c], uc = ub[c] - x[c];
        w->lbt[c] = fmax(lc, -trb[c]);
        w->ubt[c] = fmin(uc, trb[c]);
        hit_bound[c] = 0;
        in &= w->newton[c] >= w->lbt[c] && w->newton[c] <= w->ubt[c];
    }
    if (in) {
        memcpy(step, w->newton, (size_t)k * sizeof *step);
        return 0;
    }
    for (int c = 0; c < k; c++) w->tmp[c] = -g[c];
    double to_bounds = solve_step_to_bound(w->zero, w->tmp, w->lbt, w->ubt, k, NULL), val;
    double t = solve_minimize_1d(a, b, 0, 0, to_bounds, &val);
    for (int c = 0; c < k; c++) {
        w->tmp[c] = -t * g[c];                 /* the Cauchy step */
        w->tmp2[c] = w->newton[c] - w->tmp[c]; /* towards Newton   */
    }
    double size = solve_step_to_bound(w->tmp, w->tmp2, w->lbt, w->ubt, k, w->hits);
    int tr_hit = 0;
    for (int c = 0; c < k; c++) {
        double lc = lb[c] - x[c], uc = ub[c] - x[c];
        int orig_l = w->lbt[c] == lc, orig_u = w->ubt[c] == uc;
        int tr_l = w->lbt[c] == -trb[c], tr_u = w->ubt[c] == trb[c];
        if (w->hits[c] < 0 && orig_l) hit_bound[c] = -1;
        if (w->hits[c] > 0 && orig_u) hit_bound[c] = 1;
        tr_hit |= (w->hits[c] < 0 && tr_l) || (w->hits[c] > 0 && tr_u);
        step[c] = w->tmp[c] + size * w->tmp2[c];
    }
    return tr_hit;
}

static size_t dogbox_work_doubles(int n)
{
    size_t nn = (size_t)n, nc = nn + 1;
    /* the last n: free_idx, as ints */
    return 23 * nn + 2 * nn * nn + nc * nc + svd_robust_work_doubles(n, n);
}

static int alloc_dogbox(dogbox *w, int n, const solve_options *opt)
{
    size_t nn = (size_t)n, nc = nn + 1;
    double *mem = solve_work_take(opt, dogbox_work_doubles(n) * sizeof(double), &w->owned);
    if (!mem) return -1;
    w->free_idx = (int *)(mem + dogbox_work_doubles(n) - nn);
    double **v[] = {&w->g,    &w->scale, &w->scale_inv, &w->on_bound, &w->newton, &w->step,  &w->x_new,
                    &w->hits, &w->s,     &w->lbt,       &w->ubt,      &w->tmp,    &w->tmp2,  &w->zero,
                    &w->xf,   &w->lbf,   &w->ubf,       &w->trb,      &w->gf,     &w->stepf, &w->hitf};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) *v[i] = mem + i * nn;
    w->A = mem + 21 * nn;
    w->V = w->A + nn * nn;
    w->R_new = w->V + nn * nn;
    w->rhs = w->R_new + nc * nc;
    w->svd_work = w->rhs + nn;
    w->n = n;
    w->nc = nc;
    return 0;
}

int solve_dogbox(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    int n = pb->n;
    dogbox w;
    memset(&w, 0, sizeof w);
    if (alloc_dogbox(&w, n, opt) != 0) return -1;
    memset(res, 0, sizeof *res);
    const double *lb = pb->lb, *ub = pb->ub;
    double cost;
    if (pb->evaluate(pb->ctx, x, &cost, R) != 0) {
        res->start_nonfinite = 1;
        res->status = -1;
        goto done;
    }
    int nfev = 1, njev = 1, status = SOLVE_RUNNING, iteration = 0;
    solve_budget budget;
    solve_budget_init(&budget, opt->max_nfev, 100 * n, cost);
    solve_gradient(R, n, w.g);
    solve_scale(opt, R, n, 1, w.scale, w.scale_inv);
    for (int i = 0; i < n; i++) w.tmp[i] = x[i] * w.scale_inv[i];
    double Delta = solve_norm_inf(w.tmp, n), g_norm = 0, step_norm = 0;
    if (Delta == 0) Delta = 1;
    for (int i = 0; i < n; i++) w.on_bound[i] = x[i] == lb[i] ? -1 : x[i] == ub[i] ? 1 : 0;
    double *xf = w.xf, *lbf = w.lbf, *ubf = w.ubf, *trb = w.trb, *gf = w.gf, *stepf = w.stepf, *hitf = w.hitf;

    for (;;) {
        int k = 0;
        double gmax = 0;
        for (int i = 0; i < n; i++) {
            int active = w.on_bound[i] * w.g[i] < 0;
            if (!active) {
                w.free_idx[k] = i;
                xf[k] = x[i];
                lbf[k] = lb[i];
                ubf[k] = ub[i];
                gf[k++] = w.g[i];
                gmax = fmax(gmax, fabs(w.g[i]));
            }
        }
        g_norm = gmax;
        if (g_norm < opt->gtol) status = 1;
        if (status != SOLVE_RUNNING || solve_budget_spent(&budget, nfev, cost)) break;
        double gn_gain;
        if (newton_step(&w, R, k, &gn_gain) != 0) {
            status = SOLVE_SVD_FAILED; /* never max_nfev: it was not reached */
            break;
        }
        for (int c = 0; c < k; c++) w.tmp[c] = -gf[c];
        jfree_times(&w, R, k, w.tmp, w.tmp2);
        double a = 0.5 * nk_dot(w.tmp2, w.tmp2, n), b = -nk_dot(gf, gf, k);
        double ared = -1, cost_new = cost;
        int tr_hit = 0;
        while (ared <= 0 && !solve_budget_spent(&budget, nfev, cost)) {
            for (int c = 0; c < k; c++) trb[c] = Delta * w.scale[w.free_idx[c]];
            tr_hit = dogleg(&w, k, xf, gf, a, b, lbf, ubf, trb, stepf, hitf);
            memset(w.step, 0, (size_t)n * sizeof *w.step);
            for (int c = 0; c < k; c++) w.step[w.free_idx[c]] = stepf[c];
            jfree_times(&w, R, k, stepf, w.tmp);
            double pred = -(0.5 * nk_dot(w.tmp, w.tmp, n) + nk_dot(gf, stepf, k));
            for (int i = 0; i < n; i++) w.x_new[i] = fmin(fmax(x[i] + w.step[i], lb[i]), ub[i]);
            int bad = pb->evaluate(pb->ctx, w.x_new, &cost_new, w.R_new);
            nfev++;
            for (int i = 0; i < n; i++) w.tmp[i] = w.step[i] * w.scale_inv[i];
            double step_h_norm = solve_norm_inf(w.tmp, n);
            if (bad) {
                Delta = 0.25 * step_h_norm;
                continue;
            }
            ared = cost - cost_new;
            double ratio;
            Delta = solve_update_radius(Delta, ared, pred, step_h_norm, tr_hit, &ratio);
            step_norm = solve_norm(w.step, n);
            double x_norm = solve_norm(x, n);
            int st = solve_check_termination(ared, cost, step_norm, x_norm, ratio, opt->ftol, opt->xtol, pred);
            if (!st && solve_no_reduction(gn_gain, ared, cost, step_norm, x_norm)) st = SOLVE_NO_REDUCTION;
            if (st) {
                status = st;
                break;
            }
        }
        if (ared > 0) {
            for (int c = 0; c < k; c++) w.on_bound[w.free_idx[c]] = hitf[c];
            memcpy(x, w.x_new, (size_t)n * sizeof *x);
            for (int i = 0; i < n; i++) { /* exactly on the bound it reached */
                if (w.on_bound[i] == -1) x[i] = lb[i];
                if (w.on_bound[i] == 1) x[i] = ub[i];
            }
            solve_accept(opt, R, w.R_new, n, w.g, w.scale, w.scale_inv);
            cost = cost_new;
            njev++;
        } else {
            step_norm = 0;
        }
        iteration++;
        if (solve_callback_stops(opt, iteration, cost, x, g_norm, step_norm)) {
            status = -2;
            break;
        }
    }
    solve_finish(res, cost, g_norm, status, nfev, njev, iteration);
done:
    free(w.owned);
    return 0;
}
