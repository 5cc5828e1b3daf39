#!/usr/bin/python3
"""Round-by-round re-statement of the SplitEE authors' published simulation.

What this file is for: checking that `splitee replay --reference` makes the
same choices as the algorithm published with the SplitEE paper (files
SplitEE.py and SplitEE_S.py of the authors' repository), on the same table in
the same order. It restates their loop in plain Python, keeping the details
that decide which arm is chosen:

  * initialisation: arm i gets one reward, computed on the i-th sample of the
    order; counts start at 1; the pass then starts again at sample 0;
  * index: rewards_sum[a] / counts[a] + c * sqrt(log(trial + 1) / counts[a]),
    with trial the 0-based position in the pass; the first arm with the
    strictly largest index wins;
  * reward: C_a - lambda*(a+1) when exit a is confident (or a is the last
    layer), else C_L - o - lambda*(a+1);
  * SplitEE-S: every arm below the chosen one is updated with the reward it
    would have had on the sample, using C_L whether or not it was observed.

Confidences are max softmax probabilities computed as 1 / sum_k exp(z_k - max z)
with the terms added in class order, as splitee computes them.

Usage:
  /usr/bin/python3 tools/reference_splitee.py LOGITS.npy --alpha A --lambda L
      --offload O [--side] [--beta C] > arms.txt     (one 1-based layer a line)
"""
import argparse
import math
import sys

import numpy as np


def confidences(logits):
    n, L, _ = logits.shape
    conf = np.empty((n, L))
    for s in range(n):
        for e in range(L):
            z = [float(v) for v in logits[s, e]]
            m = max(z)
            tot = 0.0
            for v in z:
                tot += math.exp(v - m)
            conf[s, e] = 1.0 / tot
    return conf


def reward(row, arm, alpha, lam, o):
    last = len(row) - 1
    if arm < last and row[arm] < alpha:
        return row[last] - o - lam * (arm + 1)
    return row[arm] - lam * (arm + 1)


def run(conf, alpha, lam, o, beta, side):
    n, L = conf.shape
    sums = [reward(conf[a % n], a, alpha, lam, o) for a in range(L)]
    counts = [1.0] * L
    arms = []
    for trial in range(n):
        row = conf[trial]
        best, best_val = -1, -math.inf
        for a in range(L):
            val = sums[a] / counts[a] + beta * math.sqrt(math.log(trial + 1) / counts[a])
            if val > best_val:
                best, best_val = a, val
        if side:
            for j in range(best):
                sums[j] += reward(row, j, alpha, lam, o)
                counts[j] += 1
        sums[best] += reward(row, best, alpha, lam, o)
        counts[best] += 1
        arms.append(best + 1)
    return arms


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logits")
    ap.add_argument("--alpha", type=float, required=True)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.1)
    ap.add_argument("--offload", type=float, required=True)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--side", action="store_true", help="SplitEE-S (reference side information)")
    args = ap.parse_args()
    conf = confidences(np.load(args.logits))
    for a in run(conf, args.alpha, args.lam, args.offload, args.beta, args.side):
        sys.stdout.write(f"{a}\n")


if __name__ == "__main__":
    main()
