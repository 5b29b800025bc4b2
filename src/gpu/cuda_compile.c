/*
 * CUDA kernels compiled at run time by NVRTC: a cubin for the device's
 * architecture ("sm_90"), or PTX for a virtual one ("compute_90") that the
 * driver compiles when no cubin suits it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"

int cuda_compile(const char *source, const char *arch, int cubin, cuda_image *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    const cuda_nvrtc *nv = cuda_nvrtc_get(why, why_size);
    if (!nv) return -1;
    char arch_opt[40];
    snprintf(arch_opt, sizeof arch_opt, "-arch=%s", arch);
    /* float64 throughout; FMA contraction is allowed (results agree with
       the CPU to rounding, not to the bit) */
    const char *opts[] = {arch_opt, "--std=c++17", "-default-device", "--restrict"};
    nvrtcProgram prog = NULL;
    nvrtcResult r = nv->nvrtcCreateProgram(&prog, source, "nlsq_kernel.cu", 0, NULL, NULL);
    if (r != 0) {
        snprintf(why, why_size, "nvrtcCreateProgram: %s", nv->nvrtcGetErrorString(r));
        return -1;
    }
    r = nv->nvrtcCompileProgram(prog, (int)(sizeof opts / sizeof opts[0]), opts);
    size_t log_size = 0;
    nv->nvrtcGetProgramLogSize(prog, &log_size);
    out->log = malloc(log_size + 1);
    if (out->log) {
        out->log[0] = '\0';
        if (log_size > 1) nv->nvrtcGetProgramLog(prog, out->log);
        out->log[log_size] = '\0';
        /* NVRTC's log ends with a NUL and often a newline: an empty log is
           a compile without warnings */
        size_t n = strlen(out->log);
        while (n && (out->log[n - 1] == '\n' || out->log[n - 1] == ' ')) out->log[--n] = '\0';
    }
    if (r != 0) {
        snprintf(why, why_size, "NVRTC could not compile the kernel (%s): %.300s", nv->nvrtcGetErrorString(r),
                 out->log ? out->log : "");
        nv->nvrtcDestroyProgram(&prog);
        return -1;
    }
    size_t size = 0;
    r = cubin ? nv->nvrtcGetCUBINSize(prog, &size) : nv->nvrtcGetPTXSize(prog, &size);
    out->data = r == 0 ? malloc(size ? size : 1) : NULL;
    if (out->data) r = cubin ? nv->nvrtcGetCUBIN(prog, out->data) : nv->nvrtcGetPTX(prog, out->data);
    nv->nvrtcDestroyProgram(&prog);
    if (!out->data || r != 0) {
        snprintf(why, why_size, "NVRTC gave no %s", cubin ? "cubin" : "PTX");
        cuda_image_free(out);
        return -1;
    }
    out->size = size;
    out->cubin = cubin;
    return 0;
}

void cuda_image_free(cuda_image *img)
{
    free(img->data);
    free(img->log);
    memset(img, 0, sizeof *img);
}
