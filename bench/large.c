/*
 * bench/large: exponential decay with per-point sigma, fitted at sizes
 * where the data do not fit in a cache, and from a file larger than
 * anything one would load. Driven by bench/large.sh:
 *
 *   bench_large memory N          N points in memory (x, y, sigma arrays)
 *   bench_large write FILE N      write x and y (Fortran-order .npy, 16 N bytes)
 *   bench_large file FILE         fit FILE mapped; sigma from a callback
 *   bench_large scipy-data DIR N  x, y, sigma as .npy files for the SciPy peer
 *   bench_large hdf5 FILE LABEL   fit the datasets /x, /y of an HDF5 file
 *                                 (bench/hdf5_large.py writes them); sigma
 *                                 from the callback, as for the .npy
 *
 * Each fit prints one RESULT line: size, seconds, passes, seconds per pass
 * (the first pass — the data check — included), peak RSS, parameters.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nlsq.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* The data: x on [0, 10], sigma from 0.02 to 0.05 in a cycle of 7 (cheap
   to compute from the index alone, so the callback costs little), y the
   curve plus noise of that size. */
static double x_of(size_t i, size_t m)
{
    return 10.0 * (double)i / (double)m;
}
static double sigma_of(size_t i)
{
    return 0.02 + 0.005 * (double)(i % 7);
}

static double noise(size_t i)
{
    unsigned long long h = (i + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (double)(h >> 11) * 0x1.0p-53 - 0.5;
}

static double y_of(size_t i, size_t m)
{
    double x = x_of(i, m);
    return 2.5 * exp(-1.3 * x) + 0.5 + 2 * sigma_of(i) * noise(i);
}

static int sigma_fill(void *user, size_t first, size_t count, double *const *cols)
{
    (void)user;
    size_t phase = first % 7; /* sigma_of(first + i), without a division a point */
    for (size_t i = 0; i < count; i++) {
        cols[0][i] = 0.02 + 0.005 * (double)phase;
        phase = phase == 6 ? 0 : phase + 1;
    }
    return 0;
}

static void print_result(const char *what, size_t m, double seconds, const nlsq_result *r)
{
    printf("RESULT %s m=%zu seconds=%.3f passes=%d per_pass=%.4f rss_mb=%.1f backend=%s a=%.10g b=%.10g c=%.10g "
           "status=%d\n",
           what, m, seconds, r->passes, seconds / r->passes, peak_rss_kb() / 1024.0, r->backend, r->popt[0], r->popt[1],
           r->popt[2], r->status);
}

static nlsq_model *decay(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        exit(1);
    }
    return m;
}

static const double P0[3] = {2, 1, 0};

static int fit_memory(size_t m)
{
    double *x = malloc(m * sizeof *x), *y = malloc(m * sizeof *y), *s = malloc(m * sizeof *s);
    if (!x || !y || !s) {
        fprintf(stderr, "out of memory for %zu points\n", m);
        return 1;
    }
    for (size_t i = 0; i < m; i++) {
        x[i] = x_of(i, m);
        y[i] = y_of(i, m);
        s[i] = sigma_of(i);
    }
    nlsq_model *model = decay();
    nlsq_options o = nlsq_options_default();
    o.p0 = P0;
    nlsq_data d = {x, y, m, s, NLSQ_SIGMA_PER_POINT};
    nlsq_result *r = NULL;
    nlsq_error e;
    double t0 = now();
    if (nlsq_curve_fit(model, &d, &o, &r, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    print_result("memory", m, now() - t0, r);
    nlsq_result_free(r);
    nlsq_model_free(model);
    free(x);
    free(y);
    free(s);
    return 0;
}

static int write_npy(const char *path, const double *const *cols, int ncols, size_t m)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%zu, %d), }", m, ncols);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < 127; i++) fputc(' ', f);
    fputc('\n', f);
    for (int c = 0; c < ncols; c++)
        if (fwrite(cols[c], sizeof(double), m, f) != m) return 1;
    return fclose(f) != 0;
}

/* x then y, a window at a time. */
static int write_file(const char *path, size_t m)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%zu, 2), }", m);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < 127; i++) fputc(' ', f);
    fputc('\n', f);
    enum { WIN = 1 << 16 };
    static double buf[WIN];
    for (int col = 0; col < 2; col++)
        for (size_t first = 0; first < m; first += WIN) {
            size_t len = m - first < WIN ? m - first : WIN;
            for (size_t i = 0; i < len; i++) buf[i] = col == 0 ? x_of(first + i, m) : y_of(first + i, m);
            if (fwrite(buf, sizeof(double), len, f) != len) return 1;
        }
    return fclose(f) != 0;
}

/* The decay fit of x and y (columns 0 and 1 of `file`, which is taken
   over) with sigma from the callback, one RESULT line under `label`. */
static int fit_xy(nlsq_source *file, const char *label)
{
    nlsq_source *sigma = NULL, *both = NULL;
    nlsq_error e;
    if (nlsq_source_from_callback(1, nlsq_source_num_rows(file), sigma_fill, NULL, 1, &sigma, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        nlsq_source_free(file);
        return 1;
    }
    nlsq_source *parts[2] = {file, sigma};
    if (nlsq_source_join(parts, 2, &both, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        nlsq_source_free(file);
        nlsq_source_free(sigma);
        return 1;
    }
    nlsq_model *model = decay();
    nlsq_options o = nlsq_options_default();
    o.p0 = P0;
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    nlsq_result *r = NULL;
    size_t mem = 0;
    nlsq_fit_memory(model, both, &c, &o, &mem, &e);
    fprintf(stderr, "%s; working memory %.1f MB\n", nlsq_source_describe(both), mem / 1e6);
    double t0 = now();
    int rc = 0;
    if (nlsq_fit_source(model, both, &c, &o, &r, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        rc = 1;
    } else {
        print_result(label, nlsq_source_num_rows(both), now() - t0, r);
    }
    nlsq_result_free(r);
    nlsq_model_free(model);
    nlsq_source_free(both);
    return rc;
}

static int fit_file(const char *path)
{
    nlsq_source *file = NULL;
    nlsq_error e;
    if (nlsq_source_open_npy(path, &file, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    return fit_xy(file, "file");
}

/* The same fit from the HDF5 datasets /x and /y (read in windows through
   the library, prefetched). */
static int fit_hdf5(const char *path, const char *label)
{
    nlsq_source *file = NULL;
    nlsq_error e;
    const char *names[2] = {"/x", "/y"};
    if (nlsq_source_open_hdf5(path, names, 2, &file, &e) != NLSQ_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    return fit_xy(file, label);
}

static int scipy_data(const char *dir, size_t m)
{
    double *v = malloc(m * sizeof *v);
    if (!v) return 1;
    const char *names[3] = {"x.npy", "y.npy", "sigma.npy"};
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < m; i++) v[i] = c == 0 ? x_of(i, m) : c == 1 ? y_of(i, m) : sigma_of(i);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[c]);
        const double *cols[1] = {v};
        if (write_npy(path, cols, 1, m) != 0) return 1;
    }
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "memory") == 0) return fit_memory((size_t)atof(argv[2]));
    if (argc == 4 && strcmp(argv[1], "write") == 0) return write_file(argv[2], (size_t)atof(argv[3]));
    if (argc == 3 && strcmp(argv[1], "file") == 0) return fit_file(argv[2]);
    if (argc == 4 && strcmp(argv[1], "scipy-data") == 0) return scipy_data(argv[2], (size_t)atof(argv[3]));
    if (argc == 4 && strcmp(argv[1], "hdf5") == 0) return fit_hdf5(argv[2], argv[3]);
    fprintf(stderr, "usage: bench_large memory N | write FILE N | file FILE | scipy-data DIR N | hdf5 FILE LABEL\n");
    return 2;
}
