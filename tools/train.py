#!/usr/bin/python3
"""Train splitee's shipped multi-exit vision transformer on Fashion-MNIST.

What this file is for: producing everything under data/ that comes from a
trained network -- the model (architecture JSON + safetensors weights), the
per-exit logit tables of the 10,000 test images (clean and three shifted
domains the model never saw in training), the labels, and a small parity
fixture for the C inference engine.

The model (see data/README.md for the exact tensor names and shapes):
  28x28 image -> 16 non-overlapping 7x7 patches -> linear patch embedding
  + learned position embeddings -> 12 pre-norm transformer encoder layers
  (LayerNorm, multi-head self-attention, residual; LayerNorm, GELU MLP,
  residual). After every layer an exit head: LayerNorm -> mean over the 16
  tokens -> linear to 10 classes. All 12 exits are trained jointly (the loss
  is the mean of the 12 cross-entropies), with a fixed seed.

The shifted domains are defined with a small documented RNG (splitmix64 +
Box-Muller, see distort_*) rather than NumPy's, so that the C engine can
reproduce them bit for bit.

Usage (Debian's PyTorch lives in /usr/bin/python3):
  /usr/bin/python3 tools/train.py --out data [--epochs 20] [--threads 1]

Threads: this model's matrices are small (128 images x 16 tokens x 64), so
PyTorch's intra-op threads and OpenBLAS's own threads mostly fight each
other. Measured on a 2-core Debian machine: 138 ms per training step with one
PyTorch thread and single-threaded OpenBLAS, 165 ms with two PyTorch threads,
380 ms with two PyTorch threads and threaded OpenBLAS. Hence --threads 1 and
OPENBLAS_NUM_THREADS=1 by default (set before NumPy/PyTorch load OpenBLAS).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread settings above)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATASET_DIR = "/usr/share/datasets/fashion-mnist"
PIXEL_MEAN = 0.2860  # Fashion-MNIST training-set mean of pixel/255
PIXEL_STD = 0.3530   # and its standard deviation


# ----------------------------------------------------------------- data ----

def read_idx(path):
    """Read an IDX file (gzip or not) into a NumPy uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: truncated IDX data")
    return data.reshape(dims)


def load_split(name):
    imgs = read_idx(os.path.join(DATASET_DIR, f"{name}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATASET_DIR, f"{name}-labels-idx1-ubyte.gz"))
    return imgs, labels.astype(np.int64)


def normalise(pixels01):
    """Pixels in [0,1] (float32, (n,28,28)) -> model input."""
    return ((pixels01 - np.float32(PIXEL_MEAN)) / np.float32(PIXEL_STD)).astype(np.float32)


# ------------------------------------------------------ shifted domains ----
# Each distortion maps float64 pixels in [0,1] to float64 pixels in [0,1];
# the caller rounds to float32 afterwards. The C engine implements the same
# arithmetic (issue: inference engine), so the definitions here are the spec.

MASK64 = (1 << 64) - 1


def splitmix64_stream(seed, n):
    """n successive splitmix64 outputs from state `seed` (Python ints)."""
    out = np.empty(n, dtype=np.uint64)
    state = seed & MASK64
    for k in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out[k] = z ^ (z >> 31)
    return out


def distort_noise(x, sigma, seed):
    """Additive Gaussian noise, clipped to [0,1].

    Image k (0-based), pixel p (row-major) gets N(0, sigma^2) from a
    Box-Muller pair computed from splitmix64 seeded with seed + k: the 784
    pixels consume 392 pairs (u1, u2) = ((a>>11)+1)*2^-53, (b>>11)*2^-53,
    z0 = sqrt(-2 ln u1) cos(2 pi u2) to pixel 2j, z1 = ... sin(...) to 2j+1.
    """
    n, h, w = x.shape
    out = np.empty_like(x)
    npix = h * w
    for k in range(n):
        r = splitmix64_stream(seed + k, npix)
        a = (r[0::2] >> np.uint64(11)).astype(np.float64)
        b = (r[1::2] >> np.uint64(11)).astype(np.float64)
        u1 = (a + 1.0) * 2.0 ** -53
        u2 = b * 2.0 ** -53
        rad = np.sqrt(-2.0 * np.log(u1))
        z = np.empty(npix)
        z[0::2] = rad * np.cos(2.0 * np.pi * u2)
        z[1::2] = rad * np.sin(2.0 * np.pi * u2)
        out[k] = x[k] + sigma * z.reshape(h, w)
    return np.clip(out, 0.0, 1.0)


def gaussian_kernel(sigma):
    radius = int(math.ceil(3.0 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return k / k.sum()


def distort_blur(x, sigma):
    """Separable Gaussian blur, radius ceil(3 sigma), edges clamped (replicate).

    Rows first, then columns, each a plain sum over taps in increasing order.
    """
    k = gaussian_kernel(sigma)
    r = len(k) // 2
    n, h, w = x.shape
    pad = np.pad(x, ((0, 0), (0, 0), (r, r)), mode="edge")
    tmp = np.zeros_like(x)
    for t in range(len(k)):
        tmp += k[t] * pad[:, :, t:t + w]
    pad = np.pad(tmp, ((0, 0), (r, r), (0, 0)), mode="edge")
    out = np.zeros_like(x)
    for t in range(len(k)):
        out += k[t] * pad[:, t:t + h, :]
    return np.clip(out, 0.0, 1.0)


def distort_contrast(x, factor):
    """Contrast reduction towards each image's own mean: m + factor*(x - m)."""
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip(m + factor * (x - m), 0.0, 1.0)


# Shipped domains: (file stem, description, function of float64 pixels).
DOMAINS = [
    ("clean", "unmodified test set", lambda x: x),
    ("noise", "Gaussian noise sigma=0.2, seed 20231101",
     lambda x: distort_noise(x, 0.2, 20231101)),
    ("blur", "Gaussian blur sigma=1.0", lambda x: distort_blur(x, 1.0)),
    ("contrast", "contrast reduced to 0.3 around the image mean",
     lambda x: distort_contrast(x, 0.3)),
]


# ---------------------------------------------------------------- model ----

class Layer(nn.Module):
    """Pre-norm transformer encoder layer."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.view(b, t, self.heads, hd).transpose(1, 2)
        k = k.view(b, t, self.heads, hd).transpose(1, 2)
        v = v.view(b, t, self.heads, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))  # exact (erf) GELU
        return x


class ExitHead(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, x):
        return self.fc(self.ln(x).mean(dim=1))


class MultiExitViT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        p = cfg["patch_size"]
        self.patch_dim = p * p * cfg["channels"]
        self.tokens = (cfg["image_size"] // p) ** 2
        self.patch = nn.Linear(self.patch_dim, cfg["dim"])
        self.pos = nn.Parameter(torch.zeros(1, self.tokens, cfg["dim"]))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList(
            Layer(cfg["dim"], cfg["heads"], cfg["mlp_hidden"]) for _ in range(cfg["layers"]))
        self.exits = nn.ModuleList(
            ExitHead(cfg["dim"], cfg["classes"]) for _ in range(cfg["layers"]))

    def patchify(self, img):
        """(b, 28, 28) -> (b, 16, 49): patches in row-major order, pixels
        within a patch row-major."""
        b = img.shape[0]
        p = self.cfg["patch_size"]
        g = self.cfg["image_size"] // p
        x = img.view(b, g, p, g, p).permute(0, 1, 3, 2, 4)
        return x.reshape(b, g * g, p * p)

    def forward(self, img):
        """Returns logits of every exit: (b, layers, classes)."""
        x = self.patch(self.patchify(img)) + self.pos
        outs = []
        for layer, head in zip(self.layers, self.exits):
            x = layer(x)
            outs.append(head(x))
        return torch.stack(outs, dim=1)


# --------------------------------------------------------------- export ----

def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer: u64 LE header size, JSON header, data.

    Tensors are float32, little-endian, C order, laid out in the order given
    with no gaps; the header is padded with spaces to a multiple of 8 bytes.
    """
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        blob = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for blob in blobs:
            f.write(blob)


def export_tensors(model):
    """The model's tensors under the names data/README.md documents.

    Linear weights keep PyTorch's (out, in) layout.
    """
    out = [("patch.weight", model.patch.weight), ("patch.bias", model.patch.bias),
           ("pos", model.pos[0])]
    for i, (layer, head) in enumerate(zip(model.layers, model.exits)):
        pre = f"layers.{i}."
        for name in ("ln1", "qkv", "proj", "ln2", "fc1", "fc2"):
            mod = getattr(layer, name)
            out.append((pre + name + ".weight", mod.weight))
            out.append((pre + name + ".bias", mod.bias))
        pre = f"exits.{i}."
        for name in ("ln", "fc"):
            mod = getattr(head, name)
            out.append((pre + name + ".weight", mod.weight))
            out.append((pre + name + ".bias", mod.bias))
    return out


def all_logits(model, x, batch=500):
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            outs.append(model(torch.from_numpy(x[s:s + batch])))
    return torch.cat(outs).numpy().astype(np.float32)


# ---------------------------------------------------------------- train ----

def augment(img, gen):
    """Random horizontal flip and random translation by up to 2 pixels."""
    b = img.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    img = torch.where(flip[:, None, None], img.flip(-1), img)
    pad = F.pad(img[:, None], (2, 2, 2, 2), mode="replicate")[:, 0]
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, dy:dy + 28, dx:dx + 28].contiguous()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-hidden", type=int, default=128)
    ap.add_argument("--limit", type=int, default=0,
                    help="train on the first N images only (smoke tests)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    os.makedirs(os.path.join(args.out, "model"), exist_ok=True)

    cfg = {"format": "splitee-model", "version": 1, "type": "vit-multi-exit",
           "image_size": 28, "channels": 1, "patch_size": 7, "tokens": 16,
           "dim": args.dim, "heads": args.heads, "mlp_hidden": args.mlp_hidden,
           "layers": 12, "classes": 10, "norm_eps": 1e-5, "activation": "gelu-erf",
           "exit_pool": "mean", "input_mean": PIXEL_MEAN, "input_std": PIXEL_STD,
           "dtype": "F32", "weights": "model.safetensors"}

    tr_img, tr_lab = load_split("train")
    te_img, te_lab = load_split("t10k")
    if args.limit:
        tr_img, tr_lab = tr_img[:args.limit], tr_lab[:args.limit]
    xtr = torch.from_numpy(normalise(tr_img.astype(np.float32) / 255.0))
    ytr = torch.from_numpy(tr_lab)
    xte = normalise(te_img.astype(np.float64) / 255.0)

    model = MultiExitViT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    steps = args.epochs * math.ceil(len(xtr) / args.batch)
    warm = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    L = cfg["layers"]
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot, nb = 0.0, 0
        for s in range(0, len(xtr), args.batch):
            idx = perm[s:s + args.batch]
            xb = augment(xtr[idx], gen)
            out = model(xb)
            loss = F.cross_entropy(out.reshape(-1, cfg["classes"]),
                                   ytr[idx].repeat_interleave(L))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
            nb += 1
        acc = (all_logits(model, xte[:2000].astype(np.float32)).argmax(-1)
               == te_lab[:2000, None]).mean(0)
        print(f"epoch {ep + 1}/{args.epochs} loss {tot / nb:.4f} "
              f"acc@exit1 {acc[0]:.4f} acc@exit6 {acc[5]:.4f} acc@exit12 {acc[-1]:.4f} "
              f"({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)

    # -- export the model
    write_safetensors(os.path.join(args.out, "model", "model.safetensors"),
                      export_tensors(model),
                      {"format": "splitee-model", "seed": str(args.seed),
                       "epochs": str(args.epochs)})
    with open(os.path.join(args.out, "model", "model.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")

    # -- exit-logit tables of the test set, clean and shifted
    np.save(os.path.join(args.out, "fmnist-test-labels.npy"), te_lab.astype(np.int64))
    summary = {}
    pix = te_img.astype(np.float64) / 255.0
    for stem, desc, fn in DOMAINS:
        x = normalise(fn(pix).astype(np.float32))
        logits = all_logits(model, x)
        np.save(os.path.join(args.out, f"fmnist-{stem}.npy"), logits)
        acc = (logits.argmax(-1) == te_lab[:, None]).mean(0)
        summary[stem] = {"description": desc,
                         "accuracy_per_exit": [round(float(a), 4) for a in acc]}
        print(f"{stem:9s} " + " ".join(f"{a:.3f}" for a in acc), file=sys.stderr)

    # -- parity fixture for the C engine: 16 clean test images, their model
    # input (float32, (16,28,28)) and every exit's logits (float32, (16,12,10))
    fx = os.path.join(args.out, "model", "fixture")
    os.makedirs(fx, exist_ok=True)
    np.save(os.path.join(fx, "inputs.npy"), xte[:16].astype(np.float32))
    np.save(os.path.join(fx, "logits.npy"), all_logits(model, xte[:16].astype(np.float32)))

    with open(os.path.join(args.out, "train-summary.json"), "w") as f:
        json.dump({"epochs": args.epochs, "seed": args.seed, "threads": args.threads,
                   "seconds": round(time.time() - t0, 1), "torch": torch.__version__,
                   "domains": summary}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
