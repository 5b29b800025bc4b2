#!/usr/bin/env bash
# The nlsq command as a user runs it: a real fit of the bundled data with
# checked numbers, and clear errors (exit 2, one message) for bad input.
# Usage: test_cli.sh PATH/TO/nlsq SOURCE_DIR [FAKE_CUDA FAKE_NVRTC]
# (the CUDA emulator's libraries, for the GPU path through the command)
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
data=$src/examples/data/decay.csv
passed=0
failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0); rc=$?
check "fit exits 0 when converged" "[ $rc -eq 0 ]"
check "fit reports convergence" "grep -q '(converged)' <<<\"\$out\""
a=$(awk '$1 == "a" {print $2; exit}' <<<"$out")
b=$(awk '$1 == "b" {print $2; exit}' <<<"$out")
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

expect_error() { # name, grep pattern, args... (exit status 2)
    expect_status 2 "$@"
}
expect_status() { # status, name, grep pattern, args...
    local want=$1 name=$2 pattern=$3
    shift 3
    local err
    err=$("$nlsq" "$@" 2>&1 >/dev/null); local rc=$?
    check "$name" "[ $rc -eq $want ] && grep -q -- \"$pattern\" <<<\"\$err\" && [ \$(wc -l <<<\"\$err\") -eq 1 ]"
}
expect_error "missing file" "No such file" fit /nonexistent.csv --model 'a*x'
expect_error "no model" "no --model" fit "$data"
expect_status 3 "model syntax error: exit 3 with column" "column 6" fit "$data" --model 'a*x +'
expect_status 3 "unknown function with a suggestion" "did you mean 'exp'" fit "$data" --model 'a*exq(-b*x)'
expect_error "unknown parameter in --p0" "no parameter 'q'" fit "$data" --model 'a*x' --p0 q=1
expect_error "bad bound" "not lo:hi" fit "$data" --model 'a*x' --bounds a=1
expect_error "bounds with lm" "does not take bounds" fit "$data" --model 'a*x' --bounds a=0:2 --method lm
expect_error "p0 outside bounds" "outside its bounds" fit "$data" --model 'a*x' --bounds a=0:2 --p0 a=3
expect_error "unknown column lists the columns" "columns: x, y" fit "$data" --model 'a*x' --y z
expect_error "bad --nan-policy" "raise or omit" fit "$data" --model 'a*x' --nan-policy skip
expect_error "bad --backend" "auto, interp or jit" fit "$data" --model 'a*x' --backend gpu
expect_error "bad --device" "expected auto, cpu, cuda, cuda:N or cuda:all" fit "$data" --model 'a*x' --device tpu
if ! "$nlsq" devices | grep -q '^cuda:'; then
    expect_error "--device cuda without a GPU: an error saying why" "device cuda: " fit "$data" --model 'a*x' --device cuda
fi
expect_error "bad --threads" "--threads needs a count" fit "$data" --model 'a*x' --threads 0
expect_error "bad tolerance" "--ftol needs a number" fit "$data" --model 'a*x' --ftol abc
expect_error "unknown option" "unknown option" fit "$data" --model 'a*x' --frobnicate 1
expect_error "unknown command" "unknown command" frobnicate
printf 'x,y\n1,2\n3,oops\n' > "${TMPDIR:-/tmp}/nlsq_cli_bad.csv"
expect_error "non-numeric field named with line" ":3: field 2" fit "${TMPDIR:-/tmp}/nlsq_cli_bad.csv" --model 'a*x'
rm -f "${TMPDIR:-/tmp}/nlsq_cli_bad.csv"

# ---- issue 17, the input side: one case (or a few) per defect ----
in17=$(mktemp -d "${TMPDIR:-/tmp}/nlsq_cli_in17.XXXXXX")
awk 'BEGIN { print "x,y"; for (i = 0; i < 1000; i++) printf "%d,%.6f\n", i, 2.5 * i + 7 }' >"$in17/line.csv"
# defect 1: a pipe, /dev/stdin, <(...) and a FIFO are read once, every row
out=$(cat "$in17/line.csv" | "$nlsq" fit /dev/stdin --model 'a*x+b'); rc=$?
check "defect01 pipe to /dev/stdin: all 1000 rows, a = 2.5" "[ $rc -eq 0 ] && grep -q '1000 points used' <<<\"\$out\" && awk '\$1 == \"a\" { exit !(\$2 > 2.4999999 && \$2 < 2.5000001) }' <<<\"\$out\""
out=$("$nlsq" fit <(cat "$in17/line.csv") --model 'a*x+b'); rc=$?
check "defect01 process substitution: all 1000 rows" "[ $rc -eq 0 ] && grep -q '1000 points used' <<<\"\$out\""
if mkfifo "$in17/fifo" 2>/dev/null; then
    (cat "$in17/line.csv" >"$in17/fifo"; echo $? >"$in17/writer.rc") &
    out=$("$nlsq" fit "$in17/fifo" --model 'a*x+b'); rc=$?
    wait
    check "defect01 FIFO: all 1000 rows, and its writer is not killed by SIGPIPE" "[ $rc -eq 0 ] && grep -q '1000 points used' <<<\"\$out\" && [ \"\$(cat $in17/writer.rc)\" = 0 ]"
fi
out=$(cat "$in17/line.csv" | "$nlsq" eval - --model 'a*x+b' --p0 a=1,b=0); rc=$?
check "defect01 eval from a pipe: 1000 rows and the header" "[ $rc -eq 0 ] && [ \$(wc -l <<<\"\$out\") -eq 1001 ]"
# defect 2: the default y is the column after the x columns
awk 'BEGIN { print "idx,t,v"; for (i = 0; i < 50; i++) printf "%d,%g,%g\n", 100 + i, i * 0.5, 3 * i * 0.5 + 1 }' >"$in17/idxy.csv"
out=$("$nlsq" fit "$in17/idxy.csv" --x t --model 'a*x+b'); rc=$?
check "defect02 --x t: y is v, the next column (a = 3, b = 1)" "[ $rc -eq 0 ] && awk '\$1 == \"a\" && a == \"\" { a = \$2 } \$1 == \"b\" && b == \"\" { b = \$2 } END { exit !(a > 2.999999 && a < 3.000001 && b > 0.999999 && b < 1.000001) }' <<<\"\$out\""
expect_error "defect02 --x on the last column: no y after it" "no column after the x columns (v) for y" fit "$in17/idxy.csv" --x v --model 'a*x+b'
printf 'id,x,y\n1,1,2\n1,2,4\n1,3,6\n2,1,3\n2,2,6\n2,3,9\n' >"$in17/long.csv"
out=$("$nlsq" batch "$in17/long.csv" --id id --x x --model 'a*x' --quiet); rc=$?
check "defect02 batch --id id --x x: y is the column after x (a = 2 and 3)" "[ $rc -eq 0 ] && grep -q '^1,2,' <<<\"\$out\" && grep -q '^2,3,' <<<\"\$out\""
# defect 12: the text reader refuses what it cannot read right
printf 'x,y\n1,2\n2,1e400\n' >"$in17/big.csv"
expect_error "defect12 1e400 is refused at its line and field" "big.csv:3: field 2 .*1e400.* is beyond the range of a double" fit "$in17/big.csv" --model 'a*x'
printf 'x,y\n1,2\n2,inf\n' >"$in17/inf.csv"
expect_error "defect12 a written inf is named by its 1-based data row too" "y\[1\] is inf (data row 2; nan_policy raise)" fit "$in17/inf.csv" --model 'a*x'
printf 'x,y\n1,2\n2,3\0009\n' >"$in17/nul.csv"
expect_error "defect12 a NUL byte is an error, not the line's end" "nul.csv:3: a NUL byte at column 4" fit "$in17/nul.csv" --model 'a*x'
printf 'x,y\n1,2\n2,"3"9\n' >"$in17/quote.csv"
expect_error "defect12 text after a closing quote" "quote.csv:3: field 2 has text after its closing quote" fit "$in17/quote.csv" --model 'a*x'
printf '\357\273\277x,y\n1,2\n2,4.1\n3,5.9\n' >"$in17/bom.csv"
out=$("$nlsq" fit "$in17/bom.csv" --model 'a*x' --x x --y y); rc=$?
check "defect12 a UTF-8 BOM is not part of the first name" "[ $rc -eq 0 ] && grep -q '3 points used' <<<\"\$out\""
expect_error "defect12 a directory: is a directory" "Is a directory" fit "$in17" --model 'a*x'
[ -r /dev/zero ] && expect_error "defect12 /dev/zero: refused at the line limit, not read forever" "a line longer than 1 MiB" fit /dev/zero --model 'a*x'
# defect 13: a header's sizes are checked against the bytes there
{ printf '\223NUMPY\001\000\166\000'; printf '%-117s\n' "{'descr': '<f8', 'fortran_order': False, 'shape': (562949953421312, 2), }"; head -c 572 /dev/zero; } >"$in17/huge.npy"
expect_error "defect13 eval: .npy claiming 2^49 rows is truncated" "truncated" eval "$in17/huge.npy" --model 'a*x'
expect_error "defect13 batch: .npy claiming 2^49 rows is truncated" "truncated" batch "$in17/huge.npy" --model 'a*x'
for cmd in eval batch; do
    err=$(cat "$in17/huge.npy" | "$nlsq" $cmd /dev/stdin --model 'a*x' 2>&1 >/dev/null); rc=$?
    check "defect13 $cmd from a pipe: .npy claiming 2^49 rows is a truncated file" "[ $rc -eq 2 ] && grep -q 'truncated file' <<<\"\$err\""
done
expect_error "defect13 --resume DIR: a clear error" "is a directory" fit "$in17/line.csv" --model 'a*x+b' --resume "$in17"
# defect 16: values that would mean something else are refused; -- ends options
expect_error "defect16 --fix a=nan refused (NaN is 'not given')" "--fix: 'nan' is not a number" fit "$in17/line.csv" --model 'a*x+b' --fix a=nan
"$nlsq" fit "$in17/line.csv" --model 'a*x+b' --checkpoint "$in17/ck" >/dev/null
expect_error "defect16 a refused resume names max_nfev" "max_nfev" fit "$in17/line.csv" --model 'a*x+b' --resume "$in17/ck" --max-nfev 7
out=$("$nlsq" diff '-a*x'); rc=$?
check "defect16 nlsq diff '-a*x' differentiates it" "[ $rc -eq 0 ] && grep -q '^df/da = -x' <<<\"\$out\""
out=$("$nlsq" diff -- '-a*x'); rc=$?
check "defect16 -- ends the options of diff" "[ $rc -eq 0 ] && grep -q '^df/da = -x' <<<\"\$out\""
out=$("$nlsq" fit --model 'a*x+b' -- "$in17/line.csv"); rc=$?
check "defect16 -- ends the options of fit" "[ $rc -eq 0 ] && grep -q '1000 points used' <<<\"\$out\""
expect_error "defect16 after --, an option is a file name" "No such file" eval --model 'a*x' -- --p0
expect_error "defect16 --raw OFFSET beyond 2^64 refused, not saturated" "--raw takes" fit "$in17/line.csv" --model 'a*x' --raw f8:2:rows:99999999999999999999999
rm -rf "$in17"
# --json: every documented key (docs/cli.md), and well-formed where python3 can tell
json=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --json); rc=$?
missing=""
for key in model params popt pcov cost chi2 redchi dof r2 aic bic nfev njev status success message m fit_seconds backend backend_note passes jit_passes threads; do
    grep -q "\"$key\":" <<<"$json" || missing="$missing $key"
done
check "--json has every documented key${missing:+ (missing:$missing)}" "[ $rc -eq 0 ] && [ -z \"$missing\" ]"
check "--json params carry name, value, stderr, lower, upper, fixed, at_bound" "grep -q '{\"name\": \"a\", \"value\": 2.5003[0-9]*, \"stderr\": 0.0107[0-9]*, \"lower\": 2.4[0-9]*, \"upper\": 2.5[0-9]*, \"fixed\": false, \"at_bound\": false}' <<<\"\$json\""
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["success"] is True and len(d["pcov"]) == 3' <<<"$json"
    check "--json parses as JSON (python3)" "[ $? -eq 0 ]"
else
    echo "SKIP --json parses as JSON: python3 not installed"
fi

# --predict: a complete file, atomically (no temporary left behind)
pred=${TMPDIR:-/tmp}/nlsq_cli_pred.csv
rm -f "$pred"
"$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --predict "$pred" --quiet; rc=$?
check "--predict writes x, y, fit, residual for every row" "[ $rc -eq 0 ] && [ \$(head -1 $pred) = x,y,fit,residual,conf_lower,conf_upper,pred_lower,pred_upper ] && [ \$(wc -l < $pred) -eq 41 ]"
check "--predict residual = y - fit" "awk -F, 'NR > 1 { d = \$2 - \$3 - \$4; if (d > 1e-12 || d < -1e-12) bad = 1 } END { exit bad }' $pred"
check "--predict leaves no temporary file" "[ -z \"\$(ls ${pred}.tmp-* 2>/dev/null)\" ]"
rm -f "$pred"
"$nlsq" fit "$data" --model 'a*x +' --predict "$pred" 2>/dev/null
check "no output file after an error" "[ ! -e $pred ]"

# --verbose: one line per iteration on stderr, stdout untouched
verr=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --verbose --quiet 2>&1 >/dev/null)
check "--verbose prints iterations with cost, reduction, step, optimality" "grep -q '^iteration *2 *cost .* reduction .* step .* optimality ' <<<\"\$verr\""

# not converged: exit 1, report still written and says so
out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --max-nfev 3); rc=$?
check "not converged: exit 1 and a warning" "[ $rc -eq 1 ] && grep -q 'did not converge' <<<\"\$out\""

# issue 19: a Gaussian peak (301 points, x = 382 .. 682, peak at 532, width
# 8.5, counts ~1200 on a background of 100, noise of about its square
# root) from SciPy's rule, all ones: the
# peak's Jacobian columns are 0 there, A, mu and s never move, and the
# solver stops "converged" with R^2 = 0. The verdict says so: exit 4.
peak=${TMPDIR:-/tmp}/nlsq_cli_peak_$$.csv
# noise: Park-Miller's generator (exact in doubles, the same in every awk)
awk 'BEGIN { print "x,y"; u = 1; for (i = 0; i < 301; i++) { x = 382 + i; t = (x - 532) / 8.5;
     u = (u * 16807) % 2147483647; y = 1200 * exp(-0.5 * t * t) + 100;
     printf "%d,%.6f\n", x, y + 2 * sqrt(y) * (u / 2147483647 - 0.5) } }' > "$peak"
gauss='A*exp(-0.5*((x-mu)/s)^2)+c'
out=$("$nlsq" fit "$peak" --model "$gauss" --p0 A=1,mu=1,s=1,c=1); rc=$?
check "issue 19: Gaussian from all ones: converged but exit 4 (not trusted)" "[ $rc -eq 4 ] && grep -q '(converged)' <<<\"\$out\""
check "issue 19: the verdict line says NOT TRUSTED" "grep -q '^verdict  NOT TRUSTED' <<<\"\$out\""
check "issue 19: the report names the parameters without influence" "grep -q \"'A', 'mu' and 's' have no influence on the model\" <<<\"\$out\""
check "issue 19: the report says what to try" "grep -q 'from the data (--p0 auto), a global search (--global 64)' <<<\"\$out\" && grep -q -- '--fix A=1,mu=1,s=1' <<<\"\$out\""
check "issue 19: the report says R^2 explains nothing" "grep -q 'R^2 = -*0.00000: the model explains the data no better than their mean' <<<\"\$out\""
"$nlsq" fit "$peak" --model "$gauss" --p0 A=1,mu=1,s=1,c=1 --quiet; rc=$?
check "issue 19: --quiet: the exit status tells (4)" "[ $rc -eq 4 ]"
"$nlsq" fit "$peak" --model "$gauss" --p0 A=1,mu=1,s=1,c=1 --quiet --accept-untrusted; rc=$?
check "--accept-untrusted: exit 0 for a converged fit that is not trusted" "[ $rc -eq 0 ]"
js=$("$nlsq" fit "$peak" --model "$gauss" --p0 A=1,mu=1,s=1,c=1 --json); rc=$?
check "issue 19: --json carries the verdict and the diagnostics" "[ $rc -eq 4 ] && grep -q '\"trusted\": false' <<<\"\$js\" && grep -q '\"no_influence\": \[\"A\", \"mu\", \"s\"\]' <<<\"\$js\" && grep -q '\"key\": \"no_explanation\", \"untrusted\": true' <<<\"\$js\""
if command -v python3 >/dev/null; then
    check "issue 19: the JSON parses" "python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d[\"diagnostics\"][\"rank\"] == 1 and not d[\"trusted\"] else 1)' <<<\"\$js\""
fi
out=$("$nlsq" fit "$peak" --model "$gauss" --p0 A=1000,mu=530,s=10,c=50); rc=$?
check "issue 19: from a start near the peak: exit 0, trusted" "[ $rc -eq 0 ] && grep -q '^verdict  trusted' <<<\"\$out\" && ! grep -q '^  diagnostics (' <<<\"\$out\""
# b and c enter only as b + c: rank 2 of 3, the pair named
out=$(awk 'BEGIN { print "x,y"; for (i = 0; i < 40; i++) printf "%.1f,%.9f\n", 0.1 * i, 2 * exp(-0.07 * i) + 0.01 * sin(3 * i) }' |
    "$nlsq" fit - --model 'a*exp(-(b+c)*x)' --p0 a=1,b=0.2,c=0.3); rc=$?
check "rank-deficient: exit 4, the parameters of the undetermined combination named" "[ $rc -eq 4 ] && grep -q \"rank 2 of 3: 'b' and 'c' enter in a combination\" <<<\"\$out\""
rm -f "$peak"

# missing values with --nan-policy
nanf=${TMPDIR:-/tmp}/nlsq_cli_nan.csv
{ echo "x,y"; echo "0,3"; echo "1,NA"; echo "2,"; tail -n +5 "$data" | head -30; } > "$nanf"
expect_error "NaN with the default policy raise" "nan_policy raise" fit "$nanf" --model 'a*exp(-b*x) + c'
out=$("$nlsq" fit "$nanf" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --nan-policy omit); rc=$?
check "--nan-policy omit drops NA and empty fields" "[ $rc -eq 0 ] && grep -q '2 omitted' <<<\"\$out\""
rm -f "$nanf"

# nlsq diff: the derivatives as model text
out=$("$nlsq" diff 'a*exp(-b*x) + c'); rc=$?
check "diff lists parameters and variables" "[ $rc -eq 0 ] && grep -q '^parameters  a b c' <<<\"\$out\" && grep -q '^variables   x' <<<\"\$out\""
check "diff shows df/da = exp(x*-b)" "grep -qx 'df/da = exp(x\*-b)' <<<\"\$out\""
check "diff shows df/dc = 1" "grep -qx 'df/dc = 1' <<<\"\$out\""
out=$("$nlsq" diff 'A*exp(-((x-x0)^2 + (y-y0)^2)/(2*s^2))' --vars x,y); rc=$?
check "diff of a surface names shared subexpressions t1, t2" "[ $rc -eq 0 ] && grep -q '^df/ds = t1 = ' <<<\"\$out\""
expect_status 3 "diff of a malformed model" "column 3" diff 'a*'
expect_error "diff with an unknown option" "unknown option" diff 'a*x' --frob 1

# nlsq eval: values and Jacobian columns at the data's x
out=$("$nlsq" eval "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=0.5,c=1 --jacobian); rc=$?
check "eval header x,f,d/da,d/db,d/dc" "[ $rc -eq 0 ] && [ \"\$(head -1 <<<\"\$out\")\" = x,f,d/da,d/db,d/dc ]"
check "eval: 40 rows" "[ \$(wc -l <<<\"\$out\") -eq 41 ]"
check "eval at x=0: f=3, d/da=1, d/db=-0, d/dc=1" "grep -qx '0,3,1,-0,1' <<<\"\$out\""
xonly=${TMPDIR:-/tmp}/nlsq_cli_xonly.txt
printf '0\n1\n2\n' > "$xonly"
out1=$("$nlsq" eval "$xonly" --model 'a*x^2' --p0 a=3); rc=$?
check "eval needs no y column" "[ $rc -eq 0 ] && [ \"\$(tail -1 <<<\"\$out1\")\" = '2,12' ]"
rm -f "$xonly"
row=$(sed -n 11p <<<"$out")
check "eval at x=0.9: f = 2 exp(-0.45) + 1 and d/db = -2 x exp(-0.45)" "awk -F, '{ e = exp(-0.45); d1 = \$2 - (2*e + 1); d2 = \$4 + 1.8*e; exit !(d1 < 1e-15 && d1 > -1e-15 && d2 < 1e-15 && d2 > -1e-15) }' <<<\"\$row\""

# --plot: a well-formed SVG that an independent renderer draws
svg=${TMPDIR:-/tmp}/nlsq_cli_plot.svg
png=${TMPDIR:-/tmp}/nlsq_cli_plot.png
rm -f "$svg" "$png"
"$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --plot "$svg" --quiet; rc=$?
check "--plot writes an SVG" "[ $rc -eq 0 ] && head -2 $svg | grep -q '<svg xmlns=\"http://www.w3.org/2000/svg\"'"
check "--plot has 80 points (data and residuals) and a 400-point curve" "[ \$(grep -c '<circle' $svg) -ge 80 ] && [ \$(grep -o '<polyline class=\"fit\" points=\"[^\"]*' $svg | tr -cd ',' | wc -c) -eq 400 ]"
check "--plot legend names the parameters with their errors" "grep -q 'a = 2.50033 ± 0.0107' $svg"
check "--plot axis titles from the column names" "grep -q '>x</text>' $svg && grep -q '>y</text>' $svg"
if command -v python3 >/dev/null; then
    python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$svg"
    check "--plot SVG is well-formed XML (python3)" "[ $? -eq 0 ]"
fi
if command -v rsvg-convert >/dev/null; then
    rsvg-convert "$svg" -o "$png"; rc=$?
    size=$(od -An -t u1 -j 16 -N 8 "$png" 2>/dev/null | awk '{print $3*256+$4, $7*256+$8}')
    check "--plot renders with rsvg-convert to an 860x640 PNG" "[ $rc -eq 0 ] && [ \"$size\" = '860 640' ]"
else
    echo "SKIP --plot renders with rsvg-convert: rsvg-convert not installed (Debian librsvg2-bin)"
fi
"$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --plot "$svg" --plot-logy --quiet; rc=$?
check "--plot-logy draws decade ticks" "[ $rc -eq 0 ] && grep -q 'class=\"tl\">1</text>' $svg"
rm -f "$svg" "$png"

# input formats: every delimiter, header or none, names or numbers, CRLF,
# quoted fields, .npy in both orders, both float types and byte orders
tmp=${TMPDIR:-/tmp}/nlsq_cli_fmt
mkdir -p "$tmp"
td=$src/tests/data
a_of() { awk '$1 == "a" {print $2; exit}'; }
want=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
tail -n +3 "$data" | tr ',' '\t' > "$tmp/tab.txt"              # no header, tabs
tail -n +3 "$data" | tr ',' ';' > "$tmp/semi.csv"               # semicolons
tail -n +3 "$data" | tr ',' ' ' | sed 's/^/  /' > "$tmp/ws.txt" # runs of blanks
{ echo "t	signal"; tail -n +3 "$data" | tr ',' '\t'; } > "$tmp/tab_header.tsv"
for f in tab.txt semi.csv ws.txt; do
    got=$("$nlsq" fit "$tmp/$f" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
    check "input $f gives the same fit" "[ \"$got\" = \"$want\" ]"
done
got=$("$nlsq" fit "$tmp/tab_header.tsv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --x t --y signal | a_of)
check "tab-separated with a header, columns by name" "[ \"$got\" = \"$want\" ]"
got=$("$nlsq" fit "$tmp/semi.csv" --delimiter ';' --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --x 1 --y 2 | a_of)
check "--delimiter ';' with columns by number" "[ \"$got\" = \"$want\" ]"
expect_error "--delimiter that does not match the file" ":2: field 1 (.*) is not a number" fit "$tmp/semi.csv" --delimiter tab --model 'a*x' --y 3
out=$("$nlsq" fit "$td/decay_quoted.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --x 1 --y 2); rc=$?
check "quoted fields with delimiters and quotes inside, CRLF line ends" "[ $rc -eq 0 ] && grep -q '40 points used' <<<\"\$out\""
expect_error "quoted header names are listed as written" 'columns: time, s, signal .y.;' fit "$td/decay_quoted.csv" --model 'a*x' --y q
ref=$("$nlsq" fit "$td/decay_f8_c.npy" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
for f in decay_f8_f.npy decay_f8_be.npy; do
    got=$("$nlsq" fit "$td/$f" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
    check ".npy $f equals the C-order float64 file" "[ -n \"$ref\" ] && [ \"$got\" = \"$ref\" ]"
done
f4c=$("$nlsq" fit "$td/decay_f4_c.npy" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
f4f=$("$nlsq" fit "$td/decay_f4_f.npy" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 | a_of)
check ".npy float32 in C and Fortran order agree, near the float64 fit" "[ \"$f4c\" = \"$f4f\" ] && awk -v a=$f4c -v b=$ref 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'"
expect_error ".npy of integers is refused" "dtype '<i8' is not float64 or float32" fit "$td/int_bad.npy" --model 'a*x'
head -c 200 "$td/decay_f8_c.npy" > "$tmp/short.npy"
head -c 100 "$td/decay_f8_c.npy" > "$tmp/short_header.npy"
expect_error "truncated .npy header" "truncated header" fit "$tmp/short_header.npy" --model 'a*x'
expect_error "truncated .npy" "truncated: 40 rows x 2 columns" fit "$tmp/short.npy" --model 'a*x'
expect_error "1-D .npy: no x and y" "too few columns" fit "$td/y_1d.npy" --model 'a*x'
printf '' > "$tmp/empty.csv"
expect_error "empty file" "no rows of numbers" fit "$tmp/empty.csv" --model 'a*x'
printf 'x,y\n' > "$tmp/header_only.csv"
expect_error "header without rows" "no rows of numbers" fit "$tmp/header_only.csv" --model 'a*x'
printf '1,2\n3,4,5\n' > "$tmp/ragged.csv"
expect_error "ragged rows name the line" ":2: 3 fields, but the table has 2" fit "$tmp/ragged.csv" --model 'a*x'
expect_error "unknown --delimiter" "--delimiter takes" fit "$data" --delimiter pipe --model 'a*x'
expect_error "two data files for eval" "more than one data file" eval "$data" "$data" --model 'a*x'
rm -rf "$tmp"

# the remaining fit options, end to end
for method in lm dogbox; do
    got=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --method $method | awk '$1 == "a" {print $2; exit}')
    check "--method $method reaches the same a" "awk -v g=$got -v w=$want 'BEGIN { d = g - w; exit !(d < 1e-9 && d > -1e-9) }'"
done
out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --loss soft_l1 --f-scale 0.01 --json); rc=$?
check "--loss soft_l1 --f-scale 0.01 runs and changes the cost" "[ $rc -eq 0 ] && ! grep -q '\"cost\": 0.0051208758' <<<\"\$out\""
sg=${TMPDIR:-/tmp}/nlsq_cli_sigma.csv
{ echo "x,y,s"; tail -n +3 "$data" | sed 's/$/,0.02/'; } > "$sg"
rel=$("$nlsq" fit "$sg" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --sigma s --json | grep -o '"stderr": [0-9.e-]*' | head -1)
abs=$("$nlsq" fit "$sg" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --sigma s --absolute-sigma --json | grep -o '"stderr": [0-9.e-]*' | head -1)
check "--sigma with and without --absolute-sigma: different standard errors" "[ -n \"$rel\" ] && [ \"$rel\" != \"$abs\" ]"
check "--absolute-sigma: stderr of a = 0.02 x sqrt(pcov) (~0.0129)" "awk -v v=\"\${abs#*: }\" 'BEGIN { exit !(v > 0.0125 && v < 0.0133) }'"
rm -f "$sg"
out=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --params c,b,a --p0 a=2,b=1,c=0 --json); rc=$?
check "--params sets the order" "[ $rc -eq 0 ] && grep -q '\"popt\": \[0.4994' <<<\"\$out\""
surf=${TMPDIR:-/tmp}/nlsq_cli_surf.csv
awk 'BEGIN { print "u,v,w"; for (i = 0; i < 15; i++) for (j = 0; j < 15; j++) { x = -2 + 4*i/14; y = -2 + 4*j/14; printf "%.17g,%.17g,%.17g\n", x, y, 3*exp(-((x-0.1)^2/(2*0.64) + (y+0.2)^2/(2*0.36))) + 0.3 } }' > "$surf"
out=$("$nlsq" fit "$surf" --vars x,y --x u,v --y w --model 'A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B' --p0 A=2,x0=0,sx=1,y0=0,sy=1,B=0 --json); rc=$?
x0=$(grep -o '"name": "x0", "value": [-0-9.e]*' <<<"$out" | awk '{print $NF}')
y0=$(grep -o '"name": "y0", "value": [-0-9.e]*' <<<"$out" | awk '{print $NF}')
check "two variables with --vars and --x: exact surface recovered (x0, y0 to 1e-12)" "[ $rc -eq 0 ] && awk -v a=$x0 -v b=$y0 'BEGIN { d = a - 0.1; e = b + 0.2; exit !(d*d < 1e-24 && e*e < 1e-24) }'"
rm -f "$surf"

# Data not read into memory: a column cache for text, raw binary, mapped
# .npy; checkpoints killed and resumed; progress and memory on stderr.
big=$(mktemp -d)
awk 'BEGIN { print "t,signal"; s = 12345; for (i = 0; i < 200000; i++) { s = (s * 1103515245 + 12345) % 2147483648; x = 10 * i / 200000; printf "%.17g,%.17g\n", x, 2.5*exp(-1.3*x) + 0.5 + 0.05*(s/2147483648 - 0.5) } }' > "$big/big.csv"
fitargs=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --json)
popt_of() { grep -o '"popt": \[[^]]*\]'; }
mem=$("$nlsq" fit "$big/big.csv" --in-memory "${fitargs[@]}" | popt_of)
cc=$("$nlsq" fit "$big/big.csv" --column-cache "$big/cc.npy" "${fitargs[@]}" 2>"$big/err" | popt_of)
check "text through the column cache: the in-memory fit, digit for digit" "[ -n \"$mem\" ] && [ \"$mem\" = \"$cc\" ] && [ -s $big/cc.npy ]"
tail -c +129 "$big/cc.npy" > "$big/rows.bin"
raw=$("$nlsq" fit "$big/rows.bin" --raw f8:2 "${fitargs[@]}" | popt_of)
check "--raw f8:2 (the cache's rows): the same fit" "[ \"$mem\" = \"$raw\" ]"
expect_error "--raw with the wrong column count" "not a whole number of rows" fit "$big/rows.bin" --raw f8:3 --model 'a*x'
expect_error "--raw with a bad spec" "DTYPE:NCOLS" fit "$big/rows.bin" --raw i8:2 --model 'a*x'
npyfit=$("$nlsq" fit "$big/cc.npy" "${fitargs[@]}" --predict "$big/pred.csv" --plot "$big/p.svg" | popt_of)
check ".npy mapped, with --predict streamed and --plot sampled" "[ \"$mem\" = \"$npyfit\" ] && [ \$(wc -l < $big/pred.csv) -eq 200001 ] && grep -q '<svg' $big/p.svg"
"$nlsq" fit "$big/cc.npy" "${fitargs[@]}" --predict "$big/p2.csv" >/dev/null
cut -d, -f1 "$big/p2.csv" | tail -n +2 > "$big/xcol.csv"
cut -d, -f2 "$big/p2.csv" | tail -n +2 > "$big/ycol.csv"
joined=$("$nlsq" fit "$big/xcol.csv" "$big/ycol.csv" --column-cache auto "${fitargs[@]}" | popt_of)
check "two text files joined (x from one, y from the other): the same fit" "[ \"$mem\" = \"$joined\" ]"
expect_error "several files and one --column-cache FILE" "names one cache" fit "$big/xcol.csv" "$big/ycol.csv" --column-cache "$big/c.npy" --model 'a*x'
"$nlsq" fit "$big/cc.npy" "${fitargs[@]}" --verbose --progress >/dev/null 2>"$big/err"
check "--verbose names the source and the working memory; --progress draws a bar" "grep -q 'MB of working memory' $big/err && grep -q 'float64, C order, mapped' $big/err && grep -q 'of pass' $big/err"
NLSQ_TEST_KILL_IN_CHECKPOINT=4 "$nlsq" fit "$big/cc.npy" "${fitargs[@]}" --checkpoint "$big/ck" >/dev/null 2>&1; rc=$?
check "a fit killed while writing its checkpoint (SIGKILL)" "[ $rc -eq 137 ] && [ -s $big/ck ]"
res=$("$nlsq" fit "$big/cc.npy" "${fitargs[@]}" --resume "$big/ck" --verbose 2>"$big/err" | popt_of)
check "--resume reaches the uninterrupted answer" "[ \"$mem\" = \"$res\" ] && grep -q 'evaluations taken from it' $big/err"
expect_error "a checkpoint of another model is refused" "was written for the model" fit "$big/cc.npy" --model 'a*exp(-b*x) + c + d' --resume "$big/ck"
rm -rf "$big"

# the GPU path through the command, on the CUDA emulator (tests/emulator)
if [ $# -ge 4 ] && command -v c++ >/dev/null; then
    emu=$(mktemp -d)
    # the emulator's built kernels stay in the suite's cache (a temporary XDG_CACHE_HOME below)
    [ -n "${XDG_CACHE_HOME:-}" ] && export NLSQ_EMU_CACHE=${NLSQ_EMU_CACHE:-$XDG_CACHE_HOME/nlsq-emu}
    gpu() { env NLSQ_CUDA_DRIVER="$3" NLSQ_NVRTC="$4" XDG_CACHE_HOME="$emu" "$nlsq" "${@:5}"; }
    params() { awk '$1 == "a" || $1 == "b" || $1 == "c" {print $2}'; }
    cpu_p=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --device cpu | params)
    out=$(gpu "$@" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --device cuda:0); rc=$?
    gpu_p=$(params <<<"$out")
    same=$(paste <(echo "$cpu_p") <(echo "$gpu_p") | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > 1e-9 * ($1 < 0 ? -$1 : $1)) bad = 1} END {print bad ? "no" : "yes"}')
    check "--device cuda:0 (emulated GPU): converged, on cuda:0, the CPU's parameters to 1e-9 (where the solver stops differs by rounding)" "[ $rc -eq 0 ] && grep -q 'on cuda:0 (nlsq emulated GPU' <<<\"\$out\" && [ $same = yes ] && [ -n \"$gpu_p\" ]"
    out=$(gpu "$@" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --device cuda --json); rc=$?
    check "--json on the GPU: device and device_note" "[ $rc -eq 0 ] && grep -q '\"device\": \"cuda:0\"' <<<\"\$out\" && grep -q '\"backend\": \"cuda\"' <<<\"\$out\""
    out=$(gpu "$@" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --device cuda:0 --gpu-float32); rc=$?
    check "--gpu-float32 on the GPU" "[ $rc -eq 0 ] && grep -q 'float32 data and Jacobian' <<<\"\$out\""
    bg=$(mktemp -d)
    awk 'BEGIN { print "x,c1,c2"; for (i = 0; i < 30; i++) { x = i * 0.2; n = sin(7 * i) * 0.002;
        printf "%.3f,%.9f,%.9f\n", x, 2 * exp(-1.3 * x) + 0.5 + n, 3 * exp(-0.7 * x) + 1 - n } }' >"$bg/w.csv"
    cpu_b=$("$nlsq" batch "$bg/w.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --method lm --quiet | awk -F, 'NR > 1 {print $2}')
    out=$(gpu "$@" batch "$bg/w.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --method lm --device cuda:0 2>"$bg/err"); rc=$?
    gpu_b=$(awk -F, 'NR > 1 {print $2}' <<<"$out")
    same=$(paste <(echo "$cpu_b") <(echo "$gpu_b") | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > 1e-9 * $1) bad = 1} END {print bad ? "no" : "yes"}')
    check "batch --device cuda:0 --method lm (emulated GPU): on cuda:0, the CPU's a to 1e-9" "[ $rc -eq 0 ] && grep -q 'cuda on cuda:0' $bg/err && [ $same = yes ] && [ -n \"$gpu_b\" ]"
    gpu "$@" batch "$bg/w.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --device cuda:0 >/dev/null 2>"$bg/err"; rc=$?
    check "batch --device cuda:0 with trf: the CPU, saying why" "[ $rc -eq 0 ] && grep -q 'method lm only' $bg/err"
    rm -rf "$bg"
    out=$(gpu "$@" devices); rc=$?
    check "devices lists the emulated GPU and NVRTC" "[ $rc -eq 0 ] && grep -q '^cuda:0 nlsq emulated GPU' <<<\"\$out\" && grep -q '^nvrtc ' <<<\"\$out\""
    NLSQ_CUDA_DRIVER="$3" NLSQ_NVRTC="$4" XDG_CACHE_HOME="$emu" \
        expect_error "--device cuda:3 with one GPU" "has 1 CUDA device" fit "$data" --model 'a*x' --device cuda:3
    rm -rf "$emu"
else
    echo "SKIP the GPU checks on the CUDA emulator: no C++ compiler (c++) or no emulator libraries"
fi

# nlsq batch: wide and long layouts, each fit the digits of `nlsq fit`
bd=$(mktemp -d)
awk 'BEGIN { print "x,c1,c2,c3"; for (i = 0; i < 30; i++) { x = i * 0.2; n = sin(7 * i) * 0.002;
    printf "%.3f,%.9f,%.9f,%s\n", x, 2 * exp(-1.3 * x) + 0.5 + n, 3 * exp(-0.7 * x) + 1 - n,
    (i == 4 ? "" : sprintf("%.9f", 4 * exp(-0.4 * x) + n)) } }' >"$bd/wide.csv"
out=$("$nlsq" batch "$bd/wide.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 2>"$bd/err"); rc=$?
check "batch wide: exit 1 when a fit does not converge" "[ $rc -eq 1 ]"
check "batch wide: a CSV row per curve" "[ \$(wc -l <<<\"\$out\") -eq 4 ] && head -1 <<<\"\$out\" | grep -q '^id,a,a_err,b,b_err,c,c_err,status,chi2,redchi,points,nfev,trusted,findings$'"
check "batch wide: the curve with an empty field fails alone (status -11)" "grep -q '^c3,.*,-11,nan,nan,0,0,0,not_converged$' <<<\"\$out\" && grep -q '^c1,.*,30,.*,1,$' <<<\"\$out\""
check "batch summary on stderr" "grep -q 'converged 2 of 3' $bd/err && grep -q 'status -11.*first: c3' $bd/err"
a_batch=$(awk -F, '$1 == "c2" {print $2}' <<<"$out")
a_fit=$("$nlsq" fit "$bd/wide.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --y c2 --json | grep -o '"popt": \[[^,]*' | grep -o '[-0-9.e+]*$')
check "batch wide: fit c2 is nlsq fit's c2 to every digit ($a_batch)" "[ -n \"$a_batch\" ] && awk -v p=$a_batch -v q=$a_fit 'BEGIN {exit !(p == q)}'"
out=$("$nlsq" batch "$bd/wide.csv" --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --nan-policy omit --quiet); rc=$?
check "batch wide, nan-policy omit: every curve converges (29 points for c3)" "[ $rc -eq 0 ] && grep -q '^c3,.*,29,' <<<\"\$out\""
awk -F, 'NR > 1 { print 7 "," $1 "," $2; print 3 "," $1 "," $3 }' "$bd/wide.csv" | sort -t, -k2 -r >"$bd/long.csv"
"$nlsq" batch "$bd/long.csv" --id 1 --x 2 --y 3 --model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0 --out "$bd/long.jsonl" --quiet; rc=$?
check "batch long: two fits by id, JSON lines, ids in increasing order" "[ $rc -eq 0 ] && [ \$(wc -l <$bd/long.jsonl) -eq 2 ] && head -1 $bd/long.jsonl | grep -q '^{\"id\": 3, \"popt\": {\"a\": '"
a_long=$(grep '"id": 7' "$bd/long.jsonl" | grep -o '"a": [-0-9.e+]*' | head -1 | grep -o '[-0-9.e+]*$')
a_c1=$(awk -F, '$1 == "c1" {print $2}' <<<"$out")
check "batch long: the rows of id 7 (shuffled) fit as curve c1 ($a_long)" "[ -n \"$a_long\" ] && awk -v p=$a_long -v q=$a_c1 'BEGIN {exit !(p == q)}'"
# issue 19 in a batch: fit 2's peak (x = 500 .. 559, at 532) is far from
# the start (mu = 3.5, s = 1: its Jacobian columns are 0 there); converged
# but not trusted: exit 4, its row says why, the summary counts it. Fit 1's
# peak is at the start: trusted.
awk 'BEGIN { print "id,x,y"; for (i = 0; i < 60; i++) { n = ((i * 7919) % 13 - 6) * 0.01; x = i * 0.5;
    printf "1,%.3f,%.9f\n", x, 5 * exp(-0.5 * ((x - 3) / 1.5)^2) + 1 + n; x = 500 + i;
    printf "2,%.3f,%.9f\n", x, 5 * exp(-0.5 * ((x - 532) / 8.5)^2) + 1 + n } }' >"$bd/peaks.csv"
peak_batch=(batch "$bd/peaks.csv" --id id --x x --model 'A*exp(-0.5*((x-mu)/s)^2)+c' --p0 A=4,mu=3.5,s=1,c=1)
out=$("$nlsq" "${peak_batch[@]}" 2>"$bd/err"); rc=$?
check "batch: a converged fit that cannot be trusted: exit 4, its row says why" "[ $rc -eq 4 ] && grep -q '^2,.*,0,no_influence+not_moved$' <<<\"\$out\" && grep -q '^1,.*,1,$' <<<\"\$out\""
check "batch: the summary counts the fits that cannot be trusted" "grep -q 'trusted 1 of 2 converged' $bd/err && grep -q 'no_influence *first: 2' $bd/err"
"$nlsq" "${peak_batch[@]}" --quiet --accept-untrusted >/dev/null; rc=$?
check "batch --accept-untrusted: exit 0" "[ $rc -eq 0 ]"
out=$("$nlsq" "${peak_batch[@]}" --format jsonl --quiet)
check "batch JSON lines: trusted and findings" "grep -q '\"id\": 2,.*\"trusted\": false, \"findings\": \[\"no_influence\", \"not_moved\"\]}' <<<\"\$out\" && grep -q '\"id\": 1,.*\"trusted\": true, \"findings\": \[\]}' <<<\"\$out\""
expect_error "batch: --sigma in the wide layout" "for the long layout" batch "$bd/wide.csv" --model 'a*x' --sigma c2
expect_error "batch: bad --id column" "no column 'zz' for --id" batch "$bd/long.csv" --id zz --model 'a*x'
expect_error "batch: --plot is a single-fit option" "not an option of nlsq batch" batch "$bd/wide.csv" --model 'a*x' --plot a.svg
expect_error "batch: bad --format" "csv, jsonl or hdf5" batch "$bd/wide.csv" --model 'a*x' --format xml
expect_error "fit: --id belongs to batch" "options of nlsq batch" fit "$bd/wide.csv" --model 'a*x' --id 1
"$nlsq" batch "$bd/wide.csv" --model 'a*exp(-b*x) + c' --out /nonexistent-dir/r.csv 2>/dev/null; rc=$?
check "batch: an unwritable --out is exit 2" "[ $rc -eq 2 ]"
rm -rf "$bd"

# demo, devices, help for every command
dd=$(mktemp -d)
out=$(cd "$dd" && "$nlsq" demo); rc=$?
check "demo fits the bundled data and writes nlsq-demo.svg" "[ $rc -eq 0 ] && grep -q '(converged)' <<<\"\$out\" && [ -s $dd/nlsq-demo.svg ]"
rm -rf "$dd"
out=$("$nlsq" devices); rc=$?
check "devices lists the CPU and says there is no GPU backend" "[ $rc -eq 0 ] && grep -q '^cpu .* cores\\? online' <<<\"\$out\" && grep -q '^gpu ' <<<\"\$out\""
for cmd in fit batch eval diff demo devices; do
    "$nlsq" $cmd --help | grep -q -- '--plot'; check "$cmd --help documents the options" "[ $? -eq 0 ]"
done

"$nlsq" --version | grep -q '^nlsq 0.1.0$'; check "--version" "[ $? -eq 0 ]"
"$nlsq" help | grep -q -- '--bounds'; check "help documents --bounds" "[ $? -eq 0 ]"

# help and the manual page come from the option tables
"$nlsq" help fit | grep -q -- '--max-nfev N'; check "help fit lists fit's options" "[ $? -eq 0 ]"
"$nlsq" batch --help | grep -q -- '--format csv|jsonl'; check "batch --help lists batch's own options" "[ $? -eq 0 ]"
"$nlsq" eval --help | grep -q -- '--jacobian'; check "eval --help lists --jacobian" "[ $? -eq 0 ]"
"$nlsq" help fit | grep -q -- 'dogbox'; check "help names dogbox" "[ $? -eq 0 ]"
expect_error "help for an unknown command" "no command 'frob'" help frob
man=$("$nlsq" help --man); rc=$?
missing=""
for section in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES; do
    grep -q "^\.SH $section\$" <<<"$man" || missing="$missing $section"
done
check "help --man: roff with every section${missing:+ (missing:$missing)}" "[ $rc -eq 0 ] && [ -z \"$missing\" ] && grep -q '^\\\\fB\\\\-\\\\-max\\\\-nfev' <<<\"\$man\""
if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z <<<"$man" 2>&1)
    check "the manual page renders without groff warnings" "[ -z \"$warnings\" ]"
else
    echo "SKIP the manual page renders: groff not installed"
fi
page=$(dirname "$nlsq")/../nlsq.1
if [ -f "$page" ]; then
    check "the build's nlsq.1 is what help --man prints" "[ \"\$(cat $page)\" = \"\$man\" ]"
fi

# values are checked by their kind where parsed, with one message per kind
for v in 0.5 1e20 nan -3; do
    expect_error "--max-nfev $v refused as a count" "--max-nfev needs a count from 1 to" fit "$data" --model 'a*x' --max-nfev $v
done
expect_error "--threads 1e20 refused as a count" "--threads needs a count from 1 to 1024" fit "$data" --model 'a*x' --threads 1e20
expect_error "--f-scale nan refused" "--f-scale needs a positive number" fit "$data" --model 'a*x' --f-scale nan
expect_error "--method with a bad word lists the methods" "trf, lm or dogbox" fit "$data" --model 'a*x' --method newton
expect_error "--p0 of NaN is not a start value" "'nan' is not a number" fit "$data" --model 'a*x' --p0 a=nan
expect_error "eval: an option of fit only" "not an option of nlsq eval" eval "$data" --model 'a*x' --plot p.svg

# parameters without --p0 start by the library's rule (here b from its bounds)
part=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,c=0 --bounds b=0:2.6 --json | popt_of)
full=$("$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --p0 a=2,b=1.3,c=0 --bounds b=0:2.6 --json | popt_of)
check "a parameter without --p0 starts at the midpoint of its bounds (the library's rule)" "[ -n \"$part\" ] && [ \"$part\" = \"$full\" ]"
out=$(cat "$data" | "$nlsq" eval - --model 'a*exp(-b*x) + c' --p0 a=2,b=0.5,c=1); rc=$?
check "eval reads standard input" "[ $rc -eq 0 ] && [ \$(wc -l <<<\"\$out\") -eq 41 ]"

# the model library: nlsq models, components in diff, the report, --json, --predict and --plot
out=$("$nlsq" models); rc=$?
check "models lists voigt with its parameters" "[ $rc -eq 0 ] && grep -qx 'voigt(x, amplitude, center, sigma, gamma)' <<<\"\$out\""
check "models lists 29 shapes with formulas" "[ \$(grep -c '^    = ' <<<\"\$out\") -eq 29 ]"
out=$("$nlsq" models gaussian2d); rc=$?
check "models NAME shows one shape and its component names" "[ $rc -eq 0 ] && grep -q 'gaussian2d1_amplitude' <<<\"\$out\""
expect_error "models with an unknown name" "no shape 'gausian' in the model library" models gausian
out=$("$nlsq" diff 'gaussian(x) + linear(x)'); rc=$?
check "diff names the components and differentiates them" "[ $rc -eq 0 ] && grep -qx 'components  gaussian1_\* linear1_\*' <<<\"\$out\" && grep -qx 'df/dlinear1_slope = x' <<<\"\$out\""
expect_status 3 "a shape with the wrong number of arguments" "gaussian takes 1 argument (x) for a component" fit "$data" --model 'gaussian(x, a)'
peaks=${TMPDIR:-/tmp}/nlsq_cli_peaks_$$.csv
pred=${TMPDIR:-/tmp}/nlsq_cli_peaks_$$.pred.csv
plot=${TMPDIR:-/tmp}/nlsq_cli_peaks_$$.svg
awk 'BEGIN { print "x,y"; for (i = 0; i <= 200; i++) { x = i / 20; g1 = 50 / (0.6 * sqrt(2 * 3.141592653589793)) * exp(-(x - 3) ^ 2 / 0.72); g2 = 30 / (1.1 * sqrt(2 * 3.141592653589793)) * exp(-(x - 6.5) ^ 2 / 2.42); printf "%.17g,%.17g\n", x, g1 + g2 + 0.2 * x + 0.4 + 0.001 * ((i * 7919) % 13 - 6) } }' >"$peaks"
p0=gaussian1_amplitude=40,gaussian1_center=2.7,gaussian1_sigma=0.8,gaussian2_amplitude=40,gaussian2_center=6.8,gaussian2_sigma=0.8
out=$("$nlsq" fit "$peaks" --model 'gaussian(x) + gaussian(x) + linear(x)' --p0 $p0 --predict "$pred" --plot "$plot"); rc=$?
check "two Gaussians on a line: converged, grouped by component" "[ $rc -eq 0 ] && grep -q '^  \[gaussian2\] gaussian' <<<\"\$out\" && grep -q '^  \[linear1\] linear' <<<\"\$out\""
check "gaussian2_center recovered (6.5)" "awk '\$1 == \"gaussian2_center\" { exit !(\$2 > 6.49 && \$2 < 6.51) }' <<<\"\$out\""
check "--predict has a column per component" "[ \"\$(head -1 \"$pred\")\" = x,y,fit,residual,gaussian1,gaussian2,linear1,conf_lower,conf_upper,pred_lower,pred_upper ]"
check "--predict: the components add up to the fit" "awk -F, 'NR > 1 { d = \$3 - (\$5 + \$6 + \$7); if (d > 1e-9 || d < -1e-9) bad = 1 } END { exit bad }' \"$pred\""
check "--plot draws each component" "grep -q 'class=\"c2\" points' \"$plot\" && grep -q '>linear1</text>' \"$plot\""
json=$("$nlsq" fit "$peaks" --model 'gaussian(x) + gaussian(x, A, gaussian1_center + 3.5, s) + linear(x)' --p0 gaussian1_amplitude=40,gaussian1_center=2.7,gaussian1_sigma=0.8,A=40,s=0.8 --json); rc=$?
check "--json lists the components, null for an expression argument" "grep -q '{\"name\": \"gaussian#2\", \"shape\": \"gaussian\", \"params\": \[\"A\", null, \"s\"\]}' <<<\"\$json\""
rm -f "$peaks" "$pred" "$plot"

# --p0 auto (issue 19): the issue's peak on a background, start values from
# the data; the default for a model of library shapes, named values kept
auto=$(mktemp "${TMPDIR:-/tmp}/nlsq_cli_auto.XXXXXX")
awk 'BEGIN { print "x,y"; for (i = 0; i <= 300; i++) { x = 400 + i; n = 8 * sin(7.3 * i);
      printf "%d,%.6f\n", x, 1200 * exp(-0.5 * ((x - 532) / 8.5) ^ 2) + 50 + 0.1 * x + n } }' > "$auto"
out=$("$nlsq" fit "$auto" --model 'gaussian(x) + linear(x)' --p0 auto); rc=$?
c=$(awk '$1 == "gaussian1_center" {print $2}' <<<"$out")
check "--p0 auto places the peak (exit 0, trusted, center 532)" "[ $rc -eq 0 ] && grep -q '^verdict  trusted' <<<\"\$out\" && awk -v v=$c 'BEGIN {exit !(v > 531.9 && v < 532.1)}'"
out=$("$nlsq" fit "$auto" --model 'gaussian(x) + linear(x)'); rc=$?
c2=$(awk '$1 == "gaussian1_center" {print $2}' <<<"$out")
check "no --p0 for library shapes estimates the start too" "[ $rc -eq 0 ] && [ \"$c2\" = \"$c\" ]"
out=$("$nlsq" fit "$auto" --model 'gaussian(x) + linear(x)' --p0 auto,gaussian1_sigma=30 --fix gaussian1_sigma=30); rc=$?
check "--p0 auto,name=value keeps the value" "grep -q 'gaussian1_sigma  *30 ' <<<\"\$out\""
# what the estimators cannot do, --p0 auto searches for (nlsq_fit_global)
err=$("$nlsq" fit "$auto" --model 'gaussian(x) * linear(x)' --p0 auto 2>&1 >/dev/null)
check "--p0 auto on a product of shapes searches instead, and says so" "grep -q 'no start values could be estimated (.*not the sum of its library components.*): a global search of 64 starts' <<<\"\$err\""
out=$("$nlsq" fit "$auto" --model 'A*exp(-0.5*((x-mu)/s)^2) + c' --p0 auto 2>/dev/null); rc=$?
mu=$(awk '$1 == "mu" {print $2}' <<<"$out")
check "--p0 auto on plain model text finds the peak by a search (exit 0, mu 532)" "[ $rc -eq 0 ] && grep -q 'global search' <<<\"\$out\" && awk -v v=$mu 'BEGIN {exit !(v > 531.9 && v < 532.1)}'"
expect_error "--p0 auto with --checkpoint and no estimate says why" "not a sum of library shapes, and --checkpoint" fit "$auto" --model 'A*exp(-0.5*((x-mu)/s)^2) + c' --p0 auto --checkpoint "$auto.ckpt"
rm -f "$auto" "$auto.ckpt"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
