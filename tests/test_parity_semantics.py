"""Parity with PyTorch for the names whose meaning issue 13 pinned down: dims and keepdim,
max/min named tuples, std/var corrections, transpose/permute/T, split, sizes, dtype casts
and type promotion, indexing, creation, in-place methods.

Each row is a PyTorch one-liner over named inputs (x, y, d, ... drawn by hypothesis:
shapes, dims, dtypes, values), run verbatim on torch and, with the namespace swapped, on
autodiff (tests/parity.py). Two tests per row:
- test_row_matches_reference (always runs): autodiff against the row's NumPy / closed-form
  reference (values, dtypes, shapes, structure), and for float64 inputs the gradient of
  sum(out * w) against central differences;
- test_row_matches_torch (skips without torch): the same line on torch gives the same
  structure, values, dtypes and shapes, and for float inputs the same gradients.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
import parity

# A fifth of the profile's examples per row: there are many rows, each cheap.
EXAMPLES = settings(max_examples=max(4, settings().max_examples // 5))

F16, BF16, F32, F64 = (np.dtype(np.float16), ad.bfloat16, np.dtype(np.float32),
                       np.dtype(np.float64))
I64, I32, BOOL = np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_)
FLOATS = (F32, F64)
ALL_FLOATS = (F16, BF16, F32, F64)
NUMBERS = (F32, F64, I64, I32)


# ------------------------------------------------------------------------- drawn inputs
class Env:
    """The inputs a row names, drawn on demand and consistently with each other (every
    input that depends on x's shape or on the dim d sees the same ones)."""

    def __init__(self, draw, dtypes):
        self.draw, self.dtypes, self.values = draw, dtypes, {}

    def __getattr__(self, name):
        values = self.__dict__["values"]
        if name not in values:
            values[name] = MAKERS[name](self)
        return values[name]


def _shape(draw, min_dims=1, max_dims=3, min_side=1, max_side=4):
    nd = draw(st.integers(min_dims, max_dims))
    return tuple(draw(st.integers(min_side, max_side)) for _ in range(nd))


def _values(draw, shape, dtype):
    """Distinct values (no ties: max/argmax indices are then unique), exact in every dtype
    (multiples of 1/8 below 16), or small integers for integer dtypes."""
    n = int(np.prod(shape))
    perm = np.asarray(draw(st.permutations(range(n))), dtype=np.float64) if n else np.zeros(0)
    if np.dtype(dtype).kind in "iu":
        return (perm - n // 2).reshape(shape).astype(dtype)
    signs = np.where(perm % 3 == 0, -1.0, 1.0)
    return ((perm % 64 + 1) / 8 * signs).reshape(shape).astype(dtype)


def _dim(e, ndim, name):
    return e.draw(st.integers(-ndim, ndim - 1), label=name)


MAKERS: dict[str, Callable] = {
    "dt": lambda e: e.draw(st.sampled_from(e.dtypes), label="dtype"),
    "S": lambda e: _shape(e.draw),
    "S2": lambda e: _shape(e.draw, min_dims=2),
    "S3": lambda e: _shape(e.draw, min_dims=3, max_dims=3),
    "x": lambda e: _values(e.draw, e.S, e.dt),
    "y": lambda e: _values(e.draw, e.S, e.dt)[..., ::-1].copy(),
    "m": lambda e: _values(e.draw, e.S2, e.dt),          # at least 2-D
    "mat": lambda e: _values(e.draw, e.S2[:2], e.dt),    # exactly 2-D
    "v": lambda e: _values(e.draw, e.S[:1], e.dt),       # 1-D
    "t3": lambda e: _values(e.draw, e.S3, e.dt),
    "z": lambda e: np.asarray(e.draw(st.sampled_from([-1.5, 0.25, 2.0])), dtype=e.dt),  # 0-d
    "i": lambda e: _values(e.draw, e.S, I64),
    "iy": lambda e: _values(e.draw, e.S, I64)[..., ::-1].copy() + 100,  # nonzero ints
    "b": lambda e: _values(e.draw, e.S, I64) % 2 == 0,
    "lab": lambda e: np.asarray(e.draw(st.lists(st.integers(0, 4), min_size=1, max_size=6)),
                                np.int64),
    "d": lambda e: _dim(e, len(e.S), "d"),
    "d1": lambda e: _dim(e, len(e.S), "d1"),
    "dm": lambda e: _dim(e, len(e.S2), "dm"),
    "dm1": lambda e: _dim(e, len(e.S2), "dm1"),
    "dd": lambda e: tuple(e.draw(st.lists(st.integers(0, len(e.S) - 1), min_size=1,
                                          unique=True), label="dims")),
    "dn": lambda e: e.draw(st.integers(-len(e.S) - 1, len(e.S)), label="new dim"),
    "k": lambda e: e.draw(st.booleans(), label="keepdim"),
    "c": lambda e: e.draw(st.sampled_from([0, 1, 2]), label="correction"),
    "u": lambda e: e.draw(st.booleans(), label="unbiased"),
    "sz": lambda e: e.draw(st.integers(1, e.S[e.d] + 1), label="split size"),
    "sz0": lambda e: e.draw(st.integers(1, e.S[0] + 1), label="split size"),
    "secs": lambda e: _sections(e),
    "perm": lambda e: tuple(e.draw(st.permutations(range(len(e.S))), label="dims")),
    "alpha": lambda e: e.draw(st.sampled_from([1, 2, -0.5]), label="alpha"),
    "s": lambda e: e.draw(st.sampled_from([2.5, -0.5, 3.0]), label="scalar"),
    "n": lambda e: e.draw(st.sampled_from([2, -3, 7]), label="int"),
    "steps": lambda e: e.draw(st.integers(1, 25), label="steps"),
    "lo": lambda e: e.draw(st.sampled_from([-6.5, -3.0, 0.0, 2.5]), label="start"),
    "hi": lambda e: e.draw(st.sampled_from([-5.0, 1.5, 4.0, 9.75]), label="end"),
}


def _sections(e):
    n = e.S[e.d]
    cuts = sorted(e.draw(st.lists(st.integers(0, n), max_size=3), label="cuts"))
    return [b - a for a, b in zip([0] + cuts, cuts + [n])]


# ------------------------------------------------------------------------- the rows
@dataclass(frozen=True)
class Row:
    code: str                        # PyTorch code over the named inputs
    ref: Callable                    # NumPy / closed form: Env -> expected result
    dtypes: tuple = FLOATS           # the dtype of the drawn arrays
    grad: tuple = ()                 # inputs that require grad (float dtypes only)
    rtol: float = None

    def __str__(self):
        return self.code


def R(code, ref, dtypes=FLOATS, grad=("x",), rtol=None):
    return Row(code, ref, tuple(dtypes), tuple(grad), rtol)


def _ret(name, values, indices):
    """The named tuple torch.return_types.<name> as autodiff spells it."""
    return getattr(ad.return_types, name)(values, indices)


def _pick(fn, arg):
    def ref(x, dim, keepdim=False):
        idx = arg(x, axis=dim, keepdims=True)
        values = np.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return fn(values, idx.astype(np.int64))
    return ref


def _split(x, sizes, dim):
    n = x.shape[dim]
    if isinstance(sizes, int):
        sizes = [sizes] * (n // sizes) + ([n % sizes] if n % sizes else [])
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def _std(x, axis=None, ddof=1, keepdims=False):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degrees of freedom <= 0: inf/NaN
        return np.std(x.astype(np.float64), axis=axis, ddof=ddof, keepdims=keepdims).astype(
            x.dtype)


def _var(x, axis=None, ddof=1, keepdims=False):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # degrees of freedom <= 0: inf/NaN
        return np.var(x.astype(np.float64), axis=axis, ddof=ddof, keepdims=keepdims).astype(
            x.dtype)


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _torch_index(x, i, rest):
    """x[i, rest...] with torch's rule: the integer first, then the advanced index."""
    return x[i][rest]


def _int_linspace(start, end, steps, dtype):
    """torch's integer linspace, element by element: the ends truncated to integers, the
    first half stepped up from start, the second half down from end, truncated."""
    start, end = int(start), int(end)
    if steps == 1:
        return np.asarray([start], dtype=dtype)
    step = (end - start) / (steps - 1)
    values = [start + step * i if i < steps // 2 else end - step * (steps - 1 - i)
              for i in range(steps)]
    return np.asarray([int(v) for v in values], dtype=dtype)


def _one_hot(lab, n):
    return (lab[:, None] == np.arange(n)).astype(np.int64)


ROWS = [
    # --- sizes and dims
    R("x.size()", lambda e: ad.Size(e.x.shape), grad=()),
    R("x.size(d)", lambda e: e.x.shape[e.d], grad=()),
    R("x.shape", lambda e: ad.Size(e.x.shape), grad=()),
    R("x.numel()", lambda e: e.x.size, grad=()),
    R("x.nelement()", lambda e: e.x.size, grad=()),
    R("x.dim()", lambda e: e.x.ndim, grad=()),
    R("x.ndim", lambda e: e.x.ndim, grad=()),
    R("x.element_size()", lambda e: e.x.dtype.itemsize, dtypes=ALL_FLOATS + (I64, I32), grad=()),
    R("x.size()[1:]", lambda e: ad.Size(e.x.shape[1:]), grad=()),
    R("x.shape.numel()", lambda e: e.x.size, grad=()),
    R("torch.numel(x)", lambda e: e.x.size, grad=()),
    R("len(x)", lambda e: len(e.x), grad=()),
    R("x.is_floating_point()", lambda e: e.x.dtype.kind == "f" or e.x.dtype == BF16,
      dtypes=ALL_FLOATS + (I64,), grad=()),
    # --- transpose, permute, T, mT, t
    R("x.transpose(d, d1)", lambda e: np.swapaxes(e.x, e.d, e.d1), dtypes=NUMBERS),
    R("torch.transpose(x, d, d1)", lambda e: np.swapaxes(e.x, e.d, e.d1)),
    R("x.swapaxes(d, d1)", lambda e: np.swapaxes(e.x, e.d, e.d1)),
    R("x.swapdims(d, d1)", lambda e: np.swapaxes(e.x, e.d, e.d1)),
    R("x.permute(*perm)", lambda e: np.transpose(e.x, e.perm), dtypes=NUMBERS),
    R("x.permute(perm)", lambda e: np.transpose(e.x, e.perm)),
    R("torch.permute(x, perm)", lambda e: np.transpose(e.x, e.perm)),
    R("mat.T", lambda e: e.mat.T, grad=("mat",)),
    R("mat.t()", lambda e: e.mat.T, grad=("mat",)),
    R("torch.t(mat)", lambda e: e.mat.T, grad=("mat",)),
    R("v.t()", lambda e: e.v, grad=("v",)),
    R("m.mT", lambda e: np.swapaxes(e.m, -1, -2), grad=("m",)),
    R("m.mH", lambda e: np.swapaxes(e.m, -1, -2), grad=("m",)),
    R("mat.H", lambda e: e.mat.T, grad=("mat",)),
    R("m.transpose(-2, -1) @ m", lambda e: np.swapaxes(e.m, -1, -2) @ e.m, grad=("m",),
      rtol=1e-4),
    # --- reductions: dim, keepdim, NumPy aliases
    R("x.sum()", lambda e: e.x.sum(), dtypes=NUMBERS),
    R("x.sum(d)", lambda e: e.x.sum(e.d), dtypes=NUMBERS),
    R("x.sum(dim=d, keepdim=k)", lambda e: e.x.sum(e.d, keepdims=e.k)),
    R("x.sum(dd, True)", lambda e: e.x.sum(e.dd, keepdims=True)),
    R("torch.sum(x, dim=dd)", lambda e: e.x.sum(e.dd)),
    R("x.sum(dtype=torch.float64)", lambda e: e.x.astype(np.float64).sum(), dtypes=NUMBERS),
    R("x.mean(d, k)", lambda e: e.x.mean(e.d, keepdims=e.k), rtol=1e-5),
    R("x.mean(dim=dd)", lambda e: e.x.mean(e.dd), rtol=1e-5),
    R("torch.mean(x)", lambda e: e.x.mean(), rtol=1e-5),
    R("x.logsumexp(d)", lambda e: np.log(np.exp(e.x.astype(np.float64)).sum(e.d)).astype(
        e.x.dtype), rtol=1e-5),
    R("torch.logsumexp(x, dim=d, keepdim=k)", lambda e: np.log(
        np.exp(e.x.astype(np.float64)).sum(e.d, keepdims=e.k)).astype(e.x.dtype), rtol=1e-5),
    R("x.softmax(d)", lambda e: (np.exp(e.x) / np.exp(e.x).sum(e.d, keepdims=True)).astype(
        e.x.dtype), rtol=1e-5),
    R("x.log_softmax(dim=d)", lambda e: (e.x - np.log(np.exp(e.x.astype(np.float64)).sum(
        e.d, keepdims=True))).astype(e.x.dtype), rtol=1e-5),
    R("torch.softmax(x, d)", lambda e: (np.exp(e.x) / np.exp(e.x).sum(e.d, keepdims=True)
                                        ).astype(e.x.dtype), rtol=1e-5),
    R("x.any(d)", lambda e: (e.x != 0).any(e.d), dtypes=NUMBERS, grad=()),
    R("x.all(dim=d, keepdim=k)", lambda e: (e.x != 0).all(e.d, keepdims=e.k), grad=()),
    # --- std / var: unbiased by default, correction=, unbiased=
    R("x.std()", lambda e: _std(e.x), rtol=1e-5),
    R("x.var()", lambda e: _var(e.x), rtol=1e-5),
    R("x.std(d)", lambda e: _std(e.x, e.d), rtol=1e-5),
    R("x.var(d, u)", lambda e: _var(e.x, e.d, int(e.u)), rtol=1e-5),
    R("x.var(d, unbiased=u, keepdim=k)", lambda e: _var(e.x, e.d, int(e.u), e.k), rtol=1e-5),
    R("x.std(dim=dd, correction=c)", lambda e: _std(e.x, e.dd, e.c), rtol=1e-5),
    R("x.var(u)", lambda e: _var(e.x, None, int(e.u)), rtol=1e-5),
    R("torch.std(x, d, keepdim=k)", lambda e: _std(e.x, e.d, 1, e.k), rtol=1e-5),
    R("torch.var(x, dim=d, correction=c, keepdim=k)", lambda e: _var(e.x, e.d, e.c, e.k),
      rtol=1e-5),
    # --- max / min: the full reduction, (values, indices) over a dim, and elementwise
    R("x.max()", lambda e: e.x.max(), dtypes=NUMBERS),
    R("x.min()", lambda e: e.x.min(), dtypes=NUMBERS),
    R("x.max(d)", lambda e: _pick(lambda v, i: _ret("max", v, i), np.argmax)(e.x, e.d),
      dtypes=NUMBERS),
    R("x.max(dim=d, keepdim=k)", lambda e: _pick(lambda v, i: _ret("max", v, i), np.argmax)(
        e.x, e.d, e.k)),
    R("x.min(d, k)", lambda e: _pick(lambda v, i: _ret("min", v, i), np.argmin)(
        e.x, e.d, e.k), dtypes=NUMBERS),
    R("torch.max(x, d)", lambda e: _pick(lambda v, i: _ret("max", v, i), np.argmax)(e.x, e.d)),
    R("torch.min(x, dim=d)", lambda e: _pick(lambda v, i: _ret("min", v, i), np.argmin)(
        e.x, e.d)),
    R("x.max(d)[0]", lambda e: e.x.max(e.d)),
    R("x.max(d).indices", lambda e: e.x.argmax(e.d), grad=()),
    R("x.min(d, keepdim=True).values", lambda e: e.x.min(e.d, keepdims=True)),
    R("torch.max(x, y)", lambda e: np.maximum(e.x, e.y), dtypes=NUMBERS, grad=("x", "y")),
    R("x.min(y)", lambda e: np.minimum(e.x, e.y), grad=("x", "y")),
    R("x.argmax()", lambda e: np.asarray(e.x.argmax()), dtypes=NUMBERS, grad=()),
    R("x.argmax(d)", lambda e: e.x.argmax(e.d), dtypes=NUMBERS, grad=()),
    R("x.argmin(dim=d, keepdim=k)", lambda e: e.x.argmin(e.d, keepdims=e.k), grad=()),
    R("torch.argmax(x, d, True)", lambda e: e.x.argmax(e.d, keepdims=True), grad=()),
    R("torch.argmin(x)", lambda e: np.asarray(e.x.argmin()), grad=()),
    # --- shape ops: dims everywhere
    R("torch.cat([x, y], dim=d)", lambda e: np.concatenate([e.x, e.y], e.d), dtypes=NUMBERS,
      grad=("x", "y")),
    R("torch.cat((x, y), d)", lambda e: np.concatenate([e.x, e.y], e.d), grad=("x", "y")),
    R("torch.concat([x, y])", lambda e: np.concatenate([e.x, e.y]), grad=("x", "y")),
    R("torch.concatenate([x, y], dim=d)", lambda e: np.concatenate([e.x, e.y], e.d),
      grad=("x", "y")),
    R("torch.stack([x, y], dim=dn)", lambda e: np.stack([e.x, e.y], e.dn), dtypes=NUMBERS,
      grad=("x", "y")),
    R("torch.stack((x, y, x))", lambda e: np.stack([e.x, e.y, e.x]), grad=("x", "y")),
    R("x.unsqueeze(dn)", lambda e: np.expand_dims(e.x, e.dn), dtypes=NUMBERS),
    R("torch.unsqueeze(x, dim=dn)", lambda e: np.expand_dims(e.x, e.dn)),
    R("x.unsqueeze(d).squeeze(d)", lambda e: e.x),
    R("x.squeeze(d)", lambda e: np.squeeze(e.x, e.d) if e.x.shape[e.d] == 1 else e.x),
    R("x.squeeze()", lambda e: np.squeeze(e.x)),
    R("x.squeeze(dd)", lambda e: np.squeeze(e.x, tuple(a for a in e.dd if e.x.shape[a] == 1))),
    R("x.flatten()", lambda e: e.x.reshape(-1), dtypes=NUMBERS),
    R("x.flatten(d)", lambda e: e.x.reshape(e.x.shape[:e.d % e.x.ndim] + (-1,))),
    R("torch.flatten(m, 1)", lambda e: e.m.reshape(e.m.shape[0], -1), grad=("m",)),
    R("m.flatten(0, -2)", lambda e: e.m.reshape((-1, e.m.shape[-1])), grad=("m",)),
    R("x.reshape(-1)", lambda e: e.x.reshape(-1)),
    R("x.view(x.size())", lambda e: e.x),
    R("x.reshape(x.shape[0], -1)", lambda e: e.x.reshape(e.x.shape[0], -1)),
    R("x.expand(2, *x.shape)", lambda e: np.broadcast_to(e.x, (2,) + e.x.shape)),
    R("x.unsqueeze(0).expand(3, *([-1] * x.dim()))",
      lambda e: np.broadcast_to(e.x, (3,) + e.x.shape)),
    R("x.expand_as(torch.stack([x, x]))", lambda e: np.broadcast_to(e.x, (2,) + e.x.shape)),
    R("x.broadcast_to((2,) + x.shape)", lambda e: np.broadcast_to(e.x, (2,) + e.x.shape)),
    # --- split: pieces of a size, or of listed sizes; a tuple
    R("torch.split(x, sz0)", lambda e: _split(e.x, e.sz0, 0), dtypes=NUMBERS),
    R("torch.split(x, sz, dim=d)", lambda e: _split(e.x, e.sz, e.d)),
    R("x.split(sz, d)", lambda e: _split(e.x, e.sz, e.d), dtypes=NUMBERS),
    R("x.split(secs, dim=d)", lambda e: _split(e.x, e.secs, e.d)),
    R("torch.split(x, secs, d)[0]", lambda e: _split(e.x, e.secs, e.d)[0]),
    # --- dtype casts and to()
    R("x.float()", lambda e: e.x.astype(np.float32), dtypes=ALL_FLOATS + (I64, I32)),
    R("x.double()", lambda e: e.x.astype(np.float64), dtypes=ALL_FLOATS + (I64,)),
    R("x.half()", lambda e: e.x.astype(np.float16), dtypes=(F32, F64, I64)),
    R("x.bfloat16()", lambda e: e.x.astype(BF16), dtypes=(F32, F64, I64)),
    R("x.long()", lambda e: np.trunc(e.x).astype(np.int64), dtypes=ALL_FLOATS + (I32,),
      grad=()),
    R("x.int()", lambda e: np.trunc(e.x).astype(np.int32), dtypes=FLOATS + (I64,), grad=()),
    R("x.short()", lambda e: np.trunc(e.x).astype(np.int16), dtypes=FLOATS + (I64,), grad=()),
    R("x.bool()", lambda e: e.x != 0, dtypes=FLOATS + (I64,), grad=()),
    R("x.to(torch.float64)", lambda e: e.x.astype(np.float64), dtypes=ALL_FLOATS + (I64,)),
    R("x.to(torch.int64)", lambda e: np.trunc(e.x).astype(np.int64), grad=()),
    R("x.to(dtype=torch.float16)", lambda e: e.x.astype(np.float16)),
    R("x.to('cpu', torch.float64)", lambda e: e.x.astype(np.float64)),
    R("x.to(y.double())", lambda e: e.x.astype(np.float64), dtypes=(F32, I64)),
    R("x.type_as(y.long())", lambda e: np.trunc(e.x).astype(np.int64), grad=()),
    R("x.to(torch.long).dtype == torch.int64", lambda e: True, grad=()),
    # --- type promotion: scalars and 0-d tensors do not upcast within a category
    R("x * np.float64(2.5)", lambda e: e.x * e.x.dtype.type(2.5), dtypes=ALL_FLOATS),
    R("x * np.sqrt(2 / 3)", lambda e: e.x * e.x.dtype.type(np.sqrt(2 / 3)), dtypes=ALL_FLOATS,
      rtol=1e-2),
    R("np.float64(0.5) + x", lambda e: e.x + e.x.dtype.type(0.5), dtypes=ALL_FLOATS),
    R("x + z.double()", lambda e: e.x + e.z.astype(e.x.dtype), dtypes=ALL_FLOATS),
    R("x * z.half()", lambda e: e.x * e.z.astype(e.x.dtype), dtypes=FLOATS),
    R("x + 0.5", lambda e: e.x.astype(np.float32) + np.float32(0.5), dtypes=(I64, I32),
      grad=()),
    R("x * s", lambda e: e.x.astype(np.float32) * np.float32(e.s), dtypes=(I64, I32), grad=()),
    R("x / iy", lambda e: (e.x / e.iy).astype(np.float32), dtypes=(I64, I32), grad=()),
    R("x / 4", lambda e: (e.x / 4).astype(np.float32), dtypes=(I64,), grad=()),
    R("x ** 0.5", lambda e: e.x.astype(np.float32) ** np.float32(0.5), dtypes=(I64,), grad=()),
    R("x ** 2", lambda e: e.x ** 2, dtypes=(I64, I32), grad=()),
    R("x + n", lambda e: e.x + e.x.dtype.type(e.n), dtypes=NUMBERS),
    R("x + torch.tensor(n)", lambda e: e.x + e.x.dtype.type(e.n), dtypes=(I32, F32, F64)),
    R("x + torch.tensor(2.5)", lambda e: e.x.astype(np.float32) + np.float32(2.5)
      if e.x.dtype.kind == "i" else e.x + e.x.dtype.type(2.5), dtypes=(I32, I64, F64)),
    R("x * torch.tensor(2.5, dtype=torch.float64)", lambda e: e.x.astype(np.float64) * 2.5,
      dtypes=(I64,), grad=()),
    R("x.half() + y", lambda e: (e.x.astype(np.float16) + e.y).astype(np.float16),
      dtypes=(I64,), grad=()),
    R("x.double() + y", lambda e: e.x.astype(np.float64) + e.y, dtypes=(F32,),
      grad=("x", "y")),
    R("torch.tensor(1) + 0.5", lambda e: np.float32(1.5), grad=()),
    R("torch.tensor(3) / torch.tensor(2)", lambda e: np.float32(1.5), grad=()),
    R("(torch.tensor(4) ** 0.5).dtype == torch.float32", lambda e: True, grad=()),
    R("b * 2.5", lambda e: e.b.astype(np.float32) * np.float32(2.5), grad=()),
    R("b + 1", lambda e: e.b.astype(np.int64) + 1, grad=()),
    R("x > np.float64(0.5)", lambda e: e.x > e.x.dtype.type(0.5), dtypes=ALL_FLOATS, grad=()),
    R("torch.maximum(x, torch.tensor(0.0, dtype=torch.float64))",
      lambda e: np.maximum(e.x, 0).astype(e.x.dtype), dtypes=(F16, F32)),
    R("torch.where(x > 0, x, 0.5)", lambda e: np.where(e.x > 0, e.x, e.x.dtype.type(0.5)),
      dtypes=ALL_FLOATS),
    # --- indexing: sequences are index arrays; integers first, then advanced indices
    R("x[((0, 0),)]", lambda e: e.x[[0, 0]]),
    R("x[[0]]", lambda e: e.x[[0]]),
    R("t3[0, :, [0, 0]]",
      lambda e: _torch_index(e.t3, 0, (slice(None), [0, 0])), grad=("t3",)),
    R("t3[-1, ..., [0]]", lambda e: _torch_index(e.t3, -1, (Ellipsis, [0])), grad=("t3",)),
    R("t3[None, 0, :, [0, 0]]", lambda e: e.t3[0][:, [0, 0]][None], grad=("t3",)),
    R("t3[:, 0, [0, 0]]", lambda e: e.t3[:, 0][:, [0, 0]], grad=("t3",)),
    R("t3[torch.tensor(0), :, torch.tensor([0])]",
      lambda e: _torch_index(e.t3, 0, (slice(None), [0])), grad=("t3",)),
    R("x[x > 0]", lambda e: e.x[e.x > 0]),
    R("m[..., -1]", lambda e: e.m[..., -1], grad=("m",)),
    # --- creation
    R("torch.tensor(x.tolist())", lambda e: np.asarray(e.x.tolist()).astype(
        np.float32 if e.x.dtype.kind == "f" else np.int64), dtypes=(F64, I32), grad=()),
    R("torch.tensor(np.arange(3.0))", lambda e: np.arange(3.0), grad=()),
    R("torch.from_numpy(np.arange(4, dtype=np.int32))", lambda e: np.arange(4, dtype=np.int32),
      grad=()),
    R("torch.tensor([1.5, 2])", lambda e: np.asarray([1.5, 2], np.float32), grad=()),
    R("torch.tensor([[1, 2]])", lambda e: np.asarray([[1, 2]], np.int64), grad=()),
    R("torch.tensor(True)", lambda e: np.asarray(True), grad=()),
    R("torch.as_tensor(x)", lambda e: e.x, grad=()),
    R("torch.linspace(lo, hi, steps)", lambda e: np.linspace(e.lo, e.hi, e.steps).astype(
        np.float32), grad=(), rtol=1e-6),
    R("torch.linspace(lo, hi, steps, dtype=torch.int32)",
      lambda e: _int_linspace(e.lo, e.hi, e.steps, np.int32), grad=()),
    R("torch.linspace(5, -5, 20, dtype=torch.int64)",
      lambda e: np.trunc(np.linspace(5, -5, 20)).astype(np.int64), grad=()),
    R("F.one_hot(lab)", lambda e: _one_hot(e.lab, e.lab.max() + 1), grad=()),
    R("F.one_hot(lab, 6)", lambda e: _one_hot(e.lab, 6), grad=()),
    R("torch.arange(5)", lambda e: np.arange(5), grad=()),
    R("torch.arange(0, 1, 0.25)", lambda e: np.arange(0, 1, 0.25, dtype=np.float32), grad=()),
    R("torch.zeros(2, 3).size()", lambda e: ad.Size((2, 3)), grad=()),
    R("torch.ones_like(x)", lambda e: np.ones_like(e.x), dtypes=NUMBERS, grad=()),
    # --- in place: the result, and the gradient through the tensor written
    R("x.clone().add_(y)", lambda e: e.x + e.y, dtypes=NUMBERS, grad=("x", "y")),
    R("x.clone().add_(y, alpha=alpha)", lambda e: e.x + e.y * e.x.dtype.type(e.alpha),
      grad=("x", "y")),
    R("x.clone().sub_(y, alpha=2)", lambda e: e.x - 2 * e.y, dtypes=NUMBERS, grad=("x", "y")),
    R("x.clone().mul_(y)", lambda e: e.x * e.y, grad=("x", "y")),
    R("x.clone().mul_(s)", lambda e: e.x * e.x.dtype.type(e.s)),
    R("x.clone().div_(y)", lambda e: e.x / e.y, grad=("x", "y")),
    R("x.clone().pow_(2)", lambda e: e.x ** 2),
    R("x.clone().clamp_(-1, 1)", lambda e: np.clip(e.x, -1, 1), dtypes=NUMBERS),
    R("x.clone().clamp_(min=0.5)", lambda e: np.maximum(e.x, e.x.dtype.type(0.5))),
    R("x.clone().neg_()", lambda e: -e.x),
    R("x.clone().fill_(s)", lambda e: np.full_like(e.x, e.s)),
    R("x.clone().fill_(z)", lambda e: np.full_like(e.x, e.z), grad=("x", "z")),
    R("x.clone().zero_()", lambda e: np.zeros_like(e.x), dtypes=NUMBERS),
    R("x.clone().copy_(y)", lambda e: e.y, grad=("x", "y")),
    R("x.clone().copy_(z)", lambda e: np.broadcast_to(e.z, e.x.shape), grad=("x", "z")),
    R("x.clone().copy_(y.long())", lambda e: np.trunc(e.y).astype(e.x.dtype)),
    R("(x * 2).add_(x).mul_(y)", lambda e: 3 * e.x * e.y, grad=("x", "y")),
    # --- formatting
    R("f'{x.sum():.3f}'", lambda e: f"{e.x.sum():.3f}", dtypes=(F64,), grad=()),
    R("f'{x.max().item():.2f}'", lambda e: f"{e.x.max():.2f}", grad=()),
]


# ------------------------------------------------------------------------- the tests
def _draw(data, row):
    """The inputs the row's code and reference use, drawn consistently."""
    env = Env(data.draw, row.dtypes)
    names = [n for n in MAKERS if n in _names(row.code)]
    inputs = {n: getattr(env, n) for n in names}
    return env, inputs


def _names(code):
    import re
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


def _wanted(row, env):
    if not (env.values.get("dt") in ALL_FLOATS or env.values.get("dt") is None):
        return ()
    return tuple(n for n in row.grad if n in env.values)


def _check_reference(ours, expected, what, rtol):
    if isinstance(expected, tuple) and not isinstance(expected, ad.Size):
        if hasattr(expected, "_fields"):
            assert getattr(ours, "_fields", None) == expected._fields, what
        assert isinstance(ours, tuple) and len(ours) == len(expected), \
            f"{what}: {ours!r} vs {len(expected)} pieces"
        for i, (a, b) in enumerate(zip(ours, expected)):
            _check_reference(a, b, f"{what}[{i}]", rtol)
        return
    if isinstance(ours, ad.Tensor):
        expected = np.asarray(expected)
        exp_dtype = parity.dtype_name(expected)
        assert parity.dtype_name(ours) == exp_dtype, \
            f"{what}: dtype {parity.dtype_name(ours)}, expected {exp_dtype}"
        parity.assert_close(parity.to_numpy(ours), parity.to_numpy(expected), exp_dtype,
                            what, rtol)
        return
    assert type(ours) is type(expected) or isinstance(expected, (bool, np.bool_)), \
        f"{what}: {type(ours).__name__} {ours!r}, expected {type(expected).__name__}"
    assert ours == expected, f"{what}: {ours!r} != {expected!r}"


IDS = [f"{i}:{r.code}" for i, r in enumerate(ROWS)]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_row_matches_reference(row, data):
    env, inputs = _draw(data, row)
    wanted = _wanted(row, env)
    ours, leaves = parity.run_line(row.code, parity.AUTODIFF, inputs, wanted)
    with np.errstate(all="ignore"):
        expected = row.ref(env)
    _check_reference(ours, expected, row.code, row.rtol)
    out = parity._first_tensor(ours)
    if (wanted and env.values.get("dt") == F64 and isinstance(out, ad.Tensor)
            and out.dtype == ad.float64 and np.isfinite(out.numpy()).all()):
        _check_numerical_gradients(row, inputs, wanted)


def _check_numerical_gradients(row, inputs, wanted):
    """d sum(out * w)/d input against float64 central differences (for float64 results
    with finite values: a cast to a narrower dtype hides a small step)."""
    def fn(*tensors):
        env = dict(parity.AUTODIFF)
        env.update({n: ad.tensor(v) if isinstance(v, np.ndarray) else v
                    for n, v in inputs.items() if n not in wanted})
        env.update(dict(zip(wanted, tensors)))
        out = eval(row.code, env)
        return parity._first_tensor(out)
    xs = [ad.tensor(inputs[n], requires_grad=True) for n in wanted]
    assert ad.gradcheck(fn, xs)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
@EXAMPLES
@given(data=st.data())
def test_row_matches_torch(row, data):
    pytest.importorskip("torch", reason="torch is the optional reference oracle")
    env, inputs = _draw(data, row)
    wanted = _wanted(row, env)
    ours, leaves = parity.run_line(row.code, parity.AUTODIFF, inputs, wanted)
    theirs, tleaves = parity.run_line(row.code, parity.torch_namespace(), inputs, wanted)
    parity.assert_same(ours, theirs, row.code, row.rtol)
    ours_g, theirs_g = parity.gradients(ours, leaves), parity.gradients(theirs, tleaves)
    for name in wanted:
        if theirs_g[name] is None:
            assert ours_g[name] is None or not np.any(ours_g[name]), f"{row.code}: d/d{name}"
            continue
        assert ours_g[name] is not None, f"{row.code}: no gradient for {name}"
        parity.assert_close(ours_g[name], theirs_g[name], parity.dtype_name(leaves[name]),
                            f"{row.code}: gradient w.r.t. {name}", row.rtol)
