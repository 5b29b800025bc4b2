/*
 * Profile-likelihood intervals (lmfit's conf_interval semantics): each
 * chosen parameter held at values stepped out from popt while the others
 * are re-fitted, and the value on each side where the F-test on chi2 (or
 * delta chi2 with absolute sigma) reaches the level found by a root
 * finder. Every refit is an ordinary nlsq_fit_source, so the profiles run
 * from any source at any size. The 2-D grid is in profile2d.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "exec/exec.h"
#include "fit/fit.h"
#include "profile.h"

const char *nlsq_profile_status_str(nlsq_profile_status s)
{
    switch (s) {
    case NLSQ_PROFILE_OK: return "the level was reached";
    case NLSQ_PROFILE_BOUND: return "the parameter's bound was reached below the level: the limit is the bound";
    case NLSQ_PROFILE_OPEN: return "the level was not reached (a flat profile): the limit is infinite";
    case NLSQ_PROFILE_MAX_REFITS: return "max_refits ran out before the tolerance: the limit is the best estimate";
    case NLSQ_PROFILE_FAILED: return "a refit failed";
    }
    return "unknown profile status";
}

nlsq_profile_options nlsq_profile_options_default(void)
{
    nlsq_profile_options o;
    memset(&o, 0, sizeof o);
    o.tol = 1e-3;
    o.max_refits = 100;
    return o;
}

/* ---- shared with profile2d.c -------------------------------------------- */

double prof_objective(const nlsq_options *opt, const nlsq_result *r)
{
    /* the quantity the fit minimized: chi2 for the linear loss */
    return opt->loss == NLSQ_LOSS_LINEAR ? r->chi2 : 2 * r->cost;
}

double prof_prob(const prof_ctx *c, double chi2, int nfix)
{
    if (isnan(chi2)) return NAN;
    double d = chi2 - c->c0;
    if (d < 0) d = 0;
    if (c->absolute) return nlsq_chi2_cdf(d, nfix);
    return nlsq_f_cdf(d / c->c0 * c->dof / nfix, nfix, c->dof);
}

int prof_find_param(const nlsq_model *model, const char *name, const char *who, nlsq_error *err)
{
    int n = nlsq_model_num_params(model);
    for (int j = 0; j < n; j++)
        if (strcmp(nlsq_model_param_name(model, j), name) == 0) return j;
    char list[200] = "";
    size_t len = 0;
    for (int j = 0; j < n && len < sizeof list - 40; j++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", nlsq_model_param_name(model, j));
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: no parameter named '%s' (the model's: %s)", who, name, list);
    return -1;
}

nlsq_status prof_setup(prof_ctx *c, const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                       const nlsq_options *opt, const nlsq_result *fit, int threads, const char *who, nlsq_error *err)
{
    memset(c, 0, sizeof *c);
    if (!model || !src || !fit) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s is NULL", who,
                  !model ? "model"
                  : !src ? "source"
                         : "fit");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    int n = nlsq_model_num_params(model);
    if (fit->n != n) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the fit has %d parameters, the model %d", who, fit->n, n);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (!fit->success) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the fit did not converge (%s): no minimum to profile", who,
                  fit->message);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (fit->dof <= 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: the fit has %d degrees of freedom; a profile needs some",
                  who, fit->dof);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    c->model = model;
    c->src = src;
    c->cols = cols;
    c->base = opt ? *opt : nlsq_options_default();
    /* refits are quiet, independent fits: no user hooks, no files */
    c->base.callback = NULL;
    c->base.progress = NULL;
    c->base.checkpoint = NULL;
    c->base.resume = 0;
    c->base.keep_residuals = 0;
    c->fit = fit;
    c->n = n;
    c->dof = fit->dof;
    c->absolute = fit->absolute_sigma != 0;
    c->c0 = prof_objective(&c->base, fit);
    if (!(c->c0 >= 0 && isfinite(c->c0)) || (!c->absolute && c->c0 == 0)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "%s: the fit's chi2 is %g: the F-test needs a positive chi2 (an exact fit has no profile; "
                  "give sigma with absolute_sigma for the delta chi-square test)",
                  who, c->c0);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    c->threads = host_threads(threads > 0 ? threads : c->base.threads, 1024);
    c->gpu = strncmp(fit->device, "cuda", 4) == 0;
    return NLSQ_OK;
}

int prof_refit(const prof_ctx *c, double *p, const unsigned char *hold, int threads, double *chi2, char *why,
               size_t why_size)
{
    nlsq_options o = c->base;
    o.p0 = p;
    o.fixed = hold;
    o.threads = threads;
    nlsq_result *r = NULL;
    nlsq_error e;
    nlsq_status st = fit_source_refit(c->model, c->src, c->cols, &o, &r, &e);
    if (st != NLSQ_OK) {
        snprintf(why, why_size, "%s", e.message);
        return -1;
    }
    int ok = r->status > 0;
    if (ok) {
        *chi2 = prof_objective(&c->base, r);
        memcpy(p, r->popt, (size_t)c->n * sizeof *p);
    } else {
        snprintf(why, why_size, "%s", r->message);
    }
    nlsq_result_free(r);
    return ok ? 0 : -1;
}

/* Points per chunk of a pass (nlsq_options.threads): a fit of fewer uses
   one thread. */
#define PASS_CHUNK 16384

int prof_plan(const prof_ctx *c, int ntasks, int *fit_threads)
{
    int T = c->threads;
    if (c->gpu || ntasks <= 1) { /* refits on a GPU queue there anyway */
        *fit_threads = T;
        return 1;
    }
    /* a chain's refits are sequential; a refit's passes split over at most
       as many threads as the data have chunks. Fewest rounds of refits per
       thread: K chains at once take ceil(ntasks / K) rounds, each refit
       sped up by its share of the threads (ties: more chains at once, whose
       passes synchronize less). */
    size_t rows = nlsq_source_num_rows(c->src);
    double chunks = (double)((rows + PASS_CHUNK - 1) / PASS_CHUNK);
    int best = 1;
    double best_cost = INFINITY;
    for (int K = 1; K <= ntasks && K <= T; K++) {
        double share = T / K < chunks ? T / K : chunks;
        double cost = (double)((ntasks + K - 1) / K) / (share > 1 ? share : 1);
        if (cost <= best_cost) {
            best_cost = cost;
            best = K;
        }
    }
    *fit_threads = T / best;
    return best;
}

/* The standard error to step by: the fit's, or lmfit's fallback when pcov
   could not be estimated. */
static double step_scale(const nlsq_result *fit, int j)
{
    double se = fit->perr ? fit->perr[j] : NAN;
    if (se > 0 && isfinite(se)) return se;
    double s = 0.2 * fabs(fit->popt[j]);
    return s > 1e-3 ? s : 1e-3;
}

/* ---- one side of one parameter ------------------------------------------ */

typedef struct side {
    int j, dir;        /* parameter, +1 upper / -1 lower            */
    int count, cap;    /* refits (and the start point)              */
    double *u, *chi2;  /* offsets dir*(v - popt_j) >= 0, objective  */
    double *P;         /* cap x n: each refit's parameters          */
    unsigned char *ok; /* the refit succeeded                       */
    double *limit;     /* nlevels                                   */
    int *status;       /* nlevels                                   */
    int refits;
    char why[300];
} side;

typedef struct job {
    prof_ctx *c;
    side *sides;
    int nlevels;
    const double *D;  /* nlevels: delta chi2 at each level               */
    const int *order; /* levels by D ascending                           */
    double tol;
    int max_refits;
    int fit_threads;
    const unsigned char *user_fixed;
} job;

static int side_grow(side *s, int n)
{
    if (s->count < s->cap) return 0;
    int cap = s->cap ? 2 * s->cap : 16;
    double *u = realloc(s->u, (size_t)cap * sizeof *u);
    if (u) s->u = u;
    double *c2 = realloc(s->chi2, (size_t)cap * sizeof *c2);
    if (c2) s->chi2 = c2;
    double *P = realloc(s->P, (size_t)cap * (size_t)n * sizeof *P);
    if (P) s->P = P;
    unsigned char *ok = realloc(s->ok, (size_t)cap);
    if (ok) s->ok = ok;
    if (!u || !c2 || !P || !ok) return -1;
    s->cap = cap;
    return 0;
}

/* The start of the refit at offset u: the others predicted along the
   profile's path, linearly from the two nearest points solved on this
   side, or from popt by the covariance (the conditional mean given p_j,
   exact for a linear model) for the first; a prediction outside a bound
   keeps the nearest point's value. Starting at the constrained optimum's
   prediction saves the refit an iteration or two. */
static void warm_start(const prof_ctx *c, const side *s, double u, const unsigned char *hold, double *p)
{
    int n = c->n, j = s->j, near = -1, second = -1;
    for (int i = 0; i < s->count; i++) {
        if (!s->ok[i]) continue;
        if (near < 0 || fabs(s->u[i] - u) < fabs(s->u[near] - u)) {
            second = near;
            near = i;
        } else if (second < 0 || fabs(s->u[i] - u) < fabs(s->u[second] - u)) {
            second = i;
        }
    }
    const double *pn = s->P + (size_t)near * n;
    memcpy(p, pn, (size_t)n * sizeof *p);
    const double *pcov = c->fit->pcov;
    int by_pair = second >= 0 && s->u[second] != s->u[near];
    int by_cov = !by_pair && c->fit->pcov_valid && pcov && pcov[(size_t)j * n + j] > 0;
    if (!by_pair && !by_cov) return;
    const double *ps = by_pair ? s->P + (size_t)second * n : NULL;
    double du = u - s->u[near];
    for (int q = 0; q < n; q++) {
        if (hold[q]) continue;
        double slope = by_pair ? (pn[q] - ps[q]) / (s->u[near] - s->u[second])
                               : s->dir * pcov[(size_t)q * n + j] / pcov[(size_t)j * n + j];
        double v = pn[q] + slope * du;
        double lo = c->base.lower ? c->base.lower[q] : -INFINITY, hi = c->base.upper ? c->base.upper[q] : INFINITY;
        if (isfinite(v) && v > lo && v < hi) p[q] = v;
    }
}

/* Refit with p_j at offset u, warm-started by warm_start.
   The new point's index, or -1 (failed: s->why says why). */
static int side_eval(const job *jb, side *s, double u, unsigned char *hold)
{
    const prof_ctx *c = jb->c;
    int n = c->n;
    if (side_grow(s, n) != 0) {
        snprintf(s->why, sizeof s->why, "out of memory");
        return -1;
    }
    int k = s->count;
    double *p = s->P + (size_t)k * n;
    warm_start(c, s, u, hold, p);
    double v = c->fit->popt[s->j] + s->dir * u;
    p[s->j] = v;
    double chi2 = NAN;
    char why[240];
    s->refits++;
    int rc = prof_refit(c, p, hold, jb->fit_threads, &chi2, why, sizeof why);
    s->u[k] = u;
    s->chi2[k] = rc == 0 ? chi2 : NAN;
    s->ok[k] = rc == 0;
    s->count++;
    if (rc != 0) {
        snprintf(s->why, sizeof s->why, "%s, %s side: the refit at %s = %.10g failed: %.200s",
                 nlsq_model_param_name(c->model, s->j), s->dir > 0 ? "upper" : "lower",
                 nlsq_model_param_name(c->model, s->j), v, why);
        return -1;
    }
    return k;
}

/* g(u) = sqrt(chi2(u) - chi2_best) - sqrt(D): about linear in u (exactly
   for a linear model), so the secant and regula falsi steps are nearly
   exact. A refit below chi2_best counts as chi2_best. */
static double side_g(const prof_ctx *c, double chi2, double D)
{
    double d = chi2 - c->c0;
    return sqrt(d > 0 ? d : 0) - sqrt(D);
}

/* The points around the level: a the farthest below it short of b, b the
   nearest at or above it (-1: none yet). */
static void side_bracket(const prof_ctx *c, const side *s, double D, int *a, int *b)
{
    *b = -1;
    for (int i = 0; i < s->count; i++)
        if (s->ok[i] && s->chi2[i] - c->c0 >= D && (*b < 0 || s->u[i] < s->u[*b])) *b = i;
    *a = 0;
    for (int i = 0; i < s->count; i++)
        if (s->ok[i] && s->chi2[i] - c->c0 < D && (*b < 0 || s->u[i] < s->u[*b]) && s->u[i] > s->u[*a]) *a = i;
}

/* The next point below a (for the secant), or -1. */
static int side_below(const side *s, int a)
{
    int best = -1;
    for (int i = 0; i < s->count; i++)
        if (s->ok[i] && s->u[i] < s->u[a] && (best < 0 || s->u[i] > s->u[best])) best = i;
    return best;
}

/* Find one level's limit on one side: step out to a bracket, then the
   Illinois method. Returns the status; *u_out the offset of the limit. */
static int side_level(const job *jb, side *s, double D, double h, double ub, double tolu, unsigned char *hold,
                      double *u_out)
{
    const prof_ctx *c = jb->c;
    int a, b;
    /* phase 1: secant steps on g from below until the level is passed */
    for (;;) {
        side_bracket(c, s, D, &a, &b);
        if (b >= 0) break;
        double ua = s->u[a], ga = side_g(c, s->chi2[a], D);
        int pa = side_below(s, a);
        if (pa >= 0) {
            double gp = side_g(c, s->chi2[pa], D);
            double slope = (ga - gp) / (ua - s->u[pa]);
            /* within tol by the secant's estimate (short of the bound) */
            if (slope > 0 && -ga <= 0.5 * tolu * slope && ua - ga / slope < ub) {
                *u_out = ua - ga / slope;
                return NLSQ_PROFILE_OK;
            }
        }
        if (ua >= ub) {
            *u_out = ub;
            return NLSQ_PROFILE_BOUND;
        }
        if (ua > 1e4 * h || s->refits >= jb->max_refits) {
            *u_out = INFINITY;
            return NLSQ_PROFILE_OPEN;
        }
        double next;
        double far = ua + 2 * (ua > h ? ua : h);
        if (pa < 0 && ua == 0) {
            next = h;
        } else if (pa >= 0 && ga > side_g(c, s->chi2[pa], D)) {
            double gp = side_g(c, s->chi2[pa], D);
            next = ua - ga * (ua - s->u[pa]) / (ga - gp);
        } else {
            next = far;
        }
        if (!(next > ua + tolu)) next = ua + tolu;
        if (next > far) next = far;
        if (next > ub) next = ub;
        if (side_eval(jb, s, next, hold) < 0) return NLSQ_PROFILE_FAILED;
    }
    /* phase 2: regula falsi with the Illinois halving, between a (below
       the level) and b (at or above it) */
    double ua = s->u[a], ub2 = s->u[b];
    double ga = side_g(c, s->chi2[a], D), gb = side_g(c, s->chi2[b], D);
    double fa = ga, fb = gb; /* the values the steps use (halved) */
    int last = 0;
    for (;;) {
        double w = ub2 - ua;
        double slope = (gb - ga) / w;
        if (gb <= 0.5 * tolu * slope) {
            *u_out = ub2 - gb / slope;
            return NLSQ_PROFILE_OK;
        }
        if (-ga <= 0.5 * tolu * slope) {
            *u_out = ua - ga / slope;
            return NLSQ_PROFILE_OK;
        }
        if (w <= tolu) {
            *u_out = ub2 - gb / slope;
            return NLSQ_PROFILE_OK;
        }
        if (s->refits >= jb->max_refits) {
            *u_out = ub2 - gb / slope;
            return NLSQ_PROFILE_MAX_REFITS;
        }
        double u = ub2 - fb * w / (fb - fa);
        double guard = 0.25 * tolu;
        if (u < ua + guard) u = ua + guard;
        if (u > ub2 - guard) u = ub2 - guard;
        int k = side_eval(jb, s, u, hold);
        if (k < 0) return NLSQ_PROFILE_FAILED;
        double g = side_g(c, s->chi2[k], D);
        if (g < 0) {
            ua = u;
            ga = fa = g;
            if (last < 0) fb *= 0.5;
            last = -1;
        } else {
            ub2 = u;
            gb = fb = g;
            if (last > 0) fa *= 0.5;
            last = 1;
        }
    }
}

static void side_run(void *ctx, int task, int worker)
{
    (void)worker;
    job *jb = ctx;
    prof_ctx *c = jb->c;
    side *s = &jb->sides[task];
    int n = c->n, j = s->j;
    unsigned char *hold = malloc((size_t)n);
    if (!hold || side_grow(s, n) != 0) {
        snprintf(s->why, sizeof s->why, "out of memory");
        for (int k = 0; k < jb->nlevels; k++) {
            s->status[k] = NLSQ_PROFILE_FAILED;
            s->limit[k] = NAN;
        }
        free(hold);
        return;
    }
    for (int i = 0; i < n; i++) hold[i] = jb->user_fixed ? jb->user_fixed[i] != 0 : 0;
    hold[j] = 1;
    /* the start: the best fit itself */
    s->u[0] = 0;
    s->chi2[0] = c->c0;
    s->ok[0] = 1;
    memcpy(s->P, c->fit->popt, (size_t)n * sizeof *s->P);
    s->count = 1;
    double se = step_scale(c->fit, j);
    double s2 = c->absolute ? 1 : c->c0 / c->dof;
    double bound = s->dir > 0 ? (c->base.upper ? c->base.upper[j] : INFINITY)
                              : (c->base.lower ? c->base.lower[j] : -INFINITY);
    double ub = s->dir * (bound - c->fit->popt[j]);
    if (!(ub >= 0)) ub = 0;
    double tolu = jb->tol * se;
    int failed = 0;
    for (int q = 0; q < jb->nlevels; q++) {
        int k = jb->order[q];
        if (failed) {
            s->status[k] = NLSQ_PROFILE_FAILED;
            s->limit[k] = NAN;
            continue;
        }
        double D = jb->D[k];
        double h = se * sqrt(D / s2); /* the quadratic approximation's limit */
        double u;
        int st = side_level(jb, s, D, h, ub, tolu, hold, &u);
        s->status[k] = st;
        if (st == NLSQ_PROFILE_FAILED) {
            failed = 1;
            s->limit[k] = NAN;
        } else if (st == NLSQ_PROFILE_BOUND) {
            s->limit[k] = bound;
        } else if (st == NLSQ_PROFILE_OPEN) {
            s->limit[k] = s->dir * INFINITY;
        } else {
            s->limit[k] = c->fit->popt[j] + s->dir * u;
        }
    }
    free(hold);
}

/* ---- the result --------------------------------------------------------- */

void nlsq_profile_result_free(nlsq_profile_result *res)
{
    if (!res) return;
    if (res->trace)
        for (int i = 0; i < res->nparams; i++) {
            free(res->trace[i].value);
            free(res->trace[i].chi2);
            free(res->trace[i].prob);
        }
    free(res->trace);
    free(res->param);
    free(res->levels);
    free(res->lower);
    free(res->upper);
    free(res->lower_status);
    free(res->upper_status);
    free(res->delta_chi2);
    free(res);
}

static nlsq_profile_result *result_alloc(int np, int nl)
{
    nlsq_profile_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->nparams = np;
    r->nlevels = nl;
    size_t t = (size_t)np * (size_t)nl;
    r->param = calloc((size_t)np, sizeof *r->param);
    r->levels = calloc((size_t)nl, sizeof *r->levels);
    r->delta_chi2 = calloc((size_t)nl, sizeof *r->delta_chi2);
    r->lower = calloc(t, sizeof *r->lower);
    r->upper = calloc(t, sizeof *r->upper);
    r->lower_status = calloc(t, sizeof *r->lower_status);
    r->upper_status = calloc(t, sizeof *r->upper_status);
    r->trace = calloc((size_t)np, sizeof *r->trace);
    if (!r->param || !r->levels || !r->delta_chi2 || !r->lower || !r->upper || !r->lower_status || !r->upper_status ||
        !r->trace) {
        nlsq_profile_result_free(r);
        return NULL;
    }
    return r;
}

/* Both sides' points of one parameter, by value, the best fit once. */
static int make_trace(const prof_ctx *c, const side *lo, const side *hi, nlsq_profile_trace *t)
{
    int cnt = lo->count + hi->count - 1;
    t->value = malloc((size_t)cnt * sizeof *t->value);
    t->chi2 = malloc((size_t)cnt * sizeof *t->chi2);
    t->prob = malloc((size_t)cnt * sizeof *t->prob);
    if (!t->value || !t->chi2 || !t->prob) return -1;
    double p = c->fit->popt[lo->j];
    int k = 0;
    for (int i = 1; i < lo->count; i++, k++) {
        t->value[k] = p - lo->u[i];
        t->chi2[k] = lo->chi2[i];
    }
    t->value[k] = p;
    t->chi2[k++] = c->c0;
    for (int i = 1; i < hi->count; i++, k++) {
        t->value[k] = p + hi->u[i];
        t->chi2[k] = hi->chi2[i];
    }
    t->count = cnt;
    /* insertion sort: tens of points */
    for (int i = 1; i < cnt; i++)
        for (int m = i; m > 0 && t->value[m] < t->value[m - 1]; m--) {
            double a = t->value[m];
            t->value[m] = t->value[m - 1];
            t->value[m - 1] = a;
            a = t->chi2[m];
            t->chi2[m] = t->chi2[m - 1];
            t->chi2[m - 1] = a;
        }
    for (int i = 0; i < cnt; i++) t->prob[i] = prof_prob(c, t->chi2[i], 1);
    return 0;
}

/* The parameters to profile: those named, or every free one. */
static int choose_params(const prof_ctx *c, const nlsq_profile_options *po, int *idx, nlsq_error *err)
{
    const char *who = "nlsq_profile";
    const unsigned char *fx = c->base.fixed;
    if (!po->names) {
        int np = 0;
        for (int j = 0; j < c->n; j++)
            if (!fx || !fx[j]) idx[np++] = j;
        return np;
    }
    if (po->nnames <= 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: names given but nnames is %d", who, po->nnames);
        return -1;
    }
    for (int i = 0; i < po->nnames; i++) {
        if (!po->names[i]) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: names[%d] is NULL", who, i);
            return -1;
        }
        int j = prof_find_param(c->model, po->names[i], who, err);
        if (j < 0) return -1;
        if (fx && fx[j]) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: parameter '%s' is fixed in the fit: it has no profile",
                      who, po->names[i]);
            return -1;
        }
        for (int q = 0; q < i; q++)
            if (idx[q] == j) {
                error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: parameter '%s' is named twice", who, po->names[i]);
                return -1;
            }
        idx[i] = j;
    }
    return po->nnames;
}

nlsq_status prof_check_level(double L, const char *who, nlsq_error *err)
{
    if (L > 0 && L < 1) return NLSQ_OK;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: level %g is outside (0, 1)", who, L);
    return NLSQ_ERR_INVALID_ARGUMENT;
}

nlsq_status nlsq_profile_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                const nlsq_options *opt, const nlsq_result *fit, const nlsq_profile_options *popt,
                                nlsq_profile_result **out, nlsq_error *err)
{
    error_clear(err);
    const char *who = "nlsq_profile";
    if (!out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: out is NULL", who);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    double t0 = host_seconds();
    nlsq_profile_options po = popt ? *popt : nlsq_profile_options_default();
    static const double default_level = 0.95;
    if (!po.levels) {
        po.levels = &default_level;
        po.nlevels = 1;
    }
    if (po.nlevels <= 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: levels given but nlevels is %d", who, po.nlevels);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    for (int k = 0; k < po.nlevels; k++)
        if (prof_check_level(po.levels[k], who, err) != NLSQ_OK) return NLSQ_ERR_INVALID_ARGUMENT;
    if (!(po.tol > 0 && isfinite(po.tol))) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: tol must be positive, got %g", who, po.tol);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (po.max_refits <= 0) po.max_refits = 100;
    prof_ctx c;
    nlsq_status st = prof_setup(&c, model, src, cols, opt, fit, po.threads, who, err);
    if (st != NLSQ_OK) return st;
    int n = c.n, nl = po.nlevels;
    int *idx = malloc((size_t)(n > po.nnames ? n : po.nnames) * sizeof *idx + sizeof *idx);
    double *D = malloc((size_t)nl * sizeof *D);
    int *order = malloc((size_t)nl * sizeof *order);
    if (!idx || !D || !order) {
        free(idx), free(D), free(order);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", who);
        return NLSQ_ERR_NOMEM;
    }
    int np = choose_params(&c, &po, idx, err);
    if (np <= 0) {
        free(idx), free(D), free(order);
        if (np == 0) error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: no free parameter to profile", who);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    /* the level's delta chi2: F-test (lmfit's f_compare with one parameter
       held) or the chi-square quantile */
    for (int k = 0; k < nl; k++) {
        double L = po.levels[k];
        D[k] = c.absolute ? nlsq_chi2_quantile(L, 1) : c.c0 * nlsq_f_quantile(L, 1, c.dof) / c.dof;
        order[k] = k;
    }
    for (int i = 1; i < nl; i++)
        for (int m = i; m > 0 && D[order[m]] < D[order[m - 1]]; m--) {
            int t = order[m];
            order[m] = order[m - 1];
            order[m - 1] = t;
        }
    nlsq_profile_result *res = result_alloc(np, nl);
    side *sides = calloc((size_t)2 * np, sizeof *sides);
    int ntasks = 2 * np;
    int bad = !res || !sides;
    for (int t = 0; !bad && t < ntasks; t++) {
        sides[t].j = idx[t / 2];
        sides[t].dir = t % 2 ? 1 : -1;
        sides[t].limit = calloc((size_t)nl, sizeof(double));
        sides[t].status = calloc((size_t)nl, sizeof(int));
        if (!sides[t].limit || !sides[t].status) bad = 1;
    }
    if (!bad) {
        /* profiles at once, each refit on its share of the threads: a
           fit's result is the same on any number of threads, and every
           side is a fixed sequence of refits */
        int fit_threads;
        int K = prof_plan(&c, ntasks, &fit_threads);
        job jb = {&c, sides, nl, D, order, po.tol, po.max_refits, fit_threads, c.base.fixed};
        pool *pl = K > 1 ? pool_new(K) : NULL;
        if (K > 1 && !pl) jb.fit_threads = c.threads, K = 1;
        pool_run(pl, side_run, &jb, ntasks);
        pool_free(pl);
        res->threads = c.threads;
    }
    for (int i = 0; !bad && i < np; i++) {
        side *lo = &sides[2 * i], *hi = &sides[2 * i + 1];
        res->param[i] = idx[i];
        for (int k = 0; k < nl; k++) {
            res->lower[(size_t)i * nl + k] = lo->limit[k];
            res->lower_status[(size_t)i * nl + k] = lo->status[k];
            res->upper[(size_t)i * nl + k] = hi->limit[k];
            res->upper_status[(size_t)i * nl + k] = hi->status[k];
            res->failed += (lo->status[k] == NLSQ_PROFILE_FAILED) + (hi->status[k] == NLSQ_PROFILE_FAILED);
        }
        for (int s = 0; s < 2; s++) {
            side *sd = s ? hi : lo;
            if (sd->why[0] && !res->message[0]) snprintf(res->message, sizeof res->message, "%s", sd->why);
            res->refits += sd->refits;
        }
        if (make_trace(&c, lo, hi, &res->trace[i]) != 0) bad = 1;
    }
    for (int t = 0; sides && t < ntasks; t++) {
        free(sides[t].u), free(sides[t].chi2), free(sides[t].P), free(sides[t].ok);
        free(sides[t].limit), free(sides[t].status);
    }
    free(sides);
    if (bad) {
        free(idx), free(D), free(order);
        nlsq_profile_result_free(res);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory", who);
        return NLSQ_ERR_NOMEM;
    }
    memcpy(res->levels, po.levels, (size_t)nl * sizeof *res->levels);
    memcpy(res->delta_chi2, D, (size_t)nl * sizeof *D);
    res->chi2_best = c.c0;
    res->dof = c.dof;
    res->absolute_sigma = c.absolute;
    res->seconds = host_seconds() - t0;
    free(idx), free(D), free(order);
    *out = res;
    return NLSQ_OK;
}

/* A source over the arrays of an nlsq_data (fit_arrays_source), with its
   columns. */
nlsq_status prof_data_source(const nlsq_model *model, const nlsq_data *data, nlsq_source **src, nlsq_columns *cols,
                             const char *who, nlsq_error *err)
{
    if (!model || !data) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: %s is NULL", who, !model ? "model" : "data");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (data->sigma_kind == NLSQ_SIGMA_COVARIANCE) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: a covariance sigma is not supported", who);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return fit_arrays_source(data, nlsq_model_num_vars(model), who, src, cols, err);
}

nlsq_status nlsq_profile(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                         const nlsq_result *fit, const nlsq_profile_options *popt, nlsq_profile_result **out,
                         nlsq_error *err)
{
    error_clear(err);
    if (out) *out = NULL;
    nlsq_source *src = NULL;
    nlsq_columns cols;
    nlsq_status st = prof_data_source(model, data, &src, &cols, "nlsq_profile", err);
    if (st != NLSQ_OK) return st;
    st = nlsq_profile_source(model, src, &cols, opt, fit, popt, out, err);
    nlsq_source_free(src);
    return st;
}
