/*
 * nlsq_fit_callback: a fit whose residuals come from the caller's function
 * instead of a model. Each evaluation calls it once (and, without its
 * Jacobian, once or twice more per free parameter for the differences),
 * then folds [J | r] into R_aug in blocks of rows with the Householder
 * fold every pass uses, so the solvers, bounds, losses, x_scale and the
 * covariance are those of nlsq_curve_fit.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "fit.h"
#include "linalg/linalg.h"
#include "solve/solve.h"

/* Rows folded at a time: the block (nc x FOLD_ROWS doubles) stays in L1/L2. */
#define FOLD_ROWS 64

typedef struct callback_fit {
    fit_problem fp; /* first: the solver's context is the fit problem */
    const nlsq_residual_problem *pb;
    nlsq_jac_kind jac;
    double *r, *J;    /* m residuals; m x n Jacobian: row-major from fn,
                         column-major from differences                */
    double *r1, *r2;  /* residuals at the difference steps            */
    double *step, *A; /* n parameters; the fold's block               */
    double *r_at;     /* n: the parameters r was computed at          */
    double *jac_at;   /* n: those of lm's last forward differences,   */
    double *r_jac;    /* m: and the residuals there                   */
    long calls, njev; /* of fn; Jacobians made                        */
    /* the cost at the solver's current point (INFINITY before the first
       evaluation), from the iteration callback: every solver keeps a
       trial point only if its cost is below it, so a trial that is not
       needs no Jacobian (with differences, n or 2n calls saved) */
    double current_cost;
    nlsq_callback user_callback;
    void *user_callback_data;
} callback_fit;

nlsq_residual_problem nlsq_residual_problem_default(void)
{
    nlsq_residual_problem p;
    memset(&p, 0, sizeof p);
    p.jac = NLSQ_JAC_2POINT;
    return p;
}

/* One call of fn at `params`; 0, or nonzero after recording why. */
static int call_fn(callback_fit *cf, const double *params, double *r, double *J)
{
    fit_problem *fp = &cf->fp;
    cf->calls++;
    int rc = cf->pb->fn(cf->pb->user, params, r, J);
    if (rc == 0) return 0;
    if (fp->abort_status == NLSQ_OK) {
        fp->abort_status = NLSQ_ERR_CALLBACK;
        snprintf(fp->abort_msg, sizeof fp->abort_msg, "the residual function returned %d at call %ld", rc, cf->calls);
    }
    return 1;
}

/* SciPy's relative step: the method's EPS power, or diff_step. */
static double fd_step(const callback_fit *cf, double x, int central)
{
    double sign = x >= 0 ? 1 : -1;
    double base = central ? cbrt(DBL_EPSILON) : sqrt(DBL_EPSILON);
    double h = base * sign * fmax(1, fabs(x));
    if (cf->pb->diff_step > 0) {
        double g = cf->pb->diff_step * sign * fabs(x);
        if ((x + g) - x != 0) h = g;
    }
    return h;
}

/* MINPACK's fdjac2 step for x: sqrt(max(epsfcn, EPS)) |x| (or without
   |x| at 0); epsfcn = diff_step^2 when only diff_step is set. */
static double lm_step(const callback_fit *cf, double x)
{
    double eps = cf->pb->epsfcn > 0    ? cf->pb->epsfcn
               : cf->pb->diff_step > 0 ? cf->pb->diff_step * cf->pb->diff_step
                                       : DBL_EPSILON;
    double h = sqrt(fmax(eps, DBL_EPSILON)) * fabs(x);
    return h == 0 ? sqrt(fmax(eps, DBL_EPSILON)) : h;
}

/* Forward (or backward near a bound) differences for trf/dogbox: SciPy's
   '1-sided' scheme with `steps` steps of h (1 for 2-point). Returns h
   adjusted so that x + steps*h stays within [lo, hi]. */
static double one_sided_step(double x, double h, int steps, double lo, double hi)
{
    if (isinf(lo) && isinf(hi)) return h;
    double below = x - lo, above = hi - x, total = h * steps;
    int fits = fabs(total) <= fmax(below, above);
    if (fits) {
        double t = x + total;
        return (t < lo || t > hi) ? -h : h;
    }
    return above >= below ? above / steps : -below / steps;
}

/* The Jacobian column j (parameter p[j]) by differences into J, stored
   column-major (column j contiguous): the solver's scheme, or 3-point
   (central) for the covariance's Jacobian. */
static int fd_column(callback_fit *cf, int j, int for_covariance)
{
    fit_problem *fp = &cf->fp;
    size_t m = cf->pb->m, n = (size_t)fp->n;
    double x = fp->p[j], lo = fp->lb[j], hi = fp->ub[j];
    double *p = cf->step, *col = cf->J + (size_t)j * m;
    memcpy(p, fp->p, n * sizeof *p);
    int rc = 0;
    if (fp->method == NLSQ_LM && !for_covariance) { /* MINPACK's fdjac2 */
        double h = lm_step(cf, x);
        p[j] = x + h;
        rc = call_fn(cf, p, cf->r1, NULL);
        for (size_t i = 0; !rc && i < m; i++) col[i] = (cf->r1[i] - cf->r[i]) / h;
        return rc;
    }
    if (cf->jac == NLSQ_JAC_2POINT && !for_covariance) {
        double h = one_sided_step(x, fd_step(cf, x, 0), 1, lo, hi);
        p[j] = x + h;
        double dx = p[j] - x;
        rc = call_fn(cf, p, cf->r1, NULL);
        for (size_t i = 0; !rc && i < m; i++) col[i] = (cf->r1[i] - cf->r[i]) / dx;
        return rc;
    }
    /* 3-point: central where both steps fit, else one-sided with 2 steps */
    double h = fabs(fd_step(cf, x, 1)), below = x - lo, above = hi - x;
    int central = below >= h && above >= h;
    if (!central) {
        double hf = above >= below ? fmin(h, 0.5 * above) : -fmin(h, 0.5 * below);
        double min_dist = fmin(above, below);
        if (fabs(hf) <= min_dist) {
            h = min_dist;
            central = 1;
        } else {
            h = hf;
        }
    }
    if (central) {
        p[j] = x - h;
        double x1 = p[j];
        rc = call_fn(cf, p, cf->r1, NULL);
        p[j] = x + h;
        double dx = p[j] - x1;
        rc = rc || call_fn(cf, p, cf->r2, NULL);
        for (size_t i = 0; !rc && i < m; i++) col[i] = (cf->r2[i] - cf->r1[i]) / dx;
        return rc;
    }
    p[j] = x + h;
    rc = call_fn(cf, p, cf->r1, NULL);
    p[j] = x + 2 * h;
    double dx = p[j] - x;
    rc = rc || call_fn(cf, p, cf->r2, NULL);
    for (size_t i = 0; !rc && i < m; i++) col[i] = (-3 * cf->r[i] + 4 * cf->r1[i] - cf->r2[i]) / dx;
    return rc;
}

/* cost and R_aug from r and J: blocks of rows scaled for the loss and
   folded. J is the caller's (m x n, row-major) or, from differences,
   column-major (each column contiguous, as fd_column writes it). Returns
   nonzero when something is not finite. */
static int fold_rows(callback_fit *cf, double *cost, double *R)
{
    fit_problem *fp = &cf->fp;
    size_t m = cf->pb->m, n = (size_t)fp->n;
    int exact = cf->jac == NLSQ_JAC_CALLBACK;
    size_t row_stride = exact ? n : 1, col_stride = exact ? 1 : m;
    int nf = fp->n_free, nc = nf + 1;
    double c2 = 0, *A = cf->A, scale[FOLD_ROWS];
    int bad = 0;
    memset(R, 0, (size_t)nc * (size_t)nc * sizeof *R);
    for (size_t i0 = 0; i0 < m; i0 += FOLD_ROWS) {
        size_t rows = m - i0 < FOLD_ROWS ? m - i0 : FOLD_ROWS;
        for (size_t i = 0; i < rows; i++) {
            double r = cf->r[i0 + i], s = 1;
            if (fp->opt.loss == NLSQ_LOSS_LINEAR)
                c2 += 0.5 * r * r;
            else
                s = loss_scale_row(fp->opt.loss, fp->opt.f_scale, &r, &c2);
            A[(size_t)nf * FOLD_ROWS + i] = r;
            scale[i] = s;
            bad |= !isfinite(r);
        }
        for (int k = 0; k < nf; k++) { /* a column at a time: contiguous for differences */
            const double *Jk = cf->J + (size_t)fp->free_idx[k] * col_stride + i0 * row_stride;
            double *Ak = A + (size_t)k * FOLD_ROWS, finite = 0;
            for (size_t i = 0; i < rows; i++) {
                Ak[i] = Jk[i * row_stride] * scale[i];
                finite += Ak[i] * 0; /* NaN once any value is NaN or Inf */
            }
            bad |= !(finite == 0);
        }
        if (!bad) qr_fold(R, (size_t)nc, nc, A, FOLD_ROWS, rows);
    }
    *cost = c2;
    return bad || !isfinite(c2);
}

/* The cost of the residuals in cf->r under the loss. */
static double residual_cost(const callback_fit *cf)
{
    const fit_problem *fp = &cf->fp;
    double c2 = 0;
    for (size_t i = 0; i < cf->pb->m; i++) {
        double r = cf->r[i];
        if (fp->opt.loss == NLSQ_LOSS_LINEAR)
            c2 += 0.5 * r * r;
        else
            loss_scale_row(fp->opt.loss, fp->opt.f_scale, &r, &c2);
    }
    return c2;
}

/* A trial whose cost is not below the current point's: every solver
   rejects it and discards its R_aug, so R gets the residuals' fold alone
   (J = 0) and no differences are taken. */
static int trial_is_rejected(callback_fit *cf, double *cost, double *R)
{
    fit_problem *fp = &cf->fp;
    int nc = fp->n_free + 1;
    double c2 = residual_cost(cf);
    if (!(c2 >= cf->current_cost)) return 0;
    memset(R, 0, (size_t)nc * (size_t)nc * sizeof *R);
    R[(size_t)nc * (size_t)nc - 1] = sqrt(2 * c2);
    *cost = c2;
    return 1;
}

/* After every iteration: note the current cost, then the caller's callback. */
static int note_iteration(void *user, int iteration, double cost, const double *params, double grad_norm,
                          double step_norm)
{
    callback_fit *cf = user;
    cf->current_cost = cost;
    if (!cf->user_callback) return 0;
    return cf->user_callback(cf->user_callback_data, iteration, cost, params, grad_norm, step_norm);
}

/* lm's lazy evaluation: the residuals and their cost, no Jacobian (lm
   asks for it with complete_callback only when it has not converged). */
static int evaluate_lazy(void *ctx, const double *x_free, double *cost, double *R)
{
    (void)R;
    callback_fit *cf = ctx;
    fit_problem *fp = &cf->fp;
    *cost = NAN;
    if (fp->abort_status != NLSQ_OK) return 1;
    fit_fill_params(fp, x_free);
    if (call_fn(cf, fp->p, cf->r, NULL) != 0) return 1;
    memcpy(cf->r_at, fp->p, (size_t)fp->n * sizeof *fp->p);
    for (size_t i = 0; i < cf->pb->m; i++)
        if (!isfinite(cf->r[i])) return 1;
    *cost = residual_cost(cf);
    return !isfinite(*cost);
}

/* Fold R11 from the columns in cf->J (column-major) with r = 0: R's last
   column is left 0, the covariance reads R11 alone. Nonzero when a
   column is not finite. */
static int fold_covariance_columns(callback_fit *cf, double *R)
{
    fit_problem *fp = &cf->fp;
    size_t m = cf->pb->m;
    for (int k = 0; k < fp->n_free; k++) {
        const double *col = cf->J + (size_t)fp->free_idx[k] * m;
        double finite = 0;
        for (size_t i = 0; i < m; i++) finite += col[i] * 0;
        if (!(finite == 0)) return 1;
    }
    memset(cf->r, 0, m * sizeof *cf->r);
    for (int j = 0; j < fp->n; j++) cf->r_at[j] = NAN; /* cf->r no longer holds any point's residuals */
    double cost;
    return fold_rows(cf, &cost, R);
}

/* lm's last forward differences at fp->p (cf->J, which trials do not
   touch), completed to central ones by the backward steps: n calls, and
   the truncation error of one-sided differences (about sqrt(EPS) of J,
   1e-7 of pcov) cancels. Nonzero when lm's last Jacobian was not taken at
   fp->p or a call failed. */
static int complete_to_central(callback_fit *cf)
{
    fit_problem *fp = &cf->fp;
    size_t m = cf->pb->m, n = (size_t)fp->n;
    if (cf->njev == 0 || memcmp(cf->jac_at, fp->p, n * sizeof *fp->p) != 0) return 1;
    double *p = cf->step;
    memcpy(p, fp->p, n * sizeof *p);
    for (int k = 0; k < fp->n_free; k++) {
        int j = fp->free_idx[k];
        double x = fp->p[j], h = lm_step(cf, x), *col = cf->J + (size_t)j * m;
        p[j] = x - h;
        if (call_fn(cf, p, cf->r1, NULL) != 0) return 1;
        p[j] = x;
        for (size_t i = 0; i < m; i++) col[i] = 0.5 * (col[i] + (cf->r_jac[i] - cf->r1[i]) / h);
    }
    return 0;
}

/* R11 at fp->p for the covariance: lm's last forward differences made
   central where they were taken there, else central differences afresh
   (2 n calls). Nonzero when a call failed or a column is not finite (a
   step crossed a singularity): the caller takes the solver's differences. */
static int covariance_jacobian(callback_fit *cf, double *R)
{
    fit_problem *fp = &cf->fp;
    if (fp->method == NLSQ_LM && complete_to_central(cf) == 0 && fold_covariance_columns(cf, R) == 0) return 0;
    if (fp->abort_status != NLSQ_OK) return 1;
    for (int k = 0; k < fp->n_free; k++)
        if (fd_column(cf, fp->free_idx[k], 1) != 0) return 1;
    return fold_covariance_columns(cf, R);
}

/* R_aug at x by differences: lm calls it at the point it evaluated last,
   whose residuals cf->r still holds (else they are computed again). At the
   end (final), the Jacobian for the covariance by central differences
   (covariance_jacobian; n_free calls outside nfev where lm's last forward
   differences were taken at x). */
static int complete_callback(void *ctx, const double *x_free, double *R, int final)
{
    callback_fit *cf = ctx;
    fit_problem *fp = &cf->fp;
    if (fp->abort_status != NLSQ_OK) return 1;
    fit_fill_params(fp, x_free);
    if (final && covariance_jacobian(cf, R) == 0) return 0;
    if (fp->abort_status != NLSQ_OK) return 1;
    if (memcmp(cf->r_at, fp->p, (size_t)fp->n * sizeof *fp->p) != 0) {
        if (call_fn(cf, fp->p, cf->r, NULL) != 0) return 1;
        memcpy(cf->r_at, fp->p, (size_t)fp->n * sizeof *fp->p);
    }
    for (int k = 0; k < fp->n_free; k++)
        if (fd_column(cf, fp->free_idx[k], 0) != 0) return 1;
    cf->njev += !final;
    if (fp->method == NLSQ_LM) { /* for complete_to_central */
        memcpy(cf->jac_at, fp->p, (size_t)fp->n * sizeof *fp->p);
        memcpy(cf->r_jac, cf->r, cf->pb->m * sizeof *cf->r);
    }
    double cost;
    if (fold_rows(cf, &cost, R) == 0) return 0;
    fp->abort_status = NLSQ_ERR_MODEL_NONFINITE;
    snprintf(fp->abort_msg, sizeof fp->abort_msg,
             "the Jacobian by differences is NaN or Inf at the start or an accepted point (after call %ld)", cf->calls);
    return 1;
}

static int evaluate_callback(void *ctx, const double *x_free, double *cost, double *R)
{
    callback_fit *cf = ctx;
    fit_problem *fp = &cf->fp;
    *cost = NAN;
    if (fp->abort_status != NLSQ_OK) return 1;
    fit_fill_params(fp, x_free);
    int exact = cf->jac == NLSQ_JAC_CALLBACK;
    if (call_fn(cf, fp->p, cf->r, exact ? cf->J : NULL) != 0) return 1;
    for (size_t i = 0; i < cf->pb->m; i++)
        if (!isfinite(cf->r[i])) return 1; /* no Jacobian for a point that is rejected anyway */
    if (!exact && trial_is_rejected(cf, cost, R)) return 0;
    for (int k = 0; !exact && k < fp->n_free; k++)
        if (fd_column(cf, fp->free_idx[k], 0) != 0) return 1;
    cf->njev++;
    int bad = fold_rows(cf, cost, R);
    if (isinf(cf->current_cost) && !bad) cf->current_cost = *cost; /* the start */
    return bad;
}

/* The final residuals and chi2, for a robust loss or keep_residuals. */
static int final_residuals(fit_problem *fp, double *residuals, double *chi2, nk_runs *runs)
{
    callback_fit *cf = (callback_fit *)fp;
    if (call_fn(cf, fp->p, cf->r, NULL) != 0) return -1;
    double s = 0;
    memset(runs, 0, sizeof *runs);
    for (size_t i = 0; i < cf->pb->m; i++) nk_runs_add(runs, cf->r[i]);
    for (size_t i = 0; i < cf->pb->m; i++) s += cf->r[i] * cf->r[i];
    *chi2 = s;
    if (residuals) memcpy(residuals, cf->r, cf->pb->m * sizeof *residuals);
    return 0;
}

#define fail(err, ...) fit_fail(&cf->fp, err, __VA_ARGS__)

static nlsq_status check_problem(const callback_fit *cf, const nlsq_residual_problem *pb, nlsq_result **out,
                                 nlsq_error *err)
{
    if (!pb || !out) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s is NULL", !pb ? "problem" : "out");
    if (!pb->fn) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "problem->fn is NULL");
    if (pb->n < 1) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "problem->n is %d: at least one parameter", pb->n);
    if ((int)pb->jac < 0 || pb->jac > NLSQ_JAC_CALLBACK)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown jac %d", (int)pb->jac);
    if (!(pb->diff_step >= 0) || !(pb->epsfcn >= 0) || isinf(pb->diff_step) || isinf(pb->epsfcn))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "diff_step (%g) and epsfcn (%g) must be finite and >= 0",
                    pb->diff_step, pb->epsfcn);
    if (pb->m > ((size_t)1 << 40) / (size_t)pb->n)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%zu residuals x %d parameters is too large", pb->m, pb->n);
    return NLSQ_OK;
}

static nlsq_status alloc_buffers(callback_fit *cf, nlsq_error *err)
{
    size_t m = cf->pb->m, n = (size_t)cf->pb->n;
    cf->r = malloc((m ? m : 1) * sizeof *cf->r);
    cf->J = calloc((m ? m : 1) * n, sizeof *cf->J);
    cf->r1 = malloc((m ? m : 1) * sizeof *cf->r1);
    cf->r2 = malloc((m ? m : 1) * sizeof *cf->r2);
    cf->step = malloc(n * sizeof *cf->step);
    cf->A = malloc((n + 1) * FOLD_ROWS * sizeof *cf->A);
    cf->r_at = malloc(n * sizeof *cf->r_at);
    cf->jac_at = malloc(n * sizeof *cf->jac_at);
    cf->r_jac = malloc((m ? m : 1) * sizeof *cf->r_jac);
    if (!cf->r || !cf->J || !cf->r1 || !cf->r2 || !cf->step || !cf->A || !cf->r_at || !cf->jac_at || !cf->r_jac)
        return fail(err, NLSQ_ERR_NOMEM, "out of memory for %zu residuals", m);
    return NLSQ_OK;
}

static nlsq_status run_fit(callback_fit *cf, nlsq_result **out, nlsq_error *err)
{
    fit_problem *fp = &cf->fp;
    nlsq_status st;
    if ((st = fit_check_options(fp, err)) != NLSQ_OK) return st;
    if (fp->opt.checkpoint) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "checkpoints are not offered for a callback");
    if ((st = fit_alloc(fp, err)) != NLSQ_OK) return st;
    if ((st = fit_setup_parameters(fp, err)) != NLSQ_OK) return st;
    fp->m_used = cf->pb->m;
    if ((st = fit_choose_method(fp, err)) != NLSQ_OK) return st;
    if ((st = alloc_buffers(cf, err)) != NLSQ_OK) return st;
    cf->jac = cf->pb->jac;
    /* lm with differences runs as MINPACK's lmdif: the Jacobian only at
       the top of an iteration that has not converged (n_free calls), and
       every call counted against max_nfev in MINPACK's order */
    int lm_differences = fp->method == NLSQ_LM && cf->jac != NLSQ_JAC_CALLBACK;
    fp->sst = NAN; /* no y: no R^2 */
    cf->current_cost = INFINITY;
    cf->user_callback = fp->opt.callback;
    cf->user_callback_data = fp->opt.callback_data;
    fp->opt.callback = note_iteration;
    fp->opt.callback_data = cf;
    solve_problem pb = {fp->n_free, fp->m_used, evaluate_callback, cf, NULL, NULL, NULL, 0, NULL};
    if (lm_differences) {
        pb.evaluate = evaluate_lazy;
        pb.complete = complete_callback;
        pb.complete_calls = fp->n_free;
    }
    st = fit_solve(fp, &pb, out, err);
    if (st != NLSQ_OK) return st;
    nlsq_result *r = *out;
    /* lm with differences: nfev is the solver's count of calls, MINPACK's
       (the Jacobian at the solution and the final residuals are outside it) */
    r->njev = (int)cf->njev;
    snprintf(r->backend, sizeof r->backend, "call");
    snprintf(r->device_note, sizeof r->device_note, "the residuals come from the caller's function (%ld calls)",
             cf->calls);
    return NLSQ_OK;
}

nlsq_status nlsq_fit_callback(const nlsq_residual_problem *problem, const nlsq_options *options, nlsq_result **out,
                              nlsq_error *err)
{
    error_clear(err);
    callback_fit *cf = calloc(1, sizeof *cf);
    if (!cf) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_fit_callback: out of memory");
        return NLSQ_ERR_NOMEM;
    }
    cf->fp.who = "nlsq_fit_callback";
    nlsq_status st = check_problem(cf, problem, out, err);
    if (st == NLSQ_OK) {
        *out = NULL;
        cf->pb = problem;
        cf->fp.n = problem->n;
        cf->fp.m_total = problem->m;
        cf->fp.covariance = 0;
        cf->fp.final_residuals = final_residuals;
        cf->fp.opt = options ? *options : nlsq_options_default();
        snprintf(cf->fp.device, sizeof cf->fp.device, "cpu");
        st = run_fit(cf, out, err);
    }
    fit_free_problem(&cf->fp);
    free(cf->r);
    free(cf->J);
    free(cf->r1);
    free(cf->r2);
    free(cf->step);
    free(cf->A);
    free(cf->r_at);
    free(cf->jac_at);
    free(cf->r_jac);
    free(cf);
    return st;
}
