/*
 * NumPy .npz archives as sources (nlsq_source_open_npz, and through
 * nlsq_source_open_file): files written at test time by NumPy
 * (tests/npz_files.py: numpy.savez and savez_compressed; float64 and
 * float32, both byte orders, C and Fortran order, 1-D and 2-D members,
 * ZIP64 records, data descriptors) read back exactly; the same fit from
 * .npz (stored, deflated into memory, deflated into a column cache), .npy
 * and CSV bitwise that of the arrays; every malformed archive refused with
 * one clear message. Skipped, with the reason, without python3 and NumPy.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "nlsq.h"

enum { M = 20000 };

static char tmpdir[256];
static char skip_reason[400];
static double REF[3][M]; /* x, y, s as NumPy wrote them */

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* NumPy writes the files; 0, or -1 with skip_reason set. */
static int write_files(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/npz_files.py' '%s' %d >'%s/python.log' 2>&1", NLSQ_SOURCE_DIR,
             tmpdir, M, tmpdir);
    if (access("/usr/bin/python3", X_OK) != 0) {
        snprintf(skip_reason, sizeof skip_reason, "/usr/bin/python3 is missing (it writes the .npz files)");
        return -1;
    }
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        snprintf(skip_reason, sizeof skip_reason,
                 "NumPy is not installed for /usr/bin/python3 (it writes the .npz files)");
        return -1;
    }
    if (rc != 0) {
        snprintf(skip_reason, sizeof skip_reason, "tests/npz_files.py failed (status %d): see %.200s/python.log", rc,
                 tmpdir);
        return -2;
    }
    char path[512];
    path_of(path, sizeof path, "ref.f8");
    FILE *f = fopen(path, "rb");
    double row[3];
    for (int i = 0; f && i < M; i++) {
        if (fread(row, sizeof row, 1, f) != 1) break;
        for (int c = 0; c < 3; c++) REF[c][i] = row[c];
    }
    if (f) fclose(f);
    return 0;
}

static int ready(void)
{
    if (skip_reason[0]) {
        if (strstr(skip_reason, "failed"))
            CHECK_MSG(0, "%s", skip_reason);
        else
            test_skip(skip_reason);
        return 0;
    }
    return 1;
}

static nlsq_source *open_spec(const char *spec)
{
    char path[600];
    path_of(path, sizeof path, spec);
    nlsq_source *s = NULL;
    nlsq_error e;
    if (nlsq_source_open_file(path, NULL, &s, &e) != NLSQ_OK) CHECK_MSG(0, "%s: %s", spec, e.message);
    return s;
}

/* Columns cols[0..3) of s are x, y, s of the reference, exactly. */
static void same_values(nlsq_source *s, const int *cols, const char *what)
{
    if (!s) return;
    CHECK_MSG(nlsq_source_num_rows(s) == M, "%s: %zu rows", what, nlsq_source_num_rows(s));
    if (nlsq_source_num_rows(s) != M) return;
    static double got[M];
    for (int c = 0; c < 3; c++) {
        nlsq_error e;
        if (nlsq_source_read(s, cols[c], 0, M, got, &e) != NLSQ_OK) {
            CHECK_MSG(0, "%s: read column %d: %s", what, cols[c], e.message);
            continue;
        }
        int bad = 0;
        for (int i = 0; i < M; i++) bad += memcmp(&got[i], &REF[c][i], sizeof(double)) != 0;
        CHECK_MSG(bad == 0, "%s: column %d: %d of %d values differ", what, cols[c], bad, M);
    }
}

static void names_are(nlsq_source *s, const char *const *names, int n, const char *what)
{
    if (!s) return;
    CHECK_MSG(nlsq_source_num_columns(s) == n, "%s: %d columns, want %d", what, nlsq_source_num_columns(s), n);
    for (int c = 0; c < n && c < nlsq_source_num_columns(s); c++)
        CHECK_MSG(strcmp(nlsq_source_column_name(s, c), names[c]) == 0, "%s: column %d is '%s', want '%s'", what, c,
                  nlsq_source_column_name(s, c), names[c]);
}

static void test_every_layout_reads_back_exactly(void)
{
    if (!ready()) return;
    static const char *xys[] = {"x", "y", "s"}, *table[] = {"t:1", "t:2", "t:3"}, *split[] = {"xy:1", "xy:2", "s"};
    static const int in_order[] = {0, 1, 2};
    static const char *kinds[] = {"s", "c"};
    for (int k = 0; k < (nlsq_have_zlib() ? 2 : 1); k++) { /* deflated members need zlib */
        static const struct {
            const char *file;
            const char *const *names;
        } files[] = {{"f8", xys},      {"mixed", xys}, {"table_c", table},  {"table_f", table},
                     {"split", split}, {"one", xys},   {"descriptor", xys}, {"zip64", xys}};
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%s.npz", kinds[k], files[f].file);
            nlsq_source *s = open_spec(name);
            names_are(s, files[f].names, 3, name);
            same_values(s, in_order, name);
            nlsq_source_free(s);
        }
    }
    /* members named, in another order, one twice */
    nlsq_source *s = open_spec(nlsq_have_zlib() ? "c_mixed.npz:s,x,y,x" : "s_mixed.npz:s,x,y,x");
    static const char *named[] = {"s", "x", "y", "x"};
    static const int cols[] = {1, 2, 0};
    names_are(s, named, 4, "c_mixed.npz:s,x,y,x");
    same_values(s, cols, "c_mixed.npz:s,x,y,x");
    nlsq_source_free(s);
    /* members whose names look like column numbers keep them */
    s = open_spec("numbered.npz");
    static const char *numbered[] = {"2", "y", "1"};
    names_are(s, numbered, 3, "numbered.npz");
    same_values(s, in_order, "numbered.npz");
    nlsq_source_free(s);
    /* the columns of an archive that also holds a scalar, named */
    s = open_spec("scalar.npz:x,y,s");
    same_values(s, in_order, "scalar.npz:x,y,s");
    nlsq_source_free(s);
    /* a name held twice: its last entry, as numpy.load reads it */
    s = open_spec("dup.npz:x,y,s");
    same_values(s, in_order, "dup.npz:x,y,s");
    nlsq_source_free(s);
    s = open_spec("dup.npz");
    same_values(s, in_order, "dup.npz");
    nlsq_source_free(s);
    /* a member named with its .npy; through nlsq_source_open_npz itself */
    char path[512];
    path_of(path, sizeof path, "s_split.npz");
    const char *members[] = {"xy.npy", "s"};
    nlsq_error e;
    s = NULL;
    CHECK_MSG(nlsq_source_open_npz(path, members, 2, &s, &e) == NLSQ_OK, "s_split.npz xy.npy,s: %s", e.message);
    same_values(s, in_order, "s_split.npz: xy.npy,s");
    nlsq_source_free(s);
}

static size_t count_caches(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de = d ? readdir(d) : NULL; de; de = readdir(d)) {
        size_t len = strlen(de->d_name);
        n += len > 4 && strcmp(de->d_name + len - 4, ".npy") == 0;
    }
    if (d) closedir(d);
    return n;
}

static void test_deflated_members_go_through_the_column_cache(void)
{
    if (!ready()) return;
    if (!nlsq_have_zlib()) {
        test_skip("this build has no zlib");
        return;
    }
    char cache[600];
    path_of(cache, sizeof cache, "cache/nlsq/columns");
    setenv("NLSQ_NPZ_INFLATE_MEMORY", "0", 1);
    static const int in_order[] = {0, 1, 2};
    nlsq_source *s = open_spec("c_mixed.npz");
    CHECK_MSG(s && strstr(nlsq_source_describe(s), "column cache"), "c_mixed.npz: '%s'",
              s ? nlsq_source_describe(s) : "");
    same_values(s, in_order, "c_mixed.npz through the cache");
    nlsq_source_free(s);
    CHECK_MSG(count_caches(cache) == 3, "%zu caches, want one per member (3)", count_caches(cache));
    /* opened again: the caches are used, not made anew */
    struct stat before, after;
    char one[1000];
    DIR *d = opendir(cache);
    struct dirent *de = NULL;
    while (d && (de = readdir(d)) && !strstr(de->d_name, ".npy")) {}
    if (de) snprintf(one, sizeof one, "%s/%s", cache, de->d_name);
    if (d) closedir(d);
    CHECK(de && stat(one, &before) == 0);
    s = open_spec("c_mixed.npz");
    same_values(s, in_order, "c_mixed.npz from the caches again");
    nlsq_source_free(s);
    CHECK(de && stat(one, &after) == 0 && after.st_ino == before.st_ino &&
          after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && after.st_mtim.tv_sec == before.st_mtim.tv_sec);
    CHECK(count_caches(cache) == 3);
    setenv("NLSQ_NPZ_INFLATE_MEMORY", "many", 1);
    nlsq_error e;
    char path[512];
    path_of(path, sizeof path, "c_f8.npz");
    s = NULL;
    CHECK(nlsq_source_open_npz(path, NULL, 0, &s, &e) == NLSQ_ERR_INVALID_ARGUMENT && !s &&
          strstr(e.message, "NLSQ_NPZ_INFLATE_MEMORY"));
    unsetenv("NLSQ_NPZ_INFLATE_MEMORY");
    s = open_spec("c_f8.npz");
    CHECK_MSG(s && strstr(nlsq_source_describe(s), "in memory"), "c_f8.npz: '%s'", s ? nlsq_source_describe(s) : "");
    nlsq_source_free(s);
}

static nlsq_model *decay(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse: %s", e.message);
    return m;
}

static void same_result(const nlsq_result *a, const nlsq_result *b, const char *what)
{
    for (int j = 0; j < 3; j++) CHECK_SAME(b->popt[j], a->popt[j], "%s popt[%d]", what, j);
    for (int j = 0; j < 9; j++) CHECK_SAME(b->pcov[j], a->pcov[j], "%s pcov[%d]", what, j);
    CHECK_SAME(b->cost, a->cost, "%s cost", what);
    CHECK_MSG(a->m == b->m && a->nfev == b->nfev, "%s: m %zu/%zu nfev %d/%d", what, a->m, b->m, a->nfev, b->nfev);
}

static void fit_and_compare(nlsq_model *m, nlsq_source *src, const nlsq_options *o, const nlsq_result *ref,
                            const char *what)
{
    if (!src) return;
    nlsq_columns c = nlsq_columns_default();
    c.sigma = 2;
    nlsq_result *r = NULL;
    nlsq_error e;
    if (nlsq_fit_source(m, src, &c, o, &r, &e) != NLSQ_OK) {
        CHECK_MSG(0, "%s: %s", what, e.message);
        return;
    }
    same_result(ref, r, what);
    nlsq_result_free(r);
}

static void test_the_same_fit_from_npz_npy_and_csv(void)
{
    if (!ready()) return;
    nlsq_model *m = decay();
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {1, 1, 0};
    o.p0 = p0;
    nlsq_data d = {REF[0], REF[1], M, REF[2], NLSQ_SIGMA_PER_POINT};
    nlsq_result *ref = NULL;
    nlsq_error e;
    if (nlsq_curve_fit(m, &d, &o, &ref, &e) != NLSQ_OK) CHECK_MSG(0, "curve_fit: %s", e.message);
    CHECK(ref && ref->success && fabs(ref->popt[1] - 0.7) < 0.02);
    if (ref) {
        static const char *specs[] = {"s_f8.npz",       "c_f8.npz",    "s_mixed.npz", "c_mixed.npz", "s_table_f.npz",
                                      "c_table_c.npz",  "s_split.npz", "c_zip64.npz", "s_zip64.npz", "c_descriptor.npz",
                                      "c_f8.npz:x,y,s", "data.npy",    "data.csv"};
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
            if (specs[k][0] == 'c' && !nlsq_have_zlib()) continue; /* deflated */
            nlsq_source *s = open_spec(specs[k]);
            fit_and_compare(m, s, &o, ref, specs[k]);
            nlsq_source_free(s);
        }
        if (nlsq_have_zlib()) {
            setenv("NLSQ_NPZ_INFLATE_MEMORY", "0", 1);
            nlsq_source *s = open_spec("c_table_f.npz");
            fit_and_compare(m, s, &o, ref, "c_table_f.npz through the column cache");
            nlsq_source_free(s);
            unsetenv("NLSQ_NPZ_INFLATE_MEMORY");
        }
    }
    nlsq_result_free(ref);
    nlsq_model_free(m);
}

/* spec refused with code and a message holding each of the words. */
static void expect_error(const char *spec, nlsq_status code, const char *w1, const char *w2)
{
    char path[600];
    path_of(path, sizeof path, spec);
    nlsq_source *s = NULL;
    nlsq_error e;
    memset(&e, 0, sizeof e);
    nlsq_status st = nlsq_source_open_file(path, NULL, &s, &e);
    CHECK_MSG(st == code && !s, "%s: status %d (want %d), '%s'", spec, (int)st, (int)code, e.message);
    CHECK_MSG(strstr(e.message, w1) && (!w2 || strstr(e.message, w2)) && !strchr(e.message, '\n'),
              "%s: message '%s' lacks '%s'%s%s", spec, e.message, w1, w2 ? " or " : "", w2 ? w2 : "");
    nlsq_source_free(s);
}

static void test_malformed_archives_give_one_clear_message(void)
{
    if (!ready()) return;
    const nlsq_status D = NLSQ_ERR_DATA, A = NLSQ_ERR_INVALID_ARGUMENT;
    expect_error("s_f8.npz:x,z", A, "no member 'z'", "(the members: x, y, s)");
    expect_error("bad_lengths.npz", D, "differ in length", "x has 20000, y has 19999, s has 20000");
    expect_error("bad_int.npz", D, "member 'x': dtype '<i8' is not float64 or float32", NULL);
    expect_error("bad_notnpy.npz", D, "member 'readme.txt' is not a .npy", NULL);
    expect_error("scalar.npz", D, "member 'temperature': shape must be", "name the members to read");
    expect_error("bad_notnpy.npz:x", D, "member 'x': not a .npy file", NULL);
    expect_error("bad_truncated.npz", D, "bad_truncated.npz: not a ZIP archive, or a truncated one", NULL);
    expect_error("bad_empty.npz", D, "without members", NULL);
    expect_error("bad_encrypted.npz", D, "'x.npy' is encrypted", NULL);
    expect_error("bad_method.npz", D, "member 'x' uses compression method 12", NULL);
    expect_error("bad_multidisk.npz", D, "multi-disk", NULL);
    expect_error("bad_offset.npz", D, "no local file header at offset 1073741824", NULL);
    expect_error("bad_overlap.npz", D, "'x.npy' and 'y.npy' overlap", NULL);
    expect_error("bad_stored_size.npz", D, "member 'x': corrupt: stored", NULL);
    expect_error("bad_npy_short.npz", D, "member 'x': truncated", "the member has 784");
    if (nlsq_have_zlib()) {
        expect_error("bad_bomb.npz", D, "member 'x': it inflates to more than the 928 bytes", "zip bomb");
        expect_error("bad_crc.npz", D, "member 'x': corrupt: the CRC-32", NULL);
        expect_error("bad_deflate.npz", D, "member 'x'", "corrupt"); /* whichever check the garbled bytes trip */
        expect_error("bad_deflate_short.npz", D, "member 'x': corrupt or truncated", "ends after");
        expect_error("bad_npy_short_deflated.npz", D, "member 'x': truncated", "the member has 784");
    } else {
        expect_error("c_f8.npz", A, "zlib1g-dev", NULL);
    }
    /* the arguments */
    char path[512];
    path_of(path, sizeof path, "s_f8.npz");
    nlsq_source *s = NULL;
    nlsq_error e;
    const char *empty[] = {""};
    CHECK(nlsq_source_open_npz(path, empty, 1, &s, &e) == A && !s && strstr(e.message, "empty"));
    CHECK(nlsq_source_open_npz(path, NULL, 2, &s, &e) == A && !s);
    CHECK(nlsq_source_open_npz(NULL, NULL, 0, &s, &e) == A && !s);
    CHECK(nlsq_source_open_npz(path, NULL, 0, NULL, &e) == A);
    path_of(path, sizeof path, "nothing.npz");
    CHECK(nlsq_source_open_npz(path, NULL, 0, &s, &e) == A && !s && strstr(e.message, "No such file"));
    CHECK(nlsq_source_open_npz(tmpdir, NULL, 0, &s, &e) == A && !s && strstr(e.message, "not a regular file"));
}

/* The archive rewritten under a fit's source: caught like a .npy's. */
static void test_an_archive_changed_under_the_source_is_caught(void)
{
    if (!ready()) return;
    char from[512], to[512], cmd[1200];
    path_of(from, sizeof from, "s_f8.npz");
    path_of(to, sizeof to, "changing.npz");
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    CHECK(system(cmd) == 0);
    nlsq_source *s = open_spec("changing.npz");
    if (!s) return;
    FILE *f = fopen(to, "ab");
    CHECK(f && fputs("more", f) >= 0);
    if (f) fclose(f);
    double v[10];
    nlsq_error e;
    CHECK_MSG(nlsq_source_read(s, 0, 0, 10, v, &e) == NLSQ_ERR_DATA && strstr(e.message, "changed under the fit"),
              "'%s'", e.message);
    nlsq_source_free(s);
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
    snprintf(tmpdir, sizeof tmpdir, "%s/nlsq-npz-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir);
    setenv("XDG_CACHE_HOME", cache, 1); /* the column caches of deflated members */
    write_files();
    static const test_case tests[] = {
        TEST(test_every_layout_reads_back_exactly),
        TEST(test_deflated_members_go_through_the_column_cache),
        TEST(test_the_same_fit_from_npz_npy_and_csv),
        TEST(test_malformed_archives_give_one_clear_message),
        TEST(test_an_archive_changed_under_the_source_is_caught),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    remove_tmpdir();
    return rc;
}
