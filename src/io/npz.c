/*
 * .npz archives. To be written: see issue 21.
 */
#include <stddef.h>

#include "fit/source.h"

int nlsq_have_zlib(void)
{
#ifdef NLSQ_HAVE_ZLIB
    return 1;
#else
    return 0;
#endif
}

nlsq_status nlsq_source_open_npz(const char *path, const char *const *members, int count, nlsq_source **out,
                                 nlsq_error *err)
{
    (void)members;
    (void)count;
    if (out) *out = NULL;
    error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s: .npz archives are not read yet", path ? path : "(null)");
    return NLSQ_ERR_INVALID_ARGUMENT;
}
