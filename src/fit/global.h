/* The global search's pieces (global.c, lockstep.c). */
#ifndef NLSQ_FIT_GLOBAL_H
#define NLSQ_FIT_GLOBAL_H

#include "fit.h"

typedef struct lockstep_stats {
    int passes, evaluations, failed;
} lockstep_stats;

/* What every start shares: the pass and its data, the solver and its
   options, the free parameters' bounds, and scratch for K vectors. */
typedef struct lockstep_problem {
    pass *ps;
    const pass_data *pd;
    size_t m_used;
    int n, nf;
    const int *free_idx;
    const double *p_fixed; /* n: the full vector (fixed values in place) */
    const double *lbf, *ubf;
    nlsq_method method;
    solve_options so;
    /* scratch for K vectors: P (K x n), cost, chi2, R (K x (nf+1)^2), bad */
    double *P, *cost, *chi2, *R;
    size_t *bad;
    lockstep_stats *stats;
    /* after every shared pass (may be NULL): nonzero asks every start to
       stop after its current iteration (so.callback then sees *stop) */
    int (*after_pass)(void *ctx);
    void *after_ctx;
    int *stop;
} lockstep_problem;

/* K local fits from X (K x nf, row k the free parameters of start k; out:
   where each ended) in lockstep, one shared pass per round of
   evaluations. cost[k]: out, the final cost (NaN where the fit could not
   start); sr (may be NULL): each fit's solver result. 0, or -1 when out
   of memory or a thread could not start. */
int lockstep_run(const lockstep_problem *lp, int K, double *X, double *cost, solve_result *sr);

#endif
