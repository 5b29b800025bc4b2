#!/usr/bin/env bash
# nlsq-mpi (issue 22), driven as a user drives it: `mpirun -n N nlsq-mpi
# fit|batch ...` against `nlsq fit|batch` on the same data. On 1 to 4
# ranks over shared memory (btl vader) and over TCP loopback only (btl
# tcp): popt, pcov and cost of --json the same text (17 digits: the same
# bits) for a CSV and a mapped .npy of 2*10^6 rows (the chunks span every
# rank) and for the four reference models (tests/models.h); batches
# byte for byte (wide and long layouts); only rank 0 prints and writes; a
# rank killed mid-fit ends the job (no hang) and the checkpoint resumes on
# 3 ranks to the same bits; bad input gives nlsq's message and status.
# Usage: test_mpi_cli.sh PATH/TO/nlsq PATH/TO/nlsq-mpi
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
nlsq_mpi=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
if ! command -v mpirun >/dev/null; then
    echo "SKIP test_mpi_cli: no mpirun (apt-get install openmpi-bin)"
    exit 77
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-mpi-cli.XXXXXX") || exit 1
trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1
export XDG_CACHE_HOME=$w/cache NLSQ_THREADS=1
# Open MPI refuses root without these (containers, CI)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under ASan the leak check would report Open MPI's own allocations (its
# components are unloaded before the check runs); our code's leaks are
# checked by test_group, the same paths in one process.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# a hang fails the test (the job's own bound: NLSQ_MPI_TIMEOUT)
export NLSQ_MPI_TIMEOUT=${NLSQ_MPI_TIMEOUT:-20}
passed=0 failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1 (${SECONDS} s)"; else failed=$((failed + 1)); echo "FAIL $1 (${SECONDS} s)"; fi
}
# ranks, btl, then nlsq-mpi's arguments
run_mpi() {
    local n=$1 btl=$2
    shift 2
    timeout 60 mpirun --oversubscribe -n "$n" --mca btl "$btl,self" "$nlsq_mpi" "$@"
}
# the result's numbers as --json prints them
bits() { sed -n '/"popt"/,/"cost"/p' "$1"; }
same_bits() { [ -s "$1" ] && [ -s "$2" ] && [ -n "$(bits "$1")" ] && [ "$(bits "$1")" = "$(bits "$2")" ]; }

# 2*10^6 rows of an exponential decay: text over 64 MB goes through a
# column cache, itself a .npy, which is mapped
awk 'BEGIN { print "t,signal"; s = 12345; for (i = 0; i < 2000000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
     x = 10 * i / 2000000; printf "%.17g,%.17g\n", x, 2.5*exp(-1.3*x) + 0.5 + 0.05*(s/2147483648 - 0.5) } }' >big.csv
decay=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --json)
"$nlsq" fit big.csv --column-cache big.npy "${decay[@]}" >one_csv.json
"$nlsq" fit big.npy "${decay[@]}" >one_npy.json
check "nlsq: the CSV (through its cache) and the .npy give the same fit" "same_bits one_csv.json one_npy.json"

for btl in vader tcp; do
    for n in 1 2 3 4; do
        run_mpi $n $btl fit big.npy "${decay[@]}" >m.json 2>err; rc=$?
        check "fit .npy, $n rank(s) over $btl: popt, pcov, cost bitwise nlsq's" "[ $rc -eq 0 ] && same_bits one_npy.json m.json"
    done
done
# a piece of the data per rank (--per-rank): uneven cuts inside chunks,
# the second piece of three a CSV, the whole's fit bitwise
head -1 big.csv >piece-0.csv; sed -n '2,20001p' big.csv >>piece-0.csv
head -1 big.csv >piece-1.csv; sed -n '20002,1500000p' big.csv >>piece-1.csv
head -1 big.csv >piece-2.csv; sed -n '1500001,2000001p' big.csv >>piece-2.csv
run_mpi 3 tcp fit 'piece-{rank}.csv' --per-rank "${decay[@]}" >m.json 2>err; rc=$?
check "fit --per-rank, 3 ranks each with its own CSV piece: the whole's bits" "[ $rc -eq 0 ] && same_bits one_csv.json m.json"
run_mpi 3 vader fit 'piece-{rank}.csv' --per-rank --model 'a*exp(-b*x) + c' >/dev/null 2>err; rc=$?
check "fit --per-rank without --p0 (an estimate reads every row): refused with one message" \
    "[ $rc -eq 2 ] && grep -q 'give --p0 for every parameter' err && [ \$(grep -c '^nlsq:' err) -eq 1 ]"
rm -f piece-*.csv
for n in 2 3; do
    run_mpi $n vader fit big.csv --column-cache "cc$n.npy" "${decay[@]}" >m.json 2>err; rc=$?
    check "fit CSV, $n ranks: a new column cache made once (rank 0 first), the same bits" \
        "[ $rc -eq 0 ] && same_bits one_csv.json m.json && cmp -s big.npy cc$n.npy"
done
run_mpi 3 tcp fit big.csv "${decay[@]}" >m.json 2>err; rc=$?
check "fit CSV, 3 ranks over tcp, the automatic cache: the same bits" "[ $rc -eq 0 ] && same_bits one_csv.json m.json"


# The four reference models (tests/models.h), 50000 points each (4 chunks).
awk 'BEGIN { s = 7; for (i = 0; i < 50000; i++) { s = (s * 1103515245 + 12345) % 2147483648; e = 0.02 * (s / 2147483648 - 0.5);
     x = -3 + 6 * i / 50000;
     printf "%.17g,%.17g,%.17g,%.17g\n", x, 2.5*exp(-1.3*(x+3)) + 0.5 + e,
         3*exp(-(x-0.2)^2/(2*0.7^2)) + 0.1 + 0.05*x + e,
         1*exp(-(x+1)^2/(2*0.5^2)) + 2*exp(-x^2/(2*0.3^2)) + 1.5*exp(-(x-1.2)^2/(2*0.4^2)) + 0.1 + e } }' >m1.csv
awk 'BEGIN { s = 9; for (i = 0; i < 250; i++) for (j = 0; j < 200; j++) { s = (s * 1103515245 + 12345) % 2147483648;
     x = -2 + 4 * i / 250; y = -2 + 4 * j / 200;
     printf "%.17g,%.17g,%.17g\n", x, y, 3*exp(-((x-0.1)^2/(2*0.8^2) + (y+0.2)^2/(2*0.6^2))) + 0.3 + 0.02*(s/2147483648 - 0.5) } }' >m2.csv
ref_args() { # model number
    case $1 in
    1) echo "m1.csv|--y|2|--model|a*exp(-b*(x+3)) + c|--p0|a=2,b=1,c=0" ;;
    2) echo "m1.csv|--y|3|--model|A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x|--p0|A=2,mu=0,s=1,c0=0,c1=0" ;;
    3) echo "m2.csv|--vars|x,y|--model|A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B|--p0|A=2,x0=0,sx=1,y0=0,sy=1,B=0" ;;
    4) echo "m1.csv|--y|4|--model|a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c|--p0|a1=0.8,m1=-0.9,s1=0.6,a2=1.8,m2=0.1,s2=0.4,a3=1.3,m3=1.1,s3=0.5,c=0" ;;
    esac
}
names=("" "exponential decay" "gaussian + linear" "2-D gaussian" "3 gaussians + c")
for k in 1 2 3 4; do
    IFS='|' read -r -a args <<<"$(ref_args $k)"
    "$nlsq" fit "${args[@]}" --json >ref.json
    for n in 1 3; do
        btl=vader
        [ $n -eq 3 ] && [ $k -ge 3 ] && btl=tcp
        run_mpi $n $btl fit "${args[@]}" --json >m.json 2>err; rc=$?
        check "${names[$k]}: $n rank(s) over $btl, the same bits as nlsq" "[ $rc -eq 0 ] && same_bits ref.json m.json"
    done
done

# Only rank 0 prints and writes: one report, the files nlsq writes.
"$nlsq" fit m1.csv --y 2 --model 'a*exp(-b*(x+3)) + c' --p0 a=2,b=1,c=0 --predict p1.csv --plot p1.svg >r1.txt 2>e1.txt
run_mpi 3 vader fit m1.csv --y 2 --model 'a*exp(-b*(x+3)) + c' --p0 a=2,b=1,c=0 --predict p3.csv --plot p3.svg >r3.txt 2>e3.txt; rc=$?
check "3 ranks: one report, nlsq's (but for its time), --predict and --plot as nlsq writes them" \
    "[ $rc -eq 0 ] && [ -s r1.txt ] && [ \"\$(grep -v '^method' r1.txt)\" = \"\$(grep -v '^method' r3.txt)\" ] && cmp -s p1.csv p3.csv && cmp -s p1.svg p3.svg"

# Fewer chunks (16384 points) than ranks: the ranks past the data hold none.
awk 'BEGIN { print "x,y"; for (i = 0; i < 3000; i++) { x = 4 * i / 3000; printf "%.17g,%.17g\n", x, 2.5*exp(-1.3*x) + 0.5 + 0.01*sin(17*i) } }' >small.csv
"$nlsq" fit small.csv "${decay[@]}" >ref.json
for n in 2 4; do
    run_mpi $n vader fit small.csv "${decay[@]}" >m.json 2>err; rc=$?
    check "3000 points (one chunk) on $n ranks: the same bits" "[ $rc -eq 0 ] && same_bits ref.json m.json"
done

# The global search, the profiles, the bootstrap and the sampler on every
# rank (each over the group where the library spreads it): the whole JSON
# report is nlsq's but for the times and where it ran.
# (and for how many of the sampler's passes a compiled kernel was ready:
# the first process to run the model compiles it, the others find it)
untimed() { sed -e 's/"[a-z_]*seconds": [-0-9.e+]*//g' -e 's/"jit_passes": [0-9]*//' -e '/"device_note"/d' -e '/"backend_note"/d' "$1"; }
extras=(--model 'a*exp(-b*x) + c' --global 16 --bootstrap 50 --profile all --mcmc 300 --seed 5 --json)
"$nlsq" fit small.csv "${extras[@]}" >ref.json 2>/dev/null
run_mpi 3 vader fit small.csv "${extras[@]}" >m.json 2>err; rc=$?
check "--global, --bootstrap, --profile, --mcmc on 3 ranks: nlsq's report" "[ $rc -eq 0 ] && [ -s ref.json ] && [ \"\$(untimed ref.json)\" = \"\$(untimed m.json)\" ]"

# Batches: each rank fits its share, rank 0 writes every row.
awk 'BEGIN { printf "x"; for (c = 0; c < 40; c++) printf ",c%d", c; printf "\n";
     for (i = 0; i < 30; i++) { x = i * 0.2; printf "%.17g", x;
         for (c = 0; c < 40; c++) printf ",%.17g", (1 + c / 20) * exp(-(0.5 + c / 40) * x) + 0.002 * sin(7 * i + c); printf "\n" } }' >wide.csv
awk 'BEGIN { print "id,x,y"; for (c = 0; c < 40; c++) for (i = 0; i < 25; i++) { x = i * 0.2;
     printf "%d,%.17g,%.17g\n", 100 + c, x, (1 + c / 20) * exp(-(0.5 + c / 40) * x) + 0.002 * cos(5 * i + c) } }' >long.csv
batch=(--model 'a*exp(-b*x)' --p0 a=1,b=1)
"$nlsq" batch wide.csv "${batch[@]}" >wide1.csv 2>/dev/null
"$nlsq" batch long.csv --id id --x x "${batch[@]}" --format jsonl >long1.jsonl 2>/dev/null
for n in 2 3 4; do
    btl=vader
    [ $n -eq 3 ] && btl=tcp
    run_mpi $n $btl batch wide.csv "${batch[@]}" >widen.csv 2>err; rc=$?
    check "batch, wide layout, $n ranks over $btl: the rows byte for byte" "[ $rc -eq 0 ] && [ -s wide1.csv ] && cmp -s wide1.csv widen.csv"
    run_mpi $n $btl batch long.csv --id id --x x "${batch[@]}" --out longn.jsonl 2>err; rc=$?
    check "batch, long layout, $n ranks over $btl: --out (JSON lines) byte for byte" "[ $rc -eq 0 ] && [ -s long1.jsonl ] && cmp -s long1.jsonl longn.jsonl"
done
run_mpi 3 vader batch wide.csv "${batch[@]}" --device cuda >/dev/null 2>err; rc=$?
"$nlsq" batch wide.csv "${batch[@]}" --device cuda >/dev/null 2>err1; rc1=$?
check "batch --device cuda, no GPU here: nlsq's status and device note" "[ $rc -eq $rc1 ] && grep -q '^  device:' err1 && grep -qxF \"\$(grep '^  device:' err1)\" err"
run_mpi 2 vader fit big.npy "${decay[@]}" --device cuda >/dev/null 2>err; rc=$?
check "fit --device cuda on ranks: refused, saying a group runs on the CPU" "[ $rc -eq 2 ] && grep -q 'runs on the CPU' err && [ \$(grep -c '^nlsq:' err) -eq 1 ]"

# Exit status: nlsq's (1: not converged) through mpirun.
"$nlsq" fit big.npy "${decay[@]}" --max-nfev 2 >/dev/null 2>&1; rc1=$?
run_mpi 3 vader fit big.npy "${decay[@]}" --max-nfev 2 >/dev/null 2>&1; rc=$?
check "a fit stopped by --max-nfev: mpirun exits $rc1 as nlsq does" "[ $rc1 -eq 1 ] && [ $rc -eq $rc1 ]"

# Bad input: nlsq's message (once) and status.
{ echo "x,y"; echo "0,1"; echo "1,nan"; for i in 2 3 4 5; do echo "$i,$((i * 2))"; done; } >nan.csv
same_failure() { # what, then the arguments of fit
    local what=$1
    shift
    "$nlsq" fit "$@" >/dev/null 2>e1; local rc1=$?
    run_mpi 3 vader fit "$@" >/dev/null 2>e3; local rc3=$?
    check "$what: status $rc1 and nlsq's message, once" \
        "[ $rc1 -eq 2 ] && [ $rc3 -eq $rc1 ] && [ -s e1 ] && [ \$(grep -cxF \"\$(head -n 1 e1)\" e3) -eq 1 ]"
}
same_failure "a NaN in y (nan_policy raise)" nan.csv --model 'a*x + b'
same_failure "a missing column" big.npy --model 'a*x' --y nosuch
same_failure "a missing file" nosuch.csv --model 'a*x'
# a failure on one rank only (MPMD: ranks 1 and 2 are given another file):
# rank 0 names that rank and its message, and every rank exits 2
timeout 60 mpirun --oversubscribe --mca btl vader,self -n 1 "$nlsq_mpi" fit small.csv "${decay[@]}" : \
    -n 2 "$nlsq_mpi" fit nosuch.csv "${decay[@]}" >/dev/null 2>err; rc=$?
check "a file missing on ranks 1 and 2 only: status 2, rank 0 names process 1 and why" \
    "[ $rc -eq 2 ] && grep -qx 'nlsq: process 1 of 3: nosuch.csv: No such file or directory' err"

run_mpi 2 vader fit - "${decay[@]}" <small.csv >/dev/null 2>err; rc=$?
check "data from standard input (rank 0's alone): refused once, saying a file is needed" \
    "[ $rc -eq 2 ] && [ \$(grep -c 'standard input reaches rank 0 alone' err) -eq 1 ]"

# A rank killed mid-fit: the job ends (no hang), and the checkpoint
# resumes on 3 ranks to the uninterrupted fit's bits.
start=$(date +%s)
NLSQ_TEST_KILL_IN_CHECKPOINT=3 run_mpi 3 vader fit big.npy "${decay[@]}" --checkpoint ck >/dev/null 2>err; rc=$?
took=$(($(date +%s) - start))
check "rank 0 killed (SIGKILL) writing its 3rd checkpoint: the job ends with an error, in ${took} s" \
    "[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $took -lt 30 ] && [ -s ck ]"
run_mpi 3 tcp fit big.npy "${decay[@]}" --resume ck --verbose >m.json 2>err; rc=$?
check "--resume on 3 ranks: the uninterrupted single-process bits" "[ $rc -eq 0 ] && same_bits one_npy.json m.json && grep -q 'evaluations taken from it' err"

# A rank killed by kill -9, or stopped (SIGSTOP: a hung rank), after the
# first checkpoint write (a fit of two gaussians to the decay: slow enough
# to be caught). The rank is found by its environment: this test's tag and
# Open MPI's rank.
slow=(--model 'a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + c' --p0 a1=1,m1=1,s1=1,a2=1,m2=5,s2=2,c=0 --max-nfev 400)
rank_pid() { # tag, rank, checkpoint file: the rank's pid once the file is written
    for _ in $(seq 1 400); do
        if [ -s "$3" ]; then
            for p in /proc/[0-9]*; do
                if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "NLSQ_TEST_TAG=$1" &&
                    tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
                    echo "${p#/proc/}"
                    return
                fi
            done
            return
        fi
        sleep 0.05
    done
}
for how in KILL STOP; do
    rm -f ck2
    tag=nlsq-mpi-cli-$$-$how
    start=$(date +%s)
    NLSQ_MPI_TIMEOUT=2 NLSQ_TEST_TAG=$tag run_mpi 3 vader fit big.npy "${slow[@]}" --checkpoint ck2 >/dev/null 2>err &
    job=$!
    victim=$(rank_pid "$tag" 1 ck2)
    [ -n "$victim" ] && kill -$how "$victim" 2>/dev/null || victim=
    wait $job; rc=$?
    took=$(($(date +%s) - start))
    # a stopped process outlives the job: it is ended here
    [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
    if [ -z "$victim" ]; then
        echo "note: the fit ended before rank 1 could be sent SIG$how (rc $rc); that case was not run"
    elif [ $how = KILL ]; then
        check "rank 1 killed (kill -9) after the first checkpoint: the job ends with an error, in ${took} s" \
            "[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $took -lt 40 ]"
    else
        check "rank 1 stopped (a hung rank), NLSQ_MPI_TIMEOUT=2: status 3 and a waiting rank's line, in ${took} s" \
            "[ $rc -eq 3 ] && grep -q 'nlsq-mpi: rank [02] of 3: waited 2 s for .*ending the job' err && [ $took -lt 40 ]"
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
