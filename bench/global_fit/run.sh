#!/usr/bin/env bash
# bench/global_fit: shared-parameter (global) fits, D data sets of 100
# points, 3 local parameters each and 2 shared (issue 23's Arrhenius
# problem, bench/global_fit/gen_data.py), in one run on this machine:
#   nlsq      nlsq_fit_shared, trf, on 1 and 2 threads (global_fit.c)
#   Ceres     sparse Schur, analytic Jacobian, 1 and 2 threads (peer_ceres.cc)
#   SciPy     least_squares trf (x_scale='jac') on the stacked problem:
#             the analytic Jacobian as a CSR matrix, tr_solver='lsmr', every D;
#             jac_sparsity with 2-point differences and 'lsmr' (what a user
#             without a Jacobian writes); the analytic dense Jacobian
#             (tr_solver='exact') while it fits in 1 GiB (peer_scipy.py)
# Each case runs in its own process (its peak RSS is its own) on the same
# data file. A case is skipped, and the table says why, when it ran past
# GF_LIMIT seconds (default 300) at this D or a smaller one would predict
# so (time linear in D; the dense SVD's cubic), or when its peak RSS
# scaled from the previous D would pass GF_MEM_MB (default: half the
# available memory). A case under GF_REPEAT_BELOW seconds (default 5)
# runs three times and its fastest counts. nlsq runs at its default
# tolerances (1e-15; the peers at 1e-8), or GF_NLSQ_TOL. No timed assertions: the table is a measurement.
#
#   bench/global_fit/run.sh [MAX_D]     D = 10, 100, 1000, 10^4, 10^5 up to MAX_D (default 1e5)
#
# Installs libceres-dev (Debian) when missing; without it the Ceres
# columns say so.
set -uo pipefail
unset NLSQ_THREADS NLSQ_BACKEND
cd "$(dirname "$0")/../.." || exit 1
maxD=$(/usr/bin/python3 -c "print(int(float('${1:-1e5}')))") || exit 1
limit=${GF_LIMIT:-300}
repeat_below=${GF_REPEAT_BELOW:-5}
mem_mb=${GF_MEM_MB:-$(awk '/MemAvailable/ {print int($2 / 2048)}' /proc/meminfo)}
m=100

dpkg -s libceres-dev >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q libceres-dev; } >/dev/null 2>&1 \
    || echo "note: libceres-dev could not be installed; the Ceres columns are missing" >&2
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DNLSQ_BENCH_GLOBAL_FIT_CERES=ON >/dev/null || exit 1
tools=()
if cmake --build build-bench -j "$(nproc)" --target bench_global_fit >/dev/null 2>&1; then
    tools+=(nlsq-1t nlsq-2t)
else
    echo "note: bench_global_fit does not build (nlsq_fit_shared not in this library?); the nlsq columns are missing" >&2
fi
if grep -q "bench_global_fit_ceres" build-bench/bench/Makefile 2>/dev/null \
    && cmake --build build-bench -j "$(nproc)" --target bench_global_fit_ceres >/dev/null 2>&1; then
    tools+=(ceres-1t ceres-2t)
else
    echo "note: Ceres not found (libceres-dev) or its peer did not build; the Ceres columns are missing" >&2
fi
tools+=(scipy-sparse scipy-fd scipy-dense)

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$dir/results.txt
echo "MACHINE cores=$(nproc) cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr ' ' '_')" \
     "mem_gb=$(awk '/MemTotal/ {print int($2 / 1048576)}' /proc/meminfo) limit_s=$limit mem_cap_mb=$mem_mb" \
     "load_start=$(cut -d' ' -f1 /proc/loadavg)" >"$out"
declare -A last_s last_rss last_d stopped

# the command of a case, into the array cmd
case_cmd() {  # tool data-file
    local th
    case $1 in
        nlsq-*)  th=${1#nlsq-}; cmd=(./build-bench/bench/bench_global_fit "$2" "${th%t}" ${GF_NLSQ_TOL:+"$GF_NLSQ_TOL"}) ;;
        ceres-*) th=${1#ceres-}; cmd=(./build-bench/bench/bench_global_fit_ceres "$2" "${th%t}") ;;
        # Debian's numpy is slowed by the OpenBLAS settings of this workplace: unset them for the peer
        scipy-*) cmd=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/global_fit/peer_scipy.py
                      "$2" "${1#scipy-}") ;;
    esac
}

field() {  # key line: the value of key=value in a RESULT or SKIP line
    local v=${2#* "$1"=}
    echo "${v%% *}"
}

for D in 10 100 1000 10000 100000; do
    [ "$D" -le "$maxD" ] || break
    data=$dir/d$D.bin
    /usr/bin/python3 bench/global_fit/gen_data.py "$D" "$m" "$data" || exit 1
    for t in "${tools[@]}"; do
        if [ -n "${stopped[$t]:-}" ]; then
            echo "SKIP tool=$t D=$D why=${stopped[$t]}" | tee -a "$out" >&2
            continue
        fi
        if [ -n "${last_d[$t]:-}" ]; then
            power=1
            [ "$t" = scipy-dense ] && power=3
            why=$(awk -v s="${last_s[$t]}" -v r="${last_rss[$t]}" -v f="$((D / ${last_d[$t]}))" -v p=$power \
                      -v lim="$limit" -v cap="$mem_mb" \
                      'BEGIN { t = s * f ^ p; if (t > lim) printf "est_%.0fs>%ds", t, lim;
                               else if (r * f > cap) printf "est_%.0fMB>%dMB", r * f, cap }')
            if [ -n "$why" ]; then
                echo "SKIP tool=$t D=$D why=$why" | tee -a "$out" >&2
                stopped[$t]="skipped_at_a_smaller_D"
                continue
            fi
        fi
        case_cmd "$t" "$data"
        line=$(timeout "$limit" "${cmd[@]}" 2>"$dir/err" | grep -E '^(RESULT|SKIP)')
        rc=$?
        # the machine is shared: a fit under GF_REPEAT_BELOW seconds runs
        # twice more, and the fastest of the three counts
        for _ in 1 2; do
            case $line in RESULT*) ;; *) break ;; esac
            awk -v s="$(field seconds "$line")" -v b="$repeat_below" \
                'BEGIN { exit !(s < b) }' || break
            again=$(timeout "$limit" "${cmd[@]}" 2>/dev/null | grep '^RESULT')
            line=$(printf '%s\n%s\n' "$line" "$again" | grep '^RESULT' \
                   | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^seconds=/) s = substr($i, 9); print s, $0 }' \
                   | sort -g | head -1 | cut -d' ' -f2-)
        done
        if [ -z "$line" ]; then
            why=$([ "$rc" -eq 124 ] && echo "over_${limit}s" || echo "failed:$(tail -1 "$dir/err" | tr ' ' '_' | cut -c1-60)")
            line="SKIP tool=$t D=$D why=$why"
            stopped[$t]=$why
        fi
        echo "$line" | tee -a "$out" >&2
        case $line in
            RESULT*)
                last_d[$t]=$D
                last_s[$t]=$(field seconds "$line")
                last_rss[$t]=$(field rss_mb "$line") ;;
            SKIP*) stopped[$t]=$(field why "$line") ;;
        esac
    done
    rm -f "$data"
done
# the machine may be shared: the load average at the end goes into the table too
echo "LOAD end=$(cut -d' ' -f1 /proc/loadavg)" >>"$out"
/usr/bin/python3 bench/global_fit/table.py <"$out"
