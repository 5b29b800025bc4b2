#!/usr/bin/env bash
# bench/uncertainty: intervals and bands (against lmfit and SciPy's t),
# profile likelihood (lmfit's conf_interval), bootstrap (SciPy curve_fit
# and lmfit loops, scipy.stats.bootstrap) and MCMC (emcee, lmfit's
# Minimizer.emcee), each peer measured in the same run. See the scripts.
#
#   bench/uncertainty/run.sh       (each script alone takes its own options:
#                                   python3 bench/uncertainty/X.py --help)
#
# The peers run in a virtual environment of their own, build-bench/unc-env
# (lmfit, emcee, SciPy, NumPy from pip; the package index must be
# reachable), or PYTHON=... with them installed. nlsqc runs there on the
# library built in build-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s deps >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "$(nproc)" --target nlsq >/dev/null
PY=${PYTHON:-build-bench/unc-env/bin/python}
if ! "$PY" -c "import lmfit, emcee, scipy" 2>/dev/null; then
    PY=build-bench/unc-env/bin/python
    [ -x "$PY" ] || /usr/bin/python3 -m venv build-bench/unc-env
    build-bench/unc-env/bin/pip install -q lmfit emcee scipy numpy
fi
export NLSQ_LIBRARY=build-bench/libnlsq.so PYTHONPATH=python
for part in bands profile bootstrap mcmc; do
    "$PY" "bench/uncertainty/$part.py"
done
