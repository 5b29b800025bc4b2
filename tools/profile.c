/*
 * nlsq fit --profile, --profile2d: profile-likelihood intervals after the
 * fit (the library's nlsq_profile_source on the same source, columns and
 * options), their part of the text and JSON reports, and the 2-D
 * profile's contour plot (profile_svg.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "present.h"

#define AT(field) offsetof(cli, field)

/* --profile-level: one level or several, comma-separated, each in (0, 1). */
static int take_levels(const option *o, const char *value, void *args)
{
    cli *c = args;
    int n = 0;
    const char *s = value;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ','))
            return die("%s: '%s' is not a number or a comma-separated list of numbers", o->name, value);
        if (!(v > 0 && v < 1)) return die("%s: level %g is outside (0, 1)", o->name, v);
        if (n == PROFILE_MAX_LEVELS) return die("%s: at most %d levels", o->name, PROFILE_MAX_LEVELS);
        c->prof.levels[n++] = v;
        s = *end ? end + 1 : end;
    }
    if (n == 0) return die("%s needs a level in (0, 1)", o->name);
    c->prof.nlevels = n;
    return 0;
}

static const option profile_options[] = {
    {"--profile", "all|a,b,...", ARG_TEXT, AT(prof.names),
     .help = "profile-likelihood intervals (lmfit's conf_interval: the\nF-test, or delta chi-square with absolute "
             "sigma) of every\nfree parameter or those named; asymmetric limits in the\nreport"},
    {"--profile-level", "P[,P...]", ARG_CUSTOM, 0, .help = "their level(s) (default --level's, 0.95)",
     .parse = take_levels},
    {"--profile2d", "a,b", ARG_TEXT, AT(prof.pair),
     .help = "the 2-D profile of a pair: both held on a grid, the\nothers re-fitted; chi2 and prob per point "
             "(JSON)"},
    {"--profile2d-plot", "FILE.svg", ARG_TEXT, AT(prof.plot),
     .help = "the pair's confidence regions (68.3, 95.4, 99.7%) as\ncontours"},
    {"--profile2d-grid", "N", ARG_COUNT, AT(prof.grid), .help = "grid points each way (default 21)", .max = 401},
    {"--profile2d-span", "K", ARG_POSITIVE, AT(prof.span), .help = "half-width in standard errors (default 4)"},
    {NULL},
};
const option_group group_profile = {"profile likelihood", profile_options};

static const char *status_key(int s)
{
    switch (s) {
    case NLSQ_PROFILE_OK: return "ok";
    case NLSQ_PROFILE_BOUND: return "bound";
    case NLSQ_PROFILE_OPEN: return "open";
    case NLSQ_PROFILE_MAX_REFITS: return "max_refits";
    default: return "failed";
    }
}

/* "a,b" into names (pointers into buf); the count, or -1 after printing. */
static int split_names(const char *what, const char *spec, char *buf, size_t size, const char **names, int max)
{
    if (strlen(spec) >= size) return die("%s: the list is too long", what), -1;
    strcpy(buf, spec);
    int n = 0;
    for (char *s = buf, *tok; (tok = strtok(s, ",")); s = NULL) {
        if (n == max) return die("%s: more than %d names", what, max), -1;
        names[n++] = tok;
    }
    if (n == 0) return die("%s needs parameter names", what), -1;
    return n;
}

int profile_check(const cli *c)
{
    if (c->prof.plot && !c->prof.pair) return die("--profile2d-plot needs --profile2d a,b");
    if ((c->prof.grid || c->prof.span > 0) && !c->prof.pair)
        return die("--profile2d-grid and --profile2d-span need --profile2d a,b");
    if (c->prof.nlevels && !c->prof.names) return die("--profile-level needs --profile");
    return 0;
}

int profile_run(const cli *c, const dataset *d, const nlsq_columns *cols, const nlsq_result *r, profile_out *out)
{
    memset(out, 0, sizeof *out);
    if (!c->prof.names && !c->prof.pair) return 0;
    if (!r->success) {
        fprintf(stderr, "nlsq: no profile: the fit did not converge\n");
        return 0;
    }
    nlsq_error err;
    char buf[2048];
    const char *names[256];
    if (c->prof.names) {
        nlsq_profile_options po = nlsq_profile_options_default();
        double level = bands_level(c); /* --level, unless --profile-level */
        po.levels = c->prof.nlevels ? c->prof.levels : &level;
        po.nlevels = c->prof.nlevels ? c->prof.nlevels : 1;
        if (strcmp(c->prof.names, "all") != 0) {
            int n = split_names("--profile", c->prof.names, buf, sizeof buf, names, 256);
            if (n < 0) return 2;
            po.names = names;
            po.nnames = n;
        }
        po.threads = c->opt.threads;
        if (nlsq_profile_source(d->m, d->src, cols, &c->opt, r, &po, &out->p1, &err) != NLSQ_OK)
            return die("--profile: %s", err.message);
        if (out->p1->message[0]) fprintf(stderr, "nlsq: --profile: %s\n", out->p1->message);
    }
    if (c->prof.pair) {
        int n = split_names("--profile2d", c->prof.pair, buf, sizeof buf, names, 3);
        if (n < 0) return 2;
        if (n != 2) return die("--profile2d needs two parameter names, a,b");
        nlsq_profile2d_options po = nlsq_profile2d_options_default();
        if (c->prof.grid) po.nx = po.ny = c->prof.grid < 2 ? 2 : c->prof.grid;
        if (c->prof.span > 0) po.span = c->prof.span;
        po.threads = c->opt.threads;
        if (nlsq_profile2d_source(d->m, d->src, cols, &c->opt, r, names[0], names[1], &po, &out->p2, &err) != NLSQ_OK)
            return die("--profile2d: %s", err.message);
        if (out->p2->message[0]) fprintf(stderr, "nlsq: --profile2d: %s\n", out->p2->message);
        if (c->prof.plot && cli_writes(c)) {
            nlsq_output *o = output_open("--profile2d-plot", c->prof.plot);
            if (!o) return 2;
            const double levels[3] = {0.6827, 0.9545, 0.9973};
            if (profile_svg_write(nlsq_output_stream(o), d->m, r, out->p2, levels, 3) != 0 &&
                !ferror(nlsq_output_stream(o))) {
                nlsq_output_discard(o);
                return 2;
            }
            if (output_commit("--profile2d-plot", o)) return 2;
        }
    }
    return 0;
}

void profile_out_free(profile_out *out)
{
    nlsq_profile_result_free(out->p1);
    nlsq_profile2d_result_free(out->p2);
    memset(out, 0, sizeof *out);
}

/* The symmetric interval's half-width at a level: Student-t with the
   fit's dof, the normal with absolute sigma (nlsq_result_critical); NaN
   where there is none (no dof). */
static double symmetric_half(const nlsq_result *r, int j, double level)
{
    double q;
    nlsq_error err;
    if (nlsq_result_critical(r, level, &q, &err) != NLSQ_OK) return NAN;
    return q * r->perr[j];
}

void report_profile_text(FILE *out, const nlsq_model *m, const nlsq_result *r, const profile_out *po)
{
    const nlsq_profile_result *p = po ? po->p1 : NULL;
    if (p) {
        fprintf(out, "\n  profile-likelihood intervals (%s; %d refits, %.3g s on %d thread%s):\n",
                p->absolute_sigma ? "delta chi-square, absolute sigma" : "F-test", p->refits, p->seconds, p->threads,
                p->threads == 1 ? "" : "s");
        fprintf(out, "    %-12s %7s %16s %12s %12s   %-30s %s\n", "parameter", "level", "value", "- profile", "+",
                "[lower, upper]", p->absolute_sigma ? "normal +-" : "t +-");
        for (int i = 0; i < p->nparams; i++) {
            int j = p->param[i];
            for (int k = 0; k < p->nlevels; k++) {
                size_t at = (size_t)i * p->nlevels + k;
                double lo = p->lower[at], hi = p->upper[at];
                char range[80];
                snprintf(range, sizeof range, "[%.8g, %.8g]", lo, hi);
                fprintf(out, "    %-12s %6.4g%% %16.10g %12.6g %+12.6g   %-30s %.6g",
                        k ? "" : nlsq_model_param_name(m, j), 100 * p->levels[k], r->popt[j], lo - r->popt[j],
                        hi - r->popt[j], range, symmetric_half(r, j, p->levels[k]));
                if (p->lower_status[at] != NLSQ_PROFILE_OK)
                    fprintf(out, "  (lower: %s)", status_key(p->lower_status[at]));
                if (p->upper_status[at] != NLSQ_PROFILE_OK)
                    fprintf(out, "  (upper: %s)", status_key(p->upper_status[at]));
                fputc('\n', out);
            }
        }
        if (p->message[0]) fprintf(out, "    warning: %s\n", p->message);
    }
    const nlsq_profile2d_result *q = po ? po->p2 : NULL;
    if (q)
        fprintf(out, "\n  2-D profile of %s, %s: %d x %d grid, %d refits (%d failed), %.3g s\n",
                nlsq_model_param_name(m, q->a), nlsq_model_param_name(m, q->b), q->nx, q->ny, q->refits, q->failed,
                q->seconds);
}

static void json_array(FILE *out, const double *v, int n)
{
    fputc('[', out);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        json_number(out, v[i]);
    }
    fputc(']', out);
}

void report_profile_json(FILE *out, const nlsq_model *m, const nlsq_result *r, const profile_out *po)
{
    const nlsq_profile_result *p = po ? po->p1 : NULL;
    if (p) {
        fprintf(out, ",\n  \"profile\": {\"test\": \"%s\", \"chi2_best\": ", p->absolute_sigma ? "chi2" : "F");
        json_number(out, p->chi2_best);
        fprintf(out, ", \"dof\": %d, \"refits\": %d, \"failed\": %d, \"threads\": %d, \"seconds\": ", p->dof, p->refits,
                p->failed, p->threads);
        json_number(out, p->seconds);
        fputs(", \"message\": ", out);
        json_string(out, p->message);
        fputs(", \"levels\": ", out);
        json_array(out, p->levels, p->nlevels);
        fputs(", \"delta_chi2\": ", out);
        json_array(out, p->delta_chi2, p->nlevels);
        fputs(",\n    \"params\": {", out);
        for (int i = 0; i < p->nparams; i++) {
            int j = p->param[i];
            fputs(i ? ",\n      " : "\n      ", out);
            json_string(out, nlsq_model_param_name(m, j));
            fputs(": {\"value\": ", out);
            json_number(out, r->popt[j]);
            fputs(", \"limits\": [", out);
            for (int k = 0; k < p->nlevels; k++) {
                size_t at = (size_t)i * p->nlevels + k;
                double h = symmetric_half(r, j, p->levels[k]);
                fputs(k ? ", {\"level\": " : "{\"level\": ", out);
                json_number(out, p->levels[k]);
                fputs(", \"lower\": ", out);
                json_number(out, p->lower[at]);
                fputs(", \"upper\": ", out);
                json_number(out, p->upper[at]);
                fprintf(out, ", \"lower_status\": \"%s\", \"upper_status\": \"%s\", \"symmetric\": [",
                        status_key(p->lower_status[at]), status_key(p->upper_status[at]));
                json_number(out, r->popt[j] - h);
                fputs(", ", out);
                json_number(out, r->popt[j] + h);
                fputs("]}", out);
            }
            const nlsq_profile_trace *t = &p->trace[i];
            fputs("],\n        \"trace\": {\"value\": ", out);
            json_array(out, t->value, t->count);
            fputs(", \"chi2\": ", out);
            json_array(out, t->chi2, t->count);
            fputs(", \"prob\": ", out);
            json_array(out, t->prob, t->count);
            fputs("}}", out);
        }
        fputs("\n    }}", out);
    }
    const nlsq_profile2d_result *q = po ? po->p2 : NULL;
    if (q) {
        fputs(",\n  \"profile2d\": {\"params\": [", out);
        json_string(out, nlsq_model_param_name(m, q->a));
        fputs(", ", out);
        json_string(out, nlsq_model_param_name(m, q->b));
        fprintf(out, "], \"test\": \"%s\", \"chi2_best\": ", q->absolute_sigma ? "chi2" : "F");
        json_number(out, q->chi2_best);
        fprintf(out, ", \"dof\": %d, \"refits\": %d, \"failed\": %d, \"seconds\": ", q->dof, q->refits, q->failed);
        json_number(out, q->seconds);
        fputs(", \"message\": ", out);
        json_string(out, q->message);
        fputs(",\n    \"a_values\": ", out);
        json_array(out, q->a_values, q->nx);
        fputs(",\n    \"b_values\": ", out);
        json_array(out, q->b_values, q->ny);
        fputs(",\n    \"chi2\": [", out);
        for (int j = 0; j < q->ny; j++) {
            fputs(j ? ", " : "", out);
            json_array(out, q->chi2 + (size_t)j * q->nx, q->nx);
        }
        fputs("],\n    \"prob\": [", out);
        for (int j = 0; j < q->ny; j++) {
            fputs(j ? ", " : "", out);
            json_array(out, q->prob + (size_t)j * q->nx, q->nx);
        }
        fputs("]}", out);
    }
}
