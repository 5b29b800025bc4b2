/*
 * The pass: one sweep over the points at given parameters, producing the
 * cost and R_aug, the triangular factor of the weighted, loss-scaled rows
 * [J | r]. Each block of points is evaluated by the interpreter, turned
 * into rows in a small column-major buffer and folded into the running
 * triangle at once (qr_fold), so no m-sized array is ever written.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "linalg/linalg.h"

int pass_init(pass *ps, const program *p, const vmath *vm, const int *cols, int ncols, nlsq_loss loss,
              double f_scale)
{
    memset(ps, 0, sizeof *ps);
    if (interp_init(&ps->it, p, vm) != 0) return -1;
    ps->ncols = ncols;
    ps->loss = loss;
    ps->f_scale = f_scale;
    ps->cols = malloc((size_t)(ncols ? ncols : 1) * sizeof *ps->cols);
    /* the rows, plus one column of weights for make_rows_linear */
    ps->block = malloc((size_t)NLSQ_BLOCK * (size_t)(ncols + 2) * sizeof *ps->block);
    if (!ps->cols || !ps->block) {
        pass_free(ps);
        return -1;
    }
    memcpy(ps->cols, cols, (size_t)ncols * sizeof *cols);
    return 0;
}

void pass_free(pass *ps)
{
    interp_free(&ps->it);
    free(ps->cols);
    free(ps->block);
    ps->cols = NULL;
    ps->block = NULL;
}

static int row_is_usable(const pass_data *d, size_t i)
{
    return isfinite(d->y[i]) && (!d->sigma || isfinite(d->sigma[i]));
}

static int x_is_finite(const pass_data *d, int nvars, size_t i)
{
    for (int k = 0; k < nvars; k++)
        if (!isfinite(d->x[(size_t)k * d->stride + i])) return 0;
    return 1;
}

/*
 * The common case — linear loss, nothing omitted, no residuals kept —
 * column by column in loops the compiler vectorises. Non-finite values are
 * found through sum(v * 0), which is NaN exactly when some v is Inf or NaN.
 */
static void make_rows_linear(pass *ps, const pass_data *d, size_t start, size_t len, pass_out *out)
{
    const double *f = interp_output(&ps->it, 0), *y = d->y + start;
    const double *sg = d->sigma ? d->sigma + start : NULL;
    double w_all = 1.0 / d->sigma_all;
    int nc = ps->ncols;
    double *rcol = ps->block + (size_t)nc * NLSQ_BLOCK, *w = ps->block + (size_t)(nc + 1) * NLSQ_BLOCK;
    double chi2 = 0, probe = 0;
    for (size_t i = 0; i < len; i++) {
        w[i] = sg ? 1.0 / sg[i] : w_all;
        double r = w[i] * (f[i] - y[i]);
        rcol[i] = r;
        chi2 += r * r;
    }
    for (int c = 0; c < nc; c++) {
        const double *jc = interp_output(&ps->it, ps->cols[c] + 1);
        double *dst = ps->block + (size_t)c * NLSQ_BLOCK;
        for (size_t i = 0; i < len; i++) {
            dst[i] = w[i] * jc[i];
            probe += dst[i] * 0.0;
        }
    }
    out->chi2 += chi2;
    out->cost += 0.5 * chi2;
    if (!isfinite(chi2) || isnan(probe)) out->nonfinite++;
}

/* Turn the block's outputs into weighted (and loss-scaled) rows. */
static void make_rows(pass *ps, const pass_data *d, size_t start, size_t len, pass_out *out)
{
    const program *p = ps->it.p;
    const double *f = interp_output(&ps->it, 0);
    int nc = ps->ncols;
    double *rcol = ps->block + (size_t)nc * NLSQ_BLOCK;
    const double *jcol[nc > 0 ? nc : 1];
    for (int c = 0; c < nc; c++) jcol[c] = interp_output(&ps->it, ps->cols[c] + 1);
    for (size_t i = 0; i < len; i++) {
        size_t gi = start + i;
        double w = 1.0 / (d->sigma ? d->sigma[gi] : d->sigma_all);
        double r = w * (f[i] - d->y[gi]);
        int skip = d->omit_nonfinite && !(row_is_usable(d, gi) && x_is_finite(d, p->nvars, gi));
        if (skip) {
            for (int c = 0; c <= nc; c++) ps->block[(size_t)c * NLSQ_BLOCK + i] = 0;
            if (out->residuals) out->residuals[gi] = NAN;
            continue;
        }
        if (out->residuals) out->residuals[gi] = r;
        out->chi2 += r * r;
        double s = 1;
        if (ps->loss == NLSQ_LOSS_LINEAR)
            out->cost += 0.5 * r * r;
        else
            s = loss_scale_row(ps->loss, ps->f_scale, &r, &out->cost);
        int bad = !isfinite(r);
        for (int c = 0; c < nc; c++) {
            double jv = s * w * jcol[c][i];
            bad |= !isfinite(jv);
            ps->block[(size_t)c * NLSQ_BLOCK + i] = jv;
        }
        rcol[i] = r;
        out->nonfinite += bad;
    }
}

/* Neumaier's compensated sum: the total of many block sums is then exact
   to about one rounding, so that near convergence the difference of two
   costs (the actual reduction) is not rounding noise, even at 10^9 points. */
typedef struct ksum {
    double sum, comp;
} ksum;

static void ksum_add(ksum *k, double v)
{
    double t = k->sum + v;
    if (fabs(k->sum) >= fabs(v))
        k->comp += (k->sum - t) + v;
    else
        k->comp += (v - t) + k->sum;
    k->sum = t;
}

void pass_run(pass *ps, const pass_data *d, const double *params, pass_out *out)
{
    int nc = ps->ncols + 1;
    ksum cost = {0, 0}, chi2 = {0, 0};
    out->nonfinite = 0;
    memset(out->R, 0, (size_t)nc * (size_t)nc * sizeof *out->R);
    interp_uniform(&ps->it, params);
    for (size_t start = 0; start < d->m; start += NLSQ_BLOCK) {
        size_t len = d->m - start < NLSQ_BLOCK ? d->m - start : NLSQ_BLOCK;
        interp_block(&ps->it, d->x, d->stride, start, len);
        out->cost = out->chi2 = 0; /* the row makers add this block's sums */
        if (ps->loss == NLSQ_LOSS_LINEAR && !d->omit_nonfinite && !out->residuals)
            make_rows_linear(ps, d, start, len, out);
        else
            make_rows(ps, d, start, len, out);
        ksum_add(&cost, out->cost);
        ksum_add(&chi2, out->chi2);
        qr_fold(out->R, (size_t)nc, nc, ps->block, NLSQ_BLOCK, len);
    }
    out->cost = cost.sum + cost.comp;
    out->chi2 = chi2.sum + chi2.comp;
}
