/*
 * arrhenius: the global fit of docs/global-fits.md in C. Twelve decays
 * y = a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x, each at its own
 * temperature T; a, c, d each curve's own, k0 and Ea shared by all.
 *
 *   arrhenius [arrhenius.csv]
 *
 * The file is the long layout (set,t,T,y: a row per point, a curve's rows
 * together), as make_arrhenius.py writes it. Build against the build tree:
 *   cc -O2 -Iinclude -Ibuild/include examples/global/arrhenius.c -Lbuild -lnlsq -lm
 * (or against an installed nlsq: cc arrhenius.c $(pkg-config --cflags --libs nlsq)).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nlsq.h"

enum { MAX_POINTS = 100000, MAX_SETS = 1000 };

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "arrhenius.csv";
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 1;
    }
    /* x holds the model's variables row after row: row 0 x (the time),
       row 1 T (the covariate, repeated over its curve's points) */
    static double t[MAX_POINTS], T[MAX_POINTS], y[MAX_POINTS], x[2 * MAX_POINTS];
    static size_t offsets[MAX_SETS + 1];
    size_t m = 0, nsets = 0;
    double id, prev = -1;
    char line[256];
    if (!fgets(line, sizeof line, f)) line[0] = 0; /* the header */
    while (m < MAX_POINTS && fscanf(f, "%lf,%lf,%lf,%lf", &id, &t[m], &T[m], &y[m]) == 4) {
        if (id != prev && nsets < MAX_SETS) offsets[nsets++] = m; /* a new curve starts here */
        prev = id;
        m++;
    }
    fclose(f);
    offsets[nsets] = m;
    for (size_t i = 0; i < m; i++) {
        x[i] = t[i];
        x[m + i] = T[i];
    }

    nlsq_error err;
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = "x,T";
    nlsq_model *model;
    if (nlsq_model_parse("a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x", &mo, &model, &err) != NLSQ_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    unsigned char is_shared[5] = {0, 1, 1, 0, 0}; /* a, k0, Ea, c, d: order of appearance */
    unsigned char is_cov[2] = {0, 1};             /* x, T */
    double p0[5] = {2, 1, 2000, 0, 0};
    nlsq_options opt = nlsq_options_default();
    opt.p0 = p0;

    nlsq_shared s = nlsq_shared_default();
    s.data.nfits = nsets;
    s.data.offsets = offsets; /* curve d is points offsets[d] .. offsets[d+1]-1 */
    s.data.x = x;
    s.data.y = y;
    s.shared = is_shared;
    s.covariate = is_cov;
    nlsq_shared_result *r;
    if (nlsq_fit_shared(model, &s, &opt, NLSQ_BATCH_PERR, &r, &err) != NLSQ_OK) {
        fprintf(stderr, "%s\n", err.message);
        nlsq_model_free(model);
        return 1;
    }
    /* r->popt[d*5 + j], r->perr likewise: curve d's parameters (k0, Ea the
       same in every row); r->shared_pcov[j*5 + k]: the shared covariance */
    const double *cv = r->shared_pcov;
    printf("%zu curves, %zu points, status %d\n", r->nsets, r->m_total, r->status);
    printf("k0 = %.10g +- %.4g\n", r->popt[1], r->perr[1]);
    printf("Ea = %.10g +- %.4g\n", r->popt[2], r->perr[2]);
    printf("corr(k0, Ea) = %.4f\n", cv[1 * 5 + 2] / (r->perr[1] * r->perr[2]));
    printf("cost = %.10g, dof = %d\n", r->cost, r->dof);
    printf("curve 1: a = %.6g +- %.3g, c = %.6g +- %.3g, d = %.6g +- %.3g\n", r->popt[0], r->perr[0], r->popt[3],
           r->perr[3], r->popt[4], r->perr[4]);
    int ok = r->status > 0;
    nlsq_shared_result_free(r);
    nlsq_model_free(model);
    return ok ? 0 : 1;
}
