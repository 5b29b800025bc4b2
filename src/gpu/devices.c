/* The CUDA devices of this machine, as the driver reports them. */
#include <stdio.h>
#include <string.h>

#include "gpu.h"

int cuda_devices(cuda_device_info *out, int max, char *why, size_t why_size)
{
    const cuda_driver *d = cuda_driver_get(why, why_size);
    if (!d) return -1;
    int count = 0;
    CUresult r = d->cuDeviceGetCount(&count);
    if (r != NLSQ_CUDA_SUCCESS) {
        char text[120];
        cuda_error_text(d, r, text, sizeof text);
        snprintf(why, why_size, "cuDeviceGetCount: %s", text);
        return -1;
    }
    if (count == 0) {
        snprintf(why, why_size, "the NVIDIA driver reports no CUDA device");
        return -1;
    }
    int n = 0;
    for (int k = 0; k < count && n < max; k++) {
        CUdevice dev;
        if (d->cuDeviceGet(&dev, k) != NLSQ_CUDA_SUCCESS) continue;
        cuda_device_info *info = &out[n++];
        memset(info, 0, sizeof *info);
        info->ordinal = k;
        if (d->cuDeviceGetName(info->name, (int)sizeof info->name, dev) != NLSQ_CUDA_SUCCESS)
            snprintf(info->name, sizeof info->name, "CUDA device %d", k);
        d->cuDeviceTotalMem(&info->memory, dev);
        d->cuDeviceGetAttribute(&info->major, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        d->cuDeviceGetAttribute(&info->minor, NLSQ_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        d->cuDeviceGetAttribute(&info->multiprocessors, NLSQ_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
    }
    return n;
}
