/* Linked against the shared library as a user would: the public header
   alone, one real model, exact values. */
#include <math.h>

#include "check.h"
#include "nlsq.h"

static void test_shared_library_parses_and_evaluates(void)
{
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK(nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &e) == NLSQ_OK);
    if (!m) return;
    double p[3] = {2, 0.5, 1}, x[2] = {0, 2}, f[2], J[6];
    CHECK(nlsq_model_eval(m, p, x, 2, f, J, &e) == NLSQ_OK);
    CHECK_NEAR(f[0], 3.0, 0, "f(0)");
    CHECK_NEAR(f[1], 2 * exp(-1.0) + 1, 1e-15, "f(2)");
    CHECK_NEAR(J[3], exp(-1.0), 1e-16, "df/da at 2");
    CHECK_NEAR(J[4], -2 * 2 * exp(-1.0), 1e-15, "df/db at 2");
    CHECK_NEAR(J[5], 1.0, 0, "df/dc at 2");
    /* the library's version is the header's, and both are CMake's */
    CHECK(strcmp(nlsq_version(), NLSQ_VERSION_STRING) == 0);
    CHECK(strcmp(nlsq_version(), NLSQ_PROJECT_VERSION) == 0);
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {TEST(test_shared_library_parses_and_evaluates)};
    return run_tests(tests, 1);
}
