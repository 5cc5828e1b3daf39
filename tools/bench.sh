#!/usr/bin/env bash
# bench.sh -- builds splitee (release) and runs the benchmarks under bench/
# on the shipped table, printing the machine and date first, for
# docs/PERFORMANCE.md. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
echo "date: $(date -u +%Y-%m-%d)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) online)"
echo "compiler: $(cc --version | head -n 1)"
echo
build/bench/bench_replay "$@"
echo
# Live split computing on loopback (docs/LIVE.md): cloud throughput with
# 1/8/64 devices, device latency per split layer, controller overhead.
build/bench/bench_cloud
