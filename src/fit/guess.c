/*
 * nlsq_guess_*: start values from the data for the shapes of the model
 * library and their sums. This file names the shapes, checks the input and
 * sends each sum to its estimator; the estimators write into a copy, so a
 * call that fails leaves the caller's params as they were.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "guess.h"

#define MAX_COMPONENTS 16

static const struct {
    const char *name;
    guess_kind kind;
    int nparams;
} shape_table[] = {
    {"constant", SHAPE_CONSTANT, 1},
    {"linear", SHAPE_LINEAR, 2},
    {"exponential", SHAPE_EXPONENTIAL, 2},
    {"stretched_exponential", SHAPE_STRETCHED_EXPONENTIAL, 3},
    {"power_law", SHAPE_POWER_LAW, 2},
    {"gaussian", SHAPE_GAUSSIAN, 3},
    {"lorentzian", SHAPE_LORENTZIAN, 3},
    {"voigt", SHAPE_VOIGT, 4},
    {"pseudo_voigt", SHAPE_PSEUDO_VOIGT, 4},
    {"pearson7", SHAPE_PEARSON7, 4},
    {"skewed_gaussian", SHAPE_SKEWED_GAUSSIAN, 4},
    {"exp_gaussian", SHAPE_EXP_GAUSSIAN, 4},
    {"moffat", SHAPE_MOFFAT, 4},
    {"lognormal", SHAPE_LOGNORMAL, 3},
    {"logistic", SHAPE_LOGISTIC, 3},
    {"logistic4", SHAPE_LOGISTIC4, 4},
    {"logistic5", SHAPE_LOGISTIC5, 5},
    {"hill", SHAPE_HILL, 3},
    {"michaelis_menten", SHAPE_MICHAELIS_MENTEN, 2},
    {"arrhenius", SHAPE_ARRHENIUS, 2},
    {"damped_sine", SHAPE_DAMPED_SINE, 4},
    {"erf_step", SHAPE_ERF_STEP, 3},
    {"gaussian2d", SHAPE_GAUSSIAN2D, 6},
};

/* 0 and *out filled, or -1 for a name that is not a shape. */
static int shape_lookup(const char *name, guess_shape *out)
{
    if (!name) return -1;
    if (strncmp(name, "polynomial", 10) == 0 && name[10] >= '2' && name[10] <= '7' && name[11] == '\0') {
        int deg = name[10] - '0';
        *out = (guess_shape){SHAPE_POLYNOMIAL, deg, deg + 1};
        return 0;
    }
    for (size_t i = 0; i < sizeof shape_table / sizeof *shape_table; i++) {
        if (strcmp(name, shape_table[i].name) != 0) continue;
        guess_kind k = shape_table[i].kind;
        int deg = k == SHAPE_CONSTANT ? 0 : k == SHAPE_LINEAR ? 1 : -1;
        *out = (guess_shape){k, deg, shape_table[i].nparams};
        return 0;
    }
    return -1;
}

int nlsq_guess_num_params(const char *shape)
{
    guess_shape s;
    return shape_lookup(shape, &s) == 0 ? s.nparams : -1;
}

/* What the sum holds: peaks, other curves, a 2-D Gaussian. */
typedef struct sum_kinds {
    int peaks, curves, surfaces, total_params;
} sum_kinds;

static nlsq_status check_shapes(const char *const *names, int n, guess_shape *shapes, sum_kinds *k, nlsq_error *err)
{
    memset(k, 0, sizeof *k);
    if (!names || n < 1 || n > MAX_COMPONENTS) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "start values: 1 to %d shapes, got %d%s", MAX_COMPONENTS, n,
                  names ? "" : " (NULL list)");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < n; i++) {
        if (shape_lookup(names[i], &shapes[i]) != 0) {
            error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                      "start values: '%s' (shape %d) is not a shape of the model library",
                      names[i] ? names[i] : "(null)", i + 1);
            return NLSQ_ERR_INVALID_ARGUMENT;
        }
        guess_kind kind = shapes[i].kind;
        k->peaks += guess_is_peak(kind);
        k->surfaces += kind == SHAPE_GAUSSIAN2D;
        k->curves += !guess_is_peak(kind) && !guess_is_background(kind) && kind != SHAPE_GAUSSIAN2D;
        k->total_params += shapes[i].nparams;
    }
    if ((k->peaks > 0) + (k->curves > 0) + (k->surfaces > 0) > 1) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "start values: no estimator for a sum that mixes peaks, other curves and gaussian2d");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}

/* Whether the finite y values differ at all: a shape beyond a background
   cannot be placed in data without any variation. */
static int y_varies(const double *y, size_t m)
{
    double first = NAN;
    for (size_t i = 0; i < m; i++) {
        if (!isfinite(y[i])) continue;
        if (isnan(first))
            first = y[i];
        else if (y[i] != first)
            return 1;
    }
    return 0;
}

static nlsq_status estimate(const guess_shape *shapes, int n, const sum_kinds *k, const double *x, const double *y,
                            size_t m, double *params, nlsq_error *err)
{
    if ((k->surfaces || k->peaks || k->curves) && !y_varies(y, m)) {
        error_set(err, NLSQ_ERR_DATA, 0, 0,
                  "start values: y is the same at every point, so there is no shape to place");
        return NLSQ_ERR_DATA;
    }
    if (k->surfaces) return guess_gaussian2d(shapes, n, x, y, m, params, err);
    guess_data d;
    if (guess_data_sorted(x, y, m, &d) != 0) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "out of memory estimating start values");
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = NLSQ_OK;
    size_t need = (size_t)k->total_params + (k->peaks || k->curves);
    if (d.m < need || (d.m > 1 && !(d.span > 0))) {
        error_set(err, NLSQ_ERR_DATA, 0, 0,
                  "start values need at least %zu points with finite x and y and distinct x, got %zu", need, d.m);
        st = NLSQ_ERR_DATA;
    } else if (k->peaks) {
        st = guess_peaks(shapes, n, &d, params, err);
    } else if (k->curves) {
        st = guess_curve(shapes, n, &d, params, err);
    } else {
        st = guess_background(shapes, n, &d, params, err);
    }
    guess_data_free(&d);
    return st;
}

nlsq_status nlsq_guess_sum(const char *const *shapes, int nshapes, const double *x, const double *y, size_t m,
                           double *params, nlsq_error *err)
{
    guess_shape parsed[MAX_COMPONENTS];
    sum_kinds k;
    error_clear(err);
    nlsq_status st = check_shapes(shapes, nshapes, parsed, &k, err);
    if (st != NLSQ_OK) return st;
    if (!x || !y || !params) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "start values: x, y and params must not be NULL");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    double copy[128];
    if (k.total_params > (int)(sizeof copy / sizeof *copy)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "start values: too many parameters (%d)", k.total_params);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    for (int i = 0; i < k.total_params; i++) copy[i] = NAN;
    st = estimate(parsed, nshapes, &k, x, y, m, copy, err);
    if (st != NLSQ_OK) return st;
    for (int i = 0; i < k.total_params; i++) {
        if (!isfinite(copy[i])) {
            error_set(err, NLSQ_ERR_DATA, 0, 0, "start values: the data gave no finite estimate for parameter %d",
                      i + 1);
            return NLSQ_ERR_DATA;
        }
    }
    memcpy(params, copy, (size_t)k.total_params * sizeof *copy);
    return NLSQ_OK;
}

nlsq_status nlsq_guess_shape(const char *shape, const double *x, const double *y, size_t m, double *params,
                             nlsq_error *err)
{
    return nlsq_guess_sum(&shape, 1, x, y, m, params, err);
}
