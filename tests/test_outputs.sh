#!/usr/bin/env bash
# Everything the nlsq command writes (issue 17, defects 3, 4, 5, 6, 10 and
# the --predict header of 16): every output option to a regular file, a
# symbolic link, a FIFO, /dev/stdout, '-', a directory, a read-only
# directory, /dev/full and the input file itself; the standard output of
# every command on /dev/full; signals while an output is being written.
# Usage: test_outputs.sh PATH/TO/nlsq SOURCE_DIR
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
w=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-outputs.XXXXXX") || exit 1
trap 'chmod -R u+w "$w" 2>/dev/null; rm -rf "$w"' EXIT
chmod 755 "$w"
cd "$w" || exit 1
export XDG_CACHE_HOME=$w/cache
passed=0 failed=0 skipped=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }

cp "$src/examples/data/decay.csv" d.csv
cp d.csv d.orig
model=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0)
printf 'x,c1,c2\n' >w.csv
awk -F, 'NR > 2 { printf "%s,%s,%.9f\n", $1, $2, $2 * 1.5 }' d.csv >>w.csv
cp w.csv w.orig

# How each output option is asked for, and what its file must hold.
run_opt() { # option, path, extra args... (stdout, stderr as the command leaves them)
    local opt=$1 path=$2
    shift 2
    case $opt in
    predict) "$nlsq" fit d.csv "${model[@]}" --predict "$path" "$@" ;;
    plot) "$nlsq" fit d.csv "${model[@]}" --plot "$path" "$@" ;;
    checkpoint) "$nlsq" fit d.csv "${model[@]}" --checkpoint "$path" "$@" ;;
    column-cache) "$nlsq" fit d.csv "${model[@]}" --column-cache "$path" "$@" ;;
    out) "$nlsq" batch w.csv "${model[@]}" --out "$path" --quiet "$@" ;;
    demo) "$nlsq" demo --plot "$path" "$@" ;;
    esac
}
holds() { # option, file [, the name given]: whether it is that option's whole output
    case $1 in
    predict) [ "$(head -1 "$2")" = x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper ] && [ "$(grep -c -v '^[a-z]' "$2")" -eq 40 ] ;;
    plot | demo) grep -q '^<svg' "$2" && tail -1 "$2" | grep -q '^</svg>$' ;;
    checkpoint) [ -s "$2" ] && "$nlsq" fit d.csv "${model[@]}" --resume "$2" --quiet ;;
    column-cache) head -c 6 "$2" | grep -q NUMPY && [ -s "${3:-$2}.names" ] ;; # its identity beside the name given
    out) head -1 "$2" | grep -q '^id,a,a_err,' && [ "$(wc -l <"$2")" -eq 3 ] ;;
    esac
}
no_temporaries() { [ -z "$(ls -a | grep '\.tmp-')" ]; }
options=(predict plot checkpoint column-cache out demo)
# the two that the library writes are read back: never a FIFO, a device or stdout
is_read_back() { [ "$1" = checkpoint ] || [ "$1" = column-cache ]; }

# ---- a regular file: replaced whole ----------------------------------------
for o in "${options[@]}"; do
    echo old >"f-$o"
    run_opt $o "f-$o" >/dev/null 2>err; rc=$?
    check "defect04 --$o to a regular file: replaced whole, no temporary left" "[ $rc -eq 0 ] && holds $o f-$o && no_temporaries"
done

# ---- a symbolic link: the target replaced, the link kept -------------------
for o in "${options[@]}"; do
    echo old >"t-$o"
    ln -s "t-$o" "l-$o"
    run_opt $o "l-$o" >/dev/null 2>err; rc=$?
    check "defect04 --$o to a symbolic link: the target written, the link kept" "[ $rc -eq 0 ] && [ -L l-$o ] && holds $o t-$o l-$o && no_temporaries"
done

# ---- a FIFO: written in place (or refused for what is read back) -----------
for o in "${options[@]}"; do
    rm -f fifo got
    mkfifo fifo
    if is_read_back $o; then
        "$nlsq" fit d.csv "${model[@]}" --$o fifo >out 2>err; rc=$?
        check "defect04 --$o to a FIFO: refused before the fit (status 2, says why)" "[ $rc -eq 2 ] && grep -q 'is not a regular file' err && [ ! -s out ] && [ -p fifo ]"
        continue
    fi
    cat fifo >got &
    reader=$!
    run_opt $o fifo >/dev/null 2>err; rc=$?
    wait $reader
    check "defect04 --$o to a FIFO: the reader gets the whole output, the FIFO stays" "[ $rc -eq 0 ] && holds $o got && [ -p fifo ]"
done
rm -f fifo got

# ---- /dev/stdout and '-': the standard output -------------------------------
# As root a broken writer would replace the system's /dev/stdout, so root
# tests a link of its own made as /dev/stdout is (-> /proc/self/fd/1).
dev_stdout=/dev/stdout
if [ "$(id -u)" -eq 0 ]; then
    ln -s /proc/self/fd/1 dev-stdout
    dev_stdout=$w/dev-stdout
fi
for target in $dev_stdout -; do
    for o in "${options[@]}"; do
        if is_read_back $o; then
            "$nlsq" fit d.csv "${model[@]}" --$o $target >out 2>err; rc=$?
            check "defect04 --$o $target: refused (status 2, says why)" "[ $rc -eq 2 ] && grep -q 'is the standard output' err && [ ! -s out ]"
            continue
        fi
        quiet=--quiet
        [ $o = demo ] && quiet=
        run_opt $o $target $quiet >out 2>err; rc=$?
        case $o in
        predict) ok="[ \"\$(head -1 out)\" = x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper ] && [ \$(wc -l <out) -eq 41 ]" ;;
        out) ok="head -1 out | grep -q '^id,a,a_err,' && [ \$(wc -l <out) -eq 3 ]" ;;
        *) ok="grep -q '^<svg' out && grep -q '^</svg>$' out" ;;
        esac
        check "defect04 --$o $target: written to the standard output" "[ $rc -eq 0 ] && $ok"
    done
done
check "defect04 $dev_stdout is still a symbolic link" "[ -L $dev_stdout ]"
# the report and predictions through /dev/stdout into one file keep their order
"$nlsq" fit d.csv "${model[@]}" --predict $dev_stdout >both.txt 2>err; rc=$?
check "defect04 --predict /dev/stdout redirected to a file: predictions then the report, both whole" "[ $rc -eq 0 ] && [ \"\$(head -1 both.txt)\" = x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper ] && [ \$(grep -c '^[0-9]' both.txt) -eq 40 ] && tail -20 both.txt | grep -q '(converged)'"
"$nlsq" fit d.csv "${model[@]}" --predict $dev_stdout --quiet | cat >piped.txt
check "defect04 --predict /dev/stdout into a pipe" "[ \"\$(head -1 piped.txt)\" = x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper ] && [ \$(wc -l <piped.txt) -eq 41 ]"
check "defect04 the link is still a link" "[ -L $dev_stdout ]"

# ---- a directory: refused before the fit -------------------------------------
mkdir adir
for o in "${options[@]}"; do
    run_opt $o adir >out 2>err; rc=$?
    check "defect04 --$o to a directory: refused before the fit (status 2, one line)" "[ $rc -eq 2 ] && grep -q 'is a directory' err && [ \$(wc -l <err) -eq 1 ] && [ ! -s out ] && [ -d adir ]"
done

# ---- a read-only directory (and a missing one): refused before the fit ------
as_user() { # run as a user the permissions apply to: root writes anywhere
    if [ "$(id -u)" -ne 0 ]; then "$@"; else setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; fi
}
mkdir ro demo-tmp
chmod 555 ro
chmod 777 demo-tmp
chmod 644 d.csv w.csv
permissions_apply=0
if [ "$(id -u)" -ne 0 ] || { command -v setpriv >/dev/null && as_user test -r "$w/d.csv" && ! as_user test -w "$w/ro"; }; then
    permissions_apply=1
fi
if [ $permissions_apply -eq 1 ]; then
    for o in "${options[@]}"; do
        as_user bash -c "$(declare -f run_opt); nlsq='$nlsq'; model=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0); run_opt $o ro/x" >out 2>err; rc=$?
        check "defect06 --$o in a read-only directory: refused before the fit (status 2, names it)" "[ $rc -eq 2 ] && grep -q 'cannot write in ro' err && [ ! -s out ] && [ -z \"\$(ls ro)\" ]"
    done
    out=$(cd ro && as_user env TMPDIR="$w/demo-tmp" "$nlsq" demo 2>../err); rc=$?
    check "defect06 demo in a read-only directory: the fit, and the plot where it can go" "[ $rc -eq 0 ] && grep -q '(converged)' <<<\"\$out\" && grep -q 'the plot goes to' err && [ -s demo-tmp/nlsq-demo.svg ]"
else
    skip "defect06 read-only directories: running as root without setpriv to drop to nobody"
fi
if [ $permissions_apply -eq 1 ]; then
    for o in predict plot out; do
        echo keep >"ro-$o"
        chmod 444 "ro-$o"
        as_user bash -c "$(declare -f run_opt); nlsq='$nlsq'; model=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0); run_opt $o ro-$o" >out 2>err; rc=$?
        check "defect06 --$o to a read-only file: refused before the fit, the file kept" "[ $rc -eq 2 ] && grep -q 'the file is read-only' err && [ ! -s out ] && [ \"\$(cat ro-$o)\" = keep ]"
    done
fi
for o in "${options[@]}"; do
    run_opt $o /nonexistent-dir/x >out 2>err; rc=$?
    check "defect06 --$o in a missing directory: refused before the fit" "[ $rc -eq 2 ] && grep -q 'nonexistent-dir: No such file or directory' err && [ ! -s out ]"
done
rm -f p.csv
"$nlsq" fit d.csv "${model[@]}" --predict p.csv --plot /nonexistent/p.svg --json >out 2>err; rc=$?
check "defect06 --predict p.csv --plot /nonexistent/p.svg --json: fails at once, nothing written" "[ $rc -eq 2 ] && grep -q -- '--plot: /nonexistent/p.svg' err && [ ! -e p.csv ] && [ ! -s out ]"

# ---- /dev/full: the error named, status 2, the result still printed ---------
for o in "${options[@]}"; do
    run_opt $o /dev/full >out 2>err; rc=$?
    if is_read_back $o; then
        check "defect05 --$o /dev/full: refused before the fit" "[ $rc -eq 2 ] && grep -q 'is not a regular file' err"
    elif [ $o = out ]; then
        check "defect05 --out /dev/full: status 2, the error named" "[ $rc -eq 2 ] && grep -q -- '--out: writing /dev/full: No space left on device' err"
    else
        check "defect06 --$o /dev/full: status 2, the error named, the report still printed" "[ $rc -eq 2 ] && grep -q -- '--$( [ $o = demo ] && echo plot || echo $o ): writing /dev/full: No space left on device' err && grep -q '(converged)' out"
    fi
done
"$nlsq" fit d.csv "${model[@]}" --predict /dev/full --json >out 2>err; rc=$?
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["success"]' out 2>/dev/null; parsed=$?
else parsed=0; fi
check "defect06 --predict /dev/full --json: the JSON is printed whole, status 2" "[ $rc -eq 2 ] && [ $parsed -eq 0 ] && grep -q '\"popt\"' out"
"$nlsq" batch w.csv "${model[@]}" --out /dev/full >out 2>err; rc=$?
check "defect06 batch --out /dev/full: the summary still printed, status 2" "[ $rc -eq 2 ] && grep -q 'converged 2 of 2' err"

# ---- the input itself: refused, the input unchanged byte for byte -----------
ln -s d.csv d-link.csv
ln d.csv d-hard.csv
for o in predict plot checkpoint column-cache; do
    for victim in d.csv d-link.csv d-hard.csv; do
        "$nlsq" fit d.csv "${model[@]}" --$o $victim >out 2>err; rc=$?
        check "defect03 fit --$o $victim (the input): refused, the input unchanged" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s d.csv d.orig && [ ! -s out ]"
    done
    "$nlsq" fit d-link.csv "${model[@]}" --$o d.csv >out 2>err; rc=$?
    check "defect03 fit d-link.csv --$o d.csv: refused by inode, not by name" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s d.csv d.orig"
done
cp d.csv cc.npy.names
"$nlsq" fit cc.npy.names "${model[@]}" --column-cache cc.npy >out 2>err; rc=$?
check "defect03 --column-cache whose .names file is the input: refused" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s cc.npy.names d.csv"
"$nlsq" fit - "${model[@]}" --predict d.csv <d.csv >out 2>err; rc=$?
check "defect03 fit - --predict d.csv < d.csv: the standard input's file refused" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s d.csv d.orig"
"$nlsq" batch w.csv "${model[@]}" --out w.csv >out 2>err; rc=$?
check "defect03 batch --out the input: refused, the input unchanged" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s w.csv w.orig"
"$nlsq" fit d.csv "${model[@]}" --predict same.out --plot same.out >out 2>err; rc=$?
check "defect03 two outputs to one file: refused" "[ $rc -eq 2 ] && grep -q 'is also the --predict file' err && [ ! -e same.out ]"
"$nlsq" fit d.csv "${model[@]}" --resume d.csv >out 2>err; rc=$?
check "defect03 --resume the input: refused, the input unchanged" "[ $rc -eq 2 ] && grep -q 'is the input' err && cmp -s d.csv d.orig"

# ---- the standard output of every command on /dev/full ----------------------
stdout_full() { # name, args...
    local name=$1
    shift
    "$nlsq" "$@" >/dev/full 2>err; local rc=$?
    check "defect05 $name >/dev/full: status 2, the standard output named" "[ $rc -eq 2 ] && grep -q 'writing the standard output: No space left on device' err"
}
stdout_full "fit (the report)" fit d.csv "${model[@]}"
stdout_full "fit --json" fit d.csv "${model[@]}" --json
stdout_full "eval" eval d.csv "${model[@]}" --jacobian
stdout_full "diff" diff 'a*exp(-b*x) + c'
stdout_full "batch" batch w.csv "${model[@]}" --quiet
stdout_full "demo" demo --plot demo.svg
stdout_full "help" help
stdout_full "help fit" help fit
stdout_full "help --man" help --man
stdout_full "--version" --version
stdout_full "devices" devices
stdout_full "cache" cache
"$nlsq" fit d.csv "${model[@]}" --max-nfev 3 >/dev/full 2>err; rc=$?
check "defect05 a fit that did not converge, stdout on /dev/full: status 2, not 1" "[ $rc -eq 2 ]"
"$nlsq" eval d.csv "${model[@]}" >&- 2>err; rc=$?
check "defect05 eval with the standard output closed: status 2" "[ $rc -eq 2 ] && grep -q 'writing the standard output' err"
awk 'BEGIN { print "x,y"; for (i = 0; i < 200000; i++) printf "%d,%.17g\n", i, i * 0.5 }' >long.csv
"$nlsq" eval long.csv --model 'a*x' >/dev/full 2>err; rc=$?
check "defect05 eval of 200,000 rows >/dev/full: status 2" "[ $rc -eq 2 ] && grep -q 'No space left' err"

# ---- signals while an output is written (defect 10) --------------------------
# --predict goes to a temporary file beside it; the --plot FIFO, opened
# after it and before anything is written, blocks until a reader comes:
# a signal then finds the temporary file there, every time.
wait_for_temporary() {
    for _ in $(seq 400); do
        ls sig.csv.tmp-* >/dev/null 2>&1 && return 0
        sleep 0.025
    done
    return 1
}
signal_run() { # signal: starts the fit, signals it with the temporary file present; rc
    rm -f sig.fifo
    mkfifo sig.fifo
    set -m # a background job with SIGINT not ignored, as at a terminal
    "$nlsq" fit d.csv "${model[@]}" --predict sig.csv --plot sig.fifo --quiet 2>/dev/null &
    local pid=$!
    set +m
    wait_for_temporary; seen=$?
    kill -"$1" $pid
    for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.025; done
    if kill -0 $pid 2>/dev/null; then # the signal did nothing: unblock it, end it
        cat sig.fifo >/dev/null &
        kill -KILL $pid
    fi
    { wait $pid; } 2>/dev/null
    rc=$?
}
for s in INT:130 TERM:143 HUP:129; do
    rm -f sig.csv sig.csv.tmp-*
    signal_run ${s%:*} 2>/dev/null
    check "defect10 SIG${s%:*} while --predict is written: no temporary file left, killed by the signal ($rc)" "[ $seen -eq 0 ] && [ $rc -eq ${s#*:} ] && [ -z \"\$(ls sig.csv.tmp-* 2>/dev/null)\" ] && [ ! -e sig.csv ]"
done
rm -f sig.csv sig.csv.tmp-*
signal_run KILL 2>/dev/null
left=$(ls sig.csv.tmp-* 2>/dev/null | wc -l)
check "defect10 SIGKILL while --predict is written: its temporary file stays (nothing can remove it)" "[ $seen -eq 0 ] && [ $rc -eq 137 ] && [ $left -eq 1 ]"
"$nlsq" fit d.csv "${model[@]}" --predict sig.csv --quiet 2>err; rc=$?
check "defect10 the next run removes the killed run's temporary file and writes the output" "[ $rc -eq 0 ] && [ -z \"\$(ls sig.csv.tmp-* 2>/dev/null)\" ] && holds predict sig.csv"
rm -f sig.fifo
# SIGPIPE: the predictions on stdout read by a reader that stops early,
# while --plot is a temporary file (ignored SIGPIPE: the write fails, 2)
"$nlsq" fit long.csv --model 'a*x+b' --predict - --plot pipe.svg --quiet 2>/dev/null | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
check "defect10 SIGPIPE while --plot is a temporary file: none left ($rc)" "{ [ $rc -eq 141 ] || [ $rc -eq 2 ]; } && [ -z \"\$(ls pipe.svg.tmp-* 2>/dev/null)\" ]"

# ---- the --predict header as CSV (defect 16) ----------------------------------
"$nlsq" fit "$src/tests/data/decay_quoted.csv" "${model[@]}" --predict q.csv --quiet 2>err; rc=$?
check "defect16 --predict header: names with a comma and quotes quoted as RFC 4180" "[ $rc -eq 0 ] && [ \"\$(head -1 q.csv)\" = '\"time, s\",\"signal \"\"y\"\"\",fit,residual,conf_lower,conf_upper,pred_lower,pred_upper' ]"
if command -v python3 >/dev/null; then
    python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1]))); assert r[0] == ["time, s", "signal \"y\"", "fit", "residual", "conf_lower", "conf_upper", "pred_lower", "pred_upper"] and all(len(x) == 8 for x in r)' q.csv 2>/dev/null
    check "defect16 --predict file read back by Python's csv: eight columns throughout" "[ $? -eq 0 ]"
fi
out=$("$nlsq" eval "$src/tests/data/decay_quoted.csv" "${model[@]}" 2>err); rc=$?
check "defect16 eval header quotes the x column's name" "[ $rc -eq 0 ] && [ \"\$(head -1 <<<\"\$out\")\" = '\"time, s\",f' ]"

check "no temporary file left in the work directory" "no_temporaries"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
