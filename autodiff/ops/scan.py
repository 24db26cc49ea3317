"""Cumulative ops along a dim (cumsum, cumprod, cummax, cummin, logcumsumexp) and the
product reduction (prod), whose zero-safe gradient is built from cumulative products.

Each backward is itself made of these ops (called through `ctx.call`), so it records a
graph under create_graph: a reverse cumsum undoes a cumsum, and the gradient of a product
is "the product of the others", computed without dividing by x so that zeros in x give
the right gradient (as torch does).
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from .. import backend, return_types
from ..function import Function
from ..tensor import Tensor
from ._dims import normalize_dim, pick, pick_keepdim
from ..errors import op_error
from ._dtypes import reduction_input
from .gather import Gather
from .shape import Pad


def _flip(xp, a, axis):
    return xp.flip(a, axis=axis)


def _widened(x):
    """x in its accumulation dtype (float32 for half types) and the dtype to return."""
    acc = backend.accumulation_dtype(x.dtype)
    return (x if acc is None else x.astype(acc)), x.dtype


class CumSum(Function):
    """y_i = x_0 + ... + x_i along a dim (reverse=True: y_i = x_i + ... + x_n-1)"""
    derivative = "d cumsum(x)_k/dx_i = 1 for i <= k: the gradient is a reverse cumsum"

    @staticmethod
    def forward(ctx, x, axis, reverse=False):
        ctx.axis, ctx.reverse = axis, reverse
        work, dtype = _widened(x)
        if reverse:
            out = _flip(ctx.xp, ctx.xp.cumsum(_flip(ctx.xp, work, axis), axis=axis), axis)
        else:
            out = ctx.xp.cumsum(work, axis=axis)
        return out.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return ctx.call(CumSum, g, axis=ctx.axis, reverse=not ctx.reverse)


def _cumsum(ctx, a, reverse=False):
    return ctx.call(CumSum, a, axis=ctx.axis, reverse=reverse)


def _cumprod(ctx, a, reverse=False):
    return ctx.call(CumProd, a, axis=ctx.axis, reverse=reverse)


class CumProd(Function):
    """y_i = x_0 * ... * x_i along a dim (reverse=True: y_i = x_i * ... * x_n-1)"""
    derivative = ("d cumprod(x)_k/dx_i = prod_{j <= k, j != i} x_j: the gradient is "
                  "sum_{k >= i} g_k y_k / x_i where x has no zero")

    @staticmethod
    def forward(ctx, x, axis, reverse=False):
        xp = ctx.xp
        ctx.axis, ctx.reverse = axis, reverse
        work, dtype = _widened(x)
        if reverse:
            out = _flip(xp, xp.cumprod(_flip(xp, work, axis), axis=axis), axis)
        else:
            out = xp.cumprod(work, axis=axis)
        out = out.astype(dtype, copy=False)
        zero = x == 0
        ctx.has_zero = bool(zero.any())
        if ctx.has_zero:
            # masks for the zero-safe rule (seen in the scan's direction)
            seen = xp.cumsum(_flip(xp, zero, axis) if reverse else zero, axis=axis)
            if reverse:
                seen = _flip(xp, seen, axis)
            ctx.before = seen == 0                    # before the first zero
            ctx.first_zero = zero & (seen == 1)       # the first zero itself
            ctx.after = (seen >= 1) & ~ctx.first_zero  # after it
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        xp, back = ctx.xp, not ctx.reverse
        if not ctx.has_zero:
            return _cumsum(ctx, g * y, reverse=back) / x
        if ctx.create_graph:
            # The masked rule below is right as a value but treats where the zeros are as
            # fixed, so its own derivative would be wrong with two or more zeros: under
            # create_graph use the polynomial form instead (quadratic in memory, as torch).
            return _cumprod_grad_polynomial(ctx, x, g)
        # Before the first zero z: the usual sum_{k >= i} g_k y_k / x_i (y_k = 0 from z on).
        x_safe = xp.where(ctx.before, x, 1)
        grad = xp.where(ctx.before, _cumsum(ctx, g * y, reverse=back) / x_safe, 0)
        # At z: (prod_{j < z} x_j) * sum_{k >= z} g_k prod_{z < j <= k} x_j; after z: 0.
        head = _cumprod(ctx, x_safe, reverse=ctx.reverse)  # prod_{j < z} x_j at z
        tail = _cumprod(ctx, xp.where(ctx.after, x, 1), reverse=ctx.reverse)
        from_z = xp.where(ctx.before, 0, g * tail)
        at_z = head * _cumsum(ctx, from_z, reverse=back)
        return grad + xp.where(ctx.first_zero, at_z, 0)


def _cumprod_grad_polynomial(ctx, x, g):
    """dx_i = sum over k >= i (k <= i when reverse) of g_k prod_{j <= k, j != i} x_j, built
    with one extra dim for i: x with x_i replaced by 1, cumulated, masked, summed."""
    xp, axis = ctx.xp, ctx.axis
    am = backend.array_module(x.data if isinstance(x, Tensor) else x)
    last = x.ndim  # the new dim j goes last, the dim i stays at `axis`
    n = x.shape[axis]
    xs = xp.swapaxes(xp.expand_dims(x, -1), axis, last)  # (..., 1 at axis, ..., n)
    shape = [1] * (x.ndim + 1)
    shape[axis], shape[last] = n, n
    eye = am.eye(n, dtype=bool).reshape(shape)  # i == j
    prods = ctx.call(CumProd, xp.where(eye, 1, xs), axis=last, reverse=ctx.reverse)
    later = (am.tril if ctx.reverse else am.triu)(am.ones((n, n), dtype=bool)).reshape(shape)
    gs = xp.swapaxes(xp.expand_dims(g, -1), axis, last)
    return xp.where(later, gs * prods, 0).sum(axis=last)


class Prod(Function):
    """prod_i x_i along a dim"""
    derivative = "d prod(x)/dx_i = prod_{j != i} x_j (= prod(x) / x_i where x_i != 0)"

    @staticmethod
    def forward(ctx, x, axis, keepdims=False):
        ctx.axis, ctx.keepdims = axis, keepdims
        work, dtype = _widened(x)
        out = ctx.xp.asarray(work.prod(axis=axis, keepdims=keepdims)).astype(dtype, copy=False)
        ctx.has_zero = bool((x == 0).any())
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved
        xp = ctx.xp
        if not ctx.keepdims:
            g, out = xp.expand_dims(g, ctx.axis), xp.expand_dims(out, ctx.axis)
        if not ctx.has_zero:
            return g * out / x
        # The product of the others, without dividing: (prod before i) * (prod after i).
        before = _shift(ctx, _cumprod(ctx, x), forward=True)
        after = _shift(ctx, _cumprod(ctx, x, reverse=True), forward=False)
        return g * before * after


def _shift(ctx, y, forward):
    """y moved one step along ctx.axis (forward: towards the end), a 1 filling the gap:
    inclusive cumulative products become exclusive ones."""
    n = y.shape[ctx.axis]
    lead = (slice(None),) * ctx.axis
    kept = y[lead + ((slice(0, n - 1),) if forward else (slice(1, n),))]
    widths = [(0, 0)] * y.ndim
    widths[ctx.axis] = (1, 0) if forward else (0, 1)
    return ctx.call(Pad, kept, pad_width=tuple(widths), value=1)


class LogCumSumExp(Function):
    """y_i = log(e^x_0 + ... + e^x_i) along a dim, computed without overflow"""
    derivative = "d y_k/dx_i = e^(x_i - y_k) for i <= k"

    @staticmethod
    def forward(ctx, x, axis, reverse=False):
        xp = ctx.xp
        ctx.axis, ctx.reverse = axis, reverse
        work, dtype = _widened(x)
        if reverse:
            out = _flip(xp, xp.logaddexp.accumulate(_flip(xp, work, axis), axis=axis), axis)
        else:
            out = xp.logaddexp.accumulate(work, axis=axis)
        out = out.astype(dtype, copy=False)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # dx_i = sum_{k >= i} g_k e^(x_i - y_k), summed in log space (a reverse
        # logcumsumexp), the positive and negative parts of g apart, as torch does;
        # the dtype's lowest value stands for log 0 so that no inf - inf appears.
        x, y = ctx.saved
        xp = ctx.xp
        lowest = float(ml_dtypes.finfo(x.dtype).min)  # (ml_dtypes' finfo knows bfloat16)
        log_abs = xp.log(xp.where(g != 0, xp.abs(g), 1))
        parts = []
        with np.errstate(over="ignore"):  # lowest - y may round to -inf: exp gives 0, right
            for sign in (g > 0, g < 0):
                logs = ctx.call(LogCumSumExp, xp.where(sign, log_abs, lowest) - y,
                                axis=ctx.axis, reverse=not ctx.reverse)
                parts.append(xp.exp(logs + x))
        return parts[0] - parts[1]


class CumMax(Gather):
    """the running maximum along a dim"""
    op_name = "cummax"
    derivative = "d cummax(x)_k/dx_i = 1 where x_i is the running maximum at k (its index)"


class CumMin(Gather):
    """the running minimum along a dim"""
    op_name = "cummin"
    derivative = "d cummin(x)_k/dx_i = 1 where x_i is the running minimum at k (its index)"


# ---------------------------------------------------------------- the public functions
def _scan_args(op, input, dim, axis, dtype=None):
    """(x, dim) for a scan; dtype= casts first, integer and bool inputs scan in int64."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    dim = pick(op, dim, axis)
    if dim is None:
        raise op_error(TypeError, op, "missing the dim to scan along (e.g. dim=0)")
    dim = normalize_dim(dim, x.ndim, op)
    if dtype is not None:
        x = reduction_input(op, x, dtype)
        if x.dtype == backend.bool_:  # torch has no bool running sum or product either
            raise op_error(TypeError, op, "dtype=bool is not supported (as in torch); "
                                          "scan in ad.int64 and compare with 0")
    elif x.dtype.kind in "biu":
        x = x.to(dtype=backend.int64)
    return x, dim


def _scan(cls, op, input, dim, axis, dtype=None):
    x, dim = _scan_args(op, input, dim, axis, dtype)
    if x.ndim == 0:
        return cls.apply(x.reshape(1), axis=0).reshape(())
    return cls.apply(x, axis=dim)


def cumsum(input, dim=None, *, dtype=None, axis=None):
    """y_i = x_0 + ... + x_i along dim (torch.cumsum); int and bool inputs give int64."""
    return _scan(CumSum, "cumsum", input, dim, axis, dtype)


def cumprod(input, dim=None, *, dtype=None, axis=None):
    """y_i = x_0 * ... * x_i along dim (torch.cumprod); the gradient is right where x has
    zeros."""
    return _scan(CumProd, "cumprod", input, dim, axis, dtype)


def logcumsumexp(input, dim=None, *, axis=None):
    """y_i = log(e^x_0 + ... + e^x_i) along dim, without overflow (torch.logcumsumexp)."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if not backend.is_floating(x.dtype):
        raise op_error(TypeError, "logcumsumexp", f"expects a floating-point tensor, got "
                                                  f"dtype {x.dtype}")
    return _scan(LogCumSumExp, "logcumsumexp", x, dim, axis)


def _running_index(x, dim, largest):
    """Indices of the running max (min) along dim: the latest position holding it, NaN
    counting as the largest (smallest) and sticking, as torch does."""
    xp = backend.array_module(x)
    running = (xp.maximum if largest else xp.minimum).accumulate(x, axis=dim)
    holds = x == running
    if x.dtype.kind == "f" or x.dtype == backend.bfloat16:
        holds |= xp.isnan(x)
    n = x.shape[dim]
    pos = xp.arange(n).reshape((n,) + (1,) * (x.ndim - dim - 1))
    return xp.maximum.accumulate(xp.where(holds, pos, 0), axis=dim)


def _cumextreme(op, cls, kind, input, dim, axis, largest):
    x = input if isinstance(input, Tensor) else Tensor(input)
    dim = pick(op, dim, axis)
    if dim is None:
        raise op_error(TypeError, op, "missing the dim to scan along (e.g. dim=0)")
    dim = normalize_dim(dim, x.ndim, op)
    flat = x.reshape(1) if x.ndim == 0 else x
    index = _running_index(flat.data, dim, largest)
    values = cls.apply(flat, index=index, dim=dim, out_shape=x.shape)
    return kind(values, Tensor._make(index.reshape(x.shape).astype(backend.int64), None, False))


def cummax(input, dim=None, *, axis=None):
    """(values, indices) of the running maximum along dim (torch.cummax)."""
    return _cumextreme("cummax", CumMax, return_types.cummax, input, dim, axis, True)


def cummin(input, dim=None, *, axis=None):
    """(values, indices) of the running minimum along dim (torch.cummin)."""
    return _cumextreme("cummin", CumMin, return_types.cummin, input, dim, axis, False)


def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """The product of the entries, over all of them or along dim (torch.prod); int and
    bool inputs give int64; the gradient is right where the input has zeros."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    dim = pick("prod", dim, axis)
    keepdim = pick_keepdim("prod", keepdim, keepdims)
    if dtype is not None:
        x = reduction_input("prod", x, dtype)
    elif x.dtype.kind in "biu":
        x = x.to(dtype=backend.int64)
    if dim is None:
        return Prod.apply(x.reshape(-1), axis=0)
    dim = normalize_dim(dim, x.ndim, "prod")
    if x.ndim == 0:
        return Prod.apply(x.reshape(1), axis=0)
    return Prod.apply(x, axis=dim, keepdims=keepdim)


#: The op table (ops/tables.py): torch's Tensor methods among these ops, t.<name>(...)
OPS = {"cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin,
           "logcumsumexp": logcumsumexp, "prod": prod}
