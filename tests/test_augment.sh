#!/usr/bin/env bash
# test_augment.sh -- tools/augment.py (post-training exit augmentation) on the
# tiny backbone of tests/fixtures/augment/tiny.py and a handful of seeded
# random images: the tables' shapes, the MACs against hand-counted values and
# against `splitee profile` of the exported models, the C engine's logits on
# raw images against the PyTorch tables, the final column against the
# backbone's own forward, determinism, and the refusals (one line, exit 2,
# nothing written).
#   tests/test_augment.sh SPLITEE     (from tests/, as meson runs it)
# Exit 77 (meson: SKIP) when /usr/bin/python3 has no PyTorch or NumPy.
set -uo pipefail
splitee="$1"
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP: $py cannot import torch and numpy (tools/setup.sh installs python3-torch, python3-numpy)"
    exit 77
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
here="$PWD"
aug="$here/../tools/augment.py"
fx="$here/fixtures/augment"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# 96 training and 24 test images, uint8 28x28, seeded
"$py" - "$tmp/data.npz" <<'PY'
import sys, numpy as np
g = np.random.default_rng(3)
np.savez(sys.argv[1], train_x=g.integers(0, 256, (96, 28, 28), dtype=np.uint8),
         train_y=g.integers(0, 10, 96), test_x=g.integers(0, 256, (24, 28, 28), dtype=np.uint8),
         test_y=g.integers(0, 10, 24))
PY
common=(--module "$fx/tiny.py:make" --data "$tmp/data.npz" --mean 0.25 --std 0.5
        --epochs 2 --batch 16 --splitee "$splitee")

if ! "$py" "$aug" "${common[@]}" --cal-samples 16 --train-samples 48 --test-samples 20 \
        --out "$tmp/out" >"$tmp/run.log" 2>&1; then
    cat "$tmp/run.log"
    echo "FAIL: augment.py on the tiny backbone"
    exit 1
fi
cat "$tmp/run.log"
for k in small large; do
    grep -q "augment.py: $k: MACs equal splitee profile's" "$tmp/run.log" || bad "$k: no MAC check line"
done

# Shapes, hand-counted MACs, profile MACs, C on raw images, the final column.
"$py" - "$tmp/out" "$splitee" "$fx/tiny.py" "$tmp/data.npz" <<'PY' || bad "tables, MACs or C parity"
import json, os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.getcwd(), "..", "tools"))
import export, numpy as np, torch
out, splitee, fixture, data = sys.argv[1:]
z = np.load(data)
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("FAIL:", what)
        ok = False
perm = np.random.default_rng(1234).permutation(96)
yc, yt = np.load(f"{out}/cal-labels.npy"), np.load(f"{out}/test-labels.npy")
check(yc.shape == (16,) and (yc == z["train_y"][perm[:16]]).all(), f"cal labels {yc.shape}")
check((np.load(f"{out}/cal-indices.npy") == perm[:16]).all(), "cal indices")
check(yt.shape == (20,) and (yt == z["test_y"][:20]).all(), f"test labels {yt.shape}")
# Hand count (tiny.py): stem conv 1->8 k3 s2 on 28x28 -> 14x14: 8*196*9 = 14112;
# residual 8->16->16(dw)->8 at 14x14: 25088 + 28224 + 25088 = 78400; dw 8 k3 s2 ->
# 7x7: 3528, pw 8->12: 4704 (8232); classifier pw 12->24 at 7x7: 14112 + linear 240.
# small heads: linear 8*10 = 80 each; large: pw 8->16 at 14x14 (25088) + linear 160.
hand = {"small": ([14192, 92592, 115096], [80, 80, 14352]),
        "large": ([39360, 117760, 115096], [25248, 25248, 14352])}
model = export.load_module(fixture + ":make")
x = z["test_x"][:20].astype(np.float32)[:, None] / np.float32(255)
with torch.no_grad():
    backbone = model(torch.from_numpy((x - np.float32(0.25)) / np.float32(0.5))).numpy()
np.save(os.path.join(out, "raw.npy"), x)
for kind, (macs, head) in hand.items():
    for split, n in (("cal", 16), ("test", 20)):
        t = np.load(f"{out}/{split}-{kind}.npy")
        check(t.shape == (n, 3, 10) and t.dtype == np.float32, f"{split}-{kind} {t.shape} {t.dtype}")
    m = json.load(open(f"{out}/macs-{kind}.json"))
    h = json.load(open(f"{out}/head-macs-{kind}.json"))
    check(m == macs and h == head, f"{kind} MACs {m} {h}, hand count {macs} {head}")
    r = subprocess.run([splitee, "profile", "--model", f"{out}/model-{kind}", "--runs", "1",
                        "--warmup", "0", "--no-progress"], capture_output=True, text=True, check=True)
    rows = [l.split() for l in r.stdout.splitlines() if re.match(r"layer\s+\d", l)]
    stage = np.cumsum([int(f[-2]) for f in rows])
    prof = [int(stage[k]) + int(f[-1]) for k, f in enumerate(rows)]
    check(prof == m, f"{kind}: splitee profile's cumulative MACs {prof}, augment.py's {m}")
    c_out = os.path.join(out, f"c-{kind}.npy")
    subprocess.run([splitee, "logits", "--model", f"{out}/model-{kind}", "--inputs",
                    os.path.join(out, "raw.npy"), "--no-progress", "--out", c_out], check=True)
    c, t = np.load(c_out), np.load(f"{out}/test-{kind}.npy")
    d = float(np.abs(c.astype(np.float64) - t).max())
    check(c.shape == t.shape and d <= 1e-4, f"{kind}: C on raw images {c.shape}, max |diff| {d}")
    print(f"{kind}: C engine on raw test images vs the PyTorch table: max |diff| {d:.3g}")
    dfin = float(np.abs(t[:, -1] - backbone).max())
    check(dfin <= 1e-5, f"{kind}: final column vs the backbone's forward: {dfin}")
s = json.load(open(f"{out}/summary.json"))
check(s["splits"] == {**s["splits"], "train": 48, "calibration": 16, "test": 20}, "summary splits")
check(len(s["kinds"]["small"]["candidates"]) == 3, "summary candidates")
sys.exit(0 if ok else 1)
PY

# Deterministic, and a kind's heads do not depend on the other kind being trained.
if "$py" "$aug" "${common[@]}" --cal-samples 16 --train-samples 48 --test-samples 20 \
        --heads small --out "$tmp/again" >"$tmp/again.log" 2>&1; then
    cmp -s "$tmp/out/cal-small.npy" "$tmp/again/cal-small.npy" ||
        bad "--heads small gives other small-head logits than small,large"
    [[ ! -e "$tmp/again/cal-large.npy" ]] || bad "--heads small wrote large tables"
else
    bad "--heads small run: $(tail -1 "$tmp/again.log")"
fi

# --- refusals: one line on stderr, exit 2, nothing written ----------------
refuse() {   # expected-message args...
    local want="$1"; shift
    rm -rf "$tmp/bad"
    "$py" "$aug" --data "$tmp/data.npz" --splitee "$splitee" --out "$tmp/bad" --cal-samples 16 "$@" \
        >"$tmp/bad.out" 2>"$tmp/bad.err"
    local rc=$?
    if [[ $rc -ne 2 ]]; then bad "$* : exit $rc, expected 2"; fi
    if [[ $(wc -l <"$tmp/bad.err") -ne 1 ]]; then bad "$* : stderr not one line: $(cat "$tmp/bad.err")"; fi
    if [[ "$(cat "$tmp/bad.err")" != "$want" ]]; then
        bad "$* : got '$(cat "$tmp/bad.err")', expected '$want'"
    fi
    if [[ -e "$tmp/bad" ]]; then bad "$* : wrote $tmp/bad"; fi
    if ls -a "$tmp" | grep -q '^\.augment-'; then bad "$* : left a temporary folder"; fi
}
refuse "augment.py: --blocks blocks: Conv2d is not an nn.ModuleList or nn.Sequential of blocks" \
    --module "$fx/tiny.py:make_flat"
refuse "augment.py: --blocks blocks: 1 block(s); at least 2 are needed (exits go after every block but the last)" \
    --module "$fx/tiny.py:make_one_block"
refuse "augment.py: --blocks blocks: block 0 returns (1, 784), not an (N, C, H, W) tensor (heads are convolutional)" \
    --module "$fx/tiny.py:make_vector"
refuse "augment.py: --blocks stages: the module has no attribute 'stages'" \
    --module "$fx/tiny.py:make" --blocks stages
refuse "augment.py: --classifier exits.9: the module has no attribute 'exits'" \
    --module "$fx/tiny.py:make" --classifier exits.9
refuse "augment.py: --cal-samples 90 + --train-samples 10 exceed the 96 training images" \
    --module "$fx/tiny.py:make" --cal-samples 90 --train-samples 10
refuse "augment.py: --cal-samples 96: the training set has 96 images, and the training split needs at least 1" \
    --module "$fx/tiny.py:make" --cal-samples 96
refuse "augment.py: --cal-samples must be at least 1" \
    --module "$fx/tiny.py:make" --cal-samples 0
refuse "augment.py: --test-samples 25: the test set has 24 images" \
    --module "$fx/tiny.py:make" --test-samples 25
refuse "augment.py: argument --cal-samples: --cal-samples: -3 is negative" \
    --module "$fx/tiny.py:make" --cal-samples -3
refuse "augment.py: --heads medium: expected small, large or small,large" \
    --module "$fx/tiny.py:make" --heads medium
refuse "augment.py: --module $fx/tiny.py: no factory 'nothing'" \
    --module "$fx/tiny.py:nothing"
touch "$tmp/afile"
rm -rf "$tmp/bad"
"$py" "$aug" --data "$tmp/data.npz" --splitee "$splitee" --module "$fx/tiny.py:make" \
    --cal-samples 16 --out "$tmp/afile" >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
[[ $rc -eq 2 && "$(cat "$tmp/bad.err")" == "augment.py: --out $tmp/afile: exists and is not a folder" ]] ||
    bad "--out a file: exit $rc: $(cat "$tmp/bad.err")"

if [[ $fail -ne 0 ]]; then exit 1; fi
echo "augment: all checks passed"
