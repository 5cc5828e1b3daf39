#!/usr/bin/python3
"""Post-training exit augmentation: attach exit heads to a trained classifier, train only them.

What this file is for: issue 9's augmentation step (Sponner et al. 2024, the
peax project; /work/shared/REFERENCES.md). An engineer has a trained
classifier with no exits. This tool attaches a candidate exit head after
every block but the last, trains only the heads (the backbone frozen, in
eval mode), measures every candidate on a calibration split and the test
split, counts each candidate's MACs the way the C engine does, and exports
the augmented network through tools/export.py so that splitee can replay
it, search it (`splitee search`) and run it live. docs/AUGMENT.md.

What a backbone must provide. `--module FILE.py:FACTORY` returns an
nn.Module (its `--weights`, a state_dict, are loaded strictly, so a module
holding extra untrained parts loads too). In it:
  * `--blocks PATH` (default `blocks`) names an ordered nn.ModuleList or
    nn.Sequential of at least two modules, each taking the previous one's
    output, the first the (normalised) input, each returning an
    (N, C, H, W) tensor; the candidate exit points are their outputs, all
    but the last;
  * `--classifier PATH` (default `classifier`) names the module that maps
    the last block's output to (N, classes) logits.
The backbone is classifier(blocks[-1](...blocks[0](x))): whatever else the
module holds (for the shipped MobileNetEE backbone, `--blocks stages
--classifier exits.9`, its nine untrained early heads) is ignored. PATH is
dotted, integer parts index a list (`exits.9`, `exits.-1`). Everything the
blocks and classifier hold must be what tools/export.py maps (EXPORT.md).

Heads (two sizes, each trained at every candidate point):
  small  global average pool + linear                       (peax "small")
  large  1x1 conv to M*C channels + BN + ReLU6 + global average pool +
         linear (M = --large-mult, default 2; the final MobileNetEE head's
         form)
Training: every head of both sizes at once, on each batch the frozen
backbone runs once (no grad) and every head reads its block's output;
the loss is the sum of the heads' cross-entropies (the heads share no
parameters, so this is each head trained on its own); AdamW, cosine
schedule, random horizontal flips and shifts of up to 2 pixels, a fixed
seed, one thread.

Splits: the training set is permuted with --seed; its first --cal-samples
images are the calibration split, the next --train-samples (default: all
the rest) the training split; the test set (its first --test-samples) is
the test split.

Outputs (--out DIR; all written into a temporary folder beside it and
moved into place only when every check passed):
  cal-KIND.npy, test-KIND.npy  float32 (samples, candidates, classes), the
      candidates the L-1 heads of that KIND in block order, then the final
      classifier (the same in both kinds)
  cal-labels.npy, test-labels.npy  int64
  cal-indices.npy      int64: which training images are the calibration split
  macs-KIND.json       each candidate's cumulative MACs: the backbone's MACs
      up to its point plus its head (the final: the whole backbone)
  head-macs-KIND.json  each candidate's head alone
      (`splitee search --macs macs-KIND.json --head-macs head-macs-KIND.json`)
  model-KIND/          the augmented model (backbone + that KIND's heads),
      tools/export.py's model format v2
  summary.json         splits, settings, head-training time, per candidate
      accuracy (cal, test) and MACs, the C-engine checks
MACs count the matrix products only, as the C engine does (model.h):
conv2d out*H'*W'*(C/groups)*kh*kw, linear in*out. After export the tool
checks them against `splitee profile --model model-KIND` and the C
engine's logits on both splits against the PyTorch tables (max |diff| <=
--tol, 1e-4).

Exit status 0: written; 1: a check failed (nothing written); 2: bad input
(one line on stderr, nothing written).

Usage (Debian's PyTorch lives in /usr/bin/python3; a built splitee):
  /usr/bin/python3 tools/augment.py --module tools/models/mobilenet_ee.py:make \\
      --weights data/aug/backbone/weights.pt --blocks stages --classifier exits.9 \\
      --out build/aug
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export as exporter  # noqa: E402
from train import DATASET_DIR, PIXEL_MEAN, PIXEL_STD, read_idx  # noqa: E402

KINDS = ("small", "large")


class AugmentError(Exception):
    """Bad input: one line, exit status 2."""


class AugmentCheckError(Exception):
    """A check of the exported model failed: exit status 1."""


# ------------------------------------------------------------ backbone --

def resolve(model, path, option):
    """The submodule at dotted `path` (integer parts index a list)."""
    obj = model
    for part in path.split("."):
        if re.fullmatch(r"-?\d+", part):
            if not isinstance(obj, (nn.ModuleList, nn.Sequential, list, tuple)):
                raise AugmentError(f"{option} {path}: '{part}' indexes "
                                   f"{type(obj).__name__}, not a module list")
            try:
                obj = obj[int(part)]
            except IndexError:
                raise AugmentError(f"{option} {path}: index {part} out of range "
                                   f"(the list has {len(obj)} modules)")
        else:
            if not hasattr(obj, part):
                raise AugmentError(f"{option} {path}: the module has no attribute '{part}'")
            obj = getattr(obj, part)
    return obj


def backbone_parts(model, blocks_path, classifier_path):
    """(blocks as a list of modules, classifier) of the backbone; AugmentError
    when the module lacks the structure the tool needs."""
    blocks = resolve(model, blocks_path, "--blocks")
    if not isinstance(blocks, (nn.ModuleList, nn.Sequential)):
        raise AugmentError(f"--blocks {blocks_path}: {type(blocks).__name__} is not an "
                           "nn.ModuleList or nn.Sequential of blocks")
    blocks = list(blocks)
    if len(blocks) < 2:
        raise AugmentError(f"--blocks {blocks_path}: {len(blocks)} block(s); at least 2 "
                           "are needed (exits go after every block but the last)")
    classifier = resolve(model, classifier_path, "--classifier")
    if not isinstance(classifier, nn.Module):
        raise AugmentError(f"--classifier {classifier_path}: {type(classifier).__name__} "
                           "is not an nn.Module")
    if any(classifier is b for b in blocks):
        raise AugmentError(f"--classifier {classifier_path} is one of the blocks")
    return blocks, classifier


class MacCounter:
    """Counts conv2d and linear MACs of what runs while it is active, the C
    engine's rule (model.h): conv2d out*H'*W'*(C/groups)*kh*kw, linear
    rows*in*out; everything else 0. Refuses modules whose MACs that rule
    would miss."""

    def __init__(self, modules):
        self.n = 0
        self.handles = [m.register_forward_hook(self._hook) for m in modules]

    def _hook(self, mod, inputs, out):
        if isinstance(mod, nn.Conv2d):
            self.n += (out.shape[1] * out.shape[2] * out.shape[3] * (mod.in_channels // mod.groups)
                       * mod.kernel_size[0] * mod.kernel_size[1])
        elif isinstance(mod, nn.Linear):
            rows = 1 if out.dim() == 2 else int(np.prod(out.shape[1:-1]))
            self.n += rows * mod.in_features * mod.out_features

    def close(self):
        for h in self.handles:
            h.remove()


def macs_of(module, x):
    """(output, MACs) of module(x) for a batch of one."""
    c = MacCounter(list(module.modules()))
    try:
        with torch.no_grad():
            y = module(x)
    finally:
        c.close()
    return y, c.n


def probe(blocks, classifier, example, blocks_path, classifier_path):
    """Shapes and MACs of every block and of the classifier on `example`
    (1, ...). Returns (block shapes (C, H, W), block MACs, classifier MACs,
    classes)."""
    shapes, bmacs = [], []
    x = example
    for k, b in enumerate(blocks):
        try:
            x, n = macs_of(b, x)
        except Exception as e:
            raise AugmentError(f"--blocks {blocks_path}: block {k} does not run on the previous "
                               f"output {tuple((x.shape if torch.is_tensor(x) else ()))}: "
                               f"{type(e).__name__}: {' '.join(str(e).split())[:200]}")
        if not torch.is_tensor(x) or x.dim() != 4:
            what = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise AugmentError(f"--blocks {blocks_path}: block {k} returns {what}, not an "
                               "(N, C, H, W) tensor (heads are convolutional)")
        shapes.append(tuple(x.shape[1:]))
        bmacs.append(n)
    try:
        y, cmacs = macs_of(classifier, x)
    except Exception as e:
        raise AugmentError(f"--classifier {classifier_path}: does not run on the last block's "
                           f"output {tuple(x.shape)}: {type(e).__name__}: "
                           f"{' '.join(str(e).split())[:200]}")
    if not torch.is_tensor(y) or y.dim() != 2 or y.shape[0] != 1:
        what = tuple(y.shape) if torch.is_tensor(y) else type(y).__name__
        raise AugmentError(f"--classifier {classifier_path}: returns {what}, not (N, classes) "
                           "logits")
    return shapes, bmacs, cmacs, int(y.shape[1])


# --------------------------------------------------------------- heads --

def make_head(kind, channels, classes, mult):
    if kind == "small":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))
    width = mult * channels
    return nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, classes))


class Augmented(nn.Module):
    """The backbone's blocks as stages, an exit head after each: the trained
    candidate heads, then the backbone's own classifier. forward returns
    every exit's logits, shallowest first (what tools/export.py takes)."""

    def __init__(self, blocks, heads, classifier):
        super().__init__()
        self.stages = nn.ModuleList(blocks)
        self.exits = nn.ModuleList(list(heads) + [classifier])
        # each exit's head is exactly its module (export.py's override)
        self.splitee_exit_heads = [f"exits.{k}" for k in range(len(self.exits))]

    def forward(self, x):
        outs = []
        for stage, head in zip(self.stages, self.exits):
            x = stage(x)
            outs.append(head(x))
        return outs


# ---------------------------------------------------------------- data --

def load_data(args):
    """(train images, train labels, test images, test labels): raw pixels in
    [0, 1] as float32 (N, C, H, W), labels int64."""
    if args.data:
        try:
            z = np.load(args.data)
            arrs = [z[k] for k in ("train_x", "train_y", "test_x", "test_y")]
        except KeyError as e:
            raise AugmentError(f"--data {args.data}: no array {e} (needs train_x, train_y, "
                               "test_x, test_y)")
        except Exception as e:
            raise AugmentError(f"--data {args.data}: {' '.join(str(e).split())[:200]}")
    else:
        try:
            arrs = [read_idx(os.path.join(DATASET_DIR, f"{s}-{w}-idx{d}-ubyte.gz"))
                    for s in ("train", "t10k") for w, d in (("images", 3), ("labels", 1))]
        except (OSError, ValueError) as e:
            raise AugmentError(f"Fashion-MNIST in {DATASET_DIR}: {e} (tools/setup.sh --dataset, "
                               "or --data FILE.npz)")
    out = []
    for name, (x, y) in (("train", arrs[0:2]), ("test", arrs[2:4])):
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / np.float32(255.0)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
            raise AugmentError(f"{name} images {x.shape} and labels {y.shape}: expected "
                               "(N, H, W) or (N, C, H, W) images and N labels")
        out += [x, y.astype(np.int64)]
    return out


def shift_flip(x, gen):
    """Random horizontal flip per image and one random shift of up to 2
    pixels per batch (edge replicated): tools/train.py's augmentation for
    any (N, C, H, W)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    h, w = x.shape[2:]
    pad = F.pad(x, (2, 2, 2, 2), mode="replicate")
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + h, dx:dx + w].contiguous()


# ------------------------------------------------------------ training --

def run_backbone(blocks, x):
    """Every block's output (the frozen backbone, no grad)."""
    outs = []
    with torch.no_grad():
        for b in blocks:
            x = b(x)
            outs.append(x)
    return outs


def train_heads(blocks, heads, x, y, args, log):
    """Trains every head in `heads` (kind -> list, one per candidate point)
    on normalised images x (N, C, H, W) with labels y; returns seconds."""
    params = [p for hs in heads.values() for h in hs for p in h.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(x) / args.batch)
    warm = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    gen = torch.Generator().manual_seed(args.seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t0 = time.time()
    for ep in range(args.epochs):
        for hs in heads.values():
            for h in hs:
                h.train()
        perm = torch.randperm(len(xt), generator=gen)
        tot, nb = 0.0, 0
        for s in range(0, len(xt), args.batch):
            idx = perm[s:s + args.batch]
            xb = xt[idx]
            if not args.no_augment:
                xb = shift_flip(xb, gen)
            feats = run_backbone(blocks, xb.contiguous(memory_format=torch.channels_last))
            loss = sum(F.cross_entropy(h(feats[k]), yt[idx])
                       for hs in heads.values() for k, h in enumerate(hs))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
            nb += 1
        log(f"augment.py: epoch {ep + 1}/{args.epochs}: mean head loss "
            f"{tot / nb / sum(len(hs) for hs in heads.values()):.4f} ({time.time() - t0:.0f} s)")
    return time.time() - t0


def tables(blocks, heads, classifier, x, batch=250):
    """kind -> (N, candidates, classes) float32 logits, the final last."""
    for hs in heads.values():
        for h in hs:
            h.eval()
    out = {k: [] for k in heads}
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = torch.from_numpy(x[s:s + batch]).contiguous(memory_format=torch.channels_last)
            feats = run_backbone(blocks, xb)
            final = classifier(feats[-1])
            for kind, hs in heads.items():
                out[kind].append(torch.stack([h(feats[k]) for k, h in enumerate(hs)] + [final], 1))
    return {k: torch.cat(v).numpy().astype(np.float32) for k, v in out.items()}


# ------------------------------------------------------------- checks --

def profile_macs(splitee, folder):
    """(stage MACs, exit MACs) as `splitee profile --model folder` prints them."""
    cmd = [splitee, "profile", "--model", folder, "--runs", "1", "--warmup", "0",
           "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AugmentCheckError(f"{' '.join(cmd)} failed ({r.returncode}): "
                                f"{(r.stderr.strip().splitlines() or [''])[-1]}")
    stage, head = [], []
    for line in r.stdout.splitlines():
        m = re.match(r"layer\s+(\d+)\s+(.*)$", line)
        if m:
            f = m.group(2).split()
            stage.append(int(f[-2]))
            head.append(int(f[-1]))
    return stage, head


def c_logits(splitee, folder, x):
    with tempfile.TemporaryDirectory() as tmp:
        xin, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "c.npy")
        np.save(xin, x)
        cmd = [splitee, "logits", "--model", folder, "--inputs", xin, "--normalised",
               "--threads", "1", "--no-progress", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AugmentCheckError(f"{' '.join(cmd)} failed ({r.returncode}): "
                                    f"{(r.stderr.strip().splitlines() or [''])[-1]}")
        return np.load(out)


# ----------------------------------------------------------------- main --

def positive(name):
    def f(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: '{s}' is not an integer")
        if v < 0:
            raise argparse.ArgumentTypeError(f"{name}: {v} is negative")
        return v
    return f


class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, exit 2
        print(f"augment.py: {message}", file=sys.stderr)
        sys.exit(2)


def parse(argv):
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True, help="FILE.py:FACTORY returning the backbone module")
    ap.add_argument("--weights", help="its state_dict (torch.save), loaded strictly")
    ap.add_argument("--blocks", default="blocks", help="the ordered blocks' module list [blocks]")
    ap.add_argument("--classifier", default="classifier",
                    help="the final classifier's module [classifier]")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--data", help="an .npz with train_x, train_y, test_x, test_y (images uint8 "
                    "or float in [0, 1], (N, H, W) or (N, C, H, W)) [Fashion-MNIST]")
    ap.add_argument("--mean", type=float, default=PIXEL_MEAN, help="input normalisation mean")
    ap.add_argument("--std", type=float, default=PIXEL_STD, help="input normalisation std")
    ap.add_argument("--cal-samples", type=positive("--cal-samples"), default=5000)
    ap.add_argument("--train-samples", type=positive("--train-samples"), default=0,
                    help="0: every training image not in the calibration split")
    ap.add_argument("--test-samples", type=positive("--test-samples"), default=0,
                    help="0: the whole test set")
    ap.add_argument("--heads", default="small,large", help="head sizes: small, large or both")
    ap.add_argument("--large-mult", type=positive("--large-mult"), default=2,
                    help="large head width: this times the block's channels")
    ap.add_argument("--epochs", type=positive("--epochs"), default=3)
    ap.add_argument("--batch", type=positive("--batch"), default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=positive("--threads"), default=1)
    ap.add_argument("--no-augment", action="store_true", help="no flips and shifts in training")
    ap.add_argument("--splitee", help="the splitee binary of the checks [build/splitee]")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest |C - PyTorch| allowed")
    ap.add_argument("--name", default=None, help="model.json name [augmented-KIND]")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    kinds = [k for k in args.heads.split(",") if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds or len(set(kinds)) != len(kinds):
        raise AugmentError(f"--heads {args.heads}: expected small, large or small,large")
    for o in ("epochs", "batch", "cal_samples", "large_mult", "threads"):
        if getattr(args, o) == 0:
            raise AugmentError(f"--{o.replace('_', '-')} must be at least 1")
    if not (args.std > 0):
        raise AugmentError(f"--std {args.std}: must be positive")
    torch.set_num_threads(args.threads)
    exe = exporter.find_splitee(args.splitee)
    if not exe or not os.access(exe, os.X_OK):
        raise AugmentError("no splitee binary for the checks (build it, or pass --splitee PATH)")

    # the output folder must be writable (checked before any training)
    parent = os.path.dirname(os.path.abspath(args.out))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise AugmentError(f"--out {args.out}: exists and is not a folder")
    try:
        os.makedirs(parent, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".augment-", dir=parent))
    except OSError as e:
        raise AugmentError(f"--out {args.out}: cannot write beside it: {e.strerror}")

    # the data and the splits (checked before any training)
    trx, try_, tex, tey = load_data(args)
    if args.cal_samples >= len(trx):
        raise AugmentError(f"--cal-samples {args.cal_samples}: the training set has {len(trx)} "
                           "images, and the training split needs at least 1")
    n_train = args.train_samples or len(trx) - args.cal_samples
    if args.cal_samples + n_train > len(trx):
        raise AugmentError(f"--cal-samples {args.cal_samples} + --train-samples {n_train} "
                           f"exceed the {len(trx)} training images")
    n_test = args.test_samples or len(tex)
    if n_test > len(tex):
        raise AugmentError(f"--test-samples {n_test}: the test set has {len(tex)} images")
    perm = np.random.default_rng(args.seed).permutation(len(trx))
    cal_i, tr_i = perm[:args.cal_samples], perm[args.cal_samples:args.cal_samples + n_train]
    norm = lambda a: ((a - np.float32(args.mean)) / np.float32(args.std)).astype(np.float32)  # noqa
    x_tr, y_tr = norm(trx[tr_i]), try_[tr_i]
    x_cal, y_cal = norm(trx[cal_i]), try_[cal_i]
    x_te, y_te = norm(tex[:n_test]), tey[:n_test]

    # the backbone
    try:
        model = exporter.load_module(args.module, args.weights)
    except exporter.ExportError as e:
        raise AugmentError(str(e))
    blocks, classifier = backbone_parts(model, args.blocks, args.classifier)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    example = torch.from_numpy(x_te[:1])
    shapes, bmacs, cmacs, classes = probe(blocks, classifier, example, args.blocks,
                                          args.classifier)
    if int(max(y_tr.max(), y_cal.max(), y_te.max())) >= classes or \
            int(min(y_tr.min(), y_cal.min(), y_te.min())) < 0:
        raise AugmentError(f"labels outside 0..{classes - 1} (the classifier has {classes} "
                           "classes)")
    for b in blocks:
        b.to(memory_format=torch.channels_last)
    L = len(blocks)
    log(f"augment.py: backbone {L} blocks, {classes} classes, {sum(bmacs) + cmacs} MACs; "
        f"{L - 1} candidate points; splits train {n_train}, calibration {args.cal_samples}, "
        f"test {n_test}")

    # heads: the same seed gives the same heads whatever --heads holds
    heads = {}
    for kind in KINDS:
        torch.manual_seed(args.seed + (0 if kind == "small" else 1))
        hs = [make_head(kind, shapes[k][0], classes, args.large_mult) for k in range(L - 1)]
        if kind in kinds:
            heads[kind] = [h.to(memory_format=torch.channels_last) for h in hs]
    hmacs = {kind: [macs_of(h.eval(), torch.zeros((1,) + shapes[k]))[1]
                    for k, h in enumerate(hs)] for kind, hs in heads.items()}
    train_s = train_heads(blocks, heads, x_tr, y_tr, args, log)
    log(f"augment.py: heads trained in {train_s:.1f} s")
    t0 = time.time()
    cal_t = tables(blocks, heads, classifier, x_cal)
    test_t = tables(blocks, heads, classifier, x_te)
    eval_s = time.time() - t0

    tmp = tempfile.mkdtemp(prefix=".augment-", dir=parent)
    try:
        summary = {"module": args.module, "weights": args.weights, "blocks": args.blocks,
                   "classifier": args.classifier, "classes": classes,
                   "splits": {"train": int(n_train), "calibration": int(args.cal_samples),
                              "test": int(n_test), "seed": args.seed,
                              "rule": "training set permuted with numpy default_rng(seed): "
                                      "calibration = first cal, train = next train; test = "
                                      "first test of the test set"},
                   "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                   "augment": not args.no_augment, "threads": args.threads,
                   "large_mult": args.large_mult, "mean": args.mean, "std": args.std,
                   "torch": torch.__version__,
                   "head_training_seconds": round(train_s, 1),
                   "table_seconds": round(eval_s, 1),
                   "block_shapes": [list(s) for s in shapes], "block_macs": bmacs,
                   "classifier_macs": cmacs, "kinds": {}}
        np.save(os.path.join(tmp, "cal-labels.npy"), y_cal)
        np.save(os.path.join(tmp, "cal-indices.npy"), cal_i.astype(np.int64))
        np.save(os.path.join(tmp, "test-labels.npy"), y_te)
        cum = np.cumsum(bmacs).tolist()
        for kind in heads:
            head = hmacs[kind] + [cmacs]
            macs = [cum[k] + head[k] for k in range(L)]
            aug = Augmented(blocks, heads[kind], classifier).eval()
            folder = os.path.join(tmp, f"model-{kind}")
            try:
                exporter.export(aug, example, folder, name=args.name or f"augmented-{kind}",
                                mean=args.mean, std=args.std, splitee=exe, tol=args.tol, log=log)
            except exporter.ExportError as e:
                raise AugmentError(f"the augmented model cannot be exported: {e}")
            except exporter.CheckError as e:
                raise AugmentCheckError(f"export check: {e}")
            stage_c, head_c = profile_macs(exe, folder)
            if stage_c != bmacs or head_c != head:
                raise AugmentCheckError(f"MACs differ from splitee profile: stages {bmacs} vs "
                                        f"{stage_c}, heads {head} vs {head_c}")
            diffs = {}
            for split, x, t in (("calibration", x_cal, cal_t[kind]), ("test", x_te, test_t[kind])):
                c = c_logits(exe, folder, x)
                if c.shape != t.shape:
                    raise AugmentCheckError(f"splitee logits on the {split} split wrote {c.shape}, "
                                            f"PyTorch {t.shape}")
                d = float(np.abs(c.astype(np.float64) - t).max())
                agree = float((c.argmax(-1) == t.argmax(-1)).mean())
                if not (d <= args.tol):
                    raise AugmentCheckError(f"the C engine's logits on the {split} split differ "
                                            f"from PyTorch by {d:.3g} (> {args.tol:g})")
                diffs[split] = {"max_abs_diff": d, "prediction_agreement": agree}
            log(f"augment.py: {kind}: MACs equal splitee profile's; C vs PyTorch max |diff| "
                f"calibration {diffs['calibration']['max_abs_diff']:.3g}, test "
                f"{diffs['test']['max_abs_diff']:.3g}")
            np.save(os.path.join(tmp, f"cal-{kind}.npy"), cal_t[kind])
            np.save(os.path.join(tmp, f"test-{kind}.npy"), test_t[kind])
            for f, v in ((f"macs-{kind}.json", macs), (f"head-macs-{kind}.json", head)):
                with open(os.path.join(tmp, f), "w") as fh:
                    fh.write(json.dumps(v) + "\n")
            acc_c = (cal_t[kind].argmax(-1) == y_cal[:, None]).mean(0)
            acc_t = (test_t[kind].argmax(-1) == y_te[:, None]).mean(0)
            summary["kinds"][kind] = {
                "candidates": [{"point": k + 1, "head": "final" if k == L - 1 else kind,
                                "macs": macs[k], "head_macs": head[k],
                                "relative_macs": round(macs[k] / macs[-1], 4),
                                "acc_calibration": round(float(acc_c[k]), 4),
                                "acc_test": round(float(acc_t[k]), 4)} for k in range(L)],
                "c_engine": diffs}
            log(f"augment.py: {kind}: test accuracy per candidate "
                + " ".join(f"{a:.4f}" for a in acc_t))
        with open(os.path.join(tmp, "summary.json"), "w") as fh:
            json.dump(summary, fh, indent=1)
            fh.write("\n")
        os.makedirs(args.out, exist_ok=True)
        for f in sorted(os.listdir(tmp)):
            dst = os.path.join(args.out, f)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.replace(os.path.join(tmp, f), dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"augment.py: wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AugmentError as e:
        print(f"augment.py: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    except AugmentCheckError as e:
        print(f"augment.py: check failed: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(1)
