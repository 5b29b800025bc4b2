/* Reading the NIST StRD files of ../shared/data/nist (test_nist,
   test_global): the certified values, both starts and the data. */
#ifndef NLSQ_TESTS_NIST_READ_H
#define NLSQ_TESTS_NIST_READ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NLSQ_SHARED_DIR
#define NLSQ_SHARED_DIR "../shared"
#endif

#define MAXP 10

typedef struct nist_data {
    int p;
    double start[2][MAXP], cert[MAXP], cert_sd[MAXP];
    double *x, *y; /* x: nvars rows of m */
    size_t m;
} nist_data;

static char data_dir[1024];

static int find_data_dir(void)
{
    const char *env = getenv("NLSQ_TESTDATA");
    snprintf(data_dir, sizeof data_dir, "%s/nist", env ? env : NLSQ_SHARED_DIR "/data");
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/Misra1a.dat", data_dir);
    FILE *f = fopen(probe, "r");
    if (!f) return 0;
    fclose(f);
    return 1;
}

static int read_nist(const char *name, int nvars, nist_data *d)
{
    char path[1100], line[512];
    snprintf(path, sizeof path, "%s/%s.dat", data_dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    memset(d, 0, sizeof *d);
    size_t cap = 0, m = 0;
    int lineno = 0;
    double *rows = NULL;
    while (fgets(line, sizeof line, f)) {
        int k, in_data = ++lineno >= 61; /* the layout of shared/data/README.md */
        double s1, s2, c, sd;
        if (!in_data && sscanf(line, " b%d = %lf %lf %lf %lf", &k, &s1, &s2, &c, &sd) == 5 && k >= 1 && k <= MAXP) {
            d->start[0][k - 1] = s1;
            d->start[1][k - 1] = s2;
            d->cert[k - 1] = c;
            d->cert_sd[k - 1] = sd;
            if (k > d->p) d->p = k;
        } else if (in_data) {
            double v[3];
            int got = sscanf(line, "%lf %lf %lf", &v[0], &v[1], &v[2]);
            if (got != nvars + 1) continue;
            if (m == cap) {
                cap = cap ? 2 * cap : 256;
                rows = realloc(rows, cap * 3 * sizeof *rows);
            }
            memcpy(rows + 3 * m, v, 3 * sizeof *v);
            m++;
        }
    }
    fclose(f);
    d->m = m;
    d->y = malloc(m * sizeof *d->y);
    d->x = malloc(m * (size_t)nvars * sizeof *d->x);
    for (size_t i = 0; i < m; i++) {
        d->y[i] = rows[3 * i];
        for (int k = 0; k < nvars; k++) d->x[(size_t)k * m + i] = rows[3 * i + 1 + k];
    }
    free(rows);
    return m > 0 && d->p > 0;
}

#endif
