#!/usr/bin/env bash
# The uncertainty benchmarks (issue 20), one line per part. Run from the source tree with
# NLSQ_LIBRARY and PYTHONPATH set (bench/uncertainty/profile.py says how).
set -e
python3 bench/uncertainty/profile.py "$@"
