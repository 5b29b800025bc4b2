/*
 * What the nlsq command's subcommands share (nlsq.c): the parsed command
 * line, the loaded model and table, the parameter options, and errors.
 */
#ifndef NLSQ_TOOLS_CLI_H
#define NLSQ_TOOLS_CLI_H

#include "io/io.h"
#include "nlsq.h"

typedef struct cli {
    const char *data, *model, *vars, *params, *xcols, *ycol, *sigcol, *p0, *bounds, *fix, *predict, *plot;
    const char *raw, *column_cache, *checkpoint;
    const char *more[15];   /* further data files, their columns after DATA's */
    int nmore;
    int json, quiet, verbose, full_correlation, jacobian, logx, logy, embedded;
    const char *id, *out, *format; /* batch: --id, --out, --format */
    int progress, in_memory; /* progress: -1 never, 0 on a terminal, 1 always */
    char delim;
    nlsq_options opt;
} cli;

/* What fit and eval both start from: the model, the table, the chosen
   columns and the x rows copied out in the library's layout. */
typedef struct loaded {
    nlsq_model *m;
    table t;
    int k, n, xc[16], yc, sc;
    double *x;
} loaded;

typedef struct param_opts {
    double *p0, *lo, *hi;
    unsigned char *fixed;
} param_opts;

/* Prints "nlsq: " and fmt (two %s: a, b) on stderr; returns 2. */
int die(const char *fmt, const char *a, const char *b);
/* 0, or the exit status after printing why. */
int parse_args(int argc, char **argv, cli *c);
/* "a=1,b=2" into v1 (and with v2, "a=lo:hi" pairs); seen[j] set. */
int parse_assignments(const char *spec, const char *option, const nlsq_model *m, double *v1, double *v2,
                      unsigned char *seen);
/* A column by header name or 1-based number, or -1 after printing why. */
int column(const table *t, const char *key, const char *what);
/* The model, the table and the chosen columns (need_y: a y column). */
int load(const cli *c, int need_y, loaded *L);
void unload(loaded *L);
/* --p0, --bounds and --fix into c->opt (po owns the arrays). */
int parse_param_options(cli *c, const nlsq_model *m, param_opts *po);
void param_opts_free(param_opts *po);

/* nlsq batch (batch.c). */
int run_batch(int argc, char **argv);

#endif
