#!/usr/bin/env bash
# bench/mpi: a fit over 1, 2 and 4 MPI ranks against the threaded single
# process on the same file (bench_large's exponential decay, an (m, 2)
# .npy of x and y), over shared memory (--mca btl vader,self) and TCP
# loopback (--mca btl tcp,self): time a pass, the group's messages, bytes
# and seconds a pass, parallel efficiency against the threaded run at the
# same ranks x threads, and that every configuration gives the same bits.
# Then the point-to-point latency and bandwidth (8 B .. 1 MB, both
# transports) and from them a model of one pass on 1000 nodes
# (bench/mpi/summarize.py prints the tables of docs/benchmarks.md, "MPI").
#
#   bench/mpi.sh [DIR] [POINTS] [REPEATS] [CONFIGS]
#       DIR      where the data file goes (default /tmp; 16 bytes a point;
#                removed at the end)
#       POINTS   default 1e8
#       REPEATS  runs of every configuration, interleaved (default 3; the
#                tables give the median)
#       CONFIGS  "all" (default) or "small": only 1 and 2 cores (for 10^9)
#   NLSQ_BENCH_BUILD  the build directory (default build-bench)
#   NLSQ_BENCH_MPI_FILE  an (m, 2) .npy already written by bench_large write:
#                fitted instead of writing one (and not removed; POINTS is
#                then ignored)
#
# Needs Open MPI (mpirun). As root, Open MPI wants
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; this script
# sets them.
set -euo pipefail
unset NLSQ_BACKEND
cd "$(dirname "$0")/.."
dir=${1:-/tmp}
points=${2:-1e8}
repeats=${3:-3}
configs=${4:-all}
build=${NLSQ_BENCH_BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target bench_mpi bench_large >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bin=$build/bench/bench_mpi
work=$(mktemp -d "$dir/nlsq-mpi-XXXXXX")
trap 'rm -rf "$work"' EXIT
file=${NLSQ_BENCH_MPI_FILE:-$work/decay.npy}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1e6}' /proc/meminfo) memory; $(mpirun --version | head -1)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -z "${NLSQ_BENCH_MPI_FILE:-}" ]; then
    start=$(date +%s.%N)
    "$build/bench/bench_large" write "$file" "$points"
    echo "wrote $(du -h "$file" | cut -f1) in $(echo "$(date +%s.%N) - $start" | bc) s"
else
    echo "fitting $file ($(du -h "$file" | cut -f1)), written before"
fi
cat "$file" >/dev/null # into the page cache: every run reads it warm

# A run: transport (vader|tcp|-), ranks, threads a rank, model, and
# optionally the file and the fits in one launch. The single process runs
# under mpirun -n 1 too (a group of one is no group: the ordinary threaded
# fit).
run() {
    local transport=$1 ranks=$2 threads=$3 model=$4 f=${5:-$file} fits=${6:-1} mca=()
    case $transport in
        vader) mca=(--mca btl vader,self) ;;
        tcp) mca=(--mca btl tcp,self --mca btl_tcp_if_include lo) ;;
    esac
    NLSQ_THREADS=$threads timeout 1800 mpirun --oversubscribe --bind-to none --mca pml ob1 "${mca[@]}" \
        -x NLSQ_THREADS -n "$ranks" "$bin" fit "$f" "$model" "$fits" | sed "s/^RESULT /RESULT transport=$transport /"
}

for rep in $(seq 1 "$repeats"); do
    echo "repeat $rep, load $(cut -d' ' -f1-3 /proc/loadavg)"
    # the comparison at 2 cores first, so that a run cut short has it
    run - 1 2 decay
    for t in vader tcp; do run $t 2 1 decay; done
    run - 1 1 decay
    if [ "$configs" = all ]; then
        run - 1 4 decay
        for t in vader tcp; do
            run $t 4 1 decay
            run $t 2 2 decay
        done
        # ten parameters: the largest triangle of the target
        run - 1 2 poly10
        for t in vader tcp; do run $t 2 1 poly10; done
    fi
done
# The transport's own cost: fits of 10^5 points, where a pass computes
# for about a millisecond, so that the group's seconds are mostly the
# messages' (at POINTS they are mostly one rank waiting for another's
# share, on a shared machine). 20 fits a launch.
small=$work/small.npy
"$build/bench/bench_large" write "$small" 1e5
for model in decay poly10; do
    for t in vader tcp; do
        run $t 2 1 $model "$small" 20
        if [ "$configs" = all ]; then run $t 4 1 $model "$small" 20; fi
    done
done
for t in vader tcp; do
    mca=(--mca btl vader,self)
    [ $t = tcp ] && mca=(--mca btl tcp,self --mca btl_tcp_if_include lo)
    timeout 600 mpirun --oversubscribe --bind-to none --mca pml ob1 "${mca[@]}" -n 2 "$bin" pingpong 2000 |
        sed "s/^PINGPONG /PINGPONG transport=$t /"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
