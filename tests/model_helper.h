/*
 * Parsing a model in a test: one helper shared by the tests that build
 * models from text, kept out of check.h so that header stays model-free.
 */
#ifndef NLSQ_TESTS_MODEL_HELPER_H
#define NLSQ_TESTS_MODEL_HELPER_H

#include <stdio.h>

#include "nlsq.h"

/* The model, or NULL after printing the parser's message (the caller's
 * CHECK on the result then reports the failure). */
static inline nlsq_model *parse(const char *text, const char *params)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.params = params;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &mo, &m, &e) != NLSQ_OK) printf("    parse: %s\n", e.message);
    return m;
}

#endif
