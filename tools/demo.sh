#!/usr/bin/env bash
# demo.sh -- the main job: installs what is missing, builds, and replays the
# shipped Fashion-MNIST exit-logit table through SplitEE, SplitEE-S and the
# baselines (20 shuffled repetitions), printing the table and writing the
# regret plot (results/fmnist-regret.svg and .png) and the JSON/CSV reports.
# Extra arguments go to `splitee replay`, e.g. `tools/demo.sh --domain noise`.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
mkdir -p results
build/splitee replay --plot results/fmnist --json results/fmnist.json \
    --csv results/fmnist.csv --curves results/fmnist-curves.csv "$@"
echo "wrote results/fmnist-regret.svg, results/fmnist-regret.png, results/fmnist.json," \
     "results/fmnist.csv, results/fmnist-curves.csv" >&2
