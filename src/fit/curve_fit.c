/*
 * nlsq_curve_fit: SciPy's curve_fit on arrays. It checks the arguments and
 * the data; arrays with no sigma, a scalar or per-point sigma are a source
 * fitted by fit_source.c; a covariance sigma (an m x m matrix) whitens the
 * rows by its Cholesky factor here, which needs all rows at once. The set-up
 * and the solver run are problem.c's, the result result.c's.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "fit.h"
#include "linalg/linalg.h"
#include "solve/solve.h"

#define fail(err, ...) fit_fail(fp, err, __VA_ARGS__)

/* ---- checks ----------------------------------------------------------- */

/* Whether v[0..n) is all finite: sum(v*0) is NaN exactly when some v is
   Inf or NaN, and four independent partial sums let the loop vectorise. */
static int all_finite(const double *v, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += v[i] * 0.0;
        s1 += v[i + 1] * 0.0;
        s2 += v[i + 2] * 0.0;
        s3 += v[i + 3] * 0.0;
    }
    for (; i < n; i++) s0 += v[i] * 0.0;
    return !isnan(s0 + s1 + s2 + s3);
}

static nlsq_status check_data(const fit_problem *fp, nlsq_error *err)
{
    const nlsq_data *d = fp->data;
    int k = fp->model->vars.count;
    if (d->sigma_kind == NLSQ_SIGMA_SCALAR && !(d->sigma[0] > 0 && isfinite(d->sigma[0])))
        return fail(err, NLSQ_ERR_DATA, "sigma must be positive and finite, got %g", d->sigma[0]);
    if (d->sigma_kind == NLSQ_SIGMA_PER_POINT)
        for (size_t i = 0; i < d->m; i++)
            if (!(d->sigma[i] > 0) && !(fp->omit && isnan(d->sigma[i])))
                return fail(err, NLSQ_ERR_DATA, "sigma[%zu] = %g: sigma must be positive", i, d->sigma[i]);
    if (fp->opt.nan_policy != NLSQ_NAN_RAISE) return NLSQ_OK;
    int finite = all_finite(d->y, d->m) && (d->sigma_kind != NLSQ_SIGMA_PER_POINT || all_finite(d->sigma, d->m));
    for (int v = 0; finite && v < k; v++) finite = all_finite(d->x + (size_t)v * d->m, d->m);
    /* only when something is not finite: find the first, to name it */
    for (size_t i = 0; !finite && i < d->m; i++) {
        if (!isfinite(d->y[i])) return fail(err, NLSQ_ERR_DATA, "y[%zu] is %g (nan_policy raise)", i, d->y[i]);
        for (int v = 0; v < k; v++)
            if (!isfinite(d->x[(size_t)v * d->m + i]))
                return fail(err, NLSQ_ERR_DATA, "%s[%zu] is %g (nan_policy raise)", fp->model->vars.names[v], i,
                            d->x[(size_t)v * d->m + i]);
        if (d->sigma_kind == NLSQ_SIGMA_PER_POINT && !isfinite(d->sigma[i]))
            return fail(err, NLSQ_ERR_DATA, "sigma[%zu] is %g (nan_policy raise)", i, d->sigma[i]);
    }
    if (d->sigma_kind == NLSQ_SIGMA_COVARIANCE)
        for (size_t i = 0; i < d->m * d->m; i++)
            if (!isfinite(d->sigma[i]))
                return fail(err, NLSQ_ERR_DATA, "sigma[%zu][%zu] is %g (nan_policy raise)", i / d->m, i % d->m,
                            d->sigma[i]);
    return NLSQ_OK;
}

/* ---- evaluation for the solvers ----------------------------------------- */

/* Covariance sigma: r = L^-1 (f - y), J <- L^-1 J, over the whole data. */
static int evaluate_whitened(void *ctx, const double *x_free, double *cost, double *R)
{
    fit_problem *fp = ctx;
    fit_fill_params(fp, x_free);
    const nlsq_data *d = fp->data;
    size_t m = d->m;
    int n = fp->n, nf = fp->n_free, nc = nf + 1;
    if (nlsq_model_eval(fp->model, fp->p, d->x, m, fp->wf, fp->wJ, NULL) != NLSQ_OK) return 1;
    double *A = fp->wA; /* m x nc column-major */
    for (size_t i = 0; i < m; i++) A[(size_t)nf * m + i] = fp->wf[i] - d->y[i];
    for (int k = 0; k < nf; k++)
        for (size_t i = 0; i < m; i++) A[(size_t)k * m + i] = fp->wJ[i * (size_t)n + (size_t)fp->free_idx[k]];
    for (int c = 0; c < nc; c++) tri_solve_lower(fp->L, m, (int)m, A + (size_t)c * m);
    double c2 = 0;
    int bad = 0;
    for (size_t i = 0; i < m; i++) {
        double r = A[(size_t)nf * m + i];
        double s = 1;
        if (fp->opt.loss == NLSQ_LOSS_LINEAR)
            c2 += 0.5 * r * r;
        else
            s = loss_scale_row(fp->opt.loss, fp->opt.f_scale, &A[(size_t)nf * m + i], &c2);
        for (int k = 0; k < nf; k++) {
            A[(size_t)k * m + i] *= s;
            bad |= !isfinite(A[(size_t)k * m + i]);
        }
        bad |= !isfinite(A[(size_t)nf * m + i]);
    }
    memset(R, 0, (size_t)nc * (size_t)nc * sizeof *R);
    qr_fold(R, (size_t)nc, nc, A, m, m);
    *cost = c2;
    return bad || !isfinite(c2);
}

/* ---- setup of the weighting ---------------------------------------------- */

static nlsq_status setup_covariance_sigma(fit_problem *fp, nlsq_error *err)
{
    size_t m = fp->data->m;
    int n = fp->n;
    if (fp->omit) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nan_policy omit cannot be used with a covariance sigma");
    if (m > 0 && (m > SIZE_MAX / sizeof(double) / m ||
                  m * m * sizeof(double) + m * (size_t)(2 * n + 3) * sizeof(double) > host_available_memory() / 2))
        return fail(
            err, NLSQ_ERR_NOMEM,
            "a %zu x %zu covariance sigma needs %.3g GB, more than half the available memory; with "
            "independent errors give per-point sigma (its diagonal's square roots), which needs no m x m matrix",
            m, m, (double)m * (double)m * 8e-9);
    fp->L = malloc(m * m * sizeof *fp->L);
    fp->wf = malloc(m * sizeof *fp->wf);
    fp->wJ = malloc(m * (size_t)n * sizeof *fp->wJ);
    fp->wA = malloc(m * (size_t)(fp->n_free + 1) * sizeof *fp->wA);
    if (!fp->L || !fp->wf || !fp->wJ || !fp->wA) return fail(err, NLSQ_ERR_NOMEM, "out of memory for sigma");
    memcpy(fp->L, fp->data->sigma, m * m * sizeof *fp->L);
    int bad = chol_factor(fp->L, m, (int)m);
    if (bad) return fail(err, NLSQ_ERR_DATA, "sigma is not positive definite (leading minor %d)", bad);
    return NLSQ_OK;
}

static nlsq_status check_arguments(const nlsq_model *model, const nlsq_data *data, nlsq_result **out, nlsq_error *err)
{
    const fit_problem *fp = NULL;
    if (!model || !data || !out)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s is NULL", !model ? "model" : !data ? "data" : "out");
    if (data->m > 0 && (!data->y || (!data->x && model->vars.count > 0)))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "data %s is NULL", !data->y ? "y" : "x");
    if (data->sigma_kind != NLSQ_SIGMA_NONE && !data->sigma)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "sigma_kind is set but sigma is NULL");
    if ((int)data->sigma_kind < 0 || data->sigma_kind > NLSQ_SIGMA_COVARIANCE)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown sigma_kind %d", (int)data->sigma_kind);
    if (model->params.count == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the model has no parameters");
    return NLSQ_OK;
}

/* A covariance sigma: the rows are whitened by its Cholesky factor, which
   needs all of them at once, so this path stays on the caller's arrays. */
static nlsq_status fit_covariance(fit_problem *fp, nlsq_result **out, nlsq_error *err)
{
    nlsq_status st;
    if ((st = fit_alloc(fp, err)) != NLSQ_OK) return st;
    if ((st = check_data(fp, err)) != NLSQ_OK) return st;
    if ((st = fit_setup_parameters(fp, err)) != NLSQ_OK) return st;
    fp->m_used = fp->data->m;
    if ((st = fit_choose_method(fp, err)) != NLSQ_OK) return st;
    nlsq_backend backend = fp->opt.backend;
    if ((st = fit_choose_backend(fp, &backend, err)) != NLSQ_OK) return st;
    if ((st = setup_covariance_sigma(fp, err)) != NLSQ_OK) return st;
    fp->sst = fit_sst_arrays(fp->data);
    solve_problem pb = {fp->n_free, fp->m_used, evaluate_whitened, fp, NULL, NULL, NULL, 0, NULL};
    return fit_solve(fp, &pb, out, err);
}

nlsq_status nlsq_curve_fit(const nlsq_model *model, const nlsq_data *data, const nlsq_options *options,
                           nlsq_result **out, nlsq_error *err)
{
    error_clear(err);
    nlsq_status st = check_arguments(model, data, out, err);
    if (st != NLSQ_OK) return st;
    *out = NULL;
    if (data->sigma_kind != NLSQ_SIGMA_COVARIANCE) return fit_arrays(model, data, options, out, err);
    fit_problem fp;
    memset(&fp, 0, sizeof fp);
    fp.model = model;
    fp.data = data;
    fp.who = "nlsq_curve_fit";
    fp.m_total = data->m;
    fp.covariance = 1;
    fp.opt = options ? *options : nlsq_options_default();
    snprintf(fp.device, sizeof fp.device, "cpu");
    snprintf(fp.device_note, sizeof fp.device_note, "a covariance sigma is whitened on the CPU");
    if ((st = fit_check_options(&fp, err)) == NLSQ_OK) {
        if (fp.opt.checkpoint)
            st = fit_fail(&fp, err, NLSQ_ERR_INVALID_ARGUMENT, "checkpoints are not offered with a covariance sigma");
        else
            st = fit_covariance(&fp, out, err);
    }
    fit_free_problem(&fp);
    return st;
}
