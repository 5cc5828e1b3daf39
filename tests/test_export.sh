#!/usr/bin/env bash
# test_export.sh -- tools/export.py (PyTorch -> model format version 2) on the
# networks in tests/fixtures/export: each exported network's C logits against
# PyTorch on every exit (the exporter's own check, and an independent one here
# on raw inputs that the C engine normalises itself), every split point
# (through libsplitee.so, in builds without AddressSanitizer), and the
# refusals, each naming the module and the op and writing nothing.
#   tests/test_export.sh SPLITEE [B_SANITIZE]     (from tests/, as meson runs it)
# Exit 77 (meson: SKIP) when /usr/bin/python3 has no PyTorch or NumPy.
set -uo pipefail
splitee="$1"
sanitize="${2:-none}"
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP: $py cannot import torch and numpy (tools/setup.sh installs python3-torch, python3-numpy)"
    exit 77
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
here="$PWD"
exporter="$here/../tools/export.py"
fx="$here/fixtures/export"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# --- exports that must pass ------------------------------------------------
# name  module:factory  input shape  exits
while read -r name spec shape exits; do
    out="$tmp/$name"
    if ! "$py" "$exporter" --module "$fx/$spec" --input-shape "$shape" --out "$out" \
            --mean 0.25 --std 0.5 --splitee "$splitee" >"$tmp/$name.log" 2>&1; then
        bad "$name: export failed: $(cat "$tmp/$name.log")"
        continue
    fi
    cat "$tmp/$name.log"
    grep -q "checked on 8 inputs: max |C - PyTorch| per exit" "$tmp/$name.log" ||
        bad "$name: no exit check line"
    if [[ "$sanitize" == none ]]; then
        grep -q "split points 0..$exits (libsplitee.so)" "$tmp/$name.log" ||
            bad "$name: split points not checked"
    fi
    # Independent of the exporter's check: raw inputs (the C engine applies
    # model.json's mean/std itself), PyTorch on (x - mean) / std.
    "$py" - "$fx/$spec" "$out" "$shape" "$splitee" "$exits" <<'PY' || bad "$name: raw-input parity"
import os, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.getcwd(), "..", "tools"))
import export, numpy as np, torch
spec, folder, shape, splitee, exits = sys.argv[1:]
model = export.load_module(spec)
shape = tuple(int(v) for v in shape.split(","))
x = torch.rand((16,) + shape, generator=torch.Generator().manual_seed(42))   # in [0, 1]
with torch.no_grad():
    ref = torch.stack(model((x - 0.25) / 0.5), 1).double().numpy()
with tempfile.TemporaryDirectory() as d:
    np.save(os.path.join(d, "x.npy"), x.numpy())
    subprocess.run([splitee, "logits", "--model", folder, "--inputs", os.path.join(d, "x.npy"),
                    "--no-progress", "--out", os.path.join(d, "c.npy")], check=True)
    c = np.load(os.path.join(d, "c.npy")).astype(np.float64)
assert c.shape == ref.shape == (16, int(exits), ref.shape[2]), (c.shape, ref.shape)
diff = np.abs(c - ref).max(axis=(0, 2))
print(f"raw inputs: max |C - PyTorch| per exit {', '.join(f'{v:.3g}' for v in diff)}")
assert diff.max() <= 1e-4 and (c.argmax(-1) == ref.argmax(-1)).all(), diff
PY
done <<'LIST'
tiny_mbv2 tiny_mbv2.py:make 1,28,28 3
ops zoo.py:make_ops 2,20,20 3
tokens zoo.py:make_tokens 6,16 3
siblings zoo.py:make_siblings 1,12,12 3
LIST

# What the exporter wrote for the tiny MobileNetV2: its stage boundaries.
"$py" - "$tmp/tiny_mbv2/model.json" <<'PY' || bad "tiny_mbv2: stages"
import json, sys
cfg = json.load(open(sys.argv[1]))
got = [(s["name"], len(s["ops"]), [o["op"] for o in s["exit"]]) for s in cfg["stages"]]
want = [("stem+stage1", 21, ["global_avgpool", "linear"]),
        ("stage2", 17, ["global_avgpool", "linear"]),
        ("stage3", 18, ["global_avgpool", "linear"])]
assert got == want, got
assert cfg["input"] == {"shape": [1, 28, 28], "mean": 0.25, "std": 0.5}, cfg["input"]
assert sum(o["op"] == "add" for s in cfg["stages"] for o in s["ops"]) == 4   # the four stride-1 blocks
PY
# The other stage-boundary rules: splitee_exit_heads (ops), the sibling rule
# (siblings: the last head is exits.2, a conv first), the mirror rule (tokens).
"$py" - "$tmp" <<'PY' || bad "stage boundaries"
import json, sys
def heads(name):
    cfg = json.load(open(f"{sys.argv[1]}/{name}/model.json"))
    return [[o["op"] for o in s["exit"]] for s in cfg["stages"]], cfg["metadata"]["split_points"]
h, sp = heads("siblings")
assert h[2] == ["conv2d", "batchnorm", "relu6", "global_avgpool", "linear"], h
assert sp == ["stages_0_2", "stages_1_2", "stages_2_1"], sp
h, sp = heads("ops")
assert h[2][0] == "conv2d" and sp == ["pool1", "pool2", "drop"], (h, sp)
h, sp = heads("tokens")
assert h == [["layernorm", "token_mean", "linear"]] * 3 and sp == ["add_1", "add_2", "add_3"], h
PY

# --- tools/parity.py --module on the test set (when it is installed) ------
if [[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]]; then
    lib="$(dirname "$splitee")/libsplitee.so"
    [[ "$sanitize" == none ]] || lib=none   # ctypes cannot load an ASan library
    "$py" "$here/../tools/parity.py" --module "$fx/tiny_mbv2.py:make" --model "$tmp/tiny_mbv2" \
        --limit 200 --domain clean,noise,blur,contrast --splitee "$splitee" --lib "$lib" \
        >"$tmp/parity.log" 2>&1 || bad "parity.py --module: $(tail -n 3 "$tmp/parity.log")"
    grep -q "^PASS: max |C - PyTorch| over all domains" "$tmp/parity.log" ||
        bad "parity.py --module: no PASS line"
    grep "^PASS" "$tmp/parity.log"
else
    echo "parity.py --module: not run (no Fashion-MNIST test set; tools/setup.sh --dataset)"
fi

# --- a failing check writes nothing ----------------------------------------
"$py" "$exporter" --module "$fx/tiny_mbv2.py:make" --input-shape 1,28,28 --out "$tmp/strict" \
    --tol 1e-12 --splitee "$splitee" >"$tmp/strict.log" 2>&1
rc=$?
[[ $rc -eq 1 ]] || bad "--tol 1e-12: exit $rc, expected 1"
grep -q "check failed, nothing written" "$tmp/strict.log" || bad "--tol 1e-12: $(cat "$tmp/strict.log")"
[[ ! -e "$tmp/strict" ]] || bad "--tol 1e-12 wrote $tmp/strict"
[[ -z "$(ls -A "$tmp" | grep '^\.export-')" ]] || bad "a temporary folder was left behind"

# --no-check needs no splitee binary
"$py" "$exporter" --module "$fx/tiny_mbv2.py:make" --input-shape 1,28,28 --out "$tmp/nocheck" \
    --no-check --splitee /nonexistent >/dev/null 2>&1 && [[ -f "$tmp/nocheck/model.json" ]] ||
    bad "--no-check"
cmp -s "$tmp/nocheck/model.safetensors" "$tmp/tiny_mbv2/model.safetensors" ||
    bad "--no-check wrote other weights"

# --- refusals: exit 2, one line naming the module and the op, nothing written
while IFS='|' read -r spec shape want; do
    out="$tmp/refused"
    msg=$("$py" "$exporter" --module "$fx/$spec" --input-shape "$shape" --out "$out" \
          --splitee "$splitee" 2>&1)
    rc=$?
    echo "$spec: $msg"
    [[ $rc -eq 2 ]] || bad "$spec: exit $rc, expected 2"
    # shellcheck disable=SC2053  # $want may hold a * (a path)
    [[ "$msg" == $want ]] || bad "$spec: got '$msg', expected '$want'"
    [[ ! -e "$out" ]] || bad "$spec: wrote $out"
done <<'LIST'
refused.py:make_gated|3,8,8|export.py: module 'blocks.1': torch.sigmoid: no splitee op for this function
refused.py:make_lstm|6,8|export.py: module 'rnn': nn.LSTM: no splitee op for this module
refused.py:make_tensor|3,8,8|export.py: forward must return the exits' logits as a list or tuple of tensors (shallowest first), got Node
refused.py:make_inplace|3,8,8|export.py: module 'stages.0': Tensor.add_: an in-place method: write the out-of-place form (x = x.add(...))
refused.py:make_cross|3,8,8|export.py: stage 2: the top-level forward: operator.add (node add) reads x, from before split point 1 (relu): a residual cannot cross a split point
refused.py:make_nothing|3,8,8|export.py: --module */refused.py: no factory 'make_nothing'
tiny_mbv2.py:make|1,28|export.py: the module does not run on the example input (1, 1, 28) at module 'stem.1': expected 4D input (got 3D input)
LIST

[[ $fail -eq 0 ]] && echo "export: all checks passed"
exit $fail
