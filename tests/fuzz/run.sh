#!/usr/bin/env bash
# make fuzz: every libFuzzer target of BUILD for its share of SECONDS,
# each from its seeds (tests/fuzz/corpus/NAME) and the corpus it grew
# before (BUILD/corpus/NAME). Prints each target's executions
# (-print_final_stats) and a summary; fails when any target crashed,
# leaked, timed out, tripped a sanitizer or left a scratch directory.
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]
set -u
build=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
total=${2:?usage: run.sh BUILD SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model table npy raw checkpoint colcache options eval nexus npz numbers)
share=$(( total / ${#targets[@]} ))
[ "$share" -ge 1 ] || share=1

# the targets' scratch directories live here; none may survive a run
scratch_dirs() { ls -d /dev/shm/nlsq-fuzz-* "${TMPDIR:-/tmp}"/nlsq-fuzz-* 2>/dev/null | sort; }
before=$(scratch_dirs)

failed=0
summary=()
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz_$t
    if [ ! -x "$bin" ]; then
        summary+=("$(printf '%-11s MISSING (%s not built)' "$t" "$bin")")
        failed=1
        continue
    fi
    mkdir -p "$build/corpus/$t" "$build/crashes"
    log=$build/fuzz_$t.log
    echo "== fuzz_$t for ${share} s"
    # -close_fd_mask=3: the targets' refusals ("nlsq: ...") would flood the
    # log; libFuzzer and the sanitizers still report on a copy of stderr.
    "$bin" -max_total_time="$share" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=3 \
        -artifact_prefix="$build/crashes/$t-" "$build/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        summary+=("$(printf '%-11s ok      %10s executions in %s s' "$t" "${execs:-?}" "$share")")
    else
        failed=1
        summary+=("$(printf '%-11s FAILED  %10s executions (status %d; log %s)' "$t" "${execs:-?}" $rc "$log")")
        grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)" "$log" | head -8
        tail -25 "$log"
    fi
done
after=$(scratch_dirs)
if [ "$before" != "$after" ]; then
    failed=1
    summary+=("scratch directories left behind: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')")
fi
echo "== fuzz summary (${total} s in all)"
printf '%s\n' "${summary[@]}"
exit $failed
