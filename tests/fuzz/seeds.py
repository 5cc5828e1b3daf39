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


def cnn_v2(seed):
    """A small model of format version 2 (docs/ENGINE.md): input (2, 8, 8),
    stage 1 conv2d + folded batchnorm + relu6 [save a], depthwise conv2d +
    batchnorm + hardswish, pointwise conv2d, add a; exit global_avgpool +
    linear. Stage 2 strided conv2d [save c] + standalone batchnorm + silu,
    maxpool, grouped dilated conv2d + relu, avgpool; exit flatten, linear,
    gelu, layernorm, linear. Stage 3 patch_embed + pos_embed [save t],
    layernorm, linear, attention, linear, add t; exit layernorm, token_mean,
    linear. (json bytes, safetensors bytes)."""
    op = lambda kind, **kw: dict(op=kind, **kw)
    stages = [
        {"ops": [op("conv2d", param="a.c", out=4, kernel=3, padding=1, bias=False),
                 op("batchnorm", param="a.bn"), op("relu6", save="a"),
                 op("conv2d", param="a.dw", out=4, kernel=3, padding=1, groups=4),
                 op("batchnorm", param="a.bn2", eps=1e-3), op("hardswish"),
                 op("conv2d", param="a.pw", out=4, kernel=1), op("add", **{"from": "a"})],
         "exit": [op("global_avgpool"), op("linear", param="ea.fc", out=3)]},
        {"ops": [op("conv2d", param="b.c", out=6, kernel=[3, 2], stride=[2, 1], padding=1,
                    dilation=[1, 2], save="c"),
                 op("batchnorm", param="b.bn"), op("silu"), op("maxpool", kernel=2),
                 op("conv2d", param="b.gc", out=6, kernel=3, padding=2, dilation=2, groups=2),
                 op("relu"), op("avgpool", kernel=3, stride=1, padding=1, count_include_pad=False)],
         "exit": [op("flatten"), op("linear", param="eb.fc1", out=5), op("gelu"),
                  op("layernorm", param="eb.ln"), op("linear", param="eb.fc2", out=3)]},
        {"ops": [op("patch_embed", param="c.patch", patch=2, dim=4),
                 op("pos_embed", param="c.pos", save="t"), op("layernorm", param="c.ln"),
                 op("linear", param="c.qkv", out=12), op("attention", heads=2),
                 op("linear", param="c.proj", out=4, bias=False), op("add", **{"from": "t"})],
         "exit": [op("layernorm", param="ec.ln"), op("token_mean"),
                  op("linear", param="ec.fc", out=3)]},
    ]
    # split shapes: (2, 8, 8), (4, 8, 8), (6, 2, 4) [c: (6, 4, 8), maxpool 2], (2, 4)
    bn = lambda p, n: [(p + ".weight", (n,)), (p + ".bias", (n,)),
                       (p + ".running_mean", (n,)), (p + ".running_var", (n,))]
    shapes = ([("a.c.weight", (4, 2, 3, 3))] + bn("a.bn", 4) +
              [("a.dw.weight", (4, 1, 3, 3)), ("a.dw.bias", (4,))] + bn("a.bn2", 4) +
              [("a.pw.weight", (4, 4, 1, 1)), ("a.pw.bias", (4,)),
               ("ea.fc.weight", (3, 4)), ("ea.fc.bias", (3,)),
               ("b.c.weight", (6, 4, 3, 2)), ("b.c.bias", (6,))] + bn("b.bn", 6) +
              [("b.gc.weight", (6, 3, 3, 3)), ("b.gc.bias", (6,)),
               ("eb.fc1.weight", (5, 48)), ("eb.fc1.bias", (5,)),
               ("eb.ln.weight", (5,)), ("eb.ln.bias", (5,)),
               ("eb.fc2.weight", (3, 5)), ("eb.fc2.bias", (3,)),
               ("c.patch.weight", (4, 24)), ("c.patch.bias", (4,)), ("c.pos", (2, 4)),
               ("c.ln.weight", (4,)), ("c.ln.bias", (4,)),
               ("c.qkv.weight", (12, 4)), ("c.qkv.bias", (12,)), ("c.proj.weight", (4, 4)),
               ("ec.ln.weight", (4,)), ("ec.ln.bias", (4,)),
               ("ec.fc.weight", (3, 4)), ("ec.fc.bias", (3,))])
    tensors = []
    for i, (name, shape) in enumerate(shapes):
        count = 1
        for d in shape:
            count *= d
        vals = floats(count, seed + i)
        if name.endswith("running_var"):
            vals = [1.0 + abs(v) for v in vals]   # variances must not be negative
        tensors.append((name, shape, vals))
    doc = {"format": "splitee-model", "version": 2, "name": "fuzz-cnn",
           "weights": "model.safetensors", "dtype": "F32", "classes": 3,
           "input": {"shape": [2, 8, 8], "mean": 0.25, "std": 0.5}, "stages": stages}
    return json.dumps(doc, separators=(",", ":")).encode(), safetensors(tensors)


def model_seeds():
    out = {}
    for layers in (1, 2):
        js, st = tiny_model(layers, layers)
        out["tiny-%d-layers" % layers] = struct.pack("<H", len(js)) + js + st
    with open(os.path.join(MODEL, "model.json"), "rb") as f:
        shipped = f.read()
    _, st = tiny_model(1, 3)
    out["shipped-json-tiny-weights"] = struct.pack("<H", len(shipped)) + shipped + st
    js, st = cnn_v2(5)
    out["v2-cnn"] = struct.pack("<H", len(js)) + js + st
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
    """Payloads of the shipped model's split shapes (model.h): the raw
    (1, 28 x 28) image at split point 0, (tokens, dim) after every layer."""
    with open(os.path.join(MODEL, "model.json")) as f:
        c = json.load(f)
    t, d = c["tokens"], c["dim"]
    raw = c["image_size"] * c["image_size"] * c["channels"]
    return {"f32-layer3": payload(0, 3, t, d, 1), "f16-layer1": payload(1, 1, t, d, 2),
            "int8-layer0": payload(2, 0, 1, raw, 3), "int8-last": payload(2, c["layers"], t, d, 4),
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
    v2 = (b'{"format": "splitee-catalog", "version": 2, "model": "model", "default_domain": "a", '
          b'"datasets": "/nonexistent", "test_set": {"images": "i.gz", "labels": "l.gz", "package": "p"}, '
          b'"tables": [{"domain": "a", "logits": "a.npy", "labels": "l.npy", "distortion": "clean"}, '
          b'{"domain": "c", "logits": "c.npy", "labels": "l.npy", "distortion": "noise", "model": "cnn", '
          b'"layer_cost": "cnn/layer-cost.json", "description": "d"}, '
          b'{"domain": "s", "logits": "s.npy", "labels": "sl.npy", "scenes": "sc.npy", "distortion": "stream"}]}')
    return {"shipped": shipped, "minimal": minimal, "v2": v2}


CALIBRATE = (b'{"command": "splitee calibrate", "table": "t.npy", "samples": 100, "exits": 3, '
             b'"risk": "accuracy-drop", "confidence": "entropy", "method": "ltt", "epsilon": 0.05, '
             b'"delta": 0.1, "threshold": 0.83, "empirical_risk": 0.01}')
CALIBRATE_SPLIT = (b'{"command": "splitee calibrate", "samples": 100, "exits": 4, "form": "split", '
                   b'"confidence": "max-softmax", "n": 100, "alphas": [0.9, 0.85, null], '
                   b'"layers": [{"layer": 1, "threshold": 0.9}]}')
CALIBRATE_SPLIT_OK = b'{"form": "split", "confidence": "margin", "alphas": [0.9, 0.85, 0.7]}'
TEMPORAL = b'{"command": "splitee calibrate", "form": "temporal", "rule": "difference", "theta": 0.42}'


def config_seeds():
    """fuzz_config input: a mode byte; modes 0 (replay) and 1 (device): two
    bytes N, N bytes of --config JSON, the file input1 the config may name;
    modes 2-5: the file of --alpha-from, --theta-from, a cost vector, --alphas."""
    pair = lambda mode, cfg, aux=b"": bytes([mode]) + struct.pack("<H", len(cfg)) + cfg + aux
    with open(os.path.join(ROOT, "data", "cnn", "layer-cost.json"), "rb") as f:
        layer_cost = f.read()
    replay = (b'{"alpha": "0.7,0.8", "confidence": "entropy", "rule": "threshold", "lambda": [0.1, 0.2], '
              b'"mu": 1, "offload": "0.1:0.3:0.1", "policy": ["splitee", "final", "ucb-v"], "beta": 1, '
              b'"reps": 3, "quiet": true, "layer-cost": "input1", "domain": "noise", "threads": 2, '
              b'"encoding": "int8", "link": "lte", "csv": "out.csv", "checkpoints": 10}')
    device = (b'{"model": "m", "images": "i.idx", "labels": "none", "distort": "noise:0.2", "limit": 5, '
              b'"tls-cert": "c.pem", "tls-key": "k.pem", "tls-ca": "ca.pem", "rule": "per-exit", '
              b'"alphas": "input1", "policy": "splitee", "seed": 3, "state": "s.json", "save-every": 7, '
              b'"offload-cost": [0.1, 0.2, 0.3]}')
    return {"replay": pair(0, replay, b"0.1\n0.2\n# c\n0.3\n"),
            "replay-alpha-from": pair(0, b'{"alpha-from": "input1", "alpha": 0.5}', CALIBRATE),
            "replay-theta": pair(0, b'{"rule": "temporal-patience", "theta-from": "input1", "theta": 1}', TEMPORAL),
            "device": pair(1, device, b"[0.9, 0.8, 0.7]"),
            "device-plain": pair(1, b'{"plaintext": true, "domain": "blur", "alpha-from": "input1", '
                                    b'"rule": "per-exit"}', CALIBRATE_SPLIT_OK),
            "alpha-from": bytes([2]) + CALIBRATE,
            "alpha-from-split": bytes([2]) + CALIBRATE_SPLIT,
            "theta-from": bytes([3]) + TEMPORAL,
            "vector-layer-cost": bytes([4]) + layer_cost,
            "vector-array": bytes([4]) + b"[0.5, 1e-3, 2]",
            "vector-lines": bytes([4]) + b"# macs\n426656\n1217008\n\n  1072752\n",
            "alphas": bytes([5]) + b"[0.9, 0.8, 0.7, 0.6]",
            "alphas-lines": bytes([5]) + b"0.9\n0.8\n"}


def variant_seeds():
    """fuzz_variant input: the kept-exits byte, then a model as for fuzz_model."""
    out = {}
    for name, data in model_seeds().items():
        for keep in (0, 1, 0x55, 0xff):
            out["%s-keep-%02x" % (name, keep)] = bytes([keep]) + data
    return out


def http_seeds():
    """fuzz_http input: the read size - 1, then what a scraper sends."""
    return {"get": bytes([255]) + b"GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\nAccept: */*\r\n\r\n",
            "get-bytewise": bytes([0]) + b"GET /metrics?x=1 HTTP/1.0\n\n",
            "head": bytes([2]) + b"HEAD /metrics HTTP/1.1\r\n\r\n",
            "post": bytes([7]) + b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "not-found": bytes([255]) + b"GET / HTTP/1.1\r\n\r\n",
            "bad": bytes([255]) + b"GET /metrics HTTP/2\r\n\r\n",
            "too-large": bytes([255]) + b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 2100}


def tls_seeds():
    """fuzz_tls input: byte 0 even, then raw bytes for the server's
    handshake (a real TLS 1.3 ClientHello from Python's ssl module when it
    is there, a bare record header); byte 0 odd, byte 1 the client's write
    size - 1, then application data (wire frames as in frame_seeds)."""
    seeds = {"record-header": bytes([0]) + b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
             "plaintext-frame": bytes([0]) + frame(1, 0, 1, 1, b"\x00" * 8)}
    try:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        seeds["client-hello"] = bytes([0]) + out.read()
    except (ImportError, AttributeError, OSError):   # ssl.SSLError is an OSError
        pass
    for name, data in frame_seeds().items():
        seeds["data-" + name] = bytes([1]) + data[:1] + data[2:]
    return seeds


SEEDS = {
    "config": config_seeds,
    "http": http_seeds,
    "variant": variant_seeds,
    "tls": tls_seeds,
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
