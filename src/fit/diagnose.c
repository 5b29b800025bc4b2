/*
 * Diagnostics: can a fit's result be trusted? A solver that stops by a
 * tolerance has only found a point where its steps stopped paying; this
 * file looks at that point with what the fit already has — the final
 * R_aug (whose R11 has J's column norms and singular values), the start,
 * popt, pcov, R^2 and the residuals' signs — and names what is wrong.
 * Thresholds and their meaning are documented with nlsq_diagnostic in
 * include/nlsq.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
#include "linalg/linalg.h"

/* A column whose effect, scaled by its parameter's size, is this small
   against the largest is rounding next to it. */
#define NO_INFLUENCE_RATIO 1e-10
/* |popt - p0| at most this relative to |p0|: the parameter never moved. */
#define NOT_MOVED_RTOL 1e-12
/* 1 - R^2 at most this: the data are reproduced exactly (noise-free data
   fitted from a start that happened to be right in some parameter). */
#define EXACT_FIT_TOL 1e-12
#define NO_EXPLANATION_R2 1e-10
#define ILL_CONDITIONED_COND 1e7
/* A unit null vector's component above this names its parameter as part
   of an undetermined combination (two equal parts are 0.71 each). */
#define NULL_COMPONENT 0.1
#define CORRELATED_ABS 0.99
/* The normal approximation of the runs test wants some points of each
   sign; below this many nonzero residuals nothing is said. */
#define RUNS_MIN_POINTS 20
#define RUNS_Z_LIMIT -4.0
#define LAG1_LIMIT 0.5
#define LAG1_Z_LIMIT 4.0
/* One-sided Jacobi up to this size (accurate relative to each singular
   value, which is what the smallest one needs), as result.c does. */
#define JACOBI_MAX 32

const char *nlsq_diagnostic_str(nlsq_diagnostic d)
{
    switch (d) {
    case NLSQ_DIAG_NOT_CONVERGED: return "The solver did not converge.";
    case NLSQ_DIAG_NO_INFLUENCE:
        return "A parameter has no influence on the model at the solution (its Jacobian column is zero or "
               "negligible): the data say nothing about it.";
    case NLSQ_DIAG_NOT_MOVED:
        return "A parameter never moved from its start value: the solver found no direction to improve it.";
    case NLSQ_DIAG_RANK_DEFICIENT:
        return "The Jacobian is rank-deficient: a combination of parameters is not determined by the data.";
    case NLSQ_DIAG_NO_EXPLANATION: return "R^2 <= 0: the model explains the data no better than their mean.";
    case NLSQ_DIAG_ILL_CONDITIONED:
        return "The Jacobian is ill-conditioned (condition number above 1e7 with its columns scaled): some "
               "parameter combinations are poorly determined.";
    case NLSQ_DIAG_CORRELATED: return "Two parameters are correlated above 0.99: the data barely tell them apart.";
    case NLSQ_DIAG_AT_BOUND: return "A parameter is at a bound: its standard error assumes it is free.";
    case NLSQ_DIAG_RESIDUAL_STRUCTURE:
        return "The residuals have structure in data order (runs test or lag-1 autocorrelation): the model "
               "misses a systematic part of the data.";
    }
    return d == 0 ? "" : "unknown diagnostic";
}

void fit_diagnostics_free(nlsq_diagnostics *d)
{
    free(d->param_flags);
    free(d->influence);
    free(d->correlated);
    free(d->correlation);
    memset(d, 0, sizeof *d);
}

/* R_aug is column-major with leading dimension nc. */
static inline double R_entry(const double *R, size_t nc, int i, int j)
{
    return R[(size_t)j * nc + i];
}

/* ||J[:,k]|| is the norm of R11's column k (J = Q R11). */
static double column_norm(const double *R, int nf, int k)
{
    size_t nc = (size_t)nf + 1;
    double s = 0;
    for (int i = 0; i <= k; i++) s += R[(size_t)k * nc + i] * R[(size_t)k * nc + i];
    return sqrt(s);
}

/* A parameter's size, for comparing columns in the parameters' units: the
   larger of |popt| and |p0|, or 1 where both are 0. */
static double parameter_size(double x, double x0)
{
    double s = fmax(fabs(x), fabs(x0));
    return s > 0 ? s : 1;
}

/* Influence of each free parameter (column norm times size, over the
   largest); flags the negligible ones. */
static void find_no_influence(const fit_problem *fp, const double *x0, const double *cnorm, nlsq_diagnostics *d)
{
    int nf = fp->n_free;
    double top = 0;
    for (int k = 0; k < nf; k++) top = fmax(top, cnorm[k] * parameter_size(fp->x[k], x0[k]));
    for (int k = 0; k < nf; k++) {
        int j = fp->free_idx[k];
        double t = cnorm[k] * parameter_size(fp->x[k], x0[k]);
        d->influence[j] = top > 0 ? t / top : 0;
        if (!(t > 0) || !(d->influence[j] > NO_INFLUENCE_RATIO)) {
            d->param_flags[j] |= NLSQ_DIAG_NO_INFLUENCE;
            d->flags |= NLSQ_DIAG_NO_INFLUENCE;
        }
    }
}

/* A (nf x k, column-major, ld nf) <- R11's columns cols[0..k) over their
   norms; R11 is zero below its diagonal. */
static void scaled_columns(const fit_problem *fp, const int *cols, int k, const double *cnorm, double *A)
{
    int nf = fp->n_free;
    size_t nc = (size_t)nf + 1;
    for (int a = 0; a < k; a++)
        for (int i = 0; i < nf; i++)
            A[(size_t)a * nf + i] = i <= cols[a] ? R_entry(fp->R, nc, i, cols[a]) / cnorm[cols[a]] : 0;
}

/* The parameters in the combinations the data do not determine: those
   with a component above NULL_COMPONENT in a right singular vector of a
   dropped singular value (the vectors past the rank; V is k x k, vector a
   at V + a k). */
static void mark_undetermined(const fit_problem *fp, const int *cols, int k, const double *V, nlsq_diagnostics *d)
{
    d->flags |= NLSQ_DIAG_RANK_DEFICIENT;
    for (int a = d->rank; a < k; a++)
        for (int i = 0; i < k; i++)
            if (fabs(V[(size_t)a * k + i]) > NULL_COMPONENT)
                d->param_flags[fp->free_idx[cols[i]]] |= NLSQ_DIAG_RANK_DEFICIENT;
}

/* Rank and condition number of J's influential columns scaled to unit
   norm (so neither depends on the parameters' units): singular values of
   R11 D^-1. A column without influence is left out here (it is reported
   on its own); rank deficiency is then a combination of the others. An
   SVD that fails (a non-finite R) leaves rank 0 and cond NaN, unflagged.
   work: nf^2 A, nf^2 V, nf s, then the SVD's; cols: nf. */
static void rank_and_condition(const fit_problem *fp, const double *cnorm, nlsq_diagnostics *d, double *work, int *cols)
{
    int nf = fp->n_free, k = 0;
    for (int c = 0; c < nf; c++)
        if (!(d->param_flags[fp->free_idx[c]] & NLSQ_DIAG_NO_INFLUENCE)) cols[k++] = c;
    double *A = work, *V = A + (size_t)nf * nf, *s = V + (size_t)nf * nf, *svd_work = s + nf;
    d->rank = 0;
    d->cond = k ? 1 : INFINITY;
    if (k == 0) return;
    scaled_columns(fp, cols, k, cnorm, A);
    int ok = k <= JACOBI_MAX && svd_jacobi(A, (size_t)nf, nf, k, s, V) >= 0;
    if (!ok) {
        scaled_columns(fp, cols, k, cnorm, A);
        ok = svd_robust(A, nf, k, s, V, NULL, svd_work) == 0;
    }
    double m = (double)(fp->m_used > (size_t)nf ? fp->m_used : (size_t)nf);
    for (int a = 0; ok && a < k; a++) d->rank += s[a] > SOLVE_EPS * m * s[0];
    d->cond = !ok ? NAN : d->rank == k ? s[0] / s[k - 1] : INFINITY;
    if (ok && d->rank < k)
        mark_undetermined(fp, cols, k, V, d);
    else if (ok && d->cond > ILL_CONDITIONED_COND)
        d->flags |= NLSQ_DIAG_ILL_CONDITIONED;
}

static int unmoved(double x, double start)
{
    return x == start || fabs(x - start) <= NOT_MOVED_RTOL * fabs(start);
}

/* Free parameters that ended where they started while others moved, and
   the data are not reproduced exactly (where an exact fit could leave a
   parameter whose start was right where it was). When none moved in a
   converged fit, the start was the minimum already (start values
   estimated from the data often are) or every direction was flat, which
   the influence test says. */
static void find_not_moved(const fit_problem *fp, const double *x0, double r2, double chi2, nlsq_diagnostics *d)
{
    if (isfinite(r2) && 1 - r2 <= EXACT_FIT_TOL) return;
    if (!isfinite(r2) && chi2 == 0) return;
    int moved = 0; /* beyond a polish: 1e-6 relative */
    for (int k = 0; k < fp->n_free; k++) moved |= fabs(fp->x[k] - x0[k]) > 1e-6 * fabs(x0[k]);
    if (!moved && !(d->flags & NLSQ_DIAG_NOT_CONVERGED)) return;
    for (int k = 0; k < fp->n_free; k++) {
        if (!unmoved(fp->x[k], x0[k])) continue;
        d->param_flags[fp->free_idx[k]] |= NLSQ_DIAG_NOT_MOVED;
        d->flags |= NLSQ_DIAG_NOT_MOVED;
    }
}

static double correlation(const nlsq_result *r, int a, int b)
{
    double va = r->pcov[(size_t)a * r->n + a], vb = r->pcov[(size_t)b * r->n + b];
    return va > 0 && vb > 0 ? r->pcov[(size_t)a * r->n + b] / sqrt(va * vb) : 0;
}

/* Pairs with |corr| > 0.99, counted, then listed. */
static int find_correlated(nlsq_result *r)
{
    if (!r->pcov_valid) return 0;
    int count = 0;
    for (int a = 0; a < r->n; a++)
        for (int b = a + 1; b < r->n; b++) count += fabs(correlation(r, a, b)) > CORRELATED_ABS;
    if (!count) return 0;
    nlsq_diagnostics *d = &r->diag;
    d->correlated = malloc(2 * (size_t)count * sizeof *d->correlated);
    d->correlation = malloc((size_t)count * sizeof *d->correlation);
    if (!d->correlated || !d->correlation) return -1;
    for (int a = 0; a < r->n; a++)
        for (int b = a + 1; b < r->n; b++) {
            double c = correlation(r, a, b);
            if (!(fabs(c) > CORRELATED_ABS)) continue;
            d->correlated[2 * d->n_correlated] = a;
            d->correlated[2 * d->n_correlated + 1] = b;
            d->correlation[d->n_correlated++] = c;
        }
    d->flags |= NLSQ_DIAG_CORRELATED;
    return 0;
}

static void find_at_bound(nlsq_result *r)
{
    for (int j = 0; j < r->n; j++)
        if (r->active_mask[j]) {
            r->diag.param_flags[j] |= NLSQ_DIAG_AT_BOUND;
            r->diag.flags |= NLSQ_DIAG_AT_BOUND;
        }
}

/* Wald-Wolfowitz runs test on the signs (normal approximation: E = 1 +
   2 n+ n- / N, Var = 2 n+ n- (2 n+ n- - N) / (N^2 (N - 1))) and the lag-1
   autocorrelation sum r_i r_(i+1) / sum r_i^2 (about the mean 0 that a
   least-squares fit's residuals have). All of one sign is structure too:
   z = -Inf. */
static void test_residuals(const nk_runs *u, nlsq_diagnostics *d)
{
    d->residuals_tested = 1;
    d->runs = u->runs;
    d->n_pos = u->n_pos;
    d->n_neg = u->n_neg;
    double np = (double)u->n_pos, nn = (double)u->n_neg, N = np + nn;
    d->lag1 = u->s2 > 0 ? u->s11 / u->s2 : NAN;
    d->runs_z = NAN;
    if (N < RUNS_MIN_POINTS) return;
    if (np == 0 || nn == 0) {
        d->runs_z = -INFINITY;
    } else {
        double mean = 1 + 2 * np * nn / N, var = 2 * np * nn * (2 * np * nn - N) / (N * N * (N - 1));
        d->runs_z = var > 0 ? ((double)u->runs - mean) / sqrt(var) : NAN;
    }
    int few_runs = d->runs_z < RUNS_Z_LIMIT;
    int correlated = d->lag1 > LAG1_LIMIT && d->lag1 * sqrt((double)u->count) > LAG1_Z_LIMIT;
    if (few_runs || correlated) d->flags |= NLSQ_DIAG_RESIDUAL_STRUCTURE;
}

size_t fit_diagnose_work_doubles(int nf)
{
    return (size_t)nf + 2 * (size_t)nf * (size_t)nf + (size_t)nf + svd_robust_work_doubles(nf, nf);
}

void fit_diagnose_jacobian(const fit_problem *fp, const double *x0, int status, double r2, double chi2,
                           nlsq_diagnostics *d, double *work, int *cols)
{
    int nf = fp->n_free;
    double *cnorm = work;
    if (status <= 0) d->flags |= NLSQ_DIAG_NOT_CONVERGED;
    for (int k = 0; k < nf; k++) cnorm[k] = column_norm(fp->R, nf, k);
    find_no_influence(fp, x0, cnorm, d);
    rank_and_condition(fp, cnorm, d, work + nf, cols);
    find_not_moved(fp, x0, r2, chi2, d);
    if (isfinite(r2) && r2 <= NO_EXPLANATION_R2) d->flags |= NLSQ_DIAG_NO_EXPLANATION;
    d->trusted = !(d->flags & NLSQ_DIAG_UNTRUSTED);
}

int fit_diagnose(const fit_problem *fp, const double *x0, const nk_runs *runs, nlsq_result *r)
{
    nlsq_diagnostics *d = &r->diag;
    int n = r->n, nf = fp->n_free;
    memset(d, 0, sizeof *d);
    d->runs_z = d->lag1 = NAN;
    d->param_flags = calloc((size_t)n, sizeof *d->param_flags);
    d->influence = calloc((size_t)n, sizeof *d->influence);
    double *work = malloc(fit_diagnose_work_doubles(nf) * sizeof *work);
    int *cols = malloc((size_t)nf * sizeof *cols);
    int ok = d->param_flags && d->influence && work && cols;
    if (ok) fit_diagnose_jacobian(fp, x0, r->status, r->r2, r->chi2, d, work, cols);
    free(work);
    free(cols);
    if (!ok || find_correlated(r) != 0) return -1;
    find_at_bound(r);
    nk_runs kept = {0};
    if (!runs && r->residuals) {
        for (size_t i = 0; i < fp->m_total; i++) nk_runs_add(&kept, r->residuals[i]);
        runs = &kept;
    }
    if (runs) test_residuals(runs, d);
    d->trusted = !(d->flags & NLSQ_DIAG_UNTRUSTED);
    return 0;
}
