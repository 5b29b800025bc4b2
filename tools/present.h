/*
 * What the command writes besides its text: fit reports (report.c), the
 * fit as an SVG picture (svg.c), and output files that appear whole or not
 * at all (outfile.c). These belong to the front end, not to the library:
 * another front end (the Python package, a browser) draws and reports in
 * its own way from the same nlsq_result.
 */
#ifndef NLSQ_TOOLS_PRESENT_H
#define NLSQ_TOOLS_PRESENT_H

#include <stddef.h>
#include <stdio.h>

#include "nlsq.h"

/* ---- report.c --------------------------------------------------------- */

typedef struct report_info {
    const char *model_text, *data_name;
    size_t points_total;        /* rows read, before nan_policy omit      */
    double fit_seconds;         /* the fit alone, not reading the file    */
    const unsigned char *fixed; /* n flags or NULL                        */
    int full_correlation;       /* all pairs, not only |c| > 0.1          */
} report_info;

void report_text(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
void report_json(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
/* A number as JSON (null for NaN and Inf), a string quoted and escaped. */
void json_number(FILE *out, double v);
void json_string(FILE *out, const char *s);

/* ---- svg.c: the fit as a picture ------------------------------------------ */

typedef struct plot_data {
    const char *title, *xlabel, *ylabel;
    const double *x, *y, *sigma, *fit, *resid; /* m points; sigma may be NULL */
    size_t m;
    const double *grid_x, *grid_f; /* the curve; ngrid 0: the fit */
    size_t ngrid;                  /* is shown at the points     */
    int logx, logy;
    const char *legend[16];
    int nlegend;
} plot_data;

/* 0, or -1 on a write error. */
int svg_write(FILE *f, const plot_data *pd);

/* ---- outfile.c: files that appear whole or not at all ------------------ */

/* The library's own writer (src/core/outfile.c) has these names, and the
   command links the static library: renamed here until the command moves
   to nlsq_output_* (issue 17). */
#define outfile_open cli_outfile_open
#define outfile_commit cli_outfile_commit
#define outfile_abort cli_outfile_abort

typedef struct outfile {
    FILE *f;
    char *path, *tmp;
} outfile;

/* Open a temporary file beside `path`; 0, or -1 with errno set. */
int outfile_open(outfile *o, const char *path);
/* Flush, sync and rename over `path`; 0, or -1 (the temporary is removed). */
int outfile_commit(outfile *o);
/* Close and remove the temporary file. */
void outfile_abort(outfile *o);

#endif
