#!/usr/bin/python3
"""Train splitee's shipped multi-exit CNN (tools/models/mobilenet_ee.py).

What this file is for: the trained weights of data/cnn, the second shipped
model. It writes a PyTorch state_dict and a training summary; tools/export.py
turns the weights into a splitee model folder, and `splitee logits` (the C
engine) writes the exit-logit tables from that folder, so every shipped table
comes from the engine that replays and runs it live.

Training: all ten exits jointly (the loss is the mean of the ten
cross-entropies), AdamW with a cosine schedule, random horizontal flips and
shifts of up to 2 pixels (the same augmentation as tools/train.py), a fixed
seed, one PyTorch thread and channels-last tensors. Measured on a 2-core
Debian machine (AMD EPYC): 0.28 s per 128-image step with one thread and
channels-last, 0.57 s with the default layout, and two threads slower than
one (0.40 s) when the other core is busy. --final-only trains the same
network with only the final exit's loss: the backbone without exits that
post-training exit augmentation starts from (its early heads stay untrained).

Usage (Debian's PyTorch lives in /usr/bin/python3):
  /usr/bin/python3 tools/train_cnn.py --out build/cnn-train [--epochs 8]
  /usr/bin/python3 tools/export.py --module tools/models/mobilenet_ee.py:make \
      --weights build/cnn-train/weights.pt --input-shape 1,28,28 \
      --mean 0.2860 --std 0.3530 --out data/cnn   (the training normalisation)
"""
import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "models"))
from train import PIXEL_MEAN, PIXEL_STD, augment, load_split, normalise  # noqa: E402
import mobilenet_ee  # noqa: E402


def all_logits(model, x, batch=500):
    """Every exit's logits, (n, exits, classes) float32, in eval mode."""
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = torch.from_numpy(x[s:s + batch])[:, None]
            xb = xb.contiguous(memory_format=torch.channels_last)
            outs.append(torch.stack(model(xb), 1))
    return torch.cat(outs).numpy().astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for weights.pt and train-summary.json")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--final-only", action="store_true",
                    help="train only the final exit (a backbone without exits)")
    ap.add_argument("--limit", type=int, default=0,
                    help="train on the first N images only (smoke tests)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    tr_img, tr_lab = load_split("train")
    te_img, te_lab = load_split("t10k")
    if args.limit:
        tr_img, tr_lab = tr_img[:args.limit], tr_lab[:args.limit]
    xtr = torch.from_numpy(normalise(tr_img.astype(np.float32) / 255.0))
    ytr = torch.from_numpy(tr_lab)
    xte = normalise(te_img.astype(np.float64) / 255.0).astype(np.float32)

    model = mobilenet_ee.make().to(memory_format=torch.channels_last)
    L = len(model.exits)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(xtr) / args.batch)
    warm = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot, nb = 0.0, 0
        for s in range(0, len(xtr), args.batch):
            idx = perm[s:s + args.batch]
            xb = augment(xtr[idx], gen)[:, None].contiguous(memory_format=torch.channels_last)
            outs = model(xb)
            if args.final_only:
                loss = F.cross_entropy(outs[-1], ytr[idx])
            else:
                loss = sum(F.cross_entropy(o, ytr[idx]) for o in outs) / L
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
            nb += 1
        acc = (all_logits(model, xte[:2000]).argmax(-1) == te_lab[:2000, None]).mean(0)
        print(f"epoch {ep + 1}/{args.epochs} loss {tot / nb:.4f} "
              f"acc@exit1 {acc[0]:.4f} acc@exit5 {acc[4]:.4f} acc@exit{L} {acc[-1]:.4f} "
              f"({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    seconds = time.time() - t0

    torch.save(model.state_dict(), os.path.join(args.out, "weights.pt"))
    acc = (all_logits(model, xte).argmax(-1) == te_lab[:, None]).mean(0)
    print("test accuracy per exit: " + " ".join(f"{a:.4f}" for a in acc), file=sys.stderr)
    with open(os.path.join(args.out, "train-summary.json"), "w") as f:
        json.dump({"model": "tools/models/mobilenet_ee.py", "epochs": args.epochs,
                   "seed": args.seed, "threads": args.threads, "batch": args.batch,
                   "lr": args.lr, "final_only": args.final_only,
                   "train_seconds": round(seconds, 1), "torch": torch.__version__,
                   "input_mean": PIXEL_MEAN, "input_std": PIXEL_STD,
                   "test_accuracy_per_exit": [round(float(a), 4) for a in acc]}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
