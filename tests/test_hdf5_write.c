/*
 * Results into HDF5 (nlsq_result_write_hdf5, nlsq_batch_result_write_hdf5;
 * issue 21): every value read back with the HDF5 library equals the
 * result's own double bit for bit; predictions equal the model at popt
 * across window boundaries; the modes (replace, create, append) and their
 * refusals leave files as they were; writers on several threads at once;
 * without HDF5 in the build, the message names libhdf5-dev.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nlsq.h"

#ifdef NLSQ_HAVE_HDF5
#include <hdf5.h>
#endif

/* A decay fitted in memory; x, y are filled (m points). */
static nlsq_result *fit_decay(nlsq_model **model, double *x, double *y, size_t m, nlsq_error *err)
{
    for (size_t i = 0; i < m; i++) {
        x[i] = 0.01 * (double)i;
        y[i] = 2.5 * exp(-1.3 * x[i]) + 0.5 + 0.01 * sin(37.0 * (double)i);
    }
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, model, err) != NLSQ_OK) return NULL;
    double p0[3] = {1, 1, 0};
    nlsq_options opt = nlsq_options_default();
    opt.p0 = p0;
    nlsq_data data = {x, y, m, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *r = NULL;
    nlsq_curve_fit(*model, &data, &opt, &r, err);
    return r;
}

#ifndef NLSQ_HAVE_HDF5

static void test_without_hdf5_the_package_is_named(void)
{
    nlsq_error err;
    nlsq_model *m = NULL;
    double x[50], y[50];
    nlsq_result *r = fit_decay(&m, x, y, 50, &err);
    CHECK(r != NULL);
    CHECK(nlsq_have_hdf5() == 0);
    CHECK(nlsq_result_write_hdf5("/tmp/x.h5", NULL, m, r, NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "libhdf5-dev") != NULL, "message: %s", err.message);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {TEST(test_without_hdf5_the_package_is_named)};
    return run_tests(tests, 1);
}

#else

static char dir[256];

static void make_dir(void)
{
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "%s/nlsq-h5w-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) dir[0] = '\0';
}

static void path_in(char *out, size_t size, const char *name)
{
    make_dir();
    snprintf(out, size, "%s/%s", dir, name);
}

static int file_bytes(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(*len + 1);
    size_t got = fread(*out, 1, *len, f);
    fclose(f);
    return got == *len ? 0 : -1;
}

/* Reading back: a dataset's doubles (count expected), or -1. */
static int read_doubles(hid_t loc, const char *name, double *out, size_t count)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    int rc = n == (hssize_t)count &&
                     (count == 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0)
               ? 0
               : -1;
    H5Sclose(s);
    H5Dclose(d);
    return rc;
}

static long long read_int(hid_t loc, const char *name)
{
    long long v = -999999;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d >= 0) {
        H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        H5Dclose(d);
    }
    return v;
}

/* A string attribute (variable length) into buf; "" when missing. */
static void read_attr_string(hid_t loc, const char *name, char *buf, size_t size)
{
    buf[0] = '\0';
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return;
    hid_t t = H5Aget_type(a);
    char *s = NULL;
    if (H5Tis_variable_str(t) > 0 && H5Aread(a, t, &s) >= 0 && s) {
        snprintf(buf, size, "%s", s);
        H5free_memory(s);
    }
    H5Tclose(t);
    H5Aclose(a);
}

static int same_bits(const double *a, const double *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void test_result_read_back_bit_for_bit(void)
{
    enum { M = 300 };
    double x[M], y[M];
    nlsq_error err;
    nlsq_model *m = NULL;
    nlsq_result *r = fit_decay(&m, x, y, M, &err);
    CHECK(r != NULL);
    if (!r) return;
    char path[512];
    path_in(path, sizeof path, "one.h5");
    nlsq_data data = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.predictions = 1;
    o.data = &data;
    o.model_text = "a*exp(-b*x) + c";
    CHECK_MSG(nlsq_result_write_hdf5(path, "/fits/decay", m, r, &o, &err) == NLSQ_OK, "%s", err.message);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f < 0) goto done;
    hid_t g = H5Gopen2(f, "/fits/decay", H5P_DEFAULT);
    double v[9], lo[3], hi[3], got_lo[3], got_hi[3];
    CHECK(read_doubles(g, "popt", v, 3) == 0 && same_bits(v, r->popt, 3));
    CHECK(read_doubles(g, "perr", v, 3) == 0 && same_bits(v, r->perr, 3));
    CHECK(read_doubles(g, "pcov", v, 9) == 0 && same_bits(v, r->pcov, 9));
    CHECK(nlsq_result_intervals(r, 0.95, lo, hi, &err) == NLSQ_OK);
    CHECK(read_doubles(g, "interval_lower", got_lo, 3) == 0 && same_bits(got_lo, lo, 3));
    CHECK(read_doubles(g, "interval_upper", got_hi, 3) == 0 && same_bits(got_hi, hi, 3));
    CHECK(read_doubles(g, "cost", v, 1) == 0 && same_bits(v, &r->cost, 1));
    CHECK(read_doubles(g, "chi2", v, 1) == 0 && same_bits(v, &r->chi2, 1));
    CHECK(read_doubles(g, "redchi", v, 1) == 0 && same_bits(v, &r->redchi, 1));
    CHECK(read_doubles(g, "r2", v, 1) == 0 && same_bits(v, &r->r2, 1));
    CHECK(read_int(g, "nfev") == r->nfev && read_int(g, "njev") == r->njev && read_int(g, "status") == r->status);
    CHECK(read_int(g, "dof") == r->dof && read_int(g, "m") == (long long)r->m);
    char text[256];
    read_attr_string(g, "model", text, sizeof text);
    CHECK_MSG(strcmp(text, "a*exp(-b*x) + c") == 0, "model attribute '%s'", text);
    read_attr_string(g, "nlsq_version", text, sizeof text);
    CHECK(strcmp(text, nlsq_version()) == 0);
    read_attr_string(g, "sigma", text, sizeof text);
    CHECK(strcmp(text, "none") == 0);
    read_attr_string(g, "created", text, sizeof text);
    CHECK(strlen(text) == 20 && text[10] == 'T');
    /* the predictions: the model at popt, row for row */
    double *px = malloc(M * sizeof *px), *pf = malloc(M * sizeof *pf), *want = malloc(M * sizeof *want);
    CHECK(read_doubles(g, "predictions/x", px, M) == 0 && same_bits(px, x, M));
    CHECK(read_doubles(g, "predictions/fit", pf, M) == 0);
    nlsq_model_eval(m, r->popt, x, M, want, NULL, &err);
    CHECK(same_bits(pf, want, M));
    CHECK(read_doubles(g, "predictions/residual", pf, M) == 0);
    int ok = 1;
    for (size_t i = 0; i < M; i++) ok &= pf[i] == y[i] - want[i];
    CHECK(ok);
    free(px);
    free(pf);
    free(want);
    H5Gclose(g);
    H5Fclose(f);
done:
    nlsq_result_free(r);
    nlsq_model_free(m);
}

/* A source of 2 windows and a bit, sigma in a column: every row's fit. */
static void test_predictions_from_a_source_across_windows(void)
{
    enum { M = 65536 * 2 + 7 };
    double *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y), *s = malloc(M * sizeof *s);
    nlsq_error err;
    nlsq_model *m = NULL;
    nlsq_result *r = fit_decay(&m, x, y, M, &err);
    CHECK(r != NULL);
    for (size_t i = 0; i < M; i++) s[i] = 0.01 + 1e-7 * (double)i;
    const double *cols[3] = {x, y, s};
    nlsq_source *src = NULL;
    CHECK(nlsq_source_from_arrays(cols, 3, M, &src, &err) == NLSQ_OK);
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    char path[512];
    path_in(path, sizeof path, "source.h5");
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.predictions = 1;
    o.source = src;
    o.columns = &c;
    CHECK_MSG(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_OK, "%s", err.message);
    double *got = malloc(M * sizeof *got), *want = malloc(M * sizeof *want);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    nlsq_model_eval(m, r->popt, x, M, want, NULL, &err);
    CHECK(read_doubles(f, "/predictions/fit", got, M) == 0 && same_bits(got, want, M));
    CHECK(read_doubles(f, "/predictions/sigma", got, M) == 0 && same_bits(got, s, M));
    CHECK(read_doubles(f, "/predictions/y", got, M) == 0 && same_bits(got, y, M));
    char text[64];
    read_attr_string(f, "sigma", text, sizeof text);
    CHECK(strcmp(text, "per_point") == 0);
    H5Fclose(f);
    /* the source's own data cannot be the output: a source of arrays reads
       no file, so the refusal is tried through inputs */
    o.inputs = (const char *const[]){path};
    o.n_inputs = 1;
    CHECK(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "refusing to overwrite") != NULL, "%s", err.message);
    free(got);
    free(want);
    nlsq_source_free(src);
    /* a file the source maps is refused whatever the inputs say */
    char npy[512];
    path_in(npy, sizeof npy, "data.npy");
    FILE *fn = fopen(npy, "wb");
    static const char head[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }";
    char header[128];
    memset(header, ' ', sizeof header);
    memcpy(header, head, sizeof head - 1);
    header[127] = '\n';
    fwrite(header, 1, sizeof header, fn);
    double rows[8] = {0, 1, 1, 0.5, 2, 0.25, 3, 0.125};
    fwrite(rows, sizeof rows[0], 8, fn);
    fclose(fn);
    CHECK_MSG(nlsq_source_open_npy(npy, &src, &err) == NLSQ_OK, "%s", err.message);
    char *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    CHECK(file_bytes(npy, &before, &nb) == 0);
    o = nlsq_hdf5_write_options_default();
    o.source = src;
    CHECK(nlsq_result_write_hdf5(npy, NULL, m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "fit's data") != NULL, "%s", err.message);
    CHECK(file_bytes(npy, &after, &na) == 0 && na == nb && memcmp(before, after, nb) == 0);
    free(before);
    free(after);
    nlsq_source_free(src);
    nlsq_result_free(r);
    nlsq_model_free(m);
    free(x);
    free(y);
    free(s);
}

static void test_modes_and_refusals_leave_files_alone(void)
{
    double x[60], y[60];
    nlsq_error err;
    nlsq_model *m = NULL;
    nlsq_result *r = fit_decay(&m, x, y, 60, &err);
    char path[512], other[512];
    path_in(path, sizeof path, "modes.h5");
    path_in(other, sizeof other, "text.txt");
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.mode = NLSQ_HDF5_APPEND; /* a missing file is made */
    CHECK_MSG(nlsq_result_write_hdf5(path, "first", m, r, &o, &err) == NLSQ_OK, "%s", err.message);
    CHECK_MSG(nlsq_result_write_hdf5(path, "/second/", m, r, &o, &err) == NLSQ_OK, "%s", err.message);
    char *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    CHECK(file_bytes(path, &before, &nb) == 0);
    CHECK(nlsq_result_write_hdf5(path, "first", m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "exists already") != NULL, "%s", err.message);
    CHECK(nlsq_result_write_hdf5(path, "/", m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK(file_bytes(path, &after, &na) == 0 && na == nb && memcmp(before, after, nb) == 0);
    free(after);
    o.mode = NLSQ_HDF5_CREATE;
    CHECK(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "exists") != NULL, "%s", err.message);
    CHECK(nlsq_result_write_hdf5(path, "a//b", m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_result_write_hdf5(path, "/a/../b", m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "'..'") != NULL, "%s", err.message);
    CHECK(nlsq_result_write_hdf5(path, "./fit", m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_result_write_hdf5(path, "fit/..", m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(file_bytes(path, &after, &na) == 0 && na == nb && memcmp(before, after, nb) == 0);
    free(after);
    free(before);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(H5Lexists(f, "first", H5P_DEFAULT) > 0 && H5Lexists(f, "second", H5P_DEFAULT) > 0);
    H5Fclose(f);
    /* appending to a file that is not HDF5 */
    FILE *t = fopen(other, "w");
    fputs("x,y\n1,2\n", t);
    fclose(t);
    o.mode = NLSQ_HDF5_APPEND;
    CHECK(nlsq_result_write_hdf5(other, "g", m, r, &o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "not an HDF5 file") != NULL, "%s", err.message);
    /* bad arguments */
    CHECK(nlsq_result_write_hdf5(NULL, NULL, m, r, NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_result_write_hdf5(path, NULL, NULL, r, NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_result_write_hdf5("-", NULL, m, r, NULL, &err) == NLSQ_ERR_IO);
    CHECK(nlsq_result_write_hdf5(dir, NULL, m, r, NULL, &err) == NLSQ_ERR_IO);
    o = nlsq_hdf5_write_options_default();
    o.level = 1.5; /* refused, not written without its intervals */
    CHECK(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "level 1.5 is not in (0, 1)") != NULL, "%s", err.message);
    o.level = NAN;
    CHECK(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    o = nlsq_hdf5_write_options_default();
    o.predictions = 1;
    CHECK(nlsq_result_write_hdf5(path, NULL, m, r, &o, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "predictions need") != NULL, "%s", err.message);
    nlsq_result_free(r);
    nlsq_model_free(m);
}

typedef struct writer_job {
    int index;
    nlsq_status st;
    char message[256];
} writer_job;

static void *write_many(void *arg)
{
    writer_job *job = arg;
    double x[80], y[80];
    nlsq_error err;
    nlsq_model *m = NULL;
    nlsq_result *r = fit_decay(&m, x, y, 80, &err);
    char path[512], name[64];
    snprintf(name, sizeof name, "thread%d.h5", job->index);
    path_in(path, sizeof path, name);
    nlsq_data data = {x, y, 80, NULL, NLSQ_SIGMA_NONE};
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.predictions = 1;
    o.data = &data;
    job->st = NLSQ_OK;
    for (int k = 0; k < 20 && job->st == NLSQ_OK; k++) {
        job->st = nlsq_result_write_hdf5(path, NULL, m, r, &o, &err);
        if (job->st != NLSQ_OK) snprintf(job->message, sizeof job->message, "%s", err.message);
    }
    nlsq_result_free(r);
    nlsq_model_free(m);
    return NULL;
}

static void test_writers_on_several_threads(void)
{
    enum { T = 4 };
    pthread_t th[T];
    writer_job jobs[T];
    make_dir();
    for (int i = 0; i < T; i++) {
        jobs[i].index = i;
        pthread_create(&th[i], NULL, write_many, &jobs[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(jobs[i].st == NLSQ_OK, "thread %d: %s", i, jobs[i].message);
    }
}

static void test_batch_table(void)
{
    enum { FITS = 7, P = 20 };
    double x[P], y[FITS * P], ids[FITS];
    for (int p = 0; p < P; p++) x[p] = 0.2 * p;
    for (int i = 0; i < FITS; i++) {
        ids[i] = 100 + i;
        for (int p = 0; p < P; p++) y[i * P + p] = (1 + 0.3 * i) * exp(-0.8 * x[p]) + 0.001 * sin(3.0 * (p + i));
    }
    nlsq_error err;
    nlsq_model *m = NULL;
    CHECK(nlsq_model_parse("a*exp(-b*x)", NULL, &m, &err) == NLSQ_OK);
    nlsq_batch b = nlsq_batch_default();
    b.nfits = FITS;
    b.m = P;
    b.x = x;
    b.x_shared = 1;
    b.y = y;
    nlsq_batch_result *r = NULL;
    CHECK(nlsq_fit_batch(m, &b, NULL, NLSQ_BATCH_PCOV, &r, &err) == NLSQ_OK);
    char path[512];
    path_in(path, sizeof path, "batch.h5");
    CHECK_MSG(nlsq_batch_result_write_hdf5(path, "/table", m, r, &b, ids, NULL, NULL, &err) == NLSQ_OK, "%s",
              err.message);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t g = H5Gopen2(f, "/table", H5P_DEFAULT);
    double got[FITS], want[FITS], cov[FITS * 4];
    CHECK(read_doubles(g, "id", got, FITS) == 0 && same_bits(got, ids, FITS));
    for (int i = 0; i < FITS; i++) want[i] = r->popt[i * 2 + 1];
    CHECK(read_doubles(g, "b", got, FITS) == 0 && same_bits(got, want, FITS));
    for (int i = 0; i < FITS; i++) want[i] = r->perr[i * 2];
    CHECK(read_doubles(g, "a_err", got, FITS) == 0 && same_bits(got, want, FITS));
    CHECK(read_doubles(g, "chi2", got, FITS) == 0 && same_bits(got, r->chi2, FITS));
    for (int i = 0; i < FITS; i++) want[i] = r->chi2[i] / (double)(r->m[i] - 2);
    CHECK(read_doubles(g, "redchi", got, FITS) == 0 && same_bits(got, want, FITS));
    CHECK(read_doubles(g, "pcov", cov, FITS * 4) == 0 && same_bits(cov, r->pcov, FITS * 4));
    H5Gclose(g);
    H5Fclose(f);
    /* a parameter named as a column is refused */
    nlsq_model *bad = NULL;
    CHECK(nlsq_model_parse("chi2*exp(-b*x)", NULL, &bad, &err) == NLSQ_OK);
    CHECK(nlsq_batch_result_write_hdf5(path, NULL, bad, r, &b, NULL, NULL, NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "chi2") != NULL, "%s", err.message);
    nlsq_model_free(bad);
    nlsq_batch_result_free(r);
    nlsq_model_free(m);
}

static void cleanup(void)
{
    char cmd[600];
    if (dir[0] && strstr(dir, "nlsq-h5w-")) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) printf("could not remove %s\n", dir);
    }
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_result_read_back_bit_for_bit),
        TEST(test_predictions_from_a_source_across_windows),
        TEST(test_modes_and_refusals_leave_files_alone),
        TEST(test_writers_on_several_threads),
        TEST(test_batch_table),
    };
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    cleanup();
    return rc;
}

#endif
