/* What the 1-D and 2-D profiles share (profile.c). */
#ifndef NLSQ_UNCERTAINTY_PROFILE_H
#define NLSQ_UNCERTAINTY_PROFILE_H

#include "nlsq.h"

typedef struct prof_ctx {
    const nlsq_model *model;
    nlsq_source *src;
    const nlsq_columns *cols;
    nlsq_options base; /* the fit's options without hooks and files */
    const nlsq_result *fit;
    int n;
    int dof;
    int absolute; /* delta chi-square test instead of the F-test */
    double c0;    /* the fit's objective (chi2; 2 cost with a robust loss) */
    int threads;  /* all the threads the profile may use */
    int gpu;      /* the fit ran on a GPU: refits one at a time (they
                     would queue on the device anyway) */
} prof_ctx;

nlsq_status prof_setup(prof_ctx *c, const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                       const nlsq_options *opt, const nlsq_result *fit, int threads, const char *who, nlsq_error *err);
/* The quantity a fit minimized: chi2 for the linear loss, else 2 cost. */
double prof_objective(const nlsq_options *opt, const nlsq_result *r);
/* The statistic at chi2 with nfix parameters held: the F-test's or the
   chi-square's probability. */
double prof_prob(const prof_ctx *c, double chi2, int nfix);
/* Refit with the parameters `hold` held at p (p: the warm start in, the
   refit's parameters out); 0, or -1 with the reason (an error, or a fit
   that did not converge). */
int prof_refit(const prof_ctx *c, double *p, const unsigned char *hold, int threads, double *chi2, char *why,
               size_t why_size);
/* A parameter's index, or -1 with an error naming the model's parameters. */
int prof_find_param(const nlsq_model *model, const char *name, const char *who, nlsq_error *err);
nlsq_status prof_check_level(double level, const char *who, nlsq_error *err);
/* How ntasks chains of refits share the threads: K at once, each refit on
   *fit_threads. Returns K. */
int prof_plan(const prof_ctx *c, int ntasks, int *fit_threads);
/* A source over an nlsq_data's arrays (not a covariance sigma). */
nlsq_status prof_data_source(const nlsq_model *model, const nlsq_data *data, nlsq_source **src, nlsq_columns *cols,
                             const char *who, nlsq_error *err);

#endif
