#!/bin/sh
# The uncertainty benchmarks (issue 20), one line per part; run from the
# repository root with the lmfit environment's python (see each script).
# Extra arguments go to every script.
set -e
PY=${PYTHON:-/work/venvs/lmfit-env/bin/python}
export NLSQ_LIBRARY=${NLSQ_LIBRARY:-build/libnlsq.so} PYTHONPATH=python
$PY bench/uncertainty/mcmc.py "$@"
$PY bench/uncertainty/bootstrap.py "$@"
$PY bench/uncertainty/bands.py "$@"
$PY bench/uncertainty/profile.py "$@"
