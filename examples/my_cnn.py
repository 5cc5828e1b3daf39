#!/usr/bin/python3
"""A user-written multi-exit CNN for Fashion-MNIST: the worked example of
docs/EXPORT.md ("bring your own network").

Nothing here is splitee's: it is an ordinary PyTorch module whose forward
returns the three exits' logits as a list, shallowest first, which is all
tools/export.py asks for. Run as a script it trains the network (all exits
jointly, the mean of their cross-entropies) and saves its state_dict:

  /usr/bin/python3 examples/my_cnn.py --epochs 2 --out results/my_cnn.pt

  stage 1  conv 3x3 1->16 stride 2, BN, ReLU            16 x 14 x 14
  stage 2  depthwise 3x3 stride 2, BN, ReLU6,
           pointwise 16->32, BN, ReLU6                  32 x 7 x 7
  stage 3  a residual block: pointwise 32->64, BN,
           ReLU6, depthwise 3x3, BN, ReLU6,
           pointwise 64->32, BN, + input                32 x 7 x 7
  exit k   global average pool, linear to 10 classes
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530   # Fashion-MNIST's training set


def conv_bn(cin, cout, k, stride=1, groups=1, act=nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, c, expand=2):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c, c * expand, 1),
                                  conv_bn(c * expand, c * expand, 3, groups=c * expand),
                                  conv_bn(c * expand, c, 1, act=None))

    def forward(self, x):
        return x + self.body(x)


class MyCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stage1 = conv_bn(1, 16, 3, stride=2, act=nn.ReLU)
        self.stage2 = nn.Sequential(conv_bn(16, 16, 3, stride=2, groups=16), conv_bn(16, 32, 1))
        self.stage3 = Residual(32)
        self.exits = nn.ModuleList([nn.Linear(16, classes), nn.Linear(32, classes),
                                    nn.Linear(32, classes)])

    def forward(self, x):
        outs = []
        for stage, fc in zip([self.stage1, self.stage2, self.stage3], self.exits):
            x = stage(x)
            outs.append(fc(x.mean((2, 3))))
        return outs


def make():
    """The factory tools/export.py calls (--module examples/my_cnn.py:make)."""
    return MyCNN()


def main():
    ap = argparse.ArgumentParser(description="trains MyCNN on Fashion-MNIST")
    ap.add_argument("--out", required=True, help="the state_dict to write (torch.save)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    import train   # splitee's IDX reader (tools/train.py)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    img, lab = train.load_split("train")
    x = (torch.from_numpy(img.copy()).float()[:, None] / 255 - PIXEL_MEAN) / PIXEL_STD
    y = torch.from_numpy(lab)
    model = make()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for epoch in range(args.epochs):
        model.train()
        t0, perm = time.time(), torch.randperm(len(x))
        for s in range(0, len(x), 128):
            i = perm[s:s + 128]
            loss = sum(F.cross_entropy(o, y[i]) for o in model(x[i])) / 3
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    model.eval()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
