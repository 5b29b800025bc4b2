/*
 * src/kernel/runs.h — the sums behind the residual diagnostics (a
 * Wald-Wolfowitz runs test on the residuals' signs, and their lag-1
 * autocorrelation), gathered in data order. An accumulator covers a
 * contiguous range of points; two adjacent ranges merge exactly (the
 * counts add, a run that crosses the border is counted once, the product
 * across it is added), so a pass can gather one per chunk and merge them
 * in chunk order: the same numbers on any thread count. Host C only.
 */
#ifndef NLSQ_KERNEL_RUNS_H
#define NLSQ_KERNEL_RUNS_H

#include <math.h>
#include <stddef.h>

typedef struct nk_runs {
    size_t count;              /* finite residuals                              */
    size_t n_pos, n_neg;       /* of them, positive and negative                */
    size_t runs;               /* runs of one sign (zeros skipped)             */
    int first_sign, last_sign; /* of the first and last nonzero residual   */
    double first, last;        /* the first and last finite residual           */
    double s11, s2;            /* sum r_i r_(i+1), sum r_i^2                    */
} nk_runs;

/* One more residual, after those already added; non-finite ones (omitted
   points) are skipped. */
static inline void nk_runs_add(nk_runs *a, double r)
{
    if (!isfinite(r)) return;
    if (a->count)
        a->s11 += a->last * r;
    else
        a->first = r;
    a->last = r;
    a->count++;
    a->s2 += r * r;
    int s = (r > 0) - (r < 0);
    if (!s) return;
    if (s != a->last_sign) a->runs++;
    if (!a->first_sign) a->first_sign = s;
    a->last_sign = s;
    if (s > 0)
        a->n_pos++;
    else
        a->n_neg++;
}

/* a <- a followed by b (b covers the points right after a's). */
static inline void nk_runs_merge(nk_runs *a, const nk_runs *b)
{
    if (!b->count) return;
    if (!a->count) {
        *a = *b;
        return;
    }
    a->s11 += b->s11 + a->last * b->first;
    a->s2 += b->s2;
    a->count += b->count;
    a->n_pos += b->n_pos;
    a->n_neg += b->n_neg;
    a->runs += b->runs - (a->last_sign && a->last_sign == b->first_sign);
    if (!a->first_sign) a->first_sign = b->first_sign;
    if (b->last_sign) a->last_sign = b->last_sign;
    a->last = b->last;
}

#endif
