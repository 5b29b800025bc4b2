/*
 * The CUDA tier: loading (cuda_load.c), devices (devices.c), run-time
 * compilation (cuda_compile.c). The kernels' source comes from the same
 * code generator as the CPU kernels (src/exec/codegen.c, codegen_cuda).
 */
#ifndef NLSQ_GPU_GPU_H
#define NLSQ_GPU_GPU_H

#include <stddef.h>

#include "cuda_api.h"

/* ---- cuda_compile.c ------------------------------------------------------------ */

typedef struct cuda_image {
    char *data;      /* cubin or PTX (NUL-terminated)      */
    size_t size;
    int cubin;
    char *log;       /* NVRTC's messages; "" when none     */
} cuda_image;

/* Compile `source` for `arch`: "sm_NN" with cubin = 1, "compute_NN" with
   cubin = 0 (PTX). 0, or -1 with the reason (and out->log when NVRTC
   wrote one). */
int cuda_compile(const char *source, const char *arch, int cubin, cuda_image *out, char *why, size_t why_size);
void cuda_image_free(cuda_image *img);

/* ---- devices.c ------------------------------------------------------------------ */

typedef struct cuda_device_info {
    int ordinal;
    char name[128];
    size_t memory;       /* bytes */
    int major, minor;    /* compute capability */
    int multiprocessors;
} cuda_device_info;

/* The devices (up to max), or -1 with the reason there are none usable. */
int cuda_devices(cuda_device_info *out, int max, char *why, size_t why_size);

#endif
