#!/usr/bin/env bash
# bench.sh -- builds splitee (release) and runs the benchmarks under bench/,
# printing the machine and date first, for docs/PERFORMANCE.md. Run it on
# an otherwise idle machine.
#   tools/bench.sh [replay|engine|live] [bench_replay arguments...]
# With no selector both run: bench_replay (on the shipped table, or the
# table given), then the inference engine -- bench_engine on data/model and
# the PyTorch eager baseline tools/bench_torch.py on the same model and
# inputs (1 and 2 threads). SPLITEE_BENCH_REPS sets the engine repetitions
# (default 2000; PyTorch uses half).
set -euo pipefail
cd "$(dirname "$0")/.."
what=all
case "${1:-}" in
    replay|engine|live) what=$1; shift ;;
esac
tools/setup.sh
tools/build.sh build
reps="${SPLITEE_BENCH_REPS:-2000}"
echo "date: $(date -u +%Y-%m-%d)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) online)"
echo "compiler: $(cc --version | head -n 1)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [[ $what == all || $what == replay ]]; then
    build/bench/bench_replay "$@"
    echo
fi
if [[ $what == all || $what == engine ]]; then
    echo "== C engine (bench/bench_engine.c)"
    build/bench/bench_engine data/model "$reps"
    echo "== PyTorch eager (tools/bench_torch.py)"
    if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        /usr/bin/python3 tools/bench_torch.py --model data/model --threads 1 2 --reps $((reps / 2))
    else
        echo "PyTorch is not installed (tools/setup.sh --train installs it): skipped"
    fi
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
if [[ $what == all || $what == live ]]; then
    # Live split computing on loopback (docs/LIVE.md): cloud throughput with
    # 1/8/64 devices, device latency per split layer, controller overhead.
    echo "== cloud and device (bench/bench_cloud.c)"
    build/bench/bench_cloud
fi
