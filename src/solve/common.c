/* Pieces every solver uses: gradient and products from R_aug, SciPy's
   termination test and trust-region radius update. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "solve.h"

void solve_gradient(const double *R, int n, double *g)
{
    size_t nc = (size_t)n + 1;
    const double *qtf = R + (size_t)n * nc;
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i <= j; i++) s += R[(size_t)j * nc + i] * qtf[i];
        g[j] = s;
    }
}

void solve_r11_times(const double *R, int n, const double *v, double *out)
{
    size_t nc = (size_t)n + 1;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = i; j < n; j++) s += R[(size_t)j * nc + i] * v[j];
        out[i] = s;
    }
}

/* SciPy's test, plus MINPACK's form of the ftol test: the predicted and
   the actual reduction are both within ftol of F. Near the rounding floor
   the actual reduction is noise and the ratio meaningless; the model's own
   prediction still says that no further progress is possible. */
int solve_check_termination(double dF, double F, double dx_norm, double x_norm, double ratio, double ftol, double xtol,
                            double pred)
{
    int ftol_ok = (dF < ftol * F && ratio > 0.25) || (pred <= ftol * F && fabs(dF) <= ftol * F);
    int xtol_ok = dx_norm < xtol * (xtol + x_norm);
    if (ftol_ok && xtol_ok) return 4;
    if (ftol_ok) return 2;
    if (xtol_ok) return 3;
    return 0;
}

int solve_no_reduction(double gn_gain, double ared, double F, double step_norm, double x_norm)
{
    const double floor = 4 * SOLVE_EPS;
    int cost_floor = gn_gain <= floor * F && ared <= floor * F;
    int x_floor = ared <= 0 && step_norm <= floor * x_norm;
    return cost_floor || x_floor;
}

void solve_budget_init(solve_budget *b, int max_nfev, int window, double cost)
{
    b->limit = max_nfev > 0 ? max_nfev : window;
    b->window = max_nfev > 0 ? 0 : window;
    b->windows = 1;
    b->window_cost = cost;
}

int solve_budget_spent(solve_budget *b, int nfev, double cost)
{
    if (nfev < b->limit) return 0;
    int progressed = b->window_cost - cost > SOLVE_PROGRESS_RTOL * b->window_cost;
    if (b->window == 0 || !progressed || b->windows >= SOLVE_MAX_WINDOWS) return 1;
    b->limit += b->window;
    b->windows++;
    b->window_cost = cost;
    return 0;
}

double solve_update_radius(double Delta, double ared, double pred, double step_norm, int bound_hit, double *ratio)
{
    if (pred > 0)
        *ratio = ared / pred;
    else if (pred == 0 && ared == 0)
        *ratio = 1;
    else
        *ratio = 0;
    if (*ratio < 0.25) return 0.25 * step_norm;
    if (*ratio > 0.75 && bound_hit) return 2 * Delta;
    return Delta;
}

static double bound_step(double x, double s, double lb, double ub)
{
    return s != 0 ? fmax((lb - x) / s, (ub - x) / s) : INFINITY;
}

double solve_step_to_bound(const double *x, const double *s, const double *lb, const double *ub, int n, double *hits)
{
    double best = INFINITY;
    for (int i = 0; i < n; i++) best = fmin(best, bound_step(x[i], s[i], lb[i], ub[i]));
    for (int i = 0; hits && i < n; i++)
        hits[i] = bound_step(x[i], s[i], lb[i], ub[i]) == best ? (s[i] > 0 ? 1 : s[i] < 0 ? -1 : 0) : 0;
    return best;
}

double solve_minimize_1d(double a, double b, double c, double lo, double hi, double *value)
{
    double ts[3] = {lo, hi, 0};
    int k = 2;
    if (a != 0) {
        double e = -0.5 * b / a;
        if (lo < e && e < hi) ts[k++] = e;
    }
    double best_t = ts[0], best = ts[0] * (a * ts[0] + b) + c;
    for (int i = 1; i < k; i++) {
        double y = ts[i] * (a * ts[i] + b) + c;
        if (y < best) {
            best = y;
            best_t = ts[i];
        }
    }
    *value = best;
    return best_t;
}

/* One scale from the column norm s (x_scale='jac'), or the given one. */
static void scale_one(const solve_options *opt, int j, double s, int first, double *scale, double *scale_inv)
{
    if (!opt->x_scale_jac) {
        scale[j] = opt->x_scale ? opt->x_scale[j] : 1;
        scale_inv[j] = 1 / scale[j];
        return;
    }
    if (first && s == 0) s = 1;
    if (!first) s = fmax(s, scale_inv[j]);
    scale_inv[j] = s;
    scale[j] = 1 / s;
}

void solve_scale(const solve_options *opt, const double *R, int n, int first, double *scale, double *scale_inv)
{
    for (int j = 0; j < n; j++)
        scale_one(opt, j, opt->x_scale_jac ? nk_norm(R + (size_t)j * (size_t)(n + 1), (size_t)j + 1) : 0, first, scale,
                  scale_inv);
}

void solve_scale_norms(const solve_options *opt, const double *norms, int n, int first, double *scale,
                       double *scale_inv)
{
    for (int j = 0; j < n; j++) scale_one(opt, j, opt->x_scale_jac ? norms[j] : 0, first, scale, scale_inv);
}

void solve_accept(const solve_options *opt, double *R, const double *R_new, int n, double *g, double *scale,
                  double *scale_inv)
{
    size_t nc = (size_t)n + 1;
    memcpy(R, R_new, nc * nc * sizeof *R);
    solve_gradient(R, n, g);
    if (opt->x_scale_jac) solve_scale(opt, R, n, 0, scale, scale_inv);
}

int solve_callback_stops(const solve_options *opt, int iteration, double cost, const double *x, double grad_norm,
                         double step_norm)
{
    return opt->callback && opt->callback(opt->callback_ctx, iteration, cost, x, grad_norm, step_norm);
}

void solve_finish(solve_result *res, double cost, double grad_norm, int status, int nfev, int njev, int nit)
{
    res->cost = cost;
    res->grad_norm = grad_norm;
    res->status = status == SOLVE_RUNNING ? 0 : status;
    res->nfev = nfev;
    res->njev = njev;
    res->nit = nit;
}

double solve_norm(const double *x, int n)
{
    return nk_norm(x, (size_t)n);
}

double solve_norm_inf(const double *x, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double a = fabs(x[i]);
        if (a > m || isnan(a)) m = a;
    }
    return m;
}

/* The largest of the three solvers' needs (trf's, lm's, dogbox's arrays
   in solve_*.c, the same sums; a little over 6n^2 + 35n doubles). */
size_t solve_work_bytes(int n)
{
    size_t nn = (size_t)n, nc = nn + 1;
    size_t trf = 27 * nn + 3 * nn * nn + nc * nc + svd_robust_work_doubles(2 * n, n), lm = nn * nn + 12 * nn + 2 * nc * nc,
           dogbox = 23 * nn + 2 * nn * nn + nc * nc + svd_robust_work_doubles(n, n);
    size_t most = trf > lm ? trf : lm;
    return (most > dogbox ? most : dogbox) * sizeof(double);
}

void *solve_work_take(const solve_options *opt, size_t bytes, void **owned)
{
    *owned = NULL;
    if (opt->work) return memset(opt->work, 0, bytes);
    return *owned = calloc(1, bytes);
}
