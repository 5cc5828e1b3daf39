#!/usr/bin/env bash
# test.sh -- installs what is missing, then builds and runs the whole test
# suite twice: a normal release build (build/) and an AddressSanitizer +
# UndefinedBehaviorSanitizer debug build (build-asan/). Fails if any test
# fails. `tools/test.sh --quick` runs the normal build only. The install
# test (tests/test_install.sh: a third, default build installed into a
# temporary prefix) runs in the normal build only, since it would be the same
# in both.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

total_ok=0
total_fail=0
run_suite() {
    local dir="$1"; shift
    tools/build.sh "$dir" "$@"
    local log="$dir/meson-logs/test-summary.txt"
    set +e
    meson test -C "$dir" --print-errorlogs --num-processes 2 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local ok fail
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    total_ok=$((total_ok + ${ok:-0}))
    total_fail=$((total_fail + ${fail:-0}))
    if [[ $rc -ne 0 && ${fail:-0} -eq 0 ]]; then total_fail=$((total_fail + 1)); fi
    # Criterion may count a test as passed when a sanitizer reports from its
    # worker after the assertions ran: any report fails the suite.
    if grep -qE "ERROR: [A-Za-z]+Sanitizer|runtime error:" "$dir/meson-logs/testlog.txt"; then
        echo "test.sh: sanitizer reports in $dir/meson-logs/testlog.txt" >&2
        total_fail=$((total_fail + 1))
    fi
    return 0
}

run_suite build
if [[ "${1:-}" != "--quick" ]]; then
    run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
fi
echo "tests: ${total_ok} passed, ${total_fail} failed"
[[ $total_fail -eq 0 ]]
