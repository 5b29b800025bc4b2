#!/usr/bin/env bash
# nlsq with HDF5 and NeXus files (issue 21) as a user runs it: datasets
# named after ':' or by --x/--y/--sigma paths, a NeXus file with no names,
# nlsq eval and batch on HDF5, the same fit from HDF5, .npy and CSV
# bitwise, and one clear line (exit 2) for every malformed file. The files
# are written by h5py (tests/test_hdf5_write.py); skipped without it.
# Usage: test_hdf5_cli.sh PATH/TO/nlsq SOURCE_DIR
set -u
. "$(dirname "$0")/cli_check.sh"
src=$2

dir=$(mktemp -d /tmp/nlsq_hdf5_cli_XXXXXX)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 "$src/tests/test_hdf5_write.py" "$dir" >"$dir/writer.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then echo "$(tail -1 "$dir/writer.log")"; exit 77; fi
if [ $rc -ne 0 ]; then echo "FAIL the h5py writer (status $rc):"; tail -5 "$dir/writer.log"; exit 1; fi
if "$nlsq" fit "$dir/fit.h5:/x,/y" --model 'a*x' 2>&1 | grep -q 'does not read HDF5'; then
    echo "SKIP: this nlsq is built without HDF5 (libhdf5-dev)"
    exit 77
fi

model='a*exp(-b*x) + c*sin(w*x)'
p0='a=2,b=0.2,c=0.1,w=5.05'
# popt and cost, every digit (hex floats of the JSON's shortest decimals)
key() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(" ".join(float(v).hex() for v in d["popt"] + [d["cost"]]))'; }
ref=$("$nlsq" fit "$dir/fit.csv" --model "$model" --p0 $p0 --sigma sigma --json | key)
check "the CSV fit converges near a=2.5, b=0.3" "python3 -c 'import sys; v = [float.fromhex(t) for t in sys.argv[1:]]; sys.exit(0 if abs(v[0] - 2.5) < 0.01 and abs(v[1] - 0.3) < 0.01 else 1)' $ref"
got=$("$nlsq" fit "$dir/fit.npy" --model "$model" --p0 $p0 --sigma 3 --json | key)
check ".npy: the CSV fit bitwise" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/fit.h5:/x,/y,/sigma" --model "$model" --p0 $p0 --sigma /sigma --json | key)
check "HDF5 FILE:/x,/y,/sigma (deflated y, big-endian sigma): the CSV fit bitwise" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/fit.h5" --x /x --y /y --sigma /sigma --model "$model" --p0 $p0 --json | key)
check "HDF5 with --x/--y/--sigma paths: the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/fit.h5:/table" --model "$model" --p0 $p0 --sigma 3 --json | key)
check "a 2-D HDF5 table (rows, 3): the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/fit.h5:/table" --x /table:1 --y /table:2 --sigma /table:3 --model "$model" --p0 $p0 --json | key)
check "its columns by name PATH:N: the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/fit.h5" --x /table:1 --y /table:2 --sigma /table:3 --model "$model" --p0 $p0 --json | key)
check "the file alone, --x/--y/--sigma naming a table's columns PATH:N: the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/scan.nxs" --model "$model" --p0 $p0 --json | key)
check "NeXus with no names: axes, signal, errors as sigma: the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/old.nxs" --model "$model" --p0 $p0 --json | key)
check "NeXus, the older signal=1/axes attributes: the same" "[ \"$got\" = \"$ref\" ]"
got=$("$nlsq" fit "$dir/scan.nxs" --x t --y counts --sigma counts_errors --model "$model" --p0 $p0 --json | key)
check "NeXus datasets by their last name: the same" "[ \"$got\" = \"$ref\" ]"
got=$(NLSQ_HDF5_PREFETCH=0 "$nlsq" fit "$dir/fit.h5:/x,/y,/sigma" --model "$model" --p0 $p0 --sigma 3 --json | key)
check "without the prefetch thread: the same" "[ \"$got\" = \"$ref\" ]"
out=$("$nlsq" fit "$dir/scan.nxs" --model "$model" --p0 $p0 2>&1)
check "the report names the NeXus file" "grep -q 'scan.nxs: 2001 points used' <<<\"\$out\""

# eval and batch read HDF5 the same way
"$nlsq" eval "$dir/fit.h5:/x" --model 'a*x' --p0 a=2 >"$dir/eval.csv"
check "eval on an HDF5 column: 2001 rows of 2x" "awk -F, 'NR > 1 && \$2 != 2 * \$1 { bad = 1 } END { exit bad || NR != 2002 }' \"$dir/eval.csv\""
"$nlsq" batch "$dir/types.h5:/chunked/t_f8le" --model 'a + b*x' --quiet >"$dir/batch.csv" 2>/dev/null
check "batch over a 2-D HDF5 table: a fit per column after x" "[ \$(grep -c '^/chunked/t_f8le:' \"$dir/batch.csv\") -eq 2 ]"
# a NeXus plot's errors are its signal's sigma in a batch too, not a curve
"$nlsq" batch "$dir/scan.nxs" --model "$model" --p0 $p0 --format jsonl --quiet >"$dir/batch.jsonl" 2>/dev/null
got=$(python3 -c 'import json, sys; d = [json.loads(l) for l in open(sys.argv[1])]; assert len(d) == 1, d; print(" ".join(float(v).hex() for v in d[0]["popt"].values()))' "$dir/batch.jsonl")
check "batch on a NeXus file: one fit, the fit's parameters with the errors as sigma" "[ \"$got\" = \"\$(cut -d' ' -f1-\$(wc -w <<<\"$got\") <<<\"$ref\")\" ]"

# an output may not replace the HDF5 file it reads
cp "$dir/fit.h5" "$dir/keep.h5"
"$nlsq" fit "$dir/keep.h5:/x,/y" --model "$model" --p0 $p0 --predict "$dir/keep.h5" >/dev/null 2>&1
check "--predict onto the input HDF5 file is refused, the file kept" "cmp -s \"$dir/fit.h5\" \"$dir/keep.h5\""

# malformed: one line, exit 2
expect_error "a missing dataset" "no dataset /nothing in the file" fit "$dir/bad.h5:/x,/nothing" --model 'a*x'
expect_error "a group" "/grp is a group, not a dataset" fit "$dir/bad.h5:/x,/grp" --model 'a*x'
expect_error "mismatched lengths" "/short has 2000 rows but /x has 2001" fit "$dir/bad.h5:/x,/short" --model 'a*x'
expect_error "a 3-D dataset" "/cube has 3 dimensions" fit "$dir/bad.h5:/x,/cube" --model 'a*x'
expect_error "a scalar" "/scalar has 0 dimensions" fit "$dir/bad.h5:/x,/scalar" --model 'a*x'
expect_error "strings" "/text holds string values" fit "$dir/bad.h5:/x,/text" --model 'a*x'
expect_error "variable-length strings" "/vtext holds string values" fit "$dir/bad.h5:/x,/vtext" --model 'a*x'
expect_error "a compound dtype" "/compound holds compound values" fit "$dir/bad.h5:/x,/compound" --model 'a*x'
expect_error "a filter the library lacks (h5py's lzf)" "/lzf is compressed with HDF5 filter 32000.*does not provide" fit "$dir/bad.h5:/x,/lzf" --model 'a*x'
expect_error "an empty dataset" "/empty is empty" fit "$dir/bad.h5:/x,/empty" --model 'a*x'
expect_error "a truncated file" "truncated.h5: not a readable HDF5 file" fit "$dir/truncated.h5:/x,/y" --model 'a*x'
expect_error "no default plot: the datasets listed" "no NeXus entry.*/a/x (2001), /a/y (2001)" fit "$dir/nodefault.h5" --model 'a*x'
expect_error "a NeXus plot without an axis" "has no axis" fit "$dir/noaxis.nxs" --model 'a*x'
expect_error "--x by a last name that several datasets end with" "'x' for --x ends the paths of several columns (/x, /a/x)" fit "$dir/fit.h5:/x" "$dir/nodefault.h5:/a/x,/a/y" --x x --y /a/y --model 'a*x'
err=$(cat "$dir/fit.h5" | "$nlsq" fit - --model 'a*x' 2>&1 >/dev/null)
rc=$?
check "an HDF5 file from a pipe: one line saying it must be a path" "[ \$rc -eq 2 ] && grep -q -- '-: an HDF5 file is read by seeking' <<<\"\$err\" && [ \$(wc -l <<<\"\$err\") -eq 1 ]"
expect_error "--x names a missing dataset" "no dataset /nope" fit "$dir/fit.h5" --x /nope --y /y --model 'a*x'
expect_error "a chunk that does not inflate" "badchunk.h5: rows 768 to 1023 of dataset /y cannot be read" fit "$dir/badchunk.h5:/x,/y" --model 'a*x'
expect_error "a fletcher32 checksum that fails" "badsum.h5: rows 0 to 2000 of dataset /x cannot be read" fit "$dir/badsum.h5:/x,/x" --model 'a*x'
for f in corrupt corrupt_meta; do
    err=$("$nlsq" fit "$dir/$f.h5:/x,/y,/sigma" --model "$model" --p0 $p0 --sigma 3 2>&1 >/dev/null)
    rc=$?
    # (damaged data values are numbers like any other: the fit may refuse
    # them, e.g. a negative sigma, in its own words)
    check "damaged in the middle ($f): a fit or a message, no crash (exit $rc)" \
        "[ $rc -lt 128 ] && { [ $rc -eq 0 ] || [ $rc -eq 4 ] || [ -n \"\$err\" ]; }"
done
if command -v valgrind >/dev/null && [ "${NLSQ_TEST_VALGRIND:-1}" != 0 ]; then
    vg=$(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "$nlsq" fit \
        "$dir/corrupt_meta.h5:/x,/y,/sigma" --model 'a*x' 2>&1 >/dev/null; \
        valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "$nlsq" fit \
        "$dir/bad.h5:/x,/compound" --model 'a*x' 2>&1 >/dev/null)
    check "valgrind: no error, no leak on the refusals" "! grep -q '==[0-9]*==' <<<\"\$vg\""
else
    echo "skip valgrind on the refusals (no valgrind, or NLSQ_TEST_VALGRIND=0: a sanitized build, checked by its sanitizers)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
