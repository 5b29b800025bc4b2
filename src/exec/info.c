/*
 * The public view of the CPU side and of the kernel cache, for front ends
 * (`nlsq devices`, `nlsq cache`): what vmath.c and jit.c know, without
 * their internals.
 */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "jit.h"

void nlsq_cpu_describe(nlsq_cpu_info *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    out->cores = cores > 0 ? (int)cores : 1;
    snprintf(out->vector_math, sizeof out->vector_math, "%s", vmath_select()->name);
    jit_describe(out->compiler, sizeof out->compiler);
}

static nlsq_status kernel_cache_scan(int clear, nlsq_cache_info *out, nlsq_error *err)
{
    error_clear(err);
    if (!out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_kernel_cache_%s: out is NULL", clear ? "clear" : "info");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    char why[600];
    if (jit_cache_scan(clear, out->dir, sizeof out->dir, &out->count, &out->bytes, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s", why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}

nlsq_status nlsq_kernel_cache_info(nlsq_cache_info *out, nlsq_error *err)
{
    return kernel_cache_scan(0, out, err);
}
nlsq_status nlsq_kernel_cache_clear(nlsq_cache_info *out, nlsq_error *err)
{
    return kernel_cache_scan(1, out, err);
}
