#!/usr/bin/env bash
# nlsq batch --shared (issue 23) as a user runs it: the Arrhenius reference
# problem (docs/global-fits.md) in the long layout (T a column) and the wide
# layout (T from the curve columns' names, or listed), the truth recovered
# within the errors, the same numbers from both layouts, from one thread or
# two, as CSV and JSON lines, and from nlsqc.fit_global on the same data;
# the summary; and each bad input one clear line with exit status 2.
# With nlsq-mpi and mpirun, the same bytes from 1 and 3 ranks.
# Usage: test_shared_cli.sh PATH/TO/nlsq SOURCE_DIR PATH/TO/libnlsq.so [PATH/TO/nlsq-mpi]
set -u
. "$(dirname "$0")/cli_check.sh"
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
lib=${3:-}
nlsq_mpi=${4:+$(cd "$(dirname "$4")" && pwd)/$(basename "$4")}
py=/usr/bin/python3
if ! "$py" -c 'import numpy' 2>/dev/null; then
    echo "SKIP test_shared_cli: $py with numpy writes the data (apt-get install python3-numpy)"
    exit 77
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-shared-cli.XXXXXX") || exit 1
trap 'rm -rf "$w"' EXIT
cd "$w" || exit 1
export XDG_CACHE_HOME=$w/cache

# 12 curves of 50 points, T from 280 to 340 K; every number written in full
"$py" - <<'PY'
import numpy as np
rng = np.random.default_rng(23)
D, m = 12, 50
T = np.linspace(280, 340, D)
x = np.linspace(0, 5, m)
a, c, d = rng.uniform(1, 3, D), rng.uniform(-0.5, 0.5, D), rng.uniform(-0.05, 0.05, D)
k = 1.3 * np.exp(-2500 * (1 / T - 1 / 300))
Y = a[:, None] * np.exp(-k[:, None] * x) + c[:, None] + d[:, None] * x + 0.01 * rng.standard_normal((D, m))
with open("long.csv", "w") as f:
    f.write("set,t,T,y\n")
    for i in range(D):
        for j in range(m):
            f.write(f"{i + 1},{x[j]!r},{T[i]!r},{Y[i, j]!r}\n")
with open("wide.csv", "w") as f:
    f.write("t," + ",".join(repr(t) for t in T) + "\n")
    for j in range(m):
        f.write(f"{x[j]!r}," + ",".join(repr(Y[i, j]) for i in range(D)) + "\n")
with open("named.csv", "w") as f:  # curves named by words: no T in the header
    f.write("t," + ",".join(f"c{i}" for i in range(D)) + "\n")
    for j in range(m):
        f.write(f"{x[j]!r}," + ",".join(repr(Y[i, j]) for i in range(D)) + "\n")
open("temps.txt", "w").write(",".join(repr(t) for t in T))
# T not constant within set 4 (one row 1 K off)
rows = open("long.csv").read().splitlines()
bad = rows[:1] + [r.replace(f",{T[3]!r},", f",{T[3] + 1!r},") if i == 3 * m + 7 else r for i, r in enumerate(rows[1:])]
open("varying.csv", "w").write("\n".join(bad) + "\n")
# set 2 has 2 points: too few for its 3 local parameters
short = rows[:1] + [r for i, r in enumerate(rows[1:]) if not (m <= i < 2 * m - 2)]
open("short.csv", "w").write("\n".join(short) + "\n")
PY

M='a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x'
P0=a=2,c=0,d=0,k0=1,Ea=2000
long0=(long.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --p0 $P0)  # without --covariate
long=("${long0[@]}" --covariate T)
wide=(wide.csv --model "$M" --vars x,T --shared k0,Ea --p0 $P0)

"$nlsq" batch "${long[@]}" --out long_out.csv 2>long.err; rc=$?
check "long layout: the global fit converges (exit 0)" "[ $rc -eq 0 ] && [ \$(wc -l <long_out.csv) -eq 13 ]"
check "the rows have the batch's header" "head -1 long_out.csv | grep -q '^id,a,a_err,k0,k0_err,Ea,Ea_err,c,c_err,d,d_err,status,chi2,redchi,points,nfev,trusted,findings$'"
# every row the same shared values; the truth within 4 standard errors
"$py" - <<'PY' >check.out 2>&1
import csv
rows = list(csv.DictReader(open("long_out.csv")))
k0 = {r["k0"] for r in rows}; Ea = {r["Ea"] for r in rows}
assert len(k0) == 1 and len(Ea) == 1, (k0, Ea)
r = rows[0]
assert abs(float(r["k0"]) - 1.3) < 4 * float(r["k0_err"]), (r["k0"], r["k0_err"])
assert abs(float(r["Ea"]) - 2500) < 4 * float(r["Ea_err"]), (r["Ea"], r["Ea_err"])
assert 0 < float(r["k0_err"]) < 0.05 and 0 < float(r["Ea_err"]) < 100
assert len({r["a"] for r in rows}) == 12 and all(int(r["points"]) == 50 for r in rows)
print("ok")
PY
check "the shared values repeated in every row; k0 = 1.3 and Ea = 2500 within 4 errors" "grep -qx ok check.out || { cat check.out; false; }"
check "the summary names the shared parameters, their correlation, cost and dof" \
    "grep -q 'a global fit of 12 curves' long.err && grep -Eq '^  k0 +1\.[0-9]+ +[0-9.e-]+$' long.err && grep -q 'correlation of the shared parameters' long.err && grep -q 'dof 562' long.err"

"$nlsq" batch "${long[@]}" --threads 1 --quiet >t1.csv 2>t1.err
"$nlsq" batch "${long[@]}" --threads 2 --quiet >t2.csv
check "one thread or two: the same bytes; --quiet prints nothing" "cmp -s t1.csv t2.csv && cmp -s t1.csv long_out.csv && [ ! -s t1.err ]"

"$nlsq" batch "${wide[@]}" --covariate T=header --quiet >wide_h.csv; rc=$?
"$nlsq" batch "${wide[@]}" --covariate "T=$(cat temps.txt)" --quiet >wide_v.csv
check "wide layout, T from the columns' names: exit 0, the same rows as T listed" "[ $rc -eq 0 ] && cmp -s wide_h.csv wide_v.csv"
"$py" - <<'PY' >check.out 2>&1
import csv
a, b = list(csv.DictReader(open("long_out.csv"))), list(csv.DictReader(open("wide_h.csv")))
assert len(a) == len(b) == 12
for ra, rb in zip(a, b):
    for key in ("a", "c", "d", "k0", "Ea", "a_err", "Ea_err", "chi2"):
        x, y = float(ra[key]), float(rb[key])
        assert abs(x - y) <= 1e-10 * abs(x), (key, x, y)
print("ok")
PY
check "the wide layout's fit is the long layout's (1e-10)" "grep -qx ok check.out || { cat check.out; false; }"

"$nlsq" batch "${long[@]}" --format jsonl --quiet >long.jsonl
"$py" - <<'PY' >check.out 2>&1
import csv, json
rows = list(csv.DictReader(open("long_out.csv")))
lines = [json.loads(l) for l in open("long.jsonl")]
assert len(lines) == 12
for r, j in zip(rows, lines):
    assert j["id"] == float(r["id"]) and j["status"] == int(r["status"]) and j["success"] is True
    for name in ("a", "k0", "Ea", "c", "d"):
        assert j["popt"][name] == float(r[name]) and j["perr"][name] == float(r[name + "_err"])
print("ok")
PY
check "JSON lines carry the same numbers as the CSV" "grep -qx ok check.out || { cat check.out; false; }"

# nlsqc.fit_global on the same data: the same C function, so the same bits
if [ -n "$lib" ] && NLSQ_LIBRARY=$lib PYTHONPATH=$src/python "$py" -c 'import nlsqc' 2>/dev/null; then
    NLSQ_LIBRARY=$lib PYTHONPATH=$src/python "$py" - "$M" <<'PY' >check.out 2>&1
import csv, sys
import numpy as np
import nlsqc
t = np.loadtxt("long.csv", delimiter=",", skiprows=1)
sets = [t[t[:, 0] == s] for s in np.unique(t[:, 0])]
r = nlsqc.fit_global(sys.argv[1], [(s[:, 1], s[:, 3]) for s in sets], shared=["k0", "Ea"],
                     covariates={"T": [s[0, 2] for s in sets]}, p0=dict(a=2, c=0, d=0, k0=1, Ea=2000))
rows = list(csv.DictReader(open("long_out.csv")))
for i, row in enumerate(rows):
    for j, name in enumerate(r.names):
        assert float(row[name]) == r.popt[i, j], (i, name, row[name], r.popt[i, j])
        assert float(row[name + "_err"]) == r.perr[i, j], (i, name)
print("ok")
PY
    check "nlsqc.fit_global on the same data gives the CLI's numbers bit for bit" "grep -qx ok check.out || { cat check.out; false; }"
else
    echo "SKIP the comparison with nlsqc.fit_global: no library path given or nlsqc does not import"
fi

# the ranks of an MPI job: the same bytes as one process
if [ -n "$nlsq_mpi" ] && command -v mpirun >/dev/null; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NLSQ_MPI_TIMEOUT=${NLSQ_MPI_TIMEOUT:-20}
    for n in 1 3; do
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 60 mpirun --oversubscribe -n $n \
            --mca btl vader,self "$nlsq_mpi" batch "${long[@]}" --threads 1 --quiet --out "mpi$n.csv"; rc=$?
        check "nlsq-mpi on $n rank(s): exit 0, the rows of one process byte for byte" "[ $rc -eq 0 ] && cmp -s mpi$n.csv long_out.csv"
    done
else
    echo "SKIP nlsq-mpi batch --shared: no nlsq-mpi or no mpirun"
fi

# one curve at one T cannot tell k0 from Ea: no covariance, said so
head -51 long.csv >one.csv
"$nlsq" batch one.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 >one_out.csv 2>one.err; rc=$?
check "one curve: k0 and Ea not determined, the summary says there is no covariance (errors inf), exit 4" \
    "[ $rc -eq 4 ] && grep -q '^  no covariance: the Jacobian is singular' one.err && [ \$(tail -1 one_out.csv | cut -d, -f5) = inf ]"
"$nlsq" batch one.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 --accept-untrusted \
    --quiet >/dev/null 2>&1; rc=$?
check "one curve with --accept-untrusted: exit 0" "[ $rc -eq 0 ]"

# a model without covariates: x shared by the wide layout's curves
"$nlsq" batch named.csv --model 'a*exp(-k*x) + c + d*x' --shared k --p0 a=2,k=1,c=0,d=0 --quiet >plain.csv; rc=$?
check "wide layout without covariates (one shared k): exit 0, 12 rows, one k" \
    "[ $rc -eq 0 ] && [ \$(tail -n +2 plain.csv | cut -d, -f4 | sort -u | wc -l) -eq 1 ] && [ \$(wc -l <plain.csv) -eq 13 ]"

"$nlsq" batch "${long[@]}" --max-nfev 2 --quiet >stopped.csv; rc=$?
check "a fit stopped by --max-nfev: exit 1, its rows still written" "[ $rc -eq 1 ] && [ \$(wc -l <stopped.csv) -eq 13 ]"

out=$("$nlsq" batch "${long[@]}" --out fits.h5 2>&1); rc=$?
if grep -q "built without HDF5" <<<"$out"; then
    echo "SKIP --out fits.h5: this nlsq has no HDF5"
else
    check "--out fits.h5 writes the rows as HDF5 (exit 0)" "[ $rc -eq 0 ] && [ -s fits.h5 ]"
    if "$py" -c 'import h5py' 2>/dev/null; then
        "$py" - <<'PY' >check.out 2>&1
import csv
import h5py
rows = list(csv.DictReader(open("long_out.csv")))
with h5py.File("fits.h5", "r") as f:
    for key in ("a", "a_err", "k0", "k0_err", "Ea", "Ea_err", "chi2", "redchi", "points", "nfev", "status"):
        col = f[key][()]
        assert len(col) == 12 and all(float(r[key]) == v for r, v in zip(rows, col)), key
    assert list(f["diag_flags"][()]) == [0] * 12, f["diag_flags"][()]
print("ok")
PY
        check "the HDF5 columns are the CSV's bit for bit, diag_flags 0 (h5py)" "grep -qx ok check.out || { cat check.out; false; }"
    else
        echo "SKIP the HDF5 columns against the CSV: no h5py"
    fi
fi

# each row's verdict: a row of a determined fit trusted, no findings
check "a determined fit's rows: trusted 1, no findings" \
    "[ \$(tail -n +2 long_out.csv | cut -d, -f17,18 | sort -u) = '1,' ]"
# one data set whose locals the data do not determine (T = 0: a and c are one
# constant there): its row alone untrusted (rank_deficient), the others
# trusted with finite errors; exit 4, and --accept-untrusted 0
degen=(named.csv --model 'a*exp(-k*T*x) + c + d*x' --vars x,T --shared k --covariate "T=1,1,0,1,1,1,1,1,1,1,1,1"
    --p0 a=2,k=1,c=0,d=0)
"$nlsq" batch "${degen[@]}" >degen.csv 2>degen.err; rc=$?
check "a set with undetermined locals: exit 4, its row trusted 0 rank_deficient, the 11 others trusted 1" \
    "[ $rc -eq 4 ] && [ \$(grep -c ',0,rank_deficient\$' degen.csv) -eq 1 ] && grep -q '^c2,.*,0,rank_deficient\$' degen.csv && [ \$(grep -c ',1,\$' degen.csv) -eq 11 ]"
check "... the summary counts it: 'do not determine every parameter of 1 curve'" \
    "grep -q 'the data do not determine every parameter of 1 curve (an error inf): its row says trusted 0' degen.err"
"$nlsq" batch "${degen[@]}" --accept-untrusted --quiet >/dev/null 2>&1; rc=$?
check "... with --accept-untrusted: exit 0" "[ $rc -eq 0 ]"
"$nlsq" batch "${degen[@]}" --format jsonl --quiet >degen.jsonl 2>/dev/null
check "... JSON lines say the same (trusted false, findings [rank_deficient] for c2 only)" \
    "[ \$(grep -c '\"trusted\": false, \"findings\": \\[\"rank_deficient\"\\]' degen.jsonl) -eq 1 ] && [ \$(grep -c '\"trusted\": true, \"findings\": \\[\\]' degen.jsonl) -eq 11 ]"
# one curve: the words in the singular
check "one curve: 'a global fit of 1 curve of' (not '1 curves')" "grep -q 'a global fit of 1 curve of' one.err && ! grep -q ' 1 curves\| 1 iterations\| 1 evaluations' one.err"

# a NaN refused under the default policy: the message points to --nan-policy omit
awk -F, 'NR == 100 { $4 = "nan" } 1' OFS=, long.csv >nan.csv
err=$("$nlsq" batch nan.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 2>&1 >/dev/null); rc=$?
check "a NaN y: exit 2, one line naming the id, suggesting --nan-policy omit, without the C function's name ($err)" \
    "[ $rc -eq 2 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q '^nlsq: --shared: .*id 2).*--nan-policy omit' <<<\"\$err\" && ! grep -q nlsq_fit_shared <<<\"\$err\""
"$nlsq" batch nan.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 --nan-policy omit --quiet >nan_out.csv; rc=$?
check "... with --nan-policy omit: exit 0, the set with the NaN fitted on 49 points" \
    "[ $rc -eq 0 ] && [ \$(sed -n 3p nan_out.csv | cut -d, -f15) = 49 ]"

# the data file bundled with the docs (examples/global/arrhenius.csv): the
# summary's numbers are the ones docs/global-fits.md prints
ex=$src/examples/global/arrhenius.csv
"$nlsq" batch "$ex" --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 --threads 1 \
    --out ex.csv 2>ex.err; rc=$?
doc_k0=$(grep -E '^  k0 +[0-9.]+ +[0-9.]+$' "$src/docs/global-fits.md" | head -1)
doc_cost=$(grep -E '^  cost [0-9.]+ +chi2' "$src/docs/global-fits.md" | head -1)
check "the docs' example data: exit 0; k0 and cost as docs/global-fits.md prints them" \
    "[ $rc -eq 0 ] && [ -n \"$doc_k0\" ] && grep -qxF \"$doc_k0\" ex.err && grep -qxF \"$doc_cost\" ex.err"
"$nlsq" batch "$src/examples/global/arrhenius_wide.csv" --model "$M" --vars x,T --shared k0,Ea --covariate T=header \
    --p0 $P0 --threads 1 --quiet >ex_wide.csv; rc=$?
check "... its wide file (T=header): exit 0, the long file's rows bit for bit (ids aside)" \
    "[ $rc -eq 0 ] && cmp -s <(cut -d, -f2- ex.csv) <(cut -d, -f2- ex_wide.csv)"
# the shared-fit sections document exit status 4 and --accept-untrusted
gf=$(sed -n '/^### On the command line/,/^### In Python/p' "$src/docs/global-fits.md")
cl=$(sed -n '/^### `nlsq batch --shared`/,/^## /p' "$src/docs/cli.md")
check "docs: exit status 4 and --accept-untrusted in global-fits.md's and cli.md's --shared sections" \
    "grep -q '4 converged but not to be trusted' <<<\"\$gf\" && grep -q -- '--accept-untrusted' <<<\"\$gf\" && grep -q 'and 4 converged but not to be trusted' <<<\"\$cl\" && grep -q -- '--accept-untrusted' <<<\"\$cl\""
exe=$(dirname "$nlsq")/../examples/global_arrhenius
if [ -x "$exe" ]; then
    (cd "$src/examples/global" && "$exe") >ex_c.out 2>&1; rc=$?
    doc_c=$(sed -n '/^k0 = /p' "$src/docs/global-fits.md" | head -1)
    check "the docs' C example (examples/global/arrhenius.c) prints what the docs say ($doc_c)" \
        "[ $rc -eq 0 ] && [ -n \"$doc_c\" ] && grep -qxF \"$doc_c\" ex_c.out"
else
    echo "SKIP the docs' C example: no $exe"
fi

# bad input: one line, exit 2
expect_error "--covariate given twice" "--covariate given twice" batch "${long[@]}" --covariate T
expect_error "--shared names no parameter of the model" "--shared: the model has no parameter 'k9'" batch "${long[@]}" --shared k9
expect_error "--covariate without --shared" "--covariate goes with --shared" batch long.csv --model "$M" --vars x,T --x t,T --id set --covariate T
expect_error "--covariate names no variable" "the model has no variable 'Q'" batch "${long0[@]}" --covariate Q
expect_error "--method dogbox is refused" "--method dogbox: a fit with --shared runs trf" batch "${long[@]}" --method dogbox
expect_error "--device cuda is refused" "runs on the CPU" batch "${long[@]}" --device cuda
expect_error "long layout: a covariate's values are its column" "in the long layout (--id) a covariate is a column" batch "${long0[@]}" --covariate T=300
expect_error "long layout: T varies within an id" "its column 'T' is not constant within id 4" batch varying.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0
expect_error "wide layout: a covariate needs its values" "in the wide layout each curve's value is given" batch "${wide[@]}" --covariate T
expect_error "wide layout: one value per curve" "2 values for 12 curve columns" batch "${wide[@]}" --covariate T=280,290
expect_error "wide layout: a value that is no number" "'warm' is not a number" batch "${wide[@]}" --covariate T=280,warm
expect_error "wide layout: T=header with curves named by words" "the curve column 'c0' is not named by a number" batch named.csv --model "$M" --vars x,T --shared k0,Ea --covariate T=header --p0 $P0
# the library's own refusals, passed on as one line
err=$("$nlsq" batch short.csv --model "$M" --vars x,T --x t,T --id set --shared k0,Ea --covariate T --p0 $P0 2>&1 >/dev/null); rc=$?
check "a data set too short for its locals: exit 2, one line naming its id (library: $err)" \
    "[ $rc -eq 2 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -q 'data set 1 is the id 2)' <<<\"\$err\""
err=$("$nlsq" batch long.csv --model "a*exp(-k*x) + c + d*x + b*(T - T)" --vars x,T --x t,T --id set --shared k,b --p0 a=2,k=1,c=0,d=0,b=1 2>&1 >/dev/null); rc=$?
check "a shared parameter no data set depends on: exit 2, one line naming it (library: $err)" \
    "[ $rc -eq 2 ] && [ \$(wc -l <<<\"\$err\") -eq 1 ] && grep -qw b <<<\"\$err\""

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
