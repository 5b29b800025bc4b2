/*
 * Trust-region reflective (Branch, Coleman & Li 1999), as SciPy's
 * least_squares(method='trf', tr_solver='exact') does it, step for step
 * (see ../shared/ref/solver-semantics.md), but from R_aug instead of J:
 *
 *   J_h = J D = Q R11 D, so the SVD of R11 D (stacked on diag(sqrt(diag_h))
 *   with bounds) has the singular values and right vectors of J_h (or of
 *   [J_h; diag(sqrt(diag_h))]), and U^T [r; 0] comes from [qtf; 0];
 *   ||J_h s|| = ||R11 (d o s)||, so every quadratic model value is exact.
 *
 * Bounds use Coleman-Li scaling, reflected and Cauchy candidate steps and
 * strictly feasible iterates. Without bounds it is the plain exact
 * trust-region method with Moré's secular-equation iteration.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "linalg/linalg.h"
#include "solve.h"

typedef struct trf {
    const solve_problem *pb;
    int n, bounded;
    size_t nc;
    /* R held by structure (blocks.h), or NULL: dense. The structure has
       no SVD: each trial of the secular equation factors the damped
       system instead (blocks_factor), O(D k^3). */
    solve_blocks *bk;
    int jrows;       /* entries of J_h s in R form: n, or bk->rows    */
    int full_rank;   /* blocks: the undamped hat system's factor      */
    double f_alpha;  /* blocks: the damping bk holds factored (-1: none) */
    const double *lb, *ub;
    /* n-vectors */
    double *x_new, *g, *scale, *scale_inv, *v, *dv, *d, *diag_h, *g_h, *s, *uf, *suf;
    double *p, *p_h, *r, *r_h, *ag, *ag_h, *step, *step_h, *hits;
    double *t1, *t2, *js, *js0; /* scratch */
    void *owned;                /* the arrays' block, when allocated here */
    double *A, *V;              /* (2n) x n and n x n */
    double *R_new;
    double *rhs, *svd_work; /* [qtf; 0] (2n), and the SVD's */
} trf;

/* ---- bounds helpers (SciPy's _lsq/common.py) ---------------------------- */

static void cl_scaling(const trf *t, const double *x, const double *g, double *v, double *dv)
{
    for (int i = 0; i < t->n; i++) {
        v[i] = 1;
        dv[i] = 0;
        if (!t->bounded) continue;
        if (g[i] < 0 && isfinite(t->ub[i])) {
            v[i] = t->ub[i] - x[i];
            dv[i] = -1;
        } else if (g[i] > 0 && isfinite(t->lb[i])) {
            v[i] = x[i] - t->lb[i];
            dv[i] = 1;
        }
    }
}

/* -1 at (or within rtol of) the lower bound, 1 at the upper, else 0. */
static int active_side(double x, double lb, double ub, double rtol)
{
    if (rtol == 0) return x <= lb ? -1 : x >= ub ? 1 : 0;
    double ld = x - lb, ud = ub - x;
    double lt = rtol * fmax(1, fabs(lb)), ut = rtol * fmax(1, fabs(ub));
    if (isfinite(lb) && ld <= fmin(ud, lt)) return -1;
    if (isfinite(ub) && ud <= fmin(ld, ut)) return 1;
    return 0;
}

static void make_strictly_feasible(double *x, const double *lb, const double *ub, int n, double rstep)
{
    for (int i = 0; i < n; i++) {
        int a = active_side(x[i], lb[i], ub[i], rstep);
        if (a == -1) x[i] = rstep == 0 ? nextafter(lb[i], ub[i]) : lb[i] + rstep * fmax(1, fabs(lb[i]));
        if (a == 1) x[i] = rstep == 0 ? nextafter(ub[i], lb[i]) : ub[i] - rstep * fmax(1, fabs(ub[i]));
        if (x[i] < lb[i] || x[i] > ub[i]) x[i] = 0.5 * (lb[i] + ub[i]);
    }
}

static int in_bounds(const double *x, const double *lb, const double *ub, int n)
{
    for (int i = 0; i < n; i++)
        if (!(x[i] >= lb[i] && x[i] <= ub[i])) return 0;
    return 1;
}

/* Where x + t s leaves the ball of radius Delta (x inside): t_lo < 0 < t_hi. */
static void intersect_ball(const double *x, const double *s, int n, double Delta, double *t_lo, double *t_hi)
{
    double a = nk_dot(s, s, n), b = nk_dot(x, s, n), c = nk_dot(x, x, n) - Delta * Delta;
    double disc = sqrt(b * b - a * c);
    double q = -(b + copysign(disc, b)); /* no cancellation (Numerical Recipes) */
    double r1 = q / a, r2 = c / q;
    *t_lo = fmin(r1, r2);
    *t_hi = fmax(r1, r2);
}

/* ---- quadratic model in hat space -------------------------------------- */

/* out = J_h s, J_h = J diag(d), as R11 (d o s): same norms and products */
static void jh_times(const trf *t, const double *R, const double *s, double *out)
{
    for (int i = 0; i < t->n; i++) t->t2[i] = t->d[i] * s[i];
    if (t->bk)
        blocks_r_times(t->bk, R, t->t2, out);
    else
        solve_r11_times(R, t->n, t->t2, out);
}

/* SciPy's evaluate_quadratic: 1/2 ||J_h s||^2 + 1/2 s^T diag s + g_h^T s */
static double quadratic(const trf *t, const double *R, const double *s, const double *diag)
{
    jh_times(t, R, s, t->js);
    double q = nk_dot(t->js, t->js, t->jrows);
    if (diag)
        for (int i = 0; i < t->n; i++) q += s[i] * diag[i] * s[i];
    return 0.5 * q + nk_dot(s, t->g_h, t->n);
}

/* q(s0 + u s) = a u^2 + b u + c */
static void quadratic_1d(const trf *t, const double *R, const double *s, const double *s0, const double *diag,
                         double *a, double *b, double *c)
{
    int n = t->n, rows = t->jrows;
    double *Js = t->js, *Js0 = t->js0;
    jh_times(t, R, s, Js);
    *a = nk_dot(Js, Js, rows);
    if (diag)
        for (int i = 0; i < n; i++) *a += s[i] * diag[i] * s[i];
    *a *= 0.5;
    *b = nk_dot(t->g_h, s, n);
    *c = 0;
    if (s0) {
        jh_times(t, R, s0, Js0);
        *b += nk_dot(Js0, Js, rows);
        *c = 0.5 * nk_dot(Js0, Js0, rows) + nk_dot(t->g_h, s0, n);
        if (diag)
            for (int i = 0; i < n; i++) {
                *b += s0[i] * diag[i] * s[i];
                *c += 0.5 * s0[i] * diag[i] * s0[i];
            }
    }
}

/* ---- the trust-region subproblem on one SVD (Moré 1983, SciPy) -------- */

static void phi_and_derivative(const trf *t, double alpha, double Delta, double *phi, double *dphi)
{
    double pn2 = 0, sum = 0;
    for (int i = 0; i < t->n; i++) {
        double den = t->s[i] * t->s[i] + alpha, q = t->suf[i] / den;
        pn2 += q * q;
        sum += t->suf[i] * t->suf[i] / (den * den * den);
    }
    double pn = sqrt(pn2);
    *phi = pn - Delta;
    *dphi = -sum / pn;
}

/* p = -V (suf / (s^2 + alpha)): the regularized step on the SVD. */
static void svd_step(trf *t, double alpha, double *p)
{
    int n = t->n;
    for (int j = 0; j < n; j++) t->t2[j] = t->suf[j] / (t->s[j] * t->s[j] + alpha);
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int j = 0; j < n; j++) v += t->V[(size_t)j * n + i] * t->t2[j];
        p[i] = -v;
    }
}

/* The structure's step at damping alpha (in hat space), factoring again
   only when bk holds another damping. */
static void blocks_step(trf *t, const double *R, double alpha, double *p)
{
    if (t->f_alpha != alpha) {
        blocks_factor(t->bk, R, t->d, t->bounded ? t->diag_h : NULL, alpha);
        t->f_alpha = alpha;
    }
    blocks_solve(t->bk, p);
}

static void blocks_phi(trf *t, const double *R, double alpha, double Delta, double *phi, double *dphi)
{
    blocks_step(t, R, alpha, t->t1);
    double pn = solve_norm(t->t1, t->n);
    *phi = pn - Delta;
    *dphi = -blocks_rt_norm2(t->bk, t->t1) / pn;
}

/* The undamped step: -V (uf / s) on the SVD. */
static void gauss_newton_step(trf *t, const double *R, double *p)
{
    int n = t->n;
    if (t->bk) {
        blocks_step(t, R, 0, p);
        return;
    }
    for (int i = 0; i < n; i++) t->t2[i] = t->uf[i] / t->s[i];
    for (int i = 0; i < n; i++) {
        double v = 0;
        for (int j = 0; j < n; j++) v += t->V[(size_t)j * n + i] * t->t2[j];
        p[i] = -v;
    }
}

static void step_at(trf *t, const double *R, double alpha, double *p)
{
    if (t->bk)
        blocks_step(t, R, alpha, p);
    else
        svd_step(t, alpha, p);
}

static void phi_at(trf *t, const double *R, double alpha, double Delta, double *phi, double *dphi)
{
    if (t->bk)
        blocks_phi(t, R, alpha, Delta, phi, dphi);
    else
        phi_and_derivative(t, alpha, Delta, phi, dphi);
}

/* Moré's iteration on the secular equation ||p(alpha)|| = Delta, as
   SciPy's solve_lsq_trust_region (rtol 0.01, 10 iterations); on the SVD
   each trial is a formula, on the structure a factorization. */
static void trust_region_step(trf *t, const double *R, double Delta, double *alpha, double *p)
{
    int n = t->n, full_rank;
    double g_norm;
    if (t->bk) {
        full_rank = t->full_rank;
        g_norm = solve_norm(t->g_h, n); /* ||J_h^T f||, as ||suf|| is on the SVD */
    } else {
        for (int i = 0; i < n; i++) t->suf[i] = t->s[i] * t->uf[i];
        full_rank = t->pb->m >= (size_t)n && t->s[n - 1] > SOLVE_EPS * (double)t->pb->m * t->s[0];
        g_norm = solve_norm(t->suf, n);
    }
    if (full_rank) {
        gauss_newton_step(t, R, p);
        if (solve_norm(p, n) <= Delta) {
            *alpha = 0;
            return;
        }
    }
    double alpha_upper = g_norm / Delta, alpha_lower = 0, phi, dphi;
    if (full_rank) {
        phi_at(t, R, 0, Delta, &phi, &dphi);
        alpha_lower = -phi / dphi;
    }
    double a = *alpha;
    if (!full_rank && a == 0) a = fmax(0.001 * alpha_upper, sqrt(alpha_lower * alpha_upper));
    for (int it = 0; it < 10; it++) {
        if (a < alpha_lower || a > alpha_upper) a = fmax(0.001 * alpha_upper, sqrt(alpha_lower * alpha_upper));
        phi_at(t, R, a, Delta, &phi, &dphi);
        if (phi < 0) alpha_upper = a;
        double ratio = phi / dphi;
        alpha_lower = fmax(alpha_lower, a - ratio);
        a -= (phi + Delta) * ratio / Delta;
        if (fabs(phi) < 0.01 * Delta) break;
    }
    /* The last update can leave [lower, upper]: below zero when the
       minimum-norm step lies inside the region of a rank-deficient J. The
       SVD takes any alpha above -s_min^2; a factorization needs alpha > 0
       where a pivot is zero, so the structure keeps the last alpha that
       was inside the region (its step tends to the minimum-norm one). */
    if (t->bk && !full_rank && !(a > 0)) a = alpha_upper;
    step_at(t, R, a, p);
    double pn = solve_norm(p, n);
    for (int i = 0; i < n; i++) p[i] *= Delta / pn; /* exactly on the boundary */
    *alpha = a;
}

/* SVD of J_h (or [J_h; diag(sqrt(diag_h))]) from R11, and uf = U^T [qtf; 0]. */
static int hat_svd(trf *t, const double *R)
{
    int n = t->n, rows = t->bounded ? 2 * n : n;
    size_t nc = t->nc;
    for (int j = 0; j < n; j++) {
        double *col = t->A + (size_t)j * rows;
        for (int i = 0; i < rows; i++) col[i] = 0;
        for (int i = 0; i <= j; i++) col[i] = R[(size_t)j * nc + i] * t->d[j];
        if (t->bounded) col[n + j] = sqrt(t->diag_h[j]);
    }
    const double *qtf = R + (size_t)n * nc;
    for (int i = 0; i < rows; i++) t->rhs[i] = i < n ? qtf[i] : 0;
    if (svd_robust(t->A, rows, n, t->s, t->V, t->rhs, t->svd_work) != 0) return -1;
    memcpy(t->uf, t->rhs, (size_t)n * sizeof *t->uf);
    return 0;
}

/* The most the model can gain: the Gauss-Newton step's predicted
   reduction, 1/2 sum uf_i^2 over the singular values the step would use
   (those above trust_region_step's rank threshold). */
static double gauss_newton_gain(const trf *t)
{
    if (t->bk) return blocks_gauss_newton_gain(t->bk); /* the hat factor, undamped */
    double gain = 0;
    for (int i = 0; i < t->n; i++)
        if (t->s[i] > SOLVE_EPS * (double)t->pb->m * t->s[0]) gain += t->uf[i] * t->uf[i];
    return 0.5 * gain;
}

/* ---- step selection with bounds (SciPy's select_step) ------------------- */

static double select_step(trf *t, const double *R, const double *x, double Delta, double theta)
{
    int n = t->n;
    double *p = t->p, *p_h = t->p_h, *r = t->r, *r_h = t->r_h, *ag = t->ag, *ag_h = t->ag_h;
    for (int i = 0; i < n; i++) t->x_new[i] = x[i] + p[i];
    if (in_bounds(t->x_new, t->lb, t->ub, n)) {
        double value = quadratic(t, R, p_h, t->diag_h);
        memcpy(t->step, p, (size_t)n * sizeof *p);
        memcpy(t->step_h, p_h, (size_t)n * sizeof *p);
        return -value;
    }
    double p_stride = solve_step_to_bound(x, p, t->lb, t->ub, t->n, t->hits);
    for (int i = 0; i < n; i++) { /* reflect the components that hit */
        r_h[i] = t->hits[i] != 0 ? -p_h[i] : p_h[i];
        r[i] = t->d[i] * r_h[i];
        p[i] *= p_stride;
        p_h[i] *= p_stride;
    }
    double to_tr_lo, to_tr;
    intersect_ball(p_h, r_h, n, Delta, &to_tr_lo, &to_tr);
    for (int i = 0; i < n; i++) t->x_new[i] = x[i] + p[i];
    double to_bound = solve_step_to_bound(t->x_new, r, t->lb, t->ub, t->n, NULL);
    double r_stride = fmin(to_bound, to_tr), r_lo, r_hi;
    if (r_stride > 0) {
        r_lo = (1 - theta) * p_stride / r_stride;
        r_hi = r_stride == to_bound ? theta * to_bound : to_tr;
    } else {
        r_lo = 0;
        r_hi = -1;
    }
    double r_value = INFINITY;
    if (r_lo <= r_hi) {
        double a, b, c;
        quadratic_1d(t, R, r_h, p_h, t->diag_h, &a, &b, &c);
        double u = solve_minimize_1d(a, b, c, r_lo, r_hi, &r_value);
        for (int i = 0; i < n; i++) {
            r_h[i] = p_h[i] + u * r_h[i];
            r[i] = r_h[i] * t->d[i];
        }
    }
    for (int i = 0; i < n; i++) {
        p[i] *= theta;
        p_h[i] *= theta;
    }
    double p_value = quadratic(t, R, p_h, t->diag_h);
    for (int i = 0; i < n; i++) {
        ag_h[i] = -t->g_h[i];
        ag[i] = t->d[i] * ag_h[i];
    }
    double tr_cauchy = Delta / solve_norm(ag_h, n);
    double bound_cauchy = solve_step_to_bound(x, ag, t->lb, t->ub, t->n, NULL);
    double ag_stride = bound_cauchy < tr_cauchy ? theta * bound_cauchy : tr_cauchy;
    double a, b, c, ag_value;
    quadratic_1d(t, R, ag_h, NULL, t->diag_h, &a, &b, &c);
    double u = solve_minimize_1d(a, b, 0, 0, ag_stride, &ag_value);
    for (int i = 0; i < n; i++) {
        ag_h[i] *= u;
        ag[i] *= u;
    }
    const double *s = ag, *s_h = ag_h;
    double value = ag_value;
    if (p_value < r_value && p_value < ag_value) {
        s = p;
        s_h = p_h;
        value = p_value;
    } else if (r_value < p_value && r_value < ag_value) {
        s = r;
        s_h = r_h;
        value = r_value;
    }
    memmove(t->step, s, (size_t)n * sizeof *s);
    memmove(t->step_h, s_h, (size_t)n * sizeof *s);
    return -value;
}

/* ---- the iteration ---------------------------------------------------- */

static size_t trf_work_doubles(int n)
{
    return 27 * (size_t)n + 3 * (size_t)n * (size_t)n + ((size_t)n + 1) * ((size_t)n + 1) +
           svd_robust_work_doubles(2 * n, n);
}

static int alloc_trf(trf *t, int n, const solve_options *opt)
{
    double **vecs[] = {&t->x_new, &t->g,      &t->scale, &t->scale_inv, &t->v,   &t->dv, &t->d,   &t->diag_h,
                       &t->g_h,   &t->s,      &t->uf,    &t->suf,       &t->p,   &t->p_h, &t->r,  &t->r_h,
                       &t->ag,    &t->ag_h,   &t->step,  &t->step_h,    &t->hits, &t->t1,  &t->t2};
    size_t nv = sizeof vecs / sizeof vecs[0];
    if (t->bk) { /* no SVD: the vectors, J s twice and one more R */
        size_t rows = t->bk->rows, bytes = (nv * (size_t)n + 2 * rows + t->bk->R_at[t->bk->nsets]) * sizeof(double);
        double *mem = malloc(bytes);
        if (!mem) return -1;
        t->owned = mem;
        for (size_t i = 0; i < nv; i++) *vecs[i] = mem + i * (size_t)n;
        t->js = mem + nv * (size_t)n;
        t->js0 = t->js + rows;
        t->R_new = t->js0 + rows;
        return 0;
    }
    double *mem = solve_work_take(opt, trf_work_doubles(n) * sizeof(double), &t->owned);
    if (!mem) return -1;
    for (size_t i = 0; i < nv; i++) *vecs[i] = mem + i * (size_t)n;
    t->js = mem + nv * (size_t)n;
    t->js0 = t->js + n;
    t->A = t->js0 + n;
    t->V = t->A + (size_t)(2 * n) * (size_t)n;
    t->R_new = t->V + (size_t)n * (size_t)n;
    t->rhs = t->R_new + ((size_t)n + 1) * ((size_t)n + 1);
    t->svd_work = t->rhs + 2 * (size_t)n;
    return 0;
}

/* g, the scales and an accepted R, from the dense R or the structure. */
static void trf_gradient(const trf *t, const double *R, double *g)
{
    if (t->bk)
        blocks_gradient(t->bk, R, g);
    else
        solve_gradient(R, t->n, g);
}

static void trf_scale(trf *t, const solve_options *opt, const double *R, int first)
{
    if (!t->bk) {
        solve_scale(opt, R, t->n, first, t->scale, t->scale_inv);
        return;
    }
    if (opt->x_scale_jac) blocks_col_norms(t->bk, R, t->t1);
    solve_scale_norms(opt, t->t1, t->n, first, t->scale, t->scale_inv);
}

static void trf_accept(trf *t, const solve_options *opt, double *R)
{
    if (!t->bk) {
        solve_accept(opt, R, t->R_new, t->n, t->g, t->scale, t->scale_inv);
        return;
    }
    memcpy(R, t->R_new, t->bk->R_at[t->bk->nsets] * sizeof *R);
    trf_gradient(t, R, t->g);
    if (opt->x_scale_jac) trf_scale(t, opt, R, 0);
}

/* The hat system's factorization: the SVD, or the structure's undamped
   factor (its rank for trust_region_step). */
static int hat_factor(trf *t, const double *R)
{
    if (!t->bk) return hat_svd(t, R);
    t->full_rank = t->pb->m >= (size_t)t->n && blocks_factor(t->bk, R, t->d, t->bounded ? t->diag_h : NULL, 0);
    t->f_alpha = 0;
    return 0;
}

int solve_trf(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res)
{
    int n = pb->n;
    trf t;
    memset(&t, 0, sizeof t);
    t.pb = pb;
    t.n = n;
    t.nc = (size_t)n + 1;
    t.lb = pb->lb;
    t.ub = pb->ub;
    t.bk = pb->blocks;
    t.jrows = t.bk ? (int)t.bk->rows : n;
    for (int i = 0; pb->lb && i < n; i++)
        if (isfinite(pb->lb[i]) || isfinite(pb->ub[i])) t.bounded = 1;
    if (alloc_trf(&t, n, opt) != 0) return -1;
    memset(res, 0, sizeof *res);
    if (t.bounded) make_strictly_feasible(x, t.lb, t.ub, n, 1e-10);

    double cost;
    if (pb->evaluate(pb->ctx, x, &cost, R) != 0) {
        res->start_nonfinite = 1;
        res->status = -1;
        free(t.owned);
        return 0;
    }
    int nfev = 1, njev = 1;
    solve_budget budget;
    solve_budget_init(&budget, opt->max_nfev, 100 * n, cost);
    trf_gradient(&t, R, t.g);
    trf_scale(&t, opt, R, 1);
    cl_scaling(&t, x, t.g, t.v, t.dv);
    for (int i = 0; i < n; i++) {
        double vi = t.dv[i] != 0 ? t.v[i] * t.scale_inv[i] : t.v[i];
        t.t1[i] = x[i] * t.scale_inv[i] / sqrt(vi);
    }
    double Delta = solve_norm(t.t1, n);
    if (Delta == 0) Delta = 1;
    double alpha = 0, g_norm = 0, step_norm = 0;
    int status = SOLVE_RUNNING, iteration = 0;

    for (;;) {
        cl_scaling(&t, x, t.g, t.v, t.dv);
        for (int i = 0; i < n; i++) t.t1[i] = t.g[i] * t.v[i];
        g_norm = solve_norm_inf(t.t1, n);
        if (g_norm < opt->gtol) status = 1;
        if (status != SOLVE_RUNNING || solve_budget_spent(&budget, nfev, cost)) break;
        for (int i = 0; i < n; i++) {
            if (t.dv[i] != 0) t.v[i] *= t.scale_inv[i];
            t.d[i] = sqrt(t.v[i]) * t.scale[i];
            t.diag_h[i] = t.g[i] * t.dv[i] * t.scale[i];
            t.g_h[i] = t.d[i] * t.g[i];
        }
        if (hat_factor(&t, R) != 0) {
            status = SOLVE_SVD_FAILED; /* never max_nfev: it was not reached */
            break;
        }
        double theta = fmax(0.995, 1 - g_norm), gn_gain = gauss_newton_gain(&t);
        double ared = -1, cost_new = cost;
        while (ared <= 0 && !solve_budget_spent(&budget, nfev, cost)) {
            trust_region_step(&t, R, Delta, &alpha, t.p_h);
            for (int i = 0; i < n; i++) t.p[i] = t.d[i] * t.p_h[i];
            double pred;
            if (t.bounded) {
                pred = select_step(&t, R, x, Delta, theta);
            } else {
                memcpy(t.step, t.p, (size_t)n * sizeof(double));
                memcpy(t.step_h, t.p_h, (size_t)n * sizeof(double));
                pred = -quadratic(&t, R, t.step_h, NULL);
            }
            for (int i = 0; i < n; i++) t.x_new[i] = x[i] + t.step[i];
            if (t.bounded) make_strictly_feasible(t.x_new, t.lb, t.ub, n, 0);
            int bad = pb->evaluate(pb->ctx, t.x_new, &cost_new, t.R_new);
            nfev++;
            double step_h_norm = solve_norm(t.step_h, n);
            if (bad) {
                Delta = 0.25 * step_h_norm;
                continue;
            }
            ared = cost - cost_new;
            double ratio;
            double Delta_new = solve_update_radius(Delta, ared, pred, step_h_norm, step_h_norm > 0.95 * Delta, &ratio);
            step_norm = solve_norm(t.step, n);
            double x_norm = solve_norm(x, n);
            int st = solve_check_termination(ared, cost, step_norm, x_norm, ratio, opt->ftol, opt->xtol, pred);
            if (!st && solve_no_reduction(gn_gain, ared, cost, step_norm, x_norm)) st = SOLVE_NO_REDUCTION;
            if (st) {
                status = st;
                break;
            }
            alpha *= Delta / Delta_new;
            Delta = Delta_new;
        }
        if (ared > 0) {
            memcpy(x, t.x_new, (size_t)n * sizeof(double));
            trf_accept(&t, opt, R);
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
    free(t.owned);
    return 0;
}
