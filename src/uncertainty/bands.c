/*
 * Parameter intervals and the confidence and prediction bands of a fit
 * (docs/uncertainty.md). Both scale a standard deviation by one critical
 * value: Student-t with the fit's degrees of freedom when pcov carries the
 * estimate chi2/dof, the normal when sigma is absolute. The bands' standard
 * deviations come from the delta method with the model's exact Jacobian at
 * each x, evaluated block by block so that any number of points streams
 * through a fixed workspace.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>

#include "core/core.h"
#include "exec/exec.h"

/* Points evaluated at once: J of a block of 4096 points and 8 parameters
   is 256 KiB, a size the evaluator handles in its own blocks anyway.
   Blocks are the unit of the threads too. */
#define BAND_BLOCK 4096

static nlsq_status check_level(double level, nlsq_error *err)
{
    if (level > 0 && level < 1) return NLSQ_OK;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
              "level %g is outside (0, 1): give the probability the interval covers, e.g. 0.95", level);
    return NLSQ_ERR_INVALID_ARGUMENT;
}

nlsq_status nlsq_result_critical(const nlsq_result *r, double level, double *critical, nlsq_error *err)
{
    error_clear(err);
    if (!r || !critical) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_result_critical: result and critical must not be NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_status st = check_level(level, err);
    if (st != NLSQ_OK) return st;
    double p = 0.5 + 0.5 * level; /* two-sided: (1 + level)/2, without 1 + level's rounding */
    if (r->absolute_sigma) {
        *critical = nlsq_normal_quantile(p);
        return NLSQ_OK;
    }
    if (r->dof <= 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "the fit has %d degrees of freedom: a t interval needs at least one (more points than free "
                  "parameters), or absolute sigma",
                  r->dof);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *critical = nlsq_t_quantile(p, (double)r->dof);
    return NLSQ_OK;
}

/* Parameter j's interval popt_j -/+ q perr_j: the point itself for a
   fixed parameter (perr 0), infinite without a valid pcov. */
static void interval_at(const nlsq_result *r, double q, int j, double *lower, double *upper)
{
    double half = r->pcov_valid ? q * r->perr[j] : INFINITY;
    *lower = r->perr[j] == 0 && r->pcov_valid ? r->popt[j] : r->popt[j] - half;
    *upper = r->perr[j] == 0 && r->pcov_valid ? r->popt[j] : r->popt[j] + half;
}

nlsq_status nlsq_result_intervals(const nlsq_result *r, double level, double *lower, double *upper, nlsq_error *err)
{
    double q;
    if (!r || !lower || !upper) {
        error_clear(err);
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_result_intervals: result, lower and upper must not be NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_status st = nlsq_result_critical(r, level, &q, err);
    if (st != NLSQ_OK) return st;
    for (int j = 0; j < r->n; j++) interval_at(r, q, j, &lower[j], &upper[j]);
    return NLSQ_OK;
}

nlsq_status nlsq_result_interval(const nlsq_result *r, double level, int j, double *lower, double *upper,
                                 nlsq_error *err)
{
    double q;
    nlsq_status st = nlsq_result_critical(r, level, &q, err);
    if (st != NLSQ_OK) return st;
    if (j < 0 || j >= r->n || !lower || !upper) {
        error_clear(err);
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_result_interval: parameter %d is not one of the %d, or lower/upper is NULL", j, r->n);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    interval_at(r, q, j, lower, upper);
    return NLSQ_OK;
}

/* g^T pcov g over the parameters whose gradient entry is not zero (fixed
   ones have zero rows in pcov; skipping zeros also keeps a component's
   band free of the other components' columns). */
static double quadratic_form(const double *pcov, int n, const double *g)
{
    double s = 0;
    for (int a = 0; a < n; a++) {
        if (g[a] == 0) continue;
        double row = 0;
        for (int b = 0; b < n; b++)
            if (g[b] != 0) row += pcov[(size_t)a * (size_t)n + (size_t)b] * g[b];
        s += g[a] * row;
    }
    return s;
}

/* The measurement variance at a point (see nlsq_band in nlsq.h). */
static double measurement_variance(const nlsq_result *r, const double *sigma, size_t i)
{
    double scale = r->absolute_sigma ? 1.0 : r->redchi;
    return sigma ? sigma[i] * sigma[i] * scale : scale;
}

static nlsq_status check_band_args(const nlsq_model *model, const nlsq_result *r, const double *x, size_t npoints,
                                   const double *sigma, nlsq_error *err)
{
    if (!model || !r || (!x && npoints)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_band: model, result and x must not be NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (nlsq_model_num_params(model) != r->n) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_band: the model has %d parameters but the fit has %d (give the fitted model, or one of "
                  "its components)",
                  nlsq_model_num_params(model), r->n);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; sigma && i < npoints; i++)
        if (!(sigma[i] > 0) || isinf(sigma[i])) {
            error_set(err, NLSQ_ERR_DATA, 0, 0,
                      "nlsq_band: sigma[%zu] is %g; a measurement's sigma must be > 0 and finite", i, sigma[i]);
            return NLSQ_ERR_DATA;
        }
    return NLSQ_OK;
}

/* One band evaluation: the inputs, the outputs, and per worker a
   workspace for a block (x rows, f, J) and the first error. */
typedef struct band_job {
    const nlsq_model *model;
    const nlsq_result *r;
    const double *x, *sigma;
    size_t npoints;
    int k;
    double *f, *se_conf, *se_pred;
    double **ws;     /* per worker: BAND_BLOCK * (k + 1 + n) doubles */
    nlsq_status *st; /* per worker */
    nlsq_error *err; /* per worker */
} band_job;

/* Block `task`: the points [task*BAND_BLOCK, ...), the same blocks for any
   number of threads, so every result is the same bitwise. */
static void band_block(void *ctx, int task, int worker)
{
    band_job *b = ctx;
    if (b->st[worker] != NLSQ_OK) return;
    const nlsq_result *r = b->r;
    int n = r->n, k = b->k;
    size_t first = (size_t)task * BAND_BLOCK, cnt = b->npoints - first < BAND_BLOCK ? b->npoints - first : BAND_BLOCK;
    double *xb = b->ws[worker], *fb = xb + (size_t)BAND_BLOCK * (size_t)(k ? k : 1), *J = fb + BAND_BLOCK;
    for (int v = 0; v < k; v++) memcpy(xb + (size_t)v * cnt, b->x + (size_t)v * b->npoints + first, cnt * sizeof *xb);
    nlsq_status st = nlsq_model_eval(b->model, r->popt, xb, cnt, fb, J, &b->err[worker]);
    if (st != NLSQ_OK) {
        b->st[worker] = st;
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        double var = r->pcov_valid ? quadratic_form(r->pcov, n, J + i * (size_t)n) : INFINITY;
        if (b->f) b->f[first + i] = fb[i];
        if (b->se_conf) b->se_conf[first + i] = sqrt(var);
        if (b->se_pred) b->se_pred[first + i] = sqrt(var + measurement_variance(r, b->sigma, first + i));
    }
}

/* Threads for nblocks blocks: one below BAND_PARALLEL_BLOCKS (a pool costs
   more than it saves), else host_threads' rule ($NLSQ_THREADS or every
   core), at most one a block. */
#define BAND_PARALLEL_BLOCKS 4

nlsq_status nlsq_band_stderr(const nlsq_model *model, const nlsq_result *r, const double *x, size_t npoints,
                             const double *sigma, double *f, double *se_conf, double *se_pred, nlsq_error *err)
{
    error_clear(err);
    nlsq_status st = check_band_args(model, r, x, npoints, sigma, err);
    if (st != NLSQ_OK || npoints == 0) return st;
    size_t nblocks = (npoints + BAND_BLOCK - 1) / BAND_BLOCK;
    if (nblocks > INT_MAX) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_band: %zu points are too many", npoints);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    int threads = nblocks < BAND_PARALLEL_BLOCKS ? 1 : host_threads(0, (long)nblocks);
    int k = nlsq_model_num_vars(model);
    band_job b = {model,
                  r,
                  x,
                  sigma,
                  npoints,
                  k,
                  f,
                  se_conf,
                  se_pred,
                  calloc((size_t)threads, sizeof(double *)),
                  calloc((size_t)threads, sizeof(nlsq_status)),
                  calloc((size_t)threads, sizeof(nlsq_error))};
    pool *p = threads > 1 ? pool_new(threads) : NULL;
    int ok = b.ws && b.st && b.err && (threads == 1 || p);
    for (int w = 0; ok && w < threads; w++)
        ok = (b.ws[w] = malloc((size_t)BAND_BLOCK * (size_t)((k ? k : 1) + 1 + r->n) * sizeof(double))) != NULL;
    if (!ok) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_band: out of memory for %d workspaces", threads);
        st = NLSQ_ERR_NOMEM;
    } else {
        pool_run(p, band_block, &b, (int)nblocks);
        for (int w = 0; w < threads && st == NLSQ_OK; w++)
            if (b.st[w] != NLSQ_OK) {
                st = b.st[w];
                if (err) *err = b.err[w];
            }
    }
    for (int w = 0; b.ws && w < threads; w++) free(b.ws[w]);
    free(b.ws);
    free(b.st);
    free(b.err);
    pool_free(p);
    return st;
}

nlsq_status nlsq_band(const nlsq_model *model, const nlsq_result *r, const double *x, size_t npoints,
                      nlsq_band_kind kind, double level, const double *sigma, double *f, double *lower, double *upper,
                      nlsq_error *err)
{
    double q;
    error_clear(err);
    if (!r) { /* here, not in nlsq_result_critical: the message names the caller's function */
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_band: model, result and x must not be NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if ((!lower) != (!upper) || (kind != NLSQ_BAND_CONFIDENCE && kind != NLSQ_BAND_PREDICTION)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_band: give both lower and upper (or neither), and a kind of NLSQ_BAND_CONFIDENCE or "
                  "NLSQ_BAND_PREDICTION");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_status st = nlsq_result_critical(r, level, &q, err);
    if (st != NLSQ_OK) return st;
    /* the model's values go to f, or to the caller's lower when f is NULL,
       and the standard deviation to upper; both are then turned into the
       limits in place, so no array of npoints is allocated here */
    double *fv = f ? f : lower, *se = upper;
    if (!fv) return nlsq_band_stderr(model, r, x, npoints, sigma, NULL, NULL, NULL, err);
    double *conf = kind == NLSQ_BAND_CONFIDENCE ? se : NULL, *pred = kind == NLSQ_BAND_PREDICTION ? se : NULL;
    if (!se) return nlsq_band_stderr(model, r, x, npoints, sigma, fv, NULL, NULL, err);
    st = nlsq_band_stderr(model, r, x, npoints, sigma, fv, conf, pred, err);
    if (st != NLSQ_OK) return st;
    for (size_t i = 0; i < npoints; i++) {
        double half = q * se[i], value = fv[i];
        lower[i] = value - half;
        upper[i] = value + half;
    }
    return NLSQ_OK;
}
