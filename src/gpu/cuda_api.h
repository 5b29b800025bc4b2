/*
 * The part of the CUDA driver API and of NVRTC that nlsq uses, declared
 * here so that building nlsq never needs the CUDA toolkit: the libraries
 * are opened with dlopen at run time (cuda_load.c). The types and values
 * are those of the public documentation of CUDA 12 and 13 (cuda.h,
 * nvrtc.h); only what is used is declared.
 */
#ifndef NLSQ_GPU_CUDA_API_H
#define NLSQ_GPU_CUDA_API_H

#include <stddef.h>

/* ---- driver API ------------------------------------------------------------ */

typedef int CUresult; /* CUDA_SUCCESS = 0 */
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr; /* the _v2 API: 64 bits */

enum {
    NLSQ_CUDA_SUCCESS = 0,
    NLSQ_CUDA_ERROR_NO_DEVICE = 100,
    NLSQ_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    NLSQ_CU_GET_PROC_ADDRESS_DEFAULT = 0,
};

/* The CUDA version whose function signatures we declare (12.0): asking
   cuGetProcAddress for "cuMemAlloc" at this version gives cuMemAlloc_v2. */
#define NLSQ_CUDA_API_VERSION 12000

typedef struct cuda_driver {
    CUresult (*cuInit)(unsigned flags);
    CUresult (*cuDriverGetVersion)(int *version);
    CUresult (*cuGetErrorString)(CUresult error, const char **text);
    CUresult (*cuDeviceGetCount)(int *count);
    CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
    CUresult (*cuDeviceGetName)(char *name, int len, CUdevice device);
    CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);
    CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice device);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
    CUresult (*cuCtxSetCurrent)(CUcontext ctx);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuMemGetInfo)(size_t *free_bytes, size_t *total_bytes);
    CUresult (*cuMemAlloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*cuMemFree)(CUdeviceptr ptr);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*cuMemsetD8)(CUdeviceptr dst, unsigned char value, size_t count);
    CUresult (*cuMemcpyDtoD)(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
    CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
    CUresult (*cuModuleUnload)(CUmodule module);
    CUresult (*cuModuleGetFunction)(CUfunction *fn, CUmodule module, const char *name);
    CUresult (*cuLaunchKernel)(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared_bytes, CUstream stream, void **params, void **extra);
    CUresult (*cuOccupancyMaxActiveBlocksPerMultiprocessor)(int *blocks, CUfunction fn, int block_size,
                                                            size_t dynamic_shared_bytes);
    int version; /* of the driver, e.g. 12040 */
} cuda_driver;

/* ---- NVRTC ------------------------------------------------------------------ */

typedef int nvrtcResult; /* NVRTC_SUCCESS = 0 */
typedef struct _nvrtcProgram *nvrtcProgram;

typedef struct cuda_nvrtc {
    nvrtcResult (*nvrtcVersion)(int *major, int *minor);
    const char *(*nvrtcGetErrorString)(nvrtcResult result);
    nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *prog, const char *src, const char *name, int nheaders,
                                      const char *const *headers, const char *const *include_names);
    nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram prog, int noptions, const char *const *options);
    nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram prog, char *log);
    nvrtcResult (*nvrtcGetPTXSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*nvrtcGetPTX)(nvrtcProgram prog, char *ptx);
    nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram prog, size_t *size);
    nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram prog, char *cubin);
    nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *prog);
    int major, minor;
    char path[64]; /* the library that was opened */
} cuda_nvrtc;

/* ---- cuda_load.c ------------------------------------------------------------- */

/* The driver API, loaded and initialised once per process (the libraries
   are process-wide; the tables are written once and then only read), or
   NULL with the reason in why ("no NVIDIA driver: libcuda.so.1 not
   found", "cuInit: no CUDA-capable device", ...). */
const cuda_driver *cuda_driver_get(char *why, size_t why_size);
/* NVRTC (libnvrtc.so.13, .12, or libnvrtc.so), or NULL with the reason. */
const cuda_nvrtc *cuda_nvrtc_get(char *why, size_t why_size);
/* "CUDA_ERROR_OUT_OF_MEMORY: out of memory" for a driver result. */
void cuda_error_text(const cuda_driver *d, CUresult r, char *buf, size_t size);
/* The device's primary context, retained on first use and kept for the
   life of the process (see cuda_load.c); NULL with *result on failure. */
CUcontext cuda_primary_context(const cuda_driver *d, CUdevice dev, CUresult *result);
/* Whether this process holds the device's primary context already. */
int cuda_context_exists(CUdevice dev);

#endif
