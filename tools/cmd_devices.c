/* nlsq devices: what this machine offers nlsq. */
#include <stdio.h>

#include "cli.h"

int cmd_devices(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    int npos, rc = options_parse(command_find("devices"), argc, argv, NULL, NULL, 0, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    nlsq_cpu_info cpu;
    nlsq_cpu_describe(&cpu);
    printf("cpu    %d core%s online; vector math: %s\n", cpu.cores, cpu.cores == 1 ? "" : "s", cpu.vector_math);
    printf("       passes use all of them by default (--threads, NLSQ_THREADS)\n");
    printf("jit    %s\n", cpu.compiler);
    nlsq_device dev[16];
    char why[300];
    int n = 0;
    nlsq_error err;
    if (nlsq_device_list(dev, 16, &n, why, sizeof why, &err) != NLSQ_OK) return die("%s", err.message);
    if (n == 0) printf("gpu    none: %s\n", why);
    for (int k = 0; k < n && k < 16; k++)
        printf("%s %s, %.1f GB, compute capability %d.%d, %d multiprocessors\n", dev[k].name, dev[k].description,
               (double)dev[k].memory / 1e9, dev[k].cc_major, dev[k].cc_minor, dev[k].multiprocessors);
    nlsq_nvrtc_info nv;
    nlsq_nvrtc_describe(&nv);
    if (nv.available)
        printf("nvrtc  %s, version %d.%d: CUDA kernels are compiled at run time\n", nv.path, nv.major, nv.minor);
    else
        printf("nvrtc  none: %s\n", nv.why);
    printf("       --device auto (default: a GPU for large data), cpu, cuda, cuda:N, cuda:all\n");
    return 0;
}
