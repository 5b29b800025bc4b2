/* The public view of the text tables' column caches, for `nlsq cache`. */
#include <string.h>

#include "source.h"

static nlsq_status column_cache_scan(int clear, nlsq_cache_info *out, nlsq_error *err)
{
    error_clear(err);
    if (!out) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "nlsq_column_cache_%s: out is NULL", clear ? "clear" : "info");
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    char why[600];
    if (colcache_scan(clear, out->dir, sizeof out->dir, &out->count, &out->bytes, why, sizeof why) != 0) {
        error_set(err, NLSQ_ERR_INVALID_ARGUMENT, 0, 0, "%s", why);
        return NLSQ_ERR_INVALID_ARGUMENT;
    }
    return NLSQ_OK;
}

nlsq_status nlsq_column_cache_info(nlsq_cache_info *out, nlsq_error *err)
{
    return column_cache_scan(0, out, err);
}
nlsq_status nlsq_column_cache_clear(nlsq_cache_info *out, nlsq_error *err)
{
    return column_cache_scan(1, out, err);
}
