/*
 * nlsq_fit_shared: one fit of many data sets that share some parameters
 * (a "global fit"), solved by its structure (src/solve/blocks.h).
 *
 * Each evaluation runs every data set's pass — the very pass a batch fit
 * or a single fit runs, on its points, with its columns ordered [free
 * locals | free shared] — and keeps the set's small triangle T_d. The
 * solver (trf or lm) sees the triangles through solve_blocks: it never
 * forms the stacked Jacobian. The sets are spread over threads in fixed
 * tasks and every sum over sets runs in set order, so the result is the
 * same bits for any thread count; in a group of processes each process
 * evaluates an even share of the sets and receives the others'.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "fit.h"
#include "kernel/sum.h"
#include "model/model.h"
#include "solve/blocks.h"
#include "solve/solve.h"

/* Sets per evaluation task: a few hundred microseconds of work. */
#define SHARED_TASK_SETS 32
/* Column lists (sets of free locals) a thread keeps a pass for. */
#define SHARED_PASSES 4

nlsq_shared nlsq_shared_default(void)
{
    nlsq_shared s;
    memset(&s, 0, sizeof s);
    s.data = nlsq_batch_default();
    return s;
}

void nlsq_shared_result_free(nlsq_shared_result *r)
{
    if (!r) return;
    free(r->popt);
    free(r->perr);
    free(r->pcov);
    free(r->shared_pcov);
    free(r->cost_set);
    free(r->chi2_set);
    free(r->m);
    free(r);
}

/* ---- the job ------------------------------------------------------------- */

typedef struct shared_pass {
    int *cols, ncols, live;
    pass ps;
} shared_pass;

/* One thread's state: its passes and a parameter vector. */
typedef struct shared_lane {
    _Alignas(64) shared_pass passes[SHARED_PASSES];
    int next_victim;
    double *p; /* n */
    int *cols; /* n */
    int nomem;
} shared_lane;

typedef struct shared_job {
    const nlsq_model *model;
    const nlsq_shared *sp;
    nlsq_options opt;
    int n, k;
    size_t nsets, total, longest;
    nlsq_method method;
    nlsq_backend backend;
    jit_mode mode;
    int width;
    /* per set */
    /* what the passes evaluate: the model, or with covariates the model
       with them made parameters (model_vars_to_params: computed once per
       set and evaluation, not per point), of n_eval parameters and k_eval
       variables read from x_eval (the data's x, or its non-covariate rows
       copied when those are not its first rows) */
    nlsq_model *rebound;
    const nlsq_model *eval_model;
    int n_eval, k_eval;
    double *x_eval_owned;
    const double *x_eval;
    double *p_start; /* nsets x n_eval: fixed values, starts, covariates */
    int *local_idx;         /* nsets x n: the free locals, model order  */
    int *nl;                /* nsets                                     */
    size_t *x_at, *R_at;    /* nsets + 1 each                            */
    size_t *first, *len;    /* nsets: the points                         */
    size_t *m_used;         /* nsets                                     */
    unsigned char *bad_set; /* nsets: not finite at the latest point     */
    /* shared */
    int ns;          /* free shared parameters                          */
    int *shared_idx; /* ns, model order                                 */
    /* the solver's unknowns */
    double *R; /* the solver's R_aug                                  */
    size_t N, provisional;
    double *x, *lb, *ub, *xs;
    double *x0;       /* N: the start the checks evaluated              */
    double *primed;   /* the R they filled, until the solver's first call */
    solve_blocks bk;
    /* threads */
    pool *pool;
    int threads;
    shared_lane *lanes;
    const double *eval_x;
    double *eval_R;
    size_t eval_lo, eval_hi; /* the sets this process evaluates */
    atomic_int nomem;
    int group_failed;
    /* progress */
    double t_start;
    int stopped, passes; /* passes: evaluations run (progress's pass) */
} shared_job;

static const fit_problem shared_who = {.who = "nlsq_fit_shared"};
#define fail(err, ...) fit_fail(&shared_who, err, __VA_ARGS__)

static void job_free(shared_job *job)
{
    for (int w = 0; job->lanes && w < job->threads; w++) {
        shared_lane *ln = &job->lanes[w];
        for (int c = 0; c < SHARED_PASSES; c++) {
            if (ln->passes[c].live) pass_free(&ln->passes[c].ps);
            free(ln->passes[c].cols);
        }
        free(ln->p);
        free(ln->cols);
    }
    free(job->lanes);
    pool_free(job->pool);
    blocks_free(&job->bk);
    free(job->p_start);
    nlsq_model_free(job->rebound);
    free(job->x_eval_owned);
    free(job->local_idx);
    free(job->nl);
    free(job->x_at);
    free(job->R_at);
    free(job->first);
    free(job->len);
    free(job->m_used);
    free(job->bad_set);
    free(job->shared_idx);
    free(job->x);
    free(job->lb);
    free(job->ub);
    free(job->xs);
    free(job->x0);
    free(job->R);
}

/* ---- evaluating every set ------------------------------------------------ */

/* The thread's pass for these columns: one met before, or a new one. */
static pass *lane_pass(shared_job *job, shared_lane *ln, const int *cols, int nc)
{
    for (int c = 0; c < SHARED_PASSES; c++) {
        shared_pass *sp = &ln->passes[c];
        if (sp->live && sp->ncols == nc && memcmp(sp->cols, cols, (size_t)nc * sizeof *cols) == 0) return &sp->ps;
    }
    int c = 0;
    while (c < SHARED_PASSES && ln->passes[c].live) c++;
    if (c == SHARED_PASSES) {
        c = ln->next_victim;
        ln->next_victim = (c + 1) % SHARED_PASSES;
        pass_free(&ln->passes[c].ps);
        ln->passes[c].live = 0;
    }
    shared_pass *sp = &ln->passes[c];
    if (pass_init(&sp->ps, &job->eval_model->prog, vmath_select(), cols, nc, job->opt.loss, job->opt.f_scale, NULL) !=
        0)
        return NULL;
    sp->live = 1;
    memcpy(sp->cols, cols, (size_t)nc * sizeof *cols);
    sp->ncols = nc;
    if (job->backend != NLSQ_BACKEND_INTERP) {
        jit_entry *e = jit_get(job->eval_model, cols, nc, job->width, job->mode);
        if (!e || pass_use_jit(&sp->ps, e) != 0) return NULL;
    }
    return &sp->ps;
}

/* Set d's points as the data give them (every variable): for the checks. */
static pass_arrays set_arrays(const shared_job *job, size_t d)
{
    const nlsq_batch *b = &job->sp->data;
    pass_arrays a;
    a.x = b->x_shared ? b->x : b->x ? b->x + job->first[d] : NULL;
    a.stride = b->x_shared ? job->longest : job->total;
    a.y = b->y + job->first[d];
    a.sigma = b->sigma ? b->sigma + job->first[d] : NULL;
    return a;
}

/* Set d's points as the passes read them (the k_eval variables). */
static pass_arrays eval_arrays(const shared_job *job, size_t d)
{
    pass_arrays a = set_arrays(job, d);
    const nlsq_batch *b = &job->sp->data;
    if (job->x_eval && job->x_eval != b->x) a.x = b->x_shared ? job->x_eval : job->x_eval + job->first[d];
    return a;
}

/* Set d's full parameter vector at the unknowns x, and its columns. */
static int set_params(const shared_job *job, size_t d, const double *x, double *p, int *cols)
{
    int nl = job->nl[d];
    memcpy(p, job->p_start + d * (size_t)job->n_eval, (size_t)job->n_eval * sizeof *p);
    const int *loc = job->local_idx + d * (size_t)job->n;
    for (int a = 0; a < nl; a++) {
        p[loc[a]] = x[job->x_at[d] + (size_t)a];
        cols[a] = loc[a];
    }
    for (int b = 0; b < job->ns; b++) {
        p[job->shared_idx[b]] = x[job->x_at[job->nsets] + (size_t)b];
        cols[nl + b] = job->shared_idx[b];
    }
    return nl + job->ns;
}

/* Set d's cost and chi2 at the point R belongs to: kept after its
   triangle, so that they travel with it (an accepted step's R is the
   solution's, and its sums with it: no pass to take them again). */
static double *set_sums(const shared_job *job, const double *R, size_t d)
{
    size_t kc = (size_t)(job->nl[d] + job->ns) + 1;
    return (double *)R + job->R_at[d] + kc * kc;
}

static void evaluate_set(shared_job *job, shared_lane *ln, size_t d, const double *x, double *R)
{
    int nc = set_params(job, d, x, ln->p, ln->cols);
    pass *ps = lane_pass(job, ln, ln->cols, nc);
    if (!ps) {
        atomic_store(&job->nomem, 1);
        job->bad_set[d] = 1;
        return;
    }
    pass_arrays a = eval_arrays(job, d);
    pass_data pd = pass_data_arrays(&a, job->len[d], 1.0, job->opt.nan_policy == NLSQ_NAN_OMIT);
    pass_out out = {.R = R + job->R_at[d]};
    pass_run(ps, &pd, ln->p, &out);
    if (out.nomem) atomic_store(&job->nomem, 1);
    double *sums = set_sums(job, R, d);
    sums[0] = out.cost;
    sums[1] = out.chi2;
    job->bad_set[d] = out.nonfinite || out.nomem || !isfinite(out.cost);
}

static void evaluate_task(void *ctx, int task, int worker)
{
    shared_job *job = ctx;
    size_t lo = job->eval_lo + (size_t)task * SHARED_TASK_SETS, hi = lo + SHARED_TASK_SETS;
    if (hi > job->eval_hi) hi = job->eval_hi;
    for (size_t d = lo; d < hi; d++) evaluate_set(job, &job->lanes[worker], d, job->eval_x, job->eval_R);
}

/* The sets [lo, hi) this process evaluates: all, or its even share. */
static void process_span(const shared_job *job, int rank, size_t *lo, size_t *hi)
{
    const nlsq_group *g = job->opt.group;
    int size = g && g->size > 1 ? g->size : 1;
    *lo = job->nsets * (size_t)rank / (size_t)size;
    *hi = job->nsets * ((size_t)rank + 1) / (size_t)size;
}

/* Every process's sets, broadcast by their owners in rank order: the
   triangles (and their costs) and flags are each set's own, so the whole is the
   same bits whoever evaluated which set. */
static int share_sets(shared_job *job, double *R)
{
    const nlsq_group *g = job->opt.group;
    for (int r = 0; r < g->size; r++) {
        size_t lo, hi;
        process_span(job, r, &lo, &hi);
        if (hi == lo) continue;
        size_t nR = job->R_at[hi] - job->R_at[lo];
        if (g->bcast(g->ctx, r, R + job->R_at[lo], nR * sizeof *R) != 0 ||
            g->bcast(g->ctx, r, job->bad_set + lo, hi - lo) != 0)
            return -1;
    }
    int nomem = atomic_load(&job->nomem), lowest;
    if (group_agree(g, GROUP_TAG_SHARED, nomem, &lowest) != 0) return -1;
    if (lowest >= 0) atomic_store(&job->nomem, 1);
    return 0;
}

static void evaluate_all(shared_job *job, const double *x, double *R)
{
    size_t lo = 0, hi = job->nsets;
    const nlsq_group *g = job->opt.group;
    int grouped = g && g->size > 1;
    if (grouped) process_span(job, g->rank, &lo, &hi);
    job->passes++;
    job->eval_x = x;
    job->eval_R = R;
    job->eval_lo = lo;
    job->eval_hi = hi;
    pool_run(job->pool, evaluate_task, job, (int)((hi - lo + SHARED_TASK_SETS - 1) / SHARED_TASK_SETS));
    if (grouped && share_sets(job, R) != 0) job->group_failed = 1;
}

/* The sum over sets of sums[which] (0 cost, 1 chi2), in set order. */
static double sum_sets(const shared_job *job, const double *R, int which)
{
    nk_ksum sum = {0, 0};
    for (size_t d = 0; d < job->nsets; d++) nk_ksum_add(&sum, set_sums(job, R, d)[which]);
    return sum.sum + sum.comp;
}

/* The solver's evaluate: every set's pass, the cost summed in set order.
   Its first call, at the start into the R the checks filled, is the
   checks' pass (check_start): not run twice. */
static int evaluate_shared(void *ctx, const double *x, double *cost, double *R)
{
    shared_job *job = ctx;
    if (job->primed && R == job->primed && memcmp(x, job->x0, job->N * sizeof *x) == 0) {
        job->primed = NULL;
        *cost = sum_sets(job, R, 0);
        return 0;
    }
    job->primed = NULL;
    evaluate_all(job, x, R);
    *cost = sum_sets(job, R, 0);
    int bad = 0;
    for (size_t d = 0; d < job->nsets; d++) bad |= job->bad_set[d];
    return bad || job->group_failed || atomic_load(&job->nomem) || !isfinite(*cost);
}

static int grouped(const shared_job *job)
{
    return job->opt.group && job->opt.group->size > 1;
}

/* Progress per iteration; a nonzero return stops the fit — on every
   process of a group when any one's progress asks (they agree). */
static int shared_progress(void *ctx, int iteration, double cost, const double *x, double grad_norm, double step_norm)
{
    (void)x, (void)grad_norm, (void)step_norm;
    shared_job *job = ctx;
    double t = host_seconds() - job->t_start;
    nlsq_progress p = {job->passes, iteration, 1, cost, t, NAN, 0, job->total};
    int stop = job->opt.progress && job->opt.progress(job->opt.progress_data, &p) != 0, lowest;
    if (grouped(job)) {
        if (group_agree(job->opt.group, GROUP_TAG_SHARED + 0x40, stop, &lowest) != 0)
            job->group_failed = 1;
        stop = lowest >= 0 || job->group_failed;
    }
    job->stopped |= stop;
    return stop;
}

/* ---- checks and setup ---------------------------------------------------- */

static nlsq_status check_options(const nlsq_options *o, nlsq_error *err)
{
    fit_problem probe;
    memset(&probe, 0, sizeof probe);
    probe.who = "nlsq_fit_shared";
    probe.opt = *o;
    nlsq_status st = fit_check_options(&probe, err);
    if (st != NLSQ_OK) return st;
    const char *refused = fit_single_only_option(o);
    if (refused)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "a shared-parameter fit does not take the %s option%s", refused,
                    o->callback ? " (use progress)" : "");
    if (o->method == NLSQ_DOGBOX)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                    "method dogbox is not available for shared-parameter fits; use trf (bounds) or lm");
    if (o->method == NLSQ_LM && o->loss != NLSQ_LOSS_LINEAR)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "method lm takes only the linear loss; use trf");
    const char *device = o->device ? o->device : getenv("NLSQ_DEVICE");
    if (device && *device && strcmp(device, "cpu") && strcmp(device, "auto"))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "device '%.40s': shared-parameter fits run on the CPU", device);
    return NLSQ_OK;
}

/* The layout: every set's points, the totals, the covariates constant. */
static nlsq_status check_layout(shared_job *job, nlsq_error *err)
{
    const nlsq_shared *sp = job->sp;
    const nlsq_batch *b = &sp->data;
    const nlsq_model *model = job->model;
    if (b->nfits == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "no data sets (data.nfits is 0)");
    if (!sp->shared) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "shared is NULL: flag the shared parameters");
    nlsq_status st = batch_check_layout(&shared_who, model, b, &job->total, &job->longest, err);
    if (st != NLSQ_OK) return st;
    for (size_t d = 0; d < b->nfits; d++) {
        job->first[d] = b->offsets ? b->offsets[d] : d * b->m;
        job->len[d] = b->offsets ? b->offsets[d + 1] - b->offsets[d] : b->m;
    }
    for (int v = 0; sp->covariate && v < job->k; v++) {
        if (!sp->covariate[v]) continue;
        for (size_t d = 0; d < job->nsets; d++) {
            pass_arrays a = set_arrays(job, d);
            const double *row = a.x + (size_t)v * a.stride;
            size_t first = 0; /* NaN/Inf are nan_policy's (check_points), not a second value */
            while (first < job->len[d] && !isfinite(row[first])) first++;
            for (size_t i = first + 1; i < job->len[d]; i++)
                if (isfinite(row[i]) && row[i] != row[first])
                    return fail(err, NLSQ_ERR_DATA,
                                "covariate '%s' varies within data set %zu: point %zu has %.17g where point %zu has "
                                "%.17g (a covariate takes one value per data set)",
                                model->vars.names[v], d, i, row[i], first, row[first]);
        }
    }
    return NLSQ_OK;
}

/* Every covariate finite at every point of every set: they can then be
   made parameters (a NaN covariate is left a variable, for nan_policy to
   judge point by point). */
static int covariates_finite(const shared_job *job)
{
    for (int v = 0; v < job->k; v++) {
        if (!job->sp->covariate[v]) continue;
        for (size_t d = 0; d < job->nsets; d++) {
            pass_arrays a = set_arrays(job, d);
            for (size_t i = 0; i < job->len[d]; i++)
                if (!isfinite(a.x[(size_t)v * a.stride + i])) return 0;
        }
    }
    return 1;
}

/* What the passes evaluate (see shared_job): with covariates the model
   with them made parameters, each set's values in its parameter vector,
   and the other variables' rows as a pass reads them. */
static nlsq_status choose_eval_model(shared_job *job, nlsq_error *err)
{
    const unsigned char *cov = job->sp->covariate;
    const nlsq_batch *b = &job->sp->data;
    job->eval_model = job->model;
    job->n_eval = job->n;
    job->k_eval = job->k;
    job->x_eval = b->x;
    int ncov = 0, trailing = 1;
    for (int v = 0; cov && v < job->k; v++) ncov += cov[v] != 0;
    if (ncov == 0 || !covariates_finite(job)) return NLSQ_OK;
    nlsq_status st = model_vars_to_params(job->model, cov, &job->rebound, err);
    if (st != NLSQ_OK) return st;
    job->eval_model = job->rebound;
    job->n_eval = job->n + ncov;
    job->k_eval = job->k - ncov;
    for (int v = 0; v < job->k_eval; v++) trailing &= !cov[v];
    if (trailing || job->k_eval == 0) return NLSQ_OK; /* the first k_eval rows, in place */
    size_t row = b->x_shared ? job->longest : job->total;
    if (!(job->x_eval_owned = malloc((size_t)job->k_eval * row * sizeof *job->x_eval_owned)))
        return fail(err, NLSQ_ERR_NOMEM, "out of memory for the variables' rows");
    for (int v = 0, kept = 0; v < job->k; v++)
        if (!cov[v]) memcpy(job->x_eval_owned + (size_t)kept++ * row, b->x + (size_t)v * row, row * sizeof *b->x);
    job->x_eval = job->x_eval_owned;
    return NLSQ_OK;
}

/* Each set's covariate values after its parameters (checked constant). */
static void fill_covariates(shared_job *job)
{
    for (size_t d = 0; job->rebound && d < job->nsets; d++) {
        pass_arrays a = set_arrays(job, d);
        double *p = job->p_start + d * (size_t)job->n_eval + job->n;
        for (int v = 0, c = 0; v < job->k; v++)
            if (job->sp->covariate[v]) p[c++] = job->len[d] ? a.x[(size_t)v * a.stride] : 0;
    }
}

/* Row d of a batch array, or the option's, or NULL. */
static const void *row_or(const void *batch_rows, size_t d, size_t row_bytes, const void *fallback)
{
    return batch_rows ? (const char *)batch_rows + d * row_bytes : fallback;
}

/* Set d's start, bounds and fixed flags, as the header says: a local's
   from its batch row else opt, a shared one's from opt else row 0. */
static nlsq_status setup_set(shared_job *job, fit_problem *fp, size_t d, double *buf, unsigned char *fixed,
                             nlsq_error *err)
{
    const nlsq_batch *b = &job->sp->data;
    const unsigned char *shared = job->sp->shared;
    const nlsq_options *o = &job->opt;
    int n = job->n;
    size_t rb = (size_t)n * sizeof(double);
    const double *src[3][2] = {{row_or(b->p0, d, rb, o->p0), o->p0 ? o->p0 : row_or(b->p0, 0, rb, NULL)},
                               {row_or(b->lower, d, rb, o->lower), o->lower ? o->lower : row_or(b->lower, 0, rb, NULL)},
                               {row_or(b->upper, d, rb, o->upper), o->upper ? o->upper : row_or(b->upper, 0, rb, NULL)}};
    const unsigned char *fsrc[2] = {row_or(b->fixed, d, (size_t)n, o->fixed),
                                    o->fixed ? o->fixed : row_or(b->fixed, 0, (size_t)n, NULL)};
    /* a shared parameter has one start, one pair of bounds, one flag:
       rows that give it others would be silently overruled by row 0 */
    const double *rows[3] = {o->p0 ? NULL : b->p0, o->lower ? NULL : b->lower, o->upper ? NULL : b->upper};
    static const char *const what[3] = {"p0", "lower", "upper"};
    for (int q = 0; d > 0 && q < 3; q++)
        for (int j = 0; rows[q] && j < n; j++) {
            double v0 = rows[q][j], vd = rows[q][d * (size_t)n + (size_t)j];
            if (shared[j] && v0 != vd && !(isnan(v0) && isnan(vd)))
                return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                            "data.%s gives shared parameter '%s' %.17g in row %zu but %.17g in row 0: a shared "
                            "parameter takes one value (give it in opt's %s)",
                            what[q], job->model->params.names[j], vd, d, v0, what[q]);
        }
    for (int j = 0; d > 0 && !o->fixed && b->fixed && j < n; j++)
        if (shared[j] && b->fixed[d * (size_t)n + (size_t)j] != b->fixed[j])
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "data.fixed fixes shared parameter '%s' in row %zu but not in row %zu: it is fixed for all "
                        "data sets or for none (give it in opt's fixed)",
                        job->model->params.names[j], b->fixed[j] ? (size_t)0 : d, b->fixed[j] ? d : (size_t)0);
    double *arr[3] = {buf, buf + n, buf + 2 * n};
    int have[3] = {0, 0, 0}, have_fixed = 0;
    for (int j = 0; j < n; j++) {
        int s = shared[j] != 0;
        for (int q = 0; q < 3; q++) {
            const double *from = src[q][s];
            arr[q][j] = from ? from[j] : q == 0 ? NAN : q == 1 ? -INFINITY : INFINITY;
            have[q] |= from != NULL;
        }
        fixed[j] = fsrc[s] ? fsrc[s][j] : 0;
        have_fixed |= fsrc[s] != NULL;
    }
    fp->opt.p0 = have[0] ? arr[0] : NULL;
    fp->opt.lower = have[1] ? arr[1] : NULL;
    fp->opt.upper = have[2] ? arr[2] : NULL;
    fp->opt.fixed = have_fixed ? fixed : NULL;
    nlsq_error inner;
    fp->n_free = -1; /* set by fit_setup_parameters once start, bounds and scales passed */
    if (fit_setup_parameters(fp, &inner) == NLSQ_OK) return NLSQ_OK;
    if (fp->n_free == 0) return NLSQ_OK; /* every parameter fixed in this set: no unknowns of its own */
    const char *msg = strchr(inner.message, ':') ? strchr(inner.message, ':') + 2 : inner.message;
    for (int j = 0; j < n; j++) { /* a shared parameter's start or bounds: not one set's */
        char quoted[80];
        snprintf(quoted, sizeof quoted, "'%s'", job->model->params.names[j]);
        if (shared[j] && strstr(msg, quoted)) return fail(err, inner.code, "shared parameter %s: %s", quoted, msg);
    }
    return fail(err, inner.code, "data set %zu: %s", d, msg);
}

/* Every set's start and unknowns; the shared ones' from set 0, which
   every set agrees with by construction. */
static nlsq_status setup_parameters(shared_job *job, nlsq_error *err)
{
    int n = job->n;
    fit_problem fp;
    memset(&fp, 0, sizeof fp);
    fp.model = job->model;
    fp.who = "nlsq_fit_shared";
    fp.opt = job->opt;
    fp.n = n;
    fp.lb = malloc(3 * (size_t)n * sizeof *fp.lb);
    fp.p = malloc(3 * (size_t)n * sizeof *fp.p);
    fp.free_idx = malloc((size_t)n * sizeof *fp.free_idx);
    unsigned char *fixed = malloc((size_t)n);
    double *buf = malloc(3 * (size_t)n * sizeof *buf);
    nlsq_status st = NLSQ_OK;
    if (!fp.lb || !fp.p || !fp.free_idx || !fixed || !buf) {
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory");
        goto done;
    }
    fp.ub = fp.lb + n;
    job->ns = 0;
    for (size_t d = 0; d < job->nsets && st == NLSQ_OK; d++) {
        if ((st = setup_set(job, &fp, d, buf, fixed, err)) != NLSQ_OK) break;
        memcpy(job->p_start + d * (size_t)job->n_eval, fp.p, (size_t)n * sizeof *fp.p);
        int nl = 0, ns = 0;
        for (int a = 0; a < fp.n_free; a++) {
            int j = fp.free_idx[a];
            if (job->sp->shared[j]) {
                if (d == 0) job->shared_idx[ns] = j;
                ns++;
            } else {
                job->local_idx[d * (size_t)n + (size_t)nl++] = j;
            }
        }
        if (d == 0) job->ns = ns;
        job->nl[d] = nl;
        job->x_at[d + 1] = job->x_at[d] + (size_t)nl;
        size_t kc = (size_t)(nl + ns) + 1;
        job->R_at[d + 1] = job->R_at[d] + kc * kc + 2; /* + the set's cost and chi2 (set_sums) */
        for (int a = 0; a < nl; a++) { /* the unknowns' start, bounds, scales */
            size_t u = job->x_at[d] + (size_t)a;
            int j = job->local_idx[d * (size_t)n + (size_t)a];
            job->x[u] = fp.p[j];
            job->lb[u] = fp.lb[j];
            job->ub[u] = fp.ub[j];
            job->xs[u] = job->opt.x_scale ? job->opt.x_scale[j] : 1;
        }
        for (int b = 0; d == 0 && b < ns; b++) { /* at the provisional place: see place_shared */
            int j = job->shared_idx[b];
            size_t u = job->provisional + (size_t)b;
            job->x[u] = fp.p[j];
            job->lb[u] = fp.lb[j];
            job->ub[u] = fp.ub[j];
            job->xs[u] = job->opt.x_scale ? job->opt.x_scale[j] : 1;
        }
    }
done:
    free(fp.lb);
    free(fp.p);
    free(fp.free_idx);
    free(fixed);
    free(buf);
    return st;
}

/* Each set's usable points under nan_policy, and enough of them. */
static nlsq_status check_points(shared_job *job, nlsq_error *err)
{
    size_t m_total = 0;
    for (size_t d = 0; d < job->nsets; d++) {
        const nlsq_batch *b = &job->sp->data;
        pass_arrays a = set_arrays(job, d);
        size_t used = batch_usable_points(&a, job->k, job->len[d], job->opt.nan_policy);
        if (used == 0 && job->len[d] > 0 && (job->opt.nan_policy != NLSQ_NAN_OMIT || job->nl[d] > 0))
            return fail(err, NLSQ_ERR_DATA, "data set %zu: %s", d,
                        job->opt.nan_policy == NLSQ_NAN_OMIT ? "no point is left once NaN/Inf points are omitted"
                        : b->sigma ? "NaN/Inf in its x, y or sigma (nan_policy raise; omit drops such points), or a "
                                     "sigma <= 0"
                                   : "NaN/Inf in its x or y (nan_policy raise; omit drops such points)");
        if (used < (size_t)job->nl[d])
            return fail(err, NLSQ_ERR_DATA,
                        "data set %zu has %zu usable point%s for its %d free local parameter%s: each set needs at "
                        "least as many points as its own parameters",
                        d, used, used == 1 ? "" : "s", job->nl[d], job->nl[d] == 1 ? "" : "s");
        job->m_used[d] = used;
        m_total += used;
    }
    if (m_total < job->N)
        return fail(err, NLSQ_ERR_DATA, "%zu usable points in all for %zu free parameters: the fit is not determined",
                    m_total, job->N);
    job->bk.m = m_total;
    return NLSQ_OK;
}

static nlsq_status alloc_job(shared_job *job, nlsq_error *err)
{
    size_t D = job->nsets, n = (size_t)job->n;
    if (D > SIZE_MAX / 8 / (n * n + 8))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%zu data sets of %zu parameters are too many", D, n);
    job->p_start = malloc(D * (n + (size_t)job->k) * sizeof *job->p_start); /* n_eval <= n + k */
    job->local_idx = malloc(D * n * sizeof *job->local_idx);
    job->nl = malloc(D * sizeof *job->nl);
    job->x_at = calloc(D + 1, sizeof *job->x_at);
    job->R_at = calloc(D + 1, sizeof *job->R_at);
    job->first = malloc(D * sizeof *job->first);
    job->len = malloc(D * sizeof *job->len);
    job->m_used = malloc(D * sizeof *job->m_used);
    job->bad_set = calloc(D, 1);
    job->shared_idx = malloc(n * sizeof *job->shared_idx);
    size_t N = D * n + n; /* at most; trimmed by the setup */
    job->x = malloc(N * sizeof *job->x);
    job->lb = malloc(N * sizeof *job->lb);
    job->ub = malloc(N * sizeof *job->ub);
    job->xs = malloc(N * sizeof *job->xs);
    if (!job->p_start || !job->local_idx || !job->nl || !job->x_at || !job->R_at || !job->first || !job->len ||
        !job->m_used || !job->bad_set || !job->shared_idx || !job->x ||
        !job->lb || !job->ub || !job->xs)
        return fail(err, NLSQ_ERR_NOMEM, "out of memory for %zu data sets", D);
    return NLSQ_OK;
}

/* The shared unknowns sit after every set's locals: their place is known
   only once every set's locals are counted, so the setup writes them at
   the end of the largest layout and they are moved here. */
static void place_shared(shared_job *job)
{
    size_t provisional = job->provisional;
    size_t at = job->x_at[job->nsets];
    for (int b = 0; b < job->ns; b++) {
        job->x[at + (size_t)b] = job->x[provisional + (size_t)b];
        job->lb[at + (size_t)b] = job->lb[provisional + (size_t)b];
        job->ub[at + (size_t)b] = job->ub[provisional + (size_t)b];
        job->xs[at + (size_t)b] = job->xs[provisional + (size_t)b];
    }
    job->N = at + (size_t)job->ns;
}

static nlsq_status start_threads(shared_job *job, nlsq_error *err)
{
    job->threads = host_threads(job->opt.threads, (long)((job->nsets + SHARED_TASK_SETS - 1) / SHARED_TASK_SETS));
    if (job->threads > 1 && !(job->pool = pool_new(job->threads)))
        return fail(err, NLSQ_ERR_NOMEM, "cannot start %d threads", job->threads);
    job->threads = pool_threads(job->pool);
    job->lanes = aligned_alloc(64, (size_t)job->threads * sizeof *job->lanes);
    if (!job->lanes) return fail(err, NLSQ_ERR_NOMEM, "out of memory for %d threads", job->threads);
    memset(job->lanes, 0, (size_t)job->threads * sizeof *job->lanes);
    for (int w = 0; w < job->threads; w++) {
        shared_lane *ln = &job->lanes[w];
        ln->p = malloc((size_t)job->n_eval * sizeof *ln->p);
        ln->cols = malloc((size_t)job->n * sizeof *ln->cols);
        if (!ln->p || !ln->cols) return fail(err, NLSQ_ERR_NOMEM, "out of memory for %d threads", job->threads);
        for (int c = 0; c < SHARED_PASSES; c++)
            if (!(ln->passes[c].cols = malloc((size_t)job->n * sizeof(int))))
                return fail(err, NLSQ_ERR_NOMEM, "out of memory for %d threads", job->threads);
    }
    return NLSQ_OK;
}


/* At the start: finite everywhere, and every shared unknown moves some set. */
static nlsq_status check_start(shared_job *job, double *R, nlsq_error *err)
{
    double cost;
    int bad = evaluate_shared(job, job->x, &cost, R);
    if (atomic_load(&job->nomem)) return fail(err, NLSQ_ERR_NOMEM, "out of memory for a pass");
    if (job->group_failed) return fail(err, NLSQ_ERR_IO, "the group's transport failed");
    if (bad) {
        size_t d = 0;
        while (d + 1 < job->nsets && !job->bad_set[d]) d++;
        return fail(err, NLSQ_ERR_MODEL_NONFINITE,
                    "the model or its Jacobian is NaN or Inf at the start point in data set %zu", d);
    }
    double *norms = malloc(job->N * sizeof *norms);
    job->x0 = malloc(job->N * sizeof *job->x0);
    if (!norms || !job->x0) {
        free(norms);
        return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    }
    memcpy(job->x0, job->x, job->N * sizeof *job->x0);
    job->primed = R;
    blocks_col_norms(&job->bk, R, norms);
    nlsq_status st = NLSQ_OK;
    for (int b = 0; b < job->ns && st == NLSQ_OK; b++)
        if (norms[job->x_at[job->nsets] + (size_t)b] == 0)
            st = fail(err, NLSQ_ERR_DATA,
                      "shared parameter '%s': no data set depends on it (its derivative is 0 in every set at the "
                      "start); fix it or remove it",
                      job->model->params.names[job->shared_idx[b]]);
    free(norms);
    return st;
}

/* ---- the result ----------------------------------------------------------- */

static nlsq_shared_result *alloc_result(const shared_job *job, unsigned outputs)
{
    nlsq_shared_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t D = job->nsets, n = (size_t)job->n;
    r->nsets = D;
    r->n = job->n;
    r->popt = malloc(D * n * sizeof *r->popt);
    r->shared_pcov = calloc(n * n, sizeof *r->shared_pcov);
    r->cost_set = malloc(D * sizeof *r->cost_set);
    r->chi2_set = malloc(D * sizeof *r->chi2_set);
    r->m = malloc(D * sizeof *r->m);
    if (outputs & (NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV)) r->perr = malloc(D * n * sizeof *r->perr);
    if (outputs & NLSQ_BATCH_PCOV) r->pcov = calloc(D * n * n, sizeof *r->pcov);
    if (!r->popt || !r->shared_pcov || !r->cost_set || !r->chi2_set || !r->m ||
        ((outputs & (NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV)) && !r->perr) || ((outputs & NLSQ_BATCH_PCOV) && !r->pcov)) {
        nlsq_shared_result_free(r);
        return NULL;
    }
    return r;
}

/* The column scales 1/||J e_j|| (1 for a zero column): the covariance
   is taken on the scaled columns and scaled back, so its rank test does
   not depend on the parameters' units (k0 ~ 1e13 beside a ~ 1). */
static double *unit_scales(shared_job *job, const double *R)
{
    double *c = malloc(job->N * sizeof *c);
    if (!c) return NULL;
    blocks_col_norms(&job->bk, R, c);
    for (size_t u = 0; u < job->N; u++) c[u] = c[u] > 0 && isfinite(c[u]) ? 1 / c[u] : 1;
    return c;
}

/* Set d's unknown a (locals, then shared) as a model index and a scale. */
static int set_param(const shared_job *job, size_t d, int a, const double *c, double *ca)
{
    int nl = job->nl[d];
    size_t u = a < nl ? job->x_at[d] + (size_t)a : job->x_at[job->nsets] + (size_t)(a - nl);
    *ca = c[u];
    return a < nl ? job->local_idx[d * (size_t)job->n + (size_t)a] : job->shared_idx[a - nl];
}

/* The covariance of every set's parameters from R at the solution (scale:
   chi2/dof, or 1 with absolute_sigma). The shared block is valid or not
   as a whole; a set whose own locals are undetermined gets Inf for them
   (and their cross terms) while the other sets keep theirs. Fixed
   parameters: 0. pcov_valid: everything determined. */
static int fill_covariance(shared_job *job, const double *R, double scale, nlsq_shared_result *r)
{
    int n = job->n, ns = job->ns;
    size_t nn = (size_t)n;
    double *c = unit_scales(job, R);
    int kmax = ns;
    for (size_t d = 0; d < job->nsets; d++)
        if (job->nl[d] + ns > kmax) kmax = job->nl[d] + ns;
    size_t kk = (size_t)kmax * (size_t)kmax;
    double *css = c ? malloc(((size_t)ns * (size_t)ns + 5 * kk + (size_t)kmax + 1) * sizeof *css) : NULL;
    if (!css) {
        free(c);
        return -1;
    }
    blocks_factor(&job->bk, R, c, NULL, 0);
    double *cd = css + (size_t)ns * (size_t)ns, *work = cd + kk;
    int shared_ok = blocks_cov_shared(&job->bk, css) == 0, all_ok = shared_ok;
    double tiny = blocks_rank_threshold(&job->bk), ca, cb;
    for (int a = 0; a < ns; a++)
        for (int b = 0; b < ns; b++) {
            int ja = set_param(job, 0, job->nl[0] + a, c, &ca), jb = set_param(job, 0, job->nl[0] + b, c, &cb);
            r->shared_pcov[(size_t)ja * nn + (size_t)jb] = shared_ok ? css[(size_t)a * ns + b] * ca * cb * scale : INFINITY;
        }
    for (size_t d = 0; d < job->nsets; d++) {
        int nl = job->nl[d], k = nl + ns;
        int undetermined = shared_ok ? blocks_cov_set(&job->bk, d, css, tiny, cd, work) : -1, ok = undetermined >= 0;
        all_ok &= undetermined == 0;
        double *perr = r->perr ? r->perr + d * nn : NULL;
        double *pcov = r->pcov ? r->pcov + d * nn * nn : NULL;
        for (int j = 0; perr && j < n; j++) perr[j] = 0;
        for (int a = 0; a < k; a++) {
            int ja = set_param(job, d, a, c, &ca);
            for (int b = 0; b < k; b++) {
                int jb = set_param(job, d, b, c, &cb);
                double v = ok                          ? cd[(size_t)a * k + b] * ca * cb * scale
                         : shared_ok && a >= nl && b >= nl ? css[(size_t)(a - nl) * ns + (b - nl)] * ca * cb * scale
                                                          : INFINITY;
                if (pcov) pcov[(size_t)ja * nn + (size_t)jb] = v;
                if (perr && a == b) perr[ja] = sqrt(v);
            }
        }
    }
    r->pcov_valid = all_ok;
    free(css);
    free(c);
    return 0;
}

/* The result from the solver's end: x and R there (R holds each set's
   triangle, cost and chi2 at x: the accepted point's, not a trial's). */
static nlsq_status make_result(shared_job *job, const solve_result *sr, const double *R, unsigned outputs,
                               nlsq_shared_result **out, nlsq_error *err)
{
    nlsq_shared_result *r = alloc_result(job, outputs);
    if (!r) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the result of %zu data sets", job->nsets);
    size_t nn = (size_t)job->n;
    for (size_t d = 0; d < job->nsets; d++) {
        double *p = r->popt + d * nn;
        memcpy(p, job->p_start + d * (size_t)job->n_eval, nn * sizeof *p);
        for (int a = 0; a < job->nl[d]; a++) p[job->local_idx[d * nn + (size_t)a]] = job->x[job->x_at[d] + (size_t)a];
        for (int b = 0; b < job->ns; b++) p[job->shared_idx[b]] = job->x[job->x_at[job->nsets] + (size_t)b];
        r->cost_set[d] = set_sums(job, R, d)[0];
        r->chi2_set[d] = set_sums(job, R, d)[1];
        r->m[d] = job->m_used[d];
        r->m_total += job->m_used[d];
    }
    r->n_shared = 0;
    for (int j = 0; j < job->n; j++) r->n_shared += job->sp->shared[j] != 0;
    r->n_free = (int)job->N;
    size_t dof = r->m_total - job->N; /* check_points: m_total >= N */
    r->dof = dof > INT32_MAX ? INT32_MAX : (int)dof;
    r->cost = sr->cost;
    r->chi2 = sum_sets(job, R, 1);
    r->redchi = dof > 0 ? r->chi2 / (double)dof : NAN;
    r->grad_norm = sr->grad_norm;
    r->status = (nlsq_fit_status)sr->status;
    r->success = sr->status > 0;
    snprintf(r->message, sizeof r->message, "%s", nlsq_fit_status_str(r->status));
    r->nfev = sr->nfev;
    r->njev = sr->njev;
    r->nit = sr->nit;
    r->method = job->method;
    r->threads = job->threads;
    double scale = 1;
    int scalable = job->opt.absolute_sigma || dof > 0;
    if (!job->opt.absolute_sigma && dof > 0) scale = 2 * sr->cost / (double)dof;
    if (r->perr || r->shared_pcov) {
        if (fill_covariance(job, R, scalable ? scale : INFINITY, r) != 0) {
            nlsq_shared_result_free(r);
            return fail(err, NLSQ_ERR_NOMEM, "out of memory for the covariance");
        }
        if (!scalable) r->pcov_valid = 0;
    }
    *out = r;
    return NLSQ_OK;
}

/* ---- the call --------------------------------------------------------------- */

/* Everything before the first pass: the layout, the parameters, the
   points, threads and memory. Each process alone: a failure here on one
   of a group is settled by the caller before any pass. */
static nlsq_status prepare(shared_job *job, nlsq_error *err)
{
    nlsq_status st;
    job->provisional = job->nsets * (size_t)job->n; /* past the largest layout's locals */
    if ((st = check_layout(job, err)) != NLSQ_OK || (st = choose_eval_model(job, err)) != NLSQ_OK ||
        (st = setup_parameters(job, err)) != NLSQ_OK)
        return st;
    fill_covariates(job);
    place_shared(job);
    job->bk.nsets = job->nsets;
    job->bk.ns = job->ns;
    job->bk.nl = job->nl;
    job->bk.x_at = job->x_at;
    job->bk.R_at = job->R_at;
    job->bk.rows = job->x_at[job->nsets] + job->nsets * (size_t)job->ns;
    if (job->N == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "every parameter is fixed: nothing to fit");
    if (job->N > INT32_MAX / 2)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%zu free parameters in all: at most %d", job->N, INT32_MAX / 2);
    if ((st = check_points(job, err)) != NLSQ_OK) return st;
    job->method = job->opt.method == NLSQ_METHOD_AUTO ? NLSQ_TRF : job->opt.method;
    for (size_t u = 0; job->method == NLSQ_LM && u < job->N; u++)
        if (isfinite(job->lb[u]) || isfinite(job->ub[u]))
            return fail(err, NLSQ_ERR_BOUNDS, "method lm does not take bounds; use trf");
    fit_problem probe;
    memset(&probe, 0, sizeof probe);
    probe.who = "nlsq_fit_shared";
    job->backend = job->opt.backend;
    if ((st = fit_choose_backend(&probe, &job->backend, err)) != NLSQ_OK) return st;
    batch_choose_kernel(job->backend, job->total, &job->width, &job->mode);
    if (blocks_alloc(&job->bk) != 0 || (st = start_threads(job, err)) != NLSQ_OK)
        return st != NLSQ_OK ? st : fail(err, NLSQ_ERR_NOMEM, "out of memory for %zu data sets' triangles", job->nsets);
    if (!(job->R = malloc(job->R_at[job->nsets] * sizeof *job->R)))
        return fail(err, NLSQ_ERR_NOMEM, "out of memory for %zu data sets' triangles", job->nsets);
    return NLSQ_OK;
}

/* What the processes of a group must share for their solvers to stay in
   step: the unknowns' start and bounds and the options that steer the
   solver (each process's own data are its business: they are not sent). */
static uint64_t group_check(const shared_job *job)
{
    const nlsq_options *o = &job->opt;
    int ints[] = {(int)job->method, (int)o->loss, o->max_nfev, (int)o->nan_policy, o->x_scale_jac, job->ns};
    double dbl[] = {o->f_scale, o->ftol, o->xtol, o->gtol, (double)job->N, (double)job->nsets, (double)job->bk.m};
    uint64_t h = checkpoint_hash(0, ints, sizeof ints);
    h = checkpoint_hash(h, dbl, sizeof dbl);
    h = checkpoint_hash(h, job->xs, job->N * sizeof *job->xs);
    h = checkpoint_hash(h, job->x_at, (job->nsets + 1) * sizeof *job->x_at);
    h = checkpoint_hash(h, job->x, job->N * sizeof *job->x);
    h = checkpoint_hash(h, job->lb, job->N * sizeof *job->lb);
    return checkpoint_hash(h, job->ub, job->N * sizeof *job->ub);
}

/* The first pass, the solver and the result (collective in a group). */
static nlsq_status run(shared_job *job, unsigned outputs, nlsq_shared_result **out, nlsq_error *err)
{
    nlsq_status st;
    double *R = job->R;
    if ((st = check_start(job, R, err)) != NLSQ_OK) return st;
    solve_problem pb = {(int)job->N, job->bk.m, evaluate_shared, job, job->lb, job->ub, NULL, 0, &job->bk};
    solve_options so = {job->opt.ftol,
                        job->opt.xtol,
                        job->opt.gtol,
                        job->opt.max_nfev,
                        job->opt.x_scale ? job->xs : NULL,
                        job->opt.x_scale_jac,
                        job->opt.progress || grouped(job) ? shared_progress : NULL,
                        job,
                        NULL,
                        0,
                        NULL};
    fit_default_tolerances(job->method, &so);
    solve_result sr;
    int rc = job->method == NLSQ_LM ? solve_lm(&pb, &so, job->x, R, &sr) : solve_trf(&pb, &so, job->x, R, &sr);
    if (rc != 0 || atomic_load(&job->nomem))
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory in the solver");
    else if (job->group_failed)
        st = fail(err, NLSQ_ERR_IO, "the group's transport failed");
    else if (sr.start_nonfinite)
        st = fail(err, NLSQ_ERR_MODEL_NONFINITE, "the model is NaN or Inf at the start point");
    if (job->stopped) sr.status = NLSQ_FIT_STOPPED;
    if (st == NLSQ_OK) st = make_result(job, &sr, R, outputs, out, err);
    return st;
}

nlsq_status nlsq_fit_shared(const nlsq_model *model, const nlsq_shared *problem, const nlsq_options *opt,
                            unsigned outputs, nlsq_shared_result **out, nlsq_error *err)
{
    error_clear(err);
    if (!model || !problem || !out)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s is NULL", !model ? "model" : !problem ? "problem" : "out");
    *out = NULL;
    if (model->params.count == 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the model has no parameters");
    if (outputs & ~(unsigned)(NLSQ_BATCH_PERR | NLSQ_BATCH_PCOV))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown output flags 0x%x", outputs);
    shared_job job;
    memset(&job, 0, sizeof job);
    job.t_start = host_seconds();
    job.model = model;
    job.sp = problem;
    job.opt = opt ? *opt : nlsq_options_default();
    job.n = model->params.count;
    job.k = model->vars.count;
    job.nsets = problem->data.nfits;
    nlsq_status st = check_options(&job.opt, err);
    if (st == NLSQ_OK && job.nsets == 0) st = fail(err, NLSQ_ERR_INVALID_ARGUMENT, "no data sets (data.nfits is 0)");
    if (st == NLSQ_OK) st = alloc_job(&job, err);
    if (st == NLSQ_OK) st = prepare(&job, err);
    if (grouped(&job)) { /* one process's failure is every process's, and they must agree */
        st = batch_group_settle(job.opt.group, st, err);
        int lowest, diverged = 0;
        if (st == NLSQ_OK &&
            group_agree_checked(job.opt.group, GROUP_TAG_SHARED + 0x80, 0, group_check(&job), &lowest, &diverged) != 0)
            st = fail(err, NLSQ_ERR_IO, "a process of the group ended or could not be reached");
        else if (st == NLSQ_OK && diverged)
            st = fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                      "the processes of the group were given different starts, bounds, data-set layouts or options");
    }
    if (st == NLSQ_OK) st = run(&job, outputs, out, err);
    if (st == NLSQ_OK) {
        (*out)->seconds = host_seconds() - job.t_start;
        (*out)->memory_bytes = (job.R_at[job.nsets] * 3 + job.N * 30) * sizeof(double);
    }
    job_free(&job);
    return st;
}
