#!/usr/bin/env python3
"""Per-layer device costs of a model from its MAC counts, in o's units.

What this file is for: the default per-layer device cost that a shipped
table carries (data/catalog.json "layer_cost", data/cnn/layer-cost.json),
and the same computation for any other device speed. It reads the "macs"
array of a `splitee profile --out` JSON (macs[k] = the multiply-accumulates
of stage k+1 and its exit head, counted from the model's op list, so they
do not depend on the machine) and prices the device's time as the link
simulator prices latency (docs/LINKS.md, "Cost"):

    layer_cost[k] = w_ms * macs[k] / (device_mmacs * 1000)

w_ms is the link model's cost per millisecond (0.0005: one unit of cost is
2 s of latency, so lambda = 0.1 per layer is 200 ms) and device_mmacs the
device's sustained throughput in million MACs per second. The device's
compute energy is left out (at 50 mW for 0.8 s it is 4e-4 in o's units with
the link's 1e-5 per mJ). The sum over layers is the cost of running the
whole network on the device; replay adds them up to each split layer.

  splitee profile --model data/cnn --runs 1 --warmup 0 --out p.json
  python3 tools/layer_cost.py p.json --device-mmacs 20 --out data/cnn/layer-cost.json

Exit status 0, or 2 with one line on stderr for bad input; the output is
written whole or not at all.
"""
import argparse
import json
import math
import os
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profile", help="a `splitee profile --out` JSON (its \"macs\" array)")
    ap.add_argument("--device-mmacs", type=float, required=True,
                    help="device throughput, million MACs per second")
    ap.add_argument("--w-ms", type=float, default=0.0005,
                    help="cost per millisecond, as the link profiles' w_ms [0.0005]")
    ap.add_argument("--out", required=True, help="the cost file (JSON) to write")
    a = ap.parse_args()

    def die(msg):
        print(f"layer_cost.py: {msg}", file=sys.stderr)
        sys.exit(2)

    if not (a.device_mmacs > 0 and math.isfinite(a.device_mmacs)):
        die("--device-mmacs must be a positive number")
    if not (a.w_ms > 0 and math.isfinite(a.w_ms)):
        die("--w-ms must be a positive number")
    try:
        with open(a.profile) as f:
            prof = json.load(f)
    except (OSError, ValueError) as e:
        die(f"{a.profile}: {e}")
    macs = prof.get("macs") if isinstance(prof, dict) else None
    if (not isinstance(macs, list) or not macs or
            not all(isinstance(m, int) and m >= 0 for m in macs)):
        die(f"{a.profile}: no \"macs\" array of counts (not a splitee profile --out JSON?)")
    ms = [m / (a.device_mmacs * 1000.0) for m in macs]
    cost = [a.w_ms * t for t in ms]
    out = {
        "layer_cost": [float(f"{c:.6g}") for c in cost],
        "basis": "layer_cost[k] = w_ms * macs[k] / (device_mmacs * 1000): the device's time for "
                 "stage k+1 and its exit head, priced as the link prices latency (tools/layer_cost.py)",
        "model": prof.get("model"),
        "macs": macs,
        "device_mmacs": a.device_mmacs,
        "w_ms": a.w_ms,
        "device_ms": [float(f"{t:.6g}") for t in ms],
        "total": float(f"{sum(cost):.6g}"),
    }
    d = os.path.dirname(os.path.abspath(a.out))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".layer-cost.")
    with os.fdopen(fd, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, a.out)
    print(f"{a.out}: {len(cost)} layers, device {sum(ms):.1f} ms in all, costs summing to {sum(cost):.4g}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
