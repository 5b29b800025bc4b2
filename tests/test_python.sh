#!/usr/bin/env bash
# The Python package as a user gets it: `pip install ./python` into a fresh
# virtual environment (the library just built, not a second build), then
# its pytest suite run against that installed copy.
# Then the GPU tests again on the CUDA emulator (tests/emulator).
#   test_python.sh LIBNLSQ SOURCE_DIR BUILD_DIR SANITIZED FAKE_CUDA FAKE_NVRTC VERSION
set -u
export PYTHONDONTWRITEBYTECODE=1
lib=$1 src=$2 build=$3 sanitized=$4 fake_cuda=$5 fake_nvrtc=$6 version=$7
if [ "$sanitized" = 1 ]; then
    echo "SKIP: the Python tests load libnlsq into the interpreter, which is not built with the sanitizers" \
         "(the C tests cover the library under ASan/UBSan)"
    exit 77
fi
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "SKIP: no python3 (make test-deps installs it)"; exit 77; }
if ! "$py" -c "import numpy, pytest, venv" 2>/dev/null; then
    echo "SKIP: $py lacks numpy, pytest or venv (make test-deps installs python3-numpy python3-pytest python3-venv)"
    exit 77
fi
env_dir=$build/python-env
rm -rf "$env_dir"
"$py" -m venv --system-site-packages "$env_dir" || exit 1
# offline-safe: the build backend is the system's setuptools, numpy the system's
# (from a copy: setuptools writes its build folders beside setup.py)
pkg=$build/python-src
rm -rf "$pkg" && mkdir -p "$pkg" && cp -r "$src/python/nlsqc" "$src/python/setup.py" "$src/python/pyproject.toml" \
    "$src/python/README.md" "$pkg/" && rm -rf "$pkg/nlsqc/__pycache__" || exit 1
NLSQ_VERSION=$version NLSQ_LIBRARY=$lib "$env_dir/bin/pip" install -q --no-build-isolation --no-deps --no-index "$pkg" || exit 1
cd "$build" || exit 1
"$env_dir/bin/python" -c "import nlsqc, sys, importlib.metadata as md; i = nlsqc.info(); print('nlsqc', i['nlsqc'], \
'from', nlsqc.__file__, 'library', i['library']); sys.exit(0 if '$env_dir' in nlsqc.__file__ and \
md.version('nlsqc') == nlsqc.__version__ == '$version' else 1)" || exit 1
NLSQ_BUILD_DIR=$build "$env_dir/bin/python" -m pytest -q -p no:cacheprovider -rs "$src/python/tests" || exit 1
echo "== the GPU tests on the CUDA emulator"
NLSQ_CUDA_DRIVER=$fake_cuda NLSQ_NVRTC=$fake_nvrtc NLSQ_TEST_EMULATED_GPU=1 \
    exec "$env_dir/bin/python" -m pytest -q -p no:cacheprovider -rs "$src/python/tests/test_gpu.py"
