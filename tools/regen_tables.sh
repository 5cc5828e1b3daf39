#!/usr/bin/env bash
# regen_tables.sh -- regenerates the shipped exit-logit tables with the C
# inference engine (`splitee logits`) from the Fashion-MNIST test set, and
# compares each with the shipped one: largest logit difference, argmax
# agreement over every exit, and the final-exit accuracy of both. The ViT's
# (data/fmnist-{clean,noise,blur,contrast}.npy) were made by PyTorch in
# tools/train.py, so this is C against PyTorch; the CNN's
# (data/cnn-{clean,noise,blur,contrast}.npy) were made by this engine in
# tools/ship_cnn.sh, so this shows they are reproducible (tools/parity.py
# holds the CNN to PyTorch). Never touches data/.
#
#   tools/regen_tables.sh [--out DIR] [--threads N] [--limit N] [--tol T]
#
# DIR (default: a temporary folder, removed afterwards) receives the C
# tables fmnist-DOMAIN.npy and cnn-DOMAIN.npy. Exits 1 when a domain's max |diff| exceeds T
# (default 1e-4), 2 when something could not run. Needs a build (build/)
# and /usr/share/datasets/fashion-mnist (tools/setup.sh --train).
set -euo pipefail
cd "$(dirname "$0")/.."
out="" threads=0 limit="" tol=1e-4
while [[ $# -gt 0 ]]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --limit) limit="$2"; shift 2 ;;
        --tol) tol="$2"; shift 2 ;;
        *) echo "usage: tools/regen_tables.sh [--out DIR] [--threads N] [--limit N] [--tol T]" >&2; exit 2 ;;
    esac
done
data=/usr/share/datasets/fashion-mnist
if [[ ! -r $data/t10k-images-idx3-ubyte.gz ]]; then
    echo "regen_tables.sh: $data/t10k-images-idx3-ubyte.gz missing (tools/setup.sh --train)" >&2; exit 2
fi
[[ -x build/splitee && -x build/tests/npycmp ]] || tools/build.sh build > /dev/null
if [[ -z "$out" ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
lim=()
[[ -n "$limit" ]] && lim=(--limit "$limit")

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) online)"
echo "A = C engine (splitee logits), B = shipped table (ViT: PyTorch's, CNN: the C engine's); tolerance $tol"
status=0
for t in fmnist-clean fmnist-noise fmnist-blur fmnist-contrast cnn-clean cnn-noise cnn-blur cnn-contrast; do
    d=${t#*-} model=data/model
    [[ $t == cnn-* ]] && model=data/cnn
    start=$(date +%s%N)
    build/splitee logits --model $model --images $data/t10k-images-idx3-ubyte.gz \
        --labels $data/t10k-labels-idx1-ubyte.gz --domain "$d" --threads "$threads" \
        "${lim[@]}" --no-progress --out "$out/$t.npy" || exit 2
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    ref="data/$t.npy" labels=data/fmnist-test-labels.npy
    if [[ -n "$limit" ]]; then   # compare against the first rows of the shipped table
        /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[:int(sys.argv[4])]); np.save(sys.argv[3], np.load('$labels')[:int(sys.argv[4])])" \
            "$ref" "$out/ref-$t.npy" "$out/labels-$t.npy" "$limit"
        ref="$out/ref-$t.npy" labels="$out/labels-$t.npy"
    fi
    echo
    printf '%s (%d.%01d s): ' "$t" $((ms / 1000)) $((ms % 1000 / 100))
    build/tests/npycmp "$out/$t.npy" "$ref" --labels "$labels" --tol "$tol" || status=1
done
exit $status
