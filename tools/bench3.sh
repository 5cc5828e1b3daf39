#!/usr/bin/env bash
# bench3.sh -- the three-way inference benchmark (issue 11, docs/PERFORMANCE.md
# "Three-way"): splitee's C engine (bench/bench3_engine.c), PyTorch eager
# (tools/bench_torch.py --bench3, Debian's python3-torch) and ONNX Runtime
# (tools/bench_onnx.js, npm onnxruntime-node; the ONNX files are exported
# from the same PyTorch modules with torch.onnx) on both shipped models
# (ViT data/model, CNN data/cnn), batch 1 and 64, 1 and 2 threads, the same
# 64 inputs (the parity fixture, tiled). Checks in the same run that the
# three give the same logits of every exit for the batch, and prints one
# table (batch 64: the median and, beside it, the best batch, as a sign of
# how much a shared machine disturbed the 10-150 ms batches). Not a test:
# run it by hand on an idle machine.
#   tools/bench3.sh [REPS]        # batch-1 repetitions (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-1000}"
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "bench3.sh: REPS must be a positive integer, not '$reps'" >&2; exit 2; }
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null ||
    { echo "bench3.sh: /usr/bin/python3 has no torch/numpy (tools/setup.sh --train)" >&2; exit 2; }
tools/setup_bench_peers.sh >/dev/null
tools/build.sh build >/dev/null
work=build/peers/bench3
rm -rf "$work"
mkdir -p "$work"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ($(nproc) online," \
     "$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -n 1) MHz nominal," \
     "avx512f: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no))"
echo "peers: $(/usr/bin/python3 -c 'import torch; print("torch", torch.__version__)'), $(tools/setup_bench_peers.sh)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in vit cnn; do
    dir=data/model; [[ $m == cnn ]] && dir=data/cnn
    w=$work/$m
    # torch.onnx's tracer warnings go to a log, shown only if the step fails
    if ! /usr/bin/python3 tools/bench_torch.py --bench3 "$w" --model "$dir" --threads 1 2 \
        --reps "$((reps / 2))" > "$work/$m-torch.out" 2> "$work/$m-torch.err"; then
        cat "$work/$m-torch.err" >&2
        echo "bench3.sh: tools/bench_torch.py --bench3 failed on $dir" >&2
        exit 2
    fi
    sed "s/^RESULT/RESULT $m/" "$work/$m-torch.out" >> "$work/results"
    for t in 1 2; do
        node tools/bench_onnx.js "$w" "$t" "$reps" | sed "s/^RESULT/RESULT $m/" >> "$work/results"
        build/bench/bench3_engine "$dir" "$w/inputs.f32" "$t" "$reps" "$w/splitee-$t.f32" |
            sed "s/^RESULT/RESULT $m/" >> "$work/results"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -v '^RESULT' "$work/results" || true
/usr/bin/python3 - "$work" <<'PY'
import json, os, sys
import numpy as np
work = sys.argv[1]
res = {}
peak = None
for line in open(os.path.join(work, "results")):
    f = line.split()
    if not f or f[0] != "RESULT":
        continue
    m, eng, t, b1, b64, bmin = f[1], f[2], int(f[3]), float(f[4]), float(f[5]), float(f[6])
    res[m, eng, t] = (b1, b64)
    res[m, eng, t, "min"] = bmin
    if eng == "splitee":
        res[m, "mflop"] = float(f[7])
        peak, kern = float(f[8]), f[9]
print(f"FLOPs: 2 x MACs of every stage and exit (splitee_model_stage_macs/_exit_macs): "
      f"ViT {res['vit', 'mflop']:.2f}, CNN {res['cnn', 'mflop']:.2f} MFLOP per image")
print(f"peak: measured AVX-512 FMA (12 chains of 16-lane FMAs), one core: {peak:.1f} GFLOP/s;"
      f" splitee kernels: {kern}")
ok = True
print("\n| model | threads | runtime | batch 1 median | batch 1 images/s | batch 1 GFLOP/s (% of 1 core peak)"
      " | batch 64 median | batch 64 images/s | batch 64 GFLOP/s (% of threads x peak) | batch 64 best (images/s) | max abs diff vs torch |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for m in ("vit", "cnn"):
    shape = json.load(open(os.path.join(work, m, "shape.json")))
    mf = res[m, "mflop"] * 1e6
    for t in (1, 2):
        ref = np.fromfile(os.path.join(work, m, f"torch-{t}.f32"), dtype="<f4")
        for eng in ("splitee", "onnx", "torch"):
            b1, b64 = res[m, eng, t]
            bmin = res[m, eng, t, "min"]
            got = np.fromfile(os.path.join(work, m, f"{eng}-{t}.f32"), dtype="<f4")
            if got.size != 64 * np.prod(shape["logits"]):
                print(f"bench3: {eng} {m} {t}: {got.size} logits, expected 64 x {shape['logits']}")
                ok = False
                continue
            d = float(np.abs(got - ref).max())
            ok &= d < 1e-4
            b1p = 100 * mf / b1 / (peak * 1e9)
            bnp = 100 * 64 * mf / b64 / (t * peak * 1e9)
            print(f"| {m} | {t} | {eng} | {b1 * 1e6:.1f} us | {1 / b1:.0f} | {mf / b1 * 1e-9:.2f} ({b1p:.1f}%)"
                  f" | {b64 * 1e3:.2f} ms | {64 / b64:.0f} | {64 * mf / b64 * 1e-9:.2f} ({bnp:.1f}%)"
                  f" | {bmin * 1e3:.2f} ms ({64 / bmin:.0f}) | {d:.2g} |")
print("\nratios, batch 1 (other / splitee latency) and batch 64 throughput (splitee / ONNX Runtime):")
for m in ("vit", "cnn"):
    for t in (1, 2):
        s1, s64 = res[m, "splitee", t]
        o1, o64 = res[m, "onnx", t]
        p1, _ = res[m, "torch", t]
        print(f"  {m} {t} thread(s): vs ONNX Runtime {o1 / s1:.2f}x, vs PyTorch {p1 / s1:.2f}x;"
              f" batch-64 throughput vs ONNX Runtime {o64 / s64:.2f}x")
for m in ("vit", "cnn"):
    s1, _ = res[m, "splitee", 1]
    o1, _ = res[m, "onnx", 1]
    p1, _ = res[m, "torch", 1]
    print(f"goal {m}, batch 1, 1 thread: >= 3x ONNX Runtime: {'met' if o1 / s1 >= 3 else 'NOT met'}"
          f" ({o1 / s1:.2f}x); >= 8x PyTorch: {'met' if p1 / s1 >= 8 else 'NOT met'} ({p1 / s1:.2f}x)")
    for t in (1, 2):
        _, s64 = res[m, "splitee", t]
        _, o64 = res[m, "onnx", t]
        print(f"goal {m}, batch 64 throughput ahead of ONNX Runtime, {t} thread(s): "
              f"{'met' if o64 > s64 else 'NOT met'} ({o64 / s64:.2f}x)")
print(f"\nlogits agree (all exits, batch 64, max abs diff < 1e-4 against PyTorch): {'yes' if ok else 'NO'}")
sys.exit(0 if ok else 1)
PY
