/*
 * A fit over 10^8 points from a file in constant memory: the test writes
 * x and y (1.6 GB) to a temporary .npy window by window, fits it from the
 * mapped file, and reads the process's peak resident memory (VmHWM) from
 * /proc/self/status, which counts mapped file pages too: it must stay
 * below 200 MB. NLSQ_TEST_LARGE_POINTS overrides the size.
 */
#define _GNU_SOURCE
#include <math.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "nlsq.h"

static size_t points = 100000000;
static char dir[256];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* VmHWM in kB, or -1. */
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

static double truth(double x)
{
    return 2.5 * exp(-1.3 * x) + 0.5;
}

/* Rows of x then y (Fortran order), written a window at a time; the noise
   is deterministic, so the fit is the same on every machine. */
static int write_file(const char *path, size_t m)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f8', 'fortran_order': True, 'shape': (%zu, 2), }", m);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 10 + n; i < 127; i++) fputc(' ', f);
    fputc('\n', f);
    enum { WIN = 1 << 16 };
    static double buf[WIN];
    for (int col = 0; col < 2; col++) {
        rng r = {0x1234567ULL};
        for (size_t first = 0; first < m; first += WIN) {
            size_t len = m - first < WIN ? m - first : WIN;
            for (size_t i = 0; i < len; i++) {
                double x = 10.0 * (double)(first + i) / (double)m;
                double noise = 0.05 * (rng_uniform(&r) - 0.5);
                buf[i] = col == 0 ? x : truth(x) + noise;
            }
            if (fwrite(buf, sizeof(double), len, f) != len) {
                fclose(f);
                return -1;
            }
        }
    }
    return fclose(f);
}

static void test_hundred_million_points_in_constant_memory(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/points.npy", dir);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0 && (double)vfs.f_bavail * (double)vfs.f_frsize < 16.0 * (double)points + 1e9) {
        test_skip("not enough free disk space for the data file");
        return;
    }
    double t0 = now();
    if (write_file(path, points) != 0) {
        CHECK_MSG(0, "cannot write %s", path);
        unlink(path);
        return;
    }
    double t1 = now();
    nlsq_model *m = NULL;
    nlsq_source *src = NULL;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e) == NLSQ_OK);
    CHECK(nlsq_source_open_npy(path, &src, &e) == NLSQ_OK);
    nlsq_options o = nlsq_options_default();
    static const double p0[3] = {2, 1, 0};
    o.p0 = p0;
    if (m && src) CHECK_MSG(nlsq_fit_source(m, src, NULL, &o, &r, &e) == NLSQ_OK, "%s", e.message);
    double t2 = now();
    long kb = peak_rss_kb();
    if (r) {
        printf(
            "    %zu points: file written in %.1f s, fitted in %.1f s (%d passes, %d compiled, %s), peak RSS %.1f MB\n",
            points, t1 - t0, t2 - t1, r->passes, r->jit_passes, r->backend, kb / 1024.0);
        CHECK(r->success && r->m == points);
        /* the noise is uniform on +-0.025: the parameters are known to ~1e-5 */
        CHECK_NEAR(r->popt[0], 2.5, 1e-3, "a");
        CHECK_NEAR(r->popt[1], 1.3, 1e-3, "b");
        CHECK_NEAR(r->popt[2], 0.5, 1e-3, "c");
        CHECK_MSG(r->perr[1] > 0 && r->perr[1] < 1e-4, "stderr of b %g", r->perr[1]);
    }
    CHECK_MSG(kb > 0 && kb < 200 * 1024, "peak resident memory %ld kB, the limit is 200 MB", kb);
    nlsq_result_free(r);
    nlsq_source_free(src);
    nlsq_model_free(m);
    unlink(path);
}

int main(void)
{
    const char *env = getenv("NLSQ_TEST_LARGE_POINTS");
    if (env && atoll(env) > 0) points = (size_t)atoll(env);
    snprintf(dir, sizeof dir, "%s/nlsq-large-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    static const test_case tests[] = {TEST(test_hundred_million_points_in_constant_memory)};
    int rc = run_tests(tests, 1);
    rmdir(dir);
    return rc;
}
