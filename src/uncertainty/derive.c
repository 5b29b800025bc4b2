/*
 * Derived quantities: functions of the fitted parameters, written in the
 * model language, with their standard errors and covariance by the delta
 * method. Each expression is parsed into a model of its own (no variable:
 * its "parameters" are the fit's parameters and library quantities named
 * in it), so its gradient is the exact one AD gives any model; the value
 * and the gradient are one evaluation at popt.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* The variable a derived expression is parsed with: a name no one writes,
   so that the model's own variables (x) parse as parameters and are then
   named in the error. */
#define NO_VARIABLE "nlsq_derived_no_variable_"

void nlsq_derived_free(nlsq_derived *d)
{
    if (!d) return;
    for (int k = 0; k < d->count; k++) {
        if (d->names) free(d->names[k]);
        if (d->exprs) free(d->exprs[k]);
    }
    free(d->names);
    free(d->exprs);
    free(d->value);
    free(d->se);
    free(d->cov);
    free(d->grad);
    free(d->corr);
    free(d);
}

static char *dup_range(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static int ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static int ident_char(int c)
{
    return isalnum(c) || c == '_';
}

/* "name = expr": the name and where expr starts; otherwise the whole text
   (trimmed) is both. '==' is a comparison, not a name. */
static void split_name(const char *text, const char **name, size_t *name_len, const char **expr)
{
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    const char *id = s;
    if (ident_start((unsigned char)*s)) {
        while (ident_char((unsigned char)*s)) s++;
        const char *id_end = s;
        while (*s == ' ' || *s == '\t') s++;
        if (s[0] == '=' && s[1] != '=') {
            *name = id;
            *name_len = (size_t)(id_end - id);
            s++;
            while (isspace((unsigned char)*s)) s++;
            *expr = s;
            return;
        }
    }
    size_t len = strlen(id);
    while (len && isspace((unsigned char)id[len - 1])) len--;
    *name = id;
    *name_len = len;
    *expr = id;
}

static int param_index(const nlsq_model *m, const char *name)
{
    for (int j = 0; j < nlsq_model_num_params(m); j++)
        if (strcmp(nlsq_model_param_name(m, j), name) == 0) return j;
    return -1;
}

static int quantity_index(const nlsq_model *m, const char *name, nlsq_quantity *q)
{
    int count = nlsq_model_num_quantities(m);
    for (int i = 0; i < count; i++)
        if (nlsq_model_quantity(m, i, q, NULL) == NLSQ_OK && strcmp(q->name, name) == 0) return i;
    return -1;
}

static int is_var(const nlsq_model *m, const char *name)
{
    for (int v = 0; v < nlsq_model_num_vars(m); v++)
        if (strcmp(nlsq_model_var_name(m, v), name) == 0) return 1;
    return 0;
}

static nlsq_status parse_alone(const char *text, nlsq_model **out, nlsq_error *err)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = NO_VARIABLE;
    return nlsq_model_parse(text, &mo, out, err);
}

/* The expression with the definitions of the library quantities it names
   put before it as locals ("gaussian1_fwhm = 2*...; " ...), parsed. Every
   name in `alone` (the expression parsed by itself) must be a parameter of
   the model or one of its quantities. */
static nlsq_status parse_expanded(const nlsq_model *m, const nlsq_model *alone, const char *expr, const char *given,
                                  nlsq_model **out, nlsq_error *err)
{
    size_t size = strlen(expr) + 1, at = 0;
    int np = nlsq_model_num_params(alone);
    nlsq_quantity q;
    for (int j = 0; j < np; j++) {
        const char *name = nlsq_model_param_name(alone, j);
        if (param_index(m, name) >= 0) continue;
        if (is_var(m, name)) {
            error_set(err, NLSQ_ERR_UNDEFINED_NAME, 0, 0,
                      "derived quantity '%s': '%s' is a variable of the model; a derived quantity is a function of "
                      "the parameters only",
                      given, name);
            return NLSQ_ERR_UNDEFINED_NAME;
        }
        if (quantity_index(m, name, &q) < 0) {
            error_set(err, NLSQ_ERR_UNDEFINED_NAME, 0, 0,
                      "derived quantity '%s': unknown name '%s' (not a parameter of the model nor one of its library "
                      "quantities)",
                      given, name);
            return NLSQ_ERR_UNDEFINED_NAME;
        }
        size += strlen(q.name) + strlen(q.definition) + 8;
    }
    char *text = malloc(size);
    if (!text) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "derived quantity '%s': out of memory", given);
        return NLSQ_ERR_NOMEM;
    }
    for (int j = 0; j < np; j++) {
        const char *name = nlsq_model_param_name(alone, j);
        if (param_index(m, name) >= 0 || quantity_index(m, name, &q) < 0) continue;
        at += (size_t)sprintf(text + at, "%s = (%s); ", q.name, q.definition);
    }
    strcpy(text + at, expr);
    nlsq_status st = parse_alone(text, out, err);
    free(text);
    return st;
}

/* Quantity k: its value and its gradient over the model's n parameters
   (row k of d->grad). */
static nlsq_status derive_one(const nlsq_model *m, const nlsq_result *r, const char *given, const char *expr,
                              nlsq_derived *d, int k, nlsq_error *err)
{
    nlsq_model *alone = NULL, *full = NULL;
    nlsq_status st = parse_alone(expr, &alone, err);
    if (st != NLSQ_OK) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        error_set(err, st, err->line, err->column, "derived quantity '%s': %s", given, why);
        return st;
    }
    st = parse_expanded(m, alone, expr, given, &full, err);
    nlsq_model_free(alone);
    if (st != NLSQ_OK) return st;
    int ne = nlsq_model_num_params(full);
    double *q = malloc(((size_t)ne + 1) * sizeof *q), *g = malloc(((size_t)ne + 1) * sizeof *g), x = 0, f = NAN;
    if (!q || !g) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "derived quantity '%s': out of memory", given);
        st = NLSQ_ERR_NOMEM;
    }
    for (int j = 0; st == NLSQ_OK && j < ne; j++) q[j] = r->popt[param_index(m, nlsq_model_param_name(full, j))];
    if (st == NLSQ_OK) st = nlsq_model_eval(full, q, &x, 1, &f, g, err);
    if (st == NLSQ_OK) {
        d->value[k] = f;
        for (int j = 0; j < ne; j++)
            d->grad[(size_t)k * (size_t)d->n + (size_t)param_index(m, nlsq_model_param_name(full, j))] += g[j];
    }
    free(q);
    free(g);
    nlsq_model_free(full);
    return st;
}

/* cov = G pcov G^T, se, and the correlations with the parameters. */
static int delta_method(const nlsq_result *r, nlsq_derived *d)
{
    int c = d->count, n = d->n;
    double *gp = malloc(((size_t)c * (size_t)n + 1) * sizeof *gp); /* G pcov */
    if (!gp) return -1;
    for (int k = 0; k < c; k++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                double gi = d->grad[(size_t)k * n + i];
                if (gi != 0) s += gi * r->pcov[(size_t)i * n + j];
            }
            gp[(size_t)k * n + j] = s;
        }
    for (int a = 0; a < c; a++)
        for (int b = 0; b < c; b++) {
            double s = 0;
            for (int j = 0; j < n; j++) {
                double gj = d->grad[(size_t)b * n + j];
                if (gj != 0) s += gp[(size_t)a * n + j] * gj;
            }
            d->cov[(size_t)a * c + b] = r->pcov_valid ? s : NAN;
        }
    for (int k = 0; k < c; k++) {
        d->se[k] = sqrt(d->cov[(size_t)k * c + k]);
        for (int j = 0; j < n; j++) {
            double denom = d->se[k] * r->perr[j];
            d->corr[(size_t)k * n + j] = !r->pcov_valid ? NAN : denom > 0 ? gp[(size_t)k * n + j] / denom : 0;
        }
    }
    free(gp);
    return 0;
}

static nlsq_derived *derived_alloc(int count, int n)
{
    nlsq_derived *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->count = count;
    d->n = n;
    size_t c = (size_t)count, cn = c * (size_t)n + 1;
    d->names = calloc(c + 1, sizeof *d->names);
    d->exprs = calloc(c + 1, sizeof *d->exprs);
    d->value = calloc(c + 1, sizeof *d->value);
    d->se = calloc(c + 1, sizeof *d->se);
    d->cov = calloc(c * c + 1, sizeof *d->cov);
    d->grad = calloc(cn, sizeof *d->grad);
    d->corr = calloc(cn, sizeof *d->corr);
    if (!d->names || !d->exprs || !d->value || !d->se || !d->cov || !d->grad || !d->corr) {
        nlsq_derived_free(d);
        return NULL;
    }
    return d;
}

nlsq_status nlsq_derive(const nlsq_model *model, const nlsq_result *r, const char *const *exprs, int count,
                        nlsq_derived **out, nlsq_error *err)
{
    error_clear(err);
    if (out) *out = NULL;
    if (!model || !r || !out || (count > 0 && !exprs) || count < 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_derive: model, result, exprs and out must not be NULL, and count >= 0");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    if (nlsq_model_num_params(model) != r->n) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_derive: the model has %d parameters but the fit has %d",
                  nlsq_model_num_params(model), r->n);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    nlsq_derived *d = derived_alloc(count, r->n);
    if (!d) {
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_derive: out of memory");
        return NLSQ_ERR_NOMEM;
    }
    nlsq_status st = NLSQ_OK;
    for (int k = 0; k < count && st == NLSQ_OK; k++) {
        const char *name, *expr, *given = exprs[k] ? exprs[k] : "";
        size_t name_len;
        split_name(given, &name, &name_len, &expr);
        if (!name_len || !*expr) {
            error_set(err, NLSQ_ERR_SYNTAX, 0, 0, "derived quantity '%s': %s", given,
                      name_len ? "the expression after '=' is empty"
                               : "empty: give 'name = expression' or an expression");
            st = NLSQ_ERR_SYNTAX;
            break;
        }
        d->names[k] = dup_range(name, name_len);
        d->exprs[k] = dup_range(expr, strlen(expr));
        if (!d->names[k] || !d->exprs[k]) {
            error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_derive: out of memory");
            st = NLSQ_ERR_NOMEM;
            break;
        }
        st = derive_one(model, r, given, d->exprs[k], d, k, err);
    }
    if (st != NLSQ_OK) {
        nlsq_derived_free(d);
        return st;
    }
    if (delta_method(r, d) != 0) {
        nlsq_derived_free(d);
        error_set(err, NLSQ_ERR_NOMEM, 0, 0, "nlsq_derive: out of memory");
        return NLSQ_ERR_NOMEM;
    }
    *out = d;
    return NLSQ_OK;
}
