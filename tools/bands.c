/*
 * nlsq fit's intervals, bands and derived quantities (issue 20; the
 * library's side is src/uncertainty/): the options --level and --derive,
 * the checks of --derive before the fit, the interval column and the
 * derived quantities of the report (text and JSON), and the band limits
 * that --predict and --plot add.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "present.h"

#define AT(field) offsetof(cli, field)

/* --level P: a probability strictly between 0 and 1. */
static int take_level(const option *o, const char *value, void *args)
{
    cli *c = args;
    char *end;
    double v = strtod(value, &end);
    if (!*value || *end || !(v > 0 && v < 1))
        return die("%s: '%s' is not a probability in (0, 1); give the level the intervals cover, e.g. 0.95", o->name,
                   value);
    c->level = v;
    return 0;
}

/* --derive EXPR, repeatable. */
static int take_derive(const option *o, const char *value, void *args)
{
    cli *c = args;
    if (c->nderive >= MAX_DERIVE) return die("%s: at most %d derived quantities", o->name, MAX_DERIVE);
    c->derive[c->nderive++] = value;
    return 0;
}

static const option band_options[] = {
    {"--level", "P", ARG_CUSTOM, 0,
     .help = "the level of the parameters' intervals, the bands of\n--predict and --plot and the derived "
             "quantities'\nintervals (default 0.95): Student-t with the fit's dof,\nthe normal with --absolute-sigma",
     .parse = take_level},
    {"--derive", "'NAME = EXPR'", ARG_CUSTOM, 0,
     .help = "a function of the parameters with its standard error\n(delta method, exact gradient), e.g. "
             "'fwhm =\n2*sqrt(2*log(2))*s'; repeatable; library quantities by\nname (gaussian1_fwhm); 'all': every "
             "library quantity\nof the model",
     .parse = take_derive},
    {NULL},
};
const option_group group_bands = {"intervals, bands and derived quantities", band_options};

double bands_level(const cli *c)
{
    return c->level > 0 ? c->level : 0.95;
}

void derive_list_free(derive_list *l)
{
    for (int k = 0; k < l->count; k++) free(l->exprs[k]);
    free(l->exprs);
    l->exprs = NULL;
    l->count = 0;
}

static int push(derive_list *l, const char *text)
{
    size_t len = strlen(text);
    char **grown = realloc(l->exprs, (size_t)(l->count + 1) * sizeof *grown);
    if (!grown) return -1;
    l->exprs = grown;
    if (!(l->exprs[l->count] = malloc(len + 1))) return -1;
    memcpy(l->exprs[l->count], text, len + 1);
    l->count++;
    return 0;
}

/* --derive's expressions ('all' expanded into the model's library
   quantities), each checked against the model now, before the fit: a
   result of the right shape at all-ones stands in for the fit's (names,
   variables and syntax do not depend on the values). 0, or 2 after
   printing why. */
int derive_list_make(const cli *c, const nlsq_model *m, derive_list *l)
{
    memset(l, 0, sizeof *l);
    for (int k = 0; k < c->nderive; k++) {
        if (strcmp(c->derive[k], "all") != 0) {
            if (push(l, c->derive[k])) return die("out of memory for --derive");
            continue;
        }
        int nq = nlsq_model_num_quantities(m);
        if (nq == 0)
            return die("--derive all: the model has no library quantities (a sum of library shapes such as "
                       "gaussian(x) has them: nlsq models)");
        for (int q = 0; q < nq; q++) {
            nlsq_quantity item;
            if (nlsq_model_quantity(m, q, &item, NULL) != NLSQ_OK || push(l, item.name))
                return die("out of memory for --derive");
        }
    }
    if (!l->count) return 0;
    int n = nlsq_model_num_params(m);
    double *ones = malloc((size_t)(n + 1) * sizeof *ones), *zeros = calloc((size_t)n * (size_t)n + 1, sizeof *zeros);
    if (!ones || !zeros) {
        free(ones);
        free(zeros);
        return die("out of memory for --derive");
    }
    for (int j = 0; j < n; j++) ones[j] = 1;
    nlsq_result stand_in = {0};
    stand_in.n = n;
    stand_in.popt = ones;
    stand_in.pcov = zeros;
    stand_in.perr = zeros;
    nlsq_derived *d = NULL;
    nlsq_error err;
    int rc = 0;
    if (nlsq_derive(m, &stand_in, (const char *const *)l->exprs, l->count, &d, &err) != NLSQ_OK)
        rc = die("--derive: %s", err.message);
    nlsq_derived_free(d);
    free(ones);
    free(zeros);
    return rc;
}

/* ---- the report --------------------------------------------------------- */

void report_interval_header(FILE *out, const report_info *info)
{
    fprintf(out, "  %g%% interval", 100 * info->level);
}

/* Parameter j's interval at info->level (nlsq_result_interval: one
   parameter, nothing allocated, so the report cannot lose an interval to
   a failed allocation). 0, or -1 where there is none (dof 0). */
static int param_interval(const report_info *info, const nlsq_result *r, int j, double *lo, double *hi)
{
    return nlsq_result_interval(r, info->level, j, lo, hi, NULL) == NLSQ_OK ? 0 : -1;
}

void report_interval_cell(FILE *out, const report_info *info, const nlsq_result *r, int j)
{
    double lo, hi;
    if (r->perr[j] == 0 || param_interval(info, r, j, &lo, &hi)) return; /* fixed, or no dof */
    fprintf(out, "  [%.8g, %.8g]", lo, hi);
}

void report_interval_json(FILE *out, const report_info *info, const nlsq_result *r, int j)
{
    double lo = NAN, hi = NAN;
    param_interval(info, r, j, &lo, &hi);
    fputs(", \"lower\": ", out);
    json_number(out, lo);
    fputs(", \"upper\": ", out);
    json_number(out, hi);
}

void report_derived_text(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r)
{
    const nlsq_derived *d = info->derived;
    if (!d || !d->count) return;
    double q;
    int have_q = nlsq_result_critical(r, info->level, &q, NULL) == NLSQ_OK;
    size_t w = 12;
    for (int k = 0; k < d->count; k++) w = strlen(d->names[k]) > w ? strlen(d->names[k]) : w;
    fprintf(out, "\n  derived quantities (delta method):\n  %-*s %22s %16s  %g%% interval\n", (int)w, "quantity",
            "value", "std error", 100 * info->level);
    for (int k = 0; k < d->count; k++) {
        fprintf(out, "  %-*s %22.15g %16.8g", (int)w, d->names[k], d->value[k], d->se[k]);
        if (have_q) fprintf(out, "  [%.8g, %.8g]", d->value[k] - q * d->se[k], d->value[k] + q * d->se[k]);
        if (strcmp(d->names[k], d->exprs[k]) != 0) fprintf(out, "  = %s", d->exprs[k]);
        fputc('\n', out);
    }
    int header = 0, pw = 12;
    for (int j = 0; j < d->n; j++)
        if ((int)strlen(nlsq_model_param_name(m, j)) > pw) pw = (int)strlen(nlsq_model_param_name(m, j));
    for (int k = 0; k < d->count; k++)
        for (int j = 0; j < d->n; j++) {
            double cr = d->corr[(size_t)k * (size_t)d->n + (size_t)j];
            if (!(fabs(cr) > 0.1) && !info->full_correlation) continue;
            if (!header++)
                fprintf(out, "  correlations with the parameters%s:\n", info->full_correlation ? "" : " (|c| > 0.1)");
            fprintf(out, "    %-*s %-*s %+.4f\n", (int)w, d->names[k], pw, nlsq_model_param_name(m, j), cr);
        }
}

void report_derived_json(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r)
{
    double q;
    int have_q = nlsq_result_critical(r, info->level, &q, NULL) == NLSQ_OK;
    fputs(",\n  \"level\": ", out);
    json_number(out, info->level);
    fputs(",\n  \"critical\": ", out);
    json_number(out, have_q ? q : NAN);
    const nlsq_derived *d = info->derived;
    if (!d) return;
    fputs(",\n  \"derived\": [", out);
    for (int k = 0; k < d->count; k++) {
        fputs(k ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
        json_string(out, d->names[k]);
        fputs(", \"expr\": ", out);
        json_string(out, d->exprs[k]);
        fputs(", \"value\": ", out);
        json_number(out, d->value[k]);
        fputs(", \"stderr\": ", out);
        json_number(out, d->se[k]);
        fputs(", \"lower\": ", out);
        json_number(out, have_q ? d->value[k] - q * d->se[k] : NAN);
        fputs(", \"upper\": ", out);
        json_number(out, have_q ? d->value[k] + q * d->se[k] : NAN);
        fputs(", \"correlations\": {", out);
        for (int j = 0; j < d->n; j++) {
            if (j) fputs(", ", out);
            json_string(out, nlsq_model_param_name(m, j));
            fputs(": ", out);
            json_number(out, d->corr[(size_t)k * (size_t)d->n + (size_t)j]);
        }
        fputs("}}", out);
    }
    fputs(d->count ? "\n  ],\n  \"derived_cov\": [" : "],\n  \"derived_cov\": [", out);
    for (int a = 0; a < d->count; a++) {
        fputs(a ? ", [" : "[", out);
        for (int b = 0; b < d->count; b++) {
            if (b) fputs(", ", out);
            json_number(out, d->cov[(size_t)a * (size_t)d->count + (size_t)b]);
        }
        fputc(']', out);
    }
    fputc(']', out);
}

/* ---- band limits for --predict and --plot ------------------------------- */

int bands_limits(const nlsq_model *m, const nlsq_result *r, double level, const double *x, const double *sigma,
                 size_t n, double *conf_lo, double *conf_hi, double *pred_lo, double *pred_hi, nlsq_error *err)
{
    double q;
    if (nlsq_result_critical(r, level, &q, err) != NLSQ_OK) {
        /* no t quantile (dof 0): limits unknown, not an error of the output */
        for (size_t i = 0; i < n; i++) conf_lo[i] = conf_hi[i] = NAN;
        for (size_t i = 0; pred_lo && i < n; i++) pred_lo[i] = pred_hi[i] = NAN;
        return 0;
    }
    /* the values go to conf_lo and the standard deviations to conf_hi and
       pred_hi, then become the limits in place */
    if (nlsq_band_stderr(m, r, x, n, sigma, conf_lo, conf_hi, pred_hi, err) != NLSQ_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        double f = conf_lo[i], c = q * conf_hi[i];
        if (pred_lo) {
            double p = q * pred_hi[i];
            pred_lo[i] = f - p;
            pred_hi[i] = f + p;
        }
        conf_lo[i] = f - c;
        conf_hi[i] = f + c;
    }
    return 0;
}
