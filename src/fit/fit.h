/* The fit layer: curve_fit semantics over the pass and the solvers. */
#ifndef NLSQ_FIT_FIT_H
#define NLSQ_FIT_FIT_H

#include "exec/exec.h"
#include "exec/jit.h"
#include "solve/solve.h"

typedef struct fit_problem {
    const nlsq_model *model;
    const nlsq_data *data;
    nlsq_options opt;
    int n, n_free, omit;
    size_t m_used;
    nlsq_method method;
    double *mem;          /* owns p, lb, ub, x, R, free_idx             */
    double *p;            /* the full parameter vector                   */
    double *lb, *ub;      /* n bounds                                    */
    double *x;            /* n_free solver variables                     */
    double *lbf, *ubf, *xsf; /* their bounds and x_scale                */
    double *R;            /* (n_free+1)^2 R_aug at the solution          */
    int *free_idx;
    pass ps;
    pass_arrays pa;
    pass_data pd;
    pool *pool;           /* the pass's threads, NULL for one             */
    int threads;
    jit_entry *jit;       /* the model's compiled kernel, or NULL         */
    int jit_quiet;        /* only the cache was asked: no note unless used */
    double *L, *wf, *wJ, *wA; /* covariance sigma: Cholesky factor, f, J, rows */
} fit_problem;

/* trf unless lm is allowed (no finite bound, linear loss), then lm. */
nlsq_method fit_default_method(int bounded, nlsq_loss loss);
/* Fill tolerances left negative with the method's SciPy default. */
void fit_default_tolerances(nlsq_method method, solve_options *so);

nlsq_status fit_solve(fit_problem *fp, solve_problem *pb, nlsq_result **out, nlsq_error *err);
nlsq_status fit_make_result(fit_problem *fp, const solve_result *sr, const double *lbf, const double *ubf,
                            double xtol, nlsq_result **out, nlsq_error *err);

#endif
