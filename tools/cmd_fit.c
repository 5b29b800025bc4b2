/* nlsq fit: fit a model to the columns of one or more data files. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define AT(field) offsetof(cli, field)

static const choice correlation_words[] = {{"full", 1}, {NULL, 0}};

static int take_resume(const option *o, const char *value, void *args)
{
    cli *c = args;
    (void)o;
    c->checkpoint = value;
    c->opt.resume = 1;
    return 0;
}

static const option output_options[] = {
    {"--json", NULL, ARG_FLAG, AT(json), .help = "the result as JSON on stdout (keys: docs/cli.md)", .set = 1},
    {"--predict", "FILE.csv", ARG_TEXT, AT(predict),
     .help = "write x, y, fit and residual for every row (and each library component)"},
    {"--correlation", "full", ARG_CHOICE, AT(full_correlation), .help = "list every correlation (default: |c| > 0.1)",
     .choices = correlation_words},
    {"--verbose", NULL, ARG_FLAG, AT(verbose),
     .help =
         "one line per iteration on stderr: cost, reduction,\nstep norm, optimality; and the memory the fit will use",
     .set = 1},
    {"--progress", NULL, ARG_FLAG, AT(progress),
     .help = "a progress bar on stderr (default: when stderr is a\nterminal and the fit takes over a second)",
     .set = 1},
    {"--no-progress", NULL, ARG_FLAG, AT(progress), .help = "no progress bar", .set = -1},
    {"--per-rank", NULL, ARG_FLAG, AT(per_rank),
     .help = "(nlsq-mpi) DATA names each rank's own piece of the\ndata: {rank} in it is the rank's number; the whole is\nthe pieces in rank order",
     .set = 1},
    {"--checkpoint", "FILE", ARG_TEXT, AT(checkpoint), .help = "save the fit's state after every pass (atomically)"},
    {"--resume", "FILE", ARG_CUSTOM, 0,
     .help = "continue a killed fit from its checkpoint (and keep\ncheckpointing to FILE); the answer is the same",
     .parse = take_resume},
    {NULL},
};
static const option_group group_output = {"output", output_options};

static const choice design_words[] = {{"sobol", NLSQ_DESIGN_SOBOL}, {"halton", NLSQ_DESIGN_HALTON},
                                      {"lhs", NLSQ_DESIGN_LHS}, {NULL, 0}};
static const choice global_method_words[] = {{"multistart", NLSQ_GLOBAL_MULTISTART}, {"cmaes", NLSQ_GLOBAL_CMAES},
                                             {NULL, 0}};
static const choice halving_words[] = {{"auto", -1}, {"on", 1}, {"off", 0}, {NULL, 0}};

/* --seed: a whole number 0 .. 2^64-1. */
static int take_seed(const option *o, const char *value, void *args)
{
    cli *c = args;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-')
        return die("%s: '%s' is not a whole number from 0 to 18446744073709551615", o->name, value);
    c->gopt.seed = (uint64_t)v;
    c->seed_given = 1;
    return 0;
}

static const option global_options[] = {
    {"--global", "N", ARG_COUNT, AT(gopt.starts),
     .help = "global search: N starts from a space-filling design over\nthe search box (docs/global-search.md), "
             "all fitted\ntogether; the report lists the distinct minima found",
     .max = 1000000},
    {"--design", "sobol|halton|lhs", ARG_CHOICE, AT(gopt.design), .help = "the starts' design (default sobol)",
     .choices = design_words},
    {"--seed", "S", ARG_CUSTOM, 0,
     .help = "the design's seed (default 1; 0: the plain Sobol'/Halton\nsequence); with --mcmc, the chain's seed;"
             "\nwith --bootstrap, the bootstrap's (default 0)",
     .parse = take_seed},
    {"--global-method", "multistart|cmaes", ARG_CHOICE, AT(gopt.method),
     .help = "multistart (default): local fits from every start;\ncmaes: CMA-ES over the box, then a local fit",
     .choices = global_method_words},
    {"--halving", "auto|on|off", ARG_CHOICE, AT(gopt.halving),
     .help = "successive halving on growing samples (auto: from\n100000 points)",
     .choices = halving_words},
    {NULL},
};
static const option_group group_global = {"global search", global_options};

static const choice bootstrap_words[] = {{"residual", NLSQ_BOOTSTRAP_RESIDUAL}, {"pairs", NLSQ_BOOTSTRAP_PAIRS},
                                         {"wild", NLSQ_BOOTSTRAP_WILD}, {NULL, 0}};

static const option bootstrap_options[] = {
    {"--bootstrap", "N", ARG_COUNT, AT(bootstrap),
     .help = "refit N resampled data sets from the fit (all cores, or\nthe GPU): bootstrap standard errors, bias, "
             "percentile\nand BCa 95% intervals in the report (docs/uncertainty.md)",
     .max = 10000000},
    {"--bootstrap-kind", "residual|pairs|wild", ARG_CHOICE, AT(bootstrap_kind),
     .help = "resample the residuals (default), the rows (x, y,\nsigma), or flip each residual's sign (wild)",
     .choices = bootstrap_words},
    {"--bootstrap-out", "FILE.npy", ARG_TEXT, AT(bootstrap_out),
     .help = "write the replicas' parameters as a float64 .npy (N, n);\nfailed replicas are rows of NaN"},
    {NULL},
};
static const option_group group_bootstrap = {"bootstrap", bootstrap_options};

static const option large_options[] = {
    {"--raw", "DTYPE:NCOLS[:ORDER[:OFFSET]]", ARG_TEXT, AT(raw),
     .help =
         "DATA is raw binary: f8 or f4 (add '>' for big-endian,\ne.g. >f8), NCOLS columns, ORDER rows (x0 y0 x1 y1 ...,\n"
         "default) or columns (planar), OFFSET bytes skipped at\nthe start"},
    {"--column-cache", "FILE", ARG_TEXT, AT(column_cache),
     .help =
         "where the text file's column cache goes ('auto': the\ncache directory, the default); the cache for any size"},
    {"--in-memory", NULL, ARG_FLAG, AT(in_memory), .help = "read a text file into memory whatever its size", .set = 1},
    {NULL},
};
static const option_group group_large = {"data of any size", large_options};

const option_group *const fit_groups[] = {&group_model,   &group_names,  &group_x,     &group_y,      &group_p0,
                                          &group_bounds,  &group_solver, &group_exec,  &group_output, &group_hdf5_output, &group_quiet,
                                          &group_verdict, &group_plot,   &group_global, &group_mcmc,   &group_bootstrap,
                                          &group_bands,   &group_profile, &group_large,  NULL};

int cmd_fit(const cli_env *env, int argc, char **argv)
{
    cli c;
    cli_init(&c, env);
    const char *pos[MAX_DATA_FILES];
    int npos, rc = options_parse(command_find("fit"), argc, argv, &c, pos, MAX_DATA_FILES, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if ((rc = cli_take_data(&c, pos, npos, 1))) return rc;
    /* --global-method, --design, --seed or --halving alone ask for the
       search with its default number of starts */
    nlsq_global_options def = nlsq_global_options_default();
    if ((rc = fit_mcmc_check(&c))) return rc;
    /* (--seed with --mcmc or --bootstrap is theirs) */
    if (c.gopt.starts == 0 && (c.gopt.method != def.method || c.gopt.design != def.design ||
                               (c.gopt.seed != def.seed && !c.mcmc.steps && !c.bootstrap && !c.bootstrap_out) ||
                               c.gopt.halving != def.halving))
        c.gopt.starts = def.starts;
    /* --bootstrap-kind or --bootstrap-out alone ask for the default replicas */
    if (!c.bootstrap && (c.bootstrap_kind || c.bootstrap_out))
        c.bootstrap = (int)nlsq_bootstrap_options_default().replicas;
    if (c.bootstrap == 1) return die("--bootstrap: 1 replica; at least 2 are needed");
    return fit_run(&c);
}
