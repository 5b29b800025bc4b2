#!/usr/bin/env bash
# bench/fit: nlsq against SciPy, MINPACK (cminpack), GSL and Ceres on the
# four reference models, in one run on this machine. Installs the peers
# (Debian packages) when missing. Prints a table of seconds and the ratio
# peer/nlsq (> 1: nlsq is faster), and checks that every peer reached
# nlsq's solution (largest relative parameter difference).
#
#   bench/fit.sh [SIZES] [MODELS]      default 1e3,1e4,1e5,1e6,1e7 and all four
#
# nlsq runs three ways: compiled kernel on all cores ("nlsq", the ratios'
# base), on one thread ("nlsq-1t", as the peers: Ceres is given one
# thread; MINPACK, GSL and SciPy's lm have one), and the interpreter on one
# thread. The Python NLSQ library (JAX, CPU) runs too where it can be
# installed (a Python >= 3.12 with the package index: see
# bench/peer_nlsq_jax.py); its first call (tracing and XLA compilation)
# and a repeated call are reported apart.
set -euo pipefail
unset NLSQ_THREADS NLSQ_BACKEND
cd "$(dirname "$0")/.."
sizes=${1:-1e3,1e4,1e5,1e6,1e7}
models=${2:-decay,gauss_lin,gauss2d,gauss3}
need=()
for p in libcminpack-dev libgsl-dev libceres-dev python3-scipy; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q "${need[@]}"; fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DNLSQ_BENCH_PEERS=ON >/dev/null
cmake --build build-bench -j "$(nproc)" --target bench_fit bench_ceres >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$dir/results.txt
./build-bench/bench/bench_fit --sizes "$sizes" --models "$models" --write "$dir"
./build-bench/bench/bench_fit --sizes "$sizes" --models "$models" | tee -a "$out" >&2
./build-bench/bench/bench_ceres --sizes "$sizes" --models "$models" | tee -a "$out" >&2
# Debian's numpy is slowed by the OpenBLAS settings of this workplace: unset them for the peer
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/peer_scipy.py "$dir" "$sizes" "$models" | tee -a "$out" >&2
jaxpy=${NLSQ_JAX_PYTHON:-/opt/nlsq-peer/bin/python}
if [ ! -x "$jaxpy" ]; then
    py312=$(command -v python3.12 || ls -d ~/.pyenv/versions/3.12*/bin/python 2>/dev/null | head -1 || true)
    if [ -n "$py312" ] && "$py312" -m venv /opt/nlsq-peer 2>/dev/null && /opt/nlsq-peer/bin/pip install -q nlsq; then
        jaxpy=/opt/nlsq-peer/bin/python
    fi
fi
if [ -x "$jaxpy" ]; then
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$jaxpy" bench/peer_nlsq_jax.py "$dir" "$sizes" "$models" | tee -a "$out" >&2
else
    echo "note: the Python NLSQ (JAX) peer is not installed (needs Python >= 3.12 and the package index)" >&2
fi
/usr/bin/python3 bench/fit_table.py < "$out"
