#!/usr/bin/env bash
# Builds every c-tests/*.c (one test program each) and c-tests/*.cpp against a staged install of
# libsev, found ONLY through pkg-config, and runs each program in three ways:
#
#   asan      dynamic link, -fsanitize=address,undefined (LeakSanitizer on)
#   static    libsev.a through `pkg-config --static --libs`, no sanitizers
#   valgrind  dynamic link, no sanitizers, under valgrind's memcheck
#
# (C++ files run in the asan way only: they check that the header works from C++.)
#
# A program's exit status: 0 = pass, 77 = skip (it prints why), anything else = fail.
# Prints one line per run and ends with `c-tests: N passed, M failed, K skipped`.
#
# Usage: c-tests/run.sh STAGE PREFIX OUTDIR [TEST.c ...]
#   STAGE   the DESTDIR the library was installed into
#   PREFIX  the PREFIX it was installed with (so the .pc file is at STAGE/PREFIX/lib/pkgconfig)
#   OUTDIR  where binaries and logs go
# Environment: CC, CXX, LIBSEV_TESTDATA (passed on to the tests), C_TEST_TIMEOUT (seconds per
# run, default 900), C_TEST_MODES (default "asan static valgrind").
# The valgrind run exports LIBSEV_UNDER_VALGRIND=1 so that tests can choose smaller sizes.
set -uo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 STAGE PREFIX OUTDIR [TEST.c ...]" >&2
    exit 2
fi
stage=$(cd "$1" && pwd)
prefix=$2
out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

CC=${CC:-gcc}
CXX=${CXX:-g++}
timeout_s=${C_TEST_TIMEOUT:-900}
modes=${C_TEST_MODES:-asan static valgrind}

# pkg-config sees only the staged .pc file, and the sysroot makes its -I/-L point into the stage.
export PKG_CONFIG_LIBDIR="$stage$prefix/lib/pkgconfig"
export PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR="$stage"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
export PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
libdir="$stage$prefix/lib"

die() {
    echo "c-tests: $*" >&2
    echo "c-tests: 0 passed, 1 failed, 0 skipped"
    exit 1
}

pkg-config --exists libsev || die "pkg-config does not find libsev in $PKG_CONFIG_LIBDIR"
cflags=$(pkg-config --cflags libsev) || die "pkg-config --cflags failed"
libs=$(pkg-config --libs libsev) || die "pkg-config --libs failed"
static_libs=$(pkg-config --static --libs libsev) || die "pkg-config --static --libs failed"
case "$cflags" in
*"-I$stage$prefix/include"*) ;;
*) die "pkg-config --cflags gives '$cflags', not the staged include directory" ;;
esac
case "$libs" in
*"-L$libdir"*) ;;
*) die "pkg-config --libs gives '$libs', not the staged library directory" ;;
esac
# Link libsev.a, not libsev.so, in the static build (both sit in the same directory).
static_libs=$(printf '%s\n' "$static_libs" | sed -e 's/\(^\| \)-lsev\( \|$\)/\1-l:libsev.a\2/')
echo "c-tests: pkg-config libsev $(pkg-config --modversion libsev): $cflags $libs"
echo "c-tests: static: $static_libs"

warn="-Wall -Wextra -Werror -g -O1"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
if [ -f "$here/lsan.supp" ]; then
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi

if [ $# -eq 0 ]; then
    set -- "$here"/*.c "$here"/*.cpp
fi

passed=0 failed=0 skipped=0
failed_names=()

# record NAME MODE STATUS LOG
record() {
    local name=$1 mode=$2 rc=$3 log=$4
    case $rc in
    0)
        passed=$((passed + 1))
        echo "PASS $name [$mode]"
        ;;
    77)
        skipped=$((skipped + 1))
        echo "SKIP $name [$mode]: $(tail -n 1 "$log")"
        ;;
    *)
        failed=$((failed + 1))
        failed_names+=("$name [$mode]")
        echo "FAIL $name [$mode] (exit $rc); last lines of $log:"
        tail -n 40 "$log" | sed 's/^/    /'
        ;;
    esac
}

# run NAME MODE CMD... : run a built program with the test environment, time-limited
run() {
    local name=$1 mode=$2
    shift 2
    local log="$out/$name.$mode.log"
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        timeout "$timeout_s" "$@" >"$log" 2>&1 </dev/null
    local rc=$?
    [ $rc -eq 124 ] && echo "(timed out after ${timeout_s}s)" >>"$log"
    record "$name" "$mode" "$rc" "$log"
}

# build NAME MODE LOG CMD... : compile; a compile failure counts as a failed run
build() {
    local name=$1 mode=$2 log=$3
    shift 3
    if ! "$@" >"$log" 2>&1; then
        record "$name" "$mode" 1 "$log"
        return 1
    fi
}

needed_libsev() {
    readelf -d "$1" 2>/dev/null | grep -q 'NEEDED.*\[libsev\.so'
}

for src in "$@"; do
    [ -f "$src" ] || continue
    file=$(basename "$src")
    name=${file%.*}
    case $file in
    *.cpp)
        bin="$out/$name.cxx"
        # shellcheck disable=SC2086
        build "$name" c++ "$out/$name.c++.build.log" \
            "$CXX" -std=c++11 -Wpedantic $warn $san "$src" -o "$bin" $cflags $libs &&
            run "$name" c++ "$bin"
        continue
        ;;
    esac
    for mode in $modes; do
        blog="$out/$name.$mode.build.log"
        case $mode in
        asan)
            bin="$out/$name.asan"
            # shellcheck disable=SC2086
            build "$name" "$mode" "$blog" \
                "$CC" -std=gnu11 $warn $san "$src" -o "$bin" $cflags $libs || continue
            if ! needed_libsev "$bin"; then
                echo "$bin does not load libsev.so dynamically" >>"$blog"
                record "$name" "$mode" 1 "$blog"
                continue
            fi
            run "$name" "$mode" "$bin"
            ;;
        static)
            bin="$out/$name.static"
            # shellcheck disable=SC2086
            build "$name" "$mode" "$blog" \
                "$CC" -std=gnu11 $warn "$src" -o "$bin" $cflags $static_libs || continue
            if needed_libsev "$bin"; then
                echo "$bin loads libsev.so although it was linked statically" >>"$blog"
                record "$name" "$mode" 1 "$blog"
                continue
            fi
            run "$name" "$mode" "$bin"
            ;;
        valgrind)
            bin="$out/$name.dyn"
            # shellcheck disable=SC2086
            build "$name" "$mode" "$blog" \
                "$CC" -std=gnu11 $warn "$src" -o "$bin" $cflags $libs || continue
            LIBSEV_UNDER_VALGRIND=1 run "$name" "$mode" valgrind -q --error-exitcode=1 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --track-origins=yes "$bin"
            ;;
        *)
            die "unknown mode $mode"
            ;;
        esac
    done
done

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "c-tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ $((passed + skipped)) -gt 0 ]
