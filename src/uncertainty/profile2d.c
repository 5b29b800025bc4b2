/*
 * 2-D profile of a parameter pair (lmfit's conf_interval2d): both held on
 * a grid, the others re-fitted, warm-started outward from the centre so
 * every refit starts next to a solved neighbour. Each chain of refits is a
 * fixed sequence, so the grid is the same for any thread count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "exec/exec.h"
#include "profile.h"

nlsq_profile2d_options nlsq_profile2d_options_default(void)
{
    nlsq_profile2d_options o;
    memset(&o, 0, sizeof o);
    o.nx = o.ny = 21;
    o.span = 4;
    o.a_min = o.a_max = o.b_min = o.b_max = NAN;
    return o;
}

void nlsq_profile2d_result_free(nlsq_profile2d_result *res)
{
    if (!res) return;
    free(res->a_values);
    free(res->b_values);
    free(res->chi2);
    free(res->prob);
    free(res);
}

typedef struct grid_job {
    prof_ctx *c;
    nlsq_profile2d_result *res;
    double *P;           /* ny x nx x n: each point's parameters       */
    unsigned char *hold; /* nthreads x n                                */
    int ci, cj;          /* the centre                                  */
    int fit_threads;
    int phase;            /* 0: the centre row; 1: the columns           */
    int *refits, *failed; /* per task                                    */
    char (*why)[300];     /* per task: the first failure                 */
} grid_job;

/* Refit at grid point (i, j), started from the chain's previous point
   warm, extrapolated linearly from the one before it (prev, or NULL) where
   that stays within the bounds: the steps are equal. */
static void grid_point(grid_job *g, int task, int i, int j, const double *warm, const double *prev, unsigned char *hold)
{
    prof_ctx *c = g->c;
    nlsq_profile2d_result *r = g->res;
    int n = c->n;
    size_t at = (size_t)j * r->nx + i;
    double *p = g->P + at * n;
    memcpy(p, warm, (size_t)n * sizeof *p);
    for (int q = 0; prev && q < n; q++) {
        double v = 2 * warm[q] - prev[q];
        double lo = c->base.lower ? c->base.lower[q] : -INFINITY, hi = c->base.upper ? c->base.upper[q] : INFINITY;
        if (!hold[q] && isfinite(v) && v > lo && v < hi) p[q] = v;
    }
    p[r->a] = r->a_values[i];
    p[r->b] = r->b_values[j];
    double chi2 = NAN;
    char why[240];
    g->refits[task]++;
    if (prof_refit(c, p, hold, g->fit_threads, &chi2, why, sizeof why) != 0) {
        g->failed[task]++;
        chi2 = NAN;
        memcpy(p, warm, (size_t)n * sizeof *p); /* the next point starts from the last good one */
        if (!g->why[task][0])
            snprintf(g->why[task], sizeof g->why[task], "the refit at %s = %.10g, %s = %.10g failed: %.200s",
                     nlsq_model_param_name(c->model, r->a), r->a_values[i], nlsq_model_param_name(c->model, r->b),
                     r->b_values[j], why);
    }
    r->chi2[at] = chi2;
}

static void grid_task(void *ctx, int task, int worker)
{
    grid_job *g = ctx;
    prof_ctx *c = g->c;
    nlsq_profile2d_result *r = g->res;
    int n = c->n;
    unsigned char *hold = g->hold + (size_t)worker * n;
    const double *popt = c->fit->popt;
    if (g->phase == 0) {
        /* the centre row: task 0 from the centre leftward, 1 rightward */
        int j = g->cj;
        const double *warm = popt, *prev = NULL;
        if (task == 0) {
            for (int i = g->ci; i >= 0; i--) {
                grid_point(g, task, i, j, warm, prev, hold);
                prev = i < g->ci ? warm : NULL;
                warm = g->P + ((size_t)j * r->nx + i) * n;
            }
        } else {
            for (int i = g->ci + 1; i < r->nx; i++) {
                grid_point(g, task, i, j, warm, prev, hold);
                prev = i > g->ci + 1 ? warm : NULL;
                warm = g->P + ((size_t)j * r->nx + i) * n;
            }
        }
        return;
    }
    /* a column from the centre row up (odd task) or down (even) */
    int i = task / 2, up = task % 2;
    const double *warm = g->P + ((size_t)g->cj * r->nx + i) * n, *prev = NULL;
    for (int j = up ? g->cj + 1 : g->cj - 1; up ? j < r->ny : j >= 0; j += up ? 1 : -1) {
        grid_point(g, task, i, j, warm, prev, hold);
        prev = warm;
        warm = g->P + ((size_t)j * r->nx + i) * n;
    }
}

/* The grid along one parameter: explicit, or popt +- span se. */
static nlsq_status grid_axis(const prof_ctx *c, int p, int count, double lo, double hi, double span, double *v,
                             int *centre, const char *who, nlsq_error *err)
{
    double mid = c->fit->popt[p];
    if (!(lo < hi)) {
        double se = c->fit->perr ? c->fit->perr[p] : NAN;
        if (!(se > 0 && isfinite(se))) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                      "%s: parameter '%s' has no standard error to span the grid by; give its range", who,
                      nlsq_model_param_name(c->model, p));
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
        lo = mid - span * se;
        hi = mid + span * se;
        if (c->base.lower && lo < c->base.lower[p]) lo = c->base.lower[p];
        if (c->base.upper && hi > c->base.upper[p]) hi = c->base.upper[p];
    }
    for (int i = 0; i < count; i++) v[i] = count == 1 ? mid : lo + (hi - lo) * i / (count - 1);
    int best = 0;
    for (int i = 1; i < count; i++)
        if (fabs(v[i] - mid) < fabs(v[best] - mid)) best = i;
    *centre = best;
    return NLSQ_OK;
}

nlsq_status nlsq_profile2d_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                  const nlsq_options *opt, const nlsq_result *fit, const char *a, const char *b,
                                  const nlsq_profile2d_options *popt, nlsq_profile2d_result **out, nlsq_error *err)
{
    error_clear(err);
    const char *who = "nlsq_profile2d";
    if (!out || !a || !b) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s is NULL", who, !out ? "out" : !a ? "a" : "b");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    double t0 = host_seconds();
    nlsq_profile2d_options po = popt ? *popt : nlsq_profile2d_options_default();
    if (po.nx < 2 || po.ny < 2 || po.nx > 1000 || po.ny > 1000 || !(po.span > 0)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: the grid needs 2 .. 1000 points each way and a positive span (got %d x %d, span %g)", who, po.nx,
                  po.ny, po.span);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    prof_ctx c;
    nlsq_status st = prof_setup(&c, model, src, cols, opt, fit, po.threads, who, err);
    if (st != NLSQ_OK) return st;
    int ia = prof_find_param(model, a, who, err), ib = ia < 0 ? -1 : prof_find_param(model, b, who, err);
    if (ia < 0 || ib < 0) return NLSQ_ERR_INVALID_ARGUMENT;
    if (ia == ib) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the pair names '%s' twice", who, a);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    const unsigned char *fx = c.base.fixed;
    if (fx && (fx[ia] || fx[ib])) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: parameter '%s' is fixed in the fit: it has no profile",
                  who, fx[ia] ? a : b);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    int n = c.n, nx = po.nx, ny = po.ny;
    nlsq_profile2d_result *r = calloc(1, sizeof *r);
    int ntasks = 2 * nx;
    grid_job g = {&c, r, NULL, NULL, 0, 0, 1, 0, NULL, NULL, NULL};
    if (r) {
        r->a = ia, r->b = ib, r->nx = nx, r->ny = ny;
        r->a_values = malloc((size_t)nx * sizeof(double));
        r->b_values = malloc((size_t)ny * sizeof(double));
        r->chi2 = malloc((size_t)nx * ny * sizeof(double));
        r->prob = malloc((size_t)nx * ny * sizeof(double));
        g.P = malloc((size_t)nx * ny * n * sizeof(double));
        g.hold = malloc((size_t)c.threads * n);
        g.refits = calloc((size_t)ntasks, sizeof(int));
        g.failed = calloc((size_t)ntasks, sizeof(int));
        g.why = calloc((size_t)ntasks, sizeof *g.why);
    }
    if (!r || !r->a_values || !r->b_values || !r->chi2 || !r->prob || !g.P || !g.hold || !g.refits || !g.failed ||
        !g.why) {
        st = NLSQ_ERR_NOMEM;
        error_set(err, st, 0, 0, "%s: out of memory", who);
        goto done;
    }
    if ((st = grid_axis(&c, ia, nx, po.a_min, po.a_max, po.span, r->a_values, &g.ci, who, err)) != NLSQ_OK) goto done;
    if ((st = grid_axis(&c, ib, ny, po.b_min, po.b_max, po.span, r->b_values, &g.cj, who, err)) != NLSQ_OK) goto done;
    for (int t = 0; t < c.threads; t++)
        for (int i = 0; i < n; i++) g.hold[(size_t)t * n + i] = (fx && fx[i]) || i == ia || i == ib;
    {
        /* the centre row on two chains, then every column's two chains */
        int col_threads, K = prof_plan(&c, ntasks, &col_threads);
        pool *pl = K > 1 ? pool_new(K) : NULL;
        /* the row's two chains run at once whenever the pool has room */
        int row_threads = pl && c.threads >= 2 ? c.threads / 2 : c.threads;
        if (!pl) col_threads = c.threads; /* one chain at a time */
        g.phase = 0;
        g.fit_threads = row_threads;
        pool_run(pl, grid_task, &g, 2);
        g.phase = 1;
        g.fit_threads = col_threads;
        pool_run(pl, grid_task, &g, ntasks);
        pool_free(pl);
    }
    for (size_t k = 0; k < (size_t)nx * ny; k++) r->prob[k] = prof_prob(&c, r->chi2[k], 2);
    for (int t = 0; t < ntasks; t++) {
        r->refits += g.refits[t];
        r->failed += g.failed[t];
        if (g.why[t][0] && !r->message[0]) snprintf(r->message, sizeof r->message, "%s", g.why[t]);
    }
    r->chi2_best = c.c0;
    r->dof = c.dof;
    r->absolute_sigma = c.absolute;
    r->seconds = host_seconds() - t0;
done:
    free(g.P), free(g.hold), free(g.refits), free(g.failed), free(g.why);
    if (st != NLSQ_OK) {
        nlsq_profile2d_result_free(r);
        return st;
    }
    *out = r;
    return NLSQ_OK;
}

nlsq_status nlsq_profile2d(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                           const nlsq_result *fit, const char *a, const char *b, const nlsq_profile2d_options *popt,
                           nlsq_profile2d_result **out, nlsq_error *err)
{
    error_clear(err);
    if (out) *out = NULL;
    nlsq_source *src = NULL;
    nlsq_columns cols;
    nlsq_status st = prof_data_source(model, data, &src, &cols, "nlsq_profile2d", err);
    if (st != NLSQ_OK) return st;
    st = nlsq_profile2d_source(model, src, &cols, opt, fit, a, b, popt, out, err);
    nlsq_source_free(src);
    return st;
}
