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

nlsq_status nlsq_kernel_cache_info(nlsq_cache_info *out, nlsq_error *err)
{
    return cache_report("nlsq_kernel_cache_info", jit_cache_scan, 0, out, err);
}

nlsq_status nlsq_kernel_cache_clear(nlsq_cache_info *out, nlsq_error *err)
{
    return cache_report("nlsq_kernel_cache_clear", jit_cache_scan, 1, out, err);
}
