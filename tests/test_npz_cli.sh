#!/usr/bin/env bash
# nlsq fit on NumPy .npz archives as a user runs it: `nlsq fit data.npz`
# (every member), `data.npz:x,y,s` (members named), stored and deflated,
# 2-D members (columns NAME:1 ...), the same popt and pcov, bit for bit,
# as from the .npy and the CSV of the same numbers; and one clear line for
# a missing member, a truncated archive, members of different lengths.
# The files are written by NumPy (tests/npz_files.py): skipped without it.
# Usage: test_npz_cli.sh PATH/TO/nlsq SOURCE_DIR
set -u
. "$(dirname "$0")/cli_check.sh"
src=${2:?usage: test_npz_cli.sh PATH/TO/nlsq SOURCE_DIR}

dir=$(mktemp -d /tmp/nlsq_npz_XXXXXX)
trap 'rm -rf "$dir"' EXIT
export XDG_CACHE_HOME=$dir/cache
/usr/bin/python3 "$src/tests/npz_files.py" "$dir" 3000 >"$dir/python.log" 2>&1
rc=$?
if [ $rc -eq 77 ] || [ ! -x /usr/bin/python3 ]; then
    echo "SKIP: NumPy is not installed for /usr/bin/python3 (it writes the .npz files)"
    exit 77
fi
[ $rc -eq 0 ] || { cat "$dir/python.log"; echo "FAIL tests/npz_files.py"; exit 1; }

# until tools/load.c routes an .npz to nlsq_source_open_file (issue 21,
# with the HDF5 work), "FILE:NAMES" is taken for a file that is not there
if "$nlsq" fit "$dir/s_f8.npz:x,y" --model 'a*x' 2>&1 | grep -q 'No such file'; then
    echo "SKIP: this nlsq does not open .npz archives yet (tools/load.c)"
    exit 77
fi

model=(--model 'a*exp(-b*x) + c' --p0 a=1,b=1,c=0)
# popt and pcov of a fit, as the JSON prints them (shortest round trip)
fit() { "$nlsq" fit "$@" "${model[@]}" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(repr(d["popt"]), repr(d["pcov"]), d["m"])'; }

want=$(fit "$dir/data.csv" --sigma s)
check "the CSV fit runs (m = 3000)" "[ -n \"\$want\" ] && grep -q ' 3000\$' <<<\"\$want\""
for spec in s_f8.npz c_f8.npz s_mixed.npz c_mixed.npz s_zip64.npz c_descriptor.npz s_f8.npz:x,y,s c_mixed.npz:s,y,x; do
    got=$(fit "$dir/$spec" --x x --y y --sigma s 2>&1)
    check "nlsq fit $spec: popt and pcov bitwise those of the CSV" "[ \"\$got\" = \"\$want\" ]"
done
got=$(fit "$dir/data.npy" --sigma 3)
check "nlsq fit data.npy: the same bits" "[ \"\$got\" = \"\$want\" ]"
for spec in s_table_c.npz c_table_f.npz s_table_f.npz:t; do
    got=$(fit "$dir/$spec" --x t:1 --y t:2 --sigma t:3 2>&1)
    check "nlsq fit $spec (a 2-D member: t:1, t:2, t:3): the same bits" "[ \"\$got\" = \"\$want\" ]"
done
got=$(NLSQ_NPZ_INFLATE_MEMORY=0 fit "$dir/c_split.npz" --x xy:1 --y xy:2 --sigma s 2>&1)
check "nlsq fit c_split.npz through the column cache: the same bits" "[ \"\$got\" = \"\$want\" ]"
check "the deflated members' caches are in \$XDG_CACHE_HOME/nlsq/columns" \
    "[ \$(ls \"$dir/cache/nlsq/columns\" | grep -c '\\.npy\$') -eq 2 ]"
got=$("$nlsq" fit "$dir/s_f8.npz:x,y" "${model[@]}" --quiet 2>&1; echo "rc=$?")
check "nlsq fit s_f8.npz:x,y (no sigma) runs" "grep -q 'rc=0' <<<\"\$got\""

expect_error "a missing member names the members there" "no member 'z' (the members: x, y, s)" \
    fit "$dir/s_f8.npz:x,z" "${model[@]}"
expect_error "a truncated archive" "bad_truncated.npz: not a ZIP archive, or a truncated one" \
    fit "$dir/bad_truncated.npz" "${model[@]}"
expect_error "members of different lengths" "differ in length (rows): x has 3000, y has 2999, s has 3000" \
    fit "$dir/bad_lengths.npz" "${model[@]}"
expect_error "a corrupt member" "bad_crc.npz member 'x': corrupt: the CRC-32" \
    fit "$dir/bad_crc.npz" "${model[@]}"
expect_error "an integer member" "member 'x': dtype '<i8' is not float64 or float32" \
    fit "$dir/bad_int.npz" "${model[@]}"

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
