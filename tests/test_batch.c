/*
 * Batched fitting (nlsq_fit_batch): every fit of a batch against the same
 * fit made alone with nlsq_curve_fit (same options: the results must be
 * the same bits), against SciPy's curve_fit (tests/scipy/batch_fixtures.txt:
 * 1e-8 of max(|p|, perr), as closely as either solver pins the minimum;
 * see make_batch_fixtures.py), mixed batches where single fits fail in every way a fit can,
 * the interpreter against the compiled kernel, and the call's refusals.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "core/core.h" /* host_seconds */
#include "gpu/gpu.h"
#include "nlsq.h"

#ifndef NLSQ_SOURCE_DIR
#define NLSQ_SOURCE_DIR "."
#endif

static nlsq_model *parse_vars(const char *text, const char *vars, const char *params)
{
    nlsq_model *m = NULL;
    nlsq_error err;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = vars;
    mo.params = params;
    if (nlsq_model_parse(text, &mo, &m, &err) != NLSQ_OK) printf("    parse '%s': %s\n", text, err.message);
    return m;
}

static nlsq_model *parse(const char *text)
{
    return parse_vars(text, "x", NULL);
}

#define GAUSS "a*exp(-(x-mu)^2/(2*s^2)) + b" /* parameters a mu s b */

/* A batch of 1-D Gaussians on a background: fit i has len[i] points
   (offsets), its own x (per_fit_x) or the shared 0, 1, 2, ... */
typedef struct gauss_batch {
    size_t nfits, total, longest, *offsets;
    double *x, *xs, *y, *sigma, *p0, *lower, *upper;
    unsigned char *fixed;
} gauss_batch;

static void gauss_make(gauss_batch *g, size_t nfits, int varying, unsigned long long seed)
{
    rng r = {seed};
    memset(g, 0, sizeof *g);
    g->nfits = nfits;
    g->offsets = malloc((nfits + 1) * sizeof *g->offsets);
    g->offsets[0] = 0;
    for (size_t i = 0; i < nfits; i++) {
        size_t len = varying ? 12 + (size_t)rng_int(&r, 50) : 32;
        g->offsets[i + 1] = g->offsets[i] + len;
        if (len > g->longest) g->longest = len;
    }
    g->total = g->offsets[nfits];
    g->x = malloc(g->total * sizeof *g->x);
    g->xs = malloc(g->longest * sizeof *g->xs);
    g->y = malloc(g->total * sizeof *g->y);
    g->sigma = malloc(g->total * sizeof *g->sigma);
    g->p0 = malloc(nfits * 4 * sizeof *g->p0);
    g->lower = malloc(nfits * 4 * sizeof *g->lower);
    g->upper = malloc(nfits * 4 * sizeof *g->upper);
    g->fixed = calloc(nfits * 4, 1);
    for (size_t p = 0; p < g->longest; p++) g->xs[p] = (double)p;
    for (size_t i = 0; i < nfits; i++) {
        size_t len = g->offsets[i + 1] - g->offsets[i];
        double a = rng_range(&r, 50, 150), mu = rng_range(&r, 0.3, 0.7) * (double)len, s = rng_range(&r, 2, 4),
               b = rng_range(&r, 5, 15);
        for (size_t p = 0; p < len; p++) {
            size_t k = g->offsets[i] + p;
            g->x[k] = (double)p + rng_range(&r, -0.2, 0.2);
            double xv = g->xs[p];
            double d = (xv - mu) / s;
            g->sigma[k] = rng_range(&r, 0.5, 2);
            g->y[k] = a * exp(-0.5 * d * d) + b + g->sigma[k] * rng_range(&r, -1, 1);
        }
        double *p0 = g->p0 + 4 * i;
        p0[0] = a * rng_range(&r, 0.8, 1.2);
        p0[1] = mu + rng_range(&r, -1, 1);
        p0[2] = s * rng_range(&r, 0.8, 1.2);
        p0[3] = b + rng_range(&r, -2, 2);
        double lo[4] = {0, 0, 0.5, -100}, hi[4] = {1000, (double)len, 10, 100};
        memcpy(g->lower + 4 * i, lo, sizeof lo);
        memcpy(g->upper + 4 * i, hi, sizeof hi);
        if (i % 5 == 3) g->fixed[4 * i + 3] = 1; /* the background held at p0 */
    }
}

static void gauss_free(gauss_batch *g)
{
    free(g->offsets);
    free(g->x);
    free(g->xs);
    free(g->y);
    free(g->sigma);
    free(g->p0);
    free(g->lower);
    free(g->upper);
    free(g->fixed);
}

/* Fit i of batch b made alone with the same options. */
static nlsq_result *single_fit(const nlsq_model *model, const nlsq_batch *b, const nlsq_options *opt, size_t i,
                               size_t longest, nlsq_status *st, nlsq_error *err)
{
    int n = nlsq_model_num_params(model), k = nlsq_model_num_vars(model);
    size_t first = b->offsets ? b->offsets[i] : i * b->m, len = b->offsets ? b->offsets[i + 1] - first : b->m;
    size_t total = b->offsets ? b->offsets[b->nfits] : b->nfits * b->m;
    double *x = malloc((size_t)(k ? k : 1) * (len ? len : 1) * sizeof *x);
    for (int v = 0; v < k; v++)
        for (size_t p = 0; p < len; p++)
            x[(size_t)v * len + p] = b->x_shared ? b->x[(size_t)v * longest + p] : b->x[(size_t)v * total + first + p];
    nlsq_data d = {x, b->y + first, len, b->sigma ? b->sigma + first : NULL,
                   b->sigma ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
    nlsq_options o = *opt;
    if (b->p0) o.p0 = b->p0 + i * (size_t)n;
    if (b->lower) o.lower = b->lower + i * (size_t)n;
    if (b->upper) o.upper = b->upper + i * (size_t)n;
    if (b->fixed) o.fixed = b->fixed + i * (size_t)n;
    nlsq_result *r = NULL;
    *st = nlsq_curve_fit(model, &d, &o, &r, err);
    free(x);
    return r;
}

/* Every fit of the batch result against its single fit: the same bits. */
static void check_against_single(const nlsq_model *model, const nlsq_batch *b, const nlsq_options *opt,
                                 const nlsq_batch_result *res, size_t longest, const char *what)
{
    int n = res->n, shown = 0;
    for (size_t i = 0; i < b->nfits; i++) {
        nlsq_status st;
        nlsq_error err;
        nlsq_result *r = single_fit(model, b, opt, i, longest, &st, &err);
        int before = check_failures;
        if (st != NLSQ_OK) {
            CHECK_MSG(res->status[i] < -2, "%s fit %zu: alone it fails (%s) but the batch says status %d", what, i,
                      err.message, res->status[i]);
            continue;
        }
        CHECK_MSG(res->status[i] == r->status, "%s fit %zu: status %d, alone %d", what, i, res->status[i], r->status);
        CHECK_MSG(res->nfev[i] == r->nfev && res->nit[i] == r->nit, "%s fit %zu: nfev %d nit %d, alone %d %d", what, i,
                  res->nfev[i], res->nit[i], r->nfev, r->nit);
        CHECK_MSG(res->m[i] == r->m, "%s fit %zu: m %zu, alone %zu", what, i, res->m[i], r->m);
        CHECK_SAME(res->cost[i], r->cost, "%s fit %zu cost", what, i);
        CHECK_SAME(res->chi2[i], r->chi2, "%s fit %zu chi2", what, i);
        CHECK_MSG(res->pcov_valid[i] == r->pcov_valid, "%s fit %zu: pcov_valid %d, alone %d", what, i,
                  res->pcov_valid[i], r->pcov_valid);
        for (int j = 0; j < n; j++) {
            CHECK_SAME(res->popt[i * n + j], r->popt[j], "%s fit %zu popt[%d]", what, i, j);
            if (res->perr) CHECK_SAME(res->perr[i * n + j], r->perr[j], "%s fit %zu perr[%d]", what, i, j);
            for (int c = 0; res->pcov && c < n; c++)
                CHECK_SAME(res->pcov[(i * n + j) * n + c], r->pcov[j * n + c], "%s fit %zu pcov[%d][%d]", what, i, j,
                           c);
        }
        nlsq_result_free(r);
        if (check_failures > before && ++shown >= 3) {
            printf("    (%s: stopping after 3 differing fits)\n", what);
            return;
        }
    }
}

static int same_results(const nlsq_batch_result *a, const nlsq_batch_result *b)
{
    size_t f = a->nfits, n = (size_t)a->n;
    if (f != b->nfits) return 0;
    for (size_t i = 0; i < f * n; i++)
        if (memcmp(&a->popt[i], &b->popt[i], sizeof(double)) != 0) return 0;
    for (size_t i = 0; a->perr && i < f * n; i++)
        if (memcmp(&a->perr[i], &b->perr[i], sizeof(double)) != 0) return 0;
    for (size_t i = 0; i < f; i++)
        if (a->status[i] != b->status[i] || a->nfev[i] != b->nfev[i] ||
            memcmp(&a->cost[i], &b->cost[i], sizeof(double)) != 0)
            return 0;
    return 1;
}

/* Methods, losses, sigma, bounds and fixed masks: each fit of the batch
   gives the bits it gives alone, on 1 thread and on 3. */
static void test_batch_matches_single_fits(void)
{
    nlsq_model *model = parse(GAUSS);
    if (!model) {
        CHECK(0);
        return;
    }
    gauss_batch g;
    gauss_make(&g, 120, 1, 11);
    struct {
        const char *what;
        nlsq_method method;
        nlsq_loss loss;
        int sigma, bounds, fixed, shared_x, absolute;
    } cases[] = {
        {"trf", NLSQ_TRF, NLSQ_LOSS_LINEAR, 0, 0, 0, 1, 0},
        {"lm", NLSQ_LM, NLSQ_LOSS_LINEAR, 1, 0, 0, 0, 1},
        {"trf bounds fixed sigma", NLSQ_TRF, NLSQ_LOSS_LINEAR, 1, 1, 1, 0, 0},
        {"dogbox bounds", NLSQ_DOGBOX, NLSQ_LOSS_LINEAR, 0, 1, 0, 1, 0},
        {"trf soft_l1", NLSQ_TRF, NLSQ_LOSS_SOFT_L1, 1, 0, 1, 1, 0},
        {"trf cauchy bounds", NLSQ_TRF, NLSQ_LOSS_CAUCHY, 0, 1, 0, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nlsq_batch b = nlsq_batch_default();
        b.nfits = g.nfits;
        b.offsets = g.offsets;
        b.x = cases[c].shared_x ? g.xs : g.x;
        b.x_shared = cases[c].shared_x;
        b.y = g.y;
        b.sigma = cases[c].sigma ? g.sigma : NULL;
        b.p0 = g.p0;
        b.lower = cases[c].bounds ? g.lower : NULL;
        b.upper = cases[c].bounds ? g.upper : NULL;
        b.fixed = cases[c].fixed ? g.fixed : NULL;
        nlsq_options o = nlsq_options_default();
        o.method = cases[c].method;
        o.loss = cases[c].loss;
        o.f_scale = 2;
        o.absolute_sigma = cases[c].absolute;
        o.threads = 3;
        nlsq_batch_result *r3 = NULL, *r1 = NULL;
        nlsq_error err;
        nlsq_status st = nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &r3, &err);
        CHECK_MSG(st == NLSQ_OK, "%s: %s", cases[c].what, err.message);
        if (st != NLSQ_OK) continue;
        o.threads = 1;
        st = nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &r1, &err);
        CHECK_MSG(st == NLSQ_OK && same_results(r1, r3), "%s: 1 thread and 3 threads differ", cases[c].what);
        CHECK_MSG(r3->converged == g.nfits, "%s: %zu of %zu converged", cases[c].what, r3->converged, g.nfits);
        CHECK_MSG(r3->threads == 3, "%s: ran on %d threads", cases[c].what, r3->threads);
        check_against_single(model, &b, &o, r3, g.longest, cases[c].what);
        printf("    %-24s %zu fits converged, %s; %d threads; %.3g s\n", cases[c].what, r3->converged, r3->backend,
               r3->threads, r3->seconds);
        nlsq_batch_result_free(r1);
        nlsq_batch_result_free(r3);
    }
    gauss_free(&g);
    nlsq_model_free(model);
}

/* Two variables, each fit with its own grid (x rows beside y), fixed m. */
static void test_batch_two_variables(void)
{
    nlsq_model *model = parse_vars("A*exp(-((x-x0)^2 + (y-y0)^2)/(2*s^2)) + B", "x,y", "A,x0,y0,s,B");
    if (!model) {
        CHECK(0);
        return;
    }
    size_t nfits = 60, m = 25, total = nfits * m;
    double *x = malloc(2 * total * sizeof *x), *y = malloc(total * sizeof *y), *p0 = malloc(nfits * 5 * sizeof *p0);
    rng r = {5};
    for (size_t i = 0; i < nfits; i++) {
        double A = rng_range(&r, 500, 1500), x0 = rng_range(&r, 1.5, 2.5), y0 = rng_range(&r, 1.5, 2.5),
               s = rng_range(&r, 0.8, 1.3), B = rng_range(&r, 5, 20);
        for (size_t p = 0; p < m; p++) {
            double xv = (double)(p % 5) + 0.01 * (double)i, yv = (double)(p / 5);
            x[i * m + p] = xv;
            x[total + i * m + p] = yv;
            double d2 = (xv - x0) * (xv - x0) + (yv - y0) * (yv - y0);
            y[i * m + p] = A * exp(-d2 / (2 * s * s)) + B + rng_range(&r, -3, 3);
        }
        double q[5] = {A * 0.9, x0 + 0.2, y0 - 0.2, s * 1.1, B + 3};
        memcpy(p0 + i * 5, q, sizeof q);
    }
    nlsq_batch b = nlsq_batch_default();
    b.nfits = nfits;
    b.m = m;
    b.x = x;
    b.y = y;
    b.p0 = p0;
    nlsq_options o = nlsq_options_default();
    nlsq_batch_result *res = NULL;
    nlsq_error err;
    nlsq_status st = nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &res, &err);
    CHECK_MSG(st == NLSQ_OK, "%s", err.message);
    if (st == NLSQ_OK) {
        CHECK_MSG(res->converged == nfits, "%zu of %zu converged", res->converged, nfits);
        CHECK(res->pcov == NULL && res->perr != NULL);
        check_against_single(model, &b, &o, res, m, "2-D");
        nlsq_batch_result_free(res);
    }
    free(x);
    free(y);
    free(p0);
    nlsq_model_free(model);
}

/* A batch where fits fail in every way: each gets its status, and the
   good fits are exactly what they are in a batch of good fits only. */
/* A batch where fits fail in every way a fit can: NaN in y, sigma 0, p0
   outside its bounds, a rank-1 Jacobian (every x the same), a model that
   overflows at p0, 2 points for 3 parameters, and data no 40 evaluations
   can fit; the others good. */
enum { MX_NF = 10, MX_LEN = 20 };

typedef struct mixed_batch {
    size_t offsets[MX_NF + 1];
    double x[MX_NF * MX_LEN], y[MX_NF * MX_LEN], sigma[MX_NF * MX_LEN], p0[MX_NF * 3], lower[MX_NF * 3],
        upper[MX_NF * 3];
    nlsq_batch b;
} mixed_batch;

static const char *const MX_KIND[MX_NF] = {"good", "nan y",     "sigma 0", "p0 outside",  "singular",
                                           "good", "model inf", "short",   "no converge", "good"};

static void mixed_make(mixed_batch *mx)
{
    rng r = {3};
    size_t at = 0;
    for (int i = 0; i < MX_NF; i++) {
        size_t len = i == 7 ? 2 : MX_LEN; /* "short": 2 points for 3 parameters */
        mx->offsets[i] = at;
        for (size_t p = 0; p < len; p++, at++) {
            mx->x[at] = i == 4 ? 1.0 : 0.25 * (double)p; /* "singular": every x the same */
            mx->y[at] = (3 + i) * exp(-0.7 * mx->x[at]) + 1 + 0.01 * rng_range(&r, -1, 1);
            if (i == 8) mx->y[at] = p % 2 ? 1e6 : -1e6; /* "no converge": wild alternation */
            mx->sigma[at] = 1;
        }
        double q[3] = {3 + i, 0.5, 1}, lo[3] = {-INFINITY, -INFINITY, -INFINITY},
               hi[3] = {INFINITY, INFINITY, INFINITY};
        if (i == 6) q[1] = -1e4; /* "model inf": exp(+1e4 x) */
        if (i == 3) lo[0] = 100; /* "p0 outside": a = 6 < 100 */
        memcpy(mx->p0 + 3 * i, q, sizeof q);
        memcpy(mx->lower + 3 * i, lo, sizeof lo);
        memcpy(mx->upper + 3 * i, hi, sizeof hi);
    }
    mx->offsets[MX_NF] = at;
    mx->y[mx->offsets[1] + 4] = NAN;
    mx->sigma[mx->offsets[2] + 7] = 0;
    mx->b = nlsq_batch_default();
    mx->b.nfits = MX_NF;
    mx->b.offsets = mx->offsets;
    mx->b.x = mx->x;
    mx->b.y = mx->y;
    mx->b.sigma = mx->sigma;
    mx->b.p0 = mx->p0;
    mx->b.lower = mx->lower;
    mx->b.upper = mx->upper;
}

/* SciPy's tolerances and a tight evaluation limit: the options of both
   mixed-batch tests. */
static nlsq_options mixed_options(nlsq_method method)
{
    nlsq_options o = nlsq_options_default();
    o.method = method;
    o.ftol = o.xtol = o.gtol = 1e-8;
    o.max_nfev = 40;
    o.threads = 2;
    return o;
}

static void test_batch_mixed_statuses(void)
{
    nlsq_model *model = parse("a*exp(-b*x) + c");
    if (!model) {
        CHECK(0);
        return;
    }
    enum { NF = MX_NF, LEN = MX_LEN };
    static mixed_batch mx;
    mixed_make(&mx);
    const size_t *offsets = mx.offsets;
    double *x = mx.x, *y = mx.y, *sigma = mx.sigma, *p0 = mx.p0, *lower = mx.lower, *upper = mx.upper;
    const char *const *kind = MX_KIND;
    nlsq_batch b = mx.b;
    nlsq_options o = mixed_options(NLSQ_TRF);
    nlsq_batch_result *res = NULL;
    nlsq_error err;
    nlsq_status st = nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &res, &err);
    CHECK_MSG(st == NLSQ_OK, "%s", err.message);
    if (st != NLSQ_OK) return;
    int want[NF] = {
        1, NLSQ_FIT_BAD_DATA, NLSQ_FIT_BAD_DATA, NLSQ_FIT_BAD_INPUT, 1, 1, NLSQ_FIT_NONFINITE, NLSQ_FIT_BAD_DATA, 0, 1};
    for (int i = 0; i < NF; i++) {
        int s = res->status[i];
        int ok = want[i] == 1 ? s > 0 : s == want[i];
        CHECK_MSG(ok, "fit %d (%s): status %d (%s)", i, kind[i], s, nlsq_fit_status_str(s));
        printf("    fit %d %-12s status %3d  %s%s\n", i, kind[i], s, nlsq_fit_status_str(s),
               res->pcov_valid[i] ? "" : " (no covariance)");
    }
    /* "singular" (rank 1): trf converges, and its pcov is SciPy's
       pseudo-inverse over the singular values that count (finite) */
    CHECK(res->pcov_valid[4] && isfinite(res->perr[4 * 3 + 0]));
    /* "short": 2 points for 3 parameters is underdetermined, refused
       before the solver as SciPy's curve_fit refuses it (issue 17, defect
       15: it used to run and report "converged" with dof -1) */
    CHECK(!res->pcov_valid[7] && res->nfev[7] == 0 && isnan(res->cost[7]));
    CHECK(res->pcov_valid[0] && res->pcov_valid[5] && res->pcov_valid[9]);
    /* a fit that did not run reports its start point */
    CHECK_SAME(res->popt[3 * 3 + 0], p0[3 * 3 + 0], "p0 outside: popt[0]");
    CHECK(isnan(res->cost[1]) && isnan(res->cost[6]));
    CHECK_MSG(res->failed == 5 && res->converged == 4, "failed %zu converged %zu", res->failed, res->converged);
    check_against_single(model, &b, &o, res, LEN, "mixed");

    /* nan_policy omit: the NaN fit runs on its other 19 points */
    nlsq_options omit = o;
    omit.nan_policy = NLSQ_NAN_OMIT;
    nlsq_batch_result *ro = NULL;
    if (nlsq_fit_batch(model, &b, &omit, NLSQ_BATCH_PERR, &ro, &err) == NLSQ_OK) {
        CHECK_MSG(ro->status[1] > 0 && ro->m[1] == LEN - 1, "omit: status %d m %zu", ro->status[1], ro->m[1]);
        check_against_single(model, &b, &omit, ro, LEN, "omit");
        nlsq_batch_result_free(ro);
    } else {
        CHECK_MSG(0, "omit: %s", err.message);
    }

    /* method lm: per-fit bounds and the 2-point fit refused fit by fit */
    nlsq_options lm = mixed_options(NLSQ_LM);
    nlsq_batch_result *rl = NULL;
    b.lower = b.upper = NULL;
    if (nlsq_fit_batch(model, &b, &lm, 0, &rl, &err) == NLSQ_OK) {
        CHECK(rl->perr == NULL);
        nlsq_batch_result_free(rl);
    } else {
        CHECK_MSG(0, "lm: %s", err.message);
    }
    b.lower = lower;
    b.upper = upper;
    if (nlsq_fit_batch(model, &b, &lm, NLSQ_BATCH_PERR, &rl, &err) == NLSQ_OK) {
        /* lm takes the plain inverse: none for the rank-1 fit */
        CHECK_MSG(rl->status[4] > 0 && !rl->pcov_valid[4] && isinf(rl->perr[4 * 3]), "lm, singular: status %d pcov %d",
                  rl->status[4], rl->pcov_valid[4]);
        CHECK_MSG(rl->status[3] == NLSQ_FIT_BAD_INPUT, "lm, fit 3: %d", rl->status[3]);
        CHECK_MSG(rl->status[7] == NLSQ_FIT_BAD_DATA, "lm, 2 points: %d", rl->status[7]);
        CHECK_MSG(rl->status[0] > 0 && rl->status[9] > 0, "lm good fits: %d %d", rl->status[0], rl->status[9]);
        check_against_single(model, &b, &lm, rl, LEN, "lm mixed");
        nlsq_batch_result_free(rl);
    } else {
        CHECK_MSG(0, "lm: %s", err.message);
    }

    /* the good fits alone, as a batch of three: the same bits */
    int good[3] = {0, 5, 9};
    size_t goff[4] = {0, LEN, 2 * LEN, 3 * LEN};
    double gx[3 * LEN], gy[3 * LEN], gs[3 * LEN], gp[9];
    for (int k = 0; k < 3; k++) {
        memcpy(gx + k * LEN, x + offsets[good[k]], LEN * sizeof *x);
        memcpy(gy + k * LEN, y + offsets[good[k]], LEN * sizeof *y);
        memcpy(gs + k * LEN, sigma + offsets[good[k]], LEN * sizeof *sigma);
        memcpy(gp + 3 * k, p0 + 3 * good[k], 3 * sizeof *p0);
    }
    nlsq_batch gb = nlsq_batch_default();
    gb.nfits = 3;
    gb.offsets = goff;
    gb.x = gx;
    gb.y = gy;
    gb.sigma = gs;
    gb.p0 = gp;
    nlsq_batch_result *rg = NULL;
    if (nlsq_fit_batch(model, &gb, &o, NLSQ_BATCH_PERR, &rg, &err) == NLSQ_OK) {
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) {
                CHECK_SAME(rg->popt[3 * k + j], res->popt[3 * good[k] + j], "good fit %d popt[%d]", good[k], j);
                CHECK_SAME(rg->perr[3 * k + j], res->perr[3 * good[k] + j], "good fit %d perr[%d]", good[k], j);
            }
        nlsq_batch_result_free(rg);
    } else {
        CHECK_MSG(0, "good only: %s", err.message);
    }
    nlsq_batch_result_free(res);
    nlsq_model_free(model);
}

/* The interpreter and the compiled kernel: the same bits, fit by fit. */
static void test_batch_interp_and_jit(void)
{
    nlsq_model *model = parse(GAUSS);
    gauss_batch g;
    gauss_make(&g, 300, 1, 23);
    nlsq_batch b = nlsq_batch_default();
    b.nfits = g.nfits;
    b.offsets = g.offsets;
    b.x = g.x;
    b.y = g.y;
    b.sigma = g.sigma;
    b.p0 = g.p0;
    nlsq_options o = nlsq_options_default();
    o.backend = NLSQ_BACKEND_INTERP;
    nlsq_batch_result *ri = NULL, *rj = NULL;
    nlsq_error err;
    CHECK(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &ri, &err) == NLSQ_OK);
    o.backend = NLSQ_BACKEND_JIT;
    o.device = "cuda:0"; /* trf batches run on the CPU; the note says so */
    CHECK(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &rj, &err) == NLSQ_OK);
    CHECK_MSG(rj && !strcmp(rj->device, "cpu") && strstr(rj->device_note, "method lm only (asked for: cuda:0)"),
              "device %s, note '%s'", rj ? rj->device : "-", rj ? rj->device_note : "-");
    if (ri && rj) {
        CHECK(!strcmp(ri->backend, "interp"));
        if (strcmp(rj->backend, "jit") != 0) {
            test_skip("no compiled kernel on this machine (no C compiler?); the interpreter alone was run");
            printf("    %s\n", rj->backend_note);
        } else {
            CHECK_MSG(same_results(ri, rj), "interpreter and compiled kernel differ");
            printf("    300 fits: interpreter %.3g s, compiled %.3g s (%s)\n", ri->seconds, rj->seconds,
                   rj->backend_note);
        }
    }
    nlsq_batch_result_free(ri);
    nlsq_batch_result_free(rj);
    gauss_free(&g);
    nlsq_model_free(model);
}

/* Shapes at the edges: a model with no variable (x NULL), and one with
   12 parameters (workspaces sized by n), each fit against its single fit. */
static void test_batch_edge_shapes(void)
{
    nlsq_model *flat = parse_vars("a", "", NULL);
    double y0[12] = {1, 2, 3, 2, 1, 2, 3, 2, 5, 5, 6, 5}, p00[1] = {0.5};
    nlsq_batch b = nlsq_batch_default();
    b.nfits = 3;
    b.m = 4;
    b.y = y0;
    nlsq_options o = nlsq_options_default();
    o.p0 = p00;
    nlsq_batch_result *r = NULL;
    nlsq_error err;
    CHECK_MSG(flat && nlsq_fit_batch(flat, &b, &o, NLSQ_BATCH_PCOV, &r, &err) == NLSQ_OK, "%s", err.message);
    if (r) {
        CHECK_NEAR(r->popt[0], 2, 1e-12, "mean of fit 0");
        CHECK_NEAR(r->popt[2], 5.25, 1e-12, "mean of fit 2");
        check_against_single(flat, &b, &o, r, 4, "no variable");
        nlsq_batch_result_free(r);
    }
    nlsq_model_free(flat);

    nlsq_model *poly = parse("c0 + c1*x + c2*x^2 + c3*x^3 + c4*x^4 + c5*x^5 + c6*sin(x) + c7*cos(x) + c8*exp(-x) + "
                             "c9*sin(2*x) + c10*cos(2*x) + c11*x*exp(-x/4)");
    enum { NF = 20, M = 40 };
    double x[M], y[NF * M], p0[NF * 12];
    rng g = {9};
    for (int i = 0; i < M; i++) x[i] = 0.1 * i;
    for (int f = 0; f < NF; f++) {
        for (int i = 0; i < M; i++)
            y[f * M + i] = 1 + 0.5 * x[i] - 0.1 * x[i] * x[i] + (f + 1) * sin(x[i]) + exp(-x[i]) +
                           0.01 * rng_range(&g, -1, 1);
        for (int j = 0; j < 12; j++) p0[f * 12 + j] = 0.1;
    }
    nlsq_batch pb = nlsq_batch_default();
    pb.nfits = NF;
    pb.m = M;
    pb.x = x;
    pb.x_shared = 1;
    pb.y = y;
    pb.p0 = p0;
    nlsq_options po = nlsq_options_default();
    po.threads = 2;
    CHECK_MSG(poly && nlsq_fit_batch(poly, &pb, &po, NLSQ_BATCH_PCOV, &r, &err) == NLSQ_OK, "%s", err.message);
    if (r) {
        CHECK_MSG(r->converged == NF, "%zu of %d converged", r->converged, NF);
        check_against_single(poly, &pb, &po, r, M, "12 parameters");
        nlsq_batch_result_free(r);
    }
    nlsq_model_free(poly);
}

/* ---- on a GPU (a real one, or the CUDA emulator of tests/emulator) -------------- */

/* 0 and the reason skipped when no CUDA device can run here. */
static int have_gpu(void)
{
    char why[300];
    cuda_device_info dev[1];
    if (getenv("NLSQ_TEST_EMULATED_GPU") && system("command -v ${NLSQ_EMU_CXX:-c++} >/dev/null 2>&1") != 0) {
        test_skip("the CUDA emulator needs a C++ compiler (c++), and there is none");
        return 0;
    }
    if (cuda_devices(dev, 1, why, sizeof why) >= 1) return 1;
    char msg[400];
    snprintf(msg, sizeof msg, "no CUDA device: %s (the emulated run, test_batch_emulated, covers the GPU path)", why);
    test_skip(msg);
    return 0;
}

/* GPU against CPU, fit by fit: the same statuses, parameters to 1e-6 of
   max(|p|, standard error), standard errors to 1e-6. The GPU folds the
   rows by Givens rotations and its exp is CUDA's, so the two runs take
   paths that differ by rounding, and lm pins a noisy fit's minimum only
   to about 1e-7 relative (the cost is flat to rounding over that region;
   exact data agree to 1e-12, the mixed batch below). */
static void check_gpu_against_cpu(const nlsq_batch_result *g, const nlsq_batch_result *c, const char *what)
{
    int n = c->n, shown = 0;
    double worst = 0;
    for (size_t i = 0; i < c->nfits; i++) {
        int before = check_failures;
        CHECK_MSG(g->status[i] == c->status[i] || (g->status[i] > 0 && c->status[i] > 0),
                  "%s fit %zu: status %d on the GPU, %d on the CPU", what, i, g->status[i], c->status[i]);
        CHECK_MSG(g->m[i] == c->m[i], "%s fit %zu: m %zu, CPU %zu", what, i, g->m[i], c->m[i]);
        CHECK_MSG(g->pcov_valid[i] == c->pcov_valid[i], "%s fit %zu: pcov_valid %d, CPU %d", what, i, g->pcov_valid[i],
                  c->pcov_valid[i]);
        /* a fit that did not converge, or whose parameters are not
           identifiable (no covariance), has no answer to agree on */
        if (c->status[i] <= 0 || !c->pcov_valid[i]) continue;
        for (int j = 0; j < n; j++) {
            double pc = c->popt[i * n + j], pg = g->popt[i * n + j], e = c->perr[i * n + j];
            double rel = fabs(pg - pc) / fmax(fabs(pc), isfinite(e) ? e : 0);
            if (rel > worst) worst = rel;
            CHECK_MSG(rel <= 1e-6, "%s fit %zu popt[%d]: GPU %.17g, CPU %.17g (%.3g)", what, i, j, pg, pc, rel);
            CHECK_MSG(close_within(g->perr[i * n + j], e, 1e-6 * fabs(e)), "%s fit %zu perr[%d]: GPU %.17g, CPU %.17g",
                      what, i, j, g->perr[i * n + j], e);
        }
        if (check_failures > before && ++shown >= 3) return;
    }
    printf("    %-22s %zu fits on %s: worst |GPU - CPU| / max(|p|, perr) = %.2g\n", what, c->nfits, g->device, worst);
}

static void test_batch_on_gpu(void)
{
    if (!have_gpu()) return;
    nlsq_model *model = parse(GAUSS);
    gauss_batch g;
    gauss_make(&g, 300, 1, 31);
    nlsq_batch b = nlsq_batch_default();
    b.nfits = g.nfits;
    b.offsets = g.offsets;
    b.x = g.x;
    b.y = g.y;
    b.sigma = g.sigma;
    b.p0 = g.p0;
    nlsq_options o = nlsq_options_default();
    o.method = NLSQ_LM;
    nlsq_batch_result *rc = NULL, *rg = NULL, *rg2 = NULL;
    nlsq_error err;
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &rc, &err) == NLSQ_OK, "%s", err.message);
    o.device = "cuda:0";
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &rg, &err) == NLSQ_OK, "%s", err.message);
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &rg2, &err) == NLSQ_OK, "%s", err.message);
    if (rc && rg && rg2) {
        CHECK_MSG(!strcmp(rg->device, "cuda:0") && !strcmp(rg->backend, "cuda"), "device %s backend %s (%s)",
                  rg->device, rg->backend, rg->device_note);
        check_gpu_against_cpu(rg, rc, "1-D, varying m");
        CHECK_MSG(same_results(rg, rg2), "two GPU runs differ");
        printf("    GPU note: %s\n", rg->device_note);
    }
    nlsq_batch_result_free(rg);
    nlsq_batch_result_free(rg2);
    rg = NULL;
    /* a warp a fit (the mapping for long fits), forced: the lanes' tree
       of triangles gives the same answers to the same bound, and the same
       bits on every run */
    setenv("NLSQ_BATCH_MAPPING", "warp", 1);
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &rg, &err) == NLSQ_OK, "%s", err.message);
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PCOV, &rg2, &err) == NLSQ_OK, "%s", err.message);
    if (rc && rg && rg2) {
        CHECK_MSG(strstr(rg->device_note, "one warp a fit") != NULL, "%s", rg->device_note);
        check_gpu_against_cpu(rg, rc, "1-D, a warp a fit");
        CHECK_MSG(same_results(rg, rg2), "two GPU runs (warps) differ");
    }
    nlsq_batch_result_free(rg);
    nlsq_batch_result_free(rg2);
    rg = NULL;
    /* by fit size: fits of 100 points take a warp each */
    {
        nlsq_model *dm = parse("a*exp(-b*x) + c");
        enum { LF = 12, LM = 100 };
        double lx[LM], ly[LF * LM], lp[3] = {2, 1, 0};
        for (int p = 0; p < LM; p++) lx[p] = 0.05 * p;
        for (int f = 0; f < LF; f++)
            for (int p = 0; p < LM; p++)
                ly[f * LM + p] = (2 + 0.1 * f) * exp(-1.3 * lx[p]) + 0.5 + 0.001 * sin(7.0 * p);
        nlsq_batch lb = nlsq_batch_default();
        lb.nfits = LF;
        lb.m = LM;
        lb.x = lx;
        lb.x_shared = 1;
        lb.y = ly;
        nlsq_options lo = nlsq_options_default();
        lo.method = NLSQ_LM;
        lo.p0 = lp;
        nlsq_batch_result *lc = NULL, *lg = NULL;
        CHECK(nlsq_fit_batch(dm, &lb, &lo, NLSQ_BATCH_PERR, &lc, &err) == NLSQ_OK);
        lo.device = "cuda:0";
        CHECK_MSG(nlsq_fit_batch(dm, &lb, &lo, NLSQ_BATCH_PERR, &lg, &err) == NLSQ_OK, "%s", err.message);
        if (lc && lg) {
            CHECK_MSG(strstr(lg->device_note, "one warp a fit") != NULL, "%s", lg->device_note);
            check_gpu_against_cpu(lg, lc, "100 points, by size");
        }
        nlsq_batch_result_free(lc);
        nlsq_batch_result_free(lg);
        nlsq_model_free(dm);
    }
    setenv("NLSQ_BATCH_MAPPING", "block", 1);
    CHECK(nlsq_fit_batch(model, &b, &o, 0, &rg, &err) == NLSQ_ERR_INVALID_ARGUMENT &&
          strstr(err.message, "thread or warp"));
    unsetenv("NLSQ_BATCH_MAPPING");
    /* float32 data and Jacobian: within the single fits' float32 bounds,
       parameters to 1e-5 of max(|p|, perr), standard errors to 1e-4 */
    o.gpu_float32 = 1;
    CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &rg, &err) == NLSQ_OK, "%s", err.message);
    if (rc && rg) {
        CHECK_MSG(strstr(rg->device_note, "float32") != NULL, "%s", rg->device_note);
        double worst = 0, worst_e = 0;
        for (size_t i = 0; i < b.nfits; i++) {
            CHECK_MSG(rg->status[i] > 0, "float32 fit %zu: status %d", i, rg->status[i]);
            for (int j = 0; j < 4; j++) {
                double pc = rc->popt[4 * i + j], e = rc->perr[4 * i + j];
                worst = fmax(worst, fabs(rg->popt[4 * i + j] - pc) / fmax(fabs(pc), e));
                worst_e = fmax(worst_e, fabs(rg->perr[4 * i + j] - e) / e);
            }
        }
        CHECK_MSG(worst <= 1e-5 && worst_e <= 1e-4, "float32: parameters %.3g, errors %.3g", worst, worst_e);
        printf("    float32 on the GPU: parameters within %.2g of max(|p|, perr), errors within %.2g\n", worst,
               worst_e);
    }
    o.gpu_float32 = 0;
    nlsq_batch_result_free(rc);
    nlsq_batch_result_free(rg);

    /* trf asked for on the GPU: the CPU runs it, and says why */
    o.method = NLSQ_TRF;
    CHECK(nlsq_fit_batch(model, &b, &o, 0, &rg, &err) == NLSQ_OK);
    if (rg) CHECK_MSG(!strcmp(rg->device, "cpu") && strstr(rg->device_note, "method lm only"), "%s", rg->device_note);
    nlsq_batch_result_free(rg);
    o.device = "cuda:all";
    o.method = NLSQ_LM;
    rg = (nlsq_batch_result *)1;
    CHECK(nlsq_fit_batch(model, &b, &o, 0, &rg, &err) == NLSQ_ERR_INVALID_ARGUMENT && !rg &&
          strstr(err.message, "one GPU"));
    o.device = "cuda:9";
    CHECK(nlsq_fit_batch(model, &b, &o, 0, &rg, &err) == NLSQ_ERR_INVALID_ARGUMENT && strstr(err.message, "cuda:9"));
    gauss_free(&g);
    nlsq_model_free(model);

    /* every way a fit can fail, on the GPU with lm: the CPU's statuses
       (bounds refused fit by fit, the rank-1 fit without covariance, the
       fit that cannot converge stopped at max_nfev) */
    nlsq_model *decay = parse("a*exp(-b*x) + c");
    static mixed_batch mx;
    mixed_make(&mx);
    nlsq_options lm = mixed_options(NLSQ_LM);
    CHECK(nlsq_fit_batch(decay, &mx.b, &lm, NLSQ_BATCH_PERR, &rc, &err) == NLSQ_OK);
    lm.device = "cuda";
    CHECK_MSG(nlsq_fit_batch(decay, &mx.b, &lm, NLSQ_BATCH_PERR, &rg, &err) == NLSQ_OK, "%s", err.message);
    if (rc && rg) {
        /* lm ends the wild fit by its gradient test (as on the CPU) */
        int want[MX_NF] = {
            1, NLSQ_FIT_BAD_DATA, NLSQ_FIT_BAD_DATA, NLSQ_FIT_BAD_INPUT, 1, 1, NLSQ_FIT_NONFINITE, NLSQ_FIT_BAD_DATA, 1,
            1};
        for (int i = 0; i < MX_NF; i++)
            CHECK_MSG(want[i] == 1 ? rg->status[i] > 0 : rg->status[i] == want[i], "GPU fit %d (%s): status %d", i,
                      MX_KIND[i], rg->status[i]);
        CHECK_MSG(!rg->pcov_valid[4] && isinf(rg->perr[3 * 4]), "GPU, singular: pcov %d", rg->pcov_valid[4]);
        check_gpu_against_cpu(rg, rc, "mixed");
        CHECK(isnan(rg->perr[3 * 1]) && isnan(rg->cost[6]));
    }
    nlsq_batch_result_free(rc);
    nlsq_batch_result_free(rg);
    nlsq_model_free(decay);
    rng r = {3};

    /* Gpufit's case: a 2-D Gaussian on a shared 5x5 grid */
    nlsq_model *g2 = parse_vars("A*exp(-((x-x0)^2 + (y-y0)^2)/(2*s^2)) + B", "x,y", "A,x0,y0,s,B");
    enum { F2 = 200 };
    double grid[50], *y2 = malloc(F2 * 25 * sizeof *y2), p2[F2 * 5];
    for (int p = 0; p < 25; p++) {
        grid[p] = p % 5;
        grid[25 + p] = p / 5;
    }
    for (int i = 0; i < F2; i++) {
        double A = rng_range(&r, 500, 1500), x0 = rng_range(&r, 1.6, 2.4), y0 = rng_range(&r, 1.6, 2.4),
               s = rng_range(&r, 0.8, 1.3), B = rng_range(&r, 5, 15);
        for (int p = 0; p < 25; p++) {
            double dx = grid[p] - x0, dy = grid[25 + p] - y0;
            y2[i * 25 + p] = A * exp(-(dx * dx + dy * dy) / (2 * s * s)) + B + rng_range(&r, -5, 5);
        }
        double q[5] = {A * 0.95, x0 + 0.1, y0 - 0.1, s * 1.05, B + 2};
        memcpy(p2 + 5 * i, q, sizeof q);
    }
    nlsq_batch b2 = nlsq_batch_default();
    b2.nfits = F2;
    b2.m = 25;
    b2.x = grid;
    b2.x_shared = 1;
    b2.y = y2;
    b2.p0 = p2;
    lm.device = NULL;
    CHECK(nlsq_fit_batch(g2, &b2, &lm, NLSQ_BATCH_PERR, &rc, &err) == NLSQ_OK);
    lm.device = "cuda:0";
    CHECK_MSG(nlsq_fit_batch(g2, &b2, &lm, NLSQ_BATCH_PERR, &rg, &err) == NLSQ_OK, "%s", err.message);
    if (rc && rg) {
        CHECK_MSG(rg->converged == F2, "%zu of %d converged on the GPU", rg->converged, F2);
        check_gpu_against_cpu(rg, rc, "2-D 5x5, shared x");
    }
    nlsq_batch_result_free(rg);
    rg = NULL;
    setenv("NLSQ_BATCH_MAPPING", "warp", 1); /* 25 points on 32 lanes: some lanes idle */
    CHECK_MSG(nlsq_fit_batch(g2, &b2, &lm, NLSQ_BATCH_PERR, &rg, &err) == NLSQ_OK, "%s", err.message);
    unsetenv("NLSQ_BATCH_MAPPING");
    if (rc && rg) check_gpu_against_cpu(rg, rc, "2-D 5x5, a warp a fit");
    nlsq_batch_result_free(rc);
    nlsq_batch_result_free(rg);
    free(y2);
    nlsq_model_free(g2);
}

/* ---- SciPy ------------------------------------------------------------------ */

/* tests/scipy/batch_fixtures.txt: fits solved one by one by curve_fit. */
static void test_batch_against_scipy(void)
{
    const char *path = NLSQ_SOURCE_DIR "/tests/scipy/batch_fixtures.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        CHECK_MSG(0, "cannot open %s", path);
        return;
    }
    char model_text[200], method[16];
    size_t nfits, m;
    int n, runs = 0;
    double worst = 0;
    int c = fgetc(f); /* the header comment */
    if (c == '#')
        while ((c = fgetc(f)) != '\n' && c != EOF) {}
    else
        ungetc(c, f);
    while (fscanf(f, " case %15s %zu %zu %d ", method, &nfits, &m, &n) == 4) {
        if (!fgets(model_text, sizeof model_text, f)) break;
        model_text[strcspn(model_text, "\n")] = 0;
        double *x = malloc(m * sizeof *x), *y = malloc(nfits * m * sizeof *y), *p0 = malloc(nfits * n * sizeof *p0),
               *popt = malloc(nfits * n * sizeof *popt), *perr = malloc(nfits * n * sizeof *perr), lo[8], hi[8];
        int ok = 1;
        for (size_t i = 0; i < m; i++) ok &= fscanf(f, "%lf", &x[i]) == 1;
        for (int j = 0; j < n; j++) ok &= fscanf(f, "%lf %lf", &lo[j], &hi[j]) == 2;
        for (size_t i = 0; i < nfits; i++) {
            for (size_t p = 0; p < m; p++) ok &= fscanf(f, "%lf", &y[i * m + p]) == 1;
            for (int j = 0; j < n; j++) ok &= fscanf(f, "%lf", &p0[i * n + j]) == 1;
            for (int j = 0; j < n; j++) ok &= fscanf(f, "%lf", &popt[i * n + j]) == 1;
            for (int j = 0; j < n; j++) ok &= fscanf(f, "%lf", &perr[i * n + j]) == 1;
        }
        CHECK_MSG(ok, "malformed fixture file at case %d", runs);
        nlsq_model *model = ok ? parse(model_text) : NULL;
        if (model) {
            nlsq_batch b = nlsq_batch_default();
            b.nfits = nfits;
            b.m = m;
            b.x = x;
            b.x_shared = 1;
            b.y = y;
            b.p0 = p0;
            nlsq_options o = nlsq_options_default();
            o.method = !strcmp(method, "lm") ? NLSQ_LM : NLSQ_TRF;
            o.ftol = o.xtol = o.gtol = 1e-15; /* as the fixtures */
            int bounded = !strcmp(method, "trf-bounds");
            o.lower = bounded ? lo : NULL;
            o.upper = bounded ? hi : NULL;
            nlsq_batch_result *r = NULL;
            nlsq_error err;
            CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &r, &err) == NLSQ_OK, "%s", err.message);
            for (size_t i = 0; r && i < nfits; i++) {
                CHECK_MSG(r->status[i] > 0, "%s fit %zu: status %d", method, i, r->status[i]);
                for (int j = 0; j < n; j++) {
                    double want = popt[i * n + j], got = r->popt[i * n + j];
                    double rel = fabs(got - want) / fmax(fabs(want), perr[i * n + j]);
                    if (rel > worst) worst = rel;
                    CHECK_MSG(rel <= 1e-8, "%s fit %zu popt[%d]: %.17g, SciPy %.17g (%.3g relative)", method, i, j, got,
                              want, rel);
                    double erel = fabs(r->perr[i * n + j] - perr[i * n + j]) / perr[i * n + j];
                    CHECK_MSG(erel <= 1e-8, "%s fit %zu perr[%d]: %.17g, SciPy %.17g", method, i, j, r->perr[i * n + j],
                              perr[i * n + j]);
                }
            }
            nlsq_batch_result_free(r);
            nlsq_model_free(model);
            runs++;
        }
        free(x);
        free(y);
        free(p0);
        free(popt);
        free(perr);
    }
    fclose(f);
    CHECK_MSG(runs >= 3, "only %d fixture cases read", runs);
    printf("    %d cases; worst |popt - SciPy| / max(|popt|, perr) = %.3g (bound 1e-8)\n", runs, worst);
}

/* ---- refusals ---------------------------------------------------------------- */

static void expect_refused(const nlsq_model *model, const nlsq_batch *b, const nlsq_options *o, unsigned flags,
                           nlsq_status want, const char *words)
{
    nlsq_batch_result *r = (nlsq_batch_result *)1;
    nlsq_error err;
    nlsq_status st = nlsq_fit_batch(model, b, o, flags, &r, &err);
    CHECK_MSG(st == want && r == NULL && strstr(err.message, words) != NULL, "want status %d and '%s'; got %d: %s",
              want, words, st, err.message);
}

static int stop_now(void *u, int it, double c, const double *p, double g, double s)
{
    (void)u, (void)it, (void)c, (void)p, (void)g, (void)s;
    return 1;
}

static void test_batch_refusals(void)
{
    nlsq_model *model = parse("a*exp(-b*x) + c");
    double x[4] = {0, 1, 2, 3}, y[8] = {3, 2, 1.5, 1.2, 3, 2, 1.5, 1.2};
    size_t bad_off[3] = {0, 5, 4}, first_off[3] = {1, 2, 4};
    nlsq_batch b = nlsq_batch_default();
    b.nfits = 2;
    b.m = 4;
    b.x = x;
    b.x_shared = 1;
    b.y = y;
    nlsq_options o = nlsq_options_default();
    nlsq_batch_result *r = NULL;
    nlsq_error err;
    CHECK(nlsq_fit_batch(NULL, &b, &o, 0, &r, &err) == NLSQ_ERR_INVALID_ARGUMENT && strstr(err.message, "model"));
    CHECK(nlsq_fit_batch(model, NULL, &o, 0, &r, &err) == NLSQ_ERR_INVALID_ARGUMENT && strstr(err.message, "batch"));
    CHECK(nlsq_fit_batch(model, &b, &o, 0, NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT && strstr(err.message, "out"));
    expect_refused(model, &b, &o, 8, NLSQ_ERR_INVALID_ARGUMENT, "output flags");
    nlsq_batch nb = b;
    nb.y = NULL;
    expect_refused(model, &nb, &o, 0, NLSQ_ERR_INVALID_ARGUMENT, "y is NULL");
    nb = b;
    nb.x = NULL;
    expect_refused(model, &nb, &o, 0, NLSQ_ERR_INVALID_ARGUMENT, "x is NULL");
    nb = b;
    nb.offsets = bad_off;
    expect_refused(model, &nb, &o, 0, NLSQ_ERR_INVALID_ARGUMENT, "offsets[2] = 4 is below offsets[1] = 5");
    nb.offsets = first_off;
    expect_refused(model, &nb, &o, 0, NLSQ_ERR_INVALID_ARGUMENT, "offsets[0] is 1");
    nlsq_options oc = o;
    oc.callback = stop_now;
    expect_refused(model, &b, &oc, 0, NLSQ_ERR_INVALID_ARGUMENT, "callback option is for single fits");
    oc = o;
    oc.checkpoint = "/tmp/x";
    expect_refused(model, &b, &oc, 0, NLSQ_ERR_INVALID_ARGUMENT, "checkpoint");
    oc = o;
    oc.method = NLSQ_LM;
    oc.loss = NLSQ_LOSS_HUBER;
    expect_refused(model, &b, &oc, 0, NLSQ_ERR_INVALID_ARGUMENT, "lm takes only the linear loss");
    oc = o;
    oc.f_scale = -1;
    expect_refused(model, &b, &oc, 0, NLSQ_ERR_INVALID_ARGUMENT, "f_scale");
    /* no fits: an empty result, not an error */
    nb = b;
    nb.nfits = 0;
    CHECK(nlsq_fit_batch(model, &nb, &o, NLSQ_BATCH_PCOV, &r, &err) == NLSQ_OK && r && r->nfits == 0 &&
          r->converged == 0);
    nlsq_batch_result_free(r);
    nlsq_batch_result_free(NULL);
    CHECK(strstr(nlsq_fit_status_str(NLSQ_FIT_BAD_DATA), "NaN") != NULL);
    nlsq_model_free(model);
}

/* ---- defect 10: a batch a front end can interrupt ---------------------------------------------- */

typedef struct watch_log {
    pthread_t caller;
    int calls, stop_at, off_thread, bad_fraction;
    size_t points;
    double last_fraction, t_stop;
} watch_log;

static int watch_batch(void *user, const nlsq_progress *p)
{
    watch_log *w = user;
    w->calls++;
    w->off_thread += !pthread_equal(pthread_self(), w->caller);
    w->bad_fraction += !(p->pass_fraction >= w->last_fraction && p->pass_fraction <= 1);
    w->last_fraction = p->pass_fraction;
    w->points = p->points;
    if (w->stop_at && w->calls >= w->stop_at) {
        if (w->calls == w->stop_at) w->t_stop = host_seconds();
        return 1;
    }
    return 0;
}

/* Python's Ctrl-C reaches a batch only through a function called on the
   caller's thread (its signal handlers run there alone): the progress
   function is, every progress_interval, and a nonzero return stops the
   batch promptly. Fits not started get status -2 with nfev 0 and NaN
   popt; the others are whole fits (or, stopped mid-way, status -2). */
static void defect10_batch_progress_on_the_caller_cancels_promptly(void)
{
    nlsq_model *model = parse(GAUSS);
    if (!model) return;
    gauss_batch g;
    gauss_make(&g, 40000, 1, 5);
    nlsq_batch b = nlsq_batch_default();
    b.nfits = g.nfits;
    b.offsets = g.offsets;
    b.x = g.x;
    b.y = g.y;
    b.sigma = g.sigma;
    b.p0 = g.p0;
    for (int threads = 1; threads <= 2; threads++) {
        watch_log w = {pthread_self(), 0, 3, 0, 0, 0, 0, 0};
        nlsq_options o = nlsq_options_default();
        o.threads = threads;
        o.progress = watch_batch;
        o.progress_data = &w;
        o.progress_interval = 0.02;
        nlsq_batch_result *r = NULL;
        nlsq_error err;
        CHECK_MSG(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &r, &err) == NLSQ_OK, "%s", err.message);
        double late = host_seconds() - w.t_stop;
        if (!r) continue;
        size_t not_started = 0, finished = 0;
        for (size_t i = 0; i < r->nfits; i++) {
            if (r->status[i] == NLSQ_FIT_STOPPED && r->nfev[i] == 0) {
                not_started++;
                CHECK_MSG(isnan(r->popt[i * 4]) && isnan(r->perr[i * 4]), "fit %zu not started: popt %g", i,
                          r->popt[i * 4]);
            }
            finished += r->status[i] > 0;
        }
        CHECK_MSG(w.calls == 3 && w.off_thread == 0 && w.bad_fraction == 0 && w.points == g.total,
                  "%d threads: %d calls, %d off the caller's thread, %d bad fractions, %zu points", threads, w.calls,
                  w.off_thread, w.bad_fraction, w.points);
        CHECK_MSG(late < 0.5, "%d threads: the batch returned %.3f s after the progress function stopped it", threads,
                  late);
        CHECK_MSG(not_started > g.nfits / 2 && finished > 0 && r->failed >= not_started,
                  "%d threads: %zu of %zu fits not started, %zu finished, %zu failed", threads, not_started, g.nfits,
                  finished, r->failed);
        CHECK_MSG(r->threads == threads, "%d threads asked, %d fitted", threads, r->threads);
        nlsq_batch_result_free(r);
    }
    gauss_free(&g);
    nlsq_model_free(model);
}

/* Watching changes nothing in the results: the same bits as without. */
static void defect10_batch_progress_leaves_results_unchanged(void)
{
    nlsq_model *model = parse(GAUSS);
    if (!model) return;
    gauss_batch g;
    gauss_make(&g, 3000, 1, 6);
    nlsq_batch b = nlsq_batch_default();
    b.nfits = g.nfits;
    b.offsets = g.offsets;
    b.x = g.x;
    b.y = g.y;
    b.p0 = g.p0;
    for (int threads = 1; threads <= 3; threads += 2) {
        nlsq_options o = nlsq_options_default();
        o.threads = threads;
        nlsq_batch_result *plain = NULL, *watched = NULL;
        CHECK(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &plain, NULL) == NLSQ_OK);
        watch_log w = {pthread_self(), 0, 0, 0, 0, 0, 0, 0};
        o.progress = watch_batch;
        o.progress_data = &w;
        o.progress_interval = 1e-3;
        CHECK(nlsq_fit_batch(model, &b, &o, NLSQ_BATCH_PERR, &watched, NULL) == NLSQ_OK);
        CHECK_MSG(plain && watched && same_results(plain, watched), "%d threads: watched results differ", threads);
        CHECK_MSG(w.calls > 0 && w.off_thread == 0, "%d threads: %d calls, %d off the caller's thread", threads,
                  w.calls, w.off_thread);
        nlsq_batch_result_free(plain);
        nlsq_batch_result_free(watched);
    }
    gauss_free(&g);
    nlsq_model_free(model);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_batch_matches_single_fits),
        TEST(test_batch_two_variables),
        TEST(test_batch_mixed_statuses),
        TEST(test_batch_interp_and_jit),
        TEST(test_batch_edge_shapes),
        TEST(test_batch_against_scipy),
        TEST(test_batch_on_gpu),
        TEST(test_batch_refusals),
        TEST(defect10_batch_progress_on_the_caller_cancels_promptly),
        TEST(defect10_batch_progress_leaves_results_unchanged),
    };
    return run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
}
