/*
 * The options that several commands share, each defined once: the model,
 * the columns, the parameters, the solver and where it runs. A command
 * names the groups it takes in its own table (cmd_*.c).
 */
#include <stddef.h>
#include <string.h>

#include "cli.h"

#define AT(field) offsetof(cli, field)

static const option model_options[] = {
    {"--model", "EXPR", ARG_TEXT, AT(model), .help = "the model, e.g. 'a*exp(-b*x) + c' (required)"},
    {NULL},
};
const option_group group_model = {"the model", model_options};

static const option name_options[] = {
    {"--vars", "x[,y...]", ARG_TEXT, AT(vars), .help = "independent variable names (default x)"},
    {"--params", "a,b,...", ARG_TEXT, AT(params), .help = "parameter order (default: order of appearance)"},
    {NULL},
};
const option_group group_names = {"names in the model", name_options};

static const choice delimiters[] = {{",", ','}, {";", ';'}, {"tab", '\t'}, {"space", ' '}, {NULL, 0}};

static const option x_options[] = {
    {"--x", "COL[,COL...]", ARG_TEXT, AT(xcols),
     .help = "x column(s) by header name or 1-based number\n(default: the first columns, one per variable)"},
    {"--delimiter", "D", ARG_CHOICE, AT(delim),
     .help =
         "force the separator: ',', ';', tab or space (default:\nfound on the first data line); .npy files are read too",
     .choices = delimiters, .choices_text = "',', ';', tab or space"},
    {NULL},
};
const option_group group_x = {"the data's columns", x_options};

static const option y_options[] = {
    {"--y", "COL", ARG_TEXT, AT(ycol), .help = "y column (default: the column after the x columns)"},
    {"--sigma", "COL", ARG_TEXT, AT(sigcol), .help = "per-point standard deviations of y"},
    {NULL},
};
const option_group group_y = {"y and its uncertainty", y_options};

static const option p0_options[] = {
    {"--p0", "a=1,b=0.5", ARG_TEXT, AT(p0),
     .help = "start values; 'auto' (or 'auto,a=1,...') estimates them from the data for a sum of library "
             "shapes (the default when the model is one) and searches for them otherwise (--global 64); "
             "without --p0 other text starts from SciPy's rule (1, or from bounds), searched when not trusted"},
    {NULL},
};
const option_group group_p0 = {"start values", p0_options};

static const option bound_options[] = {
    {"--bounds", "b=0:inf", ARG_TEXT, AT(bounds), .help = "bounds lo:hi per parameter (inf, -inf allowed)"},
    {"--fix", "c=0", ARG_TEXT, AT(fix), .help = "hold parameters at the given values"},
    {NULL},
};
const option_group group_bounds = {"bounds and fixed parameters", bound_options};

static const choice methods[] = {{"trf", NLSQ_TRF}, {"lm", NLSQ_LM}, {"dogbox", NLSQ_DOGBOX}, {NULL, 0}};
static const choice losses[] = {{"linear", NLSQ_LOSS_LINEAR}, {"soft_l1", NLSQ_LOSS_SOFT_L1},
                                {"huber", NLSQ_LOSS_HUBER},   {"cauchy", NLSQ_LOSS_CAUCHY},
                                {"arctan", NLSQ_LOSS_ARCTAN}, {NULL, 0}};
static const choice nan_policies[] = {{"raise", NLSQ_NAN_RAISE}, {"omit", NLSQ_NAN_OMIT}, {NULL, 0}};

static const option solver_options[] = {
    {"--method", "trf|lm|dogbox", ARG_CHOICE, AT(opt.method), .help = "solver (default trf; lm takes no bounds)",
     .choices = methods},
    {"--loss", "NAME", ARG_CHOICE, AT(opt.loss), .help = "linear, soft_l1, huber, cauchy or arctan", .choices = losses},
    {"--f-scale", "S", ARG_POSITIVE, AT(opt.f_scale), .help = "scale of the robust loss (default 1)"},
    {"--ftol", "T", ARG_NONNEG, AT(opt.ftol), .help = "tolerance on the cost's change (default 1e-15)"},
    {"--xtol", "T", ARG_NONNEG, AT(opt.xtol), .help = "tolerance on the step (default 1e-15)"},
    {"--gtol", "T", ARG_NONNEG, AT(opt.gtol), .help = "tolerance on the gradient (default 1e-15; lm: 0)"},
    {"--max-nfev", "N", ARG_COUNT, AT(opt.max_nfev),
     .help = "evaluation limit, a hard one (default: 100 per parameter, as SciPy, extended\nin windows of that "
             "size while the cost falls, at most 100 windows)"},
    {"--absolute-sigma", NULL, ARG_FLAG, AT(opt.absolute_sigma), .help = "sigma is absolute: pcov is not rescaled",
     .set = 1},
    {"--nan-policy", "P", ARG_CHOICE, AT(opt.nan_policy),
     .help = "raise (default: NaN/Inf in the data is an error) or omit\n(rows with NaN/Inf are left out; empty, NA and "
             "nan\nfields read as NaN)",
     .choices = nan_policies},
    {NULL},
};
const option_group group_solver = {"the solver", solver_options};

static const choice backends[] = {
    {"auto", NLSQ_BACKEND_AUTO}, {"interp", NLSQ_BACKEND_INTERP}, {"jit", NLSQ_BACKEND_JIT}, {NULL, 0}};

static const option exec_options[] = {
    {"--threads", "N", ARG_COUNT, AT(opt.threads),
     .help = "threads for the passes (default: $NLSQ_THREADS, else all\ncores); results are the same for any count",
     .max = 1024},
    {"--device", "D", ARG_TEXT, AT(opt.device),
     .help = "auto (default: $NLSQ_DEVICE, else a CUDA GPU for large\ndata when there is one), cpu, cuda, cuda:N,\n"
             "cuda:all (every GPU, a share of the points each)"},
    {"--gpu-float32", NULL, ARG_FLAG, AT(opt.gpu_float32),
     "on a GPU, data and Jacobian in float32 (half the GPU\nmemory); residuals and sums stay float64", .set = 1},
    {"--backend", "B", ARG_CHOICE, AT(opt.backend),
     .help =
         "auto (default: $NLSQ_BACKEND, else a compiled kernel when\none is cached or the data are large), interp, or "
         "jit\n(compile now); results are the same on each",
     .choices = backends},
    {NULL},
};
const option_group group_exec = {"where the passes run", exec_options};

static const option quiet_options[] = {
    {"--quiet", NULL, ARG_FLAG, AT(quiet), .help = "no report; the exit status tells the outcome", .set = 1},
    {NULL},
};
const option_group group_quiet = {"the report", quiet_options};

static const option verdict_options[] = {
    {"--accept-untrusted", NULL, ARG_FLAG, AT(accept_untrusted),
     .help = "exit 0, not 4, when the fits converged but the\ndiagnostics say a result cannot be trusted (for\n"
             "scripts that read the verdict from the output)",
     .set = 1},
    {NULL},
};
const option_group group_verdict = {"the verdict", verdict_options};

static const option plot_options[] = {
    {"--plot", "FILE.svg", ARG_TEXT, AT(plot), .help = "data, fitted curve and residuals as an SVG picture"},
    {"--plot-logx", NULL, ARG_FLAG, AT(logx), .help = "logarithmic x axis in the plot", .set = 1},
    {"--plot-logy", NULL, ARG_FLAG, AT(logy), .help = "logarithmic y axis in the plot", .set = 1},
    {NULL},
};
const option_group group_plot = {"the plot", plot_options};

void cli_init(cli *c, const cli_env *env)
{
    memset(c, 0, sizeof *c);
    c->opt = nlsq_options_default();
    c->env = env;
    c->opt.group = env ? env->group : NULL;
    c->gopt = nlsq_global_options_default();
    c->gopt.starts = 0; /* no search unless asked */
    c->vars = "x";
    c->format_jsonl = -1;
}

int cli_take_data(cli *c, const char **pos, int npos, int many)
{
    if (npos == 0) return die("no data file given (see nlsq help)");
    if (npos > 1 && !many) return die("more than one data file: '%s' and '%s' (only fit joins files)", pos[0], pos[1]);
    c->data = pos[0];
    c->nmore = npos - 1;
    for (int k = 1; k < npos; k++) c->more[k - 1] = pos[k];
    for (int k = 0; k < npos && npos > 1; k++)
        if (strcmp(pos[k], "-") == 0) return die("standard input cannot be joined with other data files");
    if (!c->model) return die("no --model given (see nlsq help)");
    return 0;
}
