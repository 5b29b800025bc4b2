#!/bin/sh
# The uncertainty benchmarks (issue 20), one line per part; run from the
# repository root with the lmfit environment's python (see each script).
set -e
NLSQ_LIBRARY=${NLSQ_LIBRARY:-build/libnlsq.so} PYTHONPATH=python ${PYTHON:-/work/venvs/lmfit-env/bin/python} bench/uncertainty/mcmc.py "$@"
NLSQ_LIBRARY=${NLSQ_LIBRARY:-build/libnlsq.so} PYTHONPATH=python ${PYTHON:-/work/venvs/lmfit-env/bin/python} bench/uncertainty/profile.py "$@"
