#!/usr/bin/python3
"""Export a PyTorch multi-exit network to splitee's model format version 2.

What this file is for: turning a user's nn.Module whose forward(x) returns
the exits' logits as a list (shallowest first) into a splitee model folder
(model.json version 2 + model.safetensors, docs/ENGINE.md "Model format
version 2"), then checking the C engine against PyTorch on the example
input (`splitee logits --inputs X.npy --normalised`, every exit, max |diff|
at most --tol, 1e-4). docs/EXPORT.md is the user's page: the supported
modules and functions, the stage-boundary rule, the refusals.

How: the module (in eval mode) is traced with torch.fx, shapes are
propagated on the example input, and the graph is cut at split points:

  * exit k < L: its split point is the latest node (in the traced order)
    that exit k's output shares with a later exit's output -- the last
    trunk tensor the head reads;
  * the last exit L: if the last ops before its output are the same kinds,
    in the same order, as exit L-1's head, its head is those ops (the
    "mirror" rule); otherwise its split point is the latest node on the way
    to it with the rank of split point L-1 ((C, H, W) for a CNN) that the
    rest of the head reads alone;
  * override: a module attribute `splitee_exit_heads` listing, per exit,
    the qualified name of the submodule that begins its head; the split
    point is that submodule's input.

Stage k is the trunk between split points k-1 and k; exit k's head the
nodes only exit k needs. Each op list must be a chain (every op reads the
previous op's output) with residual adds of a tensor saved earlier in the
same list. Anything else, and any module or function without a splitee op,
is refused with one line naming the module's qualified name and the op.

Usage (Debian's PyTorch lives in /usr/bin/python3):
  /usr/bin/python3 tools/export.py --module FILE.py:FACTORY [--weights W.pt]
      --input-shape 1,28,28 --out DIR [--name NAME] [--mean M --std S]
      [--splitee build/splitee] [--no-check] [--check-inputs N] [--tol T]
  from export import export; export(model, example_input, "DIR")

Exit status: 0 exported (and checked), 1 the check failed (nothing
written), 2 refused or bad input (nothing written).
"""
import argparse
import contextlib
import ctypes
import io
import importlib.util
import json
import math
import operator
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402  (write_safetensors; sets the BLAS thread variables first)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.fx  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.fx.passes.shape_prop import ShapeProp  # noqa: E402

MAX_ELEMS = 1 << 30
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExportError(Exception):
    """A refusal: one line for the user, exit status 2."""


class CheckError(Exception):
    """The C engine disagrees with PyTorch: exit status 1."""


# ------------------------------------------------------------------ tracing --

class _Tracer(torch.fx.Tracer):
    """torch.fx's tracer, recording in node.meta['owner'] the qualified name of
    the module whose forward created each node (for the messages)."""

    def __init__(self):
        super().__init__()
        self.stack = []

    def call_module(self, m, forward, args, kwargs):
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.stack.pop()

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if kind == "call_module":
            node.meta["owner"] = target
        else:
            node.meta["owner"] = self.stack[-1] if self.stack else ""
        return node


def _user_line(e):
    """FILE:LINE of the deepest frame of e's traceback outside torch."""
    where = "?"
    tb = e.__traceback__
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if os.sep + "torch" + os.sep not in f and f != __file__:
            r = os.path.relpath(f)
            where = f"{f if r.startswith('..') else r}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _where(node):
    owner = node.meta.get("owner", "")
    return f"module '{owner}'" if owner else "the top-level forward"


def _fname(target):
    """A readable name of a call_function target: torch.relu, F.gelu, operator.add."""
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if mod.startswith("torch.nn.functional"):
        return "F." + name
    if mod in ("_operator", "operator"):
        return "operator." + name
    if mod.startswith("torch") or mod == "":
        return "torch." + name
    return f"{mod}.{name}"


def _opname(node, modules):
    """What the node calls, for messages: nn.Conv2d, torch.sigmoid, Tensor.view."""
    if node.op == "call_module":
        t = type(modules[node.target])
        return ("nn." if t.__module__.startswith("torch.nn") else "") + t.__name__
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "call_function":
        return _fname(node.target)
    return node.op


def _refuse(node, modules, why):
    raise ExportError(f"{_where(node)}: {_opname(node, modules)}: {why}")


# ---------------------------------------------------------- argument helpers --

def _bind(node, names, defaults):
    """node.args/kwargs bound to parameter names (the function's own order)."""
    out = dict(defaults)
    for n, a in zip(names, node.args):
        out[n] = a
    out.update(node.kwargs)
    return out


def _pair(v, what):
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return (v[0], v[1])
    raise ValueError(f"{what} {v!r} is not an int or a pair of ints")


def _pair_json(p):
    return p[0] if p[0] == p[1] else [p[0], p[1]]


def _is_tensor_node(node):
    tm = node.meta.get("tensor_meta")
    return isinstance(tm, torch.fx.passes.shape_prop.TensorMetadata)


def _tshape(node):
    """The node's tensor shape without the batch dimension (batch 1)."""
    return tuple(node.meta["tensor_meta"].shape)[1:]


# -------------------------------------------------------------- op mapping --
# Each mapping returns one of
#   ("alias", input_node)                       the node is its input (dropout, identity, ...)
#   ("op", input_node, op_dict, tensors)        one splitee op; tensors: name -> torch tensor
#   ("add", a, b)                               a residual add of two tensor nodes
#   ("pos", input_node, param_name, tensor)     pos_embed of a parameter
#   ("meta",)                                   a non-tensor node (x.size(0), ...) read by view

_RELU = {F.relu, torch.relu}
_ELEMENTWISE_FN = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6",
                   F.hardswish: "hardswish", F.silu: "silu", F.gelu: "gelu"}
_ELEMENTWISE_METHOD = {"relu": "relu"}
_ALIAS_FN = {F.dropout, F.dropout2d, F.alpha_dropout}
_ALIAS_METHOD = {"contiguous", "clone", "detach"}
_ADD_FN = {operator.add, torch.add, operator.iadd}
_VIEW_METHOD = {"view", "reshape", "flatten"}
_META_METHOD = {"size", "dim"}


def _inplace_ok(node, src):
    """An in-place activation is a plain one if no other node reads its input."""
    others = [u for u in src.users if u is not node]
    return not others


def _mean_dims(node, rank):
    a = _bind(node, ["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
    d = a["dim"]
    if d is None:
        return None, a["keepdim"]
    if isinstance(d, int):
        d = [d]
    return sorted(x % rank for x in d), a["keepdim"]


def _map_module(node, m, name, modules):
    src = node.args[0] if node.args else None
    if len(node.args) != 1 or node.kwargs or not isinstance(src, torch.fx.Node):
        _refuse(node, modules, "called with more than one tensor argument")
    t = type(m)
    if t in (nn.Dropout, nn.Dropout2d, nn.Dropout1d, nn.AlphaDropout, nn.Identity):
        return ("alias", src)
    if t is nn.Flatten:
        return ("view", src)
    if t is nn.Conv2d:
        if m.padding_mode != "zeros":
            _refuse(node, modules, f"padding_mode '{m.padding_mode}' (only zeros)")
        k, s, d = m.kernel_size, m.stride, m.dilation
        if isinstance(m.padding, str):
            if m.padding == "valid":
                p = (0, 0)
            else:   # 'same' (stride 1): total padding d (k - 1) per axis, split evenly
                tot = [d[i] * (k[i] - 1) for i in range(2)]
                if any(x % 2 for x in tot):
                    _refuse(node, modules, "padding='same' with an even window pads one side "
                            "more than the other (splitee pads both sides equally)")
                p = (tot[0] // 2, tot[1] // 2)
        else:
            p = tuple(m.padding)
        op = {"op": "conv2d", "param": name, "out": m.out_channels, "kernel": _pair_json(k)}
        if s != (1, 1):
            op["stride"] = _pair_json(s)
        if p != (0, 0):
            op["padding"] = _pair_json(p)
        if d != (1, 1):
            op["dilation"] = _pair_json(d)
        if m.groups != 1:
            op["groups"] = m.groups
        tensors = {name + ".weight": m.weight}
        if m.bias is None:
            op["bias"] = False
        else:
            tensors[name + ".bias"] = m.bias
        return ("op", src, op, tensors)
    if t in (nn.BatchNorm2d, nn.BatchNorm1d):
        if not m.track_running_stats or m.running_mean is None:
            _refuse(node, modules, "track_running_stats=False: batch statistics at inference "
                    "have no splitee op")
        c = m.num_features
        w = m.weight if m.affine else torch.ones(c)
        b = m.bias if m.affine else torch.zeros(c)
        op = {"op": "batchnorm", "param": name}
        if m.eps != 1e-5:
            op["eps"] = float(m.eps)
        return ("op", src, op, {name + ".weight": w, name + ".bias": b,
                                name + ".running_mean": m.running_mean,
                                name + ".running_var": m.running_var})
    if t in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.GELU):
        if getattr(m, "inplace", False) and not _inplace_ok(node, src):
            _refuse(node, modules, "inplace=True overwrites a tensor that other nodes read "
                    "(a residual?); use inplace=False")
        if t is nn.GELU and m.approximate != "none":
            _refuse(node, modules, f"approximate='{m.approximate}' (only the exact erf GELU)")
        kind = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hardswish",
                nn.SiLU: "silu", nn.GELU: "gelu"}[t]
        return ("op", src, {"op": kind}, {})
    if t is nn.Hardtanh:
        if (m.min_val, m.max_val) != (0.0, 6.0):
            _refuse(node, modules, f"Hardtanh({m.min_val}, {m.max_val}) (only (0, 6), relu6)")
        return ("op", src, {"op": "relu6"}, {})
    if t in (nn.MaxPool2d, nn.AvgPool2d):
        return _map_pool(node, src, "maxpool" if t is nn.MaxPool2d else "avgpool", modules,
                         m.kernel_size, m.stride, m.padding,
                         getattr(m, "dilation", 1), m.ceil_mode,
                         getattr(m, "return_indices", False),
                         getattr(m, "count_include_pad", True),
                         getattr(m, "divisor_override", None))
    if t is nn.AdaptiveAvgPool2d:
        return _map_adaptive(node, src, m.output_size, modules)
    if t is nn.Linear:
        op = {"op": "linear", "param": name, "out": m.out_features}
        tensors = {name + ".weight": m.weight}
        if m.bias is None:
            op["bias"] = False
        else:
            tensors[name + ".bias"] = m.bias
        return ("op", src, op, tensors)
    if t is nn.LayerNorm:
        if len(m.normalized_shape) != 1:
            _refuse(node, modules, f"normalized_shape {tuple(m.normalized_shape)} (only the "
                    "last dimension)")
        d = m.normalized_shape[0]
        w = m.weight if m.elementwise_affine else torch.ones(d)
        b = m.bias if m.elementwise_affine else torch.zeros(d)
        op = {"op": "layernorm", "param": name}
        if m.eps != 1e-5:
            op["eps"] = float(m.eps)
        return ("op", src, op, {name + ".weight": w, name + ".bias": b})
    _refuse(node, modules, "no splitee op for this module")


def _map_pool(node, src, kind, modules, kernel, stride, padding, dilation, ceil_mode,
              return_indices, count_include_pad, divisor_override):
    try:
        k = _pair(kernel, "kernel_size")
        s = k if stride is None or stride == [] or stride == () else _pair(stride, "stride")
        p = _pair(padding, "padding")
        d = _pair(dilation, "dilation")
    except ValueError as e:
        _refuse(node, modules, str(e))
    if d != (1, 1):
        _refuse(node, modules, f"dilation {d} (splitee pools are not dilated)")
    if return_indices:
        _refuse(node, modules, "return_indices=True")
    if divisor_override is not None:
        _refuse(node, modules, "divisor_override")
    if ceil_mode:   # the same as floor mode when no extra window starts
        shape = _tshape(src)
        for ax in range(2):
            h = shape[1 + ax]
            floor = (h + 2 * p[ax] - k[ax]) // s[ax] + 1
            ceil = -(-(h + 2 * p[ax] - k[ax]) // s[ax]) + 1
            if (ceil - 1) * s[ax] >= h + p[ax]:
                ceil -= 1
            if ceil != floor:
                _refuse(node, modules, f"ceil_mode=True adds a partial window on input "
                        f"{shape[1]}x{shape[2]} (splitee pools floor)")
    op = {"op": kind, "kernel": _pair_json(k)}
    if s != k:
        op["stride"] = _pair_json(s)
    if p != (0, 0):
        op["padding"] = _pair_json(p)
    if kind == "avgpool" and not count_include_pad and p != (0, 0):
        op["count_include_pad"] = False
    return ("op", src, op, {})


def _map_adaptive(node, src, size, modules):
    shape = _tshape(src)
    if len(shape) != 3:
        _refuse(node, modules, f"needs an (N, C, H, W) input, got {shape}")
    if isinstance(size, int):
        size = (size, size)
    size = tuple(shape[1 + i] if v is None else v for i, v in enumerate(size))
    if size == (1, 1):
        return ("op", src, {"op": "global_avgpool"}, {})
    if size == tuple(shape[1:]):
        return ("alias", src)
    _refuse(node, modules, f"output size {size} (only 1, the global average pool)")


def _map_function(node, modules):
    f = node.target
    args = node.args
    src = args[0] if args else node.kwargs.get("input")
    if f in _ADD_FN:
        a, b = (args[0], args[1]) if len(args) >= 2 else (node.kwargs.get("input"),
                                                           node.kwargs.get("other"))
        if node.kwargs.get("alpha", 1) != 1 or len(args) > 2:
            _refuse(node, modules, "alpha != 1")
        if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
            _refuse(node, modules, "adds a constant (only the residual add of two tensors)")
        return ("add", a, b)
    if f in _ELEMENTWISE_FN:
        kw = dict(node.kwargs)
        if f is F.gelu and kw.get("approximate", "none") != "none":
            _refuse(node, modules, "approximate='tanh' (only the exact erf GELU)")
        inplace = kw.get("inplace", args[1] if len(args) > 1 and f is not F.gelu else False)
        if inplace and not _inplace_ok(node, src):
            _refuse(node, modules, "inplace=True overwrites a tensor that other nodes read")
        return ("op", src, {"op": _ELEMENTWISE_FN[f]}, {})
    if f is F.hardtanh:
        a = _bind(node, ["input", "min_val", "max_val", "inplace"],
                  {"min_val": -1.0, "max_val": 1.0, "inplace": False})
        if (a["min_val"], a["max_val"]) != (0.0, 6.0):
            _refuse(node, modules, "only hardtanh(0, 6), relu6")
        return ("op", src, {"op": "relu6"}, {})
    if f in _ALIAS_FN:
        return ("alias", src)
    if f is F.max_pool2d or f is F.avg_pool2d:
        if f is F.max_pool2d:
            a = _bind(node, ["input", "kernel_size", "stride", "padding", "dilation",
                             "ceil_mode", "return_indices"],
                      {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                       "return_indices": False})
            return _map_pool(node, src, "maxpool", modules, a["kernel_size"], a["stride"],
                             a["padding"], a["dilation"], a["ceil_mode"],
                             a["return_indices"], True, None)
        a = _bind(node, ["input", "kernel_size", "stride", "padding", "ceil_mode",
                         "count_include_pad", "divisor_override"],
                  {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                   "divisor_override": None})
        return _map_pool(node, src, "avgpool", modules, a["kernel_size"], a["stride"],
                         a["padding"], 1, a["ceil_mode"], False, a["count_include_pad"],
                         a["divisor_override"])
    if f is F.adaptive_avg_pool2d:
        a = _bind(node, ["input", "output_size"], {})
        return _map_adaptive(node, src, a["output_size"], modules)
    if f is torch.flatten:
        return ("view", src)
    if f is torch.mean:
        return _map_mean(node, src, modules)
    if f is getattr and len(args) == 2 and args[1] == "shape":
        return ("meta",)
    if f is operator.getitem and isinstance(src, torch.fx.Node) and not _is_tensor_node(src):
        return ("meta",)
    _refuse(node, modules, "no splitee op for this function")


def _map_mean(node, src, modules):
    rank = len(node.args[0].meta["tensor_meta"].shape) if _is_tensor_node(node.args[0]) else 0
    dims, keep = _mean_dims(node, rank)
    if rank == 4 and dims == [2, 3]:
        return ("op", src, {"op": "global_avgpool"}, {})
    if rank == 3 and dims == [1] and not keep:
        return ("op", src, {"op": "token_mean"}, {})
    _refuse(node, modules, f"mean over dims {dims} of a rank-{rank} tensor (only over H, W of "
            "(N, C, H, W), or over the tokens of (N, T, D))")


def _map_method(node, modules):
    name = node.target
    src = node.args[0]
    if name in _META_METHOD:
        return ("meta",)
    if name.endswith("_") and not name.startswith("__"):
        _refuse(node, modules, "an in-place method: write the out-of-place form "
                f"(x = x.{name[:-1]}(...))")
    if name in _ELEMENTWISE_METHOD:
        return ("op", src, {"op": _ELEMENTWISE_METHOD[name]}, {})
    if name in _ALIAS_METHOD:
        return ("alias", src)
    if name in _VIEW_METHOD:
        return ("view", src)
    if name == "add":
        if len(node.args) != 2 or node.kwargs or not isinstance(node.args[1], torch.fx.Node):
            _refuse(node, modules, "only x.add(y) of two tensors")
        return ("add", node.args[0], node.args[1])
    if name == "mean":
        return _map_mean(node, src, modules)
    _refuse(node, modules, "no splitee op for this method")


def _map_node(node, modules):
    if node.op == "call_module":
        return _map_module(node, modules[node.target], node.target, modules)
    if node.op == "call_function":
        return _map_function(node, modules)
    if node.op == "call_method":
        return _map_method(node, modules)
    raise AssertionError(node.op)


# ------------------------------------------------------------------ graph --

class _Graph:
    """The traced module: nodes in order, the mapping of every node, its
    ancestors, and the exits."""

    def __init__(self, model, example):
        self.model = model
        tracer = _Tracer()
        try:
            graph = tracer.trace(model)
        except Exception as e:   # control flow on values, unsupported Python, ...
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            tb = e.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None and tb.tb_frame.f_code.co_name == "__iter__" and \
                    tb.tb_frame.f_code.co_filename.endswith(os.path.join("fx", "proxy.py")):
                msg = (f"unpacking a traced value (a, b = ...) at {_user_line(e)}; torch.fx "
                       f"{torch.__version__} cannot trace it on Python "
                       f"{sys.version_info[0]}.{sys.version_info[1]}: index it ([0]) instead")
            raise ExportError(f"torch.fx could not trace {type(model).__name__}.forward: {msg}")
        self.gm = torch.fx.GraphModule(tracer.root, graph, type(model).__name__)
        self.modules = dict(self.gm.named_modules())
        self.user_modules = dict(model.named_modules())   # the containers, as written
        try:
            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
                ShapeProp(self.gm).propagate(example)
        except Exception as e:
            cause = e
            while cause.__cause__ is not None or cause.__context__ is not None:
                cause = cause.__cause__ or cause.__context__
            bad = [n for n in self.gm.graph.nodes if "tensor_meta" not in n.meta
                   and n.op != "output"]
            at = f" at {_where(bad[0])}" if bad else ""
            raise ExportError(f"the module does not run on the example input "
                              f"{tuple(example.shape)}{at}: "
                              f"{' '.join(str(cause).split())[:300]}")
        self.nodes = list(self.gm.graph.nodes)
        self.index = {n: i for i, n in enumerate(self.nodes)}
        placeholders = [n for n in self.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ExportError(f"forward takes {len(placeholders)} inputs (only forward(x))")
        self.input = placeholders[0]
        out = [n for n in self.nodes if n.op == "output"][0]
        res = out.args[0]
        if not isinstance(res, (list, tuple)) or not res or \
                not all(isinstance(r, torch.fx.Node) and _is_tensor_node(r) for r in res):
            raise ExportError("forward must return the exits' logits as a list or tuple of "
                              "tensors (shallowest first), got "
                              f"{type(res).__name__}")
        self.exits = list(res)
        if len(set(self.exits)) != len(self.exits):
            raise ExportError("forward returns the same tensor for two exits")
        self.anc = {}
        for n in self.nodes:   # topological order: inputs come first
            s = {n}
            for i in n.all_input_nodes:
                s |= self.anc[i]
            self.anc[n] = s
        live = set()           # what some exit needs (dead code is not mapped)
        for e in self.exits:
            live |= self.anc[e]
        self.kind = {}
        for n in self.nodes:
            if n not in live:
                continue
            if n.op in ("call_module", "call_function", "call_method"):
                self.kind[n] = _map_node(n, self.modules)
            elif n.op == "get_attr":
                self.kind[n] = ("const",)
        self._check_pos_embeds()

    def _check_pos_embeds(self):
        """An add of a parameter (1, T, D) to a (1, T, D) tensor is pos_embed."""
        for n, k in list(self.kind.items()):
            if k[0] != "add":
                continue
            a, b = k[1], k[2]
            for x, c in ((a, b), (b, a)):
                if self.kind.get(c, ("",))[0] == "const" and _is_tensor_node(x):
                    p = self.gm.get_parameter(c.target) if c.target in dict(
                        self.gm.named_parameters()) else getattr(self.gm, c.target)
                    if tuple(p.shape) != tuple(x.meta["tensor_meta"].shape) or p.dim() != 3:
                        _refuse(n, self.modules, f"adds {c.target} {tuple(p.shape)} to "
                                f"{tuple(x.meta['tensor_meta'].shape)} (only a (1, T, D) "
                                "position embedding of the input's shape)")
                    self.kind[n] = ("pos", x, c.target, p[0])
                    break
            else:
                for x in (a, b):
                    if self.kind.get(x, ("",))[0] == "const":
                        _refuse(n, self.modules, f"adds the constant {x.target}")

    def tensor_inputs(self, n):
        """The tensor nodes n computes from (meta nodes and constants left out)."""
        k = self.kind.get(n)
        if k is None:
            return []
        if k[0] in ("alias", "op", "view", "pos"):
            return [k[1]]
        if k[0] == "add":
            return [k[1], k[2]]
        return []

    def head_from(self, k, split):
        """The nodes of exit k's head after split point `split`, checked to read
        nothing of the trunk but the split point, in order."""
        e = self.exits[k]
        later = set()
        for j in range(k + 1, len(self.exits)):
            later |= self.anc[self.exits[j]]
        head = sorted((self.anc[e] - self.anc[split]), key=self.index.get)
        head = [n for n in head if self.kind.get(n, ("",))[0] not in ("meta", "const")]
        for n in head:
            if n in later:
                raise ExportError(f"exit {k + 1}: {_where(n)}: {_opname(n, self.modules)} "
                                  f"(node {n.name}) is after split point {split.name} but a "
                                  "later exit also needs it: an exit head must be its own branch")
            for i in self.tensor_inputs(n):
                if i is not split and i not in head:
                    raise ExportError(f"exit {k + 1}: {_where(n)}: {_opname(n, self.modules)} "
                                      f"(node {n.name}) reads {i.name}, a trunk tensor other "
                                      f"than the exit's split point {split.name}")
        return head

    def opkinds(self, nodes):
        out = []
        for n in nodes:
            k = self.kind[n]
            if k[0] == "op":
                out.append(k[2]["op"])
            elif k[0] in ("add", "pos"):
                out.append(k[0])
        return out


def _tensor_candidates(g, nodes):
    return [n for n in nodes if n.op != "output" and _is_tensor_node(n) and
            g.kind.get(n, ("placeholder",))[0] not in ("const", "meta")]


def _split_points(g, override):
    """The split point (an fx node) of every exit, by the rule in the header."""
    L = len(g.exits)
    if override is not None:
        return _split_points_override(g, override)
    splits = []
    for k in range(L - 1):
        later = set()
        for j in range(k + 1, L):
            later |= g.anc[g.exits[j]]
        shared = _tensor_candidates(g, g.anc[g.exits[k]] & later)
        splits.append(max(shared, key=g.index.get))
    # the last exit
    e = g.exits[-1]
    prev = splits[-1] if splits else g.input
    chain = sorted(_tensor_candidates(g, g.anc[e] - g.anc[prev]), key=g.index.get)
    chosen = None
    if splits:   # the sibling rule: exit L-1's head is module P.i, exit L's is P.(i+1)
        hm = _head_module(g, g.head_from(L - 2, splits[-1]))
        base, _, idx = hm.rpartition(".")
        if base and idx.isdigit() and f"{base}.{int(idx) + 1}" in g.user_modules:
            try:
                cand = _split_points_override(g, [f"{base}.{int(idx) + 1}"], [L - 1])[0]
                g.head_from(L - 1, cand)
                chosen = cand
            except ExportError:
                chosen = None
    if chosen is None and splits:   # the mirror rule
        want = g.opkinds(g.head_from(L - 2, splits[-1]))
        n = len(want)
        if 0 < n < len(chain) and g.opkinds(chain[-n:]) == want:
            cand = chain[-n - 1]
            try:
                g.head_from(L - 1, cand)
                chosen = cand
            except ExportError:
                chosen = None
    if chosen is None:   # the rank rule
        rank = len(_tshape(prev))
        for cand in reversed(chain[:-1]):
            k = g.kind[cand]
            if k[0] in ("alias", "view") or (k[0] == "op" and k[2]["op"] == "global_avgpool"):
                continue
            if len(_tshape(cand)) == rank:
                try:
                    g.head_from(L - 1, cand)
                    chosen = cand
                    break
                except ExportError:
                    continue
    if chosen is None:
        raise ExportError(f"exit {L}: no split point found for the last exit (no tensor of "
                          f"split point {L - 1}'s rank that its head reads alone); name the "
                          "head modules in the module attribute splitee_exit_heads")
    splits.append(chosen)
    return splits


def _head_module(g, head):
    """The deepest module that every op of a head comes from ('' if none)."""
    owners = [n.meta.get("owner", "") for n in head
              if g.kind.get(n, ("",))[0] in ("op", "add", "pos")]
    if not owners or not all(owners):
        return ""
    parts = [o.split(".") for o in owners]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return ".".join(common)


def _split_points_override(g, heads, exits=None):
    """The split points of the exits (all, or those listed) whose heads begin
    with the named modules: each module's one outside input."""
    if exits is None:
        if not isinstance(heads, (list, tuple)) or len(heads) != len(g.exits) or \
                not all(isinstance(h, str) for h in heads):
            raise ExportError(f"splitee_exit_heads must list {len(g.exits)} qualified module "
                              f"names, one per exit, got {heads!r}")
        exits = range(len(heads))
    splits = []
    for k, h in zip(exits, heads):
        if h not in g.user_modules:
            raise ExportError(f"splitee_exit_heads[{k}]: no submodule '{h}'")
        inside = [n for n in g.nodes if (n.meta.get("owner", "") + ".").startswith(h + ".")]
        inside = [n for n in inside if n in g.anc[g.exits[k]]]
        if not inside:
            raise ExportError(f"splitee_exit_heads[{k}]: module '{h}' is not on the way to "
                              f"exit {k + 1}")
        ins = set()
        for n in inside:
            for i in g.tensor_inputs(n):
                if i not in inside:
                    ins.add(i)
        if len(ins) != 1:
            raise ExportError(f"splitee_exit_heads[{k}]: module '{h}' reads {len(ins)} outside "
                              "tensors (a head begins with one input: the split point)")
        splits.append(ins.pop())
    return splits


# --------------------------------------------------------------- emitting --

class _Emitter:
    """Turns one chain of fx nodes into a splitee op list."""

    def __init__(self, g, tensors, what):
        self.g, self.tensors, self.what = g, tensors, what

    def resolve(self, n, start, emitted):
        """The node whose value n is (through aliases and no-op views)."""
        while n is not start and n not in emitted:
            k = self.g.kind.get(n)
            if k is None or k[0] not in ("alias", "view"):
                break
            n = k[1]
        return n

    def ops(self, start, nodes, shapes):
        g, mods = self.g, self.g.modules
        ops = []
        emitted = {}          # fx node -> index in ops
        saves = {}            # index in ops -> save name
        current = start       # the node whose value the chain holds now
        for n in nodes:
            k = g.kind[n]
            if k[0] in ("meta", "const"):
                continue
            if k[0] == "alias":
                src = self.resolve(k[1], start, emitted)
                if src is not current:
                    self.chain_error(n, src)
                shapes[n] = shapes[src]
                continue      # n is src: later readers of n resolve to src
            if k[0] == "view":
                src = self.resolve(k[1], start, emitted)
                if src is not current:
                    self.chain_error(n, src)
                t = tuple(n.meta["tensor_meta"].shape)
                if len(t) != 2 or t[0] != 1:
                    _refuse(n, mods, f"reshapes to {t}: only flattening every dimension but "
                            "the batch (flatten(x, 1), x.view(x.size(0), -1))")
                if len(shapes[src]) == 1:   # already a vector: nothing to do
                    shapes[n] = shapes[src]
                    g.kind[n] = ("alias", src)
                    continue
                k = ("op", src, {"op": "flatten"}, {})
            if k[0] == "add":
                a = self.resolve(k[1], start, emitted)
                b = self.resolve(k[2], start, emitted)
                if a is not current and b is current:
                    a, b = b, a
                if a is not current:
                    self.chain_error(n, a if b is current else (a, b))
                if b is start:
                    frm = "input"
                elif b in emitted:
                    i = emitted[b]
                    frm = saves.setdefault(i, f"t{i}")
                else:
                    raise ExportError(f"{self.what}: {_where(n)}: {_opname(n, mods)} (node "
                                      f"{n.name}) adds {b.name}, which is not in this op list "
                                      "(a residual cannot cross a split point)")
                if shapes[a] != shapes[b]:
                    _refuse(n, mods, f"adds {shapes[b]} to {shapes[a]}")
                op = {"op": "add", "from": frm}
                shapes[n] = shapes[a]
            elif k[0] == "pos":
                src = self.resolve(k[1], start, emitted)
                if src is not current:
                    self.chain_error(n, src)
                if len(shapes[src]) != 2:
                    _refuse(n, mods, "a position embedding needs a (T, D) tensor")
                self.add_tensor(n, k[2], k[3])
                op = {"op": "pos_embed", "param": k[2]}
                shapes[n] = shapes[src]
            else:
                src = self.resolve(k[1], start, emitted)
                if src is not current:
                    self.chain_error(n, src)
                op = dict(k[2])
                shapes[n] = self.out_shape(n, op, shapes[src])
                for name, t in k[3].items():
                    self.add_tensor(n, name, t)
            emitted[n] = len(ops)
            ops.append(op)
            current = n
        for i, name in saves.items():
            ops[i]["save"] = name
        return ops, current

    def add_tensor(self, n, name, t):
        t = t.detach().to(torch.float32).contiguous()
        old = self.tensors.get(name)
        if old is not None and (old.shape != t.shape or not torch.equal(old, t)):
            _refuse(n, self.g.modules, f"tensor {name} would be written twice with different "
                    "values")
        self.tensors[name] = t

    def chain_error(self, n, src):
        names = src if isinstance(src, tuple) else (src,)
        raise ExportError(f"{self.what}: {_where(n)}: {_opname(n, self.g.modules)} (node "
                          f"{n.name}) reads {' and '.join(s.name for s in names)}, not the "
                          "previous op's output: splitee runs each op list as a chain (only "
                          "'add' may read a tensor saved earlier in the same list)")

    def out_shape(self, n, op, ins):
        """splitee's shape of the op's output, cross-checked with PyTorch's."""
        mods = self.g.modules
        kind = op["op"]
        torch_shape = _tshape(n)
        if kind in ("conv2d", "maxpool", "avgpool", "global_avgpool") and len(ins) != 3:
            _refuse(n, mods, f"needs a (C, H, W) tensor, got {ins}")
        if kind in ("linear", "layernorm") and len(ins) not in (1, 2):
            _refuse(n, mods, f"needs an (N) or (T, D) tensor, got {ins} (flatten first)")
        if kind == "batchnorm" and len(ins) not in (1, 3):
            _refuse(n, mods, f"needs a (C, H, W) or (N) tensor, got {ins}")
        if kind == "token_mean" and len(ins) != 2:
            _refuse(n, mods, f"needs a (T, D) tensor, got {ins}")
        if kind == "global_avgpool":
            out = (ins[0],)
        elif kind == "flatten":
            out = (int(np.prod(ins)),)
        else:
            out = torch_shape
        ok = out == torch_shape or (kind == "global_avgpool" and torch_shape == (ins[0], 1, 1))
        if not ok:
            _refuse(n, mods, f"splitee would compute {out}, PyTorch computes {torch_shape}")
        if not out or len(out) > 3:
            _refuse(n, mods, f"a tensor of shape {torch_shape} (splitee holds (C, H, W), "
                    "(T, D) or (N))")
        if int(np.prod(out)) > MAX_ELEMS:
            _refuse(n, mods, f"a tensor {out} of more than 2^30 elements")
        return out


def _top_name(g, owner):
    """The owner's path down to its first index or first non-list module:
    'stages.3' for 'stages.3.body.0', 'stem' for 'stem.0'."""
    if not owner:
        return ""
    parts = owner.split(".")
    out = []
    for p in parts:
        out.append(p)
        m = g.user_modules.get(".".join(out))
        if p.isdigit() or not isinstance(m, (nn.ModuleList, nn.ModuleDict)):
            break
    return ".".join(out)


def _stage_name(g, nodes, k):
    """The top-level modules the stage's ops come from, in order: "stem+stage1"."""
    tops = []
    for n in nodes:
        o = n.meta.get("owner", "") if g.kind.get(n, ("",))[0] in ("op", "add", "pos") else ""
        t = _top_name(g, o)
        if t and t not in tops:
            tops.append(t)
    return "+".join(tops) if tops else f"stage{k + 1}"


def build(model, example_input, name=None, mean=0.0, std=1.0):
    """The model.json object, the tensors (name -> float32 torch tensor), the
    traced graph and the split points (fx nodes) of
    `model` (an nn.Module whose forward returns the exits' logits as a list)
    traced on `example_input` ((1, C, H, W) or (1, T, D): a batch of one).
    Raises ExportError with the reason when the network cannot be exported."""
    model.eval()
    x = _batched(model, example_input)
    if not (std > 0 and math.isfinite(std) and math.isfinite(mean)):
        raise ExportError(f"--std must be positive and --mean finite (got {mean}, {std})")
    g = _Graph(model, x)
    in_shape = tuple(x.shape[1:])
    override = getattr(model, "splitee_exit_heads", None)
    splits = _split_points(g, override)
    tensors = {}
    shapes = {g.input: in_shape}
    stages = []
    classes = None
    prev = g.input
    for k, s in enumerate(splits):
        if s is prev or (prev is not g.input and s in g.anc[prev]) or \
                (s is not g.input and prev not in g.anc[s]):
            what = ("exit 1 branches off at the input" if k == 0 else
                    f"exits {k} and {k + 1} branch off the trunk at the same point ({s.name}) "
                    "or in the wrong order")
            raise ExportError(f"{what}: stage {k + 1} needs at least one op")
        nodes = sorted(g.anc[s] - g.anc[prev], key=g.index.get)
        for n in nodes:   # a stage reads only its own nodes and the previous split point
            for i in g.tensor_inputs(n):
                if i is not prev and i not in nodes:
                    raise ExportError(f"stage {k + 1}: {_where(n)}: {_opname(n, g.modules)} "
                                      f"(node {n.name}) reads {i.name}, from before split "
                                      f"point {k} ({prev.name}): a residual cannot cross a "
                                      "split point")
        em = _Emitter(g, tensors, f"stage {k + 1}")
        ops, last = em.ops(prev, nodes, shapes)
        if not ops:
            raise ExportError(f"stage {k + 1} (up to {s.name}) holds no op")
        head = g.head_from(k, s)
        em = _Emitter(g, tensors, f"exit {k + 1}")
        hops, hlast = em.ops(s, head, shapes)
        if not hops:
            raise ExportError(f"exit {k + 1}: its output is the trunk tensor {s.name}: an "
                              "exit head needs at least one op")
        out = shapes[g.exits[k]]
        if len(out) != 1:
            raise ExportError(f"exit {k + 1}: its logits have shape {_tshape(g.exits[k])}, "
                              "not (batch, classes)")
        if classes is None:
            classes = out[0]
        elif out[0] != classes:
            raise ExportError(f"exit {k + 1} has {out[0]} classes, exit 1 has {classes}")
        stages.append({"name": _stage_name(g, nodes, k), "ops": ops, "exit": hops})
        prev = s
    if classes < 2:
        raise ExportError(f"the exits have {classes} class (splitee needs at least 2)")
    if len(stages) > 64:
        raise ExportError(f"{len(stages)} exits (splitee holds 1 to 64)")
    cfg = {"format": "splitee-model", "version": 2,
           "name": name or type(model).__name__,
           "weights": "model.safetensors", "dtype": "F32", "classes": classes,
           "metadata": {"written_by": "tools/export.py", "module": type(model).__name__,
                        "torch": torch.__version__,
                        "split_points": [s.name for s in splits]},
           "input": {"shape": list(in_shape), "mean": float(mean), "std": float(std)},
           "stages": stages}
    return cfg, tensors, g, splits


def _batched(model, x):
    if not isinstance(x, torch.Tensor):
        raise ExportError("the example input must be a torch tensor")
    if x.dim() not in (3, 4) or x.shape[0] != 1:
        raise ExportError(f"the example input {tuple(x.shape)} is not (1, C, H, W) or "
                          "(1, T, D) (a batch of one)")
    return x.detach().to(torch.float32)


# ----------------------------------------------------------------- writing --

def _json_text(cfg):
    """model.json: one line per op, as the examples in docs/ENGINE.md."""
    top = {k: v for k, v in cfg.items() if k != "stages"}
    lines = ["{"]
    items = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in top.items()]
    lines += items
    lines.append('  "stages": [')
    for i, st in enumerate(cfg["stages"]):
        lines.append(f'    {{"name": {json.dumps(st["name"])}, "ops": [')
        lines.append(",\n".join(f"      {json.dumps(o)}" for o in st["ops"]) + "],")
        lines.append('     "exit": [')
        lines.append(",\n".join(f"      {json.dumps(o)}" for o in st["exit"]) + "]}"
                     + ("," if i + 1 < len(cfg["stages"]) else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _write_folder(folder, cfg, tensors):
    with open(os.path.join(folder, "model.json"), "w") as f:
        f.write(_json_text(cfg))
    train.write_safetensors(os.path.join(folder, "model.safetensors"),
                            sorted(tensors.items()), {"written_by": "tools/export.py"})


def find_splitee(path=None):
    """The splitee binary: `path`, else build/splitee of this checkout, else PATH."""
    if path:
        return path
    cand = os.path.join(REPO, "build", "splitee")
    if os.access(cand, os.X_OK):
        return cand
    return shutil.which("splitee")


def check(model, folder, inputs, splitee, tol=1e-4, threads=1):
    """Runs `splitee logits --inputs --normalised` on `inputs` ((N, ...) float32,
    the tensors forward receives) and compares every exit with PyTorch.
    Returns the max |diff| per exit; raises CheckError above tol."""
    with torch.no_grad():
        ref = model(inputs)
    ref = np.stack([r.detach().numpy().astype(np.float64) for r in ref], axis=1)
    with tempfile.TemporaryDirectory() as tmp:
        xin = os.path.join(tmp, "x.npy")
        out = os.path.join(tmp, "c.npy")
        np.save(xin, inputs.numpy().astype(np.float32))
        cmd = [splitee, "logits", "--model", folder, "--inputs", xin, "--normalised",
               "--threads", str(threads), "--no-progress", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise CheckError(f"{' '.join(cmd)} failed ({r.returncode}): "
                             f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}")
        c = np.load(out).astype(np.float64)
    if c.shape != ref.shape:
        raise CheckError(f"splitee logits wrote {c.shape}, PyTorch gives {ref.shape}")
    per_exit = np.abs(c - ref).max(axis=(0, 2))
    if not np.all(np.isfinite(per_exit)) or per_exit.max() > tol:
        raise CheckError("the C engine differs from PyTorch by more than "
                         f"{tol:g}: max |diff| per exit "
                         + ", ".join(f"{d:.3g}" for d in per_exit))
    return per_exit


class _Lib:
    """The C library (libsplitee.so) through ctypes, for the split points."""

    class Error(ctypes.Structure):
        _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * 512)]

    def __init__(self, path):
        self.c = ctypes.CDLL(path)
        vp = ctypes.c_void_p
        self.c.splitee_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp), vp]
        self.c.splitee_model_free.argtypes = [vp]
        self.c.splitee_model_split_elems.argtypes = [vp, ctypes.c_int]
        self.c.splitee_model_split_elems.restype = ctypes.c_size_t
        self.c.splitee_engine_state_create.argtypes = [vp, ctypes.POINTER(vp), vp]
        self.c.splitee_engine_state_free.argtypes = [vp]
        self.c.splitee_engine_embed_normalised.argtypes = [vp, vp, vp]
        self.c.splitee_engine_run_layer.argtypes = [vp, ctypes.c_int, vp]
        self.c.splitee_engine_activation.argtypes = [vp]
        self.c.splitee_engine_activation.restype = ctypes.POINTER(ctypes.c_float)

    def split_points(self, folder, inputs, layers):
        """(n, layers + 1) lists of float64 arrays: every split point of every input."""
        err = self.Error()
        m, s = ctypes.c_void_p(), ctypes.c_void_p()
        if self.c.splitee_model_load(folder.encode(), ctypes.byref(m), ctypes.byref(err)) < 0:
            raise CheckError(err.msg.decode())
        try:
            if self.c.splitee_engine_state_create(m, ctypes.byref(s), ctypes.byref(err)) < 0:
                raise CheckError(err.msg.decode())
            out = []
            for x in inputs:
                x = np.ascontiguousarray(x.numpy(), dtype=np.float32)
                if self.c.splitee_engine_embed_normalised(s, x.ctypes.data,
                                                          ctypes.byref(err)) < 0:
                    raise CheckError(err.msg.decode())
                acts = []
                for k in range(layers + 1):
                    if k and self.c.splitee_engine_run_layer(s, k - 1, ctypes.byref(err)) < 0:
                        raise CheckError(err.msg.decode())
                    n = self.c.splitee_model_split_elems(m, k)
                    acts.append(np.ctypeslib.as_array(self.c.splitee_engine_activation(s),
                                                      (n,)).astype(np.float64))
                out.append(acts)
            return out
        finally:
            self.c.splitee_engine_state_free(s)
            self.c.splitee_model_free(m)


def check_split_points(g, splits, folder, inputs, lib, tol=1e-4):
    """Every split point's activation in the C engine (through libsplitee.so)
    against the traced module's value of that node. Returns the max |diff|
    per split point 0..L; raises CheckError above tol."""
    c = _Lib(lib).split_points(folder, inputs, len(splits))
    worst = np.zeros(len(splits) + 1)
    for i, x in enumerate(inputs):
        vals = {}
        interp = torch.fx.Interpreter(g.gm)
        orig = interp.run_node

        def run_node(n, vals=vals, orig=orig):
            v = orig(n)
            vals[n] = v
            return v
        interp.run_node = run_node
        with torch.no_grad():
            interp.run(x[None])
        for k, node in enumerate([g.input] + list(splits)):
            ref = vals[node].detach().numpy().astype(np.float64).ravel()
            if ref.shape != c[i][k].shape:
                raise CheckError(f"split point {k}: C holds {c[i][k].shape[0]} values, "
                                 f"PyTorch {ref.shape[0]}")
            worst[k] = max(worst[k], float(np.abs(ref - c[i][k]).max()))
    if not np.all(np.isfinite(worst)) or worst.max() > tol:
        raise CheckError(f"a split point differs from PyTorch by more than {tol:g}: max |diff| "
                         "per split point 0.." + str(len(splits)) + " "
                         + ", ".join(f"{d:.3g}" for d in worst))
    return worst


def find_lib(splitee):
    """libsplitee.so beside the splitee binary (a build tree), or None; and
    why not, when there is one that ctypes cannot load: AddressSanitizer's
    runtime must come first in a process, which a Python process is not."""
    cand = os.path.join(os.path.dirname(os.path.abspath(splitee)), "libsplitee.so")
    if not os.path.exists(cand):
        return None, f"no {cand}"
    with open(cand, "rb") as f:
        if b"__asan_init" in f.read():
            return None, f"{cand} is built with AddressSanitizer"
    return cand, ""


def export(model, example_input, out_dir, name=None, mean=0.0, std=1.0, splitee=None,
           check_inputs=8, tol=1e-4, do_check=True, log=print):
    """Exports `model` to the splitee model folder `out_dir` (model.json,
    model.safetensors) and, unless do_check is False, checks the C engine
    against PyTorch on example_input and check_inputs - 1 more seeded random
    inputs of its shape. `example_input` is what forward receives: the
    normalised input; mean/std are written as the model's input
    normalisation (what splitee applies to raw images). Returns the max
    |C - PyTorch| per exit (None without the check). Raises ExportError (a
    refusal) or CheckError; out_dir is written only on success."""
    cfg, tensors, g, splits = build(model, example_input, name=name, mean=mean, std=std)
    x = _batched(model, example_input)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        _write_folder(tmp, cfg, tensors)
        diffs = split_diffs = None
        if do_check:
            exe = find_splitee(splitee)
            if not exe or not os.access(exe, os.X_OK):
                raise ExportError("no splitee binary to check with (build it, pass --splitee "
                                  "PATH, or --no-check)")
            gen = torch.Generator().manual_seed(1)
            more = torch.randn((max(0, check_inputs - 1),) + tuple(x.shape[1:]), generator=gen)
            inputs = torch.cat([x, more])
            diffs = check(model, tmp, inputs, exe, tol)
            lib, why = find_lib(exe)
            if lib:
                split_diffs = check_split_points(g, splits, tmp, inputs, lib, tol)
            else:
                log(f"export.py: split points not checked ({why}); the exits are")
        os.makedirs(out_dir, exist_ok=True)
        for f in ("model.safetensors", "model.json"):
            os.replace(os.path.join(tmp, f), os.path.join(out_dir, f))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    nparams = sum(int(t.numel()) for t in tensors.values())
    log(f"export.py: wrote {out_dir}: {len(cfg['stages'])} stages, {nparams} weights, "
        f"split points {', '.join(cfg['metadata']['split_points'])}")
    if diffs is not None:
        log(f"export.py: checked on {check_inputs} inputs: max |C - PyTorch| per exit "
            + ", ".join(f"{d:.3g}" for d in diffs) + f" (<= {tol:g})")
    if split_diffs is not None:
        log("export.py: split points 0.." + str(len(splits)) + " (libsplitee.so): max |C - "
            "PyTorch| " + ", ".join(f"{d:.3g}" for d in split_diffs))
    return diffs


# ---------------------------------------------------------------------- CLI --

def load_module(spec, weights=None):
    """FILE.py:FACTORY -> the module the factory returns, with `weights` (a
    state_dict saved with torch.save) loaded strictly."""
    if ":" not in spec:
        raise ExportError(f"--module {spec}: expected FILE.py:FACTORY")
    path, factory = spec.rsplit(":", 1)
    if not os.path.isfile(path):
        raise ExportError(f"--module {path}: no such file")
    modname = "splitee_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    sp = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(sp)
    sys.modules[modname] = mod
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:   # its own imports, as when it runs as a script
        sys.path.insert(0, folder)
    try:
        sp.loader.exec_module(mod)
    except Exception as e:
        raise ExportError(f"--module {path}: {type(e).__name__} while importing it at "
                          f"{_user_line(e)}: {' '.join(str(e).split())[:300]}")
    fn = getattr(mod, factory, None)
    if not callable(fn):
        raise ExportError(f"--module {path}: no factory '{factory}'")
    try:
        model = fn()
    except Exception as e:
        raise ExportError(f"--module {spec}: the factory raised {type(e).__name__} at "
                          f"{_user_line(e)}: {' '.join(str(e).split())[:300]}")
    if not isinstance(model, nn.Module):
        raise ExportError(f"--module {spec}: the factory returned {type(model).__name__}, "
                          "not an nn.Module")
    if weights:
        try:
            state = torch.load(weights, map_location="cpu")
        except Exception as e:
            raise ExportError(f"--weights {weights}: {str(e).strip().splitlines()[0]}")
        if isinstance(state, dict) and "state_dict" in state and \
                isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ExportError(f"--weights {weights}: not a state_dict")
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ExportError(f"--weights {weights}: "
                              + " ".join(str(e).split())[:400])
    model.eval()
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True, help="FILE.py:FACTORY returning the nn.Module")
    ap.add_argument("--weights", default="", help="a state_dict saved with torch.save [the "
                    "factory's own weights]")
    ap.add_argument("--input-shape", required=True,
                    help="the input without the batch: C,H,W (or T,D)")
    ap.add_argument("--out", required=True, help="the model folder to write")
    ap.add_argument("--name", default="", help="the model's name [the module's class]")
    ap.add_argument("--mean", type=float, default=0.0,
                    help="input normalisation: x' = (x - mean) / std, applied by splitee to "
                    "raw inputs (images in [0, 1]) before forward [0]")
    ap.add_argument("--std", type=float, default=1.0, help="see --mean [1]")
    ap.add_argument("--splitee", default="", help="the splitee binary for the check "
                    "[build/splitee, else PATH]")
    ap.add_argument("--no-check", action="store_true", help="do not check the C engine")
    ap.add_argument("--check-inputs", type=int, default=8,
                    help="inputs of the check: the example (seed 0) and N-1 more [8]")
    ap.add_argument("--seed", type=int, default=0, help="seed of the example input [0]")
    ap.add_argument("--tol", type=float, default=1e-4, help="check tolerance [1e-4]")
    args = ap.parse_args(argv)
    try:
        try:
            shape = tuple(int(v) for v in args.input_shape.split(","))
        except ValueError:
            raise ExportError(f"--input-shape {args.input_shape}: expected C,H,W or T,D")
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ExportError(f"--input-shape {args.input_shape}: expected C,H,W or T,D")
        if args.check_inputs < 1:
            raise ExportError("--check-inputs must be at least 1")
        torch.manual_seed(args.seed)
        model = load_module(args.module, args.weights)
        x = torch.randn((1,) + shape, generator=torch.Generator().manual_seed(args.seed))
        export(model, x, args.out, name=args.name or None, mean=args.mean, std=args.std,
               splitee=args.splitee or None, check_inputs=args.check_inputs, tol=args.tol,
               do_check=not args.no_check)
    except ExportError as e:
        print(f"export.py: {e}", file=sys.stderr)
        return 2
    except CheckError as e:
        print(f"export.py: check failed, nothing written: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"export.py: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
