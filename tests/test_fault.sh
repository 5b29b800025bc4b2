#!/usr/bin/env bash
# Fault injection over the nlsq command, as SQLite tests itself: each
# scenario (a fit of a small CSV with --predict, a batch with --out, a
# checkpointed fit, a column-cache conversion replacing a stale cache) is
# run once to count its calls of each kind (tests/fault/fault.c), then
# once for every call N of every kind (up to FAULT_MAX of them, see
# points below) with that call failing (errors mode), or with a signal
# delivered at it (signals mode). Every run must end either
#   - with status 0 and the fault-free run's answer and files, or
#   - with a non-zero status (2) and one clear "nlsq: ..." message,
# never a crash or a signal death (errors mode), never a file left
# half-written or an output mistaken for whole (an output is absent or
# equal to the fault-free one), never a temporary file left behind (any file
# the fault-free run does not leave, whatever its name: in the
# output, checkpoint and cache directories, the kernel cache, $TMPDIR).
# After each run a fault-free run in the same directory (resuming the
# checkpoint, reusing the column cache) must give the right answer and
# leave no temporary file: what a failed or killed run left must never be
# mistaken for whole, and stale temporaries must be cleaned up.
#
# In signals mode SIGINT and SIGTERM are raised at every open, read,
# write, rename, fsync and mmap call (every phase: reading, converting,
# each pass, each checkpoint write, each output write) and SIGKILL at
# the same points.
#
#   tests/test_fault.sh NLSQ FAULT_SO errors|signals [SCENARIO...]
# Scenarios (default: all): fit (a CSV, --predict), npy (the same data as a
# mapped .npy), batch (--out), checkpoint (--checkpoint, then --resume),
# colcache (--column-cache FILE over a stale cache of other data),
# cacheauto (--column-cache auto: the cache directory under $XDG_CACHE_HOME).
# Under a sanitizer build (FAULT_ASAN=1, the command linked with libasan)
# libasan is preloaded before the shim and leaks are reported
# (detect_leaks=1); malloc faults are then not injected (ASan's allocator
# comes first), the other kinds are.
# Prints a line per scenario (faults injected, outcomes) and a line per
# failing run (at most FAULT_SHOW per scenario and kind, default 3); exits
# 1 if any run failed, 77 (skip) when the shim cannot be preloaded.
# FAULT_FULL=1 faults every call, FAULT_MAX=N up to N of a kind,
# FAULT_KINDS="malloc write+" only those kinds, FAULT_TIMEOUT a run's limit.
set -u
nlsq=${1:?usage: test_fault.sh NLSQ FAULT_SO errors|signals [SCENARIO...]}
shim=${2:?usage: test_fault.sh NLSQ FAULT_SO errors|signals [SCENARIO...]}
mode=${3:?usage: test_fault.sh NLSQ FAULT_SO errors|signals [SCENARIO...]}
shift 3
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(fit npy batch checkpoint colcache cacheauto)
show=${FAULT_SHOW:-3}
# Every call of every kind is faulted (about 3,800 runs, two minutes);
# under the sanitizers, ten times slower a run, a sample of 48 calls a
# kind, and signals 16 (three signals each) unless make test-full asks for
# every one.
if [ "${NLSQ_TEST_FULL:-0}" = 1 ] || { [ "$mode" = errors ] && [ "${FAULT_ASAN:-0}" != 1 ]; }; then
    FAULT_FULL=${FAULT_FULL:-1}
fi
limit=${FAULT_TIMEOUT:-60} # seconds a run may take
nlsq=$(cd "$(dirname "$nlsq")" && pwd)/$(basename "$nlsq")
shim=$(cd "$(dirname "$shim")" && pwd)/$(basename "$shim")

work=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-fault-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

preload=$shim
kinds_errors=(malloc read write write+ rename fsync open mmap)
if [ "${FAULT_ASAN:-0}" = 1 ]; then
    asan=$(ldd "$nlsq" | sed -n 's/.*\(libasan[^ ]*\) => \([^ ]*\).*/\2/p' | head -1)
    if [ -z "$asan" ]; then
        echo "SKIP: FAULT_ASAN=1 but $nlsq is not linked with a shared libasan (the shim cannot follow it)"
        exit 77
    fi
    preload="$asan:$shim"
    export ASAN_OPTIONS=detect_leaks=1:exitcode=86:abort_on_error=0
    export UBSAN_OPTIONS=print_stacktrace=1:exitcode=86
    kinds_errors=(read write write+ rename fsync open mmap)
fi
kinds_signals=(open read write rename fsync mmap)
signals=(SIGINT SIGTERM SIGKILL)

MODEL='a*exp(-b*x)+c'
common=(--backend interp --threads 1)

# ---- the scenarios: files, the command, its outputs ------------------------

write_data() { # DIR: a small decay table (and the batch's wide one)
    printf 'x,y\n' >"$1/d.csv"
    awk 'BEGIN { for (i = 0; i < 16; i++) printf "%g,%.6f\n", i / 2, 3 * exp(-0.5 * i / 2) + 0.2 + 0.01 * sin(7 * i) }' \
        >>"$1/d.csv"
    awk 'BEGIN { print "x,c1,c2,c3"; for (i = 0; i < 12; i++) printf "%g,%.5f,%.5f,%.5f\n", i, 3 * exp(-0.4 * i) + 0.01 * sin(i), \
        2 * exp(-0.3 * i) + 0.01 * cos(i), exp(-0.2 * i) + 0.01 * sin(3 * i) }' >"$1/w.csv"
}

setup() { # SCENARIO DIR
    write_data "$2"
    mkdir -p "$2/out" "$2/ck" "$2/cc" "$2/xdg" "$2/tmp"
    if [ "$1" = npy ]; then
        # the table as a (16, 2) float64 .npy, mapped by the fit
        python3 -c '
import struct, sys
rows = [tuple(map(float, l.split(","))) for l in open(sys.argv[1]).read().split("\n")[1:] if l]
d = "{\x27descr\x27: \x27<f8\x27, \x27fortran_order\x27: False, \x27shape\x27: (%d, 2), }" % len(rows)
h = d + " " * (117 - len(d)) + "\n"
sys.stdout.buffer.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()
                        + b"".join(struct.pack("<2d", *r) for r in rows))' "$2/d.csv" >"$2/d.npy" || return 1
    fi
    if [ "$1" = colcache ]; then
        # a cache of older data in the place: the run must replace both of
        # its files, or neither
        printf 'x,y\n0,9\n1,8\n2,7\n3,6.5\n4,6.4\n5,6.3\n' >"$2/old.csv"
        (cd "$2" && XDG_CACHE_HOME=$2/xdg TMPDIR=$2/tmp "$nlsq" fit old.csv --model "$MODEL" "${common[@]}" \
            --column-cache cc/d.npy --quiet >/dev/null 2>&1)
        rm "$2/old.csv"
    fi
}

command_of() { # SCENARIO [verify]: the arguments
    case $1 in
    fit) echo fit d.csv --model "$MODEL" "${common[@]}" --json --predict out/p.csv ;;
    batch) echo batch w.csv --model 'a*exp(-b*x)' "${common[@]}" --out out/b.csv ;;
    checkpoint)
        if [ "${2:-}" = verify ]; then
            echo fit d.csv --model "$MODEL" "${common[@]}" --json --resume ck/fit.ck
        else
            echo fit d.csv --model "$MODEL" "${common[@]}" --json --checkpoint ck/fit.ck
        fi ;;
    colcache) echo fit d.csv --model "$MODEL" "${common[@]}" --json --column-cache cc/d.npy ;;
    cacheauto) echo fit d.csv --model "$MODEL" "${common[@]}" --json --column-cache auto ;;
    npy) echo fit d.npy --model "$MODEL" "${common[@]}" --json --predict out/p.csv ;;
    esac
}

# the files a run writes that must be whole or absent (compared with the
# fault-free run's); the checkpoint and the cache are judged by the
# fault-free run after (resumed or reused, it must give the right answer)
outputs_of() {
    case $1 in
    fit | npy) echo out/p.csv ;;
    batch) echo out/b.csv ;;
    *) ;;
    esac
}

# The helpers below use bash alone (no processes): thousands of runs are judged.
shopt -s globstar nullglob dotglob

# slurp FILE: its text in $text (empty when it does not exist)
slurp() {
    text=""
    [ -e "$1" ] && IFS= read -r -d '' text <"$1"
    return 0
}

# normal FILE: the report without its timings, in $text
normal() {
    local line out=""
    if [ -e "$1" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            case $line in
            *'"fit_seconds"'* | *'"resumed_evaluations"'* | *'"passes"'* | *'"memory_bytes"'*) ;;
            *) out+=$line$'\n' ;;
            esac
        done <"$1"
    fi
    text=$out
}

same_answer() { # DIR REF
    normal "$1/stdout"
    local got=$text
    normal "$2/stdout"
    [ "$got" = "$text" ]
}

same_file() { # A B
    slurp "$1"
    local a=$text
    slurp "$2"
    [ "$a" = "$text" ]
}

# temporaries DIR: files left anywhere in a run's directory that the
# fault-free run does not leave (temporaries, whatever their names), in $text
temporaries() {
    local f
    text=""
    for f in "$1"/**; do
        [ -f "$f" ] || continue
        file_key "${f#"$1"/}"
        [ -n "${allowed[$key]:-}" ] || text+=" ${f#"$1"/}"
    done
}

# file_key NAME: the name with a cache's hash (32 hex digits: of the text
# file's real path, which differs from run to run) as HASH, in $key
file_key() {
    key=$1
    if [[ $key =~ ^(.*)[0-9a-f]{32}(.*)$ ]]; then key=${BASH_REMATCH[1]}HASH${BASH_REMATCH[2]}; fi
}

# stderr_lines DIR REF: the 'nlsq:' lines and other lines new in the run's stderr
stderr_lines() {
    local line
    msgs=0 others=0 empty=0 output_failed=0
    slurp "$2/stderr"
    local known=$'\n'$text
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        *': ') empty=$((empty + 1)) ;; # a message that gives no reason
        'nlsq: '*)
            msgs=$((msgs + 1))
            case $line in *writing* | *'cannot write'* | 'nlsq: --'*) output_failed=1 ;; esac
            ;;
        '') ;;
        *) [[ $known == *$'\n'"$line"$'\n'* ]] || others=$((others + 1)) ;;
        esac
    done <"$1/stderr"
}

first_line() { # FILE: its first 160 characters, lines joined by |
    slurp "$1"
    text=${text:0:200}
    text=${text//$'\n'/|}
}

# run SCENARIO DIR FAULT [verify]: the command in DIR; status in $status
run() {
    local args
    read -r -a args <<<"$(command_of "$1" "${4:-}")"
    # (the braces keep bash's "Killed" notice of a SIGKILLed run quiet)
    { (
        cd "$2" || exit 99
        export XDG_CACHE_HOME=$2/xdg TMPDIR=$2/tmp NLSQ_FAULT_REPORT=$2/fault.report
        # a run that hangs is stopped (status 124) rather than the whole test
        if [ -n "$3" ]; then
            exec timeout -k 5 "$limit" env NLSQ_FAULT="$3" LD_PRELOAD="$preload" "$nlsq" "${args[@]}" \
                >"$2/stdout" 2>"$2/stderr"
        else
            exec timeout -k 5 "$limit" "$nlsq" "${args[@]}" >"$2/stdout" 2>"$2/stderr"
        fi
    ); } 2>/dev/null
    status=$?
}

# ---- judging a run -----------------------------------------------------------

# judge_run SCENARIO DIR REF SIGNAL: why the faulted run (status $status) is wrong, in $why
judge_run() {
    local s=$1 d=$2 ref=$3 sig=$4 f
    why=""
    if [ -n "$sig" ]; then
        # killed, stopped on the signal with a status of its own, or ran on: the files decide
        [ $status != 0 ] || same_answer "$d" "$ref" || why+=$'\n'"status 0 but a wrong answer"
    elif slurp "$d/stderr" && [[ $text == *LeakSanitizer* ]]; then
        text=${text#*Direct leak}
        text=${text//$'\n'/|}
        why+=$'\n'"leaked: Direct leak${text:0:400}"
    elif [ $status = 124 ]; then
        why+=$'\n'"crashed: hung, stopped after $limit s"
    elif [ $status -ge 128 ] || [ $status = 86 ]; then
        first_line "$d/stderr"
        why+=$'\n'"crashed (status $status): $text"
    elif [ $status = 0 ]; then
        same_answer "$d" "$ref" || why+=$'\n'"status 0 but a wrong answer"
    else
        stderr_lines "$d" "$ref"
        # One clear message a failure. Two when two things failed at once
        # (a file and the standard output, when every write fails). After
        # a failed output the result is still shown (never dropped
        # silently): new lines are allowed then, and only then.
        if [ $msgs = 0 ] || [ $empty != 0 ] || [ $msgs -gt 2 ] || { [ $others != 0 ] && [ $output_failed = 0 ]; }; then
            first_line "$d/stderr"
            why+=$'\n'"status $status with $msgs 'nlsq:' messages ($empty without a reason) and $others other new lines on stderr: $text"
        fi
        if [ $status = 1 ]; then
            first_line "$d/stderr"
            why+=$'\n'"status 1 (did not converge) from a fault: $text"
        fi
    fi
    # blocks still allocated at exit (the shim counts them; under the
    # sanitizers LeakSanitizer looks instead): more than the fault-free run
    # left is what the failing path leaked
    if [ -z "$sig" ] && [ $status -lt 124 ] && slurp "$d/fault.report" && [[ $text == *$'\n'live\ * ]]; then
        local live=${text##*live }
        live=${live%%$'\n'*}
        [ "$live" -le "$baseline_live" ] || why+=$'\n'"leaked: $live blocks allocated at exit (the fault-free run: $baseline_live)"
    fi
    for f in $(outputs_of "$s"); do
        if [ -e "$d/$f" ] && ! same_file "$d/$f" "$ref/$f"; then
            slurp "$d/$f"
            why+=$'\n'"$f left, not the fault-free one (${#text} bytes)"
        fi
    done
    if [ "$sig" != SIGKILL ]; then
        temporaries "$d"
        [ -z "$text" ] || why+=$'\n'"files left:$text"
    fi
}

# judge_next_run SCENARIO DIR REF: a fault-free run after it; appends to $why
judge_next_run() {
    local s=$1 d=$2 ref=$3 f
    run "$s" "$d" "" verify
    if [ $status != 0 ]; then
        first_line "$d/stderr"
        why+=$'\n'"the next fault-free run failed (status $status): $text"
        return
    fi
    same_answer "$d" "$ref" || why+=$'\n'"the next fault-free run gave a wrong answer"
    for f in $(outputs_of "$s"); do
        same_file "$d/$f" "$ref/$f" || why+=$'\n'"the next fault-free run wrote a wrong $f"
    done
    temporaries "$d"
    [ -z "$text" ] || why+=$'\n'"files left after the next fault-free run:$text"
}

# points TOTAL: the calls to fault, in $text: all of them up to FAULT_MAX
# (default 48; 16 for signals), else the first half of that and the rest spread evenly
# up to the last call (FAULT_FULL=1: all, as SQLite does)
points() {
    local total=$1 max=${FAULT_MAX:-48} n
    text=""
    if [ "${FAULT_FULL:-0}" = 1 ] || [ "$total" -le "$max" ]; then
        for ((n = 1; n <= total; n++)); do text+=" $n"; done
        return
    fi
    local head=$((max / 2)) rest=$((max - max / 2))
    for ((n = 1; n <= head; n++)); do text+=" $n"; done
    for ((n = 1; n <= rest; n++)); do text+=" $((head + (total - head) * n / rest))"; done
}

# tally_why: count the kinds of failure in $why (into $tally)
tally_why() {
    local line key
    while IFS= read -r line; do
        case $line in
        '') continue ;;
        crashed*) key=crash ;;
        leaked*) key=leak ;;
        'status 0 but a wrong answer') key=wrong-answer-status-0 ;;
        'status 1 '*) key=status-1 ;;
        status*) key=not-one-message ;;
        *' left, not the fault-free one'*) key=partial-output ;;
        'files left:'*) key=temporaries-left ;;
        'files left after'*) key=temporaries-not-cleaned ;;
        'the next fault-free run failed'*) key=next-run-fails ;;
        'the next fault-free run'*) key=next-run-wrong ;;
        *) key=other ;;
        esac
        tally[$key]=$((${tally[$key]:-0} + 1))
    done <<<"$why"
}

# ---- the loop ------------------------------------------------------------------

failed=0
summary=()
for s in "${scenarios[@]}"; do
    tpl=$work/$s.template ref=$work/$s.ref
    mkdir -p "$tpl"
    setup "$s" "$tpl"
    cp -a "$tpl" "$ref"
    run "$s" "$ref" ""
    if [ $status != 0 ]; then
        echo "FAIL $s: the fault-free run failed (status $status): $(cat "$ref/stderr")"
        failed=1
        continue
    fi
    # the files a run may leave: the fault-free run's (the checkpoint
    # scenario's next run resumes, which leaves the same)
    declare -A allowed=()
    for f in "$ref"/**; do
        [ -f "$f" ] || continue
        file_key "${f#"$ref"/}"
        allowed[$key]=1
    done
    allowed[fault.report]=1
    cnt=$work/$s.count
    cp -a "$tpl" "$cnt"
    run "$s" "$cnt" count
    if [ $status != 0 ] || ! same_answer "$cnt" "$ref"; then
        echo "FAIL $s: the counting run differs from the fault-free one (status $status)"
        failed=1
        continue
    fi
    declare -A count=()
    while read -r k n; do count[$k]=$n; done <"$cnt/fault.report"
    count[write+]=${count[write]}
    baseline_live=${count[live]:-0}

    injected=0 bad=0 clean_errors=0 right=0 counts=""
    declare -A tally=()
    if [ "$mode" = errors ]; then plans=("${kinds_errors[@]}"); else plans=(); fi
    # a signal at every call of a phase is one at each of its first calls and a few spread over the rest
    [ "$mode" = errors ] || FAULT_MAX=${FAULT_MAX:-16}
    if [ "$mode" = signals ]; then
        for sig in "${signals[@]}"; do for k in "${kinds_signals[@]}"; do plans+=("$k@$sig"); done; done
    fi
    for plan in "${plans[@]}"; do
        # FAULT_KINDS="malloc write": only those kinds (to chase one failure)
        [ -z "${FAULT_KINDS:-}" ] || [[ " $FAULT_KINDS " == *" ${plan%@*} "* ]] || continue
        k=${plan%@*} sig=""
        [ "$plan" = "$k" ] || sig=${plan#*@}
        base=${k%+} persist=""
        [ "$k" = "$base" ] || persist=+
        total=${count[$base]:-0} shown=0 plan_bad=0
        points "$total"
        set -- $text
        counts+=" $plan=$#/$total"
        points "$total"
        for n in $text; do
            d=$work/$s.run
            rm -rf "$d"
            cp -a "$tpl" "$d"
            spec=$base:$n$persist
            [ -z "$sig" ] || spec=$spec:$sig
            run "$s" "$d" "$spec"
            injected=$((injected + 1))
            judge_run "$s" "$d" "$ref" "$sig"
            if [ $status = 0 ]; then right=$((right + 1)); else clean_errors=$((clean_errors + 1)); fi
            # a stateless scenario that succeeded has nothing left for a next run to trip on
            if [ $status != 0 ] || [ -n "$why" ] || [ "$s" = checkpoint ] || [ "$s" = colcache ] || [ "$s" = cacheauto ]; then
                judge_next_run "$s" "$d" "$ref"
            fi
            if [ -n "$why" ]; then
                bad=$((bad + 1)) plan_bad=$((plan_bad + 1))
                tally_why
                if [ $shown -lt "$show" ]; then
                    shown=$((shown + 1))
                    echo "  FAIL $s NLSQ_FAULT=$spec: nlsq $(command_of "$s")"
                    printf '%s\n' "${why#$'\n'}" | sed 's/^/      /'
                fi
            fi
        done
        [ $plan_bad -le $shown ] || echo "  ($s $plan: $((plan_bad - shown)) more failing runs not shown)"
    done
    line=$(printf '%-10s %s: %d faults injected (%s ), %d ended with status 0, %d with an error; %d runs wrong' \
        "$s" "$mode" $injected "$counts" $right $clean_errors $bad)
    if [ $bad != 0 ]; then
        line+="; by kind:"
        for key in "${!tally[@]}"; do line+=" $key ${tally[$key]}"; done
    fi
    summary+=("$line")
    [ $bad = 0 ] || failed=1
    unset count tally allowed
done
echo "== fault injection summary ($mode)"
printf '%s\n' "${summary[@]}"
exit $failed
