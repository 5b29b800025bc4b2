/*
 * src/kernel/loss.h — the robust losses, applied per point inside a pass.
 * With z = (r/C)^2 and C = f_scale, as SciPy's least_squares: rho(z),
 * rho'(z), rho''(z), then rho *= C^2, rho'' /= C^2, and the row is
 * rescaled by s = sqrt(max(rho' + 2 rho'' r^2, EPS)): r <- r rho'/s,
 * J_row <- s J_row. Host C (the pass, the batch) and spliced into the CUDA
 * pass kernel (see scalar.h for KFN); the loss numbers are nlsq_loss's.
 */
#ifndef NLSQ_KERNEL_LOSS_H
#define NLSQ_KERNEL_LOSS_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

enum { NK_LOSS_LINEAR, NK_LOSS_SOFT_L1, NK_LOSS_HUBER, NK_LOSS_CAUCHY, NK_LOSS_ARCTAN };

KFN void nk_loss_eval(int loss, double z, double *rho, double *d1, double *d2)
{
    switch (loss) {
    case NK_LOSS_SOFT_L1: {
        double t = 1 + z;
        *rho = 2 * (sqrt(t) - 1);
        *d1 = 1 / sqrt(t);
        *d2 = -0.5 * *d1 / t;
        return;
    }
    case NK_LOSS_HUBER:
        if (z <= 1) {
            *rho = z;
            *d1 = 1;
            *d2 = 0;
        } else {
            double sz = sqrt(z);
            *rho = 2 * sz - 1;
            *d1 = 1 / sz;
            *d2 = -0.5 * *d1 / z;
        }
        return;
    case NK_LOSS_CAUCHY:
        *rho = log1p(z);
        *d1 = 1 / (1 + z);
        *d2 = -*d1 * *d1;
        return;
    case NK_LOSS_ARCTAN:
        *rho = atan(z);
        *d1 = 1 / (1 + z * z);
        *d2 = -2 * z * *d1 * *d1;
        return;
    default:
        *rho = z;
        *d1 = 1;
        *d2 = 0;
    }
}

/* Rescale *r for the loss, add 1/2 C^2 rho to *cost; the row's factor s. */
KFN double nk_loss_scale_row(int loss, double f_scale, double *r, double *cost)
{
    double c2 = f_scale * f_scale, z = (*r * *r) / c2, rho, d1, d2;
    nk_loss_eval(loss, z, &rho, &d1, &d2);
    *cost += 0.5 * c2 * rho;
    double s = d1 + 2 * (d2 / c2) * *r * *r;
    if (s < 2.220446049250313e-16) s = 2.220446049250313e-16; /* DBL_EPSILON */
    s = sqrt(s);
    *r *= d1 / s;
    return s;
}

#endif
