#!/bin/bash
# Fits over MPI (tests/mpi/test_mpi.c) under mpirun: 1 .. 4 ranks over
# shared memory and over TCP on the loopback interface alone, each rank
# comparing the fit over the communicator with its own single-process fit
# bit for bit; a rank that stops taking part in a checkpointed fit, which
# must end the job by the library's timeout (no hang), one killed, and the checkpoint
# resumed on 3 ranks to the same bits; a read that fails on one rank only.
# Skips (77) with the reason when mpirun is missing or cannot start ranks.
#   test_mpi.sh TEST_MPI_BINARY
set -u
bin=$1
command -v mpirun >/dev/null || { echo "SKIP: mpirun is not installed (apt-get install openmpi-bin)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-mpi-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# Open MPI refuses root without these; ranks share 2 cores here: one
# thread each. ASan's leak check would report MPI's own allocations.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NLSQ_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
failed=0
shm=(--mca pml ob1 --mca btl vader,self)
tcp=(--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo)

# mpirun bounded by timeout, so that a hang fails the test
run() { # SECONDS N TRANSPORT... -- ARGS...
    local limit=$1 n=$2
    shift 2
    local opts=()
    while [ "$1" != "--" ]; do opts+=("$1"); shift; done
    shift
    timeout -k 5 "$limit" mpirun --oversubscribe -n "$n" "${opts[@]}" "$bin" "$@"
}

if ! out=$(timeout 60 mpirun --oversubscribe -n 2 "${shm[@]}" true 2>&1); then
    echo "SKIP: mpirun cannot start ranks here:"
    echo "$out" | head -20
    exit 77
fi

for transport in shm tcp; do
    if [ $transport = shm ]; then opts=("${shm[@]}"); else opts=("${tcp[@]}"); fi
    for n in 1 2 3 4; do
        start=$(date +%s%N)
        if run 120 $n "${opts[@]}" -- all "$tmp" > "$tmp/out" 2>&1; then
            printf 'ok   %-3s %d ranks: %s (%d ms)\n' $transport $n "$(tail -1 "$tmp/out")" \
                $(( ($(date +%s%N) - start) / 1000000 ))
        else
            echo "FAIL $transport $n ranks:"; cat "$tmp/out"; failed=1
        fi
    done
done

# A rank that stops taking part mid-fit (after 3 iterations it sleeps
# 30 s): the others' waits end at NLSQ_MPI_TIMEOUT=3 s with one line and
# the job ends, well before the sleeper would wake.
ckpt=$tmp/fit.ckpt
start=$(date +%s%N)
NLSQ_MPI_TIMEOUT=3 run 60 2 "${shm[@]}" -- stall "$ckpt" > "$tmp/out" 2>&1
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -ne 0 ] && [ $took -lt 15000 ] \
    && grep -q 'nlsq-mpi: rank [0-9]* of 2: waited' "$tmp/out"; then
    printf 'ok   a stalled rank ended the job in %d ms (exit %d): %s\n' $took $rc \
        "$(grep -m1 'nlsq-mpi: rank' "$tmp/out")"
else
    echo "FAIL a stalled rank: exit $rc after $took ms (want nonzero, < 15 s, the 'waited' line):"
    cat "$tmp/out"; failed=1
fi
# ... and one killed mid-fit: the job ends, without waiting for a timeout.
start=$(date +%s%N)
NLSQ_MPI_TIMEOUT=3 run 60 3 "${shm[@]}" -- kill "$tmp/killed.ckpt" > "$tmp/out" 2>&1
rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $rc -ne 0 ] && [ $took -lt 15000 ] && [ -s "$tmp/killed.ckpt" ]; then
    printf 'ok   a killed rank ended the job in %d ms (exit %d)\n' $took $rc
else
    echo "FAIL a killed rank: exit $rc after $took ms (want nonzero, < 15 s, a checkpoint):"
    cat "$tmp/out"; failed=1
fi
if [ -s "$ckpt" ]; then
    if run 120 3 "${shm[@]}" -- resume "$ckpt" > "$tmp/out" 2>&1; then
        echo "ok   the checkpoint resumed on 3 ranks: $(tail -1 "$tmp/out")"
    else
        echo "FAIL resume on 3 ranks:"; cat "$tmp/out"; failed=1
    fi
else
    echo "FAIL the stalled job left no checkpoint at $ckpt"; failed=1
fi

# A read that fails on the last rank only: the same words on every rank.
for spec in "3 shm" "2 tcp"; do
    set -- $spec
    if [ "$2" = shm ]; then opts=("${shm[@]}"); else opts=("${tcp[@]}"); fi
    if run 60 "$1" "${opts[@]}" -- badread > "$tmp/out" 2>&1; then
        echo "ok   a failed read on $1 ranks ($2): $(grep -m1 'every rank' "$tmp/out")"
    else
        echo "FAIL a failed read on $1 ranks ($2):"; cat "$tmp/out"; failed=1
    fi
done

[ $failed = 0 ] && echo "test_mpi: all passed" || echo "test_mpi: FAILED"
exit $failed
