/*
 * Fits over a group of processes (nlsq_options.group), shared by
 * test_group.c (a group of threads in one process) and tests/mpi/test_mpi.c
 * (ranks of an MPI job): the data of each case, the fit made with a group
 * or without one, and a bitwise comparison of two results. A fit over a
 * group must be the single-process fit to the bit on every process, so
 * each comparison is memcmp of the arrays, not a tolerance.
 */
#ifndef NLSQ_TESTS_GROUP_CASES_H
#define NLSQ_TESTS_GROUP_CASES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models.h"
#include "nlsq.h"

/* The data of one case: k variables (rows of x), y; columns for a source. */
typedef struct gc_data {
    int k;
    size_t m;
    double *x; /* k rows of m */
    double *y;
} gc_data;

/* xorshift64* as check.h's, kept here so that the MPI test needs no harness */
static inline double gc_uniform(unsigned long long *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* The model of reference model `which` (models.h), vars as it says. */
static inline nlsq_model *gc_model(const char *text, const char *vars)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = vars;
    nlsq_model *model = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &mo, &model, &e) != NLSQ_OK) {
        fprintf(stderr, "parse %s: %s\n", text, e.message);
        return NULL;
    }
    return model;
}

/* m points of `model` at p plus noise 0.05; x in [-2, 3] (and y in
   [-2, 2] for a second variable), drawn from `seed`. 0, or -1. */
static inline int gc_make(const nlsq_model *model, const double *p, size_t m, unsigned long long seed, gc_data *d)
{
    d->k = nlsq_model_num_vars(model);
    d->m = m;
    d->x = malloc((m ? m : 1) * (size_t)d->k * sizeof *d->x);
    d->y = malloc((m ? m : 1) * sizeof *d->y);
    if (!d->x || !d->y) return -1;
    unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 88172645463325252ull;
    for (size_t i = 0; i < m; i++) {
        d->x[i] = -2 + 5 * gc_uniform(&s);
        if (d->k > 1) d->x[m + i] = -2 + 4 * gc_uniform(&s);
    }
    nlsq_error e;
    if (m && nlsq_model_eval(model, p, d->x, m, d->y, NULL, &e) != NLSQ_OK) return -1;
    for (size_t i = 0; i < m; i++) d->y[i] += 0.05 * (gc_uniform(&s) - 0.5) * 3.4;
    return 0;
}

static inline void gc_free(gc_data *d)
{
    free(d->x);
    free(d->y);
    d->x = d->y = NULL;
}

/* A source over the arrays of d (x rows, then y); read in place. */
static inline nlsq_source *gc_source(const gc_data *d, size_t rows)
{
    const double *cols[3] = {d->x, d->k > 1 ? d->x + d->m : d->y, d->y};
    nlsq_source *s = NULL;
    nlsq_error e;
    if (nlsq_source_from_arrays(cols, d->k + 1, rows, &s, &e) != NLSQ_OK) {
        fprintf(stderr, "source: %s\n", e.message);
        return NULL;
    }
    return s;
}

/* An .npy (rows, k+1) of d in Fortran order: read in place when mapped. */
static inline int gc_write_npy(const char *path, const gc_data *d)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%zu, %d), }", d->m,
                     d->k + 1);
    int total = (10 + n + 1 + 63) / 64 * 64;
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((total - 10) & 255), (unsigned char)((total - 10) >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n;
    for (int i = 10 + n; i < total - 1; i++) bad |= fputc(' ', f) == EOF;
    bad |= fputc('\n', f) == EOF;
    bad |= fwrite(d->x, sizeof(double), d->m * (size_t)d->k, f) != d->m * (size_t)d->k;
    bad |= fwrite(d->y, sizeof(double), d->m, f) != d->m;
    return fclose(f) != 0 || bad ? -1 : 0;
}

/* The first difference between two results' bits, into why; 0 when they
   are the same (popt, pcov, perr, cost, chi2, counts, status, residuals). */
static inline int gc_differ(const nlsq_result *a, const nlsq_result *b, char *why, size_t size)
{
    if (!a || !b) return snprintf(why, size, "a result is missing"), 1;
    if (a->n != b->n || a->m != b->m) return snprintf(why, size, "n %d/%d, m %zu/%zu", a->n, b->n, a->m, b->m), 1;
    size_t n = (size_t)a->n;
    for (size_t j = 0; j < n; j++)
        if (memcmp(&a->popt[j], &b->popt[j], sizeof(double)) != 0)
            return snprintf(why, size, "popt[%zu] %.17g != %.17g", j, a->popt[j], b->popt[j]), 1;
    if (memcmp(a->pcov, b->pcov, n * n * sizeof(double)) != 0) return snprintf(why, size, "pcov differs"), 1;
    if (memcmp(a->perr, b->perr, n * sizeof(double)) != 0) return snprintf(why, size, "perr differs"), 1;
    if (memcmp(&a->cost, &b->cost, sizeof a->cost) != 0)
        return snprintf(why, size, "cost %.17g != %.17g", a->cost, b->cost), 1;
    if (memcmp(&a->chi2, &b->chi2, sizeof a->chi2) != 0)
        return snprintf(why, size, "chi2 %.17g != %.17g", a->chi2, b->chi2), 1;
    if (memcmp(&a->r2, &b->r2, sizeof a->r2) != 0) return snprintf(why, size, "r2 %.17g != %.17g", a->r2, b->r2), 1;
    if (a->nfev != b->nfev || a->njev != b->njev || a->nit != b->nit || a->status != b->status)
        return snprintf(why, size, "nfev %d/%d njev %d/%d nit %d/%d status %d/%d", a->nfev, b->nfev, a->njev, b->njev,
                        a->nit, b->nit, (int)a->status, (int)b->status),
               1;
    if (a->pcov_valid != b->pcov_valid || a->diag.flags != b->diag.flags)
        return snprintf(why, size, "pcov_valid %d/%d diag %u/%u", a->pcov_valid, b->pcov_valid, a->diag.flags,
                        b->diag.flags),
               1;
    if ((a->residuals == NULL) != (b->residuals == NULL)) return snprintf(why, size, "residuals kept by one only"), 1;
    if (a->residuals && memcmp(a->residuals, b->residuals, a->m * sizeof(double)) != 0) {
        size_t i = 0;
        while (memcmp(&a->residuals[i], &b->residuals[i], sizeof(double)) == 0) i++;
        return snprintf(why, size, "residuals[%zu] %.17g != %.17g", i, a->residuals[i], b->residuals[i]), 1;
    }
    return 0;
}

/* The same for two batch results, fit for fit. */
static inline int gc_batch_differ(const nlsq_batch_result *a, const nlsq_batch_result *b, char *why, size_t size)
{
    if (!a || !b) return snprintf(why, size, "a result is missing"), 1;
    if (a->nfits != b->nfits || a->n != b->n) return snprintf(why, size, "nfits or n differ"), 1;
    size_t F = a->nfits, n = (size_t)a->n;
#define GC_SAME(field, each) \
    if ((a->field == NULL) != (b->field == NULL) || (a->field && F && memcmp(a->field, b->field, F * (each)) != 0)) { \
        for (size_t i = 0; a->field && b->field && i < F; i++) \
            if (memcmp((const char *)a->field + i * (each), (const char *)b->field + i * (each), each) != 0) \
                return snprintf(why, size, #field " of fit %zu differs", i), 1; \
        return snprintf(why, size, #field " differs"), 1; \
    }
    GC_SAME(popt, n * sizeof(double));
    GC_SAME(perr, n * sizeof(double));
    GC_SAME(pcov, n * n * sizeof(double));
    GC_SAME(status, sizeof *a->status);
    GC_SAME(pcov_valid, sizeof *a->pcov_valid);
    GC_SAME(cost, sizeof *a->cost);
    GC_SAME(chi2, sizeof *a->chi2);
    GC_SAME(nit, sizeof *a->nit);
    GC_SAME(nfev, sizeof *a->nfev);
    GC_SAME(m, sizeof *a->m);
    GC_SAME(diag_flags, sizeof *a->diag_flags);
#undef GC_SAME
    if (a->converged != b->converged || a->failed != b->failed)
        return snprintf(why, size, "converged %zu/%zu failed %zu/%zu", a->converged, b->converged, a->failed,
                        b->failed),
               1;
    return 0;
}

/* A batch for the group tests: F fits of the 2-variable model
   a*exp(-b*x) + c*y with per-fit x (two rows), uneven offsets (some fits
   of 5 points, one of none), per-fit p0 and bounds. */
typedef struct gc_batch {
    nlsq_batch b;
    size_t *offsets;
    double *x, *y, *p0, *lower, *upper;
} gc_batch;

static inline const char *gc_batch_model_text(void)
{
    return "a*exp(-b*x) + c*y";
}

static inline int gc_batch_make(size_t F, gc_batch *gb)
{
    memset(gb, 0, sizeof *gb);
    gb->offsets = malloc((F + 1) * sizeof *gb->offsets);
    if (!gb->offsets) return -1;
    gb->offsets[0] = 0;
    for (size_t i = 0; i < F; i++) gb->offsets[i + 1] = gb->offsets[i] + (i % 7 == 3 ? 0 : 5 + (i * 13) % 40);
    size_t total = gb->offsets[F];
    gb->x = malloc(2 * (total ? total : 1) * sizeof *gb->x);
    gb->y = malloc((total ? total : 1) * sizeof *gb->y);
    gb->p0 = malloc(3 * (F ? F : 1) * sizeof *gb->p0);
    gb->lower = malloc(3 * (F ? F : 1) * sizeof *gb->lower);
    gb->upper = malloc(3 * (F ? F : 1) * sizeof *gb->upper);
    if (!gb->x || !gb->y || !gb->p0 || !gb->lower || !gb->upper) return -1;
    unsigned long long s = 12345;
    for (size_t i = 0; i < F; i++) {
        double a = 1 + (double)(i % 5), b = 0.3 + 0.1 * (double)(i % 3), c = 0.5 - 0.1 * (double)(i % 4);
        for (size_t q = gb->offsets[i]; q < gb->offsets[i + 1]; q++) {
            double x = 4 * gc_uniform(&s), y = -1 + 2 * gc_uniform(&s);
            gb->x[q] = x;
            gb->x[total + q] = y;
            gb->y[q] = a * exp(-b * x) + c * y + 0.02 * (gc_uniform(&s) - 0.5);
        }
        double *p = gb->p0 + 3 * i, *lo = gb->lower + 3 * i, *hi = gb->upper + 3 * i;
        p[0] = a * 1.2, p[1] = b * 0.8, p[2] = c + 0.1;
        lo[0] = 0, lo[1] = 0, lo[2] = -5;
        hi[0] = 10, hi[1] = i % 2 ? 0.9 * b : 5, hi[2] = 5; /* odd fits end at a bound */
        if (hi[1] <= p[1]) p[1] = 0.5 * hi[1];
    }
    gb->b = nlsq_batch_default();
    gb->b.nfits = F;
    gb->b.offsets = gb->offsets;
    gb->b.x = gb->x;
    gb->b.y = gb->y;
    gb->b.p0 = gb->p0;
    gb->b.lower = gb->lower;
    gb->b.upper = gb->upper;
    return 0;
}

static inline void gc_batch_free(gc_batch *gb)
{
    free(gb->offsets);
    free(gb->x);
    free(gb->y);
    free(gb->p0);
    free(gb->lower);
    free(gb->upper);
}

/* The same for bootstrap results. */
static inline int gc_boot_differ(const nlsq_bootstrap_result *a, const nlsq_bootstrap_result *b, char *why, size_t size)
{
    if (!a || !b) return snprintf(why, size, "a result is missing"), 1;
    size_t n = (size_t)a->n, N = a->replicas;
    if (a->n != b->n || N != b->replicas || a->converged != b->converged || a->failed != b->failed ||
        a->jackknife != b->jackknife || a->jackknife_failed != b->jackknife_failed)
        return snprintf(why, size, "counts differ"), 1;
    if (memcmp(a->samples, b->samples, N * n * sizeof(double)) != 0) return snprintf(why, size, "samples differ"), 1;
    if (memcmp(a->status, b->status, N * sizeof *a->status) != 0) return snprintf(why, size, "status differs"), 1;
    const double *const pa[] = {a->perr, a->bias, a->lower, a->upper, a->bca_lower, a->bca_upper, a->z0, a->accel};
    const double *const pb[] = {b->perr, b->bias, b->lower, b->upper, b->bca_lower, b->bca_upper, b->z0, b->accel};
    for (int k = 0; k < 8; k++)
        if (memcmp(pa[k], pb[k], n * sizeof(double)) != 0) return snprintf(why, size, "statistic %d differs", k), 1;
    return 0;
}

#endif
