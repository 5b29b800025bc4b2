/*
 * Loading CUDA at run time. libcuda.so.1 (the driver, present only where
 * an NVIDIA driver is installed) and NVRTC are opened with dlopen on first
 * use. Driver functions are resolved through cuGetProcAddress at the API
 * version whose signatures cuda_api.h declares, so that "cuMemAlloc"
 * resolves to cuMemAlloc_v2 and per-thread-stream variants are not picked
 * by accident; a driver too old to have cuGetProcAddress (before 11.3) is
 * refused with that reason.
 *
 * The loaded tables are process-wide, as the libraries are: filled once
 * under pthread_once and only read afterwards.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cuda_api.h"

typedef CUresult (*get_proc_v2_fn)(const char *symbol, void **pfn, int version, unsigned long long flags, int *status);
typedef CUresult (*get_proc_v1_fn)(const char *symbol, void **pfn, int version, unsigned long long flags);

static struct {
    pthread_once_t once;
    cuda_driver d;
    int ok;
    char why[200];
} driver = {PTHREAD_ONCE_INIT, {0}, 0, ""};

static struct {
    pthread_once_t once;
    cuda_nvrtc n;
    int ok;
    char why[200];
} nvrtc = {PTHREAD_ONCE_INIT, {0}, 0, ""};

typedef struct proc_name {
    const char *name;
    size_t offset;
} proc_name;

#define DRIVER_FN(f) \
    { \
#f, offsetof(cuda_driver, f) \
    }
static const proc_name DRIVER_FNS[] = {
    DRIVER_FN(cuInit),
    DRIVER_FN(cuDriverGetVersion),
    DRIVER_FN(cuGetErrorString),
    DRIVER_FN(cuDeviceGetCount),
    DRIVER_FN(cuDeviceGet),
    DRIVER_FN(cuDeviceGetName),
    DRIVER_FN(cuDeviceTotalMem),
    DRIVER_FN(cuDeviceGetAttribute),
    DRIVER_FN(cuDevicePrimaryCtxRetain),
    DRIVER_FN(cuDevicePrimaryCtxRelease),
    DRIVER_FN(cuCtxSetCurrent),
    DRIVER_FN(cuCtxSynchronize),
    DRIVER_FN(cuMemGetInfo),
    DRIVER_FN(cuMemAlloc),
    DRIVER_FN(cuMemFree),
    DRIVER_FN(cuMemcpyHtoD),
    DRIVER_FN(cuMemcpyDtoH),
    DRIVER_FN(cuMemsetD8),
    DRIVER_FN(cuMemcpyDtoD),
    DRIVER_FN(cuModuleLoadData),
    DRIVER_FN(cuModuleUnload),
    DRIVER_FN(cuModuleGetFunction),
    DRIVER_FN(cuLaunchKernel),
    DRIVER_FN(cuOccupancyMaxActiveBlocksPerMultiprocessor),
};

#define NVRTC_FN(f) \
    { \
#f, offsetof(cuda_nvrtc, f) \
    }
static const proc_name NVRTC_FNS[] = {
    NVRTC_FN(nvrtcVersion),           NVRTC_FN(nvrtcGetErrorString),
    NVRTC_FN(nvrtcCreateProgram),     NVRTC_FN(nvrtcCompileProgram),
    NVRTC_FN(nvrtcGetProgramLogSize), NVRTC_FN(nvrtcGetProgramLog),
    NVRTC_FN(nvrtcGetPTXSize),        NVRTC_FN(nvrtcGetPTX),
    NVRTC_FN(nvrtcGetCUBINSize),      NVRTC_FN(nvrtcGetCUBIN),
    NVRTC_FN(nvrtcDestroyProgram),
};

static void set_slot(void *table, size_t offset, void *fn)
{
    memcpy((char *)table + offset, &fn, sizeof fn);
}

static void load_driver(void)
{
    /* NLSQ_CUDA_DRIVER names another library (tests use a missing one) */
    const char *name = getenv("NLSQ_CUDA_DRIVER") ? getenv("NLSQ_CUDA_DRIVER") : "libcuda.so.1";
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(driver.why, sizeof driver.why, "no NVIDIA driver: %s cannot be opened", name);
        return;
    }
    void *v2 = dlsym(h, "cuGetProcAddress_v2"), *v1 = dlsym(h, "cuGetProcAddress");
    if (!v2 && !v1) {
        snprintf(driver.why, sizeof driver.why, "the NVIDIA driver is older than CUDA 11.3 (no cuGetProcAddress)");
        return;
    }
    for (size_t k = 0; k < sizeof DRIVER_FNS / sizeof DRIVER_FNS[0]; k++) {
        void *fn = NULL;
        int status = 0;
        CUresult r;
        if (v2) {
            get_proc_v2_fn get;
            memcpy(&get, &v2, sizeof get);
            r = get(DRIVER_FNS[k].name, &fn, NLSQ_CUDA_API_VERSION, NLSQ_CU_GET_PROC_ADDRESS_DEFAULT, &status);
        } else {
            get_proc_v1_fn get;
            memcpy(&get, &v1, sizeof get);
            r = get(DRIVER_FNS[k].name, &fn, NLSQ_CUDA_API_VERSION, NLSQ_CU_GET_PROC_ADDRESS_DEFAULT);
        }
        if (r != NLSQ_CUDA_SUCCESS || !fn) {
            snprintf(driver.why, sizeof driver.why, "the NVIDIA driver lacks %s (CUDA 12 API)", DRIVER_FNS[k].name);
            return;
        }
        set_slot(&driver.d, DRIVER_FNS[k].offset, fn);
    }
    CUresult r = driver.d.cuInit(0);
    if (r != NLSQ_CUDA_SUCCESS) {
        char text[120];
        cuda_error_text(&driver.d, r, text, sizeof text);
        snprintf(driver.why, sizeof driver.why, "cuInit failed: %s", text);
        return;
    }
    driver.d.cuDriverGetVersion(&driver.d.version);
    driver.ok = 1; /* the handle stays open for the process's life */
}

static void load_nvrtc(void)
{
    static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    void *h = NULL;
    const char *env = getenv("NLSQ_NVRTC");
    if (env) {
        h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        snprintf(nvrtc.n.path, sizeof nvrtc.n.path, "%s", env);
    }
    for (size_t k = 0; !env && !h && k < sizeof names / sizeof names[0]; k++) {
        h = dlopen(names[k], RTLD_NOW | RTLD_LOCAL);
        snprintf(nvrtc.n.path, sizeof nvrtc.n.path, "%s", names[k]);
    }
    if (!h) {
        snprintf(nvrtc.why, sizeof nvrtc.why, "no NVRTC: %s cannot be opened", env ? env : "libnvrtc.so.13 or .12");
        return;
    }
    for (size_t k = 0; k < sizeof NVRTC_FNS / sizeof NVRTC_FNS[0]; k++) {
        void *fn = dlsym(h, NVRTC_FNS[k].name);
        if (!fn) {
            snprintf(nvrtc.why, sizeof nvrtc.why, "%s lacks %s", nvrtc.n.path, NVRTC_FNS[k].name);
            return;
        }
        set_slot(&nvrtc.n, NVRTC_FNS[k].offset, fn);
    }
    nvrtc.n.nvrtcVersion(&nvrtc.n.major, &nvrtc.n.minor);
    nvrtc.ok = 1;
}

const cuda_driver *cuda_driver_get(char *why, size_t why_size)
{
    pthread_once(&driver.once, load_driver);
    if (!driver.ok && why) snprintf(why, why_size, "%s", driver.why);
    return driver.ok ? &driver.d : NULL;
}

const cuda_nvrtc *cuda_nvrtc_get(char *why, size_t why_size)
{
    pthread_once(&nvrtc.once, load_nvrtc);
    if (!nvrtc.ok && why) snprintf(why, why_size, "%s", nvrtc.why);
    return nvrtc.ok ? &nvrtc.n : NULL;
}

void cuda_error_text(const cuda_driver *d, CUresult r, char *buf, size_t size)
{
    const char *text = NULL;
    if (d && d->cuGetErrorString) d->cuGetErrorString(r, &text);
    snprintf(buf, size, "CUDA error %d%s%s", r, text ? ": " : "", text ? text : "");
}

/*
 * The primary context of a device, retained once for the life of the
 * process. Releasing it after every fit would destroy it (the count drops
 * to zero) and the next fit would pay for a new one, tens to hundreds of
 * milliseconds — more than a whole fit of 10^7 points. The CUDA runtime
 * keeps its contexts the same way.
 */
static struct {
    pthread_mutex_t lock;
    CUcontext ctx[64];
} contexts = {PTHREAD_MUTEX_INITIALIZER, {0}};

int cuda_context_exists(CUdevice dev)
{
    if (dev < 0 || dev >= 64) return 0;
    pthread_mutex_lock(&contexts.lock);
    int exists = contexts.ctx[dev] != NULL;
    pthread_mutex_unlock(&contexts.lock);
    return exists;
}

CUcontext cuda_primary_context(const cuda_driver *d, CUdevice dev, CUresult *result)
{
    *result = NLSQ_CUDA_SUCCESS;
    if (dev < 0 || dev >= 64) {
        *result = 101; /* CUDA_ERROR_INVALID_DEVICE */
        return NULL;
    }
    pthread_mutex_lock(&contexts.lock);
    if (!contexts.ctx[dev]) {
        CUcontext c = NULL;
        *result = d->cuDevicePrimaryCtxRetain(&c, dev);
        if (*result == NLSQ_CUDA_SUCCESS) contexts.ctx[dev] = c;
    }
    CUcontext c = contexts.ctx[dev];
    pthread_mutex_unlock(&contexts.lock);
    return c;
}
