#!/usr/bin/env python3
"""seeds.py -- writes small valid seed inputs for the libFuzzer targets of
tests/fuzz/ (docs/FUZZING.md), derived from the shipped files where that
makes sense, so that no corpus needs committing.

    tests/fuzz/seeds.py OUTDIR [TARGET...]

writes OUTDIR/TARGET/NAME for each target it knows (all by default); a
target it does not know gets no seeds and starts from an empty corpus.
Adding seeds for a target: one function below and one line in SEEDS.
Standard library only; deterministic; every seed is a few KB at most."""
import gzip
import json
import os
import struct
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODEL = os.path.join(ROOT, "data", "model")


def floats(n, seed=1):
    """n small deterministic finite float32 values."""
    return [((i * 37 + seed * 11) % 17 - 8) / 16.0 for i in range(n)]


# ---- model: 2-byte JSON length, model.json, safetensors ----------------------

def safetensors(tensors):
    """A safetensors file from [(name, shape, values)], F32, header padded
    to 8 bytes as the reference writer does."""
    header, data = {"__metadata__": {"format": "splitee-model"}}, b""
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def tiny_model(layers, seed):
    """The shipped architecture (its model.json and its tensor names and
    shape pattern) shrunk to dim 4, 2 heads, 4x4 images of 2x2 patches, 3
    classes and `layers` layers: (json bytes, safetensors bytes)."""
    with open(os.path.join(MODEL, "model.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(MODEL, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    c = cfg
    tiny = dict(dim=4, heads=2, mlp_hidden=8, classes=3, image_size=4, patch_size=2,
                tokens=4, layers=layers)
    pd, tpd = c["patch_size"] ** 2 * c["channels"], tiny["patch_size"] ** 2
    size_map = {c["dim"]: tiny["dim"], 3 * c["dim"]: 3 * tiny["dim"],
                c["mlp_hidden"]: tiny["mlp_hidden"], c["classes"]: tiny["classes"],
                c["tokens"]: tiny["tokens"], pd: tpd}
    if len(size_map) != 6:
        raise SystemExit("seeds.py: the shipped sizes are ambiguous; update tiny_model")
    tensors = []
    for name, e in header.items():
        if name == "__metadata__":
            continue
        parts = name.split(".")
        if parts[0] in ("layers", "exits") and int(parts[1]) >= layers:
            continue
        shape = [size_map[d] for d in e["shape"]]
        count = 1
        for d in shape:
            count *= d
        tensors.append((name, shape, floats(count, seed + len(tensors))))
    cfg.update(tiny)
    js = json.dumps(cfg, indent=1).encode()
    return js, safetensors(tensors)


def model_seeds():
    out = {}
    for layers in (1, 2):
        js, st = tiny_model(layers, layers)
        out["tiny-%d-layers" % layers] = struct.pack("<H", len(js)) + js + st
    with open(os.path.join(MODEL, "model.json"), "rb") as f:
        shipped = f.read()
    _, st = tiny_model(1, 3)
    out["shipped-json-tiny-weights"] = struct.pack("<H", len(shipped)) + shipped + st
    return out


# ---- payload: the wire bytes of an activation ----------------------------------

def payload(enc, layer, tokens, dim, seed):
    n = tokens * dim
    vals = floats(n, seed)
    if enc == 0:
        body = struct.pack("<%df" % n, *vals)
    elif enc == 1:
        body = struct.pack("<%de" % n, *vals)
    else:
        scale = max(abs(v) for v in vals) / 127.0
        body = struct.pack("<f", scale) + bytes(round(v / scale) & 0xFF for v in vals)
    return b"SPLA" + struct.pack("<HBBIIII", 1, enc, 0, layer, tokens, dim, len(body)) + body


def payload_seeds():
    with open(os.path.join(MODEL, "model.json")) as f:
        c = json.load(f)
    t, d = c["tokens"], c["dim"]
    return {"f32-layer3": payload(0, 3, t, d, 1), "f16-layer1": payload(1, 1, t, d, 2),
            "int8-layer0": payload(2, 0, t, d, 3), "int8-last": payload(2, c["layers"], t, d, 4),
            "f32-small": payload(0, 2, 2, 3, 5)}


# ---- npy -----------------------------------------------------------------------

def npy(descr, shape, raw, fortran=False):
    if len(shape) == 1:
        shp = "(%d,)" % shape[0]
    else:
        shp = "(" + ", ".join(str(s) for s in shape) + ")"
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)
    h += " " * (-(10 + len(h) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + raw


def npy_seeds():
    # The shipped clean table cut to its first two samples.
    with open(os.path.join(ROOT, "data", "fmnist-clean.npy"), "rb") as f:
        head = f.read(10)
        hlen = struct.unpack("<H", head[8:10])[0]
        header = f.read(hlen).decode()
        shape = header.split("'shape': (")[1].split(")")[0]
        exits, classes = [int(s) for s in shape.split(",")[1:3]]
        table = f.read(2 * exits * classes * 4)
    return {"table-2-samples": npy("<f4", (2, exits, classes), table),
            "labels-i64": npy("<i8", (5,), struct.pack("<5q", 0, 1, 2, 9, 3)),
            "f64-scalar": npy("<f8", (), struct.pack("<d", 0.5)),
            "u1-matrix": npy("|u1", (3, 3), bytes(range(9))),
            "i4-3d": npy("<i4", (2, 1, 2), struct.pack("<4i", -1, 0, 1, 7))}


# ---- IDX: 2-byte image-file length, image file, label file ----------------------

def idx(dims, raw):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + struct.pack(">%dI" % len(dims), *dims) + raw


def idx_seeds():
    images = idx((3, 4, 4), bytes((i * 53) % 256 for i in range(48)))
    labels = idx((3,), bytes([1, 0, 9]))
    gz = lambda b: gzip.compress(b, mtime=0)
    pair = lambda a, b: struct.pack("<H", len(a)) + a + b
    return {"plain": pair(images, labels), "gzip": pair(gz(images), gz(labels)),
            "gzip-images": pair(gz(images), labels)}


def frame(ftype, enc, rid, layer, body):
    """One wire frame (include/splitee/wire.h): header + body."""
    return (b"SPLW" + struct.pack("<HBBIIII", 1, ftype, enc, rid, layer, len(body),
                                  zlib.crc32(body) & 0xFFFFFFFF) + body)


def frame_seeds():
    """fuzz_frame input: read size byte, max-frame byte, then a stream of
    frames (a small request, a response, an error, and two back to back)."""
    req = frame(1, 2, 7, 3, payload(2, 3, 2, 4, 5))
    resp = frame(2, 0, 7, 3, struct.pack("<IIdd", 4, 11, 0.93, 812.5))
    err = frame(3, 0, 8, 1, struct.pack("<i", -3) + b"payload: bad magic")
    return {
        "request": bytes([255, 255]) + req,
        "response-bytewise": bytes([0, 255]) + resp,
        "error": bytes([16, 255]) + err,
        "two": bytes([40, 255]) + req + resp,
    }


def link_seeds():
    """fuzz_link input: two bytes N, N bytes of profile JSON, then the
    trace file it may name as "input1" (data/links/ shapes)."""
    pair = lambda a, b=b"": struct.pack("<H", len(a)) + a + b
    const = b'{"name": "c", "uplink_mbps": 5.85, "downlink_mbps": 13, "rtt_ms": 50, "radio": "lte"}'
    ge = (b'{"name": "g", "uplink_mbps": 5.85, "rtt_ms": 50, "loss": {"model": "gilbert-elliott",'
          b' "p": 0.01, "r": 0.5, "1-h": 1, "1-k": 0}, "tcp": {"rto_min_ms": 200}, "radio": "lte"}')
    mm = (b'{"name": "m", "downlink_mbps": 13, "rtt_ms": 50, "trace": {"file": "input1",'
          b' "format": "mahimahi", "bin_ms": 100, "loop": true}}')
    mb = (b'{"name": "t", "downlink_mbps": 13, "rtt_ms": 50, "radio": "wifi", "trace": {"file": "input1",'
          b' "format": "mbps", "start_s": 2, "loop": false}}')
    return {"constant": pair(const), "gilbert-elliott": pair(ge),
            "mahimahi": pair(mm, b"0\n0\n3\n7\n250\n251\n900\n"),
            "mbps": pair(mb, b"0 5.8\n1 0.5\n2.5 0\n3 12\n")}


def state_seeds():
    """fuzz_state input: a kind byte, then saved policy state (the shape
    splitee_policy_save writes: bandit/policy.c, nonstationary.c)."""
    base = ('{"kind": "%s", "arms": 6, "beta": 1, "epsilon": 0.05, "prior_sd": 0.5, "fixed_arm": 2, '
            '"side_info": "honest", "rounds": 7, "n": [2, 1, 1, 1, 1, 1], '
            '"sum": [1.2, 0.5, 0.4, 0.3, 0.2, 0.1], "sumsq": [0.8, 0.25, 0.16, 0.09, 0.04, 0.01]%s}')
    sw = (', "window": 50, "fresh_rounds": 7, "history": {"arm": [0, 0, 1, 2, 3, 4, 5], '
          '"reward": [0.6, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], "round": [0, 1, 2, 3, 4, 5, 6]}')
    return {"splitee": bytes([0]) + (base % ("splitee", "")).encode(),
            "splitee-s": bytes([1]) + (base % ("splitee-s", "")).encode(),
            "d-ucb": bytes([12]) + (base % ("d-ucb", ', "discount": 0.999')).encode(),
            "sw-ucb": bytes([11]) + (base % ("sw-ucb", sw)).encode()}


def catalog_seeds():
    """fuzz_catalog input: a catalog.json (the shipped one, and a minimal one)."""
    with open(os.path.join(ROOT, "data", "catalog.json"), "rb") as f:
        shipped = f.read()
    minimal = (b'{"format": "splitee-catalog", "version": 1, "model": "m", "default_domain": "a", '
               b'"tables": [{"domain": "a", "logits": "a.npy", "labels": "l.npy", "distortion": "clean"}]}')
    return {"shipped": shipped, "minimal": minimal}


SEEDS = {
    "catalog": catalog_seeds,
    "state": state_seeds,
    "link": link_seeds,
    "frame": frame_seeds,
    "model": model_seeds,
    "payload": payload_seeds,
    "npy": npy_seeds,
    "idx": idx_seeds,
}


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: seeds.py OUTDIR [TARGET...]")
    out, targets = sys.argv[1], sys.argv[2:] or list(SEEDS)
    for t in targets:
        if t not in SEEDS:
            continue
        os.makedirs(os.path.join(out, t), exist_ok=True)
        for name, data in SEEDS[t]().items():
            with open(os.path.join(out, t, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
