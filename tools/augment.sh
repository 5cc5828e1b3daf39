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
#   tools/augment.sh [--weights W.pt] [--out DIR] [augment.py options...]
# Defaults: data/aug/backbone/weights.pt, build/aug; 20,000 training images,
# 5,000 calibration images, 2 epochs, one thread.
# Needs /usr/bin/python3 with PyTorch, a built splitee (tools/build.sh) and
# the Fashion-MNIST files (tools/setup.sh --dataset).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
weights=data/aug/backbone/weights.pt
out=build/aug
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --weights) weights="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
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
