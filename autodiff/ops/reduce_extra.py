"""torch's reductions beyond reduce.py's: amax / amin / aminmax (gradient split evenly
between tied extremes, as torch), std_mean / var_mean (torch's unbiased default),
nansum / nanmean (NaN entries skipped, and given no gradient), and the counting ones with
no gradient: any, all, count_nonzero.

All take `dim` (an int, a tuple, or None for every dim) and `keepdim`, with NumPy's
`axis` / `keepdims` accepted as aliases.
"""
from __future__ import annotations

import numpy as np

from .. import backend, return_types
from ..function import Function
from ..tensor import Tensor
from . import reduce as _reduce
from ._dims import normalize_dims, pick, pick_keepdim
from ..errors import op_error
from ._dtypes import reduction_input


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _dims_args(op, input, dim, keepdim, axis, keepdims):
    """(x, dims, keepdim): dims a tuple of non-negative dims, or None for all of them."""
    x = _tensor(input)
    dim = pick(op, dim, axis)
    keepdim = pick_keepdim(op, keepdim, keepdims)
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return x, None, keepdim
    return x, normalize_dims(dim, x.ndim, op), keepdim


class AMax(_reduce.Max):
    """max_i x_i over dims"""
    op_name = "amax"


class AMin(_reduce.Min):
    """min_i x_i over dims"""
    op_name = "amin"


def _extreme(op, cls, input, dim, keepdim, axis, keepdims):
    x, dims, keepdim = _dims_args(op, input, dim, keepdim, axis, keepdims)
    if x.numel() == 0 and (dims is None or any(x.shape[d] == 0 for d in dims)):
        raise op_error(IndexError, op, f"cannot reduce an empty dim (shape {x.shape}, dim "
                                       f"{dim}): the result has no identity")
    if x.ndim == 0:
        dims = None
    return cls.apply(x, axis=dims, keepdims=keepdim)


def amax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The maximum over dim (all dims when None or ()); the gradient is split evenly
    between tied maxima (torch.amax)."""
    return _extreme("amax", AMax, input, dim, keepdim, axis, keepdims)


def amin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The minimum over dim (all dims when None or ()); the gradient is split evenly
    between tied minima (torch.amin)."""
    return _extreme("amin", AMin, input, dim, keepdim, axis, keepdims)


def aminmax(input, *, dim=None, keepdim=False, axis=None, keepdims=None):
    """(min, max) over dim, or over everything (torch.aminmax)."""
    return return_types.aminmax(
        _extreme("aminmax", AMin, input, dim, keepdim, axis, keepdims),
        _extreme("aminmax", AMax, input, dim, keepdim, axis, keepdims))


# ---------------------------------------------------------------- std_mean / var_mean
def _moments(op, reduce_fn, input, dim, unbiased, keepdim, correction, axis, keepdims):
    # dim/unbiased/correction are read as torch.std/var read them (reduce._correction)
    dim, c = _reduce._correction(op, dim, unbiased, correction)
    x, dims, keepdim = _dims_args(op, input, dim, keepdim, axis, keepdims)
    return (reduce_fn(x, dims, keepdim=keepdim, correction=c), _reduce.mean(x, dims, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
             keepdims=None):
    """(std, mean) over dim; correction=1 (the unbiased estimate) by default, as
    torch.std_mean."""
    return _moments("std_mean", _reduce.std, input, dim, unbiased, keepdim, correction, axis,
                    keepdims)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
             keepdims=None):
    """(var, mean) over dim; correction=1 (the unbiased estimate) by default, as
    torch.var_mean."""
    return _moments("var_mean", _reduce.var, input, dim, unbiased, keepdim, correction, axis,
                    keepdims)


# ---------------------------------------------------------------- NaN-skipping reductions
class _NanReduce(Function):
    """Shared by nansum and nanmean: NaN entries count as absent."""

    @staticmethod
    def setup(ctx, x, axis, keepdims):
        ctx.axis, ctx.keepdims, ctx.dtype = axis, keepdims, x.dtype
        ctx.nan = ctx.xp.isnan(x) if backend.is_floating(x.dtype) else None
        return backend.accumulation_dtype(x.dtype)

    @staticmethod
    def spread(ctx, g):
        """g (reduced shape) broadcast back over the reduced dims, 0 at the NaN entries."""
        if not ctx.keepdims and ctx.axis is not None:
            g = ctx.xp.expand_dims(g, ctx.axis)
        return g if ctx.nan is None else ctx.xp.where(ctx.nan, 0, g)


    @staticmethod
    def spread_count(ctx):
        count = ctx.count.astype(ctx.dtype)
        if not ctx.keepdims and ctx.axis is not None:
            count = ctx.xp.expand_dims(count, ctx.axis)
        return count


class NanSum(_NanReduce):
    """sum of the entries that are not NaN"""
    derivative = "d nansum(x)/dx_i = 1, or 0 where x_i is NaN"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _NanReduce.setup(ctx, x, axis, keepdims)
        out = ctx.xp.nansum(x, axis=axis, keepdims=keepdims, dtype=acc)
        return ctx.xp.asarray(out).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return _NanReduce.spread(ctx, g)


class NanMean(_NanReduce):
    """mean of the entries that are not NaN"""
    derivative = "d nanmean(x)/dx_i = 1/n (n: the non-NaN entries), or 0 where x_i is NaN"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        xp = ctx.xp
        acc = _NanReduce.setup(ctx, x, axis, keepdims)
        count = (~ctx.nan).sum(axis=axis, keepdims=keepdims)
        total = xp.nansum(x, axis=axis, keepdims=keepdims, dtype=acc)
        ctx.count = count
        with np.errstate(invalid="ignore", divide="ignore"):
            out = xp.asarray(total / count)  # 0 / 0 = NaN where everything is NaN (torch)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        # (spread, then divide: an all-NaN line has count 0 and gets NaN, as in torch)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _NanReduce.spread(ctx, g) / _NanReduce.spread_count(ctx)


def _nan_args(op, input, dim, keepdim, dtype, axis, keepdims):
    x, dims, keepdim = _dims_args(op, input, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = reduction_input(op, x, dtype)
    return x, (None if x.ndim == 0 else dims), keepdim


def nansum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """The sum with NaN entries counted as 0 (torch.nansum); int and bool inputs give
    int64."""
    x, dims, keepdim = _nan_args("nansum", input, dim, keepdim, dtype, axis, keepdims)
    if dtype is None and x.dtype.kind in "biu":
        x = x.to(dtype=backend.int64)
    return NanSum.apply(x, axis=dims, keepdims=keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """The mean of the entries that are not NaN (NaN where there are none)
    (torch.nanmean; floating-point inputs only, even with dtype=, as torch)."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if not backend.is_floating(x.dtype):
        raise op_error(TypeError, "nanmean", f"expects a floating-point tensor, got dtype "
                                             f"{x.dtype} (call .float() first)")
    x, dims, keepdim = _nan_args("nanmean", x, dim, keepdim, dtype, axis, keepdims)
    if not backend.is_floating(x.dtype):
        raise op_error(TypeError, "nanmean", f"dtype= must be a floating-point dtype, got "
                                             f"{x.dtype}")
    return NanMean.apply(x, axis=dims, keepdims=keepdim)


# ---------------------------------------------------------------- counting (no gradient)
def _logical(op, name, input, dim, keepdim, axis, keepdims):
    x, dims, keepdim = _dims_args(op, input, dim, keepdim, axis, keepdims)
    xp = backend.array_module(x.data)
    out = xp.asarray(getattr(xp, name)(x.data, axis=None if x.ndim == 0 else dims,
                                       keepdims=keepdim))
    if x.dtype == np.uint8:  # torch keeps uint8 for any/all of uint8
        out = out.astype(np.uint8)
    return Tensor._make(out, None, False)


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """True where some entry over dim is nonzero (torch.any); no gradient."""
    return _logical("any", "any", input, dim, keepdim, axis, keepdims)


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """True where every entry over dim is nonzero (torch.all); no gradient."""
    return _logical("all", "all", input, dim, keepdim, axis, keepdims)


def count_nonzero(input, dim=None, *, axis=None):
    """The number of nonzero entries over dim, as int64 (torch.count_nonzero)."""
    x, dims, _ = _dims_args("count_nonzero", input, dim, False, axis, None)
    xp = backend.array_module(x.data)
    out = xp.count_nonzero(x.data, axis=None if x.ndim == 0 else dims)
    return Tensor._make(xp.asarray(out, dtype=backend.int64), None, False)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"amax": amax, "amin": amin, "aminmax": aminmax, "nansum": nansum,
           "nanmean": nanmean, "count_nonzero": count_nonzero, "any": any, "all": all}
