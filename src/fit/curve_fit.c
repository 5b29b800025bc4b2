/*
 * nlsq_curve_fit: SciPy's curve_fit semantics over the pass and the
 * solvers. This file checks the input, fixes the start point, the method
 * and the weighting, runs the solver on the free parameters, and hands the
 * final R_aug to result.c for the covariance and statistics.
 */
#define _DEFAULT_SOURCE /* sysconf page counts */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/exec.h"
#include "fit.h"
#include "linalg/linalg.h"
#include "solve/solve.h"

nlsq_options nlsq_options_default(void)
{
    nlsq_options o;
    memset(&o, 0, sizeof o);
    o.method = NLSQ_METHOD_AUTO;
    o.loss = NLSQ_LOSS_LINEAR;
    o.f_scale = 1;
    o.ftol = o.xtol = o.gtol = -1; /* the method's default */
    o.nan_policy = NLSQ_NAN_RAISE;
    o.progress_interval = 0.1;
    return o;
}

nlsq_status fit_fail(const fit_problem *fp, nlsq_error *err, nlsq_status code, const char *fmt, ...)
{
    if (err) {
        char what[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        error_set(err, code, 0, 0, "%s: %s", fp && fp->who ? fp->who : "nlsq_curve_fit", what);
    }
    return code;
}

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

/* Bounds, start point (SciPy's default rule) and the free parameters. */
nlsq_status fit_setup_parameters(fit_problem *fp, nlsq_error *err)
{
    int n = fp->n;
    const nlsq_options *o = &fp->opt;
    for (int j = 0; j < n; j++) {
        fp->lb[j] = o->lower ? o->lower[j] : -INFINITY;
        fp->ub[j] = o->upper ? o->upper[j] : INFINITY;
        const char *name = fp->model->params.names[j];
        if (isnan(fp->lb[j]) || isnan(fp->ub[j]) || !(fp->lb[j] < fp->ub[j]))
            return fail(err, NLSQ_ERR_BOUNDS, "bounds of '%s' are [%g, %g]: the lower must be below the upper",
                        name, fp->lb[j], fp->ub[j]);
        if (o->p0 && !isnan(o->p0[j])) { /* NaN: not given, the rule below */
            fp->p[j] = o->p0[j];
            if (!isfinite(fp->p[j])) return fail(err, NLSQ_ERR_BOUNDS, "p0 of '%s' is %g", name, fp->p[j]);
            if (fp->p[j] < fp->lb[j] || fp->p[j] > fp->ub[j])
                return fail(err, NLSQ_ERR_BOUNDS, "p0 of '%s' = %g is outside its bounds [%g, %g]", name, fp->p[j],
                            fp->lb[j], fp->ub[j]);
        } else if (isfinite(fp->lb[j]) && isfinite(fp->ub[j])) {
            fp->p[j] = 0.5 * (fp->lb[j] + fp->ub[j]);
        } else if (isfinite(fp->lb[j])) {
            fp->p[j] = fp->lb[j] + 1;
        } else if (isfinite(fp->ub[j])) {
            fp->p[j] = fp->ub[j] - 1;
        } else {
            fp->p[j] = 1;
        }
        if (o->x_scale && !(o->x_scale[j] > 0 && isfinite(o->x_scale[j])))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "x_scale of '%s' must be positive, got %g", name, o->x_scale[j]);
    }
    fp->n_free = 0;
    for (int j = 0; j < n; j++)
        if (!(o->fixed && o->fixed[j])) fp->free_idx[fp->n_free++] = j;
    if (fp->n_free == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "every parameter is fixed: nothing to fit");
    return NLSQ_OK;
}

nlsq_status fit_choose_method(fit_problem *fp, nlsq_error *err)
{
    int bounded = 0;
    for (int k = 0; k < fp->n_free; k++) {
        int j = fp->free_idx[k];
        bounded |= isfinite(fp->lb[j]) || isfinite(fp->ub[j]);
    }
    nlsq_method m = fp->opt.method;
    if (m == NLSQ_METHOD_AUTO) m = fit_default_method(bounded, fp->opt.loss);
    if (m == NLSQ_LM) {
        if (bounded) return fail(err, NLSQ_ERR_BOUNDS, "method lm does not take bounds; use trf or dogbox");
        if (fp->opt.loss != NLSQ_LOSS_LINEAR)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "method lm takes only the linear loss; use trf or dogbox");
        if (fp->m_used < (size_t)fp->n_free)
            return fail(err, NLSQ_ERR_DATA, "method lm needs at least as many points (%zu) as free parameters (%d)",
                        fp->m_used, fp->n_free);
    }
    fp->method = m;
    return NLSQ_OK;
}

/* ---- evaluation for the solvers ----------------------------------------- */

void fit_fill_params(fit_problem *fp, const double *x_free)
{
    for (int k = 0; k < fp->n_free; k++) fp->p[fp->free_idx[k]] = x_free[k];
}

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

/* After every iteration: the caller's callback, and a stop asked for by
   the progress callback. */
static int forward_callback(void *ctx, int iteration, double cost, const double *x_free, double gnorm, double step)
{
    fit_problem *fp = ctx;
    fit_fill_params(fp, x_free);
    fp->iterations = iteration;
    fp->latest_cost = cost;
    int stop = fp->stop_requested;
    if (fp->opt.callback) stop |= fp->opt.callback(fp->opt.callback_data, iteration, cost, fp->p, gnorm, step) != 0;
    return stop;
}

/* ---- setup of the weighting ---------------------------------------------- */

static size_t available_memory(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : SIZE_MAX;
}

static nlsq_status setup_covariance_sigma(fit_problem *fp, nlsq_error *err)
{
    size_t m = fp->data->m;
    int n = fp->n;
    if (fp->omit) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nan_policy omit cannot be used with a covariance sigma");
    if (m > 0 && (m > SIZE_MAX / sizeof(double) / m ||
                  m * m * sizeof(double) + m * (size_t)(2 * n + 3) * sizeof(double) > available_memory() / 2))
        return fail(err, NLSQ_ERR_NOMEM,
                    "a %zu x %zu covariance sigma needs %.3g GB, more than half the available memory; with "
                    "independent errors give per-point sigma (its diagonal's square roots), which needs no m x m matrix", m, m,
                    (double)m * (double)m * 8e-9);
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

void fit_free_problem(fit_problem *fp)
{
    if (fp->use_gpu) gpu_group_close(&fp->gpu);
    if (fp->have_rd) reader_free(&fp->rd);
    free(fp->first_x);
    free(fp->first_R);
    pass_free(&fp->ps);
    pool_free(fp->pool);
    free(fp->mem);
    free(fp->L);
    free(fp->wf);
    free(fp->wJ);
    free(fp->wA);
}

static nlsq_status check_arguments(const nlsq_model *model, const nlsq_data *data, nlsq_result **out,
                                   nlsq_error *err)
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

/* Threads for this fit: the option, else $NLSQ_THREADS, else all cores;
   one when every point fits in a single chunk. */
int fit_choose_threads(const nlsq_options *o, size_t m)
{
    size_t chunks = (m + pass_chunk_points(m) - 1) / pass_chunk_points(m);
    if (chunks <= 1) return 1; /* and no need to ask how many cores (a file read) */
    long n = o->threads;
    if (n <= 0) {
        const char *env = getenv("NLSQ_THREADS");
        n = env && atoi(env) > 0 ? atoi(env) : sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (n < 1) n = 1;
    if (n > 1024) n = 1024;
    if ((size_t)n > chunks) n = (long)chunks;
    return (int)n;
}

nlsq_status fit_check_options(const fit_problem *fp, nlsq_error *err)
{
    const nlsq_options *o = &fp->opt;
    if ((int)o->method < 0 || o->method > NLSQ_DOGBOX)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown method %d", (int)o->method);
    if ((int)o->loss < 0 || o->loss > NLSQ_LOSS_ARCTAN)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown loss %d", (int)o->loss);
    if (!(o->f_scale > 0) || !isfinite(o->f_scale))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "f_scale must be positive, got %g", o->f_scale);
    if ((int)o->nan_policy < 0 || o->nan_policy > NLSQ_NAN_IGNORE)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown nan_policy %d", (int)o->nan_policy);
    if (o->max_nfev < 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "max_nfev is negative (%d)", o->max_nfev);
    if (o->threads < 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "threads is negative (%d)", o->threads);
    if ((int)o->backend < 0 || o->backend > NLSQ_BACKEND_JIT)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown backend %d", (int)o->backend);
    if (o->progress_interval < 0 || isnan(o->progress_interval))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "progress_interval is %g", o->progress_interval);
    if (o->resume && !o->checkpoint)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "resume is set but no checkpoint file is named");
    return NLSQ_OK;
}

/* The option, else $NLSQ_BACKEND, else auto. */
nlsq_status fit_choose_backend(const fit_problem *fp, nlsq_backend *b, nlsq_error *err)
{
    if (*b != NLSQ_BACKEND_DEFAULT) return NLSQ_OK;
    const char *env = getenv("NLSQ_BACKEND");
    *b = NLSQ_BACKEND_AUTO;
    if (!env || !*env || strcmp(env, "auto") == 0) return NLSQ_OK;
    if (strcmp(env, "interp") == 0) *b = NLSQ_BACKEND_INTERP;
    else if (strcmp(env, "jit") == 0) *b = NLSQ_BACKEND_JIT;
    else return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "NLSQ_BACKEND is '%.40s'; expected auto, interp or jit", env);
    return NLSQ_OK;
}

/* In auto mode a cached kernel is looked for from this many points on
   (below, the lookup, about 0.15 ms, costs more than it saves) ... */
#define JIT_AUTO_LOOKUP_POINTS 20000
/* ... and a missing one compiled from this many on: below, the whole fit
   costs less than the compiler's start. */
#define JIT_AUTO_MIN_POINTS 100000

/* Attach the model's compiled kernel to the pass, as the backend says. */
static nlsq_status setup_jit(fit_problem *fp, nlsq_backend backend, nlsq_error *err)
{
    if (backend == NLSQ_BACKEND_INTERP || fp->covariance) return NLSQ_OK;
    if (backend == NLSQ_BACKEND_AUTO && fp->m_total < JIT_AUTO_LOOKUP_POINTS) return NLSQ_OK;
    const vmath *wide = vmath_avx2();
    int width = wide && vmath_select() == wide ? 4 : 1; /* the interpreter's math, exactly */
    jit_mode mode = backend == NLSQ_BACKEND_JIT                 ? JIT_WAIT
                  : fp->m_total >= JIT_AUTO_MIN_POINTS ? JIT_BACKGROUND
                                                             : JIT_LOOKUP;
    jit_entry *e = jit_get(fp->model->jit, &fp->model->prog, fp->free_idx, fp->n_free, width, mode);
    if (!e || pass_use_jit(&fp->ps, e) != 0) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the compiled kernel");
    fp->jit = e;
    fp->jit_quiet = mode == JIT_LOOKUP; /* no compile was asked for: no news */
    return NLSQ_OK;
}

nlsq_status fit_alloc(fit_problem *fp, nlsq_error *err)
{
    int n = fp->n = fp->model->params.count;
    fp->omit = fp->opt.nan_policy == NLSQ_NAN_OMIT;
    /* whole cache lines: a batch's threads each own one of these, and
       written side by side they would share a line at the seams */
    size_t bytes = (size_t)n * (7 * sizeof(double) + sizeof(int)) + ((size_t)n + 1) * ((size_t)n + 1) * sizeof(double);
    fp->mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!fp->mem) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    fp->p = fp->mem;
    fp->lb = fp->p + n;
    fp->ub = fp->lb + n;
    fp->x = fp->ub + n;
    fp->lbf = fp->x + n;
    fp->ubf = fp->lbf + n;
    fp->xsf = fp->ubf + n;
    fp->R = fp->xsf + n;
    fp->free_idx = (int *)(fp->R + (size_t)(n + 1) * (size_t)(n + 1));
    return NLSQ_OK;
}

/* Threads, the pass and its kernel. */
nlsq_status fit_start_pass(fit_problem *fp, nlsq_backend backend, nlsq_error *err)
{
    fp->threads = fit_choose_threads(&fp->opt, fp->m_total);
    if (fp->threads > 1 && !(fp->pool = pool_new(fp->threads)))
        return fail(err, NLSQ_ERR_NOMEM, "cannot start %d threads", fp->threads);
    fp->threads = pool_threads(fp->pool);
    if (pass_init(&fp->ps, &fp->model->prog, vmath_select(), fp->free_idx, fp->n_free, fp->opt.loss, fp->opt.f_scale,
                  fp->pool) != 0)
        return fail(err, NLSQ_ERR_NOMEM, "out of memory for the pass");
    return setup_jit(fp, backend, err);
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
    solve_problem pb = {fp->n_free, fp->m_used, evaluate_whitened, fp, NULL, NULL};
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
        if (fp.opt.checkpoint) st = fit_fail(&fp, err, NLSQ_ERR_INVALID_ARGUMENT, "checkpoints are not offered with a covariance sigma");
        else st = fit_covariance(&fp, out, err);
    }
    fit_free_problem(&fp);
    return st;
}

/* Run the solver on the free parameters and make the result. */
nlsq_status fit_solve(fit_problem *fp, solve_problem *pb, nlsq_result **out, nlsq_error *err)
{
    int nf = fp->n_free;
    double *lbf = fp->lbf, *ubf = fp->ubf, *xsf = fp->xsf;
    for (int k = 0; k < nf; k++) {
        int j = fp->free_idx[k];
        fp->x[k] = fp->p[j];
        lbf[k] = fp->lb[j];
        ubf[k] = fp->ub[j];
        if (fp->opt.x_scale) xsf[k] = fp->opt.x_scale[j];
    }
    pb->lb = lbf;
    pb->ub = ubf;
    solve_options so = {fp->opt.ftol, fp->opt.xtol, fp->opt.gtol, fp->opt.max_nfev,
                        fp->opt.x_scale ? xsf : NULL, fp->opt.x_scale_jac, NULL, NULL, NULL};
    fit_default_tolerances(fp->method, &so);
    if (fp->opt.callback || fp->opt.progress) {
        so.callback = forward_callback;
        so.callback_ctx = fp;
    }
    solve_result sr;
    int rc = fp->method == NLSQ_LM       ? solve_lm(pb, &so, fp->x, fp->R, &sr)
           : fp->method == NLSQ_DOGBOX ? solve_dogbox(pb, &so, fp->x, fp->R, &sr)
                                       : solve_trf(pb, &so, fp->x, fp->R, &sr);
    if (rc != 0) return fail(err, NLSQ_ERR_NOMEM, "out of memory in the solver");
    if (fp->abort_status != NLSQ_OK) return fail(err, fp->abort_status, "%s", fp->abort_msg);
    if (sr.start_nonfinite)
        return fail(err, NLSQ_ERR_MODEL_NONFINITE,
                    "the residuals or the Jacobian are NaN or Inf at the start point; check p0, bounds and data");
    fit_fill_params(fp, fp->x);
    return fit_make_result(fp, &sr, lbf, ubf, so.xtol, out, err);
}
