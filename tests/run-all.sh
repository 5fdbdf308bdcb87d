#!/usr/bin/env bash
# Runs every test binary and prints one combined summary line last.
set -u
build=${PLIANT_BUILD:-build}
export PLIANT_SHARED=${PLIANT_SHARED:-../shared}
total_pass=0 total_fail=0 status=0
run() {
    local label=$1; shift
    local out
    out=$(PLIANT_TEST_LABEL=$label "$@" 2>&1 | tee /dev/stderr | tail -n 1)
    local rc=${PIPESTATUS[0]}
    local p f
    p=$(sed -n 's/.* \([0-9]\+\) passed, \([0-9]\+\) failed.*/\1/p' <<<"$out")
    f=$(sed -n 's/.* \([0-9]\+\) passed, \([0-9]\+\) failed.*/\2/p' <<<"$out")
    if [ -z "$p" ]; then
        echo "$label: crashed or printed no summary (exit $rc)" >&2
        p=0 f=1
    fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    [ "$rc" -eq 0 ] || status=1
}
# ASan + UBSan: the whole suite.
run asan env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/asan/run_tests"
# TSan: the tests that exercise threads.
run tsan env TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    "$build/tsan/run_tests" concurrent
# pliantd end to end (libpq, raw sockets, psql, pgbench) against the
# ASan+UBSan server build; the server's own leak check decides its exit
# status, which the tests assert.
run server env ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 PLIANTD="$build/asan/pliantd" \
    "$build/asan/server_tests"
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ] || status=1
exit $status
