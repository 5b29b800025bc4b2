# Shared by the CLI test scripts, sourced after `set -u` with the script's
# arguments ($1 = PATH/TO/nlsq): the nlsq path made absolute, the passed and
# failed counters, check NAME CONDITION, and expect_error NAME PATTERN ARGS...
# Each script prints its own closing line from $passed and $failed.
# shellcheck shell=bash
nlsq=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
passed=0
failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
expect_error() { # name, grep pattern, args... (exit status 2, one line)
    local name=$1 pattern=$2
    shift 2
    local err
    err=$("$nlsq" "$@" 2>&1 >/dev/null); local rc=$?
    check "$name" "[ $rc -eq 2 ] && grep -q -- \"$pattern\" <<<\"\$err\" && [ \$(wc -l <<<\"\$err\") -eq 1 ]"
}

