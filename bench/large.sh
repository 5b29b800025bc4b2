#!/usr/bin/env bash
# bench/large: exponential decay with per-point sigma at 10^8 points in
# memory and 10^9 points from a memory-mapped file on disk (16 GB of x and
# y; sigma comes from a callback source joined to the file), with the time
# of a plain sequential read of the same file (cat, cold and warm cache) in
# the same run, and SciPy's curve_fit at the largest sizes it can handle.
# The same file as HDF5 datasets /x and /y (h5py; chunked uncompressed, and
# shuffle+deflate), fitted through the library's HDF5 source with its
# prefetch thread and without (NLSQ_HDF5_PREFETCH=0), against h5py reading
# the same datasets whole in the same run (bench/hdf5_large.py). Without
# h5py or an HDF5 build those rows say so.
#
#   bench/large.sh [DIR] [FILE_POINTS] [SCIPY_SIZES]
#       DIR          where the data file goes (default: /tmp; needs 16 GB,
#                    and 32 GB more for the HDF5 copies)
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
# The HDF5 rows: the .npy's x and y as HDF5 datasets, two layouts.
hdf5_rows() {
    local npy=$1 layout h5
    if ! /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
        echo "RESULT hdf5 skipped (no h5py: Debian python3-h5py)"
        return
    fi
    for layout in chunked deflate; do
        h5=$work/decay-$layout.h5
        /usr/bin/python3 bench/hdf5_large.py write "$npy" "$h5" "$layout"
        echo "$layout: $(du -h "$h5" | cut -f1)"
        /usr/bin/python3 bench/hdf5_large.py read "$h5" 3
        ./build-bench/bench/bench_large hdf5 "$h5" "hdf5-$layout" || echo "RESULT hdf5-$layout failed (no HDF5 in this build?)"
        NLSQ_HDF5_PREFETCH=0 ./build-bench/bench/bench_large hdf5 "$h5" "hdf5-$layout-noprefetch" || true
        rm -f "$h5"
    done
}
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
hdf5_rows "$file"
rm -f "$file"
for n in ${scipy_sizes//,/ }; do
    mkdir -p "$work/scipy"
    ./build-bench/bench/bench_large scipy-data "$work/scipy" "$n"
    ./build-bench/bench/bench_large memory "$n"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE timeout 1200 /usr/bin/python3 bench/peer_scipy_large.py "$work/scipy" \
        || echo "RESULT scipy m=$n failed (status $?: out of memory or over 20 minutes)"
    rm -rf "$work/scipy"
done
