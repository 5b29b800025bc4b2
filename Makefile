# Convenience wrapper around CMake for the README's commands.
#   make demo   build, then fit the bundled example data (report, and the plot nlsq-demo.svg)
#   make test   build, then run the whole test suite (ctest, JOBS tests at a time)
#   make test-full  the same with the exhaustive sweeps at full size (NLSQ_TEST_FULL=1:
#               1,000 random models through the JIT, 200 through NVRTC, a signal at every call)
#   make install  install into PREFIX (default /usr/local)
#   make asan   the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz   the libFuzzer targets: parser and evaluator, every reader and loader
#               (FUZZ_SECONDS=60 shared among them)
#   make bench  bench/eval (interpreter, compiled kernel, hand-written C) and bench/latency
#   make bench-fit  bench/fit: nlsq vs SciPy, MINPACK, GSL, Ceres (installs the peers)
#   make bench-batch  bench/batch: batches of small fits vs GSL, cminpack, SciPy loops
#   make bench-python  bench/python: nlsqc.curve_fit vs scipy.optimize.curve_fit from Python
#   make bench-global  bench/global: fits with no start values (nlsqc p0='auto' vs SciPy, lmfit, NLSQ;
#               installs the peers with pip where it can)
#   make bench-global-fit  bench/global_fit: shared-parameter fits of D = 10..10^5 data sets
#               (nlsq_fit_shared) vs SciPy least_squares (sparse, dense) and Ceres's sparse Schur
#               (installs libceres-dev; MAX_D=1e4 stops there)
#   make bench-uncertainty  bench/uncertainty: intervals, bands, profiles, bootstrap and MCMC against
#               lmfit, emcee and SciPy (installs them with pip into build-bench/unc-env)
#   make bench-mpi  bench/mpi: a fit over 1, 2, 4 MPI ranks vs the threaded process, latency and
#               bandwidth, a model of a pass on 1000 nodes (docs/benchmarks.md, "MPI")
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
CLANG_RT = $(wildcard /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)

.PHONY: all install deps configure test test-full test-deps demo bench bench-fit bench-batch bench-python bench-global bench-global-fit bench-uncertainty bench-mpi asan fuzz fuzz-deps clean

all: configure
	cmake --build $(BUILD) -j $(JOBS)

# make install PREFIX=/opt/nlsq (default /usr/local): library, header,
# command, man page, nlsq.pc and the CMake package.
PREFIX ?= /usr/local
install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

# Installs the build tool on a fresh Debian machine (we run as root there).
# HDF5 (libhdf5-dev) and zlib (zlib1g-dev) are optional: found at
# configure time, so they are installed before it; without them the
# library builds and refuses HDF5 files and deflated .npz members.
deps:
	@command -v cmake >/dev/null || { apt-get update && apt-get install -y cmake; }
	@{ [ -f /usr/include/hdf5/serial/hdf5.h ] && [ -f /usr/include/zlib.h ]; } \
	    || { apt-get update -q && apt-get install -y -q libhdf5-dev zlib1g-dev; } \
	    || echo "note: libhdf5-dev or zlib1g-dev could not be installed; HDF5 files and deflated .npz members will be refused"
	@{ command -v mpicc && command -v mpirun; } >/dev/null \
	    || { apt-get update -q && apt-get install -y -q libopenmpi-dev openmpi-bin; } \
	    || echo "note: libopenmpi-dev or openmpi-bin could not be installed; libnlsq_mpi and nlsq-mpi will not be built"

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

# The CLI test renders the SVG plot with an independent renderer (Debian's
# librsvg2-bin); without it that check reports SKIP.
# The Python package's tests need NumPy, pytest, venv and setuptools (and
# SciPy as their reference): Debian's packages.
# The install test builds a user's program with pkg-config and renders the
# man page with man (Debian's pkgconf and man-db).
PY_DEPS = python3-numpy python3-scipy python3-pytest python3-venv python3-setuptools python3-wheel
test-deps:
	@/usr/bin/python3 -c "import mpi4py" 2>/dev/null || { apt-get update -q && apt-get install -y -q python3-mpi4py; } \
	    || echo "note: python3-mpi4py could not be installed; the Python MPI tests will be skipped"
	@command -v ip >/dev/null || { apt-get update -q && apt-get install -y -q iproute2; } \
	    || echo "note: iproute2 could not be installed; the network-namespace MPI test will be skipped"
	@command -v rsvg-convert >/dev/null || { apt-get update -q && apt-get install -y -q librsvg2-bin; } \
	    || echo "note: librsvg2-bin could not be installed; the SVG rendering check will be skipped"
	@{ command -v pkg-config && command -v man; } >/dev/null || { apt-get update -q && apt-get install -y -q pkgconf man-db; } \
	    || echo "note: pkgconf or man-db could not be installed; the install test will skip those checks"
	@/usr/bin/python3 -c "import numpy, scipy, pytest, venv, setuptools, wheel" 2>/dev/null \
	    || { apt-get update -q && apt-get install -y -q $(PY_DEPS); } \
	    || echo "note: $(PY_DEPS) could not be installed; the Python tests will be skipped"
	@# the HDF5 tests' files are written by h5py, an independent writer
	@/usr/bin/python3 -c "import h5py" 2>/dev/null || { apt-get update -q && apt-get install -y -q python3-h5py; } \
	    || echo "note: python3-h5py could not be installed; the HDF5 tests will be skipped"

test: all test-deps
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

test-full: all test-deps
	cd $(BUILD) && NLSQ_TEST_FULL=1 ctest -j $(JOBS) --output-on-failure

demo: all
	./$(BUILD)/tools/nlsq demo

bench: all
	./$(BUILD)/bench/bench_eval
	./$(BUILD)/bench/bench_latency ./$(BUILD)/tools/nlsq

bench-fit: deps
	bash bench/fit.sh

bench-batch: deps
	bash bench/batch.sh

bench-python: deps
	bash bench/python/run.sh

bench-global: deps
	bash bench/global/run.sh

bench-global-fit: deps
	bash bench/global_fit/run.sh $(MAX_D)

bench-uncertainty: deps
	bash bench/uncertainty/run.sh

bench-mpi: deps
	mkdir -p build-bench
	bash -o pipefail -c "bash bench/mpi.sh | tee build-bench/mpi.log"
	/usr/bin/python3 bench/mpi/summarize.py build-bench/mpi.log

asan: deps test-deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNLSQ_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	@# the CUDA emulator's built kernels do not depend on the sanitizers: those of make test serve here too
	mkdir -p $(BUILD)/test-cache
	cd build-asan && NLSQ_EMU_CACHE=$(abspath $(BUILD))/test-cache/nlsq-emu ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 ctest -j $(JOBS) --output-on-failure

fuzz-deps: deps
	@if ! command -v clang >/dev/null || [ -z "$(CLANG_RT)" ]; then \
	    apt-get update && apt-get install -y clang libclang-rt-14-dev; fi

# Every fuzz target (tests/fuzz: the model parser and every reader and
# loader) for an equal share of FUZZ_SECONDS. The corpora grow in
# build-fuzz/corpus/NAME; the seeds in tests/fuzz/corpus/NAME stay as they are.
FUZZ_TARGETS = model table npy raw checkpoint colcache options eval nexus npz numbers
fuzz: fuzz-deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNLSQ_FUZZ=ON -DNLSQ_SANITIZE=ON
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	bash tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench
