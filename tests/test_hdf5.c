/*
 * HDF5 sources (nlsq_source_open_hdf5) against files h5py writes at test
 * time (tests/test_hdf5_write.py): every numeric dtype in both byte orders,
 * 1-D columns and 2-D tables, in every layout and filter, read to the bit
 * against the values NumPy wrote; windows at any offset and from several
 * threads; the NeXus default plot (current and older conventions); and a
 * clear refusal of each malformed file. Skipped, with the reason, without
 * HDF5 in the build or without h5py.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fit/source.h"
#include "nlsq.h"

static char dir[256];
static int have_files; /* 1 written, 0 not yet, -1 cannot */
static char why_not[300];

static void cleanup(void);

static int files(void)
{
    if (have_files) return have_files > 0;
    have_files = -1;
    if (!nlsq_have_hdf5()) {
        snprintf(why_not, sizeof why_not, "this build has no HDF5 (libhdf5-dev)");
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/nlsq_hdf5_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/test_hdf5_write.py %s >%s/writer.log 2>&1", NLSQ_SOURCE_DIR,
             dir, dir);
    int rc = system(cmd);
    if (rc != 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        snprintf(why_not, sizeof why_not, "no h5py for /usr/bin/python3 (Debian python3-h5py; make test-deps)");
        return 0;
    }
    if (rc != 0) {
        /* the writer itself failed: a failure, not a skip */
        printf("    the h5py writer failed (status %d); see below\n", rc);
        snprintf(cmd, sizeof cmd, "tail -5 %s/writer.log", dir);
        if (system(cmd) != 0) printf("    (no log)\n");
        have_files = 1; /* for cleanup: the directory is removed */
        cleanup();
        exit(1);
    }
    have_files = 1;
    return 1;
}

static void cleanup(void)
{
    if (have_files > 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
}

static const char *at(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

#define NEED_FILES() \
    do { \
        if (!files()) { \
            test_skip(why_not); \
            return; \
        } \
    } while (0)

/* Every column of src, whole, against the .npy (1-D, or rows x cols). */
static int same_as_npy(nlsq_source *src, const char *npy, const char *what)
{
    nlsq_source *want;
    nlsq_error err;
    if (nlsq_source_open_npy(npy, &want, &err) != NLSQ_OK) {
        printf("    %s: %s\n", what, err.message);
        return 0;
    }
    size_t m = nlsq_source_num_rows(want);
    int ok = m == nlsq_source_num_rows(src) && nlsq_source_num_columns(want) == nlsq_source_num_columns(src);
    double *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b);
    for (int c = 0; ok && c < nlsq_source_num_columns(src); c++) {
        ok = nlsq_source_read(src, c, 0, m, a, &err) == NLSQ_OK && nlsq_source_read(want, c, 0, m, b, &err) == NLSQ_OK;
        for (size_t i = 0; ok && i < m; i++)
            if (memcmp(&a[i], &b[i], sizeof(double)) != 0 && !(isnan(a[i]) && isnan(b[i]))) {
                printf("    %s column %d row %zu: got %.17g, want %.17g\n", what, c, i, a[i], b[i]);
                ok = 0;
            }
    }
    if (!ok && m != nlsq_source_num_rows(src))
        printf("    %s: %zu rows, want %zu\n", what, nlsq_source_num_rows(src), m);
    free(a);
    free(b);
    nlsq_source_free(want);
    return ok;
}

static void test_every_dtype_and_layout(void)
{
    NEED_FILES();
    FILE *f = fopen(at("manifest.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char ds[256], npy[256];
        if (sscanf(line, "%255s %255s", ds, npy) != 2) continue;
        const char *names[1] = {ds};
        nlsq_source *s;
        nlsq_error err;
        nlsq_status st = nlsq_source_open_hdf5(at("types.h5"), names, 1, &s, &err);
        CHECK_MSG(st == NLSQ_OK, "%s: %s", ds, err.message);
        if (st != NLSQ_OK) continue;
        CHECK_MSG(same_as_npy(s, at(npy), ds), "%s differs from what NumPy wrote", ds);
        /* names: the path, or PATH:1..3 for a table */
        const char *name0 = nlsq_source_column_name(s, 0);
        if (nlsq_source_num_columns(s) == 3) {
            char want[300];
            snprintf(want, sizeof want, "%s:1", ds);
            CHECK_MSG(strcmp(name0, want) == 0, "%s: column name %s", ds, name0);
        } else {
            CHECK_MSG(strcmp(name0, ds) == 0, "%s: column name %s", ds, name0);
        }
        nlsq_source_free(s);
        n++;
    }
    fclose(f);
    /* 6 layouts x 11 dtypes x 2 orders x (1-D, 2-D), less scale-offset's
       half floats, and the long one; szip and n-bit where h5py has them */
    CHECK_MSG(n >= 6 * 11 * 2 * 2 - 4 + 1, "%d datasets checked", n);
    printf("    %d datasets read to the bit\n", n);
}

/* Windows at odd offsets, straddling the ring's blocks, in any order, from
   four threads at once: the values of the long deflated dataset. */
typedef struct reader_job {
    nlsq_source *s;
    const double *want;
    size_t m;
    int seed, bad;
} reader_job;

static void *read_windows(void *arg)
{
    reader_job *j = arg;
    rng r = {0x9E3779B97F4A7C15ull ^ (unsigned long long)j->seed};
    double *buf = malloc(70000 * sizeof *buf);
    nlsq_error err;
    for (int k = 0; k < 60 && !j->bad; k++) {
        size_t count = 1 + (size_t)rng_int(&r, 70000), first = (size_t)(rng_uniform(&r) * (double)(j->m - count));
        if (nlsq_source_read(j->s, 0, first, count, buf, &err) != NLSQ_OK || memcmp(buf, j->want + first, count * 8))
            j->bad = 1;
    }
    free(buf);
    return NULL;
}

static void test_windows_from_threads(void)
{
    NEED_FILES();
    const char *names[] = {"/long"};
    nlsq_source *s, *want;
    nlsq_error err;
    CHECK(nlsq_source_open_hdf5(at("types.h5"), names, 1, &s, &err) == NLSQ_OK);
    CHECK(nlsq_source_open_npy(at("exp_long.npy"), &want, &err) == NLSQ_OK);
    size_t m = nlsq_source_num_rows(s);
    CHECK(m == 200003);
    double *all = malloc(m * sizeof *all);
    CHECK(nlsq_source_read(want, 0, 0, m, all, &err) == NLSQ_OK);
    reader_job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (reader_job){s, all, m, t, 0};
        pthread_create(&th[t], NULL, read_windows, &jobs[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_MSG(!jobs[t].bad, "thread %d read a wrong window", t);
    }
    /* the last row, alone */
    double last;
    CHECK(nlsq_source_read(s, 0, m - 1, 1, &last, &err) == NLSQ_OK && last == all[m - 1]);
    free(all);
    nlsq_source_free(s);
    nlsq_source_free(want);
}

/* The NeXus default plot: x, y, sigma with no names. */
static void check_plot(const char *file, const char *x, const char *y, const char *sigma)
{
    nlsq_source *s;
    nlsq_error err;
    nlsq_status st = nlsq_source_open_hdf5(at(file), NULL, 0, &s, &err);
    CHECK_MSG(st == NLSQ_OK, "%s: %s", file, err.message);
    if (st != NLSQ_OK) return;
    int n = sigma ? 3 : 2;
    CHECK_MSG(nlsq_source_num_columns(s) == n, "%s: %d columns", file, nlsq_source_num_columns(s));
    const char *want[3] = {x, y, sigma};
    for (int c = 0; c < n && c < nlsq_source_num_columns(s); c++)
        CHECK_MSG(strcmp(nlsq_source_column_name(s, c), want[c]) == 0, "%s: column %d is %s, want %s", file, c,
                  nlsq_source_column_name(s, c), want[c]);
    CHECK(nlsq_source_num_rows(s) == 2001);
    double v[2];
    CHECK(nlsq_source_read(s, 0, 2000, 1, v, &err) == NLSQ_OK && v[0] == 10.0);
    nlsq_source_free(s);
}

static void test_nexus_default(void)
{
    NEED_FILES();
    check_plot("scan.nxs", "/entry2/plot/t", "/entry2/plot/counts", "/entry2/plot/counts_errors");
    check_plot("old.nxs", "/entry/data/t", "/entry/data/counts", "/entry/data/errors");
    check_plot("utf8.nxs", "/entry/plot/t", "/entry/plot/counts", "/entry/plot/counts_errors");
    check_plot("classes.nxs", "/scan/counts_vs_t/t", "/scan/counts_vs_t/counts", NULL);
}

/* One refusal: status, and the message holds each of the words. */
static void refused(const char *file, const char *ds, const char *w1, const char *w2)
{
    nlsq_source *s = (nlsq_source *)1;
    nlsq_error err;
    const char *names[2] = {"/x", ds};
    int count = ds ? (strcmp(ds, "/x") == 0 ? 1 : 2) : 0;
    nlsq_status st = nlsq_source_open_hdf5(at(file), count == 1 ? names + 1 : names, count, &s, &err);
    CHECK_MSG(st != NLSQ_OK && s == NULL, "%s %s: opened", file, ds ? ds : "(default)");
    if (st == NLSQ_OK) {
        nlsq_source_free(s);
        return;
    }
    CHECK_MSG(strstr(err.message, at(file)) != NULL, "the message does not name the file: %s", err.message);
    CHECK_MSG(strstr(err.message, w1) != NULL, "'%s' not in: %s", w1, err.message);
    CHECK_MSG(!w2 || strstr(err.message, w2) != NULL, "'%s' not in: %s", w2, err.message);
    CHECK_MSG(!strchr(err.message, '\n'), "a message of several lines: %s", err.message);
}

static void test_malformed(void)
{
    NEED_FILES();
    refused("bad.h5", "/nothing", "no dataset /nothing", NULL);
    refused("bad.h5", "/grp", "/grp is a group", NULL);
    refused("bad.h5", "/short", "/short has 2000 rows but /x has 2001", NULL);
    refused("bad.h5", "/cube", "/cube has 3 dimensions", NULL);
    refused("bad.h5", "/scalar", "/scalar has 0 dimensions", NULL);
    refused("bad.h5", "/text", "/text holds string", NULL);
    refused("bad.h5", "/vtext", "/vtext holds string", NULL);
    refused("bad.h5", "/compound", "/compound holds compound", NULL);
    refused("bad.h5", "/enum", "/enum holds enum", NULL);
    refused("bad.h5", "/refs", "/refs holds reference", NULL);
    refused("bad.h5", "/empty", "/empty is empty (0 rows)", NULL);
    refused("bad.h5", "/empty2", "/empty2 is empty (shape 5 x 0)", NULL);
    refused("bad.h5", "/lzf", "/lzf is compressed with HDF5 filter 32000", "does not provide");
    refused("truncated.h5", "/x", "not a readable HDF5 file", "truncated");
    refused("head.h5", "/x", "not a readable HDF5 file", NULL);
    refused("noaxis.nxs", NULL, "the signal 'counts' has no axis", "/entry/data");
    refused("image.nxs", NULL, "the signal 'img' is 2-D; only a 1-D signal is plotted as y; name the datasets", NULL);
    refused("nodefault.h5", NULL, "no NeXus entry", "/a/x (2001), /a/y (2001)");
    refused("fit.npy", "/x", "not a readable HDF5 file", NULL);
    /* a chunk that does not inflate (decoded by nlsq), one whose
       fletcher32 checksum fails (checked by the library): opened, and
       refused when read, naming the rows and the dataset */
    const char *chunky[][2] = {{"badchunk.h5", "/y"}, {"badsum.h5", "/x"}};
    for (int k = 0; k < 2; k++) {
        nlsq_source *s;
        nlsq_error err;
        CHECK(nlsq_source_open_hdf5(at(chunky[k][0]), &chunky[k][1], 1, &s, &err) == NLSQ_OK);
        if (!s) continue;
        double *v = malloc(2001 * sizeof *v);
        CHECK(nlsq_source_read(s, 0, 0, 2001, v, &err) != NLSQ_OK);
        const char *want =
            k == 0 ? "rows 768 to 1023 of dataset /y cannot be read (the file is damaged?): a chunk does not decode"
                   : "of dataset /x cannot be read (the file is damaged?): data error detected by "
                     "Fletcher32 checksum";
        CHECK_MSG(strstr(err.message, want) && strstr(err.message, chunky[k][0]), "%s", err.message);
        free(v);
        nlsq_source_free(s);
    }
    /* damaged in the middle: refused when opened or when read, with a
       message either way, never a crash */
    const char *damaged[] = {"corrupt.h5", "corrupt_meta.h5"};
    for (int k = 0; k < 2; k++) {
        const char *names[] = {"/x", "/y", "/sigma"};
        nlsq_source *s;
        nlsq_error err;
        if (nlsq_source_open_hdf5(at(damaged[k]), names, 3, &s, &err) != NLSQ_OK) {
            CHECK_MSG(strstr(err.message, damaged[k]) != NULL, "%s", err.message);
            continue;
        }
        double *v = malloc(2001 * sizeof *v);
        for (int c = 0; c < 3; c++)
            if (nlsq_source_read(s, c, 0, 2001, v, &err) != NLSQ_OK)
                CHECK_MSG(strstr(err.message, "cannot be read") != NULL, "%s", err.message);
        free(v);
        nlsq_source_free(s);
    }
}

static void test_api_edges(void)
{
    nlsq_source *s = (nlsq_source *)1;
    nlsq_error err;
    CHECK(nlsq_source_open_hdf5(NULL, NULL, 0, &s, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_source_open_hdf5("/nonexistent/file.h5", NULL, 0, &s, &err) != NLSQ_OK && s == NULL);
    CHECK_MSG(strstr(err.message, "/nonexistent/file.h5") != NULL, "%s", err.message);
    NEED_FILES();
    const char *empty[] = {""};
    CHECK(nlsq_source_open_hdf5(at("fit.h5"), empty, 1, &s, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_source_open_hdf5(at("fit.h5"), NULL, 2, &s, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    /* a table and columns side by side; the file is its origin */
    const char *names[] = {"/table", "x"};
    CHECK(nlsq_source_open_hdf5(at("fit.h5"), names, 2, &s, &err) == NLSQ_OK);
    if (!s) return;
    CHECK(nlsq_source_num_columns(s) == 4);
    CHECK(strcmp(nlsq_source_column_name(s, 2), "/table:3") == 0 && strcmp(nlsq_source_column_name(s, 3), "x") == 0);
    CHECK(strstr(nlsq_source_describe(s), "fit.h5") != NULL);
    struct stat st;
    CHECK(stat(at("fit.h5"), &st) == 0 && source_reads_file(s, &st));
    char why[300];
    CHECK(source_check(s, why, sizeof why) == 0);
    double a[2001], b[2001];
    CHECK(nlsq_source_read(s, 0, 0, 2001, a, &err) == NLSQ_OK && nlsq_source_read(s, 3, 0, 2001, b, &err) == NLSQ_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* the file written to under the source: the next check says so */
    FILE *f = fopen(at("fit.h5"), "ab");
    if (f) {
        fputc(0, f);
        fclose(f);
    }
    CHECK(source_check(s, why, sizeof why) != 0 && strstr(why, "changed under the fit") != NULL);
    nlsq_source_free(s);
    /* through nlsq_source_open_file: PATH:NAMES and the default plot */
    char spec[600];
    snprintf(spec, sizeof spec, "%s:/x,/y", at("fit.h5"));
    CHECK(nlsq_source_open_file(spec, NULL, &s, &err) == NLSQ_OK && nlsq_source_num_columns(s) == 2);
    nlsq_source_free(s);
    CHECK(nlsq_source_open_file(at("scan.nxs"), NULL, &s, &err) == NLSQ_OK && nlsq_source_num_columns(s) == 3);
    nlsq_source_free(s);
}

/* The same fit from HDF5 (chunked, deflated, big-endian columns) and .npy: bitwise. */
static void test_same_fit_as_npy(void)
{
    NEED_FILES();
    nlsq_model *m;
    nlsq_error err;
    nlsq_model_options mo = nlsq_model_options_default();
    CHECK(nlsq_model_parse("a*exp(-b*x) + c*sin(w*x)", &mo, &m, &err) == NLSQ_OK);
    nlsq_source *h, *n;
    const char *names[] = {"/x", "/y", "/sigma"};
    CHECK(nlsq_source_open_hdf5(at("fit.h5"), names, 3, &h, &err) == NLSQ_OK);
    CHECK(nlsq_source_open_npy(at("fit.npy"), &n, &err) == NLSQ_OK);
    double p0[4] = {2, 0.2, 0.1, 5.05};
    nlsq_result *r[2] = {NULL, NULL};
    nlsq_source *src[2] = {h, n};
    for (int k = 0; k < 2; k++) {
        nlsq_options o = nlsq_options_default();
        o.p0 = p0;
        nlsq_columns c = nlsq_columns_default();
        c.sigma = 2;
        CHECK(nlsq_fit_source(m, src[k], &c, &o, &r[k], &err) == NLSQ_OK);
    }
    if (r[0] && r[1]) {
        CHECK(memcmp(r[0]->popt, r[1]->popt, 4 * sizeof(double)) == 0);
        CHECK(memcmp(&r[0]->cost, &r[1]->cost, sizeof(double)) == 0);
        CHECK_NEAR(r[0]->popt[0], 2.5, 0.01, "a");
    }
    for (int k = 0; k < 2; k++) nlsq_result_free(r[k]);
    nlsq_source_free(h);
    nlsq_source_free(n);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_api_edges),
        TEST(test_every_dtype_and_layout),
        TEST(test_windows_from_threads),
        TEST(test_nexus_default),
        TEST(test_malformed),
        TEST(test_same_fit_as_npy),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    cleanup();
    return rc;
}
