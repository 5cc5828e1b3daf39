#!/usr/bin/env bash
# setup_bench_peers.sh -- installs the benchmark's peer runtimes that are not
# Debian packages: the npm package onnxruntime-node (ONNX Runtime's CPU
# library ships inside the package; --ignore-scripts skips its install
# script, so nothing else is downloaded) into build/peers/node_modules
# (gitignored). PyTorch is Debian's python3-torch (tools/setup.sh --train).
#   tools/setup_bench_peers.sh        # idempotent; prints the version
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/peers
ver="${ONNXRUNTIME_NODE_VERSION:-1.30.0}"
command -v npm >/dev/null || { echo "setup_bench_peers: npm not found (apt-get install npm)" >&2; exit 2; }
mkdir -p "$dir"
if [[ ! -f $dir/node_modules/onnxruntime-node/package.json ]] ||
   [[ $(node -p "require('./$dir/node_modules/onnxruntime-node/package.json').version") != "$ver" ]]; then
    [[ -f $dir/package.json ]] || echo '{"name":"splitee-bench-peers","private":true}' > "$dir/package.json"
    npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ver" >&2
fi
echo "onnxruntime-node $(node -p "require('./$dir/node_modules/onnxruntime-node/package.json').version") in $dir/node_modules"
