/*
 * What a chain says: the integrated autocorrelation time (emcee's
 * integrated_time), the effective sample size, posterior mean, sd and
 * quantiles; and the chain as a .npy file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "uncertainty/mcmc.h"

/*
 * emcee's estimate: per walker the normalized autocorrelation function
 * rho_w(t) = sum_i d_i d_{i+t} / sum_i d_i^2 (d the deviations from the
 * walker's mean), f(t) their mean over the walkers, tau(M) = 1 + 2
 * sum_{t=1..M} f(t), and the window M the first lag with M >= c tau(M)
 * (Sokal's rule). The sums are direct, lag by lag, and stop at the
 * window: O(len x window) per walker, no FFT, the same numbers. Where the
 * window never closes the last lag's tau is returned (emcee would return
 * tau(0) = 1 and then complain the chain is too short; the caller's
 * 50-tau check says so here).
 */
double nlsq_autocorr_time(const double *x, size_t len, int walkers, size_t stride_t, size_t stride_w, double c)
{
    if (len < 2 || walkers < 1 || !(c > 0)) return NAN;
    double *d = malloc(len * (size_t)walkers * sizeof *d), *v0 = malloc((size_t)walkers * sizeof *v0);
    if (!d || !v0) {
        free(d);
        free(v0);
        return NAN;
    }
    int used = 0; /* walkers that move: a constant series has no correlation to speak of */
    for (int w = 0; w < walkers; w++) {
        double *dw = d + (size_t)used * len, mean = 0, ss = 0;
        for (size_t t = 0; t < len; t++) mean += x[(size_t)w * stride_w + t * stride_t];
        mean /= (double)len;
        for (size_t t = 0; t < len; t++) {
            dw[t] = x[(size_t)w * stride_w + t * stride_t] - mean;
            ss += dw[t] * dw[t];
        }
        if (ss > 0) v0[used++] = ss;
    }
    double tau = NAN;
    if (used > 0) {
        double cum = 1; /* f(0) */
        tau = 1;
        for (size_t lag = 1; lag < len; lag++) {
            double f = 0;
            for (int w = 0; w < used; w++) {
                const double *dw = d + (size_t)w * len;
                double s = 0;
                for (size_t i = 0; i + lag < len; i++) s += dw[i] * dw[i + lag];
                f += s / v0[w];
            }
            cum += f / used;
            tau = 2 * cum - 1;
            if ((double)lag >= c * tau) break;
        }
    }
    free(d);
    free(v0);
    return tau;
}

nlsq_mcmc_result *mcmc_result_alloc(int n, int walkers, int kept)
{
    nlsq_mcmc_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    size_t N = (size_t)n, W = (size_t)walkers, K = (size_t)kept;
    r->n = n;
    r->walkers = walkers;
    r->kept = kept;
    r->chain = malloc(K * W * N * sizeof *r->chain);
    r->log_prob = malloc(K * W * sizeof *r->log_prob);
    r->acceptance = calloc(W, sizeof *r->acceptance);
    r->tau = calloc(4 * N + NLSQ_MCMC_NQUANT * N, sizeof *r->tau);
    if (!r->chain || !r->log_prob || !r->acceptance || !r->tau) {
        nlsq_mcmc_result_free(r);
        return NULL;
    }
    r->ess = r->tau + N;
    r->mean = r->ess + N;
    r->sd = r->mean + N;
    r->quantiles = r->sd + N;
    return r;
}

void nlsq_mcmc_result_free(nlsq_mcmc_result *r)
{
    if (!r) return;
    free(r->chain);
    free(r->log_prob);
    free(r->acceptance);
    free(r->tau); /* ess, mean, sd and quantiles share its block */
    free(r);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default ("linear") quantile of sorted a[0..N). */
static double quantile_sorted(const double *a, size_t N, double p)
{
    double h = (double)(N - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= N) return a[N - 1];
    return a[lo] + (h - (double)lo) * (a[lo + 1] - a[lo]);
}

int mcmc_summarize(nlsq_mcmc_result *r, const unsigned char *is_free, const char *const *names)
{
    static const double levels[NLSQ_MCMC_NQUANT] = {0.025, 0.16, 0.5, 0.84, 0.975};
    size_t n = (size_t)r->n, W = (size_t)r->walkers, K = (size_t)r->kept, N = K * W;
    double *col = malloc(N * sizeof *col);
    if (!col) return -1;
    double acc = 0;
    for (size_t w = 0; w < W; w++) acc += r->acceptance[w];
    r->acceptance_mean = acc / (double)W;
    r->tau_reliable = 1;
    double worst = 0;
    int worst_j = -1;
    for (size_t j = 0; j < n; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < N; i++) col[i] = r->chain[i * n + j];
        for (size_t i = 0; i < N; i++) mean += col[i];
        mean /= (double)N;
        for (size_t i = 0; i < N; i++) ss += (col[i] - mean) * (col[i] - mean);
        r->mean[j] = mean;
        r->sd[j] = N > 1 ? sqrt(ss / (double)(N - 1)) : NAN;
        qsort(col, N, sizeof *col, cmp_double);
        for (int q = 0; q < NLSQ_MCMC_NQUANT; q++)
            r->quantiles[j * NLSQ_MCMC_NQUANT + (size_t)q] = quantile_sorted(col, N, levels[q]);
        if (!is_free[j]) {
            r->tau[j] = r->ess[j] = NAN;
            continue;
        }
        /* walker w's series: chain[(t*W + w)*n + j] */
        r->tau[j] = nlsq_autocorr_time(r->chain + j, K, (int)W, W * n, n, 5.0);
        r->ess[j] = (double)N / r->tau[j];
        if (!(K >= 50 * r->tau[j])) {
            r->tau_reliable = 0;
            if (!(r->tau[j] <= worst)) worst = r->tau[j], worst_j = (int)j;
        }
    }
    free(col);
    if (!r->tau_reliable)
        snprintf(r->warning, sizeof r->warning,
                 "the chain is shorter than 50 autocorrelation times (%zu kept steps; tau %.3g for '%s'): tau and "
                 "ESS are rough, run more steps",
                 K, worst, worst_j >= 0 ? names[worst_j] : "?");
    return 0;
}

/* The .npy v1.0 header for a (kept, walkers, n) float64 array in C
   order: 128 bytes, the length a multiple of 64 as the format asks. */
static void chain_header(unsigned char *h, const nlsq_mcmc_result *r)
{
    uint16_t one = 1;
    unsigned char little;
    memcpy(&little, &one, 1);
    memset(h, ' ', 128);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = 128 - 10;
    h[9] = 0;
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '%sf8', 'fortran_order': False, 'shape': (%d, %d, %d), }",
                       little ? "<" : ">", r->kept, r->walkers, r->n);
    memcpy(h + 10, dict, (size_t)len);
    h[127] = '\n';
}

nlsq_status nlsq_mcmc_write_npy(const nlsq_mcmc_result *r, const char *path, nlsq_error *err)
{
    error_clear(err);
    if (!r || !path) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_mcmc_write_npy: %s is NULL", !r ? "result" : "path");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_output *o = NULL;
    nlsq_status st = nlsq_output_open(path, &o, err);
    if (st != NLSQ_OK) return st;
    unsigned char h[128];
    chain_header(h, r);
    FILE *f = nlsq_output_stream(o);
    size_t count = (size_t)r->kept * (size_t)r->walkers * (size_t)r->n;
    fwrite(h, 1, sizeof h, f);
    fwrite(r->chain, sizeof *r->chain, count, f); /* errors: found by the commit */
    return nlsq_output_commit(o, err);
}
