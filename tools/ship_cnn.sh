#!/usr/bin/env bash
# ship_cnn.sh -- makes everything data/ ships for the multi-exit CNN
# (tools/models/mobilenet_ee.py) from its trained weights:
#   data/cnn/model.json, model.safetensors   tools/export.py (checked against PyTorch)
#   data/cnn/fixture/{inputs,logits}.npy     the first 16 clean test images as
#                                            the model sees them, PyTorch's logits
#   data/cnn-{clean,noise,blur,contrast}.npy the C engine's exit logits of the
#                                            10,000 test images (splitee logits)
#   data/cnn/layer-cost.json                 the default per-layer device cost
#                                            (tools/layer_cost.py, from the MACs)
#   data/cnn/train-summary.json              the trainer's summary, as it wrote it
#
#   tools/ship_cnn.sh WEIGHTS.pt TRAIN-SUMMARY.json [--device-mmacs R]
# R (default 10) is the device's throughput in million MACs per second that
# the default costs assume (data/README.md, docs/SPLIT.md). Needs a build
# (build/), Debian's PyTorch (/usr/bin/python3) and the Fashion-MNIST test
# set (tools/setup.sh --train). Everything is written to a scratch folder
# first and moved into data/ only when every step succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 2 ]]; then
    echo "usage: tools/ship_cnn.sh WEIGHTS.pt TRAIN-SUMMARY.json [--device-mmacs R]" >&2; exit 2
fi
weights="$1" summary="$2"; shift 2
mmacs=10
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device-mmacs) mmacs="$2"; shift 2 ;;
        *) echo "ship_cnn.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
py=/usr/bin/python3
[[ -x build/splitee ]] || tools/build.sh build > /dev/null
tmp=$(mktemp -d data/.ship-cnn.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# 1. the model (the exporter checks it against PyTorch itself)
"$py" tools/export.py --module tools/models/mobilenet_ee.py:make --weights "$weights" \
    --input-shape 1,28,28 --mean 0.2860 --std 0.3530 --out "$tmp/cnn" --splitee build/splitee

# 2. the parity fixture: PyTorch's logits of the first 16 clean test images
mkdir -p "$tmp/cnn/fixture"
"$py" - "$weights" "$tmp/cnn/fixture" <<'PY'
import os, sys
sys.path.insert(0, "tools"); sys.path.insert(0, "tools/models")
import numpy as np, torch
import mobilenet_ee
from train import load_split, normalise
w, out = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
m = mobilenet_ee.make()
m.load_state_dict(torch.load(w, map_location="cpu"))
m.eval()
img, _ = load_split("t10k")
x = normalise(img[:16].astype(np.float64) / 255.0).astype(np.float32)[:, None]
with torch.no_grad():
    z = torch.stack(m(torch.from_numpy(x)), 1).numpy().astype(np.float32)
np.save(os.path.join(out, "inputs.npy"), x)      # (16, 1, 28, 28)
np.save(os.path.join(out, "logits.npy"), z)      # (16, 10, 10)
PY
cp "$summary" "$tmp/cnn/train-summary.json"
build/splitee logits --model "$tmp/cnn" --inputs "$tmp/cnn/fixture/inputs.npy" --normalised \
    --no-progress --out "$tmp/fixture-c.npy"
build/tests/npycmp "$tmp/fixture-c.npy" "$tmp/cnn/fixture/logits.npy" --tol 1e-4

# 3. the four tables, by the C engine
for d in clean noise blur contrast; do
    build/splitee logits --model "$tmp/cnn" --domain "$d" --no-progress --out "$tmp/cnn-$d.npy"
done

# 4. the default device costs from the MACs (machine-independent)
build/splitee profile --model "$tmp/cnn" --runs 1 --warmup 0 --no-progress --out "$tmp/profile.json" > /dev/null
python3 tools/layer_cost.py "$tmp/profile.json" --device-mmacs "$mmacs" --out "$tmp/cnn/layer-cost.json"
sed -i "s|$tmp/cnn|data/cnn|" "$tmp/cnn/layer-cost.json"

# 5. into data/
rm -rf data/cnn
mv "$tmp/cnn" data/cnn
for d in clean noise blur contrast; do mv "$tmp/cnn-$d.npy" "data/cnn-$d.npy"; done
du -sh data/cnn data/cnn-*.npy data
