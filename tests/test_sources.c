/*
 * Fitting from data sources: every kind of source gives bitwise the fit of
 * nlsq_curve_fit on arrays; bad files give clear errors; nan_policy,
 * progress, and checkpoints killed at any moment and resumed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "nlsq.h"

enum { M = 100000 };

static char tmpdir[256];
static double X[M], Y[M], S[M];

/* Exponential decay with per-point sigma; every value a float32, so the
   float32 files hold exactly the same numbers. */
static void make_data(void)
{
    rng r = {0x5eed1234abcdULL};
    for (int i = 0; i < M; i++) {
        X[i] = (float)(10.0 * i / M);
        S[i] = (float)(0.02 + 0.03 * rng_uniform(&r));
        Y[i] = (float)(3.0 * exp(-0.7 * X[i]) + 0.5 + S[i] * (rng_uniform(&r) - 0.5) * 3.4);
    }
}

static nlsq_model *decay(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse: %s", e.message);
    return m;
}

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* An .npy of the columns cols[0..ncols) (M rows). */
static void write_npy(const char *name, const double *const *cols, int ncols, int fortran, int f32, int big)
{
    char path[512];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': %s, 'shape': (%d, %d), }", big ? '>' : '<',
                     f32 ? "f4" : "f8", fortran ? "True" : "False", M, ncols);
    int total = (10 + n + 1 + 63) / 64 * 64;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total - 10), 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < total - 1; i++) fputc(' ', f);
    fputc('\n', f);
    for (int outer = 0; outer < (fortran ? ncols : M); outer++)
        for (int inner = 0; inner < (fortran ? M : ncols); inner++) {
            double v = fortran ? cols[outer][inner] : cols[inner][outer];
            unsigned char b[8];
            int size = f32 ? 4 : 8;
            if (f32) {
                float fv = (float)v;
                memcpy(b, &fv, 4);
            } else {
                memcpy(b, &v, 8);
            }
            if (big)
                for (int k = 0; k < size / 2; k++) {
                    unsigned char t = b[k];
                    b[k] = b[size - 1 - k];
                    b[size - 1 - k] = t;
                }
            fwrite(b, 1, (size_t)size, f);
        }
    fclose(f);
}

static void write_raw(const char *name, const double *const *cols, int ncols, int planar, int f32, size_t offset)
{
    char path[512];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    for (size_t k = 0; k < offset; k++) fputc('#', f);
    for (int outer = 0; outer < (planar ? ncols : M); outer++)
        for (int inner = 0; inner < (planar ? M : ncols); inner++) {
            double v = planar ? cols[outer][inner] : cols[inner][outer];
            float fv = (float)v;
            if (f32)
                fwrite(&fv, 4, 1, f);
            else
                fwrite(&v, 8, 1, f);
        }
    fclose(f);
}

static int fill_calls;

static int fill_columns(void *user, size_t first, size_t count, double *const *cols)
{
    (void)user;
    __atomic_add_fetch(&fill_calls, 1, __ATOMIC_RELAXED);
    const double *src[3] = {X, Y, S};
    for (int c = 0; c < 3; c++)
        if (cols[c]) memcpy(cols[c], src[c] + first, count * sizeof(double));
    return 0;
}

static int fill_fails(void *user, size_t first, size_t count, double *const *cols)
{
    (void)user, (void)count, (void)cols;
    return first >= 50000 ? 7 : fill_columns(NULL, first, count, cols);
}

static void same_result(const nlsq_result *a, const nlsq_result *b, const char *what)
{
    for (int j = 0; j < 3; j++) CHECK_SAME(b->popt[j], a->popt[j], "%s popt[%d]", what, j);
    for (int j = 0; j < 9; j++) CHECK_SAME(b->pcov[j], a->pcov[j], "%s pcov[%d]", what, j);
    CHECK_SAME(b->cost, a->cost, "%s cost", what);
    CHECK_MSG(a->m == b->m && a->nfev == b->nfev, "%s: m %zu/%zu nfev %d/%d", what, a->m, b->m, a->nfev, b->nfev);
    CHECK_NEAR(b->r2, a->r2, 1e-12, "%s r2", what);
}

static nlsq_options options(void)
{
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {1, 1, 0};
    o.p0 = p0;
    return o;
}

/* The reference: nlsq_curve_fit on arrays. */
static nlsq_result *reference_fit(nlsq_model *m, const nlsq_options *o)
{
    nlsq_data d = {X, Y, M, S, NLSQ_SIGMA_PER_POINT};
    nlsq_result *r = NULL;
    nlsq_error e;
    if (nlsq_curve_fit(m, &d, o, &r, &e) != NLSQ_OK) CHECK_MSG(0, "curve_fit: %s", e.message);
    return r;
}

static void fit_and_compare(nlsq_model *m, nlsq_source *src, const nlsq_columns *cols, const nlsq_result *ref,
                            const nlsq_options *o, const char *what)
{
    nlsq_result *r = NULL;
    nlsq_error e;
    if (!src) {
        CHECK_MSG(0, "%s: no source", what);
        return;
    }
    if (nlsq_fit_source(m, src, cols, o, &r, &e) != NLSQ_OK) {
        CHECK_MSG(0, "%s: %s", what, e.message);
        return;
    }
    same_result(ref, r, what);
    nlsq_result_free(r);
}

static nlsq_source *open_npy(const char *name)
{
    char path[512];
    nlsq_source *s = NULL;
    nlsq_error e;
    path_of(path, sizeof path, name);
    if (nlsq_source_open_npy(path, &s, &e) != NLSQ_OK) CHECK_MSG(0, "%s: %s", name, e.message);
    return s;
}

static nlsq_source *open_raw(const char *name, int ncols, int planar, int f32, size_t offset)
{
    char path[512];
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_raw_layout l = nlsq_raw_layout_default();
    l.ncols = ncols;
    l.column_major = planar;
    l.dtype = f32 ? NLSQ_FLOAT32 : NLSQ_FLOAT64;
    l.offset = offset;
    path_of(path, sizeof path, name);
    if (nlsq_source_open_raw(path, &l, &s, &e) != NLSQ_OK) CHECK_MSG(0, "%s: %s", name, e.message);
    return s;
}

static void test_every_source_gives_the_fit_of_the_arrays(void)
{
    nlsq_model *m = decay();
    nlsq_options o = options();
    nlsq_result *ref = reference_fit(m, &o);
    CHECK(ref && ref->success);
    if (!ref) return;
    CHECK_NEAR(ref->popt[1], 0.7, 0.01, "b");
    const double *cols[3] = {X, Y, S};
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    nlsq_source *s = NULL;
    nlsq_error e;
    CHECK(nlsq_source_from_arrays(cols, 3, M, &s, &e) == NLSQ_OK);
    fit_and_compare(m, s, &c, ref, &o, "arrays");
    nlsq_source_free(s);

    static const struct {
        const char *name;
        int fortran, f32, big;
    } npys[] = {{"c8.npy", 0, 0, 0}, {"f8.npy", 1, 0, 0},   {"c4.npy", 0, 1, 0},
                {"f4.npy", 1, 1, 0}, {"c8be.npy", 0, 0, 1}, {"f4be.npy", 1, 1, 1}};
    for (size_t k = 0; k < sizeof npys / sizeof npys[0]; k++) {
        write_npy(npys[k].name, cols, 3, npys[k].fortran, npys[k].f32, npys[k].big);
        s = open_npy(npys[k].name);
        if (s && k == 1) CHECK_MSG(strstr(nlsq_source_describe(s), "Fortran") != NULL, "%s", nlsq_source_describe(s));
        fit_and_compare(m, s, &c, ref, &o, npys[k].name);
        nlsq_source_free(s);
    }
    write_raw("rows.bin", cols, 3, 0, 0, 0);
    write_raw("planar.bin", cols, 3, 1, 0, 40);
    write_raw("rows4.bin", cols, 3, 0, 1, 0);
    s = open_raw("rows.bin", 3, 0, 0, 0);
    fit_and_compare(m, s, &c, ref, &o, "raw rows");
    nlsq_source_free(s);
    s = open_raw("planar.bin", 3, 1, 0, 40);
    fit_and_compare(m, s, &c, ref, &o, "raw planar with offset");
    nlsq_source_free(s);
    s = open_raw("rows4.bin", 3, 0, 1, 0);
    fit_and_compare(m, s, &c, ref, &o, "raw float32");
    nlsq_source_free(s);

    /* text through the column cache: a header, then %.17g (exact) */
    char csv[512], cache[512];
    path_of(csv, sizeof csv, "data.csv");
    path_of(cache, sizeof cache, "data.columns.npy");
    FILE *f = fopen(csv, "w");
    fprintf(f, "# decay\ntime,signal,err\n");
    for (int i = 0; i < M; i++) fprintf(f, "%.17g,%.17g,%.17g\n", X[i], Y[i], S[i]);
    fclose(f);
    nlsq_text_options to = nlsq_text_options_default();
    to.cache_path = cache;
    for (int pass = 0; pass < 2; pass++) { /* converted, then reused */
        CHECK(nlsq_source_open_text(csv, &to, &s, &e) == NLSQ_OK);
        if (!s) break;
        CHECK_MSG(strcmp(nlsq_source_column_name(s, 1), "signal") == 0, "name %s", nlsq_source_column_name(s, 1));
        fit_and_compare(m, s, &c, ref, &o, pass ? "csv (cache reused)" : "csv (converted)");
        nlsq_source_free(s);
    }
    struct stat st;
    CHECK(stat(cache, &st) == 0 && (size_t)st.st_size >= (size_t)M * 24);

    /* callbacks, called from several threads or one at a time */
    for (int safe = 0; safe < 2; safe++) {
        fill_calls = 0;
        CHECK(nlsq_source_from_callback(3, M, fill_columns, NULL, safe, &s, &e) == NLSQ_OK);
        fit_and_compare(m, s, &c, ref, &o, safe ? "callback (thread-safe)" : "callback (serial)");
        CHECK(fill_calls > 0);
        nlsq_source_free(s);
    }

    /* x, y and sigma in three files, side by side */
    write_npy("x.npy", &cols[0], 1, 0, 0, 0);
    write_npy("y.npy", &cols[1], 1, 0, 0, 0);
    write_npy("s.npy", &cols[2], 1, 0, 1, 0);
    nlsq_source *parts[3] = {open_npy("x.npy"), open_npy("y.npy"), open_npy("s.npy")};
    CHECK(nlsq_source_join(parts, 3, &s, &e) == NLSQ_OK);
    CHECK(nlsq_source_num_columns(s) == 3 && nlsq_source_num_rows(s) == M);
    fit_and_compare(m, s, &c, ref, &o, "three .npy files joined");
    nlsq_source_free(s);

    /* a header of odd length: the doubles are not 8-byte aligned in the
       mapping, so they are copied rather than read in place */
    {
        char path[512];
        path_of(path, sizeof path, "odd.npy");
        FILE *odd = fopen(path, "wb");
        char dict[160];
        int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%d, 3), }", M);
        int total = 10 + n + 5; /* not a multiple of 8 */
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(total - 10), 0};
        fwrite(pre, 1, 10, odd);
        fwrite(dict, 1, (size_t)n, odd);
        fputs("    \n", odd);
        for (int k = 0; k < 3; k++) fwrite(cols[k], sizeof(double), M, odd);
        fclose(odd);
        s = open_npy("odd.npy");
        fit_and_compare(m, s, &c, ref, &o, "misaligned .npy data");
        nlsq_source_free(s);
    }

    /* the text cache in its default place (the cache directory) */
    to.cache_path = NULL;
    CHECK(nlsq_source_open_text(csv, &to, &s, &e) == NLSQ_OK);
    fit_and_compare(m, s, &c, ref, &o, "csv (default cache place)");
    nlsq_source_free(s);

    /* on one thread and on the compiled kernel: still the same */
    s = open_npy("c4.npy");
    nlsq_options o1 = o;
    o1.threads = 1;
    fit_and_compare(m, s, &c, ref, &o1, "float32 C order, one thread");
    o1.threads = 0;
    o1.backend = NLSQ_BACKEND_JIT;
    fit_and_compare(m, s, &c, ref, &o1, "float32 C order, compiled");
    /* the other methods, and a robust loss with a fixed parameter */
    static const unsigned char fix_c[3] = {0, 0, 1};
    for (int k = 0; k < 3; k++) {
        nlsq_options ok = o;
        ok.method = k == 0 ? NLSQ_LM : NLSQ_DOGBOX;
        if (k == 2) {
            ok.loss = NLSQ_LOSS_SOFT_L1;
            ok.fixed = fix_c;
        }
        nlsq_result *want = reference_fit(m, &ok);
        if (want) fit_and_compare(m, s, &c, want, &ok, k == 0 ? "lm" : k == 1 ? "dogbox" : "soft_l1, c fixed");
        nlsq_result_free(want);
    }
    nlsq_source_free(s);
    nlsq_result_free(ref);
    nlsq_model_free(m);
}

static void test_sigma_from_a_file_column_matches_sigma_from_an_array(void)
{
    nlsq_model *m = decay();
    nlsq_options o = options();
    o.absolute_sigma = 1;
    nlsq_result *ref = reference_fit(m, &o);
    const double *cols[3] = {Y, S, X}; /* another column order */
    write_npy("yxs.npy", cols, 3, 1, 0, 0);
    nlsq_source *s = open_npy("yxs.npy");
    nlsq_columns c = nlsq_columns_default();
    int xcol = 2;
    c.x = &xcol;
    c.y = 0;
    c.sigma = 1;
    if (ref) fit_and_compare(m, s, &c, ref, &o, "sigma column 1 of a Fortran .npy");
    /* and without sigma the answer differs: the column is really used */
    nlsq_result *r = NULL;
    nlsq_error e;
    c.sigma = -1;
    CHECK(nlsq_fit_source(m, s, &c, &o, &r, &e) == NLSQ_OK);
    if (r && ref) CHECK(r->popt[0] != ref->popt[0]);
    nlsq_result_free(r);
    nlsq_source_free(s);
    nlsq_result_free(ref);
    nlsq_model_free(m);
}

/* A file whose bytes are `bytes` (n of them). */
static void write_bytes(const char *name, const void *bytes, size_t n)
{
    char path[512];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void expect_npy_error(const char *name, const char *words)
{
    char path[512];
    nlsq_source *s = NULL;
    nlsq_error e;
    path_of(path, sizeof path, name);
    nlsq_status st = nlsq_source_open_npy(path, &s, &e);
    CHECK_MSG(st != NLSQ_OK && !s, "%s opened", name);
    if (st != NLSQ_OK)
        CHECK_MSG(strstr(e.message, words) != NULL, "%s: message '%s' lacks '%s'", name, e.message, words);
    nlsq_source_free(s);
}

static void npy_with_header(const char *name, const char *dict, size_t data_bytes)
{
    unsigned char buf[4096];
    size_t n = strlen(dict), total = (10 + n + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(total - 10);
    buf[9] = 0;
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', total - 10 - n - 1);
    buf[total - 1] = '\n';
    memset(buf + total, 0, data_bytes);
    write_bytes(name, buf, total + data_bytes);
}

static void test_bad_files_give_clear_errors(void)
{
    npy_with_header("short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 2), }", 100 * 16 - 8);
    expect_npy_error("short.npy", "truncated");
    npy_with_header("int.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (100,), }", 400);
    expect_npy_error("int.npy", "not float64 or float32");
    npy_with_header("cube.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", 64);
    expect_npy_error("cube.npy", "shape");
    npy_with_header("empty.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2), }", 0);
    expect_npy_error("empty.npy", "no rows");
    write_bytes("text.npy", "x,y\n1,2\n", 8);
    expect_npy_error("text.npy", "not a .npy file");
    write_bytes("cut.npy", "\x93NUMPY\x01\x00\x76\x00{'descr'", 17);
    expect_npy_error("cut.npy", "truncated header");
    expect_npy_error("missing.npy", "No such file");

    char path[512];
    nlsq_source *s = NULL;
    nlsq_error e;
    unsigned char junk[100] = {0};
    write_bytes("odd.bin", junk, 100); /* 100 bytes: not rows of 16 */
    path_of(path, sizeof path, "odd.bin");
    nlsq_raw_layout l = nlsq_raw_layout_default();
    CHECK(nlsq_source_open_raw(path, &l, &s, &e) == NLSQ_ERR_DATA && !s);
    CHECK_MSG(strstr(e.message, "not a whole number of rows") != NULL, "%s", e.message);
    l.offset = 200;
    CHECK(nlsq_source_open_raw(path, &l, &s, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, "shorter than the 200-byte offset") != NULL, "%s", e.message);
    l.offset = 4;
    l.ncols = 0;
    CHECK(nlsq_source_open_raw(path, &l, &s, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    l.ncols = 3;
    l.dtype = (nlsq_dtype)9;
    CHECK(nlsq_source_open_raw(path, &l, &s, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_source_open_raw(NULL, &l, &s, &e) == NLSQ_ERR_INVALID_ARGUMENT);

    /* a text table with a bad field: the cache is not left behind */
    char csv[512], cache[512];
    path_of(csv, sizeof csv, "bad.csv");
    path_of(cache, sizeof cache, "bad.columns.npy");
    FILE *f = fopen(csv, "w");
    fprintf(f, "1,2\n3,4\n5,oops\n");
    fclose(f);
    nlsq_text_options to = nlsq_text_options_default();
    to.cache_path = cache;
    CHECK(nlsq_source_open_text(csv, &to, &s, &e) == NLSQ_ERR_DATA);
    CHECK_MSG(strstr(e.message, ":3: field 2") != NULL, "%s", e.message);
    CHECK(access(cache, F_OK) != 0);

    /* reads beyond the rows, columns that do not exist */
    const double *cols[2] = {X, Y};
    double out[4];
    CHECK(nlsq_source_from_arrays(cols, 2, M, &s, &e) == NLSQ_OK);
    CHECK(nlsq_source_read(s, 0, M - 2, 4, out, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_source_read(s, 2, 0, 1, out, &e) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_source_read(s, 1, M - 1, 1, out, &e) == NLSQ_OK && out[0] == Y[M - 1]);
    nlsq_model *m = decay();
    nlsq_result *r = NULL;
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    CHECK(nlsq_fit_source(m, s, &c, NULL, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "sigma column is 2") != NULL, "%s", e.message);
    nlsq_source_free(s);

    /* a callback that fails: the fit fails with its words */
    CHECK(nlsq_source_from_callback(3, M, fill_fails, NULL, 1, &s, &e) == NLSQ_OK);
    c.sigma = -1;
    CHECK(nlsq_fit_source(m, s, &c, NULL, &r, &e) == NLSQ_ERR_DATA && !r);
    CHECK_MSG(strstr(e.message, "callback returned 7 for rows") != NULL, "%s", e.message);
    nlsq_source_free(s);
    nlsq_model_free(m);
}

static void test_nan_policy_reads_the_data_once(void)
{
    nlsq_model *m = decay();
    double *y = malloc(M * sizeof *y);
    memcpy(y, Y, M * sizeof *y);
    y[77777] = NAN;
    const double *cols[3] = {X, y, S};
    write_npy("nan.npy", cols, 3, 0, 0, 0);
    nlsq_source *s = open_npy("nan.npy");
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    nlsq_options o = options();
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_source(m, s, &c, &o, &r, &e) == NLSQ_ERR_DATA && !r);
    CHECK_MSG(strstr(e.message, "y[77777] is nan") != NULL, "%s", e.message);
    o.nan_policy = NLSQ_NAN_OMIT;
    nlsq_data d = {X, y, M, S, NLSQ_SIGMA_PER_POINT};
    nlsq_result *ref = NULL;
    CHECK(nlsq_curve_fit(m, &d, &o, &ref, &e) == NLSQ_OK);
    if (ref) {
        CHECK(ref->m == M - 1);
        fit_and_compare(m, s, &c, ref, &o, "nan_policy omit");
    }
    nlsq_result_free(ref);
    nlsq_source_free(s);
    free(y);
    nlsq_model_free(m);
}

typedef struct progress_log {
    int calls, last_pass, bad, stop_at_pass;
    double last_fraction;
} progress_log;

static int log_progress(void *user, const nlsq_progress *p)
{
    progress_log *l = user;
    l->calls++;
    if (!(p->pass_fraction >= 0 && p->pass_fraction <= 1) || p->pass < l->last_pass || p->points != M ||
        !(p->elapsed >= 0))
        l->bad++;
    if (p->pass == l->last_pass && p->pass_fraction < l->last_fraction) l->bad++;
    l->last_pass = p->pass;
    l->last_fraction = p->pass_fraction;
    return l->stop_at_pass && p->pass >= l->stop_at_pass;
}

static void test_progress_reports_and_can_stop_the_fit(void)
{
    nlsq_model *m = decay();
    nlsq_options o = options();
    progress_log log = {0, 0, 0, 0, 0};
    o.progress = log_progress;
    o.progress_data = &log;
    o.progress_interval = 1e-9; /* every window */
    nlsq_result *ref = reference_fit(m, &o), *plain;
    o.progress = NULL;
    plain = reference_fit(m, &o);
    CHECK(log.calls > 10 && log.bad == 0);
    if (ref && plain) {
        same_result(plain, ref, "with progress");
        CHECK_MSG(log.last_pass == ref->passes, "last reported pass %d of %d", log.last_pass, ref->passes);
    }
    progress_log stop = {0, 0, 0, 3, 0};
    o.progress = log_progress;
    o.progress_data = &stop;
    nlsq_result *r = reference_fit(m, &o);
    if (r) CHECK_MSG(r->status == -2 && r->passes <= 4, "status %d after %d passes", r->status, r->passes);
    nlsq_result_free(r);
    nlsq_result_free(ref);
    nlsq_result_free(plain);
    nlsq_model_free(m);
}

/* ---- checkpoints ---------------------------------------------------------- */

static int kill_at_iteration;

static int kill_callback(void *user, int it, double cost, const double *p, double g, double s)
{
    (void)user, (void)cost, (void)p, (void)g, (void)s;
    if (it == kill_at_iteration) raise(SIGKILL);
    return 0;
}

static int kill_mid_pass(void *user, const nlsq_progress *p)
{
    (void)user;
    if (p->pass == 4 && p->pass_fraction > 0.4) raise(SIGKILL);
    return 0;
}

/* Run the checkpointed fit in a child that dies as set up; the child's
   exit must be SIGKILL. */
static void run_child_until_killed(nlsq_model *m, nlsq_source *s, const nlsq_columns *c, nlsq_options o,
                                   const char *how)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        nlsq_result *r = NULL;
        nlsq_error e;
        nlsq_fit_source(m, s, c, &o, &r, &e);
        _exit(0); /* not killed: the parent notices */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "%s: the child was not killed (status %d)", how,
              status);
}

static void test_killed_fits_resume_to_the_uninterrupted_answer(void)
{
    nlsq_model *m = decay();
    const double *cols[3] = {X, Y, S};
    write_npy("ck.npy", cols, 3, 0, 0, 0);
    nlsq_source *s = open_npy("ck.npy");
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    nlsq_options o = options();
    o.backend = NLSQ_BACKEND_INTERP; /* no compile thread across fork */
    o.method = NLSQ_TRF;
    nlsq_result *ref = NULL;
    nlsq_error e;
    CHECK(nlsq_fit_source(m, s, &c, &o, &ref, &e) == NLSQ_OK);
    if (!ref) return;
    CHECK(ref->nit >= 5);
    char ck[512];
    path_of(ck, sizeof ck, "fit.ckpt");
    const struct {
        const char *how;
        int iteration, write, mid_pass;
    } kills[] = {{"at iteration 1", 1, 0, 0},
                 {"at iteration 4", 4, 0, 0},
                 {"in the middle of pass 4", 0, 0, 1},
                 {"during checkpoint write 1", 0, 1, 0},
                 {"during checkpoint write 3", 0, 3, 0},
                 {"during the last checkpoint write", 0, ref->nfev + 1, 0}};
    for (size_t k = 0; k < sizeof kills / sizeof kills[0]; k++) {
        unlink(ck);
        nlsq_options oc = o;
        oc.checkpoint = ck;
        kill_at_iteration = kills[k].iteration;
        if (kills[k].iteration) oc.callback = kill_callback;
        if (kills[k].mid_pass) oc.progress = kill_mid_pass;
        char w[16];
        snprintf(w, sizeof w, "%d", kills[k].write);
        if (kills[k].write) setenv("NLSQ_TEST_KILL_IN_CHECKPOINT", w, 1);
        run_child_until_killed(m, s, &c, oc, kills[k].how);
        unsetenv("NLSQ_TEST_KILL_IN_CHECKPOINT");
        oc.callback = NULL;
        oc.progress = NULL;
        oc.resume = 1;
        nlsq_result *r = NULL;
        CHECK_MSG(nlsq_fit_source(m, s, &c, &oc, &r, &e) == NLSQ_OK, "%s: resume: %s", kills[k].how, e.message);
        if (!r) continue;
        char what[80];
        snprintf(what, sizeof what, "resumed after a kill %s", kills[k].how);
        same_result(ref, r, what);
        CHECK_MSG(r->nit == ref->nit && r->status == ref->status, "%s: nit %d/%d", what, r->nit, ref->nit);
        printf("    killed %-34s resumed %2d evaluations, then %2d passes (uninterrupted: %d)\n", kills[k].how,
               r->resumed_evaluations, r->passes, ref->passes);
        if (kills[k].write != 1) CHECK_MSG(r->resumed_evaluations > 0, "%s: nothing resumed", what);
        CHECK_MSG(r->passes < ref->passes + 1, "%s: %d passes after resume, %d in all", what, r->passes, ref->passes);
        nlsq_result_free(r);
    }
    /* a finished fit's checkpoint replays to the end: one pass, the data's */
    nlsq_options oc = o;
    oc.checkpoint = ck;
    oc.resume = 1;
    nlsq_result *r = NULL;
    CHECK(nlsq_fit_source(m, s, &c, &oc, &r, &e) == NLSQ_OK);
    if (r) {
        same_result(ref, r, "replayed to the end");
        CHECK_MSG(r->passes == 1, "%d passes", r->passes);
    }
    nlsq_result_free(r);

    /* refused: another model, other options, other data */
    nlsq_model *m2 = NULL;
    nlsq_model_parse("a*exp(-b*x) + c + 0*x", NULL, &m2, &e);
    CHECK(nlsq_fit_source(m2, s, &c, &oc, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "was written for the model") != NULL, "%s", e.message);
    nlsq_model_free(m2);
    nlsq_options other = oc;
    static const double p0b[3] = {1, 2, 0};
    other.p0 = p0b;
    CHECK(nlsq_fit_source(m, s, &c, &other, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "other options") != NULL, "%s", e.message);
    double *y2 = malloc(M * sizeof *y2);
    memcpy(y2, Y, M * sizeof *y2);
    y2[12345] += 1e-9;
    const double *cols2[3] = {X, y2, S};
    nlsq_source *s2 = NULL;
    nlsq_source_from_arrays(cols2, 3, M, &s2, &e);
    CHECK(nlsq_fit_source(m, s2, &c, &oc, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "other data") != NULL, "%s", e.message);
    nlsq_source_free(s2);
    free(y2);
    write_bytes("fit.ckpt", "garbage", 7);
    CHECK(nlsq_fit_source(m, s, &c, &oc, &r, &e) == NLSQ_ERR_INVALID_ARGUMENT && !r);
    CHECK_MSG(strstr(e.message, "not an nlsq checkpoint") != NULL, "%s", e.message);
    nlsq_result_free(ref);
    nlsq_source_free(s);
    nlsq_model_free(m);
}

static void test_memory_estimate_is_small_and_guarded(void)
{
    nlsq_model *m = decay();
    const double *cols[2] = {X, Y};
    nlsq_source *s = NULL;
    nlsq_error e;
    nlsq_source_from_arrays(cols, 2, M, &s, &e);
    size_t bytes = 0, kept = 0;
    nlsq_options o = nlsq_options_default();
    CHECK(nlsq_fit_memory(m, s, NULL, &o, &bytes, &e) == NLSQ_OK);
    o.keep_residuals = 1;
    CHECK(nlsq_fit_memory(m, s, NULL, &o, &kept, &e) == NLSQ_OK);
    CHECK_MSG(bytes > 0 && bytes < 4u << 20 && kept == bytes + M * sizeof(double), "%zu, %zu", bytes, kept);
    nlsq_source_free(s);
    /* a callback source of 2^60 rows: keep_residuals is refused up front */
    CHECK(nlsq_source_from_callback(2, (size_t)1 << 60, fill_columns, NULL, 1, &s, &e) == NLSQ_OK);
    nlsq_result *r = NULL;
    CHECK(nlsq_fit_source(m, s, NULL, &o, &r, &e) == NLSQ_ERR_NOMEM && !r);
    CHECK_MSG(strstr(e.message, "keep_residuals needs") != NULL, "%s", e.message);
    nlsq_source_free(s);
    nlsq_model_free(m);
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
    snprintf(tmpdir, sizeof tmpdir, "%s/nlsq-sources-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    make_data();
    static const test_case tests[] = {
        TEST(test_every_source_gives_the_fit_of_the_arrays),
        TEST(test_sigma_from_a_file_column_matches_sigma_from_an_array),
        TEST(test_bad_files_give_clear_errors),
        TEST(test_nan_policy_reads_the_data_once),
        TEST(test_progress_reports_and_can_stop_the_fit),
        TEST(test_killed_fits_resume_to_the_uninterrupted_answer),
        TEST(test_memory_estimate_is_small_and_guarded),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    remove_tmpdir();
    return rc;
}
