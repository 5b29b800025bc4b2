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

# A rank that stops taking part mid-fit (after 3 iterations the last one
# sleeps 30 s): the others' waits end at NLSQ_MPI_TIMEOUT=3 s with one line
# and the job ends, well before the sleeper would wake; a rank killed
# mid-fit (SIGKILL) ends the job too. Each time the checkpoint that process
# 0 wrote resumes on 3 ranks to the single-process fit's bits.
for spec in "stall 4 tcp" "kill 2 shm"; do
    set -- $spec
    how=$1 n=$2
    if [ "$3" = shm ]; then opts=("${shm[@]}"); else opts=("${tcp[@]}"); fi
    ckpt=$tmp/$how.ckpt
    start=$(date +%s%N)
    NLSQ_MPI_TIMEOUT=3 run 60 $n "${opts[@]}" -- $how "$ckpt" > "$tmp/out" 2>&1
    rc=$?
    took=$(( ($(date +%s%N) - start) / 1000000 ))
    line=$(grep -m1 "nlsq-mpi: rank [0-9]* of $n: waited" "$tmp/out")
    if [ $rc -ne 0 ] && [ $took -lt 15000 ] && { [ $how = kill ] || [ -n "$line" ]; }; then
        printf 'ok   %s: a rank of %d (%s) ended the job in %d ms (exit %d) %s\n' $how $n $3 $took $rc "$line"
    else
        echo "FAIL $how: exit $rc after $took ms (want nonzero, < 15 s${line:-, the 'waited' line}):"
        cat "$tmp/out"; failed=1
    fi
    if [ ! -s "$ckpt" ]; then
        echo "FAIL $how: the job left no checkpoint at $ckpt"; failed=1
    elif run 120 3 "${shm[@]}" -- resume "$ckpt" > "$tmp/out" 2>&1; then
        echo "ok   $how: its checkpoint (written on $n ranks) resumed on 3: $(tail -1 "$tmp/out")"
    else
        echo "FAIL $how: resume on 3 ranks:"; cat "$tmp/out"; failed=1
    fi
done

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

# Steps that fail or stop on some ranks only: every call ends on every
# rank with the same words, well before NLSQ_MPI_TIMEOUT would end the job.
for n in 1 3; do
    if NLSQ_MPI_TIMEOUT=20 run 60 $n "${shm[@]}" -- onesided > "$tmp/out" 2>&1; then
        echo "ok   one-sided steps on $n ranks: $(tail -1 "$tmp/out")"
    else
        echo "FAIL one-sided steps on $n ranks:"; cat "$tmp/out"; failed=1
    fi
done

[ $failed = 0 ] && echo "test_mpi: all passed" || echo "test_mpi: FAILED"
exit $failed
