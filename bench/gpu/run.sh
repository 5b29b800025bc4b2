#!/usr/bin/env bash
# bench/gpu: one script that builds, checks and times on a GPU machine.
#   1. builds nlsq (Release) and runs test_cuda, test_nist_cuda and
#      test_scipy_cuda: the GPU results agree with the CPU and NIST;
#   2. bench_gpu: the four reference models at 10^5 ... 10^8 points on the
#      GPU and on all CPU cores, the pass's bytes per second against a
#      device-to-device copy measured in the same run;
#   3. the Python NLSQ library (JAX) on the same data and GPU, where JAX
#      with CUDA is installed (its wheel and small pure-Python dependencies
#      may be put in bench/gpu/wheels and are installed from there).
#
#   bench/gpu/run.sh [SIZES] [MODELS]     default 1e5,1e6,1e7,1e8 and all four
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${1:-1e5,1e6,1e7,1e8}
models=${2:-decay,gauss_lin,gauss2d,gauss3}
command -v cmake >/dev/null || { apt-get update -q && apt-get install -y -q cmake; }
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-gpu -j "$(nproc)" >/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
./build-gpu/tools/nlsq devices
(cd build-gpu && ctest -R 'test_cuda|_cuda' --output-on-failure)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./build-gpu/bench/bench_gpu "$sizes" "$models" --write "$dir" | tee "$dir/results.txt"
py=${NLSQ_JAX_PYTHON:-python3}
if ! "$py" -c 'import jax, nlsq' 2>/dev/null && [ -d bench/gpu/wheels ]; then
    "$py" -m pip install -q --no-index --find-links bench/gpu/wheels nlsq 2>/dev/null || true
fi
if "$py" -c 'import jax, nlsq; assert jax.default_backend() == "gpu"' 2>/dev/null; then
    "$py" bench/gpu/peer_nlsq.py "$dir" "$sizes" "$models" | tee -a "$dir/results.txt"
else
    echo "note: the Python NLSQ peer needs jax with CUDA and nlsq importable by $py; not run"
fi
