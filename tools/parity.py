#!/usr/bin/python3
"""Full-test-set parity of the C inference engine with PyTorch.

What this file is for: checking, on all 10,000 Fashion-MNIST test images,
that `splitee logits` (the C engine) computes the same logits as PyTorch at
every exit. Two kinds of model:
  * the shipped ViT (the default): model.json + model.safetensors are
    loaded into tools/train.py's MultiExitViT class;
  * any version 2 model with its PyTorch module (--module FILE.py:FACTORY
    [--weights W.pt], what tools/export.py exported): the factory's module
    with the weights, fed the images normalised with model.json's input
    mean/std in float32, as the C engine does.
It runs the test set through PyTorch (clean, and any of the shifted
domains, distorted by train.py's own distort_* functions), runs `splitee
logits` on the same IDX files with the same --domain, and reports per exit
the largest |C - PyTorch| logit difference and how often the two predict
the same class. Exits 1 if any |diff| exceeds --tol (1e-4, the engine's
contract), 2 if something could not run.

Usage (Debian's PyTorch lives in /usr/bin/python3):
  /usr/bin/python3 tools/parity.py [--domain clean,noise,blur,contrast]
      [--model data/model] [--splitee build/splitee] [--limit N] [--threads N]
  /usr/bin/python3 tools/parity.py --module tools/models/mobilenet_ee.py:make
      --weights W.pt --model data/cnn [--domain ...]
"""
import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402  (sets the BLAS thread variables before NumPy/PyTorch load)
import numpy as np  # noqa: E402
import torch  # noqa: E402


def read_safetensors(path):
    """name -> float32 NumPy array, from a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw, dtype="<f4", count=(b - a) // 4,
                                  offset=base + a).reshape(t["shape"])
    return out


class ModuleModel:
    """A version 2 model's PyTorch module: images (n, 28, 28) in [0, 1] ->
    logits (n, exits, classes), normalised with model.json's mean/std."""

    def __init__(self, spec, weights, folder):
        import export
        with open(os.path.join(folder, "model.json")) as f:
            self.cfg = json.load(f)
        if self.cfg.get("version") != 2:
            raise ValueError(f"{folder}/model.json: --module needs a version 2 model")
        inp = self.cfg["input"]
        if list(inp["shape"]) != [1, 28, 28]:
            raise ValueError(f"{folder}/model.json: input {inp['shape']} is not the "
                             "test images' (1, 28, 28)")
        self.mean = np.float32(inp.get("mean", 0.0))
        self.std = np.float32(inp.get("std", 1.0))
        try:
            self.model = export.load_module(spec, weights)
        except export.ExportError as e:
            raise ValueError(str(e))

    def logits(self, px32, batch=500):
        x = ((px32 - self.mean) / self.std).astype(np.float32)   # the engine's float32 steps
        outs = []
        with torch.no_grad():
            for s in range(0, len(x), batch):
                ex = self.model(torch.from_numpy(x[s:s + batch, None]))
                outs.append(torch.stack(list(ex), 1))
        return torch.cat(outs).numpy().astype(np.float32)


def load_model(folder):
    with open(os.path.join(folder, "model.json")) as f:
        cfg = json.load(f)
    tensors = read_safetensors(os.path.join(folder, cfg["weights"]))
    model = train.MultiExitViT(cfg)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    state["pos"] = state["pos"][None]          # exported as (tokens, dim)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, cfg


class DistortionConfig(ctypes.Structure):
    """splitee_distortion_config (include/splitee/image.h)."""
    _fields_ = [("kind", ctypes.c_int), ("sigma", ctypes.c_double),
                ("factor", ctypes.c_double), ("seed", ctypes.c_uint64)]


class SpliteeError(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 512)]


def c_distort(lib, domain, images):
    """The C library's distortion of uint8 images (n, 28, 28) into float32
    pixels in [0, 1], through splitee_distortion_domain + splitee_distorter_*."""
    cfg = DistortionConfig()
    err = SpliteeError()
    if lib.splitee_distortion_domain(domain.encode(), ctypes.byref(cfg), ctypes.byref(err)) < 0:
        raise ValueError(err.msg.decode())
    d = ctypes.c_void_p()
    n, h, w = images.shape
    if lib.splitee_distorter_create(ctypes.byref(cfg), ctypes.c_size_t(h), ctypes.c_size_t(w),
                                    ctypes.byref(d), ctypes.byref(err)) < 0:
        raise ValueError(err.msg.decode())
    src = np.ascontiguousarray(images, dtype=np.uint8)
    out = np.empty((n, h, w), dtype=np.float32)
    u8p, f32p = ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_float)
    for k in range(n):
        lib.splitee_distorter_apply(d, src[k].ctypes.data_as(u8p), ctypes.c_uint64(k),
                                    out[k].ctypes.data_as(f32p))
    lib.splitee_distorter_free(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="clean",
                    help="comma list of clean, noise, blur, contrast [clean]")
    ap.add_argument("--model", default="data/model")
    ap.add_argument("--splitee", default="build/splitee")
    ap.add_argument("--limit", type=int, default=0, help="first N test images only")
    ap.add_argument("--threads", type=int, default=0, help="splitee logits --threads [0: all]")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--keep", default="", help="folder to keep the C tables in")
    ap.add_argument("--lib", default="build/libsplitee.so",
                    help="the C library, for the pixel-level check of the distortions")
    ap.add_argument("--module", default="",
                    help="FILE.py:FACTORY: a version 2 model's PyTorch module (tools/export.py)")
    ap.add_argument("--weights", default="", help="its state_dict (torch.save) [the factory's]")
    args = ap.parse_args()

    domains = {stem: fn for stem, _, fn in train.DOMAINS}
    wanted = args.domain.split(",")
    for d in wanted:
        if d not in domains:
            print(f"parity.py: unknown domain '{d}' ({', '.join(domains)})", file=sys.stderr)
            return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        if args.module:
            user = ModuleModel(args.module, args.weights, args.model)
        else:
            model, cfg = load_model(args.model)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"parity.py: {e}", file=sys.stderr)
        return 2
    images = os.path.join(train.DATASET_DIR, "t10k-images-idx3-ubyte.gz")
    labels = os.path.join(train.DATASET_DIR, "t10k-labels-idx1-ubyte.gz")
    te_img, te_lab = train.load_split("t10k")
    if args.limit:
        te_img, te_lab = te_img[:args.limit], te_lab[:args.limit]
    pix = te_img.astype(np.float64) / 255.0
    scratch = None if args.keep else tempfile.TemporaryDirectory()
    tmp = args.keep or scratch.name
    os.makedirs(tmp, exist_ok=True)

    lib = None
    if os.path.exists(args.lib):
        lib = ctypes.CDLL(os.path.abspath(args.lib))
        lib.splitee_distorter_apply.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_uint64, ctypes.c_void_p]
        lib.splitee_distorter_free.argtypes = [ctypes.c_void_p]
    print(f"date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; torch {torch.__version__}; "
          f"{len(te_img)} test images; model {args.model}"
          + (f" vs {args.module}" + (f" with {args.weights}" if args.weights else "")
             if args.module else "") + f"; tolerance {args.tol:g}")
    worst_all = 0.0
    for d in wanted:
        t0 = time.time()
        px32 = domains[d](pix).astype(np.float32)
        if args.module:
            ref = user.logits(px32)                               # (n, exits, classes)
        else:
            x = train.normalise(px32)                             # as train.py made the tables
            ref = train.all_logits(model, x)
        t1 = time.time()
        out = os.path.join(tmp, f"c-{d}.npy")
        cmd = [args.splitee, "logits", "--model", args.model, "--images", images,
               "--labels", labels, "--domain", d, "--threads", str(args.threads),
               "--no-progress", "--out", out]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        r = subprocess.run(cmd)
        if r.returncode != 0:
            print(f"parity.py: {' '.join(cmd)} failed ({r.returncode})", file=sys.stderr)
            return 2
        t2 = time.time()
        c = np.load(out)
        if c.shape != ref.shape:
            print(f"parity.py: C table {c.shape} vs PyTorch {ref.shape}", file=sys.stderr)
            return 2
        diff = np.abs(c.astype(np.float64) - ref.astype(np.float64))
        agree = (c.argmax(-1) == ref.argmax(-1)).mean(0)
        acc_c = (c.argmax(-1) == te_lab[:, None]).mean(0)
        acc_t = (ref.argmax(-1) == te_lab[:, None]).mean(0)
        worst = float(diff.max())
        worst_all = max(worst_all, worst)
        print(f"\n{d}: max |C - PyTorch| {worst:.3g}; prediction agreement "
              f"{100 * (c.argmax(-1) == ref.argmax(-1)).mean():.3f}% over every exit "
              f"(PyTorch {t1 - t0:.1f} s, C {t2 - t1:.1f} s)")
        if lib is not None:   # the distortion itself, pixel by pixel
            cpx = c_distort(lib, d, te_img)
            ndiff = int((cpx.view(np.uint32) != px32.view(np.uint32)).sum())
            print(f"{d}: C distortion vs train.py's, float32 pixels: "
                  + ("bit-identical" if ndiff == 0 else
                     f"{ndiff} of {px32.size} differ, max {np.abs(cpx - px32).max():.3g}"))
        shipped = os.path.join(os.path.dirname(os.path.abspath(args.model)), f"fmnist-{d}.npy")
        if os.path.exists(shipped) and not args.module:   # today's PyTorch vs the shipped table
            sh = np.load(shipped)[:len(ref)]
            print(f"{d}: max |PyTorch now - shipped {os.path.basename(shipped)}| "
                  f"{np.abs(sh.astype(np.float64) - ref).max():.3g}, "
                  f"max |C - shipped| {np.abs(sh.astype(np.float64) - c).max():.3g}")
        print("exit   max|diff|   agree %   acc C    acc PyTorch")
        for e in range(c.shape[1]):
            print(f"{e + 1:4d}   {diff[:, e].max():9.3g}   {100 * agree[e]:7.3f}   "
                  f"{acc_c[e]:.4f}   {acc_t[e]:.4f}")
    ok = worst_all <= args.tol
    print(f"\n{'PASS' if ok else 'FAIL'}: max |C - PyTorch| over all domains {worst_all:.3g} "
          f"({'<=' if ok else '>'} {args.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
