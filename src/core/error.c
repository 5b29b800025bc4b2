/* Status names and the error record. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static const char *const STATUS_NAMES[NLSQ_STATUS_COUNT] = {
    [NLSQ_OK] = "ok",
    [NLSQ_ERR_INVALID_ARGUMENT] = "invalid argument",
    [NLSQ_ERR_NOMEM] = "out of memory",
    [NLSQ_ERR_SYNTAX] = "syntax error",
    [NLSQ_ERR_BAD_CHAR] = "bad character",
    [NLSQ_ERR_BAD_NUMBER] = "bad number",
    [NLSQ_ERR_UNKNOWN_FUNCTION] = "unknown function",
    [NLSQ_ERR_ARITY] = "wrong number of arguments",
    [NLSQ_ERR_TYPE] = "type error",
    [NLSQ_ERR_UNDEFINED_NAME] = "undefined name",
    [NLSQ_ERR_REDEFINED] = "name defined twice",
    [NLSQ_ERR_NAME_CONFLICT] = "bad name list",
    [NLSQ_ERR_LIMIT] = "limit exceeded",
    [NLSQ_ERR_BUILDER] = "builder error",
    [NLSQ_ERR_DATA] = "bad data",
    [NLSQ_ERR_BOUNDS] = "bad bounds or start point",
    [NLSQ_ERR_MODEL_NONFINITE] = "model not finite at the start point",
    [NLSQ_ERR_IO] = "file error",
    [NLSQ_ERR_CALLBACK] = "callback error",
};

const char *nlsq_status_str(nlsq_status status)
{
    if ((int)status < 0 || status >= NLSQ_STATUS_COUNT) return "unknown status";
    return STATUS_NAMES[status];
}

void error_clear(nlsq_error *err)
{
    if (!err) return;
    err->code = NLSQ_OK;
    err->line = 0;
    err->column = 0;
    err->message[0] = '\0';
}

void error_set(nlsq_error *err, nlsq_status code, int line, int column, const char *fmt, ...)
{
    if (!err) return;
    err->code = code;
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

nlsq_status error_fail(nlsq_error *err, nlsq_status code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        err->line = err->column = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
