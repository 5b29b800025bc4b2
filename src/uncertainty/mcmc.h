/* The MCMC sampler's pieces (mcmc.c, mcmc_stats.c). */
#ifndef NLSQ_UNCERTAINTY_MCMC_H
#define NLSQ_UNCERTAINTY_MCMC_H

#include "nlsq.h"

/* A result with room for a chain of kept x walkers x n; the rest zero.
   NULL when out of memory. */
nlsq_mcmc_result *mcmc_result_alloc(int n, int walkers, int kept);
/* From r's chain: mean, sd, quantiles, tau, ESS, acceptance_mean and the
   warning; is_free[j] marks the sampled parameters, names[j] their names. 0, or -1 when out of
   memory. */
int mcmc_summarize(nlsq_mcmc_result *r, const unsigned char *is_free, const char *const *names);

#endif
