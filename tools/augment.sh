#!/usr/bin/env bash
# tools/augment.sh -- augment the shipped backbone with exit heads (issue 9).
#
# The backbone is tools/models/mobilenet_ee.py trained with only its final
# classifier (tools/train_cnn.py --final-only): a trained classifier with no
# exits. Its nine early heads in the state_dict are untrained and ignored;
# augment.py takes the ten blocks (`stages`) and the final classifier
# (`exits.9`), trains new small and large heads after blocks 1-9 with the
# backbone frozen, and writes the candidate tables, MACs and augmented models
# (docs/AUGMENT.md). Then it prints the search command.
#
#   tools/augment.sh [--weights W.pt] [--out DIR] [--ship] [augment.py options...]
# Defaults: data/aug/backbone/weights.pt, build/aug; 20,000 training images,
# 5,000 calibration images, 2 epochs, one thread.
# --ship: then refresh data/aug from DIR (the backbone's weights and training
# summary when --weights is another file, both models, the large heads'
# tables, labels, indices, MACs, summary.json) and rerun the search there
# (data/aug/front-large.json, data/aug/variant-large, docs/img/augment-front.png).
# The small heads' tables stay in DIR only (data/ is kept small).
# Needs /usr/bin/python3 with PyTorch, a built splitee (tools/build.sh) and
# the Fashion-MNIST files (tools/setup.sh --dataset).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
weights=data/aug/backbone/weights.pt
out=build/aug
extra=()
ship=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --weights) weights="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --ship) ship=1; shift ;;
        *) extra+=("$1"); shift ;;
    esac
done
cd "$root"   # so that summary.json records repository-relative paths
/usr/bin/python3 tools/augment.py --module tools/models/mobilenet_ee.py:make \
    --weights "$weights" --blocks stages --classifier exits.9 \
    --cal-samples 5000 --train-samples 20000 --epochs 2 --out "$out" "${extra[@]}"
# the final exit's calibration accuracy minus one point: the search's target
target=$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print("%.4f" % (next(iter(s["kinds"].values()))["candidates"][-1]["acc_calibration"] - 0.01))' \
    "$out/summary.json")
kind=large
[[ -e "$out/cal-large.npy" ]] || kind=small
echo "augment.sh: wrote $out; search at no more than 1 point below the final exit with:"
echo "  splitee search --model $out/model-$kind --logits $out/cal-$kind.npy --labels $out/cal-labels.npy \\"
echo "      --test-logits $out/test-$kind.npy --test-labels $out/test-labels.npy --target-accuracy $target \\"
echo "      --json $out/front-$kind.json --plot $out/front-$kind.png --out-model $out/variant-$kind"

[[ $ship -eq 1 ]] || exit 0
splitee="$root/build/splitee"
aug="$root/data/aug"
mkdir -p "$aug/backbone"
if [[ "$(realpath "$weights")" != "$(realpath "$aug/backbone/weights.pt" 2>/dev/null || true)" ]]; then
    cp "$weights" "$aug/backbone/weights.pt"
    summary="$(dirname "$weights")/train-summary.json"
    if [[ -e "$summary" ]]; then cp "$summary" "$aug/backbone/train-summary.json"
    else rm -f "$aug/backbone/train-summary.json"; fi
fi
rm -rf "$aug/model-small" "$aug/model-large" "$aug/variant-large"
cp -r "$out/model-small" "$out/model-large" "$aug/"
for f in cal-large.npy test-large.npy cal-labels.npy test-labels.npy cal-indices.npy \
         macs-small.json head-macs-small.json macs-large.json head-macs-large.json summary.json; do
    cp "$out/$f" "$aug/$f"
done
"$splitee" search --model data/aug/model-large --logits data/aug/cal-large.npy \
    --labels data/aug/cal-labels.npy --test-logits data/aug/test-large.npy \
    --test-labels data/aug/test-labels.npy --target-accuracy "$target" \
    --json data/aug/front-large.json --plot docs/img/augment-front.png \
    --out-model data/aug/variant-large --no-progress
rm -f docs/img/augment-front.svg
echo "augment.sh: data/aug refreshed ($(du -sh "$aug" | cut -f1))"
