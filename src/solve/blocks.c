/*
 * R_aug held by structure (blocks.h): the arrowhead system of a
 * shared-parameter fit, factored set by set and merged in set order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "kernel/givens.h"
#include "linalg/linalg.h"
#include "solve.h"

static int set_cols(const solve_blocks *bk, size_t d)
{
    return bk->nl[d] + bk->ns;
}

size_t blocks_unknowns(const solve_blocks *bk)
{
    return bk->x_at[bk->nsets] + (size_t)bk->ns;
}

int blocks_alloc(solve_blocks *bk)
{
    int kmax = bk->ns;
    for (size_t d = 0; d < bk->nsets; d++)
        if (set_cols(bk, d) > kmax) kmax = set_cols(bk, d);
    size_t ns1 = (size_t)bk->ns + 1;
    bk->F = malloc((bk->R_at[bk->nsets] + 1) * sizeof *bk->F);
    bk->S = malloc(ns1 * ns1 * sizeof *bk->S);
    bk->a = malloc(((size_t)kmax + 1) * sizeof *bk->a);
    bk->zs = malloc(ns1 * sizeof *bk->zs);
    if (!bk->F || !bk->S || !bk->a || !bk->zs) {
        blocks_free(bk);
        return -1;
    }
    return 0;
}

void blocks_free(solve_blocks *bk)
{
    free(bk->F);
    free(bk->S);
    free(bk->a);
    free(bk->zs);
    bk->F = bk->S = bk->a = bk->zs = NULL;
}

/* The unknown behind column j of set d's triangle. */
static size_t col_unknown(const solve_blocks *bk, size_t d, int j)
{
    return j < bk->nl[d] ? bk->x_at[d] + (size_t)j : bk->x_at[bk->nsets] + (size_t)(j - bk->nl[d]);
}

void blocks_gradient(const solve_blocks *bk, const double *R, double *g)
{
    size_t xs = bk->x_at[bk->nsets];
    for (int j = 0; j < bk->ns; j++) g[xs + (size_t)j] = 0;
    for (size_t d = 0; d < bk->nsets; d++) {
        const double *T = R + bk->R_at[d];
        int k = set_cols(bk, d);
        size_t kc = (size_t)k + 1;
        const double *q = T + (size_t)k * kc;
        for (int j = 0; j < k; j++) {
            double s = 0;
            for (int i = 0; i <= j; i++) s += T[(size_t)j * kc + (size_t)i] * q[i];
            if (j < bk->nl[d])
                g[col_unknown(bk, d, j)] = s;
            else
                g[col_unknown(bk, d, j)] += s;
        }
    }
}

void blocks_col_norms(const solve_blocks *bk, const double *R, double *norms)
{
    size_t xs = bk->x_at[bk->nsets];
    for (int j = 0; j < bk->ns; j++) norms[xs + (size_t)j] = 0;
    for (size_t d = 0; d < bk->nsets; d++) {
        const double *T = R + bk->R_at[d];
        int k = set_cols(bk, d);
        size_t kc = (size_t)k + 1;
        for (int j = 0; j < k; j++) {
            double ss = nk_dot(T + (size_t)j * kc, T + (size_t)j * kc, j + 1);
            if (j < bk->nl[d])
                norms[col_unknown(bk, d, j)] = sqrt(ss);
            else
                norms[col_unknown(bk, d, j)] += ss; /* squares until the end */
        }
    }
    for (int j = 0; j < bk->ns; j++) norms[xs + (size_t)j] = sqrt(norms[xs + (size_t)j]);
}

void blocks_r_times(const solve_blocks *bk, const double *R, const double *v, double *out)
{
    size_t row = 0;
    for (size_t d = 0; d < bk->nsets; d++) {
        const double *T = R + bk->R_at[d];
        int k = set_cols(bk, d);
        size_t kc = (size_t)k + 1;
        for (int i = 0; i < k; i++) {
            double s = 0;
            for (int j = i; j < k; j++) s += T[(size_t)j * kc + (size_t)i] * v[col_unknown(bk, d, j)];
            out[row++] = s;
        }
    }
}

/* ---- the factored system ------------------------------------------------ */

/* Fold the diagonal row sqrt(delta2) e_j into the triangle R (nc columns). */
static void fold_diagonal(double *R, int nc, int j, double delta2, double *a)
{
    if (!(delta2 > 0)) return;
    for (int i = 0; i < nc; i++) a[i] = 0;
    a[j] = sqrt(delta2);
    nk_fold_row_givens(R, nc, a);
}

/*
 * A local the set does not determine (a zero column, or one dependent on
 * the others) leaves a pivot at rounding level whose row still holds the
 * set's information about the later columns: kept there it would be lost
 * to the shared block. Such a row is folded into the rows below it and
 * left zero, as if that local were absent; its pivot then reads as
 * singular (no step along it undamped, Inf error), and the rest of the
 * triangle is exact.
 */
static void fold_down_zero_pivots(double *F, int k, int nl, double *a)
{
    size_t kc = (size_t)k + 1;
    double big = 0;
    for (int i = 0; i < nl; i++) big = fmax(big, fabs(F[(size_t)i * kc + (size_t)i]));
    double tiny = 4 * SOLVE_EPS * (double)kc * big;
    for (int i = 0; i < nl; i++) {
        if (fabs(F[(size_t)i * kc + (size_t)i]) > tiny) continue;
        for (int j = 0; j <= k; j++) {
            a[j] = j > i ? F[(size_t)j * kc + (size_t)i] : 0;
            F[(size_t)j * kc + (size_t)i] = 0;
        }
        nk_fold_row_givens(F, k + 1, a);
    }
}

/* Set d's triangle, its columns scaled and its locals damped, into F;
   then its shared block's rows folded into S. */
static void factor_set(solve_blocks *bk, const double *R, size_t d, const double *c, const double *e2, double lambda)
{
    int k = set_cols(bk, d), nl = bk->nl[d], ns = bk->ns;
    size_t kc = (size_t)k + 1;
    const double *T = R + bk->R_at[d];
    double *F = bk->F + bk->R_at[d];
    for (int j = 0; j < k; j++) {
        double cj = c ? c[col_unknown(bk, d, j)] : 1;
        for (int i = 0; i <= j; i++) F[(size_t)j * kc + (size_t)i] = T[(size_t)j * kc + (size_t)i] * cj;
        for (int i = j + 1; i <= k; i++) F[(size_t)j * kc + (size_t)i] = 0;
    }
    memcpy(F + (size_t)k * kc, T + (size_t)k * kc, kc * sizeof *F);
    for (int j = 0; j < nl; j++)
        fold_diagonal(F, k + 1, j, (e2 ? e2[col_unknown(bk, d, j)] : 0) + lambda, bk->a);
    if (!e2 && lambda == 0) fold_down_zero_pivots(F, k, nl, bk->a); /* a damped pivot is never zero */
    for (int r = nl; r <= k; r++) { /* the Schur block's rows, into S */
        for (int j = 0; j <= ns; j++) bk->a[j] = F[(size_t)(nl + j) * kc + (size_t)r];
        nk_fold_row_givens(bk->S, ns + 1, bk->a);
    }
}

/* The smallest and largest |pivot| of the factored system, gathered as
   it is factored (a sweep of its own would read every set again). */
static void note_pivots(solve_blocks *bk, const double *R, int n, size_t ld)
{
    for (int i = 0; i < n; i++) {
        double v = fabs(R[(size_t)i * ld + (size_t)i]);
        if (!(v >= bk->pivot_min)) bk->pivot_min = v; /* NaN sticks */
        if (v > bk->pivot_max) bk->pivot_max = v;
    }
}

double blocks_rank_threshold(const solve_blocks *bk)
{
    return SOLVE_EPS * (double)bk->m * bk->pivot_max;
}

int blocks_factor(solve_blocks *bk, const double *R, const double *c, const double *e2, double lambda)
{
    int ns = bk->ns;
    size_t ns1 = (size_t)ns + 1, xs = bk->x_at[bk->nsets];
    memset(bk->S, 0, ns1 * ns1 * sizeof *bk->S);
    bk->pivot_min = INFINITY;
    bk->pivot_max = 0;
    for (size_t d = 0; d < bk->nsets; d++) {
        factor_set(bk, R, d, c, e2, lambda);
        note_pivots(bk, bk->F + bk->R_at[d], bk->nl[d], (size_t)set_cols(bk, d) + 1);
    }
    for (int j = 0; j < ns; j++) fold_diagonal(bk->S, ns + 1, j, (e2 ? e2[xs + (size_t)j] : 0) + lambda, bk->a);
    note_pivots(bk, bk->S, ns, ns1);
    double tiny = blocks_rank_threshold(bk);
    return tiny == tiny && bk->pivot_min > tiny; /* NaN pivots: not full rank */
}

void blocks_solve(solve_blocks *bk, double *p)
{
    int ns = bk->ns;
    size_t ns1 = (size_t)ns + 1, xs = bk->x_at[bk->nsets];
    double *ps = p + xs;
    for (int j = 0; j < ns; j++) ps[j] = -bk->S[(size_t)ns * ns1 + (size_t)j];
    tri_solve_upper(bk->S, ns1, ns, ps);
    for (size_t d = 0; d < bk->nsets; d++) {
        int k = set_cols(bk, d), nl = bk->nl[d];
        size_t kc = (size_t)k + 1;
        const double *F = bk->F + bk->R_at[d];
        double *pl = p + bk->x_at[d];
        for (int i = 0; i < nl; i++) {
            double v = F[(size_t)k * kc + (size_t)i];
            for (int j = 0; j < ns; j++) v += F[(size_t)(nl + j) * kc + (size_t)i] * ps[j];
            pl[i] = -v;
        }
        tri_solve_upper(F, kc, nl, pl);
    }
}

double blocks_rt_norm2(solve_blocks *bk, const double *p)
{
    int ns = bk->ns;
    size_t ns1 = (size_t)ns + 1, xs = bk->x_at[bk->nsets];
    double *w = bk->zs, *z = bk->a, sum = 0;
    memcpy(w, p + xs, (size_t)ns * sizeof *w);
    for (size_t d = 0; d < bk->nsets; d++) {
        int k = set_cols(bk, d), nl = bk->nl[d];
        size_t kc = (size_t)k + 1;
        const double *F = bk->F + bk->R_at[d];
        memcpy(z, p + bk->x_at[d], (size_t)nl * sizeof *z);
        tri_solve_upper_trans(F, kc, nl, z);
        sum += nk_dot(z, z, nl);
        for (int j = 0; j < ns; j++) w[j] -= nk_dot(F + (size_t)(nl + j) * kc, z, nl);
    }
    tri_solve_upper_trans(bk->S, ns1, ns, w);
    return sum + nk_dot(w, w, ns);
}

double blocks_gauss_newton_gain(const solve_blocks *bk)
{
    double tiny = blocks_rank_threshold(bk), gain = 0;
    size_t ns1 = (size_t)bk->ns + 1;
    for (size_t d = 0; d < bk->nsets; d++) {
        int k = set_cols(bk, d);
        size_t kc = (size_t)k + 1;
        const double *F = bk->F + bk->R_at[d];
        for (int i = 0; i < bk->nl[d]; i++)
            if (fabs(F[(size_t)i * kc + (size_t)i]) > tiny) gain += F[(size_t)k * kc + (size_t)i] * F[(size_t)k * kc + (size_t)i];
    }
    for (int i = 0; i < bk->ns; i++)
        if (fabs(bk->S[(size_t)i * ns1 + (size_t)i]) > tiny)
            gain += bk->S[(size_t)bk->ns * ns1 + (size_t)i] * bk->S[(size_t)bk->ns * ns1 + (size_t)i];
    return 0.5 * gain;
}

/* ---- covariance -------------------------------------------------------- */

/* inv (n x n, column-major) = R^-1 for the upper triangle R (ld ldr);
   -1 when a pivot is zero or below the rank threshold tiny. */
static int tri_inverse(const double *R, size_t ldr, int n, double tiny, double *inv)
{
    for (int i = 0; i < n; i++)
        if (!(fabs(R[(size_t)i * ldr + (size_t)i]) > tiny)) return -1;
    for (int j = 0; j < n; j++) {
        double *col = inv + (size_t)j * (size_t)n;
        for (int i = 0; i < n; i++) col[i] = i == j;
        tri_solve_upper(R, ldr, n, col);
    }
    return 0;
}

int blocks_cov_shared(const solve_blocks *bk, double *cov_ss)
{
    int ns = bk->ns;
    size_t ns1 = (size_t)ns + 1;
    if (ns == 0) return 0;
    double *inv = malloc((size_t)ns * (size_t)ns * sizeof *inv);
    if (!inv) return -1;
    int rc = tri_inverse(bk->S, ns1, ns, blocks_rank_threshold(bk), inv);
    for (int i = 0; rc == 0 && i < ns; i++) /* (S^-1 S^-T)_ij = sum_l inv_il inv_jl */
        for (int j = 0; j < ns; j++) {
            double s = 0;
            for (int l = 0; l < ns; l++) s += inv[(size_t)l * ns + (size_t)i] * inv[(size_t)l * ns + (size_t)j];
            cov_ss[(size_t)i * ns + (size_t)j] = s;
        }
    free(inv);
    return rc;
}

/*
 * With B = R_LL^-1 R_LS and C_SS the shared covariance:
 *   C_LL = R_LL^-1 R_LL^-T + B C_SS B^T,  C_LS = -B C_SS.
 * A local whose pivot is at or below tiny is undetermined: its row of the
 * triangle was folded into the others (fold_down_zero_pivots), and the
 * covariance is that of the others with it held (for a local the data do
 * not touch, the pseudo-inverse's), Inf in its own rows and columns.
 */
int blocks_cov_set(const solve_blocks *bk, size_t d, const double *cov_ss, double tiny, double *cov_d, double *work)
{
    int nl = bk->nl[d], ns = bk->ns, k = nl + ns, q = 0;
    size_t kc = (size_t)k + 1;
    const double *F = bk->F + bk->R_at[d];
    int *keep = (int *)(work + 3 * (size_t)k * (size_t)k); /* the determined locals */
    for (int i = 0; i < nl; i++)
        if (fabs(F[(size_t)i * kc + (size_t)i]) > tiny) keep[q++] = i;
    /* the determined locals' triangle and their rows of R_LS, compacted */
    double *Rq = work, *inv = Rq + (size_t)q * (size_t)q, *B = inv + (size_t)q * (size_t)q; /* B: q x ns */
    for (int c = 0; c < q; c++)
        for (int r = 0; r < q; r++) Rq[(size_t)c * q + r] = r <= c ? F[(size_t)keep[c] * kc + (size_t)keep[r]] : 0;
    if (tri_inverse(Rq, (size_t)q, q, tiny, inv) != 0) return -1;
    for (int j = 0; j < ns; j++) {
        double *col = B + (size_t)j * (size_t)q;
        for (int r = 0; r < q; r++) col[r] = F[(size_t)(nl + j) * kc + (size_t)keep[r]];
        tri_solve_upper(Rq, (size_t)q, q, col);
    }
    for (int i = 0; i < k * k; i++) cov_d[i] = INFINITY;
    for (int i = 0; i < q + ns; i++)
        for (int j = 0; j < q + ns; j++) {
            double s = 0;
            if (i < q && j < q) {
                for (int l = 0; l < q; l++) s += inv[(size_t)l * q + (size_t)i] * inv[(size_t)l * q + (size_t)j];
                for (int a = 0; a < ns; a++)
                    for (int b = 0; b < ns; b++)
                        s += B[(size_t)a * q + (size_t)i] * cov_ss[(size_t)a * ns + (size_t)b] * B[(size_t)b * q + (size_t)j];
            } else if (i < q) {
                for (int a = 0; a < ns; a++) s -= B[(size_t)a * q + (size_t)i] * cov_ss[(size_t)a * ns + (size_t)(j - q)];
            } else if (j < q) {
                for (int a = 0; a < ns; a++) s -= B[(size_t)a * q + (size_t)j] * cov_ss[(size_t)a * ns + (size_t)(i - q)];
            } else {
                s = cov_ss[(size_t)(i - q) * ns + (size_t)(j - q)];
            }
            int ii = i < q ? keep[i] : nl + (i - q), jj = j < q ? keep[j] : nl + (j - q);
            cov_d[(size_t)ii * k + (size_t)jj] = s;
        }
    return nl - q;
}
