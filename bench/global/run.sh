#!/usr/bin/env bash
# bench/global: fits with NO start values (261 problems, 29 model
# families, 3 noise levels): nlsqc p0='auto' (and global_starts=64 where
# curve_fit has it) against SciPy's curve_fit (its default start), lmfit
# (its models' guess()) and the Python NLSQ library (JAX; p0='auto' and
# its multi-start at 16 and 64 starts). See bench/global/bench.py.
#
#   bench/global/run.sh [extra bench.py arguments, e.g. --families gauss_lin,sine --ms-subset all]
#
# The peers go into virtual environments of their own, installed with pip
# when missing (the package index must be reachable):
#   lmfit: build-bench/lmfit-env (the system Python, its NumPy/SciPy or pip's)
#          or LMFIT_PYTHON=...
#   NLSQ:  /opt/nlsq-peer (Python >= 3.12, as bench/fit.sh) or NLSQ_JAX_PYTHON=...
# A peer that cannot be installed is reported and its columns say n/a.
set -uo pipefail
cd "$(dirname "$0")/../.."
make -s deps test-deps >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build build-bench -j "$(nproc)" --target nlsq >/dev/null || exit 1

lmpy=${LMFIT_PYTHON:-build-bench/lmfit-env/bin/python}
if ! { [ -x "$lmpy" ] && "$lmpy" -c "import lmfit" 2>/dev/null; }; then
    lmpy=build-bench/lmfit-env/bin/python
    if /usr/bin/python3 -m venv --system-site-packages build-bench/lmfit-env >/dev/null 2>&1 \
        && build-bench/lmfit-env/bin/pip install -q lmfit >/dev/null 2>&1; then
        :
    else
        echo "note: lmfit could not be installed (pip install lmfit into build-bench/lmfit-env failed:" \
             "no package index?); its column is n/a" >&2
        lmpy=""
    fi
fi

jaxpy=${NLSQ_JAX_PYTHON:-/opt/nlsq-peer/bin/python}
if ! { [ -x "$jaxpy" ] && "$jaxpy" -c "import nlsq, jax" 2>/dev/null; }; then
    py312=$(command -v python3.12 || ls -d ~/.pyenv/versions/3.1[2-9]*/bin/python 2>/dev/null | head -1 || true)
    if [ -n "$py312" ] && "$py312" -m venv /opt/nlsq-peer >/dev/null 2>&1 \
        && /opt/nlsq-peer/bin/pip install -q nlsq >/dev/null 2>&1; then
        jaxpy=/opt/nlsq-peer/bin/python
    else
        echo "note: the Python NLSQ (JAX) peer could not be installed (needs Python >= 3.12 and the" \
             "package index); its columns are n/a" >&2
        jaxpy=""
    fi
fi

# Debian's numpy is slowed by this workplace's OpenBLAS settings: unset them
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NLSQ_LIBRARY="$PWD/build-bench/libnlsq.so" PYTHONPATH="$PWD/python" \
    /usr/bin/python3 bench/global/bench.py --lmfit-python "$lmpy" --nlsq-python "$jaxpy" "$@"
