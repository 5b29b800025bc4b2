/*
 * --p0, --bounds and --fix: per-parameter values by name. A parameter
 * without a start value is passed as NaN, which the library reads as "not
 * given" and gives SciPy's start (nlsq_options.p0), so the rule lives in
 * one place. `--p0 auto[,a=1,...]`, and no --p0 for a model made of
 * library components, asks for start values estimated from the data
 * (fit.c, nlsq_guess_p0), the named ones kept.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, strtok_r */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int param_index(const nlsq_model *m, const char *name)
{
    for (int k = 0; k < nlsq_model_num_params(m); k++)
        if (strcmp(nlsq_model_param_name(m, k), name) == 0) return k;
    return -1;
}

/* One "name=value" (or "name=lo:hi" with v2); 0, or the exit status. */
static int parse_item(char *item, const char *what, const nlsq_model *m, double *v1, double *v2, unsigned char *seen)
{
    char *eq = strchr(item, '=');
    if (!eq) return die("%s: '%s' is not name=value", what, item);
    *eq = '\0';
    int j = param_index(m, item);
    if (j < 0) return die("%s: the model has no parameter '%s'", what, item);
    char *end, *val = eq + 1;
    double a = strtod(val, &end);
    if (v2) {
        if (*end != ':') return die("%s: '%s' is not lo:hi", what, val);
        v2[j] = strtod(end + 1, &end);
    }
    /* NaN would read as "not given" to the library */
    if (*end || end == val || (!v2 && isnan(a))) return die("%s: '%s' is not a number", what, val);
    v1[j] = a;
    if (seen) seen[j] = 1;
    return 0;
}

int parse_assignments(const char *spec, const char *what, const nlsq_model *m, double *v1, double *v2,
                      unsigned char *seen)
{
    char *copy = strdup(spec), *save = NULL;
    if (!copy) return die("out of memory");
    int rc = 0;
    for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save))
        rc = parse_item(item, what, m, v1, v2, seen);
    free(copy);
    return rc;
}

void param_opts_free(param_opts *po)
{
    free(po->p0);
    free(po->lo);
    free(po->hi);
    free(po->fixed);
    memset(po, 0, sizeof *po);
}

int param_opts_parse(cli *c, const nlsq_model *m, param_opts *po)
{
    memset(po, 0, sizeof *po);
    size_t n = (size_t)nlsq_model_num_params(m);
    po->p0 = malloc((n ? n : 1) * sizeof *po->p0);
    po->lo = malloc((n ? n : 1) * sizeof *po->lo);
    po->hi = malloc((n ? n : 1) * sizeof *po->hi);
    po->fixed = calloc(n ? n : 1, 1);
    if (!po->p0 || !po->lo || !po->hi || !po->fixed) return die("out of memory");
    for (size_t j = 0; j < n; j++) {
        po->lo[j] = -INFINITY;
        po->hi[j] = INFINITY;
        po->p0[j] = NAN; /* not given: the library's rule */
    }
    int rc;
    if (c->bounds && (rc = parse_assignments(c->bounds, "--bounds", m, po->lo, po->hi, NULL))) return rc;
    const char *given = c->p0;
    if (given && strncmp(given, "auto", 4) == 0 && (given[4] == '\0' || given[4] == ',')) {
        po->estimate = 2; /* "auto" or "auto,a=1,...": the named values kept */
        given = given[4] ? given + 5 : NULL;
    } else if (!given && nlsq_model_num_params(m) > 0) {
        po->estimate = 1; /* estimated for library components, else searched */
    }
    if (given && (rc = parse_assignments(given, "--p0", m, po->p0, NULL, NULL))) return rc;
    if (c->fix && (rc = parse_assignments(c->fix, "--fix", m, po->p0, NULL, po->fixed))) return rc;
    c->opt.p0 = c->p0 || c->fix || po->estimate ? po->p0 : NULL;
    c->opt.lower = po->lo;
    c->opt.upper = po->hi;
    c->opt.fixed = po->fixed;
    return 0;
}
