/*
 * nlsq_guess_p0: start values for a parsed model from its data, when the
 * model is a sum of library components (gaussian(x) + linear(x), ...).
 * The components name the shapes, the estimators of guess.c place them
 * (nlsq_guess_sum), and their parameter indices put the values where the
 * model wants them. Values the caller gave are kept.
 *
 * "A sum of components" is checked, not assumed: every parameter must
 * belong to exactly one component, and the model must equal the sum of
 * its components at the estimate (a model such as gaussian(x)*linear(x)
 * has the same components and is no sum).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nlsq.h"

static nlsq_status fail(nlsq_error *err, nlsq_status code, const char *fmt, const char *what)
{
    error_set(err, code, 0, 0, fmt, what);
    return code;
}

/* The shapes of the model's components in order, and for each parameter
   of the sum (component after component) its index in the model. */
static nlsq_status collect(const nlsq_model *model, const char **shapes, int *index, nlsq_error *err)
{
    int k = nlsq_model_num_components(model), n = nlsq_model_num_params(model), used = 0;
    for (int c = 0; c < k; c++) {
        nlsq_component comp;
        if (nlsq_model_component(model, c, &comp, err) != NLSQ_OK) return NLSQ_ERR_INVALID_ARGUMENT;
        shapes[c] = comp.shape;
        for (int j = 0; j < comp.num_params; j++) {
            if (comp.params[j] < 0)
                return fail(err, NLSQ_ERR_INVALID_ARGUMENT,
                            "nlsq_guess_p0: the %s component's parameters are expressions; start values are "
                            "estimated for components written as shape(x), each with its own parameters",
                            comp.shape);
            index[used++] = comp.params[j];
        }
    }
    if (used != n) return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s", "nlsq_guess_p0: the model has parameters outside its components");
    for (int a = 0; a < used; a++)
        for (int b = a + 1; b < used; b++)
            if (index[a] == index[b])
                return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "nlsq_guess_p0: parameter %s belongs to two components",
                            nlsq_model_param_name(model, index[a]));
    return NLSQ_OK;
}

/* Whether the model equals the sum of its components at p on the data's
   points (to rounding). */
static int is_sum_of_components(const nlsq_model *model, const double *p, const nlsq_data *data, double *f,
                                double *g, nlsq_error *err)
{
    if (nlsq_model_eval(model, p, data->x, data->m, f, NULL, err) != NLSQ_OK) return 0;
    for (int c = 0; c < nlsq_model_num_components(model); c++) {
        nlsq_component comp;
        if (nlsq_model_component(model, c, &comp, err) != NLSQ_OK) return 0;
        if (nlsq_model_eval(comp.value, p, data->x, data->m, g, NULL, err) != NLSQ_OK) return 0;
        for (size_t i = 0; i < data->m; i++) f[i] -= g[i];
    }
    double scale = 0, worst = 0;
    if (nlsq_model_eval(model, p, data->x, data->m, g, NULL, err) != NLSQ_OK) return 0;
    for (size_t i = 0; i < data->m; i++) {
        scale = fmax(scale, fabs(g[i]));
        worst = fmax(worst, fabs(f[i]));
    }
    return worst <= 1e-9 * scale;
}

nlsq_status nlsq_guess_p0(const nlsq_model *model, const nlsq_data *data, const double *given, double *p0,
                          nlsq_error *err)
{
    error_clear(err);
    if (!model || !data || !p0 || (data->m && (!data->x || !data->y)))
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s", "nlsq_guess_p0: NULL argument");
    int k = nlsq_model_num_components(model), n = nlsq_model_num_params(model);
    if (k == 0)
        return fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s",
                    "nlsq_guess_p0: the model has no library components (gaussian(x), exponential(x), ...) to "
                    "estimate; give p0 or search globally");
    const char **shapes = malloc((size_t)k * sizeof *shapes);
    int *index = malloc((size_t)(n ? n : 1) * sizeof *index);
    double *sum = malloc((size_t)(n ? n : 1) * sizeof *sum), *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    double *f = malloc((data->m ? data->m : 1) * sizeof *f), *g = malloc((data->m ? data->m : 1) * sizeof *g);
    nlsq_status st = NLSQ_OK;
    if (!shapes || !index || !sum || !p || !f || !g) {
        st = fail(err, NLSQ_ERR_NOMEM, "%s", "nlsq_guess_p0: out of memory");
    } else if ((st = collect(model, shapes, index, err)) == NLSQ_OK &&
               (st = nlsq_guess_sum(shapes, k, data->x, data->y, data->m, sum, err)) == NLSQ_OK) {
        for (int j = 0; j < n; j++) p[index[j]] = sum[j];
        for (int j = 0; given && j < n; j++)
            if (!isnan(given[j])) p[j] = given[j];
        if (!is_sum_of_components(model, p, data, f, g, err))
            st = fail(err, NLSQ_ERR_INVALID_ARGUMENT, "%s",
                      "nlsq_guess_p0: the model is not the sum of its library components (start values are "
                      "estimated for sums such as gaussian(x) + gaussian(x) + linear(x))");
        else
            memcpy(p0, p, (size_t)n * sizeof *p0);
    }
    free(shapes);
    free(index);
    free(sum);
    free(p);
    free(f);
    free(g);
    return st;
}
