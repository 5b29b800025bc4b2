#!/usr/bin/env bash
# The architecture as a test (docs/architecture.md): from the library's
# object files, which file calls which (nm: a symbol one file leaves
# undefined and another defines). Two properties:
#   - no two source files call each other;
#   - no layer calls one above it: each folder of src/ may call only the
#     folders listed for it below.
#   test_layers.sh SOURCE_DIR OBJECT_LIST (a file naming the library's object files, one a line)
set -u
src=$1 list=$2
command -v nm >/dev/null || { echo "SKIP: no nm (Debian: binutils)"; exit 77; }
mapfile -t objects < <(grep -v '^$' "$list")
[ ${#objects[@]} -gt 20 ] || { echo "FAIL only ${#objects[@]} object files in $list"; exit 1; }

# folder: the folders it may call (itself always)
allowed() {
    case $1 in
    core) echo "core" ;;
    kernel) echo "kernel" ;;
    linalg) echo "linalg kernel core" ;;
    io) echo "io core" ;;
    model) echo "model kernel core" ;;
    exec) echo "exec model linalg kernel core" ;;
    solve) echo "solve linalg kernel core" ;;
    gpu) echo "gpu exec model linalg kernel core" ;;
    fit) echo "fit gpu solve exec model linalg kernel io core" ;;
    uncertainty) echo "uncertainty stats fit gpu solve exec model linalg kernel io core" ;;
    results) echo "results uncertainty stats fit gpu solve exec model linalg kernel io core" ;;
    *) echo "" ;;
    esac
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for o in "${objects[@]}"; do
    # src/<folder>/<file>.c.o, whatever the build folder's layout
    name=$(echo "$o" | sed -E 's|.*/src/([a-z0-9_]+)/([a-z0-9_]+)\.c\.o$|\1/\2.c|')
    nm "$o" | awk -v f="$name" '$1 == "U" { print "U", f, $2 } NF == 3 && $2 ~ /^[TDBRV]$/ { print "D", f, $3 }'
done >"$tmp/syms"
# edges "caller callee symbol", one per symbol
awk '$1 == "D" { def[$3] = $2 } $1 == "U" { use[++n] = $2 " " $3 }
     END { for (i = 1; i <= n; i++) { split(use[i], a, " "); if ((a[2] in def) && def[a[2]] != a[1]) print a[1], def[a[2]], a[2] } }' \
    "$tmp/syms" | sort -u >"$tmp/edges"

pass=0 fail=0
loops=$(awk '{ e[$1 " " $2] = $3 } END { for (k in e) { split(k, a, " "); r = a[2] " " a[1]; if ((r in e) && a[1] < a[2]) print a[1] " <-> " a[2] " (" e[k] ", " e[r] ")" } }' "$tmp/edges")
if [ -z "$loops" ]; then echo "ok   no two source files call each other"; pass=$((pass + 1));
else echo "FAIL files that call each other:"; echo "$loops" | sed 's/^/     /'; fail=$((fail + 1)); fi

up=""
while read -r caller callee sym; do
    from=${caller%%/*} to=${callee%%/*}
    case " $(allowed "$from") " in *" $to "*) ;; *) up="$up$caller -> $callee ($sym)"$'\n' ;; esac
done <"$tmp/edges"
if [ -z "$up" ]; then echo "ok   no layer calls one above it"; pass=$((pass + 1));
else echo "FAIL calls against the layering:"; printf '%s' "$up" | sed 's/^/     /'; fail=$((fail + 1)); fi

# the front ends see only the public header
inc=$(grep -n '#include "' "$src"/tools/*.c "$src"/tools/*.h 2>/dev/null | grep -v -E '"nlsq\.h"|"[a-z_]+\.h"$' | grep '/' )
if [ -z "$inc" ]; then echo "ok   tools/ includes no header under src/"; pass=$((pass + 1));
else echo "FAIL tools/ includes internal headers:"; echo "$inc" | sed 's/^/     /'; fail=$((fail + 1)); fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
