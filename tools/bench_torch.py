#!/usr/bin/python3
"""PyTorch eager baseline for bench/bench_engine.c: the same model and the
same inputs through Debian's PyTorch (CPU, OpenBLAS), to compare latency and
throughput with the C engine.

What it measures, with torch.no_grad() in eval mode, for each thread count:
  - batch 1: full forward through every exit (the model's own forward,
    tools/train.py MultiExitViT), median and p90; and, running the model's
    blocks one by one, the median of the embedding, of each layer and of
    each exit head;
  - batch 64: median time of one full forward of 64 images -> images/s.
The model is rebuilt from data/model/model.json with tools/train.py's
classes and loaded from model.safetensors; the inputs are the parity
fixture (data/model/fixture/inputs.npy, already normalised) used in turn
(batch 64 tiles the 16 fixture images).

Each thread count runs in a fresh subprocess with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set before torch loads, and torch.set_num_threads(n).

Usage (Debian's PyTorch lives in /usr/bin/python3):
  /usr/bin/python3 tools/bench_torch.py [--model data/model] [--threads 1 2]
                                        [--reps 1000]

Three-way mode (tools/bench3.sh), for the ViT (data/model) or any version 2
model whose PyTorch module is tools/models/mobilenet_ee.py (data/cnn):
  /usr/bin/python3 tools/bench_torch.py --bench3 WORKDIR --model DIR
                                        [--threads 1 2] [--reps 1000]
builds the PyTorch module with the shipped weights (the CNN's safetensors
hold the unfolded convolution and batch-norm tensors under the module's own
state_dict names), checks it against the model's parity fixture, writes
WORKDIR/inputs.f32 (64 fixture inputs, tiled, raw float32) and
WORKDIR/model.onnx (torch.onnx.export, opset 17, dynamic batch, one output
"logits" (batch, exits, classes): every exit of the full network), then per
thread count times batch 1 (median of REPS forwards after 50 warm-up) and
batch 64 (median of max(20, REPS/20) after 3 warm-up), writes the batch-64
logits to WORKDIR/torch-T.f32 and prints
  RESULT torch T b1_median_s b64_median_s b64_min_s
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time


def load_safetensors(path):
    """{name: float32 numpy array} from a safetensors file (F32 only)."""
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).copy()
    return out


def build_model(model_dir):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
    from train import MultiExitViT  # noqa: E402
    with open(os.path.join(model_dir, "model.json")) as f:
        cfg = json.load(f)
    model = MultiExitViT(cfg)
    tensors = load_safetensors(os.path.join(model_dir, cfg["weights"]))
    state = {}
    for name, a in tensors.items():
        t = torch.from_numpy(a)
        state[name] = t.unsqueeze(0) if name == "pos" else t
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, cfg


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def quantile(v, q):
    v = sorted(v)
    return v[int(q * (len(v) - 1) + 0.5)]


def run_one(model_dir, threads, reps):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    model, cfg = build_model(model_dir)
    inputs = torch.from_numpy(np.load(os.path.join(model_dir, "fixture", "inputs.npy")))
    n = inputs.shape[0]
    L = cfg["layers"]
    clock = time.perf_counter
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    with torch.no_grad():
        # sanity: same logits as the fixture
        ref = np.load(os.path.join(model_dir, "fixture", "logits.npy"))
        got = model(inputs).numpy()
        print(f"max |torch - fixture| logit difference: {abs(got - ref).max():.3g}")
        for r in range(100):
            model(inputs[r % n:r % n + 1])
        full = []
        for r in range(reps):
            x = inputs[r % n:r % n + 1]
            t0 = clock()
            model(x)
            full.append(clock() - t0)
        print(f"batch 1, full forward: median {median(full) * 1e6:.1f} us, "
              f"p90 {quantile(full, 0.9) * 1e6:.1f} us")
        t_embed, t_layer, t_exit = [], [[] for _ in range(L)], [[] for _ in range(L)]
        for r in range(reps):
            img = inputs[r % n:r % n + 1]
            t0 = clock()
            x = model.patch(model.patchify(img)) + model.pos
            t_embed.append(clock() - t0)
            for i in range(L):
                t0 = clock()
                x = model.layers[i](x)
                t1 = clock()
                model.exits[i](x)
                t2 = clock()
                t_layer[i].append(t1 - t0)
                t_exit[i].append(t2 - t1)
        print(f"  embed  median {median(t_embed) * 1e6:7.2f} us")
        for i in range(L):
            print(f"  layer {i:2d} median {median(t_layer[i]) * 1e6:7.2f} us   "
                  f"exit {i:2d} median {median(t_exit[i]) * 1e6:6.2f} us")
        ml = sum(median(t) for t in t_layer) / L
        me = sum(median(t) for t in t_exit) / L
        print(f"  mean over layers: layer {ml * 1e6:.2f} us, exit head {me * 1e6:.2f} us")
        batch = inputs.repeat((64 + n - 1) // n, 1, 1)[:64].contiguous()
        for _ in range(10):
            model(batch)
        tb = []
        for _ in range(max(20, reps // 20)):
            t0 = clock()
            model(batch)
            tb.append(clock() - t0)
        m = median(tb)
        print(f"batch 64, full forward: median {m * 1e3:.2f} ms -> {64 / m:.0f} images/s")


def build_any(model_dir):
    """(module in eval mode returning (batch, exits, classes), config) for the
    ViT (version 1 model.json) or the MobileNetEE CNN (version 2)."""
    import torch
    with open(os.path.join(model_dir, "model.json")) as f:
        cfg = json.load(f)
    if cfg.get("version", 1) == 1:
        return build_model(model_dir)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "models"))
    import mobilenet_ee  # noqa: E402
    if cfg.get("name") != "MobileNetEE":
        raise SystemExit(f"{model_dir}/model.json: --bench3 knows the PyTorch module of "
                         f"MobileNetEE only, not {cfg.get('name')!r}")
    net = mobilenet_ee.make()
    tensors = load_safetensors(os.path.join(model_dir, cfg["weights"]))
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    for k, v in net.state_dict().items():  # num_batches_tracked: not used in eval
        if k not in state and k.endswith("num_batches_tracked"):
            state[k] = v
    net.load_state_dict(state, strict=True)

    class Stacked(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.stack(self.inner(x), dim=1)

    model = Stacked(net)
    model.eval()
    return model, cfg


def bench3_prepare(model_dir, work):
    import numpy as np
    import torch
    model, _ = build_any(model_dir)
    inputs = np.load(os.path.join(model_dir, "fixture", "inputs.npy")).astype(np.float32)
    ref = np.load(os.path.join(model_dir, "fixture", "logits.npy"))
    with torch.no_grad():
        got = model(torch.from_numpy(inputs)).numpy()
    print(f"max |torch - fixture| logit difference ({model_dir}): {abs(got - ref).max():.3g}")
    n = inputs.shape[0]
    batch = np.concatenate([inputs] * ((64 + n - 1) // n))[:64]
    os.makedirs(work, exist_ok=True)
    np.ascontiguousarray(batch, dtype="<f4").tofile(os.path.join(work, "inputs.f32"))
    with open(os.path.join(work, "shape.json"), "w") as f:
        json.dump({"input": list(batch.shape[1:]), "logits": list(got.shape[1:])}, f)
    x = torch.from_numpy(batch[:1].copy())
    torch.onnx.export(model, x, os.path.join(work, "model.onnx"), opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)


def bench3_child(model_dir, work, threads, reps):
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    model, _ = build_any(model_dir)
    with open(os.path.join(work, "shape.json")) as f:
        shape = json.load(f)
    batch = torch.from_numpy(np.fromfile(os.path.join(work, "inputs.f32"), dtype="<f4")
                             .reshape([64] + shape["input"]))
    clock = time.perf_counter
    with torch.no_grad():
        for r in range(50):
            model(batch[r % 64:r % 64 + 1])
        t1 = []
        for r in range(reps):
            x = batch[r % 64:r % 64 + 1]
            t0 = clock()
            model(x)
            t1.append(clock() - t0)
        for _ in range(3):
            out = model(batch)
        tb = []
        for _ in range(max(20, reps // 20)):
            t0 = clock()
            out = model(batch)
            tb.append(clock() - t0)
    out.numpy().astype("<f4").tofile(os.path.join(work, f"torch-{threads}.f32"))
    print(f"RESULT torch {threads} {median(t1):.9g} {median(tb):.9g} {min(tb):.9g} "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="data/model")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bench3", metavar="WORKDIR",
                    help="three-way mode (tools/bench3.sh): see the module docstring")
    a = ap.parse_args()
    if a.bench3:
        if a.child:
            bench3_child(a.model, a.bench3, a.threads[0], a.reps)
            return
        bench3_prepare(a.model, a.bench3)
        for t in a.threads:
            env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
            subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--bench3",
                            a.bench3, "--model", a.model, "--threads", str(t),
                            "--reps", str(a.reps)], env=env, check=True)
        return
    if a.child:
        run_one(a.model, a.threads[0], a.reps)
        return
    for t in a.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
        subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--model", a.model,
                        "--threads", str(t), "--reps", str(a.reps)], env=env, check=True)
        print()


if __name__ == "__main__":
    main()
