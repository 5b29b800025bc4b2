/*
 * A CUDA driver for machines without a GPU, for tests only: one emulated
 * device whose memory is host memory and whose kernels run on the CPU.
 * With NLSQ_CUDA_DRIVER naming this library and NLSQ_NVRTC naming
 * fake_nvrtc, everything nlsq does for a GPU runs for real — loading by
 * cuGetProcAddress, compiling (the "cubin" is the CUDA source), caching,
 * uploading, launching, merging the blocks' triangles — except that the
 * kernel is the generated CUDA source compiled by the system C++ compiler
 * against a small shim: __shared__ variables become statics (one block
 * runs at a time), each of the block's threads is a coroutine
 * (ucontext), scheduled warp by warp so that shuffles, __syncwarp and
 * __syncthreads mean what they mean on the GPU (see SHIM_SCHED).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

/* the one exported entry point: everything else is found through it */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags, int *status);

static const char SHIM_PRE[] =
    "#include <cmath>\n#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n#include <ucontext.h>\n"
    "using namespace std;\n"
    "#define __global__\n#define __device__\n#define __forceinline__ inline\n#define __restrict__ __restrict\n"
    "#define __launch_bounds__(n)\n#define __shared__ static\n"
    "struct emu_dim { unsigned x, y, z; };\n"
    "static emu_dim threadIdx, blockIdx, blockDim;\n"
    "enum { EMU_RUN, EMU_WARP, EMU_BLOCK, EMU_DONE };\n"
    "static ucontext_t emu_scheduler, emu_ctx[1024];\n"
    "static int emu_state[1024];\n"
    "static void emu_yield(int why) { emu_state[threadIdx.x] = why; swapcontext(&emu_ctx[threadIdx.x], &emu_scheduler); }\n"
    "static void __syncthreads() { emu_yield(EMU_BLOCK); }\n"
    "static void __syncwarp(unsigned = 0xffffffffu) { emu_yield(EMU_WARP); }\n"
    "static double emu_lanes[1024];\n"
    "static double __shfl_down_sync(unsigned, double v, int off) {\n"
    "    emu_lanes[threadIdx.x] = v; emu_yield(EMU_WARP);\n"
    "    double r = (threadIdx.x & 31) + off < 32 ? emu_lanes[threadIdx.x + off] : v;\n"
    "    emu_yield(EMU_WARP); return r;\n}\n"
    "static double __shfl_sync(unsigned, double v, int src) {\n"
    "    emu_lanes[threadIdx.x] = v; emu_yield(EMU_WARP);\n"
    "    double r = emu_lanes[(threadIdx.x & ~31u) + (unsigned)src];\n"
    "    emu_yield(EMU_WARP); return r;\n}\n";

/* Each thread of a block is a coroutine on its own stack. A warp's lanes
   run in turn up to their next warp-level step (a shuffle, __syncwarp),
   which is then complete for all of them, until each reaches
   __syncthreads or returns; when every warp is there, the block barrier
   is passed. Lanes of a warp that disagree on where they are (divergent
   shuffles) or a barrier that not all threads reach stop the program:
   the real GPU would hang or give garbage. */
static const char SHIM_SCHED[] =
    "\nstatic void (*emu_body)(void);\n"
    "static void emu_thread(void) {\n"
    "    emu_body();\n"
    "    emu_state[threadIdx.x] = EMU_DONE;\n"
    "}\n"
    "static void emu_fail(const char *what) { fprintf(stderr, \"CUDA emulator: %s\\n\", what); abort(); }\n"
    "static void emu_run_warp(unsigned w, unsigned threads) {\n"
    "    unsigned lo = 32 * w, hi = lo + 32 < threads ? lo + 32 : threads;\n"
    "    for (;;) {\n"
    "        for (unsigned t = lo; t < hi; t++) {\n"
    "            if (emu_state[t] != EMU_RUN) continue;\n"
    "            threadIdx = {t, 0, 0};\n"
    "            swapcontext(&emu_scheduler, &emu_ctx[t]);\n"
    "        }\n"
    "        unsigned at_warp = 0;\n"
    "        for (unsigned t = lo; t < hi; t++) at_warp += emu_state[t] == EMU_WARP;\n"
    "        if (at_warp == 0) return;\n"
    "        if (at_warp != hi - lo) emu_fail(\"the lanes of a warp diverged at a shuffle or __syncwarp\");\n"
    "        for (unsigned t = lo; t < hi; t++) emu_state[t] = EMU_RUN;\n"
    "    }\n"
    "}\n"
    "static int emu_launch(unsigned blocks, unsigned threads, void (*body)(void)) {\n"
    "    enum { STACK = 1 << 16 };\n"
    "    if (threads > 1024) return 1;\n"
    "    char *stacks = (char *)malloc((size_t)threads * STACK);\n"
    "    if (!stacks) return 1;\n"
    "    emu_body = body;\n"
    "    blockDim = {threads, 1, 1};\n"
    "    for (unsigned b = 0; b < blocks; b++) {\n"
    "        blockIdx = {b, 0, 0};\n"
    "        for (unsigned t = 0; t < threads; t++) {\n"
    "            getcontext(&emu_ctx[t]);\n"
    "            emu_ctx[t].uc_stack.ss_sp = stacks + (size_t)t * STACK;\n"
    "            emu_ctx[t].uc_stack.ss_size = STACK;\n"
    "            emu_ctx[t].uc_link = &emu_scheduler;\n"
    "            makecontext(&emu_ctx[t], emu_thread, 0);\n"
    "            emu_state[t] = EMU_RUN;\n"
    "        }\n"
    "        for (;;) {\n"
    "            for (unsigned w = 0; 32 * w < threads; w++) emu_run_warp(w, threads);\n"
    "            unsigned done = 0;\n"
    "            for (unsigned t = 0; t < threads; t++) done += emu_state[t] == EMU_DONE;\n"
    "            if (done == threads) break;\n"
    "            if (done) emu_fail(\"__syncthreads not reached by every thread of the block\");\n"
    "            for (unsigned t = 0; t < threads; t++) emu_state[t] = EMU_RUN;\n"
    "        }\n"
    "    }\n"
    "    free(stacks);\n"
    "    return 0;\n}\n";

/* The pass kernel's entry (cuda_kernel.cu). */
static const char SHIM_PASS[] =
    "static void **emu_params;\n"
    "static void emu_pass_body(void) {\n"
    "    void **q = emu_params;\n"
    "    nlsq_pass(*(const double **)q[0], *(const NLSQ_DATA **)q[1], *(unsigned long long *)q[2],\n"
    "              *(const NLSQ_DATA **)q[3], *(const NLSQ_DATA **)q[4], *(double *)q[5], *(unsigned long long *)q[6],\n"
    "              *(unsigned long long *)q[7], *(int *)q[8], *(double *)q[9], *(int *)q[10], *(double **)q[11],\n"
    "              *(double **)q[12], *(double **)q[13]);\n"
    "}\n"
    "extern \"C\" int emu_nlsq_pass(unsigned blocks, unsigned threads, void **q) {\n"
    "    emu_params = q;\n"
    "    return emu_launch(blocks, threads, emu_pass_body);\n}\n";

/* The batch kernels' entries (cuda_batch.cu): a thread a fit, a warp a fit. */
static const char SHIM_BATCH[] =
    "static const nlsq_batch_args *emu_args;\n"
    "static void emu_batch_body(void) { nlsq_batch(emu_args); }\n"
    "static void emu_batch_warp_body(void) { nlsq_batch_warp(emu_args); }\n"
    "extern \"C\" int emu_nlsq_batch(unsigned blocks, unsigned threads, void **q) {\n"
    "    emu_args = *(const nlsq_batch_args **)q[0];\n"
    "    return emu_launch(blocks, threads, emu_batch_body);\n}\n"
    "extern \"C\" int emu_nlsq_batch_warp(unsigned blocks, unsigned threads, void **q) {\n"
    "    emu_args = *(const nlsq_batch_args **)q[0];\n"
    "    return emu_launch(blocks, threads, emu_batch_warp_body);\n}\n";

static CUresult cuInit(unsigned flags) { (void)flags; return 0; }
static CUresult cuDriverGetVersion(int *v) { *v = 12000; return 0; }
static CUresult cuGetErrorString(CUresult r, const char **s) { *s = r ? "emulated failure" : "no error"; return 0; }
/* NLSQ_EMU_DEVICES (default 1) emulated devices, sharing host memory */
static int device_count(void)
{
    const char *s = getenv("NLSQ_EMU_DEVICES");
    int n = s ? atoi(s) : 1;
    return n >= 1 && n <= 16 ? n : 1;
}

static CUresult cuDeviceGetCount(int *n) { *n = device_count(); return 0; }
static CUresult cuDeviceGet(int *d, int k) { *d = k; return k >= 0 && k < device_count() ? 0 : 101; }

static CUresult cuDeviceGetName(char *name, int len, int d)
{
    (void)d;
    snprintf(name, (size_t)len, "nlsq emulated GPU");
    return 0;
}

/* NLSQ_EMU_MEMORY bytes of device memory (default 4 GiB): small values
   make data too large for the device, to test streaming */
static size_t device_memory(void)
{
    const char *s = getenv("NLSQ_EMU_MEMORY");
    long long v = s ? atoll(s) : 0;
    return v > 0 ? (size_t)v : (size_t)4 << 30;
}

static CUresult cuDeviceTotalMem(size_t *b, int d) { (void)d; *b = device_memory(); return 0; }

static CUresult cuDeviceGetAttribute(int *v, int attr, int d)
{
    (void)d;
    *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 2 : 0; /* two multiprocessors: few blocks to emulate */
    return 0;
}

static CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { *ctx = (void *)(intptr_t)(d + 1); return 0; }
static CUresult cuDevicePrimaryCtxRelease(int d) { (void)d; return 0; }
static CUresult cuCtxSetCurrent(void *ctx) { (void)ctx; return 0; }
static CUresult cuCtxSynchronize(void) { return 0; }
static CUresult cuMemGetInfo(size_t *f, size_t *t) { *f = *t = device_memory(); return 0; }

static CUresult cuMemAlloc(CUdeviceptr *p, size_t bytes)
{
    void *m = calloc(1, bytes ? bytes : 1);
    *p = (CUdeviceptr)(uintptr_t)m;
    return m ? 0 : 2;
}

static CUresult cuMemFree(CUdeviceptr p) { free((void *)(uintptr_t)p); return 0; }
static CUresult cuMemcpyHtoD(CUdeviceptr d, const void *s, size_t n) { memcpy((void *)(uintptr_t)d, s, n); return 0; }
static CUresult cuMemcpyDtoH(void *d, CUdeviceptr s, size_t n) { memcpy(d, (void *)(uintptr_t)s, n); return 0; }

static CUresult cuMemcpyDtoD(CUdeviceptr d, CUdeviceptr s, size_t n)
{
    memcpy((void *)(uintptr_t)d, (void *)(uintptr_t)s, n);
    return 0;
}

static CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) { memset((void *)(uintptr_t)d, v, n); return 0; }

/* The "image" is CUDA source: build it for the CPU with the shim. */
static CUresult cuModuleLoadData(void **module, const void *image)
{
    char dir[] = "/tmp/nlsq-emu-XXXXXX";
    if (!mkdtemp(dir)) return 200;
    char src[128], so[128], cmd[512];
    snprintf(src, sizeof src, "%s/kernel.cpp", dir);
    snprintf(so, sizeof so, "%s/kernel.so", dir);
    FILE *f = fopen(src, "w");
    if (!f) return 200;
    fputs(SHIM_PRE, f);
    fputs((const char *)image, f);
    fputs(SHIM_SCHED, f);
    fputs(strstr((const char *)image, "void nlsq_batch(") ? SHIM_BATCH : SHIM_PASS, f);
    fclose(f);
    const char *cxx = getenv("NLSQ_EMU_CXX") ? getenv("NLSQ_EMU_CXX") : "c++";
    snprintf(cmd, sizeof cmd, "%s -std=c++17 -O1 -w -fPIC -shared -o %s %s", cxx, so, src);
    int rc = system(cmd);
    void *h = rc == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
    unlink(src);
    unlink(so);
    rmdir(dir);
    if (!h) return 200; /* CUDA_ERROR_INVALID_IMAGE */
    *module = h;
    return 0;
}

static CUresult cuModuleUnload(void *module) { dlclose(module); return 0; }

static CUresult cuModuleGetFunction(void **fn, void *module, const char *name)
{
    char emu[128];
    snprintf(emu, sizeof emu, "emu_%s", name);
    *fn = dlsym(module, emu);
    return *fn ? 0 : 500;
}

typedef int (*emu_launch_fn)(unsigned blocks, unsigned threads, void **params);

static CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                               unsigned shared, void *stream, void **params, void **extra)
{
    (void)shared, (void)stream, (void)extra;
    if (gy != 1 || gz != 1 || by != 1 || bz != 1) return 1;
    emu_launch_fn launch;
    memcpy(&launch, &fn, sizeof launch);
    return launch(gx, bx, params) ? 719 : 0;
}

static CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *blocks, void *fn, int size, size_t shared)
{
    (void)fn, (void)size, (void)shared;
    *blocks = 2;
    return 0;
}

#define ENTRY(f) {#f, (void *)f}
static const struct {
    const char *name;
    void *fn;
} TABLE[] = {
    ENTRY(cuInit), ENTRY(cuDriverGetVersion), ENTRY(cuGetErrorString), ENTRY(cuDeviceGetCount), ENTRY(cuDeviceGet),
    ENTRY(cuDeviceGetName), ENTRY(cuDeviceTotalMem), ENTRY(cuDeviceGetAttribute), ENTRY(cuDevicePrimaryCtxRetain),
    ENTRY(cuDevicePrimaryCtxRelease), ENTRY(cuCtxSetCurrent), ENTRY(cuCtxSynchronize), ENTRY(cuMemGetInfo),
    ENTRY(cuMemAlloc), ENTRY(cuMemFree), ENTRY(cuMemcpyHtoD), ENTRY(cuMemcpyDtoH), ENTRY(cuMemcpyDtoD),
    ENTRY(cuMemsetD8), ENTRY(cuModuleLoadData), ENTRY(cuModuleUnload), ENTRY(cuModuleGetFunction),
    ENTRY(cuLaunchKernel), ENTRY(cuOccupancyMaxActiveBlocksPerMultiprocessor),
};

CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags, int *status)
{
    (void)version, (void)flags;
    if (status) *status = 0;
    for (size_t k = 0; k < sizeof TABLE / sizeof TABLE[0]; k++)
        if (strcmp(TABLE[k].name, symbol) == 0) {
            *pfn = TABLE[k].fn;
            return 0;
        }
    *pfn = NULL;
    return 500;
}
