#!/usr/bin/env bash
# nlsqc's comm= under MPI: python/tests/test_mpi.py run by mpirun on 1, 2
# and 3 ranks (shared memory), and on 2 over TCP loopback alone; every
# check asserts that each rank's popt, pcov and cost are the bits of the
# single-process fit (curve_fit on arrays, a file, a batch, the global
# search, the bootstrap, a checkpoint and its resume).
#   test_python_mpi.sh LIBNLSQ LIBNLSQ_MPI SOURCE_DIR SANITIZED
set -u
export PYTHONDONTWRITEBYTECODE=1
lib=$1 libmpi=$2 src=$3 sanitized=$4
skip() { echo "SKIP: $*"; exit 77; }
[ "$sanitized" = 1 ] && skip "the Python tests load libnlsq into the interpreter, which is not built with the" \
    "sanitizers (the C MPI tests cover the library under ASan/UBSan)"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || skip "no python3 (make test-deps installs it)"
"$py" -c "import numpy, pytest" 2>/dev/null || skip "$py lacks numpy or pytest (make test-deps installs them)"
# mpi4py, not mpi4py.MPI: importing the package starts no MPI
"$py" -c "import mpi4py" 2>/dev/null || skip "$py has no mpi4py (Debian: apt-get install python3-mpi4py; make test-deps)"
mpirun=$(command -v mpirun || command -v mpiexec) || skip "no mpirun or mpiexec (Debian: apt-get install openmpi-bin)"
command -v timeout >/dev/null || skip "no timeout(1) to bound a run that hangs"

flags=()
if "$mpirun" --version 2>&1 | grep -q "Open MPI"; then
    # this machine may have fewer cores than ranks, and tests may run as root
    flags=(--oversubscribe)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fi
export NLSQ_LIBRARY=$lib NLSQ_MPI_LIBRARY=$libmpi PYTHONPATH=$src/python${PYTHONPATH:+:$PYTHONPATH}
# one thread a rank (a small machine runs the ranks side by side), and a
# lost rank ends the job within 30 s rather than the default 600
export NLSQ_THREADS=1 NLSQ_MPI_TIMEOUT=30

run() { # ranks, extra mpirun arguments...
    local n=$1
    shift
    echo "== $n rank(s) $*"
    timeout -k 5 60 "$mpirun" "${flags[@]}" "$@" -n "$n" "$py" "$src/python/tests/test_mpi.py"
    local rc=$?
    [ $rc = 124 ] && echo "FAIL: $n rank(s) did not finish within 60 s"
    [ $rc = 0 ] || { echo "FAIL: $n rank(s) $* (exit $rc)"; exit 1; }
}
run 1
run 2
run 3
if [ ${#flags[@]} -gt 0 ]; then
    run 2 --mca btl tcp,self  # the triangles through TCP loopback, not shared memory
fi
# A rank that stops taking part must end the job, not hang it: with a
# 3 s bound the waiting rank prints one line and calls MPI_Abort.
echo "== 2 ranks, the last one stuck: the job must end within the timeout"
t0=$(date +%s)
out=$(NLSQ_MPI_TIMEOUT=3 timeout -k 5 60 "$mpirun" "${flags[@]}" -n 2 "$py" "$src/python/tests/test_mpi.py" hang 2>&1)
rc=$? t1=$(date +%s)
echo "$out" | grep -v '^[-]*$' | head -5
[ $rc = 124 ] && { echo "FAIL: the job hung (killed by timeout after 60 s)"; exit 1; }
[ $rc = 0 ] && { echo "FAIL: the job with a stuck rank exited 0"; exit 1; }
echo "$out" | grep -q "nlsq-mpi: rank 0 of 2: waited 3 s .*ending the job" \
    || { echo "FAIL: no 'nlsq-mpi: rank 0 of 2: waited 3 s ... ending the job' line"; exit 1; }
echo "$out" | grep -q "^FAIL" && { echo "FAIL: a rank outlived the abort"; exit 1; }
echo "ended after $((t1 - t0)) s with status $rc"
echo "PASS"
