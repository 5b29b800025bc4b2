/*
 * CMA-ES with BIPOP restarts: a derivative-free global minimiser over a
 * finite box, for the global search (issue 19) where local starts fail.
 * Internal to the library (not public API); docs/cmaes.md describes it.
 *
 *   Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772
 *     (the (mu/mu_w, lambda) strategy, its default parameters, the
 *     rank-one and rank-mu updates and cumulative step-size adaptation);
 *   Hansen, "Benchmarking a BI-Population CMA-ES on the BBOB-2009
 *     Function Testbed", GECCO 2009 (the BIPOP restart regimes).
 *
 * Each generation asks the caller for the costs of all lambda candidates
 * in one call, so the caller can evaluate them in one pass over the data.
 * Results depend on the options (the seed among them) and the callback's
 * answers alone: no clock, no global state, no threads.
 */
#ifndef NLSQ_FIT_CMAES_H
#define NLSQ_FIT_CMAES_H

#include <stdint.h>

/* Costs of `count` candidate parameter vectors X[count*n] (row k at X + k*n)
   into cost[count]; a non-finite cost marks a point that cannot be evaluated
   (it ranks after every finite one). 0, or nonzero to stop the search (an
   error or a cancel): cmaes_minimize then returns that value. The candidates
   always lie inside the box [lo, hi]. */
typedef int (*cmaes_eval_fn)(void *ctx, const double *X, int count, int n, double *cost);

/* Told at the end of every run (optional): its index from 0, population,
   best repaired point and cost (+inf if none was finite) and enum
   cmaes_run_stop; the caller can collect the distinct minima the restarts
   found. */
typedef void (*cmaes_run_fn)(void *ctx, int run, int lambda, const double *xbest, double fbest, int run_stop);

typedef struct cmaes_options {
    uint64_t seed;    /* results depend on the seed alone (no time, no threads)           */
    int max_evals;    /* total candidate evaluations over all restarts; never exceeded
                         (0: 1000 n^2, at least 10^4, at most 10^7)                       */
    int max_restarts; /* large-population (doubling) BIPOP restarts (default 9); the
                         small-population runs between them are not counted (Hansen 2009).
                         0: one run only                                                  */
    int lambda0;      /* default population (0: 4 + floor(3 ln n))                        */
    double ftol;      /* stop a run when the generations' best costs of the last
                         10 + ceil(30 n / lambda) generations, and this generation's
                         costs, lie within ftol*|f| of each other (default 1e-12)         */
    double xtol;      /* stop a run when sigma*max(sqrt(diag C)) and sigma*|p_c| are below
                         xtol (in units of sigma0 per coordinate; default 1e-11)          */
    double target;    /* stop everything when a cost <= target (default -inf)             */
    /* added after the contract: */
    cmaes_run_fn on_run; /* NULL (default), or called with eval's ctx after each run      */
} cmaes_options;

cmaes_options cmaes_options_default(void);

/* Why the whole search stopped (cmaes_summary.stop_reason). */
enum cmaes_stop {
    CMAES_STOP_TARGET = 1,       /* a cost reached options.target                   */
    CMAES_STOP_MAX_EVALS = 2,    /* the next generation would exceed max_evals      */
    CMAES_STOP_MAX_RESTARTS = 3, /* the large-population regime used its restarts   */
    CMAES_STOP_CALLBACK = 4,     /* eval returned nonzero (that value is returned)  */
    CMAES_STOP_NO_MEMORY = 5,    /* returned -1                                     */
    CMAES_STOP_BAD_INPUT = 6     /* returned -2: see cmaes_minimize                 */
};

/* Why a single run ended (cmaes_summary.last_run_stop, run_stops[]). */
enum cmaes_run_stop {
    CMAES_RUN_FTOL = 0,            /* best costs flat over the history (TolHistFun)    */
    CMAES_RUN_XTOL = 1,            /* the distribution is smaller than xtol (TolX)     */
    CMAES_RUN_CONDITION = 2,       /* cond(C) > 1e14 (ConditionCov)                    */
    CMAES_RUN_NO_EFFECT_AXIS = 3,  /* 0.1 sigma along a principal axis leaves m as is  */
    CMAES_RUN_NO_EFFECT_COORD = 4, /* 0.2 sigma along a coordinate leaves m as is     */
    CMAES_RUN_MAX_GENERATIONS = 5, /* 100 + 50 (n+3)^2 / sqrt(lambda) generations     */
    CMAES_RUN_TOL_UP_SIGMA = 6,    /* sigma grew by 1e20: the run diverged             */
    CMAES_RUN_NO_FINITE_COST = 7,  /* no candidate of a generation had a finite cost   */
    CMAES_RUN_EIGEN_FAILED = 8,    /* C lost symmetry or finiteness                    */
    CMAES_RUN_BUDGET = 9,          /* the whole search stopped inside this run         */
    CMAES_RUN_STOP_KINDS = 10
};

typedef struct cmaes_summary {
    int evals, restarts, generations; /* restarts: all, large and small regimes */
    int stop_reason;                  /* enum cmaes_stop                          */
    /* added after the contract: */
    int last_run_stop;                   /* enum cmaes_run_stop of the last run      */
    int large_runs, small_runs;          /* runs of each regime (the first is large) */
    int largest_lambda;                  /* the largest population used              */
    int run_stops[CMAES_RUN_STOP_KINDS]; /* how many runs ended for each reason   */
} cmaes_summary;

/*
 * Minimises over the box [lo, hi] (finite, lo[i] <= hi[i]), starting from the
 * mean x0 (moved into the box if outside) with per-coordinate step sigma0[n]
 * (> 0, finite; the search runs in coordinates scaled by sigma0, i.e. starts
 * from C = diag(sigma0^2)). Restarts start from a uniform random point of the
 * box. Bounds: each candidate is repaired into the box (clamped per
 * coordinate) and the repaired point is evaluated; the ranking adds a penalty
 * gamma * |x - repaired x|^2 (scaled coordinates), whose weight gamma is set
 * from the spread of the costs and grows while the mean lies outside the box
 * (Hansen et al. 2009, "A method for handling uncertainty in evolutionary
 * optimization", boundary handling of cmaes.m). The distribution is updated
 * with the unrepaired samples. xbest always lies in the box.
 * Writes the best point to xbest and its cost to fbest (+inf and x0 when no
 * cost was finite), and sum (may be NULL). Returns 0 on success, -1 out of
 * memory, -2 bad input (n < 1, a bound, x0 or sigma0 not finite, lo > hi,
 * sigma0 <= 0, a NULL pointer, max_evals < 0), or the eval callback's nonzero
 * return (xbest/fbest then hold the best found before it).
 */
int cmaes_minimize(const cmaes_options *o, int n, const double *x0, const double *sigma0, const double *lo,
                   const double *hi, cmaes_eval_fn eval, void *ctx, double *xbest, double *fbest, cmaes_summary *sum);

#endif
