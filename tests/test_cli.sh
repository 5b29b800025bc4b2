#!/usr/bin/env bash
# The nlsq command as a user runs it: a real fit of the bundled data with
# checked numbers, and clear errors (exit 2, one message) for bad input.
# Usage: test_cli.sh PATH/TO/nlsq SOURCE_DIR
set -u
nlsq=$1
src=$2
data=$src/examples/data/decay.csv
passed=0
failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0); rc=$?
check "fit exits 0 when converged" "[ $rc -eq 0 ]"
check "fit reports convergence" "grep -q '(converged)' <<<\"\$out\""
a=$(awk '$1 == "a" {print $2}' <<<"$out")
b=$(awk '$1 == "b" {print $2}' <<<"$out")
check "a = 2.50033 (+-0.0107)" "awk -v v=$a 'BEGIN {exit !(v > 2.50032 && v < 2.50034)}'"
check "b = 1.29956 (+-0.0124)" "awk -v v=$b 'BEGIN {exit !(v > 1.29955 && v < 1.29958)}'"
check "40 points used" "grep -q '40 points used' <<<\"\$out\""

out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --bounds b=0:1.2 --p0 a=2,c=0); rc=$?
check "bounded fit exits 0" "[ $rc -eq 0 ]"
check "bounded parameter reported at its bound" "grep -q '(at bound)' <<<\"\$out\""

out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --fix c=0.5 --p0 a=2,b=1); rc=$?
check "fixed parameter reported" "[ $rc -eq 0 ] && grep -q '(fixed)' <<<\"\$out\""

cat "$data" | "$nlsq" fit - --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 >/dev/null; rc=$?
check "reads standard input" "[ $rc -eq 0 ]"

expect_error() { # name, grep pattern, args...
    local name=$1 pattern=$2
    shift 2
    local err
    err=$("$nlsq" "$@" 2>&1 >/dev/null); local rc=$?
    check "$name" "[ $rc -eq 2 ] && grep -q -- \"$pattern\" <<<\"\$err\" && [ \$(wc -l <<<\"\$err\") -eq 1 ]"
}
expect_error "missing file" "No such file" fit /nonexistent.csv --model 'a*x'
expect_error "no model" "no --model" fit "$data"
expect_error "model syntax error with column" "column 6" fit "$data" --model 'a*x +'
expect_error "unknown parameter in --p0" "no parameter 'q'" fit "$data" --model 'a*x' --p0 q=1
expect_error "bad bound" "not lo:hi" fit "$data" --model 'a*x' --bounds a=1
expect_error "bounds with lm" "does not take bounds" fit "$data" --model 'a*x' --bounds a=0:2 --method lm
expect_error "p0 outside bounds" "outside its bounds" fit "$data" --model 'a*x' --bounds a=0:2 --p0 a=3
expect_error "unknown column" "no column 'z'" fit "$data" --model 'a*x' --y z
expect_error "unknown option" "unknown option" fit "$data" --model 'a*x' --frobnicate 1
expect_error "unknown command" "unknown command" frobnicate
printf 'x,y\n1,2\n3,oops\n' > "${TMPDIR:-/tmp}/nlsq_cli_bad.csv"
expect_error "non-numeric field named with line" ":3: field 2" fit "${TMPDIR:-/tmp}/nlsq_cli_bad.csv" --model 'a*x'
rm -f "${TMPDIR:-/tmp}/nlsq_cli_bad.csv"
"$nlsq" --version | grep -q '^nlsq 0.1.0$'; check "--version" "[ $? -eq 0 ]"
"$nlsq" help | grep -q -- '--bounds'; check "help documents --bounds" "[ $? -eq 0 ]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
