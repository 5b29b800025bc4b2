/*
 * nlsq fit --mcmc STEPS: after the fit, the ensemble sampler over the
 * posterior (nlsq_mcmc_source; docs/uncertainty.md) on the fit's columns,
 * read from the data source at every step; priors come from --prior, the chain
 * goes to --chain (.npy) and a corner plot to --corner (corner_svg.c);
 * the report gets a section (text and JSON).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "present.h"

#define AT(field) offsetof(cli, field)

/* --burn: a whole number >= 0 (0 is a valid burn-in, so no ARG_COUNT). */
static int take_burn(const option *o, const char *value, void *args)
{
    cli *c = args;
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (!*value || *end || errno || v < 0 || v > 1000000000)
        return die("%s: '%s' is not a whole number from 0 to 1000000000", o->name, value);
    c->mcmc.burn = (int)v;
    c->mcmc.burn_given = 1;
    return 0;
}

/* --prior name=mean:sd, any number of times. */
static int take_prior(const option *o, const char *value, void *args)
{
    cli *c = args;
    const char *eq = strchr(value, '=');
    if (!eq || !strchr(eq, ':')) return die("%s: '%s' is not name=mean:sd", o->name, value);
    if (c->mcmc.npriors == MCMC_MAX_PRIORS) return die("%s: at most %d priors", o->name, MCMC_MAX_PRIORS);
    c->mcmc.priors[c->mcmc.npriors++] = value;
    return 0;
}

static const option mcmc_options[] = {
    {"--mcmc", "STEPS", ARG_COUNT, AT(mcmc.steps),
     .help = "after the fit, sample the posterior: STEPS steps of an\naffine-invariant ensemble (emcee's stretch "
             "move); the\nreport gives medians, 68%/95% credible intervals,\nacceptance, autocorrelation time and ESS",
     .max = 100000000},
    {"--walkers", "W", ARG_COUNT, AT(mcmc.walkers),
     .help = "walkers (even, at least twice the free parameters;\ndefault max(32, 2 n_free + 2))", .max = 1000000},
    {"--burn", "B", ARG_CUSTOM, 0, .help = "steps discarded first (default STEPS/4)", .parse = take_burn},
    {"--thin", "T", ARG_COUNT, AT(mcmc.thin), .help = "keep every T-th step (default 1)", .max = 1000000},
    {"--prior", "NAME=MEAN:SD", ARG_CUSTOM, 0,
     .help = "a Gaussian prior on a parameter (repeatable); the bounds\nare flat priors", .parse = take_prior},
    {"--chain", "FILE.npy", ARG_TEXT, AT(mcmc.chain), .help = "the kept samples as .npy, shape (samples, walkers, n)"},
    {"--corner", "FILE.svg", ARG_TEXT, AT(mcmc.corner),
     .help = "a corner plot: histograms and pairs of the free parameters"},
    {NULL},
};
const option_group group_mcmc = {"posterior sampling (MCMC; --seed sets its seed)", mcmc_options};

int fit_mcmc_check(const cli *c)
{
    const mcmc_cli *mc = &c->mcmc;
    if (mc->steps) return 0;
    const char *alone = mc->walkers    ? "--walkers"
                      : mc->burn_given ? "--burn"
                      : mc->thin       ? "--thin"
                      : mc->npriors    ? "--prior"
                      : mc->chain      ? "--chain"
                      : mc->corner     ? "--corner"
                                       : NULL;
    return alone ? die("%s needs --mcmc STEPS", alone) : 0;
}

static int parse_priors(const cli *c, const nlsq_model *m, double *mean, double *sd)
{
    int n = nlsq_model_num_params(m);
    for (int j = 0; j < n; j++) mean[j] = sd[j] = NAN;
    for (int i = 0; i < c->mcmc.npriors; i++) {
        int rc = parse_assignments(c->mcmc.priors[i], "--prior", m, mean, sd, NULL);
        if (rc) return rc;
    }
    for (int j = 0; j < n; j++)
        if (!isnan(sd[j]) && !(sd[j] > 0 && isfinite(sd[j])))
            return die("--prior: the sd of '%s' is %g; it must be positive", nlsq_model_param_name(m, j), sd[j]);
    return 0;
}

/* --chain and --corner, each whole or not at all. */
static int write_files(const cli *c, const nlsq_model *m, const nlsq_mcmc_result *mc)
{
    int rc = 0;
    nlsq_error err;
    if (!cli_writes(c)) return 0; /* process 0 of a group writes them */
    if (c->mcmc.chain && nlsq_mcmc_write_npy(mc, c->mcmc.chain, &err) != NLSQ_OK) rc = die("--chain: %s", err.message);
    nlsq_output *o = c->mcmc.corner ? output_open("--corner", c->mcmc.corner) : NULL;
    if (c->mcmc.corner && !o) return 2;
    if (o) {
        const char *names[64];
        int n = nlsq_model_num_params(m) < 64 ? nlsq_model_num_params(m) : 64;
        for (int j = 0; j < n; j++) names[j] = nlsq_model_param_name(m, j);
        if (corner_svg_write(nlsq_output_stream(o), mc, names) != 0 && !ferror(nlsq_output_stream(o))) {
            nlsq_output_discard(o);
            return 2;
        }
        if (output_commit("--corner", o)) rc = 2;
    }
    return rc;
}

int fit_mcmc_run(const cli *c, const dataset *d, const nlsq_result *r, nlsq_mcmc_result **out)
{
    *out = NULL;
    /* a fit stopped short is no minimum: its redchi would fix a wrong noise
       scale for the whole chain; say so and go on (as --profile), status 1 */
    if (!r->success) {
        fprintf(stderr, "nlsq: no MCMC: the fit did not converge (%s)\n", r->message);
        return 0;
    }
    size_t n = (size_t)nlsq_model_num_params(d->m);
    double *prior = malloc(2 * (n ? n : 1) * sizeof *prior);
    int rc = prior ? 0 : die("out of memory");
    if (!rc) rc = parse_priors(c, d->m, prior, prior + n);
    if (!rc) {
        nlsq_mcmc_options mo = nlsq_mcmc_options_default();
        mo.steps = c->mcmc.steps;
        if (c->mcmc.walkers) mo.walkers = c->mcmc.walkers;
        if (c->mcmc.burn_given) mo.burn = c->mcmc.burn;
        if (c->mcmc.thin) mo.thin = c->mcmc.thin;
        mo.seed = c->gopt.seed;
        if (c->mcmc.npriors) {
            mo.prior_mean = prior;
            mo.prior_sd = prior + n;
        }
        /* the fit's columns, read from the source at every step (data of
           any size, nothing held in memory) */
        nlsq_columns cols = nlsq_columns_default();
        cols.x = d->xc;
        cols.y = d->yc;
        cols.sigma = d->sc;
        nlsq_error err;
        if (nlsq_mcmc_source(d->m, d->src, &cols, &c->opt, r, &mo, out, &err) != NLSQ_OK)
            rc = die("--mcmc: %s", err.message);
    }
    if (!rc) rc = write_files(c, d->m, *out);
    free(prior);
    return rc;
}

/* ---- the report's section ---------------------------------------------------- */

void report_mcmc_text(FILE *out, const nlsq_model *m, const nlsq_mcmc_result *mc)
{
    if (!mc) return;
    fprintf(out, "\n  posterior (MCMC: %d walkers x %d steps, burn %d, thin %d: %zu samples; ", mc->walkers, mc->steps,
            mc->burn, mc->thin, (size_t)mc->kept * (size_t)mc->walkers);
    if (mc->noise_var == 1)
        fputs("sigma as given)\n", out);
    else
        fprintf(out, "noise variance fixed at redchi = %.4g)\n", mc->noise_var);
    int nw = 12; /* the name column: as wide as the longest name */
    for (int j = 0; j < mc->n; j++) {
        int len = (int)strlen(nlsq_model_param_name(m, j));
        if (len > nw) nw = len;
    }
    fprintf(out, "    %-*s %13s  %-29s %-29s %8s %9s\n", nw, "name", "median", "68% interval", "95% interval", "tau",
            "ESS");
    for (int j = 0; j < mc->n; j++) {
        const double *q = mc->quantiles + (size_t)j * NLSQ_MCMC_NQUANT;
        char i68[64], i95[64];
        snprintf(i68, sizeof i68, "[%.6g, %.6g]", q[1], q[3]);
        snprintf(i95, sizeof i95, "[%.6g, %.6g]", q[0], q[4]);
        if (isnan(mc->tau[j])) {
            fprintf(out, "    %-*s %13.6g  (fixed)\n", nw, nlsq_model_param_name(m, j), q[2]);
            continue;
        }
        fprintf(out, "    %-*s %13.6g  %-29s %-29s %8.3g %9.0f\n", nw, nlsq_model_param_name(m, j), q[2], i68, i95,
                mc->tau[j], mc->ess[j]);
    }
    double lo = 1, hi = 0;
    for (int w = 0; w < mc->walkers; w++) lo = fmin(lo, mc->acceptance[w]), hi = fmax(hi, mc->acceptance[w]);
    fprintf(out, "    acceptance %.3f (walkers %.3f .. %.3f); %d passes (%d compiled), %.3g s on %d thread%s\n",
            mc->acceptance_mean, lo, hi, mc->passes, mc->jit_passes, mc->seconds, mc->threads,
            mc->threads == 1 ? "" : "s");
    if (mc->warning[0]) fprintf(out, "    warning: %s\n", mc->warning);
}

void report_mcmc_json(FILE *out, const nlsq_model *m, const nlsq_mcmc_result *mc)
{
    if (!mc) return;
    static const char *qkeys[NLSQ_MCMC_NQUANT] = {"q2.5", "q16", "median", "q84", "q97.5"};
    fprintf(out,
            ",\n  \"mcmc\": {\"walkers\": %d, \"steps\": %d, \"burn\": %d, \"thin\": %d, \"samples\": %zu, "
            "\"passes\": %d, \"jit_passes\": %d, \"threads\": %d, \"acceptance\": ",
            mc->walkers, mc->steps, mc->burn, mc->thin, (size_t)mc->kept * (size_t)mc->walkers, mc->passes,
            mc->jit_passes, mc->threads);
    json_number(out, mc->acceptance_mean);
    fputs(", \"noise_var\": ", out);
    json_number(out, mc->noise_var);
    fputs(", \"seconds\": ", out);
    json_number(out, mc->seconds);
    fprintf(out, ", \"tau_reliable\": %s, \"warning\": ", mc->tau_reliable ? "true" : "false");
    json_string(out, mc->warning);
    fputs(",\n    \"params\": [", out);
    for (int j = 0; j < mc->n; j++) {
        fputs(j ? ",\n      {\"name\": " : "\n      {\"name\": ", out);
        json_string(out, nlsq_model_param_name(m, j));
        fputs(", \"mean\": ", out);
        json_number(out, mc->mean[j]);
        fputs(", \"sd\": ", out);
        json_number(out, mc->sd[j]);
        for (int q = 0; q < NLSQ_MCMC_NQUANT; q++) {
            fprintf(out, ", \"%s\": ", qkeys[q]);
            json_number(out, mc->quantiles[(size_t)j * NLSQ_MCMC_NQUANT + (size_t)q]);
        }
        fputs(", \"tau\": ", out);
        json_number(out, mc->tau[j]);
        fputs(", \"ess\": ", out);
        json_number(out, mc->ess[j]);
        fputs("}", out);
    }
    fputs("\n    ]}", out);
}
