/*
 * The nlsq command: a table of commands, one file each (cmd_*.c), as git's
 * builtin/ does. Each command parses its own options from its tables
 * (cli.h), and help and the manual page are made from the same tables.
 *
 * Exit status: 0 success (a fit converged); 1 a fit ran but did not
 * converge (outputs are still written); 2 bad usage or input, or an output
 * (a file, or the standard output) that could not be written; 3 an error
 * in the model text (with its line and column); 4 (fit, batch) the fits
 * converged but the diagnostics say a result cannot be trusted
 * (--accept-untrusted: 0); killed by a signal, the
 * signal's status (130 for SIGINT), with no temporary file left behind.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char FIT_TEXT[] = "Fit a model to the columns of a data file (comma, semicolon, tab or\n"
                               "whitespace separated; '#' comments; optional header row; '-' = stdin;\n"
                               "or a NumPy .npy file, told by its content). A pipe, a FIFO or <(...) is\n"
                               "read once, whole. y is by default the column after the x columns.\n"
                               "Prints the parameters with standard errors, the statistics and the\n"
                               "verdict: whether the result can be trusted (a parameter without\n"
                               "influence or that never moved from its start, a rank-deficient\n"
                               "Jacobian, R^2 <= 0 make it untrusted), what is wrong and what to try;\n"
                               "--json for programs. The model may call the shapes of the\n"
                               "model library (nlsq models): gaussian(x) + gaussian(x) + linear(x)\n"
                               "is grouped by component in the report, --predict and --plot.\n"
                               "\n"
                               "Data of any size: .npy files are memory-mapped, text files over 64 MB are\n"
                               "converted once into a column cache, and neither is held in memory. Several\n"
                               "data files (x.npy y.npy sigma.npy) are joined: their columns side by side,\n"
                               "numbered on from one file to the next.\n"
                               "\n"
                               "Exit status: 0 converged, 1 did not converge (outputs still written),\n"
                               "2 bad usage or input, or an output that could not be written (the\n"
                               "report is still printed), 3 error in the model text, 4 converged but\n"
                               "the result cannot be trusted (the report says why; --accept-untrusted\n"
                               "exits 0).";

static const char BATCH_TEXT[] = "One fit per curve: every column after x (the wide layout), or the rows\n"
                                 "grouped by --id COL (the long layout); a result row per fit as CSV or\n"
                                 "JSON lines and a summary on stderr. Each fit gives the digits nlsq fit\n"
                                 "gives for its curve. Takes fit's options except the single-fit ones\n"
                                 "(--json, --predict, --plot, --checkpoint, --raw).\n"
                                 "\n"
                                 "Each row says whether its fit can be trusted (columns trusted and\n"
                                 "findings, from the Jacobian at the fit's solution).\n"
                                 "\n"
                                 "With --shared NAME,... the curves are one global fit sharing those\n"
                                 "parameters, each curve keeping its others; --covariate gives per-curve\n"
                                 "values such as a temperature (docs/global-fits.md).\n"
                                 "\n"
                                 "Exit status: 0 every fit converged, 1 some did not (the rows say which),\n"
                                 "2 bad usage or input, or --out or stdout could not be written (the\n"
                                 "summary is still printed), 3 error in the model text, 4 every fit\n"
                                 "converged but some cannot be trusted (--accept-untrusted exits 0).";

static const char EVAL_TEXT[] = "The model (and with --jacobian its derivative columns) at the data's\n"
                                "points, as CSV on stdout; parameters not in --p0 are 1.";

static const char DIFF_TEXT[] = "The parameters, variables and every partial derivative df/dp, as the\n"
                                "model language: what the automatic differentiation computed, with\n"
                                "shared subexpressions named t1, t2, ... A model that starts with '-'\n"
                                "is taken as it is ('-a*x'), or after -- (nlsq diff -- '-a').";

static const char MODELS_TEXT[] = "The shapes of the model library that model text may call: gaussian,\n"
                                  "lorentzian, voigt (exact, through the Faddeeva function), logistic4,\n"
                                  "exponential, ... with their parameters in order and their formulas.\n"
                                  "shape(x) is a component whose parameters are made with a prefix\n"
                                  "(gaussian1_center, gaussian2_center: the shape's name, '_' if it ends\n"
                                  "in a digit, its occurrence, '_'); shape(x, p1, ...) takes them from\n"
                                  "the call. With NAME, one shape. nlsq diff shows the derivatives.";

static const char DEMO_TEXT[] = "A real fit of the bundled example data (examples/data/decay.csv, built\n"
                                "into the command), with report and plot (default plot file:\n"
                                "nlsq-demo.svg in the current directory, or in $TMPDIR or /tmp when\n"
                                "the current directory takes no file).";

static const char DEVICES_TEXT[] = "The compute devices nlsq can use: the CPU's cores and vector math, the C\n"
                                   "compiler for compiled kernels, the CUDA GPUs and NVRTC.";

static const char CACHE_TEXT[] = "The caches of compiled kernels and of text tables' columns: where, how\n"
                                 "many, how large; clear removes them (nothing else in the directory).";

static const char HELP_TEXT[] = "This help, or a command's (as nlsq COMMAND --help). --man prints the\n"
                                "manual page nlsq(1) as roff.";

typedef struct help_args {
    int man;
} help_args;

static const option help_options[] = {
    {"--man", NULL, ARG_FLAG, offsetof(help_args, man), .help = "the manual page nlsq(1) as roff, for man(1)",
     .set = 1},
    {NULL},
};
static const option_group group_help = {"the manual", help_options};
const option_group *const help_groups[] = {&group_help, NULL};

const command commands[] = {
    {"fit", cmd_fit, "fit a model to a data file", "DATA [DATA...] --model EXPR [options]", FIT_TEXT, fit_groups},
    {"batch", cmd_batch, "fit every curve of a table, one fit each",
     "DATA --model EXPR [--id COL] [--out FILE] [options]", BATCH_TEXT, batch_groups},
    {"eval", cmd_eval, "the model and its Jacobian at the data's points",
     "DATA --model EXPR [--p0 a=1,...] [--jacobian] [options]", EVAL_TEXT, eval_groups},
    {"diff", cmd_diff, "the model's partial derivatives as model text", "EXPR [--vars x,y] [--params a,b,...]",
     DIFF_TEXT, diff_groups},
    {"models", cmd_models, "the model library's shapes, their parameters and formulas", "[NAME]", MODELS_TEXT, NULL},
    {"demo", cmd_demo, "a real fit of the bundled example data, with report and plot", "[--plot FILE.svg]", DEMO_TEXT,
     demo_groups},
    {"devices", cmd_devices, "the compute devices nlsq can use", "", DEVICES_TEXT, NULL},
    {"cache", cmd_cache, "the kernel and column caches; clear removes them", "[clear]", CACHE_TEXT, NULL},
    {"help", cmd_help, "this help, or a command's", "[COMMAND] [--man]", HELP_TEXT, help_groups},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const command *command_find(const char *name)
{
    for (const command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

int cmd_help(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    help_args h = {0};
    const char *pos[1];
    int npos, rc = options_parse(command_find("help"), argc, argv, &h, pos, 1, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (h.man) {
        help_man(stdout);
        return 0;
    }
    if (npos == 0) {
        help_overview(stdout);
        return 0;
    }
    const command *c = command_find(pos[0]);
    if (!c) return die("no command '%s' (see nlsq help)", pos[0]);
    help_command(stdout, c);
    return 0;
}

/* SIGINT, SIGTERM, SIGHUP, and SIGPIPE (stdout read by a `head` that has
   had enough while --plot is still a temporary file): remove the
   temporary files of the outputs, checkpoints and caches being written
   (nothing else is safe in a signal handler), then die of the signal as if
   it had not been caught, so that the shell sees the signal's status. */
static void die_of_signal(int sig)
{
    nlsq_output_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = die_of_signal;
    sigemptyset(&sa.sa_mask); /* one cleanup at a time */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* a signal ignored by whoever started us (nohup, a background job
           without job control) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* A closed standard descriptor (`nlsq eval d.csv >&-`) would be taken by
   the next file opened, and the report would land in that file. /dev/null
   holds its place, opened the wrong way round (standard input write-only,
   the outputs read-only), so that using it fails, and is reported, as any
   read or write error is. open() takes the lowest free descriptor: going
   up from 0, that is the one being filled. */
void cli_hold_standard_descriptors(void)
{
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) open("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY);
}

/* Every write to the standard output is checked here, once, at the end:
   the stream's error flag is sticky, and the last flush and the close
   report what buffering had kept back (a full disk, /dev/full, a closed
   descriptor). The output is then cut short: the status says 2 and the
   message names the standard output. */
static int finish_standard_output(int status)
{
    errno = 0;
    int failed = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !failed) failed = 1, e = errno;
    if (!failed) return status;
    fprintf(stderr, "nlsq: writing the standard output: %s\n", e ? strerror(e) : "a write failed");
    return 2;
}

static int run(const cli_env *env, int argc, char **argv)
{
    if (argc < 2) {
        help_overview(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help_overview(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("nlsq %s\n", nlsq_version());
        return 0;
    }
    const command *c = command_find(argv[1]);
    if (!c) {
        fprintf(stderr, "nlsq: unknown command '%s' (see nlsq help)\n", argv[1]);
        return 2;
    }
    return c->run(env, argc - 1, argv + 1);
}

int cli_main(const cli_env *env, int argc, char **argv)
{
    cli_hold_standard_descriptors();
    /* Output up to 64 KiB (any report or help) reaches the descriptor in
       one write at the end, where finish_standard_output sees its errno;
       a write that fails mid-stream leaves only the error flag. A terminal
       keeps its line buffering. */
    static char buffer[1 << 16]; /* glibc ignores a size without a buffer */
    if (!isatty(STDOUT_FILENO)) setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
    catch_signals();
    return finish_standard_output(run(env, argc, argv));
}
