/*
 * HDF5 sources (and NeXus default plots). To be written: see issue 21.
 */
#include <stddef.h>

#include "fit/source.h"

int nlsq_have_hdf5(void)
{
#ifdef NLSQ_HAVE_HDF5
    return 1;
#else
    return 0;
#endif
}

nlsq_status nlsq_source_open_hdf5(const char *path, const char *const *datasets, int count, nlsq_source **out,
                                  nlsq_error *err)
{
    (void)datasets;
    (void)count;
    if (out) *out = NULL;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: HDF5 files are not read yet", path ? path : "(null)");
    return NLSQ_ERR_INVALID_ARGUMENT;
}
