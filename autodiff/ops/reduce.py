"""Reductions over dims (None, int, negative, tuple) with keepdim, and softmax.

The public functions take PyTorch's arguments (`dim`, `keepdim`, `correction`/`unbiased`),
with NumPy's `axis` / `keepdims` accepted as aliases (giving both spellings is an error).
Half-precision inputs (float16, bfloat16) accumulate in float32 and the result comes back
in the input dtype. A full max/min splits the gradient equally between tied maxima (as
PyTorch's max() and amax do); max/min over one dim return (values, indices) and send the
gradient to the returned index (as PyTorch's max(dim) does).
"""
from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from .. import backend, return_types
from ..function import Function
from ..tensor import Tensor
from ._dims import normalize_dim, normalize_dims, pick, pick_default, pick_keepdim
from . import _dtypes as _dt
from . import elementwise as _ew
from ..errors import op_error


def normalize_axis(axis, ndim, opname="reduce"):
    """A sorted tuple of non-negative dims, or None for all of them (also for the dim 0 or
    -1 of a 0-d tensor, which torch accepts). Out of range: IndexError naming the op."""
    if axis is None:
        return None
    axes = normalize_dims(axis, ndim, opname)
    return tuple(sorted(axes)) if ndim else None


def _expand(ctx, g):
    """Re-insert the reduced axes into g (for broadcasting against the input)."""
    if ctx.keepdims or ctx.axes is None and g.ndim == len(ctx.shape):
        return g
    if ctx.axes is None:
        return g.reshape((1,) * len(ctx.shape))
    return ctx.xp.expand_dims(g, ctx.axes)


def _spread(ctx, g):
    """g (reduced shape) repeated over the reduced axes: the input's shape.

    The fast path writes into a fresh array (cheaper than numpy.broadcast_to, and leaves
    can keep it without a copy); with create_graph it is a differentiable broadcast."""
    if ctx.create_graph:
        return ctx.xp.broadcast_to(_expand(ctx, g), ctx.shape)
    out = ctx.xp.empty(ctx.shape, dtype=g.dtype)
    # A full reduction's g (0-d, or all ones with keepdims) broadcasts as it is.
    out[...] = g if ctx.axes is None else _expand(ctx, g)
    return out


def _count(shape, axes):
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def _setup(ctx, x, axis, keepdims, opname):
    ctx.shape = x.shape
    ctx.axes = None if axis is None else normalize_axis(axis, x.ndim, opname)
    ctx.keepdims = keepdims
    return backend.accumulation_dtype(x.dtype)


class Sum(Function):
    """sum_i x_i"""
    derivative = "d sum(x)/dx_i = 1"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "sum")
        if x.dtype.kind in "biu":
            # The result keeps x's dtype, as torch's sum(dtype=) (sum() itself casts int
            # and bool inputs to int64 first): integers add in int64 and wrap back; a
            # bool sum is True where some entry is.
            out = x.sum(axis=ctx.axes, keepdims=keepdims, dtype=backend.int64)
            return out.astype(x.dtype)
        out = x.sum(axis=ctx.axes, keepdims=keepdims, dtype=acc)
        return out.astype(x.dtype) if acc is not None else out

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g)


class Mean(Function):
    """(1/n) sum_i x_i"""
    derivative = "d mean(x)/dx_i = 1/n"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "mean")
        ctx.n = x.size if ctx.axes is None else _count(x.shape, ctx.axes)
        if x.dtype.kind != "f" or acc is not None or ctx.n == 0:
            out = x.mean(axis=ctx.axes, keepdims=keepdims, dtype=acc)
            return out.astype(x.dtype) if acc is not None else out
        # sum * (1/n) is the same arithmetic as numpy.mean without its Python wrapper.
        out = x.sum(axis=ctx.axes, keepdims=keepdims)
        out *= 1.0 / ctx.n
        return out

    @staticmethod
    def backward(ctx, g):
        return _spread(ctx, g / ctx.n)


class Var(Function):
    """sum_i (x_i - mean)^2 / max(n - correction, 0)"""
    derivative = "d var(x)/dx_i = 2 (x_i - mean) / (n - correction)"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=0):
        acc = _setup(ctx, x, axis, keepdims, "var")
        ctx.denominator = builtins.max(_count(x.shape, ctx.axes) - correction, 0)
        ctx.save(x)
        out = _spread_of(ctx, x, acc, correction, "var")
        return out.astype(x.dtype) if acc is not None else out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        with np.errstate(invalid="ignore"):  # n <= correction: 0 * inf is NaN, as torch
            return _expand(ctx, g) * centred * _inverse(ctx.denominator, 2.0)


class Std(Function):
    """sqrt(var(x)); its gradient is 0 where every value is equal (as torch)"""
    derivative = "d std(x)/dx_i = (x_i - mean) / ((n - correction) std)"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, correction=0):
        acc = _setup(ctx, x, axis, keepdims, "std")
        ctx.denominator = builtins.max(_count(x.shape, ctx.axes) - correction, 0)
        out = _spread_of(ctx, x, acc, correction, "std")
        out = ctx.xp.asarray(out.astype(x.dtype) if acc is not None else out)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        xp = ctx.xp
        centred = x - x.mean(axis=ctx.axes, keepdims=True)
        std = _expand(ctx, out)
        # Every value equal (std 0): the centred values are 0 and so is the gradient (torch),
        # not 0/0; dividing by 1 there keeps higher derivatives free of NaN too.
        std = xp.where(std == 0, 1, std)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: NaN
            return _expand(ctx, g) * centred / (std * ctx.denominator)


def _spread_of(ctx, x, acc, correction, name):
    """NumPy's var/std with ddof=correction; n <= correction gives inf or NaN (as torch)
    without NumPy's degrees-of-freedom warning."""
    work = x.astype(acc) if acc is not None else x
    if ctx.denominator > 0:
        return getattr(work, name)(axis=ctx.axes, keepdims=ctx.keepdims, ddof=correction)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(work, name)(axis=ctx.axes, keepdims=ctx.keepdims, ddof=correction)


def _inverse(denominator, numerator=1.0):
    """numerator / denominator, inf when the denominator is 0 (as torch's C++ division)."""
    return numerator / denominator if denominator else math.inf


class _Extremum(Function):
    """Shared backward of max and min: the gradient goes to the extreme elements,
    split equally between ties."""

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        out = _expand(ctx, out)
        mask = x == out
        if ctx.has_nan:  # a NaN result came from the NaN entries: they share the gradient
            mask = mask | (ctx.xp.isnan(x) & ctx.xp.isnan(out))
        count = mask.sum(axis=ctx.axes, keepdims=True)
        return ctx.xp.where(mask, _expand(ctx, g) / ctx.xp.asarray(count, dtype=g.dtype), 0)


def _check_nonempty(ctx, x, op):
    """max/min have no identity: a reduced dim of size 0 is an error (torch's IndexError);
    a zero-size tensor reduced over non-empty dims gives a zero-size result."""
    if x.size == 0 and (ctx.axes is None or any(x.shape[a] == 0 for a in ctx.axes)):
        raise op_error(IndexError, op, f"cannot reduce a dim of size 0 (shape {x.shape}, "
                       f"dim {ctx.axes}): the {op} of no elements is undefined; give a dim "
                       "whose size is not 0")


class Max(_Extremum):
    """max_i x_i"""
    derivative = "d max(x)/dx_i = 1/k at the k maximal elements, else 0"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        _setup(ctx, x, axis, keepdims, "max")
        _check_nonempty(ctx, x, "max")
        out = ctx.xp.asarray(x.max(axis=ctx.axes, keepdims=keepdims))
        ctx.has_nan = backend.is_floating(x.dtype) and bool(ctx.xp.isnan(out).any())
        ctx.save(x, out)
        return out


class Min(_Extremum):
    """min_i x_i"""
    derivative = "d min(x)/dx_i = 1/k at the k minimal elements, else 0"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        _setup(ctx, x, axis, keepdims, "min")
        _check_nonempty(ctx, x, "min")
        out = ctx.xp.asarray(x.min(axis=ctx.axes, keepdims=keepdims))
        ctx.has_nan = backend.is_floating(x.dtype) and bool(ctx.xp.isnan(out).any())
        ctx.save(x, out)
        return out


class _PickAlong(Function):
    """x's entries at `index` along `dim` (index has size 1 there): what max/min(dim)
    return; the gradient goes to those entries only"""

    @staticmethod
    def forward(ctx, x, index, dim, keepdim):
        ctx.shape, ctx.index, ctx.dim, ctx.keepdim = x.shape, index, dim, keepdim
        out = ctx.xp.take_along_axis(x, index, axis=dim)
        return out if keepdim else out.reshape(out.shape[:dim] + out.shape[dim + 1:])

    @staticmethod
    def backward(ctx, g):
        return ctx.call(_PlaceAlong, g, index=ctx.index, dim=ctx.dim, keepdim=ctx.keepdim,
                        shape=ctx.shape)


class _PlaceAlong(Function):
    """zeros of `shape` with g written at `index` along `dim` (the inverse of _PickAlong)"""
    op_name = "place_along"
    derivative = "d place(g)/dg = pick at the same index"

    @staticmethod
    def forward(ctx, g, index, dim, keepdim, shape):
        ctx.index, ctx.dim, ctx.keepdim = index, dim, keepdim
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        ctx.xp.put_along_axis(out, index, g if keepdim else ctx.xp.expand_dims(g, dim), dim)
        return out

    @staticmethod
    def backward(ctx, gg):
        return ctx.call(_PickAlong, gg, index=ctx.index, dim=ctx.dim, keepdim=ctx.keepdim)


class MaxAlong(_PickAlong):
    """max of x along one dim (torch.max(x, dim))"""
    op_name = "max"
    derivative = "d max(x, dim)/dx = 1 at the returned index, 0 elsewhere"


class MinAlong(_PickAlong):
    """min of x along one dim (torch.min(x, dim))"""
    op_name = "min"
    derivative = "d min(x, dim)/dx = 1 at the returned index, 0 elsewhere"


class LogSumExp(Function):
    """log sum_i e^(x_i), shifted by the maximum so it never overflows"""
    derivative = "d lse(x)/dx_i = softmax(x)_i"

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        acc = _setup(ctx, x, axis, keepdims, "logsumexp")
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        m = _shift(xp, work, ctx.axes)
        with np.errstate(divide="ignore"):  # the sum of no elements: log 0 = -inf
            out = xp.log(xp.exp(work - m).sum(axis=ctx.axes, keepdims=True)) + m
        if not keepdims:
            out = out.reshape([s for i, s in enumerate(x.shape)
                               if ctx.axes is not None and i not in ctx.axes])
        out = ctx.xp.asarray(out.astype(x.dtype) if acc is not None else out)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        return _expand(ctx, g) * ctx.xp.exp(x - _expand(ctx, out))


def _shift(xp, work, axes, finite=True):
    """The maximum over axes (kept as size 1; with `finite`, infinities replaced by 0):
    what exp-sums subtract first so they never overflow. Zero-size tensors (whose max
    NumPy refuses) shift by 0."""
    if work.size == 0:
        shape = tuple(1 if axes is None or i in axes else n for i, n in enumerate(work.shape))
        return xp.zeros(shape, dtype=work.dtype)
    m = work.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0) if finite else m


class Softmax(Function):
    """e^(x_i) / sum_j e^(x_j) along an axis"""
    derivative = "d y_i/dx_j = y_i (delta_ij - y_j)"

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axis(axis, x.ndim, "softmax")
        acc = backend.accumulation_dtype(x.dtype)
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        e = xp.exp(work - _shift(xp, work, ctx.axis, finite=False))
        e /= e.sum(axis=ctx.axis, keepdims=True)
        out = e.astype(x.dtype) if acc is not None else e
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """x_i - log sum_j e^(x_j) along an axis"""
    op_name = "log_softmax"
    derivative = "d y_i/dx_j = delta_ij - softmax(x)_j"

    @staticmethod
    def forward(ctx, x, axis=-1):
        ctx.axis = normalize_axis(axis, x.ndim, "log_softmax")
        acc = backend.accumulation_dtype(x.dtype)
        xp = ctx.xp
        work = x.astype(acc) if acc is not None else x
        shifted = work - _shift(xp, work, ctx.axis, finite=False)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=ctx.axis, keepdims=True))
        out = out.astype(x.dtype) if acc is not None else out
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g - ctx.xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True)


# ---------------------------------------------------------------- the public functions
# torch's signatures; `axis` / `keepdims` are NumPy's spellings of `dim` / `keepdim`.

def _dims(op, x, dim, keepdim, axis, keepdims):
    """(dims, keepdim): dims None for every dim (torch also reads dim=() that way)."""
    dim = pick(op, dim, axis)
    if dim is not None and not normalize_dims(dim, x.ndim, op):  # checks types and range
        dim = None  # torch reads dim=() as every dim
    return dim, pick_keepdim(op, keepdim, keepdims)


def _floating_only(op, input, dtype):
    """input converted to dtype (when given); torch computes mean and softmax only in a
    floating-point dtype and refuses to pick one for integer and bool tensors."""
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind in "biu":
        raise op_error(TypeError, op, f"needs a floating-point dtype, got {input.dtype} "
                                      f"(as torch); pass dtype=ad.float32 or call .float() "
                                      f"first")
    return input


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """sum_i x_i over dim (all dims when None) (torch.sum): dtype= converts first (the
    gradient comes back in the input's dtype); int and bool inputs give int64."""
    if dtype is not None:
        input = _dt.reduction_input("sum", input, dtype)
    elif input.dtype.kind in "biu":
        input = input.to(backend.int64)
    if dim is None and axis is None and not keepdim and not keepdims:
        return Sum.apply(input)  # the common full reduction: no keyword packing
    dim, keepdim = _dims("sum", input, dim, keepdim, axis, keepdims)
    return Sum.apply(input, axis=dim, keepdims=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """(1/n) sum_i x_i over dim (all dims when None) (torch.mean): floating-point only;
    dtype= converts first (an integer tensor needs dtype=ad.float32, as in torch)."""
    if dtype is not None or input.dtype.kind in "biu":
        input = _floating_only("mean", input, dtype)
    if dim is None and axis is None and not keepdim and not keepdims:
        return Mean.apply(input)
    dim, keepdim = _dims("mean", input, dim, keepdim, axis, keepdims)
    return Mean.apply(input, axis=dim, keepdims=keepdim)


def _correction(op, dim, unbiased, correction):
    """(dim, correction) from torch's overloads: var(dim, unbiased, keepdim),
    var(unbiased) and var(dim, *, correction); the default is the unbiased estimate."""
    if isinstance(dim, bool):  # var(True): the (input, unbiased) overload
        if unbiased is not None:
            raise op_error(TypeError, op, "unbiased given twice (a bool dim is read as "
                                          "unbiased, as torch's var(input, unbiased))")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise op_error(TypeError, op, "give correction= or the older unbiased=, not both")
    if unbiased is not None:
        return dim, int(bool(unbiased))
    return dim, 1 if correction is None else correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):
    """sum_i (x_i - mean)^2 / (n - correction) over dim; correction=1 (unbiased) by
    default, unbiased=False means correction=0 (torch.var)."""
    dim, correction = _correction("var", dim, unbiased, correction)
    dim, keepdim = _dims("var", input, dim, keepdim, axis, keepdims)
    return Var.apply(input, axis=dim, keepdims=keepdim, correction=correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):
    """sqrt(var(x)) over dim; correction=1 (unbiased) by default (torch.std)."""
    dim, correction = _correction("std", dim, unbiased, correction)
    dim, keepdim = _dims("std", input, dim, keepdim, axis, keepdims)
    return Std.apply(input, axis=dim, keepdims=keepdim, correction=correction)


def _extremum(op, full, along, arg, input, dim, keepdim, axis, keepdims):
    """torch.max/min: the full reduction, the elementwise form max(input, other), or the
    (values, indices) named tuple over one dim."""
    if isinstance(dim, Tensor):  # max(input, other)
        if keepdim or axis is not None or keepdims is not None:
            raise op_error(TypeError, op, "max/min(input, other) takes no dim or keepdim")
        return (_ew.maximum if op == "max" else _ew.minimum)(input, dim)
    dim = pick(op, dim, axis)
    keepdim = pick_keepdim(op, keepdim, keepdims)
    if dim is None:
        if keepdim:
            raise op_error(TypeError, op, "keepdim=True needs a dim (torch's "
                                          f"{op}(input) reduces every dim)")
        return full.apply(input)
    if not isinstance(dim, int):
        raise op_error(TypeError, op, f"dim must be one int for {op}(input, dim), which "
                                      f"returns (values, indices); got {dim!r}. For the "
                                      f"{op} over several dims use ad.a{op}(input, dim)")
    x = input if isinstance(input, Tensor) else Tensor(input)
    d = normalize_dim(dim, x.ndim, op)
    work = x.reshape(1) if x.ndim == 0 else x
    if work.shape[d] == 0:
        raise op_error(IndexError, op, f"cannot reduce dim {dim} of size 0 (shape "
                                       f"{tuple(x.shape)}): the result has no identity")
    index = getattr(work.data, arg)(axis=d, keepdims=True)
    values = along.apply(work, index=index, dim=d, keepdim=keepdim or x.ndim == 0)
    indices = index if keepdim or x.ndim == 0 else index.reshape(values.data.shape)
    if x.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    kind = return_types.max if op == "max" else return_types.min
    return kind(values, Tensor._make(indices.astype(backend.int64, copy=False), None, False))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """max(input): the largest entry (gradient split between ties); max(input, dim,
    keepdim=False): the named tuple (values, indices) along dim; max(input, other): the
    elementwise maximum (torch.max)."""
    return _extremum("max", Max, MaxAlong, "argmax", input, dim, keepdim, axis, keepdims)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """min(input), min(input, dim) -> (values, indices), min(input, other) (torch.min)."""
    return _extremum("min", Min, MinAlong, "argmin", input, dim, keepdim, axis, keepdims)


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """log sum_i exp(x_i) over dim, computed without overflow (torch.logsumexp)."""
    dim, keepdim = _dims("logsumexp", input, dim, keepdim, axis, keepdims)
    return LogSumExp.apply(input, axis=dim, keepdims=keepdim)


def _softmax_dim(op, dim, axis):
    """dim, or NumPy's alias axis; the last dim by default (torch.softmax needs a dim;
    nn.functional.softmax without one makes torch's implicit choice)."""
    return pick_default(op, dim, axis, -1)


def softmax(input, dim=-1, *, dtype=None, axis=None):
    """exp(x_i) / sum_j exp(x_j) along dim (torch.softmax); dtype= converts first
    (floating-point dtypes only, as torch)."""
    if dtype is not None or input.dtype.kind in "biu":
        input = _floating_only("softmax", input, dtype)
    return Softmax.apply(input, axis=_softmax_dim("softmax", dim, axis))


def log_softmax(input, dim=-1, *, dtype=None, axis=None):
    """x_i - log sum_j exp(x_j) along dim (torch.log_softmax); dtype= converts first
    (floating-point dtypes only, as torch)."""
    if dtype is not None or input.dtype.kind in "biu":
        input = _floating_only("log_softmax", input, dtype)
    return LogSoftmax.apply(input, axis=_softmax_dim("log_softmax", dim, axis))


def _arg(op, input, dim, keepdim, axis, keepdims):
    dim = pick(op, dim, axis)
    keepdim = pick_keepdim(op, keepdim, keepdims)
    data = input.data
    if data.size == 0 and (dim is None or data.shape[normalize_dim(dim, data.ndim, op)] == 0):
        raise op_error(IndexError, op, f"cannot take the {op} of an empty dim (shape "
                                       f"{tuple(data.shape)})")
    if dim is None:  # the index into the flattened tensor; keepdim keeps every dim as 1
        out = getattr(data, op)()
        if keepdim:
            out = out.reshape((1,) * data.ndim)
    elif data.ndim == 0:
        normalize_dim(dim, 0, op)
        out = getattr(data, op)()
    else:
        out = getattr(data, op)(axis=normalize_dim(dim, data.ndim, op), keepdims=keepdim)
    xp = backend.array_module(data)
    return Tensor._make(xp.asarray(out, dtype=backend.int64), None, False)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the maximum along dim, or into the flattened tensor when dim is None
    (the first one at ties; NaN counts as the maximum); no gradient (torch.argmax)."""
    return _arg("argmax", input, dim, keepdim, axis, keepdims)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the minimum along dim, or into the flattened tensor (torch.argmin)."""
    return _arg("argmin", input, dim, keepdim, axis, keepdims)

