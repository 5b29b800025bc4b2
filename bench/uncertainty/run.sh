#!/usr/bin/env bash
# The uncertainty benchmarks of issue 20, one line per part (run from the
# repository root with NLSQ_LIBRARY and PYTHONPATH set; see each script).
set -e
py=${NLSQ_BENCH_PYTHON:-/work/venvs/lmfit-env/bin/python}
"$py" bench/uncertainty/bands.py "$@"
