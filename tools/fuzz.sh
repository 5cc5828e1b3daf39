#!/usr/bin/env bash
# fuzz.sh -- builds the libFuzzer targets of tests/fuzz/ with clang into
# build-fuzz/ (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer,
# meson -Dfuzz=true) and runs each one in turn (docs/FUZZING.md).
#   tools/fuzz.sh                    every target, 60 s each
#   tools/fuzz.sh --seconds 15       15 s each (what .ci/run does)
#   tools/fuzz.sh model payload      only these targets
#   tools/fuzz.sh --build-only       build, run nothing
# Each target first replays its past findings (tests/fuzz/regressions/
# TARGET/, committed), then starts from the seeds of tests/fuzz/seeds.py
# (regenerated into build-fuzz/seeds/TARGET) and grows
# build-fuzz/corpus/TARGET, kept between runs; tests/fuzz/TARGET.dict is
# used when it exists. Any crash,
# leak, timeout, out-of-memory or sanitizer report fails the script, which
# prints the reproducer's path and the command that replays it. Logs:
# build-fuzz/logs/TARGET.log. Targets are every fuzz_* executable that
# tests/fuzz/meson.build builds: adding one there is all it takes.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build_only=0
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --seconds=*) seconds="${1#*=}"; shift ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || {
    echo "fuzz.sh: --seconds wants a positive integer, got '$seconds'" >&2; exit 2; }

tools/setup.sh --fuzz
dir=build-fuzz
if [[ ! -f "$dir/build.ninja" ]]; then
    CC=clang meson setup "$dir" -Dfuzz=true --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$dir" >/dev/null
[[ $build_only -eq 1 ]] && exit 0

if [[ ${#targets[@]} -eq 0 ]]; then
    for exe in "$dir"/tests/fuzz/fuzz_*; do
        [[ -x "$exe" && -f "$exe" ]] && targets+=("$(basename "$exe" | sed 's/^fuzz_//')")
    done
fi
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz.sh: no targets built in $dir/tests/fuzz" >&2; exit 1; }

rm -rf "$dir/seeds"
python3 tests/fuzz/seeds.py "$dir/seeds" "${targets[@]}"
mkdir -p "$dir/logs" "$dir/artifacts"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

status=0
for t in "${targets[@]}"; do
    exe="$dir/tests/fuzz/fuzz_$t"
    [[ -x "$exe" ]] || { echo "fuzz.sh: no target '$t' ($exe not built)" >&2; exit 2; }
    corpus="$dir/corpus/$t"
    mkdir -p "$corpus" "$dir/seeds/$t"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$dir/artifacts/$t-")
    [[ -f "tests/fuzz/$t.dict" ]] && args+=(-dict="tests/fuzz/$t.dict")
    log="$dir/logs/$t.log"
    inputs=("$corpus" "$dir/seeds/$t")
    [[ -d "tests/fuzz/regressions/$t" ]] && inputs+=("tests/fuzz/regressions/$t")
    if "$exe" "${args[@]}" "${inputs[@]}" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
        echo "fuzz $t: ok, ${runs:-?} runs in ${seconds} s, ${cov:-no coverage line}, corpus $(ls "$corpus" | wc -l) files"
    else
        status=1
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "fuzz $t: FAILED -- $(grep -m1 -E 'ERROR: |runtime error:|fuzz: ' "$log" || tail -n 1 "$log")" >&2
        tail -n 40 "$log" >&2
        if [[ -n "$repro" ]]; then
            echo "fuzz $t: reproducer: $repro" >&2
            echo "fuzz $t: replay with: $exe $repro" >&2
        fi
        echo "fuzz $t: full log: $log" >&2
    fi
done
exit $status
