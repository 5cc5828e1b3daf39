#!/usr/bin/env bash
# setup.sh -- installs what splitee needs from Debian's archive, once.
#   tools/setup.sh           build, test and plot dependencies, and
#                            PyTorch/NumPy/OpenBLAS for tests/test_export.sh
#                            (tools/export.py's check against PyTorch)
#   tools/setup.sh --train   also Fashion-MNIST, for tools/train.py
#   tools/setup.sh --dataset also the Fashion-MNIST images (IDX files under
#                            /usr/share/datasets/fashion-mnist), for
#                            splitee logits/infer/device on the test set
#   tools/setup.sh --fuzz    also clang and its libFuzzer/sanitizer runtimes
#                            (libclang-rt-14-dev), for tools/fuzz.sh
# Options combine (--train --fuzz).
# Packages already installed are not reinstalled; apt-get runs only when
# something is missing. Needs root (or sudo) for that.
set -euo pipefail

pkgs=(gcc libc6-dev libgsl-dev libcjson-dev libcriterion-dev meson ninja-build
      pkg-config gnuplot-nox zlib1g-dev python3-torch python3-numpy libopenblas0-pthread)
for opt in "$@"; do
    case "$opt" in
        --train) pkgs+=(dataset-fashion-mnist) ;;
        --dataset) pkgs+=(dataset-fashion-mnist) ;;
        --fuzz) pkgs+=(clang libclang-rt-14-dev python3) ;;
        *) echo "setup.sh: unknown option $opt" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
