/*
 * nlsq_fit_global: many starts at once. The starts come from a design
 * (design.c) over a search box, all iterate the local solver in lockstep
 * (lockstep.c: one shared pass per round for every live start), large data
 * go through successive halving on growing strided samples, CMA-ES is the
 * alternative for problems where local starts fail; the best end point is
 * refined on all the data by nlsq_curve_fit, whose result carries the
 * search's summary (the distinct minima). docs/global-search.md.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "design.h"
#include "global.h"
#include "cmaes.h"

#define fail(err, ...) fit_fail(&g->fp, err, __VA_ARGS__)

nlsq_global_options nlsq_global_options_default(void)
{
    nlsq_global_options g;
    memset(&g, 0, sizeof g);
    g.starts = 64;
    g.design = NLSQ_DESIGN_SOBOL;
    g.seed = 1;
    g.method = NLSQ_GLOBAL_MULTISTART;
    g.halving = -1;
    g.halving_points = 100000;
    g.guess = 1;
    return g;
}

typedef struct gsearch {
    fit_problem fp; /* parameters, bounds, pool, pass and kernel */
    const nlsq_data *data;
    nlsq_global_options g;
    pass_arrays pa;
    pass_data pd;
    double scale;       /* the data's scale S (docs/global-search.md) */
    double *start;      /* n: p0, or the estimate from the data, NaN where neither */
    double *lo, *hi;    /* nf: the search box of the free parameters  */
    double *X, *cost;   /* K x nf starts -> end points; K costs       */
    double *P, *c2, *R; /* lockstep scratch                          */
    size_t *bad;
    lockstep_stats stats;
    lockstep_problem lp;
    size_t sample_points;
    int rungs;
    const pass_data *cmaes_pd; /* what CMA-ES's generations are evaluated on */
    double *cmaes_buf;         /* a generation's vectors, costs and flags */
    int cmaes_cap;
    /* progress (options.progress) and stopping */
    double t_start, last_report;
    int stop;
    /* the shared passes on a GPU (fp.use_gpu): the data the devices hold
       (NULL: none yet, upload first), the K vectors' uniform registers,
       and the reason of a failure */
    const pass_data *gpu_pd;
    double *gpu_U;
    size_t gpu_U_cap;
    int gpu_failed;
    char gpu_why[400];
} gsearch;

/* After every shared pass: options.progress at most every
   progress_interval seconds; its nonzero answer stops the search (the
   refinement then asks it again). */
static int report_progress(void *ctx)
{
    gsearch *g = ctx;
    const nlsq_options *o = &g->fp.opt;
    const nlsq_group *grp = o->group;
    double now = host_seconds(), interval = o->progress_interval > 0 ? o->progress_interval : 0.1;
    int stop = 0, lowest;
    if (o->progress && now - g->last_report >= interval) {
        g->last_report = now;
        nlsq_progress pr = {g->stats.passes, g->stats.passes, 1, NAN, now - g->t_start, NAN, 0, g->data->m};
        stop = o->progress(o->progress_data, &pr) != 0;
    }
    /* in a group after every shared pass, whatever the hooks and clocks
       of the processes: one process's stop is every process's, or the
       searches would part and wait for each other's passes */
    if (grp && grp->size > 1) stop = group_agree(grp, GROUP_TAG_AGREE + 6, stop, &lowest) != 0 || lowest >= 0;
    return stop;
}

/* In a group: a step that failed on some process (setup, memory) fails on
   all, with the lowest such process's status and words, before the next
   step that every process takes part in. */
static nlsq_status global_settle(const gsearch *g, nlsq_status st, nlsq_error *err)
{
    const nlsq_group *grp = g->fp.opt.group;
    int lowest;
    if (!grp || grp->size <= 1 || grp->rank < 0 || grp->rank >= grp->size || !grp->send || !grp->recv || !grp->bcast)
        return st; /* no group, or one fit_check_options refuses */
    struct {
        int status;
        char text[256];
    } m = {(int)st, ""};
    if (group_agree(grp, GROUP_TAG_AGREE + 7, st != NLSQ_OK, &lowest) != 0)
        return fail(err, NLSQ_ERR_IO, "process %d of %d lost touch with the group", grp->rank, grp->size);
    if (lowest < 0) return NLSQ_OK;
    if (grp->rank == lowest && err) snprintf(m.text, sizeof m.text, "%s", err->message);
    if (group_tell(grp, lowest, (char *)&m, sizeof m) != 0)
        return fail(err, NLSQ_ERR_IO, "process %d of %d lost touch with the group", grp->rank, grp->size);
    if (lowest == 0)
        error_set(err, (nlsq_status)m.status, 0, 0, "%s", m.text);
    else
        error_set(err, (nlsq_status)m.status, 0, 0, "process %d of %d: %s", lowest, grp->size, m.text);
    return (nlsq_status)m.status;
}

/* The solvers' iteration callback: stop when the search was asked to. */
static int stop_requested(void *ctx, int iteration, double cost, const double *x, double grad_norm, double step_norm)
{
    (void)iteration, (void)cost, (void)x, (void)grad_norm, (void)step_norm;
    return *(const int *)ctx;
}

static void gsearch_free(gsearch *g)
{
    free(g->start);
    free(g->cmaes_buf);
    free(g->lo);
    free(g->X);
    free(g->P);
    free(g->gpu_U);
    fit_free_problem(&g->fp);
}

static nlsq_status check_global_options(gsearch *g, nlsq_error *err)
{
    const nlsq_global_options *o = &g->g;
    if (o->starts < 1)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "global starts must be at least 1, got %d", o->starts);
    if ((int)o->design < 0 || o->design > NLSQ_DESIGN_LHS)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown design %d", (int)o->design);
    if ((int)o->method < 0 || o->method > NLSQ_GLOBAL_CMAES)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "unknown global method %d", (int)o->method);
    if (o->halving < -1 || o->halving > 1)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "halving is %d; expected -1 (auto), 0 or 1", o->halving);
    if (g->fp.opt.checkpoint)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the global search takes no checkpoint (options.checkpoint)");
    if (o->max_nfev < 0 || o->cmaes_max_evals < 0)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the global search's evaluation limits must not be negative");
    return NLSQ_OK;
}

/* The data's checks (nlsq_curve_fit's rules for arrays), the points used
   and the scale S = max(1, max |y|, max |x|) over them. */
static nlsq_status check_data(gsearch *g, nlsq_error *err)
{
    const nlsq_data *d = g->data;
    int k = g->fp.model->vars.count, omit = g->fp.opt.nan_policy == NLSQ_NAN_OMIT;
    int raise = g->fp.opt.nan_policy == NLSQ_NAN_RAISE;
    if (d->sigma_kind == NLSQ_SIGMA_COVARIANCE)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the global search does not take a covariance sigma");
    if (d->sigma_kind == NLSQ_SIGMA_SCALAR && !(d->sigma[0] > 0 && isfinite(d->sigma[0])))
        return fail(err, NLSQ_ERR_DATA, "sigma must be positive and finite, got %g", d->sigma[0]);
    if (!d->y || (k > 0 && !d->x) || (d->sigma_kind != NLSQ_SIGMA_NONE && !d->sigma))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the data's x, y or sigma is NULL");
    size_t used = 0;
    double S = 1;
    for (size_t i = 0; i < d->m; i++) {
        double s = d->sigma_kind == NLSQ_SIGMA_PER_POINT ? d->sigma[i] : 1;
        int ok = isfinite(d->y[i]) && isfinite(s);
        for (int v = 0; v < k; v++) ok &= isfinite(d->x[(size_t)v * d->m + i]) != 0;
        if (!ok && raise)
            return fail(err, NLSQ_ERR_DATA, "data row %zu has a NaN or Inf in x, y or sigma (nan_policy raise)", i + 1);
        if (isfinite(s) && !(s > 0)) return fail(err, NLSQ_ERR_DATA, "sigma[%zu] = %g: sigma must be positive", i, s);
        if (!ok && omit) continue;
        used++;
        if (!ok) continue;
        S = fmax(S, fabs(d->y[i]));
        for (int v = 0; v < k; v++) S = fmax(S, fabs(d->x[(size_t)v * d->m + i]));
    }
    if (used == 0) return fail(err, NLSQ_ERR_DATA, "no usable data points");
    g->fp.m_used = used;
    g->scale = S;
    g->pa = (pass_arrays){d->x, d->m, d->y, d->sigma_kind == NLSQ_SIGMA_PER_POINT ? d->sigma : NULL};
    g->pd = pass_data_arrays(&g->pa, d->m, d->sigma_kind == NLSQ_SIGMA_SCALAR ? d->sigma[0] : 1, omit);
    return NLSQ_OK;
}

/* g->start: p0 where given; elsewhere, for a sum of library shapes, the
   estimate from the data (nlsq_guess_p0; none when it cannot be made). */
static nlsq_status make_start(gsearch *g, nlsq_error *err)
{
    int n = g->fp.n, missing = 0;
    const double *p0 = g->fp.opt.p0;
    g->start = malloc(2 * (size_t)n * sizeof *g->start);
    if (!g->start) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    double *est = g->start + n;
    for (int j = 0; j < n; j++) g->start[j] = p0 && !isnan(p0[j]) ? p0[j] : NAN;
    for (int k = 0; k < g->fp.n_free; k++) missing |= isnan(g->start[g->fp.free_idx[k]]);
    nlsq_error e2;
    if (missing && g->g.guess && nlsq_model_num_components(g->fp.model) > 0 &&
        nlsq_guess_p0(g->fp.model, g->data, g->start, est, &e2) == NLSQ_OK)
        for (int j = 0; j < n; j++)
            if (isnan(g->start[j]) && isfinite(est[j])) g->start[j] = est[j];
    return NLSQ_OK;
}

/*
 * The search box of each free parameter (docs/global-search.md): the
 * caller's search_lower/upper where given; else both bounds when finite;
 * else around c (p0 where given, else the estimate from the data for a
 * sum of library shapes, else 0) with half-width w = max(|c|, S):
 * [c - w, c + w] unbounded, [lb, max(lb, c) + w] with a lower bound
 * alone, [min(ub, c) - w, ub] with an upper bound alone. Clipped to the
 * bounds.
 */
static nlsq_status search_box(gsearch *g, nlsq_error *err)
{
    fit_problem *fp = &g->fp;
    for (int k = 0; k < fp->n_free; k++) {
        int j = fp->free_idx[k];
        double lb = fp->lb[j], ub = fp->ub[j];
        double c = !isnan(g->start[j]) ? g->start[j] : 0, w = fmax(fabs(c), g->scale), lo, hi;
        if (isfinite(lb) && isfinite(ub)) {
            lo = lb;
            hi = ub;
        } else if (isfinite(lb)) {
            lo = lb;
            hi = fmax(lb, c) + w;
        } else if (isfinite(ub)) {
            lo = fmin(ub, c) - w;
            hi = ub;
        } else {
            lo = c - w;
            hi = c + w;
        }
        if (g->g.search_lower && !isnan(g->g.search_lower[j])) lo = g->g.search_lower[j];
        if (g->g.search_upper && !isnan(g->g.search_upper[j])) hi = g->g.search_upper[j];
        lo = fmax(lo, lb);
        hi = fmin(hi, ub);
        if (!(isfinite(lo) && isfinite(hi) && lo < hi))
            return fail(err, NLSQ_ERR_BOUNDS, "the search range of '%s' is [%g, %g]: it must be finite and not empty",
                        fp->model->params.names[j], lo, hi);
        g->lo[k] = lo;
        g->hi[k] = hi;
    }
    return NLSQ_OK;
}

static nlsq_status alloc_search(gsearch *g, int K, nlsq_error *err)
{
    size_t nf = (size_t)g->fp.n_free, n = (size_t)g->fp.n, sz = (nf + 1) * (nf + 1), k = (size_t)K;
    g->lo = malloc(2 * nf * sizeof *g->lo);
    g->X = malloc((k * nf + k) * sizeof *g->X);
    g->P = malloc((k * n + 2 * k + k * sz + k) * sizeof *g->P);
    if (!g->lo || !g->X || !g->P) return fail(err, NLSQ_ERR_NOMEM, "out of memory for %d starts", K);
    g->hi = g->lo + nf;
    g->cost = g->X + k * nf;
    g->c2 = g->P + k * n;
    g->R = g->c2 + 2 * k;
    g->bad = (size_t *)(g->R + k * sz);
    return NLSQ_OK;
}

/* The starts: the design's points mapped onto the box. */
static nlsq_status make_starts(gsearch *g, int K, nlsq_error *err)
{
    int nf = g->fp.n_free;
    nlsq_design kind = g->g.design;
    if (kind != NLSQ_DESIGN_LHS && nf > (kind == NLSQ_DESIGN_SOBOL ? NLSQ_SOBOL_MAX_DIMS : NLSQ_HALTON_MAX_DIMS))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%d free parameters are more than the %s design's %d; use lhs", nf,
                    nlsq_design_name(kind), kind == NLSQ_DESIGN_SOBOL ? NLSQ_SOBOL_MAX_DIMS : NLSQ_HALTON_MAX_DIMS);
    nlsq_error e2;
    nlsq_status st = nlsq_design_fill(kind, nf, (size_t)K, g->g.seed, g->X, &e2);
    if (st != NLSQ_OK) return fail(err, st, "%s", e2.message);
    for (int s = 0; s < K; s++)
        for (int k = 0; k < nf; k++) {
            double *x = &g->X[(size_t)s * (size_t)nf + (size_t)k];
            *x = g->lo[k] + *x * (g->hi[k] - g->lo[k]);
        }
    /* a p0 (or estimate) for every free parameter is the first start: the
       search is never worse than the local fit from it */
    int given = 1;
    for (int k = 0; given && k < nf; k++) {
        int j = g->fp.free_idx[k];
        given = g->start[j] >= g->fp.lb[j] && g->start[j] <= g->fp.ub[j]; /* false for NaN */
    }
    for (int k = 0; given && k < nf; k++) g->X[k] = g->start[g->fp.free_idx[k]];
    return NLSQ_OK;
}

/* ---- the shared passes on a GPU ------------------------------------------------ */

/*
 * Where the shared passes run: gpu/placement.c's rule, as for
 * nlsq_curve_fit (options.device, else $NLSQ_DEVICE, else auto), for the
 * data's m points. A device must hold all the data (the K-vector pass
 * reads them from its memory at every round; streaming them through it K
 * times a round is not done): a named device that cannot is an error,
 * auto then stays on the CPU.
 */
static nlsq_status choose_device(gsearch *g, nlsq_error *err)
{
    fit_problem *fp = &g->fp;
    const nlsq_data *d = g->data;
    gpu_pass_spec gs = {0,
                        0,
                        &fp->model->prog,
                        fp->free_idx,
                        fp->n_free,
                        d->m,
                        d->sigma_kind == NLSQ_SIGMA_PER_POINT,
                        g->pd.sigma_all,
                        fp->opt.loss,
                        fp->opt.f_scale,
                        g->pd.omit_nonfinite,
                        fp->opt.gpu_float32 != 0,
                        fp->ps.nworkers,
                        0};
    const char *name = fp->opt.device ? fp->opt.device : getenv("NLSQ_DEVICE");
    int is_auto = !name || !*name || strcmp(name, "auto") == 0;
    char why[300];
    int rc = gpu_place(fp->opt.device, &gs, &fp->gpu, fp->device, sizeof fp->device, fp->device_note,
                       sizeof fp->device_note, why, sizeof why);
    if (rc < 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s", why);
    if (rc == 1 && fp->gpu.part[0].streaming) {
        gpu_group_close(&fp->gpu);
        snprintf(fp->device, sizeof fp->device, "cpu");
        if (!is_auto)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "device %s: the global search needs its %zu points in the device's memory, and they do not "
                        "fit; use device cpu",
                        name, d->m);
        snprintf(fp->device_note, sizeof fp->device_note, "auto: the data do not fit in the GPU's memory");
        rc = 0;
    }
    fp->use_gpu = rc;
    return NLSQ_OK;
}

/* The devices now hold pd's points (all the data, or a sample). */
static int gpu_upload(gsearch *g, const pass_data *pd)
{
    fit_problem *fp = &g->fp;
    size_t chunk = pass_chunk_points(pd->m);
    int nchunks = (int)((pd->m + chunk - 1) / chunk);
    if (gpu_group_set_points(&fp->gpu, pd->m, g->gpu_why, sizeof g->gpu_why) != 0 ||
        gpu_group_upload_chunks(&fp->gpu, pd, fp->ps.pool, pd->m, 1, 0, nchunks, "the data could not be read",
                                g->gpu_why, sizeof g->gpu_why) != 0)
        return -1;
    g->gpu_pd = pd;
    return 0;
}

/* pass_run_many's work on the GPU: the K vectors' uniform registers on
   the host (the interpreter, as a one-vector GPU pass does), then one
   K-vector pass over the data on the device. A failure sets
   pm->read_failed and keeps its reason in g->gpu_why. */
static void gpu_run_many(void *ctx, const pass_data *pd, pass_many *pm)
{
    gsearch *g = ctx;
    fit_problem *fp = &g->fp;
    int K = pm->K;
    size_t nu = (size_t)fp->model->prog.nuniform, need = (size_t)K * (nu ? nu : 1);
    pm->read_failed = pm->nomem = 0;
    if (need > g->gpu_U_cap) {
        double *U = realloc(g->gpu_U, need * sizeof *U);
        if (!U) {
            pm->nomem = 1;
            for (int k = 0; k < K; k++) pm->cost[k] = NAN, pm->nonfinite[k] = 1;
            return;
        }
        g->gpu_U = U;
        g->gpu_U_cap = need;
    }
    interp *it = &fp->ps.w[0].it;
    for (int k = 0; k < K; k++) {
        interp_uniform(it, pm->params + (size_t)k * pm->np);
        if (nu) memcpy(g->gpu_U + (size_t)k * nu, it->u, nu * sizeof *g->gpu_U);
    }
    fp->gpu_passes++;
    if ((pd != g->gpu_pd && gpu_upload(g, pd) != 0) ||
        gpu_group_run_many(&fp->gpu, g->gpu_U, nu, K, pm->no_triangle, pm->cost, pm->chi2, pm->R, pm->nonfinite,
                           g->gpu_why, sizeof g->gpu_why) != 0) {
        g->gpu_failed = 1;
        g->gpu_pd = NULL;
        pm->read_failed = 1;
        for (int k = 0; k < K; k++) pm->cost[k] = NAN, pm->nonfinite[k] = 1;
    }
}

/* The shared pass, where the search runs. */
static void run_many(gsearch *g, const pass_data *pd, pass_many *pm)
{
    if (g->fp.use_gpu)
        gpu_run_many(g, pd, pm);
    else
        pass_run_many(&g->fp.ps, pd, pm);
}

static void setup_lockstep(gsearch *g)
{
    fit_problem *fp = &g->fp;
    for (int k = 0; k < fp->n_free; k++) {
        int j = fp->free_idx[k];
        fp->lbf[k] = fp->lb[j];
        fp->ubf[k] = fp->ub[j];
        if (fp->opt.x_scale) fp->xsf[k] = fp->opt.x_scale[j];
    }
    solve_options so = {fp->opt.ftol,
                        fp->opt.xtol,
                        fp->opt.gtol,
                        g->g.max_nfev ? g->g.max_nfev : fp->opt.max_nfev,
                        fp->opt.x_scale ? fp->xsf : NULL,
                        fp->opt.x_scale_jac,
                        stop_requested,
                        &g->stop,
                        NULL,
                        0,
                        NULL};
    fit_default_tolerances(fp->method, &so);
    g->lp = (lockstep_problem){
        &fp->ps,   &g->pd,          fp->m_used, fp->n,   fp->n_free, fp->free_idx,          fp->p, fp->lbf,
        fp->ubf,   fp->method,      so,         g->P,    g->c2,      g->c2 + (g->g.starts), g->R,  g->bad,
        &g->stats, report_progress, g,          &g->stop,    NULL,            NULL};
    if (fp->use_gpu) {
        g->lp.run_many = gpu_run_many;
        g->lp.many_ctx = g;
    }
}

/* Starts that share one lockstep run: a coroutine stack each, and a
   pass's chunk triangles for each (nchunks x lanes x (n+1)^2 doubles, kept within
   LOCKSTEP_BYTES); more starts run in batches of this size, one after
   another (the same answer: a start's path depends on itself alone). */
#define LOCKSTEP_MAX_LANES 256
#define LOCKSTEP_BYTES ((size_t)256 << 20)

static int lanes_per_batch(const gsearch *g, const pass_data *pd)
{
    size_t nc = (size_t)g->fp.n_free + 1, chunk = pass_chunk_points(pd->m);
    size_t per_lane = (pd->m + chunk - 1) / chunk * nc * nc * sizeof(double);
    size_t lanes = per_lane ? LOCKSTEP_BYTES / per_lane : LOCKSTEP_MAX_LANES;
    return lanes < 1 ? 1 : lanes > LOCKSTEP_MAX_LANES ? LOCKSTEP_MAX_LANES : (int)lanes;
}

static nlsq_status run_lockstep(gsearch *g, const pass_data *pd, size_t m_used, int K, nlsq_error *err)
{
    lockstep_problem lp = g->lp;
    lp.pd = pd;
    lp.m_used = m_used;
    size_t nf = (size_t)g->fp.n_free;
    int batch = lanes_per_batch(g, pd);
    for (int k = 0; k < K; k++) g->cost[k] = NAN; /* a batch not run (stopped) ends nowhere */
    g->gpu_pd = NULL;                             /* a new set of points: uploaded at the first pass */
    for (int k0 = 0; k0 < K && !g->stop; k0 += batch) {
        int cnt = K - k0 < batch ? K - k0 : batch;
        if (lockstep_run(&lp, cnt, g->X + (size_t)k0 * nf, g->cost + k0, NULL) != 0)
            return fail(err, NLSQ_ERR_NOMEM, "out of memory for the starts of the global search");
        if (g->stats.failed && g->gpu_failed)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the global search on %s: %s", g->fp.device, g->gpu_why);
        if (g->stats.failed) return fail(err, NLSQ_ERR_DATA, "the data could not be read in the global search");
    }
    return NLSQ_OK;
}

/* ---- successive halving ---------------------------------------------------- */

/* Every stride-th point from the first: a sample that keeps the data's
   spread over x (strided, not random: deterministic and cheap). */
typedef struct sample {
    double *x, *y, *sigma;
    pass_arrays pa;
    pass_data pd;
    size_t m, used;
} sample;

static int take_sample(const gsearch *g, size_t m_s, sample *s)
{
    const nlsq_data *d = g->data;
    int k = g->fp.model->vars.count;
    size_t stride = d->m / m_s;
    s->m = m_s;
    s->x = malloc(((size_t)k + 2) * m_s * sizeof *s->x + 1);
    if (!s->x) return -1;
    s->y = s->x + (size_t)k * m_s;
    s->sigma = d->sigma_kind == NLSQ_SIGMA_PER_POINT ? s->y + m_s : NULL;
    for (size_t i = 0; i < m_s; i++) {
        size_t src = i * stride;
        for (int v = 0; v < k; v++) s->x[(size_t)v * m_s + i] = d->x[(size_t)v * d->m + src];
        s->y[i] = d->y[src];
        if (s->sigma) s->sigma[i] = d->sigma[src];
    }
    s->pa = (pass_arrays){s->x, m_s, s->y, s->sigma};
    s->pd = pass_data_arrays(&s->pa, m_s, g->pd.sigma_all, g->pd.omit_nonfinite);
    s->used = m_s; /* omitted rows only lower the count: the ranks need none */
    return 0;
}

/* Order the K starts by cost (NaN last, ties by index): a stable
   insertion sort of rows of X and cost. */
static void rank_starts(gsearch *g, int K)
{
    size_t nf = (size_t)g->fp.n_free;
    for (int i = 1; i < K; i++) {
        for (int j = i; j > 0; j--) {
            double a = g->cost[j - 1], b = g->cost[j];
            int swap = (isnan(a) && !isnan(b)) || b < a;
            if (!swap) break;
            g->cost[j - 1] = b;
            g->cost[j] = a;
            for (size_t q = 0; q < nf; q++) {
                double t = g->X[(size_t)(j - 1) * nf + q];
                g->X[(size_t)(j - 1) * nf + q] = g->X[(size_t)j * nf + q];
                g->X[(size_t)j * nf + q] = t;
            }
        }
    }
}

/* The first rung's end points, kept for the summary. */
typedef struct ends {
    double *X, *cost;
    int K;
} ends;

/* The first rung's sample: halving_sample, else max(2000, 50 n, m / K). */
static size_t first_sample_points(const gsearch *g, int K)
{
    size_t m = g->data->m, nf = (size_t)g->fp.n_free, m0 = g->g.halving_sample;
    if (m0 == 0) {
        m0 = m / (size_t)K;
        if (m0 < 2000) m0 = 2000;
        if (m0 < 50 * nf) m0 = 50 * nf;
    }
    return m0 > m ? m : m0;
}

static int use_halving(const gsearch *g)
{
    return g->g.halving == 1 || (g->g.halving == -1 && g->fp.m_used >= g->g.halving_points && g->g.starts > 1);
}

static nlsq_status run_halving(gsearch *g, int K, ends *first, nlsq_error *err)
{
    size_t m = g->data->m, nf = (size_t)g->fp.n_free, m0 = first_sample_points(g, K);
    int live = K;
    for (size_t ms = m0;; ms = ms * 2 > m ? m : ms * 2) {
        sample s;
        if (take_sample(g, ms, &s) != 0)
            return fail(err, NLSQ_ERR_NOMEM, "out of memory for a sample of %zu points", ms);
        nlsq_status st = run_lockstep(g, &s.pd, s.used, live, err);
        free(s.x);
        if (st != NLSQ_OK) return st;
        if (g->rungs++ == 0) {
            first->K = K;
            first->X = malloc(((size_t)K * nf + (size_t)K) * sizeof *first->X);
            if (!first->X) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
            first->cost = first->X + (size_t)K * nf;
            memcpy(first->X, g->X, (size_t)K * nf * sizeof *g->X);
            memcpy(first->cost, g->cost, (size_t)K * sizeof *g->cost);
            g->sample_points = ms;
        }
        rank_starts(g, live);
        /* down to one survivor: the refinement on all the data follows */
        if (live <= 2 || ms == m || g->stop) break;
        live = (live + 1) / 2;
    }
    return NLSQ_OK;
}

/* ---- CMA-ES ------------------------------------------------------------------ */

/* The population's costs in one cost-only shared pass. */
/* Room for a generation of `count` vectors (grown as BIPOP doubles the
   population, never freed within the search). */
static int cmaes_room(gsearch *g, int count)
{
    if (count <= g->cmaes_cap) return 0;
    size_t np = (size_t)g->fp.n, c = (size_t)count;
    double *buf = realloc(g->cmaes_buf, c * (np + 2) * sizeof *buf + c * sizeof(size_t));
    if (!buf) return -1;
    g->cmaes_buf = buf;
    g->cmaes_cap = count;
    return 0;
}

/* The population's costs in one cost-only shared pass. */
static int cmaes_eval(void *ctx, const double *X, int count, int n, double *cost)
{
    gsearch *g = ctx;
    fit_problem *fp = &g->fp;
    size_t np = (size_t)fp->n;
    if (cmaes_room(g, count) != 0) return -1;
    double *P = g->cmaes_buf, *c2 = P + (size_t)count * np;
    size_t *bad = (size_t *)(c2 + 2 * (size_t)count);
    for (int i = 0; i < count; i++) {
        memcpy(P + (size_t)i * np, fp->p, np * sizeof *P);
        for (int k = 0; k < n; k++) P[(size_t)i * np + (size_t)fp->free_idx[k]] = X[(size_t)i * (size_t)n + (size_t)k];
    }
    pass_many pm = {count, P, np, 1, c2, c2 + count, NULL, bad, 0, 0};
    run_many(g, g->cmaes_pd, &pm);
    g->stats.passes++;
    g->stats.evaluations += count;
    if (report_progress(g)) g->stop = 1;
    for (int i = 0; i < count; i++) cost[i] = bad[i] || !isfinite(c2[i]) ? NAN : c2[i];
    return pm.read_failed || pm.nomem ? -1 : g->stop ? 1 : 0;
}

static nlsq_status run_cmaes(gsearch *g, nlsq_error *err)
{
    int nf = g->fp.n_free;
    double *x0 = malloc(2 * (size_t)nf * sizeof *x0);
    if (!x0) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    double *sigma0 = x0 + nf;
    for (int k = 0; k < nf; k++) {
        x0[k] = 0.5 * (g->lo[k] + g->hi[k]);
        sigma0[k] = 0.3 * (g->hi[k] - g->lo[k]);
    }
    cmaes_options co = cmaes_options_default();
    co.seed = g->g.seed;
    if (g->g.cmaes_max_evals) co.max_evals = g->g.cmaes_max_evals;
    cmaes_summary cs;
    /* large data (the halving rule): the generations on a strided sample
       of the first rung's size, the local refinement on all the data */
    sample s = {0};
    g->cmaes_pd = &g->pd;
    if (use_halving(g)) {
        size_t m0 = first_sample_points(g, g->g.starts);
        if (take_sample(g, m0, &s) != 0) {
            free(x0);
            return fail(err, NLSQ_ERR_NOMEM, "out of memory for a sample of %zu points", m0);
        }
        g->cmaes_pd = &s.pd;
        g->sample_points = m0;
        g->rungs = 1;
    }
    g->gpu_pd = NULL;
    int rc = cmaes_minimize(&co, nf, x0, sigma0, g->lo, g->hi, cmaes_eval, g, g->X, g->cost, &cs);
    free(s.x);
    free(x0);
    if (rc != 0 && g->stop) return NLSQ_OK; /* asked to stop: the refinement says so */
    if (rc != 0 && g->gpu_failed)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "CMA-ES on %s: %s", g->fp.device, g->gpu_why);
    if (rc != 0) return fail(err, NLSQ_ERR_NOMEM, "CMA-ES stopped: out of memory or the data could not be read");
    /* then the best refined locally, as one start */
    return run_lockstep(g, &g->pd, g->fp.m_used, 1, err);
}

/* ---- the summary ------------------------------------------------------------- */

/* The distinct minima of K end points (minima.c) and how the search ran. */
static nlsq_global_summary *summarize(gsearch *g, const double *X, const double *cost, int K)
{
    minima_space sp = {g->fp.n, g->fp.n_free, g->fp.free_idx, g->fp.p, g->lo, g->hi};
    nlsq_global_summary *s = minima_cluster(&sp, X, cost, K);
    if (!s) return NULL;
    s->design = g->g.design;
    s->method = g->g.method;
    s->seed = g->g.seed;
    s->rungs = g->rungs;
    s->shared_passes = g->stats.passes;
    s->evaluations = g->stats.evaluations;
    s->sample_points = g->sample_points ? g->sample_points : g->fp.m_used;
    return s;
}

/* ---- the search ----------------------------------------------------------------- */

static nlsq_status setup(gsearch *g, nlsq_error *err)
{
    fit_problem *fp = &g->fp;
    nlsq_status st;
    if ((st = fit_check_options(fp, err)) != NLSQ_OK) return st;
    if ((st = check_global_options(g, err)) != NLSQ_OK) return st;
    if ((st = fit_alloc(fp, err)) != NLSQ_OK) return st;
    if ((st = fit_setup_parameters(fp, err)) != NLSQ_OK) return st;
    if ((st = check_data(g, err)) != NLSQ_OK) return st;
    if ((st = fit_choose_method(fp, err)) != NLSQ_OK) return st;
    nlsq_backend backend = fp->opt.backend;
    if ((st = fit_choose_backend(fp, &backend, err)) != NLSQ_OK) return st;
    /* the threads and the kernel for the work of a round, K vectors of m
       points (a single fit of m points would take one thread and the
       interpreter below 16384 and 20000 points) */
    size_t K = (size_t)g->g.starts;
    fp->m_total = g->data->m > SIZE_MAX / K ? SIZE_MAX : g->data->m * K;
    st = fit_start_pass(fp, backend, err);
    fp->m_total = g->data->m;
    if (st != NLSQ_OK) return st;
    if (fp->opt.group && fp->opt.group->size > 1) {
        /* a group's shared passes: each process folds its share of every
           round's chunks, on the CPU (as nlsq_fit_source in a group) */
        const char *asked = fp->opt.device ? fp->opt.device : getenv("NLSQ_DEVICE");
        if (asked && *asked && strcmp(asked, "auto") != 0 && strcmp(asked, "cpu") != 0)
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "device '%.40s': a search spread over a group of processes runs on the CPU", asked);
        snprintf(fp->device, sizeof fp->device, "cpu");
        fp->ps.group = fp->opt.group;
    } else if ((st = choose_device(g, err)) != NLSQ_OK) {
        return st;
    }
    if ((st = alloc_search(g, g->g.starts, err)) != NLSQ_OK) return st;
    if ((st = make_start(g, err)) != NLSQ_OK) return st;
    return search_box(g, err);
}

static nlsq_status search(gsearch *g, ends *first, nlsq_error *err)
{
    int K = g->g.starts;
    setup_lockstep(g);
    if (g->g.method == NLSQ_GLOBAL_CMAES) {
        nlsq_status st = run_cmaes(g, err); /* its sample sized by starts, as a first rung's */
        g->g.starts = 1;                    /* one end point: CMA-ES's best, refined */
        return st;
    }
    nlsq_status st = make_starts(g, K, err);
    if (st != NLSQ_OK) return st;
    if (use_halving(g)) return run_halving(g, K, first, err);
    st = run_lockstep(g, &g->pd, g->fp.m_used, K, err);
    if (st == NLSQ_OK) rank_starts(g, K);
    return st;
}

/* The best end point refined on all the data: nlsq_curve_fit from it. */
static nlsq_status refine(gsearch *g, const nlsq_model *model, nlsq_result **out, nlsq_error *err)
{
    size_t n = (size_t)g->fp.n;
    double *p0 = malloc(n * sizeof *p0);
    if (!p0) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    memcpy(p0, g->fp.p, n * sizeof *p0);
    if (isfinite(g->cost[0]))
        for (int k = 0; k < g->fp.n_free; k++) p0[g->fp.free_idx[k]] = g->X[k];
    nlsq_options o = g->fp.opt;
    o.p0 = p0;
    /* where the search ran: its device's memory is given back first */
    o.device = g->fp.use_gpu ? g->fp.device : "cpu";
    if (g->fp.use_gpu) gpu_group_close(&g->fp.gpu);
    nlsq_status st = nlsq_curve_fit(model, g->data, &o, out, err);
    free(p0);
    if (st == NLSQ_OK && g->fp.use_gpu) {
        nlsq_result *r = *out;
        size_t len = strlen(r->device_note);
        snprintf(r->device_note + len, sizeof r->device_note - len,
                 "%sthe global search's %d shared passes here too, each evaluating its starts in one K-vector launch",
                 len ? "; " : "", g->fp.gpu_passes);
    }
    return st;
}

nlsq_status nlsq_fit_global(const nlsq_model *model, const nlsq_data *data, const nlsq_options *options,
                            const nlsq_global_options *gopt, nlsq_result **out, nlsq_error *err)
{
    error_clear(err);
    if (!model || !data || !out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_fit_global: %s is NULL",
                  !model  ? "model"
                  : !data ? "data"
                          : "out");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    double t0 = host_seconds();
    gsearch g;
    memset(&g, 0, sizeof g);
    g.fp.model = model;
    g.fp.who = "nlsq_fit_global";
    g.fp.opt = options ? *options : nlsq_options_default();
    g.fp.m_total = data->m;
    g.fp.latest_cost = NAN;
    g.data = data;
    g.g = gopt ? *gopt : nlsq_global_options_default();
    g.t_start = g.last_report = t0;
    ends first = {NULL, NULL, 0};
    nlsq_status st = global_settle(&g, setup(&g, err), err);
    if (st == NLSQ_OK) st = global_settle(&g, search(&g, &first, err), err);
    nlsq_global_summary *s = NULL;
    if (st == NLSQ_OK) {
        s = first.X ? summarize(&g, first.X, first.cost, first.K) : summarize(&g, g.X, g.cost, g.g.starts);
        if (!s) st = fit_fail(&g.fp, err, NLSQ_ERR_NOMEM, "out of memory for the summary");
        st = global_settle(&g, st, err);
    }
    if (st == NLSQ_OK) st = refine(&g, model, out, err);
    if (st == NLSQ_OK) {
        s->seconds = host_seconds() - t0;
        if (g.g.method == NLSQ_GLOBAL_CMAES) { /* its one minimum: the refined fit's */
            s->minima_cost[0] = (*out)->cost;
            s->sample_points = (*out)->m;
            memcpy(s->minima_params, (*out)->popt, (size_t)s->n * sizeof *s->minima_params);
        }
        (*out)->global = s;
        s = NULL;
    }
    global_summary_free(s);
    free(first.X);
    gsearch_free(&g);
    return st;
}
