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
    /* the shared pass, when not pass_run_many on lp->ps (NULL): a GPU's
       K-vector pass, which sets pm->read_failed when it fails */
    void (*run_many)(void *ctx, const pass_data *pd, pass_many *pm);
    void *many_ctx;
} lockstep_problem;

/* K local fits from X (K x nf, row k the free parameters of start k; out:
   where each ended) in lockstep, one shared pass per round of
   evaluations. cost[k]: out, the final cost (NaN where the fit could not
   start); sr (may be NULL): each fit's solver result. 0, or -1 when out
   of memory or a thread could not start. */
int lockstep_run(const lockstep_problem *lp, int K, double *X, double *cost, solve_result *sr);

/* The space the end points live in: n parameters, the nf free ones at
   free_idx (the others at p_full's values), their search box lo, hi. */
typedef struct minima_space {
    int n, nf;
    const int *free_idx;
    const double *p_full;
    const double *lo, *hi;
} minima_space;

/* minima.c: K end points (X, K x nf; cost, NaN where a start failed)
   clustered into a new summary: starts, at_best, the minima best first,
   n and the search box filled; the rest zero. NULL when out of memory. */
nlsq_global_summary *minima_cluster(const minima_space *sp, const double *X, const double *cost, int K);

#endif
