#!/usr/bin/env bash
# split_bench.sh -- the benchmark where the split decision matters
# (docs/SPLIT.md): the best fixed split layer of a shipped table, as
# `splitee replay --policy oracle` prints it ("best fixed layer N (mean
# reward R)"), over
#   1. the offloading cost o = 0.10, 0.15, ..., 0.60 (default costs),
#   2. the shipped LTE, Wi-Fi and 3G link profiles (--link: o from each
#      split point's payload bytes),
#   3. the four domains at o = 0.3,
# for the CNN's tables (cnn-*) and, for comparison, the ViT's.
#
#   tools/split_bench.sh [--splitee BIN] [--model cnn|vit|both] [extra replay options]
#
# BIN defaults to build/splitee. The oracle's best fixed layer is computed
# from the whole table, so it does not depend on --reps or the sample order;
# every line is the same on every machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/splitee which=cnn
while [[ $# -gt 0 ]]; do
    case "$1" in
        --splitee) bin="$2"; shift 2 ;;
        --model) which="$2"; shift 2 ;;
        *) break ;;
    esac
done
best() {   # best fixed layer and mean reward of each setting, one per line
    "$bin" replay --policy oracle --reps 1 --no-progress "$@" 2> /dev/null |
        sed -n 's/^best fixed layer \([0-9]*\) (mean reward \([-0-9.]*\)).*/\1 \2/p'
}
run() {   # run PREFIX LABEL: the three tables for tables PREFIXclean etc.
    local p="$1" label="$2"; shift 2
    echo "== $label"
    echo "-- ${p}clean over o (alpha 0.8, mu 1, the default device costs of --list-tables)"
    local o=(0.10 0.15 0.20 0.25 0.30 0.35 0.40 0.45 0.50 0.55 0.60) i=0
    while read -r l r; do printf 'o %s  best fixed layer %2s  (mean reward %s)\n' "${o[$i]}" "$l" "$r"; i=$((i + 1)); done \
        < <(best --table "${p}clean" --offload 0.1:0.6:0.05 "$@")
    echo "-- ${p}clean with --link (o from each split point's payload, f32)"
    for l in lte wifi 3g; do
        read -r b r < <(best --table "${p}clean" --link "$l" "$@")
        printf '%-5s best fixed layer %2s  (mean reward %s)\n' "$l" "$b" "$r"
    done
    echo "-- the four domains at o = 0.3"
    for d in clean noise blur contrast; do
        read -r b r < <(best --table "$p$d" --offload 0.3 "$@")
        printf '%-13s best fixed layer %2s  (mean reward %s)\n' "$p$d" "$b" "$r"
    done
}
case "$which" in
    cnn) run cnn- "CNN (data/cnn, 10 exits)" "$@" ;;
    vit) run "" "ViT (data/model, 12 exits)" "$@" ;;
    both) run cnn- "CNN (data/cnn, 10 exits)" "$@"; run "" "ViT (data/model, 12 exits)" "$@" ;;
    *) echo "split_bench.sh: --model cnn, vit or both" >&2; exit 2 ;;
esac
