/*
 * The result of a fit: covariance by SciPy's rules from the final R_aug,
 * statistics, the active-bound mask and the message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
#include "kernel/covariance.h"
#include "linalg/linalg.h"

/* trf for everything: on NIST StRD from both starts it reaches LRE >= 6
   on every run, while lm (exact Jacobian, same tolerances) stops at the
   evaluation limit on MGH09 from start 1 (see nlsq.h). */
nlsq_method fit_default_method(void)
{
    return NLSQ_TRF;
}

/* 1e-15 rather than SciPy's 1e-8: with exact Jacobians the last digits
   are cheap (21% more evaluations over NIST StRD, 1554 against 1279: see nlsq.h) and the difference is
   LRE >= 6.5 everywhere instead of 2.9 at worst. lm keeps gtol = 0 as
   curve_fit's leastsq does. */
void fit_default_tolerances(nlsq_method method, solve_options *so)
{
    if (so->ftol < 0) so->ftol = NLSQ_DEFAULT_FTOL;
    if (so->xtol < 0) so->xtol = NLSQ_DEFAULT_XTOL;
    if (so->gtol < 0) so->gtol = method == NLSQ_LM ? 0 : NLSQ_DEFAULT_GTOL;
}

const char *nlsq_fit_status_str(nlsq_fit_status status)
{
    switch (status) {
    case NLSQ_FIT_NONFINITE: return "Not run: the model or its Jacobian is NaN or Inf at the start point.";
    case NLSQ_FIT_BAD_DATA:
        return "Not run: NaN/Inf or non-positive sigma in its data, or fewer points than free parameters.";
    case NLSQ_FIT_BAD_INPUT: return "Not run: bad start point, bounds or fixed mask.";
    case NLSQ_FIT_SVD_FAILED:
        return "Stopped: the SVD of the trust-region subproblem did not converge; the parameters are the last accepted "
               "point.";
    case NLSQ_FIT_STOPPED: return "Stopped by the callback.";
    case NLSQ_FIT_MAX_NFEV: return "The maximum number of function evaluations is exceeded.";
    case NLSQ_FIT_GTOL: return "`gtol` termination condition is satisfied.";
    case NLSQ_FIT_FTOL: return "`ftol` termination condition is satisfied.";
    case NLSQ_FIT_XTOL: return "`xtol` termination condition is satisfied.";
    case NLSQ_FIT_FTOL_XTOL: return "Both `ftol` and `xtol` termination conditions are satisfied.";
    case NLSQ_FIT_NO_REDUCTION:
        /* the fit is at its minimum: said first, so that a user who set
           no tolerance is not told that theirs are wrong */
        return "No further reduction in the sum of squares is possible at working precision (the minimum is "
               "reached; `ftol`, `xtol` and `gtol` are tighter than the arithmetic can meet).";
    }
    return "Unknown status.";
}

void global_summary_free(nlsq_global_summary *s)
{
    if (!s) return;
    free(s->minima_cost);
    free(s->minima_params);
    free(s->minima_count);
    free(s->search_lower); /* search_upper is its second half */
    free(s);
}

void nlsq_result_free(nlsq_result *r)
{
    if (!r) return;
    free(r->popt);
    free(r->pcov);
    free(r->perr);
    free(r->active_mask);
    free(r->jac_at);
    free(r->residuals);
    fit_diagnostics_free(&r->diag);
    global_summary_free(r->global);
    free(r);
}

/* A <- R11 (nf x nf, ld nf) */
static void copy_r11(const double *R, int nf, double *A)
{
    size_t nc = (size_t)nf + 1;
    for (int j = 0; j < nf; j++)
        for (int i = 0; i < nf; i++) A[(size_t)j * nf + i] = i <= j ? R[(size_t)j * nc + i] : 0;
}

/* Up to this many free parameters the covariance takes the one-sided
   Jacobi SVD first: accurate relative to each singular value (the small
   ones set the covariance) and quick at this size; above, or where its
   sweeps do not converge, the bidiagonal SVD, O(n^3) once. */
#define COVARIANCE_JACOBI_MAX 32

size_t fit_covariance_work_doubles(int nf)
{
    return 2 * (size_t)nf * (size_t)nf + (size_t)nf + svd_robust_work_doubles(nf, nf);
}

/* ||A||_F for the nf x nf upper triangle of A (column-major, ld lda). */
static double triangle_norm(const double *A, size_t lda, int nf)
{
    double s = 0;
    for (int j = 0; j < nf; j++)
        for (int i = 0; i <= j; i++) s += A[(size_t)j * lda + i] * A[(size_t)j * lda + i];
    return sqrt(s);
}

/* SciPy's pseudo-inverse V diag(1/s^2) V^T of R11 over s > EPS max(m, n)
   s_max; *rank: how many s it kept. 0 when the SVD failed. */
static int pseudo_inverse(const double *R, int nf, size_t m_used, double *cov, double *work, int *rank)
{
    double *A = work, *V = A + (size_t)nf * nf, *s = V + (size_t)nf * nf, *svd_work = s + nf;
    copy_r11(R, nf, A);
    int ok = nf <= COVARIANCE_JACOBI_MAX && svd_jacobi(A, (size_t)nf, nf, nf, s, V) >= 0;
    if (!ok) {
        copy_r11(R, nf, A);
        ok = svd_robust(A, nf, nf, s, V, NULL, svd_work) == 0;
    }
    double m = (double)(m_used > (size_t)nf ? m_used : (size_t)nf);
    double threshold = SOLVE_EPS * m * s[0];
    for (size_t i = 0; ok && i < (size_t)nf * nf; i++) cov[i] = 0;
    *rank = 0;
    /* sum over the kept k of v_k v_k^T / s_k^2, a row of rank-one updates
       at a time (contiguous, so it vectorises) */
    for (int k = 0; ok && k < nf; k++) {
        if (!(s[k] > threshold)) continue;
        ++*rank;
        const double *v = V + (size_t)k * nf;
        double inv = 1 / (s[k] * s[k]);
        for (int a = 0; a < nf; a++) {
            double f = v[a] * inv, *row = cov + (size_t)a * nf;
            for (int b = 0; b < nf; b++) row[b] += f * v[b];
        }
    }
    for (size_t i = 0; ok && i < (size_t)nf * nf; i++)
        if (isnan(cov[i])) ok = 0;
    return ok;
}

/*
 * pcov of the free parameters from R11 (J = Q R11): trf and dogbox take
 * SciPy's pseudo-inverse, V diag(1/s^2) V^T over s > EPS max(m, n) s_max;
 * lm takes the plain inverse (R^T R)^-1 as MINPACK, none when R11 is
 * singular (a diagonal entry that small: a parameter without effect,
 * SciPy's LinAlgError and infinite pcov). Where lm's R11 is singular only
 * as a whole — ||R|| ||R^-1|| beyond 1/(EPS max(m, n)), parameters that
 * trade off against each other — its inverse is rounding (SciPy's has
 * negative eigenvalues there, gh-4555), so lm takes the pseudo-inverse
 * too and *rank says so.
 * work: fit_covariance_work_doubles(nf). Returns 0 when no covariance
 * could be estimated.
 */
int fit_free_covariance(const double *R, int nf, size_t m_used, nlsq_method method, double *cov, double *work,
                        int *rank)
{
    int kept = nf;
    if (!rank) rank = &kept;
    *rank = nf;
    double m = (double)(m_used > (size_t)nf ? m_used : (size_t)nf);
    if (method == NLSQ_LM) {
        /* the triangular inverse of src/kernel/covariance.h, as the CUDA
           batch kernel takes it; R^-1 is left in work */
        if (!nk_covariance_inverse(R, (size_t)nf + 1, nf, m_used, cov, work)) return 0;
        double kappa = triangle_norm(R, (size_t)nf + 1, nf) * triangle_norm(work, (size_t)nf, nf);
        if (kappa * SOLVE_EPS * m < 1) return 1;
    }
    return pseudo_inverse(R, nf, m_used, cov, work, rank);
}

/* The covariance into r, from buffers the caller allocated with the result
   (cov nf x nf, work fit_covariance_work_doubles(nf)): a covariance that
   could not be had for want of memory would be reported as infinite, and
   the fit would look right with useless errors. */
static void fill_covariance(const fit_problem *fp, double cost, nlsq_result *r, double *cov, double *work)
{
    int n = fp->n, nf = fp->n_free;
    memset(cov, 0, (size_t)nf * (size_t)nf * sizeof *cov);
    int ok = fit_free_covariance(fp->R, nf, fp->m_used, fp->method, cov, work, &r->pcov_rank);
    double scale = 1;
    if (ok && !fp->opt.absolute_sigma) {
        if (fp->m_used > (size_t)nf)
            scale = 2 * cost / (double)(fp->m_used - (size_t)nf);
        else
            ok = 0;
    }
    memset(r->pcov, 0, (size_t)n * (size_t)n * sizeof *r->pcov);
    for (int a = 0; a < nf; a++)
        for (int b = 0; b < nf; b++)
            r->pcov[(size_t)fp->free_idx[a] * n + (size_t)fp->free_idx[b]] = ok ? cov[(size_t)a * nf + b] * scale
                                                                                : INFINITY;
    for (int j = 0; j < n; j++) r->perr[j] = sqrt(r->pcov[(size_t)j * n + j]);
    r->pcov_valid = ok;
    if (!ok) r->pcov_rank = 0;
}

/* Weighted total sum of squares about the weighted mean, for R^2. */
/* The weight of point i for R^2: 1/sigma^2 (the diagonal of a covariance
   sigma), 1 without sigma. */
static double r2_weight(const nlsq_data *d, size_t i)
{
    double s = d->sigma_kind == NLSQ_SIGMA_PER_POINT  ? d->sigma[i]
             : d->sigma_kind == NLSQ_SIGMA_SCALAR     ? d->sigma[0]
             : d->sigma_kind == NLSQ_SIGMA_COVARIANCE ? sqrt(d->sigma[i * d->m + i])
                                                      : 1;
    return 1 / (s * s);
}

/* Sweep 0: sum w and sum w*y; sweep 1: sum w*(y - mean)^2; over the points
   with finite y and w, in four lanes (i % 4) of partial sums, without
   branches, so the loop vectorises. */
static void weighted_sums(const nlsq_data *d, int uniform, int sweep, double mean, double *s1, double *s2)
{
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    size_t m = d->m, i = 0;
    for (; i < m; i += 4)
        for (size_t l = 0; l < 4 && i + l < m; l++) {
            double w = uniform ? 1.0 : r2_weight(d, i + l), y = d->y[i + l];
            int ok = isfinite(y) && isfinite(w);
            double wv = ok ? w : 0.0, yv = ok ? y : mean;
            if (sweep == 0) {
                a[l] += wv;
                b[l] += wv * yv;
            } else {
                a[l] += wv * (yv - mean) * (yv - mean);
            }
        }
    *s1 = (a[0] + a[1]) + (a[2] + a[3]);
    *s2 = (b[0] + b[1]) + (b[2] + b[3]);
}

/* SS_tot about the weighted mean, in two sweeps over y; with one weight
   for all points (no sigma, or a scalar) w is taken out. */
double fit_sst_arrays(const nlsq_data *d)
{
    int uniform = d->sigma_kind == NLSQ_SIGMA_NONE || d->sigma_kind == NLSQ_SIGMA_SCALAR;
    double sw, swy, ss, unused;
    weighted_sums(d, uniform, 0, 0.0, &sw, &swy);
    double mean = sw > 0 ? swy / sw : 0;
    weighted_sums(d, uniform, 1, mean, &ss, &unused);
    return uniform ? r2_weight(d, 0) * ss : ss;
}

/* Up to this many points, on the CPU, a fit with the linear loss (whose
   chi2 is 2 cost, no pass needed) passes over its data once more at popt
   for the residual diagnostics: rows made but not folded, measured at
   +12% (10^3, 10^5 points) to +20% (10^6) of a 6-pass fit's time on one
   thread; not counted in passes. Beyond, on a GPU and with a checkpoint
   (whose finished fit replays in one pass), the residuals are tested
   only when the final pass runs anyway (a robust loss, keep_residuals). */
#define DIAGNOSE_PASS_MAX_POINTS ((size_t)1 << 22)

/* In a group (fp->ps.group): whether any process is short of memory
   before a step they all take part in (the final pass), so that none of
   them waits for one that returned; alone: `short_here`. */
static int group_short(const fit_problem *fp, int short_here)
{
    const nlsq_group *g = fp->ps.group;
    int lowest;
    if (!g || g->size <= 1) return short_here;
    return group_agree(g, GROUP_TAG_AGREE + 8, short_here, &lowest) != 0 || lowest >= 0;
}

/* chi2 (before the loss) and, if asked, the residuals: one more pass,
   which also gathers the residuals' signs into *runs (*tested = 1).
   0, -1 out of memory (a result without them would look whole), or -2
   when the group's transport failed. */
static int final_residuals(fit_problem *fp, nlsq_result *r, double cost, nk_runs *runs, int *tested)
{
    int linear_only = fp->opt.loss == NLSQ_LOSS_LINEAR && !r->residuals;
    *tested = 0;
    if (fp->final_residuals && !linear_only) {
        *tested = 1;
        return fp->final_residuals(fp, r->residuals, &r->chi2, runs);
    }
    if (linear_only || fp->covariance) r->chi2 = 2 * cost; /* exact for the linear loss */
    int extra = linear_only && !fp->use_gpu && !fp->ckpt && !fp->no_extra_pass &&
                fp->m_used <= DIAGNOSE_PASS_MAX_POINTS;
    if (fp->final_residuals || fp->covariance || (linear_only && !extra)) return 0;
    size_t nc = (size_t)fp->n_free + 1;
    double *R = malloc(nc * nc * sizeof *R);
    if (group_short(fp, !R)) {
        free(R);
        return -1;
    }
    pass_out out = {.R = R, .residuals = r->residuals, .runs = runs, .no_triangle = 1};
    /* the diagnostics' own pass is not one of the fit's: no progress
       report, not counted in passes */
    pass_progress_fn progress = fp->ps.progress;
    int passes = fp->ps.passes, jit_passes = fp->ps.jit_passes, last_jit = fp->ps.last_jit;
    if (extra) fp->ps.progress = NULL;
    pass_run(&fp->ps, &fp->pd, fp->p, &out);
    if (extra) {
        fp->ps.progress = progress;
        fp->ps.passes = passes;
        fp->ps.jit_passes = jit_passes;
        fp->ps.last_jit = last_jit;
    }
    if (!extra) r->chi2 = out.chi2;
    free(R);
    if (r->residuals && fp->ps.group && fp->ps.group->size > 1 && fit_group_share_rows(fp, r->residuals) != 0)
        out.group_failed = 1;
    if (out.group_failed) return -2;
    if (out.nomem && extra) return 0; /* only the diagnostics are missing */
    *tested = !out.read_failed && !out.nomem;
    return out.nomem ? -1 : 0;
}

nlsq_status fit_make_result(fit_problem *fp, const solve_result *sr, const double *lbf, const double *ubf, double xtol,
                            nlsq_result **out, nlsq_error *err)
{
    int n = fp->n;
    size_t nf = (size_t)fp->n_free;
    double *cov = malloc((nf * nf + 1) * sizeof *cov),
           *work = malloc(fit_covariance_work_doubles(fp->n_free) * sizeof *work);
    nlsq_result *r = cov && work ? calloc(1, sizeof *r) : NULL;
    if (r) {
        r->popt = malloc((size_t)n * sizeof *r->popt);
        r->pcov = malloc((size_t)n * (size_t)n * sizeof *r->pcov);
        r->perr = malloc((size_t)n * sizeof *r->perr);
        r->active_mask = calloc((size_t)n, 1);
        r->jac_at = malloc((size_t)n * sizeof *r->jac_at);
        if (fp->opt.keep_residuals) r->residuals = malloc((fp->m_total ? fp->m_total : 1) * sizeof *r->residuals);
    }
    if (group_short(fp, !r || !r->popt || !r->pcov || !r->perr || !r->active_mask || !r->jac_at ||
                            (fp->opt.keep_residuals && !r->residuals))) {
        nlsq_result_free(r);
        free(cov);
        free(work);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_curve_fit: out of memory for the result");
        return NLSQ_ERR_NOMEM;
    }
    r->n = n;
    r->n_free = fp->n_free;
    r->m = fp->m_used;
    r->dof = (int)fp->m_used - fp->n_free;
    memcpy(r->popt, fp->p, (size_t)n * sizeof *r->popt);
    memcpy(r->jac_at, fp->p, (size_t)n * sizeof *r->jac_at);
    for (int k = 0; k < fp->n_free; k++) r->jac_at[fp->free_idx[k]] = fp->R_at[k];
    r->cost = sr->cost;
    r->grad_norm = sr->grad_norm;
    r->nfev = sr->nfev;
    r->njev = sr->njev;
    r->nit = sr->nit;
    r->status = (nlsq_fit_status)sr->status;
    r->success = sr->status > 0;
    r->method = fp->method;
    r->threads = fp->threads;
    snprintf(r->message, sizeof r->message, "%s", nlsq_fit_status_str(r->status));
    fill_covariance(fp, sr->cost, r, cov, work);
    r->absolute_sigma = fp->opt.absolute_sigma != 0;
    free(cov);
    free(work);
    nk_runs runs;
    int tested;
    int fr = final_residuals(fp, r, sr->cost, &runs, &tested);
    if (fr != 0) {
        nlsq_result_free(r);
        const char *who = fp->who ? fp->who : "nlsq_curve_fit";
        if (fr == -2)
            error_set(err, NLSQ_ERR_IO, 0, 0,
                      "%s: a process of the group ended or could not be reached in the final pass", who);
        else
            error_set(err, NLSQ_ERR_NOMEM, 0, 0, "%s: out of memory for the final pass", who);
        return fr == -2 ? NLSQ_ERR_IO : NLSQ_ERR_NOMEM;
    }
    snprintf(r->backend, sizeof r->backend, "%s", fp->use_gpu ? "cuda" : fp->ps.last_jit ? "jit" : "interp");
    snprintf(r->device, sizeof r->device, "%s", fp->device[0] ? fp->device : "cpu");
    snprintf(r->device_note, sizeof r->device_note, "%s", fp->device_note);
    r->passes = fp->ps.passes + fp->gpu_passes;
    r->memory_bytes = fp->memory_bytes;
    r->resumed_evaluations = fp->resumed;
    r->jit_passes = fp->ps.jit_passes;
    if (fp->jit && (fp->ps.jit_passes > 0 || !fp->jit_quiet))
        jit_entry_note(fp->model, fp->jit, r->backend_note, sizeof r->backend_note);
    double m = (double)fp->m_used, k = fp->n_free;
    r->redchi = r->dof > 0 ? r->chi2 / r->dof : INFINITY;
    double sst = fp->sst;
    r->r2 = sst > 0 ? 1 - r->chi2 / sst : NAN;
    r->aic = m * log(r->chi2 / m) + 2 * k;
    r->bic = m * log(r->chi2 / m) + k * log(m);
    for (int a = 0; fp->method != NLSQ_LM && a < fp->n_free; a++) {
        double x = fp->x[a], lo = lbf[a], hi = ubf[a];
        double lt = xtol * fmax(1, fabs(lo)), ut = xtol * fmax(1, fabs(hi));
        signed char side = 0;
        if (isfinite(lo) && x - lo <= fmin(hi - x, lt))
            side = -1;
        else if (isfinite(hi) && hi - x <= fmin(x - lo, ut))
            side = 1;
        r->active_mask[fp->free_idx[a]] = side;
    }
    if (fit_diagnose(fp, fp->x0, tested ? &runs : NULL, r) != 0) {
        nlsq_result_free(r);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_curve_fit: out of memory for the diagnostics");
        return NLSQ_ERR_NOMEM;
    }
    *out = r;
    return NLSQ_OK;
}
