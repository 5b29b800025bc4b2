/*
 * bench/latency: what the first call costs.
 *   - compile: generating, compiling and loading each reference model's
 *     kernel into an empty cache (best of 3, each in a new cache);
 *   - cache hit: a new model of the same text finding and loading it
 *     (hash, stat, dlopen, checks; best of 20);
 *   - a whole 100-point fit in a fresh process: `nlsq fit` started with
 *     posix_spawn on a 100-point file, until it exits (best of 20), with
 *     the kernel cached, and with the interpreter only.
 *
 *   bench_latency PATH/TO/nlsq
 */
#define _GNU_SOURCE
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/exec.h"
#include "exec/jit.h"
#include "nlsq.h"

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static const struct {
    const char *name, *text, *vars;
} MODELS[] = {
    {"exponential decay", "a*exp(-b*x) + c", "x"},
    {"gaussian + linear", "A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x"},
    {"2-D gaussian", "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B", "x,y"},
    {"3 gaussians + c", "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c",
     "x"},
};

static int width(void)
{
    const vmath *wide = vmath_avx2();
    return wide && vmath_select() == wide ? 4 : 1;
}

/* Seconds to get the kernel of `text` (compiled or loaded), and whether
   it came from the cache. */
static double kernel_time(const char *text, const char *vars, int *from_cache)
{
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = vars;
    nlsq_model *m = NULL;
    if (nlsq_model_parse(text, &o, &m, NULL) != NLSQ_OK) exit(1);
    int cols[16];
    for (int j = 0; j < m->params.count; j++) cols[j] = j;
    double t0 = now();
    jit_entry *e = jit_get(m, cols, m->params.count, width(), JIT_WAIT);
    double t = now() - t0;
    if (!jit_kernel_ready(e)) {
        printf("no kernel: %s\n", e ? e->note : "out of memory");
        exit(1);
    }
    *from_cache = e->from_cache;
    nlsq_model_free(m);
    return t;
}

static double spawn_time(char *const argv[])
{
    double t0 = now();
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1 /* O_WRONLY */, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) exit(1);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    waitpid(pid, &status, 0);
    double t = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s exited with status %d\n", argv[0], status);
        exit(1);
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_latency PATH/TO/nlsq\n");
        return 2;
    }
    char root[] = "/tmp/nlsq-latency-XXXXXX";
    if (!mkdtemp(root)) return 1;
    char cache[128];
    printf("bench_latency: compiler %s\n\n", getenv("NLSQ_CC") ? getenv("NLSQ_CC") : "cc");
    printf("%-18s | %12s | %14s\n", "model", "compile ms", "cache hit ms");
    for (size_t k = 0; k < sizeof MODELS / sizeof MODELS[0]; k++) {
        double best_compile = INFINITY, best_hit = INFINITY;
        for (int rep = 0; rep < 3; rep++) {
            snprintf(cache, sizeof cache, "%s/c%zu-%d", root, k, rep);
            setenv("XDG_CACHE_HOME", cache, 1);
            int from_cache;
            best_compile = fmin(best_compile, kernel_time(MODELS[k].text, MODELS[k].vars, &from_cache));
            if (from_cache) return 1;
        }
        for (int rep = 0; rep < 20; rep++) {
            int from_cache;
            best_hit = fmin(best_hit, kernel_time(MODELS[k].text, MODELS[k].vars, &from_cache));
            if (!from_cache) return 1;
        }
        printf("%-18s | %12.1f | %14.3f\n", MODELS[k].name, 1e3 * best_compile, 1e3 * best_hit);
    }

    /* a 100-point file, and the whole command in a fresh process */
    char data[160];
    snprintf(data, sizeof data, "%s/decay100.csv", root);
    FILE *f = fopen(data, "w");
    if (!f) return 1;
    fprintf(f, "x,y\n");
    for (int i = 0; i < 100; i++) {
        double x = 0.05 * i;
        fprintf(f, "%.17g,%.17g\n", x, 2.5 * exp(-1.3 * x) + 0.5 + 0.01 * sin(37.0 * i));
    }
    fclose(f);
    snprintf(cache, sizeof cache, "%s/cli", root);
    setenv("XDG_CACHE_HOME", cache, 1);
    char *jit_argv[] = {argv[1], "fit", data, "--model", "a*exp(-b*x) + c", "--backend", "jit", NULL};
    char *auto_argv[] = {argv[1], "fit", data, "--model", "a*exp(-b*x) + c", NULL};
    char *interp_argv[] = {argv[1], "fit", data, "--model", "a*exp(-b*x) + c", "--backend", "interp", NULL};
    double first = spawn_time(jit_argv); /* compiles into the empty cache */
    double t_auto = INFINITY, t_interp = INFINITY, t_jit = INFINITY;
    for (int rep = 0; rep < 20; rep++) {
        t_auto = fmin(t_auto, spawn_time(auto_argv));
        t_interp = fmin(t_interp, spawn_time(interp_argv));
        t_jit = fmin(t_jit, spawn_time(jit_argv));
    }
    printf("\n100-point fit of the exponential decay, `nlsq fit` in a fresh process (best of 20):\n");
    printf("  default (auto: the interpreter for so few points)  %7.1f ms\n", 1e3 * t_auto);
    printf("  --backend interp                                   %7.1f ms\n", 1e3 * t_interp);
    printf("  --backend jit, kernel in the cache                 %7.1f ms\n", 1e3 * t_jit);
    printf("  first run, compiling (--backend jit, empty cache) %7.1f ms\n", 1e3 * first);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}
