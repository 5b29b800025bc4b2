/* Facts about the machine the library runs on: the clock, free memory, cores. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

double host_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t host_available_memory(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size : SIZE_MAX;
}

int host_threads(long requested, long most)
{
    long n = requested;
    if (n <= 0) {
        const char *env = getenv("NLSQ_THREADS");
        n = env && atoi(env) > 0 ? atoi(env) : sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (most > 1024 || most < 1) most = 1024;
    if (n > most) n = most;
    return n < 1 ? 1 : (int)n;
}
