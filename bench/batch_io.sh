#!/usr/bin/env bash
# bench/batch_io: the whole `nlsq batch` process against the fitting time it
# reports (the summary's "N s, ... fits/s" line, what --verbose calls "fit"):
# reading the table, grouping the rows by id, the fits, and writing the
# result table, for 10^5 fits of a Gaussian on a background (4 parameters,
# 32 points, default options) in both layouts, from .npy and CSV, to CSV
# and JSON lines (--out, written whole: fsync'ed and renamed).
#
#   bench/batch_io.sh [NFITS]    default 100000; bench/batch.sh runs it last
#
# The best of RUNS (default 3) runs of each row (the machine's other work
# only adds).
# NLSQ_BIN=path/to/nlsq times another build of the command (the ratio of
# an older one, say) with the same data. CSV "cold" builds the column cache
# of the text (removed before each run); "warm" reads the cache it left.
# The wide layout takes at most 255 curves (a source has at most 256
# columns), so its rows are 255 curves of NFITS*32/255 points: the same
# data, fewer and longer fits.
set -euo pipefail
unset NLSQ_THREADS NLSQ_BACKEND
cd "$(dirname "$0")/.."
nfits=${1:-100000}
bin=${NLSQ_BIN:-}
if [ -z "$bin" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j "$(nproc)" --target nlsq_cli >/dev/null
    bin=build-bench/tools/nlsq
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-batch-io-XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache

/usr/bin/python3 - "$work" "$nfits" <<'PY'
import sys
import numpy as np
work, nfits = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(2026)
m = 32
x = np.linspace(-5, 5, m)
def curves(n, xs):
    a, mu = rng.uniform(1, 3, n), rng.uniform(-1, 1, n)
    s, b = rng.uniform(0.5, 1.5, n), rng.uniform(-0.2, 0.2, n)
    y = a[:, None] * np.exp(-(xs[None, :] - mu[:, None]) ** 2 / (2 * s[:, None] ** 2)) + b[:, None]
    return y + 0.02 * rng.standard_normal(y.shape)
table = np.column_stack([np.repeat(np.arange(nfits, dtype=float), m), np.tile(x, nfits), curves(nfits, x).ravel()])
np.save(f"{work}/long.npy", table)
np.save(f"{work}/long_shuffled.npy", table[rng.permutation(len(table))])
np.savetxt(f"{work}/long.csv", table, delimiter=",", header="id,x,y", comments="", fmt="%.17g")
ncurves, rows = 255, max(nfits * m // 255, 8)
xw = np.linspace(-5, 5, rows)
wide = np.column_stack([xw, curves(ncurves, xw).T])
np.save(f"{work}/wide.npy", wide)
np.savetxt(f"{work}/wide.csv", wide, delimiter=",", comments="",
           header=",".join(["x"] + [f"c{i}" for i in range(ncurves)]), fmt="%.17g")
PY

model=(--model 'a*exp(-(x-mu)^2/(2*s^2)) + b' --p0 a=2,mu=0,s=1,b=0)
long=(--id 1 --x 2 --y 3)
printf '%-42s %-6s %9s %9s %7s\n' "nlsq batch, $nfits fits" out "whole s" "fit s" ratio
# row LABEL COLD OUT DATA ARGS...: the best of RUNS whole-process times
row() {
    local label=$1 cold=$2 out=$3 data=$4 best="" fit="" i t0 t1 wall f rc
    shift 4
    for ((i = 0; i < ${RUNS:-3}; i++)); do
        [ "$cold" = 1 ] && rm -rf "$XDG_CACHE_HOME"
        t0=$(date +%s.%N)
        rc=0
        "$bin" batch "$work/$data" "${model[@]}" "$@" --out "$work/out.$out" 2>"$work/err" || rc=$?
        t1=$(date +%s.%N)
        # 1 and 4: some fits did not converge or cannot be trusted; still timed
        if [ $rc -ne 0 ] && [ $rc -ne 1 ] && [ $rc -ne 4 ]; then
            cat "$work/err" >&2
            exit 1
        fi
        wall=$(echo "$t1 - $t0" | bc -l)
        f=$(awk 'NR == 2 {print $1}' "$work/err")
        if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc -l)" = 1 ]; then best=$wall fit=$f; fi
    done
    printf '%-42s %-6s %9.3f %9.3f %7.2f\n' "$label" "$out" "$best" "$fit" "$(echo "$best / $fit" | bc -l)"
}
row "long .npy, rows in id order" 0 csv long.npy "${long[@]}"
row "long .npy, rows in id order" 0 jsonl long.npy "${long[@]}"
row "long .npy, rows shuffled" 0 csv long_shuffled.npy "${long[@]}"
row "long .csv, cold (cache built)" 1 csv long.csv "${long[@]}"
row "long .csv, warm (cache read)" 0 csv long.csv "${long[@]}"
row "long .csv, warm (cache read)" 0 jsonl long.csv "${long[@]}"
row "wide .npy, 255 curves" 0 csv wide.npy
row "wide .csv (read into memory), 255 curves" 0 csv wide.csv
