"""Parity suite for the structural ops: PyTorch one-liners, run verbatim on torch and, with
the namespace swapped (`torch` -> `autodiff`, `F` -> `nn.functional`), on autodiff.

Each row is an expression over named inputs (x, d, k, ... below), drawn by hypothesis
(shapes, dims, dtypes, values; ties, zeros and NaN where a row asks for them). Two tests
per row:
- `test_matches_reference`: autodiff against a NumPy or closed-form reference (runs
  without torch, so the suite means something on its own);
- `test_matches_torch`: autodiff against torch: values, dtypes, shapes, the named-tuple
  fields, and for float64 inputs the gradients of every float input.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
import nn.functional as nnF

# a third of the profile's examples per row: there are many rows, each cheap to draw
PARITY = settings(max_examples=max(4, settings.default.max_examples // 3))
FLOAT_DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------- the inputs a row may use
def _shape(draw, min_dims=1, max_dims=3, min_side=1, max_side=4):
    nd = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(min_side, max_side)) for _ in range(nd))


def _distinct(draw, shape, dtype):
    """Distinct values (no ties: indices of sorts and extremes are then unique)."""
    n = int(np.prod(shape))
    perm = np.asarray(draw(st.permutations(range(n))), dtype=np.float64) if n else np.zeros(0)
    signs = 1.0 - 2.0 * (perm % 3 == 0)
    return ((perm + 0.5) * 0.37 * signs).reshape(shape).astype(dtype)


def _ties(draw, shape, dtype):
    n = int(np.prod(shape))
    return np.asarray(draw(st.lists(st.sampled_from([-1.0, 0.0, 1.0, 2.0]), min_size=n,
                                    max_size=n)), dtype=dtype).reshape(shape)


class Env:
    """Draws the inputs an expression names, on demand and consistently with each other
    (every input that depends on x's shape or on the dim d sees the same ones)."""

    def __init__(self, draw):
        self.draw, self.values = draw, {}

    def __getitem__(self, name):
        if name not in self.values:
            self.values[name] = MAKERS[name](self)
        return self.values[name]


def _dtype(e):
    return e.draw(st.sampled_from(FLOAT_DTYPES))


MAKERS: dict[str, Callable] = {
    "dt": _dtype,
    "S": lambda e: _shape(e.draw),
    "x": lambda e: _distinct(e.draw, e["S"], e["dt"]),
    "d": lambda e: (lambda nd: e.draw(st.integers(-nd, nd - 1)))(len(e["S"])),
    "dd": lambda e: tuple(e.draw(st.lists(st.integers(0, len(e["S"]) - 1), min_size=1,
                                          unique=True))),
    "k": lambda e: e.draw(st.integers(0, e["S"][e["d"]])),
    "k1": lambda e: e.draw(st.integers(1, e["S"][e["d"]])),
    "bb": lambda e: e.draw(st.booleans()),
    "t": lambda e: _ties(e.draw, e["S"], e["dt"]),
    "z": lambda e: np.where(_ties(e.draw, e["S"], np.float64) == 0, 0,
                            _distinct(e.draw, e["S"], np.float64)).astype(e["dt"]),
    "n": lambda e: np.where(_ties(e.draw, e["S"], np.float64) == 2, np.nan, e["x"]).astype(
        e["dt"]),
    "i": lambda e: _ties(e.draw, e["S"], np.float64).astype(np.int64),
    "b": lambda e: _ties(e.draw, e["S"], np.float64) > 0.5,
    "i8": lambda e: e["i"].astype(np.int8),
    "i32": lambda e: e["i"].astype(np.int32),
    "u8": lambda e: (e["i"] + 1).astype(np.uint8),
    "mask": lambda e: _ties(e.draw, tuple(s if e.draw(st.booleans()) else 1 for s in e["S"]),
                            np.float64) > 0.5,
    "y": lambda e: _distinct(e.draw, tuple(s if e.draw(st.booleans()) else 1
                                           for s in e["S"]), e["dt"]),
    "ix": lambda e: _index(e, unique=False),
    "ux": lambda e: _index(e, unique=True),
    # (off x's grid of values: where a scattered amax/amin ties the value it replaces with
    # include_self=False, torch's gradient loses half, README: remaining differences)
    "src": lambda e: _distinct(e.draw, e["ux"].shape, e["dt"]) + e["dt"](0.0925),
    "asrc": lambda e: _distinct(e.draw, e["ix"].shape, e["dt"]),
    "ixb": lambda e: _broadcast_index(e),
    "rows": lambda e: np.asarray(e.draw(st.permutations(range(e["S"][e["d"]]))), np.int64)[
        :e.draw(st.integers(1, e["S"][e["d"]]))],
    "rsrc": lambda e: _distinct(e.draw, _with(e["S"], e["d"], len(e["rows"])), e["dt"]),
    "flat": lambda e: _distinct(e.draw, (int(np.prod(e["S"])) + 1,), e["dt"]),
    "ti": lambda e: np.asarray(e.draw(st.lists(st.integers(-int(np.prod(e["S"])),
                                                           int(np.prod(e["S"])) - 1),
                                               min_size=1, max_size=5)), np.int64),
    "cnt": lambda e: np.asarray(e.draw(st.lists(st.integers(0, 3), min_size=e["S"][e["d"]],
                                                max_size=e["S"][e["d"]])), np.int64),
    "v": lambda e: _distinct(e.draw, (e["nv"],), e["dt"]),
    "v2": lambda e: _distinct(e.draw, (e["nv"],), e["dt"])[::-1].copy(),
    "nv": lambda e: e.draw(st.integers(1, 4)),
    "w": lambda e: _distinct(e.draw, (e.draw(st.integers(1, 4)),), e["dt"]),
    "s": lambda e: np.asarray(e.draw(st.sampled_from([-1.5, 0.0, 2.0])), dtype=e["dt"]),
    "m": lambda e: _distinct(e.draw, (e["r"], e["q"]), e["dt"]),
    "c": lambda e: _distinct(e.draw, (e["q"], e.draw(st.integers(1, 4))), e["dt"]),
    "c2": lambda e: _distinct(e.draw, (e.draw(st.integers(1, 4)), e["q"]), e["dt"]) + 0.1,
    "r": lambda e: e.draw(st.integers(1, 4)),
    "q": lambda e: e.draw(st.integers(1, 4)),
    "mv_v": lambda e: _distinct(e.draw, (e["q"],), e["dt"]),
    "bx": lambda e: _distinct(e.draw, (2, e["r"], e["q"]), e["dt"]),
    "by": lambda e: _distinct(e.draw, (2, e["q"], 3), e["dt"]),
    "sq": lambda e: (lambda n: (_distinct(e.draw, (n, n), np.float64) * 0.1
                                + 3 * np.eye(n)).astype(e["dt"]))(e.draw(st.integers(1, 4))),
    "sqv": lambda e: _distinct(e.draw, (e["sq"].shape[0],), e["dt"]),
    "p3": lambda e: _distinct(e.draw, (e.draw(st.integers(1, 3)), 3), e["dt"]),
    "q3": lambda e: _distinct(e.draw, (1, 3), e["dt"]) + 0.2,
    "x3": lambda e: _distinct(e.draw, _shape(e.draw, 3, 3), e["dt"]),
    "x3s": lambda e: _distinct(e.draw, _shape(e.draw, 3, 3, min_side=3), e["dt"]),
    "x4": lambda e: _distinct(e.draw, _shape(e.draw, 3, 4, min_side=3), e["dt"]),
    "img": lambda e: _distinct(e.draw, (e.draw(st.integers(1, 2)), e.draw(st.integers(1, 2)),
                                        e.draw(st.integers(2, 5)), e.draw(st.integers(2, 5))),
                               e["dt"]),
    "big1": lambda e: _distinct(e.draw, (30, 3), e["dt"]),
    "big2": lambda e: _distinct(e.draw, (e.draw(st.integers(1, 4)), 3), e["dt"]) + 0.05,
    "lbl": lambda e: np.asarray(e.draw(st.lists(st.integers(0, 4), min_size=1, max_size=6)),
                                np.int64),
    "o": lambda e: e.draw(st.sampled_from([2, 1, 3, 0.5, math.inf, -math.inf, 0])),
    "mo": lambda e: e.draw(st.sampled_from(["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])),
    "red": lambda e: e.draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"])),
    "pp": lambda e: e.draw(st.sampled_from([1.0, 2.0, 3.0])),
}


def _with(shape, dim, n):
    shape = list(shape)
    shape[dim] = n
    return tuple(shape)


def _broadcast_index(e):
    """A take_along_dim index: 1 or x's size on the other dims (they broadcast)."""
    shape, d = e["S"], e["d"] % len(e["S"])
    ishape = tuple(e.draw(st.integers(1, 3)) if a == d else e.draw(st.sampled_from([1, s]))
                   for a, s in enumerate(shape))
    n = int(np.prod(ishape))
    vals = e.draw(st.lists(st.integers(0, shape[d] - 1), min_size=n, max_size=n))
    return np.asarray(vals, np.int64).reshape(ishape)


def _index(e, unique):
    """A gather/scatter index along d: fits inside x on the other dims."""
    shape, d = e["S"], e["d"] % len(e["S"])
    ishape = tuple(e.draw(st.integers(1, s)) for s in shape)
    if not unique:
        n = int(np.prod(ishape))
        vals = e.draw(st.lists(st.integers(0, shape[d] - 1), min_size=n, max_size=n))
        return np.asarray(vals, np.int64).reshape(ishape)
    moved = np.moveaxis(np.zeros(ishape), d, -1).shape
    lines = [e.draw(st.permutations(range(shape[d])))[:moved[-1]]
             for _ in range(int(np.prod(moved[:-1])))]
    return np.moveaxis(np.asarray(lines, np.int64).reshape(moved), -1, d)


# ---------------------------------------------------------------- NumPy references
def _np_cum_index(x, d, op):
    """Indices of the running max/min along d: the latest position holding it."""
    x = np.moveaxis(x, d, -1)
    out = np.zeros(x.shape, np.int64)
    for pos in np.ndindex(x.shape[:-1]):
        best = 0
        for j in range(x.shape[-1]):
            if op(x[pos + (j,)], x[pos + (best,)]) or x[pos + (j,)] == x[pos + (best,)]:
                best = j
            out[pos + (j,)] = best
    return np.moveaxis(out, -1, d)


def _np_sort(x, d, descending=False):
    idx = np.argsort(-x if descending else x, axis=d, kind="stable")
    return np.take_along_axis(x, idx, d), idx


def _np_kth(x, k, d, keepdim=False):
    idx = np.take(np.argsort(x, axis=d, kind="stable"), [k - 1], axis=d)
    vals = np.take_along_axis(x, idx, d)
    return (vals, idx) if keepdim else (np.squeeze(vals, d), np.squeeze(idx, d))


def _np_mode(x, d):
    def line(v):
        values, counts = np.unique(v, return_counts=True)
        best = values[np.argmax(counts)]
        return best, np.nonzero(v == best)[0][-1]
    moved = np.moveaxis(x, d, -1)
    vals = np.zeros(moved.shape[:-1], x.dtype)
    idx = np.zeros(moved.shape[:-1], np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        vals[pos], idx[pos] = line(moved[pos])
    return vals, idx


def _np_gather(x, d, index):
    d %= x.ndim
    cut = x[tuple(slice(None) if a == d else slice(0, n) for a, n in enumerate(index.shape))]
    return np.take_along_axis(cut, index, d)


def _positions(index, d):
    d %= index.ndim
    return tuple(index if a == d else np.arange(n).reshape([n if b == a else 1
                                                            for b in range(index.ndim)])
                 for a, n in enumerate(index.shape))


def _np_scatter(x, d, index, src, add=False):
    out = x.copy()
    if add:
        np.add.at(out, _positions(index, d), src)
    else:
        out[_positions(index, d)] = src
    return out


def _np_scatter_reduce(x, d, index, src, red, include_self):
    where = _positions(index, d)
    out, hit = x.astype(np.float64), np.zeros(x.shape, bool)
    hit[where] = True
    if not include_self:
        out[hit] = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[red]
    {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
     "amin": np.minimum}[red].at(out, where, src)
    if red == "mean":
        count = np.zeros(x.shape)
        np.add.at(count, where, 1)
        out = out / (count + (1 if include_self else ~hit))
    return out


def _np_index_add(x, d, rows, src):
    out = x.copy()
    np.add.at(out, (slice(None),) * (d % x.ndim) + (rows,), src)
    return out


def _np_index_set(x, d, rows, src):
    out = x.copy()
    out[(slice(None),) * (d % x.ndim) + (rows,)] = src
    return out


def _np_masked_scatter(x, mask, src):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    out, m = np.broadcast_to(x, shape).copy(), np.broadcast_to(mask, shape)
    out[m] = src[:int(m.sum())]
    return out


def _np_vector_norm(x, o, d=None):
    a = np.abs(x.astype(np.float64))
    if o == math.inf:
        return a.max(axis=d)
    if o == -math.inf:
        return a.min(axis=d)
    if o == 0:
        return (a != 0).sum(axis=d).astype(np.float64)
    return (a ** o).sum(axis=d) ** (1 / o)


def _np_pad(x, pad, mode="constant", value=0.0):
    widths, crop = [(0, 0)] * x.ndim, [slice(None)] * x.ndim
    for i in range(len(pad) // 2):
        dim, left, right = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        crop[dim] = slice(max(-left, 0), x.shape[dim] - max(-right, 0))
        widths[dim] = (max(left, 0), max(right, 0))
    x = x[tuple(crop)]
    if mode == "constant":
        return np.pad(x, widths, constant_values=value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                   "circular": "wrap"}[mode])


def _np_unfold(x, k):
    n, c, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    cols = np.empty((n, c, k, k, oh, ow), x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = x[:, :, i:i + oh, j:j + ow]
    return cols.reshape(n, c * k * k, oh * ow)


def _np_meshgrid(indexing):
    return lambda v, w: tuple(np.meshgrid(v, w, indexing=indexing))


def _f64(a):
    return a.astype(np.float64)


def _np_softmax(x, d):
    z = np.exp(_f64(x) - np.max(x, d, keepdims=True))
    return z / np.sum(z, d, keepdims=True)


# ---------------------------------------------------------------- the rows
@dataclass(frozen=True)
class Row:
    expr: str                      # a PyTorch one-liner (`torch.`, `F.`)
    ref: Callable | None           # NumPy / closed form: ref(env) -> expected output(s)
    grad: bool = True              # compare gradients of the float inputs with torch
    tol: float = 1e-6              # relative tolerance in float32 (float64: 1e-9)
    exact_dtype: bool = False      # the reference's dtype is the result's (dtype= rows)

    def __str__(self):
        return self.expr


R = Row


def D(expr, ref, **kw):
    """A row whose reference gives the result's exact dtype, checked without torch too."""
    return Row(expr, ref, exact_dtype=True, **kw)


ROWS = [
    # scans and prod
    R("torch.cumsum(x, dim=d)", lambda e: np.cumsum(e["x"], e["d"])),
    R("torch.cumsum(i, d)", lambda e: np.cumsum(e["i"], e["d"])),
    R("torch.cumsum(i, d, dtype=torch.float64)", lambda e: np.cumsum(e["i"], e["d"]) * 1.0),
    R("torch.cumprod(x, d)", lambda e: np.cumprod(e["x"], e["d"])),
    R("torch.cumprod(z, dim=d)", lambda e: np.cumprod(e["z"], e["d"])),
    R("torch.cumprod(b, d)", lambda e: np.cumprod(e["b"], e["d"]).astype(np.int64)),
    R("torch.cummax(x, d)", lambda e: (np.maximum.accumulate(e["x"], e["d"]),
                                       _np_cum_index(e["x"], e["d"], np.greater))),
    R("torch.cummin(t, dim=d)", lambda e: (np.minimum.accumulate(e["t"], e["d"]),
                                           _np_cum_index(e["t"], e["d"], np.less))),
    R("torch.cummax(n, d).values", lambda e: np.maximum.accumulate(e["n"], e["d"])),
    R("torch.logcumsumexp(x, d)", lambda e: np.logaddexp.accumulate(e["x"], e["d"])),
    R("torch.prod(x)", lambda e: np.prod(e["x"])),
    R("torch.prod(x, d, keepdim=True)", lambda e: np.prod(e["x"], e["d"], keepdims=True)),
    R("torch.prod(z, d)", lambda e: np.prod(e["z"], e["d"])),
    R("torch.prod(i, dim=d)", lambda e: np.prod(e["i"], e["d"])),
    R("torch.prod(x, d, dtype=torch.float64)", lambda e: np.prod(e["x"], e["d"]) * 1.0),
    # ordering
    R("torch.sort(x, dim=d, descending=bb)", lambda e: _np_sort(e["x"], e["d"], e["bb"])),
    R("torch.sort(t, dim=d, stable=True)", lambda e: _np_sort(e["t"], e["d"])),
    R("torch.sort(t, dim=d, descending=True, stable=True)",
      lambda e: (lambda v, i: (v, i))(*_np_sort_desc_stable(e["t"], e["d"]))),
    R("torch.argsort(x, dim=d, descending=bb)", lambda e: _np_sort(e["x"], e["d"], e["bb"])[1]),
    R("torch.msort(x)", lambda e: np.sort(e["x"], 0)),
    R("torch.topk(x, k, dim=d)", lambda e: tuple(np.take(a, np.arange(e["k"]), e["d"])
                                                 for a in _np_sort(e["x"], e["d"], True))),
    R("torch.topk(x, k, d, largest=False)", lambda e: tuple(
        np.take(a, np.arange(e["k"]), e["d"]) for a in _np_sort(e["x"], e["d"]))),
    R("torch.kthvalue(x, k1, d)", lambda e: _np_kth(e["x"], e["k1"], e["d"])),
    R("torch.kthvalue(x, k1, dim=d, keepdim=True)",
      lambda e: _np_kth(e["x"], e["k1"], e["d"], True)),
    R("torch.median(x)", lambda e: np.sort(e["x"].reshape(-1))[(e["x"].size - 1) // 2]),
    R("torch.median(x, d)", lambda e: _np_kth(e["x"], (e["S"][e["d"]] + 1) // 2, e["d"])),
    R("torch.median(x, dim=d, keepdim=True)",
      lambda e: _np_kth(e["x"], (e["S"][e["d"]] + 1) // 2, e["d"], True)),
    R("torch.nanmedian(n, d).values", lambda e: _np_nanmedian(e["n"], e["d"])),
    R("torch.mode(t, d)", lambda e: _np_mode(e["t"], e["d"]), grad=False),
    # torch's reductions
    R("torch.amax(x, d)", lambda e: np.max(e["x"], e["d"])),
    R("torch.amax(t, dd, keepdim=True)", lambda e: np.max(e["t"], e["dd"], keepdims=True)),
    R("torch.amin(t, dim=d)", lambda e: np.min(e["t"], e["d"])),
    R("torch.aminmax(x)", lambda e: (np.min(e["x"]), np.max(e["x"]))),
    R("torch.aminmax(t, dim=d, keepdim=True)",
      lambda e: (np.min(e["t"], e["d"], keepdims=True), np.max(e["t"], e["d"], keepdims=True))),
    R("torch.std_mean(x)", lambda e: (np.std(e["x"], ddof=1), np.mean(e["x"]))),
    R("torch.std_mean(x, d, correction=0)",
      lambda e: (np.std(e["x"], e["d"]), np.mean(e["x"], e["d"]))),
    R("torch.var_mean(x, dd, keepdim=True)",
      lambda e: (np.var(e["x"], e["dd"], ddof=1, keepdims=True),
                 np.mean(e["x"], e["dd"], keepdims=True))),
    R("torch.var_mean(x, d, unbiased=False)",
      lambda e: (np.var(e["x"], e["d"]), np.mean(e["x"], e["d"]))),
    R("torch.nansum(n)", lambda e: np.nansum(e["n"])),
    R("torch.nansum(n, d)", lambda e: np.nansum(e["n"], e["d"])),
    R("torch.nanmean(n, dim=d)", lambda e: _nanmean(e["n"], e["d"])),
    R("torch.nanmean(x, dd, keepdim=True)", lambda e: np.mean(e["x"], e["dd"], keepdims=True)),
    R("torch.any(b)", lambda e: np.any(e["b"])),
    R("torch.any(b, d)", lambda e: np.any(e["b"], e["d"])),
    R("torch.all(i, dim=d, keepdim=True)", lambda e: np.all(e["i"], e["d"], keepdims=True)),
    R("torch.count_nonzero(i)", lambda e: np.count_nonzero(e["i"])),
    R("torch.count_nonzero(i, d)", lambda e: np.count_nonzero(e["i"], e["d"])),
    R("torch.sum(b, dtype=torch.float32)", lambda e: np.sum(e["b"]).astype(np.float32)),
    R("torch.mean(i, d, dtype=torch.float64)", lambda e: np.mean(e["i"], e["d"])),
    # dtype=: torch converts the input first (then reduces in that dtype); without it,
    # int and bool inputs of sum, nansum, prod, cumsum and cumprod give int64
    D("torch.sum(i32)", lambda e: np.sum(e["i32"], dtype=np.int64)),
    D("torch.sum(u8, d)", lambda e: np.sum(e["u8"], e["d"], dtype=np.int64)),
    D("torch.sum(b, d, keepdim=True)",
      lambda e: np.sum(e["b"], e["d"], keepdims=True, dtype=np.int64)),
    D("torch.sum(i8, dim=d, dtype=torch.int8)",
      lambda e: np.sum(e["i8"], e["d"]).astype(np.int8)),
    D("torch.sum(i, dtype=torch.int16)", lambda e: np.int16(np.sum(e["i"]))),
    D("torch.sum(i, d, dtype=torch.bool)", lambda e: np.any(e["i"] != 0, e["d"])),
    D("torch.sum(x.detach(), d, dtype=torch.int32)",
      lambda e: np.sum(e["x"].astype(np.int32), e["d"], dtype=np.int32)),
    D("torch.sum(x, dd, dtype=torch.float64)", lambda e: np.sum(_f64(e["x"]), e["dd"])),
    D("x.sum(d, True, dtype=torch.float64)",
      lambda e: np.sum(_f64(e["x"]), e["d"], keepdims=True)),
    D("i32.sum(dim=d)", lambda e: np.sum(e["i32"], e["d"], dtype=np.int64)),
    D("torch.nansum(i32, d)", lambda e: np.sum(e["i32"], e["d"], dtype=np.int64)),
    D("torch.nansum(i, dtype=torch.int8)", lambda e: np.int8(np.sum(e["i"]))),
    D("torch.nansum(n, d, dtype=torch.float64)", lambda e: np.nansum(_f64(e["n"]), e["d"])),
    D("torch.nanmean(n, dtype=torch.float64)", lambda e: _nanmean(_f64(e["n"]), None)),
    D("torch.prod(i32, d)", lambda e: np.prod(e["i32"], e["d"], dtype=np.int64)),
    D("torch.prod(b)", lambda e: np.prod(e["b"], dtype=np.int64)),
    D("torch.prod(i, d, dtype=torch.int8)", lambda e: np.prod(e["i"], e["d"]).astype(np.int8)),
    D("torch.cumsum(u8, d)", lambda e: np.cumsum(e["u8"], e["d"], dtype=np.int64)),
    D("torch.cumsum(b, dim=d)", lambda e: np.cumsum(e["b"], e["d"], dtype=np.int64)),
    D("torch.cumsum(x, d, dtype=torch.float64)", lambda e: np.cumsum(_f64(e["x"]), e["d"])),
    D("torch.cumsum(i, d, dtype=torch.int32)",
      lambda e: np.cumsum(e["i"], e["d"]).astype(np.int32)),
    D("torch.cumprod(i8, d)", lambda e: np.cumprod(e["i8"], e["d"], dtype=np.int64)),
    D("torch.mean(x, dtype=torch.float64)", lambda e: np.mean(_f64(e["x"]))),
    D("x.mean(dd, keepdim=True, dtype=torch.float64)",
      lambda e: np.mean(_f64(e["x"]), e["dd"], keepdims=True)),
    D("torch.softmax(x, d, dtype=torch.float64)", lambda e: _np_softmax(e["x"], e["d"])),
    D("torch.log_softmax(i, d, dtype=torch.float32)",
      lambda e: np.log(_np_softmax(e["i"], e["d"])).astype(np.float32)),
    D("F.softmax(x, d, dtype=torch.float64)", lambda e: _np_softmax(e["x"], e["d"])),
    D("F.log_softmax(x, dim=d, dtype=torch.float64)",
      lambda e: np.log(_np_softmax(e["x"], e["d"]))),
    D("F.softmax(i8, dim=d, dtype=torch.float64)", lambda e: _np_softmax(e["i8"], e["d"])),
    D("F.softmin(x, d, dtype=torch.float64)", lambda e: _np_softmax(-_f64(e["x"]), e["d"])),
    D("torch.linalg.vector_norm(x, dtype=torch.float64)",
      lambda e: np.linalg.norm(_f64(e["x"]).ravel())),
    D("torch.linalg.vector_norm(x, 1, dim=d, dtype=torch.float64)",
      lambda e: np.abs(_f64(e["x"])).sum(e["d"])),
    D("torch.linalg.matrix_norm(m, dtype=torch.float64)", lambda e: np.linalg.norm(_f64(e["m"]))),
    # rearranging
    R("torch.flip(x, (d,))", lambda e: np.flip(e["x"], e["d"])),
    R("torch.flip(x, dims=dd)", lambda e: np.flip(e["x"], e["dd"])),
    R("torch.fliplr(m)", lambda e: np.fliplr(e["m"])),
    R("torch.flipud(x)", lambda e: np.flipud(e["x"])),
    R("torch.roll(x, 2)", lambda e: np.roll(e["x"], 2)),
    R("torch.roll(x, shifts=-1, dims=d)", lambda e: np.roll(e["x"], -1, e["d"])),
    R("torch.tile(x, (2, 1))", lambda e: np.tile(e["x"], (2, 1))),
    R("torch.repeat_interleave(x, 2)", lambda e: np.repeat(e["x"].reshape(-1), 2)),
    R("torch.repeat_interleave(x, cnt, dim=d)", lambda e: np.repeat(e["x"], e["cnt"], e["d"])),
    R("torch.repeat_interleave(cnt)", lambda e: np.repeat(np.arange(len(e["cnt"])), e["cnt"])),
    R("torch.narrow(x, d, 0, 1)", lambda e: np.take(e["x"], [0], e["d"])),
    R("torch.select(x, d, -1)", lambda e: np.take(e["x"], -1, e["d"])),
    R("torch.chunk(x, 2, d)", lambda e: tuple(np.array_split(
        e["x"], range(-(-e["S"][e["d"]] // 2), e["S"][e["d"]], -(-e["S"][e["d"]] // 2)),
        e["d"]))),
    R("torch.unbind(x, d)", lambda e: tuple(np.moveaxis(e["x"], e["d"], 0))),
    R("torch.unflatten(m, 1, (1, -1))", lambda e: e["m"][:, None, :]),
    R("torch.movedim(x, 0, -1)", lambda e: np.moveaxis(e["x"], 0, -1)),
    R("torch.moveaxis(x, d, 0)", lambda e: np.moveaxis(e["x"], e["d"], 0)),
    R("torch.swapdims(x, 0, d)", lambda e: np.swapaxes(e["x"], 0, e["d"])),
    # matrices from parts
    R("torch.diag(v)", lambda e: np.diag(e["v"])),
    R("torch.diag(v, 1)", lambda e: np.diag(e["v"], 1)),
    R("torch.diag(m, -1)", lambda e: np.diag(e["m"], -1)),
    R("torch.diagonal(x3, 0, 0, 2)", lambda e: np.diagonal(e["x3"], 0, 0, 2)),
    R("torch.diagonal(m, offset=1)", lambda e: np.diagonal(e["m"], 1)),
    R("torch.diag_embed(m)", lambda e: e["m"][..., None] * np.eye(e["m"].shape[-1])),
    R("torch.diag_embed(v, offset=-1, dim1=0, dim2=1)", lambda e: np.diag(e["v"], -1)),
    R("torch.trace(m)", lambda e: np.trace(e["m"])),
    R("torch.tril(m)", lambda e: np.tril(e["m"])),
    R("torch.triu(x3, 1)", lambda e: np.triu(e["x3"], 1)),
    R("torch.tril(m, diagonal=-1)", lambda e: np.tril(e["m"], -1)),
    R("torch.block_diag(m, v, s)", lambda e: _np_block_diag(e["m"], e["v"][None], e["s"])),
    R("torch.meshgrid(v, w, indexing='ij')", lambda e: _np_meshgrid("ij")(e["v"], e["w"])),
    R("torch.meshgrid(v, w, indexing='xy')", lambda e: _np_meshgrid("xy")(e["v"], e["w"])),
    R("torch.cartesian_prod(v, w)", lambda e: np.stack(
        [g.reshape(-1) for g in np.meshgrid(e["v"], e["w"], indexing="ij")], 1)),
    R("torch.atleast_1d(s)", lambda e: e["s"].reshape(1)),
    R("torch.atleast_2d(v)", lambda e: e["v"][None]),
    R("torch.atleast_3d(m)", lambda e: e["m"][:, :, None]),
    # gathering and scattering
    R("torch.gather(x, d, ix)", lambda e: _np_gather(e["x"], e["d"], e["ix"])),
    R("torch.take_along_dim(x, torch.argsort(x, dim=d), dim=d)",
      lambda e: np.sort(e["x"], e["d"])),
    R("torch.take_along_dim(x, ixb, d)", lambda e: np.take_along_axis(
        e["x"], e["ixb"], e["d"])),  # (ixb has 1 or x's size on the other dims)
    R("torch.scatter(x, d, ux, src)", lambda e: _np_scatter(e["x"], e["d"], e["ux"], e["src"])),
    R("torch.scatter(x, d, ux, 1.5)", lambda e: _np_scatter(e["x"], e["d"], e["ux"], 1.5)),
    R("torch.scatter_add(x, d, ix, asrc)",
      lambda e: _np_scatter(e["x"], e["d"], e["ix"], e["asrc"], add=True)),
    R("torch.scatter_reduce(x, d, ux, src, reduce=red, include_self=bb)",
      lambda e: _np_scatter_reduce(e["x"], e["d"], e["ux"], e["src"], e["red"], e["bb"])),
    R("torch.index_select(x, d, rows)", lambda e: np.take(e["x"], e["rows"], e["d"])),
    R("torch.index_add(x, d, rows, rsrc, alpha=2)",
      lambda e: _np_index_add(e["x"], e["d"], e["rows"], 2 * e["rsrc"])),
    R("torch.index_copy(x, d, rows, rsrc)",
      lambda e: _np_index_set(e["x"], e["d"], e["rows"], e["rsrc"])),
    R("torch.index_fill(x, d, rows, -1.0)",
      lambda e: _np_index_set(e["x"], e["d"], e["rows"], -1.0)),
    R("torch.masked_fill(x, mask, 0.5)", lambda e: np.where(e["mask"], 0.5, e["x"])),
    R("torch.masked_select(x, mask)", lambda e: np.broadcast_to(e["x"], np.broadcast_shapes(
        e["x"].shape, e["mask"].shape))[np.broadcast_to(e["mask"], np.broadcast_shapes(
            e["x"].shape, e["mask"].shape))]),
    R("torch.masked_scatter(x, mask, flat)",
      lambda e: _np_masked_scatter(e["x"], e["mask"], e["flat"])),
    R("torch.take(x, ti)", lambda e: e["x"].reshape(-1)[e["ti"]]),
    R("torch.nonzero(b)", lambda e: np.argwhere(e["b"])),
    R("torch.nonzero(b, as_tuple=True)", lambda e: np.nonzero(e["b"])),
    R("torch.argwhere(i)", lambda e: np.argwhere(e["i"])),
    R("torch.where(b)", lambda e: np.nonzero(e["b"])),
    R("torch.where(mask, x, y)", lambda e: np.where(e["mask"], e["x"], e["y"])),
    # products
    R("torch.einsum('ij,jk->ik', m, c)", lambda e: e["m"] @ e["c"]),
    R("torch.einsum('...ij->...ji', x3)", lambda e: np.swapaxes(e["x3"], -1, -2)),
    R("torch.einsum('ii', sq)", lambda e: np.trace(e["sq"])),
    R("torch.einsum('bij,bjk', bx, by)", lambda e: np.einsum("bij,bjk", e["bx"], e["by"])),
    R("torch.einsum('i,j->ij', [v, w])", lambda e: np.outer(e["v"], e["w"])),
    R("torch.outer(v, w)", lambda e: np.outer(e["v"], e["w"])),
    R("torch.mm(m, c)", lambda e: e["m"] @ e["c"]),
    R("torch.bmm(bx, by)", lambda e: e["bx"] @ e["by"]),
    R("torch.mv(m, mv_v)", lambda e: e["m"] @ e["mv_v"]),
    R("torch.dot(v, v2)", lambda e: np.dot(e["v"], e["v2"])),
    R("torch.vdot(v, v2)", lambda e: np.vdot(e["v"], e["v2"])),
    R("torch.inner(m, c2)", lambda e: np.inner(e["m"], e["c2"])),
    R("torch.kron(m, v)", lambda e: np.kron(e["m"], e["v"])),
    R("torch.tensordot(m, c, dims=1)", lambda e: np.tensordot(e["m"], e["c"], 1)),
    R("torch.cross(p3, q3, dim=-1)", lambda e: np.cross(e["p3"], e["q3"])),
    R("torch.linalg.cross(p3, q3)", lambda e: np.cross(e["p3"], e["q3"])),
    # norms, distances, solves
    R("torch.norm(x)", lambda e: np.linalg.norm(e["x"].reshape(-1))),
    R("torch.norm(x, p=1, dim=d)", lambda e: np.sum(np.abs(e["x"]), e["d"])),
    R("torch.linalg.norm(x)", lambda e: np.linalg.norm(e["x"].reshape(-1))),
    R("torch.linalg.vector_norm(z, ord=o, dim=d)",
      lambda e: _np_vector_norm(e["z"], e["o"], e["d"])),
    R("torch.linalg.matrix_norm(m, ord=mo)", lambda e: np.linalg.norm(e["m"], e["mo"])),
    R("torch.linalg.norm(sq, 'nuc')", lambda e: np.linalg.norm(e["sq"], "nuc")),
    R("torch.cdist(m, c2, p=pp)", lambda e: np.sum(np.abs(
        e["m"][:, None] - e["c2"][None]) ** e["pp"], -1) ** (1 / e["pp"])),
    R("torch.cdist(big1, big2)", lambda e: np.sqrt(((e["big1"][:, None] - e["big2"][None]) ** 2)
                                                   .sum(-1)), tol=1e-4,
      grad=False),  # matrix-product form: rounding differs from torch's, values agree
    R("torch.linalg.det(sq)", lambda e: np.linalg.det(e["sq"])),
    R("torch.linalg.inv(sq)", lambda e: np.linalg.inv(e["sq"])),
    R("torch.linalg.slogdet(sq)", lambda e: tuple(np.linalg.slogdet(e["sq"]))),
    R("torch.slogdet(sq)", lambda e: tuple(np.linalg.slogdet(e["sq"]))),
    R("torch.logdet(sq)", lambda e: np.log(np.linalg.det(e["sq"]))),
    R("torch.linalg.solve(sq, sqv)", lambda e: np.linalg.solve(e["sq"], e["sqv"])),
    # Tensor methods (the op tables' rows, ops/tables.py): torch's method signatures
    R("x.cumsum(d)", lambda e: np.cumsum(e["x"], e["d"])),
    R("x.cummax(d).values", lambda e: np.maximum.accumulate(e["x"], e["d"])),
    R("x.prod(d, keepdim=True)", lambda e: np.prod(e["x"], e["d"], keepdims=True)),
    R("x.sort(d, True)", lambda e: _np_sort(e["x"], e["d"], descending=True)),
    R("x.argsort(dim=d)", lambda e: np.argsort(e["x"], e["d"], kind="stable")),
    R("x.topk(k1, d, largest=False).indices",
      lambda e: np.argsort(e["x"], e["d"], kind="stable").take(range(e["k1"]), e["d"])),
    R("x.median()", lambda e: np.sort(e["x"].reshape(-1))[(e["x"].size - 1) // 2]),
    R("x.amax(dd)", lambda e: np.amax(e["x"], e["dd"])),
    R("b.any(d)", lambda e: np.any(e["b"], e["d"])),
    R("b.all()", lambda e: np.all(e["b"])),
    R("i.count_nonzero(d)", lambda e: np.count_nonzero(e["i"], e["d"])),
    R("x.flip(d)", lambda e: np.flip(e["x"], e["d"])),
    R("x.roll(1, d)", lambda e: np.roll(e["x"], 1, e["d"])),
    R("x.repeat(2, *S)", lambda e: np.tile(e["x"], (2, *e["S"]))),
    R("x.repeat_interleave(2, d)", lambda e: np.repeat(e["x"], 2, e["d"])),
    R("x.tile((2,))", lambda e: np.tile(e["x"], 2)),
    R("x.view(-1)", lambda e: e["x"].reshape(-1)),
    R("x.view(1, *S).expand(3, *S)", lambda e: np.broadcast_to(e["x"], (3, *e["S"]))),
    R("y.expand_as(x)", lambda e: np.broadcast_to(e["y"], e["S"])),
    R("x.narrow(d, 0, 1)", lambda e: np.take(e["x"], [0], e["d"])),
    R("x.chunk(2, d)[0]", lambda e: np.array_split(
        e["x"], range(-(-e["S"][e["d"]] // 2), e["S"][e["d"]], -(-e["S"][e["d"]] // 2)),
        e["d"])[0]),
    R("x.unbind(d)", lambda e: tuple(np.moveaxis(e["x"], e["d"], 0))),
    R("x.movedim(d, 0)", lambda e: np.moveaxis(e["x"], e["d"], 0)),
    R("m.diag()", lambda e: np.diag(e["m"])),
    R("m.diagonal(1)", lambda e: np.diagonal(e["m"], 1)),
    R("m.trace()", lambda e: np.trace(e["m"])),
    R("m.tril(-1)", lambda e: np.tril(e["m"], -1)),
    R("m.triu()", lambda e: np.triu(e["m"])),
    R("x.gather(d, ix)", lambda e: _np_gather(e["x"], e["d"], e["ix"])),
    R("x.scatter(d, ux, src)", lambda e: _np_scatter(e["x"], e["d"], e["ux"], e["src"])),
    R("x.scatter_add(d, ix, asrc)",
      lambda e: _np_scatter(e["x"], e["d"], e["ix"], e["asrc"], add=True)),
    R("x.index_select(d, rows)", lambda e: np.take(e["x"], e["rows"], e["d"])),
    R("x.index_add(d, rows, rsrc)", lambda e: _np_index_add(e["x"], e["d"], e["rows"],
                                                              e["rsrc"])),
    R("x.masked_fill(mask, -1.0)", lambda e: np.where(e["mask"], -1.0, e["x"])),
    R("b.nonzero()", lambda e: np.argwhere(e["b"])),
    R("z.nonzero()", lambda e: np.argwhere(e["z"])),
    R("x.where(mask, y)", lambda e: np.where(e["mask"], e["x"], e["y"])),
    R("v.outer(w)", lambda e: np.outer(e["v"], e["w"])),
    R("m.mm(c)", lambda e: e["m"] @ e["c"]),
    R("bx.bmm(by)", lambda e: e["bx"] @ e["by"]),
    R("v.dot(v2)", lambda e: np.dot(e["v"], e["v2"])),
    R("x.norm(p=1)", lambda e: np.sum(np.abs(e["x"]))),
    R("x.norm(dim=d, keepdim=True)", lambda e: np.linalg.norm(e["x"], axis=e["d"],
                                                               keepdims=True)),
    R("sq.slogdet()", lambda e: tuple(np.linalg.slogdet(e["sq"]))),
    R("sq.det()", lambda e: np.linalg.det(e["sq"])),
    # nn.functional
    R("F.normalize(x, dim=-1)", lambda e: e["x"] / np.maximum(
        np.linalg.norm(e["x"], axis=-1, keepdims=True), 1e-12)),
    R("F.cosine_similarity(x, y, dim=d)", lambda e: _np_cos(e["x"], e["y"], e["d"])),
    R("F.pairwise_distance(x, y)", lambda e: np.linalg.norm(e["x"] - e["y"] + 1e-6, axis=-1)),
    R("F.one_hot(lbl)", lambda e: np.eye(e["lbl"].max() + 1, dtype=np.int64)[e["lbl"]]),
    R("F.one_hot(lbl, num_classes=7)", lambda e: np.eye(7, dtype=np.int64)[e["lbl"]]),
    R("F.pad(x, (1, 2))", lambda e: _np_pad(e["x"], (1, 2))),
    R("F.pad(x, (1, -1), value=3.0)", lambda e: _np_pad(e["x"], (1, -1), value=3.0)),
    R("F.pad(x4, (1, 1, 2, 0), mode='reflect')",
      lambda e: _np_pad(e["x4"], (1, 1, 2, 0), "reflect")),
    R("F.pad(x3s, (-1, 2), mode='replicate')",
      lambda e: _np_pad(e["x3s"], (-1, 2), "replicate")),
    R("F.pad(x4, (2, 1, 1, -1), mode='circular')",
      lambda e: _np_pad(e["x4"], (2, 1, 1, -1), "circular")),
    R("F.unfold(img, 2)", lambda e: _np_unfold(e["img"], 2)),
]


def _np_sort_desc_stable(x, d):
    n = x.shape[d]
    rev = np.flip(np.argsort(np.flip(x, d), axis=d, kind="stable"), d)
    idx = (n - 1) - rev
    return np.take_along_axis(x, idx, d), idx


def _np_nanmedian(x, d):
    s = np.sort(x, axis=d)  # NaN last
    valid = np.sum(~np.isnan(x), axis=d, keepdims=True)
    k = np.maximum(valid - 1, 0) // 2
    return np.squeeze(np.take_along_axis(s, k, d), d)


def _nanmean(x, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN lines: NaN, as torch
        return np.nanmean(x, d)


def _np_block_diag(*mats):
    mats = [np.atleast_2d(m) for m in mats]
    out = np.zeros((sum(m.shape[0] for m in mats), sum(m.shape[1] for m in mats)),
                   mats[0].dtype)
    r = c = 0
    for m in mats:
        out[r:r + m.shape[0], c:c + m.shape[1]] = m
        r, c = r + m.shape[0], c + m.shape[1]
    return out


def _np_cos(a, b, d):
    a, b = np.broadcast_arrays(a, b)
    n1 = np.maximum(np.linalg.norm(a, axis=d), 1e-8)
    n2 = np.maximum(np.linalg.norm(b, axis=d), 1e-8)
    return np.sum(a * b, axis=d) / (n1 * n2)


# ---------------------------------------------------------------- running a row
_NAMES = re.compile(r"\b[a-z_][a-z0-9_]*\b", re.I)


def _inputs(expr, env):
    """The inputs an expression names, drawn (env[name]) in the order they appear."""
    return {n: env[n] for n in dict.fromkeys(_NAMES.findall(expr)) if n in MAKERS}


def _namespace(lib, values):
    """The namespace an expression runs in: torch/F and tensors, or autodiff/nn.functional."""
    if lib == "torch":
        import torch
        import torch.nn.functional as tF
        ns = {"torch": torch, "F": tF}
        make = (lambda a: torch.tensor(a, requires_grad=a.dtype == np.float64)
                if a.dtype.kind == "f" else torch.as_tensor(a))
    else:
        ns = {"torch": ad, "F": nnF}
        make = (lambda a: ad.tensor(a, requires_grad=a.dtype == np.float64)
                if a.dtype.kind == "f" else ad.tensor(a))
    tensors = {k: make(v) if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return {**ns, **tensors}, tensors


def _outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _numpy(t):
    if hasattr(t, "detach"):  # torch
        return t.detach().numpy()
    return t.numpy()


def _close(actual, expected, dtype, tol, what):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    rtol = tol if np.dtype(dtype) == np.float32 else 1e-9
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size and not np.all(
            np.isnan(expected)) else 1.0
        np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                                   rtol=rtol, atol=rtol * scale, equal_nan=True, err_msg=what)


def _run_ad(row, env):
    values = _inputs(row.expr, env)
    ns, tensors = _namespace("ad", values)
    with warnings.catch_warnings():
        # (NaN results, e.g. std of one value, warn in NumPy; they are compared as NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        return eval(row.expr, ns), values, tensors


@pytest.mark.parametrize("row", [r for r in ROWS if r.ref is not None], ids=str)
@PARITY
@given(data=st.data())
def test_matches_reference(row, data):
    env = Env(data.draw)
    out, values, _ = _run_ad(row, env)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = row.ref(env.values)
    if expected is None:  # a combination the reference does not cover
        return
    outs, refs = _outputs(out), _outputs(expected)
    assert len(outs) == len(refs), f"{row}: {len(outs)} outputs, expected {len(refs)}"
    dt = env.values.get("dt", np.float64)
    for k, (o, r) in enumerate(zip(outs, refs)):
        if row.exact_dtype:
            assert str(o.dtype) == str(np.asarray(r).dtype), \
                f"{row} output {k}: dtype {o.dtype}, expected {np.asarray(r).dtype}"
        _close(o.numpy(), r, np.float32 if o.dtype == np.float32 else dt, row.tol,
               f"{row} output {k}")


@pytest.mark.parametrize("row", ROWS, ids=str)
@PARITY
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
def test_matches_torch(row, data, seed):
    torch = pytest.importorskip("torch", reason="torch is the optional reference oracle")
    env = Env(data.draw)
    out, values, tensors = _run_ad(row, env)
    tns, ttensors = _namespace("torch", values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout = eval(row.expr, tns)
    outs, touts = _outputs(out), _outputs(tout)
    assert len(outs) == len(touts)
    if type(tout).__module__ == "torch.return_types":  # a named tuple: the same fields
        assert type(out).__name__ == type(tout).__name__, f"{row}: returns {type(out)}"
        assert type(out)._fields == type(tout).__match_args__
    else:
        assert isinstance(out, tuple) == isinstance(tout, tuple), f"{row}: returns {type(out)}"
    dt = env.values.get("dt", np.float64)
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert str(o.dtype) == str(t.dtype).replace("torch.", ""), \
            f"{row} output {k}: dtype {o.dtype}, torch {t.dtype}"
        _close(o.numpy(), _numpy(t), np.float32 if o.dtype == np.float32 else dt, row.tol,
               f"{row} output {k} vs torch")
    if not row.grad:
        return
    float_in = [n for n, t in tensors.items() if getattr(t, "requires_grad", False)]
    pairs = [(o, t) for o, t in zip(outs, touts) if o.requires_grad and t.requires_grad]
    if not float_in or not pairs:
        return
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape) for o, _ in pairs]
    ours = ad.grad([o for o, _ in pairs], [tensors[n] for n in float_in],
                   [ad.tensor(w, dtype=o.dtype) for w, (o, _) in zip(weights, pairs)],
                   allow_unused=True)
    theirs = torch.autograd.grad([t for _, t in pairs], [ttensors[n] for n in float_in],
                                 [torch.tensor(w, dtype=t.dtype) for w, (_, t) in
                                  zip(weights, pairs)], allow_unused=True)
    for n, g, tg in zip(float_in, ours, theirs):
        expected = np.zeros(values[n].shape) if tg is None else tg.numpy()
        got = np.zeros(values[n].shape) if g is None else g.numpy()
        _close(got, expected, np.float64, row.tol, f"{row}: gradient of {n} vs torch")


def test_every_structural_name_has_a_parity_row():
    """Each public structural name appears in some one-liner."""
    names = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "prod", "sort",
             "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "amax",
             "amin", "aminmax", "std_mean", "var_mean", "nansum", "nanmean", "any", "all",
             "count_nonzero", "flip", "fliplr", "flipud", "roll", "tile", "repeat_interleave",
             "narrow", "select", "chunk", "unbind", "unflatten", "movedim", "moveaxis",
             "swapdims", "diag", "diagonal", "diag_embed", "trace", "tril", "triu",
             "block_diag", "meshgrid", "cartesian_prod", "atleast_1d", "atleast_2d",
             "atleast_3d", "gather", "take_along_dim", "scatter", "scatter_add",
             "scatter_reduce", "index_select", "index_add", "index_copy", "index_fill",
             "masked_fill", "masked_select", "masked_scatter", "take", "nonzero", "argwhere",
             "where", "einsum", "outer", "mm", "bmm", "mv", "dot", "vdot", "inner", "kron",
             "tensordot", "cross", "norm", "vector_norm", "matrix_norm", "cdist", "det",
             "inv", "slogdet", "logdet", "solve", "normalize", "cosine_similarity",
             "pairwise_distance", "one_hot", "pad", "unfold"]
    text = " ".join(r.expr for r in ROWS)
    missing = [n for n in names if not re.search(rf"\.{n}\(", text)]
    assert not missing, f"no parity row uses {missing}"
