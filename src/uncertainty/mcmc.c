/*
 * nlsq_mcmc: the affine-invariant ensemble sampler of Goodman & Weare
 * (Comm. App. Math. Comp. Sci. 5, 65, 2010) with their stretch move, as
 * emcee runs it, over a fit's posterior (nlsq.h says which).
 *
 * The ensemble is split into two halves; each half moves against the
 * other, which does not move meanwhile, so the proposals of a half are
 * independent of one another and their chi-squares come from ONE
 * K-vector pass over the data (pass_run_many in its cost-only mode). A
 * walker X_k proposes Y = X_j + z (X_k - X_j), X_j a walker of the other
 * half drawn uniformly, z from g(z) ~ 1/sqrt(z) on [1/a, a], and accepts
 * with probability min(1, z^(d-1) p(Y) / p(X_k)), d the free parameters.
 *
 * Determinism: the random draws happen here, on the calling thread, in a
 * fixed order (per half: the partner, z and the acceptance draw of each
 * walker in turn), and the pass gives every vector the bits a single
 * pass would on any thread count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fit/design.h"
#include "fit/fit.h"
#include "uncertainty/mcmc.h"

nlsq_mcmc_options nlsq_mcmc_options_default(void)
{
    nlsq_mcmc_options o;
    memset(&o, 0, sizeof o);
    o.walkers = 0;
    o.steps = 1000;
    o.burn = -1;
    o.thin = 1;
    o.seed = 1;
    o.stretch = 2;
    o.init_scale = 0.1;
    return o;
}

typedef struct sampler {
    fit_problem fp;
    const nlsq_result *res;
    nlsq_mcmc_options o;
    int W, nf, n;
    double s2; /* the likelihood's noise variance scale */
    const double *pmean, *psd;
    double *X, *lp;          /* W x nf positions, W log-probabilities          */
    double *Y, *lpn;         /* W x nf proposals, W their log-probabilities    */
    double *P, *cost, *chi2; /* the pass's W full vectors and sums             */
    double *R1;              /* W 1 x 1 triangles (sqrt of chi2)               */
    size_t *bad;
    int *idx;       /* proposals inside the bounds, for the pass      */
    double *z, *ua; /* a half's stretch factors and acceptance draws  */
    long *accepted;
    int passes;
    int xc[NLSQ_READER_MAX_COLS], yc, sc; /* the source's columns */
    double sigma_all;
} sampler;

#define fail(err, ...) fit_fail(&s->fp, err, __VA_ARGS__)

static const char *pname(const sampler *s, int j)
{
    return s->fp.model->params.names[j];
}

static void sampler_free(sampler *s)
{
    free(s->X);
    free(s->idx);
    free(s->bad);
    free(s->accepted);
    fit_free_problem(&s->fp);
}

static nlsq_status check_options(sampler *s, nlsq_error *err)
{
    nlsq_mcmc_options *o = &s->o;
    int nf = s->nf;
    if (o->init && o->walkers == 0)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "a starting ensemble (init) needs walkers set to its row count");
    if (o->walkers == 0) {
        o->walkers = 2 * nf + 2 > 32 ? 2 * nf + 2 : 32;
    } else if (o->walkers < 2 * nf || o->walkers % 2 != 0) {
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                    "walkers must be even and at least twice the free parameters (2 x %d = %d), got %d", nf, 2 * nf,
                    o->walkers);
    }
    if (o->steps < 1) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "steps must be at least 1, got %d", o->steps);
    if (o->burn == -1) o->burn = o->steps / 4;
    if (o->burn < 0) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "burn must not be negative, got %d", o->burn);
    if (o->steps <= o->burn)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "steps (%d) must exceed burn (%d): no sample would be kept",
                    o->steps, o->burn);
    if (o->thin < 1) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "thin must be at least 1, got %d", o->thin);
    if (!(o->stretch > 1) || !isfinite(o->stretch))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the stretch scale a must be above 1, got %g", o->stretch);
    if (!(o->init_scale > 0) || !isfinite(o->init_scale))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "init_scale must be positive, got %g", o->init_scale);
    if (!o->prior_sd != !o->prior_mean)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "Gaussian priors need both prior_mean and prior_sd");
    for (int j = 0; o->prior_sd && j < s->n; j++) {
        double sd = o->prior_sd[j], mu = o->prior_mean[j];
        if (sd < 0 || isinf(sd))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the prior of '%s' has sd %g; it must be positive", pname(s, j),
                        sd);
        if (sd > 0 && !isfinite(mu))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the prior of '%s' has mean %g", pname(s, j), mu);
    }
    s->pmean = o->prior_mean;
    s->psd = o->prior_sd;
    return NLSQ_OK;
}

/* The fit's problem again (its bounds, fixed parameters, threads and
   kernel) with the parameters at popt, and the source's columns. */
static nlsq_status setup(sampler *s, const nlsq_source *src, const nlsq_columns *cols, nlsq_error *err)
{
    fit_problem *fp = &s->fp;
    const nlsq_result *r = s->res;
    nlsq_status st;
    if ((st = fit_check_options(fp, err)) != NLSQ_OK) return st;
    if ((st = fit_alloc(fp, err)) != NLSQ_OK) return st;
    nlsq_columns c = cols ? *cols : nlsq_columns_default();
    if ((st = fit_resolve_columns(fp, src, &c, s->xc, &s->yc, &s->sc, &s->sigma_all, err)) != NLSQ_OK) return st;
    if (fp->n != r->n)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the result has %d parameters, the model %d", r->n, fp->n);
    for (int j = 0; j < fp->n; j++)
        if (!isfinite(r->popt[j]))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "the result's popt of '%s' is %g", fp->model->params.names[j],
                        r->popt[j]);
    if ((st = fit_setup_parameters(fp, err)) != NLSQ_OK) return st;
    s->n = fp->n;
    s->nf = fp->n_free;
    if (s->nf != r->n_free)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                    "the fit options free %d parameters but the result was fitted with %d: pass the options of the "
                    "fit",
                    s->nf, r->n_free);
    if (r->absolute_sigma) {
        s->s2 = 1;
    } else {
        s->s2 = r->redchi;
        if (!(s->s2 > 0) || !isfinite(s->s2))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "the fit's reduced chi-square is %g (dof %d): the noise scale cannot be estimated; give "
                        "sigma with absolute_sigma",
                        r->redchi, r->dof);
    }
    fp->m_used = r->m;
    return NLSQ_OK;
}

static size_t mul_sat(size_t a, size_t b)
{
    return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/*
 * The threads, the pass and its kernel. The threads as for one pass of
 * W/2 vectors (the global search's rule: small data run on the caller);
 * the kernel as for all the sampling's work, m x W x steps points (a run
 * of 2 x steps passes pays for a compile that no single pass would). The
 * pass folds no Jacobian column (ncols 0): a compiled kernel for no
 * columns computes the model's values alone, the cost-only pass's need.
 */
static nlsq_status start_pass(sampler *s, nlsq_source *src, nlsq_error *err)
{
    fit_problem *fp = &s->fp;
    nlsq_backend backend = fp->opt.backend;
    nlsq_status st = fit_choose_backend(fp, &backend, err);
    if (st != NLSQ_OK) return st;
    size_t m = nlsq_source_num_rows(src), per_pass = mul_sat(m, (size_t)s->W / 2);
    fp->opt.threads = fit_choose_threads(&fp->opt, per_pass);
    fp->m_total = mul_sat(mul_sat(m, (size_t)s->W), (size_t)s->o.steps);
    int nf = fp->n_free;
    fp->n_free = 0;
    st = fit_start_pass(fp, backend, err);
    fp->n_free = nf;
    fp->m_total = m;
    if (st != NLSQ_OK) return st;
    /* the passes read the source window by window (arrays in place) */
    int rc = reader_init(&fp->rd, src, s->xc, fp->model->vars.count, s->yc, s->sc, fp->ps.nworkers, s->sigma_all,
                         fp->omit);
    fp->have_rd = 1;
    if (rc != 0) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the read buffers");
    fp->pd = reader_pass_data(&fp->rd);
    return NLSQ_OK;
}

static nlsq_status alloc_sampler(sampler *s, nlsq_error *err)
{
    size_t W = (size_t)s->W, nf = (size_t)s->nf, n = (size_t)s->n;
    size_t doubles = 2 * W * nf + 2 * W + W * n + 2 * W + 2 * W + W;
    s->X = malloc(doubles * sizeof *s->X);
    s->idx = malloc(W * sizeof *s->idx);
    s->bad = malloc(W * sizeof *s->bad);
    s->accepted = calloc(W, sizeof *s->accepted);
    if (!s->X || !s->idx || !s->bad || !s->accepted) return fail(err, NLSQ_ERR_NOMEM, "out of memory");
    s->Y = s->X + W * nf;
    s->lp = s->Y + W * nf;
    s->lpn = s->lp + W;
    s->P = s->lpn + W;
    s->cost = s->P + W * n;
    s->chi2 = s->cost + W;
    s->z = s->chi2 + W;
    s->ua = s->z + W;
    s->R1 = s->ua + W;
    return NLSQ_OK;
}

static int in_bounds(const sampler *s, const double *x)
{
    for (int k = 0; k < s->nf; k++) {
        int j = s->fp.free_idx[k];
        if (!(x[k] >= s->fp.lb[j] && x[k] <= s->fp.ub[j])) return 0;
    }
    return 1;
}

/* The Gaussian priors' log density (constants dropped). */
static double log_prior(const sampler *s, const double *x)
{
    double lp = 0;
    for (int k = 0; s->psd && k < s->nf; k++) {
        int j = s->fp.free_idx[k];
        double sd = s->psd[j];
        if (sd > 0) {
            double u = (x[k] - s->pmean[j]) / sd;
            lp -= 0.5 * u * u;
        }
    }
    return lp;
}

/* The log-posterior of K positions Y (K x nf) into lp: those inside the
   bounds in one shared pass, the others -Inf. 0; -1 when out of memory,
   -2 when the data could not be read (s->fp.rd.why says why). */
static int eval_logp(sampler *s, int K, const double *Y, double *lp)
{
    size_t n = (size_t)s->n, nf = (size_t)s->nf;
    int cnt = 0;
    for (int k = 0; k < K; k++) {
        const double *y = Y + (size_t)k * nf;
        lp[k] = -INFINITY;
        if (!in_bounds(s, y)) continue;
        double *p = s->P + (size_t)cnt * n;
        memcpy(p, s->fp.p, n * sizeof *p);
        for (size_t f = 0; f < nf; f++) p[s->fp.free_idx[f]] = y[f];
        s->idx[cnt++] = k;
    }
    if (cnt == 0) return 0;
    /* with no Jacobian column the "triangle" is one number per vector:
       folding it costs nothing and lets a compiled kernel take its fused
       chunk entry (values, residuals and sums in one loop) */
    pass_many pm = {cnt, s->P, n, 0, s->cost, s->chi2, s->R1, s->bad, 0, 0};
    pass_run_many(&s->fp.ps, &s->fp.pd, &pm);
    reader_flush(&s->fp.rd);
    s->passes++;
    if (pm.nomem) return -1;
    if (pm.read_failed) return -2;
    for (int i = 0; i < cnt; i++) {
        int k = s->idx[i];
        double c = s->chi2[i];
        if (s->bad[i] || !isfinite(c)) continue;
        lp[k] = -0.5 * c / s->s2 + log_prior(s, Y + (size_t)k * nf);
    }
    return 0;
}

/* Reflect x into [lo, hi] (once), then clip: a ball that pokes out of a
   bound keeps its spread instead of piling walkers onto the bound. */
static double into_bounds(double x, double lo, double hi)
{
    if (x < lo) x = lo + (lo - x);
    if (x > hi) x = hi - (x - hi);
    return x < lo ? lo : x > hi ? hi : x;
}

/* Walker w's start: popt + init_scale * perr * N(0,1), into the bounds.
   Where perr is not usable (no pcov) the scale is 1e-4 |popt| (or 1e-4). */
static void ball_start(sampler *s, uint64_t *rng, double *x)
{
    for (int k = 0; k < s->nf; k++) {
        int j = s->fp.free_idx[k];
        double p = s->res->popt[j], e = s->res->perr ? s->res->perr[j] : NAN;
        double sc = isfinite(e) && e > 0 ? s->o.init_scale * e : 1e-4 * (fabs(p) > 0 ? fabs(p) : 1);
        x[k] = into_bounds(p + sc * design_normal(rng), s->fp.lb[j], s->fp.ub[j]);
    }
}

/* eval_logp's failure as an error. */
static nlsq_status pass_failed(sampler *s, int rc, nlsq_error *err)
{
    if (rc == -2) return fail(err, NLSQ_ERR_DATA, "the data could not be read: %s", s->fp.rd.why);
    return fail(err, NLSQ_ERR_NOMEM, "out of memory for a pass");
}

static nlsq_status init_ensemble(sampler *s, uint64_t *rng, nlsq_error *err)
{
    int rc;
    int W = s->W, nf = s->nf;
    if (s->o.init) {
        for (int w = 0; w < W; w++)
            for (int k = 0; k < nf; k++) {
                int j = s->fp.free_idx[k];
                double v = s->o.init[(size_t)w * (size_t)s->n + (size_t)j];
                if (!(v >= s->fp.lb[j] && v <= s->fp.ub[j]))
                    return fail(err, NLSQ_ERR_BOUNDS,
                                "the start of walker %d: '%s' = %g is outside its bounds [%g, %g]", w, pname(s, j), v,
                                s->fp.lb[j], s->fp.ub[j]);
                s->X[(size_t)w * (size_t)nf + (size_t)k] = v;
            }
        if ((rc = eval_logp(s, W, s->X, s->lp)) != 0) return pass_failed(s, rc, err);
        for (int w = 0; w < W; w++)
            if (!isfinite(s->lp[w]))
                return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                            "the start of walker %d has posterior 0 (the model or chi-square is NaN or Inf there)", w);
        return NLSQ_OK;
    }
    for (int w = 0; w < W; w++) ball_start(s, rng, s->X + (size_t)w * (size_t)nf);
    /* a start where the model is not finite is drawn again (a few rounds,
       each one pass over the walkers still lacking a start) */
    if ((rc = eval_logp(s, W, s->X, s->lp)) != 0) return pass_failed(s, rc, err);
    for (int round = 0; round < 20; round++) {
        int cnt = 0;
        for (int w = 0; w < W; w++)
            if (!isfinite(s->lp[w])) {
                ball_start(s, rng, s->Y + (size_t)cnt * (size_t)nf);
                s->z[cnt++] = w; /* the list in z: eval_logp uses idx */
            }
        if (cnt == 0) return NLSQ_OK;
        if ((rc = eval_logp(s, cnt, s->Y, s->lpn)) != 0) return pass_failed(s, rc, err);
        for (int i = 0; i < cnt; i++) {
            int w = (int)s->z[i];
            memcpy(s->X + (size_t)w * (size_t)nf, s->Y + (size_t)i * (size_t)nf, (size_t)nf * sizeof *s->X);
            s->lp[w] = s->lpn[i];
        }
    }
    for (int w = 0; w < W; w++)
        if (!isfinite(s->lp[w]))
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                        "no start with a finite posterior near popt for walker %d (the model is NaN or Inf there)", w);
    return NLSQ_OK;
}

/* One half's stretch moves against the other half. */
static int move_half(sampler *s, uint64_t *rng, int h)
{
    int half = s->W / 2, nf = s->nf, base = h * half, other = (1 - h) * half;
    double a = s->o.stretch;
    for (int i = 0; i < half; i++) {
        int pick = (int)(design_uniform(rng) * half);
        int j = other + (pick < half ? pick : half - 1);
        double t = (a - 1) * design_uniform(rng) + 1;
        s->z[i] = t * t / a; /* inverse cdf of g(z) ~ 1/sqrt(z) on [1/a, a] */
        s->ua[i] = design_uniform(rng);
        const double *xk = s->X + (size_t)(base + i) * (size_t)nf, *xj = s->X + (size_t)j * (size_t)nf;
        double *y = s->Y + (size_t)i * (size_t)nf;
        for (int k = 0; k < nf; k++) y[k] = xj[k] + s->z[i] * (xk[k] - xj[k]);
    }
    int rc = eval_logp(s, half, s->Y, s->lpn);
    if (rc != 0) return rc;
    for (int i = 0; i < half; i++) {
        int w = base + i;
        if (!isfinite(s->lpn[i])) continue;
        double lq = (nf - 1) * log(s->z[i]) + s->lpn[i] - s->lp[w];
        if (log(s->ua[i]) < lq) {
            memcpy(s->X + (size_t)w * (size_t)nf, s->Y + (size_t)i * (size_t)nf, (size_t)nf * sizeof *s->X);
            s->lp[w] = s->lpn[i];
            s->accepted[w]++;
        }
    }
    return 0;
}

static void store_step(const sampler *s, nlsq_mcmc_result *r, int kept)
{
    size_t n = (size_t)s->n, nf = (size_t)s->nf;
    for (int w = 0; w < s->W; w++) {
        double *p = r->chain + ((size_t)kept * (size_t)s->W + (size_t)w) * n;
        memcpy(p, s->fp.p, n * sizeof *p);
        for (size_t k = 0; k < nf; k++) p[s->fp.free_idx[k]] = s->X[(size_t)w * nf + k];
        r->log_prob[(size_t)kept * (size_t)s->W + (size_t)w] = s->lp[w];
    }
}

/* The fit options' progress callback after `done` steps, at most every
   progress_interval seconds (and after the last step): iteration is the
   steps done, pass_fraction their share of all, cost the ensemble's best
   log-posterior negated. Its nonzero answer stops the run (1). */
static int report_progress(sampler *s, int done, double t0, double *last)
{
    const nlsq_options *o = &s->fp.opt;
    double now = host_seconds(), interval = o->progress_interval > 0 ? o->progress_interval : 0.1;
    if (!o->progress || (now - *last < interval && done < s->o.steps)) return 0;
    *last = now;
    double best = -INFINITY, elapsed = now - t0;
    for (int w = 0; w < s->W; w++) best = s->lp[w] > best ? s->lp[w] : best;
    nlsq_progress pr = {
        s->passes,    done, (double)done / s->o.steps, -best, elapsed, NAN, elapsed / done * (s->o.steps - done),
        s->fp.m_total};
    return o->progress(o->progress_data, &pr) != 0;
}

static nlsq_status run_chain(sampler *s, uint64_t *rng, nlsq_mcmc_result *r, nlsq_error *err)
{
    int kept = 0;
    double t0 = host_seconds(), last = t0;
    for (int step = 0; step < s->o.steps; step++) {
        for (int h = 0; h < 2; h++) {
            int rc = move_half(s, rng, h);
            if (rc != 0) return pass_failed(s, rc, err);
        }
        if (step >= s->o.burn && (step - s->o.burn) % s->o.thin == 0) store_step(s, r, kept++);
        if (report_progress(s, step + 1, t0, &last))
            return fail(err, NLSQ_ERR_CALLBACK, "stopped by the progress callback after %d of %d steps", step + 1,
                        s->o.steps);
    }
    for (int w = 0; w < s->W; w++) r->acceptance[w] = (double)s->accepted[w] / s->o.steps;
    return NLSQ_OK;
}

/* Everything after the arguments' NULL checks: the sampler on a source. */
static nlsq_status mcmc_run(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                            const nlsq_options *fit, const nlsq_result *result, const nlsq_mcmc_options *mcmc,
                            const char *who, nlsq_mcmc_result **out, nlsq_error *err)
{
    double t0 = host_seconds();
    sampler sm, *s = &sm;
    memset(s, 0, sizeof *s);
    s->fp.model = model;
    s->fp.who = who;
    s->fp.opt = fit ? *fit : nlsq_options_default();
    s->fp.opt.p0 = result->popt;       /* the fixed parameters' values, and a start inside the bounds */
    s->fp.opt.loss = NLSQ_LOSS_LINEAR; /* the likelihood is Gaussian: chi2, and the fused kernel */
    s->fp.opt.checkpoint = NULL;
    s->fp.opt.resume = 0;
    s->fp.m_total = nlsq_source_num_rows(src);
    s->res = result;
    s->o = mcmc ? *mcmc : nlsq_mcmc_options_default();
    nlsq_status st = setup(s, src, cols, err);
    if (st == NLSQ_OK) st = check_options(s, err);
    if (st == NLSQ_OK) {
        s->W = s->o.walkers;
        st = start_pass(s, src, err);
    }
    if (st == NLSQ_OK) st = alloc_sampler(s, err);
    nlsq_mcmc_result *r = NULL;
    if (st == NLSQ_OK) {
        int kept = (s->o.steps - s->o.burn + s->o.thin - 1) / s->o.thin;
        r = mcmc_result_alloc(s->n, s->W, kept);
        if (!r) st = fail(err, NLSQ_ERR_NOMEM, "out of memory for a chain of %d x %d x %d", kept, s->W, s->n);
    }
    uint64_t rng = s->o.seed;
    if (st == NLSQ_OK) st = init_ensemble(s, &rng, err);
    if (st == NLSQ_OK) st = run_chain(s, &rng, r, err);
    unsigned char *is_free = st == NLSQ_OK ? calloc((size_t)s->n, 1) : NULL;
    if (st == NLSQ_OK && !is_free) st = fail(err, NLSQ_ERR_NOMEM, "out of memory");
    if (st == NLSQ_OK) {
        r->n_free = s->nf;
        r->steps = s->o.steps;
        r->burn = s->o.burn;
        r->thin = s->o.thin;
        r->noise_var = s->s2;
        r->passes = s->passes;
        r->jit_passes = s->fp.ps.jit_passes;
        r->threads = s->fp.threads;
        for (int k = 0; k < s->nf; k++) is_free[s->fp.free_idx[k]] = 1;
        if (mcmc_summarize(r, is_free, (const char *const *)model->params.names) != 0)
            st = fail(err, NLSQ_ERR_NOMEM, "out of memory");
        r->seconds = host_seconds() - t0;
    }
    free(is_free);
    sampler_free(s);
    if (st != NLSQ_OK) {
        nlsq_mcmc_result_free(r);
        return st;
    }
    *out = r;
    return NLSQ_OK;
}

static int null_arguments(const char *who, const void *model, const void *data, const void *result, const void *out,
                          nlsq_error *err)
{
    if (model && data && result && out) return 0;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s is NULL", who,
              !model    ? "model"
              : !data   ? "the data"
              : !result ? "result"
                        : "out");
    return 1;
}

nlsq_status nlsq_mcmc(const nlsq_model *model, const nlsq_data *data, const nlsq_options *fit,
                      const nlsq_result *result, const nlsq_mcmc_options *mcmc, nlsq_mcmc_result **out, nlsq_error *err)
{
    error_clear(err);
    if (null_arguments("nlsq_mcmc", model, data, result, out, err)) return NLSQ_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (data->sigma_kind == NLSQ_SIGMA_COVARIANCE) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_mcmc: MCMC does not take a covariance sigma");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (!data->y || (model->vars.count > 0 && !data->x) || (data->sigma_kind != NLSQ_SIGMA_NONE && !data->sigma)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_mcmc: the data's x, y or sigma is NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_source *src;
    nlsq_columns cols;
    nlsq_status st = fit_arrays_source(data, model->vars.count, "nlsq_mcmc", &src, &cols, err);
    if (st != NLSQ_OK) return st;
    st = mcmc_run(model, src, &cols, fit, result, mcmc, "nlsq_mcmc", out, err);
    nlsq_source_free(src);
    return st;
}

nlsq_status nlsq_mcmc_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                             const nlsq_options *fit, const nlsq_result *result, const nlsq_mcmc_options *mcmc,
                             nlsq_mcmc_result **out, nlsq_error *err)
{
    error_clear(err);
    if (null_arguments("nlsq_mcmc_source", model, src, result, out, err)) return NLSQ_ERR_INVALID_ARGUMENT;
    *out = NULL;
    return mcmc_run(model, src, cols, fit, result, mcmc, "nlsq_mcmc_source", out, err);
}
