#!/usr/bin/env bash
# nlsq fit --bootstrap (issue 20) as a user runs it: the report's and the
# JSON's bootstrap part, the replicas written as a .npy that NumPy reads
# (percentiles equal to the report's), the same answer for any thread
# count, and clear errors for bad options.
# Usage: test_bootstrap_cli.sh PATH/TO/nlsq
set -u
. "$(dirname "$0")/cli_check.sh"

dir=$(mktemp -d /tmp/nlsq_boot_XXXXXX)
trap 'rm -rf "$dir"' EXIT
data=$dir/decay.csv
awk 'BEGIN { print "x,y"; srand(4); for (i = 0; i < 60; i++) { x = i / 10;
             printf "%g,%.10g\n", x, 2.5 * exp(-1.3 * x) + 0.5 + 0.02 * (rand() - 0.5) } }' >"$data"
model='a*exp(-b*x)+c'
p0='a=2,b=1,c=0'

out=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --bootstrap 300 --bootstrap-out "$dir/r.npy"); rc=$?
check "--bootstrap 300 runs (exit 0)" "[ $rc -eq 0 ]"
check "the report's bootstrap line" "grep -Eq 'bootstrap \(residual, seed 0\): 300 replicas, 300 converged' <<<\"\$out\""
check "the report's table has both errors and both intervals" \
    "grep -q 'cov. error  boot. error' <<<\"\$out\" && grep -q '95% BCa interval' <<<\"\$out\" && grep -Eq '^    b +[0-9.e-]+ +[0-9.e-]+' <<<\"\$out\""
if python3 -c 'import numpy' 2>/dev/null; then
    line=$(grep -E '^    b +[0-9.e-]+ +[0-9.e-]+ +[0-9.e+-]+ +\[' <<<"$out")
    check "the .npy is (300, 3) float64 and its 2.5% percentile of b is the report's" \
        "python3 -c 'import numpy as np,sys,re; a=np.load(sys.argv[1]); assert a.shape==(300,3) and a.dtype==np.float64; lo=float(re.search(r\"\\[ *([-0-9.e+]+),\", sys.argv[2]).group(1)); assert abs(np.percentile(a[:,1],2.5)-lo)<=1e-7*abs(lo)' \"$dir/r.npy\" \"\$line\""
fi

a=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --bootstrap 200 --bootstrap-kind wild --seed 5 --json --threads 1)
b=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --bootstrap 200 --bootstrap-kind wild --seed 5 --json --threads 2)
strip() { grep -v -e fit_seconds -e '"threads"' <<<"$1" | sed -e 's/"seconds": [^,]*,//' -e 's/"threads": [0-9]*,//'; }
check "the same seed gives the same bootstrap on 1 and 2 threads" "[ \"\$(strip \"\$a\")\" = \"\$(strip \"\$b\")\" ]"
check "the JSON carries the bootstrap" "grep -q '\"bootstrap\": {\"kind\": \"wild\", \"replicas\": 200' <<<\"\$a\""
if command -v python3 >/dev/null; then
    check "the JSON parses: per parameter stderr, percentile and bca" \
        "python3 -c 'import json,sys; b=json.loads(sys.argv[1])[\"bootstrap\"]; p=b[\"params\"]; assert len(p)==3 and all(q[\"percentile\"][0] < q[\"percentile\"][1] and q[\"bca\"][0] < q[\"bca\"][1] and q[\"stderr\"] > 0 for q in p) and b[\"seed\"]==5 and b[\"jackknife\"]==\"exact\"' \"\$a\""
fi
out=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --bootstrap-kind pairs); rc=$?
check "--bootstrap-kind alone asks for the default 1000 replicas, no global search" \
    "[ $rc -eq 0 ] && grep -q '(pairs, seed 0): 1000 replicas' <<<\"\$out\" && ! grep -q 'global search' <<<\"\$out\""
out=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --bootstrap 50 --seed 9); rc=$?
check "--seed with --bootstrap seeds the bootstrap, not a search" \
    "[ $rc -eq 0 ] && grep -q '(residual, seed 9)' <<<\"\$out\" && ! grep -q 'global search' <<<\"\$out\""

expect_error "--bootstrap 0" "--bootstrap" fit "$data" --model "$model" --bootstrap 0
expect_error "--bootstrap 1" "at least 2 are needed" fit "$data" --model "$model" --bootstrap 1
expect_error "bad --bootstrap-kind" "residual, pairs or wild" fit "$data" --model "$model" --bootstrap-kind jack
expect_error "--bootstrap-out into a missing directory" "--bootstrap-out" fit "$data" --model "$model" --bootstrap 10 --bootstrap-out /nonexistent/dir/r.npy

# a fit that did not converge: the report all the same, no replica, no file,
# exit status 1 (not converged, as --profile and --mcmc), not 2 (bad usage)
out=$("$nlsq" fit "$data" --model "$model" --p0 $p0 --max-nfev 2 --bootstrap 20 --bootstrap-out "$dir/nc.npy" 2>"$dir/nc.err"); rc=$?
check "--bootstrap after a fit that did not converge: exit 1, report, no bootstrap, no file" \
    "[ $rc -eq 1 ] && grep -q 'no bootstrap: the fit did not converge' \"$dir/nc.err\" && grep -q 'NOT converged' <<<\"\$out\" && ! grep -q replicas <<<\"\$out\" && [ ! -e \"$dir/nc.npy\" ]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
