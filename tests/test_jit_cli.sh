#!/usr/bin/env bash
# The compiled backend across processes, as a user meets it through the
# nlsq command: the kernel cache is reused by a second process (no
# compiler run), a corrupt cache file is rebuilt, two processes compiling
# the same model at once both succeed, NLSQ_JIT_DUMP keeps the source,
# and without a compiler the fit still succeeds on the interpreter.
# Usage: test_jit_cli.sh PATH/TO/nlsq SOURCE_DIR
set -u
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
data=$src/examples/data/decay.csv
passed=0
failed=0
skipped=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
work=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-jit-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME=$work/cache
unset NLSQ_BACKEND NLSQ_CC NLSQ_JIT_DUMP

if ! command -v cc >/dev/null; then
    echo "SKIP: no C compiler (cc) on PATH; only the fallback is checked"
    skipped=1
else
    # a compiler that logs each run, to count them
    log=$work/cc.log
    printf '#!/bin/sh\necho run >> "%s"\nexec cc "$@"\n' "$log" > "$work/cc-logged"
    chmod +x "$work/cc-logged"
    export NLSQ_CC=$work/cc-logged
    model='a*exp(-b*x) + c'
    runs() { [ -f "$log" ] && wc -l < "$log" || echo 0; }
    field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" <<<"$2"; }

    out=$("$nlsq" fit "$data" --model "$model" --backend jit --json); rc=$?
    check "first process compiles: backend jit" "[ $rc -eq 0 ] && [ \"$(field backend "$out")\" = jit ] && [ $(runs) -eq 1 ]"
    check "the cache directory is private (0700)" "[ \"\$(stat -c %a \"$XDG_CACHE_HOME/nlsq\")\" = 700 ]"
    so=$(ls "$XDG_CACHE_HOME"/nlsq/*.so 2>/dev/null | head -1)
    check "one kernel file in the cache, no temporary files" "[ -n \"$so\" ] && [ \$(ls -A \"$XDG_CACHE_HOME/nlsq\" | wc -l) -eq 1 ]"

    out2=$("$nlsq" fit "$data" --model "$model" --backend jit --json); rc=$?
    check "second process reuses the kernel: no compiler run" "[ $rc -eq 0 ] && [ \"$(field backend "$out2")\" = jit ] && [ $(runs) -eq 1 ]"
    check "and says it was loaded from the cache" "grep -q 'loaded from the cache' <<<\"\$out2\""
    outi=$("$nlsq" fit "$data" --model "$model" --backend interp --json)
    popt_j=$(grep -A4 '"popt"' <<<"$out2" | grep -v seconds); popt_i=$(grep -A4 '"popt"' <<<"$outi" | grep -v seconds)
    pcov_j=$(grep -A5 '"cost"' <<<"$out2" | grep -v seconds); pcov_i=$(grep -A5 '"cost"' <<<"$outi" | grep -v seconds)
    check "popt and pcov the same, digit for digit, on jit and interp" "[ -n \"$popt_j\" ] && [ \"$popt_j\" = \"$popt_i\" ] && [ \"$pcov_j\" = \"$pcov_i\" ]"
    check "interp reports backend interp" "[ \"$(field backend "$outi")\" = interp ]"
    out=$(NLSQ_BACKEND=jit "$nlsq" fit "$data" --model "$model" --json)
    check "NLSQ_BACKEND=jit selects the kernel" "[ \"$(field backend "$out")\" = jit ]"
    out=$(NLSQ_BACKEND=jit "$nlsq" fit "$data" --model "$model" --backend interp --json)
    check "--backend overrides NLSQ_BACKEND" "[ \"$(field backend "$out")\" = interp ]"
    out=$("$nlsq" fit "$data" --model "$model" --json)
    check "auto keeps the interpreter for 40 points, and says nothing" "[ \"$(field backend "$out")\" = interp ] && [ \"$(field backend_note "$out")\" = '' ] && [ $(runs) -eq 1 ]"

    echo "not an ELF file" > "$so"
    out=$("$nlsq" fit "$data" --model "$model" --backend jit --json); rc=$?
    check "a corrupt cache file is detected and rebuilt" "[ $rc -eq 0 ] && [ \"$(field backend "$out")\" = jit ] && [ $(runs) -eq 2 ]"
    out=$("$nlsq" fit "$data" --model "$model" --backend jit --json)
    check "the rebuilt file is reused" "[ \"$(field backend "$out")\" = jit ] && [ $(runs) -eq 2 ]"

    # a foreign kernel (another model's) under this key
    "$nlsq" fit "$data" --model 'q*x + r' --backend jit --json >/dev/null
    other=$(ls -t "$XDG_CACHE_HOME"/nlsq/*.so | grep -v "$so" | head -1)
    cp "$other" "$so"
    out=$("$nlsq" fit "$data" --model "$model" --backend jit --json); rc=$?
    check "a foreign kernel under the key is detected and rebuilt" "[ $rc -eq 0 ] && [ \"$(field backend "$out")\" = jit ] && [ $(runs) -eq 4 ]"

    # two processes compiling one new model at the same time
    rm -rf "$XDG_CACHE_HOME"
    "$nlsq" fit "$data" --model 'a*exp(-b*x) + c + 0.5*x' --backend jit --json > "$work/p1" 2>&1 &
    "$nlsq" fit "$data" --model 'a*exp(-b*x) + c + 0.5*x' --backend jit --json > "$work/p2" 2>&1 &
    wait %1; rc1=$?
    wait %2; rc2=$?
    check "two processes compiling at once both succeed on the kernel" "[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && grep -q '\"backend\": \"jit\"' \"$work/p1\" && grep -q '\"backend\": \"jit\"' \"$work/p2\""
    check "and leave one kernel file, no temporary files" "[ \$(ls -A \"$XDG_CACHE_HOME/nlsq\" | wc -l) -eq 1 ]"

    # nlsq cache: count, clear (kernels and column caches only; other files are not ours)
    "$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --backend interp --column-cache auto >/dev/null
    touch "$XDG_CACHE_HOME/nlsq/notes.txt" "$XDG_CACHE_HOME/nlsq/columns/mine.npy"
    out=$("$nlsq" cache); rc=$?
    check "nlsq cache counts the kernels and column caches" "[ $rc -eq 0 ] && grep -q ': 1 compiled kernel,' <<<\"\$out\" && grep -q ': 1 column cache of text tables' <<<\"\$out\""
    out=$("$nlsq" cache clear); rc=$?
    check "nlsq cache clear removes them, and nothing else" "[ $rc -eq 0 ] && grep -q 'removed 1 compiled kernel' <<<\"\$out\" && grep -q 'removed 1 column cache' <<<\"\$out\" && [ \"\$(ls \"$XDG_CACHE_HOME/nlsq\" | tr '\\n' ' ')\" = 'columns notes.txt ' ] && [ \$(ls \"$XDG_CACHE_HOME/nlsq/columns\") = mine.npy ]"
    before=$(runs)
    "$nlsq" fit "$data" --model 'a*exp(-b*x) + c + 0.5*x' --backend jit >/dev/null
    check "after clear the next fit compiles again" "[ $(runs) -eq $((before + 1)) ]"
    err=$("$nlsq" cache purge 2>&1 >/dev/null); rc=$?
    check "nlsq cache with a bad word is a usage error" "[ $rc -eq 2 ] && grep -q 'usage: nlsq cache' <<<\"\$err\""

    mkdir -p "$work/dump"
    NLSQ_JIT_DUMP=$work/dump "$nlsq" fit "$data" --model 'a*exp(-b*x) + c + 0.25' --backend jit >/dev/null
    dumped=$(ls "$work/dump"/nlsq-*.c 2>/dev/null | head -1)
    check "NLSQ_JIT_DUMP writes the generated C" "[ -n \"$dumped\" ] && grep -q 'model_block' \"$dumped\""
    check "which compiles on its own, warning-free at -Wall" "cc -std=gnu11 -mavx2 -mfma -Wall -Werror -Wno-unused-function -Wno-unused-variable -fsyntax-only \"$dumped\""
    unset NLSQ_CC
fi

# no compiler: the fit succeeds on the interpreter and says so once
for cc in /bin/false /no/such/compiler; do
    err=$(NLSQ_CC=$cc XDG_CACHE_HOME=$work/empty "$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --backend jit --json 2>&1 >"$work/out"); rc=$?
    check "NLSQ_CC=$cc: the fit succeeds on the interpreter" "[ $rc -eq 0 ] && grep -q '\"backend\": \"interp\"' \"$work/out\""
    check "NLSQ_CC=$cc: one note on stderr" "[ \$(grep -c 'note: no compiled kernel' <<<\"\$err\") -eq 1 ]"
done
err=$(PATH=/nonexistent XDG_CACHE_HOME=$work/empty "$nlsq" fit "$data" --model 'a*exp(-b*x) + c' --backend jit 2>&1 >/dev/null); rc=$?
check "no cc on PATH: the fit succeeds, the note says why" "[ $rc -eq 0 ] && grep -q 'no C compiler' <<<\"\$err\""
err=$(NLSQ_BACKEND=fast "$nlsq" fit "$data" --model 'a*x' 2>&1 >/dev/null); rc=$?
check "a bad NLSQ_BACKEND is an error naming it" "[ $rc -eq 2 ] && grep -q 'NLSQ_BACKEND' <<<\"\$err\""

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
