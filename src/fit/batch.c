/*
 * nlsq_fit_batch: many small independent fits of one model in one call.
 *
 * Each fit runs through the very pieces a single nlsq_curve_fit uses —
 * fit_setup_parameters for its start point and bounds, a pass over its
 * points (the compiled kernel or the interpreter), the same solver and the
 * same covariance — so its result is bitwise the single fit's. What
 * differs is ownership: every thread owns a lane, whose parameter arrays,
 * passes and solver workspace are made once and reused fit after fit, so
 * the hot loop allocates nothing. A fit that cannot run gets a status and
 * leaves the others alone.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "fit.h"
#include "gpu/gpu.h"
#include "model/model.h"
#include "solve/solve.h"

/* Fits per pool task at most: enough to hide the task counter; small
   batches take fewer, so that every thread gets some 16 tasks. */
#define BATCH_TASK_FITS 64
/* Passes a lane keeps, one per set of free parameters it has met; a batch
   with more distinct `fixed` masks than this re-makes passes as needed. */
#define LANE_PASSES 8

nlsq_batch nlsq_batch_default(void)
{
    nlsq_batch b;
    memset(&b, 0, sizeof b);
    return b;
}


/* ---- a lane: one thread's reusable state ------------------------------- */

typedef struct lane_pass {
    int *cols, ncols;
    pass ps;
    int live;
} lane_pass;

/* A lane starts on a cache line of its own: its per-fit writes (pa, pd,
   ps) would otherwise share a line with the next lane's fields, and two
   threads would bounce it on every fit. */
typedef struct lane {
    _Alignas(64) fit_problem fp; /* p, lb, ub, x, bounds, R, free_idx (fit_alloc) */
    lane_pass passes[LANE_PASSES];
    int next_victim;
    pass *ps; /* the current fit's                             */
    pass_arrays pa;
    pass_data pd;
    void *solve_work;
    double *cov, *cov_work; /* n^2, and fit_covariance_work_doubles(n)     */
    double *R_final;        /* (n+1)^2: the chi2 pass's triangle            */
    jit_entry *jit;         /* the kernel of the latest pass made, if any   */
    /* the diagnostics of each fit (fit_diagnose_jacobian), without
       allocating per fit */
    double *x0, *diag_work, *influence; /* n, its work, n              */
    unsigned *param_flags;              /* n                              */
    int *diag_cols;                     /* n                              */
    int used_jit;                       /* some pass of this lane ran compiled code      */
    int nomem;
} lane;

typedef struct batch_job {
    const nlsq_model *model;
    const nlsq_batch *b;
    nlsq_options opt;
    nlsq_batch_result *r;
    lane *lanes;
    size_t total, longest; /* points in all; the longest fit's            */
    nlsq_method method;
    nlsq_backend backend;
    jit_mode mode;
    int width;
    size_t task_fits;
    atomic_int nomem;
    atomic_int cancelled; /* the progress function asked to stop        */
    atomic_size_t done;   /* fits finished, for progress                 */
    double t_start;
    int gpu;           /* the device's ordinal, or -1: the CPU         */
    char cpu_why[160]; /* why a GPU asked for was not used              */
} batch_job;

static void lane_free(lane *ln)
{
    for (int k = 0; k < LANE_PASSES; k++) {
        if (ln->passes[k].live) pass_free(&ln->passes[k].ps);
        free(ln->passes[k].cols);
    }
    free(ln->fp.mem);
    free(ln->solve_work);
    free(ln->cov);
    free(ln->x0);
    free(ln->diag_work);
    free(ln->influence);
    free(ln->param_flags);
    free(ln->diag_cols);
}

/* Whole cache lines of their own (see struct lane). */
static void *line_alloc(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static int lane_init(lane *ln, const batch_job *job)
{
    memset(ln, 0, sizeof *ln);
    ln->fp.model = job->model;
    ln->fp.opt = job->opt;
    ln->fp.who = "nlsq_fit_batch";
    int n = job->model->params.count;
    ln->solve_work = line_alloc(solve_work_bytes(n));
    size_t nn = (size_t)n;
    ln->cov = line_alloc((nn * nn + fit_covariance_work_doubles(n) + (nn + 1) * (nn + 1)) * sizeof *ln->cov);
    ln->x0 = malloc(nn * sizeof *ln->x0);
    ln->diag_work = malloc(fit_diagnose_work_doubles(n) * sizeof *ln->diag_work);
    ln->influence = malloc(nn * sizeof *ln->influence);
    ln->param_flags = malloc(nn * sizeof *ln->param_flags);
    ln->diag_cols = malloc(nn * sizeof *ln->diag_cols);
    if (!ln->x0 || !ln->diag_work || !ln->influence || !ln->param_flags || !ln->diag_cols) return -1;
    if (fit_alloc(&ln->fp, NULL) != NLSQ_OK || !ln->solve_work || !ln->cov) return -1;
    ln->cov_work = ln->cov + nn * nn;
    ln->R_final = ln->cov_work + fit_covariance_work_doubles(n);
    for (int k = 0; k < LANE_PASSES; k++)
        if (!(ln->passes[k].cols = malloc((size_t)n * sizeof(int)))) return -1;
    return 0;
}

/* The lane's pass for the current fit's free parameters: one met before,
   or a new one (the only allocation after the lane's start, and only
   when the batch's fixed masks vary). */
static pass *lane_pass_for(lane *ln, const batch_job *job)
{
    const int *cols = ln->fp.free_idx;
    int nf = ln->fp.n_free;
    for (int k = 0; k < LANE_PASSES; k++) {
        lane_pass *lp = &ln->passes[k];
        if (lp->live && lp->ncols == nf && memcmp(lp->cols, cols, (size_t)nf * sizeof *cols) == 0) return &lp->ps;
    }
    int k = 0;
    while (k < LANE_PASSES && ln->passes[k].live) k++;
    if (k == LANE_PASSES) {
        k = ln->next_victim;
        ln->next_victim = (k + 1) % LANE_PASSES;
        ln->used_jit |= ln->passes[k].ps.jit_passes > 0;
        pass_free(&ln->passes[k].ps);
        ln->passes[k].live = 0;
    }
    lane_pass *lp = &ln->passes[k];
    if (pass_init(&lp->ps, &job->model->prog, vmath_select(), cols, nf, job->opt.loss, job->opt.f_scale, NULL) != 0)
        return NULL;
    lp->live = 1;
    memcpy(lp->cols, cols, (size_t)nf * sizeof *cols);
    lp->ncols = nf;
    if (job->backend != NLSQ_BACKEND_INTERP) {
        jit_entry *e = jit_get(job->model, cols, nf, job->width, job->mode);
        if (!e || pass_use_jit(&lp->ps, e) != 0) return NULL;
        ln->jit = e;
    }
    return &lp->ps;
}

/* ---- one fit ------------------------------------------------------------ */

static int evaluate_fit(void *ctx, const double *x_free, double *cost, double *R)
{
    lane *ln = ctx;
    fit_fill_params(&ln->fp, x_free);
    pass_out out = {.R = R, .residuals = NULL};
    pass_run(ln->ps, &ln->pd, ln->fp.p, &out);
    ln->nomem |= out.nomem;
    *cost = out.cost;
    return out.nonfinite || !isfinite(out.cost);
}

static int row_finite(const pass_arrays *a, int k, size_t i)
{
    if (!isfinite(a->y[i]) || (a->sigma && !isfinite(a->sigma[i]))) return 0;
    for (int v = 0; v < k; v++)
        if (!isfinite(a->x[(size_t)v * a->stride + i])) return 0;
    return 1;
}

/* The points this fit uses under nan_policy, or 0 when its data refuse
   it (NaN with raise, sigma <= 0). */
size_t batch_usable_points(const pass_arrays *a, int k, size_t len, nlsq_nan_policy policy)
{
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        if (a->sigma && a->sigma[i] <= 0) return 0;
        if (policy == NLSQ_NAN_IGNORE) {
            used++;
            continue;
        }
        int ok = row_finite(a, k, i);
        if (!ok && policy == NLSQ_NAN_RAISE) return 0;
        used += ok;
    }
    return used;
}

static void fit_points(const batch_job *job, size_t i, size_t *first, size_t *len)
{
    const nlsq_batch *b = job->b;
    *first = b->offsets ? b->offsets[i] : i * b->m;
    *len = b->offsets ? b->offsets[i + 1] - b->offsets[i] : b->m;
}

/* The start point as the result of a fit that did not run. */
static void record_not_run(batch_job *job, lane *ln, size_t i, int status, int have_p)
{
    nlsq_batch_result *r = job->r;
    int n = r->n;
    for (int j = 0; j < n; j++) r->popt[i * n + j] = have_p ? ln->fp.p[j] : NAN;
    for (int j = 0; r->perr && j < n; j++) r->perr[i * n + j] = NAN;
    for (size_t j = 0; r->pcov && j < (size_t)n * (size_t)n; j++) r->pcov[i * (size_t)n * (size_t)n + j] = NAN;
    r->pcov_valid[i] = 0;
    if (r->diag_flags) r->diag_flags[i] = NLSQ_DIAG_NOT_CONVERGED;
    r->status[i] = status;
    r->cost[i] = r->chi2[i] = NAN;
}

static void record_covariance(batch_job *job, lane *ln, size_t i, double cost, size_t m_used)
{
    nlsq_batch_result *r = job->r;
    fit_problem *fp = &ln->fp;
    int n = r->n, nf = fp->n_free;
    int ok = fit_free_covariance(fp->R, nf, m_used, job->method, ln->cov, ln->cov_work, NULL);
    double scale = 1;
    if (ok && !job->opt.absolute_sigma) {
        if (m_used > (size_t)nf)
            scale = 2 * cost / (double)(m_used - (size_t)nf);
        else
            ok = 0;
    }
    r->pcov_valid[i] = (unsigned char)ok;
    double *pcov = r->pcov ? r->pcov + i * (size_t)n * (size_t)n : NULL;
    if (pcov) memset(pcov, 0, (size_t)n * (size_t)n * sizeof *pcov);
    double *perr = r->perr + i * (size_t)n;
    for (int j = 0; j < n; j++) perr[j] = 0;
    for (int a = 0; a < nf; a++) {
        int ja = fp->free_idx[a];
        double v = ok ? ln->cov[(size_t)a * nf + a] * scale : INFINITY;
        perr[ja] = sqrt(v);
        for (int c = 0; pcov && c < nf; c++)
            pcov[(size_t)ja * n + (size_t)fp->free_idx[c]] = ok ? ln->cov[(size_t)a * nf + c] * scale : INFINITY;
    }
}

/* The findings a batch can make from each fit's R_aug (no R^2: NaN). */
static void record_diagnostics(batch_job *job, lane *ln, size_t i, int status)
{
    int n = job->r->n;
    nlsq_diagnostics d = {0};
    d.param_flags = ln->param_flags;
    d.influence = ln->influence;
    memset(ln->param_flags, 0, (size_t)n * sizeof *ln->param_flags);
    memset(ln->influence, 0, (size_t)n * sizeof *ln->influence);
    fit_diagnose_jacobian(&ln->fp, ln->x0, status, NAN, job->r->chi2[i], &d, ln->diag_work, ln->diag_cols);
    job->r->diag_flags[i] = d.flags;
}

static int stop_if_cancelled(void *ctx, int iteration, double cost, const double *x, double grad_norm, double step_norm)
{
    (void)iteration, (void)cost, (void)x, (void)grad_norm, (void)step_norm;
    batch_job *job = ctx;
    return atomic_load_explicit(&job->cancelled, memory_order_relaxed);
}

static void run_fit(batch_job *job, lane *ln, size_t i)
{
    const nlsq_batch *b = job->b;
    nlsq_batch_result *r = job->r;
    fit_problem *fp = &ln->fp;
    int n = r->n, k = job->model->vars.count;
    fp->opt.p0 = b->p0 ? b->p0 + i * (size_t)n : job->opt.p0;
    fp->opt.lower = b->lower ? b->lower + i * (size_t)n : job->opt.lower;
    fp->opt.upper = b->upper ? b->upper + i * (size_t)n : job->opt.upper;
    fp->opt.fixed = b->fixed ? b->fixed + i * (size_t)n : job->opt.fixed;
    r->nit[i] = r->nfev[i] = 0;
    r->m[i] = 0;
    if (atomic_load_explicit(&job->cancelled, memory_order_relaxed)) {
        record_not_run(job, ln, i, NLSQ_FIT_STOPPED, 0);
        return;
    }
    if (fit_setup_parameters(fp, NULL) != NLSQ_OK) {
        record_not_run(job, ln, i, NLSQ_FIT_BAD_INPUT, fp->opt.p0 != NULL);
        return;
    }
    size_t first, len;
    fit_points(job, i, &first, &len);
    ln->pa.x = b->x_shared ? b->x : b->x ? b->x + first : NULL;
    ln->pa.stride = b->x_shared ? job->longest : job->total;
    ln->pa.y = b->y + first;
    ln->pa.sigma = b->sigma ? b->sigma + first : NULL;
    size_t m_used = batch_usable_points(&ln->pa, k, len, job->opt.nan_policy);
    r->m[i] = m_used;
    if (m_used == 0) {
        record_not_run(job, ln, i, NLSQ_FIT_BAD_DATA, 1);
        return;
    }
    fp->m_used = m_used;
    fp->opt.method = job->method;
    nlsq_status st = fit_choose_method(fp, NULL);
    if (st != NLSQ_OK) {
        record_not_run(job, ln, i, st == NLSQ_ERR_DATA ? NLSQ_FIT_BAD_DATA : NLSQ_FIT_BAD_INPUT, 1);
        return;
    }
    if (!(ln->ps = lane_pass_for(ln, job))) {
        atomic_store(&job->nomem, 1);
        record_not_run(job, ln, i, NLSQ_FIT_BAD_INPUT, 1);
        return;
    }
    ln->pd = pass_data_arrays(&ln->pa, len, 1.0, job->opt.nan_policy == NLSQ_NAN_OMIT);

    int nf = fp->n_free;
    for (int a = 0; a < nf; a++) {
        int j = fp->free_idx[a];
        fp->x[a] = fp->p[j];
        fp->lbf[a] = fp->lb[j];
        fp->ubf[a] = fp->ub[j];
        if (job->opt.x_scale) fp->xsf[a] = job->opt.x_scale[j];
    }
    memcpy(ln->x0, fp->x, (size_t)nf * sizeof *fp->x);
    solve_problem pb = {nf, m_used, evaluate_fit, ln, fp->lbf, fp->ubf, NULL, 0, NULL};
    solve_options so = {job->opt.ftol,
                        job->opt.xtol,
                        job->opt.gtol,
                        job->opt.max_nfev,
                        job->opt.x_scale ? fp->xsf : NULL,
                        job->opt.x_scale_jac,
                        NULL,
                        NULL,
                        ln->solve_work,
                        job->opt.lm_last_jacobian,
                        NULL};
    fit_default_tolerances(job->method, &so);
    if (job->opt.progress) { /* a fit running when the batch is cancelled stops too */
        so.callback = stop_if_cancelled;
        so.callback_ctx = job;
    }
    solve_result sr;
    ln->nomem = 0;
    if (job->method == NLSQ_LM)
        solve_lm(&pb, &so, fp->x, fp->R, &sr);
    else if (job->method == NLSQ_DOGBOX)
        solve_dogbox(&pb, &so, fp->x, fp->R, &sr);
    else
        solve_trf(&pb, &so, fp->x, fp->R, &sr);
    if (ln->nomem) { /* a pass had no memory: the batch fails as a whole */
        atomic_store(&job->nomem, 1);
        record_not_run(job, ln, i, NLSQ_FIT_BAD_INPUT, 1);
        return;
    }
    if (sr.start_nonfinite) {
        record_not_run(job, ln, i, NLSQ_FIT_NONFINITE, 1);
        return;
    }
    fit_fill_params(fp, fp->x);
    memcpy(r->popt + i * (size_t)n, fp->p, (size_t)n * sizeof *fp->p);
    r->status[i] = sr.status;
    r->cost[i] = sr.cost;
    r->nit[i] = sr.nit;
    r->nfev[i] = sr.nfev;
    if (job->opt.loss == NLSQ_LOSS_LINEAR) {
        r->chi2[i] = 2 * sr.cost;
    } else { /* chi2 is before the loss: one more pass, as a single fit makes */
        pass_out out = {.R = ln->R_final, .residuals = NULL};
        pass_run(ln->ps, &ln->pd, fp->p, &out);
        if (out.nomem) atomic_store(&job->nomem, 1);
        r->chi2[i] = out.chi2;
    }
    if (r->perr) record_covariance(job, ln, i, sr.cost, m_used);
    record_diagnostics(job, ln, i, sr.status);
}

static void batch_task(void *ctx, int task, int worker)
{
    batch_job *job = ctx;
    lane *ln = &job->lanes[worker];
    size_t lo = (size_t)task * job->task_fits, hi = lo + job->task_fits;
    if (hi > job->b->nfits) hi = job->b->nfits;
    for (size_t i = lo; i < hi; i++) run_fit(job, ln, i);
    atomic_fetch_add_explicit(&job->done, hi - lo, memory_order_relaxed);
}

/* The progress function, on the caller's thread (pool_run_watched): the
   share of fits done. A nonzero return cancels the batch, and the function
   is not called again while the running fits wind down (on a loaded
   machine that can take several intervals). */
static void batch_watch(void *ctx)
{
    batch_job *job = ctx;
    if (atomic_load(&job->cancelled)) return;
    double fraction = (double)atomic_load(&job->done) / (double)job->b->nfits, t = host_seconds() - job->t_start;
    nlsq_progress p = {1, 0, fraction, NAN, t, NAN, fraction > 0 ? t * (1 - fraction) / fraction : NAN, job->total};
    if (job->opt.progress(job->opt.progress_data, &p) != 0) atomic_store(&job->cancelled, 1);
}

/* ---- checks and setup ------------------------------------------------------ */

/* Errors of the call, named as curve_fit.c names its own. */
static const fit_problem batch_who = {.who = "nlsq_fit_batch"};
#define fail(err, ...) fit_fail(&batch_who, err, __VA_ARGS__)

const char *fit_single_only_option(const nlsq_options *o)
{
    return o->callback ? "callback" : o->checkpoint ? "checkpoint" : o->keep_residuals ? "keep_residuals" : NULL;
}

/* The batch's shape: offsets valid, the total and the longest fit (who:
   the API function the messages name). */
nlsq_status batch_check_layout(const fit_problem *who, const nlsq_model *model, const nlsq_batch *b, size_t *total,
                               size_t *longest, nlsq_error *err)
{
#undef fail
#define fail(err, ...) fit_fail(who, err, __VA_ARGS__)
    int k = model->vars.count;
    if (b->offsets) {
        if (b->offsets[0] != 0)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "offsets[0] is %zu; it must be 0", b->offsets[0]);
        *longest = 0;
        for (size_t i = 0; i < b->nfits; i++) {
            if (b->offsets[i + 1] < b->offsets[i])
                return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "offsets[%zu] = %zu is below offsets[%zu] = %zu", i + 1,
                            b->offsets[i + 1], i, b->offsets[i]);
            size_t len = b->offsets[i + 1] - b->offsets[i];
            if (len > *longest) *longest = len;
        }
        *total = b->offsets[b->nfits];
    } else {
        if (b->m > 0 && b->nfits > SIZE_MAX / 8 / b->m)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nfits x m (%zu x %zu) is too large", b->nfits, b->m);
        *total = b->nfits * b->m;
        *longest = b->nfits ? b->m : 0;
    }
    if (*total > 0 && !b->y) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "y is NULL");
    if (*total > 0 && k > 0 && !b->x)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "x is NULL and the model has %d variable%s", k, k == 1 ? "" : "s");
    return NLSQ_OK;
}
#undef fail
#define fail(err, ...) fit_fail(&batch_who, err, __VA_ARGS__)

static nlsq_status check_options(const nlsq_options *o, nlsq_error *err)
{
    fit_problem probe;
    memset(&probe, 0, sizeof probe);
    probe.who = "nlsq_fit_batch";
    probe.opt = *o;
    nlsq_status st = fit_check_options(&probe, err);
    if (st != NLSQ_OK) return st;
    const char *single = fit_single_only_option(o);
    if (single)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the %s option is for single fits; a batch does not take it",
                    single);
    if (o->method == NLSQ_LM && o->loss != NLSQ_LOSS_LINEAR)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "method lm takes only the linear loss; use trf or dogbox");
    return NLSQ_OK;
}

static int batch_threads(const nlsq_options *o, int ntasks)
{
    return host_threads(o->threads, ntasks > 0 ? ntasks : 1);
}

static nlsq_batch_result *alloc_result(size_t nfits, int n, unsigned outputs)
{
    nlsq_batch_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t f = nfits ? nfits : 1, nn = (size_t)n;
    if (f > SIZE_MAX / sizeof(double) / nn / nn) {
        free(r);
        return NULL;
    }
    r->nfits = nfits;
    r->n = n;
    r->popt = malloc(f * nn * sizeof *r->popt);
    r->status = malloc(f * sizeof *r->status);
    r->pcov_valid = calloc(f, 1);
    r->cost = malloc(f * sizeof *r->cost);
    r->chi2 = malloc(f * sizeof *r->chi2);
    r->nit = malloc(f * sizeof *r->nit);
    r->nfev = malloc(f * sizeof *r->nfev);
    r->m = malloc(f * sizeof *r->m);
    r->diag_flags = calloc(f, sizeof *r->diag_flags);
    if (outputs & (NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV)) r->perr = malloc(f * nn * sizeof *r->perr);
    if (outputs & NLSQ_BATCH_PCOV) r->pcov = malloc(f * nn * nn * sizeof *r->pcov);
    if (!r->popt || !r->status || !r->pcov_valid || !r->cost || !r->chi2 || !r->nit || !r->nfev || !r->m ||
        !r->diag_flags || ((outputs & (NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV)) && !r->perr) ||
        ((outputs & NLSQ_BATCH_PCOV) && !r->pcov)) {
        nlsq_batch_result_free(r);
        return NULL;
    }
    return r;
}

/* The kernel choice as for a single fit, on the total points of many
   small fits (a batch's, a shared fit's sets): one long run of passes, so
   a kernel pays from 10^5 points. */
void batch_choose_kernel(nlsq_backend backend, size_t total, int *width, jit_mode *mode)
{
    const vmath *wide = vmath_avx2();
    *width = wide && vmath_select() == wide ? 4 : 1; /* the interpreter's math, exactly */
    *mode = backend == NLSQ_BACKEND_JIT ? JIT_WAIT : total >= 100000 ? JIT_BACKGROUND : JIT_LOOKUP;
}

static void describe_run(batch_job *job, int nlanes)
{
    nlsq_batch_result *r = job->r;
    int used_jit = 0;
    jit_entry *e = NULL;
    for (int w = 0; w < nlanes; w++) {
        lane *ln = &job->lanes[w];
        for (int k = 0; k < LANE_PASSES; k++) used_jit |= ln->passes[k].live && ln->passes[k].ps.jit_passes > 0;
        used_jit |= ln->used_jit;
        if (!e) e = ln->jit;
    }
    snprintf(r->backend, sizeof r->backend, "%s", used_jit ? "jit" : "interp");
    if (e && (used_jit || job->mode != JIT_LOOKUP))
        jit_entry_note(job->model, e, r->backend_note, sizeof r->backend_note);
    snprintf(r->device, sizeof r->device, "cpu");
    snprintf(r->device_note, sizeof r->device_note, "%d thread%s, one fit at a time on each%s%s", r->threads,
             r->threads == 1 ? "" : "s", job->cpu_why[0] ? "; " : "", job->cpu_why);
}

static nlsq_status run_cpu(batch_job *job, nlsq_error *err)
{
    const nlsq_batch *b = job->b;
    nlsq_batch_result *r = job->r;
    int threads = batch_threads(&job->opt, b->nfits < INT32_MAX ? (int)b->nfits : INT32_MAX);
    job->task_fits = b->nfits / ((size_t)threads * 16);
    if (job->task_fits > BATCH_TASK_FITS) job->task_fits = BATCH_TASK_FITS;
    if (job->task_fits < 1) job->task_fits = 1;
    while (b->nfits / job->task_fits > (size_t)INT32_MAX / 2) job->task_fits *= 2;
    int ntasks = (int)((b->nfits + job->task_fits - 1) / job->task_fits);
    int watcher = job->opt.progress != NULL; /* the caller watches; the workers fit */
    pool *pl = threads + watcher > 1 ? pool_new(threads + watcher) : NULL;
    if (threads + watcher > 1 && !pl) return fail(err, NLSQ_ERR_NOMEM, "cannot start %d threads", threads);
    threads = pool_threads(pl);
    job->lanes = aligned_alloc(64, (size_t)threads * sizeof *job->lanes); /* sizeof is a multiple of 64 */
    if (job->lanes) memset(job->lanes, 0, (size_t)threads * sizeof *job->lanes);
    nlsq_status st = NLSQ_OK;
    int made = 0, ok = job->lanes != NULL;
    while (ok && made < threads) ok = lane_init(&job->lanes[made++], job) == 0;
    if (!ok) {
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory for %d threads' buffers", threads);
    } else {
        r->threads = threads > 1 ? threads - watcher : 1;
        if (watcher)
            pool_run_watched(pl, batch_task, job, ntasks, batch_watch, job,
                             job->opt.progress_interval > 0 ? job->opt.progress_interval : 0.1);
        else
            pool_run(pl, batch_task, job, ntasks);
        if (atomic_load(&job->nomem))
            st = fail(err, NLSQ_ERR_NOMEM, "out of memory for a pass");
        else
            describe_run(job, threads);
    }
    for (int w = 0; job->lanes && w < made; w++) lane_free(&job->lanes[w]);
    free(job->lanes);
    pool_free(pl);
    return st;
}

/* ---- the GPU ---------------------------------------------------------------------------- */

/* Where the batch runs: a GPU when opt->device or NLSQ_DEVICE names one
   (cuda, cuda:N) and the batch is one the GPU kernel runs — method lm
   with one set of free parameters and no x_scale; else the CPU, and
   cpu_why says why when a GPU was asked for. auto means the CPU: there is
   no measured crossover for batches yet. */
static nlsq_status choose_batch_device(batch_job *job, nlsq_error *err)
{
    job->gpu = -1;
    const char *spec = job->opt.device ? job->opt.device : getenv("NLSQ_DEVICE");
    if (!spec || !*spec || !strcmp(spec, "auto") || !strcmp(spec, "cpu")) return NLSQ_OK;
    int ordinal = -1;
    if (!strcmp(spec, "cuda")) {
        ordinal = 0;
    } else if (!strncmp(spec, "cuda:", 5) && spec[5] >= '0' && spec[5] <= '9') {
        char *end;
        long v = strtol(spec + 5, &end, 10);
        if (!*end && v < 1024) ordinal = (int)v;
    }
    if (!strcmp(spec, "cuda:all"))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "device cuda:all: a batch runs on one GPU; name it (cuda:N)");
    if (ordinal < 0)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "device '%.40s': expected auto, cpu, cuda or cuda:N", spec);
    const char *cpu_why = job->method != NLSQ_LM ? "the GPU runs batches with method lm only"
                        : job->b->fixed          ? "the GPU runs one set of free parameters (no per-fit fixed masks)"
                        : job->opt.x_scale       ? "the GPU batch does not take x_scale"
                                                 : NULL;
    if (cpu_why) {
        snprintf(job->cpu_why, sizeof job->cpu_why, "%s (asked for: %.30s)", cpu_why, spec);
        return NLSQ_OK;
    }
    job->gpu = ordinal;
    return NLSQ_OK;
}

/* Every fit's full start vector (as a single fit makes it), and the fits
   that cannot run: p0 outside its bounds, or bounds at all (lm). */
static nlsq_status gpu_start_points(batch_job *job, lane *ln, double *p0, unsigned char *refused, int *cols, int *ncols,
                                    nlsq_error *err)
{
    const nlsq_batch *b = job->b;
    int n = job->r->n;
    fit_problem *fp = &ln->fp;
    *ncols = -1;
    for (size_t i = 0; i < b->nfits; i++) {
        fp->opt.p0 = b->p0 ? b->p0 + i * (size_t)n : job->opt.p0;
        fp->opt.lower = b->lower ? b->lower + i * (size_t)n : job->opt.lower;
        fp->opt.upper = b->upper ? b->upper + i * (size_t)n : job->opt.upper;
        fp->opt.fixed = job->opt.fixed;
        refused[i] = fit_setup_parameters(fp, NULL) != NLSQ_OK;
        for (int a = 0; !refused[i] && a < fp->n_free; a++)
            refused[i] = isfinite(fp->lb[fp->free_idx[a]]) || isfinite(fp->ub[fp->free_idx[a]]);
        for (int j = 0; j < n; j++) p0[i * (size_t)n + j] = refused[i] && fp->opt.p0 ? fp->opt.p0[j] : fp->p[j];
        if (*ncols < 0 && fp->n_free > 0) {
            *ncols = fp->n_free;
            memcpy(cols, fp->free_idx, (size_t)fp->n_free * sizeof *cols);
        }
    }
    if (*ncols < 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "every parameter is fixed: nothing to fit");
    return NLSQ_OK;
}

static nlsq_status run_gpu(batch_job *job, nlsq_error *err)
{
    const nlsq_batch *b = job->b;
    nlsq_batch_result *r = job->r;
    size_t nf = b->nfits, n = (size_t)r->n;
    lane ln;
    memset(&ln, 0, sizeof ln);
    double *p0 = malloc(nf * n * sizeof *p0);
    unsigned char *refused = malloc(nf);
    int *cols = malloc(n * sizeof *cols), ncols;
    nlsq_status st = NLSQ_OK;
    if (!p0 || !refused || !cols || lane_init(&ln, job) != 0) {
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory for the GPU batch's start points");
        goto done;
    }
    if ((st = gpu_start_points(job, &ln, p0, refused, cols, &ncols, err)) != NLSQ_OK) goto done;
    solve_options so = {job->opt.ftol, job->opt.xtol, job->opt.gtol, 0, NULL, 0, NULL, NULL, NULL, 0, NULL};
    fit_default_tolerances(NLSQ_LM, &so);
    gpu_batch_in in = {nf,
                       b->m,
                       job->total,
                       job->longest,
                       b->offsets,
                       b->x,
                       b->y,
                       b->sigma,
                       b->x_shared,
                       r->n,
                       job->model->vars.count,
                       p0,
                       job->opt.nan_policy == NLSQ_NAN_OMIT     ? 1
                       : job->opt.nan_policy == NLSQ_NAN_IGNORE ? 2
                                                                : 0,
                       job->opt.absolute_sigma,
                       job->opt.max_nfev,
                       r->pcov != NULL,
                       so.ftol,
                       so.xtol,
                       so.gtol,
                       job->opt.gpu_float32};
    gpu_batch_out out = {r->popt, r->perr, r->pcov,       r->cost, r->chi2, r->status,
                         r->nfev, r->nit,  r->pcov_valid, r->m,    "",      ""};
    char why[300];
    if (gpu_batch_run(&job->model->prog, cols, ncols, job->gpu, &in, &out, why, sizeof why) != 0) {
        st = fail(err, NLSQ_ERR_INVALID_ARGUMENT, "device cuda:%d: %s", job->gpu, why);
        goto done;
    }
    for (size_t i = 0; i < nf; i++)
        if (refused[i]) {
            memcpy(ln.fp.p, p0 + i * n, n * sizeof *p0);
            record_not_run(job, &ln, i, NLSQ_FIT_BAD_INPUT, 1);
            r->m[i] = 0;
            r->nfev[i] = r->nit[i] = 0;
        }
    /* the GPU's fits leave no R_aug here to diagnose */
    free(r->diag_flags);
    r->diag_flags = NULL;
    r->threads = 1;
    snprintf(r->backend, sizeof r->backend, "cuda");
    snprintf(r->device, sizeof r->device, "%s", out.device);
    snprintf(r->device_note, sizeof r->device_note, "%s", out.note);
done:
    lane_free(&ln);
    free(p0);
    free(refused);
    free(cols);
    return st;
}

nlsq_status nlsq_fit_batch(const nlsq_model *model, const nlsq_batch *batch, const nlsq_options *opt, unsigned outputs,
                           nlsq_batch_result **out, nlsq_error *err)
{
    error_clear(err);
    if (!model || !batch || !out)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s is NULL", !model ? "model" : !batch ? "batch" : "out");
    *out = NULL;
    if (model->params.count == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the model has no parameters");
    if (outputs & ~(unsigned)(NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown output flags 0x%x", outputs);
    double t0 = host_seconds();
    batch_job job;
    memset(&job, 0, sizeof job);
    job.t_start = t0;
    job.model = model;
    job.b = batch;
    job.opt = opt ? *opt : nlsq_options_default();
    nlsq_status st;
    fit_problem probe;
    memset(&probe, 0, sizeof probe);
    probe.who = "nlsq_fit_batch";
    if ((st = check_options(&job.opt, err)) == NLSQ_OK &&
        (st = batch_check_layout(&batch_who, model, batch, &job.total, &job.longest, err)) == NLSQ_OK) {
        job.method = job.opt.method == NLSQ_METHOD_AUTO ? fit_default_method() : job.opt.method;
        job.backend = job.opt.backend;
        if ((st = fit_choose_backend(&probe, &job.backend, err)) == NLSQ_OK) {
            batch_choose_kernel(job.backend, job.total, &job.width, &job.mode);
            if (!(job.r = alloc_result(batch->nfits, model->params.count, outputs)))
                st = fail(err, NLSQ_ERR_NOMEM, "out of memory for the results of %zu fits", batch->nfits);
        }
    }
    /* in a group, a failure here on one process (its environment, its
       memory for the whole result) fails all before they share the fits */
    if ((st = batch_group_settle(job.opt.group, st, err)) != NLSQ_OK) {
        nlsq_batch_result_free(job.r);
        return st;
    }
    job.r->method = job.method;
    if (job.opt.group && job.opt.group->size > 1) {
        if ((st = batch_over_group(model, batch, &job.opt, outputs, nlsq_fit_batch, job.r, err)) != NLSQ_OK) {
            nlsq_batch_result_free(job.r);
            return st;
        }
    } else if ((st = choose_batch_device(&job, err)) != NLSQ_OK ||
               (batch->nfits > 0 && (st = job.gpu >= 0 ? run_gpu(&job, err) : run_cpu(&job, err)) != NLSQ_OK)) {
        nlsq_batch_result_free(job.r);
        return st;
    }
    for (size_t i = 0; i < batch->nfits; i++) {
        job.r->converged += job.r->status[i] > 0;
        job.r->failed += job.r->status[i] < 0;
    }
    job.r->seconds = host_seconds() - t0;
    *out = job.r;
    return NLSQ_OK;
}
