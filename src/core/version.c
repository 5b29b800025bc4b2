/* The library's version: CMake's project version, by way of nlsq_version.h. */
#include "nlsq.h"

const char *nlsq_version(void)
{
    return NLSQ_VERSION_STRING;
}
