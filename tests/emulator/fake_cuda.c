/*
 * A CUDA driver for machines without a GPU, for tests only: one emulated
 * device whose memory is host memory and whose kernels run on the CPU.
 * With NLSQ_CUDA_DRIVER naming this library and NLSQ_NVRTC naming
 * fake_nvrtc, everything nlsq does for a GPU runs for real — loading by
 * cuGetProcAddress, compiling (the "cubin" is the CUDA source), caching,
 * uploading, launching, merging the blocks' triangles — except that the
 * kernel is the generated CUDA source compiled by the system C++ compiler
 * against a small shim: __shared__ variables become statics (one block
 * runs at a time), each of the block's threads is a coroutine (a
 * register switch on x86-64, ucontext elsewhere), scheduled warp by warp
 * so that shuffles, __syncwarp and __syncthreads mean what they mean on
 * the GPU (see SHIM_SCHED). Built kernels are cached on disk, shared by
 * the test processes (cache_dir).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    "static int emu_state[1024];\n"
    /* On x86-64 a switch saves the callee-saved registers on the stack it
       leaves: swapcontext would also save and restore the signal mask,
       a system call at each of the millions of switches of a test run. */
    "#if defined(__x86_64__)\n"
    "extern \"C\" __attribute__((visibility(\"hidden\"))) void emu_switch(void **save, void *to);\n"
    "asm(\".text\\n.globl emu_switch\\n.hidden emu_switch\\n.type emu_switch, @function\\nemu_switch:\\n\"\n"
    "    \"pushq %rbp\\npushq %rbx\\npushq %r12\\npushq %r13\\npushq %r14\\npushq %r15\\n\"\n"
    "    \"movq %rsp, (%rdi)\\nmovq %rsi, %rsp\\n\"\n"
    "    \"popq %r15\\npopq %r14\\npopq %r13\\npopq %r12\\npopq %rbx\\npopq %rbp\\nret\\n\"\n"
    "    \".size emu_switch, . - emu_switch\\n\");\n"
    "static void *emu_sp[1024], *emu_scheduler_sp;\n"
    "#define EMU_TO_THREAD(t) emu_switch(&emu_scheduler_sp, emu_sp[t])\n"
    "#define EMU_TO_SCHEDULER(t) emu_switch(&emu_sp[t], emu_scheduler_sp)\n"
    "#else\n"
    "static ucontext_t emu_scheduler, emu_ctx[1024];\n"
    "#define EMU_TO_THREAD(t) swapcontext(&emu_scheduler, &emu_ctx[t])\n"
    "#define EMU_TO_SCHEDULER(t) swapcontext(&emu_ctx[t], &emu_scheduler)\n"
    "#endif\n"
    "static void emu_yield(int why) { emu_state[threadIdx.x] = why; EMU_TO_SCHEDULER(threadIdx.x); }\n"
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
    /* A new thread's stack: six registers and the return address that
       emu_switch pops, then emu_entry as if called, its stack aligned as
       the ABI wants (16 bytes at the call). */
    "#if defined(__x86_64__)\n"
    "static void emu_entry(void) {\n"
    "    emu_thread();\n"
    "    for (;;) EMU_TO_SCHEDULER(threadIdx.x); /* a finished thread is never resumed */\n"
    "}\n"
    "static void emu_start(unsigned t, char *stack, size_t size) {\n"
    "    void **sp = (void **)(stack + size);\n"
    "    *--sp = 0;\n"
    "    *--sp = (void *)emu_entry;\n"
    "    for (int i = 0; i < 6; i++) *--sp = 0;\n"
    "    emu_sp[t] = sp;\n"
    "}\n"
    "#else\n"
    "static void emu_start(unsigned t, char *stack, size_t size) {\n"
    "    getcontext(&emu_ctx[t]);\n"
    "    emu_ctx[t].uc_stack.ss_sp = stack;\n"
    "    emu_ctx[t].uc_stack.ss_size = size;\n"
    "    emu_ctx[t].uc_link = &emu_scheduler;\n"
    "    makecontext(&emu_ctx[t], emu_thread, 0);\n"
    "}\n"
    "#endif\n"
    "static void emu_fail(const char *what) { fprintf(stderr, \"CUDA emulator: %s\\n\", what); abort(); }\n"
    "static void emu_run_warp(unsigned w, unsigned threads) {\n"
    "    unsigned lo = 32 * w, hi = lo + 32 < threads ? lo + 32 : threads;\n"
    "    for (;;) {\n"
    "        for (unsigned t = lo; t < hi; t++) {\n"
    "            if (emu_state[t] != EMU_RUN) continue;\n"
    "            threadIdx = {t, 0, 0};\n"
    "            EMU_TO_THREAD(t);\n"
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
    "            emu_start(t, stacks + (size_t)t * STACK, STACK);\n"
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
    "    return emu_launch(blocks, threads, emu_pass_body);\n}\n"
    /* the K-vector pass of the global search */
    "static void emu_pass_many_body(void) {\n"
    "    void **q = emu_params;\n"
    "    nlsq_pass_many(*(const double **)q[0], *(unsigned long long *)q[1], *(unsigned long long *)q[2],\n"
    "                   *(unsigned long long *)q[3], *(int *)q[4], *(const NLSQ_DATA **)q[5],\n"
    "                   *(unsigned long long *)q[6], *(const NLSQ_DATA **)q[7], *(const NLSQ_DATA **)q[8],\n"
    "                   *(double *)q[9], *(unsigned long long *)q[10], *(unsigned long long *)q[11],\n"
    "                   *(int *)q[12], *(double *)q[13], *(int *)q[14], *(double **)q[15], *(double **)q[16]);\n"
    "}\n"
    "extern \"C\" int emu_nlsq_pass_many(unsigned blocks, unsigned threads, void **q) {\n"
    "    emu_params = q;\n"
    "    return emu_launch(blocks, threads, emu_pass_many_body);\n}\n";

/* The batch kernels' entries (cuda_batch.cu): a thread a fit, a warp a fit. */
static const char SHIM_BATCH[] = "static const nlsq_batch_args *emu_args;\n"
                                 "static void emu_batch_body(void) { nlsq_batch(emu_args); }\n"
                                 "static void emu_batch_warp_body(void) { nlsq_batch_warp(emu_args); }\n"
                                 "extern \"C\" int emu_nlsq_batch(unsigned blocks, unsigned threads, void **q) {\n"
                                 "    emu_args = *(const nlsq_batch_args **)q[0];\n"
                                 "    return emu_launch(blocks, threads, emu_batch_body);\n}\n"
                                 "extern \"C\" int emu_nlsq_batch_warp(unsigned blocks, unsigned threads, void **q) {\n"
                                 "    emu_args = *(const nlsq_batch_args **)q[0];\n"
                                 "    return emu_launch(blocks, threads, emu_batch_warp_body);\n}\n";

static CUresult cuInit(unsigned flags)
{
    (void)flags;
    return 0;
}
static CUresult cuDriverGetVersion(int *v)
{
    *v = 12000;
    return 0;
}
static CUresult cuGetErrorString(CUresult r, const char **s)
{
    *s = r ? "emulated failure" : "no error";
    return 0;
}
/* NLSQ_EMU_DEVICES (default 1) emulated devices, sharing host memory */
static int device_count(void)
{
    const char *s = getenv("NLSQ_EMU_DEVICES");
    int n = s ? atoi(s) : 1;
    return n >= 1 && n <= 16 ? n : 1;
}

static CUresult cuDeviceGetCount(int *n)
{
    *n = device_count();
    return 0;
}
static CUresult cuDeviceGet(int *d, int k)
{
    *d = k;
    return k >= 0 && k < device_count() ? 0 : 101;
}

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

static CUresult cuDeviceTotalMem(size_t *b, int d)
{
    (void)d;
    *b = device_memory();
    return 0;
}

static CUresult cuDeviceGetAttribute(int *v, int attr, int d)
{
    (void)d;
    *v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 2 : 0; /* two multiprocessors: few blocks to emulate */
    return 0;
}

static CUresult cuDevicePrimaryCtxRetain(void **ctx, int d)
{
    *ctx = (void *)(intptr_t)(d + 1);
    return 0;
}
static CUresult cuDevicePrimaryCtxRelease(int d)
{
    (void)d;
    return 0;
}
static CUresult cuCtxSetCurrent(void *ctx)
{
    (void)ctx;
    return 0;
}
static CUresult cuCtxSynchronize(void)
{
    return 0;
}
static CUresult cuMemGetInfo(size_t *f, size_t *t)
{
    *f = *t = device_memory();
    return 0;
}

static CUresult cuMemAlloc(CUdeviceptr *p, size_t bytes)
{
    void *m = calloc(1, bytes ? bytes : 1);
    *p = (CUdeviceptr)(uintptr_t)m;
    return m ? 0 : 2;
}

static CUresult cuMemFree(CUdeviceptr p)
{
    free((void *)(uintptr_t)p);
    return 0;
}
static CUresult cuMemcpyHtoD(CUdeviceptr d, const void *s, size_t n)
{
    memcpy((void *)(uintptr_t)d, s, n);
    return 0;
}
static CUresult cuMemcpyDtoH(void *d, CUdeviceptr s, size_t n)
{
    memcpy(d, (void *)(uintptr_t)s, n);
    return 0;
}

static CUresult cuMemcpyDtoD(CUdeviceptr d, CUdeviceptr s, size_t n)
{
    memcpy((void *)(uintptr_t)d, (void *)(uintptr_t)s, n);
    return 0;
}

static CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n)
{
    memset((void *)(uintptr_t)d, v, n);
    return 0;
}

/* ---- the compiled kernels, cached on disk -------------------------------------------
   Building a kernel takes the C++ compiler a second or more, and every
   test process loads the same few kernels again, so the built library is
   kept in $NLSQ_EMU_CACHE, else $XDG_CACHE_HOME/nlsq-emu (NLSQ_EMU_CACHE=off:
   never), named by the SHA-256 of the compiler's identity, its command and
   the whole C++ text. Files appear by rename, complete, so processes that
   share the directory may build and load at once. */

typedef struct sha256 {
    uint32_t h[8];
    unsigned char block[64];
    uint64_t bytes;
} sha256;

static const uint32_t SHA_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
    return x >> n | x << (32 - n);
}

static void sha256_block(sha256 *s)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)s->block[4 * i] << 24 | (uint32_t)s->block[4 * i + 1] << 16 |
               (uint32_t)s->block[4 * i + 2] << 8 | s->block[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3;
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10;
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, s->h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
                      SHA_K[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += v[i];
}

static void sha256_init(sha256 *s)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->bytes = 0;
}

static void sha256_add(sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        s->block[s->bytes++ % 64] = p[i];
        if (s->bytes % 64 == 0) sha256_block(s);
    }
}

/* the text with its terminating NUL, so that "ab"+"c" and "a"+"bc" differ */
static void sha256_str(sha256 *s, const char *text)
{
    sha256_add(s, text, strlen(text) + 1);
}

static void sha256_hex(sha256 *s, char out[65])
{
    uint64_t bits = s->bytes * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha256_add(s, &pad, 1);
    while (s->bytes % 64 != 56) sha256_add(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_add(s, len, 8);
    for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", (unsigned)s->h[i]);
}

/* The compiler's identity: its resolved path, size and time, so that an
   upgraded compiler builds afresh. */
static void compiler_identity(const char *cxx, char *out, size_t size)
{
    char word[256], path[4096], real[4096];
    snprintf(word, sizeof word, "%.*s", (int)strcspn(cxx, " \t"), cxx);
    path[0] = '\0';
    if (strchr(word, '/')) {
        snprintf(path, sizeof path, "%s", word);
    } else {
        const char *dirs = getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin";
        for (const char *d = dirs; *d;) {
            size_t len = strcspn(d, ":");
            snprintf(path, sizeof path, "%.*s/%s", (int)len, d, word);
            if (access(path, X_OK) == 0) break;
            path[0] = '\0';
            d += len + (d[len] == ':');
        }
    }
    struct stat st;
    if (!path[0] || !realpath(path, real) || stat(real, &st) != 0) {
        snprintf(out, size, "%s", word);
        return;
    }
    snprintf(out, size, "%s:%lld:%lld", real, (long long)st.st_size, (long long)st.st_mtime);
}

/* The cache directory, made private if new; 0, or -1 for none. */
static int cache_dir(char *out, size_t size)
{
    const char *env = getenv("NLSQ_EMU_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
    if (env && strcmp(env, "off") == 0) return -1;
    if (env && *env == '/')
        snprintf(out, size, "%s", env);
    else if (xdg && *xdg == '/')
        snprintf(out, size, "%s/nlsq-emu", xdg);
    else
        return -1;
    char *slash = strrchr(out, '/');
    if (slash && slash != out) { /* the parent too, as the library makes $XDG_CACHE_HOME */
        *slash = '\0';
        mkdir(out, 0700);
        *slash = '/';
    }
    if (mkdir(out, 0700) != 0 && errno != EEXIST) return -1;
    struct stat st;
    return stat(out, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[1 << 16];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in && ferror(in)) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

/* Publish a built library in the cache: a temporary name, then rename. */
static void cache_store(const char *dir, const char *key, const char *so)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s-XXXXXX", dir, key);
    snprintf(final, sizeof final, "%s/%s.so", dir, key);
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    close(fd);
    if (copy_file(so, tmp) != 0 || rename(tmp, final) != 0) unlink(tmp);
}

/* The kernel's whole C++ text: the shim around the CUDA source. */
static char *kernel_text(const char *image)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return NULL;
    fputs(SHIM_PRE, f);
    fputs(image, f);
    fputs(SHIM_SCHED, f);
    fputs(strstr(image, "void nlsq_batch(") ? SHIM_BATCH : SHIM_PASS, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The "image" is CUDA source: build it for the CPU with the shim, or take
   the build from the cache. Each load opens a private copy of the
   library: the shim's statics are per module, as on the GPU, even when
   two modules (two devices) hold the same kernel. */
static CUresult cuModuleLoadData(void **module, const void *image)
{
    char *text = kernel_text((const char *)image);
    char dir[] = "/tmp/nlsq-emu-XXXXXX";
    if (!text || !mkdtemp(dir)) {
        free(text);
        return 200;
    }
    const char *cxx = getenv("NLSQ_EMU_CXX") ? getenv("NLSQ_EMU_CXX") : "c++";
    char src[128], so[128], cmd[512], id[4200], key[65], cache[4096], cached[4200];
    snprintf(src, sizeof src, "%s/kernel.cpp", dir);
    snprintf(so, sizeof so, "%s/kernel.so", dir);
    snprintf(cmd, sizeof cmd, "%s -std=c++17 -O1 -w -fPIC -shared -o %s %s", cxx, so, src);
    compiler_identity(cxx, id, sizeof id);
    sha256 h;
    sha256_init(&h);
    sha256_str(&h, "nlsq-emu 1");
    sha256_str(&h, id);
    sha256_str(&h, cxx);
    sha256_str(&h, "-std=c++17 -O1 -w -fPIC -shared");
    sha256_str(&h, text);
    sha256_hex(&h, key);
    int use_cache = cache_dir(cache, sizeof cache) == 0;
    snprintf(cached, sizeof cached, "%s/%s.so", cache, key);
    void *lib = NULL;
    if (use_cache && copy_file(cached, so) == 0) {
        lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (!lib) unlink(cached); /* a bad file: built again below */
    }
    if (!lib) {
        FILE *f = fopen(src, "w");
        int ok = f && fputs(text, f) >= 0;
        if (f && fclose(f) != 0) ok = 0;
        if (ok && system(cmd) == 0) lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        if (lib && use_cache) cache_store(cache, key, so);
        unlink(src);
    }
    unlink(so);
    rmdir(dir);
    free(text);
    if (!lib) return 200; /* CUDA_ERROR_INVALID_IMAGE */
    *module = lib;
    return 0;
}

static CUresult cuModuleUnload(void *module)
{
    dlclose(module);
    return 0;
}

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

#define ENTRY(f) \
    { \
#f, (void *)f \
    }
static const struct {
    const char *name;
    void *fn;
} TABLE[] = {
    ENTRY(cuInit),
    ENTRY(cuDriverGetVersion),
    ENTRY(cuGetErrorString),
    ENTRY(cuDeviceGetCount),
    ENTRY(cuDeviceGet),
    ENTRY(cuDeviceGetName),
    ENTRY(cuDeviceTotalMem),
    ENTRY(cuDeviceGetAttribute),
    ENTRY(cuDevicePrimaryCtxRetain),
    ENTRY(cuDevicePrimaryCtxRelease),
    ENTRY(cuCtxSetCurrent),
    ENTRY(cuCtxSynchronize),
    ENTRY(cuMemGetInfo),
    ENTRY(cuMemAlloc),
    ENTRY(cuMemFree),
    ENTRY(cuMemcpyHtoD),
    ENTRY(cuMemcpyDtoH),
    ENTRY(cuMemcpyDtoD),
    ENTRY(cuMemsetD8),
    ENTRY(cuModuleLoadData),
    ENTRY(cuModuleUnload),
    ENTRY(cuModuleGetFunction),
    ENTRY(cuLaunchKernel),
    ENTRY(cuOccupancyMaxActiveBlocksPerMultiprocessor),
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
