#!/usr/bin/env bash
# nlsq fit's intervals, bands and derived quantities (issue 20) as a user
# runs them: --level in the report and the JSON, --predict's band columns
# against the straight line's textbook formulas, --plot's shaded bands,
# --derive (by expression, by library name, 'all'), and clear errors.
# Usage: test_bands_cli.sh PATH/TO/nlsq
set -u
. "$(dirname "$0")/cli_check.sh"

dir=$(mktemp -d /tmp/nlsq_bands_XXXXXX)
trap 'rm -rf "$dir"' EXIT
# a line with noise (deterministic), and two peaks on a background
awk 'BEGIN { print "x,y"; for (i = 0; i < 15; i++) { x = 0.5 * i; printf "%g,%.12g\n", x, 2 - 0.3 * x + 0.2 * sin(7.1 * i) } }' >"$dir/line.csv"
awk 'BEGIN { print "x,y,s"; for (i = 0; i < 200; i++) { x = 0.05 * i;
             printf "%g,%.12g,0.05\n", x, 3 * exp(-0.5 * ((x - 4) / 0.6)^2) + 1.5 * exp(-0.5 * ((x - 6.5) / 0.5)^2) + 0.2 + 0.04 * sin(3.7 * i) } }' >"$dir/peaks.csv"

# --- intervals ---
out=$("$nlsq" fit "$dir/line.csv" --model 'a + b*x' --p0 a=1,b=1)
check "the report has a 95% interval column" "grep -q '95% interval' <<<\"\$out\""
json=$("$nlsq" fit "$dir/line.csv" --model 'a + b*x' --p0 a=1,b=1 --json --level 0.9)
# t(0.95, 13) = 1.7709333959867988 (scipy.stats.t.ppf)
check "JSON: level, critical t(0.95, 13), and lower/upper = value -/+ t stderr" "python3 -c '
import json, sys
d = json.loads(sys.argv[1]); q = d[\"critical\"]; b = d[\"params\"][1]
ok = d[\"level\"] == 0.9 and abs(q - 1.7709333959867988) < 1e-12
ok = ok and abs(b[\"lower\"] - (b[\"value\"] - q * b[\"stderr\"])) <= 1e-14 * abs(b[\"value\"])
ok = ok and abs(b[\"upper\"] - (b[\"value\"] + q * b[\"stderr\"])) <= 1e-14 * abs(b[\"value\"])
sys.exit(0 if ok else 1)' \"\$json\""

# --- --predict: band columns equal the textbook line formulas ---
"$nlsq" fit "$dir/line.csv" --model 'a + b*x' --p0 a=1,b=1 --predict "$dir/pred.csv" --quiet
check "--predict has the four band columns" "head -1 \"$dir/pred.csv\" | grep -q '^x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper$'"
# t(0.975, 13) = 2.1603686564610127
check "--predict's bands are s^2 (1/n + (x-xbar)^2/Sxx) (+ s^2) with t, to 1e-10" "awk -F, -v t=2.1603686564610127 '
    NR == FNR { if (FNR > 1) { n++; X[n] = \$1; Y[n] = \$2 } next }
    FNR == 1 { for (i = 1; i <= n; i++) { sx += X[i]; sy += Y[i] } xb = sx / n; yb = sy / n;
               for (i = 1; i <= n; i++) { sxx += (X[i] - xb)^2; sxy += (X[i] - xb) * (Y[i] - yb) }
               b = sxy / sxx; a = yb - b * xb; for (i = 1; i <= n; i++) ssr += (Y[i] - a - b * X[i])^2; s2 = ssr / (n - 2); next }
    { c = t * sqrt(s2 * (1 / n + (\$1 - xb)^2 / sxx)); p = t * sqrt(s2 * (1 + 1 / n + (\$1 - xb)^2 / sxx));
      e1 = ((\$6 - \$5) / 2 - c) / c; e2 = ((\$8 - \$7) / 2 - p) / p; if (e1 < 0) e1 = -e1; if (e2 < 0) e2 = -e2;
      if (e1 > 1e-10 || e2 > 1e-10) bad++ }
    END { exit bad > 0 || FNR != n + 1 }' \"$dir/line.csv\" \"$dir/pred.csv\""

# --- --plot: shaded bands, per component ---
"$nlsq" fit "$dir/line.csv" --model 'a + b*x' --p0 a=1,b=1 --plot "$dir/line.svg" --quiet
check "--plot shades the confidence and prediction bands" "grep -q 'class=\"bconf\"' \"$dir/line.svg\" && grep -q 'class=\"bpred\"' \"$dir/line.svg\" && grep -q '95% prediction band' \"$dir/line.svg\""
"$nlsq" fit "$dir/peaks.csv" --model 'gaussian(x) + gaussian(x) + constant(x)' --sigma s --plot "$dir/peaks.svg" --quiet --level 0.68
check "--plot: a band per component; with a sigma column no prediction band" "grep -q 'polygon class=\"b0\"' \"$dir/peaks.svg\" && grep -q 'polygon class=\"b1\"' \"$dir/peaks.svg\" && ! grep -q 'polygon class=\"bpred\"' \"$dir/peaks.svg\" && grep -q '68% confidence band' \"$dir/peaks.svg\""

# --- --derive ---
out=$("$nlsq" fit "$dir/peaks.csv" --model 'gaussian(x) + gaussian(x) + constant(x)' --sigma s --derive all \
      --derive 'ratio = gaussian1_height/gaussian2_height' --derive 'gaussian1_sigma*2')
check "--derive all lists the FWHM, height and area of each peak" "grep -Eq '^  gaussian1_fwhm +1\.41' <<<\"\$out\" && grep -Eq '^  gaussian2_height +1\.(49|50)' <<<\"\$out\" && grep -q '^  gaussian2_area ' <<<\"\$out\""
check "--derive by expression: the name, and the text as the name" "grep -Eq '^  ratio +2\.0.*= gaussian1_height/gaussian2_height' <<<\"\$out\" && grep -Eq '^  gaussian1_sigma\*2 +1\.(19|20)' <<<\"\$out\""
json=$("$nlsq" fit "$dir/peaks.csv" --model 'gaussian(x) + gaussian(x) + constant(x)' --sigma s --derive 'w = 2*gaussian1_sigma' --json)
check "JSON: derived with value = 2 sigma1, stderr = 2 stderr(sigma1), correlation 1" "python3 -c '
import json, sys
d = json.loads(sys.argv[1]); p = {q[\"name\"]: q for q in d[\"params\"]}; w = d[\"derived\"][0]
s = p[\"gaussian1_sigma\"]
ok = abs(w[\"value\"] - 2 * s[\"value\"]) <= 1e-15 * w[\"value\"] and abs(w[\"stderr\"] - 2 * s[\"stderr\"]) <= 1e-14 * w[\"stderr\"]
ok = ok and abs(w[\"correlations\"][\"gaussian1_sigma\"] - 1) < 1e-12 and len(d[\"derived_cov\"]) == 1
sys.exit(0 if ok else 1)' \"\$json\""

# --- bad input: one clear line each, exit 2 ---
expect_error "--level 0 is refused" "--level: '0' is not a probability in (0, 1)" fit "$dir/line.csv" --model 'a + b*x' --level 0
expect_error "--level 1.5 is refused" "--level: '1.5' is not a probability in (0, 1)" fit "$dir/line.csv" --model 'a + b*x' --level 1.5
expect_error "--level abc is refused" "--level: 'abc' is not a probability" fit "$dir/line.csv" --model 'a + b*x' --level abc
expect_error "--derive with an unknown name names it and the expression" "derived quantity 'w = 2\*q': unknown name 'q'" fit "$dir/line.csv" --model 'a + b*x' --derive 'w = 2*q'
expect_error "--derive with the variable is refused" "'x' is a variable of the model" fit "$dir/line.csv" --model 'a + b*x' --derive 'a*x'
expect_error "--derive all without library shapes" "--derive all: the model has no library quantities" fit "$dir/line.csv" --model 'a + b*x' --derive all
expect_error "--derive with a syntax error" "derived quantity 'w = (a'" fit "$dir/line.csv" --model 'a + b*x' --derive 'w = (a'

echo "$passed passed, $failed failed, 0 skipped"
[ $failed -eq 0 ]
