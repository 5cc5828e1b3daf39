#!/usr/bin/env bash
# scenario.sh -- named replays of a changing world, each written to
# results/scenario-NAME.{json,csv,svg,png} (+ -curves.csv) with static and
# dynamic regret curves (docs/ADAPTIVE.md explains both):
#
#   tools/scenario.sh domain-shift [--sweep] [extra splitee replay options]
#       clean Fashion-MNIST, then Gaussian noise from the middle of the
#       stream on; --sweep also replays a small grid of windows W and
#       discounts gamma into results/scenario-domain-shift-sweep.csv
#   tools/scenario.sh link-degrades [extra splitee replay options]
#       clean Fashion-MNIST priced on data/links/degrading.json: LTE at
#       5.85 Mbit/s until 500 s, then 0.02 Mbit/s (a sample every 100 ms,
#       so the link collapses at round 5000)
#   tools/scenario.sh list
#
# A scenario is one function `scenario_NAME` that sets ARGS (the options of
# `splitee replay`) and may define `sweep_NAME`; adding one takes a few
# lines.
# Extra arguments after the name go to `splitee replay` and override.
set -euo pipefail
cd "$(dirname "$0")/.."

# Policies every scenario compares: the static learners, the four that
# forget (with and without side observations), Thompson sampling and the
# static oracle (best fixed layer).
POLICIES=splitee,splitee-s,sw-ucb,d-ucb,sw-ucb-s,d-ucb-s,thompson,oracle

# Settings under which the shift changes the best layer: with lambda 0.02
# and o 0.5, layer 3 is best on clean images (its exits are confident) and
# the whole model (layer 12) on noisy ones (early exits rarely reach alpha,
# offloading costs 0.5). beta 1 as published (docs/ADAPTIVE.md also shows
# beta 0.2: `tools/scenario.sh domain-shift --beta 0.2`). W 1000, gamma
# 0.999: a memory of about 1000 rounds (the defaults; see the sweep).
scenario_domain_shift() {
    ARGS=(--domain clean --shift 50%:noise --lambda 0.02 --offload 0.5 --alpha 0.8
          --beta 1 --window 1000 --discount 0.999 --policy "$POLICIES" --reps 20)
}

# The link collapses mid-stream: o after layer 1 goes from 0.27 to 1.14
# (docs/LINKS.md). With lambda 0.02 offloading after layer 1-3 is best while
# the link is up and running all 12 layers on the device once it is down,
# so the best fixed layer over the stream (12) is beaten by any policy that
# follows the change: negative regret against it. Regret here is static
# (against the best fixed layer under the same time-varying o).
scenario_link_degrades() {
    ARGS=(--domain clean --link data/links/degrading.json --arrival-ms 100 --lambda 0.02
          --alpha 0.8 --beta 1 --window 1000 --discount 0.999 --policy "$POLICIES" --reps 20)
}

# The grid behind the choice of W and gamma (one row per policy and value).
sweep_domain_shift() {
    local out=$1 tmp
    tmp=$(mktemp)
    echo "policy,window,discount,pseudo_regret,dynamic_pseudo_regret,dynamic_pseudo_regret_lo,dynamic_pseudo_regret_hi" > "$out.tmp"
    for w in 250 500 1000 2000 4000; do
        build/splitee replay "${ARGS[@]}" --policy sw-ucb,sw-ucb-s --window "$w" --csv "$tmp" --quiet --no-progress
        tail -n +2 "$tmp" | awk -F, -v w="$w" '{ print $6 "," w ",," $25 "," $33 "," $34 "," $35 }' >> "$out.tmp"
    done
    for g in 0.996 0.998 0.999 0.9995 0.9998; do
        build/splitee replay "${ARGS[@]}" --policy d-ucb,d-ucb-s --discount "$g" --csv "$tmp" --quiet --no-progress
        tail -n +2 "$tmp" | awk -F, -v g="$g" '{ print $6 ",," g "," $25 "," $33 "," $34 "," $35 }' >> "$out.tmp"
    done
    rm -f "$tmp"
    mv "$out.tmp" "$out"
    column -s, -t < "$out"
}

name="${1:-}"
shift || true
case "$name" in
    list) declare -F | awk '$3 ~ /^scenario_/ { sub("scenario_", "", $3); gsub("_", "-", $3); print $3 }'; exit 0 ;;
    ""|-h|--help) sed -n '2,21p' "$0"; exit 2 ;;
esac
fn="scenario_${name//-/_}"
if ! declare -F "$fn" > /dev/null; then
    echo "scenario.sh: unknown scenario '$name' (tools/scenario.sh list)" >&2
    exit 2
fi
sweep=0
if [[ "${1:-}" == "--sweep" ]]; then
    sweep=1
    shift
fi
tools/setup.sh
tools/build.sh build
mkdir -p results
"$fn"
ARGS+=("$@")
out="results/scenario-$name"
echo "splitee replay ${ARGS[*]}"
build/splitee replay "${ARGS[@]}" --no-progress --json "$out.json" --csv "$out.csv" \
    --curves "$out-curves.csv" --plot "$out"
mv "$out-regret.svg" "$out.svg"
mv "$out-regret.png" "$out.png"
echo "wrote $out.json, $out.csv, $out-curves.csv, $out.svg, $out.png" >&2
if [[ $sweep -eq 1 ]]; then
    sweep_fn="sweep_${name//-/_}"
    if declare -F "$sweep_fn" > /dev/null; then
        "$sweep_fn" "$out-sweep.csv"
        echo "wrote $out-sweep.csv" >&2
    fi
fi
