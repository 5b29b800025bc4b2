/*
 * src/kernel/sum.h — Neumaier's compensated sum: the total of many block
 * sums is then exact to about one rounding, so that near convergence the
 * difference of two costs (the actual reduction) is not rounding noise,
 * even at 10^9 points. The pass (src/exec/pass.c) and the C kernels add
 * their block sums with this one function, so both sum alike. Host C,
 * spliced into the JIT's C (see scalar.h for KFN).
 */
#ifndef NLSQ_KERNEL_SUM_H
#define NLSQ_KERNEL_SUM_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

typedef struct nk_ksum {
    double sum, comp;
} nk_ksum;

KFN void nk_ksum_add(nk_ksum *k, double v)
{
    double t = k->sum + v;
    if (fabs(k->sum) >= fabs(v))
        k->comp += (k->sum - t) + v;
    else
        k->comp += (v - t) + k->sum;
    k->sum = t;
}

#endif
