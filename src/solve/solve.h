/*
 * The solvers. They see the problem only through `evaluate`, which returns
 * the cost and R_aug at a point: never data, never m-sized arrays. From
 * R_aug = [R11 qtf; 0 rn] (J = Q R11, qtf = Q^T r): J^T J = R11^T R11,
 * g = J^T r = R11^T qtf, the column norms of J are those of R11, and the
 * SVD of J (or of J D stacked on a diagonal) is the SVD of R11 D.
 */
#ifndef NLSQ_SOLVE_SOLVE_H
#define NLSQ_SOLVE_SOLVE_H

#include <stddef.h>

/* R is (n+1) x (n+1), column-major. Returns 0, or nonzero when the
   residuals or the Jacobian are not finite at x. */
typedef int (*solve_eval_fn)(void *ctx, const double *x, double *cost, double *R);
/* R_aug at x, the point `evaluate` saw last (lm only; see solve_problem).
   final: the fit has ended at x and R holds the last Jacobian taken; the
   callee may leave R as it is when that Jacobian serves as well as a new
   one would (lm counts no calls for it). */
typedef int (*solve_complete_fn)(void *ctx, const double *x, double *R, int final);
typedef int (*solve_callback_fn)(void *ctx, int iteration, double cost, const double *x, double grad_norm,
                                 double step_norm);

typedef struct solve_problem {
    int n;    /* parameters                                   */
    size_t m; /* residuals (points), for rank thresholds      */
    solve_eval_fn evaluate;
    void *ctx;
    const double *lb, *ub; /* n each, +-INFINITY where unbounded; NULL: none */
    /* NULL, or (lm only) a lazy Jacobian: `evaluate` then returns the cost
       alone, and lm asks `complete` for R_aug at the top of an iteration,
       as MINPACK computes J only after the convergence tests. lm then
       counts evaluate as 1 call and complete as complete_calls calls
       against max_nfev, in MINPACK's order (after the convergence tests),
       its default window in calls; R at the solution comes from one more
       complete (final) at the end, outside the count. trf and dogbox need
       neither. */
    solve_complete_fn complete;
    int complete_calls;
    /* NULL, or (trf and lm) R held by structure (blocks.h): every R the
       solver and `evaluate` pass is then blocks->R_at[nsets] doubles in
       its layout, and n is blocks_unknowns(blocks). */
    struct solve_blocks *blocks;
} solve_problem;

typedef struct solve_options {
    double ftol, xtol, gtol;
    int max_nfev;
    const double *x_scale; /* n, or NULL for 1                              */
    int x_scale_jac;
    solve_callback_fn callback;
    void *callback_ctx;
    void *work; /* solve_work_bytes(n) bytes, 8-aligned, for the
                              solver's arrays (batches reuse one per
                              thread), or NULL: allocated per call         */
    int lm_last_jacobian; /* lm: R out is R_aug where J was last taken
                              (MINPACK's fjac), not at the solution       */
    double *R_at;         /* n, or NULL: out, the point R out belongs to  */
} solve_options;

/* The workspace any of the solvers needs for n parameters. */
size_t solve_work_bytes(int n);
/* opt->work zeroed, or a fresh zeroed block (*owned set to it, for free);
   NULL when out of memory. */
void *solve_work_take(const solve_options *opt, size_t bytes, void **owned);

typedef struct solve_result {
    double cost;
    double grad_norm; /* the optimality measure at x                   */
    int status;       /* SciPy's least_squares status (-2 ... 4),
                         SOLVE_NO_REDUCTION or SOLVE_SVD_FAILED        */
    int nfev, njev, nit;
    int start_nonfinite; /* the residuals were not finite at x0            */
} solve_result;

/* x: in, the start (strictly feasible for trf is made here); out, the
   solution. R: out, R_aug at the solution (lm_last_jacobian: see
   solve_options). Returns 0, or -1 when out of
   memory. */
int solve_trf(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res);
int solve_lm(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res);

/* ---- shared pieces (common.c) ----------------------------------------- */

#define SOLVE_EPS 2.220446049250313e-16
/* trf or dogbox stopped: the SVD of its subproblem failed even with the
   fallback (NLSQ_FIT_SVD_FAILED; x is the last accepted point) */
#define SOLVE_SVD_FAILED (-3)
/* The status while a solver runs; left unset only by reaching max_nfev. */
#define SOLVE_RUNNING (-99)
/* trf or dogbox: nothing more to gain at working precision
   (NLSQ_FIT_NO_REDUCTION; see solve_no_reduction) */
#define SOLVE_NO_REDUCTION 5

/*
 * The evaluation budget. An explicit max_nfev is a hard limit. Without
 * one (max_nfev 0) the budget comes in windows of `window` evaluations
 * (SciPy's default: 100 n, lm 100 (n + 1)); at the end of a window the
 * fit gets another window when the cost fell during this one by more
 * than SOLVE_PROGRESS_RTOL of its value at the window's start, up to
 * SOLVE_MAX_WINDOWS windows in all. A fit that still makes progress is
 * not cut off; one that has stalled stops where SciPy's would. 100
 * windows: at 20 a held-out run (dogbox on a logistic from a far start,
 * 81 windows) was cut off while converging; the cap bounds only fits that
 * crawl for ever (docs/solvers-finish.md).
 */
#define SOLVE_PROGRESS_RTOL 1e-8
#define SOLVE_MAX_WINDOWS 100
typedef struct solve_budget {
    int limit;          /* evaluations allowed now                      */
    int window;         /* 0: a hard limit (max_nfev given)             */
    int windows;        /* windows granted so far                       */
    double window_cost; /* the cost when the current window began       */
} solve_budget;

void solve_budget_init(solve_budget *b, int max_nfev, int window, double cost);
/* Nonzero when nfev evaluations use up the budget (extending it first
   when the rule above allows: cost is the current accepted cost). */
int solve_budget_spent(solve_budget *b, int nfev, double cost);

/*
 * The working-precision floor of trf and dogbox, for tolerances too small
 * to be met (MINPACK's info 6 and 7). With F the cost at the current point,
 * a trial step just evaluated from it stops the fit when
 *   (a) gn_gain <= 4 EPS F, the most the local linear model can gain
 *       anywhere (the Gauss-Newton step's predicted reduction,
 *       1/2 ||P f||^2 with P the projector onto the range of J, over the
 *       singular values the step uses), and the trial gained no more,
 *       ared <= 4 EPS F; or
 *   (b) the trial step was at most 4 EPS ||x|| long and did not reduce
 *       the cost (ared <= 0): x cannot move by more than a few ulps.
 * Checked after the user's ftol and xtol tests, so it names only what
 * those did not catch. Returns nonzero when the floor is reached.
 */
int solve_no_reduction(double gn_gain, double ared, double F, double step_norm, double x_norm);

/* g = R11^T qtf */
void solve_gradient(const double *R, int n, double *g);
/* out = R11 v */
void solve_r11_times(const double *R, int n, const double *v, double *out);
/* SciPy's check_termination (0 when no test holds, else 2, 3 or 4), with
   MINPACK's form of the ftol test as well: pred and |dF| both <= ftol F. */
int solve_check_termination(double dF, double F, double dx_norm, double x_norm, double ratio, double ftol, double xtol,
                            double pred);
/* SciPy's update_tr_radius; returns the new radius, sets *ratio. */
double solve_update_radius(double Delta, double ared, double pred, double step_norm, int bound_hit, double *ratio);
double solve_norm(const double *x, int n);
/* The largest t with lb <= x + t s <= ub (inf for s = 0); hits[i] (if not
   NULL) is sign(s_i) for the components that reach a bound at t, else 0. */
double solve_step_to_bound(const double *x, const double *s, const double *lb, const double *ub, int n, double *hits);
/* Minimise a t^2 + b t + c on [lo, hi]: both ends and the interior
   extremum are compared. Returns t, sets *value. */
double solve_minimize_1d(double a, double b, double c, double lo, double hi, double *value);
/* x_scale: the given scales (or 1), or with x_scale_jac SciPy's column
   norms of J (zero columns -> 1), updated as max(old, new) when first = 0. */
void solve_scale(const solve_options *opt, const double *R, int n, int first, double *scale, double *scale_inv);
/* The same from the column norms of J (norms is read only with 'jac'). */
void solve_scale_norms(const solve_options *opt, const double *norms, int n, int first, double *scale,
                       double *scale_inv);
/* An accepted step: R_new becomes R, and the gradient and (with
   x_scale='jac') the scales follow it. */
void solve_accept(const solve_options *opt, double *R, const double *R_new, int n, double *g, double *scale,
                  double *scale_inv);
/* Iteration `iteration` is done: nonzero when the callback stops the fit. */
int solve_callback_stops(const solve_options *opt, int iteration, double cost, const double *x, double grad_norm,
                         double step_norm);
/* Fill the result; a status still SOLVE_RUNNING becomes 0 (max_nfev): the
   loops leave it unset only when the budget is spent. */
void solve_finish(solve_result *res, double cost, double grad_norm, int status, int nfev, int njev, int nit);
int solve_dogbox(const solve_problem *pb, const solve_options *opt, double *x, double *R, solve_result *res);
double solve_norm_inf(const double *x, int n);

#endif
