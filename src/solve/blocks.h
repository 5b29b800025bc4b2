/*
 * R_aug held by structure: the shared-parameter fit's (src/fit/shared.c).
 *
 * D data sets share ns parameters; set d also has nl[d] of its own. The
 * stacked Jacobian is block-sparse (each set's rows touch its locals and
 * the shared columns), so its R is never formed. A pass leaves instead one
 * small triangle per set, folded from that set's rows with its columns in
 * the order [locals | shared | r]:
 *
 *     T_d = [ R_LL  R_LS  q_L ]
 *           [  0    R_SS  q_S ]
 *           [  0     0    rho ]
 *
 * Its lower-right block is the set's Schur complement in square-root form
 * (R_SS^T R_SS = J_S^T J_S - R_LS^T R_LS): the locals are already
 * eliminated. Folding every set's [R_SS q_S; 0 rho] into one triangle
 * gives the shared system; its solution, back-substituted set by set,
 * gives the local steps. Damped and scaled systems (trust-region steps)
 * fold their diagonal rows into each set's locals before the merge and
 * into the merged triangle after it. Everything is O(D k^3) for
 * k = nl + ns, and every loop runs in set order: the results do not
 * depend on the thread count.
 *
 * The unknowns x are laid out set by set, then the shared ones:
 * [locals of set 0 | locals of set 1 | ... | shared].
 */
#ifndef NLSQ_SOLVE_BLOCKS_H
#define NLSQ_SOLVE_BLOCKS_H

#include <stddef.h>

typedef struct solve_blocks {
    size_t nsets;
    int ns;             /* shared unknowns: the last ns of x               */
    const int *nl;      /* nsets: each set's local unknowns                 */
    const size_t *x_at; /* nsets + 1: set d's locals start at x[x_at[d]];
                           the shared ones at x_at[nsets]                  */
    const size_t *R_at; /* nsets + 1: set d's triangle T_d, (nl[d]+ns+1)^2
                           column-major, at R + R_at[d]; R_at[nsets] is the
                           doubles one R_aug holds                          */
    size_t rows;        /* sum of nl[d] + ns: the length of J s in R form  */
    size_t m;           /* residuals in all, for rank thresholds           */
    /* the factored system (blocks_factor), owned: blocks_alloc */
    double *F;  /* R_at[nsets]: each T_d scaled and damped         */
    double *S;  /* (ns+1)^2: the merged shared triangle            */
    double *a;  /* a row being folded: max k + 1                   */
    double *zs; /* ns                                               */
    double pivot_min, pivot_max; /* |pivots| of the latest factor       */
} solve_blocks;

/* The unknowns in all: x_at[nsets] + ns. */
size_t blocks_unknowns(const solve_blocks *bk);
/* The work arrays; 0, or -1 when out of memory. */
int blocks_alloc(solve_blocks *bk);
void blocks_free(solve_blocks *bk);

/* g = J^T r (R form: each set's R11^T qtf, the shared parts summed in set
   order). */
void blocks_gradient(const solve_blocks *bk, const double *R, double *g);
/* The column norms of J. */
void blocks_col_norms(const solve_blocks *bk, const double *R, double *norms);
/* out (bk->rows) = R11 v set by set: ||out|| = ||J v||, out . out' = (J v) . (J v'). */
void blocks_r_times(const solve_blocks *bk, const double *R, const double *v, double *out);

/*
 * Factor [J C; diag(sqrt(e2 + lambda))] (C = diag(c); c NULL: 1; e2 NULL:
 * 0) into bk->F and bk->S. Returns nonzero when every pivot is above the
 * rank threshold (EPS m max|pivot|): the factor is of full rank.
 */
int blocks_factor(solve_blocks *bk, const double *R, const double *c, const double *e2, double lambda);
/* p = the least-squares solution u of the factored system's
   min ||[J C; D] u + [r; 0]||, in the scaled unknowns. */
void blocks_solve(solve_blocks *bk, double *p);
/* ||R^-T p||^2 for the factored R: the secular equation's derivative
   term (p^T (C J^T J C + D^2)^-1 p). p is not changed. */
double blocks_rt_norm2(solve_blocks *bk, const double *p);
/* 1/2 ||P r||^2 of the factored system, over the pivots above the rank
   threshold: the most its linear model can gain. */
double blocks_gauss_newton_gain(const solve_blocks *bk);

/*
 * The covariance (J^T J)^-1 from a factor of R with c and e2 NULL and
 * lambda 0: the shared block (ns x ns, row-major) into cov_ss, and set d's
 * block over [its locals | shared] ((nl+ns)^2, row-major) into cov_d.
 * blocks_cov_shared returns 0, or -1 when the shared triangle is singular.
 * blocks_cov_set returns how many of set d's locals are undetermined (a
 * pivot at or below tiny, blocks_rank_threshold, taken once: it reads
 * every set): their rows and columns are Inf, the rest is the covariance
 * with them held. work holds 3 (nl+ns)^2 + nl doubles.
 */
int blocks_cov_shared(const solve_blocks *bk, double *cov_ss);
int blocks_cov_set(const solve_blocks *bk, size_t d, const double *cov_ss, double tiny, double *cov_d, double *work);
/* EPS m max|pivot| of the factored system: pivots at or below it count
   as zero. */
double blocks_rank_threshold(const solve_blocks *bk);

#endif
