#!/usr/bin/env bash
# Results into HDF5 from the command (issue 21, item 3): nlsq fit --output
# (and --output-group, --output-append, --output-predictions) and nlsq
# batch --out FILE.h5, read back with h5py and compared bit for bit with
# the same run's --json, --predict and batch CSV (hdf5_write_check.py);
# the input refused as the output; appending keeps the groups there; a
# full disk (a 256 KiB tmpfs, where a mount namespace can be had) and a
# read-only directory leave nothing behind.
# Usage: test_hdf5_write_cli.sh PATH/TO/nlsq SOURCE_DIR
# Exit 77 (skipped) without h5py for /usr/bin/python3 or without HDF5 in
# this build.
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
py=/usr/bin/python3
check_py=$src/tests/hdf5_write_check.py
if ! $py -c 'import h5py, numpy' 2>/dev/null; then
    echo "SKIP: h5py is not installed for $py (make test-deps installs python3-h5py)"
    exit 77
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-h5write.XXXXXX") || exit 1
trap 'chmod -R u+w "$w" 2>/dev/null; rm -rf "$w"' EXIT
cd "$w" || exit 1
export XDG_CACHE_HOME=$w/cache
passed=0 failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
cp "$src/examples/data/decay.csv" d.csv
model=(--model 'a*exp(-b*x) + c' --p0 a=2,b=1,c=0)

"$nlsq" fit d.csv "${model[@]}" --output probe.h5 --quiet 2>probe.err
if grep -q "built without HDF5" probe.err; then
    echo "SKIP: this nlsq was built without HDF5 (libhdf5-dev)"
    exit 77
fi

# 1. the fit, bit for bit as --json and --predict say, with the attributes
"$nlsq" fit d.csv "${model[@]}" --json --predict p.csv --output r.h5 --output-predictions >r.json 2>err
rc=$?
check "fit --output exits 0" "[ $rc = 0 ]"
check "fit --output matches --json" "$py $check_py fit r.h5 r.json"
check "predictions match --predict" "$py $check_py predict r.h5 / p.csv 1"
check "no temporary left" "[ -z \"\$(ls | grep tmp-)\" ]"

# 2. a second fit (bounds, a fixed parameter, a level) appended as /fits/two
"$nlsq" fit d.csv "${model[@]}" --bounds a=0:10 --fix c=0 --level 0.9 --json --output r.h5 --output-append \
    --output-group /fits/two >r2.json 2>err
check "--output-append exits 0" "[ $? = 0 ]"
check "the appended group matches its --json" "$py $check_py fit r.h5 r2.json /fits/two"
check "the first result is kept" "$py $check_py fit r.h5 r.json /"
check "bounds and fixed recorded" "$py -c \"
import h5py, math
g = h5py.File('r.h5')['/fits/two']
assert g['lower'][0] == 0 and g['upper'][0] == 10 and math.isinf(g['upper'][1]), list(g['upper'])
assert list(g['fixed'][()]) == [0, 0, 1] and g.attrs['level'] == 0.9
\""

# 3. refusals: an existing group, the input, '-', options without --output
cp r.h5 r.before
"$nlsq" fit d.csv "${model[@]}" --output r.h5 --output-append --output-group /fits/two --quiet 2>err
check "an existing group is refused (exit 2)" "[ $? = 2 ] && grep -q 'exists already' err && cmp -s r.h5 r.before"
"$nlsq" fit d.csv "${model[@]}" --output r.h5 --output-append --output-group /fits/two/popt/x --quiet 2>err
check "a group under a dataset is refused, saying so" "[ $? = 2 ] && grep -q '/fits/two/popt is not a group' err && cmp -s r.h5 r.before"
"$nlsq" fit d.csv "${model[@]}" --output r.h5 --output-append --quiet 2>err
check "appending into / of an existing file is refused" "[ $? = 2 ] && grep -q 'group / exists' err"
cp d.csv d.orig
"$nlsq" fit d.csv "${model[@]}" --output d.csv --quiet 2>err
check "the input is refused as --output" "[ $? = 2 ] && grep -q 'input' err && cmp -s d.csv d.orig"
"$nlsq" fit d.csv "${model[@]}" --output d.csv --output-append --output-group /x --quiet 2>err
check "the input is refused for appending" "[ $? = 2 ] && cmp -s d.csv d.orig"
"$nlsq" fit d.csv "${model[@]}" --output - --quiet 2>err
check "--output - is refused" "[ $? = 2 ] && grep -q 'standard output' err"
"$nlsq" fit d.csv "${model[@]}" --output-predictions --quiet 2>err
check "--output-predictions alone is refused" "[ $? = 2 ] && grep -q 'needs --output' err"
"$nlsq" fit d.csv "${model[@]}" --output d.orig --output-append --output-group /x --quiet 2>err
check "appending to a file that is not HDF5 is refused" "[ $? = 2 ] && grep -q 'not an HDF5 file' err && cmp -s d.orig d.csv"

# 4. a read-only directory (not for root, whom permissions do not stop)
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
    "$nlsq" fit d.csv "${model[@]}" --output ro/r.h5 --quiet 2>err
    check "a read-only directory: exit 2, nothing left" "[ $? = 2 ] && [ -z \"\$(ls -A ro)\" ]"
else
    echo "SKIP read-only directory (running as root)"
fi

# 5. a full disk: the new file is not left, an appended group is deleted
$py -c "
import numpy as np
x = np.linspace(0, 10, 100000)
np.save('big.npy', np.c_[x, 2 * np.exp(-0.7 * x) + 0.1 + 0.01 * np.sin(50 * x)])
"
if unshare -rm true 2>/dev/null; then
    mkdir full
    cp r.h5 r.keep
    unshare -rm bash -c '
        mount -t tmpfs -o size=256k tmpfs full || exit 9
        "$1" fit big.npy --model "a*exp(-b*x) + c" --p0 a=2,b=1,c=0 --output full/new.h5 --output-predictions --quiet 2>full-new.err
        echo "new $? $(ls -A full | wc -l)" >full.out
        cp r.keep full/r.h5
        "$1" fit big.npy --model "a*exp(-b*x) + c" --p0 a=2,b=1,c=0 --output full/r.h5 --output-append \
            --output-group /big --output-predictions --quiet 2>full-app.err
        echo "append $? $(ls -A full | wc -l)" >>full.out
        "$2" "$3" fit full/r.h5 r.json / >>full.out 2>&1 && echo kept >>full.out
        "$2" -c "import h5py; print(\"has_big\", \"big\" in h5py.File(\"full/r.h5\"))" >>full.out 2>&1
    ' bash "$nlsq" "$py" "$check_py"
    cat full.out full-new.err full-app.err
    check "full disk, new file: exit 2, nothing left" "grep -q '^new 2 0$' full.out && grep -q 'No space left' full-new.err"
    check "full disk, append: exit 2, the file kept, the group deleted" \
        "grep -q '^append 2 1$' full.out && grep -q '^kept$' full.out && grep -q 'has_big False' full.out"
else
    echo "SKIP full disk (no mount namespace here: unshare -rm)"
fi

# 6. batch --out FILE.h5: the table as the CSV has it (long and wide layouts)
awk -F, 'NR == 1 { next } NR == 2 { print "id," $0; next } { for (k = 0; k < 3; k++) printf "%d,%s,%.12g\n", k, $1, $2 * (1 + k / 4) }' \
    d.csv >long.csv
"$nlsq" batch long.csv --id id --x x --y y "${model[@]}" --out b.csv --quiet
"$nlsq" batch long.csv --id id --x x --y y "${model[@]}" --out b.h5 --quiet
check "batch --out b.h5 exits 0" "[ $? = 0 ]"
check "batch long layout: columns equal the CSV" "$py $check_py batch b.h5 b.csv"
printf 'x,c1,c2\n' >wide.csv
awk -F, 'NR > 2 { printf "%s,%s,%.9f\n", $1, $2, $2 * 1.5 }' d.csv >>wide.csv
"$nlsq" batch wide.csv "${model[@]}" --out wb.csv --quiet
"$nlsq" batch wide.csv "${model[@]}" --out wb.data --format hdf5 --quiet
check "batch wide layout, --format hdf5: columns equal the CSV" "$py $check_py batch wb.data wb.csv"
"$nlsq" batch wide.csv "${model[@]}" --format hdf5 --quiet 2>err
check "batch --format hdf5 without --out is refused" "[ $? = 2 ] && grep -q 'needs --out' err"
"$nlsq" batch wide.csv "${model[@]}" --out wide.csv --format hdf5 --quiet 2>err
check "batch: the input is refused as --out" "[ $? = 2 ] && grep -q input err"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
