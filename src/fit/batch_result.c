/* A batch's result, freed: shared by batch.c and batch_group.c (a group's
   shares are batch results of their own). */
#include <stdlib.h>

#include "fit.h"

void nlsq_batch_result_free(nlsq_batch_result *r)
{
    if (!r) return;
    free(r->popt);
    free(r->perr);
    free(r->pcov);
    free(r->status);
    free(r->pcov_valid);
    free(r->cost);
    free(r->chi2);
    free(r->nit);
    free(r->nfev);
    free(r->m);
    free(r->diag_flags);
    free(r);
}
