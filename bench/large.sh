#!/usr/bin/env bash
# bench/large: exponential decay with per-point sigma at 10^8 points in
# memory and 10^9 points from a memory-mapped file on disk (16 GB of x and
# y; sigma comes from a callback source joined to the file), with the time
# of a plain sequential read of the same file (cat, cold and warm cache) in
# the same run, and SciPy's curve_fit at the largest sizes it can handle.
#
#   bench/large.sh [DIR] [FILE_POINTS] [SCIPY_SIZES]
#       DIR          where the data file goes (default: /tmp; needs 16 GB)
#       FILE_POINTS  default 1e9
#       SCIPY_SIZES  default 1e7,3e7,1e8 (each with a 20-minute limit)
#
# Dropping the page cache for the cold read needs root; without it the
# "cold" line says so.
set -euo pipefail
unset NLSQ_THREADS NLSQ_BACKEND
cd "$(dirname "$0")/.."
dir=${1:-/tmp}
points=${2:-1e9}
scipy_sizes=${3:-1e7,3e7,1e8}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "$(nproc)" --target bench_large >/dev/null
work=$(mktemp -d "$dir/nlsq-large-XXXXXX")
trap 'rm -rf "$work"' EXIT
file=$work/decay.npy
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo) memory"
./build-bench/bench/bench_large memory 1e8
start=$(date +%s.%N)
./build-bench/bench/bench_large write "$file" "$points"
echo "wrote $(du -h "$file" | cut -f1) in $(echo "$(date +%s.%N) - $start" | bc) s"
sync
if echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
    start=$(date +%s.%N); cat "$file" > /dev/null; t=$(echo "$(date +%s.%N) - $start" | bc)
    echo "RESULT cat-cold seconds=$t"
else
    echo "RESULT cat-cold seconds=nan (cannot drop the page cache without root)"
fi
start=$(date +%s.%N); cat "$file" > /dev/null; t=$(echo "$(date +%s.%N) - $start" | bc)
echo "RESULT cat-warm seconds=$t"
./build-bench/bench/bench_large file "$file"
start=$(date +%s.%N); cat "$file" > /dev/null; t=$(echo "$(date +%s.%N) - $start" | bc)
echo "RESULT cat-warm-after seconds=$t"
rm -f "$file"
for n in ${scipy_sizes//,/ }; do
    mkdir -p "$work/scipy"
    ./build-bench/bench/bench_large scipy-data "$work/scipy" "$n"
    ./build-bench/bench/bench_large memory "$n"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE timeout 1200 /usr/bin/python3 bench/peer_scipy_large.py "$work/scipy" \
        || echo "RESULT scipy m=$n failed (status $?: out of memory or over 20 minutes)"
    rm -rf "$work/scipy"
done
