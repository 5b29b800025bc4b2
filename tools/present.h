/*
 * What the command writes besides its text: fit reports (report.c), the
 * fit as an SVG picture (svg.c), and the output files (outputs.c, through
 * the library's nlsq_output_*: whole or not at all). These belong to the
 * front end, not to the library: another front end (the Python package, a
 * browser) draws and reports in its own way from the same nlsq_result.
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
    double level;               /* of the intervals (bands.c)             */
    /* --derive's quantities, or NULL */
    const nlsq_derived *derived;
    const struct profile_out *profile; /* --profile, --profile2d, or NULL */
    const nlsq_mcmc_result *mcmc; /* fit --mcmc's posterior, or NULL        */
    const nlsq_bootstrap_result *bootstrap; /* --bootstrap, or NULL     */
} report_info;

void report_text(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
void report_json(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
/* report_global.c: the global search's summary (r->global), if any. */
void report_global_text(FILE *out, const nlsq_model *m, const nlsq_result *r);
void report_global_json(FILE *out, const nlsq_result *r);
/* bands.c: the interval column of the parameter table, the derived
   quantities, and their JSON ("lower"/"upper" per parameter; "level",
   "critical", "derived", "derived_cov"). */
void report_interval_header(FILE *out, const report_info *info);
void report_interval_cell(FILE *out, const report_info *info, const nlsq_result *r, int j);
void report_interval_json(FILE *out, const report_info *info, const nlsq_result *r, int j);
void report_derived_text(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
void report_derived_json(FILE *out, const report_info *info, const nlsq_model *m, const nlsq_result *r);
/* profile.c: the profiles' part of the reports (nothing for NULL). */
typedef struct profile_out {
    nlsq_profile_result *p1;
    nlsq_profile2d_result *p2;
} profile_out;
void report_profile_text(FILE *out, const nlsq_model *m, const nlsq_result *r, const profile_out *po);
void report_profile_json(FILE *out, const nlsq_model *m, const nlsq_result *r, const profile_out *po);
/* profile_svg.c: the 2-D profile's confidence regions at `levels` (of
   prob) as contours. 0, or -1 on a write error. */
int profile_svg_write(FILE *f, const nlsq_model *m, const nlsq_result *r, const nlsq_profile2d_result *p,
                      const double *levels, int nlevels);
/* mcmc.c: the posterior's section (NULL: none). */
void report_mcmc_text(FILE *out, const nlsq_model *m, const nlsq_mcmc_result *mc);
void report_mcmc_json(FILE *out, const nlsq_model *m, const nlsq_mcmc_result *mc);
/* bootstrap.c: the bootstrap's part (info->bootstrap), if any. */
void report_bootstrap_text(FILE *out, const nlsq_model *m, const nlsq_result *r, const nlsq_bootstrap_result *b);
void report_bootstrap_json(FILE *out, const nlsq_model *m, const nlsq_bootstrap_result *b);
/* Component index of a model of library shapes, as a name: its prefix
   without the final '_' (gaussian1), or shape#N for a call that gave its
   parameters (gaussian#2). */
void component_label(const nlsq_model *m, int index, char *buf, size_t size);

/* The key of one finding (an nlsq_diagnostic bit): "no_influence", ... */
const char *finding_key(unsigned bit);
/* A number as JSON (null for NaN and Inf), a string quoted and escaped. */
void json_number(FILE *out, double v);
void json_string(FILE *out, const char *s);
/* A CSV field as RFC 4180 writes it: quoted, its quotes doubled, when it
   holds a comma, a quote, a line end, a space or a tab (readers that trim
   or split on blanks keep a quoted name whole). */
void csv_field(FILE *out, const char *s);

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
    const double *comp_f; /* ncomp curves of ngrid values: the components */
    int ncomp;            /* of a model of library shapes, at grid_x     */
    const char *comp_names[8];
    /* shaded bands at grid_x (NULL: none): the fit's confidence and
       prediction limits, each component's confidence limits (ncomp x
       ngrid lower, then as many upper), and their level */
    const double *conf_lo, *conf_hi, *pred_lo, *pred_hi, *comp_lo, *comp_hi;
    double level;
} plot_data;

/* 0, or -1 on a write error. */
int svg_write(FILE *f, const plot_data *pd);

/* Writes s as SVG/XML text, escaping & < > and " (svg.c, corner_svg.c). */
void svg_xml_text(FILE *f, const char *s);

/* corner_svg.c: the free parameters' histograms (diagonal) and pairs'
   densities (below) of a chain; names[j] parameter j's. 0, or -1 on a
   write error. */
int corner_svg_write(FILE *f, const nlsq_mcmc_result *mc, const char *const *names);

/* ---- outputs.c: the command's output files ----------------------------- */

/* An output option and its file (path NULL: not asked for). */
typedef struct output_file {
    const char *option, *path;
} output_file;

/* Before any work: every output can be written (nlsq_output_check: not a
   directory, its directory exists and takes files), none is one of the
   inputs (by device and inode; "-" is the standard input) and no two are
   the same file. 0, or 2 after printing why, naming the option. */
int outputs_check(const output_file *outs, size_t nouts, const char *const *inputs, size_t ninputs);
/* A file the command or the library reads back (a checkpoint, a column
   cache) cannot be "-", a FIFO or a device: 0, or 2 after printing why. */
int output_must_be_file(const char *what, const char *path);
/* nlsq_output_open, after flushing stdout; NULL after printing why. */
nlsq_output *output_open(const char *what, const char *path);
/* nlsq_output_commit: 0, or 2 after printing why (every write is checked
   there: a full disk, /dev/full). */
int output_commit(const char *what, nlsq_output *o);

#endif
