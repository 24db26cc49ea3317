"""Structural audit of issue 13's "What must work" names (items 1, 2, 4 and 5).

For every name:
- it exists wherever torch has it: torch.<name> -> ad.<name>, torch.Tensor.<name> ->
  ad.Tensor.<name>, torch.nn.functional.<name> -> nn.functional.<name>,
  torch.linalg.<name> -> ad.linalg.<name> (WHERE below; with torch installed, WHERE is
  checked against torch itself, so the table cannot drift);
- one-line calls on a small fixed example give the value, dtype, shape and return type
  (tensor, Python number, tuple, named tuple and its fields, Size) that a NumPy or
  closed-form reference gives (always) and that torch gives running the same line (when
  installed).

`python tests/test_parity_names.py` prints the audit's counts (needs torch for the torch
column).
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import autodiff as ad
import nn
from nn import functional as nnF

sys.path.insert(0, str(Path(__file__).parent))
import parity  # noqa: E402

# ------------------------------------------------------- the names and where torch has them
# t: torch.<name>, m: torch.Tensor.<name>, f: torch.nn.functional.<name>, l: torch.linalg.<name>
ITEM1 = {
    "transpose": "tm", "T": "m", "mT": "m", "permute": "tm", "size": "m", "numel": "tm",
    "dim": "m", "ndim": "m", "t": "tm", "element_size": "m", "float": "tm", "double": "tm",
    "half": "tm", "long": "tm", "int": "tm", "bool": "tm", "to": "m", "tensor": "t",
    "as_tensor": "t", "from_numpy": "t", "max": "tm", "min": "tm", "std": "tm", "var": "tm",
    "split": "tm", "cat": "t", "stack": "t", "argmax": "tm", "argmin": "tm", "sum": "tm",
    "mean": "tm", "concatenate": "t", "swapaxes": "tm"}
ITEM2 = {
    "sin": "tm", "cos": "tm", "tan": "tm", "atan": "tm", "sinh": "tm", "cosh": "tm",
    "log2": "tm", "log10": "tm", "log1p": "tm", "expm1": "tm", "rsqrt": "tm", "square": "tm",
    "reciprocal": "tm", "softsign": "f", "hardtanh": "f", "relu6": "f", "logsigmoid": "f",
    "mish": "f", "selu": "tf", "celu": "tf", "hardswish": "f", "hardsigmoid": "f",
    "floor": "tm", "ceil": "tm", "round": "tm", "trunc": "tm", "frac": "tm", "isnan": "tm",
    "isinf": "tm", "isfinite": "tm", "remainder": "tm", "floor_divide": "tm",
    "bitwise_and": "tm", "bitwise_or": "tm", "bitwise_xor": "tm", "bitwise_not": "tm",
    "bitwise_left_shift": "tm", "bitwise_right_shift": "tm", "add": "tm", "sub": "tm",
    "mul": "tm", "div": "tm", "pow": "tm", "neg": "tm", "exp": "tm", "log": "tm",
    "sqrt": "tm", "abs": "tm", "lerp": "tm", "logaddexp": "tm", "prod": "tm", "cumsum": "tm",
    "cumprod": "tm", "cummax": "tm", "logcumsumexp": "tm", "sort": "tm", "argsort": "tm",
    "topk": "tm", "kthvalue": "tm", "median": "tm", "flip": "tm", "roll": "tm", "repeat": "m",
    "repeat_interleave": "tm", "tile": "tm", "expand": "m", "expand_as": "m", "view": "m",
    "view_as": "m", "narrow": "tm", "chunk": "tm", "unbind": "tm", "unflatten": "tm",
    "movedim": "tm", "diag": "tm", "diagonal": "tml", "trace": "tm", "tril": "tm",
    "triu": "tm", "gather": "tm", "scatter": "tm", "scatter_add": "tm", "index_select": "tm",
    "index_add": "tm", "masked_fill": "tm", "masked_select": "tm", "nonzero": "tm",
    "where": "tm", "einsum": "t", "outer": "tm", "bmm": "tm", "mm": "tm", "dot": "tm",
    "norm": "tml", "allclose": "tm", "isclose": "tm", "equal": "tm", "clamp": "tm",
    "std_mean": "t", "var_mean": "t", "amax": "tm", "amin": "tm", "any": "tm", "all": "tm",
    "count_nonzero": "tm", "meshgrid": "t", "cdist": "t", "normalize": "f",
    "cosine_similarity": "tf", "one_hot": "f", "pad": "f"}
# (torch also has torch.zero_, torch.fill_ and torch.clamp_, undocumented internals of its
# namespace: the documented forms are the Tensor methods, which are checked)
ITEM4 = {name: "m" for name in (
    "zero_", "fill_", "copy_", "add_", "sub_", "mul_", "div_", "clamp_", "pow_",
    "masked_fill_", "index_add_", "scatter_", "normal_", "uniform_")}
# item 5: NumPy's protocols (ours; torch has __array_ufunc__-like wrapping only), DLPack
ITEM5 = {"__array_ufunc__": "m", "__array_function__": "m", "__dlpack__": "m",
         "__dlpack_device__": "m", "from_dlpack": "t", "__format__": "m"}
WHERE = {**ITEM1, **ITEM2, **ITEM4, **ITEM5}
_UNDOCUMENTED_IN_TORCH = {("zero_", "t"), ("fill_", "t"), ("clamp_", "t")}
_OURS_ONLY = {"__array_ufunc__", "__array_function__"}  # issue 13 item 5 asks for them

NAMESPACES = {"t": ("ad", lambda: ad), "m": ("ad.Tensor", lambda: ad.Tensor),
              "f": ("nn.functional", lambda: nnF), "l": ("ad.linalg", lambda: ad.linalg)}


def missing_names():
    """[(name, namespace)] where torch has the name and autodiff does not."""
    return [(name, NAMESPACES[c][0]) for name, where in WHERE.items() for c in where
            if not hasattr(NAMESPACES[c][1](), name)]


# ---------------------------------------------------------------- the fixed inputs
X = np.array([[0.3, -1.2, 0.7, 1.5], [-0.4, 0.9, -2.1, 0.2], [1.1, -0.6, 0.5, -1.7]],
             np.float32)
INPUTS = {
    "x": X,
    "y": np.array([[0.8, 0.1, -0.9, 0.6], [1.3, -0.2, 0.4, -1.1], [-0.7, 1.6, 0.25, 0.35]],
                  np.float32),
    "p": np.abs(X) + 0.5,
    "v": np.array([0.5, -1.5, 2.0, 0.25], np.float32),
    "w": np.array([1.0, 0.5, -0.75, 2.5], np.float32),
    "m": (np.arange(16, dtype=np.float32).reshape(4, 4) * 0.1 + 2 * np.eye(4)).astype(
        np.float32),
    "a": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.25 - 2.8).astype(np.float32),
    "bm1": (np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.1).astype(np.float32),
    "bm2": (np.arange(16, dtype=np.float32).reshape(2, 4, 2) * -0.2 + 1).astype(np.float32),
    "i": np.array([[3, -2, 0, 1], [-3, 4, 2, -1], [0, 1, -4, 2]], np.int64),
    "j": np.array([[0, 1, 2, 3], [3, 2, 1, 0], [1, 1, 2, 2]], np.int64),
    "b": np.array([[True, False, True, False], [False, False, True, True],
                   [True, True, False, False]]),
    "ix": np.array([[0, 3], [1, 2], [3, 0]], np.int64),
    "src": np.array([[1.5, -2.0], [0.5, 3.0], [-1.0, 2.5]], np.float32),
    "r": np.array([2, 0], np.int64),
    "u": np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -3.0, -4.0]], np.float32),
    "lbl": np.array([0, 2, 1, 0, 2], np.int64),
    "xs": np.array([[0.0, 1.0, 2.0], [1.5, -0.5, 0.0], [2.0, 2.0, -1.0], [0.3, 0.2, 0.1],
                    [-1.0, 0.0, 1.0]], np.float32),
    "ys": np.array([[1.0, 1.0, 1.0], [0.0, -2.0, 0.5], [0.5, 0.5, 3.0], [-1.0, 2.0, 0.0]],
                   np.float32),
}


class Size(tuple):
    """A reference that must come back as ad.Size (torch.Size)."""


def _f32(a):
    return np.asarray(a, np.float32)


def _sorted(a, axis, descending=False):
    idx = np.argsort(-a if descending else a, axis=axis, kind="stable")
    return np.take_along_axis(a, idx, axis), idx


def _cummax(a, axis):
    values = np.maximum.accumulate(a, axis)
    idx = np.maximum.accumulate(np.where(a == values, np.arange(a.shape[axis]), 0), axis)
    return values, idx


def _selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return _f32(scale * np.where(x > 0, x, alpha * np.expm1(x)))


def _relu6(x):
    return np.clip(x, 0, 6)


def _scatter(shape, ix, src, add=False):
    out = np.zeros(shape, np.float32)
    for r in range(ix.shape[0]):
        for c in range(ix.shape[1]):
            out[r, ix[r, c]] = out[r, ix[r, c]] + src[r, c] if add else src[r, c]
    return out


def _index_add(x, rows, u):
    out = x.copy()
    np.add.at(out, rows, u)
    return out


# ---------------------------------------------------------------- the one-liners
# (name, PyTorch one-liner, reference over the inputs e, compare with torch)
CALLS = [
    # item 1
    ("transpose", "x.transpose(0, 1)", lambda e: e["x"].T),
    ("T", "x.T", lambda e: e["x"].T),
    ("mT", "a.mT", lambda e: np.swapaxes(e["a"], -1, -2)),
    ("permute", "a.permute(2, 0, 1)", lambda e: np.transpose(e["a"], (2, 0, 1))),
    ("permute", "torch.permute(a, (1, 2, 0))", lambda e: np.transpose(e["a"], (1, 2, 0))),
    ("size", "x.size()", lambda e: Size((3, 4))),
    ("size", "a.size(-1)", lambda e: 4),
    ("numel", "a.numel()", lambda e: 24),
    ("numel", "torch.numel(x)", lambda e: 12),
    ("dim", "a.dim()", lambda e: 3),
    ("ndim", "x.ndim", lambda e: 2),
    ("t", "x.t()", lambda e: e["x"].T),
    ("t", "torch.t(v)", lambda e: e["v"]),
    ("element_size", "x.element_size()", lambda e: 4),
    ("float", "i.float()", lambda e: e["i"].astype(np.float32)),
    ("double", "x.double()", lambda e: e["x"].astype(np.float64)),
    ("half", "x.half()", lambda e: e["x"].astype(np.float16)),
    ("long", "x.long()", lambda e: e["x"].astype(np.int64)),
    ("int", "x.int()", lambda e: e["x"].astype(np.int32)),
    ("bool", "i.bool()", lambda e: e["i"] != 0),
    ("to", "i.to(torch.float64)", lambda e: e["i"].astype(np.float64)),
    ("to", "x.to(torch.int32)", lambda e: e["x"].astype(np.int32)),
    ("tensor", "torch.tensor([[1, 2], [3, 4]])", lambda e: np.array([[1, 2], [3, 4]])),
    ("tensor", "torch.tensor(2.5)", lambda e: np.float32(2.5)),
    ("as_tensor", "torch.as_tensor([1.5, 2.0])", lambda e: _f32([1.5, 2.0])),
    ("from_numpy", "torch.from_numpy(np.arange(3))", lambda e: np.arange(3)),
    ("max", "x.max(1)", lambda e: (e["x"].max(1), e["x"].argmax(1))),
    ("max", "torch.max(x)", lambda e: e["x"].max()),
    ("max", "torch.max(x, y)", lambda e: np.maximum(e["x"], e["y"])),
    ("min", "torch.min(x, dim=0)", lambda e: (e["x"].min(0), e["x"].argmin(0))),
    ("min", "x.min(1, keepdim=True).values",
     lambda e: e["x"].min(1, keepdims=True)),
    ("std", "x.std()", lambda e: _f32(e["x"].std(ddof=1))),
    ("std", "x.std(1, unbiased=False)", lambda e: e["x"].std(1)),
    ("var", "x.var(1, keepdim=True)", lambda e: e["x"].var(1, ddof=1, keepdims=True)),
    ("var", "torch.var(x, 0, correction=0)", lambda e: e["x"].var(0)),
    ("split", "torch.split(x, 3, dim=1)", lambda e: (e["x"][:, :3], e["x"][:, 3:])),
    ("split", "x.split([1, 2])", lambda e: (e["x"][:1], e["x"][1:])),
    ("cat", "torch.cat([x, y], dim=1)", lambda e: np.concatenate([e["x"], e["y"]], 1)),
    ("stack", "torch.stack([x, y], 1)", lambda e: np.stack([e["x"], e["y"]], 1)),
    ("argmax", "x.argmax(dim=1)", lambda e: e["x"].argmax(1)),
    ("argmax", "torch.argmax(x, 0, keepdim=True)", lambda e: e["x"].argmax(0)[None]),
    ("argmin", "torch.argmin(x)", lambda e: np.int64(e["x"].argmin())),
    ("sum", "x.sum(dim=1, keepdim=True)", lambda e: e["x"].sum(1, keepdims=True)),
    ("sum", "torch.sum(i, (0, 1))", lambda e: np.int64(e["i"].sum())),
    ("mean", "torch.mean(x, (0, 1))", lambda e: _f32(e["x"].mean())),
    ("mean", "x.mean(-1)", lambda e: e["x"].mean(-1)),
    ("concatenate", "torch.concatenate([x, y])", lambda e: np.concatenate([e["x"], e["y"]])),
    ("swapaxes", "torch.swapaxes(a, 0, 2)", lambda e: np.swapaxes(e["a"], 0, 2)),
    # item 2: elementwise math
    ("sin", "torch.sin(x)", lambda e: np.sin(e["x"])),
    ("cos", "x.cos()", lambda e: np.cos(e["x"])),
    ("tan", "torch.tan(x)", lambda e: np.tan(e["x"])),
    ("atan", "x.atan()", lambda e: np.arctan(e["x"])),
    ("sinh", "torch.sinh(x)", lambda e: np.sinh(e["x"])),
    ("cosh", "x.cosh()", lambda e: np.cosh(e["x"])),
    ("log2", "torch.log2(p)", lambda e: np.log2(e["p"])),
    ("log10", "p.log10()", lambda e: np.log10(e["p"])),
    ("log1p", "torch.log1p(p)", lambda e: np.log1p(e["p"])),
    ("expm1", "x.expm1()", lambda e: np.expm1(e["x"])),
    ("rsqrt", "torch.rsqrt(p)", lambda e: 1 / np.sqrt(e["p"])),
    ("square", "x.square()", lambda e: e["x"] ** 2),
    ("square", "torch.square(i)", lambda e: e["i"] ** 2),
    ("reciprocal", "torch.reciprocal(x)", lambda e: 1 / e["x"]),
    ("reciprocal", "i.reciprocal()", lambda e: _f32(1.0 / e["i"])),
    ("sin", "torch.sin(i)", lambda e: _f32(np.sin(e["i"]))),
    # item 2: activations (nn.functional only, as torch)
    ("softsign", "F.softsign(x)", lambda e: e["x"] / (1 + np.abs(e["x"]))),
    ("hardtanh", "F.hardtanh(x)", lambda e: np.clip(e["x"], -1, 1)),
    ("hardtanh", "F.hardtanh(x, -0.5, 0.25)", lambda e: np.clip(e["x"], -0.5, 0.25)),
    ("relu6", "F.relu6(x * 4)", lambda e: _relu6(e["x"] * 4)),
    ("logsigmoid", "F.logsigmoid(x)", lambda e: -np.logaddexp(0, -e["x"])),
    ("mish", "F.mish(x)", lambda e: e["x"] * np.tanh(np.log1p(np.exp(e["x"])))),
    ("selu", "F.selu(x)", lambda e: _selu(e["x"])),
    ("selu", "torch.selu(x)", lambda e: _selu(e["x"])),
    ("celu", "F.celu(x, alpha=0.5)",
     lambda e: np.where(e["x"] > 0, e["x"], 0.5 * np.expm1(e["x"] / 0.5))),
    ("celu", "torch.celu(x)", lambda e: np.where(e["x"] > 0, e["x"], np.expm1(e["x"]))),
    ("hardswish", "F.hardswish(x * 3)", lambda e: e["x"] * 3 * _relu6(e["x"] * 3 + 3) / 6),
    ("hardsigmoid", "F.hardsigmoid(x * 3)", lambda e: _relu6(e["x"] * 3 + 3) / 6),
    # rounding, tests
    ("floor", "torch.floor(x * 2)", lambda e: np.floor(e["x"] * 2)),
    ("ceil", "(x * 2).ceil()", lambda e: np.ceil(e["x"] * 2)),
    ("round", "torch.round(x * 2)", lambda e: np.round(e["x"] * 2)),
    ("round", "x.round(decimals=1)", lambda e: np.round(e["x"], 1)),
    ("trunc", "torch.trunc(x * 2)", lambda e: np.trunc(e["x"] * 2)),
    ("frac", "(x * 2).frac()", lambda e: e["x"] * 2 - np.trunc(e["x"] * 2)),
    ("floor", "i.floor()", lambda e: e["i"]),
    ("isnan", "torch.isnan(x.log())", lambda e: e["x"] < 0),
    ("isinf", "(x / 0).isinf()", lambda e: np.ones((3, 4), bool)),
    ("isfinite", "torch.isfinite(p.log())", lambda e: np.ones((3, 4), bool)),
    # % // and bitwise
    ("remainder", "torch.remainder(i, 3)", lambda e: np.mod(e["i"], 3)),
    ("remainder", "x % -0.7", lambda e: _f32(np.mod(e["x"], np.float32(-0.7)))),
    ("floor_divide", "i // 3", lambda e: np.floor_divide(e["i"], 3)),
    ("floor_divide", "torch.floor_divide(x, 0.5)", lambda e: np.floor_divide(e["x"], 0.5)),
    ("bitwise_and", "i & 3", lambda e: e["i"] & 3),
    ("bitwise_and", "b & (i > 0)", lambda e: e["b"] & (e["i"] > 0)),
    ("bitwise_or", "torch.bitwise_or(i, j)", lambda e: e["i"] | e["j"]),
    ("bitwise_xor", "i ^ j", lambda e: e["i"] ^ e["j"]),
    ("bitwise_not", "~i", lambda e: ~e["i"]),
    ("bitwise_not", "torch.bitwise_not(b)", lambda e: ~e["b"]),
    ("bitwise_left_shift", "j << 2", lambda e: e["j"] << 2),
    ("bitwise_right_shift", "torch.bitwise_right_shift(i, 1)", lambda e: e["i"] >> 1),
    # method aliases
    ("add", "x.add(y, alpha=2)", lambda e: e["x"] + 2 * e["y"]),
    ("add", "torch.add(i, 0.5)", lambda e: _f32(e["i"] + 0.5)),
    ("sub", "torch.sub(x, y)", lambda e: e["x"] - e["y"]),
    ("mul", "x.mul(3)", lambda e: e["x"] * 3),
    ("div", "x.div(y)", lambda e: e["x"] / e["y"]),
    ("div", "torch.div(i, 3)", lambda e: _f32(e["i"] / 3)),
    ("div", "i.div(3, rounding_mode='floor')", lambda e: e["i"] // 3),
    ("div", "torch.div(i, 3, rounding_mode='trunc')", lambda e: np.trunc(e["i"] / 3).astype(
        np.int64)),
    ("pow", "p.pow(0.5)", lambda e: np.sqrt(e["p"])),
    ("pow", "torch.pow(i, 2)", lambda e: e["i"] ** 2),
    ("pow", "i ** 0.5", lambda e: _f32(np.sqrt(e["i"].astype(np.float64)))),
    ("neg", "x.neg()", lambda e: -e["x"]),
    ("exp", "torch.exp(x)", lambda e: np.exp(e["x"])),
    ("exp", "torch.tensor(2).exp()", lambda e: _f32(np.exp(2))),
    ("log", "p.log()", lambda e: np.log(e["p"])),
    ("sqrt", "torch.sqrt(p)", lambda e: np.sqrt(e["p"])),
    ("abs", "i.abs()", lambda e: np.abs(e["i"])),
    ("lerp", "torch.lerp(x, y, 0.25)", lambda e: e["x"] + 0.25 * (e["y"] - e["x"])),
    ("lerp", "x.lerp(y, p)", lambda e: e["x"] + e["p"] * (e["y"] - e["x"])),
    ("logaddexp", "torch.logaddexp(x, y)", lambda e: np.logaddexp(e["x"], e["y"])),
    # scans, ordering
    ("prod", "x.prod(1)", lambda e: e["x"].prod(1)),
    ("prod", "torch.prod(i)", lambda e: np.int64(e["i"].prod())),
    ("cumsum", "x.cumsum(0)", lambda e: e["x"].cumsum(0)),
    ("cumsum", "torch.cumsum(b, 1)", lambda e: e["b"].cumsum(1)),
    ("cumprod", "torch.cumprod(x, 1)", lambda e: e["x"].cumprod(1)),
    ("cummax", "x.cummax(1)", lambda e: _cummax(e["x"], 1)),
    ("logcumsumexp", "x.logcumsumexp(1)", lambda e: np.logaddexp.accumulate(e["x"], 1)),
    ("sort", "x.sort(1, descending=True)", lambda e: _sorted(e["x"], 1, True)),
    ("sort", "torch.sort(x, 0)", lambda e: _sorted(e["x"], 0)),
    ("argsort", "torch.argsort(x, dim=0)", lambda e: np.argsort(e["x"], 0)),
    ("topk", "x.topk(2)", lambda e: tuple(a[:, :2] for a in _sorted(e["x"], 1, True))),
    ("topk", "torch.topk(x, 1, 0, largest=False)",
     lambda e: tuple(a[:1] for a in _sorted(e["x"], 0))),
    ("kthvalue", "x.kthvalue(2, 1)", lambda e: tuple(a[:, 1] for a in _sorted(e["x"], 1))),
    ("median", "x.median()", lambda e: np.sort(e["x"].ravel())[5]),
    ("median", "torch.median(x, 0)", lambda e: tuple(a[1] for a in _sorted(e["x"], 0))),
    # rearranging
    ("flip", "x.flip(0)", lambda e: e["x"][::-1]),
    ("flip", "torch.flip(a, (0, 2))", lambda e: e["a"][::-1, :, ::-1]),
    ("roll", "torch.roll(x, 1, 1)", lambda e: np.roll(e["x"], 1, 1)),
    ("roll", "x.roll(-2)", lambda e: np.roll(e["x"], -2)),
    ("repeat", "v.repeat(2, 1)", lambda e: np.tile(e["v"], (2, 1))),
    ("repeat_interleave", "torch.repeat_interleave(v, 2)", lambda e: np.repeat(e["v"], 2)),
    ("repeat_interleave", "x.repeat_interleave(2, dim=0)", lambda e: np.repeat(e["x"], 2, 0)),
    ("tile", "torch.tile(v, (2,))", lambda e: np.tile(e["v"], 2)),
    ("expand", "v.expand(3, 4)", lambda e: np.broadcast_to(e["v"], (3, 4))),
    ("expand", "v.expand(2, -1)", lambda e: np.broadcast_to(e["v"], (2, 4))),
    ("expand_as", "v.expand_as(x)", lambda e: np.broadcast_to(e["v"], (3, 4))),
    ("view", "x.view(4, 3)", lambda e: e["x"].reshape(4, 3)),
    ("view", "a.view(-1)", lambda e: e["a"].reshape(-1)),
    ("view_as", "x.view_as(y)", lambda e: e["x"]),
    ("narrow", "x.narrow(1, 1, 2)", lambda e: e["x"][:, 1:3]),
    ("chunk", "x.chunk(2, 1)", lambda e: (e["x"][:, :2], e["x"][:, 2:])),
    ("chunk", "torch.chunk(x, 2)", lambda e: (e["x"][:2], e["x"][2:])),
    ("unbind", "x.unbind(0)", lambda e: tuple(e["x"])),
    ("unflatten", "x.unflatten(1, (2, 2))", lambda e: e["x"].reshape(3, 2, 2)),
    ("movedim", "torch.movedim(a, 0, -1)", lambda e: np.moveaxis(e["a"], 0, -1)),
    # matrices
    ("diag", "torch.diag(v)", lambda e: np.diag(e["v"])),
    ("diag", "m.diag(1)", lambda e: np.diag(e["m"], 1)),
    ("diagonal", "m.diagonal(1)", lambda e: np.diagonal(e["m"], 1)),
    ("diagonal", "torch.linalg.diagonal(a)", lambda e: np.diagonal(e["a"], 0, -2, -1)),
    ("trace", "m.trace()", lambda e: _f32(np.trace(e["m"]))),
    ("tril", "m.tril()", lambda e: np.tril(e["m"])),
    ("triu", "torch.triu(m, 1)", lambda e: np.triu(e["m"], 1)),
    # gathering and scattering
    ("gather", "x.gather(1, ix)", lambda e: np.take_along_axis(e["x"], e["ix"], 1)),
    ("scatter", "torch.zeros(3, 4).scatter(1, ix, src)",
     lambda e: _scatter((3, 4), e["ix"], e["src"])),
    ("scatter", "x.scatter(1, ix, 0.5)",
     lambda e: np.where(_scatter((3, 4), e["ix"], np.ones((3, 2))) == 1, 0.5, e["x"])),
    ("scatter_add", "torch.zeros(3, 4).scatter_add(1, ix, src)",
     lambda e: _scatter((3, 4), e["ix"], e["src"], True)),
    ("index_select", "x.index_select(0, r)", lambda e: e["x"][e["r"]]),
    ("index_add", "x.index_add(0, r, u)", lambda e: _index_add(e["x"], e["r"], e["u"])),
    ("index_add", "torch.index_add(x, 0, r, u, alpha=2)",
     lambda e: _index_add(e["x"], e["r"], 2 * e["u"])),
    ("masked_fill", "x.masked_fill(b, 0.0)", lambda e: np.where(e["b"], 0, e["x"])),
    ("masked_fill", "torch.masked_fill(x, b, torch.tensor(9.0))",
     lambda e: np.where(e["b"], 9, e["x"])),
    ("masked_select", "x.masked_select(b)", lambda e: e["x"][e["b"]]),
    ("nonzero", "i.nonzero()", lambda e: np.argwhere(e["i"])),
    ("nonzero", "torch.nonzero(b, as_tuple=True)", lambda e: np.nonzero(e["b"])),
    ("where", "torch.where(b, x, y)", lambda e: np.where(e["b"], e["x"], e["y"])),
    ("where", "torch.where(b, x, 0.0)", lambda e: np.where(e["b"], e["x"], 0)),
    ("where", "torch.where(b)", lambda e: np.nonzero(e["b"])),
    # products
    ("einsum", "torch.einsum('ij,kj->ik', x, y)", lambda e: e["x"] @ e["y"].T),
    # (implicit output: the labels seen once, sorted, so b, seen twice, is summed over)
    ("einsum", "torch.einsum('bij,bjk', bm1, bm2)", lambda e: (e["bm1"] @ e["bm2"]).sum(0)),
    ("outer", "torch.outer(v, w)", lambda e: np.outer(e["v"], e["w"])),
    ("bmm", "torch.bmm(bm1, bm2)", lambda e: e["bm1"] @ e["bm2"]),
    ("mm", "x.mm(m)", lambda e: e["x"] @ e["m"]),
    ("dot", "v.dot(w)", lambda e: _f32(e["v"] @ e["w"])),
    # norms
    ("norm", "x.norm()", lambda e: _f32(np.linalg.norm(e["x"]))),
    ("norm", "torch.norm(x, p=1, dim=1)", lambda e: np.abs(e["x"]).sum(1)),
    ("norm", "x.norm(float('inf'), dim=0)", lambda e: np.abs(e["x"]).max(0)),
    ("norm", "torch.linalg.norm(m, 'fro')", lambda e: _f32(np.linalg.norm(e["m"]))),
    ("norm", "torch.linalg.norm(v, 2)", lambda e: _f32(np.linalg.norm(e["v"]))),
    # comparisons
    ("allclose", "torch.allclose(x, x + 1e-9)", lambda e: True),
    ("allclose", "x.allclose(y)", lambda e: False),
    ("isclose", "torch.isclose(x, y, atol=0.5)", lambda e: np.isclose(e["x"], e["y"], atol=0.5)),
    ("equal", "torch.equal(x, x.clone())", lambda e: True),
    ("equal", "x.equal(y)", lambda e: False),
    ("clamp", "x.clamp(min=-0.5, max=0.5)", lambda e: np.clip(e["x"], -0.5, 0.5)),
    ("clamp", "torch.clamp(x, min=y)", lambda e: np.maximum(e["x"], e["y"])),
    ("clamp", "x.clamp(max=y, min=y - 1)",
     lambda e: np.minimum(np.maximum(e["x"], e["y"] - 1), e["y"])),
    # reductions
    ("std_mean", "torch.std_mean(x, 1)", lambda e: (e["x"].std(1, ddof=1), e["x"].mean(1))),
    ("var_mean", "torch.var_mean(x)", lambda e: (_f32(e["x"].var(ddof=1)), _f32(e["x"].mean()))),
    ("amax", "torch.amax(a, (0, 2))", lambda e: e["a"].max((0, 2))),
    ("amin", "x.amin(1)", lambda e: e["x"].min(1)),
    ("any", "b.any(1)", lambda e: e["b"].any(1)),
    ("any", "torch.any(i)", lambda e: np.bool_(True)),
    ("all", "torch.all(b)", lambda e: np.bool_(False)),
    ("all", "i.all(dim=0)", lambda e: e["i"].all(0)),
    ("count_nonzero", "torch.count_nonzero(i, 0)", lambda e: np.count_nonzero(e["i"], 0)),
    ("sum", "torch.sum(b, dtype=torch.float32)", lambda e: _f32(e["b"].sum())),
    ("sum", "x.sum(dtype=torch.float64)", lambda e: e["x"].astype(np.float64).sum()),
    # grids, distances
    ("meshgrid", "torch.meshgrid(v, w, indexing='ij')",
     lambda e: tuple(np.meshgrid(e["v"], e["w"], indexing="ij"))),
    ("meshgrid", "torch.meshgrid(v, w, indexing='xy')",
     lambda e: tuple(np.meshgrid(e["v"], e["w"], indexing="xy"))),
    ("cdist", "torch.cdist(xs, ys)",
     lambda e: _f32(np.linalg.norm(e["xs"][:, None] - e["ys"][None], axis=-1))),
    ("cdist", "torch.cdist(xs, ys, p=1)",
     lambda e: np.abs(e["xs"][:, None] - e["ys"][None]).sum(-1)),
    ("normalize", "F.normalize(x, dim=1)",
     lambda e: e["x"] / np.linalg.norm(e["x"], axis=1, keepdims=True)),
    ("cosine_similarity", "F.cosine_similarity(x, y)",
     lambda e: (e["x"] * e["y"]).sum(1) / np.linalg.norm(e["x"], axis=1)
     / np.linalg.norm(e["y"], axis=1)),
    ("cosine_similarity", "torch.cosine_similarity(x, y, 0)",
     lambda e: (e["x"] * e["y"]).sum(0) / np.linalg.norm(e["x"], axis=0)
     / np.linalg.norm(e["y"], axis=0)),
    ("one_hot", "F.one_hot(lbl)", lambda e: np.eye(3, dtype=np.int64)[e["lbl"]]),
    ("one_hot", "F.one_hot(lbl, 4)", lambda e: np.eye(4, dtype=np.int64)[e["lbl"]]),
    ("pad", "F.pad(x, (1, 2))", lambda e: np.pad(e["x"], ((0, 0), (1, 2)))),
    ("pad", "F.pad(x, (0, -1, 1, 0), value=9.0)",
     lambda e: np.pad(e["x"][:, :3], ((1, 0), (0, 0)), constant_values=9)),
    ("pad", "F.pad(a, (1, 1, 0, 1), mode='reflect')",
     lambda e: np.pad(e["a"], ((0, 0), (0, 1), (1, 1)), mode="reflect")),
    ("pad", "F.pad(a, (2, 0), mode='replicate')",
     lambda e: np.pad(e["a"], ((0, 0), (0, 0), (2, 0)), mode="edge")),
    ("pad", "F.pad(a, (1, 1), mode='circular')",
     lambda e: np.pad(e["a"], ((0, 0), (0, 0), (1, 1)), mode="wrap")),
    # item 4: in place (on a copy: the inputs are shared by the lines)
    ("zero_", "x.clone().zero_()", lambda e: np.zeros((3, 4), np.float32)),
    ("fill_", "x.clone().fill_(2.5)", lambda e: np.full((3, 4), 2.5, np.float32)),
    ("copy_", "x.clone().copy_(v)", lambda e: np.broadcast_to(e["v"], (3, 4))),
    ("copy_", "x.clone().copy_(i)", lambda e: e["i"].astype(np.float32)),
    ("add_", "x.clone().add_(y, alpha=2)", lambda e: e["x"] + 2 * e["y"]),
    ("sub_", "x.clone().sub_(1)", lambda e: e["x"] - 1),
    ("mul_", "i.clone().mul_(3)", lambda e: e["i"] * 3),
    ("div_", "x.clone().div_(y)", lambda e: e["x"] / e["y"]),
    ("clamp_", "x.clone().clamp_(min=0)", lambda e: np.maximum(e["x"], 0)),
    ("pow_", "x.clone().pow_(2)", lambda e: e["x"] ** 2),
    ("masked_fill_", "x.clone().masked_fill_(b, -1.0)", lambda e: np.where(e["b"], -1, e["x"])),
    ("index_add_", "x.clone().index_add_(0, r, u)",
     lambda e: _index_add(e["x"], e["r"], e["u"])),
    ("scatter_", "torch.zeros(3, 4).scatter_(1, ix, src)",
     lambda e: _scatter((3, 4), e["ix"], e["src"])),
    ("normal_", "torch.zeros(3).normal_(5.0, 0.0)", lambda e: np.full(3, 5, np.float32)),
    ("normal_", "x.clone().normal_().shape", lambda e: Size((3, 4))),
    ("uniform_", "x.clone().uniform_(2, 3).floor()", lambda e: np.full((3, 4), 2, np.float32)),
    # item 5: NumPy's protocols, DLPack, format
    ("__array_ufunc__", "np.exp(x)", lambda e: np.exp(e["x"])),
    ("__array_ufunc__", "np.add(x, 1)", lambda e: e["x"] + 1),
    ("__array_function__", "np.mean(x, axis=0)", lambda e: e["x"].mean(0), False),
    ("__array_function__", "np.concatenate([x, y])",
     lambda e: np.concatenate([e["x"], e["y"]]), False),
    ("__dlpack__", "torch.from_dlpack(x)", lambda e: e["x"]),
    ("from_dlpack", "torch.from_dlpack(np.arange(3.0))", lambda e: np.arange(3.0)),
    ("__dlpack_device__", "tuple(int(d) for d in x.__dlpack_device__())", lambda e: (1, 0)),
    ("__format__", "f'{x.sum():.3f}'", lambda e: f"{float(e['x'].sum()):.3f}"),
    ("__format__", "format(torch.tensor(2.5), '.2f')", lambda e: "2.50"),
]
CALLS = [c if len(c) == 4 else (*c, True) for c in CALLS]


def _ours(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return parity.run_line(expr, parity.AUTODIFF, INPUTS)[0]


def assert_reference(ours, expected, what):
    """ours (autodiff's result) has the reference's structure, types, dtypes and values:
    an ndarray or NumPy scalar is a Tensor of that dtype and shape, a tuple a tuple (a
    named tuple counts), Size an ad.Size, a Python value the same type and value."""
    if isinstance(expected, Size):
        assert isinstance(ours, ad.Size) and tuple(ours) == tuple(expected), \
            f"{what}: {ours!r}, expected Size{tuple(expected)}"
        return
    if isinstance(expected, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(expected), \
            f"{what}: {type(ours).__name__}, expected a tuple of {len(expected)}"
        for k, (a, b) in enumerate(zip(ours, expected)):
            assert_reference(a, b, f"{what}[{k}]")
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        expected = np.asarray(expected)
        assert isinstance(ours, ad.Tensor), f"{what}: {type(ours).__name__}, not a tensor"
        assert parity.dtype_name(ours) == parity.dtype_name(expected), \
            f"{what}: dtype {parity.dtype_name(ours)}, expected {expected.dtype}"
        parity.assert_close(parity.to_numpy(ours), expected, parity.dtype_name(ours), what)
        return
    assert type(ours) is type(expected), \
        f"{what}: {type(ours).__name__}, expected {type(expected).__name__}"
    assert ours == expected or isinstance(expected, float) and math.isclose(
        ours, expected, rel_tol=1e-6), f"{what}: {ours!r} != {expected!r}"


# ---------------------------------------------------------------- the tests
def test_every_name_exists_where_torch_has_it():
    assert not missing_names(), f"missing: {missing_names()}"


def test_every_name_has_a_one_liner():
    called = {name for name, *_ in CALLS}
    assert set(WHERE) <= called, f"no one-liner for {sorted(set(WHERE) - called)}"


@pytest.mark.parametrize("name, expr, ref, _", CALLS, ids=[c[1] for c in CALLS])
def test_one_liner_matches_reference(name, expr, ref, _):
    with np.errstate(all="ignore"):
        expected = ref(INPUTS)
    assert_reference(_ours(expr), expected, expr)


def _torch_result(expr):
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parity.run_line(expr, parity.torch_namespace(), INPUTS)[0], torch


@pytest.mark.parametrize("name, expr, ref, with_torch", CALLS, ids=[c[1] for c in CALLS])
def test_one_liner_matches_torch(name, expr, ref, with_torch):
    if not with_torch:
        pytest.skip("torch tensors do not implement this NumPy protocol")
    theirs, _ = _torch_result(expr)
    parity.assert_same(_ours(expr), theirs, expr)


def test_where_table_is_torchs():
    """WHERE says where torch has each name (so a name torch adds or moves is noticed)."""
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    spaces = {"t": torch, "m": torch.Tensor, "f": torch.nn.functional, "l": torch.linalg}
    for name, where in WHERE.items():
        if name in _OURS_ONLY or name == "__format__":  # every object has __format__
            continue
        has = "".join(c for c in "tmfl" if hasattr(spaces[c], name) and (name, c) not in
                      _UNDOCUMENTED_IN_TORCH and not (c == "t" and name == "T"))
        assert has == where, f"{name}: torch has it in {has!r}, the table says {where!r}"


def audit() -> dict:
    """The audit's counts: names, where they are missing, and the one-liners that agree
    with the reference and with torch (None without torch)."""
    counts = {"names": len(WHERE), "missing": missing_names(), "one_liners": len(CALLS),
              "reference_differ": [], "torch_differ": [], "torch_checked": 0}
    try:
        import torch  # noqa: F401
    except ImportError:
        torch = None
    for name, expr, ref, with_torch in CALLS:
        try:
            with np.errstate(all="ignore"):
                assert_reference(_ours(expr), ref(INPUTS), expr)
        except Exception as exc:  # noqa: BLE001 (an audit lists every difference)
            counts["reference_differ"].append(f"{expr}: {exc}")
        if torch is None or not with_torch:
            continue
        counts["torch_checked"] += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = parity.run_line(expr, parity.torch_namespace(), INPUTS)[0]
            parity.assert_same(_ours(expr), theirs, expr)
        except Exception as exc:  # noqa: BLE001
            counts["torch_differ"].append(f"{expr}: {exc}")
    return counts


if __name__ == "__main__":
    c = audit()
    names_with_diff = {e.split(":")[0] for e in c["reference_differ"] + c["torch_differ"]}
    print(f"names checked: {c['names']}, missing where torch has them: {len(c['missing'])} "
          f"{c['missing'] or ''}")
    print(f"one-liners: {c['one_liners']}; agree with the NumPy/closed-form reference: "
          f"{c['one_liners'] - len(c['reference_differ'])}; run on torch: "
          f"{c['torch_checked']}, agree: {c['torch_checked'] - len(c['torch_differ'])}; "
          f"lines that differ: {len(names_with_diff)}")
    for line in c["reference_differ"] + c["torch_differ"]:
        print("  differs:", line.splitlines()[0][:200])
