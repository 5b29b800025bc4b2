/* nlsq_model_eval: the model and its Jacobian at caller-given points. */
#include <stdint.h>

#include "exec.h"

static nlsq_status bad(nlsq_error *err, const char *what)
{
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_model_eval: %s", what);
    return NLSQ_ERR_INVALID_ARGUMENT;
}

nlsq_status nlsq_model_eval(const nlsq_model *model, const double *params, const double *x,
                            size_t npoints, double *f, double *J, nlsq_error *err)
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
        for (size_t j = 0; J && j < n; j++) {
            const double *o = interp_output(&it, (int)j + 1);
            double *col = J + start * n + j;
            for (size_t i = 0; i < len; i++) col[i * n] = o[i];
        }
    }
    interp_free(&it);
    return NLSQ_OK;
}
