/* The public view of the text tables' column caches, for `nlsq cache`. */
#include "source.h"

nlsq_status nlsq_column_cache_info(nlsq_cache_info *out, nlsq_error *err)
{
    return cache_report("nlsq_column_cache_info", colcache_scan, 0, out, err);
}

nlsq_status nlsq_column_cache_clear(nlsq_cache_info *out, nlsq_error *err)
{
    return cache_report("nlsq_column_cache_clear", colcache_scan, 1, out, err);
}
