/*
 * PLACEHOLDER from branch i19-global: the declarations of
 * /work/notes/cmaes_contract.md, so that global.c's call (under
 * #ifdef NLSQ_HAVE_CMAES) can be checked. The real header and cmaes.c come
 * from branch i19-cmaes; on merging, take theirs and drop this file.
 */
#ifndef NLSQ_FIT_CMAES_H
#define NLSQ_FIT_CMAES_H

#include <stdint.h>

typedef int (*cmaes_eval_fn)(void *ctx, const double *X, int count, int n, double *cost);

typedef struct cmaes_options {
    uint64_t seed;
    int max_evals;
    int max_restarts;
    int lambda0;
    double ftol;
    double xtol;
    double target;
} cmaes_options;

cmaes_options cmaes_options_default(void);

typedef struct cmaes_summary {
    int evals, restarts, generations;
    int stop_reason;
} cmaes_summary;

int cmaes_minimize(const cmaes_options *o, int n, const double *x0, const double *sigma0, const double *lo,
                   const double *hi, cmaes_eval_fn eval, void *ctx, double *xbest, double *fbest, cmaes_summary *sum);

#endif
