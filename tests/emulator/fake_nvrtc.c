/*
 * A stand-in for NVRTC in the CUDA emulator (see fake_cuda.c): "compiling"
 * keeps the CUDA source, which is then the "cubin" that the emulated
 * driver builds for the CPU. Version 99.0, so nothing it makes is ever
 * taken for a real kernel in the cache.
 */
#define _GNU_SOURCE /* strdup */
#include <stdlib.h>
#include <string.h>

typedef struct prog {
    char *src;
} prog;

/* the exported entry points, as nvrtc.h names them */
int nvrtcVersion(int *major, int *minor);
const char *nvrtcGetErrorString(int r);
int nvrtcCreateProgram(prog **p, const char *src, const char *name, int n, const char *const *h, const char *const *i);
int nvrtcCompileProgram(prog *p, int n, const char *const *opts);
int nvrtcGetProgramLogSize(prog *p, size_t *size);
int nvrtcGetProgramLog(prog *p, char *log);
int nvrtcGetPTXSize(prog *p, size_t *size);
int nvrtcGetPTX(prog *p, char *out);
int nvrtcGetCUBINSize(prog *p, size_t *size);
int nvrtcGetCUBIN(prog *p, char *out);
int nvrtcDestroyProgram(prog **p);

int nvrtcVersion(int *major, int *minor)
{
    *major = 99;
    *minor = 0;
    return 0;
}

const char *nvrtcGetErrorString(int r)
{
    return r ? "NVRTC_ERROR (emulated)" : "NVRTC_SUCCESS";
}

int nvrtcCreateProgram(prog **p, const char *src, const char *name, int n, const char *const *h, const char *const *i)
{
    (void)name, (void)n, (void)h, (void)i;
    *p = malloc(sizeof **p);
    if (!*p) return 1;
    (*p)->src = strdup(src);
    return (*p)->src ? 0 : 1;
}

int nvrtcCompileProgram(prog *p, int n, const char *const *opts)
{
    (void)p, (void)n, (void)opts;
    return 0;
}

int nvrtcGetProgramLogSize(prog *p, size_t *size)
{
    (void)p;
    *size = 1;
    return 0;
}

int nvrtcGetProgramLog(prog *p, char *log)
{
    (void)p;
    log[0] = '\0';
    return 0;
}

static int size_of(prog *p, size_t *size)
{
    *size = strlen(p->src) + 1;
    return 0;
}

static int copy_of(prog *p, char *out)
{
    memcpy(out, p->src, strlen(p->src) + 1);
    return 0;
}

int nvrtcGetPTXSize(prog *p, size_t *size)
{
    return size_of(p, size);
}
int nvrtcGetPTX(prog *p, char *out)
{
    return copy_of(p, out);
}
int nvrtcGetCUBINSize(prog *p, size_t *size)
{
    return size_of(p, size);
}
int nvrtcGetCUBIN(prog *p, char *out)
{
    return copy_of(p, out);
}

int nvrtcDestroyProgram(prog **p)
{
    free((*p)->src);
    free(*p);
    *p = NULL;
    return 0;
}
