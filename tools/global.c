/*
 * nlsq fit --global: the search takes its data as arrays (every start
 * reads them each round), so the chosen columns are read into memory
 * first; then nlsq_fit_global. dataset_arrays serves --bootstrap too.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int dataset_arrays(const dataset *d, const char *what, double **xp, double **yp, double **sp)
{
    size_t m = nlsq_source_num_rows(d->src);
    int k = d->k, rc = 0;
    double *x = malloc((m * (size_t)(k ? k : 1) + 1) * sizeof *x), *y = NULL, *sigma = NULL;
    if (!x) return die("%s: out of memory for %zu rows (it holds the data in memory)", what, m);
    nlsq_error err;
    for (int v = 0; v < k && !rc; v++)
        if (m && nlsq_source_read(d->src, d->xc[v], 0, m, x + (size_t)v * m, &err) != NLSQ_OK)
            rc = die("%s: %s", what, err.message);
    if (!rc && !(y = column_read(d->src, d->yc, 0, m))) rc = 2;
    if (!rc && d->sc >= 0 && !(sigma = column_read(d->src, d->sc, 0, m))) rc = 2;
    if (rc) {
        free(x);
        free(y);
        free(sigma);
        return rc;
    }
    *xp = x;
    *yp = y;
    *sp = sigma;
    return 0;
}

int fit_global_run(const cli *c, const dataset *d, nlsq_result **r)
{
    if (c->checkpoint) return die("--checkpoint and --resume do not go with --global");
    double *x, *y, *sigma;
    int rc = dataset_arrays(d, "--global", &x, &y, &sigma);
    if (rc) return rc;
    nlsq_data data = {x, y, nlsq_source_num_rows(d->src), sigma, sigma ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE};
    nlsq_error err;
    if (nlsq_fit_global(d->m, &data, &c->opt, &c->gopt, r, &err) != NLSQ_OK) rc = die("%s", err.message);
    free(x);
    free(y);
    free(sigma);
    return rc;
}
