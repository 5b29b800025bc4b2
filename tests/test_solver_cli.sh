#!/usr/bin/env bash
# The solver's refusals and statuses through the command (issue 17):
# an underdetermined fit (fewer points than free parameters) is an error
# with one message and exit 2 for every method; in a batch each such fit
# gets status -11 and the run exits 1.
# Usage: test_solver_cli.sh PATH/TO/nlsq
set -u
nlsq=$1
passed=0
failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

printf 'x,y\n1,2\n2,3\n' >"$tmp/two.csv"
for method in trf dogbox lm; do
    err=$("$nlsq" fit "$tmp/two.csv" --model 'a*x^2 + b*x + c' --method $method 2>&1 >/dev/null); rc=$?
    check "defect15_underdetermined_cli: $method exits 2" "[ $rc -eq 2 ]"
    check "defect15_underdetermined_cli: $method says why, in one line" \
        "grep -q '3 free parameters but only 2 data points' <<<\"\$err\" && [ \$(wc -l <<<\"\$err\") -eq 1 ]"
done
out=$("$nlsq" fit "$tmp/two.csv" --model 'a*x^2 + b*x + c' --fix a=0 --json); rc=$?
check "defect15_underdetermined_cli: one parameter fixed, 2 points 2 free: fitted" \
    "[ $rc -eq 0 ] && grep -q '\"dof\": 0' <<<\"\$out\""

# long layout: fit 1 has 4 points, fit 2 two, fit 3 one
printf 'id,x,y\n1,0,1\n1,1,2\n1,2,5\n1,3,10\n2,0,1\n2,1,2\n3,5,3\n' >"$tmp/long.csv"
for method in trf dogbox lm; do
    out=$("$nlsq" batch "$tmp/long.csv" --id id --x x --y y --model 'a*x^2 + b*x + c' --method $method \
        --format jsonl 2>"$tmp/summary"); rc=$?
    check "defect15_underdetermined_batch_cli: $method exits 1 (some fits did not run)" "[ $rc -eq 1 ]"
    check "defect15_underdetermined_batch_cli: $method, fits 2 and 3 status -11" \
        "[ \$(grep -c '\"status\": -11' <<<\"\$out\") -eq 2 ] && grep '\"id\": 1,' <<<\"\$out\" | grep -q '\"success\": true'"
    check "defect15_underdetermined_batch_cli: $method, the summary says why" \
        "grep -q 'status -11  Not run: .*fewer points than free parameters' \"$tmp/summary\""
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
