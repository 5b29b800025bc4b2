#!/usr/bin/env bash
# nlsq fit --profile, --profile2d (issue 20) as a user runs them: the
# asymmetric limits in the report and the JSON (lmfit's conf_interval on
# the same data: tests/test_profile.c), a bound flagged, the 2-D plot's
# contours, and clear errors for bad options.
# Usage: test_profile_cli.sh PATH/TO/nlsq
set -u
. "$(dirname "$0")/cli_check.sh"

dir=$(mktemp -d /tmp/nlsq_profile_XXXXXX)
trap 'rm -rf "$dir"' EXIT
data=$dir/decay.csv
awk 'BEGIN { print "x,y"; for (i = 0; i < 30; i++) { x = 0.25 * i;
             printf "%.17g,%.17g\n", x, 3 * exp(-0.7 * x) + 0.5 + 0.08 * sin(0.37 * i * i + 1.3) } }' >"$data"
model='A*exp(-k*x) + c'
fit=(fit "$data" --model "$model" --p0 A=1,k=1,c=0)

out=$("$nlsq" "${fit[@]}" --profile all); rc=$?
check "--profile all: exit 0, a section in the report" "[ $rc -eq 0 ] && grep -q 'profile-likelihood intervals (F-test' <<<\"\$out\""
# lmfit's conf_interval at 0.95 (tests/test_profile.c): k in [0.6720607, 0.7691606]
kline=$(grep -E '^ +k +95%' <<<"$out")
check "k's asymmetric limits are lmfit's" "grep -q '\[0.67206072, 0.76916032\]' <<<\"\$kline\""
check "k's symmetric t half-width is shown too" "grep -q '0.0479398' <<<\"\$kline\""

json=$("$nlsq" "${fit[@]}" --profile k --profile-level 0.6827,0.95 --json); rc=$?
check "--json: exit 0, a profile object" "[ $rc -eq 0 ] && grep -q '\"profile\": {\"test\": \"F\"' <<<\"\$json\""
check "--json: both levels, with lower, upper and their status" \
    "grep -q '\"level\": 0.6826999[0-9]*, \"lower\": 0.69567695' <<<\"\$json\" && grep -q '\"upper_status\": \"ok\"' <<<\"\$json\""
check "--json: the trace for plotting" "grep -q '\"trace\": {\"value\": \[' <<<\"\$json\""
if command -v python3 >/dev/null; then
    check "--json parses" "python3 -c 'import json,sys; d=json.load(sys.stdin); assert abs(d[\"profile\"][\"params\"][\"k\"][\"limits\"][1][\"upper\"] - 0.76916032) < 1e-7' <<<\"\$json\""
fi

out=$("$nlsq" "${fit[@]}" --bounds c=-inf:0.54 --profile c); rc=$?
check "a bound before the level: the limit is the bound, flagged" \
    "[ $rc -eq 0 ] && grep -Eq '^ +c +95%.*\[0.4831989[0-9]*, 0.54\].*\(upper: bound\)' <<<\"\$out\""

out=$("$nlsq" "${fit[@]}" --profile2d A,k --profile2d-grid 11 --profile2d-plot "$dir/ak.svg"); rc=$?
check "--profile2d: exit 0, 121 refits" "[ $rc -eq 0 ] && grep -q '2-D profile of A, k: 11 x 11 grid, 121 refits (0 failed)' <<<\"\$out\""
check "--profile2d-plot: an SVG with three contour paths" \
    "[ -s \"$dir/ak.svg\" ] && [ \$(grep -c 'class=\"c\" stroke=' \"$dir/ak.svg\") -eq 3 ] && grep -q '</svg>' \"$dir/ak.svg\""

expect_error "unknown parameter" "--profile: nlsq_profile: no parameter named 'q'" "${fit[@]}" --profile q
expect_error "level outside (0, 1)" "--profile-level: level 1.5 is outside (0, 1)" "${fit[@]}" --profile all --profile-level 1.5
expect_error "a fixed parameter" "parameter 'c' is fixed in the fit" "${fit[@]}" --fix c=0.5 --profile c
expect_error "--profile2d needs two names" "--profile2d needs two parameter names" "${fit[@]}" --profile2d A
expect_error "--profile2d-plot alone" "--profile2d-plot needs --profile2d" "${fit[@]}" --profile2d-plot "$dir/x.svg"
expect_error "--profile2d-plot onto the data" "--profile2d-plot: .*refusing to overwrite it" "${fit[@]}" --profile2d A,k --profile2d-plot "$data"
expect_error "--profile2d-plot into no directory" "--profile2d-plot: $dir/no/x.svg: the directory" "${fit[@]}" --profile2d A,k --profile2d-plot "$dir/no/x.svg"
expect_error "--profile-level alone" "--profile-level needs --profile" "${fit[@]}" --profile-level 0.9

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
