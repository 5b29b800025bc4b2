/*
 * The public API the command (and any front end) is built on, through
 * nlsq.h alone and the shared library's exports: text tables in memory,
 * the default start for parameters without a p0 value, what the machine
 * offers, the caches on disk, and the output files every writer shares
 * (nlsq_output_*: issue 17's defects 3 to 6 and 10).
 */
#define _POSIX_C_SOURCE 200809L /* setenv, mkdtemp */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* ---- output files (nlsq_output_*) --------------------------------------- */

static char *read_all(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Temporary files of `base` in the work directory (base.tmp-*). */
static int count_temporaries(const char *base)
{
    DIR *d = opendir(work);
    int n = 0;
    struct dirent *e;
    size_t len = strlen(base);
    while (d && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, base, len) == 0 && strncmp(e->d_name + len, ".tmp-", 5) == 0;
    if (d) closedir(d);
    return n;
}

static nlsq_status write_output(const char *path, const char *text, nlsq_error *err)
{
    nlsq_output *o = NULL;
    nlsq_status st = nlsq_output_open(path, &o, err);
    if (st != NLSQ_OK) return st;
    fputs(text, nlsq_output_stream(o));
    return nlsq_output_commit(o, err);
}

/* A regular file is replaced whole: nothing at the name until the commit,
   the old file kept by a discard, no temporary left either way. */
static void defect04_output_regular_file_is_replaced_atomically(void)
{
    char path[300], buf[64];
    snprintf(path, sizeof path, "%s/out.csv", work);
    write_file(path, "old\n");
    nlsq_output *o = NULL;
    nlsq_error err;
    CHECK(nlsq_output_open(path, &o, &err) == NLSQ_OK);
    if (!o) return;
    fputs("new\n", nlsq_output_stream(o));
    fflush(nlsq_output_stream(o));
    CHECK(strcmp(read_all(path, buf, sizeof buf), "old\n") == 0);
    CHECK(count_temporaries("out.csv") == 1);
    CHECK(nlsq_output_commit(o, &err) == NLSQ_OK);
    CHECK(strcmp(read_all(path, buf, sizeof buf), "new\n") == 0);
    CHECK(count_temporaries("out.csv") == 0);
    CHECK(nlsq_output_open(path, &o, &err) == NLSQ_OK);
    fputs("discarded\n", nlsq_output_stream(o));
    nlsq_output_discard(o);
    CHECK(strcmp(read_all(path, buf, sizeof buf), "new\n") == 0);
    CHECK(count_temporaries("out.csv") == 0);
}

/* A symbolic link is followed: its target replaced, the link kept. */
static void defect04_output_symlink_keeps_the_link(void)
{
    char target[300], link[300], buf[64];
    snprintf(target, sizeof target, "%s/target.csv", work);
    snprintf(link, sizeof link, "%s/link.csv", work);
    write_file(target, "old\n");
    CHECK(symlink("target.csv", link) == 0);
    nlsq_error err;
    CHECK(write_output(link, "through the link\n", &err) == NLSQ_OK);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(strcmp(read_all(target, buf, sizeof buf), "through the link\n") == 0);
    /* a dangling link makes its target */
    snprintf(target, sizeof target, "%s/new-target.csv", work);
    snprintf(link, sizeof link, "%s/dangling.csv", work);
    CHECK(symlink("new-target.csv", link) == 0);
    CHECK(write_output(link, "made\n", &err) == NLSQ_OK);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(strcmp(read_all(target, buf, sizeof buf), "made\n") == 0);
}

/* A FIFO is written in place (nothing to rename over). */
static void defect04_output_fifo_is_written_in_place(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/pipe", work);
    CHECK(mkfifo(path, 0600) == 0);
    int reader = open(path, O_RDONLY | O_NONBLOCK);
    CHECK(reader >= 0);
    if (reader < 0) return;
    nlsq_error err;
    CHECK(write_output(path, "through the pipe\n", &err) == NLSQ_OK);
    char buf[64] = "";
    ssize_t n = read(reader, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    CHECK_MSG(strcmp(buf, "through the pipe\n") == 0, "read %s", buf);
    close(reader);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(count_temporaries("pipe") == 0);
}

/* "-" and /dev/stdout are the standard output stream itself (so their
   lines keep their order with the rest of stdout). */
static void defect04_output_dash_and_dev_stdout_are_stdout(void)
{
    nlsq_output *o = NULL;
    nlsq_error err;
    CHECK(nlsq_output_open("-", &o, &err) == NLSQ_OK);
    CHECK(o && nlsq_output_stream(o) == stdout);
    CHECK(o && nlsq_output_commit(o, &err) == NLSQ_OK);
    CHECK(nlsq_output_check("-", NULL, 0, &err) == NLSQ_OK);
    struct stat st;
    if (stat("/dev/stdout", &st) != 0) return; /* no /dev/stdout here */
    CHECK(nlsq_output_check("/dev/stdout", NULL, 0, &err) == NLSQ_OK);
    CHECK(nlsq_output_open("/dev/stdout", &o, &err) == NLSQ_OK);
    CHECK(o && nlsq_output_stream(o) == stdout);
    CHECK(o && nlsq_output_commit(o, &err) == NLSQ_OK);
    CHECK(lstat("/dev/stdout", &st) == 0 && S_ISLNK(st.st_mode));
}

/* A directory is refused by check and open, naming it. */
static void defect04_output_directory_is_refused(void)
{
    nlsq_output *o = NULL;
    nlsq_error err;
    CHECK(nlsq_output_check(work, NULL, 0, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "is a directory") && strstr(err.message, work), "%s", err.message);
    CHECK(nlsq_output_open(work, &o, &err) == NLSQ_ERR_IO && o == NULL);
    CHECK_MSG(strstr(err.message, "is a directory") != NULL, "%s", err.message);
    CHECK(nlsq_output_check(NULL, NULL, 0, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_output_open("x", NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_output_commit(NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_output_discard(NULL);
}

/* An output that is an input, by device and inode whatever the name (a
   hard link, a symbolic link), is refused; another file is not. */
static void defect03_output_check_refuses_an_input_by_inode(void)
{
    char input[300], hard[300], soft[300], other[300];
    snprintf(input, sizeof input, "%s/input.csv", work);
    snprintf(hard, sizeof hard, "%s/hard.csv", work);
    snprintf(soft, sizeof soft, "%s/soft.csv", work);
    snprintf(other, sizeof other, "%s/other.csv", work);
    write_file(input, TABLE);
    write_file(other, TABLE);
    CHECK(link(input, hard) == 0);
    CHECK(symlink(input, soft) == 0);
    const char *inputs[] = {"-", input};
    nlsq_error err;
    CHECK(nlsq_output_check(input, inputs, 2, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "is the input") != NULL, "%s", err.message);
    CHECK(nlsq_output_check(hard, inputs, 2, &err) == NLSQ_ERR_IO);
    CHECK(nlsq_output_check(soft, inputs, 2, &err) == NLSQ_ERR_IO);
    CHECK(nlsq_output_check(other, inputs, 2, &err) == NLSQ_OK);
    CHECK(nlsq_output_check(other, NULL, 0, &err) == NLSQ_OK);
    char fresh[300];
    snprintf(fresh, sizeof fresh, "%s/not-yet.csv", work);
    CHECK(nlsq_output_check(fresh, inputs, 2, &err) == NLSQ_OK);
}

/* A missing or read-only directory is refused before any work. */
static void defect06_output_check_refuses_a_directory_that_takes_no_file(void)
{
    char path[300];
    nlsq_error err;
    snprintf(path, sizeof path, "%s/no-such-dir/p.svg", work);
    CHECK(nlsq_output_check(path, NULL, 0, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "No such file or directory") != NULL, "%s", err.message);
    if (geteuid() == 0) {
        test_skip("root writes in a read-only directory: the missing directory was checked only");
        return;
    }
    char dir[280];
    snprintf(dir, sizeof dir, "%.260s/read-only", work);
    CHECK(mkdir(dir, 0555) == 0);
    snprintf(path, sizeof path, "%s/p.svg", dir);
    CHECK(nlsq_output_check(path, NULL, 0, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "cannot write in") != NULL, "%s", err.message);
    chmod(dir, 0755);
    /* a file its owner made read-only is kept, though a rename could
       replace it */
    snprintf(path, sizeof path, "%s/kept.csv", dir);
    write_file(path, "keep\n");
    chmod(path, 0444);
    nlsq_output *o = NULL;
    CHECK(nlsq_output_check(path, NULL, 0, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "read-only") != NULL, "%s", err.message);
    CHECK(nlsq_output_open(path, &o, &err) == NLSQ_ERR_IO && o == NULL);
    char buf[16];
    CHECK(strcmp(read_all(path, buf, sizeof buf), "keep\n") == 0);
}

/* Every write is checked: /dev/full fails at the commit, naming it. */
static void defect05_output_commit_reports_a_full_device(void)
{
    struct stat st;
    if (stat("/dev/full", &st) != 0 || !S_ISCHR(st.st_mode)) {
        test_skip("no /dev/full");
        return;
    }
    nlsq_output *o = NULL;
    nlsq_error err;
    CHECK(nlsq_output_open("/dev/full", &o, &err) == NLSQ_OK);
    if (!o) return;
    for (int i = 0; i < 1000; i++) fputs("a line that does not fit\n", nlsq_output_stream(o));
    CHECK(nlsq_output_commit(o, &err) == NLSQ_ERR_IO);
    CHECK_MSG(strstr(err.message, "/dev/full") && strstr(err.message, "No space left"), "%s", err.message);
}

/* What a SIGINT handler calls removes every open temporary file. */
static void defect10_remove_temporaries_unlinks_open_outputs(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/interrupted.csv", work);
    nlsq_output *o = NULL;
    nlsq_error err;
    CHECK(nlsq_output_open(path, &o, &err) == NLSQ_OK);
    if (!o) return;
    fputs("partial\n", nlsq_output_stream(o));
    CHECK(count_temporaries("interrupted.csv") == 1);
    nlsq_output_remove_temporaries();
    CHECK(count_temporaries("interrupted.csv") == 0);
    nlsq_output_discard(o);
    CHECK(access(path, F_OK) != 0);
}

/* A process killed while writing (here it just exits) leaves its
   temporary file; the next open of that output removes it. */
static void defect10_stale_temporary_is_swept_by_the_next_open(void)
{
    char path[300], buf[64];
    snprintf(path, sizeof path, "%s/killed.csv", work);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        nlsq_output *o = NULL;
        nlsq_error e;
        if (nlsq_output_open(path, &o, &e) == NLSQ_OK) fputs("partial\n", nlsq_output_stream(o));
        _exit(0); /* no commit, no discard: as SIGKILL leaves it */
    }
    int status = 0;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK(count_temporaries("killed.csv") == 1);
    nlsq_error err;
    CHECK(write_output(path, "whole\n", &err) == NLSQ_OK);
    CHECK(count_temporaries("killed.csv") == 0);
    CHECK(strcmp(read_all(path, buf, sizeof buf), "whole\n") == 0);
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
        TEST(defect04_output_regular_file_is_replaced_atomically),
        TEST(defect04_output_symlink_keeps_the_link),
        TEST(defect04_output_fifo_is_written_in_place),
        TEST(defect04_output_dash_and_dev_stdout_are_stdout),
        TEST(defect04_output_directory_is_refused),
        TEST(defect03_output_check_refuses_an_input_by_inode),
        TEST(defect06_output_check_refuses_a_directory_that_takes_no_file),
        TEST(defect05_output_commit_reports_a_full_device),
        TEST(defect10_remove_temporaries_unlinks_open_outputs),
        TEST(defect10_stale_temporary_is_swept_by_the_next_open),
    };
    int rc = run_tests(tests, sizeof tests / sizeof tests[0]);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", work);
    return rc;
}
