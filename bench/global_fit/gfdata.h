/* bench/global_fit: the data file gen_data.py writes (see there), read by
   the C and C++ runners. Header only, so that each runner stays one file. */
#ifndef NLSQ_BENCH_GFDATA_H
#define NLSQ_BENCH_GFDATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gf_data {
    size_t D, m;
    double *x;  /* m: the same grid for every data set */
    double *T;  /* D: each data set's temperature      */
    double *y;  /* D*m, set after set                   */
    double p0[5]; /* a, c, d, k0, Ea                    */
} gf_data;

static int gf_read_doubles(FILE *f, double *v, size_t n)
{
    return fread(v, sizeof *v, n, f) == n;
}

/* 0 and a message on stderr naming the file when it cannot be read */
static int gf_read(const char *path, gf_data *g)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    char magic[8];
    uint64_t dm[2];
    if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "NLSQGF01", 8) || fread(dm, 8, 2, f) != 2) {
        fprintf(stderr, "%s: not a bench/global_fit data file\n", path);
        if (f) fclose(f);
        return 0;
    }
    g->D = (size_t)dm[0];
    g->m = (size_t)dm[1];
    g->x = (double *)malloc(g->m * sizeof(double));
    g->T = (double *)malloc(g->D * sizeof(double));
    g->y = (double *)malloc(g->D * g->m * sizeof(double));
    int ok = g->x && g->T && g->y && gf_read_doubles(f, g->x, g->m) && gf_read_doubles(f, g->T, g->D) &&
             gf_read_doubles(f, g->y, g->D * g->m) && gf_read_doubles(f, g->p0, 5);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: truncated (D %zu, m %zu)\n", path, g->D, g->m);
        free(g->x);
        free(g->T);
        free(g->y);
    }
    return ok;
}

static void gf_free(gf_data *g)
{
    free(g->x);
    free(g->T);
    free(g->y);
}

#endif
