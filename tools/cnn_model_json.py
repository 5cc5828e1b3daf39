#!/usr/bin/python3
"""Write data/cnn's model.json + model.safetensors straight from a state_dict.

What this file is for: a stand-in for tools/export.py on exactly one
network, tools/models/mobilenet_ee.py, written while the exporter refused
it (its last exit, GAP -> Flatten -> Linear after a conv head, failed the
exporter's op-chain check on 2026-12-02). It walks the module structure
the model file defines (stem, inverted residual blocks, exit heads) and
writes the version 2 op lists by hand; batch norms are written as
`batchnorm` ops after their convolutions, which the engine folds at load.
tools/ship_cnn.sh uses it only with --direct; the exporter is the normal
path and gives the same graph.

Usage (Debian's PyTorch):
  /usr/bin/python3 tools/cnn_model_json.py WEIGHTS.pt OUT_DIR
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "models"))
import train  # noqa: E402  (write_safetensors, PIXEL_MEAN/STD)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import mobilenet_ee  # noqa: E402


def conv_op(name, m):
    op = {"op": "conv2d", "param": name, "out": m.out_channels, "kernel": list(m.kernel_size)}
    if m.stride != (1, 1):
        op["stride"] = list(m.stride)
    if m.padding != (0, 0):
        op["padding"] = list(m.padding)
    if m.groups != 1:
        op["groups"] = m.groups
    if m.bias is None:
        op["bias"] = False
    return op


def seq_ops(prefix, seq):
    """Ops of an nn.Sequential of Conv2d / BatchNorm2d / ReLU6 / pooling /
    Flatten / Linear / InvertedResidual, in order."""
    ops = []
    for i, m in enumerate(seq):
        name = f"{prefix}.{i}"
        if isinstance(m, nn.Conv2d):
            ops.append(conv_op(name, m))
        elif isinstance(m, nn.BatchNorm2d):
            ops.append({"op": "batchnorm", "param": name, "eps": m.eps})
        elif isinstance(m, nn.ReLU6):
            ops.append({"op": "relu6"})
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            assert m.output_size in (1, (1, 1))
            ops.append({"op": "global_avgpool"})
        elif isinstance(m, nn.Flatten):
            ops.append({"op": "flatten"})
        elif isinstance(m, nn.Linear):
            ops.append({"op": "linear", "param": name, "out": m.out_features})
        elif isinstance(m, mobilenet_ee.InvertedResidual):
            body = seq_ops(f"{name}.body", m.body)
            if m.residual:
                if ops:                       # the block's input is the previous op's output
                    ops[-1]["save"] = f"r{i}"
                    body.append({"op": "add", "from": f"r{i}"})
                else:
                    body.append({"op": "add", "from": "input"})
            ops += body
        else:
            raise SystemExit(f"cnn_model_json.py: {name}: {type(m).__name__} is not handled")
    return ops


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tools/cnn_model_json.py WEIGHTS.pt OUT_DIR")
    weights, out = sys.argv[1], sys.argv[2]
    model = mobilenet_ee.make()
    state = torch.load(weights, map_location="cpu")
    model.load_state_dict(state)
    model.eval()
    stages = []
    for k, (st, ex) in enumerate(zip(model.stages, model.exits)):
        if isinstance(st, nn.Sequential):        # stage 1: the stem and block 1
            ops = seq_ops(f"stages.{k}", st)
        else:                                    # a bare block: stages.k.body.*
            ops = seq_ops(f"stages.{k}.body", st.body)
            if st.residual:
                ops.append({"op": "add", "from": "input"})
        stages.append({"name": f"block{k + 1}", "ops": ops, "exit": seq_ops(f"exits.{k}", ex)})
    doc = {"format": "splitee-model", "version": 2, "name": "mobilenet-ee",
           "weights": "model.safetensors", "dtype": "F32", "classes": mobilenet_ee.CLASSES,
           "metadata": {"written_by": "tools/cnn_model_json.py from tools/models/mobilenet_ee.py"},
           "input": {"shape": [1, 28, 28], "mean": train.PIXEL_MEAN, "std": train.PIXEL_STD},
           "stages": stages}
    os.makedirs(out, exist_ok=True)
    tensors = [(n, t) for n, t in model.state_dict().items() if not n.endswith("num_batches_tracked")]
    train.write_safetensors(os.path.join(out, "model.safetensors"), tensors,
                            {"format": "pt", "written_by": "tools/cnn_model_json.py"})
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
