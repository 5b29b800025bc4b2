#!/usr/bin/env bash
# bench/batch: fits per second for batches of small fits, nlsq against
# GSL multifit_nlinear and cminpack lmder loops (Debian packages, installed
# when missing) and SciPy curve_fit on a subset, in one run on this machine.
#
#   bench/batch.sh [NFITS...]     default 100000 1000000
#
# The table's ratios are fits/s over GSL's. See bench/batch.c for the
# cases and the tolerances. Then the whole `nlsq batch` process against its
# fitting time, 10^5 fits (bench/batch_io.sh, which also runs alone).
set -euo pipefail
unset NLSQ_THREADS NLSQ_BACKEND
cd "$(dirname "$0")/.."
need=()
for p in libcminpack-dev libgsl-dev python3-scipy; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q "${need[@]}"; fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DNLSQ_BENCH_BATCH_PEERS=ON >/dev/null
cmake --build build-bench -j "$(nproc)" --target bench_batch >/dev/null
while read -r name rate; do
    export "SCIPY_RATE_${name^^}=$rate"
done < <(/usr/bin/python3 bench/peer_scipy_batch.py 2000)
./build-bench/bench/bench_batch "$@"
echo
NLSQ_BIN= bash bench/batch_io.sh 100000
