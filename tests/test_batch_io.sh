#!/usr/bin/env bash
# nlsq batch's reading, grouping and writing (issue 21): the long layout's
# rows grouped the same whichever way the ids come (in id order, shuffled,
# whole ids counted into place, any doubles radix-sorted, -0 with 0), a
# fit's rows in the file's order; the same fits from .npy and CSV and from
# one thread or two; every number of the CSV and JSON lines the shortest
# spelling that reads back (Python's repr gives the shortest digits) and
# the two formats the same values.
# Usage: test_batch_io.sh PATH/TO/nlsq
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=/usr/bin/python3
if ! "$py" -c 'import numpy' 2>/dev/null; then
    echo "SKIP test_batch_io: $py with numpy writes the data (apt-get install python3-numpy)"
    exit 77
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-batch-io.XXXXXX") || exit 1
trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1
export XDG_CACHE_HOME=$w/cache
passed=0 failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}

# 300 fits of 20 points; the ids of "sorted.npy" in increasing order, the
# others the same rows in other orders (a fit's rows keep their order),
# or other ids in the same order as these
"$py" - <<'PY'
import numpy as np
rng = np.random.default_rng(21)
nf, m = 300, 20
x = rng.uniform(0, 4, (nf, m))             # a fit's rows in no x order
a, k = rng.uniform(1, 3, nf), rng.uniform(0.5, 2, nf)
y = a[:, None] * np.exp(-k[:, None] * x) + 0.01 * rng.standard_normal((nf, m))
ids = np.repeat(np.arange(nf, dtype=float), m)
rows = np.column_stack([ids, x.ravel(), y.ravel()])
np.save("sorted.npy", rows)
np.savetxt("sorted.csv", rows, delimiter=",", header="id,x,y", comments="", fmt="%.17g")
# interleaved: each position draws a fit, which gives its next row
order, nxt = [], np.zeros(nf, int)
for f in rng.permutation(np.repeat(np.arange(nf), m)):
    order.append(f * m + nxt[f]); nxt[f] += 1
np.save("shuffled.npy", rows[order])
# the same shuffle with ids that are no whole numbers, some negative, one -0
odd = rng.permutation(np.concatenate([rng.uniform(-1e6, 1e6, nf - 2) * 1.000001, [0.0, 1e-310]]))
rows2 = rows[order].copy()
rows2[:, 0] = odd[rows2[:, 0].astype(int)]
rows2[:, 0][(rows2[:, 0] == 0) & (np.arange(len(rows2)) % 2 == 1)] = -0.0
np.save("odd.npy", rows2)
# the order of the odd ids' fits: increasing id
np.save("odd_order.npy", np.argsort(odd, kind="stable"))
# enough rows and fits to be read and written in parts on two threads
nb, mb = 20000, 6
xb = np.tile(np.linspace(0, 3, mb), nb)
yb = np.repeat(rng.uniform(1, 3, nb), mb) * np.exp(-xb) + 0.01 * rng.standard_normal(nb * mb)
big = np.column_stack([np.repeat(rng.permutation(nb) * 0.5, mb), xb, yb])
np.save("big.npy", big[rng.permutation(len(big))])
PY
model=(--model 'a*exp(-k*x)' --p0 a=2,k=1 --id 1 --x 2 --y 3 --quiet)
"$nlsq" batch sorted.npy "${model[@]}" --out sorted.csv.out
"$nlsq" batch shuffled.npy "${model[@]}" --out shuffled.csv.out
"$nlsq" batch shuffled.npy "${model[@]}" --threads 1 --out shuffled1.csv.out
"$nlsq" batch sorted.csv "${model[@]}" --out fromcsv.csv.out
"$nlsq" batch odd.npy "${model[@]}" --out odd.csv.out
"$nlsq" batch shuffled.npy "${model[@]}" --out shuffled.jsonl

"$nlsq" batch big.npy "${model[@]}" --threads 1 --out big1.csv.out
"$nlsq" batch big.npy "${model[@]}" --threads 2 --out big2.csv.out
"$nlsq" batch big.npy "${model[@]}" --threads 1 --out big1.jsonl
"$nlsq" batch big.npy "${model[@]}" --threads 2 --out big2.jsonl

check "120000 rows, 20000 fits: the same table read and written on one thread or two" \
    "cmp -s big1.csv.out big2.csv.out && cmp -s big1.jsonl big2.jsonl && [ \$(wc -l <big2.csv.out) -eq 20001 ]"
check "rows in id order or shuffled (whole ids counted into place): the same table" "cmp -s sorted.csv.out shuffled.csv.out"
check "one thread or two: the same table" "cmp -s shuffled.csv.out shuffled1.csv.out"
check "from .npy or CSV: the same table" "cmp -s sorted.csv.out fromcsv.csv.out"
check "any ids (radix-sorted): the same fits, in increasing id" "$py - <<'PY'
import csv, numpy as np
a = list(csv.reader(open('sorted.csv.out')))
b = list(csv.reader(open('odd.csv.out')))
order = np.load('odd_order.npy')
ids = [float(r[0]) for r in b[1:]]
assert a[0] == b[0] and len(a) == len(b), 'shape'
assert ids == sorted(ids), 'ids not increasing'
assert sum(1 for v in ids if v == 0) == 1, '-0 and 0 are one fit'
for i, f in enumerate(order):
    assert a[1 + f][1:] == b[1 + i][1:], (i, f)
PY"
check "every number the shortest spelling that reads back; CSV and JSON lines agree" "$py - <<'PY'
import csv, json, math
from decimal import Decimal
def digits(s):
    t = Decimal(s).normalize().as_tuple()
    return len(t.digits)
rows = list(csv.reader(open('shuffled.csv.out')))
lines = [json.loads(l) for l in open('shuffled.jsonl')]
head = rows[0]
n = 0
for r, j in zip(rows[1:], lines):
    for name, s in zip(head, r):
        if name in ('status', 'points', 'nfev', 'trusted', 'findings') or s in ('nan', 'inf', '-inf'):
            continue
        v = float(s)
        assert digits(s) == digits(repr(v)), (s, repr(v))
        n += 1
    assert float(r[0]) == j['id']
    for p in ('a', 'k'):
        assert float(r[head.index(p)]) == j['popt'][p] and float(r[head.index(p + '_err')]) == j['perr'][p]
    assert float(r[head.index('chi2')]) == j['chi2']
assert n > 1000
PY"

# 64-bit ids past 2^53 become the same double: the merge is warned about
printf 'id,x,y\n1152921504606846977,0,1\n1152921504606846977,1,2\n1152921504606846978,0,5\n1152921504606846978,1,3\n' >bigid.csv
"$nlsq" batch bigid.csv --id id --x x --y y --model 'a + b*x' --quiet >bigid.out 2>bigid.err
check "ids past 2^53: a warning that they may have merged" "grep -q 'beyond 2^53.*merged into one fit' bigid.err"
"$nlsq" batch sorted.csv --id id --x x --y y --model 'a*exp(-k*x)' --p0 a=2,k=1 --quiet >/dev/null 2>small.err
check "small ids: no such warning" "! grep -q '2^53' small.err"

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
