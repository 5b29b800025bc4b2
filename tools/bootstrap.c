/*
 * nlsq fit --bootstrap N: the chosen columns read into memory (the replicas
 * are a batch of arrays), nlsq_bootstrap from the fit, the replicas'
 * parameters written with --bootstrap-out as a float64 .npy (N, n) through
 * nlsq_output_* (whole or not at all), and the bootstrap's part of the
 * report in text and JSON.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "present.h"

/* A .npy (version 1.0) of rows x cols little- or big-endian float64 in C
   order, as this machine stores doubles: the header padded with spaces to
   a multiple of 64 bytes, as NumPy writes it. */
static void npy_write(FILE *out, const double *v, size_t rows, size_t cols)
{
    uint16_t one = 1;
    unsigned char little;
    memcpy(&little, &one, 1);
    char dict[160];
    int len = snprintf(dict, sizeof dict, "{'descr': '%sf8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                       little ? "<" : ">", rows, cols);
    size_t total = 10 + (size_t)len + 1, padded = (total + 63) / 64 * 64, hlen = padded - 10;
    unsigned char pre[10] = {
        0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, sizeof pre, out);
    fwrite(dict, 1, (size_t)len, out);
    for (size_t i = total; i < padded; i++) fputc(' ', out);
    fputc('\n', out);
    fwrite(v, sizeof *v, rows * cols, out);
}

int fit_bootstrap_run(const cli *c, const dataset *d, const nlsq_result *r, nlsq_bootstrap_result **out)
{
    /* not a usage error (2): the fit ran; the report is printed and the
       status says 1, as for --profile and --mcmc */
    if (!r->success) {
        fprintf(stderr, "nlsq: no bootstrap: the fit did not converge (%s); nothing to resample from\n", r->message);
        return 0;
    }
    double *x, *y, *sigma;
    int rc = dataset_arrays(d, "--bootstrap", &x, &y, &sigma);
    if (rc) return rc;
    nlsq_data data = {x, y, nlsq_source_num_rows(d->src), sigma, sigma ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
    nlsq_bootstrap_options b = nlsq_bootstrap_options_default();
    b.replicas = (size_t)c->bootstrap;
    b.kind = (nlsq_bootstrap_kind)c->bootstrap_kind;
    b.seed = c->seed_given ? c->gopt.seed : 0;
    b.level = bands_level(c); /* --level, as the parameter intervals */
    nlsq_error err;
    nlsq_options o = c->opt;
    o.progress = NULL; /* the fit's watcher is gone */
    if (nlsq_bootstrap(d->m, &data, &o, r, &b, out, &err) != NLSQ_OK) rc = die("--bootstrap: %s", err.message);
    free(x);
    free(y);
    free(sigma);
    if (rc || !c->bootstrap_out || !cli_writes(c)) return rc;
    nlsq_output *f = output_open("--bootstrap-out", c->bootstrap_out);
    if (!f) return 2;
    npy_write(nlsq_output_stream(f), (*out)->samples, (*out)->replicas, (size_t)(*out)->n);
    return output_commit("--bootstrap-out", f);
}

static const char *jackknife_words(nlsq_jackknife j)
{
    return j == NLSQ_JACKKNIFE_EXACT     ? "acceleration from the leave-one-out fits"
         : j == NLSQ_JACKKNIFE_INFLUENCE ? "acceleration from influence values"
                                         : "no BCa";
}

void report_bootstrap_text(FILE *out, const nlsq_model *m, const nlsq_result *r, const nlsq_bootstrap_result *b)
{
    if (!b) return;
    fprintf(out, "\n  bootstrap (%s, seed %llu): %zu replicas, %zu converged", nlsq_bootstrap_kind_name(b->kind),
            (unsigned long long)b->seed, b->replicas, b->converged);
    if (b->failed) fprintf(out, ", %zu failed (left out)", b->failed);
    fprintf(out, "; %.3g s on %s", b->seconds, b->device);
    if (strcmp(b->device, "cpu") == 0) fprintf(out, " (%d thread%s)", b->threads, b->threads == 1 ? "" : "s");
    fprintf(out, "; %s\n", jackknife_words(b->jackknife));
    int w = 12;
    for (int j = 0; j < b->n; j++)
        if ((int)strlen(nlsq_model_param_name(m, j)) > w) w = (int)strlen(nlsq_model_param_name(m, j));
    char pct[40], bca[40];
    snprintf(pct, sizeof pct, "%g%% percentile interval", 100 * b->level);
    snprintf(bca, sizeof bca, "%g%% BCa interval", 100 * b->level);
    fprintf(out, "    %-*s %12s %12s %12s   %-29s %s\n", w, "parameter", "cov. error", "boot. error", "bias", pct, bca);
    for (int j = 0; j < b->n; j++)
        fprintf(out, "    %-*s %12.6g %12.6g %12.4g   [%12.8g, %12.8g]  [%12.8g, %12.8g]\n", w,
                nlsq_model_param_name(m, j), r->perr[j], b->perr[j], b->bias[j], b->lower[j], b->upper[j],
                b->bca_lower[j], b->bca_upper[j]);
}

static void json_pair(FILE *out, double a, double b)
{
    fputc('[', out);
    json_number(out, a);
    fputs(", ", out);
    json_number(out, b);
    fputc(']', out);
}

void report_bootstrap_json(FILE *out, const nlsq_model *m, const nlsq_bootstrap_result *b)
{
    if (!b) return;
    fprintf(out,
            ",\n  \"bootstrap\": {\"kind\": \"%s\", \"replicas\": %zu, \"converged\": %zu, \"failed\": %zu, "
            "\"seed\": %llu, \"level\": ",
            nlsq_bootstrap_kind_name(b->kind), b->replicas, b->converged, b->failed, (unsigned long long)b->seed);
    json_number(out, b->level);
    fprintf(out, ", \"jackknife\": \"%s\", \"m\": %zu, \"device\": ",
            b->jackknife == NLSQ_JACKKNIFE_EXACT       ? "exact"
            : b->jackknife == NLSQ_JACKKNIFE_INFLUENCE ? "influence"
                                                       : "none",
            b->m);
    json_string(out, b->device);
    fprintf(out, ", \"threads\": %d, \"seconds\": ", b->threads);
    json_number(out, b->seconds);
    fputs(",\n    \"params\": [", out);
    for (int j = 0; j < b->n; j++) {
        fputs(j ? ",\n      {\"name\": " : "\n      {\"name\": ", out);
        json_string(out, nlsq_model_param_name(m, j));
        fputs(", \"stderr\": ", out);
        json_number(out, b->perr[j]);
        fputs(", \"bias\": ", out);
        json_number(out, b->bias[j]);
        fputs(", \"percentile\": ", out);
        json_pair(out, b->lower[j], b->upper[j]);
        fputs(", \"bca\": ", out);
        json_pair(out, b->bca_lower[j], b->bca_upper[j]);
        fputs(", \"z0\": ", out);
        json_number(out, b->z0[j]);
        fputs(", \"accel\": ", out);
        json_number(out, b->accel[j]);
        fputc('}', out);
    }
    fputs("\n    ]}", out);
}
