/*
 * The bootstrap (nlsq.h, "Uncertainty: bootstrap"): residual, pairs and
 * wild resampling, every replica fitted by the batch engine from popt, then
 * standard errors, bias, percentile and BCa intervals over the replicas
 * that converged. The data are first compacted to the points the fit used;
 * the replicas' arrays are built in chunks of bounded memory, each chunk
 * one nlsq_fit_batch call (one call in the common case). The draws of
 * replica i depend on (seed, i) alone and every batch fit is bitwise its
 * single fit, so nothing depends on the thread count or on the chunking.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "fit/design.h"
#include "linalg/linalg.h"
#include "nlsq.h"

/* Most bytes of replica data one batch call holds: beyond it the replicas
   run in several calls (same results, bounded memory). */
#define CHUNK_BYTES ((size_t)512 << 20)

nlsq_bootstrap_options nlsq_bootstrap_options_default(void)
{
    nlsq_bootstrap_options o;
    memset(&o, 0, sizeof o);
    o.kind = NLSQ_BOOTSTRAP_RESIDUAL;
    o.replicas = 1000;
    o.seed = 0;
    o.level = 0.95;
    o.bca = 1;
    o.jackknife_max = 2000;
    return o;
}

const char *nlsq_bootstrap_kind_name(nlsq_bootstrap_kind kind)
{
    switch (kind) {
    case NLSQ_BOOTSTRAP_RESIDUAL: return "residual";
    case NLSQ_BOOTSTRAP_PAIRS: return "pairs";
    case NLSQ_BOOTSTRAP_WILD: return "wild";
    }
    return NULL;
}

void nlsq_bootstrap_result_free(nlsq_bootstrap_result *r)
{
    if (!r) return;
    free(r->samples);
    free(r->status);
    free(r->perr);
    free(r->bias);
    free(r->lower);
    free(r->upper);
    free(r->bca_lower);
    free(r->bca_upper);
    free(r->z0);
    free(r->accel);
    free(r);
}

/* The data the fit used, compacted: k rows of m x values, y, the points'
   sigma s (all 1 without sigma; has_sigma says whether the fits get it),
   the model at popt f. */
typedef struct boot_data {
    int k, n;
    size_t m;
    double *x, *y, *s, *f;
    int has_sigma;
    const double *popt;
    nlsq_bootstrap_kind kind;
    uint64_t seed;
    double *e; /* residual kind: the centred weighted residuals */
} boot_data;

static void boot_data_free(boot_data *d)
{
    free(d->x);
    free(d->y);
    free(d->s);
    free(d->f);
    free(d->e);
}

/* ---- the replicas' random streams ---------------------------------------- */

/* Replica i's stream: a state that depends on (seed, i) alone. */
static uint64_t replica_stream(uint64_t seed, size_t i)
{
    uint64_t s = seed, h = design_mix(&s) ^ (uint64_t)i;
    return design_mix(&h);
}

/* A uniform index in [0, m) from 64 random bits (multiply-shift: bias below
   m / 2^64, nothing for any m a fit has). */
static size_t draw_index(uint64_t *state, size_t m)
{
    return (size_t)(((unsigned __int128)design_mix(state) * m) >> 64);
}

/* ---- filling one fit's data ------------------------------------------------ */

/* A fit's arrays: y and sigma (s, NULL when the fits get none) of len
   points; x rows at x + v*xstride, or x NULL when all fits share x. */
typedef struct fit_arrays {
    double *y, *s, *x;
    size_t xstride;
} fit_arrays;

static void fill_replica(const boot_data *d, size_t i, const fit_arrays *a)
{
    uint64_t st = replica_stream(d->seed, i);
    size_t m = d->m;
    switch (d->kind) {
    case NLSQ_BOOTSTRAP_RESIDUAL:
        for (size_t p = 0; p < m; p++) a->y[p] = d->f[p] + d->s[p] * d->e[draw_index(&st, m)];
        break;
    case NLSQ_BOOTSTRAP_WILD:
        for (size_t p = 0; p < m; p++) {
            double r = d->y[p] - d->f[p];
            a->y[p] = d->f[p] + ((design_mix(&st) >> 63) ? r : -r);
        }
        break;
    case NLSQ_BOOTSTRAP_PAIRS:
        for (size_t p = 0; p < m; p++) {
            size_t q = draw_index(&st, m);
            a->y[p] = d->y[q];
            for (int v = 0; v < d->k; v++) a->x[v * a->xstride + p] = d->x[(size_t)v * m + q];
            if (a->s) a->s[p] = d->s[q];
        }
        return;
    }
    if (a->s) memcpy(a->s, d->s, m * sizeof *a->s);
}

/* Leave-one-out fit i: every point but i. */
static void fill_jackknife(const boot_data *d, size_t i, const fit_arrays *a)
{
    size_t m = d->m, before = i, after = m - i - 1;
    memcpy(a->y, d->y, before * sizeof *a->y);
    memcpy(a->y + before, d->y + i + 1, after * sizeof *a->y);
    for (int v = 0; v < d->k; v++) {
        const double *xv = d->x + (size_t)v * m;
        memcpy(a->x + v * a->xstride, xv, before * sizeof *xv);
        memcpy(a->x + v * a->xstride + before, xv + i + 1, after * sizeof *xv);
    }
    if (a->s) {
        memcpy(a->s, d->s, before * sizeof *a->s);
        memcpy(a->s + before, d->s + i + 1, after * sizeof *a->s);
    }
}

typedef void (*fill_fn)(const boot_data *d, size_t i, const fit_arrays *a);

/* Where a run of fits went. */
typedef struct run_info {
    int threads;
    char device[16];
} run_info;

/*
 * nfits fits of len points each, fit i's data made by fill(d, i, ...), x
 * per fit when per_fit_x (else d->x shared), run through nlsq_fit_batch in
 * chunks of at most CHUNK_BYTES; popt (nfits x n) and status out.
 */
static nlsq_status run_fits(const nlsq_model *model, const boot_data *d, const nlsq_options *opt, size_t nfits,
                            size_t len, int per_fit_x, fill_fn fill, double *popt, nlsq_fit_status *status,
                            run_info *info, nlsq_error *err)
{
    size_t per_point = 1 + (size_t)d->has_sigma + (per_fit_x ? (size_t)d->k : 0);
    size_t per_fit = (len ? len : 1) * per_point * sizeof(double);
    size_t chunk = CHUNK_BYTES / per_fit;
    if (chunk < 1) chunk = 1;
    if (chunk > nfits) chunk = nfits;
    size_t total = chunk * len;
    double *y = malloc((total ? total : 1) * sizeof *y);
    double *s = d->has_sigma ? malloc((total ? total : 1) * sizeof *s) : NULL;
    double *x = per_fit_x && d->k ? malloc((total ? total : 1) * (size_t)d->k * sizeof *x) : NULL;
    nlsq_status st = NLSQ_OK;
    if (!y || (d->has_sigma && !s) || (per_fit_x && d->k && !x)) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_bootstrap: out of memory for %zu fits of %zu points", chunk, len);
        st = NLSQ_ERR_NOMEM;
    }
    int n = d->n;
    for (size_t first = 0; first < nfits && st == NLSQ_OK; first += chunk) {
        size_t count = nfits - first < chunk ? nfits - first : chunk, ctotal = count * len;
        for (size_t j = 0; j < count; j++) {
            fit_arrays a = {y + j * len, s ? s + j * len : NULL, x ? x + j * len : NULL, ctotal};
            fill(d, first + j, &a);
        }
        nlsq_batch b = nlsq_batch_default();
        b.nfits = count;
        b.m = len;
        b.y = y;
        b.sigma = s;
        b.x = per_fit_x ? x : d->x;
        b.x_shared = per_fit_x ? 0 : 1;
        nlsq_batch_result *br = NULL;
        st = nlsq_fit_batch(model, &b, opt, 0, &br, err);
        if (st != NLSQ_OK) break;
        memcpy(popt + first * (size_t)n, br->popt, count * (size_t)n * sizeof *popt);
        memcpy(status + first, br->status, count * sizeof *status);
        info->threads = br->threads;
        memcpy(info->device, br->device, sizeof info->device);
        nlsq_batch_result_free(br);
    }
    free(y);
    free(s);
    free(x);
    return st;
}

/* ---- input ------------------------------------------------------------------ */

static nlsq_status fail(nlsq_error *err, nlsq_status code, const char *msg)
{
    error_set(err, code, 0, 0, "nlsq_bootstrap: %s", msg);
    return code;
}

static nlsq_status check_input(const nlsq_model *model, const nlsq_data *data, const nlsq_result *fit,
                               const nlsq_bootstrap_options *b, nlsq_error *err)
{
    char msg[200];
    if (!model || !data || !fit)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, !model ? "model is NULL" : !data ? "data is NULL" : "fit is NULL");
    if (b->replicas < 2) {
        snprintf(msg, sizeof msg, "replicas is %zu; at least 2 are needed", b->replicas);
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
    }
    if (!nlsq_bootstrap_kind_name(b->kind)) {
        snprintf(msg, sizeof msg, "kind %d is not one of residual (0), pairs (1), wild (2)", (int)b->kind);
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
    }
    if (!(b->level > 0 && b->level < 1)) {
        snprintf(msg, sizeof msg, "level %g is outside (0, 1)", b->level);
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
    }
    if (fit->n != nlsq_model_num_params(model) || !fit->popt) {
        snprintf(msg, sizeof msg, "the fit has %d parameters and the model %d: not a fit of this model", fit->n,
                 nlsq_model_num_params(model));
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
    }
    for (int j = 0; j < fit->n; j++)
        if (!isfinite(fit->popt[j])) {
            snprintf(msg, sizeof msg, "the fit's popt[%d] (%s) is not finite", j, nlsq_model_param_name(model, j));
            return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
        }
    if (data->sigma_kind == NLSQ_SIGMA_COVARIANCE)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                    "a covariance sigma is not resampled (its points are not independent); whiten the data first");
    if (data->sigma_kind != NLSQ_SIGMA_NONE && !data->sigma)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "sigma_kind says sigma but sigma is NULL");
    if (data->m && (!data->y || (nlsq_model_num_vars(model) && !data->x)))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, !data->y ? "y is NULL" : "x is NULL");
    return NLSQ_OK;
}

/* The data's usable points into d (nan_policy omit drops the points with a
   NaN or Inf in x, y or sigma; raise refuses them; ignore keeps all), and
   the model at popt. */
static nlsq_status compact_data(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                                const nlsq_result *fit, boot_data *d, nlsq_error *err)
{
    int k = nlsq_model_num_vars(model);
    size_t m = data->m, kept = 0;
    d->k = k;
    d->n = fit->n;
    d->popt = fit->popt;
    d->has_sigma = data->sigma_kind != NLSQ_SIGMA_NONE;
    d->x = malloc((m ? m : 1) * (size_t)(k ? k : 1) * sizeof *d->x);
    d->y = malloc((m ? m : 1) * sizeof *d->y);
    d->s = malloc((m ? m : 1) * sizeof *d->s);
    d->f = malloc((m ? m : 1) * sizeof *d->f);
    if (!d->x || !d->y || !d->s || !d->f) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the data");
    for (size_t i = 0; i < m; i++) {
        double s = data->sigma_kind == NLSQ_SIGMA_SCALAR    ? data->sigma[0]
                 : data->sigma_kind == NLSQ_SIGMA_PER_POINT ? data->sigma[i]
                                                            : 1.0;
        int finite = isfinite(data->y[i]) && isfinite(s);
        for (int v = 0; v < k; v++) finite = finite && isfinite(data->x[(size_t)v * m + i]);
        if (!finite && opt->nan_policy == NLSQ_NAN_OMIT) continue;
        if (!finite && opt->nan_policy == NLSQ_NAN_RAISE) {
            char msg[120];
            snprintf(msg, sizeof msg, "point %zu has a NaN or Inf in x, y or sigma (nan_policy raise)", i);
            return fail(err, NLSQ_ERR_DATA, msg);
        }
        d->y[kept] = data->y[i];
        d->s[kept] = s;
        for (int v = 0; v < k; v++) d->x[(size_t)v * m + kept] = data->x[(size_t)v * m + i];
        kept++;
    }
    /* the rows of x at stride kept, as the batch's shared x reads them */
    for (int v = 1; v < k; v++) memmove(d->x + (size_t)v * kept, d->x + (size_t)v * m, kept * sizeof *d->x);
    d->m = kept;
    int nfree = 0;
    for (int j = 0; j < d->n; j++) nfree += !(opt->fixed && opt->fixed[j]);
    if (kept <= (size_t)nfree) {
        char msg[160];
        snprintf(msg, sizeof msg, "%zu usable points for %d free parameters: at least %d are needed", kept, nfree,
                 nfree + 1);
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, msg);
    }
    return nlsq_model_eval(model, fit->popt, d->x, kept, d->f, NULL, err);
}

/* The residual kind's pool: weighted residuals, centred. */
static nlsq_status residual_pool(boot_data *d, nlsq_error *err)
{
    if (!(d->e = malloc(d->m * sizeof *d->e))) return fail(err, NLSQ_ERR_NOMEM, "out of memory for the residuals");
    double mean = 0;
    for (size_t i = 0; i < d->m; i++) {
        d->e[i] = (d->y[i] - d->f[i]) / d->s[i];
        mean += d->e[i];
    }
    mean /= (double)d->m;
    for (size_t i = 0; i < d->m; i++) d->e[i] -= mean;
    return NLSQ_OK;
}

/* ---- statistics -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[0..n), linear between order statistics
   (numpy.percentile's default, its lerp included). */
static double quantile_sorted(const double *v, size_t n, double q)
{
    if (!(q >= 0 && q <= 1) || n == 0) return NAN;
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return v[n - 1];
    double t = h - (double)lo, a = v[lo], b = v[lo + 1], diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* The acceleration from jackknife differences d[0..count) (stride): sum d^3
   / (6 (sum d^2)^1.5), the d centred first. */
static double acceleration(const double *d, size_t count, size_t stride)
{
    double mean = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < count; i++) mean += d[i * stride];
    mean /= (double)count;
    for (size_t i = 0; i < count; i++) {
        double u = mean - d[i * stride];
        s2 += u * u;
        s3 += u * u * u;
    }
    return s2 > 0 ? s3 / (6 * pow(s2, 1.5)) : 0;
}

/* perr, bias, the percentile interval and z0 of every parameter over the
   replicas that converged; sorted: room for N values. */
static void replica_statistics(nlsq_bootstrap_result *r, const double *popt, double *sorted)
{
    int n = r->n;
    double qlo = (1 - r->level) / 2, qhi = (1 + r->level) / 2;
    for (int j = 0; j < n; j++) {
        size_t c = 0, below = 0;
        double mean = 0, ss = 0;
        for (size_t i = 0; i < r->replicas; i++)
            if (r->status[i] > 0) {
                double v = r->samples[i * (size_t)n + j];
                sorted[c++] = v;
                mean += v;
                below += v < popt[j];
            }
        if (c == 0) {
            r->perr[j] = r->bias[j] = r->lower[j] = r->upper[j] = r->z0[j] = NAN;
            continue;
        }
        mean /= (double)c;
        for (size_t i = 0; i < c; i++) ss += (sorted[i] - mean) * (sorted[i] - mean);
        qsort(sorted, c, sizeof *sorted, cmp_double);
        if (sorted[0] == sorted[c - 1]) { /* never moved (fixed): no rounding noise */
            mean = sorted[0];
            ss = 0;
        }
        r->perr[j] = c > 1 ? sqrt(ss / (double)(c - 1)) : NAN;
        r->bias[j] = mean - popt[j];
        r->lower[j] = quantile_sorted(sorted, c, qlo);
        r->upper[j] = quantile_sorted(sorted, c, qhi);
        r->z0[j] = below == 0 ? -INFINITY : below == c ? INFINITY : nlsq_normal_quantile((double)below / (double)c);
    }
}

/* BCa intervals from z0 and accel; sorted: room for N values. */
static void bca_intervals(nlsq_bootstrap_result *r, const double *popt, double *sorted)
{
    int n = r->n;
    double zlo = nlsq_normal_quantile((1 - r->level) / 2), zhi = -zlo;
    for (int j = 0; j < n; j++) {
        size_t c = 0;
        for (size_t i = 0; i < r->replicas; i++)
            if (r->status[i] > 0) sorted[c++] = r->samples[i * (size_t)n + j];
        if (c > 0 && r->perr[j] == 0) {
            /* a parameter the replicas never moved (fixed): its point */
            r->bca_lower[j] = r->bca_upper[j] = popt[j];
            continue;
        }
        double z0 = r->z0[j], a = r->accel[j];
        if (c == 0 || !isfinite(z0) || !isfinite(a)) {
            r->bca_lower[j] = r->bca_upper[j] = NAN;
            continue;
        }
        qsort(sorted, c, sizeof *sorted, cmp_double);
        double n1 = z0 + zlo, n2 = z0 + zhi;
        if (1 - a * n1 <= 0 || 1 - a * n2 <= 0) { /* an acceleration beyond the formula's range */
            r->bca_lower[j] = r->bca_upper[j] = NAN;
            continue;
        }
        double a1 = nlsq_normal_cdf(z0 + n1 / (1 - a * n1)), a2 = nlsq_normal_cdf(z0 + n2 / (1 - a * n2));
        r->bca_lower[j] = quantile_sorted(sorted, c, a1);
        r->bca_upper[j] = quantile_sorted(sorted, c, a2);
    }
}

/* ---- the acceleration --------------------------------------------------------- */

/* Exact jackknife: m leave-one-out fits through the batch engine. */
static nlsq_status accel_exact(const nlsq_model *model, const boot_data *d, const nlsq_options *opt,
                               nlsq_bootstrap_result *r, nlsq_error *err)
{
    size_t m = d->m;
    int n = d->n;
    double *popt = malloc(m * (size_t)n * sizeof *popt);
    nlsq_fit_status *status = malloc(m * sizeof *status);
    double *ok = malloc(m * (size_t)n * sizeof *ok);
    nlsq_status st = NLSQ_OK;
    run_info info = {0, ""};
    if (!popt || !status || !ok)
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory for the jackknife");
    else
        st = run_fits(model, d, opt, m, m - 1, 1, fill_jackknife, popt, status, &info, err);
    if (st == NLSQ_OK) {
        size_t c = 0;
        for (size_t i = 0; i < m; i++)
            if (status[i] > 0) memcpy(ok + c++ * (size_t)n, popt + i * (size_t)n, (size_t)n * sizeof *ok);
        r->jackknife_failed = m - c;
        for (int j = 0; j < n; j++) r->accel[j] = c > 1 ? acceleration(ok + j, c, (size_t)n) : NAN;
    }
    free(popt);
    free(status);
    free(ok);
    return st;
}

/* The jackknife from influence values: U_i = (J^T J)^-1 J_i^T e_i / (1 -
   h_ii) at popt (J and e weighted by 1/sigma, the free columns only, h_ii
   the leverage), by the SVD of J: (J^T J)^-1 J^T = V S^-1 U^T, h_ii = |row
   i of U|^2, singular values below EPS max(m, n) s_max dropped. U_i is
   theta - theta_(i) after one Gauss-Newton step from popt without point i:
   exact for a linear model, the exact jackknife's to first order for a
   nonlinear one (the infinitesimal jackknife with the leverage's
   correction). acceleration() takes d_i = -U_i. */
static nlsq_status accel_influence(const nlsq_model *model, const boot_data *d, const nlsq_options *opt,
                                   nlsq_bootstrap_result *r, nlsq_error *err)
{
    size_t m = d->m;
    int n = d->n, nf = 0, cols[n > 0 ? n : 1];
    for (int j = 0; j < n; j++)
        if (!(opt->fixed && opt->fixed[j])) cols[nf++] = j;
    if (m > (size_t)INT32_MAX) {
        for (int j = 0; j < n; j++) r->accel[j] = NAN;
        return NLSQ_OK;
    }
    double *J = malloc(m * (size_t)n * sizeof *J), *A = malloc(m * (size_t)nf * sizeof *A);
    double *U = malloc(m * (size_t)n * sizeof *U), *sv = malloc((size_t)nf * sizeof *sv);
    double *V = malloc((size_t)nf * (size_t)nf * sizeof *V);
    nlsq_status st = NLSQ_OK;
    if (!J || !A || !U || !sv || !V) st = fail(err, NLSQ_ERR_NOMEM, "out of memory for the influence values");
    if (st == NLSQ_OK) st = nlsq_model_eval(model, d->popt, d->x, m, NULL, J, err);
    if (st == NLSQ_OK) {
        for (int a = 0; a < nf; a++)
            for (size_t i = 0; i < m; i++) A[(size_t)a * m + i] = J[i * (size_t)n + cols[a]] / d->s[i];
        if (svd_jacobi(A, m, (int)m, nf, sv, V) < 0) {
            for (int j = 0; j < n; j++) r->accel[j] = NAN;
        } else {
            double cut = 2.220446049250313e-16 * (double)(m > (size_t)nf ? m : (size_t)nf) * sv[0];
            for (size_t i = 0; i < m; i++) {
                double e = (d->y[i] - d->f[i]) / d->s[i], h = 0;
                for (int b = 0; b < nf; b++)
                    if (sv[b] > cut) h += (A[(size_t)b * m + i] / sv[b]) * (A[(size_t)b * m + i] / sv[b]);
                if (h < 1) e /= 1 - h; /* the leave-one-out step: exact for a linear model */
                for (int j = 0; j < n; j++) U[i * (size_t)n + j] = 0;
                for (int a = 0; a < nf; a++) {
                    double g = 0;
                    for (int b = 0; b < nf; b++)
                        if (sv[b] > cut) g += V[(size_t)b * nf + a] * A[(size_t)b * m + i] / (sv[b] * sv[b]);
                    U[i * (size_t)n + cols[a]] = -g * e;
                }
            }
            for (int j = 0; j < n; j++) r->accel[j] = acceleration(U + j, m, (size_t)n);
        }
    }
    free(J);
    free(A);
    free(U);
    free(sv);
    free(V);
    return st;
}

/* ---- the call ------------------------------------------------------------------ */

static nlsq_bootstrap_result *alloc_result(size_t N, int n)
{
    nlsq_bootstrap_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t nn = (size_t)(n > 0 ? n : 1);
    r->n = n;
    r->replicas = N;
    r->samples = malloc(N * nn * sizeof *r->samples);
    r->status = malloc(N * sizeof *r->status);
    double **vecs[] = {&r->perr, &r->bias, &r->lower, &r->upper, &r->bca_lower, &r->bca_upper, &r->z0, &r->accel};
    int ok = r->samples && r->status;
    for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++) ok = (*vecs[v] = malloc(nn * sizeof **vecs[v])) && ok;
    if (!ok) {
        nlsq_bootstrap_result_free(r);
        return NULL;
    }
    return r;
}

nlsq_status nlsq_bootstrap(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                           const nlsq_result *fit, const nlsq_bootstrap_options *bopt, nlsq_bootstrap_result **out,
                           nlsq_error *err)
{
    double t0 = host_seconds();
    if (!out) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    nlsq_bootstrap_options b = bopt ? *bopt : nlsq_bootstrap_options_default();
    nlsq_status st = check_input(model, data, fit, &b, err);
    if (st != NLSQ_OK) return st;
    /* every replica starts from popt; single-fit options do not apply */
    nlsq_options o = opt ? *opt : nlsq_options_default();
    o.p0 = fit->popt;
    o.callback = NULL;
    o.checkpoint = NULL;
    o.resume = 0;
    o.keep_residuals = 0;
    boot_data d;
    memset(&d, 0, sizeof d);
    d.kind = b.kind;
    d.seed = b.seed;
    nlsq_bootstrap_result *r = NULL;
    double *sorted = NULL;
    if ((st = compact_data(model, data, &o, fit, &d, err)) != NLSQ_OK) goto done;
    if (b.kind == NLSQ_BOOTSTRAP_RESIDUAL && (st = residual_pool(&d, err)) != NLSQ_OK) goto done;
    r = alloc_result(b.replicas, d.n);
    sorted = malloc(b.replicas * sizeof *sorted);
    if (!r || !sorted) {
        st = fail(err, NLSQ_ERR_NOMEM, "out of memory for the replicas' results");
        goto done;
    }
    r->level = b.level;
    r->kind = b.kind;
    r->seed = b.seed;
    r->m = d.m;
    run_info info = {0, ""};
    st = run_fits(model, &d, &o, b.replicas, d.m, b.kind == NLSQ_BOOTSTRAP_PAIRS, fill_replica, r->samples, r->status,
                  &info, err);
    if (st != NLSQ_OK) goto done;
    r->threads = info.threads;
    memcpy(r->device, info.device, sizeof r->device);
    for (size_t i = 0; i < b.replicas; i++) {
        if (r->status[i] > 0) {
            r->converged++;
            continue;
        }
        for (int j = 0; j < d.n; j++) r->samples[i * (size_t)d.n + j] = NAN;
    }
    r->failed = b.replicas - r->converged;
    replica_statistics(r, fit->popt, sorted);
    for (int j = 0; j < d.n; j++) r->bca_lower[j] = r->bca_upper[j] = r->accel[j] = NAN;
    if (b.bca) {
        r->jackknife = d.m <= b.jackknife_max ? NLSQ_JACKKNIFE_EXACT : NLSQ_JACKKNIFE_INFLUENCE;
        st = r->jackknife == NLSQ_JACKKNIFE_EXACT ? accel_exact(model, &d, &o, r, err)
                                                  : accel_influence(model, &d, &o, r, err);
        if (st != NLSQ_OK) goto done;
        bca_intervals(r, fit->popt, sorted);
    }
    r->seconds = host_seconds() - t0;
done:
    boot_data_free(&d);
    free(sorted);
    if (st != NLSQ_OK) {
        nlsq_bootstrap_result_free(r);
        return st;
    }
    *out = r;
    return NLSQ_OK;
}
