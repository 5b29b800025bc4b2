/*
 * The fixed part of the CUDA batch kernels: each fit runs MINPACK's
 * Levenberg-Marquardt (the algorithm of src/solve/lm.c, written again for
 * the device: fixed-size arrays, no allocation) on its own points, with no
 * round trip to the host between iterations. Two mappings, chosen by fit
 * size (src/gpu/cuda_batch.c): nlsq_batch, one thread a fit, for small
 * fits; nlsq_batch_warp, one warp a fit, whose 32 lanes evaluate and fold
 * every 32nd point each and merge their triangles in a fixed tree, then
 * all run the (small, identical) solver step in lockstep.
 * src/gpu/cuda_source.c puts the numeric core (src/kernel/: MINPACK's
 * pivoted QR, qrsolv and lmpar, the Givens row fold, the covariance, the
 * norms and scalar functions, the host's own copy) and the pass kernel's
 * per-point helpers (cuda_kernel.cu up to its marker) before this text,
 * and the model's code (model_uniform and model_point, from the same forms
 * as every other kernel) at the marker.
 *
 * An evaluation folds the fit's weighted rows [J | r] one by one into the
 * (n+1) x (n+1) triangle R_aug by Givens rotations, so a thread needs no
 * m-sized array; the solver then reads R_aug exactly as the CPU's does.
 * The rotations round differently from the CPU's block Householder fold,
 * so a GPU fit agrees with the CPU's to where the minimum is pinned
 * (about 1e-9 relative), not to the bit. Every sum has one order: the
 * same bits on every run.
 *
 * Defined before this text: NLSQ_NCOLS (free parameters), NLSQ_NVARS,
 * NLSQ_NPARAMS, NLSQ_NUNIFORM and NLSQ_COLS_INIT (the free parameters'
 * indices, as an initialiser); NLSQ_FLOAT32 for float32 data and
 * Jacobian (the model's value, the residuals and all that follows stay
 * double, as in the pass kernel's float32 mode).
 */

/* NVRTC has no <math.h>: its infinity and NaN by their bits */
#ifdef __CUDACC_RTC__
#define NB_INF __longlong_as_double(0x7ff0000000000000LL)
#define NB_NAN __longlong_as_double(0x7ff8000000000000LL)
#else
#define NB_INF INFINITY
#define NB_NAN NAN
#endif

/* ---- what model_uniform's scalar forms call ---------------------------------- */

__device__ __forceinline__ double k_from_bits(unsigned long long bits)
{
#ifdef __CUDACC_RTC__
    return __longlong_as_double((long long)bits);
#else
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
#endif
}

__device__ __forceinline__ double k_lgamma(double x)
{
    return lgamma(x);
}

/* @MODEL@ */

/* ---- the batch ---------------------------------------------------------------- */

#define NB_N NLSQ_NCOLS
#define NB_NC (NLSQ_NCOLS + 1)

/* Mirrored in src/gpu/cuda_batch.c: 8-byte fields only, so both compilers
   lay it out alike. */
typedef struct nlsq_batch_args {
    const NLSQ_DATA *x;                /* k rows, xstride apart               */
    const NLSQ_DATA *y, *sigma;        /* all fits' points; sigma may be NULL */
    const unsigned long long *offsets; /* nfits + 1, or NULL: fit i at i*m   */
    const double *p0;                  /* nfits x nparams                     */
    double *popt, *perr, *pcov;        /* perr, pcov may be NULL              */
    double *cost, *chi2;
    long long *status, *nfev, *nit, *m_used, *pcov_valid;
    unsigned long long nfits, m, xstride, x_shared, nparams;
    unsigned long long policy; /* 0 raise, 1 omit, 2 ignore           */
    unsigned long long absolute_sigma, max_nfev;
    double ftol, xtol, gtol;
} nlsq_batch_args;

__device__ const int nb_cols[NB_N] = NLSQ_COLS_INIT;

/* the per-fit statuses of nlsq.h */
#define NB_BAD_DATA -11
#define NB_NONFINITE -12

typedef struct nb_fit {
    const NLSQ_DATA *x, *y, *sigma;
    unsigned long long xstride, len;
    int omit;
} nb_fit;

__device__ static int nb_point_usable(const nb_fit *f, unsigned long long i)
{
    if (!isfinite((double)f->y[i]) || (f->sigma && !isfinite((double)f->sigma[i]))) return 0;
    for (int k = 0; k < NLSQ_NVARS; k++)
        if (!isfinite((double)f->x[k * f->xstride + i])) return 0;
    return 1;
}

#define NB_FULL 0xffffffffu

/* A warp's lanes hold triangles of disjoint points: merged in a fixed
   tree (lane l takes lane l + off's rows when l % 2off == 0), then lane
   0's result, cost and flag broadcast, so that every lane goes on with
   the same numbers — the same bits on every run. */
__device__ static void nb_warp_merge(double *R, double *c2, double *bad, int lane)
{
    for (int off = 1; off < 32; off *= 2) {
        int take = lane % (2 * off) == 0;
        for (int k = 0; k < NB_NC; k++) {
            double row[NB_NC];
            for (int j = 0; j < NB_NC; j++) row[j] = __shfl_down_sync(NB_FULL, j >= k ? R[j * NB_NC + k] : 0.0, off);
            if (take) nk_fold_row_givens(R, NB_NC, row);
        }
        double oc = __shfl_down_sync(NB_FULL, *c2, off), ob = __shfl_down_sync(NB_FULL, *bad, off);
        if (take) {
            *c2 += oc;
            *bad += ob;
        }
    }
    for (int k = 0; k < NB_NC * NB_NC; k++) R[k] = __shfl_sync(NB_FULL, R[k], 0);
    *c2 = __shfl_sync(NB_FULL, *c2, 0);
    *bad = __shfl_sync(NB_FULL, *bad, 0);
}

/* A warp's sum of v, in a fixed tree, on every lane. */
__device__ static double nb_warp_sum(double v, int lane)
{
    for (int off = 1; off < 32; off *= 2) {
        double o = __shfl_down_sync(NB_FULL, v, off);
        if (lane % (2 * off) == 0) v += o;
    }
    return __shfl_sync(NB_FULL, v, 0);
}

/* cost and R_aug (column-major NB_NC x NB_NC, upper) at the full
   parameter vector p; nonzero when something is not finite. A thread
   (nlanes 1) takes every point; in a warp (nlanes 32) lane l takes points
   l, l + 32, ... and the lanes' triangles are merged. */
__device__ static int nb_evaluate(const nb_fit *f, const double *p, double *R, double *cost, double *chi2, int lane,
                                  int nlanes)
{
    double u[NLSQ_NUNIFORM > 0 ? NLSQ_NUNIFORM : 1];
    model_uniform(p, u);
    for (int k = 0; k < NB_NC * NB_NC; k++) R[k] = 0;
    double c2 = 0, bad = 0;
    for (unsigned long long i = (unsigned long long)lane; i < f->len; i += (unsigned long long)nlanes) {
        if (f->omit && !nb_point_usable(f, i)) continue;
        double a[NB_NC];
        model_point(u, f->x, f->xstride, i, a);
#ifdef NLSQ_FLOAT32
        model_value(u, f->x, f->xstride, i, a + NB_N);
#endif
        double w = f->sigma ? 1.0 / (double)f->sigma[i] : 1.0;
        a[NB_N] = w * (a[NB_N] - (double)f->y[i]);
        c2 += a[NB_N] * a[NB_N];
        for (int c = 0; c < NB_N; c++) a[c] *= w;
        for (int c = 0; c < NB_NC; c++) bad += !isfinite(a[c]);
        nk_fold_row_givens(R, NB_NC, a);
    }
    if (nlanes > 1) nb_warp_merge(R, &c2, &bad, lane);
    *cost = 0.5 * c2;
    *chi2 = c2;
    return bad != 0 || !isfinite(c2);
}

/* ---- lmder on R_aug, as src/solve/lm.c, with src/kernel/minpack.h ------------- */

typedef struct nb_lm {
    double r[NB_N * NB_N], rdiag[NB_N], acnorm[NB_N], qtf[NB_N], diag[NB_N];
    double wa1[NB_N], wa2[NB_N], wa3[NB_N], wa4[NB_N], sdiag[NB_N], xnew[NB_N];
    int ipvt[NB_N];
} nb_lm;

__device__ static void nb_fill(double *p, const double *x)
{
    for (int a = 0; a < NB_N; a++) p[nb_cols[a]] = x[a];
}

/* lm.c's solve_lm for one fit; returns the least_squares status, or
   NB_NONFINITE when the start is not finite. */
__device__ static int nb_solve(const nlsq_batch_args *A, const nb_fit *f, double *p, double *x, double *R,
                               double *cost_out, int *nfev_out, int *nit_out, int lane, int nlanes)
{
    const int n = NB_N;
    nb_lm w;
    double Rnew[NB_NC * NB_NC], cost, chi2;
    nb_fill(p, x);
    if (nb_evaluate(f, p, R, &cost, &chi2, lane, nlanes)) return NB_NONFINITE;
    /* solve_budget (src/solve/solve.h): an explicit max_nfev is a hard
       limit; without one, windows of 100 (n + 1) evaluations, another
       granted while the cost fell by more than 1e-8 of itself in the last,
       up to 100 windows (SOLVE_MAX_WINDOWS). */
    int window = A->max_nfev > 0 ? 0 : 100 * (n + 1), windows = 1;
    int nfev = 1, iter = 1, info = 0, max_nfev = A->max_nfev > 0 ? (int)A->max_nfev : window;
    double window_cost;
    double fnorm = sqrt(2 * cost), delta = 0, xnorm = 0, par = 0, gnorm = 0;
    window_cost = cost;
    for (;;) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) w.r[j * n + i] = i <= j ? R[j * NB_NC + i] : 0;
        for (int i = 0; i < n; i++) w.qtf[i] = R[n * NB_NC + i];
        nk_qr_pivoted(w.r, NB_N, NB_N, NB_N, w.ipvt, w.rdiag, w.acnorm, w.qtf, w.wa1);
        if (iter == 1) {
            for (int j = 0; j < n; j++) {
                w.diag[j] = w.acnorm[j] == 0 ? 1 : w.acnorm[j];
                w.wa3[j] = w.diag[j] * x[j];
            }
            xnorm = nk_norm(w.wa3, n);
            delta = 100 * xnorm;
            if (delta == 0) delta = 100;
        }
        gnorm = nk_lm_gnorm(n, w.r, w.ipvt, w.acnorm, w.qtf, fnorm);
        if (gnorm <= A->gtol) info = 4;
        if (info) break;
        for (int j = 0; j < n; j++) w.diag[j] = fmax(w.diag[j], w.acnorm[j]);
        double ratio = 0;
        do {
            par = nk_lmpar(NB_N, w.r, w.ipvt, w.diag, w.qtf, delta, par, w.wa1, w.sdiag, w.wa4, w.wa2, w.wa3);
            for (int j = 0; j < n; j++) {
                w.wa1[j] = -w.wa1[j];
                w.xnew[j] = x[j] + w.wa1[j];
                w.wa3[j] = w.diag[j] * w.wa1[j];
            }
            double pnorm = nk_norm(w.wa3, n);
            if (iter == 1) delta = fmin(delta, pnorm);
            double cost_new, chi2_new;
            nb_fill(p, w.xnew);
            int bad = nb_evaluate(f, p, Rnew, &cost_new, &chi2_new, lane, nlanes);
            nfev++;
            double fnorm1 = bad ? NB_INF : sqrt(2 * cost_new);
            double actred, prered;
            ratio = nk_lm_update(n, w.r, w.ipvt, w.wa1, pnorm, fnorm, fnorm1, &par, &delta, &actred, &prered, w.wa3);
            if (ratio >= 1e-4) {
                for (int j = 0; j < n; j++) x[j] = w.xnew[j];
                for (int k = 0; k < NB_NC * NB_NC; k++) R[k] = Rnew[k];
                for (int j = 0; j < n; j++) w.wa2[j] = w.diag[j] * x[j];
                xnorm = nk_norm(w.wa2, n);
                fnorm = fnorm1;
                cost = cost_new;
                iter++;
            }
            if (nfev >= max_nfev && window > 0 && windows < 100 && window_cost - cost > 1e-8 * window_cost) {
                max_nfev += window;
                windows++;
                window_cost = cost;
            }
            info = nk_lm_test(actred, prered, ratio, delta, xnorm, gnorm, A->ftol, A->xtol, nfev, max_nfev);
            if (info) break;
        } while (ratio < 1e-4);
        if (info) break;
    }
    nb_fill(p, x);
    *cost_out = cost;
    *nfev_out = nfev;
    *nit_out = iter - 1;
    return nk_lm_status(info);
}

/* Fit i, on one thread (nlanes 1) or on a warp's 32 lanes in lockstep:
   every lane computes the same numbers, lane 0 writes them. */
__device__ static void nb_run_fit(const nlsq_batch_args *A, unsigned long long i, int lane, int nlanes)
{
    const int np = (int)A->nparams, writer = lane == 0;
    unsigned long long first = A->offsets ? A->offsets[i] : i * A->m;
    unsigned long long len = A->offsets ? A->offsets[i + 1] - first : A->m;
    nb_fit f = {A->x_shared ? A->x : A->x + first,
                A->y + first,
                A->sigma ? A->sigma + first : 0,
                A->xstride,
                len,
                A->policy == 1};
    double p[NLSQ_NPARAMS], x[NB_N], R[NB_NC * NB_NC];
    for (int j = 0; j < np; j++) p[j] = A->p0[i * np + j];
    for (int a = 0; a < NB_N; a++) x[a] = p[nb_cols[a]];
    double *popt = A->popt + i * np;
    if (writer) {
        for (int j = 0; j < np; j++) popt[j] = p[j];
        A->nfev[i] = A->nit[i] = 0;
        A->pcov_valid[i] = 0;
        A->cost[i] = A->chi2[i] = NB_NAN;
    }
    /* the data check of a single fit: sigma > 0; NaN/Inf by the policy
       (in a warp, each lane checks its points; the counts are summed) */
    double usable = 0, refusals = 0;
    for (unsigned long long k = (unsigned long long)lane; k < len; k += (unsigned long long)nlanes) {
        if (f.sigma && (double)f.sigma[k] <= 0) refusals++;
        int ok = A->policy == 2 || nb_point_usable(&f, k);
        if (!ok && A->policy == 0) refusals++;
        usable += ok;
    }
    if (nlanes > 1) {
        usable = nb_warp_sum(usable, lane);
        refusals = nb_warp_sum(refusals, lane);
    }
    unsigned long long used = refusals > 0 ? 0 : (unsigned long long)usable;
    if (writer) A->m_used[i] = (long long)used;
    int status;
    double cost = NB_NAN;
    if (used == 0 || used < NB_N) {
        status = NB_BAD_DATA;
    } else {
        int nfev, nit;
        status = nb_solve(A, &f, p, x, R, &cost, &nfev, &nit, lane, nlanes);
        if (status != NB_NONFINITE && writer) {
            for (int j = 0; j < np; j++) popt[j] = p[j];
            A->cost[i] = cost;
            A->chi2[i] = 2 * cost;
            A->nfev[i] = nfev;
            A->nit[i] = nit;
        }
    }
    if (writer) A->status[i] = status;
    if (!A->perr || !writer) return;
    double *perr = A->perr + i * np, *pcov = A->pcov ? A->pcov + i * np * np : 0;
    int ran = status > NB_BAD_DATA && status != NB_NONFINITE;
    for (int j = 0; j < np; j++) perr[j] = ran ? 0 : NB_NAN;
    for (int k = 0; pcov && k < np * np; k++) pcov[k] = ran ? 0 : NB_NAN;
    if (!ran) return;
    double cov[NB_N * NB_N];
    double Ri[NB_N * NB_N];
    int ok = nk_covariance_inverse(R, NB_NC, NB_N, used, cov, Ri); /* result.c's, for lm */
    double scale = 1;
    if (ok && !A->absolute_sigma) {
        if (used > (unsigned long long)NB_N)
            scale = 2 * cost / (double)(used - NB_N);
        else
            ok = 0;
    }
    A->pcov_valid[i] = ok;
    for (int a = 0; a < NB_N; a++) {
        int ja = nb_cols[a];
        perr[ja] = sqrt(ok ? cov[a * NB_N + a] * scale : NB_INF);
        for (int c = 0; pcov && c < NB_N; c++) pcov[ja * np + nb_cols[c]] = ok ? cov[a * NB_N + c] * scale : NB_INF;
    }
}

extern "C" __global__ void nlsq_batch(const nlsq_batch_args *A)
{
    unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < A->nfits) nb_run_fit(A, i, 0, 1);
}

/* Launched with a multiple of 32 threads a block: a warp's lanes share
   one fit and leave together. */
extern "C" __global__ void nlsq_batch_warp(const nlsq_batch_args *A)
{
    unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t / 32 < A->nfits) nb_run_fit(A, t / 32, (int)(t % 32), 32);
}
