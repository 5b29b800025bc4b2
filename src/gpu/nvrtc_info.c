/* The public view of NVRTC, for `nlsq devices`. */
#include <stdio.h>
#include <string.h>

#include "gpu.h"

void nlsq_nvrtc_describe(nlsq_nvrtc_info *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    const cuda_nvrtc *nv = cuda_nvrtc_get(out->why, sizeof out->why);
    if (!nv) return;
    out->why[0] = '\0';
    out->available = 1;
    out->major = nv->major;
    out->minor = nv->minor;
    snprintf(out->path, sizeof out->path, "%s", nv->path);
}
