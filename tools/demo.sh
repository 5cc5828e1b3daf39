#!/usr/bin/env bash
# demo.sh -- the main job: installs what is missing, builds, and
#   1. replays the shipped ViT's Fashion-MNIST exit-logit table through
#      SplitEE, SplitEE-S and the baselines (20 shuffled repetitions),
#      printing the table and writing the regret plot
#      (results/fmnist-regret.svg and .png) and the JSON/CSV reports;
#   2. sweeps the offloading cost o = 0.1 ... 0.6 on the shipped CNN's clean
#      table (its default per-layer device costs, data/README.md), where the
#      best split layer moves with o, printing one line per o (the best fixed
#      layer and the layer SplitEE-S learned) and writing the sweep figure
#      (results/cnn-sweep-sweep.svg and .png: accuracy against cost, one
#      point per o), the regret figure at o = 0.3 and results/cnn-sweep.csv.
# Extra arguments go to the first replay, e.g. `tools/demo.sh --domain noise`;
# --reps N, --threads N, --progress and --no-progress go to both.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh build
mkdir -p results
build/splitee replay --plot results/fmnist --json results/fmnist.json \
    --csv results/fmnist.csv --curves results/fmnist-curves.csv "$@"
echo "wrote results/fmnist-regret.svg, results/fmnist-regret.png, results/fmnist.json," \
     "results/fmnist.csv, results/fmnist-curves.csv" >&2

both=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps|--threads) both+=("$1" "$2"); shift 2 ;;
        --reps=*|--threads=*|--progress|--no-progress) both+=("$1"); shift ;;
        *) shift ;;
    esac
done
build/splitee replay --table cnn-clean --offload 0.1:0.6:0.05 --policy splitee,splitee-s,oracle,final \
    --plot results/cnn-sweep --plot-setting 5 --csv results/cnn-sweep.csv --quiet "${both[@]}" 2> /dev/null
echo
echo "the CNN's clean table (tools/models/mobilenet_ee.py, data/cnn), its default device costs:"
echo "   o   best fixed layer   SplitEE-S learned   (results/cnn-sweep.csv)"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
         $col["policy"] == "oracle" { o = $col["offload"]; best[o] = $col["learned_layer"]; order[++n] = o }
         $col["policy"] == "splitee-s" { learned[$col["offload"]] = $col["learned_layer"] " (" $col["learned_share_pct"] "% of repetitions)" }
         END { for (i = 1; i <= n; i++) printf "%5s   %16s   %s\n", order[i], best[order[i]], learned[order[i]] }' \
    results/cnn-sweep.csv
echo "wrote results/cnn-sweep-sweep.svg, results/cnn-sweep-sweep.png, results/cnn-sweep-regret-o0.3.png," \
     "results/cnn-sweep.csv" >&2
