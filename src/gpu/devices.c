/* The CUDA devices of this machine, as the driver reports them. */
#include <stdio.h>
#include <string.h>

#include "gpu.h"
#include "model/model.h"

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

nlsq_status nlsq_device_list(nlsq_device *out, int max, int *count, char *why, size_t why_size, nlsq_error *err)
{
    if (!count || max < 0 || (max > 0 && !out) || (why_size > 0 && !why)) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0,
                  "nlsq_device_list: count is NULL, max is negative, or a buffer is NULL with a size");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    error_clear(err);
    *count = 0;
    if (why_size > 0) why[0] = '\0';
    cuda_device_info dev[64];
    char reason[300];
    int n = cuda_devices(dev, 64, reason, sizeof reason);
    if (n < 0) {
        if (why_size > 0) snprintf(why, why_size, "%s", reason);
        return NLSQ_OK;
    }
    for (int k = 0; k < n && k < max; k++) {
        nlsq_device *o = &out[k];
        memset(o, 0, sizeof *o);
        snprintf(o->name, sizeof o->name, "cuda:%d", dev[k].ordinal);
        snprintf(o->description, sizeof o->description, "%s", dev[k].name);
        o->memory = dev[k].memory;
        o->cc_major = dev[k].major;
        o->cc_minor = dev[k].minor;
        o->multiprocessors = dev[k].multiprocessors;
    }
    *count = n;
    return NLSQ_OK;
}
