#!/usr/bin/env bash
# nlsq installed as a user installs it, and used as a user uses it:
# `cmake --install` into a temporary prefix, then a small program built
# against that prefix twice — with pkg-config and with find_package — and
# run. Also: the shared library exports the public API alone, and the man
# page renders.
#   test_install.sh BUILD_DIR SOURCE_DIR VERSION SOVERSION [USER_FLAGS]
# USER_FLAGS: what a user's program needs to link this build's library
# (the sanitizer run's -fsanitize=...), empty for a plain build.
set -u
build=$1 src=$2 version=$3 soversion=$4 uflags=${5:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nlsq-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name, command...
    local name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then echo "ok   $name"; pass=$((pass + 1));
    else echo "FAIL $name"; sed 's/^/     /' "$tmp/out"; fail=$((fail + 1)); fi
}

prefix=$tmp/prefix
check "cmake --install into a temporary prefix" cmake --install "$build" --prefix "$prefix"
libdir=$(dirname "$(find "$prefix" -name 'libnlsq.so' | head -n 1)")
check "the soname is libnlsq.so.$soversion" sh -c "objdump -p '$libdir/libnlsq.so' | grep -q 'SONAME *libnlsq.so.$soversion\$'"
check "the library, its soname link, the static library, the header" \
    test -f "$libdir/libnlsq.so.$version" -a -L "$libdir/libnlsq.so.$soversion" -a -f "$libdir/libnlsq.a" \
         -a -f "$prefix/include/nlsq.h" -a -f "$prefix/include/nlsq_version.h"
check "the command runs from the prefix and says its version" \
    sh -c "'$prefix/bin/nlsq' --version | grep -qx 'nlsq $version'"

check "the shared library exports only nlsq_* names" sh -c "[ -n \"\$(nm -D --defined-only '$libdir/libnlsq.so')\" ] && \
    ! nm -D --defined-only '$libdir/libnlsq.so' | awk '{print \$3}' | grep -v '^nlsq_'"

# with pkg-config (shared, then static)
if command -v pkg-config >/dev/null; then
    export PKG_CONFIG_PATH=$libdir/pkgconfig
    check "pkg-config knows nlsq $version" sh -c "[ \"\$(pkg-config --modversion nlsq)\" = '$version' ]"
    check "a program built with pkg-config (shared)" \
        sh -c "cc -std=c11 -Wall -Wextra -Werror $uflags \$(pkg-config --cflags nlsq) '$src/tests/install/use_nlsq.c' \
               \$(pkg-config --libs nlsq) -lm -o '$tmp/pc' && LD_LIBRARY_PATH='$libdir' '$tmp/pc'"
    check "the program runs against the installed library, not the build's" \
        sh -c "LD_LIBRARY_PATH='$libdir' ldd '$tmp/pc' | grep -q '$libdir/libnlsq.so'"
    check "a program built with pkg-config --static" \
        sh -c "cc -std=c11 $uflags \$(pkg-config --cflags nlsq) '$src/tests/install/use_nlsq.c' \
               -L'$libdir' -Wl,-Bstatic -lnlsq -Wl,-Bdynamic \
               \$(pkg-config --libs --static nlsq | sed 's/-lnlsq / /') -lm -o '$tmp/pcs' && '$tmp/pcs' && \
               ! ldd '$tmp/pcs' | grep -q libnlsq"
else
    echo "skip pkg-config checks: no pkg-config (Debian: apt-get install pkgconf; make test-deps installs it)"
fi

# with find_package(nlsq CONFIG)
check "find_package(nlsq CONFIG) configures a user's project" \
    cmake -S "$src/tests/install" -B "$tmp/user" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
        "-DCMAKE_C_FLAGS=$uflags" "-DCMAKE_EXE_LINKER_FLAGS=$uflags"
check "... which builds against nlsq::nlsq and nlsq::nlsq_static" cmake --build "$tmp/user"
check "... and both programs run" sh -c "'$tmp/user/use_nlsq' && '$tmp/user/use_nlsq_static'"

# the man page
if [ -f "$build/nlsq.1" ]; then
    page=$(find "$prefix" -name nlsq.1 | head -n 1)
    check "the man page is installed" test -n "$page"
    if command -v man >/dev/null; then
        check "the man page renders" sh -c "MANWIDTH=80 man -l '$page' 2>&1 | grep -q 'nlsq fit'"
    else
        echo "skip man page rendering: no man (Debian: man-db)"
    fi
else
    echo "FAIL the build made no nlsq.1"; fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
