#!/usr/bin/env bash
# bench/gpu: one script that builds, checks and times on a GPU machine.
#   1. builds nlsq (Release) and runs test_cuda, test_nist_cuda and
#      test_scipy_cuda: the GPU results agree with the CPU and NIST,
#      float32 mode within its bound, the same bits on every run, 10^8
#      points on the GPU;
#      and python/tests/test_gpu.py (the Python package on the GPU) where
#      Python with NumPy and pytest is installed;
#   2. bench_gpu: the four reference models at 10^5 ... 10^8 points on the
#      GPU (float64 and float32) and on all CPU cores, the pass's bytes per
#      second against a device-to-device copy measured in the same run; and
#      the crossover sizes (10^3 ... 10^6) for device "auto";
#      and bench_batch: 10^5 and 10^6 small fits (issue 8's cases) on the
#      GPU against the CPU cores;
#   3. the Python NLSQ library (JAX) on the same data and GPU, where JAX
#      with CUDA is installed (its wheel may be put in bench/gpu/wheels or
#      installed beforehand; NLSQ_JAX_PYTHON names the interpreter).
#
#   bench/gpu/run.sh [OUTDIR]     results and the log go to OUTDIR (default a temporary folder)
#
# Each step has its own time limit (STEP_LIMIT_S, default 240 s), so one
# slow step cannot take the others with it; the script goes on after a
# failed step and its status says how many failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
limit=${STEP_LIMIT_S:-240}
failed=0
step() { # step NAME LIMIT COMMAND...
    local name=$1 lim=$2
    shift 2
    local t0=$SECONDS
    echo "=== $name"
    timeout "$lim" "$@"
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - t0)) s"
    [ $rc -eq 0 ] || failed=$((failed + 1))
}
command -v cmake >/dev/null || { apt-get update -q && apt-get install -y -q cmake; }
step build "$limit" bash -c 'cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build build-gpu -j "$(nproc)" --target nlsq_cli test_cuda test_nist test_scipy test_batch bench_gpu bench_batch >/dev/null'
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
step devices 60 ./build-gpu/tools/nlsq devices
step tests "$limit" bash -c 'cd build-gpu && ctest -R "^(test_cuda|test_nist_cuda|test_scipy_cuda|test_batch)$" --output-on-failure -V'
# the Python package on the GPU (python/tests/test_gpu.py), where Python 3
# with NumPy and pytest is there
if /usr/bin/python3 -c "import numpy, pytest" 2>/dev/null; then
    step python-gpu "$limit" env NLSQ_LIBRARY="$PWD/build-gpu/libnlsq.so" PYTHONPATH="$PWD/python" \
        PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider -rs python/tests/test_gpu.py
else
    echo "note: no Python 3 with NumPy and pytest here: python/tests/test_gpu.py not run"
fi
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
step bench "$limit" ./build-gpu/bench/bench_gpu 1e5,1e6,1e7 decay,gauss_lin,gauss2d,gauss3 --write "$data"
step bench-1e8 "$limit" ./build-gpu/bench/bench_gpu 1e8 decay,gauss_lin,gauss2d,gauss3
step crossover "$limit" ./build-gpu/bench/bench_gpu 1e3,3e3,1e4,3e4,1e5,3e5,1e6 decay,gauss3
# batches of small fits: the GPU (one thread a fit) against all CPU cores
step batch "$limit" ./build-gpu/bench/bench_batch 1e5 1e6
step batch-warp "$limit" env NLSQ_BATCH_MAPPING=warp ./build-gpu/bench/bench_batch 1e5
py=${NLSQ_JAX_PYTHON:-python3}
if ! "$py" -c 'import jax, nlsq' 2>/dev/null && [ -d bench/gpu/wheels ]; then
    "$py" -m pip install -q --no-index --no-deps --find-links bench/gpu/wheels nlsq 2>/dev/null || true
fi
if "$py" -c 'import jax, nlsq; assert jax.default_backend() == "gpu"' 2>/dev/null; then
    step peer "$limit" env PYTHONUNBUFFERED=1 "$py" bench/gpu/peer_nlsq.py "$data" 1e5,1e6,1e7 \
        decay,gauss_lin,gauss2d,gauss3
else
    echo "note: the Python NLSQ peer needs jax with CUDA and nlsq importable by $py; not run"
    "$py" -c 'import jax, nlsq' 2>&1 | tail -3
fi
# the fold's shape: rows a lane holds (K) and threads a block (TPB), swept
# at 10^7 and 10^8 points on the GPU alone (NLSQ_CUDA_TUNE; "" = the
# kernel's own choice by model size)
for tune in "" K=1 K=2 K=4 K=8 TPB=128 TPB=512 K=2,TPB=512; do
    echo "--- NLSQ_CUDA_TUNE=$tune"
    step "sweep $tune" 60 env BENCH_GPU_ONLY=1 NLSQ_CUDA_TUNE="$tune" ./build-gpu/bench/bench_gpu 1e7,1e8 decay,gauss3
done
# where a pass's time goes: one pass kernel at 10^7 points under Nsight Compute
if command -v ncu >/dev/null; then
    step ncu 120 ncu --kernel-name nlsq_pass --launch-skip 3 --launch-count 1 --section SpeedOfLight \
        --section Occupancy --section LaunchStats ./build-gpu/bench/bench_gpu 1e7 decay,gauss3
fi
echo "=== $failed step(s) failed"
exit $((failed > 0))
