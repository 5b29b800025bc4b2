/* nlsq_model_eval: the model and its Jacobian at caller-given points. */
#include <stdint.h>

#include "exec.h"

static nlsq_status bad(nlsq_error *err, const char *what)
{
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_eval: %s", what);
    return NLSQ_ERR_INVALID_ARGUMENT;
}

/* Write the block's Jacobian rows in order: sequential stores, reading the
   n output slots (all in cache) side by side. */
static void store_rows(const interp *it, size_t n, size_t len, double *rows)
{
    const double *col[64];
    for (size_t j0 = 0; j0 < n; j0 += 64) {
        size_t nj = n - j0 < 64 ? n - j0 : 64;
        for (size_t j = 0; j < nj; j++) col[j] = interp_output(it, (int)(j0 + j) + 1);
        for (size_t i = 0; i < len; i++)
            for (size_t j = 0; j < nj; j++) rows[i * n + j0 + j] = col[j][i];
    }
}

nlsq_status nlsq_model_eval(const nlsq_model *model, const double *params, const double *x, size_t npoints, double *f,
                            double *J, nlsq_error *err)
{
    error_clear(err);
    if (!model) return bad(err, "model is NULL");
    const program *p = &model->prog;
    if (!params && p->nparams > 0) return bad(err, "params is NULL");
    if (!x && npoints > 0 && p->nvars > 0) return bad(err, "x is NULL");
    if (npoints > SIZE_MAX / sizeof(double) / (size_t)(p->nparams + p->nvars + 1))
        return bad(err, "npoints is too large");
    interp it;
    if (interp_init(&it, p, vmath_select()) != 0) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_model_eval: out of memory for the workspace");
        return NLSQ_ERR_NOMEM;
    }
    interp_uniform(&it, params);
    size_t n = (size_t)p->nparams;
    for (size_t start = 0; start < npoints; start += NLSQ_BLOCK) {
        size_t len = npoints - start < NLSQ_BLOCK ? npoints - start : NLSQ_BLOCK;
        interp_block(&it, x, npoints, start, len);
        if (f) {
            const double *o = interp_output(&it, 0);
            for (size_t i = 0; i < len; i++) f[start + i] = o[i];
        }
        if (J) store_rows(&it, n, len, J + start * n);
    }
    interp_free(&it);
    return NLSQ_OK;
}
