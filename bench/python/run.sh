#!/usr/bin/env bash
# bench/python: nlsqc from Python against SciPy's curve_fit (same process)
# and, where it can be installed (Python >= 3.12 and the package index),
# the Python NLSQ library, on the data of bench/fit; then the callback
# path (untraceable models) against SciPy (bench/python/fallback.py).
#   bench/python/run.sh [SIZES] [MODELS] [SCIPY_MAX]
#   default 1e3,1e4,1e5,1e6,1e7, all four models, SciPy at every size
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=${1:-1e3,1e4,1e5,1e6,1e7}
models=${2:-decay,gauss_lin,gauss2d,gauss3}
scipy_max=${3:-inf}
make -s deps test-deps >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j "$(nproc)" --target nlsq bench_fit >/dev/null
env_dir=build-bench/python-env
[ -x "$env_dir/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$env_dir"
NLSQ_LIBRARY=$PWD/build-bench/libnlsq.so "$env_dir/bin/pip" install -q --no-build-isolation --no-deps --no-index \
    --force-reinstall ./python
rm -rf python/build python/nlsqc.egg-info
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./build-bench/bench/bench_fit --sizes "$sizes" --models "$models" --write "$dir" >/dev/null
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$env_dir/bin/python" bench/python/bench.py "$dir" "$sizes" "$models" \
    "$scipy_max"
jaxpy=${NLSQ_JAX_PYTHON:-/opt/nlsq-peer/bin/python}
if [ -x "$jaxpy" ]; then
    echo
    echo "Python NLSQ (JAX, CPU), same data (RESULT model points peer seconds nfev cost params):"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$jaxpy" bench/peer_nlsq_jax.py "$dir" "$sizes" "$models"
else
    echo "note: the Python NLSQ (JAX) peer is not installed (needs Python >= 3.12 and the package index;" \
         "bench/fit.sh installs it into /opt/nlsq-peer when it can)" >&2
fi
echo
echo "The callback path (models nlsqc cannot trace) against SciPy's curve_fit, same function:"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$env_dir/bin/python" bench/python/fallback.py 1000 10000 100000
