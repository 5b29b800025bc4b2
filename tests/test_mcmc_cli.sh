#!/usr/bin/env bash
# nlsq fit --mcmc (issue 20) as a user runs it: the posterior's section in
# the report and the JSON, the chain as .npy (shape and size), the corner
# plot, the same chain for a seed on 1 or 2 threads, and one clear line
# for each bad option.
# Usage: test_mcmc_cli.sh PATH/TO/nlsq
set -u
. "$(dirname "$0")/cli_check.sh"

dir=$(mktemp -d /tmp/nlsq_mcmc_XXXXXX)
trap 'rm -rf "$dir"' EXIT
# an exponential decay with known sigma 0.05 (a deterministic wiggle as noise)
awk 'BEGIN { print "x,y,s"; for (i = 0; i < 200; i++) { x = 5 * i / 200;
             printf "%.10g,%.10g,0.05\n", x, 3 * exp(-1.3 * x) + 0.5 + 0.05 * sin(17.1 * i) } }' >"$dir/d.csv"
fit=(fit "$dir/d.csv" --model 'A*exp(-k*x) + c' --p0 A=1,k=1,c=0 --sigma s --absolute-sigma)

out=$("$nlsq" "${fit[@]}" --mcmc 400 --seed 5 --chain "$dir/c.npy" --corner "$dir/c.svg"); rc=$?
check "--mcmc runs after the fit (exit 0)" "[ $rc -eq 0 ]"
check "the report has the posterior section" "grep -q 'posterior (MCMC: 32 walkers x 400 steps, burn 100, thin 1: 9600 samples; sigma as given)' <<<\"\$out\""
k_fit=$(awk '$1 == "k" {print $2; exit}' <<<"$out")
k_med=$(awk '/posterior/ {p = 1} p && $1 == "k" {print $2; exit}' <<<"$out")
check "the posterior median of k is near the fit ($k_med vs $k_fit)" "awk -v a=$k_med -v b=$k_fit 'BEGIN {exit !(a - b < 0.01 && b - a < 0.01)}'"
check "acceptance and tau are reported" "grep -Eq 'acceptance 0\.[0-9]+ \(walkers' <<<\"\$out\""
check "--chain: a .npy of shape (300, 32, 3)" "head -c 128 \"$dir/c.npy\" | grep -q \"'shape': (300, 32, 3)\" && [ \$(stat -c %s \"$dir/c.npy\") -eq $((128 + 300 * 32 * 3 * 8)) ]"
check "--corner: an SVG naming the parameters" "head -c 4 \"$dir/c.svg\" | grep -q '<svg' && grep -q '>k</text>' \"$dir/c.svg\" && tail -1 \"$dir/c.svg\" | grep -q '</svg>'"

# 3000 rows: a half's 16 walkers x 3000 points are split between 2 threads
awk 'BEGIN { print "x,y,s"; for (i = 0; i < 3000; i++) { x = 5 * i / 3000;
             printf "%.10g,%.10g,0.05\n", x, 3 * exp(-1.3 * x) + 0.5 + 0.05 * sin(17.1 * i) } }' >"$dir/big.csv"
big=(fit "$dir/big.csv" --model 'A*exp(-k*x) + c' --p0 A=1,k=1,c=0 --sigma s --absolute-sigma)
"$nlsq" "${big[@]}" --mcmc 40 --seed 9 --threads 1 --chain "$dir/t1.npy" >/dev/null
out=$("$nlsq" "${big[@]}" --mcmc 40 --seed 9 --threads 2 --chain "$dir/t2.npy")
"$nlsq" "${big[@]}" --mcmc 40 --seed 10 --chain "$dir/t3.npy" >/dev/null
check "--threads 2 runs the sampler's passes on 2 threads" "grep -q 'on 2 threads' <<<\"\$out\""
check "the same seed on 1 and 2 threads: the same chain, bitwise" "cmp -s \"$dir/t1.npy\" \"$dir/t2.npy\""
check "another seed: another chain" "! cmp -s \"$dir/t1.npy\" \"$dir/t3.npy\""
check "--seed with --mcmc does not start a global search" "! \"$nlsq\" \"\${fit[@]}\" --mcmc 50 --seed 4 | grep -q 'global search'"

# a row of NaN left out (--nan-policy omit): the chain of the file without it
{ cat "$dir/d.csv"; echo "6,nan,0.05"; } >"$dir/nan.csv"
"$nlsq" "${fit[@]}" --mcmc 60 --chain "$dir/n1.npy" >/dev/null
"$nlsq" fit "$dir/nan.csv" "${fit[@]:2}" --nan-policy omit --mcmc 60 --chain "$dir/n2.npy" >/dev/null
check "--nan-policy omit: the NaN row is left out of every pass (the same chain)" "cmp -s \"$dir/n1.npy\" \"$dir/n2.npy\""
# with --global: the search's refined fit is sampled
out=$("$nlsq" fit "$dir/d.csv" --model 'A*exp(-k*x) + c' --sigma s --absolute-sigma --global 8 --mcmc 60)
check "--global then --mcmc" "grep -q 'global search' <<<\"\$out\" && grep -q 'posterior (MCMC: 32 walkers x 60 steps' <<<\"\$out\""

json=$("$nlsq" "${fit[@]}" --mcmc 200 --walkers 8 --burn 20 --thin 2 --prior c=0.5:0.01 --json); rc=$?
check "--json: an mcmc object with walkers, samples and each parameter's quantiles" \
    "[ $rc -eq 0 ] && python3 -c 'import json, sys; d = json.load(sys.stdin)[\"mcmc\"]; assert d[\"walkers\"] == 8 and d[\"samples\"] == 720 and d[\"burn\"] == 20 and d[\"thin\"] == 2; p = d[\"params\"][1]; assert p[\"name\"] == \"k\" and p[\"q2.5\"] < p[\"median\"] < p[\"q97.5\"]' <<<\"\$json\""

expect_error "odd walkers" "walkers must be even and at least twice the free parameters (2 x 3 = 6), got 7" "${fit[@]}" --mcmc 100 --walkers 7
expect_error "too few walkers" "got 4" "${fit[@]}" --mcmc 100 --walkers 4
expect_error "steps <= burn" "steps (100) must exceed burn (100)" "${fit[@]}" --mcmc 100 --burn 100
expect_error "--chain without --mcmc" "--chain needs --mcmc STEPS" "${fit[@]}" --chain "$dir/x.npy"
expect_error "--prior on no parameter" "--prior: the model has no parameter 'z'" "${fit[@]}" --mcmc 10 --prior z=1:2
expect_error "--prior without an sd" "--prior: 'k=1' is not name=mean:sd" "${fit[@]}" --mcmc 10 --prior k=1
expect_error "--prior with a negative sd" "the sd of 'k' is -1" "${fit[@]}" --mcmc 10 --prior k=1:-1
expect_error "--burn not a number" "--burn: 'x' is not a whole number" "${fit[@]}" --mcmc 10 --burn x
check "a refused run leaves no chain file" "[ ! -e \"$dir/x.npy\" ]"

# a fit that did not converge has no minimum to start from nor a noise scale:
# no posterior is sampled (as --profile), the report says so, the status is 1
out=$("$nlsq" "${fit[@]}" --max-nfev 2 --mcmc 100 --chain "$dir/nc.npy" 2>"$dir/nc.err"); rc=$?
check "--mcmc after a fit that did not converge: exit 1, no posterior, no chain" \
    "[ $rc -eq 1 ] && grep -q 'no MCMC: the fit did not converge' \"$dir/nc.err\" && ! grep -q posterior <<<\"\$out\" && [ ! -e \"$dir/nc.npy\" ]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
