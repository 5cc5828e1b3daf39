#!/usr/bin/env python3
"""make_link_trace.py -- makes the small synthetic LTE uplink trace shipped in
data/links/ (lte-walk.trace, `time_s Mbit/s`) and its first 10 s in the
Mahimahi form (lte-walk.up, one millisecond per 1500-byte packet).

A synthetic trace, not a measurement: the log of the uplink rate follows an
AR(1) process sampled every second, x[t+1] = rho*x[t] + sqrt(1-rho^2)*sigma*e,
e ~ N(0, 1), rate = median * exp(x), with median 6 Mbit/s (Huang et al.,
MobiSys 2012, LTE median uplink), sigma 0.5, rho 0.9, clipped to
[0.2, 30] Mbit/s, 300 s, seed 2026. Pure Python: same output everywhere.

    /usr/bin/python3 tools/make_link_trace.py data/links
"""
import math
import random
import sys

MEDIAN, SIGMA, RHO, SECONDS, SEED = 6.0, 0.5, 0.9, 300, 2026
MAHIMAHI_SECONDS = 10


def rates():
    rng = random.Random(SEED)
    x, out = 0.0, []
    for _ in range(SECONDS):
        out.append(min(30.0, max(0.2, MEDIAN * math.exp(x))))
        x = RHO * x + math.sqrt(1 - RHO * RHO) * SIGMA * rng.gauss(0.0, 1.0)
    return out


def main(folder):
    r = rates()
    with open(f"{folder}/lte-walk.trace", "w") as f:
        f.write("# time_s uplink_Mbps -- synthetic LTE uplink made by tools/make_link_trace.py\n")
        for t, v in enumerate(r):
            f.write(f"{t} {v:.3f}\n")
    # Mahimahi: each second's rate as evenly spaced 1500-byte delivery
    # opportunities, carrying the fractional packet over to the next second.
    with open(f"{folder}/lte-walk.up", "w") as f:
        carry = 0.0
        for t in range(MAHIMAHI_SECONDS):
            pkts = round(r[t], 3) * 1e6 / (1500 * 8) + carry
            n = int(pkts)
            carry = pkts - n
            for i in range(n):
                f.write(f"{t * 1000 + (i * 1000) // n + 1}\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/links")
