/*
 * The public API the command (and any front end) is built on, through
 * nlsq.h alone and the shared library's exports: text tables in memory,
 * the default start for parameters without a p0 value, what the machine
 * offers, and the caches on disk.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, mkdtemp */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nlsq.h"

static char work[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char TABLE[] = "# a comment\nt;signal\n0;3\n0.5;2.5\n1;2.2\n2;1.9\n";

static void test_load_text_reads_header_and_values_into_memory(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/t.csv", work);
    write_file(path, TABLE);
    nlsq_source *s = NULL;
    nlsq_error err;
    CHECK(nlsq_source_load_text(path, NULL, &s, &err) == NLSQ_OK);
    if (!s) return;
    CHECK(nlsq_source_num_rows(s) == 4);
    CHECK(nlsq_source_num_columns(s) == 2);
    CHECK(strcmp(nlsq_source_column_name(s, 0), "t") == 0);
    CHECK(strcmp(nlsq_source_column_name(s, 1), "signal") == 0);
    CHECK_MSG(strstr(nlsq_source_describe(s), "in memory") != NULL, "describe: %s", nlsq_source_describe(s));
    double y[4];
    CHECK(nlsq_source_read(s, 1, 0, 4, y, &err) == NLSQ_OK);
    CHECK_SAME(y[1], 2.5, "signal[1]");
    CHECK_SAME(y[3], 1.9, "signal[3]");
    nlsq_source_free(s);
}

static void test_load_text_buffer_copies_and_names_errors(void)
{
    char text[sizeof TABLE];
    memcpy(text, TABLE, sizeof TABLE);
    nlsq_source *s = NULL;
    nlsq_error err;
    nlsq_text_options to = nlsq_text_options_default();
    to.delimiter = ';';
    CHECK(nlsq_source_load_text_buffer(text, sizeof text - 1, "bundled", &to, &s, &err) == NLSQ_OK);
    memset(text, 'x', sizeof text - 1); /* the source holds its own copy */
    double t[4];
    CHECK(s && nlsq_source_read(s, 0, 0, 4, t, &err) == NLSQ_OK);
    if (s) CHECK_SAME(t[3], 2.0, "t[3]");
    nlsq_source_free(s);

    const char bad[] = "x,y\n1,2\n3,oops\n";
    s = NULL;
    CHECK(nlsq_source_load_text_buffer(bad, sizeof bad - 1, "bad.csv", NULL, &s, &err) == NLSQ_ERR_DATA);
    CHECK(s == NULL);
    CHECK_MSG(strstr(err.message, "bad.csv:3: field 2") != NULL, "message: %s", err.message);
    CHECK(nlsq_source_load_text_buffer("", 0, "empty", NULL, &s, &err) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(err.message, "no rows of numbers") != NULL, "message: %s", err.message);
}

static void test_load_text_of_a_missing_file_says_why(void)
{
    nlsq_source *s = NULL;
    nlsq_error err;
    CHECK(nlsq_source_load_text("/nonexistent/t.csv", NULL, &s, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_MSG(strstr(err.message, "/nonexistent/t.csv: No such file") != NULL, "message: %s", err.message);
    CHECK(nlsq_source_load_text(NULL, NULL, &s, &err) == NLSQ_ERR_INVALID_ARGUMENT);
}

static void test_load_text_reads_standard_input_for_dash(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stdin.csv", work);
    write_file(path, "1 2\n3 4\n5 6\n");
    if (!freopen(path, "r", stdin)) {
        test_skip("cannot reopen standard input");
        return;
    }
    nlsq_source *s = NULL;
    nlsq_error err;
    CHECK(nlsq_source_load_text("-", NULL, &s, &err) == NLSQ_OK);
    CHECK(nlsq_source_num_rows(s) == 3 && nlsq_source_num_columns(s) == 2);
    nlsq_source_free(s);
}

/* The fit of a table loaded into memory is the fit of the same arrays. */
static void test_fit_of_a_loaded_table_is_the_fit_of_its_arrays(void)
{
    enum { M = 40 };
    char text[M * 64] = "x,y\n";
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 0.1 * i;
        y[i] = 2.5 * exp(-1.3 * x[i]) + 0.5 + 0.01 * sin(7.0 * i);
        snprintf(text + strlen(text), sizeof text - strlen(text), "%.17g,%.17g\n", x[i], y[i]);
    }
    nlsq_model *m = NULL;
    nlsq_error err;
    CHECK(nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &err) == NLSQ_OK);
    nlsq_source *s = NULL;
    CHECK(nlsq_source_load_text_buffer(text, strlen(text), "decay", NULL, &s, &err) == NLSQ_OK);
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *ra = NULL, *rs = NULL;
    CHECK(nlsq_curve_fit(m, &d, NULL, &ra, &err) == NLSQ_OK);
    CHECK(nlsq_fit_source(m, s, NULL, NULL, &rs, &err) == NLSQ_OK);
    for (int j = 0; ra && rs && j < 3; j++) {
        CHECK_SAME(rs->popt[j], ra->popt[j], "popt[%d]", j);
        CHECK_SAME(rs->perr[j], ra->perr[j], "perr[%d]", j);
    }
    nlsq_result_free(ra);
    nlsq_result_free(rs);
    nlsq_source_free(s);
    nlsq_model_free(m);
}

/* A NaN in p0 means "not given": SciPy's rule for that parameter alone
   (the midpoint of two finite bounds here), the others as given. */
static void test_nan_p0_entry_takes_the_default_rule(void)
{
    enum { M = 30 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 0.2 * i;
        y[i] = 2 * exp(-0.7 * x[i]) + 1 + 0.002 * sin(5.0 * i);
    }
    nlsq_model *m = NULL;
    nlsq_error err;
    CHECK(nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &err) == NLSQ_OK);
    nlsq_data d = {x, y, M, NULL, NLSQ_SIGMA_NONE};
    double lo[3] = {-INFINITY, 0, -INFINITY}, hi[3] = {INFINITY, 3, INFINITY};
    double partial[3] = {2, NAN, NAN}, explicit_p0[3] = {2, 1.5, 1};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    o.p0 = partial;
    nlsq_result *rn = NULL, *re = NULL;
    CHECK(nlsq_curve_fit(m, &d, &o, &rn, &err) == NLSQ_OK);
    o.p0 = explicit_p0;
    CHECK(nlsq_curve_fit(m, &d, &o, &re, &err) == NLSQ_OK);
    if (rn && re) {
        CHECK(rn->nfev == re->nfev);
        for (int j = 0; j < 3; j++) CHECK_SAME(rn->popt[j], re->popt[j], "popt[%d]", j);
    }
    nlsq_result_free(rn);
    nlsq_result_free(re);
    double inf_p0[3] = {INFINITY, 1, 1};
    o.p0 = inf_p0;
    CHECK(nlsq_curve_fit(m, &d, &o, &rn, &err) == NLSQ_ERR_BOUNDS);
    nlsq_model_free(m);
}

static void test_cpu_and_nvrtc_descriptions_are_filled(void)
{
    nlsq_cpu_info cpu;
    nlsq_cpu_describe(&cpu);
    CHECK(cpu.cores >= 1);
    CHECK(cpu.vector_math[0] != '\0');
    CHECK(cpu.compiler[0] != '\0');
    nlsq_cpu_describe(NULL);
    /* NLSQ_NVRTC names a missing library (set in main, before any load) */
    nlsq_nvrtc_info nv;
    nlsq_nvrtc_describe(&nv);
    CHECK(!nv.available);
    CHECK_MSG(nv.why[0] != '\0', "no reason given");
    nlsq_nvrtc_describe(NULL);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* The kernel cache counts and removes only the kernels (KEY.so). */
static void test_kernel_cache_info_and_clear(void)
{
    nlsq_cache_info ci;
    nlsq_error err;
    CHECK(nlsq_kernel_cache_info(&ci, &err) == NLSQ_OK);
    CHECK_MSG(strstr(ci.dir, work) == ci.dir, "dir %s not under %s", ci.dir, work);
    CHECK(ci.count == 0 && ci.bytes == 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/0123456789abcdef0123456789abcdef.so", ci.dir);
    write_file(path, "not really a kernel");
    snprintf(path, sizeof path, "%s/notes.txt", ci.dir);
    write_file(path, "mine");
    CHECK(nlsq_kernel_cache_info(&ci, &err) == NLSQ_OK);
    CHECK(ci.count == 1 && ci.bytes == 19);
    CHECK(nlsq_kernel_cache_clear(&ci, &err) == NLSQ_OK);
    CHECK(ci.count == 1 && ci.bytes == 19);
    CHECK(nlsq_kernel_cache_info(&ci, &err) == NLSQ_OK);
    CHECK(ci.count == 0);
    CHECK(access(path, F_OK) == 0);
    CHECK(nlsq_kernel_cache_info(NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
}

/* A text table opened through the cache leaves a column cache there. */
static void test_column_cache_info_and_clear(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/cached.csv", work);
    write_file(path, TABLE);
    nlsq_source *s = NULL;
    nlsq_error err;
    CHECK(nlsq_source_open_text(path, NULL, &s, &err) == NLSQ_OK);
    nlsq_source_free(s);
    nlsq_cache_info ci;
    CHECK(nlsq_column_cache_info(&ci, &err) == NLSQ_OK);
    CHECK_MSG(strstr(ci.dir, "columns") != NULL, "dir %s", ci.dir);
    CHECK_MSG(ci.count >= 1 && ci.bytes > 0, "count %d, bytes %lld", ci.count, ci.bytes);
    CHECK(nlsq_column_cache_clear(&ci, &err) == NLSQ_OK);
    CHECK(ci.count >= 1);
    CHECK(nlsq_column_cache_info(&ci, &err) == NLSQ_OK);
    CHECK(ci.count == 0 && count_files(ci.dir) == 0);
}

int main(void)
{
    snprintf(work, sizeof work, "%s/nlsq-test-api.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(work)) return 1;
    setenv("XDG_CACHE_HOME", work, 1);
    setenv("NLSQ_NVRTC", "/nonexistent/libnvrtc.so", 1);
    static const test_case tests[] = {
        TEST(test_load_text_reads_header_and_values_into_memory),
        TEST(test_load_text_buffer_copies_and_names_errors),
        TEST(test_load_text_of_a_missing_file_says_why),
        TEST(test_load_text_reads_standard_input_for_dash),
        TEST(test_fit_of_a_loaded_table_is_the_fit_of_its_arrays),
        TEST(test_nan_p0_entry_takes_the_default_rule),
        TEST(test_cpu_and_nvrtc_descriptions_are_filled),
        TEST(test_kernel_cache_info_and_clear),
        TEST(test_column_cache_info_and_clear),
    };
    int rc = run_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", work);
    return rc;
}
