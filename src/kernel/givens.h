/*
 * src/kernel/givens.h — folding one row into a running upper triangle by
 * Givens rotations of (R[k][k], a[k]): the fold of evaluations that hold
 * no block of rows (the CUDA batch kernel's threads, which fold each
 * point's row as it is made, and merge their triangles row by row). Blocks
 * of rows are folded by Householder reflections (householder.h). Host C,
 * spliced into CUDA (see scalar.h for KFN).
 */
#ifndef NLSQ_KERNEL_GIVENS_H
#define NLSQ_KERNEL_GIVENS_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

/* R (nc x nc, column-major, upper) <- the triangle of [R; a]; a is
   destroyed. */
KFN void nk_fold_row_givens(double *R, int nc, double *a)
{
    for (int k = 0; k < nc; k++) {
        if (a[k] == 0) continue;
        double rkk = R[k * nc + k], h = hypot(rkk, a[k]), c = rkk / h, s = a[k] / h;
        R[k * nc + k] = h;
        for (int j = k + 1; j < nc; j++) {
            double t = R[j * nc + k];
            R[j * nc + k] = c * t + s * a[j];
            a[j] = c * a[j] - s * t;
        }
    }
}

#endif
