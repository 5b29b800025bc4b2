/*
 * What the nlsq command's files share: the table of commands (nlsq.c, one
 * cmd_*.c per command), the declarative option tables and their parser
 * (options.c; the shared groups in common.c), help and the manual page
 * made from them (help.c), the command line of the data commands (struct
 * cli), loading the data and the model (load.c), the parameter options
 * (params.c) and the fit pipeline (fit.c). What the command writes is in
 * present.h (report.c, svg.c, outputs.c), the progress bar in progress.h.
 *
 * The command uses the library through include/nlsq.h only, as any other
 * program would.
 */
#ifndef NLSQ_TOOLS_CLI_H
#define NLSQ_TOOLS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "nlsq.h"

/* Prints "nlsq: ", the message and a line end on stderr; returns 2, the
   exit status of bad usage or input. */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- options.c: option tables ------------------------------------------ */

/* What an option takes, and so how its value is checked and stored. */
typedef enum arg_kind {
    ARG_FLAG,     /* no value: stores `set` (an int)                     */
    ARG_TEXT,     /* any text: stores the const char *                   */
    ARG_COUNT,    /* a whole number from 1 to `max`: stores an int       */
    ARG_NONNEG,   /* a finite number >= 0: stores a double               */
    ARG_POSITIVE, /* a finite number > 0: stores a double                */
    ARG_CHOICE,   /* one of `choices`: stores its value (an int)         */
    ARG_CUSTOM    /* `parse` checks and stores it                        */
} arg_kind;

typedef struct choice {
    const char *word;
    int value;
} choice;

struct option;
/* 0, or the exit status after printing why the value is refused. */
typedef int (*option_parser)(const struct option *o, const char *value, void *args);

/* One option, defined once: its name, what it takes, where it goes in the
   command's argument struct, its help (lines split by '\n'), and what the
   kind needs. */
typedef struct option {
    const char *name; /* "--model"                                  */
    const char *arg;  /* "EXPR" for help; NULL for a flag           */
    arg_kind kind;
    size_t at; /* offsetof(struct ..., field)                */
    const char *help;
    int set;                  /* ARG_FLAG: the value stored                 */
    long max;                 /* ARG_COUNT: the largest count               */
    const choice *choices;    /* ARG_CHOICE: ended by {NULL, 0}             */
    const char *choices_text; /* ARG_CHOICE: how messages list them; NULL:
                                 the words                                  */
    option_parser parse;      /* ARG_CUSTOM                                 */
} option;

/* A titled group of options, ended by {NULL}: groups shared by several
   commands are defined once (common.c) and named in each command's list. */
typedef struct option_group {
    const char *title;
    const option *options; /* ended by {NULL}                            */
} option_group;

/*
 * Where the command was launched: alone (nlsq: group NULL), or as one
 * process of an MPI job (nlsq-mpi, tools/nlsq_mpi.c, which alone links
 * MPI). Passed from main through the command table into cli_init, so no
 * command keeps it in a global.
 */
typedef struct cli_env {
    const nlsq_group *group; /* NULL: this process alone                  */
    int rank, size;          /* in the group (0 and 1 alone)              */
    int local_rank;          /* among the processes on this node          */
    int captured_fd;         /* rank != 0: the file its stderr goes to, so
                                that a failure only it saw can be named by
                                process 0; -1 none                       */
} cli_env;

typedef struct command {
    const char *name;
    /* argv[0] is the command's name; env never NULL */
    int (*run)(const cli_env *env, int argc, char **argv);
    const char *summary;               /* one line                          */
    const char *synopsis;              /* what follows "nlsq NAME"          */
    const char *description;           /* paragraphs, lines split by '\n'   */
    const option_group *const *groups; /* NULL-ended; NULL: no options      */
} command;

/* nlsq.c: every command, ended by {NULL}. */
extern const command commands[];
const command *command_find(const char *name);

/*
 * Parse argv[1..argc) of `cmd` into args: options by its tables, the rest
 * into pos[] (at most max_pos; "-" is a positional). 0 when parsed; -1
 * after printing the help for --help or -h; else the exit status after
 * printing why.
 */
int options_parse(const command *cmd, int argc, char **argv, void *args, const char **pos, int max_pos, int *npos);

/* ---- help.c: help and the man page, from the tables ---------------------- */

void help_overview(FILE *out);
void help_command(FILE *out, const command *cmd);
void help_man(FILE *out);

/* ---- the data commands' command line (fit, batch, eval, demo, diff) ------ */

enum { MAX_DATA_FILES = 16, MAX_VARS = 16, MAX_DERIVE = 64 };

/* nlsq fit's exit status for a fit that converged but whose diagnostics
   say it cannot be trusted (nlsq_result.diag; docs/cli.md). */
enum { EXIT_UNTRUSTED = 4 };

enum { PROFILE_MAX_LEVELS = 8 };

/* fit --profile, --profile2d (profile.c) */
typedef struct profile_cli {
    const char *names;                  /* "all" or "a,b"; NULL: none       */
    double levels[PROFILE_MAX_LEVELS]; /* --profile-level                 */
    int nlevels;                        /* 0: the default (0.95)           */
    const char *pair, *plot;            /* --profile2d a,b; its SVG        */
    int grid;                           /* --profile2d-grid (0: default)   */
    double span;                        /* --profile2d-span (0: default)   */
} profile_cli;
/* nlsq fit --mcmc and its options (mcmc.c); steps 0: no sampling. */
enum { MCMC_MAX_PRIORS = 64 };
typedef struct mcmc_cli {
    int steps, walkers, burn, burn_given, thin, npriors;
    const char *priors[MCMC_MAX_PRIORS]; /* "name=mean:sd" */
    const char *chain, *corner;
} mcmc_cli;

/* fit --output: the result into HDF5 (hdf5_out.c) */
typedef struct hdf5_cli {
    const char *path, *group;
    int append, predictions;
} hdf5_cli;

typedef struct cli {
    const char *data;                     /* the first data file            */
    const char *more[MAX_DATA_FILES - 1]; /* further files (fit only)      */
    int nmore;
    int per_rank; /* fit --per-rank: data holds {rank}, each rank's own piece */
    const char *model, *vars, *params;
    const char *xcols, *ycol, *sigcol;
    const char *p0, *bounds, *fix;
    const char *predict, *plot, *raw, *column_cache, *checkpoint;
    const char *id, *out; /* batch                          */
    const char *shared;    /* batch --shared a,b: one fit, shared parameters */
    const char *covariate; /* batch --covariate: variables constant per curve */
    int format_jsonl;     /* batch: -1 unset, 0 csv, 1 jsonl, 2 hdf5 */
    int json, quiet, verbose, full_correlation, jacobian, logx, logy;
    int accept_untrusted; /* fit: exit 0, not EXIT_UNTRUSTED             */
    int progress;         /* -1 never, 0 on a terminal, 1 always */
    int in_memory, delim;
    const char *text; /* demo: the data as text         */
    size_t text_len;
    nlsq_options opt;
    nlsq_global_options gopt; /* fit --global: gopt.starts > 0 runs the search */
    double level;             /* fit --level; 0: 0.95 (bands.c)                */
    int nderive;              /* fit --derive: the expressions, in order      */
    const char *derive[MAX_DERIVE];
    profile_cli prof;         /* fit --profile, --profile2d                   */
    mcmc_cli mcmc;            /* fit --mcmc (its seed: gopt.seed)               */
    int seed_given;           /* --seed was given                            */
    int bootstrap, bootstrap_kind; /* fit --bootstrap N (0: none), its kind  */
    const char *bootstrap_out;     /* --bootstrap-out FILE.npy               */
    hdf5_cli h5;                   /* fit --output FILE.h5 and its options  */
    const cli_env *env;            /* fit, batch, demo: the launch (a group or
                                      not); NULL: alone                     */
    char device_buf[32];           /* batch under a group: this rank's cuda:N */
} cli;

/* env: fit, batch and demo pass theirs (c->opt.group is its group); the
   other commands run alone on every rank and pass NULL. */
void cli_init(cli *c, const cli_env *env);

/* ---- group.c: a command run by every process of a group (nlsq-mpi) ----- */

/* Whether this process prints results and writes files: alone, or process
   0 of a group. Every process computes. */
int cli_writes(const cli *c);
/* Every process's status into one, the same on all: process 0's if it
   failed, else the lowest failing process's (process 0 then prints that
   process's last message). Alone: rc. */
int cli_agree(const cli *c, int rc);
/* Process 0's status on every process (ranks != 0 wait for it: process 0
   goes first, as in opening the data, where it builds a column cache the
   others then find). Alone: rc. */
int cli_lead(const cli *c, int rc);
/* nlsq-mpi batch --device cuda: each process its node-local GPU
   (cuda:(local rank % GPUs)); nothing for anything else. */
void cli_pick_device(cli *c);
/* The data files among pos[0..npos) (several only when `many`) and a
   --model: 0, or the exit status after printing why. */
int cli_take_data(cli *c, const char **pos, int npos, int many);

/* common.c: the option groups that several commands share. */
extern const option_group group_model, group_names, group_x, group_y, group_p0, group_bounds, group_solver, group_exec,
    group_quiet, group_verdict, group_plot;

/* ---- load.c: the data and the model ---------------------------------------- */

/* What fit, batch and eval start from: the data as a source (a table in
   memory is one too), the model, and the chosen columns. */
typedef struct dataset {
    nlsq_source *src;
    nlsq_model *m;
    int k, n;                 /* variables, parameters                      */
    int xc[MAX_VARS], yc, sc; /* 0-based columns; yc, sc -1 when none       */
} dataset;

/* 0, or the exit status after printing why (2 input, 3 model text). */
int dataset_load(const cli *c, int need_y, dataset *d);
void dataset_free(dataset *d);
/* A column by header name or 1-based number, or -1 after printing why. */
int column_find(const nlsq_source *src, const char *key, const char *what);
/* Rows [first, first+count) of column col, in a new array; NULL after
   printing why. */
double *column_read(nlsq_source *src, int col, size_t first, size_t count);

/* ---- params.c: --p0, --bounds, --fix ----------------------------------------- */

typedef struct param_opts {
    double *p0, *lo, *hi;
    unsigned char *fixed;
    /* start values to estimate from the data: 2 asked (--p0 auto), 1 by
       default (no --p0), 0 none */
    int estimate;
    /* set by the estimate: the model is not a sum of library components
       (or they could not be estimated), so the start is searched for;
       why says which */
    int search;
    char why[300];
} param_opts;

/* "a=1,b=2" into v1 (and with v2, "a=lo:hi" pairs); seen[j] set. 0, or
   the exit status after printing why. */
int parse_assignments(const char *spec, const char *what, const nlsq_model *m, double *v1, double *v2,
                      unsigned char *seen);
/* --p0, --bounds and --fix into c->opt (po owns the arrays); a parameter
   without a start value is left to the library's rule. */
int param_opts_parse(cli *c, const nlsq_model *m, param_opts *po);
void param_opts_free(param_opts *po);

/* ---- fit.c: the fit pipeline (nlsq fit, nlsq demo) ---------------------------- */

int fit_run(cli *c);
/* global.c: nlsq fit --global (the data read into memory, then
   nlsq_fit_global); 0, or the exit status after printing why. */
int fit_global_run(const cli *c, const dataset *d, nlsq_result **r);
/* profile.c: --profile and --profile2d after the fit (nothing when neither
   was asked for, or the fit did not converge); the 2-D plot is written
   here. 0, or the exit status after printing why. */
struct profile_out;
extern const option_group group_profile;
int profile_check(const cli *c);
int profile_run(const cli *c, const dataset *d, const nlsq_columns *cols, const nlsq_result *r,
                struct profile_out *out);
void profile_out_free(struct profile_out *out);
/* mcmc.c: nlsq fit --mcmc. The option group; a check that its options
   come with --mcmc (0, or the exit status after printing why); and the
   sampler after the fit r, with --chain and --corner written: 0, or the
   exit status after printing why. */
extern const option_group group_mcmc;
int fit_mcmc_check(const cli *c);
int fit_mcmc_run(const cli *c, const dataset *d, const nlsq_result *r, nlsq_mcmc_result **out);
/* The chosen columns in memory (x: k rows of m; sigma NULL without a
   sigma column), for what needs the data as arrays; `what` names the
   option in messages. 0, or the exit status after printing why. */
int dataset_arrays(const dataset *d, const char *what, double **x, double **y, double **sigma);
/* bootstrap.c: nlsq fit --bootstrap (the data read into memory, then
   nlsq_bootstrap from the fit r; --bootstrap-out written). 0, or the exit
   status after printing why. */
int fit_bootstrap_run(const cli *c, const dataset *d, const nlsq_result *r, nlsq_bootstrap_result **out);

/* ---- bands.c: --level, --derive and the band limits (issue 20) ------------- */

extern const option_group group_bands;
/* --level, or its default 0.95. */
double bands_level(const cli *c);
/* --derive's expressions, 'all' expanded; checked against the model. */
typedef struct derive_list {
    char **exprs;
    int count;
} derive_list;
/* 0, or 2 after printing why. */
int derive_list_make(const cli *c, const nlsq_model *m, derive_list *l);
void derive_list_free(derive_list *l);
/* The confidence (and, with pred_lo/pred_hi, prediction) limits at n
   points at `level`: NaN where the fit has no quantile (dof 0). 0, or -1
   with err set. */
int bands_limits(const nlsq_model *m, const nlsq_result *r, double level, const double *x, const double *sigma,
                 size_t n, double *conf_lo, double *conf_hi, double *pred_lo, double *pred_hi, nlsq_error *err);

/* ---- hdf5_out.c: results into HDF5 (fit --output, batch --out FILE.h5) ---- */

extern const option_group group_hdf5_output;
/* The --output options hang together and HDF5 is built in: 0, or 2 after
   printing why (before any work). */
int hdf5_output_check(const cli *c);
/* The fit r into --output: 0, or 2 after printing why. */
int hdf5_output_write(const cli *c, const dataset *d, const nlsq_result *r);
/* batch: whether --out is HDF5 (--format hdf5, or a .h5, .hdf5, .hdf,
   .he5, .nxs, .nx5 name); a check before any work (0, or 2); the table
   written (0, or 2 after printing why). ids: the long layout's, else the
   wide layout's curve columns name the fits. */
int batch_hdf5_wanted(const cli *c);
int batch_hdf5_check(const cli *c);
int batch_hdf5_write(const cli *c, const dataset *D, const nlsq_batch *b, const nlsq_batch_result *r,
                     const double *ids, const int *curve_cols);

/* ---- the commands ---------------------------------------------------------------- */

int cmd_fit(const cli_env *env, int argc, char **argv);
int cmd_batch(const cli_env *env, int argc, char **argv);
int cmd_eval(const cli_env *env, int argc, char **argv);
int cmd_diff(const cli_env *env, int argc, char **argv);
int cmd_models(const cli_env *env, int argc, char **argv);
int cmd_demo(const cli_env *env, int argc, char **argv);
int cmd_devices(const cli_env *env, int argc, char **argv);
int cmd_cache(const cli_env *env, int argc, char **argv);
int cmd_help(const cli_env *env, int argc, char **argv);

/* nlsq.c: the command line run as one process of `env` (main.c: alone;
   nlsq_mpi.c: a rank of an MPI job): the standard descriptors held, the
   signals caught, the command run, the standard output finished. Its exit
   status. */
int cli_main(const cli_env *env, int argc, char **argv);
/* A closed standard descriptor held by /dev/null (before anything else
   opens a file). */
void cli_hold_standard_descriptors(void);

extern const option_group *const fit_groups[],
    *const batch_groups[], *const eval_groups[], *const diff_groups[], *const demo_groups[], *const help_groups[];

#endif
