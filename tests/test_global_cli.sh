#!/usr/bin/env bash
# nlsq fit --global (issue 19) as a user runs it: the issue's peak with no
# start values found by the search, the report's and the JSON's minima,
# the same answer for the same seed, and clear errors for bad options.
# Usage: test_global_cli.sh PATH/TO/nlsq
set -u
. "$(dirname "$0")/cli_check.sh"

peak=$(mktemp /tmp/nlsq_global_XXXXXX.csv)
trap 'rm -f "$peak" "$peak.err"' EXIT
awk 'BEGIN { print "x,y"; for (i = 0; i < 301; i++) { x = 380 + i; t = (x - 532) / 8.5;
             printf "%d,%.10g\n", x, 1200 * exp(-0.5 * t * t) + 40 + 5 * sin(1.3 * i) } }' >"$peak"
model='A*exp(-0.5*((x-mu)/s)^2)+c'

# from SciPy's start (all ones) the peak never moves: not trusted
"$nlsq" fit "$peak" --model "$model" --p0 A=1,mu=1,s=1,c=1 >/dev/null 2>&1; rc=$?
check "the plain fit from all ones is not trusted (exit != 0)" "[ $rc -ne 0 ]"
# with no --p0 at all that untrusted fit is replaced by a search
out=$("$nlsq" fit "$peak" --model "$model" 2>"$peak.err"); rc=$?
mu=$(awk '$1 == "mu" {print $2}' <<<"$out")
check "no --p0: the untrusted fit from all ones is replaced by a search (exit 0, mu 532)" \
    "[ $rc -eq 0 ] && grep -q 'cannot be trusted: a global search of 64 starts' "$peak.err" && awk -v v=$mu 'BEGIN {exit !(v > 531.9 && v < 532.1)}'"

out=$("$nlsq" fit "$peak" --model "$model" --global 32); rc=$?
mu=$(awk '$1 == "mu" {print $2; exit}' <<<"$out")
check "--global 32 finds the peak (exit 0, mu = 532)" "[ $rc -eq 0 ] && awk -v v=$mu 'BEGIN {exit !(v > 531.99 && v < 532.01)}'"
check "the report says how many starts reached the best" "grep -Eq 'global search \(multistart, sobol design, seed 1\): 32 starts, [0-9]+ at the best minimum, [0-9]+ distinct minima' <<<\"\$out\""
check "the report lists the minima, best first" "grep -Eq '^ +1\. cost 1875\.47' <<<\"\$out\""

json=$("$nlsq" fit "$peak" --model "$model" --global 32 --json)
check "the JSON carries the minima" "grep -q '\"global\": {\"method\": \"multistart\", \"design\": \"sobol\", \"seed\": 1, \"starts\": 32' <<<\"\$json\" && grep -q '\"minima\": \[' <<<\"\$json\""
if command -v python3 >/dev/null; then
    check "the JSON parses, minima sorted by cost" "python3 -c 'import json,sys; g=json.loads(sys.argv[1])[\"global\"]; c=[m[\"cost\"] for m in g[\"minima\"]]; assert c==sorted(c) and sum(m[\"starts\"] for m in g[\"minima\"])==32' \"\$json\""
fi

a=$("$nlsq" fit "$peak" --model "$model" --global 24 --design halton --seed 7 --json)
b=$("$nlsq" fit "$peak" --model "$model" --global 24 --design halton --seed 7 --json --threads 2)
strip() { grep -v -e fit_seconds -e '"seconds"' <<<"$1" | sed 's/"seconds": [^,]*,//'; }
check "the same seed gives the same answer (any thread count)" "[ \"\$(strip \"\$a\")\" = \"\$(strip \"\$b\")\" ]"
out=$("$nlsq" fit "$peak" --model "$model" --global 24 --design lhs --seed 3); rc=$?
check "--design lhs runs" "[ $rc -eq 0 ] && grep -q 'lhs design, seed 3' <<<\"\$out\""
out=$("$nlsq" fit "$peak" --model "$model" --design halton); rc=$?
check "--design alone asks for the default 64 starts" "grep -q ': 64 starts' <<<\"\$out\""

expect_error "--global 0" "--global needs a count" fit "$peak" --model "$model" --global 0
expect_error "bad --design" "sobol, halton" fit "$peak" --model "$model" --global 4 --design grid
expect_error "bad --seed" "not a whole number" fit "$peak" --model "$model" --global 4 --seed -3
expect_error "--global with --checkpoint" "do not go with --global" fit "$peak" --model "$model" --global 4 --checkpoint /tmp/nlsq_global_ck.$$
out=$("$nlsq" fit "$peak" --model "$model" --global-method cmaes); rc=$?
mu=$(awk '$1 == "mu" {print $2}' <<<"$out")
check "--global-method cmaes finds the peak (exit 0, mu 532)" "[ $rc -eq 0 ] && grep -q 'global search (cmaes' <<<\"\$out\" && awk -v v=$mu 'BEGIN {exit !(v > 531.9 && v < 532.1)}'"

# no --p0: a start of all ones that cannot be evaluated is searched for
logd="$peak.log.csv"
awk 'BEGIN { print "x,y"; for (i = 0; i <= 100; i++) { x = i / 10; printf "%g,%.12g\n", x, 3 * log(x + 0.5) + 1 } }' >"$logd"
out=$("$nlsq" fit "$logd" --model 'a*log(x-b)+c' 2>"$peak.err"); rc=$?
b=$(awk '$1 == "b" {print $2; exit}' <<<"$out")
check "no --p0: all ones at NaN (log of x - 1 < 0) is searched instead (b = -0.5)" \
    "[ $rc -eq 0 ] && grep -q 'cannot be evaluated' \"$peak.err\" && awk -v v=$b 'BEGIN {exit !(v > -0.5001 && v < -0.4999)}'"
# more free parameters than Sobol's 21 dimensions: the automatic search takes Halton
many=$(awk 'BEGIN { for (i = 0; i < 22; i++) printf "%sp%d*sin(%g*x)", i ? "+" : "", i, 0.3 * (i + 1) }')
"$nlsq" fit "$logd" --model "$many" --p0 auto >/dev/null 2>"$peak.err"; rc=$?
check "--p0 auto with 22 free parameters searches with Halton (exit 0 or 4, not 2)" \
    "[ $rc -ne 2 ] && grep -q -- '--design halton' \"$peak.err\""
rm -f "$logd"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
