/*
 * The NIST and SciPy suites run twice under ctest: as they are, and with
 * NLSQ_BACKEND=jit (test_nist_jit, test_scipy_jit). In the second run
 * every fit must have run on a compiled kernel, unless this machine has
 * no compiler: then the count of such fits is reported, and the test is
 * skipped rather than passed.
 */
#ifndef NLSQ_TESTS_JIT_ENV_H
#define NLSQ_TESTS_JIT_ENV_H

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu/gpu.h"
#include "nlsq.h"

static int jit_env_fits, jit_env_no_compiler;

/* With NLSQ_DEVICE=cuda... (test_nist_cuda, test_scipy_cuda) on a machine
   without a usable GPU: skip, with the reason. Called first in a test. */
/* Under the CUDA emulator (NLSQ_TEST_EMULATED_GPU), the reason it cannot
   run here — it builds kernels with the system C++ compiler — or NULL. */
static inline const char *emulator_unusable(void)
{
    if (!getenv("NLSQ_TEST_EMULATED_GPU")) return NULL;
    const char *cxx = getenv("NLSQ_EMU_CXX") ? getenv("NLSQ_EMU_CXX") : "c++";
    char cmd[300];
    snprintf(cmd, sizeof cmd, "command -v %.200s >/dev/null 2>&1", cxx);
    return system(cmd) == 0 ? NULL : "the CUDA emulator needs a C++ compiler (c++), and there is none";
}

static inline int device_env_skip(void)
{
    const char *d = getenv("NLSQ_DEVICE");
    if (!d || strncmp(d, "cuda", 4) != 0) return 0;
    char why[300], msg[400];
    cuda_device_info dev[1];
    if (emulator_unusable()) {
        test_skip(emulator_unusable());
        return 1;
    }
    if (cuda_devices(dev, 1, why, sizeof why) >= 0) return 0;
    snprintf(msg, sizeof msg, "NLSQ_DEVICE=%s, but %s", d, why);
    test_skip(msg);
    return 1;
}

/* With NLSQ_DEVICE=cuda...: the fit must have run there. */
static inline void device_env_check(const nlsq_result *r, const char *what)
{
    const char *d = getenv("NLSQ_DEVICE");
    if (!d || strncmp(d, "cuda", 4) != 0) return;
    CHECK_MSG(strncmp(r->device, "cuda", 4) == 0 && strcmp(r->backend, "cuda") == 0, "%s: ran on %s (%s)", what,
              r->device, r->device_note);
}


static inline int jit_env_wanted(void)
{
    const char *b = getenv("NLSQ_BACKEND");
    return b && strcmp(b, "jit") == 0;
}

/* After a fit whose passes could be compiled (not a covariance sigma). */
static inline void jit_env_check(const nlsq_result *r, const char *what)
{
    device_env_check(r, what);
    if (!jit_env_wanted()) return;
    jit_env_fits++;
    if (strstr(r->backend_note, "no C compiler") || strstr(r->backend_note, "failed")) {
        jit_env_no_compiler++;
        return;
    }
    CHECK_MSG(strcmp(r->backend, "jit") == 0 && r->jit_passes == r->passes,
              "%s: NLSQ_BACKEND=jit but %d of %d passes compiled (%s)", what, r->jit_passes, r->passes,
              r->backend_note);
}

/* At the end of the test: say how many fits ran compiled. */
static inline void jit_env_report(void)
{
    if (!jit_env_wanted()) return;
    if (jit_env_no_compiler) {
        char why[160];
        snprintf(why, sizeof why, "NLSQ_BACKEND=jit, but no kernel could be built for %d of %d fits",
                 jit_env_no_compiler, jit_env_fits);
        test_skip(why);
    } else {
        printf("    NLSQ_BACKEND=jit: all %d fits ran on compiled kernels\n", jit_env_fits);
        CHECK(jit_env_fits > 0);
    }
}

#endif
