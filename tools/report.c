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
    fprintf(out, "  %-*s %22.15g %16.8g %9.3g%%%s\n", name_width(m), nlsq_model_param_name(m, j), r->popt[j],
            r->perr[j], rel, mark);
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
    fprintf(out, "status   %d: %s %s\n\n", r->status, r->message, r->success ? "(converged)" : "(NOT converged)");
    fprintf(out, "  %-*s %22s %16s %10s\n", name_width(m), "parameter", "value", "std error", "rel. error");
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
    if (!r->success) fprintf(out, "%sthe fit did not converge (%s)\n", warned++ ? "  warning: " : w, r->message);
    if (!r->pcov_valid)
        fprintf(out, "%sthe covariance of the parameters could not be estimated\n", warned++ ? "  warning: " : w);
    for (int j = 0; j < r->n; j++)
        if (r->active_mask[j])
            fprintf(out, "%s'%s' is at its %s bound: its standard error assumes it is free\n",
                    warned++ ? "  warning: " : w, nlsq_model_param_name(m, j),
                    r->active_mask[j] < 0 ? "lower" : "upper");
    if (high)
        fprintf(out, "%sa correlation above 0.99: the model may have more parameters than the data can determine\n",
                warned++ ? "  warning: " : w);
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
    fprintf(out, ",\n  \"memory_bytes\": %zu,\n  \"resumed_evaluations\": %d\n}\n", r->memory_bytes,
            r->resumed_evaluations);
}
