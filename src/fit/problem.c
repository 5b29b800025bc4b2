/*
 * The fit problem, whatever holds the data: its options checked, its
 * parameters (bounds, SciPy's start point, the free ones) and method set
 * up, its threads, pass and kernel started, the solver run on the free
 * parameters, and everything released. nlsq_curve_fit (curve_fit.c),
 * fits from sources (fit_source.c) and batches (batch.c) share it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
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

/* Bounds, start point (SciPy's default rule) and the free parameters. */
nlsq_status fit_setup_parameters(fit_problem *fp, nlsq_error *err)
{
    int n = fp->n;
    const nlsq_options *o = &fp->opt;
    for (int j = 0; j < n; j++) {
        fp->lb[j] = o->lower ? o->lower[j] : -INFINITY;
        fp->ub[j] = o->upper ? o->upper[j] : INFINITY;
        char unnamed[24];
        snprintf(unnamed, sizeof unnamed, "p[%d]", j);
        const char *name = fp->model ? fp->model->params.names[j] : unnamed;
        if (isnan(fp->lb[j]) || isnan(fp->ub[j]) || !(fp->lb[j] < fp->ub[j]))
            return fail(err, NLSQ_ERR_BOUNDS, "bounds of '%s' are [%g, %g]: the lower must be below the upper", name,
                        fp->lb[j], fp->ub[j]);
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
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "x_scale of '%s' must be positive, got %g", name,
                        o->x_scale[j]);
    }
    fp->n_free = 0;
    for (int j = 0; j < n; j++)
        if (!(o->fixed && o->fixed[j])) fp->free_idx[fp->n_free++] = j;
    if (fp->n_free == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "every parameter is fixed: nothing to fit");
    return NLSQ_OK;
}

/* Fewer points than free parameters: the solution is not determined and
   no method may report one as converged. SciPy's curve_fit raises
   TypeError for every method (MINPACK's lm refuses it as well). */
nlsq_status fit_check_determined(const fit_problem *fp, size_t points, nlsq_error *err)
{
    if (points >= (size_t)fp->n_free) return NLSQ_OK;
    return fail(err, NLSQ_ERR_DATA,
                "%d free parameters but only %zu data point%s: a fit needs at least as many points as free "
                "parameters (fix some parameters or add data)",
                fp->n_free, points, points == 1 ? "" : "s");
}

nlsq_status fit_choose_method(fit_problem *fp, nlsq_error *err)
{
    int bounded = 0;
    for (int k = 0; k < fp->n_free; k++) {
        int j = fp->free_idx[k];
        bounded |= isfinite(fp->lb[j]) || isfinite(fp->ub[j]);
    }
    nlsq_method m = fp->opt.method;
    if (m == NLSQ_METHOD_AUTO) m = fit_default_method();
    if (m == NLSQ_LM) {
        if (bounded) return fail(err, NLSQ_ERR_BOUNDS, "method lm does not take bounds; use trf or dogbox");
        if (fp->opt.loss != NLSQ_LOSS_LINEAR)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "method lm takes only the linear loss; use trf or dogbox");
    }
    nlsq_status st = fit_check_determined(fp, fp->m_used, err);
    if (st != NLSQ_OK) return st;
    fp->method = m;
    return NLSQ_OK;
}

void fit_fill_params(fit_problem *fp, const double *x_free)
{
    for (int k = 0; k < fp->n_free; k++) fp->p[fp->free_idx[k]] = x_free[k];
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
    const nlsq_group *g = fp->opt.group;
    if (g && g->size > 1) { /* one process's stop is every process's */
        int lowest;
        if (group_agree(g, GROUP_TAG_AGREE + 1, stop, &lowest) != 0) return 1;
        stop = lowest >= 0;
    }
    return stop;
}

void fit_free_problem(fit_problem *fp)
{
    if (fp->use_gpu) gpu_group_close(&fp->gpu);
    if (fp->have_rd) reader_free(&fp->rd);
    free(fp->first_x);
    free(fp->first_R);
    free(fp->x0);
    pass_free(&fp->ps);
    pool_free(fp->pool);
    free(fp->mem);
    free(fp->L);
    free(fp->wf);
    free(fp->wJ);
    free(fp->wA);
}

/* Threads for this fit: the option, else $NLSQ_THREADS, else all cores;
   one when every point fits in a single chunk. */
int fit_choose_threads(const nlsq_options *o, size_t m)
{
    size_t chunks = (m + pass_chunk_points(m) - 1) / pass_chunk_points(m);
    if (chunks <= 1) return 1; /* and no need to ask how many cores (a file read) */
    return host_threads(o->threads, chunks > 1024 ? 1024 : (long)chunks);
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
    if (o->group && (o->group->size < 1 || o->group->rank < 0 || o->group->rank >= o->group->size ||
                     (o->group->size > 1 && (!o->group->send || !o->group->recv || !o->group->bcast))))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the group has rank %d of %d or lacks a transport call",
                    o->group->rank, o->group->size);
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
    if (strcmp(env, "interp") == 0)
        *b = NLSQ_BACKEND_INTERP;
    else if (strcmp(env, "jit") == 0)
        *b = NLSQ_BACKEND_JIT;
    else
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "NLSQ_BACKEND is '%.40s'; expected auto, interp or jit", env);
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
    jit_mode mode = backend == NLSQ_BACKEND_JIT        ? JIT_WAIT
                  : fp->m_total >= JIT_AUTO_MIN_POINTS ? JIT_BACKGROUND
                                                       : JIT_LOOKUP;
    jit_entry *e = jit_get(fp->model, fp->free_idx, fp->n_free, width, mode);
    if (!e || pass_use_jit(&fp->ps, e) != 0) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the compiled kernel");
    fp->jit = e;
    fp->jit_quiet = mode == JIT_LOOKUP; /* no compile was asked for: no news */
    return NLSQ_OK;
}

nlsq_status fit_alloc(fit_problem *fp, nlsq_error *err)
{
    int n = fp->n = fp->model ? fp->model->params.count : fp->n; /* a callback's n is set */
    fp->omit = fp->opt.nan_policy == NLSQ_NAN_OMIT;
    /* whole cache lines: a batch's threads each own one of these, and
       written side by side they would share a line at the seams */
    size_t bytes = (size_t)n * (8 * sizeof(double) + sizeof(int)) + ((size_t)n + 1) * ((size_t)n + 1) * sizeof(double);
    fp->mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!fp->mem) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    fp->p = fp->mem;
    fp->lb = fp->p + n;
    fp->ub = fp->lb + n;
    fp->x = fp->ub + n;
    fp->lbf = fp->x + n;
    fp->ubf = fp->lbf + n;
    fp->xsf = fp->ubf + n;
    fp->R_at = fp->xsf + n;
    fp->R = fp->R_at + n;
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
    solve_options so = {fp->opt.ftol,
                        fp->opt.xtol,
                        fp->opt.gtol,
                        fp->opt.max_nfev,
                        fp->opt.x_scale ? xsf : NULL,
                        fp->opt.x_scale_jac,
                        NULL,
                        NULL,
                        NULL,
                        fp->opt.lm_last_jacobian,
                        fp->R_at};
    fit_default_tolerances(fp->method, &so);
    /* in a group every process takes part in the stop's agreement, also
       one without a callback of its own (progress shown on process 0
       alone): else the others would wait for it there */
    const nlsq_group *g = fp->opt.group;
    if (fp->opt.callback || fp->opt.progress || (g && g->size > 1)) {
        so.callback = forward_callback;
        so.callback_ctx = fp;
    }
    fp->x0 = malloc((size_t)nf * sizeof *fp->x0);
    if (!fp->x0) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the start point");
    memcpy(fp->x0, fp->x, (size_t)nf * sizeof *fp->x);
    solve_result sr;
    int rc = fp->method == NLSQ_LM     ? solve_lm(pb, &so, fp->x, fp->R, &sr)
           : fp->method == NLSQ_DOGBOX ? solve_dogbox(pb, &so, fp->x, fp->R, &sr)
                                       : solve_trf(pb, &so, fp->x, fp->R, &sr);
    if (rc != 0) return fail(err, NLSQ_ERR_NOMEM, "out of memory in the solver");
    if (fp->method != NLSQ_LM) memcpy(fp->R_at, fp->x, (size_t)nf * sizeof *fp->x);
    if (fp->abort_status != NLSQ_OK) return fail(err, fp->abort_status, "%s", fp->abort_msg);
    if (sr.start_nonfinite)
        return fail(err, NLSQ_ERR_MODEL_NONFINITE,
                    "the residuals or the Jacobian are NaN or Inf at the start point; check p0, bounds and data");
    fit_fill_params(fp, fp->x);
    return fit_make_result(fp, &sr, lbf, ubf, so.xtol, out, err);
}
