/*
 * Fit reports: the text a person reads and the JSON a program reads
 * (keys documented in docs/cli.md). Numbers that JSON cannot hold (Inf,
 * NaN) are written as null.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "present.h"

static const char *method_name(nlsq_method m)
{
    static const char *names[] = {"auto", "trf", "lm", "dogbox"};
    return (int)m >= 0 && m <= NLSQ_DOGBOX ? names[m] : "?";
}

static double correlation(const nlsq_result *r, int a, int b)
{
    double va = r->pcov[a * r->n + a], vb = r->pcov[b * r->n + b];
    return va > 0 && vb > 0 ? r->pcov[a * r->n + b] / sqrt(va * vb) : 0;
}

void component_label(const nlsq_model *m, int index, char *buf, size_t size)
{
    nlsq_component c;
    buf[0] = '\0';
    if (nlsq_model_component(m, index, &c, NULL) != NLSQ_OK) return;
    size_t len = strlen(c.prefix);
    if (len)
        snprintf(buf, size, "%.*s", (int)(len - 1), c.prefix); /* gaussian1_ -> gaussian1 */
    else
        snprintf(buf, size, "%s#%d", c.shape, index + 1); /* gaussian(x, A, mu, s): gaussian#1 */
}

/* The width of the parameter column: the longest name, at least 12. */
static int name_width(const nlsq_model *m)
{
    int w = 12;
    for (int j = 0; j < nlsq_model_num_params(m); j++)
        if ((int)strlen(nlsq_model_param_name(m, j)) > w) w = (int)strlen(nlsq_model_param_name(m, j));
    return w;
}

static void param_row(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r, int j)
{
    double rel = fabs(r->perr[j] / r->popt[j]) * 100;
    const char *mark = info->fixed && info->fixed[j] ? " (fixed)" : r->active_mask[j] ? " (at bound)" : "";
    fprintf(out, "  %-*s %22.15g %16.8g %9.3g%%", name_width(m), nlsq_model_param_name(m, j), r->popt[j], r->perr[j],
            rel);
    report_interval_cell(out, info, r, j);
    fprintf(out, "%s\n", mark);
}

/* The parameters in their order, or, for a model of library shapes,
   grouped by component (each parameter once, under its first component),
   then the others. */
static void param_rows(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r)
{
    int ncomp = nlsq_model_num_components(m);
    if (ncomp == 0) {
        for (int j = 0; j < r->n; j++) param_row(out, info, m, r, j);
        return;
    }
    unsigned char shown[r->n > 0 ? r->n : 1];
    memset(shown, 0, sizeof shown);
    for (int i = 0; i < ncomp; i++) {
        nlsq_component c;
        char label[96];
        nlsq_model_component(m, i, &c, NULL);
        component_label(m, i, label, sizeof label);
        fprintf(out, "  [%s] %s\n", label, c.shape);
        for (int k = 0; k < c.num_params; k++) {
            int j = c.params[k];
            if (j < 0 || j >= r->n || shown[j]) continue;
            shown[j] = 1;
            param_row(out, info, m, r, j);
        }
    }
    int others = 0;
    for (int j = 0; j < r->n; j++)
        if (!shown[j]) {
            if (!others++) fputs("  [other]\n", out);
            param_row(out, info, m, r, j);
        }
}

/* 'a', 'b' and 'c': the parameters whose diagnostic flags have `bit` and
   not `skip` (said already). Returns how many. */
static int list_params(FILE *out, const nlsq_model *m, const nlsq_result *r, unsigned bit, unsigned skip)
{
    int count = 0, total = 0;
    for (int j = 0; j < r->n; j++) total += (r->diag.param_flags[j] & (bit | skip)) == bit;
    for (int j = 0; j < r->n; j++) {
        if ((r->diag.param_flags[j] & (bit | skip)) != bit) continue;
        count++;
        fprintf(out, "%s'%s'", count == 1 ? "" : count == total ? " and " : ", ", nlsq_model_param_name(m, j));
    }
    return total;
}

/* --fix NAME=value,... for the parameters with `bit`, at their values. */
static void suggest_fix(FILE *out, const nlsq_model *m, const nlsq_result *r, unsigned bit)
{
    int first = 1;
    fputs("--fix ", out);
    for (int j = 0; j < r->n; j++) {
        if (!(r->diag.param_flags[j] & bit)) continue;
        fprintf(out, "%s%s=%.6g", first ? "" : ",", nlsq_model_param_name(m, j), r->popt[j]);
        first = 0;
    }
}

/* What is wrong, in words, and what to try: one paragraph per finding. */
static void report_findings(FILE *out, const nlsq_model *m, const nlsq_result *r)
{
    const nlsq_diagnostics *d = &r->diag;
    if (d->flags & NLSQ_DIAG_NO_INFLUENCE) {
        fputs("  - ", out);
        int k = list_params(out, m, r, NLSQ_DIAG_NO_INFLUENCE, 0);
        fprintf(out,
                " %s no influence on the model at the solution: %s Jacobian\n"
                "    column%s zero or negligible, so the data say nothing about %s. Try start values\n"
                "    from the data (--p0 auto), a global search (--global 64), or --p0 near the values\n"
                "    the data suggest. If %s should have no effect, fix %s\n    (",
                k == 1 ? "has" : "have", k == 1 ? "its" : "their", k == 1 ? " is" : "s are", k == 1 ? "it" : "them",
                k == 1 ? "it" : "they", k == 1 ? "it" : "them");
        suggest_fix(out, m, r, NLSQ_DIAG_NO_INFLUENCE);
        fprintf(out, ") or drop %s from the model.\n", k == 1 ? "it" : "them");
    }
    if (d->flags & NLSQ_DIAG_NOT_MOVED) {
        fputs("  - ", out);
        int k = list_params(out, m, r, NLSQ_DIAG_NOT_MOVED, NLSQ_DIAG_NO_INFLUENCE);
        if (k)
            fprintf(out,
                    " never moved from %s start value%s: the solver found no direction to\n"
                    "    improve %s. Try --p0 auto or --global 64, or give --p0 for %s.\n",
                    k == 1 ? "its" : "their", k == 1 ? "" : "s", k == 1 ? "it" : "them", k == 1 ? "it" : "them");
        else
            fputs("the same parameters never moved from their start values.\n", out);
    }
    if (d->flags & NLSQ_DIAG_RANK_DEFICIENT) {
        int dropped = 0;
        for (int j = 0; j < r->n; j++) dropped += (d->param_flags[j] & NLSQ_DIAG_NO_INFLUENCE) != 0;
        fprintf(out, "  - the Jacobian has rank %d of %d: ", d->rank, r->n_free - dropped);
        list_params(out, m, r, NLSQ_DIAG_RANK_DEFICIENT, 0);
        fputs(" enter in a combination\n    the data do not determine. Fix one of them (--fix) or drop it from the "
              "model.\n",
              out);
    }
    if (d->flags & NLSQ_DIAG_NO_EXPLANATION)
        fprintf(out,
                "  - R^2 = %.5f: the model explains the data no better than their mean. The fit is\n"
                "    probably far from the data's shape: try --p0 auto or --global 64, check the model,\n"
                "    or add a component.\n",
                r->r2);
    if (d->flags & NLSQ_DIAG_ILL_CONDITIONED)
        fprintf(out,
                "  - the Jacobian's condition number is %.3g (columns scaled): some combinations of\n"
                "    parameters are poorly determined; consider fixing or reparametrising one.\n",
                d->cond);
    for (int k = 0; k < d->n_correlated; k++)
        fprintf(out,
                "  - '%s' and '%s' are correlated %+.4f: the data barely tell them apart; consider\n"
                "    fixing one (--fix) or reparametrising.\n",
                nlsq_model_param_name(m, d->correlated[2 * k]), nlsq_model_param_name(m, d->correlated[2 * k + 1]),
                d->correlation[k]);
    for (int j = 0; j < r->n; j++)
        if (d->param_flags[j] & NLSQ_DIAG_AT_BOUND)
            fprintf(out,
                    "  - '%s' is at its %s bound: its standard error assumes it is free; widen the\n"
                    "    bound (--bounds) if the bound is not physical.\n",
                    nlsq_model_param_name(m, j), r->active_mask[j] < 0 ? "lower" : "upper");
    if (d->flags & NLSQ_DIAG_RESIDUAL_STRUCTURE)
        fprintf(out,
                "  - the residuals have structure in data order (%zu runs of one sign, z = %.3g;\n"
                "    lag-1 autocorrelation %.3f): the model misses a systematic part of the data.\n"
                "    Try adding a component or a more flexible model.\n",
                d->runs, d->runs_z, d->lag1);
}

/* The verdict line, after the status: "the solver stopped" is not "the
   result is right". */
static void report_verdict(FILE *out, const nlsq_result *r)
{
    unsigned caution = r->diag.flags & ~(unsigned)NLSQ_DIAG_UNTRUSTED;
    if (!r->diag.trusted)
        fputs("verdict  NOT TRUSTED: the result cannot be relied on (see the diagnostics below)\n", out);
    else if (caution)
        fputs("verdict  trusted, with cautions (see the diagnostics below)\n", out);
    else
        fputs("verdict  trusted: no problem found in the diagnostics\n", out);
}

void report_text(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r)
{
    fprintf(out, "model    %s\n", info->model_text);
    fprintf(out, "data     %s: %zu points used", info->data_name, r->m);
    if (info->points_total > r->m) fprintf(out, ", %zu omitted (NaN or Inf)", info->points_total - r->m);
    if (strcmp(r->backend, "cuda") == 0)
        fprintf(out, "\nmethod   %s, %d evaluations, %d Jacobians, %.3g s on %s (%s)\n", method_name(r->method),
                r->nfev, r->njev, info->fit_seconds, r->device, r->device_note);
    else
        fprintf(out, "\nmethod   %s, %d evaluations, %d Jacobians, %.3g s on %d thread%s, %s\n", method_name(r->method),
                r->nfev, r->njev, info->fit_seconds, r->threads, r->threads == 1 ? "" : "s",
                strcmp(r->backend, "jit") == 0 ? "compiled kernel" : "interpreter");
    fprintf(out, "status   %d: %s %s\n", r->status, r->message, r->success ? "(converged)" : "(NOT converged)");
    report_verdict(out, r);
    fputc('\n', out);
    fprintf(out, "  %-*s %22s %16s %10s", name_width(m), "parameter", "value", "std error", "rel. error");
    report_interval_header(out, info);
    fputc('\n', out);
    param_rows(out, info, m, r);
    fprintf(out, "\n  chi-square %.10g, reduced chi-square %.10g, dof %d, R^2 %.8f\n", r->chi2, r->redchi, r->dof,
            r->r2);
    fprintf(out, "  AIC %.6g, BIC %.6g, gradient norm %.3g\n", r->aic, r->bic, r->grad_norm);
    int header = 0, high = 0;
    for (int a = 0; r->pcov_valid && a < r->n; a++)
        for (int b = a + 1; b < r->n; b++) {
            double c = correlation(r, a, b);
            if (!info->full_correlation && fabs(c) <= 0.1) continue;
            if (!header++) fprintf(out, "\n  correlations%s:\n", info->full_correlation ? "" : " (|c| > 0.1)");
            fprintf(out, "    %-12s %-12s %+.4f\n", nlsq_model_param_name(m, a), nlsq_model_param_name(m, b), c);
            high |= fabs(c) > 0.99;
        }
    int warned = 0;
    const char *w = "\n  warning: ";
    if (!r->success)
        fprintf(out, "%sthe fit did not converge (%s); try --max-nfev, --p0 auto or --global 64\n",
                warned++ ? "  warning: " : w, r->message);
    if (!r->pcov_valid)
        fprintf(out, "%sthe covariance of the parameters could not be estimated\n", warned++ ? "  warning: " : w);
    if (high)
        fprintf(out, "%sa correlation above 0.99: the model may have more parameters than the data can determine\n",
                warned++ ? "  warning: " : w);
    report_derived_text(out, info, m, r);
    report_global_text(out, m, r);
    report_profile_text(out, m, r, info->profile);
    report_mcmc_text(out, m, info->mcmc);
    report_bootstrap_text(out, m, r, info->bootstrap);
    if (r->diag.flags & ~(unsigned)NLSQ_DIAG_NOT_CONVERGED) {
        fprintf(out, "\n  diagnostics (%s):\n",
                r->diag.trusted ? "cautions; the fit can be trusted" : "the fit cannot be trusted");
        report_findings(out, m, r);
    }
}

void json_number(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fputs("null", out);
}

void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n \t")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* "components": the library shapes the model calls, each with its
   parameters' names (null for an argument that is an expression). */
static void json_components(FILE *out, const nlsq_model *m)
{
    fputs("  \"components\": [", out);
    for (int i = 0; i < nlsq_model_num_components(m); i++) {
        nlsq_component c;
        char label[96];
        nlsq_model_component(m, i, &c, NULL);
        component_label(m, i, label, sizeof label);
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
        json_string(out, label);
        fputs(", \"shape\": ", out);
        json_string(out, c.shape);
        fputs(", \"params\": [", out);
        for (int k = 0; k < c.num_params; k++) {
            if (k) fputs(", ", out);
            if (c.params[k] >= 0)
                json_string(out, nlsq_model_param_name(m, c.params[k]));
            else
                fputs("null", out);
        }
        fputs("]}", out);
    }
    fputs(nlsq_model_num_components(m) ? "\n  ],\n" : "],\n", out);
}

/* The findings' keys in JSON and batch rows, in bit order (docs/cli.md). */
static const char *const finding_keys[] = {"not_converged",  "no_influence",   "not_moved",
                                           "rank_deficient", "no_explanation", "ill_conditioned",
                                           "correlated",     "at_bound",       "residual_structure"};

const char *finding_key(unsigned bit)
{
    for (unsigned b = 0; b < sizeof finding_keys / sizeof finding_keys[0]; b++)
        if (bit == 1u << b) return finding_keys[b];
    return "unknown";
}

/* "key": ["a", "b"] for the parameters with `bit`. */
static void json_param_list(FILE *out, const char *key, const nlsq_model *m, const nlsq_result *r, unsigned bit)
{
    fprintf(out, ",\n    \"%s\": [", key);
    int first = 1;
    for (int j = 0; j < r->n; j++) {
        if (!(r->diag.param_flags[j] & bit)) continue;
        if (!first) fputs(", ", out);
        json_string(out, nlsq_model_param_name(m, j));
        first = 0;
    }
    fputc(']', out);
}

/* "diagnostics": {...}: the verdict, the findings with their sentences,
   and the numbers behind them. */
static void json_diagnostics(FILE *out, const nlsq_model *m, const nlsq_result *r)
{
    const nlsq_diagnostics *d = &r->diag;
    fprintf(out, ",\n  \"diagnostics\": {\n    \"trusted\": %s,\n    \"flags\": %u,\n    \"findings\": [",
            d->trusted ? "true" : "false", d->flags);
    int first = 1;
    for (unsigned b = 0; b < sizeof finding_keys / sizeof finding_keys[0]; b++) {
        if (!(d->flags & (1u << b))) continue;
        fputs(first ? "\n      {\"key\": " : ",\n      {\"key\": ", out);
        json_string(out, finding_keys[b]);
        fprintf(out, ", \"untrusted\": %s, \"message\": ", (NLSQ_DIAG_UNTRUSTED & (1u << b)) ? "true" : "false");
        json_string(out, nlsq_diagnostic_str((nlsq_diagnostic)(1u << b)));
        fputc('}', out);
        first = 0;
    }
    fputs(first ? "]" : "\n    ]", out);
    json_param_list(out, "no_influence", m, r, NLSQ_DIAG_NO_INFLUENCE);
    json_param_list(out, "not_moved", m, r, NLSQ_DIAG_NOT_MOVED);
    json_param_list(out, "at_bound", m, r, NLSQ_DIAG_AT_BOUND);
    json_param_list(out, "undetermined", m, r, NLSQ_DIAG_RANK_DEFICIENT);
    fputs(",\n    \"influence\": {", out);
    for (int j = 0; j < r->n; j++) {
        if (j) fputs(", ", out);
        json_string(out, nlsq_model_param_name(m, j));
        fputs(": ", out);
        json_number(out, d->influence[j]);
    }
    fprintf(out, "},\n    \"rank\": %d,\n    \"cond\": ", d->rank);
    json_number(out, d->cond);
    fputs(",\n    \"correlated\": [", out);
    for (int k = 0; k < d->n_correlated; k++) {
        fputs(k ? ", [" : "[", out);
        json_string(out, nlsq_model_param_name(m, d->correlated[2 * k]));
        fputs(", ", out);
        json_string(out, nlsq_model_param_name(m, d->correlated[2 * k + 1]));
        fputs(", ", out);
        json_number(out, d->correlation[k]);
        fputc(']', out);
    }
    fprintf(out, "],\n    \"residuals_tested\": %s", d->residuals_tested ? "true" : "false");
    if (d->residuals_tested) {
        fprintf(out, ",\n    \"runs\": %zu,\n    \"n_pos\": %zu,\n    \"n_neg\": %zu,\n    \"runs_z\": ", d->runs,
                d->n_pos, d->n_neg);
        json_number(out, d->runs_z);
        fputs(",\n    \"lag1\": ", out);
        json_number(out, d->lag1);
    }
    fputs("\n  }", out);
}

void report_json(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r)
{
    fputs("{\n  \"model\": ", out);
    json_string(out, info->model_text);
    fputs(",\n  \"params\": [", out);
    for (int j = 0; j < r->n; j++) {
        fputs(j ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
        json_string(out, nlsq_model_param_name(m, j));
        fputs(", \"value\": ", out);
        json_number(out, r->popt[j]);
        fputs(", \"stderr\": ", out);
        json_number(out, r->perr[j]);
        report_interval_json(out, info, r, j);
        fprintf(out, ", \"fixed\": %s, \"at_bound\": %s}", info->fixed && info->fixed[j] ? "true" : "false",
                r->active_mask[j] ? "true" : "false");
    }
    fputs("\n  ],\n", out);
    json_components(out, m);
    fputs("  \"popt\": [", out);
    for (int j = 0; j < r->n; j++) {
        if (j) fputs(", ", out);
        json_number(out, r->popt[j]);
    }
    fputs("],\n  \"pcov\": [", out);
    for (int a = 0; a < r->n; a++) {
        fputs(a ? ",\n    [" : "\n    [", out);
        for (int b = 0; b < r->n; b++) {
            if (b) fputs(", ", out);
            json_number(out, r->pcov[a * r->n + b]);
        }
        fputs("]", out);
    }
    fputs("\n  ],\n", out);
    struct {
        const char *key;
        double v;
    } nums[] = {{"cost", r->cost},
                {"chi2", r->chi2},
                {"redchi", r->redchi},
                {"r2", r->r2},
                {"aic", r->aic},
                {"bic", r->bic},
                {"fit_seconds", info->fit_seconds}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        fprintf(out, "  \"%s\": ", nums[k].key);
        json_number(out, nums[k].v);
        fputs(",\n", out);
    }
    fprintf(out, "  \"dof\": %d,\n  \"m\": %zu,\n  \"nfev\": %d,\n  \"njev\": %d,\n  \"status\": %d,\n", r->dof, r->m,
            r->nfev, r->njev, r->status);
    fprintf(out, "  \"success\": %s,\n  \"message\": ", r->success ? "true" : "false");
    json_string(out, r->message);
    fprintf(out, ",\n  \"method\": \"%s\",\n  \"backend\": \"%s\",\n  \"backend_note\": ", method_name(r->method),
            r->backend);
    json_string(out, r->backend_note);
    fprintf(out, ",\n  \"passes\": %d,\n  \"jit_passes\": %d,\n  \"threads\": %d", r->passes, r->jit_passes,
            r->threads);
    fprintf(out, ",\n  \"device\": ");
    json_string(out, r->device);
    fprintf(out, ",\n  \"device_note\": ");
    json_string(out, r->device_note);
    fprintf(out, ",\n  \"memory_bytes\": %zu,\n  \"resumed_evaluations\": %d", r->memory_bytes, r->resumed_evaluations);
    fprintf(out, ",\n  \"trusted\": %s", r->diag.trusted ? "true" : "false");
    json_diagnostics(out, m, r);
    report_derived_json(out, info, m, r);
    report_global_json(out, r);
    report_profile_json(out, m, r, info->profile);
    report_mcmc_json(out, m, info->mcmc);
    report_bootstrap_json(out, m, info->bootstrap);
    fputs("\n}\n", out);
}
