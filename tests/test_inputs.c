/*
 * The input side of issue 17, one test per defect: a pipe or FIFO read
 * exactly once (defect 1), a mapped .npy cut short under a fit (11), the
 * text reader's refusals (12), sizes from headers checked before they are
 * allocated (13), a crafted checkpoint refused before its values are
 * replayed (14).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "nlsq.h"

static char tmpdir[256];

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(bytes, 1, n, f);
    fclose(f);
}

/* ---- data to send ----------------------------------------------------------- */

enum { TEXT_ROWS = 2000, NPY_ROWS = 3000 };

static double row_x(size_t i)
{
    return 0.25 * (double)i;
}
static double row_y(size_t i)
{
    return 3.0 * row_x(i) + 1.5;
}

/* "x,y" and TEXT_ROWS rows: about 30 KB, several pipe buffers' worth of
   the 4-8 KB the old reader lost. */
static char *table_text(size_t *len)
{
    size_t cap = 64 + TEXT_ROWS * 48;
    char *t = malloc(cap);
    size_t n = (size_t)snprintf(t, cap, "x,y\n");
    for (size_t i = 0; i < TEXT_ROWS; i++) n += (size_t)snprintf(t + n, cap - n, "%.17g,%.17g\n", row_x(i), row_y(i));
    *len = n;
    return t;
}

/* A .npy of NPY_ROWS rows x 2 columns, C order (x0 y0 x1 y1 ...); with
   claimed_rows != 0 the header claims that many instead. */
static unsigned char *npy_bytes(size_t rows, size_t claimed_rows, size_t *len)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, 2), }",
                     claimed_rows ? claimed_rows : rows);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    unsigned char *b = malloc(total + rows * 16);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(total - 10);
    b[9] = 0;
    memcpy(b + 10, dict, (size_t)n);
    memset(b + 10 + n, ' ', total - 10 - (size_t)n - 1);
    b[total - 1] = '\n';
    for (size_t i = 0; i < rows; i++) {
        double v[2] = {row_x(i), row_y(i)};
        memcpy(b + total + 16 * i, v, 16);
    }
    *len = total + rows * 16;
    return b;
}

/* A child that writes bytes to the pipe fds[1] (then exits 0, or dies of
   the signal that stopped it); returns its pid. */
static pid_t spawn_writer(const int *fds, void *bytes, size_t n)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = fds[1];
        close(fds[0]); /* else the pipe never loses its reader */
        const unsigned char *p = bytes;
        while (n) {
            ssize_t w = write(fd, p, n);
            if (w <= 0) _exit(3);
            p += w;
            n -= (size_t)w;
        }
        free(bytes); /* the child's copy: no leak under valgrind */
        _exit(0);
    }
    return pid;
}

static int writer_status(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void check_rows(nlsq_source *s, size_t rows, const char *what)
{
    CHECK_MSG(nlsq_source_num_rows(s) == rows, "%s: %zu rows, want %zu", what, nlsq_source_num_rows(s), rows);
    CHECK_MSG(nlsq_source_num_columns(s) == 2, "%s: %d columns", what, nlsq_source_num_columns(s));
    if (nlsq_source_num_rows(s) != rows || nlsq_source_num_columns(s) != 2) return;
    double *x = malloc(rows * sizeof *x), *y = malloc(rows * sizeof *y);
    nlsq_error e;
    CHECK(nlsq_source_read(s, 0, 0, rows, x, &e) == NLSQ_OK && nlsq_source_read(s, 1, 0, rows, y, &e) == NLSQ_OK);
    size_t wrong = 0;
    for (size_t i = 0; i < rows; i++) wrong += x[i] != row_x(i) || y[i] != row_y(i);
    CHECK_MSG(wrong == 0, "%s: %zu rows with other values (first x %g)", what, wrong, x[0]);
    free(x);
    free(y);
}

/* ---- defect 1: what cannot be read twice is read once ------------------------ */

static void defect01_pipe_read_once(void)
{
    size_t len;
    char *text = table_text(&len);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = spawn_writer(fds, text, len);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_source_load(path, NULL, &s, &e);
    CHECK_MSG(st == NLSQ_OK, "%s", e.message);
    close(fds[0]);
    int status = writer_status(pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer ended with status %d", status);
    if (s) {
        check_rows(s, TEXT_ROWS, "text through a pipe");
        CHECK(strcmp(nlsq_source_column_name(s, 1), "y") == 0);
    }
    nlsq_source_free(s);
    free(text);
}

static void defect01_fifo_npy_read_once(void)
{
    size_t len;
    unsigned char *bytes = npy_bytes(NPY_ROWS, 0, &len);
    char fifo[512];
    path_of(fifo, sizeof fifo, "data.fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(fifo, O_WRONLY);
        if (fd < 0) _exit(4);
        size_t n = len;
        const unsigned char *p = bytes;
        while (n) {
            ssize_t w = write(fd, p, n);
            if (w <= 0) _exit(3);
            p += w;
            n -= (size_t)w;
        }
        free(bytes); /* the child's copy: no leak under valgrind */
        _exit(0);
    }
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_source_load(fifo, NULL, &s, &e);
    CHECK_MSG(st == NLSQ_OK, "%s", e.message);
    int status = writer_status(pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the FIFO's writer ended with status %d (SIGPIPE is %d)",
              status, SIGPIPE);
    if (s) check_rows(s, NPY_ROWS, ".npy through a FIFO");
    nlsq_source_free(s);
    /* the same bytes from a regular file, by content, not by name */
    char file[512];
    path_of(file, sizeof file, "data.bin");
    write_bytes(file, bytes, len);
    CHECK(nlsq_source_load(file, NULL, &s, &e) == NLSQ_OK);
    if (s) check_rows(s, NPY_ROWS, ".npy from a regular file");
    nlsq_source_free(s);
    free(bytes);
}

/* ---- defect 13: sizes from headers are checked before allocation ----------- */

static void defect13_npy_claiming_2e49_rows_is_truncated(void)
{
    size_t len;
    unsigned char *bytes = npy_bytes(36, (size_t)1 << 49, &len); /* 700 bytes */
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = spawn_writer(fds, bytes, len);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_source_load(path, NULL, &s, &e);
    CHECK_MSG(st == NLSQ_ERR_DATA && !s, "status %d", (int)st);
    CHECK_MSG(strstr(e.message, "truncated file") != NULL, "%s", e.message);
    close(fds[0]);
    writer_status(pid);
    /* and from a regular file, mapped */
    char file[512];
    path_of(file, sizeof file, "huge.npy");
    write_bytes(file, bytes, len);
    CHECK(nlsq_source_open_npy(file, &s, &e) == NLSQ_ERR_DATA && !s);
    CHECK_MSG(strstr(e.message, "truncated") != NULL, "%s", e.message);
    CHECK(nlsq_source_load(file, NULL, &s, &e) == NLSQ_ERR_DATA && !s);
    CHECK_MSG(strstr(e.message, "truncated file") != NULL, "%s", e.message);
    free(bytes);
}

/* ---- defect 2: the default y is the column after the x columns -------------- */

static void defect02_default_y_follows_the_x_columns(void)
{
    enum { N = 50 };
    double idx[N], t[N], v[N];
    for (int i = 0; i < N; i++) {
        idx[i] = 100 + i;
        t[i] = 0.5 * i;
        v[i] = 3 * t[i] + 1;
    }
    const double *cols[3] = {idx, t, v};
    nlsq_source *s = NULL;
    nlsq_model *m = NULL;
    nlsq_error e;
    nlsq_source_from_arrays(cols, 3, N, &s, &e);
    nlsq_model_parse("a*x + b", NULL, &m, &e);
    nlsq_columns c = nlsq_columns_default();
    int xc = 1;
    c.x = &xc;
    nlsq_result *r = NULL;
    CHECK_MSG(nlsq_fit_source(m, s, &c, NULL, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        CHECK_NEAR(r->popt[0], 3, 1e-9, "a (y is v, not t again)");
        CHECK_NEAR(r->popt[1], 1, 1e-9, "b");
    }
    nlsq_result_free(r);
    xc = 2; /* the last column: no y after it */
    CHECK(nlsq_fit_source(m, s, &c, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    nlsq_source_free(s);
    nlsq_model_free(m);
}

/* ---- defect 12: the text reader refuses what it cannot read right ----------- */

/* The text is refused with a message holding `words`, at line (and column
   when given). */
static void expect_refused(const char *text, size_t len, const char *words, int line, int column)
{
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_source_load_text_buffer(text, len, "t.csv", NULL, &s, &e);
    CHECK_MSG(st == NLSQ_ERR_DATA && !s, "'%.30s...' was read (%zu rows)", text, nlsq_source_num_rows(s));
    if (st == NLSQ_OK) {
        nlsq_source_free(s);
        return;
    }
    CHECK_MSG(strstr(e.message, words) != NULL, "message '%s' lacks '%s'", e.message, words);
    CHECK_MSG(e.line == line, "'%s': line %d, want %d", e.message, e.line, line);
    if (column) CHECK_MSG(e.column == column, "'%s': column %d, want %d", e.message, e.column, column);
}

static nlsq_source *read_text(const char *text)
{
    nlsq_source *s = NULL;
    nlsq_error e;
    if (nlsq_source_load_text_buffer(text, strlen(text), "t.csv", NULL, &s, &e) != NLSQ_OK)
        CHECK_MSG(0, "'%s': %s", text, e.message);
    return s;
}

static void defect12_text_reader_refuses_malformed_input(void)
{
    static const char nul[] = "x,y\n1,2\n2,3\0"
                              "999\n3,7\n";
    expect_refused(nul, sizeof nul - 1, "a NUL byte at column 4", 3, 4);
    const char *after = "x,y\n1,2\n2,\"1\"999\n";
    expect_refused(after, strlen(after), "field 2 has text after its closing quote", 3, 2);
    const char *open_quote = "x,y\n1,2\n2,\"1\n3,4\n";
    expect_refused(open_quote, strlen(open_quote), "opening quote and no closing one", 3, 2);
    const char *overflow = "x,y\n1,2\n2,1e400\n";
    expect_refused(overflow, strlen(overflow), "t.csv:3: field 2 (\"1e400\") is beyond the range of a double", 3, 2);
    const char *first_row = "1,1e400\n2,3\n"; /* data, not a header to drop */
    expect_refused(first_row, strlen(first_row), "t.csv:1: field 2", 1, 2);
    const char *negative = "x y\n1 -1e999\n";
    expect_refused(negative, strlen(negative), "beyond the range", 2, 2);

    /* whitespace tables: no silent cut at 256 columns; ragged rows named */
    char wide[4096];
    size_t n = 0;
    for (int c = 0; c < 300; c++) n += (size_t)snprintf(wide + n, sizeof wide - n, "%d ", c);
    wide[n++] = '\n';
    expect_refused(wide, n, "more than 256 columns", 1, 0);
    const char *ragged = "1 2 3\n4 5 6 7\n";
    expect_refused(ragged, strlen(ragged), ":2: 4 fields, but the table has 3 columns", 2, 0);

    /* a byte order mark is not data, nor part of a name */
    nlsq_source *s = read_text("\xEF\xBB\xBF"
                               "1,2\n3,4\n5,6\n");
    if (s) CHECK_MSG(nlsq_source_num_rows(s) == 3, "%zu rows after a BOM", nlsq_source_num_rows(s));
    nlsq_source_free(s);
    s = read_text("\xEF\xBB\xBF"
                  "x,y\n3,4\n");
    if (s) CHECK_MSG(strcmp(nlsq_source_column_name(s, 0), "x") == 0, "first name '%s'", nlsq_source_column_name(s, 0));
    nlsq_source_free(s);
    /* what stays accepted: blanks after a closing quote, tiny numbers */
    s = read_text("x,y\n\"1\" ,2\n3,1e-400\n");
    if (s) CHECK(nlsq_source_num_rows(s) == 2);
    nlsq_source_free(s);
}

static void defect12_directory_and_endless_input(void)
{
    nlsq_source *s = NULL;
    nlsq_error e;
    CHECK(nlsq_source_load_text(tmpdir, NULL, &s, &e) != NLSQ_OK && !s);
    CHECK_MSG(strstr(e.message, "Is a directory") != NULL, "%s", e.message);
    CHECK(nlsq_source_load(tmpdir, NULL, &s, &e) != NLSQ_OK && !s);
    CHECK_MSG(strstr(e.message, "Is a directory") != NULL, "%s", e.message);
    CHECK(nlsq_source_open_npy(tmpdir, &s, &e) != NLSQ_OK && !s);
    CHECK_MSG(strstr(e.message, "Is a directory") != NULL, "%s", e.message);
    /* /dev/zero: NULs without end, refused within the line limit */
    if (access("/dev/zero", R_OK) == 0) {
        CHECK(nlsq_source_load("/dev/zero", NULL, &s, &e) == NLSQ_ERR_DATA && !s);
        CHECK_MSG(strstr(e.message, "/dev/zero:1: a line longer than 1 MiB") != NULL, "%s", e.message);
    }
    /* one endless line of digits from a pipe */
    size_t len = (size_t)3 << 20;
    char *digits = malloc(len);
    memset(digits, '7', len);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = spawn_writer(fds, digits, len);
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    CHECK(nlsq_source_load(path, NULL, &s, &e) == NLSQ_ERR_DATA && !s);
    CHECK_MSG(strstr(e.message, ":1: a line longer than 1 MiB") != NULL, "%s", e.message);
    close(fds[0]);
    writer_status(pid); /* it may die of SIGPIPE: the reader stopped */
    free(digits);
}

/* ---- defect 11: a mapped file cut short under a fit ---------------------------- */

enum { BIG_ROWS = 400000 };

/* x, y in Fortran order: read in place from the mapping, as a large
   file's columns are. */
static void write_big_npy(const char *path)
{
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%d, 2), }", BIG_ROWS);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    unsigned char head[256];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(total - 10);
    head[9] = 0;
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', total - 10 - (size_t)n - 1);
    head[total - 1] = '\n';
    FILE *f = fopen(path, "wb");
    fwrite(head, 1, total, f);
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < BIG_ROWS; i++) {
            double x = 10.0 * (double)i / BIG_ROWS, v = c == 0 ? x : 2.0 * exp(-0.3 * x) + 0.1 * sin(7 * x);
            fwrite(&v, 8, 1, f);
        }
    fclose(f);
}

typedef struct cutter {
    const char *path;
    int at_pass;
    double at_fraction;
    int rewrite; /* 1: same size, new contents; 0: cut to 4096 bytes */
    int done;
} cutter;

static int cut_during_fit(void *user, const nlsq_progress *p)
{
    cutter *c = user;
    if (c->done || p->pass < c->at_pass || p->pass_fraction < c->at_fraction) return 0;
    c->done = 1;
    if (c->rewrite) {
        int fd = open(c->path, O_WRONLY);
        double v = 42;
        struct timespec later[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
        if (fd >= 0) {
            if (pwrite(fd, &v, 8, 4096) != 8) c->done = -1;
            futimens(fd, later);
            close(fd);
        }
    } else if (truncate(c->path, 4096) != 0) {
        c->done = -1;
    }
    return 0;
}

static void fit_with_cutter(cutter *cut, const char *want)
{
    char path[512];
    path_of(path, sizeof path, "shrinks.npy");
    write_big_npy(path);
    cut->path = path;
    nlsq_source *s = NULL;
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK(nlsq_source_open_npy(path, &s, &e) == NLSQ_OK);
    CHECK(nlsq_model_parse("a*exp(-b*x) + c*sin(w*x)", NULL, &m, &e) == NLSQ_OK);
    if (!s || !m) goto done;
    nlsq_options o = nlsq_options_default();
    double p0[4] = {1.5, 0.2, 0.05, 6.8};
    o.p0 = p0;
    o.threads = 2;
    o.device = "cpu";
    o.progress = cut_during_fit;
    o.progress_data = cut;
    o.progress_interval = 1e-9;
    nlsq_result *r = NULL;
    nlsq_status st = nlsq_fit_source(m, s, NULL, &o, &r, &e);
    CHECK_MSG(cut->done == 1, "the file was not changed during the fit (%d)", cut->done);
    CHECK_MSG(st == NLSQ_ERR_DATA && !r, "status %d after the file changed", (int)st);
    if (st != NLSQ_OK) {
        /* the change is seen during a pass (want) or, when the truncation
           lands between two passes, by the size check before the next
           ("its size went from"): both are the right message, and which one
           comes is a race with the progress thread */
        int said = strstr(e.message, want) || strstr(e.message, "its size went from");
        CHECK_MSG(strstr(e.message, path) && strstr(e.message, "changed under the fit") && said,
                  "message '%s' lacks the path, 'changed under the fit' or '%s'", e.message, want);
    }
    nlsq_result_free(r);
done:
    nlsq_source_free(s);
    nlsq_model_free(m);
}

/* Under valgrind the fault reaches the program as SIGSEGV, which the
   guard leaves alone (a real kernel raises SIGBUS). */
static int under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") != NULL;
}

static void defect11_npy_cut_short_during_a_pass(void)
{
    if (under_valgrind()) {
        test_skip("valgrind delivers the fault beyond a file's end as SIGSEGV");
        return;
    }
    cutter cut = {NULL, 2, 0.3, 0, 0};
    fit_with_cutter(&cut, "cut short while a pass read it");
}

static void defect11_npy_cut_short_between_passes(void)
{
    cutter cut = {NULL, 1, 1.0, 0, 0};
    fit_with_cutter(&cut, "its size went from");
}

static void defect11_npy_rewritten_between_passes(void)
{
    cutter cut = {NULL, 2, 1.0, 1, 0};
    fit_with_cutter(&cut, "written to while the fit read it");
}

static volatile sig_atomic_t caught;
static void count_sigbus(int sig)
{
    (void)sig;
    caught++;
}

/* A SIGBUS that is not about our mappings goes where it went before: to
   the program's own handler, or to the default action. */
static void defect11_foreign_sigbus_is_passed_on(void)
{
    char path[512];
    path_of(path, sizeof path, "guarded.npy");
    size_t len;
    unsigned char *bytes = npy_bytes(100, 0, &len);
    write_bytes(path, bytes, len);
    free(bytes);
#ifdef NLSQ_SANITIZED
    const int sanitized = 1; /* there, "before" is AddressSanitizer's handler, which reports and exits */
#else
    const int sanitized = 0;
#endif
    for (int with_handler = 0; with_handler < 2; with_handler++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (with_handler) signal(SIGBUS, count_sigbus);
            nlsq_source *s = NULL;
            nlsq_error e;
            if (nlsq_source_open_npy(path, &s, &e) != NLSQ_OK) _exit(5); /* installs the guard */
            raise(SIGBUS);
            _exit(caught == 1 ? 0 : 6);
        }
        int status = writer_status(pid);
        if (with_handler)
            CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the program's handler: status %d", status);
        else if (sanitized)
            CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) != 0, "the sanitizer's handler: status %d", status);
        else
            CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS, "the default action: status %d", status);
    }
}

/* ---- defects 13, 14: checkpoints are checked before they are believed -------- */

static nlsq_status fit_checkpointed(const char *ckpt, int resume, int max_nfev, nlsq_error *e)
{
    static double x[200], y[200];
    for (int i = 0; i < 200; i++) {
        x[i] = 0.05 * i;
        y[i] = 2.0 * exp(-0.7 * x[i]) + 0.3 + 0.01 * sin(13.0 * i);
    }
    const double *cols[2] = {x, y};
    nlsq_source *s = NULL;
    nlsq_model *m = NULL;
    nlsq_source_from_arrays(cols, 2, 200, &s, e);
    nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, e);
    nlsq_options o = nlsq_options_default();
    o.checkpoint = ckpt;
    o.resume = resume;
    o.device = "cpu";
    if (max_nfev) o.max_nfev = max_nfev;
    nlsq_result *r = NULL;
    nlsq_status st = nlsq_fit_source(m, s, NULL, &o, &r, e);
    nlsq_result_free(r);
    nlsq_source_free(s);
    nlsq_model_free(m);
    return st;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* The file with its checksum made right again, as a forger would. */
static void write_with_checksum(const char *path, unsigned char *b, size_t len)
{
    uint64_t sum = hash_fnv64(HASH_FNV_SEED, b, len - 8);
    memcpy(b + len - 8, &sum, 8);
    write_bytes(path, b, len);
}

static void defect14_crafted_checkpoint_is_corrupt(void)
{
    char ck[512], bad[512];
    path_of(ck, sizeof ck, "fit.ckpt");
    path_of(bad, sizeof bad, "crafted.ckpt");
    nlsq_error e;
    CHECK_MSG(fit_checkpointed(ck, 0, 0, &e) == NLSQ_OK, "%s", e.message);
    size_t len;
    unsigned char *b = read_all(ck, &len);
    if (!b) {
        CHECK_MSG(0, "no checkpoint written");
        return;
    }
    uint32_t nf, tlen, dlen;
    memcpy(&nf, b + 16, 4);
    memcpy(&tlen, b + 20, 4);
    size_t at = 56 + tlen;
    memcpy(&dlen, b + at, 4);
    size_t first = at + 4 + dlen, rec = (nf + 2 + (nf + 1) * (nf + 1)) * 8;
    CHECK_MSG(nf == 3 && first + 2 * rec + 8 <= len, "layout: nf %u, %zu bytes", nf, len);
    if (nf != 3 || first + 2 * rec + 8 > len) {
        free(b);
        return;
    }
    /* the flag of the first replayed record: 1e300 (undefined as an int) */
    unsigned char *copy = malloc(len);
    static const double flags[] = {1e300, -1, 0.5, NAN};
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        memcpy(copy, b, len);
        memcpy(copy + first + rec + nf * 8 + 8, &flags[k], 8);
        write_with_checksum(bad, copy, len);
        nlsq_status st = fit_checkpointed(bad, 1, 0, &e);
        CHECK_MSG(st != NLSQ_OK && strstr(e.message, "corrupt checkpoint: record 1 has an evaluation flag"),
                  "flag %g: status %d, '%s'", flags[k], (int)st, e.message);
    }
    /* a cost of NaN with flag 0 */
    memcpy(copy, b, len);
    double nan = NAN;
    memcpy(copy + first + rec + nf * 8, &nan, 8);
    write_with_checksum(bad, copy, len);
    CHECK(fit_checkpointed(bad, 1, 0, &e) != NLSQ_OK);
    CHECK_MSG(strstr(e.message, "corrupt checkpoint: record 1 has a cost") != NULL, "%s", e.message);
    /* a model text length of 4 GB in a file of a few KB: refused, not allocated */
    memcpy(copy, b, len);
    uint32_t huge = 0xFFFFFFF0u;
    memcpy(copy + 20, &huge, 4);
    write_with_checksum(bad, copy, len);
    CHECK(fit_checkpointed(bad, 1, 0, &e) != NLSQ_OK);
    CHECK_MSG(strstr(e.message, "damaged (model text)") != NULL, "%s", e.message);
    /* a record count of 2^30 in a file of a few KB: refused, not reserved */
    memcpy(copy, b, len);
    uint64_t many = (uint64_t)1 << 30;
    memcpy(copy + 48, &many, 8);
    write_with_checksum(bad, copy, len);
    CHECK(fit_checkpointed(bad, 1, 0, &e) != NLSQ_OK);
    CHECK_MSG(strstr(e.message, "damaged (records)") != NULL, "%s", e.message);
    /* only the first pass's record, no evaluations: resumes (and copies
       nothing from nowhere: UBSan-clean) */
    memcpy(copy, b, len);
    uint64_t none = 0;
    memcpy(copy + 48, &none, 8);
    memcpy(copy + first + rec, copy + len - 8, 8);
    write_with_checksum(bad, copy, first + rec + 8);
    CHECK_MSG(fit_checkpointed(bad, 1, 0, &e) == NLSQ_OK, "a checkpoint of the first pass only: %s", e.message);
    /* the untouched file still resumes */
    CHECK_MSG(fit_checkpointed(ck, 1, 0, &e) == NLSQ_OK, "%s", e.message);
    free(copy);
    free(b);
}

static void defect13_resume_from_a_directory(void)
{
    nlsq_error e;
    CHECK(fit_checkpointed(tmpdir, 1, 0, &e) != NLSQ_OK);
    CHECK_MSG(strstr(e.message, "is a directory") != NULL, "%s", e.message);
}

static void defect16_refused_resume_names_max_nfev(void)
{
    char ck[512];
    path_of(ck, sizeof ck, "nfev.ckpt");
    nlsq_error e;
    CHECK_MSG(fit_checkpointed(ck, 0, 0, &e) == NLSQ_OK, "%s", e.message);
    CHECK(fit_checkpointed(ck, 1, 7, &e) != NLSQ_OK);
    CHECK_MSG(strstr(e.message, "other options") && strstr(e.message, "max_nfev"), "%s", e.message);
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/nlsq-inputs-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static const test_case tests[] = {
        TEST(defect01_pipe_read_once),
        TEST(defect01_fifo_npy_read_once),
        TEST(defect13_npy_claiming_2e49_rows_is_truncated),
        TEST(defect02_default_y_follows_the_x_columns),
        TEST(defect12_text_reader_refuses_malformed_input),
        TEST(defect12_directory_and_endless_input),
        TEST(defect11_npy_cut_short_during_a_pass),
        TEST(defect11_npy_cut_short_between_passes),
        TEST(defect11_npy_rewritten_between_passes),
        TEST(defect11_foreign_sigbus_is_passed_on),
        TEST(defect14_crafted_checkpoint_is_corrupt),
        TEST(defect13_resume_from_a_directory),
        TEST(defect16_refused_resume_names_max_nfev),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    remove_tmpdir();
    return rc;
}
