/*
 * src/kernel/dot.h — dot products and norms in one fixed order of
 * additions: the fold, the pass's row sums, the solvers and every
 * compiled kernel (C and CUDA) form their sums here, so a sum has the
 * same bits wherever it is taken. Host C, spliced into the JIT's C and
 * into CUDA (see scalar.h for KFN). KFN_OUTLINE marks the functions the
 * C kernels keep out of line (each inlined copy would be compiled again,
 * and compile time is part of a kernel's cost).
 */
#ifndef NLSQ_KERNEL_DOT_H
#define NLSQ_KERNEL_DOT_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#include <stddef.h>
#endif
#ifndef KFN
#define KFN static inline
#endif
#ifndef KFN_OUTLINE
#define KFN_OUTLINE KFN
#endif

/* sum a[i]*b[i] in four partial sums (lane i % 4, the tail in lane 0),
   added as (s0 + s1) + (s2 + s3): independent chains of additions, one
   fixed order. */
KFN_OUTLINE double nk_dot4(const double *a, const double *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* sum a[i]*b[i] in index order: the solvers' short products over
   parameters (trf, dogbox, the SVD's rotations), whose order was always
   this one. */
KFN double nk_dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* The scaled sum of squares of LAPACK's dnrm2: immune to overflow and
   underflow, but a division per element. */
KFN_OUTLINE double nk_norm_scaled(const double *x, size_t n)
{
    double scale = 0, ssq = 1;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        if (a == 0) continue;
        if (isnan(a)) return a;
        if (scale < a) {
            ssq = 1 + ssq * (scale / a) * (scale / a);
            scale = a;
        } else {
            ssq += (a / scale) * (a / scale);
        }
    }
    return scale * sqrt(ssq);
}

/* ||x||: the plain sum of squares is exact enough unless it overflows or
   enters the subnormal range; only then pay for scaling. */
KFN double nk_norm_from_ssq(const double *x, size_t n, double ssq)
{
    if (ssq > 0x1p-900 && ssq < 0x1p900) return sqrt(ssq);
    if (ssq == 0) return 0;
    return nk_norm_scaled(x, n);
}

KFN double nk_norm(const double *x, size_t n)
{
    return nk_norm_from_ssq(x, n, nk_dot4(x, x, n));
}

#endif
